"""A.X K2 (axk2, AXK2ForCausalLM: SK Telecom's A.X K2 / K2-Light), transformers 5.24 on
(Family.min_transformers: 5.17 to 5.23 have AXK2Config but hold the routers' weights in the
model's dtype, which 5.24 keeps in float32): the pieces of its own, as a mixture of experts
(depth pruning, the hf and hf_static backends).

DeepSeek-V3.2's latent attention and lightning indexer in every block, the queries and an
output gate a value channel from one q_gate_proj over the query latent normed and not; every
input norm and the sparse blocks' post-attention norms gated by a low-rank MLP
(AXK2GatedRMSNorm); the MLP kinds mlp_layer_types names (derived from first_k_dense_replace),
a sigmoid router, grouped where n_group is set, experts and shared experts. The release
refusal and its reason shown on the installed class; counts against transformers' meta models
and by hand from config.json alone (any release); depth pruning equal to transformers' model
of the kept blocks (mlp_layer_types and the indexers' cache entries renumbered, the indexers
choosing 4 keys); a depth-pruned reload decoded by hf / hf_static as transformers' generate;
the published layout (experts apart, the gates' W_down / W_up, the fused q_b_proj, an MTP
layer) imported as transformers loads it; the config.json refusals. tests/test_families.py
runs the shared per-family tests on it."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from prunebench import PrunebenchError
from prunebench.checkpoint import moe_fuse, param_count
from prunebench.checkpoint.local_import import import_local
from prunebench.checkpoint.param_count import (block_param_count, checked_config_json,
                                               config_from_dict, count_params,
                                               depth_kept_blocks, gated_norm_params,
                                               kv_bytes_per_token, layer_shapes,
                                               transformers_release_problem)
from prunebench.modeling import default_dtype, load_model, remove_blocks
from block_helpers import kept_blocks_state
from test_deepseek import random_model, write_published_folder
from test_exaone_internlm3 import check_refused_below_its_release, needs
from test_families import FAMILIES, _write_config, family_model, ids, logits, numel
from test_families import tokenizer  # noqa: F401 - a fixture
from test_glm4_moe import check_loads_as_transformers, with_mtp_layer
from test_helium_vaultgemma_granitemoeshared import check_counts, theirs
from test_moe import per_expert_state
from test_qwen3_next import check_a_depth_pruned_reload_decodes_as_transformers

pytestmark = pytest.mark.usefixtures("one_thread")

NAME = "axk2"
# Three blocks of 48, 6 heads of latent attention (query rank 24, KV rank 16, 8 + 4 query/key
# channels, values of 8), block 0 dense of 56, then 4 experts of 24 (2 a token) and one shared,
# an indexer of 2 heads of 8, norm gates of rank 4: what config.json gives (no class needed).
TINY = dict(vocab_size=97, hidden_size=48, intermediate_size=56, num_hidden_layers=3,
            num_attention_heads=6, num_key_value_heads=6, moe_intermediate_size=24,
            n_routed_experts=4, num_experts_per_tok=2, n_shared_experts=1, q_lora_rank=24,
            kv_lora_rank=16, qk_nope_head_dim=8, qk_rope_head_dim=4, v_head_dim=8,
            index_n_heads=2, index_head_dim=8, gated_norm_rank=4, first_k_dense_replace=1)


# ------------------------------------------------------------------ the release it needs

def test_an_older_transformers_is_refused_before_the_model_loads_naming_the_upgrade(
        tmp_path, monkeypatch):
    check_refused_below_its_release(NAME, "5.24.0", {"model_type": NAME, **TINY}, tmp_path,
                                    monkeypatch)
    for namespace in (param_count, param_count.releases, param_count.prune_rules):
        monkeypatch.setattr(namespace, "installed_transformers", lambda: "5.23.0")
    assert "hold its routers' weights in the model's dtype" in transformers_release_problem(NAME)


def test_the_release_it_needs_is_the_first_whose_router_is_float32():
    """The reason is the installed class's: built under a bfloat16 default, its router's
    weights are float32 exactly where the family is not refused (5.25), bfloat16 where it is
    (5.17)."""
    from transformers import AXK2Config
    from transformers.models.axk2.modeling_axk2 import AXK2TopkRouter

    values = {k: v for k, v in TINY.items() if k != "first_k_dense_replace"}
    with default_dtype(torch.bfloat16):
        router = AXK2TopkRouter(AXK2Config(**values))
    assert (router.weight.dtype == torch.float32) == (transformers_release_problem(NAME) is None)


# ------------------------------------------------------------------------------- counts

@pytest.mark.parametrize("values", [{}, {"attention_bias": True, "tie_word_embeddings": True,
                                         "n_group": 2, "topk_group": 1},
                                    {"first_k_dense_replace": 2, "n_shared_experts": 2}])
def test_counts_equal_transformers_parameters(values):
    """count_params of the config, of prunebench's meta model and of its config.json read
    without a class (mlp_layer_types derived from first_k_dense_replace) equals the meta
    model's parameters."""
    check_counts(NAME, {k: v for k, v in {**TINY, **values}.items()
                        if k not in ("vocab_size", "hidden_size", "intermediate_size",
                                     "num_hidden_layers", "num_key_value_heads")})


