"""Mistral 4 (mistral4, Mistral4ForCausalLM: Mistral Small 4's language model): exact counts of
its latent attention (with and without a query rank), dense prefix, shared and routed experts,
its softmax router without a score bias; depth pruning keeping the dense blocks a prefix; the
hf backends' tokens equal to transformers' generate past the original context, where its
queries are scaled by position; the cache a step reads; its multimodal wrapper's language model
taken out; refusals."""

from __future__ import annotations

import itertools
import json

import pytest
import torch
from transformers import Mistral4Config, Mistral4ForCausalLM

from prunebench import FamilyUnsupported, PrunebenchError
from prunebench.checkpoint import text_part
from prunebench.checkpoint.param_count import (checked_config_json, config_from_dict,
                                               count_params, refuse_moe, sparse_mlp_blocks)
from prunebench.modeling import build_model, cast_floating, load_model, save_model
from prunebench.plan.lora_settings import expert_target_problem
from test_deepseek import (check_depth_pruning_keeps_the_dense_prefix, check_fewer_kv_heads_refused,
                           check_latent_cache_bytes, ids, logits, numel, random_model,
                           small_count_by_hand)
from test_families import MINISTRAL3_ROPE, VOCAB
from test_qwen3_next import check_a_depth_pruned_reload_decodes_as_transformers


def small(**over) -> Mistral4Config:
    """A small Mistral 4: every part of the published one at a few channels (queries through a
    LoRA rank, 4 routed experts in 2 groups, 2 a token, 2 shared ones fused, the first block
    dense) and Ministral 3's rotary settings (YaRN, queries scaled by position past an
    original context of 8 tokens, beta 0.7; a copy, which the config class adds to)."""
    values = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=48, moe_intermediate_size=16,
                  num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=4,
                  n_shared_experts=2, n_routed_experts=4, kv_lora_rank=12, q_lora_rank=20,
                  qk_rope_head_dim=4, v_head_dim=8, qk_nope_head_dim=6, n_group=2, topk_group=1,
                  num_experts_per_tok=2, first_k_dense_replace=1, max_position_embeddings=64,
                  rope_parameters=dict(MINISTRAL3_ROPE), bos_token_id=1, eos_token_id=2,
                  pad_token_id=0)
    return Mistral4Config(**{**values, **over})


@pytest.mark.parametrize("q_lora_rank,attention_bias,dense,tied", list(itertools.product(
    [None, 20], [False, True], [0, 1, 4], [False, True])))
def test_counts_equal_transformers_parameters(q_lora_rank, attention_bias, dense, tied):
    """Latent attention with or without a query rank and attention_bias, any dense prefix,
    tied or not: the closed form, and config_from_dict of the config.json values, equal
    model.parameters(); the router holds no score-correction buffer (DeepSeek-V3's does)."""
    config = small(q_lora_rank=q_lora_rank, attention_bias=attention_bias,
                   first_k_dense_replace=dense, tie_word_embeddings=tied)
    model = build_model(config, device="meta")
    assert numel(model) == count_params(config)
    values = json.loads(config.to_json_string())
    assert "n_routed_experts" in values and "num_local_experts" not in values
    assert count_params(config_from_dict(values)) == count_params(config)
    assert not any("e_score_correction_bias" in n for n, _ in model.named_buffers())
    assert sparse_mlp_blocks(config) == [i >= dense for i in range(4)]


def test_the_count_is_the_sum_of_each_part_by_hand():
    """DeepSeek-V3's small shape part by part: Mistral 4's router holds its weight alone."""
    assert count_params(small()) == small_count_by_hand()


def test_a_config_read_without_transformers_has_the_classs_head_dim():
    """Mistral4Config sets head_dim to a query head's whole width (qk_nope_head_dim +
    qk_rope_head_dim; DeepSeek's classes to qk_rope_head_dim) whatever config.json says."""
    values = {**json.loads(small().to_json_string()), "head_dim": 3}
    assert config_from_dict(values).head_dim == small().head_dim == 6 + 4


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_the_router_is_held_in_the_models_dtype_as_transformers_loads_it(dtype, tmp_path):
    """Mistral 4's router is no float32 one (DeepSeek-V3's is): transformers loads every
    tensor of a half-precision checkpoint in that dtype, and prunebench's cast does too."""
    model = random_model(small())
    save_model(model, None, tmp_path / "m")
    theirs = Mistral4ForCausalLM.from_pretrained(tmp_path / "m", dtype=dtype)
    ours = cast_floating(load_model(tmp_path / "m"), dtype)
    assert theirs.model.layers[1].mlp.gate.weight.dtype == dtype
    assert {n: t.dtype for n, t in ours.state_dict().items()} == {
        n: t.dtype for n, t in theirs.state_dict().items()}


@pytest.mark.parametrize("drop", [[0], [1], [0, 2], [1, 3], [2, 3]])
def test_depth_pruning_keeps_the_dense_blocks_a_prefix_reloading_each_as_it_was(drop, tmp_path):
    check_depth_pruning_keeps_the_dense_prefix(random_model(small(first_k_dense_replace=2)),
                                               drop, tmp_path, loader=Mistral4ForCausalLM)


def sharp(config) -> Mistral4ForCausalLM:
    """A random model of `config` whose queries are sharp enough that their scale by position
    moves the logits (as tests/test_families.py's sharp_ministral3)."""
    model = random_model(config)
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.q_b_proj.weight.mul_(8.0)
    return model


