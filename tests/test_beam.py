"""Beam (beam, BeamForCausalLM: Reflection's Beam-1.0-501B-A23B), transformers 5.20.1 on
(Family.min_transformers: BeamConfig's first release; 5.20.1 to 5.25 compute the same): the
pieces of its own, as a mixture of experts (depth pruning, the hf and hf_static backends).

Each block: attention with per-head q/k norms and a sigmoid output gate of its own (gate_proj,
a gate a query channel, and gate_bias, one a head), within a window and rotating in the blocks
layer_types names sliding, without rotation (queries scaled by position) in the full ones; four
norms; each sublayer's output added to the residual scaled by its place in the stack (2 (i + 1)
and 2 (i + 1) + 1, fixed when the block is built); a dense MLP or a grouped sigmoid router
(n_group / topk_group) over experts scaled by routed_scaling_factor, as mlp_layer_types names
it; logits soft-capped. The release refusal; counts against transformers' meta models, from
config.json alone (its kinds derived as BeamConfig derives them) and one block by hand, the
class's defaults (Beam-1.0-501B-A23B's 501,267,599,808 parameters); depth pruning equal to
transformers' model of the kept blocks (layer_types, mlp_layer_types, the cache indices and the
residual places renumbered), each of those and the gate, the soft cap and the windows shown to
matter; a depth-pruned reload decoded by hf / hf_static as transformers' generate; the
config.json refusals, transformers' failure shown for each. tests/test_families.py runs the
shared per-family tests on it, tests/test_moe.py its per-expert checkpoint's import."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from prunebench import PrunebenchError
from prunebench.checkpoint.param_count import (block_param_count, checked_config_json,
                                               config_from_dict, count_params, layer_shapes,
                                               sliding_windows, transformers_release_problem)
from prunebench.methods.depth import without_blocks
from prunebench.modeling import remove_blocks
from block_helpers import kept_blocks_state
from test_exaone_internlm3 import check_refused_below_its_release
from test_families import FAMILIES, _write_config, family_model, ids, logits, numel
from test_qwen3_next import check_a_depth_pruned_reload_decodes_as_transformers

pytestmark = pytest.mark.usefixtures("one_thread")

NAME = "beam"
SLIDING, FULL = "sliding_attention", "full_attention"
# Seven blocks of 32 (the kinds left to BeamConfig: blocks 5 and 6 full, the first three
# dense), 4 heads of 8 on 2 KV heads, 8 experts of 16 in 4 groups.
TINY = dict(vocab_size=128, hidden_size=32, intermediate_size=48, num_hidden_layers=7,
            num_attention_heads=4, num_key_value_heads=2, head_dim=8, sliding_window=4,
            moe_intermediate_size=16, num_experts=8, num_experts_per_tok=2, n_group=4,
            topk_group=2, max_position_embeddings=64)


def classes():
    """BeamConfig and BeamForCausalLM; the test skipped, with the refusal's words, where this
    transformers predates them."""
    if problem := transformers_release_problem(NAME):
        pytest.skip(problem)
    from transformers import BeamConfig, BeamForCausalLM

    return BeamConfig, BeamForCausalLM


def meta_count(config) -> int:
    with torch.device("meta"):
        return numel(classes()[1](config))


# ------------------------------------------------------------------ the release it needs

def test_an_older_transformers_is_refused_before_the_model_loads_naming_the_upgrade(
        tmp_path, monkeypatch):
    check_refused_below_its_release(NAME, "5.20.1", {"model_type": NAME, **TINY}, tmp_path,
                                    monkeypatch)
    for target in ("prunebench.checkpoint.param_count.installed_transformers",
                   "prunebench.checkpoint.param_count.releases.installed_transformers",
                   "prunebench.checkpoint.param_count.prune_rules.installed_transformers"):
        monkeypatch.setattr(target, lambda: "5.20.0")  # (5.20.0 has no BeamConfig)
    assert "its BeamConfig came with that release" in transformers_release_problem(NAME)


# ------------------------------------------------------------------------------- counts

@pytest.mark.parametrize("values", [{}, {"attention_bias": True, "tie_word_embeddings": True,
                                         "num_hidden_layers": 3}])
def test_counts_equal_transformers_parameters_from_config_json_alone(values):
    """count_params of the config, and of its config.json without layer_types and
    mlp_layer_types (derived as BeamConfig derives them: every sixth block and the last full,
    the first three dense), equals the meta model's parameters."""
    config_class, _ = classes()
    config = config_class(**{**TINY, **values})
    reference = meta_count(config)
    assert count_params(config) == reference
    raw = {k: v for k, v in config.to_dict().items()
           if k not in ("dtype", "layer_types", "mlp_layer_types")}
    ours = config_from_dict(raw)
    assert (ours.layer_types, ours.mlp_layer_types) == (config.layer_types,
                                                        config.mlp_layer_types)
    assert sliding_windows(ours) == sliding_windows(config)
    assert count_params(ours) == reference


