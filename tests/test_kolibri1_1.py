"""Kolibri-1.1 (kolibri1_1: Kolibri1_1ForCausalLM), a mixture of experts whose config class
came with transformers 5.25 (Family.min_transformers): depth pruning and the hf / hf_static
backends, as every mixture of experts.

Kolibri-1's block, its global blocks "indexed_attention" (a weightless indexer choosing the
keys each query attends to, NVFP4-rounded keys and values), blocks 0 and 1 a dense MLP of
mlp_only_intermediate_size, and blocks named by absolute index: the indexers (index_layers;
every other indexed block rescores the candidate pool of the closest indexer before it) and
each block's keys' source (kv_source_layers; a block reading another's has no k/v
projections). A depth prune removes a block another reads only with all its readers
(param_count.broken_reads: every criterion chooses so, remove_blocks and the plan refuse
otherwise), and writes both lists renumbered.

On a transformers older than 5.25 (make test-floor's 5.17; on 5.25 the release is faked):
the config.json is read, counted and planned without a transformers class, its layout
derived as Kolibri1_1Config derives it, and everything that builds the model is refused
naming the release to install. Where the class exists (skipped below with the refusal's
words): counts against transformers' meta models (the published shape too) and by hand;
depth pruning equal to transformers' model of the kept blocks with the lists renumbered (a
source gone with its readers too), the old numbers refused by transformers and the
attention's own source index needed; every depth criterion's choice keeping each kept
reader's source; a
depth-pruned save reloaded and decoded by hf / hf_static as transformers' generate; the
indexer's choice shown to matter; the width methods' refusals. tests/test_families.py runs
the shared per-family tests on it."""

from __future__ import annotations

import contextlib
import copy
import itertools
import math

import pytest
import torch
import transformers

from prunebench import PrunebenchError
from prunebench.checkpoint.param_count import (block_param_count, broken_reads,
                                               config_from_dict, count_params,
                                               depth_kept_blocks, depth_removed_params,
                                               kolibri1_1_sources,
                                               layer_shapes,
                                               transformers_release_problem)
from prunebench.methods import (depth, depth_angular, depth_mag, depth_taylor, registry,
                                shortgpt, sizing, sleb)
from prunebench.methods.sizing import (depth_mix, depth_removable, kind_keeping_choice,
                                       may_remove, plan_blocks, readers_choice, removal_mixes,
                                       run_starts, with_readers)
from prunebench.modeling import remove_blocks
from test_afmoe_laguna_mellum import check_published_import
from test_exaone_internlm3 import check_refused_below_its_release
from test_families import FAMILIES, family_config, family_model, ids, logits
from test_families import tokenizer  # noqa: F401 - a fixture
from test_flint_kolibri1_minicpm5_moe import PUBLISHED_NAMES as KOLIBRI1_NAMES
from test_glm4_moe import check_refused_as_a_mixture_of_experts
from block_helpers import (allowed_sizes, greedy_rounds, kept_blocks_state, nearest_plan,
                           round_sizes, run_sizes)
from test_families import numel
from test_helium_vaultgemma_granitemoeshared import SHAPE, check_counts, check_depth_pruning, theirs
from test_moe import per_expert_state
from test_qwen3_next import check_a_depth_pruned_reload_decodes_as_transformers

SL, IX = "sliding_attention", "indexed_attention"
# Three blocks: 0 sliding, 1 an indexer with its own keys, 2 rescoring 1's pool with 1's keys.
SHARING = dict(head_dim=16, index_num_heads=1, layer_types=[SL, IX, IX], index_layers=[1],
               kv_source_layers=[0, 1, 1], moe_intermediate_size=24,
               shared_expert_intermediate_size=40, mlp_only_intermediate_size=56,
               num_experts=4, num_experts_per_tok=2, sliding_window=6)


def needs() -> None:
    """Skip where this transformers predates the family (the refusal's words as the reason)."""
    if problem := transformers_release_problem("kolibri1_1"):
        pytest.skip(problem)


def tiny_json(**changes) -> dict:
    """A tiny config.json (SHAPE's, no intermediate_size), read without a transformers class."""
    shape = {k: v for k, v in SHAPE.items() if k != "intermediate_size"}
    return {**shape, "model_type": "kolibri1_1", **SHARING, **changes}


# ------------------------------------------------------------------ the release it needs

def test_an_older_transformers_is_refused_before_the_model_loads_naming_the_upgrade(
        tmp_path, monkeypatch):
    check_refused_below_its_release("kolibri1_1", "5.25.0", tiny_json(), tmp_path, monkeypatch)


