"""Hub downloads: each failure a user can fix gives a message saying what to do.

The hub is unreachable here, so huggingface_hub's own exception types are raised by a fake.
"""
import hashlib
import json
import logging
import re
import types
from pathlib import Path

import huggingface_hub
import pytest
from huggingface_hub import errors

from prunebench import PrunebenchError
from prunebench.hub import download, downloaded_commit, parse_source


def hub_error(cls, message="error"):
    err = cls.__new__(cls)  # these need an HTTP response to construct normally
    err.args = (message,)
    return err


@pytest.mark.parametrize("cls, expected", [
    (errors.GatedRepoError, "is gated: accept its licence"),
    (errors.RepositoryNotFoundError, "not found"),
    (errors.RevisionNotFoundError, "has no revision"),
    (errors.LocalEntryNotFoundError, "offline"),
])
def test_hub_errors_are_explained(monkeypatch, tmp_path, cls, expected):
    def fake_snapshot_download(**kwargs):
        raise hub_error(cls)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    with pytest.raises(PrunebenchError, match=expected):
        download("org/model", "abc123", tmp_path / "model")
    assert not (tmp_path / "model").exists()


def recorded_download(monkeypatch, folder) -> dict:
    """snapshot_download replaced by one that writes a weights file into `folder`; the dict
    it returns fills with the arguments of the call."""
    seen = {}

    def fake_snapshot_download(**kwargs):
        seen.update(kwargs)
        (folder / "model.safetensors").write_bytes(b"")
        return str(folder)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    return seen


def test_token_comes_from_environment_and_is_never_logged(monkeypatch, tmp_path, caplog):
    seen = recorded_download(monkeypatch, tmp_path)
    monkeypatch.setenv("HF_TOKEN", "hf_secret_value_123")
    with caplog.at_level(logging.DEBUG):
        download("org/model", "abc123", tmp_path)
    assert seen["token"] == "hf_secret_value_123"
    assert seen["revision"] == "abc123"
    assert all(not p.endswith(".bin") for p in seen["allow_patterns"])  # never pickle
    # nor the weights of another layout beside transformers' shards (Mistral's)
    assert "consolidated*.safetensors" in seen["ignore_patterns"]
    from prunebench.hub import _fetched

    assert not _fetched("consolidated.safetensors")
    assert _fetched("model-00001-of-00003.safetensors") and _fetched("config.json")
    # a chat template saved by a recent transformers is that file alone: a download (and every
    # pruned copy) lost it, where a `local:` import kept it
    assert _fetched("chat_template.jinja")
    from prunebench.checkpoint.local_import import CHECKPOINT_FILES

    assert "chat_template.jinja" in CHECKPOINT_FILES
    assert "hf_secret_value_123" not in caplog.text


def test_without_hf_token_no_saved_token_is_sent(monkeypatch, tmp_path):
    """huggingface_hub would send a token saved by `hf auth login` when given None: prunebench
    passes False, so tokens come from the environment only."""
    seen = recorded_download(monkeypatch, tmp_path)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    download("org/model", "abc123", tmp_path)
    assert seen["token"] is False


def test_plan_fetches_a_config_with_the_environments_token_only(monkeypatch, tmp_path):
    from prunebench import cli

    asked = []

    def fake_hf_hub_download(repo_id, filename, revision=None, token=None):
        asked.append(token)
        raise OSError("offline")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_hf_hub_download)
    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda *a, **k: None)
    monkeypatch.setattr(cli, "hub_reachable", lambda: True)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    cli.hub_config("m", "huggyllama/llama-7b", None, tmp_path)  # falls back to the known shape
    monkeypatch.setenv("HF_TOKEN", "hf_secret_value_123")
    cli.hub_config("m", "huggyllama/llama-7b", None, tmp_path)
    assert asked == [False, "hf_secret_value_123"]


@pytest.mark.parametrize("value", ["hf_secret_value_123\n", " hf_secret_value_123\r\n"])
def test_a_token_with_a_line_end_is_sent_without_it(monkeypatch, tmp_path, value):
    """A token read from a secret file often ends in a newline: sent as it is, the HTTP header
    fails on the client, which looked like an offline machine."""
    seen = recorded_download(monkeypatch, tmp_path)
    monkeypatch.setenv("HF_TOKEN", value)
    download("org/model", "abc123", tmp_path)
    assert seen["token"] == "hf_secret_value_123"


@pytest.mark.parametrize("value", ["hf_secret value", "hf_secret\x1bvalue"])
def test_a_token_with_whitespace_inside_is_refused_without_showing_it(monkeypatch, tmp_path,
                                                                       value):
    monkeypatch.setattr(huggingface_hub, "snapshot_download",
                        lambda **kw: pytest.fail("downloaded with a broken token"))
    monkeypatch.setenv("HF_TOKEN", value)
    with pytest.raises(PrunebenchError, match="HF_TOKEN holds a space or a control character") \
            as info:
        download("org/model", "abc123", tmp_path / "model")
    assert "secret" not in str(info.value)


def test_repository_without_any_weights_is_refused(monkeypatch, tmp_path):
    from prunebench import hub

    monkeypatch.setattr(hub, "hub_reachable", lambda: True)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda **kw: str(tmp_path))
    with pytest.raises(PrunebenchError, match="neither safetensors nor pytorch_model"):
        download("org/model", None, tmp_path)


def test_an_offline_download_that_returns_its_empty_folder_says_offline(monkeypatch, tmp_path):
    """huggingface_hub, offline, returns an existing local_dir as it is instead of failing
    (the hub gone between resolving the revision and the download)."""
    from prunebench import hub

    monkeypatch.setattr(hub, "hub_reachable", lambda: False)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda **kw: kw["local_dir"])
    with pytest.raises(PrunebenchError, match="offline") as info:
        download("org/model", "abc123", tmp_path / "model")
    assert "neither safetensors" not in str(info.value)
    assert not (tmp_path / "model").exists()  # nothing arrived: no folder left


@pytest.mark.parametrize("error", [ConnectionError("connection refused"),
                                   errors.OfflineModeIsEnabled("HF_HUB_OFFLINE=1")])
def test_resolving_the_revision_offline_says_offline(monkeypatch, tmp_path, error):
    """The first call to the hub (model_info, which resolves the revision) fails offline."""
    def unreachable(*args, **kwargs):
        raise error

    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", unreachable)
    monkeypatch.setattr(huggingface_hub, "snapshot_download",
                        lambda **kw: pytest.fail("downloaded without a resolved revision"))
    with pytest.raises(PrunebenchError, match="cannot reach the Hugging Face hub|offline"):
        download("org/model", "main", tmp_path / "model")
    assert not (tmp_path / "model").exists()  # nothing arrived: no folder left


def test_listed_safetensors_that_did_not_arrive_are_a_retry_not_a_missing_format(monkeypatch,
                                                                                 tmp_path):
    """huggingface_hub returns the folder as it is when listing the files fails (HTTP 429 or
    5xx): the hub listed safetensors, so this is no repository without them."""
    from prunebench import ResourceError, hub

    monkeypatch.setattr(hub, "hub_reachable", lambda: True)  # reachable, but it failed
    listing = types.SimpleNamespace(sha="4782ad278652c7c71b72204d462d6d01eaaf7549", siblings=[
        types.SimpleNamespace(rfilename="model.safetensors",
                              lfs=types.SimpleNamespace(sha256="0" * 64))])
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", lambda *a, **k: listing)
    monkeypatch.setattr(huggingface_hub.HfApi, "list_repo_tree",
                        lambda *a, **k: [types.SimpleNamespace(path="model.safetensors")])
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda **kw: kw["local_dir"])
    with pytest.raises(ResourceError, match="lists 1 safetensors file.*none arrived.*rerun"):
        download("org/model", "main", tmp_path / "model")


@pytest.mark.parametrize("source, kind, name, revision", [
    ("tiny", "tiny", None, None),
    ("hf:huggyllama/llama-7b@8416d3f", "hf", "huggyllama/llama-7b", "8416d3f"),
    ("hf:lmsys/vicuna-13b-v1.3", "hf", "lmsys/vicuna-13b-v1.3", None),
    ("random:llama-7b", "random", "llama-7b", None),
])
def test_parse_source(source, kind, name, revision):
    parsed = parse_source(source)
    assert (parsed.kind, parsed.name, parsed.revision) == (kind, name, revision)


@pytest.mark.parametrize("source", ["hf:", "huggyllama/llama-7b", "random", "tiny:big",
                                    "hf:/x@y", "hf:org//repo", "hf:org/re po"])
