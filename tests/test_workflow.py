"""End to end: the Snakemake workflow on the embedded default, run in a temporary directory."""
import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from workflow_helpers import REPO, copy_workflow, job_counts, run_snakemake

pytestmark = pytest.mark.slow

# The default config, made quicker: a shorter training run and a smaller sweep.
FAST = {
    "embedded": {"seed": 0, "model": {"seed": 0, "steps": 120}},
    "benchmark": {"token_configs": ["12x16", "32x16"], "batch_sizes": [1, 8], "warmup": 1,
                  "repeats": 2},
}


def snakemake(workdir: Path, *args: str, check: bool = True, configfile: str = "test.yaml",
              env: dict | None = None) -> subprocess.CompletedProcess:
    return run_snakemake(workdir, "--cores", "2", *args, configfile=configfile, check=check,
                         env=env)


def make_workdir(path: Path, **overrides) -> Path:
    copy_workflow(path)
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for key, value in {**FAST, **overrides}.items():
        config[key] = {**config[key], **value} if isinstance(value, dict) and key in config else value
    (path / "test.yaml").write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def workflow_run(tmp_path_factory):
    workdir = make_workdir(tmp_path_factory.mktemp("workflow"))
    snakemake(workdir)
    return workdir


def load(path: Path):
    return json.loads(path.read_text())


def test_every_table_figure_and_cell_is_produced(workflow_run):
    config = yaml.safe_load((workflow_run / "test.yaml").read_text())
    for table in ("speed", "quality", "summary"):
        for ext in ("csv", "md"):
            assert (workflow_run / f"results/tables/{table}.{ext}").stat().st_size > 0
    for ext in ("png", "pdf"):
        assert (workflow_run / f"results/figures/throughput_vs_latency_hf.{ext}").stat().st_size > 0
    for variant in config["models"]["tiny"]["variants"]:
        for tc in config["benchmark"]["token_configs"]:
            assert (workflow_run / f"results/bench/tiny/{variant}/hf/{tc}.json").exists()


def test_benchmark_values_are_sane(workflow_run):
    for path in (workflow_run / "results/bench").rglob("*.json"):
        result = load(path)
        rows = [r for r in result["rows"] if r["status"] == "ok"]
        assert [r["batch_size"] for r in rows] == [1, 8]
        assert all(r["latency_s_mean"] > 0 for r in rows)
        assert rows[-1]["throughput_tok_s"] > rows[0]["throughput_tok_s"], path
        prov = result["provenance"]
        assert prov["versions"]["torch"] and prov["device"] and "seed" in prov
        assert result["attention"]


def test_pruned_model_has_requested_size_within_one_block(workflow_run):
    report = load(workflow_run / "results/pruned/tiny/depth_ppl-0.8/prune_report.json")
    removed = report["blocks_before"] - report["blocks_after"]
    block = (report["params_before"] - report["params_after"]) / removed
    assert abs(report["params_after"] - report["target_params"]) <= block
    assert report["method_report"]["removed_blocks"]
    quality = pd.read_csv(workflow_run / "results/tables/quality.csv")
    config = yaml.safe_load((workflow_run / "test.yaml").read_text())
    assert sorted(quality["variant"]) == sorted(config["models"]["tiny"]["variants"])
    for variant in config["models"]["tiny"]["variants"]:
        if variant != "dense":
            pruned = load(workflow_run / f"results/pruned/tiny/{variant}/prune_report.json")
            assert abs(pruned["params_after"] - pruned["target_params"]) <= block, variant


def test_forcing_one_cell_reruns_only_it_and_the_aggregation(workflow_run):
    cell = "results/bench/tiny/depth_ppl-0.8/hf/12x16.json"
    others = {p: p.stat().st_mtime_ns for p in (workflow_run / "results").rglob("*.json")
              if not str(p).endswith(cell)}
    dry = snakemake(workflow_run, "-n", "-f", cell, "results/tables/speed.csv").stdout
    assert job_counts(dry) == {"benchmark": 1, "aggregate": 1}, dry
    snakemake(workflow_run, "-f", cell)
    snakemake(workflow_run)
    assert {p: p.stat().st_mtime_ns for p in others} == others


def test_nothing_left_to_do_after_a_complete_run(workflow_run):
    assert "Nothing to be done" in snakemake(workflow_run, "-n").stdout + snakemake(workflow_run, "-n").stderr


