# Helpers shared by the rule files: config access, variants, file names, wildcard constraints.
import json
from pathlib import Path

from prunebench import PrunebenchError
from prunebench.pruning import default_calibration, parse_variant


wildcard_constraints:
    model=r"[A-Za-z0-9_.-]+",
    variant=r"dense|[a-z0-9_]+-[A-Za-z0-9_.%]+",
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
    """The model's variants as dicts {name, method, size, params, calibration}."""
    entries = []
    for item in config["models"][model]["variants"]:
        entry = {"name": item} if isinstance(item, str) else dict(item)
        method, size = parse_variant(entry["name"])
        entry.update(method=method, size=size)
        entries.append(entry)
    names = [e["name"] for e in entries]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise PrunebenchError(f"model {model}: variants listed twice: {duplicates}")
    return entries


def variant_names(model):
    return [e["name"] for e in variant_entries(model)]


def variant_entry(model, variant):
    for entry in variant_entries(model):
        if entry["name"] == variant:
            return entry
    raise PrunebenchError(f"variant {variant!r} is not configured for model {model!r}: add it "
                          f"under models.{model}.variants in the config")


def method_settings(method):
    """Per-method params and calibration from the config, over the original's defaults."""
    settings = config.get("methods", {}).get(method, {})
    calibration = {**default_calibration(method), "seed": 1234, **settings.get("calibration", {})}
    return {"params": dict(settings.get("params", {})), "calibration": calibration}


def prune_settings(model, variant):
    entry = variant_entry(model, variant)
    settings = method_settings(entry["method"])
    return {
        "method": entry["method"],
        "size": entry["size"],
        "params": {**settings["params"], **entry.get("params", {})},
        "calibration": {**settings["calibration"], **entry.get("calibration", {})},
    }


def calibration_file(model, calibration):
    c = calibration
    return (f"resources/data/calibration/{model}/"
            f"{c['source']}-{c['n']}x{c['length']}-seed{c['seed']}.safetensors")


def model_dir(model):
    return f"resources/models/{model}"


def checkpoint_dir(model, variant):
    """Where a variant's weights live: the base model for dense, the pruned copy otherwise."""
    if variant == "dense":
        return model_dir(model)
    return f"results/pruned/{model}/{variant}/checkpoint"


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
    return [f"results/eval/{m}/{v}/ppl.json" for m in model_names() for v in variant_names(m)]


def prune_reports():
    return [f"results/pruned/{m}/{v}/prune_report.json" for m in model_names() for v in variant_names(m)]


EVAL_SPLITS = {"embedded": "test", "wikitext2": "test", "ptb": "validation"}


def eval_text_file(dataset):
    """Held-out text of a perplexity dataset, prepared once (hub datasets by the `text` rule)."""
    if dataset == "embedded":
        return "resources/data/embedded/test.txt"
    return f"resources/data/text/{dataset}/{EVAL_SPLITS[dataset]}.txt"


def prefetch_targets():
    """Everything that needs the network: models, calibration windows, evaluation text."""
    targets = [model_dir(m) for m in model_names()]
    for m in model_names():
        for v in variant_names(m):
            if v != "dense":
                targets.append(calibration_file(m, prune_settings(m, v)["calibration"]))
    targets += [eval_text_file(d) for d in config["evaluation"]["perplexity"]["datasets"]]
    return sorted(set(targets))


TABLES = ["speed", "quality", "summary"]


def all_targets():
    tables = expand("results/tables/{table}.{ext}", table=TABLES, ext=["csv", "md"])
    figures = expand("results/figures/throughput_vs_latency_{backend}.{ext}",
                     backend=config["benchmark"]["backends"], ext=["png", "pdf"])
    return tables + figures
