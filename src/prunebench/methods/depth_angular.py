"""Angular-distance layer pruning (Gromov et al. 2024, "The Unreasonable Ineffectiveness of the
Deeper Layers"): remove the n consecutive blocks whose input and output are closest in angle.

For n blocks to remove, the angular distance of the block run starting at block l is

    d(l, n) = arccos(cos(x_l, x_{l+n})) / pi

where x_l is the residual stream entering block l (x_L, for L blocks, is what the last block
produced, before the final norm) at the last token of a calibration window, averaged over the
windows. The run l*..l*+n-1 of the smallest d is removed whole, in one shot (the paper's
"similarity-informed" pruning; its QLoRA "healing" is this pipeline's `+lora`). The states are
read by hooks on the blocks, as ShortGPT's are (`output_hidden_states` would give the final
norm's output as x_L).

n is solved from the target size as for every depth method (`methods.sizing`), and the run may
only cover removable blocks (`protect_first` / `protect_last`, off by default as in the paper).
Calibration: the paper's is C4's validation set; the default here is C4's train shard (the only
split calibration draws from), 128 windows of 2048 tokens as GPTQ-era code cuts them.
"""

from __future__ import annotations

import logging
import math

import torch

from prunebench import PrunebenchError
from prunebench.checkpoint.device_map import main_device
from prunebench.checkpoint.param_count import cross_attention_blocks
from prunebench.methods import registry, sizing
from prunebench.methods.depth import (NEAR_TIE, cut_margin, layer_hidden, ranked_score,
                                      require_calibration, scored_in, scoring_dtype,
                                      token_states)
from prunebench.methods.sizing import (check_kinds_left, depth_removable, run_starts,
                                       solve_num_blocks)
from prunebench.modeling import remove_blocks
from prunebench.projections import decoder

log = logging.getLogger(__name__)

DEFAULT_CALIBRATION = registry.default_calibration("depth_angular")  # defined once, in the registry


@torch.no_grad()
def last_token_states(model, calibration: torch.Tensor, batch_size: int = 8) -> torch.Tensor:
    """The residual stream at each window's last token, entering every block and leaving the
    last one: float64 `[L + 1, n_windows, hidden]` on the CPU (row l: block l's input; row L:
    the last block's output, before the final norm; HY-V4's and DeepSeek-V4's hc_mult streams
    concatenated, of hc_mult x hidden)."""
    layers = decoder(model).layers
    last = len(layers) - 1
    device = main_device(model)  # where inputs go, also for a dispatched model
    batches: list[list[torch.Tensor | None]] = []
    current: list[torch.Tensor | None] = []
    ran: list = [None]
    skipped = set(cross_attention_blocks(model.config))  # (on text: nothing to attend to)

    def keep(position, hidden):
        # (HY-V4's and DeepSeek-V4's hc_mult streams, Gemma 3n's AltUp ones: concatenated, the
        # residual state a block reads whole, token_states)
        hidden = token_states(model, hidden)
        current[position] = hidden[:, -1].flatten(1).detach().to("cpu", torch.float64)

    def before(i):
        def hook(module, args, kwargs):
            keep(i, args[0] if args else kwargs["hidden_states"])
        return hook

    def after(module, args, kwargs, output):
        ran[0] = output  # (the last block that ran: the model's output before its final norm)

    handles = [layer.register_forward_pre_hook(before(i), with_kwargs=True)
               for i, layer in enumerate(layers)]
    handles += [layer.register_forward_hook(after, with_kwargs=True) for layer in layers]
    try:
        for j in range(0, len(calibration), batch_size):
            current, ran = [None] * (last + 2), [None]
            model.model(input_ids=calibration[j:j + batch_size].to(device), use_cache=False)
            keep(last + 1, layer_hidden(ran[0]))
            # A block the model skips (Llama 3.2 Vision's cross-attention blocks on text)
            # passes its input on: what enters it is what enters the next. Any other block
            # that did not run is no state to guess.
            if unrun := [p for p in range(last + 1)
                         if current[p] is None and p not in skipped]:
                raise PrunebenchError(
                    f"depth_angular: block(s) {unrun} did not run in the model's forward, so "
                    "their input states are unknown (only a Llama 3.2 Vision model's "
                    "cross-attention blocks are skipped on text): the model's blocks and its "
                    "config's num_hidden_layers must agree")
            for p in reversed(range(last + 1)):
                if current[p] is None:
                    current[p] = current[p + 1]
            batches.append(current)
    finally:
        for h in handles:
            h.remove()
    return torch.stack([torch.cat([batch[p] for batch in batches]) for p in range(last + 2)])


