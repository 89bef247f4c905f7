"""Zero-shot accuracy through lm-eval, on a model that is already loaded.

lm-eval's `HFLM` wraps the model object that `prunebench.modeling.load_model` built, so
width-pruned checkpoints with per-block shapes (which `from_pretrained` cannot rebuild) are
scored by lm-eval's own request building, batching and metrics. Tasks come from lm-eval's
`TaskManager`: its built-in tasks (the study's BoolQ, PIQA, HellaSwag, WinoGrande, ARC-e,
ARC-c, OpenBookQA, which need their hub datasets) and, through `include_path`, the offline suite
that `prunebench.mc_suite` writes.

The summary takes one metric per task, the study's choice: acc_norm for HellaSwag, ARC-c and
OpenBookQA, acc otherwise; the average is the plain mean over the tasks, as in the paper.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from prunebench import PrunebenchError, did_you_mean
from prunebench.atomic import (_json_default, delete_at_successful_exit, read_json_or_none,
                               write_json)
from prunebench.hub import load_error
from prunebench.mc_suite import TASKS as SUITE_TASKS
from prunebench.mc_suite import check_suite, remake_hint, task_config
from prunebench.plan.layout import MC_SUITE
from prunebench.zeroshot_progress import open_store, resumable, store_identity

log = logging.getLogger(__name__)

PAPER_TASKS = ("boolq", "piqa", "hellaswag", "winogrande", "arc_easy", "arc_challenge",
               "openbookqa")
PAPER_METRICS = {"hellaswag": "acc_norm", "arc_challenge": "acc_norm", "openbookqa": "acc_norm"}
DEFAULT_METRIC = "acc"
METRICS = ("acc", "acc_norm")
# lm-eval's results JSON minus what is large or not about the scores.
_DROPPED_KEYS = ("samples", "pretty_env_info", "task_hashes")

# What a hub dataset that cannot be loaded tells the workflow's jobs to do (evaluate's default
# hub_fix; `prunebench eval` gives its own).
PREFETCH_HINT = ("pre-fetch it on a machine with network: `snakemake prefetch --configfile "
                 "<your config>` (its zeroshot_datasets rule runs lm-eval's download into "
                 "resources/data/lm_eval/cache), then run evaluations with HF_DATASETS_CACHE and "
                 "HF_HUB_CACHE pointing there (the zeroshot rule does) and HF_DATASETS_OFFLINE=1")


def summary_metric(task: str, overrides: dict[str, str] | None = None) -> str:
    """The metric a task contributes to the summary: the config's, else the study's choice."""
    metric = (overrides or {}).get(task) or PAPER_METRICS.get(task, DEFAULT_METRIC)
    if metric not in METRICS:
        raise PrunebenchError(f"summary metric {metric!r} for task {task}: use one of {METRICS}")
    return metric


def unknown_metric_tasks(metrics: dict[str, str] | None, tasks: list[str]) -> list[str]:
    """Problems of `metrics` keys that name no configured task: a misspelt key would silently
    leave that task on its default metric, and the average would change without a word."""
    return [f"{key!r} is not one of the tasks {sorted(tasks)}{did_you_mean(key, tasks)}: "
            "spell it as under `tasks`, or remove it"
            for key in (metrics or {}) if key not in tasks]


def hub_tasks(tasks: list[str]) -> list[str]:
    """The tasks that need a hub dataset (everything not in the offline suite)."""
    return [t for t in tasks if t not in SUITE_TASKS]


def suite_tasks(tasks: list[str]) -> list[str]:
    """The tasks of the offline suite (prunebench.mc_suite)."""
    return [t for t in tasks if t in SUITE_TASKS]


def unknown_suite_tasks(tasks: list[str]) -> list[str]:
    """One line per `pb_*` name that is no task of the offline suite: a misspelling, which
    would otherwise be taken for an lm-eval hub task and need the network."""
    lines = []
    for task in tasks:
        if task.startswith("pb_") and task not in SUITE_TASKS:
            lines.append(f"unknown offline task {task!r}{did_you_mean(task, SUITE_TASKS, n=3)}: the "
                         "offline suite's tasks are "
                         f"{list(SUITE_TASKS)}; a pb_* name is never looked up on the hub")
    return lines


def task_manager(include_path: str | Path | None, tasks: list[str], suite_fix: str | None = None):
    """lm-eval's TaskManager over the built-in tasks asked for plus `include_path` (the offline
    suite, checked first; `suite_fix`: evaluate's)."""
    if include_path:
        check_suite(include_path, suite_tasks(tasks), suite_fix)
    include = str(Path(include_path).resolve()) if include_path else None
    return _task_manager(include, tuple(sorted(set(hub_tasks(tasks)))))


