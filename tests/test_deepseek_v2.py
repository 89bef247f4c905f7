"""DeepSeek-V2 (deepseek_v2, DeepseekV2ForCausalLM: V2, V2-Lite): exact counts of its
latent attention (with and without a query rank), dense prefix, shared and routed experts, its
router without a score bias and mlp_bias; its published per-expert bfloat16 checkpoints imported
as transformers loads them; depth pruning keeping the dense blocks a prefix; refusals."""

from __future__ import annotations

import itertools
import json

import pytest
import torch
from transformers import AutoModelForCausalLM, DeepseekV2Config

from prunebench.benchmark.floors import read_params
from prunebench.checkpoint import moe_fuse
from prunebench.checkpoint.local_import import import_local
from prunebench.checkpoint.param_count import (FamilyUnsupported, config_from_dict,
                                               count_params, refuse_moe, sparse_mlp_blocks)
from prunebench.modeling import build_model, load_model
from prunebench.plan.lora_settings import expert_target_problem
from test_deepseek import (check_depth_pruning_keeps_the_dense_prefix, check_fewer_kv_heads_refused,
                           check_latent_cache_bytes, ids, logits, numel, random_model,
                           small_count_by_hand, write_published_folder)
from test_families import VOCAB
from test_moe import per_expert_state
from test_families import tokenizer  # noqa: F401 - a fixture


def small(**over) -> DeepseekV2Config:
    """A small DeepSeek-V2: queries through a LoRA rank, 4 routed experts, 2 a token, 2 shared
    ones fused, the first block dense."""
    values = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=48, moe_intermediate_size=16,
                  num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=4,
                  n_shared_experts=2, n_routed_experts=4, kv_lora_rank=12, q_lora_rank=20,
                  qk_rope_head_dim=4, v_head_dim=8, qk_nope_head_dim=6, num_experts_per_tok=2,
                  first_k_dense_replace=1, max_position_embeddings=64, bos_token_id=1,
                  eos_token_id=2, pad_token_id=0)
    return DeepseekV2Config(**{**values, **over})


@pytest.mark.parametrize("q_lora_rank,bias,dense,tied", list(itertools.product(
    [None, 20], [False, True], [0, 1, 4], [False, True])))
def test_counts_equal_transformers_parameters(q_lora_rank, bias, dense, tied):
    """With or without a query rank (V2-Lite has none), attention_bias and mlp_bias (the dense
    MLPs' and the shared experts' biases), any dense prefix, tied or not: the closed form, and
    config_from_dict of the config.json values, equal model.parameters()."""
    config = small(q_lora_rank=q_lora_rank, attention_bias=bias, mlp_bias=bias,
                   first_k_dense_replace=dense, tie_word_embeddings=tied)
    model = build_model(config, device="meta")
    assert numel(model) == count_params(config)
    values = json.loads(config.to_json_string())
    assert count_params(config_from_dict(values)) == count_params(config)
    assert not any("e_score_correction_bias" in n for n, _ in model.named_buffers())
    assert sparse_mlp_blocks(config) == [i >= dense for i in range(4)]


@pytest.mark.parametrize("method,groups", [("greedy", None), ("group_limited_greedy", 2)])
def test_the_routers_topk_method_changes_no_count(method, groups):
    config = small(topk_method=method, n_group=groups, topk_group=1 if groups else None)
    assert numel(build_model(config, device="meta")) == count_params(config)


def test_the_count_is_the_sum_of_each_part_by_hand():
    assert count_params(small()) == small_count_by_hand()


def write_published(model, folder, with_tokenizer):
    """The folder as deepseek-ai publishes DeepSeek-V2: each expert's gate / up / down weights
    apart, bfloat16, two shards."""
    state = per_expert_state(model, "deepseek_v2")  # V2's names are Qwen2-MoE's
    write_published_folder(folder, with_tokenizer, json.loads(model.config.to_json_string()),
                           {k: t.detach().to(torch.bfloat16).contiguous()
                            for k, t in state.items()})


