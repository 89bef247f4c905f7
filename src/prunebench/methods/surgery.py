"""Width surgery: physically remove attention heads / KV groups and MLP channels, add output biases.

Every operation builds new, smaller `nn.Linear` modules (never masks) and then re-reads the
block's shape from its modules into `config.layer_shapes`, so `modeling.count_params(config)`
always equals the real parameter count and `save_model` / `load_model` round-trip the model.

Phi-3 packs q/k/v and gate/up into one module each: the same rows leave it
(prunebench.projections). Attention is removed in units of KV groups: a KV group is one key/value head together with the
query heads that read it (for multi-head attention a group is exactly one head). A block that
keeps no group gets `modeling.ZeroHeadAttention`, whose output is the o_proj bias alone.

The sizing helpers (`heads_per_group`, `config_with_shapes`, `uniform_shapes`, `solve_uniform`,
`block_range`) work on configs only and live in the torch-free
`methods.sizing`, so that a plan is sized without torch; they are imported here too, for the
code that finds them here.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import nn
from transformers import LlamaConfig

from prunebench import PrunebenchError, projections
from prunebench.checkpoint.param_count import attention_sinks, head_shards, refuse_moe, text_blocks
from prunebench.methods.sizing import (block_range, config_with_shapes,  # noqa: F401
                                       heads_per_group, solve_uniform, uniform_shapes)
from prunebench.modeling import ZeroHeadAttention, count_params, family, head_dim, norm_like

OUTPUT_MODULES = ("o_proj", "down_proj")


# --------------------------------------------------------------------------- reading shapes

def read_layer_shape(layer: nn.Module, config: LlamaConfig) -> dict[str, Any]:
    """The shape entry of a block as its modules really are (a Llama 3.2 Vision
    cross-attention block's, kept whole, by its cross_attn)."""
    attn = layer.cross_attn if hasattr(layer, "cross_attn") else layer.self_attn
    mlp = projections.block_mlp(layer)
    n_q, n_kv = projections.attention_heads(attn, head_dim(config))
    return {
        "num_attention_heads": n_q,
        "num_key_value_heads": n_kv,
        "intermediate_size": projections.mlp_width(mlp),
        "o_proj_bias": projections.o_proj(attn).bias is not None,
        "down_proj_bias": projections.down_proj(mlp).bias is not None,
    }


def sync_layer_shapes(model: nn.Module) -> None:
    """Write every block's real shape into `config.layer_shapes`."""
    config = model.config
    config.layer_shapes = [read_layer_shape(layer, config) for layer in projections.decoder(model).layers]


def _layer(model: nn.Module, layer_idx: int) -> nn.Module:
    n = len(projections.decoder(model).layers)
    if not 0 <= layer_idx < n:
        raise PrunebenchError(f"block {layer_idx} does not exist: the model has {n} blocks (0..{n - 1})")
    if layer_idx not in text_blocks(model.config):
        raise PrunebenchError(
            f"block {layer_idx} of this Llama 3.2 Vision model is a cross-attention block "
            f"(cross_attention_layers {model.config.cross_attention_layers}), which the model "
            "skips on text: no text score judges it and its removal would take the image "
            "pathway away, so width surgery keeps it whole; cut its self-attention blocks "
            f"({text_blocks(model.config)})")
    return projections.decoder(model).layers[layer_idx]


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
    with warnings.catch_warnings():  # an emptied projection (no rows or columns) warns on init
        warnings.filterwarnings("ignore", "Initializing zero-element tensors", UserWarning)
        new = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None,
                        device="meta", dtype=weight.dtype)
    new.weight = nn.Parameter(weight.clone(), requires_grad=linear.weight.requires_grad)
    if bias is not None:
        new.bias = nn.Parameter(bias.clone(), requires_grad=linear.bias.requires_grad)
    return new


