"""Starcoder2 (starcoder2, Starcoder2ForCausalLM) and Phi (phi, PhiForCausalLM): the ungated
MLPs whose modules have other names (Starcoder2's c_fc / c_proj, Phi's fc1 / fc2, Phi's
attention output `dense`), mapped through prunebench.projections. Exact counts against
transformers' models, config.json alone and by hand; each width method's pruned model computing
transformers' logits of its sliced weights, FLAP's compensation into c_proj's / fc2's and
`dense`'s biases; the compiled decoder against transformers on dense and width-pruned models
(Starcoder2's sliding window and Phi's q/k LayerNorms with biases included); LoRA's default
targets adapting the renamed modules and merging, gate_proj refused; the models' own dropout
off in the training-mode passes; the known shapes by hand and the hub ids naming them.
tests/test_families.py runs the shared per-family tests on both."""

from __future__ import annotations

import copy
import itertools
import json

import pytest
import torch
import transformers
from transformers import PhiConfig, Starcoder2Config

import test_ungated_mlp as ungated
from prunebench import lora, projections
from prunebench.benchmark.compiled import StaticDecoder
from prunebench.checkpoint.architectures import (ARCHITECTURES, architecture_config,
                                                 known_shape_of)
from prunebench.checkpoint.param_count import config_from_dict, mlp_input_projections
from prunebench.methods.registry import method_function
from prunebench.modeling import base_dropout_off, count_params, count_params_meta
from test_families import family_model, ids, logits, numel

pytestmark = pytest.mark.usefixtures("one_thread")

NAMED = ("starcoder2", "phi")
# Each family's modules for LLaMA's MLP input, MLP output and attention output.
MODULES = {"starcoder2": ("c_fc", "c_proj", "o_proj"), "phi": ("fc1", "fc2", "dense")}
SHAPE = dict(vocab_size=97, hidden_size=48, intermediate_size=56, num_hidden_layers=3,
             num_attention_heads=6, num_key_value_heads=2)


def built(config):
    return getattr(transformers, type(config).__name__.replace("Config", "ForCausalLM"))(config)


@pytest.mark.parametrize("use_bias,tied", list(itertools.product([False, True], repeat=2)))
def test_starcoder2_counts_equal_transformers_parameters(use_bias, tied):
    config = Starcoder2Config(**SHAPE, use_bias=use_bias, tie_word_embeddings=tied)
    model = built(config)
    mlp = model.model.layers[0].mlp
    assert projections.mlp_inputs(mlp) == ("up_proj",) and projections.down_proj(mlp) is mlp.c_proj
    assert projections.get_part(mlp, "up_proj") is mlp.c_fc
    assert (mlp.c_fc.bias is not None) == (model.model.layers[0].self_attn.o_proj.bias
                                           is not None) == use_bias
    assert mlp_input_projections(config) == 1
    assert count_params(config) == count_params_meta(config) == numel(model)
    assert count_params(config_from_dict(json.loads(config.to_json_string()))) == numel(model)


@pytest.mark.parametrize("qk_layernorm,tied", list(itertools.product([False, True], repeat=2)))
def test_phi_counts_equal_transformers_parameters(qk_layernorm, tied):
    config = PhiConfig(**SHAPE, qk_layernorm=qk_layernorm, tie_word_embeddings=tied)
    model = built(config)
    attn, mlp = model.model.layers[0].self_attn, model.model.layers[0].mlp
    assert projections.o_proj(attn) is attn.dense and projections.down_proj(mlp) is mlp.fc2
    assert projections.mlp_inputs(mlp) == ("up_proj",) and model.lm_head.bias is not None
    assert projections.get_part(mlp, "up_proj") is mlp.fc1
    assert count_params(config) == count_params_meta(config) == numel(model)
    assert count_params(config_from_dict(json.loads(config.to_json_string()))) == numel(model)


