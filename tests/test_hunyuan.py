"""Hunyuan dense (hunyuan_v1_dense, HunYuanDenseV1ForCausalLM; Hunyuan-0.5B / 1.8B / 7B): exact
counts with and without the biases attention_bias puts on all four attention projections and
with the per-head q/k norms (one head_dim weight each, counted as Qwen3's); the compiled decoder
against transformers on a width-pruned model, fused and not, and a decoder that normed the
queries and keys before the rotation (Qwen3's order) off by far more than the tolerance; the
NTK-alpha rotary frequencies (rope_scaling type dynamic with an alpha) the decoder's tables are
made of, and cells past the context decoded where they stay (5.25) or refused where
transformers recomputes them (5.17); the published config.json read without torch (its
fine-tuning script's auto_map set aside), a config.json without head_dim refused
(tests/test_families.py runs the shared per-family tests on it too: every method, save and
reload, every backend, evaluation, LoRA)."""

from __future__ import annotations

import copy
import itertools
import json

import pytest
import torch
from transformers import HunYuanDenseV1Config, HunYuanDenseV1ForCausalLM

from prunebench import PrunebenchError
from prunebench.benchmark.compiled import StaticDecoder
from prunebench.checkpoint.architectures import (ARCHITECTURES, architecture_config,
                                                known_shape_of)
from prunebench.checkpoint.param_count import (checkpoint_config, config_from_dict, mlp_bias,
                                               o_bias, qk_norm, qkv_bias)
from prunebench.modeling import count_params, count_params_meta
from test_families import family_model, ids, logits, numel
from test_seed_oss import assert_decoder_is_transformers, width_pruned

pytestmark = pytest.mark.usefixtures("one_thread")

ALPHA_ROPE = {"type": "dynamic", "alpha": 1000.0, "factor": 1.0}


def small(**kw) -> HunYuanDenseV1Config:
    # head_dim 12 with hidden 40 and 4 heads: heads x head_dim (48) is not hidden, so a count
    # that took the norms' size from hidden / heads would be off
    values = dict(vocab_size=97, hidden_size=40, intermediate_size=56, num_hidden_layers=3,
                  num_attention_heads=4, num_key_value_heads=2, head_dim=12,
                  rope_theta=10000.0, rope_scaling=dict(ALPHA_ROPE))
    return HunYuanDenseV1Config(**{**values, **kw})


@pytest.mark.parametrize("bias,tied", list(itertools.product([False, True], repeat=2)))
def test_counts_equal_transformers_parameters(bias, tied):
    config = small(attention_bias=bias, tie_word_embeddings=tied)
    model = HunYuanDenseV1ForCausalLM(config)
    attn, mlp = model.model.layers[0].self_attn, model.model.layers[0].mlp
    for linear in (attn.q_proj, attn.k_proj, attn.v_proj, attn.o_proj):
        assert (linear.bias is not None) == bias
    # its MLP has no biases whatever the config says (HunYuanDenseV1MLP reads no mlp_bias)
    assert all(p.bias is None for p in (mlp.gate_proj, mlp.up_proj, mlp.down_proj))
    assert attn.query_layernorm.weight.shape == attn.key_layernorm.weight.shape == (12,)
    assert qkv_bias(config) == o_bias(config) == bias and not mlp_bias(config)
    assert qk_norm(config)
    assert count_params(config) == count_params_meta(config) == numel(model)
    # and without transformers, from its config.json's values (`prunebench plan`)
    assert count_params(config_from_dict(json.loads(config.to_json_string()))) == numel(model)


