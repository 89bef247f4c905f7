"""How much host memory and wall time a workflow job needs, sized by its base model.

A cluster scheduler kills a job that overruns its request, and a request far too large waits in
the queue for hours, so each GPU rule, and the `model` / `local_model` rules that make the base
checkpoint, ask for memory and time that grow with the model: the base model's parameter count
(from its downloaded `config.json`, else its `random:` architecture, else the size in its hub id
such as `llama-7b` or `SmolLM2-360M`) times a per-rule rate. Host memory, not GPU memory, is what
`mem_mb` requests: weights pass through host RAM on their way to the GPU. A retried job
(out of memory, over time) asks for more on each attempt, its time capped by
$PRUNEBENCH_MAX_RUNTIME_MIN where that is set (the partition's limit), its memory by
$PRUNEBENCH_MAX_MEM_MB (what the partition's nodes have). Calibration jobs load a tokenizer
only: what they hold is the source's text (`calibration_mem_mb`).

The rates are starting points for A100/H100 nodes; a site overrides any rule with
`set-resources` in its profile (profiles/slurm/config.yaml).
"""

from __future__ import annotations

import logging
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from prunebench import PrunebenchError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rate:
    """Host memory and minutes for one job: fixed part + part per billion parameters (the
    fixed memory shrinks below 1B: `mem_mb`)."""

    mem_gb: float
    mem_gb_per_b: float
    minutes: float
    minutes_per_b: float


# Why these rates (B = billions of base-model parameters):
# - prune: the checkpoint is read as float32 in host memory (4 GB/B) before it moves to the
#   device, plus the pruned copy being written; scoring + solving takes ~10 min/B on one GPU.
# - benchmark: fp16 weights pass through host memory (2 GB/B); 7 batch sizes x 30 generate
#   calls of up to 512 tokens: ~2 h for 7B with HF generate.
# - paired_benchmark: the dense model and a variant in host memory at once (up to 4 GB/B in
#   fp16); a few batch sizes x 2 x (3 + 20) calls: about half a sweep's time.
# - perplexity / zeroshot: fp16 or fp32 load, a few thousand windows / lm-eval tasks.
# - lora: float32 master weights and optimizer state stay on the GPU, the host holds one copy.
# - model (and local_model): a `random:` model is initialised in fp16 in host memory on a CPU
#   node (2 GB/B; LLaMA-7B: 13.5 GB) and saved; a download whose repository ships pickle weights
#   converts one shard at a time (up to 10 GB each, held about twice); 13B takes 26 GB to fetch.
RATES: dict[str, Rate] = {
    "model": Rate(mem_gb=8, mem_gb_per_b=2.5, minutes=60, minutes_per_b=15),
    "prune": Rate(mem_gb=16, mem_gb_per_b=5, minutes=30, minutes_per_b=10),
    "benchmark": Rate(mem_gb=16, mem_gb_per_b=3, minutes=60, minutes_per_b=10),
    "paired_benchmark": Rate(mem_gb=16, mem_gb_per_b=5, minutes=30, minutes_per_b=5),
    "perplexity": Rate(mem_gb=16, mem_gb_per_b=5, minutes=20, minutes_per_b=4),
    "zeroshot": Rate(mem_gb=16, mem_gb_per_b=5, minutes=60, minutes_per_b=15),
    "lora": Rate(mem_gb=32, mem_gb_per_b=5, minutes=120, minutes_per_b=60),
}

# A download or a folder's import holds one file at a time (a pickle shard converted: up to
# 10 GB, the largest transformers wrote), whatever the model's size, so it asks as a model of at
# most this many billions; so does the download of a hub model whose id names no size (its other
# jobs are sized from its config.json once it is here, when they are about to run).
UNSIZED_DOWNLOAD_B = 8.0

# Calibration windows are drawn from the source's rows, all held as Python strings
# (prunebench.data.load_rows): BookCorpus's 74M rows take about 9 GB, the other sources little.
CALIBRATION_MEM_GB = {"bookcorpus": 16}
CALIBRATION_DEFAULT_MEM_GB = 8

# A hub id's own size tag ("llama-7b", "vicuna-13b-v1.3", "Llama-3-8B", "SmolLM2-360M"), used
# before download.
_SIZE_IN_NAME = re.compile(r"(?:^|[-_/.])(\d+(?:\.\d+)?)([bBmM])(?:$|[-_/.])")


