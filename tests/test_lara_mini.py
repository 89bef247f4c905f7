"""Lara Mini (lara_mini, LaraMiniForCausalLM, transformers 5.24 on; Translated's
Lara-4-Mini-Base): Qwen3.5's block with three kinds of token mixer, a Gated DeltaNet
("linear_attention"), Qwen3's attention windowed and rotating ("sliding_attention") or
unwindowed without rotary positions ("full_attention"), as `layer_types` says (the released
period of five where config.json gives none), and Flint's experts with an ungated shared
expert in every block; tied.

On a transformers older than 5.24 (make test-floor's 5.17; on 5.25 the release is faked): the
config.json is read and counted by hand without a transformers class, its refusals proven, and
everything that builds the model is refused, naming the release.

Where the class exists (skipped below with the refusal's words): exact counts against
transformers' meta model (biases, tying, kinds), a config.json without layer_types read as the
class derives it; the published layout (the Gated DeltaNet's fused `in_proj`, `out_norm`, as
transformers' save_pretrained writes it back) split and renamed on import, prunebench's model
then computing transformers' logits (the split's row order shown to matter); depth pruning of
each kind equal to transformers' model of the kept blocks, layer_types rewritten (shown to
matter), reloaded by prunebench and by transformers; any kinds left run (no kind needed), the
hf and hf_static tokens of depth-pruned reloads equal to transformers' generate; the cache
bytes; the width methods and compiled decoder refused. tests/test_families.py runs the shared
per-family tests on it."""

from __future__ import annotations

import copy
import json

import pytest
import torch
import transformers
from safetensors import safe_open

from prunebench import PrunebenchError
from prunebench.checkpoint import moe_fuse
from prunebench.checkpoint.param_count import (checked_config_json, config_from_dict,
                                               count_params, depth_needed_kinds,
                                               linear_attention_params,
                                               transformers_release_problem)
from prunebench.modeling import build_model, load_model, remove_blocks, save_model
from block_helpers import kept_blocks_state
from test_deepseek import ids, logits, numel, random_model
from test_exaone_internlm3 import check_refused_below_its_release, write
from test_families import VOCAB
from test_granitemoehybrid import check_width_and_compiled_refused
from test_qwen3_next import (cache_bytes, check_a_depth_pruned_reload_decodes_as_transformers,
                             check_cache_bytes)

pytestmark = pytest.mark.usefixtures("one_thread")

LINEAR, SLIDING, FULL = "linear_attention", "sliding_attention", "full_attention"
# LaraMiniConfig's period, as it derives the kinds of a config without layer_types
PERIOD = [LINEAR, SLIDING, LINEAR, FULL, SLIDING]


def needs_the_class():
    """Skip where this transformers predates 5.24 (the refusal's words as the reason)."""
    if problem := transformers_release_problem("lara_mini"):
        pytest.skip(problem)


def config_json(**over) -> dict:
    """A small Lara Mini config.json without layer_types (five blocks: the released period):
    attention of 4 query heads on 2 KV heads of 8, a window of 4; the Gated DeltaNet of 2 key
    heads of 8 on 4 value heads of 12, 3 taps; 4 experts of 16 (2 a token) and a shared
    expert of 24; tied."""
    values = dict(model_type="lara_mini", vocab_size=VOCAB, hidden_size=32,
                  num_hidden_layers=5, num_attention_heads=4, num_key_value_heads=2,
                  head_dim=8, sliding_window=4, linear_num_key_heads=2,
                  linear_num_value_heads=4, linear_key_head_dim=8, linear_value_head_dim=12,
                  linear_conv_kernel_dim=3, moe_intermediate_size=16,
                  shared_expert_intermediate_size=24, num_experts=4, num_experts_per_tok=2,
                  max_position_embeddings=64, tie_word_embeddings=True, bos_token_id=1,
                  eos_token_id=2, pad_token_id=0)
    return {**values, **over}


def small(**over):
    """The class's config of `config_json` (its kinds derived: PERIOD) with `over`."""
    needs_the_class()
    values = {k: v for k, v in config_json().items() if k != "model_type"}
    return transformers.LaraMiniConfig(**{**values, **over})


@pytest.fixture(scope="module")
def model():
    """One random model of `small()` (tests that change it take a copy)."""
    return random_model(small())


