"""EXAONE (exaone: LG's EXAONE 3.0 / 3.5 / Deep) and InternLM3 (internlm3: internlm3-8b), two
families whose config classes came after prunebench's floor (Family.min_transformers:
ExaoneConfig with transformers 5.24, InternLM3Config with 5.23), both built by transformers as
LlamaForCausalLM.

On a transformers older than that (make test-floor's 5.17; on a newer one the release is
faked): their config.json is read, counted and planned without a transformers class, and
everything that builds the model is refused before it loads, naming the family, the installed
and the needed release and the upgrade (the class lookups, the commands' MODEL, the start's
checks); their config.json's own keys (EXAONE's num_layers / layer_norm_epsilon /
activation_function, InternLM3's qkv_bias / bias and its head_dim of 128 where left out) read
as their classes read them, and InternLM3's qkv_bias differing from bias refused when read.

Where the classes exist (skipped below with the refusal's reason): counts against
transformers' models over biases and tying; prunebench's model computing transformers'
logits; EXAONE's published tensor names (transformer.h.N.attn.attention.q_proj, ..., as
transformers 5.24+ saves them too) loaded as transformers loads them, and refused without the
renaming; depth pruning equal to transformers' model of the kept blocks, reloaded by
prunebench and transformers with the hf backends decoding as generate; head and MLP channel
removal equal to transformers' model of those widths; the compiled decoder on width-pruned
models, fused and not, and as generate; InternLM3's published dynamic rotary scaling run by
the compiled decoder within its context and refused past it. tests/test_families.py runs the
shared per-family tests on both too (every method, save and reload, every backend, evaluation,
LoRA)."""

from __future__ import annotations

import itertools
import json
import re

import pytest
import torch
import transformers
from transformers import AutoModelForCausalLM

from prunebench import FamilyUnsupported, PrunebenchError
from prunebench.checkpoint import param_count
from prunebench.checkpoint.param_count import (checked_config_json, config_from_dict,
                                               head_dim, transformers_release_problem)
from prunebench.modeling import count_params, count_params_meta, load_config, load_model
from test_cohere import decoder_gives_transformers_logits, decodes_as_generate_does, width_pruned
from block_helpers import prune_every_block_uniformly, sliced_state
from test_families import family_config, family_model, ids, logits, numel
from test_gpt_neox import without_blocks_1_and_2_is

pytestmark = pytest.mark.usefixtures("one_thread")

NAMES = ["exaone", "internlm3"]
NEEDED = {"exaone": "5.24.0", "internlm3": "5.23.0"}

# EXAONE-3.0-7.8B-Instruct's config.json (its keys as transformers 4.45 printed the loaded
# config in a public model card's notes: the published file's own keys), and internlm3-8b's
# (as a public Swift loader's test quotes "the real config.json"; a Rust port's test of the
# same keys from mlx-community's 4-bit copy agrees). Their code's auto_map left out.
EXAONE_3_0_7_8B = {
    "activation_function": "silu", "architectures": ["ExaoneForCausalLM"],
    "attention_dropout": 0.0, "bos_token_id": 1, "embed_dropout": 0.0, "eos_token_id": 361,
    "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
    "layer_norm_epsilon": 1e-05, "max_position_embeddings": 4096, "model_type": "exaone",
    "num_attention_heads": 32, "num_key_value_heads": 8, "num_layers": 32, "pad_token_id": 0,
    "rope_scaling": None, "rope_theta": 500000.0, "tie_word_embeddings": False,
    "torch_dtype": "bfloat16", "use_cache": True, "vocab_size": 102400}
INTERNLM3_8B = {
    "architectures": ["InternLM3ForCausalLM"], "bias": False, "head_dim": 128,
    "hidden_size": 4096, "intermediate_size": 10240, "max_position_embeddings": 32768,
    "model_type": "internlm3", "num_attention_heads": 32, "num_hidden_layers": 48,
    "num_key_value_heads": 2, "qkv_bias": False, "rms_norm_eps": 1e-05,
    "rope_scaling": {"factor": 6.0, "rope_type": "dynamic"}, "rope_theta": 50000000,
    "tie_word_embeddings": False, "vocab_size": 128512}


