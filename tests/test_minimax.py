"""MiniMax (minimax, MiniMaxForCausalLM; MiniMax-Text-01 / MiniMax-M1 in transformers' layout):
lightning attention blocks (qkv_proj, an output gate, an RMSNorm over the heads, out_proj; a
decay a head, its slopes persistent buffers computed from the block's index over
num_hidden_layers - 1) beside Mixtral's softmax attention blocks, as `layer_types` says,
Mixtral's experts in every block, each sublayer's residual the normed input weighed by the
config's alpha / beta scalars. Exact counts (against transformers' meta model, config.json's
values alone, and by hand); depth pruning that removes blocks of either kind, every kept
lightning block keeping the decay it had (its buffers saved with the weights: a model rebuilt
from the kept blocks' indices computes other logits), with the logits of transformers' model of
the kept blocks, reloaded by prunebench and by transformers; a checkpoint without the buffers
(dense: computed as transformers does; depth-pruned: refused); the hf backend's tokens of a
depth-pruned model equal to transformers' generate; the cache a step reads (keys, values and
the lightning state in the model's dtype) equal to what MiniMaxCache holds; the refusals
(width methods, the compiled and hf_static backends, what a config.json says that transformers
builds otherwise). tests/test_families.py runs the shared per-family tests on it."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import MiniMaxConfig, MiniMaxForCausalLM

from prunebench import PrunebenchError
from prunebench.benchmark.floors import kv_cache_bytes
from prunebench.checkpoint.param_count import (config_from_dict, count_params,
                                               depth_needed_kinds, lightning_params,
                                               linear_attention_state)
from prunebench.modeling import LIGHTNING_BUFFERS, build_model, load_model, remove_blocks, \
    save_model
from block_helpers import kept_blocks_state, kept_kinds_model
from test_deepseek import ids, logits, numel, random_model
from test_families import VOCAB, in_allocated_memory
from test_granitemoehybrid import check_width_and_compiled_refused
from test_qwen3_next import check_a_depth_pruned_reload_decodes_as_transformers

pytestmark = pytest.mark.usefixtures("one_thread")

FULL, LINEAR = "full_attention", "linear_attention"
KINDS = [LINEAR, FULL, LINEAR, LINEAR, FULL]


def small(**over) -> MiniMaxConfig:
    """A small MiniMax model of KINDS' five blocks (lightning first, as published): 4 heads of
    8 (2 KV heads), chunks of 4 positions (the prompts span several), 4 experts of 16 (2 a
    token), the residual scalars off 1; untied."""
    values = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=16, num_hidden_layers=5,
                  num_attention_heads=4, num_key_value_heads=2, head_dim=8, block_size=4,
                  num_local_experts=4, num_experts_per_tok=2, layer_types=list(KINDS),
                  full_attn_alpha_factor=1.5, full_attn_beta_factor=0.9,
                  linear_attn_alpha_factor=1.25, linear_attn_beta_factor=1.1,
                  mlp_alpha_factor=0.8, mlp_beta_factor=1.2, max_position_embeddings=64,
                  bos_token_id=1, eos_token_id=2, pad_token_id=0)
    values.update(over)
    return MiniMaxConfig(**values)


def slopes(model) -> list:
    """Each lightning block's decay slopes as its module holds them (None: softmax)."""
    return [getattr(layer.self_attn, "slope_rate", None) for layer in model.model.layers]


# --------------------------------------------------------------------------- counts

@pytest.mark.parametrize("kinds", [KINDS, [FULL] * 5, [LINEAR, FULL, FULL, LINEAR, LINEAR]])
def test_counts_equal_transformers_parameters(kinds):
    """The closed form and config_from_dict of the config.json values equal
    model.parameters() (the decay buffers are no parameters); each lightning attention apart
    is lightning_params."""
    config = small(layer_types=list(kinds))
    model = build_model(config, device="meta")
    assert numel(model) == count_params(config)
    assert count_params(config_from_dict(json.loads(config.to_json_string()))) == numel(model)
    for layer, kind in zip(model.model.layers, kinds):
        if kind == LINEAR:
            assert sum(p.numel() for p in layer.self_attn.parameters()) == lightning_params(
                config)


