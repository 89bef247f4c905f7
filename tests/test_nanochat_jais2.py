"""nanochat (nanochat, NanoChatForCausalLM; karpathy/nanochat-d32 and the nanochat runs
converted to transformers) and Jais2 (jais2, Jais2ForCausalLM; Jais-2-8B, Jais-2-8B-Chat):
counts over their options against transformers' models (meta and built), by hand and from
config.json alone; depth pruning equal to transformers' model of the kept blocks, reloaded by
prunebench and by transformers with the hf backends decoding as generate; head removal equal to
transformers' model of fewer heads (nanochat's q/k norms weigh nothing, so a head leaves whole)
and MLP channel removal equal to transformers' model of that width; the compiled decoder on
width-pruned models, fused and not, and as generate; each of nanochat's own pieces (its
rotation the other way round, the weightless norm of the embeddings and of the rotated q/k
heads, the soft-capped logits) and Jais2's LayerNorm biases shown to change the logits, the
decoder following each. tests/test_families.py runs the shared per-family tests on both too
(every method, save and reload, every backend, evaluation, LoRA)."""

from __future__ import annotations

import itertools
import json

import pytest
import torch
from transformers import Jais2ForCausalLM, NanoChatForCausalLM

from prunebench.benchmark.compiled import StaticDecoder
from prunebench.benchmark.fused_block import norm_style, rms_norm
from prunebench.checkpoint.param_count import config_from_dict, family, norm_params
from prunebench.methods import surgery
from prunebench.modeling import count_params, count_params_meta, norm_eps
from test_cohere import decoder_gives_transformers_logits, decodes_as_generate_does, width_pruned
from test_families import family_config, family_model, ids, logits, numel
from test_gpt_neox import check_a_uniformly_mlp_pruned_model, without_blocks_1_and_2_is
from test_stablelm import decoder_follows_the_change, without_norm_biases

pytestmark = pytest.mark.usefixtures("one_thread")

CLASSES = {"nanochat": NanoChatForCausalLM, "jais2": Jais2ForCausalLM}
MLP_NAMES = {"nanochat": ("fc1", "fc2"), "jais2": ("up_proj", "down_proj")}


def small(name: str, **kw):
    """The family tests' tiny config of `name`, with `kw` changed."""
    return family_config(name, **kw)


@pytest.mark.parametrize("bias,tied", list(itertools.product([False, True], repeat=2)))
def test_nanochat_counts_equal_transformers_parameters(bias, tied):
    """Its four attention projections biased by attention_bias, fc1 / fc2 never, no norm
    holding a parameter (the block's, the q/k norms, the final one): transformers' model, the
    meta count, the closed form and config.json's values alone agree."""
    config = small("nanochat", attention_bias=bias, tie_word_embeddings=tied)
    model = NanoChatForCausalLM(config)
    layer = model.model.layers[0]
    for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
        assert (getattr(layer.self_attn, proj).bias is not None) == bias
    assert layer.mlp.fc1.bias is None and layer.mlp.fc2.bias is None
    assert not [n for n, _ in model.named_parameters() if "norm" in n]
    assert norm_params(config) == 0
    assert count_params(config) == count_params_meta(config) == numel(model)
    assert count_params(config_from_dict(json.loads(config.to_json_string()))) == numel(model)
    # by hand: embeddings (and an untied head), per block q/k/v/o and fc1 / fc2
    d, m, v, hd = 64, 128, 128, 16
    block = d * 4 * hd + 2 * d * 2 * hd + 4 * hd * d + (8 * hd + d if bias else 0) + 2 * d * m
    assert numel(model) == v * d * (1 if tied else 2) + 4 * block


@pytest.mark.parametrize("attention_bias,mlp_bias,tied",
                         list(itertools.product([False, True], repeat=3)))
