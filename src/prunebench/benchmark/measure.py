"""Measuring one run: when each output token was ready (`StepClock`) and the peak memory
while it ran (`PeakMemory`), both without disturbing what they measure."""

from __future__ import annotations

import os
import sys
import threading
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
    """Peak memory while the block runs: CUDA allocator peak, or sampled process RSS on CPU."""

    def __init__(self, device: torch.device, interval_s: float = 0.005):
        self.device = device
        self.interval_s = interval_s
        self.peak_bytes: int | None = None
        if device.type == "cuda":
            self.method = "torch.cuda.max_memory_allocated"
        elif os.path.exists("/proc/self/statm"):
            self.method = f"process RSS peak (sampled every {interval_s * 1000:.0f} ms)"
        else:
            self.method = "process RSS high-water mark (ru_maxrss, whole process lifetime)"

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes or 0, self._rss())
            self._stop.wait(self.interval_s)

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        elif self.method.startswith("process RSS peak"):
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak_bytes = torch.cuda.max_memory_allocated(self.device)
        elif self.method.startswith("process RSS peak"):
            self._stop.set()
            self._thread.join()
            self.peak_bytes = max(self.peak_bytes or 0, self._rss())
        else:
            import resource

            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            # getrusage(2): ru_maxrss is in KiB on Linux and the BSDs, in bytes on macOS.
            self.peak_bytes = peak if sys.platform == "darwin" else peak * 1024
        return False
