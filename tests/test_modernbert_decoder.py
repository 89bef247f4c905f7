"""ModernBERT-decoder (modernbert-decoder, ModernBertDecoderForCausalLM; jhu-clsp's Ettin
decoders): the pieces of its own. A full family: every method, both hf backends and the
compiled decoder.

Its block is LLaMA's order with LayerNorms (biased by norm_bias), q/k/v_proj and an output
`Wo` (attention_bias), and one packed `Wi` of rows [input; gate] giving act(input) x gate to
`Wo` (mlp_bias; Phi-3's gate_up_proj order). Block 0 has no norm before its attention (an
Identity, by its index), and after the final norm a prediction head (`lm_head`: dense,
activation, LayerNorm) comes before the LM head `decoder` (biased by decoder_bias, tied by
default). A LayerNorm norms the embeddings. Its blocks attend globally or in a window of
local_attention // 2 as layer_types says (every global_attn_every_n_layers-th block global
where the config lists none), each kind with its own rotary base; head_dim is hidden / heads
whatever the config says, so a head-pruned model keeps it (transformers' class of fewer heads
would have wider ones: the comparison is with the dense model, those heads silenced).

Checked here: counts against transformers' meta models and by hand (block 0's missing norm,
the prediction head); a checkpoint transformers saved (tied) imported with transformers'
logits; depth pruning equal to transformers' model of the kept blocks with the kept blocks'
kinds written as layer_types (the pattern at the new depth shown to compute another model),
reloaded; block 0 kept by every depth prune (why: transformers' model of the blocks after it
has no place for block 1's trained attention norm) and by BlockPruner, which empties it
instead (its attention alone, or both sublayers: the dense model with them silenced); head
removal (block 0's too) equal to the dense model with those heads silenced; uniform MLP
channel removal equal to transformers' model of that width; the compiled decoder on
width-pruned models (biased and not, fused and not) computing transformers' logits and
decoding as generate; the prediction head, block 0's missing norm, the per-kind rotary bases,
the windows and Wi's [input; gate] order each shown to matter to it; the window read from a
published-style config.json as the class reads it, and shown to matter.
tests/test_families.py runs the shared per-family tests on the tiny config."""

from __future__ import annotations

import pytest
import torch
from transformers import ModernBertDecoderConfig, ModernBertDecoderForCausalLM

from prunebench import PrunebenchError
from prunebench.benchmark.compiled import StaticDecoder
from prunebench.checkpoint.param_count import (block_param_count, checked_config_json,
                                               config_from_dict, count_params, depth_kept_blocks,
                                               layer_shapes, non_block_param_count,
                                               sliding_windows)
from prunebench.methods import blockpruner, surgery
from prunebench.methods.sizing import block_goes_whole, removable_blocks
from prunebench.modeling import (build_model, count_params_meta, load_model, remove_blocks,
                                 save_model)
from block_helpers import kept_blocks_state
from test_cohere import decoder_gives_transformers_logits, decodes_as_generate_does
from test_dbrx import check_a_transformers_checkpoint_imports
from test_families import _write_config, family_config, family_model, ids, logits, numel
from test_families import tokenizer  # noqa: F401 - a fixture
from test_opt import check_depth_prune_is_transformers_model

pytestmark = pytest.mark.usefixtures("one_thread")

NAME = "modernbert-decoder"
HD, WIDTH = 16, 128  # the tiny config's head_dim (64 / 4) and MLP channels
KINDS = ["full_attention", "sliding_attention", "sliding_attention", "full_attention"]


def config(**changes) -> ModernBertDecoderConfig:
    return family_config(NAME, **changes)


def kept_config(keep: list[int]) -> ModernBertDecoderConfig:
    """The tiny config of the blocks `keep`, each of its kind."""
    return config(num_hidden_layers=len(keep), layer_types=[KINDS[i] for i in keep])


# --------------------------------------------------------------------------- counts

