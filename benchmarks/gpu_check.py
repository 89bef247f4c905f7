"""One self-contained GPU check of the benchmark harness on randomly initialised LLaMA-7B shapes.

Speed depends on shapes, not weight values, so no download is needed. It benchmarks
  dense  (32 blocks), depth (9 blocks removed -> 23; the paper's PPL choice) and
  width  (~4.9B: blocks 4..29 narrower, one block with zero heads; built from layer_shapes)
with both backends (hf = the paper's protocol, compiled = static cache + CUDA graph; --backends
adds hf_static, transformers' static cache compiled by transformers), measures
the memory bandwidth, prints a Markdown table and the dense/depth decode-step ratio against
32/23, and writes gpu_check.json / gpu_check.md to --out (default $OUT). --arch takes another
known shape; a mixture of experts (qwen3-30b-a3b, mixtral-8x7b) runs dense and depth with the hf
backends only (--variants dense,depth --backends hf_static,hf), its batch-1 floor counting the
routed experts. --variants also takes known shapes beside dense, depth and width, each a random
model of its own shape timed beside --arch's dense one, its speed-up over it and the ratio of
their floors given as for depth and width: NVIDIA's Minitron prunes of Llama-3.1-8B against
their parent (gpu_session.py's minitron step; tiny-test-shallow and tiny-test-narrow stand in
for them anywhere).

    python benchmarks/gpu_check.py                    # on the H100 (about 6 minutes)
    python benchmarks/gpu_check.py --arch tiny-test --device cpu --dtype float32   # anywhere
    python benchmarks/gpu_check.py --arch tiny-test-moe --device cpu --dtype float32 \
        --variants dense,depth --backends hf_static,hf                             # anywhere
    python benchmarks/gpu_check.py --arch llama-3.1-8b --dtype bfloat16 \
        --variants dense,llama-3.1-minitron-4b-depth,llama-3.1-minitron-4b-width

Before timing, a self-check decodes a tiny float32 model with both the compiled decoder and HF
generate (greedy tokens must be equal; --no-selfcheck skips it), and an SDPA kernel pinned by
--attention (cudnn, efficient, math, ...) is checked on a decode step's shapes against float64
(the kernel check; cuDNN's kernel, half precision only, gets this check instead of the
self-check).

Cells are ordered by priority and skipped (recorded as such) when the time budget would be
exceeded; an error in one cell is logged and recorded, and the next cell runs.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import gc
import json
import logging
import os
import sys
import time
import traceback
from pathlib import Path

import torch
from transformers import LlamaConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))  # script_arguments, beside this script

from script_arguments import (BATCH_SIZES_HELP, add_device_and_dtype,  # noqa: E402
                              check_attention, check_common, check_moe_arch, checked_arch,
                              undecoded_kind)

from prunebench import benchmark as bench  # noqa: E402
from prunebench.checkpoint.architectures import ARCHITECTURES, architecture_config  # noqa: E402
from prunebench.checkpoint.param_count import kv_heads  # noqa: E402
from prunebench.commands.arguments import (non_negative_int, parse_batches,  # noqa: E402
                                           parse_token_configs, positive_int, time_budget)
from prunebench.atomic import write_json, write_text  # noqa: E402
from prunebench.benchmark.attention import ATTENTION, set_hf_attention  # noqa: E402
from prunebench.modeling import (count_params, default_layer_shape, random_model,  # noqa: E402
                                 remove_blocks, resolve_device, resolve_dtype)
from prunebench.provenance import provenance  # noqa: E402
from prunebench.benchmark.compiled import MODES as COMPILE_MODES  # noqa: E402
from prunebench.benchmark.compiled import StaticDecoder, decoder_attention  # noqa: E402

log = logging.getLogger("gpu_check")
# Randomly initialised LLaMA shapes: dense, depth-pruned (whole blocks) and width-pruned to the
# same size. --variants takes known shapes beside them (`shape_variants`).
VARIANTS = ("dense", "depth", "width")

# The paper's LLaMA-7B PPL choice of 9 blocks (reference/shortened-llama-facts.md).
LLAMA7B_PPL_9 = [9, 10, 13, 14, 22, 24, 25, 26, 27]


def tiny_test_config() -> LlamaConfig:
    return LlamaConfig(hidden_size=64, intermediate_size=172, num_hidden_layers=8,
                       num_attention_heads=4, num_key_value_heads=4, vocab_size=256,
                       max_position_embeddings=512, bos_token_id=1, eos_token_id=2,
                       pad_token_id=0, tie_word_embeddings=False)


def tiny_moe_test_config():
    """A small Mixtral (8 blocks, 4 experts, 2 routed a token), for a mixture of experts' run
    anywhere."""
    from transformers import MixtralConfig

    return MixtralConfig(hidden_size=64, intermediate_size=96, num_hidden_layers=8,
                         num_attention_heads=4, num_key_value_heads=2, num_local_experts=4,
                         num_experts_per_tok=2, vocab_size=256, max_position_embeddings=512,
                         sliding_window=None, bos_token_id=1, eos_token_id=2, pad_token_id=0,
                         tie_word_embeddings=False)


def tiny_shallow_test_config() -> LlamaConfig:
    """tiny-test with half its blocks (4 of 8), as Llama-3.1-Minitron-4B-Depth keeps 16 of
    Llama-3.1-8B's 32: a stand-in for it anywhere."""
    config = tiny_test_config()
    config.num_hidden_layers = 4
    return config


