"""Ling / Ring hybrids (bailing_hybrid, BailingHybridForCausalLM, transformers 5.25 on; Ant's
Ling-3.0-Flash): Kimi Delta Attention blocks with full-rank gates (f_proj, g_proj) beside
latent attention blocks gated a head (g_proj), as `layer_types` (or layer_group_size) says,
DeepSeek-V3's experts after a dense prefix, each block's experts' and shared experts' SwiGLU
clipped by its entry of two per-block lists.

On a transformers older than 5.25 (make test-floor's 5.17; on 5.25 the release is faked):
the config.json is read and counted by hand without a transformers class, and everything that
builds the model is refused, naming the release and why (5.20 to 5.24 ignore the clipping).

Where the class exists (skipped below with the refusal's words): exact counts against
transformers' meta model, from config.json as saved and as published (no KDA width keys, no
kind lists); depth pruning of either kind of block and of the dense block equal to
transformers' model of the kept blocks, the clipping lists rewritten for the kept blocks
(shown to matter: the lists cut short compute other logits), reloaded by prunebench and by
transformers; a prune leaving no latent attention block refused, its depth plans too; the hf
and hf_static tokens of a depth-pruned reload equal to transformers' generate (its static
cache held, not ignored); kv_cache_bytes equal to transformers' cache; the refusals (width
methods, the compiled decoder, config.json's tying, kinds, lists, Ant's own layout).
tests/test_families.py runs the shared per-family tests on it."""

from __future__ import annotations

import copy
import itertools
import json

import pytest
import torch
import transformers

from prunebench import PrunebenchError
from prunebench.checkpoint.param_count import (bailing_kda_params, checked_config_json,
                                               config_from_dict, count_params, mla_params,
                                               transformers_release_problem)
from prunebench.modeling import build_model, load_model
from block_helpers import kept_blocks_state
from test_deepseek import ids, logits, numel, random_model
from test_exaone_internlm3 import check_refused_below_its_release, write
from test_families import VOCAB
from test_granitemoehybrid import check_width_and_compiled_refused
from test_kimi_linear import (check_depth_pruning_and_reloads,
                              check_removing_every_latent_attention_block_refused)
from test_qwen3_next import (FULL, KINDS, LINEAR,
                             check_a_depth_pruned_reload_decodes_as_transformers,
                             check_cache_bytes, check_depth_plans_leave_a_block_of_each_kind)

pytestmark = pytest.mark.usefixtures("one_thread")

# Each block's clipping (0: none; block 0 is dense, which neither list clips): limits that
# bind at weights of std 0.1, each list's kept entries other than its first ones after a prune
# of block 1.
EXPERTS_LIMITS = [0, 0.05, 0, 0.05, 0.05]
SHARED_LIMITS = [0, 0, 0.05, 0, 0.05]


def needs_the_class():
    """Skip where this transformers predates 5.25 (the refusal's words as the reason)."""
    if problem := transformers_release_problem("bailing_hybrid"):
        pytest.skip(problem)


