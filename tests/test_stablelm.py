"""StableLM (stablelm, StableLmForCausalLM; StableLM-3B-4E1T, StableLM 2 1.6B and 12B): exact
counts over its options (q/k/v biases, per-head q/k LayerNorms, the parallel residual, tied
embeddings), with and without transformers; the compiled decoder against transformers on
width-pruned models with and without the parallel residual, fused and not (LayerNorms with
biases, per-head q/k LayerNorm modules, a quarter of each head rotating); head removal keeping
the kept heads' q/k norm modules through a reload; FLAP's compensation in the parallel block;
the known shapes by hand and the hub ids that name them (tests/test_families.py runs the shared
per-family tests on it too: every method, save and reload, every backend, evaluation, LoRA)."""

from __future__ import annotations

import contextlib
import copy
import itertools
import json

import pytest
import torch
from torch import nn
from transformers import StableLmConfig, StableLmForCausalLM

from prunebench.benchmark.compiled import StaticDecoder
from prunebench.checkpoint.architectures import (ARCHITECTURES, architecture_config,
                                                known_shape_of)
from prunebench.checkpoint.param_count import (config_from_dict, parallel_block, qk_norm,
                                             qkv_bias)
from prunebench.methods import surgery
from prunebench.modeling import base_dropout_off, count_params, count_params_meta
from test_cohere import (SMALL_GQA, decoder_gives_transformers_logits, decodes_as_generate_does,
                         flap_keeps_each_blocks_mean_output, pruned_config_json_counts,
                         reloads_with_its_logits, width_pruned)
from test_families import family_model, ids, logits, numel

pytestmark = pytest.mark.usefixtures("one_thread")


def small(**kw) -> StableLmConfig:
    return StableLmConfig(**{**SMALL_GQA, "partial_rotary_factor": 0.25, **kw})


@pytest.mark.parametrize("bias,qk_norms,parallel,tied",
                         list(itertools.product([False, True], repeat=4)))
def test_counts_equal_transformers_parameters(bias, qk_norms, parallel, tied):
    config = small(use_qkv_bias=bias, qk_layernorm=qk_norms, use_parallel_residual=parallel,
                   tie_word_embeddings=tied)
    model = StableLmForCausalLM(config)
    layer = model.model.layers[0]
    assert (layer.self_attn.q_proj.bias is not None) == bias == qkv_bias(config)
    assert layer.self_attn.o_proj.bias is None  # never biased
    assert hasattr(layer.self_attn, "q_layernorm") == qk_norms == qk_norm(config)
    if qk_norms:  # a bias-free LayerNorm module per query head and per KV head
        assert len(layer.self_attn.q_layernorm.norms) == 6
        assert len(layer.self_attn.k_layernorm.norms) == 2
        assert layer.self_attn.q_layernorm.norms[0].bias is None
    # the parallel block builds no norm before the MLP: one LayerNorm (weight and bias) a block
    assert (layer.post_attention_layernorm is None) == parallel == parallel_block(config)
    assert layer.input_layernorm.bias is not None and model.model.norm.bias is not None
    assert count_params(config) == count_params_meta(config) == numel(model)
    # and without transformers, from its config.json's values (`prunebench plan`)
    assert count_params(config_from_dict(json.loads(config.to_json_string()))) == numel(model)


def test_the_parallel_block_is_stablelms_by_its_key_and_coheres_always():
    assert not parallel_block(config_from_dict({"model_type": "stablelm"}))
    assert parallel_block(config_from_dict({"model_type": "stablelm",
                                            "use_parallel_residual": True}))
    assert parallel_block(config_from_dict({"model_type": "cohere"}))
    assert not parallel_block(config_from_dict({"model_type": "llama"}))


