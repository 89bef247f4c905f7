"""A config's breaches of the schema, told in words: where, what, and what to write instead.

jsonschema's own messages name a regex or "not valid under any of the given schemas"; these name
the allowed values, the close known key, the registry's methods, and the form a value should
have been written in. No torch here: Snakemake imports this module on every parse.
"""

from __future__ import annotations

import functools
import math
import re
from pathlib import Path
from typing import Any

from prunebench import PrunebenchError, did_you_mean
from prunebench.local_text import FILE_PREFIX
from prunebench.methods.registry import METHODS, parse_variant, split_variant
from prunebench.plan.config_files import SCHEMA, SWITCHED_OFF, load_schema
from prunebench.plan.sizes import parse_size_spec
from prunebench.plan.variants import NOT_A_VARIANT


def schema_problems(config: dict[str, Any], schema_file: str | Path = SCHEMA) -> list[str]:
    """Every way `config` breaks the schema, one line each: where, what, what is allowed."""

    schema = load_schema(schema_file)
    validator = _strict_validator()(schema)
    problems = []
    for error in sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path)):
        if error.validator == "uniqueItems" and _is_variants(error.absolute_path):
            continue  # variant_problems names the variants listed twice
        for specific in _specific(error):
            where = ".".join(str(p) for p in specific.absolute_path) or "top level"
            problems.append(f"{where}: {_explain(specific)}")
    return problems


@functools.cache
def _strict_validator():
    """jsonschema's validator, but an `integer` is a whole number written as one: JSON Schema
    takes 2.0 as an integer, and the jobs then stop on it (`range(1.0)`), after Snakemake has
    removed their finished results for the changed params (or a float lands in a file name)."""
    import jsonschema

    base = jsonschema.Draft202012Validator
    whole = base.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool))
    # and a `number` is no NaN (YAML's .nan), which passes every bound (lr: .nan trained on NaN)
    whole = whole.redefine("number", lambda _, value: isinstance(value, (int, float))
                           and not isinstance(value, bool) and value == value)
    return jsonschema.validators.extend(base, type_checker=whole)


def _specific(error) -> list:
    """A variant written as a mapping that matches neither form: what is wrong with it as a
    mapping (its name, an unknown key), not that it is no string either."""
    if (error.validator == "oneOf" and isinstance(error.instance, dict)
            and _is_variant_path(error)):
        inner = [e for e in error.context if e.relative_schema_path[0] == 1]
        return inner or [error]
    return [error]


def _explain(error) -> str:
    """jsonschema's message; a refused pattern says what was expected instead of the regex."""
    value = error.instance
    path = list(error.absolute_path)
    if len(path) == 2 and path[0] == "models" and value is None:  # `tiny: null` stacked on it
        return ("nothing (null): a stacked config file cannot remove a model (Snakemake's merge "
                "only adds and replaces keys); to run without it, give --configfile a whole "
                "config of your own that leaves it out, e.g. a copy of config/config.yaml with "
                "your models in place of its `models`")
    expected = error.validator_value if error.validator == "type" else ()
    if value is None and "object" in ([expected] if isinstance(expected, str) else expected):
        # `lora:` or `evaluation: {perplexity: null}`, as `zeroshot: null` switches zero-shot off
        switchable = " and ".join(".".join(section) for section in SWITCHED_OFF)
        return ("nothing (null) where a mapping of settings belongs: write the settings under "
                "it, or leave the key out (null switches off only "
                f"{switchable}; other sections cannot be switched off or removed so)")
    if _is_variants(error.absolute_path) and error.validator == "type":
        example = value if isinstance(value, str) else "dense, depth_ppl-0.8"
        return f"{value!r} must be a list of variant names, e.g. variants: [{example}]"
    if (len(error.absolute_path) == 4 and _is_variant_path(error)
            and not isinstance(value, (str, dict))):  # a number or a list in the list
        return f"{value!r} {NOT_A_VARIANT}"
    if isinstance(value, str) and _is_variant_path(error):  # a name, or an entry's `name:`
        return _variant_problem(value)
    if "propertyNames" in error.schema_path and list(error.absolute_path) in _METHOD_SECTIONS:
        return unknown_method(value)  # as method_name_problems words it: one line remains
    if error.validator == "additionalProperties" and isinstance(value, dict):
        return _unknown_keys(error.schema, value)
    if error.validator == "pattern" and isinstance(value, str):
        described = error.schema.get("description")
        if described and value.startswith(FILE_PREFIX) and "`texts`" in described:
            # `prunebench prune --calibration` and `eval --ppl` take file:<path>; a config
            # names a file through `texts`, which records and copies it for the run
            split = "train" if "train file" in described else "test"
            path = value.removeprefix(FILE_PREFIX) or "<path>"
            return (f"{value!r} is the form `prunebench prune --calibration` and `prunebench "
                    f"eval --ppl` take; a config names a file of its own under `texts`: add "
                    f"texts: {{mine: {{{split}: {path}}}}} and write mine here")
        if described:
            return f"{value!r} is not allowed: expected {described}"
    if error.validator == "type":
        return (_type_problem(value, error.validator_value)
                or _shape_problem(value, error.validator_value, error.schema) or error.message)
    if error.validator == "uniqueItems" and isinstance(value, list):
        repeated = next((item for i, item in enumerate(value) if item in value[:i]), None)
        return f"{value!r} lists {repeated!r} more than once: give each once"
    if error.validator in ("oneOf", "anyOf"):  # jsonschema's "not valid under any of the given
        allowed = _allowed(error.schema)      # schemas" names none of them
        if allowed:
            return f"{value!r} is not allowed: expected {allowed}"
    return error.message


