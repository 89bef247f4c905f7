"""Inkling 2 (inkling2_text, Inkling2ForCausalLM: Thinking Machines' Inkling 2's language
model), transformers 5.25 on (Family.min_transformers: 5.23's class is another model, and
5.24's generate with a static cache fails on its windowed blocks): the pieces of its own, as a
mixture of experts depth-pruned in whole groups (the hf and hf_static backends).

Each block attends with heads of its own kind: the blocks layer_types names "hybrid_sliding"
within a window with the swa_* heads, KV heads and head_dim, the others fully with the
config's, their key and value convolutions dynamic; a block attention residual keeps the input
of every n_layers_per_attn_res_block-th block (by index) and mixes the kept inputs into each
block's attention and MLP inputs and the final norm's with learned queries (none before block
0's attention). Counts against transformers' meta model and by hand; a depth prune removes
whole groups after the first (sizing.whole_period_choice, as Jamba's whole periods) and is
transformers' model of the kept blocks (each kept block's cache index renumbered), decoded by
hf / hf_static as transformers' generate and as greedy decoding without a cache; any other
removal refused; the KV and state figure equal to what transformers' cache holds; the
config.json and multimodal refusals. tests/test_families.py runs the shared per-family tests
on it."""

from __future__ import annotations

import copy

import pytest
import torch

from prunebench import FamilyUnsupported, PrunebenchError
from prunebench.checkpoint import param_count
from prunebench.checkpoint.param_count import (block_param_count, checked_config_json,
                                               config_from_dict, count_params, depth_kept_blocks,
                                               layer_shapes, transformers_release_problem)
from prunebench.methods import sizing
from prunebench.modeling import build_model, remove_blocks
from block_helpers import kept_blocks_state
from test_exaone_internlm3 import check_refused_below_its_release
from test_families import _write_config, family_model, ids, logits, numel
from test_qwen3_next import cache_bytes, check_a_depth_pruned_reload_decodes_as_transformers

pytestmark = pytest.mark.usefixtures("one_thread")

NAME = "inkling2_text"
# Six blocks of 32 in groups of 2: blocks 0, 2 and 4 windowed (2 heads on 1 KV head of 16,
# within 8 tokens), 1, 3 and 5 full (4 heads on 2 KV heads of 8); 2 of 4 experts; the head's
# 120 rows of a 128-row embedding.
TINY = dict(vocab_size=128, unpadded_vocab_size=120, hidden_size=32, num_hidden_layers=6,
            num_attention_heads=4, num_key_value_heads=2, head_dim=8,
            swa_num_attention_heads=2, swa_num_key_value_heads=1, swa_head_dim=16,
            sliding_window_size=8, d_rel=4, rel_extent=16, moe_intermediate_size=16,
            n_routed_experts=4, num_experts_per_tok=2, n_layers_per_attn_res_block=2,
            layer_types=["hybrid_sliding", "hybrid"] * 3, max_position_embeddings=64,
            bos_token_id=1, eos_token_id=2, pad_token_id=0)


def classes():
    """Skip where this transformers predates the family (the refusal's words as the reason)."""
    if problem := transformers_release_problem(NAME):
        pytest.skip(problem)
    from transformers import Inkling2ForCausalLM, Inkling2TextConfig

    return Inkling2TextConfig, Inkling2ForCausalLM


@pytest.fixture(scope="module")
def dense():
    config_class, model_class = classes()
    torch.manual_seed(0)
    return model_class(config_class(**TINY)).eval()


# ------------------------------------------------------------------ the release it needs

def test_an_older_transformers_is_refused_before_the_model_loads_naming_the_upgrade(
        tmp_path, monkeypatch):
    check_refused_below_its_release(NAME, "5.25.0", {"model_type": NAME, **TINY}, tmp_path,
                                    monkeypatch)
    for namespace in (param_count, param_count.releases, param_count.prune_rules):
        monkeypatch.setattr(namespace, "installed_transformers", lambda: "5.23.0")
    assert "5.23's Inkling2ForCausalLM is another model" in transformers_release_problem(NAME)


# ------------------------------------------------------------------------------- counts

@pytest.mark.parametrize("values", [TINY, {}])
def test_counts_equal_transformers_parameters(values):
    """count_params of the config, and of its config.json read without a class (layer_types
    left out where the class derives them: every sixth block full), equals the meta model's
    parameters: the tiny model and Inkling2TextConfig's defaults (48 blocks, 384 experts)."""
    config_class, model_class = classes()
    config = config_class(**values)
    with torch.device("meta"):
        reference = numel(model_class(config))
    assert count_params(config) == reference
    raw = {"model_type": NAME, **{k: v for k, v in config.to_dict().items() if k != "dtype"}}
    if not values:
        del raw["layer_types"]
    ours = config_from_dict(raw)
    assert ours.layer_types == config.layer_types
    assert count_params(ours) == reference


