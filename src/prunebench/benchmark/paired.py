"""Speed-ups timed in pairs: the dense model and a pruned variant in turns, in one process.

A speed-up read from two sweeps (benchmark.run) divides means timed in two jobs at two
moments: whatever changed in between (other work, clocks, a warmer cache) lands in the ratio,
while its interval (timing.ratio_ci95) holds only each job's own run-to-run spread. Here both
models are loaded at once and, at each batch size, timed in turns: a pair is one run of each,
back to back, the dense model first in even pairs and the variant first in odd ones
(A B, B A, A B, ...), so a steady drift over the pairs favours neither side: with an even
number of pairs exactly so for a drift by a constant factor per run (the geometric mean's own
case), and up to a second-order remainder for a linear drift (0.02-0.09% over 20 pairs at 2-5%
per run); an odd number leaves one pair's order effect divided by the number of pairs. The
speed-up is the geometric mean of the pairs' ratios, its 95% interval comes from their spread
(timing.paired_ratio_ci95): a slow change common to both runs of a pair cancels in their
ratio. A fixed number of pairs is timed (no stopping once the interval looks narrow, which
would cost it coverage), and the same runs taken as unpaired give the interval a comparison
of separate means would have had, recorded beside it.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Callable
from typing import Any

import torch

from prunebench import PrunebenchError
from prunebench.benchmark.attention import (attention_context, check_softcap_attention,
                                            resolve_attention, set_hf_attention)
from prunebench.benchmark.compiled import check_flex_mode
from prunebench.benchmark.interference import CompetitionMeter, describe
from prunebench.benchmark.measure import StepClock
from prunebench.benchmark.prompts import make_prompt
from prunebench.benchmark.runners import graphs_compiled, reset_dynamo
from prunebench.benchmark.run import (HF_BACKENDS, OOM, SweepSettings, check_context,
                                      compiled_since, device_lock, dtype_name, load_partial_rows,
                                      make_runner, run_fingerprint, save_partial_rows,
                                      timed_generate, timed_prepare,
                                      warn_if_timed_in_float16_but_stored_in_bfloat16)
from prunebench.benchmark.sampling import STUDY_SAMPLING
from prunebench.benchmark.timing import paired_ratio_ci95, ratio_ci95
from prunebench.logs import Progress
from prunebench.modeling import block_count, layer_shapes, resolve_device, resolve_dtype
from prunebench.oom import free_memory, is_out_of_memory
from prunebench.provenance import provenance

log = logging.getLogger(__name__)

# How each field of a paired row is measured, recorded with every result.
PAIRED_TIMING = {
    "latency": "whole generate call, device synchronised before and after, perf_counter",
    "pairs": "one timed run of each model back to back; the dense model first in even pairs "
             "(0, 2, ...), the variant first in odd ones; warm-up runs alternate the same way",
    "latency_speedup": "geometric mean over pairs of dense latency / variant latency",
    "latency_speedup_ci95": "Student-t 95% interval of the mean log ratio (n - 1 degrees of "
                            "freedom), exponentiated",
    "unpaired_speedup_ci95": "the same runs taken as two unpaired samples: ratio of the means "
                             "with the delta-method interval of the log ratio (Welch)",
}


def alternate(time_dense: Callable[[], float], time_variant: Callable[[], float],
              pairs: int) -> tuple[list[float], list[float]]:
    """Call the two timers in turns, `pairs` times each: the dense one first in even pairs, the
    variant first in odd ones. Returns the two lists of latencies, pair by pair."""
    dense, variant = [], []
    for i in range(pairs):
        if i % 2 == 0:
            dense.append(time_dense())
            variant.append(time_variant())
        else:
            variant.append(time_variant())
            dense.append(time_dense())
    return dense, variant


def run_paired(dense_model, model, tokenizer, settings: SweepSettings | None = None, *,
               exclusive: bool = True, **fields) -> dict[str, Any]:
    """`paired_sweep` holding the benchmark lock of its device (as run_sweep does).
    `settings` or its fields as keywords; `repeats` is the number of pairs."""
    settings = SweepSettings.given(settings, fields)
    with device_lock(settings, exclusive):
        return paired_sweep(dense_model, model, tokenizer, settings)


def paired_sweep(dense_model, model, tokenizer, settings: SweepSettings) -> dict[str, Any]:
    """Time `dense_model` and `model` (a variant of it) in pairs at each batch size of
    `settings`, `settings.repeats` pairs after `settings.warmup` warm-up pairs. Stops at the
    first batch size at which either runs out of memory (both are on the device at once), with
    an "oom" row. Rows of an interrupted run are resumed from `settings.partial_path`."""
    from prunebench.modeling import count_params

    s = settings
    if s.repeats < 2:
        raise PrunebenchError(f"repeats={s.repeats}: paired timing needs at least 2 pairs per "
                              "batch size (one pair shows no spread, so no interval)")
    if s.warmup < 1:
        # Each model's first run after its build pays what no later run does (lazy CUDA
        # handles and workspaces, the allocator's first blocks, the caches of a first call):
        # it must not be a timed one.
        raise PrunebenchError(f"warmup={s.warmup}: paired timing needs at least 1 warm-up pair "
                              "(each model's first run after it is built pays first-call costs)")
    if s.max_repeats != s.repeats:
        raise PrunebenchError(f"paired timing takes a fixed number of pairs (repeats="
                              f"{s.repeats}); adaptive repeats (max_repeats={s.max_repeats}) "
                              "would stop when the interval looked narrow and cost it its "
                              "coverage: leave max_repeats out")
    if s.profile_steps:
        raise PrunebenchError("paired timing profiles no kernels: set profile_steps to 0 (a "
                              "sweep of the variant alone profiles its decode step)")
    for what in ("vocab_size", "hidden_size"):  # what no pruning method here changes
        theirs, ours = getattr(dense_model.config, what), getattr(model.config, what)
        if theirs != ours:
            raise PrunebenchError(f"the variant's {what} ({ours}) is not the dense model's "
                                  f"({theirs}): pair a variant with the model it was pruned "
                                  "from")
    if count_params(model.config) > count_params(dense_model.config):
        log.warning("the variant (%s parameters) is larger than the model it is timed against "
                    "(%s): were the two given the other way round?", count_params(model.config),
                    count_params(dense_model.config))
    for each in (dense_model, model):
        check_context(each, s)
    device = resolve_device(s.device)
    dtype = resolve_dtype(s.dtype, device)
    attention = resolve_attention(s.attention, device, dense_model)
    warn_if_timed_in_float16_but_stored_in_bfloat16(dense_model, dtype)
    for each in (dense_model, model):
        check_softcap_attention(each, attention)
    if s.backend == "compiled":
        check_flex_mode(attention, s.compile_mode, device)
    hf_attention = None
    for each in (dense_model, model):
        each.to(device=device, dtype=dtype)
        each.eval()
        if s.backend in HF_BACKENDS:
            hf_attention = set_hf_attention(each, attention)
    config = dense_model.config
    prompt = make_prompt(tokenizer, s.input_tokens, config.vocab_size, seed=s.seed,
                         bos_token_id=config.bos_token_id)
    runners = (make_runner(dense_model, s, attention), make_runner(model, s, attention))
    # Neither runner resets dynamo (all compiled code of the process) itself: the variant's
    # reset, after the dense step was compiled, made it recompile inside its timed runs. The
    # pairs reset it once per batch size instead (_reset_compiled), before both are built.
    for runner in runners:
        if hasattr(runner, "resets_dynamo"):
            runner.resets_dynamo = False
    result: dict[str, Any] = {
        "model": s.model_name, "variant": s.variant, "against": "dense", "backend": s.backend,
        "input_tokens": s.input_tokens, "output_tokens": s.output_tokens,
        "params": count_params(model.config), "dense_params": count_params(config),
        "blocks": block_count(model.config), "dense_blocks": block_count(config),
        "dtype": dtype_name(dtype), "device": str(device), "attention": attention,
        "hf_attn_implementation": hf_attention,
        "compile_mode": s.compile_mode if s.backend == "compiled" else None,
        "sampling": STUDY_SAMPLING.as_dict() if s.sampling else None,
        "warmup": s.warmup, "pairs": s.repeats, "batch_sizes": s.batch_sizes, "seed": s.seed,
        "prompt_ids": prompt.tolist(), "timing": PAIRED_TIMING, "rows": [], "provenance": None,
    }
    keys = ("model", "variant", "backend", "input_tokens", "output_tokens", "dtype", "device",
            "attention", "compile_mode", "sampling", "warmup", "pairs", "seed", "prompt_ids")
    fingerprint = run_fingerprint({k: result[k] for k in keys},
                                  {"dense": layer_shapes(config),
                                   "variant": layer_shapes(model.config)}, device, s.cell)
    done = load_partial_rows(s.partial_path, fingerprint) if s.partial_path else {}
    result["resumed_batch_sizes"] = sorted(done)
    torch.manual_seed(s.seed)
    log.info("paired timing %s/%s against dense, backend=%s %dx%d on %s %s, %d pairs at "
             "batch sizes %s", s.model_name, s.variant, s.backend, s.input_tokens,
             s.output_tokens, device, dtype_name(dtype), s.repeats, s.batch_sizes)
    with attention_context(attention, device):
        for batch_size in s.batch_sizes:
            if batch_size in done:
                log.info("batch size %d: resumed from %s", batch_size, s.partial_path)
                row = done[batch_size]
            else:
                row = _pair_or_oom(runners, prompt, batch_size, s, device)
                save_partial_rows(s.partial_path, fingerprint, result["rows"] + [row])
            result["rows"].append(row)
            if row["status"] == OOM:
                break
    if device.type == "cuda":
        free_memory(device)
    result["provenance"] = provenance(device=device, seed=s.seed, cell=s.cell)
    return result


def _pair_or_oom(runners, prompt: torch.Tensor, batch_size: int, s: SweepSettings,
                 device: torch.device) -> dict[str, Any]:
    """One batch size timed in pairs, or its "oom" row (both runners released)."""
    try:
        row = _time_pairs(runners, prompt, batch_size, s, device)
        if row["interference"]["competition"]:
            log.warning("batch size %d: other work ran beside the pairs: %s. The row is "
                        "flagged `contended` in the tables; time it again on a quiet machine "
                        "(docs/benchmarks.md, \"Other work beside a benchmark\")", batch_size,
                        describe(row["interference"]))
        _log_row(row)
        return row
    except Exception as exc:  # noqa: BLE001 - only allocation failures are handled
        if not is_out_of_memory(exc):
            raise
        error = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
    # Outside the except block, so the traceback's tensors can be freed.
    for runner in runners:
        runner.release()
    _reset_compiled(runners)
    free_memory(device)
    log.warning("batch size %d ran out of memory with both models on the device; stopping "
                "(%s)", batch_size, error)
    return {"batch_size": batch_size, "status": OOM, "error": error}


def _time_pairs(runners, prompt: torch.Tensor, batch_size: int, s: SweepSettings,
                device: torch.device) -> dict[str, Any]:
    input_ids = prompt.to(device).unsqueeze(0).repeat(batch_size, 1)
    attention_mask = torch.ones_like(input_ids)
    expected = (batch_size, input_ids.shape[1] + s.output_tokens)
    _reset_compiled(runners)  # the last batch size's compiled steps: once, before both builds
    compile_s = [timed_prepare(runner, batch_size, expected[1], device) for runner in runners]
    progress = Progress(log, f"batch size {batch_size}: runs (warm-up + timed, both models)",
                        2 * (s.warmup + s.repeats))

    def timer(runner) -> Callable[[], float]:
        def run_once() -> float:
            # marked token by token, as a sweep's timed runs are
            latency = timed_generate(runner, input_ids, attention_mask, expected, device,
                                     StepClock(device))
            progress.step()
            return latency
        return run_once

    time_dense, time_variant = timer(runners[0]), timer(runners[1])
    dense_warmup, variant_warmup = alternate(time_dense, time_variant, s.warmup)
    meter = CompetitionMeter(device)
    graphs_before = graphs_compiled()
    meter.start()
    dense, variant = alternate(time_dense, time_variant, s.repeats)
    interference = meter.stop()
    compiled_while_timed = compiled_since(graphs_before, batch_size, s.backend, "pairs")
    for runner in runners:
        runner.release()
    _reset_compiled(runners)  # what dynamo's caches still hold of the released decoders
    row = paired_row(batch_size, dense, variant, dense_warmup=dense_warmup,
                     variant_warmup=variant_warmup, compile_s=compile_s,
                     interference=interference, runners=runners)
    row["graphs_compiled_while_timed"] = compiled_while_timed
    return row


def _reset_compiled(runners) -> None:
    """Reset dynamo where either runner compiles its step: each batch size then compiles each
    model's step once (static shapes: compile_kwargs), and dynamo's recompile limit is never
    reached over a long sweep, whatever mode a runner fell back to."""
    if any(getattr(runner, "mode", "eager") not in ("eager", "cuda-graph") for runner in runners):
        reset_dynamo()


def paired_row(batch_size: int, dense: list[float], variant: list[float], *,
               dense_warmup: list[float], variant_warmup: list[float], compile_s: list[float],
               interference: dict, runners=()) -> dict[str, Any]:
    """A paired row's fields from its latencies (seconds, pair by pair)."""
    speedup, low, high = paired_ratio_ci95(dense, variant)

    def mean_std_n(xs):
        return statistics.fmean(xs), statistics.stdev(xs) if len(xs) > 1 else None, len(xs)

    unpaired_low, unpaired_high = ratio_ci95(mean_std_n(dense), mean_std_n(variant))
    row = {
        "batch_size": batch_size, "status": "ok", "pairs": len(dense),
        "latency_speedup": speedup,
        "latency_speedup_ci95_low": low, "latency_speedup_ci95_high": high,
        "unpaired_speedup": statistics.fmean(dense) / statistics.fmean(variant),
        "unpaired_speedup_ci95_low": unpaired_low, "unpaired_speedup_ci95_high": unpaired_high,
        "dense_latency_s_mean": statistics.fmean(dense),
        "variant_latency_s_mean": statistics.fmean(variant),
        "dense_latencies_s": dense, "variant_latencies_s": variant,
        "dense_warmup_latencies_s": dense_warmup, "variant_warmup_latencies_s": variant_warmup,
        "dense_compile_s": compile_s[0], "variant_compile_s": compile_s[1],
        "interference": interference,
    }
    modes = [getattr(r, "mode", None) for r in runners]
    if any(modes):  # the compiled backend: how each decoded (a fallback to eager is unlike)
        row["decode_modes"] = {"dense": modes[0], "variant": modes[1]}
        fallbacks = {side: r.fallback for side, r in zip(("dense", "variant"), runners)
                     if getattr(r, "fallback", None)}
        if fallbacks:
            row["decode_fallback"] = fallbacks
    return row


def row_flags(row: dict[str, Any]) -> list[str]:
    """Why a paired row's speed-up is not to be trusted as it stands: other work beside its
    pairs, a side whose compiled decode step ran eagerly (the two then decoded unalike), or a
    compile inside its timed pairs."""
    return [flag for flag, on in (("contended", row["interference"].get("competition")),
                                  ("ran eagerly", row.get("decode_fallback")),
                                  ("compiled while timed",
                                   row.get("graphs_compiled_while_timed"))) if on]


def _log_row(row: dict[str, Any]) -> None:
    low, high = row["latency_speedup_ci95_low"], row["latency_speedup_ci95_high"]
    log.info("batch size %d: speed-up %.3fx (95%% interval %s over %d pairs; unpaired %.3fx), "
             "dense %.4f s, variant %.4f s", row["batch_size"], row["latency_speedup"],
             f"{low:.3f}-{high:.3f}" if low is not None else "n/a (one pair)", row["pairs"],
             row["unpaired_speedup"], row["dense_latency_s_mean"],
             row["variant_latency_s_mean"])
