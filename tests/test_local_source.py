"""`local:<folder>` model sources: a checkpoint on disk imported into resources/models/<name>/
(prunebench.checkpoint.local_import, the workflow's `local_model` rule)."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from prunebench import PrunebenchError, modeling
from prunebench.checkpoint.integrity import (MANIFEST, base_record, sha256_file,
                                             verify_manifest)
from prunebench.checkpoint.local_import import (folder_state, import_files, import_local,
                                                 local_problems, workflow_state)
from prunebench.hub import parse_source
from prunebench.plan.checks import check_config
from prunebench.plan.config_files import load_config_files
from workflow_helpers import REPO, copy_workflow, run_snakemake

# 2026-01-01 00:00 UTC: when the user's training wrote its folder.
SETTLED_NS = 1_767_225_600 * 1_000_000_000


@pytest.fixture
def tokenizer(small_tokenizer):
    return small_tokenizer


@pytest.fixture
def user_folder(tmp_path, small_random_model, tokenizer):
    """A folder as a user's own training leaves it: save_pretrained's files (no prunebench
    manifest) beside things that are not the checkpoint."""
    model = small_random_model(seed=3)
    folder = tmp_path / "my-finetune"
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    (folder / "optimizer.pt").write_bytes(b"not part of the model")
    (folder / "trainer_state.json").write_text('{"global_step": 100}')
    (folder / "notes.txt").write_text("lr 1e-4, 3 epochs")
    (folder / "checkpoint-100").mkdir()
    (folder / "checkpoint-100" / "config.json").write_text("{}")
    # Written a while ago, as a finished training's folder is: the files' times are settled.
    # (Some file systems, a sandbox's or a network one, still move the modification time of a
    # file written a moment ago; the import would then rightly take it as changed.)
    for file in folder.iterdir():
        if file.is_file():
            os.utime(file, ns=(SETTLED_NS, SETTLED_NS))
    return folder


def snapshot(folder: Path) -> dict[str, tuple[int, str]]:
    return {f.name: (f.stat().st_mtime_ns, sha256_file(f)) for f in folder.iterdir() if f.is_file()}


def output(proc) -> str:
    return proc.stdout + proc.stderr


def logits_of(model, ids):
    import torch

    with torch.no_grad():
        return model(ids).logits


def test_source_names_a_folder_whatever_its_characters():
    parsed = parse_source("local:/data/runs/llama@step:100")
    assert (parsed.kind, parsed.name, parsed.revision) == ("local", "/data/runs/llama@step:100", None)
    with pytest.raises(PrunebenchError, match="local:<folder>"):
        parse_source("local:")


def test_weights_of_another_layout_are_not_imported(user_folder, tmp_path):
    """Mistral's repositories keep, beside transformers' shards, one `consolidated.safetensors`
    for mistral-inference (tens of GB no transformers class reads); a folder fetched whole with
    `hf download` has it. The hub download leaves it out, and so does the import."""
    from safetensors import safe_open

    with safe_open(user_folder / "model.safetensors", "pt") as handle:  # sharded, as Mistral's
        weight_map = {name: "model.safetensors" for name in handle.keys()}
    (user_folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": weight_map}))
    (user_folder / "consolidated.safetensors").write_bytes(b"another layout")
    out = import_local(f"local:{user_folder}", tmp_path / "resources" / "models" / "mine")
    assert not (out / "consolidated.safetensors").exists()
    assert "consolidated.safetensors" not in folder_state(user_folder)


def test_a_folder_is_imported_as_the_same_model_with_a_manifest(user_folder, tmp_path):
    import torch

    before = snapshot(user_folder)
    out = import_local(f"local:{user_folder}", tmp_path / "resources" / "models" / "mine")
    # Only the checkpoint's files: config, weights, tokenizer (and the new manifest).
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [p.name for p in import_files(user_folder)] + [MANIFEST])
    for other in ("optimizer.pt", "checkpoint-100", "trainer_state.json", "notes.txt"):
        assert not (out / other).exists(), other
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["source"] == f"local:{user_folder}"
    assert manifest["imported_from"] == str(user_folder.resolve())
    assert manifest["weights_sha256"] == {"model.safetensors":
                                          sha256_file(user_folder / "model.safetensors")}
    ids = torch.tensor([[1, 5, 9, 17, 33]])
    original = modeling.load_model(user_folder)  # a user's folder: loads with a warning
    imported = modeling.load_model(out)          # verified against its manifest
    assert torch.equal(logits_of(imported, ids), logits_of(original, ids))
    assert modeling.load_tokenizer(out)("a b c")["input_ids"] == \
        modeling.load_tokenizer(user_folder)("a b c")["input_ids"]
    assert snapshot(user_folder) == before  # the folder is only read
    assert not list(out.parent.glob(".*"))  # no staging folder left behind
    # What a model pruned from the copy records as its base: the folder too (results' cells
    # name a local source by its kind alone).
    assert base_record(out) == {"checkpoint": str(out),
                                "manifest_sha256": sha256_file(out / MANIFEST),
                                "source": f"local:{user_folder}",
                                "imported_from": str(user_folder.resolve())}


@pytest.mark.parametrize("trusted", [False, True])
def test_a_folders_code_files_are_imported_only_where_the_run_trusts_remote_code(
        user_folder, tmp_path, monkeypatch, trusted):
    """A tokenizer that ships its own code is loaded from the imported folder: with
    trust_remote_code (the workflow passes it through the environment, as to a download) its
    code files are imported, recorded in the manifest and verified; without it none is. The
    switch is no part of what the workflow compares, so flipping it reruns no import."""
    from prunebench.plan.layout import TRUST_REMOTE_CODE_VARIABLE

    (user_folder / "tokenization_mine.py").write_text("# a tokenizer's own code\n")
    (user_folder / "scripts").mkdir()
    (user_folder / "scripts" / "convert.py").write_text("# not the checkpoint's\n")
    monkeypatch.setenv(TRUST_REMOTE_CODE_VARIABLE, "1" if trusted else "0")
    state = folder_state(user_folder)
    assert "tokenization_mine.py" not in state
    out = import_local(f"local:{user_folder}", tmp_path / "resources" / "models" / "mine")
    manifest = json.loads((out / MANIFEST).read_text())
    assert (out / "tokenization_mine.py").is_file() == trusted
    assert ("tokenization_mine.py" in manifest["files_sha256"]) == trusted
    assert not (out / "scripts").exists() and manifest["imported_files"] == state
    if trusted:
        (out / "tokenization_mine.py").write_text("# edited after the import\n")
        with pytest.raises(PrunebenchError, match="tokenization_mine.py"):
            verify_manifest(out)


def test_a_touched_file_counts_as_unchanged_and_a_changed_one_as_changed(user_folder, tmp_path,
                                                                        monkeypatch):
    """Only content reruns the import and everything made from it (hours of GPU jobs): a
    `touch`, or a copy that did not keep the times, used to count as a change."""
    out = import_local(f"local:{user_folder}", tmp_path / "resources" / "models" / "mine")
    imported = json.loads((out / MANIFEST).read_text())["imported_files"]
    assert workflow_state(user_folder, out) == folder_state(user_folder) == imported
    for file in import_files(user_folder):
        os.utime(file, ns=(SETTLED_NS + 10**9, SETTLED_NS + 10**9))
    assert folder_state(user_folder) != imported
    assert workflow_state(user_folder, out) == imported
    # The same bytes, known by their stat now: not hashed again.
    from prunebench.checkpoint import integrity

    hashed = []
    original = integrity.sha256_files
    monkeypatch.setattr(integrity, "sha256_files",
                        lambda files: hashed.extend(files) or original(files))
    assert workflow_state(user_folder, out) == imported and hashed == []
    # One byte changed, the size kept: a change.
    weights = user_folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    assert workflow_state(user_folder, out) == folder_state(user_folder) != imported


def test_a_damaged_record_or_a_file_gone_while_checked_counts_as_changed(user_folder, tmp_path,
                                                                          monkeypatch):
    """The worst an odd state may do is import again: never stop the workflow's start."""
    from prunebench.checkpoint import integrity

    out = import_local(f"local:{user_folder}", tmp_path / "resources" / "models" / "mine")
    for file in import_files(user_folder):
        os.utime(file, ns=(SETTLED_NS + 10**9, SETTLED_NS + 10**9))
    manifest = (out / MANIFEST).read_text()

    def gone(files):
        raise FileNotFoundError(files[0])

    monkeypatch.setattr(integrity, "sha256_files", gone)
    assert workflow_state(user_folder, out) == folder_state(user_folder)
    monkeypatch.undo()
    for damaged in ("[]", '{"imported_files": [], "weights_sha256": []}'):
        (out / MANIFEST).write_text(damaged)
        assert workflow_state(user_folder, out) == folder_state(user_folder)
    (out / MANIFEST).write_text(manifest)
    assert workflow_state(user_folder, out) != folder_state(user_folder)


