"""`prunebench eval`: the workflow's perplexity and zero-shot cells on one checkpoint, writing
ppl.json and/or zeroshot.json + lm_eval.json together, as results/eval/ holds them."""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from prunebench import PrunebenchError
from prunebench.atomic import atomic_dir, delete_unless_held, read_json, write_json
from prunebench.commands.arguments import check_out_dir, choice, parse_list, require_hub
from prunebench.commands.model_source import (Checkpoint, params_of, progress_dir,
                                              resolve_model)
from prunebench.legacy_tokenization import TOKENIZATIONS, needs_sentencepiece
from prunebench.commands.workflow_defaults import (BOS_MODES, EMBEDDED_SEED, EVAL_DTYPES,
                                                   PPL_DEFAULTS, SUITE_DEFAULTS,
                                                   ZEROSHOT_DEFAULTS, embedded_text)

log = logging.getLogger(__name__)


# The options of one part of an evaluation (their argparse dest and default): a value other
# than the default, given without that part, would change nothing, without a word.
PPL_ONLY = {"--window": ("window", PPL_DEFAULTS["window"]),
            "--stride": ("stride", PPL_DEFAULTS["stride"]),
            "--bos": ("bos", PPL_DEFAULTS["bos"]),
            "--max-windows": ("max_windows", PPL_DEFAULTS["max_windows"])}
ZEROSHOT_ONLY = {"--num-fewshot": ("num_fewshot", ZEROSHOT_DEFAULTS["num_fewshot"]),
                 "--limit": ("limit", ZEROSHOT_DEFAULTS["limit"]),
                 "--zeroshot-seed": ("zeroshot_seed", ZEROSHOT_DEFAULTS["seed"]),
                 "--add-bos-token": ("add_bos_token", ZEROSHOT_DEFAULTS["add_bos_token"])}

# What an unreadable offline suite tells `prunebench eval` to do (zeroshot.evaluate's
# suite_fix): the command writes its suite for each evaluation in a scratch folder, so no
# workflow rule remakes it (the workflow's command is no fix here), and running it again
# writes the suite anew.
SCRATCH_SUITE_FIX = (
    "it is the suite prunebench eval wrote for this evaluation in a scratch folder (removed "
    "when the command ends): run the command again, which writes it anew; should it fail the "
    "same way, the temporary folder (TMPDIR) or datasets' cache (HF_DATASETS_CACHE), where "
    "datasets converts the suite's data, may be full or not writable: point them at folders "
    "with room that you can write to")

# What a hub dataset of lm-eval's tasks that cannot be loaded tells `prunebench eval` to do
# (zeroshot.evaluate's hub_fix): the workflow's pre-fetch (`snakemake prefetch`, for a config's
# tasks) is no command of a user without a config. lm-eval loads the dataset into datasets'
# caches, so a run where the hub is reachable fills them, and a copy serves an offline machine.
HUB_DATASET_FIX = (
    "run this prunebench eval where the hub is reachable, or load the dataset there once with "
    "`datasets.load_dataset` (it fills datasets' caches, HF_DATASETS_CACHE and HF_HUB_CACHE); "
    "then run it here with HF_DATASETS_OFFLINE=1 and those two variables pointing at a copy of "
    "those caches")


def refuse_options_of_the_other_part(args, datasets: list[str], tasks: list[str]) -> None:
    """A perplexity option set without --ppl, or a zero-shot one without --tasks: refused
    (`eval --ppl embedded --limit 5` scored the whole perplexity text and said nothing of the
    --limit it dropped)."""
    for options, given, part in ((PPL_ONLY, datasets, "--ppl"),
                                 (ZEROSHOT_ONLY, tasks, "--tasks")):
        if given:
            continue
        for option, (dest, default) in options.items():
            if getattr(args, dest) != default:
                shown = (option if isinstance(default, bool) else
                         f"{option} {getattr(args, dest)}")
                if isinstance(default, bool) and not getattr(args, dest):
                    shown = f"--no-{option[2:]}"
                raise PrunebenchError(f"{shown} sets the {part} part of the evaluation, and no "
                                      f"{part} is given, so it would change nothing: add "
                                      f"{part}, or drop {shown.split()[0]}")


