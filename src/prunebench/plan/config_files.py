"""Reading config files and the config schema, before any check runs.

YAML is read refusing a key written twice; config files are stacked as Snakemake stacks them;
sections set to null in a stacked file are switched off. The schema is also where the workflow's
defaults and allowed values are written, once: `schema_defaults` and `schema_enum` read them for
code that needs them outside a config (the `prunebench prune|bench|eval` commands). No torch
here: Snakemake imports this module on every parse.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml

from prunebench import PrunebenchError

SCHEMA = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "config.schema.yaml"


# libyaml's parser where PyYAML was built with it: the same result, ten times faster (the schema
# takes 60 ms in pure Python, and every Snakemake start reads it).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A key written twice in one YAML mapping."""


class _NoDuplicateKeys(_YAML_LOADER):
    """A key written twice in one mapping is an error: YAML keeps the last without a word, so a
    second `benchmark:` section would drop every setting of the first."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            first: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # `<<:` merges are overridden
                    continue
                # only keys written inside this mapping: a merge flattened into it before (an
                # alias used earlier) left the merged keys in its list
                if not node.start_mark.index <= key_node.start_mark.index <= node.end_mark.index:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    earlier = first.setdefault(key, key_node.start_mark)
                except TypeError:  # an unhashable key: the constructor's own error says so
                    continue
                if earlier is not key_node.start_mark:
                    raise DuplicateKeyError(
                        None, None, f"key {key!r} is written twice in one mapping (first on line "
                        f"{earlier.line + 1}), and YAML would keep only the last: merge them into "
                        "one", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def read_yaml(text: str) -> Any:
    """yaml.safe_load, with libyaml where it is installed, refusing a key written twice."""
    return yaml.load(text, Loader=_NoDuplicateKeys)


@functools.cache
def load_schema(schema_file: str | Path = SCHEMA) -> dict[str, Any]:
    """The config schema, read once per process (callers must not change it)."""
    try:
        return read_yaml(Path(schema_file).read_text(encoding="utf-8"))
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


# Sections a config may leave out to skip a stage. A config stacked on another cannot remove a
# key (Snakemake's merge only adds and replaces), so one set to null there is removed here,
# before the checks and the workflow read the config.
SWITCHED_OFF = (("evaluation", "zeroshot"), ("benchmark", "paired"))


def drop_switched_off(config: dict[str, Any]) -> dict[str, Any]:
    """Remove the SWITCHED_OFF sections set to null, in place; return the config."""
    for *parents, key in SWITCHED_OFF:
        section = config_section(config, *parents)
        if key in section and section[key] is None:
            del section[key]
    return config


def load_config_files(paths: list[str | Path]) -> dict[str, Any]:
    """The files merged left to right with Snakemake's own merge (nested mappings merged, the
    rest replaced); a YAML syntax error names the file, line and column."""
    from snakemake.utils import update_config

    merged: dict[str, Any] = {}
    for path in paths:
        try:
            loaded = read_yaml(Path(path).read_text(encoding="utf-8"))
        except OSError as err:
            raise PrunebenchError(f"cannot read config file {path}: {err.strerror}") from None
        except UnicodeDecodeError:
            raise PrunebenchError(f"config file {path} is not UTF-8 text: save it as UTF-8 "
                                  "YAML") from None
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(err, "problem", None) or str(err)
            if not isinstance(err, DuplicateKeyError):
                problem = f"not valid YAML ({problem})"
            raise PrunebenchError(f"{path}{where}: {problem}") from None
        if not isinstance(loaded, dict):
            raise PrunebenchError(f"{path}: a config file is a mapping of sections "
                                  "(models:, benchmark:, ...), not a list or a single value")
        update_config(merged, loaded)
    return drop_switched_off(merged)


def config_section(config: dict[str, Any], *path: str) -> dict[str, Any]:
    """config[path...] when every level is a mapping, else {} (the schema reports that)."""
    for key in path:
        config = config.get(key) if isinstance(config, dict) else None
    return config if isinstance(config, dict) else {}
