"""What a run will meet on this machine, said once before any job starts (a dry run included):
files still to fetch from a Hugging Face hub this machine cannot reach, and GPU jobs on a
machine that shows no GPU. Warnings, not errors: a job that cannot run stops with its own
message anyway, but later (after the tiny model trained, say) instead of now.

Torch-free and network-light (one TCP connection, only when hub files are missing): the
workflow asks it when it builds the default target's jobs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

# How many missing files a warning names before "and N more".
SHOWN = 3


def gpu_visible(dev: Path = Path("/dev"), environ: dict[str, str] | None = None) -> bool:
    """Whether this machine shows a GPU to CUDA (or ROCm), judged without importing torch
    (seconds): an NVIDIA device node (/dev/nvidia0, ...), ROCm's /dev/kfd or WSL2's /dev/dxg,
    and CUDA_VISIBLE_DEVICES not hiding every device ('' or '-1')."""
    environ = os.environ if environ is None else environ
    hidden = environ.get("CUDA_VISIBLE_DEVICES")
    if hidden is not None and hidden.strip() in ("", "-1"):
        return False
    nvidia = any(p.name.removeprefix("nvidia").isdigit() for p in dev.glob("nvidia[0-9]*"))
    return nvidia or (dev / "kfd").exists() or (dev / "dxg").exists()


def missing(paths: Iterable[str]) -> list[str]:
    """The paths not on disk yet, in order, each once."""
    return [p for p in dict.fromkeys(paths) if not os.path.exists(p)]


def _listed(paths: list[str]) -> str:
    more = f" and {len(paths) - SHOWN} more" if len(paths) > SHOWN else ""
    return ", ".join(paths[:SHOWN]) + more


def hub_warning(missing_hub_files: list[str], reachable: Callable[[], bool]) -> str | None:
    """A warning when files still to make need the hub and the hub does not answer."""
    if not missing_hub_files or reachable():
        return None
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        why = ("HF_HUB_OFFLINE is set: their jobs read huggingface_hub's cache and fail where "
               "it does not hold them")
    else:
        why = "the hub does not answer from here: their jobs will fail"
    from prunebench.hub import PREFETCH_COMMAND

    return (f"{len(missing_hub_files)} file(s) still to make need the Hugging Face hub "
            f"({_listed(missing_hub_files)}); {why}, and the run stops at the first (add "
            "--keep-going to make the rest meanwhile). Fetch them on a machine with network "
            f"first ({PREFETCH_COMMAND}, then copy that resources/ here: docs/hub.md, "
            "\"Compute nodes without network\"), or use models and data that need no hub")


# A model this small runs all its jobs on a CPU in minutes (the embedded tiny one has 2M
# parameters): its jobs going to the CPU are no cause for a warning. Larger ones, and a hub
# model not downloaded yet (whose size is not known), are.
CPU_SIZED_PARAMS = 100_000_000


def cpu_sized(model_dir: str | Path, source: str) -> bool:
    """Whether a model is small enough for the CPU (CPU_SIZED_PARAMS), judged from its config
    (the imported or downloaded one, a `local:` folder's own, a `random:` shape) without
    loading weights; the embedded tiny model is."""
    from prunebench import PrunebenchError
    from prunebench.plan.jobsize import known_param_count

    if source == "tiny":
        return True
    try:
        count = known_param_count(model_dir, source)
    except (PrunebenchError, OSError, ValueError):  # a config the model's own jobs refuse
        return False
    return count is not None and count < CPU_SIZED_PARAMS


# The workflow's rules whose jobs want a GPU (their `device` param): what `gpu_warning` counts.
GPU_RULES = ("prune", "lora", "benchmark", "paired_benchmark", "perplexity", "zeroshot")


def gpu_warning(device: str, pending: dict[str, list[str]], *, gpu: bool, jobs_run_here: bool,
                dry_run: bool = False, cpu_models: Iterable[str] = ()) -> str | None:
    """A warning when prune, benchmark or evaluation jobs are still to run on this machine and
    it shows no GPU. `pending` maps each model to its files of those jobs not made yet;
    `device` is the config's: `cpu` asks for the CPU (nothing to say), `cuda` jobs would stop at
    their start, `auto` ones go to the CPU, which only `cpu_models` (`cpu_sized`) are made for.
    Jobs that a cluster runs elsewhere (`jobs_run_here` false) are not this machine's concern;
    a dry run cannot tell where they will run (its executor stands in for any), so it words
    the warning as a condition."""
    if gpu or not jobs_run_here or device == "cpu":
        return None
    to_cpu = device in ("auto", None)
    waiting = {model: files for model, files in pending.items()
               if files and not (to_cpu and model in set(cpu_models))}
    if not waiting:
        return None
    count = sum(len(files) for files in waiting.values())
    jobs = (f"the {count} prune, benchmark and evaluation job(s) still to run for "
            f"{', '.join(waiting)}")
    where = " if they run here (without a cluster executor)" if dry_run else ""
    elsewhere = "Run on a GPU machine or on GPU nodes (--workflow-profile profiles/slurm)"
    if not to_cpu:
        return (f"device is {device!r} but this machine shows no GPU: {jobs} would stop at "
                f"their start{where}. {elsewhere}, or set device: auto to run them on the CPU")
    return (f"this machine shows no GPU, so with device: auto {jobs} would run on the "
            f"CPU{where}: hours for models of billions of parameters, and CPU timings in the "
            f"speed table. {elsewhere}, or set device: cuda to have them refused instead")


def cluster_gpu_limit_warning(gpu_limit, *, cluster: bool) -> str | None:
    """A warning when a cluster run (`cluster`: its jobs are submitted, not run here) lets
    only `gpu_limit` GPU jobs run at once (the run's global `gpu` resource): profiles/default
    sets gpu=1 for local runs, where two benchmarks would share one GPU, and Snakemake loads it
    as the workflow profile beside a `--profile` or `$SNAKEMAKE_PROFILE` profile, whose own
    settings it overrides; `--workflow-profile profiles/slurm` replaces it."""
    if not cluster or not isinstance(gpu_limit, int) or isinstance(gpu_limit, bool):
        return None
    return (f"only {gpu_limit} GPU job(s) of this cluster run may run at a time (resources: "
            f"gpu={gpu_limit}): profiles/default sets it for local runs, and Snakemake loads "
            "that profile beside one given with --profile or $SNAKEMAKE_PROFILE, over its "
            "settings. Start cluster runs with --workflow-profile profiles/slurm instead (it "
            "replaces profiles/default), or pass --resources gpu=N to mean N")


# Kinds of result file that make rows of the tables (aggregation_record's `kind`).
ROW_KINDS = ("prune_report", "bench", "paired", "evaluation")


def dropped_rows_warning(record: dict | None, inputs: Iterable[str]) -> str | None:
    """A warning when the tables' last aggregation (`record`, results/tables/provenance.json)
    read result files that this run's aggregation would not (`inputs`), and they are still on
    disk: remade now, the tables would lose their rows. The usual cause: a cell of a stacked
    run remade, or the tables refreshed, without that run's --configfile."""
    if not isinstance(record, dict) or not isinstance(record.get("inputs"), list):
        return None
    wanted = set(inputs)
    dropped = [e["path"] for e in record["inputs"]
               if isinstance(e, dict) and e.get("kind") in ROW_KINDS
               and isinstance(e.get("path"), str) and e["path"] not in wanted
               and os.path.exists(e["path"])]
    if not dropped:
        return None
    again = record.get("configfiles")
    how = (f"rerun with the config files that made them ({again})" if again
           else "rerun with the --configfile files of the run that made them")
    return (f"the tables in results/tables/ hold rows from {len(dropped)} result file(s) this "
            f"run's config does not ask for ({_listed(dropped)}): if the aggregation runs now, "
            f"it remakes the tables without them. To keep them, stop (Ctrl-C) and {how}")
