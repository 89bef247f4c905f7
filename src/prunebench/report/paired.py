"""The paired speed-up table: each pruned variant timed in turns with its dense model
(results/paired/..., prunebench.benchmark.paired; read by load.load_paired), beside the
speed-up that the speed table reads from two separate jobs.

Where the separate jobs' 95% interval and the paired one do not overlap, the two estimates
disagree by more than either's noise explains (on runs that differ only by chance, two 95%
intervals miss each other far less often than one estimate falls outside the other's
interval: 0.3-0.6% against 15-16% in a simulation, docs/benchmarks.md): something changed
between the two jobs (other work, clocks, the machine) that their own intervals do not hold. The paired figure is the one
to quote, and the flag points at the cells whose separate timings to redo.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from prunebench.report.load import (OK, OOM, UNLIKE_NAMES, compiled_while_timed,
                                    nonempty_text)

_KEY = ["model", "variant", "backend", "input_tokens", "output_tokens", "batch_size"]
# What the two timings must share for their speed-ups to be compared (column: its name).
_TIMED_ALIKE = UNLIKE_NAMES
_SEPARATE = {"latency_speedup": "separate_jobs_speedup",
             "latency_speedup_ci95_low": "separate_jobs_speedup_ci95_low",
             "latency_speedup_ci95_high": "separate_jobs_speedup_ci95_high"}


def paired_table(paired: pd.DataFrame, speed: pd.DataFrame | None = None) -> pd.DataFrame:
    """The paired speed-ups with their 95% intervals, the same runs' unpaired interval, and,
    where the speed table has the same cell and batch size timed alike (device, dtype,
    decoding, where both record them), the speed-up read from the two separate jobs with its
    interval (`separate_jobs_speedup*`) and `separate_jobs_disagree`: whether that interval
    and the paired one do not overlap. `separate_timed_unlike` names what differed where the
    speed table's row was left out: from the pairs, or between its own two jobs (its
    `unlike_dense`)."""
    df = paired.copy()
    df["status"] = df["status"].map({OK: "ok", OOM: "OOM"})
    for column in _SEPARATE.values():
        df[column] = np.nan
    df["separate_timed_unlike"] = ""
    if speed is not None and not speed.empty and not df.empty:
        alike = [c for c in _TIMED_ALIKE if c in speed and c in df]
        own = ["unlike_dense"] if "unlike_dense" in speed else []
        theirs = speed.drop_duplicates(_KEY).set_index(_KEY)[list(_SEPARATE) + alike + own]
        theirs = theirs.reindex(pd.MultiIndex.from_frame(df[_KEY])).set_axis(df.index)
        differs = {c: theirs[c].notna() & df[c].notna() & (theirs[c] != df[c]) for c in alike}
        # The separate speed-up itself divides timings made unlike (the speed table's flag):
        # no figure to compare either.
        apart = (theirs["unlike_dense"].map(nonempty_text) if own
                 else pd.Series(False, index=df.index))
        unlike = pd.Series([", ".join([_TIMED_ALIKE[c] for c in alike if differs[c][i]]
                                      + ([f"its dense job ({theirs['unlike_dense'][i]})"]
                                         if apart[i] else []))
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
            "dense_latency_s_mean", "variant_latency_s_mean", "contended", "decode_fallback",
            "graphs_compiled_while_timed", "device_name", "dtype"]
    return df[[c for c in core if c in df.columns]]


def paired_headline(table: pd.DataFrame) -> pd.DataFrame:
    """paired_speedup.md: the cell, the paired speed-up and its interval, the unpaired interval
    of the same runs, the separate jobs' speed-up, and one `flags` column."""
    from prunebench.report.tables import interval_text as interval

    out = table[["model", "variant", "backend", "tokens", "batch_size", "status", "pairs",
                 "latency_speedup"]].copy()
    out["speedup_ci95"] = interval(table["latency_speedup_ci95_low"],
                                   table["latency_speedup_ci95_high"])
    out["unpaired_ci95"] = interval(table["unpaired_speedup_ci95_low"],
                                    table["unpaired_speedup_ci95_high"])
    out["separate_jobs_speedup"] = table["separate_jobs_speedup"]
    out["separate_ci95"] = interval(table["separate_jobs_speedup_ci95_low"],
                                    table["separate_jobs_speedup_ci95_high"])
    disagree = table["separate_jobs_disagree"]
    untrusting = paired_flag_names(table)
    unlike = table["separate_timed_unlike"]
    out["flags"] = [", ".join((["separate jobs disagree"]
                               if pd.notna(disagree[i]) and bool(disagree[i]) else [])
                              + untrusting[i]
                              + ([f"separate jobs timed unlike: {unlike[i]}"] if unlike[i] else []))
                    for i in table.index]
    return out


def paired_flag_names(table: pd.DataFrame) -> pd.Series:
    """Per paired row, the names of what makes its speed-up not to be trusted as it stands
    (`contended`: other work beside the pairs; `ran eagerly`: a side's compiled decode step;
    `compiled while timed`), as benchmark.paired.row_flags says in a file: the paired table's
    and the summary's words for it."""
    contended = table.get("contended", pd.Series(pd.NA, index=table.index))
    contended = contended.fillna(False).astype(bool)
    fell_back = table.get("decode_fallback", pd.Series(pd.NA, index=table.index))
    fell_back = fell_back.map(nonempty_text).astype(bool)
    compiled = compiled_while_timed(table)
    return pd.Series([[name for name, rows in (("contended", contended),
                                               ("ran eagerly", fell_back),
                                               ("compiled while timed", compiled)) if rows[i]]
                      for i in table.index], index=table.index, dtype=object)


def paired_untrusted(table: pd.DataFrame) -> pd.Series:
    """Paired rows not to be trusted as they stand: other work beside the pairs, a side whose
    compiled decode step ran eagerly, or a compile inside the timed pairs (as
    benchmark.paired.row_flags says in a file)."""
    return paired_flag_names(table).map(bool).astype(bool)
