"""A.X K1 (axk1, AXK1ForCausalLM: SK Telecom's A.X K1): the pieces of its own, as a mixture of
experts (depth pruning, the hf and hf_static backends).

DeepSeek-V3's latent attention and experts with an RMSNorm on each sparse block's MoE output
(`mlp.post_mlp_layernorm`, Family.moe_output_norm). Its dense prefix is mlp_layer_types in
transformers 5.25 (derived from first_k_dense_replace and moe_layer_freq) and
first_k_dense_replace in 5.17: counts against transformers' meta models and by hand, from
config.json alone too; depth pruning equal to transformers' model of the kept blocks, both keys
written so either version reloads the kept kinds; the output norm shown to matter; a config
whose kinds the two versions would build differently refused, as is a null query rank; a
depth-pruned save reloaded by prunebench and by transformers, the hf and hf_static tokens
transformers' generate's; the published layout (one tensor per expert, the output norm at the
block's level in every block, no score-correction buffer) imported as transformers loads it;
the width methods' and compiled backend's refusals. tests/test_families.py runs the shared
per-family tests on it."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from huggingface_hub.errors import StrictDataclassFieldValidationError
from transformers import AXK1Config, AXK1ForCausalLM

from prunebench import PrunebenchError
from prunebench.checkpoint.local_import import import_local
from prunebench.checkpoint.param_count import (block_param_count, checked_config_json,
                                               checkpoint_config, config_from_dict,
                                               count_params, layer_shapes, refuse_moe,
                                               sparse_mlp_blocks)
from prunebench.modeling import load_config, load_model, remove_blocks
from block_helpers import kept_blocks_state
from test_deepseek import random_model, write_published_folder
from test_families import FAMILIES, _write_config, family_model, ids, logits, numel
from test_families import tokenizer  # noqa: F401 - a fixture
from test_glm4_moe import check_loads_as_transformers
from test_helium_vaultgemma_granitemoeshared import SHAPE, check_counts, theirs
from test_moe import per_expert_state
from test_qwen3_next import check_a_depth_pruned_reload_decodes_as_transformers

pytestmark = pytest.mark.usefixtures("one_thread")

NAME = "axk1"
LATENT = dict(num_key_value_heads=6, q_lora_rank=24, kv_lora_rank=16, qk_nope_head_dim=8,
              qk_rope_head_dim=4, v_head_dim=8, moe_intermediate_size=24,
              n_routed_experts=4, num_experts_per_tok=2, n_group=2, topk_group=1)


@pytest.mark.parametrize("values", [{**LATENT},
                                    {**LATENT, "attention_bias": True,
                                     "first_k_dense_replace": 2, "n_shared_experts": 2},
                                    {**LATENT, "tie_word_embeddings": True,
                                     "first_k_dense_replace": 0}])
def test_counts_equal_transformers_parameters(values):
    check_counts(NAME, values)


def test_blocks_counted_by_hand():
    """DeepSeek-V3's latent attention; a dense block's MLP of 56 and two norms; a sparse
    block's router, 4 experts of 24, one shared expert of 24 and three norms (the MoE
    output's too)."""
    config = AXK1Config(**{**SHAPE, **LATENT})
    d, heads = 48, 6
    latent = (d * 24 + 24 + 24 * heads * 12) + (d * 20 + 16 + 16 * heads * 16) + heads * 8 * d
    dense = latent + 3 * d * 56 + 2 * d
    sparse = latent + 4 * d + 4 * 3 * d * 24 + 3 * d * 24 + 3 * d
    assert [block_param_count(config, s) for s in layer_shapes(config)] == [dense, sparse,
                                                                            sparse]
    model = AXK1ForCausalLM(config)
    assert [sum(p.numel() for p in layer.parameters()) for layer in model.model.layers] == [
        dense, sparse, sparse]


@pytest.mark.parametrize("keys", [{}, {"first_k_dense_replace": 0},
                                  {"first_k_dense_replace": 3}])
def test_block_kinds_read_from_config_json_are_its_classs(keys):
    """Each block's MLP kind as AXK1Config derives it where config.json gives no
    mlp_layer_types (the first first_k_dense_replace blocks dense, 1 by default), read without
    transformers and counted alike, in 5.17 (first_k_dense_replace) and 5.25 (the list)."""
    raw = {k: v for k, v in FAMILIES[NAME]().to_dict().items()
           if k not in ("mlp_layer_types", "first_k_dense_replace", "dtype")}
    raw.update(num_hidden_layers=5, **keys)
    theirs_, ours = AXK1Config.from_dict(raw), config_from_dict(raw)
    dense = keys.get("first_k_dense_replace", 1)
    assert sparse_mlp_blocks(ours) == sparse_mlp_blocks(theirs_) == [i >= dense
                                                                     for i in range(5)]
    assert count_params(ours) == count_params(theirs_) == sum(
        p.numel() for p in AXK1ForCausalLM(theirs_).parameters())


