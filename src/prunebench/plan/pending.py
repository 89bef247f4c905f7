"""The jobs a run is about to start, checked before the first of them starts.

Snakemake removes a job's old outputs when it starts the job again (its params, code or input
changed), so a rerun that then fails on its input loses the result made before it. What the
config and the disk can tell is refused here instead, while every output still stands. The
workflow asks this at its start (Snakemake's `onstart`: which jobs run is decided, none has
started):

- jobs run again that would run on this machine, which shows no GPU, and either ask for a
  CUDA device (`device: cuda`, or a compiled-backend mode that runs only on CUDA: they would
  stop at their start) or would replace a result made on a GPU with one made on the CPU
  (`device: auto`: a rerun of one cell pasted on a cluster's login node without the cluster
  profile); jobs asking for `device: cuda` there, and compiled benchmarks in a mode that runs
  only on CUDA, are refused when new too, since each would stop at its start after the jobs
  before it (the model's training, a download, the prunes) ran for nothing;
- imports of a `local:` model run again (the folder's files changed) from a folder that
  cannot be imported (its weights or tokenizer gone);
- prunes run again (their checkpoint on disk) that the model's config refuses: a parameter's
  value the method does not have, a target size it cannot reach;
- LoRA recoveries run again whose instruction records cannot be split as `lora.data` asks;
- jobs run again whose input checkpoint holds a weight file cut short (its header says so);
- an aggregation run again over a result file its reader refuses (a hand-edited or damaged
  bench, paired, evaluation file or prune report): its tables and figures would go first;
- a SLURM run through an executor plugin older than profiles/slurm needs (before 2.7.1 it
  gave every GPU job one task per GPU: a job of two GPUs ran twice, both writing its outputs,
  and some sites' srun refuses that geometry beside --cpus-per-task).

None of it imports torch: the prunes are sized from config.json alone (methods.sizing). A new
cell has nothing to lose, and its prune job checks the same before it loads any weight.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prunebench import PrunebenchError
from prunebench.atomic import is_disk_full
from prunebench.benchmark import CUDA_ONLY_MODES
from prunebench.checkpoint.param_count import context_length
from prunebench.plan import layout
from prunebench.plan.preflight import gpu_visible

# How many jobs a line names before "and N more".
SHOWN = 3
# The oldest snakemake-executor-plugin-slurm that submits a GPU job as one task (pyproject's
# `slurm` extra pins the same).
SLURM_PLUGIN = "snakemake-executor-plugin-slurm"
SLURM_PLUGIN_FLOOR = "2.7.1"


@dataclass(frozen=True)
class PendingJob:
    """A job Snakemake is about to start: its rule, wildcards, params and output paths."""

    rule: str
    wildcards: dict[str, str]
    params: dict[str, Any]
    outputs: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        cell = "/".join(str(v) for v in self.wildcards.values())
        return f"{self.rule} {cell}" if cell else self.rule

    @property
    def reruns(self) -> bool:
        """Whether it runs again over outputs made before (which Snakemake removes first)."""
        return any(os.path.exists(path) for path in self.outputs)


def _listed(jobs: list[PendingJob]) -> str:
    more = f" and {len(jobs) - SHOWN} more" if len(jobs) > SHOWN else ""
    return ", ".join(job.name for job in jobs[:SHOWN]) + more


def gpu_problems(jobs: Iterable[PendingJob], *, gpu: bool, jobs_run_here: bool) -> list[str]:
    """Jobs to run here, where no GPU shows, that ask for a CUDA device (`device: cuda`, or a
    compiled benchmark in a mode that runs only on CUDA under `device: auto`): every one would
    stop at its start, a rerun after removing its results made before, and a new one after the
    jobs before it (the tiny model's training, a download, the prunes) ran for nothing. Jobs
    run again that `device: auto` would send to the CPU over results made on a GPU (CPU
    timings in place of GPU ones, hours of work for a large model); new ones of `device: auto`
    lose nothing: the workflow's preflight warning says where they will run."""
    if gpu or not jobs_run_here:
        return []
    cuda = [job for job in jobs if str(job.params.get("device", "")).startswith("cuda")]
    problems = _stopping(cuda, "device is 'cuda' but this machine shows no GPU", "job(s)",
                         "job(s) to run here that ask for it",
                         "set device: auto to run them on this machine's CPU")
    cuda_modes = [job for job in jobs if job.params.get("device") == "auto"
                  and _compile_mode(job) in CUDA_ONLY_MODES]
    if cuda_modes:
        problems += _stopping(
            cuda_modes, f"benchmark.compile_mode {_compile_mode(cuda_modes[0])!r} runs only on "
            "CUDA, and this machine shows no GPU", "compiled-backend benchmark(s)",
            "compiled-backend benchmark(s) to run here",
            "set benchmark.compile_mode: auto to run them op by op on this machine's CPU")
    jobs = [job for job in jobs if job.reruns]
    # The tiny model is made for the CPU (the preflight warning leaves it out too).
    made_on = [(job, made_on_gpu(job)) for job in jobs
               if job.params.get("device") == "auto" and job.params.get("source") != "tiny"]
    replaced = [job for job, gpu_name in made_on if gpu_name]
    if replaced:
        gpus = ", ".join(sorted({gpu_name for _, gpu_name in made_on if gpu_name}))
        problems.append(
            f"this machine shows no GPU, and device: auto would run {len(replaced)} job(s) "
            f"again on its CPU ({_listed(replaced)}), replacing results made on {gpus} "
            f"(hours for a model of billions of parameters; CPU timings in the speed table). "
            f"{RUN_ON_GPU}")
    return problems


def _stopping(jobs: list[PendingJob], why: str, kind: str, new_kind: str,
              instead: str) -> list[str]:
    """The line refusing `jobs`, which would each stop at their start here for `why`: those
    run again, if any, which would remove their results made before (the fix is to run them
    where a GPU shows: changing the setting `instead` names would rerun every finished job it
    is a param of), else the new ones, where changing it costs nothing."""
    again = [job for job in jobs if job.reruns]
    if again:
        return [f"{why}: {len(again)} {kind} run again here ({_listed(again)}) would stop at "
                f"their start, after removing the results they made before. {RUN_ON_GPU}"]
    if jobs:
        return [f"{why}: the {len(jobs)} {new_kind} ({_listed(jobs)}) would each stop at its "
                f"start. {RUN_ON_GPU}; or {instead}"]
    return []


def _compile_mode(job: PendingJob) -> Any:
    settings = job.params.get("settings")
    return settings.get("compile_mode") if isinstance(settings, dict) else None


# What to do instead. Not "change `device`": every GPU job has it as a param, so every finished
# one would rerun.
RUN_ON_GPU = ("Run on a GPU machine, or on GPU nodes with the run's cluster profile "
              "(--workflow-profile profiles/slurm); to run them here anyway, add --no-hooks, "
              "which skips this check")


def made_on_gpu(job: PendingJob) -> str | None:
    """The GPU (its name, else its device) that a result file of `job` made before records in
    its provenance, or None (made on the CPU, or no such file)."""
    from prunebench.atomic import read_json_or_none

    for path in job.outputs:
        record = read_json_or_none(path) if str(path).endswith(".json") else None
        made = record.get("provenance") if isinstance(record, dict) else None
        if isinstance(made, dict) and str(made.get("device", "")).startswith("cuda"):
            return str(made.get("gpu_name") or made["device"])
    return None


def local_import_problems(jobs: Iterable[PendingJob], local_folders: Mapping[str, str]
                          ) -> list[str]:
    """Imports of `local:` models whose folder (`local_folders[model]`, from the run's config)
    cannot be imported (the workflow's start check skips a model imported before: this is the
    import run again, over the copy)."""
    from prunebench.checkpoint.local_import import local_problems

    problems = []
    for job in jobs:
        model = job.wildcards.get("model")
        if job.rule == "local_model" and model in local_folders:
            found = local_problems(model, local_folders[model])
            if found and job.reruns:
                found = [f"{line} (the copy made before, {job.outputs[0]}, would be removed "
                         "first; to keep using it, give the folder it was imported from)"
                         for line in found]
            problems += found
    return problems


def prune_problems(jobs: Iterable[PendingJob],
                   model_config: Callable[[str], Any | None]) -> list[str]:
    """Prunes run again whose method, size or parameters the model's config refuses.
    `model_config(model)` gives the base model's config, or None where it is not known yet."""
    again = [job for job in jobs if job.rule == "prune" and job.reruns]
    if not again:
        return []
    from prunebench.methods.sizing import check_prunable

    problems = []
    for job in again:
        settings = job.params.get("settings") or {}
        config = model_config(job.wildcards["model"]) if "method" in settings else None
        if config is None:
            continue
        try:
            check_prunable(config, settings["method"], settings["size"], settings.get("params"))
        except PrunebenchError as err:
            problems.append(f"{job.name}: {err} (its checkpoint made before, {job.outputs[0]}, "
                            "would be removed first)")
    return problems


BENCH_RULES = ("benchmark", "paired_benchmark")


def token_config_problems(jobs: Iterable[PendingJob],
                          model_config: Callable[[str], Any | None]) -> list[str]:
    """Benchmarks of a token config that generates nothing (`12x0`) or outgrows the model's
    context: a file asked for by name, which no config check saw; its job would stop on it
    only after the jobs before it (the model's download or training, the prune)."""
    problems = []
    for job in jobs:
        if job.rule not in BENCH_RULES or not {"lin", "lout"} <= set(job.wildcards):
            continue
        lin, lout = int(job.wildcards["lin"]), int(job.wildcards["lout"])
        if min(lin, lout) < 1:
            problems.append(f"{job.outputs[0] if job.outputs else job.name}: token config "
                            f"{lin}x{lout} generates nothing: input and output need at least 1 "
                            "token each (e.g. 12x128): ask for another file")
            continue
        config = model_config(job.wildcards.get("model", ""))
        context = context_length(config) if config else None  # (MPT's max_seq_len)
        if isinstance(context, int) and lin + lout > context:
            problems.append(f"{job.outputs[0] if job.outputs else job.name}: {lin} + {lout} "
                            f"tokens exceed the model's context of {context} tokens: ask for a "
                            "shorter token config")
    return problems


def lora_problems(jobs: Iterable[PendingJob], remade: set[str]) -> list[str]:
    """LoRA recoveries run again whose instruction file (already on disk, not among the files
    `remade` by this run) holds too few records for `lora.data.val_size`, or so few beyond it
    that nothing would train (lora_settings.untrained_problem)."""
    from prunebench.plan.lora_settings import UNTRAINED_KEYS, split_problem, untrained_problem

    problems = []
    for job in jobs:
        if job.rule != "lora" or not job.reruns:
            continue
        settings = job.params.get("settings") or {}
        data = settings.get("data") or {}
        for path in job.inputs:
            if (not str(path).endswith(".jsonl") or os.path.normpath(path) in remade
                    or not os.path.isfile(path) or "val_size" not in data):
                continue
            with open(path, encoding="utf-8") as fh:
                records = sum(1 for line in fh if line.strip())
            problem = split_problem(records, data["val_size"])
            if not problem and all(k in settings for k in UNTRAINED_KEYS):
                trained = records - data["val_size"]  # what the split leaves to train on
                if data.get("max_train") is not None:
                    trained = min(trained, data["max_train"])
                problem = untrained_problem(trained, settings)
            if problem:
                problems.append(f"{job.name}: {problem} ({path}; its recovered checkpoint made "
                                f"before, {job.outputs[0]}, would be removed first)")
    return problems


def input_checkpoint_problems(jobs: Iterable[PendingJob], remade: set[str]) -> list[str]:
    """Jobs run again whose input checkpoint (a folder on disk with a config.json, not among
    the files `remade` by this run) holds a weight file cut short or not safetensors, from
    the files' headers alone: the job would fail on it after its result was removed."""
    from prunebench.checkpoint.integrity import safetensors_files, safetensors_problems

    problems = []
    for job in jobs:
        if not job.reruns:
            continue
        for path in job.inputs:
            folder = Path(path)
            if (os.path.normpath(path) in remade or not folder.is_dir()
                    or not (folder / "config.json").is_file()):
                continue
            for problem in safetensors_problems(safetensors_files(folder)):
                problems.append(f"{job.name}: its input checkpoint {folder}: {problem}; "
                                f"{job.outputs[0]}, made before, would be removed first: "
                                "remake the checkpoint (delete it and rerun snakemake, which "
                                "makes it again) or put its files back")
    return problems


# Each result folder's files, and the reader the aggregation reads them with (report.load).
_AGGREGATED = ((layout.BENCH, "load_bench"), (layout.PAIRED, "load_paired"),
               (layout.PRUNE_REPORT, "load_prune_reports"), (layout.PPL, "load_evals"),
               (layout.ZEROSHOT, "load_evals"))


def aggregation_input_problems(jobs: Iterable[PendingJob], remade: set[str]) -> list[str]:
    """An aggregation run again (an input changed) over a result file, not made again by this
    run, that its reader refuses on its own (a hand-edited or damaged file): the aggregation
    would fail on it after Snakemake removed the tables and figures made before. Each file is
    read alone; what only holds across files (every variant's cells there) stays the
    aggregation's to check."""
    problems = []
    for job in jobs:
        if job.rule != "aggregate" or not job.reruns:
            continue
        from prunebench.report import load  # pandas: only where an aggregation reruns

        for path in job.inputs:
            reader = next((getattr(load, name) for pattern, name in _AGGREGATED
                           if _matches(path, pattern)), None)
            if reader is None or os.path.normpath(path) in remade or not os.path.isfile(path):
                continue
            try:
                reader([path])
            except PrunebenchError as err:
                problems.append(f"{job.name}: {err} (the tables and figures made before would "
                                "be removed first)")
    return problems


def _matches(path: str, pattern: str) -> bool:
    """Whether `path` is a file of the layout `pattern` (its wildcards one folder or name each)."""
    regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(pattern))
    return re.fullmatch(regex, Path(path).as_posix().removeprefix("./")) is not None


