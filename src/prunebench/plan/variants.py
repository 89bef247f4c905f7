"""A config resolved into variants and the settings of each: the one place that merges the
config's layers (method defaults, `methods:` section, a variant's own entry, `lora:`).

The workflow (workflow/rules/common.smk), `prunebench plan` and the tests all call these
functions, so a variant is the same thing wherever it is read. No torch here: Snakemake
imports this module on every parse.
"""

from __future__ import annotations

from typing import Any

from prunebench import PrunebenchError
from prunebench.plan.lora_settings import DEFAULTS as LORA_DEFAULTS
from prunebench.plan.lora_settings import resolve_settings as resolve_lora_settings
from prunebench.methods.registry import parse_variant, resolve_calibration, split_variant
from prunebench.plan.sizes import parse_size_spec


def canonical(value: Any) -> Any:
    """Mappings with sorted keys, recursively. Snakemake compares a rule's params with the
    recorded ones including key order, so a config rewritten with its keys in another order
    (e.g. by yaml.safe_dump) would otherwise rerun every finished cell."""
    if isinstance(value, dict):
        return {k: canonical(value[k]) for k in sorted(value, key=_key_order)}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


def _key_order(key: Any) -> tuple:
    """Numbers first, in order, then the rest by text: a mapping may mix them (max_memory's
    `{0: 70GiB, 1: 70GiB, cpu: 200GiB}`), which plain sorting refuses."""
    if isinstance(key, (int, float)) and not isinstance(key, bool):
        return (0, key, "")
    return (1, 0, str(key))


def variant_entries(config: dict, model: str) -> list[dict[str, Any]]:
    """The model's variants as dicts {name, method, size, params?, calibration?, base, recovery};
    `<base>+lora` has its base's method and size, and recovery 'lora'."""
    entries, problems = read_variants(model, config["models"][model]["variants"])
    if problems:
        raise PrunebenchError("\n".join(problems))
    return entries


NOT_A_VARIANT = ("is not a variant: write a variant's name, e.g. depth_ppl-0.8, or a mapping "
                 "with its name, e.g. {name: flap-0.8, params: {metric: IFV}}")


def read_variants(model: str, items: list) -> tuple[list[dict[str, Any]], list[str]]:
    """The variants of `items` (names, or mappings with a `name`) that parse, and one line per
    problem, every variant checked: a name that does not parse, a malformed size, a variant
    listed twice or written twice (one size spelled two ways), a `+lora` entry whose settings
    its listed base would override."""
    entries, problems = [], []
    for item in items:
        if not (isinstance(item, str) or isinstance(item, dict) and "name" in item):
            problems.append(f"model {model}: variant {item!r} {NOT_A_VARIANT}")
            continue  # a list or a number in the list (the schema's checks say so too)
        entry = {"name": item} if isinstance(item, str) else dict(item)
        try:
            base, recovery = split_variant(entry["name"])
            method, size = parse_variant(base)
        except PrunebenchError as err:
            problems.append(f"model {model}: {err}")
            continue
        entry.update(method=method, size=size, base=base, recovery=recovery)
        entries.append(entry)
    names = [e["name"] for e in entries]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        problems.append(f"model {model}: variants listed twice: {duplicates}")
    same: dict[tuple, str] = {}  # one size spelled two ways ('0.8', '0.80') would prune twice
    for e in entries:
        try:
            key = (e["method"], _size_spec(model, e), e["recovery"])
        except PrunebenchError as err:
            problems.append(str(err))
            continue
        if key in same and same[key] != e["name"]:  # the same name twice is said above
            problems.append(f"model {model}: {same[key]} and {e['name']} are the same variant "
                            "(one size written two ways): keep one of them")
        same.setdefault(key, e["name"])
    for e in entries:  # the base's own entry wins, so the +lora entry's settings would be lost
        # (dense has nothing to set: plan.checks.method_param_problems says so of dense+lora)
        if (e["recovery"] and e["base"] in names and e["method"] != "dense"
                and ("params" in e or "calibration" in e)):
            problems.append(f"model {model}: {e['name']} sets params/calibration, but its base "
                            f"{e['base']} is listed too: set them on {e['base']}")
    return entries, problems


def _size_spec(model: str, entry: dict) -> tuple[str, float] | None:
    if entry["size"] is None:
        return None
    try:
        return parse_size_spec(entry["size"])
    except PrunebenchError as err:
        raise PrunebenchError(f"model {model}, variant {entry['name']}: {err}") from None


