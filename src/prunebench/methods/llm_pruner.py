"""LLM-Pruner (Ma et al. 2023), block-wise: first-order Taylor importance, uniform ratio.

What the original (horseee/LLM-Pruner, `hf_prune.py --block_wise --pruner_type taylor
--taylor param_first`) does, and this module reproduces:
- groups: an attention head = its q/k/v output rows + its o_proj input columns (whole heads);
  an MLP channel = its gate/up output rows + its down_proj input column (an ungated MLP's,
  Arcee's, Nemotron's, Starcoder2's, Phi's and Apertus's: its up row + its down_proj
  column). GQA models (the original's llama3.py) prune whole KV groups: a K/V head together
  with its query heads.
- importance `param_first`: per weight |w * dL/dw|, summed over each channel's row/column,
  summed over the group's members; a head's score is the sum over its head_dim channels.
  Gradients come from ONE forward/backward of the causal-LM loss on the calibration batch
  (original: 10 BookCorpus windows of 64 tokens). `param_second` (|w^2 * F|, F the per-sample
  Fisher diagonal), `param_mix` (|w*g - w^2 F / 2|) and `vectorize` (|sum of w*g|) are the
  original's other variants.
- the same ratio p in every block of the range (original for 32 blocks: 4..29, i.e. start 4,
  end 30 excluded); per block it removes `C - int(C * (1 - p))` channels, for attention
  rounded down to whole heads (torch-pruning's local pruning with consecutive groups).
  Default range for n blocks: start n // 8, end n - n // 16 (4..30 for 32 blocks, 5..38 for 40).

The original takes p from the command line; here p is solved by bisection on the closed-form
parameter count so the model reaches `target_params` (or `ratio` is given explicitly).
"""

from __future__ import annotations

import contextlib
import functools
import logging

import torch

from prunebench import PrunebenchError, projections
from prunebench.checkpoint.param_count import refuse_moe
from prunebench.methods import registry, sizing
from prunebench.methods import surgery
from prunebench.logs import Progress
# LLM-Pruner's sizing from the config alone (its removal rules, the ratio solved or checked
# against the target) is torch-free, in methods.sizing; named here too, where its callers find it.
from prunebench.methods.sizing import (channels_removed, check_ratio_meets_target,  # noqa: F401
                                       groups_rule, pruned_layer_shapes, pruned_param_count)
from prunebench.modeling import ZeroHeadAttention, count_params, head_dim

log = logging.getLogger(__name__)

DEFAULT_CALIBRATION = registry.default_calibration("llm_pruner")  # defined once, in the registry


# --------------------------------------------------------------------------- importance

# Weights whose input columns (not output rows) are a group's channels.
COLUMN_WEIGHTS = ("o_proj", "down_proj")


def _prunable_weights(layer) -> dict[str, torch.nn.Parameter]:
    """The block's projection weights by LLaMA's part names (Phi-3's packed qkv_proj /
    gate_up_proj whole: their row scores are split into q, k, v and gate, up after the
    backward)."""
    return projections.scored_weights(layer, not isinstance(layer.self_attn, ZeroHeadAttention))


def _fisher(model, calibration: torch.Tensor, weights: list[torch.nn.Parameter]) -> list[torch.Tensor]:
    """Per-sample squared gradients averaged over the samples (the original's `acc_grad`)."""
    acc = [torch.zeros_like(w, dtype=torch.float32) for w in weights]
    n = calibration.shape[0]
    progress = Progress(log, "llm_pruner: per-window gradients (Fisher)", n)
    for j in range(n):
        sample = calibration[j:j + 1]
        model(input_ids=sample, labels=sample).loss.backward()
        for a, w in zip(acc, weights):
            a += w.grad.float().pow(2) / n
            w.grad = None
        progress.step()
    return acc


