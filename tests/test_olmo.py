"""The first OLMo (olmo, OlmoForCausalLM): exact counts with its LayerNorms without parameters,
the clamp of q, k and v (clip_qkv) and the parameterless norm in the compiled decoder, and the
known shapes (tests/test_families.py runs the shared per-family tests on it: every method, both
hf backends and the compiled one, evaluation, LoRA)."""

from __future__ import annotations

import itertools

import pytest
import torch
from transformers import OlmoConfig, OlmoForCausalLM

from prunebench.benchmark.compiled import StaticDecoder
from prunebench.checkpoint.architectures import (architecture_config, architecture_values,
                                                 known_shape_of)
from prunebench.checkpoint.param_count import config_from_dict
from prunebench.methods import surgery
from prunebench.modeling import build_model, count_params
from test_families import family_model, ids, logits, numel

pytestmark = pytest.mark.usefixtures("one_thread")


def small(**kw) -> OlmoConfig:
    values = dict(vocab_size=97, hidden_size=48, intermediate_size=40, num_hidden_layers=3,
                  num_attention_heads=4)
    return OlmoConfig(**{**values, **kw})


@pytest.mark.parametrize("tied,bias,kv_heads", list(itertools.product([False, True],
                                                                      [False, True], [4, 2])))
def test_counts_equal_transformers_parameters(tied, bias, kv_heads):
    config = small(tie_word_embeddings=tied, attention_bias=bias, num_key_value_heads=kv_heads)
    assert count_params(config) == numel(OlmoForCausalLM(config))
    # no norm holds a parameter: a block is its projections alone
    d, hd = 48, 12
    block = d * 4 * hd + 2 * d * kv_heads * hd + 4 * hd * d + 3 * d * 40 + (
        (4 + 2 * kv_heads) * hd + d if bias else 0)
    assert count_params(config) == 97 * d * (1 if tied else 2) + 3 * block
    assert count_params(config_from_dict(config.to_dict())) == count_params(config)


def test_the_clamp_changes_the_model_and_the_compiled_decoder_applies_it():
    """The family tests' OLMo clamps q, k and v at 0.1, which its projections cross: without
    the clamp the logits differ, and the compiled decoder, which fuses q, k and v into one
    projection, clamps them as transformers does, also after width pruning."""
    model = family_model("olmo")
    x = ids(1, 10)
    clamped = logits(model, x)
    model.config.clip_qkv = None
    assert not torch.allclose(logits(model, x), clamped, atol=1e-3)
    model.config.clip_qkv = 0.1
    surgery.remove_kv_groups(model, 1, [0])
    reference = logits(model, x)[:, -1]
    for fuse in (True, False):
        decoder = StaticDecoder(model, batch_size=1, max_seq_len=16, mode="eager", fuse=fuse)
        assert [block.clip_qkv for block in decoder.blocks] == [0.1] * 4
        ours = decoder.prefill_logits(x).reshape(reference.shape)
        torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name,total,hub", [
    ("olmo-1b", 1_176_764_416, "allenai/OLMo-1B-hf"),
    ("olmo-7b", 6_888_095_744, "allenai/OLMo-7B-hf")])
def test_known_shapes_count_their_published_totals(name, total, hub):
    config = architecture_config(name)
    assert type(config).__name__ == "OlmoConfig"
    assert count_params(config) == total == numel(build_model(config, device="meta"))
    assert count_params(config_from_dict(architecture_values(name))) == total
    assert known_shape_of(hub) == name


def test_the_4096_token_releases_are_not_planned_as_olmo_7b():
    """OLMo 1.7 (-0424) and the -0724 checkpoints read 4096 tokens (and clamp q/k/v to 8), not
    OLMo-7B-hf's 2048: planned from their own config.json, as OLMo-7B-hf's fine-tunes are not."""
    for hub in ("allenai/OLMo-7B-0424-hf", "allenai/OLMo-7B-0724-hf",
                "allenai/OLMo-7B-0724-Instruct-hf"):
        assert known_shape_of(hub) is None, hub
    assert known_shape_of("allenai/OLMo-7B-Instruct-hf") == "olmo-7b"
