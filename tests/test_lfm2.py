"""LFM2 (lfm2, Lfm2ForCausalLM) and LFM2-MoE (lfm2_moe, Lfm2MoeForCausalLM): hybrids of gated
short convolutions and GQA attention, a kind in each block as `layer_types` says, depth pruned
and benchmarked with the hf / hf_static backends.

Their own pieces against transformers' classes at float32: counts (the short convolution's
biases, the MLP width Lfm2MLP derives from intermediate_size, LFM2-MoE's dense blocks and
experts, tying) against meta models, against config.json read alone (LFM2's published
block_ff_dim / full_attn_idxs / tie_embedding keys) and by hand; depth pruning equal to
transformers' model of the kept blocks (layer_types and full_attn_idxs renumbered, LFM2-MoE's
num_dense_layers lowered by the dense blocks removed), reloaded by prunebench and by
transformers, decoded by the hf backends as transformers' generate; the cache a step reads;
the refusals (width methods, surgery, the compiled decoder; a prune or a config.json without an
attention block; block kinds LFM2 has not; an LFM2-MoE config.json without layer_types).
"""

from __future__ import annotations

import copy
import json

import pytest
import torch
from transformers import Lfm2Config, Lfm2MoeConfig

from prunebench import PrunebenchError, lora
from prunebench.checkpoint.param_count import (checked_config_json, config_from_dict,
                                               count_params, dense_width, layer_shapes,
                                               linear_attention_state, short_conv_params)
from prunebench.modeling import build_model, remove_blocks
from block_helpers import kept_blocks_state
from test_deepseek import ids, logits, numel, random_model
from test_families import VOCAB
from test_granitemoehybrid import check_width_and_compiled_refused
from test_nemotron_h import (check_removing_every_attention_block_is_refused,
                             check_saved_and_reloaded)
from test_qwen3_next import check_a_depth_pruned_reload_decodes_as_transformers, check_cache_bytes

pytestmark = pytest.mark.usefixtures("one_thread")

CONV, ATTENTION = "conv", "full_attention"
# Five blocks, attention in two (LFM2-1.2B: 6 of 16, none first or last; the last one here so
# that removing it leaves another)
KINDS = [CONV, ATTENTION, CONV, CONV, ATTENTION]


def small(**over) -> Lfm2Config:
    """A small LFM2: attention of 4 query heads of 8 on 2 KV heads; short convolutions of 3
    taps; an MLP of intermediate_size 48, which Lfm2MLP builds 32 wide (2 x 48 / 3 = 32, a
    multiple of 16); untied."""
    values = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=48, num_hidden_layers=5,
                  layer_types=KINDS, num_attention_heads=4, num_key_value_heads=2,
                  block_multiple_of=16, max_position_embeddings=128, tie_word_embeddings=False,
                  bos_token_id=1, eos_token_id=2, pad_token_id=0)
    return Lfm2Config(**{**values, **over})


def small_moe(**over) -> Lfm2MoeConfig:
    """A small LFM2-MoE: LFM2's blocks, dense MLPs of 48 in the first two, then a sigmoid
    router over 4 experts of 16 (2 a token, its expert_bias on)."""
    values = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=48, num_hidden_layers=5,
                  layer_types=KINDS, num_attention_heads=4, num_key_value_heads=2,
                  num_dense_layers=2, moe_intermediate_size=16, num_experts=4,
                  num_experts_per_tok=2, max_position_embeddings=128, tie_word_embeddings=False,
                  bos_token_id=1, eos_token_id=2, pad_token_id=0)
    return Lfm2MoeConfig(**{**values, **over})


def random_lfm2(config, seed: int = 0):
    """random_model's weights, and LFM2-MoE's expert_bias (a buffer, which picks the experts)
    away from 0."""
    model = random_model(config, seed)
    with torch.no_grad():
        for layer in model.model.layers:
            if hasattr(layer.feed_forward, "expert_bias"):
                layer.feed_forward.expert_bias.copy_(torch.randn(config.num_experts) * 0.1)
    return model


def kinds_of(model) -> list[str]:
    """Each block's token mixer as built."""
    return [CONV if hasattr(layer, "conv") else ATTENTION for layer in model.model.layers]


# --------------------------------------------------------------------------- counts