def tiny_narrow_test_config() -> LlamaConfig:
    """tiny-test narrowed as Llama-3.1-Minitron-4B-Width narrows its parent: a smaller hidden
    size (64 -> 48) and MLP (172 -> 108), every block and head kept at its head_dim (queries
    wider than the hidden size)."""
    config = tiny_test_config()
    config.hidden_size, config.intermediate_size, config.head_dim = 48, 108, 16
    return config


TEST_ARCHS = {"tiny-test": tiny_test_config, "tiny-test-moe": tiny_moe_test_config,
              "tiny-test-shallow": tiny_shallow_test_config,
              "tiny-test-narrow": tiny_narrow_test_config}


def arch_config(name: str) -> LlamaConfig:
    return TEST_ARCHS[name]() if name in TEST_ARCHS else architecture_config(name)


# What --variants takes beside VARIANTS: a known shape, each a random model of its own.
SHAPES = [*ARCHITECTURES, *TEST_ARCHS]


def shape_variants(variants: list[str]) -> list[str]:
    """The variants that name a shape of their own, not one derived from --arch."""
    return [variant for variant in variants if variant not in VARIANTS]


def pruned_range(n: int) -> range:
    """Blocks that pruning may touch: 4..n-3 for 32 blocks (the '+' heuristic), scaled."""
    return range(round(n * 4 / 32), n - max(1, round(n * 2 / 32)))