def angular_distances(states: torch.Tensor, n: int) -> list[float]:
    """d(l, n) for every start l = 0..L-n (states: last_token_states'): the windows' mean of
    arccos(cos(x_l, x_{l+n})) / pi, 0 for a run that passes its input on unchanged in
    direction, 1 for one that reverses it."""
    if not 1 <= n < len(states):
        raise PrunebenchError(f"angular distance over {n} blocks of a model with "
                              f"{len(states) - 1}: choose 1 <= n <= {len(states) - 1}")
    a, b = states[:-n], states[n:]
    cos = torch.nn.functional.cosine_similarity(a, b, dim=-1)  # [starts, windows], float64
    return (torch.arccos(cos.clamp(-1.0, 1.0)) / math.pi).mean(dim=1).tolist()


def prune(model, calibration: torch.Tensor, target_params: int, **params) -> dict:
    """Angular-distance pruning: the run of consecutive removable blocks of the smallest
    angular distance, as many as the target size asks for, removed in one shot. The model runs
    in `dtype` (float32 by default); the distances are computed in float64 either way."""
    p = registry.checked_params("depth_angular", params)
    sizing.refuse_runs_of_looped_blocks(model.config)
    dtype = scoring_dtype("depth_angular", p, model)
    calibration = require_calibration("depth_angular", calibration)
    removable = depth_removable(model.config, p["protect_first"], p["protect_last"])
    # (refused before scoring; of a Zamba2 or Kolibri-1.1 model, a mix some run holds)
    k = solve_num_blocks(model.config, target_params, removable, "depth_angular")
    check_kinds_left(model.config, removable, k)
    log.info("angular distance: %d consecutive blocks to remove, starting at one of blocks "
             "%d..%d", k, removable[0], removable[-1] - k + 1)
    starts = run_starts(model.config, removable, k, target_params)  # (before scoring)
    with scored_in(model, dtype) as scoring:
        states = last_token_states(scoring, calibration, p["batch_size"])
    distances = angular_distances(states, k)  # every start, the protected ones too (the report)
    ranked = [ranked_score(d) for d in distances]
    ranking = sorted(starts, key=lambda s: (ranked[s], s))  # ties: the earlier run
    best = ranking[0]
    if not math.isfinite(distances[best]):
        raise PrunebenchError(
            f"depth_angular: no run of {k} removable blocks has a finite angular distance "
            f"({[distances[s] for s in starts]}): the model or its calibration data is broken, "
            "or the scoring dtype overflows (score in float32 or bfloat16; check the token ids)")
    margin = cut_margin(ranking, ranked, 1)  # the best start against the next: one run goes
    cut = None if margin is None else {"removed_start": best,
                                       "first_kept_start": margin["first_kept"],
                                       "relative_gap": margin["relative_gap"]}
    if cut is not None and cut["relative_gap"] < NEAR_TIE:
        second = cut["first_kept_start"]
        log.warning("angular distance: a near tie decides the run removed: blocks %d..%d "
                    "(distance %.6g) are removed and the run from block %d (%.6g) kept, "
                    "%.3g%% apart; other numerics (GPU, dtype, batch size, library versions) "
                    "may swap them (the report's `cut`)", best, best + k - 1, distances[best],
                    second, distances[second], 100 * cut["relative_gap"])
    removed = list(range(best, best + k))
    remove_blocks(model, removed)
    log.info("angular distance: removed blocks %s (distance %.6g)", removed, distances[best])
    return {"criterion": "angular_distance",
            "start_distances": [d if math.isfinite(d) else None for d in distances],
            "ranking": ranking, "start": best, "removed_blocks": removed, "num_removed": k,
            "cut": cut, "windows": int(states.shape[1]), "protect_first": p["protect_first"],
            "protect_last": p["protect_last"], "dtype": p["dtype"]}


# Sized from the config alone: torch-free, in methods.sizing, where `prunebench plan` calls it.
plan = sizing.plan_depth_angular
