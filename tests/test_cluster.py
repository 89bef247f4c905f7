"""The full-scale path without a cluster, GPUs or hub: job sizes, device maps, the paper DAG,
the SLURM profile against fake SLURM commands, and single-cell reruns of the paper config.
"""
from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import re
import shlex
import shutil
import time
from pathlib import Path

import pytest
import torch
import yaml

from prunebench import PrunebenchError, modeling, usage
from prunebench.plan import jobsize, layout
from prunebench.checkpoint.architectures import architecture_config
from prunebench.checkpoint.device_map import dispatch, main_device, plan

from workflow_helpers import (PARALLEL_JOBS, REPO, copy_workflow, job_counts,
                              require_executable_folder, reversed_keys, run_snakemake)


# --------------------------------------------------------------------------- helpers

snakemake = run_snakemake


def variants(config: dict, model: str) -> list[str]:
    return [v if isinstance(v, str) else v["name"] for v in config["models"][model]["variants"]]


# --------------------------------------------------------------------------- job sizes

@pytest.mark.parametrize("rule", sorted(jobsize.RATES))
def test_13b_jobs_ask_for_more_memory_and_time_than_7b(rule):
    b7 = jobsize.model_billions("/nonexistent", "random:llama-7b")
    b13 = jobsize.model_billions("/nonexistent", "random:llama-13b")
    assert 6.7 < b7 < 6.8 and 13.0 < b13 < 13.1
    assert jobsize.mem_mb(rule, b13) > jobsize.mem_mb(rule, b7)
    assert jobsize.runtime_min(rule, b13) > jobsize.runtime_min(rule, b7)
    # A retried job (out of memory, out of time, a node fault) asks for more.
    assert jobsize.mem_mb(rule, b7, attempt=2) > jobsize.mem_mb(rule, b7)
    assert jobsize.runtime_min(rule, b7, attempt=2) > jobsize.runtime_min(rule, b7)


def test_a_retrys_time_stops_at_the_partitions_limit(monkeypatch):
    b13 = jobsize.model_billions("/nonexistent", "random:llama-13b")
    first, third = (jobsize.runtime_min("lora", b13, attempt=a) for a in (1, 3))
    assert third > first + 10  # uncapped, a third attempt asks for about three times as long
    monkeypatch.setenv(jobsize.MAX_RUNTIME_VARIABLE, str(first + 10))
    assert jobsize.runtime_min("lora", b13, attempt=1) == first
    assert jobsize.runtime_min("lora", b13, attempt=3) == first + 10
    for bad in ("2 days", "0", "-5", "12.5"):
        monkeypatch.setenv(jobsize.MAX_RUNTIME_VARIABLE, bad)
        with pytest.raises(PrunebenchError, match="PRUNEBENCH_MAX_RUNTIME_MIN=.*whole number"):
            jobsize.runtime_min("lora", b13)


def test_a_retrys_memory_stops_at_what_the_nodes_have(monkeypatch):
    """A LoRA job stopped at the partition's time limit is retried asking for more memory too:
    past the nodes' memory sbatch refuses it. PRUNEBENCH_MAX_MEM_MB caps every request."""
    b13 = jobsize.model_billions("/nonexistent", "random:llama-13b")
    first, fourth = (jobsize.mem_mb("lora", b13, attempt=a) for a in (1, 4))
    calibration = jobsize.calibration_mem_mb("bookcorpus", attempt=3)
    assert fourth > first + 1024 and calibration > 1024
    monkeypatch.setenv(jobsize.MAX_MEM_VARIABLE, str(first + 1024))
    assert jobsize.mem_mb("lora", b13, attempt=1) == first
    assert jobsize.mem_mb("lora", b13, attempt=4) == first + 1024
    monkeypatch.setenv(jobsize.MAX_MEM_VARIABLE, "1024")
    assert jobsize.calibration_mem_mb("bookcorpus", attempt=3) == 1024
    for bad in ("500G", "0", "-5", "12.5"):
        monkeypatch.setenv(jobsize.MAX_MEM_VARIABLE, bad)
        with pytest.raises(PrunebenchError, match="PRUNEBENCH_MAX_MEM_MB=.*whole number of MB"):
            jobsize.mem_mb("lora", b13)


@pytest.mark.parametrize("rule", sorted(jobsize.RATES))
def test_small_models_ask_for_less_memory_but_not_less_time(rule):
    """A tiny or 0.5B model's jobs do not queue for the 16-32 GB a 7B one needs; from 1B on
    the rate is its fixed part plus its part per billion; run time keeps its fixed part."""
    rate = jobsize.RATES[rule]
    tiny, half, one = (jobsize.mem_mb(rule, b) for b in (0.0, 0.5, 1.0))
    assert jobsize.SMALL_MODEL_MEM_GB * 1024 == tiny < half < one
    assert one == math.ceil(rate.mem_gb + rate.mem_gb_per_b) * 1024
    assert jobsize.mem_mb(rule, 7.0) == math.ceil(rate.mem_gb + 7 * rate.mem_gb_per_b) * 1024
    assert jobsize.runtime_min(rule, 0.0) == math.ceil(rate.minutes)
    assert jobsize.mem_mb(rule, 0.0, attempt=2) > tiny  # a retry still asks for more


def test_model_size_comes_from_config_json_when_downloaded(tmp_path):
    # A downloaded checkpoint's config.json wins over the size in its name.
    architecture_config("llama-13b").save_pretrained(tmp_path)
    exact = modeling.count_params(architecture_config("llama-13b")) / 1e9
    assert jobsize.model_billions(tmp_path, "hf:someone/llama-7b") == pytest.approx(exact)


@pytest.mark.parametrize("source, billions", [
    # A hub id of a known architecture: its published shape's exact count (as `prunebench plan`)
    ("hf:huggyllama/llama-7b@4782ad2", 6.738415616),
    ("hf:lmsys/vicuna-13b-v1.3", 13.01586432),
    ("hf:meta-llama/Meta-Llama-3-8B", 8.030261248),
    # Else the size its id names.
    ("hf:someone/my-llama-like-7b", 7.0),
    ("hf:HuggingFaceTB/SmolLM2-360M@main", 0.36),  # a size in millions
    ("hf:Qwen/Qwen2.5-0.5B", 0.5),
    ("tiny", 0.0),
])
def test_model_size_before_download(source, billions):
    assert jobsize.model_billions("/nonexistent", source) == billions


def test_unsized_hub_model_says_how_to_size_it():
    with pytest.raises(PrunebenchError, match="set-resources"):
        jobsize.model_billions("/nonexistent", "hf:org/mystery-model")


def dry_run_jobs(output: str) -> dict[str, dict[str, str]]:
    """A dry run's jobs: '<rule> <wildcards>' -> its resources as printed ('<TBD>' included)."""
    jobs = {}
    for block in re.split(r"^rule ", output, flags=re.M)[1:]:
        wildcards = re.search(r"^\s+wildcards: (.*)$", block, flags=re.M)
        resources = re.search(r"^\s+resources: (.*)$", block, flags=re.M)
        name = f"{block.split(':')[0]} {wildcards[1] if wildcards else ''}".strip()
        jobs[name] = dict(item.split("=", 1) for item in resources[1].split(", ")) \
            if resources else {}
    return jobs


def test_slurm_profile_sizes_model_and_calibration_jobs(tmp_path):
    """On a cluster the model jobs ask for memory and time sized by the model (a random 7B is
    initialised in fp16 on the CPU: more than the CPU default's 8 GB), BookCorpus calibration
    for the memory its rows take; the jobs of a hub model whose id names no size are sized when
    they are about to run, once its config.json is here (a dry run shows <TBD>), not refused."""
    workdir = copy_workflow(tmp_path)
    (workdir / "sizes.yaml").write_text(yaml.safe_dump({
        "models": {"r7": {"source": "random:llama-7b", "variants": ["dense"]},
                   "mystery": {"source": "hf:org/mystery-model@main",
                               "variants": ["dense", "flap-0.5"]},
                   "big": {"source": "hf:org/big-70b@main", "variants": ["dense"]}},
        "methods": {"flap": {"calibration": {"source": "bookcorpus"}}},
        "benchmark": {"token_configs": ["12x32"], "batch_sizes": [1]},
        "evaluation": {"perplexity": {"datasets": ["embedded"]}}}))
    dry = snakemake(workdir, "-n", "--workflow-profile", "profiles/slurm",
                    configfile="sizes.yaml").stdout
    jobs = dry_run_jobs(dry)
    b7 = jobsize.model_billions("/nonexistent", "random:llama-7b")
    r7 = jobs["model model=r7"]
    assert (int(r7["mem_mb"]), int(r7["runtime"]), r7["gpu"]) == (
        jobsize.mem_mb("model", b7), jobsize.runtime_min("model", b7), "0")
    assert int(r7["mem_mb"]) > 13_500  # its fp16 weights alone
    download = jobs["model model=mystery"]
    assert (int(download["mem_mb"]), int(download["runtime"])) == (
        jobsize.mem_mb("model", jobsize.UNSIZED_DOWNLOAD_B),
        jobsize.runtime_min("model", jobsize.UNSIZED_DOWNLOAD_B))
    # A download holds one file at a time: a 70B one asks no more than an unsized one.
    assert jobs["model model=big"] == download, jobs["model model=big"]
    assert int(jobs["benchmark model=big, variant=dense, backend=hf, lin=12, lout=32"]["mem_mb"]) \
        == jobsize.mem_mb("benchmark", 70)
    calibration = next(v for k, v in jobs.items() if k.startswith("calibration "))
    assert int(calibration["mem_mb"]) == jobsize.calibration_mem_mb("bookcorpus") >= 16 * 1024
    for name, job in jobs.items():
        if name.split()[0] in jobsize.RATES and "model=mystery" in name \
                and not name.startswith("model "):
            assert job["mem_mb"] == job["runtime"] == "<TBD>", name
    assert "prune model=mystery, variant=flap-0.5" in jobs
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    for rule in ("model", "local_model", "calibration"):  # nothing overrides the sized requests
        assert not {"mem_mb", "runtime"} & set(profile["set-resources"].get(rule, {})), rule


