"""XGLM (xglm, XGLMForCausalLM; facebook/xglm-564M / 1.7B / 2.9B / 4.5B / 7.5B): counts against
transformers' models (meta and built), by hand and from config.json alone (its own keys
d_model / num_layers / attention_heads; no parameter of its sinusoidal positions); prunebench's
model computing transformers' logits; depth pruning equal to transformers' model of the kept
blocks, reloaded by prunebench and by transformers, with the hf backends decoding as generate;
head removal computing the dense model with the removed heads silenced (XGLMAttention builds no
head narrower than d_model / heads) and MLP channel removal equal to transformers' model of that
width; the compiled decoder on width-pruned tied models, fused and not, and as generate; each of
its own pieces shown to matter: the sinusoidal positions and their offset of 2, the row of
pad_token_id zeroed, scale_embedding, the table made past max_position_embeddings as
transformers makes it; the sinusoidal buffer made again by the loader; cross-attention refused;
dropout off in training-mode passes; the known shapes counted by hand.
tests/test_families.py runs the shared per-family tests on it too (every method, save and
reload, every backend, evaluation, LoRA)."""

from __future__ import annotations

import json
import math

import pytest
import torch
from transformers import XGLMConfig, XGLMForCausalLM

from prunebench.benchmark.compiled import StaticDecoder
from prunebench.checkpoint.param_count import (FamilyUnsupported, checked_config_json,
                                               config_from_dict)
from prunebench.methods import surgery
from prunebench.modeling import (build_model, count_params, count_params_meta, load_model,
                                 save_model)
from test_cohere import decoder_gives_transformers_logits, decodes_as_generate_does
from test_families import family_config, family_model, ids, logits, numel
from test_gpt_neox import check_a_uniformly_mlp_pruned_model, width_pruned
from test_gpt_neox import without_blocks_1_and_2_is
from test_stablelm import decoder_follows_the_change, dropout_turned_off, without_norm_biases

pytestmark = pytest.mark.usefixtures("one_thread")

HEADS, HD = 4, 16  # the family tests' tiny model: 4 heads of 16


def small(**kw) -> XGLMConfig:
    """The family tests' tiny XGLM config with `kw` changed."""
    return family_config("xglm", **kw)


def tied(**kw):
    """The family tests' tiny model tied, as every published XGLM is (`kw`: config changes)."""
    return family_model("xglm", tie_word_embeddings=True, **kw)


@pytest.mark.parametrize("width,tie", [(128, False), (96, True)])
def test_counts_equal_transformers_parameters(width, tie):
    """q/k/v/out_proj and fc1 / fc2 biased, two LayerNorms a block and a final one, fixed
    sinusoidal positions (a buffer: no parameter): transformers' model, the meta count, the
    closed form and config.json's own keys alone agree, as does the hand count."""
    config = small(ffn_dim=width, tie_word_embeddings=tie)
    model = XGLMForCausalLM(config)
    assert count_params(config) == count_params_meta(config) == numel(model)
    values = json.loads(config.to_json_string())
    assert values["d_model"] == 64 and "hidden_size" not in values
    assert count_params(config_from_dict(values)) == numel(model)
    d, m, v = 64, width, 128
    block = 4 * d * d + 4 * d + 2 * d * m + m + d + 2 * 2 * d
    assert numel(model) == v * d * (1 if tie else 2) + 4 * block + 2 * d
    assert "model.embed_positions.weights" not in model.state_dict()  # not saved either


def check_prunebenchs_model_is_transformers_model(name: str, cls, tie: bool) -> None:
    """The family tests' model of `name` (built by prunebench, random biases and norms, tied
    or not) computes what transformers' class `cls` computes with its weights (XGLM's, CTRL's)."""
    model = family_model(name, tie_word_embeddings=tie)
    theirs = cls(model.config).eval()
    theirs.load_state_dict(model.state_dict())
    x = ids()
    torch.testing.assert_close(logits(model, x), logits(theirs, x), rtol=0, atol=1e-5)


@pytest.mark.parametrize("tie", [False, True])
def test_prunebenchs_model_is_transformers_model(tie):
    check_prunebenchs_model_is_transformers_model("xglm", XGLMForCausalLM, tie)


