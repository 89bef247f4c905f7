"""Solar Open (solar_open, SolarOpenForCausalLM), Cohere2-MoE (cohere2_moe,
Cohere2MoeForCausalLM) and GraniteMoE-SWA (granitemoe_swa, GraniteMoeSWAForCausalLM): the
pieces of their own, as mixtures of experts (depth pruning, the hf and hf_static backends).

Solar Open: exact counts against transformers' meta models (shared experts or none, q/k/v
biases without an o_proj bias, tying) and by hand; depth pruning equal to transformers' model of
the kept blocks; its float32 router kept so by a half-precision load where transformers keeps
it so; the known shape solar-open-100b by hand.

Cohere2-MoE: counts (a dense prefix of its own width or of intermediate_size, shared experts or
none, RMSNorms or LayerNorms) and by hand; each block's attention and MLP kind read from
config.json alone as Cohere2MoeConfig derives them from first_k_dense_replace; depth pruning
equal to transformers' model of the kept blocks, layer_types and mlp_layer_types renumbered (the
dense block's rotation kept); a config.json transformers cannot run refused (a null window, a
routing choice it does not compute), transformers' own failure shown.

GraniteMoE-SWA: counts (the sink logits, the shared MLP) and by hand; its windows read from
config.json alone; depth pruning equal to transformers' model of the kept blocks, layer_types
and layer_rope_theta renumbered; its sinks and per-block rotary bases shown to matter.

All three: a depth-pruned save reloaded by prunebench and by transformers, the hf and
hf_static tokens transformers' generate's; the width methods' and compiled decoder's refusals.
tests/test_families.py runs the shared per-family tests on them (the depth methods, save and
reload, the hf backends, evaluation); tests/test_moe.py Solar Open's and Cohere2-MoE's
per-expert checkpoints, fused on import as transformers loads them."""

from __future__ import annotations

import copy

import pytest
import torch
from transformers import (Cohere2MoeConfig, Cohere2MoeForCausalLM, GraniteMoeSWAConfig,
                          SolarOpenConfig)

from prunebench import FamilyUnsupported, PrunebenchError
from prunebench.checkpoint.param_count import (block_param_count, checked_config_json,
                                               checkpoint_config, config_from_dict,
                                               count_params, layer_shapes, sliding_windows)
from prunebench.modeling import build_model, load_config, remove_blocks
from test_families import FAMILIES, _write_config, family_model, ids, logits
from test_glm4_moe import check_half_precision_load, check_refused_as_a_mixture_of_experts
from test_helium_vaultgemma_granitemoeshared import (SHAPE, check_counts, check_depth_pruning,
                                                     family_classes, meta_count)
from test_qwen3_next import check_a_depth_pruned_reload_decodes_as_transformers

pytestmark = pytest.mark.usefixtures("one_thread")

NAMES = ["solar_open", "cohere2_moe", "granitemoe_swa"]
SOLAR_EXPERTS = dict(moe_intermediate_size=24, n_routed_experts=4, num_experts_per_tok=2)
COHERE2_MOE_EXPERTS = dict(num_experts=4, num_experts_per_tok=2)
GRANITE_EXPERTS = dict(num_local_experts=4, num_experts_per_tok=2)


# --------------------------------------------------------------------------- Solar Open

@pytest.mark.parametrize("values", [{**SOLAR_EXPERTS},
                                    {**SOLAR_EXPERTS, "n_shared_experts": 2,
                                     "attention_bias": True},
                                    {**SOLAR_EXPERTS, "n_shared_experts": 0,
                                     "tie_word_embeddings": True, "num_key_value_heads": 6}])
def test_solar_open_counts_equal_transformers_parameters(values):
    check_counts("solar_open", values)


def test_solar_open_block_counted_by_hand():
    """One block (every one sparse): q/k/v of 6 and 2 heads of 8 with biases, an o_proj
    without one, a router over 4 experts, 4 experts of 24 (gate, up and down each), 2 shared
    experts as one MLP of 48, two RMSNorms. No dense MLP whatever intermediate_size says."""
    config = SolarOpenConfig(**SHAPE, **SOLAR_EXPERTS, n_shared_experts=2, attention_bias=True)
    d, q, kv = 48, 6 * 8, 2 * 8
    attention = (d * q + q) + 2 * (d * kv + kv) + q * d
    block = attention + 4 * d + 4 * 3 * d * 24 + 3 * d * 48 + 2 * d
    assert block == 27_248
    assert [block_param_count(config, s) for s in layer_shapes(config)] == [block] * 3
    assert count_params(config) == 2 * 97 * d + d + 3 * block


