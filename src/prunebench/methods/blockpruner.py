"""BlockPruner (Zhong et al. 2024): attention and MLP sublayers removed one at a time.

A decoder block is two residual sublayers, its attention (MHA) and its MLP. Each round tries
removing every sublayer left, on top of those already removed, and removes the one whose
absence gives the lowest perplexity on the calibration windows (the original's
block_search.py: candidates in the order every block's attention, then every block's MLP, the
first of a tie kept as its strict `<` keeps it; a loss that is not a number never taken). The
sublayers differ in size (LLaMA-7B: 67M an attention, 135M an MLP), so the rounds go on until
the model is no larger than the target, and the prune keeps the number of removals whose size
is closest to it (the original removes a number given by hand).

A removed attention is a block with no heads left, a removed MLP one with no channels left
(prunebench's checkpoint format for width-pruned blocks); their output biases, where the family
has them, are zeroed, so the pruned model computes what was scored (the original skips the
whole sublayer, its norm included). A block whose two sublayers both went computes the identity
and is removed whole, as depth pruning removes blocks; its norms go with it.
Cost: the dense model's pass, then in each round one pass over the calibration windows per
sublayer left.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import math
import time

import torch

from prunebench import PrunebenchError, projections
from prunebench.checkpoint.param_count import count_params, head_dim
from prunebench.methods import depth, registry, sizing, surgery
from prunebench.methods.depth import (nll_to_ppl, ranked_score, require_calibration, scored_in,
                                      scoring_dtype)
from prunebench.methods.loss_memo import LossMemo, ScoringProgress, open_memo
from prunebench.modeling import attention_outputs, dtype_name, remove_blocks

log = logging.getLogger(__name__)

KINDS = ("attention", "mlp")


def unit_id(kind: str, block: int) -> int:
    """A sublayer's number in the loss memo's keys: 2 x block, + 1 for the MLP."""
    return 2 * block + KINDS.index(kind)


def unit_of(uid: int) -> tuple[str, int]:
    return KINDS[uid % 2], uid // 2


def _skipped_attention(config):
    """An attention that adds nothing: zeros of its input's shape, no attention weights (and
    what else the family's block unpacks: `attention_outputs`)."""
    def forward(*args, **kwargs):
        hidden = kwargs["hidden_states"] if "hidden_states" in kwargs else args[0]
        return attention_outputs(config, torch.zeros_like(hidden))
    return forward


def _skipped_mlp(x, *args, **kwargs):
    return torch.zeros_like(x)


def _skipped_mlp_of_residual(x, residual, *args, **kwargs):
    """An MLP that adds its output to the residual it is given (BloomMLP's, MptMLP's), adding
    nothing: the residual itself."""
    return residual


@contextlib.contextmanager
def without_sublayers(model, units: set[int]):
    """Run the model with some sublayers adding nothing to the residual stream (weights
    untouched, restored on exit). Each sublayer's own forward is replaced, not wrapped: a
    skipped sublayer costs nothing, and a forward accelerate set on it (a device map) is put
    back as it was."""
    replaced = []
    try:
        for uid in units:
            kind, block = unit_of(uid)
            layer = projections.decoder(model).layers[block]
            module = layer.self_attn if kind == "attention" else projections.block_mlp(layer)
            replaced.append((module, module.__dict__.get("forward")))
            module.forward = (_skipped_attention(model.config) if kind == "attention" else
                              _skipped_mlp_of_residual if "residual" in
                              inspect.signature(module.forward).parameters else _skipped_mlp)
        yield model
    finally:
        for module, own in reversed(replaced):
            if own is None:
                del module.forward
            else:
                module.forward = own


def search(losses: LossMemo, candidates: list[int], sizes: dict[int, int],
           rest: dict[int, int], dense: int, target: int) -> list[dict]:
    """Greedy rounds until the size is at most `target` (or no candidate is left); one record
    per round. `candidates` in the original's order, which breaks ties; `sizes`: what each
    takes; `rest`: what a block holds once all its candidates are gone, for the blocks that
    are then removed whole (sizing.block_goes_whole)."""
    removed: list[int] = []
    params = dense
    rounds = []
    while params > target and len(removed) < len(candidates):
        start = time.perf_counter()
        left = [u for u in candidates if u not in removed]
        nll = {u: losses.nll({*removed, u}) for u in left}
        best = min(left, key=lambda u: ranked_score(nll[u]))  # min keeps the first of a tie
        if not math.isfinite(nll[best]):
            raise PrunebenchError(
                f"blockpruner: in round {len(rounds) + 1}, the calibration loss is not a finite "
                "number without any sublayer left: the scoring dtype overflows or the model is "
                "broken (score in float32 or bfloat16; check the token ids)")
        removed.append(best)
        params -= sizes[best]
        kind, block = unit_of(best)
        if block in rest and all(u in removed for u in candidates if unit_of(u)[1] == block):
            params -= rest[block]  # the block goes whole
        rounds.append({"round": len(rounds) + 1, "removed": {"sublayer": kind, "block": block},
                       "nll": nll[best], "ppl": nll_to_ppl(nll[best]), "params_after": params,
                       "candidate_nll": {f"{unit_of(u)[0]} {unit_of(u)[1]}":
                                         v if math.isfinite(v) else None
                                         for u, v in nll.items()}})
        log.info("blockpruner round %d: removed block %d's %s, calibration PPL %.3f, %s params "
                 "(%.1fs)", len(rounds), block, kind, rounds[-1]["ppl"], f"{params:,}",
                 time.perf_counter() - start)
    return rounds