def variant_names(config: dict, model: str) -> list[str]:
    return [e["name"] for e in variant_entries(config, model)]


def variant_entry(config: dict, model: str, variant: str) -> dict[str, Any]:
    """A listed variant; a base listed only through its `+lora` variant takes that entry."""
    entries = variant_entries(config, model)
    for entry in entries:
        if entry["name"] == variant:
            return entry
    for entry in entries:
        if entry["recovery"] and entry["base"] == variant:
            return {**entry, "name": variant, "recovery": None}
    raise PrunebenchError(f"variant {variant!r} is not configured for model {model!r}: add it "
                          f"under models.{model}.variants in the config, or, to remake a file of "
                          "a run whose config has it, repeat that run's --configfile files "
                          "(after the target)")


def _method_config(config: dict, method: str) -> dict[str, Any]:
    return (config.get("methods") or {}).get(method) or {}


def method_settings(config: dict, method: str) -> dict[str, Any]:
    """Per-method params and calibration from the config, over the original's defaults."""
    settings = _method_config(config, method)
    calibration = resolve_calibration(method, settings.get("calibration", {}))
    return {"params": dict(settings.get("params", {})), "calibration": calibration}


def prune_settings(config: dict, model: str, variant: str) -> dict[str, Any]:
    """What one prune cell runs with: method, size, params and calibration (canonical order)."""
    entry = variant_entry(config, model, variant)
    settings = method_settings(config, entry["method"])
    return canonical({
        "method": entry["method"],
        "size": entry["size"],
        "params": {**settings["params"], **entry.get("params", {})},
        # resolved from all levels at once: a variant that sets only `source: embedded` still
        # gets embedded's default sampling (registry.resolve_calibration)
        "calibration": resolve_calibration(
            entry["method"], _method_config(config, entry["method"]).get("calibration", {}),
            entry.get("calibration", {})),
    })


def lora_settings(config: dict) -> dict[str, Any]:
    """The config's `lora:` section over the study's defaults, checked."""
    return canonical(resolve_lora_settings(config.get("lora")))


# Where a model's blocks go (models.<name>.device_map / max_memory) decides how much memory each
# device holds, not what is computed: the same logits as on one device, up to floating-point
# rounding where blocks are computed on the CPU beside a GPU, as for MEMORY_ONLY below.
PLACEMENT_KEYS = ("device_map", "max_memory")


class Placed(dict):
    """load_model's keyword arguments as a prune or evaluation job's param: the job gets every
    key, Snakemake's rerun check sees all but the PLACEMENT_KEYS. Snakemake records each param
    as its repr() and reruns a job whose recorded params differ (the `params` rerun trigger),
    so the repr leaves them out: adding max_memory after an out-of-memory error reruns no
    finished job of the model, and a model without them has the params it always had (`{}`,
    or the evaluation's dtype). Results record where the blocks were (placement_record)."""

    def __repr__(self) -> str:
        return repr({k: v for k, v in self.items() if k not in PLACEMENT_KEYS})


def placement(config: dict, model: str) -> Placed:
    """A model's device map settings (device_map, max_memory), {} unless the config gives them."""
    entry = config["models"][model]
    return Placed(canonical({k: entry[k] for k in PLACEMENT_KEYS if k in entry}))


def placement_gpus(placement: dict[str, Any]) -> list[int] | None:
    """The GPU indices a placement names: those a device_map mapping puts modules on and the
    GPU keys of max_memory (`{0: 70GiB, 1: 70GiB, cpu: 200GiB}` -> [0, 1]; `{cpu: 200GiB}` ->
    [], no GPU). None where it names no device at all (`device_map: auto` alone, or no device
    map): the model goes to whatever GPUs the job sees."""
    device_map = placement.get("device_map")
    named = [*(device_map.values() if isinstance(device_map, dict) else []),
             *(placement.get("max_memory") or {})]
    if not named:
        return None
    return sorted({int(d) for d in named if (isinstance(d, int) and not isinstance(d, bool))
                   or (isinstance(d, str) and d.isdigit())})


def evaluation_loading(config: dict, model: str, stage: str) -> Placed:
    """How an evaluation job (`stage`: perplexity or zeroshot) loads the model, as load_model's
    keyword arguments: the model's placement, and `evaluation.<stage>.dtype` where the config
    gives one. Left out, the dict is the placement alone, so finished jobs keep their params."""
    dtype = (config.get("evaluation", {}).get(stage) or {}).get("dtype")
    return Placed(canonical({**placement(config, model), **({"dtype": dtype} if dtype else {})}))