def needs(name: str) -> None:
    """Skip where this transformers predates the family (the refusal's own words as the
    reason); tests/test_families.newer_config does so for the tiny configs."""
    if problem := transformers_release_problem(name):
        pytest.skip(problem)


def small(name: str, **kw):
    """The family tests' tiny config of `name`, with `kw` changed."""
    needs(name)
    return family_config(name, **kw)


def write(folder, values):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(values))
    return folder


def tiny_json(name: str) -> dict:
    """A tiny config.json of the family in its published keys (no transformers class)."""
    shape = dict(hidden_size=64, intermediate_size=128, num_attention_heads=4,
                 num_key_value_heads=2, vocab_size=128, max_position_embeddings=256)
    if name == "exaone":
        return {"model_type": "exaone", **shape, "num_layers": 3, "layer_norm_epsilon": 1e-6,
                "activation_function": "silu"}
    return {"model_type": "internlm3", **shape, "num_hidden_layers": 3, "head_dim": 16,
            "qkv_bias": True, "bias": True}


# ------------------------------------------------------------------ the release they need

@pytest.mark.parametrize("name", NAMES)
def test_an_older_transformers_is_refused_before_the_model_loads_naming_the_upgrade(
        name, tmp_path, monkeypatch):
    """On a transformers older than the family's first release (make test-floor's 5.17
    really; else faked by the installed version prunebench reads): every way to build the
    model is refused with the family, both releases and the upgrade, and nothing else of the
    file is read as another family's. The boundary is the first release itself."""
    check_refused_below_its_release(name, NEEDED[name], tiny_json(name), tmp_path, monkeypatch)


def check_refused_below_its_release(name: str, needed: str, raw: dict, tmp_path,
                                    monkeypatch) -> None:
    """The family `name` (first release `needed`; `raw` a tiny config.json of it) refused on
    an older transformers by every way to build it, counted all the same
    (tests/test_flint_kolibri1_minicpm5_moe.py's families too)."""
    from prunebench.commands.model_source import resolve_model
    from prunebench.modeling import build_model, config_class
    from prunebench.plan.checks import transformers_release_problems

    installed = param_count.installed_transformers()
    if transformers_release_problem(name) is None:  # (a release that has the class: fake)
        installed = "5.17.0"
        for namespace in (param_count, param_count.releases, param_count.prune_rules):
            monkeypatch.setattr(namespace, "installed_transformers", lambda: installed)
    words = (rf"model_type '{name}' needs transformers {re.escape(needed)} or newer .*"
             rf"this environment has transformers {re.escape(installed)}: upgrade it "
             rf"\(`pip install -U \"transformers>={re.escape(needed)}\"`\)")
    folder = write(tmp_path / "model", raw)
    for builds in (lambda: config_class(name), lambda: load_config(folder),
                   lambda: load_model(folder), lambda: resolve_model(str(folder))):
        with pytest.raises(FamilyUnsupported, match=words):
            builds()
    # the start's check: a workflow model of the family, its config.json known here
    config = {"models": {"m": {"source": f"local:{folder}", "variants": ["dense"]}}}
    assert [re.sub(words, "", p) for p in transformers_release_problems(config)] != []
    assert all(re.search(words, p) for p in transformers_release_problems(config))
    cls = getattr(transformers, param_count.FAMILIES[name].config_class, None)
    if cls is not None:  # (a release faked older: a config built by its class refused too)
        with pytest.raises(FamilyUnsupported, match=words):
            build_model(cls(**{k: v for k, v in raw.items() if k != "model_type"}))
    # Reading and counting need no class: the same config.json counted as by hand below.
    assert count_params(config_from_dict(checked_config_json(folder))) > 0
    # the first release itself builds it, the one before does not
    major, minor, _ = needed.split(".")
    for namespace in (param_count, param_count.releases, param_count.prune_rules):
        monkeypatch.setattr(namespace, "installed_transformers", lambda: needed)
    assert transformers_release_problem(name) is None
    for namespace in (param_count, param_count.releases, param_count.prune_rules):
        monkeypatch.setattr(namespace, "installed_transformers",
                            lambda: f"{major}.{int(minor) - 1}.9")
    assert transformers_release_problem(name) is not None
    assert transformers_release_problem("llama") is None  # (a floor family: never)


