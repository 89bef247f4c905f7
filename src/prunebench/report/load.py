"""Reading the per-cell result files into data frames, checked, in one order.

Inputs are the JSON files the prune, benchmark (and paired_benchmark) and evaluate rules write (schemas in
docs/architecture.md). The aggregate script passes the exact list of files it expects, so a
missing or unreadable file is an error that names it and how to make it, never a silent gap
in a table.

Ordering everywhere: models and backends in the order their files were given (the config's
order), each model's dense variant first and its others in the order given, token configs as in
the study's figure (12x128, 82x128, 12x512, 82x512: output tokens, then input tokens), batch
sizes ascending.

Each loader warns when its files were made by different code (their provenance's code hash):
the tables would then set side by side numbers that different code made. `load_bench` also
warns when the variants of one model, backend and token config were timed on different devices,
in different dtypes or with different decoding: their speed-ups over dense would measure that
difference too.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from prunebench import PrunebenchError
from prunebench.atomic import read_json
from prunebench.benchmark.timing import TREND_ALPHA
from prunebench.plan import layout

log = logging.getLogger(__name__)

DENSE = "dense"
OK, OOM = "ok", "oom"

_BENCH_REQUIRED = ("model", "variant", "backend", "input_tokens", "output_tokens", "rows")
_BENCH_METRICS = ("latency_s_mean", "latency_s_min", "latency_s_median", "throughput_tok_s",
                  "peak_memory_bytes")
# Noise fields of a row (prunebench.benchmark.timing). Files written before they existed lack them:
# such rows read as NaN here rather than failing, and the figure draws them as stable. A row
# timed once records no spread (latency_s_std null; 0.0 in files made before that was so).
_BENCH_NOISE = ("latency_s_std", "latency_s_p90", "latency_s_cv", "latency_s_ci95_low",
                "latency_s_ci95_high", "latency_s_ci95_rel", "runs", "throughput_mean_of_rates",
                "decode_step_s_p50", "decode_step_s_p90", "latency_s_trend", "latency_s_trend_p",
                "latency_s_lag1_autocorr", "latency_s_ci95_rel_ar1")
_BENCH_KEY = ["model", "variant", "backend", "input_tokens", "output_tokens", "batch_size"]
CELL = ["model", "backend", "input_tokens", "output_tokens"]
# The config of the run a suggested command must repeat: without it Snakemake reads the
# default config, whose models may not include the file's.
THIS_RUN = "--configfile <this run's config files>"
# ... and the files of a rerun the reader names (those a warning lists).
THOSE = "<those files>"
# What a speed-up over dense assumes both timings shared, besides the cell (column: what it is).
TIMED_WITH = {"device_name": "devices", "dtype": "dtypes", "sampling": "decoding settings",
              "cpu_threads": "CPU thread counts", "software": "torch / transformers versions",
              "driver_version": "GPU drivers"}
# The same settings as one word each, as the speed table's `unlike_dense` and the paired
# table's `separate_timed_unlike` name what differed.
UNLIKE_NAMES = {"device_name": "device", "dtype": "dtype", "sampling": "decoding",
                "cpu_threads": "threads", "software": "versions", "driver_version": "driver"}
_REPORT_REQUIRED = ("model", "variant", "method", "params_before", "params_after",
                    "blocks_before", "blocks_after")

# Sections an eval file may hold: JSON key -> column prefix. A new evaluation kind is one entry
# here (a `{name: value}` dict), plus, if it has one, its scalar summary in _EVAL_SCALARS.
_EVAL_SECTIONS = {"perplexity": "ppl", "accuracy": "acc"}
_EVAL_SCALARS = {"average": "acc_average"}
# The zero-shot average's standard error (average_stderr), after the average.
AVERAGE_STDERR = "acc_average_stderr"


# ---------------------------------------------------------------------------------------------
# Loading


def _remake_hint(path: Path, rule: str, force: bool) -> str:
    """The command that remakes `path`, with this run's arguments to repeat (_rerun_command:
    its --directory, --configfile and --config in a run, THIS_RUN asking the reader for them
    outside one, where the loaders cannot know them): without them a run of another config
    finds no rule for the file, or remakes it with the default config's settings."""
    command = _rerun_command(*(["-f"] if force else []), str(path))
    return f"rerun `{command}` (made by the {rule} rule)"


def _rerun_command(*words: str, cores: str | int = "all", fill_in: str = "") -> str:
    """`snakemake --cores <cores> <words> <fill_in>` and this run's arguments to repeat (its
    --directory, --configfile and --config, which the workflow passes through the environment
    to the aggregation), with Snakemake named as the run was started (layout.command_line);
    THIS_RUN, which tells the reader to add them, where they are not known (the loaders called
    outside a run)."""
    run = os.environ.get(layout.RERUN_CONFIG_VARIABLE)
    return layout.command_line(*words, run_arguments=THIS_RUN if run is None else run,
                               cores=cores, fill_in=fill_in)


