"""The tables (CSV + Markdown): speed, quality, summary and its headline, published vs
reproduced, and the cells whose timings are not to be trusted."""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np
import pandas as pd

from prunebench import PrunebenchError
from prunebench.atomic import atomic_path
from prunebench.plan import layout
from prunebench.benchmark.timing import (UNCACHED_DECODE_NOTE, compiled_while_timed_fix,
                                         ratio_ci95)
from prunebench.plan.sizes import format_params
from prunebench.report.load import (CELL, DENSE, OK, OOM, UNLIKE_NAMES, appearance,
                                    compiled_while_timed, contended, drifted, fell_back, noisy,
                                    sort_rows, timed_once, token_order, untrusted)

log = logging.getLogger(__name__)

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
        path = layout.PRUNE_REPORT.format(model=model, variant=variant)
        raise PrunebenchError(
            f"no prune report for {model}/{variant}: add {path} to the aggregate inputs "
            "(made by the prune rule)")
    out["params"] = out["params"].astype("int64")
    out.insert(out.columns.get_loc("params") + 1, "params_fmt",
               out["params"].map(lambda n: format_params(int(n))))
    return out


def _dense_rows(df: pd.DataFrame) -> pd.DataFrame:
    dense = df[df["variant"] == DENSE]
    cells = df[CELL].drop_duplicates()
    have = cells.merge(dense[CELL].drop_duplicates(), how="left", indicator=True)
    lacking = have[have["_merge"] == "left_only"]
    if not lacking.empty:
        c = lacking.iloc[0]
        path = layout.BENCH.format(model=c["model"], variant=DENSE, backend=c["backend"],
                                   lin=c["input_tokens"], lout=c["output_tokens"])
        raise PrunebenchError(
            f"no dense bench file for {c['model']} ({c['backend']}, "
            f"{c['input_tokens']}x{c['output_tokens']}): speed-ups are relative to the dense "
            f"model; add dense to models.{c['model']}.variants in the config (a config file "
            f"stacked on another replaces its variants list whole), or {path} to the aggregate "
            "inputs (made by the benchmark rule)")
    return dense


def speed_table(bench_df: pd.DataFrame, reports_df: pd.DataFrame) -> pd.DataFrame:
    """Per model x variant x backend x token config x batch size: params, latency, throughput,
    peak memory and speed-ups over the dense model in the same cell and batch size.

    throughput_speedup = throughput / dense throughput; latency_speedup = dense latency /
    latency (both > 1 means faster than dense; at one batch size and token count they are the
    same number). latency_speedup_ci95_low/high: its 95% interval from the two rows' runs
    (timing.ratio_ci95; empty where a row has one run). Speed-ups are NaN where the dense model ran out
    of memory or was not run at that batch size; OOM rows keep status "OOM" and NaN metrics.
    How far each timing can be trusted: p90, CV, the 95% interval of the mean, the `unstable`
    flag and the number of timed `runs` (prunebench.benchmark.timing), `contended` (other
    work beside it), `decode_fallback` (why a compiled row ran eagerly, if it did) and
    `graphs_compiled_while_timed` (a compile inside the timed runs, if any).
    `unlike_dense` names what the row's file was timed with that the dense file of its cell
    was not (device, dtype, decoding, CPU threads): its speed-ups measure that difference too.
    """
    df = _params(bench_df, reports_df)
    dense_rows = _dense_rows(df)
    dense = dense_rows[CELL + ["batch_size", "latency_s_mean", "latency_s_std", "runs",
                               "throughput_tok_s"]]
    df = df.merge(dense, on=CELL + ["batch_size"], how="left", suffixes=("", "_dense"))
    df["throughput_speedup"] = df["throughput_tok_s"] / df["throughput_tok_s_dense"]
    df["latency_speedup"] = df["latency_s_mean_dense"] / df["latency_s_mean"]
    # (dense against itself is 1 by definition: no interval)
    interval = [ratio_ci95((r.latency_s_mean_dense, r.latency_s_std_dense, _runs(r.runs_dense)),
                           (r.latency_s_mean, r.latency_s_std, _runs(r.runs)))
                if r.variant != DENSE else (None, None) for r in df.itertuples()]
    df["latency_speedup_ci95_low"] = [low for low, _ in interval]
    df["latency_speedup_ci95_high"] = [high for _, high in interval]
    for column in ("latency_speedup_ci95_low", "latency_speedup_ci95_high"):
        df[column] = pd.to_numeric(df[column])
    df["unlike_dense"] = _unlike_dense(df, dense_rows)
    df["peak_memory_gib"] = df["peak_memory_bytes"] / 2**30
    df["status"] = df["status"].map({OK: "ok", OOM: "OOM"})
    core = ["model", "variant", "backend", "tokens", "input_tokens", "output_tokens",
            "batch_size", "status", "params", "params_fmt", "latency_s_mean", "latency_s_std",
            "latency_s_min", "latency_s_median", "latency_s_p90", "latency_s_cv",
            "latency_s_ci95_low", "latency_s_ci95_high", "latency_s_ci95_rel", "unstable",
            "latency_s_trend", "latency_s_trend_p", "latency_s_lag1_autocorr",
            "latency_s_ci95_rel_ar1", "latency_s_trend_p_holm", "drifting_row", "drifting",
            "contended", "decode_fallback", "graphs_compiled_while_timed", "runs",
            "throughput_tok_s", "throughput_mean_of_rates", "peak_memory_gib",
            "throughput_speedup", "latency_speedup", "latency_speedup_ci95_low",
            "latency_speedup_ci95_high", "unlike_dense"]
    dropped = {"source", "peak_memory_bytes", "latency_s_mean_dense", "latency_s_std_dense",
               "runs_dense", "throughput_tok_s_dense", "batch_sizes_swept"}
    extras = [c for c in df.columns if c not in core and c not in dropped]
    return sort_rows(df[core + extras])


