"""Apertus (apertus, ApertusForCausalLM; Apertus-8B / -70B) and Ministral (ministral,
MinistralForCausalLM; Ministral-8B-Instruct-2410): the pieces of their own.

Apertus: exact counts against transformers' meta models, config.json's values alone and the
arithmetic by hand, the two learned xIELU scalars of each block's MLP (alpha_p, alpha_n; beta
and eps are buffers) counted; those scalars (and the buffers) kept with their block through
width surgery, depth pruning and a save and a reload by prunebench and by transformers; silent
MLP channels removed with the logits kept; a uniformly width-pruned model equal to transformers'
class of its widths given the rows the test keeps itself; depth pruning equal to transformers'
model of the kept blocks; the compiled decoder, fused and not, on dense and width-pruned models
(its xIELU the model's own module, its norms Apertus's attention_layernorm /
feedforward_layernorm); LoRA adapting up_proj / down_proj and merging, the xIELU scalars left
as they were.

Ministral: counts against transformers' meta models; depth pruning rewriting `layer_types` so
that each kept block keeps its window (a full-attention block removed, or sliding ones), equal to
transformers' model of the kept blocks on a sequence longer than the window, and reloaded by
transformers from prunebench's config.json; the compiled decoder's windows and tokens on such a
model; a config.json without `layer_types` read as MinistralConfig reads it; a config.json
without head_dim refused (transformers cannot build it).

tests/test_families.py runs the shared per-family tests on both (every method, save and reload,
every backend, evaluation, LoRA); benchmarks/family_check.py decodes both on a GPU."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from transformers import (ApertusConfig, ApertusForCausalLM, AutoModelForCausalLM,
                          MinistralConfig, MinistralForCausalLM)

from prunebench import lora
from prunebench.benchmark.compiled import sliding_windows
from prunebench.checkpoint.param_count import (block_param_count, config_from_dict,
                                               count_params, default_layer_shape)
from prunebench.checkpoint.param_count import sliding_windows as config_windows
from prunebench.methods import surgery
from prunebench.modeling import count_params_meta, load_model, remove_blocks, save_model
from block_helpers import kept_blocks_state, prune_every_block_uniformly, sliced_state
from test_cohere import decoder_gives_transformers_logits, decodes_as_generate_does
from test_families import FAMILIES, family_model, ids, in_allocated_memory, logits, numel
from test_nemotron import check_refused_without
from test_ungated_mlp import (check_a_trained_adapter_merges,
                              check_the_decoder_follows_another_activation, width_pruned)

pytestmark = pytest.mark.usefixtures("one_thread")

# 6 query heads of 16 on 2 KV heads, head_dim set apart (6 x 16 = 96 against hidden 48).
SHAPE = dict(vocab_size=97, hidden_size=48, intermediate_size=56, num_hidden_layers=3,
             num_attention_heads=6, num_key_value_heads=2)
XIELU = ("alpha_p", "alpha_n", "beta", "eps")  # XIELUActivation's parameters, then buffers


def theirs(config, state) -> torch.nn.Module:
    """transformers' own class of `config` (float32) holding exactly `state`."""
    with torch.device("meta"):
        model = (ApertusForCausalLM if config.model_type == "apertus"
                 else MinistralForCausalLM)(config)
    model.load_state_dict(state, strict=True, assign=True)
    # (the rotary tables are no weights: made again on the CPU, as transformers makes them)
    model.model.rotary_emb = type(model.model.rotary_emb)(config=config)
    return model.float().eval()


def xielu_values(model) -> list[dict[str, torch.Tensor]]:
    """Each block's xIELU parameters and buffers, copied."""
    return [{name: getattr(layer.mlp.act_fn, name).detach().clone() for name in XIELU}
            for layer in model.model.layers]


# --------------------------------------------------------------------------- Apertus: counts

@pytest.mark.parametrize("values", [{}, {"attention_bias": True}, {"head_dim": 16},
                                    {"tie_word_embeddings": True, "attention_bias": True},
                                    {"hidden_act": "gelu"}])