@pytest.mark.parametrize("drop", [[0], [1, 2], [3]])
def test_solar_open_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(drop):
    check_depth_pruning("solar_open", drop)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_a_half_precision_solar_open_load_keeps_in_float32_what_transformers_keeps(dtype,
                                                                                 tmp_path):
    """The score-correction buffers in every version, the router weights too in transformers
    5.25 (SolarOpenPreTrainedModel._keep_in_fp32_modules_strict): prunebench's load holds each
    tensor in the dtype transformers' does, and computes its logits."""
    ours = check_half_precision_load(family_model("solar_open"), dtype, tmp_path)
    assert ours.model.layers[1].mlp.gate.e_score_correction_bias.dtype == torch.float32
    assert ours.model.layers[1].mlp.experts.gate_up_proj.dtype == dtype


def test_the_known_solar_open_shape_counts_what_transformers_builds():
    """Solar-Open-100B's config.json: 48 blocks of hidden 4096, GQA 64 / 8 heads of 128, in
    every block a 128 x 4096 router, 128 experts of 1280 and one shared expert of 1280,
    untied; by hand, against transformers' meta model, from its values alone, and a batch-1
    step's reads (8 routed experts)."""
    from prunebench.benchmark.floors import read_params
    from prunebench.checkpoint.architectures import (architecture_config, architecture_values,
                                                     known_shape_of)

    config = architecture_config("solar-open-100b")
    d, vocab = 4096, 196608
    attention = d * 8192 + 2 * d * 1024 + 8192 * d + 2 * d  # with the block's two norms
    routed = 3 * d * 1280
    block = attention + 128 * d + 128 * routed + routed
    total = 2 * vocab * d + d + 48 * block
    assert count_params(config) == total == meta_count("solar_open", config) == 102_651_793_408
    assert count_params(config_from_dict(architecture_values("solar-open-100b"))) == total
    assert read_params(config) == total - vocab * d - 48 * 120 * routed == 11_249_520_640
    assert known_shape_of("upstage/Solar-Open-100B") == "solar-open-100b"


# --------------------------------------------------------------------------- Cohere2-MoE

@pytest.mark.parametrize("values", [
    {**COHERE2_MOE_EXPERTS},
    {**COHERE2_MOE_EXPERTS, "first_k_dense_replace": 1, "num_shared_experts": 2,
     "prefix_dense_intermediate_size": 40},
    {**COHERE2_MOE_EXPERTS, "first_k_dense_replace": 2, "num_shared_experts": 1},
    {**COHERE2_MOE_EXPERTS, "rms_norm_eps": 1e-6, "attention_bias": True,
     "tie_word_embeddings": False, "num_key_value_heads": 6}])
def test_cohere2_moe_counts_equal_transformers_parameters(values):
    check_counts("cohere2_moe", values)


def test_cohere2_moe_blocks_counted_by_hand():
    """A dense block: q/k/v/o of 6 and 2 heads of 8, gate/up/down of 40 (its own width), one
    norm (a weight). A sparse one: the same attention, a router over 4 experts, 4 experts of
    56 (intermediate_size), 2 shared experts as one MLP of 112, one norm."""
    config = Cohere2MoeConfig(**SHAPE, **COHERE2_MOE_EXPERTS, first_k_dense_replace=1,
                              num_shared_experts=2, prefix_dense_intermediate_size=40)
    d, q, kv = 48, 6 * 8, 2 * 8
    attention = 2 * d * q + 2 * d * kv
    dense = attention + 3 * d * 40 + d
    sparse = attention + 4 * d + 4 * 3 * d * 56 + 3 * d * 112 + d
    assert [block_param_count(config, s) for s in layer_shapes(config)] == [dense, sparse,
                                                                            sparse]
    assert (dense, sparse) == (11_952, 54_768)
    assert count_params(config) == 97 * d + d + dense + 2 * sparse  # tied


@pytest.mark.parametrize("values", [{}, {"first_k_dense_replace": 1},
                                    {"first_k_dense_replace": 2,
                                     "prefix_dense_sliding_window_pattern": 2},
                                    {"first_k_dense_replace": 1, "sliding_window_pattern": 2,
                                     "num_hidden_layers": 6},
                                    {"mlp_layer_types": ["sparse", "dense", "sparse",
                                                         "sparse"]}])
