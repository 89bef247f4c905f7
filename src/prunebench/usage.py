"""What the workflow's jobs spent: one record per attempt, kept beside the job's log, and their
sums by rule (`prunebench usage`).

A job (one rule's cell) may run several times: it fails and is retried, SLURM requeues it after
pre-emption, a config change reruns it. Each attempt appends a start line to its job's ledger
when its rule script sets up logging (prunebench.logs.setup), and an end line when its process
exits: wall time since the process started, CPU time (its own and its children's), peak host
memory, the GPUs it allocated memory on with their peak, and how it ended. An attempt killed
outright (SIGKILL: the kernel's out-of-memory killer, a scheduler's kill after its grace time)
writes no end line: its time is unknown, and the summary counts it apart. Snakemake's own
`benchmark:` files keep only a job's last successful attempt, and know no GPU.

GPU time is an attempt's wall time times the GPUs it allocated memory on (torch's allocator):
what a job held, not what it kept busy; a job that ran on the CPU spends none, whatever it asked
the scheduler for. The Snakemake process's own time (planning, waiting for jobs) is no job's.
"""

from __future__ import annotations

import atexit
import json
import os
import resource
import shlex
import socket
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Set by prunebench.logs where a job's script ends otherwise than by finishing: the exception's
# type name, and "failed", "interrupted" (Ctrl-C) or "terminated" (SIGTERM).
_ending: dict[str, str] = {}
_started: list[Path] = []  # this process's ledger, once its attempt is recorded


def ledger_path(log_path: str | os.PathLike) -> Path:
    """A job's ledger: beside its log (one log per job), hidden, as it is no result."""
    log_path = Path(log_path)
    return log_path.with_name(f".{log_path.name}.usage.jsonl")


def snakemake_job() -> Any:
    """The `snakemake` object Snakemake gives a rule script (in its `__main__`), else None: a
    test or another program calling logs.setup is no workflow job and keeps no ledger."""
    return getattr(sys.modules.get("__main__"), "snakemake", None)


def _process_age_s() -> float:
    """Seconds since this process started (Linux's /proc), so that an attempt's wall time holds
    its imports (torch's take seconds) before logs.setup; 0 where /proc cannot say."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(0.0, uptime - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return 0.0


def _append(path: Path, record: dict[str, Any]) -> None:
    """One line, written by one call: an attempt killed while writing leaves at most a torn last
    line, which the reader skips. A ledger never fails its job (a full disk refuses it too)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(record, sort_keys=True) + "\n")
    except OSError:
        pass


