"""Tables and figure from synthetic result files (the aggregation logic, not real measurements)."""

from __future__ import annotations

import json
import logging
import math
import re
import shlex
import struct

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection, PathCollection
import yaml
from matplotlib.colors import rgb_to_hsv, to_hex, to_rgb

from prunebench import PrunebenchError
from prunebench import report
from prunebench.report import style as figure_style
from prunebench.methods.registry import METHODS

DENSE_PARAMS = {"m7": 6_738_415_616, "m13": 13_015_864_320}
BLOCK_PARAMS = {"m7": 202_383_360, "m13": 317_204_480}
BLOCKS = {"m7": 32, "m13": 40}


def _latency(model, variant, backend, lin, lout, bs):
    """A distinct, deterministic synthetic latency for every cell, so a speed-up computed against
    the wrong dense row gives a different number."""
    scale = {"m7": 1.0, "m13": 1.9}[model] * {"hf": 1.0, "hf_static": 0.8, "compiled": 0.6}[backend]
    scale *= {"dense": 1.0, "depth-4.9B": 0.7, "flap-4.9B": 0.9}[variant]
    return scale * (lout / 128) * (1 + lin / 100) * (1 + 0.05 * bs)


def write_bench(root, model, variant, backend, lin, lout, batches=(1, 8, 16), oom=(),
                unstable=None):
    """A bench file. With `unstable` (batch sizes to flag) its rows carry the noise fields of
    prunebench.benchmark.timing; without, they look like files written before those existed."""
    rows = []
    for bs in batches:
        if bs in oom:
            rows.append({"batch_size": bs, "status": "oom"})
            continue
        lat = _latency(model, variant, backend, lin, lout, bs)
        rows.append({"batch_size": bs, "status": "ok", "latency_s_mean": lat,
                     "latency_s_std": lat / 50, "latency_s_min": lat * 0.98,
                     "latency_s_median": lat, "throughput_tok_s": bs * lout / lat,
                     "peak_memory_bytes": (1 + bs) * 2**30, "decode_step_s": lat / lout,
                     "floor": {"decode_step_s": lat / lout / 3}})
        if unstable is not None:
            share = 0.08 if bs in unstable else 0.01
            rows[-1].update({"latency_s_p90": lat * 1.03, "latency_s_cv": share * 2,
                             "latency_s_ci95_low": lat * (1 - share),
                             "latency_s_ci95_high": lat * (1 + share),
                             "latency_s_ci95_rel": share, "unstable": bs in unstable,
                             "runs": 50 if bs in unstable else 20, "stop_reason": "stable",
                             "throughput_mean_of_rates": bs * lout / lat * 1.001,
                             "decode_step_s_p50": lat / lout, "decode_step_s_p90": lat / lout})
    path = root / "results/bench" / model / variant / backend / f"{lin}x{lout}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"model": model, "variant": variant, "backend": backend,
                                "input_tokens": lin, "output_tokens": lout, "params": 1,
                                "dtype": "float16", "attention": "flash", "rows": rows,
                                "provenance": {"seed": 0}}))
    return path


def write_report(root, model, variant):
    removed = 0 if variant == "dense" else 9
    path = root / "results/pruned" / model / variant / "prune_report.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "model": model, "variant": variant, "method": variant.split("-")[0],
        "target": variant.split("-")[-1], "params_before": DENSE_PARAMS[model],
        "params_after": DENSE_PARAMS[model] - removed * BLOCK_PARAMS[model],
        "blocks_before": BLOCKS[model], "blocks_after": BLOCKS[model] - removed,
        "method_report": {"removed": list(range(removed))}, "provenance": {}}))
    return path


def write_eval(root, model, variant, name, payload):
    path = root / "results/eval" / model / variant / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"model": model, "variant": variant, **payload}))
    return path


VARIANTS = ("dense", "depth-4.9B", "flap-4.9B")


@pytest.fixture
def study(tmp_path):
    """2 models x 3 variants x 2 backends x 2 token configs; dense m7 hf 12x128 OOMs at 16 and
    flap m7 hf 12x128 OOMs at 16 too; depth fits."""
    bench, reports, evals = [], [], []
    for model in ("m7", "m13"):
        for variant in VARIANTS:
            reports.append(write_report(tmp_path, model, variant))
            evals.append(write_eval(tmp_path, model, variant, "ppl.json", {
                "perplexity": {"wikitext2": 10 + len(variant), "ptb": 20 + len(variant)}}))
            for backend in ("hf", "compiled"):
                for lin, lout in ((12, 128), (82, 128), (12, 512)):
                    oom = (16,) if (model, backend, lin, lout) == ("m7", "hf", 12, 128) \
                        and variant != "depth-4.9B" else ()
                    bench.append(write_bench(tmp_path, model, variant, backend, lin, lout,
                                             oom=oom))
    return tmp_path, bench, reports, evals


def _row(df, **where):
    mask = np.ones(len(df), dtype=bool)
    for key, value in where.items():
        mask &= (df[key] == value).to_numpy()
    assert mask.sum() == 1, where
    return df[mask].iloc[0]


def test_load_bench_one_row_per_batch_with_extras(study):
    _, bench, _, _ = study
    df = report.load_bench(bench)
    assert len(df) == 2 * 3 * 2 * 3 * 3
    assert not df.duplicated(["model", "variant", "backend", "tokens", "batch_size"]).any()
    row = _row(df, model="m13", variant="flap-4.9B", backend="hf", tokens="82x128", batch_size=8)
    assert row["decode_step_s"] == pytest.approx(row["latency_s_mean"] / 128)
    assert row["floor_decode_step_s"] == pytest.approx(row["latency_s_mean"] / 128 / 3)
    assert row["attention"] == "flash"
    # dense first in every model's block, whatever order the files came in
    assert list(report.load_bench(bench[::-1])["variant"].iloc[:1]) == ["dense"]


def test_each_models_variants_keep_that_models_order(study):
    """The second model's variants followed the first model's order, not its own files'."""
    _, bench, _, _ = study

    def variant(path):
        return json.loads(path.read_text())["variant"]

    first = [p for p in bench if "/m7/" in str(p)]
    # m13's files given with its pruned variants the other way round, dense last
    second = sorted((p for p in bench if "/m13/" in str(p)),
                    key=lambda p: -VARIANTS.index(variant(p)))
    df = report.load_bench(first + second)
    assert list(dict.fromkeys(df.loc[df["model"] == "m7", "variant"])) == list(VARIANTS)
    assert list(dict.fromkeys(df.loc[df["model"] == "m13", "variant"])) == \
        ["dense", *reversed(VARIANTS[1:])]
    assert list(dict.fromkeys(df["model"])) == ["m7", "m13"]


def test_speedups_use_dense_row_of_same_model_backend_tokens_and_batch(study):
    _, bench, reports, _ = study
    table = report.speed_table(report.load_bench(bench), report.load_prune_reports(reports))
    for model, backend, lin, lout, bs in (("m13", "compiled", 82, 128, 8),
                                          ("m7", "hf", 12, 512, 1),
                                          ("m7", "compiled", 12, 128, 16)):
        row = _row(table, model=model, variant="depth-4.9B", backend=backend,
                   tokens=f"{lin}x{lout}", batch_size=bs)
        dense_lat = _latency(model, "dense", backend, lin, lout, bs)
        lat = _latency(model, "depth-4.9B", backend, lin, lout, bs)
        assert row["latency_speedup"] == pytest.approx(dense_lat / lat)
        assert row["throughput_speedup"] == pytest.approx((bs * lout / lat)
                                                          / (bs * lout / dense_lat))
        assert row["params"] == DENSE_PARAMS[model] - 9 * BLOCK_PARAMS[model]
    dense = table[table["variant"] == "dense"]
    ok = dense["status"] == "ok"
    assert np.allclose(dense.loc[ok, "latency_speedup"], 1.0)


def test_each_speedup_has_the_95_interval_of_its_two_rows(tmp_path):
    """A speed-up divides two noisy means: its interval comes from both rows' spreads and
    runs (the log-ratio delta method), and speed.md shows it beside the speed-up. Files that
    record no runs (older ones) get none."""
    from prunebench.benchmark.timing import ratio_ci95

    reports = report.load_prune_reports([write_report(tmp_path, "m7", v) for v in VARIANTS])
    bench = [write_bench(tmp_path, "m7", v, "hf", 12, 128, unstable=(8,)) for v in VARIANTS]
    table = report.speed_table(report.load_bench(bench), reports)
    for batch in (1, 8):
        where = dict(model="m7", backend="hf", tokens="12x128", batch_size=batch)
        row, dense = _row(table, variant="depth-4.9B", **where), _row(table, variant="dense",
                                                                      **where)
        low, high = ratio_ci95(
            (dense["latency_s_mean"], dense["latency_s_std"], int(dense["runs"])),
            (row["latency_s_mean"], row["latency_s_std"], int(row["runs"])))
        assert (row["latency_speedup_ci95_low"], row["latency_speedup_ci95_high"]) == \
            pytest.approx((low, high))
        assert low < row["latency_speedup"] < high
        shown = _row(report.speed_headline(table), variant="depth-4.9B", **where)
        assert shown["speedup_ci95"] == f"[{low:.4g}, {high:.4g}]"
    assert "throughput_speedup" not in report.speed_headline(table)  # = latency_speedup there
    assert table.loc[table["variant"] == "dense", "latency_speedup_ci95_low"].isna().all()
    old = [write_bench(tmp_path / "old", "m7", v, "hf", 12, 128) for v in VARIANTS]
    table = report.speed_table(report.load_bench(old), reports)
    assert table["latency_speedup_ci95_low"].isna().all()
    assert set(report.speed_headline(table)["speedup_ci95"]) == {""}


@pytest.mark.parametrize("low, point, high", [
    (1.2352, 1.2353, 1.2354),  # with fewer digits for the ends: "1.235 [1.24, 1.24]"
    (0.99981, 0.99983, 0.99992),  # "0.9998 [1, 1]"
    (1000.6, 1000.7, 1000.9),  # "1,001 [1e+03, 1e+03]"
    (0.012351, 0.012352, 0.012354),  # "0.01235 [0.0124, 0.0124]"
    (0.99951, 1.0004, 1.0011)])  # across a decade: "1 [0.9995, 1.001]"
def test_a_printed_interval_holds_its_printed_point(low, point, high):
    """The Markdown tables print a point and its interval with the same rounding, so a narrow
    interval never reads as excluding its own point."""
    from prunebench.report.tables import interval_text, to_markdown

    def number(text: str) -> float:
        return float(text.replace(",", ""))

    [shown] = interval_text(pd.Series([low]), pd.Series([high]))
    shown_low, shown_high = map(number, shown.strip("[]").split(", "))
    table = to_markdown(pd.DataFrame({"latency_speedup": [point]}))
    shown_point = number(table.splitlines()[-1].strip("| "))
    assert shown_low <= shown_point <= shown_high, (shown, shown_point)


@pytest.mark.parametrize("method, shown, first_file_older", [
    ("process RSS high-water mark (VmHWM, reset before the timed runs)", "process RSS", False),
    # without VmHWM: the model's load and the batch sizes before it count too
    ("process RSS high-water mark (ru_maxrss, whole process lifetime)", "process RSS (lifetime)",
     False),
    ("torch.cuda.max_memory_allocated", None, False),
    # a GPU run's files beside one from before the method was recorded, which says nothing
    ("torch.cuda.max_memory_allocated", None, True)])
def test_speed_md_says_when_peak_memory_is_the_whole_processs(tmp_path, method, shown,
                                                              first_file_older):
    """On a CPU the peak memory is the process's resident memory (interpreter, libraries):
    its differences between variants say little about the models, and speed.md says so."""
    reports = report.load_prune_reports([write_report(tmp_path, "m7", v) for v in VARIANTS])
    bench = [write_bench(tmp_path, "m7", v, "hf", 12, 128) for v in VARIANTS]
    for i, path in enumerate(bench):
        data = json.loads(path.read_text())
        data["peak_memory_method"] = method
        if first_file_older and i == 0:
            del data["peak_memory_method"]
        path.write_text(json.dumps(data))
    view = report.speed_headline(report.speed_table(report.load_bench(bench), reports))
    if shown is None:  # a GPU's allocator: the column means what it says
        assert "peak_memory_of" not in view
    else:
        assert set(view["peak_memory_of"]) == {shown}
        assert list(view.columns).index("peak_memory_of") == \
            list(view.columns).index("peak_memory_gib") + 1


def test_oom_rows_kept_and_marked(study, tmp_path):
    _, bench, reports, _ = study
    table = report.speed_table(report.load_bench(bench), report.load_prune_reports(reports))
    flap = _row(table, model="m7", variant="flap-4.9B", backend="hf", tokens="12x128",
                batch_size=16)
    assert flap["status"] == "OOM"
    assert math.isnan(flap["latency_s_mean"]) and math.isnan(flap["throughput_speedup"])
    # depth fits where dense ran out of memory: measured, but no dense to compare with
    depth = _row(table, model="m7", variant="depth-4.9B", backend="hf", tokens="12x128",
                 batch_size=16)
    assert depth["status"] == "ok" and depth["throughput_tok_s"] > 0
    assert math.isnan(depth["throughput_speedup"])

    report.write_table(table, tmp_path / "t/speed.csv", tmp_path / "t/speed.md")
    lines = (tmp_path / "t/speed.md").read_text().splitlines()
    oom_lines = [line for line in lines if "| OOM" in line]
    assert len(oom_lines) == 2  # dense and flap, m7 hf 12x128 batch 16
    assert all("flash" in line for line in oom_lines)  # the row is still complete


def test_markdown_and_csv_written(study, tmp_path):
    _, bench, reports, _ = study
    table = report.speed_table(report.load_bench(bench), report.load_prune_reports(reports))
    csv, md = tmp_path / "out/speed.csv", tmp_path / "out/speed.md"
    report.write_table(table, csv, md)
    header, rule = md.read_text().splitlines()[:2]
    assert header.startswith("|") and "throughput_speedup" in header and "variant" in header
    assert set(rule) <= set("|-: ")
    assert len(md.read_text().splitlines()) == len(table) + 2
    import pandas as pd
    back = pd.read_csv(csv)
    assert list(back.columns) == list(table.columns) and len(back) == len(table)
    assert not list((tmp_path / "out").glob(".*partial*"))
    with pytest.raises(PrunebenchError, match="empty table"):
        report.write_table(table.iloc[:0], csv, md)


def test_missing_bench_file_is_named(study):
    _, bench, _, _ = study
    missing = bench[0].with_name("99x128.json")
    with pytest.raises(PrunebenchError, match=r"missing result file .*99x128\.json.*benchmark"):
        report.load_bench(bench + [missing])


def test_missing_report_and_eval_files_are_named(study):
    root, _, reports, _ = study
    with pytest.raises(PrunebenchError, match=r"missing .*nope/prune_report\.json.*prune rule"):
        report.load_prune_reports(reports + [root / "results/pruned/m7/nope/prune_report.json"])
    with pytest.raises(PrunebenchError, match=r"missing .*zeroshot\.json.*zeroshot rule"):
        report.load_evals([root / "results/eval/m7/dense/zeroshot.json"])


def test_bad_json_and_bad_rows_are_named(study, monkeypatch):
    from prunebench.plan import layout
    from prunebench.report.load import THIS_RUN

    _, bench, _, _ = study
    bench[1].write_text("{not json")
    monkeypatch.delenv(layout.RERUN_CONFIG_VARIABLE, raising=False)
    # outside a run: the run's arguments asked for (THIS_RUN)
    with pytest.raises(PrunebenchError, match=rf"{bench[1].name}.*not valid JSON.*snakemake "
                       rf"--cores all -f \S+ {re.escape(THIS_RUN)}` \(made by the benchmark "
                       r"rule\)"):
        report.load_bench(bench)
    # in a run of another config, in a directory of its own: the command names both
    run = "--directory runs/paper --configfile config/paper.yaml"
    monkeypatch.setenv(layout.RERUN_CONFIG_VARIABLE, run)
    with pytest.raises(PrunebenchError) as err:
        report.load_bench(bench)
    assert f"rerun `snakemake --cores all -f {bench[1]} {run}`" in str(err.value)
    data = {"model": "m", "variant": "dense", "backend": "hf", "input_tokens": 12,
            "output_tokens": 128, "rows": [{"batch_size": 1, "status": "ok",
                                            "latency_s_mean": 1.0}]}
    bench[1].write_text(json.dumps(data))
    with pytest.raises(PrunebenchError, match="throughput_tok_s"):
        report.load_bench(bench)
    data["rows"] = [{"batch_size": 1, "status": "crashed"}]
    bench[1].write_text(json.dumps(data))
    with pytest.raises(PrunebenchError, match="crashed"):
        report.load_bench(bench)


def test_duplicate_bench_file_rejected(study):
    _, bench, _, _ = study
    with pytest.raises(PrunebenchError, match="more than once"):
        report.load_bench(bench + [bench[3]])


