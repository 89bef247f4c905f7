"""Checks of a workflow config before any job runs, with one line per problem.

The workflow calls `check_config` when it is parsed (a dry run included); `prunebench
check-config FILE...` runs the same checks on config files, and also names the line of a YAML
syntax error, which Snakemake reports without a position. No torch here: Snakemake imports this
module on every parse.

The schema is also where the workflow's defaults and allowed values are written, once:
`schema_defaults` and `schema_enum` read them for code that needs them outside a config (the
`prunebench prune|bench|eval` commands).
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml

from prunebench import PrunebenchError
from prunebench.plan.jobsize import known_param_count
from prunebench.methods.registry import METHODS, parse_variant, split_variant, unknown_params
from prunebench.plan.sizes import parse_size
from prunebench.plan.variants import variant_entries

SCHEMA = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "config.schema.yaml"
REQUIRED_SECTIONS = ("models", "benchmark", "evaluation")
STACKING_HINT = ("a --configfile replaces config/config.yaml rather than adding to it: stack "
                 "yours on top of the default, e.g. "
                 "`snakemake --cores all --configfile config/config.yaml my.yaml`")


@functools.cache
def load_schema(schema_file: str | Path = SCHEMA) -> dict[str, Any]:
    """The config schema, read once per process (callers must not change it)."""
    try:
        return yaml.safe_load(Path(schema_file).read_text())
    except OSError as err:
        raise PrunebenchError(f"cannot read the config schema {schema_file} ({err.strerror}): "
                              "prunebench runs from its checkout (pip install -e .), which "
                              "holds workflow/schemas/") from None


def schema_entry(path: str, schema_file: str | Path = SCHEMA) -> dict[str, Any]:
    """The schema of one config key, named by its dotted path: 'benchmark.dtype' ('' is the
    whole config)."""
    entry = load_schema(schema_file)
    walked = []
    for key in path.split(".") if path else []:
        properties = entry.get("properties") or {}
        if key not in properties:
            where = ".".join(walked) or "the top level"
            raise PrunebenchError(f"the config schema has no {path!r}: {where} has only "
                                  f"{sorted(properties)}")
        entry = properties[key]
        walked.append(key)
    return entry


def schema_defaults(path: str, schema_file: str | Path = SCHEMA) -> dict[str, Any]:
    """The `default:` of each key directly under a config section ('evaluation.perplexity', or
    '' for the top-level keys): what the workflow's validation fills in where a config leaves a
    key out. Keys without a default (the required ones) are left out; a nested section's keys
    need their own call. The values are copies, so a caller that changes one changes no other's.
    """
    properties = schema_entry(path, schema_file).get("properties") or {}
    return {key: copy.deepcopy(entry["default"]) for key, entry in properties.items()
            if "default" in entry}


def schema_enum(path: str, schema_file: str | Path = SCHEMA) -> tuple:
    """The values a config key allows ('benchmark.dtype'), or for a list its items' values
    ('benchmark.backends'), in the schema's order."""
    entry = schema_entry(path, schema_file)
    allowed = entry.get("enum", (entry.get("items") or {}).get("enum"))
    if allowed is None:
        raise PrunebenchError(f"the config schema lists no values for {path!r} (no enum)")
    return tuple(allowed)


def load_config_files(paths: list[str | Path]) -> dict[str, Any]:
    """The files merged left to right with Snakemake's own merge (nested mappings merged, the
    rest replaced); a YAML syntax error names the file, line and column."""
    from snakemake.utils import update_config

    merged: dict[str, Any] = {}
    for path in paths:
        try:
            loaded = yaml.safe_load(Path(path).read_text())
        except OSError as err:
            raise PrunebenchError(f"cannot read config file {path}: {err.strerror}") from None
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(err, "problem", None) or str(err)
            raise PrunebenchError(f"{path}{where}: not valid YAML ({problem})") from None
        if not isinstance(loaded, dict):
            raise PrunebenchError(f"{path}: a config file is a mapping of sections "
                                  "(models:, benchmark:, ...), not a list or a single value")
        update_config(merged, loaded)
    return merged


def schema_problems(config: dict[str, Any], schema_file: str | Path = SCHEMA) -> list[str]:
    """Every way `config` breaks the schema, one line each: where, what, what is allowed."""
    import jsonschema

    schema = yaml.safe_load(Path(schema_file).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    for error in sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path)):
        where = ".".join(str(p) for p in error.absolute_path) or "top level"
        problems.append(f"{where}: {_explain(error)}")
    return problems


def _explain(error) -> str:
    """jsonschema's message; a refused pattern says what was expected instead of the regex."""
    value = error.instance
    if isinstance(value, str) and _is_variant_path(error):  # a name, or an entry's `name:`
        return _variant_problem(value)
    if error.validator == "pattern" and isinstance(value, str):
        described = error.schema.get("description")
        if described:
            return f"{value!r} is not allowed: expected {described}"
    return error.message


def _is_variant_path(error) -> bool:
    path = list(error.absolute_path)
    return len(path) >= 3 and path[0] == "models" and path[2] == "variants"


def _variant_problem(name: str) -> str:
    """Why a variant name is refused, in the registry's words (known methods listed)."""
    try:
        base, _ = split_variant(name)
        method, size = parse_variant(base)
        if method != "dense" and method not in METHODS:
            return (f"unknown pruning method {method!r} in {name!r}: choose one of "
                    f"{sorted(METHODS)} (or 'dense')")
        parse_size(size or 1, 1)  # the size's own syntax; the model's size is checked later
    except PrunebenchError as err:
        return str(err) if name in str(err) else f"variant {name!r}: {err}"
    return f"{name!r} is not a variant name such as 'depth_ppl-4.9B' or 'flap-0.8+lora'"


