"""Zamba (zamba, ZambaForCausalLM; Zyphra's Zamba-7B-v1): Mamba blocks (a multi-head Mamba-1
mixer) and hybrid blocks, each of which runs the one shared transformer block (attention and a
gated MLP over the hidden state concatenated with the embeddings), then its own linear and
Mamba block. transformers (5.17 and 5.25) builds a copy of the shared block in every hybrid
block and ties the copies' parameters to the first hybrid block's, where the embeddings are
tied; it saves the first's alone. Exact counts (the shared block once: against transformers'
model, config.json's values alone and by hand); depth pruning equal to transformers' model of
the kept blocks with layers_block_type rewritten, saved under the new first hybrid block's
names and reloaded by prunebench and by transformers; the depth criteria not scoring the
shared block as any block's; the hf and hf_static backends' tokens equal transformers'
generate; the depth criteria keeping the two most important hybrid blocks, wherever they are;
the refusals (a prune leaving fewer than two hybrid blocks, before anything changes and when
planned; config.json's untied embeddings, one hybrid block and kinds
transformers would build otherwise; width methods, surgery, the compiled decoder).
tests/test_families.py runs the shared per-family tests on it too."""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import random
import re

import pytest
import torch
from safetensors import safe_open
from transformers import ZambaConfig, ZambaForCausalLM

from prunebench import PrunebenchError
from prunebench.checkpoint.param_count import (config_from_dict, count_params,
                                               is_scored_weight, unreproduced_layout)
from prunebench.methods import depth, depth_angular, sleb
from prunebench.methods.depth_mag import magnitude_scores
from prunebench.methods.sizing import check_kinds_left, kind_keeping_choice
from prunebench.modeling import load_model, remove_blocks, save_model
from test_deepseek import ids, logits, numel, random_model
from test_depth_kinds import NO_PROTECTION, AdditiveLosses, target_removing
from test_families import VOCAB, in_allocated_memory
from test_granitemoehybrid import check_width_and_compiled_refused
from test_qwen3_next import (check_a_depth_pruned_reload_decodes_as_transformers,
                             check_depth_plans_leave_a_block_of_each_kind)

pytestmark = pytest.mark.usefixtures("one_thread")

KINDS = ["mamba", "hybrid", "hybrid", "mamba", "hybrid", "hybrid"]


def small(**over) -> ZambaConfig:
    """Six blocks, hybrid at 1, 2, 4 and 5; hidden 16, the shared attention 4 heads of 8 over
    32 (2 KV heads), its MLP 32 wide; 2 Mamba heads of 16 channels, 4 states, 3 taps, a dt
    rank of 2; tied (as published)."""
    values = dict(vocab_size=VOCAB, hidden_size=16, intermediate_size=32, num_hidden_layers=6,
                  num_attention_heads=4, num_key_value_heads=2, n_mamba_heads=2,
                  mamba_d_state=4, mamba_d_conv=3, mamba_dt_rank=2, layers_block_type=KINDS,
                  bos_token_id=1, eos_token_id=2, pad_token_id=0)
    values.update(over)
    return ZambaConfig(**values)


@pytest.fixture(scope="module")
def model():
    return random_model(small())


def hybrid_layers(model) -> list:
    return [layer for layer in model.model.layers if hasattr(layer, "shared_transf")]


# --------------------------------------------------------------------------- counts

@pytest.mark.parametrize("over", [{}, {"mamba_proj_bias": True, "mamba_conv_bias": False},
                                  {"num_key_value_heads": 4, "n_mamba_heads": 1}])
def test_counts_equal_transformers_parameters_the_shared_block_once(over):
    """transformers' own model ties its hybrid blocks' copies of the shared block (one
    parameter each): model.parameters() counts it once, as the closed form and config_from_dict
    of the config.json values do."""
    config = small(**over)
    theirs = ZambaForCausalLM(config)
    first, *others = hybrid_layers(theirs)
    assert all(layer.shared_transf.self_attn.q_proj.weight
               is first.shared_transf.self_attn.q_proj.weight for layer in others)
    assert numel(theirs) == count_params(config)
    values = json.loads(config.to_json_string())
    assert count_params(config_from_dict(values)) == count_params(config)


