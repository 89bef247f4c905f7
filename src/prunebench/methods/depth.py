"""Depth pruning: score every decoder block, remove the least important ones whole.

The result is a plain, shallower LLaMA (a normal HF checkpoint). This module holds what every
block-removal method shares (running the model without some blocks, the calibration loss, the
one-shot flow and its report; how many blocks to remove and which may go are sized from the
config in the torch-free `methods.sizing`) and the `ppl` criterion:
- `ppl`: perplexity of the model on the calibration windows with only that block removed;
  the block whose removal hurts least (lowest PPL) is the least important.
Other criteria live in their own modules: `depth_taylor` (Taylor+), `depth_mag` (Mag+),
`sleb` (iterative), `shortgpt` (Block Influence), `depth_angular` (angular distance of a
run of consecutive blocks).
The number of blocks k is solved from the target size: the k whose pruned size is closest to it.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from prunebench import PrunebenchError
from prunebench.methods import registry, sizing
from prunebench.checkpoint.device_map import main_device
from prunebench.checkpoint.param_count import (block_count, depth_kept_blocks,
                                               depth_needed_kinds, family, kolibri1_1_sources,
                                               set_block_count, whole_period)
from prunebench.methods.loss_memo import LossMemo, ScoringProgress, open_memo
# Sized from the config alone in the torch-free methods.sizing; named here too, where the depth
# methods and their callers find them.
from prunebench.methods.sizing import (check_kinds_left, kind_keeping_choice,  # noqa: F401
                                       depth_removable, removable_blocks, solve_num_blocks)
from prunebench.modeling import (cast_floating, config_dtype, dtype_name, float32_kept,
                                 kept_block_lists, remove_blocks, resolve_dtype,
                                 set_residual_places)
from prunebench.projections import decoder, set_layers

log = logging.getLogger(__name__)

DEFAULT_CALIBRATION = registry.default_calibration("depth_ppl")  # defined once, in the registry


# --------------------------------------------------------------------------- parameters

def require_calibration(method: str, calibration: torch.Tensor | None) -> torch.Tensor:
    if calibration is None or calibration.dim() != 2 or calibration.shape[1] < 2:
        raise PrunebenchError(f"{method} needs calibration token ids of shape [n, L] with L >= 2 "
                              "(configure methods.<method>.calibration)")
    return calibration


# --------------------------------------------------------------------------- running the model

@contextlib.contextmanager
def without_blocks(model, blocks: set[int]):
    """Temporarily run the model without some blocks (weights untouched, restored on exit)."""
    if family(model.config).per_layer_blocks or model.config.model_type in (
            "zamba2", "mllama_text_model"):
        with _passed_through(model, blocks):
            yield model
        return
    if family(model.config).rwkv_blocks:
        with _rwkv_passed_through(model, blocks):
            yield model
        return
    layers, n = decoder(model).layers, block_count(model.config)
    # Models of mixed sliding / full attention pick each layer's mask by config.layer_types[i]:
    # the per-block lists must lose the same entries as the layers (Bamba's attention blocks'
    # indices be renumbered), or later blocks get a neighbour's mask.
    kept = kept_block_lists(model.config, [i for i in range(n) if i not in blocks])
    lists = {key: getattr(model.config, key) for key in kept}
    set_layers(model, nn.ModuleList(layer for i, layer in enumerate(layers) if i not in blocks))
    set_block_count(model.config, len(decoder(model).layers))
    for key, values in kept.items():
        setattr(model.config, key, values)
    for i, layer in enumerate(decoder(model).layers):  # (Beam's: as remove_blocks renumbers)
        set_residual_places(layer, i)
    try:
        yield model
    finally:
        set_layers(model, layers)
        for i, layer in enumerate(layers):
            set_residual_places(layer, i)
        set_block_count(model.config, n)
        for key, values in lists.items():
            setattr(model.config, key, values)


class PassThrough(nn.Module):
    """A block left out while scoring: its input hidden states are its output."""

    def forward(self, hidden_states, *args, **kwargs):
        return hidden_states


@contextlib.contextmanager
def _passed_through(model, blocks: set[int]):
    """`without_blocks` for a Gemma 4 model: each left-out block replaced by a PassThrough in
    place, so that every other block keeps its index, by which the model hands it its per-layer
    input (its slice of the packed per-layer embedding), its mask and its keys' source: the
    same forward as the model with those blocks removed (modeling.remove_blocks). A block whose
    keys and values a kept block reuses cannot be left out (depth_kept_blocks). A Zamba2
    model's likewise: its shared blocks look each hybrid block's adapters up by the index the
    model hands it (which remove_blocks renumbers, with them), so a left-out hybrid block
    leaves the others on their own adapters, as a removal of whole cycles does. A Llama 3.2
    Vision model's too: MllamaTextModel skips its cross-attention blocks by their indices (in
    a list of its own, which remove_blocks renumbers)."""
    needed = sorted(set(blocks) & set(depth_kept_blocks(model.config)))
    if needed:
        raise PrunebenchError(
            f"blocks {needed} of this {family(model.config).model_class} model cannot be left "
            "out: a depth prune keeps them (depth_kept_blocks: Gemma 4's last block, Gemma 4's "
            "or Gemma 3n's blocks whose keys and values later blocks reuse, a Llama 3.2 Vision "
            "model's cross-attention blocks and its first block). Score other blocks: the "
            "depth methods never choose these (methods.sizing.removable_blocks)")
    layers = decoder(model).layers
    set_layers(model, nn.ModuleList(PassThrough() if i in blocks else layer
                                    for i, layer in enumerate(layers)))
    try:
        yield model
    finally:
        set_layers(model, layers)


class RwkvPassThrough(nn.Module):
    """An RWKV block left out while scoring: RwkvModel unpacks (hidden states, state,
    attentions) from each block; block 0's stand-in still runs pre_ln, the embeddings' norm,
    which a prune keeps (modeling.remove_blocks moves it to the block left first)."""

    def __init__(self, pre_ln: nn.Module | None = None):
        super().__init__()
        self.pre_ln = pre_ln

    def forward(self, hidden, state=None, **kwargs):
        return (hidden if self.pre_ln is None else self.pre_ln(hidden)), state, None


@contextlib.contextmanager
def _rwkv_passed_through(model, blocks: set[int]):
    """`without_blocks` for an RWKV model: each left-out block replaced by a RwkvPassThrough
    in place, every other block keeping its position, by which RwkvModel divides its output
    weights (layers_are_rescaled, set here first for the mode the model runs in: its forward
    would divide a stand-in's) and halves the hidden states after it: powers of two that scale
    the residual stream alike wherever a block is left out, so the same forward (but for the
    norms' epsilon) as the model with those blocks removed (modeling.remove_blocks), which
    divides by the new positions."""
    inner, layers = model.rwkv, decoder(model).layers
    inner._rescale_layers()  # (transformers' own: divides, or multiplies back in training)
    set_layers(model, nn.ModuleList(
        RwkvPassThrough(getattr(layer, "pre_ln", None)) if i in blocks else layer
        for i, layer in enumerate(layers)))
    try:
        yield model
    finally:
        set_layers(model, layers)


@torch.no_grad()
def calibration_nll(model, calibration: torch.Tensor, batch_size: int) -> float:
    """Mean next-token NLL over all calibration windows."""
    device = main_device(model)  # where inputs go, also for a dispatched model
    total, count = 0.0, 0
    for i in range(0, len(calibration), batch_size):
        batch = calibration[i:i + batch_size].to(device)
        logits = model(input_ids=batch, use_cache=False).logits.float()
        nll = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1),
                              reduction="sum")
        total += nll.item()
        count += batch[:, 1:].numel()
    return total / count


def nll_to_ppl(nll: float) -> float:
    """exp(nll), capped so that a diverging model gives a huge PPL rather than an overflow."""
    return math.exp(min(nll, 700.0))


def prune_one_shot(model, target_params: int, p: dict[str, Any], criterion: str,
                   score_blocks: Callable[[], tuple[list[float], dict[str, Any]]]) -> dict:
    """Score every block once, remove the k lowest among the removable ones.

    The block count is solved (and infeasible targets refused) before the possibly long scoring.
    `score_blocks()` returns (a score per block, higher = more important; extra report fields).
    """
    n = block_count(model.config)
    removable = depth_removable(model.config, p["protect_first"], p["protect_last"])
    k = solve_num_blocks(model.config, target_params, removable)
    check_kinds_left(model.config, removable, k)
    log.info("%s: scoring all %d blocks (the protected ones too, for the report) to remove %d "
             "of the removable %s", criterion, n, k, removable)
    scores, extra = score_blocks()
    if len(scores) != n:
        raise PrunebenchError(f"{criterion}: {len(scores)} block scores for {n} blocks")
    ranked = [ranked_score(s) for s in scores]
    ranking = sorted(removable, key=lambda b: (ranked[b], b))
    if whole_period(model.config):  # (Jamba's, Inkling 2's: sizing.solve_whole_periods)
        chosen, passed_over = sizing.whole_period_choice(model.config, removable, ranked, k), []
    elif model.config.model_type == "zamba2":  # (hybrid blocks in whole cycles)
        hybrid_count, _ = sizing.depth_mix(model.config, target_params, removable)
        chosen = sizing.zamba2_choice(model.config, removable, ranked, k, hybrid_count)
        passed_over = []
    elif (exact := sizing.mix_choice(model.config, removable, ranked, k,
                                     target_params)) is not None:
        chosen = exact  # (the least sum of the plan's mix; a source only with all its readers)
        last = max(ranking.index(b) for b in chosen)
        passed_over = [b for b in ranking[:last] if b not in chosen]
    else:
        if kolibri1_1_sources(model.config):
            log.warning("%s: this Kolibri-1.1 model's blocks read by others make more than %d "
                        "sets of sources to try for the removal of the least sum of scores "
                        "(sizing.readers_choice), so the blocks are taken by ranking instead, "
                        "a source once its readers have gone (sizing.kind_keeping_choice): a "
                        "removal of a smaller sum may be missed", criterion,
                        sizing.READERS_CHOICE_MOST)
        chosen, passed_over = kind_keeping_choice(model.config, ranking, k)
    removed = sorted(chosen)
    if passed_over:
        log.info("%s: blocks %s kept though they rank among the least important: each is "
                 "among the last blocks of a kind the model needs (%s), or read by a block kept "
                 "(sizing.may_remove), or kept for a removal of the plan's blocks of each "
                 "size, or of a source with its readers, of a smaller sum of scores "
                 "(sizing.mix_choice)", criterion, passed_over,
                 ", ".join(name for name, _, _ in depth_needed_kinds(model.config)) or "none")
    overflowed = [b for b in removable if not math.isfinite(scores[b])]
    if any(b in overflowed for b in removed):
        raise PrunebenchError(
            f"{criterion}: the scores of blocks {overflowed} are not finite numbers "
            f"({[scores[b] for b in overflowed]}) and {k} blocks must be removed of the "
            f"{len(removable) - len(overflowed)} with a finite score: the model or its "
            "calibration data is broken, or the scoring dtype overflows (score in float32 or "
            "bfloat16; check the token ids)")
    if overflowed:  # last here; the original's Python sort leaves a NaN's place undefined
        log.warning("%s: blocks %s have no finite score (%s: the model overflowed without them); "
                    "they rank as the most important, so none is removed", criterion, overflowed,
                    [scores[b] for b in overflowed])
    # (a Jamba or Inkling 2 prune's runs of blocks have no one last block removed and first
    # kept: none; nor a Zamba2 or Kolibri-1.1 prune's other than the k least-scored blocks,
    # its cycles or sources with their readers taken whole by the least sum; a prune of the
    # plan's blocks of each size takes each size's least-scored ones, cut as a kind's last
    # blocks passed over are)
    cut = (None if whole_period(model.config) or (
        model.config.model_type in ("zamba2", "kolibri1_1") and set(chosen) != set(ranking[:k]))
           else cut_margin([b for b in ranking if b not in passed_over], ranked, k))
    if cut is not None and cut["relative_gap"] < NEAR_TIE:
        log.warning("%s: a near tie decides the last block removed: block %d (score %.6g) is "
                    "removed and block %d (score %.6g) kept, %.3g%% apart; other numerics (GPU, "
                    "dtype, batch size, library versions) may swap them (the report's `cut`)",
                    criterion, cut["last_removed"], scores[cut["last_removed"]],
                    cut["first_kept"], scores[cut["first_kept"]], 100 * cut["relative_gap"])
    remove_blocks(model, removed)
    log.info("%s: removed blocks %s", criterion, removed)
    # A score that is not a number is written as null: JSON has no NaN or infinity.
    return {"criterion": criterion,
            "block_scores": [s if math.isfinite(s) else None for s in scores], "ranking": ranking,
            "removed_blocks": removed, "num_removed": k, "cut": cut,
            "kept_for_kind": passed_over,
            "protect_first": p["protect_first"], "protect_last": p["protect_last"], **extra}


# A relative score gap at the cut below which the choice of the last block removed is called a
# near tie. The study's own LLaMA-7B PPL ranking at 4.9B has one of 0.1% (block 9 removed at
# PPL 21.736, block 29 kept at 21.757), and Vicuna-13B's cuts are closer still.
NEAR_TIE = 0.005


def ranked_score(score: float) -> float:
    """A block's score as its ranking reads it: one that is not finite (a float16 overflow of
    the model without the block gives NaN) as +inf, the most important: never removed. SLEB's
    `loss < min_loss` never takes it either; the Shortened LLaMA criteria sort with Python's
    `sorted`, where a NaN key leaves the order around it undefined."""
    return score if math.isfinite(score) else math.inf


def layer_hidden(output):
    """A decoder layer's output hidden states: the tensor it returns (transformers 5) or the
    first item of the tuple it returns (4.x), or of the list OpenAI GPT's Block returns."""
    return output[0] if isinstance(output, (tuple, list)) else output


# The families whose blocks pass on hyper-connected residual streams, [batch, tokens, streams,
# hidden] (HY-V4's and DeepSeek-V4's hc_mult ones; Qwen4-Exp's hc_count ones already
# concatenated a token, [batch, tokens, streams x hidden]), and with Gemma 3n's AltUp streams
# those whose last block's output is compared as it leaves the block, the final norm reading
# one state made of them (HY-V4's and DeepSeek-V4's hc_head, Qwen4-Exp's
# hyper_connection_mixer, Gemma 3n's AltUp unembedding).
HYPER_CONNECTED = ("hy_v4", "deepseek_v4", "qwen4_exp_text")
STREAM_FAMILIES = ("gemma3n_text", *HYPER_CONNECTED)


def token_states(model, hidden: torch.Tensor) -> torch.Tensor:
    """A block's input or output hidden states token by token, [batch, tokens, features]: a
    Gemma 3n block's are its altup_num_inputs residual streams, [streams, batch, tokens,
    hidden], and an HY-V4 or DeepSeek-V4 block's its hc_mult ones, [batch, tokens, streams,
    hidden], each concatenated a token (the residual state the next block reads whole:
    ShortGPT's cosine and the angular distance count each token once, not once a stream); a
    Qwen4-Exp block's hc_count streams come so; other families' as they are."""
    model_type = getattr(model.config, "model_type", None)
    if model_type == "gemma3n_text":
        return hidden.permute(1, 2, 0, 3).flatten(2)
    if model_type in HYPER_CONNECTED:
        return hidden.flatten(2)
    return hidden


def cut_margin(ranking: list[int], scores: list[float], k: int) -> dict[str, Any] | None:
    """How clearly the scores separate the k blocks removed from those kept: the last block
    removed, the first kept, and their scores' gap relative to the larger (0: a tie). None when
    nothing or everything removable goes."""
    if not 0 < k < len(ranking):
        return None
    last, first = ranking[k - 1], ranking[k]
    if math.isinf(scores[first]):  # kept for a score that is not finite: no tie
        return {"last_removed": last, "first_kept": first, "relative_gap": 1.0}
    larger = max(abs(scores[last]), abs(scores[first]))
    gap = (scores[first] - scores[last]) / larger if larger else 0.0
    return {"last_removed": last, "first_kept": first, "relative_gap": gap}


# --------------------------------------------------------------------------- the PPL criterion

def ppl_scores(losses: LossMemo, n_blocks: int, kept: list[int] | tuple[int, ...] = (),
               left_out: Callable[[int], set[int]] = lambda block: {block}) -> list[float]:
    """PPL of the model with each single block removed (higher = more important); NaN (null
    in the report) for the blocks the model cannot do without (`kept`: depth_kept_blocks,
    Gemma 4's), never removed. A block that others read goes with them (`left_out`:
    sizing.with_readers, Kolibri-1.1's sources), so its PPL is the model's without all of
    them: no model runs without it alone."""
    scores = []
    for block in range(n_blocks):
        if block in kept:
            log.info("block %d (of %d): the model needs it (depth_kept_blocks), not scored",
                     block, n_blocks)
            scores.append(math.nan)
            continue
        start = time.perf_counter()
        scores.append(nll_to_ppl(losses.nll(left_out(block))))
        # Blocks are named by their index (0-based), as the removal lists and reports name them.
        log.info("block %d (of %d): PPL without it %.3f (%.1fs)", block, n_blocks, scores[-1],
                 time.perf_counter() - start)
    return scores


def calibration_losses(model, calibration: torch.Tensor, batch_size: int,
                       progress: ScoringProgress | None, loaded_dtype: str) -> LossMemo:
    """The calibration NLL of `model` (in its scoring dtype; its weights loaded in
    `loaded_dtype`) with any set of blocks left out, each computed once, and kept in
    `progress.folder` where given, so that an interrupted prune resumes (loss_memo)."""
    def compute(blocks: set[int]) -> float:
        with without_blocks(model, blocks):
            return calibration_nll(model, calibration, batch_size)

    return open_memo(compute, progress, model, calibration, batch_size, loaded_dtype)


def scoring_dtype(method: str, p: dict[str, Any], model=None) -> torch.dtype:
    """The `dtype` param of a method that scores the model by running it (depth_ppl, sleb,
    shortgpt; one of registry.SCORING_DTYPES, checked with the other parameters) as a torch
    dtype, refused where the model (when given) cannot run in it."""
    dtype = resolve_dtype(p["dtype"])
    # A model spread over devices may hold offloaded weights outside its modules, which a
    # cast would miss, and a copy of it would need a second device map's room.
    if model is not None and dtype != torch.float32 and getattr(model, "hf_device_map", None):
        raise PrunebenchError(
            f"{method}: dtype={p['dtype']} runs the model cast to it, which prunebench does not "
            "do to a model spread over devices (device_map): leave dtype at float32 there, or "
            "prune on one device")
    return dtype


def cast_copy(model, dtype: torch.dtype):
    """A copy of `model` in `dtype`, its parameters cast one by one into the copy: the memory
    of the cast weights beside the model's, where `copy.deepcopy(model).to(dtype)` first
    copied the weights in their own dtype (a float32 13B model: 52 GB more before the cast).
    Tied parameters stay tied (one cast tensor for both)."""
    # deepcopy takes an object it finds in its memo as that object's copy. What transformers
    # keeps in float32 at `dtype` (DeepSeek's routers) is copied in float32, as it runs there.
    kept = float32_kept(model, dtype)
    memo = {id(p): torch.nn.Parameter(p.detach().to(torch.float32 if kept(name) else dtype),
                                      requires_grad=p.requires_grad)
            for name, p in model.named_parameters()}
    return cast_floating(copy.deepcopy(model, memo), dtype)  # the floating-point buffers


@contextlib.contextmanager
def scored_in(model, dtype: torch.dtype):
    """The model to compute calibration losses with, in `dtype`.

    The blocks kept are the loaded weights, bit for bit, whatever the scoring dtype: a
    checkpoint stored in that dtype (the study's float16 LLaMA) is cast to it in place and back
    on exit, which is exact, since its values came from it; any other is scored on a cast copy
    (more memory: a 13B model's float16 copy is 26 GB).
    """
    loaded = next(model.parameters()).dtype
    in_place = dtype == loaded or dtype == config_dtype(model.config)
    scoring = cast_floating(model, dtype) if in_place else cast_copy(model, dtype)
    try:
        yield scoring
    finally:
        if in_place:
            model.to(loaded)  # exact: the values were this dtype's before they were loaded
        del scoring


@contextlib.contextmanager
def scored_losses(model, dtype: torch.dtype, calibration: torch.Tensor, batch_size: int,
                  progress: ScoringProgress | None):
    """The calibration losses of `model` run in `dtype` (scored_in), kept as they come where
    `progress` says (calibration_losses): what depth_ppl and SLEB score with."""
    loaded = dtype_name(model)  # before scored_in may cast it in place
    with scored_in(model, dtype) as scoring, \
            calibration_losses(scoring, calibration, batch_size, progress, loaded) as losses:
        yield losses


def prune_ppl(model, calibration: torch.Tensor, target_params: int,
              progress: ScoringProgress | None = None, **params) -> dict:
    """Depth pruning with the PPL criterion (one shot).

    The perplexities are computed in `dtype` (scored_in): float32 by default; float16 scores as
    the study did (its model was loaded with `.half()`). `progress`: where the losses are kept
    as they come, so that an interrupted prune resumes (loss_memo).
    """
    p = registry.checked_params("depth_ppl", params)
    dtype = scoring_dtype("depth_ppl", p, model)
    calibration = require_calibration("depth_ppl", calibration)

    def score():
        with scored_losses(model, dtype, calibration, p["batch_size"], progress) as losses:
            base_ppl = nll_to_ppl(losses.nll(set()))
            log.info("dense calibration PPL %.3f (%s)", base_ppl, p["dtype"])
            scores = ppl_scores(losses, block_count(model.config),
                                depth_kept_blocks(model.config),
                                lambda block: sizing.with_readers(model.config, block))
        return scores, {"calibration_ppl_dense": base_ppl, "dtype": p["dtype"],
                        "calibration_loss_counts": losses.counts()}

    return prune_one_shot(model, target_params, p, "ppl", score)


# What depth pruning will do to a model of this config, from the config alone: torch-free, in
# methods.sizing, where `prunebench plan` calls it.
plan = sizing.plan_depth_ppl
