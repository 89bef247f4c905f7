"""Width surgery: removal equals zeroing the removed part, shapes stay in sync, round trips."""

from __future__ import annotations

import copy

import pytest
import torch
from transformers import LlamaConfig

from prunebench import PrunebenchError, modeling
from prunebench.methods import surgery
from prunebench.modeling import ZeroHeadAttention

HD = 16


def small_config(**kw) -> LlamaConfig:
    d = dict(vocab_size=120, hidden_size=64, intermediate_size=48, num_hidden_layers=3,
             num_attention_heads=4, num_key_value_heads=4, head_dim=HD,
             max_position_embeddings=64, tie_word_embeddings=False, bos_token_id=1,
             eos_token_id=2, pad_token_id=0)
    d.update(kw)
    return LlamaConfig(**d)


def small_model(seed: int = 0, **kw):
    torch.manual_seed(seed)
    model = modeling.build_model(small_config(**kw), device="cpu", dtype=torch.float64)
    model.eval()
    return model


@pytest.fixture
def ids():
    torch.manual_seed(1)
    return torch.randint(3, 120, (2, 12))


def logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids, use_cache=False).logits


def numel(model) -> int:
    return sum(p.numel() for p in model.parameters())


def test_removing_nothing_leaves_logits_identical(ids):
    model = small_model()
    before = logits(model, ids)
    surgery.remove_kv_groups(model, 0, [])
    surgery.remove_channels(model, 1, [])
    assert torch.equal(logits(model, ids), before)
    assert modeling.count_params(model.config) == numel(model)


def test_removing_a_head_equals_zeroing_its_output_columns(ids):
    model = small_model()
    dense = copy.deepcopy(model)
    with torch.no_grad():
        dense.model.layers[1].self_attn.o_proj.weight[:, 2 * HD:3 * HD] = 0
    surgery.remove_heads(model, 1, [2])
    attn = model.model.layers[1].self_attn
    assert attn.q_proj.weight.shape == (3 * HD, 64) and attn.o_proj.weight.shape == (64, 3 * HD)
    torch.testing.assert_close(logits(model, ids), logits(dense, ids), rtol=0, atol=1e-10)
    assert model.config.layer_shapes[1]["num_attention_heads"] == 3
    assert modeling.count_params(model.config) == numel(model)


def test_removing_channels_equals_zeroing_down_proj_columns(ids):
    model = small_model()
    dense = copy.deepcopy(model)
    with torch.no_grad():
        dense.model.layers[2].mlp.down_proj.weight[:, [0, 5, 47]] = 0
    surgery.remove_channels(model, 2, [47, 0, 5])
    assert model.model.layers[2].mlp.down_proj.weight.shape == (64, 45)
    torch.testing.assert_close(logits(model, ids), logits(dense, ids), rtol=0, atol=1e-10)
    assert model.config.layer_shapes[2]["intermediate_size"] == 45
    assert modeling.count_params(model.config) == numel(model)


def test_gqa_group_removal_takes_its_query_heads(ids):
    model = small_model(num_key_value_heads=2)  # 2 query heads per KV group
    dense = copy.deepcopy(model)
    with torch.no_grad():  # group 1 = query heads 2, 3
        dense.model.layers[0].self_attn.o_proj.weight[:, 2 * HD:4 * HD] = 0
    surgery.remove_kv_groups(model, 0, [1])
    attn = model.model.layers[0].self_attn
    assert attn.k_proj.weight.shape == (HD, 64) and attn.q_proj.weight.shape == (2 * HD, 64)
    torch.testing.assert_close(logits(model, ids), logits(dense, ids), rtol=0, atol=1e-10)
    assert model.config.layer_shapes[0]["num_key_value_heads"] == 1
    assert model.config.layer_shapes[0]["num_attention_heads"] == 2
    with pytest.raises(PrunebenchError, match="split a KV group"):
        surgery.remove_heads(model, 1, [0])  # head 1 shares its KV head
    surgery.remove_heads(model, 1, [0, 1])
    assert model.config.layer_shapes[1]["num_key_value_heads"] == 1


