"""GLM-4.5 / 4.5-Air / 4.6 (glm4_moe, Glm4MoeForCausalLM): exact counts of its GQA attention
(q/k/v biases, optional per-head q/k norms, head_dim set apart), dense prefix, shared and
routed experts; its published per-expert bfloat16 checkpoints, with their multi-token-prediction
layer, imported as transformers loads them; depth pruning keeping the dense blocks a prefix;
refusals; the float32 routers; the known shapes (tests/test_families.py and tests/test_moe.py
run the shared per-family and mixture-of-experts tests on it too)."""

from __future__ import annotations

import itertools
import json

import pytest
import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, Glm4MoeConfig

from prunebench.benchmark.floors import read_params
from prunebench.checkpoint import moe_fuse
from prunebench.checkpoint.local_import import import_local
from prunebench.checkpoint.param_count import (FamilyUnsupported, config_from_dict,
                                               count_params, refuse_moe, sparse_mlp_blocks)
from prunebench.modeling import build_model, load_model, save_model
from prunebench.plan.lora_settings import expert_target_problem
from test_deepseek import (check_depth_pruning_keeps_the_dense_prefix, ids, logits, numel,
                           random_model, write_published_folder)
from test_families import VOCAB, in_allocated_memory
from test_moe import per_expert_state
from test_families import tokenizer  # noqa: F401 - a fixture

pytestmark = pytest.mark.usefixtures("one_thread")


def small(**over) -> Glm4MoeConfig:
    """A small GLM-4.5: 4 query heads of 16 on 2 KV heads (wider than the hidden size, as the
    published 96 x 128 over 4096 / 5120), q/k/v biases and q/k norms, the first block dense, 4
    routed experts in 2 groups, 2 a token, 2 shared ones fused."""
    values = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=48, moe_intermediate_size=16,
                  num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                  attention_bias=True, use_qk_norm=True, n_routed_experts=4, n_shared_experts=2,
                  num_experts_per_tok=2, n_group=2, topk_group=1, norm_topk_prob=True,
                  routed_scaling_factor=2.5, first_k_dense_replace=1, max_position_embeddings=64,
                  bos_token_id=1, eos_token_id=2, pad_token_id=0)
    return Glm4MoeConfig(**{**values, **over})


@pytest.mark.parametrize("qk_norm,bias,dense,tied", list(itertools.product(
    [False, True], [False, True], [0, 1, 4], [False, True])))
def test_counts_equal_transformers_parameters(qk_norm, bias, dense, tied):
    """With or without q/k norms (GLM-4.5 and 4.6 have them, the Air not) and attention_bias
    (q/k/v only), any dense prefix, tied or not: the closed form, and config_from_dict of the
    config.json values, equal model.parameters() (the router's e_score_correction_bias is a
    buffer there, so not counted)."""
    config = small(use_qk_norm=qk_norm, attention_bias=bias, first_k_dense_replace=dense,
                   tie_word_embeddings=tied)
    model = build_model(config, device="meta")
    assert numel(model) == count_params(config)
    values = json.loads(config.to_json_string())
    assert "n_routed_experts" in values and "num_local_experts" not in values
    assert count_params(config_from_dict(values)) == count_params(config)
    if dense < 4:
        assert f"model.layers.{dense}.mlp.gate.e_score_correction_bias" in dict(
            model.named_buffers())
    assert sparse_mlp_blocks(config) == [i >= dense for i in range(4)]
    if qk_norm:  # a q_norm and a k_norm of head_dim in each block's attention
        assert count_params(config) - count_params(small(
            use_qk_norm=False, attention_bias=bias, first_k_dense_replace=dense,
            tie_word_embeddings=tied)) == 4 * 2 * 16


def test_the_count_is_the_sum_of_each_part_by_hand():
    config = small()
    d, q, kv = 32, 4 * 16, 2 * 16
    attention = (d * q + q  # q_proj and its bias
                 + 2 * (d * kv + kv)  # k_proj, v_proj and their biases
                 + q * d  # o_proj, no bias
                 + 2 * 16)  # q_norm, k_norm
    dense = 3 * d * 48
    sparse = 4 * d + 4 * 3 * d * 16 + 3 * d * 16 * 2  # router, routed experts, shared ones
    total = 2 * VOCAB * d + d + 4 * (attention + 2 * d) + dense + 3 * sparse
    assert count_params(config) == total


def with_mtp_layer(state: dict, n: int, d: int) -> dict:
    """`state` and a multi-token-prediction layer after its `n` blocks, as DeepSeek-V3 and
    GLM-4.5 publish one: `model.layers.{n}`, block 1's tensors (random values) under that
    index, with an eh_proj, enorm, hnorm and shared_head norm of its own."""
    g = torch.Generator().manual_seed(7)
    for key in [k for k in state if k.startswith("model.layers.1.")]:
        state[key.replace("model.layers.1.", f"model.layers.{n}.")] = torch.randn(
            state[key].shape, generator=g)
    for key, shape in (("eh_proj.weight", (d, 2 * d)), ("enorm.weight", (d,)),
                       ("hnorm.weight", (d,)), ("shared_head.norm.weight", (d,))):
        state[f"model.layers.{n}.{key}"] = torch.randn(shape, generator=g)
    return state


