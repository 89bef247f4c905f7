"""Keeping benchmarks from timing each other, and noticing other work that competed.

Two benchmarks timed at once on one machine corrupt each other's figures, whoever started them
(two Snakemake runs, a user's shell, an orphan of a killed run). A benchmark job therefore holds
an exclusive OS file lock on what it times (the CPU machine, or its GPU) for its whole life
(`machine_lock`): the kernel releases it when the
process ends, however it ends, so a crashed job never blocks the next. Other work that is not a
prunebench benchmark cannot be locked out, so it is measured instead (`CompetitionMeter`):
the CPU time the rest of the machine used while a row's timed runs ran (Linux /proc/stat, less
this process's own time), the load average, and other processes on the GPU. A row is flagged
when any of them shows competition; a check that could not be made (no nvidia-ml-py to list
the GPU's processes, no /proc/stat) is recorded as null, never as "none found".
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from prunebench.atomic import exclusive_lock

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
    with exclusive_lock(path or lock_path(device),
                        "another benchmark is timing on this device: waiting for it to end, so "
                        "the two are never timed at once") as held:
        yield held


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


# Where this process's PIDs in every PID namespace are listed (Linux, `NSpid:` line).
PROC_STATUS = Path("/proc/self/status")


def own_pids() -> set[int]:
    """This process's PID in every PID namespace it lies in, outermost first in `NSpid:`.

    NVML names processes by their PID in the driver's (the host's) namespace: inside a
    container with its own PID namespace that is not os.getpid(), so comparing with
    os.getpid() alone would count the benchmark itself as another process on its GPU."""
    pids = {os.getpid()}
    try:
        for line in PROC_STATUS.read_text().splitlines():
            if line.startswith("NSpid:"):
                pids.update(int(field) for field in line.split()[1:])
    except (OSError, ValueError):  # not Linux, or a kernel without NSpid (before 4.1)
        pass
    return pids


# Why a GPU listing could not be used although NVML answered.
NO_PROCESS_LISTED = ("NVML lists no process on the GPU, not even this benchmark, which runs on "
                     "it: processes are hidden from here (a container without the driver's "
                     "view of PIDs?)")


def _gpu_processes(device) -> tuple[list[int] | None, str | None, bool]:
    """(PIDs of other processes on this CUDA device, None, unmatched) from NVML through torch,
    or (None, why not, False) when they cannot be listed: nvidia-ml-py (pynvml) missing, NVML
    failing, a CPU device, or a listing without this process. Unknown is never reported as none.

    Called while this process holds the device (after the build and warm-up), so the listing
    names it. NVML names processes by their PID in the driver's namespace; in a container with
    its own /proc mount `NSpid:` holds only the container's PID, and none listed is this
    process's (`unmatched`): it is one of them, which one cannot be told. Then one process
    listed is this one alone (no others), and with several all are returned, this one among
    them: competition either way, as there are others."""
    if not str(getattr(device, "type", device)).startswith("cuda"):
        return None, "not a CUDA device", False
    try:
        import torch

        if not torch.cuda.is_available():
            return None, "CUDA is not available", False
        text = torch.cuda.list_gpu_processes(device)
    except Exception as exc:  # noqa: BLE001 - NVML errors: the check could not be made
        return None, f"{type(exc).__name__}: {str(exc)[:200]}", False
    lines = text.splitlines()
    # A listing starts with "GPU:<index>"; anything else is torch's explanation of why it
    # could not make one (e.g. "pynvml module not found, please install nvidia-ml-py").
    if not lines or not lines[0].startswith("GPU:"):
        return (None, text.strip()[:200] or "empty answer from torch.cuda.list_gpu_processes",
                False)
    pids = [int(line.split()[1]) for line in lines if line.startswith("process")]
    if not pids:
        return None, NO_PROCESS_LISTED, False
    mine = own_pids()
    if mine.isdisjoint(pids):
        return (pids if len(pids) > 1 else []), None, True
    return [pid for pid in pids if pid not in mine], None, False


# Reasons already logged, so an unchecked GPU is said once per process, not once per row.
_UNCHECKED_SAID: set[str] = set()


class CompetitionMeter:
    """Measure other work around one row's timed runs: `start()`, time them, then `stop()`."""

    def __init__(self, device="cpu"):
        self.device = device
        self.on_gpu = str(getattr(device, "type", device)).startswith("cuda")

    def start(self) -> None:
        self.wall = time.perf_counter()
        self.busy, self.own = _machine_busy_seconds(), _own_seconds()
        self.load_before = _loadavg()
        self.gpu_before = _gpu_processes(self.device) if self.on_gpu else (None, None, False)

    def stop(self) -> dict:
        wall = max(time.perf_counter() - self.wall, 1e-9)
        busy = _machine_busy_seconds()
        other = None
        if busy is not None and self.busy is not None:
            other = max(0.0, (busy - self.busy) - (_own_seconds() - self.own)) / wall
        record = {"other_cpu_cores": None if other is None else round(other, 3),
                  "other_cpu_cores_resolution": round(tick_resolution(wall), 3),
                  "loadavg_before": self.load_before, "loadavg_after": _loadavg(),
                  "gpu_other_processes": None}
        if self.on_gpu:
            (before, why, unmatched), (after, why_after, unmatched_after) = \
                self.gpu_before, _gpu_processes(self.device)
            if before is not None or after is not None:
                record["gpu_other_processes"] = sorted(set(before or []) | set(after or []))
                if unmatched or unmatched_after:
                    # this process is among them where there are several (its PID as NVML
                    # names it is not visible here): say so rather than pick one
                    record["gpu_own_pid_unmatched"] = True
                    if "unmatched" not in _UNCHECKED_SAID:
                        _UNCHECKED_SAID.add("unmatched")
                        log.warning("NVML names no process on the GPU by a PID of this one (a "
                                    "container with its own /proc?): a row with several "
                                    "processes on the GPU lists them all in "
                                    "gpu_other_processes, this one among them, and is flagged "
                                    "as competition")
            else:
                record["gpu_unchecked"] = why or why_after
                if record["gpu_unchecked"] not in _UNCHECKED_SAID:
                    _UNCHECKED_SAID.add(record["gpu_unchecked"])
                    hint = ("" if record["gpu_unchecked"] == NO_PROCESS_LISTED
                            else "; install nvidia-ml-py to check them")
                    log.warning("other processes on the GPU cannot be listed (%s): rows record "
                                "gpu_other_processes and competition as null (not checked)%s",
                                record["gpu_unchecked"], hint)
        record["competition"] = competing(record, count_cpu=not self.on_gpu)
        return record