@pytest.mark.parametrize("values", [
    {}, {"attention_bias": False, "mlp_bias": False, "norm_bias": False,
         "classifier_bias": False, "decoder_bias": False, "tie_word_embeddings": True}])
def test_counts_equal_transformers_parameters(values):
    """count_params (of the config, and of its config.json values alone) equals transformers'
    class's parameters, and so does the count of prunebench's meta model."""
    built = config(**values)
    with torch.device("meta"):
        reference = sum(p.numel() for p in ModernBertDecoderForCausalLM(built).parameters())
    assert count_params(built) == count_params_meta(built) == reference
    raw = {k: v for k, v in built.to_diff_dict().items() if k not in ("dtype", "layer_types")}
    assert count_params(config_from_dict(raw)) == reference


def test_block_0s_missing_norm_and_the_prediction_head_counted_by_hand():
    """The tiny config (hidden 64, MLP 128, vocabulary 128, every bias on, untied): block 0
    holds one LayerNorm (weight and bias) fewer than the others; the prediction head (dense
    with its bias, a LayerNorm) and the decoder's bias beside the embeddings, their norm and
    the final norm."""
    tiny = config()
    assert tiny.layer_types == KINDS  # (every third block global, from the first)
    d, m, v = 64, 128, 128
    block = 4 * (d * d + d) + (d * 2 * m + 2 * m) + (m * d + d) + 2 * (2 * d)
    assert [block_param_count(tiny, s) for s in layer_shapes(tiny)] == [block - 2 * d] + [
        block] * 3
    assert non_block_param_count(tiny) == (v * d + 2 * d + 2 * d + (d * d + d + 2 * d)
                                           + v * d + v)


def test_a_decode_step_reads_the_prediction_head():
    """The weights a decode step reads (the bandwidth floor's): every parameter but the
    embeddings (a row a token) and their norm, the prediction head among them."""
    from prunebench.benchmark.floors import read_params

    tiny, d, v = config(), 64, 128
    assert read_params(tiny) == count_params(tiny) - v * d - 2 * d


# --------------------------------------------------------------------------- import, depth

def test_a_tied_checkpoint_transformers_saved_imports_and_computes_its_logits(
        tmp_path, tokenizer):  # noqa: F811
    """(Tied, as its class makes it by default: its LM head `decoder`, not `lm_head`, the
    embedding.)"""
    model = check_a_transformers_checkpoint_imports(
        ModernBertDecoderForCausalLM, config(tie_word_embeddings=True), tokenizer, tmp_path)
    assert model.decoder.weight is model.model.embeddings.tok_embeddings.weight


@pytest.mark.parametrize("drop", [[1], [2, 3]])
def test_depth_pruning_is_transformers_model_of_the_kept_blocks(drop, tmp_path):
    """The kept blocks' kinds are written as layer_types: a model of [0, 2, 3] attends as
    [global, window, global], reloaded so by prunebench and transformers."""
    keep = [i for i in range(4) if i not in drop]
    check_depth_prune_is_transformers_model(
        family_model(NAME), drop, "model.layers.", ModernBertDecoderForCausalLM,
        lambda n: kept_config(keep), tmp_path)


def test_the_pattern_at_the_new_depth_would_compute_another_model():
    """Without the kept kinds, ModernBertDecoderConfig derives [global, window, window] for
    three blocks: block 3 (global) would attend in a window, other logits."""
    model = family_model(NAME)
    keep = [0, 2, 3]
    state = kept_blocks_state(model, keep)
    derived = config(num_hidden_layers=3, layer_types=None)
    assert derived.layer_types != kept_config(keep).layer_types
    x = ids(2, 16)
    outputs = []
    for built in (kept_config(keep), derived):
        theirs = ModernBertDecoderForCausalLM(built).eval()
        theirs.load_state_dict(state)
        outputs.append(logits(theirs, x))
    assert (outputs[0] - outputs[1]).abs().max() > 1e-3