def test_malformed_sources_are_refused(source):
    with pytest.raises(PrunebenchError, match="model source"):
        parse_source(source)


# --------------------------------------------------------------------------- issue 7 additions

@pytest.fixture(autouse=True)
def fake_hub_records(monkeypatch):
    """The hub's per-file sha256 records (model_info) and file list (list_repo_tree), faked
    from the files the fake download wrote, so verification runs offline; `corrupt` names files
    whose record differs, `unlisted` files in the folder that the repository does not have,
    `extra` files the repository has that the download did not bring, `truncated` a
    model_info whose `siblings` holds the weights alone (the hub's caches cut it short)."""
    from prunebench.checkpoint.integrity import sha256_file

    state = {"dir": None, "corrupt": set(), "calls": 0, "unlisted": set(), "sha": None,
             "extra": set(), "truncated": False, "tree_error": None}

    def repository_files():
        files = sorted(p for p in state["dir"].iterdir()
                       if p.is_file() and not p.name.startswith(".")) if state["dir"] else []
        return [f for f in files if f.name not in state["unlisted"]
                and f.name != "prunebench.json"]  # prunebench's, not the repository's

    class Info:
        """What model_info returns: the commit now, and the files' records read when asked
        (prunebench asks for them before the download and reads them after it)."""

        def __init__(self):
            self.sha = state["sha"]

        @property
        def siblings(self):
            siblings = []
            for file in repository_files():
                if state["truncated"] and file.suffix not in (".safetensors", ".bin"):
                    continue
                lfs = None  # the hub records a sha256 for its large (LFS) files: the weights
                if file.suffix in (".safetensors", ".bin"):
                    digest = "0" * 64 if file.name in state["corrupt"] else sha256_file(file)
                    lfs = types.SimpleNamespace(sha256=digest)
                siblings.append(types.SimpleNamespace(rfilename=file.name, lfs=lfs))
            return siblings

    def fake_model_info(self, repo_id, revision=None, files_metadata=False, token=None, **kw):
        state["calls"] += 1
        return Info()

    def fake_list_repo_tree(self, repo_id, path_in_repo=None, *, recursive=False, revision=None,
                            token=None, **kw):
        if state["tree_error"] is not None:
            raise state["tree_error"]
        names = {f.name for f in repository_files()} | state["extra"]
        return [types.SimpleNamespace(path=name) for name in sorted(names)]

    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", fake_model_info)
    monkeypatch.setattr(huggingface_hub.HfApi, "list_repo_tree", fake_list_repo_tree)
    return state


def test_download_is_verified_against_the_hubs_sha256(monkeypatch, tmp_path, fake_hub_records):
    fake_hub_records["dir"] = tmp_path
    watching_download(monkeypatch, tmp_path, {"model-1.safetensors": b"abc",
                                              "model-2.safetensors": b"def"})
    assert download("org/model", "abc123", tmp_path) == tmp_path
    assert fake_hub_records["calls"] == 1

    fake_hub_records["corrupt"] = {"model-2.safetensors"}
    with pytest.raises(PrunebenchError, match="model-2.safetensors does not match the hub's sha256"):
        download("org/model", "abc123", tmp_path)
    # The corrupt file is gone, so the rerun the message asks for downloads it again.
    assert not (tmp_path / "model-2.safetensors").exists()
    assert (tmp_path / "model-1.safetensors").exists()


@pytest.mark.parametrize("revision", [None, "main"])
def test_an_unpinned_download_records_the_commit_it_got(monkeypatch, tmp_path, fake_hub_records,
                                                         revision):
    """A source without @<commit> names no commit; the manifest, and the record a pruned
    checkpoint keeps of its base, name the one the hub served."""
    from prunebench.checkpoint.integrity import MANIFEST, base_record
    from prunebench.modeling import write_manifest

    fake_hub_records.update(dir=tmp_path, sha="4782ad278652c7c71b72204d462d6d01eaaf7549")
    watching_download(monkeypatch, tmp_path, {"model.safetensors": b"abc"})
    download("org/model", revision, tmp_path)
    write_manifest(tmp_path, {"source": "hf:org/model"})
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["hub_commit"] == fake_hub_records["sha"]
    assert base_record(tmp_path)["hub_commit"] == fake_hub_records["sha"]


@pytest.mark.parametrize("revision", [None, "main", "4782ad2"])
def test_the_files_come_from_the_commit_that_is_recorded(monkeypatch, tmp_path, fake_hub_records,
                                                          revision):
    """The revision is resolved to a commit before the download, and the download asks for
    that commit: a branch moving meanwhile cannot mix two commits' files or record another."""
    sha = "4782ad278652c7c71b72204d462d6d01eaaf7549"
    fake_hub_records.update(dir=tmp_path, sha=sha)
    seen = recorded_download(monkeypatch, tmp_path)
    download("org/model", revision, tmp_path)
    assert seen["revision"] == sha
    assert fake_hub_records["calls"] == 1  # one record for the download and its verification
    assert downloaded_commit(tmp_path) == sha


def test_pickle_weights_come_from_the_commit_that_is_recorded(monkeypatch, tmp_path,
                                                               fake_hub_records):
    sha = "4782ad278652c7c71b72204d462d6d01eaaf7549"
    fake_hub_records.update(dir=tmp_path, sha=sha)
    import torch

    revisions = fake_pickle_repo(monkeypatch, tmp_path, {"w": torch.ones(2)}, fake_hub_records)
    download("org/model", "main", tmp_path)
    assert revisions and set(revisions) == {sha}
    assert downloaded_commit(tmp_path) == sha


def test_a_manifest_without_a_hub_download_names_no_commit(tmp_path):
    from prunebench.checkpoint.integrity import MANIFEST
    from prunebench.modeling import write_manifest

    (tmp_path / "model.safetensors").write_bytes(b"abc")
    write_manifest(tmp_path, {"source": "random:llama-7b"})
    assert "hub_commit" not in json.loads((tmp_path / MANIFEST).read_text())


def interrupted_download(monkeypatch, folder, repo_id, revision):
    """A download of repo_id@revision into `folder` that breaks off after its first shard."""
    def breaks_off(**kwargs):
        (folder / "model-00001-of-00002.safetensors").write_bytes(b"old")
        raise ConnectionError("connection reset")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", breaks_off)
    with pytest.raises(PrunebenchError):
        download(repo_id, revision, folder)
    assert (folder / "model-00001-of-00002.safetensors").exists()  # kept for a resume


def watching_download(monkeypatch, folder, files) -> list:
    """snapshot_download replaced by one that notes the folder's files when it starts, then
    writes `files`; returns the list it notes into."""
    seen = []

    def fake_snapshot_download(**kwargs):
        seen.append(sorted(p.name for p in folder.glob("*.safetensors")))
        for name, data in files.items():
            (folder / name).write_bytes(data)
        return str(folder)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    return seen


def test_a_broken_off_download_resumes_for_the_same_source(monkeypatch, tmp_path,
                                                           fake_hub_records):
    folder = tmp_path / ".model.download"
    fake_hub_records["dir"] = folder
    interrupted_download(monkeypatch, folder, "org/model", "abc123")
    seen = watching_download(monkeypatch, folder, {"model-00002-of-00002.safetensors": b"b"})
    download("org/model", "abc123", folder)
    assert seen == [["model-00001-of-00002.safetensors"]]  # the first shard was not fetched again


@pytest.mark.parametrize("repo_id, revision", [("org/other", "abc123"), ("org/model", "def456"),
                                               ("org/model", None)])
def test_a_broken_off_download_of_another_source_is_not_resumed(monkeypatch, tmp_path, caplog,
                                                                fake_hub_records, repo_id,
                                                                revision):
    """The config's source changed after a download broke off: none of the old source's files
    may stay (a leftover shard would load over the new model's tensors of the same names)."""
    folder = tmp_path / ".model.download"
    fake_hub_records["dir"] = folder
    interrupted_download(monkeypatch, folder, "org/model", "abc123")
    seen = watching_download(monkeypatch, folder, {"model.safetensors": b"new"})
    with caplog.at_level(logging.WARNING, logger="prunebench.hub"):
        download(repo_id, revision, folder)
    assert seen == [[]]
    assert sorted(p.name for p in folder.glob("*.safetensors")) == ["model.safetensors"]
    assert "broken-off download of another source" in caplog.text
    assert json.loads((folder / ".prunebench-download.json").read_text()) == {
        "repo_id": repo_id, "revision": revision}


