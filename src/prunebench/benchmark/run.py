"""One benchmark cell: a batch-size sweep of one model, backend and token config.

`hf` follows the paper's protocol (Kim et al. 2024): the same exact-length prompt repeated
batch-size times, HF `generate` with the output length forced, the whole call timed with device
synchronisation, warm-up runs then timed runs, throughput = batch * output tokens / latency.
`compiled` (prunebench.benchmark.compiled) decodes with a static per-block KV cache and a
CUDA-graph (or torch.compile) decode step: what the hardware allows rather than what Python
allows. Both decode greedily, or both sample with the study's settings (benchmark.sampling).

Every timed run also records when each output token was ready (CUDA events on GPU, which add no
synchronisation; perf_counter on CPU). From those marks come the time to first token (prefill)
and the mean decode step, measured inside the same runs as the latency rather than derived from
it. Each decode step is compared with a bandwidth floor (benchmark.floors) so that a
pathological kernel choice shows up.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import numbers
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from prunebench import PrunebenchError
from prunebench.atomic import read_json, write_json
from prunebench.benchmark.attention import (attention_context, attention_kernels,
                                            check_softcap_attention, resolve_attention,
                                            set_hf_attention)
from prunebench.benchmark.compiled import MODES as COMPILE_MODES
from prunebench.benchmark.compiled import check_flex_mode
from prunebench.benchmark.floors import add_floor, mean_decode_context, measure_bandwidth
from prunebench.benchmark.interference import CompetitionMeter, describe, machine_lock
from prunebench.benchmark.measure import PeakMemory, StepClock, synchronize
from prunebench.benchmark.prompts import make_prompt
from prunebench.benchmark.runners import (CompiledRunner, HFRunner, HFStaticRunner,
                                          graphs_compiled, inductor_cache_counts)
from prunebench.benchmark.sampling import STUDY_SAMPLING
from prunebench.benchmark.timing import (compiled_while_timed_fix, MAX_REPEATS, MAX_SECONDS,
                                         STABLE, latency_stats, percentile,
                                         repeat_until_stable)
from prunebench.logs import Progress
from prunebench.checkpoint.param_count import block_count, context_key, context_length
from prunebench.modeling import layer_shapes, resolve_device, resolve_dtype
from prunebench.oom import free_memory, is_out_of_memory
from prunebench.provenance import code_identity, device_info, package_versions, provenance

log = logging.getLogger(__name__)

BACKENDS = ("hf", "hf_static", "compiled")
# The backends that time transformers' own `generate` (its attention implementation set on the
# model, its sampling, its Phi-3 cache handling).
HF_BACKENDS = ("hf", "hf_static")
DEFAULT_BATCH_SIZES = (1, 8, 16, 32, 64, 128, 256)
OOM = "oom"  # status of the batch size that ran out of memory (the sweep's last row)
# A row whose 95% interval of the mean latency is wider than this share of the mean is unstable.
DEFAULT_CI_TARGET = 0.05


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


@dataclass
class SweepSettings:
    """Everything one sweep is asked to do; checked when made, so a bad setting fails before a
    model is touched. `from_config` builds it from the config's `benchmark:` section (the
    workflow's defaults live in the config schema; these are the library's, for direct use).

    Adaptive repeats: after `repeats` timed runs a batch size keeps being timed while the 95%
    interval of its mean latency is wider than `ci_target` of the mean, up to `max_repeats` runs
    (None: `repeats`, i.e. off) or `max_seconds` of timed runs (benchmark.timing.stop_reason).
    The bandwidth floor is measured on CUDA by default (`measure_floor`), or taken from
    `bandwidth_bytes_per_s`. With `partial_path`, finished rows are saved as they complete, so
    a sweep that dies resumes where it stopped (same machine and settings only).
    `profile_steps` > 0: after its timed runs, each batch size profiles that many decode steps
    (benchmark.kernel_profile), recorded as the row's `kernel_profile`.
    """

    input_tokens: int
    output_tokens: int
    batch_sizes: list[int] = dataclasses.field(default_factory=lambda: list(DEFAULT_BATCH_SIZES))
    warmup: int = 10
    repeats: int = 20
    max_repeats: int | None = None
    max_seconds: float = float("inf")
    ci_target: float = DEFAULT_CI_TARGET
    backend: str = "hf"
    device: str | torch.device = "auto"
    dtype: str | torch.dtype = "float16"
    attention: str = "auto"
    seed: int = 0
    sampling: bool = False  # True: the study's top-k 50, top-p 0.95, T 1 on either backend
    compile_mode: str = "auto"
    bandwidth_bytes_per_s: float | None = None
    measure_floor: bool | None = None
    probe_attention: bool = True
    model_name: str | None = None  # names recorded in the result
    variant: str | None = None
    cell: dict | None = None  # the workflow cell's config, recorded in provenance
    partial_path: str | os.PathLike | None = None
    profile_steps: int = 0

    def __post_init__(self):
        if self.backend not in BACKENDS:
            raise PrunebenchError(f"unknown benchmark backend {self.backend!r}: choose one of "
                                  f"{BACKENDS}")
        if not isinstance(self.sampling, bool):
            raise PrunebenchError(f"sampling must be true (the study's top-k 50, top-p 0.95, T 1 "
                                  f"on both backends) or false (greedy), not {self.sampling!r}")
        if self.input_tokens < 1 or self.output_tokens < 1:
            raise PrunebenchError(f"token config {self.input_tokens}x{self.output_tokens} is "
                                  "invalid: input and output need at least 1 token each")
        # A bool is an int to Python and 2.0 equals 2, but neither is a batch size anyone meant.
        if not self.batch_sizes or any(isinstance(b, bool) or not isinstance(b, numbers.Integral)
                                       or b < 1 for b in self.batch_sizes):
            raise PrunebenchError(f"batch sizes {list(self.batch_sizes)} must be a non-empty "
                                  "list of positive integers, e.g. [1, 8, 16]")
        if self.compile_mode not in COMPILE_MODES:
            raise PrunebenchError(f"unknown compile_mode {self.compile_mode!r}: choose one of "
                                  f"{COMPILE_MODES} (docs/benchmarks.md, \"Modes\")")
        if self.dtype != "auto":
            resolve_dtype(self.dtype)  # an unknown name fails here; 'auto' needs the device
        if self.warmup < 0 or self.repeats < 1:
            raise PrunebenchError(f"warmup={self.warmup}, repeats={self.repeats}: need warmup "
                                  ">= 0 and repeats >= 1")
        if self.attention == "flex" and self.backend != "compiled":
            raise PrunebenchError("attention 'flex' is the compiled backend's (its decode step "
                                  f"under torch.compile); the {self.backend!r} backend takes "
                                  "'auto', an SDPA kernel set or 'eager'")
        if self.profile_steps < 0:
            raise PrunebenchError(f"profile_steps={self.profile_steps}: need 0 (off) or more")
        if not self.max_seconds > 0:
            raise PrunebenchError(f"max_seconds={self.max_seconds}: must be positive")
        # A share of the mean (5% is 0.05): an interval as wide as the mean itself says nothing
        # about a timing, so 1 or more is a percentage typed by mistake.
        if not 0 < self.ci_target < 1:
            raise PrunebenchError(f"ci_target={self.ci_target}: a share of the mean latency "
                                  "between 0 and 1, e.g. 0.05 for 5%")
        self.batch_sizes = sorted(int(b) for b in self.batch_sizes)
        self.max_repeats = max(self.max_repeats or self.repeats, self.repeats)

    @classmethod
    def from_config(cls, benchmark: dict[str, Any], **fields) -> SweepSettings:
        """From the config's `benchmark:` section (the keys a sweep takes; `token_configs` and
        `backends` are the workflow's to expand) plus this cell's own `fields`, which win over
        the section's."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{**{k: v for k, v in benchmark.items() if k in names}, **fields})

    @classmethod
    def given(cls, settings: SweepSettings | None, fields: dict[str, Any]) -> SweepSettings:
        """What a caller passed: a SweepSettings, or its fields as keywords (not both)."""
        if settings is None:
            return cls.of(fields)
        if fields:
            raise PrunebenchError(f"pass the benchmark's settings either as a SweepSettings or "
                                  f"as keywords, not both (got {sorted(fields)} beside it)")
        return settings

    @classmethod
    def of(cls, fields: dict[str, Any]) -> SweepSettings:
        """From keyword settings, an unknown one named as a user error (not a TypeError)."""
        unknown = sorted(set(fields) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise PrunebenchError(f"unknown benchmark settings {unknown}: the sweep takes "
                                  f"{[f.name for f in dataclasses.fields(cls)]}")
        return cls(**fields)


def run_sweep(model, tokenizer, settings: SweepSettings | None = None, *,
              exclusive: bool = True, **fields) -> dict[str, Any]:
    """`sweep(model, tokenizer, settings)` holding the benchmark lock of its device, the CPU
    machine or the GPU (unless `exclusive` is false), so no two prunebench benchmarks ever
    time on it at once, whoever started them; a sweep waits for the one before it.

    `settings`, or its fields as keywords (the workflow's rule script passes keywords; a script
    must not change only because the library's signature did, or Snakemake reruns its jobs)."""
    settings = SweepSettings.given(settings, fields)
    with device_lock(settings, exclusive):
        return sweep(model, tokenizer, settings)


def device_lock(settings: SweepSettings, exclusive: bool = True):
    """The benchmark lock of the device `settings` time on (nothing if not `exclusive`)."""
    if not exclusive:
        return contextlib.nullcontext()
    return machine_lock(device=resolve_device(settings.device))


def sweep(model, tokenizer, settings: SweepSettings) -> dict[str, Any]:
    """Benchmark one model at one token config over increasing batch sizes.

    Each row records the other work measured beside it (`interference`, flagged `competition`
    when it competed: benchmark.interference). Stops at the first batch size that runs out of
    memory, recording it as an "oom" row. Returns a JSON-ready dict (docs/architecture.md,
    bench schema); the resumed rows of an interrupted sweep are listed in it.
    """
    from prunebench.modeling import count_params

    s = settings
    config = model.config
    check_context(model, s)
    device = resolve_device(s.device)
    dtype = resolve_dtype(s.dtype, device)  # 'auto': float16 on CUDA, float32 on CPU
    attention = resolve_attention(s.attention, device, model)
    check_softcap_attention(model, attention)  # before minutes of work, not at the first step
    warn_if_timed_in_float16_but_stored_in_bfloat16(model, dtype)
    if s.backend in HF_BACKENDS:
        warn_if_generate_prefills_again(model, s.input_tokens, s.output_tokens, s.backend)
    if s.backend == "compiled":  # before the model moves: flex needs a compile mode on CUDA
        check_flex_mode(attention, s.compile_mode, device)
    model.to(device=device, dtype=dtype)
    model.eval()
    hf_attention = set_hf_attention(model, attention) if s.backend in HF_BACKENDS else None
    prompt = make_prompt(tokenizer, s.input_tokens, config.vocab_size, seed=s.seed,
                         bos_token_id=config.bos_token_id)

    bandwidth, bandwidth_method = s.bandwidth_bytes_per_s, "given by the caller"
    measure = s.measure_floor if s.measure_floor is not None else device.type == "cuda"
    if bandwidth is None and measure:
        bandwidth, bandwidth_method = measure_bandwidth(device)

    decoding = STUDY_SAMPLING if s.sampling else None  # one definition for both backends
    runner = make_runner(model, s, attention)

    result: dict[str, Any] = {
        "model": s.model_name, "variant": s.variant, "backend": s.backend,
        "input_tokens": s.input_tokens, "output_tokens": s.output_tokens,
        "params": count_params(config), "blocks": block_count(config),
        "dtype": dtype_name(dtype), "device": str(device),
        "attention": attention, "hf_attn_implementation": hf_attention,
        # the mode asked for (decode_mode: how it decoded, once known)
        "compile_mode": s.compile_mode if s.backend == "compiled" else None,
        "attention_kernels": None, "decode_mode": None,
        "sampling": decoding.as_dict() if decoding else None,
        "warmup": s.warmup, "repeats": s.repeats, "max_repeats": s.max_repeats,
        # JSON has no infinity: no cap is written as null.
        "max_seconds": s.max_seconds if s.max_seconds != float("inf") else None,
        "ci_target": s.ci_target, "batch_sizes": s.batch_sizes, "seed": s.seed,
        "prompt_ids": prompt.tolist(),
        "timing": TIMING_DEFINITIONS,
        "peak_memory_method": PeakMemory(device).method,
        "bandwidth_gbps": bandwidth / 1e9 if bandwidth else None,
        "bandwidth_method": bandwidth_method if bandwidth else None,
        "floor_context_tokens": mean_decode_context(s.input_tokens, s.output_tokens),
        # Only when profiling (a row then has a kernel profile; sweep_fingerprint tells them
        # apart from unprofiled rows).
        **({"profile_steps": s.profile_steps} if s.profile_steps else {}),
        "rows": [],
        "compile_s": None,
        "provenance": None,
    }
    fingerprint = sweep_fingerprint(result, config, device, s.cell)
    done = load_partial_rows(s.partial_path, fingerprint) if s.partial_path else {}
    result["resumed_batch_sizes"] = sorted(done)
    torch.manual_seed(s.seed)
    log.info("benchmark %s/%s backend=%s %dx%d on %s %s attention=%s batches=%s",
             s.model_name, s.variant, s.backend, s.input_tokens, s.output_tokens, device,
             dtype_name(dtype), attention, s.batch_sizes)
    if s.warmup < 1:
        log.warning("warmup 0: each batch size's first timed run pays first-call costs (about "
                    "twice a later run's time on CPU), which land in its mean and interval")
    with attention_context(attention, device):
        if s.probe_attention:
            result["attention_kernels"] = _probe_attention(model, s.backend, prompt, device,
                                                           attention)
        for batch_size in s.batch_sizes:
            if batch_size in done:
                log.info("batch size %d: resumed from %s", batch_size, s.partial_path)
                if done[batch_size]["status"] != OOM:
                    # Against this run's floor: the bandwidth is measured anew in each
                    # process, and the file names one (the killed run's stayed otherwise).
                    add_floor(done[batch_size], config, input_tokens=s.input_tokens,
                              output_tokens=s.output_tokens, dtype=dtype, bandwidth=bandwidth,
                              backend=s.backend)
                result["rows"].append(done[batch_size])
                if done[batch_size].get("decode_mode"):  # a sweep resumed whole says it too
                    result["decode_mode"] = done[batch_size]["decode_mode"]
                if done[batch_size]["status"] == OOM:
                    break
                continue
            log.info("batch size %d: %s", batch_size, runs_planned(s))
            row = _measure_or_oom(runner, prompt, batch_size, s, device)
            if row["status"] == OOM:
                result["rows"].append(row)
                save_partial_rows(s.partial_path, fingerprint, result["rows"])
                break
            add_floor(row, config, input_tokens=s.input_tokens, output_tokens=s.output_tokens,
                      dtype=dtype, bandwidth=bandwidth, backend=s.backend)
            result["rows"].append(row)
            if s.backend != "hf":  # how the decode steps ran: compiled, captured or eagerly
                row["decode_mode"] = result["decode_mode"] = runner.mode
                if getattr(runner, "fallback", None):  # a compiled step's capture that failed
                    row["decode_fallback"] = runner.fallback
            _log_row(row)
            save_partial_rows(s.partial_path, fingerprint, result["rows"])
    if device.type == "cuda":
        # The next sweep in this process (another cell, model or backend) must find the GPU
        # memory this one's garbage holds free, or its peak is not its own. On the CPU the
        # collector frees it in its own time: a full collection here took ~0.5 s in a process
        # that had imported the model code, per sweep.
        free_memory(device)
    # Resumed rows keep the build time of the run that measured them.
    result["compile_s"] = sum(row.get("compile_s") or 0.0 for row in result["rows"])
    result["provenance"] = provenance(device=device, seed=s.seed, cell=s.cell)
    return result


# How each timing field is measured, recorded with every result.
TIMING_DEFINITIONS = {
    "latency": "whole generate call, device synchronised before and after, perf_counter",
    "ttft": "start of the call to the first token's logits, marked in each timed run "
            "(CUDA events / perf_counter)",
    "decode_step": "(last token mark - first token mark) / (output_tokens - 1), "
                   "marked in each timed run",
    "decode_step_percentiles": "over every single decode step (gap between successive "
                               "token marks) of every timed run",
    "latency_ci95": "Student-t 95% interval of the mean latency; unstable when its "
                    "half-width exceeds ci_target of the mean",
    "throughput": "throughput_tok_s = batch * output_tokens / mean latency (plotted); "
                  "throughput_mean_of_rates = mean over runs of batch * output_tokens "
                  "/ latency (the study's)",
}


def make_runner(model, s: SweepSettings, attention: str):
    """The backend `s` asks for, decoding as it asks (greedy, or the study's sampling)."""
    decoding = STUDY_SAMPLING if s.sampling else None
    if s.backend == "hf":
        return HFRunner(model, s.output_tokens, sampling=decoding)
    if s.backend == "hf_static":
        return HFStaticRunner(model, s.output_tokens, attention=attention, sampling=decoding)
    return CompiledRunner(model, s.output_tokens, mode=s.compile_mode, attention=attention,
                          sampling=decoding, seed=s.seed)


def check_context(model, s: SweepSettings) -> None:
    """Refuse a token config longer than the model's context, before the model moves."""
    limit = context_length(model.config)
    if limit and s.input_tokens + s.output_tokens > limit:
        raise PrunebenchError(f"{s.input_tokens} + {s.output_tokens} tokens exceed the model's "
                              f"{context_key(model.config)} ({limit}); use a shorter token "
                              "config")


def _measure_or_oom(runner, prompt: torch.Tensor, batch_size: int, s: SweepSettings,
                    device: torch.device) -> dict[str, Any]:
    """One batch size measured (with the other work beside its timed runs), or its "oom" row."""
    oom = None
    try:
        row = _measure_batch(runner, prompt, batch_size, s, device)
        if row["interference"]["competition"]:
            log.warning("batch size %d: other work ran beside the timing: %s. Its row is "
                        "flagged `contended` in the tables; time it again on a quiet machine "
                        "(docs/benchmarks.md, \"Other work beside a benchmark\")", batch_size,
                        describe(row["interference"]))
        return row
    except Exception as exc:  # noqa: BLE001 - only allocation failures are handled
        if not is_out_of_memory(exc):
            raise
        oom = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
    # Outside the except block, so the traceback's tensors can be freed.
    runner.release()
    free_memory(device)
    log.warning("batch size %d ran out of memory; stopping the sweep (%s)", batch_size, oom)
    return {"batch_size": batch_size, "status": OOM, "error": oom}


def timed_prepare(runner, batch_size: int, seq_len: int, device: torch.device) -> float:
    """Build the backend for a batch size (fusing, compiling, autotuning, capturing the CUDA
    graph): its seconds, timed on their own, before and apart from every warm-up and timed
    run."""
    synchronize(device)
    t0 = time.perf_counter()
    runner.prepare(batch_size, seq_len)
    synchronize(device)
    return time.perf_counter() - t0


def timed_generate(runner, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                   expected: tuple[int, int], device: torch.device,
                   clock: StepClock | None = None) -> float:
    """One timed run: a whole generate call with the device synchronised before and after
    (`clock` marks its tokens), refused unless its output has the `expected` shape."""
    synchronize(device)
    t0 = time.perf_counter()
    out = runner.generate(input_ids, attention_mask, clock)
    synchronize(device)
    latency = time.perf_counter() - t0
    if tuple(out.shape) != expected:
        raise PrunebenchError(f"generation returned shape {tuple(out.shape)}, expected "
                              f"{expected}: the output length was not honoured")
    return latency


def runs_planned(s: SweepSettings) -> str:
    """What a batch size's timing will take, as its log line says it: the adaptive repeats'
    range where there is one, so that the run count that follows is no surprise."""
    cap = f", at most {s.max_seconds:g} s of timed runs" if s.max_seconds < float("inf") else ""
    if s.max_repeats > s.repeats:
        return (f"{s.warmup} warm-up + {s.repeats} to {s.max_repeats} timed runs (more than "
                f"{s.repeats} while the 95% interval of the mean latency is wider than "
                f"{100 * s.ci_target:g}% of it{cap})")
    return f"{s.warmup} warm-up + {s.repeats} timed runs{cap and f' ({cap[2:]})'}"


# Why a row's timing stopped, as its log line says it (the result keeps the short names of
# benchmark.timing): "stable" beside a DRIFTING flag read as a contradiction.
STOPPED_BECAUSE = {STABLE: "interval within ci_target", MAX_REPEATS: "max_repeats reached",
                   MAX_SECONDS: "max_seconds reached"}


def _log_row(row: dict[str, Any]) -> None:
    std = row["latency_s_std"]
    log.info("batch size %d: latency %.4f s (std %s, %d runs, %s%s%s), %.1f tok/s, "
             "ttft %.4f s, decode step %s, peak memory %.1f MiB", row["batch_size"],
             row["latency_s_mean"], "n/a" if std is None else f"{std:.4f}", row["runs"],
             STOPPED_BECAUSE.get(row["stop_reason"], row["stop_reason"]),
             ", UNSTABLE" if row["unstable"] else "",
             # the row's own test; the tables judge a sweep's rows together (Holm's correction)
             f", DRIFTING {100 * row['latency_s_trend']:+.1f}% over its runs"
             if row["drifting"] else "",
             row["throughput_tok_s"], row["ttft_s"],
             f"{row['decode_step_s'] * 1e3:.2f} ms" if row["decode_step_s"] else "n/a",
             (row["peak_memory_bytes"] or 0) / 2**20)


def _measure_batch(runner, prompt: torch.Tensor, batch_size: int, s: SweepSettings,
                   device: torch.device) -> dict[str, Any]:
    output_tokens = s.output_tokens
    input_ids = prompt.to(device).unsqueeze(0).repeat(batch_size, 1)
    attention_mask = torch.ones_like(input_ids)
    expected = (batch_size, input_ids.shape[1] + output_tokens)
    # Building the backend (fusing, compiling, autotuning, capturing the CUDA graph) is timed on
    # its own, before and apart from every warm-up and timed run.
    cache_before = inductor_cache_counts()
    compile_s = timed_prepare(runner, batch_size, expected[1], device)
    cache = {k: n - cache_before.get(k, 0) for k, n in inductor_cache_counts().items()
             if n > cache_before.get(k, 0)}
    # Logged between runs only, never inside a timed one. The total is the most runs it may take.
    progress = Progress(log, f"batch size {batch_size}: runs (warm-up + timed)",
                        s.warmup + s.max_repeats)
    # Warm-up runs are timed too (not counted): whether they had settled can then be read
    # from the result (`warmup_latencies_s` beside the timed `latencies_s`).
    warmups = []
    for _ in range(s.warmup):
        synchronize(device)
        t0 = time.perf_counter()
        runner.generate(input_ids, attention_mask)
        synchronize(device)
        warmups.append(time.perf_counter() - t0)
        progress.step()
    ttfts, steps, gaps = [], [], []

    def timed_run() -> float:
        clock = StepClock(device)
        latency = timed_generate(runner, input_ids, attention_mask, expected, device, clock)
        marks = clock.times()
        if len(marks) != output_tokens:
            raise PrunebenchError(f"step clock saw {len(marks)} tokens for {output_tokens} "
                                  "generated: the backend's per-token hook is broken")
        ttfts.append(marks[0])
        if output_tokens > 1:
            steps.append((marks[-1] - marks[0]) / (output_tokens - 1))
            gaps.extend(b - a for a, b in zip(marks, marks[1:]))  # every single decode step
        progress.step()
        return latency

    # Other work is measured over the timed runs only: the build and warm-up are not timed (and
    # a compile's own worker processes would count as other work there).
    meter = CompetitionMeter(device)
    graphs_before = graphs_compiled()
    with PeakMemory(device) as memory:
        meter.start()
        latencies, stopped = repeat_until_stable(timed_run, min_runs=s.repeats,
                                                 max_runs=s.max_repeats,
                                                 max_seconds=s.max_seconds, target=s.ci_target)
        interference = meter.stop()
    compiled_while_timed = compiled_since(graphs_before, batch_size, s.backend, "runs")
    kernel_profile = (_profile(runner, s, input_ids, attention_mask) if s.profile_steps
                      else None)
    runner.release()
    step = statistics.fmean(steps) if steps else None
    return {
        "batch_size": batch_size,
        "status": "ok",
        "compile_s": compile_s,
        "compile_cache": cache,
        **latency_stats(latencies, s.ci_target),
        "warmup_latencies_s": warmups,
        "runs": len(latencies),
        "stop_reason": stopped,
        "throughput_tok_s": batch_size * output_tokens / statistics.fmean(latencies),
        "throughput_mean_of_rates": statistics.fmean(batch_size * output_tokens / t
                                                     for t in latencies),
        "peak_memory_bytes": memory.peak_bytes,
        "graphs_compiled_while_timed": compiled_while_timed,
        "ttft_s": statistics.fmean(ttfts),
        "decode_step_s": step,
        "decode_step_s_p50": percentile(gaps, 50) if gaps else None,
        "decode_step_s_p90": percentile(gaps, 90) if gaps else None,
        "decode_throughput_tok_s": batch_size / step if step else None,
        "interference": interference,
        **({"kernel_profile": kernel_profile} if kernel_profile is not None else {}),
    }


def compiled_since(graphs_before: int, batch_size: int, backend: str, timed: str) -> int:
    """The graphs dynamo compiled since `graphs_before` (the timed runs' or pairs' start),
    warned of: their latencies hold that compile, and the row is flagged."""
    compiled = graphs_compiled() - graphs_before
    if compiled:
        log.warning("batch size %d: %d graph(s) compiled inside the timed %s, whose latencies "
                    "hold that compile: the row is flagged (%s)", batch_size, compiled, timed,
                    compiled_while_timed_fix(backend))
    return compiled


def _profile(runner, s: SweepSettings, input_ids: torch.Tensor,
             attention_mask: torch.Tensor) -> dict[str, Any]:
    """The decode step's kernels (after the timed runs, outside them); a profiler that fails is
    recorded, and the row's timings stand."""
    from prunebench.benchmark.kernel_profile import profile_decode_steps, profile_generate_steps

    # A generate of N tokens runs N - 1 decode steps; profile no more than that.
    steps = min(s.profile_steps, max(1, s.output_tokens - 1))
    try:
        if s.backend == "compiled":
            profile = profile_decode_steps(runner.decoder, steps, input_ids.shape[1])
        elif s.output_tokens < 2:
            return {"status": "error", "error": "a generate of one token has no decode step"}
        else:
            profile = profile_generate_steps(runner, input_ids, attention_mask, steps)
        return {"status": "ok", **profile}
    except Exception as exc:  # noqa: BLE001 - diagnostics only; even out of memory, the timed
        # runs fit and their row stands
        if is_out_of_memory(exc):
            free_memory(input_ids.device)
        log.warning("profiling the decode step failed: %s", exc)
        return {"status": "error", "error": f"{type(exc).__name__}: {exc}"}


def warn_if_timed_in_float16_but_stored_in_bfloat16(model, dtype: torch.dtype) -> None:
    """A model published in bfloat16 (Gemma-2, Llama-3, Qwen2.5) may overflow float16, the
    study's and `dtype: auto`'s choice on a GPU: its tokens may then be NaN's, and sampling
    stops on them. Said once per sweep; the timing itself is left to the user's setting."""
    from prunebench.modeling import config_dtype

    if dtype == torch.float16 and config_dtype(model.config) == torch.bfloat16:
        log.warning("the model is stored in bfloat16 and is timed in float16 (the benchmark's "
                    "dtype auto or float16), whose range its activations may exceed (non-finite "
                    "logits): set the dtype to bfloat16 (benchmark.dtype, prunebench bench "
                    "--dtype) to time it as it is published")


def generate_prefills_again_at(config, input_tokens: int, output_tokens: int) -> int | None:
    """The sequence length at which transformers' Phi-3 generate drops its KV cache (once its
    input passes the config's `original_max_position_embeddings`, where Phi-3's longrope
    switches factors; Phi3ForCausalLM does it whatever its rope), if a cell of these lengths
    reaches it; else None. What generate feeds at that step depends on the transformers
    version (`phi3_generate_refeeds_the_sequence`)."""
    original = getattr(config, "original_max_position_embeddings", None)
    if getattr(config, "model_type", None) != "phi3" or not isinstance(original, int):
        return None
    # Decode step k feeds input + k tokens, with input + k - 1 cached: the cache is dropped at
    # the step that feeds original + 1 tokens, steps 1 .. output - 1 (the prefill is step 0).
    return original + 1 if input_tokens <= original <= input_tokens + output_tokens - 2 else None


@functools.lru_cache(maxsize=1)
def phi3_generate_refeeds_the_sequence() -> bool:
    """Whether this transformers' Phi-3 generate feeds the whole sequence again at the step
    that drops its cache (5.24 does), or only that step's token, as 5.17 does: its new cache,
    one token long, is dropped again at every later step, so each step from there on attends
    to its own token alone. Seen, not looked up by version: a tiny Phi-3 (a 4-token original
    context) generates on the CPU (whatever device or random state the caller set) and the
    tokens each forward pass is fed are counted."""
    from transformers import Phi3Config, Phi3ForCausalLM

    config = Phi3Config(vocab_size=32, hidden_size=16, intermediate_size=32,
                        num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
                        max_position_embeddings=64, original_max_position_embeddings=4,
                        pad_token_id=0, bos_token_id=1, eos_token_id=2)
    fed = []
    with torch.device("cpu"), torch.random.fork_rng(devices=[]), torch.inference_mode():
        model = Phi3ForCausalLM(config).eval()
        model.model.register_forward_pre_hook(
            lambda module, args, kwargs: fed.append(kwargs["input_ids"].shape[1]),
            with_kwargs=True)
        prompt = torch.full((1, 3), 5, dtype=torch.long)
        model.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=4,
                       min_new_tokens=4, do_sample=False, pad_token_id=0)
    return any(n > 1 for n in fed[1:])