def depth_blocks(config: LlamaConfig) -> list[int]:
    n = config.num_hidden_layers
    if n == 32:
        return LLAMA7B_PPL_9
    k, span = max(1, round(n * 9 / 32)), pruned_range(n)
    return sorted({span.start + i * len(span) // k for i in range(k)})


def width_config(config: LlamaConfig, target_params: int) -> LlamaConfig:
    """LLM-Pruner-like shapes: one ratio over the prunable blocks, plus a zero-head block."""
    blocks = pruned_range(config.num_hidden_layers)
    zero_head = blocks[len(blocks) // 2]
    heads, kv = config.num_attention_heads, kv_heads(config)
    groups = heads // kv

    def shaped(ratio: float) -> LlamaConfig:
        cfg = copy.deepcopy(config)
        shapes = []
        for i in range(cfg.num_hidden_layers):
            shape = default_layer_shape(cfg)
            if i in blocks:
                keep_kv = max(1, round(kv * (1 - ratio)))  # whole KV groups, as for GQA
                shape.update(num_attention_heads=keep_kv * groups, num_key_value_heads=keep_kv,
                             intermediate_size=max(1, round(cfg.intermediate_size * (1 - ratio))))
            if i == zero_head:
                shape.update(num_attention_heads=0, num_key_value_heads=0, o_proj_bias=True,
                             down_proj_bias=True)
            shapes.append(shape)
        cfg.layer_shapes = shapes
        return cfg

    lo, hi = 0.0, 0.95
    for _ in range(40):  # bisection on the ratio: more ratio, fewer params
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if count_params(shaped(mid)) > target_params else (lo, mid)
    return shaped(hi)


def selfcheck(device: torch.device, attention: str, compile_mode: str) -> dict:
    """Compiled vs HF greedy tokens on a tiny width-pruned fp32 model, on the real device."""
    # Multi-head (no GQA) like LLaMA-7B: HF hands GQA to SDPA as enable_gqa, which not every
    # pinned kernel accepts in fp32; the static decoder's GQA is covered by the CPU tests.
    config = LlamaConfig(hidden_size=128, intermediate_size=256, num_hidden_layers=4,
                         num_attention_heads=8, num_key_value_heads=8, vocab_size=512,
                         max_position_embeddings=256, bos_token_id=1, eos_token_id=2,
                         pad_token_id=0, initializer_range=0.3)
    config.layer_shapes = [{}, {"num_attention_heads": 0, "num_key_value_heads": 0,
                                "o_proj_bias": True, "down_proj_bias": True},
                           {"num_attention_heads": 4, "num_key_value_heads": 4,
                            "intermediate_size": 96, "o_proj_bias": True}, {}]
    model = random_model(config, device, torch.float32, seed=0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("bias"):
                param.normal_(0.0, 0.3)
    ids = bench.make_prompt(None, 12, config.vocab_size).to(device).repeat(2, 1)
    ids[1, 5] = 77
    n = 24
    with bench.attention_context(attention, device), torch.inference_mode():
        set_hf_attention(model, attention)
        ref = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                             max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=0)
        decoder = StaticDecoder(model, 2, 12 + n, mode=compile_mode,
                                attention=decoder_attention(attention))
        decoder.prepare()
        out = decoder.generate(ids, n)
    equal = bool(torch.equal(out, ref))
    agree = float((out[:, 12:] == ref[:, 12:]).float().mean())
    (log.info if equal else log.error)("selfcheck (%s, %s): compiled tokens %s HF generate "
                                       "(%.0f%% agree)", decoder.mode, attention,
                                       "equal" if equal else "DIFFER FROM", 100 * agree)
    return {"tokens_equal": equal, "agreement": agree, "decode_mode": decoder.mode}


class Budget:
    """Skips a cell when its estimated cost would overrun the time budget."""

    def __init__(self, seconds: float, start: float):
        self.seconds, self.start = seconds, start
        self.cost: dict[tuple, float] = {}

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def allows(self, estimate: float, reserve: float = 0.0) -> bool:
        return self.elapsed() + estimate + reserve <= self.seconds


# SDPA kernels that run in half precision only (cuDNN's): the float32 token self-check cannot
# run them, so the kernel check below is what speaks for their results.
HALF_ONLY_KERNELS = ("cudnn",)


def kernel_check(attention: str, device: torch.device, dtype: torch.dtype, *, heads: int = 32,
                 head_dim: int = 128, cache_len: int = 144, visible: int = 77,
                 seed: int = 0) -> dict:
    """The attention kernel that `attention` pins, on a decode step's shapes: one query per
    head over a static cache whose positions from `visible` on are masked out (the compiled
    decoder's mask), in `dtype`, against the same attention computed in float64 on the CPU.
    Beside it the math kernel in the same dtype, as the rounding a correct kernel may show:
    the kernel passes within 4 times the math kernel's error (or 4 units of `dtype`'s
    precision, if more), which a kernel that drops or misreads the mask is far outside of
    (masked positions then take about half of the weight). `kernels` names what ran."""
    generator = torch.Generator().manual_seed(seed)
    q, keys, values = (torch.randn(1, heads, n, head_dim, generator=generator, dtype=torch.float64)
                       for n in (1, cache_len, cache_len))
    mask = (torch.arange(cache_len) < visible).view(1, cache_len)  # [query, position]
    scores = (q @ keys.transpose(-1, -2)) / head_dim ** 0.5
    reference = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1) @ values

    def error(kind: str) -> tuple[float, list[str]]:
        args = [t.to(device, dtype) for t in (q, keys, values)]
        out: list[torch.Tensor] = []
        with bench.attention_context(kind, device), torch.inference_mode():
            kernels = bench.attention_kernels(lambda: out.append(
                torch.nn.functional.scaled_dot_product_attention(*args,
                                                                 attn_mask=mask.to(device))))
        return float((out[0].double().cpu() - reference).abs().max()), kernels

    err, kernels = error(attention)
    math_err, _ = error("math")
    bound = max(4 * math_err, 4 * torch.finfo(dtype).eps)
    ok = err <= bound
    (log.info if ok else log.error)("kernel check (%s, %s): largest error %.2e against float64, "
                                    "math kernel %.2e: %s", attention, bench.dtype_name(dtype),
                                    err, math_err, "ok" if ok else "OUTSIDE 4x the math kernel's")
    return {"attention": attention, "dtype": bench.dtype_name(dtype), "max_abs_error": err,
            "math_max_abs_error": math_err, "bound": bound, "ok": ok, "kernels": kernels}


def free(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def fmt_params(n: int) -> str:
    return f"{n / 1e9:.3f}B" if n >= 1e8 else f"{n / 1e6:.3f}M"


def markdown(cells: list[dict]) -> str:
    head = ("| variant | params | blocks | backend | tokens | batch | latency s | tok/s | "
            "ttft ms | step ms | floor ms | % floor | flag | peak GiB | mode | build s |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for cell in cells:
        if cell["status"] != "ok":
            lines.append(f"| {cell['variant']} | | | {cell['backend']} | {cell['tokens']} | "
                         f"{cell['status']}: {str(cell.get('error', ''))[:60]} |" + " |" * 10)
            continue
        res = cell["result"]
        for row in res["rows"]:
            if row["status"] != "ok":
                lines.append(f"| {cell['variant']} | {fmt_params(res['params'])} | {res['blocks']} "
                             f"| {cell['backend']} | {cell['tokens']} | {row['batch_size']} | "
                             f"{row['status']} |" + " |" * 9)
                continue

            def ms(x):
                return f"{x * 1e3:.2f}" if x is not None else "-"

            pct = f"{row['pct_of_floor']:.0f}%" if row["pct_of_floor"] is not None else "-"
            # FLAG: the step is far above its bandwidth floor; a compile inside the timed runs
            # (hf_static's or ours) puts its seconds into the latencies, as the sweep warns
            flag = ", ".join(name for name, on in (
                ("FLAG", row["floor_flag"]),
                ("compiled while timed", row.get("graphs_compiled_while_timed"))) if on)
            lines.append(
                f"| {cell['variant']} | {fmt_params(res['params'])} | {res['blocks']} | "
                f"{cell['backend']} | {cell['tokens']} | {row['batch_size']} | "
                f"{row['latency_s_mean']:.3f} | {row['throughput_tok_s']:.1f} | "
                f"{ms(row['ttft_s'])} | {ms(row['decode_step_s'])} | {ms(row['floor_s'])} | "
                f"{pct} | {flag} | "
                f"{(row['peak_memory_bytes'] or 0) / 2**30:.2f} | "
                # how the decode steps ran (compiled backend, hf_static), and the build before
                # the runs: fusing, transformers' or our compile, graph capture
                f"{row.get('decode_mode') or '-'} | {row['compile_s']:.1f} |")
    return "\n".join(lines)


def ratios(cells: list[dict], blocks_ratio: dict[str, float]) -> list[dict]:
    """Dense / variant decode-step ratio (the speed-up) per variant, backend, token config and
    batch size, dense being --arch's (a named shape's parent), and the ratio of their bandwidth
    floors (`floor_ratio`: the speed-up if both steps reached the same % of their floor; None
    where a row has no floor). `blocks_ratio` gives the ratio each variant would reach if the
    decode step were proportional to its blocks (depth); the others have none (None)."""
    steps, floors = {}, {}
    for cell in cells:
        if cell["status"] == "ok":
            for row in cell["result"]["rows"]:
                if row["status"] == "ok" and row["decode_step_s"]:
                    key = (cell["variant"], cell["backend"], cell["tokens"], row["batch_size"])
                    steps[key], floors[key] = row["decode_step_s"], row.get("floor_s")
    out = []
    for (variant, backend, tokens, batch), step in steps.items():  # in the order timed
        dense = steps.get(("dense", backend, tokens, batch))
        if variant == "dense" or not dense:
            continue
        ratio, expected = dense / step, blocks_ratio.get(variant)
        dense_floor, floor = (floors.get((name, backend, tokens, batch))
                              for name in ("dense", variant))
        out.append({"variant": variant, "backend": backend, "tokens": tokens,
                    "batch_size": batch, "ratio": ratio, "blocks_ratio": expected,
                    "within_15pct": None if expected is None
                    else abs(ratio / expected - 1) <= 0.15,
                    "floor_ratio": dense_floor / floor if dense_floor and floor else None})
    return out


def floor_lines(cells: list[dict]) -> list[str]:
    """Each variant's compiled batch-1 decode step as % of its bandwidth floor."""
    lines = []
    for cell in cells:
        if cell["status"] != "ok" or cell["backend"] != "compiled":
            continue
        for row in cell["result"]["rows"]:
            if row["status"] == "ok" and row["batch_size"] == 1 and row["pct_of_floor"]:
                lines.append(f"- compiled {cell['variant']} batch 1 {cell['tokens']}: "
                             f"{row['pct_of_floor']:.0f}% of the bandwidth floor (goal >= 80%)")
    return lines


def profile_lines(cells: list[dict]) -> list[str]:
    """The kernel profile of every row that has one (--profile-steps)."""
    from prunebench.benchmark.kernel_profile import profile_text

    lines = []
    for cell in cells:
        for row in cell.get("result", {}).get("rows", []):
            profile = row.get("kernel_profile")
            if profile is None:
                continue
            title = (f"\nprofile: {cell['variant']} {cell['backend']} "
                     f"{row.get('decode_mode')} ({cell['result']['attention']} attention) "
                     f"batch {row['batch_size']} {cell['tokens']}")
            lines.append(profile_text(profile, title))
    return lines


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", default="llama-7b",
                   help="a known shape (docs/families.md), 'tiny-test' or 'tiny-test-moe'")
    add_device_and_dtype(p)
    p.add_argument("--tokens", default="12x128,82x128",
                   help="token configs in priority order; later ones run if the budget allows")
    p.add_argument("--batch-sizes", default="1,16,64", help=BATCH_SIZES_HELP)
    p.add_argument("--backends", default="hf,compiled",
                   help="hf, hf_static and/or compiled, comma-separated")
    p.add_argument("--variants", default=",".join(VARIANTS),
                   help="the models to benchmark, in this order (the budget skips the last "
                        "first): dense, depth and width of --arch, or known shapes (a random "
                        "model of each, its speed-up taken over --arch's dense one); a run that "
                        "has measured dense before can put the pruned first")
    p.add_argument("--hf-variants", default=None,
                   help="variants the hf backend runs on (it is the slow one; default: all of "
                        "--variants)")
    p.add_argument("--warmup", type=non_negative_int, default=2)
    p.add_argument("--repeats", type=positive_int, default=5)
    p.add_argument("--attention", default="auto",
                   help=f"auto or one of {', '.join(ATTENTION)} (flex: the compiled backend's)")
    # Refused here, not by the self-check and every cell after the models are built.
    p.add_argument("--compile-mode", default="auto", choices=COMPILE_MODES,
                   help="the compiled backend's mode (docs/benchmarks.md, \"Modes\"); auto: "
                        "our CUDA graph on CUDA, eager on the CPU")
    p.add_argument("--budget-s", type=time_budget, default=320.0,
                   help="wall-clock budget from start; cells that would overrun are skipped")
    p.add_argument("--no-selfcheck", action="store_true")
    p.add_argument("--profile-steps", type=non_negative_int, default=0,
                   help="cells of the first token config: after each batch size's timed "
                        "runs, profile this many decode steps (kernels per step, busy time "
                        "against the span, the costliest kernels; 0: off)")
    p.add_argument("--out", default=os.environ.get("OUT") or "gpu_check_out")
    p.add_argument("--seed", type=non_negative_int, default=0)
    args = p.parse_args(argv)
    check_common(p, args)
    check_attention(p, args.attention)
    backends = args.backends.split(",")
    unknown = sorted(set(backends) - set(bench.BACKENDS))
    if unknown:
        p.error(f"--backends: unknown backend(s) {unknown}; choose from {list(bench.BACKENDS)}")
    if args.attention == "flex" and set(backends) - {"compiled"}:
        p.error("--attention flex is the compiled backend's: add --backends compiled (and a "
                "--compile-mode that compiles, e.g. autotune-graph)")
    if args.hf_variants is None:
        args.hf_variants = args.variants
    for option in ("variants", "hf_variants"):
        unknown = sorted(set(getattr(args, option).split(",")) - set(VARIANTS) - set(SHAPES))
        if unknown:
            close = sorted({match for name in unknown
                            for match in difflib.get_close_matches(name, SHAPES, n=2)})
            p.error(f"--{option.replace('_', '-')}: unknown variant(s) {unknown}; choose from "
                    f"{list(VARIANTS)} or a known shape (docs/families.md, 'Known shapes'; "
                    f"{', '.join(TEST_ARCHS)} anywhere)"
                    + (f"; close to what was given: {', '.join(close)}" if close else ""))
    config = checked_arch(p, args.arch, arch_config)
    # (a shape the compiled decoder does not run: a mixture of experts, or Qwen3.5's hybrid)
    undecoded = {name: kind for name in shape_variants(args.variants.split(","))
                 if (kind := undecoded_kind(arch_config(name)))}
    if undecoded and "compiled" in backends:
        named = "; ".join(f"{name}: {kind}" for name, kind in undecoded.items())
        p.error(f"--variants {named}, which --backends compiled cannot time (its fused blocks "
                "compute softmax attention and a dense MLP): time it with --backends "
                "hf,hf_static")
    check_moe_arch(p, args, config, "--variants dense,depth --backends hf,hf_static")
    return args


def main(argv=None) -> dict:
    start = time.perf_counter()
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(args.device, "--device")
    dtype = resolve_dtype(args.dtype, device)
    attention = bench.resolve_attention(args.attention, device)
    tokens = parse_token_configs(args.tokens)
    batch_sizes = parse_batches(args.batch_sizes, "--batch-sizes")
    backends = args.backends.split(",")
    hf_variants = set(args.hf_variants.split(","))
    budget = Budget(args.budget_s, start)

    env = provenance(device=device, seed=args.seed, cell=vars(args))
    print(f"torch {torch.__version__}, transformers {env['versions']['transformers']}, "
          f"CUDA {env['cuda_version']}, driver {env.get('driver_version')}, "
          f"GPU {env.get('gpu_name', 'none')}, device {device}, {bench.dtype_name(dtype)}, "
          f"attention {attention}", flush=True)
    report: dict = {"args": vars(args), "provenance": env, "cells": [], "selfcheck": None}

    def save():
        report["elapsed_s"] = budget.elapsed()
        write_json(out_dir / "gpu_check.json", report)

    if attention in HALF_ONLY_KERNELS:
        report["selfcheck"] = {"skipped": f"attention {attention!r} runs in half precision "
                                          "only; the kernel check speaks for it"}
    elif not args.no_selfcheck:
        try:
            report["selfcheck"] = selfcheck(device, attention, args.compile_mode)
        except Exception as exc:  # noqa: BLE001 - recorded; the benchmarks still run
            log.error("selfcheck failed:\n%s", traceback.format_exc())
            report["selfcheck"] = {"error": f"{type(exc).__name__}: {exc}"}
        free(device)
    if ATTENTION.get(attention) is not None:  # an SDPA kernel pinned: seconds to check
        try:
            report["kernel_check"] = kernel_check(attention, device, dtype)
        except Exception as exc:  # noqa: BLE001 - recorded; the benchmarks still run
            log.error("kernel check failed:\n%s", traceback.format_exc())
            report["kernel_check"] = {"error": f"{type(exc).__name__}: {exc}"}
    bandwidth, method = bench.measure_bandwidth(device)
    report["bandwidth_gbps"], report["bandwidth_method"] = bandwidth / 1e9, method
    print(f"memory bandwidth: {bandwidth / 1e9:.0f} GB/s ({method})", flush=True)
    save()

    config = arch_config(args.arch)
    removed = depth_blocks(config)
    variants = list(dict.fromkeys(args.variants.split(",")))
    # The width-pruned model is sized like the depth-pruned one (4.9B for LLaMA-7B).
    width_cfg = (width_config(config, count_params(_shallower(config, len(removed))))
                 if "width" in variants else None)
    first_cost: dict[str, float] = {}  # variant -> cost of its first-token-config cells
    build_cost = 0.0
    model, built = None, None  # the model and the variant it is
    for v_index, variant in enumerate(variants):
        remaining = len(variants) - v_index - 1
        t_build = time.perf_counter()
        try:
            if variant == "depth" and built == "dense":
                model = remove_blocks(model, removed)  # the dense model's, in place
            else:  # one model on the device at a time
                model = None
                free(device)
                shape = (width_cfg if variant == "width" else
                         config if variant in ("dense", "depth") else arch_config(variant))
                # A copy of the config: remove_blocks edits the model's config in place.
                model = random_model(copy.deepcopy(shape), device, dtype, seed=args.seed)
                if variant == "depth":  # never another variant's blocks (width's, a shape's)
                    model = remove_blocks(model, removed)
            built = variant
        except Exception as exc:  # noqa: BLE001
            log.error("building %s failed:\n%s", variant, traceback.format_exc())
            for lin, lout in tokens:
                for backend in backends:
                    report["cells"].append({"variant": variant, "backend": backend,
                                            "tokens": f"{lin}x{lout}", "status": "error",
                                            "error": f"build: {type(exc).__name__}: {exc}"})
            model, built = None, None
            free(device)
            continue
        build_cost = max(build_cost, time.perf_counter() - t_build)
        log.info("%s: %.3fB params, %d blocks (built in %.1f s)", variant,
                 count_params(model.config) / 1e9, model.config.num_hidden_layers,
                 time.perf_counter() - t_build)
        for t_index, (lin, lout) in enumerate(tokens):
            for backend in backends:
                if backend == "hf" and variant not in hf_variants:
                    continue
                key = (backend, t_index)
                cell = {"variant": variant, "backend": backend, "tokens": f"{lin}x{lout}"}
                estimate = budget.cost.get(key, budget.cost.get((backend, 0), 0.0))
                # Later token configs must leave room for the first one of later variants.
                reserve = 0.0 if t_index == 0 else remaining * (
                    first_cost.get(variant, 0.0) + build_cost)
                if not budget.allows(estimate, reserve):
                    log.warning("skipping %s %s %dx%d: %.0f s elapsed, ~%.0f s needed, budget "
                                "%.0f s", variant, backend, lin, lout, budget.elapsed(),
                                estimate + reserve, budget.seconds)
                    report["cells"].append({**cell, "status": "skipped (time budget)"})
                    continue
                t_cell = time.perf_counter()
                try:
                    result = bench.run_sweep(
                        model, None, input_tokens=lin, output_tokens=lout,
                        batch_sizes=batch_sizes, warmup=args.warmup, repeats=args.repeats,
                        backend=backend, device=device, dtype=dtype, attention=attention,
                        seed=args.seed, compile_mode=args.compile_mode,
                        bandwidth_bytes_per_s=bandwidth, model_name=args.arch, variant=variant,
                        cell=cell, profile_steps=args.profile_steps if t_index == 0 else 0)
                    result["provenance"] = None  # the report carries one for the whole run
                    cell.update(status="ok", result=result)
                except Exception as exc:  # noqa: BLE001 - one bad cell must not stop the check
                    log.error("%s %s %dx%d failed:\n%s", variant, backend, lin, lout,
                              traceback.format_exc())
                    cell.update(status="error", error=f"{type(exc).__name__}: {exc}")
                    free(device)
                cost = time.perf_counter() - t_cell
                cell["wall_s"] = cost
                budget.cost[key] = max(budget.cost.get(key, 0.0), cost)
                if t_index == 0:
                    first_cost[variant] = first_cost.get(variant, 0.0) + cost
                report["cells"].append(cell)
                save()
                log.info("cell %s %s %dx%d: %s in %.1f s (%.0f s elapsed)", variant, backend,
                         lin, lout, cell["status"], cost, budget.elapsed())
    model = None
    free(device)

    table = markdown(report["cells"])
    n = config.num_hidden_layers
    report["ratios"] = ratios(report["cells"], {"depth": n / (n - len(removed)), "width": None})
    depth = (f"; depth: blocks ratio {n}/{n - len(removed)} = {n / (n - len(removed)):.3f}"
             if "depth" in variants else "")
    lines = [table, "", f"speed-up: dense ({args.arch}) / variant decode step (floors: the "
                        f"ratio of their bandwidth floors{depth}):"]
    for r in report["ratios"]:
        within = ("" if r["within_15pct"] is None else
                  f" ({'within' if r['within_15pct'] else 'OUTSIDE'} 15% of the blocks ratio)")
        floors = "" if r["floor_ratio"] is None else f" (floors {r['floor_ratio']:.3f})"
        lines.append(f"- {r['variant']} {r['backend']} {r['tokens']} batch {r['batch_size']}: "
                     f"{r['ratio']:.3f}{floors}{within}")
    lines += floor_lines(report["cells"])
    lines += profile_lines(report["cells"])
    lines.append(f"\nselfcheck: {json.dumps(report['selfcheck'])}")
    if "kernel_check" in report:
        lines.append(f"kernel check: {json.dumps(report['kernel_check'])}")
    lines.append(f"total wall time: {budget.elapsed():.0f} s")
    text = "\n".join(lines)
    print(text, flush=True)
    save()
    write_text(out_dir / "gpu_check.md", text + "\n")
    return report


def _shallower(config: LlamaConfig, k: int) -> LlamaConfig:
    cfg = copy.deepcopy(config)
    cfg.num_hidden_layers -= k
    return cfg


if __name__ == "__main__":
    main()
