"""Depth plans by mix for every model whose removable blocks differ in size
(methods.sizing.size_mixes): a DeepSeek-V3 model's dense block before its sparse ones, a
Llama 4 model's dense and sparse blocks in turn, Bamba's attention blocks beside its Mamba-2
ones, RecurrentGemma's attention beside its recurrent ones, Nemotron-H's Mamba-2, attention and
MLP blocks. The plan says how many blocks of each size go (`blocks_removed_by_size`) and every
depth criterion removes that many of each, its scores choosing which, so the pruned model has
the plan's size; before, the plan sized the largest blocks first and a criterion removing
smaller blocks pruned to a larger size (Bamba's tiny model 17.7% of its size off its plan). A
model whose removable blocks are of one size (LLaMA's, the paper's models) plans and prunes as
before. Zamba2's and Kolibri-1.1's mixes: tests/test_zamba2.py, tests/test_kolibri1_1.py."""

from __future__ import annotations

import copy
import itertools
import math

import pytest

from prunebench.checkpoint.param_count import (block_count, block_param_count, count_params,
                                               depth_removed_params, layer_shapes)
from prunebench.methods import registry, sizing
from prunebench.methods.depth_mag import magnitude_scores
from prunebench.methods.sizing import (depth_mix, depth_removable, may_remove, plan_blocks,
                                       removal_mixes, run_starts, size_choice, sized_by_mix)
from block_helpers import allowed_sizes, greedy_rounds, nearest_plan, round_sizes, run_sizes
from test_families import FAMILIES, family_model, ids, numel

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is fastest

CRITERIA = ["depth_ppl", "depth_taylor", "depth_mag", "shortgpt", "sleb", "depth_angular"]
OFF = {"protect_first": 0, "protect_last": 0}


@pytest.mark.parametrize("name", ["deepseek_v3", "llama4_text", "bamba", "recurrent_gemma",
                                  "nemotron_h"])