@pytest.mark.parametrize("q_lora_rank", [None, 20])
def test_a_per_expert_checkpoint_is_fused_on_import_as_transformers_loads_it(
        q_lora_rank, tmp_path, tokenizer):  # noqa: F811 - the fixture
    model = random_model(small(q_lora_rank=q_lora_rank))
    write_published(model, tmp_path / "hub", tokenizer)
    assert moe_fuse.needs_fusion(tmp_path / "hub")
    out = import_local(f"local:{tmp_path / 'hub'}", tmp_path / "imported")
    record = json.loads((out / moe_fuse.RECORD).read_text())
    assert record["experts_per_block"] == {f"model.layers.{i}": 4 for i in (1, 2, 3)}
    assert "dequantized_from" not in record and "dropped_blocks" not in record
    ours = load_model(out)
    assert numel(ours) == count_params(ours.config) == numel(model)
    theirs = AutoModelForCausalLM.from_pretrained(tmp_path / "hub", dtype=torch.float32).eval()
    theirs_state = theirs.state_dict()
    for key, tensor in ours.state_dict().items():
        assert torch.equal(tensor.float(), theirs_state[key].float()), key
    ours.float()
    x = ids()
    assert torch.equal(logits(ours, x), logits(theirs, x))


@pytest.mark.parametrize("drop", [[0], [1], [0, 2], [1, 3], [2, 3]])
def test_depth_pruning_keeps_the_dense_blocks_a_prefix_reloading_each_as_it_was(drop, tmp_path):
    check_depth_pruning_keeps_the_dense_prefix(random_model(small(first_k_dense_replace=2)),
                                               drop, tmp_path)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_cache_a_step_reads_is_the_latent_transformers_cache_holds(dtype):
    check_latent_cache_bytes(random_model(small()).to(dtype), dtype)


@pytest.mark.parametrize("method", ["flap", "llm_pruner", "blockpruner", "compiled"])
def test_width_methods_blockpruner_compiled_and_lora_on_its_experts_are_refused(method):
    config = small()
    with pytest.raises(FamilyUnsupported, match="mixture-of-experts family 'deepseek_v2'"):
        refuse_moe(config, method)
    # (its latent attention's linear layers by target: tests/test_deepseek.py)
    problem = expert_target_problem(config, ["q_proj", "k_proj", "v_proj", "o_proj", "up_proj"])
    assert "names ['up_proj'], but" in problem and "fused 3D" in problem
    assert expert_target_problem(config, ["q_proj", "k_proj", "v_proj", "o_proj"]) is None
    assert expert_target_problem(small(q_lora_rank=None), ["q_proj", "o_proj"]) is None


# (The batch-1 floor: tests/test_moe.py's, for every mixture of experts.)


@pytest.mark.parametrize("name,total,read,hub", [
    # the model cards' 15.7B total / 2.4B activated and 236B / 21B
    ("deepseek-v2-lite", 15_706_484_224, 2_451_435_008, "deepseek-ai/DeepSeek-V2-Lite"),
    ("deepseek-v2", 235_741_434_880, 20_851_512_320, "deepseek-ai/DeepSeek-V2")])
def test_deepseek_v2s_known_shapes_count_their_published_totals(name, total, read, hub):
    from prunebench.checkpoint.architectures import known_shape_of

    # a batch-1 step: 6 routed experts, the 2 shared ones, attention and the head
    check_known_shape(name, total, read, "DeepseekV2Config")
    assert known_shape_of(hub) == name


def check_known_shape(name: str, total: int, read: int, config_class: str):
    """The known shape `name` builds `config_class`, counts `total` parameters (closed form,
    transformers' meta model, its values read without transformers) and a batch-1 step reads
    `read` of them (the mixtures of experts' floor); returns its config."""
    from prunebench.checkpoint.architectures import architecture_config, architecture_values

    config = architecture_config(name)
    assert type(config).__name__ == config_class
    assert count_params(config) == total
    assert numel(build_model(config, device="meta")) == total
    assert count_params(config_from_dict(architecture_values(name))) == total
    assert read_params(config) == read
    return config


def test_a_config_with_fewer_kv_heads_than_query_heads_is_refused(tmp_path):
    """DeepseekV2Attention, as V3's, expands its latent keys and values per query head:
    transformers builds such a model and stops at its first forward; said when read."""
    check_fewer_kv_heads_refused(small(), tmp_path)
