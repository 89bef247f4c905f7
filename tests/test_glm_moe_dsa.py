"""GLM-MoE-DSA (glm_moe_dsa, GlmMoeDsaForCausalLM: zai-org's GLM-5): the pieces of its own, as
a mixture of experts (depth pruning, the hf and hf_static backends).

DeepSeek-V3.2's latent attention, experts and lightning indexer (its rotation interleaved), the
indexer only in the blocks `indexer_types` names "full": a "shared" block builds none and
attends to the keys the last "full" block before it chose. Counts against transformers' meta
models (indexer kinds given, or derived from index_topk_pattern / index_topk_freq /
index_skip_topk_offset as GlmMoeDsaConfig derives them, from config.json alone too) and by
hand; depth pruning equal to transformers' model of the kept blocks with the indexers choosing
(index_topk 4 of 24 keys), indexer_types renumbered, a removed "full" block's "shared" block
reusing the choice of the "full" block before it, and the sharing shown to change the logits;
block 0 kept by every depth prune where a block shares (transformers' own failure shown);
the KV cache's indexer keys in the "full" blocks alone, a depth plan's KV bytes left to the
criterion where the blocks differ in holding an indexer; an in-place prune decoding with its
cache; a depth-pruned save reloaded by prunebench and by transformers, the hf and hf_static
tokens transformers' generate's; the published layout (one tensor per expert, a
multi-token-prediction layer after the blocks) imported as transformers loads it; the
refusals (width methods, the compiled backend, a null query rank, indexer kinds transformers
cannot run). tests/test_families.py runs the shared per-family tests on it."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from huggingface_hub.errors import StrictDataclassFieldValidationError
from transformers import GlmMoeDsaConfig, GlmMoeDsaForCausalLM

from prunebench import PrunebenchError
from prunebench.checkpoint.param_count import (block_param_count, checked_config_json,
                                               checkpoint_config, config_from_dict,
                                               count_params, depth_kept_blocks,
                                               indexer_blocks, indexer_params,
                                               kv_bytes_of, kv_bytes_per_token, layer_shapes,
                                               refuse_moe)
from prunebench.methods.sizing import plan_blocks, removable_blocks
from prunebench.modeling import load_config, remove_blocks
from block_helpers import kept_blocks_state
from test_families import FAMILIES, _write_config, family_model, ids, logits, numel
from test_families import tokenizer  # noqa: F401 - a fixture
from test_exaone_moe_glm4_moe_lite_youtu import check_the_published_glm_layout_imports
from test_helium_vaultgemma_granitemoeshared import SHAPE, check_counts, theirs
from test_qwen3_next import (check_a_depth_pruned_reload_decodes_as_transformers,
                             check_hf_backends_decode_as_transformers)

pytestmark = pytest.mark.usefixtures("one_thread")

NAME = "glm_moe_dsa"
LATENT = dict(num_key_value_heads=6, q_lora_rank=24, kv_lora_rank=16, qk_nope_head_dim=8,
              qk_rope_head_dim=4, v_head_dim=8, moe_intermediate_size=24,
              n_routed_experts=4, num_experts_per_tok=2, n_group=2, topk_group=1,
              index_n_heads=2, index_head_dim=8)
KINDS = ["full", "full", "shared", "full"]  # the tiny model's (tests/test_families.py)


@pytest.mark.parametrize("values", [{**LATENT},
                                    {**LATENT, "attention_bias": True,
                                     "first_k_dense_replace": 1, "n_shared_experts": 2,
                                     "indexer_types": ["full", "shared", "shared"]},
                                    {**LATENT, "tie_word_embeddings": True,
                                     "index_topk_pattern": "FSF", "first_k_dense_replace": 0},
                                    {**LATENT, "index_topk_freq": 2,
                                     "index_skip_topk_offset": 1}])
def test_counts_equal_transformers_parameters(values):
    check_counts(NAME, values)


def test_a_shared_block_holds_no_indexer_counted_by_hand():
    """One indexer: wq_b 24 -> 2 x 8, wk 48 -> 8, a LayerNorm of 8 (weight and bias) and
    weights_proj 48 -> 2; a "shared" block is the same block without it."""
    config = GlmMoeDsaConfig(**{**SHAPE, **LATENT, "first_k_dense_replace": 1,
                                "indexer_types": ["full", "shared", "full"]})
    assert indexer_params(config) == 24 * 16 + 48 * 8 + 2 * 8 + 48 * 2 == 880
    model = GlmMoeDsaForCausalLM(config)
    assert model.model.layers[1].self_attn.indexer is None
    assert indexer_params(config) == sum(
        p.numel() for p in model.model.layers[2].self_attn.indexer.parameters())
    d, heads = 48, 6
    latent = (d * 24 + 24 + 24 * heads * 12) + (d * 20 + 16 + 16 * heads * 16) + heads * 8 * d
    sparse = latent + 4 * d + 4 * 3 * d * 24 + 3 * d * 24 + 2 * d
    dense = latent + 3 * d * 56 + 2 * d
    assert [block_param_count(config, s) for s in layer_shapes(config)] == [
        dense + 880, sparse, sparse + 880]
    assert [sum(p.numel() for p in layer.parameters()) for layer in model.model.layers] == [
        dense + 880, sparse, sparse + 880]


@pytest.mark.parametrize("keys", [{}, {"index_topk_freq": 4, "index_skip_topk_offset": 3},
                                  {"index_topk_freq": 2, "index_skip_topk_offset": 1},
                                  {"index_topk_pattern": "FFSSSFSF"},
                                  {"index_topk_pattern": "FSFSFSFS", "index_topk_freq": 3}])
def test_indexer_kinds_read_from_config_json_are_its_classs(keys):
    """Each block's indexer kind as GlmMoeDsaConfig derives it where config.json gives no
    indexer_types (GLM-5.2's published freq 4 / offset 3 among them), read without transformers
    and counted alike; the pattern wins over the frequency, as it does there."""
    raw = {k: v for k, v in FAMILIES[NAME]().to_dict().items()
           if k not in ("indexer_types", "mlp_layer_types", "layer_types", "dtype")}
    raw.update(num_hidden_layers=8, **keys)
    theirs_, ours = GlmMoeDsaConfig.from_dict(raw), config_from_dict(raw)
    assert ours.indexer_types == theirs_.indexer_types
    assert indexer_blocks(ours) == [kind == "full" for kind in theirs_.indexer_types]
    assert count_params(ours) == count_params(theirs_) == sum(
        p.numel() for p in GlmMoeDsaForCausalLM(theirs_).parameters())
    if keys.get("index_topk_freq") == 4:  # GLM-5.2's: blocks 0-2 full, then every 4th from 6
        assert indexer_blocks(ours) == [True, True, True, False, False, False, True, False]


def choosing(model):
    """`model` with its indexers keeping 4 keys a query (the shared tests' keep every key of
    their short prompts)."""
    model.config.index_topk = 4
    for layer in model.model.layers:
        if layer.self_attn.indexer is not None:
            layer.self_attn.indexer.index_topk = 4
    return model


@pytest.mark.parametrize("drop", [[1], [2], [3], [1, 2], [2, 3]])
def test_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(drop):
    """With the indexers choosing 4 of up to 24 keys: each kept block's indexer kind and MLP
    kind under its new index (indexer_types and mlp_layer_types renumbered), its logits
    transformers' model's of the kept blocks: with block 1 removed, the "shared" block 2
    attends to the keys block 0 chose."""
    dense = choosing(family_model(NAME))
    model = remove_blocks(copy.deepcopy(dense), drop)
    keep = [b for b in range(4) if b not in drop]
    assert model.config.indexer_types == [KINDS[b] for b in keep]
    assert model.config.mlp_layer_types == [["dense", "sparse", "sparse", "sparse"][b]
                                            for b in keep]
    values = {**dense.config.to_dict(), "num_hidden_layers": len(keep),
              "mlp_layer_types": model.config.mlp_layer_types,
              "indexer_types": model.config.indexer_types,
              "layer_types": [dense.config.layer_types[b] for b in keep]}
    reference = theirs(NAME, values, kept_blocks_state(dense, keep))
    assert reference.config.index_topk == 4
    x = ids(2, 24)
    torch.testing.assert_close(logits(model, x), logits(reference, x), rtol=0, atol=1e-6)
    assert numel(model) == count_params(model.config) == numel(reference)


def test_the_shared_blocks_reuse_matters():
    """What the test above would miss if the sharing were ignored: with block 1 removed, the
    "shared" block 2 attends to block 0's choice; the same kept blocks with block 2 choosing
    by an indexer of its own (block 1's weights) compute other logits, by far more than
    float32's rounding."""
    dense = choosing(family_model(NAME))
    x = ids(2, 24)
    shared = logits(remove_blocks(copy.deepcopy(dense), [1]), x)
    values = {**dense.config.to_dict(), "num_hidden_layers": 3,
              "mlp_layer_types": ["dense", "sparse", "sparse"],
              "indexer_types": ["full"] * 3, "layer_types": dense.config.layer_types[:3]}
    state = kept_blocks_state(dense, [0, 2, 3])
    state.update({k: v for k, v in kept_blocks_state(dense, [0, 1, 3]).items()
                  if k.startswith("model.layers.1.self_attn.indexer.")})
    own = logits(theirs(NAME, values, state), x)
    assert (own - shared).abs().max() > 1e-3 * shared.abs().max()


def test_block_0_is_kept_where_a_block_shares():
    """A "shared" block left first has no choice to reuse: transformers' model raises on its
    first forward (5.17 and 5.25). Block 0 (a "full" one) is kept by every depth prune of a
    model with a "shared" block (depth_kept_blocks: the depth methods never choose it),
    remove_blocks refuses it with the model left whole; a model of "full" blocks alone
    keeps none."""
    config = GlmMoeDsaConfig(**{**FAMILIES[NAME]().to_dict(), "num_hidden_layers": 3,
                                "mlp_layer_types": None, "layer_types": None,
                                "indexer_types": ["shared", "full", "full"]})
    with pytest.raises(ValueError, match="Shared DSA layers require"):
        GlmMoeDsaForCausalLM(config)(ids())
    dense = family_model(NAME)
    assert depth_kept_blocks(dense.config) == [0]
    assert 0 not in removable_blocks(4, 0, 0, depth_kept_blocks(dense.config))
    with pytest.raises(PrunebenchError, match="block 0 of this GLM-MoE-DSA model"):
        remove_blocks(dense, [0, 2])
    assert len(dense.model.layers) == dense.config.num_hidden_layers == 4
    dense.config.indexer_types = ["full"] * 4
    assert depth_kept_blocks(dense.config) == []


def test_a_depth_pruned_model_decodes_in_memory_with_its_cache():
    """Pruned in place (gpu_check's depth variant), the model of blocks 0, 2 and 3 decodes
    with transformers' caches as transformers' model of the kept blocks does: each indexer's
    cache entry renumbered with its attention's (block 2, "shared", has none)."""
    dense = family_model(NAME)
    model = remove_blocks(copy.deepcopy(dense), [1])
    assert [layer.self_attn.indexer and layer.self_attn.indexer.layer_idx
            for layer in model.model.layers] == [0, None, 2]
    values = {**dense.config.to_dict(), "num_hidden_layers": 3,
              "mlp_layer_types": model.config.mlp_layer_types,
              "indexer_types": model.config.indexer_types,
              "layer_types": model.config.layer_types}
    check_hf_backends_decode_as_transformers(
        model, theirs(NAME, values, kept_blocks_state(dense, [0, 2, 3])))


def test_a_depth_pruned_reload_decodes_as_transformers(tmp_path):
    """Saved with blocks 1 and 3 removed (indexer kinds full, shared), loaded by prunebench and
    by transformers' class: the hf backend's tokens are transformers' generate's, and
    hf_static's too; its config.json reads back, without transformers, as the model."""
    model = family_model(NAME)
    check_a_depth_pruned_reload_decodes_as_transformers(model, [1, 3], GlmMoeDsaForCausalLM,
                                                        tmp_path / "pruned")
    raw = json.loads((tmp_path / "pruned" / "config.json").read_text())
    assert raw["indexer_types"] == ["full", "shared"]
    assert count_params(config_from_dict(raw)) == numel(model)


def test_its_kv_cache_holds_indexer_keys_in_the_full_blocks_alone():
    """A position adds, in each block, the latent (16) and rotated key (4), and in the three
    "full" blocks the indexer's key (8): in half precision (4 x 20 + 3 x 8) x 2 bytes; the
    cache transformers fills holds that many values."""
    model = family_model(NAME)
    config = model.config
    kv_heads = sum(s["num_key_value_heads"] for s in layer_shapes(config))
    assert kv_bytes_per_token(config, kv_heads) == (4 * 20 + 3 * 8) * 2
    layers = model(ids(1, 5), use_cache=True).past_key_values.layers
    indexed = [layer for layer in layers if getattr(layer, "indexer_keys", None) is not None
               and layer.indexer_keys.numel()]
    assert sum(layer.indexer_keys.numel() for layer in indexed) == 5 * 3 * 8


@pytest.mark.parametrize("kinds", [KINDS, ["full"] * 4])
def test_a_depth_plans_kv_bytes_are_the_pruned_models_or_left_to_the_criterion(kinds):
    """`prunebench plan`'s KV bytes after removing one block: unknown (None) where the blocks
    differ in holding an indexer (which one goes, a "full" or a "shared", is the criterion's
    choice: 2 x 20 + 2 x 8 or 2 x 20 + 3 x 8 values); with every block "full", those of the
    pruned model (each removed block's indexer key gone with it)."""
    config = FAMILIES[NAME]()
    config.indexer_types = kinds
    shapes = layer_shapes(config)
    plan = plan_blocks(config, count_params(config) - block_param_count(config, shapes[3]), 0, 0)
    assert plan["blocks_removed"] == 1
    if kinds == KINDS:
        assert plan["kv_heads_kept"] is None
        return
    kept = kv_bytes_of(config, shapes[1:])  # (any one removed: every block alike)
    assert kv_bytes_per_token(config, plan["kv_heads_kept"]) == kept == 3 * (20 + 8) * 2


def test_the_published_layout_is_imported_as_transformers_loads_it(tmp_path, tokenizer):  # noqa: F811
    """zai-org's layout (GLM-4.5's): one tensor per expert in bfloat16, the score biases
    float32, and a multi-token-prediction layer after the last block (`model.layers.4` here,
    78 in GLM-5), which GlmMoeDsaForCausalLM does not build: fused and dropped."""
    check_the_published_glm_layout_imports(NAME, "GlmMoeDsaForCausalLM", tmp_path, tokenizer)


@pytest.mark.parametrize("method", ["LLM-Pruner", "FLAP", "the compiled backend"])
def test_refuses_what_reshapes_its_experts(method):
    """As DeepSeek-V3.2's (LoRA on its latent attention: tests/test_moe.py)."""
    with pytest.raises(PrunebenchError, match="mixture-of-experts family 'glm_moe_dsa'.*"
                                              "depth method"):
        refuse_moe(FAMILIES[NAME](), method)


@pytest.mark.parametrize("change, match", [
    ({"q_lora_rank": None}, "q_lora_rank=null for a GLM-MoE-DSA"),
    ({"indexer_types": ["shared", "full", "full", "full"]}, "the first \"full\""),
    ({"indexer_types": ["full", "full"]}, "one of \"full\" or \"shared\" a block"),
    ({"indexer_types": None, "index_topk_pattern": "FSXF"}, "for a GLM-MoE-DSA model")])
def test_a_config_json_transformers_cannot_run_is_refused(change, match, tmp_path):
    """A null query rank (GlmMoeDsaConfig refuses it, as DeepSeek-V3.2's) and indexer kinds
    transformers cannot run (a first "shared" block, a list of another length, a pattern of
    other letters): every reader of the config.json refuses them, those without transformers
    too."""
    raw = {**{k: v for k, v in FAMILIES[NAME]().to_dict().items() if k != "dtype"}, **change}
    if change.get("q_lora_rank", 0) is None:
        with pytest.raises(StrictDataclassFieldValidationError, match="q_lora_rank"):
            GlmMoeDsaConfig.from_dict(raw)
    folder = _write_config(tmp_path / "m", raw)
    for read in (checked_config_json, checkpoint_config, load_config):
        with pytest.raises(PrunebenchError, match=match):
            read(folder)
