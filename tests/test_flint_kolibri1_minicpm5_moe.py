"""Flint (flint: FlintForCausalLM), Kolibri-1 (kolibri1: Kolibri1ForCausalLM) and MiniCPM5-MoE
(minicpm5_moe: MiniCPM5MoeForCausalLM), three mixtures of experts whose config classes came
after prunebench's floor (Family.min_transformers: FlintConfig with transformers 5.21,
Kolibri1Config with 5.20, MiniCPM5MoeConfig with 5.25): depth pruning and the hf / hf_static
backends, as every mixture of experts.

On a transformers older than that (make test-floor's 5.17; on a newer one the release is
faked): their config.json is read, counted and planned without a transformers class, each
block's kinds derived as their classes derive them, and everything that builds the model is
refused before it loads, naming the release to install; MiniCPM5-MoE's use_gated_attention
false refused when read.

Where the classes exist (skipped below with the refusal's reason): counts against
transformers' meta models (Flint's sinks, dense blocks and ungated shared expert; Kolibri-1's
four norms a block and shared expert; MiniCPM5-MoE's query-and-gate projection, dense prefix
and shared experts) and by hand; depth pruning equal to transformers' model of the kept
blocks, their per-block lists renumbered; a depth-pruned save reloaded by prunebench and by
transformers, the hf and hf_static tokens transformers' generate's; a checkpoint in the
published per-expert layout under the published names transformers' conversions rename
(Flint's softmax_offset, Kolibri-1's post_attn_norm / post_ffn_norm / moe.router.expert_bias,
MiniCPM5-MoE's q_proj) imported to the model's logits; Flint's sinks and eager attention,
Kolibri-1's output norms and MiniCPM5-MoE's output gate shown to matter; Flint's
float32 router and sinks kept so by a half-precision load; the width methods'
and the compiled decoder's refusals. tests/test_families.py runs the shared per-family tests
on them (the depth methods, save and reload, the hf backends, evaluation)."""

from __future__ import annotations

import copy
import json

import pytest
import torch
import transformers

from prunebench import PrunebenchError
from prunebench.checkpoint import moe_fuse
from prunebench.checkpoint.param_count import (block_param_count, checked_config_json,
                                               config_from_dict, count_params, layer_shapes,
                                               sparse_mlp_blocks, transformers_release_problem)
from prunebench.modeling import build_model
from test_afmoe_laguna_mellum import check_published_import
from test_exaone_internlm3 import check_refused_below_its_release
from test_families import FAMILIES, family_model, ids, logits
from test_families import tokenizer  # noqa: F401 - a fixture
from test_glm4_moe import check_half_precision_load, check_refused_as_a_mixture_of_experts
from test_helium_vaultgemma_granitemoeshared import SHAPE, check_counts, check_depth_pruning
from test_moe import per_expert_state
from test_qwen3_next import check_a_depth_pruned_reload_decodes_as_transformers

pytestmark = pytest.mark.usefixtures("one_thread")

NAMES = ["flint", "kolibri1", "minicpm5_moe"]
NEEDED = {"flint": "5.21.0", "kolibri1": "5.20.0", "minicpm5_moe": "5.25.0"}
CLASSES = {"flint": "FlintForCausalLM", "kolibri1": "Kolibri1ForCausalLM",
           "minicpm5_moe": "MiniCPM5MoeForCausalLM"}
SLIDING, FULL = "sliding_attention", "full_attention"
FLINT_EXPERTS = dict(moe_intermediate_size=24, shared_expert_intermediate_size=40,
                     num_experts=4, num_experts_per_tok=2, sliding_window=6)
KOLIBRI_EXPERTS = dict(moe_intermediate_size=24, shared_expert_intermediate_size=40,
                       num_experts=4, num_experts_per_tok=2, sliding_window=6)
MINICPM5_EXPERTS = dict(moe_intermediate_size=24, n_routed_experts=4, n_shared_experts=2,
                        num_experts_per_tok=2, n_group=2, topk_group=1)


def needs(name: str) -> None:
    """Skip where this transformers predates the family (the refusal's words as the reason)."""
    if problem := transformers_release_problem(name):
        pytest.skip(problem)


def tiny_json(name: str) -> dict:
    """A tiny config.json of the family (three blocks, no kinds listed: its class derives
    them), read without any transformers class."""
    shape = {**SHAPE, "model_type": name}
    if name == "flint":
        return {**shape, **FLINT_EXPERTS}
    if name == "kolibri1":
        return {**{k: v for k, v in shape.items() if k != "intermediate_size"},
                **KOLIBRI_EXPERTS}
    return {**shape, **MINICPM5_EXPERTS}


def write(folder, values):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(values))
    return folder


# ------------------------------------------------------------------ the release they need