def eval_command(args) -> Path:
    """`prunebench eval`: the workflow's perplexity and zero-shot cells for one checkpoint."""
    from prunebench.data import EVAL_SPLITS
    from prunebench.local_text import (FILE_PREFIX, file_problem, is_jsonl, named_file,
                                       split_sources)
    from prunebench.plan.checks import stride_problem
    from prunebench.zeroshot import hub_tasks, unknown_hub_tasks, unknown_suite_tasks

    # The arguments are checked before torch is imported (seconds): a typo is refused at once.
    datasets = parse_list(args.ppl, "--ppl", split=split_sources)
    tasks = parse_list(args.tasks, "--tasks")
    if not datasets and not tasks:
        raise PrunebenchError("nothing to evaluate: give --ppl (e.g. embedded,wikitext2) and/or "
                              "--tasks (e.g. pb_agreement,pb_number)")
    for dataset in datasets:
        if (file := named_file(dataset)) is None:
            choice(dataset, tuple(EVAL_SPLITS), "--ppl dataset")
        elif problem := file_problem(file):
            raise PrunebenchError(f"--ppl {dataset}: {problem}: give the path of a text file "
                                  "(.jsonl, or text scored as it is)")
    # A file by its absolute path, as prune records its --calibration file: ppl.json then
    # names the file scored wherever it is read, and file:a.txt,file:./a.txt is one file twice.
    datasets = [f"{FILE_PREFIX}{file}" if (file := named_file(d)) is not None else d
                for d in datasets]
    # a field given for plain text files only would be ignored without a word
    if args.text_field is not None and not any(
            (file := named_file(d)) is not None and is_jsonl(file) for d in datasets):
        raise PrunebenchError("--text-field names the field of a --ppl file:<path> ending in "
                              ".jsonl (a plain text file is scored as it is): drop it, or give "
                              "such a file")
    for name, items in (("--ppl", datasets), ("--tasks", tasks)):
        if len(set(items)) != len(items):
            raise PrunebenchError(f"{name} lists a name twice: keep one")
    refuse_options_of_the_other_part(args, datasets, tasks)
    choice(args.bos, BOS_MODES, "--bos")
    choice(args.tokenization, TOKENIZATIONS, "--tokenization")
    if args.dtype is not None:
        choice(args.dtype, EVAL_DTYPES, "--dtype")
    # A pb_* typo would otherwise ask the hub for the task; a hub task no YAML of lm-eval
    # mentions would be refused only after the model is loaded.
    typos = unknown_suite_tasks(tasks) + unknown_hub_tasks(tasks)
    if typos:
        raise PrunebenchError(f"--tasks: {typos[0]}")
    if datasets and (problem := stride_problem(args.window, args.stride, "--window")):
        raise PrunebenchError(f"--stride {problem}")
    hub = [d for d in datasets if d in EVAL_SPLITS and d != "embedded"] + hub_tasks(tasks)
    if hub:
        require_hub(f"evaluating {', '.join(hub)}")
    # the files this evaluation writes: --force keeps it from deleting others with the folder
    writes = ("ppl.json",) * bool(datasets) + ("zeroshot.json", "lm_eval.json") * bool(tasks)
    if args.out:
        check_out_dir(Path(args.out), args.force, writes=writes)

    from prunebench.modeling import load_model, require_tokenizer, resolve_device

    ckpt = resolve_model(args.model, args.cache_dir, args.trust_remote_code)
    out = Path(args.out or f"eval-{ckpt.name}-{ckpt.variant}")
    check_out_dir(out, args.force, ckpt.path, writes)
    if needs_sentencepiece(args.tokenization, datasets) or (
            tasks and args.tokenization == "sentencepiece_legacy"):
        from prunebench.legacy_tokenization import sentencepiece_file

        sentencepiece_file(ckpt.path)  # before minutes of loading: one it lacks is said now
    device = resolve_device(args.device, "--device")
    model = load_model(ckpt.path, device=device, dtype=args.dtype or "float32")
    purpose = "perplexity" if datasets else "zero-shot evaluation"
    tokenizer = require_tokenizer(ckpt.path, purpose, args.trust_remote_code)
    files: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as scratch:
        embedded_dir = None
        if "embedded" in datasets or tasks:
            embedded_dir = embedded_text(Path(scratch) / "embedded")
        kept: list[Path] = []  # progress files to delete once the results are written
        if datasets:
            files["ppl.json"], progress = _perplexity(model, tokenizer, ckpt, datasets,
                                                      embedded_dir, device, args)
            kept += [progress] if progress is not None else []
        if tasks:
            zeroshot_files, progress = _zeroshot(model, tokenizer, ckpt, tasks, embedded_dir,
                                                 Path(scratch) / "mc_suite", device, args)
            files.update(zeroshot_files)
            kept += [progress] if progress is not None else []
    with atomic_dir(out) as tmp:  # the files of one evaluation appear together
        for name, data in files.items():
            write_json(tmp / name, data)
    for progress in kept:  # what was kept until now: a failed write above keeps it
        delete_unless_held(progress)
    if "ppl.json" in files:
        for dataset, value in files["ppl.json"]["perplexity"].items():
            print(f"perplexity {dataset}: {value:.4f}")
    if "zeroshot.json" in files:
        summary = files["zeroshot.json"]
        for task in summary["accuracy"]:
            print(f"{task}: {format_accuracy(summary, task)}")
        print(f"average: {summary['average']:.4f}")
    print(f"wrote {', '.join(str(out / name) for name in files)}")
    return out