def check_counted_as_built(config, folder):
    """count_params(config) equals transformers' meta model of it, and so do the layer_types
    and the count of the config.json it writes to `folder` read alone (LFM3's too). Returns the
    meta model."""
    meta = build_model(config, device="meta")
    assert count_params(config) == numel(meta)
    config.save_pretrained(folder)
    counted = config_from_dict(checked_config_json(folder))
    assert counted.layer_types == config.layer_types
    assert count_params(counted) == numel(meta)
    return meta


@pytest.mark.parametrize("make, over", [
    (small, {}), (small, {"conv_bias": True, "conv_L_cache": 4}),
    (small, {"block_auto_adjust_ff_dim": False}),
    (small, {"block_ffn_dim_multiplier": 1.3, "block_multiple_of": 8}),
    (small, {"layer_types": [ATTENTION] * 5, "tie_word_embeddings": True}),
    (small_moe, {}), (small_moe, {"num_dense_layers": 0, "conv_bias": True}),
    (small_moe, {"num_dense_layers": 4, "use_expert_bias": False, "tie_word_embeddings": True})])
def test_counts_equal_transformers_parameters(make, over, tmp_path):
    """Biases (the short convolution's by conv_bias), its taps, the MLP width Lfm2MLP derives
    (adjusted or not, with a multiplier or without), LFM2-MoE's dense blocks and experts, and
    tying: the closed form equals transformers' meta model, and so does the count of the
    config.json it writes read alone."""
    config = make(**over)
    meta = check_counted_as_built(config, tmp_path)
    dense = [layer.feed_forward for layer in meta.model.layers if hasattr(layer.feed_forward, "w1")]
    assert {mlp.w1.out_features for mlp in dense} <= {dense_width(config)}


def test_the_count_is_the_sum_of_each_part_by_hand():
    """small(): the MLP 32 wide (int(2 x 48 / 3) = 32, x 1.0, a multiple of 16), 3 x 32 x 32 =
    3,072; a short convolution in_proj 32 x 96, conv1d 32 x 3, out_proj 32 x 32: 3,072 + 96 +
    1,024 = 4,192; attention 2 x 32 x 32 + 2 x 32 x 16 = 3,072 and its q/k norms 2 x 8; two
    norms of 32 a block; embeddings, the LM head and the final norm 2 x 128 x 32 + 32."""
    config = small()
    assert dense_width(config) == 32 and short_conv_params(config) == 4192
    blocks = 3 * (4192 + 3072 + 64) + 2 * (3072 + 16 + 3072 + 64)
    assert count_params(config) == blocks + 2 * VOCAB * 32 + 32 == 42_656
    assert [s["num_key_value_heads"] for s in layer_shapes(config)] == [0, 2, 0, 0, 2]


def test_lfm2_1_2b_counts_by_hand():
    """lfm2-1.2b (its config.json's block_ff_dim 12288 adjusted to 8192, tied): embeddings
    65536 x 2048; each block's MLP 3 x 2048 x 8192 and two norms of 2048; 10 short
    convolutions of 3 x 2048 x 2048 + 2048 x 3 + 2048 x 2048; 6 attention blocks of 2 x 2048 x
    2048 + 2 x 2048 x 512 and q/k norms of 64; the final norm: the card's 1,170,340,608, as
    transformers' model of it (meta) and its config read alone count it."""
    from prunebench.checkpoint.architectures import ARCHITECTURES, architecture_config
    from prunebench.modeling import count_params_meta

    d, blocks = 2048, 16
    by_hand = (65536 * d + blocks * (3 * d * 8192 + 2 * d)
               + 10 * (3 * d * d + d * 3 + d * d) + 6 * (2 * d * d + 2 * d * 512 + 2 * 64) + d)
    assert by_hand == 1_170_340_608
    config = architecture_config("lfm2-1.2b")
    assert config.intermediate_size == 12288 and config.tie_word_embeddings
    assert dense_width(config) == 8192
    assert count_params(config) == count_params_meta(config) == by_hand
    assert count_params(config_from_dict(ARCHITECTURES["lfm2-1.2b"])) == by_hand


