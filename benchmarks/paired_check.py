"""Paired speed-ups on randomly initialised LLaMA-7B shapes: dense against depth (23 blocks) and
width (~4.9B, LLM-Pruner-shaped), each pair timed in turns in this one process
(prunebench.benchmark.paired), on both backends.

gpu_check.py times each model on its own and divides the means; here every speed-up comes
with the 95% interval of its pairs, and beside it the interval the same runs give unpaired.
All three models stay on the device (LLaMA-7B shapes in float16: about 33 GB), and the
backends run one after the other over both variants, the compiled one first (seconds a
cell; an hf cell of 12x128 takes minutes on an H200: 12 pairs of about 3 + 2 s per batch
size), so a short budget still gives both variants on the compiled backend.

    python benchmarks/paired_check.py                 # on a GPU (a few minutes)
    python benchmarks/paired_check.py --arch tiny-test --device cpu --dtype float32

Cells run in order (the compiled backend before hf, depth before width) and are skipped,
recorded as such, when the time budget would be exceeded (the estimate: the costliest cell of
the same backend so far); an error in one is recorded and the next runs.
Writes paired_check.json and paired_check.md to --out (default $OUT).
"""

from __future__ import annotations

import argparse
import copy
import logging
import os
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # gpu_check, script_arguments

from gpu_check import _shallower, arch_config, depth_blocks, free, width_config  # noqa: E402
from script_arguments import (BATCH_SIZES_HELP, add_device_and_dtype,  # noqa: E402
                              check_common, check_moe_arch, checked_arch)

from prunebench.atomic import write_json, write_text  # noqa: E402
from prunebench.benchmark import BACKENDS, dtype_name, run_paired  # noqa: E402
from prunebench.commands.arguments import (non_negative_int, parse_batches,  # noqa: E402
                                           parse_tokens, time_budget)
from prunebench.benchmark.compiled import MODES as COMPILE_MODES  # noqa: E402
from prunebench.benchmark.paired import row_flags  # noqa: E402
from prunebench.modeling import (count_params, random_model, remove_blocks,  # noqa: E402
                                 resolve_device, resolve_dtype)
from prunebench.provenance import provenance  # noqa: E402

log = logging.getLogger("paired_check")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", default="llama-7b", help="architecture name or 'tiny-test'")
    add_device_and_dtype(p)
    p.add_argument("--tokens", default="12x128", help="<input>x<output>: one token config")
    p.add_argument("--batch-sizes", default="1,16", help=BATCH_SIZES_HELP)
    p.add_argument("--backends", default="compiled,hf")
    p.add_argument("--variants", default="depth,width")
    p.add_argument("--pairs", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2, help="warm-up pairs")
    p.add_argument("--compile-mode", default="auto", choices=COMPILE_MODES)
    p.add_argument("--budget-s", type=time_budget, default=240.0)
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--out", default=os.environ.get("OUT") or "paired_check_out")
    args = p.parse_args(argv)
    check_common(p, args, tokens=parse_tokens)
    config = checked_arch(p, args.arch, arch_config)
    unknown = sorted(set(args.backends.split(",")) - set(BACKENDS))
    if unknown:
        p.error(f"--backends: unknown backend(s) {unknown}; choose from {list(BACKENDS)}")
    unknown = sorted(set(args.variants.split(",")) - {"depth", "width"})
    if unknown:
        p.error(f"--variants: unknown {unknown}; choose from depth, width")
    if args.pairs < 2:
        p.error("--pairs: at least 2 (one pair shows no spread, so no interval)")
    if args.warmup < 1:
        p.error("--warmup: at least 1 pair (the first run after both models are prepared may "
                "recompile)")
    check_moe_arch(p, args, config, "--variants depth --backends hf,hf_static")
    return args


