"""End to end: the Snakemake workflow on the embedded default, run in a temporary directory."""
import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from prunebench import modeling
from prunebench.plan import layout
from workflow_helpers import (REPO, copy_workflow, job_counts, make_workdir, reversed_keys,
                              run_snakemake, snakemake)

# The tests of the shared default run (started in the background before the tests are collected,
# see tests/conftest.py) live in this file, with the other end-to-end tests.
pytestmark = pytest.mark.slow

# 2026-01-01 00:00:00 UTC: a settled file time, whole even seconds.
SETTLED_NS = 1_767_225_600 * 1_000_000_000


@pytest.fixture()
def workflow_run(default_workflow_run):
    """The default workflow, run once per test session (tests/conftest.py)."""
    return default_workflow_run


def load(path: Path):
    return json.loads(path.read_text())


def test_every_table_figure_and_cell_is_produced(workflow_run):
    config = yaml.safe_load((workflow_run / "test.yaml").read_text())
    for table in ("speed", "quality", "summary", "published_vs_reproduced"):
        for ext in ("csv", "md"):
            assert (workflow_run / f"results/tables/{table}.{ext}").stat().st_size > 0
    # the timed tables open with what they were timed on and what their intervals hold
    for table in ("speed", "summary"):
        text = (workflow_run / f"results/tables/{table}.md").read_text()
        assert text.startswith("Timed on ") and "95% interval" in text.split("|")[0], text[:300]
    # the tiny model has no published numbers: that table's Markdown says so, not a bare header
    assert "has a published number" in \
        (workflow_run / "results/tables/published_vs_reproduced.md").read_text()
    # Each backend benchmarked gets its cells and its figure (the default's two: a dry run below).
    for ext in ("png", "pdf"):
        for backend in config["benchmark"]["backends"]:
            figure = workflow_run / f"results/figures/throughput_vs_latency_{backend}.{ext}"
            assert figure.stat().st_size > 0
        assert (workflow_run / f"results/figures/quality_vs_speed.{ext}").stat().st_size > 0
    for variant in config["models"]["tiny"]["variants"]:
        for tc in config["benchmark"]["token_configs"]:
            for backend in config["benchmark"]["backends"]:
                assert (workflow_run / f"results/bench/tiny/{variant}/{backend}/{tc}.json").exists()


def test_a_forked_snakemake_run_behaves_as_a_subprocess(tmp_path):
    """The tests' Snakemake runs come from a fork server (workflow_helpers): each must see the
    working directory and environment it is given, return Snakemake's exit status with stdout
    and stderr apart, and stop at its timeout."""
    (tmp_path / "Snakefile").write_text(
        "rule all:\n"
        "    output: 'seen.txt'\n"
        "    run:\n"
        "        import os, time\n"
        "        time.sleep(float(os.environ['PB_SLEEP']))\n"
        "        open(output[0], 'w').write(os.environ['PB_PROBE'] + ' ' + os.getcwd())\n")
    (tmp_path / "empty.yaml").write_text("{}\n")
    done = run_snakemake(tmp_path, "--cores", "1", configfile="empty.yaml",
                         env={"PB_PROBE": "probe-value", "PB_SLEEP": "0"})
    assert done.returncode == 0
    assert (tmp_path / "seen.txt").read_text() == f"probe-value {tmp_path}"
    refused = run_snakemake(tmp_path, "--no-such-option", configfile="empty.yaml", check=False)
    assert refused.returncode == 2  # argparse's status for a bad command line
    assert "unrecognized arguments: --no-such-option" in refused.stderr
    assert "unrecognized" not in refused.stdout
    (tmp_path / "seen.txt").unlink()
    with pytest.raises(subprocess.TimeoutExpired):
        run_snakemake(tmp_path, "--cores", "1", configfile="empty.yaml", timeout=2,
                      env={"PB_PROBE": "x", "PB_SLEEP": "60"})


