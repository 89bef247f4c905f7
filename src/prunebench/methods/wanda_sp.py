"""Wanda-sp: structured Wanda, the baseline of the depth-pruning paper's tables.

What the original (CASIA-IVA-Lab/FLAP, lib/prune.py `prune_wanda_sp`) does, and this module
reproduces:
- calibration: 128 C4 windows of 128 tokens.
- blocks are pruned in sequence: block i's statistics come from inputs that went through the
  already pruned blocks 0..i-1; after block i is pruned its outputs are recomputed and feed
  block i+1. Both statistics of a block (o_proj and down_proj inputs) are gathered in one pass
  before that block is pruned.
- score of weight W_ij = |W_ij| * ||X_j||_2 (X_j: input channel j over all calibration tokens);
  a channel's score is the mean over the output rows; a head's score the sum over its head_dim
  channels (GQA: over all channels of the KV group's query heads).
- the same ratio p in every block: int(p * heads) heads and int(p * C) MLP channels removed,
  lowest scores first. No bias compensation.
Here p is solved by bisection so the pruned model reaches `target_params`. The original scales
||X_j||^2 by the number of windows; the scale is the same for every channel, so the ranking is.
"""

from __future__ import annotations

import logging

import torch

from prunebench import PrunebenchError, projections
from prunebench.checkpoint.param_count import refuse_moe, text_blocks
from prunebench.methods import registry, sizing
from prunebench.methods import surgery
from prunebench.methods.depth import layer_hidden
from prunebench.modeling import ZeroHeadAttention, count_params, layer_shapes

log = logging.getLogger(__name__)

DEFAULT_CALIBRATION = registry.default_calibration("wanda_sp")  # defined once, in the registry


class _Caught(Exception):
    """Raised by the last hook `block_inputs` needs, once it has what it needs of a batch."""


def attention_kinds(config) -> list[str]:
    """Each block's attention kind (`config.layer_types`: full or sliding), as the model picks
    the block's mask by it; one kind for all where the config names none."""
    return list(getattr(config, "layer_types", None) or ["full_attention"] * config.num_hidden_layers)


def block_inputs(model, calibration: torch.Tensor, batch_size: int) -> list[tuple[torch.Tensor, dict]]:
    """Per batch: the hidden states entering block 0 (the first a text forward runs:
    `text_blocks`), and for each attention kind the call
    kwargs (mask, rotary embeddings) the model gives a block of that kind.

    The model itself builds the kwargs, so every block can later be called exactly as the
    model calls it, whatever the transformers version. A model mixing sliding and full
    attention (Qwen2 / Qwen3 with `use_sliding_window`) gives the two kinds different masks once
    a window is longer than the sliding window: each kind's are taken at its first block.
    """
    kinds = attention_kinds(model.config)
    text = text_blocks(model.config)  # (a Llama 3.2 Vision cross-attention block runs not)
    first_of: dict[str, int] = {}
    for index in text:
        first_of.setdefault(kinds[index], index)
    last_needed = max(first_of.values())
    caught: list[tuple[torch.Tensor, dict]] = []
    batch: dict = {}

    def hook_for(kind: str, index: int):
        def hook(_module, args, kwargs):
            hidden = args[0] if args else kwargs["hidden_states"]
            if index == text[0]:
                batch["hidden"] = hidden.detach()
            batch.setdefault("kwargs", {})[kind] = {k: v for k, v in kwargs.items()
                                                   if k != "hidden_states"}
            if index == last_needed:
                raise _Caught
        return hook

    layers = projections.decoder(model).layers
    handles = [layers[index].register_forward_pre_hook(hook_for(kind, index), with_kwargs=True)
               for kind, index in first_of.items()]
    try:
        with torch.no_grad():
            for start in range(0, calibration.shape[0], batch_size):
                batch.clear()
                try:
                    model(input_ids=calibration[start:start + batch_size].to(model.device),
                          use_cache=False)
                except _Caught:
                    pass
                caught.append((batch["hidden"], batch["kwargs"]))
    finally:
        for handle in handles:
            handle.remove()
    return caught


def run_block(layer, kind: str, batches):
    """The block's outputs for each batch, called with its attention kind's kwargs; the
    batches' kwargs pass on unchanged for the next block."""
    outs = []
    for hidden, kwargs in batches:
        out = layer(hidden, **kwargs[kind])
        outs.append((layer_hidden(out), kwargs))
    return outs


