"""Bamba (bamba, BambaForCausalLM: Bamba-9B): a hybrid of Mamba-2 blocks and attention blocks
(the blocks attn_layer_indices lists), each followed by a SwiGLU MLP; and Falcon-H1 (falcon_h1,
FalconH1ForCausalLM: Falcon-H1-0.5B ... 34B): attention and a Mamba-2 mixer side by side in
every block, each output scaled by its multiplier, then a SwiGLU MLP. Depth pruning and the
hf / hf_static backends.

Exact counts against transformers' meta models, config.json's values alone and by hand;
depth pruning of either kind of block equal to transformers' model of the kept blocks
(attn_layer_indices renumbered), its save reloaded by prunebench and by transformers; the hf
and hf_static tokens of a depth-pruned model equal to transformers' generate and to greedy
decoding without a cache; kv_cache_bytes equal to what transformers' cache holds; the
refusals (width methods, surgery, the compiled decoder, a prune without an attention block,
config.json files transformers cannot run or prunebench does not take for Bamba's); for
Falcon-H1 the same counts, depth pruning, decoding and cache checks (its mup_vector, a buffer
no checkpoint holds, rebuilt by the loader) and its refusals (hf_static where transformers'
own static-cache generate stops)."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from transformers import BambaConfig, BambaForCausalLM, FalconH1Config, FalconH1ForCausalLM

from prunebench import PrunebenchError
from prunebench import benchmark as bench
from prunebench.benchmark.runners import static_cache_problem
from prunebench.checkpoint.param_count import (checked_config_json, config_from_dict,
                                               count_params, layer_shapes, mamba_params)
from prunebench.modeling import build_model, load_model, remove_blocks, save_model
from block_helpers import kept_blocks_state
from test_deepseek import ids, logits, numel, random_model
from test_families import VOCAB, in_allocated_memory
from test_families import tokenizer  # noqa: F401 - a fixture
from test_granitemoehybrid import check_width_and_compiled_refused
from test_nemotron_h import (check_removing_every_attention_block_is_refused,
                             check_saved_and_reloaded,
                             check_the_start_refuses_the_compiled_backend)
from test_qwen3_next import (check_a_depth_pruned_reload_decodes_as_transformers,
                             check_cache_bytes, check_hf_backends_decode_as_transformers)

pytestmark = pytest.mark.usefixtures("one_thread")

MAMBA, ATTENTION = "linear_attention", "full_attention"
# Five blocks, attention in two of them (Bamba-9B: 3 of 32, none first or last; the last one
# here so that removing it leaves another)
KINDS = [MAMBA, ATTENTION, MAMBA, MAMBA, ATTENTION]


def small(**over) -> BambaConfig:
    """A small Bamba: attention of 4 query heads of 8 on 2 KV heads (half of each rotating);
    Mamba-2 of 4 heads of 16 (expand 2) in 2 groups with a state of 8, chunks of 4 tokens;
    SwiGLU MLPs of 48; untied."""
    values = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=48, num_hidden_layers=5,
                  attn_layer_indices=[1, 4], num_attention_heads=4, num_key_value_heads=2,
                  mamba_n_heads=4, mamba_n_groups=2, mamba_d_state=8, mamba_d_conv=4,
                  mamba_expand=2, mamba_chunk_size=4, max_position_embeddings=128,
                  bos_token_id=1, eos_token_id=2, pad_token_id=0)
    return BambaConfig(**{**values, **over})


def kinds_of(model) -> list[str]:
    """Each block's token mixer as built."""
    return [MAMBA if hasattr(layer, "mamba") else ATTENTION for layer in model.model.layers]


# --------------------------------------------------------------------------- counts

@pytest.mark.parametrize("over", [
    {}, {"attention_bias": True, "mlp_bias": True, "mamba_proj_bias": True},
    {"mamba_conv_bias": False, "mamba_n_groups": 4},
    {"attn_layer_indices": [0, 2, 3], "mamba_n_heads": 8, "mamba_d_state": 12},
    {"tie_word_embeddings": True}])