def test_jais2_counts_equal_transformers_parameters(attention_bias, mlp_bias, tied):
    """Its attention biased by attention_bias, up_proj / down_proj by mlp_bias, LayerNorms with
    a weight and a bias: transformers' model, the meta count, the closed form and config.json's
    values alone agree, and so does the count by hand."""
    config = small("jais2", attention_bias=attention_bias, mlp_bias=mlp_bias,
                   tie_word_embeddings=tied)
    model = Jais2ForCausalLM(config)
    layer = model.model.layers[0]
    assert (layer.self_attn.o_proj.bias is not None) == attention_bias
    assert (layer.mlp.up_proj.bias is not None) == mlp_bias
    assert not hasattr(layer.mlp, "gate_proj")
    assert layer.input_layernorm.bias.shape == model.model.norm.bias.shape == (64,)
    assert count_params(config) == count_params_meta(config) == numel(model)
    assert count_params(config_from_dict(json.loads(config.to_json_string()))) == numel(model)
    d, m, v, hd = 64, 128, 128, 32  # head_dim set apart: 4 x 32 against hidden 64
    block = (d * 4 * hd + 2 * d * 2 * hd + 4 * hd * d + (8 * hd + d if attention_bias else 0)
             + 2 * d * m + (m + d if mlp_bias else 0) + 2 * 2 * d)
    assert numel(model) == v * d * (1 if tied else 2) + 4 * block + 2 * d