def test_apertus_counts_equal_transformers_parameters(values):
    """count_params (from the config; from its config.json values alone too) equals the
    parameters of transformers' ApertusForCausalLM built on the meta device, over the bias
    option, head_dim set apart, tying and another activation (no learned scalars then)."""
    config = ApertusConfig(**{**SHAPE, **values})
    with torch.device("meta"):
        reference = sum(p.numel() for p in ApertusForCausalLM(config).parameters())
    assert count_params(config) == count_params_meta(config) == reference
    raw = {k: v for k, v in config.to_dict().items() if k != "dtype"}
    assert count_params(config_from_dict(raw)) == reference
    assert count_params(config_from_dict({"model_type": "apertus", **SHAPE, **values})) == \
        reference  # (hidden_act left out: ApertusConfig's xielu)


def test_apertus_block_counted_by_hand():
    """One block: q/k/v/o of 6 and 2 heads of 16 (no biases), a q and a k RMSNorm of head_dim
    shared by the heads, up_proj and down_proj (no gate), xIELU's alpha_p and alpha_n, two
    RMSNorms of hidden; 2 of the model's parameters a block are xIELU's."""
    config = ApertusConfig(**SHAPE, head_dim=16)
    d, q, kv, m = 48, 6 * 16, 2 * 16, 56
    by_hand = d * q + 2 * d * kv + q * d + 2 * 16 + 2 * d * m + 2 + 2 * d
    assert block_param_count(config, default_layer_shape(config)) == by_hand == 17_794
    gelu = ApertusConfig(**SHAPE, head_dim=16, hidden_act="gelu")
    assert count_params(config) - count_params(gelu) == 2 * 3
    assert count_params(config) == 2 * 97 * d + d + 3 * by_hand


# --------------------------------------------------------------------------- Apertus: pruning

def test_xielu_scalars_stay_with_their_block_through_pruning_saving_and_reloading(tmp_path):
    """Each block's xIELU scalars (random here, so each block's differ) matter to the logits,
    stay as they were through head and channel removal, leave with a removed block and follow
    each kept one to its new index, and are what prunebench's and transformers' loads of the
    saved checkpoint hold."""
    model = family_model("apertus")
    x = ids()
    moved = copy.deepcopy(model)
    with torch.no_grad():
        moved.model.layers[2].mlp.act_fn.alpha_p.add_(0.5)
    assert (logits(moved, x) - logits(model, x)).abs().max() > 1e-3
    before = xielu_values(model)
    assert len({float(b["alpha_p"]) for b in before}) == 4  # each block's own
    surgery.remove_kv_groups(model, 1, [0])
    surgery.remove_channels(model, 3, range(0, 128, 3))
    surgery.remove_channels(model, 0, range(128))  # no channel left: the scalars stay
    remove_blocks(model, [2])
    kept = xielu_values(model)
    for new, old in enumerate([0, 1, 3]):
        for name in XIELU:
            assert torch.equal(kept[new][name], before[old][name]), (old, name)
    assert numel(model) == count_params(model.config)
    save_model(model, None, tmp_path / "pruned")
    ours = load_model(tmp_path / "pruned")
    assert all(torch.equal(a[n], b[n]) for a, b in zip(xielu_values(ours), kept) for n in XIELU)
    assert torch.equal(logits(ours, x), logits(model, x))
    depth = family_model("apertus")  # (transformers builds uniform blocks: depth pruning alone)
    remove_blocks(depth, [2])
    save_model(depth, None, tmp_path / "depth")
    loaded = in_allocated_memory(AutoModelForCausalLM.from_pretrained(
        tmp_path / "depth", dtype=torch.float32)).eval()
    assert all(torch.equal(a[n], b[n])
               for a, b in zip(xielu_values(loaded), xielu_values(depth)) for n in XIELU)
    torch.testing.assert_close(logits(loaded, x), logits(depth, x), rtol=0, atol=1e-6)


def test_removing_silent_mlp_channels_keeps_the_logits():
    """Channels whose down_proj columns are zero add nothing: removing them leaves the logits
    as they were (had other up_proj rows gone, the kept channels would change)."""
    model = family_model("apertus")
    drop = [0, 7, 21, 39, 127]
    with torch.no_grad():
        model.model.layers[2].mlp.down_proj.weight[:, drop] = 0
    x = ids()
    before = logits(model, x)
    surgery.remove_channels(model, 2, drop)
    assert model.model.layers[2].mlp.up_proj.weight.shape == (123, 64)
    assert numel(model) == count_params(model.config)
    torch.testing.assert_close(logits(model, x), before, rtol=0, atol=1e-6)


