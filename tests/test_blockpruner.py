"""BlockPruner (prunebench.methods.blockpruner): attention and MLP sublayers removed one at a
time by the calibration perplexity without each, as the original's block_search.py removes them
(github.com/MrGGLS/BlockPruner @ 8210707)."""
from __future__ import annotations

import math
import random

import pytest
import torch
from transformers import AutoModelForCausalLM, LlamaConfig

from prunebench import PrunebenchError
from prunebench.checkpoint.param_count import count_params
from prunebench.methods import blockpruner, depth, sizing, surgery
from prunebench.methods.blockpruner import KINDS, unit_id, without_sublayers
from prunebench.methods.loss_memo import LossMemo, ScoringProgress
from prunebench.methods.registry import METHODS
from prunebench.modeling import load_model
from test_depth_family import blocks_worth, counting_losses, without_counts


def original_search(blocks: list[int], rounds: int, ppl_of) -> list[frozenset]:
    """block_search.py's block_search_by_ppl loop (block_type mix), transcribed: each round
    tries every block's MHA, then every block's MLP, not yet removed, with those removed
    before; a strictly lower perplexity replaces the best, so the first of a tie stays (and a
    NaN never wins). Returns the removed set after each round."""
    current: frozenset = frozenset()
    sets = []
    for _ in range(rounds):
        best, best_ppl = None, float("inf")
        candidates = ([("mha", b) for b in blocks if ("mha", b) not in current]
                      + [("mlp", b) for b in blocks if ("mlp", b) not in current])
        for candidate in candidates:
            sequence = current | {candidate}
            ppl = ppl_of(sequence)
            if ppl < best_ppl:
                best_ppl, best = ppl, sequence
        if best is not None:
            current = best
        sets.append(current)
    return sets


def as_units(sequence) -> set[int]:
    return {unit_id("attention" if kind == "mha" else "mlp", b) for kind, b in sequence}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_search_removes_what_the_originals_loop_removes(seed):
    """The same perplexities (few distinct values, so ties are many, and some NaN): the same
    sublayer removed in every round, ties broken as the original breaks them."""
    rng = random.Random(seed)
    table: dict[frozenset, float] = {}

    def nll_of(units) -> float:  # one value per set of removed sublayers, drawn once
        key = frozenset(units)
        if key not in table:
            table[key] = math.nan if rng.random() < 0.1 else float(rng.randint(1, 4))
        return table[key]

    blocks = list(range(5))
    candidates = [unit_id(kind, b) for kind in KINDS for b in blocks]
    sizes = {u: 1 for u in candidates}
    rounds = blockpruner.search(LossMemo(nll_of, None), candidates, sizes,
                                {b: 0 for b in blocks}, dense=100, target=94)
    theirs = original_search(blocks, 6, lambda seq: math.exp(nll_of(as_units(seq))))
    ours, removed = [], set()
    for r in rounds:
        removed.add(unit_id(r["removed"]["sublayer"], r["removed"]["block"]))
        ours.append(set(removed))
    assert ours == [as_units(s) for s in theirs]


