"""One checkpoint, no config: `prunebench prune`, `prunebench bench` and `prunebench eval`.

Each command calls the library functions the workflow's rule scripts call (prune_checkpoint,
draw_windows, run_sweep, perplexity, zeroshot.evaluate) with the workflow's defaults
(config/config.yaml, workflow/schemas/config.schema.yaml), and writes the files a workflow cell
writes, with their provenance. Everything that can be checked before a weight is loaded is
checked first (method, size, parameters, token config, output folder), and every output is
written through prunebench.atomic: an interrupted command leaves nothing that looks complete.

MODEL is a checkpoint directory (config.json, safetensors weights, tokenizer), a `prunebench
prune` output folder (its `checkpoint/` is used, and its prune report names the variant), or
`hf:<org>/<repo>@<revision>`, downloaded once into the cache folder (`--cache-dir`).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prunebench import PrunebenchError
from prunebench.atomic import atomic_dir, read_json, write_json
from prunebench.plan.variants import canonical

log = logging.getLogger(__name__)

# The workflow's defaults (config/config.yaml's `embedded.seed`, the schema's `evaluation` and
# `benchmark` defaults), so a command's file matches a workflow cell run with them.
EMBEDDED_SEED = 0
PPL_DEFAULTS = {"window": 128, "stride": None, "bos": "first", "batch_size": 8,
                "max_windows": None}
ZEROSHOT_DEFAULTS = {"num_fewshot": 0, "limit": None, "batch_size": 32, "seed": 1234,
                     "add_bos_token": True, "metrics": {}}
SUITE_DEFAULTS = {"items": 100, "context_sentences": 4, "seed": 0}
BENCH_DEFAULTS = {"warmup": 10, "repeats": 20, "max_repeats": 50, "max_seconds": 30.0,
                  "ci_target": 0.05, "dtype": "auto", "attention": "auto", "seed": 0,
                  "compile_mode": "auto", "sampling": False}
BENCH_DTYPES = ("auto", "float16", "bfloat16", "float32")
ATTENTIONS = ("auto", "sdpa", "flash-efficient", "flash", "efficient", "math", "cudnn", "eager")
COMPILE_MODES = ("auto", "eager", "cuda-graph", "compile-graph", "autotune-graph",
                 "reduce-overhead")


def default_cache_dir() -> Path:
    """Where `hf:` models are downloaded: $PRUNEBENCH_CACHE_DIR/models, else
    ~/.cache/prunebench/models (beside the checkpoint verification memos)."""
    root = os.environ.get("PRUNEBENCH_CACHE_DIR") or Path.home() / ".cache" / "prunebench"
    return Path(root) / "models"


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class Checkpoint:
    path: Path            # the folder with config.json, weights and tokenizer
    name: str             # the model name written into result files
    variant: str          # "dense", or the variant its prune report names
    source: str           # MODEL as given on the command line
    report: dict | None   # the prune report beside it, when there is one


def resolve_model(spec: str, cache_dir: str | Path | None = None) -> Checkpoint:
    """MODEL as given -> the checkpoint folder, its name and variant (module docstring)."""
    path = Path(spec).expanduser()
    if path.exists() or not spec.startswith("hf:"):
        return _local_checkpoint(path, spec)
    from prunebench.hub import parse_source

    parsed = parse_source(spec)  # a malformed hf: source stops here, before any download
    folder = hub_checkpoint(spec, Path(cache_dir) if cache_dir else default_cache_dir())
    return Checkpoint(folder, parsed.name.rsplit("/", 1)[-1], "dense", spec, None)


def _local_checkpoint(path: Path, spec: str) -> Checkpoint:
    if not path.exists():
        raise PrunebenchError(
            f"no model at {spec}: give a checkpoint directory (config.json, safetensors weights, "
            "tokenizer), a `prunebench prune` output folder, or hf:<org>/<repo>@<revision>")
    if (path / "config.json").is_file():
        folder = path
        report_file = path.parent / "prune_report.json" if path.name == "checkpoint" else None
    elif (path / "checkpoint" / "config.json").is_file():  # a `prunebench prune` --out folder
        folder, report_file = path / "checkpoint", path / "prune_report.json"
    else:
        raise PrunebenchError(
            f"{spec} holds no model: config.json is missing (neither in it nor in its "
            "checkpoint/ folder); give a checkpoint directory or hf:<org>/<repo>@<revision>")
    report = None
    if report_file is not None and report_file.is_file():
        try:
            report = read_json(report_file)
        except ValueError as err:
            raise PrunebenchError(f"{report_file} is not valid JSON ({err}): prune again, or "
                                  "give the checkpoint folder of another run") from None
    if report:
        return Checkpoint(folder, str(report.get("model") or folder.resolve().parent.name),
                          str(report.get("variant") or "dense"), spec, report)
    return Checkpoint(folder, folder.resolve().name, "dense", spec, None)


def hub_checkpoint(source: str, cache_dir: Path) -> Path:
    """A hub model downloaded once into cache_dir/<org>--<repo>@<revision> (the workflow's
    `model` rule's way: a staging folder a rerun resumes, renamed once complete)."""
    from prunebench.hub import download, parse_source
    from prunebench.modeling import MANIFEST, write_manifest

    parsed = parse_source(source)
    # One folder per repository and revision ('refs/pr/3' included: no '/' in the name).
    folder = f"{parsed.name}@{parsed.revision or 'main'}".replace("/", "--")
    out = cache_dir / folder
    if (out / MANIFEST).is_file():
        log.info("%s: using the download in %s", source, out)
        return out
    if parsed.revision is None:
        log.warning("%s is kept in %s: delete that folder to fetch a newer 'main'", source, out)
    staging = out.parent / f".{out.name}.download"
    download(parsed.name, parsed.revision, staging)  # token from HF_TOKEN, never printed
    write_manifest(staging, {"source": source})
    os.replace(staging, out)
    return out


def params_of(ckpt: Checkpoint) -> int:
    """The checkpoint's parameter count as the workflow records it: the prune report's
    params_after, else the count from its config (a dense model)."""
    if ckpt.report and ckpt.report.get("params_after"):
        return int(ckpt.report["params_after"])
    from prunebench.modeling import count_params, load_config

    return count_params(load_config(ckpt.path))


# --------------------------------------------------------------------------- arguments


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """`--param k=v` pairs: v is read as a bool (true/false), null, an int, a float, else kept
    as a string."""
    params: dict[str, Any] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise PrunebenchError(f"--param {item!r} must be key=value, e.g. --param "
                                  "protect_first=4 or --param bias_compensation=false")
        if key in params:
            raise PrunebenchError(f"--param {key} is given twice: keep one")
        params[key] = _param_value(text.strip())
    return params


def _param_value(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("null", "none"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_tokens(text: str) -> tuple[int, int]:
    """'12x128' -> (12, 128)."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match:
        raise PrunebenchError(f"malformed --tokens {text!r}: write <input>x<output> token "
                              "counts such as 12x128")
    lin, lout = int(match[1]), int(match[2])
    if lin < 1 or lout < 1:
        raise PrunebenchError(f"--tokens {text!r} generates nothing: input and output need at "
                              "least 1 token each, e.g. 12x128")
    return lin, lout


def parse_list(text: str | None, what: str) -> list[str]:
    items = [t.strip() for t in (text or "").split(",")]
    if text is not None and not all(items):
        raise PrunebenchError(f"{what} {text!r} has an empty entry: separate names with single "
                              "commas")
    return [t for t in items if t]


def parse_batches(text: str) -> list[int]:
    """'1,8,64' -> [1, 8, 64]."""
    try:
        batches = [int(b) for b in parse_list(text, "--batch")]
    except ValueError:
        batches = []
    if not batches or any(b < 1 for b in batches):
        raise PrunebenchError(f"--batch {text!r} must list positive batch sizes, e.g. 1,8,64")
    if len(set(batches)) != len(batches):
        raise PrunebenchError(f"--batch {text!r} lists a batch size twice: keep one")
    return sorted(batches)


def _limit(text: str) -> int | float:
    """lm-eval's limit: a whole number of documents, or a fraction below 1."""
    value = float(text)
    return int(value) if value >= 1 and value.is_integer() else value


def _choice(value: str, choices: tuple[str, ...], option: str) -> str:
    if value not in choices:
        raise PrunebenchError(f"unknown {option} {value!r}: choose one of {list(choices)}")
    return value


def check_out_dir(out: Path, force: bool, model_dir: Path | None = None) -> None:
    """An output folder is new, empty, or replaced only with --force (and only once the new one
    is complete: atomic_dir)."""
    if out.exists() and not out.is_dir():
        raise PrunebenchError(f"--out {out} is a file, not a folder: choose a folder path")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise PrunebenchError(f"--out {out} exists and is not empty: choose another folder, or "
                              "add --force to replace it (the old one goes only once the new "
                              "one is complete)")
    if model_dir is not None and out.resolve() in (model_dir.resolve(), *model_dir.resolve().parents):
        raise PrunebenchError(f"--out {out} holds the model {model_dir} itself: choose a folder "
                              "outside it")


def check_out_file(out: Path, force: bool) -> None:
    if out.is_dir():
        raise PrunebenchError(f"--out {out} is a folder: give the JSON file's path")
    if out.exists() and not force:
        raise PrunebenchError(f"--out {out} exists: choose another file, or add --force to "
                              "replace it")


def require_hub(what: str) -> None:
    """Stop at once, with the fix, when `what` needs the hub and it is unreachable (instead of
    datasets' retries); with HF_DATASETS_OFFLINE set the caches answer and nothing is tried."""
    from prunebench.cli import hub_reachable

    if any(os.environ.get(v, "").lower() in ("1", "true", "yes", "on")
           for v in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE")):
        return
    if not hub_reachable():
        raise PrunebenchError(
            f"{what} needs a hub dataset, and the Hugging Face hub is unreachable from here: run "
            "where it is reachable, or pre-fetch the data there (`snakemake prefetch`) and set "
            "HF_DATASETS_OFFLINE=1 (with HF_DATASETS_CACHE pointing at that cache); the "
            "embedded text and the pb_* tasks need no network")


def embedded_text(folder: Path) -> Path:
    """The embedded text (train / validation / test) as the workflow's embedded_text rule makes
    it with its default seed: pure Python, seeded, the same on every machine."""
    from prunebench.corpus import write_corpus

    write_corpus(folder, seed=EMBEDDED_SEED)
    return folder


# --------------------------------------------------------------------------- prune


def prune_command(args) -> Path:
    """`prunebench prune`: the workflow's prune cell (calibration rule + prune rule)."""
    from prunebench.data import SAMPLINGS, SOURCES
    from prunebench.modeling import count_params, load_config, require_tokenizer
    from prunebench.provenance import provenance
    from prunebench.pruning import prune_checkpoint
    from prunebench.methods.registry import DATA_FREE, method, method_module, resolve_calibration
    from prunebench.plan.sizes import parse_size

    if args.method == "dense":
        raise PrunebenchError("'dense' is the unpruned model: there is nothing to prune; bench "
                              "or eval the model itself")
    method(args.method)  # an unknown method lists the known ones
    params = parse_params(args.param)
    overrides = {k: getattr(args, k) for k in ("source", "n", "length", "seed", "sampling")
                 if getattr(args, k) is not None}
    if args.method in DATA_FREE and overrides:
        raise PrunebenchError(f"{args.method} is data-free: it reads no calibration data, so "
                              f"drop --calibration / --n / --length / --seed / --sampling")
    if args.source is not None:
        _choice(args.source, SOURCES, "--calibration source")
    if args.sampling is not None:
        _choice(args.sampling, SAMPLINGS, "--sampling")
    out = Path(args.out)
    check_out_dir(out, args.force)
    ckpt = resolve_model(args.model, args.cache_dir)
    check_out_dir(out, args.force, ckpt.path)
    config = load_config(ckpt.path)
    target = parse_size(args.size, count_params(config))  # larger than the model, zero, ...
    # From the config alone: unknown parameters and unreachable targets stop before any load.
    method_module(args.method).plan(config, target, **params)
    calibration = None if args.method in DATA_FREE else resolve_calibration(args.method, overrides)
    windows = None
    if calibration is not None:
        if calibration["source"] != "embedded":
            require_hub(f"calibration from {calibration['source']}")
        tokenizer = require_tokenizer(ckpt.path, "drawing calibration windows",
                                      args.trust_remote_code)
        windows = draw_calibration(tokenizer, calibration)
    variant = f"{args.method}-{args.size}"
    cell = canonical({"model": ckpt.name, "source": ckpt.source, "method": args.method,
                      "size": args.size, "params": params, "calibration": calibration})
    with atomic_dir(out) as tmp:
        report = prune_checkpoint(ckpt.path, args.method, args.size, tmp / "checkpoint", windows,
                                  params, device=args.device,
                                  trust_remote_code=args.trust_remote_code)
        write_json(tmp / "prune_report.json", {
            "model": ckpt.name, "variant": variant, **report,
            "calibration": canonical(calibration) if calibration else None,
            "checkpoint": str(out / "checkpoint"),
            "provenance": provenance(device=report["device"],
                                     seed=calibration["seed"] if calibration else None, cell=cell),
        })
    print(f"{variant}: {report['params_before']:,} -> {report['params_after']:,} params, "
          f"{report['blocks_before']} -> {report['blocks_after']} blocks")
    print(f"wrote {out / 'checkpoint'} and {out / 'prune_report.json'}")
    return out


def draw_calibration(tokenizer, calibration: dict[str, Any]):
    """The windows the workflow's calibration rule draws for these settings (its script's
    calls), kept in memory instead of a calibration file."""
    from prunebench.data import JOINERS, draw_windows, load_rows

    sampling = calibration["sampling"]
    with tempfile.TemporaryDirectory() as scratch:
        embedded_dir = embedded_text(Path(scratch)) if calibration["source"] == "embedded" else None
        # The joined samplings join the split's rows as the originals do, empty ones included.
        rows = load_rows(calibration["source"], "train", embedded_dir,
                         keep_empty=sampling in JOINERS)
    windows = draw_windows(rows, tokenizer, int(calibration["n"]), int(calibration["length"]),
                           int(calibration["seed"]), sampling, source=calibration["source"])
    log.info("%d calibration windows of %d tokens from %s (%s)", len(windows), windows.shape[1],
             calibration["source"], sampling)
    return windows


# --------------------------------------------------------------------------- bench


def bench_command(args) -> Path:
    """`prunebench bench`: one workflow benchmark cell (a batch-size sweep), printed as a
    table and written as the workflow's JSON."""
    from prunebench.benchmark import BACKENDS, DEFAULT_BATCH_SIZES, run_sweep
    from prunebench.modeling import load_model, load_tokenizer, resolve_device, resolve_dtype

    lin, lout = parse_tokens(args.tokens)
    batches = parse_batches(args.batch) if args.batch else list(DEFAULT_BATCH_SIZES)
    backend = _choice(args.backend, BACKENDS, "--backend")
    _choice(args.dtype, BENCH_DTYPES, "--dtype")
    _choice(args.attention, ATTENTIONS, "--attention")
    _choice(args.compile_mode, COMPILE_MODES, "--compile-mode")
    if backend == "compiled" and args.sampling:
        raise PrunebenchError("the compiled backend decodes greedily: drop --sampling or use "
                              "--backend hf")
    if args.out:
        check_out_file(Path(args.out), args.force)
    ckpt = resolve_model(args.model, args.cache_dir)
    out = Path(args.out or f"bench-{ckpt.name}-{ckpt.variant}-{backend}-{lin}x{lout}.json")
    check_out_file(out, args.force)
    device = resolve_device(args.device)
    dtype = args.dtype
    if dtype == "auto":  # the workflow's: the study's fp16 on GPU; CPUs have no fast fp16 matmul
        dtype = "float16" if device.type == "cuda" else "float32"
    # The workflow's bench_settings: only what shapes this backend's cells.
    settings = {"batch_sizes": batches, "warmup": args.warmup, "repeats": args.repeats,
                "dtype": args.dtype, "attention": args.attention, "seed": args.seed,
                "max_repeats": args.max_repeats, "max_seconds": args.max_seconds,
                "ci_target": args.ci_target}
    settings.update({"compile_mode": args.compile_mode} if backend == "compiled"
                    else {"sampling": args.sampling})
    model = load_model(ckpt.path, device=device, dtype=resolve_dtype(dtype))
    tokenizer = load_tokenizer(ckpt.path, args.trust_remote_code)
    cell = {"model": ckpt.name, "variant": ckpt.variant, "backend": backend,
            "input_tokens": lin, "output_tokens": lout, **settings, "dtype": dtype,
            "source": ckpt.source}
    # Finished batch sizes are kept here while the sweep runs, so a rerun after a crash
    # resumes where it stopped (same machine and settings only), as a workflow cell does.
    partial = out.with_name(f".{out.stem}.unfinished.json")
    result = run_sweep(model, tokenizer, input_tokens=lin, output_tokens=lout,
                       batch_sizes=batches, warmup=args.warmup, repeats=args.repeats,
                       max_repeats=args.max_repeats, max_seconds=args.max_seconds,
                       ci_target=args.ci_target, backend=backend, device=device, dtype=dtype,
                       attention=args.attention, seed=args.seed,
                       compile_mode=args.compile_mode, sampling=args.sampling,
                       model_name=ckpt.name, variant=ckpt.variant, cell=cell,
                       partial_path=partial)
    result["params"] = params_of(ckpt)
    write_json(out, result)
    partial.unlink(missing_ok=True)
    print(format_sweep(result))
    print(f"wrote {out}")
    return out


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
                                 ("competition", (row.get("interference") or {}).get("competition")),
                                 ("floor", row.get("floor_flag"))) if on]
        lines.append(f"{row['batch_size']:>6}  "
                     f"{row['latency_s_mean']:>12.4f} ± {row['latency_s_std']:<9.4f}  "
                     f"{row['throughput_tok_s']:>10.1f}  "
                     f"{(f'{100 * cv:.1f}%' if cv is not None else '-'):>6}  "
                     f"{row['runs']:>4}  {', '.join(flags) or '-'}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- eval


def eval_command(args) -> Path:
    """`prunebench eval`: the workflow's perplexity and zero-shot cells for one checkpoint."""
    from prunebench.data import EVAL_SPLITS
    from prunebench.modeling import load_model, require_tokenizer, resolve_device
    from prunebench.mc_suite import TASKS as SUITE_TASKS
    from prunebench.zeroshot import hub_tasks

    datasets = parse_list(args.ppl, "--ppl")
    tasks = parse_list(args.tasks, "--tasks")
    if not datasets and not tasks:
        raise PrunebenchError("nothing to evaluate: give --ppl (e.g. embedded,wikitext2) and/or "
                              "--tasks (e.g. pb_agreement,pb_number)")
    for dataset in datasets:
        _choice(dataset, tuple(EVAL_SPLITS), "--ppl dataset")
    for name, items in (("--ppl", datasets), ("--tasks", tasks)):
        if len(set(items)) != len(items):
            raise PrunebenchError(f"{name} lists a name twice: keep one")
    if args.bos not in ("first", "window"):
        raise PrunebenchError(f"unknown --bos {args.bos!r}: choose 'first' or 'window'")
    for task in tasks:  # a typo in an offline task name would otherwise ask the hub for it
        if task.startswith("pb_") and task not in SUITE_TASKS:
            _choice(task, SUITE_TASKS, "offline task")
    hub = [d for d in datasets if d != "embedded"] + hub_tasks(tasks)
    if hub:
        require_hub(f"evaluating {', '.join(hub)}")
    if args.out:
        check_out_dir(Path(args.out), args.force)
    ckpt = resolve_model(args.model, args.cache_dir)
    out = Path(args.out or f"eval-{ckpt.name}-{ckpt.variant}")
    check_out_dir(out, args.force, ckpt.path)
    device = resolve_device(args.device)
    model = load_model(ckpt.path, device=device)
    purpose = "perplexity" if datasets else "zero-shot evaluation"
    tokenizer = require_tokenizer(ckpt.path, purpose, args.trust_remote_code)
    files: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as scratch:
        embedded_dir = None
        if "embedded" in datasets or tasks:
            embedded_dir = embedded_text(Path(scratch) / "embedded")
        if datasets:
            files["ppl.json"] = _perplexity(model, tokenizer, ckpt, datasets, embedded_dir, device,
                                            args)
        if tasks:
            files.update(_zeroshot(model, tokenizer, ckpt, tasks, embedded_dir,
                                   Path(scratch) / "mc_suite", device, args))
    with atomic_dir(out) as tmp:  # the files of one evaluation appear together
        for name, data in files.items():
            write_json(tmp / name, data)
    if "ppl.json" in files:
        for dataset, value in files["ppl.json"]["perplexity"].items():
            print(f"perplexity {dataset}: {value:.4f}")
    if "zeroshot.json" in files:
        summary = files["zeroshot.json"]
        for task, value in summary["accuracy"].items():
            print(f"{task}: {summary['metric'][task]} {value:.4f}")
        print(f"average: {summary['average']:.4f}")
    print(f"wrote {', '.join(str(out / name) for name in files)}")
    return out


def _perplexity(model, tokenizer, ckpt: Checkpoint, datasets, embedded_dir, device, args) -> dict:
    """ppl.json as the workflow's perplexity script writes it."""
    from prunebench.data import EVAL_SPLITS, load_text
    from prunebench.evaluate import perplexity, token_stream
    from prunebench.provenance import provenance
    from prunebench.tiny import encode_text

    settings = {"datasets": datasets, "window": args.window, "stride": args.stride,
                "bos": args.bos, "batch_size": args.batch_size or PPL_DEFAULTS["batch_size"],
                "max_windows": args.max_windows}
    results, details = {}, {}
    for dataset in datasets:
        if dataset == "embedded":  # scored as the tiny model was trained: <s> paragraph </s>
            stream = encode_text(tokenizer, (embedded_dir / "test.txt").read_text(encoding="utf-8"))
        else:
            text = load_text(dataset, EVAL_SPLITS[dataset])  # the workflow's text rule's call
            stream = token_stream(tokenizer, text, bos="first" if args.bos == "first" else "none")
        bos_id = tokenizer.bos_token_id if args.bos == "window" else None
        out = perplexity(model, stream, settings["window"], settings["stride"],
                         settings["batch_size"], settings["max_windows"], bos_id)
        results[dataset], details[dataset] = out["perplexity"], out
        log.info("%s: PPL %.3f over %d tokens", dataset, out["perplexity"], out["scored_tokens"])
    return {
        "model": ckpt.name, "variant": ckpt.variant, "params": params_of(ckpt),
        "window": settings["window"], "stride": settings["stride"] or settings["window"],
        "bos": settings["bos"], "perplexity": results, "details": details,
        "splits": {d: EVAL_SPLITS[d] for d in datasets},
        "provenance": provenance(device=device, cell=canonical(
            {"model": ckpt.name, "variant": ckpt.variant, "source": ckpt.source, **settings})),
    }


def _zeroshot(model, tokenizer, ckpt: Checkpoint, tasks, embedded_dir, suite_dir, device,
              args) -> dict[str, dict]:
    """zeroshot.json and lm_eval.json as the workflow's zeroshot script writes them; the pb_*
    tasks run on the offline suite made from the embedded held-out text (the mc_suite rule)."""
    from prunebench.mc_suite import write_suite
    from prunebench.provenance import provenance
    from prunebench.zeroshot import evaluate, suite_tasks

    settings = {**ZEROSHOT_DEFAULTS, "tasks": tasks, "num_fewshot": args.num_fewshot,
                "limit": args.limit, "seed": args.zeroshot_seed,
                "batch_size": args.batch_size or ZEROSHOT_DEFAULTS["batch_size"],
                "add_bos_token": args.add_bos_token}
    suite = None
    if suite_tasks(tasks):
        write_suite(embedded_dir / "test.txt", suite_dir, n=SUITE_DEFAULTS["items"],
                    seed=SUITE_DEFAULTS["seed"],
                    context_sentences=SUITE_DEFAULTS["context_sentences"])
        suite = read_json(suite_dir / "suite.json")
        suite["source"] = f"embedded test text, seed {EMBEDDED_SEED}"  # not the scratch path
    started = time.perf_counter()
    out = evaluate(model, tokenizer, tasks, include_path=suite_dir if suite else None,
                   num_fewshot=settings["num_fewshot"], limit=settings["limit"],
                   batch_size=settings["batch_size"], seed=settings["seed"],
                   metrics=settings["metrics"], add_bos_token=settings["add_bos_token"])
    elapsed = time.perf_counter() - started
    record = provenance(device=device, seed=settings["seed"], cell=canonical(
        {"model": ckpt.name, "variant": ckpt.variant, "source": ckpt.source, **settings}))
    return {
        "zeroshot.json": {
            "model": ckpt.name, "variant": ckpt.variant, "params": params_of(ckpt),
            **out["summary"], "tasks": tasks, "num_fewshot": settings["num_fewshot"],
            "limit": settings["limit"], "batch_size": settings["batch_size"],
            "seed": settings["seed"], "suite": suite,
            "lm_eval_version": record["versions"]["lm_eval"], "elapsed_s": elapsed,
            "provenance": record,
        },
        "lm_eval.json": {**out["lm_eval"], "provenance": record},
    }


# --------------------------------------------------------------------------- argument parsers

PRUNE_EXAMPLE = """example:
  prunebench prune resources/models/tiny --method depth_ppl --size 0.8 --out pruned/tiny-ppl \\
      --calibration embedded --param protect_first=1
  prunebench prune hf:huggyllama/llama-7b@4782ad27 --method flap --size 4.9B --out pruned/flap

writes OUT/checkpoint/ (the pruned model) and OUT/prune_report.json, as the workflow's
results/pruned/<model>/<variant>/. Sizes: 4.9B / 350M (parameters kept) or 0.8 (kept fraction).
Calibration defaults to the method original's data (wikitext2, bookcorpus, c4: hub datasets);
`embedded` is the pipeline's own text and needs no network."""

BENCH_EXAMPLE = """example:
  prunebench bench pruned/tiny-ppl --tokens 12x128 --batch 1,8,64 --backend hf

prints latency, throughput, CV and flags per batch size, and writes the workflow's benchmark
JSON (default: ./bench-<model>-<variant>-<backend>-<in>x<out>.json). Defaults are the
workflow's: 10 warm-up and 20 timed runs, adaptive up to 50 or 30 s per batch size."""

EVAL_EXAMPLE = """example:
  prunebench eval pruned/tiny-ppl --ppl embedded --tasks pb_agreement,pb_number --limit 50
  prunebench eval hf:huggyllama/llama-7b@4782ad27 --ppl wikitext2,ptb --tasks arc_easy,piqa

writes ppl.json and/or zeroshot.json + lm_eval.json into --out (default
./eval-<model>-<variant>/), as the workflow's results/eval/<model>/<variant>/. `embedded` and
the pb_* tasks (pb_agreement, pb_number, pb_counting, pb_continuation) are made offline from
the pipeline's own text; wikitext2, ptb and lm-eval's tasks need their hub datasets."""


def _common(parser, model_help: str) -> None:
    parser.add_argument("model", metavar="MODEL", help=model_help)
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda:N")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing output (only once the new one is complete)")
    parser.add_argument("--cache-dir", default=None,
                        help="where hf: models are downloaded (default "
                             "$PRUNEBENCH_CACHE_DIR/models or ~/.cache/prunebench/models)")
    parser.add_argument("--trust-remote-code", action="store_true",
                        help="let a tokenizer run code shipped with it (review it first)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")


def add_parsers(sub) -> None:
    """The three subcommands on `prunebench`'s subparsers."""
    model_help = ("checkpoint directory, `prunebench prune` output folder, or "
                  "hf:<org>/<repo>@<revision>")
    formatter = argparse.RawDescriptionHelpFormatter
    prune = sub.add_parser("prune", help="prune one checkpoint to one size",
                           epilog=PRUNE_EXAMPLE, formatter_class=formatter,
                           description="Prune MODEL with one method to one size, as a workflow "
                                       "prune cell does.")
    _common(prune, "checkpoint directory or hf:<org>/<repo>@<revision>")
    prune.add_argument("--method", required=True, help="pruning method (prunebench.methods.registry)")
    prune.add_argument("--size", required=True, help="target: 4.9B, 350M, or a kept fraction 0.8")
    prune.add_argument("--out", required=True, help="output folder")
    prune.add_argument("--calibration", dest="source", default=None,
                       help="embedded, wikitext2, ptb, bookcorpus or c4 (default: the method's)")
    prune.add_argument("--n", type=int, default=None, help="calibration windows")
    prune.add_argument("--length", type=int, default=None, help="tokens per window")
    prune.add_argument("--seed", type=int, default=None, help="calibration seed (default 1234)")
    prune.add_argument("--sampling", default=None, help="how windows are drawn (config/README.md)")
    prune.add_argument("--param", action="append", metavar="K=V",
                       help="method parameter, repeatable (numbers and true/false are parsed)")
    prune.set_defaults(run=prune_command)

    bench = sub.add_parser("bench", help="benchmark generation over batch sizes",
                           epilog=BENCH_EXAMPLE, formatter_class=formatter,
                           description="Time generation of MODEL over batch sizes, as a workflow "
                                       "benchmark cell does.")
    _common(bench, model_help)
    bench.add_argument("--tokens", required=True, help="<input>x<output> tokens, e.g. 12x128")
    bench.add_argument("--batch", default=None,
                       help="batch sizes, e.g. 1,8,64 (default 1,8,16,32,64,128,256; the sweep "
                            "stops at the first out-of-memory)")
    bench.add_argument("--backend", default="hf", help="hf (HF generate) or compiled")
    bench.add_argument("--out", default=None, help="JSON file to write")
    d = BENCH_DEFAULTS
    bench.add_argument("--warmup", type=int, default=d["warmup"])
    bench.add_argument("--repeats", type=int, default=d["repeats"])
    bench.add_argument("--max-repeats", type=int, default=d["max_repeats"])
    bench.add_argument("--max-seconds", type=float, default=d["max_seconds"])
    bench.add_argument("--ci-target", type=float, default=d["ci_target"])
    bench.add_argument("--dtype", default=d["dtype"], help=", ".join(BENCH_DTYPES))
    bench.add_argument("--attention", default=d["attention"], help=", ".join(ATTENTIONS))
    bench.add_argument("--compile-mode", default=d["compile_mode"], help=", ".join(COMPILE_MODES))
    bench.add_argument("--seed", type=int, default=d["seed"])
    bench.add_argument("--sampling", action="store_true",
                       help="hf backend: sample (top-k 50, top-p 0.95) as the study did")
    bench.set_defaults(run=bench_command)

    evaluate = sub.add_parser("eval", help="perplexity and zero-shot accuracy",
                              epilog=EVAL_EXAMPLE, formatter_class=formatter,
                              description="Evaluate MODEL as the workflow's perplexity and "
                                          "zero-shot cells do.")
    _common(evaluate, model_help)
    evaluate.add_argument("--ppl", default=None, help="datasets: embedded, wikitext2, ptb")
    evaluate.add_argument("--tasks", default=None, help="lm-eval tasks, comma-separated")
    evaluate.add_argument("--out", default=None, help="output folder")
    p, z = PPL_DEFAULTS, ZEROSHOT_DEFAULTS
    evaluate.add_argument("--window", type=int, default=p["window"])
    evaluate.add_argument("--stride", type=int, default=p["stride"])
    evaluate.add_argument("--bos", default=p["bos"], help="first or window")
    evaluate.add_argument("--max-windows", type=int, default=p["max_windows"])
    evaluate.add_argument("--batch-size", type=int, default=None,
                          help=f"default {p['batch_size']} (perplexity), {z['batch_size']} (tasks)")
    evaluate.add_argument("--num-fewshot", type=int, default=z["num_fewshot"])
    evaluate.add_argument("--limit", type=_limit, default=z["limit"],
                          help="first N documents per task (< 1: that fraction)")
    evaluate.add_argument("--zeroshot-seed", type=int, default=z["seed"])
    evaluate.add_argument("--add-bos-token", action=argparse.BooleanOptionalAction,
                          default=z["add_bos_token"], help="start every context with BOS")
    evaluate.set_defaults(run=eval_command)


class _Stderr(logging.StreamHandler):
    """Writes to the sys.stderr of the moment (not the one at creation), so in-process callers
    that swap it (tests) see the lines."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def setup_logging(quiet: bool) -> None:
    """Progress lines of the library (prunebench.*) on stderr, once per process."""
    logger = logging.getLogger("prunebench")
    if not any(isinstance(h, _Stderr) for h in logger.handlers):
        handler = _Stderr()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