def test_queries_are_scaled_by_position_past_the_original_context_alone():
    """Family.position_query_scale: the same weights without the scale (beta 0) compute the
    same logits up to the original context (8 tokens) and others after it."""
    scaled = sharp(small())
    unscaled = sharp(small(rope_parameters={**MINISTRAL3_ROPE, "llama_4_scaling_beta": 0.0}))
    x = ids(2, 16)
    a, b = logits(scaled, x), logits(unscaled, x)
    torch.testing.assert_close(a[:, :8], b[:, :8], rtol=0, atol=1e-6)
    assert (a[:, 8:] - b[:, 8:]).abs().amax() > 1e-2


@pytest.mark.parametrize("drop", [[], [0], [2, 3]])
def test_the_hf_backends_decode_a_depth_pruned_model_as_transformers_generate(drop, tmp_path):
    """Reloaded after the prune (its blocks renumbered: the latent cache under each new
    index), the hf backend's tokens equal transformers' generate of its own loading of the
    checkpoint, and greedy decoding without a cache wherever that choice is certain; so do
    hf_static's. The 7-token prompts and 8 new tokens cross the original context of 8, past
    which the queries are scaled."""
    check_a_depth_pruned_reload_decodes_as_transformers(
        sharp(small()), drop, Mistral4ForCausalLM, tmp_path / "pruned")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_cache_a_step_reads_is_the_latent_transformers_cache_holds(dtype):
    check_latent_cache_bytes(random_model(small()).to(dtype), dtype)


def mistral_small_4(text_over: dict | None = None):
    """A random Mistral3ForConditionalGeneration holding a small Mistral 4 language model (the
    layout of Mistral Small 4: config.json's text_config a mistral4 one) beside a Pixtral
    vision tower."""
    from test_text_part import mistral3

    text = {**json.loads(small(tie_word_embeddings=False).to_json_string()),
            **(text_over or {})}
    model = mistral3(text)
    with torch.no_grad():  # (transformers' init leaves the experts empty)
        torch.manual_seed(1)
        for name, p in model.model.language_model.named_parameters():
            p.copy_(torch.randn_like(p) * (0.2 if p.dim() == 1 else 0.1)
                    + (1.0 if "norm" in name else 0.0))
    return model


def test_mistral_small_4s_language_model_is_taken_out_of_its_multimodal_checkpoint(tmp_path):
    """A Mistral3ForConditionalGeneration of a mistral4 language model, as transformers saves
    it (the language model under language_model.*, its experts fused): kept as a
    Mistral4ForCausalLM computing what the whole model computes on text, the vision tower and
    projector left out."""
    model = mistral_small_4()
    folder = tmp_path / "mistral-small-4"
    model.save_pretrained(folder)
    assert text_part.take_text_part(folder) is True
    kept = load_model(folder)
    assert type(kept).__name__ == "Mistral4ForCausalLM"
    assert kept.config.tie_word_embeddings is False
    assert kept.config.rope_parameters["llama_4_scaling_beta"] == 0.7
    x = ids(2, 12)  # past the original context of 8
    with torch.no_grad():
        whole = model(input_ids=x).logits
    torch.testing.assert_close(logits(kept, x), whole, rtol=0, atol=1e-5)
    record = json.loads((folder / text_part.RECORD).read_text())
    assert record["taken_from"] == "Mistral3ForConditionalGeneration"
    assert record["text_model_type"] == "mistral4"


def test_the_published_fp8_checkpoint_is_refused_as_a_quantized_one(tmp_path):
    """Mistral Small 4 is published in FP8 (its vision tower, projector and LM head in
    bfloat16), a quantization prunebench does not dequantize: refused when read, naming the
    quantization, before anything is taken out."""
    model = mistral_small_4()
    folder = tmp_path / "fp8"
    model.save_pretrained(folder)
    raw = json.loads((folder / "config.json").read_text())
    raw["quantization_config"] = {"quant_method": "fp8", "activation_scheme": "static"}
    (folder / "config.json").write_text(json.dumps(raw))
    for read in (lambda: checked_config_json(folder, text_part=True),
                 lambda: text_part.take_text_part(folder)):
        with pytest.raises(PrunebenchError, match="quantized checkpoint .*fp8"):
            read()
    assert json.loads((folder / "config.json").read_text()) == raw  # nothing changed


@pytest.mark.parametrize("method", ["flap", "llm_pruner", "wanda_sp", "blockpruner",
                                    "the compiled backend"])
def test_width_methods_the_compiled_backend_and_lora_on_its_experts_are_refused(method):
    config = small()
    with pytest.raises(FamilyUnsupported, match="mixture-of-experts family 'mistral4' "
                                                r"\(Mistral4ForCausalLM\).*depth method.*"
                                                "hf or hf_static backend"):
        refuse_moe(config, method)
    # (its latent attention's linear layers by target: tests/test_deepseek.py)
    problem = expert_target_problem(config, ["q_proj", "k_proj", "v_proj", "o_proj", "up_proj"])
    assert "names ['up_proj'], but" in problem and "fused 3D" in problem
    assert expert_target_problem(config, ["q_proj", "k_proj", "v_proj", "o_proj"]) is None
    assert expert_target_problem(small(q_lora_rank=None), ["q_proj", "o_proj"]) is None


def test_a_config_with_fewer_kv_heads_than_query_heads_is_refused(tmp_path):
    """Mistral4Attention is DeepSeek-V3's: it expands its latent keys and values per query
    head, so transformers builds such a model and stops at its first forward; said when
    read."""
    check_fewer_kv_heads_refused(small(), tmp_path)
