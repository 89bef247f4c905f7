"""CTRL (ctrl, CTRLLMHeadModel; Salesforce/ctrl): counts against transformers' models (meta and
built), by hand and from config.json alone (its own keys n_embd / dff / n_layer / n_head /
n_positions; no parameter of its fixed positions; the LM head's bias); prunebench's model
computing transformers' logits; depth pruning equal to transformers' model of the kept blocks,
reloaded by prunebench and by transformers, with the hf and hf_static backends decoding as
generate; head removal computing the dense model with the removed heads silenced and MLP
channel removal equal to transformers' model of that width; the compiled decoder on
width-pruned models, fused and not, and as generate; each of its own pieces shown to matter:
the fixed sinusoidal rows and their layout, the embeddings' sqrt(n_embd) scale, the blocks'
LayerNorm eps of 1e-6 beside the final norm's configured one, the LayerNorms' and the LM
head's biases; the position buffer made again by the loader; a cell past n_positions refused
by the compiled decoder (transformers' own model has no row there); dropout off in
training-mode passes; the known shape counted by hand.
tests/test_families.py runs the shared per-family tests on it too (every method, save and
reload, every backend, evaluation, LoRA)."""

from __future__ import annotations

import json
import math

import pytest
import torch
from transformers import CTRLConfig, CTRLLMHeadModel

from prunebench import PrunebenchError
from prunebench.benchmark.compiled import StaticDecoder
from prunebench.checkpoint.param_count import config_from_dict
from prunebench.methods import surgery
from prunebench.modeling import count_params, count_params_meta
from test_cohere import decoder_gives_transformers_logits, decodes_as_generate_does
from test_families import family_config, family_model, ids, logits, numel
from test_gpt_neox import check_a_uniformly_mlp_pruned_model, width_pruned
from test_gpt_neox import without_blocks_1_and_2_is
from test_stablelm import decoder_follows_the_change, dropout_turned_off, without_norm_biases
from test_xglm import (check_prunebenchs_model_is_transformers_model,
                       check_the_loader_makes_the_table_again)

pytestmark = pytest.mark.usefixtures("one_thread")

HD = 16  # the family tests' tiny model: 4 heads of 16


def small(**kw) -> CTRLConfig:
    """The family tests' tiny CTRL config with `kw` changed."""
    return family_config("ctrl", **kw)


def tied(**kw):
    """The family tests' tiny model tied, as the published CTRL is (`kw`: config changes)."""
    return family_model("ctrl", tie_word_embeddings=True, **kw)


@pytest.mark.parametrize("width,tie", [(128, False), (96, True)])
def test_counts_equal_transformers_parameters(width, tie):
    """Wq / Wk / Wv / dense and the ffn's two Linears biased, two LayerNorms a block and a final
    one, the LM head's bias (tied or not), fixed positions (a buffer: no parameter):
    transformers' model, the meta count, the closed form and config.json's own keys alone
    agree, as does the hand count."""
    config = small(dff=width, tie_word_embeddings=tie)
    model = CTRLLMHeadModel(config)
    assert count_params(config) == count_params_meta(config) == numel(model)
    values = json.loads(config.to_json_string())
    assert values["n_embd"] == 64 and "hidden_size" not in values
    assert count_params(config_from_dict(values)) == numel(model)
    d, m, v = 64, width, 128
    block = 4 * d * d + 4 * d + 2 * d * m + m + d + 2 * 2 * d
    assert numel(model) == v * d * (1 if tie else 2) + v + 4 * block + 2 * d
    assert "transformer.pos_encoding" not in model.state_dict()  # not saved either


@pytest.mark.parametrize("tie", [False, True])
def test_prunebenchs_model_is_transformers_model(tie):
    check_prunebenchs_model_is_transformers_model("ctrl", CTRLLMHeadModel, tie)


def test_depth_pruning_is_transformers_model_of_the_kept_blocks(tmp_path):
    without_blocks_1_and_2_is(family_model("ctrl"), "transformer.h",
                              CTRLLMHeadModel(small(n_layer=2)), tmp_path)


def test_the_loader_makes_the_position_buffer_again(tmp_path):
    """The rows are a non-persistent buffer, saved with no checkpoint: loaded by prunebench
    (weights assigned to a model built on meta), they are the rows transformers' class makes."""
    check_the_loader_makes_the_table_again(tied(), CTRLLMHeadModel,
                                           lambda m: m.transformer.pos_encoding, (256, 64),
                                           tmp_path / "m")


def test_head_removal_computes_the_dense_model_with_those_heads_silenced():
    """Heads 0 and 2 out of block 1 (each its own KV group): the pruned model computes
    transformers' dense model with those heads' dense columns zero, and counts as its config
    says (MultiHeadAttention views its projections by head_dim alone)."""
    model = family_model("ctrl")
    silenced = CTRLLMHeadModel(model.config).eval()
    silenced.load_state_dict(model.state_dict())
    out = silenced.transformer.h[1].multi_head_attention.dense
    with torch.no_grad():
        for h in (0, 2):
            out.weight[:, h * HD:(h + 1) * HD] = 0
    surgery.remove_kv_groups(model, 1, [0, 2])
    assert model.transformer.h[1].multi_head_attention.Wq.out_features == 2 * HD
    assert numel(model) == count_params(model.config)
    x = ids()
    torch.testing.assert_close(logits(model, x), logits(silenced, x), rtol=0, atol=1e-5)