def test_the_count_is_the_sum_of_each_part_by_hand():
    d, inner, state, rank = 16, 32, 4, 2
    mixer = (d * 2 * inner + inner * 3 + inner  # in_proj, the conv and its bias
             + inner * (rank + 2 * state)  # x_proj_weight (2 heads of 16 channels)
             + inner * rank + inner  # dt_proj_weight, dt_proj_bias
             + inner * state + inner + inner * d)  # A_log, D, out_proj
    shared = (2 * d + 2 * d * (4 * 8 + 2 * 2 * 8)  # input_layernorm, q / k / v_proj over 32
              + 4 * 8 * d + d + 3 * d * 32)  # o_proj, pre_ff_layernorm, the MLP
    blocks = 6 * (d + mixer) + 4 * d * d  # each block's norm and mixer, the hybrids' linear
    assert count_params(small()) == VOCAB * d + d + shared + blocks


# --------------------------------------------------------------------------- depth pruning

def kept_blocks_model(model, keep: list[int]) -> ZambaForCausalLM:
    """transformers' own model of `model`'s blocks `keep` (renumbered), each of its kind, its
    shared block loaded under the new first hybrid block's names alone (the others tied)."""
    config = copy.deepcopy(model.config)
    config.layers_block_type = [model.config.layers_block_type[i] for i in keep]
    config.num_hidden_layers = len(keep)
    kept = ZambaForCausalLM(config).eval()
    first = next(i for i, kind in enumerate(config.layers_block_type) if kind == "hybrid")
    state = {f"model.layers.{new}.{name[len(f'model.layers.{old}.'):]}": tensor
             for name, tensor in model.state_dict().items() for new, old in enumerate(keep)
             if name.startswith(f"model.layers.{old}.") and (
                 ".shared_transf." not in name or new == first)}
    state.update({name: tensor for name, tensor in model.state_dict().items()
                  if not name.startswith("model.layers.")})
    missing, unexpected = kept.load_state_dict(state, strict=False)
    assert not unexpected and missing and all(".shared_transf." in name for name in missing)
    return kept


@pytest.mark.parametrize("drop", [[1, 2], [0, 2, 5], [1, 3, 4]])
def test_depth_pruning_gives_transformers_model_of_the_kept_blocks(model, drop, tmp_path):
    """The pruned model, and its save reloaded by prunebench and by transformers, compute the
    logits of transformers' model of the kept blocks: layers_block_type says the kept blocks'
    kinds, and the shared block is saved once, under the first kept hybrid block's names (block
    1's removed: another's), to which transformers ties the others; each kept block's Mamba
    mixer caches under its new index."""
    model = copy.deepcopy(model)
    keep = [i for i in range(6) if i not in drop]
    kinds = [KINDS[i] for i in keep]
    expected = logits(kept_blocks_model(model, keep), ids())
    remove_blocks(model, drop)
    assert model.config.layers_block_type == [
        "linear_attention" if kind == "mamba" else kind for kind in kinds]
    assert numel(model) == count_params(model.config)
    assert torch.equal(logits(model, ids()), expected)
    save_model(model, None, tmp_path / "pruned")
    first = kinds.index("hybrid")
    with safe_open(tmp_path / "pruned" / "model.safetensors", "pt") as fh:
        shared = {name.split(".")[2] for name in fh.keys() if ".shared_transf." in name}
    assert shared == {str(first)}
    assert torch.equal(logits(load_model(tmp_path / "pruned"), ids()), expected)
    theirs = in_allocated_memory(ZambaForCausalLM.from_pretrained(
        tmp_path / "pruned", dtype=torch.float32)).eval()
    assert torch.equal(logits(theirs, ids()), expected)


def test_the_loaded_shared_block_is_one_module_of_the_first_hybrid_blocks_weights(model,
                                                                                  tmp_path):
    """prunebench's save (the shared block under the first hybrid block's names alone) loads
    into one module in every hybrid block, counted once, computing the saved model's logits."""
    save_model(model, None, tmp_path / "whole")
    loaded = load_model(tmp_path / "whole")
    first, *others = hybrid_layers(loaded)
    assert all(layer.shared_transf is first.shared_transf for layer in others)
    assert numel(loaded) == count_params(loaded.config)
    assert torch.equal(logits(loaded, ids()), logits(model, ids()))