def test_block_0_is_kept_by_every_depth_prune():
    """Transformers builds block 0 without an attention norm, by index: a model of blocks 1-3
    has no place for block 1's trained attn_norm (its weights unexpected), so a prune leaving
    block 1 first would compute another model. The depth methods never choose block 0 and
    removing it is refused, the model left whole."""
    model = family_model(NAME)
    assert depth_kept_blocks(model.config) == [0]
    assert removable_blocks(4, 0, 0, depth_kept_blocks(model.config)) == [1, 2, 3]
    theirs = ModernBertDecoderForCausalLM(kept_config([1, 2, 3]))
    result = theirs.load_state_dict(kept_blocks_state(model, [1, 2, 3]), strict=False)
    assert sorted(result.unexpected_keys) == ["model.layers.0.attn_norm.bias",
                                              "model.layers.0.attn_norm.weight"]
    assert result.missing_keys == []
    with pytest.raises(PrunebenchError, match="block 0 of this ModernBERT-decoder.*attn_norm"):
        remove_blocks(model, [0, 2])
    assert len(model.model.layers) == 4


# --------------------------------------------------------------------------- windows

def test_a_published_style_config_json_reads_the_class_windows():
    """A config.json as the Ettin decoders' (global_attn_every_n_layers and local_attention,
    no layer_types): read without transformers as ModernBertDecoderConfig reads it, each
    block's window half local_attention."""
    raw = {"model_type": NAME, "hidden_size": 64, "intermediate_size": 96,
           "num_hidden_layers": 7, "num_attention_heads": 4, "vocab_size": 128,
           "global_attn_every_n_layers": 3, "local_attention": 128}
    windows = [None, 64, 64, None, 64, 64, None]
    assert sliding_windows(config_from_dict(raw)) == windows
    assert sliding_windows(ModernBertDecoderConfig(**raw)) == windows
    # (a saved config.json's sliding_window, which the class sets after its own derivation)
    for read in (config_from_dict, lambda values: ModernBertDecoderConfig(**values)):
        assert sliding_windows(read({**raw, "sliding_window": 32}))[1] == 32


@pytest.mark.parametrize("change", [{"local_attention": None}, {"local_attention": 0},
                                    {"sliding_window": -1}])
def test_sliding_blocks_without_a_window_are_refused_when_read_and_built(change, tmp_path):
    """local_attention null or 0 (or a saved window of -1): ModernBertDecoderConfig makes the
    window -1, with which transformers' model fails on every sliding block (its mask's size is
    not the scores'); refused when config.json is read and when a model is built, naming the
    fix. Every block global (global_attn_every_n_layers 1), no block needs a window."""
    raw = {"model_type": NAME, "hidden_size": 64, "intermediate_size": 96,
           "num_hidden_layers": 3, "num_attention_heads": 4, "vocab_size": 128,
           "global_attn_every_n_layers": 3, "local_attention": 8, "pad_token_id": 0,
           "bos_token_id": 1, "eos_token_id": 2, "cls_token_id": 1, "sep_token_id": 2, **change}
    theirs = ModernBertDecoderConfig(**raw)
    with pytest.raises(RuntimeError):
        ModernBertDecoderForCausalLM(theirs).eval()(ids(1, 12))
    refusal = r"sliding_attention blocks \[1, 2\] no window.*Give local_attention"
    with pytest.raises(PrunebenchError, match=refusal):
        checked_config_json(_write_config(tmp_path / "json", raw))
    with pytest.raises(PrunebenchError, match=refusal):
        build_model(theirs)
    if "local_attention" in change:
        checked_config_json(_write_config(tmp_path / "global",
                                          {**raw, "global_attn_every_n_layers": 1}))


def test_the_window_matters():
    """Its sliding blocks attend to 4 positions (local_attention 8): the same weights with a
    window wider than the 16 tokens compute other logits."""
    model = family_model(NAME)
    x = ids(2, 16)
    wide = ModernBertDecoderForCausalLM(config(local_attention=64, sliding_window=32)).eval()
    wide.load_state_dict(model.state_dict())
    assert (logits(model, x) - logits(wide, x)).abs().max() > 1e-3


