# Helpers shared by the rule files: config access, variants, file names, wildcard constraints.
import json
from pathlib import Path

from prunebench import PrunebenchError
from prunebench.data import HUB_TEXTS
from prunebench.mc_suite import TASKS as SUITE_TASKS
from prunebench.zeroshot import hub_tasks, suite_tasks
from prunebench.pruning import DATA_FREE, default_calibration, parse_variant, split_variant


wildcard_constraints:
    model=r"[A-Za-z0-9_.-]+",
    variant=r"(?:dense|[a-z0-9_]+-[A-Za-z0-9_.%]+)(?:\+lora)?",  # +lora: LoRA-recovered
    backend=r"hf|compiled",
    lin=r"\d+",
    lout=r"\d+",
    source=r"[a-z0-9_]+",
    n=r"\d+",
    length=r"\d+",
    seed=r"\d+",


EMBEDDED = "resources/data/embedded"


def model_names():
    return list(config["models"])


def variant_entries(model):
    """The model's variants as dicts {name, method, size, params, calibration, base, recovery};
    `<base>+lora` has its base's method and size, and recovery 'lora' (rules/lora.smk)."""
    entries = []
    for item in config["models"][model]["variants"]:
        entry = {"name": item} if isinstance(item, str) else dict(item)
        base, recovery = split_variant(entry["name"])
        method, size = parse_variant(base)
        entry.update(method=method, size=size, base=base, recovery=recovery)
        entries.append(entry)
    names = [e["name"] for e in entries]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise PrunebenchError(f"model {model}: variants listed twice: {duplicates}")
    for e in entries:  # the base's own entry wins, so the +lora entry's settings would be lost
        if e["recovery"] and e["base"] in names and ("params" in e or "calibration" in e):
            raise PrunebenchError(f"model {model}: {e['name']} sets params/calibration, but its "
                                  f"base {e['base']} is listed too: set them on {e['base']}")
    return entries


def variant_names(model):
    return [e["name"] for e in variant_entries(model)]


def variant_entry(model, variant):
    """A listed variant; a base listed only through its `+lora` variant takes that entry."""
    entries = variant_entries(model)
    for entry in entries:
        if entry["name"] == variant:
            return entry
    for entry in entries:
        if entry["recovery"] and entry["base"] == variant:
            return {**entry, "name": variant, "recovery": None}
    raise PrunebenchError(f"variant {variant!r} is not configured for model {model!r}: add it "
                          f"under models.{model}.variants in the config")


def method_settings(method):
    """Per-method params and calibration from the config, over the original's defaults."""
    settings = config.get("methods", {}).get(method, {})
    calibration = {**default_calibration(method), "seed": 1234, **settings.get("calibration", {})}
    return {"params": dict(settings.get("params", {})), "calibration": calibration}


