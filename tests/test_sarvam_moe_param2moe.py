"""Sarvam-MoE (sarvam_moe: sarvamai/sarvam-30b) and Param2-MoE (param2moe: BharatGen's
Param2-17B-A2.4B), two mixtures of experts transformers builds as Glm4MoeForCausalLM from
config classes newer than prunebench's floor (Family.min_transformers: SarvamMoEConfig with
transformers 5.24, Param2MoeConfig with 5.25): depth pruning and the hf / hf_static backends,
as every mixture of experts.

On a transformers older than that (make test-floor's 5.17; on a newer one the release is
faked): their config.json is read, counted and planned without a transformers class, and
everything that builds the model is refused before it loads, naming the release to install;
their own code's keys that the Glm4Moe class does not build refused when read.

Where the classes exist (skipped below with the refusal's reason): counts against
transformers' meta models from config.json's own key names (num_experts, num_shared_experts,
use_qkv_bias) and by hand; depth pruning equal to transformers' model of the kept blocks; a
depth-pruned save reloaded by prunebench and by transformers, the hf and hf_static tokens
transformers' generate's; a checkpoint in the published layout (per-expert tensors, the own
code's names, each block's fused query_key_value) imported to the logits transformers'
conversion loads it to (a multi-token-prediction layer after the blocks dropped), a router
without score biases imported as zeros, a fused projection
of the wrong rows refused; the whole heads' rotation shown to matter; the width methods' and
the compiled decoder's refusals. tests/test_families.py runs the shared per-family tests on
them (the depth methods, save and reload, the hf backends, evaluation)."""

from __future__ import annotations


import pytest
import torch
import transformers

from prunebench import PrunebenchError
from prunebench.checkpoint import moe_fuse
from prunebench.checkpoint.param_count import (block_param_count, checked_config_json,
                                               config_from_dict, count_params, layer_shapes,
                                               transformers_release_problem)
from test_afmoe_laguna_mellum import check_published_import
from test_exaone_internlm3 import check_refused_below_its_release, write
from test_families import FAMILIES, family_model, ids, logits
from test_families import tokenizer  # noqa: F401 - a fixture
from test_glm4_moe import check_refused_as_a_mixture_of_experts, with_mtp_layer
from test_helium_vaultgemma_granitemoeshared import SHAPE, check_counts, check_depth_pruning
from test_moe import per_expert_state
from test_qwen3_next import check_a_depth_pruned_reload_decodes_as_transformers

pytestmark = pytest.mark.usefixtures("one_thread")

NAMES = ["sarvam_moe", "param2moe"]
NEEDED = {"sarvam_moe": "5.24.0", "param2moe": "5.25.0"}
# Their own code's config.json names (the classes' attribute_map: n_routed_experts,
# n_shared_experts, attention_bias).
OWN_KEYS = dict(moe_intermediate_size=24, num_experts=4, num_shared_experts=2,
                num_experts_per_tok=2, first_k_dense_replace=1)


def needs(name: str) -> None:
    """Skip where this transformers predates the family (the refusal's words as the reason)."""
    if problem := transformers_release_problem(name):
        pytest.skip(problem)


def tiny_json(name: str, **changes) -> dict:
    """A tiny config.json of the family under its own code's key names, read without any
    transformers class."""
    return {**SHAPE, "model_type": name, **OWN_KEYS, **changes}


# ------------------------------------------------------------------ the release they need

@pytest.mark.parametrize("name", NAMES)
def test_an_older_transformers_is_refused_before_the_model_loads_naming_the_upgrade(
        name, tmp_path, monkeypatch):
    """Below the family's first release (5.17 really; else faked): every way to build the
    model refused naming both releases and the upgrade, the config.json counted all the same;
    the first release itself the boundary."""
    check_refused_below_its_release(name, NEEDED[name], tiny_json(name), tmp_path, monkeypatch)


