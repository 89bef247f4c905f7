"""Atomic writes: a killed job never leaves a file that looks complete.

Everything is written to a temporary sibling first and renamed into place, because a rename
within one file system is atomic and Snakemake judges completeness by existence. A folder that
replaces an existing one (`--force`) takes two renames, so the old one is kept aside as
`.<name>.old` until the new one is in, and the next write to that folder settles what a kill in
between left.

The temporary is made private (mkstemp: 0600, mkdtemp: 0700) and a rename keeps the mode, so
before the rename everything written is given the mode a plain `open` or `mkdir` would have
given it under the process umask: outputs are shared as the user's umask says, not private.

Where two processes may make the same thing at once (outside Snakemake, which never runs two
jobs for one output), `exclusive_lock` makes the second wait for the first.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import logging
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prunebench import ResourceError

log = logging.getLogger(__name__)


@contextlib.contextmanager
def exclusive_lock(path: str | os.PathLike, waiting: str) -> Iterator[Path]:
    """Hold an exclusive OS file lock on `path` (created) for the block. While another process
    holds it, log `waiting` with the holder's pid, and wait. The kernel releases the lock when
    its holder ends, however it ends: a killed process never blocks the next."""
    import fcntl  # POSIX only: imported where a lock is taken, not by every user of this module

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, own = open_lock_file(path)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("%s (%s is held by pid %s)", waiting, path, lock_holder(fd))
            fcntl.flock(fd, fcntl.LOCK_EX)  # blocks until the holder ends, however it ends
        if own:
            sign_lock(fd)
        yield path
    finally:
        os.close(fd)  # closing releases the lock


def open_lock_file(path: Path) -> tuple[int, bool]:
    """Open (create) the lock file `path` to lock it: (its descriptor, whether it is this
    user's own file, which only then is written to). The locks of benchmarks and GPUs lie in
    a folder every user of the machine writes (the system's temporary folder), so: never
    through a symbolic link or into a file with other names (another user's link there would
    have had the pid written over its target), and read-only in another user's lock file
    (flock needs no write access; opening it for writing failed every benchmark of a second
    user)."""
    private = os.O_NOFOLLOW | os.O_CLOEXEC
    writable = True
    try:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | private, 0o666)
        except PermissionError:  # another user's lock file
            fd, writable = os.open(path, os.O_RDONLY | private), False
    except OSError as err:
        if err.errno != errno.ELOOP:
            raise
        fd = None
    info = os.fstat(fd) if fd is not None else None
    if info is None or not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        if fd is not None:
            os.close(fd)
        raise ResourceError(
            f"the lock file {path} is a link or not a plain file, which prunebench does not "
            "lock through (in a folder every user writes, it may point at another file): "
            "remove it, or set PRUNEBENCH_LOCK_DIR to a folder of your own")
    return fd, writable and info.st_uid == os.getuid()


def lock_holder(fd: int) -> str:
    """The pid a lock file's holder wrote into it (sign_lock), as text."""
    return os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"


def sign_lock(fd: int) -> None:
    """Write this process's pid into the lock file it now holds, for the next to name."""
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)


def _remove_stale(path: Path) -> str:
    """Remove what killed earlier attempts at writing `path` left behind; only one job writes a
    given output (Snakemake's guarantee), so whatever is left under this prefix is garbage.
    Returns the prefix."""
    prefix = f".{path.name}.partial-"
    for stale in path.parent.glob(f"{glob.escape(prefix)}*"):
        shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)
    return prefix


def _tmp_sibling(path: Path, is_dir: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = _remove_stale(path)
    if is_dir:
        return Path(tempfile.mkdtemp(prefix=prefix, dir=path.parent))
    fd, name = tempfile.mkstemp(prefix=prefix, dir=path.parent)
    os.close(fd)
    return Path(name)


_PROC_STATUS = Path("/proc/self/status")


def current_umask() -> int:
    """The process umask, read without changing it where Linux reports it (os.umask can only be
    read by setting it, which for a moment gives other threads' new files the wrong mode)."""
    try:
        for line in _PROC_STATUS.read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o077)  # the strictest value for the moment it is set
    os.umask(mask)
    return mask


