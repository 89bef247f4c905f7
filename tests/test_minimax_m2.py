"""MiniMax-M2 (minimax_m2, MiniMaxM2ForCausalLM): exact counts of its attention (no biases,
head_dim set apart, q/k norms over the whole projections) and its sparse blocks (a router and
experts in every block; the score-correction biases are buffers); `rotary_dim`, MiniMax's key
for the rotated part of each head, read alike by transformers 5.17 (which ignores it) and 5.25;
its published checkpoints (per-expert tensors under `block_sparse_moe`, FP8 weights in scale
tiles, multi-token-prediction modules after the blocks, MiniMax's own code named in auto_map)
imported as transformers loads them, pruned by depth and reloaded; depth-pruned logits equal to
transformers' model of the kept blocks; the refusals (width methods, the compiled backend,
config.json keys transformers does not build); the known shape by hand (tests/test_families.py
and tests/test_moe.py run the shared per-family and mixture-of-experts tests on it too)."""

from __future__ import annotations

import itertools
import json
import re

import pytest
import torch
from transformers import MiniMaxM2Config, MiniMaxM2ForCausalLM

from prunebench import PrunebenchError
from prunebench.checkpoint import moe_fuse
from prunebench.checkpoint.local_import import import_local
from prunebench.checkpoint.param_count import (checked_config_json, config_from_dict,
                                               count_params, sparse_mlp_blocks)
from prunebench.modeling import build_model, load_config, load_model, remove_blocks, save_model
from test_deepseek import ids, logits, numel, quantize_fp8, write_published_folder
from test_deepseek import random_model as deepseek_random_model
from test_deepseek_v2 import check_known_shape
from test_families import VOCAB, in_allocated_memory
from test_glm4_moe import check_half_precision_load, check_refused_as_a_mixture_of_experts
from test_moe import per_expert_state
from test_families import tokenizer  # noqa: F401 - a fixture

pytestmark = pytest.mark.usefixtures("one_thread")


def small(**over) -> MiniMaxM2Config:
    """A small MiniMax-M2: 4 query heads of 16 on 2 KV heads (wider than the hidden size, as
    the published 48 x 128 on 3072), half of each head rotating (the published 64 of 128, as
    the partial_rotary_factor both transformers versions read), a rotary base low enough that
    the rotation moves these few positions' logits, 4 experts of 16 in every block, 2 a
    token."""
    values = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=16, num_hidden_layers=4,
                  num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                  partial_rotary_factor=0.5, rope_theta=100.0, num_local_experts=4,
                  num_experts_per_tok=2, max_position_embeddings=64, bos_token_id=1,
                  eos_token_id=2, pad_token_id=0)
    return MiniMaxM2Config(**{**values, **over})


def random_model(config, seed: int = 0):
    """Weights of std 0.1, norms around 1 (test_deepseek's), and score-correction biases
    large enough beside the sigmoid scores (0 to 1) to change which experts a token gets."""
    model = deepseek_random_model(config, seed)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for layer in model.model.layers:
            bias = layer.mlp.e_score_correction_bias
            bias.copy_(torch.randn(bias.shape, generator=g) * 0.5)
    return model


@pytest.mark.parametrize("head_dim,tied,experts", list(itertools.product(
    [8, 16], [False, True], [(4, 2), (6, 1)])))
def test_counts_equal_transformers_parameters(head_dim, tied, experts):
    """head_dim at hidden / heads or set apart (queries wider than the hidden size), tied or
    not, other numbers of experts: the closed form, and config_from_dict of the config.json
    values, equal model.parameters(); the score-correction biases are buffers of each block's
    MoE (not of its router), counted by neither; every block is sparse."""
    config = small(head_dim=head_dim, tie_word_embeddings=tied, num_local_experts=experts[0],
                   num_experts_per_tok=experts[1])
    model = build_model(config, device="meta")
    assert numel(model) == count_params(config)
    values = json.loads(config.to_json_string())
    assert count_params(config_from_dict(values)) == count_params(config)
    assert sparse_mlp_blocks(config) == [True] * 4
    buffers = dict(model.named_buffers())
    for i in range(4):
        assert buffers[f"model.layers.{i}.mlp.e_score_correction_bias"].shape == (experts[0],)
    assert not any("e_score_correction_bias" in n for n, _ in model.named_parameters())
    # q_norm / k_norm over the whole projections: one weight per query and per key channel
    attention = model.model.layers[0].self_attn
    assert attention.q_norm.weight.shape == (4 * head_dim,)
    assert attention.k_norm.weight.shape == (2 * head_dim,)