def describe(record: dict) -> str:
    """What a row's record of other work says, in words, for a log line: which processes shared
    its GPU, or how many CPU cores other processes took beside it against the limit."""
    said = []
    if record.get("gpu_other_processes"):
        pids = ", ".join(map(str, record["gpu_other_processes"]))
        said.append(f"other processes on its GPU (PIDs {pids}"
                    f"{', this one among them' if record.get('gpu_own_pid_unmatched') else ''})")
    other = record.get("other_cpu_cores")
    if other is not None:
        limit = OTHER_CPU_CORES_LIMIT + (record.get("other_cpu_cores_resolution") or 0.0)
        load = [record.get("loadavg_before"), record.get("loadavg_after")]
        said.append(f"other processes took {other:.2f} CPU cores on average (a CPU row is "
                    f"flagged above {limit:.2f})"
                    + (f", load average {load[0]:.2f} before and {load[1]:.2f} after"
                       if None not in load else ""))
    return "; ".join(said) or "no other work recorded"


def tick_resolution(wall: float) -> float:
    """How many cores of "other work" the machine's CPU accounting can show over `wall`
    seconds when there was none: /proc/stat counts each CPU's time in whole ticks (1/100 s),
    so each CPU's busy time over the window is off by up to about a tick at either end, while
    the benchmark's own time (getrusage) is exact. Over a short window on many cores that is
    several cores (2 ticks x 64 CPUs over 1 s: 1.28), more than the competition limit."""
    return 2 * (os.cpu_count() or 1) / os.sysconf("SC_CLK_TCK") / max(wall, 1e-9)


def competing(record: dict, count_cpu: bool = True) -> bool | None:
    """Whether other work ran beside the timed row: another process on its GPU, or (for a CPU
    benchmark) other processes taking more than OTHER_CPU_CORES_LIMIT cores beyond what the CPU
    accounting's ticks can show by themselves (`other_cpu_cores_resolution`). A GPU benchmark
    is not flagged for CPU work elsewhere on a shared node: other jobs there own other cores.
    None when the check that counts could not be made (a GPU's processes unlisted, no CPU
    accounting): not checked, which is neither competition nor its absence."""
    if record.get("gpu_other_processes"):
        return True
    if count_cpu:
        other = record.get("other_cpu_cores")
        slack = record.get("other_cpu_cores_resolution") or 0.0  # rows older than it: none
        return None if other is None else other > OTHER_CPU_CORES_LIMIT + slack
    return None if record.get("gpu_other_processes") is None else False