def _read(path: str | os.PathLike, rule: str, required: Iterable[str]) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise PrunebenchError(f"missing result file {path}: {_remake_hint(path, rule, False)}")
    try:
        data = read_json(path)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PrunebenchError(
            f"result file {path} is not valid JSON ({exc}): {_remake_hint(path, rule, True)}"
        ) from exc
    missing = [key for key in required if not isinstance(data, dict) or key not in data]
    if missing:
        raise PrunebenchError(
            f"result file {path} lacks {missing}: it is stale or from another tool; "
            f"{_remake_hint(path, rule, True)}")
    return data


def _provenance(data: dict[str, Any]) -> dict[str, Any]:
    """A result file's provenance block; {} where it has none."""
    provenance = data.get("provenance")
    return provenance if isinstance(provenance, dict) else {}


def _code(data: dict[str, Any]) -> dict[str, Any]:
    """A file's provenance `code` block; {} for files written before it was recorded."""
    code = _provenance(data).get("code")
    return code if isinstance(code, dict) and code.get("hash") else {}


def _code_name(code: dict[str, Any], current: str) -> str:
    if not code:
        return "unknown code (written before prunebench recorded it)"
    commit = f"commit {code['commit'][:10]}" if code.get("commit") else "no git commit"
    changes = " with uncommitted changes" if code.get("dirty") else ""
    mine = ", this checkout's" if code["hash"] == current else ""
    return f"code {code['hash'][:12]} ({commit}{changes}{mine})"


def mixed_code(what: str, cells: list[tuple[Path, str, dict[str, Any]]]) -> str | None:
    """A warning when `cells` ((file, the rule that makes it, its `_code`)) were made by more
    than one code hash, naming how many cells each made and how to rebuild the cells that this
    checkout's code did not make (docs/results.md, "Rerunning one cell"); None when all agree."""
    groups: dict[str | None, list[tuple[Path, str, dict[str, Any]]]] = {}
    for cell in cells:
        groups.setdefault(cell[2].get("hash"), []).append(cell)
    if len(groups) < 2:
        return None
    from prunebench.provenance import code_identity  # imports torch: only when it is needed

    current = code_identity()["hash"]
    counts = "; ".join(f"{len(group)} by {_code_name(group[0][2], current)}"
                       for group in groups.values())
    stale = [(path, rule) for path, rule, code in cells if code.get("hash") != current]
    files = ", ".join(str(path) for path, _ in stale[:3]) + \
        (f" and {len(stale) - 3} more" if len(stale) > 3 else "")
    rules = appearance(rule for _, rule in stale)
    return (f"the {what} files were made by different code ({counts}), so the tables compare "
            f"numbers that different code made. Rebuild the {len(stale)} not made by this "
            f"checkout's code ({files}) with `{_rerun_command('-f', fill_in=THOSE)}`, or "
            f"every cell of their rules with `{_rerun_command('--forcerun', *rules)}`, or "
            f"delete them; then run `{_rerun_command()}`")


def _warn_mixed_code(what: str, cells: list[tuple[Path, str, dict[str, Any]]]) -> None:
    message = mixed_code(what, cells)
    if message:
        log.warning(message)


def _as_paths(paths: Iterable[str | os.PathLike], what: str, allow_empty: bool) -> list[Path]:
    if isinstance(paths, (str, os.PathLike)):  # a lone path would otherwise iterate by character
        paths = [paths]
    paths = [Path(p) for p in paths]
    if not paths and not allow_empty:
        raise PrunebenchError(f"no {what} files given: the aggregate rule must list at least one")
    return paths


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Scalars kept, nested dicts joined with '_' (e.g. a `floor` block), lists dropped."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}_"))
        elif value is None or isinstance(value, (str, int, float, bool)):
            flat[name] = value
    return flat


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)


def _is_number_or_infinity(value: Any) -> bool:
    return _is_number(value) or (isinstance(value, float) and value == np.inf)


def _reject_duplicates(df: pd.DataFrame, key: list[str], what: str) -> None:
    dup = df[df.duplicated(key, keep=False)]
    if not dup.empty:
        first = dup.iloc[0]
        files = sorted(set(dup.loc[(dup[key] == first[key]).all(axis=1), "source"]))
        raise PrunebenchError(
            f"{what} for {dict(first[key])} appears more than once (in {files}): "
            "list each result file once in the aggregate inputs")