def test_blocks_counted_by_hand_from_config_json_alone():
    """Read without transformers (any release): the latent attention with q_gate_proj (2 x 24
    -> 6 x (12 + 8)) in place of q_b_proj, the indexer, an input norm gated (48 + 2 x 48 x 4)
    in every block; a dense block's MLP of 56 and plain post-attention norm; a sparse block's
    router, 4 experts of 24, a shared one and a gated post-attention norm."""
    config = config_from_dict({"model_type": NAME, **TINY})
    d, heads = 48, 6
    latent = ((d * 24 + 24 + 2 * 24 * heads * 20) + (d * 20 + 16 + 16 * heads * 16)
              + heads * 8 * d)
    indexer = 24 * 16 + d * 8 + 2 * 8 + d * 2
    gate = 2 * d * 4
    dense = latent + indexer + 3 * d * 56 + 2 * d + gate
    sparse = latent + indexer + 4 * d + 4 * 3 * d * 24 + 3 * d * 24 + 2 * d + 2 * gate
    assert gated_norm_params(config, False) == gate and gated_norm_params(config, True) == 2 * gate
    assert [block_param_count(config, s) for s in layer_shapes(config)] == [dense, sparse,
                                                                            sparse]
    assert count_params(config) == 2 * 97 * d + d + dense + 2 * sparse


# ------------------------------------------------------------------------ depth pruning

def choosing(model):
    """`model` with its indexers keeping 4 keys a query (the shared tests' keep every key)."""
    model.config.index_topk = 4
    for layer in model.model.layers:
        layer.self_attn.indexer.index_topk = 4
    return model


@pytest.fixture(scope="module")
def dense():
    needs(NAME)
    return choosing(family_model(NAME)).eval()


@pytest.mark.parametrize("drop", [[0], [1, 2], [3]])
def test_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(dense, drop):
    """Each kept block's MLP kind under its new index (mlp_layer_types renumbered, block 0,
    dense, removable: no block reads another's), its indexer's cache entry renumbered: the
    logits over 24 tokens, the indexers choosing 4, are transformers' model's of the kept
    blocks, whose count it has."""
    assert depth_kept_blocks(dense.config) == []
    model = remove_blocks(copy.deepcopy(dense), drop)
    keep = [b for b in range(4) if b not in drop]
    assert model.config.mlp_layer_types == [["dense", "sparse", "sparse", "sparse"][b]
                                            for b in keep]
    assert [layer.self_attn.indexer.layer_idx for layer in model.model.layers] == list(
        range(len(keep)))
    values = {**dense.config.to_dict(), "num_hidden_layers": len(keep),
              "mlp_layer_types": model.config.mlp_layer_types,
              "layer_types": dense.config.layer_types[:len(keep)]}
    reference = theirs(NAME, values, kept_blocks_state(dense, keep))
    x = ids(2, 24)
    torch.testing.assert_close(logits(model, x), logits(reference, x), rtol=0, atol=1e-5)
    assert numel(model) == count_params(model.config) == numel(reference)


def test_its_kv_cache_holds_the_latent_and_an_indexer_key_a_block(dense):
    """A position adds, in each of the 4 blocks, the latent (16), the rotated key (4) and the
    indexer's key (8): in half precision 4 x 28 x 2 bytes; the cache transformers fills
    holds that many values (5.24 on caches the latent, not the expanded keys and values)."""
    config = dense.config
    kv_heads = sum(s["num_key_value_heads"] for s in layer_shapes(config))
    assert kv_bytes_per_token(config, kv_heads) == 4 * 28 * 2
    with torch.no_grad():
        layers = dense(ids(1, 5), use_cache=True).past_key_values.layers
    assert sum(layer.keys.numel() + layer.values.numel() + layer.indexer_keys.numel()
               for layer in layers) == 5 * 4 * 28


