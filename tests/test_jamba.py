"""Jamba (jamba, JambaForCausalLM; AI21's Jamba-v0.1 / Jamba 1.5): Mamba-1 blocks (with RMSNorms
of dt, B and C) and attention blocks (no rotary), a router and experts in some blocks and a
SwiGLU MLP in the others. Its config.json says where the attention blocks and the experts are
by four integers alone (attn_layer_period / attn_layer_offset, expert_layer_period /
expert_layer_offset: block i is of the kind where i % period == offset), so a depth prune may
only leave a layout two such pairs say: the rule (param_count.period_of) tried exhaustively
against JambaConfig; depth prunes remove whole periods (runs of lcm(periods) consecutive
blocks), chosen exactly by the criteria's scores, and equal transformers' model of the kept
blocks, reloaded; targets no number of whole periods reaches refused naming the sizes that
work; SLEB (one block a round) refused. Exact counts against transformers' meta model.
tests/test_families.py runs the shared per-family tests on it."""

from __future__ import annotations

import itertools
import random

import pytest
import torch
from transformers import AutoModelForCausalLM, JambaConfig, JambaForCausalLM

from prunebench import FamilyUnsupported, PrunebenchError
from prunebench.checkpoint.param_count import (config_from_dict, count_params,
                                               jamba_mamba_params, jamba_period, period_of,
                                               refuse_moe, sparse_mlp_blocks)
from prunebench.methods import depth, sizing, sleb
from prunebench.modeling import load_model, remove_blocks, save_model
from block_helpers import kept_blocks_state
from test_deepseek import ids, logits, numel, random_model
from test_families import VOCAB, in_allocated_memory

pytestmark = pytest.mark.usefixtures("one_thread")

NO_PROTECTION = {"protect_first": 0, "protect_last": 0}


def small(**over) -> JambaConfig:
    """Eight blocks: attention in every other block from block 1, experts (4, 2 a token) in
    every fourth from block 2, so a whole period is 4 blocks; hidden 16, Mamba-1 of 32
    channels, a state of 4, 3 taps."""
    values = dict(vocab_size=VOCAB, hidden_size=16, intermediate_size=8, num_hidden_layers=8,
                  num_attention_heads=4, num_key_value_heads=2, num_experts=4,
                  num_experts_per_tok=2, attn_layer_period=2, attn_layer_offset=1,
                  expert_layer_period=4, expert_layer_offset=2, mamba_d_state=4,
                  mamba_d_conv=3, mamba_expand=2, max_position_embeddings=64,
                  bos_token_id=1, eos_token_id=2, pad_token_id=0)
    values.update(over)
    return JambaConfig(**values)


@pytest.mark.parametrize("over", [{}, {"mamba_proj_bias": True, "mamba_conv_bias": False},
                                  {"num_experts": 1}, {"mamba_dt_rank": 3},
                                  {"tie_word_embeddings": True, "attn_layer_period": 3,
                                   "attn_layer_offset": 0}])
def test_counts_equal_transformers_meta_model_and_config_json_alone(over):
    """The closed form equals JambaForCausalLM's parameters (on the meta device) over the
    Mamba biases, one expert (every MLP dense), the dt rank, tying and another layout, and so
    does the count of the config's values alone (config.json's: the kinds derived)."""
    config = small(**over)
    with torch.device("meta"):
        theirs = numel(JambaForCausalLM(config))
    assert count_params(config) == theirs
    assert count_params(config_from_dict(config.to_dict())) == theirs


def test_the_mamba_mixer_by_hand():
    """hidden 16, 32 channels, a state of 4, 3 taps, dt rank ceil(16 / 16) = 1: in_proj
    16 x 64, conv 32 x 3 + 32, x_proj 32 x (1 + 8), dt_proj 1 x 32 + 32, A_log 32 x 4, D 32,
    out_proj 32 x 16, the norms of dt, B and C 1 + 4 + 4."""
    assert jamba_mamba_params(small()) == (16 * 64 + 32 * 3 + 32 + 32 * 9 + 32 + 32 + 128 + 32
                                           + 32 * 16 + 9)


def expressible(kinds: list[bool]) -> bool:
    """Whether some period and offset (offset < period) say these kinds (tried all)."""
    n = len(kinds)
    return any([i % p == o for i in range(n)] == kinds
               for p in range(1, n + 2) for o in range(p))


