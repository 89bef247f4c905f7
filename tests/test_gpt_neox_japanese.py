"""GPT-NeoX-Japanese (gpt_neox_japanese, GPTNeoXJapaneseForCausalLM; abeja/gpt-neox-japanese-2.7b):
counts over its options against transformers' models (meta and built), by hand and from
config.json alone; prunebench's model computing transformers' logits, the last block's
dense_bias held as its output projection's bias and saved back under transformers' name;
depth pruning equal to transformers' model of the kept blocks (the last block removed too: the
new last block's zero dense_bias, which transformers' class of that depth builds), reloaded by
prunebench and by transformers; head removal and MLP channel removal computing the dense model
with those heads / channels silenced (GPTNeoXJapaneseConfig builds no narrower heads, and an
MLP only an integer multiple of hidden_size wide); the compiled decoder on width-pruned models
(the last block's heads all out too), fused and not, and as generate; the last block's bias,
the LayerNorms' biases and the partly rotated heads shown to matter; partial rotation refused
on transformers 5.17, whose rotary table does not fit it; a tied model saved and reloaded;
dropout off in training-mode passes. tests/test_families.py runs the shared per-family tests on
it too (every method, save and reload, every backend, evaluation, LoRA)."""

from __future__ import annotations

import copy
import itertools
import json

import pytest
import torch
import transformers
from packaging.version import Version
from transformers import GPTNeoXJapaneseForCausalLM

from prunebench.checkpoint.param_count import (GPT_NEOX_JAPANESE_PARTIAL_ROTARY,
                                               FamilyUnsupported, checked_config_json,
                                               config_from_dict)
from prunebench.methods import surgery
from prunebench.modeling import (build_model, count_params, count_params_meta, load_model,
                                 published_state, remove_blocks, save_model)
from test_cohere import decoder_gives_transformers_logits, decodes_as_generate_does
from test_families import (FAMILIES, family_config, family_model, ids, in_allocated_memory,
                           logits, numel)
from test_gpt_neox import width_pruned
from test_persimmon_gpt_neo import rows_as_runs_compute_another
from test_qwen3_next import check_hf_backends_decode_as_transformers
from test_stablelm import decoder_follows_the_change, dropout_turned_off, without_norm_biases

pytestmark = pytest.mark.usefixtures("one_thread")

NAME = "gpt_neox_japanese"
BLOCKS = "gpt_neox_japanese.layers"
HEADS, HD, WIDTH = 4, 16, 128  # the family tests' tiny model: 4 heads of 16, an MLP of 2 x 64
PARTIAL = Version(transformers.__version__) >= Version(GPT_NEOX_JAPANESE_PARTIAL_ROTARY)


def small(**kw):
    """The family tests' tiny config with `kw` changed."""
    return family_config(NAME, **kw)


def theirs_of(model, **kw) -> GPTNeoXJapaneseForCausalLM:
    """transformers' model of `model`'s config (`kw` changed) given `model`'s weights as
    transformers names them (published_state: the last block's dense_bias)."""
    theirs = GPTNeoXJapaneseForCausalLM(small(**kw) if kw else model.config).eval()
    theirs.load_state_dict(published_state(model))
    return theirs


@pytest.mark.parametrize("multiple,tied", list(itertools.product([2, 3], [False, True])))
def test_counts_equal_transformers_parameters(multiple, tied):
    """query_key_value and dense without biases, the last block's dense_bias, an ungated MLP
    of int(hidden x intermediate_multiple_size) without biases, LayerNorms with biases:
    transformers' model, the meta count, the closed form and config.json's values alone
    agree, as does the hand count."""
    config = small(intermediate_multiple_size=multiple, tie_word_embeddings=tied)
    theirs = GPTNeoXJapaneseForCausalLM(config)
    assert [layer.attention.dense_bias is not None
            for layer in theirs.gpt_neox_japanese.layers] == [False, False, False, True]
    assert count_params(config) == count_params_meta(config) == numel(theirs)
    assert count_params(config_from_dict(json.loads(config.to_json_string()))) == numel(theirs)
    assert numel(build_model(config, device="meta")) == numel(theirs)
    d, m, v = 64, multiple * 64, 128
    block = 3 * d * d + d * d + 2 * d * m + 2 * 2 * d
    assert numel(theirs) == v * d * (1 if tied else 2) + 4 * block + d + 2 * d


