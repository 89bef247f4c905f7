"""Exact parameter counts from a model's config alone (closed form), and its per-block shapes.

No torch here: job sizing and `prunebench plan` count parameters while Snakemake parses the
workflow. `config` is a transformers LlamaConfig or anything with the same attributes (see
`config_from_json`); prunebench.modeling checks these counts against meta-device models.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from prunebench import PrunebenchError

if TYPE_CHECKING:
    from transformers import LlamaConfig

# LlamaConfig's defaults for the keys the counts read, for a config.json that omits them.
_DEFAULTS = {"attention_bias": False, "mlp_bias": False, "tie_word_embeddings": False,
             "head_dim": None, "layer_shapes": None}


def config_from_dict(values: dict[str, Any]) -> SimpleNamespace:
    """Config values as an object the counts below accept (no transformers)."""
    return SimpleNamespace(**{**_DEFAULTS, **values})


def config_from_json(path: str | Path) -> SimpleNamespace:
    """A checkpoint's config.json as an object the counts below accept."""
    return config_from_dict(json.loads(Path(path).read_text()))


def default_layer_shape(config: LlamaConfig) -> dict[str, Any]:
    return {
        "num_attention_heads": config.num_attention_heads,
        "num_key_value_heads": config.num_key_value_heads,
        "intermediate_size": config.intermediate_size,
        "o_proj_bias": bool(config.attention_bias),
        "down_proj_bias": bool(getattr(config, "mlp_bias", False)),
    }


def layer_shapes(config: LlamaConfig) -> list[dict[str, Any]]:
    """Per-block shapes; homogeneous configs get the same entry for every block."""
    shapes = getattr(config, "layer_shapes", None)
    if shapes is None:
        return [default_layer_shape(config) for _ in range(config.num_hidden_layers)]
    if len(shapes) != config.num_hidden_layers:
        raise PrunebenchError(
            f"config lists {len(shapes)} layer_shapes for {config.num_hidden_layers} blocks: "
            "the checkpoint's config.json is inconsistent; re-run its prune step")
    return [dict(default_layer_shape(config), **s) for s in shapes]


def head_dim(config: LlamaConfig) -> int:
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


def block_param_count(config: LlamaConfig, shape: dict[str, Any]) -> int:
    """Parameters of one decoder block with the given shape (norm weights included)."""
    d, hd = config.hidden_size, head_dim(config)
    q, kv = shape["num_attention_heads"] * hd, shape["num_key_value_heads"] * hd
    attn_bias = bool(config.attention_bias)
    attn = d * q + 2 * d * kv + q * d
    if attn_bias:
        attn += q + 2 * kv
    if attn_bias or shape["o_proj_bias"]:
        attn += d
    m = shape["intermediate_size"]
    mlp = 3 * d * m
    if getattr(config, "mlp_bias", False):
        mlp += 2 * m
    if getattr(config, "mlp_bias", False) or shape["down_proj_bias"]:
        mlp += d
    return attn + mlp + 2 * d


def non_block_param_count(config: LlamaConfig) -> int:
    """Embeddings, final norm and LM head."""
    emb = config.vocab_size * config.hidden_size
    head = 0 if config.tie_word_embeddings else emb
    return emb + head + config.hidden_size


def count_params(config: LlamaConfig) -> int:
    """Exact parameter count from the config alone (closed form, checked against meta models)."""
    return non_block_param_count(config) + sum(
        block_param_count(config, s) for s in layer_shapes(config))
