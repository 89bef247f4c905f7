"""The inventory of docs/failure-modes.md: one test per case (ids F01.. match the document).

Each test feeds the bad input or injects the fault, asserts the message names the problem and
the fix, and where something was computed before, that it is still intact.
"""

from __future__ import annotations

import copy
import errno
import json
import os
import re
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from safetensors import SafetensorError
from snakemake.utils import validate

from prunebench import PrunebenchError, atomic, modeling
from prunebench.data import calibration_windows, load_rows
from prunebench.methods.depth import removable_blocks
from prunebench.evaluate import perplexity
from prunebench.hub import parse_source
from prunebench.pruning import method_module, prune_checkpoint
from prunebench.plan.checks import check_config
from prunebench.plan.sizes import parse_size
from workflow_helpers import copy_workflow, run_snakemake

REPO = Path(__file__).resolve().parents[1]
SCHEMA = str(REPO / "workflow" / "schemas" / "config.schema.yaml")
DEFAULT = yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def config_with(**changes):
    config = copy.deepcopy(DEFAULT)
    for dotted, value in changes.items():
        *parents, key = dotted.split("__")
        node = config
        for parent in parents:
            node = node[parent]
        node[key] = value
    return config


def windows(n=2, length=16, vocab=100):
    return torch.randint(3, vocab, (n, length), generator=torch.Generator().manual_seed(0))


@pytest.fixture
def checkpoint(tmp_path, small_random_model):
    path = tmp_path / "ckpt"
    modeling.save_model(small_random_model(), None, path)
    return path


# ------------------------------------------------------------------------------------- config

@pytest.mark.parametrize("case, changes, message", [
    ("F01 wrong type", {"benchmark__batch_sizes": "1,4"}, "batch_sizes"),
    ("F02 unknown key", {"benchmrk": {"warmup": 1}}, "benchmrk"),
    ("F03 unknown method", {"models__tiny__variants": ["dense", "magic-0.5"]}, "magic-0.5"),
    ("F04 unknown dataset", {"evaluation__perplexity__datasets": ["wikitext3"]}, "wikitext3"),
    ("F05 malformed token config", {"benchmark__token_configs": ["12-128"]}, "12-128"),
    ("F06 unknown device", {"device": "gpu"}, "gpu"),
    ("F48 unknown method parameter", {"methods": {"depth_ppl": {"params": {"protect_frist": 4}}}},
     "methods.depth_ppl.params: depth_ppl has no parameter(s) ['protect_frist']"),
])
def test_config_checks_refuse_bad_config_naming_the_value(case, changes, message, tmp_path):
    """What the workflow runs before any job: the schema, then the registry's method names and
    their parameters' names."""
    with pytest.raises(PrunebenchError, match=re.escape(message)):
        check_config(config_with(**changes), SCHEMA, resources=tmp_path)
    check_config(copy.deepcopy(DEFAULT), SCHEMA, resources=tmp_path)  # the default is valid
    validate(copy.deepcopy(DEFAULT), SCHEMA)  # and Snakemake's own validation agrees


def test_f07_target_larger_than_the_model_writes_nothing(tmp_path, checkpoint):
    with pytest.raises(PrunebenchError, match="larger than the model"):
        prune_checkpoint(checkpoint, "depth_ppl", "5B", tmp_path / "out", windows(), device="cpu")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("method, params, message", [
    ("depth_ppl", {"protect_frist": 1}, "depth_ppl: unknown parameter(s) ['protect_frist']"),
    ("depth_mag", {"protect_first": 3, "protect_last": 1}, "leave no removable block"),
    ("flap", {"metric": "WIF"}, "flap: metric='WIF' (did you mean 'WIFV'?): choose one of"),
    ("llm_pruner", {"taylor": "fourth"}, "llm_pruner: taylor='fourth': choose one of"),
    ("wanda_sp", {"batch_size": 0}, "wanda_sp: batch_size=0 must be an integer >= 1"),
])
def test_f49_bad_method_parameters_fail_before_any_weight_is_loaded(
        tmp_path, checkpoint, monkeypatch, method, params, message):
    import prunebench.pruning as pruning

    def no_load(*args, **kwargs):
        raise AssertionError("load_model was called before the parameters were checked")

    monkeypatch.setattr(pruning, "load_model", no_load)
    with pytest.raises(PrunebenchError, match=re.escape(message)):
        prune_checkpoint(checkpoint, method, "0.8", tmp_path / "out",
                         None if method == "depth_mag" else windows(), params, device="cpu")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("method, params, message, not_said", [
    # FLAP's AL-AM widths come from calibration, but its smallest model does not: refused from
    # the config (`prunebench plan` called it fine, and the prune job loaded the weights first)
    ("flap", {}, "flap: target 1,000 params is unreachable: with every head and MLP channel "
                 "removed the model still has", None),
    ("flap", {"structure": "UL-UM"}, "is unreachable", None),
    # every block's width: no block range to widen is suggested
    ("wanda_sp", {}, "(embeddings and norms stay); choose a larger target", "block range"),
])
def test_f08b_a_target_below_the_methods_smallest_model_is_refused_from_the_config(
        tmp_path, checkpoint, monkeypatch, method, params, message, not_said):
    import prunebench.pruning as pruning

    monkeypatch.setattr(pruning, "load_model", lambda *a, **k: pytest.fail("weights loaded"))
    with pytest.raises(PrunebenchError) as err:
        prune_checkpoint(checkpoint, method, "1000", tmp_path / "out", windows(), params,
                         device="cpu")
    assert message in str(err.value)
    assert not_said is None or not_said not in str(err.value)
    assert not (tmp_path / "out").exists()


