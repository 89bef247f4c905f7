"""Seed-OSS (seed_oss, SeedOssForCausalLM; Seed-OSS-36B): exact counts over its three bias keys
(q/k/v by attention_bias, o_proj by attention_out_bias, the MLP by mlp_bias) with head_dim set
apart from hidden / heads; the compiled decoder against transformers on a width-pruned model with
every attention bias; the o_proj bias kept whole by head removal, FLAP's compensation added to
it; the dropout of its config (0.1) off where prunebench runs it in training mode (Taylor+
scoring, LoRA recovery); the known shape counted without torch (tests/test_families.py runs the
shared per-family tests on it too: every method, save and reload, every backend, evaluation,
LoRA)."""

from __future__ import annotations

import copy
import itertools
import json

import pytest
import torch
from transformers import SeedOssConfig, SeedOssForCausalLM

from prunebench import lora
from prunebench.benchmark.compiled import StaticDecoder
from prunebench.checkpoint.architectures import (ARCHITECTURES, architecture_config,
                                                known_shape_of)
from prunebench.checkpoint.param_count import config_from_dict, o_bias, qkv_bias
from prunebench.instructions import embedded_records, split_records
from prunebench.methods import flap, surgery
from prunebench.methods.depth_taylor import taylor_scores
from prunebench.modeling import base_dropout_off, count_params, count_params_meta, layer_shapes
from test_families import certain_steps, family_model, ids, logits, numel

pytestmark = pytest.mark.usefixtures("one_thread")


def small(**kw) -> SeedOssConfig:
    # head_dim 12 with hidden 40 and 4 heads: heads x head_dim (48) is not hidden, as the 36B's
    # 80 x 128 is not its 5120
    values = dict(vocab_size=97, hidden_size=40, intermediate_size=56, num_hidden_layers=3,
                  num_attention_heads=4, num_key_value_heads=2, head_dim=12)
    return SeedOssConfig(**{**values, **kw})


@pytest.mark.parametrize("attention_bias,attention_out_bias,mlp_bias,tied",
                         list(itertools.product([False, True], repeat=4)))
def test_counts_equal_transformers_parameters(attention_bias, attention_out_bias, mlp_bias, tied):
    config = small(attention_bias=attention_bias, attention_out_bias=attention_out_bias,
                   mlp_bias=mlp_bias, tie_word_embeddings=tied)
    model = SeedOssForCausalLM(config)
    attn = model.model.layers[0].self_attn
    # the two attention keys are read apart: q/k/v by one, o_proj by the other
    assert (attn.q_proj.bias is not None) == attention_bias == qkv_bias(config)
    assert (attn.o_proj.bias is not None) == attention_out_bias == o_bias(config)
    assert count_params(config) == count_params_meta(config) == numel(model)
    # and without transformers, from its config.json's values (`prunebench plan`)
    assert count_params(config_from_dict(json.loads(config.to_json_string()))) == numel(model)


def test_the_36b_counts_by_hand_from_its_config_json_alone():
    """Seed-OSS-36B's config.json read without torch or transformers (config_from_dict), its
    count written out by hand: q is 80 x 128 = 10240 wide (not hidden's 5120) with a bias, k
    and v 8 x 128 = 1024 with biases, o_proj without one; SwiGLU MLP without biases, two
    RMSNorms a block; untied embeddings and head, a final norm."""
    d, q, kv, m, vocab, blocks = 5120, 80 * 128, 8 * 128, 27648, 155136, 64
    block = (d * q + q) + 2 * (d * kv + kv) + q * d + 3 * d * m + 2 * d
    by_hand = blocks * block + 2 * vocab * d + d
    assert by_hand == 36_151_104_512
    config = config_from_dict(ARCHITECTURES["seed-oss-36b"])
    assert count_params(config) == by_hand
    built = architecture_config("seed-oss-36b")
    assert type(built).__name__ == "SeedOssConfig"
    assert count_params(built) == count_params_meta(built) == by_hand
    assert built.rope_parameters == {"rope_type": "default", "rope_theta": 10000000.0}
    assert not built.tie_word_embeddings and built.max_position_embeddings == 524288
    assert (built.bos_token_id, built.pad_token_id, built.eos_token_id) == (0, 1, 2)
    # a config.json leaving the bias keys out gets SeedOssConfig's: q/k/v biases, no o_proj one
    bare = {k: v for k, v in ARCHITECTURES["seed-oss-36b"].items()
            if k not in ("attention_bias", "attention_out_bias", "mlp_bias")}
    assert count_params(config_from_dict(bare)) == by_hand