def test_the_depth_criteria_score_no_block_by_the_shared_block(model):
    """Mag+'s (and Taylor+'s) sums leave the shared block out: no block's removal removes it,
    and every hybrid block would otherwise carry the same large sum."""
    assert not is_scored_weight("shared_transf.self_attn.q_proj.weight")
    own = [float(sum(p.detach().abs().sum(dtype=torch.float64)
                     for name, p in layer.named_parameters() if "weight" in name
                     and not name.startswith("shared_transf.")))
           for layer in model.model.layers]
    assert magnitude_scores(model) == own


def test_a_prune_leaving_fewer_than_two_hybrid_blocks_is_refused(model):
    """Blocks 1, 2 and 4 (three of the four hybrid blocks) refused before anything changes (one
    hybrid block left: transformers' ZambaModel cannot build a tied model of one, below); and
    exactly the plans that cannot keep two, when planned (two of one half kept stand)."""
    pruned = copy.deepcopy(model)
    with pytest.raises(PrunebenchError, match=r"removing blocks \[1, 2, 4\] would leave this "
                                              r"Zamba model 1 of its hybrid blocks \[1, 2, 4, 5\]"):
        remove_blocks(pruned, [1, 2, 4])
    assert pruned.config.num_hidden_layers == 6
    assert torch.equal(logits(pruned, ids()), logits(model, ids()))
    with pytest.raises(ValueError, match="tie"):
        ZambaForCausalLM(small(num_hidden_layers=2, layers_block_type=["mamba", "hybrid"]))
    check_depth_plans_leave_a_block_of_each_kind(model)


def test_the_kind_keeping_choice_keeps_the_two_most_important_hybrid_blocks():
    """For every ranking tried and every k a plan allows (at most 4 of the 6 blocks: two hybrid
    blocks stay, wherever they are): the one-shot criteria's choice keeps two hybrid blocks and
    its scores sum to the least of every removal of k blocks that keeps two (all tried)."""
    config, rng = small(), random.Random(0)
    hybrid = {i for i, kind in enumerate(KINDS) if kind == "hybrid"}
    for _ in range(20):
        scores = [rng.random() for _ in range(6)]
        ranking = sorted(range(6), key=lambda b: scores[b])
        for k in range(1, 6):
            if k > 4:
                with pytest.raises(PrunebenchError, match="fewer than 2 hybrid blocks"):
                    check_kinds_left(config, list(range(6)), k)
                continue
            check_kinds_left(config, list(range(6)), k)
            removed, _ = kind_keeping_choice(config, ranking, k)
            assert len(set(removed)) == k and len(hybrid - set(removed)) >= 2
            best = min(sum(scores[b] for b in drop)
                       for drop in itertools.combinations(range(6), k)
                       if len(hybrid - set(drop)) >= 2)
            assert sum(scores[b] for b in removed) == pytest.approx(best, rel=1e-12)


def test_the_depth_criteria_remove_hybrid_blocks_of_one_half_where_two_stay(model, monkeypatch):
    """The hybrid blocks ranked least important, three blocks to go: a one-shot criterion
    removes blocks 1 and 2 (the earlier hybrid ones) and block 0, passing over 4 and 5, the
    pruned model transformers' model of the kept blocks; SLEB's rounds remove 1, 2, then 0, not
    trying 4 or 5; depth_angular takes its best run, blocks 0..2."""
    def hybrid_lowest():
        return [float(i) + (0.0 if kind == "hybrid" else 10.0) for i, kind in enumerate(KINDS)]

    pruned = copy.deepcopy(model)
    report = depth.prune_one_shot(pruned, target_removing(model, 3), dict(NO_PROTECTION), "test",
                                  lambda: (hybrid_lowest(), {}))
    assert report["removed_blocks"] == [0, 1, 2] and report["kept_for_kind"] == [4, 5]
    assert torch.equal(logits(pruned, ids()), logits(kept_blocks_model(model, [3, 4, 5]), ids()))
    losses = AdditiveLosses([0.5, 0.0, 0.1, 0.6, 0.2, 0.3])
    monkeypatch.setattr(sleb, "scored_losses", lambda *a, **k: contextlib.nullcontext(losses))
    report = sleb.prune(copy.deepcopy(model), ids(), target_removing(model, 3), **NO_PROTECTION)
    assert report["removal_order"] == [1, 2, 0]
    assert report["rounds"][2]["candidate_nll"].keys() == {"0", "3"}
    monkeypatch.setattr(depth_angular, "last_token_states",
                        lambda *a, **k: torch.zeros(7, 1, 4, dtype=torch.float64))
    monkeypatch.setattr(depth_angular, "angular_distances",
                        lambda states, k: [0.1, 0.2, 0.3, 0.4][:len(states) - k])
    report = depth_angular.prune(copy.deepcopy(model), ids(), target_removing(model, 3),
                                 **NO_PROTECTION)
    assert report["removed_blocks"] == [0, 1, 2]