def test_the_count_is_the_sum_of_each_part_by_hand():
    d, w = 32, 4 * 8
    lightning = 3 * d * w + d * w + w + w * d  # qkv_proj, output_gate, norm, out_proj
    attention = d * w + 2 * d * 2 * 8 + w * d  # q, k and v (2 KV heads), o_proj
    moe = 4 * d + 4 * 3 * d * 16  # the router, 4 experts of 16
    blocks = [(lightning if kind == LINEAR else attention) + moe + 2 * d for kind in KINDS]
    assert count_params(small()) == 2 * VOCAB * d + d + sum(blocks)


@pytest.mark.parametrize("blocks", [5, 6])
def test_a_config_json_without_layer_types_reads_as_the_class_derives(blocks):
    """Without layer_types MiniMaxConfig makes the even blocks softmax attention and the odd
    ones lightning: read without transformers, the kinds and the count are the model's."""
    config = small(num_hidden_layers=blocks, layer_types=None)
    values = {k: v for k, v in json.loads(config.to_json_string()).items()
              if k != "layer_types"}
    ours = config_from_dict(values)
    assert ours.layer_types == config.layer_types
    assert count_params(ours) == numel(build_model(config, device="meta"))


# --------------------------------------------------------------------------- depth pruning

def kept_blocks_model(model, keep: list[int]) -> MiniMaxForCausalLM:
    """transformers' own model of `model`'s blocks `keep` (renumbered), given their weights and
    decay buffers as they were."""
    return kept_kinds_model(model, keep)


@pytest.mark.parametrize("drop", [[0], [1], [3], [1, 4], [0, 2, 3]])
def test_depth_pruning_gives_transformers_model_of_the_kept_blocks(drop, tmp_path):
    """Removing lightning blocks, softmax ones or both: the pruned model, and its save reloaded
    by prunebench and by transformers, compute the logits of transformers' model of the kept
    blocks, each of the kind it was (layer_types rewritten) and each lightning block with the
    decay slopes it had (saved with the weights, not computed again from its new index)."""
    model = random_model(small())
    keep = [i for i in range(5) if i not in drop]
    kinds, x = [KINDS[i] for i in keep], ids()
    before = [slopes(model)[i] for i in keep]
    expected = logits(kept_blocks_model(model, keep), x)
    remove_blocks(model, drop)
    assert model.config.layer_types == kinds
    assert numel(model) == count_params(model.config)
    assert torch.equal(logits(model, x), expected)
    save_model(model, None, tmp_path / "pruned")
    assert json.loads((tmp_path / "pruned" / "config.json").read_text())["layer_types"] == kinds
    again = load_model(tmp_path / "pruned")
    theirs = in_allocated_memory(MiniMaxForCausalLM.from_pretrained(
        tmp_path / "pruned", dtype=torch.float32)).eval()
    for reloaded in (again, theirs):
        for slope, kept in zip(slopes(reloaded), before):
            assert (slope is None) == (kept is None) and (kept is None or torch.equal(slope,
                                                                                      kept))
        assert torch.equal(logits(reloaded, x), expected)


def test_the_kept_blocks_decay_matters():
    """A model of the kept blocks whose lightning blocks compute their slopes from their new
    indices and depth (transformers' model built from the pruned config alone) decays
    otherwise and computes other logits: the saved buffers are what keeps the pruned model
    the one that was scored."""
    model = random_model(small())
    keep = [1, 2, 3, 4]
    config = copy.deepcopy(model.config)
    config.num_hidden_layers, config.layer_types = 4, [KINDS[i] for i in keep]
    rebuilt = MiniMaxForCausalLM(config).eval()
    state = {k: v for k, v in kept_blocks_state(model, keep).items()
             if not k.endswith(LIGHTNING_BUFFERS)}
    rebuilt.load_state_dict(state, strict=False)
    assert not torch.equal(slopes(rebuilt)[1], slopes(model)[2])
    assert not torch.allclose(logits(rebuilt, ids(1, 12)),
                              logits(kept_blocks_model(model, keep), ids(1, 12)), atol=1e-3)


