"""What a run's jobs spent: each attempt's record beside its job's log, and `prunebench usage`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from prunebench import cli, logs, usage

# A workflow of its own, which loads no model: one rule that finishes (after a sleep, so that
# its wall time has a floor), one that fails its first attempt and finishes its retry, one
# whose input error stops its retry at once, and one killed outright (SIGKILL).
SNAKEFILE = """
rule all:
    input: "ok.txt", "flaky.txt"

rule ok:
    output: "ok.txt"
    log: "logs/ok/one.log"
    script: "job.py"

rule flaky:
    output: "flaky.txt"
    log: "logs/flaky.log"
    script: "job.py"

rule bad_input:
    output: "bad_input.txt"
    log: "logs/bad_input.log"
    script: "job.py"

rule killed:
    output: "killed.txt"
    log: "logs/killed.log"
    script: "job.py"
"""

JOB = """
import os, signal, time
from pathlib import Path
from prunebench import PrunebenchError, logs

logs.setup(snakemake.log[0])
if snakemake.rule == "ok":
    time.sleep(0.3)
elif snakemake.rule == "flaky" and not Path("flaky.tried").exists():
    Path("flaky.tried").touch()
    raise RuntimeError("the first attempt fails")
elif snakemake.rule == "bad_input":
    raise PrunebenchError("the input is wrong")
elif snakemake.rule == "killed":
    os.kill(os.getpid(), signal.SIGKILL)