def test_prunebenchs_model_is_transformers_model_and_holds_the_bias_as_dense_s():
    """The family tests' model (random biases and norms) computes transformers' logits with
    its weights; the last block's bias is its `dense`'s (none left as dense_bias), saved under
    transformers' name dense_bias; without it the logits differ (it is a real bias)."""
    model = family_model(NAME)
    attentions = [layer.attention for layer in model.gpt_neox_japanese.layers]
    assert all(a.dense_bias is None for a in attentions)
    assert [a.dense.bias is not None for a in attentions] == [False, False, False, True]
    state = published_state(model)
    assert f"{BLOCKS}.3.attention.dense_bias" in state
    assert not any(k.endswith("dense.bias") for k in state)
    theirs = theirs_of(model)
    x = ids()
    mine = logits(model, x)
    torch.testing.assert_close(mine, logits(theirs, x), rtol=0, atol=1e-5)
    with torch.no_grad():
        theirs.gpt_neox_japanese.layers[3].attention.dense_bias.zero_()
    assert (logits(theirs, x) - mine).abs().max() > 1e-3


@pytest.mark.parametrize("drop", [[1, 2], [3], [2, 3]])
def test_depth_pruning_is_transformers_model_of_the_kept_blocks(drop, tmp_path):
    """Blocks `drop` removed: transformers' model of the kept depth, given the kept blocks,
    computes the same logits, its last block's dense_bias the old last block's or, where that
    block went, zero (what transformers' class of that depth builds, and prunebench's pruned
    model holds); saved, the model counts as its config says, reloads by prunebench and by
    transformers' class (no key missing or left over) and both hf backends decode as
    transformers' generate."""
    model = family_model(NAME)
    keep = [i for i in range(4) if i not in drop]
    state = published_state(model)
    renamed = {}
    for k, v in state.items():
        if k.startswith(f"{BLOCKS}."):
            block, rest = k.removeprefix(f"{BLOCKS}.").split(".", 1)
            if int(block) not in keep:
                continue
            k = f"{BLOCKS}.{keep.index(int(block))}.{rest}"
        renamed[k] = v
    theirs = GPTNeoXJapaneseForCausalLM(small(num_hidden_layers=len(keep))).eval()
    bias = f"{BLOCKS}.{len(keep) - 1}.attention.dense_bias"
    if 3 in drop:
        renamed[bias] = torch.zeros(64)
    theirs.load_state_dict(renamed)
    pruned = remove_blocks(copy.deepcopy(model), drop)
    assert [layer.attention.layer_idx for layer in pruned.gpt_neox_japanese.layers] == list(
        range(len(keep)))
    x = ids()
    torch.testing.assert_close(logits(pruned, x), logits(theirs, x), rtol=0, atol=1e-5)
    assert count_params(pruned.config) == numel(pruned) == numel(theirs)
    save_model(pruned, None, tmp_path / "depth")
    ours = load_model(tmp_path / "depth")
    loaded, info = GPTNeoXJapaneseForCausalLM.from_pretrained(
        tmp_path / "depth", dtype=torch.float32, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    torch.testing.assert_close(
        loaded.gpt_neox_japanese.layers[-1].attention.dense_bias, renamed[bias])
    check_hf_backends_decode_as_transformers(ours, in_allocated_memory(loaded).eval())


def _silenced(model, heads: list[int] = (), channels: list[int] = ()):
    """transformers' dense model of `model`'s weights with `heads` of block 3 (the last, whose
    dense_bias stays) and `channels` of block 1's MLP silenced (their output columns zero)."""
    silenced = theirs_of(model)
    layers = silenced.gpt_neox_japanese.layers
    with torch.no_grad():
        for h in heads:
            layers[3].attention.dense.weight[:, h * HD:(h + 1) * HD] = 0
        for c in channels:
            layers[1].mlp.dense_4h_to_h.weight[:, c] = 0
    return silenced


def test_head_removal_computes_the_dense_model_with_those_heads_silenced():
    """Heads 0 and 2 out of the last block: the pruned model computes transformers' dense
    model with those heads' output columns zero (its dense_bias kept), and counts as its
    config says; the kept heads keep their own q, k and v rows of query_key_value (head by
    head), so taking the rows as [all q; all k; all v] computes another model."""
    model = family_model(NAME)
    silenced = _silenced(model, heads=[0, 2])
    packed = model.gpt_neox_japanese.layers[3].attention.query_key_value
    before = packed.weight.detach().clone()
    surgery.remove_kv_groups(model, 3, [0, 2])
    assert numel(model) == count_params(model.config)
    x = ids()
    mine = logits(model, x)
    torch.testing.assert_close(mine, logits(silenced, x), rtol=0, atol=1e-5)
    rows_as_runs_compute_another(model, f"{BLOCKS}.3.attention.query_key_value", before, x,
                                 mine)


def test_mlp_channel_removal_computes_the_dense_model_with_those_channels_silenced(tmp_path):
    """A third of block 1's MLP channels out (no MLP biases: a channel's whole output is its
    dense_4h_to_h column): the pruned model computes transformers' dense model with those
    columns zero; saved, prunebench reloads it (its layer_shapes) with the same logits."""
    model = family_model(NAME)
    out = list(range(0, WIDTH, 3))
    silenced = _silenced(model, channels=out)
    surgery.remove_channels(model, 1, out)
    assert numel(model) == count_params(model.config)
    x = ids()
    mine = logits(model, x)
    torch.testing.assert_close(mine, logits(silenced, x), rtol=0, atol=1e-5)
    save_model(model, None, tmp_path / "width")
    torch.testing.assert_close(logits(load_model(tmp_path / "width"), x), mine, rtol=0, atol=0)


def _last_block_headless(model):
    """`model` with every head of its last block out: its attention adds the dense bias
    alone (ZeroHeadAttention, which GPTNeoXJapaneseLayer unpacks as its own attention)."""
    surgery.remove_kv_groups(model, 3, range(HEADS))
    assert numel(model) == count_params(model.config)
    return model


@pytest.mark.parametrize("pruned", [width_pruned, _last_block_headless])
@pytest.mark.parametrize("fuse", [True, False])
def test_the_compiled_decoder_gives_transformers_logits_for_a_width_pruned_model(pruned, fuse):
    decoder_gives_transformers_logits(pruned(family_model(NAME)), fuse)


def test_the_last_blocks_bias_stays_when_its_heads_all_go():
    """With every head of the last block out, the model computes transformers' dense model
    with that block's dense weight zero: its dense_bias alone is added."""
    model = family_model(NAME)
    silenced = _silenced(model, heads=range(HEADS))
    x = ids()
    torch.testing.assert_close(logits(_last_block_headless(model), x), logits(silenced, x),
                               rtol=0, atol=1e-5)


def test_the_compiled_decoder_decodes_a_width_pruned_model_as_generate_does():
    decodes_as_generate_does(width_pruned(family_model(NAME)))


def _without_the_last_blocks_bias(model):
    with torch.no_grad():
        model.gpt_neox_japanese.layers[3].attention.dense.bias.zero_()


@pytest.mark.parametrize("change", [_without_the_last_blocks_bias, without_norm_biases])
def test_the_decoder_follows_each_of_its_pieces(change):
    """The last block's bias and every LayerNorm's bias each change its logits, and the
    decoder built from the changed copy follows."""
    decoder_follows_the_change(family_model(NAME), change)


@pytest.mark.skipif(not PARTIAL, reason="transformers 5.17 cannot rotate part of each head")
def test_partly_rotated_heads_are_computed_by_the_decoder_and_matter():
    """A quarter of each head rotating (rotary_pct 0.25, read from config.json as
    GPTNeoXJapaneseConfig reads it): prunebench's model computes transformers', the compiled
    decoder too, and the model of whole heads rotating computes another."""
    values = {**FAMILIES[NAME]().to_dict(), "rotary_pct": 0.25}
    values.pop("rope_parameters")
    config = type(FAMILIES[NAME]()).from_dict(values)
    assert config.rope_parameters["partial_rotary_factor"] == 0.25
    model = family_model(NAME, rope_parameters=config.rope_parameters)
    whole = family_model(NAME)
    assert model.gpt_neox_japanese.layers[0].attention.rotary_ndims == HD // 4
    x = ids()
    torch.testing.assert_close(logits(model, x), logits(theirs_of(model), x), rtol=0, atol=1e-5)
    assert (logits(model, x) - logits(whole, x)).abs().max() > 1e-3
    decoder_gives_transformers_logits(width_pruned(model))


@pytest.mark.skipif(PARTIAL, reason="transformers 5.18 and later rotate part of each head")
def test_partly_rotated_heads_are_refused_where_transformers_cannot_run_them(tmp_path):
    """On transformers 5.17 a config.json rotating part of each head is refused as it is read
    and as a model is built, naming the release to install; transformers' own model stops on
    the shapes (what the refusal saves a job from); whole heads are not refused."""
    values = {**FAMILIES[NAME]().to_dict(), "rotary_pct": 0.5}
    values.pop("rope_parameters")
    folder = tmp_path / "partial"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(values))
    with pytest.raises(FamilyUnsupported, match="rotary_pct.*5.18"):
        checked_config_json(folder)
    config = type(FAMILIES[NAME]()).from_dict(values)
    with pytest.raises(FamilyUnsupported, match="rotary_pct.*5.18"):
        build_model(config, device="meta")
    with pytest.raises(RuntimeError):
        logits(GPTNeoXJapaneseForCausalLM(config).eval(), ids())
    build_model(small(), device="meta")