@pytest.mark.parametrize("name", ["nanochat", "jais2"])
def test_prunebenchs_model_is_transformers_model(name):
    """The family tests' model (built by prunebench, random biases) computes what transformers'
    class computes with its weights."""
    model = family_model(name)
    theirs = CLASSES[name](model.config).eval()
    theirs.load_state_dict(model.state_dict())
    x = ids()
    torch.testing.assert_close(logits(model, x), logits(theirs, x), rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", ["nanochat", "jais2"])
def test_depth_pruning_is_transformers_model_of_the_kept_blocks(name, tmp_path):
    """Blocks 1 and 2 removed: transformers' model of two blocks, given blocks 0 and 3,
    computes the same logits; saved, it reloads by prunebench and by transformers' class and
    both hf backends decode as transformers' generate."""
    without_blocks_1_and_2_is(family_model(name), "model.layers",
                              CLASSES[name](small(name, num_hidden_layers=2)), tmp_path)


@pytest.mark.parametrize("name", ["nanochat", "jais2"])
def test_head_removal_is_transformers_model_of_fewer_heads(name):
    """KV group 0 (query heads 0 and 1) out of every block: transformers' model of 2 query
    heads on 1 KV head (head_dim kept) computes the same logits given the kept heads' rows
    and columns sliced by hand (nanochat's q/k norms weigh nothing: a head leaves whole)."""
    model = family_model(name)
    hd = model.model.layers[0].self_attn.head_dim
    state = {k: v.clone() for k, v in model.state_dict().items()}
    for b in range(4):
        surgery.remove_kv_groups(model, b, [0])
        prefix = f"model.layers.{b}.self_attn."
        for proj in ("q_proj", "k_proj", "v_proj"):
            rows = slice(2 * hd, None) if proj == "q_proj" else slice(hd, None)
            for kind in ("weight", "bias"):
                if f"{prefix}{proj}.{kind}" in state:
                    state[f"{prefix}{proj}.{kind}"] = state[f"{prefix}{proj}.{kind}"][rows]
        state[f"{prefix}o_proj.weight"] = state[f"{prefix}o_proj.weight"][:, 2 * hd:]
    theirs = CLASSES[name](small(name, num_attention_heads=2, num_key_value_heads=1,
                                 head_dim=hd)).eval()
    theirs.load_state_dict(state)
    assert numel(model) == numel(theirs) == count_params(model.config)
    x = ids()
    torch.testing.assert_close(logits(model, x), logits(theirs, x), rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", ["nanochat", "jais2"])
def test_a_uniformly_mlp_pruned_model_is_transformers_model_of_its_width(name):
    up, down = MLP_NAMES[name]
    check_a_uniformly_mlp_pruned_model(family_model(name), "model.layers.{}.mlp.", up, down,
                                       lambda width: CLASSES[name](
                                           small(name, intermediate_size=width)))


@pytest.mark.parametrize("name", ["nanochat", "jais2"])
@pytest.mark.parametrize("fuse", [True, False])
def test_the_compiled_decoder_gives_transformers_logits_for_a_width_pruned_model(name, fuse):
    decoder_gives_transformers_logits(width_pruned(family_model(name)), fuse)


@pytest.mark.parametrize("name", ["nanochat", "jais2"])
def test_the_compiled_decoder_decodes_a_width_pruned_model_as_generate_does(name):
    decodes_as_generate_does(width_pruned(family_model(name)))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_decoders_weightless_norm_is_nanochats_bit_for_bit(dtype):
    """NanoChatRMSNorm: float32 statistics of the input, no weight, the cast back (its final
    norm, the one it applies to the embeddings too, and the q/k norms over head_dim)."""
    model = family_model("nanochat").to(dtype)
    assert norm_style(family(model.config)) == "weightless"
    torch.manual_seed(0)
    attn = model.model.layers[1].self_attn
    for norm, width in ((model.model.norm, 64), (model.model.layers[2].input_layernorm, 64),
                        (attn.q_norm, 16), (attn.k_norm, 16)):
        x = (torch.randn(3, 5, width) * 3 + 0.5).to(dtype)
        with torch.no_grad():
            theirs = norm(x)
        mine = rms_norm(x, torch.ones(1), norm_eps(norm), "weightless")
        assert mine.dtype == dtype
        torch.testing.assert_close(mine, theirs, rtol=0, atol=0 if dtype == torch.bfloat16
                                   else 1e-6)


def _without_soft_cap(model):
    model.config.final_logit_softcapping = None


@pytest.mark.parametrize("change", [_without_soft_cap, without_norm_biases])
def test_the_decoder_follows_the_soft_cap_and_the_layer_norms_biases(change):
    """nanochat's soft cap (2 here: it binds) and Jais2's LayerNorm biases each change their
    model's logits, and the decoder built from the changed copy follows it."""
    decoder_follows_the_change(family_model("nanochat" if change is _without_soft_cap
                                            else "jais2"), change)


def _rotated_llamas_way(decoder):
    for name, table in list(decoder.named_buffers()):
        if name.startswith("sin"):
            setattr(decoder, name, -table)


def _embeddings_unnormed(decoder):
    decoder.embed_norm_w = None


def _heads_unnormed(decoder):
    for block in decoder.blocks:
        block.q_norm_w = block.k_norm_w = None


@pytest.mark.parametrize("piece", [_rotated_llamas_way, _embeddings_unnormed, _heads_unnormed])
def test_each_of_nanochats_pieces_matters_to_the_decoder(piece):
    """The decoder computes nanochat's logits; without any one of its pieces (each pair
    rotated LLaMA's way, the embeddings not normed, the rotated q/k heads not normed) it
    misses them: the agreement above is a real check of each."""
    model = family_model("nanochat")
    prompt = ids(2, 9, seed=6)
    theirs = logits(model, prompt)[:, -1]
    decoder = StaticDecoder(model, 2, 12, mode="eager")
    torch.testing.assert_close(decoder.prefill_logits(prompt), theirs, rtol=0, atol=1e-5)
    decoder = StaticDecoder(model, 2, 12, mode="eager")
    piece(decoder)
    assert (decoder.prefill_logits(prompt) - theirs).abs().max() > 1e-3


def test_nanochats_rotation_is_llamas_by_minus_the_angle():
    """NanoChat's rotate_half is LLaMA's negated: its queries and keys are LLaMA's rotated by
    the negated sin table (what the decoder's tables hold)."""
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb as llamas
    from transformers.models.nanochat.modeling_nanochat import apply_rotary_pos_emb as its

    torch.manual_seed(0)
    q, k = torch.randn(2, 4, 5, 16), torch.randn(2, 2, 5, 16)
    model = family_model("nanochat")
    cos, sin = model.model.rotary_emb(q, torch.arange(5)[None])
    assert all(torch.equal(a, b) for a, b in zip(its(q, k, cos, sin), llamas(q, k, cos, -sin)))
    assert not torch.allclose(its(q, k, cos, sin)[0], llamas(q, k, cos, sin)[0])


@pytest.mark.parametrize("name", ["nanochat", "jais2"])
def test_dropout_is_off_in_the_passes_that_run_in_training_mode(name):
    """attention_dropout acts in training mode (the Taylor+ scores' and LoRA's passes), which
    modeling.base_dropout_off turns off as for every family, and restores after."""
    from test_stablelm import dropout_turned_off

    model = family_model(name, attention_dropout=0.3)
    with dropout_turned_off(model, family_model(name)):
        assert model.model.layers[0].self_attn.attention_dropout == 0.0
    assert model.model.layers[0].self_attn.attention_dropout == 0.3

