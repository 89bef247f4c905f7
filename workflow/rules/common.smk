# Helpers shared by all rule files (config access, variants, file names, wildcard constraints)
# and every input function: the other rule files hold rules only, as `snakemake --lint` asks.
import errno
import os
import re
import sys
from pathlib import Path

# Only torch-free modules here: Snakemake imports them on every parse, a dry run included.
from prunebench.atomic import read_json_or_none
from prunebench.logs import RUN_VARIABLE, new_run_id
from prunebench.plan import layout, preflight, variants
from prunebench.plan.checks import config_notes
from prunebench.plan.config_files import schema_defaults
from prunebench.plan.layout import fill
from prunebench import local_text
from prunebench.data import DEFAULT_SAMPLING, HUB_TEXTS, SAMPLINGS
from prunebench.mc_suite import TASKS as SUITE_TASKS
from prunebench.methods.registry import DATA_FREE
from prunebench.plan.variants import canonical
from prunebench.zeroshot import hub_tasks, suite_tasks


# `model` only matches this config's models: a file of another config's model (a rerun
# without its --configfile) gets "no rule to produce" instead of a KeyError in a job's sizing.
wildcard_constraints:
    model="|".join(re.escape(m) for m in config["models"]) or "(?!)",
    variant=r"(?:dense|[a-z0-9_]+-[A-Za-z0-9_.%]+)(?:\+lora)?",  # +lora: LoRA-recovered
    backend=r"hf|hf_static|compiled",
    lin=r"\d+",
    lout=r"\d+",
    source=r"[a-z0-9_]+",
    n=r"\d+",
    length=r"\d+",
    seed=r"\d+",
    # "-<sampling>" or empty: a file of the default (wrapped) sampling keeps its older name
    sampling="|".join(f"-{s}" for s in SAMPLINGS if s != DEFAULT_SAMPLING) + "|",


EMBEDDED = layout.EMBEDDED
# The tiny model's training settings when a config gives none (embedded.model in the schema).
TINY_MODEL_DEFAULTS = schema_defaults("embedded")["model"]
MC_SUITE = layout.MC_SUITE
LM_EVAL_DATA = layout.LM_EVAL_DATA

# One TorchInductor cache for every job (inherited by the job processes, on a cluster too, as
# it lies under the shared working directory): compiled benchmark cells reuse the FX graphs and
# the autotuned kernels of earlier cells whose shapes recur (the same GEMMs in every token
# config of a model and in its depth-pruned variants; entries are keyed by GPU and versions).
# A value the user set is kept. Setting it here never reruns a job.
os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(Path(layout.INDUCTOR_CACHE).resolve()))
# Where zero-shot jobs keep each lm-eval answer as it is computed, so that a job killed or
# pre-empted part-way scores only the rest when rerun (prunebench.zeroshot_progress; a finished
# job deletes its file). Through the environment, as above, so that it reruns no job.
os.environ.setdefault(
    layout.ZEROSHOT_PROGRESS_VARIABLE, str(Path(layout.ZEROSHOT_PROGRESS).resolve())
)
# Likewise the calibration losses of depth_ppl and SLEB prunes (prunebench.methods.loss_memo):
# a prune job killed part-way computes only the losses still missing when rerun.
os.environ.setdefault(
    layout.SCORING_PROGRESS_VARIABLE, str(Path(layout.SCORING_PROGRESS).resolve())
)
# The datasets library's bars (a zero-shot job's "Generating test split" for each task): its
# jobs' consoles interleave on Snakemake's, where a bar redrawn by carriage returns is noise.
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
# The config's `trust_remote_code`, for the model rule's downloads: a repository's code files
# (`*.py`, a tokenizer's own) are fetched only with it. Through the environment, as above, not
# a parameter of the rule, so that switching it reruns no finished download.
os.environ[layout.TRUST_REMOTE_CODE_VARIABLE] = "1" if config.get("trust_remote_code") else "0"
# This run's `--configfile ...` and `--config ...` (and `--directory ...` for a run outside the
# checkout, and the profile its command line named), for the rerun commands the aggregation
# prints; passed through the environment rather than a param, so that the same config under
# another file name reruns nothing. A cluster job's own command line is Snakemake's, not the
# user's (its `--config` words are the run's: Snakemake passes them on).
os.environ[layout.RERUN_CONFIG_VARIABLE] = layout.rerun_arguments(
    sys.argv if workflow.is_main_process else [],
    layout.started_in(sys.argv, workflow.workdir_init),
    workflow.configfiles,
    getattr(workflow.config_settings, "config_args", None),
    checkout=Path(workflow.basedir).parent,
)
# The Snakemake program the run was started with (`.venv/bin/snakemake` where that is not on
# PATH), for the same commands; set where the user's command line is, and inherited by its jobs.
# Its relative paths are found from where it was typed (`started_in`), not from
# `workflow.workdir_init`, which is the run's `--directory` where it gives one.
if workflow.is_main_process:
    os.environ[layout.RERUN_PROGRAM_VARIABLE] = layout.program_argument(
        sys.argv,
        layout.started_in(sys.argv, workflow.workdir_init),
        checkout=Path(workflow.basedir).parent,
    )