def test_the_first_releases_are_those_whose_classes_the_installed_transformers_has():
    """Family.min_transformers against the installed transformers: a release at or past it
    holds the class, an older one (the floor's 5.17) holds none, so the refusal is neither
    too early nor too late here."""
    for name in NAMES:
        has = hasattr(transformers, param_count.FAMILIES[name].config_class)
        assert has == (transformers_release_problem(name) is None), name


# ------------------------------------------------------- config.json read without a class

def test_exaones_own_config_keys_are_read_as_exaoneconfig_reads_them():
    """EXAONE's config.json names its blocks num_layers, its norm's epsilon
    layer_norm_epsilon (ExaoneConfig's attribute_map): counted from the file alone, 32 blocks
    of EXAONE-3.0-7.8B, not LLaMA's default read past them; by hand: 7,818,448,896."""
    config = config_from_dict(EXAONE_3_0_7_8B)
    assert config.num_hidden_layers == 32 and config.rms_norm_eps == 1e-05
    d, v, m = 4096, 102400, 14336
    block = 2 * d * d + 2 * d * 1024 + 3 * d * m + 2 * d
    assert count_params(config) == 2 * v * d + 32 * block + d == 7_818_448_896
    three = config_from_dict(tiny_json("exaone"))
    assert three.num_hidden_layers == 3 and three.hidden_act == "silu"
    assert three.rms_norm_eps == 1e-6
    # the keys matter: read as LLaMA's, the file gives the family's default 32 blocks
    llamas = config_from_dict({**tiny_json("exaone"), "model_type": "llama"})
    assert llamas.num_hidden_layers == 32


def test_internlm3s_own_config_keys_and_head_dim_are_read_as_internlm3config_reads_them():
    """InternLM3's config.json biases q/k/v by qkv_bias and o_proj and the MLP by bias
    (InternLM3Config's attribute_map onto attention_bias / mlp_bias), and its head_dim is 128
    where left out, whatever hidden / heads: internlm3-8b counted from its file by hand
    (8,804,241,408), and a file without head_dim sized by 128-wide heads."""
    config = config_from_dict(INTERNLM3_8B)
    d, v, m = 4096, 128512, 10240
    block = 2 * d * d + 2 * d * 256 + 3 * d * m + 2 * d
    assert count_params(config) == 2 * v * d + 48 * block + d == 8_804_241_408
    biased = config_from_dict(tiny_json("internlm3"))
    assert param_count.qkv_bias(biased) and param_count.o_bias(biased)
    assert param_count.mlp_bias(biased)
    unbiased = config_from_dict({**tiny_json("internlm3"), "qkv_bias": False, "bias": False})
    assert count_params(biased) - count_params(unbiased) == 3 * (
        4 * 16 + 2 * 2 * 16 + 64 + 2 * 128 + 64)
    left_out = {k: v for k, v in tiny_json("internlm3").items() if k != "head_dim"}
    assert head_dim(config_from_dict(left_out)) == 128  # not 64 / 4
    assert head_dim(config_from_dict({**left_out, "model_type": "llama"})) == 16


@pytest.mark.parametrize("qkv_bias, bias", [(True, False), (False, True)])
def test_internlm3_biases_that_differ_are_refused_when_read(qkv_bias, bias, tmp_path):
    """InternLM3's own code biases q/k/v and o_proj / the MLP by two keys, transformers' Llama
    class by one for all four attention projections: a config.json giving them differing is
    refused when read (no class needed), as InternLM3Config refuses it where it exists."""
    folder = write(tmp_path, {**tiny_json("internlm3"), "qkv_bias": qkv_bias, "bias": bias})
    with pytest.raises(PrunebenchError, match=f"qkv_bias={qkv_bias} but bias={bias}.*"
                       "one bias switch for q, k, v and o_proj"):
        checked_config_json(folder)
    if transformers_release_problem("internlm3") is None:
        with pytest.raises(Exception, match="qkv_bias` different from `bias"):
            transformers.InternLM3Config(qkv_bias=qkv_bias, bias=bias)


# ------------------------------------------------------------ against transformers' classes