def test_missing_dense_bench_and_report_are_errors(study):
    _, bench, reports, _ = study
    no_dense = [p for p in bench if not (p.parts[-3] == "dense" and p.parts[-4] == "m13")]
    with pytest.raises(PrunebenchError, match=r"no dense bench file for m13.*m13/dense"):
        report.speed_table(report.load_bench(no_dense), report.load_prune_reports(reports))
    some = [p for p in reports if p.parts[-2] != "flap-4.9B"]
    with pytest.raises(PrunebenchError, match=r"no prune report for m7/flap-4.9B"):
        report.speed_table(report.load_bench(bench), report.load_prune_reports(some))


def test_quality_table_with_ppl_and_zeroshot(study):
    root, _, reports, evals = study
    zs = write_eval(root, "m7", "depth-4.9B", "zeroshot.json",
                    {"accuracy": {"boolq": 0.7, "piqa": 0.75}, "average": 0.725})
    table = report.quality_table(report.load_prune_reports(reports),
                                 report.load_evals(evals + [zs]))
    row = _row(table, model="m7", variant="depth-4.9B")
    assert row["params_fmt"] == "4.92B" and row["blocks"] == 23
    assert row["params_pct_dense"] == pytest.approx(100 * 4_916_965_376 / 6_738_415_616)
    assert row["ppl_wikitext2"] == 10 + len("depth-4.9B")
    assert row["acc_boolq"] == 0.7 and row["acc_average"] == 0.725
    assert math.isnan(_row(table, model="m13", variant="dense")["acc_boolq"])
    assert _row(table, model="m13", variant="dense")["params_pct_dense"] == 100.0
    assert list(table["variant"][:3]) == list(VARIANTS)
    # without zero-shot files there are no accuracy columns
    plain = report.quality_table(report.load_prune_reports(reports), report.load_evals(evals))
    assert not [c for c in plain.columns if c.startswith("acc_")]


def test_variants_evaluated_in_different_precisions_are_warned_of(tmp_path, caplog,
                                                                  monkeypatch):
    """`dtype: auto` evaluates in float16 on a GPU node and float32 on a CPU one. The rerun
    the warning gives repeats the run's --directory and config files: it said `snakemake
    --cores all -R perplexity` alone, which typed in the checkout reruns another run's files,
    under the default config."""
    from prunebench.plan import layout

    run = "--directory runs/mine --configfile my.yaml"
    monkeypatch.setenv(layout.RERUN_CONFIG_VARIABLE, run)
    monkeypatch.delenv(layout.RERUN_PROGRAM_VARIABLE, raising=False)
    def ppl(variant, dtype):
        details = {"details": {d: {"dtype": dtype} for d in ("wikitext2", "ptb")}} if dtype else {}
        return write_eval(tmp_path, "m7", variant, "ppl.json",
                          {"perplexity": {"wikitext2": 10.0, "ptb": 20.0}, **details})

    def zeroshot(variant, dtype):
        return write_eval(tmp_path, "m7", variant, "zeroshot.json",
                          {"accuracy": {"boolq": 0.7}, "average": 0.7, "dtype": dtype})

    files = [ppl("dense", "float16"), ppl("depth-4.9B", "float32"), ppl("flap-4.9B", None),
             *(zeroshot(v, "float16") for v in VARIANTS)]
    with caplog.at_level(logging.WARNING, logger="prunebench.report"):
        report.load_evals(files)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings  # zero-shot ran alike; a file without dtype is skipped
    assert "perplexity files of m7 ran the model in different precisions (float16 for " \
        "dense; float32 for depth-4.9B)" in warnings[0]
    assert "evaluation.perplexity.dtype" in warnings[0]
    assert warnings[0].endswith(f"then rerun them: `snakemake --cores all -R perplexity {run}`")


def test_eval_file_repeated_is_rejected(study):
    _, _, _, evals = study
    with pytest.raises(PrunebenchError, match="repeats"):
        report.load_evals(evals + [evals[0]])


def test_summary_markdown_is_the_compact_headline_and_csv_keeps_every_column(study, tmp_path):
    _, bench, reports, evals = study
    table = report.summary_table(report.load_bench(bench), report.load_prune_reports(reports),
                                 report.load_evals(evals))
    assert "acc_average" not in table  # these made-up results have no zero-shot cells
    headline = report.headline_table(table.assign(acc_average=0.5))
    assert list(headline.columns) == [
        "model", "variant", "params_fmt", "params_pct_dense", "ppl_wikitext2", "ppl_ptb",
        "acc_average", "hf_12x128_latency_b1_speedup", "hf_12x128_latency_b1_flags",
        "hf_12x128_best_tok_s", "hf_12x128_best_batch", "hf_12x128_best_flags", "timings",
        "timings_flagged"]
    report.write_table(table, tmp_path / "s.csv", tmp_path / "s.md", markdown=headline)
    assert pd.read_csv(tmp_path / "s.csv").shape[1] == table.shape[1]
    header = (tmp_path / "s.md").read_text().splitlines()[0]
    assert [c.strip() for c in header.strip("|").split("|")] == list(headline.columns)


def test_the_summary_carries_the_paired_batch1_speed_up_where_a_cell_was_paired(study):
    _, bench, reports, evals = study
    paired = pd.DataFrame({"model": "m7", "variant": ["depth-4.9B", "depth-4.9B", "flap-4.9B"],
                           "backend": "hf", "tokens": "12x128", "batch_size": [1, 16, 1],
                           "status": ["ok", "ok", "OOM"], "latency_speedup": [1.3, 1.2, None],
                           "latency_speedup_ci95_low": [1.25, 1.1, None],
                           "latency_speedup_ci95_high": [1.36, 1.3, None]})
    table = report.summary_table(report.load_bench(bench), report.load_prune_reports(reports),
                                 report.load_evals(evals), paired)
    row = table.set_index(["model", "variant"])
    assert row.loc[("m7", "depth-4.9B"), "hf_12x128_paired_b1_speedup"] == 1.3
    assert row.loc[("m7", "depth-4.9B"), "hf_12x128_paired_b1_speedup_ci95_high"] == 1.36
    assert not row.loc[("m7", "depth-4.9B"), "hf_12x128_paired_b1_flagged"]  # not contended
    assert row.loc[("m7", "depth-4.9B"), "hf_12x128_paired_b1_flags"] == ""
    # not paired: dense, an OOM pair, another model; cells never paired get no columns
    assert row["hf_12x128_paired_b1_speedup"].notna().sum() == 1
    assert not [c for c in table.columns if "_paired_b1_" in c and "hf_12x128" not in c]
    headline = report.headline_table(table)
    shown = headline.set_index(["model", "variant"])
    assert shown.loc[("m7", "depth-4.9B"), "hf_12x128_paired_b1_ci95"] == "[1.25, 1.36]"
    assert shown.loc[("m7", "dense"), "hf_12x128_paired_b1_ci95"] == ""
    assert list(headline.columns).index("hf_12x128_paired_b1_speedup") == \
        list(headline.columns).index("hf_12x128_latency_b1_flags") + 1
    # a contended pair is flagged as a contended sweep row is, and summary.md says why in words
    paired.loc[0, "contended"] = True
    paired["decode_fallback"] = ["eager", "", ""]
    flagged = report.summary_table(report.load_bench(bench), report.load_prune_reports(reports),
                                   report.load_evals(evals), paired)
    cell = flagged.set_index(["model", "variant"]).loc[("m7", "depth-4.9B")]
    assert cell["hf_12x128_paired_b1_flagged"]
    assert cell["hf_12x128_paired_b1_flags"] == "contended, ran eagerly"
    shown = report.headline_table(flagged)
    assert "hf_12x128_paired_b1_flags" in shown and "hf_12x128_paired_b1_flagged" not in shown
    assert [line for line in report.to_markdown(shown).splitlines()
            if "| m7 " in line and "| depth-4.9B " in line and "| contended, ran eagerly " in line]


def test_summary_best_throughput_and_batch1(study):
    _, bench, reports, evals = study
    table = report.summary_table(report.load_bench(bench), report.load_prune_reports(reports),
                                 report.load_evals(evals))
    assert len(table) == 6 and list(table["variant"][:3]) == list(VARIANTS)
    depth = _row(table, model="m7", variant="depth-4.9B")
    dense = _row(table, model="m7", variant="dense")
    # dense OOMs at 16 in hf 12x128, so its best is at 8; depth's best is at 16
    assert dense["hf_12x128_best_batch"] == 8 and depth["hf_12x128_best_batch"] == 16
    best = lambda v, bs: bs * 128 / _latency("m7", v, "hf", 12, 128, bs)  # noqa: E731
    assert depth["hf_12x128_best_tok_s"] == pytest.approx(best("depth-4.9B", 16))
    assert depth["hf_12x128_best_speedup"] == pytest.approx(best("depth-4.9B", 16)
                                                            / best("dense", 8))
    assert depth["compiled_82x128_latency_b1_speedup"] == pytest.approx(
        _latency("m7", "dense", "compiled", 82, 128, 1)
        / _latency("m7", "depth-4.9B", "compiled", 82, 128, 1))
    assert depth["ppl_ptb"] == 20 + len("depth-4.9B")
    # token configs in the study's order, backends in the order given
    lat_cols = [c for c in table.columns if c.endswith("_latency_b1_s")]
    assert lat_cols == [f"{b}_{t}_latency_b1_s" for b in ("hf", "compiled")
                        for t in ("12x128", "82x128", "12x512")]


def test_best_throughputs_of_sweeps_over_other_batch_sizes_are_flagged(tmp_path, caplog):
    """A variant's cell remade under a config of more batch sizes had its best throughput (at a
    batch size the dense model was never asked for) divided by the dense model's best, without
    a word; where both sweeps were asked for the same sizes nothing changes, and a file that
    does not record its sweep is not compared."""
    def cell(variant, sweep):
        path = write_bench(tmp_path, "m7", variant, "hf", 12, 128, batches=sweep)
        if sweep is not None:
            data = json.loads(path.read_text())
            path.write_text(json.dumps({**data, "batch_sizes": list(sweep)}))
        return path

    reports = report.load_prune_reports([write_report(tmp_path, "m7", v) for v in VARIANTS])

    def best_flagged(sweeps):
        bench = [cell(v, s) for v, s in zip(VARIANTS, sweeps)]
        table = report.summary_table(report.load_bench(bench), reports)
        return dict(zip(table["variant"], table["hf_12x128_best_flagged"]))

    with caplog.at_level(logging.WARNING, logger="prunebench.report.tables"):
        assert best_flagged([(1, 8), (1, 8, 16), (1, 8)]) == \
            {"dense": False, "depth-4.9B": True, "flap-4.9B": False}
    said = " ".join(caplog.text.split())
    assert "m7/depth-4.9B/hf/12x128" in said and "swept 1,8,16" in said and "swept 1,8" in said
    assert "flap-4.9B" not in said
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="prunebench.report.tables"):
        assert not any(best_flagged([(1, 8, 16)] * 3).values())
    assert "other batch sizes" not in caplog.text


def _points_per_axis(ax):
    return sum(len(line.get_xdata()) for line in ax.lines)


def test_figure_grid_log2_and_oom_omitted(study, tmp_path):
    _, bench, _, _ = study
    df = report.load_bench(bench)
    png, pdf = tmp_path / "fig/tl.png", tmp_path / "fig/tl.pdf"
    fig = report.plot_throughput_vs_latency(df, png, pdf, backend="hf")
    # Sizes depend on the fonts and the renderer: a bound any real plot clears.
    assert png.stat().st_size > 1_000 and pdf.stat().st_size > 1_000
    assert png.read_bytes()[:4] == b"\x89PNG" and pdf.read_bytes()[:4] == b"%PDF"
    width, height = struct.unpack(">II", png.read_bytes()[16:24])  # the PNG header's size
    assert width > 300 and height > 200, (width, height)
    assert len(fig.axes) == 2 * 3
    for ax in fig.axes:
        assert ax.get_yscale() == "log" and ax.yaxis.get_transform().base == 2
    assert [ax.get_title() for ax in fig.axes[:3]] == [
        "12 input x 128 output tokens", "82 input x 128 output tokens",
        "12 input x 512 output tokens"]
    # panel (m7, 12x128): 3 variants x 3 batches, two OOM rows drawn as marks, not points
    assert _points_per_axis(fig.axes[0]) == 9 - 2
    assert sorted(t.get_gid() for t in fig.axes[0].texts if t.get_gid().startswith("oom")) \
        == ["oom:dense:16", "oom:flap-4.9B:16"]
    assert _points_per_axis(fig.axes[4]) == 9
    assert not fig.legends  # no hollow point, no note; a legend per row instead
    # 'depth' is no registered method: drawn under its own name, never dropped
    for ax, model in ((fig.axes[2], "m7"), (fig.axes[5], "m13")):
        assert [t.get_text() for t in ax.get_legend().get_texts()] == \
            [f"{model} (dense)", "depth 4.9B", "FLAP 4.9B"]


def test_figure_single_model_single_config(tmp_path):
    paths = [write_bench(tmp_path, "m7", v, "hf", 12, 128, batches=(1, 8)) for v in VARIANTS]
    fig = report.plot_throughput_vs_latency(report.load_bench(paths), tmp_path / "a.png",
                                            tmp_path / "a.pdf")
    assert len(fig.axes) == 1 and fig.axes[0].yaxis.get_transform().base == 2
    assert (tmp_path / "a.png").stat().st_size > 0 and (tmp_path / "a.pdf").stat().st_size > 0
    with pytest.raises(PrunebenchError, match="no bench rows for backend 'vllm'"):
        report.plot_throughput_vs_latency(report.load_bench(paths), tmp_path / "b.png",
                                          tmp_path / "b.pdf", backend="vllm")


def _with_zeroshot(root, tasks=("boolq", "piqa", "hellaswag")):
    files = []
    for model in ("m7", "m13"):
        for i, variant in enumerate(VARIANTS):
            acc = {t: 0.5 + 0.01 * (i + j) for j, t in enumerate(tasks)}
            files.append(write_eval(root, model, variant, "zeroshot.json", {
                "accuracy": acc, "average": sum(acc.values()) / len(acc)}))
    return files


def test_quality_table_is_the_papers_layout(study):
    root, _, reports, evals = study
    zs = _with_zeroshot(root)
    expect = {"perplexity": ["wikitext2", "ptb"], "accuracy": ["boolq", "piqa", "hellaswag"]}
    table = report.quality_table(report.load_prune_reports(reports),
                                 report.load_evals(evals + zs, expect=expect))
    quality = [c for c in table.columns if c.startswith(("ppl_", "acc_"))]
    assert quality == ["ppl_wikitext2", "ppl_ptb", "acc_boolq", "acc_piqa", "acc_hellaswag",
                       "acc_average"]
    assert table[quality].notna().all().all()
    row = _row(table, model="m13", variant="flap-4.9B")
    assert row["acc_average"] == pytest.approx((0.52 + 0.53 + 0.54) / 3)


def test_combined_table_joins_quality_with_speed(study):
    root, bench, reports, evals = study
    table = report.summary_table(report.load_bench(bench), report.load_prune_reports(reports),
                                 report.load_evals(evals + _with_zeroshot(root)))
    row = _row(table, model="m7", variant="depth-4.9B")
    assert row["acc_average"] == pytest.approx(0.52) and row["ppl_ptb"] == 20 + len("depth-4.9B")
    assert row["hf_12x128_latency_b1_s"] == pytest.approx(
        _latency("m7", "depth-4.9B", "hf", 12, 128, 1))
    assert row["hf_12x128_best_batch"] == 16


def test_dataset_missing_inside_one_eval_file_is_an_error(study):
    root, _, _, evals = study
    short = write_eval(root, "m13", "flap-4.9B", "ppl.json", {"perplexity": {"wikitext2": 9.0}})
    evals = [p for p in evals if p != short] + [short]
    with pytest.raises(PrunebenchError, match=r"m13/flap-4.9B/ppl.json lacks perplexity for "
                                              r"\['ptb'\]"):
        report.load_evals(evals)


def test_task_missing_for_a_variant_is_an_error(study):
    root, _, _, evals = study
    zs = [p for p in _with_zeroshot(root) if p.parts[-2] != "dense" or p.parts[-3] != "m13"]
    expect = {"perplexity": ["wikitext2", "ptb"], "accuracy": ["boolq", "piqa", "hellaswag"]}
    with pytest.raises(PrunebenchError, match=r"m13/dense: add results/eval/m13/dense/"
                                              r"zeroshot.json"):
        report.load_evals(evals + zs, expect=expect)
    with pytest.raises(PrunebenchError, match=r"no accuracy for \['winogrande'\]"):
        report.load_evals(evals + _with_zeroshot(root),
                          expect={**expect, "accuracy": ["boolq", "winogrande"]})