def test_a_device_mapped_models_prune_and_evaluation_jobs_ask_for_the_gpus_it_names(tmp_path):
    """On a cluster such a job gets the GPUs its max_memory names (`--gpus=2`), instead of one
    GPU beside which the rest of the map has no device; locally Snakemake caps the request at
    what `--resources gpu` offers. Benchmarks stay on one GPU."""
    workdir = copy_workflow(tmp_path)
    (workdir / "spread.yaml").write_text(yaml.safe_dump({
        "models": {"r7": {"source": "random:llama-7b", "variants": ["dense", "depth_ppl-4.9B"],
                          "device_map": "auto",
                          "max_memory": {0: "70GiB", 1: "70GiB", "cpu": "200GiB"}},
                   "one": {"source": "random:llama-7b", "variants": ["dense"]},
                   "host": {"source": "random:llama-7b", "variants": ["dense"],
                            "device_map": "auto", "max_memory": {"cpu": "200GiB"}}},
        "benchmark": {"token_configs": ["12x32"], "batch_sizes": [1]},
        "evaluation": {"perplexity": {"datasets": ["embedded"]}}}))

    def gpus(*args: str) -> dict[str, str]:
        jobs = dry_run_jobs(snakemake(workdir, "-n", *args, configfile="spread.yaml").stdout)
        return {name: job["gpu"] for name, job in jobs.items()
                if name.split()[0] in ("prune", "perplexity", "benchmark")}

    cluster = gpus("--workflow-profile", "profiles/slurm")
    assert cluster["prune model=r7, variant=depth_ppl-4.9B"] == "2"
    assert cluster["perplexity model=r7, variant=dense"] == "2"
    assert cluster["perplexity model=one, variant=dense"] == "1"
    assert cluster["perplexity model=host, variant=dense"] == "0"  # a map of the CPU alone
    assert {v for k, v in cluster.items() if k.startswith("benchmark ")} == {"1"}
    assert {v for k, v in gpus().items() if "model=host" not in k} == {"1"}  # one offered
    assert gpus("--resources", "gpu=4")["prune model=r7, variant=depth_ppl-4.9B"] == "2"


def test_params_with_a_max_memory_of_gpu_numbers_and_names_have_one_order():
    """Params are recorded with sorted keys (so a reordered config reruns nothing); the
    documented `{0: 70GiB, 1: 70GiB, cpu: 200GiB}` mixes numbers and names, which plain
    sorting refuses: it stopped every run with a TypeError."""
    from prunebench.plan.variants import canonical

    shuffled = {"cpu": "200GiB", 1: "70GiB", 0: "70GiB", "disk": "1TiB"}
    assert list(canonical(shuffled)) == [0, 1, "cpu", "disk"]
    assert list(canonical({"b": 1, "a": {"d": 2, "c": 3}})["a"]) == ["c", "d"]


@pytest.mark.parametrize("placement, gpus", [
    ({}, None), ({"device_map": "auto"}, None),  # whatever GPUs the job sees
    ({"device_map": "auto", "max_memory": {"cpu": "200GiB"}}, []),  # none
    ({"device_map": {"": "cpu"}}, []),
    ({"device_map": "auto", "max_memory": {0: "70GiB", 1: "70GiB", "cpu": "200GiB"}}, [0, 1]),
    ({"device_map": "sequential", "max_memory": {"1": "70GiB", "cpu": "9GiB"}}, [1]),
    ({"device_map": {"model.embed_tokens": 0, "model.layers": 2, "lm_head": "cpu"}}, [0, 2]),
])
def test_the_gpus_a_placement_names(placement, gpus):
    from prunebench.plan.variants import placement_gpus

    assert placement_gpus(placement) == gpus


# --------------------------------------------------------------------------- device maps

def test_device_map_keeps_each_block_whole_and_in_order(small_random_model):
    """With per-GPU caps the blocks spread over GPUs 0, 1, then CPU, never split."""
    config = small_random_model(num_hidden_layers=6).config
    model = modeling.build_model(config, device="meta")
    block = sum(p.numel() * 4 for p in model.model.layers[0].parameters())
    # accelerate keeps room for the largest block on each GPU, so 3 blocks' worth holds ~2.
    placement = plan(model, "auto", max_memory={0: 3 * block, 1: 3 * block, "cpu": 100 * block})
    devices = [placement.get(f"model.layers.{i}") for i in range(6)]
    assert None not in devices, f"a block was split: {placement}"
    order = {0: 0, 1: 1, "cpu": 2, "disk": 3}
    chain = [placement["model.embed_tokens"], *devices, placement["lm_head"]]
    assert [order[d] for d in chain] == sorted(order[d] for d in chain), placement
    assert {0, 1, "cpu"} <= set(devices), placement


@pytest.fixture
def saved_model(small_random_model, tmp_path):
    model = small_random_model(num_hidden_layers=6)
    path = tmp_path / "ckpt"
    modeling.save_model(model, None, path)
    return path


def _logits(model, ids):
    with torch.no_grad():
        return model(ids.to(main_device(model))).logits.cpu()


def test_device_map_offload_gives_identical_logits(saved_model):
    """A max_memory too small for the model puts later blocks on disk (the CPU test stand-in for
    a model larger than its GPUs); hooks stream them in, and the logits do not change."""
    ids = torch.randint(0, 128, (2, 24), generator=torch.Generator().manual_seed(0))
    reference = _logits(modeling.load_model(saved_model), ids)
    block = sum(p.numel() * 4 for p in modeling.load_model(saved_model).model.layers[0].parameters())
    split = modeling.load_model(saved_model, device_map="sequential",
                                max_memory={"cpu": 3 * block})
    placement = split.hf_device_map
    assert "disk" in placement.values() and "cpu" in placement.values(), placement
    assert torch.equal(_logits(split, ids), reference)


def test_inputs_go_where_the_embedding_computes_not_where_its_weights_are(small_random_model):
    """accelerate computes an embedding mapped to the cpu beside GPUs, or to disk, on the map's
    first GPU (its hook's execution device), its weights streamed in: inputs go there, not to
    the cpu where the weights rest (which only cost a transfer) nor to `model.device`, the meta
    device of the streamed weights. Shown with the hook such a map gives the embedding, set
    without being run (that would need the GPU)."""
    from accelerate.hooks import AlignDevicesHook

    model = small_random_model()
    assert main_device(model) == torch.device("cpu")
    model.model.embed_tokens._hf_hook = AlignDevicesHook(execution_device=0, offload=True)
    model.hf_device_map = {"model.embed_tokens": "cpu", "": 0}
    assert main_device(model) == torch.device("cuda", 0)


def test_explicit_device_map_gives_identical_logits(saved_model):
    ids = torch.randint(0, 128, (1, 16), generator=torch.Generator().manual_seed(1))
    reference = _logits(modeling.load_model(saved_model), ids)
    mapping = {"model.embed_tokens": "cpu", "model.rotary_emb": "cpu", "model.norm": "cpu",
               "lm_head": "cpu", **{f"model.layers.{i}": "cpu" if i < 3 else "disk"
                                    for i in range(6)}}
    split = modeling.load_model(saved_model, device_map=mapping)
    assert torch.equal(_logits(split, ids), reference)


def test_evaluations_record_where_a_spread_model_ran(saved_model, small_tokenizer):
    """A model spread by a device map records its placement, module by module (its `device`
    alone would say only where the inputs went); a model on one device records none."""
    from prunebench.evaluate import perplexities

    whole = modeling.load_model(saved_model)
    assert modeling.placement_record(whole) == {}
    mapping = {"model.embed_tokens": "cpu", "model.rotary_emb": "cpu", "model.norm": "cpu",
               "lm_head": "cpu", **{f"model.layers.{i}": "cpu" if i < 3 else "disk"
                                    for i in range(6)}}
    split = modeling.load_model(saved_model, device_map=mapping)
    settings = {"window": 16, "stride": 16, "bos": "first", "batch_size": 2, "max_windows": 2}
    text = "a quick test of where the blocks ran " * 20
    scores = perplexities(split, small_tokenizer, {"t": text}, settings)["t"]
    assert scores["device_map"] == {k: str(v) for k, v in split.hf_device_map.items()}
    assert scores["device_map"]["model.layers.5"] == "disk"
    assert "device_map" not in perplexities(whole, small_tokenizer, {"t": text}, settings)["t"]


def test_device_map_errors_name_the_fix(saved_model, small_random_model):
    with pytest.raises(PrunebenchError, match="leaves .* tensors without a device"):
        modeling.load_model(saved_model, device_map={"model.embed_tokens": "cpu"})
    with pytest.raises(PrunebenchError, match="unknown device_map"):
        modeling.load_model(saved_model, device_map="everywhere")
    if torch.cuda.device_count() < 8:
        model = small_random_model()
        with pytest.raises(PrunebenchError, match="GPUs are visible"):
            dispatch(model, {"": 7})


# --------------------------------------------------------------------------- the paper DAG

def expected_paper_counts(config: dict) -> dict[str, int]:
    """Jobs per rule of a complete run, from the config alone."""
    from prunebench.pruning import default_calibration, parse_variant

    models = list(config["models"])
    cells = len(config["benchmark"]["token_configs"]) * len(config["benchmark"]["backends"])
    all_variants = [(m, v) for m in models for v in variants(config, m)]
    pruned = [(m, v) for m, v in all_variants if v != "dense"]
    calibrations = set()
    for m, v in pruned:
        method = parse_variant(v)[0]
        calibration = {**default_calibration(method), "seed": 1234,
                       **config.get("methods", {}).get(method, {}).get("calibration", {})}
        calibrations.add((m, tuple(sorted(calibration.items()))))
    hub_texts = [d for d in config["evaluation"]["perplexity"]["datasets"] if d != "embedded"]
    return {
        "model": len(models),
        "dense_report": sum(v == "dense" for _, v in all_variants),
        "prune": len(pruned),
        "calibration": len(calibrations),
        "benchmark": len(all_variants) * cells,
        "perplexity": len(all_variants),
        "text": len(hub_texts),
        "aggregate": 1,
    }