def test_the_first_release_is_the_one_whose_classes_the_installed_transformers_has():
    from prunebench.checkpoint.param_count import FAMILIES as REGISTRY

    has = all(hasattr(transformers, name) for name in ("Kolibri1_1Config",
                                                       "Kolibri1_1ForCausalLM"))
    assert has == (transformers_release_problem("kolibri1_1") is None)
    assert REGISTRY["kolibri1_1"].min_transformers == "5.25.0"


# ------------------------------------------------------- config.json read without a class

# Twenty blocks, no lists: every fifth indexed (4, 9, 14, 19), the 1st, 3rd and 4th indexers,
# the 2nd and 3rd reading the 1st's keys, the 4th its own; blocks 0 and 1 dense.
DERIVED = {"layer_types": [IX if (b + 1) % 5 == 0 else SL for b in range(20)],
           "index_layers": [4, 14, 19], "mlp_only_layers": [0, 1],
           "kv_source_layers": [4 if b in (9, 14) else b for b in range(20)]}


def test_the_layout_is_read_from_config_json_as_the_class_derives_it():
    """Without a class (any release): the indexed blocks, indexers, keys' sources and dense
    blocks Kolibri1_1Config derives where config.json lists none, and so what goes with a
    source (the 1st indexed: block 9 reads its keys and pool, 14 its keys); the class's own where
    installed. More than ten indexed blocks without kv_source_layers refused, as the class
    refuses them."""
    raw = tiny_json(num_hidden_layers=20, layer_types=None, index_layers=None,
                    kv_source_layers=None)
    config = config_from_dict(raw)
    assert {key: getattr(config, key) for key in DERIVED} == DERIVED
    assert depth_kept_blocks(config) == [] and with_readers(config, 4) == {4, 9, 14}
    assert with_readers(config, 14) == {14} and with_readers(config, 9) == {9}
    with pytest.raises(PrunebenchError, match="11 indexed-attention blocks and no "
                                              "kv_source_layers.*Give kv_source_layers"):
        config_from_dict({**raw, "num_hidden_layers": 55})
    if transformers_release_problem("kolibri1_1") is None:
        theirs = transformers.Kolibri1_1Config(**{k: v for k, v in raw.items()
                                                  if k != "model_type"})
        assert {key: getattr(theirs, key) for key in DERIVED} == DERIVED


@pytest.mark.parametrize("values", [
    SHARING,
    {**SHARING, "tie_word_embeddings": True, "mlp_only_layers": [2],
     "kv_source_layers": [0, 1, 2]}])
def test_counts_equal_transformers_parameters(values):
    needs()
    check_counts("kolibri1_1", {"intermediate_size": None, **values})


def test_the_published_shape_counts_what_transformers_builds():
    """Kolibri1_1Config's defaults (Kolibri-1.1's shape: 50 blocks, 384 experts, 6 of the 10
    indexed blocks reading another's keys), from an empty config.json and on the meta
    device; its blocks 4, 19 and 29 removable with their readers (9, 14 and 49 read block
    4's keys, 9 its pool; 24 rescores 19's pool; 34 to 49 29's, 34 to 44 read its keys)."""
    needs()
    with torch.device("meta"):
        model = transformers.Kolibri1_1ForCausalLM(transformers.Kolibri1_1Config())
    published = config_from_dict({"model_type": "kolibri1_1"})
    assert count_params(published) == sum(p.numel() for p in model.parameters())
    assert depth_removable(published, 0, 0) == list(range(50))
    assert [sorted(with_readers(published, b)) for b in (4, 19, 29)] == [
        [4, 9, 14, 49], [19, 24], [29, 34, 39, 44, 49]]


def test_the_blocks_counted_by_hand():
    """From config.json alone (hidden 48, 6 query and 2 KV heads of 16, 4 experts of 24):
    blocks 0 and 1 dense (MLP of 56), block 2 sparse with a shared expert of 40; block 2
    reads block 1's keys and values, so holds no k_proj, v_proj or k_norm; four norms each."""
    config = config_from_dict(tiny_json(mlp_only_layers=[0, 1]))
    d, q, kv, hd = 48, 6 * 16, 2 * 16, 16
    own = 2 * d * q + 2 * d * kv + 2 * hd
    dense, experts = 3 * d * 56, 4 * d + 4 * 3 * d * 24 + 3 * d * 40
    blocks = [own + dense, own + dense, own - 2 * d * kv - hd + experts]
    assert [block_param_count(config, s) - 4 * d for s in layer_shapes(config)] == blocks
    assert count_params(config) == 2 * 97 * d + d + sum(blocks) + 3 * 4 * d


