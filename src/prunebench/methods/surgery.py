"""Width surgery: physically remove attention heads / KV groups and MLP channels, add output biases.

Every operation builds new, smaller `nn.Linear` modules (never masks) and then re-reads the
block's shape from its modules into `config.layer_shapes`, so `modeling.count_params(config)`
always equals the real parameter count and `save_model` / `load_model` round-trip the model.

Attention is removed in units of KV groups: a KV group is one key/value head together with the
query heads that read it (for multi-head attention a group is exactly one head). A block that
keeps no group gets `modeling.ZeroHeadAttention`, whose output is the o_proj bias alone.

The sizing helpers at the bottom (`shapes_with`, `config_with_shapes`, `solve_uniform`) work on
configs only, so a plan can be sized on the meta device without any weights.
"""

from __future__ import annotations

import copy
import logging
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import nn
from transformers import LlamaConfig

from prunebench import PrunebenchError
from prunebench.modeling import ZeroHeadAttention, count_params, head_dim, layer_shapes

log = logging.getLogger(__name__)

OUTPUT_MODULES = ("o_proj", "down_proj")


# --------------------------------------------------------------------------- reading shapes

def heads_per_group(config: LlamaConfig) -> int:
    """Query heads per KV group (constant across blocks: groups are removed whole)."""
    return config.num_attention_heads // config.num_key_value_heads


def read_layer_shape(layer: nn.Module, config: LlamaConfig) -> dict[str, Any]:
    """The shape entry of a block as its modules really are."""
    hd = head_dim(config)
    attn, mlp = layer.self_attn, layer.mlp
    if isinstance(attn, ZeroHeadAttention):
        n_q = n_kv = 0
    else:
        n_q, n_kv = attn.q_proj.out_features // hd, attn.k_proj.out_features // hd
    return {
        "num_attention_heads": n_q,
        "num_key_value_heads": n_kv,
        "intermediate_size": mlp.gate_proj.out_features,
        "o_proj_bias": attn.o_proj.bias is not None,
        "down_proj_bias": mlp.down_proj.bias is not None,
    }


def sync_layer_shapes(model: nn.Module) -> None:
    """Write every block's real shape into `config.layer_shapes`."""
    config = model.config
    config.layer_shapes = [read_layer_shape(layer, config) for layer in model.model.layers]


def _layer(model: nn.Module, layer_idx: int) -> nn.Module:
    n = len(model.model.layers)
    if not 0 <= layer_idx < n:
        raise PrunebenchError(f"block {layer_idx} does not exist: the model has {n} blocks (0..{n - 1})")
    return model.model.layers[layer_idx]


def _unique_indices(indices: Iterable[int], size: int, what: str, layer_idx: int) -> list[int]:
    out = sorted({int(i) for i in indices})
    if out and (out[0] < 0 or out[-1] >= size):
        raise PrunebenchError(f"block {layer_idx}: {what} indices {out} out of range 0..{size - 1}")
    return out


# --------------------------------------------------------------------------- slicing

def _sliced_linear(linear: nn.Linear, rows: Sequence[int] | None = None,
                   cols: Sequence[int] | None = None) -> nn.Linear:
    """A new Linear holding only the given output rows / input columns of `linear`."""
    weight = linear.weight.detach()
    bias = linear.bias.detach() if linear.bias is not None else None
    device = weight.device
    if rows is not None:
        idx = torch.as_tensor(list(rows), dtype=torch.long, device=device)
        weight = weight.index_select(0, idx)
        bias = bias.index_select(0, idx) if bias is not None else None
    if cols is not None:
        idx = torch.as_tensor(list(cols), dtype=torch.long, device=device)
        weight = weight.index_select(1, idx)
    new = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None,
                    device="meta", dtype=weight.dtype)
    new.weight = nn.Parameter(weight.clone(), requires_grad=linear.weight.requires_grad)
    if bias is not None:
        new.bias = nn.Parameter(bias.clone(), requires_grad=linear.bias.requires_grad)
    return new


