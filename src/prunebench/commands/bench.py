"""`prunebench bench`: one workflow benchmark cell (a batch-size sweep of one backend and token
configuration) on one checkpoint, printed as a table and written as the workflow's JSON; with
`--against DENSE`, the checkpoint and DENSE timed in turns, as a paired_benchmark cell."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prunebench import PrunebenchError
from prunebench.atomic import write_json
from prunebench.commands.arguments import check_out_file, choice, parse_batches, parse_tokens
from prunebench.commands.model_source import params_of, resolve_model
from prunebench.commands.workflow_defaults import (ATTENTIONS, BENCH_BACKENDS, BENCH_DEFAULTS,
                                                   BENCH_DTYPES, COMPILE_MODES)


def bench_command(args) -> Path:
    """`prunebench bench`: one workflow benchmark cell (a batch-size sweep), printed as a
    table and written as the workflow's JSON."""
    # The arguments are checked before torch is imported (seconds): a typo is refused at once.
    lin, lout = parse_tokens(args.tokens)
    batches = parse_batches(args.batch) if args.batch is not None else None
    backend = choice(args.backend, BENCH_BACKENDS, "--backend")
    choice(args.dtype, BENCH_DTYPES, "--dtype")
    choice(args.attention, ATTENTIONS, "--attention")
    choice(args.compile_mode, COMPILE_MODES, "--compile-mode")
    # Only our decoder takes a compile mode (hf_static compiles as transformers decides): a mode
    # asked for would be silently ignored.
    if backend != "compiled" and args.compile_mode != BENCH_DEFAULTS["compile_mode"]:
        how = (" (it compiles as transformers decides: on a GPU)" if backend == "hf_static"
               else "")
        raise PrunebenchError(f"--compile-mode {args.compile_mode} sets the compiled backend; "
                              f"the {backend!r} backend has none{how}: add --backend compiled, "
                              "or drop --compile-mode")
    paired = args.against is not None
    if paired:
        asked = [f"--{key.replace('_', '-')}" for key in ADAPTIVE
                 if getattr(args, key) != BENCH_DEFAULTS[key]]
        if asked:
            raise PrunebenchError(f"{' and '.join(asked)} {'set' if len(asked) > 1 else 'sets'} "
                                  "adaptive repeats, which paired timing (--against) does not "
                                  "take: it times a fixed number of pairs (--repeats); drop "
                                  f"{' and '.join(asked)}")
        if args.profile_steps:
            raise PrunebenchError("--profile-steps profiles a sweep's decode steps; paired "
                                  "timing (--against) profiles none: drop one of them")
        if args.repeats < 2:
            raise PrunebenchError(f"--repeats {args.repeats}: paired timing needs at least 2 "
                                  "pairs per batch size (one pair shows no spread, so no "
                                  "interval): give --repeats 2 or more")
    if args.out:
        check_out_file(Path(args.out), args.force)

    from prunebench.benchmark import (CUDA_ONLY_ATTENTION, DEFAULT_BATCH_SIZES, ON_CPU_INSTEAD,
                                      SweepSettings, dtype_name, run_paired, run_sweep)
    from prunebench.modeling import load_model, load_tokenizer, resolve_device, resolve_dtype

    batches = batches or list(DEFAULT_BATCH_SIZES)
    ckpt = resolve_model(args.model, args.cache_dir, args.trust_remote_code)
    dense = resolve_model(args.against, args.cache_dir, args.trust_remote_code) if paired else None
    if dense is not None and dense.variant != "dense":
        # Its speed-up "over dense" would be over another pruned model (its own: ~1.0x).
        raise PrunebenchError(
            f"--against {args.against} is the {dense.variant} variant (its prune report says "
            "so), not a dense model: give the dense model the pruned one was made from")
    kind = "paired" if paired else "bench"
    out = Path(args.out or f"{kind}-{ckpt.name}-{ckpt.variant}-{backend}-{lin}x{lout}.json")
    check_out_file(out, args.force, ckpt.path)
    if dense is not None:
        check_out_file(out, args.force, dense.path)
    device = resolve_device(args.device, "--device")
    if device.type != "cuda" and args.attention in CUDA_ONLY_ATTENTION:
        raise PrunebenchError(f"--attention {args.attention} is a kernel of CUDA only, and this "
                              f"benchmark runs on {device}: {ON_CPU_INSTEAD}")
    # 'auto' resolved as the workflow resolves it: the study's fp16 on GPU, fp32 on CPU.
    dtype = dtype_name(resolve_dtype(args.dtype, device))
    # A paired job takes no adaptive repeats.
    adaptive = {} if paired else {key: getattr(args, key) for key in ADAPTIVE}
    # What the workflow's bench_settings records for a cell of this backend (a paired job's:
    # its pairs and the dense model it was timed against), the caps of adaptive repeats as
    # given (the workflow writes them as `repeats` and the default where they are off).
    recorded = {"batch_sizes": batches, "warmup": args.warmup,
                **({"pairs": args.repeats, "against": dense.source} if paired
                   else {"repeats": args.repeats, **adaptive}),
                "dtype": args.dtype, "attention": args.attention, "seed": args.seed,
                "sampling": args.sampling}
    if backend == "compiled":
        recorded["compile_mode"] = args.compile_mode
    cell = {"model": ckpt.name, "variant": ckpt.variant, "backend": backend,
            "input_tokens": lin, "output_tokens": lout, **recorded, "dtype": dtype,
            "source": ckpt.source}
    # Finished batch sizes are kept here while the sweep runs, so a rerun after a crash
    # resumes where it stopped (same machine and settings only), as a workflow cell does.
    partial = out.with_name(f".{out.stem}.unfinished.json")
    # Made before the model loads, so a bad setting fails at once.
    settings = SweepSettings(
        input_tokens=lin, output_tokens=lout, batch_sizes=batches, warmup=args.warmup,
        repeats=args.repeats, **adaptive, backend=backend, device=device, dtype=dtype,
        attention=args.attention, seed=args.seed, compile_mode=args.compile_mode,
        sampling=args.sampling, model_name=ckpt.name, variant=ckpt.variant, cell=cell,
        partial_path=partial, profile_steps=args.profile_steps)
    model = load_model(ckpt.path, device=device, dtype=resolve_dtype(dtype))
    if paired:
        dense_model = load_model(dense.path, device=device, dtype=resolve_dtype(dtype))
        result = run_paired(dense_model, model, load_tokenizer(dense.path, args.trust_remote_code),
                            settings)
        result["dense_params"] = params_of(dense)
    else:
        result = run_sweep(model, load_tokenizer(ckpt.path, args.trust_remote_code), settings)
    result["params"] = params_of(ckpt)
    write_json(out, result)
    partial.unlink(missing_ok=True)
    print(format_paired(result) if paired else format_sweep(result))
    for profile in profile_lines(result):
        print(profile)
    print(f"wrote {out}")
    return out


