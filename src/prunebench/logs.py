"""Logging for workflow scripts: progress to the job's log file and to stderr."""

from __future__ import annotations

import logging
import os
import re
import signal
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path

from prunebench import usage
from prunebench.atomic import read_json_or_none, write_json

# Names one Snakemake run: the Snakefile's main process sets it anew, and the run's jobs (local
# processes, and cluster jobs, which inherit the submitting environment) keep it, while the next
# run gets its own. It tells a scheduler's retry of a job apart from a new run.
RUN_VARIABLE = "PRUNEBENCH_RUN_ID"


def new_run_id() -> str:
    return uuid.uuid4().hex


class Terminated(KeyboardInterrupt):
    """SIGTERM (`kill`, `timeout`, a batch system's time limit or pre-emption), raised where
    the process is, so that it stops as Ctrl-C stops it: what it was writing is dropped whole
    and what it keeps to resume (zero-shot answers) is flushed, instead of dying mid-write."""


def raise_terminated(signum, frame):
    raise Terminated()


# How long a job may take to stop after SIGTERM (a native call must return to Python first,
# threads must end) before it exits outright, as parent_watch does; a batch system's SIGKILL
# may come sooner.
TERMINATE_GRACE_S = 60.0


def _terminate_job(signum, frame):
    """A rule script's SIGTERM: stop as Ctrl-C does (Terminated); a second SIGTERM kills at
    once (the default is back), and a job that has not stopped within TERMINATE_GRACE_S
    exits."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    timer = threading.Timer(TERMINATE_GRACE_S, os._exit, args=(128 + signal.SIGTERM,))
    timer.daemon = True
    timer.start()
    raise Terminated()


def _default_sigterm_in_child() -> None:
    """A child forked without exec (a worker pool) is stopped by SIGTERM as processes are:
    it has no exception to raise it as, nor a log of its own."""
    if signal.getsignal(signal.SIGTERM) is _terminate_job:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


_fork_hook_registered = False


def _interrupted_while_starting(exc_type, exc, tb) -> None:
    """Ctrl-C in a rule script before setup(), while it imports torch and transformers (seconds
    of every job's start, when a Ctrl-C to Snakemake reaches its jobs too): one line, as after
    setup, instead of a traceback through the import machinery per job. Anything else is left
    to Python's own hook."""
    if issubclass(exc_type, KeyboardInterrupt):
        sys.stderr.write("interrupted while starting (importing its libraries): nothing was "
                         "written\n")
    else:
        sys.__excepthook__(exc_type, exc, tb)


# Set on import: every rule script imports this module before its heavy imports. A hook that
# someone else set first is kept.
if sys.excepthook is sys.__excepthook__:
    sys.excepthook = _interrupted_while_starting


# The user name and password a URL may carry (`https://user:secret@mirror/...`: an HF_ENDPOINT
# or proxy of a site's mirror): an HTTP client's request lines and the errors it raises name
# the URL whole.
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


def redact(text: str) -> str:
    """`text` with the credentials of every URL in it replaced by `***`."""
    return _URL_CREDENTIALS.sub("***@", text)


class RedactingFormatter(logging.Formatter):
    """A log line (its traceback too) without the credentials of the URLs it names."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


# HTTP clients that log every request's URL at INFO: the job's log would list each hub call
# (with a mirror's credentials, where its URL holds them); their warnings stay.
QUIET_HTTP_LOGGERS = ("httpx", "httpcore", "urllib3")


def setup(log_path: str | Path | None = None, level: int = logging.INFO,
          stop_with_parent: bool = True) -> logging.Logger:
    """Log to the job's file and stderr. Every rule script calls this first, so it is also where
    a job starts watching Snakemake, its parent, and stops if Snakemake goes away, and where a
    retry of a job that failed on its input stops (_stop_if_retry_cannot_help)."""
    console = logging.StreamHandler(sys.stderr)
    handlers: list[logging.Handler] = [console]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    formatter = RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in handlers:
        handler.addFilter(_file_named_loggers)
        handler.setFormatter(formatter)
    if log_path:
        console.addFilter(_worth_the_console)
    logging.basicConfig(level=level, handlers=handlers, force=True)
    for name in QUIET_HTTP_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    global _failure_record
    _failure_record = failure_record_path(log_path) if log_path else None
    job = usage.snakemake_job()
    if log_path and job is not None and not usage.started():
        usage.start_attempt(log_path, job, os.environ.get(RUN_VARIABLE))
    _stop_if_retry_cannot_help()
    if threading.current_thread() is threading.main_thread():  # only it may set a handler
        signal.signal(signal.SIGTERM, _terminate_job)
        global _fork_hook_registered
        if not _fork_hook_registered:
            os.register_at_fork(after_in_child=_default_sigterm_in_child)
            _fork_hook_registered = True
    warnings.filterwarnings("ignore", message="Initializing zero-element tensors is a no-op")
    if stop_with_parent:
        from prunebench.parent_watch import watch_parent

        watch_parent()
    return logging.getLogger("prunebench")


def _worth_the_console(record: logging.LogRecord) -> bool:
    """What a job with a log file also says on Snakemake's console, beside its other jobs':
    prunebench's own lines and every warning. The libraries' progress notes (lm-eval's twenty
    lines per zero-shot job: seeds, tasks, contexts) go to the job's log alone."""
    return record.levelno >= logging.WARNING or record.name.split(".")[0] == "prunebench"


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


_failure_record: Path | None = None  # this job's (setup), where its input errors are recorded


def failure_record_path(log_path: str | Path) -> Path:
    """Where a job whose input failed it says so for its retries: beside its log (one log per
    job), hidden, as it is no result."""
    log_path = Path(log_path)
    return log_path.with_name(f".{log_path.name}.failed.json")


def _stop_if_retry_cannot_help() -> None:
    """A job that failed on its input in this run, started again by the scheduler's retries
    (the SLURM profile's `retries`, or `--retries`), would fail the same way after loading its
    model again, which on a 13B model takes minutes of a GPU: it stops at once with the first
    attempt's error. A new run (another run id) forgets the record and runs the job."""
    run = os.environ.get(RUN_VARIABLE)
    if _failure_record is None or not run:
        return
    record = read_json_or_none(_failure_record)
    if isinstance(record, dict) and record.get("run") == run and record.get("error"):
        logging.getLogger("prunebench").error(
            "a retry cannot fix this job's failure earlier in this run, so it stops at once: "
            "%s. Fix that, then run snakemake again", record["error"])
        usage.note_ending("failed", "stopped: the same failure earlier in this run")
        raise SystemExit(1)
    _failure_record.unlink(missing_ok=True)


def _record_input_failure(exc: BaseException) -> None:
    run = os.environ.get(RUN_VARIABLE)
    if _failure_record is None or not run:
        return
    try:
        write_json(_failure_record, {"run": run, "error": redact(f"{type(exc).__name__}: {exc}")})
    except Exception:  # noqa: BLE001 - the record only spares retries (a full disk refuses it
        pass           # too); the error itself is already logged


def _log_uncaught(exc_type, exc, tb) -> None:
    """Put a failing job's error in its log file too, where Snakemake points the user."""
    from prunebench import PrunebenchError

    logger = logging.getLogger("prunebench")
    usage.note_ending("terminated" if issubclass(exc_type, Terminated)
                      else "interrupted" if issubclass(exc_type, KeyboardInterrupt)
                      else "failed", exc_type.__name__)
    if issubclass(exc_type, PrunebenchError):  # the user's to fix: the message is the point
        logger.error("%s: %s", exc_type.__name__, exc)
        if not exc_type.retry_may_help:
            _record_input_failure(exc)
    elif issubclass(exc_type, KeyboardInterrupt):  # Ctrl-C, SIGTERM: one line, no traceback
        logger.warning("%s: this job's outputs were not written, and the next run "
                       "redoes it (a benchmark resumes from its finished batch sizes, a "
                       "zero-shot evaluation from its kept answers, a LoRA recovery from its "
                       "last saved step)",
                       "terminated (SIGTERM)" if issubclass(exc_type, Terminated)
                       else "interrupted")
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