def test_depth_pruning_is_transformers_model_of_the_kept_blocks(tmp_path):
    without_blocks_1_and_2_is(family_model("xglm"), "model.layers",
                              XGLMForCausalLM(small(num_layers=2)), tmp_path)


def check_the_loader_makes_the_table_again(model, cls, table_of, shape, path) -> None:
    """`model` saved to `path` and loaded by prunebench (weights assigned to a model built on
    meta): its fixed positions, a non-persistent buffer saved with no checkpoint (`table_of`
    reads it from a model), are made again as transformers' class `cls` makes them, of `shape`,
    and the loaded model computes `model`'s logits (XGLM's table, CTRL's)."""
    save_model(model, None, path)
    loaded = load_model(path)
    table = table_of(loaded)
    assert not table.is_meta and tuple(table.shape) == shape
    torch.testing.assert_close(table, table_of(cls(model.config)), rtol=0, atol=0)
    x = ids()
    torch.testing.assert_close(logits(loaded, x), logits(model, x), rtol=0, atol=0)


def test_the_loader_makes_the_sinusoidal_table_again(tmp_path):
    """The table is a non-persistent buffer, saved with no checkpoint: loaded by prunebench
    (weights assigned to a model built on meta), it is the table transformers' class makes."""
    check_the_loader_makes_the_table_again(tied(), XGLMForCausalLM,
                                           lambda m: m.model.embed_positions.weights,
                                           (256 + 2, 64), tmp_path / "m")


def _silenced(model, removed_heads: list[int]):
    """transformers' dense model of `model`'s weights with `removed_heads` of block 1 silenced
    (their out_proj columns zero)."""
    silenced = XGLMForCausalLM(model.config).eval()
    silenced.load_state_dict(model.state_dict())
    out = silenced.model.layers[1].self_attn.out_proj
    with torch.no_grad():
        for h in removed_heads:
            out.weight[:, h * HD:(h + 1) * HD] = 0
    return silenced


def test_head_removal_computes_the_dense_model_with_those_heads_silenced():
    """Heads 0 and 2 out of block 1 (each its own KV group): the pruned model computes
    transformers' dense model with those heads' out_proj columns zero and counts as its config
    says; XGLMAttention, which reshapes its heads' output to its embed_dim, is told its width
    (without it the reshape fails)."""
    model = family_model("xglm")
    silenced = _silenced(model, [0, 2])
    surgery.remove_kv_groups(model, 1, [0, 2])
    attn = model.model.layers[1].self_attn
    assert (attn.num_heads, attn.embed_dim) == (2, 2 * HD)
    assert numel(model) == count_params(model.config)
    x = ids()
    torch.testing.assert_close(logits(model, x), logits(silenced, x), rtol=0, atol=1e-5)
    attn.embed_dim = 64  # the dense width, as built
    with pytest.raises(RuntimeError, match="invalid for input"):
        logits(model, x)


def test_a_uniformly_mlp_pruned_model_is_transformers_model_of_its_width():
    check_a_uniformly_mlp_pruned_model(family_model("xglm"), "model.layers.{}.", "fc1", "fc2",
                                       lambda width: XGLMForCausalLM(small(ffn_dim=width)))


def check_the_decoder_of_width_pruned_scaled_models(tied_model, untied_model, fuse) -> None:
    """The compiled decoder computes transformers' logits of the tied model width-pruned (no
    rotation, its embeddings scaled by sqrt(64)) and decodes the untied one width-pruned as
    generate does (also BioGPT's: tests/test_biogpt.py)."""
    decoder = decoder_gives_transformers_logits(width_pruned(tied_model), fuse)
    assert not decoder.rotated and decoder.embedding_multiplier == math.sqrt(64)
    if fuse:
        decodes_as_generate_does(width_pruned(untied_model))


@pytest.mark.parametrize("fuse", [True, False])
def test_the_compiled_decoder_on_width_pruned_models(fuse):
    check_the_decoder_of_width_pruned_scaled_models(tied(), family_model("xglm"), fuse)


def unscaled(model):
    """scale_embedding off, in the config and in the scaled embedding module (XGLM's and
    BioGPT's)."""
    model.config.scale_embedding = False
    model.get_input_embeddings().embed_scale = 1.0