# --------------------------------------------------------------------------- counts

def test_the_count_is_the_sum_of_each_part_by_hand(tmp_path):
    """From the config.json alone (no transformers class: on 5.17 too): its kinds derived as
    the class derives them and each part counted by hand."""
    ours = config_from_dict(checked_config_json(write(tmp_path, config_json())))
    assert ours.layer_types == PERIOD
    d, keys, values, heads = 32, 2 * 8, 4 * 12, 4
    gdn = (d * (2 * keys + 2 * values) + d * 2 * heads  # in_proj_qkv, _z; in_proj_b, _a
           + (2 * keys + values) * 3  # the depthwise conv1d's taps
           + 2 * heads + 12 + values * d)  # dt_bias, A_log, the gated norm, out_proj
    attention = d * 4 * 8 + 2 * d * 2 * 8 + 4 * 8 * d + 2 * 8  # q, k, v, o; q_norm, k_norm
    moe = 4 * d + 4 * 3 * d * 16 + 3 * d * 24  # router, experts, the ungated shared expert
    blocks = [(gdn if kind == LINEAR else attention) + moe + 2 * d for kind in PERIOD]
    assert count_params(ours) == VOCAB * d + d + sum(blocks)


@pytest.mark.parametrize("bias,tied,kinds", [
    (False, True, None), (True, False, None), (False, False, [FULL, LINEAR, SLIDING]),
    (True, True, [LINEAR] * 2)])
def test_counts_equal_transformers_parameters(bias, tied, kinds):
    """Attention biases on or off, tied or not, the released period or other kinds: the closed
    form and config_from_dict of the saved config.json equal the meta model's parameters, the
    Gated DeltaNet's apart too."""
    over = {"attention_bias": bias, "tie_word_embeddings": tied}
    if kinds:
        over.update(layer_types=kinds, num_hidden_layers=len(kinds))
    config = small(**over)
    meta = build_model(config, device="meta")
    assert numel(meta) == count_params(config)
    assert count_params(config_from_dict(json.loads(config.to_json_string()))) == numel(meta)
    for layer, kind in zip(meta.model.layers, config.layer_types):
        if kind == LINEAR:
            assert numel(layer.linear_attn) == linear_attention_params(config)


@pytest.mark.parametrize("blocks", [3, 12])
def test_a_config_json_without_layer_types_reads_as_the_class_derives(blocks):
    """No layer_types: read without transformers, the kinds (the period of five, cycled) and
    the count are the class's."""
    raw = config_json(num_hidden_layers=blocks)
    config = small(num_hidden_layers=blocks)
    assert config_from_dict(raw).layer_types == config.layer_types
    assert count_params(config_from_dict(raw)) == numel(build_model(config, device="meta"))


# --------------------------------------------------------------------------- the layout

def test_the_published_layout_is_split_on_import_and_computes_transformers_logits(model,
                                                                                  tmp_path):
    """transformers' save_pretrained writes the published layout back (each Gated DeltaNet's
    input projections fused in `in_proj`, rows [qkv | z | b | a], its gated norm `out_norm`):
    moe_fuse splits and renames them once, and prunebench's model of the result computes the
    logits of transformers' model, which loads either layout."""
    folder = tmp_path / "published"
    model.save_pretrained(folder)
    with safe_open(folder / "model.safetensors", framework="pt") as handle:
        names = list(handle.keys())
    assert "model.layers.0.linear_attn.in_proj.weight" in names
    assert "model.layers.0.linear_attn.out_norm.weight" in names
    assert moe_fuse.needs_fusion(folder) and moe_fuse.fuse_experts(folder)
    assert not moe_fuse.needs_fusion(folder)
    ours, x = load_model(folder), ids()
    assert torch.equal(logits(ours, x), logits(model, x))
    theirs = transformers.LaraMiniForCausalLM.from_pretrained(folder, dtype=torch.float32)
    assert torch.equal(logits(theirs.eval(), x), logits(model, x))