def _apply_umask(path: Path) -> None:
    """Give `path` (and, for a folder, everything in it) the umask's default mode: files 0o666,
    folders 0o777, less the umask. Links are left alone: chmod would follow them out of the
    tree."""
    mask = current_umask()
    file_mode, dir_mode = 0o666 & ~mask, 0o777 & ~mask
    if path.is_symlink():
        return
    if not path.is_dir():
        os.chmod(path, file_mode)
        return
    os.chmod(path, dir_mode)
    for root, dirs, files in os.walk(path):  # os.walk does not descend into linked folders
        for names, mode in ((dirs, dir_mode), (files, file_mode)):
            for name in names:
                item = os.path.join(root, name)
                if not os.path.islink(item):
                    os.chmod(item, mode)


def _fsync_file(path: Path) -> None:
    """Put the file's data on disk before the rename that publishes it: after a machine crash
    (a cluster node that fails just after its job ended) a file's new name can otherwise reach
    the disk before its data, an empty or partial file under its final name. Single files only
    (results, tables, figures: small); a checkpoint folder is not synced file by file, as its
    manifest's sha256 catches damaged weights when it is loaded."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    """Put a rename in `path` on disk; file systems that cannot sync a folder are left as they
    are (the rename itself is atomic either way)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary file path; on success it replaces `path`, on error it is deleted."""
    path = Path(path)
    tmp = _tmp_sibling(path, is_dir=False)
    try:
        yield tmp
        _fsync_file(tmp)  # before the umask's mode, which may leave the owner no read bit
        _apply_umask(tmp)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        _explain_disk_full(exc, path)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary directory; on success it replaces the directory `path` (the old one
    goes only once the new one is in place: `_replace_dir`)."""
    path = Path(path)
    _settle_replaced(path)
    tmp = _tmp_sibling(path, is_dir=True)
    try:
        yield tmp
        _apply_umask(tmp)
        _replace_dir(tmp, path)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        _settle_replaced(path)
        # A file inside said so already, naming the hidden folder just removed: name `path`.
        explained = isinstance(exc, ResourceError) and exc.__cause__ is not None
        _explain_disk_full(exc.__cause__ if explained else exc, path)
        raise


def _old_sibling(path: Path) -> Path:
    return path.parent / f".{path.name}.old"


def _replace_dir(new: Path, path: Path) -> None:
    """Put the folder `new` in place of `path`.

    No rename replaces a non-empty folder, and deleting the old one first would leave neither
    if the process died before the rename. So the old one is renamed aside to a hidden sibling,
    the new one renamed in, and only then the old one deleted: at every moment one complete
    version is under `path` or (between the renames) kept aside, where `_settle_replaced` finds
    it.
    """
    old = _old_sibling(path)
    if path.exists():
        os.replace(path, old)
    os.replace(new, path)
    shutil.rmtree(old, ignore_errors=True)


def _settle_replaced(path: Path) -> None:
    """Finish a replacement that was cut short: the old version kept aside goes back under
    `path` if no new one got there, else it is deleted. Only one job writes a given output
    (Snakemake's guarantee), so nothing else is using the sibling."""
    old = _old_sibling(path)
    if not old.exists():
        return
    if path.exists():
        shutil.rmtree(old)
    else:
        os.replace(old, path)