def test_noise_columns_and_unstable_flag_in_table_and_figure(tmp_path):
    bench = [write_bench(tmp_path, "m7", v, "hf", 12, 128, batches=(1, 8, 16), oom=(16,),
                         unstable=(8,) if v == "flap-4.9B" else ())
             for v in VARIANTS]
    reports = [write_report(tmp_path, "m7", v) for v in VARIANTS]
    df = report.load_bench(bench)
    table = report.speed_table(df, report.load_prune_reports(reports))
    for column in ("latency_s_p90", "latency_s_cv", "latency_s_ci95_low", "latency_s_ci95_high",
                   "latency_s_ci95_rel", "unstable", "runs", "throughput_mean_of_rates"):
        assert column in table.columns, column
    flagged = _row(table, variant="flap-4.9B", batch_size=8)
    assert bool(flagged["unstable"]) and flagged["runs"] == 50
    assert flagged["latency_s_ci95_rel"] == pytest.approx(0.08)
    assert not bool(_row(table, variant="dense", batch_size=8)["unstable"])
    oom = _row(table, variant="dense", batch_size=16)
    assert oom["status"] == "OOM" and oom["unstable"] is pd.NA and oom["runs"] is pd.NA
    assert list(table["unstable"].dropna()).count(True) == 1
    assert "decode_step_s_p90" in table.columns  # carried through as an extra

    report.write_table(table, tmp_path / "t/speed.csv", tmp_path / "t/speed.md")
    header, _, *lines = (tmp_path / "t/speed.md").read_text().splitlines()
    names = [c.strip() for c in header.split("|")]
    assert "unstable" in names and "latency_s_cv" in names and "runs" in names
    rows = [dict(zip(names, (c.strip() for c in line.split("|")))) for line in lines]
    assert [(r["variant"], r["batch_size"]) for r in rows if r["unstable"] == "True"] == \
        [("flap-4.9B", "8")]
    assert {r["runs"] for r in rows} == {"20", "50", "OOM"}
    back = pd.read_csv(tmp_path / "t/speed.csv")
    assert back["unstable"].tolist().count(True) == 1
    # speed.md as the aggregation writes it: a readable view, its flags in one column
    view = report.compact_view("speed", table)
    assert len(view.columns) <= 15 and len(view) == len(table)
    assert view.loc[view["flags"] != "", ["variant", "batch_size", "flags"]].values.tolist() == \
        [["flap-4.9B", 8, "unstable"]]
    assert report.compact_view("quality", table) is None  # narrow enough as it is

    fig = report.plot_throughput_vs_latency(df, tmp_path / "f.png", tmp_path / "f.pdf")
    hollow = [c for c in fig.axes[0].collections if len(c.get_offsets())]
    assert sum(len(c.get_offsets()) for c in hollow) == 1  # only flap at batch 8
    assert tuple(hollow[0].get_offsets()[0]) == pytest.approx(
        (flagged["latency_s_mean"], flagged["throughput_tok_s"]))
    assert all(tuple(fc) == (1.0, 1.0, 1.0, 1.0) for c in hollow for fc in c.get_facecolors())
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert len(texts) == 1 and "unstable" in texts[0]
    assert "run eagerly" not in texts[0]  # no step ran eagerly here (it was said on hf too)
    assert "mean latency" in fig.get_suptitle()  # names the throughput statistic it plots


def test_flagged_cells_get_one_warning_with_one_command_for_all():
    """It used to be one 400-character warning per file (24 on a contended default run)."""
    cells = [f"results/bench/m7/v{i}/hf/12x128.json" for i in range(5)]
    advice = report.rerun_advice(cells, "--configfile config/config.yaml my.yaml")
    assert "\n" not in advice and advice.startswith(
        "5 result file(s) have unstable, drifting or contended timings "
        "(results/bench/m7/v0/hf/12x128.json, "
        "results/bench/m7/v1/hf/12x128.json, results/bench/m7/v2/hf/12x128.json and 2 more;")
    assert advice.endswith("`snakemake --cores all -f " + " ".join(cells)
                           + " results/tables/speed.csv --configfile config/config.yaml my.yaml`")
    assert report.rerun_advice([], "--configfile x.yaml") is None
    assert report.rerun_advice(cells[:1], "").endswith("-f " + cells[0]
                                                       + " results/tables/speed.csv`")
    # A cluster run's profile sets the cores: a `--cores all` before it would override them
    # (each job's threads the login node's core count)
    run = "--workflow-profile profiles/slurm --configfile config/paper.yaml"
    assert f"`snakemake -f {cells[0]} results/tables/speed.csv {run}`" in report.rerun_advice(
        cells[:1], run)
    assert "`snakemake -f " in report.rerun_advice(cells[:1], "--profile=my-site")


def test_the_flagged_cells_command_is_built_as_every_other_rerun_command(monkeypatch):
    """rerun_advice wrote its own command (the words joined unquoted): a cell's path with a
    space split into two words when pasted, and the words asking for a run's arguments
    (THIS_RUN, whose apostrophe is no shell quote) failed in splitting them for a profile."""
    from prunebench.plan import layout
    from prunebench.report.load import THIS_RUN

    monkeypatch.delenv(layout.RERUN_PROGRAM_VARIABLE, raising=False)
    cells = ["results/bench/my model/depth-0.8/hf/12x128.json",
             "results/bench/m7/it's/hf/12x128.json"]
    run = layout.configfile_argument(["/checkout/config/my config.yaml"], cwd="/checkout")
    command = re.search(r"`([^`]*)`$", report.rerun_advice(cells, run))[1]
    assert command == layout.command_line("-f", *cells, "results/tables/speed.csv",
                                          run_arguments=run)
    assert shlex.split(command) == ["snakemake", "--cores", "all", "-f", *cells,
                                    "results/tables/speed.csv", "--configfile",
                                    "config/my config.yaml"]
    assert report.rerun_advice(cells[:1], THIS_RUN).endswith(
        f"`snakemake --cores all -f 'results/bench/my model/depth-0.8/hf/12x128.json' "
        f"results/tables/speed.csv {THIS_RUN}`")
    # ... as the loaders' warnings give it outside a run
    from prunebench.report.load import THOSE, _rerun_command

    monkeypatch.delenv(layout.RERUN_CONFIG_VARIABLE, raising=False)
    assert _rerun_command("-f", cores=4, fill_in=THOSE) == \
        f"snakemake --cores 4 -f {THOSE} {THIS_RUN}"


def test_the_commands_a_run_suggests_leave_the_cores_to_its_profile(monkeypatch, tmp_path):
    from prunebench.plan.layout import RERUN_CONFIG_VARIABLE
    from prunebench.report.load import _remake_hint

    monkeypatch.setenv(RERUN_CONFIG_VARIABLE, "--workflow-profile profiles/slurm")
    assert _remake_hint(tmp_path / "x.json", "benchmark", True).startswith(
        f"rerun `snakemake -f {tmp_path / 'x.json'} --workflow-profile profiles/slurm`")
    monkeypatch.setenv(RERUN_CONFIG_VARIABLE, "--configfile config/paper.yaml")
    assert _remake_hint(tmp_path / "x.json", "benchmark", False).startswith(
        f"rerun `snakemake --cores all {tmp_path / 'x.json'} --configfile config/paper.yaml`")


def test_a_result_files_remake_command_asks_for_the_runs_arguments_outside_a_run(
        monkeypatch, tmp_path):
    """The loaders' command to remake a missing or damaged result file gave `snakemake -f
    <file>` alone when called outside a run (a notebook, a script over a run's results), where
    the run's --directory and --configfile are not known: pasted as it was, a run of another
    config finds no rule for the file or remakes it under the default config. It now asks for
    them as the loaders' other commands do (THIS_RUN); in a run it repeats the run's own, and a
    run of the defaults (no arguments to repeat) needs none. The file's path is one shell word."""
    from prunebench.plan import layout
    from prunebench.report.load import THIS_RUN, _remake_hint

    monkeypatch.delenv(layout.RERUN_PROGRAM_VARIABLE, raising=False)
    monkeypatch.delenv(layout.RERUN_CONFIG_VARIABLE, raising=False)
    path = tmp_path / "my model" / "12x128.json"
    assert _remake_hint(path, "benchmark", True) == (
        f"rerun `snakemake --cores all -f {shlex.quote(str(path))} {THIS_RUN}` (made by the "
        "benchmark rule)")
    with pytest.raises(PrunebenchError) as missing:
        report.load_bench([path])
    assert str(missing.value) == (f"missing result file {path}: rerun `snakemake --cores all "
                                  f"{shlex.quote(str(path))} {THIS_RUN}` (made by the benchmark "
                                  "rule)")
    run = "--directory /data/runs/paper --configfile config/paper.yaml"
    monkeypatch.setenv(layout.RERUN_CONFIG_VARIABLE, run)
    command = re.search(r"`([^`]*)`", _remake_hint(path, "benchmark", True))[1]
    assert shlex.split(command) == ["snakemake", "--cores", "all", "-f", str(path),
                                    *shlex.split(run)]
    monkeypatch.setenv(layout.RERUN_CONFIG_VARIABLE, "")  # a run of the default config
    assert _remake_hint(path, "perplexity", False) == (
        f"rerun `snakemake --cores all {shlex.quote(str(path))}` (made by the perplexity rule)")


def test_files_without_noise_fields_still_load(study):
    _, bench, reports, _ = study
    table = report.speed_table(report.load_bench(bench), report.load_prune_reports(reports))
    assert table["unstable"].isna().all() and table["latency_s_cv"].isna().all()
    assert table["decode_fallback"].isna().all() and report.flagged_cells(table) == []


def assert_one_flagged_row(df, reports, tmp_path, backend, row, note):
    """Only `row`'s variant counts a flagged timing in the summary, and only `row` is drawn
    hollow in the backend's figure, whose legend's note says `note`."""
    summary = report.summary_table(df, report.load_prune_reports(reports))
    assert dict(zip(summary["variant"], summary["timings_flagged"])) == {
        v: int(v == row["variant"]) for v in VARIANTS}
    fig = report.plot_throughput_vs_latency(df, tmp_path / "f.png", tmp_path / "f.pdf",
                                            backend=backend)
    hollow = [c for c in fig.axes[0].collections if len(c.get_offsets())]
    assert len(hollow) == 1 and tuple(hollow[0].get_offsets()[0]) == pytest.approx(
        (row["latency_s_mean"], row["throughput_tok_s"]))
    assert note in fig.legends[0].get_texts()[0].get_text()


def test_compiled_rows_that_ran_eagerly_are_flagged_and_drawn_hollow(tmp_path, caplog):
    """A compiled cell whose capture failed times eager decoding (benchmark.runners): it is
    flagged like an unstable row, not plotted and summarised as compiled."""
    bench = [write_bench(tmp_path, "m7", v, "compiled", 12, 128, batches=(1, 8), unstable=())
             for v in VARIANTS]
    for path in bench:
        data = json.loads(path.read_text())
        for row in data["rows"]:
            row["decode_mode"] = "cuda-graph"
            # the runner's record: from the failed batch size on, every row runs eagerly
            if path == bench[1] and row["batch_size"] == 8:
                row["decode_mode"] = "eager"
                row["decode_fallback"] = "cuda-graph failed: RuntimeError: capture failed"
            elif path == bench[2]:
                row["decode_fallback"] = ""  # nothing to say is nothing that fell back
        path.write_text(json.dumps(data))
    df = report.load_bench(bench)
    reports = [write_report(tmp_path, "m7", v) for v in VARIANTS]
    table = report.speed_table(df, report.load_prune_reports(reports))
    flagged = table[table["decode_fallback"].notna()]
    assert [(r.variant, r.batch_size) for r in flagged.itertuples()] == [(VARIANTS[1], 8)]
    assert not table["unstable"].any() and not table["contended"].any()
    with caplog.at_level("WARNING", logger="prunebench.report"):
        cells = report.flagged_cells(table)
    path = f"results/bench/m7/{VARIANTS[1]}/compiled/12x128.json"
    # Not among the cells to rerun on a quiet machine (that would not fix it): warned about
    # with its reason instead.
    assert cells == []
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}: the compiled decode step ran eagerly (cuda-graph failed: RuntimeError: capture "
        "failed), so its timings are not the compiled backend's (decode_fallback in "
        "results/tables/speed.csv): fix that cause, then rerun the cell"]
    assert_one_flagged_row(df, reports, tmp_path, "compiled", flagged.iloc[0], "run eagerly")


def test_rows_whose_timed_runs_compiled_are_flagged_and_drawn_hollow(tmp_path, caplog):
    """A compile inside the timed runs (benchmark.run's graphs_compiled_while_timed) puts its
    seconds into the latencies: the row is flagged with what to do, as a fallback is, and a
    row that compiled nothing (0, or a file without the field) is not."""
    bench = [write_bench(tmp_path, "m7", v, "hf_static", 12, 128, batches=(1, 8), unstable=())
             for v in VARIANTS]
    data = json.loads(bench[1].read_text())
    for row in data["rows"]:
        row["graphs_compiled_while_timed"] = 2 if row["batch_size"] == 8 else 0
    bench[1].write_text(json.dumps(data))
    edited = json.loads(bench[2].read_text())  # a count edited by hand into no count at all
    edited["rows"][0]["graphs_compiled_while_timed"] = 1.5
    bench[2].write_text(json.dumps(edited))
    df = report.load_bench(bench)
    assert df["graphs_compiled_while_timed"].isna().sum() == len(df) - 2  # 0, 2 and <NA>
    reports = [write_report(tmp_path, "m7", v) for v in VARIANTS]
    table = report.speed_table(df, report.load_prune_reports(reports))
    compiled = table[table["graphs_compiled_while_timed"].fillna(0) > 0]
    assert [(r.variant, r.batch_size) for r in compiled.itertuples()] == [(VARIANTS[1], 8)]
    flags = dict(zip(zip(table["variant"], table["batch_size"]),
                     report.speed_headline(table)["flags"]))
    assert flags[(VARIANTS[1], 8)] == "compiled while timed" and flags[(VARIANTS[1], 1)] == ""
    with caplog.at_level("WARNING", logger="prunebench.report"):
        cells = report.flagged_cells(table)
    assert cells == []  # a quiet machine does not fix it: warned about with what does
    path = f"results/bench/m7/{VARIANTS[1]}/hf_static/12x128.json"
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}: graphs were compiled inside its timed runs, so its latencies hold that "
        "compile (graphs_compiled_while_timed in results/tables/speed.csv): rerun the cell; if "
        "it compiles again, the step recompiles from call to call: set TORCH_LOGS=recompiles "
        "to see why, or time it with the hf backend, or the compiled backend with compile_mode: "
        "cuda-graph (no compile; hf_static takes no compile_mode)"]
    assert_one_flagged_row(df, reports, tmp_path, "hf_static", compiled.iloc[0],
                           "compiled while timed")


def test_rows_timed_beside_other_work_are_flagged_and_drawn_hollow(tmp_path):
    bench = [write_bench(tmp_path, "m7", v, "hf", 12, 128, batches=(1, 8), unstable=())
             for v in VARIANTS]
    data = json.loads(bench[0].read_text())  # its batch 8 competed with other work
    for row in data["rows"]:
        row["interference"] = {"other_cpu_cores": 1.5 if row["batch_size"] == 8 else 0.0,
                               "gpu_other_processes": [], "competition": row["batch_size"] == 8}
    bench[0].write_text(json.dumps(data))
    df = report.load_bench(bench)
    reports = [write_report(tmp_path, "m7", v) for v in VARIANTS]
    table = report.speed_table(df, report.load_prune_reports(reports))
    flagged = table[table["contended"].fillna(False).astype(bool)]
    assert [(r.variant, r.batch_size) for r in flagged.itertuples()] == [(VARIANTS[0], 8)]
    assert table["contended"].isna().sum() == 2 * (len(VARIANTS) - 1)  # not recorded there
    # the cell to rerun, named for the end-of-run warning, and the count in the summary
    assert report.flagged_cells(table) == [f"results/bench/m7/{VARIANTS[0]}/hf/12x128.json"]
    summary = report.summary_table(df, report.load_prune_reports(reports))
    counts = dict(zip(summary["variant"], summary["timings_flagged"]))
    assert counts == {v: int(v == VARIANTS[0]) for v in VARIANTS}
    assert summary["timings"].tolist() == [2] * len(VARIANTS)  # of its two timed rows
    fig = report.plot_throughput_vs_latency(df, tmp_path / "f.png", tmp_path / "f.pdf")
    hollow = [c for c in fig.axes[0].collections if len(c.get_offsets())]
    assert len(hollow) == 1 and len(hollow[0].get_offsets()) == 1


