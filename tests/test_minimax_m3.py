"""MiniMax-M3's language model (minimax_m3_vl_text, MiniMaxM3VLForCausalLM): the pieces of its
own, as a mixture of experts (depth pruning, the hf and hf_static backends).

GQA with Gemma's per-head q/k norms and a partial rotation; a lightning indexer in the blocks
`layer_types` names "minimax_m3_sparse", which chooses, for each query, the blocks of
index_block_size keys it attends to (its keys cached in a cache layer of their own); each
block's MLP as `mlp_layer_types` names it, dense (dense_intermediate_size) or a sigmoid router
over experts beside one shared expert (shared_intermediate_size). Counts against transformers'
meta models (kinds given, or read from MiniMax-M3's own config.json keys: moe_layer_freq,
sparse_attention_config) and by hand; depth pruning equal to transformers' model of the kept
blocks with the indexers choosing (2 of 6 key blocks), both kind lists renumbered and the
choice shown to change the logits; a pruned model decoding with transformers' dynamic and
static caches (the indexer's cache entry renumbered with its block); a depth-pruned save
reloaded by prunebench and by transformers, the hf and hf_static tokens transformers'
generate's; the indexer keys in the KV cache's floor. tests/test_families.py runs the shared
per-family tests on it."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from transformers import MiniMaxM3VLForCausalLM, MiniMaxM3VLTextConfig

from prunebench import PrunebenchError
from prunebench.benchmark.floors import kv_cache_bytes
from prunebench.checkpoint.param_count import (block_param_count, config_from_dict,
                                               count_params, indexer_blocks, indexer_params,
                                               kv_bytes_per_token, layer_shapes, refuse_moe)
from prunebench.modeling import remove_blocks
from block_helpers import kept_blocks_state
from test_families import FAMILIES, family_model, ids, logits, numel
from test_helium_vaultgemma_granitemoeshared import SHAPE, check_counts, theirs
from test_qwen3_next import (check_a_depth_pruned_reload_decodes_as_transformers,
                             check_hf_backends_decode_as_transformers)

pytestmark = pytest.mark.usefixtures("one_thread")

NAME = "minimax_m3_vl_text"
SPARSE = "minimax_m3_sparse"
KINDS = [SPARSE, "full_attention"] * 2  # the tiny model's (tests/test_families.py)
MLPS = ["dense", "sparse", "sparse", "sparse"]
OWN = dict(intermediate_size=24, dense_intermediate_size=40, shared_intermediate_size=16,
           num_local_experts=4, num_experts_per_tok=2, index_n_heads=2, index_head_dim=8)


@pytest.fixture(scope="module")
def dense():
    return family_model(NAME)


@pytest.mark.parametrize("values", [
    {**OWN},
    {**OWN, "layer_types": [SPARSE, "full_attention", SPARSE],
     "mlp_layer_types": ["dense", "sparse", "dense"]},
    {**OWN, "tie_word_embeddings": True, "moe_layer_freq": [0, 1, 1],
     "sparse_attention_config": {"sparse_attention_freq": [1, 1, 0],
                                 "sparse_num_index_heads": 3, "sparse_index_dim": 4}}])
def test_counts_equal_transformers_parameters(values):
    check_counts(NAME, values)


def test_a_block_counted_by_hand():
    """Attention 48 -> 6 x 8 queries, 2 x 8 keys and values, back to 48, two q/k norms of 8;
    an indexer (q_proj 48 -> 2 x 8, k_proj 48 -> 8, two norms of 8) where the block is sparse;
    a dense MLP of 40 (gate and up fused, down) or a router of 4 experts of 24 and a shared
    one of 16; two norms of 48."""
    config = MiniMaxM3VLTextConfig(**{**SHAPE, **OWN, "layer_types": [SPARSE, "full_attention",
                                                                       SPARSE],
                                      "mlp_layer_types": ["dense", "sparse", "sparse"]})
    d = 48
    assert indexer_params(config) == d * 16 + d * 8 + 2 * 8 == 1168
    attention = d * 48 + 2 * d * 16 + 48 * d + 2 * 8
    dense_mlp, moe = 3 * d * 40, 4 * d + 4 * 3 * d * 24 + 3 * d * 16
    expected = [attention + 1168 + dense_mlp + 2 * d, attention + moe + 2 * d,
                attention + 1168 + moe + 2 * d]
    assert [block_param_count(config, s) for s in layer_shapes(config)] == expected
    model = MiniMaxM3VLForCausalLM(config)
    assert [sum(p.numel() for p in layer.parameters()) for layer in model.model.layers] \
        == expected
    assert indexer_blocks(config) == [True, False, True]


def test_the_published_config_keys_read_as_its_class_reads_them():
    """MiniMax-M3's config.json gives its kinds as moe_layer_freq and sparse_attention_config
    (its indexer's settings under their own names), which MiniMaxM3VLTextConfig turns into
    mlp_layer_types, layer_types and index_*: read without transformers alike."""
    raw = {"model_type": NAME, **SHAPE, "num_hidden_layers": 4, **OWN,
           "moe_layer_freq": [0, 0, 1, 1],
           "sparse_attention_config": {"sparse_attention_freq": [0, 1, 1, 0],
                                       "sparse_num_index_heads": 3, "sparse_index_dim": 4,
                                       "sparse_block_size": 16, "sparse_topk_blocks": 5,
                                       "sparse_local_block": 2}}
    del raw["index_n_heads"], raw["index_head_dim"]
    ours, reference = config_from_dict(raw), MiniMaxM3VLTextConfig.from_dict(raw)
    for key in ("layer_types", "mlp_layer_types", "index_n_heads", "index_head_dim",
                "index_block_size", "index_topk_blocks", "index_local_blocks"):
        assert getattr(ours, key) == getattr(reference, key), key
    assert reference.layer_types == ["full_attention", SPARSE, SPARSE, "full_attention"]
    assert count_params(ours) == sum(
        p.numel() for p in MiniMaxM3VLForCausalLM(reference).parameters())


def kept_values(dense, keep: list[int]) -> dict:
    return {**dense.config.to_dict(), "num_hidden_layers": len(keep),
            "layer_types": [KINDS[b] for b in keep], "mlp_layer_types": [MLPS[b] for b in keep]}


@pytest.mark.parametrize("drop", [[0], [1], [2], [1, 2]])
def test_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(dense, drop):
    """24 tokens, 6 key blocks of 4, each query keeping 2 (its own and one chosen): each kept
    block's attention kind and MLP kind under its new index (layer_types and mlp_layer_types
    renumbered: with block 2 removed, block 3 reloads without an indexer), its logits
    transformers' model's of the kept blocks."""
    model = remove_blocks(copy.deepcopy(dense), drop)
    keep = [b for b in range(4) if b not in drop]
    assert model.config.layer_types == [KINDS[b] for b in keep]
    assert model.config.mlp_layer_types == [MLPS[b] for b in keep]
    reference = theirs(NAME, kept_values(dense, keep), kept_blocks_state(dense, keep))
    x = ids(2, 24)
    torch.testing.assert_close(logits(model, x), logits(reference, x), rtol=0, atol=1e-5)
    assert numel(model) == count_params(model.config) == numel(reference)


def test_the_indexers_choice_matters(dense):
    """What the test above would miss if the indexers chose nothing: the same model with every
    key block kept (index_topk_blocks 6) computes other logits on 24 tokens, by far more than
    float32's rounding; on 8 tokens (2 key blocks, both kept either way) the same."""
    every = copy.deepcopy(dense)
    for layer in every.model.layers:
        if layer.self_attn.indexer is not None:
            layer.self_attn.indexer.topk_blocks = 6
    long, short = ids(2, 24), ids(2, 8)
    chosen = logits(dense, long)
    assert (logits(every, long) - chosen).abs().max() > 1e-3 * chosen.abs().max()
    torch.testing.assert_close(logits(every, short), logits(dense, short), rtol=0, atol=1e-6)


