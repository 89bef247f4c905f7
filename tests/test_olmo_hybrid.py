"""OLMo Hybrid (olmo_hybrid, OlmoHybridForCausalLM; AI2's Olmo-Hybrid-7B): Gated DeltaNet
blocks (LLaMA's pre-norm block around q/k/v/a/b/g_proj, a depthwise conv1d and a gated norm)
beside OLMo-3's post-norm attention blocks (whole-projection q/k norms), as `layer_types`
says, a dense MLP in every block. Exact counts (against transformers' meta model, config.json's
values alone, the Gated DeltaNet's widths and the block kinds OlmoHybridConfig derives, and by
hand); depth pruning that removes blocks of either kind, each kept block reloading as the kind
it was, with the logits of transformers' model built of the kept blocks; the hf and hf_static
backends' tokens of a depth-pruned model equal to transformers' generate and to greedy
decoding without a cache; the cache a step reads equal to what transformers' cache holds; the
refusals (width methods, the compiled backend, at the start too; a prune leaving no
full-attention block or no Gated DeltaNet block; block kinds and head counts transformers
does not build). tests/test_families.py runs the shared per-family tests on it too."""

from __future__ import annotations

import itertools
import json
import re

import pytest
import torch
from transformers import OlmoHybridConfig, OlmoHybridForCausalLM

from prunebench import PrunebenchError
from prunebench.checkpoint.param_count import config_from_dict, count_params
from prunebench.methods.sizing import check_prunable
from prunebench.modeling import build_model, remove_blocks
from block_helpers import kept_kinds_model
from test_deepseek import ids, logits, numel, random_model
from test_families import VOCAB
from test_granitemoehybrid import check_width_and_compiled_refused
from test_qwen3_next import (FULL, KINDS, LINEAR,
                             check_a_depth_pruned_reload_decodes_as_transformers,
                             check_cache_bytes, check_depth_plans_leave_a_block_of_each_kind,
                             check_depth_pruning, check_refused_when_read,
                             check_removing_the_full_attention_blocks_is_refused, plan_target,
                             unbuilt_changes)

pytestmark = pytest.mark.usefixtures("one_thread")

ROPE = {"rope_type": "default", "rope_theta": 10000.0}


def small(**over) -> OlmoHybridConfig:
    """A small OLMo Hybrid model of KINDS' five blocks: attention of 4 query heads of 8 on 2
    KV heads; Gated DeltaNet of 2 key heads of 8 on 4 value heads of 12; an MLP of 40;
    untied."""
    values = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=40, num_hidden_layers=5,
                  num_attention_heads=4, num_key_value_heads=2, rope_parameters=dict(ROPE),
                  layer_types=KINDS, linear_num_key_heads=2, linear_num_value_heads=4,
                  linear_key_head_dim=8, linear_value_head_dim=12, linear_conv_kernel_dim=4,
                  max_position_embeddings=64, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    values.update(over)
    if "num_hidden_layers" in over and "layer_types" not in over:
        values.pop("layer_types")  # derived by OlmoHybridConfig
    return OlmoHybridConfig(**values)


# --------------------------------------------------------------------------- counts

@pytest.mark.parametrize("bias,tied,kinds", list(itertools.product(
    [False, True], [False, True], [KINDS, [FULL, LINEAR, LINEAR, LINEAR, LINEAR]])))
def test_counts_equal_transformers_parameters(bias, tied, kinds):
    """Attention biases on or off, tied or not, one or two attention blocks: the closed form,
    and config_from_dict of the config.json values, equal model.parameters(); the Gated
    DeltaNet's projections are built apart (Qwen3-Next's parameters, another layout)."""
    config = small(attention_bias=bias, tie_word_embeddings=tied, layer_types=kinds)
    model = build_model(config, device="meta")
    assert numel(model) == count_params(config)
    values = json.loads(config.to_json_string())
    assert count_params(config_from_dict(values)) == count_params(config)
    for i, kind in enumerate(kinds):
        layer = model.model.layers[i]
        if kind == FULL:
            assert layer.self_attn.q_norm.weight.shape == (4 * 8,)  # the whole projection
            assert (layer.self_attn.q_proj.bias is not None) == bias
        else:
            shapes = {name: tuple(getattr(layer.linear_attn, name).weight.shape)
                      for name in ("q_proj", "k_proj", "v_proj", "g_proj", "a_proj", "b_proj")}
            assert shapes == {"q_proj": (16, 32), "k_proj": (16, 32), "v_proj": (48, 32),
                              "g_proj": (48, 32), "a_proj": (4, 32), "b_proj": (4, 32)}