def without_buffers(folder) -> None:
    """`folder`'s weights without the lightning blocks' decay buffers, its manifest made again
    (as a checkpoint saved without them would be)."""
    from prunebench.modeling import write_manifest

    for shard in folder.glob("*.safetensors"):
        state = load_file(shard)
        save_file({k: v for k, v in state.items() if not k.endswith(LIGHTNING_BUFFERS)},
                  str(shard), metadata={"format": "pt"})
    write_manifest(folder)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_a_dense_checkpoint_without_the_buffers_loads_them_as_transformers_computes_them(
        dtype, tmp_path):
    """A whole model's checkpoint that holds no decay buffers: prunebench computes each
    block's from its index as transformers' from_pretrained does, in the weights' dtype (the
    same buffers and logits; in float32 the whole model's own)."""
    model = random_model(small())
    save_model(model.to(dtype), None, tmp_path / "m")
    without_buffers(tmp_path / "m")
    ours = load_model(tmp_path / "m", dtype=dtype)
    theirs = in_allocated_memory(MiniMaxForCausalLM.from_pretrained(tmp_path / "m",
                                                                    dtype=dtype)).eval()
    for name in LIGHTNING_BUFFERS:
        mine = getattr(ours.model.layers[0].self_attn, name)
        assert mine.dtype == dtype
        assert torch.equal(mine, getattr(theirs.model.layers[0].self_attn, name))
    assert torch.equal(logits(ours, ids()), logits(theirs, ids()))
    for name in LIGHTNING_BUFFERS:  # the saved model's own
        assert torch.equal(getattr(ours.model.layers[2].self_attn, name),
                           getattr(model.model.layers[2].self_attn, name))
    if dtype == torch.float32:  # (the model cast to bfloat16 cast its rotary table too)
        assert torch.equal(logits(ours, ids()), logits(model, ids()))


def test_a_depth_pruned_checkpoint_without_the_buffers_is_refused(tmp_path):
    """A depth-pruned checkpoint whose decay buffers are gone cannot have them again (its
    blocks' indices are not the dense model's): refused, naming the block and what to do."""
    model = random_model(small())
    remove_blocks(model, [1])
    save_model(model, None, tmp_path / "pruned")
    without_buffers(tmp_path / "pruned")
    with pytest.raises(PrunebenchError, match=r"block 0's lightning attention decay buffers "
                                              r"\(model\.layers\.0\.self_attn\.slope_rate, "
                                              r"\.\.\.\) are missing.*make it again"):
        load_model(tmp_path / "pruned")


def test_removing_every_softmax_block_leaves_a_model_transformers_runs(tmp_path):
    """Lightning blocks alone: MiniMax's masks and cache run without a softmax block (no kind
    a prune must keep, unlike Qwen3-Next's), and the hf backend decodes the reload as
    transformers' generate and greedy decoding without a cache."""
    model = random_model(small())
    assert depth_needed_kinds(model.config) == []
    check_a_depth_pruned_reload_decodes_as_transformers(
        model, [1, 4], MiniMaxForCausalLM, tmp_path / "pruned")


# --------------------------------------------------------------------------- backends

@pytest.mark.parametrize("drop", [[0], [4], [2, 3]])
def test_the_hf_backend_decodes_a_depth_pruned_model_as_transformers_generate(drop, tmp_path):
    """A depth-pruned model (each block's cache entry its new index, its lightning state too)
    reloaded: the hf backend's tokens equal transformers' generate of its own loading of the
    checkpoint, and greedy decoding without a cache wherever that choice is certain;
    hf_static refuses it (MiniMaxCache: transformers would run the dynamic cache)."""
    check_a_depth_pruned_reload_decodes_as_transformers(
        random_model(small()), drop, MiniMaxForCausalLM, tmp_path / "pruned")