def test_the_default_as_shipped_schedules_every_cell_and_a_figure_per_backend(tmp_path):
    """The end-to-end run leaves some of the default's cells out (workflow_helpers.FAST); the
    default config as shipped schedules all of them."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    dry = run_snakemake(copy_workflow(tmp_path), "-n", "--cores", "2",
                        configfile="config/config.yaml").stdout
    counts = job_counts(dry)
    variants, bench = config["models"]["tiny"]["variants"], config["benchmark"]
    assert set(bench["backends"]) == {"hf", "compiled"}
    assert counts["benchmark"] == len(variants) * len(bench["backends"]) * len(bench["token_configs"])
    assert counts["perplexity"] == counts["zeroshot"] == len(variants)
    assert counts["lora"] == sum(v.endswith("+lora") for v in variants)
    for backend in bench["backends"]:
        assert f"results/figures/throughput_vs_latency_{backend}.png" in dry


def test_benchmark_values_are_sane(workflow_run):
    config = yaml.safe_load((workflow_run / "test.yaml").read_text())
    variants, bench = config["models"]["tiny"]["variants"], config["benchmark"]
    paths = sorted((workflow_run / "results/bench").rglob("*.json"))
    # every cell the config asks for is checked below (a loop over no file would pass)
    assert {path.relative_to(workflow_run / "results/bench").as_posix() for path in paths} == {
        f"tiny/{v}/{backend}/{tokens.lower()}.json" for v in variants
        for backend in bench["backends"] for tokens in bench["token_configs"]}
    assert len(paths) == len(variants) * len(bench["backends"]) * len(bench["token_configs"]) > 0
    for path in paths:
        result = load(path)
        rows = [r for r in result["rows"] if r["status"] == "ok"]
        assert [r["batch_size"] for r in rows] == [1, 8]
        # Structure, not speed: a busy machine may invert any timing comparison between rows.
        for r in rows:
            assert 0 < r["ttft_s"] < r["latency_s_mean"]
            assert r["throughput_tok_s"] == pytest.approx(
                r["batch_size"] * result["output_tokens"] / r["latency_s_mean"])
            # the config's adaptive repeats reached the sweep: 2 to 4 runs, each row judged
            assert 2 <= r["runs"] == len(r["latencies_s"]) <= 4 and r["unstable"] in (True, False)
            assert isinstance(r["compile_s"], float)  # the build's time, recorded apart
        if result["backend"] == "compiled":  # on CPU `auto` runs the step op by op
            assert result["decode_mode"] == "eager" and not any(r["compile_cache"] for r in rows)
        prov = result["provenance"]
        assert prov["versions"]["torch"] and prov["device"] and "seed" in prov
        assert len(prov["code"]["hash"]) == 64  # which code made it (prunebench stays 0.1.0)
        assert result["attention"]


def test_every_result_file_names_its_model_and_where_the_model_came_from(workflow_run):
    """Each cell's provenance records the model's name and its config source (for a hub model,
    the repository at its revision), the variant, and the settings that made it."""
    config = yaml.safe_load((workflow_run / "test.yaml").read_text())
    results = workflow_run / "results"
    files = [p for kind in ("pruned", "bench", "eval") for p in (results / kind).rglob("*.json")
             if "checkpoint" not in p.parts]  # a checkpoint's own config and tokenizer files
    for path in files:
        variant = path.relative_to(results).parts[2]
        cell = load(path)["provenance"]["cell"]
        assert cell["model"] == "tiny" and cell["source"] == config["models"]["tiny"]["source"], path
        assert cell["variant"] == variant, path
    # Every file the config asks for was among those checked: each variant's prune report (and
    # a recovered variant's base's), evaluations, and one benchmark per backend and token config.
    variants, bench = config["models"]["tiny"]["variants"], config["benchmark"]
    expected = {f"pruned/tiny/{v.removesuffix('+lora')}/prune_report.json" for v in variants}
    expected |= {f"pruned/tiny/{v}/prune_report.json" for v in variants}
    expected |= {f"eval/tiny/{v}/{name}" for v in variants
                 for name in ("ppl.json", "zeroshot.json", "lm_eval.json")}
    expected |= {f"bench/tiny/{v}/{backend}/{tokens.lower()}.json" for v in variants
                 for backend in bench["backends"] for tokens in bench["token_configs"]}
    assert expected <= {path.relative_to(results).as_posix() for path in files}
    recovered = load(workflow_run / "results/pruned/tiny/depth_ppl-0.8+lora/prune_report.json")
    assert recovered["provenance"]["cell"]["lora"]["seed"] == recovered["provenance"]["seed"]
    assert recovered["base_provenance"]["cell"]["variant"] == "depth_ppl-0.8"
    # The memory-only settings, which reach the jobs from the config rather than their params,
    # are recorded as each cell ran with them.
    from prunebench.plan.config_files import schema_defaults

    for stage, name in (("perplexity", "ppl.json"), ("zeroshot", "zeroshot.json")):
        given = {**schema_defaults(f"evaluation.{stage}"), **config["evaluation"][stage]}
        cell = load(results / "eval/tiny/dense" / name)["provenance"]["cell"]
        assert cell["batch_size"] == given["batch_size"], name
    assert recovered["provenance"]["cell"]["lora"]["gradient_checkpointing"] is \
        config["lora"]["gradient_checkpointing"] is True  # the test config's, not the default


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
    cell = "results/bench/tiny/flap-0.8/compiled/12x16.json"
    # What ran is read from the runs' job tables, and the other cells are compared by content:
    # not by mtime, which some file systems (a sandbox's, a network one) move after a file was
    # written, and which others keep in steps of 2 s.
    # The aggregation's own record (results/tables/provenance.json) names the forced cell's
    # new sha256: it is the aggregation's output, rerun as the test expects.
    others = contents([p for p in (workflow_run / "results").rglob("*.json")
                       if not str(p).endswith(cell) and p.parent.name != "tables"])
    dry = snakemake(workflow_run, "-n", "-f", cell, "results/tables/speed.csv").stdout
    assert job_counts(dry) == {"benchmark": 1, "aggregate": 1}, dry
    forced = snakemake(workflow_run, "-f", cell).stderr  # a run logs its job table to stderr
    assert job_counts(forced) == {"benchmark": 1}, forced[-3000:]
    rest = snakemake(workflow_run).stderr
    counts = job_counts(rest)
    counts.pop("all", None)  # the default target's rule, which runs nothing
    assert counts == {"aggregate": 1}, rest[-3000:]
    assert contents(others) == others


def contents(files) -> dict[Path, str]:
    """{file: sha256 of its content}."""
    return {Path(f): hashlib.sha256(Path(f).read_bytes()).hexdigest() for f in files}


def test_nothing_left_to_do_after_a_complete_run(workflow_run):
    assert "Nothing to be done" in snakemake(workflow_run, "-n").stdout + snakemake(workflow_run, "-n").stderr


def test_zero_shot_jobs_kept_their_answers_where_the_workflow_says_and_deleted_them(workflow_run):
    # Each zero-shot job kept its lm-eval answers in this folder while it ran (a rerun of an
    # interrupted one scores only the rest); every job finished, so none is left.
    progress = workflow_run / layout.ZEROSHOT_PROGRESS
    assert progress.is_dir()
    assert list(progress.iterdir()) == []
    # nor any LoRA progress: it goes once the lora job has written its report and ended well
    assert list((workflow_run / "results" / "pruned").rglob("*.lora-unfinished*")) == []


@pytest.mark.parametrize("variants, message", [
    (["dense", "magic-0.5"], "magic-0.5"),          # unknown method: the config checks name it
    (["dense", "depth_ppl-4.9X"], "depth_ppl-4.9X"),  # malformed size
])
def test_bad_config_is_refused_before_any_job(tmp_path, variants, message):
    workdir = make_workdir(tmp_path, models={"tiny": {"source": "tiny", "variants": variants}})
    proc = snakemake(workdir, check=False)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    assert not (workdir / "results" / "pruned").exists()


def test_the_config_with_its_keys_reordered_reruns_nothing(workflow_run):
    config = yaml.safe_load((workflow_run / "test.yaml").read_text())
    (workflow_run / "reordered.yaml").write_text(yaml.safe_dump(reversed_keys(config),
                                                                sort_keys=False))
    dry = snakemake(workflow_run, "-n", configfile="reordered.yaml")
    assert "Nothing to be done" in dry.stdout + dry.stderr, dry.stdout


def test_a_run_that_would_remake_the_tables_without_some_rows_says_so_first(workflow_run):
    """A cell of a stacked run remade with the default config alone used to rebuild the tables
    without the other run's rows, without a word."""
    config = yaml.safe_load((workflow_run / "test.yaml").read_text())
    variants = config["models"]["tiny"]["variants"]
    gone = next(v for v in reversed(variants) if isinstance(v, str) and v != "dense")
    config["models"]["tiny"]["variants"] = [v for v in variants if v != gone]
    (workflow_run / "fewer.yaml").write_text(yaml.safe_dump(config))
    said = "\n".join(snakemake(workflow_run, "-n", configfile="fewer.yaml").stderr.splitlines()
                     + snakemake(workflow_run, "-n", configfile="fewer.yaml").stdout.splitlines())
    assert "prunebench: the tables in results/tables/ hold rows from " in said, said[-3000:]
    assert f"results/pruned/tiny/{gone}/prune_report.json" in said or gone in said
    assert "rerun with the config files that made them (--configfile test.yaml)" in said
    full = snakemake(workflow_run, "-n")
    assert "hold rows from" not in full.stdout + full.stderr
    # The tables named as a target (the rerun command a summary gives names them, not `all`),
    # the tables remade by -f: said too, once.
    named = snakemake(workflow_run, "-n", "-f", "results/tables/speed.csv",
                      configfile="fewer.yaml")
    assert (named.stdout + named.stderr).count("prunebench: the tables in results/tables/ hold "
                                               "rows from ") == 1, named.stderr[-3000:]


