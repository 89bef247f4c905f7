"""Integrity of the files that are not weights (issue #17, items 2 and 3).

Item 2: a checkpoint's config, generation config and tokenizer change its results without
changing any shape, so the manifest records their sha256 too, and loading checks them.
Item 3: a calibration file records the sha256 of its content, and loading it checks that and
the token ids, naming the file and how to redraw it.

Every test works on a copy (tmp_path) of what it tampers with; the cached tiny checkpoint is
never modified.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from prunebench import PrunebenchError, modeling
from prunebench.checkpoint import integrity
from prunebench.data import CHECKSUM_KEY, load_windows, save_windows
from prunebench.pruning import prune_checkpoint

# 2026-01-01 00:00:00 UTC: a settled file time, whole even seconds.
SETTLED_NS = 1_767_225_600 * 1_000_000_000

BEHAVIOUR_FILES = {"config.json", "generation_config.json", "tokenizer.json",
                   "tokenizer_config.json"}


@pytest.fixture
def tokenizer(small_tokenizer):
    return small_tokenizer


@pytest.fixture
def checkpoint(tmp_path, small_random_model, tokenizer):
    """A small random checkpoint saved with a tokenizer, as every prune step saves one."""
    path = tmp_path / "ckpt"
    modeling.save_model(small_random_model(), tokenizer, path)
    # Saved a while ago, as a finished step's checkpoint is: the memo keys on mtime, and some
    # file systems (a sandbox's, a network one) still move the mtime of a file written moments
    # ago, which would make a memoised file look changed. A whole even second: exact on any.
    for file in path.rglob("*"):
        if file.is_file():
            os.utime(file, ns=(SETTLED_NS, SETTLED_NS))
    return path


def manifest_of(path: Path) -> dict:
    return json.loads((path / modeling.MANIFEST).read_text())


def edit_json(file: Path, **changes) -> None:
    data = json.loads(file.read_text())
    data.update(changes)
    file.write_text(json.dumps(data, indent=2))


def set_rope_theta(config_file: Path, theta: float) -> float:
    """Set rope_theta (nested in rope_parameters since transformers 5); the old value."""
    data = json.loads(config_file.read_text())
    holder = data["rope_parameters"] if "rope_parameters" in data else data
    old, holder["rope_theta"] = holder["rope_theta"], theta
    config_file.write_text(json.dumps(data, indent=2))
    return old


def bump_mtime(file: Path, stat: os.stat_result) -> None:
    """A write moves mtime, but a coarse file-system clock may not show it: move it explicitly,
    by 10 s (a file system keeping 2 s steps would round +1 s back), and check it moved."""
    os.utime(file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10_000_000_000))
    assert file.stat().st_mtime_ns != stat.st_mtime_ns, f"{file}: the file system kept its mtime"


# ------------------------------------------------------------------ item 2: checkpoint files

def test_save_records_config_generation_config_and_tokenizer_files(checkpoint):
    manifest = manifest_of(checkpoint)
    assert manifest["format"] == integrity.FORMAT_VERSION == 2
    assert BEHAVIOUR_FILES <= set(manifest["files_sha256"])
    assert set(manifest["weights_sha256"]) == {f.name for f in checkpoint.glob("*.safetensors")}
    assert modeling.MANIFEST not in manifest["files_sha256"]
    for name, digest in manifest["files_sha256"].items():
        assert integrity.sha256_file(checkpoint / name) == digest


def test_a_pruned_copy_keeps_its_bases_generation_config(tmp_path, small_random_model,
                                                         tokenizer):
    """A base's generation_config.json (Llama-3-Instruct's second stop token, its sampling
    defaults) was lost: the loaded model's came from config.json, and the pruned copy saved
    that one."""
    from prunebench.pruning import prune_checkpoint

    model = small_random_model()
    model.generation_config.eos_token_id = [2, 101]
    model.generation_config.do_sample, model.generation_config.temperature = True, 0.6
    base = tmp_path / "base"
    modeling.save_model(model, tokenizer, base)
    assert modeling.load_model(base).generation_config.eos_token_id == [2, 101]
    out = tmp_path / "pruned"
    prune_checkpoint(base, "depth_mag", "0.8", out, None, device="cpu",
                     params={"protect_first": 1, "protect_last": 1})
    saved = json.loads((out / "generation_config.json").read_text())
    assert saved["eos_token_id"] == [2, 101] and saved["temperature"] == 0.6
    assert saved["do_sample"] is True


def test_rope_theta_edit_that_keeps_every_shape_is_refused(tmp_path, tiny_model_dir):
    """The issue's case: rope_theta 10000 -> 500 changed perplexity and nothing was flagged."""
    copy = shutil.copytree(tiny_model_dir, tmp_path / "tiny")
    modeling.load_model(copy)  # verifies (and memoises) the untouched copy
    config = copy / "config.json"
    stat = config.stat()
    assert set_rope_theta(config, 500.0) == 10000.0
    bump_mtime(config, stat)
    # Every shape still fits: only the recorded hash can see this edit.
    modeling.load_model(copy, verify=False)
    with pytest.raises(PrunebenchError, match=r"config\.json does not match its recorded sha256"
                                              r".*re-run the step that made this checkpoint"):
        modeling.load_model(copy)


