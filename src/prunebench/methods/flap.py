"""FLAP (An et al. 2024): fluctuation-based adaptive structured pruning, retraining-free.

What the original (CASIA-IVA-Lab/FLAP, lib/prune.py `prune_flap`) does, and this module
reproduces:
- statistics from the DENSE model: hooks on the inputs of o_proj and down_proj record, per
  input channel, the mean and the variance over all calibration tokens (original: WikiText-2
  train, 1024 windows of 128 tokens).
- metrics: IFV = Var(x_j); WIFV (default) = Var(x_j) * ||W[:, j]||^2; WIFN =
  mean_i |W_ij| * sqrt(mean x_j^2). The attention (o_proj) metric is squared.
- structure AL-AM (default): standardise each layer's attention channel scores and MLP channel
  scores separately ((x - mean) / std over the layer), a head scores the mean of its
  standardised channels, heads and MLP channels are pooled over all blocks, sorted, and the
  best are kept up to the budget. UL-UM: the same ratio p in every block, int(p * heads) heads
  (score = sum of the head's channel metrics) and int(p * C) channels removed per block.
- bias compensation: the removed channels' mean contribution W[:, removed] @ mean(x_removed)
  is added to the o_proj / down_proj bias; every block gets both biases (as the original's
  modified LLaMA has them). A block may end with zero heads: its attention is the bias alone.

Differences, on purpose:
- budget: the original pools with a head costing 512/3 MLP channels written into an integer
  tensor (so 170) and cuts where the cumulative cost is closest to (1 - p) of the total; here
  every unit costs its exact parameter count (a head 4 * d * head_dim, a channel 3 * d, i.e.
  4 * head_dim / 3 channels; an ungated MLP's channel 2 * d: Arcee's, Nemotron's,
  Starcoder2's, Phi's, Apertus's) and the cut is where the whole model is closest to
  `target_params`. The original also keeps only units strictly above the cut's score, one unit
  fewer; here exactly the units up to the cut are kept.
- statistics (`statistics: exact`, the default): per-channel mean and variance over every
  calibration token, exactly (Chan's parallel update in float64). The original estimates them
  with its own streaming update, one window at a time (`statistics: upstream`, config/paper.yaml):
  the mean is the running mean of window means, but the fluctuation adds nothing for the first
  window and, because its "old mean" aliases the updated one, each later window adds its squared
  deviations from the mean after the update, divided by the window count rather than the token
  count. That is not the per-token variance up to a scale: on the tiny model 1-3% of the MLP
  channels FLAP keeps differ between the two.
- GQA: attention is pooled per KV group (its query heads' channels averaged).
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from prunebench import PrunebenchError, projections
from prunebench.checkpoint.param_count import (head_shards, heads_removable, refuse_moe,
                                               text_blocks)
from prunebench.methods import registry, sizing
from prunebench.methods import surgery
from prunebench.logs import Progress
# AL-AM's floor is known from the config alone: torch-free, in methods.sizing, which plans FLAP.
from prunebench.methods.sizing import al_am_floor, compensated_shapes
from prunebench.checkpoint.param_count import normed_outputs as normed_outputs_of
from prunebench.modeling import (ZeroHeadAttention, block_param_count, count_params, head_dim,
                                 layer_shapes)

log = logging.getLogger(__name__)

DEFAULT_CALIBRATION = registry.default_calibration("flap")  # defined once, in the registry


# --------------------------------------------------------------------------- statistics

class ChannelStats:
    """Per-channel mean and variance of a module's input over every token (float64)."""

    def __init__(self):
        self.n = 0
        self.mean = None
        self.m2 = None

    def add(self, x: torch.Tensor) -> None:
        x = x.detach().reshape(-1, x.shape[-1]).double()
        nb = x.shape[0]
        if nb == 0:
            return
        mean_b = x.mean(0)
        m2_b = (x - mean_b).pow(2).sum(0)
        if self.n == 0:
            self.n, self.mean, self.m2 = nb, mean_b, m2_b
            return
        n = self.n + nb
        delta = mean_b - self.mean
        self.mean = self.mean + delta * nb / n
        self.m2 = self.m2 + m2_b + delta.pow(2) * self.n * nb / n
        self.n = n

    @property
    def var(self) -> torch.Tensor:
        return self.m2 / max(self.n - 1, 1)

    @property
    def mean_square(self) -> torch.Tensor:
        return self.m2 / self.n + self.mean.pow(2)