@functools.lru_cache(maxsize=8)
def _task_manager(include: str | None, hub: tuple[str, ...]):
    # Cached: the index only maps names to YAML files, which are read when a task is built.
    # Indexing all of lm-eval's ~14,000 built-in YAMLs takes 10-25 s per process, so only the
    # folders that define the hub tasks asked for are indexed (a text scan of the YAMLs finds
    # them in about a second). A name the scan cannot place in one file (a group, a tag, a name
    # two files define) gets the full index; one no YAML mentions at all is refused at once.
    from lm_eval.tasks import TaskManager

    folders: list[str] | None = []  # no hub task: the suite's folder alone
    if hub:
        scan = scan_builtin_tasks(hub)
        _refuse_unmentioned(hub, scan, include)
        folders = scan.folders()
    if folders is not None:
        paths = [*folders, *([include] if include else [])]
        try:
            manager = TaskManager(include_path=paths or None, include_defaults=False)
        except TypeError:  # an lm-eval without include_defaults
            manager = None
        if manager is not None and set(hub) <= set(manager.all_subtasks):
            return manager
    return TaskManager(include_path=include)


# lm-eval names a task, group or tag with one run of these characters; a name counts as
# mentioned only as a whole run (`eps` is not inside `epsilon_long`).
_NAME_RUN = re.compile(rb"[\w.-]+")
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_DECLARES = re.compile(rb"""^[ \t-]*(?:task|group):[ \t]*["']?([\w.+-]+)""", re.MULTILINE)


@dataclass
class BuiltinScan:
    """What a text scan of lm-eval's built-in task YAMLs says about some task names."""

    files: dict[str, list[Path]]  # name -> the YAML files with a `task: <name>` line
    mentioned: set[str]           # the names some YAML file contains at all
    declared: set[str]            # every name a `task:` or `group:` line gives

    def folders(self) -> list[str] | None:
        """The folders that define the names, one file each; None if a name has no such file
        or several: then only lm-eval's full index decides."""
        if any(len(files) != 1 for files in self.files.values()):
            return None
        return sorted({str(files[0].parent) for files in self.files.values()})


def lm_eval_tasks_dir() -> Path | None:
    """The folder of lm-eval's built-in task YAMLs, found without importing lm-eval."""
    import importlib.util

    spec = importlib.util.find_spec("lm_eval")
    locations = list(spec.submodule_search_locations or []) if spec else []
    root = Path(locations[0]) / "tasks" if locations else None
    return root if root is not None and root.is_dir() else None


def task_files(root: Path) -> list[Path]:
    """The files under `root` (lm-eval's built-in tasks) that name tasks, groups and tags: its
    YAML files, and the templates without a suffix that they `include:` (`_gpqa_cot_n_shot_yaml`
    gives the `gpqa` tag its name)."""
    return sorted(p for p in root.rglob("*") if p.suffix in (".yaml", "") and p.is_file())


def scan_builtin_tasks(names: tuple[str, ...], root: Path | None = None) -> BuiltinScan:
    """Scan the task files under `root` (lm-eval's built-in tasks) as text, without parsing
    (one or two seconds for lm-eval's ~14,500 files, warm). Only a YAML file defines a task."""
    root = root or lm_eval_tasks_dir()
    alternatives = b"|".join(re.escape(name.encode()) for name in names)
    defines = re.compile(rb"""^[ \t]*task:[ \t]*["']?(""" + alternatives
                         + rb""")["']?[ \t]*(?:#.*)?$""", re.MULTILINE)
    wanted = {name.encode() for name in names}
    scan = BuiltinScan({name: [] for name in names}, set(), set())
    for path in task_files(root):
        text = path.read_bytes()
        found = wanted.intersection(_NAME_RUN.findall(text))
        scan.mentioned.update(m.decode() for m in found)
        scan.declared.update(m.decode() for m in _DECLARES.findall(text))
        if found and path.suffix == ".yaml":
            for match in defines.finditer(text):
                scan.files[match.group(1).decode()].append(path)
    return scan


def _refuse_unmentioned(hub: tuple[str, ...], scan: BuiltinScan, include: str | None) -> None:
    """A hub task no built-in task file mentions cannot be one of lm-eval's: a typo, told at
    once."""
    for task in hub:
        if task not in scan.mentioned and _PLAIN_NAME.fullmatch(task):
            _refuse_unknown(task, scan.declared, include)


def unknown_hub_tasks(tasks: list[str], cache_dir: Path | None = None) -> list[str]:
    """One line per hub task that lm-eval's built-in task files never mention: a typo
    (`hellaswg`), which the zero-shot job would refuse only after the pruning before it. The
    same test the job makes, from the words of those files (`task_words`), so it refuses
    nothing the job would run. Empty when lm-eval is not installed here."""
    # A pb_* name is the offline suite's (unknown_suite_tasks names its typos).
    hub = [t for t in hub_tasks(tasks) if not t.startswith("pb_") and _PLAIN_NAME.fullmatch(t)]
    words = task_words(cache_dir) if hub else None
    if words is None:
        return []
    return [f"lm-eval {words['version']} has no task {task!r}"
            f"{did_you_mean(task, words['declared'], 3)}: pick one from `lm-eval ls tasks`, or "
            f"a pb_* task of the offline suite {list(SUITE_TASKS)}"
            for task in hub if task not in words["words"]]


