"""CWM (cwm, CwmForCausalLM; Meta's Code World Model) and Granite-SWA (granite_swa,
GraniteSWAForCausalLM): the pieces of their own.

Both: exact counts against transformers' meta models and config.json's values alone, a block
by hand; a config.json without `layer_types` read as each class reads it (every fourth block
full attention, from the first); the dense model prunebench builds computing transformers'
logits; depth pruning rewriting `layer_types` (and Granite-SWA's `layer_rope_theta`) so that
each kept block keeps its window and its rotary base, equal to transformers' model of the
kept blocks on a sequence longer than the window and to transformers' load of the saved
checkpoint; a uniformly width-pruned model equal to transformers' class of its widths given
the rows (and Granite-SWA's sink logits) the test keeps itself; the compiled decoder's
prefill logits and greedy tokens against transformers' on dense, width- and depth-pruned
models, fused and not.

Granite-SWA: its learned sink logit per query head, its NoPE block (rotary base 0) and its
blocks' own bases each shown to matter to the logits and to the compiled decoder's; SDPA
refused for it (transformers' SDPA has no sinks), eager picked by `auto`; a config.json whose
layer_rope_theta lacks blocks refused.

tests/test_families.py runs the shared per-family tests on both (every method, save and
reload, every backend, evaluation, LoRA); benchmarks/family_check.py decodes both on a GPU."""

from __future__ import annotations

import copy
import json

import pytest
import torch
import transformers
from transformers import AutoModelForCausalLM, CwmConfig, GraniteSWAConfig

from prunebench import PrunebenchError
from prunebench.benchmark.compiled import StaticDecoder, rotary_kinds, sliding_windows
from prunebench.checkpoint.param_count import (block_param_count, config_from_dict,
                                               count_params, default_layer_shape, family)
from prunebench.checkpoint.param_count import sliding_windows as config_windows
from prunebench.modeling import count_params_meta, remove_blocks, save_model
from block_helpers import kept_blocks_state, prune_every_block_uniformly, sliced_state
from test_cohere import decoder_gives_transformers_logits, decodes_as_generate_does
from test_families import (FAMILIES, _write_config, family_model, ids, in_allocated_memory,
                           logits, numel)
from test_ungated_mlp import width_pruned

pytestmark = pytest.mark.usefixtures("one_thread")

NAMES = ["cwm", "granite_swa"]
CONFIGS = {"cwm": CwmConfig, "granite_swa": GraniteSWAConfig}
# 6 query heads on 2 KV heads; CWM's head_dim set apart (6 x 16 = 96 against hidden 48).
SHAPE = dict(vocab_size=97, hidden_size=48, intermediate_size=56, num_hidden_layers=5,
             num_attention_heads=6, num_key_value_heads=2)


def theirs(config, state) -> torch.nn.Module:
    """transformers' own class of `config` (float32, eager attention: Granite-SWA's sinks are
    in it alone) holding exactly `state`."""
    config._attn_implementation = "eager"
    with torch.device("meta"):
        model = getattr(transformers, family(config).model_class)(config)
    model.load_state_dict(state, strict=True, assign=True)
    # (the rotary tables are no weights: made again on the CPU, as transformers makes them;
    # Granite-SWA's one a rotary base too)
    inner = model.model
    inner.rotary_emb = type(inner.rotary_emb)(config=config)
    if hasattr(inner, "rotary_embs"):
        inner.rotary_embs = torch.nn.ModuleList(type(r)(config=r.config)
                                                for r in inner.rotary_embs)
    return model.float().eval()


def values_of(name: str, **changes) -> dict:
    """The family tests' config of `name` as config.json values, with `changes`."""
    return {**FAMILIES[name]().to_dict(), **changes}


# --------------------------------------------------------------------------- counts

@pytest.mark.parametrize("values", [{}, {"tie_word_embeddings": True}, {"mlp_bias": True},
                                    {"attention_bias": True}])
@pytest.mark.parametrize("name", NAMES)
def test_counts_equal_transformers_parameters(name, values):
    """count_params (from the config; from its config.json values alone too) equals the
    parameters of transformers' class built on the meta device, over tying and the bias
    options (CWM's attention has no bias whatever a stray attention_bias says)."""
    extra = {"head_dim": 16} if name == "cwm" else {}
    config = CONFIGS[name](**{**SHAPE, **extra, **values})
    with torch.device("meta"):
        reference = sum(p.numel() for p in getattr(
            transformers, family(config).model_class)(config).parameters())
    assert count_params(config) == count_params_meta(config) == reference
    raw = {k: v for k, v in config.to_dict().items() if k != "dtype"}
    assert count_params(config_from_dict(raw)) == reference
    assert count_params(config_from_dict({"model_type": name, **SHAPE, **extra, **values})) == \
        reference