def test_every_reachable_size_is_the_plans_and_every_criterions(name):
    """From the config alone, for every size a depth prune reaches (each allowed removal's,
    every subset tried, all among sizing.removal_mixes'), the plan of that target says that
    size, and the blocks of it the one-shot criteria choose (size_choice of the plan's mix:
    the least sum of scores of every removal of that size, each subset tried) and SLEB's
    rounds have it, whatever the scores; SLEB's plan the same (its rounds reach every size,
    every order searched); depth_angular's plan says a size nearest the target of those its
    runs reach (every run tried), each run it may take of that size, or refuses naming the
    runs. Before, the plan sized the largest blocks first (some of these sizes planned as
    another) and the criteria chose any blocks of that number."""
    config = FAMILIES[name]()
    total, removable = count_params(config), depth_removable(config, 0, 0)
    allowed = allowed_sizes(config, removable)
    mixes = removal_mixes(config, removable)
    assert sized_by_mix(config, removable)
    assert {total - depth_removed_params(config, b) for b in mixes.values()} == allowed
    assert round_sizes(config, removable) == allowed
    runs = run_sizes(config, removable)
    n = block_count(config)
    orders = [[float(s) for s in scores]  # (four orders of the scores)
              for scores in list(itertools.permutations(range(n)))[::math.factorial(n) // 4]]
    sizes = sorted({block_param_count(config, s) for s in layer_shapes(config)}, reverse=True)
    differs = 0
    for size in sorted(allowed - {total}):
        plan = plan_blocks(config, size, 0, 0)
        mix = depth_mix(config, size, removable)
        assert plan["params_after"] == size and plan["blocks_removed"] == sum(mix)
        assert plan["blocks_removed_by_size"] == [list(pair) for pair in zip(sizes, mix)]
        differs += total - sum(sorted((block_param_count(config, s) for s in layer_shapes(
            config)), reverse=True)[:sum(mix)]) != size
        assert nearest_plan(config, "sleb", size, (0, 0), allowed, allowed)[
            "params_after"] == size
        of_size = [drop for drop in itertools.combinations(removable, sum(mix))
                   if may_remove(config, drop)
                   and total - depth_removed_params(config, drop) == size]
        for scores in orders:
            chosen = size_choice(config, removable, scores, mix)
            least = min(of_size, key=lambda drop: (sum(scores[b] for b in drop), drop))
            assert tuple(chosen) == least
            taken = greedy_rounds(config, removable, scores, mix)
            assert may_remove(config, taken)
            assert total - depth_removed_params(config, taken) == size
        if angular := nearest_plan(config, "depth_angular", size, (0, 0), runs, allowed):
            k = angular["blocks_removed"]
            assert {total - depth_removed_params(config, range(s, s + k))
                    for s in run_starts(config, removable, k, size)} == {angular["params_after"]}
    assert differs  # (the largest first would have planned another size)


@pytest.fixture(scope="module")
def models():
    """The tiny models, each built once (a test prunes a copy)."""
    return {name: family_model(name) for name in ("deepseek_v3", "bamba", "recurrent_gemma")}


@pytest.mark.parametrize("criterion", CRITERIA)
@pytest.mark.parametrize("name", ["deepseek_v3", "bamba", "recurrent_gemma"])
def test_every_criterion_prunes_to_the_plans_size(models, name, criterion):
    """The size of the model less one of its smallest removable blocks (DeepSeek-V3's dense
    block 0, Bamba's and RecurrentGemma's recurrent blocks): the plan says one block of that
    size and that size, and each criterion's pruned model has it, the block its scores chose;
    before, the plan said the largest block's size, and a criterion removing a smaller block
    pruned to another."""
    model = copy.deepcopy(models[name])
    config = copy.deepcopy(model.config)
    smallest = min(block_param_count(config, shape) for shape in layer_shapes(config))
    target = count_params(config) - smallest
    plan = registry.method_plan(criterion)(config, target, **OFF)
    assert plan["blocks_removed_by_size"][-1] == [smallest, 1] == [smallest,
                                                                    plan["blocks_removed"]]
    report = registry.method_function(criterion)(model, ids(2, 16), target, **OFF)
    assert len(report["removed_blocks"]) == 1
    assert numel(model) == count_params(model.config) == plan["params_after"] == target


def test_a_one_shot_criterion_keeps_to_the_plans_mix_against_its_ranking(models):
    """Mag+'s scores on the tiny DeepSeek-V3 model rank its dense block 0 least important (it
    holds no experts), and a plan of a sparse block's size makes it remove its least-scored
    sparse block all the same (sizing.size_choice), block 0 kept (`kept_for_kind`), the cut
    between the block removed and the next ranked. Before, it removed block 0, pruning to a
    larger size than its plan's."""
    model = copy.deepcopy(models["deepseek_v3"])
    config = copy.deepcopy(model.config)
    scores = magnitude_scores(model)
    assert scores[0] < min(scores[1:])
    target = count_params(config) - block_param_count(config, layer_shapes(config)[1])
    report = registry.method_function("depth_mag")(model, None, target, **OFF)
    sparse = sorted(range(1, 4), key=lambda b: scores[b])
    assert report["removed_blocks"] == sparse[:1] and report["kept_for_kind"] == [0]
    assert (report["cut"]["last_removed"], report["cut"]["first_kept"]) == tuple(sparse[:2])
    assert numel(model) == target


def test_a_model_of_blocks_of_one_size_plans_and_prunes_as_before(small_random_model):
    """A LLaMA model (and a DeepSeek-V3 model whose protected dense block leaves sparse blocks
    alone) is not sized by mix: its plan is the largest blocks first, of the fields it always
    had, and Mag+ removes its k least-scored blocks, reporting the cut."""
    model = small_random_model()
    config = copy.deepcopy(model.config)
    size = block_param_count(config, layer_shapes(config)[0])
    assert not sized_by_mix(config, depth_removable(config, 0, 0))
    for k in (1, 2):
        target = count_params(config) - k * size
        assert registry.method_plan("depth_ppl")(config, target, **OFF) == {
            "blocks_removed": k, "blocks_after": 4 - k, "params_after": target,
            "kv_heads_kept": config.num_key_value_heads * (4 - k),
            "note": "which blocks go is decided by the criterion", "calibration_passes": 5}
    deepseek = FAMILIES["deepseek_v3"]()
    sparse = block_param_count(deepseek, layer_shapes(deepseek)[1])
    plan = plan_blocks(deepseek, count_params(deepseek) - sparse, 1, 0)
    assert "blocks_removed_by_size" not in plan and plan["blocks_removed"] == 1
    scores = magnitude_scores(model)
    report = registry.method_function("depth_mag")(model, None, count_params(config) - 2 * size,
                                                   **OFF)
    assert report["removed_blocks"] == sorted(sorted(range(4), key=lambda b: scores[b])[:2])
    assert report["cut"] is not None


def test_a_plan_past_the_most_mixes_sizes_the_largest_blocks_first_and_says_so(monkeypatch,
                                                                             caplog):
    """Where the counts of blocks of each size to try pass sizing.MIXES_MOST (lowered here to
    the tiny Bamba model's 8: a hand-written layout of many sizes and blocks), the plan sizes
    the largest blocks first, as before, with a warning, and reports no mix: a target of one
    of its smaller attention blocks planned as one Mamba-2 block."""
    config = FAMILIES["bamba"]()
    removable = depth_removable(config, 0, 0)
    sizes = [block_param_count(config, shape) for shape in layer_shapes(config)]
    assert sized_by_mix(config, removable)
    monkeypatch.setattr(sizing, "MIXES_MOST", 7)
    assert not sized_by_mix(config, removable)
    plan = plan_blocks(config, count_params(config) - min(sizes), 0, 0)
    assert "blocks_removed_by_size" not in plan and plan["blocks_removed"] == 1
    assert plan["params_after"] == count_params(config) - max(sizes)
    assert "make more than 7 mixes to try (sizing.MIXES_MOST)" in caplog.text