def test_the_first_releases_are_those_whose_classes_the_installed_transformers_has():
    from prunebench.checkpoint.param_count import FAMILIES as REGISTRY

    for name in NAMES:
        family = REGISTRY[name]
        assert hasattr(transformers, family.model_class)  # (Glm4MoeForCausalLM: the floor's)
        assert hasattr(transformers, family.config_class) == (
            transformers_release_problem(name) is None), name
        assert family.min_transformers == NEEDED[name]


# ------------------------------------------------- their own code's keys, read without a class

@pytest.mark.parametrize("key, value", [("use_bias", True), ("use_rmsnorm", False),
                                        ("score_function", "softmax")])
@pytest.mark.parametrize("name", NAMES)
def test_own_code_keys_the_glm4_moe_class_does_not_build_are_refused_when_read(
        name, key, value, tmp_path):
    """Biases on the attention's output and the MLPs, LayerNorm, a softmax router: their own
    code computes them, transformers' Glm4Moe class builds none (it reads none of these
    keys), so such a config.json is refused, naming the key; the published values (false,
    true, sigmoid) and the keys left out are read."""
    with pytest.raises(PrunebenchError, match=f"{key}=.*Glm4Moe class"):
        checked_config_json(write(tmp_path / "other", tiny_json(name, **{key: value})))
    published = tiny_json(name, use_bias=False, use_rmsnorm=True, score_function="sigmoid",
                          moe_router_enable_expert_bias=False)
    assert count_params(config_from_dict(checked_config_json(write(tmp_path / "p",
                                                                    published)))) > 0


def test_param2s_own_code_named_in_auto_map_is_set_aside_and_other_code_refused(tmp_path):
    """The classes BharatGen's own code defines (Param2MoEConfig, Param2MoEForCausalLM and its
    base model Param2MoEModel, with a capital E; transformers' own are Param2Moe*), named in
    auto_map, are set aside and the file read; code of another name is refused."""
    own = {"AutoConfig": "configuration_param2moe.Param2MoEConfig",
           "AutoModel": "modeling_param2moe.Param2MoEModel",
           "AutoModelForCausalLM": "modeling_param2moe.Param2MoEForCausalLM"}
    assert checked_config_json(write(tmp_path / "own", tiny_json("param2moe", auto_map=own)))
    for other in ("modeling_param2moe.Param2MoeForCausalLM", "modeling_other.Param2MoEModel"):
        with pytest.raises(PrunebenchError, match="custom code"):
            checked_config_json(write(tmp_path / other, tiny_json(
                "param2moe", auto_map={**own, "AutoModelForCausalLM": other})))


# --------------------------------------------------------------------------- counts

@pytest.mark.parametrize("values", [
    {**OWN_KEYS},
    {**OWN_KEYS, "use_qkv_bias": True, "num_shared_experts": 1, "tie_word_embeddings": True},
    {**OWN_KEYS, "first_k_dense_replace": 2, "use_qk_norm": False,
     "tie_word_embeddings": False}])
@pytest.mark.parametrize("name", NAMES)
def test_counts_equal_transformers_parameters(name, values):
    """Under their own code's key names (as the classes' attribute_map reads them)."""
    needs(name)
    check_counts(name, values)


def test_the_blocks_counted_by_hand():
    """From config.json alone (hidden 48, 6 query and 2 KV heads of 8, q/k norms of 8, 4
    experts of 24): dense block 0 (an MLP of 56) and sparse blocks (a router, the experts and
    2 shared experts of 24 as one MLP of 48); Sarvam-MoE untied, Param2-MoE tied (its class's
    default, where config.json says nothing)."""
    d, q, kv = 48, 6 * 8, 2 * 8
    attention = d * q + 2 * d * kv + q * d + 2 * 8
    dense = attention + 3 * d * 56 + 2 * d
    sparse = attention + 4 * d + 4 * 3 * d * 24 + 3 * d * 48 + 2 * d
    for name, heads in (("sarvam_moe", 2), ("param2moe", 1)):
        config = config_from_dict(tiny_json(name))
        assert [block_param_count(config, s) for s in layer_shapes(config)] == [dense, sparse,
                                                                                 sparse]
        assert count_params(config) == heads * 97 * d + d + dense + 2 * sparse
    biased = config_from_dict(tiny_json("sarvam_moe", use_qkv_bias=True))
    assert block_param_count(biased, layer_shapes(biased)[0]) == dense + q + 2 * kv


