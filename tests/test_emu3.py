"""Emu3's language model (emu3_text_model: Emu3ForCausalLM of Emu3TextConfig, the decoder of
BAAI's Emu3-Chat-hf and Emu3-Gen-hf, `emu3`), a full family: LLaMA's block under Emu3's names
(q/k/v/o and the SwiGLU MLP, biased where attention_bias / mlp_bias say, RMSNorms, GQA) over a
vocabulary whose rows include the VQ-VAE's image tokens, with a residual dropout of
attention_dropout (0.1 as published) on each sublayer's output in training mode.

Shown against transformers' own classes: counts, tied and untied, biased and not, by hand and
from config.json alone; prunebench's model computing transformers' logits; depth pruning equal
to transformers' model of the kept blocks (reloaded, both hf backends decoding as generate);
head and channel removal equal to transformers' model of those widths; the compiled decoder
on a width-pruned model, fused and not, and as generate; the residual dropout acting in
training mode and off in the passes that run there; and the multimodal checkpoint (its tensors
as the hub's files name them, and as transformers 5 names them in memory) taken apart into
this family's checkpoint, every row of the vocabulary kept, computing what the whole model
computes on text. tests/test_families.py runs the shared per-family tests on it too (every
method, every backend, evaluation, LoRA)."""

from __future__ import annotations

import copy
import itertools
import json

import pytest
import torch
from transformers import (Emu3Config, Emu3ForCausalLM, Emu3ForConditionalGeneration,
                          Emu3TextConfig)

from prunebench.checkpoint import text_part
from prunebench.checkpoint.param_count import config_from_dict
from prunebench.modeling import count_params, count_params_meta, load_model
from block_helpers import prune_every_block_uniformly, sliced_state
from test_cohere import decoder_gives_transformers_logits, decodes_as_generate_does, width_pruned
from test_families import family_config, family_model, ids, logits, numel
from test_gpt_neox import without_blocks_1_and_2_is
from test_stablelm import dropout_turned_off

pytestmark = pytest.mark.usefixtures("one_thread")

NAME = "emu3_text_model"


@pytest.fixture(scope="module")
def model():
    return family_model(NAME)


@pytest.mark.parametrize("bias,tied", list(itertools.product([False, True], repeat=2)))
def test_counts_equal_transformers_parameters(bias, tied):
    """The four attention projections biased by attention_bias and the three MLP ones by
    mlp_bias (keys Emu3TextConfig does not declare but its modules read), two RMSNorms a block
    and a final one: transformers' model, the meta count, the closed form and config.json's
    values alone agree, and so does the count by hand."""
    config = family_config(NAME, attention_bias=bias, mlp_bias=bias, tie_word_embeddings=tied)
    theirs = Emu3ForCausalLM(config)
    layer = theirs.model.layers[0]
    assert (layer.self_attn.o_proj.bias is not None) == bias
    assert (layer.mlp.gate_proj.bias is not None) == bias
    assert count_params(config) == count_params_meta(config) == numel(theirs)
    assert count_params(config_from_dict(json.loads(config.to_json_string()))) == numel(theirs)
    d, m, v, hd = 64, 128, 128, 32  # head_dim set apart: 4 x 32 against hidden 64
    block = (d * 4 * hd + 2 * d * 2 * hd + 4 * hd * d + 3 * d * m + 2 * d
             + ((4 + 2 + 2) * hd + d + 2 * m + d if bias else 0))
    assert numel(theirs) == v * d * (1 if tied else 2) + 4 * block + d


def test_prunebenchs_model_is_transformers_model(model):
    """The family tests' model (built by prunebench, random biases) computes what transformers'
    class computes with its weights."""
    theirs = Emu3ForCausalLM(model.config).eval()
    theirs.load_state_dict(model.state_dict())
    x = ids()
    torch.testing.assert_close(logits(model, x), logits(theirs, x), rtol=0, atol=1e-5)


def test_depth_pruning_is_transformers_model_of_the_kept_blocks(model, tmp_path):
    """Blocks 1 and 2 removed: transformers' model of two blocks, given blocks 0 and 3,
    computes the same logits; saved, it reloads by prunebench and by Emu3ForCausalLM and both
    hf backends decode as transformers' generate."""
    without_blocks_1_and_2_is(model, "model.layers",
                              Emu3ForCausalLM(family_config(NAME, num_hidden_layers=2)),
                              tmp_path)


def test_a_uniformly_width_pruned_model_is_transformers_model_of_its_widths(model):
    """Every block loses KV group 0 (query heads 0 and 1) and MLP channels 3..34:
    transformers' model of 2 query heads on 1 KV head (head_dim kept) and 96 channels, given
    the rows and columns the test slices itself (the biases of q/k/v, gate and up with their
    rows, o_proj's and down_proj's whole)."""
    pruned = copy.deepcopy(model)
    original, q_rows, kv_rows, keep = prune_every_block_uniformly(pruned, list(range(3, 35)), 32)
    state = sliced_state(original, rows={"q_proj": q_rows, "k_proj": kv_rows, "v_proj": kv_rows,
                                         "gate_proj": keep, "up_proj": keep},
                         columns={"o_proj": q_rows, "down_proj": keep})
    reference = Emu3ForCausalLM(family_config(
        NAME, num_attention_heads=2, num_key_value_heads=1, intermediate_size=96)).eval()
    reference.load_state_dict(state)
    x = ids()
    torch.testing.assert_close(logits(pruned, x), logits(reference, x), rtol=0, atol=1e-5)
    assert numel(pruned) == numel(reference) == count_params(pruned.config)