def test_the_class_defaults_are_beam_1_0s_shape():
    """CONFIG_DEFAULTS are BeamConfig's, which its docstring names Beam-1.0-501B-A23B: the
    501,267,599,808 parameters of the meta model (no published config.json found)."""
    config_class, _ = classes()
    assert count_params(config_from_dict({"model_type": NAME})) == meta_count(
        config_class()) == 501_267_599_808


def test_one_block_counted_by_hand():
    """A sparse block: q / o 32 x 32, k / v 32 x 16 each, the gate's projection 32 x 32 and
    bias of 4, q / k norms of 8, four norms of 32, the router 8 x 32 and 8 experts of
    3 x 32 x 16 (its score-correction buffer no parameter); a dense one's MLP 3 x 32 x 48."""
    config_class, model_class = classes()
    config = config_class(**TINY)
    attention = 2 * 32 * 32 + 2 * 32 * 16 + 32 * 32 + 4 + 2 * 8 + 4 * 32
    shapes = layer_shapes(config)
    assert block_param_count(config, shapes[3]) == attention + 8 * 32 + 8 * 3 * 32 * 16
    assert block_param_count(config, shapes[0]) == attention + 3 * 32 * 48
    model = model_class(config)
    assert numel(model.model.layers[3]) == attention + 8 * 32 + 8 * 3 * 32 * 16
    assert numel(model.model.layers[0]) == attention + 3 * 32 * 48


# ------------------------------------------------------------------------ depth pruning

@pytest.fixture(scope="module")
def dense():
    """The tiny model of tests/test_families.py: blocks 0 and 2 sliding over 6 tokens, 1 and 3
    full, block 0 dense; random gate biases and norms."""
    classes()
    return family_model(NAME)


def reference_of(dense, keep: list[int], **changes):
    """transformers' BeamForCausalLM of the blocks `keep` (their kinds as prunebench's
    config.json says them, `changes` applied), holding exactly their weights."""
    config_class, model_class = classes()
    values = {**dense.config.to_dict(), "num_hidden_layers": len(keep),
              "layer_types": [dense.config.layer_types[b] for b in keep],
              "mlp_layer_types": [dense.config.mlp_layer_types[b] for b in keep], **changes}
    with torch.device("meta"):
        model = model_class(config_class.from_dict(values))
    model.load_state_dict(kept_blocks_state(dense, keep), strict=True, assign=True)
    model.model.rotary_emb = type(model.model.rotary_emb)(config=model.config)
    return model.float().eval()


@pytest.mark.parametrize("drop", [[0], [1], [2, 3]])
def test_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(dense, drop):
    """Each kept block's attention and MLP kinds, cache index and residual places under its
    new index: the logits are transformers' model's of the kept blocks, whose count it has."""
    model = remove_blocks(copy.deepcopy(dense), drop)
    keep = [b for b in range(4) if b not in drop]
    assert model.config.layer_types == [[SLIDING, FULL][b % 2] for b in keep]
    assert model.config.mlp_layer_types == [["dense", "sparse"][b > 0] for b in keep]
    for i, layer in enumerate(model.model.layers):
        assert layer.self_attn.layer_idx == i
        assert (layer.attn_residual_add_idx, layer.mlp_residual_add_idx) == (2 * i + 2,
                                                                             2 * i + 3)
    reference = reference_of(dense, keep)
    x = ids(2, 24)
    torch.testing.assert_close(logits(model, x), logits(reference, x), rtol=0, atol=1e-5)
    assert numel(model) == count_params(model.config) == numel(reference)


@pytest.mark.parametrize("drop", [{1}, {0, 2}])
def test_depth_scoring_leaves_blocks_out_as_the_prune_removes_them(dense, drop):
    """The depth criteria score a removal by running the model without those blocks
    (methods.depth.without_blocks): the kept blocks take their new residual places there too,
    so each loss is the pruned model's (kept at their old places, it is another model's), and
    get their own back after."""
    x = ids(2, 24)
    pruned = logits(remove_blocks(copy.deepcopy(dense), sorted(drop)), x)
    with without_blocks(dense, drop):
        scored = logits(dense, x)
    torch.testing.assert_close(scored, pruned, rtol=0, atol=1e-5)
    assert [(layer.attn_residual_add_idx, layer.mlp_residual_add_idx)
            for layer in dense.model.layers] == [(2 * i + 2, 2 * i + 3) for i in range(4)]