# --------------------------------------------------------------------------- backends

def test_the_hf_backends_decode_a_depth_pruned_model_as_transformers_generate(model, tmp_path):
    """Block 1 removed (the first hybrid block: the shared block saved under block 1's, the
    old block 2's, names): the hf and hf_static backends' tokens equal transformers' generate of
    its own loading, and greedy decoding without a cache."""
    check_a_depth_pruned_reload_decodes_as_transformers(
        copy.deepcopy(model), [1], ZambaForCausalLM, tmp_path / "pruned")


# --------------------------------------------------------------------------- refusals

@pytest.mark.parametrize("values,refused", [
    ({"tie_word_embeddings": False}, "tie_word_embeddings false"),
    ({"layers_block_type": ["mamba", "hybrid", "mamba"], "num_hidden_layers": 3},
     "one \"hybrid\" block"),
    ({"layers_block_type": ["mamba", "attention", "hybrid"], "num_hidden_layers": 3},
     "layers_block_type=.*attention"),
    ({"layers_block_type": ["mamba", "hybrid", "hybrid"], "num_hidden_layers": 4},
     "3 block kinds for a Zamba model of num_hidden_layers=4"),
    # (no layers_block_type: the kinds ZambaConfig derives, [mamba, mamba, hybrid, ...])
    ({"layers_block_type": None, "num_hidden_layers": 4},
     "no layers_block_type .*: one \"hybrid\" block"),
    ({"layers_block_type": None, "num_hidden_layers": 2},
     "no layers_block_type .*: 3 block kinds for a Zamba model of num_hidden_layers=2"),
    ({"n_mamba_heads": 3}, "n_mamba_heads=3"),
])
def test_config_json_values_transformers_builds_otherwise_are_refused(values, refused):
    raw = {**json.loads(small().to_json_string()), **values}
    assert unreproduced_layout(raw) is not None
    assert re.search(refused, unreproduced_layout(raw))
    assert unreproduced_layout(json.loads(small().to_json_string())) is None
    # the published kinds ("mamba") and the ones transformers writes both read
    legacy = {**json.loads(small().to_json_string()), "layers_block_type": KINDS}
    assert unreproduced_layout(legacy) is None
    assert count_params(config_from_dict(legacy)) == count_params(small())
    # derived with two hybrid blocks (2 and 7, attn_layer_offset 4 of period 6 past the third)
    derived = {**json.loads(small().to_json_string()), "layers_block_type": None,
               "num_hidden_layers": 9}
    assert unreproduced_layout(derived) is None
    assert config_from_dict(derived).layer_types.count("hybrid") == 2


def test_width_methods_surgery_and_the_compiled_decoder_are_refused():
    check_width_and_compiled_refused(small(), "multi-head Mamba")


def test_the_start_refuses_the_compiled_backend(tmp_path):
    """Told at the start, where the model's config is known, naming its Mamba-1 mixers."""
    from prunebench.plan.checks import moe_problems

    small().save_pretrained(tmp_path / "zamba")
    runs = {"models": {"zamba": {"source": f"local:{tmp_path / 'zamba'}",
                                 "variants": ["dense"]}},
            "benchmark": {"backends": ["hf", "compiled"]}}
    problem, = moe_problems(runs, tmp_path / "nowhere")
    assert "(Mamba-1)" in problem and "take 'compiled' out" in problem