def test_the_count_is_the_sum_of_each_part_by_hand():
    config = small()
    d, q, kv = 32, 4 * 16, 2 * 16
    attention = 2 * d * q + 2 * d * kv + q + kv  # q/k/v/o without biases, q_norm, k_norm
    sparse = 4 * d + 4 * 3 * d * 16  # the router and 4 experts' gate, up and down
    assert count_params(config) == 2 * VOCAB * d + d + 4 * (attention + sparse + 2 * d)


def test_the_known_shape_counts_by_hand_and_as_transformers_builds():
    """62 blocks of hidden 3072: 48 query heads of 128 on 8 KV heads with q/k norms 6144 and
    1024 wide, a 256 x 3072 router and 256 experts of 1536; untied embeddings of 200064;
    MiniMax-M2's published config.json names its hub id, M2.1's (the same shape, token ids in
    its config.json) its own, not M2.5's or M2.7's (config files of their own), a quantized
    copy's or an expert-pruned (REAP) one's."""
    from prunebench.checkpoint.architectures import known_shape_of

    d, q, kv = 3072, 48 * 128, 8 * 128
    block = 2 * d * q + 2 * d * kv + q + kv + 2 * d + 256 * d + 256 * 3 * d * 1536
    total = 2 * 200064 * d + d + 62 * block
    read = total - 200064 * d - 62 * (256 - 8) * 3 * d * 1536  # 8 experts, no embedding row
    assert (total, read) == (228_689_748_992, 10_415_940_608)
    config = check_known_shape("minimax-m2", total, read, "MiniMaxM2Config")
    # rotary_dim 64 of head_dim 128 (what transformers 5.17 would not read as such)
    assert config.rope_parameters["partial_rotary_factor"] == 0.5
    assert config.rope_parameters["rope_theta"] == 5_000_000.0
    assert (config.num_local_experts, config.num_experts_per_tok) == (256, 8)
    assert not config.tie_word_embeddings and config.max_position_embeddings == 196608
    assert (config.bos_token_id, config.eos_token_id) == (None, None)  # null, as published
    assert known_shape_of("MiniMaxAI/MiniMax-M2") == "minimax-m2"
    m2_1 = check_known_shape("minimax-m2.1", total, read, "MiniMaxM2Config")
    assert (m2_1.bos_token_id, m2_1.eos_token_id) == (200034, 200020)
    assert known_shape_of("MiniMaxAI/MiniMax-M2.1") == "minimax-m2.1"
    for other in ("MiniMaxAI/MiniMax-M2.5", "MiniMaxAI/MiniMax-M2.7",
                  "cerebras/MiniMax-M2-REAP-162B-A10B", "cerebras/MiniMax-M2.1-REAP-139B-A10B",
                  "QuantTrio/MiniMax-M2-AWQ", "mlx-community/MiniMax-M2-4bit"):
        assert known_shape_of(other) is None, other


def published_config(model) -> dict:
    """config.json as MiniMaxAI publishes MiniMax-M2's: the rotated part as rotary_dim (no
    partial_rotary_factor), rope_theta beside it, the keys of MiniMax's own code at the values
    transformers builds, its code named in auto_map, multi-token-prediction modules, and FP8
    weights in tiles of 4 x 4 (128 x 128 published: these divide the small model's shapes)."""
    values = json.loads(model.config.to_json_string())
    for key in ("rope_parameters", "partial_rotary_factor"):
        values.pop(key, None)
    n = model.config.num_hidden_layers
    return {**values, "rotary_dim": 8, "rope_theta": 100.0, "attn_type_list": [1] * n,
            "qk_norm_type": "per_layer", "use_qk_norm": True, "scoring_func": "sigmoid",
            "use_routing_bias": True, "shared_intermediate_size": 0, "use_mtp": True,
            "num_mtp_modules": 3, "mtp_transformer_layers": 1,
            "auto_map": {"AutoConfig": "configuration_minimax_m2.MiniMaxM2Config",
                         "AutoModelForCausalLM": "modeling_minimax_m2.MiniMaxM2ForCausalLM"},
            "quantization_config": {"quant_method": "fp8", "fmt": "float8_e4m3fn",
                                    "activation_scheme": "dynamic", "weight_block_size": [4, 4],
                                    "modules_to_not_convert": ["gate", "e_score_correction_bias",
                                                               "lm_head"]}}