def closest_count(rounds: list[dict], dense: int, target: int) -> int:
    """How many of the rounds' removals to keep: the count whose size is closest to the target
    (a tie: fewer removed)."""
    sizes = [dense] + [r["params_after"] for r in rounds]
    return min(range(len(sizes)), key=lambda k: (abs(sizes[k] - target), k))


def _zero_bias(linear) -> None:
    if linear.bias is not None:
        with torch.no_grad():
            linear.bias.zero_()


def remove_sublayers(model, units: list[int]) -> list[int]:
    """Empty the given sublayers (no heads / no channels, output bias zeroed) and remove the
    blocks left computing the identity (sizing.block_goes_whole, as the search counts them);
    returns those blocks (original indices)."""
    config = model.config
    removed: dict[int, set[str]] = {}
    for uid in units:
        kind, block = unit_of(uid)
        removed.setdefault(block, set()).add(kind)
    # decided on the shapes before the surgery: a sublayer emptied before this prune counts
    # as gone only where it adds no bias
    identity = sorted(b for b, kinds in removed.items()
                      if sizing.block_goes_whole(config, b, kinds))
    hd = head_dim(config)
    for uid in units:
        kind, block = unit_of(uid)
        layer = projections.decoder(model).layers[block]
        if kind == "attention":
            kv_heads = projections.attention_heads(layer.self_attn, hd)[1]
            surgery.remove_kv_groups(model, block, range(kv_heads))
            _zero_bias(projections.o_proj(projections.decoder(model).layers[block].self_attn))
        else:
            mlp = projections.block_mlp(layer)
            surgery.remove_channels(model, block, range(projections.mlp_width(mlp)))
            _zero_bias(projections.down_proj(projections.block_mlp(projections.decoder(model).layers[block])))
    if identity:
        remove_blocks(model, identity)
    surgery.sync_layer_shapes(model)
    return identity


def prune(model, calibration: torch.Tensor, target_params: int,
          progress: ScoringProgress | None = None, **params) -> dict:
    """BlockPruner. The losses are computed in `dtype` (float32 by default; the original scores
    in bfloat16) with `batch_size` windows per forward pass (the original's script: 2).
    `progress`: where the losses are kept as they come, so that an interrupted prune resumes
    (loss_memo)."""
    p = registry.checked_params("blockpruner", params)
    sizing.refuse_blockpruner(model.config, p["block_type"])
    dtype = scoring_dtype("blockpruner", p, model)
    calibration = require_calibration("blockpruner", calibration)
    config = model.config
    units = sizing.sublayer_sizes(config, p["protect_first"], p["protect_last"], p["block_type"])
    sizing.check_sublayer_target(config, int(target_params), units)
    candidates = [unit_id(kind, block) for kind, block, _ in units]
    sizes = {unit_id(kind, block): size for kind, block, size in units}
    rest = sizing.whole_block_sizes(config, units)
    dense = count_params(config)
    loaded = dtype_name(model)  # before scored_in may cast it in place

    with scored_in(model, dtype) as scoring:
        def compute(removed: set[int]) -> float:
            with without_sublayers(scoring, removed):
                return depth.calibration_nll(scoring, calibration, p["batch_size"])

        with open_memo(compute, progress, scoring, calibration, p["batch_size"], loaded,
                       units="sublayers") as losses:
            dense_nll = losses.nll(set())
            log.info("blockpruner: dense calibration PPL %.3f; %d sublayers removable",
                     nll_to_ppl(dense_nll), len(candidates))
            rounds = search(losses, candidates, sizes, rest, dense, int(target_params))
    kept = closest_count(rounds, dense, int(target_params))
    chosen = [unit_id(r["removed"]["sublayer"], r["removed"]["block"]) for r in rounds[:kept]]
    whole = remove_sublayers(model, chosen)
    return {"criterion": "blockpruner", "block_type": p["block_type"],
            "removal_order": [r["removed"] for r in rounds[:kept]], "num_removed": kept,
            "removed_attention": sorted(unit_of(u)[1] for u in chosen if u % 2 == 0),
            "removed_mlp": sorted(unit_of(u)[1] for u in chosen if u % 2 == 1),
            "removed_blocks": whole, "rounds": rounds,
            "calibration_nll_dense": dense_nll, "calibration_ppl_dense": nll_to_ppl(dense_nll),
            "dtype": p["dtype"], "protect_first": p["protect_first"],
            "protect_last": p["protect_last"], "calibration_loss_counts": losses.counts()}


# Sized from the config alone: torch-free, in methods.sizing, where `prunebench plan` calls it.
plan = sizing.plan_blockpruner