def test_paper_config_dry_run_has_the_expected_jobs_per_rule(tmp_path):
    workdir = copy_workflow(tmp_path)
    config = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    counts = job_counts(snakemake(workdir, "-n", "--cores", "2",
                                  configfile="config/paper.yaml").stdout)
    expected = expected_paper_counts(config)
    assert {rule: counts.get(rule, 0) for rule in expected} == expected, counts
    # The study: 2 models x 4 variants x 4 token configs, both backends.
    assert expected["benchmark"] == 2 * 4 * 4 * 2


def test_prefetch_fetches_every_model_and_dataset_of_the_paper_config(tmp_path):
    """`snakemake prefetch` (on a node with network) leaves nothing for the compute nodes to
    download: every model, every calibration set and every evaluation text."""
    workdir = copy_workflow(tmp_path)
    config = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    counts = job_counts(snakemake(workdir, "-n", "--cores", "2", "prefetch",
                                  configfile="config/paper.yaml").stdout)
    expected = expected_paper_counts(config)
    for rule in ("model", "calibration", "text"):
        assert counts.get(rule) == expected[rule], (rule, counts)
    assert not {"prune", "benchmark", "perplexity", "aggregate"} & set(counts), counts


@pytest.mark.parametrize("config", ["config/config.yaml", "config/gpu-smoke.yaml"])
def test_prefetch_of_an_offline_config_makes_nothing(tmp_path, config):
    """The embedded default and the random-model smoke run need no network: prefetch must not
    train the tiny model or build a 7B random one (13 GB) on a login node."""
    workdir = copy_workflow(tmp_path)
    counts = job_counts(snakemake(workdir, "-n", "--cores", "2", "prefetch",
                                  configfile=config).stdout)
    assert counts == {"prefetch": 1}, counts


def test_paper_config_pins_revisions_and_the_studys_protocol():
    config = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    for name, model in config["models"].items():
        assert re.fullmatch(r"hf:[^@]+@[0-9a-f]{40}", model["source"]), name
    assert config["benchmark"]["token_configs"] == ["12x128", "82x128", "12x512", "82x512"]
    assert config["benchmark"]["batch_sizes"] == [1, 8, 16, 32, 64, 128, 256]
    # the study's 10 warm-up and exactly 20 timed runs, in both paper configs: the adaptive
    # repeats (up to the schema's 50 where a row is noisy) are off
    for name in ("paper.yaml", "paper-tables.yaml"):
        bench = yaml.safe_load((REPO / "config" / name).read_text())["benchmark"]
        assert (bench["warmup"], bench["repeats"], bench["max_repeats"]) == (10, 20, 20), name
    assert config["benchmark"]["dtype"] == "float16" and config["benchmark"]["sampling"] is True
    assert {v for m in config["models"] for v in variants(config, m)} >= {
        "dense", "llm_pruner-4.9B", "flap-4.9B", "depth_ppl-4.9B",
        "llm_pruner-9.2B", "flap-9.5B", "depth_ppl-9.5B"}
    methods = config["methods"]
    assert methods["depth_ppl"]["calibration"] == {"source": "bookcorpus", "n": 10,
                                                   "length": 128, "seed": 1234,
                                                   "sampling": "row_slice_inclusive"}
    assert methods["llm_pruner"]["calibration"]["source"] == "bookcorpus"
    assert methods["flap"]["calibration"]["source"] == "wikitext2"
    # the study's lm-eval scored LLaMA's contexts without a BOS token
    assert config["evaluation"]["zeroshot"]["add_bos_token"] is False
    # and ran the model in float16, as did its perplexity evaluation; so do the quality tables
    for name in ("paper.yaml", "paper-tables.yaml"):
        evaluation = yaml.safe_load((REPO / "config" / name).read_text())["evaluation"]
        assert [evaluation[stage]["dtype"] for stage in ("perplexity", "zeroshot")] == \
            ["float16", "float16"], name
        # and tokenized the texts with transformers 4.40's slow LlamaTokenizer (legacy mode),
        # the zero-shot requests too
        assert [evaluation[stage]["tokenization"] for stage in ("perplexity", "zeroshot")] == \
            ["sentencepiece_legacy"] * 2, name
    assert methods["flap"]["params"]["statistics"] == "upstream"  # the original's estimator
    # the study's PPL criterion: float16, one window per forward pass (batches round otherwise)
    for name in ("paper.yaml", "paper-tables.yaml"):
        ppl = yaml.safe_load((REPO / "config" / name).read_text())["methods"]["depth_ppl"]
        assert (ppl["params"]["dtype"], ppl["params"]["batch_size"]) == ("float16", 1), name
    # LLM-Pruner's published sizes are its own ratio over its own block range
    entries = {m: {v["name"]: v for v in config["models"][m]["variants"] if isinstance(v, dict)}
               for m in config["models"]}
    assert entries["llama-7b"]["llm_pruner-4.9B"]["params"] == {
        "ratio": 0.35, "block_start": 4, "block_end": 30}
    assert entries["vicuna-13b"]["llm_pruner-9.2B"]["params"] == {
        "ratio": 0.35, "block_start": 4, "block_end": 38}


# --------------------------------------------------------------------------- SLURM

FAKE_SLURM = {
    # sbatch: record the command line, answer a new job id (--parsable). The plugin submits in
    # parallel: the lock keeps two submissions from drawing the same id (a job sacct never
    # reports would leave Snakemake waiting for it).
    "sbatch": """#!/bin/bash
dir="$(dirname "$0")"
exec 9>"$dir/lock"; flock 9
n=$(( $(cat "$dir/count" 2>/dev/null || echo 0) + 1 )); echo $n > "$dir/count"
printf '%s\\n' "$*" >> "$dir/sbatch.log"
echo "$((1000 + n))"
""",
    # sacct: every submitted job failed (nothing really runs, so no output would appear).
    "sacct": """#!/bin/bash
dir="$(dirname "$0")"
printf '%s\\n' "$*" >> "$dir/sacct.log"
n=$(cat "$dir/count" 2>/dev/null || echo 0)
for i in $(seq 1 $n); do echo "$((1000 + i))|FAILED"; done
""",
    "squeue": "#!/bin/bash\nexit 0\n",
    "sacctmgr": "#!/bin/bash\necho my_account\n",          # the profile's account is valid
    "scontrol": "#!/bin/bash\necho 'MinJobAge = 300 sec'\n",
    "sinfo": "#!/bin/bash\nexit 0\n",
    "scancel": "#!/bin/bash\nexit 0\n",
}

SLURM_CONFIG = {
    "models": {
        "m7": {"source": "random:llama-7b", "variants": ["dense", "depth_ppl-4.9B"]},
        "m13": {"source": "random:llama-13b", "variants": ["dense", "depth_ppl-9.5B"]},
        "r7": {"source": "random:llama-7b", "variants": ["dense"]},   # its model job only
    },
    "methods": {"depth_ppl": {"calibration": {"source": "embedded", "n": 10, "length": 128,
                                              "seed": 1234}}},
    "device": "cuda",
    "benchmark": {"token_configs": ["12x128"], "batch_sizes": [1]},
    "evaluation": {"perplexity": {"datasets": ["wikitext2", "ptb"]}},
}


def submissions(log: Path) -> dict[str, dict]:
    """sbatch log -> {'<rule>_<wildcards>': {'gpus', 'mem', 'time', 'partition', 'cpus'}}, of
    each job's last submission."""
    return {name: tries[-1] for name, tries in submissions_by_attempt(log).items()}


def submissions_by_attempt(log: Path) -> dict[str, list[dict]]:
    """sbatch log -> {'<rule>_<wildcards>': [its first submission's flags, its retry's, ...]}."""
    out: dict[str, list[dict]] = {}
    for line in log.read_text().splitlines():
        args = shlex.split(line.split(" --wrap")[0])
        flags = {}
        for i, arg in enumerate(args):
            if arg.startswith("--") and "=" in arg:
                key, value = arg.split("=", 1)
                flags[key] = value
            elif arg.startswith("-") and i + 1 < len(args):
                flags[arg] = args[i + 1]
        out.setdefault(flags["--comment"].removeprefix("rule_"), []).append({
            "gpus": flags.get("--gpus"), "mem": int(flags["--mem"]), "time": int(flags["-t"]),
            "partition": flags["-p"], "cpus": int(flags["--cpus-per-task"]),
            "account": flags["-A"], "nodes": flags.get("--nodes"),
            "requeue": "--requeue" in args, "ntasks_per_gpu": flags.get("--ntasks-per-gpu")})
    return out