# --------------------------------------------------------------------------- width

def silenced(model, heads: dict[int, list[int]]) -> ModernBertDecoderForCausalLM:
    """Transformers' dense model of `model`'s weights with the given heads of each block
    silenced (their columns of the attention's Wo zero)."""
    theirs = ModernBertDecoderForCausalLM(model.config).eval()
    theirs.load_state_dict(model.state_dict())
    with torch.no_grad():
        for block, dropped in heads.items():
            for h in dropped:
                theirs.model.layers[block].attn.Wo.weight[:, h * HD:(h + 1) * HD] = 0
    return theirs


def test_head_removal_computes_the_dense_model_with_those_heads_silenced():
    """Heads 1 of block 0 (the block without an attention norm) and 0 and 2 of block 3 (each
    head its own KV group): the pruned model keeps head_dim 16 (hidden / heads of the dense
    config: ModernBertDecoderAttention views its projections by it) and computes the dense
    model with those heads silenced; it counts as its config says."""
    model = family_model(NAME)
    theirs = silenced(model, {0: [1], 3: [0, 2]})
    surgery.remove_kv_groups(model, 0, [1])
    surgery.remove_kv_groups(model, 3, [0, 2])
    assert model.model.layers[3].attn.q_proj.out_features == 2 * HD
    assert numel(model) == count_params(model.config)
    x = ids()
    torch.testing.assert_close(logits(model, x), logits(theirs, x), rtol=0, atol=1e-5)


def uniformly_mlp_pruned(model, keep: list[int]):
    """`model` with the channels outside `keep` out of every block's MLP, and the state dict
    of those channels sliced by hand: Wi's rows of `keep` in both of its halves ([input;
    gate]), Wo's columns."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    rows = [*keep, *(WIDTH + c for c in keep)]
    for b in range(model.config.num_hidden_layers):
        surgery.remove_channels(model, b, [c for c in range(WIDTH) if c not in keep])
        prefix = f"model.layers.{b}.mlp."
        for key in ("Wi.weight", "Wi.bias"):
            state[prefix + key] = state[prefix + key][rows]
        state[prefix + "Wo.weight"] = state[prefix + "Wo.weight"][:, keep]
    return state


def test_a_uniformly_mlp_pruned_model_is_transformers_model_of_its_width():
    """A third of every block's channels out: transformers' ModernBertDecoderForCausalLM of
    intermediate_size 85, given the kept rows of both of Wi's halves, computes its logits."""
    model = family_model(NAME)
    keep = [c for c in range(WIDTH) if c % 3]
    state = uniformly_mlp_pruned(model, keep)
    theirs = ModernBertDecoderForCausalLM(config(intermediate_size=len(keep))).eval()
    theirs.load_state_dict(state)
    x = ids()
    torch.testing.assert_close(logits(model, x), logits(theirs, x), rtol=0, atol=1e-5)


def width_pruned(model):
    """`model` with head 1 out of block 0 (no attention norm), every head out of block 1 (its
    Wo's bias, where attention_bias, left alone), a third of block 2's MLP channels out."""
    surgery.remove_kv_groups(model, 0, [1])
    surgery.remove_kv_groups(model, 1, range(4))
    surgery.remove_channels(model, 2, range(0, WIDTH, 3))
    assert numel(model) == count_params(model.config)
    return model


UNBIASED = {"attention_bias": False, "mlp_bias": False, "norm_bias": False,
            "classifier_bias": False, "decoder_bias": False}