def unwritable_folder_problems(jobs: Iterable[PendingJob]) -> list[str]:
    """The folders the pending jobs write in (the nearest that exists above each output, and
    an existing folder output itself, which Snakemake empties) that this user cannot write, or
    whose disk is full: Snakemake stopped there with a traceback of its own, after removing
    what it could of a rerun's old outputs (a results folder made read-only, another user's).
    One line per folder; a file probed and removed in each, as permission bits do not tell
    (root, ACLs, read-only mounts, immutable folders)."""
    writers: dict[Path, dict[int, PendingJob]] = {}
    problems = []
    for job in jobs:
        for output in job.outputs:
            path = Path(output).absolute()
            try:
                folders = [next(p for p in path.parents if p.exists())]
                if path.is_dir() and not path.is_symlink():
                    folders.append(path)
            except OSError as err:  # a folder above it that this user cannot even search
                problems.append(f"{output}: a folder above it cannot be searched by this user "
                                f"({err.strerror or err}): make it accessible, or run where "
                                "results/ and resources/ can be written")
                continue
            for folder in folders:
                writers.setdefault(folder, {})[id(job)] = job
    for folder, by_id in sorted(writers.items()):
        folder_jobs = list(by_id.values())
        try:
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".prunebench-write-check-"):
                pass
        except OSError as err:
            fix = ("free space on its disk" if is_disk_full(err) else
                   "make it writable, or run where results/ and resources/ can be written")
            problems.append(f"{folder} cannot be written by this user ({err.strerror or err}), "
                            f"and {len(folder_jobs)} job(s) about to run write there "
                            f"({_listed(folder_jobs)}): {fix}")
    return problems