def test_blocks_counted_by_hand():
    """One CWM block: q/k/v/o of 6 and 2 heads of 16 (no biases), gate / up / down, two
    RMSNorms; one Granite-SWA block: heads of 48 / 6 = 8, a sink logit a query head beside.
    The models: the embeddings and the final norm, untied heads where the class unties."""
    d, m = 48, 56
    cwm = CwmConfig(**SHAPE, head_dim=16)
    q, kv = 6 * 16, 2 * 16
    by_hand = d * q + 2 * d * kv + q * d + 3 * d * m + 2 * d
    assert block_param_count(cwm, default_layer_shape(cwm)) == by_hand == 20_448
    assert count_params(cwm) == 2 * 97 * d + d + 5 * by_hand  # untied (CwmConfig's)
    granite = GraniteSWAConfig(**SHAPE)
    q, kv = 6 * 8, 2 * 8
    by_hand = d * q + 2 * d * kv + q * d + 6 + 3 * d * m + 2 * d
    assert block_param_count(granite, default_layer_shape(granite)) == by_hand == 14_310
    assert count_params(granite) == 97 * d + d + 5 * by_hand  # tied (GraniteSWAConfig's)


@pytest.mark.parametrize("name", NAMES)
def test_a_config_json_without_layer_types_reads_as_its_class_reads_it(name):
    """Without layer_types both classes make every fourth block, from the first, of full
    attention and the others sliding (CWM's window 8192 by default, Granite-SWA's 128): the
    plan's reading of config.json says the same."""
    extra = {"head_dim": 16} if name == "cwm" else {}
    for values in ({}, {"sliding_window": 64}):
        raw = {"model_type": name, **SHAPE, **extra, **values}
        assert config_windows(config_from_dict(raw)) == \
            config_windows(CONFIGS[name](**{**SHAPE, **extra, **values})), values
    window = {"cwm": 8192, "granite_swa": 128}[name]
    assert config_windows(config_from_dict({"model_type": name, **SHAPE, **extra})) == \
        [None, window, window, window, None]


def test_a_config_json_of_too_few_rotary_bases_is_refused(tmp_path):
    """Granite-SWA's layer_rope_theta gives each block its rotary base: a list shorter than the
    blocks would stop transformers' build, so it is refused when read, naming the list."""
    from prunebench.checkpoint.param_count import checked_config_json

    values = values_of("granite_swa", layer_rope_theta=[10000.0, 0, 500.0])
    (tmp_path / "config.json").write_text(json.dumps(values))
    with pytest.raises(PrunebenchError, match=r"layer_rope_theta \(3\) for 4 blocks"):
        checked_config_json(tmp_path)


# --------------------------------------------------------------------------- the model

@pytest.mark.parametrize("name", NAMES)
def test_the_dense_model_computes_transformers_logits(name):
    model = family_model(name)
    reference = theirs(CONFIGS[name].from_dict(values_of(name)), model.state_dict())
    x = ids(2, 24)
    torch.testing.assert_close(logits(model, x), logits(reference, x), rtol=0, atol=1e-6)


def test_granite_swa_sinks_nope_block_and_bases_matter():
    """Each of Granite-SWA's own pieces changes this model's logits (else the comparisons
    with transformers would not see one dropped): the sink logits (all set to -inf: no sink),
    the block without rotary positions (given the first block's base) and the blocks' two
    bases (the last block given the others'); the model holds a rotary module per base."""
    model = family_model("granite_swa")
    assert len(model.model.rotary_embs) == 2
    x = ids(2, 24)
    reference = logits(model, x)
    unsunk = copy.deepcopy(model)
    for layer in unsunk.model.layers:
        torch.nn.init.constant_(layer.self_attn.sinks, float("-inf"))
    assert (logits(unsunk, x) - reference).abs().max() > 1e-3
    for bases in ([10000.0, 10000.0, 10000.0, 500.0], [10000.0, 0, 10000.0, 10000.0]):
        other = theirs(GraniteSWAConfig.from_dict(values_of("granite_swa",
                                                            layer_rope_theta=bases)),
                       model.state_dict())
        assert (logits(other, x) - reference).abs().max() > 1e-3, bases