def test_a_pickle_only_folder_is_converted_without_unpickling(tmp_path, small_random_model,
                                                               tokenizer):
    import torch

    model = small_random_model(seed=4)
    folder = tmp_path / "old-style"
    model.config.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    out = import_local(f"local:{folder}", tmp_path / "models" / "old")
    assert not list(out.glob("*.bin")) and (out / "model.safetensors").exists()
    record = json.loads((out / "pickle_conversion.json").read_text())["converted"]
    assert record[0]["loader"] == "torch.load(weights_only=True)"
    assert record[0]["from_sha256"] == sha256_file(folder / "pytorch_model.bin")
    assert (folder / "pytorch_model.bin").exists()  # the user's file stays where it was
    ids = torch.tensor([[2, 4, 8, 16]])
    assert torch.equal(logits_of(modeling.load_model(out), ids), logits_of(model, ids))


def test_a_pickle_the_weights_only_loader_refuses_is_not_imported(tmp_path, small_random_model,
                                                                   tokenizer):
    import argparse

    import torch

    folder = tmp_path / "odd"
    small_random_model().config.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    # Not a plain tensor container: unpickling would have to build an arbitrary object.
    torch.save({"w": torch.zeros(2), "x": argparse.Namespace(a=1)}, folder / "pytorch_model.bin")
    with pytest.raises(PrunebenchError, match="weights-only loader"):
        import_local(f"local:{folder}", tmp_path / "models" / "odd")
    assert not (tmp_path / "models" / "odd").exists()


