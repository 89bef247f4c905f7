"""The checks every config passes before any job runs (prunebench.plan.checks), and the
`prunebench check-config` command that runs them on files."""
import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from prunebench import PrunebenchError
from prunebench.checkpoint.architectures import ARCHITECTURES
from prunebench.methods.registry import METHODS
from prunebench.plan.checks import check_config
from prunebench.plan.config_files import drop_switched_off, load_config_files

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO / "config" / "config.yaml"


def default_config(**models) -> dict:
    config = yaml.safe_load(DEFAULT.read_text())
    if models:
        config["models"] = models
    return config


# A resources folder that holds no model: the checks see only the configs, never what a run in
# this checkout (the embedded default, a rehearsal of the GPU session) left in resources/.
NOWHERE = "no-resources-here"


def problems(config: dict, resources: Path | str = NOWHERE) -> str:
    with pytest.raises(PrunebenchError) as err:
        check_config(config, resources=resources)
    return str(err.value)


# Every shipped config, stacked as the README runs it.
SHIPPED = [["config.yaml"], ["paper.yaml"], ["paper-tables.yaml"],
           ["config.yaml", "depth-family.yaml"], ["gpu-smoke.yaml"], ["modern.yaml"],
           ["minitron.yaml"],
           ["paper.yaml", "paired.yaml"]]


@pytest.mark.parametrize("files", SHIPPED, ids=lambda f: "+".join(f))
def test_every_shipped_config_passes(files):
    check_config(load_config_files([REPO / "config" / f for f in files]), resources=NOWHERE)


def test_a_malformed_job_size_cap_is_said_before_any_job_runs(monkeypatch):
    """The caps of a cluster job's requests come from the environment; a malformed one would
    otherwise fail the first job whose request it caps, after the run has started."""
    from prunebench.plan import jobsize

    monkeypatch.setenv(jobsize.MAX_MEM_VARIABLE, "500G")
    monkeypatch.setenv(jobsize.MAX_RUNTIME_VARIABLE, "2 days")
    said = problems(default_config())
    assert "PRUNEBENCH_MAX_MEM_MB='500G'" in said and "whole number of MB" in said
    assert "PRUNEBENCH_MAX_RUNTIME_MIN='2 days'" in said
    monkeypatch.setenv(jobsize.MAX_MEM_VARIABLE, "500000")
    monkeypatch.setenv(jobsize.MAX_RUNTIME_VARIABLE, "2880")
    check_config(default_config(), resources=NOWHERE)


def test_the_config_files_and_schema_read_as_pyyaml_reads_them():
    """read_yaml parses with libyaml where it is installed: the same values as yaml.safe_load
    for every shipped file (dates, numbers like 1e-4, nested lists), and the same refusals."""
    from prunebench.plan import config_files

    files = [*sorted((REPO / "config").glob("*.yaml")), config_files.SCHEMA,
             *sorted((REPO / "profiles").glob("*/config.yaml"))]
    assert len(files) >= 7
    for path in files:
        text = Path(path).read_text()
        assert config_files.read_yaml(text) == yaml.safe_load(text), path
    for broken in ("models: [dense\n", "a: b: c\n", "key: 'open\n"):
        with pytest.raises(yaml.YAMLError):
            yaml.safe_load(broken)
        with pytest.raises(yaml.YAMLError):
            config_files.read_yaml(broken)


@pytest.mark.parametrize("size, message", [
    ("1.5", "ambiguous"), ("0", "must be positive"), ("0.0", "must be positive"),
    ("4.9X", "malformed target size"),
])
def test_bad_sizes_are_refused_naming_model_and_variant(size, message):
    text = problems(default_config(tiny={"source": "tiny", "variants": ["dense", f"flap-{size}"]}))
    assert message in text and "tiny" in text and f"flap-{size}" in text


@pytest.mark.parametrize("first, second", [("0.8", "0.80"), ("4.9B", "4900M"), ("350M", "350000000")])
def test_one_size_written_two_ways_is_one_variant(first, second):
    text = problems(default_config(tiny={"source": "tiny", "variants": [
        "dense", f"depth_ppl-{first}", f"depth_ppl-{second}"]}))
    assert f"depth_ppl-{first} and depth_ppl-{second} are the same variant" in text


def test_the_same_size_for_two_methods_or_with_lora_is_allowed():
    check_config(default_config(tiny={"source": "tiny", "variants": [
        "dense", "depth_ppl-0.8", "flap-0.8", "depth_ppl-0.8+lora"]}), resources=NOWHERE)


def test_size_larger_than_a_random_architecture_is_refused():
    text = problems(default_config(big={"source": "random:llama-7b",
                                        "variants": ["dense", "depth_ppl-8B"]}))
    assert "model big, variant depth_ppl-8B" in text and "larger than the model" in text


def test_size_larger_than_a_local_model_is_refused(tmp_path):
    shape = {**ARCHITECTURES["llama-7b"], "num_hidden_layers": 2, "model_type": "llama"}
    (tmp_path / "models" / "small").mkdir(parents=True)
    (tmp_path / "models" / "small" / "config.json").write_text(json.dumps(shape))
    config = default_config(small={"source": "hf:org/small", "variants": ["dense", "flap-5B"]})
    assert "larger than the model" in problems(config, resources=tmp_path)
    # the same config passes while the model's size is unknown (the prune job checks it then)
    check_config(config, resources=tmp_path / "elsewhere")


def test_a_token_config_with_zero_tokens_is_refused():
    config = default_config()
    config["benchmark"]["token_configs"] = ["12x0"]
    text = problems(config)
    assert "benchmark.token_configs.0: '12x0'" in text and "both positive" in text


def test_pg19_is_a_calibration_source():
    config = default_config()
    config["methods"]["shortgpt"] = {"calibration": {"source": "pg19", "n": 64, "length": 256}}
    config["models"]["tiny"]["variants"] = ["dense", "shortgpt-0.8"]
    check_config(config, resources=NOWHERE)
    config["methods"]["shortgpt"]["calibration"]["source"] = "pg20"
    assert "methods.shortgpt.calibration.source: 'pg20'" in problems(config)


@pytest.mark.parametrize("ci_target", [0, 1, 5])
def test_a_ci_target_outside_zero_to_one_is_refused(ci_target):
    """A share of the mean latency: 5 was meant as 5%, and an interval as wide as the mean
    itself says nothing about a timing."""
    config = default_config()
    config["benchmark"]["ci_target"] = ci_target
    assert "benchmark.ci_target" in problems(config)
    config["benchmark"]["ci_target"] = 0.99
    check_config(config, resources=NOWHERE)


def test_an_unknown_method_lists_the_known_ones():
    text = problems(default_config(tiny={"source": "tiny", "variants": ["dense", "magic-0.5"]}))
    assert "unknown pruning method 'magic'" in text and "'depth_ppl'" in text


def test_an_unknown_method_names_its_variant_entry_as_the_schema_lines_do():
    """`flapp-0.75` (a registry check) and `depth-ppl-0.75` (the schema's pattern) each name
    their entry of the list: the first was named `models.m.variants` alone, so a user with
    several misspelt variants could not tell which line meant which entry."""
    lines = problems(default_config(m={"source": "tiny", "variants": [
        "dense", "flapp-0.75", "depth-ppl-0.75", {"name": "llm_prunr-0.5"}]})).splitlines()
    assert any(line.startswith("  models.m.variants.1: unknown pruning method 'flapp' in "
                               "'flapp-0.75' (did you mean 'flap'?)") for line in lines), lines
    assert any(line.startswith("  models.m.variants.2: unknown pruning method 'depth-ppl'")
               for line in lines), lines
    assert any(line.startswith("  models.m.variants.3.name: unknown pruning method 'llm_prunr' "
                               "in 'llm_prunr-0.5' (did you mean 'llm_pruner'?)")
               for line in lines), lines


def test_a_model_set_to_null_says_a_stacked_file_cannot_remove_it():
    """`models: {tiny: null}` stacked on the default, to run one's own model alone, read
    "models.tiny: None is not of type 'object'"; `zeroshot: null` does switch zero-shot off,
    so the same idea deserves its answer: a whole config of one's own."""
    config = default_config(tiny=None, mine={"source": "tiny", "variants": ["dense"]})
    lines = problems(config).splitlines()
    assert lines[1:] == ["  models.tiny: nothing (null): a stacked config file cannot remove a "
                         "model (Snakemake's merge only adds and replaces keys); to run without "
                         "it, give --configfile a whole config of your own that leaves it out, "
                         "e.g. a copy of config/config.yaml with your models in place of its "
                         "`models`"], lines


def test_unknown_method_parameters_are_refused_where_they_are_written():
    """A misspelt parameter stops the workflow at start, not the prune job hours later."""
    config = default_config(tiny={"source": "tiny", "variants": [
        "dense", {"name": "flap-0.8+lora", "params": {"metrc": "IFV"}},
        {"name": "dense+lora", "params": {"anything": 1}},  # not pruned: params do nothing
        {"name": "magic-0.5", "params": {"x": 1}}]})  # unknown method: reported once, as such
    config["methods"] = {"depth_ppl": {"params": {"protect_frist": 4, "batch_size": 2}}}
    lines = problems(config).splitlines()
    assert "  models.tiny.variants: flap-0.8+lora: flap has no parameter(s) ['metrc'] (did you " \
        "mean 'metric'?): its parameters are ['batch_size', 'bias_compensation', 'metric', " \
        "'statistics', 'structure'] (config/README.md, `methods`)" in lines
    assert any(line.startswith("  methods.depth_ppl.params: depth_ppl has no parameter(s) "
                               "['protect_frist'] (did you mean 'protect_first'?)")
               for line in lines)
    assert sum("magic" in line for line in lines) == 1 and lines[0].startswith("the config has 4")
    # and the problem of another kind beside them
    assert "  models.tiny.variants: dense+lora: the dense model is not pruned, so its params " \
        "would do nothing: remove it, or name a pruning method" in lines
    config["models"]["tiny"]["variants"] = ["dense", {"name": "flap-0.8", "params": {
        "metric": "IFV"}}]
    config["methods"] = {"depth_ppl": {"params": {"protect_first": 4}}}
    check_config(config, resources=NOWHERE)


def test_bad_method_parameter_values_are_refused_at_start():
    """A value the method refuses (F49) stops the workflow when it starts, with every other
    problem, not the prune job after the model's download and the jobs before it."""
    config = default_config(tiny={"source": "tiny", "variants": [
        "dense", {"name": "flap-0.8", "params": {"metric": "WIF", "batch_size": 0}},
        {"name": "depth_ppl-0.8", "params": {"dtype": "fp16"}},
        {"name": "llm_pruner-0.8", "params": {"ratio": 1.5, "taylor": True}}]})
    config["methods"] = {"depth_taylor": {"params": {"gradient_checkpointing": "yes"}},
                         "shortgpt": {"params": {"protect_first": -1}}}
    lines = problems(config).splitlines()
    assert lines[0] == "the config has 7 problem(s):"
    for expected in (
            "models.tiny.variants: flap-0.8: flap metric='WIF' (did you mean 'WIFV'?): choose "
            "one of ['WIFV', 'IFV', 'WIFN'] (config/README.md, `methods`)",
            "models.tiny.variants: flap-0.8: flap batch_size=0 must be an integer >= 1",
            # the scoring dtypes are named in full (fp16 is depth_taylor's alias only)
            "models.tiny.variants: depth_ppl-0.8: depth_ppl dtype='fp16': choose one of "
            "['float32', 'float16', 'bfloat16']",
            "models.tiny.variants: llm_pruner-0.8: llm_pruner ratio=1.5 must be a number in "
            "[0, 1]",
            "models.tiny.variants: llm_pruner-0.8: llm_pruner taylor=True: choose one of "
            "['param_first'",
            "methods.depth_taylor.params: depth_taylor gradient_checkpointing='yes' must be true "
            "or false",
            "methods.shortgpt.params: shortgpt protect_first=-1 must be an integer >= 0"):
        assert any(line.strip().startswith(expected) for line in lines), (expected, lines)
    config["models"]["tiny"]["variants"] = ["dense", {"name": "flap-0.8", "params": {
        "metric": "IFV", "batch_size": 2}}, {"name": "llm_pruner-0.8", "params": {
            "ratio": None, "block_start": 1}}]
    config["methods"] = {"depth_taylor": {"params": {"dtype": "BF16"}}}  # any case, as torch
    check_config(config, resources=NOWHERE)