def canonical(value):
    """Mappings with sorted keys, recursively. Snakemake compares a rule's params with the
    recorded ones including key order, so a config rewritten with its keys in another order
    (e.g. by yaml.safe_dump) would otherwise rerun every finished cell."""
    if isinstance(value, dict):
        return {k: canonical(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


def prune_settings(model, variant):
    entry = variant_entry(model, variant)
    settings = method_settings(entry["method"])
    return canonical({
        "method": entry["method"],
        "size": entry["size"],
        "params": {**settings["params"], **entry.get("params", {})},
        "calibration": {**settings["calibration"], **entry.get("calibration", {})},
    })


def calibration_file(model, calibration):
    c = calibration
    return (f"resources/data/calibration/{model}/"
            f"{c['source']}-{c['n']}x{c['length']}-seed{c['seed']}.safetensors")


def calibration_input(model, variant):
    """The windows a prune reads; none for a data-free method (Mag+), so none are drawn."""
    settings = prune_settings(model, variant)
    if settings["method"] in DATA_FREE:
        return []
    return calibration_file(model, settings["calibration"])


def model_dir(model):
    return f"resources/models/{model}"


def variant_inputs(wildcards):
    """What every evaluation of a variant reads: its checkpoint and its prune report."""
    return {"checkpoint": checkpoint_dir(wildcards.model, wildcards.variant),
            "report": f"results/pruned/{wildcards.model}/{wildcards.variant}/prune_report.json"}


def checkpoint_dir(model, variant):
    """Where a variant's weights live: the base model for dense, the pruned copy otherwise."""
    if variant == "dense":
        return model_dir(model)
    return f"results/pruned/{model}/{variant}/checkpoint"


# Job sizes for the GPU rules (prune, benchmark, perplexity, zeroshot, lora). `gpu` is what keeps
# GPU jobs apart: the local profile offers `gpu=1` in total, so they run one at a time there,
# while a cluster gives each job its own GPU. Memory and time grow with the base model
# (prunebench.jobsize); a profile's `set-resources` overrides them per rule.
GPU_JOB = 0 if config.get("device", "auto") == "cpu" else 1


def model_billions(model):
    from prunebench.jobsize import model_billions as billions

    return billions(model_dir(model), config["models"][model]["source"])


def placement(model):
    """A model's device map settings for load_model (prune and evaluation jobs; benchmarks stay
    on one GPU): {} unless the config gives models.<name>.device_map / max_memory."""
    entry = config["models"][model]
    return canonical({k: entry[k] for k in ("device_map", "max_memory") if k in entry})


def job_mem_mb(rule):
    from prunebench.jobsize import mem_mb

    return lambda wildcards, attempt: mem_mb(rule, model_billions(wildcards.model), attempt)


def job_runtime(rule):
    from prunebench.jobsize import runtime_min

    return lambda wildcards, attempt: runtime_min(rule, model_billions(wildcards.model), attempt)


def lora_settings():
    """The config's `lora:` section over the study's defaults (prunebench.lora.DEFAULTS)."""
    from prunebench.lora import resolve_settings

    return canonical(resolve_settings(config.get("lora")))


def instruction_file():
    """The records LoRA recovery trains on (rules/lora.smk), named by lora.data.source."""
    return f"resources/data/instructions/{lora_settings()['data']['source']}.jsonl"


def token_configs():
    """'12x128' -> (12, 128), in config order."""
    return [tuple(int(x) for x in tc.lower().split("x")) for tc in config["benchmark"]["token_configs"]]


def bench_settings(backend):
    """Only what shapes this backend's cells: adding a token config or changing another
    backend's setting must not rerun finished cells."""
    bench = config["benchmark"]
    settings = {k: bench[k] for k in ("batch_sizes", "warmup", "repeats", "dtype", "attention", "seed")}
    if backend == "compiled":
        settings["compile_mode"] = bench["compile_mode"]
    else:
        settings["sampling"] = bench["sampling"]
    return settings


def bench_files():
    return [
        f"results/bench/{m}/{v}/{b}/{lin}x{lout}.json"
        for m in model_names()
        for v in variant_names(m)
        for b in config["benchmark"]["backends"]
        for lin, lout in token_configs()
    ]


def eval_files():
    """ppl.json per variant, and zeroshot.json too when evaluation.zeroshot is configured."""
    kinds = ["ppl.json"] + (["zeroshot.json"] if zeroshot_config() else [])
    return [f"results/eval/{m}/{v}/{k}" for m in model_names() for v in variant_names(m)
            for k in kinds]


MC_SUITE = "resources/data/mc_suite"          # the offline lm-eval suite (prunebench.mc_suite)
LM_EVAL_DATA = "resources/data/lm_eval"       # pre-fetched hub datasets of lm-eval tasks


def zeroshot_config():
    """evaluation.zeroshot (its defaults filled in by the schema), or {} when it is off."""
    return config["evaluation"].get("zeroshot") or {}


def hf_cache_env(offline):
    """Environment for lm-eval jobs: the datasets and hub caches inside the project (so a
    pre-fetch on a login node serves the compute nodes), offline for evaluation jobs. Paths
    are relative to the working directory; the scripts resolve them."""
    env = {"HF_DATASETS_CACHE": f"{LM_EVAL_DATA}/cache/datasets",
           "HF_HUB_CACHE": f"{LM_EVAL_DATA}/cache/hub"}
    if offline:
        env.update(HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1")
    return env


def prune_reports():
    return [f"results/pruned/{m}/{v}/prune_report.json" for m in model_names() for v in variant_names(m)]


EVAL_SPLITS = {"embedded": "test", "wikitext2": "test", "ptb": "validation"}


def eval_text_file(dataset):
    """Held-out text of a perplexity dataset, prepared once (hub datasets by the `text` rule)."""
    if dataset == "embedded":
        return "resources/data/embedded/test.txt"
    return f"resources/data/text/{dataset}/{EVAL_SPLITS[dataset]}.txt"


def prefetch_targets():
    """Everything that needs the network: models, calibration windows, evaluation text and
    lm-eval's task datasets."""
    targets = [model_dir(m) for m in model_names()]
    for m in model_names():
        for base in {e["base"] for e in variant_entries(m)} - {"dense"}:
            windows = calibration_input(m, base)  # none for a data-free method
            if windows:
                targets.append(windows)
    targets += [eval_text_file(d) for d in config["evaluation"]["perplexity"]["datasets"]]
    # LoRA recovery's hub instruction data (Alpaca-cleaned); embedded data is made offline.
    if any(e["recovery"] for m in model_names() for e in variant_entries(m)) \
            and lora_settings()["data"]["source"] != "embedded":
        targets.append(instruction_file())
    # lm-eval's hub tasks: their datasets, downloaded by lm-eval into the project's cache.
    targets += [f"{LM_EVAL_DATA}/{t}.json" for t in hub_tasks(zeroshot_config().get("tasks", []))]
    return sorted(set(targets))


TABLES = ["speed", "quality", "summary"]


def all_targets():
    tables = expand("results/tables/{table}.{ext}", table=TABLES, ext=["csv", "md"])
    figures = expand("results/figures/throughput_vs_latency_{backend}.{ext}",
                     backend=config["benchmark"]["backends"], ext=["png", "pdf"])
    return tables + figures