def load_bench(paths: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """One row per model, variant, backend, token config and batch size.

    OOM rows are kept (status "oom", metrics NaN). Extra scalar fields of a file or row
    (dtype, attention, ttft_s, floor fields, ...) are carried through as columns.
    """
    records, cells = [], []
    for path in _as_paths(paths, "bench", allow_empty=False):
        data = _read(path, "benchmark", _BENCH_REQUIRED)
        cells.append((path, "benchmark", _code(data)))
        rows = data["rows"]
        if not isinstance(rows, list) or not rows:
            raise PrunebenchError(f"bench file {path} has no rows: "
                                  f"{_remake_hint(path, 'benchmark', True)}")
        bad = [k for k in ("input_tokens", "output_tokens")
               if not isinstance(data[k], int) or data[k] < 1]
        if bad:
            raise PrunebenchError(f"bench file {path}: {bad} must be positive integers; "
                                  f"{_remake_hint(path, 'benchmark', True)}")
        # The file's compile_s is the sum over its rows: each row keeps its own (none if OOM).
        head = {k: v for k, v in data.items() if k not in ("rows", "provenance", "compile_s")
                and (v is None or isinstance(v, (str, int, float, bool)))}
        head.update(timing_setup(data))
        head["batch_sizes_swept"] = swept(data)
        for i, row in enumerate(rows):
            records.append({**head, **_bench_row(path, i, row), "source": str(path)})
    df = pd.DataFrame.from_records(records)
    # Whole numbers, <NA> where not recorded (GPU files, older files): not 2.0 beside a gap.
    if "cpu_threads" in df:
        df["cpu_threads"] = df["cpu_threads"].astype("Int64")
    _reject_duplicates(df, _BENCH_KEY, "a bench row")
    _warn_mixed_code("bench", cells)
    for message in mixed_timing(df):
        log.warning(message)
    for column in _BENCH_METRICS + _BENCH_NOISE:
        df[column] = pd.to_numeric(df.get(column, pd.Series(np.nan, index=df.index)),
                                   errors="coerce")
    df["runs"] = df["runs"].astype("Int64")
    # True / False, or <NA> where not measured (OOM rows, files older than the flag).
    df["unstable"] = df.get("unstable", pd.Series(pd.NA, index=df.index)).astype("boolean")
    # True / False; <NA> below the runs a trend is tested on, and in files older than the flag.
    df["drifting_row"] = df.get("drifting", pd.Series(pd.NA, index=df.index)).astype("boolean")
    df["latency_s_trend_p_holm"] = _holm_per_cell(df)
    # Drifting only where the cell's tests taken together say so: each row's own test takes 5%
    # false alarms, and a cell of seven batch sizes then had about one chance in four of a row
    # flagged by chance alone (docs/benchmarks.md, "Drift").
    # (Untested rows stay <NA>; a file without p-values keeps its rows' own flags.)
    tested = df["drifting_row"].notna() & df["latency_s_trend_p_holm"].notna()
    df["drifting"] = df["drifting_row"].copy()
    df.loc[tested, "drifting"] = (df.loc[tested, "drifting_row"]
                                  & (df.loc[tested, "latency_s_trend_p_holm"] < TREND_ALPHA))
    # Other work measured beside the row (prunebench.benchmark.interference); <NA> where not recorded.
    df["contended"] = df.get("interference_competition",
                             pd.Series(pd.NA, index=df.index)).astype("boolean")
    # Why a compiled decode step ran eagerly instead (prunebench.benchmark.runners.CompiledRunner
    # records it on every row after a failed capture or compile): those timings are not the
    # compiled backend's. <NA> where nothing fell back (and in files without the field).
    fallback = df.get("decode_fallback", pd.Series(pd.NA, index=df.index))
    df["decode_fallback"] = fallback.where(fallback.map(nonempty_text), pd.NA).astype(object)
    # Graphs dynamo compiled inside the row's timed runs (benchmark.run); <NA> where not
    # recorded (OOM rows, older files).
    df["graphs_compiled_while_timed"] = whole_counts(df, "graphs_compiled_while_timed")
    df.insert(df.columns.get_loc("output_tokens") + 1, "tokens", token_label(df))
    return sort_rows(df)


def timing_setup(data: dict[str, Any]) -> dict[str, Any]:
    """What a bench or paired file was timed with besides its cell (TIMED_WITH's columns)."""
    return {"device_name": device_name(data), "sampling": sampling_label(data),
            "cpu_threads": cpu_threads(data), "software": software(data),
            "driver_version": driver_version(data)}


def swept(data: dict[str, Any]) -> str | None:
    """The batch sizes a bench file's sweep was asked for ("1,8,16"; the rows stop at the first
    out of memory), or None where it does not say."""
    sizes = data.get("batch_sizes")
    if not isinstance(sizes, list) or not all(isinstance(b, int) for b in sizes):
        return None
    return ",".join(str(b) for b in sizes)


def software(data: dict[str, Any]) -> str | None:
    """The torch and transformers a file was timed with ("torch 2.11.0+cu128, transformers
    5.17.0"; torch's version names its CUDA build): a cell rerun after an upgrade times other
    kernels than its dense file did. None where the file does not say."""
    versions = _provenance(data).get("versions")
    if not isinstance(versions, dict) or not versions.get("torch"):
        return None
    return ", ".join(f"{name} {versions[name]}" for name in ("torch", "transformers")
                     if versions.get(name))


def driver_version(data: dict[str, Any]) -> str | None:
    """The NVIDIA driver a GPU-timed file ran on; None on a CPU and where the file does not
    say."""
    version = _provenance(data).get("driver_version")
    return str(version) if version else None


def device_name(data: dict[str, Any]) -> str | None:
    """What a bench file was timed on, from its provenance: the GPU's name, or on CPU the
    processor's model name; None where the file does not say. Files older than `cpu_model`
    recorded only the architecture ("x86_64" on every Linux PC), which tells no two machines
    apart: they are left out of the comparison rather than all taken for one machine."""
    provenance = _provenance(data)
    if provenance.get("gpu_name"):
        return str(provenance["gpu_name"])
    device = str(provenance.get("device") or data.get("device") or "")
    if device.startswith("cpu") and provenance.get("cpu_model"):
        return f"CPU {provenance['cpu_model']}"
    return None


def cpu_threads(data: dict[str, Any]) -> int | None:
    """The threads torch ran a CPU-timed bench file with (a benchmark job gets the run's
    --cores: a cell rerun with fewer is not timed like its dense file); None on a GPU, where
    they hardly matter, and where the file does not say."""
    provenance = _provenance(data)
    threads = provenance.get("torch_threads")
    on_cpu = str(provenance.get("device") or data.get("device") or "").startswith("cpu")
    return threads if on_cpu and isinstance(threads, int) else None


def sampling_label(data: dict[str, Any]) -> str | None:
    """How a bench file decoded: "greedy", or its sampling settings ("top_k=50 top_p=0.95
    temperature=1.0"); None in files older than the field."""
    if "sampling" not in data:
        return None
    sampling = data["sampling"]
    if not sampling:
        return "greedy"
    if isinstance(sampling, dict):
        return " ".join(f"{k}={v}" for k, v in sampling.items())
    return str(sampling)


def mixed_timing(df: pd.DataFrame) -> list[str]:
    """One warning per model, backend and token config whose variants were timed on different
    devices, in different dtypes or with different decoding (TIMED_WITH), naming the files on
    each side and how to redo those that differ from the dense file; a file that does not
    record a setting is left out of its comparison."""
    messages = []
    files = df.drop_duplicates("source")
    for cell, group in files.groupby(CELL, sort=False):
        for column, what in TIMED_WITH.items():
            if column not in group:
                continue
            known = group[group[column].notna()]
            values = appearance(known[column])
            if len(values) < 2:
                continue
            dense = known.loc[known["variant"] == DENSE, column]
            # Without the dense file's value (it does not record it), the first one stands in,
            # and the message says so rather than call it the dense file's.
            reference = dense.iloc[0] if len(dense) else values[0]
            whose = ("the dense file's" if len(dense) else
                     f"the first variant's (the dense file does not record its {what})")
            sides = "; ".join(
                f"{value} for {', '.join(known.loc[known[column] == value, 'variant'])}"
                for value in values)
            odd = list(known.loc[known[column] != reference, "source"])
            model, backend, lin, lout = cell
            # A benchmark job gets the run's --cores as its threads.
            cores = reference if column == "cpu_threads" else "all"
            messages.append(
                f"the bench files of {model} ({backend}, {lin}x{lout}) were timed with different "
                f"{what} ({sides}), so their speed-ups over dense measure that difference too. "
                f"Rebuild the {len(odd)} not timed with {whose} {reference} "
                f"({', '.join(odd)}) with it, by "
                f"`{_rerun_command('-f', cores=cores, fill_in=THOSE)}`, "
                f"then run `{_rerun_command()}`")
    return messages


def _bench_row(path: Path, i: int, row: Any) -> dict[str, Any]:
    where = f"bench file {path}, row {i}"
    fix = _remake_hint(path, "benchmark", True)
    if not isinstance(row, dict) or not isinstance(row.get("batch_size"), int) \
            or row["batch_size"] < 1:
        raise PrunebenchError(f"{where}: needs a positive integer batch_size; {fix}")
    status = row.get("status")
    if status not in (OK, OOM):
        raise PrunebenchError(f"{where}: status {status!r} is neither 'ok' nor 'oom'; {fix}")
    flat = _flatten(row)
    if status == OOM:  # whatever an OOM row recorded is not a measurement
        flat.update({metric: None for metric in
                     _BENCH_METRICS + _BENCH_NOISE + ("unstable", "drifting",
                                                      "interference_competition")})
        return flat
    bad = [m for m in _BENCH_METRICS if not _is_number(row.get(m))]
    if bad:
        raise PrunebenchError(f"{where}: an 'ok' row needs finite numbers for {bad}; {fix}")
    return flat


_PAIRED_METRICS = ("latency_speedup", "latency_speedup_ci95_low", "latency_speedup_ci95_high",
            "unpaired_speedup", "unpaired_speedup_ci95_low", "unpaired_speedup_ci95_high",
            "dense_latency_s_mean", "variant_latency_s_mean")


def load_paired(paths: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """One row per model, variant, backend, token config and batch size of the paired files
    (results/paired/..., prunebench.benchmark.paired); OOM rows kept with NaN metrics. An empty
    list gives an empty frame with the columns the paired table reads (paired timing off)."""
    records, cells = [], []
    for path in _as_paths(paths, "paired", allow_empty=True):
        data = _read(path, "paired_benchmark", _BENCH_REQUIRED)
        cells.append((path, "paired_benchmark", _code(data)))
        fix = _remake_hint(path, "paired_benchmark", True)
        if not isinstance(data["rows"], list) or not data["rows"]:
            raise PrunebenchError(f"paired file {path} has no rows: {fix}")
        head = {k: v for k, v in data.items() if k not in ("rows", "provenance", "timing")
                and (v is None or isinstance(v, (str, int, float, bool)))}
        head.update(timing_setup(data))
        for i, row in enumerate(data["rows"]):
            records.append({**head, **_paired_row(path, i, row, fix), "source": str(path)})
    if not records:  # paired timing off: no rows, every column the table reads
        return pd.DataFrame(columns=_BENCH_KEY + ["tokens", "status", "pairs", "contended",
                                           "decode_fallback", "graphs_compiled_while_timed"]
                            + list(_PAIRED_METRICS))
    df = pd.DataFrame.from_records(records)
    _reject_duplicates(df, _BENCH_KEY, "a paired row")
    _warn_mixed_code("paired", cells)
    for column in _PAIRED_METRICS:
        df[column] = pd.to_numeric(df.get(column, pd.Series(np.nan, index=df.index)),
                                   errors="coerce")
    df["pairs"] = pd.to_numeric(df.get("pairs"), errors="coerce").astype("Int64")
    df["cpu_threads"] = df["cpu_threads"].astype("Int64")  # as load_bench's, to compare
    df["contended"] = df.get("interference_competition",
                             pd.Series(pd.NA, index=df.index)).astype("boolean")
    # Why a compiled decode step ran eagerly, per side ("variant: ..."); <NA> where neither did.
    sides = [c for c in df.columns if c.startswith("decode_fallback_")]
    df["decode_fallback"] = pd.Series(
        [", ".join(f"{c.removeprefix('decode_fallback_')}: {r[c]}" for c in sides
                   if nonempty_text(r[c])) or pd.NA for r in df[sides].to_dict("records")],
        index=df.index, dtype=object)
    df["graphs_compiled_while_timed"] = whole_counts(df, "graphs_compiled_while_timed")
    df.insert(df.columns.get_loc("output_tokens") + 1, "tokens", token_label(df))
    return sort_rows(df)


def _paired_row(path: Path, i: int, row: Any, fix: str) -> dict[str, Any]:
    where = f"paired file {path}, row {i}"
    if not isinstance(row, dict) or not isinstance(row.get("batch_size"), int) \
            or row["batch_size"] < 1:
        raise PrunebenchError(f"{where}: needs a positive integer batch_size; {fix}")
    if row.get("status") not in (OK, OOM):
        raise PrunebenchError(f"{where}: status {row.get('status')!r} is neither 'ok' nor "
                              f"'oom'; {fix}")
    flat = _flatten({k: v for k, v in row.items() if not k.endswith("latencies_s")})
    if row["status"] == OOM:  # nothing measured, no pairs timed
        flat.update({metric: None for metric in _PAIRED_METRICS + ("interference_competition",
                                                            "pairs")})
    elif not all(isinstance(row.get(m), (int, float)) and np.isfinite(row[m])
                 for m in ("latency_speedup", "dense_latency_s_mean", "variant_latency_s_mean")):
        raise PrunebenchError(f"{where}: an 'ok' row needs finite numbers for its speed-up and "
                              f"both mean latencies; {fix}")
    return flat


def load_prune_reports(paths: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """One row per model and variant: method, target, params and blocks before/after, ..."""
    records, cells = [], []
    for path in _as_paths(paths, "prune report", allow_empty=False):
        data = _read(path, "prune", _REPORT_REQUIRED)
        cells.append((path, _report_rule(data["variant"]), _code(data)))
        head = {k: v for k, v in data.items() if k != "method_report" and k != "provenance"
                and (v is None or isinstance(v, (str, int, float, bool)))}
        records.append({**head, "source": str(path)})
    df = pd.DataFrame.from_records(records)
    _reject_duplicates(df, ["model", "variant"], "a prune report")
    _warn_mixed_code("prune report", cells)
    return sort_rows(df)


def _report_rule(variant: str) -> str:
    """The rule that writes a variant's prune_report.json (workflow/rules/)."""
    if variant.endswith("+lora"):
        return "lora"
    return "dense_report" if variant == DENSE else "prune"


def load_evals(paths: Iterable[str | os.PathLike],
               expect: dict[str, Iterable[str]] | None = None) -> pd.DataFrame:
    """One row per model and variant; `ppl_<dataset>`, `acc_<task>`, `acc_average` columns.

    Several files of one model and variant (ppl.json, zeroshot.json) merge into one row.
    A cell missing inside a file is an error, never a silent NaN: every file holding a section
    must name the same datasets / tasks as the others, and with `expect` ({section: names},
    from the config) every model and variant must have every expected name.
    """
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    names: dict[str, dict[Path, list[str]]] = {section: {} for section in _EVAL_SECTIONS}
    cells = []
    precisions = []
    protocols: dict[tuple[str, str], dict[str, Any]] = {}
    for path in _as_paths(paths, "eval", allow_empty=True):
        rule = _eval_rule(path)
        data = _read(path, rule, ("model", "variant"))
        cells.append((path, rule, _code(data)))
        precisions.append((data["model"], rule, data["variant"], _eval_dtype(data), path))
        values = {}
        for section, prefix in _EVAL_SECTIONS.items():
            block = data.get(section)
            if block is None:
                continue
            # A model that diverges on a text has an infinite perplexity (prunebench.evaluate
            # records it so, with a warning): a result, not a damaged file.
            allowed = _is_number if section != "perplexity" else _is_number_or_infinity
            if not isinstance(block, dict) or not all(allowed(v) for v in block.values()):
                what = ("finite numbers" if section != "perplexity"
                        else "numbers (Infinity for a model that diverges)")
                raise PrunebenchError(f"eval file {path}: '{section}' must map names to {what}; "
                                      f"{_remake_hint(path, rule, True)}")
            names[section][path] = list(block)
            values.update({f"{prefix}_{name}": float(v) for name, v in block.items()})
        for key, column in _EVAL_SCALARS.items():
            if _is_number(data.get(key)):
                values[column] = float(data[key])
        spread = average_stderr(data, path)
        if spread is not None and "acc_average" in values:
            values[AVERAGE_STDERR] = spread
        if not values:
            raise PrunebenchError(
                f"eval file {path} holds none of {sorted(_EVAL_SECTIONS)}: "
                f"{_remake_hint(path, rule, True)}")
        row = merged.setdefault((data["model"], data["variant"]),
                                {"model": data["model"], "variant": data["variant"]})
        clash = sorted(set(values) & set(row))
        if clash:
            raise PrunebenchError(
                f"eval file {path} repeats {clash} for {data['model']}/{data['variant']}: "
                "list each eval file once in the aggregate inputs")
        row.update(values)
        protocols.setdefault((data["model"], data["variant"]), {}).update(_protocol(data, rule))
    _check_eval_cells(names, merged, expect or {})
    _warn_mixed_code("eval", cells)
    for message in mixed_precision(precisions):
        log.warning(message)
    df = pd.DataFrame.from_records(list(merged.values()), columns=None if merged else
                                   ["model", "variant"])
    df = sort_rows(df[_eval_column_order(df.columns)])
    # How each number was measured, for the comparison with published ones (not a column:
    # quality_table carries it on, tables.published_vs_reproduced reads it).
    df.attrs["protocols"] = protocols
    return df


def average_stderr(data: dict[str, Any], path: str | os.PathLike = "") -> float | None:
    """The standard error of a zero-shot file's `average` (the mean of its tasks' summary
    metrics), from lm-eval's per-task standard errors, the tasks' documents being independent:
    sqrt(sum of their squares) / number of tasks. None where a task's is missing (files made
    before `metrics` was recorded; a metric lm-eval gives none for, which is logged, naming
    the task, as the file `path`'s)."""
    accuracy, metric, metrics = (data.get(k) for k in ("accuracy", "metric", "metrics"))
    if not all(isinstance(d, dict) for d in (accuracy, metric, metrics)) or not accuracy:
        return None
    errors = []
    for task in accuracy:
        value = (metrics.get(task) or {}).get(f"{metric.get(task)}_stderr")
        if not _is_number(value):
            log.info("%s: task %s has no standard error of its %s (lm-eval gave %r): the "
                     "zero-shot average is shown without one", path or "a zero-shot file",
                     task, metric.get(task), value)
            return None
        errors.append(float(value))
    return math.sqrt(sum(e * e for e in errors)) / len(errors)


def _protocol(data: dict[str, Any], rule: str) -> dict[str, Any]:
    """How an eval file's numbers were measured: the model's source, and per section the
    settings a published number must share to be compared with them (None where the file
    does not record one)."""
    provenance = _provenance(data)
    cell = provenance.get("cell") if isinstance(provenance.get("cell"), dict) else {}
    out: dict[str, Any] = {"source": cell.get("source")}
    if rule == "perplexity":
        out["ppl"] = {"window": data.get("window"), "stride": data.get("stride"),
                      "bos": data.get("bos"), "max_windows": cell.get("max_windows"),
                      # files made before the setting existed were tokenized by the tokenizer
                      "tokenization": data.get("tokenization") or "tokenizer",
                      "dtype": _eval_dtype(data)}
    else:
        out["acc"] = {key: data.get(key) for key in
                      ("tasks", "metric", "num_fewshot", "limit", "add_bos_token")}
        out["acc"]["dtype"] = _eval_dtype(data)  # the model's (None: not recorded)
        # files made before it was recorded took lm-eval's log-softmax in the model's dtype
        # (transformers 5 returns a float16 model's logits in float16); files older still
        # record no dtype either, and ran in float32 (the only precision then)
        out["acc"]["log_softmax_dtype"] = (data.get("log_softmax_dtype") or data.get("dtype")
                                           or "float32")
        # files made before the setting existed were tokenized by the tokenizer
        out["acc"]["tokenization"] = data.get("tokenization") or "tokenizer"
    return out


_EVAL_FILES = {"perplexity": (layout.PPL, "perplexity"), "accuracy": (layout.ZEROSHOT, "zeroshot")}


_RULE_OF_FILE = {Path(pattern).name: rule for pattern, rule in _EVAL_FILES.values()}


def _eval_rule(path: Path) -> str:
    return _RULE_OF_FILE.get(Path(path).name, "zeroshot")


def _eval_dtype(data: dict[str, Any]) -> str | None:
    """The precision an eval file's model ran in (ppl.json per dataset, zeroshot.json once);
    None where the file does not record it (files made before it was recorded)."""
    if isinstance(data.get("details"), dict):
        found = {d.get("dtype") for d in data["details"].values() if isinstance(d, dict)}
        return ", ".join(sorted(found)) if found and None not in found else None
    return data.get("dtype") if isinstance(data.get("dtype"), str) else None


def mixed_precision(files: list[tuple[str, str, str, str | None, Path]]) -> list[str]:
    """One warning per model and evaluation (perplexity, zeroshot) whose variants ran in
    different precisions ((model, rule, variant, dtype, path) per file): `dtype: auto` on
    nodes with and without a GPU, say. Their differences then include the precision's."""
    messages = []
    groups: dict[tuple[str, str], list[tuple[str, str, Path]]] = {}
    for model, rule, variant, dtype, path in files:
        if dtype is not None:
            groups.setdefault((model, rule), []).append((variant, dtype, path))
    for (model, rule), group in groups.items():
        values = appearance(dtype for _, dtype, _ in group)
        if len(values) < 2:
            continue
        sides = "; ".join(f"{value} for {', '.join(v for v, d, _ in group if d == value)}"
                          for value in values)
        messages.append(
            f"the {rule} files of {model} ran the model in different precisions ({sides}), so "
            f"their differences include the precision's. Set evaluation.{rule}.dtype to one "
            "dtype (`auto` follows each job's device), then rerun them: "
            f"`{layout.remake_command('-R', rule)}`")
    return messages


def _check_eval_cells(names: dict[str, dict[Path, list[str]]],
                      merged: dict[tuple[str, str], dict[str, Any]],
                      expect: dict[str, Iterable[str]]) -> None:
    for section, per_file in names.items():
        union = appearance(n for listed in per_file.values() for n in listed)
        for path, listed in per_file.items():
            lacking = [n for n in union if n not in listed]
            if lacking:
                raise PrunebenchError(
                    f"eval file {path} lacks {section} for {lacking}, which other variants "
                    f"have: {_remake_hint(path, _eval_rule(path), True)}")
    unknown = sorted(set(expect) - set(_EVAL_SECTIONS))
    if unknown:
        raise PrunebenchError(f"expected eval sections {unknown} do not exist: use "
                              f"{sorted(_EVAL_SECTIONS)}")
    for (model, variant), row in merged.items():
        for section, wanted in expect.items():
            lacking = [n for n in wanted if f"{_EVAL_SECTIONS[section]}_{n}" not in row]
            if lacking:
                pattern, rule = _EVAL_FILES[section]
                path = pattern.format(model=model, variant=variant)
                raise PrunebenchError(
                    f"no {section} for {lacking} of {model}/{variant}: add {path} to the "
                    f"aggregate inputs, or {_remake_hint(path, rule, True)}")


def _eval_column_order(columns: Iterable[str]) -> list[str]:
    """model, variant, then per section its names in first-seen order, the average last."""
    columns = list(columns)
    prefixes = [f"{p}_" for p in _EVAL_SECTIONS.values()]
    scalars = [c for c in _EVAL_SCALARS.values() if c in columns]
    ordered = [c for c in ("model", "variant") if c in columns]
    for prefix in prefixes:
        ordered += [c for c in columns if c.startswith(prefix) and c not in scalars
                    and c != AVERAGE_STDERR]
    ordered += scalars + [c for c in (AVERAGE_STDERR,) if c in columns]
    return ordered + [c for c in columns if c not in ordered]


# ---------------------------------------------------------------------------------------------
# Ordering


def token_label(df: pd.DataFrame) -> pd.Series:
    return df["input_tokens"].astype(int).astype(str) + "x" + df["output_tokens"].astype(int) \
        .astype(str)


def appearance(values: Iterable) -> list:
    return list(dict.fromkeys(values))


def variant_order(variants: Iterable[str]) -> list[str]:
    seen = appearance(variants)
    return [v for v in seen if v == DENSE] + [v for v in seen if v != DENSE]


def token_order(df: pd.DataFrame) -> list[str]:
    pairs = df[["output_tokens", "input_tokens", "tokens"]].drop_duplicates()
    return list(pairs.sort_values(["output_tokens", "input_tokens"])["tokens"])


def sort_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Sort by the module's ordering (see the module docstring) on whichever keys exist."""
    if df.empty:
        return df.reset_index(drop=True)
    rank = {"model": appearance(df["model"])}
    if "backend" in df:
        rank["backend"] = appearance(df["backend"])
    # Each model's variants in its own order (its files'), not the first model's: a second
    # model that lists them otherwise keeps its config's order.
    ranked = df.assign(_variant_rank=variant_ranks(df))
    by = [c for c in ("model", "_variant_rank", "backend", "output_tokens", "input_tokens",
                      "batch_size") if c in ranked]

    def key(s):
        return s.map({v: i for i, v in enumerate(rank[s.name])}) if s.name in rank else s

    return (ranked.sort_values(by, key=key, kind="stable").drop(columns="_variant_rank")
            .reset_index(drop=True))


def variant_ranks(df: pd.DataFrame) -> list[int]:
    """Each row's variant's place in its model's variant_order."""
    order = {model: {v: i for i, v in enumerate(variant_order(variants))}
             for model, variants in df.groupby("model", sort=False)["variant"]}
    return [order[m][v] for m, v in zip(df["model"], df["variant"])]



def noisy(df: pd.DataFrame) -> pd.Series:
    """Rows whose timing is unstable (interval too wide, or a single timed run) or had other
    work beside it. Competition that was not checked (<NA>) is not contention."""
    return df["unstable"].fillna(False).astype(bool) | contended(df)


def timed_once(df: pd.DataFrame) -> pd.Series:
    """Unstable rows that had a single timed run: one run shows no spread, so they are flagged
    whatever the machine; more runs fix that, a quiet machine alone does not (one that also had
    other work beside it needs both)."""
    once = df["unstable"].fillna(False).astype(bool) & (df["runs"] == 1).fillna(False)
    return once.astype(bool)


def contended(df: pd.DataFrame) -> pd.Series:
    """Rows that had other work beside them (the `contended` column; unchecked, <NA>, is not)."""
    if "contended" not in df:
        return pd.Series(False, index=df.index)
    return df["contended"].fillna(False).astype(bool)


def fell_back(df: pd.DataFrame) -> pd.Series:
    """Rows meant to be compiled that ran eagerly (`decode_fallback` says why)."""
    if "decode_fallback" not in df:
        return pd.Series(False, index=df.index)
    return df["decode_fallback"].map(nonempty_text).astype(bool)


def whole_counts(df: pd.DataFrame, column: str) -> pd.Series:
    """A column of counts as whole numbers, <NA> where not recorded or not a whole number (a
    hand-edited 1.5 would otherwise stop the load in pandas' cast)."""
    values = pd.to_numeric(df.get(column, pd.Series(pd.NA, index=df.index)), errors="coerce")
    return values.where(values.notna() & (values % 1 == 0)).astype("Int64")


def compiled_while_timed(df: pd.DataFrame) -> pd.Series:
    """Rows whose timed runs compiled a graph (their latencies hold the compile); not recorded
    (<NA>) is no compile."""
    if "graphs_compiled_while_timed" not in df:
        return pd.Series(False, index=df.index)
    counts = pd.to_numeric(df["graphs_compiled_while_timed"], errors="coerce")
    return (counts > 0).fillna(False).astype(bool)


def _holm_per_cell(df: pd.DataFrame) -> pd.Series:
    """Holm's adjustment of the rows' trend p-values (latency_s_trend_p) over each result file's
    tested rows: the i-th smallest of m times (m - i + 1), kept non-decreasing, at most 1. With
    it a drift-free cell has at most TREND_ALPHA chance of a row flagged. NaN where untested."""
    adjusted = pd.Series(np.nan, index=df.index)
    for _, rows in df.groupby("source", sort=False):
        p = rows["latency_s_trend_p"].dropna().sort_values(kind="stable")
        m = len(p)
        running = 0.0
        for i, (index, value) in enumerate(p.items()):
            running = max(running, min(1.0, (m - i) * value))
            adjusted[index] = running
    return adjusted


def drifted(df: pd.DataFrame) -> pd.Series:
    """Rows whose runs trended by more than the interval's target (prunebench.benchmark.timing.
    is_drifting); not tested (<NA>) is not drift."""
    if "drifting" not in df:
        return pd.Series(False, index=df.index)
    return df["drifting"].fillna(False).astype(bool)


def untrusted(df: pd.DataFrame) -> pd.Series:
    """Rows whose timing is not to be trusted: noisy, drifting, fallen back to eager decoding,
    or compiled inside the timed runs."""
    return noisy(df) | drifted(df) | fell_back(df) | compiled_while_timed(df)


def nonempty_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())
