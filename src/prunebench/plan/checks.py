"""Checks of a workflow config before any job runs, with one line per problem.

The workflow calls `check_config` when it is parsed (a dry run included); `prunebench
check-config FILE...` runs the same checks on config files, and also names the line of a YAML
syntax error, which Snakemake reports without a position. No torch here: Snakemake imports this
module on every parse. Reading the files and the schema is `plan.config_files`; telling a breach
of the schema in words is `plan.schema_errors`; what only a config as a whole, the registry or a
model's shape can tell is here.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from prunebench import FamilyUnsupported, PrunebenchError, did_you_mean
from prunebench.checkpoint.param_count import (config_from_dict, context_length, count_params,
                                               family)
from prunebench.methods.registry import (METHODS, parse_variant, split_variant, unknown_params,
                                         value_problems)
from prunebench.plan.config_files import (SCHEMA, config_section, load_config_files, load_schema,
                                          schema_defaults)
from prunebench.plan.config_source import name_sources
from prunebench.plan.lora_settings import DEFAULTS as LORA_DEFAULTS
from prunebench.plan.schema_errors import schema_problems, unknown_method
from prunebench.plan.sizes import parse_size, parse_size_spec
from prunebench.plan.variants import read_variants

REQUIRED_SECTIONS = ("models", "benchmark", "evaluation")
def stacking_hint(files: list[str] | tuple[str, ...] = ("my.yaml",)) -> str:
    """What to say of a config that lacks whole sections: an override file given alone (`files`,
    for the example)."""
    import shlex

    return ("a --configfile replaces config/config.yaml rather than adding to it: stack yours on "
            "top of the default, e.g. `snakemake --cores all --configfile config/config.yaml "
            f"{' '.join(map(shlex.quote, files))}`")


STACKING_HINT = stacking_hint()
# ... and for a file that brings models of its own: stacked, the default's run beside them.
# docs/running.md holds the whole of running one's own model alone (the README a short
# version): the directory of its own, a relative local: path read from there.
ALONE_HINT = ("stacked so, the default's tiny model (trained here, a few minutes) and its "
              "variants run beside your models; to run yours alone, give a whole config: a copy "
              "of config/config.yaml with your models in place of its `models` "
              "(docs/running.md, \"Real models\")")

# Every result file has a `provenance` block, and no config does: one merged into the config is
# a target written after --configfile, whose values Snakemake reads as more config files.
RESULT_AS_CONFIG_HINT = ("a result file was read as a config file (its `provenance` is in the "
                         "config): Snakemake reads every path after --configfile as a config "
                         "file, so name targets before it, e.g. `snakemake --cores all "
                         "results/eval/<model>/<variant>/ppl.json --configfile config/config.yaml`")


def _models(config: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The config's models whose entry is a mapping (the schema reports the others)."""
    models = config.get("models")
    return [(name, spec) for name, spec in (models.items() if isinstance(models, dict) else ())
            if isinstance(spec, dict)]


def _name_of(item: Any) -> Any:
    return item.get("name") if isinstance(item, dict) else item


@functools.cache
def _schema_pattern(schema_file: str | Path, *path: str) -> re.Pattern:
    entry = load_schema(schema_file)
    for key in path:
        entry = entry[key]
    return re.compile(entry["pattern"])


def _valid_variant_name(name: Any, schema_file: str | Path) -> bool:
    """Whether the schema takes `name` as a variant name (it explains the others itself)."""
    pattern = _schema_pattern(schema_file, "definitions", "variant_name")
    return isinstance(name, str) and pattern.fullmatch(name) is not None


def _known_config(model: str, spec: dict[str, Any], resources: str | Path):
    """The model's config when known here without a download (jobsize.known_config), else
    None; also None for a `local:` config.json that cannot be read (source_problems says so)."""
    from prunebench.plan.jobsize import known_config

    source = spec.get("source")
    try:
        return (known_config(Path(resources) / "models" / model, source)
                if isinstance(source, str) else None)
    except (PrunebenchError, OSError, ValueError):
        return None


def variant_problems(config: dict[str, Any], resources: str | Path = "resources",
                     schema_file: str | Path = SCHEMA) -> list[str]:
    """Variants that cannot be made, every one named: duplicated names, one size written two
    ways, malformed sizes, sizes larger than the model (when its size is known here). Names the
    schema refuses are its to explain."""
    problems = []
    for model, spec in _models(config):
        items = spec.get("variants")
        items = [item for item in (items if isinstance(items, list) else ())
                 if _valid_variant_name(_name_of(item), schema_file)]
        entries, found = read_variants(model, items)
        problems += found
        known = _known_config(model, spec, resources)
        try:
            dense = None if known is None else count_params(known)
        except PrunebenchError as err:  # a family prunebench lacks, which source_problems
            if not str(spec.get("source")).startswith("local:"):  # says of a local: folder
                problems.append(f"model {model}: {err}")
            continue
        untrained = dense is None and spec.get("source") == "tiny"
        if untrained:
            dense = tiny_params_at_most(config)
        for entry in entries:
            if entry["size"] is None or dense is None:
                continue
            try:
                if untrained:
                    _check_below_untrained_tiny(entry["size"], dense)
                else:
                    parse_size(entry["size"], dense)
            except PrunebenchError as err:
                problems.append(f"model {model}, variant {entry['name']}: {err}")
    return problems


def prunable_problems(config: dict[str, Any], resources: str | Path = "resources") -> list[str]:
    """Pruned variants their method cannot make of a model whose config is known here: a
    protection that leaves no block to remove, a target a depth method cannot reach (closer to
    the dense model than to one block less), a fixed LLM-Pruner ratio that misses the variant's
    size (methods.sizing, from the config alone). The prune job checks the same before it loads
    any weight, but only after the jobs before it (a download, hours on a cluster). Of a hub
    model not downloaded yet whose id names a known shape, only what its family cannot be
    given (a width method on a mixture of experts): a fine-tune may have other sizes. Sizes the
    parser refuses and parameter values the registry refuses are `variant_problems`' and
    `method_param_problems`' to report."""
    from prunebench.methods.sizing import check_prunable
    from prunebench.plan.variants import prune_settings

    problems = []
    for model, spec in _models(config):
        known = _known_config(model, spec, resources)
        if known is None and spec.get("source") == "tiny":
            # Not trained yet: its configured shape (its block count exact; its vocabulary the
            # most its tokenizer learns, which the embedded text gives it), as `plan` sizes it,
            # so that a variant it cannot make is refused before the training, not after.
            known = config_from_dict(untrained_tiny_shape(config))
        family_only = known is None
        if family_only:
            known = _named_shape(spec)
        if known is None:
            continue
        try:
            entries, _ = read_variants(model, spec.get("variants") or [])
            dense = count_params(known)
        except (PrunebenchError, TypeError, AttributeError, KeyError):  # the others say why
            continue
        for base in dict.fromkeys(e["base"] for e in entries if e["method"] != "dense"):
            try:
                settings = prune_settings(config, model, base)
                parse_size(settings["size"], dense)
            except (PrunebenchError, TypeError, KeyError, AttributeError, ValueError):
                continue
            if settings["method"] not in METHODS or unknown_params(
                    settings["method"], settings["params"]) or value_problems(
                    settings["method"], settings["params"]):
                continue
            try:
                check_prunable(known, settings["method"], settings["size"], settings["params"])
            except FamilyUnsupported as err:
                problems.append(f"model {model}, variant {base}: {err}")
            except PrunebenchError as err:
                if not family_only:
                    problems.append(f"model {model}, variant {base}: {err}")
    return problems