class UpstreamStats:
    """The original's streaming estimate (FLAP lib/layerwrapper.py, BiasGPT.add_batch), fed one
    calibration window at a time as its prune_flap does, in float64:

        mean <- mean * n/(n+1) + window_mean / (n+1)
        fluc <- 0 for the first window, else fluc * (n-1)/n + sum_t (x_t - mean)^2 / (n+1)
        sq   <- sq * n/(n+1) + sum_t x_t^2 / (n+1)           (WIFN's input norm)

    where `mean` in the fluctuation is the already-updated one (the original's old mean is an
    alias of the same tensor). `var` is `fluc`, `mean_square` is `sq`.
    """

    def __init__(self):
        self.n = 0
        self.mean = self.var = self.mean_square = None

    def add(self, x: torch.Tensor) -> None:
        x = x.detach().double()
        for window in x.reshape(-1, *x.shape[-2:]):  # [L, C] each, in calibration order
            self._add_window(window)

    def _add_window(self, w: torch.Tensor) -> None:
        n = self.n
        if n == 0:
            self.mean = w.mean(0)
            self.var = torch.zeros_like(self.mean)
            self.mean_square = w.pow(2).sum(0)
        else:
            self.mean = self.mean * n / (n + 1) + w.mean(0) / (n + 1)
            self.var = self.var * (n - 1) / n + (w - self.mean).pow(2).sum(0) / (n + 1)
            self.mean_square = self.mean_square * n / (n + 1) + w.pow(2).sum(0) / (n + 1)
        self.n = n + 1


def collect_stats(model, calibration: torch.Tensor, batch_size: int,
                  statistics: str = "exact") -> list[dict[str, ChannelStats | UpstreamStats]]:
    """Input statistics of every block's o_proj and down_proj on the dense model."""
    kind = UpstreamStats if statistics == "upstream" else ChannelStats
    stats = [{"o_proj": kind(), "down_proj": kind()} for _ in projections.decoder(model).layers]
    handles = []
    for i in text_blocks(model.config):  # (Llama 3.2 Vision's cross-attention blocks: no text)
        layer = projections.decoder(model).layers[i]
        for name, module in (("o_proj", projections.o_proj(layer.self_attn)),
                             ("down_proj", projections.down_proj(projections.block_mlp(layer)))):
            if module.in_features == 0:
                continue  # a block already without heads / channels has nothing to score
            handles.append(module.register_forward_pre_hook(
                lambda _m, args, s=stats[i][name]: s.add(args[0])))
    progress = Progress(log, "flap: statistics windows", calibration.shape[0])
    try:
        with torch.no_grad():
            for start in range(0, calibration.shape[0], batch_size):
                batch = calibration[start:start + batch_size].to(model.device)
                model(input_ids=batch, use_cache=False)
                progress.update(start + len(batch))
    finally:
        for h in handles:
            h.remove()
    return stats


def channel_metric(weight: torch.Tensor, stats: ChannelStats, metric: str) -> torch.Tensor:
    """Per input channel of an output projection (float64, on the weight's device)."""
    w = weight.detach().double()
    if metric == "IFV":
        return stats.var.clone()
    if metric == "WIFV":
        return stats.var * w.pow(2).sum(0)
    return (w.abs() * stats.mean_square.sqrt().unsqueeze(0)).mean(0)  # WIFN


def standardise(x: torch.Tensor) -> torch.Tensor:
    """(x - mean) / std over one layer; a constant layer standardises to zeros."""
    if x.numel() < 2:
        return torch.zeros_like(x)
    std = x.std()
    return (x - x.mean()) / std if std > 0 else torch.zeros_like(x)


# --------------------------------------------------------------------------- selection

def _scores(model, stats, metric: str) -> list[dict[str, torch.Tensor | None]]:
    """Raw per-channel metrics: attention squared, as in the original."""
    out = []
    text = set(text_blocks(model.config))
    for b, (layer, st) in enumerate(zip(projections.decoder(model).layers, stats)):
        attn = None
        if b not in text:  # a Llama 3.2 Vision cross-attention block: kept whole, unscored
            out.append({"attn": None, "mlp": None})
            continue
        if not isinstance(layer.self_attn, ZeroHeadAttention):
            attn = channel_metric(projections.o_proj(layer.self_attn).weight, st["o_proj"], metric).pow(2).cpu()
        mlp = None
        down = projections.down_proj(projections.block_mlp(layer))
        if down.in_features:  # (the MLP's width)
            mlp = channel_metric(down.weight, st["down_proj"], metric).cpu()
        out.append({"attn": attn, "mlp": mlp})
    return out


def _unit_costs(config, shape: dict[str, Any]) -> tuple[int, int, int]:
    """Exact parameter cost of a block's first unit of heads, of each further unit, and of one
    MLP channel. A unit is a KV group, or one head of each shard of a sharded qkv_proj
    (CodeGen's four: `_head_units`). The first unit also brings what a block with any
    attention has once, whatever its heads: Qwen3's q/k norms (one head_dim vector each,
    shared by the heads)."""
    rep, size = surgery.heads_per_group(config), head_shards(config)

    def attention(groups):
        return block_param_count(config, dict(shape, num_key_value_heads=groups,
                                              num_attention_heads=groups * rep))

    channel = (block_param_count(config, dict(shape, intermediate_size=1))
               - block_param_count(config, dict(shape, intermediate_size=0)))
    return (attention(size) - attention(0), attention(2 * size) - attention(size), channel)