def bench_settings(config: dict, backend: str) -> dict[str, Any]:
    """A benchmark job's params: only what shapes this backend's cells, so that adding a token
    config or changing another backend's setting reruns no finished cell."""
    bench = config["benchmark"]
    settings = {
        k: bench[k] for k in ("batch_sizes", "warmup", "repeats", "dtype", "attention", "seed")
    }
    # Adaptive repeats decide how many timed runs a row gets, so they shape every cell; ci_target
    # also sets where a row is flagged unstable or drifting, so it counts even with them off.
    settings.update({k: bench[k] for k in ("max_repeats", "max_seconds", "ci_target")})
    if bench["max_repeats"] <= bench["repeats"]:
        # Off (exactly `repeats` timed runs, benchmark.timing.repeat_until_stable), neither cap
        # takes part, so each is written as one fixed value: max_repeats as `repeats`, and
        # max_seconds as the schema's default (what paper.yaml's 20/20 gave before, so its
        # finished cells keep their params). Changing either then reruns nothing; a result
        # records these, the settings in effect.
        from prunebench.plan.config_files import schema_defaults

        settings["max_repeats"] = bench["repeats"]
        settings["max_seconds"] = schema_defaults("benchmark")["max_seconds"]
    if backend == "compiled":
        settings["compile_mode"] = bench["compile_mode"]
        # Both backends sample when asked (the same settings, prunebench.benchmark.sampling);
        # the key is added only then, so compiled cells finished before it existed (greedy)
        # keep their params and are not rerun.
        if bench["sampling"]:
            settings["sampling"] = True
    else:
        settings["sampling"] = bench["sampling"]
    return settings  # scalars and lists in a fixed key order: the config's order cannot leak in


# Settings that decide how much memory a job takes, not what it computes (the same numbers up
# to floating-point rounding: evaluation batches hold whole windows or right-padded items of a
# causal model; activations recomputed in the backward pass are the same activations). They
# reach the job from the config, not through its params, which Snakemake reruns on: lowering
# one past an out-of-memory error reruns no finished cell. Each result records what it ran with.
MEMORY_ONLY: dict[str, tuple[str, ...]] = {
    "perplexity": ("batch_size",),
    "zeroshot": ("batch_size",),
    "lora": ("gradient_checkpointing",),
}


# Settings that change what a job's log says, not its results. In its params each is written
# at its default, so that a config leaving it there keeps the params it had and changing it
# reruns nothing; the config's value reaches the job as the MEMORY_ONLY ones do. (A recovery's
# saved progress ignores it likewise: prunebench.lora.recovery_fingerprint.)
LOG_ONLY: dict[str, tuple[str, ...]] = {"lora": ("log_every",)}


def _stage_settings(config: dict, stage: str) -> dict[str, Any]:
    if stage == "lora":
        return lora_settings(config)
    from prunebench.plan.config_files import schema_defaults

    return {**schema_defaults(f"evaluation.{stage}"),
            **(config.get("evaluation", {}).get(stage) or {})}


def rerun_settings(config: dict, stage: str) -> dict[str, Any]:
    """A stage's settings (`evaluation.<stage>` or `lora`) that decide its results: the job's
    params, without the MEMORY_ONLY ones (perplexity's are the config's section as given and
    filled in by the schema; zero-shot's leave out its offline suite, which reaches the job
    through its files)."""
    settings = _stage_settings(config, stage)
    left_out = {*MEMORY_ONLY[stage], *(("suite",) if stage == "zeroshot" else ())}
    at_default = {k: LORA_DEFAULTS[k] for k in LOG_ONLY.get(stage, ())}
    return canonical({**{k: v for k, v in settings.items() if k not in left_out}, **at_default})


def job_settings(config: dict, stage: str, params: dict[str, Any]) -> dict[str, Any]:
    """What a job of `stage` runs with: its params' settings plus the config's MEMORY_ONLY and
    LOG_ONLY ones (read where the job runs, from the run's config)."""
    settings = _stage_settings(config, stage)
    from_config = (*MEMORY_ONLY[stage], *LOG_ONLY.get(stage, ()))
    return canonical({**params, **{k: settings[k] for k in from_config}})
