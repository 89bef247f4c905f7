"""HY-V4 (hy_v4, HYV4ForCausalLM: Tencent's Hy4), transformers 5.25 on (Family.min_transformers:
5.17 to 5.24 build HYV4Config's model with the rotary slice rotated in halves, 5.25 in
interleaved pairs): the pieces of its own, as a mixture of experts (depth pruning, the hf and
hf_static backends).

GLM-MoE-DSA's latent attention and lightning indexer ("full" / "shared" blocks by
indexer_types), each value channel gated (gate_proj) and a float32 sink logit a head; hc_mult
residual streams, mixed into each sublayer's input and its output spread back by the block's
float32 hyper-connections (attn_hc, ffn_hc), collapsed by a float32 hc_head before the final
norm; the MLP kinds mlp_layer_types names, a sigmoid router, experts and shared experts.
The release refusal and its reason shown; counts against transformers' meta models (5.17's and
5.25's classes hold the same parameters) and the hyper-connections by hand, float32; the lists
HYV4Config derives, read without a class; depth pruning equal to transformers' model of the
kept blocks (each block's hyper-connections removed with it, indexer_types and mlp_layer_types
renumbered, the indexers choosing 4 keys); block 0 kept; the angular distance over the
concatenated streams; a depth-pruned reload decoded by hf / hf_static as transformers' generate;
the config.json refusals. tests/test_families.py runs the shared per-family tests on it."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from transformers import HYV4Config, HYV4ForCausalLM

from prunebench import PrunebenchError
from prunebench.checkpoint import param_count
from prunebench.checkpoint.param_count import (checked_config_json, config_from_dict,
                                               count_params, depth_kept_blocks,
                                               hyper_connection_params, hyper_head_params,
                                               indexer_blocks, transformers_release_problem)
from prunebench.methods.depth import layer_hidden
from prunebench.methods.depth_angular import last_token_states
from prunebench.methods.shortgpt import block_influence
from prunebench.modeling import cast_floating, remove_blocks
from block_helpers import kept_blocks_state
from test_exaone_internlm3 import check_refused_below_its_release
from test_families import _write_config, family_model, ids, logits, numel
from test_helium_vaultgemma_granitemoeshared import theirs
from test_qwen3_next import check_a_depth_pruned_reload_decodes_as_transformers

pytestmark = pytest.mark.usefixtures("one_thread")

NAME = "hy_v4"
# Six blocks of 48: indexer kinds full, full, shared x 3, full (HYV4Config's), block 0 dense.
TINY = dict(hidden_size=48, intermediate_size=56, num_hidden_layers=6, num_attention_heads=4,
            vocab_size=64, max_position_embeddings=64, bos_token_id=1, eos_token_id=2,
            pad_token_id=0, moe_intermediate_size=24, n_routed_experts=4, num_experts_per_tok=2,
            n_shared_experts=2, q_lora_rank=24, kv_lora_rank=16, qk_nope_head_dim=8,
            qk_rope_head_dim=4, v_head_dim=8, index_n_heads=2, index_head_dim=8, hc_mult=3)


def needs() -> None:
    """Skip where this transformers predates the family (the refusal's words as the reason)."""
    if problem := transformers_release_problem(NAME):
        pytest.skip(problem)


# ------------------------------------------------------------------ the release it needs

def test_an_older_transformers_is_refused_before_the_model_loads_naming_the_upgrade(
        tmp_path, monkeypatch):
    check_refused_below_its_release(NAME, "5.25.0", {"model_type": NAME, **TINY}, tmp_path,
                                    monkeypatch)
    for namespace in (param_count, param_count.releases, param_count.prune_rules):
        monkeypatch.setattr(namespace, "installed_transformers", lambda: "5.24.0")
    assert "rotate each query's and key's rotary slice in halves" in (
        transformers_release_problem(NAME))


def test_the_release_it_needs_is_the_first_whose_attention_rotates_interleaved_pairs():
    """The reason is the installed class's: its module has the interleaved rotation exactly
    where the family is not refused (5.25), the halves' rotate_half where it is (5.17)."""
    from transformers.models.hy_v4 import modeling_hy_v4

    interleaved = hasattr(modeling_hy_v4, "apply_rotary_pos_emb_interleave")
    assert interleaved == (transformers_release_problem(NAME) is None)
    assert interleaved != hasattr(modeling_hy_v4, "rotate_half")


# ------------------------------------------------------------------------------- counts

@pytest.mark.parametrize("values", [{}, {"attention_bias": True, "tie_word_embeddings": True,
                                         "n_shared_experts": 1, "hc_mult": 2},
                                    {"mlp_layer_types": ["sparse"] * 6,
                                     "indexer_types": ["full", "shared", "full", "shared",
                                                       "shared", "shared"]}])
def test_counts_equal_transformers_parameters(values):
    """count_params of the config and of its config.json read without a class (the lists
    HYV4Config derives left out where not given) equals the meta model's parameters, on 5.17's
    class as on 5.25's (the same parameters)."""
    config = HYV4Config(**{**TINY, **values})
    with torch.device("meta"):
        reference = numel(HYV4ForCausalLM(config))
    assert count_params(config) == reference
    raw = {k: v for k, v in config.to_dict().items()
           if k not in ("dtype", "layer_types", "head_dim", "num_key_value_heads")
           and (k in values or k not in ("indexer_types", "mlp_layer_types"))}
    ours = config_from_dict(raw)
    assert ours.indexer_types == config.indexer_types
    assert ours.mlp_layer_types == config.mlp_layer_types
    assert count_params(ours) == reference


def test_the_hyper_connections_are_counted_by_hand_and_held_in_float32():
    """One hyper-connection: fn 2 x 3 mixing rows over the 3 streams' 3 x 48 values, base 6,
    scale 2; hc_head: 3 x 144, 3 and 1. Each block holds two, kept float32 in a bfloat16 model
    as transformers loads one (cast_floating), and the attention's gate (48 -> 4 x 8) and 4
    sink logits; a "shared" block holds no indexer."""
    config = HYV4Config(**TINY)
    assert hyper_connection_params(config) == 6 * 144 + 6 + 2 == 872
    assert hyper_head_params(config) == 3 * 144 + 3 + 1 == 436
    model = cast_floating(HYV4ForCausalLM(config), torch.bfloat16)
    assert model.model.layers[2].self_attn.q_b_proj.weight.dtype == torch.bfloat16
    block = model.model.layers[2]
    assert block.self_attn.indexer is None and indexer_blocks(config)[2] is False
    for hc in (block.attn_hc, block.ffn_hc):
        assert numel(hc) == 872 and {p.dtype for p in hc.parameters()} == {torch.float32}
    assert numel(model.model.hc_head) == 436
    assert {p.dtype for p in model.model.hc_head.parameters()} == {torch.float32}
    assert numel(block.self_attn.gate_proj) + block.self_attn.sinks.numel() == 48 * 32 + 4
    assert param_count.own_block_params(config) == 48 * 32 + 4 + 2 * 872


# ------------------------------------------------------------------------ depth pruning

def choosing(model):
    """`model` with its indexers keeping 4 keys a query (the shared tests' keep every key)."""
    model.config.index_topk = 4
    for layer in model.model.layers:
        if layer.self_attn.indexer is not None:
            layer.self_attn.indexer.index_topk = 4
    return model


@pytest.fixture(scope="module")
def dense():
    needs()
    torch.manual_seed(0)
    return choosing(family_model(NAME)).eval()


@pytest.mark.parametrize("drop", [[1], [2, 3], [1, 3]])
def test_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(dense, drop):
    """Each kept block with its own attn_hc / ffn_hc, its indexer kind and MLP kind under its
    new index (indexer_types full, full, shared, shared renumbered), its indexer's cache entry
    renumbered: the logits are transformers' model's of the kept blocks, whose count it has.
    With block 1 removed, the shared blocks reuse block 0's choice."""
    model = remove_blocks(copy.deepcopy(dense), drop)
    keep = [b for b in range(4) if b not in drop]
    assert model.config.indexer_types == [["full", "full", "shared", "shared"][b] for b in keep]
    assert model.config.mlp_layer_types == [["dense", "sparse", "sparse", "sparse"][b]
                                            for b in keep]
    assert [layer.self_attn.indexer.layer_idx for layer in model.model.layers
            if layer.self_attn.indexer is not None] == [
        i for i, b in enumerate(keep) if b in (0, 1)]
    for i, b in enumerate(keep):
        assert torch.equal(model.model.layers[i].ffn_hc.fn, dense.model.layers[b].ffn_hc.fn)
    values = {**dense.config.to_dict(), "num_hidden_layers": len(keep),
              "mlp_layer_types": model.config.mlp_layer_types,
              "indexer_types": model.config.indexer_types,
              "layer_types": [dense.config.layer_types[b] for b in keep]}
    reference = theirs(NAME, values, kept_blocks_state(dense, keep))
    x = ids(2, 24)
    torch.testing.assert_close(logits(model, x), logits(reference, x), rtol=0, atol=1e-5)
    assert numel(model) == count_params(model.config) == numel(reference)


def test_block_0_is_kept_and_removing_it_refused(dense):
    """A "shared" block left first has no choice to reuse (transformers raises): every depth
    prune keeps block 0; remove_blocks refuses it with the model left whole."""
    assert depth_kept_blocks(dense.config) == [0]
    model = copy.deepcopy(dense)
    with pytest.raises(PrunebenchError, match="block 0 of this HY-V4 model"):
        remove_blocks(model, [0, 2])
    assert len(model.model.layers) == model.config.num_hidden_layers == 4


def test_the_angular_distance_reads_the_streams_whole(dense):
    """depth_angular's states: each block's input at the last token, its 2 streams of 64
    concatenated (one distance a run, not one a stream)."""
    states = last_token_states(dense, ids(3, 12), batch_size=2)
    assert states.shape == (5, 3, 2 * 64)
    assert torch.equal(states[0, :, :64], states[0, :, 64:])  # (the embedding, copied)


def check_shortgpt_reads_the_streams_concatenated(model) -> None:
    """ShortGPT's block influence of a model of hyper-connected residual streams (HY-V4's,
    DeepSeek-V4's) is 1 - the mean over tokens of the cosine between a block's input and output
    residual states (the paper's), the streams concatenated as transformers'
    output_hidden_states gives them a block ([batch, tokens, streams, hidden]); the last block's
    own output (its final norm reads hc_head's one state, [batch, tokens, hidden]: no cosine
    with the streams) whichever last_block. One cosine a stream, summed and divided by the
    tokens, would give 1 - streams x the mean, below 0."""
    x, out = ids(2, 9), []
    hook = model.model.layers[-1].register_forward_hook(lambda m, a, o: out.append(
        layer_hidden(o)))
    try:
        with torch.no_grad():
            states = model.model(input_ids=x, output_hidden_states=True).hidden_states
    finally:
        hook.remove()
    assert states[-1].dim() == 3 and states[0].dim() == 4  # (hc_head's, normed; the streams)
    flat = [h.flatten(2).double() for h in (*states[:-1], out[0])]
    expected = [1 - torch.nn.functional.cosine_similarity(a, b, dim=-1).mean().item()
                for a, b in zip(flat, flat[1:])]
    for last_block in ("output", "final_norm"):
        assert block_influence(model, x, last_block=last_block) == pytest.approx(
            expected, abs=1e-5)


def test_shortgpt_compares_each_token_once_over_the_streams_concatenated(dense):
    check_shortgpt_reads_the_streams_concatenated(dense)


def test_a_depth_pruned_reload_decodes_as_transformers(tmp_path):
    """Saved with blocks 1 and 3 removed, loaded by prunebench and by HYV4ForCausalLM: the hf
    and hf_static backends' tokens are transformers' generate's; its config.json reads back,
    without transformers, as the model. (The indexers keep every key of these prompts: a tie
    of their ReLU'd scores, broken otherwise by another cache layout, picks other keys.)"""
    needs()
    model = family_model(NAME)
    check_a_depth_pruned_reload_decodes_as_transformers(model, [1, 3], HYV4ForCausalLM,
                                                        tmp_path / "pruned")
    raw = json.loads((tmp_path / "pruned" / "config.json").read_text())
    assert raw["indexer_types"] == ["full", "shared"]
    assert count_params(config_from_dict(raw)) == numel(model)


# --------------------------------------------------------------------------- refusals

@pytest.mark.parametrize("change, match", [
    ({"q_lora_rank": None}, "q_lora_rank=null for a HY-V4"),
    ({"indexer_types": ["shared"] + ["full"] * 5}, "the first \"full\""),
    ({"indexer_types": ["full", "dense", "full", "full", "full", "full"]},
     "one of \"full\" or \"shared\" a block")])
def test_a_config_json_transformers_cannot_run_is_refused(change, match, tmp_path):
    """Read without transformers (any release): a null query rank (HYV4Attention builds its
    q_a_proj of it) and indexer kinds transformers cannot run."""
    folder = _write_config(tmp_path / "m", {"model_type": NAME, **TINY, **change})
    with pytest.raises(PrunebenchError, match=match):
        checked_config_json(folder)

