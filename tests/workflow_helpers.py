"""Helpers for tests that run Snakemake on a copy of the workflow in a temporary directory."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
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
    # --configfile takes several values (merged left to right), so it goes last.
    files = [configfile] if isinstance(configfile, str) else list(configfile)
    cmd = [sys.executable, "-m", "snakemake", *args, "--configfile", *files]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n"
                             f"{proc.stderr[-6000:]}")
    return proc


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


# The default config made quick for the end-to-end tests: a short training run (the tests that
# judge the model's quality use their own checkpoint), one token config and a small sweep.
FAST = {
    "embedded": {"seed": 0, "model": {"seed": 0, "steps": 40}},
    # Adaptive repeats kept on but small: the plumbing is tested here, the statistics elsewhere.
    "benchmark": {"token_configs": ["12x16"], "batch_sizes": [1, 8], "warmup": 1, "repeats": 2,
                  "max_repeats": 4},
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
                 "benchmark=1"]


def make_workdir(path: Path, **overrides) -> Path:
    """A copy of the workflow with `test.yaml`: the default config, FAST and `overrides` on top."""
    copy_workflow(path)
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for key, value in {**FAST, **overrides}.items():
        config[key] = {**config[key], **value} if isinstance(value, dict) and key in config else value
    (path / "test.yaml").write_text(yaml.safe_dump(config))
    return path


def snakemake_command(*args: str, configfile: str = "test.yaml") -> list[str]:
    """The command `snakemake()` runs (the test config's default target unless args name one)."""
    return [sys.executable, "-m", "snakemake", "--cores", "2", *args, *PARALLEL_JOBS,
            "--configfile", configfile]


def snakemake(workdir: Path, *args: str, check: bool = True, configfile: str = "test.yaml",
              env: dict | None = None) -> subprocess.CompletedProcess:
    # --set-threads takes several values: it goes after the targets, before --configfile.
    return run_snakemake(workdir, "--cores", "2", *args, *PARALLEL_JOBS, configfile=configfile,
                         check=check, env=env)