# What task_words keeps; a new number makes every cached file stale.
_WORDS_FORMAT = 2


def task_words(cache_dir: Path | None = None) -> dict[str, Any] | None:
    """Every name-like word of lm-eval's built-in task files (`words`) and the names their
    `task:`/`group:` lines give (`declared`, the suggestions for a typo), with lm-eval's
    `version`; None without lm-eval. Reading the files takes a second or more (longer on a
    network file system), so the result is kept in `cache_dir`, one file per lm-eval install:
    its version, folder and the modification times of its task folders (an editable install
    updated in place keeps its version, not those)."""
    import hashlib
    from importlib.metadata import PackageNotFoundError, version

    root = lm_eval_tasks_dir()
    if root is None:
        return None
    try:
        lm_eval_version = version("lm_eval")
    except PackageNotFoundError:
        lm_eval_version = "unknown"
    cached = None
    if cache_dir:
        folders = [root, *(p for p in root.rglob("*") if p.is_dir())]
        stamp = f"{_WORDS_FORMAT}|{root.resolve()}|{max(p.stat().st_mtime_ns for p in folders)}"
        key = hashlib.sha256(stamp.encode()).hexdigest()[:16]
        cached = Path(cache_dir) / f"lm-eval-{lm_eval_version}-{key}-task-words.json"
    data = read_json_or_none(cached) if cached else None
    if not (isinstance(data, dict) and isinstance(data.get("words"), list)
            and isinstance(data.get("declared"), list)):
        words: set[bytes] = set()
        declared: set[bytes] = set()
        for path in task_files(root):
            text = path.read_bytes()
            words.update(_NAME_RUN.findall(text))
            declared.update(_DECLARES.findall(text))
        data = {"words": sorted(w.decode() for w in words),
                "declared": sorted(d.decode() for d in declared)}
        if cached is not None:
            # Saved only where the resources folder exists (the cache folder is made in it,
            # not its parents); a read-only checkout still gets the check, without the saving.
            with contextlib.suppress(OSError, PrunebenchError):
                cached.parent.mkdir(exist_ok=True)
                write_json(cached, data)
    return {"version": lm_eval_version, "words": set(map(str, data["words"])),
            "declared": [str(d) for d in data["declared"]]}


def task_specs(tasks: list[str], include_path: str | Path | None) -> list[str | dict]:
    """What lm-eval is asked to run: hub tasks by name, suite tasks as their full config with
    the data file of the suite folder given here (see `mc_suite.task_config`), so a moved or
    copied suite never reads data through a path written where it was generated."""
    if not include_path:
        return list(tasks)
    return [task_config(include_path, t) if t in SUITE_TASKS else t for t in tasks]


def _check_known(manager, tasks: list[str], include_path) -> None:
    known = set(manager.all_tasks)
    for task in tasks:
        if task not in known:
            _refuse_unknown(task, known, include_path)


def _refuse_unknown(task: str, known, include_path) -> None:
    where = ("the offline suite (is evaluation.zeroshot.suite generated?)"
             if task in SUITE_TASKS else "lm-eval's task list (`lm-eval ls tasks`)")
    raise PrunebenchError(f"lm-eval has no task {task!r}{did_you_mean(task, sorted(known), 3)}: "
                          f"pick one from {where}; include_path was {include_path}")