# tencent/Hunyuan-7B-Instruct's shape as public code quotes its config.json (architectures.py
# says where from), with the auto_map Tencent's own fine-tuning script writes into a
# config.json, naming code that prunebench sets aside.
PUBLISHED_CONFIG = {
    "architectures": ["HunYuanDenseV1ForCausalLM"], "model_type": "hunyuan_v1_dense",
    "auto_map": {"AutoConfig": "configuration_hunyuan.HunYuanConfig",
                 "AutoModel": "modeling_hunyuan.HunyuanModel",
                 "AutoModelForCausalLM": "modeling_hunyuan.HunYuanForCausalLM"},
    "attention_bias": False, "attention_dropout": 0.1, "attention_head_dim": 128,
    "bos_token_id": 127958, "eos_token_id": 127960, "pad_token_id": 127961, "head_dim": 128,
    "hidden_act": "silu", "hidden_size": 4096, "intermediate_size": 14336,
    "max_position_embeddings": 262144, "mlp_bias": False, "num_attention_heads": 32,
    "num_hidden_layers": 32, "num_key_value_heads": 8, "rms_norm_eps": 1e-05,
    "rope_scaling": {"alpha": 1000.0, "beta_fast": 32, "beta_slow": 1, "factor": 1.0,
                     "mscale": 1.0, "mscale_all_dim": 1.0, "type": "dynamic"},
    "rope_theta": 10000.0, "tie_word_embeddings": True, "use_cla": False, "use_qk_norm": True,
    "vocab_size": 128167, "torch_dtype": "bfloat16"}


def test_the_7b_counts_by_hand_from_its_config_json_alone(tmp_path):
    """Hunyuan-7B's config.json read without torch or transformers, its count written out by
    hand: q 32 x 128, k and v 8 x 128, no biases, a q and a k norm of 128 a block, a SwiGLU
    MLP, two RMSNorms a block; the embeddings tied to the head, a final norm."""
    d, q, kv, hd, m, vocab, blocks = 4096, 32 * 128, 8 * 128, 128, 14336, 128167, 32
    by_hand = blocks * (d * q + 2 * d * kv + q * d + 2 * hd + 3 * d * m + 2 * d) + vocab * d + d
    assert by_hand == 7_504_568_320
    (tmp_path / "config.json").write_text(json.dumps(PUBLISHED_CONFIG))
    assert count_params(checkpoint_config(tmp_path)) == by_hand  # its auto_map set aside
    assert count_params(config_from_dict(ARCHITECTURES["hunyuan-7b"])) == by_hand
    built = architecture_config("hunyuan-7b")
    assert type(built).__name__ == "HunYuanDenseV1Config"
    assert count_params(built) == count_params_meta(built) == by_hand
    assert built.rope_parameters["alpha"] == 1000.0 and built.tie_word_embeddings
    # attention_bias true puts a bias on all four projections, the MLP none
    assert count_params(config_from_dict({**PUBLISHED_CONFIG, "attention_bias": True})) == (
        by_hand + blocks * (q + 2 * kv + d))


def test_code_other_than_its_own_in_auto_map_is_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({**PUBLISHED_CONFIG, "auto_map": {
        "AutoModelForCausalLM": "modeling_other.OtherForCausalLM"}}))
    with pytest.raises(PrunebenchError, match="custom code"):
        checkpoint_config(tmp_path)


def test_a_config_json_without_head_dim_is_refused_with_what_to_do(tmp_path):
    """transformers cannot build the model without one (its attention reads config.head_dim
    with no fallback to hidden / heads): refused when read, not counted as hidden / heads."""
    (tmp_path / "config.json").write_text(json.dumps(
        {k: v for k, v in PUBLISHED_CONFIG.items() if k != "head_dim"}))
    with pytest.raises(PrunebenchError, match="no head_dim for a Hunyuan dense model.*128"):
        checkpoint_config(tmp_path)
    with pytest.raises(TypeError):  # what transformers does with it
        HunYuanDenseV1ForCausalLM(small(head_dim=None))


def test_the_hub_ids_name_the_known_shapes():
    for size in ("7b", "1.8b", "0.5b"):
        for kind in ("Instruct", "Pretrain"):
            assert known_shape_of(f"tencent/Hunyuan-{size.upper()}-{kind}") == f"hunyuan-{size}"
    assert known_shape_of("tencent/Hunyuan-7B-Instruct-0124") is None  # January's other 7B
    assert known_shape_of("tencent/Hunyuan-7B-Instruct-AWQ-Int4") is None  # quantized
    assert known_shape_of("tencent/Hunyuan-4B-Instruct") is None  # its MLP width unverified