# --------------------------------------------------------------------------- depth pruning

@pytest.mark.parametrize("drop", [[0], [1], [0, 3]])
@pytest.mark.parametrize("name", NAMES)
def test_depth_pruning_keeps_each_blocks_window_and_base(name, drop, tmp_path):
    """Removing blocks removes their layer_types (and Granite-SWA's layer_rope_theta) entries,
    so every kept block keeps its window and its rotary base: transformers' model of the kept
    blocks under those lists computes the pruned model's logits on a sequence longer than the
    window (where the same weights attending in full differ), and so does transformers' load
    of the saved checkpoint, whose config.json holds the kept blocks' lists."""
    dense = family_model(name)
    types = list(dense.config.layer_types)
    bases = list(getattr(dense.config, "layer_rope_theta", None) or [])
    model = copy.deepcopy(dense)
    remove_blocks(model, drop)
    keep = [b for b in range(4) if b not in drop]
    kept = {"num_hidden_layers": len(keep), "layer_types": [types[b] for b in keep]}
    if bases:
        kept["layer_rope_theta"] = [bases[b] for b in keep]
    assert all(getattr(model.config, key) == value for key, value in kept.items())
    assert [layer.self_attn.sliding_window for layer in model.model.layers] == \
        [6 if types[b] == "sliding_attention" else None for b in keep]
    state = kept_blocks_state(dense, keep)
    reference = theirs(CONFIGS[name].from_dict(values_of(name, **kept)), state)
    x = ids(2, 24)
    torch.testing.assert_close(logits(model, x), logits(reference, x), rtol=0, atol=1e-6)
    full = theirs(CONFIGS[name].from_dict(values_of(
        name, **kept | {"layer_types": ["full_attention"] * len(keep)})), state)
    assert (logits(full, x) - logits(model, x)).abs().max() > 1e-3  # the windows matter
    save_model(model, None, tmp_path / "pruned")
    written = json.loads((tmp_path / "pruned" / "config.json").read_text())
    assert all(written[key] == value for key, value in kept.items())
    loaded = in_allocated_memory(AutoModelForCausalLM.from_pretrained(
        tmp_path / "pruned", dtype=torch.float32, attn_implementation="eager")).eval()
    torch.testing.assert_close(logits(loaded, x), logits(model, x), rtol=0, atol=1e-6)


# --------------------------------------------------------------------------- width pruning

@pytest.mark.parametrize("name", NAMES)
def test_a_uniformly_width_pruned_model_computes_as_transformers_class_of_its_widths(name):
    """Every block loses KV group 0 (query heads 0 and 1) and channels 3..34: prunebench's
    model computes what transformers' class of 2 query heads, 1 KV head and 96 channels
    computes given the rows the test keeps itself (q/k/v's and o_proj's of the kept heads with
    their biases, gate / up rows and down columns of the kept channels, Granite-SWA's sink
    logits of the kept heads)."""
    model = family_model(name)
    hd = 16
    original, q_rows, kv_rows, keep = prune_every_block_uniformly(model, list(range(3, 35)), hd)
    state = sliced_state(original, rows={"q_proj": q_rows, "k_proj": kv_rows, "v_proj": kv_rows,
                                         "gate_proj": keep, "up_proj": keep},
                         columns={"o_proj": q_rows, "down_proj": keep})
    for key in [k for k in state if k.endswith("self_attn.sinks")]:
        state[key] = state[key][[2, 3]]  # the kept query heads' own
    values = values_of(name, num_attention_heads=2, num_key_value_heads=1,
                       intermediate_size=96, head_dim=hd)
    reference = theirs(CONFIGS[name].from_dict(values), state)
    x = ids(2, 24)
    torch.testing.assert_close(logits(model, x), logits(reference, x), rtol=0, atol=1e-6)
    assert numel(model) == numel(reference) == count_params(model.config)
    assert (logits(model, x) - logits(family_model(name), x)).abs().max() > 1e-3


# --------------------------------------------------------------------------- compiled decoder