def test_a_tied_model_saves_and_reloads_with_transformers_logits(tmp_path):
    """Tied as GPTNeoXJapaneseConfig ties by default: the LM head `embed_out` is the
    embedding; saved without it (as transformers saves it), prunebench and transformers
    reload the same logits."""
    model = family_model(NAME, tie_word_embeddings=True)
    assert model.embed_out.weight is model.gpt_neox_japanese.embed_in.weight
    assert numel(model) == count_params(model.config)
    save_model(model, None, tmp_path / "tied")
    from safetensors import safe_open

    with safe_open(tmp_path / "tied" / "model.safetensors", framework="pt") as fh:
        assert "embed_out.weight" not in fh.keys()
    x = ids()
    mine = logits(model, x)
    torch.testing.assert_close(logits(load_model(tmp_path / "tied"), x), mine, rtol=0, atol=0)
    theirs = GPTNeoXJapaneseForCausalLM.from_pretrained(tmp_path / "tied", dtype=torch.float32)
    torch.testing.assert_close(logits(theirs.eval(), x), mine, rtol=0, atol=1e-5)


def test_a_checkpoint_transformers_saved_loads_with_its_logits(tmp_path):
    """transformers' own save (the last block's bias as dense_bias) loads through prunebench's
    loader into the model that computes transformers' logits."""
    theirs = theirs_of(family_model(NAME))
    theirs.save_pretrained(tmp_path / "theirs")
    from prunebench.modeling import write_manifest

    write_manifest(tmp_path / "theirs")
    x = ids()
    torch.testing.assert_close(logits(load_model(tmp_path / "theirs"), x), logits(theirs, x),
                               rtol=0, atol=1e-5)


def test_dropout_is_off_in_the_passes_that_run_in_training_mode():
    """Its attention_dropout (0.1 by default) and hidden_dropout act in training mode, which
    modeling.base_dropout_off turns off as for every family."""
    model = family_model(NAME, attention_dropout=0.3, hidden_dropout=0.3)
    with dropout_turned_off(model, family_model(NAME, attention_dropout=0.0)):
        pass