def test_blocks_counted_by_hand(dense):
    """A windowed block (2): q, the output's gate and o 32 x 32 each and the query clip's 32,
    k / v 32 x 16 each and their convolutions 16 x 4 each, the sinks 32 x 2, the relative
    projection 32 x 8, its clip's 8 and its table 4 x 8, the output convolutions 32 x 4 each,
    two norms, one query before the attention and one before the MLP, the router 4 x 32 and 4
    experts of 3 x 32 x 16. A full block (3): its heads (the sinks 32 x 4, the table 4 x 16),
    dynamic convolutions (16 x 4 static taps and 32 -> 2 x 4 each), four norms, three queries
    before the attention. Block 0: no query before its attention."""
    config = dense.config
    shapes = layer_shapes(config)
    experts = 4 * 32 + 4 * 3 * 32 * 16
    windowed = (3 * 32 * 32 + 32 + 2 * 32 * 16 + 2 * 16 * 4 + 32 * 2 + 32 * 8 + 8 + 4 * 8
                + 2 * 32 * 4 + 2 * 32 + 2 * 32 + experts)
    full = (3 * 32 * 32 + 32 + 2 * 32 * 16 + 2 * (16 * 4 + 32 * 8) + 32 * 4 + 32 * 16 + 16
            + 4 * 16 + 2 * 32 * 4 + 4 * 32 + 4 * 32 + experts)
    for block, by_hand in ((2, windowed), (3, full), (0, windowed - 32)):
        assert block_param_count(config, shapes[block]) == by_hand == numel(
            dense.model.layers[block])
    assert dense.lm_head.weight.shape == (120, 32)  # (unpadded_vocab_size rows)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_state_a_step_reads_is_what_transformers_cache_holds(dense, dtype):
    """kv_cache_bytes after a prefill and a decode step, within the 8-token window and past
    it, dense and with group 1 removed: each block's keys and values of its own heads (a
    windowed block's window - 1 positions transformers keeps beside the step's own) and its
    four short convolutions' float32 states (the dynamic ones' too)."""
    from prunebench.benchmark.floors import kv_cache_bytes
    from prunebench.modeling import cast_floating

    for drop in ([], [2, 3]):
        model = cast_floating(remove_blocks(copy.deepcopy(dense), drop), dtype)
        for length in (6, 12):
            with torch.no_grad():
                cache = model(ids(1, length - 1) % 120, use_cache=True).past_key_values
                cache = model(ids(1, 1) % 120, past_key_values=cache,
                              use_cache=True).past_key_values
            convs = [state for layer in cache.layers for state in layer.conv_states.values()]
            assert len(convs) == 4 * model.config.num_hidden_layers
            assert {state.dtype for state in convs} == {torch.float32}
            windowed = model.config.layer_types.count("hybrid_sliding") if length > 8 else 0
            step = windowed * 2 * 16 * dtype.itemsize  # (the step's own key and value)
            assert kv_cache_bytes(model.config, 1, length, dtype) == cache_bytes(cache) + step


# ------------------------------------------------------------------------ depth pruning

@pytest.mark.parametrize("drop", [[2, 3], [4, 5], [2, 3, 4, 5]])
def test_removing_whole_groups_computes_as_transformers_model_of_the_kept_blocks(dense, drop):
    """Each kept block keeps its role (boundary or not, its queries) under its new index and
    its cache entries move there: the logits are transformers' model's of the kept blocks."""
    model = remove_blocks(copy.deepcopy(dense), drop)
    keep = [b for b in range(6) if b not in drop]
    assert model.config.layer_types == [TINY["layer_types"][b] for b in keep]
    assert [layer.is_block_boundary for layer in model.model.layers] == [
        b % 2 == 0 for b in keep]
    for new, layer in enumerate(model.model.layers):
        attention = layer.self_attn
        assert {attention.layer_idx, attention.k_proj.sconv.layer_idx,
                attention.v_proj.sconv.layer_idx, layer.post_attention_convolution.layer_idx,
                layer.post_mlp_convolution.layer_idx} == {new}
    config_class, model_class = classes()
    values = {**dense.config.to_dict(), "num_hidden_layers": len(keep),
              "layer_types": model.config.layer_types}
    with torch.device("meta"):
        reference = model_class(config_class.from_dict(values))
    reference.load_state_dict(kept_blocks_state(dense, keep), strict=True, assign=True)
    x = ids(2, 24) % 120
    torch.testing.assert_close(logits(model, x), logits(reference, x), rtol=0, atol=1e-5)
    assert numel(model) == count_params(model.config) == numel(reference)


@pytest.mark.parametrize("drop", [[3], [2], [3, 4], [0, 1], [2, 3, 4]])
def test_a_removal_of_other_than_whole_groups_after_the_first_is_refused(dense, drop):
    """A removal that would move a boundary (a block whose input is kept) or leave another
    block first is refused before anything changes, naming the groups to remove."""
    model = copy.deepcopy(dense)
    with pytest.raises(PrunebenchError, match=r"would not remove whole groups of this "
                                              r"Inkling 2 model's blocks.*"
                                              r"n_layers_per_attn_res_block=2"):
        remove_blocks(model, drop)
    assert model.config.num_hidden_layers == len(model.model.layers) == 6


