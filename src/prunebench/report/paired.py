"""The paired speed-up table: each pruned variant timed in turns with its dense model
(results/paired/..., prunebench.benchmark.paired), beside the speed-up that the speed table
reads from two separate jobs.

Where the separate jobs' 95% interval and the paired one do not overlap, the two estimates
disagree by more than either's noise explains (on runs that differ only by chance, two 95%
intervals miss each other far less often than one estimate falls outside the other's interval:
0.3-0.6% against 15-16% in a simulation, docs/benchmarks.md): something changed between the two jobs (other
work, clocks, the machine) that their own intervals do not hold. The paired figure is the one
to quote, and the flag points at the cells whose separate timings to redo.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np
import pandas as pd

from prunebench import PrunebenchError
from prunebench.report.load import (OK, OOM, _as_paths, _code, _flatten, _read, _reject_duplicates,
                                    _remake_hint, _warn_mixed_code, device_name, nonempty_text,
                                    sampling_label, sort_rows, token_label)

_REQUIRED = ("model", "variant", "backend", "input_tokens", "output_tokens", "rows")
_KEY = ["model", "variant", "backend", "input_tokens", "output_tokens", "batch_size"]
_METRICS = ("latency_speedup", "latency_speedup_ci95_low", "latency_speedup_ci95_high",
            "unpaired_speedup", "unpaired_speedup_ci95_low", "unpaired_speedup_ci95_high",
            "dense_latency_s_mean", "variant_latency_s_mean")


def load_paired(paths: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """One row per model, variant, backend, token config and batch size of the paired files;
    OOM rows kept with NaN metrics. An empty list gives an empty frame (paired timing off)."""
    records, cells = [], []
    for path in _as_paths(paths, "paired", allow_empty=True):
        data = _read(path, "paired_benchmark", _REQUIRED)
        cells.append((path, "paired_benchmark", _code(data)))
        fix = _remake_hint(path, "paired_benchmark", True)
        if not isinstance(data["rows"], list) or not data["rows"]:
            raise PrunebenchError(f"paired file {path} has no rows: {fix}")
        head = {k: v for k, v in data.items() if k not in ("rows", "provenance", "timing")
                and (v is None or isinstance(v, (str, int, float, bool)))}
        head.update(device_name=device_name(data), sampling=sampling_label(data))
        for i, row in enumerate(data["rows"]):
            records.append({**head, **_row(path, i, row, fix), "source": str(path)})
    if not records:  # paired timing off: no rows, every column the table reads
        return pd.DataFrame(columns=_KEY + ["tokens", "status", "pairs", "competition",
                                            "decode_fallback"] + list(_METRICS))
    df = pd.DataFrame.from_records(records)
    _reject_duplicates(df, _KEY, "a paired row")
    _warn_mixed_code("paired", cells)
    for column in _METRICS:
        df[column] = pd.to_numeric(df.get(column, pd.Series(np.nan, index=df.index)),
                                   errors="coerce")
    df["pairs"] = pd.to_numeric(df.get("pairs"), errors="coerce").astype("Int64")
    df["competition"] = df.get("interference_competition",
                               pd.Series(pd.NA, index=df.index)).astype("boolean")
    # Why a compiled decode step ran eagerly, per side ("variant: ..."); <NA> where neither did.
    sides = [c for c in df.columns if c.startswith("decode_fallback_")]
    df["decode_fallback"] = pd.Series(
        [", ".join(f"{c.removeprefix('decode_fallback_')}: {r[c]}" for c in sides
                   if nonempty_text(r[c])) or pd.NA for r in df[sides].to_dict("records")],
        index=df.index, dtype=object)
    df.insert(df.columns.get_loc("output_tokens") + 1, "tokens", token_label(df))
    return sort_rows(df)


def _row(path, i: int, row, fix: str) -> dict:
    where = f"paired file {path}, row {i}"
    if not isinstance(row, dict) or not isinstance(row.get("batch_size"), int) \
            or row["batch_size"] < 1:
        raise PrunebenchError(f"{where}: needs a positive integer batch_size; {fix}")
    if row.get("status") not in (OK, OOM):
        raise PrunebenchError(f"{where}: status {row.get('status')!r} is neither 'ok' nor "
                              f"'oom'; {fix}")
    flat = _flatten({k: v for k, v in row.items() if not k.endswith("latencies_s")})
    if row["status"] == OOM:  # nothing measured, no pairs timed
        flat.update({metric: None for metric in _METRICS + ("interference_competition",
                                                            "pairs")})
    elif not all(isinstance(row.get(m), (int, float)) and np.isfinite(row[m])
                 for m in ("latency_speedup", "dense_latency_s_mean", "variant_latency_s_mean")):
        raise PrunebenchError(f"{where}: an 'ok' row needs finite numbers for its speed-up and "
                              f"both mean latencies; {fix}")
    return flat


# What the two timings must share for their speed-ups to be compared (column: its name).
_TIMED_ALIKE = {"device_name": "device", "dtype": "dtype", "sampling": "decoding"}
_SEPARATE = {"latency_speedup": "separate_jobs_speedup",
             "latency_speedup_ci95_low": "separate_jobs_speedup_ci95_low",
             "latency_speedup_ci95_high": "separate_jobs_speedup_ci95_high"}


def paired_table(paired: pd.DataFrame, speed: pd.DataFrame | None = None) -> pd.DataFrame:
    """The paired speed-ups with their 95% intervals, the same runs' unpaired interval, and,
    where the speed table has the same cell and batch size timed alike (device, dtype,
    decoding, where both record them), the speed-up read from the two separate jobs with its
    interval (`separate_jobs_speedup*`) and `separate_jobs_disagree`: whether that interval
    and the paired one do not overlap. `separate_timed_unlike` names what differed where the
    speed table's row was left out."""
    df = paired.copy()
    df["status"] = df["status"].map({OK: "ok", OOM: "OOM"})
    for column in _SEPARATE.values():
        df[column] = np.nan
    df["separate_timed_unlike"] = ""
    if speed is not None and not speed.empty and not df.empty:
        alike = [c for c in _TIMED_ALIKE if c in speed and c in df]
        theirs = speed.drop_duplicates(_KEY).set_index(_KEY)[list(_SEPARATE) + alike]
        theirs = theirs.reindex(pd.MultiIndex.from_frame(df[_KEY])).set_axis(df.index)
        differs = {c: theirs[c].notna() & df[c].notna() & (theirs[c] != df[c]) for c in alike}
        unlike = pd.Series([", ".join(_TIMED_ALIKE[c] for c in alike if differs[c][i])
                            for i in df.index], index=df.index)
        for column, name in _SEPARATE.items():
            df[name] = pd.to_numeric(theirs[column], errors="coerce").where(unlike == "")
        df["separate_timed_unlike"] = unlike
    low, high = df["latency_speedup_ci95_low"], df["latency_speedup_ci95_high"]
    their_low = df["separate_jobs_speedup_ci95_low"]
    their_high = df["separate_jobs_speedup_ci95_high"]
    known = low.notna() & high.notna() & their_low.notna() & their_high.notna()
    df["separate_jobs_disagree"] = pd.Series(
        np.where(known, (their_high < low) | (their_low > high), pd.NA),
        index=df.index).astype("boolean")
    core = ["model", "variant", "backend", "tokens", "input_tokens", "output_tokens",
            "batch_size", "status", "params", "dense_params", "pairs", "latency_speedup",
            "latency_speedup_ci95_low", "latency_speedup_ci95_high", "unpaired_speedup",
            "unpaired_speedup_ci95_low", "unpaired_speedup_ci95_high",
            *_SEPARATE.values(), "separate_jobs_disagree", "separate_timed_unlike",
            "dense_latency_s_mean", "variant_latency_s_mean", "competition", "decode_fallback",
            "device_name", "dtype"]
    return df[[c for c in core if c in df.columns]]