def warn_if_generate_prefills_again(model, input_tokens: int, output_tokens: int,
                                    backend: str = "hf") -> None:
    """An `hf` or `hf_static` cell whose generate drops its KV cache in one decode step (with
    the static cache too, as it decodes the same tokens): it times what
    transformers' generate then runs (the whole sequence prefilled again, and on `hf_static`
    every later step on the dynamic cache that prefill returns, or, with older transformers,
    every step from there on without a cache, each attending to its own token alone); said,
    not hidden."""
    at = generate_prefills_again_at(model.config, input_tokens, output_tokens)
    if at is None:
        return
    import transformers

    if phi3_generate_refeeds_the_sequence():
        # That prefill is given no cache and returns a dynamic one, which every later step
        # grows: an hf_static cell stops timing the static cache there.
        static = (", and every later step decodes with the dynamic cache that prefill returns, "
                  "not the static one: from there on it times the hf backend's decoding"
                  if backend == "hf_static" else "")
        log.warning("transformers' generate for this Phi-3 model drops its KV cache and "
                    "prefills all %d tokens again once the sequence passes %d tokens "
                    "(original_max_position_embeddings): the %s backend's decode time of this "
                    "%dx%d cell includes that prefill%s (the compiled backend refuses a longrope "
                    "model past that length; keep cells shorter to time decoding alone)",
                    at, at - 1, backend, input_tokens, output_tokens, static)
    else:
        log.warning("transformers' generate for this Phi-3 model (transformers %s) drops its KV "
                    "cache once the sequence passes %d tokens (original_max_position_embeddings) "
                    "and again at every later step: from there on, each decode step of this "
                    "%dx%d cell on the %s backend runs without a cache and attends to its own "
                    "token alone, so it times less attention than this model's decoding does, "
                    "and its tokens are not the model's. Keep cells shorter, or upgrade "
                    "transformers (5.24 prefills the sequence again once)",
                    transformers.__version__, at - 1, input_tokens, output_tokens, backend)


