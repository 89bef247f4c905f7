"""ERNIE 4.5's mixture of experts (ernie4_5_moe, Ernie4_5_MoeForCausalLM; ERNIE-4.5-21B-A3B and
300B-A47B): exact counts of its biases (one key, use_bias, the LM head's too), its dense blocks
outside the moe_layer_start_index / _end_index / _interval range, its routers with their
float32 score-correction bias parameters, routed and shared experts; its published per-expert
checkpoints (the score biases under `mlp.moe_statics`, a multi-token-prediction layer apart from
the blocks) imported as transformers loads them, pruned by depth and reloaded; depth pruning
keeping every kept block its kind through the range; the float32 routers of a half-precision
load; the known shapes (tests/test_families.py and tests/test_moe.py run the shared per-family
and mixture-of-experts tests on it too)."""

from __future__ import annotations

import itertools
import json

import pytest
import torch
from transformers import Ernie4_5_MoeConfig, Ernie4_5_MoeForCausalLM

from prunebench import PrunebenchError
from prunebench.checkpoint import moe_fuse
from prunebench.checkpoint.local_import import import_local
from prunebench.checkpoint.param_count import (config_from_dict, count_params, moe_layer_range_of,
                                               sparse_mlp_blocks)
from prunebench.modeling import build_model, load_model, remove_blocks, save_model
from test_deepseek import (check_depth_pruning_keeps_the_dense_prefix, ids, logits, numel,
                           random_model, write_published_folder)
from test_deepseek_v2 import check_known_shape
from test_families import VOCAB, in_allocated_memory
from test_glm4_moe import check_half_precision_load, check_loads_as_transformers
from test_moe import per_expert_state
from test_families import tokenizer  # noqa: F401 - a fixture

pytestmark = pytest.mark.usefixtures("one_thread")


def small(**over) -> Ernie4_5_MoeConfig:
    """A small ERNIE 4.5 MoE: 4 query heads of 8 on 2 KV heads, every projection biased, block
    0 dense, 4 routed experts, 2 a token, 2 shared ones fused, tied (as the 21B)."""
    values = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=48, moe_intermediate_size=16,
                  num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
                  use_bias=True, moe_num_experts=4, moe_k=2, moe_num_shared_experts=2,
                  moe_layer_start_index=1, moe_layer_end_index=-1, moe_layer_interval=1,
                  tie_word_embeddings=True, max_position_embeddings=64, bos_token_id=1,
                  eos_token_id=2, pad_token_id=0)
    return Ernie4_5_MoeConfig(**{**values, **over})


def sparse_kinds(model) -> list[bool]:
    return [type(layer.mlp).__name__ == "Ernie4_5_MoeSparseMoeBlock" for layer in model.model.layers]


@pytest.mark.parametrize("bias,tied,shared,blocks", list(itertools.product(
    [False, True], [False, True], [0, 2], [(1, -1, 1), (0, 2, 2), (2, 3, 1), (0, 3, 3)])))
def test_counts_equal_transformers_parameters(bias, tied, shared, blocks):
    """Biases on or off (every projection and the LM head), tied or not, with or without
    shared experts (the 300B has none: no module at all), any range of sparse blocks: the
    closed form, and config_from_dict of the config.json values (moe_num_experts, moe_k),
    equal model.parameters(), the score-correction biases (parameters here) included, and the
    blocks' kinds are transformers'."""
    start, end, step = blocks
    config = small(use_bias=bias, tie_word_embeddings=tied, moe_num_shared_experts=shared,
                   moe_layer_start_index=start, moe_layer_end_index=end, moe_layer_interval=step)
    model = build_model(config, device="meta")
    assert numel(model) == count_params(config)
    values = json.loads(config.to_json_string())
    assert "moe_num_experts" in values and "num_local_experts" not in values
    assert count_params(config_from_dict(values)) == count_params(config)
    assert sparse_kinds(model) == sparse_mlp_blocks(config) == sparse_mlp_blocks(
        config_from_dict(values))
    assert (model.lm_head.bias is not None) == bias
    for layer in model.model.layers:
        if type(layer.mlp).__name__ == "Ernie4_5_MoeSparseMoeBlock":
            assert (layer.mlp.shared_experts is None) == (shared == 0)
            assert layer.mlp.gate.moe_statics.e_score_correction_bias.shape == (1, 4)


