"""Decode-step variants of the `compiled` backend against the bandwidth floor, on one GPU.

Builds a randomly initialised LLaMA-7B in fp16 (speed depends on shapes, not values), measures the
memory bandwidth once, and for batch 1 and a 12x128 token config times the decode step of each
StaticDecoder variant: the unfused layout (one GEMV per q/k/v/gate/up projection) and the fused
one under our CUDA graph, and the fused one compiled by torch.compile (default inductor, with
coordinate-descent tuning, max-autotune) then captured in our CUDA graph, or under inductor's own
CUDA graphs (reduce-overhead). Each variant first decodes a tiny heterogeneous fp32 model
(zero-head, GQA and zero-MLP blocks, large init so tokens vary) and must give the eager
decoder's greedy tokens; on the 7B model its tokens are compared with the eager decoder's too.

    python benchmarks/decode_variants.py                 # H100: about 3 minutes, --budget-s 200
    python benchmarks/decode_variants.py --variants compile-graph,autotune-graph
    python benchmarks/decode_variants.py --arch tiny-test --device cpu --dtype float32

A variant whose estimated cost would overrun --budget-s (from the start, model build and
compile times included) is recorded as skipped; a failing variant is recorded and the next runs.
Prints a Markdown table; writes decode_variants.json and decode_variants.md to --out ($OUT).
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
import time
import traceback
from pathlib import Path

import torch
from transformers import LlamaConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))  # script_arguments, beside this script

from script_arguments import (add_device_and_dtype, check_attention, check_dtype,  # noqa: E402
                              checked_arch, names, refused, undecoded_kind)

from prunebench import benchmark as bench  # noqa: E402
from prunebench.checkpoint.architectures import architecture_config  # noqa: E402
from prunebench.commands.arguments import (non_negative_int, parse_tokens,  # noqa: E402
                                           positive_int, time_budget)
from prunebench.atomic import write_json, write_text  # noqa: E402
from prunebench.modeling import random_model, resolve_device, resolve_dtype  # noqa: E402
from prunebench.provenance import provenance  # noqa: E402
from prunebench.benchmark.compiled import StaticDecoder  # noqa: E402

log = logging.getLogger("decode_variants")

CDT = {"fullgraph": True, "options": {"coordinate_descent_tuning": True}}
# name -> (mode, fuse, compile_kwargs, estimated seconds on an H100 incl. compile and check).
# In priority order: the budget skips from the end.
GPU_VARIANTS = {
    "cuda-graph": ("cuda-graph", True, None, 20),
    "unfused-cuda-graph": ("cuda-graph", False, None, 20),
    "compile-graph": ("compile-graph", True, None, 110),
    "compile-graph-cdt": ("compile-graph", True, CDT, 130),
    "autotune-graph": ("autotune-graph", True, None, 180),
    "reduce-overhead": ("reduce-overhead", True, None, 110),
}
# CPU (to prove the script end to end): no CUDA graphs; "compile" is default inductor.
CPU_VARIANTS = {
    "eager": ("eager", True, None, 10),
    "unfused-eager": ("eager", False, None, 10),
    "compile": ("compile", True, {"fullgraph": True}, 200),
}


# The variants of each kind of device, and how a message names that kind.
VARIANTS = {"cuda": GPU_VARIANTS, "cpu": CPU_VARIANTS}
DEVICE_NAMES = {"cuda": "a GPU", "cpu": "the CPU"}


def other_device_variants(chosen: list[str] | None, kind: str) -> str:
    """What is wrong with `chosen` on a device of `kind` (cuda, cpu): the variants of the other
    kind among them, said with the kind's own; '' where they all are the kind's."""
    other = [name for name in chosen or () if name not in VARIANTS[kind]]
    if not other:
        return ""
    return (f"--variants {','.join(other)}: {'a variant' if len(other) == 1 else 'variants'} "
            f"of {DEVICE_NAMES['cpu' if kind == 'cuda' else 'cuda']}, not of "
            f"{DEVICE_NAMES[kind]}, which times {','.join(VARIANTS[kind])}")


def check_variants(parser: argparse.ArgumentParser, chosen: list[str] | None,
                   device: str) -> None:
    """--variants (each a variant of some device: the parser's type) against those of the
    --device given (cpu, cuda, cuda:N): a CPU variant asked of a GPU, or the reverse, is
    refused by the parser, before anything is measured or built. With --device auto, whose kind
    is known once resolved, the start checks them (variants_of)."""
    wrong = device != "auto" and other_device_variants(chosen, device.split(":")[0])
    if wrong:
        parser.error(f"{wrong}: choose from those for --device {device}")


def variants_of(chosen: list[str] | None, device: torch.device) -> list[str]:
    """The variants to time on the resolved `device`: those asked for (by default all of its
    kind's, in priority order); one of the other kind is refused (exit code 1, nothing built)."""
    wrong = other_device_variants(chosen, device.type)
    if wrong:
        found = ("found no GPU here: choose from those, or run on a machine with a GPU"
                 if device.type == "cpu" else "chose the GPU here: choose from those, or give "
                 "--device cpu for the CPU's")
        raise SystemExit(f"{wrong} (--device auto {found})")
    return list(chosen) if chosen else list(VARIANTS[device.type])


def tiny_test_config() -> LlamaConfig:
    return LlamaConfig(hidden_size=64, intermediate_size=172, num_hidden_layers=8,
                       num_attention_heads=4, num_key_value_heads=4, vocab_size=256,
                       max_position_embeddings=512, bos_token_id=1, eos_token_id=2,
                       pad_token_id=0, tie_word_embeddings=False)


def arch_config(name: str):
    """--arch's config: tiny-test's, or a known shape's (docs/families.md, "Known shapes")."""
    return tiny_test_config() if name == "tiny-test" else architecture_config(name)


def check_decoded_arch(parser: argparse.ArgumentParser, name: str, config) -> None:
    """Every variant this script times is the compiled backend's decoder, whose fused blocks
    compute softmax attention and a dense MLP (StaticDecoder refuses anything else, through
    refuse_moe): a mixture of experts, or a model with blocks of another token mixer, is
    refused by the parser, before the bandwidth is measured and a model of tens of GB built,
    naming the script that times it."""
    kind = undecoded_kind(config)
    if kind is None:
        return
    parser.error(f"--arch {name} is {kind} ({config.model_type}), which the compiled backend's "
                 "decoder does not run (its fused blocks compute softmax attention and a dense "
                 "MLP), and every variant here is that decoder: time it with gpu_check.py "
                 f"--arch {name} --variants dense,depth --backends hf,hf_static")


def check_model(device: torch.device) -> torch.nn.Module:
    """Tiny fp32 model with every block shape the decoder handles; init 0.3: varied tokens."""
    config = LlamaConfig(hidden_size=128, intermediate_size=256, num_hidden_layers=4,
                         num_attention_heads=8, num_key_value_heads=8, vocab_size=512,
                         max_position_embeddings=256, bos_token_id=1, eos_token_id=2,
                         pad_token_id=0, initializer_range=0.3)
    config.layer_shapes = [
        {},
        {"num_attention_heads": 0, "num_key_value_heads": 0, "o_proj_bias": True},
        {"num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 96,
         "o_proj_bias": True, "down_proj_bias": True},
        {"intermediate_size": 0, "down_proj_bias": True},
    ]
    model = random_model(config, device, torch.float32, seed=0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("bias"):
                param.normal_(0.0, 0.3)
    return model


def token_check(model, device, mode, fuse, compile_kwargs) -> dict:
    """The variant's greedy tokens against the eager decoder's on the tiny model."""
    ids = bench.make_prompt(None, 12, model.config.vocab_size).to(device).repeat(2, 1)
    ids[1, 5] = 77
    n = 24
    ref = StaticDecoder(model, 2, 12 + n, mode="eager").generate(ids, n)
    decoder = StaticDecoder(model, 2, 12 + n, mode=mode, fuse=fuse,
                            compile_kwargs=compile_kwargs)
    decoder.prepare()
    out = decoder.generate(ids, n)
    agree = float((out[:, 12:] == ref[:, 12:]).float().mean())
    return {"tokens_equal": bool(torch.equal(out, ref)), "agreement": agree,
            "distinct_tokens": len(set(ref[:, 12:].flatten().tolist()))}


def time_decoder(decoder, ids, output_tokens, warmup, repeats, device) -> dict:
    """The harness's clock: a mark per token; decode step = (last - first) / (n - 1)."""
    for _ in range(warmup):
        out = decoder.generate(ids, output_tokens)
    steps, latencies = [], []
    for _ in range(repeats):
        clock = bench.StepClock(device)
        bench.synchronize(device)
        t0 = time.perf_counter()
        clock.start()
        out = decoder.generate(ids, output_tokens, on_token=clock.mark)
        bench.synchronize(device)
        latencies.append(time.perf_counter() - t0)
        marks = clock.times()
        steps.append((marks[-1] - marks[0]) / (output_tokens - 1))
    return {"decode_step_s": sum(steps) / len(steps), "decode_step_s_min": min(steps),
            "decode_steps_s": steps, "latency_s_mean": sum(latencies) / len(latencies),
            "tokens": out[0, ids.shape[1]:].tolist()}


def free(device: torch.device) -> None:
    from prunebench.benchmark.runners import reset_dynamo

    reset_dynamo()
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def markdown(rows: list[dict]) -> str:
    lines = ["| variant | mode | fused | status | decode step ms | % of floor | tiny check | "
             "model tokens = eager | prepare s | peak GiB |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ms = f"{r['decode_step_s'] * 1e3:.2f}" if r.get("decode_step_s") else "-"
        pct = f"{r['pct_of_floor']:.0f}%" if r.get("pct_of_floor") else "-"
        check = r.get("check") or {}
        tiny = ("equal" if check.get("tokens_equal") else
                f"DIFFER ({100 * check['agreement']:.0f}%)" if "agreement" in check else "-")
        agree = f"{100 * r['agreement_7b']:.0f}%" if r.get("agreement_7b") is not None else "-"
        prep = f"{r['prepare_s']:.1f}" if r.get("prepare_s") is not None else "-"
        peak = f"{r['peak_memory_bytes'] / 2**30:.2f}" if r.get("peak_memory_bytes") else "-"
        status = r["status"] if r["status"] != "error" else f"error: {r['error'][:60]}"
        lines.append(f"| {r['variant']} | {r['mode']} | {r['fuse']} | {status} | {ms} | {pct} | "
                     f"{tiny} | {agree} | {prep} | {peak} |")
    return "\n".join(lines)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", default="llama-7b",
                   help="a known shape (docs/families.md) or 'tiny-test'; a dense model of "
                        "softmax attention, which the compiled decoder runs")
    add_device_and_dtype(p)
    p.add_argument("--tokens", default="12x128", help="<input>x<output>: one token config")
    p.add_argument("--variants", default=None,
                   type=names([*GPU_VARIANTS, *CPU_VARIANTS], "variants"),
                   help=f"comma list (default: all for the device, in priority order): on a GPU "
                        f"{','.join(GPU_VARIANTS)}; on the CPU {','.join(CPU_VARIANTS)}")
    p.add_argument("--warmup", type=non_negative_int, default=2)
    p.add_argument("--repeats", type=positive_int, default=5)
    p.add_argument("--attention", default="auto")
    p.add_argument("--budget-s", type=time_budget, default=200.0,
                   help="total seconds from the start; variants that would overrun are skipped")
    p.add_argument("--out", default=os.environ.get("OUT") or "decode_variants_out")
    p.add_argument("--seed", type=non_negative_int, default=0)
    args = p.parse_args(argv)
    # Read as the start reads them, by the library's readers (those prunebench bench and
    # gpu_check refuse theirs with): a bad value is the parser's error, before anything is built.
    _, output_tokens = refused(p, parse_tokens, args.tokens)  # its message names --tokens
    if output_tokens < 2:  # time_decoder's step: (last mark - first) / (output tokens - 1)
        p.error(f"--tokens {args.tokens!r}: the decode step is timed from the first generated "
                "token to the last, so it needs at least 2 output tokens, e.g. 12x128")
    check_dtype(p, args.dtype)
    check_attention(p, args.attention)
    check_variants(p, args.variants, args.device)
    check_decoded_arch(p, args.arch, checked_arch(p, args.arch, arch_config))
    return args


def main(argv=None) -> dict:
    start = time.perf_counter()
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    elapsed = lambda: time.perf_counter() - start  # noqa: E731
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(args.device, "--device")
    table, chosen = VARIANTS[device.type], variants_of(args.variants, device)
    dtype = resolve_dtype(args.dtype, device)
    attention = bench.resolve_attention(args.attention, device)
    n_in, n_out = parse_tokens(args.tokens)

    env = provenance(device=device, seed=args.seed, cell=vars(args))
    print(f"torch {torch.__version__}, transformers {env['versions']['transformers']}, "
          f"CUDA {env['cuda_version']}, GPU {env.get('gpu_name', 'none')}, device {device}, "
          f"{bench.dtype_name(dtype)}, attention {attention}", flush=True)
    report: dict = {"args": vars(args), "provenance": env, "rows": []}

    def save():
        report["elapsed_s"] = elapsed()
        write_json(out_dir / "decode_variants.json", report)

    bandwidth, method = bench.measure_bandwidth(device)
    report["bandwidth_gbps"], report["bandwidth_method"] = bandwidth / 1e9, method
    print(f"memory bandwidth: {bandwidth / 1e9:.0f} GB/s ({method})", flush=True)

    config = arch_config(args.arch)
    t0 = time.perf_counter()
    model = random_model(config, device, dtype, seed=args.seed)
    report["build_s"] = time.perf_counter() - t0
    weights = bench.weight_bytes(config, dtype)
    floor = bench.decode_floor_s(config, 1, bench.mean_decode_context(n_in, n_out), dtype,
                                 bandwidth)
    report.update(weight_bytes=weights, floor_s=floor,
                  floor_context_tokens=bench.mean_decode_context(n_in, n_out))
    print(f"{args.arch}: built in {report['build_s']:.1f} s, weights {weights / 1e9:.2f} GB, "
          f"floor {floor * 1e3:.2f} ms per step", flush=True)
    ids = bench.make_prompt(None, n_in, config.vocab_size, seed=args.seed).to(device)[None]
    checker = check_model(device)

    with bench.attention_context(attention):
        # The eager decoder's tokens on the big model: what every variant must reproduce.
        t0 = time.perf_counter()
        reference = StaticDecoder(model, 1, n_in + n_out, mode="eager").generate(ids, n_out)
        reference = reference[0, n_in:].tolist()
        report["reference_s"] = time.perf_counter() - t0
        save()
        for name in chosen:
            mode, fuse, kwargs, estimate = table[name]
            row = {"variant": name, "mode": mode, "fuse": fuse, "compile_kwargs": kwargs,
                   "estimate_s": estimate, "status": "skipped"}
            report["rows"].append(row)
            if elapsed() + estimate > args.budget_s:
                log.warning("skipping %s: %.0f s elapsed + ~%d s estimated > budget %.0f s",
                            name, elapsed(), estimate, args.budget_s)
                save()
                continue
            t_variant = time.perf_counter()
            decoder = None
            try:
                free(device)
                row["check"] = token_check(checker, device, mode, fuse, kwargs)
                free(device)
                decoder = StaticDecoder(model, 1, n_in + n_out, mode=mode, fuse=fuse,
                                        compile_kwargs=kwargs)
                t0 = time.perf_counter()
                decoder.prepare()
                row["prepare_s"] = time.perf_counter() - t0
                timing = time_decoder(decoder, ids, n_out, args.warmup, args.repeats, device)
                tokens = timing.pop("tokens")
                row.update(timing, status="ok",
                           pct_of_floor=100 * floor / timing["decode_step_s"],
                           agreement_7b=sum(a == b for a, b in zip(tokens, reference)) / n_out)
                if device.type == "cuda":
                    row["peak_memory_bytes"] = torch.cuda.max_memory_allocated(device)
                log.info("%s: decode step %.2f ms (%.0f%% of floor), prepare %.1f s", name,
                         row["decode_step_s"] * 1e3, row["pct_of_floor"], row["prepare_s"])
            except Exception as exc:  # noqa: BLE001 - recorded; the next variant runs
                log.error("%s failed:\n%s", name, traceback.format_exc())
                row.update(status="error", error=f"{type(exc).__name__}: {exc}"[:500])
            decoder = None
            row["wall_s"] = time.perf_counter() - t_variant
            save()
    free(device)
    md = markdown(report["rows"])
    summary = (f"{args.arch} {bench.dtype_name(dtype)} on {env.get('gpu_name') or device}, "
               f"batch 1, {n_in}x{n_out}; floor {floor * 1e3:.2f} ms "
               f"({weights / 1e9:.2f} GB weights + KV at {bandwidth / 1e9:.0f} GB/s)")
    print(f"\n{summary}\n\n{md}\n", flush=True)
    save()
    write_text(out_dir / "decode_variants.md", f"{summary}\n\n{md}\n")
    return report


if __name__ == "__main__":
    report = main()
    sys.exit(0 if any(r["status"] == "ok" for r in report["rows"]) else 1)
