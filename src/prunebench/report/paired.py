"""The paired speed-up table: each pruned variant timed in turns with its dense model
(results/paired/..., prunebench.benchmark.paired), beside the speed-up that the speed table
reads from two separate jobs.

A separate-jobs speed-up outside the paired interval says that something changed between the
two jobs (other work, clocks, the machine) that their own intervals do not hold: the paired
figure is the one to quote, and the flag points at the cells whose separate timings to redo.
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
    if not records:
        return pd.DataFrame(columns=_KEY + list(_METRICS))
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
    if row["status"] == OOM:
        flat.update({metric: None for metric in _METRICS + ("interference_competition",)})
    elif not all(isinstance(row.get(m), (int, float)) and np.isfinite(row[m])
                 for m in ("latency_speedup", "dense_latency_s_mean", "variant_latency_s_mean")):
        raise PrunebenchError(f"{where}: an 'ok' row needs finite numbers for its speed-up and "
                              f"both mean latencies; {fix}")
    return flat


def paired_table(paired: pd.DataFrame, speed: pd.DataFrame | None = None) -> pd.DataFrame:
    """The paired speed-ups with their 95% intervals, the same runs' unpaired interval, and
    (where the speed table has the same cell and batch size) the speed-up read from the two
    separate jobs, `separate_jobs_speedup`, with `separate_outside_paired`: whether it lies
    outside the paired interval."""
    df = paired.copy()
    df["status"] = df["status"].map({OK: "ok", OOM: "OOM"})
    separate = pd.Series(np.nan, index=df.index)
    if speed is not None and not speed.empty and not df.empty:
        theirs = speed.drop_duplicates(_KEY).set_index(_KEY)["latency_speedup"]
        separate = pd.Series(theirs.reindex(pd.MultiIndex.from_frame(df[_KEY])).to_numpy(),
                             index=df.index, dtype=float)
    df["separate_jobs_speedup"] = separate
    low, high = df["latency_speedup_ci95_low"], df["latency_speedup_ci95_high"]
    known = separate.notna() & low.notna() & high.notna()
    df["separate_outside_paired"] = pd.Series(
        np.where(known, (separate < low) | (separate > high), pd.NA),
        index=df.index).astype("boolean")
    core = ["model", "variant", "backend", "tokens", "input_tokens", "output_tokens",
            "batch_size", "status", "params", "dense_params", "pairs", "latency_speedup",
            "latency_speedup_ci95_low", "latency_speedup_ci95_high", "unpaired_speedup",
            "unpaired_speedup_ci95_low", "unpaired_speedup_ci95_high",
            "separate_jobs_speedup", "separate_outside_paired", "dense_latency_s_mean",
            "variant_latency_s_mean", "competition", "decode_fallback", "device_name",
            "dtype"]
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
    flags = {"separate jobs outside the interval": table["separate_outside_paired"],
             "contended": table["competition"]}
    fell_back = table["decode_fallback"].map(nonempty_text)
    out["flags"] = [", ".join([name for name, rows in flags.items()
                               if pd.notna(rows[i]) and bool(rows[i])]
                              + (["ran eagerly"] if fell_back[i] else []))
                    for i in table.index]
    return out