def test_target_larger_than_the_built_model_is_refused_before_any_job(workflow_run):
    # Once the model's config.json is here, the dry run knows its size (before that, the prune
    # job checks it before loading any weight: tests/test_failure_modes.py).
    config = yaml.safe_load((workflow_run / "test.yaml").read_text())
    config["models"]["tiny"]["variants"] = ["dense", "depth_ppl-0.8", "depth_ppl-5M"]
    (workflow_run / "big.yaml").write_text(yaml.safe_dump(config))
    proc = snakemake(workflow_run, "-n", configfile="big.yaml", check=False)
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert "model tiny, variant depth_ppl-5M" in output and "larger than the model" in output
    assert not (workflow_run / "results/pruned/tiny/depth_ppl-5M").exists()


def test_missing_hub_model_stops_with_a_message(tmp_path):
    workdir = make_workdir(tmp_path, models={"remote": {"source": "hf:nobody/no-such-model@main",
                                                        "variants": ["dense"]}})
    proc = snakemake(workdir, "resources/models/remote", check=False, env={"HF_HUB_OFFLINE": "1"})
    assert proc.returncode != 0
    log = (workdir / "logs/model/remote.log").read_text()
    assert "nobody/no-such-model" in log and ("offline" in log or "not found" in log)
    assert not (workdir / "resources/models/remote").exists()