def test_a_cells_drift_tests_are_taken_together(tmp_path):
    """Each row's Mann-Kendall test takes 5% false alarms; a cell's rows are judged together
    (Holm): a row at p 0.03 among three tested is no drift, one at p 0.001 still is, and a
    row of another cell is adjusted among its own cell's rows only."""
    bench = [write_bench(tmp_path, "m7", v, "hf", 12, 128, batches=(1, 8, 16), unstable=())
             for v in VARIANTS[:2]]
    for path, ps in ((bench[0], [0.03, 0.5, None]), (bench[1], [0.001, 0.04, 0.9])):
        data = json.loads(path.read_text())
        for row, p in zip(data["rows"], ps):
            # every tested row here trended by more than the target: only p decides
            row.update(latency_s_trend=0.12, latency_s_trend_p=p,
                       drifting=None if p is None else p < 0.05)
        path.write_text(json.dumps(data))
    df = report.load_bench(bench).set_index(["variant", "batch_size"])
    first, second = VARIANTS[0], VARIANTS[1]
    # cell 1: two tested rows, p 0.03 x 2 = 0.06; p 0.5 x 1 (kept non-decreasing: 0.5)
    assert df.loc[(first, 1), "latency_s_trend_p_holm"] == pytest.approx(0.06)
    assert df.loc[(first, 8), "latency_s_trend_p_holm"] == pytest.approx(0.5)
    assert pd.isna(df.loc[(first, 16), "latency_s_trend_p_holm"])
    assert bool(df.loc[(first, 1), "drifting_row"]) and not df.loc[(first, 1), "drifting"]
    assert pd.isna(df.loc[(first, 16), "drifting"])  # untested stays untested
    # cell 2: 0.001 x 3 = 0.003 drifts; 0.04 x 2 = 0.08 does not; 0.9 x 1
    assert df.loc[(second, 1), "latency_s_trend_p_holm"] == pytest.approx(0.003)
    assert bool(df.loc[(second, 1), "drifting"])
    assert df.loc[(second, 8), "latency_s_trend_p_holm"] == pytest.approx(0.08)
    assert bool(df.loc[(second, 8), "drifting_row"]) and not df.loc[(second, 8), "drifting"]
    assert df.loc[(second, 16), "latency_s_trend_p_holm"] == pytest.approx(0.9)


def test_rows_whose_latency_drifted_are_flagged_named_and_drawn_hollow(tmp_path, caplog):
    """A row whose runs kept slowing (`drifting`, prunebench.benchmark.timing.is_drifting) is
    flagged as an unstable one is; a row timed once (no spread: `latency_s_std` null) loads."""
    bench = [write_bench(tmp_path, "m7", v, "hf", 12, 128, batches=(1, 8), unstable=())
             for v in VARIANTS]
    data = json.loads(bench[1].read_text())  # depth's batch 8 drifted; its batch 1 ran once
    for row in data["rows"]:
        drifting = row["batch_size"] == 8
        row.update(drifting=drifting, latency_s_trend=0.12 if drifting else 0.0,
                   latency_s_trend_p=0.001 if drifting else 0.9,
                   latency_s_ci95_rel_ar1=0.07 if drifting else 0.01)
        if row["batch_size"] == 1:  # as timing.latency_stats records a single run
            row.update(latency_s_std=None, runs=1, drifting=None, unstable=True,
                       latency_s_ci95_low=None, latency_s_ci95_high=None,
                       latency_s_ci95_rel=None, latency_s_cv=None)
    bench[1].write_text(json.dumps(data))
    df = report.load_bench(bench)
    reports = [write_report(tmp_path, "m7", v) for v in VARIANTS]
    table = report.speed_table(df, report.load_prune_reports(reports))
    assert [(r.variant, r.batch_size) for r in table[table["drifting"].fillna(False)]
            .itertuples()] == [(VARIANTS[1], 8)]
    depth = table[table["variant"] == VARIANTS[1]]
    assert depth["latency_s_std"].isna().tolist() == [True, False]
    # the interval widened for correlated runs is carried; files without it read as NaN
    assert depth["latency_s_ci95_rel_ar1"].tolist() == [0.01, 0.07]
    assert table[table["variant"] == VARIANTS[0]]["latency_s_ci95_rel_ar1"].isna().all()
    assert pd.isna(depth["latency_speedup_ci95_low"].iloc[0])  # one run: no interval
    shown = report.speed_headline(table)
    assert shown.loc[(shown["variant"] == VARIANTS[1]) & (shown["batch_size"] == 8),
                     "flags"].tolist() == ["drifting"]
    with caplog.at_level(logging.WARNING, logger="prunebench.report"):
        cells = report.flagged_cells(table)
    assert cells == [f"results/bench/m7/{VARIANTS[1]}/hf/12x128.json"]  # for its drift
    assert "timed only once" in caplog.text  # and its single run said apart
    assert "drifting" in report.rerun_advice(cells, "--configfile c.yaml")
    summary = report.summary_table(df, report.load_prune_reports(reports))
    assert dict(zip(summary["variant"], summary["timings_flagged"]))[VARIANTS[1]] == 2
    fig = report.plot_throughput_vs_latency(df, tmp_path / "f.png", tmp_path / "f.pdf")
    hollow = [c for c in fig.axes[0].collections if len(c.get_offsets())]
    assert len(hollow) == 1 and len(hollow[0].get_offsets()) == 2


def test_rows_whose_gpu_was_not_checked_for_other_work_are_not_flagged(tmp_path):
    """`competition: null` (other GPU processes could not be listed) is not checked, which
    is neither competition nor a clean bill."""
    bench = [write_bench(tmp_path, "m7", v, "hf", 12, 128, batches=(1, 8), unstable=())
             for v in VARIANTS]
    data = json.loads(bench[0].read_text())
    for row in data["rows"]:
        row["interference"] = {"other_cpu_cores": 3.0, "gpu_other_processes": None,
                               "gpu_unchecked": "pynvml module not found", "competition": None}
    bench[0].write_text(json.dumps(data))
    df = report.load_bench(bench)
    reports = [write_report(tmp_path, "m7", v) for v in VARIANTS]
    table = report.speed_table(df, report.load_prune_reports(reports))
    assert table["contended"].isna().all()
    assert report.flagged_cells(table) == []
    summary = report.summary_table(df, report.load_prune_reports(reports))
    assert summary["timings_flagged"].tolist() == [0, 0, 0]


def test_rows_timed_once_are_warned_of_as_such_not_sent_to_a_quiet_machine(tmp_path, caplog):
    """With `repeats: 1` every row is unstable (one run shows no spread): the warning says so
    for every cell, and only a cell with a row that also had other work beside it is one to
    rerun on a quiet machine as well."""
    bench = [write_bench(tmp_path, "m7", v, "hf", 12, 128, batches=(1, 8), unstable=(1, 8))
             for v in VARIANTS]
    for path in bench:
        data = json.loads(path.read_text())
        for row in data["rows"]:
            row["runs"], row["latencies_s"] = 1, [row["latency_s_mean"]]
            # dense's batch 8 had other work beside it; flap's every row did.
            contended = (path == bench[0] and row["batch_size"] == 8) or path == bench[2]
            row["interference"] = {"other_cpu_cores": 2.0 if contended else 0.0,
                                   "gpu_other_processes": None, "competition": contended}
        path.write_text(json.dumps(data))
    reports = [write_report(tmp_path, "m7", v) for v in VARIANTS]
    table = report.speed_table(report.load_bench(bench), report.load_prune_reports(reports))
    assert table["unstable"].all()  # still flagged in the tables and figures
    with caplog.at_level(logging.WARNING, logger="prunebench.report"):
        cells = report.flagged_cells(table)
    assert cells == [f"results/bench/m7/{VARIANTS[i]}/hf/12x128.json" for i in (0, 2)]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    # Every cell, flap's too: a quiet machine alone leaves its single runs without spread.
    assert len(warnings) == len(VARIANTS)
    for variant, warning in zip(VARIANTS, warnings):
        assert warning.startswith(f"results/bench/m7/{variant}/hf/12x128.json has batch sizes "
                                  "timed only once")
        assert "repeats" in warning and "quiet" not in warning


def test_oom_rows_have_no_build_time(tmp_path):
    bench = [write_bench(tmp_path, "m7", v, "compiled", 12, 128, batches=(1, 8), oom=(8,))
             for v in VARIANTS]
    for path in bench:
        data = json.loads(path.read_text())
        data["rows"][0]["compile_s"] = data["compile_s"] = 2.5  # the file's sum: one row
        path.write_text(json.dumps(data))
    reports = [write_report(tmp_path, "m7", v) for v in VARIANTS]
    table = report.speed_table(report.load_bench(bench), report.load_prune_reports(reports))
    assert _row(table, variant="dense", batch_size=1)["compile_s"] == 2.5
    assert math.isnan(_row(table, variant="dense", batch_size=8)["compile_s"])


def _timed_with(path, gpu=None, cpu_model="AMD EPYC 7B13", **fields):
    """The file as timed on `gpu` (None: on the CPU named `cpu_model`; None: a file older than
    that field), with top-level `fields` (dtype, ...)."""
    data = json.loads(path.read_text())
    data["provenance"] = {"seed": 0, "device": "cuda:0" if gpu else "cpu", "cpu": "x86_64",
                          **({"cpu_model": cpu_model} if cpu_model else {}),
                          **({"gpu_name": gpu} if gpu else {})}
    data.update(fields)
    path.write_text(json.dumps(data))
    return path


H100, A100 = "NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-80GB"
STUDY = {"top_k": 50, "top_p": 0.95, "temperature": 1.0}


def test_variants_timed_on_other_devices_dtypes_or_decoding_are_warned_of(tmp_path, caplog):
    dense, depth, flap = [write_bench(tmp_path, "m7", v, "hf", 12, 128) for v in VARIANTS]
    _timed_with(dense, H100, sampling=None)
    _timed_with(depth, H100, sampling=STUDY)
    _timed_with(flap, A100, sampling=None, dtype="bfloat16")
    with caplog.at_level(logging.WARNING, logger="prunebench.report"):
        df = report.load_bench([dense, depth, flap])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3, warnings
    devices, dtypes, decoding = warnings
    assert f"timed with different devices ({H100} for dense, depth-4.9B; {A100} for " \
        "flap-4.9B)" in devices
    assert "m7 (hf, 12x128)" in devices and "speed-ups over dense" in devices
    assert f"Rebuild the 1 not timed with the dense file's {H100} ({flap})" in devices
    assert "snakemake --cores all -f" in devices and str(dense) not in devices
    assert "different dtypes (float16 for dense, depth-4.9B; bfloat16 for flap-4.9B)" in dtypes
    assert "different decoding settings (greedy for dense, flap-4.9B; top_k=50 top_p=0.95 " \
        "temperature=1.0 for depth-4.9B)" in decoding and str(depth) in decoding
    row = _row(df, variant="flap-4.9B", batch_size=1)
    assert (row["device_name"], row["dtype"], row["sampling"]) == (A100, "bfloat16", "greedy")
    # The speed table marks each row whose speed-ups compare unlike settings, and with what.
    reports = report.load_prune_reports([write_report(tmp_path, "m7", v) for v in VARIANTS])
    speed = report.speed_table(df, reports)
    marks = {v: set(speed.loc[speed["variant"] == v, "unlike_dense"]) for v in VARIANTS}
    assert marks == {"dense": {""}, "depth-4.9B": {"decoding"}, "flap-4.9B": {"device, dtype"}}
    view = report.speed_headline(speed)
    assert set(view.loc[view["variant"] == "flap-4.9B", "flags"]) == {"unlike dense: device, dtype"}
    assert set(report.tables.UNLIKE_DENSE) == set(report.load.TIMED_WITH)
    # and the summary's speed-ups (and the quality-vs-speed figure's points) count as flagged
    # those timed unlike dense: a speed-up between two GPUs was drawn as a trusted point
    summary = report.summary_table(df, reports).set_index("variant")
    assert summary.loc["flap-4.9B", "hf_12x128_latency_b1_flagged"]
    assert summary.loc["depth-4.9B", "hf_12x128_latency_b1_flagged"]  # decoding differs
    assert not summary.loc["dense", "hf_12x128_latency_b1_flagged"]
    assert summary.loc["flap-4.9B", "timings_flagged"] == summary.loc["flap-4.9B", "timings"]
    # the figure names where its timings were made
    fig = report.plot_throughput_vs_latency(df, tmp_path / "f.png", tmp_path / "f.pdf")
    assert f"backend hf on {H100}, {A100}\n" in fig.get_suptitle()


def test_a_cell_rerun_with_other_library_versions_or_another_driver_is_marked(tmp_path,
                                                                              caplog):
    """A cell rerun alone (`-f`, as the tables' advice says) after an upgrade of torch or
    transformers, or of the GPU driver, times other kernels than its dense file did: its
    speed-ups over dense are flagged as timed unlike dense, and the load warns, as for another
    GPU."""
    files = [_timed_with(write_bench(tmp_path, "m7", v, "hf", 12, 128), H100) for v in VARIANTS]
    setups = {"dense": ("2.11.0+cu128", "5.17.0", "580.95"),
              "depth-4.9B": ("2.13.0+cu130", "5.17.0", "580.95"),
              "flap-4.9B": ("2.11.0+cu128", "5.17.0", "590.10")}
    for path, (torch_v, transformers_v, driver) in zip(files, setups.values()):
        data = json.loads(path.read_text())
        data["provenance"].update(versions={"torch": torch_v, "transformers": transformers_v},
                                  driver_version=driver)
        path.write_text(json.dumps(data))
    with caplog.at_level(logging.WARNING, logger="prunebench.report"):
        df = report.load_bench(files)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2, warnings
    assert "different torch / transformers versions (torch 2.11.0+cu128, transformers 5.17.0 " \
        "for dense, flap-4.9B; torch 2.13.0+cu130, transformers 5.17.0 for depth-4.9B)" \
        in warnings[0]
    assert "different GPU drivers (580.95 for dense, depth-4.9B; 590.10 for flap-4.9B)" \
        in warnings[1]
    reports = report.load_prune_reports([write_report(tmp_path, "m7", v) for v in VARIANTS])
    speed = report.speed_table(df, reports)
    marks = {v: set(speed.loc[speed["variant"] == v, "unlike_dense"]) for v in VARIANTS}
    assert marks == {"dense": {""}, "depth-4.9B": {"versions"}, "flap-4.9B": {"driver"}}
    from prunebench.report import paired  # the paired table compares the same settings

    assert set(paired._TIMED_ALIKE) == set(report.load.TIMED_WITH) == set(
        report.tables.UNLIKE_DENSE)
    summary = report.summary_table(df, reports).set_index("variant")
    assert summary.loc["depth-4.9B", "hf_12x128_latency_b1_flagged"]
    # files that do not record them (a CPU has no driver; older files) are not compared
    for path in files:
        data = json.loads(path.read_text())
        data["provenance"].pop("driver_version")
        data["provenance"]["versions"] = {"torch": "2.11.0+cu128", "transformers": "5.17.0"}
        path.write_text(json.dumps(data))
    data["provenance"].pop("versions")
    files[-1].write_text(json.dumps(data))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="prunebench.report"):
        df = report.load_bench(files)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert set(report.speed_table(df, reports)["unlike_dense"]) == {""}


def test_a_dense_file_without_the_setting_is_not_named_as_the_reference(tmp_path, caplog):
    dense, depth, flap = [write_bench(tmp_path, "m7", v, "hf", 12, 128) for v in VARIANTS]
    for path, dtype in ((dense, None), (depth, "float32"), (flap, "float16")):
        data = json.loads(path.read_text())
        data.pop("dtype", None)
        if dtype:
            data["dtype"] = dtype
        path.write_text(json.dumps(data))
    with caplog.at_level(logging.WARNING, logger="prunebench.report"):
        report.load_bench([dense, depth, flap])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "dense file's" not in warnings[0], warnings
    assert "Rebuild the 1 not timed with the first variant's (the dense file does not record " \
           f"its dtypes) float32 ({flap})" in warnings[0]


def test_a_timed_tables_markdown_opens_with_what_it_was_timed_on_and_what_its_intervals_hold(
        tmp_path):
    """A reader of speed.md or summary.md saw 95% intervals without being told that they hold
    only the spread within each job (a rerun a few minutes later landed outside one), nor on
    what the timings were made."""
    files = [_timed_with(write_bench(tmp_path, "m7", v, "hf", 12, 128), H100) for v in VARIANTS]
    files.append(_timed_with(write_bench(tmp_path, "m7", "dense", "hf", 82, 128)))
    reports = report.load_prune_reports([write_report(tmp_path, "m7", v) for v in VARIANTS])
    speed = report.speed_table(report.load_bench(files), reports)
    caption = report.timing_caption(speed)
    assert caption.startswith(f"Timed on {H100}; CPU AMD EPYC 7B13.")
    assert "within their jobs, not what changes between jobs" in caption
    assert "benchmark.paired" in caption
    md = tmp_path / "speed.md"
    report.write_table(speed, tmp_path / "speed.csv", md, caption=caption)
    text = md.read_text()
    assert text.startswith(caption + "\n\n| model") and caption not in \
        (tmp_path / "speed.csv").read_text()
    assert {"speed", "summary"} == set(report.TIMED_TABLES)