# A fake SLURM that runs what is submitted, on this machine: sbatch starts the job in the
# background, in a process group of its own (SLURM_JOB_ID set, its output where --output says),
# and answers its id; sacct reports each job's state (RUNNING until its command ends, then
# COMPLETED or FAILED); scancel stops a job's process group (CANCELLED); srun, which the jobs
# call to start their step, runs the command, setting the variables a real step has beside
# those the plugin passes on (the partition, the node).
FAKE_SLURM_RUNNING = {
    **FAKE_SLURM,
    "sbatch": """#!/bin/bash
dir="$(cd "$(dirname "$0")" && pwd)"
exec 9>"$dir/lock"; flock 9
n=$(( $(cat "$dir/count" 2>/dev/null || echo 0) + 1 )); echo $n > "$dir/count"
id=$((1000 + n))
printf '%s %s\\n' "$id" "$*" >> "$dir/sbatch.log"
exec 9>&-
args="$*"
out=/dev/null; wrap=; partition=
while [ $# -gt 0 ]; do
  case "$1" in
    --output|-o) out="$2"; shift ;;
    -p|--partition) partition="$2"; shift ;;
    --wrap=*) wrap="${1#--wrap=}" ;;
  esac
  shift
done
out="${out//%j/$id}"
mkdir -p "$dir/jobs" "$(dirname "$out")"
echo RUNNING > "$dir/jobs/$id"
set -m   # job control: the job gets a process group of its own, which scancel can stop whole
( set -m; export SLURM_JOB_ID=$id SLURM_JOBID=$id FAKE_SLURM_PARTITION="$partition"
  state() { echo "$1" > "$dir/jobs/$id.new" && mv "$dir/jobs/$id.new" "$dir/jobs/$id"; }
  # FAKE_SLURM_PREEMPT=<text>: the first job whose sbatch arguments hold it is pre-empted once
  # (preempt/sitecustomize.py kills its processes after their first saved progress) and
  # requeued: run again from the start, as SLURM does, with SLURM_RESTART_COUNT=1.
  if [ -n "$FAKE_SLURM_PREEMPT" ] && [[ "$args" == *"$FAKE_SLURM_PREEMPT"* ]] \
      && mkdir "$dir/preempting" 2>/dev/null; then
    callers_path="$PYTHONPATH"   # (given back on the requeue)
    export FAKE_SLURM_PREEMPTED="$dir/jobs/$id.preempted" PYTHONPATH="$dir/preempt${PYTHONPATH:+:$PYTHONPATH}"
  fi
  while :; do
    bash -c "$wrap" & echo $! > "$dir/jobs/$id.step.pgid"   # the job's processes, apart
    if wait $!; then state COMPLETED; break; fi
    if [ -e "$dir/jobs/$id.preempted" ] && [ -z "$SLURM_RESTART_COUNT" ]; then
      state PREEMPTED   # until sacct has told the plugin so (at most 2 min)
      for _ in $(seq 240); do [ -e "$dir/jobs/$id.seen" ] && break; sleep 0.5; done
      state PENDING; sleep 1; state RUNNING; echo 1 > "$dir/jobs/$id.restarts"
      export SLURM_RESTART_COUNT=1; unset FAKE_SLURM_PREEMPTED PYTHONPATH
      [ -n "$callers_path" ] && export PYTHONPATH="$callers_path"
      continue
    fi
    state FAILED; break
  done
) > "$out" 2>&1 < /dev/null &
echo $! > "$dir/jobs/$id.pgid"
echo "$id"
""",
    "sacct": """#!/bin/bash
dir="$(cd "$(dirname "$0")" && pwd)"
for job in "$dir"/jobs/*[0-9]; do
  [ -e "$job" ] || continue
  state=$(cat "$job"); echo "$(basename "$job")|$state"
  [ "$state" = PREEMPTED ] && touch "$job.seen"
done
exit 0
""",
    # `scontrol show job <id>`: its restart count (a job step's provenance asks); otherwise the
    # controller's MinJobAge, which the plugin reads
    "scontrol": """#!/bin/bash
dir="$(cd "$(dirname "$0")" && pwd)"
if [ "$1 $2" = "show job" ]; then
  echo "JobId=$3 JobName=fake"
  echo "   Requeue=1 Restarts=$(cat "$dir/jobs/$3.restarts" 2>/dev/null || echo 0) BatchFlag=1"
  exit 0
fi
echo 'MinJobAge = 300 sec'
""",
    "scancel": """#!/bin/bash
dir="$(cd "$(dirname "$0")" && pwd)"
for id in "$@"; do
  [ -e "$dir/jobs/$id.pgid" ] || continue   # an option (--clusters=all)
  for group in "$dir/jobs/$id.step.pgid" "$dir/jobs/$id.pgid"; do   # its state keeper too
    [ -e "$group" ] && kill -TERM -- "-$(cat "$group")" 2>/dev/null
  done
  echo CANCELLED > "$dir/jobs/$id.new" && mv "$dir/jobs/$id.new" "$dir/jobs/$id"
done
exit 0
""",
    "srun": """#!/bin/bash
while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do shift; done   # its options, all --name=value
export SLURM_JOB_PARTITION="$FAKE_SLURM_PARTITION" SLURMD_NODENAME=fake-node
exec "$@"
""",
}


# The runs below start their jobs on this machine (FAKE_SLURM_RUNNING), up to three at once:
# with the profile's set-threads (8) each job's torch took every core here (its job step runs
# with --cores all), and their OpenMP threads spun against each other's. One thread each, as
# the other tests' runs have (PARALLEL_JOBS): a command line's --set-threads replaces the
# profile's whole entry, and reaches the job steps (their results record torch_threads 1).
ONE_THREAD_PER_JOB = PARALLEL_JOBS


def stop_fake_slurm_jobs(bin_dir: Path) -> None:
    """Kill every job FAKE_SLURM_RUNNING started that still runs (its whole process group):
    after a failed or timed-out run they would go on beside the next tests."""
    import signal

    for record in (bin_dir / "jobs").glob("*.pgid"):
        with contextlib.suppress(ProcessLookupError, ValueError, PermissionError):
            os.killpg(int(record.read_text()), signal.SIGKILL)


def fake_slurm(workdir: Path, commands: dict[str, str] = FAKE_SLURM) -> Path:
    """The fake SLURM `commands` (FAKE_SLURM's by default) in workdir/fake-slurm/, the folder to
    put first on PATH."""
    bin_dir = workdir / "fake-slurm"
    bin_dir.mkdir()
    require_executable_folder(bin_dir)
    for name, script in commands.items():
        (bin_dir / name).write_text(script)
        (bin_dir / name).chmod(0o755)
    return bin_dir


@pytest.mark.slow  # a real Snakemake run, through the SLURM executor (fake sbatch)
def test_a_slurm_run_on_a_login_node_without_gpu_gets_no_gpu_warning(tmp_path):
    """The jobs of a SLURM run go to GPU nodes: the login node's missing GPU is no concern
    of theirs. A dry run's executor stands in for any, but the profile's partitions say where
    the jobs go; without them it says the warning as a condition."""
    workdir = copy_workflow(tmp_path)
    bin_dir = fake_slurm(workdir)
    config = {**SLURM_CONFIG, "models": {"r7": SLURM_CONFIG["models"]["r7"]},
              "evaluation": {"perplexity": {"datasets": ["embedded"]}}}
    (workdir / "slurm.yaml").write_text(yaml.safe_dump(config))
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "CUDA_VISIBLE_DEVICES": ""}
    dry = run_snakemake(workdir, "-n", "--workflow-profile", "profiles/slurm",
                        configfile="slurm.yaml", env=env)
    assert "shows no GPU" not in dry.stdout + dry.stderr
    plain = run_snakemake(workdir, "-n", configfile="slurm.yaml", env=env)
    assert "shows no GPU: the" in plain.stdout + plain.stderr
    assert "would stop at their start if they run here" in plain.stdout + plain.stderr
    real = run_snakemake(workdir, "--workflow-profile", "profiles/slurm",
                         "--slurm-init-seconds-before-status-checks", "1", "--retries", "0",
                         "--seconds-between-status-checks", "1", "--latency-wait", "1",
                         configfile="slurm.yaml", check=False, env=env)
    assert submissions(bin_dir / "sbatch.log"), real.stderr[-3000:]  # it did submit jobs
    assert "shows no GPU" not in real.stdout + real.stderr


def gpu_job_inputs_in_place(workdir: Path) -> None:
    """The inputs of SLURM_CONFIG's prune and benchmark jobs of m7 and m13 (the real 7B / 13B
    configs, a calibration file, the dense prune report), and of its calibration job, made
    in `workdir` older than what is made from them: those jobs are submitted in the first wave."""
    # Each file's time is set, not left to the order of the writes: some file systems (a
    # sandbox's, a network one) move a file's mtime after it is closed, others keep whole
    # seconds or two. Inputs are older than what is made from them by clear margins, in whole
    # even seconds: the texts at T-200 s, the models at T-100 s, calibration and reports at T.
    # The workflow's code is older still (T-300 s): Snakemake reruns a job whose outputs are
    # older than its script, and the copies keep the checkout's times, which may be recent.
    now = int(time.time()) // 2 * 2

    def settle(path: Path, seconds: int) -> None:
        for item in [path, *path.rglob("*")]:  # a directory and everything in it
            os.utime(item, (now + seconds, now + seconds))

    settle(workdir / "workflow", -300)
    # The embedded text a random model's stand-in tokenizer is trained on, older than the
    # models made from it below (else those would be remade).
    for split in ("train", "validation", "test"):
        text = workdir / layout.EMBEDDED_TEXT.format(split=split)
        text.parent.mkdir(parents=True, exist_ok=True)
        text.write_text("text\n")
        settle(text, -200)
    # Inputs of the GPU jobs already there, so they are submitted in the first wave; their
    # shapes are the real 7B / 13B configs (sizes come from config.json).
    for name, arch in (("m7", "llama-7b"), ("m13", "llama-13b")):
        architecture_config(arch).save_pretrained(workdir / f"resources/models/{name}")
        settle(workdir / f"resources/models/{name}", -100)
        calibration = workdir / f"resources/data/calibration/{name}/embedded-10x128-seed1234.safetensors"
        calibration.parent.mkdir(parents=True)
        calibration.write_bytes(b"")
        settle(calibration, 0)
        report = workdir / f"results/pruned/{name}/dense/prune_report.json"
        report.parent.mkdir(parents=True)
        report.write_text("{}")
        settle(report, 0)
    (workdir / "resources/data/text/wikitext2").mkdir(parents=True)
    (workdir / "resources/data/text/wikitext2/test.txt").write_text("text\n")
    settle(workdir / "resources/data/text/wikitext2/test.txt", -200)


