"""ERNIE 4.5, dense (ernie4_5, Ernie4_5ForCausalLM; ERNIE-4.5-0.3B): exact counts with and
without the biases its one key `use_bias` puts on every projection; the compiled decoder
against transformers on a width-pruned model with every bias, fused and not, and its rotation
(whole heads in adjacent pairs, in float32, cast back) equal to transformers' bit for bit in
bfloat16; the biases sliced by head and channel removal, FLAP's compensation added to the
o_proj and down_proj biases the model already has; the published config.json (its own code
named in auto_map, set aside) read without torch (tests/test_families.py runs the shared
per-family tests on it too: every method, save and reload, every backend, evaluation, LoRA)."""

from __future__ import annotations

import copy
import itertools
import json

import pytest
import torch
from transformers import Ernie4_5Config, Ernie4_5ForCausalLM

from prunebench import PrunebenchError
from prunebench.benchmark.compiled import StaticDecoder
from prunebench.benchmark.fused_block import apply_rotary
from prunebench.checkpoint.architectures import (ARCHITECTURES, architecture_config,
                                                known_shape_of)
from prunebench.checkpoint.param_count import (checkpoint_config, config_from_dict, mlp_bias,
                                               o_bias, qkv_bias)
from prunebench.methods import flap, surgery
from prunebench.modeling import count_params, count_params_meta, layer_shapes
from test_families import family_model, ids, numel
from test_seed_oss import assert_decoder_is_transformers, width_pruned

pytestmark = pytest.mark.usefixtures("one_thread")


def small(**kw) -> Ernie4_5Config:
    # head_dim 12 with hidden 40 and 4 heads: heads x head_dim (48) is not hidden, as the
    # 0.3B's 16 x 128 is not its 1024
    values = dict(vocab_size=97, hidden_size=40, intermediate_size=56, num_hidden_layers=3,
                  num_attention_heads=4, num_key_value_heads=2, head_dim=12)
    return Ernie4_5Config(**{**values, **kw})


@pytest.mark.parametrize("use_bias,tied", list(itertools.product([False, True], repeat=2)))
def test_counts_equal_transformers_parameters(use_bias, tied):
    config = small(use_bias=use_bias, tie_word_embeddings=tied)
    model = Ernie4_5ForCausalLM(config)
    attn, mlp = model.model.layers[0].self_attn, model.model.layers[0].mlp
    # one key biases all seven projections
    for linear in (attn.q_proj, attn.k_proj, attn.v_proj, attn.o_proj, mlp.gate_proj,
                   mlp.up_proj, mlp.down_proj):
        assert (linear.bias is not None) == use_bias
    assert qkv_bias(config) == o_bias(config) == mlp_bias(config) == use_bias
    assert count_params(config) == count_params_meta(config) == numel(model)
    # and without transformers, from its config.json's values (`prunebench plan`)
    assert count_params(config_from_dict(json.loads(config.to_json_string()))) == numel(model)


# baidu/ERNIE-4.5-0.3B-PT's config.json as public code quotes it (architectures.py says where
# from), its auto_map naming the code the repository ships, which prunebench sets aside.
PUBLISHED_CONFIG = {
    "architectures": ["Ernie4_5_ForCausalLM"],
    "auto_map": {"AutoConfig": "configuration_ernie4_5.Ernie4_5_Config",
                 "AutoModel": "modeling_ernie4_5.Ernie4_5_Model",
                 "AutoModelForCausalLM": "modeling_ernie4_5.Ernie4_5_ForCausalLM"},
    "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu", "hidden_size": 1024,
    "intermediate_size": 3072, "max_position_embeddings": 131072, "model_type": "ernie4_5",
    "num_attention_heads": 16, "num_key_value_heads": 2, "head_dim": 128,
    "num_hidden_layers": 18, "pad_token_id": 0, "rms_norm_eps": 1e-05, "use_cache": False,
    "vocab_size": 103424, "rope_theta": 500000, "use_bias": False, "tie_word_embeddings": True,
    "torch_dtype": "bfloat16"}


