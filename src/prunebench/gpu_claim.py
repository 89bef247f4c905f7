"""One GPU per job on a machine with several (`snakemake --resources gpu=4` on a 4-GPU node).

Snakemake counts GPU jobs (the `gpu` resource) but does not say which GPU a job should use, and
every job asking for `cuda` would land on the first one. So a process that asks for the GPU
without naming one (`device: auto` or `cuda`, through `modeling.resolve_device`) claims one: the
first GPU that no other prunebench process holds, by an OS file lock per GPU that the kernel
releases when the process ends, however it ends. A process whose model is spread over the GPUs
by a device map claims them all, in index order, after letting go of its own single claim, so
two such processes never wait on each other. With one GPU visible nothing is claimed (the
plain run's behaviour); a device named with its index (`cuda:1`) is used as given, and a
CUDA_VISIBLE_DEVICES that shows one GPU per process turns claiming off.

Torch-free: callers pass the GPUs' keys (their UUIDs, so that processes which see the GPUs in
another order or under another CUDA_VISIBLE_DEVICES still agree on which GPU a lock is for).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path

from prunebench.atomic import open_lock_file, sign_lock

log = logging.getLogger(__name__)

# How often a process waiting for a GPU looks again, in seconds.
POLL_S = 2.0

# The locks this process holds: GPU key -> open file descriptor (closing it lets go).
_held: dict[str, int] = {}


def lock_file(key: str) -> Path:
    """The lock of the GPU named `key`, beside the benchmark locks ($PRUNEBENCH_LOCK_DIR, else
    the system's temporary folder: one per machine, which every user can write)."""
    folder = Path(os.environ.get("PRUNEBENCH_LOCK_DIR", tempfile.gettempdir()))
    return folder / f"prunebench-gpu-{key}.lock"


def _take(key: str, wait: bool) -> bool:
    """Lock GPU `key` for this process; without `wait`, only if no other process holds it."""
    import fcntl  # POSIX only: imported where a lock is taken

    if key in _held:
        return True
    path = lock_file(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, own = open_lock_file(path)  # read-only in another user's, never through a link
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        return False
    if own:
        sign_lock(fd)
    _held[key] = fd
    return True


def claim_one(keys: list[str], poll_s: float = POLL_S) -> int:
    """The index of the GPU this process holds among `keys` (GPU i's key is keys[i]): the one
    it holds already, else the first free one, waiting while every one is held."""
    for index, key in enumerate(keys):
        if key in _held:
            return index
    said = False
    while True:
        for index, key in enumerate(keys):
            if _take(key, wait=False):
                log.info("using GPU %d of %d (%s)", index, len(keys), key)
                return index
        if not said:
            log.warning("all %d GPUs are held by other prunebench jobs: waiting for one of "
                        "them to end", len(keys))
            said = True
        time.sleep(poll_s)


def claim_all(keys: list[str]) -> None:
    """Hold every GPU of `keys`, for a model spread over them by a device map: the single
    claim this process may hold is let go first, then each is taken in index order, waiting
    for the process that holds it."""
    if all(key in _held for key in keys):
        return
    release()
    for key in keys:
        if not _take(key, wait=False):
            log.warning("GPU %s is held by another prunebench job: waiting for it to end, as "
                        "this model is spread over all %d GPUs", key, len(keys))
            _take(key, wait=True)


def release() -> None:
    """Let go of every GPU this process holds."""
    while _held:
        _, fd = _held.popitem()
        os.close(fd)