def test_a_published_config_json_is_read_as_lfm2config_reads_it(tmp_path):
    """LFM2's published config.json gives the MLP as block_ff_dim (over intermediate_size),
    the attention blocks as full_attn_idxs (no layer_types) and the tying as tie_embedding:
    read alone, it counts transformers' model of it."""
    raw = {k: v for k, v in small().to_dict().items() if k != "layer_types"}
    raw.update(block_ff_dim=96, intermediate_size=7, full_attn_idxs=[1, 4], tie_embedding=True,
               tie_word_embeddings=False)
    (tmp_path / "config.json").write_text(json.dumps(raw))
    theirs = Lfm2Config.from_pretrained(tmp_path)
    assert theirs.intermediate_size == 96 and theirs.tie_word_embeddings
    assert theirs.layer_types == KINDS
    counted = config_from_dict(checked_config_json(tmp_path))
    assert counted.layer_types == KINDS
    assert count_params(counted) == numel(build_model(theirs, device="meta"))


# --------------------------------------------------------------------------- depth

def kept_blocks_model(model, keep: list[int]):
    """transformers' own model of `model`'s blocks `keep` (renumbered): a config of that depth
    with the kept blocks' layer_types (LFM2-MoE: as many dense blocks as were kept), given
    those weights."""
    config = copy.deepcopy(model.config)
    config.num_hidden_layers = len(keep)
    config.layer_types = [KINDS[i] for i in keep]
    if config.model_type == "lfm2_moe":
        config.num_dense_layers = sum(i < model.config.num_dense_layers for i in keep)
    kept = type(model)(config).eval()
    kept.load_state_dict(kept_blocks_state(model, keep), strict=True)
    return kept


@pytest.mark.parametrize("make", [small, small_moe])
@pytest.mark.parametrize("drop", [[0], [1], [2, 3], [0, 4]])
def test_depth_pruning_gives_transformers_model_of_the_kept_blocks(make, drop, tmp_path):
    """Removing short-convolution or attention blocks (LFM2-MoE: dense ones too): layer_types
    and full_attn_idxs name the kept blocks by their new indices, num_dense_layers counts the
    kept dense blocks, each kept mixer takes its new index (the cache's), and the pruned model,
    its save reloaded by prunebench and by transformers compute the logits of transformers'
    model of the kept blocks."""
    model = random_lfm2(make())
    model.config.full_attn_idxs = [1, 4]  # (as LFM2's published config.json gives them)
    keep = [i for i in range(5) if i not in drop]
    kinds = [KINDS[i] for i in keep]
    x = ids()
    expected = logits(kept_blocks_model(model, keep), x)
    remove_blocks(model, drop)
    assert model.config.layer_types == kinds == kinds_of(model)
    assert model.config.full_attn_idxs == [new for new, kind in enumerate(kinds)
                                           if kind == ATTENTION]
    for new, layer in enumerate(model.model.layers):
        assert (layer.conv if hasattr(layer, "conv") else layer.self_attn).layer_idx == new
    written = check_saved_and_reloaded(model, x, expected, tmp_path / "pruned", kinds_of)
    assert written["layer_types"] == kinds
    if make is small_moe:
        assert written["num_dense_layers"] == sum(i < 2 for i in keep)


@pytest.mark.parametrize("make", [small, small_moe])
@pytest.mark.parametrize("drop", [[0], [1], [2, 3]])
def test_the_hf_backends_decode_a_depth_pruned_model_as_transformers_generate(make, drop,
                                                                               tmp_path):
    """A depth-pruned model reloaded (an attention block or a short convolution first): the hf
    backend's tokens equal transformers' generate of its own loading of the checkpoint, and
    greedy decoding without a cache wherever that choice is certain; so do hf_static's."""
    model = random_lfm2(make())
    check_a_depth_pruned_reload_decodes_as_transformers(
        model, drop, type(model), tmp_path / "pruned")


def test_removing_every_short_convolution_leaves_transformers_attention_model(tmp_path):
    """An LFM2 model of attention blocks only is one transformers builds and runs (Lfm2Config's
    default): removing every short convolution is a prune like any other."""
    model = random_lfm2(small())
    x = ids()
    expected = logits(kept_blocks_model(model, [1, 4]), x)
    remove_blocks(model, [0, 2, 3])
    assert model.config.layer_types == [ATTENTION, ATTENTION]
    check_saved_and_reloaded(model, x, expected, tmp_path / "pruned", kinds_of)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_cache_a_step_reads_is_what_transformers_cache_holds(dtype):
    """kv_cache_bytes: the attention blocks' keys and values of the positions seen and each
    short convolution's conv state (its last conv_L_cache inputs of 32 channels, in the
    model's dtype; no recurrent state), equal to the tensors transformers' cache holds after a
    prefill; a depth-pruned model's (without its attention block 1) too."""
    model = random_lfm2(small(conv_L_cache=4)).to(dtype)
    assert linear_attention_state(model.config) == (32 * 4, 0)
    check_cache_bytes(model, dtype)