def test_a_shard_the_repository_no_longer_has_is_deleted_not_loaded(monkeypatch, tmp_path,
                                                                    fake_hub_records, caplog):
    """An unpinned source ('main') resumed after the branch moved: the shard of the old commit
    that the new one lacks would load over the new tensors of the same names."""
    folder = tmp_path / ".model.download"
    fake_hub_records["dir"] = folder
    interrupted_download(monkeypatch, folder, "org/model", None)
    fake_hub_records["unlisted"] = {"model-00001-of-00002.safetensors"}
    watching_download(monkeypatch, folder, {"model.safetensors": b"new"})
    with caplog.at_level(logging.WARNING, logger="prunebench.hub"):
        download("org/model", None, folder)
    assert sorted(p.name for p in folder.glob("*.safetensors")) == ["model.safetensors"]
    assert "model-00001-of-00002.safetensors is not in org/model@main" in caplog.text


def test_files_of_an_older_commit_are_deleted_not_read(monkeypatch, tmp_path, fake_hub_records,
                                                       caplog):
    """The branch moved from a sharded commit to a one-file one while the download was broken
    off: the old shard index would name shards that are gone, the old tokenizer file would be
    read instead of the new commit's. The files the commit has and the manifest stay."""
    folder = tmp_path / ".model.download"
    fake_hub_records["dir"] = folder
    interrupted_download(monkeypatch, folder, "org/model", None)
    for name in ("model.safetensors.index.json", "tokenizer.model", "notes.md"):
        (folder / name).write_text("old")
    (folder / "prunebench.json").write_text("{}")  # a manifest written before a kill
    stale = {"model-00001-of-00002.safetensors", "model.safetensors.index.json",
             "tokenizer.model"}
    fake_hub_records["unlisted"] = stale | {"notes.md"}
    watching_download(monkeypatch, folder, {"model.safetensors": b"new", "config.json": b"{}",
                                            "tokenizer.json": b"{}"})
    with caplog.at_level(logging.WARNING, logger="prunebench.hub"):
        download("org/model", None, folder)
    kept = {p.name for p in folder.iterdir() if not p.name.startswith(".")}
    assert kept == {"model.safetensors", "config.json", "tokenizer.json", "prunebench.json",
                    "notes.md"}  # notes.md: no pattern the download fetches, so not its file
    for name in stale:
        assert f"{name} is not in org/model@main" in caplog.text


def hub_repository(monkeypatch, folder, remote: dict) -> list:
    """snapshot_download replaced by one that fetches the files of a repository holding
    `remote` ({path in the repository: bytes}, subfolders too) into `folder` as huggingface_hub
    chooses them: its own filter_repo_objects over every path (the tree is listed
    recursively), a file fetched when it is not in the folder yet. The hub's records
    (fake_hub_records) list the repository's top-level files. Returns the paths fetched."""
    from huggingface_hub.utils import filter_repo_objects

    fetched = []

    def fake_snapshot_download(allow_patterns=None, ignore_patterns=None, **kwargs):
        for name in filter_repo_objects(remote, allow_patterns=allow_patterns,
                                        ignore_patterns=ignore_patterns):
            target = folder / name
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(remote[name])
                fetched.append(name)
        return str(folder)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    return fetched


def test_only_the_repositorys_top_level_files_are_downloaded(monkeypatch, tmp_path,
                                                             fake_hub_records):
    """huggingface_hub matches the patterns against paths with fnmatch, whose `*` matches '/':
    `*.safetensors` and `*.json` fetched a repository's `original/` and other-precision copies
    of the weights too (tens of GB). The checkpoint is the top-level files, and the check that
    every file arrived asks for those alone."""
    fake_hub_records.update(dir=tmp_path, extra={"config.json", "model.safetensors",
                                                 "tokenizer.json", "tokenizer.model"})
    fetched = hub_repository(monkeypatch, tmp_path, {
        "config.json": b"{}", "model.safetensors": b"w", "tokenizer.json": b"{}",
        "tokenizer.model": b"sp", "original/params.json": b"{}",
        "original/tokenizer.model": b"sp", "onnx/model.safetensors": b"onnx",
        "fp8/model-00001-of-00002.safetensors": b"w8", "fp8/config.json": b"{}"})
    download("org/model", "abc123", tmp_path)
    assert sorted(fetched) == ["config.json", "model.safetensors", "tokenizer.json",
                               "tokenizer.model"]
    assert not [p for p in tmp_path.iterdir() if p.is_dir() and not p.name.startswith(".")]


def test_a_pickle_repository_downloads_no_subfolder_either(monkeypatch, tmp_path,
                                                            fake_hub_records):
    import io

    import torch

    pickle = io.BytesIO()
    torch.save({"w": torch.ones(2)}, pickle)
    fake_hub_records.update(dir=tmp_path, extra={"config.json", "pytorch_model.bin"})
    fetched = hub_repository(monkeypatch, tmp_path, {
        "config.json": b"{}", "pytorch_model.bin": pickle.getvalue(),
        "pytorch_model_fp16/pytorch_model.bin": pickle.getvalue(),
        "original/config.json": b"{}"})
    download("org/old-model", "abc123", tmp_path)
    assert sorted(fetched) == ["config.json", "pytorch_model.bin"]


def code_repository(tmp_path, save_tokenizer_with_own_code) -> dict:
    """A hub repository whose tokenizer is a class of its own, in tokenization_mine.py (a
    modeling file and a subfolder's code beside it): {path: bytes}."""
    repository = tmp_path / "repository"
    save_tokenizer_with_own_code(repository)
    (repository / "modeling_mine.py").write_text("raise SystemExit('model code ran')\n")
    (repository / "model.safetensors").write_bytes(b"w")
    remote = {f.name: f.read_bytes() for f in repository.iterdir()}
    return {**remote, "scripts/convert.py": b"print('a subfolder is no checkpoint')\n"}


@pytest.mark.parametrize("how", ["argument", "workflow"])
def test_with_trust_remote_code_the_code_files_are_downloaded(monkeypatch, tmp_path,
                                                              fake_hub_records,
                                                              save_tokenizer_with_own_code, how):
    """`trust_remote_code: true` lets a tokenizer of its own run, which transformers loads
    from the checkpoint's folder: a download without the repository's code files made such a
    model impossible to load. With the switch, the top-level `*.py` files come too (by the
    argument, as the commands pass --trust-remote-code, or from the workflow's config through
    the environment), the tokenizer loads offline, and its code is required like any file."""
    from prunebench import ResourceError, modeling, provenance
    from prunebench.plan.layout import TRUST_REMOTE_CODE_VARIABLE

    monkeypatch.setattr(provenance, "_REMOTE_CODE", [])
    remote = code_repository(tmp_path, save_tokenizer_with_own_code)
    folder = tmp_path / "download"
    folder.mkdir()
    fake_hub_records.update(dir=folder, extra={name for name in remote if "/" not in name})
    fetched = hub_repository(monkeypatch, folder, remote)
    if how == "argument":
        download("org/mine", "abc123", folder, trust_remote_code=True)
    else:
        monkeypatch.setenv(TRUST_REMOTE_CODE_VARIABLE, "1")
        download("org/mine", "abc123", folder)
    assert {"tokenization_mine.py", "modeling_mine.py"} <= set(fetched)
    assert "scripts/convert.py" not in fetched  # top-level files only
    tokenizer = modeling.load_tokenizer(folder, trust_remote_code=True)
    assert type(tokenizer).__name__ == "MineTokenizer"

    (folder / "tokenization_mine.py").unlink()  # the hub failed before it arrived
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda **kw: kw["local_dir"])
    with pytest.raises(ResourceError, match=r"did not arrive \(tokenization_mine.py; "):
        download("org/mine", "abc123", folder, trust_remote_code=True)


def test_without_trust_remote_code_no_code_file_is_downloaded(
        monkeypatch, tmp_path, fake_hub_records, save_tokenizer_with_own_code):
    """Off (the default), no code comes, none is required, and the tokenizer that needs it
    says how to get it."""
    from prunebench import modeling
    from prunebench.plan.layout import TRUST_REMOTE_CODE_VARIABLE

    remote = code_repository(tmp_path, save_tokenizer_with_own_code)
    folder = tmp_path / "download"
    folder.mkdir()
    fake_hub_records.update(dir=folder, extra={name for name in remote if "/" not in name})
    fetched = hub_repository(monkeypatch, folder, remote)
    monkeypatch.setenv(TRUST_REMOTE_CODE_VARIABLE, "0")
    download("org/mine", "abc123", folder)
    assert not [name for name in fetched if name.endswith(".py")]
    with pytest.raises(PrunebenchError, match=r"runs its own code, from tokenization_mine.py, "
                                              r"which is not in the folder.*only with "
                                              r"`trust_remote_code: true`.*Delete the folder"):
        modeling.load_tokenizer(folder, trust_remote_code=True)


