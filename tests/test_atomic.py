"""Atomic writes leave outputs with the modes the process umask gives, not private ones; a folder
replaced (`--force`) is never lost, whenever the process dies."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from prunebench import PrunebenchError, atomic, modeling


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


# --------------------------------------------------------------------------- replacing a folder

def folder_with(path: Path, text: str) -> None:
    with atomic.atomic_dir(path) as tmp:
        (tmp / "content.txt").write_text(text)


def content(path: Path) -> str:
    return (path / "content.txt").read_text()


def test_a_failed_rename_keeps_the_old_folder(tmp_path, monkeypatch):
    out = tmp_path / "out"
    folder_with(out, "old")
    real_replace = os.replace

    def failing_replace(src, dst):
        # Moving the new folder in fails (the old one is already aside); putting it back works.
        if Path(dst) == out and Path(src).name.startswith(".out.partial-"):
            raise OSError("injected failure")
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", failing_replace)
    with pytest.raises(OSError, match="injected"):
        folder_with(out, "new")
    assert content(out) == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # nothing aside, no temporary


# Runs atomic_dir in a fresh interpreter that SIGKILLs itself at one step of the replacement:
# a real kill, which no exception handler can tidy up after.
KILLED_REPLACEMENT = """
import os, shutil, signal, sys
from pathlib import Path
from prunebench import atomic

out, step = Path(sys.argv[1]), sys.argv[2]
real_replace, real_rmtree = os.replace, shutil.rmtree

def replace(src, dst):
    if step == "between the renames" and Path(dst) == out:
        os.kill(os.getpid(), signal.SIGKILL)
    real_replace(src, dst)

def rmtree(path, *args, **kwargs):
    if step == "before the old one is deleted" and Path(path).name == ".out.old":
        os.kill(os.getpid(), signal.SIGKILL)
    real_rmtree(path, *args, **kwargs)

os.replace, shutil.rmtree = replace, rmtree
with atomic.atomic_dir(out) as tmp:
    (tmp / "content.txt").write_text("new")
"""


@pytest.mark.parametrize("step, left", [("between the renames", "old"),
                                        ("before the old one is deleted", "new")])
def test_a_kill_while_replacing_a_folder_loses_neither_version(tmp_path, step, left):
    out = tmp_path / "out"
    folder_with(out, "old")
    # The child imports the prunebench under test, wherever the environment's install points.
    src = str(Path(atomic.__file__).resolve().parents[1])
    paths = [src, os.environ.get("PYTHONPATH")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    proc = subprocess.run([sys.executable, "-c", KILLED_REPLACEMENT, str(out), step],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    aside = tmp_path / ".out.old"
    assert content(aside) == "old"  # the old version was set aside, not deleted
    assert (content(out) == "new") if left == "new" else not out.exists()

    # The next write to the same folder settles it first: the old version comes back when no
    # new one got in (so a failure now still leaves it), a leftover beside a new one goes.
    with pytest.raises(RuntimeError), atomic.atomic_dir(out):
        raise RuntimeError("the next attempt fails too")
    assert content(out) == left
    assert not aside.exists()
    folder_with(out, "newer")
    assert content(out) == "newer"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_free_space_is_checked_on_the_nearest_folder_that_exists(tmp_path):
    out = tmp_path / "not" / "yet" / "checkpoint"  # results/pruned/<model>/ before the first job
    atomic.require_free_space(out, 0, "pruning")
    with pytest.raises(PrunebenchError, match=r"pruning needs about .* GiB for .*checkpoint but "
                       r"its file system has .* free"):
        atomic.require_free_space(out, 2**62, "pruning")  # 4 EiB: more than any disk
    assert not (tmp_path / "not").exists()  # the check creates nothing


def test_sizes_are_said_in_a_unit_that_shows_them_and_outputs_by_their_own_name(tmp_path,
                                                                                 monkeypatch):
    """A 3 MiB disk was '0.0 GiB free', and the path named the hidden staging folder."""
    assert [atomic.human_bytes(n) for n in (512, 3 * 2**20 + 2**19, 8.7 * 2**30)] == [
        "512 bytes", "3.5 MiB", "8.7 GiB"]
    staged = tmp_path / ".p1.partial-x8k2" / "checkpoint"
    monkeypatch.setattr(atomic.shutil, "disk_usage",
                        lambda path: SimpleNamespace(total=2**30, free=3 * 2**20))
    with pytest.raises(PrunebenchError) as err:
        atomic.require_free_space(staged, 5 * 2**20 + 2**19, "pruning")
    shown = tmp_path / "p1" / "checkpoint"
    assert str(err.value).startswith(f"pruning needs about 5.5 MiB for {shown} but its file "
                                     "system has 3.0 MiB free")
    assert "an --out there" in str(err.value)


def test_a_file_is_on_disk_before_its_name_is_and_the_name_after(tmp_path, monkeypatch):
    """The order a crash-safe publish needs: the temporary file's data synced, then the rename,
    then the folder holding the new name synced."""
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", str(src), str(dst)))
        real_replace(src, dst)

    def chmod(path, mode):
        events.append(("chmod", str(path)))
        real_chmod(path, mode)

    real_chmod = os.chmod
    monkeypatch.setattr(atomic.os, "fsync", fsync)
    monkeypatch.setattr(atomic.os, "replace", replace)
    monkeypatch.setattr(atomic.os, "chmod", chmod)
    atomic.write_json(tmp_path / "result.json", {"ok": 1})
    # synced while still private (a umask may leave the owner no read bit to open it with)
    assert [e[0] for e in events] == ["fsync", "chmod", "replace", "fsync"]
    assert events[0][1] == events[1][1] == events[2][1]  # the temporary file itself
    assert events[2][2] == str(tmp_path / "result.json")
    assert events[3][1] == str(tmp_path)
    assert atomic.read_json(tmp_path / "result.json") == {"ok": 1}


def test_a_folder_that_cannot_be_synced_still_gets_the_file(tmp_path, monkeypatch):
    real_fsync = os.fsync

    def fsync(fd):
        if os.path.isdir(os.readlink(f"/proc/self/fd/{fd}")):
            raise OSError(22, "Invalid argument")  # as some network file systems answer
        real_fsync(fd)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    atomic.write_text(tmp_path / "table.md", "| a |\n")
    assert (tmp_path / "table.md").read_text() == "| a |\n"


def test_a_full_disk_inside_a_folder_names_the_folder_and_keeps_the_old_one(tmp_path,
                                                                            monkeypatch):
    """A file written inside atomic_dir that meets a full disk: the error names the output
    folder, not the hidden temporary one it has just removed (it named that)."""
    import errno

    out = tmp_path / "eval"
    folder_with(out, "old")

    def full_disk(path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic, "_fsync_file", full_disk)
    with pytest.raises(PrunebenchError) as info:
        with atomic.atomic_dir(out) as tmp:
            atomic.write_json(tmp / "ppl.json", {"perplexity": 1.0})
    message = str(info.value)
    assert message.startswith(f"no space left while writing {out} ("), message
    assert ".partial" not in message
    assert content(out) == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eval"]


# A process that keeps a file to resume from until it ends: how it ends decides.
KEPT_UNTIL_EXIT = """
import sys
from pathlib import Path
from prunebench.atomic import delete_at_successful_exit
path = Path(sys.argv[1])
path.write_text("answers")
delete_at_successful_exit(path)
assert path.exists()  # not before the process ends
if sys.argv[2] == "raise":
    raise RuntimeError("the result file could not be written")