def test_a_result_of_a_model_this_config_does_not_name_is_refused_saying_why(tmp_path):
    """A rerun command pasted without its run's --configfile: Snakemake said only 'No rule to
    produce' the file. A configured model's files, a name that merely starts with one
    (tiny2), and the other result kinds are told apart."""
    workdir = copy_workflow(tmp_path)
    for target in ("results/bench/mine/dense/hf/12x32.json", "results/eval/tiny2/dense/ppl.json",
                   "results/pruned/mine/flap-0.8/prune_report.json",
                   "results/paired/mine/flap-0.8/hf/12x32.json"):
        model = target.split("/")[2]
        proc = run_snakemake(workdir, "-n", target, configfile="config/config.yaml",
                             check=False)
        said = " ".join((proc.stdout + proc.stderr).split())
        assert proc.returncode != 0 and "No rule to produce" not in said, said[-2000:]
        assert (f"PrunebenchError: {target} is a result of model '{model}', which this run's "
                "config (--configfile config/config.yaml) does not name (it names 'tiny'): give "
                "the --configfile of the run that made it") in said, said[-2000:]
    # the configured model's own file is planned as before
    proc = run_snakemake(workdir, "-n", "results/eval/tiny/dense/ppl.json",
                         configfile="config/config.yaml")
    assert "unconfigured_model" not in proc.stdout + proc.stderr


def test_a_file_of_a_stage_this_config_switches_off_is_refused_saying_why(tmp_path):
    """A zero-shot or paired file asked for by name under a config that switches its stage
    off (a rerun command pasted without the run's --configfile) stopped with a bare
    KeyError inside an input function."""
    workdir = copy_workflow(tmp_path)
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["evaluation"]["zeroshot"] = None
    (workdir / "nozs.yaml").write_text(yaml.safe_dump(config))
    for target, configfile, section in (
            ("results/eval/tiny/dense/zeroshot.json", "nozs.yaml", "evaluation.zeroshot"),
            ("results/paired/tiny/flap-0.8/hf/12x32.json", "config/config.yaml",
             "benchmark.paired")):
        proc = run_snakemake(workdir, "-n", target, configfile=configfile, check=False)
        said = " ".join((proc.stdout + proc.stderr).split())
        assert proc.returncode != 0 and "KeyError" not in said, said[-2000:]
        assert f"PrunebenchError: {section} is off in this run's config" in said
        assert "give the --configfile of the run that made it" in said