def _runs(value) -> int | None:
    """A row's timed runs (pandas' nullable integer: NA where not recorded)."""
    return None if pd.isna(value) else int(value)


# What a bench file records about how it was timed (load.TIMED_WITH's columns) -> its name in
# `unlike_dense`.
UNLIKE_DENSE = UNLIKE_NAMES


def _unlike_dense(df: pd.DataFrame, dense_rows: pd.DataFrame) -> pd.Series:
    """Per row, what its file was timed with that its cell's dense file was not ("device,
    dtype"), "" where alike; a setting a file does not record is not compared (as
    load.mixed_timing, which warns of the same cells)."""
    columns = [c for c in UNLIKE_DENSE if c in df]
    dense = dense_rows.drop_duplicates(CELL).set_index(CELL)[columns]
    theirs = dense.reindex(pd.MultiIndex.from_frame(df[CELL])).set_axis(df.index)
    differs = {UNLIKE_DENSE[c]: (df[c].notna() & theirs[c].notna() & (df[c] != theirs[c]))
               for c in columns}
    return pd.Series([", ".join(name for name, rows in differs.items() if rows.loc[i])
                      for i in df.index], index=df.index, dtype=object)


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
            path = layout.PRUNE_REPORT.format(model=model, variant=variant)
            raise PrunebenchError(
                f"evaluations of {model}/{variant} have no prune report: add {path} to the "
                "aggregate inputs (made by the prune rule)")
        out = out.merge(evals_df, on=["model", "variant"], how="left")
    out = sort_rows(out)
    if evals_df is not None:
        out.attrs["protocols"] = evals_df.attrs.get("protocols", {})
    return out