def _channels_of(units: Sequence[int], width: int) -> list[int]:
    return [u * width + i for u in units for i in range(width)]


# --------------------------------------------------------------------------- attention

def remove_kv_groups(model: nn.Module, layer_idx: int, groups: Iterable[int]) -> None:
    """Remove KV groups (each: one K/V head and its query heads) from block `layer_idx`."""
    config = model.config
    layer = _layer(model, layer_idx)
    attn = layer.self_attn
    hd, rep = head_dim(config), heads_per_group(config)
    n_kv = 0 if isinstance(attn, ZeroHeadAttention) else attn.k_proj.out_features // hd
    drop = _unique_indices(groups, n_kv, "KV group", layer_idx)
    if not drop:
        return
    keep = [g for g in range(n_kv) if g not in set(drop)]
    if not keep:
        # Nothing of the attention remains but its output bias (if any).
        with warnings.catch_warnings():  # its placeholder 0-input Linear warns on init
            warnings.simplefilter("ignore", UserWarning)
            zero = ZeroHeadAttention(config, layer_idx, has_bias=attn.o_proj.bias is not None)
        zero.o_proj = _sliced_linear(attn.o_proj, cols=[])
        layer.self_attn = zero
    else:
        kv_rows = _channels_of(keep, hd)
        q_rows = _channels_of([g * rep + r for g in keep for r in range(rep)], hd)
        attn.q_proj = _sliced_linear(attn.q_proj, rows=q_rows)
        attn.k_proj = _sliced_linear(attn.k_proj, rows=kv_rows)
        attn.v_proj = _sliced_linear(attn.v_proj, rows=kv_rows)
        attn.o_proj = _sliced_linear(attn.o_proj, cols=q_rows)
    sync_layer_shapes(model)