def test_a_width_pruned_config_json_counts_without_torch(tmp_path):
    """The per-head q/k norms leave with their heads in the closed form too: a pruned
    checkpoint's config.json alone (layer_shapes) counts its parameters."""
    model = pruned_config_json_counts(family_model("stablelm"), tmp_path)
    attn = model.model.layers[1].self_attn
    assert len(attn.q_layernorm.norms) == attn.q_layernorm.num_heads == 2
    assert len(attn.k_layernorm.norms) == attn.k_layernorm.num_heads == 1


def width_pruned_stablelm(parallel: bool):
    """The family tests' StableLM (q/k/v biases, per-head q/k norms, GQA 4 / 2), in the
    parallel block or not, width-pruned as the Cohere tests' model."""
    return width_pruned(family_model("stablelm", use_parallel_residual=parallel))


@pytest.mark.parametrize("parallel", [True, False])
@pytest.mark.parametrize("fuse", [True, False])
def test_the_compiled_decoder_gives_transformers_logits_for_a_width_pruned_model(parallel, fuse):
    model = width_pruned_stablelm(parallel)
    assert (model.model.layers[0].post_attention_layernorm is None) == parallel
    decoder = decoder_gives_transformers_logits(model, fuse)
    assert [block.parallel for block in decoder.blocks] == [parallel] * 4


@pytest.mark.parametrize("parallel", [True, False])
def test_the_compiled_decoder_decodes_a_width_pruned_model_as_generate_does(parallel):
    decodes_as_generate_does(width_pruned_stablelm(parallel))


def without_norm_biases(model):
    """Every LayerNorm's bias zero (StableLM's, GPT-NeoX's, GPT-J's and Falcon's, whose norms
    are named ln_*; the final norm's too)."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.LayerNorm) and module.bias is not None:
                module.bias.zero_()


def _heads_normed_alike(model):
    with torch.no_grad():
        for layer in model.model.layers:
            for norm in (layer.self_attn.q_layernorm, layer.self_attn.k_layernorm):
                for head in norm.norms:
                    head.weight.copy_(norm.norms[0].weight)


@pytest.mark.parametrize("change", [without_norm_biases, _heads_normed_alike])
def test_the_decoder_applies_each_of_stablelms_pieces(change):
    """Each piece the decoder reproduces changes this model's logits (else the comparison
    above would not see it dropped): the LayerNorms' biases, each head's own q/k norm
    weights; the decoder built from the changed model follows it."""
    decoder_follows_the_change(family_model("stablelm"), change)


def decoder_follows_the_change(model, change) -> None:
    """`change` (a function changing a model in place) changes `model`'s logits, and the
    compiled decoder built from the changed copy computes its logits (also GPT-NeoX's pieces:
    tests/test_gpt_neox.py)."""
    prompt = ids(2, 9, seed=6)
    reference = logits(model, prompt)[:, -1]
    changed = copy.deepcopy(model)
    change(changed)
    theirs = logits(changed, prompt)[:, -1]
    assert (theirs - reference).abs().max() > 1e-2
    decoder = StaticDecoder(changed, 2, 12, mode="eager")
    torch.testing.assert_close(decoder.prefill_logits(prompt), theirs, rtol=0, atol=1e-5)


def test_head_removal_slices_the_per_head_qk_norms_and_reloads(tmp_path):
    model = family_model("stablelm")
    attn = model.model.layers[1].self_attn
    q_before = [n.weight.detach().clone() for n in attn.q_layernorm.norms]
    k_before = [n.weight.detach().clone() for n in attn.k_layernorm.norms]
    surgery.remove_kv_groups(model, 1, [0])  # KV head 0 and its query heads 0 and 1
    attn = model.model.layers[1].self_attn
    assert attn.num_heads == 2 and attn.num_key_value_heads == 1
    assert [torch.equal(n.weight, w) for n, w in zip(attn.q_layernorm.norms, q_before[2:])] == [
        True, True]
    assert torch.equal(attn.k_layernorm.norms[0].weight, k_before[1])
    x = ids()
    mine = reloads_with_its_logits(model, x, tmp_path)
    # the kept heads' own weights matter: the removed heads' in their place change the logits
    with torch.no_grad():
        for norm, weight in zip(attn.q_layernorm.norms, q_before[:2]):
            norm.weight.copy_(weight)
    assert (logits(model, x) - mine).abs().max() > 1e-3


def test_its_dropout_is_off_in_the_passes_that_run_in_training_mode():
    """A StableLM config's hidden_dropout (an nn.Dropout on each block's MLP output) and
    attention_dropout act in training mode: the Taylor+ scores' and LoRA's passes turn them
    off (modeling.base_dropout_off), as the study's LLaMA has none, and restore them after."""
    model = family_model("stablelm", hidden_dropout=0.3, attention_dropout=0.3)
    with dropout_turned_off(model, family_model("stablelm")):
        assert model.model.layers[0].dropout.p == 0.0
    assert model.model.layers[0].dropout.p == 0.3
    assert model.model.layers[0].self_attn.attention_dropout == 0.3