def sweep_fingerprint(result: dict[str, Any], config, device: torch.device,
                      cell: dict | None) -> dict[str, Any]:
    """What must be equal for rows of an earlier, interrupted sweep to be reused: the model's
    shape and the sweep's settings (`result` before any row), the device, the software and
    prunebench's own code (its hash, provenance.code_identity: a commit that changes no code
    keeps the rows, an edit of the package, committed or not, does not)."""
    keys = ("model", "variant", "backend", "input_tokens", "output_tokens", "params", "blocks",
            "dtype", "device", "attention", "compile_mode", "sampling", "warmup", "repeats",
            "max_repeats", "max_seconds", "ci_target", "seed", "prompt_ids", "profile_steps")
    return run_fingerprint({k: result.get(k) for k in keys}, layer_shapes(config), device, cell)


def run_fingerprint(settings: dict[str, Any], shapes: Any, device: torch.device,
                    cell: dict | None) -> dict[str, Any]:
    """`settings` (a run's, its "device" included) and model `shapes` with what else must be
    equal for saved rows to be reused (sweep_fingerprint)."""
    info = device_info(device)
    # The kind of device and the GPU's model count, not which of a machine's GPUs ran the rows:
    # a resumed job takes any free one (prunebench.gpu_claim).
    settings["device"] = info["device"] = str(settings["device"]).split(":")[0]
    return {"sweep": settings, "shapes": shapes, "cell": cell,
            "versions": package_versions(), "code": code_identity()["hash"], "device": info}