# This run's id, kept by its jobs (which parse this file again on a cluster): a retry of a job
# that failed on its input then stops at once instead of failing the same way (prunebench.logs).
# The main process always makes a new one: an id found in its environment is another run's (a
# shell inside a cluster job, a second run through Snakemake's API in one Python process).
if workflow.is_main_process:
    os.environ[RUN_VARIABLE] = new_run_id()
else:
    os.environ.setdefault(RUN_VARIABLE, new_run_id())


def model_names():
    return list(config["models"])


def variant_entries(model):
    """The model's variants with method, size, base and recovery (prunebench.plan.variants)."""
    return variants.variant_entries(config, model)


def variant_names(model):
    return variants.variant_names(config, model)


def prune_settings(model, variant):
    return variants.prune_settings(config, model, variant)


def calibration_file(model, calibration):
    """...-seed<seed>.safetensors, with "-<sampling>" before the suffix unless it is the
    default (wrapped), so the embedded windows drawn before `sampling` existed keep their name."""
    c = calibration
    sampling = c.get("sampling", DEFAULT_SAMPLING)
    tail = "" if sampling == DEFAULT_SAMPLING else f"-{sampling}"
    return layout.CALIBRATION.format(
        model=model, source=c["source"], n=c["n"], length=c["length"], seed=c["seed"], sampling=tail
    )


def calibration_input(model, variant):
    """The windows a prune reads; none for a data-free method (Mag+), so none are drawn."""
    settings = prune_settings(model, variant)
    if settings["method"] in DATA_FREE:
        return []
    return calibration_file(model, settings["calibration"])


def model_source(model):
    """What the model is, a param of every job made from it: models.<name>.source, except that
    a `local:` folder is named by its kind alone. Where the folder lies is no part of any
    result: moving it reruns nothing, and a changed file in it reruns the import, and what was
    made from it, through local_model's `files`. Results record it in their cell; the import's
    manifest names the folder (`imported_from`) and the sha256 of each of its files."""
    source = config["models"][model]["source"]
    return "local:" if source.startswith("local:") else source


def model_dir(model):
    return layout.MODEL.format(model=model)


def variant_inputs(wildcards):
    """What every evaluation of a variant reads: its checkpoint and its prune report."""
    return {
        "checkpoint": checkpoint_dir(wildcards.model, wildcards.variant),
        "report": layout.PRUNE_REPORT.format(model=wildcards.model, variant=wildcards.variant),
    }


def checkpoint_dir(model, variant):
    """Where a variant's weights live: the base model for dense, the pruned copy otherwise."""
    if variant == "dense":
        return model_dir(model)
    return layout.CHECKPOINT.format(model=model, variant=variant)


# Job sizes for the GPU rules (prune, benchmark, perplexity, zeroshot, lora) and the rules that
# make the base model (model, local_model). `gpu` is what keeps GPU jobs apart: the local
# profile offers `gpu=1` in total, so they run one at a time there, while a cluster gives each
# job its own GPU. Memory and time grow with the base model (prunebench.plan.jobsize); a
# profile's `set-resources` overrides them per rule.
GPU_JOB = 0 if config.get("device", "auto") == "cpu" else 1


