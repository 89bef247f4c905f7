"""prunebench.methods.registry.METHODS is the one list of pruning methods: the config schema
checks only the shape of a method name, and the config checks (prunebench.plan.checks) hold
every name the config uses against the registry. Adding a method is its module and its entry."""
import copy

import pytest
import yaml

from prunebench import PrunebenchError
from prunebench.methods.registry import METHODS
from prunebench.plan.checks import check_config, method_name_problems
from workflow_helpers import REPO

SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())


def default_config() -> dict:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def _rules(node) -> list[str]:
    """Every enum value and pattern of the schema (its rules, not its descriptions)."""
    if isinstance(node, dict):
        own = [str(v) for v in node.get("enum", [])] + ([node["pattern"]] if "pattern" in node
                                                       else [])
        return own + [r for value in node.values() for r in _rules(value)]
    if isinstance(node, list):
        return [r for value in node for r in _rules(value)]
    return []


def test_the_schema_lists_no_method_names():
    listed = sorted({name for name in METHODS for rule in _rules(SCHEMA) if name in rule})
    assert not listed, (f"a rule of the config schema names {listed}: method names live only in "
                        "prunebench.methods.registry.METHODS (the schema checks their shape)")


def naming_every_method() -> dict:
    config = default_config()
    # 0.8: a size every method makes of the tiny model (the check at start refuses one a
    # method cannot reach: Taylor+ and Mag+ protect 6 of its 8 blocks)
    config["models"]["tiny"]["variants"] = (
        ["dense"] + [f"{name}-0.8" for name in METHODS] + [f"{next(iter(METHODS))}-0.8+lora"])
    # Windows the tiny model's context holds (SLEB's and ShortGPT's own are 2048 tokens long).
    config["methods"] = {name: {"calibration": {"length": 128}} for name in METHODS}
    config["display_names"] = {"methods": {name: name.upper() for name in METHODS}}
    return config


def test_every_registry_method_is_accepted_wherever_a_config_names_one():
    config = naming_every_method()
    assert method_name_problems(config) == []
    check_config(config, resources=REPO / "no-such-resources")  # the whole check, schema too


def test_the_default_config_calibrates_every_method_on_the_embedded_text():
    """config/config.yaml runs offline on the tiny model, and a file naming another method's
    variant is stacked over it (config/depth-family.yaml, a user's own): a method without a
    `methods.<name>.calibration` there draws its original's hub text (C4, WikiText-2), which
    that machine cannot fetch, in windows longer than the tiny model's context (SLEB's 2048
    tokens). Every method that reads calibration data has one (docs/architecture.md,
    "Add a pruning method")."""
    methods = default_config()["methods"]
    missing = sorted(name for name, m in METHODS.items() if not m.data_free and (
        (methods.get(name) or {}).get("calibration") or {}).get("source") != "embedded")
    assert not missing, (f"config/config.yaml: add methods.<name>.calibration: {{source: "
                         f"embedded, ...}} for {missing}")


@pytest.mark.parametrize("place", ["variant", "methods", "display_names.methods"])
def test_an_unknown_method_is_refused_wherever_it_is_named(place):
    config = copy.deepcopy(naming_every_method())
    if place == "variant":
        config["models"]["tiny"]["variants"].append("magnitude-0.8")
    elif place == "methods":
        config["methods"]["magnitude"] = {}
    else:
        config["display_names"]["methods"]["magnitude"] = "Magnitude"
    problems = method_name_problems(config)
    assert len(problems) == 1 and "unknown pruning method 'magnitude'" in problems[0]
    assert all(name in problems[0] for name in METHODS)  # the known ones, to choose from
    with pytest.raises(PrunebenchError, match="unknown pruning method 'magnitude'"):
        check_config(config, resources=REPO / "no-such-resources")


def test_the_schemas_lora_defaults_are_lora_settings_defaults():
    # The schema fills LoRA defaults into the config (what the rules compare); the library
    # fills the same ones for library callers: the two must say the same.
    from prunebench.plan.lora_settings import (AMP, DATA_OPTIONAL, DEFAULTS, OPTIONAL, SPLITS,
                                               TEMPLATES)

    lora = SCHEMA["properties"]["lora"]["properties"]
    assert set(lora) == set(DEFAULTS) | set(OPTIONAL) and not set(DEFAULTS) & set(OPTIONAL)
    # an optional setting has no default to fill in, so configs without it keep their params
    assert all("default" not in lora[key] for key in OPTIONAL)
    for key, spec in lora.items():
        if key == "data":
            data = spec["properties"]
            assert set(data) == set(DEFAULTS["data"]) | set(DATA_OPTIONAL)
            assert all("default" not in data[key] for key in DATA_OPTIONAL)
            assert {k: v["default"] for k, v in data.items()
                    if k not in DATA_OPTIONAL} == DEFAULTS["data"]
            assert [v for v in data["split"]["enum"] if v is not None] == list(SPLITS)
        elif "default" in spec:
            assert spec["default"] == DEFAULTS[key], key
    assert lora["amp"]["enum"] == list(AMP)
    assert set(lora["template"]["enum"]) == set(TEMPLATES)


def test_each_methods_plan_is_the_torch_free_one():
    """`prunebench plan` sizes with methods.sizing, which imports no torch; the prune job and
    the pending-job checks call the method's module's `plan`: they are one function."""
    from prunebench.methods.registry import method_module, method_plan

    for name in METHODS:
        assert method_module(name).plan is method_plan(name), name
    with pytest.raises(PrunebenchError, match="unknown pruning method 'depht_ppl'"):
        method_plan("depht_ppl")