def test_a_config_without_experts_counts_the_blocks_transformers_builds():
    """moe_num_experts 0 (no published model): Ernie4_5_MoeDecoderLayer still builds its range's
    blocks sparse (a router of no rows, no experts, the shared ones), as the counts read it."""
    config = small(moe_num_experts=0)
    model = build_model(config, device="meta")
    assert sparse_kinds(model) == sparse_mlp_blocks(config) == [False, True, True, True]
    assert numel(model) == count_params(config) == count_params(config_from_dict(
        json.loads(config.to_json_string())))


def test_the_count_is_the_sum_of_each_part_by_hand():
    config = small()
    d, q, kv = 32, 4 * 8, 2 * 8
    attention = d * q + q + 2 * (d * kv + kv) + q * d + d  # every projection with its bias
    dense = attention + 3 * d * 48 + 2 * 48 + d + 2 * d  # the MLP's biases, two norms
    shared = 3 * d * 32 + 2 * 32 + d  # 2 experts of 16 fused, with biases
    sparse = attention + 4 * d + 4 + 4 * 3 * d * 16 + shared + 2 * d  # router, its score bias
    total = VOCAB * d + VOCAB + d + dense + 3 * sparse  # tied; the LM head's bias; final norm
    assert count_params(config) == total


def published_state(model) -> dict[str, torch.Tensor]:
    """The model's weights as baidu publishes ERNIE 4.5's: each expert's gate / up / down apart
    (Qwen2-MoE's names), the routers' score biases under `mlp.moe_statics`, bfloat16 but for
    the float32 routers and score biases, and one multi-token-prediction layer stored apart
    from the blocks (`model.mtp_block.0`, a decoder layer with experts of its own, and its
    norms and projection), which Ernie4_5_MoeForCausalLM does not load."""
    state = {k.replace(".mlp.gate.moe_statics.", ".mlp.moe_statics."): t
             for k, t in per_expert_state(model, "ernie4_5_moe").items()}
    d = model.config.hidden_size
    g = torch.Generator().manual_seed(7)
    for key in [k for k in state if k.startswith("model.layers.1.")]:
        state[key.replace("model.layers.1.", "model.mtp_block.0.")] = torch.randn(
            state[key].shape, generator=g)
    for key, shape in (("mtp_emb_norm.0.weight", (d,)), ("mtp_hidden_norm.0.weight", (d,)),
                       ("mtp_linear_proj.0.weight", (d, 2 * d))):
        state[f"model.{key}"] = torch.randn(shape, generator=g)
    float32 = ("mlp.gate.weight", "e_score_correction_bias")
    return {k: (t.float() if k.endswith(float32) else t.to(torch.bfloat16)).detach().contiguous()
            for k, t in state.items()}


def write_published(model, folder, with_tokenizer) -> dict[str, torch.Tensor]:
    """The folder as baidu publishes ERNIE 4.5's -PT checkpoints: `published_state` in two
    shards, a config.json naming the MTP layer (num_nextn_predict_layers) and baidu's own code
    (auto_map, set aside)."""
    return write_published_folder(folder, with_tokenizer, {
        **json.loads(model.config.to_json_string()), "num_nextn_predict_layers": 1, "auto_map": {
            "AutoConfig": "configuration_ernie4_5_moe.Ernie4_5_MoeConfig",
            "AutoModel": "modeling_ernie4_5_moe.Ernie4_5_Model",
            "AutoModelForCausalLM": "modeling_ernie4_5_moe.Ernie4_5_MoeForCausalLM"}},
        published_state(model))