def test_a_uniformly_width_pruned_model_computes_as_transformers_class_of_its_widths():
    """Every block loses KV group 0 (query heads 0 and 1) and channels 3..34: prunebench's
    model computes what transformers' ApertusForCausalLM of 2 query heads, 1 KV head and 96
    channels computes given the rows the test keeps itself (q/k/v's and o_proj's of the kept
    heads with their biases, up_proj's rows and down_proj's columns of the kept channels; the
    q/k norms, shared by the heads, and the xIELU scalars whole)."""
    model = family_model("apertus")
    original, q_rows, kv_rows, keep = prune_every_block_uniformly(model, list(range(3, 35)), 32)
    state = sliced_state(original, rows={"q_proj": q_rows, "k_proj": kv_rows, "v_proj": kv_rows,
                                         "up_proj": keep},
                         columns={"o_proj": q_rows, "down_proj": keep})
    values = {**FAMILIES["apertus"]().to_dict(), "num_attention_heads": 2,
              "num_key_value_heads": 1, "intermediate_size": 96}
    reference = theirs(ApertusConfig.from_dict(values), state)
    x = ids()
    torch.testing.assert_close(logits(model, x), logits(reference, x), rtol=0, atol=1e-6)
    assert numel(model) == numel(reference) == count_params(model.config)
    assert (logits(model, x) - logits(family_model("apertus"), x)).abs().max() > 1e-3


@pytest.mark.parametrize("drop", [[0], [1, 2], [3]])
def test_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(drop):
    dense = family_model("apertus")
    model = copy.deepcopy(dense)
    remove_blocks(model, drop)
    keep = [b for b in range(4) if b not in drop]
    values = {**FAMILIES["apertus"]().to_dict(), "num_hidden_layers": len(keep)}
    reference = theirs(ApertusConfig.from_dict(values), kept_blocks_state(dense, keep))
    x = ids()
    torch.testing.assert_close(logits(model, x), logits(reference, x), rtol=0, atol=1e-6)
    assert numel(model) == count_params(model.config) == numel(reference)


# --------------------------------------------------------------------------- Apertus: decoder

@pytest.mark.parametrize("fuse", [True, False])
@pytest.mark.parametrize("pruned", [False, True])
def test_the_compiled_decoder_gives_transformers_logits(pruned, fuse):
    """The decoder's prefill logits are transformers' (float32), its blocks reading Apertus's
    norms under their own names and applying the MLP's own xIELU module."""
    model = width_pruned("apertus") if pruned else family_model("apertus")
    decoder = decoder_gives_transformers_logits(model, fuse)
    assert [block.m for block in decoder.blocks] == ([0, 128, 128, 85] if pruned else [128] * 4)
    for block, layer in zip(decoder.blocks, model.model.layers):
        assert not block.gated and block.act is layer.mlp.act_fn
        assert torch.equal(block.ln1, layer.attention_layernorm.weight)
        assert torch.equal(block.ln2, layer.feedforward_layernorm.weight)


@pytest.mark.parametrize("pruned", [False, True])
def test_the_compiled_decoder_decodes_as_generate_does(pruned):
    decodes_as_generate_does(width_pruned("apertus") if pruned else family_model("apertus"))


def test_the_decoder_applies_xielu_between_up_and_down():
    """xIELU matters to these logits (ReLU instead changes them), and the decoder built from a
    model with another activation follows it: it applies what the MLP applies."""
    check_the_decoder_follows_another_activation(family_model("apertus"), torch.nn.ReLU())


def test_lora_adapts_up_and_down_and_merges_leaving_the_xielu_scalars():
    model = width_pruned("apertus")
    before = xielu_values(model)
    settings = lora.resolve_settings({"seed": 0})
    peft_model, names, _ = lora.attach_lora(model, settings)
    peft_model.eval()
    assert "model.layers.3.mlp.up_proj" in names and "model.layers.3.mlp.down_proj" in names
    assert not any("gate" in n or "act_fn" in n for n in names)
    trainable = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    merged = check_a_trained_adapter_merges(model, peft_model, settings)
    assert all(torch.equal(a[n], b[n])
               for a, b in zip(xielu_values(merged), before) for n in XIELU)


# --------------------------------------------------------------------------- Ministral

@pytest.mark.parametrize("values", [{"head_dim": 8}, {"head_dim": 16},
                                    {"head_dim": 8, "tie_word_embeddings": True}])