# --------------------------------------------------------------------------- depth pruning

# tests/test_families.py's tiny model: blocks 0 and 2 sliding, 1 an indexer, 3 rescoring
# its pool with its keys and values (kv_source_layers [0, 1, 2, 1]), block 0 dense.
@pytest.mark.parametrize("drop, kept", [
    ([0], dict(layer_types=[IX, SL, IX], index_layers=[0], kv_source_layers=[0, 1, 0],
               mlp_only_layers=[])),
    ([2, 3], dict(layer_types=[SL, IX], index_layers=[1], kv_source_layers=[0, 1],
                  mlp_only_layers=[0])),
    ([0, 2], dict(layer_types=[IX, IX], index_layers=[0], kv_source_layers=[0, 0],
                  mlp_only_layers=[]))])
def test_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(drop, kept):
    """The kept blocks' indexers, keys' sources and dense blocks by their new numbers: the
    pruned config says them so and computes as transformers' model of those values."""
    needs()
    model = family_model("kolibri1_1")
    remove_blocks(model, drop)
    assert {key: getattr(model.config, key) for key in kept} == kept
    check_depth_pruning("kolibri1_1", drop, **kept)


def test_the_renumbering_matters():
    """With blocks 0 and 2 gone, the kept blocks 1 and 3 under their old numbers (index_layers
    [1], block 3 reading block 1) are no model transformers builds; and the kept attention
    reads its source's keys under the source's new number: under the old one the forward
    finds none."""
    needs()
    config = FAMILIES["kolibri1_1"]().to_dict()
    with pytest.raises(Exception, match="first indexed-attention layer must be an indexer"):
        transformers.Kolibri1_1Config.from_dict({**config, "num_hidden_layers": 2,
                                                 "layer_types": [IX, IX], "index_layers": [1],
                                                 "kv_source_layers": [0, 1]})
    model = family_model("kolibri1_1")
    remove_blocks(model, [0, 2])
    reader = model.model.layers[1].self_attn
    assert reader.kv_source_layer == 0
    logits(model, ids(2, 12))
    reader.kv_source_layer = 1
    with pytest.raises(KeyError):
        logits(model, ids(2, 12))


# Four indexed blocks, two sources: the indexers 0 and 2, block 1 reading 0's keys and pool,
# block 3 0's keys and 2's pool. Block 0 goes only with 1 and 3, block 2 only with 3.
TWO_SOURCES = dict(layer_types=[IX] * 4, index_layers=[0, 2], kv_source_layers=[0, 0, 2, 0])


@pytest.mark.parametrize("drop, kept", [
    ([2, 3], dict(layer_types=[IX, IX], index_layers=[0], kv_source_layers=[0, 0],
                  mlp_only_layers=[0])),
    ([0, 1, 3], dict(layer_types=[IX], index_layers=[0], kv_source_layers=[0],
                     mlp_only_layers=[]))])
def test_a_source_removed_with_all_its_readers_computes_as_transformers_model(drop, kept):
    """A source removed with every block that reads it (block 2 with 3, block 0 with 1 and 3):
    the kept lists renumbered (the kept indexer first) compute as transformers' model of
    those values; the rule that kept every source could remove neither."""
    needs()
    dense = family_model("kolibri1_1", **TWO_SOURCES)
    model = copy.deepcopy(dense)
    remove_blocks(model, drop)
    assert {key: getattr(model.config, key) for key in kept} == kept
    keep = [b for b in range(4) if b not in drop]
    values = {**dense.config.to_dict(), "num_hidden_layers": len(keep), **kept}
    reference = theirs("kolibri1_1", values, kept_blocks_state(dense, keep))
    x = ids(2, 24)
    torch.testing.assert_close(logits(model, x), logits(reference, x), rtol=0, atol=1e-6)
    assert numel(model) == count_params(model.config) == numel(reference)


