"""ShortGPT (Men et al. 2024): remove the blocks with the lowest Block Influence, in one shot.

BI of a block = 1 - the mean, over all calibration tokens, of the cosine similarity between the
block's input and output hidden states (the residual stream before and after it). Both are taken
by hooks on the block itself: `output_hidden_states` (which the authors' code reads) gives the
final RMSNorm's output as the last block's "output", which is not what that block produced
(`last_block: final_norm` reads it so, to reproduce that code's ranking).

A block that runs several times a token (Dory's recurrent blocks, one pass a loop:
param_count.block_passes) scores the sum of its passes' BI, each pass's input against its
output: removing it removes every pass, as removing a block run once removes one.

Calibration: the original cuts every PG19 validation book in 256-token chunks
(`calibration: {source: pg19, n: 32768, length: 256, sampling: row_chunks}` does so here); the
default is WikiText-2 train, 128 windows of 2048 tokens (long running text, as PG19's books are,
at a fraction of the tokens). Set `methods.shortgpt.calibration` to use another source.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F

from prunebench.methods import registry, sizing
from prunebench.methods.depth import (layer_hidden, prune_one_shot, require_calibration, scored_in,
                                      scoring_dtype, token_states, STREAM_FAMILIES)
from prunebench.checkpoint.device_map import main_device
from prunebench.checkpoint.param_count import block_passes
from prunebench.modeling import final_norm
from prunebench.projections import decoder

log = logging.getLogger(__name__)

DEFAULT_CALIBRATION = registry.default_calibration("shortgpt")  # defined once, in the registry


@torch.no_grad()
def block_influence(model, calibration: torch.Tensor, batch_size: int = 8,
                    last_block: str = "output") -> list[float]:
    """BI per block (0 for a block whose output equals its input). `last_block`
    (registry.SHORTGPT_LAST_BLOCK): what the last block's input is compared with, what it
    produced ("output", the paper's definition) or that after the model's final norm
    ("final_norm", as the authors' code reads it from `output_hidden_states`). A block run
    several times a token (`block_passes`) scores its passes' BI summed."""
    layers = decoder(model).layers
    last = len(layers) - 1
    device = main_device(model)  # where inputs go, also for a dispatched model
    cos_sum = torch.zeros(len(layers), dtype=torch.float64, device=device)
    streams = getattr(model.config, "model_type", None) in STREAM_FAMILIES
    inputs: dict[int, torch.Tensor] = {}

    def before(i):
        def hook(module, args, kwargs):
            inputs[i] = args[0] if args else kwargs["hidden_states"]
        return hook

    def after(i):
        def hook(module, args, kwargs, output):
            out = layer_hidden(output)
            # (Gemma 3n: output_hidden_states gives the last block's own output, its AltUp
            # streams, not the final norm's; HY-V4's and DeepSeek-V4's final norm reads
            # hc_head's one state, not comparable with the streams entering: both compared as
            # the streams the block passes on, token_states)
            if i == last and last_block == "final_norm" and not streams:
                out = final_norm(model)(out).to(out.device)
            # Under a device map, the input is seen before accelerate moves it to this block's
            # device, and the final norm may sit on another: compared where the output is.
            entering = token_states(model, inputs.pop(i).to(out.device))
            cos = F.cosine_similarity(entering.float(), token_states(model, out).float(), dim=-1)
            cos_sum[i] += cos.sum(dtype=torch.float64).to(cos_sum.device)  # device maps
        return hook

    handles = []
    tokens = 0
    try:
        for i, layer in enumerate(layers):
            handles.append(layer.register_forward_pre_hook(before(i), with_kwargs=True))
            handles.append(layer.register_forward_hook(after(i), with_kwargs=True))
        for j in range(0, len(calibration), batch_size):
            batch = calibration[j:j + batch_size].to(device)
            model.model(input_ids=batch, use_cache=False)  # the LM head is not needed
            tokens += batch.numel()
    finally:
        for h in handles:
            h.remove()
    passes = torch.tensor(block_passes(model.config), dtype=torch.float64, device=device)
    return (passes - cos_sum / tokens).tolist()


def prune(model, calibration: torch.Tensor, target_params: int, **params) -> dict:
    """ShortGPT. The model runs in `dtype` (float32 by default; the original loads it in
    float16); the cosine similarities are computed in float32 either way."""
    p = registry.checked_params("shortgpt", params)
    dtype = scoring_dtype("shortgpt", p, model)
    calibration = require_calibration("shortgpt", calibration)

    def score():
        with scored_in(model, dtype) as scoring:
            scores = block_influence(scoring, calibration, p["batch_size"], p["last_block"])
        return scores, {"dtype": p["dtype"], "last_block": p["last_block"]}

    return prune_one_shot(model, target_params, p, "block_influence", score)


# Sized from the config alone: torch-free, in methods.sizing, where `prunebench plan` calls it.
plan = sizing.plan_shortgpt