@pytest.mark.parametrize("fuse", [True, False])
def test_the_compiled_decoder_equals_transformers_on_a_width_pruned_model_with_biases(fuse):
    """The fused block adds the four attention biases (q/k/v fused with their rows, or one
    projection at a time), rotates the queries and keys with the model's NTK-alpha tables and
    then norms each head: its logits equal transformers' at every length, prefilled and decoded
    through its static cache, for a width-pruned model (a KV group out of block 0, every head
    out of block 1, a third of the MLP channels out of blocks 0-2)."""
    assert_decoder_is_transformers(width_pruned("hunyuan_v1_dense"),
                                   lambda layer: layer.self_attn.o_proj.bias, fuse)


def test_norming_the_heads_before_the_rotation_would_be_caught():
    """The q/k norms' weights (random here, as trained ones are) make their order with the
    rotation matter: the decoder norms the rotated heads as transformers does, and the same
    decoder norming them first (Qwen3's order, what prunebench did before this family) is off
    by far more than the tolerance."""
    model = family_model("hunyuan_v1_dense")
    x = ids(2, 16, seed=3)
    want = logits(model, x)[:, -1]
    with torch.inference_mode():
        decoder = StaticDecoder(model, 2, 16, mode="eager")
        torch.testing.assert_close(decoder.prefill_logits(x), want, rtol=0, atol=1e-4)
        for block in decoder.blocks:
            assert block.qk_norm_after_rotary and block.q_norm_w is not None
            block.qk_norm_after_rotary = False
        assert (decoder.prefill_logits(x) - want).abs().max() > 1e-2


def test_the_ntk_alpha_frequencies_are_the_decoders():
    """rope_scaling type dynamic with an alpha: the base is rope_theta * alpha ** (hd / (hd -
    2)), static at every length (transformers 5.25 names it ntk_alpha, 5.17 keeps 'dynamic'
    and computes the same frequencies). The decoder's tables are cos / sin of those
    frequencies, not of rope_theta's, and a model without the alpha decodes otherwise."""
    model = family_model("hunyuan_v1_dense")
    hd, theta = model.config.head_dim, 10000.0
    base = theta * 1000.0 ** (hd / (hd - 2))
    inv_freq = 1.0 / base ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd)
    torch.testing.assert_close(model.model.rotary_emb.inv_freq.double(), inv_freq,
                               rtol=1e-6, atol=0)
    angles = torch.arange(16, dtype=torch.float64)[:, None] * inv_freq
    with torch.inference_mode():
        decoder = StaticDecoder(model, 1, 16, mode="eager")
    torch.testing.assert_close(decoder.cos[:16].double(), torch.cat([angles.cos()] * 2, -1),
                               rtol=0, atol=1e-5)
    torch.testing.assert_close(decoder.sin[:16].double(), torch.cat([angles.sin()] * 2, -1),
                               rtol=0, atol=1e-5)
    plain = family_model("hunyuan_v1_dense")  # the same weights, rope_theta's frequencies
    plain.config.rope_parameters = {"rope_type": "default", "rope_theta": theta}
    plain.model.rotary_emb = type(plain.model.rotary_emb)(plain.config)
    x = ids(1, 16, seed=4)
    assert not torch.allclose(logits(plain, x), logits(model, x), atol=1e-2)


def test_cells_past_the_context_decode_exactly_where_the_frequencies_stay():
    """Past max_position_embeddings (256 here) transformers 5.25 keeps the NTK-alpha
    frequencies (its `ntk_alpha` type), while 5.17's `dynamic` type recomputes them without the
    alpha: the compiled decoder, whose tables are fixed, decodes such a cell as transformers
    does where they stay, and refuses it where transformers' module would change them."""
    model = family_model("hunyuan_v1_dense")
    length = model.config.max_position_embeddings + 44
    rotary = copy.deepcopy(model.model.rotary_emb)
    before = rotary.inv_freq.clone()
    with torch.no_grad():
        rotary(torch.zeros(1, 1), torch.arange(length)[None])
    x = ids(1, length, seed=6)
    with torch.inference_mode():
        if torch.equal(rotary.inv_freq, before):
            decoder = StaticDecoder(model, 1, length, mode="eager")
            torch.testing.assert_close(decoder.prefill_logits(x), logits(model, x)[:, -1],
                                       rtol=0, atol=1e-4)
        else:
            with pytest.raises(PrunebenchError, match="recomputes its rotary frequencies"):
                StaticDecoder(model, 1, length, mode="eager")