@pytest.mark.parametrize("variants, message", [
    (["dense", "magic-0.5"], "magic-0.5"),          # unknown method: schema names the value
    (["dense", "depth_ppl-4.9X"], "depth_ppl-4.9X"),  # malformed size
])
def test_bad_config_is_refused_before_any_job(tmp_path, variants, message):
    workdir = make_workdir(tmp_path, models={"tiny": {"source": "tiny", "variants": variants}})
    proc = snakemake(workdir, check=False)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    assert not (workdir / "results" / "pruned").exists()


def test_target_larger_than_model_fails_the_job_and_writes_nothing(workflow_run):
    config = yaml.safe_load((workflow_run / "test.yaml").read_text())
    config["models"]["tiny"]["variants"] = ["dense", "depth_ppl-0.8", "depth_ppl-5B"]
    (workflow_run / "big.yaml").write_text(yaml.safe_dump(config))
    proc = snakemake(workflow_run, "results/pruned/tiny/depth_ppl-5B/prune_report.json",
                     configfile="big.yaml", check=False)
    assert proc.returncode != 0
    log = (workflow_run / "logs/prune/tiny/depth_ppl-5B.log").read_text()
    assert "larger than the model" in log
    assert not (workflow_run / "results/pruned/tiny/depth_ppl-5B").exists() or not any(
        (workflow_run / "results/pruned/tiny/depth_ppl-5B").iterdir())
    assert (workflow_run / "results/pruned/tiny/depth_ppl-0.8/prune_report.json").exists()


def test_missing_hub_model_stops_with_a_message(tmp_path):
    workdir = make_workdir(tmp_path, models={"remote": {"source": "hf:nobody/no-such-model@main",
                                                        "variants": ["dense"]}})
    proc = snakemake(workdir, "resources/models/remote", check=False, env={"HF_HUB_OFFLINE": "1"})
    assert proc.returncode != 0
    log = (workdir / "logs/model/remote.log").read_text()
    assert "nobody/no-such-model" in log and ("offline" in log or "not found" in log)
    assert not (workdir / "resources/models/remote").exists()


def test_adding_a_token_config_runs_only_the_new_cells(workflow_run):
    config = yaml.safe_load((workflow_run / "test.yaml").read_text())
    config["benchmark"]["token_configs"].append("8x8")
    (workflow_run / "more.yaml").write_text(yaml.safe_dump(config))
    counts = job_counts(snakemake(workflow_run, "-n", configfile="more.yaml").stdout)
    variants = len(config["models"]["tiny"]["variants"])
    assert counts == {"benchmark": variants, "aggregate": 1, "all": 1}


def test_changing_one_variants_parameters_reruns_only_that_variant(workflow_run):
    config = yaml.safe_load((workflow_run / "test.yaml").read_text())
    variants = config["models"]["tiny"]["variants"]
    variants[variants.index("flap-0.8")] = {"name": "flap-0.8", "params": {"structure": "UL-UM"}}
    (workflow_run / "changed.yaml").write_text(yaml.safe_dump(config))
    dry = snakemake(workflow_run, "-n", configfile="changed.yaml").stdout
    counts = job_counts(dry)
    assert counts == {"prune": 1, "benchmark": len(config["benchmark"]["token_configs"]),
                      "perplexity": 1, "zeroshot": 1, "aggregate": 1, "all": 1}, dry
    assert "variant=flap-0.8" in dry and "variant=depth_ppl-0.8" not in dry


def test_gpu_smoke_config_builds_its_dag(tmp_path):
    workdir = make_workdir(tmp_path)
    shutil.copy(REPO / "config" / "gpu-smoke.yaml", workdir / "smoke.yaml")
    counts = job_counts(snakemake(workdir, "-n", configfile="smoke.yaml").stdout)
    assert counts["benchmark"] == 4 * 2 * 2 and counts["prune"] == 3 and counts["model"] == 1


def test_report_builds_from_the_results_and_contains_the_figure(workflow_run):
    """`snakemake --report` after the run: the ZIP holds the HTML report, the figure and the
    tables, and the captions (rendered with the config) are in it."""
    import zipfile

    snakemake(workflow_run, "--report", "report.zip")
    with zipfile.ZipFile(workflow_run / "report.zip") as archive:
        names = archive.namelist()
        html = next(archive.read(n) for n in names if n.endswith("report.html")).decode()
    assert any(n.endswith("throughput_vs_latency_hf.png") for n in names), names
    for table in ("speed", "quality", "summary"):
        assert any(n.endswith(f"{table}.csv") for n in names), names
    assert "Throughput vs latency" in html and "Tables" in html
    assert "Rows are the models" in html            # the figure's caption, rendered
    assert "prunebench: what structured pruning buys" in html   # workflow/report/workflow.rst