def placed_gpu_job(wildcards):
    """`gpu` of a prune or evaluation job: one; for a model whose device_map or max_memory
    names GPUs, enough to hold the highest one named (a cluster then gives the job that many;
    a local run at most what `--resources gpu` offers, as Snakemake caps each job's request);
    none for a map that names only the CPU and disk."""
    named = variants.placement_gpus(placement(wildcards.model))
    return GPU_JOB if named is None else GPU_JOB * (max(named, default=-1) + 1)


def model_billions(rule_name, model, input):
    """The base model's size for a job of rule `rule_name`. A hub model whose id names no size
    is sized from its config.json once downloaded: until then its jobs' requests are <TBD>
    (Snakemake takes a FileNotFoundError naming a missing input as "size the job when it is
    about to run", which is after the download)."""
    from prunebench.plan import jobsize

    try:
        return jobsize.job_billions(rule_name, model_dir(model), config["models"][model]["source"])
    except jobsize.SizeUnknown:
        missing = [path for path in input if not os.path.exists(path)]
        if not missing:
            raise
        raise FileNotFoundError(errno.ENOENT, "made by an earlier job", missing[0]) from None


def placement(model):
    """A model's device map settings for load_model (prune and evaluation jobs; benchmarks stay
    on one GPU): {} unless the config gives models.<name>.device_map / max_memory."""
    return variants.placement(config, model)


def evaluation_loading(model, stage):
    """load_model's arguments for an evaluation job: the placement, and the stage's dtype
    where the config gives one (prunebench.plan.variants.evaluation_loading)."""
    return variants.evaluation_loading(config, model, stage)


def job_mem_mb(rule_name):
    from prunebench.plan.jobsize import mem_mb

    return lambda wildcards, input, attempt: mem_mb(
        rule_name, model_billions(rule_name, wildcards.model, input), attempt
    )


def job_runtime(rule_name):
    from prunebench.plan.jobsize import runtime_min

    return lambda wildcards, input, attempt: runtime_min(
        rule_name, model_billions(rule_name, wildcards.model, input), attempt
    )


def calibration_mem_mb(wildcards, attempt):
    """Calibration holds the source's rows, not the model (prunebench.plan.jobsize); a text of
    your own is sized by its run's copy, or by its file before the copy is made."""
    from prunebench.plan.jobsize import calibration_mem_mb as mem_mb

    text_bytes = None
    if wildcards.source in own_texts():
        rows = Path(layout.LOCAL_TEXT_ROWS.format(dataset=wildcards.source, split="train"))
        file = local_text.source_file(own_texts()[wildcards.source]["train"])
        found = [f for f in (rows, file) if f.is_file()]
        text_bytes = found[0].stat().st_size if found else None
    return mem_mb(wildcards.source, attempt, text_bytes)


def lora_settings():
    """The config's `lora:` section over the study's defaults (prunebench.plan.lora_settings)."""
    return variants.lora_settings(config)


def instruction_file():
    """The records LoRA recovery trains on (rules/lora.smk), named by lora.data.source."""
    return layout.INSTRUCTIONS.format(source=lora_settings()["data"]["source"])


def token_configs(section=None):
    """'12x128' -> (12, 128), in config order, of `section` (the benchmark's by default)."""
    section = section or config["benchmark"]
    return [tuple(int(x) for x in tc.lower().split("x")) for tc in section["token_configs"]]


def bench_settings(backend):
    """A benchmark job's settings of this backend (prunebench.plan.variants.bench_settings)."""
    return variants.bench_settings(config, backend)


def bench_files(models=None):
    return [
        layout.BENCH.format(model=m, variant=v, backend=b, lin=lin, lout=lout)
        for m in models or model_names()
        for v in variant_names(m)
        for b in config["benchmark"]["backends"]
        for lin, lout in token_configs()
    ]


def paired_config(required=False):
    """benchmark.paired (its defaults filled in by the schema), or {} when it is off (with
    `required`, for a paired file asked for by name: refused, saying why)."""
    paired = config["benchmark"].get("paired") or {}
    if required and not paired:
        refuse_switched_off("benchmark.paired", "a paired file (results/paired/...)")
    return paired