def _pad_row_in_use(model):
    """pad_token_id 4: XGLMSinusoidalPositionalEmbedding zeroes the table's row 4, which
    position 2 reads (offset 2)."""
    model.config.pad_token_id = 4
    positions = model.model.embed_positions
    positions.padding_idx = 4
    positions.make_weights(positions.weights.shape[0], positions.embedding_dim, 4)


@pytest.mark.parametrize("change", [unscaled, _pad_row_in_use, without_norm_biases])
def test_the_decoder_follows_each_of_xglms_pieces(change):
    """The embeddings' sqrt(d_model) scale, the zeroed row of pad_token_id and every
    LayerNorm's bias each change its logits, and the decoder built from the changed copy
    follows."""
    decoder_follows_the_change(tied(), change)


def test_the_positions_offset_and_kind_matter_to_the_decoder():
    """The decoder computes XGLM's logits; given the table's rows without the offset of 2, or
    no positions at all, it computes another model: the agreement is a real check of both."""
    model = tied()
    prompt = ids(2, 12, seed=6)
    theirs = logits(model, prompt)[:, -1]
    decoder = StaticDecoder(model, 2, 14, mode="eager")
    torch.testing.assert_close(decoder.prefill_logits(prompt), theirs, rtol=0, atol=1e-5)
    unshifted = StaticDecoder(model, 2, 14, mode="eager")
    positions = model.model.embed_positions
    unshifted.position_table = positions.get_embedding(
        16, 64, positions.padding_idx).to(unshifted.position_table)
    assert (unshifted.prefill_logits(prompt) - theirs).abs().max() > 1e-3
    unplaced = StaticDecoder(model, 2, 14, mode="eager")
    unplaced.position_table = torch.zeros_like(unplaced.position_table)
    assert (unplaced.prefill_logits(prompt) - theirs).abs().max() > 1e-3


def test_the_decoder_runs_past_max_position_embeddings_as_transformers_does():
    """max_position_embeddings 8 and a cell of 20 tokens: transformers makes its table longer
    as the sequence grows (make_weights), and the decoder's table, made for its cache, holds
    the same rows: its greedy tokens are generate's."""
    model = family_model("xglm", max_position_embeddings=8)
    assert model.model.embed_positions.weights.shape[0] == 10
    decodes_as_generate_does(model)


def test_cross_attention_is_refused_when_read_and_built(tmp_path):
    folder = tmp_path / "xglm"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({**small().to_dict(),
                                                    "add_cross_attention": True}))
    with pytest.raises(FamilyUnsupported, match="add_cross_attention true.*encoder_attn"):
        checked_config_json(folder)
    with pytest.raises(FamilyUnsupported, match="add_cross_attention true"):
        build_model(small(add_cross_attention=True), device="meta")


def test_dropout_is_off_in_the_passes_that_run_in_training_mode():
    """XGLM's dropout (embeddings, attention output, MLP output; 0.1 as published),
    attention_dropout (0.1) and activation_dropout (its own name; 0 as published, 0.3 here)
    act in training mode, which modeling.base_dropout_off turns off as for every family."""
    model = family_model("xglm", activation_dropout=0.3)
    plain = family_model("xglm", dropout=0.0, attention_dropout=0.0, activation_dropout=0.0)
    assert model.model.layers[0].activation_dropout == 0.3
    with dropout_turned_off(model, plain):
        pass


def test_the_known_shapes_count_by_hand_and_build_their_family():
    """xglm-564M's, 1.7B's, 2.9B's, 4.5B's and 7.5B's counts written out by hand: tied
    embeddings of 256008, no parameter of the positions, blocks of biased q/k/v/out_proj, fc1 /
    fc2 of ffn_dim with biases and two LayerNorms, the final LayerNorm."""
    from prunebench.checkpoint.architectures import architecture_config
    from test_families import PUBLISHED

    for name, (d, layers, m) in {"xglm-564m": (1024, 24, 4096), "xglm-1.7b": (2048, 24, 8192),
                                 "xglm-2.9b": (2048, 48, 8192),
                                 "xglm-4.5b": (2048, 48, 16384),
                                 "xglm-7.5b": (4096, 32, 16384)}.items():
        block = 4 * d * d + 4 * d + 2 * d * m + m + d + 2 * 2 * d
        assert 256008 * d + layers * block + 2 * d == PUBLISHED[name]
        config = architecture_config(name)
        assert type(config).__name__ == "XGLMConfig" and config.scale_embedding
