"""Keeping benchmarks from timing each other, and noticing other work that competed.

Two benchmarks timed at once on one machine corrupt each other's figures, whoever started them
(two Snakemake runs, a user's shell, an orphan of a killed run). A benchmark job therefore holds
an exclusive OS file lock on what it times (the CPU machine, or its GPU) for its whole life
(`machine_lock`): the kernel releases it when the
process ends, however it ends, so a crashed job never blocks the next. Other work that is not a
prunebench benchmark cannot be locked out, so it is measured instead (`CompetitionMeter`):
the CPU time the rest of the machine used while a row was timed (Linux /proc/stat, less this
process's own time), the load average, and other processes on the GPU. A row is flagged when
any of them shows competition.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import resource
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

# Other processes using more than this many CPU cores on average while a row was timed.
OTHER_CPU_CORES_LIMIT = 0.5


def device_key(device="cpu") -> str:
    """What a benchmark times on: 'cpu', or one GPU by its UUID (a job's `cuda:0` is another
    GPU in every job that SLURM gives its own), by its index where no UUID is known."""
    text = str(getattr(device, "type", device))
    if not text.startswith("cuda"):
        return "cpu"
    import torch

    index = getattr(device, "index", None)
    index = torch.cuda.current_device() if index is None else index
    uuid = getattr(torch.cuda.get_device_properties(index), "uuid", None)
    return f"cuda-{uuid}" if uuid else f"cuda-{index}"


def lock_path(device="cpu") -> Path:
    """One lock per CPU machine or GPU, in a folder every user can write
    ($PRUNEBENCH_LOCK_DIR to move it, e.g. onto a node-local disk). Benchmarks on two GPUs of
    one node each hold their own, so jobs on a shared node never queue behind each other."""
    folder = Path(os.environ.get("PRUNEBENCH_LOCK_DIR", tempfile.gettempdir()))
    return folder / f"prunebench-benchmark-{device_key(device)}.lock"


@contextlib.contextmanager
def machine_lock(path: Path | None = None, device="cpu") -> Iterator[Path]:
    """Hold the benchmark lock of `device` (or `path`); wait, saying for whom, while another
    benchmark holds it."""
    path = Path(path or lock_path(device))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            log.info("another benchmark holds %s (pid %s): waiting for it to end, so the two "
                     "are never timed at once", path, holder)
            fcntl.flock(fd, fcntl.LOCK_EX)  # blocks until the holder ends, however it ends
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # closing releases the lock (and the kernel does if the process dies)


def _machine_busy_seconds() -> float | None:
    """CPU seconds the whole machine has spent busy since boot (Linux), else None."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return None
    ticks = [int(x) for x in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime


def _loadavg() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def _gpu_processes(device) -> list[int]:
    """PIDs of other processes on this CUDA device (NVML through torch), [] when unknown."""
    try:
        import torch

        if getattr(device, "type", str(device)).startswith("cuda") and torch.cuda.is_available():
            text = torch.cuda.list_gpu_processes(device)
            pids = [int(line.split()[1]) for line in text.splitlines() if line.startswith("process")]
            return [pid for pid in pids if pid != os.getpid()]
    except Exception:  # noqa: BLE001 - pynvml missing or NVML unavailable: nothing to say
        return []
    return []


class CompetitionMeter:
    """Measure other work around one timed row: `start()`, time the row, then `stop()`."""

    def __init__(self, device="cpu"):
        self.device = device

    def start(self) -> None:
        self.wall = time.perf_counter()
        self.busy, self.own = _machine_busy_seconds(), _own_seconds()
        self.load_before = _loadavg()
        self.gpu_before = _gpu_processes(self.device)

    def stop(self) -> dict:
        wall = max(time.perf_counter() - self.wall, 1e-9)
        busy = _machine_busy_seconds()
        other = None
        if busy is not None and self.busy is not None:
            other = max(0.0, (busy - self.busy) - (_own_seconds() - self.own)) / wall
        gpu_after = _gpu_processes(self.device)
        record = {"other_cpu_cores": None if other is None else round(other, 3),
                  "loadavg_before": self.load_before, "loadavg_after": _loadavg(),
                  "gpu_other_processes": sorted(set(self.gpu_before) | set(gpu_after))}
        on_cpu = not str(getattr(self.device, "type", self.device)).startswith("cuda")
        record["competition"] = competing(record, count_cpu=on_cpu)
        return record


def competing(record: dict, count_cpu: bool = True,
              cpu_limit: float = OTHER_CPU_CORES_LIMIT) -> bool:
    """Whether other work ran beside the timed row: another process on its GPU, or (for a CPU
    benchmark) other processes taking more than `cpu_limit` cores. A GPU benchmark is not
    flagged for CPU work elsewhere on a shared node: other jobs there own other cores."""
    if record.get("gpu_other_processes"):
        return True
    other = record.get("other_cpu_cores")
    return count_cpu and other is not None and other > cpu_limit