def _head_units(config, scores: torch.Tensor) -> list[tuple[float, tuple[int, ...]]]:
    """A block's units of heads FLAP's AL-AM pools, (score, its KV groups): each group alone;
    of a sharded qkv_proj (CodeGen's four shards: `head_shards`), whose shards keep as many
    heads each, the j-th best head of every shard together, scored by their mean (so a block
    keeps its units best first: each shard's j-th best scores no lower than its j+1-th)."""
    shards = head_shards(config)
    if shards == 1:
        return [(float(s), (g,)) for g, s in enumerate(scores)]
    per = len(scores) // shards
    ranked = [s * per + torch.argsort(scores[s * per:(s + 1) * per], descending=True,
                                      stable=True) for s in range(shards)]
    return [(float(scores[[int(r[j]) for r in ranked]].mean()),
             tuple(int(r[j]) for r in ranked)) for j in range(per)]


def plan_al_am(config, scores, target: int, biases: bool) -> dict[str, Any]:
    """Pool standardised head and channel scores of all blocks, keep the best up to the budget."""
    shapes = compensated_shapes(config, biases)
    floor = al_am_floor(config, target, biases)
    costs_of = [_unit_costs(config, shape) for shape in shapes]
    units = []  # (score, block, kind, index)
    kept = []  # an ALiBi model's KV groups, all kept outside the pool (its floor holds them)
    for b, sc in enumerate(scores):
        if sc["attn"] is not None and not heads_removable(config):
            kept += [(0.0, b, "group", (g,)) for g in range(shapes[b]["num_key_value_heads"])]
        elif sc["attn"] is not None:
            n_kv = shapes[b]["num_key_value_heads"]
            head_scores = standardise(sc["attn"]).view(n_kv, -1).mean(1)
            units += [(s, b, "group", groups) for s, groups in _head_units(config, head_scores)]
        if sc["mlp"] is not None:
            units += [(float(s), b, "channel", c) for c, s in enumerate(standardise(sc["mlp"]))]
    order = sorted(range(len(units)), key=lambda k: -units[k][0])  # stable: ties keep order
    costs, attended = [], set()  # attended: blocks that keep a group before this unit
    for k in order:
        _, b, kind, _ = units[k]
        first_group, further_group, channel = costs_of[b]
        if kind == "channel":
            costs.append(channel)
        else:
            costs.append(further_group if b in attended else first_group)
            attended.add(b)
    costs = torch.tensor(costs, dtype=torch.float64)
    totals = floor + torch.cat([torch.zeros(1, dtype=torch.float64), costs.cumsum(0)])
    n_keep = int(torch.argmin((totals - target).abs()))
    keep = kept + [units[k] for k in order[:n_keep]]
    threshold = units[order[n_keep - 1]][0] if n_keep else None
    return _masks_from_keep(config, shapes, keep) | {"threshold": threshold, "ratio": None}


def _masks_from_keep(config, shapes, keep) -> dict[str, Any]:
    kept_groups = [set() for _ in shapes]
    kept_channels = [set() for _ in shapes]
    for _score, b, kind, idx in keep:
        if kind == "group":  # (a unit of groups: `_head_units`)
            kept_groups[b].update(idx)
        else:
            kept_channels[b].add(idx)
    return {"kept_groups": [sorted(k) for k in kept_groups],
            "kept_channels": [sorted(k) for k in kept_channels]}


def plan_ul_um(config, scores, target: int, biases: bool) -> dict[str, Any]:
    """Uniform ratio in every block (solved to the target); lowest-scoring units removed."""
    blocks = sizing.width_blocks(config, range(config.num_hidden_layers))
    plan = surgery.solve_uniform(config, blocks, target,
                                 lambda n, p: int(p * n), lambda n, p: int(n * p), biases=biases)
    keep = []
    for b, (sc, shape) in enumerate(zip(scores, plan["shapes"])):
        if sc["attn"] is not None:
            n_kv = layer_shapes(config)[b]["num_key_value_heads"]
            head_scores = sc["attn"].view(n_kv, -1).sum(1)
            if head_shards(config) == 1:
                best = torch.argsort(head_scores, descending=True, stable=True)
                kept = best[:shape["num_key_value_heads"]].tolist()
            else:  # CodeGen's: the best of each shard, as many in each
                drop = surgery.worst_groups(config, head_scores,
                                            n_kv - shape["num_key_value_heads"])
                kept = sorted(set(range(n_kv)) - set(drop))
            keep += [(0.0, b, "group", (int(g),)) for g in kept]
        if sc["mlp"] is not None:
            best = torch.argsort(sc["mlp"], descending=True, stable=True)
            keep += [(0.0, b, "channel", int(c)) for c in best[:shape["intermediate_size"]]]
    return _masks_from_keep(config, plan["shapes"], keep) | {
        "threshold": None, "ratio": plan["ratio"], "mlp_adjusted": plan["mlp_adjusted"]}


