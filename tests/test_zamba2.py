"""Zamba2 (zamba2, Zamba2ForCausalLM; Zyphra's Zamba2-1.2B / 2.7B / 7B): Mamba-2 blocks and
hybrid blocks, hybrid block j (in hybrid order) running shared transformer block j mod
num_mem_blocks (attention and a gated MLP over the hidden state concatenated with the
embeddings), through LoRA adapters of its own that the shared block holds and looks up by the
index the model hands it, then its own linear and Mamba-2 block. transformers (5.17 and 5.25)
builds a copy of a shared block in every hybrid block and ties the copies to the first
num_mem_blocks hybrid blocks', saving those alone. Exact counts (each shared block once, each
hybrid block's adapters with it: against transformers' model, config.json's values alone and
by hand); depth pruning of Mamba blocks equal to transformers' model of the kept blocks, its
hybrid_layer_ids renumbered (transformers sets a saved one over the one it derives), saved
under the new first hybrid blocks' names and reloaded by prunebench and transformers; the
depth criteria's scoring without a block equal to its removal; hybrid blocks removed in whole
cycles of num_mem_blocks (or after the last kept; any with one shared block), their adapters
renumbered, equal to transformers' model of the kept blocks and reloaded; a removal that
would hand later hybrid blocks other shared blocks refused before anything changes; the
criteria's choices among Mamba blocks and cycles (the least-scored removal transformers can
build, every criterion run), the plans' refusals; the hf and hf_static backends' tokens equal
transformers' generate; config.json values transformers builds otherwise or not at all refused; width
methods, surgery, the compiled decoder refused. tests/test_families.py runs the shared
per-family tests on it too."""

from __future__ import annotations

import copy
import itertools
import json
import random
import re

import pytest
import torch
from safetensors import safe_open
from transformers import Zamba2Config, Zamba2ForCausalLM

from prunebench import PrunebenchError
from prunebench.checkpoint.param_count import (block_param_count, config_from_dict,
                                               count_params, depth_removed_params, layer_shapes,
                                               unreproduced_layout)
from prunebench.checkpoint.param_count import zamba2_removal_problem
from prunebench.methods import registry
from prunebench.methods.depth import without_blocks
from prunebench.methods.sizing import (check_kinds_left, one_by_one_most, planned_mix,
                                       plan_blocks, plan_depth_angular, plan_sleb, may_remove,
                                       run_starts, zamba2_choice)
from prunebench.modeling import load_model, remove_blocks, save_model
from block_helpers import allowed_sizes, greedy_rounds, nearest_plan, round_sizes, run_sizes
from test_deepseek import ids, logits, numel, random_model
from test_families import VOCAB, in_allocated_memory
from test_granitemoehybrid import check_width_and_compiled_refused
from test_qwen3_next import check_a_depth_pruned_reload_decodes_as_transformers

pytestmark = pytest.mark.usefixtures("one_thread")

KINDS = ["mamba", "hybrid", "mamba", "hybrid", "hybrid", "mamba"]