def test_the_quality_tables_markdown_says_what_its_columns_hold(study, tmp_path):
    """quality.md had no caption (the timed tables have one): its units, how the numbers were
    measured and what an empty cell means were in the docs only."""
    root, _, reports, evals = study
    payload = {"accuracy": {"boolq": 0.7, "piqa": 0.75}, "average": 0.725, "num_fewshot": 0,
               "metric": {"boolq": "acc", "piqa": "acc"}}
    zs = write_eval(root, "m7", "depth-4.9B", "zeroshot.json", payload)
    ppl = write_eval(root, "m13", "flap-4.9B", "ppl.json", {
        "perplexity": {"wikitext2": 12.5, "ptb": 22.5}, "window": 128, "stride": 128,
        "bos": True})
    quality = report.quality_table(report.load_prune_reports(reports), report.load_evals(
        [e for e in evals if "m13/flap-4.9B" not in str(e)] + [zs, ppl]))
    caption = report.table_caption("quality", quality, pd.DataFrame())
    assert "`params_pct_dense` (% of the dense model's parameters)" in caption
    assert "`ppl_<dataset>`: perplexity" in caption
    assert "(window 128, stride 128, bos True)" in caption  # the files without settings: none
    assert "`acc_<task>`: zero-shot accuracy as a fraction" in caption
    assert "(num_fewshot 0, metric (boolq acc, piqa acc))" in caption and "{" not in caption
    assert "An empty cell: not measured" in caption
    # without zero-shot files, nothing is said of accuracy; the other tables have no caption
    bare = report.quality_table(report.load_prune_reports(reports), report.load_evals(evals))
    assert "acc_" not in report.table_caption("quality", bare, pd.DataFrame())
    assert report.table_caption("published_vs_reproduced", bare, pd.DataFrame()) == ""
    md = tmp_path / "quality.md"
    report.write_table(quality, tmp_path / "quality.csv", md, caption=caption)
    assert md.read_text().startswith(caption + "\n\n| model")

def test_cells_timed_alike_give_no_timing_warning(tmp_path, caplog):
    """Each cell on one device is enough; another backend or token config on another device,
    a CPU cell, and files that do not record a setting are not compared."""
    files = []
    for variant in VARIANTS:
        files.append(_timed_with(write_bench(tmp_path, "m7", variant, "hf", 12, 128), H100))
        files.append(_timed_with(write_bench(tmp_path, "m7", variant, "compiled", 12, 128),
                                 A100))
        files.append(_timed_with(write_bench(tmp_path, "m7", variant, "hf", 82, 128)))
        files.append(write_bench(tmp_path, "m7", variant, "compiled", 82, 128))
    _timed_with(files[-1], H100)  # one variant records its device, the others do not
    with caplog.at_level(logging.WARNING, logger="prunebench.report"):
        df = report.load_bench(files)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    reports = report.load_prune_reports([write_report(tmp_path, "m7", v) for v in VARIANTS])
    assert set(report.speed_table(df, reports)["unlike_dense"]) == {""}
    assert set(df["device_name"].dropna()) == {H100, A100, "CPU AMD EPYC 7B13"}


def test_cpu_cells_are_told_apart_by_the_processors_model_name(tmp_path, caplog):
    """Every Linux PC's architecture is "x86_64": the model name is what differs. A file older
    than that field is left out of the comparison, not taken for the same machine."""
    dense, depth, flap = [write_bench(tmp_path, "m7", v, "hf", 12, 128) for v in VARIANTS]
    _timed_with(dense, cpu_model="AMD EPYC 7B13")
    _timed_with(depth, cpu_model="Intel(R) Xeon(R) Platinum 8480+")
    _timed_with(flap, cpu_model=None)
    with caplog.at_level(logging.WARNING, logger="prunebench.report"):
        df = report.load_bench([dense, depth, flap])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "timed with different devices (CPU AMD EPYC 7B13 for dense; " \
        "CPU Intel(R) Xeon(R) Platinum 8480+ for depth-4.9B)" in warnings[0], warnings
    assert pd.isna(_row(df, variant="flap-4.9B", batch_size=1)["device_name"])


def test_cpu_cells_timed_with_other_thread_counts_are_marked(tmp_path, caplog):
    """A benchmark job gets the run's --cores: a cell rerun with --cores 1 beside a dense file
    timed with 2 threads gave speed-ups of 25x. GPU files' thread counts are not compared."""
    dense, depth, flap = [write_bench(tmp_path, "m7", v, "hf", 12, 128) for v in VARIANTS]
    for path, threads in ((dense, 2), (depth, 1), (flap, 2)):
        _timed_with(path)
        data = json.loads(path.read_text())
        data["provenance"]["torch_threads"] = threads
        path.write_text(json.dumps(data))
    with caplog.at_level(logging.WARNING, logger="prunebench.report"):
        df = report.load_bench([dense, depth, flap])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "different CPU thread counts (2 for dense, flap-4.9B; 1 for " \
        "depth-4.9B)" in warnings[0] and str(depth) in warnings[0], warnings
    assert "`snakemake --cores 2 -f <those files>" in warnings[0]  # the job's threads
    speed = report.speed_table(df, report.load_prune_reports(
        [write_report(tmp_path, "m7", v) for v in VARIANTS]))
    marks = {v: set(speed.loc[speed["variant"] == v, "unlike_dense"]) for v in VARIANTS}
    assert marks == {"dense": {""}, "depth-4.9B": {"threads"}, "flap-4.9B": {""}}
    # A file that does not record its threads (older, or timed on a GPU) is left out, and the
    # others still read as whole numbers.
    data = json.loads(flap.read_text())
    del data["provenance"]["torch_threads"]
    flap.write_text(json.dumps(data))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="prunebench.report"):
        df = report.load_bench([dense, depth, flap])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "(2 for dense; 1 for depth-4.9B)" in warnings[0], warnings
    assert pd.isna(_row(df, variant="flap-4.9B", batch_size=1)["cpu_threads"])
    for path, threads in ((dense, 2), (depth, 1), (flap, 2)):  # the same, timed on a GPU
        _timed_with(path, H100)
        data = json.loads(path.read_text())
        data["provenance"]["torch_threads"] = threads
        path.write_text(json.dumps(data))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="prunebench.report"):
        df = report.load_bench([dense, depth, flap])
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert df["cpu_threads"].isna().all()


def _with_code(path, code):
    """The file with `code` as its provenance's code block (None: none, as in older files)."""
    data = json.loads(path.read_text())
    data["provenance"] = {"seed": 0, **({"code": code} if code else {})}
    path.write_text(json.dumps(data))
    return path


CODE_A = {"commit": "a" * 40, "dirty": False, "hash": "a" * 64}
CODE_B = {"commit": None, "dirty": None, "hash": "b" * 64}


def test_cells_made_by_different_code_are_warned_of(tmp_path, caplog):
    bench = [_with_code(write_bench(tmp_path, "m7", v, "hf", 12, 128), code)
             for v, code in zip(VARIANTS, (CODE_A, CODE_A, CODE_B))]
    with caplog.at_level(logging.WARNING, logger="prunebench.report"):
        report.load_bench(bench)
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "bench files were made by different code" in warning
    assert f"2 by code {'a' * 12} (commit {'a' * 10})" in warning
    assert f"1 by code {'b' * 12} (no git commit)" in warning
    # neither is this checkout's code: all three are to rebuild, named with docs/results.md's advice
    assert "Rebuild the 3 not made by this checkout's code" in warning
    assert str(bench[2]) in warning and "snakemake --cores all -f" in warning
    assert "--forcerun benchmark" in warning


def test_cells_made_by_different_code_are_rebuilt_with_this_runs_arguments(
        tmp_path, caplog, monkeypatch):
    """In a run of its own (`--directory runs/mine`, README's way for one's own model) the
    advice said `snakemake ... --configfile <this run's config files>` without the directory:
    run from the checkout, it would remake the cells there, not in the run's directory. The
    aggregation knows the run's arguments and Snakemake's name, as its flagged-timing advice
    gives them."""
    from prunebench.plan import layout

    monkeypatch.setenv(layout.RERUN_CONFIG_VARIABLE,
                       "--directory runs/mine --configfile my.yaml")
    monkeypatch.setenv(layout.RERUN_PROGRAM_VARIABLE, ".venv/bin/snakemake")
    bench = [_with_code(write_bench(tmp_path, "m7", v, "hf", 12, 128), code)
             for v, code in zip(VARIANTS, (CODE_A, CODE_A, CODE_B))]
    with caplog.at_level(logging.WARNING, logger="prunebench.report"):
        report.load_bench(bench)
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    run = "--directory runs/mine --configfile my.yaml"
    assert f"with `.venv/bin/snakemake --cores all -f <those files> {run}`" in warning
    assert f"`.venv/bin/snakemake --cores all --forcerun benchmark {run}`" in warning
    assert warning.endswith(f"then run `.venv/bin/snakemake --cores all {run}`")
    assert "<this run's config files>" not in warning


def test_cells_of_one_code_give_no_warning(tmp_path, caplog):
    bench = [_with_code(write_bench(tmp_path, "m7", v, "hf", 12, 128), CODE_A) for v in VARIANTS]
    reports = [_with_code(write_report(tmp_path, "m7", v), CODE_A) for v in VARIANTS]
    with caplog.at_level(logging.WARNING, logger="prunebench.report"):
        report.load_bench(bench)
        report.load_prune_reports(reports)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_cells_written_before_the_code_was_recorded_count_as_unknown_code(tmp_path, caplog):
    from prunebench.provenance import code_identity

    current = code_identity()
    reports = [_with_code(write_report(tmp_path, "m7", v), code)
               for v, code in zip(VARIANTS, (None, current, current))]
    evals = [write_eval(tmp_path, "m7", v, "ppl.json", {"perplexity": {"wikitext2": 10.0}})
             for v in VARIANTS]
    _with_code(evals[0], current)
    with caplog.at_level(logging.WARNING, logger="prunebench.report"):
        report.load_prune_reports(reports)
        report.load_evals(evals)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2, warnings
    prune, evaluation = warnings
    assert "1 by unknown code" in prune and "this checkout's" in prune
    # only the dense report (its own rule) is to rebuild: this checkout made the others
    assert "Rebuild the 1 not made" in prune and "--forcerun dense_report" in prune
    assert "2 by unknown code" in evaluation and "--forcerun perplexity" in evaluation


def test_published_vs_reproduced_from_made_up_results(tmp_path):
    published = tmp_path / "published.csv"
    published.write_text("# a comment line\nmodel,variant,metric,published,source\n"
                         "m7,dense,ppl_wikitext2,12.62,a.csv\n"
                         "m7,dense,acc_boolq,0.75,b.csv\n"
                         "m7,depth-4.9B,ppl_wikitext2,20.0,c.csv\n"
                         "other,dense,ppl_wikitext2,9.0,d.csv\n")
    quality = pd.DataFrame({"model": ["m7", "m7"], "variant": ["dense", "depth-4.9B"],
                            "ppl_wikitext2": [12.80, 21.0], "acc_boolq": [0.745, None]})
    table = report.published_vs_reproduced(quality, report.load_published(published))
    rows = {(r.variant, r.metric): r for r in table.itertuples()}
    assert set(rows) == {("dense", "ppl_wikitext2"), ("dense", "acc_boolq"),
                         ("depth-4.9B", "ppl_wikitext2")}  # unpublished / unreproduced left out
    ppl = rows["dense", "ppl_wikitext2"]
    assert ppl.difference == pytest.approx(0.18) and ppl.tolerance == pytest.approx(0.2524)
    assert ppl.within  # within 2% of 12.62
    assert not rows["depth-4.9B", "ppl_wikitext2"].within  # 5% off
    acc = rows["dense", "acc_boolq"]
    assert acc.difference == pytest.approx(-0.005) and acc.tolerance == 0.01 and acc.within
    assert list(table.columns)[:10] == ["model", "variant", "metric", "published", "reproduced",
                                        "difference", "tolerance", "within", "comparable",
                                        "differs_by"]
    # A quality table that says nothing of how it was measured: not known, judged as it stands.
    assert table["comparable"].isna().all() and table["within"].notna().all()
    # nothing configured was published: an empty table with its header
    empty = report.published_vs_reproduced(quality.assign(model="x"),
                                           report.load_published(published))
    report.write_table(empty, tmp_path / "t/pvr.csv", tmp_path / "t/pvr.md", allow_empty=True,
                       empty_note="Nothing configured was published.")
    assert (tmp_path / "t/pvr.csv").read_text().startswith("model,variant,metric,published")
    # the Markdown says why it has no rows, under its header
    header, *rest = (tmp_path / "t/pvr.md").read_text().strip().split("\n\n")
    assert header.startswith("| model") and rest == ["Nothing configured was published."]
    report.write_table(table, tmp_path / "t/pvr.csv", tmp_path / "t/pvr.md", allow_empty=True,
                       empty_note="Nothing configured was published.")
    assert "Nothing configured" not in (tmp_path / "t/pvr.md").read_text()  # rows: no note


def test_a_number_measured_otherwise_than_the_study_is_listed_but_not_compared(tmp_path,
                                                                                 caplog):
    published = tmp_path / "published.csv"
    published.write_text("model,variant,metric,published\n"
                         "m7,dense,ppl_wikitext2,12.62\nm7,dense,acc_hellaswag,0.76\n"
                         "m7,dense,acc_boolq,0.75\nm7,dense,acc_average,0.66\n")
    tasks = ["boolq", "hellaswag"]  # two of the study's seven
    study_cell = {"source": "hf:huggyllama/llama-7b@abc"}
    prune_report = write_report(tmp_path, "m7", "dense")
    ppl = write_eval(tmp_path, "m7", "dense", "ppl.json", {
        "perplexity": {"wikitext2": 12.7}, "window": 128, "stride": 128, "bos": "first",
        "provenance": {"cell": {**study_cell, "max_windows": 40}}})  # a subsample
    zeroshot = write_eval(tmp_path, "m7", "dense", "zeroshot.json", {
        "accuracy": {"boolq": 0.752, "hellaswag": 0.70}, "average": 0.726, "tasks": tasks,
        "metric": {"boolq": "acc", "hellaswag": "acc"},  # the study: acc_norm for hellaswag
        "num_fewshot": 0, "limit": None, "add_bos_token": False, "log_softmax_dtype": "float32",
        "dtype": "float16", "tokenization": "sentencepiece_legacy",
        "provenance": {"cell": study_cell}})
    quality = report.quality_table(report.load_prune_reports([prune_report]),
                                   report.load_evals([ppl, zeroshot]))
    table = report.published_vs_reproduced(quality, report.load_published(published))
    rows = {r.metric: r for r in table.itertuples()}
    assert bool(rows["acc_boolq"].comparable) and bool(rows["acc_boolq"].within)
    assert rows["acc_boolq"].differs_by == ""
    hellaswag = rows["acc_hellaswag"]
    assert not pd.isna(hellaswag.comparable) and not hellaswag.comparable
    assert pd.isna(hellaswag.within)
    assert "metric acc, the study's acc_norm" in rows["acc_hellaswag"].differs_by
    assert "average of 2 tasks" in rows["acc_average"].differs_by
    assert "other metrics for ['hellaswag']" in rows["acc_average"].differs_by
    assert "max_windows 40" in rows["ppl_wikitext2"].differs_by
    # a file without the setting was tokenized by the tokenizer, not as the study's code did
    assert "tokenization 'tokenizer', the study's 'sentencepiece_legacy'" in \
        rows["ppl_wikitext2"].differs_by
    # and a file that does not record the model's precision: not the study's float16
    assert "dtype None, the study's 'float16'" in rows["ppl_wikitext2"].differs_by
    assert "reproduced otherwise than the study measured" in caplog.text
    # the same from protocols given explicitly, and the CSV leaves what was not judged empty
    bare = quality.copy()
    bare.attrs = {}
    again = report.published_vs_reproduced(bare, report.load_published(published),
                                           protocols=quality.attrs["protocols"])
    assert again["comparable"].tolist() == table["comparable"].tolist()
    report.write_table(table, tmp_path / "pvr.csv", tmp_path / "pvr.md")
    written = pd.read_csv(tmp_path / "pvr.csv").set_index("metric")
    assert pd.isna(written.loc["acc_hellaswag", "within"])