def test_a_depth_pruned_model_decodes_in_memory_with_its_caches(dense):
    """Pruned in place (gpu_check's depth variant), blocks 0, 1 and 3 decode with transformers'
    dynamic and static caches as transformers' model of the kept blocks does: the indexer's
    keys stay in block 0's cache layer (block 2's indexer gone, block 3 full attention)."""
    model = remove_blocks(copy.deepcopy(dense), [2])
    assert [layer.self_attn.indexer and layer.self_attn.indexer.layer_idx
            for layer in model.model.layers] == [0, None, None]
    check_hf_backends_decode_as_transformers(
        model, theirs(NAME, kept_values(dense, [0, 1, 3]), kept_blocks_state(dense, [0, 1, 3])))


def test_an_indexer_renumbered_reads_its_own_cache_layer(dense):
    """Block 2's indexer, block 1 once block 0 or 1 is removed, keeps its keys in the sparse
    cache layer of its new index: with block 0 removed, decoding with the cache gives
    transformers' tokens (its old index, 2, would be block 3's full-attention layer, which
    holds no indexer keys)."""
    model = remove_blocks(copy.deepcopy(dense), [0])
    assert [layer.self_attn.indexer and layer.self_attn.indexer.layer_idx
            for layer in model.model.layers] == [None, 1, None]
    check_hf_backends_decode_as_transformers(
        model, theirs(NAME, kept_values(dense, [1, 2, 3]), kept_blocks_state(dense, [1, 2, 3])))