def untrained_tiny_shape(config: dict[str, Any]) -> dict[str, Any]:
    """The embedded tiny model's config before it is trained: TINY_SHAPE with the config's
    `embedded.model` over it, at the largest vocabulary its tokenizer may get."""
    from prunebench.checkpoint.architectures import TINY_SHAPE, TINY_VOCAB_SIZE

    settings = config_section(config, "embedded", "model")
    return {**TINY_SHAPE, **{k: v for k, v in settings.items() if k in TINY_SHAPE},
            "vocab_size": settings.get("vocab_size", TINY_VOCAB_SIZE)}


def job_size_cap_problems() -> list[str]:
    """A malformed $PRUNEBENCH_MAX_RUNTIME_MIN / $PRUNEBENCH_MAX_MEM_MB, said before any job
    starts rather than by the first job whose request it caps."""
    from prunebench.plan import jobsize

    problems = []
    for cap in (jobsize.max_runtime_min, jobsize.max_mem_mb):
        try:
            cap()
        except PrunebenchError as err:
            problems.append(str(err))
    return problems


def tiny_model_problems(config: dict[str, Any]) -> list[str]:
    """`embedded.model` settings the tiny model's job would refuse (a shape transformers cannot
    build, training windows longer than its context): found here, before Snakemake removes a
    trained tiny model to make it again, and every result made from it goes stale."""
    from prunebench.checkpoint.architectures import TINY_SEQ_LEN

    if not any(spec.get("source") == "tiny" for _, spec in _models(config)):
        return []
    shape = untrained_tiny_shape(config)
    seq_len = config_section(config, "embedded", "model").get("seq_len", TINY_SEQ_LEN)
    hidden, heads, kv_heads, context = (shape.get(k) for k in (
        "hidden_size", "num_attention_heads", "num_key_value_heads", "max_position_embeddings"))
    if not all(isinstance(v, int) and v > 0 for v in (seq_len, hidden, heads, kv_heads, context)):
        return []  # the schema's to report
    problems = []
    if hidden % heads:
        problems.append(f"embedded.model: hidden_size {hidden} is no multiple of "
                        f"num_attention_heads {heads}, which transformers refuses: choose heads "
                        "that divide it")
    if heads % kv_heads:
        problems.append(f"embedded.model: num_attention_heads {heads} is no multiple of "
                        f"num_key_value_heads {kv_heads} (each key/value head serves a whole group "
                        "of query heads): choose key/value heads that divide it")
    if seq_len > context:
        problems.append(f"embedded.model.seq_len: training windows of {seq_len} tokens exceed "
                        f"the tiny model's context (max_position_embeddings {context}): set "
                        f"seq_len to at most {context}, or raise max_position_embeddings")
    max_length = config_section(config, "lora").get("max_length", LORA_DEFAULTS["max_length"])
    tiny_variants = [_name_of(item) for _, spec in _models(config)
                     if spec.get("source") == "tiny" and isinstance(spec.get("variants"), list)
                     for item in spec["variants"]]
    recovered = any(str(name).endswith("+lora") for name in tiny_variants)
    if recovered and isinstance(max_length, int) and max_length > context:
        # the lora job refuses it (lora.recover_checkpoint), after the prune before it
        problems.append(f"lora.max_length: {max_length} tokens exceed the tiny model's context "
                        f"(max_position_embeddings {context}), which its +lora variants would "
                        f"be trained beyond: set max_length to at most {context}")
    return problems


def tiny_params_at_most(config: dict[str, Any]) -> int:
    """The most parameters the tiny model can have before it is trained (its vocabulary may
    stay below the largest)."""
    return count_params(config_from_dict(untrained_tiny_shape(config)))


def _check_below_untrained_tiny(size: str, at_most: int) -> None:
    """Only an upper bound is known: a count above it is certain to fail, a fraction fits."""
    kind, target = parse_size_spec(size)
    if kind == "fraction" and round(target * at_most) <= 0:  # of any size it can have
        raise PrunebenchError(f"target size {size!r} keeps no parameter of the tiny model (at "
                              f"most {at_most:,} params): choose a larger target")
    if kind == "count" and target > at_most:
        raise PrunebenchError(
            f"target size {size!r} is larger than the tiny model (at most {at_most:,} params, "
            "its vocabulary not trained yet): choose a smaller target, or a kept fraction such "
            "as '0.8'")


def source_problems(config: dict[str, Any], schema_file: str | Path = SCHEMA,
                    resources: str | Path = "resources") -> list[str]:
    """Model sources that pass the schema's pattern but name nothing that can be made: a
    `random:` architecture prunebench does not know (job sizing and the model job would fail
    on it after the run started), a `local:` folder that cannot be imported
    (checkpoint.local_import). A local model imported already is not checked: its copy is what
    the workflow uses, and the folder may have gone since (the import rule then counts as
    done)."""
    from prunebench.checkpoint.architectures import ARCHITECTURES
    from prunebench.checkpoint.integrity import MANIFEST
    from prunebench.checkpoint.local_import import local_problems
    from prunebench.hub import parse_source

    pattern = _schema_pattern(schema_file, "properties", "models", "additionalProperties",
                              "properties", "source")
    problems = []
    for model, spec in _models(config):
        source = spec.get("source")
        if not isinstance(source, str) or not pattern.fullmatch(source):
            continue  # the schema says what a source looks like
        try:
            parsed = parse_source(source)
        except PrunebenchError as err:
            problems.append(f"models.{model}.source: {err}")
            continue
        if parsed.kind == "random" and parsed.name not in ARCHITECTURES:
            problems.append(f"models.{model}.source: unknown architecture {parsed.name!r} in "
                            f"{source!r}: choose one of {sorted(ARCHITECTURES)} "
                            "(docs/families.md), or give a hub id (hf:<org>/<repo>@<revision>)")
        if parsed.kind == "local" and not (Path(resources) / "models" / model / MANIFEST).is_file():
            problems += local_problems(model, parsed.name)
    return problems


# The names a calibration source or perplexity dataset may have: the schema's pattern for them
# (config.schema.yaml, `calibration.source`, `evaluation.perplexity.datasets`).
TEXT_NAME = re.compile(r"[a-z][a-z0-9_]*")


