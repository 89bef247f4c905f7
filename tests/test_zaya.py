"""ZAYA (zaya, ZayaForCausalLM; Zyphra's ZAYA1): the pieces of its own, as a mixture of experts
(depth pruning, the hf and hf_static backends).

Compressed convolutional attention (ZayaCCAProjection: q and k mixed by two causal convolutions
over time, the values half current and half one token delayed, both states held by the cache
under the projection's own layer_idx), an L2 q/k norm with a key scale a KV head, an MLP router
of router_hidden_size that adds the previous block's router state (scaled by
router_states_scale, which block 0 lacks), the residual scaling of each sublayer and of the
embeddings, an LM head bias; "hybrid" and windowed "hybrid_sliding" blocks by layer_types.
Counts against transformers' meta models (the published ZAYA1-8B config.json too); depth
pruning equal to transformers' model of the kept blocks (layer_types renumbered, the CCA
projections' cache indices renumbered, the router left first made as block 0's), each shown
to matter; a depth-pruned reload decoded by hf / hf_static as transformers' generate; the
config.json refusals. tests/test_families.py runs the shared per-family tests on it."""

from __future__ import annotations

import copy

import pytest
import torch
from transformers import ZayaConfig, ZayaForCausalLM

from prunebench import PrunebenchError
from prunebench.checkpoint.architectures import architecture_shape, known_shape_of
from prunebench.checkpoint.param_count import (block_param_count, checked_config_json,
                                               config_from_dict, count_params, layer_shapes)
from prunebench.modeling import load_model, remove_blocks, save_model
from block_helpers import kept_blocks_state
from test_families import _write_config, family_model, ids, logits, numel
from test_deepseek_v2 import check_known_shape
from test_helium_vaultgemma_granitemoeshared import theirs
from test_qwen3_next import check_a_depth_pruned_reload_decodes_as_transformers

pytestmark = pytest.mark.usefixtures("one_thread")

NAME = "zaya"
# Zyphra/ZAYA1-8B's config.json (revision 67d34da5, as sglang's test_zaya_config copies it
# with the layer list compressed), the known shape zaya1-8b: a top-level
# partial_rotary_factor and a rope_type beside the per-kind rotary values, which ZayaConfig
# drops.
PUBLISHED = {"architectures": ["ZayaForCausalLM"], "dtype": "bfloat16",
             **architecture_shape("zaya1-8b")}


@pytest.fixture(scope="module")
def model():
    """The tiny model (tests/test_families.py) with its residual and embedding scales near 1
    (family_model draws such vectors near 0, which starves the residual stream) and every
    piece of its own away from its initial value, so that each must be carried over."""
    m = family_model(NAME)
    torch.manual_seed(3)
    with torch.no_grad():
        for pname, p in m.named_parameters():
            if pname.endswith(("_scale", "hidden_states_scale")):
                p.copy_(1 + 0.2 * torch.randn_like(p))
        for layer in m.model.layers:
            layer.mlp.gate.balancing_biases.copy_(0.1 * torch.randn(5))
    return m


def meta_count(config) -> int:
    with torch.device("meta"):
        return numel(ZayaForCausalLM(config))


# ------------------------------------------------------------------------------- counts

def test_counts_match_transformers_meta_models_and_the_published_config_json(tmp_path, model):
    assert count_params(model.config) == numel(model) == meta_count(model.config)
    values = checked_config_json(_write_config(tmp_path / "8b", PUBLISHED))
    assert count_params(config_from_dict(values)) == meta_count(ZayaConfig(**PUBLISHED))
    # the known shape: the card's 8.3B total without the tied table, its 800M active a step
    # reads beside the head
    check_known_shape("zaya1-8b", 8_840_488_784, 1_290_737_488, "ZayaConfig")
    assert known_shape_of("Zyphra/ZAYA1-8B") == "zaya1-8b"
    assert known_shape_of("Zyphra/ZAYA1-8B-legacy") is None  # (its config.json refused)
    # untied, biased and windowed: the LM head's rows and bias, the q/k/v/o biases
    changed = {**PUBLISHED, "tie_word_embeddings": False, "lm_head_bias": True,
               "attention_bias": True, "cca_time0": 3, "sliding_window": 512,
               "layer_types": ["hybrid_sliding", "hybrid"] * 20}
    assert count_params(config_from_dict(changed)) == meta_count(ZayaConfig(**changed))


def test_block_0s_router_holds_no_router_state_scale(model):
    """ZayaRouter builds router_states_scale by index, in every block but block 0: counted
    one router_hidden_size short there (layer_shapes' router_reads_state)."""
    gates = [layer.mlp.gate for layer in model.model.layers]
    assert [hasattr(g, "router_states_scale") for g in gates] == [False, True, True, True]
    shapes = layer_shapes(model.config)
    assert [s.get("router_reads_state", True) for s in shapes] == [False, True, True, True]
    assert (block_param_count(model.config, shapes[1]) - block_param_count(model.config, shapes[0])
            == model.config.router_hidden_size)


# ---------------------------------------------------------------------------- depth pruning