def paired_headline(table: pd.DataFrame) -> pd.DataFrame:
    """paired_speedup.md: the cell, the paired speed-up and its interval, the unpaired interval
    of the same runs, the separate jobs' speed-up, and one `flags` column."""
    def interval(low: pd.Series, high: pd.Series) -> list[str]:
        return [f"[{a:.3g}, {b:.3g}]" if pd.notna(a) and pd.notna(b) else ""
                for a, b in zip(low, high)]

    out = table[["model", "variant", "backend", "tokens", "batch_size", "status", "pairs",
                 "latency_speedup"]].copy()
    out["speedup_ci95"] = interval(table["latency_speedup_ci95_low"],
                                   table["latency_speedup_ci95_high"])
    out["unpaired_ci95"] = interval(table["unpaired_speedup_ci95_low"],
                                    table["unpaired_speedup_ci95_high"])
    out["separate_jobs_speedup"] = table["separate_jobs_speedup"]
    out["separate_ci95"] = interval(table["separate_jobs_speedup_ci95_low"],
                                    table["separate_jobs_speedup_ci95_high"])
    flags = {"separate jobs disagree": table["separate_jobs_disagree"],
             "contended": table["competition"]}
    fell_back = table["decode_fallback"].map(nonempty_text)
    unlike = table["separate_timed_unlike"]
    out["flags"] = [", ".join([name for name, rows in flags.items()
                               if pd.notna(rows[i]) and bool(rows[i])]
                              + (["ran eagerly"] if fell_back[i] else [])
                              + ([f"separate jobs timed unlike: {unlike[i]}"] if unlike[i] else []))
                    for i in table.index]
    return out