def refuse_switched_off(section, what):
    """A file asked for by name whose stage this run's config switches off."""
    raise PrunebenchError(
        f"{section} is off in this run's config (null or left out), so {what} cannot be made "
        "with it: give the --configfile of the run that made it (a rerun command in the "
        "tables repeats them), or switch the section on"
    )


def refuse_unconfigured_model(wildcards):
    """unconfigured_model's input: the refusal, naming the fix (layout.unconfigured_model)."""
    path = f"results/{wildcards.kind}/{wildcards.other_model}/{wildcards.rest}"
    raise PrunebenchError(
        layout.unconfigured_model(
            path, wildcards.other_model, list(config["models"]), workflow.configfiles
        )
    )


def paired_settings(backend):
    """A paired job's settings: the benchmark's that shape this backend's runs (adaptive
    repeats aside: the pairs are a fixed number) and benchmark.paired's."""
    shared = {
        k: v
        for k, v in bench_settings(backend).items()
        if k not in ("batch_sizes", "warmup", "repeats", "max_repeats", "max_seconds", "ci_target")
    }
    paired = paired_config(required=True)
    return {**shared, **{k: paired[k] for k in ("batch_sizes", "warmup", "pairs")}}


def paired_files(models=None):
    """One file per pruned variant, backend and paired token config (none when it is off)."""
    if not paired_config():
        return []
    return [
        layout.PAIRED.format(model=m, variant=v, backend=b, lin=lin, lout=lout)
        for m in models or model_names()
        for v in variant_names(m)
        if v != "dense"
        for b in config["benchmark"]["backends"]
        for lin, lout in token_configs(paired_config())
    ]


def eval_files(models=None):
    """ppl.json per variant, and zeroshot.json too when evaluation.zeroshot is configured."""
    kinds = [layout.PPL] + ([layout.ZEROSHOT] if zeroshot_config() else [])
    return [
        kind.format(model=m, variant=v)
        for m in models or model_names()
        for v in variant_names(m)
        for kind in kinds
    ]


def zeroshot_config(required=False):
    """evaluation.zeroshot (its defaults filled in by the schema), or {} when it is off (with
    `required`, for a zero-shot file asked for by name: refused, saying why)."""
    zeroshot = config["evaluation"].get("zeroshot") or {}
    if required and not zeroshot:
        refuse_switched_off("evaluation.zeroshot", "a zero-shot file (zeroshot.json)")
    return zeroshot