def test_the_commands_download_with_their_trust_remote_code_switch(monkeypatch, tmp_path):
    from prunebench.commands import model_source

    asked = []
    monkeypatch.setattr("prunebench.hub.download",
                        lambda repo, revision, out, trust_remote_code=None: asked.append(
                            trust_remote_code) or (_ for _ in ()).throw(OSError("stop")))
    for switch in (True, False):
        with pytest.raises(OSError, match="stop"):
            model_source.resolve_model("hf:org/mine@abc123", tmp_path / str(switch), switch)
    assert asked == [True, False]


def test_a_short_model_info_listing_deletes_nothing(monkeypatch, tmp_path, fake_hub_records):
    """The files are judged by the hub's complete tree listing, not model_info's `siblings`,
    which the hub may cut short: a config missing from a short list is no other commit's."""
    fake_hub_records.update(dir=tmp_path, truncated=True)
    watching_download(monkeypatch, tmp_path, {"model.safetensors": b"w", "config.json": b"{}",
                                              "tokenizer.json": b"{}"})
    download("org/model", "main", tmp_path)
    assert {p.name for p in tmp_path.iterdir() if not p.name.startswith(".")} == {
        "model.safetensors", "config.json", "tokenizer.json"}


def test_a_file_the_repository_has_that_did_not_arrive_is_a_retry(monkeypatch, tmp_path,
                                                                    fake_hub_records):
    """The hub failing part-way leaves the folder as it is: a model without its tokenizer
    would be found out only by later jobs."""
    from prunebench import ResourceError

    fake_hub_records.update(dir=tmp_path, extra={"tokenizer.json", "tokenizer_config.json",
                                                 "README.md"})  # README.md: not fetched
    watching_download(monkeypatch, tmp_path, {"model.safetensors": b"w", "config.json": b"{}"})
    with pytest.raises(ResourceError, match=r"2 file\(s\) of org/model@main did not arrive "
                                            r"\(tokenizer.json, tokenizer_config.json; .*rerun"):
        download("org/model", "main", tmp_path)
    assert downloaded_commit(tmp_path) is None  # not recorded as complete


def test_a_file_list_that_cannot_be_read_deletes_nothing(monkeypatch, tmp_path, fake_hub_records,
                                                          caplog):
    fake_hub_records.update(dir=tmp_path, tree_error=ConnectionError("reset"),
                            sha="4782ad278652c7c71b72204d462d6d01eaaf7549")
    (tmp_path / "old.safetensors").write_bytes(b"old")  # would go with a list to judge by
    (tmp_path / ".prunebench-download.json").write_text(
        json.dumps({"repo_id": "org/model", "revision": "main"}))
    fake_hub_records["unlisted"] = {"old.safetensors"}
    watching_download(monkeypatch, tmp_path, {"model.safetensors": b"w", "config.json": b"{}"})
    with caplog.at_level(logging.WARNING, logger="prunebench.hub"):
        download("org/model", "main", tmp_path)
    assert (tmp_path / "old.safetensors").exists()
    assert "file list could not be read (ConnectionError)" in caplog.text


def test_an_emptying_cut_short_is_finished_by_the_next_download(monkeypatch, tmp_path,
                                                               fake_hub_records):
    folder = tmp_path / ".model.download"
    fake_hub_records["dir"] = folder
    leftover = tmp_path / ".model.download.discarded"  # killed while deleting it
    leftover.mkdir()
    (leftover / "model.safetensors").write_bytes(b"old")
    watching_download(monkeypatch, folder, {"model.safetensors": b"new"})
    download("org/model", "abc123", folder)
    assert not leftover.exists() and (folder / "model.safetensors").read_bytes() == b"new"


def test_a_malformed_token_is_said_before_a_text_is_loaded(monkeypatch):
    import datasets

    from prunebench import data

    monkeypatch.setattr(datasets, "load_dataset",
                        lambda *a, **k: pytest.fail("loaded with a broken token"))
    monkeypatch.setenv("HF_TOKEN", "hf_secret value")
    with pytest.raises(PrunebenchError, match="HF_TOKEN holds a space") as info:
        data.load_rows("wikitext2", "test")
    assert "cannot load dataset" not in str(info.value)


def test_pickles_are_not_downloaded_for_a_torch_that_cannot_read_them_safely(
        monkeypatch, sharded_pickle_repo):
    import torch

    monkeypatch.setattr(torch, "__version__", "2.5.1")
    with pytest.raises(PrunebenchError, match="org/pickled's pickle weights would be unpickled.*upgrade torch"):
        download("org/pickled", "abc123", sharded_pickle_repo.folder)
    assert not [name for name in sharded_pickle_repo.fetched if name.endswith(".bin")]