def test_the_counts_by_hand():
    """Starcoder2: biased q, k, v, o, c_fc, c_proj, two biased LayerNorms a block, the final
    one, tied. Phi: biased q, k, v, dense, fc1, fc2, one biased LayerNorm a block (the parallel
    block), q/k LayerNorms over a head with biases, the final one, an untied biased LM head."""
    d, m, hd, q, kv = 48, 56, 8, 48, 16
    attention = d * q + 2 * d * kv + q * d + (q + 2 * kv + d)
    mlp = 2 * d * m + (m + d)
    starcoder2 = 3 * (attention + mlp + 2 * 2 * d) + 97 * d + 2 * d
    assert count_params(Starcoder2Config(**SHAPE, use_bias=True)) == starcoder2
    phi = 3 * (attention + mlp + 2 * d + 2 * 2 * hd) + 2 * 97 * d + 97 + 2 * d
    assert count_params(PhiConfig(**SHAPE, qk_layernorm=True)) == phi


@pytest.mark.parametrize("name", NAMED)
def test_every_module_is_named_by_its_llama_part_and_found_by_it(name):
    """One lookup both ways: each module of a block is the LLaMA part `llama_name` says (LoRA's
    targets), and `get_part` finds it by that part in its owner (the surgery, the methods, the
    decoder); what projections returns names parts, never the family's modules."""
    model = family_model(name)
    up, down, out = MODULES[name]
    layer = model.model.layers[0]
    parts = {}
    for qualified, module in layer.named_modules(prefix="model.layers.0"):
        owner, _, own = qualified.rpartition(".")
        part = projections.llama_name(qualified)
        if part in projections.PART_OWNER:
            assert projections.get_part(model.get_submodule(owner), part) is module
            parts[own] = part
    assert parts == {"q_proj": "q_proj", "k_proj": "k_proj", "v_proj": "v_proj", out: "o_proj",
                     up: "up_proj", down: "down_proj"}
    weights = projections.scored_weights(layer, with_attention=True)
    assert list(weights) == ["q_proj", "k_proj", "v_proj", "o_proj", "up_proj", "down_proj"]
    assert weights["up_proj"] is getattr(layer.mlp, up).weight
    assert weights["o_proj"] is getattr(layer.self_attn, out).weight
    assert projections.mlp_inputs(layer.mlp) == ("up_proj",)
    assert projections.kept_mlp_rows(layer.mlp, [0, 2]) == {"up_proj": [0, 2]}
    # keyed by the owner too: an MLP module named as Phi's attention output is no o_proj
    assert projections.llama_name("model.layers.0.mlp.dense") == "dense"


@pytest.mark.parametrize("method", ["llm_pruner", "flap", "wanda_sp"])
@pytest.mark.parametrize("name", NAMED)
def test_each_width_method_computes_transformers_logits_of_its_sliced_weights(name, method):
    """The Arcee / Nemotron check on these modules (ungated.sliced_reference reads them by
    their LLaMA parts): the pruned model is transformers' model of its sliced weights."""
    ungated.test_each_width_method_computes_transformers_logits_of_its_sliced_weights(name,
                                                                                      method)


@pytest.mark.parametrize("name", NAMED)
def test_flap_compensates_into_the_renamed_output_biases(name):
    """FLAP's statistics of c_proj's / fc2's inputs and its compensation into their biases
    keep each pruned MLP's mean output (the Arcee / Nemotron check, on these modules)."""
    ungated.test_flap_compensates_the_removed_channels_mean_output(name)
    model = family_model(name)
    dense = copy.deepcopy(model)
    report = method_function("flap")(model, ids(6, 16, seed=7), int(0.6 * numel(model)))
    # where heads left, their mean output moved into the attention output's bias (Phi's dense)
    changed = [b for b, block in enumerate(report["blocks"]) if len(block["kept_heads"]) < 4]
    assert changed
    for b in changed:
        assert "o_proj" in report["blocks"][b]["compensated"]
        new = projections.o_proj(model.model.layers[b].self_attn).bias
        assert not torch.equal(new, projections.o_proj(dense.model.layers[b].self_attn).bias)