def test_the_hub_ids_name_the_known_shape():
    for repo in ("ByteDance-Seed/Seed-OSS-36B-Base", "ByteDance-Seed/Seed-OSS-36B-Instruct",
                 "ByteDance-Seed/Seed-OSS-36B-Base-woSyn"):
        assert known_shape_of(repo) == "seed-oss-36b"
    assert known_shape_of("unsloth/Seed-OSS-36B-Instruct-GGUF") is None  # quantized: refused


def width_pruned(name: str = "seed_oss"):
    """The family tests' model `name` (Seed-OSS: q/k/v and o_proj biases, head_dim 32 with
    hidden 64, GQA 4 / 2) with a KV group out of block 0, every head out of block 1 (its
    attention's output is its o_proj bias alone) and a third of the MLP channels out of blocks
    0 to 2."""
    model = family_model(name)
    surgery.remove_kv_groups(model, 0, [1])
    surgery.remove_kv_groups(model, 1, [0, 1])
    for block in range(3):
        surgery.remove_channels(model, block, range(0, 128, 3))
    return model


def test_the_compiled_decoder_equals_transformers_on_a_width_pruned_model_with_biases():
    """The fused block adds the q/k/v biases (fused with their rows) and the o_proj bias: its
    logits equal transformers' at every length, prefilled and decoded through its static
    cache, for a width-pruned model whose biases are not zero (a bias dropped or sliced with
    the wrong rows moves them by far more than the tolerance)."""
    assert_decoder_is_transformers(width_pruned(), lambda layer: layer.self_attn.o_proj.bias)


def assert_decoder_is_transformers(model, bias_of, fuse: bool = True) -> None:
    """The compiled decoder's logits of the width-pruned `model` equal transformers' at every
    length of a [2, 24] input, prefilled, and its greedy tokens decoded through its static
    cache after 6 are transformers' choices up to each row's first near tie; the biases
    `bias_of(layer)` gives move transformers' logits by far more than the tolerance (shared by
    the families' own tests of the decoder on width-pruned models with biases)."""
    assert count_params(model.config) == numel(model)
    x = ids(2, 24, seed=5)
    without = copy.deepcopy(model)
    with torch.no_grad():
        for layer in without.model.layers:
            bias_of(layer).zero_()
    assert not torch.allclose(logits(without, x), logits(model, x), atol=1e-2)
    with torch.inference_mode():
        decoder = StaticDecoder(model, 2, 24, mode="eager", fuse=fuse)
        for length in (1, 6, 13, 24):
            torch.testing.assert_close(decoder.prefill_logits(x[:, :length]),
                                       logits(model, x[:, :length])[:, -1], rtol=0, atol=1e-4)
        tokens = decoder.generate(x[:, :6], 18)
    stepped = logits(model, tokens[:, :-1])[:, 5:]
    want = stepped.index_fill(-1, torch.tensor([model.config.eos_token_id]), float("-inf"))
    for row, k in enumerate(certain_steps(want)):  # up to the row's first near tie
        assert k > 0
        assert torch.equal(tokens[row, 6:6 + k], want[row, :k].argmax(-1)), (row, k)


def test_head_removal_slices_the_qkv_biases_and_keeps_the_o_proj_bias_whole():
    """q/k/v biases lose the removed heads' rows; o_proj's bias is over the hidden size and
    stays as it was; a block left without heads outputs that bias alone."""
    model = family_model("seed_oss")
    hd = model.config.head_dim
    attn = model.model.layers[0].self_attn
    q_b, k_b, v_b, o_b = (p.bias.detach().clone()
                          for p in (attn.q_proj, attn.k_proj, attn.v_proj, attn.o_proj))
    surgery.remove_kv_groups(model, 0, [0])  # group 0: query heads 0 and 1, KV head 0
    attn = model.model.layers[0].self_attn
    assert torch.equal(attn.q_proj.bias, q_b[2 * hd:])
    assert torch.equal(attn.k_proj.bias, k_b[hd:]) and torch.equal(attn.v_proj.bias, v_b[hd:])
    assert torch.equal(attn.o_proj.bias, o_b)
    surgery.remove_kv_groups(model, 0, [0])  # the last group: no heads left
    h = torch.randn(2, 5, model.config.hidden_size)
    out, _ = model.model.layers[0].self_attn(h, None, None)
    torch.testing.assert_close(out, o_b.expand_as(out), rtol=0, atol=0)
    assert layer_shapes(model.config)[0]["o_proj_bias"]
    assert count_params(model.config) == numel(model)


