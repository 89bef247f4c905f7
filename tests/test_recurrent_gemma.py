"""RecurrentGemma (recurrent_gemma, RecurrentGemmaForCausalLM: Google's Griffin models,
recurrentgemma-2b / -9b): blocks of an RG-LRU recurrent block (linear_x / linear_y, a depthwise
conv, the gated linear recurrence, linear_out) or local sliding-window attention, of the kinds
block_types names cycled over the blocks, each with a biased GeGLU MLP of half
intermediate_size; Gemma's 1 + weight norms, embeddings scaled by sqrt(hidden_size) rounded to
bfloat16, logits soft-capped. Exact counts (against transformers' meta model, config.json's
values alone and by hand); depth pruning equal to transformers' model of the kept blocks with
their kinds written back as block_types, reloaded by prunebench and by transformers (the
published pattern cycled at the new depth would build other blocks); a prune leaving no
attention block refused before anything changes, and the plan that cannot keep one; attention
blocks alone run; the hf and hf_static backends' tokens equal transformers' generate; the
state a step reads (each recurrent block's conv and RG-LRU states, each attention block's
window of keys and values) equal to what the model holds; the refusals (width methods,
surgery, the compiled decoder; config.json's kinds transformers would not build).
tests/test_families.py runs the shared per-family tests on it too."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from transformers import DynamicCache, RecurrentGemmaConfig, RecurrentGemmaForCausalLM

from prunebench import PrunebenchError
from prunebench.benchmark.floors import kv_cache_bytes
from prunebench.checkpoint.param_count import (config_from_dict, count_params, griffin_kinds,
                                               unreproduced_layout)
from prunebench.modeling import build_model, load_model, remove_blocks, save_model
from block_helpers import kept_blocks_state
from test_deepseek import ids, logits, numel, random_model
from test_families import VOCAB, in_allocated_memory
from test_granitemoehybrid import check_width_and_compiled_refused
from test_qwen3_next import (check_a_depth_pruned_reload_decodes_as_transformers,
                             check_depth_plans_leave_a_block_of_each_kind)

pytestmark = pytest.mark.usefixtures("one_thread")


def small(**over) -> RecurrentGemmaConfig:
    """Six blocks of the published pattern (recurrent, recurrent, attention: attention at 2
    and 5), hidden 32 in 4 heads of 8 (1 KV head, as published), an RG-LRU of 48 (4 gate
    blocks of 12), 3 conv taps, a window of 6 (shorter than the sequences here), the MLP 48
    wide; untied."""
    values = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=96, num_hidden_layers=6,
                  num_attention_heads=4, num_key_value_heads=1, lru_width=48, conv1d_width=3,
                  attention_window_size=6, tie_word_embeddings=False, bos_token_id=1,
                  eos_token_id=2, pad_token_id=0)
    values.update(over)
    return RecurrentGemmaConfig(**values)


# --------------------------------------------------------------------------- counts

@pytest.mark.parametrize("over", [{}, {"attention_bias": True}, {"tie_word_embeddings": True},
                                  {"lru_width": None}, {"num_key_value_heads": None},
                                  {"block_types": ["attention", "recurrent"]}])
def test_counts_equal_transformers_parameters(over):
    """Biases on or off, tied or not, the RG-LRU as wide as hidden (null), a KV head a query
    head, another pattern: the closed form, and config_from_dict of the config.json values,
    equal model.parameters()."""
    config = small(**over)
    assert numel(build_model(config, device="meta")) == count_params(config)
    values = json.loads(config.to_json_string())
    assert count_params(config_from_dict(values)) == count_params(config)


def test_the_count_is_the_sum_of_each_part_by_hand():
    d, w, hd, mlp = 32, 48, 8, 48
    norms = 2 * d
    ffn = 3 * d * mlp + 2 * mlp + d  # gate / up / down, all biased
    attention = d * 4 * hd + 2 * d * 1 * hd + 4 * hd * d + d  # o_proj biased
    recurrent = (2 * (d * w + w)  # linear_x, linear_y
                 + w * 3 + w  # conv_1d and its bias
                 + w + 2 * (4 * 12 * 12 + w)  # recurrent_param, the two gates
                 + w * d + d)  # linear_out
    total = 2 * VOCAB * d + d + 2 * (norms + ffn + attention) + 4 * (norms + ffn + recurrent)
    assert count_params(small()) == total


def test_the_block_kinds_cycle_block_types_as_transformers_builds_them():
    config = small()
    model = build_model(config, device="meta")
    built = ["attention" if hasattr(layer.temporal_block, "q_proj") else "recurrent"
             for layer in model.model.layers]
    assert griffin_kinds(config) == built == ["recurrent", "recurrent", "attention"] * 2


# --------------------------------------------------------------------------- depth pruning

def kept_blocks_model(model, keep: list[int]):
    """transformers' own model of `model`'s blocks `keep` (renumbered), each of its kind."""
    config = copy.deepcopy(model.config)
    config.block_types = [griffin_kinds(model.config)[i] for i in keep]
    config.num_hidden_layers = len(keep)
    kept = RecurrentGemmaForCausalLM(config).eval()
    kept.load_state_dict(kept_blocks_state(model, keep), strict=True)
    return kept


@pytest.mark.parametrize("drop", [[0], [1, 3], [0, 1, 3, 4], [3, 4, 5]])
def test_depth_pruning_gives_transformers_model_of_the_kept_blocks(drop, tmp_path):
    """The pruned model, and its save reloaded by prunebench and by transformers, compute the
    logits of transformers' model of the kept blocks: block_types says the kept blocks' kinds
    one a block (the published pattern cycled at the new depth would put other kinds in
    place); attention blocks alone run (no recurrent block is needed)."""
    model = random_model(small())
    keep = [i for i in range(6) if i not in drop]
    kinds = [griffin_kinds(model.config)[i] for i in keep]
    expected = logits(kept_blocks_model(model, keep), ids())
    remove_blocks(model, drop)
    assert model.config.block_types == kinds and griffin_kinds(model.config) == kinds
    cycled = griffin_kinds(small(num_hidden_layers=len(keep)))
    if drop != [3, 4, 5]:  # (the first three blocks: the pattern itself)
        assert cycled != kinds  # (the write-back matters)
    assert numel(model) == count_params(model.config)
    assert torch.equal(logits(model, ids()), expected)
    save_model(model, None, tmp_path / "pruned")
    saved = json.loads((tmp_path / "pruned" / "config.json").read_text())
    assert saved["block_types"] == kinds and saved["num_hidden_layers"] == len(keep)
    assert torch.equal(logits(load_model(tmp_path / "pruned"), ids()), expected)
    theirs = in_allocated_memory(RecurrentGemmaForCausalLM.from_pretrained(
        tmp_path / "pruned", dtype=torch.float32)).eval()
    assert torch.equal(logits(theirs, ids()), expected)


def test_a_second_prune_and_the_published_key_keep_the_kinds(tmp_path):
    """A chain of two prunes reads the first one's block_types by index; `_block_types` (the
    published config.json's own copy, which other engines read) says the same kinds."""
    model = random_model(small())
    model.config._block_types = ["recurrent", "recurrent", "attention"]
    keep = [0, 2, 5]
    expected = logits(kept_blocks_model(model, keep), ids())
    remove_blocks(model, [1, 3])  # (0, 2, 4, 5 left)
    remove_blocks(model, [2])
    assert model.config.block_types == model.config._block_types == [
        "recurrent", "attention", "attention"]
    assert torch.equal(logits(model, ids()), expected)