@pytest.mark.slow  # a real Snakemake run, through the SLURM executor (fake sbatch)
def test_slurm_profile_sizes_gpu_jobs_per_model_and_cpu_jobs_without_gpu(tmp_path):
    workdir = copy_workflow(tmp_path)
    bin_dir = fake_slurm(workdir)
    (workdir / "slurm.yaml").write_text(yaml.safe_dump(SLURM_CONFIG))
    gpu_job_inputs_in_place(workdir)
    targets = ["results/pruned/m7/depth_ppl-4.9B/prune_report.json",
               "results/pruned/m13/depth_ppl-9.5B/prune_report.json",
               "results/bench/m7/dense/hf/12x128.json", "results/bench/m13/dense/hf/12x128.json",
               "resources/models/r7",                          # a CPU job
               "resources/data/calibration/m7/embedded-10x64-seed1234.safetensors",  # CPU too
               # a download of seconds, run where Snakemake runs (a local rule): no sbatch
               "resources/data/text/ptb/validation.txt"]
    sizes = {name: jobsize.model_billions(workdir / f"resources/models/{name}", source)
             for name, source in (("m7", "random:llama-7b"), ("m13", "random:llama-13b"))}
    # Host memory capped where every first request fits and the 13B's retries do not.
    cap = max(jobsize.mem_mb(rule, b) for rule in ("prune", "benchmark")
              for b in sizes.values()) + 1024
    # --keep-going: the targets are independent, so every one is submitted even when the first
    # failure is seen before the last submission (a loaded machine).
    proc = snakemake(workdir, "--workflow-profile", "profiles/slurm",
                     "--slurm-init-seconds-before-status-checks", "1", "--retries", "1",
                     "--seconds-between-status-checks", "1",
                     "--latency-wait", "1", "--keep-going", *targets, configfile="slurm.yaml",
                     check=False, env={"PATH": f"{bin_dir}:{os.environ['PATH']}",
                                       jobsize.MAX_MEM_VARIABLE: str(cap)})
    assert proc.returncode != 0  # the fake sacct reports every job as failed
    tries = submissions_by_attempt(bin_dir / "sbatch.log")
    jobs = {name: attempts[0] for name, attempts in tries.items()}
    assert len(jobs) == len(targets) - 1, proc.stderr[-3000:]
    # Each failed job was submitted again, asking for more memory (up to the cap) and time.
    assert all(len(attempts) == 2 for attempts in tries.values()), tries
    retried = {name: attempts[1] for name, attempts in tries.items()}
    capped = []
    for name in jobs:
        rule = name.split("_")[0]
        if rule in ("prune", "benchmark"):
            billions = sizes["m13" if "m13_" in name else "m7"]
            assert retried[name]["mem"] == min(jobsize.mem_mb(rule, billions, attempt=2), cap)
            assert retried[name]["time"] == jobsize.runtime_min(rule, billions, attempt=2)
            capped += [name] if retried[name]["mem"] == cap else []
        assert retried[name]["mem"] > jobs[name]["mem"], name
        assert retried[name]["time"] > jobs[name]["time"], name  # calibration's too
    assert capped and all("m13_" in name for name in capped), capped
    assert not any(name.startswith("text") for name in jobs)
    gpu_jobs = {k: v for k, v in jobs.items()
                if not k.startswith(("text", "model", "calibration"))}
    for name, job in gpu_jobs.items():
        assert job["gpus"] == "1" and job["partition"] == "gpu" and job["cpus"] == 8, name
        # on one node, one task (plugins before 2.7.1 gave a task per GPU)
        assert job["nodes"] == "1" and job["ntasks_per_gpu"] is None, name
    # SLURM may requeue a pre-empted job, which resumes from its kept progress
    assert all(job["requeue"] for job in jobs.values())
    for rule in ("prune", "benchmark"):
        small = next(v for k, v in gpu_jobs.items() if k.startswith(f"{rule}_") and "m7_" in k)
        large = next(v for k, v in gpu_jobs.items() if k.startswith(f"{rule}_") and "m13_" in k)
        assert large["mem"] > small["mem"] and large["time"] > small["time"], rule
        billions = jobsize.model_billions(workdir / "resources/models/m7", "random:llama-7b")
        assert small["mem"] == jobsize.mem_mb(rule, billions)
        assert small["time"] == jobsize.runtime_min(rule, billions)
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    defaults = profile["default-resources"]
    # a random model holds `gpu` locally, but on the CPU partition it asks for none
    model = jobs["model_wildcards_r7"]
    assert model["gpus"] is None and model["partition"] == defaults["slurm_partition"]
    assert model["cpus"] == defaults["cpus_per_task"]
    b7 = jobsize.model_billions("/nonexistent", "random:llama-7b")  # sized by the model
    assert (model["mem"], model["time"]) == (jobsize.mem_mb("model", b7),
                                             jobsize.runtime_min("model", b7))
    assert all(job["account"] == defaults["slurm_account"] for job in jobs.values())
    # calibration: the CPU defaults, its memory sized by its source, its time the attempt's
    calibration = next(v for k, v in tries.items() if k.startswith("calibration_"))
    assert calibration[0]["gpus"] is None and calibration[0]["partition"] == "cpu"
    assert [c["mem"] for c in calibration] == [jobsize.calibration_mem_mb("embedded", attempt=a)
                                               for a in (1, 2)]
    assert [c["time"] for c in calibration] == [60, 120]


@pytest.mark.slow  # a real Snakemake run, through the SLURM executor (fake sbatch)
def test_a_gpu_type_or_gres_set_in_the_profile_as_the_readme_says_reaches_sbatch(tmp_path):
    """docs/slurm.md's two ways to name a GPU type: `gpu_model` uncommented in a rule of the
    profile (`--gpus=h100:1`), or `gres` with `gpu: 0` beside it (`--gres` alone: the plugin
    refuses `gpu` and `gres` together, and would send both)."""
    workdir = copy_workflow(tmp_path)
    bin_dir = fake_slurm(workdir)
    (workdir / "slurm.yaml").write_text(yaml.safe_dump(SLURM_CONFIG))
    gpu_job_inputs_in_place(workdir)
    profile = workdir / "profiles/slurm/config.yaml"
    text = profile.read_text()
    benchmark = text.index("  benchmark:\n")
    gpu_type = text.index('    # gpu_model: "h100"', benchmark)
    text = text[:gpu_type] + text[gpu_type:].replace("# gpu_model", "gpu_model", 1)
    text = text.replace("  prune:\n", '  prune:\n    gres: "gpu:a100:1"\n    gpu: 0\n', 1)
    profile.write_text(text)
    targets = ["results/pruned/m7/depth_ppl-4.9B/prune_report.json",
               "results/bench/m7/dense/hf/12x128.json"]
    proc = run_snakemake(workdir, "--workflow-profile", "profiles/slurm",
                         "--slurm-init-seconds-before-status-checks", "1", "--retries", "0",
                         "--seconds-between-status-checks", "1", "--latency-wait", "1",
                         "--keep-going", *targets,
                         configfile="slurm.yaml", check=False,
                         env={"PATH": f"{bin_dir}:{os.environ['PATH']}"})
    assert proc.returncode != 0  # the fake sacct reports every job as failed
    log = (bin_dir / "sbatch.log").read_text()
    lines = {}
    for line in log.splitlines():
        args = shlex.split(line.split(" --wrap")[0])
        lines[args[args.index("--comment") + 1].split("_")[1]] = args
    assert set(lines) == {"prune", "benchmark"}, proc.stderr[-3000:]
    assert "--gpus=h100:1" in lines["benchmark"]
    assert not [arg for arg in lines["benchmark"] if arg.startswith("--gres")]
    assert "--gres=gpu:a100:1" in lines["prune"]
    assert not [arg for arg in lines["prune"] if arg.startswith("--gpus")]
    # one task either way (plugins before 2.7.1 added one per GPU)
    assert not [arg for line in lines.values() for arg in line if "ntasks-per-gpu" in arg]


@pytest.mark.slow  # Snakemake through the SLURM executor (fake sbatch), stopped at its start
def test_a_slurm_plugin_older_than_the_profile_needs_is_refused_before_any_submission(
        tmp_path):
    """A plugin before 2.7.1 gives a GPU job one task per GPU (a job of two GPUs runs twice):
    the run stops before its first submission and says how to upgrade. The installed plugin
    is made to report 2.6.1 by its package metadata alone (a dist-info folder first on the
    path, as an old installation has), so the run is a real interpreter's, not a fork."""
    import subprocess
    import sys

    workdir = copy_workflow(tmp_path)
    bin_dir = fake_slurm(workdir)
    config = {**SLURM_CONFIG, "models": {"r7": SLURM_CONFIG["models"]["r7"]}}
    (workdir / "slurm.yaml").write_text(yaml.safe_dump(config))
    old = tmp_path / "old-plugin"
    info = old / "snakemake_executor_plugin_slurm-2.6.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: snakemake-executor-plugin-slurm"
                                   "\nVersion: 2.6.1\n")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(old), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--workflow-profile", "profiles/slurm",
         "--slurm-init-seconds-before-status-checks", "1", "--retries", "0",
         "--configfile", "slurm.yaml"],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    said = " ".join((proc.stdout + proc.stderr).split())
    assert "snakemake-executor-plugin-slurm 2.6.1 is older than 2.7.1" in said, said[-3000:]
    assert "pip install 'snakemake-executor-plugin-slurm>=2.7.1,<3'" in said
    assert not (bin_dir / "sbatch.log").exists()  # nothing submitted