def test_cohere2_moe_block_kinds_read_from_config_json_are_its_classs(values):
    """Each block's attention and MLP kind as Cohere2MoeConfig derives them where config.json
    gives no lists (first_k_dense_replace, a key it reads and drops; the prefix's own window
    pattern), read without transformers as transformers reads them, and counted alike."""
    raw = {k: v for k, v in FAMILIES["cohere2_moe"]().to_dict().items()
           if k not in ("layer_types", "mlp_layer_types", "dtype")}
    raw.update({"first_k_dense_replace": 0, **values})
    theirs, ours = Cohere2MoeConfig.from_dict(raw), config_from_dict(raw)
    assert ours.layer_types == theirs.layer_types
    assert ours.mlp_layer_types == theirs.mlp_layer_types
    assert sliding_windows(ours) == sliding_windows(theirs)
    assert count_params(ours) == count_params(theirs)


@pytest.mark.parametrize("drop, kinds, attention", [
    # block 0 dense (full attention, rotating), 1 and 2 sliding, 3 global without rotation
    ([0], ["sparse"] * 3, ["sliding_attention", "sliding_attention", "full_attention"]),
    ([1, 2], ["dense", "sparse"], ["full_attention", "full_attention"]),
    ([3], ["dense", "sparse", "sparse"], ["full_attention", "sliding_attention",
                                           "sliding_attention"])])
def test_cohere2_moe_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(
        drop, kinds, attention):
    """Each kept block's MLP and attention kind under its new index (mlp_layer_types and
    layer_types renumbered): the kept dense block still rotates (a dense full-attention block
    where prefix_dense_sliding_window_pattern is 1), the global sparse one still does not."""
    check_depth_pruning("cohere2_moe", drop, mlp_layer_types=kinds, layer_types=attention)
    model = remove_blocks(family_model("cohere2_moe"), drop)
    assert (model.config.mlp_layer_types, model.config.layer_types) == (kinds, attention)


def test_cohere2_moes_dense_block_rotates_and_its_global_sparse_one_does_not():
    """What the depth-pruning test's reference relies on: the dense full-attention block
    rotates, the global sparse one does not (as Cohere2's), each by its own flag."""
    layers = family_model("cohere2_moe").model.layers
    assert [layer.self_attn.force_rope for layer in layers] == [True, False, False, False]
    assert [layer.self_attn.sliding_window for layer in layers] == [None, 6, 6, None]


@pytest.mark.parametrize("values, match", [
    ({"sliding_window": None}, "sliding_window=null for a Cohere2-MoE model"),
    ({"expert_selection_fn": "relu"}, "expert_selection_fn='relu' for a Cohere2-MoE"),
    ({"shared_expert_combination_strategy": "max"},
     "shared_expert_combination_strategy='max' for a Cohere2-MoE")])
def test_a_cohere2_moe_config_json_transformers_cannot_run_is_refused(values, match, tmp_path):
    """transformers builds each and stops at its first forward (a null window in its mask
    code, another routing choice in the router or the sparse block): every reader refuses the
    config.json, and building it refuses a routing choice it cannot run."""
    raw = {**{k: v for k, v in FAMILIES["cohere2_moe"]().to_dict().items() if k != "dtype"},
           **values}
    with pytest.raises((TypeError, ValueError)):  # transformers' own failure
        model = Cohere2MoeForCausalLM(Cohere2MoeConfig.from_dict(raw))
        model(input_ids=ids(1, 8))
    folder = _write_config(tmp_path / "m", raw)
    for read in (checked_config_json, checkpoint_config, load_config):
        with pytest.raises(PrunebenchError, match=match):
            read(folder)
    if "sliding_window" not in values:
        with pytest.raises(FamilyUnsupported, match=match):
            build_model(Cohere2MoeConfig.from_dict(raw), device="meta")


def test_a_cohere2_moe_combination_is_read_only_with_shared_experts(tmp_path):
    """Without shared experts Cohere2MoeSparseMoeBlock never reads the combination: any value
    runs, and is read."""
    raw = {**{k: v for k, v in FAMILIES["cohere2_moe"]().to_dict().items() if k != "dtype"},
           "num_shared_experts": 0, "shared_expert_combination_strategy": "max"}
    Cohere2MoeForCausalLM(Cohere2MoeConfig.from_dict(raw))(input_ids=ids(1, 8))
    assert checked_config_json(_write_config(tmp_path / "m", raw))["num_shared_experts"] == 0


# --------------------------------------------------------------------------- GraniteMoE-SWA

@pytest.mark.parametrize("values", [{**GRANITE_EXPERTS},
                                    {**GRANITE_EXPERTS, "shared_intermediate_size": 40,
                                     "attention_bias": True},
                                    {**GRANITE_EXPERTS, "tie_word_embeddings": True,
                                     "num_key_value_heads": 6,
                                     "layer_rope_theta": [10000.0, 0, 500.0]}])
def test_granitemoe_swa_counts_equal_transformers_parameters(values):
    check_counts("granitemoe_swa", values)