def _sliced_norm(norm: nn.Module, channels: Sequence[int]) -> nn.Module:
    """A new RMSNorm of `norm`'s class weighing only the given channels (the given heads' rows
    of a weight per head, Cohere's [heads, head_dim])."""
    weight = norm.weight.detach()
    idx = torch.as_tensor(list(channels), dtype=torch.long, device=weight.device)
    new = norm_like(norm, (len(channels), *weight.shape[1:]) if weight.dim() > 1
                    else len(channels))
    new.weight = nn.Parameter(weight.index_select(0, idx).clone(),
                              requires_grad=norm.weight.requires_grad)
    return new


def _channels_of(units: Sequence[int], width: int) -> list[int]:
    return [u * width + i for u in units for i in range(width)]


# --------------------------------------------------------------------------- attention

def remove_kv_groups(model: nn.Module, layer_idx: int, groups: Iterable[int]) -> None:
    """Remove KV groups (each: one K/V head and its query heads) from block `layer_idx`."""
    groups = list(groups)
    # (none removed, as the width methods remove none of an ALiBi model's: it passes)
    refuse_moe(model.config, "width surgery (remove_kv_groups)", keeps_heads=not groups)
    config = model.config
    layer = _layer(model, layer_idx)
    attn = layer.self_attn
    hd, rep = head_dim(config), heads_per_group(config)
    n_kv = projections.attention_heads(attn, hd)[1]
    drop = _unique_indices(groups, n_kv, "KV group", layer_idx)
    if not drop:
        return
    keep = [g for g in range(n_kv) if g not in set(drop)]
    check_shards_kept(attn, layer_idx, n_kv, keep)
    if not keep:
        # Nothing of the attention remains but its output bias (if any).
        with warnings.catch_warnings():  # its placeholder 0-input Linear warns on init
            warnings.simplefilter("ignore", UserWarning)
            zero = ZeroHeadAttention(config, layer_idx,
                                     has_bias=projections.o_proj(attn).bias is not None,
                                     name=projections.module_name(attn, "o_proj"))
        projections.set_part(zero, "o_proj", _sliced_linear(projections.o_proj(attn), cols=[]))
        projections.set_attention(layer, zero)  # (GPT-NeoX's `attention`)
    else:
        q_heads = [g * rep + r for g in keep for r in range(rep)]
        kv_rows, q_rows = _channels_of(keep, hd), _channels_of(q_heads, hd)
        for part, rows in projections.kept_attention_rows(attn, hd, q_rows, kv_rows).items():
            projections.set_part(attn, part, _sliced_linear(projections.get_part(attn, part),
                                                            rows=rows))
        projections.set_part(attn, "o_proj", _sliced_linear(projections.o_proj(attn), cols=q_rows))
        if family(config).qk_norm_whole:  # OLMo-2: a norm weight per q / k channel
            attn.q_norm = _sliced_norm(attn.q_norm, q_rows)
            attn.k_norm = _sliced_norm(attn.k_norm, kv_rows)
        elif family(config).qk_norm_each_head and hasattr(attn, "q_norm"):
            # Cohere: a norm weight row per head, kept with its head
            attn.q_norm = _sliced_norm(attn.q_norm, q_heads)
            attn.k_norm = _sliced_norm(attn.k_norm, keep)
        elif family(config).qk_norm_each_head and hasattr(attn, "q_layernorm"):
            # StableLM: a LayerNorm module per head, kept with its head (in order)
            for norm, heads in ((attn.q_layernorm, q_heads), (attn.k_layernorm, keep)):
                norm.norms = nn.ModuleList([norm.norms[h] for h in heads])
                norm.num_heads = len(heads)
        if attention_sinks(config):  # gpt-oss's, GraniteSWA's: a sink logit a query head
            attn.sinks = nn.Parameter(attn.sinks.detach()[q_heads].clone(),
                                      requires_grad=attn.sinks.requires_grad)
        projections.set_block_heads(attn, len(q_rows) // hd, len(kv_rows) // hd)
    sync_layer_shapes(model)


def check_shards_kept(attn: nn.Module, layer_idx: int, n_heads: int, keep: list[int]) -> None:
    """Refuse, before anything is cut, heads kept in unequal numbers across the shards of a
    sharded qkv_proj (CodeGen's four: `projections.qkv_shards`): its attention splits the
    kept heads into that many equal shards, so another count would give heads other heads'
    rows."""
    shards = projections.qkv_shards(attn)
    if shards == 1 or not keep:
        return
    per = n_heads // shards
    counts = [sum(1 for h in keep if h // per == s) for s in range(shards)]
    if len(set(counts)) > 1:
        raise PrunebenchError(
            f"block {layer_idx}: keeping heads {keep} leaves {counts} heads in the {shards} "
            f"shards of its qkv_proj (heads 0..{per - 1}, {per}..{2 * per - 1}, ...), which "
            f"its attention splits into {shards} equal shards: keep as many heads in each "
            f"shard (a multiple of {shards} in all), or none")


def worst_groups(config, scores: torch.Tensor, n_drop: int) -> list[int]:
    """The `n_drop` lowest-scored of a block's KV groups (ties: the first), what the width
    methods remove; of a sharded qkv_proj's heads (CodeGen's four shards: `head_shards`),
    the n_drop / shards lowest of each shard, so that each keeps as many (the sizing removes
    a multiple of the shards: `sizing.shape_after_removal`)."""
    shards = head_shards(config)
    if shards == 1:
        return torch.argsort(scores, stable=True)[:n_drop].tolist()
    if n_drop % shards or len(scores) % shards:
        raise PrunebenchError(f"{n_drop} of {len(scores)} heads to remove from {shards} "
                              "shards: report it, this is a bug")
    per = len(scores) // shards
    return sorted(s * per + int(h) for s in range(shards) for h in torch.argsort(
        scores[s * per:(s + 1) * per], stable=True)[:n_drop // shards])


def remove_heads(model: nn.Module, layer_idx: int, heads: Iterable[int]) -> None:
    """Remove query heads; with GQA they must make up whole KV groups (a KV head is shared)."""
    heads = sorted({int(h) for h in heads})
    refuse_moe(model.config, "width surgery (remove_heads)", keeps_heads=not heads)
    rep = heads_per_group(model.config)
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
    """Remove MLP channels: gate/up output rows (an ungated MLP's up rows alone) and their
    bias entries, and down_proj input columns."""
    # (an ALiBi model's heads all stay: its MLP channels go, `heads_removable`)
    refuse_moe(model.config, "width surgery (remove_channels)", keeps_heads=True)
    mlp = projections.block_mlp(_layer(model, layer_idx))
    width = projections.mlp_width(mlp)
    drop = set(_unique_indices(channels, width, "MLP channel", layer_idx))
    if not drop:
        return
    keep = [c for c in range(width) if c not in drop]
    for part, rows in projections.kept_mlp_rows(mlp, keep).items():
        projections.set_part(mlp, part, _sliced_linear(projections.get_part(mlp, part), rows=rows))
    projections.set_part(mlp, "down_proj", _sliced_linear(projections.down_proj(mlp), cols=keep))
    mlp.intermediate_size = len(keep)
    sync_layer_shapes(model)


# --------------------------------------------------------------------------- biases

def output_linear(model: nn.Module, layer_idx: int, module: str) -> nn.Linear:
    layer = _layer(model, layer_idx)
    if module == "o_proj":
        return projections.o_proj(layer.self_attn)
    if module == "down_proj":
        return projections.down_proj(projections.block_mlp(layer))
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


def apply_shapes_check(model: nn.Module, expected_params: int) -> None:
    """After surgery: the closed form, the real numel and the plan must agree."""
    real = sum(p.numel() for p in model.parameters())
    closed = count_params(model.config)
    if not real == closed == expected_params:
        raise RuntimeError(f"surgery bookkeeping broke: real {real}, closed form {closed}, "
                           f"planned {expected_params}")