def format_accuracy(summary: dict[str, Any], task: str) -> str:
    """'acc 0.7180 ± 0.0105 (1838 documents)': the count and the standard error say how far to
    trust it (a --limit of a few documents gives a number that means little)."""
    metric = summary["metric"][task]
    stderr = summary["metrics"][task].get(f"{metric}_stderr")
    spread = f" ± {stderr:.4f}" if isinstance(stderr, (int, float)) else ""
    count = summary["samples"].get(task)
    counted = f" ({count} document{'s' * (count != 1)})" if isinstance(count, int) else ""
    return f"{metric} {summary['accuracy'][task]:.4f}{spread}{counted}"


def _perplexity(model, tokenizer, ckpt: Checkpoint, datasets, embedded_dir, device,
                args) -> tuple[dict, Path | None]:
    """ppl.json as the workflow's perplexity script writes it, and the file keeping each
    dataset's result until it is written (or None): an evaluation interrupted later (in its
    zero-shot tasks, or in the next dataset) scores no finished dataset again when rerun."""
    from prunebench.data import EVAL_SPLITS, load_text
    from prunebench.local_text import DEFAULT_FIELD, is_jsonl, named_file, read_source
    from prunebench.results import perplexity_result

    field = args.text_field or DEFAULT_FIELD
    settings = {"datasets": datasets, "window": args.window, "stride": args.stride,
                "bos": args.bos, "batch_size": args.batch_size or PPL_DEFAULTS["batch_size"],
                "max_windows": args.max_windows, **_dtype_setting(args),
                # as in the workflow's config: recorded only when it is not the tokenizer's
                **({"tokenization": args.tokenization}
                   if args.tokenization != "tokenizer" else {}),
                # which field of a .jsonl file was scored (recorded only where one is)
                **({"text_field": field} if any((file := named_file(d)) is not None
                                                and is_jsonl(file) for d in datasets) else {})}
    texts, splits, file_sha256 = {}, dict(EVAL_SPLITS), {}
    for dataset in datasets:
        if dataset == "embedded":
            texts[dataset] = (embedded_dir / "test.txt").read_text(encoding="utf-8")
        elif (file := named_file(dataset)) is not None:  # a text of your own, scored whole
            _, texts[dataset], file_sha256[dataset] = read_source(file, field)
            splits[dataset] = "file"
        else:
            texts[dataset] = load_text(dataset, EVAL_SPLITS[dataset])  # the text rule's call
    scores, progress = _resumable_perplexities(model, tokenizer, texts, settings)
    # The file's own sha256 beside text_sha256 (the scored text's: for a .jsonl file, its rows
    # joined), to match the file, and `prunebench prune`'s record of a calibration file.
    for dataset, sha256 in file_sha256.items():
        scores[dataset]["file_sha256"] = sha256
    result = perplexity_result(
        scores, model=ckpt.name, variant=ckpt.variant,
        params=params_of(ckpt), settings=settings, splits=splits, device=device,
        cell={"model": ckpt.name, "source": ckpt.source, "variant": ckpt.variant, **settings})
    return result, progress


def _resumable_perplexities(model, tokenizer, texts: dict[str, str],
                            settings: dict[str, Any]) -> tuple[dict[str, dict], Path | None]:
    """`evaluate.perplexities`, one dataset at a time, each result kept in a progress file
    (prunebench.progress_store) named by the model, the tokenizer and the settings; a dataset
    is found there by its name and its text's sha256. A model without a manifest keeps none."""
    import hashlib

    from prunebench.evaluate import perplexities
    from prunebench.progress_store import model_identity, open_progress

    identity = model_identity(model, ("torch", "transformers"))
    store = None
    if identity is not None:
        # batch_size only sets how many windows share a forward pass (lowered after an out of
        # memory, as the zero-shot tasks' is): a rerun with another keeps what was scored.
        scoring = {key: value for key, value in settings.items()
                   if key not in ("datasets", "batch_size")}
        header = {"format": PERPLEXITY_PROGRESS_FORMAT, "identity": identity,
                  "tokenizer": str(getattr(tokenizer, "name_or_path", "")), "settings": scoring}
        store = open_progress(perplexity_progress_dir(), header, "perplexities", "the evaluation")
    scores: dict[str, dict] = {}
    finished = False
    try:
        for dataset, text in texts.items():
            key = f"{dataset} {hashlib.sha256(text.encode('utf-8')).hexdigest()}"
            if store is not None and key in store.values:
                log.info("perplexity of %s read back from an interrupted run of this "
                         "evaluation (%s)", dataset, store.path)
                scores[dataset] = store.values[key]
                continue
            scores[dataset] = perplexities(model, tokenizer, {dataset: text}, settings)[dataset]
            scores[dataset]["batch_size"] = settings["batch_size"]  # what it ran with
            if store is not None:
                store.put(key, scores[dataset])
        finished = True
    finally:
        if store is not None:
            store.close(finished, keep=True)  # deleted by eval_command once ppl.json is written
    return scores, store.path if store is not None else None