def test_f08c_protection_is_suggested_only_where_blocks_are_protected(small_random_model):
    from prunebench.methods.depth import solve_num_blocks

    config = small_random_model(vocab_size=1024).config  # embeddings outweigh a block
    with pytest.raises(PrunebenchError) as err:
        solve_num_blocks(config, 1000, list(range(config.num_hidden_layers)))
    assert "every removable block gone (embeddings stay): choose a larger target" in str(err.value)
    assert "protect" not in str(err.value)
    with pytest.raises(PrunebenchError, match="and protected blocks stay.*protect fewer blocks"):
        solve_num_blocks(config, 1000, [1, 2])


def test_f08_target_that_removes_every_block(small_random_model):
    from prunebench.methods.depth import solve_num_blocks

    config = small_random_model().config
    with pytest.raises(PrunebenchError, match="every block.*choose a larger target"):
        solve_num_blocks(config, 1000, list(range(config.num_hidden_layers)))


def test_f09_contradictory_protection_leaves_no_block():
    with pytest.raises(PrunebenchError, match="leave no removable block"):
        removable_blocks(4, protect_first=3, protect_last=1)


@pytest.mark.parametrize("size, message", [("0", "must be positive"), ("4.9X", "'4.9B'"),
                                           ("1.5", "'1.5B'")])
def test_f10_malformed_or_impossible_size(size, message):
    with pytest.raises(PrunebenchError, match=re.escape(message)):
        parse_size(size, 1000)


def test_f11_unknown_method_names_the_choices():
    with pytest.raises(PrunebenchError, match=r"unknown pruning method 'depht_ppl'.*depth_ppl"):
        method_module("depht_ppl")


@pytest.mark.parametrize("source", ["hf:", "s3://bucket/model", "tiny:x"])
def test_f12_malformed_model_source(source):
    with pytest.raises(PrunebenchError, match=re.escape(repr(source.split(":")[0])[1:-1])):
        parse_source(source)
    from prunebench.checkpoint.architectures import architecture_config

    with pytest.raises(PrunebenchError, match="unknown architecture 'llama-99b'.*llama-7b"):
        architecture_config("llama-99b")  # a `random:` source names one of these


@pytest.mark.parametrize("source, message", [
    ("hf:", "expected tiny | hf:<org>/<repo>@<revision>"), ("s3://bucket/model", "expected tiny"),
    ("tiny:x", "expected tiny"),
    # an unknown architecture used to pass, then stop the DAG build in job sizing
    ("random:llama-99b", "unknown architecture 'llama-99b' in 'random:llama-99b': choose one of ['"),
])
def test_f12_a_bad_model_source_is_refused_at_start(source, message):
    with pytest.raises(PrunebenchError) as err:
        check_config(config_with(models__tiny__source=source), SCHEMA, resources="nowhere")
    lines = str(err.value).splitlines()
    assert len(lines) == 2 and lines[1].startswith("  models.tiny.source: ") \
        and message in lines[1], lines


def _workdir(tmp_path: Path, config: dict) -> Path:
    copy_workflow(tmp_path)
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


def test_f13_duplicate_variants_stop_the_workflow_before_any_job(tmp_path):
    # (Two identical strings the schema refuses already; a string and a dict of the same name
    # get past it and are caught when the workflow reads its variants.)
    config = config_with(models__tiny__variants=[
        "dense", "flap-0.8", {"name": "flap-0.8", "params": {"structure": "UL-UM"}}])
    workdir = _workdir(tmp_path, config)
    (workdir / "results").mkdir()
    (workdir / "results" / "earlier.json").write_text("{}")
    proc = run_snakemake(workdir, "-n", "--cores", "1", configfile="bad.yaml", check=False,
                         timeout=300)
    assert proc.returncode != 0
    assert "variants listed twice: ['flap-0.8']" in proc.stdout + proc.stderr
    assert (workdir / "results" / "earlier.json").read_text() == "{}"


# --------------------------------------------------------------------------------------- data

class WordTokenizer:
    """Just enough tokenizer for calibration_windows: one id per word."""
    bos_token_id, eos_token_id = 1, 2

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [3 + len(w) for w in text.split()]}


def test_f14_too_little_calibration_text():
    with pytest.raises(PrunebenchError, match="fewer than one window of 128.*shorter windows"):
        calibration_windows(["only a few words here"], WordTokenizer(), n=4, length=128, seed=0)


def test_f15_empty_calibration_text():
    with pytest.raises(PrunebenchError, match="calibration text is empty"):
        calibration_windows([], WordTokenizer(), n=4, length=16, seed=0)


def test_f16_non_utf8_text_file(tmp_path):
    (tmp_path / "train.txt").write_bytes(b"caf\xe9 au lait\n")
    with pytest.raises(PrunebenchError, match="train.txt is not UTF-8"):
        load_rows("embedded", "train", tmp_path)


def test_f17_missing_embedded_split_names_the_rule(tmp_path, monkeypatch):
    from prunebench.plan import layout

    monkeypatch.delenv(layout.RERUN_CONFIG_VARIABLE, raising=False)
    monkeypatch.delenv(layout.RERUN_PROGRAM_VARIABLE, raising=False)
    with pytest.raises(PrunebenchError, match="embedded_text rule"):
        load_rows("embedded", "train", tmp_path)
    # the command makes the split asked for (it named train.txt for any), with the run's
    # arguments to repeat where a run passes them
    with pytest.raises(PrunebenchError, match=r"\(`snakemake --cores all "
                                              r"resources/data/embedded/validation\.txt`\)"):
        load_rows("embedded", "validation", tmp_path)
    monkeypatch.setenv(layout.RERUN_CONFIG_VARIABLE, "--directory 'runs/my run'")
    with pytest.raises(PrunebenchError, match=r"\(`snakemake --cores all "
                                              r"resources/data/embedded/test\.txt "
                                              r"--directory 'runs/my run'`\)"):
        load_rows("embedded", "test", tmp_path)