@pytest.mark.parametrize("name", NAMES)
def test_an_older_transformers_is_refused_before_the_model_loads_naming_the_upgrade(
        name, tmp_path, monkeypatch):
    """Below the family's first release (5.17 really; else faked): every way to build the
    model refused naming both releases and the upgrade, the config.json counted all the same;
    the first release itself the boundary."""
    check_refused_below_its_release(name, NEEDED[name], tiny_json(name), tmp_path, monkeypatch)


def test_the_first_releases_are_those_whose_classes_the_installed_transformers_has():
    """min_transformers against the installed transformers: where it is at or past a family's
    first release the classes are there, where older (the floor's 5.17) they are not."""
    from prunebench.checkpoint.param_count import FAMILIES as REGISTRY

    for name in NAMES:
        family = REGISTRY[name]
        has = all(hasattr(transformers, cls) for cls in (family.config_class,
                                                          family.model_class))
        assert has == (transformers_release_problem(name) is None), name
        assert family.min_transformers == NEEDED[name]


# ------------------------------------------------------- config.json read without a class

def test_each_blocks_kinds_are_read_from_config_json_as_the_classes_derive_them():
    """Without a class (any release): Flint's full-attention blocks the first two, every
    fourth from block 1 and the last, its dense blocks mlp_only_layers [0, 1] where null (an
    empty list: none); Kolibri-1's every fifth block global, every block sparse; MiniCPM5-MoE's
    first first_k_dense_replace blocks dense, 1 where config.json gives none."""
    flint = config_from_dict({**tiny_json("flint"), "num_hidden_layers": 7})
    assert flint.layer_types == [FULL, FULL, SLIDING, SLIDING, SLIDING, FULL, FULL]
    assert sparse_mlp_blocks(flint) == [False, False] + [True] * 5
    none_dense = config_from_dict({**tiny_json("flint"), "mlp_only_layers": []})
    assert sparse_mlp_blocks(none_dense) == [True] * 3
    kolibri = config_from_dict({**tiny_json("kolibri1"), "num_hidden_layers": 10})
    assert kolibri.layer_types == ([SLIDING] * 4 + [FULL]) * 2
    assert sparse_mlp_blocks(kolibri) == [True] * 10
    minicpm = config_from_dict(tiny_json("minicpm5_moe"))
    assert minicpm.mlp_layer_types == ["dense", "sparse", "sparse"]
    two = config_from_dict({**tiny_json("minicpm5_moe"), "first_k_dense_replace": 2})
    assert sparse_mlp_blocks(two) == [False, False, True]


@pytest.mark.parametrize("name", NAMES)
def test_the_derived_kinds_are_the_installed_classs(name):
    """The same derivations as the installed class makes them (skipped below its release)."""
    needs(name)
    config_class = type(FAMILIES[name]())
    for blocks in (3, 7, 10):
        raw = {**tiny_json(name), "num_hidden_layers": blocks}
        theirs = config_class(**{k: v for k, v in raw.items() if k != "model_type"})
        ours = config_from_dict(raw)
        for key in ("layer_types", "mlp_only_layers", "mlp_layer_types"):
            assert getattr(ours, key, None) == getattr(theirs, key, None), (name, key)
        assert sparse_mlp_blocks(ours) == sparse_mlp_blocks(theirs)


@pytest.mark.parametrize("gated", [False, True, None])
def test_minicpm5_moe_without_gated_attention_is_refused_when_read(gated, tmp_path):
    """use_gated_attention false describes weights without the attention's output gate, which
    MiniCPM5MoeConfig refuses: refused when config.json is read (no class needed), naming the
    key; true or left out read as it is."""
    raw = tiny_json("minicpm5_moe")
    if gated is not None:
        raw["use_gated_attention"] = gated
    folder = write(tmp_path / "m", raw)
    if gated is False:
        with pytest.raises(PrunebenchError, match="use_gated_attention=false .* always gates"):
            checked_config_json(folder)
        cls = getattr(transformers, "MiniCPM5MoeConfig", None)
        if cls is not None:  # (transformers' own refusal, where the class exists)
            # (its validator's ValueError, which huggingface_hub's strict dataclass wraps)
            with pytest.raises(Exception, match="requires gated attention"):
                cls(**{k: v for k, v in raw.items() if k != "model_type"})
    else:
        assert count_params(config_from_dict(checked_config_json(folder))) > 0


# --------------------------------------------------------------------------- counts

@pytest.mark.parametrize("values", [
    {**FLINT_EXPERTS},
    {**FLINT_EXPERTS, "attention_bias": True, "mlp_only_layers": [1],
     "tie_word_embeddings": True},
    {**FLINT_EXPERTS, "mlp_only_layers": [], "decoder_sparse_step": 2}])