def test_counts_equal_transformers_parameters(over, tmp_path):
    """Biases (attention and MLP, the Mamba-2 in_proj / out_proj by mamba_proj_bias, conv1d
    by mamba_conv_bias), groups, heads, states, other attention blocks and tying: the closed
    form equals transformers' meta model, and so does the count of the config.json it
    writes read alone (the blocks' kinds from attn_layer_indices)."""
    config = small(**over)
    meta = build_model(config, device="meta")
    assert count_params(config) == numel(meta)
    config.save_pretrained(tmp_path)
    counted = config_from_dict(checked_config_json(tmp_path))
    assert counted.layer_types == config.layers_block_type
    assert count_params(counted) == numel(meta)


def test_the_count_is_the_sum_of_each_part_by_hand():
    """small(): the Mamba-2 mixer's inner width 2 x 32 = 64 (4 heads of 16), conv channels
    64 + 2 x 2 x 8 = 96, in_proj 32 x (64 + 96 + 4), conv1d 96 x 4 + 96, dt_bias / A_log / D
    3 x 4, its gated norm 64, out_proj 64 x 32: 5,248 + 480 + 12 + 64 + 2,048 = 7,852;
    attention 2 x 32 x 32 + 2 x 32 x 16 = 3,072; every block's MLP 3 x 32 x 48 = 4,608 and two
    norms of 32; embeddings, the LM head and the final norm 2 x 128 x 32 + 32."""
    config = small()
    assert mamba_params(config) == 7852
    blocks = 3 * (7852 + 4608 + 64) + 2 * (3072 + 4608 + 64)
    assert count_params(config) == blocks + 2 * VOCAB * 32 + 32 == 61284
    assert [s["num_key_value_heads"] for s in layer_shapes(config)] == [0, 2, 0, 0, 2]


# --------------------------------------------------------------------------- depth

def kept_blocks_model(model, keep: list[int]) -> BambaForCausalLM:
    """transformers' own model of `model`'s blocks `keep` (renumbered): a config of that depth
    whose attn_layer_indices are the kept attention blocks' new indices, given those
    weights."""
    config = copy.deepcopy(model.config)
    config.num_hidden_layers = len(keep)
    config.attn_layer_indices = [new for new, old in enumerate(keep) if KINDS[old] == ATTENTION]
    kept = BambaForCausalLM(config).eval()
    kept.load_state_dict(kept_blocks_state(model, keep), strict=True)
    return kept


@pytest.mark.parametrize("drop, attention", [([0], [0, 3]), ([1], [3]), ([2, 3], [1, 2]),
                                             ([0, 4], [0])])
def test_depth_pruning_gives_transformers_model_of_the_kept_blocks(drop, attention, tmp_path):
    """Removing Mamba-2 or attention blocks: attn_layer_indices names the kept attention
    blocks by their new indices (the kinds follow: BambaConfig derives them), each kept mixer
    takes its new index (the cache's), and the pruned model, its save reloaded by prunebench
    and by transformers compute the logits of transformers' model of the kept blocks."""
    model = random_model(small())
    keep = [i for i in range(5) if i not in drop]
    kinds = [KINDS[i] for i in keep]
    x = ids()
    expected = logits(kept_blocks_model(model, keep), x)
    remove_blocks(model, drop)
    assert model.config.attn_layer_indices == attention
    assert model.config.layer_types == kinds == kinds_of(model)
    assert model.config.num_hidden_layers == len(keep)
    for new, layer in enumerate(model.model.layers):
        assert (layer.mamba if hasattr(layer, "mamba") else layer.self_attn).layer_idx == new
    written = check_saved_and_reloaded(model, x, expected, tmp_path / "pruned", kinds_of)
    assert written["attn_layer_indices"] == attention


@pytest.mark.parametrize("drop", [[0], [1], [2, 3]])
def test_the_hf_backends_decode_a_depth_pruned_model_as_transformers_generate(drop, tmp_path):
    """A depth-pruned model reloaded (an attention block or a Mamba-2 one first): the hf
    backend's tokens equal transformers' generate of its own loading of the checkpoint, and
    greedy decoding without a cache wherever that choice is certain; so do hf_static's. The
    Mamba-2 mixer runs transformers' PyTorch fallback on the CPU."""
    check_a_depth_pruned_reload_decodes_as_transformers(
        random_model(small()), drop, BambaForCausalLM, tmp_path / "pruned")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_cache_a_step_reads_is_what_transformers_cache_holds(dtype):
    """kv_cache_bytes: the attention blocks' keys and values of the positions seen and each
    Mamba-2 block's state of one size whatever the length (conv state in the model's dtype,
    SSM state in float32), equal to the tensors transformers' cache holds after a prefill; a
    depth-pruned model's (without its attention block 1) too."""
    check_cache_bytes(random_model(small()).to(dtype), dtype)