@pytest.mark.parametrize("fuse", [True, False])
def test_the_compiled_decoder_gives_transformers_logits_for_a_width_pruned_model(model, fuse):
    decoder_gives_transformers_logits(width_pruned(copy.deepcopy(model)), fuse)


def test_the_compiled_decoder_decodes_a_width_pruned_model_as_generate_does(model):
    decodes_as_generate_does(width_pruned(copy.deepcopy(model)))


def test_the_residual_dropout_is_off_in_the_passes_that_run_in_training_mode():
    """Emu3DecoderLayer adds each sublayer's output through an nn.Dropout of attention_dropout
    (0.1 in Emu3TextConfig and as published; its attention reads the rate too): in training
    mode (the Taylor+ scores' and LoRA's passes) modeling.base_dropout_off turns both off, as
    for every family, and restores them after."""
    model = family_model(NAME)
    assert model.config.attention_dropout == 0.1
    with dropout_turned_off(model, family_model(NAME, attention_dropout=0.0)):
        layer = model.model.layers[0]
        assert layer.dropout.p == 0.0 and layer.self_attn.attention_dropout == 0.0
    assert model.model.layers[0].dropout.p == 0.1


# The whole model's tiny config. Its text model has 2 blocks and a vocabulary of 128, which
# holds 16 image tokens (ids 100 to 115), the token that marks where an image goes
# (image_token_id) and the row-end token. Its VQ-VAE has 16 codes.
TEXT = dict(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, pad_token_id=0, bos_token_id=1,
            eos_token_id=2, max_position_embeddings=64)
VQ = dict(codebook_size=16, embed_dim=4, latent_channels=4, base_channels=32,
          channel_multiplier=[1, 1], num_res_blocks=1, attn_resolutions=[], hidden_size=32,
          num_attention_heads=1)
VOCABULARY = {"<image>": 120, "<|extra_200|>": 121,
              **{f"<|visual token{i:06d}|>": 100 + i for i in range(16)}}


@pytest.fixture(scope="module")
def whole():
    torch.manual_seed(0)
    return Emu3ForConditionalGeneration(Emu3Config(text_config=TEXT, vq_config=VQ,
                                                   vocabulary_map=VOCABULARY)).eval()


@pytest.mark.parametrize("names", ["saved", "in memory"])
def test_the_multimodal_checkpoints_language_model_is_kept_as_this_family(whole, names,
                                                                          tmp_path):
    """Emu3ForConditionalGeneration taken apart: the VQ-VAE's tensors left out, the kept text
    checkpoint loads as Emu3ForCausalLM with the whole vocabulary (the image tokens' rows of
    the embedding and the LM head kept, untied) and computes the whole model's logits on
    text, image tokens among it; from the tensors as save_pretrained writes them
    (text_model.model.*, text_model.lm_head.*, vqmodel.*: the hub's layout) and as
    transformers 5 names them in memory (model.text_model.*, lm_head.*, model.vqmodel.*)."""
    from safetensors.torch import save_file

    folder = tmp_path / "whole"
    whole.save_pretrained(folder)
    if names == "in memory":
        (folder / "model.safetensors").unlink()
        save_file({k: v.contiguous() for k, v in whole.state_dict().items()},
                  str(folder / "model.safetensors"), metadata={"format": "pt"})
    assert text_part.take_text_part(folder) is True
    kept = load_model(folder)
    assert type(kept).__name__ == "Emu3ForCausalLM"
    assert kept.config.vocab_size == 128 and not kept.config.tie_word_embeddings
    assert torch.equal(kept.model.embed_tokens.weight, whole.get_input_embeddings().weight)
    assert torch.equal(kept.lm_head.weight, whole.lm_head.weight)
    x = ids(2, 20, seed=4)
    x[:, 5:9] = torch.tensor([100, 107, 115, 121])  # image tokens and a row end, as text
    torch.testing.assert_close(logits(kept, x), logits(whole, x), rtol=0, atol=1e-5)
    assert count_params(kept.config) == numel(kept) == numel(whole.model.text_model) + numel(
        whole.lm_head)
    record = json.loads((folder / text_part.RECORD).read_text())
    assert record["text_model_type"] == NAME
    assert record["left_out"]["parameters"] == sum(  # (its BatchNorms' statistics too)
        t.numel() for t in whole.model.vqmodel.state_dict().values())
    assert not list(folder.glob("model.safetensors"))


def test_the_whole_models_text_config_is_the_familys_config(whole, tmp_path):
    """The text config the extraction writes is Emu3TextConfig's of the wrapper's text_config
    (model_type emu3_text_model, Emu3ForCausalLM, residual dropout 0.1 kept)."""
    folder = tmp_path / "whole"
    whole.save_pretrained(folder)
    text_part.take_text_part(folder)
    values = json.loads((folder / "config.json").read_text())
    assert values["model_type"] == NAME and values["architectures"] == ["Emu3ForCausalLM"]
    assert "vocabulary_map" not in values and "vq_config" not in values
    config = Emu3TextConfig.from_pretrained(folder)
    assert config.attention_dropout == 0.1 and config.num_hidden_layers == 2