def base_model_config(model_dir: str | Path):
    """The config of a base model already on disk, or None (not made yet, or unreadable: its
    own job says why)."""
    if not (Path(model_dir) / "config.json").is_file():
        return None
    from prunebench.checkpoint.param_count import checkpoint_config

    try:
        return checkpoint_config(model_dir)
    except (PrunebenchError, OSError, ValueError):
        return None


def slurm_plugin_problems(version: str | None) -> list[str]:
    """The SLURM executor plugin's version (None: the run does not submit through it), if
    older than SLURM_PLUGIN_FLOOR."""
    # packaging: a dependency of snakemake and transformers (not pinned here: a new pin would
    # change the conda environment, and with it rerun every job of a conda run)
    from packaging.version import InvalidVersion, Version

    if version is None:
        return []
    try:
        if Version(version) >= Version(SLURM_PLUGIN_FLOOR):
            return []
    except InvalidVersion:
        return [f"{SLURM_PLUGIN} reports the version {version!r}, which cannot be read: "
                f"install a release, pip install '{SLURM_PLUGIN}>={SLURM_PLUGIN_FLOOR},<3'"]
    return [f"{SLURM_PLUGIN} {version} is older than {SLURM_PLUGIN_FLOOR}, which the "
            "jobs' GPU requests need (an older one gives a GPU job one task per GPU: a job "
            "of two GPUs runs twice, both writing its outputs, and some sites' srun refuses "
            "--ntasks-per-gpu beside --cpus-per-task): upgrade it where snakemake runs, "
            f"pip install '{SLURM_PLUGIN}>={SLURM_PLUGIN_FLOOR},<3' (or pip install -e "
            "'.[slurm]' in the checkout)"]