def test_a_published_checkpoint_is_imported_as_transformers_loads_it_pruned_and_reloaded(
        tmp_path, tokenizer):  # noqa: F811 - the fixture
    model = random_model(small())
    state = write_published(model, tmp_path / "hub", tokenizer)
    assert any(".mlp.moe_statics." in k for k in state) and any("mtp" in k for k in state)
    assert moe_fuse.needs_fusion(tmp_path / "hub")
    out = import_local(f"local:{tmp_path / 'hub'}", tmp_path / "imported")
    record = json.loads((out / moe_fuse.RECORD).read_text())
    assert record["experts_per_block"] == {f"model.layers.{i}": 4 for i in (1, 2, 3)}
    assert record["dropped_blocks"] == ["model.mtp_block.0", "model.mtp_emb_norm.0",
                                        "model.mtp_hidden_norm.0", "model.mtp_linear_proj.0"]
    assert "Ernie4_5_MoeForCausalLM" in record["dropped_note"]
    ours = load_model(out)
    assert numel(ours) == count_params(ours.config) == numel(model)
    # The published values: the float32 score biases and routers as they were, under
    # transformers' names, and the bfloat16 experts.
    bias = "model.layers.2.mlp.gate.moe_statics.e_score_correction_bias"
    assert torch.equal(ours.state_dict()[bias],
                       state["model.layers.2.mlp.moe_statics.e_score_correction_bias"])
    assert torch.equal(ours.state_dict()["model.layers.2.mlp.gate.weight"],
                       state["model.layers.2.mlp.gate.weight"])
    down = ours.model.layers[3].mlp.experts.down_proj[1]
    assert torch.equal(down.to(torch.bfloat16),
                       state["model.layers.3.mlp.experts.1.down_proj.weight"])
    # transformers' own loading of the published folder (it fuses the experts, renames the
    # score biases and leaves the MTP layer out; its auto_map set aside, transformers having
    # the class) holds the same tensors and computes the same logits.
    check_loads_as_transformers(ours, tmp_path / "hub")
    x = ids()
    # Pruned by depth (the dense block 0 and a sparse one: the range starts at 0 then), saved
    # and reloaded: the same logits in prunebench and in transformers.
    remove_blocks(ours, [0, 2])
    assert (ours.config.moe_layer_start_index, ours.config.moe_layer_end_index,
            ours.config.moe_layer_interval) == (0, 1, 1)
    expected = logits(ours, x)
    save_model(ours, None, tmp_path / "pruned")
    again = load_model(tmp_path / "pruned")
    assert sparse_kinds(again) == [True, True]
    assert torch.equal(logits(again, x), expected)
    theirs = in_allocated_memory(Ernie4_5_MoeForCausalLM.from_pretrained(
        tmp_path / "pruned", dtype=torch.float32)).eval()
    assert sparse_kinds(theirs) == [True, True]
    assert torch.equal(logits(theirs, x), expected)


@pytest.mark.parametrize("drop", [[0], [1], [0, 2], [1, 3], [2, 3], [0, 1]])
def test_depth_pruning_keeps_the_dense_blocks_a_prefix_reloading_each_as_it_was(drop, tmp_path):
    """Blocks 0 and 1 dense (moe_layer_start_index 2, as the 300B's 0-2): the kept ones stay a
    prefix, the range's start their count, every block reloading as the kind it was."""
    check_depth_pruning_keeps_the_dense_prefix(
        random_model(small(moe_layer_start_index=2)), drop, tmp_path,
        dense_count=lambda config: config.moe_layer_start_index)


@pytest.mark.parametrize("sparse,expected", [
    ([False, True, True, True], (1, 3, 1)),  # the 21B's layout
    ([False, False, True], (2, 2, 1)),
    ([True, True], (0, 1, 1)),
    ([False, False], (2, 1, 1)),  # none left: a range past the last block
    ([False, True, False, True, False, True], (1, 5, 2)),  # every other block
    ([False, True, True, False, False], (1, 2, 1)),  # a range ending before the last block
])
def test_the_range_that_gives_each_block_its_kind(sparse, expected):
    assert moe_layer_range_of(sparse) == expected
    config = small(num_hidden_layers=len(sparse), moe_layer_start_index=expected[0],
                   moe_layer_end_index=expected[1], moe_layer_interval=expected[2])
    assert sparse_mlp_blocks(config) == sparse
    assert sparse_kinds(build_model(config, device="meta")) == sparse