def test_a_source_a_kept_block_reads_is_refused_and_kept_from_the_plan():
    """remove_blocks refuses a source whose reader stays, naming the reads, before anything
    changes; a protected reader keeps its sources out of the removable blocks, and a size
    needing them is refused when planned, naming them; unprotected, every block may go and
    three blocks' removal (two before: only the readers) is planned."""
    needs()
    model = family_model("kolibri1_1", **TWO_SOURCES)
    config = model.config
    with pytest.raises(PrunebenchError, match=r"would remove block\(s\) \[2\] of this "
                                              r"Kolibri-1.1 model and keep blocks that read "
                                              r"them \(3 reads 2's candidate pool\).*"
                                              r"here also \[3\]"):
        remove_blocks(model, [2])
    with pytest.raises(PrunebenchError, match=r"\(1 reads 0's keys and values; 1 reads 0's "
                                              r"candidate pool\)"):
        remove_blocks(model, [0, 2, 3])
    assert len(model.model.layers) == 4  # (refused before anything changed)
    assert broken_reads(config, [0, 1, 3]) == broken_reads(config, [1, 2, 3]) == []
    assert depth_removable(config, 0, 0) == [0, 1, 2, 3]
    assert depth_removable(config, 0, 1) == [1]  # (block 3 reads 0 and 2)
    shapes = layer_shapes(config)
    sizes = sorted((block_param_count(config, s) for s in shapes), reverse=True)
    assert plan_blocks(config, count_params(config) - sum(sizes[:3]), 0, 0)["blocks_after"] == 1
    with pytest.raises(PrunebenchError, match=r"blocks \[0, 2\] stay while blocks kept read "
                                              r"them"):
        plan_blocks(config, count_params(config) - sum(sizes[:2]), 0, 1)
    # (block 3 reading 1's keys and 2's pool: protect_first and protect_last leave none)
    with pytest.raises(PrunebenchError, match=r"the blocks \[1, 2\] they leave removable are "
                                              r"read by blocks they protect"):
        depth_removable(family_config("kolibri1_1", **{
            **TWO_SOURCES, "index_layers": [0, 1, 2], "kv_source_layers": [0, 1, 2, 1]}), 1, 1)


class AdditiveLosses:
    """Losses as SLEB reads them: 1 plus each removed block's cost; asked only for removals
    that may go (no model runs without a read block alone)."""

    def __init__(self, config, costs):
        self.config, self.costs = config, costs

    def nll(self, removed):
        assert may_remove(self.config, removed)
        return 1.0 + sum(self.costs[b] for b in removed)

    def counts(self):
        return {"computed": 0, "read": 0}


@pytest.mark.parametrize("criterion", ["depth_ppl", "shortgpt", "depth_mag", "depth_taylor",
                                       "sleb", "depth_angular"])
def test_every_depth_criterion_removes_a_source_only_with_its_readers(criterion, monkeypatch):
    """Three blocks to go (a size the rule that kept every source refused): each criterion
    scores and prunes the model, the sources ranked least important where the criterion's
    scores are forced so, and leaves no kept reader without its source (remove_blocks would
    refuse it); depth_ppl scores a source as the model without it and its readers."""
    needs()
    model = family_model("kolibri1_1", **TWO_SOURCES)
    config = copy.deepcopy(model.config)
    shapes = layer_shapes(model.config)
    target = count_params(model.config) - sum(sorted(
        (block_param_count(model.config, s) for s in shapes), reverse=True)[:3])
    off = {"protect_first": 0, "protect_last": 0}
    if criterion == "sleb":  # (block 2 the cheapest to remove, 0 next: neither may go first)
        monkeypatch.setattr(sleb, "scored_losses", lambda *a, **k: contextlib.nullcontext(
            AdditiveLosses(config, [0.1, 0.3, 0.0, 0.4])))
        report = sleb.prune(model, ids(2, 16), target, **off)
        assert report["removal_order"] == [1, 3, 2]
        assert report["rounds"][0]["candidate_nll"].keys() == {"1", "3"}
    elif criterion == "depth_angular":
        report = depth_angular.prune(model, ids(2, 16), target, **off)
        assert report["ranking"] == [1]  # (blocks 0..2 would leave 3 reading 0 and 2)
    elif criterion == "depth_ppl":
        asked = []
        nll = depth.LossMemo.nll
        monkeypatch.setattr(depth.LossMemo, "nll", lambda self, blocks: (
            asked.append(frozenset(blocks)), nll(self, blocks))[1])
        report = depth.prune_ppl(model, ids(2, 16), target, batch_size=2, **off)
        assert set(asked) == {frozenset(), frozenset({0, 1, 3}), frozenset({1}),
                              frozenset({2, 3}), frozenset({3})}
    else:
        module = {"shortgpt": shortgpt, "depth_mag": depth_mag, "depth_taylor": depth_taylor}
        report = module[criterion].prune(model, ids(2, 16), target, **off)
    assert len(report["removed_blocks"]) == 3 and may_remove(config, report["removed_blocks"])
    assert model.config.num_hidden_layers == 1
    logits(model, ids(2, 12))