def test_f18_sequences_longer_than_the_context(tmp_path, checkpoint, small_random_model):
    limit = small_random_model().config.max_position_embeddings
    with pytest.raises(PrunebenchError, match=f"exceed the model's context of {limit}"):
        prune_checkpoint(checkpoint, "depth_ppl", "0.8", tmp_path / "out",
                         windows(length=limit + 1), device="cpu")
    assert not (tmp_path / "out").exists()
    with pytest.raises(PrunebenchError, match=f"exceeds the model's context of {limit}"):
        perplexity(small_random_model(), torch.arange(3, 2000) % 100, window=limit * 2)
    # A window of the whole context fits; with a BOS before every window it is one token over.
    stream = torch.arange(3, limit + 3) % 100
    assert perplexity(small_random_model(), stream, window=limit)["windows"] == 1
    with pytest.raises(PrunebenchError, match=rf"window {limit} \(plus the BOS that starts every "
                       rf"window\) exceeds the model's context of {limit} tokens: set "
                       rf"evaluation.perplexity.window \(`prunebench eval --window`\) <= "
                       rf"{limit - 1}"):
        perplexity(small_random_model(), stream, window=limit, bos_token_id=1)
    assert perplexity(small_random_model(), stream, window=limit - 1, bos_token_id=1)["windows"] == 1
    from prunebench.benchmark import run_sweep
    with pytest.raises(PrunebenchError, match="exceed the model's"):
        run_sweep(small_random_model(), None, input_tokens=limit, output_tokens=8, batch_sizes=[1],
                  warmup=0, repeats=1, device="cpu", dtype="float32")


# ------------------------------------------------------------------------------------- models

def test_f19_missing_model(tmp_path):
    with pytest.raises(PrunebenchError, match="config.json is missing.*`model` rule"):
        modeling.load_model(tmp_path / "nowhere")
    with pytest.raises(PrunebenchError, match="config.json is missing"):
        modeling.load_tokenizer(tmp_path / "nowhere")  # not None, as for a model without one


def test_a_variants_folder_names_its_checkpoint(tmp_path, checkpoint):
    """results/pruned/<model>/<variant>/ holds the checkpoint folder and the prune report."""
    variant = tmp_path / "depth_ppl-0.8"
    variant.mkdir()
    checkpoint.rename(variant / "checkpoint")
    for load in (modeling.load_model, modeling.load_tokenizer):
        with pytest.raises(PrunebenchError, match=f"is a variant's folder.*load the checkpoint, "
                           f"{variant / 'checkpoint'}"):
            load(variant)


def test_f20_missing_weight_file_is_named(checkpoint):
    name = next(checkpoint.glob("*.safetensors")).name
    (checkpoint / name).rename(checkpoint / "moved.bin")
    with pytest.raises(PrunebenchError, match=f"(weight file {name} is missing|no safetensors)"):
        modeling.load_model(checkpoint)
    # A file missing from a recorded checkpoint may be a shared file system showing it late:
    # a scheduler's retry may find it (F54).
    from prunebench.checkpoint.integrity import verify_manifest

    with pytest.raises(PrunebenchError, match=f"weight file {name} is missing") as info:
        verify_manifest(checkpoint)
    assert info.value.retry_may_help


def test_f20b_a_stray_weight_file_beside_the_checkpoint_is_not_loaded(checkpoint, caplog):
    """A leftover shard or another format's weights (a hub repository's
    consolidated.safetensors) beside the model's files: loaded too, its tensors replaced the
    model's (an lm_head of zeros scored perplexity 512 on the vocabulary), unseen by the
    manifest's check of the files it records."""
    from safetensors.torch import save_file

    expected = modeling.load_model(checkpoint).state_dict()
    head = expected["lm_head.weight"]
    save_file({"lm_head.weight": torch.zeros_like(head)}, checkpoint / "zz-stale.safetensors")
    model = modeling.load_model(checkpoint)
    assert torch.equal(model.lm_head.weight, head)
    assert "not loading zz-stale.safetensors" in caplog.text
    # without a manifest the index says which files hold the model; without either,
    # model.safetensors is the model, as transformers reads it (a PEFT adapter's or Mistral's
    # consolidated weights beside it), and other files are a question prunebench does not
    # guess the answer to
    (checkpoint / modeling.MANIFEST).unlink()
    assert torch.equal(modeling.load_model(checkpoint).lm_head.weight, head)  # (said above)
    (checkpoint / "model.safetensors").rename(checkpoint / "weights.safetensors")
    with pytest.raises(PrunebenchError, match=r"several safetensors files \(weights.safetensors, "
                                              r"zz-stale.safetensors\) and no model.safetensors"):
        modeling.load_model(checkpoint)
    (checkpoint / "weights.safetensors").rename(checkpoint / "model.safetensors")
    index = {"metadata": {}, "weight_map": {k: "model.safetensors" for k in expected}}
    (checkpoint / modeling.SAFETENSORS_INDEX).write_text(json.dumps(index))
    assert torch.equal(modeling.load_model(checkpoint).lm_head.weight, head)


def test_f20c_a_shard_the_index_names_but_the_folder_lacks_is_named(checkpoint):
    state = modeling.load_model(checkpoint).state_dict()
    index = {"metadata": {}, "weight_map": {
        k: "model.safetensors" if k.startswith("model.embed") else "model-00002.safetensors"
        for k in state}}
    (checkpoint / modeling.MANIFEST).unlink()
    (checkpoint / modeling.SAFETENSORS_INDEX).write_text(json.dumps(index))
    with pytest.raises(PrunebenchError, match=r"weight file\(s\) model-00002.safetensors "
                                              r"missing \(named by its model.safetensors.index"):
        modeling.load_model(checkpoint)
    for broken in ("{", json.dumps({"weight_map": {}})):
        (checkpoint / modeling.SAFETENSORS_INDEX).write_text(broken)
        with pytest.raises(PrunebenchError, match="index.json is unreadable"):
            modeling.load_model(checkpoint)


@pytest.mark.parametrize("outside", ["../elsewhere.safetensors", "/abs/elsewhere.safetensors",
                                     "sub/model.safetensors", "model.bin"])