def published_state(model) -> dict[str, torch.Tensor]:
    """The model's weights as MiniMaxAI publishes MiniMax-M2's: Mixtral's per-expert names under
    `block_sparse_moe` (w1 gate, w3 up, w2 down; the router `block_sparse_moe.gate.weight`), the
    score-correction biases as `block_sparse_moe.e_score_correction_bias` (float32), every
    attention and expert projection in FP8 with its weight_scale_inv, the rest in bfloat16; and
    three multi-token-prediction modules after the last block (`model.layers.{n + i}`, which
    inference engines skip), each here a copy of a block's tensors, which MiniMaxM2ForCausalLM
    does not build."""
    state = {k.replace(".mlp.e_score_correction_bias", ".block_sparse_moe.e_score_correction_bias"): t
             for k, t in per_expert_state(model, "minimax_m2").items()}
    n = model.config.num_hidden_layers
    g = torch.Generator().manual_seed(7)
    for i in range(3):
        for key in [k for k in state if k.startswith("model.layers.1.")]:
            state[key.replace("model.layers.1.", f"model.layers.{n + i}.")] = torch.randn(
                state[key].shape, generator=g)
    out = {}
    for key, tensor in state.items():
        if key.endswith(("_proj.weight", ".w1.weight", ".w2.weight", ".w3.weight")):
            out[key], out[key + "_scale_inv"] = quantize_fp8(tensor.float(), (4, 4))
        elif key.endswith("e_score_correction_bias"):
            out[key] = tensor.float()
        else:
            out[key] = tensor.to(torch.bfloat16)
    return {k: t.detach().contiguous() for k, t in out.items()}


def write_published(model, folder, with_tokenizer) -> dict[str, torch.Tensor]:
    return write_published_folder(folder, with_tokenizer, published_config(model),
                                  published_state(model))