def test_zero_shot_scored_before_its_log_softmax_precision_was_recorded_is_not_compared(
        tmp_path):
    # files from before float32 log-probabilities took lm-eval's log-softmax in the model's
    # dtype: a float16 model's answers were scored in float16, not as the study scored them
    published = tmp_path / "published.csv"
    published.write_text("model,variant,metric,published\nm7,dense,acc_boolq,0.75\n")
    old = {"accuracy": {"boolq": 0.752}, "average": 0.752, "tasks": ["boolq"],
           "metric": {"boolq": "acc"}, "num_fewshot": 0, "limit": None, "add_bos_token": False,
           "dtype": "float16", "tokenization": "sentencepiece_legacy",
           "provenance": {"cell": {"source": "hf:huggyllama/llama-7b@abc"}}}
    prune_report = write_report(tmp_path, "m7", "dense")
    zeroshot = write_eval(tmp_path, "m7", "dense", "zeroshot.json", old)
    quality = report.quality_table(report.load_prune_reports([prune_report]),
                                   report.load_evals([zeroshot]))
    row = report.published_vs_reproduced(quality, report.load_published(published)).iloc[0]
    assert not row["comparable"]
    assert row["differs_by"] == "log_softmax_dtype 'float16', the study's 'float32'"
    # a float32 model's logits were float32 all along: only the model's precision differs
    zeroshot = write_eval(tmp_path, "m7", "dense", "zeroshot.json", {**old, "dtype": "float32"})
    quality = report.quality_table(report.load_prune_reports([prune_report]),
                                   report.load_evals([zeroshot]))
    row = report.published_vs_reproduced(quality, report.load_published(published)).iloc[0]
    assert not row["comparable"] and row["differs_by"] == "dtype 'float32', the study's 'float16'"
    # and files older still, from before the dtype was recorded, ran in float32 too
    zeroshot = write_eval(tmp_path, "m7", "dense", "zeroshot.json",
                          {k: v for k, v in old.items() if k != "dtype"})
    quality = report.quality_table(report.load_prune_reports([prune_report]),
                                   report.load_evals([zeroshot]))
    row = report.published_vs_reproduced(quality, report.load_published(published)).iloc[0]
    assert not row["comparable"] and row["differs_by"] == "dtype None, the study's 'float16'"
    # a file from before the zero-shot tokenization was recorded: the checkpoint's tokenizer
    zeroshot = write_eval(tmp_path, "m7", "dense", "zeroshot.json",
                          {k: v for k, v in old.items() if k not in ("dtype", "tokenization")})
    quality = report.quality_table(report.load_prune_reports([prune_report]),
                                   report.load_evals([zeroshot]))
    row = report.published_vs_reproduced(quality, report.load_published(published)).iloc[0]
    assert not row["comparable"]
    assert row["differs_by"] == ("dtype None, the study's 'float16'; tokenization 'tokenizer', "
                                 "the study's 'sentencepiece_legacy'")


@pytest.mark.parametrize("settings, expected", [
    ({"source": "random:llama-7b", "acc": {"tasks": ["boolq"], "num_fewshot": 0, "limit": None,
                                           "add_bos_token": False, "log_softmax_dtype": "float32",
                                           "tokenization": "sentencepiece_legacy",
                                           "dtype": "float16"}},
     ["model source random:llama-7b (not the published weights)"]),
    ({"source": "hf:x", "acc": {"tasks": ["boolq"], "num_fewshot": 0, "limit": 100,
                                "add_bos_token": True, "log_softmax_dtype": "float32",
                                "tokenization": "sentencepiece_legacy", "dtype": "float16"}},
     ["limit 100, the study's None", "add_bos_token True, the study's False"]),
    ({"source": "local:/m", "acc": {"tasks": ["boolq"], "num_fewshot": 5, "limit": None,
                                    "add_bos_token": False, "log_softmax_dtype": "float32",
                                    "tokenization": "sentencepiece_legacy", "dtype": "float16"}},
     ["num_fewshot 5, the study's 0"]),
    ({"source": "hf:x", "acc": {"tasks": ["boolq"], "num_fewshot": 0, "limit": None,
                                "add_bos_token": False, "log_softmax_dtype": "float16",
                                "tokenization": "sentencepiece_legacy", "dtype": "float16"}},
     ["log_softmax_dtype 'float16', the study's 'float32'"]),
    ({"source": "hf:x", "acc": {"tasks": ["boolq"], "num_fewshot": 0, "limit": None,
                                "add_bos_token": False, "log_softmax_dtype": "float32",
                                "tokenization": "tokenizer", "dtype": "float16"}},
     ["tokenization 'tokenizer', the study's 'sentencepiece_legacy'"]),
    ({"source": "hf:x"}, ["its eval file records no settings"]),
    (None, ["its eval file records no settings"]),
])
def test_protocol_differences_name_each_setting_apart_from_the_studys(settings, expected):
    from prunebench.report.tables import protocol_differences

    assert protocol_differences("acc_boolq", settings) == expected


STUDY_ACC = {"tasks": ["boolq"], "num_fewshot": 0, "limit": None, "add_bos_token": False,
             "log_softmax_dtype": "float32", "tokenization": "sentencepiece_legacy",
             "dtype": "float16"}
LLAMA_1 = "baffo32/decapoda-research-llama-7B-hf|huggyllama/llama-7b"


@pytest.mark.parametrize("source, expected", [
    ("hf:huggyllama/llama-7b@4782ad2", []),
    ("hf:HuggyLLaMA/llama-7b", []),  # the hub's ids ignore case
    ("hf:baffo32/decapoda-research-llama-7B-hf@main", []),
    ("hf:meta-llama/Llama-2-7b-hf@01c7f73", [
        "model source hf:meta-llama/Llama-2-7b-hf@01c7f73, the study's "
        "baffo32/decapoda-research-llama-7B-hf or huggyllama/llama-7b"]),
    ("local:/models/llama-7b", []),  # a folder's weights cannot be told: compared as given
])
def test_a_published_number_is_compared_only_with_the_weights_it_was_measured_on(source,
                                                                                 expected):
    """A model named as the published one (`llama-7b`) but downloaded from another repository
    (Llama-2) was judged against LLaMA-1's numbers, and found within them or not."""
    from prunebench.report.tables import protocol_differences

    protocol = {"source": source, "acc": STUDY_ACC}
    assert protocol_differences("acc_boolq", protocol, LLAMA_1) == expected
    assert protocol_differences("acc_boolq", protocol) == []  # a published file without weights


def test_the_published_weights_column_reaches_the_comparison(tmp_path):
    published = tmp_path / "published.csv"
    published.write_text("model,variant,metric,published,source,weights\n"
                         f"m7,dense,acc_boolq,0.75,a.csv,{LLAMA_1}\n")
    prune_report = write_report(tmp_path, "m7", "dense")
    zeroshot = write_eval(tmp_path, "m7", "dense", "zeroshot.json", {
        "accuracy": {"boolq": 0.752}, "average": 0.752, "metric": {"boolq": "acc"},
        **STUDY_ACC, "provenance": {"cell": {"source": "hf:meta-llama/Llama-2-7b-hf@abc"}}})
    quality = report.quality_table(report.load_prune_reports([prune_report]),
                                   report.load_evals([zeroshot]))
    row = report.published_vs_reproduced(quality, report.load_published(published)).iloc[0]
    assert not row["comparable"] and pd.isna(row["within"])
    assert row["differs_by"].startswith("model source hf:meta-llama/Llama-2-7b-hf@abc, the study's")


@pytest.mark.parametrize("rows, message", [
    ("m,v,ppl_wikitext2,1\nm,v,ppl_wikitext2,2\n", "given twice"),
    ("m,v,acc_norm_hellaswag,1\n", "names the score kind: write acc_<task>"),
    ("m,v,perplexity,1\n", "'perplexity' is neither"),
    ("m,v,ppl_ptb,n/a\n", "must be a number"),
])
def test_a_malformed_published_file_is_refused(tmp_path, rows, message):
    path = tmp_path / "published.csv"
    path.write_text("model,variant,metric,published\n" + rows)
    with pytest.raises(PrunebenchError, match=message):
        report.load_published(path)


def test_shipped_published_numbers_load_and_name_configured_variants():
    from workflow_helpers import REPO

    table = report.load_published(REPO / "config" / "published.csv")
    tables_config = yaml.safe_load((REPO / "config" / "paper-tables.yaml").read_text())
    for model, variant in set(zip(table["model"], table["variant"])):
        assert variant in tables_config["models"][model]["variants"], (model, variant)
    dense = table[(table["variant"] == "dense") & (table["metric"] == "ppl_wikitext2")]
    assert dense["published"].round(2).tolist() == [12.62]  # LLaMA-7B, as the study reports
    # each number names the weights it was measured on, and the paper configs download those
    sources = {}
    for name in ("paper.yaml", "paper-tables.yaml"):
        config = yaml.safe_load((REPO / "config" / name).read_text())
        sources.update({m: spec["source"] for m, spec in config["models"].items()})
    for model, weights in set(zip(table["model"], table["weights"])):
        repo = sources[model].removeprefix("hf:").split("@")[0]
        assert repo in weights.split("|"), (model, repo, weights)


def test_pareto_front_keeps_the_variants_no_other_beats():
    x = pd.Series([1.0, 1.5, 1.2, 2.0, 1.1])
    acc = pd.Series([0.60, 0.55, 0.50, 0.40, 0.60])
    # 2 is beaten by 1 (faster, better); 4 ties 0 on accuracy but is faster, so 0 is beaten
    assert report.pareto_front(x, acc).tolist() == [False, True, False, True, True]
    ppl = pd.Series([10.0, 12.0, 13.0, 20.0, 10.0])  # lower is better
    assert report.pareto_front(x, ppl, higher_y_better=False).tolist() == [
        False, True, False, True, True]


def test_quality_vs_speed_figure_one_point_per_variant_and_its_front(study, tmp_path):
    _, bench, reports, evals = study
    summary = report.summary_table(report.load_bench(bench), report.load_prune_reports(reports),
                                   report.load_evals(evals))
    fig = report.plot_quality_vs_speed(summary, tmp_path / "q.png", tmp_path / "q.pdf")
    models = list(dict.fromkeys(summary["model"]))
    assert len(fig.axes) == len(models)
    for ax, model in zip(fig.axes, models):
        variants = (summary["model"] == model).sum()
        (points,) = [c for c in ax.collections if isinstance(c, PathCollection)]
        assert len(points.get_offsets()) == variants
        assert ax.yaxis_inverted()  # perplexity: lower is better, drawn up
        # these files record no runs: no interval, no bars
        assert not [c for c in ax.collections if isinstance(c, LineCollection)]
    assert (tmp_path / "q.png").stat().st_size > 1000 and (tmp_path / "q.pdf").exists()


def test_a_diverged_perplexity_is_a_result_and_the_quality_figure_says_it_is_not_drawn(
        tmp_path):
    """prunebench.evaluate records a model that diverges on a text as an infinite perplexity
    (a float16 overflow's NaN loss too): the aggregation refused the file as damaged, and
    its advice, to remake it, gave the same file. It is a result: `inf` in the tables, and the
    quality-vs-speed panel names the variant it cannot draw."""
    bench = [write_bench(tmp_path, "m7", v, "hf", 12, 128, batches=(1, 8)) for v in VARIANTS]
    reports = [write_report(tmp_path, "m7", v) for v in VARIANTS]
    ppl = {"dense": 10.0, "depth-4.9B": math.inf, "flap-4.9B": 14.0}
    evals = [write_eval(tmp_path, "m7", v, "ppl.json", {"perplexity": {"wikitext2": ppl[v]}})
             for v in VARIANTS]
    assert "Infinity" in evals[1].read_text()  # as json (and prunebench's write_json) write it
    quality = report.quality_table(report.load_prune_reports(reports), report.load_evals(evals))
    assert quality.set_index("variant").loc["depth-4.9B", "ppl_wikitext2"] == math.inf
    report.write_table(quality, tmp_path / "q.csv", tmp_path / "q.md")
    assert "| inf |" in " ".join((tmp_path / "q.md").read_text().split())
    summary = report.summary_table(report.load_bench(bench), report.load_prune_reports(reports),
                                   report.load_evals(evals))
    fig = report.plot_quality_vs_speed(summary, tmp_path / "q.png", tmp_path / "q.pdf")
    (points,) = [c for c in fig.axes[0].collections if isinstance(c, PathCollection)]
    assert len(points.get_offsets()) == 2
    label = " ".join(fig.axes[0].get_xlabel().split())
    assert "not shown: depth-4.9B (ppl_wikitext2 inf (the model diverges))" in label
    # a perplexity that is not a number at all, or minus infinity, is still a damaged file
    for bad in ("NaN", "-Infinity"):
        evals[1].write_text('{"model": "m7", "variant": "depth-4.9B", '
                            f'"perplexity": {{"wikitext2": {bad}}}}}')
        with pytest.raises(PrunebenchError, match="Infinity for a model that diverges"):
            report.load_evals(evals)


def test_an_hf_static_cell_that_ran_eagerly_is_named_as_that_backends(tmp_path, caplog):
    """transformers compiled nothing on the GPU (decode_fallback): the warning named the
    compiled backend for an hf_static cell."""
    bench = [write_bench(tmp_path, "m7", v, "hf_static", 12, 128, batches=(1,), unstable=())
             for v in VARIANTS]
    data = json.loads(bench[1].read_text())
    data["rows"][0].update(decode_mode="eager", decode_fallback="transformers did not compile")
    bench[1].write_text(json.dumps(data))
    reports = [write_report(tmp_path, "m7", v) for v in VARIANTS]
    table = report.speed_table(report.load_bench(bench), report.load_prune_reports(reports))
    with caplog.at_level("WARNING", logger="prunebench.report"):
        assert report.flagged_cells(table) == []
    assert [r.getMessage() for r in caplog.records] == [
        f"results/bench/m7/{VARIANTS[1]}/hf_static/12x128.json: the hf_static decode step ran "
        "eagerly (transformers did not compile), so its timings are not the hf_static "
        "backend's (decode_fallback in results/tables/speed.csv): fix that cause, then rerun "
        "the cell"]


def quality_figure(tmp_path, backend: str, batches: tuple[int, ...]):
    """The quality-vs-speed figure of VARIANTS timed at `batches` on `backend`, 12x128."""
    bench = [write_bench(tmp_path, "m7", v, backend, 12, 128, batches=batches) for v in VARIANTS]
    reports = [write_report(tmp_path, "m7", v) for v in VARIANTS]
    evals = [write_eval(tmp_path, "m7", v, "ppl.json", {"perplexity": {"wikitext2": 10.0 + i}})
             for i, v in enumerate(VARIANTS)]
    summary = report.summary_table(report.load_bench(bench), report.load_prune_reports(reports),
                                   report.load_evals(evals))
    return report.plot_quality_vs_speed(summary, tmp_path / "q.png", tmp_path / "q.pdf")


@pytest.mark.parametrize("backend", ["hf", "hf_static"])
def test_the_quality_figure_names_the_backend_and_tokens_it_draws(backend, tmp_path):
    """The x axis names the cell its speed-ups are from: a backend whose name holds an
    underscore (hf_static) was cut at it ("hf static_12x128")."""
    fig = quality_figure(tmp_path, backend, batches=(1, 8))
    assert fig.axes[0].get_xlabel() == f"batch-1 speed-up over dense ({backend} 12x128)"


def test_without_batch_size_1_the_quality_figure_says_why_its_panel_is_empty(tmp_path):
    """The figure's speed-up is batch 1's: a sweep without it gave empty panels, without a
    word."""
    fig = quality_figure(tmp_path, "hf", batches=(4, 8))
    drawn = [c for c in fig.axes[0].collections if isinstance(c, PathCollection)]
    assert all(len(c.get_offsets()) == 0 for c in drawn)
    label = " ".join(fig.axes[0].get_xlabel().split())
    for variant in VARIANTS:
        assert f"{variant} (no batch-1 speed-up (batch size 1 not timed" in label


@pytest.mark.parametrize("unstable_variant, flagged", [
    ("depth-4.9B", {"dense": False, "depth-4.9B": True, "flap-4.9B": False}),
    ("dense", {"dense": True, "depth-4.9B": True, "flap-4.9B": True})])