# The suffix a partial sweep of other settings or another kind of machine is set aside under
# (one kept, the latest), and that of an unreadable one.
OTHER_SWEEP, DAMAGED_SWEEP = ".other", ".damaged"


def load_partial_rows(path: str | os.PathLike, fingerprint: dict[str, Any]) -> dict[int, dict]:
    """Rows saved by an interrupted sweep with the same fingerprint, by batch size. Another
    sweep's rows are set aside, not overwritten: the hours they took stay on disk."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        saved = read_json(path)
    except ValueError as exc:
        os.replace(path, path.with_name(path.name + DAMAGED_SWEEP))
        log.warning("the partial sweep %s is unreadable (%s); starting over (it is kept as %s)",
                    path, exc, path.name + DAMAGED_SWEEP)
        return {}
    except OSError as exc:
        log.warning("cannot read the partial sweep %s (%s); starting over (it is left where it "
                    "is)", path, exc)
        return {}
    if saved.get("fingerprint") != json.loads(json.dumps(fingerprint, default=str)):
        os.replace(path, path.with_name(path.name + OTHER_SWEEP))
        log.warning("partial sweep %s was made with other settings, other code or on another "
                    "kind of machine (CPU model and cores, GPU, driver: a job requeued onto "
                    "another node type); starting over, as timings of two machines are not "
                    "mixed. Its %d row(s) are kept as %s: to resume them instead, stop this, "
                    "move it back and rerun with those settings on such a machine", path,
                    len(saved.get("rows", [])), path.name + OTHER_SWEEP)
        return {}
    return {row["batch_size"]: row for row in saved.get("rows", [])}


def save_partial_rows(path: str | os.PathLike | None, fingerprint: dict[str, Any],
                      rows: list[dict]) -> None:
    if path is not None:
        write_json(path, {"fingerprint": fingerprint, "rows": rows})


# `attention_kernels` of a flex sweep on CUDA (the kernel profile, profile_steps, lists what a
# decode step ran there).
FLEX_NOT_PROBED = ("not probed: flex attention decodes compiled only (its decode step's kernels: "
                   "profile_steps)")


def _probe_attention(model, backend: str, prompt: torch.Tensor, device: torch.device,
                     attention: str) -> list[str]:
    """Which attention operators run for a prefill and a decode step under the pinned context."""
    if backend == "compiled" and attention == "flex" and device.type == "cuda":
        # The probe decodes op by op, and flex attention op by op on CUDA is its reference
        # implementation, which the decoder refuses: nothing would be probed but that refusal.
        log.info("attention operators not probed: flex attention decodes compiled only")
        return [FLEX_NOT_PROBED]
    ids = prompt.to(device).unsqueeze(0)
    runner, failure = None, None
    try:
        if backend in HF_BACKENDS:
            # Uncompiled: a compiled decode step's attention calls the SDPA kernels that the
            # pinned context allows, as these calls do, and the probe's two tokens, of shapes
            # no row has, would compile for nothing.
            runner = (HFRunner(model, 2) if backend == "hf" else
                      HFStaticRunner(model, 2, attention=attention, compile=False))
            fn = lambda: runner.generate(ids, torch.ones_like(ids))  # noqa: E731
        else:
            # The eager decoder issues the same operators that a CUDA graph captures.
            runner = CompiledRunner(model, 2, mode="eager", attention=attention)
            runner.prepare(1, ids.shape[1] + 2)
            fn = lambda: runner.generate(ids, None)  # noqa: E731
        kernels = attention_kernels(fn)
    except Exception as exc:  # noqa: BLE001 - the probe is diagnostic; the sweep decides
        # Out of memory included: a model that cannot generate at batch 1 gets its "oom" row
        # from the sweep's first batch size, as any other batch size does.
        failure = f"probe failed: {type(exc).__name__}: {str(exc)[:200]}"
    # Outside the except block, so the traceback's tensors can be freed.
    if runner is not None:
        runner.release()
    if failure:
        free_memory(device)
        log.warning("attention %s", failure)
        return [failure]
    log.info("attention operators that ran: %s", kernels or "none (eager matmul + softmax)")
    return kernels
