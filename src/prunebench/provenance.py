"""How a result was made: versions, the code, device, seed and the cell's config, recorded in
every file."""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import os
import platform
import re
import shutil
import socket
import subprocess
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

PACKAGES = ("prunebench", "torch", "transformers", "accelerate", "safetensors", "snakemake",
            "datasets", "lm_eval", "peft")
# Recorded in every result as well: tokenization (tokenizers, sentencepiece) decides the
# calibration windows and perplexity streams, huggingface_hub what a download fetched. Not in
# package_versions, which also names the saved progress that interrupted jobs resume from:
# adding names there would make every such save unusable once.
ALSO_RECORDED = ("tokenizers", "sentencepiece", "huggingface_hub", "numpy")


@functools.cache
def installed_version(name: str) -> str | None:
    """A package's installed version (None where it is not installed), read once a process:
    each lookup scans sys.path and parses its METADATA file (3-7 ms), and every benchmark sweep
    records a dozen (its fingerprint, its provenance)."""
    try:
        return metadata.version(name.replace("_", "-"))
    except metadata.PackageNotFoundError:
        return None


def _installed_versions(names) -> dict[str, str | None]:
    return {name: installed_version(name) for name in names}


def package_versions() -> dict[str, str | None]:
    versions = _installed_versions(PACKAGES)
    if versions["prunebench"] is None:
        # Run from a checkout on PYTHONPATH, not installed (a GPU node without pip access): the
        # package's own version, not null. `code` says which commit it was in either case.
        from prunebench import __version__

        versions["prunebench"] = __version__
    return versions


# The prunebench package this process imported; its code identity is what made the results.
PACKAGE_DIR = Path(__file__).resolve().parent
# Where the package lies in a checkout of this repository; a copy elsewhere inside some git work
# tree (a non-editable install into a venv under the checkout) is not that checkout's code.
_CHECKOUT_PREFIX = "src/prunebench/"


def code_hash(root: Path = PACKAGE_DIR) -> str:
    """sha256 over the package's .py files (sorted relative paths, each with its content's
    sha256): names the code even without git, e.g. installed from a wheel."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py"), key=lambda p: p.relative_to(root).as_posix()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _git(args: list[str], cwd: Path) -> str | None:
    """git's stdout, or None when git is missing, fails or hangs: provenance never fails a job."""
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10,
                             # never take the index lock: jobs run `git status` while the user
                             # may be committing in the same checkout
                             env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def git_state(root: Path = PACKAGE_DIR) -> tuple[str | None, bool | None]:
    """(commit, uncommitted changes under src/ or workflow/) of the checkout holding the
    package at `root`; (None, None) when it is not this repository's checkout or git is absent."""
    head = _git(["rev-parse", "HEAD", "--show-toplevel", "--show-prefix"], root)
    lines = head.splitlines() if head else []
    if len(lines) != 3 or lines[2] != _CHECKOUT_PREFIX:
        return None, None
    commit, top, _ = lines
    status = _git(["status", "--porcelain", "--", "src", "workflow"], Path(top))
    return commit, None if status is None else bool(status.strip())


@functools.cache
def code_identity(root: Path = PACKAGE_DIR) -> dict[str, Any]:
    """The code that makes this process's results. Computed once per process: its modules were
    read when imported, so a later edit of the files would not describe what ran, and git may
    take a while on a busy disk."""
    commit, dirty = git_state(root)
    return {"commit": commit, "dirty": dirty, "hash": code_hash(root)}


@functools.cache
def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    """The processor's model name ("AMD EPYC 7B13", "Intel(R) Xeon(R) Platinum 8480+"): what
    tells two CPU machines apart, where `platform.processor()` gives '' on Linux and only the
    architecture elsewhere. None where the system does not say (some ARM boards)."""
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "cpu model", "Processor") and value.strip():
                return " ".join(value.split())
    except OSError:
        pass
    if platform.system() == "Darwin":
        try:
            out = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"],
                                 capture_output=True, text=True, timeout=10)
            return out.stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            return None
    return None


