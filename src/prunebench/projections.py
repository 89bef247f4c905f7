"""A block's projections by part, whether its family keeps them apart or packs them.

LLaMA-like blocks hold q/k/v and gate/up as separate `nn.Linear` modules. Phi-3's block packs
them by rows: `self_attn.qkv_proj` is [q; k; v] and `mlp.gate_up_proj` is [gate; up]; GLM's
packs gate/up alone (the family's `packed`: each module is asked for apart). Removing a head or a channel removes the same rows either way,
and the methods score the same parts, so the surgery, the methods and the compiled decoder ask
this module for a block's parts by their LLaMA names ("q_proj", ..., "down_proj") and get views
of the packed rows where the family packs them. o_proj and down_proj are separate everywhere.

An ungated MLP (Arcee's, Nemotron's: `down_proj(act(up_proj(x)))`, `Family.ungated_mlp`) has
up_proj alone before down_proj: `mlp_inputs` names a block's MLP input modules, so the surgery,
the methods and the compiled decoder read whichever there are. (A later ungated family whose
modules have other names, Starcoder2's c_fc / c_proj, would map them here.)
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from prunebench.checkpoint.param_count import PACKED_PARTS

ATTENTION_PARTS, MLP_PARTS = PACKED_PARTS["qkv_proj"], PACKED_PARTS["gate_up_proj"]


def attention_heads(attn: nn.Module, head_dim: int) -> tuple[int, int]:
    """(query heads, KV heads) of a block's attention as its modules are (0, 0: no heads)."""
    n_q = attn.o_proj.in_features // head_dim  # o_proj reads every query head, in any family
    if n_q == 0:
        return 0, 0
    if hasattr(attn, "qkv_proj"):
        return n_q, (attn.qkv_proj.out_features - n_q * head_dim) // (2 * head_dim)
    return n_q, attn.k_proj.out_features // head_dim


def mlp_width(mlp: nn.Module) -> int:
    """A block's MLP channels (down_proj reads each of them, in any family)."""
    return mlp.down_proj.in_features


def mlp_inputs(mlp: nn.Module) -> tuple[str, ...]:
    """The modules that read a block's MLP input, by name: Phi-3's and GLM's packed
    gate_up_proj, LLaMA's gate_proj and up_proj, or an ungated MLP's up_proj alone (ArceeMLP,
    NemotronMLP build no gate_proj)."""
    if hasattr(mlp, "gate_up_proj"):
        return ("gate_up_proj",)
    return MLP_PARTS if hasattr(mlp, "gate_proj") else ("up_proj",)


def attention_row_split(attn: nn.Module, head_dim: int) -> list[int]:
    """Rows of q, k and v in a packed qkv_proj (or the separate projections' sizes)."""
    n_q, n_kv = attention_heads(attn, head_dim)
    return [n_q * head_dim, n_kv * head_dim, n_kv * head_dim]


def part_tensors(layer: nn.Module, head_dim: int,
                 tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`tensors` (one per module name of `layer`: weights, gradients, row scores) keyed by the
    LLaMA layout's part names, a packed module's split into its parts' rows."""
    out = {}
    for name, t in tensors.items():
        if name == "qkv_proj":
            out.update(zip(ATTENTION_PARTS, t.split(attention_row_split(layer.self_attn, head_dim))))
        elif name == "gate_up_proj":
            out.update(zip(MLP_PARTS, t.split(mlp_width(layer.mlp))))
        else:
            out[name] = t
    return out


def scored_weights(layer: nn.Module, with_attention: bool) -> dict[str, nn.Parameter]:
    """The weight parameters of a block's projections by module name (packed ones whole):
    what a method scores and `part_tensors` then splits."""
    attn, mlp = layer.self_attn, layer.mlp
    names = []
    if with_attention:
        names += [("self_attn", n) for n in (
            ("qkv_proj",) if hasattr(attn, "qkv_proj") else ATTENTION_PARTS)] + [("self_attn",
                                                                                   "o_proj")]
    names += [("mlp", n) for n in mlp_inputs(mlp)] + [("mlp", "down_proj")]
    return {n: getattr(getattr(layer, owner), n).weight for owner, n in names}


def kept_attention_rows(attn: nn.Module, head_dim: int, q_rows: list[int],
                        kv_rows: list[int]) -> dict[str, list[int]]:
    """The rows of each attention module that keep the given q rows and K/V rows."""
    if not hasattr(attn, "qkv_proj"):
        return {"q_proj": q_rows, "k_proj": kv_rows, "v_proj": kv_rows}
    n_q_rows, n_kv_rows, _ = attention_row_split(attn, head_dim)
    return {"qkv_proj": [*q_rows, *(n_q_rows + r for r in kv_rows),
                         *(n_q_rows + n_kv_rows + r for r in kv_rows)]}


def kept_mlp_rows(mlp: nn.Module, keep: list[int]) -> dict[str, list[int]]:
    """The rows of each MLP input module that keep the given channels."""
    if not hasattr(mlp, "gate_up_proj"):
        return {name: keep for name in mlp_inputs(mlp)}  # (an ungated MLP: up_proj's alone)
    width = mlp_width(mlp)
    return {"gate_up_proj": [*keep, *(width + c for c in keep)]}


class BlockConfig:
    """The model's config as one block's attention reads it, with that block's head counts.

    Phi-3's attention splits its packed qkv output at `config.num_attention_heads` query
    heads, the model-wide count: a width-pruned block with fewer heads would split it wrongly.
    Its attention module reads this instead, which answers the block's own counts and passes
    everything else (the attention implementation, the sliding window) through to the shared
    config, so that settings changed on the model later still reach the block."""

    def __init__(self, shared: Any, **own: Any):
        object.__setattr__(self, "_shared", shared)
        object.__setattr__(self, "_own", own)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy's and pickle's protocol: this object's own, not the
            raise AttributeError(name)  # shared config's (a deepcopy would copy that alone)
        try:
            own = object.__getattribute__(self, "_own")
            shared = object.__getattribute__(self, "_shared")
        except AttributeError:  # while copy / pickle rebuild the object
            raise AttributeError(name) from None
        return own[name] if name in own else getattr(shared, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(object.__getattribute__(self, "_shared"), name, value)


def set_block_heads(attn: nn.Module, n_q: int, n_kv: int) -> None:
    """Tell a block's attention module its own head counts (after building or surgery)."""
    attn.num_key_value_groups = n_q // n_kv
    if hasattr(attn, "num_heads"):  # StableLM's attention views its q/k/v by these counts
        attn.num_heads, attn.num_key_value_heads = n_q, n_kv
    if hasattr(attn, "qkv_proj"):
        attn.num_key_value_heads = n_kv
        shared = attn.config._shared if isinstance(attn.config, BlockConfig) else attn.config
        attn.config = shared if n_q == shared.num_attention_heads else BlockConfig(
            shared, num_attention_heads=n_q, num_key_value_heads=n_kv)
