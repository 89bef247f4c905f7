"""Measuring one run: when each output token was ready (`StepClock`) and the peak memory
while it ran (`PeakMemory`), both without disturbing what they measure."""

from __future__ import annotations

import sys
import time

import torch

def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class StepClock:
    """Marks when each output token is ready, relative to the start of the call.

    On CUDA the marks are events recorded on the stream: they add no synchronisation, so timing
    a run this way does not change it; they are read after the final synchronize.
    """

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self._start = None
        self._marks: list = []

    def _now(self):
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        return time.perf_counter()

    def start(self) -> None:
        self._start = self._now()
        self._marks = []

    def mark(self) -> None:
        self._marks.append(self._now())

    def times(self) -> list[float]:
        """Seconds from start to each mark (call after synchronising)."""
        if self.cuda:
            return [self._start.elapsed_time(m) / 1000 for m in self._marks]
        return [m - self._start for m in self._marks]


class PeakMemory:
    """Peak memory while the block runs: the CUDA allocator's peak; on a CPU, the process RSS
    high-water mark that Linux keeps (VmHWM), reset before the block (/proc/self/clear_refs);
    else ru_maxrss, the whole process lifetime's. Nothing runs beside the timed code: a thread
    sampling the RSS every 5 ms (as before) woke inside the timed runs and took the
    interpreter's lock from them, slowing Python-bound generation by several percent."""

    def __init__(self, device: torch.device):
        self.device = device
        self.peak_bytes: int | None = None
        if device.type == "cuda":
            self.method = "torch.cuda.max_memory_allocated"
        elif _resettable_high_water_mark():
            self.method = "process RSS high-water mark (VmHWM, reset before the timed runs)"
        else:
            self.method = "process RSS high-water mark (ru_maxrss, whole process lifetime)"

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        elif "VmHWM" in self.method:
            _reset_high_water_mark()
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak_bytes = torch.cuda.max_memory_allocated(self.device)
        elif "VmHWM" in self.method:
            self.peak_bytes = _high_water_mark()
        else:
            import resource

            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            # getrusage(2): ru_maxrss is in KiB on Linux and the BSDs, in bytes on macOS.
            self.peak_bytes = peak if sys.platform == "darwin" else peak * 1024
        return False


CLEAR_REFS, STATUS = "/proc/self/clear_refs", "/proc/self/status"


def _reset_high_water_mark() -> None:
    """proc(5): writing 5 to clear_refs resets the peak RSS to the current RSS (Linux 4.0+)."""
    with open(CLEAR_REFS, "w") as fh:
        fh.write("5")


def _high_water_mark() -> int:
    with open(STATUS) as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    raise OSError(f"{STATUS} has no VmHWM line")


def _resettable_high_water_mark() -> bool:
    try:
        _reset_high_water_mark()
        _high_water_mark()
    except OSError:
        return False
    return True