def test_removing_every_attention_block_is_refused_before_anything_changes():
    model = random_model(small())
    before = logits(model, ids())
    with pytest.raises(PrunebenchError, match=r"removing blocks \[2, 5\] would leave this "
                                              r"RecurrentGemma model recurrent blocks only "
                                              r"\(its attention blocks are \[2, 5\]\)"):
        remove_blocks(model, [2, 5])
    assert model.config.num_hidden_layers == 6 and torch.equal(logits(model, ids()), before)
    for blocks in ([2], [5]):  # (either one left runs)
        remove_blocks(copy.deepcopy(model), blocks)


def test_transformers_runs_no_model_without_an_attention_block():
    """The kinds check's reason: RecurrentGemmaModel finds no attention block's cache (5.17
    looks its index up, 5.25 asks a cache of recurrent entries for mask sizes)."""
    model = RecurrentGemmaForCausalLM(small(num_hidden_layers=2)).eval()
    with pytest.raises(ValueError):
        model(input_ids=ids(), use_cache=True)


def test_a_depth_plan_leaving_no_attention_block_is_refused_when_planned():
    check_depth_plans_leave_a_block_of_each_kind(random_model(small()))


# --------------------------------------------------------------------------- backends

@pytest.mark.parametrize("drop", [[0], [1, 2]])
def test_the_hf_backends_decode_a_depth_pruned_model_as_transformers_generate(drop, tmp_path):
    """A depth-pruned model (each attention block's cache index its new one) reloaded: the hf
    backend's tokens equal transformers' generate of its own loading of the checkpoint, and
    greedy decoding without a cache wherever that choice is certain; so do hf_static's
    (15 positions: past the window of 6)."""
    check_a_depth_pruned_reload_decodes_as_transformers(
        random_model(small()), drop, RecurrentGemmaForCausalLM, tmp_path / "pruned")