def random_llama(seed: int = 0, **overrides):
    """A small LLaMA with every bias on (attention and MLP) unless `overrides` say otherwise,
    weights and biases drawn wide enough that each sublayer changes the output."""
    torch.manual_seed(seed)
    config = LlamaConfig(**{**dict(hidden_size=64, intermediate_size=96, num_hidden_layers=4,
                                   num_attention_heads=4, num_key_value_heads=2, vocab_size=97,
                                   max_position_embeddings=128, attention_bias=True,
                                   mlp_bias=True), **overrides})
    model = AutoModelForCausalLM.from_config(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" not in name:
                p.normal_(0, 0.5 if p.dim() == 1 else p.shape[-1] ** -0.5)
    return model


def windows(count: int = 6, length: int = 24, seed: int = 1) -> torch.Tensor:
    return torch.randint(3, 97, (count, length), generator=torch.Generator().manual_seed(seed))


def test_the_pruned_model_computes_what_was_scored():
    """The sublayers removed (attention: no heads, MLP: no channels, their output biases
    zeroed; a block without either removed whole) leave a model whose logits are those of the
    dense model with the same sublayers skipped, the model each round scored; the size is the
    closest the removal order comes to the target, and each round removed the sublayer with
    the lowest loss (the first of the original's candidate order on a tie)."""
    model = random_llama()
    dense = count_params(model.config)
    reference = random_llama()
    target = int(0.55 * dense)
    report = blockpruner.prune(model, windows(), target)
    assert report["num_removed"] >= 3  # a block's two sublayers and more
    chosen = {unit_id(r["sublayer"], r["block"]) for r in report["removal_order"]}
    ids = windows(2, 16, seed=7)
    with torch.no_grad(), without_sublayers(reference, chosen):
        expected = reference(ids).logits
    with torch.no_grad():
        assert torch.allclose(model(ids).logits, expected, atol=1e-5, rtol=1e-5)
    both = sorted(set(report["removed_attention"]) & set(report["removed_mlp"]))
    assert report["removed_blocks"] == both and model.config.num_hidden_layers == 4 - len(both)
    after = count_params(model.config)
    assert after == sum(p.numel() for p in model.parameters())
    sizes = [dense] + [r["params_after"] for r in report["rounds"]]
    assert after == sizes[report["num_removed"]]
    assert abs(after - target) == min(abs(s - target) for s in sizes)
    order = [f"{kind} {b}" for kind in KINDS for b in range(4)]
    for r in report["rounds"]:
        losses = {k: v for k, v in r["candidate_nll"].items() if v is not None}
        lowest = min(losses.values())
        assert f"{r['removed']['sublayer']} {r['removed']['block']}" == next(
            k for k in order if losses.get(k) == lowest)


@pytest.mark.parametrize("block_type, kinds", [("mha", {"attention"}), ("mlp", {"mlp"})])
def test_a_block_type_removes_its_kind_of_sublayer_only(block_type, kinds):
    model = random_llama(1)
    target = int(0.85 * count_params(model.config))
    report = blockpruner.prune(model, windows(), target, block_type=block_type)
    assert {r["removed"]["sublayer"] for r in report["rounds"]} == kinds
    assert report["removed_blocks"] == [] and model.config.num_hidden_layers == 4


def test_protected_blocks_keep_both_sublayers():
    model = random_llama(2)
    report = blockpruner.prune(model, windows(), int(0.7 * count_params(model.config)),
                               protect_first=1, protect_last=1)
    assert {r["removed"]["block"] for r in report["rounds"]} <= {1, 2}


def test_unreachable_targets_are_refused_before_any_scoring(monkeypatch):
    model = random_llama()
    dense = count_params(model.config)
    config = model.config
    attention = [s for kind, _, s in sizing.sublayer_sizes(config, 0, 0, "mix")
                 if kind == "attention"][0]
    monkeypatch.setattr(depth, "calibration_nll", lambda *a, **k: pytest.fail("scored"))
    with pytest.raises(PrunebenchError, match="closer to the dense model than to removing one "
                                              "sublayer"):
        blockpruner.prune(model, windows(), dense - attention // 3)
    with pytest.raises(PrunebenchError, match="the size with every removable sublayer gone"):
        blockpruner.prune(model, windows(), dense // 2, block_type="mha")
    everything = dense - sum(s for _, _, s in sizing.sublayer_sizes(config, 0, 0, "mix"))
    with pytest.raises(PrunebenchError, match="could remove every sublayer of every block"):
        blockpruner.prune(model, windows(), everything)
    with pytest.raises(PrunebenchError, match="block_type.*choose one of"):
        blockpruner.prune(model, windows(), dense // 2, block_type="both")


def test_no_accepted_target_can_end_with_no_block():
    """The sublayer the search leaves last may be an MLP, the largest, and its removal takes
    the last block's norms and biases too. A target half the smallest sublayer above the size
    without any used to be accepted, and a search that left an MLP last then removed every
    block (the empty model was the closest). The lowest target accepted now keeps a sublayer
    whichever is left last; below it, the prune is refused before any scoring."""
    config = random_llama().config
    units = sizing.sublayer_sizes(config, 0, 0, "mix")
    candidates = [unit_id(kind, b) for kind, b, _ in units]
    sizes = {unit_id(kind, b): size for kind, b, size in units}
    rest = {b: sizing.emptied_block_size(config, b) for _, b, _ in units}
    dense = count_params(config)
    empty = dense - sum(sizes.values()) - sum(rest.values())
    mlp_last = LossMemo(lambda removed: float(sum(u % 2 for u in removed)), None)
    lowest = empty + max(sizes[u] + rest[u // 2] for u in candidates) // 2
    sizing.check_sublayer_target(config, lowest, units)
    rounds = blockpruner.search(mlp_last, candidates, sizes, rest, dense, lowest)
    assert len(rounds) == len(candidates) and rounds[-1]["removed"]["sublayer"] == "mlp"
    assert blockpruner.closest_count(rounds, dense, lowest) == len(candidates) - 1
    old_lowest = dense - sum(sizes.values()) + min(sizes.values()) // 2 + 1
    for target in (lowest - 1, old_lowest):
        with pytest.raises(PrunebenchError, match="could remove every sublayer of every block, "
                                                  "leaving no model"):
            sizing.check_sublayer_target(config, target, units)


@pytest.mark.parametrize("biases", [False, True])
def test_a_block_emptied_before_the_prune_is_counted_as_it_is_removed(biases, monkeypatch):
    """A width-pruned checkpoint's block may have no heads left: its MLP is then its only
    sublayer, and removing it empties the block, which goes whole (its norms with it) unless
    the attention emptied before keeps an output bias (LLaMA's attention_bias, FLAP's
    compensation). The rounds' sizes are the pruned model's either way; they counted the block
    as going only once both its sublayers were candidates and gone, its 128 norm weights above
    the model's size."""
    model = random_llama(attention_bias=biases, mlp_bias=biases)
    surgery.remove_kv_groups(model, 0, [0, 1])
    dense = count_params(model.config)
    units = sizing.sublayer_sizes(model.config, 0, 0, "mix")
    assert ("attention", 0) not in {(kind, b) for kind, b, _ in units}
    mlp = next(size for kind, b, size in units if (kind, b) == ("mlp", 0))

    def without_block_0s_mlp_lowest(scored, calibration, batch_size):
        skipped = scored.model.layers[0].mlp.__dict__.get("forward") is blockpruner._skipped_mlp
        return 0.0 if skipped else 1.0

    monkeypatch.setattr(depth, "calibration_nll", without_block_0s_mlp_lowest)
    report = blockpruner.prune(model, windows(), dense - mlp)
    assert report["removal_order"] == [{"sublayer": "mlp", "block": 0}]
    assert report["removed_blocks"] == ([] if biases else [0])
    assert report["rounds"][0]["params_after"] == count_params(model.config) == sum(
        p.numel() for p in model.parameters())


def test_the_plan_names_the_removable_sublayers_and_leaves_the_rest_to_the_data():
    model = random_llama()
    plan = blockpruner.plan(model.config, int(0.6 * count_params(model.config)),
                            protect_first=1, block_type="mlp")
    assert plan["sublayers_removable"] == 3 and plan["params_after"] is None
    assert plan["block_type"] == "mlp" and plan["blocks_after"] is None


@pytest.mark.parametrize("block_type", ["mix", "mha", "mlp"])
@pytest.mark.parametrize("share", [0.9, 0.7, 0.45])
def test_the_planned_passes_bound_every_search_the_data_may_take(tiny_model_dir, block_type,
                                                                 share):
    """Whatever order the losses give, the search's passes (the dense model's, then one per
    sublayer left in each round) lie in the plan's range: the largest sublayers first, the
    smallest first and random orders."""
    model = load_model(tiny_model_dir)
    config, dense = model.config, count_params(model.config)
    units = sizing.sublayer_sizes(config, 0, 0, block_type)
    target = int(share * dense)
    try:
        planned = blockpruner.plan(config, target, block_type=block_type)["calibration_passes"]
    except PrunebenchError:  # a target this block type cannot reach: refused, nothing to bound
        return
    low, high = map(int, str(planned).split("-")) if "-" in str(planned) else (planned,) * 2
    uid = {(kind, b): blockpruner.unit_id(kind, b) for kind, b, _ in units}
    sizes = {uid[kind, b]: size for kind, b, size in units}
    rest = sizing.whole_block_sizes(config, units)
    for seed in range(40):
        rank = torch.randperm(len(units), generator=torch.Generator().manual_seed(seed)).tolist()
        if seed == 0:  # the largest first, then the smallest first
            rank = sorted(range(len(units)), key=lambda i: -units[i][2])
        elif seed == 1:
            rank = sorted(range(len(units)), key=lambda i: units[i][2])
        position = {uid[units[i][:2]]: k for k, i in enumerate(rank)}
        # each round then removes the sublayer of the lowest position left: `rank`'s order
        memo = LossMemo(lambda removed, at=position: float(sum(at[u] for u in removed)), None)
        rounds = blockpruner.search(memo, list(sizes), sizes, rest, dense, target)
        passes = 1 + sum(len(r["candidate_nll"]) for r in rounds)
        assert low <= passes <= high, (seed, passes, planned)


def test_its_losses_are_kept_apart_from_the_block_removal_methods(tiny_model_dir, tmp_path):
    """A key's numbers are sublayers here (2 x block, + 1 for the MLP), blocks in depth_ppl's
    and SLEB's: a depth prune's store for the same model and windows is never read."""
    calibration = windows(4, 32)
    model = load_model(tiny_model_dir)
    depth.prune_ppl(model, calibration, blocks_worth(model, 1),
                    progress=ScoringProgress(tmp_path), protect_first=0, protect_last=0)
    model = load_model(tiny_model_dir)
    report = blockpruner.prune(model, calibration, int(0.9 * count_params(model.config)),
                               progress=ScoringProgress(tmp_path))
    assert report["calibration_loss_counts"]["reused"] == 0
    assert len(list(tmp_path.glob("*.jsonl"))) == 2


def test_an_interrupted_search_resumes_where_it_stopped(tiny_model_dir, tmp_path, monkeypatch):
    """The losses computed before a kill are read back, only the rest computed, and the prune
    ends as an uninterrupted one does."""
    assert METHODS["blockpruner"].resumable
    calibration = windows(4, 32)
    target = int(0.8 * count_params(load_model(tiny_model_dir).config))
    expected = blockpruner.prune(load_model(tiny_model_dir), calibration, target)
    total = expected["calibration_loss_counts"]["computed"]
    done = total // 2
    counting_losses(monkeypatch, interrupt_at=done + 1)
    with pytest.raises(KeyboardInterrupt):
        blockpruner.prune(load_model(tiny_model_dir), calibration, target,
                          progress=ScoringProgress(tmp_path))
    calls = counting_losses(monkeypatch)
    resumed = blockpruner.prune(load_model(tiny_model_dir), calibration, target,
                                progress=ScoringProgress(tmp_path))
    assert len(calls) == total - done
    assert resumed["calibration_loss_counts"] == {"computed": total - done, "reused": done}
    assert without_counts(resumed) == without_counts(expected)