def test_a_published_fp8_checkpoint_is_dequantized_fused_and_its_mtp_modules_dropped(
        tmp_path, tokenizer):  # noqa: F811 - the fixture
    model = random_model(small())
    state = write_published(model, tmp_path / "hub", tokenizer)
    with pytest.raises(PrunebenchError, match="MiniMaxM2ForCausalLM with FP8 weights.*"
                                              "dequantizes them once.*hf:MiniMaxAI/MiniMax-M2"):
        load_model(tmp_path / "hub")
    assert moe_fuse.needs_fusion(tmp_path / "hub")
    out = import_local(f"local:{tmp_path / 'hub'}", tmp_path / "imported")
    record = json.loads((out / moe_fuse.RECORD).read_text())
    assert record["dequantized_from"] == "fp8"
    assert record["experts_per_block"] == {f"model.layers.{i}": 4 for i in range(4)}
    assert record["dropped_blocks"] == ["model.layers.4", "model.layers.5", "model.layers.6"]
    assert "MiniMaxM2ForCausalLM" in record["dropped_note"]
    raw = json.loads((out / "config.json").read_text())
    assert "quantization_config" not in raw and raw["rotary_dim"] == 8
    ours = load_model(out)
    assert numel(ours) == count_params(ours.config) == numel(model)
    # Each weight is its FP8 values times its tile's scale, the experts fused as transformers
    # 5 holds them (rows [gate; up]), the router and the float32 score biases as published.
    name = "model.layers.2.self_attn.k_proj.weight"
    expected = moe_fuse.dequantize_fp8(state[name], state[name + "_scale_inv"], (4, 4))
    assert torch.equal(ours.state_dict()[name].to(torch.bfloat16), expected)
    w3 = "model.layers.3.block_sparse_moe.experts.1.w3.weight"
    up = moe_fuse.dequantize_fp8(state[w3], state[w3 + "_scale_inv"], (4, 4))
    assert torch.equal(ours.model.layers[3].mlp.experts.gate_up_proj[1, 16:].to(torch.bfloat16),
                       up)
    assert torch.equal(ours.model.layers[2].mlp.e_score_correction_bias,
                       state["model.layers.2.block_sparse_moe.e_score_correction_bias"])
    assert torch.equal(ours.model.layers[2].mlp.gate.weight.to(torch.bfloat16),
                       state["model.layers.2.block_sparse_moe.gate.weight"])
    # Half of each head rotates, as rotary_dim says, whichever transformers reads the file.
    assert ours.config.rope_parameters["partial_rotary_factor"] == 0.5
    assert ours.model.rotary_emb.inv_freq.numel() == 4
    # transformers' own loading of the published folder (it dequantizes the FP8 weights, fuses
    # the experts, renames the score biases and leaves the MTP modules out; the auto_map set
    # aside, transformers having the class) holds the same tensors.
    theirs = in_allocated_memory(MiniMaxM2ForCausalLM.from_pretrained(
        tmp_path / "hub", dtype=torch.float32)).eval()
    with torch.no_grad():  # its float32 dequantization rounded as the import's bfloat16
        for tensor in theirs.parameters():
            if tensor.dim() > 1:
                tensor.copy_(tensor.to(torch.bfloat16).float())
    their_state = theirs.state_dict()
    assert set(their_state) == set(ours.state_dict())
    for key, tensor in ours.state_dict().items():
        assert torch.equal(tensor, their_state[key]), key
    x = ids()
    if theirs.model.rotary_emb.inv_freq.numel() == 4:  # transformers 5.25 reads rotary_dim
        assert torch.equal(logits(ours, x), logits(theirs, x))
    else:  # 5.17 rotates the whole of each head: another model than the published one
        assert theirs.model.rotary_emb.inv_freq.numel() == 8
        assert not torch.allclose(logits(ours, x), logits(theirs, x))
    # Pruned by depth, saved and reloaded: each kept block's attn_type_list entry kept with it,
    # the same logits in prunebench and in transformers (any version: the saved config.json
    # names the factor).
    remove_blocks(ours, [0, 2])
    assert ours.config.attn_type_list == [1, 1] and ours.config.blocks_before_pruning == 4
    expected = logits(ours, x)
    save_model(ours, None, tmp_path / "pruned")
    again = load_model(tmp_path / "pruned")
    assert torch.equal(logits(again, x), expected)
    reloaded = in_allocated_memory(MiniMaxM2ForCausalLM.from_pretrained(
        tmp_path / "pruned", dtype=torch.float32)).eval()
    assert torch.equal(logits(reloaded, x), expected)


def test_rotary_dim_rotates_that_part_of_each_head_in_every_transformers_version(tmp_path):
    """A config.json naming rotary_dim and no partial_rotary_factor (as published): prunebench's
    load builds the model whose first rotary_dim dimensions of each head rotate, whose logits
    are those of the same weights under partial_rotary_factor 0.5, not those of a whole-head
    rotation (transformers 5.17's reading of the file)."""
    model = random_model(small())
    save_model(model, None, tmp_path / "m")
    raw = published_config(model)
    del raw["quantization_config"]
    (tmp_path / "m" / "config.json").write_text(json.dumps(raw))
    from prunebench.modeling import write_manifest

    write_manifest(tmp_path / "m")  # the edited config.json is the checkpoint's own
    config = load_config(tmp_path / "m")
    assert config.rope_parameters["partial_rotary_factor"] == 0.5
    ours = load_model(tmp_path / "m")
    assert ours.model.rotary_emb.inv_freq.numel() == 4
    x = ids()
    assert torch.equal(logits(ours, x), logits(model, x))
    whole = build_model(small(partial_rotary_factor=1.0), device="cpu").eval()
    whole.load_state_dict(model.state_dict())
    assert not torch.allclose(logits(whole, x), logits(model, x))