def text_problems(config: dict[str, Any], resources: str | Path = "resources") -> list[str]:
    """Texts of your own (`texts`) and the sources that name them: a text named as a hub
    dataset is, a file that is not there (unless copied into `resources` already: the copy is
    what the run reads), a calibration source or perplexity dataset that is neither built in
    nor a text with the file it needs (the schema only checks their spelling, since the names
    are the config's own)."""
    from prunebench.data import EVAL_SPLITS, SOURCES
    from prunebench.local_text import file_problem, source_file
    from prunebench.plan.layout import LOCAL_TEXT_ORIGIN

    texts = config.get("texts") if isinstance(config.get("texts"), dict) else {}
    problems = []
    for name, spec in texts.items():
        # The schema's name pattern checks strings only; YAML reads `5:` or `yes:` as a number
        # or a boolean, which would reach the workflow's rules as a name and fail there.
        if not isinstance(name, str):
            kind = ("true or false" if isinstance(name, bool) else "a number"
                    if isinstance(name, (int, float)) else f"a {type(name).__name__}")
            problems.append(f"texts.{name}: YAML reads this name as {kind}, not text: give your "
                            "text a name of lower-case letters, digits and '_' that starts with "
                            "a letter (quoted, if YAML reads it otherwise: 'yes':)")
            continue
        if name in SOURCES or name in EVAL_SPLITS:
            problems.append(f"texts.{name}: {name!r} is a built-in text source: give your text "
                            "another name")
        for split in ("train", "test"):
            path = spec.get(split) if isinstance(spec, dict) else None
            copied = Path(resources) / Path(LOCAL_TEXT_ORIGIN.format(
                dataset=name, split=split)).relative_to("resources")
            if (isinstance(path, str) and not copied.is_file()
                    and (problem := file_problem(source_file(path)))):
                problems.append(f"texts.{name}.{split}: {problem}: fix the path (a relative "
                                "one is taken from the directory the run works in)")

    def unknown(where: str, name: Any, built_in, split: str, use: str) -> str | None:
        # a name the schema's pattern for these names refuses has its line already (`file:x`)
        if not isinstance(name, str) or name in built_in or not TEXT_NAME.fullmatch(name):
            return None
        spec = texts.get(name)
        if isinstance(spec, dict) and spec.get(split):
            return None
        if isinstance(spec, dict):
            return (f"{where}: {name!r} is a text of `texts` without a {split} file, which "
                    f"{use}: add texts.{name}.{split}")
        return (f"{where}: {name!r} is no built-in text ({', '.join(built_in)}) and no text of "
                f"`texts`: fix the name, or add your text under `texts` with a {split} file "
                f"(which {use})")

    calibration_at = [(f"methods.{m}.calibration.source", spec.get("calibration"))
                      for m, spec in config_section(config, "methods").items()
                      if isinstance(spec, dict)]
    for model, spec in _models(config):
        entries = spec.get("variants")
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict):
                calibration_at.append((f"models.{model}.variants {_name_of(entry)}: "
                                       "calibration.source", entry.get("calibration")))
    for where, calibration in calibration_at:
        if isinstance(calibration, dict):
            problems.append(unknown(where, calibration.get("source"), SOURCES, "train",
                                    "calibration draws from"))
    datasets = config_section(config, "evaluation", "perplexity").get("datasets")
    for dataset in datasets if isinstance(datasets, list) else []:
        problems.append(unknown("evaluation.perplexity.datasets", dataset, EVAL_SPLITS, "test",
                                "perplexity scores"))
    return [p for p in problems if p]


def method_name_problems(config: dict[str, Any], schema_file: str | Path = SCHEMA) -> list[str]:
    """Method names the registry does not know, wherever the config names a method (a variant,
    a `methods:` key, a `display_names.methods` key). The registry is the one list of methods,
    so the schema only checks their shape and this names the known ones. Run beside the schema
    check, so it skips what the schema already refuses (a malformed name, a section that is not
    a mapping) instead of failing on it."""
    known = f"choose one of {sorted(METHODS)}"
    problems = []
    for model, spec in _models(config):
        variants = spec.get("variants")
        for index, item in enumerate(variants if isinstance(variants, list) else ()):
            name = _name_of(item)
            if not _valid_variant_name(name, schema_file):
                continue  # the schema's line explains it, unknown method included
            method = parse_variant(split_variant(name)[0])[0]
            if method != "dense" and method not in METHODS:
                # the entry's place as the schema's lines name it (`variants.2`, `.2.name`)
                where = f"models.{model}.variants.{index}{'.name' if isinstance(item, dict) else ''}"
                problems.append(f"{where}: unknown pruning method {method!r} in "
                                f"{name!r}{did_you_mean(method, METHODS)}: {known} (or 'dense')")
    display = config.get("display_names")
    sections = {"methods": config.get("methods"),
                "display_names.methods": display.get("methods") if isinstance(display, dict)
                else None}
    for where, section in sections.items():
        problems += [f"{where}: {unknown_method(key)}"
                     for key in (section if isinstance(section, dict) else ())
                     if key not in METHODS]
    return problems


def method_param_problems(config: dict[str, Any]) -> list[str]:
    """Method parameters the method does not have or values it does not accept (the
    registry's rules), in `methods.<m>.params` and in a variant's own `params`: a misspelt name
    (`protect_frist`) or value (`metric: WIF`) would otherwise stop the prune job only when it
    runs, after the jobs before it (a model's download, hours on a cluster). What needs the
    model (a block range, a target the protection leaves unreachable) the prune job checks
    from the model's config before it loads any weight, as `prunebench plan` does. Skips what
    the schema or `method_name_problems` already refuses, as that one does."""
    problems = []
    for model, spec in _models(config):
        variants = spec.get("variants")
        for item in variants if isinstance(variants, list) else ():
            if not isinstance(item, dict):
                continue
            try:
                method = parse_variant(split_variant(item.get("name"))[0])[0]
            except (PrunebenchError, AttributeError, TypeError):
                continue
            ignored = [key for key in ("params", "calibration") if key in item]
            if method == "dense" and ignored:  # nothing is pruned: they would be ignored
                problems.append(f"models.{model}.variants: {item['name']}: the dense model is "
                                f"not pruned, so its {' and '.join(ignored)} would do nothing: "
                                f"remove {'them' if len(ignored) > 1 else 'it'}, or name a "
                                "pruning method")
                continue
            if not isinstance(item.get("params"), dict):
                continue
            problems += _param_problems(f"models.{model}.variants: {item['name']}", method,
                                        item["params"])
    methods = config.get("methods")
    for method, section in (methods.items() if isinstance(methods, dict) else ()):
        if isinstance(section, dict) and isinstance(section.get("params"), dict):
            problems += _param_problems(f"methods.{method}.params", method, section["params"])
    return problems


def _param_problems(where: str, method: str, params: dict[str, Any]) -> list[str]:
    if method not in METHODS:  # 'dense' has no parameters to check; an unknown method is
        return []              # method_name_problems' to report
    problems = [f"{where}: {method} {problem} (config/README.md, `methods`)"
                for problem in value_problems(method, params)]
    unknown = unknown_params(method, params)
    if not unknown:
        return problems
    known = sorted(METHODS[method].params)
    if unknown == ["calibration"]:  # a section of its own, beside `params`
        hints = " (calibration sits beside params, one level up, not inside it)"
    else:
        hints = "".join(did_you_mean(name, known) for name in unknown if len(unknown) == 1)
    return [f"{where}: {method} has no parameter(s) {unknown}{hints}: its parameters are "
            f"{known} (config/README.md, `methods`)"] + problems


def display_name_problems(config: dict[str, Any]) -> list[str]:
    """Display names of models the config does not have: a misspelt key would otherwise leave
    the figure's label at the raw model key without a word."""
    display = config.get("display_names")
    named = display.get("models") if isinstance(display, dict) else None
    models = config.get("models")
    if not isinstance(named, dict) or not isinstance(models, dict):
        return []  # the schema's to report
    return [f"display_names.models: {key!r} is not a model of this config (models: "
            f"{sorted(models)}): spell it as under `models:` or remove it"
            for key in named if key not in models]