@pytest.mark.slow  # a whole run through the SLURM executor, its jobs run by a fake SLURM
def test_a_run_through_the_slurm_profile_completes_and_each_result_names_its_slurm_job(
        tmp_path, tiny_model_dir):
    """The profile's whole path: every job the plugin submits runs in its job step (Snakemake
    in slurm-jobstep mode under srun), the run ends complete, and each result made in a SLURM
    job records which (provenance.slurm), those of the local rules none."""
    workdir = copy_workflow(tmp_path / "run")
    bin_dir = fake_slurm(workdir, FAKE_SLURM_RUNNING)
    config = {"models": {"tiny": {"source": f"local:{tiny_model_dir}",
                                  "variants": ["dense", "depth_mag-0.8"]}},
              "evaluation": {"perplexity": {"datasets": ["embedded"]}, "zeroshot": None},
              "benchmark": {"backends": ["hf"], "token_configs": ["12x16"], "batch_sizes": [1],
                            "warmup": 1, "repeats": 2, "max_repeats": 2},
              "device": "cpu"}
    (workdir / "slurm.yaml").write_text(yaml.safe_dump(config))
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
    profile = ["--workflow-profile", "profiles/slurm", "--latency-wait", "5", "--retries", "0",
               "--slurm-init-seconds-before-status-checks", "1",
               "--seconds-between-status-checks", "1", *ONE_THREAD_PER_JOB]
    try:
        snakemake(workdir, *profile, configfile="slurm.yaml", env=env)
    finally:
        stop_fake_slurm_jobs(bin_dir)

    # the job id sbatch answered, by the rule and wildcards the plugin puts in the comment
    submitted = {}
    for line in (bin_dir / "sbatch.log").read_text().splitlines():
        job_id, args = line.split(" ", 1)
        args = shlex.split(args.split(" --wrap")[0])
        comment = args[args.index("--comment") + 1].removeprefix("rule_")
        submitted[comment] = (job_id, args[args.index("-p") + 1])
    assert all((bin_dir / "jobs" / job_id).read_text().strip() == "COMPLETED"
               for job_id, _ in submitted.values()), submitted
    made_in_slurm = {
        "prune_wildcards_tiny_depth_mag-0.8": "results/pruned/tiny/depth_mag-0.8/prune_report.json",
        "benchmark_wildcards_tiny_dense_hf_12_16": "results/bench/tiny/dense/hf/12x16.json",
        "benchmark_wildcards_tiny_depth_mag-0.8_hf_12_16":
            "results/bench/tiny/depth_mag-0.8/hf/12x16.json",
        "perplexity_wildcards_tiny_dense": "results/eval/tiny/dense/ppl.json",
        "perplexity_wildcards_tiny_depth_mag-0.8": "results/eval/tiny/depth_mag-0.8/ppl.json"}
    for comment, path in made_in_slurm.items():
        job_id, partition = submitted[comment]
        slurm = json.loads((workdir / path).read_text())["provenance"]["slurm"]
        assert slurm == {"job_id": job_id, "partition": partition, "node": "fake-node",
                         "restart_count": "0"}, path
        assert partition == "gpu"
    # the dense model's report is made where Snakemake runs (a local rule): in no SLURM job
    dense = json.loads((workdir / "results/pruned/tiny/dense/prune_report.json").read_text())
    assert dense["provenance"]["slurm"] is None
    # each job's record of its attempt names its SLURM job too (prunebench usage)
    attempts = usage.read_attempts(workdir)
    in_slurm = {a.slurm_job_id for a in attempts if a.rule in ("prune", "benchmark", "perplexity")}
    assert in_slurm == {submitted[c][0] for c in made_in_slurm}
    assert {a.slurm_job_id for a in attempts if a.rule in ("dense_report", "aggregate")} == {None}
    assert {a.outcome for a in attempts} == {"finished"}
    assert (workdir / "results/tables/summary.csv").exists()
    # and nothing is left to do, as after any complete run
    again = snakemake(workdir, "-n", *profile, configfile="slurm.yaml", env=env)
    assert "Nothing to be done" in again.stdout + again.stderr


# Loaded by every Python process of the pre-empted job (FAKE_SLURM_RUNNING): once the job has
# saved its first progress (a benchmark's finished batch size), all its processes are killed,
# as a pre-emption kills a job wherever it is.
PREEMPT_HOOK = """
import os

_mark = os.environ.get("FAKE_SLURM_PREEMPTED")
if _mark:
    import prunebench.atomic

    _write_json = prunebench.atomic.write_json

    def _write_then_preempt(path, *args, **kwargs):
        _write_json(path, *args, **kwargs)
        if str(path).endswith(".unfinished.json") and not os.path.exists(_mark):
            open(_mark, "w").close()
            os.killpg(os.getpgrp(), 9)

    prunebench.atomic.write_json = _write_then_preempt
"""


@pytest.mark.slow  # a run through the SLURM executor, its jobs run by a fake SLURM
def test_a_preempted_benchmark_requeued_by_slurm_resumes_its_finished_batch_sizes(
        tmp_path, tiny_model_dir):
    """The profile's pre-emption path: a benchmark job killed after its first batch size
    (every process of it, as a pre-emption does) and requeued by SLURM under the same job id
    runs again from the start and resumes the finished batch size instead of timing it
    again; Snakemake waits through the pre-emption and ends complete, and the result names
    the restart."""
    workdir = copy_workflow(tmp_path / "run")
    bin_dir = fake_slurm(workdir, FAKE_SLURM_RUNNING)
    (bin_dir / "preempt").mkdir()
    (bin_dir / "preempt" / "sitecustomize.py").write_text(PREEMPT_HOOK)
    config = {"models": {"tiny": {"source": f"local:{tiny_model_dir}", "variants": ["dense"]}},
              "benchmark": {"backends": ["hf"], "token_configs": ["12x16"],
                            "batch_sizes": [1, 2], "warmup": 1, "repeats": 2,
                            "max_repeats": 2},
              "evaluation": {"perplexity": {"datasets": ["embedded"]}, "zeroshot": None},
              "device": "cpu"}
    (workdir / "slurm.yaml").write_text(yaml.safe_dump(config))
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_SLURM_PREEMPT": "rule_benchmark"}
    profile = ["--workflow-profile", "profiles/slurm", "--latency-wait", "5", "--retries", "0",
               "--slurm-init-seconds-before-status-checks", "1",
               "--seconds-between-status-checks", "1", *ONE_THREAD_PER_JOB]
    target = "results/bench/tiny/dense/hf/12x16.json"
    try:
        run = snakemake(workdir, target, *profile, configfile="slurm.yaml", env=env)
    finally:
        stop_fake_slurm_jobs(bin_dir)

    preempted = list((bin_dir / "jobs").glob("*.preempted"))
    assert len(preempted) == 1, "no job was pre-empted"
    job_id = preempted[0].name.removesuffix(".preempted")
    assert (bin_dir / "jobs" / job_id).read_text().strip() == "COMPLETED"
    assert "preemption" in run.stdout + run.stderr  # the plugin saw it, and waited
    result = json.loads((workdir / target).read_text())
    assert result["resumed_batch_sizes"] == [1]
    assert [row["batch_size"] for row in result["rows"]] == [1, 2]
    assert all(row["status"] == "ok" for row in result["rows"])
    # (the job step's environment has no SLURM_RESTART_COUNT: the plugin's step drops it)
    assert result["provenance"]["slurm"] == {"job_id": job_id, "partition": "gpu",
                                             "node": "fake-node", "restart_count": "1"}
    assert "batch size 1: resumed from" in (workdir / "logs/bench/tiny/dense/hf/12x16.log"
                                            ).read_text()
    # the killed attempt has no end in the job's record; the requeued one finished, in the
    # same SLURM job
    bench = [a for a in usage.read_attempts(workdir) if a.rule == "benchmark"]
    assert [(a.outcome, a.slurm_job_id) for a in bench] == [("no end", job_id),
                                                            ("finished", job_id)]
    assert not list((workdir / "results/bench/tiny/dense/hf").glob(".*unfinished*"))


def test_slurm_profile_puts_nothing_forbidden_in_slurm_extra():
    from snakemake_executor_plugin_slurm.validation import get_forbidden_slurm_options

    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    extras = [profile["default-resources"].get("slurm_extra", "")]
    extras += [r.get("slurm_extra", "") for r in profile.get("set-resources", {}).values()]
    for extra in extras:
        for pattern, option in get_forbidden_slurm_options().items():
            assert not re.search(pattern, extra or ""), f"slurm_extra sets the {option}"
    assert profile["executor"] == "slurm" and profile["retries"] >= 1
    assert profile["latency-wait"] >= 60


def test_local_profile_runs_gpu_jobs_one_at_a_time():
    profile = yaml.safe_load((REPO / "profiles/default/config.yaml").read_text())
    assert "gpu=1" in profile["resources"]


# --------------------------------------------------------------------------- single-cell reruns

def is_directory_output(path: str, rule: str) -> bool:
    return rule == "model" or path.endswith("/checkpoint")


@pytest.fixture(scope="module")
def paper_done(tmp_path_factory):
    """The paper config's workflow with every output present and recorded (--touch), as after
    a complete run on a cluster, without computing anything."""
    workdir = copy_workflow(tmp_path_factory.mktemp("paper"))
    # The run used the file as written; the changed config below is rewritten by yaml with its
    # keys sorted, which must not rerun anything by itself.
    shutil.copy(REPO / "config" / "paper.yaml", workdir / "paper.yaml")
    config = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    summary = snakemake(workdir, "--summary", "--cores", "1", configfile="paper.yaml").stdout
    for line in summary.splitlines()[1:]:
        path, _, rule = line.split("\t")[:3]
        target = workdir / path
        if is_directory_output(path, rule):
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch()
    snakemake(workdir, "--touch", "--cores", "1", configfile="paper.yaml")
    return workdir, config