def test_a_speed_up_from_a_flagged_timing_is_drawn_hollow(tmp_path, unstable_variant, flagged):
    """A batch-1 speed-up is as trustworthy as the less trustworthy of its two timings."""
    bench = [write_bench(tmp_path, "m7", v, "hf", 12, 128, batches=(1, 8),
                         unstable=(1,) if v == unstable_variant else ()) for v in VARIANTS]
    reports = [write_report(tmp_path, "m7", v) for v in VARIANTS]
    evals = [write_eval(tmp_path, "m7", v, "ppl.json", {"perplexity": {"wikitext2": 10.0 + i}})
             for i, v in enumerate(VARIANTS)]
    summary = report.summary_table(report.load_bench(bench), report.load_prune_reports(reports),
                                   report.load_evals(evals))
    assert dict(zip(summary["variant"], summary["hf_12x128_latency_b1_flagged"])) == flagged
    # speed.md says it per row too: a clean row timed against a flagged dense row is flagged
    view = report.speed_headline(report.speed_table(report.load_bench(bench),
                                                    report.load_prune_reports(reports)))
    says = {(v, b): f for v, b, f in view[["variant", "batch_size", "flags"]].values}
    for variant, expected in flagged.items():
        assert ("dense row flagged" in says[(variant, 1)]) == (
            expected and variant != unstable_variant), says
        assert says[(variant, 8)] == ""
    fig = report.plot_quality_vs_speed(summary, tmp_path / "q.png", tmp_path / "q.pdf")
    drawn = [c for c in fig.axes[0].collections if isinstance(c, PathCollection)]
    hollow = [c for c in drawn if all(tuple(fc) == (1.0, 1.0, 1.0, 1.0)
                                      for fc in c.get_facecolors())]
    assert sum(len(c.get_offsets()) for c in hollow) == sum(flagged.values())
    assert sum(len(c.get_offsets()) for c in drawn) == len(VARIANTS)
    # each speed-up's 95% interval as a horizontal bar around its point
    (bars,) = [c for c in fig.axes[0].collections if isinstance(c, LineCollection)]
    spans = sorted(x for seg in bars.get_segments() for x in (min(seg[:, 0]), max(seg[:, 0])))
    pruned = summary[summary["variant"] != "dense"]  # dense against itself: no bar
    expected = sorted([*pruned["hf_12x128_latency_b1_speedup_ci95_low"],
                       *pruned["hf_12x128_latency_b1_speedup_ci95_high"]])
    assert spans == pytest.approx(expected)
    # summary.md gives the same interval beside each speed-up (none for dense against itself)
    shown = report.headline_table(summary).set_index("variant")["hf_12x128_latency_b1_ci95"]
    for row in pruned.itertuples():
        assert shown[row.variant] == (f"[{row.hf_12x128_latency_b1_speedup_ci95_low:.4g}, "
                                      f"{row.hf_12x128_latency_b1_speedup_ci95_high:.4g}]")
    assert shown["dense"] == ""


@pytest.mark.parametrize("unstable_variant, flagged", [
    ("depth-4.9B", {"dense": False, "depth-4.9B": True, "flap-4.9B": False}),
    ("dense", {"dense": True, "depth-4.9B": True, "flap-4.9B": True})])
def test_a_best_throughput_speed_up_from_a_flagged_timing_says_so(tmp_path, unstable_variant,
                                                                   flagged):
    """The best throughput's row (batch 8 here) unstable: its speed-up, and every speed-up
    divided by it where it is dense's, is flagged in the summary and its headline."""
    bench = [write_bench(tmp_path, "m7", v, "hf", 12, 128, batches=(1, 8),
                         unstable=(8,) if v == unstable_variant else ()) for v in VARIANTS]
    reports = [write_report(tmp_path, "m7", v) for v in VARIANTS]
    summary = report.summary_table(report.load_bench(bench), report.load_prune_reports(reports))
    assert set(summary["hf_12x128_best_batch"]) == {8}
    assert dict(zip(summary["variant"], summary["hf_12x128_best_flagged"])) == flagged
    assert not summary["hf_12x128_latency_b1_flagged"].any()  # batch 1 is clean
    headline = report.headline_table(summary)  # in words: whose timing, and what it is
    said = dict(zip(headline["variant"], headline["hf_12x128_best_flags"]))
    assert said == {v: ("" if not flagged[v] else "unstable" if v == unstable_variant
                        else "dense: unstable") for v in VARIANTS}


def test_a_headline_speed_up_over_a_contended_dense_timing_says_so(tmp_path):
    """Dense's batch-1 timing had other work beside it: each pruned variant's headline
    speed-up divides by it, so summary.md says "dense: contended" beside it, not a bare
    True (or nothing) that leaves the figure to be quoted as it stands."""
    bench = [write_bench(tmp_path, "m7", v, "hf", 12, 128, batches=(1, 8), unstable=())
             for v in VARIANTS]
    dense_file = bench[VARIANTS.index("dense")]
    data = json.loads(dense_file.read_text())
    for row in data["rows"]:
        beside = row["batch_size"] == 1
        row["interference"] = {"other_cpu_cores": 1.5 if beside else 0.0,
                               "gpu_other_processes": [], "competition": beside}
    dense_file.write_text(json.dumps(data))
    # the first pruned variant's own batch-1 timing is unstable as well
    own = bench[VARIANTS.index("depth-4.9B")]
    data = json.loads(own.read_text())
    data["rows"][0].update(unstable=True, latency_s_ci95_rel=0.08)
    own.write_text(json.dumps(data))
    reports = [write_report(tmp_path, "m7", v) for v in VARIANTS]
    summary = report.summary_table(report.load_bench(bench), report.load_prune_reports(reports))
    assert summary["hf_12x128_latency_b1_flagged"].all()
    assert not summary["hf_12x128_best_flagged"].any()  # batch 8 was timed alone
    headline = report.headline_table(summary)
    said = dict(zip(headline["variant"], headline["hf_12x128_latency_b1_flags"]))
    assert said == {"dense": "contended", "depth-4.9B": "unstable; dense: contended",
                    "flap-4.9B": "dense: contended"}
    report.write_table(summary, tmp_path / "s.csv", tmp_path / "s.md", markdown=headline)
    (line,) = [line for line in (tmp_path / "s.md").read_text().splitlines()
               if "flap-4.9B" in line]
    assert "dense: contended" in [cell.strip() for cell in line.strip("|").split("|")]


# ---------------------------------------------------------------------------------------------
# The figure as the study drew it: fixed styles, display names, OOM marks, labels apart

STUDY_VARIANTS = ("dense", "llm_pruner-4.9B", "flap-4.9B", "depth_ppl-4.9B",
                  "depth_ppl-4.9B+lora")
STUDY_SCALE = {"dense": 1.0, "llm_pruner-4.9B": 0.93, "flap-4.9B": 0.88,
               "depth_ppl-4.9B": 0.7, "depth_ppl-4.9B+lora": 0.72}
NAMES = {"models": {"m7": "LLaMA-7B", "m13": "Vicuna-13B"}, "methods": {"depth_ppl": "Ours"}}


def write_rows(root, model, variant, lin, lout, batches, oom=(), scale=None):
    """A bench file of made-up rows: latency grows with the batch, throughput follows."""
    rows = []
    for bs in batches:
        if bs in oom:
            rows.append({"batch_size": bs, "status": "oom", "error": "CUDA out of memory"})
            continue
        lat = (scale or STUDY_SCALE[variant]) * (lout / 128) * (1 + lin / 100) * (1 + 0.05 * bs)
        rows.append({"batch_size": bs, "status": "ok", "latency_s_mean": lat,
                     "latency_s_std": lat / 50, "latency_s_min": lat, "latency_s_median": lat,
                     "throughput_tok_s": bs * lout / lat, "peak_memory_bytes": bs * 2**30})
    path = root / "results/bench" / model / variant / "hf" / f"{lin}x{lout}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"model": model, "variant": variant, "backend": "hf",
                                "input_tokens": lin, "output_tokens": lout, "rows": rows}))
    return path


@pytest.fixture
def study_figure_rows(tmp_path):
    """2 models x 2 token configs of the study's five variants; m13's dense and FLAP run out of
    memory at batch 64 in 12x128, m13's LLM-Pruner at its first batch size in 82x128."""
    paths = []
    for model in ("m7", "m13"):
        for variant in STUDY_VARIANTS:
            for lin in (12, 82):
                oom = ()
                if model == "m13" and lin == 12 and variant in ("dense", "flap-4.9B"):
                    oom = (64,)
                if model == "m13" and lin == 82 and variant == "llm_pruner-4.9B":
                    oom = (1, 8, 16, 32, 64)
                paths.append(write_rows(tmp_path, model, variant, lin, 128, (1, 8, 16, 32, 64),
                                        oom=oom))
    return report.load_bench(paths)


def _line_of(ax, rows):
    """The line drawn through `rows` (matched by its points: seaborn leaves lines unnamed)."""
    ok = rows[rows["status"] == "ok"].sort_values("batch_size")
    found = [line for line in ax.lines if len(line.get_xdata()) == len(ok)
             and np.allclose(line.get_xdata(), ok["latency_s_mean"])]
    assert len(found) == 1, rows[["model", "variant", "tokens"]].iloc[0].to_dict()
    return found[0]


def _is_green(color):
    hue = rgb_to_hsv(to_rgb(color))[0] * 360
    return 90 <= hue <= 160


def _is_blue(color):
    hue = rgb_to_hsv(to_rgb(color))[0] * 360
    return 190 <= hue <= 240


def test_style_table_has_every_method_and_the_studys_styles():
    assert set(figure_style.METHOD_STYLES) == set(METHODS)
    dense = figure_style.DENSE_STYLE
    assert dense.marker == "X" and to_hex(dense.color) == "#7f7f7f"  # gray crosses
    assert figure_style.METHOD_STYLES["llm_pruner"].marker == "^"
    assert figure_style.METHOD_STYLES["flap"].marker == "o"
    for method in ("llm_pruner", "flap"):
        assert _is_green(figure_style.METHOD_STYLES[method].color), method
    ours = figure_style.METHOD_STYLES["depth_ppl"]
    assert ours.marker == "s" and _is_blue(ours.color)
    styles = list(figure_style.METHOD_STYLES.values()) + [dense]
    assert len({(s.color, s.marker) for s in styles}) == len(styles)  # no two alike
    # nor like a method outside the table (every spare style: they repeat after the last)
    spares = {(s.color, s.marker) for s in (figure_style.method_style("stranger", i)
                                            for i in range(16))}
    assert not spares & {(s.color, s.marker) for s in styles}


def test_lora_and_second_size_keep_the_methods_colour_and_marker_with_other_dashes():
    styles = figure_style.line_styles(["dense", "depth_ppl-5.5B", "depth_ppl-5.5B+lora",
                                       "depth_ppl-4.5B", "magic-0.5", "other-0.5"])
    plain, lora, second = (styles[v] for v in ("depth_ppl-5.5B", "depth_ppl-5.5B+lora",
                                                "depth_ppl-4.5B"))
    assert (plain.color, plain.marker) == (lora.color, lora.marker) == \
        (second.color, second.marker)
    assert len({plain.dashes, lora.dashes, second.dashes}) == 3
    assert plain.dashes == "" and plain.linestyle == "-"
    # methods outside the table are drawn in styles of their own, not a listed method's
    taken = {(s.color, s.marker) for s in figure_style.METHOD_STYLES.values()}
    strangers = {(styles[v].color, styles[v].marker) for v in ("magic-0.5", "other-0.5")}
    assert len(strangers) == 2 and not strangers & taken


def test_figure_keeps_one_style_per_method_in_every_panel_and_row(study_figure_rows, tmp_path):
    df = study_figure_rows
    fig = report.plot_throughput_vs_latency(df, tmp_path / "f.png", tmp_path / "f.pdf",
                                            display_names=NAMES)
    expected = {"dense": ("#7f7f7f", "X"), "llm_pruner-4.9B": ("#2ca02c", "^"),
                "flap-4.9B": ("#006d2c", "o"), "depth_ppl-4.9B": ("#1f77b4", "s"),
                "depth_ppl-4.9B+lora": ("#1f77b4", "s")}
    seen = {}
    for r, model in enumerate(("m7", "m13")):
        for c, tok in enumerate(("12x128", "82x128")):
            ax = fig.axes[2 * r + c]
            for variant in STUDY_VARIANTS:
                rows = df[(df["model"] == model) & (df["tokens"] == tok)
                          & (df["variant"] == variant)]
                if not (rows["status"] == "ok").any():
                    continue  # m13 LLM-Pruner 82x128: out of memory throughout
                line = _line_of(ax, rows)
                style = (to_hex(line.get_color()), line.get_marker(), line.get_linestyle())
                assert style[:2] == expected[variant], (model, tok, variant)
                assert seen.setdefault(variant, style) == style, (model, tok, variant)
    assert seen["depth_ppl-4.9B"][2] == "-" and seen["depth_ppl-4.9B+lora"][2] == "--"


def test_figure_legends_titles_and_axis_labels(study_figure_rows, tmp_path):
    fig = report.plot_throughput_vs_latency(study_figure_rows, tmp_path / "f.png",
                                            tmp_path / "f.pdf", display_names=NAMES)
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    assert len(legends) == 2  # one per row: its sizes are the model's
    assert [t.get_text() for t in legends[0].get_texts()] == [
        "LLaMA-7B (dense)", "LLM-Pruner 4.9B", "FLAP 4.9B", "Ours 4.9B", "Ours 4.9B + LoRA"]
    assert legends[0].get_title().get_text() == "LLaMA-7B"
    assert [t.get_text() for t in legends[1].get_texts()][0] == "Vicuna-13B (dense)"
    # legend handles draw what the panels draw
    handle = dict(zip([t.get_text() for t in legends[0].get_texts()], legends[0].legend_handles))
    assert to_hex(handle["FLAP 4.9B"].get_color()) == "#006d2c"
    assert handle["Ours 4.9B + LoRA"].get_linestyle() == "--"
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["12 input x 128 output tokens", "82 input x 128 output tokens", "", ""]
    assert [ax.get_xlabel() for ax in fig.axes] == ["", "", "Latency (s)", "Latency (s)"]
    ylabel = "Throughput (tokens/s, log scale)"  # the log axis said where it is read
    assert [ax.get_ylabel() for ax in fig.axes] == [ylabel, "", ylabel, ""]


def test_figure_default_names_and_sizes_from_the_prune_reports(tmp_path):
    paths = [write_rows(tmp_path, "tiny", v, 12, 32, (1, 4), scale=s)
             for v, s in (("dense", 1.0), ("depth_ppl-0.8", 0.8), ("flap-0.8", 0.9))]
    reports = []
    for variant, after in (("dense", 1_500_000), ("depth_ppl-0.8", 1_203_456),
                           ("flap-0.8", 1_199_000)):
        path = tmp_path / "results/pruned/tiny" / variant / "prune_report.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"model": "tiny", "variant": variant, "method": variant,
                                    "params_before": 1_500_000, "params_after": after,
                                    "blocks_before": 4, "blocks_after": 3}))
        reports.append(path)
    df = report.load_bench(paths)
    fig = report.plot_throughput_vs_latency(df, tmp_path / "f.png", tmp_path / "f.pdf",
                                            reports_df=report.load_prune_reports(reports))
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["tiny (dense)", "Ours (PPL) 1.2M", "FLAP 1.2M"]
    # without the reports a kept fraction reads as a share of dense
    fig = report.plot_throughput_vs_latency(df, tmp_path / "g.png", tmp_path / "g.pdf",
                                            display_names={"models": {"tiny": "Tiny LLaMA"}})
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["Tiny LLaMA (dense)", "Ours (PPL) 80%", "FLAP 80%"]


def test_size_labels_as_the_study_wrote_them():
    assert figure_style.size_label("llm_pruner-4.9B") == "4.9B"
    assert figure_style.size_label("flap-4900M+lora") == "4900M"
    assert figure_style.size_label("flap-4908000000") == "4.91B"
    assert figure_style.size_label("flap-0.8", 1_203_456) == "1.2M"
    assert figure_style.size_label("flap-0.75") == "75%"
    assert figure_style.variant_label("m7", "dense+lora", NAMES) == "LLaMA-7B (dense) + LoRA"


def _oom_marks(ax):
    return {t.get_gid(): t for t in ax.texts if (t.get_gid() or "").startswith("oom:")}


def test_figure_marks_oom_at_the_batch_size_that_ran_out(study_figure_rows, tmp_path):
    df = study_figure_rows
    fig = report.plot_throughput_vs_latency(df, tmp_path / "f.png", tmp_path / "f.pdf",
                                            display_names=NAMES)
    assert [len(_oom_marks(ax)) for ax in fig.axes] == [0, 0, 2, 1]
    marks = _oom_marks(fig.axes[2])  # m13, 12x128
    for variant in ("dense", "flap-4.9B"):
        mark = marks[f"oom:{variant}:64"]
        assert mark.get_text() == "64: OOM" and mark.get_visible()
        last = _row(df, model="m13", variant=variant, tokens="12x128", batch_size=32)
        assert mark.xy == pytest.approx((last["latency_s_mean"], last["throughput_tok_s"]))
        assert to_hex(mark.get_color()) == to_hex(_line_of(fig.axes[2], df[
            (df["model"] == "m13") & (df["tokens"] == "12x128")
            & (df["variant"] == variant)]).get_color())
    # a line out of memory from its first batch size has no point to stand beside: a note
    note = _oom_marks(fig.axes[3])["oom:llm_pruner-4.9B:1"]
    assert note.get_text() == "LLM-Pruner 4.9B: OOM from batch 1"
    # the OOM rows add no point to any line
    assert sum(len(line.get_xdata()) for line in fig.axes[2].lines) == 5 * 5 - 2


def test_figure_log2_axis_has_plain_power_of_two_ticks(study_figure_rows, tmp_path):
    fig = report.plot_throughput_vs_latency(study_figure_rows, tmp_path / "f.png",
                                            tmp_path / "f.pdf")
    fig.canvas.draw()
    for ax in fig.axes:
        assert ax.get_yscale() == "log" and ax.yaxis.get_transform().base == 2
        low, high = ax.get_ylim()
        shown = [(tick, label.get_text()) for tick, label in
                 zip(ax.get_yticks(), ax.get_yticklabels()) if low <= tick <= high]
        assert len(shown) >= 2
        for tick, text in shown:
            assert text == f"{tick:.0f}" and math.log2(tick).is_integer(), text