def task_problems(config: dict[str, Any], resources: str | Path = "resources") -> list[str]:
    """Misspelt offline-suite tasks (`pb_agreemnt`): any other name is an lm-eval hub task, so
    the typo would add a job that needs the network to an offline run; hub task names that no
    YAML of the installed lm-eval mentions (`hellaswg`: its job would refuse it only after the
    pruning before it; the words are kept under <resources>/cache); and summary metrics set for
    a task that is not configured (a misspelt `hellaswg: acc`)."""
    from prunebench.zeroshot import unknown_hub_tasks, unknown_metric_tasks, unknown_suite_tasks

    zeroshot = config_section(config, "evaluation", "zeroshot")
    tasks = zeroshot.get("tasks")
    names = [t for t in tasks if isinstance(t, str)] if isinstance(tasks, list) else []
    metrics = zeroshot.get("metrics")
    unknown = unknown_suite_tasks(names) + unknown_hub_tasks(names, Path(resources) / "cache")
    return ([f"evaluation.zeroshot.tasks: {line}" for line in unknown]
            + [f"evaluation.zeroshot.metrics: {line}"
               for line in unknown_metric_tasks(metrics if isinstance(metrics, dict) else {},
                                                names)])


def stride_problem(window: Any, stride: Any, window_name: str = "the window") -> str | None:
    """Why windows of `window` tokens started every `stride` tokens cannot be scored, or None:
    a stride larger than the window would skip the tokens between two windows."""
    if isinstance(window, int) and isinstance(stride, int) and stride > window:
        return (f"{stride} is larger than {window_name} ({window} tokens): the tokens between "
                "two windows would never be scored. Set a stride <= the window (a smaller one "
                "re-reads context), or leave it out for stride = window")
    return None


def perplexity_problems(config: dict[str, Any], schema_file: str | Path = SCHEMA,
                        resources: str | Path = "resources") -> list[str]:
    """A perplexity stride larger than its window; the study's tokenization (a SentencePiece
    model's) of hub texts or zero-shot requests for a model known here to have none
    (evaluation.perplexity, evaluation.zeroshot)."""
    from prunebench.legacy_tokenization import needs_sentencepiece

    perplexity = config_section(config, "evaluation", "perplexity")
    window = perplexity.get("window",
                            schema_defaults("evaluation.perplexity", schema_file)["window"])
    problem = stride_problem(window, perplexity.get("stride"))
    problems = [f"evaluation.perplexity.stride: {problem}"] if problem else []
    datasets = perplexity.get("datasets") if isinstance(perplexity.get("datasets"), list) else []
    if needs_sentencepiece(perplexity.get("tokenization"), datasets):
        problems += _sentencepiece_problems(config, "perplexity", resources)
    # (every zero-shot request is tokenized so, the offline suite's too)
    if config_section(config, "evaluation", "zeroshot").get("tokenization") == "sentencepiece_legacy":
        problems += _sentencepiece_problems(config, "zeroshot", resources)
    return problems


def _sentencepiece_problems(config: dict[str, Any], stage: str,
                            resources: str | Path) -> list[str]:
    from prunebench.legacy_tokenization import SENTENCEPIECE_FILE

    problems = []
    for model, spec in _models(config):
        folder = Path(resources) / "models" / model
        if spec.get("source") == "tiny" or str(spec.get("source")).startswith("random:"):
            why = "the tiny model's tokenizer (which random: models get too) is not a " \
                  "SentencePiece model"
        elif (folder / "config.json").exists() and not (folder / SENTENCEPIECE_FILE).exists():
            why = f"{folder} has no {SENTENCEPIECE_FILE} (its tokenizer is not SentencePiece's)"
        else:  # not known here: the perplexity job says so
            continue
        problems.append(f"evaluation.{stage}.tokenization: sentencepiece_legacy tokenizes as "
                        f"LLaMA-1's SentencePiece tokenizer did, and for model {model} {why}: "
                        "use tokenization: tokenizer, or evaluate that model in a run of its own")
    return problems


def context_problems(config: dict[str, Any], resources: str | Path = "resources",
                     schema_file: str | Path = SCHEMA) -> list[str]:
    """Token configs and perplexity windows longer than a model's context, where the model's
    config is known here (as for `variant_problems`): else its benchmark and perplexity jobs
    find out on the GPU, and a cluster profile's retries ask again twice."""
    bench = config_section(config, "benchmark")
    perplexity = config_section(config, "evaluation", "perplexity")
    ppl = {**schema_defaults("evaluation.perplexity", schema_file), **perplexity}
    problems = []
    for model, spec in _models(config):
        limit = context_length(_known_config(model, spec, resources))  # (MPT's max_seq_len)
        if limit is None and spec.get("source") == "tiny":  # before it is trained
            limit = untrained_tiny_shape(config)["max_position_embeddings"]
        if not isinstance(limit, int):
            continue
        paired = bench.get("paired") if isinstance(bench.get("paired"), dict) else {}
        for key, items in (("benchmark.token_configs", bench.get("token_configs")),
                           ("benchmark.paired.token_configs", paired.get("token_configs"))):
            for item in items if isinstance(items, list) else []:
                lin, _, lout = str(item).partition("x")
                if lin.isdigit() and lout.isdigit() and int(lin) + int(lout) > limit:
                    problems.append(f"{key}: {item} needs {int(lin) + int(lout)} positions, "
                                    f"and model {model} has {limit} (max_position_embeddings): "
                                    "use a shorter token config")
        window, bos = ppl.get("window"), 1 if ppl.get("bos") == "window" else 0
        if isinstance(window, int) and window + bos > limit:
            problems.append(f"evaluation.perplexity.window: {window} tokens"
                            f"{' plus the BOS of every window' if bos else ''} exceed model "
                            f"{model}'s context of {limit}: set it to at most {limit - bos}")
        problems += _calibration_context_problems(config, model, limit)
    return problems


def _calibration_context_problems(config: dict[str, Any], model: str, limit: int) -> list[str]:
    """Calibration windows longer than `model`'s context: its prune job would refuse them, but
    only after its calibration job has drawn them (BookCorpus: minutes and 16 GB)."""
    from prunebench.methods.registry import DATA_FREE
    from prunebench.plan.variants import prune_settings, read_variants

    try:
        entries, _ = read_variants(model, config["models"][model].get("variants") or [])
    except (TypeError, KeyError, AttributeError):  # malformed: the schema's problems say how
        return []
    too_long, keys = [], []
    bases = {e["base"]: e for e in entries if e["method"] not in DATA_FREE | {"dense"}}
    for base, entry in bases.items():
        try:
            length = prune_settings(config, model, base)["calibration"]["length"]
        except (PrunebenchError, TypeError, KeyError, AttributeError, ValueError):
            continue  # a variant or a section the earlier checks refuse
        if isinstance(length, int) and length > limit:
            too_long.append(f"{base} ({length})")
            # the key that sets it: the variant's own, else the method's section, where an
            # unset length is the method original's (registry.METHODS)
            calibration = entry.get("calibration")
            own = isinstance(calibration, dict) and "length" in calibration
            keys.append(f"variant {base}'s calibration.length" if own
                        else f"methods.{entry['method']}.calibration.length")
    if not too_long:
        return []
    return [f"calibration.length: the calibration windows of model {model}'s "
            f"{', '.join(too_long)} exceed its context of {limit} tokens: set "
            f"{', '.join(dict.fromkeys(keys))} to at most {limit} (unset, a method's length is "
            "its original's)"]