def test_lora_records_longer_than_the_tiny_models_context_are_refused_at_start():
    """The lora job refuses them before loading weights, but after the prune before it."""
    from prunebench.plan.checks import untrained_tiny_shape

    config = default_config()
    context = untrained_tiny_shape(config)["max_position_embeddings"]
    assert any(str(v).endswith("+lora") for v in config["models"]["tiny"]["variants"])
    config["lora"]["max_length"] = context + 1
    assert f"lora.max_length: {context + 1} tokens exceed the tiny model's context " \
        f"(max_position_embeddings {context})" in problems(config)
    config["lora"]["max_length"] = context
    check_config(config, resources=NOWHERE)
    # without a +lora variant nothing is trained: nothing to refuse
    config["lora"]["max_length"] = context + 1
    config["models"]["tiny"]["variants"] = ["dense", "depth_ppl-0.8"]
    check_config(config, resources=NOWHERE)


def test_every_method_parameter_has_a_rule_its_default_meets():
    from prunebench.methods.registry import DTYPE_NAMES, METHODS, value_problems
    from prunebench.modeling import DTYPES

    for name, entry in METHODS.items():
        assert set(entry.rules) == set(entry.params), name
        assert value_problems(name, entry.params) == [], name
    assert set(DTYPE_NAMES) == set(DTYPES)  # depth_taylor's dtype: what resolve_dtype reads


def test_each_method_takes_its_registry_parameters_spelled_out():
    """The registry holds every method's parameters (the config checks read the names there):
    each default is a value its method accepts, and giving them all changes no plan. Every
    plan returns what `prunebench plan` shows (registry docstring)."""
    from prunebench.checkpoint.architectures import architecture_config
    from prunebench.methods.registry import METHODS, method_module
    from prunebench.modeling import count_params

    config = architecture_config("llama-7b")
    target = int(count_params(config) * 0.7)
    for name, entry in METHODS.items():
        plan = method_module(name).plan
        assert plan(config, target, **entry.params) == plan(config, target), name
        assert {"params_after", "blocks_after", "kv_heads_kept"} <= set(plan(config, target))


def test_display_names_of_unknown_methods_or_models_are_refused():
    config = default_config()
    config["display_names"] = {"methods": {"depth": "Ours", "flap": ""},
                                "models": {"tiny": "Tiny LLaMA"}}
    text = problems(config)
    assert "display_names.methods: unknown pruning method 'depth' (did you mean 'depth_ppl'?): " \
        f"choose one of {sorted(METHODS)}" in text
    assert "display_names.methods.flap: '' should be non-empty" in text
    config["display_names"] = {"models": {"tiny": "Tiny LLaMA", "llama7b": "LLaMA-7B"}}
    text = problems(config)
    assert "display_names.models: 'llama7b' is not a model of this config (models: ['tiny'])" \
        in text and "spell it as under `models:` or remove it" in text
    config["display_names"] = {"models": {"tiny": "Tiny LLaMA"}, "methods": {"depth_ppl": "Ours"}}
    check_config(config, resources=NOWHERE)


def test_schema_problems_are_one_line_each_and_all_reported():
    config = default_config()
    config["benchmark"]["repeats"] = "x"
    config["benchmrk"] = {}
    lines = problems(config).splitlines()
    assert lines[0] == "the config has 2 problem(s):"
    assert any(line.strip().startswith("benchmark.repeats:") for line in lines)
    assert any("top level: unknown key 'benchmrk' (did you mean 'benchmark'?)" in line
               for line in lines)
    assert len(lines) == 3 and all(len(line) < 300 for line in lines)  # never the schema itself


def test_misspelt_keys_and_methods_get_the_close_known_name():
    config = default_config()
    config["benchmark"]["repeat"] = 5
    config["evaluation"]["perplexity"]["windw"] = 64
    config["lora"] = {"rank": 16}
    config["models"]["tiny"]["variants"].append("depht_ppl-0.5")
    text = problems(config)
    assert "benchmark: unknown key 'repeat' (did you mean 'repeats'?): the keys here are [" in text
    assert "evaluation.perplexity: unknown key 'windw' (did you mean 'window'?)" in text
    assert "lora: unknown key 'rank' (did you mean 'r'?)" in text  # the CLI's --rank
    assert "unknown pruning method 'depht' in 'depht_ppl-0.5' (did you mean 'depth_ppl'?)" \
        not in text  # the variant name parses as method 'depht_ppl'
    assert "unknown pruning method 'depht_ppl'" in text and "(did you mean 'depth_ppl'?)" in text


@pytest.mark.parametrize("key, value, message", [
    ("token_configs", [12], "benchmark.token_configs.0: 12 must be text, <input tokens>x<output "
     "tokens>, both positive, such as '12x128': write it in quotes"),
    ("token_configs", "12x128", "benchmark.token_configs: '12x128' is not a list: write a list, "
     "e.g. ['12x128']"),
    ("batch_sizes", 4, "benchmark.batch_sizes: 4 is not a list: write a list, e.g. [4]"),
    # as `prunebench bench --batch 1,2,8` takes them: ['1,2,8'] would be one text item
    ("batch_sizes", "1,2,8", "benchmark.batch_sizes: '1,2,8' is one text, not a list: write "
     "each item apart, [1, 2, 8]"),
    ("token_configs", "12x32, 12x128", "benchmark.token_configs: '12x32, 12x128' is one text, "
     "not a list: write each item apart, ['12x32', '12x128']"),
    ("batch_sizes", None, "benchmark.batch_sizes: nothing (null) is not a list"),
    ("batch_sizes", [1, 4, 1], "benchmark.batch_sizes: [1, 4, 1] lists 1 more than once: give "
     "each once"),
])
def test_a_list_written_otherwise_says_how_to_write_it(key, value, message):
    """jsonschema's own words ('4 is not of type 'array'', 'has non-unique elements') named
    neither the fix nor the repeated entry."""
    config = default_config()
    config["benchmark"] = {**config["benchmark"], key: value}
    assert message in problems(config)


def test_a_benchmark_without_warm_up_runs_is_refused():
    """warmup 0 put each batch size's first call (about twice a later one's time on CPU) into
    its mean and interval, and could flag the row unstable or drifting."""
    config = default_config()
    config["benchmark"] = {**config["benchmark"], "warmup": 0}
    assert "benchmark.warmup: 0 is less than the minimum of 1" in problems(config)


@pytest.mark.parametrize("variant", ["dense-0.5", "dense-0.5+lora"])
def test_a_dense_variant_with_a_size_is_refused_with_the_fix(variant):
    """`dense-0.5` passed the checks and `prunebench plan` (shown as the dense model), then
    stopped Snakemake with a traceback saying 'dense' was an unknown method."""
    config = default_config()
    config["models"]["tiny"]["variants"].append(variant)
    assert "variant 'dense-0.5': the dense model takes no size: write 'dense', or " \
           "'<method>-0.5' for a model pruned to that size" in problems(config)


def test_a_file_of_ones_own_models_alone_says_how_to_run_them_alone_too(tmp_path):
    """README's `models:` snippet for one's own model, given alone: stacked as the hint says,
    the tiny model runs beside it, which the hint now says with the way to run it alone."""
    mine = tmp_path / "my.yaml"
    mine.write_text("models:\n  mine: {source: 'random:llama-7b', variants: [dense]}\n")
    lines = problems(load_config_files([mine])).splitlines()
    assert lines[-2].startswith("a --configfile replaces config/config.yaml rather than adding "
                                "to it: stack yours on top of the default")
    assert lines[-1] == ("stacked so, the default's tiny model (trained here, a few minutes) and "
                         "its variants run beside your models; to run yours alone, give a whole "
                         "config: a copy of config/config.yaml with your models in place of its "
                         "`models` (docs/running.md, \"Real models\")")
    override = tmp_path / "benchmark.yaml"  # no models of its own: nothing to run alone
    override.write_text("benchmark: {repeats: 50}\n")
    assert "run yours alone" not in problems(load_config_files([override]))