@contextlib.contextmanager
def _forward_progress(model):
    """Progress over the blocks of one forward pass: the scoring pass is a single call over the
    whole calibration batch, which on a large model (or one offloaded to CPU) runs for minutes."""
    layers = projections.decoder(model).layers
    progress = Progress(log, "llm_pruner: forward (blocks)", len(layers))
    handles = [layer.register_forward_hook(lambda *_: progress.step()) for layer in layers]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _salience(w: torch.Tensor, g: torch.Tensor, fisher: torch.Tensor | None, taylor: str):
    w, g = w.detach().float(), g.float()
    if taylor == "param_second":
        return w * fisher * w
    if taylor == "param_mix":
        return w * g - 0.5 * w * fisher * w
    return w * g


def _rows(s: torch.Tensor, taylor: str) -> torch.Tensor:
    """Score per output row (a channel produced by the layer)."""
    return s.sum(1).abs() if taylor == "vectorize" else s.abs().sum(1)


def _cols(s: torch.Tensor, taylor: str) -> torch.Tensor:
    """Score per input column (a channel consumed by the layer)."""
    return s.sum(0).abs() if taylor == "vectorize" else s.abs().sum(0)


def taylor_scores(model, calibration: torch.Tensor, blocks: list[int],
                  taylor: str = "param_first") -> dict[int, dict[str, torch.Tensor]]:
    """Group scores per block: {"groups": [n_kv], "channels": [intermediate]} (float32, CPU).

    A KV group's score sums every member channel: its query heads' q rows and o_proj columns,
    its K and V rows. For multi-head attention that is exactly the head score of the original.
    """
    layers = projections.decoder(model).layers
    requires = {p: p.requires_grad for p in model.parameters()}
    for p in model.parameters():
        p.requires_grad_(False)
    named = {i: _prunable_weights(layers[i]) for i in blocks}
    weights = [w for i in blocks for w in named[i].values()]
    for w in weights:
        w.requires_grad_(True)
        w.grad = None
    try:
        fisher = None
        if taylor in ("param_second", "param_mix"):
            fisher = dict(zip(map(id, weights), _fisher(model, calibration, weights)))
        # Each weight's |w * g| is reduced to its rows or columns the moment its gradient is
        # final, and the gradient freed: peak memory is the weights plus one weight's gradient,
        # not weights + all gradients (a 13B model in fp32 then fits one 80 GB GPU).
        reduced: dict[int, torch.Tensor] = {}

        def reduce_and_free(kind, w):
            sal = _salience(w, w.grad, fisher[id(w)] if fisher else None, taylor)
            reduced[id(w)] = _rows(sal, taylor) if kind == "rows" else _cols(sal, taylor)
            w.grad = None
            backward.step()  # `backward` is made just before the backward pass, below

        handles = [w.register_post_accumulate_grad_hook(
                       functools.partial(reduce_and_free, "cols" if k in COLUMN_WEIGHTS else "rows"))
                   for i in blocks for k, w in named[i].items()]
        log.info("llm_pruner: forward/backward on %d x %d calibration tokens", *calibration.shape)
        try:
            with _forward_progress(model):
                loss = model(input_ids=calibration, labels=calibration).loss
            if not torch.isfinite(loss):
                raise PrunebenchError(f"llm_pruner: calibration loss is {loss.item()}; the model "
                                      "or its calibration data is broken (check dtype and token ids)")
            # The backward's progress: a weight is scored the moment its gradient is final.
            backward = Progress(log, "llm_pruner: backward (weights scored)", len(weights))
            loss.backward()
        finally:
            for handle in handles:
                handle.remove()
        scores = {}
        hd = head_dim(model.config)
        for i in blocks:
            r = projections.part_tensors(layers[i], hd,
                                         {k: reduced[id(w)] for k, w in named[i].items()})
            out = {}
            if "q_proj" in r:
                n_kv = r["k_proj"].shape[0] // hd
                q = r["q_proj"] + r["o_proj"]
                kv = r["k_proj"] + r["v_proj"]
                out["groups"] = (q.view(n_kv, -1).sum(1) + kv.view(n_kv, -1).sum(1)).cpu()
            else:
                out["groups"] = torch.zeros(0)
            # gate/up rows and down_proj columns (an ungated MLP's: up rows alone, no gate term)
            out["channels"] = sum(r[name] for name in (*projections.MLP_PARTS, "down_proj")
                                  if name in r).cpu()
            scores[i] = out
    finally:
        for p, r in requires.items():
            p.requires_grad_(r)
            p.grad = None
    return scores