if sys.argv[2] == "interrupt":
    raise KeyboardInterrupt
if sys.argv[2] == "locked":  # another process's (the same model's evaluation) meanwhile
    import fcntl, subprocess
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, sys, time; "
                               "f = open(sys.argv[1]); fcntl.flock(f, fcntl.LOCK_EX); "
                               "print('held', flush=True); time.sleep(60)", str(path)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert holder.stdout.readline() == "held\\n"
    print(holder.pid)  # it holds the lock past this process's exit; the test ends it
"""


@pytest.mark.parametrize("ending, kept", [("ok", False), ("raise", True), ("interrupt", True),
                                          ("locked", True)])
def test_a_file_kept_to_resume_goes_only_when_the_process_ends_well(tmp_path, ending, kept):
    path = tmp_path / "progress.jsonl"
    done = subprocess.run([sys.executable, "-c", KEPT_UNTIL_EXIT, str(path), ending],
                          capture_output=True, text=True, timeout=60)
    try:
        assert (done.returncode == 0) == (ending in ("ok", "locked")), done.stderr
        assert path.exists() == kept
    finally:
        if ending == "locked" and done.stdout.strip():
            os.kill(int(done.stdout.split()[-1]), signal.SIGKILL)


def test_a_progress_file_held_by_another_process_is_left_to_it(tmp_path, caplog):
    """delete_unless_held (the commands delete their progress with it once their output is
    whole): a file another process locked meanwhile (the same computation started again) is
    left to it; an error deleting it is said, never raised."""
    path = tmp_path / "progress.jsonl"
    path.write_text("kept")
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, sys; f = open(sys.argv[1]); "
                               "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); "
                               "sys.stdin.read()", str(path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        atomic.delete_unless_held(path)
        assert path.exists()
    finally:
        holder.communicate("", timeout=60)
    real_unlink = os.unlink

    def refused(target, *args, **kwargs):
        if Path(target) == path:
            raise PermissionError(13, "Permission denied")
        return real_unlink(target, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "unlink", refused)
        atomic.delete_unless_held(path)
    assert path.exists() and "could not delete the progress file" in caplog.text
    atomic.delete_unless_held(path)
    assert not path.exists()
    atomic.delete_unless_held(path)  # gone already: nothing to do


def test_text_is_written_and_read_as_utf8_whatever_the_locale(tmp_path):
    """WikiText holds '\u2013' and '\u00e9': under a locale whose encoding is not UTF-8
    (LC_ALL=C with Python's locale coercion off) the text rule's write failed with a
    UnicodeEncodeError, and the perplexity job reads the file as UTF-8 anyway."""
    text = "caf\u00e9 \u2013 na\u00efve"
    script = ("import sys; from prunebench.atomic import write_text, write_json, read_json; "
              f"write_text(sys.argv[1], {ascii(text)}); "
              f"write_json(sys.argv[1] + '.json', {{'name': {ascii(text)}}}); "
              f"print(read_json(sys.argv[1] + '.json')['name'] == {ascii(text)})")
    assert script.isascii()  # a command line the C locale can decode
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONCOERCECLOCALE": "0", "PYTHONUTF8": "0"}
    done = subprocess.run([sys.executable, "-X", "utf8=0", "-c", script, str(tmp_path / "t.txt")],
                          env=env, capture_output=True, text=True, encoding="utf-8")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == "True"
    assert (tmp_path / "t.txt").read_text(encoding="utf-8") == text