@contextlib.contextmanager
def _naming_datasets(ask_commits: bool = False) -> Iterator[list[dict[str, Any]]]:
    """Record every `datasets.load_dataset` call lm-eval makes, so a failed download can be
    reported with the dataset it was for, whatever lm-eval version built the task; and make
    each call as prunebench's own: no dataset repository's code runs (some of lm-eval's task
    files ask for `trust_remote_code`, which lm-eval removes only for datasets >= 4), and only
    the environment's token is sent (datasets would send one saved on the machine). With
    `ask_commits` (a pre-fetch), each loaded hub dataset's record gets the commit the hub says
    its revision is at (`commit`, None where it does not say), asked just before the load, once
    per repository and revision (MMLU loads one repository 57 times): lm-eval's task files name
    none, so the newest is what is fetched (the load is not pinned to it: the offline
    evaluation loads as lm-eval asks, from the cache this fills)."""
    import datasets
    from datasets.packaged_modules import _PACKAGED_DATASETS_MODULES

    from prunebench.hub import dataset_commit, hub_auth

    calls: list[dict[str, Any]] = []
    commits: dict[tuple[str, str | None], str | None] = {}
    original = datasets.load_dataset

    def recording(*args, **kwargs):
        path = kwargs.get("path", args[0] if args else None)
        name = kwargs.get("name", args[1] if len(args) > 1 else None)
        call = {"path": path, "name": name, "ok": False}
        calls.append(call)
        kwargs["trust_remote_code"] = False
        if kwargs.get("token") is None:
            kwargs["token"] = hub_auth()
        # a builder's name (json, parquet, ...) or a folder is no hub repository
        repository = ask_commits and isinstance(path, str) and \
            path not in _PACKAGED_DATASETS_MODULES and not os.path.exists(path)
        if repository:
            key = (path, kwargs.get("revision"))
            if key not in commits:
                commits[key] = dataset_commit(*key)
        out = original(*args, **kwargs)
        call["ok"] = True
        if repository:
            call["revision"], call["commit"] = key[1], commits[key]
        return out

    datasets.load_dataset = recording
    try:
        yield calls
    finally:
        datasets.load_dataset = original


ENV_REPORT_SKIPPED = "not collected by prunebench: see the result's provenance"


def _without_torch_env_report():
    """lm-eval puts torch's full environment report (`pretty_env_info`) into its results, and
    making it runs `pip list` and other commands: about a second per evaluation here, more where
    nvidia-smi or a large environment answers slowly. prunebench drops that key from what it
    keeps (the provenance block records versions and device), so it is not made."""
    from torch.utils import collect_env

    return mock.patch.object(collect_env, "get_pretty_env_info", lambda: ENV_REPORT_SKIPPED)


def _git_hash_of_prunebench():
    """lm-eval records as `git_hash` what `git describe` says of the directory it runs in, and
    where that is no git work tree (a run directory elsewhere) git prints "fatal: not a git
    repository" into the job's output. The code that ran the evaluation is prunebench's: its
    commit (None outside a checkout), as the provenance block records it."""
    import contextlib

    from lm_eval import evaluator

    from prunebench.provenance import code_identity

    if not hasattr(evaluator, "get_git_commit_hash"):  # another lm-eval: leave it as it is
        return contextlib.nullcontext()
    return mock.patch.object(evaluator, "get_git_commit_hash", lambda: code_identity()["commit"])


def _dataset_error(calls: list[dict[str, Any]], err: Exception, tasks: list[str],
                   suite_dir: str | Path = MC_SUITE, suite_fix: str | None = None,
                   hub_fix: str | None = None):
    """The error that names the dataset whose load failed: the offline suite in `suite_dir`
    (its fix `suite_fix`, as check_suite's; else the workflow's command that remakes it), or a
    hub dataset (its fix `hub_fix`; else the workflow's pre-fetch, PREFETCH_HINT); None where no
    load failed."""
    failed = [c for c in calls if not c["ok"]]
    if not failed:
        return None
    call = failed[-1]
    dataset = call["path"] + (f" ({call['name']})" if call["name"] else "")
    if call["path"] == "json":
        return PrunebenchError(f"cannot read the offline suite's data in {suite_dir} "
                               f"({type(err).__name__}: {err}): "
                               f"{suite_fix or remake_hint(suite_dir)}")
    first_line = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return load_error(err)(
        f"lm-eval tasks {tasks} need the hub dataset {dataset}, which cannot be loaded here "
        f"({type(err).__name__}: {first_line[:200]}); this machine may be offline: "
        f"{hub_fix or PREFETCH_HINT}")


def _build_tasks(manager, spec: str | dict) -> list:
    """lm-eval's Task objects for a task name or config (a group gives several); building
    downloads data."""
    if hasattr(manager, "load"):  # lm-eval >= 0.4.10: flat dicts
        return list(manager.load([spec])["tasks"].values())
    from lm_eval.tasks import get_task_dict

    return _flat_tasks(get_task_dict([spec], manager))


def _flat_tasks(task_dict) -> list:
    """The Task objects of get_task_dict's (possibly nested, group-keyed) result."""
    out = []
    for value in task_dict.values():
        out += _flat_tasks(value) if isinstance(value, dict) else [value]
    return out


def prefetch(tasks: list[str], include_path: str | Path | None = None) -> dict[str, Any]:
    """Download the datasets of `tasks` through lm-eval's own task building (so exactly what
    lm-eval will ask for lands in the datasets cache); returns per task what was fetched."""
    manager = task_manager(include_path, tasks)
    _check_known(manager, tasks, include_path)
    fetched = {}
    for task, spec in zip(tasks, task_specs(tasks, include_path)):
        with _naming_datasets(ask_commits=True) as calls:
            try:
                built = _build_tasks(manager, spec)
            except Exception as err:  # noqa: BLE001 - datasets / hub raise many types
                named = _dataset_error(calls, err, [task], include_path or MC_SUITE)
                if named:
                    raise named from err
                raise
        fetched[task] = {
            "datasets": [{key: c[key] for key in ("path", "name", "revision", "commit")
                          if key in c} for c in calls],
            "docs": {t.config.task: _n_docs(t) for t in built},
        }
        log.info("prefetched %s: %s", task, fetched[task])
    return fetched


