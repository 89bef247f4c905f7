"""Results of a long computation kept on disk as they come, so that an interrupted run (a
pre-empted cluster job, a kill, an out-of-memory batch) computes only what is left when rerun.

A store holds {key: value} for one computation, named by a digest of its header: what decides
the values besides the keys (the model's content, the data, the settings, the code and library
versions), which the file's first line repeats. A store whose first line is not its header is
another computation's (or an older format's) and is started afresh. Entries are appended as
plain JSON lines (never pickle) and flushed line by line; a line torn by a kill is dropped.

One process at a time writes a store: it holds the file's lock while the store is open, and a
second process computing the same thing meanwhile keeps no progress of its own. Keeping
progress is best-effort: a folder that cannot be written, a full disk or a file system without
locks turns it off with a warning, never failing the computation.

Users: lm-eval's answers (prunebench.zeroshot_progress) and the depth criteria's calibration
losses (prunebench.methods.loss_memo).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_FSYNC_EVERY_S = 30.0  # flushed each line (a killed process loses nothing); fsynced this often


class ProgressStore:
    """One computation's kept values: `values` read from `path`, and new ones appended to it
    while it is open. Open with `open_progress`; `close` releases the file's lock.

    `what` names the values and `work` the computation in messages ("zero-shot answers", "the
    evaluation")."""

    def __init__(self, path: Path, fd: int, values: dict[str, Any], what: str, work: str):
        self.path = path
        self._fd = fd
        self.values = values
        self.what = what
        self.work = work
        self._synced = time.monotonic()

    @staticmethod
    def decode(value: Any) -> Any:
        """A value as read back from JSON, made what the computation gave (a subclass's)."""
        return value

    @property
    def is_open(self) -> bool:
        return self._fd >= 0

    def put(self, key: str, value: Any) -> Any:
        """Keep `value` under `key` (a key already kept keeps its first value); returns the
        value as a rerun will read it back (through JSON and `decode`), or None where it is not
        JSON and so is not kept."""
        if key in self.values:
            return self.values[key]
        try:
            # "answer" for any value: the line format of the zero-shot stores, which came first
            # (a store written before this module was shared reads back unchanged).
            line = (json.dumps({"key": key, "answer": value}) + "\n").encode()
        except (TypeError, ValueError):  # not JSON: computed again next time
            return None
        kept = self.values[key] = self.decode(json.loads(line)["answer"])
        if self._fd < 0:
            return kept
        try:
            written = 0
            while written < len(line):
                written += os.write(self._fd, line[written:])
            if time.monotonic() - self._synced > _FSYNC_EVERY_S:
                os.fsync(self._fd)
                self._synced = time.monotonic()
        except OSError as exc:  # a full disk or a quota: the computation goes on without it
            log.warning("cannot keep %s in %s (%s): %s goes on, but a rerun after an "
                        "interruption will compute everything again", self.what, self.path,
                        exc, self.work)
            self._release()
        return kept

    def close(self, finished: bool, keep: bool = False) -> None:
        """Release the store. A `finished` computation's store is deleted (its results are
        made), unless `keep` (its caller deletes it once they are written); an unfinished
        one's is kept for the rerun."""
        if self._fd < 0:
            return
        try:
            if finished and not keep:
                self.path.unlink(missing_ok=True)
            else:
                os.fsync(self._fd)
            if not finished:
                log.info("%d %s kept in %s: a rerun of %s computes only the rest",
                         len(self.values), self.what, self.path, self.work)
        except OSError as exc:  # never hides the computation's own outcome
            log.warning("progress file %s: %s", self.path, exc)
        finally:
            self._release()

    def _release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing releases the lock
            self._fd = -1


def model_identity(model, packages: tuple[str, ...]) -> dict[str, Any] | None:
    """What a model's kept values depend on besides their keys: the checkpoint's content, the
    shapes (a model pruned in memory after loading is another model), the dtype and device
    type, prunebench's code and the versions of `packages`. None for a model that did not come
    from a checkpoint with a manifest (`modeling.load_model` records its content)."""
    from importlib.metadata import PackageNotFoundError, version

    from prunebench.modeling import dtype_name
    from prunebench.provenance import code_identity

    checkpoint = getattr(model, "prunebench_content", None)
    if not checkpoint:
        return None
    versions = {}
    for package in packages:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    shapes = json.dumps([[name, list(p.shape)] for name, p in model.named_parameters()])
    return {"checkpoint": checkpoint,
            "shapes": hashlib.sha256(shapes.encode()).hexdigest(),
            "dtype": dtype_name(model),
            "devices": sorted({p.device.type for p in model.parameters()}),
            "code": code_identity()["hash"], "versions": versions}


def store_path(folder: str | Path, header: dict[str, Any]) -> Path:
    """The file of the store with this header in `folder`."""
    header = json.loads(json.dumps(header))
    digest = hashlib.sha256(json.dumps(header, sort_keys=True).encode()).hexdigest()[:24]
    return Path(folder) / f"{digest}.jsonl"


def open_progress(folder: str | Path, header: dict[str, Any], what: str, work: str,
                  store_class: type[ProgressStore] = ProgressStore) -> ProgressStore | None:
    """The store of `header` in `folder`, with what an earlier run of it left; None when it
    cannot be kept (another process holds it: the same computation run twice at once; a folder
    that cannot be written; a file system without locks), with a warning."""
    header = json.loads(json.dumps(header))
    path = store_path(folder, header)
    try:
        fd = _locked(path)
    except OSError as exc:
        return _cannot_keep(path, exc, what, work)
    if fd is None:
        log.warning("another process is computing the same %s with %s: %s keeps no progress of "
                    "its own", what, path, work)
        return None
    try:
        values, keep = _read(fd, header, store_class.decode)
        os.ftruncate(fd, keep)  # drops a line torn by a kill, or a stale store entirely
        os.lseek(fd, 0, os.SEEK_END)
        if keep == 0:
            os.write(fd, (json.dumps(header, sort_keys=True) + "\n").encode())
    except OSError as exc:
        os.close(fd)
        return _cannot_keep(path, exc, what, work)
    if values:
        log.info("resuming %s: %d %s from an interrupted run (%s)", work, len(values), what, path)
    return store_class(path, fd, values, what, work)


def _cannot_keep(path: Path, exc: OSError, what: str, work: str) -> None:
    log.warning("cannot keep %s in %s (%s): %s runs without them, so an interrupted one will "
                "start over", what, path, exc, work)


def _locked(path: Path, attempts: int = 5) -> int | None:
    """A descriptor of `path` holding its exclusive lock, or None while another holds it."""
    import fcntl  # POSIX only: imported where a lock is taken

    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(attempts):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except OSError:
            os.close(fd)
            raise
        # The holder before us may have finished and deleted the file between our open and our
        # lock: then we hold a file no one else will find. Lock the one at the path instead.
        try:
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)
    raise OSError(f"{path} kept being replaced while it was being locked")


def _read(fd: int, header: dict[str, Any], decode) -> tuple[dict[str, Any], int]:
    """(values, bytes to keep) of the file: 0 bytes when its first line is not `header`."""
    data = b""
    while chunk := os.read(fd, 1 << 20):
        data += chunk
    end = data.rfind(b"\n") + 1  # what follows the last newline is a torn line
    lines = data[:end].splitlines()
    try:
        if not lines or json.loads(lines[0]) != header:
            return {}, 0
    except ValueError:
        return {}, 0
    values = {}
    for line in lines[1:]:
        try:
            entry = json.loads(line)
            values[str(entry["key"])] = decode(entry["answer"])
        except (ValueError, KeyError, TypeError):
            continue  # a damaged line only costs its value being computed again
    return values, end
