"""Known LLaMA-family shapes, so plans can be sized and GPU runs made without any weights."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prunebench import PrunebenchError

if TYPE_CHECKING:  # imported when a config is built: job sizing reads the shapes alone
    from transformers import LlamaConfig

# Shapes of the published checkpoints (config.json of each hub repository).
ARCHITECTURES: dict[str, dict] = {
    "llama-7b": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                     num_attention_heads=32, num_key_value_heads=32, vocab_size=32000,
                     max_position_embeddings=2048, rms_norm_eps=1e-6),
    "llama-13b": dict(hidden_size=5120, intermediate_size=13824, num_hidden_layers=40,
                      num_attention_heads=40, num_key_value_heads=40, vocab_size=32000,
                      max_position_embeddings=2048, rms_norm_eps=1e-6),
    "llama-3-8b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                       num_attention_heads=32, num_key_value_heads=8, vocab_size=128256,
                       max_position_embeddings=8192, rms_norm_eps=1e-5, rope_theta=500000.0),
}
ARCHITECTURES["vicuna-7b"] = ARCHITECTURES["llama-7b"]
ARCHITECTURES["vicuna-13b"] = ARCHITECTURES["llama-13b"]


def architecture_shape(name: str) -> dict:
    """The published checkpoint's config values (a copy)."""
    try:
        return dict(ARCHITECTURES[name])
    except KeyError:
        raise PrunebenchError(
            f"unknown architecture {name!r}: choose one of {sorted(ARCHITECTURES)}") from None


def known_shape_of(repo_id: str) -> str | None:
    """The known architecture a hub id names ('huggyllama/llama-7b' -> 'llama-7b',
    'lmsys/vicuna-13b-v1.3' -> 'vicuna-13b'), the longest match; None if it names none."""
    words = repo_id.lower().split("/")[-1]
    names = [n for n in ARCHITECTURES if n in words.removeprefix("meta-")]
    return max(names, key=len) if names else None


def architecture_config(name: str) -> LlamaConfig:
    from transformers import LlamaConfig

    return LlamaConfig(**architecture_shape(name), bos_token_id=1, eos_token_id=2, pad_token_id=0,
                       tie_word_embeddings=False, hidden_act="silu")