# A max_memory cap written as a bare number below this is a size without its unit ({0: 70}
# for 70 GiB): as bytes, no decoder block fits, and every block would go to the next device.
BARE_MAX_MEMORY_BYTES = 2**20


def placement_problems(config: dict[str, Any]) -> list[str]:
    """`max_memory` caps the devices of a device map: without `device_map` it would be ignored;
    a bare number is bytes, so a small one is a size whose unit was left out."""
    problems = [f"models.{model}.max_memory: it caps each device of a device map, and models."
                f"{model} has no device_map: add `device_map: auto` (or a mapping of modules to "
                "devices; config/README.md, `models`), or remove max_memory"
                for model, spec in _models(config)
                if "max_memory" in spec and "device_map" not in spec]
    for model, spec in _models(config):
        caps = spec.get("max_memory")
        for device, cap in (caps.items() if isinstance(caps, dict) else ()):
            if (isinstance(cap, int) and not isinstance(cap, bool)
                    and 0 < cap < BARE_MAX_MEMORY_BYTES):
                problems.append(f"models.{model}.max_memory.{device}: {cap} is {cap} bytes (a "
                                "bare number is bytes), room for no block: write the unit, "
                                f"e.g. {cap}GiB")
    return problems


def cuda_only_problems(config: dict[str, Any], schema_file: str | Path = SCHEMA) -> list[str]:
    """A compiled-backend mode, or an attention kernel, that runs only on CUDA with
    `device: cpu`, or flash attention for a backend with a masked static cache on CUDA: every
    benchmark job it touches would stop on it."""
    from prunebench.benchmark import (CUDA_ONLY_ATTENTION, CUDA_ONLY_MODES, MASKED_STATIC_CACHE,
                                      ON_CPU_INSTEAD, flash_takes_no_mask)

    bench = {**schema_defaults("benchmark", schema_file), **config_section(config, "benchmark")}
    device = str(config.get("device", "auto"))
    backends, mode = bench.get("backends"), bench.get("compile_mode")
    if not isinstance(backends, list):
        return []  # the schema's to report
    problems = []
    if device == "cpu" and bench.get("attention") in CUDA_ONLY_ATTENTION:
        problems.append(f"benchmark.attention: {bench['attention']!r} is a kernel of CUDA only, "
                        f"and device is 'cpu': {ON_CPU_INSTEAD}")
    if device == "cpu" and mode in CUDA_ONLY_MODES and "compiled" in backends:
        problems.append(f"benchmark.compile_mode: {mode!r} runs only on CUDA, and device is "
                        "'cpu': set compile_mode to auto or eager (op by op on the CPU), or "
                        "device to auto or cuda")
    for backend in MASKED_STATIC_CACHE:
        if device != "cpu" and bench.get("attention") == "flash" and backend in backends:
            problems.append(f"{flash_takes_no_mask(backend)} (on the CPU it takes one: device: "
                            "cpu)")
    return problems


def softcap_attention_problems(config: dict[str, Any], resources: str | Path = "resources",
                               schema_file: str | Path = SCHEMA) -> list[str]:
    """An SDPA attention setting for a model that soft-caps its attention scores (Gemma-2) or
    normalises them with sink logits (gpt-oss, Granite-SWA, GraniteMoE-SWA: Family.
    attention_sinks; also named by its hub id), where its config is known here: no SDPA kernel
    applies the cap or the sinks, so every benchmark job of that model would stop on it (`auto`
    picks matmul + softmax for it); and for GPT-Neo, whose scores are float32 and unscaled
    (Family.float32_unscaled_scores); and for Doge on transformers 5.17, whose SDPA attention
    drops the causal mask (param_count.sdpa_not_causal)."""
    from prunebench.checkpoint.param_count import FAMILIES, sdpa_not_causal
    bench = {**schema_defaults("benchmark", schema_file), **config_section(config, "benchmark")}
    attention = bench.get("attention")
    if attention in ("auto", "eager") or not isinstance(attention, str):
        return []
    problems = []
    for model, spec in _models(config):
        known = _known_config(model, spec, resources) or _named_shape(spec)
        model_type = getattr(known, "model_type", None)
        if model_type in FAMILIES and FAMILIES[model_type].float32_unscaled_scores:
            problems.append(f"benchmark.attention: {attention!r} is PyTorch's SDPA, and model "
                            f"{model} ({model_type}) takes its attention scores in float32 "
                            "and unscaled, which no SDPA kernel does (transformers' GPT-Neo "
                            "has no SDPA attention): set attention to auto (matmul and softmax "
                            "for such a model, the SDPA kernels for the others) or eager")
            continue
        if known is not None and sdpa_not_causal(known):
            problems.append(f"benchmark.attention: {attention!r} is PyTorch's SDPA, and model "
                            f"{model} ({model_type}) runs without its causal mask under "
                            "transformers' SDPA attention on this transformers (fixed in "
                            "5.18): set attention to auto (eager for such a model) or eager, "
                            "or upgrade transformers")
            continue
        if model_type in FAMILIES and FAMILIES[model_type].attention_sinks:
            problems.append(f"benchmark.attention: {attention!r} is PyTorch's SDPA, and model "
                            f"{model} ({model_type}) normalises its attention scores with a sink "
                            "logit per head, which SDPA drops: set attention to auto (matmul "
                            "and softmax for such a model, the SDPA kernels for the others) "
                            "or eager")
            continue
        cap = getattr(_known_config(model, spec, resources), "attn_logit_softcapping", None)
        if cap is not None:
            problems.append(f"benchmark.attention: {attention!r} is PyTorch's SDPA, and model "
                            f"{model} soft-caps its attention scores (attn_logit_softcapping "
                            f"{cap}), which SDPA cannot do: set attention to auto (matmul and "
                            "softmax for such a model, the SDPA kernels for the others) or "
                            "eager")
    return problems


def static_cache_problems(config: dict[str, Any], resources: str | Path = "resources",
                          schema_file: str | Path = SCHEMA) -> list[str]:
    """The hf_static backend for a model whose config is known here and whose generate with a
    static cache computes another model (GPT-Neo's local blocks:
    param_count.banded_static_cache_problem) or does not run (MiniMax's own cache:
    param_count.own_cache_static_problem), said at the start rather than by each job."""
    from prunebench.checkpoint.param_count import (banded_static_cache_problem,
                                                   own_cache_static_problem)

    bench = {**schema_defaults("benchmark", schema_file), **config_section(config, "benchmark")}
    backends = bench.get("backends") if isinstance(bench.get("backends"), list) else []
    if "hf_static" not in backends:
        return []
    problems = []
    for model, spec in _models(config):
        known = _known_config(model, spec, resources) or _named_shape(spec)
        if known is not None and (problem := banded_static_cache_problem(known)
                                  or own_cache_static_problem(known)):
            problems.append(f"models.{model}: {problem}; take 'hf_static' out of "
                            "benchmark.backends")
    return problems