def test_a_one_shot_prune_removes_the_least_sum_a_source_with_its_readers():
    """prune_one_shot with the sources scored least important, two blocks to go: source 2
    with its one reader 3 (scores 1 + 4) goes rather than the readers 1 and 3 (3 + 4) that the
    greedy choice by ranking took (kind_keeping_choice: a source only once its readers have
    gone); source 0 (with 1 and 3: three blocks) and the plain readers ranked before 3 are
    reported kept, and no cut is reported (not the two least-scored blocks)."""
    needs()
    model = family_model("kolibri1_1", **TWO_SOURCES)
    shapes = layer_shapes(model.config)
    target = count_params(model.config) - sum(sorted(
        (block_param_count(model.config, s) for s in shapes), reverse=True)[:2])
    report = depth.prune_one_shot(model, target, {"protect_first": 0, "protect_last": 0},
                                  "test", lambda: ([0.0, 3.0, 1.0, 4.0], {}))
    assert report["removed_blocks"] == [2, 3] and report["kept_for_kind"] == [0, 1]
    assert report["cut"] is None and model.config.index_layers == [0]


# Six indexed blocks, three sources, one reading another: indexer 0 (its keys read by 1, 2
# and 5, its pool by 1), indexer 2 (its pool read by 3, 4, 5) and block 3 (its keys read by
# 4). Block 0 goes only with every block, 2 with 3, 4 and 5, 3 with 4.
CHAINED = dict(num_hidden_layers=6, layer_types=[IX] * 6, index_layers=[0, 2],
               kv_source_layers=[0, 0, 0, 3, 3, 0])


@pytest.mark.parametrize("layout", [TWO_SOURCES, CHAINED])
def test_the_one_shot_choice_is_the_least_sum_of_scores_that_may_go(layout):
    """Without a class (any release): for every order of distinct scores and every k, the
    choice (sizing.readers_choice) is the removal of k blocks of least total score among all
    those that keep every kept reader's sources (every subset tried; ties: the lower block
    numbers), and where the greedy choice by ranking keeps a cheaper source it removes less
    (each layout has such orders: the test would fail with the greedy rule)."""
    config = config_from_dict(tiny_json(**{"num_hidden_layers": 4, **layout}))
    n = config.num_hidden_layers
    assert kolibri1_1_sources(config) and depth_removable(config, 0, 0) == list(range(n))
    worse = 0
    for scores in itertools.permutations(range(n)):
        ranking = sorted(range(n), key=lambda b: scores[b])
        for k in range(1, n + 1):
            best = min((sum(scores[b] for b in removed), list(removed))
                       for removed in itertools.combinations(range(n), k)
                       if may_remove(config, removed))
            assert readers_choice(config, range(n), [float(s) for s in scores], k) == best[1]
            greedy, _ = kind_keeping_choice(config, ranking, k)
            worse += sum(scores[b] for b in greedy) > best[0]
    assert worse
    for scores in itertools.product(range(2), repeat=n):  # (ties: the lower block numbers)
        for k in range(1, n + 1):
            best = min((sum(scores[b] for b in removed), list(removed))
                       for removed in itertools.combinations(range(n), k)
                       if may_remove(config, removed))
            assert readers_choice(config, range(n), [float(s) for s in scores], k) == best[1]


# Forty-eight indexed blocks, a hand-written layout: each even block an indexer whose keys and
# pool the odd block after it reads, 24 sources apart, which make up to 2**24 sets of sources.
MANY_SOURCES = dict(num_hidden_layers=48, layer_types=[IX] * 48,
                    index_layers=list(range(0, 48, 2)),
                    kv_source_layers=[b - b % 2 for b in range(48)])


def test_the_exact_choice_gives_way_where_the_sets_of_sources_would_blow_up():
    """Without a class: over 24 sources apart the exact choice of 24 blocks would try millions
    of sets of sources (minutes, gigabytes): readers_choice gives None once it would try more
    than READERS_CHOICE_MOST, at once; 2 blocks (25 sets) it still chooses exactly, as every
    subset's least sum says (ties: the lower block numbers)."""
    config = config_from_dict(tiny_json(**MANY_SOURCES))
    n = config.num_hidden_layers
    scores = [float((7 * b) % 5) for b in range(n)]
    assert readers_choice(config, range(n), scores, 24) is None
    best = min((sum(scores[b] for b in removed), list(removed))
               for removed in itertools.combinations(range(n), 2)
               if may_remove(config, removed))
    assert readers_choice(config, range(n), scores, 2) == best[1] == [5, 15]


