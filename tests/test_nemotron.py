"""Nemotron (nemotron, NemotronForCausalLM; Minitron-4B / 8B, Nemotron-Mini-4B-Instruct): its
LayerNorms with a bias that weigh by 1 + weight (NemotronLayerNorm1P) computed by the compiled
decoder bit for bit as transformers computes them, in float32 and half precision; the + 1 and
the bias each changing the logits (so the decoder's agreement with transformers would see
either dropped); half of each head rotating and head_dim set apart; a config.json without
num_key_value_heads refused; its hub ids naming its known shapes (minitron-4b / -8b), never the
Llama-3.1 Minitron prunes', and Arcee's none. Its ungated MLP is tests/test_ungated_mlp.py's,
beside Arcee's; tests/test_families.py runs the shared per-family tests on it too (every
method, save and reload, every backend, evaluation, LoRA)."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from transformers import NemotronForCausalLM

from prunebench import PrunebenchError
from prunebench.benchmark.compiled import StaticDecoder
from prunebench.benchmark.fused_block import norm_style, rms_norm
from prunebench.checkpoint.architectures import known_shape_of
from prunebench.checkpoint.param_count import (checked_config_json, checkpoint_config, family,
                                             norm_params)
from prunebench.modeling import load_config, norm_eps
from test_families import family_model, ids, logits

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_the_decoders_layer_norm_is_nemotrons_bit_for_bit(dtype):
    """NemotronLayerNorm1P: torch's layer_norm of the input's dtype with weight + 1 (added in
    the weight's dtype) and the bias; the decoder's "affine_plus_one" style is that."""
    model = family_model("nemotron").to(dtype)
    assert norm_style(family(model.config)) == "affine_plus_one"
    torch.manual_seed(0)
    x = (torch.randn(3, 5, 64) * 3 + 0.5).to(dtype)
    for norm in (model.model.layers[1].input_layernorm, model.model.layers[2].
                 post_attention_layernorm, model.model.norm):
        assert type(norm).__name__ == "NemotronLayerNorm1P"
        with torch.no_grad():
            theirs = norm(x)
        mine = rms_norm(x, norm.weight.detach(), norm_eps(norm), "affine_plus_one",
                        norm.bias.detach())
        assert torch.equal(mine, theirs)


def _plain_layer_norms(model):
    """The model's norms weighing by their weight, not 1 + weight (each weight made one less:
    what a LayerNorm without Nemotron's + 1 computes from the checkpoint's values)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith(".weight"):
                p.sub_(1.0)


def _without_norm_biases(model):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith(".bias"):
                p.zero_()


@pytest.mark.parametrize("change", [_plain_layer_norms, _without_norm_biases])
def test_the_plus_one_and_the_bias_each_change_the_logits_and_the_decoder_follows(change):
    """Without the + 1, or without the biases, this model's logits move (norm weights drawn
    around 1 here, so 1 + weight around 2; the published init is 0, weighing by 1): a decoder
    that dropped either would miss transformers' logits, which it matches, changed or not."""
    model = family_model("nemotron")
    prompt = ids(2, 9, seed=6)
    reference = logits(model, prompt)[:, -1]
    decoder = StaticDecoder(model, 2, 12, mode="eager")
    torch.testing.assert_close(decoder.prefill_logits(prompt), reference, rtol=0, atol=1e-5)
    changed = copy.deepcopy(model)
    change(changed)
    theirs = logits(changed, prompt)[:, -1]
    assert (theirs - reference).abs().max() > 1e-2
    torch.testing.assert_close(StaticDecoder(changed, 2, 12, mode="eager").prefill_logits(prompt),
                               theirs, rtol=0, atol=1e-5)