@pytest.mark.parametrize("drop", [[0, 2], [1]])
def test_a_depth_prune_is_transformers_model_of_the_kept_blocks(model, drop):
    keep = [i for i in range(4) if i not in drop]
    pruned = remove_blocks(copy.deepcopy(model), drop)
    kinds = model.config.layer_types
    assert pruned.config.layer_types == [kinds[i] for i in keep]
    assert [layer.self_attn.qkv_proj.layer_idx for layer in pruned.model.layers] == list(
        range(len(keep)))
    state = kept_blocks_state(model, keep)
    scale = "model.layers.0.mlp.gate.router_states_scale"
    if 0 in drop:
        # transformers' model of the kept blocks has no place for the first one's scale
        with pytest.raises(RuntimeError, match="router_states_scale"):
            theirs(NAME, pruned.config.to_dict(), state)
        del state[scale]
    assert set(state) == set(pruned.state_dict())
    reference = theirs(NAME, pruned.config.to_dict(), state).eval()
    x = ids(2, 12)  # longer than the window of 6
    assert torch.allclose(logits(pruned, x), logits(reference, x), atol=1e-5)
    assert count_params(pruned.config) == numel(pruned)


def test_the_renumbered_layer_types_matter(model):
    """Block 1 removed: the kept blocks' kinds (full, full, windowed) are not the first three
    of the old list (full, windowed, full), which compute other logits."""
    pruned = remove_blocks(copy.deepcopy(model), [1])
    state = kept_blocks_state(model, [0, 2, 3])
    stale = {**pruned.config.to_dict(), "layer_types": model.config.layer_types[:3]}
    x = ids(2, 12)
    assert not torch.allclose(logits(pruned, x), logits(theirs(NAME, stale, state).eval(), x),
                              atol=1e-3)


def cached_last_logits(m, x):
    """The last position's logits of `x` decoded a token at a time after its prefix, through
    transformers' dynamic cache: the CCA projections' convolution and delayed-value states
    read back from the cache under their layer_idx."""
    with torch.no_grad():
        out = m(input_ids=x[:, :-2], use_cache=True)
        out = m(input_ids=x[:, -2:-1], past_key_values=out.past_key_values, use_cache=True)
        return m(input_ids=x[:, -1:], past_key_values=out.past_key_values).logits[:, -1]


def test_the_cca_projections_cache_indices_are_renumbered_and_matter(model):
    """Blocks 1 and 2 removed: each CCA projection reads and writes its convolution and
    delayed-value states under its new index, the cached decode computing the uncached
    logits; under its old one (3 for the last block) it reads past the 2-block cache."""
    pruned = remove_blocks(copy.deepcopy(model), [1, 2])
    x = ids(2, 10)
    assert torch.allclose(cached_last_logits(pruned, x), logits(pruned, x)[:, -1], atol=1e-5)
    pruned.model.layers[1].self_attn.qkv_proj.layer_idx = 3
    with pytest.raises(IndexError):
        cached_last_logits(pruned, x)


def test_the_skip_experts_balancing_bias_is_read_as_transformers_loads_it(model, tmp_path):
    """transformers' from_pretrained sets each router's skip-expert balancing bias to -1
    whatever the checkpoint holds (5.17, 5.25); prunebench's loader too, so that its model
    computes transformers' logits, which the stored biases would not."""
    save_model(model, None, tmp_path)
    ours = load_model(tmp_path)
    reference = ZayaForCausalLM.from_pretrained(tmp_path, dtype=torch.float32).eval()
    x = ids(2, 12)
    assert torch.allclose(logits(ours, x), logits(reference, x), atol=1e-5)
    assert [layer.mlp.gate.balancing_biases[-1].item() for layer in ours.model.layers] == [-1] * 4
    assert not torch.allclose(logits(model, x), logits(ours, x), atol=1e-3)


def test_a_depth_pruned_reload_decodes_as_transformers(model, tmp_path):
    """hf and hf_static (transformers' static cache holds the convolution and delayed-value
    states: LinearAttentionAndStatic*Layer) decode as transformers' generate."""
    check_a_depth_pruned_reload_decodes_as_transformers(copy.deepcopy(model), [0, 2],
                                                        ZayaForCausalLM, tmp_path)


# ---------------------------------------------------------------------------- config.json

@pytest.mark.parametrize("change, words", [
    ({"zaya_use_eda": True, "ffn_hidden_size": 4096}, "Megatron-style"),
    ({"num_experts_per_tok": 2}, "num_experts_per_tok=2"),
    ({"layer_types": ["hybrid"] * 39}, "block kinds"),
    ({"layer_types": ["full_attention"] * 40}, "block kinds"),
    ({"layer_types": ["hybrid_sliding"] * 40}, "without a sliding_window")])
def test_config_json_that_transformers_does_not_build_as_it_says_is_refused(
        tmp_path, change, words):
    with pytest.raises(PrunebenchError, match=words):
        checked_config_json(_write_config(tmp_path / "bad", {**PUBLISHED, **change}))