class SizeUnknown(PrunebenchError):
    """A hub model's size before its config.json is here, when its id names none."""


def known_config(model_dir: str | Path, source: str):
    """The base model's config (config.json's values) when it is known without a download:
    its `config.json` when already there (or in a `local:` source's folder), or the shape of a
    known `random:` architecture; None otherwise (the tiny model before it is trained, a hub
    model before download)."""
    from prunebench.checkpoint.param_count import config_from_dict

    config_file = Path(model_dir) / "config.json"
    if source.startswith("local:"):  # not imported yet: the folder's own config says
        from prunebench.checkpoint.local_import import local_path

        config_file = config_file if config_file.exists() else (
            local_path(source.removeprefix("local:")) / "config.json")
    if config_file.exists():
        return _countable(config_file)
    if source.startswith("random:"):
        from prunebench.checkpoint.architectures import ARCHITECTURES

        shape = ARCHITECTURES.get(source.removeprefix("random:"))
        return config_from_dict(shape) if shape else None
    return None


def _countable(config_file: Path):
    """config.json's values, refused where its parameters cannot be counted (a JSON list, a
    number written as text): every caller counts with them, and a raw AttributeError or
    TypeError there stopped the config checks, and so every Snakemake parse."""
    from prunebench.checkpoint.param_count import config_from_json, count_params

    try:
        config = config_from_json(config_file)
        count_params(config)
    except (AttributeError, TypeError, KeyError) as err:
        raise PrunebenchError(f"{config_file} is no config whose parameters can be counted "
                              f"({type(err).__name__}: {err}): re-download or rebuild the "
                              "model") from None
    return config


def known_param_count(model_dir: str | Path, source: str) -> int | None:
    """The base model's exact parameter count when its config is known (`known_config`)."""
    from prunebench.checkpoint.param_count import count_params

    config = known_config(model_dir, source)
    return None if config is None else count_params(config)


def model_billions(model_dir: str | Path, source: str) -> float:
    """The base model's parameters in billions, without loading any weights.

    Order: the exact count when known (`known_param_count`), the embedded tiny model, the
    published shape of a known architecture its hub id names (`lmsys/vicuna-13b-v1.3`: as
    `prunebench plan` counts it offline), then the size in the hub id. (The shape a hub id
    names sizes jobs only: a fine-tune may differ from it in context length, which the config
    checks must not guess.)
    """
    from prunebench.checkpoint.architectures import (ARCHITECTURES, architecture_shape,
                                                     known_shape_of)
    from prunebench.checkpoint.param_count import config_from_dict, count_params
    from prunebench.hub import parse_source

    exact = known_param_count(model_dir, source)
    if exact is not None:
        return exact / 1e9
    parsed = parse_source(source)
    if parsed.kind == "tiny":
        return 0.0  # about 2M parameters: the fixed part of every rate covers it
    if parsed.kind == "hf" and (shape := known_shape_of(parsed.name)):
        return count_params(config_from_dict(ARCHITECTURES[shape])) / 1e9
    if parsed.kind == "random":
        architecture_shape(parsed.name)  # an unknown architecture: its error names the known ones
    match = _SIZE_IN_NAME.search(parsed.name)
    if match is None:
        raise SizeUnknown(
            f"cannot size jobs for {source!r} before it is downloaded: its id names no size "
            "(like '7b' or '360M'). Run `snakemake prefetch` first (sizes then come from its "
            "config.json), or set mem_mb / runtime for the GPU rules with set-resources in your "
            "profile")
    value = float(match.group(1))
    return value if match.group(2) in "bB" else value / 1000


def job_billions(rule: str, model_dir: str | Path, source: str) -> float:
    """The size a job of `rule` is requested for: its base model's (`model_billions`), except
    that the `model` rule's download or import of a checkpoint (any source but `random:`, whose
    whole model is built in memory) asks as at most `UNSIZED_DOWNLOAD_B`, also when the id
    names no size; every other job of such a model raises SizeUnknown until its config.json is
    here."""
    copies = rule == "model" and not source.startswith("random:")
    try:
        billions = model_billions(model_dir, source)
    except SizeUnknown:
        if copies:
            return UNSIZED_DOWNLOAD_B
        raise
    return min(billions, UNSIZED_DOWNLOAD_B) if copies else billions