@pytest.mark.parametrize("fuse", [True, False])
@pytest.mark.parametrize("pruned", [False, True])
@pytest.mark.parametrize("name", NAMES)
def test_the_compiled_decoder_gives_transformers_logits(name, pruned, fuse):
    """The decoder's prefill logits are transformers' (float32) on dense and width-pruned
    models (a KV group out of block 1, every head out of block 2, MLP channels out of blocks
    0 and 3): each block's window, Granite-SWA's sinks (of the kept heads), bases and NoPE
    block."""
    model = width_pruned(name) if pruned else family_model(name)
    decoder = decoder_gives_transformers_logits(model, fuse)
    assert [block.n_q for block in decoder.blocks] == ([4, 2, 0, 4] if pruned else [4] * 4)
    if name == "granite_swa":
        assert decoder.attention == "eager"  # auto: SDPA has no sinks
        assert [block.rotate for block in decoder.blocks] == [True, False, True, True]
        for block, layer in zip(decoder.blocks, model.model.layers):
            sinks = getattr(layer.self_attn, "sinks", None) if block.n_q else None
            assert (block.sinks is None) == (sinks is None)
            assert sinks is None or torch.equal(block.sinks, sinks)


@pytest.mark.parametrize("drop", [[], [0], [1]])
@pytest.mark.parametrize("name", NAMES)
def test_the_compiled_decoder_decodes_as_generate_does(name, drop):
    """Greedy tokens of the dense and depth-pruned models (removing block 0 moves every kind;
    block 1 is Granite-SWA's NoPE block) equal generate's past the window."""
    model = family_model(name)
    remove_blocks(model, drop)
    assert sliding_windows(model, 16) == [6 if kind == "sliding_attention" else None
                                          for kind in model.config.layer_types]
    decodes_as_generate_does(model)  # 6 prompt tokens and 10 new: past the window
    decodes_as_generate_does(width_pruned(name))


def test_the_compiled_decoder_applies_granite_swas_own_pieces():
    """Each of Granite-SWA's pieces the decoder reproduces changes its logits: the sinks (all
    -inf: none) and each block's base (one table a base, none applied on the NoPE block)."""
    model = family_model("granite_swa")
    assert rotary_kinds(model) == ["theta_10000_0", None, "theta_10000_0", "theta_500_0"]
    prompt = ids(2, 12, seed=6)
    decoder = StaticDecoder(model, 2, 16, mode="eager")
    reference = decoder.prefill_logits(prompt)
    unsunk = StaticDecoder(model, 2, 16, mode="eager")
    for block in unsunk.blocks:  # (the blocks' own: the model's sinks stay as they were)
        block.sinks = torch.full_like(block.sinks, float("-inf"))
    assert (unsunk.prefill_logits(prompt) - reference).abs().max() > 1e-3
    one_base = StaticDecoder(model, 2, 16, mode="eager")
    one_base.cos_theta_500_0, one_base.sin_theta_500_0 = one_base.cos_theta_10000_0, \
        one_base.sin_theta_10000_0
    assert (one_base.prefill_logits(prompt) - reference).abs().max() > 1e-3


@pytest.mark.parametrize("attention", ["sdpa", "flex"])
def test_sdpa_is_refused_for_granite_swa_naming_its_sinks(attention):
    with pytest.raises(PrunebenchError, match=r"learned sink logit per head.*set the "
                                              r"benchmark's attention to eager"):
        StaticDecoder(family_model("granite_swa"), 2, 16, mode="eager", attention=attention)


@pytest.mark.parametrize("model_type", ["granite_swa", "granitemoe_swa"])
def test_the_start_refuses_sdpa_for_a_model_with_sinks(model_type, tmp_path):
    """The start's check named gpt-oss's sinks alone: a Granite-SWA or GraniteMoE-SWA model
    benchmarked with an SDPA attention was refused only by each benchmark job."""
    from prunebench.plan.checks import softcap_attention_problems

    folder = tmp_path / "resources" / "models" / "m"
    _write_config(folder, json.loads(FAMILIES[model_type]().to_json_string()))
    config = {"models": {"m": {"source": "local:x", "variants": []}},
              "benchmark": {"attention": "sdpa"}}
    problem, = softcap_attention_problems(config, tmp_path / "resources")
    assert f"model m ({model_type})" in problem and "sink logit" in problem
    config["benchmark"]["attention"] = "auto"
    assert softcap_attention_problems(config, tmp_path / "resources") == []
    named = {"models": {"m": {"source": "hf:ibm-granite/granite-swash-2b", "variants": []}},
             "benchmark": {"attention": "sdpa"}}
    if model_type == "granite_swa":  # its known shape, before any download
        assert "model m (granite_swa)" in softcap_attention_problems(named, tmp_path / "none")[0]