def held_state_bytes(model, cache) -> int:
    """The bytes a RecurrentGemma model holds for its next step: each recurrent block's conv
    state and RG-LRU state (kept in the block's modules) and each attention block's keys and
    values in transformers' cache."""
    total = 0
    for layer in model.model.layers:
        block = layer.temporal_block
        if hasattr(block, "rg_lru"):
            assert block.rg_lru.recurrent_states.dtype == torch.float32
            total += block.conv1d_state.nbytes + block.rg_lru.recurrent_states.nbytes
    for layer in cache.layers:
        for name in ("keys", "values"):
            tensor = getattr(layer, name, None)
            total += tensor.nbytes if isinstance(tensor, torch.Tensor) else 0
    return total


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_state_a_step_reads_is_what_the_model_holds(dtype):
    """After a prefill shorter and longer than the window, before and after a depth prune:
    kv_cache_bytes equals what the model holds (the conv state, conv1d_width - 1 inputs of
    the RG-LRU's width, in `dtype`; the RG-LRU state in float32; the attention blocks' keys
    and values of the window's positions at most: window - 1 cached, the step's own the
    last), and stops growing at the window."""
    model = random_model(small()).to(dtype)
    for drop in ([], [1]):
        remove_blocks(model, drop)
        for batch, length in ((1, 4), (2, 9)):
            # (the model returns no cache: given one, as generate gives it, to read after)
            cache = DynamicCache(config=model.config)
            with torch.no_grad():
                model(input_ids=ids(batch, length), use_cache=True, past_key_values=cache)
            # (the window's last position is the step's own key and value: transformers
            # keeps window - 1 of them, the floor counts the window a step reads, no more)
            assert held_state_bytes(model, cache) == kv_cache_bytes(
                model.config, batch, min(length, 6 - 1), dtype)
            assert kv_cache_bytes(model.config, batch, length, dtype) == kv_cache_bytes(
                model.config, batch, min(length, 6), dtype)


# --------------------------------------------------------------------------- refusals

def test_width_methods_and_the_compiled_backend_refuse_it():
    check_width_and_compiled_refused(
        small(), r"this 'recurrent_gemma' model .*RG-LRU recurrent blocks or local attention")


@pytest.mark.parametrize("block_types", [None, ["attention"]])
def test_the_start_refuses_the_compiled_backend(tmp_path, block_types):
    """Refused by the family's own module names, so an attention-only model (no RG-LRU) too."""
    from prunebench.plan.checks import moe_problems

    config = small() if block_types is None else small(block_types=block_types)
    config.save_pretrained(tmp_path / "m")
    runs = {"models": {"m": {"source": f"local:{tmp_path / 'm'}", "variants": ["dense"]}},
            "benchmark": {"backends": ["hf", "compiled"]}}
    problem, = moe_problems(runs, tmp_path / "nowhere")
    assert problem.startswith("models.m (recurrent_gemma) is a RecurrentGemma model")
    assert "own module names (temporal_block, mlp_block)" in problem
    runs["benchmark"]["backends"] = ["hf", "hf_static"]
    assert moe_problems(runs, tmp_path / "nowhere") == []


@pytest.mark.parametrize("change,message", [
    ({"block_types": ["recurrent", "mamba"]}, r"block_types=\['recurrent', 'mamba'\]"),
    ({"block_types": []}, r"block_types=\[\]"),
    ({"_block_types": ["attention", "recurrent"]}, "reads block_types alone"),
    ({"block_types": ["recurrent"] * 6 + ["attention"]}, "no attention block"),
    ({"lru_width": 50}, "lru_width=50 .*multiple of the heads"),
    ({"embeddings_scale_by_sqrt_dim": False}, "scales the embeddings")])
def test_a_config_json_transformers_would_not_build_as_it_says_is_refused(change, message,
                                                                          tmp_path):
    """Refused when read (checked_config_json), naming the key; the published config.json's
    keys as transformers reads them pass (`_block_types` the same as block_types)."""
    from prunebench.checkpoint.param_count import checked_config_json

    values = {**json.loads(small().to_json_string()), **change}
    assert message and unreproduced_layout(values) is not None
    (tmp_path / "config.json").write_text(json.dumps(values))
    with pytest.raises(PrunebenchError, match=message):
        checked_config_json(tmp_path)
    published = {**json.loads(small().to_json_string()), "embeddings_scale_by_sqrt_dim": True,
                 "_block_types": ["recurrent", "recurrent", "attention"]}
    assert unreproduced_layout(published) is None