@contextlib.contextmanager
def dropout_turned_off(model, plain):
    """`model` (dropout rates set) computes other training-mode logits than `plain` (the same
    weights, no dropout), and the same inside modeling.base_dropout_off, whose block this
    opens (for checks made there); both are left in training mode (also GPT-NeoX's, Falcon's,
    GPT-J's and GPT-2's: tests/test_gpt_neox.py, tests/test_falcon.py, tests/test_gptj.py,
    tests/test_gpt2.py)."""
    x = ids(2, 9, seed=3)
    model.train(), plain.train()
    torch.manual_seed(0)
    assert not torch.equal(model(input_ids=x).logits, plain(input_ids=x).logits)
    with base_dropout_off(model):
        yield
        torch.manual_seed(0)
        assert torch.equal(model(input_ids=x).logits, plain(input_ids=x).logits)


def test_flap_compensates_each_sublayer_of_the_parallel_block_with_its_removed_mean():
    flap_keeps_each_blocks_mean_output(family_model("stablelm"))


def test_the_known_shapes_count_by_hand_and_build_their_family():
    """StableLM 2 1.6B's count written out by hand: 32 heads of 64 with q/k/v biases, o_proj
    without, a SwiGLU MLP, two LayerNorms a block with weights and biases, untied embeddings
    and head, a final LayerNorm."""
    d, heads, hd, m, vocab, blocks = 2048, 32, 64, 5632, 100352, 24
    block = 4 * d * heads * hd + 3 * heads * hd + 3 * d * m + 2 * 2 * d
    by_hand = blocks * block + 2 * vocab * d + 2 * d
    assert by_hand == 1_644_515_328
    assert count_params(config_from_dict(ARCHITECTURES["stablelm-2-1.6b"])) == by_hand
    built = architecture_config("stablelm-2-1.6b")
    assert type(built).__name__ == "StableLmConfig" and built.use_qkv_bias
    assert not built.qk_layernorm and not built.use_parallel_residual
    assert built.rope_parameters["partial_rotary_factor"] == 0.25
    assert count_params(built) == count_params_meta(built) == by_hand
    three = architecture_config("stablelm-3b-4e1t")
    assert not three.use_qkv_bias and three.vocab_size == 50304
    assert count_params(three) == count_params_meta(three) == 2_795_443_200


@pytest.mark.parametrize("repo, shape", [
    ("stabilityai/stablelm-2-1_6b", "stablelm-2-1.6b"),
    ("stabilityai/stablelm-2-zephyr-1_6b", "stablelm-2-1.6b"),
    ("stabilityai/stablelm-3b-4e1t", "stablelm-3b-4e1t"),
    # shapes not verified here: the 12B (GQA, q/k norms, parallel residual), Stable Code 3B
    ("stabilityai/stablelm-2-12b", None),
    ("stabilityai/stable-code-3b", None),
])
def test_the_hub_ids_name_their_known_shape_and_no_other(repo, shape):
    assert known_shape_of(repo) == shape