def test_a_one_shot_prune_past_the_limit_chooses_by_ranking_and_says_so(monkeypatch, caplog):
    """prune_one_shot where the exact choice gives way (READERS_CHOICE_MOST lowered to 1 here):
    the greedy choice by ranking (readers 1 and 3, each source once its readers have gone), a
    warning naming why."""
    needs()
    model = family_model("kolibri1_1", **TWO_SOURCES)
    shapes = layer_shapes(model.config)
    target = count_params(model.config) - sum(sorted(
        (block_param_count(model.config, s) for s in shapes), reverse=True)[:2])
    monkeypatch.setattr(sizing, "READERS_CHOICE_MOST", 1)
    with caplog.at_level("WARNING"):
        report = depth.prune_one_shot(model, target, {"protect_first": 0, "protect_last": 0},
                                      "test", lambda: ([0.0, 3.0, 1.0, 4.0], {}))
    assert report["removed_blocks"] == [1, 3] and report["kept_for_kind"] == [0, 2]
    assert "more than 1 sets of sources" in caplog.text


def test_a_plan_past_the_limit_sizes_the_largest_blocks_first_at_once(caplog):
    """Without a class: the 24 sources apart would make millions of sets of sources for the
    plan's mixes too (sizing.readers_mixes): its plan gives way at once to the largest blocks
    first (no blocks_removed_by_size), with a warning, its size as many of the largest; the
    published layout's and the tiny model's plans stay sized by mix."""
    config = config_from_dict(tiny_json(**MANY_SOURCES))
    removable = depth_removable(config, 0, 0)
    assert not sizing.sized_by_mix(config, removable)
    sizes = sorted((block_param_count(config, s) for s in layer_shapes(config)), reverse=True)
    target = count_params(config) - sum(sizes[:24])
    with caplog.at_level("WARNING"):
        plan = plan_blocks(config, target, 0, 0)
    assert plan["blocks_removed"] == 24 and plan["params_after"] == target
    assert "blocks_removed_by_size" not in plan and sizing.planned_mix(
        config, target, removable) is None
    assert "sizes the largest removable blocks first" in caplog.text
    assert sizing.sized_by_mix(config_from_dict(tiny_json()), range(4))


# The layouts a depth plan's size is checked on: tests/test_families.py's tiny model's (blocks
# of three sizes: dense 0, sparse 1 and 2, reader 3), two sources, a chain of three sources,
# and SHARING's with blocks 0 and 1 dense.
SIZED = {"family": dict(num_hidden_layers=4, layer_types=[SL, IX] * 2, index_layers=[1],
                        kv_source_layers=[0, 1, 2, 1], mlp_only_layers=[0]),
         "two sources": dict(num_hidden_layers=4, mlp_only_layers=[0], **TWO_SOURCES),
         "chained": dict(mlp_only_layers=[0], **CHAINED),
         "sharing": dict(mlp_only_layers=[0, 1])}