def test_a_folder_of_unknown_files_is_not_emptied(monkeypatch, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    watching_download(monkeypatch, tmp_path, {"model.safetensors": b"x"})
    with pytest.raises(PrunebenchError, match="holds files but no record of the download.*"
                                              "delete the folder"):
        download("org/model", "abc123", tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def _network_errors():
    """Built-in errors plus the transport error of whichever HTTP client huggingface_hub uses
    here (2.x: httpx2, 1.x: httpx, 0.x: requests): not all of them are OSErrors."""
    import importlib

    found = [ConnectionError("connection refused"), TimeoutError("timed out")]
    for module, name in (("httpx2", "ConnectError"), ("httpx", "ConnectError"),
                         ("requests", "ConnectionError")):
        try:
            found.append(getattr(importlib.import_module(module), name)("no route to host"))
        except ImportError:
            continue
    assert len(found) > 2, "no HTTP client of huggingface_hub found"
    return found


@pytest.mark.parametrize("error", _network_errors(), ids=lambda e: type(e).__name__)
def test_no_network_during_the_download_says_prefetch(monkeypatch, tmp_path, error):
    def fake_snapshot_download(**kwargs):
        raise error

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    with pytest.raises(PrunebenchError, match="offline") as info:
        download("org/model", "abc123", tmp_path / "model")
    assert "snakemake prefetch" in str(info.value)


def test_rejected_token_says_to_fix_hf_token(monkeypatch, tmp_path):
    err = hub_error(errors.HfHubHTTPError)
    err.response = types.SimpleNamespace(status_code=401)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda **kw: (_ for _ in ()).throw(err))
    monkeypatch.setenv("HF_TOKEN", "hf_secret_value_456")
    with pytest.raises(PrunebenchError, match="HTTP 401") as info:
        download("org/model", "abc123", tmp_path / "model")
    assert "export HF_TOKEN" in str(info.value) and "hf_secret_value_456" not in str(info.value)


def test_malformed_repository_id_is_explained(monkeypatch, tmp_path):
    def fake_snapshot_download(**kwargs):
        raise errors.HFValidationError("Repo id must be in the form 'repo_name'")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    with pytest.raises(PrunebenchError, match="not a valid hub repository id"):
        download("org/model/extra", None, tmp_path / "model")


@pytest.mark.parametrize("cls, phrase", [
    (errors.GatedRepoError, "is gated: accept its licence"),
    (errors.RepositoryNotFoundError, "not found (or private and HF_TOKEN is not set)"),
    (errors.LocalEntryNotFoundError, "snakemake prefetch"),
])
def test_hub_error_messages_are_the_documented_ones(monkeypatch, tmp_path, cls, phrase):
    """docs/hub.md lists what each hub failure says; the code must say exactly that."""
    monkeypatch.setattr(huggingface_hub, "snapshot_download",
                        lambda **kw: (_ for _ in ()).throw(hub_error(cls)))
    with pytest.raises(PrunebenchError) as info:
        download("org/model", "abc123", tmp_path / "model")
    assert phrase in str(info.value)
    documented = (Path(__file__).resolve().parents[1] / "docs" / "hub.md").read_text()
    assert phrase in documented, f"docs/hub.md does not document the message {phrase!r}"


# --------------------------------------------------------------------------- pickle-only repos

def fake_pickle_repo(monkeypatch, directory, weights: dict, records: dict):
    """A repository with config.json and pytorch_model.bin only: the first (safetensors)
    download brings the config, the second (pickle patterns) the .bin. Returns the list of the
    revisions the downloads asked for."""
    import torch

    revisions = []

    def fake_snapshot_download(**kwargs):
        revisions.append(kwargs["revision"])
        if "pytorch_model*.bin" in kwargs["allow_patterns"]:
            torch.save(weights, directory / "pytorch_model.bin")
        else:
            (directory / "config.json").write_text("{}")
        return str(directory)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    records["extra"] |= {"config.json", "pytorch_model.bin"}  # what the repository lists
    return revisions


def test_pickle_only_repository_is_converted_once_without_unpickling(monkeypatch, tmp_path,
                                                                    fake_hub_records):
    import torch
    from safetensors.torch import load_file

    from prunebench.checkpoint.integrity import sha256_file

    weights = {"model.embed_tokens.weight": torch.randn(8, 4),
               "lm_head.weight": torch.randn(8, 4)}
    weights["tied.weight"] = weights["lm_head.weight"]  # shared memory, as tied weights are
    fake_hub_records["dir"] = tmp_path
    fake_pickle_repo(monkeypatch, tmp_path, weights, fake_hub_records)
    download("org/old-model", "abc123", tmp_path)
    assert not list(tmp_path.glob("*.bin"))  # nothing left that could be unpickled later
    converted = load_file(tmp_path / "model.safetensors")
    assert converted.keys() == weights.keys()
    assert all(torch.equal(converted[k], weights[k]) for k in weights)
    record = json.loads((tmp_path / "pickle_conversion.json").read_text())["converted"]
    assert [(r["from"], r["to"]) for r in record] == [("pytorch_model.bin", "model.safetensors")]
    assert record[0]["to_sha256"] == sha256_file(tmp_path / "model.safetensors")
    assert record[0]["loader"] == "torch.load(weights_only=True)"


def test_a_pickle_download_missing_a_file_is_a_retry(monkeypatch, tmp_path, fake_hub_records):
    """The pickle path checks what the safetensors path checks: the hub failing part-way left
    a converted model without its tokenizer, found out only by later jobs."""
    import torch

    from prunebench import ResourceError

    fake_hub_records["dir"] = tmp_path
    fake_pickle_repo(monkeypatch, tmp_path, {"w": torch.ones(2)}, fake_hub_records)
    fake_hub_records["extra"] |= {"tokenizer.json"}  # the repository has it; it did not arrive
    with pytest.raises(ResourceError, match=r"1 file\(s\) of org/old-model@abc123 did not "
                                            r"arrive \(tokenizer.json; .*rerun"):
        download("org/old-model", "abc123", tmp_path)
    assert downloaded_commit(tmp_path) is None  # not recorded as complete
    assert (tmp_path / "pytorch_model.bin").exists()  # nothing converted yet: the rerun does it


def test_a_pickle_shard_that_did_not_arrive_is_a_retry(monkeypatch, sharded_pickle_repo):
    from prunebench import ResourceError

    del sharded_pickle_repo.remote[SHARDS[2]]  # the hub failed before the third shard
    with pytest.raises(ResourceError, match=rf"did not arrive \({SHARDS[2]}; "):
        download("org/old-model", "abc123", sharded_pickle_repo.folder)
    assert not list(sharded_pickle_repo.folder.glob("*.safetensors"))  # nothing converted


def test_a_pickle_download_deletes_files_of_an_older_commit(monkeypatch, tmp_path,
                                                            fake_hub_records, caplog):
    """As a safetensors download does: a tokenizer file the branch had before it moved would
    be read instead of the commit's."""
    import torch

    fake_hub_records["dir"] = tmp_path
    (tmp_path / ".prunebench-download.json").write_text(
        json.dumps({"repo_id": "org/old-model", "revision": None}))
    (tmp_path / "tokenizer.model").write_text("old")
    fake_hub_records["unlisted"] = {"tokenizer.model"}
    fake_pickle_repo(monkeypatch, tmp_path, {"w": torch.ones(2)}, fake_hub_records)
    with caplog.at_level(logging.WARNING, logger="prunebench.hub"):
        download("org/old-model", None, tmp_path)
    assert not (tmp_path / "tokenizer.model").exists()
    assert "tokenizer.model is not in org/old-model@main" in caplog.text
    assert (tmp_path / "model.safetensors").exists()  # the conversion's, kept


def test_pickle_that_the_weights_only_loader_refuses_stays_refused(monkeypatch, tmp_path,
                                                                   fake_hub_records):
    import argparse

    import torch

    # Not a plain tensor container: unpickling would have to build an arbitrary object.
    fake_hub_records["dir"] = tmp_path
    fake_pickle_repo(monkeypatch, tmp_path, {"w": torch.zeros(2), "x": argparse.Namespace(a=1)},
                     fake_hub_records)
    with pytest.raises(PrunebenchError, match="cannot be read by torch's weights-only loader"):
        download("org/odd-model", "abc123", tmp_path)
    assert not list(tmp_path.glob("*.safetensors"))


@pytest.mark.parametrize("version", ["2.5.1+cu121", "2.4.0", "1.13.1", "2.6.0a0+ecf3bae40a",
                                     "2.6.0.dev20241112", "2.6.0rc9"])
def test_no_pickle_is_read_with_a_torch_whose_weights_only_loader_is_unsafe(monkeypatch, tmp_path,
                                                                            version):
    import torch

    from prunebench.checkpoint.pickle_convert import load_weights_only

    torch.save({"w": torch.zeros(2)}, tmp_path / "pytorch_model.bin")
    monkeypatch.setattr(torch, "__version__", version)

    def no_load(*args, **kwargs):
        raise AssertionError("torch.load must not be called")

    monkeypatch.setattr(torch, "load", no_load)
    with pytest.raises(PrunebenchError, match=rf"pytorch_model.bin would be unpickled, and torch "
                                              rf"{re.escape(version)}'s weights-only loader is "
                                              r"not safe.*fixed in torch 2\.6.*upgrade torch"):
        load_weights_only(tmp_path / "pytorch_model.bin")


@pytest.mark.parametrize("version", ["2.6.0", "2.11.0+cu130", "2.13.0+cpu", "2.7.0.dev20250101",
                                     "2.10.0", "3.0.0"])
def test_a_torch_with_a_safe_weights_only_loader_reads_the_pickle(monkeypatch, tmp_path, version):
    import torch

    from prunebench.checkpoint.pickle_convert import load_weights_only

    torch.save({"w": torch.arange(3.0)}, tmp_path / "pytorch_model.bin")
    monkeypatch.setattr(torch, "__version__", version)
    assert torch.equal(load_weights_only(tmp_path / "pytorch_model.bin")["w"], torch.arange(3.0))


def test_sharded_pickle_index_points_at_the_safetensors_shards(tmp_path):
    import torch

    from prunebench.checkpoint.pickle_convert import convert_pickle_checkpoint

    for i in (1, 2):
        torch.save({f"w{i}": torch.ones(2)}, tmp_path / f"pytorch_model-0000{i}-of-00002.bin")
    (tmp_path / "pytorch_model.bin.index.json").write_text(json.dumps({"weight_map": {
        "w1": "pytorch_model-00001-of-00002.bin", "w2": "pytorch_model-00002-of-00002.bin"}}))
    convert_pickle_checkpoint(tmp_path)
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    assert index["weight_map"] == {"w1": "model-00001-of-00002.safetensors",
                                   "w2": "model-00002-of-00002.safetensors"}
    assert not (tmp_path / "pytorch_model.bin.index.json").exists()
    assert sorted(p.name for p in tmp_path.glob("*.safetensors")) == [
        "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]


SHARDS = [f"pytorch_model-0000{i}-of-00003.bin" for i in (1, 2, 3)]


@pytest.fixture
def sharded_pickle_repo(monkeypatch, tmp_path, fake_hub_records):
    """A hub repository with three pickle shards and their index, downloaded into `folder` as
    huggingface_hub's local_dir mode does: a file is fetched when the patterns ask for it and it
    is not in the folder yet. `fetched` lists every file fetched, `weights` each shard's."""
    import fnmatch

    import torch

    folder = tmp_path / "download"
    folder.mkdir()
    generator = torch.Generator().manual_seed(0)
    weights = {shard: {f"layer{i}.weight": torch.randn(4, 3, generator=generator),
                       f"layer{i}.bias": torch.randn(4, generator=generator)}
               for i, shard in enumerate(SHARDS)}
    remote = {"config.json": b"{}", "pytorch_model.bin.index.json": json.dumps(
        {"weight_map": {name: shard for shard, state in weights.items() for name in state}}).encode()}
    for shard, state in weights.items():
        torch.save(state, tmp_path / shard)
        remote[shard] = (tmp_path / shard).read_bytes()
    fetched = []

    def fake_snapshot_download(allow_patterns, ignore_patterns=None, **kwargs):
        for name, data in remote.items():
            wanted = any(fnmatch.fnmatch(name, p) for p in allow_patterns)
            ignored = any(fnmatch.fnmatch(name, p) for p in ignore_patterns or [])
            if wanted and not ignored and not (folder / name).exists():
                (folder / name).write_bytes(data)
                fetched.append(name)
        return str(folder)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    # The hub lists the repository's files, none of those the conversion writes beside them.
    written = {"model.safetensors.index.json", "pickle_conversion.json",
               *(f"model-0000{i}-of-00003.safetensors" for i in (1, 2, 3))}
    fake_hub_records.update(dir=folder, extra=set(remote), unlisted=written)
    return types.SimpleNamespace(folder=folder, weights=weights, remote=remote, fetched=fetched)


def inject_fault(monkeypatch, where: str) -> None:
    """Make the conversion stop at `where` (as a kill there would: nothing after it runs)."""
    from prunebench.checkpoint import pickle_convert

    real_save, real_write_json = pickle_convert._save, pickle_convert.write_json
    saved = []

    def save(tensors, target):
        if where == "saving the second shard" and saved:
            raise KeyboardInterrupt("injected: stopped while saving")
        real_save(tensors, target)
        saved.append(target)

    def write_json(path, data):
        real_write_json(path, data)
        if where == "after the second shard, before its pickle goes" and \
                path.name == pickle_convert.PROGRESS and len(data["converted"]) == 2:
            raise KeyboardInterrupt("injected: stopped before deleting the pickle")
        if where == "after the final record" and path.name == pickle_convert.RECORD:
            raise KeyboardInterrupt("injected: stopped before the folder is put in place")

    monkeypatch.setattr(pickle_convert, "_save", save)
    monkeypatch.setattr(pickle_convert, "write_json", write_json)


@pytest.mark.parametrize("where", ["saving the second shard",
                                   "after the second shard, before its pickle goes",
                                   "after the final record"])
def test_interrupted_pickle_conversion_resumes_to_a_complete_checkpoint(
        monkeypatch, sharded_pickle_repo, where):
    """A rerun after an interruption must not take the shards converted so far for the whole
    checkpoint (it used to: pickles were left unconverted and the model lacked their weights)."""
    import torch
    from safetensors.torch import load_file

    from prunebench.checkpoint import pickle_convert
    from prunebench.checkpoint.integrity import sha256_file

    repo, folder = sharded_pickle_repo, sharded_pickle_repo.folder
    with monkeypatch.context() as patched:
        inject_fault(patched, where)
        with pytest.raises(KeyboardInterrupt, match="injected"):
            download("org/old-model", "abc123", folder)
    fetched_before = len(repo.fetched)
    download("org/old-model", "abc123", folder)

    # No shard was downloaded again: those converted (and deleted) before the interruption were
    # not asked for, the others were still there.
    assert not [name for name in repo.fetched[fetched_before:] if name.endswith(".bin")]
    assert not list(folder.glob("*.bin")) and not (folder / pickle_convert.PICKLE_INDEX).exists()
    assert not (folder / pickle_convert.PROGRESS).exists()
    record = json.loads((folder / pickle_convert.RECORD).read_text())["converted"]
    assert [r["from"] for r in record] == SHARDS
    index = json.loads((folder / pickle_convert.SAFETENSORS_INDEX).read_text())["weight_map"]
    for shard, entry in zip(SHARDS, record):
        target = folder / pickle_convert.safetensors_name(shard)
        assert entry["to"] == target.name and entry["to_sha256"] == sha256_file(target)
        assert entry["from_sha256"] == hashlib.sha256(repo.remote[shard]).hexdigest()
        converted = load_file(target)
        assert converted.keys() == repo.weights[shard].keys()
        assert all(torch.equal(converted[k], v) for k, v in repo.weights[shard].items())
        assert all(index[k] == target.name for k in converted)
    assert sorted(p.name for p in folder.glob("*.safetensors")) == sorted(
        pickle_convert.safetensors_name(s) for s in SHARDS)


def test_a_converted_shard_damaged_before_the_rerun_is_refused(monkeypatch, sharded_pickle_repo):
    """Its pickle is gone, so the rerun cannot redo it: it says how to start again."""
    folder = sharded_pickle_repo.folder
    with monkeypatch.context() as patched:
        inject_fault(patched, "saving the second shard")
        with pytest.raises(KeyboardInterrupt):
            download("org/old-model", "abc123", folder)
    first = folder / "model-00001-of-00003.safetensors"
    first.write_bytes(first.read_bytes()[:-1])
    with pytest.raises(PrunebenchError, match="differs from what the conversion of "
                       "pytorch_model-00001-of-00003.bin wrote.*delete .*download and convert"):
        download("org/old-model", "abc123", folder)


@pytest.fixture
def direct_hub(monkeypatch):
    """The hub's address set by the test: no proxy, not offline."""
    from huggingface_hub import constants

    for variable in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)

    def point_at(url: str) -> None:
        monkeypatch.setattr(constants, "ENDPOINT", url)
    return point_at


def test_the_hub_check_connects_to_the_endpoint(direct_hub):
    """Refused while the endpoint's port is bound but not listening, answered once it listens.
    The port stays bound throughout: closed, another test's server (another xdist worker's)
    could take it and answer the refused check."""
    import socket

    from prunebench.hub import hub_reachable

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        direct_hub(f"http://127.0.0.1:{server.getsockname()[1]}")
        assert not hub_reachable(timeout=5)  # no listener: refused
        server.listen()
        assert hub_reachable(timeout=5)


def test_a_name_lookup_that_hangs_does_not_hold_the_hub_check(direct_hub, monkeypatch):
    """A socket timeout does not bound getaddrinfo: a broken resolver would stall every dry
    run that asks whether the hub answers."""
    import socket
    import threading

    entered, release, ended = threading.Event(), threading.Event(), threading.Event()

    def hanging_lookup(*args, **kwargs):
        entered.set()
        # Until the test releases it (the limit only ends a check that waits for it: the
        # check then returns after the lookup, which fails the test instead of hanging it).
        release.wait(600)
        ended.set()
        raise OSError("resolver gave up")

    monkeypatch.setattr(socket, "getaddrinfo", hanging_lookup)
    direct_hub("https://hub.invalid")
    from prunebench.hub import hub_reachable

    try:
        assert not hub_reachable(timeout=0.5)
        assert entered.wait(600)  # the lookup started (perhaps only after the check's 0.5 s)
        assert not ended.is_set()  # and the check returned while it still hangs
    finally:
        release.set()


def test_a_download_verified_then_killed_resumes_with_its_files(tmp_path):
    """The record gains the commit once the files are verified; a kill before the manifest is
    written must not make the rerun take the folder for another source's and empty it."""
    from prunebench.hub import DOWNLOAD_SOURCE, claim_download_folder, record_commit

    claim_download_folder(tmp_path, "org/model", None)
    (tmp_path / "model.safetensors").write_bytes(b"13 GB of weights")
    record_commit(tmp_path, "4782ad278652c7c71b72204d462d6d01eaaf7549")
    claim_download_folder(tmp_path, "org/model", None)  # the rerun
    assert (tmp_path / "model.safetensors").exists()
    assert json.loads((tmp_path / DOWNLOAD_SOURCE).read_text())["commit"].startswith("4782ad")
    claim_download_folder(tmp_path, "org/other", None)  # another source is emptied, as before
    assert not (tmp_path / "model.safetensors").exists()


def mirrored_download(monkeypatch, fake_hub_records) -> list:
    """snapshot_download replaced by one that brings the files of the repository the hub's
    records describe (fake_hub_records["dir"]: point it at another folder for another commit)
    that are missing from the download folder or differ there, as huggingface_hub does, with
    their times. Returns the names fetched."""
    import filecmp
    import shutil

    fetched = []

    def fake_snapshot_download(**kwargs):
        for file in sorted(fake_hub_records["dir"].iterdir()):
            target = Path(kwargs["local_dir"]) / file.name
            if not target.exists() or not filecmp.cmp(file, target, shallow=False):
                shutil.copy2(file, target)
                fetched.append(file.name)
        return kwargs["local_dir"]

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    return fetched


def test_an_interrupted_extraction_of_a_multimodal_download_keeps_its_text_shards(
        monkeypatch, tmp_path, fake_hub_records):
    """A download of Gemma-3-4B killed while its language model was being taken out: the
    rerun (the hub's file list has no text shard) keeps the shards made from the same original
    files instead of deleting them as another commit's, makes the others, and ends as a
    straight extraction does."""
    import safetensors.torch
    from safetensors.torch import save_file

    from test_text_part import files, multimodal, saved

    repository = saved(multimodal(), tmp_path / "repository", max_shard_size="100KB")
    fake_hub_records["dir"] = repository  # the hub lists and records the repository's files
    mirrored_download(monkeypatch, fake_hub_records)
    straight = download("google/gemma-3-4b-it", "abc123", tmp_path / "straight")
    calls = []

    def killed_at_the_third(tensors, path, metadata=None):
        calls.append(path)
        if len(calls) == 3:
            raise OSError("killed")
        return save_file(tensors, path, metadata=metadata)

    folder = tmp_path / "download"
    with monkeypatch.context() as patch:
        patch.setattr(safetensors.torch, "save_file", killed_at_the_third)
        with pytest.raises(OSError, match="killed"):
            download("google/gemma-3-4b-it", "abc123", folder)
    kept = {f.name: f.stat().st_mtime_ns for f in folder.glob("model-text-*")}
    assert len(kept) == 2

    download("google/gemma-3-4b-it", "abc123", folder)
    assert {f.name: f.stat().st_mtime_ns for f in folder.glob("model-text-*")
            if f.name in kept} == kept
    assert files(folder) == files(straight)


@pytest.mark.parametrize("question", ["dataset_commit", "model_download", "file_listing"])
def test_a_hub_that_never_answers_does_not_hold_a_job_forever(monkeypatch, tmp_path, question):
    """A server that takes the connection and never answers (a proxy, a half-open firewall):
    huggingface_hub would wait on it forever; prunebench's questions, and the requests
    huggingface_hub makes without a timeout of their own (tree listings), give up after
    HUB_QUESTION_TIMEOUT_S and say so."""
    import socket
    import threading

    from huggingface_hub.utils import _http

    from prunebench import hub

    monkeypatch.undo()  # the real hub client, not this module's fake records
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                  "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)  # straight to the local server
    # a client made afresh, with the short timeout below; and afterwards (finally) again
    huggingface_hub.set_client_factory(_http.default_client_factory)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT",
                        f"http://127.0.0.1:{server.getsockname()[1]}")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "HUB_QUESTION_TIMEOUT_S", 0.5)
    # huggingface_hub retries a listing that timed out 5 times, sleeping 1 to 8 s between
    monkeypatch.setattr(_http.time, "sleep", lambda seconds: None)
    outcome = []

    def ask():
        try:
            if question == "dataset_commit":
                outcome.append(hub.dataset_commit("some/dataset"))
            elif question == "file_listing":
                outcome.append(hub.repository_files("some/model", "a" * 40, False))
            else:
                outcome.append(download("some/model", "main", tmp_path / "model"))
        except Exception as err:  # noqa: BLE001 - the test looks at it
            outcome.append(err)

    try:
        asking = threading.Thread(target=ask, daemon=True)
        asking.start()
        asking.join(120)  # far beyond the timeout; without one it would never end
        server.close()
        assert not asking.is_alive(), "the question to the hub is still waiting"
    finally:
        huggingface_hub.set_client_factory(_http.default_client_factory)
    assert accepted, outcome  # it did reach the server
    if question in ("dataset_commit", "file_listing"):
        assert outcome == [None]  # read at the newest / nothing deleted, and said so
    else:
        (err,) = outcome
        assert isinstance(err, hub.HubUnreachable), err