@pytest.fixture(scope="module")
def without_block_0(dense):
    """Block 0 removed: full, sliding, full; all sparse."""
    return remove_blocks(copy.deepcopy(dense), [0])


def old_residual_places(model):
    """`model` with its blocks' residual places as blocks 1-3 had them before the prune."""
    model = copy.deepcopy(model)
    for i, layer in enumerate(model.model.layers):
        layer.attn_residual_add_idx, layer.mlp_residual_add_idx = 2 * i + 4, 2 * i + 5
    return model


def without_gate_bias(model):
    model = copy.deepcopy(model)
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.gate_bias.zero_()
    return model


@pytest.mark.parametrize("quirk, other", [
    # the kinds of blocks 0-2 (not renumbered): the first kept block would slide and rotate
    ("layer_types", lambda dense, ours: reference_of(
        dense, [1, 2, 3], layer_types=dense.config.layer_types[:3])),
    # the residual places blocks 1-3 had: the residual weighed against other sums
    ("residual places", lambda dense, ours: old_residual_places(ours)),
    # the gate's bias left out (zero, as a fresh BeamAttention holds it)
    ("gate_bias", lambda dense, ours: without_gate_bias(ours)),
    # the soft cap left out of the kept config
    ("soft cap", lambda dense, ours: reference_of(dense, [1, 2, 3],
                                                  final_logit_softcapping=None)),
    # a window past the input: the sliding block attending to every position
    ("window", lambda dense, ours: reference_of(dense, [1, 2, 3], sliding_window=64)),
])
def test_each_thing_a_depth_prune_keeps_or_renumbers_matters(dense, without_block_0, quirk,
                                                             other):
    """The pruned model computes transformers' model of the kept blocks (above); each of these
    differing, the logits differ: the checks above would see any of them lost."""
    x = ids(2, 24)
    ours = logits(without_block_0, x)
    torch.testing.assert_close(ours, logits(reference_of(dense, [1, 2, 3]), x), rtol=0,
                               atol=1e-5)
    assert (ours - logits(other(dense, without_block_0), x)).abs().max() > 1e-3, quirk
    assert ours.abs().max() < 3.0  # (the tiny model's cap, final_logit_softcapping 3)


def test_a_depth_pruned_reload_decodes_as_transformers(tmp_path):
    """Saved with block 1 removed (dense sliding, sparse sliding, sparse full), loaded by
    prunebench and by BeamForCausalLM: the hf and hf_static backends' tokens are transformers'
    generate's; its config.json reads back, without transformers, as the model."""
    _, model_class = classes()
    model = family_model(NAME)
    check_a_depth_pruned_reload_decodes_as_transformers(model, [1], model_class,
                                                        tmp_path / "pruned")
    raw = json.loads((tmp_path / "pruned" / "config.json").read_text())
    assert raw["layer_types"] == [SLIDING, SLIDING, FULL]
    assert (raw["mlp_layer_types"], raw["final_logit_softcapping"]) == (
        ["dense", "sparse", "sparse"], 3.0)
    assert count_params(config_from_dict(raw)) == numel(model)


# --------------------------------------------------------------------------- refusals

@pytest.mark.parametrize("change, match", [
    ({"layer_types": [SLIDING, "chunked_attention", FULL, FULL]}, "block kinds"),
    ({"rope_parameters": {"rope_type": "default", "rope_theta": 10000.0}}, "rope_parameters"),
    ({"sliding_window": None}, "sliding_window=null beside sliding_attention"),
    ({"mlp_layer_types": ["dense", "moe", "sparse", "sparse"]}, "MLP kinds"),
    ({"n_group": 3}, "n_group=3 and topk_group=2 for 8 experts"),
    ({"topk_group": 5}, "n_group=4 and topk_group=5"),
    # groups of one expert: the router scores a group by its best two
    ({"n_group": 8}, "n_group=8 and topk_group=2 for 8 experts"),
])
def test_a_config_json_transformers_does_not_run_is_refused_when_read(change, match,
                                                                       tmp_path):
    """Read without transformers (any release), naming the value; transformers' own class
    refuses it or fails at the first forward."""
    raw = {k: v for k, v in FAMILIES[NAME]().to_dict().items() if k != "dtype"}
    folder = _write_config(tmp_path / "m", {**raw, **change})
    with pytest.raises(PrunebenchError, match=match):
        checked_config_json(folder)
    config_class, model_class = classes()
    with pytest.raises(Exception):  # noqa: B017 - KeyError, TypeError, RuntimeError, ...
        logits(model_class(config_class.from_dict({**raw, **change})).eval(), ids(1, 8))