# --------------------------------------------------------------------------- prune

def prune(model, calibration: torch.Tensor, target_params: int, **params) -> dict:
    refuse_moe(model.config, "flap (width pruning)", keeps_heads=True)  # (ALiBi: MLPs alone)
    p = registry.checked_params("flap", params)
    if calibration is None or calibration.dim() != 2:
        raise PrunebenchError("flap needs calibration token ids of shape [n, L]")
    config = model.config
    target = int(target_params)
    biases = p["bias_compensation"]
    params_before = count_params(config)
    if p["structure"] == "UL-UM":  # size check before any work
        blocks = sizing.width_blocks(config, range(config.num_hidden_layers))
        surgery.solve_uniform(config, blocks, target, lambda n, r: int(r * n),
                              lambda n, r: int(n * r), biases=biases)

    stats = collect_stats(model, calibration, p["batch_size"], p["statistics"])
    scores = _scores(model, stats, p["metric"])
    plan = (plan_al_am if p["structure"] == "AL-AM" else plan_ul_um)(config, scores, target, biases)

    hd, rep = head_dim(config), surgery.heads_per_group(config)
    normed_outputs = normed_outputs_of(config)
    per_block = []
    with torch.no_grad():
        for b in text_blocks(config):  # (Llama 3.2 Vision's cross-attention blocks: whole)
            layer = projections.decoder(model).layers[b]
            st = stats[b]
            n_kv = layer_shapes(config)[b]["num_key_value_heads"]
            drop_g = sorted(set(range(n_kv)) - set(plan["kept_groups"][b]))
            width = projections.mlp_width(projections.block_mlp(layer))
            drop_c = sorted(set(range(width)) - set(plan["kept_channels"][b]))
            o_bias = d_bias = None
            if biases:
                # Mean contribution of what is removed, from the dense model's statistics. A
                # sublayer emptied whole gets none where a norm follows its output (Gemma-2, OLMo-2):
                # the norm would scale that mean up to a full-size constant output.
                if drop_g and not (normed_outputs and len(drop_g) == n_kv):
                    cols = torch.tensor([c for g in drop_g for c in range(g * rep * hd, (g + 1) * rep * hd)])
                    w = projections.o_proj(layer.self_attn).weight.detach().double()
                    o_bias = w[:, cols.to(w.device)] @ st["o_proj"].mean[cols.to(w.device)]
                if drop_c and not (normed_outputs and len(drop_c) == width):
                    cols = torch.tensor(drop_c)
                    w = projections.down_proj(projections.block_mlp(layer)).weight.detach().double()
                    d_bias = w[:, cols.to(w.device)] @ st["down_proj"].mean[cols.to(w.device)]
                surgery.add_output_bias(model, b, "o_proj", o_bias)
                surgery.add_output_bias(model, b, "down_proj", d_bias)
            surgery.remove_kv_groups(model, b, drop_g)
            surgery.remove_channels(model, b, drop_c)
            per_block.append({
                "block": b,
                "kept_heads": [g * rep + r for g in plan["kept_groups"][b] for r in range(rep)],
                "channels_kept": width - len(drop_c),
                "channels_removed": len(drop_c),
                # which of o_proj / down_proj got a compensation (every block's two get a bias,
                # zero where nothing was removed, as FLAP's own code gives them one: the
                # checkpoint has one shape in every block, and its size counts them)
                "compensated": [name for name, bias in (("o_proj", o_bias), ("down_proj", d_bias))
                                if bias is not None],
            })
    params_after = count_params(config)
    surgery.apply_shapes_check(model, params_after)
    report = {
        "method": "flap",
        "structure": p["structure"],
        "metric": p["metric"],
        "bias_compensation": biases,
        "calibration_tokens": int(calibration.numel()),
        "threshold": plan["threshold"],
        "ratio": plan["ratio"],
        "target_params": target,
        "params_before": params_before,
        "params_after": params_after,
        "target_error": (params_after - target) / target,
        "blocks": per_block,
    }
    if "mlp_adjusted" in plan:
        report["mlp_adjusted"] = plan["mlp_adjusted"]
    if abs(params_after - target) > 0.01 * target:
        log.warning("flap: pruned size %d is more than 1%% from the target %d", params_after, target)
    return report


# What FLAP will do, from the config alone: torch-free, in methods.sizing, where `prunebench
# plan` calls it.
plan = sizing.plan_flap
