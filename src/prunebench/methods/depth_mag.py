"""Depth pruning with the Mag+ criterion (Shortened LLaMA, Kim et al. 2024): data-free.

A block's importance is the sum of |w| over all its weights (attention, MLP and its RMSNorms;
not the biases some families have), times the passes it runs a token (Dory's recurrent blocks
run each loop: param_count.block_passes), each pass applying its weights once more.
The "+" rule keeps the first 4 and the last 2 blocks (`protect_first: 0, protect_last: 0` turns
it off); the k lowest-scoring blocks are removed in one shot. No calibration data is read.
"""

from __future__ import annotations

import logging

import torch

from prunebench.checkpoint.param_count import block_passes, is_scored_weight, zamba2_slot
from prunebench.methods import registry, sizing
from prunebench.methods.depth import prune_one_shot
from prunebench.projections import decoder

log = logging.getLogger(__name__)

# Unused (the criterion reads no data); kept because every method names the original's
# calibration, and the original's script passes the Taylor+ one.
DEFAULT_CALIBRATION = registry.default_calibration("depth_mag")  # defined once, in the registry


@torch.no_grad()
def magnitude_scores(model) -> list[float]:
    """Per block, the sum of |w| over its weights (accumulated in float64); biases are not
    scored, as in the study's script (every parameter named `weight`; a mixture of experts' fused
    expert weights too: `is_scored_weight`), times the block's passes a token
    (`block_passes`)."""
    return [passes * float(sum(p.detach().abs().sum(dtype=torch.float64)
                               for name, p in layer.named_parameters()
                               if is_scored_weight(name, zamba2_slot(model.config, i))))
            for i, (layer, passes) in enumerate(zip(decoder(model).layers,
                                                    block_passes(model.config)))]


def prune(model, calibration: torch.Tensor | None, target_params: int, **params) -> dict:
    """Depth pruning with Mag+ (one shot); `calibration` is ignored."""
    p = registry.checked_params("depth_mag", params)
    return prune_one_shot(model, target_params, p, "magnitude", lambda: (magnitude_scores(model), {}))


# Sized from the config alone: torch-free, in methods.sizing, where `prunebench plan` calls it.
plan = sizing.plan_depth_mag