def test_removing_every_attention_block_is_refused_before_anything_changes():
    """Without an attention block transformers' cache cannot size the masks: the removal is
    refused, naming the attention blocks and what to do; the model is left whole, and
    transformers' own model of those blocks stops generate with a ValueError."""
    model = random_model(small())
    check_removing_every_attention_block_is_refused(
        model, [4, 1], r"removing blocks \[1, 4\] would leave this Bamba model Mamba-2 blocks "
        r"only \(its full-attention blocks are \[1, 4\]\)", KINDS,
        lambda model: kept_blocks_model(model, [0, 2, 3]))
    assert model.config.attn_layer_indices == [1, 4]


# --------------------------------------------------------------------------- refusals

def test_width_methods_surgery_and_the_compiled_backend_are_refused():
    """Its Mamba-2 blocks hold no heads: a width method's plan, width surgery and the compiled
    decoder refuse it, naming those blocks, the depth methods and the hf backends."""
    check_width_and_compiled_refused(
        small(), r"this 'bamba' model \(BambaForCausalLM\) with blocks of another token mixer "
                 r"than softmax attention \(blocks \[0, 2, 3\]: Mamba-2\)")


@pytest.mark.parametrize("indices, said", [
    (None, "gives no attention block"), ([], "gives no attention block"),
    ([1, 5], r"gives attn_layer_indices \[5\] outside its 5 blocks"),
    ([0, 1, 2, 3, 4], "lists every block in attn_layer_indices")])
def test_a_config_json_prunebench_does_not_take_for_bambas_is_refused(indices, said,
                                                                      tmp_path):
    """attn_layer_indices left out or empty (no attention block: no cached forward runs),
    naming a block the model does not have (built as a Mamba-2 one, silently) or every block
    (no Mamba-2 block) is refused as read, saying what to do."""
    raw = small().to_dict()
    raw["attn_layer_indices"] = indices
    (tmp_path / "config.json").write_text(json.dumps(raw))
    with pytest.raises(PrunebenchError, match=f"config.json {said}.*(rebuild|model_type llama)"):
        checked_config_json(tmp_path)


def test_the_start_refuses_the_compiled_backend_for_a_bamba_model(tmp_path):
    """A Bamba model whose config is known at the start (a local folder) is told of the
    compiled backend there, naming its Mamba-2 blocks, not by its benchmark job."""
    check_the_start_refuses_the_compiled_backend(small(), tmp_path)


# =========================================================================== Falcon-H1

def falcon(**over) -> FalconH1Config:
    """A small Falcon-H1: attention of 4 query heads of 12 on 2 KV heads beside a Mamba-2
    mixer of 48 inner width (mamba_d_ssm: 4 heads of 12) in 2 groups with a state of 8, chunks
    of 4 tokens, its gated norm on; SwiGLU MLPs of 48; every multiplier away from 1; four
    blocks, untied."""
    values = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=48, num_hidden_layers=4,
                  num_attention_heads=4, num_key_value_heads=2, head_dim=12, mamba_d_ssm=48,
                  mamba_n_heads=4, mamba_n_groups=2, mamba_d_state=8, mamba_d_conv=4,
                  mamba_chunk_size=4, mamba_rms_norm=True, max_position_embeddings=128,
                  embedding_multiplier=3.3, lm_head_multiplier=0.7, key_multiplier=0.9,
                  attention_in_multiplier=1.3, attention_out_multiplier=0.8,
                  ssm_multipliers=[0.6, 1.4, 0.7, 1.2, 0.9], ssm_in_multiplier=1.1,
                  ssm_out_multiplier=0.6, mlp_multipliers=[0.8, 1.2],
                  bos_token_id=1, eos_token_id=2, pad_token_id=0)
    return FalconH1Config(**{**values, **over})