def test_an_override_file_alone_says_how_to_stack_it(tmp_path):
    override = tmp_path / "my.yaml"
    override.write_text("benchmark: {repeats: 50}\n")
    text = problems(load_config_files([override]))
    assert "'models' is a required property" in text
    assert "--configfile config/config.yaml my.yaml" in text
    check_config(load_config_files([DEFAULT, override]), resources=NOWHERE)  # stacked, it is fine
    # `prunebench check-config` knows the file: its example stacks that one
    done = subprocess.run([sys.executable, "-m", "prunebench.cli", "check-config",
                           "config/depth-family.yaml"], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert "--configfile config/config.yaml config/depth-family.yaml`" in done.stderr


def test_a_section_indented_under_another_is_named_as_an_indentation_slip(tmp_path):
    """It used to get the stacking hint, which sends the user the wrong way."""
    text = DEFAULT.read_text()
    start = text.index("\nevaluation:") + 1  # it and the sections after it move right
    section = text[start:]
    slipped = tmp_path / "slipped.yaml"
    slipped.write_text(text[:start] + "".join(f"  {line}" if line else line
                                              for line in section.splitlines(True)))
    config = load_config_files([slipped])
    assert "evaluation" not in config
    lines = problems(config).splitlines()
    assert "  top level: 'evaluation' is a required property" in lines
    assert lines[-1].startswith("'evaluation' sits inside ") and \
        lines[-1].endswith(": a top-level section starts at the line's first column; check "
                           "that file's indentation")
    assert "--configfile config/config.yaml my.yaml" not in "\n".join(lines)
    # `models` is a key of display_names too: missing at the top, it is not taken for a slip,
    # nor is a misspelt key there that the message suggests `models` for
    for names in ({"models": {"tiny": "Tiny"}}, {"model": {"tiny": "Tiny"}}):
        config = load_config_files([DEFAULT])
        del config["models"]
        config["display_names"] = names
        text = problems(config)
        assert "sits inside" not in text and "--configfile config/config.yaml my.yaml" in text


def test_no_config_at_all_says_where_to_run_from():
    assert "run Snakemake from the checkout's root" in problems({})


def test_yaml_syntax_error_names_file_line_and_column(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("benchmark:\n  repeats: 50\n  warmup: [1, 2\nmodels: {}\n")
    with pytest.raises(PrunebenchError, match=r"bad.yaml, line \d+, column \d+: not valid YAML"):
        load_config_files([bad])


def test_files_stack_left_to_right_merging_sections(tmp_path):
    top = tmp_path / "top.yaml"
    top.write_text("benchmark: {repeats: 50}\n")
    merged = load_config_files([DEFAULT, top])
    default = yaml.safe_load(DEFAULT.read_text())
    assert merged["benchmark"] == {**default["benchmark"], "repeats": 50}
    assert merged["models"] == default["models"]


def test_a_problem_names_the_file_and_line_that_write_its_key(tmp_path):
    """Stacked files: each problem names the last file that writes its key whole (the value the
    merge kept), at the key's line or a list item's; a key no file writes, or whose section the
    command line's --config sets, is left unnamed rather than named wrongly."""
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text("benchmark:\n  repeats: 0\n  warmup: -1\n")
    second.write_text("# mine\nbenchmark:\n  repeats: -2\nmodels:\n  qwen2.5-0.5b:\n"
                      "    source: tiny\n    variants:\n      - dense\n      - 3\n")
    files = [DEFAULT, first, second]

    def lines(**kwargs) -> list[str]:
        with pytest.raises(PrunebenchError) as err:
            check_config(load_config_files(files), resources=NOWHERE, files=files, **kwargs)
        return str(err.value).splitlines()[1:]

    named = lines()
    assert f"  {second}, line 3: benchmark.repeats: -2 is less than the minimum of 1" in named
    assert f"  {first}, line 3: benchmark.warmup: -1 is less than the minimum of 1" in named
    # a model named with a dot, and the list item at its own line
    assert any(line.startswith(f"  {second}, line 9: models.qwen2.5-0.5b.variants.1: ")
               for line in named), named
    # --config benchmark=...: neither file's benchmark values are the ones judged
    overridden = lines(set_on_command_line=["benchmark={repeats: -2}"])
    assert "  benchmark.repeats: -2 is less than the minimum of 1" in overridden
    assert any(line.startswith(f"  {second}, line 9: models.") for line in overridden)
    # without the files (the library's callers), the problems are as before
    with pytest.raises(PrunebenchError) as err:
        check_config(load_config_files(files), resources=NOWHERE)
    assert "  benchmark.repeats: -2 is less than the minimum of 1" in str(err.value).splitlines()


def test_a_key_brought_by_a_yaml_merge_key_is_named_where_the_anchor_writes_it(tmp_path):
    """`<<: *anchor` writes its keys into the mapping (the loader merges them): the file that
    does so wrote the value the merge kept, not an earlier file writing the same key."""
    mine = tmp_path / "mine.yaml"
    mine.write_text("methods:\n  depth_ppl:\n"
                    "    calibration: &c {source: embedded, n: -5, length: 128, seed: 1}\n"
                    "  sleb:\n    calibration:\n      <<: *c\n"
                    "  shortgpt:\n    calibration:\n      <<: [*c]\n      n: -3\n")
    files = [DEFAULT, mine]
    with pytest.raises(PrunebenchError) as err:
        check_config(load_config_files(files), resources=NOWHERE, files=files)
    said = str(err.value).splitlines()
    assert f"  {mine}, line 3: methods.sleb.calibration.n: -5 is less than the minimum of 1" \
        in said, said
    # a key of its own beside the merge key wins over the merged one
    assert f"  {mine}, line 10: methods.shortgpt.calibration.n: -3 is less than the minimum " \
        "of 1" in said, said


def test_a_problem_of_a_key_no_file_writes_is_not_given_a_place():
    from prunebench.plan.config_source import locate, name_sources

    assert locate("benchmark.repeats", [DEFAULT]) is not None
    assert locate("benchmark.no_such_key", [DEFAULT]) is None
    assert locate("models.tiny.variants.99", [DEFAULT]) is None
    assert locate("benchmark.repeats.deeper", [DEFAULT]) is None  # a value has no keys
    assert name_sources(["top level: 'models' is a required property"], [DEFAULT]) == \
        ["top level: 'models' is a required property"]
    assert name_sources(["model tiny, variant x: too big"], [DEFAULT]) == \
        ["model tiny, variant x: too big"]


def test_a_snakemake_run_names_the_config_file_and_line_of_a_bad_value(tmp_path):
    """Snakemake itself names only the Snakefile's line where the checks ran."""
    from workflow_helpers import copy_workflow, run_snakemake

    workdir = copy_workflow(tmp_path / "w")
    (workdir / "mine.yaml").write_text("benchmark:\n  dtype: float32\n  repeats: 0\n")
    refused = run_snakemake(workdir, "-n", configfile=["config/config.yaml", "mine.yaml"],
                            check=False)
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert "mine.yaml, line 3: benchmark.repeats: 0 is less than the minimum of 1" in said, \
        said[-3000:]
    overridden = run_snakemake(workdir, "-n", "--config", "benchmark={repeats: 0}",
                               configfile=["config/config.yaml", "mine.yaml"], check=False)
    said = overridden.stdout + overridden.stderr
    assert overridden.returncode != 0 and "  benchmark.repeats: " in said, said[-3000:]
    assert "mine.yaml, line 3" not in said


@pytest.mark.parametrize("text", ["[]", '{"model_type": "llama", "hidden_size": "64"}'])
def test_a_local_config_json_of_the_wrong_shape_is_no_traceback(tmp_path, text):
    """A config.json that is a list, or writes a number as text, stopped the checks (and so
    every Snakemake parse) with a raw AttributeError / TypeError."""
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "config.json").write_text(text)
    config = default_config(mine={"source": f"local:{folder}", "variants": ["dense", "flap-0.5"]})
    try:
        check_config(config, resources=tmp_path / "resources")
    except PrunebenchError:
        pass  # naming the folder's problem is fine; any other exception is not


def test_check_config_command(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("benchmark: [\n")
    run = [sys.executable, "-m", "prunebench.cli", "check-config"]
    proc = subprocess.run([*run, str(bad)], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2 and "not valid YAML" in proc.stderr
    proc = subprocess.run([*run, "config/config.yaml", "--resources", str(tmp_path)],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr


def test_schema_defaults_and_choices_are_read_per_section(tmp_path):
    from prunebench.plan.config_files import schema_defaults, schema_enum

    schema = tmp_path / "schema.yaml"
    schema.write_text(yaml.safe_dump({"properties": {
        "device": {"type": "string", "default": "auto"},
        "bench": {"type": "object", "required": ["sizes"], "properties": {
            "sizes": {"type": "array", "items": {"enum": [1, 2]}},
            "dtype": {"enum": ["auto", "float16"], "default": "auto"},
            "extra": {"type": "object", "default": {}}}}}}))
    assert schema_defaults("", schema) == {"device": "auto"}
    assert schema_defaults("bench", schema) == {"dtype": "auto", "extra": {}}  # no required key
    schema_defaults("bench", schema)["extra"]["changed"] = True  # a copy: the next call is clean
    assert schema_defaults("bench", schema)["extra"] == {}
    assert schema_enum("bench.dtype", schema) == ("auto", "float16")
    assert schema_enum("bench.sizes", schema) == (1, 2)  # a list: its items' values
    with pytest.raises(PrunebenchError, match=r"no 'bench\.size': bench has only"):
        schema_defaults("bench.size", schema)
    with pytest.raises(PrunebenchError, match="no values for 'device'"):
        schema_enum("device", schema)


@pytest.mark.parametrize("architecture", ["llama-99b", "gpt2-large"])
def test_an_unknown_random_architecture_is_refused_naming_the_known_ones(architecture):
    """It used to pass, then stop the DAG build with a traceback from job sizing."""
    text = problems(default_config(r={"source": f"random:{architecture}", "variants": ["dense"]}))
    lines = text.splitlines()
    assert lines[0] == "the config has 1 problem(s):"
    assert lines[1].startswith(f"  models.r.source: unknown architecture {architecture!r} in "
                               f"'random:{architecture}': choose one of [")
    assert all(f"'{name}'" in lines[1] for name in ARCHITECTURES)


def test_every_problem_is_listed_at_once_and_each_once():
    """Size and display-name checks run beside the schema's; every bad variant of a model is
    named, not only its first; a name refused two ways is one line."""
    config = default_config(tiny={"source": "tiny", "variants": [
        "dense", "flap-1.5", "depth_ppl-0", "flap-0.8", "flap-0.80", "Magic-0.5",
        {"name": "magic-0.5X"}]})
    config["benchmark"]["repeats"] = "x"
    config["display_names"] = {"models": {"llama7b": "LLaMA-7B"}, "methods": {"Depth": "Ours"}}
    lines = problems(config).splitlines()
    expected = [
        "benchmark.repeats: 'x' is not of type 'integer'",
        "models.tiny.variants.5: unknown pruning method 'Magic' in 'Magic-0.5'",
        "models.tiny.variants.6.name: unknown pruning method 'magic' in 'magic-0.5X'",
        "display_names.methods: unknown pruning method 'Depth'",
        "model tiny, variant flap-1.5: target size '1.5' is ambiguous",
        "model tiny, variant depth_ppl-0: target size '0' must be positive",
        "model tiny: flap-0.8 and flap-0.80 are the same variant",
        "display_names.models: 'llama7b' is not a model of this config"]
    for start in expected:
        assert sum(line.startswith(f"  {start}") for line in lines) == 1, (start, lines)
    assert sum("Magic" in line for line in lines) == sum("Depth" in line for line in lines) == 1
    assert lines[0] == f"the config has {len(expected)} problem(s):" and len(lines) == 1 + len(
        expected)


def test_a_variant_listed_twice_is_one_line_naming_it():
    text = problems(default_config(tiny={"source": "tiny", "variants": [
        "dense", "flap-0.8", "flap-0.8"]}))
    assert text.splitlines()[1:] == ["  model tiny: variants listed twice: ['flap-0.8']"]


def test_a_stride_larger_than_the_window_is_refused():
    """It used to be cut to the window silently."""
    config = default_config()
    config["evaluation"]["perplexity"].update(window=64, stride=128)
    assert problems(config).splitlines()[1].startswith(
        "  evaluation.perplexity.stride: 128 is larger than the window (64 tokens): the tokens "
        "between two windows would never be scored")
    del config["evaluation"]["perplexity"]["window"]  # the default window, 128
    config["evaluation"]["perplexity"]["stride"] = 129
    assert "129 is larger than the window (128 tokens)" in problems(config)
    config["evaluation"]["perplexity"]["stride"] = 128
    check_config(config, resources=NOWHERE)


def test_a_misspelt_offline_task_is_refused_with_the_close_names():
    """Taken for an lm-eval hub task, it would add a job that needs the network."""
    config = default_config()
    config["evaluation"]["zeroshot"]["tasks"] = ["pb_agreemnt", "pb_number", "pb_nothing",
                                                 "boolq"]
    lines = problems(config).splitlines()
    assert lines[0] == "the config has 2 problem(s):"
    assert lines[1].startswith("  evaluation.zeroshot.tasks: unknown offline task "
                               "'pb_agreemnt' (did you mean 'pb_agreement'?): the offline "
                               "suite's tasks are ['pb_agreement', 'pb_number'")
    assert lines[2].startswith("  evaluation.zeroshot.tasks: unknown offline task "
                               "'pb_nothing'")


def test_a_hub_task_that_lm_eval_does_not_have_is_refused_at_start(tmp_path):
    """Its zero-shot job used to refuse `hellaswg` only after the pruning before it (hours on
    a cluster). The study's tasks pass with any lm-eval the project allows."""
    from prunebench.zeroshot import PAPER_TASKS

    config = default_config()
    config["evaluation"]["zeroshot"]["tasks"] = [*PAPER_TASKS, "hellaswg", "pb_number"]
    (tmp_path / "resources").mkdir()
    lines = problems(config, tmp_path / "resources").splitlines()
    assert len(lines) == 2 and lines[0] == "the config has 1 problem(s):"
    assert re.fullmatch(r"  evaluation\.zeroshot\.tasks: lm-eval \S+ has no task 'hellaswg' "
                        r"\(did you mean 'hellaswag'.*\?\): pick one from `lm-eval ls tasks`, "
                        r"or a pb_\* task of the offline suite \[.*\]", lines[1]), lines[1]
    # the words of lm-eval's YAMLs are kept for the next start
    assert len(list((tmp_path / "resources" / "cache").glob("lm-eval-*-task-words.json"))) == 1
    config["evaluation"]["zeroshot"]["tasks"] = list(PAPER_TASKS)
    check_config(config, resources=tmp_path / "resources")


def test_a_summary_metric_for_a_task_not_configured_is_refused():
    """A misspelt key would leave hellaswag on acc_norm and change the average silently."""
    config = default_config()
    config["evaluation"]["zeroshot"]["tasks"] = ["hellaswag", "pb_number"]
    config["evaluation"]["zeroshot"]["metrics"] = {"hellaswg": "acc", "pb_number": "acc"}
    lines = problems(config).splitlines()
    assert lines == ["the config has 1 problem(s):",
                     "  evaluation.zeroshot.metrics: 'hellaswg' is not one of the tasks "
                     "['hellaswag', 'pb_number'] (did you mean 'hellaswag'?): spell it as under "
                     "`tasks`, or remove it"]


def test_max_memory_without_a_device_map_is_refused():
    """It used to be ignored without a word."""
    config = default_config(big={"source": "random:llama-7b", "variants": ["dense"],
                                 "max_memory": {0: "70GiB", "cpu": "200GiB"}})
    assert problems(config).splitlines()[1:] == [
        "  models.big.max_memory: it caps each device of a device map, and models.big has no "
        "device_map: add `device_map: auto` (or a mapping of modules to devices; "
        "config/README.md, `models`), or remove max_memory"]
    config["models"]["big"]["device_map"] = "auto"
    check_config(config, resources=NOWHERE)


def test_a_max_memory_cap_without_its_unit_is_refused():
    """{0: 70} meant 70 GiB; as 70 bytes no block fits on GPU 0, and the prune job stopped on
    blocks placed on disk after the model's download."""
    config = default_config(big={"source": "random:llama-7b", "variants": ["dense"],
                                 "device_map": "auto", "max_memory": {0: 70, "cpu": 200}})
    text = problems(config)
    assert "models.big.max_memory.0: 70 is 70 bytes (a bare number is bytes), room for no " \
           "block: write the unit, e.g. 70GiB" in text
    assert "models.big.max_memory.cpu: 200 is 200 bytes" in text
    config["models"]["big"]["max_memory"] = {0: 70 * 2**30, "cpu": "200GiB"}
    check_config(config, resources=NOWHERE)


@pytest.mark.parametrize("name, choices, expected", [
    ("tylor", ["depth_ppl", "depth_taylor", "flap"], "depth_taylor"),   # by its last word
    ("sorce", ["data.source", "data.seed"], "data.source"),
    ("openbook_qa", ["arabic_leaderboard_arabic_mt_openbook_qa", "openbookqa"], "openbookqa"),
    ("rank", ["r", "data.max_train", "data.seed"], None),  # no near word: nothing offered
    ("model", ["r", "target_modules", "max_length"], None),
    ("DEPTH_PPL", ["depth_mag", "depth_ppl", "flap"], "depth_ppl"),  # the name in upper case
    ("Flap", ["depth_mag", "depth_ppl", "flap"], "flap"),
])
def test_a_close_name_is_offered_whole_first_then_by_its_last_words(name, choices, expected):
    from prunebench import did_you_mean

    assert did_you_mean(name, choices) == (f" (did you mean {expected!r}?)" if expected else "")


HUB_LLAMA = "hf:huggyllama/llama-7b@8416d3fefb0cb3ff5775a7b13c1692d10ff1aa16"


def test_a_real_model_stacked_on_the_default_is_told_it_inherits_the_tiny_settings(tmp_path):
    """config/config.yaml's calibration, LoRA data and zero-shot tasks suit the tiny model: a
    hub model stacked on it would silently get them."""
    from prunebench.plan.checks import embedded_settings_notes

    stack = tmp_path / "stack.yaml"
    stack.write_text(yaml.safe_dump({"models": {"llama": {
        "source": HUB_LLAMA, "variants": ["dense", "depth_ppl-4.9B", "llm_pruner-4.9B+lora"]}}}))
    config = load_config_files([DEFAULT, stack])
    check_config(config, resources=NOWHERE)
    (note,) = embedded_settings_notes(config)
    assert note.startswith("llama would run with settings made for the tiny model: calibration "
                           "on the embedded text (depth_ppl, llm_pruner; ")
    assert "LoRA on instruction records made from the embedded text" in note
    assert "zero-shot on the offline pb_* tasks only" in note
    # Each part goes once set for a real model.
    config["methods"] = {m: {"calibration": {"source": "wikitext2"}}
                         for m in ("depth_ppl", "llm_pruner")}
    config["lora"]["data"] = {"source": "alpaca"}
    config["evaluation"]["zeroshot"]["tasks"] = ["pb_number", "boolq"]
    assert embedded_settings_notes(config) == []
    # Configs made for real models, and the tiny default alone, get no note.
    for files in SHIPPED:
        assert embedded_settings_notes(load_config_files([REPO / "config" / f
                                                          for f in files])) == [], files


def test_check_config_prints_the_notes_after_no_problem(tmp_path):
    stack = tmp_path / "stack.yaml"
    # The tiny model's variants stacked to add one: the list replaces the default's, dense too.
    stack.write_text(yaml.safe_dump({"models": {
        "llama": {"source": HUB_LLAMA, "variants": ["dense"]},
        "tiny": {"source": "tiny", "variants": ["flap-0.8"]}}}))
    done = subprocess.run([sys.executable, "-m", "prunebench.cli", "check-config", str(DEFAULT),
                           str(stack), "--resources", str(tmp_path)], capture_output=True,
                          text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].endswith("no problem found")
    assert lines[1].startswith("note: llama would run with settings made for the tiny model: "
                               "zero-shot on the offline pb_* tasks only")
    assert lines[2].startswith("note: models.tiny.variants has no dense: the tables compare "
                               "every variant with the dense model, so the aggregation")
    assert "replaces its variants list whole" in lines[2] and len(lines) == 3


def test_no_shipped_config_lacks_a_dense_variant():
    from prunebench.plan.checks import no_dense_notes

    for files in SHIPPED:
        assert no_dense_notes(load_config_files([REPO / "config" / f for f in files])) == [], files


def test_calibration_windows_longer_than_a_known_context_are_refused_at_start(tmp_path):
    """The prune job refuses them (F18), but only after its calibration job drew them; the
    config check names the variants, and leaves alone a data-free method's unused setting."""
    config = default_config(r7={"source": "random:llama-7b", "variants": [
        "dense", "depth_ppl-0.8", "depth_ppl-0.8+lora", "depth_mag-0.8", "flap-0.8",
        {"name": "llm_pruner-0.8", "calibration": {"length": 2049}}]})
    config["methods"]["depth_ppl"]["calibration"]["length"] = 4096
    config["methods"]["depth_mag"] = {"calibration": {"length": 4096}}
    text = problems(config, tmp_path)
    assert ("calibration.length: the calibration windows of model r7's depth_ppl-0.8 (4096), "
            "llm_pruner-0.8 (2049) exceed its context of 2048 tokens: set "
            "methods.depth_ppl.calibration.length, variant llm_pruner-0.8's calibration.length "
            "to at most 2048 (unset, a method's length is its original's)") in text
    assert "depth_mag" not in text and "flap" not in text
    config["methods"]["depth_ppl"]["calibration"]["length"] = 2048
    config["models"]["r7"]["variants"][-1]["calibration"]["length"] = 2048
    check_config(config, resources=tmp_path)  # the whole context fits


def test_a_method_whose_original_windows_exceed_the_context_is_named_by_its_key(tmp_path):
    """A method the config has no section for draws its original's windows (SLEB's: 2048
    tokens): the problem names the key to set, `methods.<that method>.calibration.length`,
    not `methods.<method>`, which a user adding a variant had to work out."""
    config = default_config()
    config["models"]["tiny"]["variants"].append("sleb-0.8")
    del config["methods"]["sleb"]
    text = problems(config, tmp_path)
    assert ("model tiny's sleb-0.8 (2048) exceed its context of 1024 tokens: set "
            "methods.sleb.calibration.length to at most 1024") in text
    assert "<method>" not in text


@pytest.mark.parametrize("change, said", [
    (lambda c: c["models"]["tiny"].update(variants=5),
     "5 must be a list of variant names, e.g. variants: [dense, depth_ppl-0.8]"),
    (lambda c: c["models"]["tiny"]["variants"].append({"params": {}}), "variants"),
    (lambda c: c["methods"].update(depth_ppl=5), "5 is not of type 'object'"),
    (lambda c: c["methods"]["depth_ppl"].update(calibration=5), "5 is not of type 'object'"),
    (lambda c: c["models"]["tiny"]["variants"].append(
        {"name": "depth_ppl-0.5", "calibration": 5}), "5 is not"),
    (lambda c: c["models"]["tiny"]["variants"].append(
        {"name": "depth_ppl-0.5", "params": [1]}), "[1] is not"),
    (lambda c: c.update(texts=5), "5 is not of type 'object'"),
    (lambda c: c.update(texts={"mine": 5}), "5 is not of type 'object'"),
    (lambda c: c.update(texts={"mine": {"train": 5}}), "texts.mine.train: 5 must be text"),
    # `5:` or `yes:` (YAML's number and boolean), which the workflow's rules cannot take as names
    (lambda c: c.update(texts={5: {"train": "x.txt"}}), "texts.5: YAML reads this name as a number"),
    (lambda c: c.update(texts={True: {"train": "x.txt"}}),
     "texts.True: YAML reads this name as true or false"),
    (lambda c: c["methods"]["depth_ppl"]["calibration"].update(source=5),
     "calibration.source: 5 must be text, embedded, wikitext2, ptb, bookcorpus, c4, pg19, "
     "tatsu_alpaca, or the name of a text of your own (`texts`) with a train file"),
    (lambda c: c["evaluation"]["perplexity"].update(datasets=[["x"]]),
     "evaluation.perplexity.datasets.0: ['x'] is not of type 'string'"),
])
def test_a_malformed_config_is_listed_not_crashed_on(change, said):
    """The checks after the schema's skip what it refuses (the calibration context check read
    the variants as if they were valid and raised TypeError / KeyError)."""
    config = default_config()
    change(config)
    assert said in problems(config)


def test_a_result_file_read_as_a_config_file_says_to_name_targets_first():
    """`snakemake --configfile config/config.yaml results/eval/tiny/dense/ppl.json`: the target
    is read as a second config file and merged into the first."""
    config = default_config()
    config.update(model="tiny", variant="dense", window=128, provenance={"seed": None})
    text = problems(config)
    assert "unknown key" in text and "'provenance'" in text
    assert text.endswith("a result file was read as a config file (its `provenance` is in the "
                         "config): Snakemake reads every path after --configfile as a config "
                         "file, so name targets before it, e.g. `snakemake --cores all "
                         "results/eval/<model>/<variant>/ppl.json --configfile "
                         "config/config.yaml`")
    assert "a result file" not in problems({**default_config(), "window": 128})


def test_a_size_written_after_an_underscore_is_told_the_dash():
    config = default_config()
    config["models"]["tiny"]["variants"] = ["dense", "flap_0.8", "nomethod_0.8"]
    text = problems(config)
    assert "variant 'flap_0.8' must be 'dense' or '<method>-<size>' such as 'depth_ppl-4.9B' " \
           "(did you mean 'flap-0.8'?)" in text
    assert "'nomethod_0.8' must be 'dense' or '<method>-<size>' such as 'depth_ppl-4.9B'\n" \
        in text + "\n"  # no method of that name: nothing to suggest


def test_a_variant_of_another_runs_config_names_both_fixes():
    """Asked for without the config that has it (a cell of a stacked run remade with the
    default config alone), it used to say only to add it to the config."""
    from prunebench.plan.variants import variant_entry

    with pytest.raises(PrunebenchError) as err:
        variant_entry(default_config(), "tiny", "wanda_sp-0.8")
    assert str(err.value).startswith("variant 'wanda_sp-0.8' is not configured for model 'tiny': "
                                     "add it under models.tiny.variants in the config, or, to "
                                     "remake a file of a run whose config has it, repeat that "
                                     "run's --configfile files")


def test_a_token_config_longer_than_the_tiny_models_context_is_refused_before_it_is_trained(
        tmp_path):
    """Its shape is the pipeline's own: known before the model is (it used to be found out by
    the benchmark job, minutes into a fresh run)."""
    from prunebench.checkpoint.architectures import TINY_SHAPE

    config = default_config()
    limit = TINY_SHAPE["max_position_embeddings"]
    config["benchmark"]["token_configs"] = ["12x32", f"{limit - 99}x100"]
    assert f"needs {limit + 1} positions, and model tiny has {limit}" in problems(config,
                                                                                 tmp_path)
    config["embedded"]["model"]["max_position_embeddings"] = limit + 1  # its own override
    check_config(config, resources=tmp_path)


def test_token_configs_and_windows_longer_than_a_known_model_are_refused(tmp_path):
    """Known here: a `random:` shape (llama-7b: 2048 positions) or a config.json in
    resources/models/<name>/. A hub model not downloaded yet is left to its jobs."""
    config = default_config(r7={"source": "random:llama-7b", "variants": ["dense"]},
                            hub={"source": HUB_LLAMA, "variants": ["dense"]})
    config["benchmark"]["token_configs"] = ["12x128", "1500x600"]
    config["evaluation"]["perplexity"].update(window=2048, bos="window")
    text = problems(config)
    assert "benchmark.token_configs: 1500x600 needs 2100 positions, and model r7 has 2048 " \
           "(max_position_embeddings)" in text
    assert "evaluation.perplexity.window: 2048 tokens plus the BOS of every window exceed " \
           "model r7's context of 2048: set it to at most 2047" in text
    assert "model hub" not in text and "12x128" not in text
    # Once the hub model's config.json is here, it is checked too.
    (tmp_path / "models" / "hub").mkdir(parents=True)
    (tmp_path / "models" / "hub" / "config.json").write_text(json.dumps(
        {**ARCHITECTURES["llama-7b"], "max_position_embeddings": 1024, "model_type": "llama"}))
    assert "and model hub has 1024" in problems(config, resources=tmp_path)
    # A config.json that leaves the key out (LLaMA-1 conversions do) has the context transformers
    # builds its model with (LlamaConfig: 2048); it used to be skipped, found by the GPU jobs.
    shape = {k: v for k, v in ARCHITECTURES["llama-7b"].items() if k != "max_position_embeddings"}
    (tmp_path / "models" / "hub" / "config.json").write_text(json.dumps(
        {**shape, "model_type": "llama"}))
    assert "1500x600 needs 2100 positions, and model hub has 2048" in problems(
        config, resources=tmp_path)
    config["benchmark"]["token_configs"] = ["12x128"]
    config["evaluation"]["perplexity"].update(window=1024, bos="first")
    config["models"].pop("hub")
    check_config(config, resources=NOWHERE)  # within every known context: no problem


def test_the_studys_tokenization_is_refused_for_a_model_known_to_lack_sentencepiece(tmp_path):
    """Known here: the tiny model (its own tokenizer) and a downloaded model without
    tokenizer.model (Llama-3's, Qwen's); a hub model not downloaded yet is left to its job."""
    config = default_config()
    config["models"]["hub"] = {"source": HUB_LLAMA, "variants": ["dense"]}
    config["models"]["r7"] = {"source": "random:llama-7b", "variants": ["dense"]}
    config["evaluation"]["perplexity"].update(datasets=["embedded", "wikitext2"],
                                              tokenization="sentencepiece_legacy")
    text = problems(config, tmp_path)
    for model in ("tiny", "r7"):
        assert f"for model {model} the tiny model's tokenizer (which random: models get too) " \
               "is not a SentencePiece model: use tokenization: tokenizer, or evaluate that " \
               "model in a run of its own" in text
    config["models"].pop("r7")
    assert "model hub" not in text
    (tmp_path / "models" / "hub").mkdir(parents=True)
    (tmp_path / "models" / "hub" / "config.json").write_text(json.dumps(
        {**ARCHITECTURES["llama-7b"], "model_type": "llama"}))
    assert f"for model hub {tmp_path / 'models' / 'hub'} has no tokenizer.model" in problems(
        config, tmp_path)
    (tmp_path / "models" / "hub" / "tokenizer.model").write_bytes(b"")
    config["models"].pop("tiny")
    check_config(config, resources=tmp_path)
    config["models"]["tiny"] = default_config()["models"]["tiny"]
    config["evaluation"]["perplexity"]["datasets"] = ["embedded"]  # scored as trained: no check
    check_config(config, resources=tmp_path)
    # zero-shot: every request is tokenized so (the offline suite's too)
    config["evaluation"]["zeroshot"]["tokenization"] = "sentencepiece_legacy"
    text = problems(config, tmp_path)
    assert "evaluation.zeroshot.tokenization: sentencepiece_legacy tokenizes as LLaMA-1's " \
           "SentencePiece tokenizer did, and for model tiny the tiny model's tokenizer" in text
    assert "evaluation.perplexity.tokenization" not in text and "model hub" not in text


# --------------------------------------------------------------------------- slips users make

@pytest.mark.parametrize("name", ["..", "."])
def test_a_model_name_that_is_no_folder_name_of_its_own_is_refused(name):
    """'..' passed: its base model's folder was resources/ itself, its results results/."""
    text = problems(default_config(**{name: {"source": "tiny", "variants": ["dense"]}}))
    assert f"models: {name!r} is not allowed: expected a model name of letters, digits, '_', " \
           "'.' and '-', other than '.' and '..'" in text
    for fine in ("_x", "-x", ".x", "x..y"):  # names that were allowed stay allowed
        check_config(default_config(**{fine: {"source": "tiny", "variants": ["dense"]}}),
                     resources=NOWHERE)


def test_variants_written_as_one_string_are_told_to_be_a_list():
    text = problems(default_config(tiny={"source": "tiny", "variants": "depth_ppl-0.8"}))
    assert "models.tiny.variants: 'depth_ppl-0.8' must be a list of variant names, e.g. " \
           "variants: [depth_ppl-0.8]" in text
    assert "is not a variant name" not in text  # the name itself is fine


@pytest.mark.parametrize("name, fixed", [("llm_pruner-0.8b", "llm_pruner-0.8B"),
                                         ("depth_ppl-350m+lora", "depth_ppl-350M+lora")])
def test_a_lower_case_size_suffix_is_told_the_upper_case_name(name, fixed):
    text = problems(default_config(tiny={"source": "tiny", "variants": ["dense", name]}))
    assert f"variant {name!r}: write the size's suffix in upper case, {fixed!r}" in text
    assert "larger than the model" not in text


def test_a_misspelt_tiny_model_setting_is_refused_not_ignored():
    config = default_config()
    config["embedded"] = {"seed": 0, "model": {"seed": 0, "stepz": 100}}
    assert "embedded.model: unknown key 'stepz' (did you mean 'steps'?)" in problems(config)
    config["embedded"]["model"] = {"seed": 0, "steps": 100, "num_hidden_layers": 4}
    check_config(config, resources=NOWHERE)


def test_the_tiny_models_keys_are_build_tinys_arguments_and_its_shape():
    """What the schema allows under embedded.model is what build_tiny takes: its keyword
    arguments and the shape it starts from (TINY_SHAPE's keys that make sense to change)."""
    import inspect

    from prunebench.checkpoint.architectures import TINY_SHAPE
    from prunebench.plan import config_files
    from prunebench.tiny import build_tiny

    allowed = set(config_files.load_schema(config_files.SCHEMA)["properties"]["embedded"]["properties"]
                  ["model"]["properties"])
    arguments = {name for name, p in inspect.signature(build_tiny).parameters.items()
                 if p.kind is p.KEYWORD_ONLY}
    assert arguments <= allowed and allowed - arguments <= set(TINY_SHAPE)


@pytest.mark.parametrize("shape", [None, {"num_hidden_layers": 16, "hidden_size": 256},
                                   {"tie_word_embeddings": True, "num_hidden_layers": 2}])
def test_a_count_larger_than_the_untrained_tiny_model_is_refused_at_start(shape):
    """Before the tiny model is trained its size is known up to its vocabulary: a count above
    the largest it can be is refused at start, with the size its shape settings give."""
    from prunebench.checkpoint.architectures import TINY_SHAPE, TINY_VOCAB_SIZE
    from prunebench.checkpoint.param_count import config_from_dict, count_params

    config = default_config(tiny={"source": "tiny",
                                  "variants": ["dense", "depth_ppl-0.8", "depth_ppl-5M"]})
    if shape:
        config["embedded"] = {"seed": 0, "model": {"seed": 0, **shape}}
    full = {**TINY_SHAPE, "vocab_size": TINY_VOCAB_SIZE, **(shape or {})}
    largest = count_params(config_from_dict(full))
    if largest > 5_000_000:  # the larger shape: 5M fits, and the config passes
        check_config(config, resources=NOWHERE)
        return
    text = problems(config)
    assert ("variant depth_ppl-5M: target size '5M' is larger than the tiny model (at most "
            f"{largest:,} params") in text
    assert "depth_ppl-0.8: target size" not in text  # a fraction is never too large


def test_a_variant_the_untrained_tiny_model_cannot_make_is_refused_before_it_is_trained():
    """`prunebench plan` refused it from the configured shape, but the check at start let it
    through until the tiny model was trained, and the prune job failed after the training."""
    from prunebench.checkpoint.architectures import TINY_SHAPE

    config = default_config(tiny={"source": "tiny", "variants": ["dense", "depth_ppl-0.8"]})
    config["methods"] = {"depth_ppl": {"params": {"protect_first": 100}}}
    blocks = TINY_SHAPE["num_hidden_layers"]
    assert (f"model tiny, variant depth_ppl-0.8: protect_first=100 and protect_last=0 leave no "
            f"removable block out of {blocks}") in problems(config)


def test_lora_batch_sizes_that_do_not_divide_are_refused_at_start():
    config = default_config()
    config["lora"] = {"batch_size": 10, "micro_batch_size": 4}
    assert "lora.batch_size=10 is not a multiple of micro_batch_size=4" in problems(config)
    config["lora"] = {"batch_size": "ten"}
    text = problems(config)
    assert "lora.batch_size: 'ten' is not of type 'integer'" in text
    assert text.count("lora.batch_size") == 1  # said once, by the schema


def test_a_method_parameter_or_calibration_at_the_wrong_level_is_told_where_it_goes():
    config = default_config()
    config["methods"]["depth_ppl"]["protect_first"] = 2
    config["methods"]["llm_pruner"] = {"params": {"calibration": {"n": 5}}}
    config["models"]["tiny"]["variants"].append({"name": "depth_ppl-0.5", "protect_last": 1})
    text = problems(config)
    assert "methods.depth_ppl: unknown key 'protect_first' (a method parameter: put it under " \
           "params:)" in text
    assert "unknown key 'protect_last' (a method parameter: put it under params:)" in text
    assert "methods.llm_pruner.params: llm_pruner has no parameter(s) ['calibration'] " \
           "(calibration sits beside params, one level up, not inside it)" in text


def test_lora_keys_written_with_their_peft_names_get_the_configs_name():
    config = default_config()
    config["lora"] = {"lora_alpha": 32}
    assert "lora: unknown key 'lora_alpha' (did you mean 'alpha'?)" in problems(config)


def test_an_unknown_device_names_the_choices():
    config = default_config()
    config["device"] = "gpu"
    assert "device: 'gpu' is not allowed: expected auto, cpu, cuda or cuda:<index>" \
        in problems(config)


# ------------------------------------------------------------ mistakes a researcher makes in a config

@pytest.mark.parametrize("section, value", [
    ({"benchmark": {"warmup": 1.0}}, "benchmark.warmup: 1.0 must be a whole number: write 1"),
    ({"benchmark": {"batch_sizes": [1.0, 4]}}, "benchmark.batch_sizes.0: 1.0 must be a whole"),
    ({"evaluation": {"perplexity": {"window": 128.0}}}, "window: 128.0 must be a whole number"),
    ({"methods": {"depth_ppl": {"calibration": {"n": 10.0}}}}, "n: 10.0 must be a whole number"),
])
def test_a_whole_number_written_as_a_float_is_refused(section, value):
    """JSON Schema takes 2.0 as an integer; the jobs then stop on it (range(1.0)), after their
    finished results were removed for the changed params, or a float lands in a file name."""
    config = default_config()
    for key, settings in section.items():
        config[key] = {**config.get(key, {}), **settings}
    assert value in problems(config)


def test_a_number_yaml_reads_as_text_says_how_to_write_it(tmp_path):
    (tmp_path / "o.yaml").write_text("lora: {lr: 1e-4}\n")
    message = problems(load_config_files([DEFAULT, tmp_path / "o.yaml"]))
    assert "lora.lr: '1e-4' is text, not a number" in message and "1.0e-4" in message


def test_a_key_written_twice_names_the_file_line_and_key(tmp_path):
    (tmp_path / "o.yaml").write_text("benchmark:\n  batch_sizes: [1, 2]\nbenchmark:\n  repeats: 5\n")
    with pytest.raises(PrunebenchError, match=r"o.yaml, line 3, column 1: key 'benchmark' is "
                                              r"written twice in one mapping \(first on line 1\)"):
        load_config_files([DEFAULT, tmp_path / "o.yaml"])
    # the workflow reads its files with Snakemake's reader, and passes them to check again
    assert "key 'benchmark' is written twice" in str(
        pytest.raises(PrunebenchError, check_config, default_config(), resources=NOWHERE,
                      files=[tmp_path / "o.yaml"]).value)


def test_yaml_merge_keys_may_override_what_they_merge():
    from prunebench.plan.config_files import read_yaml

    assert read_yaml("a: &x {b: 1, c: 2}\nd:\n  <<: *x\n  b: 3\n")["d"] == {"b": 3, "c": 2}


def test_a_cuda_only_compile_mode_with_device_cpu_is_refused():
    config = {**default_config(), "device": "cpu"}
    config["benchmark"] = {**config["benchmark"], "compile_mode": "cuda-graph"}
    assert "benchmark.compile_mode: 'cuda-graph' runs only on CUDA, and device is 'cpu'" in (
        problems(config))
    config["benchmark"]["backends"] = ["hf"]  # no compiled job: a note that it changes nothing
    check_config(config, resources=NOWHERE)
    from prunebench.plan.checks import config_notes

    assert any("compile_mode 'cuda-graph' is for the compiled backend" in note
               for note in config_notes(config, NOWHERE))


def test_the_default_compile_mode_of_a_run_without_the_compiled_backend_is_no_note():
    """A run fills in the schema's defaults before its notes are made: a config that never
    set compile_mode (config/paper-tables.yaml times hf only) gets no note about it."""
    from prunebench.plan.checks import config_notes
    from prunebench.plan.config_files import schema_defaults

    config = default_config()
    config["benchmark"] = {**config["benchmark"], "backends": ["hf"]}
    config["benchmark"].pop("compile_mode", None)
    filled = {**config, "benchmark": {**schema_defaults("benchmark"), **config["benchmark"]}}
    for checked in (config, filled):
        check_config(checked, resources=NOWHERE)
        assert not any("compile_mode" in note for note in config_notes(checked, NOWHERE))


@pytest.mark.parametrize("device", ["auto", "cuda", "cuda:0"])
def test_flash_attention_for_the_compiled_backend_on_cuda_is_refused(device):
    """CUDA's flash kernel takes no mask and the compiled decoder always passes one: every
    compiled cell would fail on the GPU, each attempt of each job."""
    config = {**default_config(), "device": device}
    config["benchmark"] = {**config["benchmark"], "attention": "flash"}
    assert "benchmark.attention 'flash' takes no attention mask on CUDA, and the compiled " \
           "backend's decoder masks its static KV cache" in problems(config)
    config["benchmark"]["backends"] = ["hf"]  # HF's SDPA attention drops the mask where it can
    check_config(config, resources=NOWHERE)
    config["benchmark"]["backends"] = ["hf", "compiled"]
    check_config({**config, "device": "cpu"}, resources=NOWHERE)  # the CPU kernel takes a mask
    config["benchmark"]["backends"] = ["hf", "hf_static"]  # transformers' static cache: masked
    assert problems(config).endswith("benchmark.attention 'flash' takes no attention mask on CUDA, "
                                "and transformers masks its static KV cache (the hf_static "
                                "backend) (every hf_static cell would stop with 'no available "
                                "kernel'): use auto or flash-efficient (flash where no mask is "
                                "needed, memory-efficient otherwise) or efficient, or time only "
                                "the hf backend with flash (on the CPU it takes one: device: "
                                "cpu)")
    check_config({**config, "device": "cpu"}, resources=NOWHERE)


def test_sdpa_attention_for_a_model_that_soft_caps_its_scores_is_refused_at_start(tmp_path):
    """Gemma-2 soft-caps its attention scores, which no SDPA kernel does: each of its benchmark
    jobs would stop on it (auto picks matmul + softmax for it, the SDPA kernels for the rest)."""
    config = default_config(g={"source": "random:gemma-2-2b", "variants": ["dense"]},
                            l={"source": "random:llama-7b", "variants": ["dense"]})
    check_config(config, resources=NOWHERE)  # attention: auto
    config["benchmark"] = {**config["benchmark"], "attention": "flash-efficient"}
    said = problems(config)
    assert "benchmark.attention: 'flash-efficient' is PyTorch's SDPA, and model g soft-caps its " \
           "attention scores (attn_logit_softcapping 50.0)" in said and "model l" not in said
    config["benchmark"]["attention"] = "eager"
    check_config(config, resources=NOWHERE)
    # A local Gemma-2 whose config.json leaves the cap out has transformers' default, 50.
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({**ARCHITECTURES["gemma-2-2b"],
                                                    "attn_logit_softcapping": None}))
    from prunebench.plan.checks import softcap_attention_problems

    local = {"models": {"m": {"source": f"local:{folder}"}}, "benchmark": {"attention": "sdpa"}}
    assert softcap_attention_problems(local) == []  # switched off in its config.json
    (folder / "config.json").write_text(json.dumps({
        k: v for k, v in ARCHITECTURES["gemma-2-2b"].items() if k != "attn_logit_softcapping"}))
    assert "soft-caps its attention scores (attn_logit_softcapping 50.0)" in \
        softcap_attention_problems(local)[0]


def test_lora_targets_naming_part_of_a_packed_projection_are_refused_at_start():
    """Phi-3 packs q/k/v into one qkv_proj: `target_modules: [q_proj, v_proj]` would stop each
    of its lora jobs, after its prune; found at the start instead, for the models with +lora
    variants only, and LLaMA models keep adapting q and v alone."""
    config = default_config(p={"source": "random:phi-4-mini", "variants": ["dense", "flap-0.8",
                                                                           "flap-0.8+lora"]},
                            l={"source": "random:llama-7b", "variants": ["flap-0.8+lora"]},
                            q={"source": "random:phi-3-mini", "variants": ["flap-0.8"]},
                            h={"source": "hf:microsoft/phi-4", "variants": ["flap-0.8+lora"]})
    check_config(config, resources=NOWHERE)  # all seven: every packed module whole
    config["lora"] = {**config.get("lora", {}), "target_modules": ["q_proj", "v_proj"]}
    said = problems(config)
    assert "models.p (phi3): lora.target_modules names ['q_proj', 'v_proj'] but not " \
           "['k_proj']: this model packs q_proj, k_proj, v_proj into one qkv_proj" in said
    assert "models.h (phi3): lora.target_modules names" in said  # not downloaded: its id
    assert "models.l" not in said and "models.q" not in said
    config["lora"]["target_modules"] = ["q_proj", "k_proj", "v_proj", "o_proj"]
    check_config(config, resources=NOWHERE)


def test_partial_lora_targets_are_judged_by_the_modules_the_model_packs():
    """GLM packs gate/up but keeps q/k/v apart: q and v alone are fine there, gate alone not."""
    from prunebench.checkpoint.param_count import FAMILIES
    from prunebench.plan.lora_settings import packed_target_problems

    glm = FAMILIES["glm"].packed
    assert packed_target_problems(["q_proj", "v_proj"], glm) == []
    assert packed_target_problems(["q_proj", "gate_proj"], glm) == [
        "lora.target_modules names ['gate_proj'] but not ['up_proj']: this model packs "
        "gate_proj, up_proj into one gate_up_proj, whose adapter changes all of them; name all "
        "of ['gate_proj', 'up_proj'] or none"]
    assert len(packed_target_problems(["q_proj", "gate_proj"], FAMILIES["phi3"].packed)) == 2
    assert packed_target_problems(["q_proj", "gate_proj"], FAMILIES["llama"].packed) == []


def test_a_local_glm_models_partial_lora_targets_are_judged_at_start_by_what_it_packs(tmp_path):
    """The start's check reads a GLM model's family from its config.json: q and v alone pass
    (GLM keeps q/k/v apart), gate alone is refused, as its lora job would refuse it after the
    prune (only Phi-3 was judged there before GLM packed gate/up alone)."""
    from prunebench.plan.checks import packed_lora_target_problems

    for model_type in ("glm", "glm4"):
        folder = tmp_path / model_type
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps({
            "model_type": model_type, "hidden_size": 64, "intermediate_size": 128,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "head_dim": 16, "vocab_size": 128, "partial_rotary_factor": 0.5}))
        config = {"models": {"g": {"source": f"local:{folder}", "variants": ["flap-0.8+lora"]}},
                  "lora": {"target_modules": ["q_proj", "v_proj"]}}
        assert packed_lora_target_problems(config, NOWHERE) == []
        config["lora"]["target_modules"] = ["q_proj", "gate_proj"]
        assert packed_lora_target_problems(config, NOWHERE) == [
            f"models.g ({model_type}): lora.target_modules names ['gate_proj'] but not "
            "['up_proj']: this model packs gate_proj, up_proj into one gate_up_proj, whose "
            "adapter changes all of them; name all of ['gate_proj', 'up_proj'] or none"]


@pytest.mark.parametrize("settings, said", [
    ({"seq_len": 2048}, "embedded.model.seq_len: training windows of 2048 tokens exceed the tiny "
                        "model's context (max_position_embeddings 1024)"),
    ({"num_attention_heads": 3, "num_key_value_heads": 3},
     "hidden_size 128 is no multiple of num_attention_heads 3"),
    ({"num_key_value_heads": 3}, "num_attention_heads 4 is no multiple of num_key_value_heads 3"),
    ({"steps": 0}, "embedded.model.steps: 0 is less than the minimum of 1"),
])
def test_tiny_model_settings_its_job_would_refuse_are_refused_at_start(settings, said):
    """Found before Snakemake removes the trained tiny model to make it again."""
    config = default_config()
    config["embedded"] = {"model": settings}
    assert said in problems(config)


def test_the_tiny_models_own_settings_pass():
    config = default_config()
    config["embedded"] = {"model": {"seq_len": 1024, "num_attention_heads": 8,
                                    "num_key_value_heads": 2}}
    check_config(config, resources=NOWHERE)


def test_a_local_folder_of_another_family_is_named_and_the_other_problems_still_said(tmp_path):
    folder = tmp_path / "reformer"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "reformer", "n_layer": 2}))
    config = default_config(mine={"source": f"local:{folder}", "variants": ["dense", "flap-0.5"]})
    config["benchmark"] = {**config["benchmark"], "warmup": "x"}
    message = problems(config)
    assert "benchmark.warmup: 'x'" in message
    assert f"models.mine.source local:{folder}" in message and "model_type 'reformer'" in message