def test_a_dry_run_warns_of_an_unreachable_hub_and_of_gpu_jobs_without_a_gpu(
        tmp_path, small_random_model, small_tokenizer):
    """Said before any job starts, on an offline machine without a GPU (both made so here:
    HF_HUB_OFFLINE, and CUDA_VISIBLE_DEVICES hiding every device). A model of one's own as small
    as the tiny one (a `local:` folder of 0.2M parameters) is made for the CPU too: no warning
    names it (every CPU run of one warned of hours)."""
    folder = tmp_path / "small"
    small_random_model().save_pretrained(folder)
    small_tokenizer.save_pretrained(folder)
    workdir = make_workdir(tmp_path / "wf", device="auto", models={
        "tiny": {"source": "tiny", "variants": ["dense"]},
        "small": {"source": f"local:{folder}", "variants": ["dense"]},
        "remote": {"source": "hf:nobody/no-such-model-7b@main", "variants": ["dense"]}})
    bare = {"HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = snakemake(workdir, "-n", env=bare)
    said = proc.stdout + proc.stderr
    assert "prunebench: 1 file(s) still to make need the Hugging Face hub " \
           "(resources/models/remote); HF_HUB_OFFLINE is set" in said
    assert "job(s) still to run for remote would run on the CPU if they run here" in said
    # `prefetch`, the step that needs the hub, says the hub's part only.
    proc = snakemake(workdir, "-n", "prefetch", env=bare)
    said = proc.stdout + proc.stderr
    assert "need the Hugging Face hub (resources/models/remote)" in said
    assert "shows no GPU" not in said
    config = yaml.safe_load((workdir / "test.yaml").read_text())
    for device in ("cuda", "cpu"):
        (workdir / f"{device}.yaml").write_text(yaml.safe_dump({**config, "device": device}))
        proc = snakemake(workdir, "-n", configfile=f"{device}.yaml", env=bare)
        said = proc.stdout + proc.stderr
        stop = re.search(r"job\(s\) still to run for (.*) would stop at their start", said)
        if device == "cuda":  # the small models' jobs too
            assert stop and set(stop[1].split(", ")) == {"tiny", "small", "remote"}, said
        else:
            assert "shows no GPU" not in said, said
    # The embedded default alone needs neither.
    del config["models"]["remote"], config["models"]["small"]
    (workdir / "tiny.yaml").write_text(yaml.safe_dump(config))
    proc = snakemake(workdir, "-n", configfile="tiny.yaml", env=bare)
    assert "prunebench:" not in proc.stdout + proc.stderr


def test_the_tables_record_what_they_were_made_from(workflow_run):
    """results/tables/provenance.json: every input of the aggregation with its sha256 and
    its own provenance, then the aggregation's."""
    from prunebench.checkpoint.integrity import sha256_file

    record = load(workflow_run / "results/tables/provenance.json")
    inputs = {entry["path"]: entry for entry in record["inputs"]}
    bench = sorted(str(p.relative_to(workflow_run))
                   for p in (workflow_run / "results/bench").rglob("*.json"))
    assert bench and set(bench) <= set(inputs)
    assert any(path.endswith("config/published.csv") for path in inputs)
    for path, entry in inputs.items():
        assert entry["sha256"] == sha256_file(workflow_run / path), path  # absolute stays
        if path.endswith(".json"):
            assert {"versions", "code", "seed", "cell"} <= set(entry["provenance"]), path
    assert record["provenance"]["cell"]["backends"] == ["compiled"]  # the test config's
    assert record["provenance"]["versions"]["torch"]
    # the dense baseline names its weights as a pruned variant's report names its base
    dense = inputs["results/pruned/tiny/dense/prune_report.json"]
    assert dense["weights"]["manifest_sha256"] == sha256_file(
        workflow_run / "resources/models/tiny/prunebench.json")


def test_adding_a_token_config_runs_only_the_new_cells(workflow_run):
    config = yaml.safe_load((workflow_run / "test.yaml").read_text())
    config["benchmark"]["token_configs"].append("8x8")
    (workflow_run / "more.yaml").write_text(yaml.safe_dump(config))
    counts = job_counts(snakemake(workflow_run, "-n", configfile="more.yaml").stdout)
    variants = len(config["models"]["tiny"]["variants"])
    backends = len(config["benchmark"]["backends"])  # one new cell per variant and backend
    assert counts == {"benchmark": variants * backends, "aggregate": 1, "all": 1}


def test_adding_the_hf_static_backend_runs_only_its_cells(workflow_run):
    config = yaml.safe_load((workflow_run / "test.yaml").read_text())
    config["benchmark"]["backends"].append("hf_static")
    (workflow_run / "static.yaml").write_text(yaml.safe_dump(config))
    dry = snakemake(workflow_run, "-n", configfile="static.yaml").stdout
    variants = len(config["models"]["tiny"]["variants"])
    cells = variants * len(config["benchmark"]["token_configs"])  # one per variant and tokens
    assert job_counts(dry) == {"benchmark": cells, "aggregate": 1, "all": 1}, dry
    assert "results/figures/throughput_vs_latency_hf_static.png" in dry


def test_changing_one_variants_parameters_reruns_only_that_variant(workflow_run):
    config = yaml.safe_load((workflow_run / "test.yaml").read_text())
    variants = config["models"]["tiny"]["variants"]
    variants[variants.index("flap-0.8")] = {"name": "flap-0.8", "params": {"structure": "UL-UM"}}
    (workflow_run / "changed.yaml").write_text(yaml.safe_dump(config))
    dry = snakemake(workflow_run, "-n", configfile="changed.yaml").stdout
    counts = job_counts(dry)
    cells = len(config["benchmark"]["token_configs"]) * len(config["benchmark"]["backends"])
    assert counts == {"prune": 1, "benchmark": cells,
                      "perplexity": 1, "zeroshot": 1, "aggregate": 1, "all": 1}, dry
    assert "variant=flap-0.8" in dry and "variant=depth_ppl-0.8" not in dry


def test_an_evaluation_dtype_reruns_the_evaluations_of_its_stage_only(workflow_run):
    config = yaml.safe_load((workflow_run / "test.yaml").read_text())
    config["evaluation"]["perplexity"]["dtype"] = "float16"
    (workflow_run / "fp16.yaml").write_text(yaml.safe_dump(config))
    counts = job_counts(snakemake(workflow_run, "-n", configfile="fp16.yaml").stdout)
    scored = len(list((workflow_run / "results" / "eval").rglob("ppl.json")))
    assert counts == {"perplexity": scored, "aggregate": 1, "all": 1}, counts


def test_evaluation_jobs_load_as_placed_and_in_the_dtype_only_where_one_is_given():
    """Without a dtype the jobs' load arguments are the placement alone, as before the key
    existed: finished evaluations keep their params and are not rerun."""
    from prunebench.plan.variants import evaluation_loading, placement

    config = {"models": {"m": {"source": "tiny", "device_map": "auto", "max_memory": {0: "70GiB"}}},
              "evaluation": {"perplexity": {"datasets": ["embedded"]}, "zeroshot": {"tasks": ["x"]}}}
    for stage in ("perplexity", "zeroshot"):
        assert evaluation_loading(config, "m", stage) == placement(config, "m")
    config["evaluation"]["zeroshot"]["dtype"] = "float16"
    assert evaluation_loading(config, "m", "zeroshot") == {**placement(config, "m"),
                                                           "dtype": "float16"}
    assert evaluation_loading(config, "m", "perplexity") == placement(config, "m")
    del config["evaluation"]["zeroshot"]  # no zero-shot section at all
    assert evaluation_loading(config, "m", "zeroshot") == placement(config, "m")


def test_a_jobs_load_arguments_hold_the_placement_that_its_rerun_check_leaves_out():
    """Snakemake reruns a job whose params' repr() differ from the recorded ones: where the
    blocks go must not be in it, the dtype must, and the job (a script, its params pickled)
    must still get every key."""
    import pickle

    from prunebench.plan.variants import evaluation_loading, placement

    config = {"models": {"m": {"source": "tiny", "device_map": "sequential",
                               "max_memory": {0: "70GiB", "cpu": "200GiB"}},
                         "plain": {"source": "tiny"}},
              "evaluation": {"zeroshot": {"tasks": ["x"], "dtype": "float16"}}}
    loading = evaluation_loading(config, "m", "zeroshot")
    assert repr(loading) == repr({"dtype": "float16"})
    assert repr(placement(config, "m")) == repr(placement(config, "plain")) == "{}"
    for param in (loading, placement(config, "m")):
        received = pickle.loads(pickle.dumps(param))
        assert dict(received) == dict(param) and received["max_memory"] == \
            {0: "70GiB", "cpu": "200GiB"} and received["device_map"] == "sequential"
    assert repr(evaluation_loading(config, "m", "perplexity")) == "{}"


def test_how_often_a_recovery_logs_reaches_the_job_but_not_its_params():
    from prunebench.plan.variants import job_settings, rerun_settings

    def config(**lora):
        return {"lora": {"r": 4, **lora}}

    assert rerun_settings(config(log_every=3), "lora") == rerun_settings(config(), "lora") \
        == rerun_settings(config(log_every=10), "lora")
    assert rerun_settings(config(r=8), "lora") != rerun_settings(config(), "lora")
    params = rerun_settings(config(log_every=3), "lora")
    assert job_settings(config(log_every=3), "lora", params)["log_every"] == 3


def test_the_tiny_models_settings_retrain_it_without_remaking_the_text(workflow_run):
    """embedded.model trains the tiny model; the embedded text (and what is cut from it alone,
    e.g. the offline zero-shot suite) does not depend on it."""
    config = yaml.safe_load((workflow_run / "test.yaml").read_text())
    config["embedded"]["model"] = {**config["embedded"]["model"], "seed": 1}
    (workflow_run / "retrained.yaml").write_text(yaml.safe_dump(config))
    counts = job_counts(snakemake(workflow_run, "-n", configfile="retrained.yaml").stdout)
    assert counts.get("model") == 1 and "prune" in counts, counts
    assert not {"embedded_text", "mc_suite", "instructions"} & set(counts), counts


def test_memory_only_settings_rerun_nothing_of_the_finished_run(workflow_run):
    """Lowering what an out-of-memory message names (plan.variants.MEMORY_ONLY, and where the
    model's blocks go: PLACEMENT_KEYS), or how often a recovery logs, reruns no finished cell,
    the LoRA recovery included; a setting that changes the recovery does."""
    config = yaml.safe_load((workflow_run / "test.yaml").read_text())
    config["models"]["tiny"].update(device_map="sequential", max_memory={"cpu": "20GiB"})
    config["evaluation"]["perplexity"]["batch_size"] += 1
    config["evaluation"]["zeroshot"]["batch_size"] += 1
    config["lora"]["gradient_checkpointing"] = not config["lora"]["gradient_checkpointing"]
    config["lora"]["log_every"] += 1  # what the log says (plan.variants.LOG_ONLY)
    (workflow_run / "memory.yaml").write_text(yaml.safe_dump(config))
    dry = snakemake(workflow_run, "-n", configfile="memory.yaml")
    assert "Nothing to be done" in dry.stdout + dry.stderr, dry.stdout
    config["lora"]["lr"] *= 2
    (workflow_run / "memory.yaml").write_text(yaml.safe_dump(config))
    counts = job_counts(snakemake(workflow_run, "-n", configfile="memory.yaml").stdout)
    assert counts.get("lora") == 1, counts


def test_a_finished_run_moved_elsewhere_reruns_nothing(workflow_run, tmp_path):
    """The checkout moved with its results (a new home, a copy to another file system): no
    job's params or inputs name where it lies, so nothing reruns, the aggregation included."""
    moved = tmp_path / "elsewhere" / "run"
    shutil.copytree(workflow_run, moved, symlinks=True)  # file times kept (copy2)
    dry = snakemake(moved, "-n", configfile="test.yaml")
    assert "Nothing to be done" in dry.stdout + dry.stderr, dry.stdout[-3000:]


def test_the_tables_record_the_runs_config_overrides_for_their_rerun_commands(workflow_run,
                                                                              tmp_path):
    """A setting given with `--config` (over the config files) was left out of the rerun
    commands and of results/tables/provenance.json, so a cell rerun from them was remade under
    the config files alone."""
    workdir = tmp_path / "work"
    shutil.copytree(workflow_run, workdir, symlinks=True)  # file times kept (copy2)
    device = yaml.safe_load((workdir / "test.yaml").read_text())["device"]
    # The run's own value, given again: it changes no job, so only the forced tables remake.
    ran = snakemake(workdir, "-f", "results/tables/speed.csv", "--config", f"device={device}")
    assert job_counts(ran.stderr) == {"aggregate": 1}, ran.stderr[-3000:]
    record = load(workdir / layout.TABLES_PROVENANCE)
    assert record["configfiles"].endswith(f"--configfile test.yaml --config device={device}"), \
        record["configfiles"]


def test_a_cell_result_stopped_part_way_is_remade_by_the_next_plain_run(workflow_run, tmp_path):
    """A forced one-cell rerun (`-f <file>`) that is interrupted leaves its cell without the
    result file (Snakemake deletes it when the job starts). The next plain run used to find
    nothing to do, the tables being made; it remakes those cells, and nothing else."""
    workdir = tmp_path / "work"
    shutil.copytree(workflow_run, workdir, symlinks=True)  # file times kept (copy2)
    (workdir / "results/bench/tiny/dense/compiled/12x16.json").unlink()
    (workdir / "results/eval/tiny/dense/zeroshot.json").unlink()
    (workdir / "results/pruned/tiny/flap-0.8/prune_report.json").unlink()
    # and a checkpoint deleted to save disk, its report kept: nothing to remake for it
    shutil.rmtree(workdir / "results/pruned/tiny/depth_ppl-0.8+lora/checkpoint")
    counts = job_counts(snakemake(workdir, "-n", configfile="test.yaml").stdout)
    counts.pop("all", None)
    # dense's two cells; the flap prune, and its cells after it (new input to them)
    assert counts == {"benchmark": 2, "zeroshot": 2, "prune": 1, "perplexity": 1,
                      "aggregate": 1}, counts


def test_paired_timing_adds_only_its_jobs_and_its_table(workflow_run, tmp_path):
    """benchmark.paired on a finished run: one paired job per pruned variant, backend and token
    config, and the aggregation (its new table); nothing of the finished run reruns, and the
    paired speed-ups sit beside the separate jobs' where the batch sizes meet."""
    workdir = tmp_path / "work"
    shutil.copytree(workflow_run, workdir, symlinks=True)  # file times kept (copy2)
    config = yaml.safe_load((workdir / "test.yaml").read_text())
    tokens = config["benchmark"]["token_configs"][0]
    config["benchmark"]["paired"] = {"token_configs": [tokens], "batch_sizes": [1, 2],
                                     "pairs": 3, "warmup": 1}
    (workdir / "paired.yaml").write_text(yaml.safe_dump(config))
    pruned = [v for v in config["models"]["tiny"]["variants"] if v != "dense"]
    backends = config["benchmark"]["backends"]
    counts = job_counts(snakemake(workdir, "-n", configfile="paired.yaml").stdout)
    assert counts == {"paired_benchmark": len(pruned) * len(backends), "aggregate": 1,
                      "all": 1}
    snakemake(workdir, configfile="paired.yaml")
    table = pd.read_csv(workdir / "results/tables/paired_speedup.csv")
    assert sorted(set(table["variant"])) == sorted(pruned)
    assert len(table) == len(pruned) * len(backends) * 2
    ok = table[table["status"] == "ok"]
    assert (ok["latency_speedup_ci95_low"] <= ok["latency_speedup"]).all()
    assert (ok["latency_speedup"] <= ok["latency_speedup_ci95_high"]).all()
    # batch 1 was swept too, with as many threads (workflow_helpers.PARALLEL_JOBS); batch 2
    # was not (the sweep's sizes are 1 and 8)
    assert ok.loc[ok["batch_size"] == 1, "separate_jobs_speedup"].notna().all()
    # nothing differed: every cell empty (read back from the CSV, an empty column is NaN)
    assert ok["separate_timed_unlike"].map(lambda v: pd.isna(v) or v == "").all()
    assert ok.loc[ok["batch_size"] == 2, "separate_jobs_speedup"].isna().all()
    assert (workdir / "results/tables/paired_speedup.md").read_text().count("\n") > 2
    result = load(workdir / f"results/paired/tiny/{pruned[0]}/{backends[0]}/{tokens}.json")
    assert result["provenance"]["cell"]["pairs"] == 3
    assert result["dense_params"] > result["params"]
    record = load(workdir / "results/tables/provenance.json")
    assert any(entry["kind"] == "paired" for entry in record["inputs"])
    summary = pd.read_csv(workdir / "results/tables/summary.csv")
    paired_b1 = summary.set_index("variant")[f"{backends[0]}_{tokens}_paired_b1_speedup"]
    assert paired_b1[pruned].notna().all() and pd.isna(paired_b1["dense"])
    dry = snakemake(workdir, "-n", configfile="paired.yaml")
    assert "Nothing to be done" in dry.stdout + dry.stderr, dry.stdout[-3000:]


def test_paired_timing_without_a_pruned_variant_plans_no_paired_table(tmp_path):
    """With only dense to time, there is nothing to pair: no paired job, and no paired table
    for the aggregation to promise (and then fail to write)."""
    paired = {"paired": {"token_configs": ["12x16"], "batch_sizes": [1]}}
    workdir = make_workdir(tmp_path, models={"tiny": {"source": "tiny", "variants": ["dense"]}},
                           benchmark=paired)
    dry = snakemake(workdir, "-n", "-p").stdout
    assert "results/tables/speed.csv" in dry
    assert "results/tables/paired_speedup" not in dry and "rule paired_benchmark" not in dry


def test_gpu_smoke_config_builds_its_dag(tmp_path):
    workdir = make_workdir(tmp_path)
    shutil.copy(REPO / "config" / "gpu-smoke.yaml", workdir / "smoke.yaml")
    counts = job_counts(snakemake(workdir, "-n", configfile="smoke.yaml").stdout)
    assert counts["benchmark"] == 3 * 1 * 2 and counts["prune"] == 2 and counts["model"] == 1


def test_only_a_random_model_job_holds_the_gpu(tmp_path):
    # A `random:` model is initialised on the GPU when there is one; the tiny model trains on
    # the CPU. The local profile's `gpu=1` keeps the former apart from the other GPU jobs.
    workdir = make_workdir(tmp_path, device="auto", models={
        "tiny": {"source": "tiny", "variants": ["dense"]},
        "r7": {"source": "random:llama-7b", "variants": ["dense"]}})
    dry = snakemake(workdir, "-n", "resources/models/tiny", "resources/models/r7").stdout
    gpu = {re.search(r"model=(\S+)", job)[1]: re.search(r"resources: .*\bgpu=(\d+)", job)[1]
           for job in dry.split("rule ") if job.startswith("model:")}
    assert gpu == {"tiny": "0", "r7": "1"}, dry


def test_report_builds_from_the_results_and_contains_the_figure(workflow_run):
    """`snakemake --report` after the run: the ZIP holds the HTML report, the figure and the
    tables, and the captions (rendered with the config) are in it."""
    import zipfile

    snakemake(workflow_run, "--report", "report.zip")
    with zipfile.ZipFile(workflow_run / "report.zip") as archive:
        names = archive.namelist()
        html = next(archive.read(n) for n in names if n.endswith("report.html")).decode()
    for backend in yaml.safe_load((workflow_run / "test.yaml").read_text())["benchmark"]["backends"]:
        assert any(n.endswith(f"throughput_vs_latency_{backend}.png") for n in names), names
    assert any(n.endswith("quality_vs_speed.png") for n in names), names
    for table in ("speed", "quality", "summary"):
        assert any(n.endswith(f"{table}.csv") for n in names), names
    assert "Throughput vs latency" in html and "Tables" in html
    assert "Rows are the models" in html            # the figure's caption, rendered
    assert "prunebench: what structured pruning buys" in html   # workflow/report/workflow.rst


# ------------------------------------------------------- F39 (docs/failure-modes.md): fault injection

KILL_DURING_SAVE = """
import os
marker = os.environ.get("PRUNEBENCH_TEST_KILL_MARKER")
if marker and os.path.exists(marker):
    import signal
    import huggingface_hub

    real = huggingface_hub.save_torch_state_dict

    def save_then_die(*args, **kwargs):
        real(*args, **kwargs)  # the weights are on disk in the temporary folder...
        os.remove(marker)
        os.kill(os.getpid(), signal.SIGKILL)  # ...and the job dies before manifest and rename

    huggingface_hub.save_torch_state_dict = save_then_die
"""


def test_f39_job_killed_mid_checkpoint_write_then_rerun_is_identical(tmp_path, default_workflow_run):
    # A copy of the session's finished default run (modification times kept, so nothing in it
    # looks stale): its prune cell is the clean outcome the killed-then-rerun cell must match.
    workdir = tmp_path / "work"
    shutil.copytree(default_workflow_run, workdir, symlinks=True)
    cell = "results/pruned/tiny/depth_ppl-0.8"
    target = f"{cell}/prune_report.json"

    def run(env=None):
        return snakemake(workdir, target, check=False, env=env)

    def outcome():
        manifest = json.loads((workdir / cell / "checkpoint" / modeling.MANIFEST).read_text())
        report = json.loads((workdir / target).read_text())
        return (manifest["weights_sha256"], report["method_report"]["removed_blocks"],
                report["params_after"])

    clean = outcome()
    # The base model's files get a settled past mtime (whole even seconds, exact on any file
    # system; Snakemake dates a directory output by its .snakemake_timestamp, left as it is), so
    # a rewrite shows as a new mtime even where a file's mtime moves after it is written; and
    # their content is compared as well.
    base = workdir / "resources/models/tiny"
    for file in base.iterdir():
        if file.is_file() and file.name != ".snakemake_timestamp":
            os.utime(file, ns=(SETTLED_NS, SETTLED_NS))
    base_state = {f: (f.stat().st_mtime_ns, digest) for f, digest in contents(
        f for f in base.iterdir() if f.is_file() and f.name != ".snakemake_timestamp").items()}
    assert base_state[base / modeling.MANIFEST][0] == SETTLED_NS
    shutil.rmtree(workdir / cell)

    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(KILL_DURING_SAVE)
    marker = tmp_path / "kill-once"
    marker.write_text("")
    killed = run({"PYTHONPATH": f"{inject}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
                  "PRUNEBENCH_TEST_KILL_MARKER": str(marker)})
    assert killed.returncode != 0 and not marker.exists(), killed.stderr[-4000:]
    # Nothing that Snakemake (or a person) could mistake for a finished prune:
    assert not (workdir / cell / "checkpoint").exists()
    assert not (workdir / cell / "prune_report.json").exists()

    again = run()
    assert again.returncode == 0, again.stderr[-4000:]
    assert outcome() == clean  # same blocks, same weights (so the same model), same size
    assert not list((workdir / cell).glob(".checkpoint.partial-*"))
    # The base model was not touched by any of this: neither rewritten nor changed.
    assert {f: (f.stat().st_mtime_ns, digest) for f, digest in contents(base_state).items()} \
        == base_state