def language_model(model, tokenizer, batch_size: int, add_bos_token: bool, encode=None):
    """lm-eval's HFLM around `model`, scoring as the study's evaluation did.

    Every log-likelihood request's text goes through HFLM's `tok_encode`, replaced here
    (_tok_encode): the text's tokens, with the tokenizer's BOS first where `add_bos_token` (or
    lm-eval) asks for it. HFLM leaves the BOS to the tokenizer's own encoding, which adds none
    for some tokenizers that have one (one whose config turns it off, or that transformers
    converted from Mistral's tekken.json) and may add an EOS after the text. A rolling
    log-likelihood's text gets no BOS (_rolling_without_bos_target). `encode` (text -> ids, no
    BOS; legacy_tokenization.legacy_encoder) tokenizes the texts instead of `tokenizer`: the
    study's lm-eval encoded them with the slow SentencePiece `LlamaTokenizer`. Generation
    tasks' prompts (`tok_batch_encode`) are encoded the same way (_tok_batch_encode).

    Both arguments are HFLM's in every lm-eval prunebench takes (>= 0.4.10).
    The answers' log-probabilities are taken in float32 (`softmax_dtype`; lm-eval takes them
    in the logits' dtype): transformers 4.x's LLaMA cast its logits to float32, as in the
    study's evaluation of its float16 model; transformers 5 returns them in the model's dtype,
    and a float16 log-softmax put a 4-token answer of the test model 0.009 nats off."""
    import torch
    from lm_eval.models.huggingface import HFLM

    from prunebench.checkpoint.device_map import main_device
    from prunebench.checkpoint.param_count import logit_columns

    # logits_cache off: lm-eval groups requests by their text minus its last token and scores
    # the group once, which mixes up two requests of the same text split differently between
    # context and answer (lm-eval issue 2984: the offline suite has such pairs across tasks, and
    # a task's accuracy then depended on the tasks run beside it). Without it, each request is
    # scored on its own; only single-token answers (boolq) pay, one forward per choice.
    with _without_lm_eval_notices():
        lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size,
                  add_bos_token=add_bos_token, softmax_dtype=torch.float32, logits_cache=False)
    # HFLM puts its inputs (and its autocast) on `model.device`, the first parameter's device:
    # for a device map that offloads the embedding ("disk", or "cpu" beside GPUs, which
    # accelerate streams in per forward) that is the meta device, and every request failed
    # ("unsupported scalarType"). The map's own entry device is where inputs go.
    lm._device = main_device(model)
    if encode is None:
        def encode(text: str) -> list[int]:
            return tokenizer(text, add_special_tokens=False)["input_ids"]
    lm.tok_encode = functools.partial(_tok_encode, lm, encode)
    lm.tok_batch_encode = functools.partial(_tok_batch_encode, lm)
    lm.loglikelihood_rolling = functools.partial(_rolling_without_bos_target, lm,
                                                 lm.loglikelihood_rolling)
    # (Apertus 1.5's narrower head, Inkling's logits cut to unpadded_vocab_size)
    if logit_columns(model.config) < model.config.vocab_size:
        # (both log-likelihoods score through it: the answers' tokens, a text's windows')
        lm._loglikelihood_tokens = functools.partial(_scoring_ids_the_head_has, model.config,
                                                     lm._loglikelihood_tokens)
    return lm


def _scoring_ids_the_head_has(config, score, requests, *args, **kwargs):
    """HFLM._loglikelihood_tokens, refusing a request whose scored tokens hold an id past the
    model's logits (Apertus 1.5's head of the text tokens alone, Inkling's logits cut to
    unpadded_vocab_size: data.scored_id_problem), where lm-eval's gather of the answer's
    log-probabilities fails on it (an IndexError on the CPU, a device-side assert that ends
    the process's CUDA work on a GPU)."""
    import torch

    from prunebench.data import scored_id_problem

    for key, _, targets in requests:
        if problem := scored_id_problem(torch.tensor(targets, dtype=torch.long), config):
            said = "" if key is None else f" (context {key[0][-60:]!r}, answer {key[1]!r})"
            raise PrunebenchError(f"a zero-shot request's scored tokens{said} {problem}")
    return score(requests, *args, **kwargs)