def test_dense_with_params_or_calibration_is_refused():
    config = default_config(tiny={"source": "tiny", "variants": [
        {"name": "dense", "params": {"protect_first": 2}, "calibration": {"n": 5}}]})
    assert ("models.tiny.variants: dense: the dense model is not pruned, so its params and "
            "calibration would do nothing") in problems(config)


@pytest.mark.parametrize("variant", ["depth_ppl-1", "flap-1.0"])
def test_a_size_that_keeps_every_parameter_is_refused(variant):
    config = default_config(tiny={"source": "tiny", "variants": ["dense", variant]})
    assert "keeps every parameter, which is the dense model" in problems(config)


def test_dense_plus_lora_alone_is_no_dense_model():
    from prunebench.plan.checks import config_notes

    config = default_config(tiny={"source": "tiny", "variants": ["dense+lora", "depth_ppl-0.8"]})
    check_config(config, resources=NOWHERE)
    assert any("has no dense" in note for note in config_notes(config, NOWHERE))


@pytest.mark.parametrize("limit, refused", [(1.5, True), (1.0, True), (0.5, False), (50, False),
                                            (None, False)])
def test_zero_shot_limit_is_whole_documents_or_a_fraction_below_one(limit, refused):
    config = default_config()
    config["evaluation"]["zeroshot"] = {**config["evaluation"]["zeroshot"], "limit": limit}
    if refused:
        assert f"evaluation.zeroshot.limit: {limit!r} is not allowed" in problems(config)
    else:
        check_config(config, resources=NOWHERE)