def test_paper_tables_config_schedules_the_retrained_and_width_variants(tmp_path):
    workdir = copy_workflow(tmp_path / "tables")
    dry = snakemake(workdir, "-n", "--cores", "1",
                    configfile=str(REPO / "config" / "paper-tables.yaml")).stdout
    counts = job_counts(dry)
    config = yaml.safe_load((REPO / "config" / "paper-tables.yaml").read_text())
    names = [v for m in config["models"] for v in variants(config, m)]
    assert counts["lora"] == sum(v.endswith("+lora") for v in names) == 12
    assert counts["prune"] == sum(v != "dense" and not v.endswith("+lora") for v in names)
    assert counts["perplexity"] == counts["zeroshot"] == len(names)
    assert counts["aggregate"] == 1


@pytest.mark.slow
def test_forcing_one_paper_cell_reruns_only_it_and_the_aggregation(paper_done):
    workdir, _ = paper_done
    cell = "results/bench/vicuna-13b/flap-9.5B/compiled/82x512.json"
    dry = snakemake(workdir, "-n", "--cores", "1", "-f", cell, "results/tables/speed.csv",
                    configfile="paper.yaml").stdout
    assert job_counts(dry) == {"benchmark": 1, "aggregate": 1}, dry


@pytest.mark.slow
def test_the_paper_config_with_its_keys_reordered_reruns_nothing(paper_done):
    workdir, config = paper_done
    (workdir / "reordered.yaml").write_text(yaml.safe_dump(reversed_keys(config), sort_keys=False))
    dry = snakemake(workdir, "-n", "--cores", "1", configfile="reordered.yaml")
    assert "Nothing to be done" in dry.stdout + dry.stderr, dry.stdout


@pytest.mark.slow
def test_changing_one_paper_variants_params_reruns_only_its_cells(paper_done):
    workdir, config = paper_done
    config = copy.deepcopy(config)  # the fixture's copy is shared by the module's tests
    entries = config["models"]["llama-7b"]["variants"]
    entries[entries.index("flap-4.9B")] = {"name": "flap-4.9B", "params": {"structure": "UL-UM"}}
    (workdir / "changed.yaml").write_text(yaml.safe_dump(config))
    dry = snakemake(workdir, "-n", "--cores", "1", configfile="changed.yaml").stdout
    counts = job_counts(dry)
    cells = len(config["benchmark"]["token_configs"]) * len(config["benchmark"]["backends"])
    assert counts.get("prune") == 1 and counts.get("benchmark") == cells, dry
    assert counts.get("perplexity") == 1 and counts.get("aggregate") == 1, dry
    # Other per-variant evaluations (e.g. zero-shot) rerun for this variant only.
    assert all(n == 1 for rule, n in counts.items() if rule not in ("benchmark",)), counts
    reruns = set(re.findall(r"wildcards: model=([^,\s]+), variant=([^,\s]+)", dry))
    assert reruns == {("llama-7b", "flap-4.9B")}, reruns


@pytest.mark.slow
def test_the_tiny_models_settings_rerun_nothing_of_a_hub_models_run(paper_done):
    """`embedded:` configures the embedded text and the tiny model, which the paper's hub
    models never read: changing it must not download them again, nor rerun what they made."""
    workdir, config = paper_done
    config = {**copy.deepcopy(config), "embedded": {"seed": 0, "model": {"seed": 1, "steps": 10}}}
    (workdir / "embedded.yaml").write_text(yaml.safe_dump(config))
    dry = snakemake(workdir, "-n", "--cores", "1", configfile="embedded.yaml")
    assert "Nothing to be done" in dry.stdout + dry.stderr, dry.stdout


@pytest.mark.slow
def test_memory_only_settings_rerun_nothing_of_a_finished_run(paper_done):
    """What the out-of-memory messages say to lower (plan.variants.MEMORY_ONLY) must not rerun
    every finished cell of every model; a setting that changes the results still does. (LoRA's
    gradient_checkpointing: test_workflow, on a run with a recovery.)"""
    workdir, config = paper_done
    # Every evaluation's metadata recorded (the fixture's --touch records only the jobs whose
    # files it found out of date), so that a change of its params would show.
    snakemake(workdir, "--touch", "--cores", "1", "--forcerun", "perplexity", "zeroshot",
              configfile="paper.yaml")
    config = copy.deepcopy(config)
    config["evaluation"]["perplexity"]["batch_size"] = 2
    config["evaluation"]["zeroshot"]["batch_size"] = 4
    (workdir / "memory.yaml").write_text(yaml.safe_dump(config))
    dry = snakemake(workdir, "-n", "--cores", "1", configfile="memory.yaml")
    assert "Nothing to be done" in dry.stdout + dry.stderr, dry.stdout
    config["evaluation"]["perplexity"]["max_windows"] = 10
    (workdir / "memory.yaml").write_text(yaml.safe_dump(config))
    dry = snakemake(workdir, "-n", "--cores", "1", configfile="memory.yaml").stdout
    counts = job_counts(dry)
    assert counts["perplexity"] == sum(len(variants(config, m)) for m in config["models"]), dry


@pytest.mark.parametrize("method", ["depth_ppl", "llm_pruner", "flap"])
def test_pruning_through_a_device_map_gives_the_same_checkpoint(saved_model, tmp_path, method):
    """A model spread by a device map (hooks attached, as on several GPUs) prunes to the same
    weights as one loaded whole; a map that offloads to disk is refused before pruning."""
    from prunebench.pruning import prune_checkpoint

    calibration = torch.randint(3, 128, (8, 32), generator=torch.Generator().manual_seed(0))
    mapping = {"model.embed_tokens": "cpu", "model.rotary_emb": "cpu", "model.norm": "cpu",
               "lm_head": "cpu", **{f"model.layers.{i}": "cpu" for i in range(6)}}
    plain = prune_checkpoint(saved_model, method, "0.8", tmp_path / "plain", calibration,
                             device="cpu")
    mapped = prune_checkpoint(saved_model, method, "0.8", tmp_path / "mapped", calibration,
                              device="cpu", placement={"device_map": mapping})
    assert plain["method_report"] == mapped["method_report"]
    digests = [json.loads((tmp_path / d / modeling.MANIFEST).read_text())["weights_sha256"]
               for d in ("plain", "mapped")]
    assert digests[0] == digests[1]
    with pytest.raises(PrunebenchError, match="their weights are read in per forward"):
        prune_checkpoint(saved_model, method, "0.8", tmp_path / "disk", calibration, device="cpu",
                         placement={"device_map": {**mapping, "model.layers.5": "disk"}})
    assert not (tmp_path / "disk").exists()


def test_pruning_keeps_cpu_blocks_resident_and_refuses_streamed_ones(saved_model, tmp_path,
                                                                      monkeypatch):
    """Beside a GPU, accelerate streams the blocks a map puts on the cpu (their parameters
    meta tensors outside a forward), where pruning reads, scores and slices the weights:
    the prune loads them resident, and refuses a model whose blocks are streamed anyway. The
    stream is made here as accelerate makes it for a GPU-led map (cpu_offload's hooks)."""
    from accelerate import cpu_offload

    from prunebench import pruning

    asked = []

    def streamed_block(*args, **kwargs):
        asked.append(kwargs.get("keep_cpu_resident"))
        model = modeling.load_model(*args, **kwargs)
        cpu_offload(model.model.layers[2], execution_device="cpu")
        return model

    monkeypatch.setattr(pruning, "load_model", streamed_block)
    calibration = torch.randint(3, 128, (4, 16), generator=torch.Generator().manual_seed(0))
    with pytest.raises(PrunebenchError, match=r"offloads \d+ module\(s\) of .* \(model\.layers\.2\."):
        pruning.prune_checkpoint(saved_model, "depth_ppl", "0.8", tmp_path / "out", calibration,
                                 device="cpu")
    assert asked == [True] and not (tmp_path / "out").exists()


def test_a_map_of_gpus_and_cpu_keeps_the_cpu_blocks_resident_only_when_asked(
        small_random_model, monkeypatch):
    import accelerate

    calls = []
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(accelerate, "dispatch_model",
                        lambda model, **kwargs: calls.append(kwargs) or model)
    model = small_random_model(num_hidden_layers=2)
    mapping = {"model.embed_tokens": 0, "model.rotary_emb": 0, "model.layers.0": 0,
               "model.layers.1": "cpu", "model.norm": "cpu", "lm_head": "cpu"}
    for keep, main in ((True, "cpu"), (False, None)):
        dispatch(model, mapping, keep_cpu_resident=keep)
        assert calls[-1]["main_device"] == main  # None: accelerate's, the first GPU
    dispatch(model, {**mapping, "model.layers.1": 1, "model.norm": 1, "lm_head": 1},
             keep_cpu_resident=True)
    assert calls[-1]["main_device"] is None  # nothing on the cpu: nothing to keep


def test_a_suggested_rerun_repeats_the_runs_config_overrides():
    assert layout.config_argument(None) == layout.config_argument([]) == ""
    # Quoted for a shell; a credential in a URL is never written out.
    assert layout.config_argument(["device=cpu", "benchmark={'repeats': 3}",
                                   "mirror=https://user:secret@hub.example/x"]) == \
        "--config device=cpu 'benchmark={'\"'\"'repeats'\"'\"': 3}' 'mirror=https://***@hub.example/x'"


def test_a_suggested_rerun_repeats_the_runs_config_files(tmp_path):
    inside = tmp_path / "config" / "paper tables.yaml"
    outside = tmp_path.parent / "elsewhere.yaml"
    assert layout.configfile_argument([inside, outside], cwd=tmp_path) == \
        f"--configfile 'config/paper tables.yaml' {outside}"
    assert layout.configfile_argument([]) == ""
    # A run in its own directory: the command is typed in the checkout.
    run = tmp_path / "runs" / "a b"
    assert layout.configfile_argument([run / "mine.yaml", outside], cwd=run,
                                      checkout=tmp_path) == \
        f"--directory '{run}' --configfile '{run}/mine.yaml' {outside}"
    assert layout.configfile_argument([inside], cwd=tmp_path, checkout=tmp_path) == \
        "--configfile 'config/paper tables.yaml'"