def _rate(rule: str) -> Rate:
    try:
        return RATES[rule]
    except KeyError:
        raise PrunebenchError(f"no job size for rule {rule!r}: add it to "
                              f"prunebench.plan.jobsize.RATES (known: {sorted(RATES)})") from None


# A job's fixed memory (Python, torch and the CUDA libraries, lm-eval and its datasets, the
# calibration windows) is a rate's `mem_gb` from a model of 1B parameters on; below that it
# shrinks towards this much, so that a small model's jobs (the tiny model of a first try on a
# cluster, a 0.5B one) do not queue for 16-32 GB they never touch. Run time keeps its fixed
# part: a small model's generation is bound by per-token overheads, not by its size.
SMALL_MODEL_MEM_GB = 6


def mem_mb(rule: str, billions: float, attempt: int = 1) -> int:
    """Host memory request in MB; each retry asks for half as much again."""
    rate = _rate(rule)
    fixed = SMALL_MODEL_MEM_GB + (rate.mem_gb - SMALL_MODEL_MEM_GB) * min(1.0, billions)
    return _retried_mb(fixed + rate.mem_gb_per_b * billions, attempt)


# A text of your own (the config's `texts`) of any size is held the same way: its rows as
# Python strings and the list around them, a joined sampling's stream and its token ids, a few
# times the file's bytes.
TEXT_MEM_PER_BYTE = 4


def calibration_mem_mb(source: str, attempt: int = 1, text_bytes: int | None = None) -> int:
    """Host memory request in MB of a calibration job drawing windows from `source`; for a text
    of your own, grown with its size in bytes where known."""
    gb = CALIBRATION_MEM_GB.get(source, CALIBRATION_DEFAULT_MEM_GB)
    if text_bytes:
        gb = max(gb, CALIBRATION_DEFAULT_MEM_GB / 2 + TEXT_MEM_PER_BYTE * text_bytes / 2**30)
    return _retried_mb(gb, attempt)


def _retried_mb(gb: float, attempt: int) -> int:
    wanted = int(math.ceil(gb * (1 + 0.5 * (attempt - 1)))) * 1024
    cap = max_mem_mb()
    return min(wanted, cap) if cap is not None else wanted


# The longest wall time a job may ask for (a partition's MaxTime): a retry's request grows with
# each attempt, and one over the partition's limit is refused or left pending by SLURM.
MAX_RUNTIME_VARIABLE = "PRUNEBENCH_MAX_RUNTIME_MIN"
# The most host memory a job may ask for (what a node of its partition has): a retry's request
# grows too, also when the job was stopped for time (a LoRA run at a partition's time limit,
# resuming from its saves: 98 GiB for a 13B, then 146, 195, 243), and one larger than every
# node is refused by sbatch or never scheduled.
MAX_MEM_VARIABLE = "PRUNEBENCH_MAX_MEM_MB"


def runtime_min(rule: str, billions: float, attempt: int = 1) -> int:
    """Wall-time request in minutes; a timed-out job gets more on its retry, up to
    $PRUNEBENCH_MAX_RUNTIME_MIN where it is set."""
    rate = _rate(rule)
    minutes = int(math.ceil((rate.minutes + rate.minutes_per_b * billions) * attempt))
    cap = max_runtime_min()
    return min(minutes, cap) if cap is not None else minutes


def max_runtime_min() -> int | None:
    """$PRUNEBENCH_MAX_RUNTIME_MIN as a whole number of minutes, or None where it is unset."""
    return _positive_whole(MAX_RUNTIME_VARIABLE, "the partition's time limit as a whole number "
                                                 "of minutes (e.g. 2880 for 2 days)")


def max_mem_mb() -> int | None:
    """$PRUNEBENCH_MAX_MEM_MB as a whole number of MB, or None where it is unset."""
    return _positive_whole(MAX_MEM_VARIABLE, "the memory of the partition's nodes as a whole "
                                             "number of MB (e.g. 500000 for 500 GB)")


def _positive_whole(variable: str, what: str) -> int | None:
    value = os.environ.get(variable, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise PrunebenchError(f"{variable}={value!r}: give {what}, or unset it")
    return int(value)