@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bias,tied", list(itertools.product([False, True], repeat=2)))
def test_counts_equal_transformers_parameters(name, bias, tied):
    """Biases on the four attention projections and the MLP (EXAONE's attention_bias and
    mlp_bias, InternLM3's qkv_bias and bias, which must agree), tied or not: transformers'
    model (the class its auto mapping builds), the meta count, the closed form and
    config.json's values alone agree."""
    keys = ({"qkv_bias": bias, "bias": bias} if name == "internlm3"
            else {"attention_bias": bias, "mlp_bias": bias})
    config = small(name, tie_word_embeddings=tied, **keys)
    model = AutoModelForCausalLM.from_config(config)
    assert type(model).__name__ == "LlamaForCausalLM"
    layer = model.model.layers[0]
    assert (layer.self_attn.o_proj.bias is not None) == bias
    assert (layer.mlp.down_proj.bias is not None) == bias
    assert count_params(config) == count_params_meta(config) == numel(model)
    assert count_params(config_from_dict(json.loads(config.to_json_string()))) == numel(model)


@pytest.mark.parametrize("name", NAMES)
def test_prunebenchs_model_is_transformers_model(name):
    """The family tests' model (built by prunebench, random biases and norms) computes what
    transformers' own class for the family computes with its weights."""
    model = family_model(name)
    theirs = AutoModelForCausalLM.from_config(model.config).eval()
    theirs.load_state_dict(model.state_dict())
    x = ids()
    torch.testing.assert_close(logits(model, x), logits(theirs, x), rtol=0, atol=1e-5)


def test_exaones_published_tensor_names_load_as_transformers_loads_them(tmp_path, monkeypatch):
    """transformers saves an EXAONE model under its published names (transformer.wte,
    transformer.h.N.attn.attention.q_proj / out_proj, ln_1 / ln_2, mlp.c_fc_0 / c_fc_1 /
    c_proj, transformer.ln_f), as LG's checkpoints hold them: prunebench loads such a folder
    to transformers' logits, and prunebench's own save (LLaMA's names) loads in transformers
    to the same. Without the renaming the published folder is refused (its names matter)."""
    from safetensors import safe_open

    from prunebench import modeling

    model = family_model("exaone")
    published = tmp_path / "published"
    model.save_pretrained(published)
    with safe_open(str(published / "model.safetensors"), "pt") as f:
        names = set(f.keys())
    assert "transformer.h.0.attn.attention.out_proj.weight" in names
    assert "transformer.h.3.mlp.c_fc_1.weight" in names and "transformer.ln_f.weight" in names
    assert not any(n.startswith("model.") for n in names)
    x = ids()
    expected = logits(model, x)
    torch.testing.assert_close(logits(load_model(published, verify=False), x), expected,
                               rtol=0, atol=1e-5)
    ours = tmp_path / "ours"
    modeling.save_model(model, None, ours)
    theirs = AutoModelForCausalLM.from_pretrained(ours, dtype=torch.float32).eval()
    torch.testing.assert_close(logits(theirs, x), expected, rtol=0, atol=1e-5)
    monkeypatch.delitem(modeling.LOADED_PREFIXES, "exaone")
    monkeypatch.delitem(modeling.LOADED_NAMES, "exaone")
    with pytest.raises(PrunebenchError, match="weights do not match config.json"):
        load_model(published, verify=False)


@pytest.mark.parametrize("name", NAMES)
def test_the_published_config_json_builds_transformers_model(name, tmp_path):
    """The published config.json (EXAONE-3.0-7.8B's, internlm3-8b's; their own keys, the code
    their auto_map names set aside) read by prunebench gives transformers' config of the
    same file, counted alike."""
    needs(name)
    values = EXAONE_3_0_7_8B if name == "exaone" else INTERNLM3_8B
    own_class = "ExaoneForCausalLM" if name == "exaone" else "InternLM3ForCausalLM"
    mapped = {**values, "auto_map": {
        "AutoConfig": f"configuration_{name}.{param_count.FAMILIES[name].config_class}",
        "AutoModelForCausalLM": f"modeling_{name}.{own_class}"}}
    read_as_its_class_reads_it(write(tmp_path, mapped), values)