def batched_state_problems(config: dict[str, Any], resources: str | Path = "resources",
                           schema_file: str | Path = SCHEMA) -> list[str]:
    """Batch sizes above one (benchmark.batch_sizes', benchmark.paired.batch_sizes') for a
    model whose config is known here and whose generate decodes several sequences as another
    model (RWKV's state: param_count.batched_state_problem), said at the start rather than by
    each job (a paired job runs the same HFRunner.generate, which refuses them)."""
    from prunebench.checkpoint.param_count import batched_state_problem

    bench = {**schema_defaults("benchmark", schema_file), **config_section(config, "benchmark")}
    paired = bench.get("paired") if isinstance(bench.get("paired"), dict) else {}
    above_one = [key for key, sizes in (("benchmark.batch_sizes", bench.get("batch_sizes")),
                                        ("benchmark.paired.batch_sizes", paired.get("batch_sizes")))
                 if isinstance(sizes, list) and any(isinstance(b, int) and b > 1 for b in sizes)]
    if not above_one:
        return []
    problems = []
    for model, spec in _models(config):
        known = _known_config(model, spec, resources) or _named_shape(spec)
        if known is not None and (problem := batched_state_problem(known)):
            problems.append(
                f"models.{model}: {problem} ({' and '.join(above_one)} give more; the batch "
                "sizes are every model's: benchmark models that need larger batches in a "
                "config of their own)")
    return problems


def transformers_release_problems(config: dict[str, Any],
                                  resources: str | Path = "resources") -> list[str]:
    """Models whose config is known here (or whose hub id names a known shape) of a family
    this environment's transformers is too old to build (`Family.min_transformers`: EXAONE's,
    InternLM3's), said at the start rather than by each job that loads one. `prunebench plan`
    does not ask: a plan builds no model."""
    from prunebench.checkpoint.param_count import transformers_release_problem

    problems = []
    for model, spec in _models(config):
        known = _known_config(model, spec, resources) or _named_shape(spec)
        # (the untrained tiny model's shape names no model_type: LLaMA's)
        model_type = getattr(known, "model_type", None)
        if known is not None and (problem := transformers_release_problem(model_type)):
            problems.append(f"models.{model}: {problem}")
    return problems


def float16_problems(config: dict[str, Any], resources: str | Path = "resources",
                     schema_file: str | Path = SCHEMA) -> list[str]:
    """Models whose config is known here of a family transformers cannot run in float16
    (param_count.FLOAT16_REASONS: DeepSeek-V4's), where a dtype of the config is float16, or
    `auto` on a device that is not the CPU (the benchmark's auto is float16 on a GPU, the
    evaluation's too unless the checkpoint is stored in bfloat16 and the GPU computes in it):
    said at the start, naming the setting and the fix (bfloat16), rather than by each job
    that loads the model in it."""
    from prunebench.checkpoint.param_count import float16_problem

    gpu = str(config.get("device", "auto")) != "cpu"
    bench = {**schema_defaults("benchmark", schema_file), **config_section(config, "benchmark")}
    settings = [("benchmark.dtype", bench.get("dtype")),
                *((f"evaluation.{part}.dtype", config_section(config, "evaluation", part).get(
                    "dtype")) for part in ("perplexity", "zeroshot"))]
    methods = config.get("methods")
    settings += [(f"methods.{method}.params.dtype", section["params"].get("dtype"))
                 for method, section in (methods.items() if isinstance(methods, dict) else ())
                 if isinstance(section, dict) and isinstance(section.get("params"), dict)]
    problems = []
    for model, spec in _models(config):
        known = _known_config(model, spec, resources) or _named_shape(spec)
        model_type = getattr(known, "model_type", None)
        variants = spec.get("variants")
        own = [(f"models.{model}.variants: {item.get('name')}: params.dtype",
                item["params"].get("dtype"))
               for item in (variants if isinstance(variants, list) else ())
               if isinstance(item, dict) and isinstance(item.get("params"), dict)]
        for where, dtype in [*settings, *own]:
            as_run = "float16" if gpu and str(dtype).lower() == "auto" else dtype
            if problem := float16_problem(model_type, as_run):
                said = f"{dtype!r}" + (" (float16 on a GPU)" if as_run != dtype else "")
                problems.append(f"models.{model}: {where} is {said}, and {problem}")
    return problems


def moe_problems(config: dict[str, Any], resources: str | Path = "resources",
                 schema_file: str | Path = SCHEMA) -> list[str]:
    """What a mixture-of-experts model (Mixtral, Qwen3-MoE, OLMoE, Qwen2-MoE) whose config is
    known here cannot do, said at the start rather than by its jobs: the compiled backend (its
    fused blocks compute a dense MLP) and, for its `+lora` variants, MLP adapter targets (the
    experts are no linear layers). Its width variants are refused by `prunable_problems`, from
    their plans. A model with blocks of another token mixer than softmax attention and no
    experts (Granite 4.0's dense H models, Qwen3.5's dense ones) is told of the compiled
    backend alike, and so are a dense Gemma 4 model and a dense one of latent attention
    (MiniCPM3's) (an ALiBi one, BLOOM's or MPT's, runs on
    it: the decoder adds its biases)."""
    from prunebench.checkpoint.param_count import (family, is_moe, own_cache_static_problem,
                                                   state_blocks)
    from prunebench.plan.lora_settings import expert_target_problem
    from prunebench.plan.variants import read_variants

    bench = {**schema_defaults("benchmark", schema_file), **config_section(config, "benchmark")}
    backends = bench.get("backends") if isinstance(bench.get("backends"), list) else []
    targets = config_section(config, "lora").get("target_modules")
    if not isinstance(targets, list):
        from prunebench.plan.lora_settings import DEFAULTS as LORA_DEFAULTS

        targets = list(LORA_DEFAULTS["target_modules"])
    problems = []
    for model, spec in _models(config):
        known = _known_config(model, spec, resources) or _named_shape(spec)
        try:
            moe = known is not None and is_moe(known)
        except PrunebenchError:  # a family prunebench lacks: source_problems says so
            continue
        if not moe:
            if "compiled" in backends and known is not None and family(known).short_conv:
                problems.append(
                    f"models.{model} ({known.model_type}) is an "
                    f"{'LFM3' if known.model_type == 'lfm3' else 'LFM2'} model, whose blocks hold "
                    "gated short convolutions or attention under its own module names, which "
                    "the compiled backend does not run (its fused blocks read LLaMA's): take "
                    "'compiled' out of benchmark.backends (hf and hf_static run it)")
            elif "compiled" in backends and known is not None and family(known).griffin_blocks:
                # (whatever its block_types: an attention-only model's blocks are its own too)
                problems.append(
                    f"models.{model} ({known.model_type}) is a RecurrentGemma model, whose "
                    "blocks hold RG-LRU recurrent blocks or local attention under its own module "
                    "names (temporal_block, mlp_block), which the compiled backend does not run "
                    "(its fused blocks read LLaMA's): take 'compiled' out of "
                    "benchmark.backends (hf and hf_static run it)")
            elif "compiled" in backends and known is not None and any(state_blocks(known)):
                mixer = ("mLSTM" if family(known).mlstm_blocks
                         else "RWKV's WKV recurrence" if family(known).rwkv_blocks
                         else "Mamba-1"
                         if family(known).mamba1_blocks
                         or known.model_type == "zamba" else "Mamba-2"
                         if family(known).mamba_mixer or family(known).mamba_beside_attention
                         or family(known).mamba2_blocks
                         or known.model_type == "zamba2" else "Gated DeltaNet")
                problems.append(
                    f"models.{model} ({known.model_type}) has blocks of another token mixer "
                    f"than softmax attention ({mixer}), which the compiled backend does not "
                    "run (its fused blocks compute softmax attention): take 'compiled' out of "
                    "benchmark.backends ("
                    # (hf alone where hf_static is refused: xLSTM's, RWKV's own state)
                    + ("hf runs it" if own_cache_static_problem(known)
                       else "hf and hf_static run it")
                    + ")")
            elif "compiled" in backends and known is not None and family(known).latent_attention:
                problems.append(
                    f"models.{model} ({known.model_type}) has multi-head latent attention "
                    "(q_a_proj / q_b_proj, kv_a_proj_with_mqa / kv_b_proj), which the compiled "
                    "backend does not run (its fused blocks read LLaMA's q/k/v heads): take "
                    "'compiled' out of benchmark.backends (hf and hf_static run it)")
            elif "compiled" in backends and known is not None and family(known).depth_only:
                problems.append(
                    f"models.{model} ({known.model_type}) holds {family(known).depth_only}, "
                    "which the compiled backend does not run (its fused blocks compute LLaMA's "
                    "block): take 'compiled' out of benchmark.backends (hf and hf_static run "
                    "it)")
            elif "compiled" in backends and known is not None and family(known).per_layer_blocks:
                gemma3n = known.model_type == "gemma3n_text"
                problems.append(
                    f"models.{model} ({known.model_type}) is a "
                    f"{'Gemma 3n' if gemma3n else 'Gemma 4'} model, whose blocks differ in "
                    f"head_dim and KV heads{' and run AltUp and LAuReL' if gemma3n else ''}, "
                    "may take their values from the keys and may reuse an earlier "
                    "block's keys and values, which the compiled backend "
                    "does not run (its fused blocks do not read them): take 'compiled' out of "
                    "benchmark.backends (hf and hf_static run it)")
            items = spec.get("variants")
            # (LoRA's targets name no projection of a Mamba, xLSTM or RWKV block)
            unadapted = None if known is None else (
                "a Mamba model: its blocks hold no attention or MLP projections, which LoRA's "
                "targets name"
                if family(known).mamba_stack else
                "an xLSTM model: its mLSTM layers and FFNs name their projections otherwise "
                "than LLaMA's (q, ogate_preact, proj_up_gate...), which LoRA's targets name"
                if family(known).mlstm_blocks else
                "an RWKV model: its blocks' projections (time and channel mixing's key, value, "
                "receptance, output) are none that LoRA's targets name"
                if family(known).rwkv_blocks else None)
            if unadapted and any(e["recovery"] for e in read_variants(
                    model, items if isinstance(items, list) else [])[0]):
                problems.append(
                    f"models.{model} ({known.model_type}) is {unadapted}, so a +lora recovery "
                    "has nothing to adapt: take +lora out of its variants")
            continue
        if "compiled" in backends:
            problems.append(
                f"models.{model} ({known.model_type}) is a mixture of experts, which the "
                "compiled backend does not run (its fused blocks compute a dense MLP): take "
                "'compiled' out of benchmark.backends (hf and hf_static run it)")
        items = spec.get("variants")
        entries = read_variants(model, items if isinstance(items, list) else [])[0]
        problem = expert_target_problem(known, targets)
        if problem and any(e["recovery"] for e in entries):
            problems.append(f"models.{model} ({known.model_type}): {problem}")
    return problems