def test_the_depth_plans_and_criteria_take_whole_groups_after_the_first(dense):
    """The first group is kept (depth_kept_blocks); the plan sizes whole groups (each of one
    size); the one-shot choice takes the group of the least sum of scores, never a run across
    groups however low its scores; depth_angular's runs start at a group; SLEB is refused."""
    config = dense.config
    assert depth_kept_blocks(config) == [0, 1]
    removable = sizing.depth_removable(config, 0, 0)
    assert removable == [2, 3, 4, 5]
    group = sum(block_param_count(config, s) for s in layer_shapes(config)[2:4])
    total = count_params(config)
    assert sizing.solve_num_blocks(config, total - group, removable) == 2
    assert sizing.solve_num_blocks(config, total - 2 * group, removable) == 4
    plan = sizing.plan_blocks(config, total - group, 0, 0)
    assert (plan["blocks_removed"], plan["params_after"]) == (2, total - group)
    scores = [9.0, 9.0, 5.0, 0.0, 0.0, 6.0]  # (blocks 3 and 4, a run across two groups)
    assert sizing.whole_period_choice(config, removable, scores, 2) == [2, 3]
    assert sizing.whole_period_choice(config, removable, [9, 9, 3, 1, 0, 3], 2) == [4, 5]
    assert sizing.whole_period_choice(config, removable, [9, 9, 3, 1, 0, 3], 4) == [2, 3, 4, 5]
    assert sizing.run_starts(config, removable, 2, total - group) == [2, 4]
    with pytest.raises(FamilyUnsupported, match="sleb removes one block a round.*whole groups"):
        sizing.refuse_block_by_block(config, "sleb")


def test_groups_of_other_sizes_are_refused_when_sized(dense):
    """A layer_types whose groups hold other kinds of blocks (group 1 two windowed blocks,
    group 2 two full ones) gives groups of other sizes: a size known before the criterion
    chooses is none, refused naming them."""
    config = copy.deepcopy(dense.config)
    config.layer_types = ["hybrid_sliding", "hybrid"] + ["hybrid_sliding"] * 2 + ["hybrid"] * 2
    with pytest.raises(FamilyUnsupported, match="groups of n_layers_per_attn_res_block=2 "
                                                "blocks after the first hold different"):
        sizing.solve_num_blocks(config, count_params(config) // 2, [2, 3, 4, 5])


def test_a_depth_pruned_reload_decodes_as_transformers(tmp_path):
    """Saved with group 1 removed, loaded by prunebench and by Inkling2ForCausalLM: the hf
    and hf_static backends' tokens are transformers' generate's and greedy decoding's without
    a cache (each kept block's convolutions and keys under its new cache index); its
    config.json reads back, without transformers, as the model."""
    _, model_class = classes()
    model = family_model(NAME)
    check_a_depth_pruned_reload_decodes_as_transformers(model, [2, 3], model_class,
                                                        tmp_path / "pruned")
    raw = checked_config_json(tmp_path / "pruned")
    assert raw["num_hidden_layers"] == 4
    assert count_params(config_from_dict(raw)) == numel(model)


# --------------------------------------------------------------------------- refusals

def test_a_config_json_of_block_kinds_transformers_does_not_build_is_refused(tmp_path):
    """Read without transformers (any release): a block kind Inkling2TextModel does not build
    as named ('sliding_attention' would attend fully), or not one a block."""
    for kinds in (["hybrid", "sliding_attention"] * 3, ["hybrid"] * 4):
        folder = _write_config(tmp_path / str(len(kinds)), {"model_type": NAME,
                                                             **{**TINY, "layer_types": kinds}})
        with pytest.raises(PrunebenchError, match="'hybrid_sliding' ones only"):
            checked_config_json(folder)


def test_the_multimodal_checkpoint_is_refused_naming_how_to_save_its_language_model(tmp_path):
    """inkling2 (Inkling2ForConditionalGeneration) refused when read, naming the route
    through transformers; done so (Inkling2ForCausalLM of its text_config holding its
    language model's weights and head), the language model computes on text the whole
    model's logits."""
    folder = _write_config(tmp_path / "m", {"model_type": "inkling2", "text_config": TINY})
    words = (r"model_type 'inkling2' is not supported: it is Thinking Machines' Inkling 2.*"
             r"prunebench reads the folder it writes \(model_type inkling2_text\)")
    with pytest.raises(PrunebenchError, match=words):
        checked_config_json(folder)
    _, model_class = classes()
    from transformers import Inkling2Config, Inkling2ForConditionalGeneration

    config = Inkling2Config(text_config=TINY, vision_config={
        "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
        "projection_hidden_dim": 16, "text_hidden_size": 32})
    with pytest.raises(PrunebenchError, match=words):
        build_model(config)
    torch.manual_seed(0)
    whole = Inkling2ForConditionalGeneration(config).eval()
    text = model_class(config.text_config).eval()
    state = {k.replace("model.language_model.", "model."): v
             for k, v in whole.state_dict().items()
             if k.startswith(("model.language_model.", "lm_head."))}
    text.load_state_dict(state, strict=True)
    x = ids(2, 10) % 120
    with torch.no_grad():
        torch.testing.assert_close(text(x).logits, whole(input_ids=x).logits, rtol=0, atol=0)