def test_a_depth_pruned_reload_decodes_as_transformers(tmp_path):
    """Saved with blocks 1 and 2 removed, loaded by prunebench and by AXK2ForCausalLM: the hf
    and hf_static backends' tokens are transformers' generate's; its config.json reads back,
    without transformers, as the model."""
    needs(NAME)
    from transformers import AXK2ForCausalLM

    model = family_model(NAME)
    check_a_depth_pruned_reload_decodes_as_transformers(model, [1, 2], AXK2ForCausalLM,
                                                        tmp_path / "pruned")
    raw = json.loads((tmp_path / "pruned" / "config.json").read_text())
    assert raw["mlp_layer_types"] == ["dense", "sparse"]
    assert count_params(config_from_dict(raw)) == numel(model)


# ------------------------------------------------------------------- the published layout

def published_state(model) -> dict[str, torch.Tensor]:
    """`model`'s weights under SK Telecom's names, one tensor per expert, with an MTP layer
    after its three blocks (model.layers.4)."""
    renames = {".input_layernorm.mlp.fc1.": ".input_layernorm.W_down.",
               ".input_layernorm.mlp.fc2.": ".input_layernorm.W_up.",
               ".post_attention_layernorm.mlp.fc1.": ".post_attention_layernorm.W_down.",
               ".post_attention_layernorm.mlp.fc2.": ".post_attention_layernorm.W_up.",
               ".self_attn.q_gate_proj.": ".self_attn.q_b_proj."}
    state = {}
    for key, tensor in with_mtp_layer(per_expert_state(model, NAME), 4, 64).items():
        for held, published in renames.items():
            key = key.replace(held, published)
        state[key] = tensor
    return state


def test_the_published_layout_is_imported_as_transformers_loads_it(tmp_path, request):
    """SK Telecom's layout, as transformers' axk2 conversion reads it: one tensor per expert,
    each gated norm's MLP as W_down / W_up, the query-and-gate projection as q_b_proj, and a
    multi-token-prediction layer after the last block (num_nextn_predict_layers), which
    AXK2ForCausalLM does not build. Imported: the experts fused, the names renamed, the MTP
    layer dropped and recorded; prunebench's load holds what transformers' own loading of the
    published folder holds and computes its logits."""
    needs(NAME)
    words = request.getfixturevalue("tokenizer")  # (after needs: none built on 5.17)
    model = random_model(FAMILIES[NAME]())
    state = published_state(model)
    assert "model.layers.1.input_layernorm.W_down.weight" in state
    hub = tmp_path / "hub"
    write_published_folder(hub, words, {**json.loads(model.config.to_json_string()),
                                             "num_nextn_predict_layers": 1}, state)
    out = import_local(f"local:{hub}", tmp_path / "imported")
    record = json.loads((out / moe_fuse.RECORD).read_text())
    assert record["dropped_blocks"] == ["model.layers.4"]
    assert "AXK2ForCausalLM" in record["dropped_note"]
    ours = load_model(out)
    assert numel(ours) == count_params(ours.config) == numel(model)
    assert torch.equal(ours.model.layers[1].post_attention_layernorm.mlp.fc2.weight,
                       model.model.layers[1].post_attention_layernorm.mlp.fc2.weight)
    assert torch.equal(logits(ours, ids()), logits(model, ids()))
    check_loads_as_transformers(ours, hub)


# --------------------------------------------------------------------------- refusals

@pytest.mark.parametrize("change, match", [
    ({"q_lora_rank": None}, "q_lora_rank=None for an A.X K2"),
    ({"q_lora_rank": 0}, "q_lora_rank=0 for an A.X K2"),
    ({"n_group": 2}, "n_group=2 and topk_group=None"),
    ({"n_group": 3, "topk_group": 1}, "n_group=3 and topk_group=1 for an A.X K2 model of 4"),
    ({"n_group": 2, "topk_group": 3}, "n_group dividing the experts and topk_group at most")])
def test_a_config_json_transformers_cannot_build_is_refused(change, match, tmp_path):
    """Read without transformers (any release): a query rank that is not positive and expert
    groups AXK2Config refuses (its own refusal shown where the class is installed)."""
    folder = _write_config(tmp_path / "m", {"model_type": NAME, **TINY, **change})
    with pytest.raises(PrunebenchError, match=match):
        checked_config_json(folder)
    if transformers_release_problem(NAME) is None:
        from transformers import AXK2Config

        with pytest.raises(Exception, match="q_lora_rank|n_group|topk_group"):
            AXK2Config(**{k: v for k, v in {**TINY, **change}.items()
                          if k != "first_k_dense_replace"})