@pytest.mark.parametrize("name, change", [
    ("generation_config.json", {"do_sample": True, "temperature": 0.1}),
    ("tokenizer_config.json", {"padding_side": "right"}),
    ("tokenizer.json", {"truncation": {"direction": "Right", "max_length": 4, "strategy":
                                       "LongestFirst", "stride": 0}}),
])
def test_edited_generation_config_or_tokenizer_is_refused(checkpoint, name, change):
    edit_json(checkpoint / name, **change)
    with pytest.raises(PrunebenchError, match=f"{name} does not match its recorded sha256"):
        modeling.load_model(checkpoint)
    # Jobs that read only the tokenizer (calibration) are stopped too.
    with pytest.raises(PrunebenchError, match=f"{name} does not match"):
        modeling.load_tokenizer(checkpoint)


@pytest.mark.parametrize("name, content", [
    ("special_tokens_map.json", {"pad_token": "<unk>"}),
    ("added_tokens.json", {"<extra>": 600}),
    ("chat_template.jinja", "{{ messages }}"),
    ("tokenizer.model", "not a real SentencePiece model"),
])
def test_a_defining_file_added_after_the_save_is_refused(checkpoint, name, content):
    """Every file the manifest names is verified; one transformers reads that was added later (a
    special-tokens map, a chat template) is read at load just the same and changes what the
    checkpoint computes."""
    (checkpoint / name).write_text(content if isinstance(content, str) else json.dumps(content))
    for load in (modeling.load_model, modeling.load_tokenizer):
        with pytest.raises(PrunebenchError, match=f"{name} is not in its prunebench.json.*"
                                                  "move it out of the folder"):
            load(checkpoint)
    (checkpoint / name).unlink()
    modeling.load_model(checkpoint)


def test_files_that_define_nothing_may_be_added_beside_a_checkpoint(checkpoint):
    for name in ("README.md", "notes.log", ".hidden.json", "notes.txt", "LICENSE.txt",
                 "eval_results.json", "trainer_state.json", "requirements.txt", "helper.py"):
        (checkpoint / name).write_text("x")
    (checkpoint / ".cache").mkdir()
    (checkpoint / ".cache" / "download.json").write_text("{}")
    modeling.load_model(checkpoint)


def test_a_format_1_manifest_names_no_files_so_none_counts_as_added(checkpoint):
    manifest = manifest_of(checkpoint)
    (checkpoint / modeling.MANIFEST).write_text(json.dumps(
        {"format": 1, "weights_sha256": manifest["weights_sha256"]}))
    (checkpoint / "special_tokens_map.json").write_text("{}")
    modeling.load_model(checkpoint)