# --------------------------------------------------------------------------- mixtures of experts

MOE_COMMIT = "4782ad278652c7c71b72204d462d6d01eaaf7549"
NEWER_COMMIT = "9c1f0e3b2a4d5c6b7a8f9e0d1c2b3a4f5e6d7c8b"


def moe_repository(tmp_path, fake_hub_records, name="mixtral", seed=0, commit=MOE_COMMIT):
    """The hub at `commit` (its records: fake_hub_records) serving a published-style
    per-expert checkpoint of a small random `name` model (test_moe.write_hub_checkpoint: two
    shards, one block's experts across both), written in tmp_path/<commit>, where
    mirrored_download fetches it from. Returns the model and the repository's folder."""
    from test_families import family_model
    from test_moe import write_hub_checkpoint

    model = family_model(name, seed=seed)
    repository = tmp_path / commit
    write_hub_checkpoint(model, name, repository)
    fake_hub_records.update(dir=repository, sha=commit)
    return model, repository


def computes_as(folder, model) -> bool:
    """Whether the checkpoint in `folder`, its manifest written as the workflow's model rule
    writes it and loaded by prunebench, computes exactly the logits `model` does."""
    import torch

    from test_families import ids, logits

    from prunebench.modeling import load_model, write_manifest

    write_manifest(folder, {"source": "hf:org/moe"})
    return torch.equal(logits(load_model(folder), ids()), logits(model, ids()))


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("name", ["mixtral", "qwen3_moe", "qwen2_moe"])
def test_a_per_expert_moe_download_is_fused_and_loads_as_transformers_loads_it(
        monkeypatch, tmp_path, fake_hub_records, name):
    """Mixtral's, Qwen3-MoE's and Qwen2-MoE's published checkpoints store one tensor per expert
    (Qwen2-MoE's shared expert beside them): the download, verified against the hub's sha256,
    is fused once into transformers 5's layout, which prunebench's loader reads, and computes
    what transformers' own loading of the per-expert files does. The manifest records the
    fused files and the commit."""
    import torch
    from transformers import AutoModelForCausalLM

    from test_families import ids, logits

    from prunebench.checkpoint import moe_fuse

    model, repository = moe_repository(tmp_path, fake_hub_records, name)
    fetched = mirrored_download(monkeypatch, fake_hub_records)
    folder = download("org/moe", None, tmp_path / "download")
    assert sorted(fetched) == sorted(p.name for p in repository.iterdir())
    assert moe_fuse.finished(folder)
    assert not list(folder.glob("model-0000*.safetensors"))  # the originals are gone
    theirs = AutoModelForCausalLM.from_pretrained(repository, dtype=torch.float32).eval()
    assert torch.equal(logits(theirs, ids()), logits(model, ids()))
    assert computes_as(folder, model)  # and so, exactly, does prunebench's loading of the fusion
    manifest = json.loads((folder / "prunebench.json").read_text())
    record = json.loads((folder / moe_fuse.RECORD).read_text())
    assert sorted(manifest["weights_sha256"]) == record["fused_weight_files"]
    assert moe_fuse.RECORD in manifest["files_sha256"]
    assert manifest["hub_commit"] == MOE_COMMIT