def test_a_removal_no_range_can_say_is_refused_before_anything_changes():
    """With sparse blocks every other one (moe_layer_interval 2: no published model), removing
    block 0 leaves sparse, dense, sparse, which no start, end and interval give: refused,
    naming the kinds, the model left as it was; removing block 3 leaves a range."""
    model = random_model(small(moe_layer_start_index=0, moe_layer_interval=2))
    assert sparse_kinds(model) == [False, True, False, True]
    layers = list(model.model.layers)
    with pytest.raises(PrunebenchError, match=r"SDS.*moe_layer_interval.*remove other blocks"):
        remove_blocks(model, [0])
    assert list(model.model.layers) == layers and model.config.num_hidden_layers == 4
    remove_blocks(model, [3])
    assert sparse_kinds(model) == [False, True, False] == sparse_mlp_blocks(model.config)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_a_half_precision_load_keeps_in_float32_what_transformers_keeps(dtype, tmp_path):
    """The routers' weights and score biases (Ernie4_5_MoePreTrainedModel.
    _keep_in_fp32_modules_strict, each transformers version's own list): prunebench's load
    holds each tensor in the dtype transformers' does, and computes its logits."""
    ours = check_half_precision_load(random_model(small()), dtype, tmp_path)
    gate = ours.model.layers[1].mlp.gate
    assert gate.weight.dtype == gate.moe_statics.e_score_correction_bias.dtype == torch.float32
    assert ours.model.layers[1].mlp.experts.gate_up_proj.dtype == dtype


@pytest.mark.parametrize("name,total,read,hubs", [
    # the model cards' 21B total / 3B active and 300B / 47B
    ("ernie-4.5-21b-a3b", 21_825_437_888, 3_352_150_208,
     ("baidu/ERNIE-4.5-21B-A3B-PT", "baidu/ERNIE-4.5-21B-A3B-Base-PT")),
    ("ernie-4.5-300b-a47b", 299_484_163_264, 47_079_337_152,
     ("baidu/ERNIE-4.5-300B-A47B-PT", "baidu/ERNIE-4.5-300B-A47B-Base-PT"))])
def test_the_known_shapes_count_what_transformers_builds(name, total, read, hubs):
    from prunebench.checkpoint.architectures import known_shape_of

    # a batch-1 step: the routed experts, the shared ones, attention, routers, LM head
    check_known_shape(name, total, read, "Ernie4_5_MoeConfig")
    for hub in hubs:
        assert known_shape_of(hub) == name
    assert known_shape_of(hubs[0].replace("-PT", "-FP8-Paddle")) is None  # quantized


def test_the_21b_and_300b_count_by_hand():
    """21B: block 0 dense (12288), 27 sparse (64 experts of 1536, 2 shared fused into 3072, a
    64 x 2560 router and its 64 score biases), 20 query heads of 128 on 4 KV heads, tied.
    300B: blocks 0-2 dense (28672), 51 sparse (64 experts of 3584, none shared), 64 / 8 heads,
    untied."""
    from prunebench.checkpoint.architectures import architecture_config

    def total(d, blocks, dense_blocks, heads, kv_heads, dense, width, shared, tied):
        attention = d * heads * 128 * 2 + 2 * d * kv_heads * 128 + 2 * d  # with two norms
        sparse = attention + 64 * d + 64 + 64 * 3 * d * width + 3 * d * width * shared
        return ((1 if tied else 2) * 103424 * d + d + dense_blocks * (attention + 3 * d * dense)
                + (blocks - dense_blocks) * sparse)

    assert count_params(architecture_config("ernie-4.5-21b-a3b")) == total(
        2560, 28, 1, 20, 4, 12288, 1536, 2, True)
    assert count_params(architecture_config("ernie-4.5-300b-a47b")) == total(
        8192, 54, 3, 64, 8, 28672, 3584, 0, False)
