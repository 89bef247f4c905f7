"""Helpers for tests that run Snakemake on a copy of the workflow in a temporary directory."""
from __future__ import annotations

import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def copy_workflow(workdir: Path) -> Path:
    """The workflow's files (not results or resources) copied into `workdir`."""
    workdir.mkdir(parents=True, exist_ok=True)
    for item in ("workflow", "config", "profiles"):
        src = REPO / item
        (shutil.copytree if src.is_dir() else shutil.copy)(src, workdir / item)
    return workdir


def run_snakemake(workdir: Path, *args: str, configfile: str | list[str], check: bool = True,
                  env: dict | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    """`python -m snakemake <args> --configfile <files>` in `workdir`, as a forked process."""
    # --configfile takes several values (merged left to right), so it goes last.
    files = [configfile] if isinstance(configfile, str) else list(configfile)
    proc = _forked_snakemake([*args, "--configfile", *files], workdir,
                             {**os.environ, **(env or {})}, timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n"
                             f"{proc.stderr[-6000:]}")
    return proc


# A test's Snakemake run spends about 2 of its 3 seconds importing Snakemake and its plugins
# (the SLURM plugin brings pandas), and the suite runs Snakemake over a hundred times. So each
# run is forked from a multiprocessing fork server that imported `snakemake.cli` once, and what
# the workflow's files and Snakemake import while they are parsed (another 0.5 s). The run is
# still a process of its own, as with `python -m snakemake`: same arguments, working directory
# and environment; Snakemake's global state and signal handlers end with it; its output is what
# it wrote to file descriptors 1 and 2. The server forks from a clean single-threaded
# interpreter, not from the test process with its torch threads.
_FORK_SERVER = multiprocessing.get_context("forkserver")
_FORK_SERVER.set_forkserver_preload([
    "snakemake.cli", "snakemake.report", "jsonschema", "smart_open",  # Snakemake's, on use
    "prunebench.plan.checks", "prunebench.plan.pending", "prunebench.plan.jobsize",
    "prunebench.zeroshot", "prunebench.data", "prunebench.hub",
    "prunebench.checkpoint.local_import"])  # the workflow's (workflow/rules/common.smk)


def _snakemake_main(argv: list[str], cwd: str, env: dict[str, str], out: str, err: str) -> None:
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    for fd, path in ((1, out), (2, err)):
        with open(path, "wb") as stream:
            os.dup2(stream.fileno(), fd)
    sys.argv = ["snakemake", *argv]  # what Snakemake's log shows as the command
    _poll_remote_jobs_at_most_every_given_interval()
    from snakemake.cli import main

    main(argv)  # ends in sys.exit(status), which becomes the process's exit code


def _poll_remote_jobs_at_most_every_given_interval() -> None:
    """The one way a forked run differs from `python -m snakemake`: a remote executor's status
    checks come at most --seconds-between-status-checks apart. The SLURM plugin lengthens its
    interval by 10 s at each check that finds no job finished (up to 180 s: a real cluster's
    accounting is not to be queried often), so a test job that ran for minutes under load
    waited up to a minute more, after its end, to be noticed (59 s measured). What the plugin
    does at each check is unchanged; only how long it sleeps between two is bounded."""
    import asyncio

    from snakemake_interface_executor_plugins.executors.remote import RemoteExecutor

    async def sleep(self) -> None:
        given = self.workflow.remote_execution_settings.seconds_between_status_checks
        await asyncio.sleep(min(self.next_seconds_between_status_checks, given))

    RemoteExecutor.sleep = sleep


def _forked_snakemake(argv: list[str], cwd: Path, env: dict[str, str],
                      timeout: float) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "snakemake", *argv]
    with tempfile.TemporaryDirectory() as scratch:
        out, err = Path(scratch, "stdout"), Path(scratch, "stderr")
        process = _FORK_SERVER.Process(target=_snakemake_main,
                                       args=(argv, str(cwd), env, str(out), str(err)))
        process.start()
        process.join(timeout)
        timed_out = process.exitcode is None
        if timed_out:
            process.kill()
            process.join()
        stdout = out.read_text(errors="replace") if out.exists() else ""
        stderr = err.read_text(errors="replace") if err.exists() else ""
    if timed_out:  # as subprocess.run(timeout=...) would
        raise subprocess.TimeoutExpired(command, timeout, stdout, stderr)
    return subprocess.CompletedProcess(command, process.exitcode, stdout, stderr)