def test_the_split_rows_are_the_class_order(tmp_path):
    """Each row of the fused projection goes where transformers' Split puts it, [q, k, v (2 x 8
    twice, 4 x 12) | z (48) | b (4) | a (4)], each row marked with its index; a projection of
    other rows is refused, naming the parts."""
    from safetensors.torch import load_file, save_file

    raw = config_json(num_hidden_layers=1)
    rows = moe_fuse.qkv_rows(raw)
    assert rows == (80, 48, 4, 4)
    source, name = tmp_path / "in.safetensors", "model.layers.0.linear_attn.in_proj.weight"
    save_file({name: torch.arange(136.0)[:, None].expand(136, 32).contiguous()}, str(source))
    moe_fuse._write_shard("model.layers.0", [name], {name: source}, tmp_path / "out.safetensors",
                          model_type="lara_mini", qkv=rows)
    out = load_file(str(tmp_path / "out.safetensors"))
    first = 0
    for part, n in zip(("qkv", "z", "b", "a"), rows):
        got = out.pop(f"model.layers.0.linear_attn.in_proj_{part}.weight")[:, 0]
        assert torch.equal(got, torch.arange(first, first + n, dtype=torch.float32))
        first += n
    assert not out
    with pytest.raises(PrunebenchError, match=r"136 rows where the config.json's heads give "
                                              r"80 \+ 48 \+ 4 \+ 2 \(in_proj_qkv, in_proj_z"):
        moe_fuse._write_shard("model.layers.0", [name], {name: source},
                              tmp_path / "bad.safetensors", model_type="lara_mini",
                              qkv=(80, 48, 4, 2))


# --------------------------------------------------------------------------- depth pruning

def kept_blocks_model(model, keep: list[int], kinds=None):
    """transformers' own model of `model`'s blocks `keep` (renumbered), each of its kind
    (`kinds`: these instead), given those weights."""
    config = copy.deepcopy(model.config)
    config.num_hidden_layers = len(keep)
    config.layer_types = kinds or [config.layer_types[i] for i in keep]
    kept = transformers.LaraMiniForCausalLM(config).eval()
    kept.load_state_dict(kept_blocks_state(model, keep), strict=True)
    return kept