def test_the_count_is_the_sum_of_each_part_by_hand():
    d, keys, values, value_heads = 32, 2 * 8, 4 * 12, 4
    linear = (d * (2 * keys + values) + d * values + 2 * d * value_heads  # q, k, v, g, a, b
              + (2 * keys + values) * 4  # the conv1d's kernels
              + 2 * value_heads + 12  # dt_bias, A_log, the gated norm
              + values * d)  # o_proj
    full = d * 4 * 8 + 2 * d * 2 * 8 + 4 * 8 * d + 4 * 8 + 2 * 8  # q, k, v, o, q/k norms
    blocks = [(full if kind == FULL else linear) + 3 * d * 40 + 2 * d for kind in KINDS]
    assert count_params(small()) == 2 * VOCAB * d + d + sum(blocks)  # untied


@pytest.mark.parametrize("blocks", [2, 3, 6, 8])
def test_a_config_json_without_layer_types_or_linear_widths_reads_as_the_class_derives(blocks):
    """A config.json without layer_types (OlmoHybridConfig: every fourth block full attention,
    the last one where that leaves none) and without the Gated DeltaNet's heads and widths
    (the attention's heads, three quarters of hidden_size over them, values twice as wide):
    read without transformers, its blocks' kinds, widths and count are the model's. The last
    block's fallback matters below four blocks (an interval alone gives no attention block)."""
    config = OlmoHybridConfig(vocab_size=VOCAB, hidden_size=48, intermediate_size=40,
                              num_hidden_layers=blocks, num_attention_heads=4,
                              pad_token_id=0, eos_token_id=2)
    drop = ("layer_types", "linear_num_key_heads", "linear_num_value_heads",
            "linear_key_head_dim", "linear_value_head_dim", "num_key_value_heads")
    values = {k: v for k, v in json.loads(config.to_json_string()).items() if k not in drop}
    ours = config_from_dict(values)
    assert ours.layer_types == config.layer_types
    assert (ours.linear_num_key_heads, ours.linear_key_head_dim,
            ours.linear_value_head_dim) == (4, 9, 18) == (
        config.linear_num_key_heads, config.linear_key_head_dim, config.linear_value_head_dim)
    assert count_params(ours) == numel(build_model(config, device="meta"))
    if blocks < 4:
        assert config.layer_types == [LINEAR] * (blocks - 1) + [FULL]


# --------------------------------------------------------------------------- depth pruning

def kept_blocks_model(model, keep: list[int]) -> OlmoHybridForCausalLM:
    """transformers' own model of `model`'s blocks `keep` (renumbered): a config of that depth
    whose layer_types are the kept blocks' own, given those weights."""
    return kept_kinds_model(model, keep)


@pytest.mark.parametrize("drop", [[0], [1], [0, 4], [0, 2], [1, 2, 3]])
def test_depth_pruning_gives_transformers_model_of_the_kept_blocks(drop, tmp_path):
    """Removing Gated DeltaNet blocks, attention ones or both: the pruned model, and its save
    reloaded by prunebench and by transformers, compute the logits of transformers' model
    built of the kept blocks, each block of the kind it was (layer_types rewritten: the two
    kinds are blocks of different classes, pre-norm and post-norm)."""
    check_depth_pruning(random_model(small()), drop, kept_blocks_model, OlmoHybridForCausalLM,
                        tmp_path)


def test_removing_every_full_attention_block_is_refused_before_anything_changes():
    check_removing_the_full_attention_blocks_is_refused(random_model(small()), "OLMo Hybrid",
                                                        kept_blocks_model)