def test_a_depth_pruned_reload_decodes_as_transformers(tmp_path):
    """Saved with block 1 removed, loaded by prunebench and by transformers' class: the hf
    backend's tokens are transformers' generate's, and hf_static's too; its config.json reads
    back, without transformers, as the model."""
    model = family_model(NAME)
    check_a_depth_pruned_reload_decodes_as_transformers(model, [1], MiniMaxM3VLForCausalLM,
                                                        tmp_path / "pruned")
    raw = json.loads((tmp_path / "pruned" / "config.json").read_text())
    assert raw["layer_types"] == [SPARSE, SPARSE, "full_attention"]
    assert raw["mlp_layer_types"] == ["dense", "sparse", "sparse"]
    assert count_params(config_from_dict(raw)) == numel(model)


def test_the_kv_floor_counts_the_indexer_keys(dense):
    """A position adds, in each block, 2 KV heads' keys and values of 16, and in the two sparse
    blocks the indexer's key of 16, all of which transformers' cache holds (the floor's and
    the plans' per-token KV bytes alike)."""
    config = dense.config
    per_token = 4 * 2 * 2 * 16 + 2 * 16
    assert kv_cache_bytes(config, 1, 5, torch.float32) == 5 * per_token * 4
    assert kv_bytes_per_token(config, 4 * 2) == per_token * 2  # (half precision)
    cache = dense(ids(1, 5), use_cache=True).past_key_values
    held = sum(t.numel() for layer in cache.layers
               for t in (layer.keys, layer.values, getattr(layer, "idx_keys", None))
               if t is not None)
    assert held == 5 * per_token


@pytest.mark.parametrize("method", ["LLM-Pruner", "FLAP", "the compiled backend"])
def test_refuses_what_reshapes_its_experts(method):
    with pytest.raises(PrunebenchError, match="mixture-of-experts family 'minimax_m3_vl_text'"
                                              ".*depth method"):
        refuse_moe(FAMILIES[NAME](), method)


def test_the_multimodal_checkpoints_language_model_is_kept(tmp_path):
    """A MiniMax-M3 folder as transformers saves it (its published layout: the language model
    under language_model.*, one tensor per expert under block_sparse_moe, dense MLPs' and
    shared experts' gate and up projections apart, the indexers as self_attn.index_*, beside
    the ViT, its projector and patch-merge MLP): taken out and fused once, the language model
    is a MiniMaxM3VLForCausalLM whose parameters are the whole model's language model's and
    whose logits on text are the whole model's; it depth-prunes as any."""
    from transformers import MiniMaxM3SparseForConditionalGeneration, MiniMaxM3VLConfig

    from prunebench.checkpoint import moe_fuse, text_part
    from prunebench.checkpoint.param_count import checkpoint_config
    from prunebench.modeling import load_model

    config = MiniMaxM3VLConfig(
        text_config=FAMILIES[NAME]().to_dict(), image_token_index=120, video_token_index=121,
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                           num_attention_heads=2, image_size=28), projector_hidden_size=64)
    torch.manual_seed(0)
    whole = MiniMaxM3SparseForConditionalGeneration(config).eval()
    with torch.no_grad():
        for name, p in whole.named_parameters():
            if "norm" in name:  # (Gemma's norms, zeros as initialised)
                p.copy_(torch.randn_like(p) * 0.2)
        for layer in whole.model.language_model.layers[1:]:
            layer.mlp.gate.e_score_correction_bias.copy_(torch.randn(4) * 0.2)
    folder = tmp_path / "m3"
    whole.save_pretrained(folder)
    assert text_part.take_text_part(folder) is True
    assert moe_fuse.fuse_experts(folder) is True
    kept = load_model(folder)
    assert type(kept) is MiniMaxM3VLForCausalLM
    language = sum(p.numel() for p in whole.model.language_model.parameters()) \
        + whole.lm_head.weight.numel()
    assert numel(kept) == count_params(checkpoint_config(folder)) == language
    x = ids(2, 24) % 100  # (text tokens: below the image and video tokens' ids)
    torch.testing.assert_close(logits(kept, x), logits(whole, x), rtol=0, atol=1e-5)
    remove_blocks(kept, [1])
    assert numel(kept) == count_params(kept.config)