def _utc(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


def started() -> bool:
    """Whether this process has recorded its attempt (one per process)."""
    return bool(_started)


def start_attempt(log_path: str | os.PathLike, job: Any, run: str | None) -> None:
    """Record this attempt's start in its job's ledger, and its end when the process exits."""
    attempt = uuid.uuid4().hex
    age = _process_age_s()
    started = time.time() - age
    # The wall time is measured on the monotonic clock: a clock step (NTP) during a job must
    # not lengthen or shorten it.
    started_monotonic = time.monotonic() - age
    path = ledger_path(log_path)
    _started.append(path)
    resources = getattr(job, "resources", None)
    _append(path, {
        "event": "start", "attempt": attempt, "rule": getattr(job, "rule", None),
        "wildcards": {k: str(v) for k, v in getattr(job, "wildcards", {}).items()},
        "run": run, "started_utc": _utc(started), "host": socket.gethostname(),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        "threads": getattr(job, "threads", None),
        "gpus_requested": getattr(resources, "gpu", None),
    })
    atexit.register(_end_attempt, path, attempt, started_monotonic)


def note_ending(outcome: str, error: str | None = None) -> None:
    """How this job's script ended, where it did not finish (prunebench.logs)."""
    _ending.update(outcome=outcome, error=error or "")


def _gpus() -> list[dict[str, Any]]:
    """The GPUs this process allocated memory on, with their peak: torch's allocator, read only
    where torch is imported and CUDA started (never started here)."""
    torch = sys.modules.get("torch")
    try:
        if torch is None or not torch.cuda.is_initialized():
            return []
        return [{"index": i, "name": torch.cuda.get_device_name(i),
                 "peak_allocated_bytes": int(torch.cuda.max_memory_allocated(i))}
                for i in range(torch.cuda.device_count())
                if torch.cuda.max_memory_allocated(i) > 0]
    except Exception:  # noqa: BLE001 - a broken CUDA state at exit must not hide the job's end
        return []


def _end_attempt(path: Path, attempt: str, started_monotonic: float) -> None:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    now = time.time()
    _append(path, {
        "event": "end", "attempt": attempt, "ended_utc": _utc(now),
        "wall_s": round(time.monotonic() - started_monotonic, 3),
        "cpu_s": round(own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime, 3),
        # ru_maxrss is in KiB on Linux (bytes on macOS); the largest process, not their sum
        "max_rss_bytes": max(own.ru_maxrss, children.ru_maxrss) * (
            1 if sys.platform == "darwin" else 1024),
        "outcome": _ending.get("outcome", "finished"), "error": _ending.get("error", ""),
        "gpus": _gpus(),
    })


@dataclass
class Attempt:
    rule: str
    cell: str
    run: str | None
    started_utc: str
    host: str
    slurm_job_id: str | None
    outcome: str = "no end"  # killed outright, or running now
    error: str = ""
    wall_s: float | None = None
    cpu_s: float | None = None
    max_rss_bytes: int | None = None
    gpus: list[dict[str, Any]] = field(default_factory=list)

    @property
    def gpu_s(self) -> float:
        return (self.wall_s or 0.0) * len(self.gpus)


def _records(path: Path) -> list[dict[str, Any]]:
    records = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:  # a line torn by a kill while it was written
            continue
        if isinstance(record, dict) and isinstance(record.get("attempt"), str):
            records.append(record)
    return records


def read_attempts(directory: str | os.PathLike = ".") -> list[Attempt]:
    """Every attempt recorded under DIRECTORY/logs, oldest first."""
    attempts: dict[str, Attempt] = {}
    for path in sorted((Path(directory) / "logs").rglob(".*.usage.jsonl")):
        damaged = 0
        for record in _records(path):
            try:
                _read_record(record, path, attempts)
            except (TypeError, ValueError, AttributeError):  # edited by hand, or damaged
                damaged += 1
        if damaged:
            print(f"warning: {path}: {damaged} record(s) with values of the wrong type skipped "
                  "(edited or damaged): the usage leaves those attempts, or their ends, out",
                  file=sys.stderr)
    return sorted(attempts.values(), key=lambda a: a.started_utc)


def _read_record(record: dict[str, Any], path: Path, attempts: dict[str, Attempt]) -> None:
    """One record into `attempts`: a start adds an attempt, an end completes its attempt; a
    value of the wrong type raises before anything is changed."""
    key = record["attempt"]
    if record.get("event") == "start":
        wildcards = record.get("wildcards") or {}
        attempts[key] = Attempt(
            rule=str(record.get("rule") or path.parent.name),
            cell=", ".join(f"{k}={v}" for k, v in wildcards.items()),
            run=record.get("run"), started_utc=str(record.get("started_utc", "")),
            host=str(record.get("host", "")), slurm_job_id=record.get("slurm_job_id"))
    elif record.get("event") == "end" and key in attempts:
        gpus = record.get("gpus") or []
        if not isinstance(gpus, list) or not all(isinstance(g, dict) for g in gpus):
            raise TypeError(f"gpus {gpus!r} is no list of GPU records")
        ended = {"outcome": str(record.get("outcome", "finished")),
                 "error": str(record.get("error", "")),
                 "wall_s": float(record.get("wall_s") or 0.0),
                 "cpu_s": float(record.get("cpu_s") or 0.0),
                 "max_rss_bytes": int(record.get("max_rss_bytes") or 0), "gpus": list(gpus)}
        for name, value in ended.items():
            setattr(attempts[key], name, value)


def latest_run(attempts: list[Attempt]) -> str | None:
    """The run id of the newest attempt (a Snakemake run's jobs share one: logs.RUN_VARIABLE)."""
    return attempts[-1].run if attempts else None


def duration(seconds: float) -> str:
    """0.4 s, 41 s, 12 min 5 s, 3 h 12 min."""
    if seconds < 9.95:
        return f"{seconds:.1f} s"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def _gib(n: int | None) -> str:
    """Memory in GiB; "-" where no attempt said (each killed outright)."""
    return f"{n / 2**30:.1f} GiB" if n else "-"


OUTCOMES = ("finished", "failed", "interrupted", "terminated", "no end")


def by_rule(attempts: list[Attempt]) -> list[dict[str, Any]]:
    """One row per rule, in the order its first attempt started, and a total row."""
    groups: dict[str, list[Attempt]] = defaultdict(list)
    for attempt in attempts:
        groups[attempt.rule].append(attempt)
    rows = [_row(rule, group) for rule, group in groups.items()]
    if rows:
        rows.append(_row("total", attempts))
    return rows


def _row(rule: str, attempts: list[Attempt]) -> dict[str, Any]:
    row: dict[str, Any] = {"rule": rule, "jobs": len({(a.rule, a.cell) for a in attempts}),
                           "attempts": len(attempts)}
    row.update({outcome: sum(a.outcome == outcome for a in attempts) for outcome in OUTCOMES})
    row.update(wall_s=sum(a.wall_s or 0.0 for a in attempts),
               cpu_s=sum(a.cpu_s or 0.0 for a in attempts),
               gpu_s=sum(a.gpu_s for a in attempts),
               max_rss_bytes=max((a.max_rss_bytes or 0 for a in attempts), default=0))
    return row


def gpu_time_by_name(attempts: list[Attempt]) -> dict[str, float]:
    """GPU seconds per GPU model: timings of two GPU models are no one sum's."""
    spent: dict[str, float] = defaultdict(float)
    for attempt in attempts:
        for gpu in attempt.gpus:
            spent[str(gpu.get("name"))] += attempt.wall_s or 0.0
    return dict(spent)


def format_summary(attempts: list[Attempt], *, jobs: bool = False) -> str:
    """The table `prunebench usage` prints: by rule (or by job), then the GPU time per model."""
    if jobs:
        header = ["rule", "cell", "attempts", "last ended", "wall", "GPU time", "CPU time",
                  "peak host memory"]
        cells: dict[tuple[str, str], list[Attempt]] = defaultdict(list)
        for attempt in attempts:
            cells[(attempt.rule, attempt.cell)].append(attempt)
        body = [[rule, cell or "-", str(len(group)), group[-1].outcome,
                 duration(sum(a.wall_s or 0.0 for a in group))
                 if any(a.wall_s is not None for a in group) else "-",
                 duration(sum(a.gpu_s for a in group)),
                 duration(sum(a.cpu_s or 0.0 for a in group)),
                 _gib(max(a.max_rss_bytes or 0 for a in group))]
                for (rule, cell), group in cells.items()]
    else:
        header = ["rule", "jobs", "attempts", *OUTCOMES, "wall", "GPU time", "CPU time",
                  "peak host memory"]
        body = [[row["rule"], str(row["jobs"]), str(row["attempts"]),
                 *(str(row[o]) for o in OUTCOMES), duration(row["wall_s"]),
                 duration(row["gpu_s"]), duration(row["cpu_s"]), _gib(row["max_rss_bytes"])]
                for row in by_rule(attempts)]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    gpu_time = gpu_time_by_name(attempts)
    lines.append("")
    lines.append("GPU time: " + ("; ".join(f"{name}: {seconds / 3600:.2f} GPU-hours"
                                           for name, seconds in sorted(gpu_time.items()))
                                 if gpu_time else "none (every attempt ran on the CPU)"))
    no_end = sum(a.outcome == "no end" for a in attempts)
    if no_end:
        lines.append(f"{no_end} attempt(s) have no end: killed outright (out of memory, a "
                     "scheduler's kill) or running now; their time is not counted")
    return "\n".join(lines)


def run_line(attempts: list[Attempt], directory: str | None = None) -> str:
    """What one run's jobs spent, in one line: said when a Snakemake run ends. `directory`: the
    run's own (`--directory runs/paper`), which the usage command then names, as it is typed
    in the checkout, whose logs/ are another run's."""
    if not attempts:
        return "this run started no job"
    total = _row("total", attempts)
    ended = [f"{total[o]} {o}" for o in OUTCOMES[1:] if total[o]]
    gpu_time = gpu_time_by_name(attempts)
    return (f"this run's jobs: {total['attempts']} attempt(s) of {total['jobs']} job(s)"
            + (f" ({', '.join(ended)})" if ended else "")
            + f", {duration(total['wall_s'])} of job wall time, GPU time: "
            + ("; ".join(f"{name} {seconds / 3600:.2f} GPU-hours"
                         for name, seconds in sorted(gpu_time.items())) or "none")
            + "; by rule: " + shlex.join(["prunebench", "usage",
                                          *(["--directory", directory] if directory else []),
                                          "--latest-run"]))


def summary_json(attempts: list[Attempt]) -> dict[str, Any]:
    """What `prunebench usage --json` prints: the rows by rule, GPU seconds per GPU model, and
    every attempt."""
    return {"by_rule": by_rule(attempts), "gpu_s_by_name": gpu_time_by_name(attempts),
            "attempts": [vars(a) | {"gpu_s": a.gpu_s} for a in attempts]}