def interrupt_import(monkeypatch, folder: Path, out: Path) -> Path:
    """An import killed after its copies, before its manifest: its staging folder."""
    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(modeling, "write_manifest", killed)
        with pytest.raises(KeyboardInterrupt):
            import_local(f"local:{folder}", out)
    staging = out.parent / f".{out.name}.import"
    assert staging.is_dir() and not out.exists()
    return staging


def test_an_interrupted_import_resumes_without_copying_again(user_folder, tmp_path, monkeypatch):
    out = tmp_path / "models" / "mine"
    staging = interrupt_import(monkeypatch, user_folder, out)
    copied = {f.name for f in staging.iterdir() if not f.name.startswith(".")}
    assert copied == {f.name for f in import_files(user_folder)}
    copies = []
    real_copy = shutil.copy2
    monkeypatch.setattr(shutil, "copy2", lambda src, dst: copies.append(src) or real_copy(src, dst))
    import_local(f"local:{user_folder}", out)
    assert copies == []  # every file was already copied whole: none is copied again
    assert {f.name for f in out.iterdir()} == copied | {MANIFEST}
    assert not staging.exists() and not list(out.glob(".*"))
    verify_manifest(out)


def test_a_sharded_pickle_import_interrupted_after_its_conversion_resumes_cleanly(
        tmp_path, small_random_model, tokenizer, monkeypatch):
    """Killed after the conversion, before the manifest: the rerun copies the pickle index
    again (the conversion had replaced it), and must convert it again rather than leave an
    index of .bin shards that no longer exist in the imported checkpoint."""
    import torch

    model = small_random_model(seed=5)
    folder = tmp_path / "sharded-pickles"
    model.config.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    state = model.state_dict()
    names = sorted(state)
    shards = {"pytorch_model-00001-of-00002.bin": names[: len(names) // 2],
              "pytorch_model-00002-of-00002.bin": names[len(names) // 2:]}
    for shard, keys in shards.items():
        torch.save({k: state[k] for k in keys}, folder / shard)
    (folder / "pytorch_model.bin.index.json").write_text(json.dumps(
        {"metadata": {}, "weight_map": {k: s for s, keys in shards.items() for k in keys}}))
    out = tmp_path / "models" / "sharded"
    staging = interrupt_import(monkeypatch, folder, out)
    assert (staging / "pickle_conversion.json").exists()  # the conversion had finished
    import_local(f"local:{folder}", out)
    assert not list(out.glob("pytorch_model*"))
    index = json.loads((out / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"].values()) == {"model-00001-of-00002.safetensors",
                                                 "model-00002-of-00002.safetensors"}
    verify_manifest(out)
    ids = torch.tensor([[2, 4, 8, 16]])
    assert torch.equal(logits_of(modeling.load_model(out), ids), logits_of(model, ids))


def test_an_import_whose_folder_changed_meanwhile_starts_over(user_folder, tmp_path, monkeypatch,
                                                              small_random_model):
    out = tmp_path / "models" / "mine"
    staging = interrupt_import(monkeypatch, user_folder, out)
    assert (staging / "model.safetensors").exists()
    # Before the rerun the user saves the model sharded: the single file is gone.
    (user_folder / "model.safetensors").unlink()
    small_random_model(seed=3).save_pretrained(user_folder, safe_serialization=True,
                                               max_shard_size="300KB")
    import_local(f"local:{user_folder}", out)
    shards = sorted(p.name for p in user_folder.glob("*.safetensors"))
    assert len(shards) > 1 and sorted(p.name for p in out.glob("*.safetensors")) == shards
    assert not (out / "model.safetensors").exists()  # the old single file is not kept
    assert (out / "model.safetensors.index.json").exists()


@pytest.mark.parametrize("make, phrase", [
    (lambda f: None, "no such folder"),
    (lambda f: f.write_text("x"), "is a file"),
    (lambda f: f.mkdir(), "has no config.json: give the folder that save_pretrained wrote"),
    (lambda f: (f.mkdir(), (f / "config.json").write_text('{"model_type": "reformer"}')),
     "model_type 'reformer'"),
    (lambda f: (f.mkdir(), (f / "config.json").write_text(
        '{"model_type": "llama", "auto_map": {"AutoModelForCausalLM": "m.M"}}')),
     "custom code (auto_map)"),
])
def test_a_folder_that_is_no_checkpoint_is_named_with_the_fix(tmp_path, make, phrase):
    folder = tmp_path / "model"
    make(folder)
    problems = local_problems("mine", str(folder))
    assert len(problems) == 1 and phrase in problems[0]
    assert problems[0].startswith(f"models.mine.source local:{folder}")


def test_a_mistyped_folder_gets_the_close_sibling_and_no_note_on_relative_paths(tmp_path):
    """`local:/scratch/me/my-qwen-2` for `my-qwen2`: the folder beside it is named, and an
    absolute path is not told how relative paths are read."""
    (tmp_path / "my-qwen2").mkdir()
    (tmp_path / "other-model").mkdir()
    [problem] = local_problems("mine", str(tmp_path / "my-qwen-2"))
    assert f"no such folder {tmp_path / 'my-qwen-2'} (did you mean " \
        f"{str(tmp_path / 'my-qwen2')!r}?): give the folder holding config.json" in problem
    assert "relative path" not in problem
    [far] = local_problems("mine", str(tmp_path / "weights"))
    assert "did you mean" not in far and "relative path" not in far


def test_a_relative_missing_folder_says_where_it_was_looked_for(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    [problem] = local_problems("mine", "my-model")
    assert f"no such folder {tmp_path / 'my-model'} (a relative path is read from the directory " \
        f"Snakemake runs in, {tmp_path})" in problem


def test_a_relative_folder_missing_in_the_runs_directory_names_the_one_where_it_started(
        user_folder, tmp_path, monkeypatch):
    """`snakemake --directory runs/mine` with `local:models/mine` written from the checkout:
    Snakemake reads it in runs/mine; the shell's $PWD still names the checkout, where it is."""
    checkout = tmp_path / "checkout"
    shutil.copytree(user_folder, checkout / "models" / "mine")
    (checkout / "runs" / "mine").mkdir(parents=True)
    monkeypatch.setenv("PWD", str(checkout))
    monkeypatch.chdir(checkout / "runs" / "mine")
    [problem] = local_problems("mine", "models/mine")
    assert (f"(a relative path is read from the directory Snakemake runs in, {checkout}/runs/mine,"
            f" its --directory; from {checkout}, where it was started, the path names "
            f"{checkout}/models/mine: write that absolute path)") in problem
    monkeypatch.setenv("PWD", str(tmp_path))  # nothing of that name there: no such hint
    [problem] = local_problems("mine", "models/mine")
    assert "where it was started" not in problem


def test_a_training_output_folder_names_its_checkpoint_subfolders(user_folder, tmp_path):
    """transformers' Trainer writes checkpoint-<step>/ folders into its output_dir: pointing
    `source` at the output_dir gets the folders to give instead, the last step's first."""
    run = tmp_path / "trainer-out"
    for step in (500, 1000, 1500, 2000):
        shutil.copytree(user_folder, run / f"checkpoint-{step}")
    (run / "runs").mkdir()  # TensorBoard logs: no checkpoint
    [problem] = local_problems("mine", str(run))
    assert problem == (f"models.mine.source local:{run}: {run} has no config.json: its "
                       "sub-folder(s) checkpoint-1000, checkpoint-1500, checkpoint-2000 and 1 "
                       "more hold one (a training run's checkpoints?): give the one to prune, "
                       f"e.g. local:{run / 'checkpoint-2000'}")


def test_missing_weights_and_tokenizer_are_each_named(user_folder):
    for name in ("model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        (user_folder / name).unlink()
    (user_folder / "model.pt").write_bytes(b"x")
    problems = local_problems("mine", str(user_folder))
    assert len(problems) == 2
    assert "holds no weights (found ['model.pt', 'optimizer.pt']" in problems[0]
    assert "safe_serialization=True" in problems[0]
    assert "has no tokenizer" in problems[1] and "tokenizer.save_pretrained" in problems[1]


def test_a_weights_file_cut_short_is_named_before_the_import(user_folder):
    """A copy cut short was imported as it was and failed jobs later, with a fix (re-run the
    import) that copied the same file again."""
    from prunebench.checkpoint.integrity import safetensors_problem

    weights = user_folder / "model.safetensors"
    assert safetensors_problem(weights) is None and local_problems("mine", str(user_folder)) == []
    whole = weights.read_bytes()
    weights.write_bytes(whole[:len(whole) - 1000])
    problems = local_problems("mine", str(user_folder))
    assert len(problems) == 1
    assert f"model.safetensors holds {len(whole) - 1000:,} bytes where its header describes " \
           f"{len(whole):,} (cut short)" in problems[0]
    assert "save the model there again" in problems[0]
    with pytest.raises(PrunebenchError, match="cut short"):
        import_local(f"local:{user_folder}", user_folder.parent / "imported" / "mine")
    weights.write_bytes(whole[:20])  # not even its header
    assert "too few for the header" in safetensors_problem(weights)
    weights.write_bytes(whole + b"\0")
    assert "extra bytes at its end" in safetensors_problem(weights)
    weights.write_bytes(b"\x10" + b"\0" * 7 + b"not json" + b"\0" * 8)
    assert "its header does not read" in safetensors_problem(weights)

    def with_header(text: bytes, tail: int = 0) -> str | None:
        weights.write_bytes(len(text).to_bytes(8, "little") + text + b"\0" * tail)
        return safetensors_problem(weights)

    assert with_header(b'{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}', 4) is None
    assert "does not read" in with_header(b'{"w": {"data_offsets": [0, "4"]}}', 4)
    assert "does not read" in with_header(b"[" * 100_000 + b"]" * 100_000)  # nested past limits
    # a header length no real file has is said, not read (it would be read whole into memory)
    weights.write_bytes((2 * 10**8).to_bytes(8, "little"))
    with open(weights, "r+b") as fh:
        fh.truncate(2 * 10**8 + 16)  # sparse: no disk used
    assert "over the format's 100,000,000" in safetensors_problem(weights)
    weights.unlink()
    weights.mkdir()  # a folder so named
    assert safetensors_problem(weights) == "model.safetensors is not a file"


def test_a_missing_shard_or_files_without_their_index_are_named_before_the_import(
        tmp_path, small_random_model, tokenizer):
    """The import copied what was there and the first job to load the model failed (hours into
    a run, perhaps); the start check now says it, as the loader would."""
    folder = tmp_path / "sharded"
    small_random_model(seed=3).save_pretrained(folder, safe_serialization=True,
                                               max_shard_size="100KB")
    tokenizer.save_pretrained(folder)
    shards = sorted(folder.glob("*.safetensors"))
    # a hidden file beside them (macOS's `._` copies) is no shard: not refused, not loaded
    (folder / f"._{shards[0].name}").write_bytes(b"\0\0\0\0\0\0\0\0resource fork")
    assert len(shards) > 2 and local_problems("mine", str(folder)) == []
    shards[1].unlink()
    problems = local_problems("mine", str(folder))
    assert len(problems) == 1
    assert f"weight file(s) {shards[1].name} missing (named by its model.safetensors.index.json)" \
        in problems[0] and "copy every shard of the model" in problems[0]
    (folder / "model.safetensors.index.json").unlink()  # the shards left, and no index
    problems = local_problems("mine", str(folder))
    assert len(problems) == 1
    assert "holds several safetensors files" in problems[0] and "copy the model's index" in problems[0]


@pytest.mark.parametrize("beside", ["consolidated.safetensors", "adapter_model.safetensors"])
def test_a_folder_whose_model_safetensors_has_other_weights_beside_it_is_imported(
        tmp_path, small_random_model, tokenizer, beside):
    """transformers reads model.safetensors by its name where there is no index: Mistral's
    consolidated weights or a PEFT adapter beside it were refused at the start ("several
    safetensors files"), though the import and transformers would take the folder."""
    import torch
    from safetensors.torch import save_file

    folder = tmp_path / "mine"
    model = small_random_model(seed=4)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    save_file({"x": torch.zeros(2)}, folder / beside)
    assert local_problems("mine", str(folder)) == []
    out = import_local(f"local:{folder}", tmp_path / "imported")
    loaded = modeling.load_model(out)
    assert torch.equal(loaded.lm_head.weight, model.lm_head.weight)


def test_the_workflow_checks_a_local_folder_and_its_sizes_at_start(user_folder, tmp_path):
    (tmp_path / "local.yaml").write_text(
        f"models:\n  mine:\n    source: local:{user_folder}\n"
        f"    variants: [dense, depth_ppl-0.75, depth_ppl-9B]\n"
        f"  gone:\n    source: local:{tmp_path / 'nowhere'}\n    variants: [dense]\n")
    config = load_config_files([REPO / "config" / "config.yaml", tmp_path / "local.yaml"])
    with pytest.raises(PrunebenchError) as info:
        check_config(config, resources=tmp_path / "resources")
    lines = [line.strip() for line in str(info.value).splitlines()[1:]]
    assert len(lines) == 2, lines
    assert "models.gone.source" in lines[0] and "no such folder" in lines[0]
    # The size is checked against the folder's own config.json, before any import.
    assert lines[1].startswith("model mine, variant depth_ppl-9B") and "larger than the model" in lines[1]


def test_a_folder_gone_after_its_import_does_not_stop_the_workflow(tmp_path):
    """The import is what the workflow uses: a scratch folder purged since is no problem."""
    (tmp_path / "local.yaml").write_text(
        f"models:\n  mine:\n    source: local:{tmp_path / 'purged'}\n    variants: [dense]\n")
    config = load_config_files([REPO / "config" / "config.yaml", tmp_path / "local.yaml"])
    with pytest.raises(PrunebenchError, match="no such folder"):
        check_config(config, resources=tmp_path / "resources")
    imported = tmp_path / "resources" / "models" / "mine"
    imported.mkdir(parents=True)
    (imported / MANIFEST).write_text("{}")
    check_config(config, resources=tmp_path / "resources")


def test_a_missing_folder_with_an_import_is_noted_with_the_folder_it_came_from(
        user_folder, tmp_path):
    """A purged folder and a mistyped new path look alike: the run goes on with the copy made
    before, and says where that copy came from."""
    from prunebench.plan.checks import missing_folder_notes

    resources = tmp_path / "resources"
    config = {"models": {"mine": {"source": f"local:{tmp_path / 'typo'}"},
                         "here": {"source": f"local:{user_folder}"},
                         "new": {"source": f"local:{tmp_path / 'nowhere'}"},
                         "tiny": {"source": "tiny"}}}
    for model in ("mine", "here"):
        import_local(f"local:{user_folder}", resources / "models" / model)
    [note] = missing_folder_notes(config, resources)  # not: a folder there, or no copy yet
    assert note.startswith(f"models.mine.source local:{tmp_path / 'typo'}: no such folder")
    assert f"imported before into {resources / 'models' / 'mine'}/ from {user_folder}" in note
    assert f"delete {resources / 'models' / 'mine'}/" in note


@pytest.mark.slow  # runs the workflow's jobs
def test_the_workflow_imports_a_local_model_once_and_again_when_a_file_changes(
        user_folder, tmp_path, small_random_model):
    workdir = copy_workflow(tmp_path / "wf")
    (workdir / "local.yaml").write_text(
        f"models:\n  mine:\n    source: local:{user_folder}\n    variants: [dense]\n")
    configs = ["config/config.yaml", "local.yaml"]
    # Both kinds of base model in one run: the tiny one by `model`, the folder by `local_model`.
    plan = output(run_snakemake(workdir, "-n", "--cores", "1", configfile=configs))
    stats = dict(line.split() for line in plan.splitlines()
                 if line.split()[:1] in (["model"], ["local_model"]) and len(line.split()) == 2)
    assert stats == {"model": "1", "local_model": "1"}
    # Nothing to fetch for a folder: `prefetch` leaves it to the run.
    assert "local_model" not in output(run_snakemake(workdir, "-n", "--cores", "1", "prefetch",
                                                     configfile=configs))
    report = "results/pruned/mine/dense/prune_report.json"  # a result made from the import
    run_snakemake(workdir, "--cores", "1", report, configfile=configs)
    out = workdir / "resources" / "models" / "mine"
    assert json.loads((out / MANIFEST).read_text())["source"] == f"local:{user_folder}"
    # Results name the kind alone (the path is no param); the import's manifest the folder.
    cell = json.loads((workdir / report).read_text())["provenance"]["cell"]
    assert cell["source"] == "local:"
    assert json.loads((out / MANIFEST).read_text())["imported_from"] == str(user_folder)
    rerun = output(run_snakemake(workdir, "-n", "--cores", "1", report, configfile=configs))
    assert "Nothing to be done" in rerun
    # The folder moved (here: copied without its times) and the config pointed there: the same
    # files, so neither the import nor what was made from it reruns.
    moved = tmp_path / "moved" / "my-finetune"
    shutil.copytree(user_folder, moved, copy_function=shutil.copyfile)
    (workdir / "moved.yaml").write_text(
        f"models:\n  mine:\n    source: local:{moved}\n    variants: [dense]\n")
    rerun = output(run_snakemake(workdir, "-n", "--cores", "1", report,
                                 configfile=["config/config.yaml", "moved.yaml"]))
    assert "Nothing to be done" in rerun, rerun
    # The folder purged after the import (a scratch space): the import stands as it is.
    away = user_folder.with_name("elsewhere")
    user_folder.rename(away)
    rerun = output(run_snakemake(workdir, "-n", "--cores", "1", "resources/models/mine",
                                 configfile=configs))
    assert "Nothing to be done" in rerun
    away.rename(user_folder)
    # Touched (or copied without its times), the same bytes: nothing to redo.
    for file in user_folder.iterdir():
        if file.is_file():
            os.utime(file)
    rerun = output(run_snakemake(workdir, "-n", "--cores", "1", "resources/models/mine",
                                 configfile=configs))
    assert "Nothing to be done" in rerun, rerun
    # The user retrains into the folder: the import is made again (and all made from it).
    small_random_model(seed=5).save_pretrained(user_folder, safe_serialization=True)
    rerun = output(run_snakemake(workdir, "-n", "--cores", "1", "resources/models/mine",
                                 configfile=configs))
    assert "Params have changed" in rerun and "model.safetensors" in rerun, rerun


@pytest.mark.parametrize("pruning", ["width", "depth"])
def test_a_pruned_copy_without_its_history_as_a_base_model_is_refused(
        pruning, tmp_path, small_random_model, tokenizer):
    """A pruned checkpoint copied without its manifest and report (config and weights alone)
    said nothing of its pruning and was imported as a dense model; its config.json's
    layer_shapes, which only prunebench's width surgery writes, or blocks_before_pruning, which
    only its block removal writes, says it was pruned."""
    from prunebench.methods import surgery

    model = small_random_model(seed=7)
    blocks = model.config.num_hidden_layers
    if pruning == "width":
        surgery.remove_kv_groups(model, 1, [0])
        key, words = "layer_shapes", "width-pruned"
    else:
        modeling.remove_blocks(model, [1])
        key, words = "blocks_before_pruning", "depth-pruned"
    copy = tmp_path / "copy"
    modeling.save_model(model, tokenizer, copy)
    (copy / modeling.MANIFEST).unlink()  # config, weights and tokenizer alone
    if pruning == "depth":  # the dense model's depth, as transformers reloads the config
        assert json.loads((copy / "config.json").read_text())[key] == blocks
        assert modeling.load_config(copy).blocks_before_pruning == blocks
        modeling.remove_blocks(model, [0])  # a second prune keeps the dense model's depth
        assert model.config.blocks_before_pruning == blocks
    assert json.loads((copy / "config.json").read_text())[key]
    [problem] = local_problems("other", str(copy))
    assert key in problem and words in problem
    assert "give the dense model it was pruned from" in problem and "models.other.variants" \
        in problem
    with pytest.raises(PrunebenchError, match=key):
        import_local(f"local:{copy}", tmp_path / "imported")
    assert not (tmp_path / "imported").exists()
    # the dense model saved the same way has neither key and is taken
    dense = tmp_path / "dense"
    modeling.save_model(small_random_model(seed=7), tokenizer, dense)
    (dense / modeling.MANIFEST).unlink()
    assert not {"layer_shapes", "blocks_before_pruning"} & set(
        json.loads((dense / "config.json").read_text()))
    assert local_problems("mine", str(dense)) == []


def test_the_commands_take_a_local_source_as_its_folder(user_folder):
    from prunebench.commands.model_source import resolve_model

    ckpt = resolve_model(f"local:{user_folder}")
    assert (ckpt.path, ckpt.variant, ckpt.source) == (user_folder, "dense", f"local:{user_folder}")


def test_a_pruned_checkpoint_as_a_base_model_is_refused_naming_the_dense_one(
        tmp_path, small_random_model, tokenizer, monkeypatch):
    """A prunebench prune output imported as a `local:` base was taken as a dense model: its
    import's manifest kept no record of the pruning, so the tables showed it as dense and its
    variants sized against it. A dense model recovered with LoRA (a fine-tune) is still taken."""
    from prunebench.cli import plan_rows

    run = tmp_path / "run"
    dense = run / "resources" / "models" / "mine"
    modeling.save_model(small_random_model(seed=3), tokenizer, dense)
    variant = run / "results" / "pruned" / "mine" / "depth_mag-0.8"
    # as the workflow records it: the base's path relative to the run's directory
    monkeypatch.chdir(run)
    modeling.save_model(small_random_model(seed=4), tokenizer, variant / "checkpoint",
                        extra_manifest={"base": base_record("resources/models/mine")})
    (variant / "prune_report.json").write_text(json.dumps(
        {"model": "mine", "variant": "depth_mag-0.8", "method": "depth_mag"}))
    monkeypatch.chdir(tmp_path)  # the check runs elsewhere: the dense folder is still found
    for given in (variant / "checkpoint", variant):
        [problem] = local_problems("other", str(given))
        assert problem.startswith(f"models.other.source local:{given}: {given} holds "
                                  "depth_mag-0.8 of mine pruned by prunebench"), problem
        assert f"give the dense model it was pruned from, local:{dense}" in problem
        assert "models.other.variants" in problem
    # copied alone, without its report: the manifest still says it was pruned
    alone = shutil.copytree(variant / "checkpoint", tmp_path / "copied")
    [problem] = local_problems("other", str(alone))
    assert "pruned by prunebench" in problem and "resources/models/mine" in problem
    with pytest.raises(PrunebenchError, match="pruned by prunebench"):
        import_local(f"local:{alone}", tmp_path / "imported")
    assert not (tmp_path / "imported").exists()
    config = tmp_path / "c.yaml"
    config.write_text(f"models: {{other: {{source: 'local:{alone}', variants: [dense]}}}}\n")
    [row] = plan_rows(str(config))
    assert "pruned by prunebench" in row["error"]
    # the recovered dense model (dense+lora): a fine-tuned dense model, a base of its own
    recovered = tmp_path / "dense+lora" / "checkpoint"
    modeling.save_model(small_random_model(seed=5), tokenizer, recovered,
                        extra_manifest={"lora": {"base": str(dense), "best_step": 1}})
    (recovered.parent / "prune_report.json").write_text(json.dumps(
        {"model": "mine", "variant": "dense+lora", "method": "dense"}))
    assert local_problems("other", str(recovered)) == []
    assert local_problems("mine", str(dense)) == []
    # a pruned model recovered with LoRA, copied without its report: its manifest names the
    # pruned checkpoint it recovered, whose manifest says it was pruned
    pruned_recovered = tmp_path / "depth_mag-0.8+lora"
    modeling.save_model(small_random_model(seed=6), tokenizer, pruned_recovered,
                        extra_manifest={"lora": {"base": str(variant / "checkpoint")}})
    [problem] = local_problems("other", str(pruned_recovered))
    assert "pruned by prunebench" in problem and f"local:{dense}" in problem