def test_flint_counts_equal_transformers_parameters(values):
    check_counts("flint", values)


@pytest.mark.parametrize("values", [
    {**KOLIBRI_EXPERTS},
    {**KOLIBRI_EXPERTS, "shared_expert_intermediate_size": 8, "tie_word_embeddings": True,
     "num_key_value_heads": 6}])
def test_kolibri1_counts_equal_transformers_parameters(values):
    check_counts("kolibri1", values)


@pytest.mark.parametrize("values", [
    {**MINICPM5_EXPERTS},
    {**MINICPM5_EXPERTS, "attention_bias": True, "n_shared_experts": 1},
    {**MINICPM5_EXPERTS, "mlp_layer_types": ["sparse", "dense", "sparse"],
     "tie_word_embeddings": True}])
def test_minicpm5_moe_counts_equal_transformers_parameters(values):
    check_counts("minicpm5_moe", values)


def test_the_blocks_counted_by_hand():
    """Without a class, from config.json alone (hidden 48, 6 query and 2 KV heads of 8, 4
    experts of 24): Flint's dense blocks 0 and 1 (q/k/v/o, q/k norms of 8, a sink a query
    head, an MLP of 56, two norms) and sparse block 2 (a router, 4 experts, an ungated shared
    expert of 40); Kolibri-1's sparse blocks of four norms; MiniCPM5-MoE's dense block 0 and
    sparse blocks whose q_gate_proj is twice q's rows, with 2 shared experts of 24 as one MLP
    of 48."""
    d, q, kv = 48, 6 * 8, 2 * 8
    attention = d * q + 2 * d * kv + q * d
    experts = 4 * d + 4 * 3 * d * 24
    flint = config_from_dict(tiny_json("flint"))
    dense = attention + 2 * 8 + 6 + 3 * d * 56 + 2 * d
    sparse = attention + 2 * 8 + 6 + experts + 3 * d * 40 + 2 * d
    assert [block_param_count(flint, s) for s in layer_shapes(flint)] == [dense, dense, sparse]
    assert count_params(flint) == 2 * 97 * d + d + 2 * dense + sparse
    kolibri = config_from_dict(tiny_json("kolibri1"))
    block = attention + 2 * 8 + experts + 3 * d * 40 + 4 * d
    assert [block_param_count(kolibri, s) for s in layer_shapes(kolibri)] == [block] * 3
    minicpm = config_from_dict(tiny_json("minicpm5_moe"))
    gated = attention + d * q
    dense, sparse = gated + 3 * d * 56 + 2 * d, gated + experts + 3 * d * 48 + 2 * d
    assert [block_param_count(minicpm, s) for s in layer_shapes(minicpm)] == [dense, sparse,
                                                                               sparse]


# --------------------------------------------------------------------------- depth pruning

@pytest.mark.parametrize("drop", [[0], [1, 2], [3]])
def test_flint_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(drop):
    """Its dense block 0 (mlp_only_layers) and its blocks' windows and rotation renumbered:
    transformers' model of the kept blocks, given the kept blocks' kinds alone."""
    keep = [b for b in range(4) if b not in drop]
    kinds = FAMILIES["flint"]().layer_types
    check_depth_pruning("flint", drop, layer_types=[kinds[b] for b in keep],
                        mlp_only_layers=[0] if 0 in keep else [])


@pytest.mark.parametrize("drop", [[0], [1, 2], [3]])
def test_kolibri1_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(drop):
    keep = [b for b in range(4) if b not in drop]
    kinds = FAMILIES["kolibri1"]().layer_types
    check_depth_pruning("kolibri1", drop, layer_types=[kinds[b] for b in keep])


@pytest.mark.parametrize("drop", [[0], [1, 2], [3]])
def test_minicpm5_moe_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(drop):
    keep = [b for b in range(4) if b not in drop]
    kinds = FAMILIES["minicpm5_moe"]().mlp_layer_types
    check_depth_pruning("minicpm5_moe", drop, mlp_layer_types=[kinds[b] for b in keep])


@pytest.mark.parametrize("name", NAMES)
def test_a_depth_pruned_reload_decodes_as_transformers(name, tmp_path):
    """Saved with blocks 1 and 2 removed, loaded by prunebench and by transformers' class: the
    hf backend's tokens transformers' generate's, and hf_static's too."""
    needs(name)
    check_a_depth_pruned_reload_decodes_as_transformers(
        family_model(name), [1, 2], getattr(transformers, CLASSES[name]), tmp_path / "pruned")


# --------------------------------------------------------------- published checkpoints