def test_f20e_an_index_naming_a_file_outside_the_checkpoint_is_refused(checkpoint, outside):
    """A repository's or folder's index is not trusted to name only its own shards: one
    naming '../x.safetensors' had a file outside the checkpoint read, hashed and copied into
    the pruned outputs."""
    from safetensors.torch import save_file

    state = modeling.load_model(checkpoint).state_dict()
    beside = checkpoint.parent / "elsewhere.safetensors"
    save_file({"lm_head.weight": state["lm_head.weight"].clone()}, beside)
    index = {"metadata": {}, "weight_map": {
        k: outside if k == "lm_head.weight" else "model.safetensors" for k in state}}
    (checkpoint / modeling.MANIFEST).unlink()
    (checkpoint / modeling.SAFETENSORS_INDEX).write_text(json.dumps(index))
    with pytest.raises(PrunebenchError, match=r"names weight file\(s\) that are not "
                                              r"safetensors files beside it \(" + re.escape(outside)):
        modeling.load_model(checkpoint)


def test_f20d_a_tensor_in_two_weight_files_is_refused(checkpoint):
    from safetensors.torch import save_file

    state = modeling.load_model(checkpoint).state_dict()
    save_file({"lm_head.weight": state["lm_head.weight"].clone()},
              checkpoint / "model-2.safetensors")
    (checkpoint / modeling.MANIFEST).unlink()
    index = {"metadata": {}, "weight_map": {**{k: "model.safetensors" for k in state},
                                            "lm_head.weight": "model-2.safetensors"}}
    (checkpoint / modeling.SAFETENSORS_INDEX).write_text(json.dumps(index))
    with pytest.raises(PrunebenchError, match="lm_head.weight is in two of its weight files"):
        modeling.load_model(checkpoint)


def test_f21_truncated_weights_are_refused_with_the_file_named(checkpoint):
    file = next(checkpoint.glob("*.safetensors"))
    modeling.load_model(checkpoint)  # verified once (and memoised)
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])
    with pytest.raises(PrunebenchError, match=f"weight file {file.name} does not match"):
        modeling.load_model(checkpoint)


def test_f22_tampered_weights_are_refused_even_with_size_and_time_kept(checkpoint, monkeypatch):
    file = next(checkpoint.glob("*.safetensors"))
    modeling.load_model(checkpoint)
    stat = file.stat()
    data = bytearray(file.read_bytes())
    data[-1] ^= 0xFF  # same size; one weight byte differs
    file.write_bytes(bytes(data))
    # A write moves mtime, but a coarse file-system clock may not show it: move it explicitly,
    # by 10 s (a file system keeping 2 s steps would round +1 s back), and check it moved.
    os.utime(file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10_000_000_000))
    assert file.stat().st_mtime_ns != stat.st_mtime_ns, f"{file}: the file system kept its mtime"
    with pytest.raises(PrunebenchError, match=f"{file.name} does not match its recorded sha256"):
        modeling.load_model(checkpoint)  # the write changed mtime: hashed again
    os.utime(file, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    monkeypatch.setenv("PRUNEBENCH_VERIFY", "full")  # the paranoid mode hashes regardless
    with pytest.raises(PrunebenchError, match=f"{file.name} does not match"):
        modeling.load_model(checkpoint)


def test_f23_truncated_weights_without_manifest(checkpoint):
    (checkpoint / modeling.MANIFEST).unlink()
    file = next(checkpoint.glob("*.safetensors"))
    file.write_bytes(file.read_bytes()[:100])
    with pytest.raises(PrunebenchError, match=f"{file.name} is not readable safetensors"):
        modeling.load_model(checkpoint)


def test_f24_shapes_that_disagree_with_the_config(checkpoint):
    (checkpoint / modeling.MANIFEST).unlink()  # with it, the config's recorded sha256 stops first
    config = json.loads((checkpoint / "config.json").read_text())
    config["intermediate_size"] += 8
    (checkpoint / "config.json").write_text(json.dumps(config))
    with pytest.raises(PrunebenchError, match=r"mlp.*has shape .* config.json implies"):
        modeling.load_model(checkpoint)


def test_f25_pickle_checkpoint_is_refused(tmp_path, checkpoint):
    (checkpoint / modeling.MANIFEST).unlink()  # e.g. a download that shipped only pickle
    for file in checkpoint.glob("*.safetensors"):
        file.rename(file.with_suffix(".bin"))
    with pytest.raises(PrunebenchError, match="never loads pickle"):
        modeling.load_model(checkpoint)


def test_f26_checkpoint_code_is_never_run(checkpoint):
    config = json.loads((checkpoint / "config.json").read_text())
    config["auto_map"] = {"AutoModelForCausalLM": "modeling_evil.EvilModel"}
    (checkpoint / "config.json").write_text(json.dumps(config))
    (checkpoint / "modeling_evil.py").write_text("raise SystemExit('checkpoint code ran')\n")
    with pytest.raises(PrunebenchError, match="never runs code shipped with a checkpoint"):
        modeling.load_model(checkpoint)


def test_f27_tokenizer_code_needs_the_config_switch(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "llama"}')
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(
        {"auto_map": {"AutoTokenizer": ["tokenization_evil.EvilTokenizer", None]},
         "tokenizer_class": "EvilTokenizer"}))
    (tmp_path / "tokenization_evil.py").write_text("raise SystemExit('tokenizer code ran')\n")
    with pytest.raises(PrunebenchError, match="`trust_remote_code: true`"):
        modeling.load_tokenizer(tmp_path)


def test_f27_tokenizer_code_run_by_the_switch_is_named_in_every_result(
        tmp_path, monkeypatch, save_tokenizer_with_own_code):
    """With `trust_remote_code: true` a checkpoint's tokenizer code runs: the results made
    after it say which code, from which folder (provenance.remote_code)."""
    from prunebench import provenance

    monkeypatch.setattr(provenance, "_REMOTE_CODE", [])
    assert provenance.provenance()["remote_code"] == []
    save_tokenizer_with_own_code(tmp_path)
    tokenizer = modeling.load_tokenizer(tmp_path, trust_remote_code=True)
    assert type(tokenizer).__name__ == "MineTokenizer"
    (ran,) = provenance.provenance()["remote_code"]
    assert ran.endswith(f"tokenization_mine.MineTokenizer from {tmp_path}")
    modeling.load_tokenizer(tmp_path, trust_remote_code=True)  # named once however often
    assert len(provenance.provenance()["remote_code"]) == 1