def test_a_stacked_config_switches_zero_shot_off_with_null(tmp_path):
    (tmp_path / "o.yaml").write_text("evaluation:\n  zeroshot: null\n")
    config = load_config_files([DEFAULT, tmp_path / "o.yaml"])
    assert "zeroshot" not in config["evaluation"]
    check_config(config, resources=NOWHERE)


def test_a_device_map_outside_its_choices_names_them():
    config = default_config(tiny={"source": "tiny", "variants": ["dense"], "device_map": "Auto"})
    assert ("models.tiny.device_map: 'Auto' is not allowed: expected one of auto, balanced, "
            "balanced_low_0, sequential; or a mapping") in problems(config)


@pytest.mark.parametrize("source, noted", [("hf:org/model", True), ("hf:org/model@main", True),
                                           ("hf:org/model@4782ad278652c7c71b72204d462d6d01eaaf7549",
                                            False)])
def test_an_unpinned_hub_source_gets_a_note(source, noted):
    from prunebench.plan.checks import unpinned_source_notes

    config = default_config(m={"source": source, "variants": ["dense"]})
    notes = unpinned_source_notes(config)
    assert bool(notes) == noted
    assert not noted or "names no commit" in notes[0] and "hf:org/model@<commit>" in notes[0]


def test_params_on_a_lora_variant_whose_base_is_listed_belong_on_the_base():
    config = default_config(tiny={"source": "tiny", "variants": [
        "dense", "flap-0.8", {"name": "flap-0.8+lora", "params": {"metric": "IFV"}}]})
    assert ("model tiny: flap-0.8+lora sets params/calibration, but its base flap-0.8 is listed "
            "too: set them on flap-0.8") in problems(config)