# --------------------------------------------------------------------------- depth pruning

@pytest.mark.parametrize("drop", [[0], [1, 2], [3]])
@pytest.mark.parametrize("name", NAMES)
def test_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(name, drop):
    """The dense block 0 kept a prefix (first_k_dense_replace 1, or 0 once it goes)."""
    needs(name)
    check_depth_pruning(name, drop, first_k_dense_replace=0 if 0 in drop else 1)


@pytest.mark.parametrize("name", NAMES)
def test_a_depth_pruned_reload_decodes_as_transformers(name, tmp_path):
    """Saved with blocks 1 and 2 removed, loaded by prunebench and by transformers' class: the
    hf backend's tokens transformers' generate's, and hf_static's too."""
    needs(name)
    check_a_depth_pruned_reload_decodes_as_transformers(
        family_model(name), [1, 2], transformers.Glm4MoeForCausalLM, tmp_path / "pruned")


# --------------------------------------------------------------- published checkpoints

# The names their own code gives what Glm4MoeForCausalLM holds under others.
PUBLISHED_NAMES = (("model.embed_tokens.", "model.word_embeddings."),
                   (".self_attn.o_proj.", ".attention.dense."),
                   (".self_attn.q_norm.", ".attention.query_layernorm."),
                   (".self_attn.k_norm.", ".attention.key_layernorm."),
                   (".mlp.gate.e_score_correction_bias", ".mlp.gate.expert_bias"))


def published_state(model, name: str) -> dict[str, torch.Tensor]:
    """`model`'s weights as the family's own code holds them: one tensor per expert, its own
    names, and each block's q / k / v (weights and biases) as the rows [q; k; v] of one
    `attention.query_key_value`."""
    state = {}
    for key, tensor in per_expert_state(model, name).items():
        for held, published in PUBLISHED_NAMES:
            key = key.replace(held, published)
        state[key] = tensor
    for key in [k for k in state if ".self_attn.q_proj." in k]:
        parts = [state.pop(key.replace("q_proj", p)) for p in ("q_proj", "k_proj", "v_proj")]
        state[key.replace("self_attn.q_proj", "attention.query_key_value")] = torch.cat(parts)
    return state


@pytest.mark.parametrize("name", NAMES)
def test_a_published_checkpoint_imports_as_transformers_conversion_loads_it(
        name, tmp_path, tokenizer):  # noqa: F811 - the fixture
    """Per-expert tensors under the own code's names, q / k / v (biased) fused, and a
    multi-token-prediction layer after the blocks: transformers' conversion on loading (its
    Split by the targets' sizes; the layer left out), prunebench's one-time fusion on import
    (the layer dropped and recorded) and the model the weights came from compute the same
    logits; the score biases made to matter (transformers initialises them to 0)."""
    needs(name)
    model = family_model(name)
    with torch.no_grad():
        for layer in model.model.layers[1:]:
            layer.mlp.gate.e_score_correction_bias.normal_(0, 1)
    state = published_state(model, name)
    assert sum(".attention.query_key_value.bias" in k for k in state) == 4
    assert not any(".self_attn." in k or "embed_tokens" in k for k in state)
    n = model.config.num_hidden_layers
    state = with_mtp_layer(state, n, model.config.hidden_size)
    record = check_published_import(model, transformers.Glm4MoeForCausalLM, state, tmp_path,
                                    tokenizer)
    assert record["dropped_blocks"] == [f"model.layers.{n}"]
    assert "Glm4MoeForCausalLM does not build" in record["dropped_note"]
    # the renames are the family's alone: another model type keeps the published names
    assert moe_fuse.fused_name("model.word_embeddings.weight", "glm4_moe") == \
        "model.word_embeddings.weight"


