"""Hub downloads: each failure a user can fix gives a message saying what to do.

The hub is unreachable here, so huggingface_hub's own exception types are raised by a fake.
"""
import logging

import huggingface_hub
import pytest
from huggingface_hub import errors

from prunebench import PrunebenchError
from prunebench.hub import download, parse_source


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


def test_token_comes_from_environment_and_is_never_logged(monkeypatch, tmp_path, caplog):
    seen = {}

    def fake_snapshot_download(**kwargs):
        seen.update(kwargs)
        (tmp_path / "model.safetensors").write_bytes(b"")
        return str(tmp_path)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    monkeypatch.setenv("HF_TOKEN", "hf_secret_value_123")
    with caplog.at_level(logging.DEBUG):
        download("org/model", "abc123", tmp_path)
    assert seen["token"] == "hf_secret_value_123"
    assert seen["revision"] == "abc123"
    assert all(not p.endswith(".bin") for p in seen["allow_patterns"])  # never pickle
    assert "hf_secret_value_123" not in caplog.text


def test_repository_without_safetensors_is_refused(monkeypatch, tmp_path):
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda **kw: str(tmp_path))
    with pytest.raises(PrunebenchError, match="no safetensors"):
        download("org/model", None, tmp_path)


@pytest.mark.parametrize("source, kind, name, revision", [
    ("tiny", "tiny", None, None),
    ("hf:huggyllama/llama-7b@8416d3f", "hf", "huggyllama/llama-7b", "8416d3f"),
    ("hf:lmsys/vicuna-13b-v1.3", "hf", "lmsys/vicuna-13b-v1.3", None),
    ("random:llama-7b", "random", "llama-7b", None),
])
def test_parse_source(source, kind, name, revision):
    parsed = parse_source(source)
    assert (parsed.kind, parsed.name, parsed.revision) == (kind, name, revision)


@pytest.mark.parametrize("source", ["hf:", "huggyllama/llama-7b", "random", "tiny:big"])
def test_malformed_sources_are_refused(source):
    with pytest.raises(PrunebenchError, match="model source"):
        parse_source(source)