def test_a_uniformly_mlp_pruned_model_is_transformers_model_of_its_width():
    check_a_uniformly_mlp_pruned_model(family_model("ctrl"), "transformer.h.{}.ffn.", "0", "2",
                                       lambda width: CTRLLMHeadModel(small(dff=width)))


@pytest.mark.parametrize("fuse", [True, False])
def test_the_compiled_decoder_on_width_pruned_models(fuse):
    """The compiled decoder computes transformers' logits of the tied model width-pruned (no
    rotation, its embeddings scaled by sqrt(64)) and decodes the untied one width-pruned as
    generate does."""
    decoder = decoder_gives_transformers_logits(width_pruned(tied()), fuse)
    assert not decoder.rotated and decoder.embedding_multiplier == math.sqrt(64)
    if fuse:
        decodes_as_generate_does(width_pruned(family_model("ctrl")))


def _final_norm_eps_one(model):
    """The final LayerNorm's eps 1 (layer_norm_epsilon, the one eps the config sets)."""
    model.transformer.layernorm.eps = 1.0


def _head_bias_zero(model):
    with torch.no_grad():
        model.lm_head.bias.zero_()


@pytest.mark.parametrize("change", [without_norm_biases, _final_norm_eps_one, _head_bias_zero])
def test_the_decoder_follows_each_of_ctrls_pieces(change):
    """Every LayerNorm's bias, the final norm's eps and the LM head's bias each change its
    logits, and the decoder built from the changed copy follows."""
    decoder_follows_the_change(tied(), change)


def test_the_blocks_norms_keep_eps_1e6_whatever_the_config_says():
    """layer_norm_epsilon 0.5: EncoderLayer builds its LayerNorms of eps 1e-6 all the same
    (only the final norm reads the key); the decoder computes that model's logits, and one
    whose block norms took the config's eps computes another."""
    model = family_model("ctrl", layer_norm_epsilon=0.5)
    assert model.transformer.layernorm.eps == 0.5
    assert {layer.layernorm1.eps for layer in model.transformer.h} == {1e-6}
    decoder_gives_transformers_logits(model)
    prompt = ids(2, 9, seed=6)
    theirs = logits(model, prompt)[:, -1]
    for layer in model.transformer.h:
        layer.layernorm1.eps = layer.layernorm2.eps = 0.5
    assert (logits(model, prompt)[:, -1] - theirs).abs().max() > 1e-3


def test_the_positions_scale_and_layout_matter_to_the_decoder():
    """The decoder computes CTRL's logits; without the embeddings' sqrt(n_embd) scale, with
    each position's sines and cosines interleaved (the pairs positional_encoding computes them
    in, before it puts the sines first), or with no positions, it computes another model: the
    agreement is a real check of each."""
    model = tied()
    prompt = ids(2, 12, seed=6)
    theirs = logits(model, prompt)[:, -1]
    decoder = StaticDecoder(model, 2, 14, mode="eager")
    torch.testing.assert_close(decoder.prefill_logits(prompt), theirs, rtol=0, atol=1e-5)
    unscaled = StaticDecoder(model, 2, 14, mode="eager")
    unscaled.embedding_multiplier = None
    interleaved = StaticDecoder(model, 2, 14, mode="eager")
    table = interleaved.position_table
    interleaved.position_table = torch.stack(table.chunk(2, dim=-1), -1).flatten(1)
    unplaced = StaticDecoder(model, 2, 14, mode="eager")
    unplaced.position_table = torch.zeros_like(unplaced.position_table)
    for other in (unscaled, interleaved, unplaced):
        assert (other.prefill_logits(prompt) - theirs).abs().max() > 1e-3


def test_a_cell_past_n_positions_is_refused_by_the_decoder_as_transformers_fails_there():
    """n_positions 8: CTRLModel's table holds 8 rows and its forward indexes them by position
    (an IndexError at the ninth token); the compiled decoder refuses a cell of 12 tokens when
    built, naming the limit, and runs one of 8."""
    model = family_model("ctrl", n_positions=8)
    with pytest.raises(IndexError):
        logits(model, ids(1, 9))
    with pytest.raises(PrunebenchError,
                       match="holds 8 positions .n_positions.*12 tokens"):
        StaticDecoder(model, 1, 12, mode="eager")
    StaticDecoder(model, 1, 8, mode="eager")


def test_dropout_is_off_in_the_passes_that_run_in_training_mode():
    """CTRL's embd_pdrop and resid_pdrop (nn.Dropout modules, 0.1 as published) act in
    training mode, which modeling.base_dropout_off turns off as for every family."""
    model = family_model("ctrl", embd_pdrop=0.3, resid_pdrop=0.3)
    plain = family_model("ctrl", embd_pdrop=0.0, resid_pdrop=0.0)
    with dropout_turned_off(model, plain):
        pass


def test_the_known_shape_counts_by_hand_and_builds_its_family():
    """Salesforce/ctrl's count written out by hand: tied embeddings of 246534 and the LM head's
    bias, no parameter of the positions, 48 blocks of biased Wq / Wk / Wv / dense, the ffn's
    Linears of dff 8192 with biases and two LayerNorms, the final LayerNorm."""
    from prunebench.checkpoint.architectures import architecture_config
    from test_families import PUBLISHED

    d, layers, m, v = 1280, 48, 8192, 246534
    block = 4 * d * d + 4 * d + 2 * d * m + m + d + 2 * 2 * d
    assert v * d + v + layers * block + 2 * d == PUBLISHED["ctrl"]
    config = architecture_config("ctrl")
    assert type(config).__name__ == "CTRLConfig" and config.n_positions == 50000