def test_the_03b_counts_by_hand_from_its_config_json_alone(tmp_path):
    """ERNIE-4.5-0.3B's config.json read without torch or transformers, its count written out
    by hand: q is 16 x 128 = 2048 wide (not hidden's 1024), k and v 2 x 128 = 256, no biases;
    a SwiGLU MLP, two RMSNorms a block; the embeddings tied to the head, a final norm."""
    d, q, kv, m, vocab, blocks = 1024, 16 * 128, 2 * 128, 3072, 103424, 18
    by_hand = blocks * (d * q + 2 * d * kv + q * d + 3 * d * m + 2 * d) + vocab * d + d
    assert by_hand == 360_748_032
    (tmp_path / "config.json").write_text(json.dumps(PUBLISHED_CONFIG))
    assert count_params(checkpoint_config(tmp_path)) == by_hand  # its auto_map set aside
    assert count_params(config_from_dict(ARCHITECTURES["ernie-4.5-0.3b"])) == by_hand
    built = architecture_config("ernie-4.5-0.3b")
    assert type(built).__name__ == "Ernie4_5Config"
    assert count_params(built) == count_params_meta(built) == by_hand
    assert built.rope_parameters == {"rope_type": "default", "rope_theta": 500000.0}
    assert built.tie_word_embeddings and built.max_position_embeddings == 131072
    # a config.json leaving use_bias out gets Ernie4_5Config's: no biases
    bare = {k: v for k, v in PUBLISHED_CONFIG.items() if k != "use_bias"}
    assert count_params(config_from_dict(bare)) == by_hand
    assert count_params(config_from_dict({**bare, "use_bias": True})) == by_hand + blocks * (
        q + 2 * kv + d + 2 * m + d)


def test_code_other_than_its_own_in_auto_map_is_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({**PUBLISHED_CONFIG, "auto_map": {
        "AutoModelForCausalLM": "modeling_other.OtherForCausalLM"}}))
    with pytest.raises(PrunebenchError, match="custom code"):
        checkpoint_config(tmp_path)


def test_the_hub_ids_name_the_known_shape():
    for repo in ("baidu/ERNIE-4.5-0.3B-PT", "baidu/ERNIE-4.5-0.3B-Base-PT"):
        assert known_shape_of(repo) == "ernie-4.5-0.3b"
    assert known_shape_of("unsloth/ERNIE-4.5-0.3B-PT-GGUF") is None  # quantized: refused


@pytest.mark.parametrize("fuse", [True, False])
def test_the_compiled_decoder_equals_transformers_on_a_width_pruned_model_with_biases(fuse):
    """The fused block adds the q/k/v biases (fused with their rows, or one projection at a
    time), the o_proj, gate/up and down_proj biases, and rotates whole heads in adjacent
    pairs: its logits equal transformers' at every length, prefilled and decoded through its
    static cache, for a width-pruned model whose biases are not zero (a bias dropped or sliced
    with the wrong rows moves them by far more than the tolerance)."""
    assert_decoder_is_transformers(width_pruned("ernie4_5"),
                                   lambda layer: layer.mlp.down_proj.bias, fuse)


def test_the_decoders_rotation_is_transformers_in_bfloat16():
    """ERNIE rotates a half-precision model's queries and keys in float32 with float32 tables
    and casts back: the decoder's tables (made by the model's own rotary module) and its
    rotation give transformers' apply_rotary_pos_emb bit for bit in bfloat16."""
    from transformers.models.ernie4_5 import modeling_ernie4_5

    model = family_model("ernie4_5").to(torch.bfloat16)
    decoder = StaticDecoder(model, 2, 24, mode="eager")
    assert decoder.cos.dtype == torch.float32  # the module's full-precision tables
    g = torch.Generator().manual_seed(0)
    heads, hd = model.config.num_attention_heads, model.config.head_dim
    q = torch.randn(2, 24, heads, hd, generator=g).to(torch.bfloat16)  # [B, T, heads, hd]
    k = torch.randn(2, 24, 2, hd, generator=g).to(torch.bfloat16)
    positions = torch.arange(24).unsqueeze(0)
    cos, sin = model.model.rotary_emb(q, positions)
    want_q, want_k = modeling_ernie4_5.apply_rotary_pos_emb(
        q.transpose(1, 2), k.transpose(1, 2), cos, sin)
    tables = (decoder.cos[:24].unsqueeze(1), decoder.sin[:24].unsqueeze(1))
    got = apply_rotary(torch.cat([q, k], dim=2), *tables, pairwise=True)
    assert got.dtype == torch.bfloat16
    assert torch.equal(got[:, :, :heads].transpose(1, 2), want_q)
    assert torch.equal(got[:, :, heads:].transpose(1, 2), want_k)