@pytest.mark.parametrize("over", [
    {}, {"attention_bias": True, "mlp_bias": True, "mamba_proj_bias": True},
    {"projectors_bias": True, "mamba_rms_norm": False, "mamba_conv_bias": False},
    {"mamba_d_ssm": None, "head_dim": 8, "mamba_n_groups": 1},
    {"tie_word_embeddings": True}])
def test_falcon_h1_counts_equal_transformers_parameters(over, tmp_path):
    """Biases (attention and MLP; the Mamba-2 in_proj by mamba_proj_bias, out_proj by
    projectors_bias, conv1d by mamba_conv_bias), the gated norm by mamba_rms_norm, the inner
    width mamba_d_ssm or mamba_expand x hidden, other head widths, tying: the closed
    form equals transformers' meta model, and so does the count of its config.json read
    alone."""
    config = falcon(**over)
    meta = build_model(config, device="meta")
    assert count_params(config) == numel(meta)
    config.save_pretrained(tmp_path)
    assert count_params(config_from_dict(checked_config_json(tmp_path))) == numel(meta)


def test_falcon_h1_counts_by_hand():
    """falcon(): the Mamba-2 mixer 48 wide, conv channels 48 + 2 x 2 x 8 = 80, in_proj
    32 x (48 + 80 + 4), conv1d 80 x 4 + 80, dt_bias / A_log / D 3 x 4, its gated norm 48,
    out_proj 48 x 32: 4,224 + 400 + 12 + 48 + 1,536 = 6,220; attention 2 x 32 x 48 +
    2 x 32 x 24 = 4,608; the MLP 3 x 32 x 48 = 4,608; two norms of 32, in each of the 4
    blocks; embeddings, LM head and final norm 2 x 128 x 32 + 32. Every block caches keys and
    values (2 KV heads) and keeps a Mamba-2 state."""
    config = falcon()
    assert mamba_params(config) == 6220
    assert count_params(config) == 4 * (6220 + 4608 + 4608 + 64) + 2 * VOCAB * 32 + 32 == 70224
    assert [s["num_key_value_heads"] for s in layer_shapes(config)] == [2, 2, 2, 2]


def test_a_falcon_h1_config_json_with_a_null_head_dim_loads_as_hidden_over_heads(
        tmp_path, tokenizer):  # noqa: F811 - the fixture
    """head_dim null: FalconH1Config keeps the None (it has no head_dim of its own), and
    FalconH1Attention takes it as it is, stopping transformers' build (its scaling, 5.17 and
    5.25), where its rotary module reads null as hidden_size / heads, as the attention takes a
    head_dim left out. prunebench reads a null head_dim as left out (without_null_shapes): a
    checkpoint of heads hidden_size / heads wide whose config.json gives null imports and loads
    into transformers' model with head_dim left out, counted so."""
    from prunebench.checkpoint.local_import import import_local
    from prunebench.checkpoint.param_count import head_dim
    from prunebench.modeling import MANIFEST

    values = {k: v for k, v in falcon().to_dict().items() if k != "head_dim"}
    model = random_model(FalconH1Config.from_dict(values))
    assert head_dim(model.config) == 32 // 4 == model.model.layers[0].self_attn.head_dim
    published = tmp_path / "published"
    save_model(model, tokenizer, published)
    (published / MANIFEST).unlink()
    saved = json.loads((published / "config.json").read_text())
    (published / "config.json").write_text(json.dumps({**saved, "head_dim": None}))
    with pytest.raises(TypeError):  # transformers' own build of it
        FalconH1ForCausalLM.from_pretrained(published)
    ours = load_model(import_local(f"local:{published}", tmp_path / "imported"))
    assert ours.model.layers[0].self_attn.head_dim == 8
    assert numel(ours) == count_params(ours.config) == numel(model)
    assert count_params(config_from_dict(checked_config_json(published))) == numel(model)
    x = ids()
    assert torch.equal(logits(ours, x), logits(model, x))


def falcon_kept_blocks_model(model, keep: list[int]) -> FalconH1ForCausalLM:
    """transformers' own Falcon-H1 model of `model`'s blocks `keep` (renumbered), given those
    weights (its mup_vector computed by the class from the config)."""
    config = copy.deepcopy(model.config)
    config.num_hidden_layers = len(keep)
    kept = FalconH1ForCausalLM(config).eval()
    kept.load_state_dict(kept_blocks_state(model, keep), strict=True)
    return kept


