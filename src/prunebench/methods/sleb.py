"""SLEB (Song et al. 2024): iterative block elimination by calibration loss.

Each round tries removing every remaining candidate block on top of those already removed and
removes the one that gives the lowest mean next-token NLL on the calibration windows (the
original: the first 128 rows of WikiText-2 train after a seeded shuffle, joined and cut in
2048-token windows, about 5 of them, scored one window per forward pass in float16; it never
tries the first and the last block, hence protect_first = protect_last = 1). Unlike the
one-shot PPL criterion, a block's importance is judged in the model as it is after the earlier
removals, so two blocks that are each redundant alone are not both removed when they are not
redundant together.
Cost: k rounds of one pass over the calibration windows per remaining candidate.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import torch

from prunebench import PrunebenchError
from prunebench.methods import registry, sizing
from prunebench.methods.depth import (check_kinds_left, nll_to_ppl, ranked_score,
                                      require_calibration, scored_losses,
                                      scoring_dtype, solve_num_blocks)
from prunebench.methods.loss_memo import LossMemo, ScoringProgress
from prunebench.modeling import remove_blocks

log = logging.getLogger(__name__)

DEFAULT_CALIBRATION = registry.default_calibration("sleb")  # defined once, in the registry


def eliminate(losses: LossMemo, k: int, candidates: list[int],
              may_remove: Callable[[list[int]], bool] = lambda removed: True) -> list[dict]:
    """k greedy rounds; returns one record per round (block indices are the original ones).
    A round tries only the blocks whose removal `may_remove` allows (sizing.may_remove: a
    hybrid's last block of a kind it needs stays; a Kolibri-1.1 block others read, once they
    have gone; a Zamba2 model's hybrid blocks from the last one kept back)."""
    removed: list[int] = []
    rounds = []
    for r in range(k):
        start = time.perf_counter()
        nll = {block: losses.nll({*removed, block}) for block in candidates
               if block not in removed and may_remove([*removed, block])}
        best = min(nll, key=lambda b: (ranked_score(nll[b]), b))
        if not math.isfinite(nll[best]):
            raise PrunebenchError(
                f"sleb: in round {r + 1} (blocks {sorted(removed)} removed), the calibration loss "
                f"is not a finite number without any of the blocks {sorted(nll)}: the scoring "
                "dtype overflows or the model is broken (score in float32 or bfloat16; check the "
                "token ids)")
        overflowed = sorted(b for b, v in nll.items() if not math.isfinite(v))
        if overflowed:
            log.warning("sleb round %d: without blocks %s the calibration loss is not finite (the "
                        "model overflowed): they are kept this round", r + 1, overflowed)
        removed.append(best)
        # A loss that is not a number is written as null: JSON has no NaN or infinity.
        rounds.append({"round": r + 1, "removed": best, "nll": nll[best],
                       "ppl": nll_to_ppl(nll[best]),
                       "candidate_nll": {str(b): v if math.isfinite(v) else None
                                         for b, v in nll.items()}})
        log.info("sleb round %d/%d: removed block %d, calibration PPL %.3f (%.1fs)", r + 1, k, best,
                 rounds[-1]["ppl"], time.perf_counter() - start)
    return rounds


def prune(model, calibration: torch.Tensor, target_params: int,
          progress: ScoringProgress | None = None, **params) -> dict:
    """SLEB. The losses are computed in `dtype` (float32 by default; the original loads the
    model in float16) with `batch_size` windows per forward pass (the original: 1). `progress`:
    where the losses are kept as they come, so that an interrupted prune resumes (loss_memo)."""
    p = registry.checked_params("sleb", params)
    dtype = scoring_dtype("sleb", p, model)
    calibration = require_calibration("sleb", calibration)
    removable = sizing.depth_removable(model.config, p["protect_first"], p["protect_last"])
    sizing.refuse_block_by_block(model.config, "sleb")
    k = solve_num_blocks(model.config, target_params, removable, "sleb")
    check_kinds_left(model.config, removable, k)
    # (a mix the rounds reach: of a Zamba2 model's hybrid blocks, from the last one kept back)
    most = sizing.planned_mix(model.config, target_params, removable, "sleb")
    with scored_losses(model, dtype, calibration, p["batch_size"], progress) as losses:
        dense_nll = losses.nll(set())
        rounds = eliminate(losses, k, removable, lambda removed: sizing.may_remove(
            model.config, removed) and sizing.within_counts(model.config, removable, removed,
                                                            most))
    order = [r["removed"] for r in rounds]
    remove_blocks(model, sorted(order))
    return {"criterion": "sleb", "removal_order": order, "removed_blocks": sorted(order),
            "num_removed": k, "rounds": rounds, "calibration_nll_dense": dense_nll,
            "calibration_ppl_dense": nll_to_ppl(dense_nll), "dtype": p["dtype"],
            "protect_first": p["protect_first"], "protect_last": p["protect_last"],
            "calibration_loss_counts": losses.counts()}


# Sized from the config alone: torch-free, in methods.sizing, where `prunebench plan` calls it.
plan = sizing.plan_sleb