def device_info(device: torch.device | str | None = None) -> dict[str, Any]:
    device = torch.device(device) if device is not None else None
    info: dict[str, Any] = {
        "device": str(device) if device is not None else None,
        "cpu": platform.processor() or platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda_available": torch.cuda.is_available(),
        "cuda_version": torch.version.cuda,
    }
    if torch.cuda.is_available() and (device is None or device.type == "cuda"):
        index = device.index if device is not None and device.index is not None else 0
        props = torch.cuda.get_device_properties(index)
        info.update(gpu_name=props.name, gpu_memory_bytes=props.total_memory,
                    gpu_capability=f"{props.major}.{props.minor}",
                    driver_version=_nvidia_driver_version())
    return info


def _nvidia_driver_version() -> str | None:
    try:
        import subprocess

        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 else None
    except (OSError, IndexError, Exception):  # noqa: BLE001 - provenance must never fail a job
        return None


# The SLURM job a result was made in, from the variables SLURM sets in a job step (each where
# set): its id names the job's log (.snakemake/slurm_logs/rule_<rule>/<wildcards>/<id>.log)
# and its accounting (`sacct -j <id>`), and a restart count above 0 says SLURM requeued it
# (pre-empted, or its node failed) and it resumed from its kept progress.
SLURM_VARIABLES = {"job_id": "SLURM_JOB_ID", "array_job_id": "SLURM_ARRAY_JOB_ID",
                   "array_task_id": "SLURM_ARRAY_TASK_ID", "cluster": "SLURM_CLUSTER_NAME",
                   "partition": "SLURM_JOB_PARTITION", "node": "SLURMD_NODENAME",
                   "restart_count": "SLURM_RESTART_COUNT"}
# How long a job step waits for `scontrol` to say the job's restart count.
SCONTROL_TIMEOUT_S = 10


def slurm_job(environ: Mapping[str, str] = os.environ) -> dict[str, str] | None:
    """The SLURM job this process runs in (SLURM_VARIABLES), or None outside SLURM. The restart
    count is set in the batch script's environment only, and Snakemake's job step passes few
    SLURM variables on to the rule's process: where it is not set, `scontrol show job` says it
    (left out where scontrol is missing or does not answer)."""
    if not environ.get("SLURM_JOB_ID"):
        return None
    job = {name: environ[variable] for name, variable in SLURM_VARIABLES.items()
           if environ.get(variable)}
    if "restart_count" not in job:
        restarts = _scontrol_restart_count(job["job_id"])
        if restarts is not None:
            job["restart_count"] = restarts
    return job


@functools.cache
def _scontrol_restart_count(job_id: str) -> str | None:
    """`Restarts=` of `scontrol show job <job_id>` (fixed for a process: a requeued job starts
    new ones), None where it cannot be had."""
    scontrol = shutil.which("scontrol")
    if scontrol is None:
        return None
    try:
        shown = subprocess.run([scontrol, "show", "job", job_id], capture_output=True,
                               text=True, timeout=SCONTROL_TIMEOUT_S, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"\bRestarts=(\d+)", shown)
    return found.group(1) if found else None


# Code shipped with a checkpoint that this process ran (a tokenizer's, loaded with the config's
# `trust_remote_code: true`): "<module>.<class> from <folder>", in every result made after it.
_REMOTE_CODE: list[str] = []


def note_remote_code(what: str, folder) -> None:
    entry = f"{what} from {folder}"
    if entry not in _REMOTE_CODE:
        _REMOTE_CODE.append(entry)


def usable_cpus() -> int | None:
    """The CPUs this process may run on (its CPU affinity: a SLURM allocation's, taskset's, a
    container's cpuset; a CPU quota such as `docker --cpus` is not seen), where `cpu_count` is
    the whole machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return None


def provenance(*, device=None, seed: int | None = None, cell: dict[str, Any] | None = None) -> dict[str, Any]:
    """The provenance block every result file carries. `usable_cpus` and `slurm` stay out of
    device_info, which also names the device that saved benchmark rows are resumed on: a
    requeued job may resume them on another node of the same kind."""
    return {
        "created_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "slurm": slurm_job(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {**package_versions(), **_installed_versions(ALSO_RECORDED)},
        # prunebench's version stays 0.1.0 while its code moves: this says which code it was
        "code": dict(code_identity()),
        **device_info(device),
        "usable_cpus": usable_cpus(),
        "remote_code": list(_REMOTE_CODE),
        "seed": seed,
        "cell": cell or {},
    }