def variant_problems(config: dict[str, Any], resources: str | Path = "resources") -> list[str]:
    """Variants that cannot be made: bad or duplicated names, sizes larger than the model."""
    problems = []
    for model, spec in config["models"].items():
        try:
            entries = variant_entries(config, model)
        except PrunebenchError as err:
            problems.append(str(err))
            continue
        dense = known_param_count(Path(resources) / "models" / model, spec["source"])
        for entry in entries:
            if entry["size"] is None or dense is None:
                continue
            try:
                parse_size(entry["size"], dense)
            except PrunebenchError as err:
                problems.append(f"model {model}, variant {entry['name']}: {err}")
    return problems


def local_source_problems(config: dict[str, Any]) -> list[str]:
    """`local:<folder>` models whose folder cannot be imported (checkpoint.local_import)."""
    from prunebench.checkpoint.local_import import local_problems

    return [problem for model, spec in config["models"].items()
            if spec["source"].startswith("local:")
            for problem in local_problems(model, spec["source"].removeprefix("local:"))]


def method_name_problems(config: dict[str, Any]) -> list[str]:
    """Method names the registry does not know, wherever the config names a method (a variant,
    a `methods:` key, a `display_names.methods` key). The registry is the one list of methods,
    so the schema only checks their shape and this names the known ones. Run beside the schema
    check, so it skips what the schema already refuses (a malformed name, a section that is not
    a mapping) instead of failing on it."""
    known = f"choose one of {sorted(METHODS)}"
    problems = []
    models = config.get("models")
    for model, spec in (models.items() if isinstance(models, dict) else ()):
        variants = spec.get("variants") if isinstance(spec, dict) else None
        for item in variants if isinstance(variants, list) else ():
            name = item.get("name") if isinstance(item, dict) else item
            try:
                method = parse_variant(split_variant(name)[0])[0]
            except (PrunebenchError, AttributeError, TypeError):
                continue  # not a variant name at all: the schema says so
            if method != "dense" and method not in METHODS:
                problems.append(f"models.{model}.variants: unknown pruning method {method!r} in "
                                f"{name!r}: {known} (or 'dense')")
    display = config.get("display_names")
    sections = {"methods": config.get("methods"),
                "display_names.methods": display.get("methods") if isinstance(display, dict)
                else None}
    for where, section in sections.items():
        problems += [f"{where}: unknown pruning method {key!r}: {known}"
                     for key in (section if isinstance(section, dict) else ())
                     if key not in METHODS]
    return problems


def param_name_problems(config: dict[str, Any]) -> list[str]:
    """Method parameters the method does not have, in `methods.<m>.params` and in a variant's
    own `params`: a misspelt name (`protect_frist`) would otherwise stop the prune job only
    when it runs, after the jobs before it. Only the names: their values, and whether a target
    is reachable, need the method's code (torch), so the prune job checks them from the model's
    config before it loads any weight, as `prunebench plan` does. Skips what the schema or
    `method_name_problems` already refuses, as that one does."""
    problems = []
    models = config.get("models")
    for model, spec in (models.items() if isinstance(models, dict) else ()):
        variants = spec.get("variants") if isinstance(spec, dict) else None
        for item in variants if isinstance(variants, list) else ():
            if not isinstance(item, dict) or not isinstance(item.get("params"), dict):
                continue
            try:
                method = parse_variant(split_variant(item.get("name"))[0])[0]
            except (PrunebenchError, AttributeError, TypeError):
                continue
            problems += _unknown_params(f"models.{model}.variants: {item['name']}", method,
                                        item["params"])
    methods = config.get("methods")
    for method, section in (methods.items() if isinstance(methods, dict) else ()):
        if isinstance(section, dict) and isinstance(section.get("params"), dict):
            problems += _unknown_params(f"methods.{method}.params", method, section["params"])
    return problems


def _unknown_params(where: str, method: str, params: dict[str, Any]) -> list[str]:
    if method not in METHODS:  # 'dense' has no parameters to check; an unknown method is
        return []              # method_name_problems' to report
    unknown = unknown_params(method, params)
    if not unknown:
        return []
    return [f"{where}: {method} has no parameter(s) {unknown}: its parameters are "
            f"{sorted(METHODS[method].params)} (config/README.md, `methods`)"]


def display_name_problems(config: dict[str, Any]) -> list[str]:
    """Display names of models the config does not have: a misspelt key would otherwise leave
    the figure's label at the raw model key without a word."""
    named = (config.get("display_names") or {}).get("models") or {}
    return [f"display_names.models: {key!r} is not a model of this config (models: "
            f"{sorted(config['models'])}): spell it as under `models:` or remove it"
            for key in named if key not in config["models"]]


def check_config(config: dict[str, Any], schema_file: str | Path = SCHEMA,
                 resources: str | Path = "resources") -> None:
    """Raise one PrunebenchError listing every problem of `config`, one line each."""
    if not config:
        raise PrunebenchError(
            "no config was given: run Snakemake from the checkout's root (where profiles/default "
            "names config/config.yaml), or pass one with --configfile <checkout>/config/config.yaml")
    problems = (schema_problems(config, schema_file) + method_name_problems(config)
                + param_name_problems(config))
    if not problems:
        problems = (local_source_problems(config) + variant_problems(config, resources)
                    + display_name_problems(config))
    if not problems:
        return
    missing = [s for s in REQUIRED_SECTIONS if s not in config]
    hint = f"\n{STACKING_HINT}" if missing else ""
    raise PrunebenchError(f"the config has {len(problems)} problem(s):\n  "
                          + "\n  ".join(problems) + hint)