def test_the_fused_projection_is_split_by_the_heads_rows(tmp_path):
    """Each row of the fused projection goes to the projection transformers' Split gives it:
    rows [q (6 heads x 8); k (2 x 8); v (2 x 8)], each marked with its index."""
    folder = tmp_path / "m"
    raw = tiny_json("sarvam_moe", num_hidden_layers=1, first_k_dense_replace=1)
    write(folder, raw)
    from safetensors.torch import load_file, save_file

    rows = torch.arange(80, dtype=torch.float32)[:, None].expand(80, 48).contiguous()
    save_file({"model.layers.0.attention.query_key_value.weight": rows},
              str(folder / "model.safetensors"))
    assert moe_fuse.qkv_rows(raw) == (48, 16, 16)
    moe_fuse._write_shard("model.layers.0", ["model.layers.0.attention.query_key_value.weight"],
                          {"model.layers.0.attention.query_key_value.weight":
                           folder / "model.safetensors"}, folder / "out.safetensors",
                          model_type="sarvam_moe", qkv=moe_fuse.qkv_rows(raw))
    out = load_file(str(folder / "out.safetensors"))
    assert sorted(out) == [f"model.layers.0.self_attn.{p}_proj.weight" for p in "kqv"]
    for part, first in (("q", 0), ("k", 48), ("v", 64)):
        got = out[f"model.layers.0.self_attn.{part}_proj.weight"][:, 0]
        assert torch.equal(got, torch.arange(first, first + len(got), dtype=torch.float32))
    with pytest.raises(PrunebenchError, match="80 rows where the config.json's heads give "
                                              "48 \\+ 8 \\+ 8"):
        moe_fuse._write_shard(
            "model.layers.0", ["model.layers.0.attention.query_key_value.weight"],
            {"model.layers.0.attention.query_key_value.weight": folder / "model.safetensors"},
            folder / "out2.safetensors", model_type="sarvam_moe", qkv=(48, 8, 8))


@pytest.mark.parametrize("name", NAMES)
def test_a_router_without_score_biases_imports_as_zeros(name, tmp_path, tokenizer):  # noqa: F811
    """moe_router_enable_expert_bias false: no `expert_bias` in the checkpoint, written as
    zeros (Glm4MoeForCausalLM's buffer, which chooses as no bias does), the logits the
    model's with zero biases and transformers' load's."""
    needs(name)
    model = family_model(name)
    with torch.no_grad():
        for layer in model.model.layers[1:]:
            layer.mlp.gate.e_score_correction_bias.zero_()
    model.config.moe_router_enable_expert_bias = False
    state = {k: v for k, v in published_state(model, name).items() if "expert_bias" not in k}
    check_published_import(model, transformers.Glm4MoeForCausalLM, state, tmp_path, tokenizer)


# --------------------------------------------------------------- what their pieces do

@pytest.mark.parametrize("name", NAMES)
def test_whole_heads_rotate_unlike_glm4_moes_half(name):
    """Their classes set partial_rotary_factor 1.0 where config.json gives none (GLM-4.5's
    is 0.5): the model rotates whole heads, and a half-rotating one computes other logits."""
    needs(name)
    model = family_model(name)
    assert model.config.rope_parameters["partial_rotary_factor"] == 1.0
    half = FAMILIES[name]()
    half.rope_parameters = {**half.rope_parameters, "partial_rotary_factor": 0.5}
    other = transformers.Glm4MoeForCausalLM(half).eval()
    other.load_state_dict(model.state_dict())
    x = ids(2, 24)
    ours, changed = logits(model, x), logits(other, x)
    assert (ours - changed).abs().max() > 1e-3 * ours.abs().max()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("method", ["llm_pruner", "flap", "wanda_sp", "blockpruner",
                                    "the compiled backend"])
def test_width_methods_and_the_compiled_decoder_are_refused(name, method):
    needs(name)
    check_refused_as_a_mixture_of_experts(FAMILIES[name](), method, "Glm4MoeForCausalLM")