def test_granitemoe_swa_block_counted_by_hand():
    """One block: q/k/v/o of 6 and 2 heads of 8 with biases, a sink logit per query head (6),
    a router over 4 experts, 4 experts of 56, a shared MLP of 40, two RMSNorms."""
    config = GraniteMoeSWAConfig(**SHAPE, **GRANITE_EXPERTS, shared_intermediate_size=40,
                                 attention_bias=True)
    d, q, kv = 48, 6 * 8, 2 * 8
    attention = (d * q + q) + 2 * (d * kv + kv) + (q * d + d) + 6
    block = attention + 4 * d + 4 * 3 * d * 56 + 3 * d * 40 + 2 * d
    assert block == 44_582
    assert count_params(config) == 2 * 97 * d + d + 3 * block


@pytest.mark.parametrize("values, windows", [
    ({}, [None, 6, 6, 6]), ({"num_hidden_layers": 6}, [None, 6, 6, 6, None, 6]),
    ({"layer_types": ["sliding_attention", "full_attention"] * 2}, [6, None, 6, None])])
def test_granitemoe_swa_windows_read_from_config_json_are_its_classs(values, windows):
    """Each block's window as GraniteMoeSWAConfig makes it where config.json gives no
    layer_types (every fourth block from block 0 full attention), read without transformers."""
    raw = {k: v for k, v in FAMILIES["granitemoe_swa"]().to_dict().items()
           if k not in ("layer_types", "layer_rope_theta", "dtype")}
    raw.update(values)
    assert sliding_windows(GraniteMoeSWAConfig.from_dict(raw)) == windows == sliding_windows(
        config_from_dict(raw))


@pytest.mark.parametrize("drop", [[0], [1, 2], [3]])
def test_granitemoe_swa_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(drop):
    """Each kept block keeps its window and its rotary base (10000, none, 500, 10000 before):
    layer_types and layer_rope_theta renumbered."""
    kinds = ["full_attention"] + ["sliding_attention"] * 3
    thetas = [10000.0, 0, 500.0, 10000.0]
    kept = [b for b in range(4) if b not in drop]
    check_depth_pruning("granitemoe_swa", drop, layer_types=[kinds[b] for b in kept],
                        layer_rope_theta=[thetas[b] for b in kept])


@pytest.mark.parametrize("change", ["sinks", "layer_rope_theta"])
def test_granitemoe_swas_sinks_and_rotary_bases_change_its_logits(change):
    """What the tests above would miss if prunebench dropped them: the sink logits (random
    here, around 0) and each block's own rotary base each change the logits, by far more than
    float32's rounding (a few parts in 10^7 of their size)."""
    model = family_model("granitemoe_swa")
    other = copy.deepcopy(model)
    if change == "sinks":
        with torch.no_grad():
            for layer in other.model.layers:
                layer.self_attn.sinks.zero_()
    else:
        other.config.layer_rope_theta = [10000.0] * 4
    x = ids(2, 24)
    ours, changed = logits(model, x), logits(other, x)
    assert (ours - changed).abs().max() > 1e-3 * ours.abs().max()


def test_granitemoe_swa_is_built_with_eager_attention():
    """Its sinks are in transformers' eager attention (GraniteMoeSWAPreTrainedModel supports
    no SDPA): prunebench builds it so whatever the config names."""
    config = FAMILIES["granitemoe_swa"]()
    config._attn_implementation = "sdpa"
    assert build_model(config, device="meta").config._attn_implementation == "eager"


# --------------------------------------------------------------------------- all three

@pytest.mark.parametrize("name", NAMES)
def test_a_depth_pruned_reload_decodes_as_transformers(name, tmp_path):
    """Saved with blocks 1 and 2 removed, loaded by prunebench and by transformers' class: the
    hf backend's tokens are transformers' generate's, and hf_static's too (the windows of 6
    shorter than the 15 tokens decoded)."""
    check_a_depth_pruned_reload_decodes_as_transformers(family_model(name), [1, 2],
                                                        family_classes(name)[1],
                                                        tmp_path / "pruned")


@pytest.mark.parametrize("name, model_class", [("solar_open", "SolarOpenForCausalLM"),
                                               ("cohere2_moe", "Cohere2MoeForCausalLM"),
                                               ("granitemoe_swa", "GraniteMoeSWAForCausalLM")])
@pytest.mark.parametrize("method", ["LLM-Pruner", "FLAP", "the compiled backend"])
def test_refuses_what_reshapes_its_experts(name, model_class, method):
    check_refused_as_a_mixture_of_experts(FAMILIES[name](), method, model_class)