def test_zero_heads_block_outputs_its_bias(ids):
    model = small_model()
    dense = copy.deepcopy(model)
    bias = torch.linspace(-1, 1, 64, dtype=torch.float64)
    with torch.no_grad():
        dense.model.layers[1].self_attn.o_proj.weight.zero_()
    surgery.add_output_bias(dense, 1, "o_proj", bias)
    surgery.add_output_bias(model, 1, "o_proj", bias)
    surgery.remove_heads(model, 1, range(4))
    assert isinstance(model.model.layers[1].self_attn, ZeroHeadAttention)
    torch.testing.assert_close(logits(model, ids), logits(dense, ids), rtol=0, atol=1e-10)
    assert model.config.layer_shapes[1]["num_attention_heads"] == 0
    assert modeling.count_params(model.config) == numel(model)


def test_output_bias_is_created_and_counted(ids):
    model = small_model()
    before = logits(model, ids)
    surgery.add_output_bias(model, 0, "down_proj")  # a zero bias changes nothing
    assert torch.equal(logits(model, ids), before)
    assert model.config.layer_shapes[0]["down_proj_bias"] is True
    assert modeling.count_params(model.config) == numel(model)
    with pytest.raises(PrunebenchError, match="bias needs shape"):
        surgery.add_output_bias(model, 0, "o_proj", torch.ones(3))
    with pytest.raises(PrunebenchError, match="unknown output module"):
        surgery.add_output_bias(model, 0, "q_proj")


def test_out_of_range_indices_raise():
    model = small_model()
    with pytest.raises(PrunebenchError, match="out of range"):
        surgery.remove_channels(model, 0, [48])
    with pytest.raises(PrunebenchError, match="does not exist"):
        surgery.remove_heads(model, 3, [0])


def heterogeneous(model):
    """Every kind of block: fewer heads, zero heads with a bias, zero MLP channels."""
    surgery.remove_heads(model, 0, range(4))              # zero heads, first block (KV cache)
    surgery.add_output_bias(model, 0, "o_proj", torch.full((64,), 0.1, dtype=torch.float64))
    surgery.remove_heads(model, 1, [0, 3])
    surgery.remove_channels(model, 1, range(0, 48, 3))
    surgery.add_output_bias(model, 1, "down_proj", torch.full((64,), -0.2, dtype=torch.float64))
    surgery.remove_channels(model, 2, range(48))          # zero MLP channels
    return model


def test_heterogeneous_round_trip_gives_identical_logits(tmp_path, ids):
    model = heterogeneous(small_model())
    assert modeling.count_params(model.config) == numel(model)
    assert modeling.count_params_meta(model.config) == numel(model)
    before = logits(model, ids)
    modeling.save_model(model, None, tmp_path / "ckpt")
    loaded = modeling.load_model(tmp_path / "ckpt", dtype=torch.float64)
    assert [dict(s) for s in modeling.layer_shapes(loaded.config)] == model.config.layer_shapes
    assert torch.equal(logits(loaded, ids), before)
    # Generation with a KV cache works through a zero-head first block.
    out = loaded.generate(ids[:1, :5], max_new_tokens=4, min_new_tokens=4, do_sample=False)
    assert out.shape == (1, 9)


def test_uniform_solver_lands_on_target_and_rejects_unreachable():
    config = small_config(num_hidden_layers=4)
    rules = (lambda n, p: int(p * n)), (lambda n, p: int(n * p))
    dense = modeling.count_params(config)
    for frac in (0.95, 0.8, 0.6):
        plan = surgery.solve_uniform(config, range(4), int(dense * frac), *rules)
        assert abs(plan["params"] - dense * frac) <= 0.01 * dense * frac
        assert modeling.count_params(surgery.config_with_shapes(config, plan["shapes"])) == plan["params"]
    with pytest.raises(PrunebenchError, match="unreachable: removing every head and every MLP "
                                              "channel of blocks 0..3 still leaves"):
        surgery.solve_uniform(config, range(4), modeling.non_block_param_count(config) // 2, *rules)
    # A method that keeps every head (an MLP-only rule): the message says what it removes.
    keep_heads = (lambda n, p: 0), rules[1]
    with pytest.raises(PrunebenchError, match="unreachable: removing every MLP channel of blocks"):
        surgery.solve_uniform(config, range(4), int(dense * 0.3), *keep_heads)
    with pytest.raises(PrunebenchError, match="out of bounds"):
        surgery.block_range(4, 2, 5)