def delete_unless_held(path: str | os.PathLike) -> None:
    """Delete a progress file whose results are written, unless another process holds its
    lock (the same computation started meanwhile, which reads it: its file now). Never raises:
    the results it served are made, and failing over their leftover would not be."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # gone already
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.unlink(path)
    except BlockingIOError:  # held by another process
        pass
    except OSError as err:
        log.warning("could not delete the progress file %s (%s): delete it by hand", path,
                    err.strerror or err)
    finally:
        os.close(fd)  # releases the lock


def delete_at_successful_exit(path: str | os.PathLike) -> None:
    """Delete `path` when this process ends without an uncaught exception (delete_unless_held):
    for what a workflow job keeps to resume (lm-eval's answers, a LoRA recovery's progress,
    calibration losses), which must outlive a failure of the result files the job's script
    writes after the library returns (a full disk, a folder it cannot write, an interrupt
    before). An uncaught exception, Ctrl-C included, leaves `sys.last_value` set when exit
    handlers run; a kill runs none: either way the file stays for the rerun. (`sys.exit(n)`
    sets nothing and counts as ending well: the rule scripts never call it.)"""
    import atexit
    import sys

    def delete() -> None:
        if getattr(sys, "last_value", None) is not None or \
                getattr(sys, "last_exc", None) is not None:
            return
        delete_unless_held(path)

    atexit.register(delete)


DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def is_disk_full(exc: BaseException) -> bool:
    """Whether `exc` says the disk (or the user's quota) is full: an OSError with that errno,
    or an error of a Rust library that wraps one as text. safetensors raises its own
    SafetensorError, 'Error while serializing: I/O error: No space left on device (os error
    28)' (seen when a pruned 7B checkpoint filled a GPU machine's disk), which no errno
    check catches."""
    if isinstance(exc, OSError):
        return exc.errno in DISK_FULL_ERRNOS
    return any(f"(os error {code})" in str(exc) for code in DISK_FULL_ERRNOS)


# How a full disk is fixed, for the workflow and for a prunebench command alike.
MORE_SPACE = ("free space, or write to a larger disk (a workflow: move results/ and resources/ "
              "there; a prunebench command: an --out there), then rerun")


def human_bytes(n: float) -> str:
    """A byte count in the unit that shows it: 5.6 MiB, not 0.0 GiB."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} bytes"


def _shown(path: Path) -> Path:
    """`path` as the user named it: an atomic write's staging folder (`.<name>.partial-<x>`)
    in its parts stands for `<name>`, the output it becomes."""
    parts = [re.sub(r"^\.(.+)\.partial-[^/]*$", r"\1", part) for part in path.parts]
    return Path(*parts)


def _explain_disk_full(exc: BaseException, path: Path) -> None:
    """A full disk gets a message with the fix; the earlier content of `path` is untouched."""
    if is_disk_full(exc):
        free = shutil.disk_usage(path.parent).free
        raise ResourceError(
            f"no space left while writing {_shown(path)} ({human_bytes(free)} free on that file "
            f"system; the partial write was removed and any earlier version is intact): "
            f"{MORE_SPACE}") from exc


def require_free_space(path: str | os.PathLike, nbytes: int, what: str) -> None:
    """Refuse, before the work that makes it, to write about `nbytes` to `path` where its file
    system has less free: a long prune whose checkpoint cannot be saved is lost work. What
    earlier killed attempts left behind is removed first (the space it held is free again);
    the earlier version of `path` stays until a new one replaces it, so it is not counted."""
    path = Path(path)
    if path.parent.is_dir():
        _remove_stale(path)
    existing = next(p for p in (path.parent, *path.parent.parents) if p.exists())
    free = shutil.disk_usage(existing).free
    if free < nbytes:
        raise ResourceError(
            f"{what} needs about {human_bytes(nbytes)} for {_shown(path)} but its file system "
            f"has {human_bytes(free)} free; nothing was computed yet: {MORE_SPACE} (results of "
            "variants no longer in the config can go)")


def write_json(path: str | os.PathLike, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n")


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def read_json_or_none(path: str | os.PathLike) -> Any:
    """A JSON file's content, or None when it is missing or not readable JSON."""
    try:
        return read_json(path)
    except (OSError, ValueError):
        return None


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):  # numpy / torch scalars
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")