def write_published(model, folder, with_tokenizer):
    """The folder as zai-org publishes GLM-4.5: each expert's gate / up / down weights apart,
    bfloat16 (the routers' score biases float32), two shards, and one multi-token-prediction
    layer after the last block (a decoder layer of its own, with its eh_proj, enorm, hnorm and
    shared_head norm), which Glm4MoeForCausalLM does not build."""
    state = with_mtp_layer(per_expert_state(model, "glm4_moe"),  # (Qwen2-MoE's names)
                           model.config.num_hidden_layers, model.config.hidden_size)
    return write_published_folder(
        folder, with_tokenizer,
        {**json.loads(model.config.to_json_string()), "num_nextn_predict_layers": 1},
        {k: (t.float() if k.endswith("e_score_correction_bias") else t.to(torch.bfloat16))
         .detach().contiguous() for k, t in state.items()})


@pytest.mark.parametrize("qk_norm", [False, True])
def test_a_per_expert_checkpoint_with_its_mtp_layer_is_imported_as_transformers_loads_it(
        qk_norm, tmp_path, tokenizer):  # noqa: F811 - the fixture
    model = random_model(small(use_qk_norm=qk_norm))
    state = write_published(model, tmp_path / "hub", tokenizer)
    assert moe_fuse.needs_fusion(tmp_path / "hub")
    out = import_local(f"local:{tmp_path / 'hub'}", tmp_path / "imported")
    record = json.loads((out / moe_fuse.RECORD).read_text())
    assert record["experts_per_block"] == {f"model.layers.{i}": 4 for i in (1, 2, 3)}
    assert record["dropped_blocks"] == ["model.layers.4"]
    assert "multi-token-prediction" in record["dropped_note"]
    assert "Glm4MoeForCausalLM" in record["dropped_note"]
    assert "dequantized_from" not in record
    ours = load_model(out)
    assert numel(ours) == count_params(ours.config) == numel(model)
    # The published bfloat16 values, and the float32 score biases as they were.
    bias = "model.layers.2.mlp.gate.e_score_correction_bias"
    assert torch.equal(ours.state_dict()[bias], state[bias])
    down = ours.model.layers[3].mlp.experts.down_proj[1]
    assert torch.equal(down.to(torch.bfloat16), state["model.layers.3.mlp.experts.1.down_proj.weight"])
    # transformers' own loading of the published folder (it fuses the experts as it reads them
    # and leaves the MTP layer out) holds the same tensors and computes the same logits.
    check_loads_as_transformers(ours, tmp_path / "hub")
    x = ids()
    # The imported checkpoint is a plain one to transformers too.
    again = in_allocated_memory(AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32))
    assert torch.equal(logits(again.eval(), x), logits(ours, x))


def check_loads_as_transformers(ours, folder) -> None:
    """transformers' own from_pretrained of `folder` (float32) holds the tensors prunebench's
    `ours` holds, in their dtypes, value for value, and computes the same logits (a published
    folder: transformers converts it as it reads it, as prunebench's import did once)."""
    theirs = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    theirs = in_allocated_memory(theirs).eval()
    theirs_state = theirs.state_dict()
    assert set(theirs_state) == set(ours.state_dict())
    for key, tensor in ours.state_dict().items():
        assert tensor.dtype == theirs_state[key].dtype, key
        assert torch.equal(tensor, theirs_state[key]), key
    x = ids()
    assert torch.equal(logits(ours, x), logits(theirs, x))


def test_an_mtp_layer_is_dropped_from_a_fused_checkpoint_too(tmp_path, tokenizer):  # noqa: F811
    """A checkpoint whose experts are fused already (saved by transformers 5) that still holds
    the MTP layer: the import drops it, or the load would refuse its unexpected tensors."""
    model = random_model(small())
    model.save_pretrained(tmp_path / "hub")
    tokenizer.save_pretrained(tmp_path / "hub")
    extra = {"model.layers.4.eh_proj.weight": torch.randn(32, 64),
             "model.layers.4.enorm.weight": torch.randn(32)}
    save_file(extra, str(tmp_path / "hub" / "mtp.safetensors"), metadata={"format": "pt"})
    index = {"metadata": {}, "weight_map": {
        **dict.fromkeys(model.state_dict(), "model.safetensors"),
        **dict.fromkeys(extra, "mtp.safetensors")}}
    (tmp_path / "hub" / "model.safetensors.index.json").write_text(json.dumps(index))
    assert moe_fuse.needs_fusion(tmp_path / "hub")
    out = import_local(f"local:{tmp_path / 'hub'}", tmp_path / "imported")
    assert json.loads((out / moe_fuse.RECORD).read_text())["dropped_blocks"] == [
        "model.layers.4"]
    x = ids()
    assert torch.equal(logits(load_model(out), x), logits(model, x))