@pytest.mark.parametrize("drop", [[0], [3], [1, 2], [0, 3]])
def test_depth_pruned_logits_equal_transformers_model_of_the_kept_blocks(drop):
    """Removing blocks leaves the model transformers builds with the kept blocks alone, in
    order (their attention, q/k norms, routers, score biases and experts): the same logits."""
    model = random_model(small())
    keep = [i for i in range(4) if i not in drop]
    state = model.state_dict()
    remove_blocks(model, drop)
    assert model.config.num_hidden_layers == len(keep)
    theirs = MiniMaxM2ForCausalLM(small(num_hidden_layers=len(keep))).eval()
    renamed = {}
    for key, tensor in state.items():
        if key.startswith("model.layers."):
            old = int(key.split(".")[2])
            if old not in keep:
                continue
            key = key.replace(f"model.layers.{old}.", f"model.layers.{keep.index(old)}.", 1)
        renamed[key] = tensor
    theirs.load_state_dict(renamed)
    assert numel(model) == count_params(model.config) == numel(theirs)
    x = ids()
    assert torch.equal(logits(model, x), logits(theirs, x))


def test_the_score_biases_pick_the_experts_and_survive_a_round_trip(tmp_path):
    """The router's choice adds each block's e_score_correction_bias to the sigmoid scores: a
    model without them computes other logits; a saved model reloads them as they were (a
    buffer, no parameter)."""
    model = random_model(small())
    save_model(model, None, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    for ours, theirs in zip(loaded.model.layers, model.model.layers):
        assert torch.equal(ours.mlp.e_score_correction_bias, theirs.mlp.e_score_correction_bias)
    x = ids()
    expected = logits(model, x)
    assert torch.equal(logits(loaded, x), expected)
    with torch.no_grad():
        for layer in loaded.model.layers:
            layer.mlp.e_score_correction_bias.zero_()
    assert not torch.allclose(logits(loaded, x), expected)


@pytest.mark.parametrize("method", ["flap", "llm_pruner", "wanda_sp", "blockpruner", "compiled"])
def test_width_methods_the_compiled_backend_and_expert_lora_targets_are_refused(method):
    check_refused_as_a_mixture_of_experts(small(), method, "MiniMaxM2ForCausalLM")


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_a_half_precision_load_holds_each_tensor_as_transformers_does(dtype, tmp_path):
    """No tensor of MiniMax-M2 is kept in float32 by transformers (its router computes the
    sigmoid in float32 from weights in the model's dtype): prunebench's load holds each tensor
    in transformers' dtype and computes its logits."""
    ours = check_half_precision_load(random_model(small()), dtype, tmp_path)
    mlp = ours.model.layers[1].mlp
    assert mlp.gate.weight.dtype == mlp.e_score_correction_bias.dtype == dtype


@pytest.mark.parametrize("key,value", [
    ("attn_type_list", [1, 0, 1, 1]),  # MiniMax-Text-01's lightning attention in block 1
    ("use_qk_norm", False), ("qk_norm_type", "per_head"), ("scoring_func", "softmax"),
    ("use_routing_bias", False), ("shared_intermediate_size", 8192)])
def test_config_keys_transformers_does_not_build_otherwise_are_refused(key, value, tmp_path):
    """Keys of MiniMax's own code that transformers' class ignores: at the published values
    the model is the one transformers builds (read); at others it is another, refused with
    the key named, before anything is built."""
    raw = {k: v for k, v in published_config(random_model(small())).items()
           if k != "quantization_config"}
    (tmp_path / "config.json").write_text(json.dumps(raw))
    assert checked_config_json(tmp_path)["rotary_dim"] == 8
    (tmp_path / "config.json").write_text(json.dumps({**raw, key: value}))
    with pytest.raises(PrunebenchError, match=re.escape(f"gives {key}={value!r}:") +
                       ".*MiniMaxM2ForCausalLM builds.*another model"):
        checked_config_json(tmp_path)


def test_fp8_weights_of_another_quantization_config_are_refused_before_anything_changes(
        tmp_path, tokenizer):  # noqa: F811 - the fixture
    model = random_model(small())
    write_published(model, tmp_path / "hub", tokenizer)
    raw = json.loads((tmp_path / "hub" / "config.json").read_text())
    raw["quantization_config"] = {"quant_method": "fp8", "weight_block_size": 128}
    (tmp_path / "hub" / "config.json").write_text(json.dumps(raw))
    with pytest.raises(PrunebenchError, match="a MiniMaxM2ForCausalLM quantization_config "
                                              "prunebench does not dequantize"):
        moe_fuse.fuse_experts(tmp_path / "hub")
    assert (tmp_path / "hub" / "model-00001-of-00002.safetensors").exists()