def test_deleted_tokenizer_file_is_named(checkpoint):
    (checkpoint / "tokenizer.json").unlink()
    with pytest.raises(PrunebenchError, match="tokenizer.json is missing; re-run the step"):
        modeling.load_tokenizer(checkpoint)


def test_tokenizer_check_hashes_no_weights(checkpoint, monkeypatch):
    monkeypatch.setenv("PRUNEBENCH_VERIFY", "full")
    hashed = []
    real = integrity.sha256_file
    monkeypatch.setattr(integrity, "sha256_file", lambda path: hashed.append(path.name) or real(path))
    assert modeling.load_tokenizer(checkpoint) is not None
    assert hashed and not [name for name in hashed if name.endswith(".safetensors")]
    assert "tokenizer.json" in hashed and "config.json" in hashed


def test_memo_covers_the_small_files(checkpoint, monkeypatch):
    config = checkpoint / "config.json"
    modeling.load_model(checkpoint)
    memo = json.loads(integrity._memo_file(checkpoint).read_text())
    assert BEHAVIOUR_FILES <= set(memo)
    # Verified and unchanged: a second load hashes nothing.
    hashed = []
    real = integrity.sha256_file
    monkeypatch.setattr(integrity, "sha256_file", lambda path: hashed.append(path.name) or real(path))
    modeling.load_model(checkpoint)
    assert hashed == []
    # An edit of the same size moves mtime: hashed again and refused despite the memo.
    stat = config.stat()
    text = config.read_text()
    assert '"rms_norm_eps": 1e-05' in text
    config.write_text(text.replace('"rms_norm_eps": 1e-05', '"rms_norm_eps": 1e-01'))
    assert config.stat().st_size == stat.st_size
    bump_mtime(config, stat)
    with pytest.raises(PrunebenchError, match="config.json does not match"):
        modeling.load_model(checkpoint)
    # With size, inode and mtime restored the memo cannot see it; the paranoid mode can.
    os.utime(config, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    monkeypatch.setenv("PRUNEBENCH_VERIFY", "full")
    with pytest.raises(PrunebenchError, match="config.json does not match"):
        modeling.load_model(checkpoint)


def test_a_tokenizer_check_keeps_the_weights_in_the_memo(checkpoint, monkeypatch):
    modeling.load_model(checkpoint)
    memo_file = integrity._memo_file(checkpoint)
    memo_file.unlink()
    modeling.load_tokenizer(checkpoint)  # checks (and memoises) the small files only
    hashed = []
    real = integrity.sha256_file
    monkeypatch.setattr(integrity, "sha256_file", lambda path: hashed.append(path.name) or real(path))
    modeling.load_model(checkpoint)
    assert hashed and all(name.endswith(".safetensors") for name in hashed)
    hashed.clear()
    modeling.load_tokenizer(checkpoint)
    modeling.load_model(checkpoint)
    assert hashed == []  # the tokenizer check did not drop the weights' memo entries


def test_previous_manifest_format_still_loads_and_checks_its_weights(checkpoint):
    manifest = manifest_of(checkpoint)
    (checkpoint / modeling.MANIFEST).write_text(json.dumps(
        {"format": 1, "weights_sha256": manifest["weights_sha256"]}))
    modeling.load_model(checkpoint)
    assert modeling.load_tokenizer(checkpoint) is not None
    # Format 1 records no config hash: a shape-keeping edit is not seen (why format 2 exists) ...
    set_rope_theta(checkpoint / "config.json", 500.0)
    modeling.load_model(checkpoint)
    # ... but its weights are still verified.
    file = next(checkpoint.glob("*.safetensors"))
    stat = file.stat()
    data = bytearray(file.read_bytes())
    data[-1] ^= 0xFF
    file.write_bytes(bytes(data))
    bump_mtime(file, stat)
    with pytest.raises(PrunebenchError, match=f"weight file {file.name} does not match"):
        modeling.load_model(checkpoint)


def test_hub_download_manifest_covers_config_and_tokenizer(tmp_path, checkpoint):
    """workflow/scripts/model.py writes a downloaded model's manifest with
    modeling.write_manifest; a download folder also holds huggingface_hub's .cache/."""
    download = shutil.copytree(checkpoint, tmp_path / ".m.download")
    (download / modeling.MANIFEST).unlink()
    bookkeeping = download / ".cache" / "huggingface" / "download"
    bookkeeping.mkdir(parents=True)
    (bookkeeping / "config.json.metadata").write_text("abc\n")
    keys = modeling.load_state_dict(download)
    (download / "model.safetensors.index.json").write_text(json.dumps(
        {"weight_map": {k: "model.safetensors" for k in keys}}))
    modeling.write_manifest(download, {"source": "hf:org/model@rev"})
    manifest = manifest_of(download)
    assert manifest["source"] == "hf:org/model@rev"
    assert BEHAVIOUR_FILES | {"model.safetensors.index.json"} == set(manifest["files_sha256"])
    modeling.load_model(download)
    set_rope_theta(download / "config.json", 500.0)
    with pytest.raises(PrunebenchError, match="config.json does not match"):
        modeling.load_model(download)


@pytest.mark.parametrize("files", [["not a map"], {"config.json": 5}])
def test_malformed_file_records_are_an_unreadable_manifest(checkpoint, files):
    manifest = manifest_of(checkpoint)
    manifest["files_sha256"] = files
    (checkpoint / modeling.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(PrunebenchError, match="prunebench.json is unreadable"):
        modeling.load_model(checkpoint)


# -------------------------------------------------------------------- item 3: calibration files

VOCAB = 128


def ids(n: int = 4, length: int = 16) -> torch.Tensor:
    return torch.randint(3, 100, (n, length), generator=torch.Generator().manual_seed(0))


@pytest.fixture
def calibration_file(tmp_path) -> Path:
    path = tmp_path / "embedded-4x16-seed1234.safetensors"
    save_windows(ids(), path, {"source": "embedded", "n": 4, "length": 16, "seed": 1234})
    return path


def overwrite_tail(path: Path, data: bytes) -> None:
    """Overwrite the last bytes (the last token id, little-endian int64) in place."""
    raw = bytearray(path.read_bytes())
    raw[-len(data):] = data
    path.write_bytes(bytes(raw))


def redraw_message(path: Path) -> str:
    return rf"{path.name} .*delete it and rerun snakemake.*snakemake --cores all .*{path.name}"


def test_windows_record_their_sha256_and_round_trip(calibration_file):
    from safetensors import safe_open

    with safe_open(str(calibration_file), framework="pt") as fh:
        assert len(fh.metadata()[CHECKSUM_KEY]) == 64
    loaded, meta = load_windows(calibration_file, vocab_size=VOCAB)
    assert torch.equal(loaded, ids())
    assert meta == {"source": "embedded", "n": "4", "length": "16", "seed": "1234"}


@pytest.mark.parametrize("tail", [b"\xff" * 8, (50).to_bytes(8, "little")],
                         ids=["id -1", "id 50"])
def test_overwritten_bytes_are_refused_with_the_file_named(calibration_file, tail):
    """-1 (caught by the id check too) and 50 (a valid id: only the hash sees it)."""
    assert ids()[-1, -1].item() != 50
    overwrite_tail(calibration_file, tail)
    with pytest.raises(PrunebenchError, match="does not match its recorded sha256"):
        load_windows(calibration_file, vocab_size=VOCAB)
    with pytest.raises(PrunebenchError, match=redraw_message(calibration_file)):
        load_windows(calibration_file)


def test_the_redraw_command_repeats_the_runs_directory_and_config_files(calibration_file,
                                                                         monkeypatch):
    """In a job of a run with --directory and its own config, the command said to redraw the
    file named it alone, which typed in the checkout reads the default config there."""
    from prunebench.plan import layout

    run = "--directory /data/runs/paper --configfile /checkout/config/paper.yaml"
    monkeypatch.setenv(layout.RERUN_CONFIG_VARIABLE, run)
    monkeypatch.delenv(layout.RERUN_PROGRAM_VARIABLE, raising=False)
    overwrite_tail(calibration_file, (50).to_bytes(8, "little"))
    with pytest.raises(PrunebenchError) as err:
        load_windows(calibration_file)
    assert f"(`snakemake --cores all {calibration_file} {run}` redraws just this file)" in str(
        err.value)


def test_edited_metadata_is_refused(calibration_file):
    raw = calibration_file.read_bytes()
    assert raw.count(b'"seed":"1234"') == 1
    calibration_file.write_bytes(raw.replace(b'"seed":"1234"', b'"seed":"4321"'))
    with pytest.raises(PrunebenchError, match="does not match its recorded sha256"):
        load_windows(calibration_file)


@pytest.mark.parametrize("keep", [0, 5, 100, 0.5])
def test_truncated_file_is_refused_with_the_file_named(calibration_file, keep):
    raw = calibration_file.read_bytes()
    calibration_file.write_bytes(raw[: int(len(raw) * keep) if isinstance(keep, float) else keep])
    with pytest.raises(PrunebenchError, match=r"is not readable safetensors") as err:
        load_windows(calibration_file)
    assert str(calibration_file) in str(err.value) and "delete it and rerun snakemake" in str(err.value)


def test_file_without_the_windows_tensor_is_refused(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"something_else": ids()}, str(path))
    with pytest.raises(PrunebenchError, match=redraw_message(path)):
        load_windows(path)


def previous_version_file(path: Path, windows: torch.Tensor) -> Path:
    """What save_windows wrote before the checksum."""
    save_file({"input_ids": windows.contiguous()}, str(path),
              metadata={"source": "embedded", "seed": "1234"})
    return path


def test_previous_version_file_loads_without_a_checksum(tmp_path):
    path = previous_version_file(tmp_path / "old.safetensors", ids())
    loaded, meta = load_windows(path, vocab_size=VOCAB)
    assert torch.equal(loaded, ids()) and meta == {"source": "embedded", "seed": "1234"}


@pytest.mark.parametrize("tail, message", [
    ((1 << 16).to_bytes(8, "little"), f"token id 65536, outside the model's vocabulary of {VOCAB}"),
    (b"\xff" * 8, "token id -1, which is negative"),
], ids=["too large", "negative"])
def test_previous_version_file_gets_the_vocabulary_check(tmp_path, tail, message):
    path = previous_version_file(tmp_path / "old.safetensors", ids())
    overwrite_tail(path, tail)
    with pytest.raises(PrunebenchError, match=message) as err:
        load_windows(path, vocab_size=VOCAB)
    assert str(path) in str(err.value) and "delete it and rerun snakemake" in str(err.value)


def test_float_windows_are_refused(tmp_path):
    path = previous_version_file(tmp_path / "old.safetensors", ids().float())
    with pytest.raises(PrunebenchError, match=r"holds a float32 tensor of shape \(4, 16\)"):
        load_windows(path)


def test_out_of_vocabulary_windows_stop_pruning_before_the_model(tmp_path, small_random_model):
    """Before the fix: `IndexError: index out of range in self` deep inside the model."""
    checkpoint = tmp_path / "ckpt"
    modeling.save_model(small_random_model(), None, checkpoint)
    windows = ids()
    windows[0, 0] = VOCAB
    with pytest.raises(PrunebenchError, match=f"token id {VOCAB}, outside the model's vocabulary "
                                              f"of {VOCAB}.*delete the calibration file"):
        prune_checkpoint(checkpoint, "depth_ppl", "0.8", tmp_path / "out", windows, device="cpu")
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------- a checkpoint without manifest

def test_own_checkpoint_without_manifest_loads_with_one_warning(checkpoint, caplog):
    """A folder of the user's own (`prunebench bench DIR`) may come from anywhere: it loads, and
    the log says that nothing was verified (it used to say nothing)."""
    (checkpoint / modeling.MANIFEST).unlink()
    with caplog.at_level(logging.WARNING, logger="prunebench"):
        modeling.load_model(checkpoint)
        modeling.load_tokenizer(checkpoint)
    warnings = [r.getMessage() for r in caplog.records if modeling.MANIFEST in r.getMessage()]
    assert len(warnings) == 1, warnings  # once per folder, though weights and tokenizer load
    assert f"checkpoint {checkpoint} has no {modeling.MANIFEST}" in warnings[0]
    assert "not verified" in warnings[0] and "loads as it is" in warnings[0]


@pytest.mark.parametrize("where", ["resources/models/tiny",
                                   "results/pruned/tiny/depth_ppl-0.8/checkpoint"])
@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
def test_workflow_checkpoint_without_manifest_is_refused(checkpoint, tmp_path, monkeypatch,
                                                         where, relative):
    """The workflow writes a manifest into every checkpoint it puts there, so one without was put
    there otherwise, and its files cannot be trusted: refused, by every kind of load."""
    project = tmp_path / "project"
    folder = project / where
    folder.parent.mkdir(parents=True)
    checkpoint.rename(folder)
    modeling.load_tokenizer(folder)  # with its manifest, the same place is fine
    (folder / modeling.MANIFEST).unlink()
    if relative:
        monkeypatch.chdir(project)
        folder = Path(where)
    for load in (modeling.load_model, modeling.load_tokenizer):
        with pytest.raises(PrunebenchError) as info:
            load(folder)
        assert f"checkpoint {folder} has no {modeling.MANIFEST}" in str(info.value)
        assert "delete the folder and rerun snakemake, which makes it again" in str(info.value)


def test_a_saved_checkpoint_is_not_hashed_again_at_its_first_load(tmp_path, small_random_model,
                                                                 tokenizer, monkeypatch):
    """The save hashed every file for the manifest; the rename into place keeps size, inode and
    modification time, so the first load verifies from the memo. (The modification time is
    left out of the stat key here: some file systems move it a moment after a write, which
    only costs a hash, and would make this test depend on the file system.)"""
    monkeypatch.setattr(integrity, "_stat_key",
                        lambda file: [file.stat().st_size, file.stat().st_ino, 0])
    hashed = []
    real = integrity.sha256_file
    monkeypatch.setattr(integrity, "sha256_file", lambda path: hashed.append(path.name) or real(path))
    path = tmp_path / "ckpt"
    modeling.save_model(small_random_model(), tokenizer, path)
    recorded = manifest_of(path)
    assert set(hashed) == {*recorded["weights_sha256"], *recorded["files_sha256"]}
    memo = json.loads(integrity._memo_file(path).read_text())
    assert {name: entry[3] for name, entry in memo.items()} == {
        **recorded["weights_sha256"], **recorded["files_sha256"]}
    hashed.clear()
    modeling.load_model(path)
    assert modeling.load_tokenizer(path) is not None
    assert hashed == []
    # A file no longer as it was hashed (another inode here) is left out of the memo.
    integrity.remember_verified(path, {"config.json": [1, 2, 0, "0" * 64]})
    assert json.loads(integrity._memo_file(path).read_text()) == memo


def test_the_paranoid_mode_memoises_no_save(tmp_path, small_random_model, tokenizer, monkeypatch):
    monkeypatch.setenv("PRUNEBENCH_VERIFY", "full")
    path = tmp_path / "ckpt"
    modeling.save_model(small_random_model(), tokenizer, path)
    assert not integrity._memo_file(path).exists()