@pytest.mark.parametrize("drop", [[0], [1, 2], [3]])
def test_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(drop):
    """Each kept block's MLP kind under its new index: mlp_layer_types renumbered (5.25) and
    first_k_dense_replace the count of kept dense blocks (5.17 reads it alone), both written;
    the logits transformers' model's of the kept blocks."""
    dense = family_model(NAME)
    model = remove_blocks(copy.deepcopy(dense), drop)
    keep = [b for b in range(4) if b not in drop]
    kinds = [["dense", "sparse", "sparse", "sparse"][b] for b in keep]
    assert sparse_mlp_blocks(model.config) == [kind == "sparse" for kind in kinds]
    saved = json.loads(model.config.to_json_string())
    assert saved["first_k_dense_replace"] == kinds.count("dense")
    values = {**dense.config.to_dict(), "num_hidden_layers": len(keep),
              "first_k_dense_replace": kinds.count("dense"), "mlp_layer_types": kinds}
    reference = theirs(NAME, values, kept_blocks_state(dense, keep))
    assert sparse_mlp_blocks(reference.config) == sparse_mlp_blocks(model.config)
    x = ids(2, 24)
    torch.testing.assert_close(logits(model, x), logits(reference, x), rtol=0, atol=1e-6)
    assert numel(model) == count_params(model.config) == numel(reference)
    assert count_params(config_from_dict(saved)) == numel(model)


def test_the_moe_output_norm_matters():
    """What the tests above would miss if the sparse blocks' output norm were ignored: its
    weights changed, the logits change by far more than float32's rounding."""
    model = family_model(NAME)
    x = ids(2, 24)
    before = logits(model, x)
    with torch.no_grad():
        for layer in model.model.layers[1:]:
            layer.mlp.post_mlp_layernorm.weight.mul_(2.0)
    assert (logits(model, x) - before).abs().max() > 1e-3 * before.abs().max()


def test_a_depth_pruned_reload_decodes_as_transformers(tmp_path):
    """Saved with blocks 1 and 2 removed, loaded by prunebench and by transformers' class: the
    hf backend's tokens are transformers' generate's, and hf_static's too."""
    check_a_depth_pruned_reload_decodes_as_transformers(family_model(NAME), [1, 2],
                                                        AXK1ForCausalLM, tmp_path / "pruned")


def test_the_published_layout_is_imported_as_transformers_loads_it(tmp_path, tokenizer):  # noqa: F811
    """SK Telecom's layout, as transformers' axk1 conversion reads it: one tensor per expert,
    the MoE output norm stored at the block's level (`post_mlp_layernorm`) in every block,
    the dense one's unused, and no score-correction buffer. Imported, the experts are fused,
    the norms renamed into the sparse blocks' MoE and dropped from the dense block, and the
    buffers written as the zeros transformers leaves them at; prunebench's load holds what
    transformers' own loading of the published folder holds, and computes the model's
    logits. The norm renamed matters: left unread it would be the class's ones."""
    model = random_model(FAMILIES[NAME]())
    with torch.no_grad():
        for layer in model.model.layers[1:]:
            layer.mlp.post_mlp_layernorm.weight.uniform_(0.5, 1.5)
            layer.mlp.gate.e_score_correction_bias.zero_()
    state = {k.replace(".mlp.post_mlp_layernorm.", ".post_mlp_layernorm."): v
             for k, v in per_expert_state(model, NAME).items()
             if not k.endswith("e_score_correction_bias")}
    state["model.layers.0.post_mlp_layernorm.weight"] = torch.full((64,), 3.0)
    hub = tmp_path / "hub"
    write_published_folder(hub, tokenizer, json.loads(model.config.to_json_string()), state)
    out = import_local(f"local:{hub}", tmp_path / "imported")
    ours = load_model(out)
    assert torch.equal(ours.model.layers[2].mlp.post_mlp_layernorm.weight,
                       model.model.layers[2].mlp.post_mlp_layernorm.weight)
    assert not hasattr(ours.model.layers[0].mlp, "post_mlp_layernorm")
    assert torch.equal(logits(ours, ids()), logits(model, ids()))
    check_loads_as_transformers(ours, hub)


@pytest.mark.parametrize("method", ["LLM-Pruner", "FLAP", "the compiled backend"])
def test_refuses_what_reshapes_its_experts(method):
    """As DeepSeek-V3's (LoRA on its latent attention: tests/test_moe.py)."""
    with pytest.raises(PrunebenchError, match="mixture-of-experts family 'axk1'.*"
                                              "depth method"):
        refuse_moe(FAMILIES[NAME](), method)


@pytest.mark.parametrize("change, match", [
    ({"q_lora_rank": None}, "q_lora_rank=null for an A.X K1"),
    ({"moe_layer_freq": 2}, "two models where they differ"),
    ({"mlp_layer_types": ["dense", "sparse", "dense", "sparse"]}, "two models"),
    ({"mlp_layer_types": ["dense", "dense", "sparse", "sparse"], "first_k_dense_replace": 1},
     "two models")])
def test_a_config_json_either_version_builds_otherwise_is_refused(change, match, tmp_path):
    """A null query rank (AXK1Config refuses it), and MLP kinds that 5.25 (mlp_layer_types,
    or derived with moe_layer_freq) and 5.17 (first_k_dense_replace alone) would build as two
    models: every reader of the config.json refuses them, those without transformers too."""
    raw = {**{k: v for k, v in FAMILIES[NAME]().to_dict().items()
              if k not in ("dtype", "mlp_layer_types")},
           "first_k_dense_replace": 1, **change}
    if change.get("q_lora_rank", 0) is None:
        with pytest.raises(StrictDataclassFieldValidationError, match="q_lora_rank"):
            AXK1Config.from_dict(raw)
    folder = _write_config(tmp_path / "m", raw)
    for read in (checked_config_json, checkpoint_config, load_config):
        with pytest.raises(PrunebenchError, match=match):
            read(folder)