def minimax_cache_bytes(cache) -> int:
    """The bytes MiniMaxCache holds: each softmax block's keys and values, each lightning
    block's state (linear_cache)."""
    total = sum(getattr(layer, name).nbytes for layer in cache.layers
                for name in ("keys", "values")
                if isinstance(getattr(layer, name, None), torch.Tensor))
    return total + sum(state.nbytes for state in cache.linear_cache
                       if isinstance(state, torch.Tensor))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_cache_a_step_reads_is_what_transformers_cache_holds(dtype):
    """kv_cache_bytes: each softmax block's keys and values per position and each lightning
    block's state of one size whatever the length (a head_dim x head_dim matrix a head, in
    the model's dtype), equal to what MiniMaxCache holds after a prefill; a depth-pruned
    model's too."""
    model = random_model(small()).to(dtype)
    for drop in ([], [1]):
        remove_blocks(model, drop)
        for batch, length in ((1, 5), (2, 9)):
            with torch.no_grad():
                out = model(input_ids=ids(batch, length), use_cache=True)
            cache = getattr(out, "past_key_values", None) or out.cache
            state = next(s for s in cache.linear_cache if isinstance(s, torch.Tensor))
            assert state.dtype == dtype
            assert minimax_cache_bytes(cache) == kv_cache_bytes(model.config, batch, length,
                                                                dtype)


def test_the_lightning_state_is_in_the_floor():
    """The lightning blocks' state is counted (by hand: 4 heads of 8 x 8, in the model's
    dtype, no conv state) beside the softmax blocks' keys and values."""
    config = small()
    assert linear_attention_state(config) == (0, 4 * 8 * 8)
    keys_values = 2 * 2 * 7 * 2 * 8 * 2  # two softmax blocks, 7 positions, 2 KV heads, fp16
    assert kv_cache_bytes(config, 1, 7, torch.float16) == keys_values + 3 * 4 * 8 * 8 * 2


# --------------------------------------------------------------------------- refusals

def test_width_methods_and_the_compiled_backend_refuse_it():
    check_width_and_compiled_refused(small(), r"mixture-of-experts family 'minimax'")


def test_the_start_refuses_the_hf_static_backend(tmp_path):
    """transformers' generate ignores the static cache for MiniMax (its own MiniMaxCache): an
    hf_static row would time the dynamic cache, so the start refuses it, as the runner
    does."""
    from prunebench.benchmark.runners import HFStaticRunner
    from prunebench.plan.checks import static_cache_problems

    small().save_pretrained(tmp_path / "m")
    runs = {"models": {"m": {"source": f"local:{tmp_path / 'm'}", "variants": ["dense"]}},
            "benchmark": {"backends": ["hf", "hf_static"]}}
    problem, = static_cache_problems(runs, tmp_path / "nowhere")
    assert problem.startswith("models.m: the hf_static backend cannot run a MiniMax model")
    with pytest.raises(PrunebenchError, match="hf_static backend cannot run a MiniMax model"):
        HFStaticRunner(random_model(small()), 4)


@pytest.mark.parametrize("change,refused", [
    ({"layer_types": [LINEAR, FULL, LINEAR, "sliding_attention", FULL]},
     "MiniMaxDecoderLayer builds lightning attention"),
    ({"attn_type_list": [0, 1, 0, 1, 1]}, r"gives attn_type_list \[0, 1, 0, 1, 1\]"),
    ({"layernorm_mlp_alpha": 3.5}, "gives layernorm_mlp_alpha=3.5 .*mlp_alpha_factor=0.8"),
    ({"postnorm": False}, "gives postnorm false"),
])
def test_what_transformers_does_not_build_is_refused_when_read(change, refused, tmp_path):
    """A config.json whose block kinds MiniMaxModel does not mask, or whose keys of MiniMax's
    own code (attn_type_list, layernorm_* scalars, postnorm) say otherwise than what
    MiniMaxConfig builds, is refused as read; the same keys agreeing with the model are not
    (nor rotary_dim, which transformers does not read: its model is the one measured)."""
    from prunebench.checkpoint.param_count import checked_config_json

    raw = json.loads(small().to_json_string())
    (tmp_path / "config.json").write_text(json.dumps({**raw, **change}))
    with pytest.raises(PrunebenchError, match=refused):
        checked_config_json(tmp_path)
    agreeing = {"attn_type_list": [0, 1, 0, 0, 1], "layernorm_mlp_alpha": 0.8,
                "postnorm": True, "rotary_dim": 8}
    (tmp_path / "config.json").write_text(json.dumps({**raw, **agreeing}))
    checked_config_json(tmp_path)
