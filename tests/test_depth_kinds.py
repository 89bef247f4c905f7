"""Depth criteria on hybrid models choose among the removals that keep a block of each kind the
model needs (param_count.depth_needed_kinds): a one-shot criterion passes over its kind's last
block (methods.sizing.kind_keeping_choice), SLEB's rounds do not try it
(sizing.leaves_each_kind), depth_angular takes the best run that keeps one; so a plan
check_kinds_left lets through is pruned whatever the scores, where remove_blocks used to
refuse a criterion's unlucky choice after the scoring. Qwen3-Next (attention needed) and OLMo
Hybrid (attention and Gated DeltaNet needed) as the hybrids; RecurrentGemma (an attention block
needed, its kinds cycled by block_types) and LFM3 (an attention block, full or windowed) too.
Their blocks differ in size, so their plans say how many of each size go, each count keeping a
block of each kind (methods.sizing.depth_mix; tests/test_depth_mix.py): the targets below are
those of the blocks the criteria remove."""

from __future__ import annotations

import contextlib
import itertools
import random

import pytest
import torch

from prunebench import PrunebenchError
from prunebench.checkpoint.param_count import (block_param_count, count_params,
                                               depth_removed_params, griffin_kinds,
                                               layer_shapes)
from prunebench.methods import depth, depth_angular, shortgpt, sleb
from prunebench.methods.sizing import (check_kinds_left, kind_keeping_choice,
                                       leaves_each_kind)
from test_deepseek import ids, random_model
from test_lfm3 import KINDS as LFM3_KINDS, WINDOW, small as small_lfm3
from test_olmo_hybrid import small as small_olmo_hybrid
from test_qwen3_next import FULL, LINEAR, small
from test_recurrent_gemma import small as small_recurrent_gemma

pytestmark = pytest.mark.usefixtures("one_thread")

NO_PROTECTION = {"protect_first": 0, "protect_last": 0}


def target_removing(model, k: int) -> int:
    """A size whose depth plan removes k blocks: the model less its k largest blocks."""
    shapes = layer_shapes(model.config)
    sizes = sorted((block_param_count(model.config, s) for s in shapes), reverse=True)
    return count_params(model.config) - sum(sizes[:k])


def target_without(model, blocks: list[int]) -> int:
    """A size whose depth plan removes as many blocks of each size as `blocks` holds (its
    blocks differ in size: methods.sizing.depth_mix): the model less those blocks."""
    return count_params(model.config) - depth_removed_params(model.config, blocks)


@pytest.mark.parametrize("make", [
    small, small_olmo_hybrid, lambda: small(layer_types=[LINEAR, LINEAR, FULL, LINEAR, LINEAR]),
    small_recurrent_gemma, small_lfm3],  # (LFM3's skipped where transformers predates it)
    ids=["qwen3_next", "olmo_hybrid", "one_attention_block", "recurrent_gemma", "lfm3"])
def test_the_kind_keeping_choice_removes_the_least_score_any_kind_keeping_removal_can(make):
    """For every ranking of the blocks by scores and every k a plan allows: the choice leaves a
    block of each kind, removes k blocks, and its scores sum to the least of every removal of k
    blocks that leaves one of each kind (all of them tried)."""
    config = make()
    rng = random.Random(0)
    n = config.num_hidden_layers
    for _ in range(40):
        scores = [rng.random() for _ in range(n)]
        ranking = sorted(range(n), key=lambda b: scores[b])
        for k in range(1, n):
            try:
                check_kinds_left(config, list(range(n)), k)
            except PrunebenchError:
                continue
            removed, passed_over = kind_keeping_choice(config, ranking, k)
            assert len(set(removed)) == k and leaves_each_kind(config, removed)
            assert not set(removed) & set(passed_over)
            best = min(sum(scores[b] for b in drop)
                       for drop in itertools.combinations(range(n), k)
                       if leaves_each_kind(config, drop))
            assert sum(scores[b] for b in removed) == pytest.approx(best, rel=1e-12)


def test_a_family_of_one_kind_takes_the_first_k_of_the_ranking():
    """A model of one kind of block (every Qwen3-Next block full attention) passes over none."""
    config = small(layer_types=[FULL] * 5)
    assert kind_keeping_choice(config, [3, 1, 4, 0, 2], 4) == ([3, 1, 4, 0], [])
    assert leaves_each_kind(config, range(5))


def scoring_attention_lowest(model):
    """Scores making the full-attention blocks the least important of all."""
    kinds = model.config.layer_types
    return lambda: ([float(i) + (0.0 if kind == FULL else 10.0)
                     for i, kind in enumerate(kinds)], {})