def test_period_of_says_exactly_the_layouts_jamba_config_can():
    """Every layout of up to 7 blocks: period_of gives integers exactly where some pair says the
    layout, and JambaConfig built with them makes those blocks attention (and experts), as
    the kept blocks were; other layouts are refused naming the keys."""
    for n in range(1, 8):
        for kinds in itertools.product([False, True], repeat=n):
            kinds = list(kinds)
            if not expressible(kinds):
                with pytest.raises(PrunebenchError, match="fit no attn_layer_period"):
                    period_of(kinds, "attn_layer_period / attn_layer_offset", "attention")
                continue
            period, offset = period_of(kinds, "attn_layer_period / attn_layer_offset",
                                       "attention")
            config = small(num_hidden_layers=n, attn_layer_period=period,
                           attn_layer_offset=offset, expert_layer_period=period,
                           expert_layer_offset=offset)
            assert [kind == "attention" for kind in config.layers_block_type] == kinds
            assert [e > 1 for e in config.layers_num_experts] == kinds


@pytest.mark.parametrize("removed", [[1, 2, 3, 4], [4, 5, 6, 7], [2, 3, 4, 5],
                                     [7], [0, 1]])
def test_a_depth_prune_equals_transformers_model_of_the_kept_blocks(removed, tmp_path):
    """Removing a whole period (any 4 consecutive blocks), or the last block, or the first two
    (a layout the offsets shift to): the pruned model's config says the kept kinds, and its
    logits equal those of JambaForCausalLM built from that config with the kept blocks'
    weights; reloaded by prunebench and by transformers, the same."""
    pruned = random_model(small())
    keep = [i for i in range(8) if i not in removed]
    state = kept_blocks_state(pruned, keep)
    kinds = [pruned.config.layers_block_type[i] for i in keep]
    sparse = [sparse_mlp_blocks(pruned.config)[i] for i in keep]
    remove_blocks(pruned, removed)
    assert pruned.config.layers_block_type == kinds
    assert sparse_mlp_blocks(pruned.config) == sparse
    torch.manual_seed(1)
    theirs = JambaForCausalLM(JambaConfig(**pruned.config.to_dict())).eval()
    theirs.load_state_dict(state, strict=True)
    x = ids()
    torch.testing.assert_close(logits(pruned, x), logits(theirs, x), rtol=0, atol=0)
    save_model(pruned, None, tmp_path)
    assert torch.equal(logits(load_model(tmp_path), x), logits(pruned, x))
    reloaded = in_allocated_memory(AutoModelForCausalLM.from_pretrained(
        tmp_path, dtype=torch.float32)).eval()
    assert torch.equal(logits(reloaded, x), logits(pruned, x))
    with torch.no_grad():
        pruned(input_ids=x, use_cache=True)  # (an attention block kept: the cache runs)


def test_the_original_integers_at_the_new_depth_would_build_other_kinds():
    """Why the integers are rewritten: removing the first two blocks shifts every later block
    by two, and the published offsets read at the new depth make other blocks the attention
    and the expert ones (transformers would build another model)."""
    pruned = random_model(small())
    remove_blocks(pruned, [0, 1])
    assert (pruned.config.attn_layer_offset, pruned.config.expert_layer_offset) == (1, 0)
    stale = small(num_hidden_layers=6)
    assert stale.layers_num_experts != pruned.config.layers_num_experts


@pytest.mark.parametrize("over, keys", [({}, "attn_layer_period"),
                                        ({"attn_layer_period": 4, "attn_layer_offset": 3,
                                          "expert_layer_period": 2, "expert_layer_offset": 0},
                                         "expert_layer_period")])
def test_a_removal_no_integers_say_is_refused_before_anything_changes(over, keys):
    """Block 1 alone removed: the attention blocks (1, 3, 5, 7) left at 2, 4, 6 of seven with
    block 0 a Mamba one, or the experts (0, 2, 4, 6) at 0, 1, 3, 5: no period and offset say
    them; refused naming the keys, the model whole."""
    pruned = random_model(small(**over))
    with pytest.raises(PrunebenchError, match=f"fit no {keys}.*remove whole periods"):
        remove_blocks(pruned, [1])
    assert pruned.config.num_hidden_layers == 8 and len(pruned.model.layers) == 8


def whole_period_removals(n: int, period: int, k: int, removable):
    """Every set of k removable blocks whose runs of consecutive removed blocks are each a
    multiple of `period` long (tried all)."""
    for drop in itertools.combinations(removable, k):
        runs, length = [], 0
        for b in range(n + 1):
            if b in drop:
                length += 1
            elif length:
                runs.append(length)
                length = 0
        if all(run % period == 0 for run in runs):
            yield drop


