"""Helpers for tests that run Snakemake on a copy of the workflow in a temporary directory."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def copy_workflow(workdir: Path) -> Path:
    """The workflow's files (not results or resources) copied into `workdir`."""
    workdir.mkdir(parents=True, exist_ok=True)
    for item in ("Snakefile", "workflow", "config", "profiles", "envs"):
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