def _tok_batch_encode(lm, strings: list[str], padding_side: str = "left",
                      left_truncate_len: int | None = None, truncation: bool = False,
                      **kwargs):
    """HFLM.tok_batch_encode (generation tasks' prompts) through `lm.tok_encode`, so that a
    prompt starts with the BOS as a log-likelihood request's context does: (ids, attention
    mask), padded on `padding_side` with the tokenizer's pad token, the last
    `left_truncate_len` positions kept, with HFLM's warning. (`truncation`, the tokenizer's
    cut at its model_max_length, is False in every HFLM prunebench makes.)"""
    import torch

    rows = [lm.tok_encode(text) for text in strings]
    width = max((len(row) for row in rows), default=0)
    pad = lm.tokenizer.pad_token_id if lm.tokenizer.pad_token_id is not None else 0
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        start = width - len(row) if padding_side == "left" else 0
        ids[i, start:start + len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, start:start + len(row)] = 1
    if left_truncate_len and width > left_truncate_len:
        log.warning("left truncation applied: prompts of %d tokens cut to their last %d",
                    width, left_truncate_len)
        ids, mask = ids[:, -left_truncate_len:], mask[:, -left_truncate_len:]
    return ids, mask


def _rolling_without_bos_target(lm, rolling, requests, *args, **kwargs):
    """HFLM's rolling log-likelihood (a whole text's, as wikitext's tasks score) with the text
    encoded without a BOS: its windows put lm-eval's prefix token (the BOS) before the text
    already, so a BOS from the encoding was the first token scored, given itself (lm-eval
    issue 3333)."""
    asked = lm.add_bos_token
    lm.add_bos_token = False
    try:
        return rolling(requests, *args, **kwargs)
    finally:
        lm.add_bos_token = asked


def _tok_encode(lm, encode, string: str, add_special_tokens: bool | None = None,
                left_truncate_len: int | None = None, **kwargs) -> list[int]:
    """HFLM.tok_encode with `encode` for the text: the BOS as HFLM decides it (asked for,
    else its add_bos_token, but never before a text that starts with the BOS's own string)."""
    bos = lm.add_bos_token if add_special_tokens is None else add_special_tokens
    bos_string = lm.tokenizer.bos_token
    if add_special_tokens is None and bos_string and string.startswith(bos_string):
        bos = False
    ids = ([lm.tokenizer.bos_token_id] if bos and lm.tokenizer.bos_token_id is not None
           else []) + encode(string)
    return ids[-left_truncate_len:] if left_truncate_len else ids


def _n_docs(task) -> int | None:
    for docs in (task.test_docs, task.validation_docs):
        try:
            split = docs()
        except Exception:  # noqa: BLE001 - a task without that split
            split = None
        if split is not None:
            return len(split)
    return None


def evaluation_arguments(settings: dict[str, Any]) -> dict[str, Any]:
    """evaluate()'s keyword arguments from a zero-shot cell's settings (`evaluation.zeroshot`
    filled in by the schema): the workflow's script and `prunebench eval` pass them alike, so
    that a new setting needs neither edited (an edited rule script reruns every finished job
    of its rule)."""
    return {"num_fewshot": settings["num_fewshot"], "limit": settings["limit"],
            "batch_size": settings["batch_size"], "seed": settings["seed"],
            "metrics": settings["metrics"], "add_bos_token": settings["add_bos_token"],
            "tokenization": settings.get("tokenization") or "tokenizer"}


