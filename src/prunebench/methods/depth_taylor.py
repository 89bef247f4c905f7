"""Depth pruning with the Taylor+ criterion (Shortened LLaMA, Kim et al. 2024).

A block's importance is the sum over all its weights (attention, MLP and its RMSNorms; the
embeddings, final norm and LM head are not in a block; biases are not scored) of |w * dL/dw|,
L the mean causal-LM loss over the calibration windows (the original: 10 BookCorpus windows of
128 tokens in one batch, float32; with several batches, L is the sum of their mean losses, as
in its script).
The "+" rule keeps the first 4 and the last 2 blocks; `protect_first: 0, protect_last: 0` turns
it off. The k lowest-scoring blocks are removed in one shot.

Memory: |w * g| is reduced per block by a post-accumulate-grad hook as soon as a parameter's
gradient is final, and that gradient is dropped at once, so a single calibration batch costs
about the weights plus one block's gradients; with gradient checkpointing the activations are
one block's as well, so LLaMA-7B in float32 fits one 80 GB GPU. Several micro-batches
(`batch_size` < n) must keep the accumulated gradients until the last one (|.| is not linear).
"""

from __future__ import annotations

import contextlib
import logging
import math

import torch

from prunebench import PrunebenchError
from prunebench.checkpoint.param_count import block_count, is_moe, is_scored_weight, zamba2_slot
from prunebench.methods import registry, sizing
from prunebench.methods.depth import prune_one_shot, require_calibration
from prunebench.checkpoint.device_map import main_device
from prunebench.modeling import (base_dropout_off, is_activation_checkpointing, resolve_dtype,
                                 set_activation_checkpointing, sparse_block)
from prunebench.projections import decoder

log = logging.getLogger(__name__)

DEFAULT_CALIBRATION = registry.default_calibration("depth_taylor")  # defined once, in the registry
# Compute dtype (`dtype`): float32 runs as is (a half-precision model is upcast for the pass and
# cast back, which is exact); a half type runs the forward/backward under autocast, so the
# weights and their gradients stay in the model's own dtype.


@contextlib.contextmanager
def _gradient_mode(model, checkpointing: bool, float32: bool):
    """Only the blocks' weights need gradients (biases are not scored); training mode (required
    by HF for gradient checkpointing) but with the model's dropout off (attention's, and
    Seed-OSS's on the sublayers' outputs) so the loss is the deterministic one; every setting
    restored on exit."""
    requires = {p: p.requires_grad for p in model.parameters()}
    was_training = model.training
    was_checkpointing = is_activation_checkpointing(model)
    # Parameters only: buffers such as the rotary frequencies keep their own dtype.
    dtypes = {p: p.dtype for p in model.parameters()}
    with base_dropout_off(model):
        try:
            for p in model.parameters():
                p.requires_grad_(False)
                p.grad = None
            for name, p in decoder(model).layers.named_parameters():
                p.requires_grad_(is_scored_weight(name))
            if float32:
                for p in model.parameters():
                    p.data = p.data.float()
            model.train()
            if is_moe(model.config):
                # A router may route otherwise in training mode (PhiMoE's sparsemixer samples its
                # second expert; Mixtral's jitter noise): the scores are those of the model as it
                # runs, so the mixtures of experts route as in eval mode.
                for layer in decoder(model).layers:
                    sparse_block(layer).eval()
            if checkpointing and not was_checkpointing:
                set_activation_checkpointing(model, True)
            yield
        finally:
            if checkpointing and not was_checkpointing:
                set_activation_checkpointing(model, False)
            model.train(was_training)
            for p, dtype in dtypes.items():
                p.data = p.data.to(dtype)
            for p, r in requires.items():
                p.requires_grad_(r)
                p.grad = None


# float16's gradients underflow: a logit's gradient is about p / N (1 / 32000 / 1270 for the
# study's 10 x 128 windows on LLaMA: 2.5e-8), below float16's smallest subnormal, so autocast's
# cast flushes most of them to zero and the block scores move by tenths of a percent, the size
# of the near ties between blocks. The loss is scaled as the GradScaler's first scale does
# (and the sums unscaled, exactly: a power of two); a pass whose sums overflow runs again at a
# smaller scale. bfloat16 and float32 have float32's range and need none.
FLOAT16_LOSS_SCALE = 2.0 ** 16
LOSS_SCALE_STEP = 2.0 ** 4