def _summary(x: torch.Tensor) -> dict[str, float]:
    if x.numel() == 0:
        return {}
    return {"min": float(x.min()), "mean": float(x.mean()), "max": float(x.max())}


# --------------------------------------------------------------------------- prune

def prune(model, calibration: torch.Tensor, target_params: int, **params) -> dict:
    refuse_moe(model.config, "llm_pruner (width pruning)", keeps_heads=True)  # (ALiBi: MLPs alone)
    p = registry.checked_params("llm_pruner", params)
    if calibration is None or calibration.dim() != 2 or calibration.shape[1] < 2:
        raise PrunebenchError("llm_pruner needs calibration token ids of shape [n, L] with L >= 2")
    config = model.config
    # (of them, the blocks a text forward runs: sizing.width_blocks)
    blocks = sizing.width_blocks(config, surgery.block_range(
        config.num_hidden_layers, p["block_start"], p["block_end"]))
    rule = groups_rule(config)
    if p["ratio"] is not None:  # checked with the other parameters
        ratio = float(p["ratio"])
        shapes = surgery.uniform_shapes(config, blocks, ratio, rule, channels_removed)
        plan = {"ratio": ratio, "shapes": shapes, "mlp_adjusted": False,
                "params": count_params(surgery.config_with_shapes(config, shapes))}
        check_ratio_meets_target(ratio, plan["params"], int(target_params))
    else:
        plan = surgery.solve_uniform(config, blocks, int(target_params), rule, channels_removed)
    params_before = count_params(config)
    log.info("llm_pruner: ratio %.4f over blocks %d..%d -> %d params", plan["ratio"], blocks[0],
             blocks[-1], plan["params"])

    scores = taylor_scores(model, calibration.to(model.device), blocks, p["taylor"])
    rep = surgery.heads_per_group(config)
    per_block = []
    with torch.no_grad():
        for i in blocks:
            want = plan["shapes"][i]
            s = scores[i]
            n_groups_drop = len(s["groups"]) - want["num_key_value_heads"]
            n_ch_drop = len(s["channels"]) - want["intermediate_size"]
            drop_g = surgery.worst_groups(config, s["groups"], n_groups_drop)
            drop_c = torch.argsort(s["channels"], stable=True)[:n_ch_drop].tolist()
            surgery.remove_kv_groups(model, i, drop_g)
            surgery.remove_channels(model, i, drop_c)
            kept = sorted(set(range(len(s["groups"]))) - set(drop_g))
            per_block.append({
                "block": i,
                "kept_heads": [g * rep + r for g in kept for r in range(rep)],
                "removed_heads": sorted(g * rep + r for g in drop_g for r in range(rep)),
                "group_scores": [float(x) for x in s["groups"]],
                "channels_kept": len(s["channels"]) - n_ch_drop,
                "channels_removed": n_ch_drop,
                "channel_scores": _summary(s["channels"]),
            })
    surgery.apply_shapes_check(model, plan["params"])
    report = {
        "method": "llm_pruner",
        "taylor": p["taylor"],
        "block_start": blocks[0], "block_end": blocks[-1] + 1,
        "ratio": plan["ratio"],
        "ratio_solved": p["ratio"] is None,
        "mlp_adjusted": plan["mlp_adjusted"],
        "target_params": int(target_params),
        "params_before": params_before,
        "params_after": plan["params"],
        "target_error": (plan["params"] - target_params) / target_params if target_params else None,
        "blocks": per_block,
    }
    if plan["mlp_adjusted"]:
        report["mlp_channels_removed_per_block"] = plan["mlp_channels_removed_per_block"]
    return report


# The solved ratio and exact size, from the config alone: torch-free, in methods.sizing, where
# `prunebench plan` calls it.
plan = sizing.plan_llm_pruner