def hf_cache_env(offline):
    """Environment for lm-eval jobs: the datasets and hub caches inside the project (so a
    pre-fetch on a login node serves the compute nodes), offline for evaluation jobs. Paths
    are relative to the working directory; the scripts resolve them."""
    env = {
        "HF_DATASETS_CACHE": f"{LM_EVAL_DATA}/cache/datasets",
        "HF_HUB_CACHE": f"{LM_EVAL_DATA}/cache/hub",
    }
    if offline:
        env.update(HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1")
    return env


def prune_reports():
    return [
        layout.PRUNE_REPORT.format(model=m, variant=v)
        for m in model_names()
        for v in variant_names(m)
    ]


def eval_text_file(dataset):
    """Held-out text of a perplexity dataset, prepared once (hub datasets by the `text` rule,
    texts of your own by `local_text`)."""
    if dataset == "embedded":
        return layout.EMBEDDED_TEXT.format(split="test")
    return layout.HUB_TEXT.format(dataset=dataset, split=eval_splits()[dataset])


def own_texts():
    """The config's `texts`: name -> {train, test, field} (prunebench.local_text)."""
    return config.get("texts") or {}


def eval_splits():
    """The split each perplexity dataset is scored on: the hub datasets' (EVAL_SPLITS) and
    `test` for each text of your own that perplexity scores (local_text.perplexity_splits:
    only these added, so the finished perplexity jobs keep their params, and their results)."""
    return local_text.perplexity_splits(config)


def own_text_state(wildcards):
    """The size and modification time of the file a `local_text` job copies
    (`texts.<name>.<split>`), or its copy's where only its time moved or it is gone
    (prunebench.local_text.workflow_state)."""
    path = local_text.source_file(own_texts()[wildcards.dataset][wildcards.split])
    origin = layout.LOCAL_TEXT_ORIGIN.format(dataset=wildcards.dataset, split=wildcards.split)
    return local_text.workflow_state(path, origin)


def prefetch_targets():
    """What needs the network: hub models, calibration windows cut from hub text, evaluation
    text, LoRA's hub instructions and lm-eval's task datasets. The tiny and `random:` models, a
    `local:` folder and anything made from the embedded text are made offline by the run itself
    (on a login node they would only cost time and memory), except a model whose windows are
    cut from hub text: cutting them needs its tokenizer."""
    targets = [
        model_dir(m) for m in model_names() if config["models"][m]["source"].startswith("hf:")
    ]
    for m in model_names():
        for base in {e["base"] for e in variant_entries(m)} - {"dense"}:
            # Windows cut from hub text need the model's tokenizer: a non-hub model with hub
            # calibration is made here too, as its windows are.
            windows = calibration_input(m, base)  # none for a data-free method
            source = prune_settings(m, base)["calibration"]["source"]
            if windows and source != "embedded" and source not in own_texts():
                targets.append(windows)
    targets += [
        eval_text_file(d)
        for d in config["evaluation"]["perplexity"]["datasets"]
        if d != "embedded" and d not in own_texts()
    ]
    # LoRA recovery's hub instruction data (Alpaca-cleaned); embedded data is made offline.
    if (
        any(e["recovery"] for m in model_names() for e in variant_entries(m))
        and lora_settings()["data"]["source"] != "embedded"
    ):
        targets.append(instruction_file())
    # lm-eval's hub tasks: their datasets, downloaded by lm-eval into the project's cache.
    targets += [f"{LM_EVAL_DATA}/{t}.json" for t in hub_tasks(zeroshot_config().get("tasks", []))]
    return sorted(set(targets))


def gpu_job_files(model):
    """The files of the model's jobs that want a GPU: prunes, benchmarks, evaluations."""
    pruned = [v for v in variant_names(model) if v != "dense"]
    return (
        [layout.PRUNE_REPORT.format(model=model, variant=v) for v in pruned]
        + bench_files([model])
        + paired_files([model])
        + eval_files([model])
    )


def hub_preflight():
    """The warning for files still to fetch from a hub this machine cannot reach, or None."""
    from prunebench.hub import hub_reachable

    hub_files = preflight.missing(prefetch_targets())
    models_first = sorted(hub_files, key=lambda f: not f.startswith(model_dir("")))
    return preflight.hub_warning(models_first, hub_reachable)


def say_preflight_warnings():
    """Say what will stop or crawl on this machine (prunebench.plan.preflight), each kind once:
    files still to fetch from an unreachable hub, GPU jobs still to run here without a GPU,
    tables that would lose rows, and the config's notes (plan.checks.config_notes: a real
    model on the tiny model's settings, a model without dense, a `local:` folder not there)."""
    say_once("hub", lambda: [hub_preflight()])
    say_once("gpu", lambda: [gpu_preflight()])
    say_once("cluster_gpu", lambda: [cluster_gpu_limit()])
    say_once("tables", lambda: [tables_losing_rows_warning()])
    say_once("notes", lambda: config_notes(config))


def cpu_sized_models():
    """The models small enough to run on a CPU without a warning (preflight.cpu_sized)."""
    return [
        m for m in model_names() if preflight.cpu_sized(model_dir(m), config["models"][m]["source"])
    ]


def gpu_preflight():
    """The warning for the default target's GPU jobs still to run here without a GPU."""
    return preflight.gpu_warning(
        config.get("device", "auto"),
        {m: preflight.missing(gpu_job_files(m)) for m in model_names()},
        gpu=preflight.gpu_visible(),
        # A dry run's executor stands in for any; a SLURM partition in the resources
        # (profiles/slurm, or a site's own profile) says its jobs go to the cluster.
        jobs_run_here=workflow.local_exec and not (workflow.dryrun and slurm_partition_given()),
        dry_run=workflow.dryrun,
        cpu_models=cpu_sized_models(),
    )


def cluster_gpu_limit():
    """The warning that a cluster run inherited profiles/default's one-GPU-job limit."""
    limit = workflow.global_resources.get("gpu")
    return preflight.cluster_gpu_limit_warning(
        getattr(limit, "value", limit),  # a Resource in Snakemake 9, a number before
        cluster=not workflow.local_exec or (workflow.dryrun and slurm_partition_given()),
    )


def tables_losing_rows_warning():
    """The warning that the tables, made now, would lose rows of result files this config does
    not ask for (prunebench.plan.preflight), or None."""
    return preflight.dropped_rows_warning(
        read_json_or_none(layout.TABLES_PROVENANCE),
        prune_reports() + bench_files() + paired_files() + eval_files(),
    )


def slurm_partition_given():
    """Whether this run's default or per-rule resources name a SLURM partition."""
    settings = workflow.resource_settings
    for given in [settings.default_resources, *settings.overwrite_resources.values()]:
        names = getattr(given, "parsed", given)  # Snakemake 8's DefaultResources: a dict there
        try:
            if names is not None and "slurm_partition" in names:
                return True
        except TypeError:  # a form this Snakemake version does not let one look into
            continue
    return False


_PREFLIGHT_SAID = set()


def say_once(kind, warnings):
    """Log the warnings `warnings()` gives (None for none) the first time their `kind` is
    asked for: Snakemake may evaluate an input function more than once, and a kind has
    several askers (the default target, the aggregation's input, `onstart` for a named
    target's GPU jobs), of which the first says it."""
    from snakemake.logging import logger

    if kind not in _PREFLIGHT_SAID:
        _PREFLIGHT_SAID.add(kind)
        for warning in warnings():
            if warning:
                logger.warning(f"prunebench: {warning}")


def all_inputs(wildcards):
    """The default target's files. Asked for when Snakemake builds the jobs of `all` (a run
    or a dry run of the whole workflow, not `prefetch`, `--lint` or a cluster job's own parse),
    when its executor is known: the moment to say what will stop or crawl here."""
    say_preflight_warnings()
    return all_targets()


def check_pending_jobs():
    """Before the first job starts: refuse the jobs this run would start and see fail on their
    input (prunebench.plan.pending; Snakemake removes a rerun job's old outputs first)."""
    from prunebench.plan.pending import PendingJob, check_pending

    pending = list(workflow.dag.needrun_jobs())
    # A named target's run (one cell rerun) did not build the default target, where the
    # preflight warnings are said: say the GPU one for the jobs about to start.
    say_once("gpu", lambda: [pending_gpu_warning(pending)])
    check_pending(
        [
            PendingJob(
                job.rule.name,
                dict(job.wildcards.items()),
                dict(job.params.items()),
                tuple(job.output),
                tuple(job.input),
            )
            for job in pending
        ],
        model_dir,
        jobs_run_here=workflow.local_exec,
        local_folders={m: str(local_folder(m)) for m in local_models()},
        slurm_plugin=slurm_plugin_version(),
    )


def slurm_plugin_version():
    """The installed version of the SLURM executor plugin this run submits its jobs through,
    or None where it runs them otherwise."""
    from importlib.metadata import version
    from prunebench.plan.pending import SLURM_PLUGIN

    plugin = getattr(workflow, "executor_plugin", None)  # a release without it: no check
    executor_module = getattr(getattr(plugin, "executor", None), "__module__", "")
    if not executor_module.startswith(SLURM_PLUGIN.replace("-", "_")):
        return None
    return version(SLURM_PLUGIN)


def pending_gpu_warning(pending):
    """The preflight GPU warning (prunebench.plan.preflight) for these pending jobs."""
    jobs = {}
    for job in pending:
        if job.rule.name in preflight.GPU_RULES and "model" in job.wildcards.keys():
            jobs.setdefault(job.wildcards.model, []).append(job.output[0])
    return preflight.gpu_warning(
        config.get("device", "auto"),
        jobs,
        gpu=preflight.gpu_visible(),
        jobs_run_here=workflow.local_exec,
        cpu_models=cpu_sized_models(),
    )


onstart:
    # Not for --touch, which runs nothing; jobs of a cluster run get --no-hooks.
    if workflow.is_main_process and not getattr(workflow, "touch", False):
        check_pending_jobs()


def say_usage():
    """One line of what this run's jobs spent (prunebench usage), when it ends: a cluster
    job's Snakemake gets --no-hooks, and says nothing."""
    from snakemake.logging import logger
    from prunebench import usage

    run = os.environ.get(RUN_VARIABLE)
    attempts = [a for a in usage.read_attempts() if a.run == run]
    # A run in a directory of its own (--directory runs/paper) works there, not in the checkout
    # where the usage command is typed.
    here = os.getcwd()
    elsewhere = os.path.abspath(Path(workflow.basedir).parent) != os.path.abspath(here)
    logger.info(f"prunebench: {usage.run_line(attempts, here if elsewhere else None)}")


onsuccess:
    say_usage()


onerror:
    say_usage()


def prefetch_inputs(wildcards):
    """What `prefetch` fetches; the hub's answer first (this step needs it most)."""
    say_once("hub", lambda: [hub_preflight()])
    return prefetch_targets()


TABLES = ["speed", "quality", "summary", "published_vs_reproduced"]
# The study's published numbers, in the checkout beside this workflow: found from a run in
# another directory too (`snakemake --directory runs/<name>`, one directory per config).
# Relative to the working directory, so that moving the checkout (its results in it) does not
# change the aggregation's inputs.
PUBLISHED = os.path.relpath(Path(workflow.basedir).parent / "config" / "published.csv")


def published_input(wildcards):
    """The study's numbers, for the aggregation. Asked for when Snakemake builds the
    aggregation's job, for the default target or a named one (the tables in a rerun command a
    summary gives): the moment to say the tables would lose rows (the default target's
    warnings include it; said once)."""
    if workflow.is_main_process:
        say_once("tables", lambda: [tables_losing_rows_warning()])
    return PUBLISHED


def display_names():
    """The figure's model and method names (config `display_names`), in a canonical order."""
    return canonical(config.get("display_names", {}))


def figure_files():
    """Throughput vs latency per backend, and quality vs speed."""
    return expand(
        layout.SPEED_FIGURE, backend=config["benchmark"]["backends"], ext=["png", "pdf"]
    ) + expand(layout.QUALITY_FIGURE, ext=["png", "pdf"])


def table_files():
    """The tables; paired_speedup only when benchmark.paired has variants to time."""
    tables = TABLES + (["paired_speedup"] if paired_files() else [])
    return expand(layout.TABLE, table=tables, ext=["csv", "md"])


def all_targets():
    """The tables and figures, and every cell's own result file: Snakemake remakes a missing
    file only where something asks for it, and the tables, already made, would not. A cell
    whose job was stopped part-way (a forced one-cell rerun interrupted: Snakemake deletes
    the old result when the job starts) is remade by the next plain run. Checkpoints are not
    asked for: deleting one to save disk reruns nothing."""
    cells = prune_reports() + bench_files() + paired_files() + eval_files()
    return table_files() + figure_files() + [layout.TABLES_PROVENANCE] + cells


# ---------------------------------------------------------------- input functions, per stage


def model_inputs(wildcards):
    """The tiny model trains on the embedded text; random models take its tokenizer."""
    source = config["models"][wildcards.model]["source"]
    if source == "tiny" or source.startswith("random:"):
        return {"train_text": layout.EMBEDDED_TEXT.format(split="train")}
    return {}


def embedded_text_settings():
    """What the embedded text depends on: its seed, not the tiny model's training settings (so
    changing those retrains the tiny model only). The settings keep the shape they always had,
    with the model part fixed to the schema's defaults, so finished jobs recorded the same."""
    return canonical({**config["embedded"], "model": TINY_MODEL_DEFAULTS})


def tiny_model_settings(wildcards):
    """The tiny model's training settings (embedded.model), for the tiny model only. Other
    sources do not read them and get the schema's defaults: a constant, which is what their
    finished jobs recorded, so changing the tiny model's settings never reruns a download."""
    if config["models"][wildcards.model]["source"] == "tiny":
        return canonical(config["embedded"]["model"])
    return canonical(TINY_MODEL_DEFAULTS)


def local_models(local=True):
    """The models imported from a folder (`local:` sources), or (`local=False`) the others."""
    return [
        m for m, spec in config["models"].items() if spec["source"].startswith("local:") == local
    ]


def model_names_pattern(local):
    """A regex of the models imported from a folder (the local_model rule's wildcard), or
    (`local=False`) of the others (the model rule's), so that each base model is made by one
    rule only."""
    names = local_models(local)
    return "|".join(re.escape(m) for m in names) or "(?!)"  # (?!) matches no name


def local_folder(model):
    """The folder a `local:` model is imported from, resolved where Snakemake runs."""
    from prunebench.checkpoint.local_import import local_path

    return local_path(config["models"][model]["source"].removeprefix("local:"))


def local_folder_state(wildcards):
    """The files a `local:` model is imported from, with their sizes and modification times: a
    change of content reruns the import (a file only touched does not:
    prunebench.checkpoint.local_import.workflow_state). Not input files, so a folder gone after
    its import (a purged scratch space) leaves the import as it is: its state is then the one
    its manifest recorded."""
    from prunebench.checkpoint.local_import import imported_state, workflow_state

    folder = local_folder(wildcards.model)
    if folder.exists():
        return canonical(workflow_state(folder, Path(model_dir(wildcards.model))))
    return canonical(imported_state(model_dir(wildcards.model)) or {})


def model_gpu(wildcards):
    """A `random:` model is initialised on the GPU when there is one (save_random_model); the
    tiny model trains on the CPU and a download needs none, so only the former holds `gpu`."""
    source = config["models"][wildcards.model]["source"]
    return GPU_JOB if source.startswith("random:") else 0


def calibration_inputs(wildcards):
    """A model's tokenizer, and the embedded train text when the windows are cut from it."""
    inputs = {"model": model_dir(wildcards.model)}
    if wildcards.source == "embedded":
        inputs["text"] = layout.EMBEDDED_TEXT.format(split="train")
    elif wildcards.source in own_texts():  # its rows, copied into the run
        inputs["rows"] = layout.LOCAL_TEXT_ROWS.format(dataset=wildcards.source, split="train")
    return inputs


def instruction_inputs(wildcards):
    """Embedded instructions are made from the embedded train text; hub data needs nothing."""
    if wildcards.source == "embedded":
        return {"train_text": layout.EMBEDDED_TEXT.format(split="train")}
    return {}


def evaluation_inputs(wildcards):
    """A perplexity cell reads the variant and the held-out text of every configured dataset."""
    datasets = config["evaluation"]["perplexity"]["datasets"]
    return {**variant_inputs(wildcards), "texts": [eval_text_file(d) for d in datasets]}


def zeroshot_inputs(wildcards):
    """A zero-shot cell reads the variant, the pre-fetched hub tasks and the offline suite."""
    tasks = zeroshot_config(required=True)["tasks"]
    inputs = {
        **variant_inputs(wildcards),
        "prefetched": [f"{LM_EVAL_DATA}/{t}.json" for t in hub_tasks(tasks)],
    }
    if suite_tasks(tasks):
        inputs["suite"] = f"{MC_SUITE}/suite.json"
    return inputs


def in_report(paths):
    """Flag the browsable copies (PNG figures, CSV tables) for the report; the PDF and Markdown
    copies of the same content stay plain outputs. Captions are relative to the calling rule
    file (workflow/rules/), as Snakemake resolves them where the rule is defined."""
    flagged = []
    for path in paths:
        name = Path(path).stem
        if path.endswith(".png") and name == "quality_vs_speed":
            path = report(
                path,
                caption="../report/quality_vs_speed.rst",
                category="Quality vs speed",
                labels={"figure": "quality vs speed"},
            )
        elif path.endswith(".png"):
            backend = name.removeprefix("throughput_vs_latency_")
            path = report(
                path,
                caption="../report/throughput_vs_latency.rst",
                category="Throughput vs latency",
                subcategory=f"backend {backend}",
                labels={"figure": "throughput vs latency", "backend": backend},
            )
        elif path.endswith(".csv"):
            # A table without its own caption file gets the generic one.
            own = Path(workflow.basedir, "report", f"{name}.rst").exists()
            path = report(
                path,
                caption=f"../report/{name if own else 'table'}.rst",
                category="Tables",
                subcategory=name,
                labels={"table": name},
            )
        flagged.append(path)
    return flagged