def test_a_depth_plan_leaving_no_block_of_either_kind_is_refused_when_planned():
    """A depth plan sizes a removal that keeps a Gated DeltaNet block and a full-attention
    block, the nearest the target of those remove_blocks allows; a target below them all is
    refused by the start checks, naming the blocks of each kind one of which stays
    (remove_blocks refuses a criterion's choice that leaves none)."""
    check_depth_plans_leave_a_block_of_each_kind(random_model(small()))
    config = small()  # blocks 1 and 4 attention, 0, 2 and 3 Gated DeltaNet
    kinds = (r"one of its full-attention blocks \[1, 4\] \(.*\) and one of its Gated DeltaNet "
             r"blocks \[0, 2, 3\] \(OlmoHybridConfig refuses")
    for first, last in [(0, 0), (0, 1)]:
        removable = list(range(first, 5 - last))
        # 4 blocks removed: (0, 0) keeps one, of one kind only; (0, 1) keeps block 4 alone
        with pytest.raises(PrunebenchError, match="the smallest size a depth prune of this "
                                                  r"'olmo_hybrid' model \(OlmoHybridForCausalLM\)"
                                                  r" reaches \(its removable blocks "
                                                  rf"{re.escape(str(removable))} gone but "
                                                  f"{kinds}"):
            check_prunable(config, "depth_mag", str(plan_target(config, removable, 4)),
                           {"protect_first": first, "protect_last": last})


def test_removing_every_gated_deltanet_block_is_refused_before_anything_changes():
    """OlmoHybridConfig refuses a model of attention blocks only: such a prune would save a
    checkpoint neither prunebench nor transformers loads. Refused naming the Gated DeltaNet
    blocks, the model left whole."""
    model = random_model(small())
    x = ids()
    before = logits(model, x)
    with pytest.raises(PrunebenchError, match=r"removing blocks \[0, 2, 3\] would leave this "
                                              r"OLMo Hybrid model full-attention blocks only "
                                              r"\(its Gated DeltaNet blocks are \[0, 2, 3\]\)"):
        remove_blocks(model, [0, 2, 3])
    assert model.config.num_hidden_layers == 5 and model.config.layer_types == KINDS
    assert torch.equal(logits(model, x), before)
    # what transformers does with such a config (a StrictDataclassClassValidationError, 5.25)
    with pytest.raises(Exception, match="at least one 'linear_attention' layer"):
        small(layer_types=[FULL, FULL])


# --------------------------------------------------------------------------- backends

@pytest.mark.parametrize("drop", [[0], [4], [2, 3]])
def test_the_hf_backends_decode_a_depth_pruned_model_as_transformers_generate(drop, tmp_path):
    """A depth-pruned model (each block's cache entry its new index, its Gated DeltaNet's
    states too) reloaded: the hf backend's tokens equal transformers' generate of its own
    loading of the checkpoint, and greedy decoding without a cache wherever that choice is
    certain; so do hf_static's."""
    check_a_depth_pruned_reload_decodes_as_transformers(
        random_model(small()), drop, OlmoHybridForCausalLM, tmp_path / "pruned")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_cache_a_step_reads_is_what_transformers_cache_holds(dtype):
    check_cache_bytes(random_model(small()).to(dtype), dtype)


# --------------------------------------------------------------------------- refusals

def test_width_methods_and_the_compiled_backend_refuse_it():
    check_width_and_compiled_refused(
        small(), r"this 'olmo_hybrid' model .*with blocks of another token mixer than softmax "
                 r"attention \(blocks \[0, 2, 3\]: Gated DeltaNet\)")


def test_the_start_refuses_the_compiled_backend(tmp_path):
    from prunebench.plan.checks import moe_problems

    small().save_pretrained(tmp_path / "m")
    runs = {"models": {"m": {"source": f"local:{tmp_path / 'm'}", "variants": ["dense"]}},
            "benchmark": {"backends": ["hf", "compiled"]}}
    problem, = moe_problems(runs, tmp_path / "nowhere")
    assert problem.startswith("models.m (olmo_hybrid) ") and "(Gated DeltaNet)" in problem


@pytest.mark.parametrize("change,refused", [
    *((change, refused) for change, refused in unbuilt_changes("OlmoHybridForCausalLM",
                                                               "OLMo Hybrid")
      if "attn_output_gate" not in change and "full_attention_interval" not in change),
    ({"layer_types": [FULL] * 5}, "gives no 'linear_attention' block.*OlmoHybridConfig refuses"),
    ({"layer_types": [LINEAR, FULL, "sliding_attention", LINEAR, FULL]},
     r"builds a Gated DeltaNet for 'linear_attention' and a softmax attention for "
     r"'full_attention' and attention without a mask of its kind for any other kind")])
def test_blocks_transformers_does_not_build_are_refused_when_read(change, refused, tmp_path):
    """A config.json whose blocks transformers' class does not build or load as its weights
    are (a block kind of no mask, value heads that are no whole groups of key heads, a kind
    missing for some block, no block of either kind) is refused by the load's check and by
    the plan's."""
    check_refused_when_read(small(), change, refused, tmp_path)