def test_a_one_shot_criterion_keeps_the_last_attention_block_it_ranks_lowest():
    """Qwen3-Next's full-attention blocks 1 and 4 ranked least important, three blocks to go:
    block 1 goes, block 4 (its kind's last) is passed over for the next, block 0; the report
    says so, the cut is between the removed and the kept blocks that could go, and the pruned
    model runs a cached forward (transformers' needs an attention block)."""
    model = random_model(small())
    report = depth.prune_one_shot(model, target_without(model, [0, 1, 2]), dict(NO_PROTECTION),
                                  "test", scoring_attention_lowest(model))
    assert report["removed_blocks"] == [0, 1, 2] and report["kept_for_kind"] == [4]
    assert report["ranking"][:3] == [1, 4, 0]
    assert report["cut"]["last_removed"] == 2 and report["cut"]["first_kept"] == 3
    assert model.config.layer_types == [LINEAR, FULL]
    with torch.no_grad():
        model(input_ids=ids(), use_cache=True)


def test_a_one_shot_criterion_keeps_recurrent_gemmas_last_attention_block_and_its_kinds():
    """RecurrentGemma's attention blocks (2 and 5 of the cycled pattern) ranked least important,
    two blocks to go: block 2 goes, block 5 (its kind's last) is passed over for block 0; the
    kept blocks' kinds are written back as block_types (the published pattern cycled over four
    blocks would build an attention block at 2) and the pruned model runs a cached forward
    (RecurrentGemmaModel's masks need an attention block)."""
    model = random_model(small_recurrent_gemma())
    kinds = list(griffin_kinds(model.config))
    assert kinds.count("attention") == 2
    report = depth.prune_one_shot(
        model, target_without(model, [0, 2]), dict(NO_PROTECTION), "test",
        lambda: ([float(i) + (0.0 if kind == "attention" else 10.0)
                  for i, kind in enumerate(kinds)], {}))
    assert report["removed_blocks"] == [0, 2] and report["kept_for_kind"] == [5]
    assert griffin_kinds(model.config) == ["recurrent"] * 3 + ["attention"]
    with torch.no_grad():
        model(input_ids=ids(), use_cache=True)


def test_a_one_shot_criterion_removes_lfm3s_full_attention_where_a_windowed_block_stays():
    """LFM3's attention kind is either attention block (transformers reads the cache's length
    from a windowed one too): its attention blocks (full 1, windowed 3 and 4) ranked least
    important, three blocks to go: the only full-attention block goes and windowed block 3,
    block 4 (the kind's last) is passed over for block 0; the pruned model runs a cached
    forward on its windowed block alone."""
    model = random_model(small_lfm3())
    assert model.config.layer_types == LFM3_KINDS
    report = depth.prune_one_shot(
        model, target_without(model, [0, 1, 3]), dict(NO_PROTECTION), "test",
        lambda: ([float(i) + (10.0 if kind == "conv" else 0.0)
                  for i, kind in enumerate(LFM3_KINDS)], {}))
    assert report["removed_blocks"] == [0, 1, 3] and report["kept_for_kind"] == [4]
    assert model.config.layer_types == ["conv", WINDOW]
    with torch.no_grad():
        model(input_ids=ids(), use_cache=True)


def test_a_one_shot_criterion_on_a_model_of_one_kind_reports_no_block_kept_for_its_kind():
    model = random_model(small(layer_types=[FULL] * 5))
    report = depth.prune_one_shot(model, target_without(model, [1, 3]), dict(NO_PROTECTION),
                                  "test", lambda: ([5.0, 1.0, 4.0, 2.0, 3.0], {}))
    assert report["removed_blocks"] == [1, 3] and report["kept_for_kind"] == []


class AdditiveLosses:
    """A stand-in for SLEB's calibration losses: the loss without a set of blocks is the sum of
    their costs (the full-attention blocks the cheapest to remove)."""

    def __init__(self, costs):
        self.costs = costs
        self.asked: list[frozenset] = []

    def nll(self, removed):
        self.asked.append(frozenset(removed))
        return 1.0 + sum(self.costs[b] for b in removed)

    def counts(self):
        return {"computed": len(self.asked), "read": 0}


