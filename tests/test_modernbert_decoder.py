"""ModernBERT-decoder (modernbert-decoder, ModernBertDecoderForCausalLM; jhu-clsp's Ettin
decoders): the pieces of its own. A depth-only dense family (Family.depth_only).

Its block is LLaMA's order with LayerNorms (biased by norm_bias), q/k/v_proj and an output
`Wo` (attention_bias), and one packed `Wi` of rows [input; gate] giving act(input) x gate to
`Wo` (mlp_bias). What prunebench's width surgery and compiled decoder do not model: block 0
has no norm before its attention (an Identity, by its index), and after the final norm a
prediction head (`lm_head`: dense, activation, LayerNorm) comes before the LM head `decoder`
(biased by decoder_bias, tied by default). A LayerNorm norms the embeddings. Its blocks attend
globally or in a window of local_attention // 2 as layer_types says (every
global_attn_every_n_layers-th block global where the config lists none), each kind with its
own rotary base.

Checked here: counts against transformers' meta models and by hand (block 0's missing norm,
the prediction head); a checkpoint transformers saved (tied) imported with transformers'
logits; depth pruning equal to transformers' model of the kept blocks with the kept blocks'
kinds written as layer_types (the pattern at the new depth shown to compute another model),
reloaded, the hf backends decoding as generate; block 0 kept by every depth prune (why:
transformers' model of the blocks after it has no place for block 1's trained attention
norm); the window read from a published-style config.json as the class reads it, and shown to
matter; the refusals of width surgery, the compiled decoder and the start's check.
tests/test_families.py runs the shared per-family tests on the tiny config."""

from __future__ import annotations

import pytest
import torch
from transformers import ModernBertDecoderConfig, ModernBertDecoderForCausalLM

from prunebench import PrunebenchError
from prunebench.checkpoint.param_count import (block_param_count, checked_config_json,
                                               config_from_dict, count_params, depth_kept_blocks, layer_shapes,
                                               non_block_param_count, sliding_windows)
from prunebench.methods.sizing import removable_blocks
from prunebench.modeling import build_model, count_params_meta, remove_blocks
from block_helpers import kept_blocks_state
from test_dbrx import check_a_transformers_checkpoint_imports
from test_doge import check_the_start_refuses_the_compiled_backend
from test_families import _write_config, family_config, family_model, ids, logits
from test_families import tokenizer  # noqa: F401 - a fixture
from test_hyperclovax_minicpm3 import check_surgery_and_the_compiled_decoder_refuse
from test_opt import check_depth_prune_is_transformers_model

pytestmark = pytest.mark.usefixtures("one_thread")

NAME = "modernbert-decoder"
OWN = "a prediction head"
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


# --------------------------------------------------------------------------- refusals

def test_width_surgery_and_the_compiled_decoder_refuse_it():
    check_surgery_and_the_compiled_decoder_refuse(family_model(NAME), OWN)


def test_the_start_refuses_the_compiled_backend_for_it(tmp_path):
    check_the_start_refuses_the_compiled_backend(config(), OWN, tmp_path / "mbd")