def test_half_of_each_head_rotates_and_head_dim_is_set_apart():
    """The tiny model's heads of 32 (4 x 32 = 128 against hidden 64) rotate their first 16
    dimensions (8 frequencies); rotating the whole head instead changes the logits (so the
    decoder's partial rotation, which matches transformers', is a real check)."""
    model = family_model("nemotron")
    attn = model.model.layers[0].self_attn
    assert attn.head_dim == 32 and attn.q_proj.out_features == 128 != model.config.hidden_size
    assert model.model.rotary_emb.inv_freq.numel() == 8
    assert model.lm_head.weight is not model.model.embed_tokens.weight  # untied
    whole = model.config.to_dict()
    whole["rope_parameters"] = {**whole["rope_parameters"], "partial_rotary_factor": 1.0}
    whole_model = NemotronForCausalLM(type(model.config).from_dict(whole)).eval()
    whole_model.load_state_dict(model.state_dict())
    assert whole_model.model.rotary_emb.inv_freq.numel() == 16
    x = ids()
    assert (logits(whole_model, x) - logits(model, x)).abs().max() > 1e-3


def test_its_norms_count_a_weight_and_a_bias():
    model = family_model("nemotron")
    assert norm_params(model.config) == 2 * 64
    layer = model.model.layers[0]
    assert layer.input_layernorm.bias.shape == layer.post_attention_layernorm.bias.shape == (64,)


@pytest.mark.parametrize("written", ["left out", "null"])
def test_a_config_json_without_kv_heads_is_refused_with_what_to_do(written, tmp_path):
    """NemotronConfig leaves num_key_value_heads None where config.json has none, and
    NemotronAttention divides by it: transformers cannot build the model. Every reader of the
    config refuses it before any weight, naming the value to give."""
    check_refused_without(family_model("nemotron").config.to_dict(), "num_key_value_heads",
                          written, tmp_path, r"gives no num_key_value_heads for a Nemotron "
                                             r"model.*give the KV heads its weights have")


def check_refused_without(values: dict, key: str, written: str, tmp_path, refused: str) -> None:
    """A config.json of `values` without `key` (left out, or null where `written` says so) is
    refused by every reader of the config (`refused`, a pattern of the message) before any
    weight; with the value `values` gave it, it is read."""
    value = values.pop(key)
    if written == "null":
        values[key] = None
    (tmp_path / "config.json").write_text(json.dumps(values))
    for read in (checked_config_json, checkpoint_config, load_config):
        with pytest.raises(PrunebenchError, match=refused):
            read(tmp_path)
    values[key] = value
    (tmp_path / "config.json").write_text(json.dumps(values))
    assert getattr(load_config(tmp_path), key) == value


@pytest.mark.parametrize("repo, shape", [
    ("nvidia/Minitron-4B-Base", "minitron-4b"), ("nvidia/Nemotron-4-Minitron-4B-Base", "minitron-4b"),
    ("nvidia/Minitron-8B-Base", "minitron-8b"), ("nvidia/Nemotron-Mini-4B-Instruct", "nemotron-mini-4b"),
    ("nvidia/Llama-3.1-Minitron-4B-Width-Base", "llama-3.1-minitron-4b-width"),
    ("rasyosef/Llama-3.1-Minitron-4B-Chat", None), ("arcee-ai/AFM-4.5B", None),
    ("arcee-ai/AFM-4.5B-Base", None)])
def test_the_hub_ids_name_their_own_shapes(repo, shape):
    """The Nemotron-4 Minitron models' hub ids name their Nemotron shapes, never the Llama-3.1
    Minitron prunes' their names resemble, and those (or their fine-tunes) never a Nemotron
    shape. No Arcee shape is known here (AFM-4.5B's config.json could not be read): planned
    from its own config.json once downloaded."""
    assert known_shape_of(repo) == shape


def test_the_minitron_shapes_are_nemotrons_as_published():
    """Minitron-4B's config.json: 24 query heads of 128 (its card's "32 heads" is not it), half
    of each head rotating, relu2, Nemotron's token ids; Nemotron-Mini-4B is that shape."""
    from prunebench.checkpoint.architectures import architecture_config, architecture_values

    small, large = architecture_config("minitron-4b"), architecture_config("minitron-8b")
    assert type(small).__name__ == "NemotronConfig" and small.hidden_act == "relu2"
    assert (small.num_attention_heads, small.num_key_value_heads, small.head_dim) == (24, 8, 128)
    assert large.num_attention_heads * large.head_dim == 6144 > large.hidden_size
    assert (small.bos_token_id, small.eos_token_id) == (2, 3) and not small.tie_word_embeddings
    assert architecture_values("nemotron-mini-4b") == architecture_values("minitron-4b")