@pytest.mark.parametrize("fuse", [True, False])
@pytest.mark.parametrize("pruned", [False, True])
@pytest.mark.parametrize("name", NAMED)
def test_the_compiled_decoder_gives_transformers_logits(name, pruned, fuse):
    ungated.test_the_compiled_decoder_gives_transformers_logits(name, pruned, fuse)


@pytest.mark.parametrize("pruned", [False, True])
@pytest.mark.parametrize("name", NAMED)
def test_the_compiled_decoder_decodes_as_generate_does(name, pruned):
    ungated.test_the_compiled_decoder_decodes_as_generate_does(name, pruned)


def test_starcoder2s_window_and_phis_qk_norm_biases_change_the_logits():
    """The pieces the decoder reproduces change these models' logits (else the comparisons
    above would not see one dropped): Starcoder2's 6-token window (9-token prompts), Phi's q/k
    LayerNorm biases and its LM head's bias."""
    prompt = ids(3, 9, seed=5)
    model = family_model("starcoder2")
    assert model.config.sliding_window == 6
    full = copy.deepcopy(model)
    full.config.sliding_window = None
    assert (logits(full, prompt) - logits(model, prompt)).abs().max() > 1e-3
    phi = family_model("phi")
    reference = logits(phi, prompt)[:, -1]
    for change in ("q_layernorm", "lm_head"):
        other = copy.deepcopy(phi)
        with torch.no_grad():
            for module in ([layer.self_attn.q_layernorm for layer in other.model.layers]
                           if change == "q_layernorm" else [other.lm_head]):
                module.bias.zero_()
        assert (logits(other, prompt)[:, -1] - reference).abs().max() > 1e-3, change
        torch.testing.assert_close(StaticDecoder(other, 3, 16, mode="eager").prefill_logits(
            prompt), logits(other, prompt)[:, -1], rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", ["phi", "gptj"])
def test_the_compiled_block_sums_its_parallel_outputs_in_transformers_order(name):
    """PhiDecoderLayer, as GPTJBlock, adds attention + MLP, then the block's input (Cohere's
    block adds the input and the attention first): given the outputs transformers' own
    attention and MLP gave a bfloat16 block, the compiled decoder's block returns
    transformers' block output bit for bit, which the other order rounds otherwise."""
    model = family_model(name).to(torch.bfloat16)
    layer = projections.decoder(model).layers[1]
    attention = layer.self_attn if name == "phi" else layer.attn
    seen = {}

    def took(key):
        def hook(module, args, kwargs, out):
            seen[key] = out[0] if isinstance(out, tuple) else out
            if key == "out":
                seen["x"] = args[0] if args else kwargs["hidden_states"]
        return hook

    hooks = [module.register_forward_hook(took(key), with_kwargs=True)
             for module, key in ((layer, "out"), (attention, "attn"), (layer.mlp, "mlp"))]
    logits(model, ids(2, 9, seed=6))
    for hook in hooks:
        hook.remove()
    x, attn, mlp = seen["x"], seen["attn"], seen["mlp"]
    assert torch.equal(seen["out"], attn + mlp + x)  # transformers' order, as read
    block = StaticDecoder(model, 2, 12, mode="eager").blocks[1]
    assert block.parallel and block.outputs_first
    block.attention = lambda *args: attn  # transformers' sublayer outputs, as they are
    block._mlp = lambda *args: mlp
    assert torch.equal(block(x, None, None, None, None, "sdpa"), seen["out"])
    block.outputs_first = False  # Cohere's order: another rounding
    assert not torch.equal(block(x, None, None, None, None, "sdpa"), seen["out"])


@pytest.mark.parametrize("name", NAMED)
def test_lora_adapts_the_renamed_modules_by_default_and_merges(name):
    model = ungated.width_pruned(name)
    up_name, down_name, out_name = MODULES[name]
    settings = lora.resolve_settings({"seed": 0})
    peft_model, names, skipped = lora.attach_lora(model, settings)
    peft_model.eval()
    for module in (f"mlp.{up_name}", f"mlp.{down_name}", f"self_attn.{out_name}",
                   "self_attn.q_proj"):
        assert f"model.layers.3.{module}" in names
    assert not any("gate" in n for n in names)
    assert f"model.layers.0.mlp.{up_name}" in skipped  # no channels left
    ungated.check_a_trained_adapter_merges(model, peft_model, settings, up_name)
    # a shorter list names the parts by LLaMA's names: down_proj alone adapts c_proj / fc2
    chosen, _ = lora.lora_target_names(family_model(name), ["down_proj"])
    assert chosen == [f"model.layers.{b}.mlp.{down_name}" for b in range(4)]


@pytest.mark.parametrize("name", NAMED)
def test_gate_proj_as_a_lora_target_is_refused_with_what_to_do(name):
    ungated.test_gate_proj_as_a_lora_target_of_an_ungated_mlp_is_refused_with_what_to_do(name)


# Each family's dropout rates, at 0.5 (published: StarCoder2's 0.1 on the attention weights,
# the residual and the embeddings; phi-2's resid_pdrop 0.1).
DROPOUT = {"starcoder2": dict(attention_dropout=0.5, residual_dropout=0.5,
                              embedding_dropout=0.5),
           "phi": dict(attention_dropout=0.5, resid_pdrop=0.5, embd_pdrop=0.5)}


@pytest.mark.parametrize("name", NAMED)
def test_the_models_own_dropout_is_off_in_training_mode_passes(name):
    """Taylor+ and LoRA recovery run the model in training mode inside base_dropout_off: its
    logits there are its eval-mode logits, though its dropout changes them outside it
    (Starcoder2's embedding_dropout and residual_dropout are floats its modules read, Phi's
    nn.Dropout modules); the rates come back after."""
    model = family_model(name, **DROPOUT[name])
    x = ids()
    reference = logits(model, x)
    model.train()
    assert (logits(model, x) - reference).abs().max() > 1e-2  # the dropout is on
    with base_dropout_off(model):
        torch.testing.assert_close(logits(model, x), reference, rtol=0, atol=1e-6)
    rates = ([model.model.embedding_dropout, model.model.layers[0].mlp.residual_dropout]
             if name == "starcoder2" else
             [model.model.embed_dropout.p, model.model.layers[0].resid_dropout.p])
    assert rates == [0.5, 0.5]


def test_the_known_shapes_by_hand():
    # StarCoder2-3B: 30 blocks of biased q (3072), k and v (2 x 128 each), o, c_fc / c_proj
    # (12288) and two biased LayerNorms; tied embeddings of 49152; the final LayerNorm
    d, m, kv = 3072, 12288, 256
    block = (2 * d * d + 2 * d * kv + (d + 2 * kv + d)) + (2 * d * m + m + d) + 2 * 2 * d
    assert count_params(config_from_dict(ARCHITECTURES["starcoder2-3b"])) == \
        30 * block + 49152 * d + 2 * d == 3_030_371_328
    # phi-2: 32 blocks of biased q, k, v, dense (2560 each), fc1 / fc2 (10240) and one biased
    # LayerNorm; untied embeddings and a biased head of 51200; the final LayerNorm
    d, m = 2560, 10240
    block = 4 * d * d + 4 * d + 2 * d * m + m + d + 2 * d
    assert count_params(config_from_dict(ARCHITECTURES["phi-2"])) == \
        32 * block + 2 * 51200 * d + 51200 + 2 * d == 2_779_683_840
    for name in ("starcoder2-3b", "phi-2"):
        config = architecture_config(name)
        assert count_params(config) == count_params_meta(config)
    assert architecture_config("starcoder2-3b").sliding_window == 4096
    assert architecture_config("phi-2").qk_layernorm is False


def test_starcoder2_3b_counts_what_its_card_s_memory_footprints_allow():
    """bigcode/starcoder2-3b's card prints get_memory_footprint() (parameters and buffers, in
    MB of 10**6 bytes, two decimals): 12624.81 in float32, 6312.41 in bfloat16. Under the
    transformers it was written for, each attention block's Starcoder2RotaryEmbedding held
    cos / sin caches of max_position_embeddings x head_dim in the model's dtype and head_dim / 2
    float32 inv_freq. Both footprints hold for the count here, and fail for one a bias or a
    norm (3072 parameters, 12 kB in float32) larger or smaller."""
    config = architecture_config("starcoder2-3b")
    blocks = config.num_hidden_layers
    head_dim = config.hidden_size // config.num_attention_heads
    caches = blocks * 2 * config.max_position_embeddings * head_dim  # cos and sin
    inv_freq_bytes = blocks * head_dim // 2 * 4

    def footprints(params):
        return (round((4 * (params + caches) + inv_freq_bytes) / 1e6, 2),
                round((2 * (params + caches) + inv_freq_bytes) / 1e6, 2))

    params = count_params(config)
    assert footprints(params) == (12624.81, 6312.41)
    for off_by in (-config.hidden_size, config.hidden_size):
        assert footprints(params + off_by) != (12624.81, 6312.41)


@pytest.mark.parametrize("name,d,m,blocks,heads,tied,total", [
    ("starcoder2-7b", 4608, 18432, 32, 36, True, 7_173_923_840),
    ("starcoder2-15b", 6144, 24576, 40, 48, False, 15_957_889_024)])
def test_the_larger_starcoder2_shapes_by_hand(name, d, m, blocks, heads, tied, total):
    """StarCoder2-7B / 15B: StarCoder2-3B's block (biases everywhere, two biased LayerNorms)
    with 4 KV heads of 128; the 7B tied as its config.json leaves it, the 15B untied."""
    kv = 4 * 128
    block = (2 * d * d + 2 * d * kv + (d + 2 * kv + d)) + (2 * d * m + m + d) + 2 * 2 * d
    head = 0 if tied else 49152 * d
    config = architecture_config(name)
    assert (config.num_attention_heads, config.hidden_size // heads) == (heads, 128)
    assert count_params(config) == count_params_meta(config) == \
        blocks * block + 49152 * d + head + 2 * d == total
    assert config.tie_word_embeddings is tied


def test_phi_1_and_1_5_by_hand():
    """phi-1 and phi-1.5: phi-2's parallel block at hidden 2048, MLP 8192, 24 blocks; no token
    ids in their config.json."""
    d, m = 2048, 8192
    block = 4 * d * d + 4 * d + 2 * d * m + m + d + 2 * d
    for name in ("phi-1_5", "phi-1"):
        config = architecture_config(name)
        assert count_params(config) == count_params_meta(config) == \
            24 * block + 2 * 51200 * d + 51200 + 2 * d == 1_418_270_720
        assert (config.bos_token_id, config.eos_token_id) == (None, None)


@pytest.mark.parametrize("repo,expected", [
    ("bigcode/starcoder2-3b", "starcoder2-3b"),
    ("TechxGenus/starcoder2-3b-instruct", "starcoder2-3b"),
    ("microsoft/phi-2", "phi-2"),
    ("bigcode/starcoder2-7b", "starcoder2-7b"), ("bigcode/starcoder2-15b", "starcoder2-15b"),
    ("microsoft/phi-1_5", "phi-1_5"), ("microsoft/phi-1", "phi-1"),
    ("TheBloke/phi-2-GGUF", None),
])
def test_the_hub_ids_that_name_the_known_shapes(repo, expected):
    assert known_shape_of(repo) == expected