def test_max_memory_keys_and_sizes_are_what_accelerate_reads():
    """A misspelt device (`gpu0`) or size (`lots`, `2TB`: accelerate reads KB to GiB) would stop
    the job on a GPU node; accepted ones are handed to accelerate as written."""
    from accelerate.utils import convert_file_size_to_int

    good = {0: "70GiB", 1: "1.5GB", "cpu": "200 GB", "disk": 10**12}
    config = default_config(tiny={"source": "tiny", "variants": ["dense"], "device_map": "auto",
                                  "max_memory": good})
    check_config(config, resources=NOWHERE)
    assert all(convert_file_size_to_int(v) > 0 for v in good.values())
    config["models"]["tiny"]["max_memory"] = {"gpu0": "70GiB", 1: "lots", 2: "2TB", 3: "70Gb"}
    message = problems(config)
    assert "models.tiny.max_memory: 'gpu0' is not allowed: expected a GPU index" in message
    assert "max_memory.1: 'lots' is not allowed" in message and "'2TB' is not allowed" in message
    assert "'70Gb' is not allowed" in message  # accelerate would read bits: 8.75 GB


def test_a_gpu_written_as_text_reaches_accelerate_as_a_number():
    """A JSON config's keys are all text; accelerate recognises GPU 0 only as the number."""
    from prunebench.modeling import accelerate_max_memory

    assert accelerate_max_memory({"0": "70GiB", "1": 5, "cpu": "1GB"}) == {
        0: "70GiB", 1: 5, "cpu": "1GB"}
    assert accelerate_max_memory(None) is None