def test_f28_unreadable_manifest(checkpoint):
    (checkpoint / modeling.MANIFEST).write_text("{truncated")
    with pytest.raises(PrunebenchError, match="prunebench.json is unreadable"):
        modeling.load_model(checkpoint)


# ------------------------------------------------------------------------------------ runtime

def test_f29_no_gpu_when_one_is_required(monkeypatch, tmp_path, checkpoint):
    """A workflow job's fix is the run's config key (its rule script resolves the config's
    `device` as it is, or calls the library that does: the prune job's prune_checkpoint); a
    command's or script's, the option it was given (tests/test_single_checkpoint.py)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    said = ("device cuda requested but no CUDA GPU is visible here: run on a GPU node, or set "
            "device: cpu or device: auto in the run's config")
    with pytest.raises(PrunebenchError) as info:
        modeling.resolve_device("cuda")
    assert str(info.value) == said
    assert info.value.retry_may_help  # another node of a cluster may have one (F54)
    with pytest.raises(PrunebenchError) as info:
        prune_checkpoint(checkpoint, "depth_mag", "0.8", tmp_path / "out", None,
                         {"protect_first": 0, "protect_last": 0}, device="cuda")
    assert str(info.value) == said and not (tmp_path / "out").exists()
    with pytest.raises(PrunebenchError) as info:
        modeling.resolve_device("cuda:0", "--device")
    assert str(info.value) == ("device cuda:0 requested but no CUDA GPU is visible here: run on "
                               "a GPU machine, or give --device cpu or --device auto")


def test_f30_out_of_memory_while_pruning(tmp_path, checkpoint, monkeypatch):
    import prunebench.methods.depth as depth

    def exhausted(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 8.00 GiB")

    monkeypatch.setattr(depth, "calibration_nll", exhausted)
    with pytest.raises(PrunebenchError, match="out of memory pruning .*calibration windows") as info:
        prune_checkpoint(checkpoint, "depth_ppl", "0.8", tmp_path / "out", windows(), device="cpu")
    assert not (tmp_path / "out").exists()
    # The GPU a retry gets is of the same kind: it would run out the same way (F54).
    assert not info.value.retry_may_help


@pytest.mark.parametrize("error", [
    torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 26.00 GiB"),
    RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 bytes"),
    # cuBLAS's workspace or a CUDA context, outside the caching allocator (torch >= 2.8 raises
    # torch.AcceleratorError, a RuntimeError; older ones a plain one)
    RuntimeError("CUDA error: out of memory\nCUDA kernel errors might be asynchronously "
                 "reported"),
])
def test_f30b_out_of_memory_while_loading_a_model_is_explained(checkpoint, monkeypatch, error):
    """The rule scripts load models themselves: load_model explains it for all of them."""
    def exhausted(*args, **kwargs):
        raise error

    monkeypatch.setattr(modeling, "load_state_dict", exhausted)
    with pytest.raises(PrunebenchError) as err:
        modeling.load_model(checkpoint, device="cpu")
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"out of memory loading {checkpoint}")
    assert "device_map / max_memory" in message and str(error).splitlines()[0] in message
    # The host's memory grows with a scheduler's retry; a GPU's does not (F54).
    assert err.value.retry_may_help == ("can't allocate memory" in str(error))
    if hasattr(torch, "AcceleratorError"):  # the type alone says it was a GPU's memory
        from prunebench.oom import out_of_memory_error

        assert out_of_memory_error(torch.AcceleratorError("out of memory")) is PrunebenchError


def test_f30c_other_errors_while_loading_pass_unchanged(checkpoint, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("unexpected key in state dict")

    monkeypatch.setattr(modeling, "load_state_dict", broken)
    with pytest.raises(RuntimeError, match="unexpected key"):
        modeling.load_model(checkpoint, device="cpu")


@pytest.mark.parametrize("error", [
    OSError(errno.ENOSPC, "No space left on device"),
    OSError(errno.EDQUOT, "Disk quota exceeded"),
    # What safetensors raised when a pruned 7B checkpoint filled a GPU machine's disk (its own
    # exception class, the OS error only as text): it used to pass unexplained.
    SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)"),
])
def test_f31_disk_full_while_saving_keeps_the_earlier_checkpoint(tmp_path, checkpoint,
                                                                 small_random_model, monkeypatch,
                                                                 error):
    import huggingface_hub

    before = (checkpoint / modeling.MANIFEST).read_text()

    def full_disk(*args, **kwargs):
        raise error

    monkeypatch.setattr(huggingface_hub, "save_torch_state_dict", full_disk)
    with pytest.raises(PrunebenchError, match="no space left while writing .*free space") as info:
        modeling.save_model(small_random_model(seed=1), None, checkpoint)
    assert info.value.retry_may_help  # space may be freed meanwhile (F54)
    assert (checkpoint / modeling.MANIFEST).read_text() == before
    assert not list(checkpoint.parent.glob(".ckpt.partial-*"))
    modeling.load_model(checkpoint)  # the earlier checkpoint still verifies


def test_other_serializing_errors_are_not_called_a_full_disk(tmp_path, checkpoint,
                                                              small_random_model, monkeypatch):
    import huggingface_hub

    def broken(*args, **kwargs):
        raise SafetensorError("Error while serializing: I/O error: Permission denied (os error 13)")

    monkeypatch.setattr(huggingface_hub, "save_torch_state_dict", broken)
    with pytest.raises(SafetensorError, match="Permission denied"):
        modeling.save_model(small_random_model(seed=1), None, checkpoint)


def test_f56_a_prune_that_cannot_be_saved_is_refused_before_the_model_is_loaded(
        tmp_path, small_random_model, monkeypatch):
    import prunebench.atomic as atomic_module
    import prunebench.pruning as pruning

    base = tmp_path / "base"
    modeling.save_model(small_random_model().to(torch.float16), None, base)
    out = tmp_path / "pruned"
    leftover = tmp_path / ".pruned.partial-killed"  # a killed attempt's half-written folder
    leftover.mkdir()
    (leftover / "model.safetensors").write_bytes(b"half")
    target = parse_size("0.8", modeling.count_params(modeling.load_config(base)))
    real_usage = shutil.disk_usage
    free = {"bytes": int(0.5 * target * 2)}  # half of the float16 checkpoint to come

    def usage(path):
        return real_usage(path)._replace(free=free["bytes"])

    monkeypatch.setattr(atomic_module.shutil, "disk_usage", usage)
    monkeypatch.setattr(pruning, "load_model", lambda *a, **k: pytest.fail("weights loaded"))
    with pytest.raises(PrunebenchError, match=r"pruning .* with depth_ppl to 0.8 needs about "
                       r"[\d.]+ [KMG]iB for .*pruned but its file system has [\d.]+ [KMG]iB free; "
                       r"nothing was computed yet: free space") as info:
        prune_checkpoint(base, "depth_ppl", "0.8", out, windows(), device="cpu")
    assert info.value.retry_may_help  # space may be freed meanwhile (F54)
    assert not out.exists()
    assert not leftover.exists()  # garbage, and the space it held was counted as free
    # Room for the float16 checkpoint (not for a float32 one): the prune runs and saves.
    free["bytes"] = int(target * 2 * 1.2)
    monkeypatch.undo()
    monkeypatch.setattr(atomic_module.shutil, "disk_usage", usage)
    prune_checkpoint(base, "depth_ppl", "0.8", out, windows(), device="cpu")
    modeling.load_model(out)


@pytest.mark.parametrize("config_names_it", [True, False])
@pytest.mark.parametrize("method", ["depth_ppl", "flap"])
def test_a_pruned_checkpoint_is_stored_in_its_bases_dtype(tmp_path, tiny_model_dir, method,
                                                          config_names_it):
    """Pruning computes in float32 (`dtype`) but saves in the dtype the base stores: a float16
    base pruned to 4.9B gave a float32 checkpoint, 19 GB instead of 10, which filled a GPU
    machine's disk. A config.json that names no dtype (a `random:` model made before the saver
    recorded it, an old hub checkpoint) leaves it to the weights."""
    base = tmp_path / "base"
    modeling.save_model(modeling.load_model(tiny_model_dir).to(torch.float16),
                        modeling.load_tokenizer(tiny_model_dir), base)
    config = json.loads((base / "config.json").read_text())
    assert config["dtype"] == "float16"  # the saver records what it saves
    if not config_names_it:
        del config["dtype"]
        (base / "config.json").write_text(json.dumps(config))
        modeling.write_manifest(base)
    vocab = modeling.load_config(tiny_model_dir).vocab_size
    report = prune_checkpoint(base, method, "0.8", tmp_path / "out",
                              windows(n=4, length=32, vocab=vocab), device="cpu", dtype="float32")
    assert (report["dtype"], report["saved_dtype"]) == ("float32", "float16")  # both recorded
    assert modeling.stored_dtype(tmp_path / "out") == torch.float16
    assert json.loads((tmp_path / "out" / "config.json").read_text())["dtype"] == "float16"
    loaded = modeling.load_model(tmp_path / "out", dtype=None)  # None: as stored
    assert {p.dtype for p in loaded.parameters()} == {torch.float16}


def test_f32_killed_write_leaves_no_complete_looking_file_and_is_cleaned(tmp_path):
    target = tmp_path / "result.json"
    # What a SIGKILL between the temporary write and the rename leaves behind:
    stale = tmp_path / ".result.json.partial-abc123"
    stale.write_text('{"half": ')
    assert not target.exists()
    atomic.write_json(target, {"complete": True})
    assert json.loads(target.read_text()) == {"complete": True}
    assert not stale.exists()  # the next attempt removed its predecessor's garbage


# ------------------------------------------------------------------------------------ cluster

def test_f34_retried_prune_job_restarts_cleanly(tmp_path, checkpoint):
    out = tmp_path / "pruned"
    leftover = tmp_path / ".pruned.partial-xyz"  # a pre-empted attempt's half-written folder
    leftover.mkdir()
    (leftover / "model.safetensors").write_bytes(b"half")
    report = prune_checkpoint(checkpoint, "depth_ppl", "0.8", out, windows(), device="cpu")
    assert report["blocks_after"] < report["blocks_before"]
    assert not leftover.exists()
    modeling.load_model(out)


# A rule script in miniature: it logs as every rule script does, then counts its run and fails.
RETRIED_JOB = """
import sys
from pathlib import Path
from prunebench import PrunebenchError, ResourceError, logs
logs.setup(sys.argv[1])
with Path(sys.argv[2]).open("a") as runs:
    runs.write("ran\\n")