@pytest.mark.parametrize("drop", [[0], [1, 2], [3]])
def test_falcon_h1_depth_pruning_gives_transformers_model_of_the_kept_blocks(drop, tmp_path):
    """Removing blocks: both mixers of each kept block take its new index (the one cache entry
    they share), and the pruned model, its save reloaded by prunebench (the mup_vector rebuilt,
    equal to transformers') and by transformers compute the logits of transformers' model of
    the kept blocks."""
    model = random_model(falcon())
    keep = [i for i in range(4) if i not in drop]
    x = ids()
    reference = falcon_kept_blocks_model(model, keep)
    expected = logits(reference, x)
    remove_blocks(model, drop)
    assert model.config.num_hidden_layers == len(keep)
    assert model.config.layer_types == ["hybrid"] * len(keep)
    for new, layer in enumerate(model.model.layers):
        assert layer.self_attn.layer_idx == layer.mamba.layer_idx == new
    check_saved_and_reloaded(model, x, expected, tmp_path / "pruned")
    again = load_model(tmp_path / "pruned")
    for ours, reference_layer in zip(again.model.layers, reference.model.layers):
        assert torch.equal(ours.mamba.mup_vector, reference_layer.mamba.mup_vector)


@pytest.mark.parametrize("drop", [[0], [2]])
def test_falcon_h1_hf_backends_decode_a_depth_pruned_model_as_transformers(drop, tmp_path):
    """A depth-pruned model reloaded: the hf backend's tokens equal transformers' generate of
    its own loading and greedy decoding without a cache where certain, and so do hf_static's
    where transformers decodes Falcon-H1 with a static cache (5.25); where it does not (5.17:
    its own static-cache generate stops with an IndexError), hf_static is refused before it
    runs, naming the hf backend."""
    model = random_model(falcon())
    remove_blocks(model, drop)
    save_model(model, None, tmp_path / "pruned")
    ours = load_model(tmp_path / "pruned")
    theirs = in_allocated_memory(FalconH1ForCausalLM.from_pretrained(
        tmp_path / "pruned", dtype=torch.float32)).eval()
    if static_cache_problem(ours) is None:
        check_hf_backends_decode_as_transformers(ours, theirs)
        return
    with pytest.raises(PrunebenchError, match="hf_static backend cannot run a Falcon-H1 model "
                                              r"on transformers .*hf backend"):
        bench.HFStaticRunner(ours, 4)
    prompt = ids(2, 7, seed=5)
    mask = torch.ones_like(prompt)
    with pytest.raises(IndexError), torch.inference_mode():
        theirs.generate(input_ids=prompt, attention_mask=mask, max_new_tokens=3,
                        do_sample=False, pad_token_id=0, cache_implementation="static")
    tokens = bench.HFRunner(ours, 8).generate(prompt, mask)
    with torch.inference_mode():
        reference = theirs.generate(input_ids=prompt, attention_mask=mask, max_new_tokens=8,
                                    min_new_tokens=8, do_sample=False, pad_token_id=0)
    assert torch.equal(tokens, reference)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_falcon_h1_cache_a_step_reads_is_what_transformers_cache_holds(dtype):
    """kv_cache_bytes: every block's keys and values of the positions seen and its Mamba-2
    state of one size whatever the length (conv state in the model's dtype, SSM state in
    float32), equal to the tensors transformers' cache holds after a prefill; a depth-pruned
    model's too."""
    check_cache_bytes(random_model(falcon()).to(dtype), dtype)


def test_falcon_h1_width_methods_surgery_and_the_compiled_backend_are_refused(tmp_path):
    """A Mamba-2 mixer beside each block's attention: a width method's plan, width surgery and
    the compiled decoder refuse it, naming the depth methods and the hf backends; the start
    tells of the compiled backend for a model whose config it knows."""
    check_width_and_compiled_refused(
        falcon(), r"this 'falcon_h1' model \(FalconH1ForCausalLM\): each of its blocks runs a "
                  r"Mamba-2 mixer beside its attention")
    check_the_start_refuses_the_compiled_backend(falcon(), tmp_path)