@pytest.mark.parametrize("layout", SIZED, ids=str)
@pytest.mark.parametrize("protect", [(0, 0), (1, 0), (0, 1)], ids=str)
def test_every_reachable_size_is_the_plans_and_every_criterions(layout, protect):
    """Without a class (any release), for every size a depth prune reaches (each allowed
    removal's, every subset tried, all among sizing.removal_mixes'), the plan of that target
    says that size, and the blocks of it the one-shot criteria choose (readers_choice of the
    plan's mix) and SLEB's rounds have it, whatever the scores (SLEB's plan the same: its
    rounds reach every size, every order searched); depth_angular's plan says a size nearest
    the target of those its runs reach (every run tried), and each run it may take has it.
    Before, the plan sized the largest blocks first and the criteria chose any blocks of that
    number: a dense block, or one reading another's keys, took fewer parameters; and
    depth_angular's plan took the one-shot criteria's mix, refused where no run held it."""
    config = config_from_dict(tiny_json(**SIZED[layout]))
    n, total = config.num_hidden_layers, count_params(config)
    try:
        removable = depth_removable(config, *protect)
    except PrunebenchError:
        pytest.skip("the protection leaves no removable block")
    reachable = {total - depth_removed_params(config, removed)
                 for k in range(1, n) for removed in itertools.combinations(removable, k)
                 if may_remove(config, removed)}
    mixes = removal_mixes(config, removable)
    assert {total - depth_removed_params(config, b) for b in mixes.values()} - {total} == (
        reachable)
    rounds, runs = round_sizes(config, removable), run_sizes(config, removable)
    allowed = reachable | {total}
    assert rounds == allowed
    every = max(1, math.factorial(n) // 8)  # (at most eight orders of the scores)
    orders = [[float(s) for s in scores]
              for scores in list(itertools.permutations(range(n)))[::every]]
    assert len({block_param_count(config, s) for s in layer_shapes(config)}) > 1
    differs = 0
    for size in sorted(reachable):
        plan = plan_blocks(config, size, *protect)
        mix = depth_mix(config, size, removable)
        assert plan["params_after"] == size and plan["blocks_removed"] == sum(mix)
        largest = total - sum(sorted((block_param_count(config, s)
                                      for s in layer_shapes(config)), reverse=True)[:sum(mix)])
        differs += largest != size
        assert nearest_plan(config, "sleb", size, protect, rounds, allowed)[
            "params_after"] == size
        for scores in orders:
            chosen = readers_choice(config, removable, scores, sum(mix), mix)
            rounds_taken = greedy_rounds(config, removable, scores, mix)
            for removed in (chosen, rounds_taken):
                assert may_remove(config, removed)
                assert total - depth_removed_params(config, removed) == size
        if angular := nearest_plan(config, "depth_angular", size, protect, runs, allowed):
            k = angular["blocks_removed"]
            assert {total - depth_removed_params(config, range(s, s + k))
                    for s in run_starts(config, removable, k, size)} == {angular["params_after"]}
    assert differs or protect != (0, 0)  # (the largest first would have planned another)


@pytest.mark.parametrize("criterion", ["depth_ppl", "shortgpt", "depth_mag", "depth_taylor",
                                       "sleb", "depth_angular"])
def test_every_criterion_prunes_to_the_plans_size(criterion):
    """The tiny model's dense block 0's size gone (smaller than a sparse block): the plan
    says one block of the dense size and that size, and each criterion removes block 0, the
    pruned model of the plan's size; before, the plan said a sparse block's size and the
    criteria removed whichever block scored least."""
    needs()
    model = family_model("kolibri1_1")
    target = count_params(model.config) - depth_removed_params(model.config, [0])
    off = {"protect_first": 0, "protect_last": 0}
    plan = registry.method_plan(criterion)(model.config, target, **off)
    assert plan["blocks_removed_by_size"][-1][1] == plan["blocks_removed"] == 1
    report = registry.method_function(criterion)(model, ids(2, 16), target, **off)
    assert report["removed_blocks"] == [0]
    assert numel(model) == count_params(model.config) == plan["params_after"] == target


def test_depth_angular_plans_and_prunes_a_run_where_no_run_holds_the_nearest_mix():
    """The tiny model less its dense block 0 and sparse block 2, a size no run of
    consecutive blocks that may go makes (block 3 reads block 1's keys): depth_angular's plan
    says the nearest size a run makes (every run tried) and its prune removes such a run, the
    pruned model of the plan's size; before, the plan took the one-shot criteria's mix (a
    dense and a sparse block) and depth_angular was refused. With block 3 protected (blocks 0
    and 2 removable, apart) the target is below the smallest size a run reaches (one block):
    refused naming the runs, where the one-shot criteria's plan has it."""
    needs()
    model = family_model("kolibri1_1")
    config, removable, off = copy.deepcopy(model.config), [0, 1, 2, 3], (0, 0)
    target = count_params(config) - depth_removed_params(config, [0, 2])
    assert registry.method_plan("depth_ppl")(config, target, protect_first=0,
                                             protect_last=0)["params_after"] == target
    runs = run_sizes(config, removable)
    assert target not in runs
    plan = nearest_plan(config, "depth_angular", target, off, runs,
                        allowed_sizes(config, removable))
    report = depth_angular.prune(model, ids(2, 16), target, protect_first=0, protect_last=0)
    assert numel(model) == count_params(model.config) == plan["params_after"]
    assert report["removed_blocks"] == list(range(report["start"], report["start"]
                                                  + plan["blocks_removed"]))
    assert registry.method_plan("depth_ppl")(config, target, protect_first=0,
                                             protect_last=1)["params_after"] == target
    with pytest.raises(PrunebenchError, match=r"below 142,736, the smallest size a depth prune "
                                              r"by depth_angular of this 'kolibri1_1' model "
                                              r"\(Kolibri1_1ForCausalLM\) reaches \(it removes "
                                              r"one run of consecutive removable blocks among "
                                              r"\[0, 2\]"):
        registry.method_plan("depth_angular")(config, target, protect_first=0, protect_last=1)


@pytest.mark.parametrize("left_out", [[0], [2], [3], [0, 2], [2, 3], [0, 2, 3], [1, 3]])
def test_the_depth_criteria_score_a_removal_as_the_model_without_those_blocks(left_out):
    """depth_ppl's and SLEB's losses leave blocks out (depth.without_blocks) with the per-block
    lists renumbered but each kept module's layer_idx and kv_source_layer their old ones (the
    keys shared in a forward filed and read under the same old numbers): the logits equal those
    of the model with the blocks removed (renumbered throughout, modeling.remove_blocks), the
    removed sliding block 2 between block 1's pool and its reader 3 too, and block 1 with its
    reader (a source left out whole), over a prompt the indexer selects in; depth_angular, ShortGPT, Mag+ and Taylor+ score the whole model."""
    needs()
    from prunebench.methods.depth import without_blocks

    model, x = family_model("kolibri1_1"), ids(2, 24)
    lists = {key: getattr(model.config, key) for key in ("layer_types", "index_layers",
                                                         "kv_source_layers", "mlp_only_layers")}
    pruned = copy.deepcopy(model)
    remove_blocks(pruned, left_out)
    with without_blocks(model, set(left_out)):
        scored = logits(model, x)
    assert torch.equal(scored, logits(pruned, x))
    assert {key: getattr(model.config, key) for key in lists} == lists
    assert len(model.model.layers) == 4


@pytest.mark.parametrize("layout, drop", [({}, [0, 2]), (TWO_SOURCES, [2, 3])])
def test_a_depth_pruned_reload_decodes_as_transformers(layout, drop, tmp_path):
    """Saved with blocks 0 and 2 removed (the kept indexer and its reader renumbered 0 and 1),
    or a source with its one reader (TWO_SOURCES' 2 and 3), loaded by prunebench and by
    transformers: hf and hf_static decode as generate."""
    needs()
    check_a_depth_pruned_reload_decodes_as_transformers(
        family_model("kolibri1_1", **layout), drop, transformers.Kolibri1_1ForCausalLM,
        tmp_path / "pruned")


# --------------------------------------------------------------- what its pieces do

def test_the_indexers_choice_of_keys_changes_its_logits():
    """The indexed blocks attend to the keys their indexer chooses (2 besides a sink and 2
    local tokens, here): letting every key through (a budget past the prompt) changes the
    logits of a 24-token prompt by far more than float32's rounding."""
    needs()
    model = family_model("kolibri1_1")
    other = copy.deepcopy(model)
    for layer in other.model.layers:
        if layer.self_attn.indexer is not None:
            layer.self_attn.indexer.topk = 100
    x = ids(2, 24)
    ours, changed = logits(model, x), logits(other, x)
    assert (ours - changed).abs().max() > 1e-3 * ours.abs().max()


@pytest.mark.parametrize("method", ["llm_pruner", "the compiled backend"])
def test_width_methods_and_the_compiled_decoder_are_refused(method):
    needs()
    check_refused_as_a_mixture_of_experts(FAMILIES["kolibri1_1"](), method,
                                          "Kolibri1_1ForCausalLM")


# --------------------------------------------------------------- published checkpoints

# Kolibri-1's published names, which transformers' kolibri1_1 conversion (kolibri1's) renames.
PUBLISHED_NAMES = KOLIBRI1_NAMES["kolibri1"]


def test_a_published_per_expert_checkpoint_imports_as_transformers_loads_it(
        tmp_path, tokenizer):  # noqa: F811 - the fixture
    """One tensor per expert under the published names: transformers' conversion on loading,
    prunebench's fusion on import and the model the weights came from compute the same
    logits (the score biases made to matter)."""
    needs()
    model = family_model("kolibri1_1")
    with torch.no_grad():
        for layer in model.model.layers[1:]:  # (block 0 is dense)
            layer.mlp.gate.e_score_correction_bias.normal_(0, 1)
    state = {}
    for key, tensor in per_expert_state(model, "kolibri1_1").items():
        for held, published in PUBLISHED_NAMES:
            key = key.replace(held, published)
        state[key] = tensor
    assert sum(any(p in k for _, p in PUBLISHED_NAMES) for k in state) >= 4
    check_published_import(model, transformers.Kolibri1_1ForCausalLM, state, tmp_path,
                           tokenizer)