def test_sleb_never_tries_removing_the_last_block_of_a_kind(monkeypatch):
    """SLEB on Qwen3-Next, the attention blocks the cheapest to remove, a plan of one attention
    block and one of block 0's size: round 1 removes block 1, round 2 does not try block 4 (the
    last attention block; nor block 3, of another size than the plan's) and removes block 0;
    the pruned model keeps block 4 and runs a cached forward."""
    model = random_model(small())
    costs = [0.2, 0.0, 0.3, 0.4, 0.1]
    losses = AdditiveLosses(costs)
    monkeypatch.setattr(sleb, "scored_losses", lambda *a, **k: contextlib.nullcontext(losses))
    report = sleb.prune(model, ids(), target_without(model, [0, 1]), **NO_PROTECTION)
    assert report["removal_order"] == [1, 0]
    assert report["rounds"][1]["candidate_nll"].keys() == {"0", "2"}
    assert frozenset({1, 4}) not in losses.asked
    assert model.config.layer_types == [LINEAR, LINEAR, FULL]
    with torch.no_grad():
        model(input_ids=ids(), use_cache=True)


def test_sleb_eliminate_tries_every_candidate_when_nothing_forbids():
    losses = AdditiveLosses([0.3, 0.1, 0.2])
    rounds = sleb.eliminate(losses, 2, [0, 1, 2])
    assert [r["removed"] for r in rounds] == [1, 2]
    assert rounds[0]["candidate_nll"].keys() == {"0", "1", "2"}


def test_depth_angular_takes_the_best_run_that_keeps_an_attention_block(monkeypatch):
    """OLMo Hybrid with attention in blocks 1 and 2 alone, three consecutive blocks to go: the
    runs from blocks 0 and 1 remove both attention blocks, so the run from block 2 is taken
    though theirs score lower (the ranking holds the runs that keep each kind)."""
    model = random_model(small_olmo_hybrid(
        layer_types=[LINEAR, FULL, FULL, LINEAR, LINEAR]))
    monkeypatch.setattr(depth_angular, "last_token_states",
                        lambda *a, **k: torch.zeros(6, 1, 4, dtype=torch.float64))
    monkeypatch.setattr(depth_angular, "angular_distances",
                        lambda states, k: [0.1, 0.2, 0.3][:len(states) - k])
    report = depth_angular.prune(model, ids(), target_removing(model, 3), **NO_PROTECTION)
    assert report["removed_blocks"] == [2, 3, 4] and report["ranking"] == [2]
    assert model.config.layer_types == [LINEAR, FULL]


def test_depth_angular_refuses_before_scoring_when_no_run_keeps_each_kind(monkeypatch):
    """One attention block, in the middle (block 2) of five: every run of three covers it, while
    a choice of three apart would keep it (the other criteria's plans stand): depth_angular's
    plan refuses its size, below the smallest a run that keeps it reaches (sizing.depth_mix),
    and its prune before any scoring, naming the runs and the other criteria."""
    model = random_model(small(layer_types=[LINEAR, LINEAR, FULL, LINEAR, LINEAR]))
    check_kinds_left(model.config, list(range(5)), 3)  # (a choice apart keeps block 2)
    target = target_removing(model, 3)
    assert shortgpt.plan(model.config, target, **NO_PROTECTION)["blocks_removed"] == 3
    refusal = (r"the smallest size a depth prune by depth_angular of this 'qwen3_next' model "
               r"\(Qwen3NextForCausalLM\) reaches \(it removes one run of consecutive "
               r"removable blocks.*depth_ppl, sleb")
    with pytest.raises(PrunebenchError, match=refusal):
        depth_angular.plan(model.config, target, **NO_PROTECTION)

    def never(*args, **kwargs):
        raise AssertionError("scored")
    monkeypatch.setattr(depth_angular, "last_token_states", never)
    with pytest.raises(PrunebenchError, match=refusal):
        depth_angular.prune(model, ids(), target, **NO_PROTECTION)
    assert model.config.num_hidden_layers == 5


def test_a_one_shot_prune_refuses_a_plan_no_choice_keeps_before_scoring():
    """Protecting block 0 (Gated DeltaNet) and removing the four others leaves no attention
    block whatever the scores: refused before the scoring runs, below the smallest size a
    removal that keeps one reaches (sizing.depth_mix)."""
    model = random_model(small())

    def never():
        raise AssertionError("scored")
    with pytest.raises(PrunebenchError, match=r"the smallest size a depth prune of this "
                                              r"'qwen3_next' model \(Qwen3NextForCausalLM\) "
                                              r"reaches \(its removable blocks \[1, 2, 3, 4\] "
                                              r"gone but one of its full-attention blocks"):
        depth.prune_one_shot(model, target_removing(model, 4),
                             {"protect_first": 1, "protect_last": 0}, "test", never)
    assert model.config.num_hidden_layers == 5