def test_a_suggested_rerun_names_snakemake_as_the_run_was_started(tmp_path, monkeypatch):
    """After `make run`, Snakemake is `.venv/bin/snakemake`, which is not on PATH: a rerun
    command saying `snakemake` would not be found, or would start another installation."""
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    program = bin_dir / "snakemake"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    monkeypatch.setenv("PATH", "/nonexistent")
    started = [".venv/bin/snakemake", "--cores", "all"]
    assert layout.program_argument(started, str(tmp_path), cwd=str(tmp_path)) == \
        ".venv/bin/snakemake"
    run = tmp_path / "runs" / "a b"  # a run in its own directory: typed in the checkout
    run.mkdir(parents=True)
    assert layout.program_argument(started, str(tmp_path), cwd=str(run),
                                   checkout=str(tmp_path)) == str(program)
    monkeypatch.setenv("PATH", str(bin_dir))  # the same program on PATH: its name will do
    assert layout.program_argument(started, str(tmp_path), cwd=str(tmp_path)) == "snakemake"
    assert layout.program_argument(["snakemake", "-n"], str(tmp_path)) == "snakemake"
    assert layout.program_argument([], str(tmp_path)) == "snakemake"  # the API
    # `python -m snakemake`: its interpreter's Snakemake where `snakemake` is not that one
    module = "/venv/lib/python3.12/site-packages/snakemake/__main__.py"
    other = tmp_path / "other env" / "bin" / "python"  # PATH's snakemake is not its own
    assert layout.program_argument([module], str(tmp_path), cwd=str(tmp_path),
                                   python=str(other)) == "'other env/bin/python' -m snakemake"
    assert layout.program_argument([module], str(tmp_path), cwd=str(tmp_path),
                                   python=str(bin_dir / "python")) == "snakemake"
    # the commands the run's aggregation and checks print start with it
    monkeypatch.setenv(layout.RERUN_PROGRAM_VARIABLE, ".venv/bin/snakemake")
    assert layout.snakemake_command("--configfile config/paper.yaml") == \
        ".venv/bin/snakemake --cores all"
    assert layout.snakemake_command("--workflow-profile profiles/slurm") == ".venv/bin/snakemake"
    monkeypatch.delenv(layout.RERUN_PROGRAM_VARIABLE)
    assert layout.snakemake_command(None) == "snakemake --cores all"


def fake_snakemake(folder: Path) -> Path:
    """An executable `snakemake` in `folder`/.venv/bin, as `make setup` makes one (not on PATH)."""
    program = folder / ".venv" / "bin" / "snakemake"
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    return program


def test_a_suggested_rerun_splits_into_the_runs_words_with_spaces_and_quotes(tmp_path,
                                                                            monkeypatch):
    """The run's arguments travel to its jobs as shell text (RERUN_CONFIG_VARIABLE, written by
    common.smk through rerun_arguments) and are appended as written; the words a message adds
    (a file to remake) were joined unquoted, so a path with a space or a quote split into
    several words when pasted. What a shell makes of each printed command is the run's argv."""
    checkout = tmp_path / "my checkout"
    program = fake_snakemake(checkout)
    profile = checkout / "profiles" / "my slurm"
    profile.mkdir(parents=True)
    run = checkout / "runs" / "it's mine"
    run.mkdir(parents=True)
    monkeypatch.setenv("PATH", "/nonexistent")
    config = run / "my config.yaml"
    target = "results/bench/m 7/v'1/hf/12x128.json"
    for with_profile in (True, False):
        argv = [".venv/bin/snakemake", "--directory", "runs/it's mine",
                *(["--workflow-profile", "profiles/my slurm"] if with_profile else []),
                "--configfile", "my config.yaml", "--config", "note=it's here", "x=a b"]
        invoked_in = layout.started_in(argv, str(run), pwd=str(checkout))
        monkeypatch.setenv(layout.RERUN_PROGRAM_VARIABLE, layout.program_argument(
            argv, invoked_in, cwd=str(run), checkout=str(checkout)))
        monkeypatch.setenv(layout.RERUN_CONFIG_VARIABLE, layout.rerun_arguments(
            argv, invoked_in, [config], ["note=it's here", "x=a b"], cwd=str(run),
            checkout=str(checkout)))
        # a profile sets the cores itself
        start = [str(program)] if with_profile else [str(program), "--cores", "all"]
        repeated = [*(["--workflow-profile", str(profile)] if with_profile else []),
                    "--directory", str(run), "--configfile", str(config),
                    "--config", "note=it's here", "x=a b"]
        assert shlex.split(layout.remake_command("-f", target)) == \
            [*start, "-f", target, *repeated]
        assert shlex.split(layout.command_line(target, run_arguments=None, cores=2)) == \
            [str(program), "--cores", "2", target]
    assert shlex.split(layout.model_build_command("my model", "runs/it's mine",
                                                  ["a b.yaml"])) == \
        [str(program), "--cores", "all", "--directory", "runs/it's mine",
         "resources/models/my model", "--configfile", "a b.yaml"]


def test_the_example_an_unconfigured_models_refusal_gives_quotes_the_file(monkeypatch):
    """It wrote the result's path into its `snakemake ...` example unquoted."""
    monkeypatch.delenv(layout.RERUN_PROGRAM_VARIABLE, raising=False)
    path = "results/eval/my model/dense/ppl.json"
    said = layout.unconfigured_model(path, "my model", ["tiny"], [])
    example = re.search(r"e\.g\. `([^`]*)`", said)[1]
    assert shlex.split(example) == ["snakemake", "--cores", "all", path, "--configfile",
                                    "config/config.yaml", "my.yaml"]


def test_a_run_in_its_own_directory_names_snakemake_where_it_was_started(tmp_path, monkeypatch):
    """`.venv/bin/snakemake --directory runs/mine ...` from the checkout: Snakemake has changed
    into runs/mine before the Snakefile reads where it was started (`workflow.workdir_init`), so
    the suggested rerun command named runs/mine/.venv/bin/snakemake, which does not exist."""
    checkout = tmp_path / "checkout"
    program = fake_snakemake(checkout)
    run = checkout / "runs" / "mine"
    run.mkdir(parents=True)
    monkeypatch.setenv("PATH", "/nonexistent")
    for given in (["--directory", "runs/mine"], ["-d", "runs/mine"], ["--directory=runs/mine"],
                  ["-druns/mine"], ["--directory", str(run)]):
        argv = [".venv/bin/snakemake", "--cores", "all", *given, "--configfile", "my.yaml"]
        for pwd in (str(checkout), ""):  # the shell's, or none (a program without a shell)
            if pwd == "" and os.path.isabs(given[-1].split("=")[-1]):
                continue  # an absolute --directory says nothing of where the command was typed
            assert layout.started_in(argv, str(run), pwd=pwd) == str(checkout), (given, pwd)
            assert layout.program_argument(argv, layout.started_in(argv, str(run), pwd=pwd),
                                           cwd=str(run), checkout=str(checkout)) == str(program)
    # A stale PWD (another folder than the one the --directory was found from) is not taken.
    argv = [".venv/bin/snakemake", "--directory", "runs/mine"]
    assert layout.started_in(argv, str(run), pwd=str(tmp_path)) == str(checkout)
    # Without --directory, Snakemake's folder is where it was started.
    assert layout.started_in([".venv/bin/snakemake", "-n"], str(checkout),
                             pwd=str(tmp_path)) == str(checkout)
    # A --directory that does not end the folder (a `..` in it, no PWD): the folder, as before.
    assert layout.started_in(["snakemake", "-d", "../elsewhere"], str(run), pwd="") == str(run)


def test_a_suggested_rerun_repeats_the_profile_the_run_was_started_with(tmp_path):
    """A cell of a cluster run rerun from the suggested command without its profile would run
    where Snakemake runs (a login node): the command line's profile goes into it."""
    (tmp_path / "profiles" / "slurm").mkdir(parents=True)
    snakemake = "/venv/bin/snakemake"
    given = [snakemake, "--cores", "all", "--workflow-profile", "profiles/slurm",
             "--configfile", "config/paper.yaml"]
    assert layout.profile_argument(given, str(tmp_path), cwd=str(tmp_path)) == \
        "--workflow-profile profiles/slurm"
    # `python -m snakemake`, the `=` form, a profile name Snakemake looks up itself, and both.
    module = "/venv/lib/python3.12/site-packages/snakemake/__main__.py"
    assert layout.profile_argument([module, "--profile=my cluster"], str(tmp_path),
                                   cwd=str(tmp_path)) == "--profile 'my cluster'"
    assert layout.profile_argument(
        [snakemake, "--profile", "site", "--workflow-profile=profiles/slurm"], str(tmp_path),
        cwd=str(tmp_path)) == "--profile site --workflow-profile profiles/slurm"
    # A run in its own directory: the command is typed in the checkout, the path made absolute.
    run = tmp_path / "runs" / "a"
    run.mkdir(parents=True)
    assert layout.profile_argument(given, str(tmp_path), cwd=str(run), checkout=str(tmp_path)) \
        == f"--workflow-profile {tmp_path / 'profiles' / 'slurm'}"
    # No profile, Snakemake's `none`, or not Snakemake's command line (its API, pytest's).
    assert layout.profile_argument([snakemake, "--cores", "all"], str(tmp_path)) == ""
    assert layout.profile_argument([snakemake, "--workflow-profile", "none"], str(tmp_path)) == ""
    assert layout.profile_argument(["/venv/bin/pytest", "--profile", "x"], str(tmp_path)) == ""
    assert layout.profile_argument([], str(tmp_path)) == ""