def test_flap_adds_its_compensation_to_the_existing_o_proj_bias():
    """FLAP's bias compensation (the removed heads' mean contribution, W[:, removed] @ mean)
    is added to the o_proj bias Seed-OSS already has (attention_out_bias), not written over
    it: the pruned block's bias is the dense one plus that mean, computed here from the same
    statistics."""
    model = family_model("seed_oss")
    dense = copy.deepcopy(model)
    calibration = ids(8, 24, seed=3)
    stats = flap.collect_stats(dense, calibration, 8)  # as prune collects them (exact)
    # uniform widths (UL-UM) at 60%: every block keeps one KV group of two, so every block's
    # o_proj gets a compensation whatever the scores
    report = flap.prune(model, calibration, int(0.6 * numel(model)), structure="UL-UM")
    rep = model.config.num_attention_heads // model.config.num_key_value_heads
    hd = model.config.head_dim
    compensated = 0
    for entry in report["blocks"]:
        b = entry["block"]
        kept = set(entry["kept_heads"])
        removed = [h for h in range(model.config.num_attention_heads) if h not in kept]
        o_dense = dense.model.layers[b].self_attn.o_proj
        want = o_dense.bias.detach().double()
        if "o_proj" in entry["compensated"]:
            compensated += 1
            cols = torch.tensor([h * hd + c for h in removed for c in range(hd)])
            want = want + o_dense.weight.detach().double()[:, cols] @ stats[b]["o_proj"].mean[cols]
        torch.testing.assert_close(model.model.layers[b].self_attn.o_proj.bias.double(), want,
                                   rtol=0, atol=1e-6)
        assert len(removed) % rep == 0  # whole groups
    assert compensated == model.config.num_hidden_layers
    assert count_params(model.config) == numel(model)


def test_the_dropout_of_its_config_is_off_in_the_passes_that_run_in_training_mode():
    """SeedOssConfig's attention_dropout and residual_dropout (0.1) act in training mode: the
    Taylor+ scores, whose backward pass runs in it, are the same for the model with them as
    without them and under any seed, and its rates are back afterwards."""
    model = family_model("seed_oss")
    assert model.config.attention_dropout == model.config.residual_dropout == 0.1
    plain = without_dropout(copy.deepcopy(model))
    x = ids(4, 16, seed=2)
    torch.manual_seed(0)
    scores, loss = taylor_scores(model, x, batch_size=4, gradient_checkpointing=False)
    torch.manual_seed(1)
    again, _ = taylor_scores(model, x, batch_size=4, gradient_checkpointing=False)
    without, loss_without = taylor_scores(plain, x, batch_size=4, gradient_checkpointing=False)
    assert scores == again == without and loss == loss_without
    attn, mlp = model.model.layers[0].self_attn, model.model.layers[0].mlp
    assert attn.attention_dropout == attn.residual_dropout == mlp.residual_dropout == 0.1
    # (in training mode the rates do act: the check above could fail)
    model.train()
    torch.manual_seed(0)
    assert not torch.equal(model(input_ids=x).logits, plain.train()(input_ids=x).logits)
    with base_dropout_off(model):
        assert attn.attention_dropout == mlp.residual_dropout == 0.0
        assert torch.equal(model(input_ids=x).logits, plain(input_ids=x).logits)
    assert attn.attention_dropout == mlp.residual_dropout == 0.1


def test_lora_recovery_trains_without_the_models_own_dropout(embedded_corpus):
    """The study's recovery trains LoRA on LLaMA, which has no dropout of its own: Seed-OSS's
    is off while the adapters train (lora.dropout alone applies), so the recovered model is
    the one its rates at 0 give, bit for bit on the CPU; the returned model keeps them."""
    from prunebench import tiny

    tokenizer = tiny.train_tokenizer((embedded_corpus / "train.txt").read_text(), vocab_size=128)
    records = embedded_records((embedded_corpus / "train.txt").read_text(), seed=0)
    train, val = split_records(records, 4, seed=0)
    settings = lora.resolve_settings({
        "data": {"source": "embedded", "val_size": 4, "max_train": 8, "seed": 0},
        "template": "plain", "epochs": 1, "lr": 2e-3, "batch_size": 4, "micro_batch_size": 4,
        "max_length": 96, "warmup_steps": 1, "eval_every": 1, "log_every": 1, "seed": 0,
        "keep": "last"})
    merged = {}
    for rate, model in ((0.1, family_model("seed_oss")),
                        (0.0, without_dropout(family_model("seed_oss")))):
        merged[rate], report = lora.train_lora(model, tokenizer, train[:8], val, settings,
                                               torch.device("cpu"))
        assert report["steps"] == 2
    x = ids()
    assert torch.equal(logits(merged[0.1], x), logits(merged[0.0], x))
    layer = merged[0.1].model.layers[0]
    assert layer.self_attn.attention_dropout == layer.mlp.residual_dropout == 0.1


def without_dropout(model):
    """`model` with its modules' dropout rates at 0 (as a config giving 0 builds them)."""
    for module in model.modules():
        for name in ("attention_dropout", "residual_dropout"):
            if isinstance(getattr(module, name, None), float):
                setattr(module, name, 0.0)
    return model