def reversed_keys(value):
    """The same config with every mapping's keys in reverse order (as another tool might write
    it back); lists keep their order, which means something."""
    if isinstance(value, dict):
        return {k: reversed_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reversed_keys(v) for v in value]
    return value


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a (dry) run: rule -> number of jobs."""
    lines = output.splitlines()
    start = lines.index("Job stats:") + 3  # skip the header and its rule
    counts = {}
    for line in lines[start:]:
        if not line.strip():
            break
        rule, count = line.split()
        counts[rule] = int(count)
    counts.pop("total", None)
    return counts


# The default config made quick for the end-to-end tests, merged into it key by key. Every rule
# still runs, on dense, a depth-pruned variant recovered by LoRA (its prune runs as the
# recovery's base: an unlisted base is a supported config) and a width-pruned one, on the
# `compiled` backend. Left out are the default's other variants (`depth_ppl-0.8`'s own cells,
# `llm_pruner-0.8`) and the `hf` backend's cells: thirteen jobs of about 10 s each, most of it
# importing torch and transformers, running the same rule code as the cells kept. Each method
# and backend is tested on its own (test_width_methods, test_depth, test_families,
# test_benchmark), and the default's full set of jobs by a dry run (test_workflow). Smaller
# amounts of work too: a short training run (the tests that judge the model's quality use their
# own checkpoint), FLAP on the depth criterion's 10 calibration windows (one calibration job for
# both), a smaller zero-shot suite, one token config and a small sweep.
FAST = {
    "models": {"tiny": {"variants": ["dense", "depth_ppl-0.8+lora", "flap-0.8"]}},
    "embedded": {"seed": 0, "model": {"seed": 0, "steps": 20}},
    "methods": {"flap": {"calibration": {"n": 10}}},
    # Memory-only settings off their defaults, so that the run shows they reach the jobs.
    "evaluation": {"zeroshot": {"suite": {"items": 40}, "batch_size": 16},
                   "perplexity": {"batch_size": 3}},
    "lora": {"gradient_checkpointing": True},
    # Adaptive repeats kept on but small: the plumbing is tested here, the statistics elsewhere.
    "benchmark": {"backends": ["compiled"], "token_configs": ["12x16"], "batch_sizes": [1, 8],
                  "warmup": 1, "repeats": 2, "max_repeats": 4},
    # `device: cpu` frees the jobs from the one-GPU limit; with PARALLEL_JOBS two jobs then run
    # at once, so their seconds of library start-up overlap.
    "device": "cpu",
}
# One thread per job. The rules claim every core (right for a user's run), but the test run
# shares the two cores with the test process and the tiny test model's training: a job's second
# OpenMP thread then mostly spins, and the 40 training steps took 134 s instead of 52.
# The benchmarks still time one at a time (their machine lock); what they measure here is
# plumbing, not speed.
PARALLEL_JOBS = ["--set-threads", "model=1", "prune=1", "perplexity=1", "zeroshot=1", "lora=1",
                 "benchmark=1", "paired_benchmark=1"]


def make_workdir(path: Path, **overrides) -> Path:
    """A copy of the workflow with `test.yaml`: the default config with FAST merged in, and
    `overrides` on top (each replaces its key's entries one level down)."""
    copy_workflow(path)
    config = merged(yaml.safe_load((REPO / "config" / "config.yaml").read_text()), FAST)
    for key, value in overrides.items():
        config[key] = {**config[key], **value} if isinstance(value, dict) and key in config else value
    (path / "test.yaml").write_text(yaml.safe_dump(config))
    return path


def merged(base: dict, changes: dict) -> dict:
    """`base` with `changes` merged in at every depth (a change's non-mapping value replaces)."""
    out = dict(base)
    for key, value in changes.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = merged(out[key], value) if both else value
    return out


def snakemake_command(*args: str, configfile: str = "test.yaml") -> list[str]:
    """The command `snakemake()` runs (the test config's default target unless args name one)."""
    return [sys.executable, "-m", "snakemake", "--cores", "2", *args, *PARALLEL_JOBS,
            "--configfile", configfile]


def snakemake(workdir: Path, *args: str, check: bool = True, configfile: str = "test.yaml",
              env: dict | None = None) -> subprocess.CompletedProcess:
    # --set-threads takes several values: it goes after the targets, before --configfile.
    return run_snakemake(workdir, "--cores", "2", *args, *PARALLEL_JOBS, configfile=configfile,
                         check=check, env=env)


def run_rule_script(name: str, monkeypatch, **fields) -> dict:
    """Run workflow/scripts/<name>.py in this process as Snakemake's `script:` directive does:
    with a global `snakemake` whose input, output, params and wildcards are the given mappings
    (attribute access) and whose config is `config` ({} unless given). The job's logging set-up
    is skipped: it would replace pytest's log handlers and watch this process's parent."""
    import logging
    import runpy
    import types

    from prunebench import logs

    monkeypatch.setattr(logs, "setup", lambda *args, **kwargs: logging.getLogger("prunebench"))
    job = {"log": [os.devnull], "config": {}}
    for key, value in fields.items():
        named = key in ("input", "output", "params", "wildcards")
        job[key] = types.SimpleNamespace(**value) if named else value
    return runpy.run_path(str(REPO / "workflow" / "scripts" / f"{name}.py"),
                          init_globals={"snakemake": types.SimpleNamespace(**job)})


def require_executable_folder(folder: Path) -> None:
    """Skip a test that runs programs it writes into `folder` (a fake python3, a fake sbatch)
    where the file system forbids running them: a temporary folder mounted noexec, as on
    hardened hosts and some CI runners."""
    import pytest

    if os.statvfs(folder).f_flag & getattr(os, "ST_NOEXEC", 0):  # Linux only
        pytest.skip(f"{folder} is on a file system mounted noexec: the fake programs this test "
                    "writes there cannot run (set TMPDIR to a folder that allows it)")