class _SquareSum:
    def __init__(self):
        self.total = None

    def add(self, x: torch.Tensor) -> None:
        s = x.detach().reshape(-1, x.shape[-1]).double().pow(2).sum(0)
        self.total = s if self.total is None else self.total + s


def channel_scores(weight: torch.Tensor, square_sum: torch.Tensor) -> torch.Tensor:
    """mean_i |W_ij| * ||X_j||_2 per input channel j."""
    return (weight.detach().double().abs() * square_sum.sqrt().unsqueeze(0)).mean(0)


def prune(model, calibration: torch.Tensor, target_params: int, **params) -> dict:
    refuse_moe(model.config, "wanda_sp (width pruning)", keeps_heads=True)  # (ALiBi: MLPs alone)
    p = registry.checked_params("wanda_sp", params)
    if calibration is None or calibration.dim() != 2:
        raise PrunebenchError("wanda_sp needs calibration token ids of shape [n, L]")
    config = model.config
    # (Llama 3.2 Vision's cross-attention blocks, which a text forward passes over, neither
    # pruned nor run: sizing.width_blocks)
    blocks = sizing.width_blocks(config, range(config.num_hidden_layers))
    groups_rule, channels_rule = sizing.wanda_sp_rules()
    plan = surgery.solve_uniform(config, blocks, int(target_params), groups_rule, channels_rule)
    params_before = count_params(config)
    rep = surgery.heads_per_group(config)
    log.info("wanda_sp: ratio %.4f -> %d params", plan["ratio"], plan["params"])

    batches = block_inputs(model, calibration, p["batch_size"])
    kinds = attention_kinds(config)
    per_block = []
    with torch.no_grad():
        for b in blocks:
            layer = projections.decoder(model).layers[b]
            sums = {"o_proj": _SquareSum(), "down_proj": _SquareSum()}
            handles = [m.register_forward_pre_hook(lambda _m, args, s=sums[name]: s.add(args[0]))
                       for name, m in (("o_proj", projections.o_proj(layer.self_attn)),
                                       ("down_proj", projections.down_proj(
                                           projections.block_mlp(layer)))) if m.in_features]
            run_block(layer, kinds[b], batches)
            for h in handles:
                h.remove()
            want = plan["shapes"][b]
            drop_g: list[int] = []
            if not isinstance(layer.self_attn, ZeroHeadAttention):
                n_kv = layer_shapes(config)[b]["num_key_value_heads"]
                heads = channel_scores(projections.o_proj(layer.self_attn).weight, sums["o_proj"].total)
                group_scores = heads.view(n_kv, -1).sum(1)
                drop_g = surgery.worst_groups(config, group_scores,
                                              n_kv - want["num_key_value_heads"])
                surgery.remove_kv_groups(model, b, drop_g)
            mlp = projections.block_mlp(layer)
            width = projections.mlp_width(mlp)
            drop_c: list[int] = []
            if width:
                ch = channel_scores(projections.down_proj(mlp).weight, sums["down_proj"].total)
                drop_c = torch.argsort(ch, stable=True)[:width - want["intermediate_size"]].tolist()
                surgery.remove_channels(model, b, drop_c)
            # The next block sees this block's pruned outputs.
            batches = run_block(projections.decoder(model).layers[b], kinds[b], batches)
            kept = layer_shapes(config)[b]
            per_block.append({
                "block": b,
                "removed_heads": sorted(g * rep + r for g in drop_g for r in range(rep)),
                "heads_kept": kept["num_attention_heads"],
                "channels_kept": kept["intermediate_size"],
                "channels_removed": len(drop_c),
            })
            log.info("wanda_sp: block %d (of %d) pruned", b, len(blocks))  # 0-based, as reported
    surgery.apply_shapes_check(model, plan["params"])
    return {
        "method": "wanda_sp",
        "ratio": plan["ratio"],
        "mlp_adjusted": plan["mlp_adjusted"],
        "target_params": int(target_params),
        "params_before": params_before,
        "params_after": plan["params"],
        "target_error": (plan["params"] - target_params) / target_params,
        "calibration_tokens": int(calibration.numel()),
        "blocks": per_block,
    }


# The solved uniform ratio and exact size, from the config alone: torch-free, in methods.sizing,
# where `prunebench plan` calls it.
plan = sizing.plan_wanda_sp