@pytest.mark.parametrize("section, said", [
    ({"lora": {"lr": "1e-5"}}, "write 1.0e-5"),
    ({"lora": {"lr": "1.25e5"}}, "write 1.25e+5"),
    ({"embedded": {"model": {"steps": "1e3"}}}, "'1e3' is text, not a whole number: write 1000"),
    ({"embedded": {"model": {"seq_len": "128"}}}, "'128' is text, not a whole number: write 128"),
    ({"lora": {"lr": "0.001"}}, "'0.001' is text, not a number (quoted?): write 0.001 without"),
])
def test_a_number_read_as_text_is_told_how_to_write_it(section, said):
    """The hint is itself read as a number (YAML wants 1.0e-5: a dot and a signed exponent)."""
    import yaml

    config = default_config()
    for key, settings in section.items():
        config[key] = {**config.get(key, {}), **settings}
    message = problems(config)
    assert said in message
    written = message.split("write ")[-1].split(" ")[0]
    assert isinstance(yaml.safe_load(written), (int, float))


def test_an_alias_of_a_mapping_with_a_merge_is_no_duplicate_key():
    """PyYAML flattens a merge into the node itself: a later alias of it holds the merged keys
    beside its own, which are no key written twice."""
    from prunebench.plan.config_files import read_yaml

    text = "b: &b {y: 0}\nx: {a: &a {<<: *b, y: 1}}\nc: {<<: *a}\n"
    assert read_yaml(text) == yaml.safe_load(text)  # PyYAML's own reading, whatever it is


def test_paired_timing_settings_are_checked_at_start(tmp_path):
    """benchmark.paired: its token configs must fit the model as the sweeps' do, a single pair
    shows no spread, and a config stacked on one that has it switches it off with null."""
    from prunebench.checkpoint.architectures import TINY_SHAPE

    config = default_config()
    limit = TINY_SHAPE["max_position_embeddings"]
    config["benchmark"]["paired"] = {"token_configs": ["12x32"], "batch_sizes": [1, 4]}
    check_config(config, resources=tmp_path)
    config["benchmark"]["paired"]["token_configs"] = [f"{limit}x1"]
    assert (f"benchmark.paired.token_configs: {limit}x1 needs {limit + 1} positions"
            in problems(config, tmp_path))
    config["benchmark"]["paired"] = {"token_configs": ["12x32"], "batch_sizes": [1], "pairs": 1}
    assert "benchmark.paired.pairs" in problems(config, tmp_path)
    config["benchmark"]["paired"] = {"token_configs": ["12x32"], "batch": [1]}
    text = problems(config, tmp_path)
    assert "benchmark.paired" in text and "batch_sizes" in text
    off = tmp_path / "off.yaml"
    off.write_text("benchmark:\n  paired: null\n")
    on = tmp_path / "on.yaml"
    on.write_text(yaml.safe_dump({"benchmark": {"paired": {"token_configs": ["12x32"],
                                                           "batch_sizes": [1]}}}))
    stacked = drop_switched_off(load_config_files([DEFAULT, on, off]))
    assert "paired" not in stacked["benchmark"]
    check_config(stacked, resources=tmp_path)


def test_a_variant_its_method_cannot_make_of_a_known_model_is_refused_at_start(tmp_path):
    """From the model's config alone (methods.sizing), as the prune job checks it only after
    the jobs before it: protection that leaves no block, a depth target closer to the dense
    model than to one block less, a fixed LLM-Pruner ratio that misses the variant's size."""
    config = default_config(r7={"source": "random:llama-7b", "variants": [
        "dense", "depth_ppl-0.8",
        {"name": "depth_taylor-0.8", "params": {"protect_first": 29, "protect_last": 3}},
        "depth_ppl-6.7B",
        {"name": "llm_pruner-0.9", "params": {"ratio": 0.35}}]})
    text = problems(config, tmp_path)
    assert ("model r7, variant depth_taylor-0.8: protect_first=29 and protect_last=3 leave no "
            "removable block out of 32") in text
    assert "model r7, variant depth_ppl-6.7B: target 6,700,000,000 params is closer to the " \
           "dense model than to removing one block" in text
    assert "model r7, variant llm_pruner-0.9: llm_pruner: ratio 0.35 keeps" in text
    assert "variant depth_ppl-0.8" not in text
    config["models"]["r7"]["variants"] = ["dense", "depth_ppl-0.8", "llm_pruner-0.8"]
    check_config(config, resources=tmp_path)  # all can be made
    # A value the registry refuses is said once, by the parameter check.
    config["models"]["r7"]["variants"].append(
        {"name": "depth_taylor-0.7", "params": {"protect_first": -1}})
    assert problems(config, tmp_path).count("protect_first") == 1