def _shape_problem(value: Any, expected: str | list[str], schema: dict) -> str | None:
    """A single value or nothing where a list belongs; a number where text belongs."""
    expected = [expected] if isinstance(expected, str) else expected
    if expected == ["array"]:
        items = _items_of_text(value, schema.get("items") or {})
        if items:
            # '1,2,8' as the CLI's --batch 1,2,8 writes it: `['1,2,8']` would be one text item
            return (f"{value!r} is one text, not a list: write each item apart, "
                    f"[{', '.join(items)}]")
        example = ("[...]" if value is None or isinstance(value, (dict, list))
                   else f"[{value!r}]" if isinstance(value, str) else f"[{value}]")
        return (f"{'nothing (null)' if value is None else repr(value)} is not a list: write a "
                f"list, e.g. {example}")
    if expected == ["string"] and isinstance(value, (int, float)) and not isinstance(value, bool):
        described = schema.get("description")
        return (f"{value!r} must be text{f', {described}' if described else ''}: write it in "
                "quotes")
    return None


def _items_of_text(value: Any, items: dict) -> list[str]:
    """The items a text written for a list holds, comma-separated as the CLI's options take them
    (`'1,2,8'`, `'12x32, 12x128'`), as YAML list items of the type the list's `items` schema
    takes (`1`, `'12x32'`); none where the text holds one item (a space may be inside one)."""
    if not isinstance(value, str):
        return []
    parts = [part.strip() for part in value.split(",") if part.strip()]
    if len(parts) < 2:
        return []
    number = {"integer": r"[0-9]+", "number": r"[0-9]+(\.[0-9]*)?"}.get(items.get("type"))
    return [part if number and re.fullmatch(number, part) else repr(part) for part in parts]


def _type_problem(value: Any, expected: str | list[str]) -> str | None:
    """A whole number written as a float, or a number YAML read as text: what to write."""
    expected = [expected] if isinstance(expected, str) else expected
    if isinstance(value, float) and math.isnan(value) and "number" in expected:
        return "nan (YAML's .nan) is not a number that any bound can hold: write a number"
    whole_only = "integer" in expected and "number" not in expected
    if "integer" in expected and isinstance(value, float) and value.is_integer():
        return f"{value!r} must be a whole number: write {int(value)}"
    if not (isinstance(value, str) and ("number" in expected or "integer" in expected)):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    if not math.isfinite(number):
        return None
    if whole_only:
        return (f"{value!r} is text, not a whole number: write {int(number)}"
                if number.is_integer() else None)
    if "e" not in value.lower():
        return f"{value!r} is text, not a number (quoted?): write {value.strip()} without quotes"
    # YAML reads e-notation as a number only with a dot in the mantissa and a signed exponent
    mantissa, _, exponent = value.strip().lower().partition("e")
    mantissa += "" if "." in mantissa else ".0"
    exponent = exponent if exponent[:1] in "+-" else f"+{exponent}"
    return (f"{value!r} is text, not a number, to YAML, which reads e-notation only with a dot "
            f"and a signed exponent: write {mantissa}e{exponent}")