@pytest.mark.parametrize("values", [{}, UNBIASED], ids=["biased", "unbiased"])
@pytest.mark.parametrize("fuse", [True, False])
def test_the_compiled_decoder_on_width_pruned_models(values, fuse):
    """The compiled decoder computes transformers' logits of width-pruned models, every bias
    on (the tiny config) and off (LayerNorms without biases), fused and not, and decodes as
    generate does."""
    model = width_pruned(family_model(NAME, **values))
    decoder = decoder_gives_transformers_logits(model, fuse)
    assert decoder.blocks[0].ln1 is None and decoder.blocks[1].ln1 is not None
    if fuse:
        decodes_as_generate_does(model)


def _without_the_prediction_head(decoder):
    decoder.predict_w = None


def _block_0_normed(decoder):
    """Block 0 given a unit LayerNorm before its attention, as every other block has."""
    block = decoder.blocks[0]
    block.ln1, block.eps["ln1"] = torch.ones(64), 1e-5


def _one_rotary_base(decoder):
    """The sliding blocks rotated by the global blocks' base (160000, not 10000)."""
    decoder.cos_sliding_attention = decoder.cos_full_attention
    decoder.sin_sliding_attention = decoder.sin_full_attention


def _no_windows(decoder):
    decoder.windows = [None] * len(decoder.windows)


def _input_and_gate_swapped(decoder):
    """Wi's halves read the other way round: act(gate) x input."""
    for block in decoder.blocks:
        block.gate_up_w = torch.cat(block.gate_up_w.chunk(2)[::-1])
        block.gate_up_b = torch.cat(block.gate_up_b.chunk(2)[::-1])


@pytest.mark.parametrize("change", [_without_the_prediction_head, _block_0_normed,
                                    _one_rotary_base, _no_windows, _input_and_gate_swapped])
def test_each_of_its_pieces_matters_to_the_compiled_decoder(change):
    """The decoder computes transformers' logits; without the prediction head, with a norm
    before block 0's attention, with one rotary base for both kinds, without the windows or
    with Wi's halves swapped it computes another model: the agreement checks each."""
    model = family_model(NAME)
    prompt = ids(2, 12, seed=6)
    theirs = logits(model, prompt)[:, -1]
    decoder = StaticDecoder(model, 2, 14, mode="eager")
    torch.testing.assert_close(decoder.prefill_logits(prompt), theirs, rtol=0, atol=1e-5)
    change(decoder)
    assert (decoder.prefill_logits(prompt) - theirs).abs().max() > 1e-3


# --------------------------------------------------------------------------- BlockPruner

@pytest.mark.parametrize("kinds", [("attention",), ("attention", "mlp")])
def test_blockpruner_empties_block_0_and_never_removes_it(kinds, tmp_path, tokenizer):  # noqa: F811
    """Block 0's sublayers removed (its attention alone, or both): the block stays, emptied
    (a block removed whole would leave block 1 first, without its trained attention norm:
    above), and the model computes the dense one with those sublayers silenced (Wo's weight
    and bias zero), reloaded by prunebench alike. Block 1 with both gone is removed whole."""
    model = family_model(NAME)
    assert not block_goes_whole(model.config, 0, {"attention", "mlp"})
    assert block_goes_whole(model.config, 1, {"attention", "mlp"})
    theirs = ModernBertDecoderForCausalLM(model.config).eval()
    theirs.load_state_dict(model.state_dict())
    with torch.no_grad():
        for kind in kinds:
            out = getattr(theirs.model.layers[0], "attn" if kind == "attention" else "mlp").Wo
            out.weight.zero_()
            out.bias.zero_()
    removed = blockpruner.remove_sublayers(model, [blockpruner.unit_id(k, 0) for k in kinds])
    assert removed == [] and len(model.model.layers) == 4
    assert numel(model) == count_params(model.config)
    x = ids()
    torch.testing.assert_close(logits(model, x), logits(theirs, x), rtol=0, atol=1e-5)
    save_model(model, tokenizer, tmp_path / "bp")
    torch.testing.assert_close(logits(load_model(tmp_path / "bp"), x), logits(theirs, x),
                               rtol=0, atol=1e-5)
