"""Tables (CSV + Markdown) and the throughput-vs-latency figure, built from the per-cell result files.

Inputs are the JSON files the prune, benchmark and evaluate rules write (schemas in
docs/architecture.md). The aggregate script passes the exact list of files it expects, so a
missing or unreadable file is an error that names it and how to make it, never a silent gap
in a table.

Ordering everywhere: models and backends in the order their files were given (the config's
order), the dense variant first and the others in the order given, token configs as in the
study's figure (12x128, 82x128, 12x512, 82x512: output tokens, then input tokens), batch sizes
ascending.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from prunebench import PrunebenchError, figure_style
from prunebench.atomic import atomic_path, read_json
from prunebench.plan.sizes import format_params

DENSE = "dense"
OK, OOM = "ok", "oom"

_BENCH_REQUIRED = ("model", "variant", "backend", "input_tokens", "output_tokens", "rows")
_BENCH_METRICS = ("latency_s_mean", "latency_s_std", "latency_s_min", "latency_s_median",
                  "throughput_tok_s", "peak_memory_bytes")
# Noise fields of a row (prunebench.timing_stats). Files written before they existed lack them:
# such rows read as NaN here rather than failing, and the figure draws them as stable.
_BENCH_NOISE = ("latency_s_p90", "latency_s_cv", "latency_s_ci95_low", "latency_s_ci95_high",
                "latency_s_ci95_rel", "runs", "throughput_mean_of_rates", "decode_step_s_p50",
                "decode_step_s_p90")
_BENCH_KEY = ["model", "variant", "backend", "input_tokens", "output_tokens", "batch_size"]
_CELL = ["model", "backend", "input_tokens", "output_tokens"]
_REPORT_REQUIRED = ("model", "variant", "method", "params_before", "params_after",
                    "blocks_before", "blocks_after")

# Sections an eval file may hold: JSON key -> column prefix. A new evaluation kind is one entry
# here (a `{name: value}` dict), plus, if it has one, its scalar summary in _EVAL_SCALARS.
_EVAL_SECTIONS = {"perplexity": "ppl", "accuracy": "acc"}
_EVAL_SCALARS = {"average": "acc_average"}


# ---------------------------------------------------------------------------------------------
# Loading


def _remake_hint(path: Path, rule: str, force: bool) -> str:
    flag = "-f " if force else ""
    return f"rerun `snakemake {flag}{path}` (made by the {rule} rule)"


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
    records = []
    for path in _as_paths(paths, "bench", allow_empty=False):
        data = _read(path, "benchmark", _BENCH_REQUIRED)
        rows = data["rows"]
        if not isinstance(rows, list) or not rows:
            raise PrunebenchError(f"bench file {path} has no rows: "
                                  f"{_remake_hint(path, 'benchmark', True)}")
        bad = [k for k in ("input_tokens", "output_tokens")
               if not isinstance(data[k], int) or data[k] < 1]
        if bad:
            raise PrunebenchError(f"bench file {path}: {bad} must be positive integers; "
                                  f"{_remake_hint(path, 'benchmark', True)}")
        head = {k: v for k, v in data.items() if k not in ("rows", "provenance")
                and (v is None or isinstance(v, (str, int, float, bool)))}
        for i, row in enumerate(rows):
            records.append({**head, **_bench_row(path, i, row), "source": str(path)})
    df = pd.DataFrame.from_records(records)
    _reject_duplicates(df, _BENCH_KEY, "a bench row")
    for column in _BENCH_METRICS + _BENCH_NOISE:
        df[column] = pd.to_numeric(df.get(column, pd.Series(np.nan, index=df.index)),
                                   errors="coerce")
    df["runs"] = df["runs"].astype("Int64")
    # True / False, or <NA> where not measured (OOM rows, files older than the flag).
    df["unstable"] = df.get("unstable", pd.Series(pd.NA, index=df.index)).astype("boolean")
    # Other work measured beside the row (prunebench.interference); <NA> where not recorded.
    df["competition"] = df.get("interference_competition",
                               pd.Series(pd.NA, index=df.index)).astype("boolean")
    df.insert(df.columns.get_loc("output_tokens") + 1, "tokens", _token_label(df))
    return _sort(df)


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
                     _BENCH_METRICS + _BENCH_NOISE + ("unstable", "interference_competition")})
        return flat
    bad = [m for m in _BENCH_METRICS if not _is_number(row.get(m))]
    if bad:
        raise PrunebenchError(f"{where}: an 'ok' row needs finite numbers for {bad}; {fix}")
    return flat


def load_prune_reports(paths: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """One row per model and variant: method, target, params and blocks before/after, ..."""
    records = []
    for path in _as_paths(paths, "prune report", allow_empty=False):
        data = _read(path, "prune", _REPORT_REQUIRED)
        head = {k: v for k, v in data.items() if k != "method_report" and k != "provenance"
                and (v is None or isinstance(v, (str, int, float, bool)))}
        records.append({**head, "source": str(path)})
    df = pd.DataFrame.from_records(records)
    _reject_duplicates(df, ["model", "variant"], "a prune report")
    return _sort(df)


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
    for path in _as_paths(paths, "eval", allow_empty=True):
        rule = _eval_rule(path)
        data = _read(path, rule, ("model", "variant"))
        values = {}
        for section, prefix in _EVAL_SECTIONS.items():
            block = data.get(section)
            if block is None:
                continue
            if not isinstance(block, dict) or not all(_is_number(v) for v in block.values()):
                raise PrunebenchError(f"eval file {path}: '{section}' must map names to finite "
                                      f"numbers; {_remake_hint(path, rule, True)}")
            names[section][path] = list(block)
            values.update({f"{prefix}_{name}": float(v) for name, v in block.items()})
        for key, column in _EVAL_SCALARS.items():
            if _is_number(data.get(key)):
                values[column] = float(data[key])
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
    _check_eval_cells(names, merged, expect or {})
    df = pd.DataFrame.from_records(list(merged.values()), columns=None if merged else
                                   ["model", "variant"])
    return _sort(df[_eval_column_order(df.columns)])


_EVAL_FILES = {"perplexity": ("ppl.json", "perplexity"), "accuracy": ("zeroshot.json", "zeroshot")}


_RULE_OF_FILE = dict(_EVAL_FILES.values())


def _eval_rule(path: Path) -> str:
    return _RULE_OF_FILE.get(Path(path).name, "zeroshot")


def _check_eval_cells(names: dict[str, dict[Path, list[str]]],
                      merged: dict[tuple[str, str], dict[str, Any]],
                      expect: dict[str, Iterable[str]]) -> None:
    for section, per_file in names.items():
        union = _appearance(n for listed in per_file.values() for n in listed)
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
                name, rule = _EVAL_FILES[section]
                path = Path("results/eval") / model / variant / name
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
        ordered += [c for c in columns if c.startswith(prefix) and c not in scalars]
    ordered += scalars
    return ordered + [c for c in columns if c not in ordered]


# ---------------------------------------------------------------------------------------------
# Ordering


def _token_label(df: pd.DataFrame) -> pd.Series:
    return df["input_tokens"].astype(int).astype(str) + "x" + df["output_tokens"].astype(int) \
        .astype(str)


def _appearance(values: Iterable) -> list:
    return list(dict.fromkeys(values))


def _variant_order(variants: Iterable[str]) -> list[str]:
    seen = _appearance(variants)
    return [v for v in seen if v == DENSE] + [v for v in seen if v != DENSE]


def _token_order(df: pd.DataFrame) -> list[str]:
    pairs = df[["output_tokens", "input_tokens", "tokens"]].drop_duplicates()
    return list(pairs.sort_values(["output_tokens", "input_tokens"])["tokens"])


def _sort(df: pd.DataFrame) -> pd.DataFrame:
    """Sort by the module's ordering (see the module docstring) on whichever keys exist."""
    if df.empty:
        return df.reset_index(drop=True)
    rank = {"model": _appearance(df["model"]), "variant": _variant_order(df["variant"])}
    if "backend" in df:
        rank["backend"] = _appearance(df["backend"])
    by = [c for c in ("model", "variant", "backend", "output_tokens", "input_tokens",
                      "batch_size") if c in df]

    def key(s):
        return s.map({v: i for i, v in enumerate(rank[s.name])}) if s.name in rank else s

    return df.sort_values(by, key=key, kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Tables


def _params(df: pd.DataFrame, reports_df: pd.DataFrame) -> pd.DataFrame:
    """Attach the exact parameter count from each (model, variant)'s prune report."""
    params = reports_df[["model", "variant", "params_after"]].rename(
        columns={"params_after": "params"})
    out = df.drop(columns=["params"], errors="ignore").merge(
        params, on=["model", "variant"], how="left")
    missing = out.loc[out["params"].isna(), ["model", "variant"]].drop_duplicates()
    if not missing.empty:
        model, variant = missing.iloc[0]
        path = Path("results/pruned") / model / variant / "prune_report.json"
        raise PrunebenchError(
            f"no prune report for {model}/{variant}: add {path} to the aggregate inputs "
            "(made by the prune rule)")
    out["params"] = out["params"].astype("int64")
    out.insert(out.columns.get_loc("params") + 1, "params_fmt",
               out["params"].map(lambda n: format_params(int(n))))
    return out


def _dense_rows(df: pd.DataFrame) -> pd.DataFrame:
    dense = df[df["variant"] == DENSE]
    cells = df[_CELL].drop_duplicates()
    have = cells.merge(dense[_CELL].drop_duplicates(), how="left", indicator=True)
    lacking = have[have["_merge"] == "left_only"]
    if not lacking.empty:
        c = lacking.iloc[0]
        path = (Path("results/bench") / c["model"] / DENSE / c["backend"]
                / f"{c['input_tokens']}x{c['output_tokens']}.json")
        raise PrunebenchError(
            f"no dense bench file for {c['model']} ({c['backend']}, "
            f"{c['input_tokens']}x{c['output_tokens']}): speed-ups are relative to the dense "
            f"model; add {path} to the aggregate inputs (made by the benchmark rule)")
    return dense


def speed_table(bench_df: pd.DataFrame, reports_df: pd.DataFrame) -> pd.DataFrame:
    """Per model x variant x backend x token config x batch size: params, latency, throughput,
    peak memory and speed-ups over the dense model in the same cell and batch size.

    throughput_speedup = throughput / dense throughput; latency_speedup = dense latency /
    latency (both > 1 means faster than dense). Speed-ups are NaN where the dense model ran out
    of memory or was not run at that batch size; OOM rows keep status "OOM" and NaN metrics.
    How far each timing can be trusted: p90, CV, the 95% interval of the mean, the `unstable`
    flag and the number of timed `runs` (prunebench.timing_stats).
    """
    df = _params(bench_df, reports_df)
    dense = _dense_rows(df)[_CELL + ["batch_size", "latency_s_mean", "throughput_tok_s"]]
    df = df.merge(dense, on=_CELL + ["batch_size"], how="left", suffixes=("", "_dense"))
    df["throughput_speedup"] = df["throughput_tok_s"] / df["throughput_tok_s_dense"]
    df["latency_speedup"] = df["latency_s_mean_dense"] / df["latency_s_mean"]
    df["peak_memory_gib"] = df["peak_memory_bytes"] / 2**30
    df["status"] = df["status"].map({OK: "ok", OOM: "OOM"})
    core = ["model", "variant", "backend", "tokens", "input_tokens", "output_tokens",
            "batch_size", "status", "params", "params_fmt", "latency_s_mean", "latency_s_std",
            "latency_s_min", "latency_s_median", "latency_s_p90", "latency_s_cv",
            "latency_s_ci95_low", "latency_s_ci95_high", "latency_s_ci95_rel", "unstable",
            "competition", "runs",
            "throughput_tok_s", "throughput_mean_of_rates", "peak_memory_gib",
            "throughput_speedup", "latency_speedup"]
    dropped = {"source", "peak_memory_bytes", "latency_s_mean_dense", "throughput_tok_s_dense"}
    extras = [c for c in df.columns if c not in core and c not in dropped]
    return _sort(df[core + extras])


def quality_table(reports_df: pd.DataFrame, evals_df: pd.DataFrame | None = None
                  ) -> pd.DataFrame:
    """Per model x variant: params (exact and formatted), % of dense, blocks, PPL, zero-shot."""
    out = reports_df[["model", "variant", "method", "params_after", "params_before",
                      "blocks_after"]].rename(columns={"params_after": "params",
                                                       "blocks_after": "blocks"})
    out.insert(out.columns.get_loc("params") + 1, "params_fmt",
               out["params"].map(lambda n: format_params(int(n))))
    # params_before is the dense model's count in every report, the dense one included.
    out["params_pct_dense"] = 100.0 * out["params"] / out["params_before"]
    out = out.drop(columns="params_before")
    out = out[["model", "variant", "method", "params", "params_fmt", "params_pct_dense",
               "blocks"]]
    if evals_df is not None and not evals_df.empty:
        orphans = evals_df.merge(out[["model", "variant"]], how="left", indicator=True)
        orphans = orphans[orphans["_merge"] == "left_only"]
        if not orphans.empty:
            model, variant = orphans.iloc[0][["model", "variant"]]
            path = Path("results/pruned") / model / variant / "prune_report.json"
            raise PrunebenchError(
                f"evaluations of {model}/{variant} have no prune report: add {path} to the "
                "aggregate inputs (made by the prune rule)")
        out = out.merge(evals_df, on=["model", "variant"], how="left")
    return _sort(out)


def summary_table(bench_df: pd.DataFrame, reports_df: pd.DataFrame,
                  evals_df: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per model x variant: params, evaluations, and for each backend and token config the
    batch-1 latency, the best throughput over batch sizes (and the batch that gave it), each
    with its speed-up over dense. Columns are named `{backend}_{lin}x{lout}_{metric}`.

    `throughput_tok_s` (batch * tokens / mean latency) is the one compared and plotted;
    `throughput_mean_of_rates` is the study's statistic (docs/benchmarks.md).

    The best-throughput speed-up compares the two best throughputs, each at its own batch
    size: a pruned model that fits a larger batch gets credit for it, as in the study.
    """
    speed = speed_table(bench_df, reports_df)
    ok = speed[speed["status"] == "ok"]
    cell = ["model", "variant", "backend", "tokens"]
    b1 = ok[ok["batch_size"] == 1].set_index(cell)[["latency_s_mean", "latency_speedup"]]
    best = ok.loc[ok.groupby(cell, sort=False)["throughput_tok_s"].idxmax()].set_index(cell)
    per_cell = pd.DataFrame(index=speed.set_index(cell).index.unique())
    per_cell["latency_b1_s"] = b1["latency_s_mean"]
    per_cell["latency_b1_speedup"] = b1["latency_speedup"]
    per_cell["best_tok_s"] = best["throughput_tok_s"]
    per_cell["best_batch"] = best["batch_size"].astype("Int64")
    dense_best = per_cell.xs(DENSE, level="variant")["best_tok_s"]
    per_cell["best_speedup"] = per_cell["best_tok_s"] / dense_best.reindex(
        per_cell.index.droplevel("variant")).to_numpy()

    backends = _appearance(speed["backend"])
    tokens = _token_order(speed)
    wide = per_cell.unstack(["backend", "tokens"])
    columns = [(metric, b, t) for b in backends for t in tokens for metric in per_cell.columns
               if (metric, b, t) in wide.columns]
    wide = wide[columns]
    wide.columns = [f"{b}_{t}_{metric}" for metric, b, t in columns]
    wide = wide.reset_index()

    quality = quality_table(reports_df, evals_df).drop(columns=["method", "blocks"])
    out = quality.merge(wide, on=["model", "variant"], how="inner")
    # How many of the variant's timed rows are unstable or had other work beside them.
    flagged = ok.assign(flag=_untrusted(ok)).groupby(["model", "variant"])["flag"].sum()
    out["timings_flagged"] = [int(flagged.get((m, v), 0)) for m, v in
                              zip(out["model"], out["variant"])]
    return _sort(out)


# How close a reproduced number must come to the published one: perplexity within 2% of it,
# accuracy within one point (0.01). Zero-shot accuracy moves by about a point between lm-eval
# versions and prompt details; perplexity by well under 1% between correct implementations.
PUBLISHED_TOLERANCE = {"ppl": ("relative", 0.02), "acc": ("absolute", 0.01)}


def load_published(path: str | os.PathLike) -> pd.DataFrame:
    """Published numbers (config/published.csv): model, variant, metric, published, source."""
    table = pd.read_csv(path, comment="#")
    missing = {"model", "variant", "metric", "published"} - set(table.columns)
    if missing:
        raise PrunebenchError(f"{path} lacks the column(s) {sorted(missing)}: it needs model, "
                              "variant, metric (e.g. ppl_wikitext2, acc_boolq), published")
    return table


def published_vs_reproduced(quality: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """Per model, variant and metric with both numbers: published, reproduced, the difference
    and whether it is within PUBLISHED_TOLERANCE. Empty when no configured cell was published."""
    metrics = [c for c in quality.columns if c.startswith(("ppl_", "acc_"))]
    reproduced = quality.melt(id_vars=["model", "variant"], value_vars=metrics,
                              var_name="metric", value_name="reproduced").dropna()
    out = published.merge(reproduced, on=["model", "variant", "metric"], how="inner")
    kind = out["metric"].str.split("_").str[0]
    out["difference"] = out["reproduced"] - out["published"]
    bound = [PUBLISHED_TOLERANCE[k][1] * (abs(p) if PUBLISHED_TOLERANCE[k][0] == "relative" else 1)
             for k, p in zip(kind, out["published"])]
    out["tolerance"] = bound
    out["within"] = out["difference"].abs() <= out["tolerance"]
    columns = ["model", "variant", "metric", "published", "reproduced", "difference",
               "tolerance", "within"] + (["source"] if "source" in out else [])
    return out[columns].reset_index(drop=True)


def headline_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary as people read it (summary.md): model, variant, size and share of dense,
    perplexities, zero-shot average, then on the first backend and token config the batch-1
    speed-up and the best throughput with its batch, and how many timings are flagged. The
    wide per-configuration columns stay in summary.csv."""
    speedups = [c for c in summary.columns if c.endswith("_latency_b1_speedup")]
    cell = speedups[0].removesuffix("_latency_b1_speedup") if speedups else None
    columns = ["model", "variant", "params_fmt", "params_pct_dense"]
    columns += [c for c in summary.columns if c.startswith("ppl_")]
    columns += [c for c in ("acc_average",) if c in summary.columns]
    if cell:
        columns += [f"{cell}_latency_b1_speedup", f"{cell}_best_tok_s", f"{cell}_best_batch"]
    columns += [c for c in ("timings_flagged",) if c in summary.columns]
    return summary[[c for c in columns if c in summary.columns]]


def flagged_cells(speed: pd.DataFrame) -> list[str]:
    """Result files (results/bench/...) with a row whose timing is unstable or contended: the
    cells to rerun on a quiet machine."""
    ok = speed[speed["status"] == "ok"]
    rows = ok[_untrusted(ok)]
    cells = rows[["model", "variant", "backend", "tokens"]].drop_duplicates()
    return [f"results/bench/{r.model}/{r.variant}/{r.backend}/{r.tokens}.json"
            for r in cells.itertuples()]


def _markdown_cell(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–"
    if isinstance(value, (float, np.floating)):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    return str(value)


def to_markdown(df: pd.DataFrame) -> str:
    """A pipe table; in rows whose status is OOM the empty measurement cells read "OOM"."""
    shown = df.astype(object).map(_markdown_cell)
    if "status" in df:
        oom = (df["status"] == "OOM").to_numpy()
        shown = shown.mask(np.outer(oom, np.ones(df.shape[1], dtype=bool)) & (shown == "–"),
                           "OOM")
    align = ["right" if pd.api.types.is_numeric_dtype(df[c]) else "left" for c in df.columns]
    return shown.to_markdown(index=False, disable_numparse=True, colalign=align) + "\n"


def write_table(df: pd.DataFrame, csv_path: str | os.PathLike, md_path: str | os.PathLike,
                allow_empty: bool = False, markdown: pd.DataFrame | None = None) -> None:
    """Write `df` as CSV (full precision, for analysis) and as a Markdown pipe table (of
    `markdown` instead where given: a compact view of a wide table). An empty table is refused
    (results went missing) unless `allow_empty` (a comparison that may have nothing to compare)."""
    if df.empty and not allow_empty:
        raise PrunebenchError(
            f"refusing to write an empty table to {csv_path}: no result rows reached it; "
            "check that the aggregate rule lists the result files")
    with atomic_path(csv_path) as tmp:
        df.to_csv(tmp, index=False)
    with atomic_path(md_path) as tmp:
        tmp.write_text(to_markdown(df if markdown is None else markdown))


# ---------------------------------------------------------------------------------------------
# Figure


def plot_throughput_vs_latency(bench_df: pd.DataFrame, png_path: str | os.PathLike,
                               pdf_path: str | os.PathLike, backend: str = "hf",
                               reports_df: pd.DataFrame | None = None,
                               display_names: dict[str, Any] | None = None):
    """The study's figure: models (rows) x token configs (columns); throughput (log2, plain
    tick numbers) against the latency of one whole generate call, one line per variant, points
    labelled with their batch size (labels placed so that none overlaps another or a marker),
    the batch size that ran out of memory marked "<batch>: OOM" beside the line's last point,
    unstable timings (95% interval wider than the target) drawn hollow.

    Each method keeps one colour and marker in every panel and row (prunebench.figure_style);
    each row has its legend, labelled with display names and sizes ("LLaMA-7B",
    "LLM-Pruner 4.9B"): `display_names` is the config's section of that name, and
    `reports_df` (the prune reports) gives the parameter count shown for a fraction size
    ("0.8"). Throughput is `throughput_tok_s`, batch * tokens / mean latency, so that a point's
    two coordinates come from the same mean (docs/benchmarks.md). Saved as PNG and PDF;
    returns the matplotlib Figure."""
    import seaborn as sns
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    names = figure_style.check_display_names(display_names)
    df = bench_df[bench_df["backend"] == backend]
    if df.empty:
        raise PrunebenchError(
            f"no bench rows for backend {backend!r} (have {_appearance(bench_df['backend'])}): "
            "plot one of those, or add that backend's bench files to the aggregate inputs")
    models, tokens = _appearance(df["model"]), _token_order(df)
    variants = _variant_order(df["variant"])
    styles = figure_style.line_styles(variants)  # one style per variant for the whole figure
    palette = {v: s.color for v, s in styles.items()}
    markers = {v: s.marker for v, s in styles.items()}
    dashes = {v: s.dashes for v, s in styles.items()}
    sizes = {} if reports_df is None else {
        (r.model, r.variant): int(r.params_after) for r in reports_df.itertuples()}
    labels = {(m, v): figure_style.variant_label(m, v, names, sizes.get((m, v)))
              for m, v in df[["model", "variant"]].drop_duplicates().itertuples(index=False)}
    shape = df.drop_duplicates("tokens").set_index("tokens")[["input_tokens", "output_tokens"]]
    ok = df[df["status"] == OK].sort_values("batch_size")
    # The sweep stops at the first batch size that runs out of memory: that one is marked.
    oom = df[df["status"] == OOM].groupby(["model", "tokens", "variant"], sort=False)[
        "batch_size"].min()

    fig = Figure(figsize=(max(3.4 * len(tokens) + 2.8, 6.5), 2.9 * len(models) + 1.0),
                 layout="constrained")
    FigureCanvasAgg(fig)  # Agg renders both PNG and PDF without touching pyplot's state
    axes = fig.subplots(len(models), len(tokens), squeeze=False)
    marks: dict[Any, tuple[list, list]] = {}  # per axes: its points, the texts to place
    for r, model in enumerate(models):
        for c, tok in enumerate(tokens):
            ax = axes[r][c]
            cell = ok[(ok["model"] == model) & (ok["tokens"] == tok)]
            cell_oom = {v: int(b) for (m, t, v), b in oom.items() if m == model and t == tok}
            ax.set_yscale("log", base=2)
            if not cell.empty:
                sns.lineplot(data=cell, x="latency_s_mean", y="throughput_tok_s", hue="variant",
                             style="variant", hue_order=variants, style_order=variants,
                             palette=palette, markers=markers, dashes=dashes, sort=False,
                             estimator=None, legend=False, ax=ax)
                _hollow_unstable(ax, cell, palette, markers)
                _frame_points(ax, cell["latency_s_mean"], cell["throughput_tok_s"])
            elif not cell_oom:
                ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center",
                        color="grey")
            marks[ax] = _panel_marks(ax, cell, cell_oom, palette, labels, model)
            # Plain numbers (64, 128, ...) at the powers of two read better than 2^k.
            ax.yaxis.set_major_locator(LogLocator(base=2))
            ax.yaxis.set_major_formatter(FuncFormatter(_plain_tick))
            ax.yaxis.set_minor_locator(NullLocator())
            ax.grid(True, which="major", alpha=0.3)
            if r == 0:
                lin, lout = shape.loc[tok]
                ax.set_title(f"{lin} input x {lout} output tokens", fontsize=10)
            ax.set_xlabel("Latency (s)" if r == len(models) - 1 else "")
            ax.set_ylabel("Throughput (tokens/s)" if c == 0 else "")
        # A legend per row: labels carry the model's sizes ("LLM-Pruner 4.9B"), the styles
        # are the figure's.
        present = [v for v in variants if (model, v) in labels]
        handles = [Line2D([], [], color=styles[v].color, marker=styles[v].marker,
                          linestyle=styles[v].linestyle, label=labels[(model, v)])
                   for v in present]
        axes[r][-1].legend(handles=handles, loc="center left", bbox_to_anchor=(1.02, 0.5),
                           frameon=False, fontsize=8, ncols=1 if len(present) <= 12 else 2,
                           title=figure_style.model_label(model, names), title_fontsize=9)

    if _untrusted(ok).any():  # the note only where a hollow point is drawn
        note = [Line2D([], [], color="grey", marker="o", markerfacecolor="white",
                       linestyle="none", label="hollow: unstable or contended timing")]
        fig.legend(handles=note, loc="outside lower center", frameon=False, fontsize=9)
    fig.suptitle(f"Throughput vs latency, backend {backend}\n(throughput = batch x tokens / mean "
                 "latency; point labels: batch size)", fontsize=10)
    # Labels are placed on the final layout: lay the figure out once, then freeze it, so the
    # saved files put every text where its overlaps were checked.
    fig.canvas.draw()
    fig.set_layout_engine("none")
    renderer = fig.canvas.get_renderer()
    for ax, (points, texts) in marks.items():
        _place_texts(ax, renderer, points, texts)
    for path, fmt in ((png_path, "png"), (pdf_path, "pdf")):
        with atomic_path(path) as tmp:  # the temp name has no suffix, so name the format
            fig.savefig(tmp, format=fmt, dpi=150)
    return fig


def _plain_tick(value: float, _pos=None) -> str:
    return f"{value:.0f}" if value >= 1 else f"{value:g}"


def _frame_points(ax, x: pd.Series, y: pd.Series) -> None:
    """Limits with room for labels: x padded (more on the right, where an OOM mark goes), y out
    to the enclosing powers of two, so that every panel has at least two labelled ticks."""
    low, high = float(x.min()), float(x.max())
    span = high - low if high > low else 0.4 * high
    ax.set_xlim(max(low - 0.12 * span, 0.0), high + 0.28 * span)  # latencies are positive
    bottom = 2.0 ** np.floor(np.log2(float(y.min()) / 1.15))
    top = 2.0 ** np.ceil(np.log2(float(y.max()) * 1.3))
    ax.set_ylim(bottom, top)


# Where a text may go around its point, in points (dx, dy) with its alignment: close in first,
# then farther out. The first place free of other texts and markers wins.
_NEAR = [(1, 1, "left", "bottom"), (1, -1, "left", "top"), (-1, 1, "right", "bottom"),
         (-1, -1, "right", "top"), (0, 1.4, "center", "bottom"), (0, -1.4, "center", "top"),
         (1.4, 0, "left", "center"), (-1.4, 0, "right", "center")]
_PLACES = [(dx * d, dy * d, ha, va) for d in (4, 9, 15, 22) for dx, dy, ha, va in _NEAR]
# An OOM mark goes where the line would have gone on: right of its last point first.
_OOM_PLACES = [p for p in _PLACES if p[0] > 0 and p[1] == 0] + _PLACES
_MARKER_RADIUS_PT = 3.5  # matplotlib's default marker is 6 points across


def _panel_marks(ax, cell: pd.DataFrame, cell_oom: dict[str, int], palette: dict,
                 labels: dict, model: str) -> tuple[list, list]:
    """A panel's measured points and the texts to place beside them: each line's OOM mark at
    its last point (or, for a line with no measured point, a note in the panel's corner),
    then the batch-size labels."""
    points = list(zip(cell["latency_s_mean"], cell["throughput_tok_s"]))
    texts = []
    corner = 0
    for variant, batch in cell_oom.items():
        line = cell[cell["variant"] == variant]
        if line.empty:  # out of memory from the first batch size on: nothing to put it beside
            ax.text(0.03, 0.97 - 0.09 * corner, f"{labels[(model, variant)]}: OOM from "
                    f"batch {batch}", transform=ax.transAxes, ha="left", va="top", fontsize=7,
                    fontweight="bold", color=palette[variant], gid=f"oom:{variant}:{batch}")
            corner += 1
            continue
        last = line.iloc[-1]
        texts.append({"text": f"{batch}: OOM", "xy": (last.latency_s_mean,
                      last.throughput_tok_s), "color": palette[variant], "weight": "bold",
                      "places": _OOM_PLACES, "gid": f"oom:{variant}:{batch}"})
    for row in cell.itertuples():
        texts.append({"text": str(row.batch_size), "xy": (row.latency_s_mean,
                      row.throughput_tok_s), "color": palette[row.variant], "weight": "normal",
                      "places": _PLACES, "gid": f"batch:{row.variant}:{row.batch_size}"})
    return points, texts


def _place_texts(ax, renderer, points: list, texts: list) -> None:
    """Put each text at its first place that stays inside the axes and overlaps no marker and
    no text already placed (the corner notes included); a batch-size label with no free place
    is left out rather than drawn over another (its point stays). Deterministic: the same
    rows give the same figure."""
    from matplotlib.transforms import Bbox

    frame = ax.get_window_extent(renderer)
    radius = renderer.points_to_pixels(_MARKER_RADIUS_PT)
    taken = [Bbox.from_extents(x - radius, y - radius, x + radius, y + radius)
             for x, y in ax.transData.transform(points)] if points else []
    taken += [t.get_window_extent(renderer) for t in ax.texts]
    pad = renderer.points_to_pixels(0.5)
    for spec in texts:
        text = ax.annotate(spec["text"], spec["xy"], xytext=(0, 0), textcoords="offset points",
                           fontsize=6.5, color=spec["color"], fontweight=spec["weight"],
                           gid=spec["gid"])
        for dx, dy, ha, va in spec["places"]:
            text.set_position((dx, dy))
            text.set_horizontalalignment(ha)
            text.set_verticalalignment(va)
            box = text.get_window_extent(renderer).padded(pad)
            inside = (box.x0 >= frame.x0 and box.x1 <= frame.x1 and box.y0 >= frame.y0
                      and box.y1 <= frame.y1)
            if inside and not any(box.overlaps(other) for other in taken):
                taken.append(box)
                break
        else:
            if spec["gid"].startswith("oom:"):  # never lost: beside its point regardless
                text.set_position(spec["places"][0][:2])
                text.set_horizontalalignment(spec["places"][0][2])
                text.set_verticalalignment(spec["places"][0][3])
                taken.append(text.get_window_extent(renderer).padded(pad))
            else:
                text.remove()


def _untrusted(df: pd.DataFrame) -> pd.Series:
    """Rows whose timing is unstable (interval too wide) or had other work beside it."""
    flags = df["unstable"].fillna(False).astype(bool)
    if "competition" in df:
        flags |= df["competition"].fillna(False).astype(bool)
    return flags


def _hollow_unstable(ax, cell: pd.DataFrame, palette: dict, markers: dict) -> None:
    """Redraw unstable points with a white face over the line's filled markers.

    A scatter (a collection, not a line) so the lines still hold exactly the plotted points.
    """
    unstable = cell[_untrusted(cell)]
    for variant, points in unstable.groupby("variant", sort=False):
        ax.scatter(points["latency_s_mean"], points["throughput_tok_s"], marker=markers[variant],
                   facecolors="white", edgecolors=[palette[variant]], linewidths=1.2, s=36,
                   zorder=3)


def pareto_front(x: pd.Series, y: pd.Series, higher_y_better: bool = True) -> pd.Series:
    """True for the points no other point beats on both axes (higher x is better; y as told):
    the variants worth choosing."""
    sign = 1 if higher_y_better else -1
    front = []
    for i in x.index:
        dominated = ((x >= x[i]) & (sign * y >= sign * y[i]) &
                     ((x > x[i]) | (sign * y > sign * y[i]))).any()
        front.append(not dominated)
    return pd.Series(front, index=x.index)


def plot_quality_vs_speed(summary: pd.DataFrame, png_path: str | os.PathLike,
                          pdf_path: str | os.PathLike):
    """Quality against speed, one panel per model, one point per variant: x the batch-1
    latency speed-up over dense on the first backend and token config, y the zero-shot average
    (higher is better) or, without zero-shot tasks, the first perplexity (lower is better,
    axis inverted). The Pareto front (no other variant faster and better) is drawn as a line.
    Saved as PNG and PDF; returns the matplotlib Figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    speedups = [c for c in summary.columns if c.endswith("_latency_b1_speedup")]
    quality = "acc_average" if "acc_average" in summary else next(
        (c for c in summary.columns if c.startswith("ppl_")), None)
    if not speedups or quality is None:
        raise PrunebenchError("quality vs speed needs a batch-1 timing and a perplexity or "
                              "zero-shot result per variant: configure both")
    x_col, higher_better = speedups[0], quality.startswith("acc_")
    cell = x_col.removesuffix("_latency_b1_speedup").replace("_", " ", 1)
    models = _appearance(summary["model"])
    fig = Figure(figsize=(4.2 * len(models) + 0.4, 3.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(models), squeeze=False)[0]
    for ax, model in zip(axes, models):
        points = summary[summary["model"] == model].dropna(subset=[x_col, quality])
        ax.scatter(points[x_col], points[quality], color="tab:blue", zorder=3)
        for row in points.itertuples():
            ax.annotate(row.variant, (getattr(row, x_col), getattr(row, quality)),
                        xytext=(3, 3), textcoords="offset points", fontsize=6.5)
        if not points.empty:
            front = points[pareto_front(points[x_col], points[quality], higher_better)]
            front = front.sort_values(x_col)
            ax.plot(front[x_col], front[quality], color="tab:orange", zorder=2,
                    label="Pareto front")
            ax.legend(fontsize=7, frameon=False)
        if not higher_better:
            ax.invert_yaxis()  # up is better on both figures
        ax.axvline(1.0, color="grey", linewidth=0.6, linestyle=":")  # dense speed
        ax.grid(True, alpha=0.3)
        ax.set_title(model, fontsize=10)
        ax.set_xlabel(f"batch-1 speed-up over dense ({cell})")
        ax.set_ylabel("zero-shot accuracy (average)" if higher_better
                      else f"perplexity ({quality.removeprefix('ppl_')})")
    fig.suptitle("Quality against speed (up and right is better)", fontsize=10)
    for path, fmt in ((png_path, "png"), (pdf_path, "pdf")):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=150)
    return fig
