"""prunebench.methods.registry.METHODS is the one list of pruning methods; the config schema repeats
the names (a JSON schema cannot import them), in two places, and must say the same."""
import re

import jsonschema
import pytest
import yaml

from prunebench.methods.registry import METHODS
from workflow_helpers import REPO

SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
VARIANT_PATTERN = SCHEMA["definitions"]["variant_name"]["pattern"]


def schema_method_lists() -> dict[str, list[str]]:
    # "^(dense|(depth_ppl|flap|...)-(<size>))(\+lora)?$": the alternation after "dense|("
    match = re.match(r"\^\(dense\|\(([\w|]+)\)-", VARIANT_PATTERN)
    assert match, f"the variant_name pattern changed shape: {VARIANT_PATTERN}"
    return {
        "definitions.variant_name.pattern": match.group(1).split("|"),
        "properties.methods.propertyNames.enum":
            SCHEMA["properties"]["methods"]["propertyNames"]["enum"],
        "properties.display_names.properties.methods.propertyNames.enum":
            SCHEMA["properties"]["display_names"]["properties"]["methods"]["propertyNames"]["enum"],
    }


@pytest.mark.parametrize("where", sorted(schema_method_lists()))
def test_schema_names_exactly_the_registry_methods(where):
    names = schema_method_lists()[where]
    missing = sorted(set(METHODS) - set(names))
    unknown = sorted(set(names) - set(METHODS))
    assert not missing and not unknown, (
        f"config schema {where} disagrees with prunebench.methods.registry.METHODS: "
        f"missing {missing}, not in the registry {unknown}")
    assert len(names) == len(set(names)), f"{where} lists a method twice: {names}"


def test_schema_accepts_every_registry_method_and_nothing_else():
    """The same, by behaviour: each method's variant and methods entry pass, a stranger does not."""
    variant = {**SCHEMA["definitions"]["variant_name"], "definitions": SCHEMA["definitions"]}
    methods = SCHEMA["properties"]["methods"]
    for name in METHODS:
        for size in ("0.8", "4.9B"):
            jsonschema.validate(f"{name}-{size}", variant)
            jsonschema.validate(f"{name}-{size}+lora", variant)
        jsonschema.validate({name: {}}, methods)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate("magnitude-0.8", variant)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"magnitude": {}}, methods)


def test_the_schemas_lora_defaults_are_lora_settings_defaults():
    # The schema fills LoRA defaults into the config (what the rules compare); the library
    # fills the same ones for library callers: the two must say the same.
    from prunebench.plan.lora_settings import AMP, DEFAULTS, TEMPLATES

    lora = SCHEMA["properties"]["lora"]["properties"]
    assert set(lora) == set(DEFAULTS)
    for key, spec in lora.items():
        if key == "data":
            data = spec["properties"]
            assert set(data) == set(DEFAULTS["data"])
            assert {k: v["default"] for k, v in data.items()} == DEFAULTS["data"]
        elif "default" in spec:
            assert spec["default"] == DEFAULTS[key], key
    assert lora["amp"]["enum"] == list(AMP)
    assert set(lora["template"]["enum"]) == set(TEMPLATES)