@pytest.mark.parametrize("drop", [[0], [1], [0, 2], [1, 3], [2, 3]])
def test_depth_pruning_keeps_the_dense_blocks_a_prefix_reloading_each_as_it_was(drop, tmp_path):
    check_depth_pruning_keeps_the_dense_prefix(random_model(small(first_k_dense_replace=2)),
                                               drop, tmp_path)


@pytest.mark.parametrize("method", ["flap", "llm_pruner", "wanda_sp", "blockpruner", "compiled"])
def test_width_methods_the_compiled_backend_and_expert_lora_targets_are_refused(method):
    check_refused_as_a_mixture_of_experts(small(), method, "Glm4MoeForCausalLM")


def check_refused_as_a_mixture_of_experts(config, method: str, model_class: str) -> None:
    """`method` (a width method, BlockPruner, the compiled backend) refused for the mixture of
    experts `config`, the depth methods named, and LoRA on its experts' projections, the
    attention's named instead (GLM-4.5's, MiniMax-M2's and Hunyuan-A13B's: LLaMA's four
    projections, each of which may be adapted)."""
    with pytest.raises(FamilyUnsupported, match=f"mixture-of-experts family "
                                                f"'{config.model_type}'.*depth method"):
        refuse_moe(config, method)
    problem = expert_target_problem(config, ["q_proj", "v_proj", "gate_proj", "down_proj"])
    assert "['gate_proj', 'down_proj']" in problem and model_class in problem
    assert problem.endswith("(['q_proj', 'v_proj'])")
    assert expert_target_problem(config, ["q_proj", "k_proj", "v_proj", "o_proj"]) is None


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_a_half_precision_load_keeps_in_float32_what_transformers_keeps(dtype, tmp_path):
    """The score biases in every version, the router weights too in transformers 5.25
    (Glm4MoePreTrainedModel._keep_in_fp32_modules_strict): prunebench's load holds each
    tensor in the dtype transformers' does, and computes its logits."""
    ours = check_half_precision_load(random_model(small()), dtype, tmp_path)
    assert ours.model.layers[1].mlp.gate.e_score_correction_bias.dtype == torch.float32
    assert ours.model.layers[1].mlp.experts.gate_up_proj.dtype == dtype


def check_half_precision_load(model, dtype, tmp_path):
    """`model` saved and loaded in `dtype`: prunebench's load holds each tensor in the dtype
    transformers' from_pretrained does (float32 what its class keeps so) and computes its
    logits (GLM-4.5's and ERNIE 4.5's routers); returns prunebench's model."""
    save_model(model, None, tmp_path / "m")
    ours = load_model(tmp_path / "m", dtype=dtype)
    theirs = in_allocated_memory(AutoModelForCausalLM.from_pretrained(tmp_path / "m",
                                                                      dtype=dtype)).eval()
    their_tensors = {**dict(theirs.named_parameters()), **dict(theirs.named_buffers())}
    for name, tensor in [*ours.named_parameters(), *ours.named_buffers()]:
        assert tensor.dtype == their_tensors[name].dtype, name
    x = ids()
    assert torch.equal(logits(ours, x), logits(theirs, x))
    return ours


@pytest.mark.parametrize("name,total,read,hub", [
    # the model cards' 106B total / 12B active and 355B / 32B (counting the MTP layer, which
    # is dropped here, and the score-bias buffers)
    ("glm-4.5-air", 106_852_245_504, 12_803_366_912, "zai-org/GLM-4.5-Air"),
    ("glm-4.5", 352_797_814_784, 32_856_305_664, "zai-org/GLM-4.5"),
    ("glm-4.6", 352_797_814_784, 32_856_305_664, "zai-org/GLM-4.6")])
def test_glm_4_5s_known_shapes_count_what_transformers_builds(name, total, read, hub):
    from prunebench.checkpoint.architectures import (architecture_config, architecture_values,
                                                     known_shape_of)

    config = architecture_config(name)
    assert type(config).__name__ == "Glm4MoeConfig"
    assert config.head_dim == 128 and config.num_key_value_heads == 8
    assert count_params(config) == total
    assert numel(build_model(config, device="meta")) == total
    assert count_params(config_from_dict(architecture_values(name))) == total
    # a batch-1 step: 8 of the routed experts, the shared one, attention, router, LM head
    assert read_params(config) == read
    assert known_shape_of(hub) == name
    assert known_shape_of(hub + "-Base") == name
    assert known_shape_of(hub + "-FP8") is None  # quantized: refused once its config is read


def test_glm_4_5_air_s_count_by_hand():
    """46 blocks of hidden 4096: block 0 dense (10944), 45 sparse (128 experts of 1408, one
    shared of 1408, a 128 x 4096 router); 96 query heads of 128 with biases, 8 KV heads."""
    from prunebench.checkpoint.architectures import architecture_config

    d, q, kv = 4096, 96 * 128, 8 * 128
    attention = d * q + q + 2 * (d * kv + kv) + q * d + 2 * d  # with the block's two norms
    dense = attention + 3 * d * 10944
    sparse = attention + 128 * d + 128 * 3 * d * 1408 + 3 * d * 1408
    total = 2 * 151552 * d + d + dense + 45 * sparse
    assert count_params(architecture_config("glm-4.5-air")) == total