# The names each family's published per-expert checkpoints give what its class holds under
# another (transformers' conversion of its model type renames them on loading).
PUBLISHED_NAMES = {"flint": ((".self_attn.sinks", ".self_attn.softmax_offset"),),
                   "kolibri1": ((".mlp.gate.e_score_correction_bias", ".moe.router.expert_bias"),
                                (".post_self_attn_layernorm.", ".post_attn_norm."),
                                (".post_mlp_layernorm.", ".post_ffn_norm.")),
                   "minicpm5_moe": ((".self_attn.q_gate_proj.", ".self_attn.q_proj."),)}


@pytest.mark.parametrize("name", NAMES)
def test_a_published_per_expert_checkpoint_imports_as_transformers_loads_it(
        name, tmp_path, tokenizer):  # noqa: F811 - the fixture
    """One tensor per expert and the published names of what the family's class holds under
    others: transformers' conversion on loading, prunebench's one-time fusion on import and
    the model the weights came from compute the same logits; without the renames the import
    does not load."""
    needs(name)
    model = family_model(name)
    if name == "kolibri1":  # (the score biases transformers initialises to 0, made to matter)
        with torch.no_grad():
            for layer in model.model.layers:
                layer.mlp.gate.e_score_correction_bias.normal_(0, 1)
    state = {}
    for key, tensor in per_expert_state(model, name).items():
        for held, published in PUBLISHED_NAMES[name]:
            key = key.replace(held, published)
        state[key] = tensor
    renamed = [k for k in state if any(p in k for _, p in PUBLISHED_NAMES[name])]
    assert len(renamed) >= 4
    check_published_import(model, getattr(transformers, CLASSES[name]), state, tmp_path,
                           tokenizer)
    # the renames are the family's alone: another model type keeps the published names
    assert moe_fuse.fused_name(renamed[0], "qwen2_moe") == renamed[0]
    assert moe_fuse.fused_name(renamed[0], name) != renamed[0]


# --------------------------------------------------------------- what their pieces do

def changed_by(name: str, change) -> None:
    """`change` (of a copy of the family's tiny model) changes its logits by far more than
    float32's rounding: what dropping that piece would miss."""
    needs(name)
    model = family_model(name)
    other = copy.deepcopy(model)
    with torch.no_grad():
        change(other)
    x = ids(2, 24)
    ours, changed = logits(model, x), logits(other, x)
    assert (ours - changed).abs().max() > 1e-3 * ours.abs().max()


def test_flints_sinks_change_its_logits_and_it_is_built_with_eager_attention():
    """Flint's sink logits (random, around 0) change the logits; SDPA would drop them
    (FlintPreTrainedModel supports none): prunebench builds it eagerly whatever the config
    names."""
    changed_by("flint", lambda m: [layer.self_attn.sinks.zero_() for layer in m.model.layers])
    config = FAMILIES["flint"]()
    config._attn_implementation = "sdpa"
    assert build_model(config, device="meta").config._attn_implementation == "eager"


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_a_half_precision_flint_load_keeps_its_router_and_sinks_float32(dtype, tmp_path):
    """Flint's router weights and sinks are float32 whatever the dtype
    (FlintPreTrainedModel._keep_in_fp32_modules_strict): prunebench's load holds every tensor
    in the dtype transformers' does and computes its logits."""
    needs("flint")
    ours = check_half_precision_load(family_model("flint"), dtype, tmp_path)
    assert ours.model.layers[1].mlp.gate.weight.dtype == torch.float32
    assert ours.model.layers[1].self_attn.sinks.dtype == torch.float32
    assert ours.model.layers[1].mlp.experts.gate_up_proj.dtype == dtype


def test_kolibri1s_output_norms_change_its_logits():
    """Kolibri-1's norms of the sublayers' outputs (GLM-4's post_self_attn_layernorm and
    post_mlp_layernorm), counted as four norms a block, weigh its outputs."""
    def scale(model):
        for layer in model.model.layers:
            layer.post_self_attn_layernorm.weight.mul_(3)
            layer.post_mlp_layernorm.weight.mul_(0.2)
    changed_by("kolibri1", scale)


def test_minicpm5_moes_output_gate_changes_its_logits():
    """MiniCPM5-MoE's gate rows of q_gate_proj (each head's second half of its rows) scale
    its attention's output by their sigmoid: zeroed (every gate 0.5, whatever the input) the
    logits change."""
    def flat_gates(model):
        for layer in model.model.layers:
            layer.self_attn.q_gate_proj.weight.view(4, 2, 16, -1)[:, 1].zero_()
    changed_by("minicpm5_moe", flat_gates)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("method", ["llm_pruner", "flap", "wanda_sp", "blockpruner",
                                    "the compiled backend"])
def test_width_methods_and_the_compiled_decoder_are_refused(name, method):
    needs(name)
    check_refused_as_a_mixture_of_experts(FAMILIES[name](), method, CLASSES[name])
