"""Atomic writes leave outputs with the modes the process umask gives, not private ones."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from prunebench import atomic, modeling


@pytest.fixture(params=[0o022, 0o077, 0o002])
def umask(request):
    """Run the test under this umask, then restore the one the session had."""
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def assert_tree_modes(root: Path, umask: int) -> None:
    assert mode(root) == 0o777 & ~umask, root
    for item in root.rglob("*"):
        expected = (0o777 if item.is_dir() else 0o666) & ~umask
        assert mode(item) == expected, (item, oct(mode(item)), oct(expected))


def test_current_umask_reads_without_changing_it(umask, monkeypatch):
    assert atomic.current_umask() == umask
    assert atomic.current_umask() == umask  # reading did not change it
    # where /proc is not there (not Linux), os.umask is read and set back
    monkeypatch.setattr(atomic, "_PROC_STATUS", Path("/nonexistent/status"))
    assert atomic.current_umask() == umask
    assert atomic.current_umask() == umask


def test_files_get_the_umask_mode(umask, tmp_path):
    atomic.write_json(tmp_path / "out" / "result.json", {"a": 1})
    atomic.write_text(tmp_path / "out" / "table.md", "| a |\n")
    with atomic.atomic_path(tmp_path / "out" / "figure.png") as tmp:
        tmp.write_bytes(b"\x89PNG")  # the caller writes into the temporary in place
    for name in ("result.json", "table.md", "figure.png"):
        assert mode(tmp_path / "out" / name) == 0o666 & ~umask, name
    # replacing an existing output gives the new file the umask mode too
    atomic.write_json(tmp_path / "out" / "result.json", {"a": 2})
    assert mode(tmp_path / "out" / "result.json") == 0o666 & ~umask


def test_folder_and_everything_in_it_get_the_umask_mode(umask, tmp_path):
    with atomic.atomic_dir(tmp_path / "suite") as tmp:
        (tmp / "a.yaml").write_text("x")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "b.json").write_text("{}")
        atomic.write_json(tmp / "sub" / "nested.json", {})  # a private temporary inside
    assert_tree_modes(tmp_path / "suite", umask)


def test_checkpoint_folder_gets_the_umask_mode(umask, tmp_path, small_random_model):
    model = small_random_model()
    modeling.save_model(model, None, tmp_path / "ckpt")
    assert (tmp_path / "ckpt" / "config.json").is_file()
    assert_tree_modes(tmp_path / "ckpt", umask)


def test_links_inside_a_folder_are_not_followed(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("x")
    os.chmod(outside, 0o600)
    with atomic.atomic_dir(tmp_path / "out") as tmp:
        (tmp / "link").symlink_to(outside)
    assert mode(outside) == 0o600