def _zeroshot(model, tokenizer, ckpt: Checkpoint, tasks, embedded_dir, suite_dir, device,
              args) -> tuple[dict[str, dict], Path | None]:
    """zeroshot.json and lm_eval.json as the workflow's zeroshot script writes them, and the
    file of the answers kept until they are written (or None); the pb_* tasks run on the
    offline suite made from the embedded held-out text (the mc_suite rule)."""
    from prunebench.mc_suite import write_suite
    from prunebench.results import zeroshot_results
    from prunebench.zeroshot import evaluate, evaluation_arguments, hub_tasks, suite_tasks

    if args.add_bos_token and hub_tasks(tasks):
        # The default is the embedded model's (trained with a BOS before every paragraph).
        log.warning("lm-eval's tasks %s are scored with a BOS token before every context; the "
                    "study's lm-eval gave LLaMA none (config/paper.yaml sets add_bos_token: "
                    "false): pass --no-add-bos-token to compare with its numbers",
                    hub_tasks(tasks))
    settings = {**ZEROSHOT_DEFAULTS, "tasks": tasks, "num_fewshot": args.num_fewshot,
                "limit": args.limit, "seed": args.zeroshot_seed,
                "batch_size": args.batch_size or ZEROSHOT_DEFAULTS["batch_size"],
                "add_bos_token": args.add_bos_token, **_dtype_setting(args),
                **({"tokenization": args.tokenization}
                   if args.tokenization != "tokenizer" else {})}
    suite = None
    if suite_tasks(tasks):
        write_suite(embedded_dir / "test.txt", suite_dir, n=SUITE_DEFAULTS["items"],
                    seed=SUITE_DEFAULTS["seed"],
                    context_sentences=SUITE_DEFAULTS["context_sentences"])
        suite = read_json(suite_dir / "suite.json")
        suite["source"] = f"embedded test text, seed {EMBEDDED_SEED}"  # not the scratch path
    started = time.perf_counter()
    out = evaluate(model, tokenizer, tasks, include_path=suite_dir if suite else None,
                   **evaluation_arguments(settings), progress_dir=zeroshot_progress_dir(),
                   progress_bars=not args.quiet, suite_fix=SCRATCH_SUITE_FIX,
                   hub_fix=HUB_DATASET_FIX,
                   keep_progress=True)  # deleted by eval_command once its files are written
    progress = out.pop("progress")
    elapsed = time.perf_counter() - started
    summary, lm_eval_json = zeroshot_results(
        out, model=ckpt.name, variant=ckpt.variant, params=params_of(ckpt), settings=settings,
        suite=suite, elapsed_s=elapsed, device=device,
        cell={"model": ckpt.name, "source": ckpt.source, "variant": ckpt.variant, **settings})
    return {"zeroshot.json": summary, "lm_eval.json": lm_eval_json}, progress


# Where `prunebench eval` keeps each dataset's perplexity until its files are written (the
# workflow scores each model's datasets in one job of its own, so only the command keeps them).
PERPLEXITY_PROGRESS_VARIABLE = "PRUNEBENCH_PERPLEXITY_PROGRESS"
PERPLEXITY_PROGRESS_FORMAT = "prunebench perplexities 1"


def perplexity_progress_dir() -> Path:
    """$PRUNEBENCH_PERPLEXITY_PROGRESS, else perplexity-progress in prunebench's cache folder."""
    return progress_dir(PERPLEXITY_PROGRESS_VARIABLE, "perplexity-progress")


def zeroshot_progress_dir() -> Path:
    """Where an evaluation keeps its lm-eval answers as they come (prunebench.zeroshot_progress;
    model_source.progress_dir)."""
    from prunebench.plan.layout import ZEROSHOT_PROGRESS_VARIABLE

    return progress_dir(ZEROSHOT_PROGRESS_VARIABLE, "zeroshot-progress")


def _dtype_setting(args) -> dict[str, str]:
    """`dtype` in a cell's settings as the workflow's config has it: only where it was given."""
    return {"dtype": args.dtype} if args.dtype is not None else {}