def test_the_whole_period_choice_is_the_least_score_of_every_such_removal():
    """For random scores, every k a plan of whole periods allows and two protections: the
    choice removes whole periods, its layout is one the integers say, and its scores sum to
    the least of every removal of runs of whole periods (all tried)."""
    config = small(num_hidden_layers=10)
    rng = random.Random(0)
    for protect in (0, 1):
        removable = list(range(protect, 10))
        for _ in range(20):
            scores = [rng.random() for _ in range(10)]
            for k in (4, 8):
                chosen = sizing.whole_period_choice(config, removable, scores, k)
                assert chosen in [list(d) for d in whole_period_removals(10, 4, k, removable)]
                keep = [i for i in range(10) if i not in chosen]
                period_of([config.layers_block_type[i] == "attention" for i in keep], "", "")
                best = min(sum(scores[b] for b in drop)
                           for drop in whole_period_removals(10, 4, k, removable))
                assert sum(scores[b] for b in chosen) == pytest.approx(best, rel=1e-12)


def test_a_one_shot_criterion_removes_the_least_important_whole_period():
    """Scores ranking blocks 1 and 6 lowest (no whole period holds both): the run of four
    whose scores sum least goes (blocks 3 to 6), not the two lowest blocks; the report has no
    cut (no one block pair), and the pruned model is transformers' of the kept blocks."""
    pruned = random_model(small())
    scores = [5.0, 0.1, 3.0, 1.0, 1.0, 1.0, 0.2, 9.0]
    target = count_params(pruned.config) - sizing.period_params(pruned.config)
    report = depth.prune_one_shot(pruned, target, dict(NO_PROTECTION), "test",
                                  lambda: (scores, {}))
    assert report["removed_blocks"] == [3, 4, 5, 6] and report["cut"] is None
    assert report["ranking"][:2] == [1, 6]
    assert pruned.config.layers_block_type == ["mamba", "attention", "mamba", "attention"]


def test_the_plan_sizes_whole_periods_and_refuses_what_none_reaches():
    """A target a little below the dense model is nearer it than any removal of a whole
    period: refused naming the sizes of one and two periods removed; one near a period
    removed plans that; the plan's size is the model less whole periods."""
    config = small()
    total, per_period = count_params(config), sizing.period_params(config)
    assert jamba_period(config) == 4
    with pytest.raises(PrunebenchError, match=r"whole periods of 4 consecutive blocks.*closer "
                                              r"to it than the dense model.*1 period removed"):
        sizing.plan_blocks(config, total - per_period // 3, 0, 0)
    plan = sizing.plan_blocks(config, total - per_period + 100, 0, 0)
    assert plan["blocks_removed"] == 4 and plan["params_after"] == total - per_period
    with pytest.raises(PrunebenchError, match="no run of 4 removable blocks: protect fewer"):
        sizing.plan_blocks(config, total - per_period, 2, 3)


def test_the_plan_keeps_an_attention_block_whichever_periods_go():
    """Nine blocks (attention at 1, 3, 5, 7): any two runs of a whole period (4) leave one
    block of block 0's place in the period, a Mamba block, which remove_blocks refuses (the
    masks need an attention block); the plan and a one-shot prune refuse that target before
    any scoring, naming one period removed, the most that keeps one. Five blocks: no period
    can go."""
    config = small(num_hidden_layers=9)
    total, per_period = count_params(config), sizing.period_params(config)
    keeps = r"up to 1, the runs of 4 removable blocks that leave an attention block"
    with pytest.raises(PrunebenchError, match=keeps + r".*\(1 periods removed\)"):
        sizing.plan_blocks(config, total - 2 * per_period, 0, 0)
    assert sizing.plan_blocks(config, total - per_period, 0, 0)["blocks_removed"] == 4
    pruned = random_model(config)
    with pytest.raises(PrunebenchError, match=keeps):
        depth.prune_one_shot(pruned, total - 2 * per_period, dict(NO_PROTECTION), "test",
                             lambda: pytest.fail("scored"))
    assert pruned.config.num_hidden_layers == 9
    five = small(num_hidden_layers=5)
    with pytest.raises(PrunebenchError, match="removing one period would leave no attention"):
        sizing.plan_blocks(five, count_params(five) - sizing.period_params(five), 0, 0)


def test_the_width_methods_refusal_names_the_depth_methods_that_run():
    """A width method's refusal (a mixture of experts) names the depth methods that prune a
    Jamba model, not SLEB, which its prunes refuse."""
    with pytest.raises(FamilyUnsupported, match="depth_angular, shortgpt") as refused:
        refuse_moe(small(), "llm_pruner")
    assert "sleb" not in str(refused.value)


def test_sleb_is_refused_before_scoring():
    """SLEB removes one block a round: refused by its plan and its prune, the model whole."""
    config = small()
    with pytest.raises(FamilyUnsupported, match="sleb removes one block a round.*depth_ppl"):
        sizing.plan_sleb(config, count_params(config) // 2)
    pruned = random_model(config)
    with pytest.raises(FamilyUnsupported, match="sleb removes one block a round"):
        sleb.prune(pruned, ids(), count_params(config) // 2)
    assert pruned.config.num_hidden_layers == 8