@pytest.mark.usefixtures("one_thread")
def test_an_mxfp4_gpt_oss_download_is_dequantized_once_and_not_fetched_again(
        monkeypatch, tmp_path, fake_hub_records):
    """openai's gpt-oss repositories hold the experts in MXFP4: the download, verified against
    the hub's sha256, is dequantized once to bfloat16 (config.json without its
    quantization_config) and computes what transformers' model of transformers' own
    dequantization does; a rerun asks the hub nothing and fetches nothing."""
    import torch
    from transformers import GptOssForCausalLM

    from test_families import family_model, ids, logits
    from test_moe import write_mxfp4_checkpoint

    from prunebench.checkpoint import moe_fuse

    model = family_model("gpt_oss")
    repository = tmp_path / MOE_COMMIT
    expected = write_mxfp4_checkpoint(model, repository)
    fake_hub_records.update(dir=repository, sha=MOE_COMMIT)
    fetched = mirrored_download(monkeypatch, fake_hub_records)
    folder = download("openai/gpt-oss-20b", None, tmp_path / "download")
    assert sorted(fetched) == sorted(p.name for p in repository.iterdir())
    assert moe_fuse.finished(folder) and not list(folder.glob("model-0000*.safetensors"))
    assert "quantization_config" not in json.loads((folder / "config.json").read_text())
    record = json.loads((folder / moe_fuse.RECORD).read_text())
    assert record["dequantized_from"] == "mxfp4" and "source_sha256" not in record
    theirs = GptOssForCausalLM(model.config).eval()
    theirs.load_state_dict({k: v.float() for k, v in expected.items()})
    assert computes_as(folder, theirs)
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    fetched.clear()
    calls = fake_hub_records["calls"]
    assert download("openai/gpt-oss-20b", None, folder) == folder
    assert fetched == [] and fake_hub_records["calls"] == calls
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before
    assert not torch.equal(logits(theirs, ids()), logits(model, ids()))  # MXFP4, not the model