def test_width_surgery_slices_the_biases_and_keeps_the_output_ones_whole():
    """q/k/v biases lose the removed heads' rows and gate/up the removed channels'; the
    o_proj and down_proj biases are over the hidden size and stay as they were."""
    model = family_model("ernie4_5")
    hd = model.config.head_dim
    attn, mlp = model.model.layers[0].self_attn, model.model.layers[0].mlp
    q_b, k_b, v_b, o_b = (p.bias.detach().clone()
                          for p in (attn.q_proj, attn.k_proj, attn.v_proj, attn.o_proj))
    g_b, u_b, d_b = (p.bias.detach().clone() for p in (mlp.gate_proj, mlp.up_proj, mlp.down_proj))
    surgery.remove_kv_groups(model, 0, [0])  # group 0: query heads 0 and 1, KV head 0
    surgery.remove_channels(model, 0, range(0, 128, 2))
    attn, mlp = model.model.layers[0].self_attn, model.model.layers[0].mlp
    assert torch.equal(attn.q_proj.bias, q_b[2 * hd:])
    assert torch.equal(attn.k_proj.bias, k_b[hd:]) and torch.equal(attn.v_proj.bias, v_b[hd:])
    assert torch.equal(attn.o_proj.bias, o_b)
    assert torch.equal(mlp.gate_proj.bias, g_b[1::2]) and torch.equal(mlp.up_proj.bias, u_b[1::2])
    assert torch.equal(mlp.down_proj.bias, d_b)
    assert layer_shapes(model.config)[0]["o_proj_bias"]
    assert layer_shapes(model.config)[0]["down_proj_bias"]
    assert count_params(model.config) == numel(model)


def test_flap_adds_its_compensation_to_the_existing_output_biases():
    """FLAP's bias compensation (the removed heads' and channels' mean contribution, W[:,
    removed] @ mean) is added to the o_proj and down_proj biases ERNIE already has (use_bias),
    not written over them: each pruned block's bias is the dense one plus that mean, computed
    here from the same statistics."""
    model = family_model("ernie4_5")
    dense = copy.deepcopy(model)
    calibration = ids(8, 24, seed=3)
    stats = flap.collect_stats(dense, calibration, 8)  # as prune collects them (exact)
    # uniform widths (UL-UM) at 60%: every block keeps one KV group of two and part of its
    # MLP, so every block's o_proj and down_proj get a compensation whatever the scores
    report = flap.prune(model, calibration, int(0.6 * numel(model)), structure="UL-UM")
    n_heads, hd = model.config.num_attention_heads, model.config.head_dim
    compensated = 0
    for entry in report["blocks"]:
        b = entry["block"]
        assert set(entry["compensated"]) == {"o_proj", "down_proj"}
        compensated += 1
        kept = set(entry["kept_heads"])
        cols = torch.tensor([h * hd + c for h in range(n_heads) if h not in kept
                             for c in range(hd)])
        o_dense = dense.model.layers[b].self_attn.o_proj
        want = o_dense.bias.detach().double() + (
            o_dense.weight.detach().double()[:, cols] @ stats[b]["o_proj"].mean[cols])
        torch.testing.assert_close(model.model.layers[b].self_attn.o_proj.bias.double(), want,
                                   rtol=0, atol=1e-6)
        down_dense = dense.model.layers[b].mlp.down_proj
        # the channels kept: the dense gate_proj rows the pruned one holds, in their order
        gate_dense = dense.model.layers[b].mlp.gate_proj.weight
        kept_channels = {int((gate_dense == row).all(-1).nonzero()[0])
                         for row in model.model.layers[b].mlp.gate_proj.weight}
        assert len(kept_channels) == entry["channels_kept"] < down_dense.in_features
        cols = torch.tensor([c for c in range(down_dense.in_features)
                             if c not in kept_channels])
        want = down_dense.bias.detach().double() + (
            down_dense.weight.detach().double()[:, cols] @ stats[b]["down_proj"].mean[cols])
        torch.testing.assert_close(model.model.layers[b].mlp.down_proj.bias.double(), want,
                                   rtol=0, atol=1e-6)
    assert compensated == model.config.num_hidden_layers