def test_the_zero_shot_average_carries_its_standard_error_into_tables_and_figure(tmp_path,
                                                                                   caplog):
    """Tasks of 100 documents put one standard error near 0.045: the average's, drawn as a
    vertical bar, says which accuracy differences mean nothing."""
    bench = [write_bench(tmp_path, "m7", v, "hf", 12, 128, batches=(1, 8)) for v in VARIANTS]
    reports = [write_report(tmp_path, "m7", v) for v in VARIANTS]
    evals = []
    for i, v in enumerate(VARIANTS):
        acc = {"boolq": 0.7 - 0.01 * i, "hellaswag": 0.5}
        evals.append(write_eval(tmp_path, "m7", v, "zeroshot.json", {
            "accuracy": acc, "average": sum(acc.values()) / 2,
            "metric": {"boolq": "acc", "hellaswag": "acc_norm"},
            "metrics": {"boolq": {"acc": acc["boolq"], "acc_stderr": 0.03,
                                  "acc_norm": 0.1, "acc_norm_stderr": 0.9},
                        "hellaswag": {"acc": 0.1, "acc_stderr": 0.9, "acc_norm": 0.5,
                                      "acc_norm_stderr": 0.04}}}))
    quality = report.load_evals(evals)
    # each task's own summary metric's error (acc for boolq, acc_norm for hellaswag)
    assert quality["acc_average_stderr"].tolist() == pytest.approx([0.025] * 3)
    assert list(quality.columns)[-2:] == ["acc_average", "acc_average_stderr"]
    summary = report.summary_table(report.load_bench(bench), report.load_prune_reports(reports),
                                   quality)
    headline = report.headline_table(summary)
    assert list(headline.columns).index("acc_average_stderr") == \
        list(headline.columns).index("acc_average") + 1
    fig = report.plot_quality_vs_speed(summary, tmp_path / "q.png", tmp_path / "q.pdf")
    vertical = [seg for c in fig.axes[0].collections if isinstance(c, LineCollection)
                for seg in c.get_segments() if seg[0][0] == seg[-1][0]]
    # each a 95% interval, as the horizontal bars are: 1.96 standard errors either side
    assert sorted(abs(seg[-1][1] - seg[0][1]) for seg in vertical) == \
        pytest.approx([2 * 1.96 * 0.025] * 3)
    # the key sits below the panel, covering no point nor bar, and whole inside the figure
    renderer = fig.canvas.get_renderer()
    (key,) = fig.legends
    box, panel = key.get_window_extent(renderer), fig.axes[0].get_window_extent(renderer)
    assert fig.axes[0].get_legend() is None and box.y1 <= panel.y0
    assert box.x0 >= 0 and box.x1 <= fig.bbox.width and box.y0 >= 0
    # a file without a task's error (older, or lm-eval gave none) has no average error
    data = json.loads(evals[0].read_text())
    del data["metrics"]["boolq"]["acc_stderr"]
    evals[0].write_text(json.dumps(data))
    with caplog.at_level(logging.INFO, logger="prunebench"):
        assert report.load_evals(evals)["acc_average_stderr"].isna().tolist() == \
            [True, False, False]
    # which file and task lack it is said
    assert f"{evals[0]}: task boolq has no standard error of its acc" in caplog.text


@pytest.mark.parametrize("flagged_variant, front_unsure", [
    ("flap-0.8", False),        # off the front: the front stands
    ("depth_ppl-0.8", True)])   # on it: the front may change once that cell is timed again
def test_a_pareto_front_through_a_flagged_speed_up_is_drawn_dashed(tmp_path, flagged_variant,
                                                                    front_unsure):
    summary = pd.DataFrame({
        "model": ["m7"] * 3, "variant": ["dense", "depth_ppl-0.8", "flap-0.8"],
        "hf_12x128_latency_b1_speedup": [1.0, 1.3, 1.1],
        "acc_average": [0.93, 0.91, 0.90]})   # flap-0.8: slower and worse than depth_ppl-0.8
    summary["hf_12x128_latency_b1_flagged"] = summary["variant"] == flagged_variant
    fig = report.plot_quality_vs_speed(summary, tmp_path / "q.png", tmp_path / "q.pdf")
    (front,) = [line for line in fig.axes[0].lines if line.get_label().startswith("Pareto")]
    assert sorted(front.get_xdata()) == [1.0, 1.3]
    assert (front.get_linestyle() == "--") == front_unsure
    (key,) = fig.legends
    labels = [t.get_text() for t in key.get_texts()]
    assert any("flagged speed-up" in label for label in labels) == front_unsure


def _quality_rows(case: str) -> pd.DataFrame:
    if case == "nearly equal":  # names at one fixed offset printed "densellm_pruner-0.8"
        return pd.DataFrame({
            "variant": ["dense", "llm_pruner-0.8", "flap-0.8", "depth_ppl-0.8"],
            "hf_12x128_latency_b1_speedup": [1.0, 1.0004, 1.0008, 1.3],
            "acc_average": [0.93, 0.93, 0.9301, 0.91]}).assign(model="m7")
    if case == "at the right edge":  # names ran off the panel
        return pd.DataFrame({
            "variant": ["dense"] + [f"depth_ppl-0.{i}" for i in range(50, 59)],
            "hf_12x128_latency_b1_speedup": [1.0] + [1.8 + 0.002 * i for i in range(9)],
            "acc_average": [0.93] + [0.90 - 0.004 * i for i in range(9)]}).assign(model="m7")
    return pd.DataFrame({  # forty variants at one point: one text, not forty over each other
        "variant": ["dense"] + [f"sleb-0.{i}" for i in range(50, 89)],
        "hf_12x128_latency_b1_speedup": [1.0] + [1.25] * 39,
        "acc_average": [0.93] + [0.9] * 39}).assign(model="m7")


@pytest.mark.parametrize("case", ["nearly equal", "at the right edge", "on one point"])
def test_variant_names_in_the_quality_figure_never_overlap(tmp_path, case):
    """Every variant is named once, inside its panel, no name over another or under another's
    leader line, and a name sits beside its own point: variants drawn on top of each other
    share one text."""
    from matplotlib.path import Path
    from matplotlib.text import Text

    summary = _quality_rows(case)
    fig = report.plot_quality_vs_speed(summary, tmp_path / "q.png", tmp_path / "q.pdf")
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    frame = ax.get_window_extent(renderer)
    texts = [t for t in ax.texts if (t.get_gid() or "").startswith("variant:")]
    named = [name for t in texts for line in t.get_text().split("\n")
             for name in line.split(", ")]
    assert sorted(named) == sorted(summary["variant"])  # each once, none dropped
    points = {row.variant: ax.transData.transform((row.hf_12x128_latency_b1_speedup,
                                                   row.acc_average))
              for row in summary.itertuples()}
    boxes = []
    for text in texts:
        text.update_positions(renderer)
        box = Text.get_window_extent(text, renderer)  # the text, not its leader line
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1, text.get_text()
        assert frame.y0 <= box.y0 and box.y1 <= frame.y1, text.get_text()
        assert not any(box.overlaps(other) for other in boxes), text.get_text()
        boxes.append(box)
        # its names are of the points it is beside: those drawn where its first one is
        anchor = ax.transData.transform(text.xy)
        across = renderer.points_to_pixels(7)
        for line in text.get_text().split("\n"):
            for name in line.split(", "):
                assert abs(points[name] - anchor).max() <= across, (name, text.get_text())
    # a name's leader line runs through no other name (at the right edge one ran through two)
    for ends in _leaders(ax, renderer):
        line = Path(ends)
        assert not any(line.intersects_bbox(box) for box in boxes), ends
    if case == "on one point":
        assert len(texts) == 2  # dense, and the forty in one


# Six lines nearly on top of each other: labels at one fixed offset would collide.
CROWD = {"dense": 1.0, "llm_pruner-4.9B": 0.99, "flap-4.9B": 0.985, "depth_ppl-4.9B": 0.98,
         "depth_taylor-4.9B": 0.975, "sleb-4.9B": 0.97}


def _crowded_figure(tmp_path):
    paths = [write_rows(tmp_path, "m7", v, 12, 128, (1, 2, 4, 8, 16, 32, 64, 128),
                        oom=(128,) if v == "dense" else (), scale=s)
             for v, s in CROWD.items()]
    df = report.load_bench(paths)
    fig = report.plot_throughput_vs_latency(df, tmp_path / "f.png", tmp_path / "f.pdf")
    fig.canvas.draw()
    return fig, df


def _text_box(text, renderer):
    """Where a text's letters are: an annotation's own extent takes in its leader line too."""
    from matplotlib.text import Text

    if hasattr(text, "update_positions"):
        text.update_positions(renderer)
    return Text.get_window_extent(text, renderer)


def _leaders(ax, renderer) -> list[np.ndarray]:
    """The leader lines drawn in a panel, as their two ends in display coordinates: visible
    annotation arrows, and plain lines of two points without markers (the data lines have
    markers)."""
    ends = []
    for text in ax.texts:
        arrow = getattr(text, "arrow_patch", None)
        if arrow is not None and arrow.get_visible():
            path = arrow.get_transform().transform_path(arrow.get_path())
            ends.append(path.vertices[[0, -1]])
    for line in ax.lines:
        if len(line.get_xydata()) == 2 and line.get_marker() in ("None", "", None, " "):
            ends.append(line.get_transform().transform(line.get_xydata()))
    return ends


def _gap_pt(box, point, renderer) -> float:
    """How far `point` is from the box, in points (0 inside it)."""
    dx = max(box.x0 - point[0], 0.0, point[0] - box.x1)
    dy = max(box.y0 - point[1], 0.0, point[1] - box.y1)
    return float(np.hypot(dx, dy)) / renderer.points_to_pixels(1.0)


def _points_of(df, ax):
    """Each measured point of the panel by its label's gid ("batch:<variant>:<batch>"), in
    display coordinates."""
    ok = df[df["status"] == "ok"]
    return {f"batch:{r.variant}:{r.batch_size}":
            ax.transData.transform((r.latency_s_mean, r.throughput_tok_s))
            for r in ok.itertuples()}


def _panels(fig, df):
    """Each panel with its rows: models down, token configs across, as the figure lays them
    out."""
    models = list(dict.fromkeys(df["model"]))
    tokens = list(df.drop_duplicates("tokens").sort_values(["output_tokens", "input_tokens"])[
        "tokens"])
    return [(fig.axes[r * len(tokens) + c], df[(df["model"] == m) & (df["tokens"] == t)])
            for r, m in enumerate(models) for c, t in enumerate(tokens)]


def test_batch_size_labels_never_overlap_each_other_or_leave_the_panel(tmp_path):
    fig, _ = _crowded_figure(tmp_path)
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    frame = ax.get_window_extent(renderer)
    texts = [t for t in ax.texts if t.get_visible()]
    boxes = [_text_box(t, renderer) for t in texts]
    # two texts are kept apart by a gap (1.4 points on each side), so that two batch sizes
    # never read as one number ("1" "8": "18")
    gap = renderer.points_to_pixels(1.4)
    for i, box in enumerate(boxes):
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1, texts[i].get_text()
        assert frame.y0 <= box.y0 and box.y1 <= frame.y1, texts[i].get_text()
        for j in range(i):
            assert not box.padded(gap).overlaps(boxes[j].padded(gap)), (
                texts[i].get_gid(), texts[j].get_gid())
    assert "oom:dense:128" in _oom_marks(ax)  # an OOM mark is never dropped
    labels = [t for t in texts if t.get_gid().startswith("batch:")]
    # not vacuous: the crowd pushed labels off their first place, and most still found one
    assert any(tuple(t.xyann) != (4, 4) for t in labels)
    assert len(labels) >= len(CROWD) * 7 // 2


# A label within this many points of its point reads as its own; one farther out needs a line.
BESIDE_PT = 8


def _joins(ends, box, point, renderer) -> bool:
    """Whether a leader with these two `ends` runs from the edge of a label's `box` (within 4
    points) to its `point` (within 7: drawn to just short of the marker)."""
    reach = renderer.points_to_pixels(7)
    return any(_gap_pt(box, start, renderer) <= 4 and np.hypot(*(end - point)) <= reach
               for start, end in (ends, ends[::-1]))


@pytest.mark.parametrize("case", ["six lines on top of each other", "the study's grid"])
def test_a_batch_size_label_away_from_its_point_has_a_line_to_that_point(
        tmp_path, study_figure_rows, case):
    """A label the crowd pushed away from its point (ones sat 13 to 31 points out, with
    nothing to say whose they were) has a leader line from the label to its own point."""
    if case == "the study's grid":
        df = study_figure_rows
        fig = report.plot_throughput_vs_latency(df, tmp_path / "f.png", tmp_path / "f.pdf")
        fig.canvas.draw()
    else:
        fig, df = _crowded_figure(tmp_path)
    renderer = fig.canvas.get_renderer()
    away = 0
    for ax, rows in _panels(fig, df):
        points, leaders = _points_of(rows, ax), _leaders(ax, renderer)
        for text in ax.texts:
            gid = text.get_gid() or ""
            if not gid.startswith("batch:") or not text.get_visible():
                continue
            box, point = _text_box(text, renderer), points[gid]
            if _gap_pt(box, point, renderer) <= BESIDE_PT:
                continue
            away += 1
            assert any(_joins(ends, box, point, renderer) for ends in leaders), (gid, box)
    assert away >= 3  # not vacuous: the crowd pushed labels out


def test_batch_size_labels_cover_no_point(tmp_path):
    """A label, placed anywhere, hides no marker of the crowd (its centre)."""
    fig, df = _crowded_figure(tmp_path)
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    centres = list(_points_of(df, ax).values())
    for text in ax.texts:
        if (text.get_gid() or "").startswith("batch:") and text.get_visible():
            box = _text_box(text, renderer)
            assert not any(box.contains(x, y) for x, y in centres), text.get_gid()


def test_a_lone_lines_batch_sizes_sit_beside_their_points_without_lines(tmp_path):
    """Where nothing crowds them, the labels stay right beside their points, as drawn before,
    and no leader line is drawn."""
    paths = [write_rows(tmp_path, "m7", "dense", 12, 128, (1, 8, 16, 32, 64))]
    df = report.load_bench(paths)
    fig = report.plot_throughput_vs_latency(df, tmp_path / "f.png", tmp_path / "f.pdf")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    points = _points_of(df, ax)
    labels = [t for t in ax.texts if (t.get_gid() or "").startswith("batch:")]
    assert sorted(t.get_gid() for t in labels if t.get_visible()) == sorted(points)
    for text in labels:
        assert _gap_pt(_text_box(text, renderer), points[text.get_gid()], renderer) \
            <= BESIDE_PT, text.get_gid()
    assert not _leaders(ax, renderer)


def test_display_names_unknown_method_or_section_is_an_error(study_figure_rows, tmp_path):
    with pytest.raises(PrunebenchError, match=r"unknown method\(s\) \['depth'\].*depth_ppl"):
        report.plot_throughput_vs_latency(study_figure_rows, tmp_path / "f.png",
                                          tmp_path / "f.pdf",
                                          display_names={"methods": {"depth": "Ours"}})
    with pytest.raises(PrunebenchError, match=r"unknown section\(s\) \['model'\]"):
        figure_style.check_display_names({"model": {"m7": "LLaMA-7B"}})
    with pytest.raises(PrunebenchError, match=r"display_names.models: \['m7'\] need a non-emp"):
        figure_style.check_display_names({"models": {"m7": " "}})
    assert not (tmp_path / "f.png").exists()  # refused before anything is drawn


def test_the_tables_provenance_names_the_dense_models_weights(tmp_path):
    """A pruned report names the weights it was cut from (`base`); the dense report names a
    folder only, so the aggregation's record says which weights were in it."""
    from prunebench.checkpoint.integrity import sha256_file
    from prunebench.results import aggregation_record

    model_dir = tmp_path / "resources/models/m7"
    model_dir.mkdir(parents=True)
    (model_dir / "prunebench.json").write_text(json.dumps(
        {"source": "hf:huggyllama/llama-7b", "hub_commit": "4782ad27" * 5}))
    dense = write_report(tmp_path, "m7", "dense")
    data = json.loads(dense.read_text())
    dense.write_text(json.dumps({**data, "checkpoint": str(model_dir)}))
    pruned = write_report(tmp_path, "m7", "depth-4.9B")
    record = aggregation_record({"prune_report": [dense, pruned]}, {})
    entries = {e["path"].split("/")[-2]: e for e in record["inputs"]}
    assert entries["dense"]["weights"] == {
        "checkpoint": str(model_dir), "manifest_sha256": sha256_file(model_dir / "prunebench.json"),
        "source": "hf:huggyllama/llama-7b", "hub_commit": "4782ad27" * 5}
    assert "weights" not in entries["depth-4.9B"]  # its report has its own `base`