def test_removing_every_attention_block_is_refused_before_anything_changes():
    """Without an attention block transformers' cache cannot size the masks: the removal is
    refused, naming the attention blocks and what to do; the model is left whole, and
    transformers' own model of those blocks stops generate with a ValueError."""
    model = random_lfm2(small())
    check_removing_every_attention_block_is_refused(
        model, [4, 1], r"removing blocks \[1, 4\] would leave this LFM2 model short "
        r"convolution blocks only \(its full-attention blocks are \[1, 4\]\)", KINDS,
        lambda model: kept_blocks_model(model, [0, 2, 3]))


# --------------------------------------------------------------------------- refusals

def test_width_methods_surgery_and_the_compiled_backend_are_refused():
    """A width method's plan, width surgery and the compiled decoder refuse LFM2, also when
    every block is attention (its modules are not LLaMA's), naming the depth methods and the
    hf backends; LFM2-MoE as a mixture of experts."""
    said = r"this 'lfm2' model \(Lfm2ForCausalLM\): its blocks hold gated short convolutions"
    check_width_and_compiled_refused(small(), said)
    check_width_and_compiled_refused(small(layer_types=[ATTENTION] * 5), said)
    check_width_and_compiled_refused(small_moe(), "the mixture-of-experts family 'lfm2_moe'")


def test_the_start_refuses_the_compiled_backend_for_an_lfm2_model(tmp_path):
    """An LFM2 model whose config is known at the start (a local folder), with short
    convolutions or of attention blocks only, is told of the compiled backend there, not by
    its benchmark job."""
    from prunebench.plan.checks import moe_problems

    for kinds in (KINDS, [ATTENTION] * 5):
        small(layer_types=kinds).save_pretrained(tmp_path / "lfm2")
        runs = {"models": {"lfm2": {"source": f"local:{tmp_path / 'lfm2'}",
                                    "variants": ["dense"]}},
                "benchmark": {"backends": ["hf", "compiled"]}}
        problem, = moe_problems(runs, tmp_path / "nowhere")
        assert problem.startswith("models.lfm2 (lfm2) is an LFM2 model")
        assert "take 'compiled' out of benchmark.backends (hf and hf_static run it)" in problem


@pytest.mark.parametrize("make, change, said", [
    (small, {"layer_types": [CONV] * 5}, "gives no attention block"),
    (small, {"layer_types": None, "full_attn_idxs": []}, "gives no attention block"),
    (small, {"layer_types": [CONV, "sliding_attention", CONV, CONV, ATTENTION]},
     r"gives layer_types \['sliding_attention'\]"),
    (small_moe, {"layer_types": None}, "gives no layer_types")])
def test_a_config_json_transformers_cannot_run_is_refused(make, change, said, tmp_path):
    """No attention block (every layer_types entry conv, or full_attn_idxs empty), a block kind
    LFM2's model has no mask for, or an LFM2-MoE config.json without layer_types (its class
    derives none) is refused as read, saying what to do."""
    raw = {k: v for k, v in make().to_dict().items() if v is not None}
    raw.update({k: v for k, v in change.items() if v is not None})
    for key in (k for k, v in change.items() if v is None):
        raw.pop(key, None)
    (tmp_path / "config.json").write_text(json.dumps(raw))
    with pytest.raises(PrunebenchError, match=f"config.json {said}.*rebuild"):
        checked_config_json(tmp_path)


def test_lora_adapts_the_attention_and_the_mlp_by_llamas_names():
    """LoRA's default targets find LFM2's attention (out_proj as o_proj) and its MLP (w1 / w3
    / w2 as gate / up / down), not its short convolutions' in_proj / out_proj."""
    chosen, _ = lora.lora_target_names(random_lfm2(small()), list(lora.TARGETS))
    names = {name.split("layers.", 1)[1] for name in chosen}
    assert {"1.self_attn.out_proj", "0.feed_forward.w1",
            "0.feed_forward.w3", "0.feed_forward.w2", "4.self_attn.q_proj"} <= names
    assert not any(".conv." in name for name in names)