def taylor_scores(model, calibration: torch.Tensor, batch_size: int = 10, dtype: str = "float32",
                  gradient_checkpointing: bool = True) -> tuple[list[float], float]:
    """(per block sum of |w * G| over its weights, the calibration loss): G is the sum over the
    batches of the gradient of each batch's mean loss, and biases are not scored, as in the
    study's script (`anal_block_sensitivity_taylor.py`: one `loss.backward()` per batch, every
    parameter named `weight` but the embeddings). One batch (the default, 10 of 10) is the
    gradient of the mean loss. Under float16 the loss is scaled (FLOAT16_LOSS_SCALE)."""
    compute = resolve_dtype(dtype)
    scale = FLOAT16_LOSS_SCALE if compute == torch.float16 else 1.0
    while True:
        sums, loss = _scaled_sums(model, calibration, batch_size, compute,
                                  gradient_checkpointing, scale)
        if all(math.isfinite(x) for x in sums):
            return [x / scale for x in sums], loss
        if scale <= 1.0:
            raise PrunebenchError(
                f"depth_taylor: the gradients overflow {dtype} (block scores {sums}): use "
                "dtype bfloat16 or float32")
        smaller = max(1.0, scale / LOSS_SCALE_STEP)
        log.warning("depth_taylor: the %s gradients overflowed at loss scale %g; again at %g",
                    dtype, scale, smaller)
        scale = smaller


def _scaled_sums(model, calibration: torch.Tensor, batch_size: int, compute: torch.dtype,
                 gradient_checkpointing: bool, scale: float) -> tuple[list[float], float]:
    """One forward/backward pass over the calibration: the per block sums of |w * scale * G|
    and the (unscaled) mean loss."""
    device = main_device(model)  # where inputs go, also for a dispatched model
    n_rows = calibration.shape[0]
    batches = [calibration[i:i + batch_size] for i in range(0, n_rows, batch_size)]
    sums = torch.zeros(block_count(model.config), dtype=torch.float64, device=device)
    state = {"last": False}

    def reducer(block: int):
        def hook(param: torch.Tensor) -> None:
            if state["last"]:  # the gradient is complete: reduce it and free it right away
                # .to(): with a device map the block's weights may sit on another device.
                sums[block] += (param.detach().float() * param.grad.float()).abs().sum(
                    dtype=torch.float64).to(sums.device)
                param.grad = None
        return hook

    autocast = (contextlib.nullcontext() if compute == torch.float32
                else torch.autocast(device_type=device.type, dtype=compute))
    handles = []
    total_loss = 0.0
    with _gradient_mode(model, gradient_checkpointing, compute == torch.float32):
        try:
            for i, layer in enumerate(decoder(model).layers):
                handles += [p.register_post_accumulate_grad_hook(reducer(i))
                            for name, p in layer.named_parameters()
                            if is_scored_weight(name, zamba2_slot(model.config, i))]
            for j, batch in enumerate(batches):
                state["last"] = j == len(batches) - 1
                batch = batch.to(device)
                with autocast:
                    loss = model(input_ids=batch, labels=batch, use_cache=False).loss.float()
                if not torch.isfinite(loss):
                    raise PrunebenchError(f"depth_taylor: calibration loss is {loss.item()}; the model "
                                          "or its calibration data is broken (check dtype and token ids)")
                # each batch's mean loss weighs 1 (times the scale), as in the study's script
                (loss * scale).backward()
                total_loss += loss.item() * batch.shape[0] / n_rows  # the mean over windows
        finally:
            for h in handles:
                h.remove()
    return sums.tolist(), total_loss


def prune(model, calibration: torch.Tensor, target_params: int, **params) -> dict:
    """Depth pruning with Taylor+ (one shot)."""
    p = registry.checked_params("depth_taylor", params)
    calibration = require_calibration("depth_taylor", calibration)

    def score():
        log.info("depth_taylor: forward/backward on %d x %d calibration tokens (%s, checkpointing %s)",
                 *calibration.shape, p["dtype"], p["gradient_checkpointing"])
        scores, loss = taylor_scores(model, calibration, p["batch_size"], p["dtype"],
                                     p["gradient_checkpointing"])
        return scores, {"calibration_loss": loss, "dtype": p["dtype"],
                        "gradient_checkpointing": p["gradient_checkpointing"]}

    return prune_one_shot(model, target_params, p, "taylor", score)


# Sized from the config alone: torch-free, in methods.sizing, where `prunebench plan` calls it.
plan = sizing.plan_depth_taylor
