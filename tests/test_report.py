"""Tables and figure from synthetic result files (the aggregation logic, not real measurements)."""

from __future__ import annotations

import json
import math
import struct

import numpy as np
import pandas as pd
import pytest
import yaml

from prunebench import PrunebenchError
from prunebench import report

DENSE_PARAMS = {"m7": 6_738_415_616, "m13": 13_015_864_320}
BLOCK_PARAMS = {"m7": 202_383_360, "m13": 317_204_480}
BLOCKS = {"m7": 32, "m13": 40}


def _latency(model, variant, backend, lin, lout, bs):
    """A distinct, deterministic synthetic latency for every cell, so a speed-up computed against
    the wrong dense row gives a different number."""
    scale = {"m7": 1.0, "m13": 1.9}[model] * {"hf": 1.0, "compiled": 0.6}[backend]
    scale *= {"dense": 1.0, "depth-4.9B": 0.7, "flap-4.9B": 0.9}[variant]
    return scale * (lout / 128) * (1 + lin / 100) * (1 + 0.05 * bs)


def write_bench(root, model, variant, backend, lin, lout, batches=(1, 8, 16), oom=(),
                unstable=None):
    """A bench file. With `unstable` (batch sizes to flag) its rows carry the noise fields of
    prunebench.timing_stats; without, they look like files written before those existed."""
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


def test_bad_json_and_bad_rows_are_named(study):
    _, bench, _, _ = study
    bench[1].write_text("{not json")
    with pytest.raises(PrunebenchError, match=rf"{bench[1].name}.*not valid JSON.*snakemake -f"):
        report.load_bench(bench)
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
        "acc_average", "hf_12x128_latency_b1_speedup", "hf_12x128_best_tok_s",
        "hf_12x128_best_batch", "timings_flagged"]
    report.write_table(table, tmp_path / "s.csv", tmp_path / "s.md", markdown=headline)
    assert pd.read_csv(tmp_path / "s.csv").shape[1] == table.shape[1]
    header = (tmp_path / "s.md").read_text().splitlines()[0]
    assert [c.strip() for c in header.strip("|").split("|")] == list(headline.columns)


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
    assert [ax.get_title() for ax in fig.axes[:3]] == ["12x128", "82x128", "12x512"]
    # panel (m7, 12x128): 3 variants x 3 batches, two OOM points left out
    assert _points_per_axis(fig.axes[0]) == 9 - 2
    assert _points_per_axis(fig.axes[4]) == 9
    assert len(fig.legends) == 1
    assert [t.get_text() for t in fig.legends[0].get_texts()] == list(VARIANTS)


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

    fig = report.plot_throughput_vs_latency(df, tmp_path / "f.png", tmp_path / "f.pdf")
    hollow = [c for c in fig.axes[0].collections if len(c.get_offsets())]
    assert sum(len(c.get_offsets()) for c in hollow) == 1  # only flap at batch 8
    assert tuple(hollow[0].get_offsets()[0]) == pytest.approx(
        (flagged["latency_s_mean"], flagged["throughput_tok_s"]))
    assert all(tuple(fc) == (1.0, 1.0, 1.0, 1.0) for c in hollow for fc in c.get_facecolors())
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert texts[:3] == list(VARIANTS) and "unstable" in texts[3]
    assert "mean latency" in fig.get_suptitle()  # names the throughput statistic it plots


def test_files_without_noise_fields_still_load(study):
    _, bench, reports, _ = study
    table = report.speed_table(report.load_bench(bench), report.load_prune_reports(reports))
    assert table["unstable"].isna().all() and table["latency_s_cv"].isna().all()


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
    flagged = table[table["competition"].fillna(False).astype(bool)]
    assert [(r.variant, r.batch_size) for r in flagged.itertuples()] == [(VARIANTS[0], 8)]
    assert table["competition"].isna().sum() == 2 * (len(VARIANTS) - 1)  # not recorded there
    # the cell to rerun, named for the end-of-run warning, and the count in the summary
    assert report.flagged_cells(table) == [f"results/bench/m7/{VARIANTS[0]}/hf/12x128.json"]
    summary = report.summary_table(df, report.load_prune_reports(reports))
    counts = dict(zip(summary["variant"], summary["timings_flagged"]))
    assert counts == {v: int(v == VARIANTS[0]) for v in VARIANTS}
    fig = report.plot_throughput_vs_latency(df, tmp_path / "f.png", tmp_path / "f.pdf")
    hollow = [c for c in fig.axes[0].collections if len(c.get_offsets())]
    assert len(hollow) == 1 and len(hollow[0].get_offsets()) == 1


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
    assert list(table.columns)[:8] == ["model", "variant", "metric", "published", "reproduced",
                                       "difference", "tolerance", "within"]
    # nothing configured was published: an empty table with its header
    empty = report.published_vs_reproduced(quality.assign(model="x"),
                                           report.load_published(published))
    report.write_table(empty, tmp_path / "t/pvr.csv", tmp_path / "t/pvr.md", allow_empty=True)
    assert (tmp_path / "t/pvr.csv").read_text().startswith("model,variant,metric,published")


def test_shipped_published_numbers_load_and_name_configured_variants():
    from workflow_helpers import REPO

    table = report.load_published(REPO / "config" / "published.csv")
    tables_config = yaml.safe_load((REPO / "config" / "paper-tables.yaml").read_text())
    for model, variant in set(zip(table["model"], table["variant"])):
        assert variant in tables_config["models"][model]["variants"], (model, variant)
    dense = table[(table["variant"] == "dense") & (table["metric"] == "ppl_wikitext2")]
    assert dense["published"].round(2).tolist() == [12.62]  # LLaMA-7B, as the study reports


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
        assert len(ax.collections[0].get_offsets()) == variants
        assert ax.yaxis_inverted()  # perplexity: lower is better, drawn up
    assert (tmp_path / "q.png").stat().st_size > 1000 and (tmp_path / "q.pdf").exists()
