"""Logging for workflow scripts: progress to the job's log file and to stderr."""

from __future__ import annotations

import logging
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path


def setup(log_path: str | Path | None = None, level: int = logging.INFO,
          stop_with_parent: bool = True) -> logging.Logger:
    """Log to the job's file and stderr. Every rule script calls this first, so it is also where
    a job starts watching Snakemake, its parent, and stops if Snakemake goes away."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    for handler in handlers:
        handler.addFilter(_file_named_loggers)
    logging.basicConfig(level=level, handlers=handlers, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    warnings.filterwarnings("ignore", message="Initializing zero-element tensors is a no-op")
    if stop_with_parent:
        from prunebench.parent_watch import watch_parent

        watch_parent()
    return logging.getLogger("prunebench")


def _file_named_loggers(record: logging.LogRecord) -> bool:
    """Tame loggers that libraries name by their file (`get_logger(__file__)`, as in
    huggingface_hub's serialization): such a logger sits outside its library's hierarchy, so it
    escapes the library's own WARNING level and prints a full venv path as its name. Keep its
    warnings and errors, under the module's dotted name; drop its info."""
    if not (record.name.endswith(".py") and ("/" in record.name or "\\" in record.name)):
        return True
    if record.levelno < logging.WARNING:
        return False
    record.name = module_name(record.name)
    return True


def module_name(path: str) -> str:
    """`.../site-packages/huggingface_hub/serialization/_torch.py` -> the dotted module name
    (`huggingface_hub.serialization._torch`); a file outside site-packages: its stem."""
    parts = Path(path.replace("\\", "/")).with_suffix("").parts
    anchors = [i for i, part in enumerate(parts) if part in ("site-packages", "dist-packages")]
    return ".".join(parts[anchors[-1] + 1:]) if anchors else parts[-1]


def _log_uncaught(exc_type, exc, tb) -> None:
    """Put a failing job's error in its log file too, where Snakemake points the user."""
    from prunebench import PrunebenchError

    logger = logging.getLogger("prunebench")
    if issubclass(exc_type, PrunebenchError):  # the user's to fix: the message is the point
        logger.error("%s: %s", exc_type.__name__, exc)
    elif issubclass(exc_type, KeyboardInterrupt):  # Ctrl-C: one line per job, no traceback
        logger.warning("interrupted: this job's outputs were not written, and the next run "
                       "redoes it (a benchmark resumes from its finished batch sizes)")
    else:
        logger.error("job failed", exc_info=(exc_type, exc, tb))


class Progress:
    """Progress of a long loop that is otherwise silent: `what: i/n (x%), elapsed s, eta s`.

    Logged on the first step, on the last, and in between at most once every `every` seconds,
    so a job's log shows it is alive without a line per window (a 2048-window pass in batches
    of 8 would otherwise log 256 lines). `clock` is injectable for tests.
    """

    def __init__(self, logger: logging.Logger, what: str, total: int, every: float = 10.0,
                 clock: Callable[[], float] = time.monotonic):
        self.logger, self.what, self.total, self.every, self.clock = logger, what, total, every, clock
        self.done = 0
        self.started = clock()
        self.last_logged: float | None = None

    def step(self, n: int = 1) -> None:
        """`n` more units done."""
        self.update(self.done + n)

    def update(self, done: int) -> None:
        """`done` units done in all."""
        self.done = done
        now = self.clock()
        first = self.last_logged is None
        last = done >= self.total
        if first or last or now - self.last_logged >= self.every:
            self.last_logged = now
            self.logger.info("%s", self.message(now))

    def message(self, now: float) -> str:
        elapsed = now - self.started
        pct = 100.0 * self.done / self.total if self.total else 100.0
        # The rate so far predicts the rest; nothing to go on before the first unit.
        eta = (f"{elapsed / self.done * (self.total - self.done):.0f} s" if self.done
               else "unknown")
        return (f"{self.what}: {self.done}/{self.total} ({pct:.0f}%), elapsed {elapsed:.0f} s, "
                f"eta {eta}")