def read_as_its_class_reads_it(folder, values: dict):
    """prunebench's config of the config.json in `folder` (its file's `values`) as the
    family's transformers class reads the same file, counted alike; returns it (also
    IQuest-Coder's: tests/test_iquestcoder_gpt_sw3.py)."""
    ours = load_config(folder)
    theirs = type(ours).from_pretrained(folder)
    for key in ("num_hidden_layers", "hidden_size", "num_key_value_heads", "head_dim",
                "rms_norm_eps", "attention_bias", "mlp_bias", "intermediate_size"):
        assert getattr(ours, key) == getattr(theirs, key), key
    assert count_params(ours) == count_params(config_from_dict(values))
    assert count_params(ours) == count_params_meta(ours)
    return ours


@pytest.mark.parametrize("name", NAMES)
def test_depth_pruning_is_transformers_model_of_the_kept_blocks(name, tmp_path):
    """Blocks 1 and 2 removed: transformers' model of two blocks, given blocks 0 and 3,
    computes the same logits; saved, it reloads by prunebench and by transformers' class and
    both hf backends decode as transformers' generate."""
    without_blocks_1_and_2_is(family_model(name), "model.layers",
                              AutoModelForCausalLM.from_config(small(name, num_hidden_layers=2)),
                              tmp_path)


@pytest.mark.parametrize("name", NAMES)
def test_a_uniformly_width_pruned_model_is_transformers_model_of_its_widths(name):
    """Every block loses KV group 0 (query heads 0 and 1) and MLP channels 3..34: prunebench's
    model computes what transformers' model of 2 query heads on 1 KV head (head_dim kept) and
    96 channels computes given the rows the test keeps itself (q/k/v's with InternLM3's biases,
    o_proj's columns, gate / up rows and down columns of the kept channels)."""
    model = family_model(name)
    original, q_rows, kv_rows, keep = prune_every_block_uniformly(model, list(range(3, 35)), 16)
    state = sliced_state(original, rows={"q_proj": q_rows, "k_proj": kv_rows, "v_proj": kv_rows,
                                         "gate_proj": keep, "up_proj": keep},
                         columns={"o_proj": q_rows, "down_proj": keep})
    reference = AutoModelForCausalLM.from_config(small(
        name, num_attention_heads=2, num_key_value_heads=1, head_dim=16,
        intermediate_size=96)).eval()
    reference.load_state_dict(state)
    x = ids()
    torch.testing.assert_close(logits(model, x), logits(reference, x), rtol=0, atol=1e-5)
    assert numel(model) == numel(reference) == count_params(model.config)
    assert (logits(model, x) - logits(family_model(name), x)).abs().max() > 1e-3


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("fuse", [True, False])
def test_the_compiled_decoder_gives_transformers_logits_for_a_width_pruned_model(name, fuse):
    decoder_gives_transformers_logits(width_pruned(family_model(name)), fuse)


@pytest.mark.parametrize("name", NAMES)
def test_the_compiled_decoder_decodes_a_width_pruned_model_as_generate_does(name):
    decodes_as_generate_does(width_pruned(family_model(name)))


def test_internlm3s_published_dynamic_rotary_scaling_runs_within_its_context_only_in_the_decoder():
    """internlm3-8b rotates with dynamic NTK scaling (factor 6), whose tables change past its
    context: the compiled decoder gives transformers' logits within it and refuses a length
    past it naming the hf backend, whose two runners decode it as transformers' generate."""
    from prunebench.benchmark.compiled import StaticDecoder
    from prunebench.modeling import build_model
    from test_qwen3_next import check_hf_backends_decode_as_transformers

    needs("internlm3")
    values = {k: v for k, v in tiny_json("internlm3").items() if k != "model_type"}
    config = transformers.InternLM3Config(**{**values, "max_position_embeddings": 16},
                                          rope_scaling={"rope_type": "dynamic", "factor": 6.0},
                                          initializer_range=0.3, bos_token_id=1,
                                          eos_token_id=2, pad_token_id=0)
    torch.manual_seed(0)
    model = build_model(config, device="cpu").eval()
    decoder_gives_transformers_logits(model)  # (9 + 7 positions: within the 16)
    with pytest.raises(PrunebenchError, match="rope_type 'dynamic'.*past 16 tokens.*hf backend"):
        StaticDecoder(model, 1, 20, mode="eager")
    theirs = AutoModelForCausalLM.from_config(config).eval()
    theirs.load_state_dict(model.state_dict())
    check_hf_backends_decode_as_transformers(model, theirs)