def evaluate(model, tokenizer, tasks: list[str], *, include_path: str | Path | None = None,
             num_fewshot: int = 0, limit: int | float | None = None, batch_size: int = 32,
             seed: int = 1234, metrics: dict[str, str] | None = None,
             add_bos_token: bool = True, tokenization: str = "tokenizer",
             progress_dir: str | Path | None = None,
             progress_bars: bool = True, keep_progress: bool = False,
             suite_fix: str | None = None, hub_fix: str | None = None) -> dict[str, Any]:
    """Run lm-eval on the loaded `model`; returns {"summary": ..., "lm_eval": results JSON}.

    `include_path`: the offline suite's folder (prunebench.mc_suite), where a pb_* task is
    asked for. `suite_fix`: what to do when a file of it is missing or cannot be read, for a
    suite the workflow's mc_suite rule did not make (`prunebench eval` writes one for each
    evaluation in a scratch folder); default: that rule's command (mc_suite.remake_hint).
    `hub_fix`: what to do when a hub dataset of lm-eval's tasks cannot be loaded, for a caller
    outside the workflow (`prunebench eval`); default: the workflow's pre-fetch (PREFETCH_HINT).

    `add_bos_token`: whether every context starts with the BOS token. Always passed to lm-eval
    explicitly: left unset, lm-eval 0.4.5 gives causal models no BOS and 0.4.13 lets the
    tokenizer decide (LLaMA's adds one), so the scores would depend on the lm-eval version.
    The study's lm-eval gave LLaMA no BOS (config/paper.yaml: false).

    `tokenization`: "tokenizer" (the checkpoint's, as transformers loads it) or
    "sentencepiece_legacy": the requests' texts encoded as the study's lm-eval encoded them
    (legacy_tokenization; the checkpoint, or the one it was made from, needs tokenizer.model).

    `progress_dir` (default: $PRUNEBENCH_ZEROSHOT_PROGRESS, which the workflow sets; neither:
    nothing kept): where each answer is kept as it is computed, so that a rerun after an
    interruption scores only the rest (prunebench.zeroshot_progress). Only for a model from
    `modeling.load_model` (the store is named by its checkpoint's content).

    `progress_bars`: False turns off the bars of lm-eval's scoring (`prunebench eval -q`).

    `keep_progress`: the answers are kept even once the evaluation finished, and the result's
    "progress" names their file, for the caller to delete once its results are written (an
    output it fails to write then loses no answer). Without it, answers kept in the folder of
    $PRUNEBENCH_ZEROSHOT_PROGRESS (a workflow job's, whose script writes the results after this
    returns) are deleted when the process ends well, those in a `progress_dir` given here when
    the evaluation is done.

    summary: {"accuracy": {task: value}, "average", "metric": {task: metric},
    "metrics": {task: {acc, acc_stderr, acc_norm, acc_norm_stderr}}, "samples": {task: n},
    "add_bos_token", "tokenization", "dtype": the precision the model ran in,
    "resumed_requests": how many answers came from an interrupted run}.
    """
    from prunebench.modeling import dtype_name, placement_record

    if not tasks:
        raise PrunebenchError("no zero-shot tasks given: list them in evaluation.zeroshot.tasks")
    if batch_size < 1 or num_fewshot < 0:
        raise PrunebenchError(f"batch_size={batch_size}, num_fewshot={num_fewshot}: need "
                              "batch_size >= 1 and num_fewshot >= 0")
    problems = unknown_metric_tasks(metrics, tasks)
    if problems:
        raise PrunebenchError("summary metrics: " + "; ".join(problems))
    from prunebench.legacy_tokenization import TOKENIZATIONS, legacy_encoder

    if tokenization not in TOKENIZATIONS:
        raise PrunebenchError(f"evaluation.zeroshot.tokenization {tokenization!r} unknown: use "
                              f"one of {list(TOKENIZATIONS)}")
    # (its SentencePiece model missing is said here, before lm-eval builds a task)
    encode = legacy_encoder(tokenizer) if tokenization == "sentencepiece_legacy" else None
    chosen = {task: summary_metric(task, metrics) for task in tasks}
    manager = task_manager(include_path, tasks, suite_fix)
    _check_known(manager, tasks, include_path)

    was_training = model.training
    lm = language_model(model, tokenizer, batch_size, add_bos_token, encode)
    if not progress_bars:
        for kind in ("loglikelihood", "loglikelihood_rolling", "generate_until"):
            # Instance attributes, as lm-eval calls getattr(lm, kind)(requests).
            setattr(lm, kind, functools.partial(getattr(lm, kind), disable_tqdm=True))
    store = _progress_store(progress_dir, model, tokenizer, add_bos_token, tokenization)
    if store is not None:
        resumable(lm, store)
    until_exit = store is not None and progress_dir is None and not keep_progress
    finished = False
    try:
        out = _simple_evaluate(lm, tasks, include_path, manager, store, (suite_fix, hub_fix),
                               num_fewshot=num_fewshot, limit=limit, batch_size=batch_size,
                               seed=seed)
        if out is None:  # simple_evaluate returns None on non-zero ranks of a distributed run
            raise PrunebenchError("lm-eval returned no results: run the evaluation as one process")
        results = json.loads(json.dumps({k: v for k, v in out.items() if k not in _DROPPED_KEYS},
                                        default=_jsonable))
        summary = {**summarise(results, chosen), "add_bos_token": add_bos_token,
                   "tokenization": tokenization, "dtype": dtype_name(model), "log_softmax_dtype": "float32",
                   **placement_record(model),
                   "resumed_requests": store.reused if store is not None else 0}
        finished = True
    finally:
        model.train(was_training)  # HFLM put it in eval mode
        if store is not None:
            store.close(finished=finished, keep=keep_progress or until_exit)
    if until_exit:
        delete_at_successful_exit(store.path)
    if keep_progress:
        return {"summary": summary, "lm_eval": results,
                "progress": store.path if store is not None else None}
    return {"summary": summary, "lm_eval": results}