def schema_filled(config: dict) -> dict:
    """`config` with the schema's defaults filled in, as the workflow validates it."""
    from snakemake.utils import validate

    from prunebench.plan.config_files import SCHEMA

    validate(config, str(SCHEMA))
    return config


@pytest.mark.parametrize("files", SHIPPED, ids=lambda f: "+".join(f))
def test_a_shipped_configs_benchmark_params_are_its_timing_settings_as_given(files):
    """The caps of adaptive repeats are written as one value where they are off: a shipped
    config's params must come out as before (the config's values), or every finished benchmark
    cell of a run made with it would rerun."""
    from prunebench.plan import variants

    config = schema_filled(load_config_files([REPO / "config" / f for f in files]))
    bench = config["benchmark"]
    for backend in ("hf", "compiled"):
        settings = variants.bench_settings(config, backend)
        assert {k: settings[k] for k in ("repeats", "max_repeats", "max_seconds", "ci_target")} \
            == {k: bench[k] for k in ("repeats", "max_repeats", "max_seconds", "ci_target")}


def test_the_caps_of_adaptive_repeats_switched_off_rerun_no_benchmark():
    """With max_repeats at most repeats, a sweep takes exactly `repeats` timed runs whatever the
    caps say: changing them must not change a benchmark job's params (Snakemake reruns on
    those). Switched on, they shape every row, as ci_target (the unstable flag's bound) does
    either way."""
    from prunebench.plan import variants

    def settings(backend="hf", **timing):
        config = schema_filled(default_config())
        config["benchmark"].update(timing)
        return variants.bench_settings(config, backend)

    off = settings(repeats=20, max_repeats=20)
    for backend in ("hf", "compiled"):
        assert settings(backend, repeats=20, max_repeats=5, max_seconds=600) == \
            settings(backend, repeats=20, max_repeats=20)
    assert off["max_repeats"] == 20
    assert settings(repeats=20, max_repeats=20, ci_target=0.1) != off
    on = settings(repeats=3, max_repeats=10)
    assert settings(repeats=3, max_repeats=10, max_seconds=600) != on
    assert settings(repeats=3, max_repeats=20) != on


@pytest.mark.parametrize("calibration, said", [
    ({"source": "embedded", "sampling": "randomm"}, "calibration.sampling: 'randomm' is not one"),
    ({"source": "embedded", "n": "10"}, "calibration.n: '10' is text, not a whole number"),
    ("embedded", "calibration: 'embedded' is not of type 'object'")])
def test_a_variants_calibration_is_not_explained_as_a_variant_name(calibration, said):
    """A text value inside a variant's calibration used to be told it must be 'dense' or
    '<method>-<size>', as if it were the variant's name."""
    variant = {"name": "flap-0.8", "calibration": calibration}
    text = problems(default_config(tiny={"source": "tiny", "variants": ["dense", variant]}))
    assert said in text
    assert "must be 'dense' or '<method>-<size>'" not in text


@pytest.mark.parametrize("item", [["dense"], ["ab", "cd"], 1, 0.8, None])
def test_a_list_or_number_among_the_variants_is_told_what_a_variant_is(item):
    """`variants: [[dense]]` stopped the checks with a ValueError from dict(); `[1]` was told
    'expected a mapping', though a variant is a name or a mapping."""
    text = problems(default_config(tiny={"source": "tiny", "variants": [item, "dense"]}))
    assert f"models.tiny.variants.0: {item!r} is not a variant: write a variant's name" in text
    assert "expected a mapping" not in text


def test_a_number_snakemakes_config_option_made_text_is_told_to_go_in_a_file():
    """`snakemake --config 'benchmark={batch_sizes: [4, 8]}'`: Snakemake reads numbers inside a
    mapping or list as text, and the user, who wrote 4, was told "'4' is text ...: write 4"."""
    from snakemake.cli import parse_config
    from snakemake.utils import update_config

    words = ["benchmark={batch_sizes: [4, 8]}", "lora={lr: 2.0e-3}"]
    config = default_config()
    update_config(config, parse_config(words))
    assert config["benchmark"]["batch_sizes"] == ["4", "8"]  # Snakemake's reading
    with pytest.raises(PrunebenchError) as err:
        check_config(config, resources=NOWHERE, files=[DEFAULT], set_on_command_line=words)
    text = str(err.value)
    assert "benchmark.batch_sizes.0: '4' is text: Snakemake's --config reads every number " \
           "inside a mapping or list as text; set this key in a config file stacked last " \
           "instead" in text
    assert "lora.lr: '2.0e-3' is text: Snakemake's --config" in text
    assert "write 4" not in text and "e-notation" not in text


@pytest.mark.parametrize("section", [("lora",), ("evaluation", "perplexity"),
                                     ("methods", "depth_ppl")])
def test_a_section_set_to_null_is_told_what_null_does(section):
    """`lora:` left empty, or `perplexity: null` written as `zeroshot: null` switches zero-shot
    off, read "None is not of type 'object'": nothing said what to write instead."""
    config = default_config()
    parent = config
    for key in section[:-1]:
        parent = parent.setdefault(key, {})
    parent[section[-1]] = None
    text = problems(config)
    assert f"{'.'.join(section)}: nothing (null) where a mapping of settings belongs: write the " \
           "settings under it, or leave the key out (null switches off only " \
           "evaluation.zeroshot and benchmark.paired" in text
    assert "is not of type" not in text


def test_a_fraction_that_keeps_no_parameter_of_the_untrained_tiny_model_is_refused():
    """depth_ppl-0.0000000001 of the tiny model passed the start (a count of 0 parameters,
    which the checks of a known model refuse) and stopped its prune job."""
    text = problems(default_config(tiny={"source": "tiny",
                                         "variants": ["dense", "depth_ppl-0.0000000001"]}))
    assert "model tiny, variant depth_ppl-0.0000000001: target size '0.0000000001' keeps no " \
           "parameter of the tiny model" in text


@pytest.mark.parametrize("section, key", [("lora", "lr"), ("benchmark", "max_seconds")])
def test_a_nan_is_refused_where_a_number_belongs(section, key):
    """`lr: .nan` passed every bound of the schema (NaN compares false with all of them) and the
    recovery trained on it."""
    config = default_config()
    config.setdefault(section, {})[key] = float("nan")
    assert f"{section}.{key}: nan (YAML's .nan) is not a number that any bound can hold: " \
           "write a number" in problems(config)


def test_a_file_as_a_calibration_source_or_dataset_is_said_once_with_the_texts_fix():
    """`calibration: {source: "file:x"}` was said twice, by the schema's pattern and by the
    check of the texts a config names, neither telling that a config names a file through
    `texts` (file:<path> is what `prunebench prune --calibration` takes)."""
    config = default_config()
    config["methods"]["flap"] = {"calibration": {"source": "file:x.txt"}}
    config["models"]["tiny"]["variants"].append(
        {"name": "depth_ppl-0.5", "calibration": {"source": "file:y.txt"}})
    config["evaluation"]["perplexity"]["datasets"] = ["embedded", "file:z.txt"]
    lines = problems(config).splitlines()[1:]
    said = "is the form `prunebench prune --calibration` and `prunebench eval --ppl` take"
    assert len(lines) == 3, lines
    for value, fix in (("file:x.txt", "{train: x.txt}"), ("file:y.txt", "{train: y.txt}"),
                       ("file:z.txt", "{test: z.txt}")):
        [line] = [line for line in lines if repr(value) in line]
        assert said in line and f"add texts: {{mine: {fix}}} and write mine here" in line
    # a name of the right spelling that names no text is still said by the texts' check, once
    config = default_config()
    config["methods"]["flap"] = {"calibration": {"source": "mytext"}}
    [line] = problems(config).splitlines()[1:]
    assert "'mytext' is no built-in text" in line


def test_lora_settings_whose_one_step_learns_nothing_are_refused_at_start():
    """Records that fill at most one batch in one epoch make one optimizer step, whose
    learning rate a warm-up sets to 0: the recovery kept the base model (step 0) unsaid."""
    config = default_config()
    config["lora"].update(epochs=1, batch_size=16, warmup_steps=2)
    config["lora"]["data"]["max_train"] = 16
    text = problems(config)
    assert ("16 training record(s) fill one batch of lora.batch_size=16 in lora.epochs=1, one "
            "optimizer step, and lora.warmup_steps=2 starts its learning rate at 0: nothing "
            "would train") in text
    assert "raise lora.data.max_train" in text
    for fixed in ({"warmup_steps": 0}, {"epochs": 2}, {"data": {**config["lora"]["data"],
                                                                "max_train": 17}}):
        config_fixed = copy.deepcopy(config)
        config_fixed["lora"].update(fixed)
        check_config(config_fixed, resources=NOWHERE)


@pytest.mark.parametrize("revision", ["<commit>", "<revision>", "my commit", "main~1", "v1..v2",
                                      "HEAD^", "refs/pr/", ".hidden", "x.lock", "@", "a@{1}"])
def test_a_revision_no_branch_tag_or_commit_can_be_is_refused(revision):
    """A hub source copied from the docs with its placeholder (`@<commit>`) used to pass the
    config checks with a note that it names no commit, and fail at download. (The checks
    refuse it through parse_source; a space the schema's pattern refuses before.)"""
    from prunebench.hub import parse_source

    with pytest.raises(PrunebenchError) as err:
        parse_source(f"hf:google/gemma-2-9b@{revision}")
    assert (f"model source 'hf:google/gemma-2-9b@{revision}': {revision!r} after '@' is no "
            f"commit, branch or tag") in str(err.value)
    if " " not in revision:
        assert (f"models.m.source: model source 'hf:google/gemma-2-9b@{revision}'"
                in problems(default_config(m={"source": f"hf:google/gemma-2-9b@{revision}",
                                              "variants": ["dense"]})))


@pytest.mark.parametrize("revision", ["4782ad278652c7c71b72204d462d6d01eaaf7549", "4782ad2",
                                      "main", "v1.0", "refs/pr/3", "release-2024_1"])
def test_a_commit_branch_or_tag_passes(revision):
    check_config(default_config(m={"source": f"hf:google/gemma-2-9b@{revision}",
                                   "variants": ["dense"]}), resources=NOWHERE)


def test_check_config_refuses_a_placeholder_revision_and_notes_a_source_without_one(
        tmp_path, capsys):
    from prunebench.cli import main

    mine = tmp_path / "mine.yaml"
    mine.write_text("models:\n  gemma:\n    source: hf:google/gemma-2-9b@<commit>\n"
                    "    variants: [dense]\n")
    assert main(["check-config", str(DEFAULT), str(mine), "--resources", NOWHERE]) == 2
    err = capsys.readouterr().err
    assert "'<commit>' after '@' is no commit, branch or tag" in err
    assert "put in its place the commit the model was measured at" in err
    assert "or drop '@<commit>' to download the newest commit" in err
    mine.write_text(mine.read_text().replace("@<commit>", ""))
    assert main(["check-config", str(DEFAULT), str(mine), "--resources", NOWHERE]) == 0
    assert ("note: models.gemma.source hf:google/gemma-2-9b names no commit"
            in capsys.readouterr().out)