def remove_heads(model: nn.Module, layer_idx: int, heads: Iterable[int]) -> None:
    """Remove query heads; with GQA they must make up whole KV groups (a KV head is shared)."""
    rep = heads_per_group(model.config)
    heads = sorted({int(h) for h in heads})
    groups = sorted({h // rep for h in heads})
    missing = sorted(set(_channels_of(groups, rep)) - set(heads)) if rep > 1 else []
    if missing:
        raise PrunebenchError(
            f"block {layer_idx}: heads {heads} split a KV group (each group has {rep} query heads "
            f"sharing one key/value head; missing {missing}): remove whole groups with "
            "remove_kv_groups")
    remove_kv_groups(model, layer_idx, groups)


# --------------------------------------------------------------------------- MLP

def remove_channels(model: nn.Module, layer_idx: int, channels: Iterable[int]) -> None:
    """Remove MLP channels: gate/up output rows and down_proj input columns."""
    mlp = _layer(model, layer_idx).mlp
    width = mlp.gate_proj.out_features
    drop = set(_unique_indices(channels, width, "MLP channel", layer_idx))
    if not drop:
        return
    keep = [c for c in range(width) if c not in drop]
    mlp.gate_proj = _sliced_linear(mlp.gate_proj, rows=keep)
    mlp.up_proj = _sliced_linear(mlp.up_proj, rows=keep)
    mlp.down_proj = _sliced_linear(mlp.down_proj, cols=keep)
    mlp.intermediate_size = len(keep)
    sync_layer_shapes(model)


# --------------------------------------------------------------------------- biases

def output_linear(model: nn.Module, layer_idx: int, module: str) -> nn.Linear:
    layer = _layer(model, layer_idx)
    if module == "o_proj":
        return layer.self_attn.o_proj
    if module == "down_proj":
        return layer.mlp.down_proj
    raise PrunebenchError(f"unknown output module {module!r}: choose one of {list(OUTPUT_MODULES)}")


def add_output_bias(model: nn.Module, layer_idx: int, module: str,
                    delta: torch.Tensor | None = None) -> None:
    """Add `delta` to the bias of o_proj / down_proj, creating a zero bias if there is none."""
    linear = output_linear(model, layer_idx, module)
    if linear.bias is None:
        w = linear.weight
        linear.bias = nn.Parameter(torch.zeros(w.shape[0], device=w.device, dtype=w.dtype),
                                   requires_grad=w.requires_grad)
    if delta is not None:
        if tuple(delta.shape) != (linear.out_features,):
            raise PrunebenchError(f"block {layer_idx}: {module} bias needs shape "
                                  f"({linear.out_features},), got {tuple(delta.shape)}")
        with torch.no_grad():
            linear.bias += delta.to(device=linear.bias.device, dtype=linear.bias.dtype)
    sync_layer_shapes(model)


# --------------------------------------------------------------------------- sizing on configs

def shapes_with(config: LlamaConfig, changes: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """The config's layer shapes with some entries updated (no model needed)."""
    shapes = [dict(s) for s in layer_shapes(config)]
    for idx, change in changes.items():
        shapes[idx].update(change)
    return shapes


def config_with_shapes(config: LlamaConfig, shapes: list[dict[str, Any]]) -> LlamaConfig:
    """A copy of `config` with the given per-block shapes (for closed-form counting)."""
    new = copy.deepcopy(config)
    new.layer_shapes = shapes
    return new


def shape_after_removal(config: LlamaConfig, shape: dict[str, Any], groups_removed: int,
                        channels_removed: int) -> dict[str, Any]:
    n_kv = shape["num_key_value_heads"] - groups_removed
    return dict(shape, num_key_value_heads=n_kv,
                num_attention_heads=n_kv * heads_per_group(config),
                intermediate_size=shape["intermediate_size"] - channels_removed)


RemovalRule = Callable[[int, float], int]


def uniform_shapes(config: LlamaConfig, blocks: Sequence[int], ratio: float,
                   groups_rule: RemovalRule, channels_rule: RemovalRule,
                   biases: bool = False) -> list[dict[str, Any]]:
    """Shapes after removing, in every listed block, what the rules give for `ratio`.

    A rule maps (units in the block, ratio) to the number of units removed, so each method
    keeps its original's rounding. `biases` adds o_proj / down_proj biases to every block.
    """
    shapes = [dict(s) for s in layer_shapes(config)]
    for i in blocks:
        s = shapes[i]
        shapes[i] = shape_after_removal(config, s, groups_rule(s["num_key_value_heads"], ratio),
                                        channels_rule(s["intermediate_size"], ratio))
    if biases:
        shapes = [dict(s, o_proj_bias=True, down_proj_bias=True) for s in shapes]
    return shapes


def solve_uniform(config: LlamaConfig, blocks: Sequence[int], target: int,
                  groups_rule: RemovalRule, channels_rule: RemovalRule, *,
                  biases: bool = False, tolerance: float = 0.01) -> dict[str, Any]:
    """Solve the uniform ratio whose pruned size is closest to `target` (bisection).

    The size is a non-increasing step function of the ratio, so bisection finds the step that
    crosses the target; the closer side wins. On small models one more head per block can be a
    step of several percent; when the best uniform ratio misses the target by more than
    `tolerance`, the heads of that ratio are kept and the number of MLP channels removed per
    block is solved alone (reported as `mlp_adjusted`). Raises PrunebenchError when the target
    cannot be reached within `tolerance`.
    """
    def count(shapes):
        return count_params(config_with_shapes(config, shapes))

    def at(ratio):
        return count(uniform_shapes(config, blocks, ratio, groups_rule, channels_rule, biases))

    dense = count_params(config)
    floor = at(1.0)
    if target > dense:
        raise PrunebenchError(f"target {target:,} params exceeds the model's {dense:,}: "
                              "choose a smaller target")
    if target < floor * (1 - tolerance):
        every = len(blocks) == config.num_hidden_layers
        # What the method's rules remove at their utmost (a method may keep every head).
        utmost = [shapes for i, shapes in enumerate(uniform_shapes(
            config, blocks, 1.0, groups_rule, channels_rule, biases)) if i in set(blocks)]
        removed = " and ".join(
            what for what, key in (("every head", "num_attention_heads"),
                                   ("every MLP channel", "intermediate_size"))
            if all(shape[key] == 0 for shape in utmost)) or "all the method can remove"
        raise PrunebenchError(
            f"target {target:,} params is unreachable: removing {removed} of "
            f"blocks {list(blocks)[0]}..{list(blocks)[-1]} still leaves {floor:,} (embeddings "
            f"{'and norms' if every else 'and other blocks'} stay); choose a larger target"
            + ("" if every else " or a wider block range"))
    lo, hi = 0.0, 1.0  # at(lo) > target >= at(hi) once the bracket is set
    if at(lo) <= target:
        hi = lo
    else:
        for _ in range(60):
            mid = (lo + hi) / 2
            if at(mid) <= target:
                hi = mid
            else:
                lo = mid
    ratio = min((lo, hi), key=lambda r: (abs(at(r) - target), r))
    shapes = uniform_shapes(config, blocks, ratio, groups_rule, channels_rule, biases)
    result = {"ratio": ratio, "shapes": shapes, "params": count(shapes), "mlp_adjusted": False}
    if abs(result["params"] - target) <= tolerance * target:
        return result
    # Fine step: keep this ratio's heads, choose how many MLP channels each block loses. The
    # size is linear in that number, so it is solved directly.
    base = layer_shapes(config)
    groups = {i: groups_rule(base[i]["num_key_value_heads"], ratio) for i in blocks}
    width = min(base[i]["intermediate_size"] for i in blocks)

    def with_channels(m):
        cand = [dict(s) for s in base]
        for i in blocks:
            cand[i] = shape_after_removal(config, cand[i], groups[i], m)
        if biases:
            cand = [dict(s, o_proj_bias=True, down_proj_bias=True) for s in cand]
        return cand

    n0 = count(with_channels(0))
    per_channel = n0 - count(with_channels(1)) if width else 0
    m = min(width, max(0, round((n0 - target) / per_channel))) if per_channel else 0
    shapes = with_channels(m)
    n = count(shapes)
    if abs(n - target) > tolerance * target:
        raise PrunebenchError(
            f"target {target:,} params is unreachable with a uniform ratio over blocks "
            f"{list(blocks)[0]}..{list(blocks)[-1]}: the closest size is {n:,}; choose another "
            "target or block range")
    log.info("uniform ratio %.4f misses the target by more than %.0f%%; removing %d MLP channels "
             "per block instead", ratio, tolerance * 100, m)
    return {"ratio": ratio, "shapes": shapes, "params": n, "mlp_adjusted": True,
            "mlp_channels_removed_per_block": m}


def block_range(n_blocks: int, start: int | None, end: int | None) -> list[int]:
    """Blocks start..end-1; defaults scale LLM-Pruner's 4..30 of 32 to any depth."""
    start = n_blocks // 8 if start is None else start
    end = n_blocks - n_blocks // 16 if end is None else end
    if not (isinstance(start, int) and isinstance(end, int)) or not 0 <= start < end <= n_blocks:
        raise PrunebenchError(
            f"block range {start}..{end} (end excluded) is out of bounds for {n_blocks} blocks: "
            f"choose 0 <= block_start < block_end <= {n_blocks}")
    return list(range(start, end))


def apply_shapes_check(model: nn.Module, expected_params: int) -> None:
    """After surgery: the closed form, the real numel and the plan must agree."""
    real = sum(p.numel() for p in model.parameters())
    closed = count_params(model.config)
    if not real == closed == expected_params:
        raise RuntimeError(f"surgery bookkeeping broke: real {real}, closed form {closed}, "
                           f"planned {expected_params}")