def markdown(cells: list[dict]) -> str:
    head = ("| variant | backend | tokens | batch | speed-up | 95% interval (pairs) | "
            "unpaired interval | dense s | variant s | flags |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for cell in cells:
        if cell["status"] != "ok":
            lines.append(f"| {cell['variant']} | {cell['backend']} | {cell['tokens']} | | "
                         f"{cell['status']}: {str(cell.get('error', ''))[:60]} | | | | | |")
            continue
        for row in cell["result"]["rows"]:
            if row["status"] != "ok":
                lines.append(f"| {cell['variant']} | {cell['backend']} | {cell['tokens']} | "
                             f"{row['batch_size']} | {row['status']} | | | | | |")
                continue
            flags = row_flags(row)
            lines.append(
                f"| {cell['variant']} | {cell['backend']} | {cell['tokens']} | "
                f"{row['batch_size']} | {row['latency_speedup']:.3f} | "
                f"[{row['latency_speedup_ci95_low']:.3f}, {row['latency_speedup_ci95_high']:.3f}]"
                f" | [{row['unpaired_speedup_ci95_low']:.3f}, "
                f"{row['unpaired_speedup_ci95_high']:.3f}] | "
                f"{row['dense_latency_s_mean']:.4f} | {row['variant_latency_s_mean']:.4f} | "
                f"{', '.join(flags)} |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    start = time.perf_counter()
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(args.device, "--device")
    dtype = resolve_dtype(args.dtype, device)
    lin, lout = parse_tokens(args.tokens)
    batch_sizes = parse_batches(args.batch_sizes, "--batch-sizes")
    report: dict = {"args": vars(args), "cells": [],
                    "provenance": provenance(device=device, seed=args.seed, cell=vars(args))}

    config = arch_config(args.arch)
    removed = depth_blocks(config)
    builders = {
        # remove_blocks edits the model and its config in place: a model of its own
        "depth": lambda: remove_blocks(random_model(copy.deepcopy(config), device, dtype,
                                                    seed=args.seed), removed),
        "width": lambda: random_model(width_config(config,
                                                   count_params(_shallower(config, len(removed)))),
                                      device, dtype, seed=args.seed),
    }
    dense = random_model(copy.deepcopy(config), device, dtype, seed=args.seed)
    variants = {}
    for variant in args.variants.split(","):
        try:
            variants[variant] = builders[variant]()
        except Exception as exc:  # noqa: BLE001 - recorded; the other variant runs
            log.error("building %s failed:\n%s", variant, traceback.format_exc())
            report["cells"].append({"variant": variant, "backend": "-", "tokens": args.tokens,
                                    "status": "error", "error": f"build: {exc}"})
            free(device)
    cost: dict[str, float] = {}  # backend -> its costliest cell so far: the next one's estimate
    for backend in args.backends.split(","):
        for variant, model in variants.items():
            cell = {"variant": variant, "backend": backend, "tokens": args.tokens}
            if time.perf_counter() - start + cost.get(backend, 0.0) > args.budget_s:
                report["cells"].append({**cell, "status": "skipped (time budget)"})
                continue
            t0 = time.perf_counter()
            try:
                result = run_paired(dense, model, None, input_tokens=lin, output_tokens=lout,
                                    batch_sizes=batch_sizes, warmup=args.warmup,
                                    repeats=args.pairs, backend=backend, device=device,
                                    dtype=dtype, compile_mode=args.compile_mode, seed=args.seed,
                                    model_name=args.arch, variant=variant, cell=cell)
                result["provenance"] = None  # the report carries one for the whole run
                cell.update(status="ok", result=result)
            except Exception as exc:  # noqa: BLE001 - one bad cell must not stop the check
                log.error("%s %s failed:\n%s", variant, backend, traceback.format_exc())
                cell.update(status="error", error=f"{type(exc).__name__}: {exc}")
                free(device)
            cell["wall_s"] = time.perf_counter() - t0
            cost[backend] = max(cost.get(backend, 0.0), cell["wall_s"])
            report["cells"].append(cell)
            write_json(out / "paired_check.json", report)
    variants = dense = None
    free(device)
    report["elapsed_s"] = time.perf_counter() - start
    write_json(out / "paired_check.json", report)
    env = report["provenance"]
    table = (f"{args.arch} on {env.get('gpu_name') or device}, {dtype_name(dtype)}, "
             f"{args.pairs} pairs after {args.warmup} warm-up pairs, "
             f"torch {env['versions']['torch']}, "
             f"transformers {env['versions']['transformers']}\n\n{markdown(report['cells'])}")
    write_text(out / "paired_check.md", table + "\n")
    print(table, flush=True)
    return report


if __name__ == "__main__":
    main()