def _named_shape(spec: dict[str, Any]):
    """The published shape a hub source's id names (`hf:microsoft/phi-4` -> phi-4), as a
    config, before its config.json is downloaded; else None. Its family is what the checks
    need of it (the id names the family, which a fine-tune keeps)."""
    from prunebench.checkpoint.architectures import architecture_values, known_shape_of
    from prunebench.hub import parse_source

    try:
        source = parse_source(spec.get("source"))
    except (PrunebenchError, AttributeError):  # the schema or source_problems says why
        return None
    shape = known_shape_of(source.name) if source.kind == "hf" else None
    return config_from_dict(architecture_values(shape)) if shape else None


def packed_lora_target_problems(config: dict[str, Any],
                                resources: str | Path = "resources") -> list[str]:
    """LoRA targets naming some parts of a packed projection (Phi-3's qkv_proj, gate_up_proj;
    GLM's gate_up_proj), or gate_proj of an ungated MLP (Arcee, Nemotron, Starcoder2, Phi,
    Apertus) in a list shorter than the default,
    for a model with `+lora` variants whose config is known here, or whose hub id names a known
    shape: its lora jobs would stop on them, each after its prune."""
    from prunebench.plan.lora_settings import packed_target_problems, ungated_target_problem
    from prunebench.plan.variants import read_variants

    section = config_section(config, "lora")
    targets = section.get("target_modules")
    if not isinstance(targets, list) or not (packed_target_problems(targets)
                                             or "gate_proj" in targets):
        return []
    problems = []
    for model, spec in _models(config):
        items = spec.get("variants")
        entries = read_variants(model, items if isinstance(items, list) else [])[0]
        known = _known_config(model, spec, resources) or _named_shape(spec)
        if any(e["recovery"] for e in entries) and known is not None:
            found = packed_target_problems(targets, family(known).packed)
            found += [p for p in [ungated_target_problem(known, targets)] if p]
            problems += [f"models.{model} ({known.model_type}): {problem}" for problem in found]
    return problems


def unpinned_source_notes(config: dict[str, Any]) -> list[str]:
    """Hub models named without a commit (no `@`, a branch such as `@main`, a tag): two
    downloads may get other weights, and the published comparison then compares other
    models."""
    from prunebench.hub import parse_source

    notes = []
    for model, spec in _models(config):
        try:
            source = parse_source(spec.get("source"))
        except (PrunebenchError, AttributeError):  # the schema or source_problems says why
            continue
        if source.kind == "hf" and not re.fullmatch(r"[0-9a-f]{40}", source.revision or ""):
            notes.append(f"models.{model}.source {spec['source']} names no commit: a download "
                         f"later may get other weights; pin one as hf:{source.name}@<commit> "
                         "(the downloaded model's manifest records the commit it got)")
    return notes


def compile_mode_notes(config: dict[str, Any], schema_file: str | Path = SCHEMA) -> list[str]:
    """A compile_mode set for a run without the compiled backend: it changes nothing. The
    schema's default is no choice of the user's (a run checks its config with the defaults
    filled in), so only another mode is said."""
    bench = config_section(config, "benchmark")
    backends = bench.get("backends")
    default = schema_defaults("benchmark", schema_file)["compile_mode"]
    if (bench.get("compile_mode", default) != default and isinstance(backends, list)
            and "compiled" not in backends):
        return [f"benchmark.compile_mode {bench['compile_mode']!r} is for the compiled backend, "
                f"and benchmark.backends is {backends}: it changes nothing in this run"]
    return []


def config_notes(config: dict[str, Any], resources: str | Path = "resources") -> list[str]:
    """Notes (not problems) on a config that passed `check_config`, said by `prunebench
    check-config` and at the start of a whole workflow run."""
    return (embedded_settings_notes(config) + no_dense_notes(config)
            + missing_folder_notes(config, resources) + compile_mode_notes(config)
            + unpinned_source_notes(config))