Path(snakemake.output[0]).write_text("done")
"""


def run_workflow(workdir: Path, run: str, *targets: str, check: bool = True) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "1", "--retries", "1", "--keep-going",
         *targets], cwd=workdir, capture_output=True, text=True,
        env={**os.environ, logs.RUN_VARIABLE: run})
    if check:
        assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("usage")
    (folder / "Snakefile").write_text(SNAKEFILE)
    (folder / "job.py").write_text(JOB)
    run_workflow(folder, "run-1")
    run_workflow(folder, "run-2", "bad_input.txt", "killed.txt", check=False)
    return folder


def by_rule(attempts: list[usage.Attempt]) -> dict[str, list[usage.Attempt]]:
    found: dict[str, list[usage.Attempt]] = {}
    for attempt in attempts:
        found.setdefault(attempt.rule, []).append(attempt)
    return found


def test_every_attempt_of_a_job_is_recorded_with_how_it_ended(workdir):
    attempts = by_rule(usage.read_attempts(workdir))
    assert set(attempts) == {"ok", "flaky", "bad_input", "killed"}
    (ok,) = attempts["ok"]
    assert ok.outcome == "finished" and ok.run == "run-1"
    assert ok.wall_s >= 0.3  # from the process's start, its sleep included
    assert ok.cpu_s > 0 and ok.max_rss_bytes > 2**20 and ok.gpus == []
    # the failure, then its retry, each with its own record
    assert [(a.outcome, a.error) for a in attempts["flaky"]] == [("failed", "RuntimeError"),
                                                                 ("finished", "")]
    # an input error: the retry stops at once, and says why
    first, retry = attempts["bad_input"]
    assert (first.outcome, first.error) == ("failed", "PrunebenchError")
    assert retry.outcome == "failed" and retry.error.startswith("stopped")
    # killed outright: a start and no end, each attempt
    assert [a.outcome for a in attempts["killed"]] == ["no end", "no end"]
    assert all(a.wall_s is None for a in attempts["killed"])


def test_usage_sums_the_attempts_by_rule(workdir, capsys):
    attempts = usage.read_attempts(workdir)
    rows = {row["rule"]: row for row in usage.by_rule(attempts)}
    assert (rows["flaky"]["jobs"], rows["flaky"]["attempts"]) == (1, 2)
    assert (rows["flaky"]["finished"], rows["flaky"]["failed"]) == (1, 1)
    assert rows["killed"]["no end"] == 2
    total = rows["total"]
    assert (total["jobs"], total["attempts"]) == (4, 7)
    assert total["wall_s"] == pytest.approx(sum(a.wall_s or 0 for a in attempts))
    assert total["wall_s"] == pytest.approx(sum(rows[r]["wall_s"] for r in rows if r != "total"))
    assert total["gpu_s"] == 0

    assert cli.main(["usage", "--directory", str(workdir)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("| rule | jobs | attempts | finished | failed |")
    assert "| flaky | 1 | 2 | 1 | 1 |" in out
    assert "GPU time: none (every attempt ran on the CPU)" in out
    assert "2 attempt(s) have no end" in out


def test_usage_of_the_latest_run_and_per_job(workdir, capsys):
    assert cli.main(["usage", "--directory", str(workdir), "--latest-run", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert {a["run"] for a in summary["attempts"]} == {"run-2"}
    assert {row["rule"] for row in summary["by_rule"]} == {"bad_input", "killed", "total"}

    assert cli.main(["usage", "--directory", str(workdir), "--jobs"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("| rule | cell | attempts | last ended |")
    assert "| flaky | - | 2 | finished |" in out


def test_usage_without_records_names_the_folder_it_read(tmp_path, capsys):
    assert cli.main(["usage", "--directory", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"no job records under {tmp_path / 'logs'}" in err and "--directory" in err


def test_outside_a_workflow_job_nothing_is_recorded(tmp_path):
    log = tmp_path / "logs" / "job.log"
    code = (f"from prunebench import logs; logs.setup({str(log)!r}, stop_with_parent=False); "
            "print('done')")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    assert log.exists() and not usage.ledger_path(log).exists()


def test_a_torn_line_and_an_end_without_start_are_skipped(tmp_path):
    ledger = usage.ledger_path(tmp_path / "logs" / "r" / "job.log")
    ledger.parent.mkdir(parents=True)
    start = {"event": "start", "attempt": "a", "rule": "r", "wildcards": {"model": "m"},
             "run": "x", "started_utc": "2026-01-01T00:00:00+00:00", "host": "h"}
    end = {"event": "end", "attempt": "a", "wall_s": 10.0, "cpu_s": 4.0,
           "max_rss_bytes": 5, "outcome": "finished", "gpus": []}
    stray = {"event": "end", "attempt": "b", "wall_s": 99.0}
    ledger.write_text("\n".join(json.dumps(r) for r in (start, end, stray)) + '\n{"event": "st')
    (attempt,) = usage.read_attempts(tmp_path)
    assert (attempt.rule, attempt.cell, attempt.wall_s) == ("r", "model=m", 10.0)


def test_a_record_with_values_of_the_wrong_type_is_skipped_with_a_warning(tmp_path, capsys):
    """A hand-edited or damaged record that is still JSON (wildcards a list, wall_s '12s',
    gpus a number) stopped `prunebench usage` with a traceback."""
    ledger = usage.ledger_path(tmp_path / "logs" / "r" / "job.log")
    ledger.parent.mkdir(parents=True)
    records = [{"event": "start", "attempt": "a", "rule": "r", "wildcards": ["model"]},
               {"event": "start", "attempt": "b", "rule": "r", "wildcards": {"model": "m"},
                "started_utc": "2026-01-01T00:00:00+00:00"},
               {"event": "end", "attempt": "b", "wall_s": "12s", "gpus": []},
               {"event": "start", "attempt": "c", "rule": "r", "wildcards": {"model": "n"},
                "started_utc": "2026-01-01T00:00:01+00:00"},
               {"event": "end", "attempt": "c", "wall_s": 3.0, "gpus": 5},
               {"event": "start", "attempt": "d", "rule": "r", "wildcards": {"model": "o"},
                "started_utc": "2026-01-01T00:00:02+00:00"},
               {"event": "end", "attempt": "d", "wall_s": 4.0, "outcome": "finished"}]
    ledger.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    assert cli.main(["usage", "--directory", str(tmp_path), "--jobs"]) == 0
    err = capsys.readouterr().err
    assert f"warning: {ledger}: 3 record(s) with values of the wrong type skipped" in err
    attempts = usage.read_attempts(tmp_path)
    assert [(a.cell, a.outcome, a.wall_s) for a in attempts] == [
        ("model=m", "no end", None), ("model=n", "no end", None), ("model=o", "finished", 4.0)]


class FakeCuda:
    """torch.cuda as a two-GPU process that allocated memory on its first GPU only."""

    def __init__(self, peaks: dict[int, int]):
        self.peaks = peaks

    def is_initialized(self):
        return True

    def device_count(self):
        return len(self.peaks)

    def max_memory_allocated(self, index):
        return self.peaks[index]

    def get_device_name(self, index):
        return f"GPU model {index}"


def test_gpu_time_counts_the_gpus_an_attempt_allocated_on(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(cuda=FakeCuda({0: 7, 1: 0})))
    assert usage._gpus() == [{"index": 0, "name": "GPU model 0", "peak_allocated_bytes": 7}]

    at_exit = []  # the end is written here, not at this test process's exit
    monkeypatch.setattr(usage.atexit, "register", lambda *args: at_exit.append(args))
    monkeypatch.setattr(usage, "_started", [])
    # the attempt's process "started" 5 s ago: its wall time is at least that on any machine
    # (this worker's own age, which /proc gives elsewhere, is not the test's to rely on)
    monkeypatch.setattr(usage, "_process_age_s", lambda: 5.0)
    job = types.SimpleNamespace(rule="prune", wildcards={"model": "m"}, threads=8,
                                resources=types.SimpleNamespace(gpu=2))
    usage.start_attempt(tmp_path / "logs" / "prune" / "m.log", job, "run")
    (end,) = at_exit
    end[0](*end[1:])
    (attempt,) = usage.read_attempts(tmp_path)
    assert attempt.gpus == [{"index": 0, "name": "GPU model 0", "peak_allocated_bytes": 7}]
    assert attempt.gpu_s == attempt.wall_s > 0  # one GPU held, whatever was asked for
    assert usage.gpu_time_by_name([attempt]) == {"GPU model 0": attempt.wall_s}

    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(cuda=FakeCuda({0: 7, 1: 9})))
    end[0](*end[1:])  # a second end of the same attempt replaces the first
    (attempt,) = usage.read_attempts(tmp_path)
    assert attempt.gpu_s == pytest.approx(2 * attempt.wall_s)
    assert usage.gpu_time_by_name([attempt]) == {"GPU model 0": attempt.wall_s,
                                                 "GPU model 1": attempt.wall_s}
    assert "GPU model 1: " in usage.format_summary([attempt])


def test_durations_read_as_a_person_says_them():
    assert [usage.duration(s) for s in (41.4, 725, 11_520)] == ["41 s", "12 min 5 s",
                                                                "3 h 12 min"]


def test_the_default_runs_jobs_each_have_a_finished_attempt(default_workflow_run, capsys):
    everything = usage.read_attempts(default_workflow_run)
    # the run pytest started; other tests may rerun jobs here later, and some make them fail
    attempts = [a for a in everything if a.run == everything[0].run]
    logged = {p for p in (default_workflow_run / "logs").rglob("*.log")}
    ledgers = {p.parent / p.name[1:].removesuffix(".usage.jsonl")
               for p in (default_workflow_run / "logs").rglob(".*.usage.jsonl")}
    assert ledgers == logged  # every job that logs keeps a ledger
    finished = {(a.rule, a.cell) for a in attempts if a.outcome == "finished"}
    assert finished == {(a.rule, a.cell) for a in attempts}
    assert {"prune", "benchmark", "perplexity", "aggregate"} <= {a.rule for a in attempts}
    assert cli.main(["usage", "--directory", str(default_workflow_run)]) == 0
    assert "| benchmark |" in capsys.readouterr().out
    # and the run said so when it ended (the Snakefile's onsuccess), counting its own attempts
    jobs = len({(a.rule, a.cell) for a in attempts})
    said = (default_workflow_run / "snakemake.out").read_text()
    assert (f"prunebench: this run's jobs: {len(attempts)} attempt(s) of {jobs} job(s), "
            in said), said[-2000:]
    assert "GPU time: none; by rule: prunebench usage --latest-run" in said


def test_the_line_a_run_ends_with_counts_what_did_not_finish():
    def attempt(outcome, wall, gpus=()):
        return usage.Attempt(rule="r", cell=outcome, run="x", started_utc="", host="",
                             slurm_job_id=None, outcome=outcome, wall_s=wall,
                             gpus=[{"name": name} for name in gpus])

    line = usage.run_line([attempt("finished", 3600, ["H200"]), attempt("failed", 1800),
                           attempt("no end", None)])
    assert line == ("this run's jobs: 3 attempt(s) of 3 job(s) (1 failed, 1 no end), "
                    "1 h 30 min of job wall time, GPU time: H200 1.00 GPU-hours; by rule: "
                    "prunebench usage --latest-run")
    assert usage.run_line([]) == "this run started no job"
    # a run in a directory of its own: the command typed in the checkout reads that one's logs
    assert usage.run_line([attempt("finished", 60)], "/data/runs/my paper").endswith(
        "by rule: prunebench usage --directory '/data/runs/my paper' --latest-run")


def test_usage_of_a_directory_that_is_not_there_says_so(tmp_path, capsys):
    """A mistyped --directory was told to run the workflow there first."""
    (tmp_path / "afile").write_text("")
    for given, what in ((tmp_path / "runs" / "papr", "does not exist"), (tmp_path / "afile",
                                                                         "is a file")):
        assert cli.main(["usage", "--directory", str(given)]) == 2
        err = capsys.readouterr().err
        assert f"error: --directory {given} {what}: give the folder of the run" in err
        assert "run the workflow there first" not in err


def test_jobs_with_json_is_refused_not_dropped(tmp_path, capsys):
    """--json printed its rows by rule, dropping --jobs without a word."""
    assert cli.main(["usage", "--directory", str(tmp_path), "--jobs", "--json"]) == 2
    err = capsys.readouterr().err
    assert "error: --jobs shapes the table, which --json replaces" in err
    assert "drop --jobs or --json" in err