def _simple_evaluate(lm, tasks, include_path, manager, store, fixes, *, num_fewshot, limit,
                     batch_size, seed):
    """lm-eval's run, its failures explained (out of memory, a dataset it could not load:
    `fixes`, evaluate's suite_fix and hub_fix)."""
    import lm_eval

    with _naming_datasets() as calls, _without_torch_env_report(), _git_hash_of_prunebench(), \
            _without_lm_eval_notices():
        try:
            return lm_eval.simple_evaluate(
                model=lm, tasks=task_specs(tasks, include_path), num_fewshot=num_fewshot, limit=limit,
                task_manager=manager, log_samples=False, random_seed=seed,
                numpy_random_seed=seed, torch_random_seed=seed, fewshot_random_seed=seed)
        except Exception as err:  # noqa: BLE001 - datasets / hub raise many types
            # torch: imported late
            from prunebench.oom import first_line, is_out_of_memory, out_of_memory_error

            if is_out_of_memory(err):
                raise out_of_memory_error(err)(
                    f"out of memory in lm-eval's zero-shot tasks {tasks} in batches of "
                    f"{batch_size} ({first_line(err)}): lower evaluation.zeroshot.batch_size "
                    "(`prunebench eval --batch-size`), or spread the model over several devices "
                    "with the model's device_map / max_memory in the config"
                    + (f"; the {len(store.answers)} answers scored so far are kept for the rerun"
                       if store is not None else "")) from None
            named = _dataset_error(calls, err, hub_tasks(tasks), include_path or MC_SUITE,
                                   *fixes)
            if named:
                raise named from err
            if num_fewshot and "Sample larger than population" in str(err):  # lm-eval's draw
                raise PrunebenchError(
                    f"num_fewshot {num_fewshot} asks for more examples than a task of {tasks} "
                    "has to draw them from: lower evaluation.zeroshot.num_fewshot "
                    "(`prunebench eval --num-fewshot`)") from None
            raise


# What lm-eval says of how prunebench calls it, on every run: the model is passed built on
# purpose (its loading is prunebench's), and num_fewshot is always given explicitly.
_LM_EVAL_NOTICES = {
    "lm_eval.models.huggingface": ("`pretrained` model kwarg is not of type `str`",
                                   "Passed an already-initialized model through `pretrained`"),
    "lm_eval.evaluator": ("Overwriting default num_fewshot of",),
}


@contextlib.contextmanager
def _without_lm_eval_notices():
    """lm-eval's messages about prunebench's own way of calling it left out; its others kept."""
    loggers = [logging.getLogger(name) for name in _LM_EVAL_NOTICES]
    for logger in loggers:
        logger.addFilter(_keep)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(_keep)


def _keep(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith(_LM_EVAL_NOTICES.get(record.name, ()))


def _progress_store(progress_dir, model, tokenizer, add_bos_token: bool, tokenization: str):
    """The answer store of this evaluation (prunebench.zeroshot_progress), or None."""
    from prunebench.plan.layout import ZEROSHOT_PROGRESS_VARIABLE

    folder = progress_dir or os.environ.get(ZEROSHOT_PROGRESS_VARIABLE)
    if not folder:
        return None
    identity = store_identity(model, tokenizer, add_bos_token, tokenization)
    if identity is None:
        log.info("the model was not loaded from a checkpoint with a manifest: its zero-shot "
                 "answers are not kept for a resumed run")
        return None
    return open_store(folder, identity)


def _jsonable(obj: Any) -> Any:
    try:
        return _json_default(obj)  # numpy / torch scalars, paths
    except TypeError:
        pass
    if isinstance(obj, (set, tuple)):
        return list(obj)
    return str(obj)  # functions and objects in task configs: their repr is enough to read


def summarise(results: dict[str, Any], chosen: dict[str, str]) -> dict[str, Any]:
    """The summary of an lm-eval results JSON; a task or metric missing from it is an error."""
    per_task = results.get("results", {})
    accuracy, detail, samples = {}, {}, {}
    for task, metric in chosen.items():
        scores = per_task.get(task)
        if scores is None:
            raise PrunebenchError(f"lm-eval's results lack task {task} (it has "
                                  f"{sorted(per_task)}): the task did not run; check its log")
        values = {}
        for name in METRICS:
            if f"{name},none" in scores:
                values[name] = scores[f"{name},none"]
                stderr = scores.get(f"{name}_stderr,none")
                values[f"{name}_stderr"] = stderr if isinstance(stderr, (int, float)) else None
        if metric not in values:
            raise PrunebenchError(f"lm-eval's results for {task} have no {metric} (they have "
                                  f"{sorted(values) or sorted(scores)}): choose another metric "
                                  f"in evaluation.zeroshot.metrics")
        accuracy[task] = float(values[metric])
        detail[task] = values
        n = results.get("n-samples", {}).get(task, {})
        samples[task] = n.get("effective") if isinstance(n, dict) else None
    return {"accuracy": accuracy, "average": sum(accuracy.values()) / len(accuracy),
            "metric": chosen, "metrics": detail, "samples": samples}