def no_dense_notes(config: dict[str, Any]) -> list[str]:
    """Models without a dense variant. A cell of them runs, but the tables' speed-ups and
    sizes are relative to the dense model, so the aggregation that ends a whole run stops on
    them; a config stacked on another replaces its variants list whole, dense included."""
    from prunebench.plan.variants import variant_entries

    return [f"models.{m}.variants has no dense: the tables compare every variant with the "
            "dense model, so the aggregation at the end of a whole run would stop with an "
            "error; add dense to the list (a config file stacked on another replaces its "
            "variants list whole)"
            for m in config.get("models", {})
            if not any(e["method"] == "dense" and not e["recovery"]
                       for e in variant_entries(config, m))]


def missing_folder_notes(config: dict[str, Any], resources: str | Path = "resources"
                         ) -> list[str]:
    """Notes for `local:` models imported before whose folder is not there now: the run goes on
    with the copy (a purged scratch space is no problem, source_problems), which is also what
    a mistyped new path gets, so say which folder that copy came from."""
    from prunebench.atomic import read_json_or_none
    from prunebench.checkpoint.integrity import MANIFEST
    from prunebench.checkpoint.local_import import local_path

    notes = []
    for model, spec in _models(config):
        source = spec.get("source")
        if not isinstance(source, str) or not source.startswith("local:"):
            continue
        copy = Path(resources) / "models" / model
        manifest = read_json_or_none(copy / MANIFEST)
        folder = local_path(source.removeprefix("local:"))
        if isinstance(manifest, dict) and not folder.exists():
            notes.append(
                f"models.{model}.source {source}: no such folder; the run uses the copy "
                f"imported before into {copy}/ from {manifest.get('imported_from', '?')}, and "
                "nothing made from it reruns. For another model give its folder; to import "
                f"this one again, delete {copy}/")
    return notes


def embedded_settings_notes(config: dict[str, Any]) -> list[str]:
    """Notes (not problems) for hub and `local:` models that take settings made for the tiny
    model: calibration on the embedded text, LoRA on embedded records, zero-shot on the
    offline pb_* tasks only. A config stacked on config/config.yaml inherits them without a
    word, and a real model's numbers would then say little. Call on a config that passed
    `check_config`."""
    from prunebench.methods.registry import DATA_FREE
    from prunebench.plan.variants import lora_settings, prune_settings, variant_entries

    real = [m for m, spec in config.get("models", {}).items()
            if str(spec.get("source", "")).startswith(("hf:", "local:"))]
    if not real:
        return []
    inherited = []
    methods = sorted({entry["method"] for m in real for entry in variant_entries(config, m)
                      if entry["method"] not in DATA_FREE | {"dense"}
                      and prune_settings(config, m, entry["base"])["calibration"]["source"]
                      == "embedded"})
    if methods:
        inherited.append(f"calibration on the embedded text ({', '.join(methods)}; "
                         "methods.<method>.calibration.source)")
    if (any(entry["recovery"] for m in real for entry in variant_entries(config, m))
            and lora_settings(config)["data"]["source"] == "embedded"):
        inherited.append("LoRA on instruction records made from the embedded text "
                         "(lora.data.source)")
    tasks = (config.get("evaluation", {}).get("zeroshot") or {}).get("tasks") or []
    if tasks and all(str(t).startswith("pb_") for t in tasks):
        inherited.append("zero-shot on the offline pb_* tasks only (evaluation.zeroshot.tasks)")
    if not inherited:
        return []
    return [f"{', '.join(real)} would run with settings made for the tiny model: "
            f"{'; '.join(inherited)}. Right for a quick offline try; for a real model's "
            "numbers start from config/paper.yaml or config/modern.yaml, or set those keys"]


def lora_problems(config: dict[str, Any]) -> list[str]:
    """LoRA settings the schema accepts one by one but not together (a batch size that is no
    multiple of the micro-batch size, ...): found here rather than when a lora job starts."""
    from prunebench.plan.lora_settings import resolve_settings

    section = config.get("lora")
    if not isinstance(section, dict):
        return []
    try:
        resolve_settings(section)
    except PrunebenchError as err:
        return [str(err)]
    return []


def check_config(config: dict[str, Any], schema_file: str | Path = SCHEMA,
                 resources: str | Path = "resources", files: list[str | Path] = (),
                 set_on_command_line: list[str] = ()) -> None:
    """Raise one PrunebenchError listing every problem of `config`, one line each: every
    check runs (each skips what an earlier one refuses), and a line said twice is kept once.
    `files`: the config files it was read from, read again here: for a key written twice (which
    Snakemake's reader keeps the last of without a word), and to name the file and line that
    writes each problem's key (config_source), but for the sections that the command line's
    `--config KEY=VALUE` words (`set_on_command_line`) set."""
    if not config:
        raise PrunebenchError(
            "no config was given: run Snakemake from the checkout's root (where profiles/default "
            "names config/config.yaml), or pass one with --configfile <checkout>/config/config.yaml")
    schema = file_problems(files) + schema_problems(config, schema_file)
    # lora's settings together, once the schema has nothing to say of them one by one
    lora = [] if any(p.startswith("lora") for p in schema) else lora_problems(config)
    found = (schema + method_name_problems(config, schema_file)
             + method_param_problems(config) + source_problems(config, schema_file, resources)
             + text_problems(config, resources)
             + variant_problems(config, resources, schema_file)
             + prunable_problems(config, resources)
             + display_name_problems(config) + task_problems(config, resources)
             + perplexity_problems(config, schema_file, resources) + placement_problems(config)
             + context_problems(config, resources, schema_file)
             + cuda_only_problems(config, schema_file)
             + softcap_attention_problems(config, resources, schema_file)
             + packed_lora_target_problems(config, resources)
             + moe_problems(config, resources, schema_file)
             + float16_problems(config, resources, schema_file)
             + static_cache_problems(config, resources, schema_file)
             + batched_state_problems(config, resources, schema_file)
             + transformers_release_problems(config, resources)
             + tiny_model_problems(config) + job_size_cap_problems() + lora)
    problems = list(dict.fromkeys(found))
    if not problems:
        return
    missing = [s for s in REQUIRED_SECTIONS if s not in config]
    # A section refused as an unknown key inside another is an indentation slip, not a config
    # that should have been stacked on the default.
    nested = {s: where for s in missing if (where := _refused_inside(problems, s))}
    hints = [f"{s!r} sits inside {where}: a top-level section starts at the line's first "
             "column; check that file's indentation" for s, where in nested.items()]
    if len(nested) < len(missing):
        hints.append(STACKING_HINT)
        if isinstance(config.get("models"), dict) and "tiny" not in config["models"]:
            hints.append(ALONE_HINT)
    if isinstance(config.get("provenance"), dict):
        hints.insert(0, RESULT_AS_CONFIG_HINT)
    problems = name_sources(problems, files, set_on_command_line)
    raise PrunebenchError(f"the config has {len(problems)} problem(s):\n  "
                          + "\n  ".join(problems) + "".join(f"\n{h}" for h in hints))


def file_problems(files: list[str | Path]) -> list[str]:
    """What read_yaml refuses in config files another reader took (a key written twice)."""
    problems = []
    for path in files:
        try:
            load_config_files([path])
        except PrunebenchError as err:
            problems.append(str(err))
    return problems


def _refused_inside(problems: list[str], key: str) -> str | None:
    """The section where `key` was refused as an unknown key (`_unknown_keys`), or None."""
    for line in problems:
        where, _, what = line.partition(": ")
        if what.startswith("unknown key"):
            refused = re.sub(r" \(did you mean [^)]*\)", "", what.partition(": the keys")[0])
            if repr(key) in refused:
                return where
    return None