raise {error}("the job's input is wrong: fix it so")
"""


@pytest.mark.parametrize("error, retried", [("PrunebenchError", False), ("ResourceError", True)])
def test_f54_a_retry_of_a_job_that_failed_on_its_input_stops_at_once(tmp_path, error, retried):
    """A scheduler's retry (the SLURM profile's `retries`) of a job its input failed would fail
    the same way after loading its model again; one the machine failed (out of memory, no GPU)
    may succeed with the retry's larger allocation, and runs."""
    import subprocess
    import sys

    from prunebench.logs import RUN_VARIABLE, failure_record_path

    log, runs = tmp_path / "logs" / "job.log", tmp_path / "runs.txt"

    def attempt(run_id: str | None) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if k != RUN_VARIABLE}
        env.update({RUN_VARIABLE: run_id} if run_id else {})
        done = subprocess.run([sys.executable, "-c", RETRIED_JOB.format(error=error), str(log),
                               str(runs)], capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode != 0
        return done

    attempt("run-1")
    assert "the job's input is wrong" in log.read_text()
    retry = attempt("run-1")
    runs_so_far = 2 if retried else 1
    assert runs.read_text().count("ran") == runs_so_far
    if not retried:
        for text in (retry.stderr, log.read_text()):
            assert "a retry cannot fix this job's failure earlier in this run" in text, text
            assert "the job's input is wrong: fix it so" in text and "Traceback" not in text
    # The next run (the user changed something) runs the job again; so does a job outside
    # any run (no run id), which leaves no record behind.
    attempt("run-2")
    assert runs.read_text().count("ran") == runs_so_far + 1
    failure_record_path(log).unlink(missing_ok=True)
    attempt(None)
    assert runs.read_text().count("ran") == runs_so_far + 2
    assert not failure_record_path(log).exists()


@pytest.mark.slow  # runs the workflow's jobs
def test_f54_the_workflows_retry_of_a_job_that_failed_on_its_input_stops_at_once(
        tmp_path, small_random_model, small_tokenizer):
    """Through Snakemake, with the workflow's own run id: a folder whose pickle the
    weights-only loader refuses fails its import the same way on every attempt."""
    import argparse

    folder = tmp_path / "odd"
    small_random_model().config.save_pretrained(folder)
    small_tokenizer.save_pretrained(folder)
    torch.save({"w": torch.zeros(2), "x": argparse.Namespace(a=1)}, folder / "pytorch_model.bin")
    workdir = copy_workflow(tmp_path / "wf")
    (workdir / "odd.yaml").write_text(
        f"models:\n  odd:\n    source: local:{folder}\n    variants: [dense]\n")
    configs = ["config/config.yaml", "odd.yaml"]
    log = workdir / "logs" / "model" / "odd.log"
    retried = run_snakemake(workdir, "--cores", "1", "--retries", "2", "resources/models/odd",
                            configfile=configs, check=False)
    assert retried.returncode != 0
    assert retried.stderr.count("Trying to restart job") == 2, retried.stderr[-3000:]
    # The last attempt's log: it stopped at once, naming the first attempt's error.
    text = log.read_text()
    assert "a retry cannot fix this job's failure earlier in this run" in text, text
    assert "weights-only loader" in text
    # A new run tries the job again, and fails on the input again (not on a stale record):
    # also one started where the failed run's id is still set (a shell inside a cluster job
    # inherits it), as the main process always names its run anew.
    from prunebench.logs import RUN_VARIABLE, failure_record_path

    failed_run = json.loads(failure_record_path(log).read_text())["run"]
    again = run_snakemake(workdir, "--cores", "1", "resources/models/odd", configfile=configs,
                          check=False, env={RUN_VARIABLE: failed_run})
    assert again.returncode != 0
    text = log.read_text()
    assert "weights-only loader" in text and "a retry cannot fix" not in text, text


@pytest.mark.slow  # runs the workflow's jobs
def test_f55_a_rerun_that_would_fail_on_its_input_is_refused_before_its_result_is_removed(
        tmp_path, small_random_model, small_tokenizer):
    """Snakemake removes a job's old outputs when it starts it again (its params changed): a
    rerun that then failed on its input lost what it had made. Such reruns are refused before
    any job starts: a mistyped parameter value, a local folder that lost its weights, a CUDA device here, a
    result made on a GPU that `device: auto` would remake on this GPU-less machine's CPU."""
    folder = tmp_path / "mine"
    small_random_model(num_hidden_layers=8).save_pretrained(folder)
    small_tokenizer.save_pretrained(folder)
    workdir = copy_workflow(tmp_path / "wf")
    configs = ["config/config.yaml", "mine.yaml"]

    def configure(source=folder, params=None, device="cpu"):
        variant = {"name": "depth_mag-0.8", **({"params": params} if params else {})}
        (workdir / "mine.yaml").write_text(yaml.safe_dump({
            "device": device, "models": {"mine": {"source": f"local:{source}",
                                                  "variants": [variant]}}}))

    report = workdir / "results" / "pruned" / "mine" / "depth_mag-0.8" / "prune_report.json"
    checkpoint = report.parent / "checkpoint"
    configure()
    run_snakemake(workdir, "--cores", "1", str(report.relative_to(workdir)), configfile=configs)
    made_on_cpu = report.read_text()
    # As if pruned on a GPU node: what a rerun of this cell on a GPU-less machine would replace.
    on_gpu = json.loads(made_on_cpu)
    on_gpu["provenance"].update(device="cuda:0", gpu_name="NVIDIA H200")
    report.write_text(json.dumps(on_gpu))
    made = {p.name: p.read_bytes() for p in [report, *checkpoint.iterdir()]}
    imported = workdir / "resources" / "models" / "mine"
    unweighted = tmp_path / "unweighted"
    shutil.copytree(folder, unweighted)
    (unweighted / "model.safetensors").unlink()
    no_gpu = {"CUDA_VISIBLE_DEVICES": ""}  # any machine shows no GPU to this run

    before_jobs = "found before any job started (nothing was run or removed)"
    cases = [
        # 8 blocks with 6 + 2 protected: none left to remove (sized from the imported model's
        # config.json with the config's other problems, before Snakemake plans any job)
        ({"params": {"protect_first": 6}}, "leave no removable block", checkpoint,
         "the config has 1 problem(s)"),
        # the folder's weights gone (its files changed, so it is imported again)
        ({"source": unweighted}, "holds no weights", imported, before_jobs),
        ({"device": "cuda"}, "device is 'cuda' but this machine shows no GPU", checkpoint,
         before_jobs),
        ({"params": {"protect_first": 1}, "device": "auto"},
         "device: auto would run 1 job(s) again on its CPU (prune mine/depth_mag-0.8), "
         "replacing results made on NVIDIA H200", checkpoint, before_jobs),
    ]
    for changes, message, kept, said_when in cases:
        configure(**changes)
        refused = run_snakemake(workdir, "--cores", "1", str(report.relative_to(workdir)),
                                configfile=configs, check=False, env=no_gpu)
        assert refused.returncode != 0
        assert said_when in refused.stderr, refused.stderr[-3000:]
        assert message in refused.stderr, refused.stderr[-3000:]
        assert ("would be removed first" in refused.stderr or changes.get("device")
                or said_when != before_jobs)
        assert kept.is_dir() and report.exists()
        assert {p.name: p.read_bytes() for p in [report, *checkpoint.iterdir()]} == made
    # Made on the CPU, the same rerun goes ahead, without a warning that it runs on the CPU:
    # the model (0.2M parameters) is made for it (preflight.cpu_sized).
    report.write_text(made_on_cpu)
    rerun = run_snakemake(workdir, "--cores", "1", str(report.relative_to(workdir)),
                          configfile=configs, env=no_gpu)
    assert "shows no GPU" not in rerun.stderr, rerun.stderr[-3000:]
    again = run_snakemake(workdir, "--cores", "1", "-n", str(report.relative_to(workdir)),
                          configfile=configs)
    assert "Nothing to be done" in again.stdout + again.stderr


def test_f54_a_failure_record_that_cannot_be_written_leaves_the_error_as_it_was(tmp_path,
                                                                              monkeypatch):
    """On a full disk the record's own write fails (atomic raises its ResourceError): the
    job's error stays the one reported, with no second traceback from the error hook."""
    from prunebench import ResourceError, logs

    monkeypatch.setenv(logs.RUN_VARIABLE, "run-1")
    monkeypatch.setattr(logs, "_failure_record", tmp_path / ".job.log.failed.json")

    def full(*args, **kwargs):
        raise ResourceError("no space left while writing ...")

    monkeypatch.setattr(logs, "write_json", full)
    logs._record_input_failure(PrunebenchError("bad input"))  # returns quietly
    assert not (tmp_path / ".job.log.failed.json").exists()


@pytest.mark.parametrize("cause, retry_may_help", [
    (ConnectionError("Max retries exceeded with url"), True),
    (TimeoutError("read timed out"), True),
    (FileNotFoundError("Couldn't find a dataset script"), False),
    (ValueError("BuilderConfig 'x' not found"), False)])
def test_f54_a_dataset_that_failed_on_the_network_is_retried_one_that_is_wrong_is_not(
        monkeypatch, cause, retry_may_help):
    """datasets wraps the transport's error in its own: the cause decides."""
    import datasets

    from prunebench.data import load_text

    def failing(*args, **kwargs):
        try:
            raise cause
        except Exception as err:
            raise RuntimeError("datasets could not load it") from err

    monkeypatch.setattr(datasets, "load_dataset", failing)
    with pytest.raises(PrunebenchError, match="cannot load dataset wikitext2") as info:
        load_text("wikitext2", "test")
    assert info.value.retry_may_help == retry_may_help


def test_f36_profile_reruns_incomplete_jobs():
    profile = yaml.safe_load((REPO / "profiles" / "default" / "config.yaml").read_text())
    assert profile["rerun-incomplete"] is True


# ----------------------------------------------------------------------------------- security

SOURCES = [p for d in ("src", "workflow", "benchmarks") for p in (REPO / d).rglob("*.py")]


def test_f37_no_pickle_loading_and_no_remote_code_anywhere():
    for path in SOURCES:
        text = path.read_text()
        for call in re.findall(r"torch\.load\([^)]*\)", text):
            assert "weights_only=True" in call, f"{path}: {call}"
        assert not re.search(r"^\s*import pickle|^\s*from pickle", text, re.M), path
        assert "trust_remote_code=True" not in text, path


# -------------------------------------------------------------------------------- determinism

@pytest.mark.parametrize("method", sorted(__import__("prunebench.pruning").pruning.METHODS))
def test_f40_same_config_and_seed_give_the_same_decisions_and_numbers(tmp_path, tiny_model_dir,
                                                                      method):
    """Two runs of one prune cell and its evaluation on CPU agree bit for bit."""
    from prunebench.pruning import DATA_FREE

    vocab = modeling.load_config(tiny_model_dir).vocab_size
    calibration = None if method in DATA_FREE else windows(n=8, length=64, vocab=vocab)
    stream = windows(n=1, length=2048, vocab=vocab)[0]
    outcomes = []
    for run in ("a", "b"):
        report = prune_checkpoint(tiny_model_dir, method, "0.8", tmp_path / run, calibration,
                                  device="cpu")
        manifest = json.loads((tmp_path / run / modeling.MANIFEST).read_text())
        model = modeling.load_model(tmp_path / run)
        ppl = perplexity(model, stream, window=128)["perplexity"]
        outcomes.append((json.dumps(report["method_report"], sort_keys=True, default=str),
                         manifest["weights_sha256"], ppl))
    assert outcomes[0] == outcomes[1]


def test_f58_a_quantized_checkpoint_is_refused_with_the_fix(checkpoint):
    """An AWQ / GPTQ / bitsandbytes checkpoint holds packed integer weights: it stopped with a
    size or key mismatch deep in the load, or was planned as its base model's shape."""
    config = json.loads((checkpoint / "config.json").read_text())
    config["quantization_config"] = {"quant_method": "awq", "bits": 4}
    (checkpoint / "config.json").write_text(json.dumps(config))
    with pytest.raises(PrunebenchError, match=r"quantized checkpoint \(quantization_config, "
                       r"awq\).*use the checkpoint it was quantized from"):
        modeling.load_model(checkpoint)
    from prunebench.checkpoint.param_count import checkpoint_config

    with pytest.raises(PrunebenchError, match="quantized checkpoint"):
        checkpoint_config(checkpoint)  # what plans and the start's checks read