def summary_table(bench_df: pd.DataFrame, reports_df: pd.DataFrame,
                  evals_df: pd.DataFrame | None = None,
                  paired: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per model x variant: params, evaluations, and for each backend and token config the
    batch-1 latency, the best throughput over batch sizes (and the batch that gave it), each
    with its speed-up over dense. Columns are named `{backend}_{lin}x{lout}_{metric}`. With
    the paired table (report.paired.paired_table), also the paired batch-1 speed-up and its
    95% interval (`paired_b1_speedup*`) where the cell was timed in pairs.

    `throughput_tok_s` (batch * tokens / mean latency) is the one compared and plotted;
    `throughput_mean_of_rates` is the study's statistic (docs/benchmarks.md).

    The best-throughput speed-up compares the two best throughputs, each at its own batch
    size: a pruned model that fits a larger batch gets credit for it, as in the study.
    """
    speed = speed_table(bench_df, reports_df)
    ok = speed[speed["status"] == "ok"]
    cell = ["model", "variant", "backend", "tokens"]
    b1 = ok[ok["batch_size"] == 1].assign(flags=timing_flags).set_index(cell)
    best = ok.loc[ok.groupby(cell, sort=False)["throughput_tok_s"].idxmax()]
    best = best.assign(flags=timing_flags).set_index(cell)
    per_cell = pd.DataFrame(index=speed.set_index(cell).index.unique())
    per_cell["latency_b1_s"] = b1["latency_s_mean"]
    per_cell["latency_b1_speedup"] = b1["latency_speedup"]
    for end in ("low", "high"):  # its 95% interval (timing.ratio_ci95), for the figure's bars
        if f"latency_speedup_ci95_{end}" in b1:
            per_cell[f"latency_b1_speedup_ci95_{end}"] = b1[f"latency_speedup_ci95_{end}"]
    # Why, in words (the headline prints these): a figure resting on a contended dense timing
    # says "dense: contended", not a bare True that reads as the variant's own fault.
    per_cell["latency_b1_flags"] = _with_dense_flags(b1["flags"], per_cell.index)
    per_cell["latency_b1_flagged"] = per_cell["latency_b1_flags"] != ""
    per_cell["best_tok_s"] = best["throughput_tok_s"]
    per_cell["best_batch"] = best["batch_size"].astype("Int64")
    dense_best = per_cell.xs(DENSE, level="variant")["best_tok_s"]
    per_cell["best_speedup"] = per_cell["best_tok_s"] / dense_best.reindex(
        per_cell.index.droplevel("variant")).to_numpy()
    swept = _swept_unlike_dense(bench_df, per_cell.index)
    per_cell["best_flags"] = [", ".join(filter(None, [why, "swept other batch sizes than dense"
                                                      if other else ""]))
                              for why, other in zip(_with_dense_flags(best["flags"],
                                                                      per_cell.index), swept)]
    per_cell["best_flagged"] = per_cell["best_flags"] != ""
    if paired is not None and not paired.empty:
        from prunebench.report.paired import paired_flag_names

        pairs_b1 = paired[(paired["status"] == "ok") & (paired["batch_size"] == 1)]
        pairs_b1 = pairs_b1.assign(flags=lambda t: paired_flag_names(t).map(", ".join))
        pairs_b1 = pairs_b1.set_index(cell)
        for name in ("", "_ci95_low", "_ci95_high"):
            per_cell[f"paired_b1_speedup{name}"] = pairs_b1[f"latency_speedup{name}"]
        # in words for summary.md, as the other headline figures; True/False kept for scripts
        per_cell["paired_b1_flags"] = pairs_b1["flags"]
        per_cell["paired_b1_flagged"] = (pairs_b1["flags"] != "").astype("boolean")

    backends = appearance(speed["backend"])
    tokens = token_order(speed)
    wide = per_cell.unstack(["backend", "tokens"])
    columns = [(metric, b, t) for b in backends for t in tokens for metric in per_cell.columns
               if (metric, b, t) in wide.columns]
    wide = wide[columns]
    wide.columns = [f"{b}_{t}_{metric}" for metric, b, t in columns]
    # paired columns of cells that were not timed in pairs would stay empty: left out
    wide = wide.drop(columns=[c for c in wide.columns
                              if "_paired_b1_" in c and wide[c].isna().all()])
    wide = wide.reset_index()

    quality = quality_table(reports_df, evals_df).drop(columns=["method", "blocks"])
    out = quality.merge(wide, on=["model", "variant"], how="inner")
    # How many of the variant's timed rows (batch sizes x token configs x backends, out-of-memory
    # batch sizes not counted) there are,
    # and how many of them are unstable, had other work beside them, or ran eagerly where the
    # compiled backend was asked for: "3" flagged means little without "of 48".
    flags = ok.assign(flag=speedup_untrusted(ok)).groupby(["model", "variant"])["flag"]
    timed, flagged = flags.size(), flags.sum()
    keys = list(zip(out["model"], out["variant"]))
    out["timings"] = [int(timed.get(key, 0)) for key in keys]
    out["timings_flagged"] = [int(flagged.get(key, 0)) for key in keys]
    return sort_rows(out)


def _swept_unlike_dense(bench_df: pd.DataFrame, index: pd.MultiIndex) -> np.ndarray:
    """Per cell of `index` (model, variant, backend, tokens): whether its sweep was asked for
    other batch sizes than its dense model's (a cell remade under another config). The best
    throughputs are then taken over different batch sizes: the dense model may have done better
    at one it was never asked for, or the variant. Each such cell is warned of, by its files.
    A file that does not record its sweep is not compared."""
    if "batch_sizes_swept" not in bench_df:
        return np.zeros(len(index), dtype=bool)
    cell = ["model", "variant", "backend", "tokens"]
    files = bench_df.drop_duplicates(cell).set_index(cell)
    own = files["batch_sizes_swept"].reindex(index)
    dense_index = pd.MultiIndex.from_tuples(
        [(m, DENSE, b, t) for m, _, b, t in index], names=cell)
    dense = files["batch_sizes_swept"].reindex(dense_index)
    differs = own.notna().to_numpy() & dense.notna().to_numpy() & \
        (own.to_numpy() != dense.to_numpy())
    own_file = files["source"].reindex(index)
    dense_file = files["source"].reindex(dense_index)
    for i in np.flatnonzero(differs):
        log.warning("the best throughput of %s is compared with its dense model's over other "
                    "batch sizes (%s swept %s; %s swept %s): its best_speedup is flagged "
                    "(best_flagged). Remake the cell whose batch sizes are not this run's "
                    "(docs/results.md, \"Rerunning one cell\")", "/".join(map(str, index[i])),
                    own_file.iloc[i], own.iloc[i], dense_file.iloc[i], dense.iloc[i])
    return differs


def speedup_untrusted(speed: pd.DataFrame) -> pd.Series:
    """Rows whose speed-ups are not to be trusted as they stand: their timing is (`untrusted`),
    or they were timed unlike their dense row (another device, dtype, decoding or thread
    count: the speed-up measures that difference too)."""
    unlike = (speed["unlike_dense"].fillna("") != "" if "unlike_dense" in speed
              else pd.Series(False, index=speed.index))
    return untrusted(speed) | unlike


def _with_dense_flags(flags: pd.Series, index: pd.MultiIndex) -> list[str]:
    """Per cell of `index` (model, variant, backend, tokens): what flags its speed-up, from
    `flags` (timing_flags of the cells' rows): its own timing's names, then its dense model's
    in the same cell after "dense: " ("unstable; dense: contended"), "" where neither is
    flagged. A speed-up is as trustworthy as the less trustworthy of its two timings."""
    variants = index.get_level_values("variant")
    dense_flags = flags[flags.index.get_level_values("variant") == DENSE].droplevel("variant")
    own = flags.reindex(index)
    dense = dense_flags.reindex(index.droplevel("variant"))

    def words(names: Any) -> str:  # a cell without that row: NaN, nothing to say
        return ", ".join(names) if isinstance(names, list) else ""

    return ["; ".join(filter(None, [words(mine), "" if variant == DENSE or not words(theirs)
                                    else f"dense: {words(theirs)}"]))
            for variant, mine, theirs in zip(variants, own, dense)]


# How close a reproduced number must come to the published one: perplexity within 2% of it,
# accuracy within one point (0.01). Zero-shot accuracy moves by about a point between lm-eval
# versions and prompt details; perplexity by well under 1% between correct implementations.
PUBLISHED_TOLERANCE = {"ppl": ("relative", 0.02), "acc": ("absolute", 0.01)}


def load_published(path: str | os.PathLike) -> pd.DataFrame:
    """Published numbers (config/published.csv): model, variant, metric, published, and
    optionally source (where the study released it) and weights (the hub repositories of the
    weights it was measured on)."""
    table = pd.read_csv(path, comment="#")
    missing = {"model", "variant", "metric", "published"} - set(table.columns)
    if missing:
        raise PrunebenchError(f"{path} lacks the column(s) {sorted(missing)}: it needs model, "
                              "variant, metric (e.g. ppl_wikitext2, acc_boolq), published")
    kinds = table["metric"].astype(str).str.split("_").str[0]
    bad = table.loc[~kinds.isin(list(PUBLISHED_TOLERANCE)), "metric"].tolist()
    if bad:
        raise PrunebenchError(f"{path}: metric {bad[0]!r} is neither ppl_<dataset> nor "
                              "acc_<task> (nor acc_average): name it as the quality table does")
    named = table.loc[table["metric"].astype(str).str.startswith("acc_norm_"),
                      "metric"].tolist()
    if named:
        raise PrunebenchError(f"{path}: metric {named[0]!r} names the score kind: write "
                              "acc_<task> (the task's metric is the study's, acc_norm for "
                              "hellaswag, arc_challenge, openbookqa; acc otherwise)")
    repeated = table[table.duplicated(["model", "variant", "metric"], keep=False)]
    if not repeated.empty:
        first = repeated.iloc[0]
        raise PrunebenchError(f"{path}: {first['model']}/{first['variant']} {first['metric']} "
                              "is given twice: keep one row")
    if not pd.to_numeric(table["published"], errors="coerce").notna().all():
        raise PrunebenchError(f"{path}: every `published` value must be a number")
    return table


# How the study measured what config/published.csv holds. A number reproduced another way is
# listed beside the published one, but not compared (`comparable`, `differs_by`).
# Both ran the model in float16 (its checkpoints' dtype; a float32 run moves the numbers by
# far less than the tolerances, but it is not the study's measurement).
STUDY_PERPLEXITY = {"window": 128, "stride": 128, "bos": "first", "max_windows": None,
                    "tokenization": "sentencepiece_legacy", "dtype": "float16"}
STUDY_ZEROSHOT = {"num_fewshot": 0, "limit": None, "add_bos_token": False, "dtype": "float16",
                  # the study's transformers cast LLaMA's logits to float32 before lm-eval's
                  # log-softmax
                  "log_softmax_dtype": "float32",
                  # its lm-eval encoded the requests with the slow SentencePiece LlamaTokenizer
                  "tokenization": "sentencepiece_legacy"}


def protocol_differences(metric: str, protocol: dict[str, Any] | None,
                         weights: str | None = None) -> list[str]:
    """Why a reproduced `metric` (ppl_<dataset>, acc_<task>, acc_average) was not measured as
    the study measured its published one; [] when it was. `protocol`: how its eval file says
    it was measured (report.load._protocol); `weights`: the hub repositories holding the
    weights the published number was measured on ('|' between copies; published.csv's
    `weights`), against which a hub model's repository is checked. A `local:` folder's
    weights cannot be told apart: it is compared as given."""
    from prunebench.zeroshot import PAPER_TASKS, summary_metric

    if protocol is None:
        return ["its eval file records no settings"]
    out = []
    source = protocol.get("source")
    if isinstance(source, str) and not source.startswith(("hf:", "local:")):
        out.append(f"model source {source} (not the published weights)")
    studied = [repo.strip() for repo in weights.split("|") if repo.strip()] \
        if isinstance(weights, str) else []
    if isinstance(source, str) and source.startswith("hf:") and studied:
        repo = source.removeprefix("hf:").split("@")[0]
        if repo.lower() not in {r.lower() for r in studied}:  # the hub's ids ignore case
            out.append(f"model source {source}, the study's {' or '.join(studied)}")
    kind = "ppl" if metric.startswith("ppl_") else "acc"
    settings = protocol.get(kind)
    if settings is None:
        return [*out, "its eval file records no settings"]
    expected: dict[str, Any] = dict(STUDY_PERPLEXITY if kind == "ppl" else STUDY_ZEROSHOT)
    if kind == "acc":
        task = metric.removeprefix("acc_")
        tasks = settings.get("tasks") or []
        if task == "average":
            if sorted(tasks) != sorted(PAPER_TASKS):
                out.append(f"the average of {len(tasks)} tasks, not the study's seven")
            chosen = settings.get("metric") or {}
            changed = sorted(t for t in tasks if chosen.get(t) not in (None, summary_metric(t)))
            if changed:
                out.append(f"other metrics for {changed}")
        elif task in PAPER_TASKS:
            used = (settings.get("metric") or {}).get(task)
            if used is not None and used != summary_metric(task):
                out.append(f"metric {used}, the study's {summary_metric(task)}")
    for key, value in expected.items():
        if settings.get(key) != value:
            out.append(f"{key} {settings.get(key)!r}, the study's {value!r}")
    return out


def published_vs_reproduced(quality: pd.DataFrame, published: pd.DataFrame,
                            protocols: dict[tuple[str, str], dict[str, Any]] | None = None
                            ) -> pd.DataFrame:
    """Per model, variant and metric with both numbers: published, reproduced, the difference,
    whether the reproduction was measured as the study measured (`comparable`; if not, how it
    `differs_by`) and, only then, whether it is within PUBLISHED_TOLERANCE. Empty when no
    configured cell was published.

    `protocols` ({(model, variant): how its eval files say it was measured}): by default what
    `load_evals` found, carried by `quality_table` in `quality.attrs`. Where neither says,
    `comparable` is unknown (empty) and the number is judged as it stands."""
    metrics = [c for c in quality.columns if c.startswith(("ppl_", "acc_"))
               and not c.endswith("_stderr")]
    reproduced = quality.melt(id_vars=["model", "variant"], value_vars=metrics,
                              var_name="metric", value_name="reproduced").dropna()
    out = published.merge(reproduced, on=["model", "variant", "metric"], how="inner")
    _log_unmatched(quality, published, out)
    kind = out["metric"].str.split("_").str[0]
    out["difference"] = out["reproduced"] - out["published"]
    bound = [PUBLISHED_TOLERANCE[k][1] * (abs(p) if PUBLISHED_TOLERANCE[k][0] == "relative" else 1)
             for k, p in zip(kind, out["published"])]
    out["tolerance"] = bound
    if protocols is None:
        protocols = quality.attrs.get("protocols")
    weights = out["weights"] if "weights" in out else pd.Series(None, index=out.index)
    reasons = [protocol_differences(m, protocols.get((model, variant)),
                                    w if isinstance(w, str) else None)
               if protocols is not None else None
               for model, variant, m, w in zip(out["model"], out["variant"], out["metric"],
                                               weights)]
    # Nullable booleans: empty where not known (comparable) or not judged (within).
    out["comparable"] = pd.array([None if r is None else not r for r in reasons], dtype="boolean")
    out["differs_by"] = ["" if r is None else "; ".join(r) for r in reasons]
    within = pd.array(out["difference"].abs() <= out["tolerance"], dtype="boolean")
    out["within"] = within
    out.loc[out["comparable"].fillna(True).eq(False).to_numpy(), "within"] = pd.NA
    skipped = out[out["comparable"].fillna(True).eq(False)]
    if not skipped.empty:
        log.warning("%d published number(s) were reproduced otherwise than the study measured "
                    "them (published_vs_reproduced: comparable False), e.g. %s/%s %s: %s",
                    len(skipped), *skipped.iloc[0][["model", "variant", "metric", "differs_by"]])
    columns = ["model", "variant", "metric", "published", "reproduced", "difference",
               "tolerance", "within", "comparable", "differs_by"] + (
                   ["source"] if "source" in out else [])
    return out[columns].reset_index(drop=True)


def _log_unmatched(quality: pd.DataFrame, published: pd.DataFrame, matched: pd.DataFrame) -> None:
    """Name the published numbers of configured variants that found no reproduced column: a
    metric spelt otherwise than the quality table's, or not evaluated in this run."""
    configured = set(zip(quality["model"], quality["variant"]))
    found = set(zip(matched["model"], matched["variant"], matched["metric"]))
    missed = [f"{m}/{v} {metric}" for m, v, metric in
              zip(published["model"], published["variant"], published["metric"])
              if (m, v) in configured and (m, v, metric) not in found]
    if missed:
        log.info("%d published number(s) of configured variants have no reproduced value in "
                 "this run (not evaluated, or the metric named otherwise), e.g. %s",
                 len(missed), ", ".join(missed[:3]))


def memory_measure(method: Any) -> str:
    """What a row's peak memory measured, in a word or two (its `peak_memory_method`): on a
    GPU the tensors torch allocated; on a CPU the process's resident memory, the Python
    interpreter and libraries included, which says little about the model's size."""
    if not isinstance(method, str):
        return ""
    if method.startswith("torch.cuda"):
        return "GPU tensors"
    if "lifetime" in method:  # ru_maxrss: the model's load and every batch size before it too
        return "process RSS (lifetime)"
    return "process RSS" if "RSS" in method else method


def speed_headline(speed: pd.DataFrame) -> pd.DataFrame:
    """The speed table as people read it (speed.md): per row the cell, size, mean latency with
    the half-width of its 95% interval as a share of the mean, throughput, peak memory (with
    what it measured, `peak_memory_of`, where a row was not timed on a GPU), the
    speed-up over dense with its 95% interval, and one `flags`
    column saying why a timing is not to be trusted as it stands (unstable, contended, run
    eagerly, timed unlike the dense file). Every column stays in speed.csv."""
    # One speed-up: at a row's batch size and token count the throughput ratio equals the
    # latency ratio (speed.csv keeps both names); beside it, its 95% interval.
    columns = ["model", "variant", "backend", "tokens", "batch_size", "status", "params_fmt",
               "latency_s_mean", "latency_s_ci95_rel", "throughput_tok_s", "peak_memory_gib",
               "latency_speedup"]
    out = speed[[c for c in columns if c in speed.columns]].copy()
    if "peak_memory_method" in speed and "peak_memory_gib" in out:
        measured = speed["peak_memory_method"].map(memory_measure)
        # a CPU run's: the whole process, not the model (files from before the method was
        # recorded say nothing: "")
        if ((measured != "GPU tensors") & (measured != "")).any():
            out.insert(out.columns.get_loc("peak_memory_gib") + 1, "peak_memory_of", measured)
    if "latency_speedup_ci95_low" in speed:
        out["speedup_ci95"] = interval_text(speed["latency_speedup_ci95_low"],
                                            speed["latency_speedup_ci95_high"])

    own = timing_flags(speed)
    dense = dense_untrusted(speed)
    out["flags"] = [", ".join(own[i] + (["dense row flagged (so are its speed-ups)"]
                                        if dense[i] else []))
                    for i in speed.index]
    return out


def timing_flags(speed: pd.DataFrame) -> pd.Series:
    """Per row of the speed table, the names of what makes its own timing or its speed-ups
    not to be trusted as they stand (unstable, drifting, contended, ran eagerly, compiled
    while timed, unlike dense: what differed), as speed.md's `flags` and the summary's
    `_flags` print them: a row has names exactly where `speedup_untrusted` holds."""
    def flagged(column: str) -> pd.Series:  # a column older files lack flags nothing
        if column not in speed:
            return pd.Series(False, index=speed.index)
        return speed[column].fillna(False).astype(bool)

    named = {"unstable": flagged("unstable"), "drifting": flagged("drifting"),
             "contended": flagged("contended"), "ran eagerly": fell_back(speed),
             "compiled while timed": compiled_while_timed(speed)}
    unlike = speed["unlike_dense"].fillna("") if "unlike_dense" in speed else None
    return pd.Series([[name for name, rows in named.items() if rows[i]]
                      + ([f"unlike dense: {unlike[i]}"] if unlike is not None and unlike[i]
                         else [])
                      for i in speed.index], index=speed.index, dtype=object)


def number_text(value: float) -> str:
    """A number as the Markdown tables print it: 4 significant digits, whole thousands above.
    Intervals print their ends the same way: rounding alike is monotone, so a printed point
    always lies within its printed interval (with fewer digits "1.235 [1.24, 1.24]" did not)."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def interval_text(low: pd.Series, high: pd.Series) -> list[str]:
    """A Markdown view's 95% intervals, "[1.22, 1.33]" ("" where either end is missing)."""
    return [f"[{number_text(a)}, {number_text(b)}]" if pd.notna(a) and pd.notna(b) else ""
            for a, b in zip(low, high)]


def dense_untrusted(speed: pd.DataFrame) -> pd.Series:
    """Rows of pruned variants whose dense row (same model, backend, tokens and batch size) is
    untrusted: their speed-ups divide by that timing, however clean their own."""
    row = ["model", "backend", "tokens", "batch_size"]
    dense = speed[speed["variant"] == DENSE]
    bad = set(map(tuple, dense.loc[untrusted(dense), row].itertuples(index=False)))
    keys = speed[row].itertuples(index=False)
    return pd.Series([v != DENSE and tuple(k) in bad for v, k in zip(speed["variant"], keys)],
                     index=speed.index)


# The tables whose Markdown opens with timing_caption: they hold the separate jobs' timings and
# speed-ups (the paired table's intervals are the paired ones, which hold what the caption says
# those leave out).
TIMED_TABLES = ("speed", "summary")


def timing_caption(speed: pd.DataFrame) -> str:
    """The lines above a timed table's Markdown (TIMED_TABLES): what its timings were made on,
    and what their intervals hold and leave out, where a reader of the table looks first."""
    def named(column: str) -> str:
        values = appearance(speed[column].dropna()) if column in speed else []
        return "; ".join(map(str, values))

    devices, software = named("device_name"), named("software")
    made_on = f"Timed on {devices or 'a device its files do not name'}" + \
        (f" ({software})" if software else "")
    uncached = appearance(speed.loc[speed["floor_note"] == UNCACHED_DECODE_NOTE, "model"]) \
        if "floor_note" in speed else []
    recomputed = (f" The hf rows of {', '.join(map(str, uncached))} ran without a KV cache "
                  "(OpenAI GPT's class reads none: each step runs the whole sequence so far "
                  "again, so a row's time per token grows with the length decoded, quadratic "
                  "in all; `floor_note`): compare them with rows of the same token counts "
                  "only." if uncached else "")
    return (f"{made_on}.{recomputed} A speed-up's 95% interval holds the spread of its two "
            "timings' runs within their jobs, not what changes between jobs (other work on the machine, a "
            "cell rerun later), which `benchmark.paired` measures (docs/benchmarks.md, \"How "
            "far to trust a timing\"). *Flagged*: a timing not to trust as it stands "
            "(unstable, drifting, contended, run eagerly, or timed unlike its dense model), or "
            "a speed-up resting on one; the summary names why beside each speed-up (`_flags`: "
            "its own timing's flags, then its dense model's after `dense:`, e.g. `dense: "
            "contended`: quote such a figure only with that said, or rerun the cell). Every "
            "statistic: the CSV beside this file.")


def quality_caption(quality: pd.DataFrame) -> str:
    """The lines above quality.md: what each column holds, in what unit, how its numbers were
    measured (from the eval files' protocols: window and stride, tasks, few-shot, metric) and
    what an empty cell means, so that the table reads without the docs beside it."""
    columns = set(quality.columns)
    said = ["Per model and variant: `params` (exact; `params_fmt` rounded), `params_pct_dense` "
            "(% of the dense model's parameters), `blocks` (decoder blocks kept)."]
    protocols = quality.attrs.get("protocols", {}).values()

    def shown(value: Any) -> str:  # a per-task mapping ({task: metric}) as "boolq acc, ..."
        if isinstance(value, dict):
            return "(" + ", ".join(f"{task} {shown(v)}" for task, v in value.items()) + ")"
        return str(value)

    def settings(section: str, keys: tuple[str, ...]) -> str:
        seen = appearance(tuple((key, shown(p[section].get(key))) for key in keys)
                          for p in protocols if section in p)
        written = (", ".join(f"{k} {v}" for k, v in one if v != "None") for one in seen)
        return "; ".join(text for text in written if text)  # files that record none: nothing

    if any(c.startswith("ppl_") for c in columns):
        how = settings("ppl", ("window", "stride", "bos"))
        said.append("`ppl_<dataset>`: perplexity on the dataset's test text, lower is better "
                    "(inf: the model diverged on it)" + (f" ({how})" if how else "") + ".")
    if any(c.startswith("acc_") for c in columns):
        how = settings("acc", ("num_fewshot", "limit", "metric"))
        said.append("`acc_<task>`: zero-shot accuracy as a fraction (1 is every answer right), "
                    "`acc_average` their mean"
                    + (" and `acc_average_stderr` its standard error" if "acc_average_stderr"
                       in columns else "") + (f" ({how})" if how else "") + ".")
    said.append("An empty cell: not measured (that evaluation is off in the config, or not "
                "asked of that variant). How each number was made: the eval files, and "
                "provenance.json beside this file.")
    return " ".join(said)


def table_caption(name: str, table: pd.DataFrame, speed: pd.DataFrame) -> str:
    """The paragraph above the aggregate's table `name` in its Markdown: the timed tables'
    (timing_caption, from the speed table), the quality table's, or none."""
    if name in TIMED_TABLES:
        return timing_caption(speed)
    if name == "quality":
        return quality_caption(table)
    return ""


def compact_view(name: str, table: pd.DataFrame) -> pd.DataFrame | None:
    """The Markdown view of the aggregate's table `name` where it is narrower than the CSV."""
    from prunebench.report.paired import paired_headline

    views = {"summary": headline_table, "speed": speed_headline,
             "paired_speedup": paired_headline}
    return views[name](table) if name in views else None


def headline_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary as people read it (summary.md): model, variant, size and share of dense,
    perplexities, zero-shot average, then on the first backend and the smallest token config
    (fewest output, then input tokens) the batch-1 speed-up with its within-job 95% interval
    (and, where that cell was timed in pairs, the paired one with its interval) and the best
    throughput with its
    batch, each with what flags the timings it rests on (`_flags`: its own timing's flags,
    then its dense model's after "dense: "; empty where neither is flagged), and how many
    timings there are and how many of them are flagged. The wide per-configuration columns
    stay in summary.csv."""
    speedups = [c for c in summary.columns if c.endswith("_latency_b1_speedup")]
    cell = speedups[0].removesuffix("_latency_b1_speedup") if speedups else None
    columns = ["model", "variant", "params_fmt", "params_pct_dense"]
    columns += [c for c in summary.columns if c.startswith("ppl_")]
    columns += [c for c in ("acc_average", "acc_average_stderr") if c in summary.columns]
    if cell:
        # Why a figure is flagged, in words ("dense: contended"), not the CSV's True/False:
        # a bare True beside a speed-up was quoted as if it were the variant's own noise.
        columns += [f"{cell}_latency_b1_speedup", f"{cell}_latency_b1_ci95",
                    f"{cell}_latency_b1_flags",
                    f"{cell}_paired_b1_speedup", f"{cell}_paired_b1_ci95",
                    f"{cell}_paired_b1_flags",
                    f"{cell}_best_tok_s", f"{cell}_best_batch", f"{cell}_best_flags"]
    columns += [c for c in ("timings", "timings_flagged") if c in summary.columns]
    summary = summary.copy()
    # A speed-up's interval where its timings give one (results with their runs recorded):
    # between two runs of one machine the batch-1 speed-up of a small model moves by more
    # than its point value suggests.
    low, high = (f"{cell}_latency_b1_speedup_ci95_{end}" for end in ("low", "high"))
    if cell and low in summary and summary[low].notna().any():
        summary[f"{cell}_latency_b1_ci95"] = interval_text(summary[low], summary[high])
    if cell and f"{cell}_paired_b1_speedup" in summary:  # the paired figure, with its interval
        summary[f"{cell}_paired_b1_ci95"] = interval_text(
            summary[f"{cell}_paired_b1_speedup_ci95_low"],
            summary[f"{cell}_paired_b1_speedup_ci95_high"])
    return summary[[c for c in columns if c in summary.columns]]


def flagged_cells(speed: pd.DataFrame) -> list[str]:
    """Result files (results/bench/...) with a row whose timing is unstable, drifting or
    contended: the cells to rerun on a quiet machine, which the aggregation names at the end
    of the run.

    Cells whose compiled decode step ran eagerly (`decode_fallback`: the compiled or the
    hf_static backend), cells whose timed runs compiled (`graphs_compiled_while_timed`), and
    cells whose only
    unstable rows had a single timed run (`repeats: 1`, or a first run over `max_seconds`) and
    no other work beside them, are flagged in the tables and figures too, but are not returned:
    a quiet machine does not fix them. They are logged here instead, each with what does; a
    cell timed once beside other work gets both: returned, and logged as timed once."""
    ok = speed[speed["status"] == "ok"]
    key = ["model", "variant", "backend", "input_tokens", "output_tokens"]

    def path(r) -> str:
        return layout.BENCH.format(model=r.model, variant=r.variant, backend=r.backend,
                                   lin=r.input_tokens, lout=r.output_tokens)

    for r in ok[fell_back(ok)].drop_duplicates(key).itertuples():
        # hf_static rows too (transformers compiled nothing on the GPU), named as theirs
        log.warning("%s: the %s decode step ran eagerly (%s), so its timings are not "
                    "the %s backend's (decode_fallback in results/tables/speed.csv): "
                    "fix that cause, then rerun the cell", path(r), r.backend, r.decode_fallback,
                    r.backend)
    for r in ok[compiled_while_timed(ok)].drop_duplicates(key).itertuples():
        log.warning("%s: graphs were compiled inside its timed runs, so its latencies hold "
                    "that compile (graphs_compiled_while_timed in results/tables/speed.csv): "
                    "%s", path(r), compiled_while_timed_fix(r.backend))
    once = timed_once(ok)
    for r in ok[once].drop_duplicates(key).itertuples():
        log.warning("%s has batch sizes timed only once (runs = 1 in results/tables/speed.csv): "
                    "one run shows no spread, so they are flagged unstable on any machine: "
                    "set the benchmark's repeats (and max_repeats) to 2 or more, or raise "
                    "max_seconds, then rerun the cell", path(r))
    only_once = once & ~contended(ok)  # a quiet machine changes nothing for these
    redo = (noisy(ok) | drifted(ok)) & ~only_once
    return [path(r) for r in ok[redo][key].drop_duplicates().itertuples()]


def rerun_advice(cells: list[str], configfiles: str) -> str | None:
    """One warning for every cell `flagged_cells` returns, with one command that redoes them all
    and the tables (`configfiles`: this run's arguments to repeat, as the workflow passes them,
    layout.RERUN_CONFIG_VARIABLE, or load.THIS_RUN), or None. The command is built as every
    other rerun command (layout.command_line): the cells' paths quoted for a shell."""
    if not cells:
        return None
    shown = ", ".join(cells[:3]) + (f" and {len(cells) - 3} more" if len(cells) > 3 else "")
    speed_csv = layout.TABLE.format(table="speed", ext="csv")
    command = layout.command_line("-f", *cells, speed_csv, run_arguments=configfiles)
    return (f"{len(cells)} result file(s) have unstable, drifting or contended timings ({shown}; "
            f"the columns unstable, drifting and contended of {speed_csv} say which rows; "
            "drifting: the latency kept "
            "changing over the timed runs, which more warm-up, benchmark.warmup, also helps): "
            f"rerun them on a quiet machine with `{command}`")


def _markdown_cell(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–"
    if isinstance(value, (float, np.floating)):
        return number_text(value)
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
                allow_empty: bool = False, markdown: pd.DataFrame | None = None,
                empty_note: str = "", caption: str = "") -> None:
    """Write `df` as CSV (full precision, for analysis) and as a Markdown pipe table (of
    `markdown` instead where given: a compact view of a wide table), after `caption` (a
    paragraph: timing_caption). An empty table is refused (results went missing) unless
    `allow_empty` (a comparison that may have nothing to compare); its Markdown then says why
    below its header (`empty_note`), not a bare header."""
    if df.empty and not allow_empty:
        raise PrunebenchError(
            f"refusing to write an empty table to {csv_path}: no result rows reached it; "
            "check that the aggregate rule lists the result files")
    with atomic_path(csv_path) as tmp:
        df.to_csv(tmp, index=False)
    with atomic_path(md_path) as tmp:
        text = to_markdown(df if markdown is None else markdown)
        if df.empty and empty_note:
            text = f"{text.rstrip()}\n\n{empty_note}\n"
        if caption:
            text = f"{caption}\n\n{text}"
        tmp.write_text(text, encoding="utf-8")