@pytest.mark.usefixtures("one_thread")
def test_a_corrupted_expert_shard_is_refused_before_fusion_and_fetched_again(
        monkeypatch, tmp_path, fake_hub_records):
    """The hub's sha256 is checked on the per-expert files as downloaded, before any is fused
    and deleted: a corrupted one is refused and deleted, and the rerun fetches it again."""
    from prunebench.checkpoint import moe_fuse

    model, _ = moe_repository(tmp_path, fake_hub_records)
    fetched = mirrored_download(monkeypatch, fake_hub_records)
    fake_hub_records["corrupt"] = {"model-00002-of-00002.safetensors"}
    folder = tmp_path / "download"
    with pytest.raises(PrunebenchError, match="model-00002-of-00002.safetensors does not match "
                                              "the hub's sha256"):
        download("org/moe", None, folder)
    assert not list(folder.glob("model-fused-*")) and not (folder / moe_fuse.RECORD).exists()
    assert not (folder / "model-00002-of-00002.safetensors").exists()
    fake_hub_records["corrupt"] = set()
    fetched.clear()
    download("org/moe", None, folder)
    assert fetched == ["model-00002-of-00002.safetensors"]
    assert moe_fuse.finished(folder)
    assert computes_as(folder, model)


@pytest.mark.usefixtures("one_thread")
def test_a_fused_download_is_not_downloaded_again(monkeypatch, tmp_path, fake_hub_records):
    """A run killed after the fusion (before its manifest was written): the rerun asks the hub
    nothing and fetches nothing (the per-expert originals it deleted would come back, and
    its fused files, which no commit has, are no other commit's)."""
    model, _ = moe_repository(tmp_path, fake_hub_records)
    fetched = mirrored_download(monkeypatch, fake_hub_records)
    folder = download("org/moe", None, tmp_path / "download")
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    fetched.clear()
    calls = fake_hub_records["calls"]
    assert download("org/moe", None, folder) == folder
    assert fetched == [] and fake_hub_records["calls"] == calls
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before
    assert computes_as(folder, model)


@pytest.mark.usefixtures("one_thread")
def test_a_download_killed_while_fusing_resumes_without_fetching_again(
        monkeypatch, tmp_path, fake_hub_records):
    """A download killed while its experts were being fused: the rerun fetches nothing (the
    originals are there, and verified again), keeps the fused shards written whole (which the
    hub's file list does not name, yet are no other commit's), makes the others and ends as a
    straight download does."""
    from test_moe import killed_at_shard
    from test_text_part import files

    model, _ = moe_repository(tmp_path, fake_hub_records)
    fetched = mirrored_download(monkeypatch, fake_hub_records)
    straight = download("org/moe", None, tmp_path / "straight")
    folder = tmp_path / "download"
    with monkeypatch.context() as patch:
        killed_at_shard(patch, 3)
        with pytest.raises(KeyboardInterrupt):
            download("org/moe", None, folder)
    kept = {f.name: f.stat().st_mtime_ns for f in folder.glob("model-fused-*")}
    assert len(kept) == 2
    fetched.clear()
    download("org/moe", None, folder)
    assert fetched == []
    assert {f.name: f.stat().st_mtime_ns for f in folder.glob("model-fused-*")
            if f.name in kept} == kept
    assert files(folder) == files(straight)
    assert computes_as(folder, model)


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("layout", ["the same shards", "one file"])
def test_a_download_killed_while_fusing_takes_the_newer_commit_of_its_branch(
        monkeypatch, tmp_path, fake_hub_records, layout):
    """An unpinned download killed while fusing, resumed after the branch moved to a commit
    with other weights (in shards of the same names, or resharded into one file): the newer
    originals are fetched, and the shards fused from the older ones are made again, not loaded
    with the newer commit."""
    import os

    from safetensors.torch import save_file

    from test_moe import killed_at_shard, per_expert_state

    moe_repository(tmp_path, fake_hub_records)
    fetched = mirrored_download(monkeypatch, fake_hub_records)
    folder = tmp_path / "download"
    with monkeypatch.context() as patch:
        killed_at_shard(patch, 3)
        with pytest.raises(KeyboardInterrupt):
            download("org/moe", None, folder)
    older = max(f.stat().st_mtime_ns for f in folder.iterdir())
    newer, repository = moe_repository(tmp_path, fake_hub_records, seed=1, commit=NEWER_COMMIT)
    if layout == "one file":
        for file in repository.glob("model*"):
            file.unlink()
        save_file(per_expert_state(newer, "mixtral"), str(repository / "model.safetensors"),
                  metadata={"format": "pt"})
    for file in repository.iterdir():  # downloaded later (mirrored_download keeps the times)
        os.utime(file, ns=(older + 10**9, older + 10**9))
    fetched.clear()
    download("org/moe", None, folder)
    assert sorted(fetched) == sorted(f.name for f in repository.glob("*.safetensors"))
    assert downloaded_commit(folder) == NEWER_COMMIT
    assert computes_as(folder, newer)
    assert json.loads((folder / "prunebench.json").read_text())["hub_commit"] == NEWER_COMMIT


@pytest.mark.usefixtures("one_thread")
def test_a_fused_download_keeps_the_commit_it_fused_when_its_branch_moves(
        monkeypatch, tmp_path, fake_hub_records):
    """An unpinned download fused, killed before its manifest, rerun after the branch moved:
    nothing is fetched, and the manifest names the commit its files are of, not the newer."""
    model, _ = moe_repository(tmp_path, fake_hub_records)
    fetched = mirrored_download(monkeypatch, fake_hub_records)
    folder = download("org/moe", None, tmp_path / "download")
    moe_repository(tmp_path, fake_hub_records, seed=1, commit=NEWER_COMMIT)
    fetched.clear()
    download("org/moe", None, folder)
    assert fetched == []
    assert computes_as(folder, model)
    assert json.loads((folder / "prunebench.json").read_text())["hub_commit"] == MOE_COMMIT


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("killed_at", ["a fused shard", "the fused index"])
def test_a_fusion_cut_short_by_a_newer_commit_already_fused_leaves_nothing_behind(
        monkeypatch, tmp_path, fake_hub_records, killed_at):
    """An unpinned download killed while fusing, resumed after the branch moved to a commit
    saved in transformers 5's layout (nothing to fuse): the older commit's fused shards, and
    the record of a fusion, are deleted, not kept in the checkpoint beside its weights."""
    import prunebench.atomic
    from test_families import family_model
    from test_moe import killed_at_shard

    from prunebench.checkpoint import moe_fuse
    from prunebench.checkpoint.integrity import SAFETENSORS_INDEX
    from prunebench.modeling import save_model

    moe_repository(tmp_path, fake_hub_records)
    mirrored_download(monkeypatch, fake_hub_records)
    folder = tmp_path / "download"
    real_write_json = prunebench.atomic.write_json

    def killed_at_the_index(path, data, *args, **kwargs):
        if Path(path).name == SAFETENSORS_INDEX:
            raise KeyboardInterrupt
        return real_write_json(path, data, *args, **kwargs)

    with monkeypatch.context() as patch:
        if killed_at == "a fused shard":
            killed_at_shard(patch, 3)
        else:
            patch.setattr(prunebench.atomic, "write_json", killed_at_the_index)
        with pytest.raises(KeyboardInterrupt):
            download("org/moe", None, folder)
    assert list(folder.glob("model-fused-*")) and (folder / moe_fuse.PROGRESS).exists()
    assert (folder / moe_fuse.RECORD).exists() == (killed_at == "the fused index")
    newer = family_model("mixtral", seed=1)
    save_model(newer, None, tmp_path / NEWER_COMMIT)  # one model.safetensors, experts fused
    (tmp_path / NEWER_COMMIT / "prunebench.json").unlink()  # prunebench's, not the hub's
    fake_hub_records.update(dir=tmp_path / NEWER_COMMIT, sha=NEWER_COMMIT)
    download("org/moe", None, folder)
    assert not list(folder.glob("model-fused-*"))
    assert not (folder / moe_fuse.RECORD).exists() and not (folder / moe_fuse.PROGRESS).exists()
    assert computes_as(folder, newer)
    manifest = json.loads((folder / "prunebench.json").read_text())
    assert list(manifest["weights_sha256"]) == ["model.safetensors"]
    assert manifest["hub_commit"] == NEWER_COMMIT