@pytest.mark.parametrize("drop", [[0], [1, 3], [2, 4]])
def test_depth_pruning_gives_transformers_model_of_the_kept_blocks(model, drop, tmp_path):
    """Removing Gated DeltaNet, windowed or global blocks: the pruned model, and its save
    reloaded by prunebench and by transformers, compute the logits of transformers' model of
    the kept blocks, each of the kind it was (layer_types rewritten)."""
    model, x = copy.deepcopy(model), ids()
    keep = [i for i in range(5) if i not in drop]
    expected = logits(kept_blocks_model(model, keep), x)
    remove_blocks(model, drop)
    assert model.config.layer_types == [PERIOD[i] for i in keep]
    assert numel(model) == count_params(model.config)
    assert torch.equal(logits(model, x), expected)
    save_model(model, None, tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["layer_types"] \
        == [PERIOD[i] for i in keep]
    assert torch.equal(logits(load_model(tmp_path), x), expected)
    theirs = transformers.LaraMiniForCausalLM.from_pretrained(tmp_path, dtype=torch.float32)
    assert torch.equal(logits(theirs.eval(), x), expected)


def test_the_kinds_of_the_kept_blocks_matter(model):
    """Why layer_types is rewritten by the kept blocks (and the two attention kinds told
    apart): after removing block 1, the kept blocks 3 and 4 of each other's kind (the global
    one windowed and rotating, the windowed one global) compute other logits."""
    x = ids(1, 12)
    right = logits(kept_blocks_model(model, [0, 2, 3, 4]), x)
    wrong = logits(kept_blocks_model(model, [0, 2, 3, 4], [LINEAR, LINEAR, SLIDING, FULL]), x)
    assert not torch.allclose(right, wrong, atol=1e-3)


def test_no_kind_is_needed_by_a_depth_prune():
    """LaraMiniModel masks by the kinds it has and its cache reads its length from any block
    (5.24, 5.25): no kind must be kept (param_count.depth_needed_kinds)."""
    assert depth_needed_kinds(config_from_dict(config_json())) == []


@pytest.mark.parametrize("drop", [[1, 3, 4], [0, 2]])
def test_the_hf_backends_decode_a_depth_pruned_model_as_transformers_generate(model, drop,
                                                                             tmp_path):
    """Gated DeltaNet blocks alone, or attention blocks alone (windowed and global): the hf and
    hf_static backends' tokens of the reload equal transformers' generate and greedy decoding
    without a cache (prompts longer than the window); the static cache is held, a layer of
    each block's kind (checked here), not left for the dynamic one."""
    check_a_depth_pruned_reload_decodes_as_transformers(
        copy.deepcopy(model), drop, transformers.LaraMiniForCausalLM, tmp_path / "p")
    pruned = load_model(tmp_path / "p")
    with torch.inference_mode():
        out = pruned.generate(input_ids=ids(1, 5), max_new_tokens=2, do_sample=False,
                              cache_implementation="static", return_dict_in_generate=True,
                              pad_token_id=0)
    layer = {LINEAR: "LinearAttentionLayer", SLIDING: "StaticSlidingWindowLayer",
             FULL: "StaticLayer"}
    assert [type(held).__name__ for held in out.past_key_values.layers] \
        == [layer[kind] for kind in pruned.config.layer_types]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_cache_a_step_reads_is_what_transformers_cache_holds(dtype):
    """Each kind's cache (the Gated DeltaNet's states, each attention block's keys and values),
    over prompts within the window (past it, transformers' sliding layer keeps window - 1
    positions, which a step reads with its own: kv_cache_bytes counts the window)."""
    check_cache_bytes(random_model(small(sliding_window=16)).to(dtype), dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_past_the_window_a_step_reads_the_window_its_own_position_and_the_states(model, dtype):
    """After a prefill past the 4-token window and a decode step (10 positions), and with
    block 0 removed: kv_cache_bytes is what transformers' cache holds (the Gated DeltaNets'
    states, the global block's 10 positions, each windowed block's window - 1) and each
    windowed block's step's own key and value (2 KV heads of 8), which the step reads
    beside them: the window is the figure's, not the length (counted over the length, it
    would exceed the cache by the 5 positions per windowed block the cache let go)."""
    from prunebench.benchmark.floors import kv_cache_bytes

    for drop in ([], [0]):
        pruned = remove_blocks(copy.deepcopy(model), drop).to(dtype)
        with torch.no_grad():
            cache = pruned(input_ids=ids(1, 9), use_cache=True).past_key_values
            cache = pruned(input_ids=ids(1, 1), past_key_values=cache,
                           use_cache=True).past_key_values
        windowed = pruned.config.layer_types.count(SLIDING)
        assert [layer.keys.shape[-2] for layer, kind in zip(cache.layers, pruned.config.layer_types)
                if kind == SLIDING] == [3] * windowed
        step = windowed * 2 * 2 * 8 * dtype.itemsize
        assert kv_cache_bytes(pruned.config, 1, 10, dtype) == cache_bytes(cache) + step


# --------------------------------------------------------------------------- refusals

def test_width_methods_and_the_compiled_backend_refuse_it():
    check_width_and_compiled_refused(small(), r"mixture-of-experts family 'lara_mini'")


def test_refused_below_5_24(tmp_path, monkeypatch):
    """On an older transformers (5.17, or 5.25 faked older) every way to build it is refused,
    naming 5.24; it is counted all the same."""
    check_refused_below_its_release("lara_mini", "5.24.0", config_json(), tmp_path,
                                    monkeypatch)


@pytest.mark.parametrize("change,refused", [
    ({"layer_types": [LINEAR, SLIDING, "mamba", FULL, SLIDING]},
     "LaraMiniDecoderLayer builds a Gated DeltaNet for 'linear_attention'"),
    ({"layer_types": [LINEAR, FULL]}, r"gives block kinds .* for 5 blocks"),
    ({"linear_num_value_heads": 3}, "linear_num_value_heads=3, no multiple of "
                                    "linear_num_key_heads=2"),
])
def test_what_transformers_does_not_build_is_refused_when_read(change, refused, tmp_path):
    """A config.json with a fourth kind of block, kinds not one a block or Gated DeltaNet value
    heads LaraMiniConfig refuses is refused as read, naming it (on any release)."""
    with pytest.raises(PrunebenchError, match=refused):
        checked_config_json(write(tmp_path / "bad", config_json(**change)))
    assert checked_config_json(write(tmp_path, config_json()))["model_type"] == "lara_mini"
