"""Mamba-2 (mamba2, Mamba2ForCausalLM: mistralai/Mamba-Codestral-7B-v0.1, the mamba2-*-hf
conversions): pure stacks of Mamba-2 blocks (a norm and a mixer: in_proj to the gate, the
conv's channels and one dt a head, a depthwise conv1d, dt_bias, A_log and D a head, a gated
RMSNorm, out_proj), no attention at all. Exact counts (against transformers' meta model,
config.json's values alone and by hand, over biases, tying, groups and head layouts); depth
pruning equal to transformers' model of the kept blocks, reloaded by prunebench and by
transformers, down to one block, over prompts of several scan chunks; the hf and hf_static
backends' tokens of a depth-pruned model equal to transformers' generate and to greedy
decoding without a cache; the state a step reads equal to what transformers' cache holds; the
refusals (width methods, surgery, the compiled decoder; at the start the compiled backend and
+lora). tests/test_families.py runs the shared per-family tests on it too."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import Mamba2Config, Mamba2ForCausalLM

from prunebench.benchmark.floors import kv_cache_bytes
from prunebench.checkpoint.param_count import config_from_dict, count_params, mamba_state
from prunebench.modeling import build_model
from test_deepseek import ids, numel, random_model
from test_families import VOCAB
from test_granitemoehybrid import check_width_and_compiled_refused
from test_mamba import check_depth_pruning, check_the_start_refuses_the_compiled_backend_and_lora
from test_qwen3_next import check_a_depth_pruned_reload_decodes_as_transformers, check_cache_bytes

pytestmark = pytest.mark.usefixtures("one_thread")


def small(**over) -> Mamba2Config:
    """A small model of five Mamba-2 blocks: hidden 32, inner 64 (8 heads of 8) in 2 groups, a
    state of 8, a conv of 4, chunks of 4 tokens (a prompt of 9 spans three); untied; weights of
    std 0.3 (as Mamba's: a weak random model repeats one token)."""
    values = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=5, num_heads=8,
                  head_dim=8, n_groups=2, state_size=8, expand=2, conv_kernel=4, chunk_size=4,
                  tie_word_embeddings=False, initializer_range=0.3, bos_token_id=1,
                  eos_token_id=2, pad_token_id=0)
    values.update(over)
    return Mamba2Config(**values)


# --------------------------------------------------------------------------- counts

@pytest.mark.parametrize("over", [{}, {"use_bias": True, "use_conv_bias": False},
                                  {"tie_word_embeddings": True}, {"n_groups": 1},
                                  {"n_groups": 4, "state_size": 16},
                                  {"num_heads": 4, "head_dim": 16, "conv_kernel": 2},
                                  {"expand": 3, "num_heads": 12}])
def test_counts_equal_transformers_parameters(over):
    """Biases on or off, tied or not, groups of B and C, another head layout, state, kernel
    and width: the closed form, and config_from_dict of the config.json values, equal
    model.parameters()."""
    config = small(**over)
    model = build_model(config, device="meta")
    assert numel(model) == count_params(config)
    values = json.loads(config.to_json_string())
    assert count_params(config_from_dict(values)) == count_params(config)
    mixer = model.backbone.layers[0].mixer
    groups, state = over.get("n_groups", 2), over.get("state_size", 8)
    inner = over.get("expand", 2) * 32
    assert tuple(mixer.conv1d.weight.shape)[0] == inner + 2 * groups * state
    assert tuple(mixer.in_proj.weight.shape) == (inner + inner + 2 * groups * state
                                                 + config.num_heads, 32)


def test_the_count_is_the_sum_of_each_part_by_hand():
    """By hand; the groups of B and C matter (in_proj's and the conv's channels): one group
    instead of two would count fewer."""
    d, inner, heads, state, groups = 32, 64, 8, 8, 2
    channels = inner + 2 * groups * state
    mixer = (d * (inner + channels + heads)  # in_proj: z, the conv's channels, dt
             + channels * 4 + channels  # the conv1d's kernels and bias
             + 3 * heads  # dt_bias, A_log, D
             + inner  # the gated RMSNorm
             + inner * d)  # out_proj
    assert count_params(small()) == 2 * VOCAB * d + d + 5 * (d + mixer)
    assert count_params(small(n_groups=1)) < count_params(small())


def test_the_state_is_the_conv_and_each_heads_state():
    """The state floor: the conv state (conv_kernel inputs of each of the conv's channels, its
    groups' B and C included) and each head's head_dim x state_size SSM state."""
    assert mamba_state(small()) == ((64 + 2 * 2 * 8) * 4, 8 * 8 * 8)
    assert mamba_state(small(n_groups=1)) == ((64 + 2 * 8) * 4, 8 * 8 * 8)
    # float32: 4 bytes a value, five blocks, two sequences, whatever the length
    per_block = ((64 + 32) * 4 + 512) * 4
    assert kv_cache_bytes(small(), 2, 9, torch.float32) == 2 * 5 * per_block
    assert kv_cache_bytes(small(), 2, 90, torch.float32) == 2 * 5 * per_block


# --------------------------------------------------------------------------- depth pruning

@pytest.mark.parametrize("drop", [[0], [4], [1, 3], [0, 1, 2, 3]])
def test_depth_pruning_gives_transformers_model_of_the_kept_blocks(drop, tmp_path):
    """The pruned model, and its save reloaded by prunebench and by transformers, compute the
    logits of transformers' model built of the kept blocks, over a prompt of three scan chunks
    (chunk_size kept); one block left runs (no attention block is needed)."""
    model = random_model(small())
    check_depth_pruning(model, drop, ids(2, 11), tmp_path / "pruned")
    assert model.config.chunk_size == 4


# --------------------------------------------------------------------------- backends

@pytest.mark.parametrize("drop", [[0], [2, 4]])
def test_the_hf_backends_decode_a_depth_pruned_model_as_transformers_generate(drop, tmp_path):
    """A depth-pruned model (each mixer's cache index its new one) reloaded: the hf backend's
    tokens equal transformers' generate of its own loading of the checkpoint, and greedy
    decoding without a cache wherever that choice is certain; so do hf_static's."""
    check_a_depth_pruned_reload_decodes_as_transformers(
        random_model(small()), drop, Mamba2ForCausalLM, tmp_path / "pruned")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_state_a_step_reads_is_what_transformers_cache_holds(dtype):
    """Each block's conv state (in the model's dtype) and SSM state (float32), whatever the
    length: kv_cache_bytes equals the bytes of transformers' cache, before and after a depth
    prune."""
    check_cache_bytes(random_model(small()).to(dtype), dtype)


# --------------------------------------------------------------------------- refusals

def test_width_methods_and_the_compiled_backend_refuse_it():
    check_width_and_compiled_refused(
        small(), r"this 'mamba2' model .*each of its blocks is a norm and a Mamba-2 mixer")


def test_the_start_refuses_the_compiled_backend_and_lora(tmp_path):
    check_the_start_refuses_the_compiled_backend_and_lora(small(), "Mamba-2", tmp_path)