# The settings of adaptive repeats (a sweep's; paired timing takes a fixed number of pairs).
ADAPTIVE = ("max_repeats", "max_seconds", "ci_target")


def format_paired(result: dict[str, Any]) -> str:
    """Paired timing as a table: one line per batch size, the speed-up over the dense model
    with its paired 95% interval and the unpaired one of the same runs."""
    from prunebench.benchmark.paired import row_flags

    head = (f"{result['model']} / {result['variant']} against dense: backend "
            f"{result['backend']}, {result['input_tokens']}x{result['output_tokens']} tokens, "
            f"{result['dtype']} on {result['device']}, {result['pairs']} pairs")
    lines = [head, f"{'batch':>6}  {'speed-up':>9}  {'95% interval':>17}  "
                   f"{'unpaired interval':>17}  {'dense s':>9}  {'variant s':>9}  flags"]

    def interval(low, high) -> str:
        return f"[{low:.3f}, {high:.3f}]" if low is not None else "-"

    for row in result["rows"]:
        if row["status"] != "ok":
            lines.append(f"{row['batch_size']:>6}  {row['status'].upper():>9}  "
                         f"{row.get('error', '')[:60]}")
            continue
        flags = row_flags(row)
        lines.append(f"{row['batch_size']:>6}  {row['latency_speedup']:>8.3f}x  "
                     f"{interval(row['latency_speedup_ci95_low'], row['latency_speedup_ci95_high']):>17}  "
                     f"{interval(row['unpaired_speedup_ci95_low'], row['unpaired_speedup_ci95_high']):>17}  "
                     f"{row['dense_latency_s_mean']:>9.4f}  {row['variant_latency_s_mean']:>9.4f}  "
                     f"{', '.join(flags) or '-'}")
    return "\n".join(lines)


def profile_lines(result: dict[str, Any]) -> list[str]:
    """Each profiled row's kernel profile as text (`--profile-steps`); a failed one says why."""
    from prunebench.benchmark.kernel_profile import profile_text

    lines = []
    for row in result["rows"]:
        profile = row.get("kernel_profile")
        if profile is not None:
            steps = f", {profile['steps']} decode steps" if "steps" in profile else ""
            lines.append(profile_text(profile, f"\nbatch size {row['batch_size']}{steps}"))
    return lines


def format_sweep(result: dict[str, Any]) -> str:
    """The sweep as a table: one line per batch size."""
    head = (f"{result['model']} / {result['variant']}: backend {result['backend']}, "
            f"{result['input_tokens']}x{result['output_tokens']} tokens, {result['dtype']} on "
            f"{result['device']}, attention {result['attention']}")
    lines = [head, f"{'batch':>6}  {'latency s (mean ± std)':>24}  {'tok/s':>10}  {'CV':>6}  "
                   f"{'runs':>4}  flags"]
    for row in result["rows"]:
        if row["status"] != "ok":
            lines.append(f"{row['batch_size']:>6}  {row['status'].upper():>24}  {'-':>10}  "
                         f"{'-':>6}  {'-':>4}  {row.get('error', '')[:60]}")
            continue
        cv = row.get("latency_s_cv")
        flags = [f for f, on in (("unstable", row.get("unstable")),
                                 ("drifting", row.get("drifting")),
                                 ("competition", (row.get("interference") or {}).get("competition")),
                                 ("ran eagerly", row.get("decode_fallback")),
                                 ("compiled while timed", row.get("graphs_compiled_while_timed")),
                                 ("floor", row.get("floor_flag"))) if on]
        std = row["latency_s_std"]  # none for a single run
        lines.append(f"{row['batch_size']:>6}  "
                     f"{row['latency_s_mean']:>12.4f} ± "
                     f"{'-' if std is None else format(std, '.4f'):<9}  "
                     f"{row['throughput_tok_s']:>10.1f}  "
                     f"{(f'{100 * cv:.1f}%' if cv is not None else '-'):>6}  "
                     f"{row['runs']:>4}  {', '.join(flags) or '-'}")
    return "\n".join(lines)