def check_pending(jobs: Iterable[PendingJob], model_dir: Callable[[str], str],
                  *, jobs_run_here: bool, gpu: bool | None = None,
                  local_folders: Mapping[str, str] | None = None,
                  slurm_plugin: str | None = None) -> None:
    """Raise one PrunebenchError naming every pending job that would fail on its input.
    `model_dir(model)` is the base model's folder; `local_folders` the folder each `local:`
    model is imported from (the run's config; no param of the import, so that moving it reruns
    nothing); `slurm_plugin` the version of the SLURM executor plugin the jobs are submitted
    through (None: they are not). Where a pending job makes the base again, the prune will see
    the new one: a `local:` import's folder is read instead, and a download's is left to the
    prune job (known only once it is there)."""
    local_folders = local_folders or {}
    jobs = list(jobs)
    made_by = {os.path.normpath(path): job for job in jobs for path in job.outputs}

    def model_config(model: str):
        folder = model_dir(model)
        remade = made_by.get(os.path.normpath(folder))
        if remade is None:
            return base_model_config(folder)
        if remade.rule == "local_model" and model in local_folders:
            return base_model_config(local_folders[model])  # the folder it imports now
        return None  # downloaded again: known once it is there, to the prune job

    problems = (slurm_plugin_problems(slurm_plugin) + unwritable_folder_problems(jobs)
                + gpu_problems(jobs, gpu=gpu_visible() if gpu is None else gpu,
                               jobs_run_here=jobs_run_here)
                + local_import_problems(jobs, local_folders) + prune_problems(jobs, model_config)
                + token_config_problems(jobs, model_config)
                + lora_problems(jobs, set(made_by)) + input_checkpoint_problems(jobs, set(made_by))
                + aggregation_input_problems(jobs, set(made_by)))
    if problems:
        raise PrunebenchError(
            f"{len(problems)} problem(s) found before any job started (nothing was run or "
            "removed):\n  " + "\n  ".join(problems))