def test_ministral_counts_equal_transformers_parameters(values):
    config = MinistralConfig(**{**SHAPE, **values})
    with torch.device("meta"):
        reference = sum(p.numel() for p in MinistralForCausalLM(config).parameters())
    assert count_params(config) == count_params_meta(config) == reference
    assert count_params(config_from_dict({"model_type": "ministral", **SHAPE, **values})) == \
        reference


@pytest.mark.parametrize("written", ["left out", "null"])
def test_a_config_json_without_head_dim_is_refused_with_what_to_do(written, tmp_path):
    """MinistralConfig leaves head_dim None where config.json gives none (it skips
    MistralConfig's hidden_size / heads) and MinistralAttention takes that None: transformers
    cannot build the model. Every reader of the config refuses it before any weight, naming
    the value to give."""
    values = family_model("ministral").config.to_dict()
    without = {k: v for k, v in values.items() if k != "head_dim"}
    with pytest.raises(TypeError):  # transformers' own failure, as the refusal says
        MinistralForCausalLM(MinistralConfig.from_dict(without))
    check_refused_without(values, "head_dim", written, tmp_path,
                          r"gives no head_dim for a Ministral model.*give the head_dim its "
                          r"weights have")


def test_a_config_json_without_layer_types_reads_as_ministral_config_reads_it():
    """Without layer_types MinistralConfig puts its window (4096 by default) on every block,
    or none where sliding_window is null: the plan's reading of config.json says the same."""
    for values in ({}, {"sliding_window": 64}, {"sliding_window": None}):
        raw = {"model_type": "ministral", **SHAPE, "head_dim": 8, **values}
        assert config_windows(config_from_dict(raw)) == \
            config_windows(MinistralConfig(**{**SHAPE, "head_dim": 8, **values})), values
    assert config_windows(config_from_dict({"model_type": "ministral", **SHAPE})) == [4096] * 3


@pytest.mark.parametrize("drop", [[0], [1], [0, 2]])
def test_depth_pruning_keeps_each_blocks_window_and_computes_as_transformers(drop, tmp_path):
    """The tiny Ministral's blocks: one of full attention, then three with a window of 6.
    Removing blocks removes their layer_types entries, so every kept block keeps its kind:
    transformers' model of the kept blocks under those layer_types computes the pruned model's
    logits on a sequence longer than the window (where a block of the wrong kind would differ,
    as the same weights attending in full do), and so does transformers' load of the saved
    checkpoint, whose config.json holds the kept blocks' kinds."""
    dense = family_model("ministral")
    types = list(dense.config.layer_types)
    model = copy.deepcopy(dense)
    remove_blocks(model, drop)
    keep = [b for b in range(4) if b not in drop]
    assert model.config.layer_types == [types[b] for b in keep]
    assert [layer.self_attn.sliding_window for layer in model.model.layers] == \
        [6 if types[b] == "sliding_attention" else None for b in keep]
    values = {**FAMILIES["ministral"]().to_dict(), "num_hidden_layers": len(keep),
              "layer_types": [types[b] for b in keep]}
    reference = theirs(MinistralConfig.from_dict(values), kept_blocks_state(dense, keep))
    x = ids(2, 24)
    torch.testing.assert_close(logits(model, x), logits(reference, x), rtol=0, atol=1e-6)
    full = theirs(MinistralConfig.from_dict({**values, "layer_types": ["full_attention"]
                                             * len(keep)}), kept_blocks_state(dense, keep))
    assert (logits(full, x) - logits(model, x)).abs().max() > 1e-3  # the windows matter
    save_model(model, None, tmp_path / "pruned")
    written = json.loads((tmp_path / "pruned" / "config.json").read_text())
    assert written["layer_types"] == [types[b] for b in keep]
    loaded = in_allocated_memory(AutoModelForCausalLM.from_pretrained(
        tmp_path / "pruned", dtype=torch.float32)).eval()
    torch.testing.assert_close(logits(loaded, x), logits(model, x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("drop", [[], [0]])
def test_the_compiled_decoder_decodes_with_each_blocks_window(drop):
    """The decoder masks each block as its layer_types says (the full-attention block
    removed: every kept block sliding), and decodes as generate does past the window."""
    model = family_model("ministral")
    remove_blocks(model, drop)
    expected = [None, 6, 6, 6][len(drop):]
    assert sliding_windows(model, 16) == expected
    decodes_as_generate_does(model)  # 6 prompt tokens and 10 new: past the window