def published_json(**over) -> dict:
    """A small config.json as Ant publishes Ling-3.0-Flash's, in its class's key names: no
    layer_types / mlp_layer_types (the kinds by layer_group_size and first_k_dense_replace),
    no KDA width keys (its heads the attention's, of head_dim, short_conv_kernel_size taps),
    head_dim the KDA's head width (not qk_rope_head_dim), no query rank. Five blocks: latent
    attention in blocks 1 and 3 (layer_group_size 2), block 0 dense; latent attention of 4
    heads (queries 8 + 4 wide, values 12, a latent of 16) gated a head; the KDA of 4 heads of
    8, 3 taps; 4 experts of 16 (2 a token, grouped) and a shared one; untied."""
    values = dict(model_type="bailing_hybrid", vocab_size=VOCAB, hidden_size=32,
                  intermediate_size=40, moe_intermediate_size=16, num_hidden_layers=5,
                  num_attention_heads=4, num_key_value_heads=4, kv_lora_rank=16,
                  q_lora_rank=None, qk_rope_head_dim=4, qk_nope_head_dim=8, v_head_dim=12,
                  head_dim=8, short_conv_kernel_size=3, layer_group_size=2,
                  first_k_dense_replace=1, num_experts=4, num_experts_per_token=2,
                  num_shared_experts=1, num_expert_group=2, topk_group=1,
                  expert_swiglu_limit_list=EXPERTS_LIMITS,
                  share_expert_swiglu_limit_list=SHARED_LIMITS, model_max_length=64,
                  tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    return {**values, **over}


def small(**over):
    """The class's config of `published_json`, its block kinds KINDS (latent attention in
    blocks 1 and 4) unless `over` says otherwise."""
    needs_the_class()
    values = {k: v for k, v in published_json().items() if k != "model_type"}
    return transformers.BailingHybridConfig(**{**values, "layer_types": list(KINDS), **over})


# --------------------------------------------------------------------------- counts

def test_the_count_is_the_sum_of_each_part_by_hand(tmp_path):
    """From the published config.json alone (no transformers class: on 5.17 too): its block
    kinds derived as the class derives them and each part counted by hand."""
    ours = config_from_dict(checked_config_json(write(tmp_path, published_json())))
    assert ours.layer_types == [LINEAR, FULL] * 2 + [LINEAR]
    assert ours.mlp_layer_types == ["dense"] + ["sparse"] * 4
    d, w, head, heads = 32, 4 * 8, 8, 4
    kda = (3 * d * w + 3 * w * 3  # q, k, v; the conv1d's kernels
           + d * w + w + heads  # the forget gate: f_proj, dt_bias, A_log
           + d * heads  # b_proj
           + d * w + head  # the output gate g_proj and the gated norm
           + w * d)  # o_proj
    mla = (d * 4 * 12  # q_proj (no rank): 4 heads of 8 + 4
           + d * (16 + 4) + 16 + 16 * 4 * (8 + 12)  # kv_a, its norm, kv_b
           + 4 * 12 * d  # o_proj
           + d * 4)  # g_proj: one gate a head
    sparse = 4 * d + 4 * 3 * d * 16 + 3 * d * 16  # router, experts, the shared expert
    dense = 3 * d * 40
    blocks = [(mla if kind == FULL else kda) + (dense if i == 0 else sparse) + 2 * d
              for i, kind in enumerate(ours.layer_types)]
    assert count_params(ours) == 2 * VOCAB * d + d + sum(blocks)


@pytest.mark.parametrize("q_rank,bias,kinds", list(itertools.product(
    [None, 20], [False, True], [KINDS, [FULL, LINEAR, LINEAR, LINEAR, LINEAR]])))
def test_counts_equal_transformers_parameters(q_rank, bias, kinds):
    """Queries through a rank or not, attention biases on or off, one or two latent attention
    blocks: the closed form and config_from_dict of the saved config.json equal the meta
    model's parameters, each mixer's apart too."""
    config = small(q_lora_rank=q_rank, attention_bias=bias, layer_types=list(kinds))
    model = build_model(config, device="meta")
    assert numel(model) == count_params(config)
    assert count_params(config_from_dict(json.loads(config.to_json_string()))) == numel(model)
    for i, kind in enumerate(kinds):
        parts = sum(p.numel() for p in model.model.layers[i].self_attn.parameters())
        # (a latent attention's g_proj, hidden 32 -> 4 heads, counted by mla_params)
        assert parts == (mla_params(config) if kind == FULL else bailing_kda_params(config))


@pytest.mark.parametrize("blocks,group,dense", [(5, 2, 1), (7, 3, 2), (6, 6, 0)])
def test_a_published_config_json_reads_as_the_class_derives(blocks, group, dense):
    """The published layout (no kind lists, head_dim the KDA's head width): read without
    transformers, the kinds (latent attention last in each layer_group_size), the dense prefix,
    the KDA's width and the count are the class's."""
    raw = published_json(num_hidden_layers=blocks, layer_group_size=group,
                         first_k_dense_replace=dense, expert_swiglu_limit_list=None,
                         share_expert_swiglu_limit_list=None)
    config = small(**{k: v for k, v in raw.items() if k != "model_type"}, layer_types=None)
    ours = config_from_dict(raw)
    assert ours.layer_types == config.layer_types
    assert ours.mlp_layer_types == config.mlp_layer_types
    assert (ours.linear_head_dim, ours.linear_num_heads, ours.linear_conv_kernel_dim) == (8, 4, 3)
    assert count_params(ours) == numel(build_model(config, device="meta"))


# --------------------------------------------------------------------------- depth pruning

def kept_blocks_model(model, keep: list[int], limits=None):
    """transformers' own model of `model`'s blocks `keep` (renumbered): a config of that depth
    whose per-block lists are the kept blocks' own (`limits`: the two clipping lists given
    instead), given those weights."""
    config = copy.deepcopy(model.config)
    config.num_hidden_layers = len(keep)
    for key in ("layer_types", "mlp_layer_types", "expert_swiglu_limit_list",
                "share_expert_swiglu_limit_list"):
        setattr(config, key, [getattr(config, key)[i] for i in keep])
    if limits is not None:
        config.expert_swiglu_limit_list, config.share_expert_swiglu_limit_list = limits
    kept = transformers.BailingHybridForCausalLM(config).eval()
    kept.load_state_dict(kept_blocks_state(model, keep), strict=True)
    return kept


@pytest.mark.parametrize("drop", [[1], [3], [0, 4]])
def test_depth_pruning_gives_transformers_model_of_the_kept_blocks(drop, tmp_path):
    """Removing KDA blocks, latent attention ones or the dense block: the pruned model, and its
    save reloaded by prunebench and by transformers, compute the logits of transformers' model
    of the kept blocks, each of the kind it was and clipped as it was (layer_types,
    mlp_layer_types and both clipping lists rewritten in the config.json)."""
    written = check_depth_pruning_and_reloads(
        random_model(small()), drop, kept_blocks_model, transformers.BailingHybridForCausalLM,
        tmp_path / "pruned")
    keep = [i for i in range(5) if i not in drop]
    assert written["expert_swiglu_limit_list"] == [EXPERTS_LIMITS[i] for i in keep]
    assert written["share_expert_swiglu_limit_list"] == [SHARED_LIMITS[i] for i in keep]


def test_the_clipping_lists_of_the_kept_blocks_matter():
    """Why both lists are rewritten by the kept blocks: the model of the kept blocks with the
    lists cut to the new depth instead (each kept block clipped as another was), or with no
    clipping, computes other logits."""
    model = random_model(small())
    keep, x = [0, 2, 3, 4], ids()
    right = logits(kept_blocks_model(model, keep), x)
    for limits in ((EXPERTS_LIMITS[:4], SHARED_LIMITS[:4]), ([0] * 4, [0] * 4)):
        assert not torch.allclose(logits(kept_blocks_model(model, keep, limits), x), right,
                                  atol=1e-3)


def test_removing_every_latent_attention_block_is_refused_before_anything_changes():
    """Without a latent attention block transformers' cache cannot size the masks: removing
    blocks 1 and 4 is refused, naming them and what to do; the model is left whole."""
    check_removing_every_latent_attention_block_refused(random_model(small()), "Ling hybrid",
                                                        kept_blocks_model)


def test_depth_plans_leave_a_latent_attention_block():
    check_depth_plans_leave_a_block_of_each_kind(random_model(small()))


# --------------------------------------------------------------------------- backends

@pytest.mark.parametrize("drop", [[1], [0, 2, 3]])
def test_the_hf_backends_decode_a_depth_pruned_model_as_transformers_generate(drop, tmp_path):
    """A depth-pruned reload (KDA blocks kept or none): the hf backend's tokens equal
    transformers' generate of its own loading, and greedy decoding without a cache where that
    choice is certain; so do hf_static's, whose static cache transformers builds and fills
    (a StaticLayer for each latent attention block, checked here)."""
    check_a_depth_pruned_reload_decodes_as_transformers(
        random_model(small()), drop, transformers.BailingHybridForCausalLM, tmp_path / "p")
    model = load_model(tmp_path / "p")
    with torch.inference_mode():
        out = model.generate(input_ids=ids(1, 5), max_new_tokens=2, do_sample=False,
                             cache_implementation="static", return_dict_in_generate=True,
                             pad_token_id=0)
    layers = [type(layer).__name__ for layer in out.past_key_values.layers]
    assert layers == ["StaticLayer" if kind == FULL else "LinearAttentionLayer"
                      for kind in model.config.layer_types]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_cache_a_step_reads_is_what_transformers_cache_holds(dtype):
    check_cache_bytes(random_model(small()).to(dtype), dtype)


# --------------------------------------------------------------------------- refusals

def test_width_methods_and_the_compiled_backend_refuse_it():
    check_width_and_compiled_refused(small(), r"mixture-of-experts family 'bailing_hybrid'")


def test_refused_below_5_25(tmp_path, monkeypatch):
    """On an older transformers (5.17, or 5.25 faked older) every way to build it is refused,
    naming 5.25 and why (the clipping older releases ignore); it is counted all the same."""
    check_refused_below_its_release("bailing_hybrid", "5.25.0", published_json(), tmp_path,
                                    monkeypatch)
    if transformers_release_problem("bailing_hybrid"):
        assert "ignore its SwiGLU limits" in transformers_release_problem("bailing_hybrid")


@pytest.mark.parametrize("change,refused", [
    ({"tie_word_embeddings": True}, "sets tie_word_embeddings, but BailingHybridForCausalLM "
                                    "ties nothing"),
    ({"num_key_value_heads": 2}, "gives num_attention_heads=4 and num_key_value_heads=2: "
                                 "DeepSeek's latent attention expands"),
    ({"architectures": ["BailingMoeV3ForCausalLM"]}, "names BailingMoeV3ForCausalLM, Ant's own "
                                                     "layout .* save_pretrained it"),
    ({"expert_swiglu_limit_list": [0, 1, 1]}, "gives expert_swiglu_limit_list of 3 limits for "
                                              "its 5 blocks"),
    ({"layer_types": [LINEAR, FULL, LINEAR, "sliding_attention", FULL]},
     "BailingHybridDecoderLayer builds a Kimi Delta Attention"),
    ({"layer_group_size": 6}, "gives no 'full_attention' \\(latent attention\\) block"),
])
def test_what_transformers_does_not_build_is_refused_when_read(change, refused, tmp_path):
    """A config.json that ties the embeddings, has fewer KV heads, is in Ant's own layout,
    gives a clipping list not one a block, a block of a third kind or no latent attention block
    is refused as read, naming it (on any release: reading needs no class)."""
    with pytest.raises(PrunebenchError, match=refused):
        checked_config_json(write(tmp_path / "bad", published_json(**change)))
    assert checked_config_json(write(tmp_path, published_json()))["model_type"] \
        == "bailing_hybrid"