_TYPE_WORDS = {"object": "a mapping", "array": "a list", "string": "text", "integer":
               "a whole number", "number": "a number", "boolean": "true or false", "null": "null"}


def _allowed(schema: dict) -> str | None:
    """What a oneOf / anyOf accepts, in words: its alternatives' values and types, then its
    description."""
    words = []
    for option in schema.get("oneOf") or schema.get("anyOf") or []:
        if "enum" in option:
            words.append("one of " + ", ".join(map(str, option["enum"])))
        elif "type" in option:
            types = [option["type"]] if isinstance(option["type"], str) else option["type"]
            words.append(" or ".join(_TYPE_WORDS.get(t, t) for t in types))
    described = schema.get("description")
    if words and described:
        return f"{'; or '.join(words)} ({described})"
    return "; or ".join(words) or described


_METHOD_SECTIONS = (["methods"], ["display_names", "methods"])


# Every method's parameter names (registry): one written beside `params` instead of inside it.
METHOD_PARAMS = frozenset(name for m in METHODS.values() for name in m.params)

# Keys people write for a key of another name (the CLI's option names, the papers' words).
KEY_ALIASES = {"rank": "r", "lora_rank": "r", "lora_r": "r", "lora_alpha": "alpha",
               "lora_dropout": "dropout"}


def _unknown_keys(schema: dict, value: dict) -> str:
    """The keys of `value` that `schema` does not know, each with the close known key."""
    known = sorted(schema.get("properties", {}))
    patterns = list(schema.get("patternProperties", {}))
    strangers = [k for k in value if k not in known and not any(re.search(p, str(k))
                                                                for p in patterns)]
    named = []
    for key in strangers:
        alias = KEY_ALIASES.get(str(key))
        if "params" in known and key in METHOD_PARAMS:  # a method's parameter one level up
            hint = " (a method parameter: put it under params:)"
        elif alias in known:
            hint = f" (did you mean {alias!r}?)"
        else:
            hint = did_you_mean(key, known)
        named.append(f"{key!r}{hint}")
    return (f"unknown key{'s' if len(named) > 1 else ''} {', '.join(named)}: the keys here are "
            f"{known}")


def unknown_method(name: Any) -> str:
    return (f"unknown pruning method {name!r}{did_you_mean(name, METHODS)}: choose one of "
            f"{sorted(METHODS)}")


def _is_variants(path) -> bool:
    path = list(path)
    return len(path) == 3 and path[0] == "models" and path[2] == "variants"


def _is_variant_path(error) -> bool:
    """Whether the error is of a variant entry or its `name:` (not of its params or calibration,
    whose text is no variant name)."""
    path = list(error.absolute_path)
    return (len(path) >= 3 and path[0] == "models" and path[2] == "variants"
            and (len(path) <= 4 or path[4:] == ["name"]))


def _variant_problem(name: str) -> str:
    """Why a variant name is refused, in the registry's words (known methods listed)."""
    try:
        base, _ = split_variant(name)
        method, size = parse_variant(base)
        if method != "dense" and method not in METHODS:
            return (f"unknown pruning method {method!r} in {name!r}"
                    f"{did_you_mean(method, METHODS)}: choose one of {sorted(METHODS)} "
                    "(or 'dense')")
        if size is not None:
            parse_size_spec(size)  # the size's own syntax; the model's size is checked later
            if size != size.upper():
                written = f"{base[:-len(size)]}{size.upper()}{name[len(base):]}"
                return f"variant {name!r}: write the size's suffix in upper case, {written!r}"
    except PrunebenchError as err:
        return str(err) if name in str(err) else f"variant {name!r}: {err}"
    return f"{name!r} is not a variant name such as 'depth_ppl-4.9B' or 'flap-0.8+lora'"