def small(**over) -> Zamba2Config:
    """Six blocks, hybrid at 1, 3 and 4, running shared blocks 0, 1, 0 (num_mem_blocks 2);
    hidden 16, the shared attention 4 heads of 8 over 32 (as many KV heads: the attention
    adapters need them), rotary, its MLP 24 wide; adapters of rank 4 on q / k / v and gate_up;
    2 Mamba-2 heads of 16 channels, 4 states, 3 taps; tied (as published)."""
    values = dict(vocab_size=VOCAB, hidden_size=16, intermediate_size=24, num_hidden_layers=6,
                  num_attention_heads=4, num_key_value_heads=4, n_mamba_heads=2,
                  mamba_d_state=4, mamba_d_conv=3, num_mem_blocks=2, adapter_rank=4,
                  use_shared_attention_adapter=True, use_mem_rope=True,
                  layers_block_type=KINDS, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    values.update(over)
    return Zamba2Config(**values)


@pytest.fixture(scope="module")
def model():
    return random_model(small())


def hybrid_layers(model) -> list:
    return [layer for layer in model.model.layers if hasattr(layer, "shared_transformer")]


# --------------------------------------------------------------------------- counts

@pytest.mark.parametrize("over", [
    {}, {"add_bias_linear": True, "num_mem_blocks": 1, "use_shared_attention_adapter": False,
         "num_key_value_heads": 2},
    {"num_mem_blocks": 4, "mamba_ngroups": 2}])  # (more shared blocks than hybrid ones)
def test_counts_equal_transformers_parameters_each_shared_block_once(over):
    """transformers' own model ties hybrid block j's copy to hybrid block j mod
    num_mem_blocks's (one parameter each): model.parameters() counts each shared block once, as
    the closed form and config_from_dict of the config.json values do."""
    config = small(**over)
    theirs = Zamba2ForCausalLM(config)
    first, second, third = (layer.shared_transformer.self_attn.q_proj.weight
                            for layer in hybrid_layers(theirs))
    assert (second is first) == (config.num_mem_blocks == 1)
    assert (third is first) == (config.num_mem_blocks <= 2)
    assert numel(theirs) == count_params(config)
    values = json.loads(config.to_json_string())
    assert count_params(config_from_dict(values)) == count_params(config)


def test_the_count_is_the_sum_of_each_part_by_hand():
    d, inner, state, heads, r, mlp = 16, 32, 4, 2, 4, 24
    channels = inner + 2 * state  # the conv's: x, B and C
    mixer = (d * (inner + channels + heads) + channels * 3 + channels  # in_proj, the conv
             + 3 * heads + inner + inner * d)  # dt_bias, A_log, D, the gated norm, out_proj
    shared = (2 * d + 2 * d * 3 * 2 * d + 2 * d * d  # input_layernorm, q / k / v, o_proj
              + d + 3 * d * mlp)  # pre_ff_layernorm, gate_up and down
    adapters = r * (d + 2 * mlp) + 3 * 2 * (2 * d * r)  # gate_up's; q / k / v's
    blocks = 6 * (d + mixer) + 3 * (d * d + adapters)  # the hybrids' linear and adapters
    assert count_params(small()) == VOCAB * d + d + 2 * shared + blocks


# --------------------------------------------------------------------------- depth pruning

def kept_blocks_model(model, keep: list[int]) -> Zamba2ForCausalLM:
    """transformers' own model of `model`'s blocks `keep` (renumbered), each of its kind, built
    from the pruned config (Zamba2Config deriving hybrid_layer_ids) and loaded by name (every
    hybrid block's copy of its shared block under its own names: the same tensors), each kept
    hybrid block's adapters at its slot among the kept hybrid blocks (adapter_list.<j>: j its
    place in hybrid order, as Zamba2Attention and Zamba2MLP number them), the removed ones'
    left out; every parameter loaded, none left over."""
    values = {**json.loads(model.config.to_json_string()),
              "layers_block_type": [model.config.layers_block_type[i] for i in keep],
              "num_hidden_layers": len(keep)}
    del values["hybrid_layer_ids"]
    kept = Zamba2ForCausalLM(Zamba2Config(**values)).eval()
    hybrid = [i for i, kind in enumerate(model.config.layers_block_type) if kind == "hybrid"]
    slot = {old: new for new, old in enumerate(j for j, i in enumerate(hybrid) if i in keep)}
    state = {name: tensor for name, tensor in model.state_dict().items()
             if not name.startswith("model.layers.")}
    for name, tensor in model.state_dict().items():
        if (found := re.fullmatch(r"model\.layers\.(\d+)\.(.*)", name)) and (
                int(found[1]) in keep):
            rest, adapter = found[2], re.search(r"adapter_list\.(\d+)\.", found[2])
            if adapter and int(adapter[1]) not in slot:
                continue  # (a removed hybrid block's adapter)
            if adapter:
                rest = rest.replace(adapter[0], f"adapter_list.{slot[int(adapter[1])]}.")
            state[f"model.layers.{keep.index(int(found[1]))}.{rest}"] = tensor
    missing, unexpected = kept.load_state_dict(state, strict=False)
    assert not missing and not unexpected
    return kept


@pytest.mark.parametrize("drop", [[0, 2], [5]])
def test_depth_pruning_gives_transformers_model_of_the_kept_blocks(model, drop, tmp_path):
    """Mamba blocks removed (block 0: every hybrid block's index shifts): the pruned model, and
    its save reloaded by prunebench and by transformers, compute the logits of transformers'
    model of the kept blocks; config.json's hybrid_layer_ids are the kept hybrid blocks' new
    indices (a stale list, which transformers would set over the one it derives, hands the
    adapters other blocks' indices: its model stops), the shared blocks saved under the first
    two kept hybrid blocks' names alone."""
    model = copy.deepcopy(model)
    keep = [i for i in range(6) if i not in drop]
    hybrid = [new for new, old in enumerate(keep) if KINDS[old] == "hybrid"]
    expected = logits(kept_blocks_model(model, keep), ids())
    remove_blocks(model, drop)
    assert model.config.hybrid_layer_ids == hybrid
    assert numel(model) == count_params(model.config)
    assert torch.equal(logits(model, ids()), expected)
    save_model(model, None, tmp_path / "pruned")
    with safe_open(tmp_path / "pruned" / "model.safetensors", "pt") as fh:
        shared = {int(name.split(".")[2]) for name in fh.keys()
                  if ".shared_transformer." in name}
    assert shared == set(hybrid[:2])
    saved = json.loads((tmp_path / "pruned" / "config.json").read_text())
    assert saved["hybrid_layer_ids"] == hybrid
    assert torch.equal(logits(load_model(tmp_path / "pruned"), ids()), expected)
    theirs = in_allocated_memory(Zamba2ForCausalLM.from_pretrained(
        tmp_path / "pruned", dtype=torch.float32)).eval()
    assert torch.equal(logits(theirs, ids()), expected)
    if drop == [0, 2]:  # (the quirk: the dense model's list left in config.json)
        stale = Zamba2Config(**{**saved, "hybrid_layer_ids": [1, 3, 4]})
        assert stale.hybrid_layer_ids == [1, 3, 4]
        with pytest.raises(KeyError):
            logits(Zamba2ForCausalLM(stale), ids())


def test_the_loaded_shared_blocks_are_one_module_each(model, tmp_path):
    """prunebench's save (the shared blocks under the first two hybrid blocks' names alone)
    loads into one module per shared block, hybrid block j holding block j mod 2's, counted
    once, computing the saved model's logits."""
    save_model(model, None, tmp_path / "whole")
    loaded = load_model(tmp_path / "whole")
    first, second, third = (layer.shared_transformer for layer in hybrid_layers(loaded))
    assert third is first and second is not first
    assert numel(loaded) == count_params(loaded.config)
    assert torch.equal(logits(loaded, ids()), logits(model, ids()))


def test_scoring_without_a_block_is_its_removal(model):
    """The depth criteria's forward without block 0 (each later block keeping its index, by
    which the shared blocks look up the hybrid blocks' adapters) computes the pruned model's
    logits; left out of the list, as for other families, the shared blocks would look up
    indices no hybrid block has."""
    with without_blocks(model, {0}):
        scored = logits(model, ids())
    assert torch.equal(scored, logits(remove_blocks(copy.deepcopy(model), [0]), ids()))


@pytest.mark.parametrize("mem_blocks,drop", [
    (2, [1, 3]), (2, [3, 4]), (2, [4]), (1, [3])],
    ids=["the_first_cycle", "the_second_cycle", "after_the_last_kept", "one_shared_block"])
def test_whole_cycles_of_hybrid_blocks_give_transformers_model_of_the_kept_blocks(
        model, mem_blocks, drop, tmp_path):
    """Hybrid blocks removed in whole cycles of num_mem_blocks (hybrid blocks 0 and 1; 1 and 2;
    the last, after the last kept; with one shared block, any: the middle one): every kept
    hybrid block stays on its shared block, its adapters moved to its new slot, the removed
    ones' dropped. The pruned model, and its save reloaded by prunebench and by transformers,
    compute the logits of transformers' model of the kept blocks built from the pruned config
    (kept_blocks_model: every parameter placed, none left over); the saved names are those
    transformers saves for that model (its adapters' indices renumbered; the shared blocks
    under the first kept hybrid blocks' names: block 4's where hybrid blocks 1 and 3 go)."""
    model = copy.deepcopy(model) if mem_blocks == 2 else random_model(small(num_mem_blocks=1))
    keep = [i for i in range(6) if i not in drop]
    theirs = kept_blocks_model(model, keep)
    expected = logits(theirs, ids())
    remove_blocks(model, drop)
    assert model.config.hybrid_layer_ids == theirs.config.hybrid_layer_ids
    assert numel(model) == count_params(model.config) == numel(theirs)
    assert torch.equal(logits(model, ids()), expected)
    save_model(model, None, tmp_path / "pruned")
    theirs.save_pretrained(tmp_path / "theirs")
    names = []
    for folder in ("pruned", "theirs"):
        with safe_open(tmp_path / folder / "model.safetensors", "pt") as fh:
            names.append(set(fh.keys()) - {"lm_head.weight"})
    assert names[0] == names[1]
    assert torch.equal(logits(load_model(tmp_path / "pruned"), ids()), expected)
    reloaded = in_allocated_memory(Zamba2ForCausalLM.from_pretrained(
        tmp_path / "pruned", dtype=torch.float32)).eval()
    assert torch.equal(logits(reloaded, ids()), expected)


def test_a_removal_that_would_shift_adapters_is_refused_before_anything_changes(model):
    """Hybrid block 3 (the second) removed alone would hand hybrid block 4 shared block 1 and
    adapter slot 1 where it was trained with block 0 and slot 2: transformers' model of the
    kept blocks has no place for its adapter (below). Refused before the model changes, as a
    removal of every hybrid block (transformers' model cannot run without one)."""
    pruned = copy.deepcopy(model)
    with pytest.raises(PrunebenchError, match=r"removing blocks \[3\] would hand this Zamba2 "
                                              r"model's hybrid blocks \[4\] other shared"):
        remove_blocks(pruned, [3])
    with pytest.raises(PrunebenchError, match=r"none of its hybrid blocks \[1, 3, 4\]"):
        remove_blocks(pruned, [1, 3, 4])
    assert pruned.config.num_hidden_layers == 6
    assert torch.equal(logits(pruned, ids()), logits(model, ids()))
    values = {**json.loads(model.config.to_json_string()), "num_hidden_layers": 5,
              "layers_block_type": [k for i, k in enumerate(KINDS) if i != 3]}
    del values["hybrid_layer_ids"]
    theirs = Zamba2ForCausalLM(Zamba2Config(**values))
    moved = {name.replace("layers.4.", "layers.3."): t for name, t in model.state_dict().items()
             if name.startswith("model.layers.4.shared_transformer.")}
    _, unexpected = theirs.load_state_dict(moved, strict=False)
    assert any("adapter_list.2." in name for name in unexpected)


# Block kinds for the criteria: hybrid blocks 1 to 4 (two cycles of two), Mamba 0 and 5
CYCLES = ["mamba", "hybrid", "hybrid", "hybrid", "hybrid", "mamba"]


def brute_force(config, removable, scores, k):
    """The least score sum of any removal of k of `removable` that transformers' model of the
    kept blocks has every weight of (zamba2_removal_problem: none), and those removals."""
    valid = [drop for drop in itertools.combinations(removable, k)
             if zamba2_removal_problem(config, drop) is None]
    return min((sum(scores[b] for b in drop) for drop in valid), default=None), valid


@pytest.mark.parametrize("kinds,mem_blocks,removable", [
    (CYCLES, 2, range(6)), (CYCLES, 3, range(6)), (CYCLES, 1, range(6)),
    (KINDS, 2, range(6)), (CYCLES, 2, range(4)),  # (the last hybrid block protected)
    (["hybrid"] * 5, 2, range(5))])
def test_the_cycle_choice_is_the_least_score_removal_transformers_can_build(
        kinds, mem_blocks, removable):
    """For random scores and every k: check_kinds_left lets the plan through exactly where a
    removal of k blocks keeps each kept hybrid block on its shared block and one hybrid block
    (all removals tried); the one-shot criteria's choice (zamba2_choice) is such a removal,
    its scores summing to the least of them; sizing.may_remove (SLEB's rounds,
    depth_angular's runs) says the same of each; SLEB's rounds reach as many blocks as a
    search of every order of allowed single removals."""
    config = small(layers_block_type=kinds, num_hidden_layers=len(kinds),
                   num_mem_blocks=mem_blocks)
    removable, rng = list(removable), random.Random(0)
    for _ in range(10):
        scores = [rng.random() for _ in kinds]
        for k in range(1, len(removable) + 1):
            best, valid = brute_force(config, removable, scores, k)
            assert all(may_remove(config, drop) for drop in valid)
            if not valid:
                with pytest.raises(PrunebenchError, match="cannot keep this Zamba2"):
                    check_kinds_left(config, removable, k)
                continue
            check_kinds_left(config, removable, k)
            chosen = zamba2_choice(config, removable, scores, k)
            assert tuple(chosen) in valid
            assert sum(scores[b] for b in chosen) == pytest.approx(best, rel=1e-12)
    reached, frontier = 0, {()}
    while frontier:  # (every order of single removals each allowed)
        reached = len(next(iter(frontier)))
        frontier = {tuple(sorted({*drop, b})) for drop in frontier for b in removable
                    if b not in drop and may_remove(config, {*drop, b})}
    assert one_by_one_most(config, removable) == reached


def target_removing(config, blocks) -> int:
    """The size of the model without `blocks` (each shared block no kept hybrid block runs
    gone with them: depth_removed_params)."""
    return count_params(config) - depth_removed_params(config, blocks)


@pytest.mark.parametrize("mem_blocks", [2, 3])
def test_the_size_a_removal_takes_is_what_remove_blocks_takes(cycles_model, mem_blocks):
    """For every removal a depth prune may make (zamba2_removal_problem: none), the parameters
    depth_removed_params says it takes are those the pruned model lacks: its blocks, and the
    shared blocks no kept hybrid block runs (one hybrid block left of num_mem_blocks 2, the
    last two of 3 go); the plan of that size says the numbers of hybrid and Mamba blocks, and
    that size (before, it sized the largest blocks and no shared block: a size needing three
    hybrid blocks was refused, one needing two and two Mamba blocks planned as three blocks)."""
    model = cycles_model if mem_blocks == 2 else random_model(
        small(layers_block_type=CYCLES, num_mem_blocks=mem_blocks))
    config, dense, shared = model.config, numel(model), False
    for k in range(1, 6):
        for drop in itertools.combinations(range(6), k):
            if zamba2_removal_problem(config, drop) is None:
                pruned = remove_blocks(copy.deepcopy(model), list(drop))
                assert numel(pruned) == dense - depth_removed_params(config, drop)
                shared |= numel(pruned) < dense - sum(
                    block_param_count(config, layer_shapes(config)[b]) for b in drop)
                hybrid = len({1, 2, 3, 4} & set(drop))
                plan = plan_blocks(config, numel(pruned), 0, 0)
                assert plan["params_after"] == numel(pruned)
                assert (plan["hybrid_blocks_removed"], plan["blocks_removed"]) == (hybrid, k)
    assert shared


@pytest.fixture(scope="module")
def cycles_model():
    return random_model(small(layers_block_type=CYCLES))


@pytest.mark.parametrize("method", ["depth_ppl", "depth_taylor", "depth_mag", "shortgpt",
                                    "sleb", "depth_angular"])
def test_every_criterion_removes_hybrid_blocks_in_whole_cycles(cycles_model, method):
    """Four of six blocks to go, a size of two hybrid and two Mamba blocks (depth_angular's:
    three hybrid, one Mamba): each criterion removes that many hybrid blocks, in whole cycles
    (or after the last kept), and the pruned model computes the logits of transformers' model
    of the kept blocks and has the plan's size (before, the plan sized three blocks for it, the
    largest first, and the criterion chose its own mix)."""
    model = copy.deepcopy(cycles_model)
    # (no run of four holds two hybrid blocks: depth_angular's run takes three, hybrid block 1
    # left alone on two shared blocks)
    blocks = [2, 3, 4, 5] if method == "depth_angular" else [0, 1, 2, 5]
    target = target_removing(model.config, blocks)
    plan = registry.method_plan(method)(model.config, target, protect_first=0, protect_last=0)
    hybrid = 3 if method == "depth_angular" else 2
    assert (plan["blocks_removed"], plan["hybrid_blocks_removed"]) == (4, hybrid)
    report = registry.method_function(method)(
        model, ids(2, 8), target, protect_first=0, protect_last=0)
    removed = report["removed_blocks"]
    assert len(removed) == 4 and zamba2_removal_problem(cycles_model.config, removed) is None
    keep = [i for i in range(6) if i not in removed]
    assert torch.equal(logits(model, ids()), logits(kept_blocks_model(cycles_model, keep), ids()))
    assert numel(model) == plan["params_after"] == target


def test_the_plans_refuse_what_no_removal_of_cycles_reaches(cycles_model):
    """Every block but one hybrid block (five) cannot go in cycles that keep one: the plan's
    smallest size is the model less three hybrid blocks and both Mamba blocks; a target below
    it refused; SLEB's plan of two hybrid blocks and a Mamba block refused where the last
    hybrid block is protected (the others then go in cycles alone: its rounds reach Mamba
    block 0 alone, far above), the one-shot criteria's plan not; depth_angular's of those five
    blocks refused (its runs keep two blocks), naming why."""
    config = cycles_model.config
    with pytest.raises(PrunebenchError, match="is below"):
        plan_blocks(config, count_params(config) // 4, 0, 0)
    assert plan_blocks(config, target_removing(config, [0, 2, 3, 4, 5]), 0, 0)[
        "blocks_removed"] == 5
    mamba, hybrid = (block_param_count(config, layer_shapes(config)[b]) for b in (0, 1))
    target = count_params(config) - 2 * hybrid - mamba  # (three blocks: two hybrid, one Mamba)
    with pytest.raises(PrunebenchError, match=r"smallest size a depth prune by sleb of this "
                                              r"'zamba2' model \(Zamba2ForCausalLM\) reaches "
                                              r"\(it removes one block a "
                                              r"round, and of the removable hybrid blocks "
                                              r"\[1, 2, 3\] its rounds can remove 0"):
        plan_sleb(config, target, protect_first=0, protect_last=2)
    assert plan_blocks(config, target, 0, 2)["blocks_removed"] == 3
    with pytest.raises(PrunebenchError, match=r"the smallest size a depth prune by "
                                              r"depth_angular of this 'zamba2' model "
                                              r"\(Zamba2ForCausalLM\) reaches \(it "
                                              r"removes one run of consecutive removable blocks"):
        plan_depth_angular(config, target_removing(config, [0, 2, 3, 4, 5]), protect_first=0,
                           protect_last=0)


# A layout whose last cycle of hybrid blocks (6 and 7) protect_last=2 keeps: SLEB's rounds
# reach none of the hybrid blocks 1 and 2, which the one-shot criteria remove as a cycle.
TAIL_CYCLE = ["mamba", "hybrid", "hybrid", "mamba", "mamba", "mamba", "hybrid", "hybrid"]


@pytest.mark.parametrize("method", ["sleb", "depth_angular"])
def test_sleb_and_depth_angular_plan_and_prune_a_mix_they_make_near_the_target(
        cycles_model, method):
    """A size whose nearest removal has a mix of hybrid and Mamba blocks the method cannot
    make: for depth_angular two hybrid and two Mamba blocks (no run of four holds them), for
    SLEB the cycle of hybrid blocks 1 and 2 with the last cycle protected (its rounds reach no
    hybrid block). Its plan says a mix it can make whose size is nearest the target of those
    its removals reach (every run, every order of rounds tried: three blocks, one Mamba block
    fewer for depth_angular, three Mamba blocks for SLEB), and its prune has that size; before,
    the plan took the one-shot criteria's mix and both were refused."""
    if method == "depth_angular":
        model, protect, gone = copy.deepcopy(cycles_model), (0, 0), [0, 1, 2, 5]
        reach, mix = run_sizes, (3, 2)
    else:
        model, protect, gone = random_model(small(layers_block_type=TAIL_CYCLE,
                                                  num_hidden_layers=8)), (0, 2), [1, 2]
        reach, mix = round_sizes, (3, 0)
    config = copy.deepcopy(model.config)
    target = target_removing(config, gone)
    assert plan_blocks(config, target, *protect)["params_after"] == target
    removable = list(range(config.num_hidden_layers - protect[1]))
    plan = nearest_plan(config, method, target, protect, reach(config, removable),
                        allowed_sizes(config, removable))
    assert (plan["blocks_removed"], plan["hybrid_blocks_removed"]) == mix
    report = registry.method_function(method)(model, ids(2, 8), target, protect_first=0,
                                              protect_last=protect[1])
    assert zamba2_removal_problem(config, report["removed_blocks"]) is None
    assert numel(model) == count_params(model.config) == plan["params_after"] != target


@pytest.mark.parametrize("kinds,mem_blocks,protect", [
    (CYCLES, 2, (0, 0)), (CYCLES, 3, (0, 0)), (CYCLES, 1, (0, 0)), (KINDS, 2, (0, 0)),
    (CYCLES, 2, (0, 2)), (["hybrid"] * 5, 2, (0, 0)), (TAIL_CYCLE, 2, (0, 2)),
    (TAIL_CYCLE, 1, (1, 1))])
def test_every_methods_plan_is_the_nearest_size_it_reaches(kinds, mem_blocks, protect):
    """Without a model, for every size a depth prune reaches (every allowed removal tried):
    the one-shot criteria's plan has it; SLEB's and depth_angular's plans say a size nearest it
    of those their removals reach (every order of rounds, every run tried), or refuse it only
    where the dense model is as near or it is below the smallest by more than half a step;
    SLEB's rounds (whatever the scores) and each run depth_angular may take have the plan's
    size."""
    config = small(layers_block_type=kinds, num_hidden_layers=len(kinds),
                   num_mem_blocks=mem_blocks)
    removable = list(range(protect[0], len(kinds) - protect[1]))
    every = allowed_sizes(config, removable)
    rounds, runs, rng = round_sizes(config, removable), run_sizes(config, removable), \
        random.Random(0)
    for target in sorted(every - {count_params(config)}):
        assert plan_blocks(config, target, *protect)["params_after"] == target
        if plan := nearest_plan(config, "sleb", target, protect, rounds, every):
            mix = planned_mix(config, target, removable, "sleb")
            for _ in range(5):
                scores = [rng.random() for _ in kinds]
                taken = greedy_rounds(config, removable, scores, mix)
                assert target_removing(config, taken) == plan["params_after"]
        if plan := nearest_plan(config, "depth_angular", target, protect, runs, every):
            k = plan["blocks_removed"]
            assert {target_removing(config, range(s, s + k)) for s in run_starts(
                config, removable, k, target)} == {plan["params_after"]}


# --------------------------------------------------------------------------- backends

def test_the_hf_backends_decode_a_depth_pruned_model_as_transformers_generate(model, tmp_path):
    """Block 0 removed (every hybrid block renumbered): the hf and hf_static backends' tokens
    equal transformers' generate of its own loading, and greedy decoding without a cache."""
    check_a_depth_pruned_reload_decodes_as_transformers(
        copy.deepcopy(model), [0], Zamba2ForCausalLM, tmp_path / "pruned")


# --------------------------------------------------------------------------- refusals

@pytest.mark.parametrize("values,refused", [
    ({"tie_word_embeddings": False}, "tie_word_embeddings false"),
    ({"layers_block_type": ["mamba", "attention", "hybrid"], "num_hidden_layers": 3},
     "layers_block_type=.*attention"),
    ({"layers_block_type": ["mamba", "hybrid", "hybrid"], "num_hidden_layers": 4},
     "3 block kinds for a Zamba2 model of num_hidden_layers=4"),
    ({"layers_block_type": None, "num_hidden_layers": 4},
     "no layers_block_type .*: 54 block kinds"),
    ({"layers_block_type": ["mamba"] * 6}, "no \"hybrid\" block"),
    ({"hybrid_layer_ids": [1, 3]}, r"hybrid_layer_ids=\[1, 3\] .*derives \[1, 3, 4\]"),
    ({"attention_head_dim": 4}, "attention_head_dim=4"),
    ({"num_key_value_heads": 2}, "use_shared_attention_adapter true .*num_key_value_heads=2"),
    ({"n_mamba_heads": 3, "mamba_headdim": None}, "n_mamba_heads=3"),
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


def test_transformers_stops_on_the_refused_adapters_and_a_model_without_hybrid_blocks():
    """Why two of the refusals: attention adapters on fewer KV heads than heads (their 2 x
    hidden outputs added to narrower keys), and no hybrid block (no attention cache to size
    the masks by)."""
    with pytest.raises(RuntimeError, match="must match"):
        logits(Zamba2ForCausalLM(small(num_key_value_heads=2)), ids())
    with pytest.raises((ValueError, StopIteration)):
        Zamba2ForCausalLM(small(layers_block_type=["mamba"] * 6)).generate(
            ids(1, 4), max_new_tokens=2, do_sample=False)


def test_width_methods_surgery_and_the_compiled_decoder_are_refused():
    check_width_and_compiled_refused(small(), "Mamba-2 mixers")


def test_the_start_refuses_the_compiled_backend(tmp_path):
    """Told at the start, where the model's config is known, naming its Mamba-2 mixers."""
    from prunebench.plan.checks import moe_problems

    small().save_pretrained(tmp_path / "zamba2")
    runs = {"models": {"zamba2": {"source": f"local:{tmp_path / 'zamba2'}",
                                  "variants": ["dense"]}},
            "benchmark": {"backends": ["hf", "compiled"]}}
    problem, = moe_problems(runs, tmp_path / "nowhere")
    assert "(Mamba-2)" in problem and "take 'compiled' out" in problem
