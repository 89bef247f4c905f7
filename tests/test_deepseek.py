"""DeepSeek-V3 (deepseek_v3, DeepseekV3ForCausalLM): exact counts of its multi-head latent
attention, dense prefix, shared and routed experts; its published checkpoints (per-expert
tensors, FP8 weights with 128 x 128 scale tiles, a multi-token-prediction block) imported as
transformers loads them; depth pruning keeping the dense blocks a prefix; refusals
(DeepSeek-V2's: tests/test_deepseek_v2.py)."""

from __future__ import annotations

import copy
import itertools
import json
import re

import pytest
import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, DeepseekV3Config

from prunebench import PrunebenchError
from prunebench.benchmark.floors import read_params
from prunebench.checkpoint import moe_fuse
from prunebench.checkpoint.local_import import import_local
from prunebench.checkpoint.param_count import (FamilyUnsupported, config_from_dict,
                                               count_params, refuse_moe, sparse_mlp_blocks)
from prunebench.modeling import build_model, load_model, remove_blocks, save_model
from prunebench.plan.lora_settings import expert_target_problem
from test_families import VOCAB, in_allocated_memory
from test_families import tokenizer  # noqa: F401 - a fixture


def small(**over) -> DeepseekV3Config:
    """A small DeepSeek-V3: every part of the published one at a few channels (queries through
    a LoRA rank, 4 routed experts in 2 groups, 2 a token, 2 shared ones fused, the first block
    dense)."""
    values = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=48, moe_intermediate_size=16,
                  num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=4,
                  n_shared_experts=2, n_routed_experts=4, kv_lora_rank=12, q_lora_rank=20,
                  qk_rope_head_dim=4, v_head_dim=8, qk_nope_head_dim=6, n_group=2, topk_group=1,
                  num_experts_per_tok=2, first_k_dense_replace=1, max_position_embeddings=64,
                  bos_token_id=1, eos_token_id=2, pad_token_id=0)
    return DeepseekV3Config(**{**values, **over})


def random_model(config, seed: int = 0):
    torch.manual_seed(seed)
    model = build_model(config, device="cpu")
    with torch.no_grad():
        for name, p in model.named_parameters():
            # weights of std 0.1 so that every part moves the logits; norms around 1
            p.copy_(torch.randn_like(p) * (0.2 if p.dim() == 1 else 0.1)
                    + (1.0 if "norm" in name else 0.0))
        for layer in model.model.layers:
            # a router's score bias, which picks the experts (V3's; V2's router has none)
            # (Granite 4.0's blocks hold no `mlp`)
            if hasattr(getattr(getattr(layer, "mlp", None), "gate", None),
                       "e_score_correction_bias"):
                layer.mlp.gate.e_score_correction_bias.copy_(
                    torch.randn_like(layer.mlp.gate.e_score_correction_bias) * 0.1)
    return model.eval()


def ids(n: int = 2, length: int = 10, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(3, VOCAB, (n, length), generator=g)


def logits(model, x):
    with torch.no_grad():
        return model(input_ids=x, use_cache=False).logits


def numel(model) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("q_lora_rank,attention_bias,dense,tied", list(itertools.product(
    [None, 20], [False, True], [0, 1, 4], [False, True])))
def test_counts_equal_transformers_parameters(q_lora_rank, attention_bias, dense, tied):
    """Latent attention with or without a query rank, with or without attention_bias (q_a_proj,
    kv_a_proj_with_mqa and o_proj biases), any dense prefix, tied or not: the closed form, and
    config_from_dict of the config.json values, equal model.parameters() (the router's
    e_score_correction_bias is a buffer there, so not counted)."""
    config = small(q_lora_rank=q_lora_rank, attention_bias=attention_bias,
                   first_k_dense_replace=dense, tie_word_embeddings=tied)
    model = build_model(config, device="meta")
    assert sum(p.numel() for p in model.parameters()) == count_params(config)
    values = json.loads(config.to_json_string())
    assert "n_routed_experts" in values and "num_local_experts" not in values
    assert count_params(config_from_dict(values)) == count_params(config)
    buffers = dict(model.named_buffers())
    if dense < 4:
        assert f"model.layers.{dense}.mlp.gate.e_score_correction_bias" in buffers
    assert sparse_mlp_blocks(config) == [i >= dense for i in range(4)]


def test_the_count_is_the_sum_of_each_part_by_hand():
    assert count_params(small()) == small_count_by_hand()


def small_count_by_hand() -> int:
    """The parameters of `small()`'s shape (DeepSeek-V3's, V2's and Mistral 4's small
    configs share it; none of their routers has a parameter beside its weight), part by
    part."""
    d, heads, qk = 32, 4, 6 + 4
    attention = (d * 20 + 20 + 20 * heads * qk  # q_a_proj, q_a_layernorm, q_b_proj
                 + d * (12 + 4) + 12 + 12 * heads * (6 + 8)  # kv_a, its norm, kv_b
                 + heads * 8 * d)  # o_proj
    dense = 3 * d * 48
    sparse = 4 * d + 4 * 3 * d * 16 + 3 * d * 16 * 2  # router, routed experts, shared ones
    return 2 * VOCAB * d + d + 4 * (attention + 2 * d) + dense + 3 * sparse


def quantize_fp8(weight: torch.Tensor, block=(4, 8)) -> tuple[torch.Tensor, torch.Tensor]:
    """A block-quantized FP8 weight as DeepSeek-V3's files hold one: e4m3 values and a float32
    scale per tile (its largest magnitude over e4m3's 448), the edge tiles cut."""
    rows, cols = weight.shape
    tiles_r, tiles_c = -(-rows // block[0]), -(-cols // block[1])
    scale = torch.empty(tiles_r, tiles_c)
    for i in range(tiles_r):
        for j in range(tiles_c):
            tile = weight[i * block[0]:(i + 1) * block[0], j * block[1]:(j + 1) * block[1]]
            scale[i, j] = tile.abs().max().clamp(min=1e-12) / 448.0
    full = scale.repeat_interleave(block[0], 0)[:rows].repeat_interleave(block[1], 1)[:, :cols]
    return (weight / full).to(torch.float8_e4m3fn), scale


def test_fp8_dequantization_is_each_value_times_its_tiles_scale():
    torch.manual_seed(0)
    weight = torch.randn(10, 19)  # tiles of 4 x 8, cut at both edges
    q, scale = quantize_fp8(weight)
    out = moe_fuse.dequantize_fp8(q, scale, (4, 8), torch.float32)
    assert out.shape == weight.shape and out.dtype == torch.float32
    for r in range(10):
        for c in range(19):  # by hand, value by value: the exact product rounded to float32
            by_hand = q[r, c].to(torch.float32).item() * scale[r // 4, c // 8].item()
            assert out[r, c].item() == torch.tensor(by_hand, dtype=torch.float32).item()
    assert (out - weight).abs().max() < 0.07 * weight.abs().max()  # e4m3: 3 mantissa bits
    assert moe_fuse.dequantize_fp8(q, scale, (4, 8)).dtype == torch.bfloat16
    try:  # transformers 5.25's own (5.17 has none)
        from transformers.integrations.finegrained_fp8 import _dequantize_fp8_weight
    except ImportError:
        return
    assert torch.equal(_dequantize_fp8_weight(q, scale, [4, 8], torch.float32), out)


def fp8_published(key: str, tensor: torch.Tensor) -> bool:
    """Whether deepseek-ai publishes the tensor `key` in FP8: every 2D linear weight, the MTP
    block's eh_proj too, not the embeddings, head or routers."""
    return (tensor.dim() == 2 and key.endswith("proj.weight")) or key.endswith("eh_proj.weight")


def published_state(model, fp8=fp8_published) -> dict[str, torch.Tensor]:
    """The model's weights as deepseek-ai publishes them: one tensor per expert, every 2D
    linear weight (not the embeddings, head or routers) in FP8 with its weight_scale_inv (tiles
    of 4 x 4, which divide every shape of the small model, as transformers' dequantization
    requires; the edge tiles are tested above), the
    rest in bfloat16 but the routers' score biases (float32), and a multi-token-prediction
    block after the last one."""
    state = {}
    n = model.config.num_hidden_layers
    for key, tensor in model.state_dict().items():
        block, _, rest = key.partition(".mlp.")
        if rest == "experts.gate_up_proj":
            width = tensor.shape[1] // 2
            for e in range(tensor.shape[0]):
                state[f"{block}.mlp.experts.{e}.gate_proj.weight"] = tensor[e, :width]
                state[f"{block}.mlp.experts.{e}.up_proj.weight"] = tensor[e, width:]
        elif rest == "experts.down_proj":
            for e in range(tensor.shape[0]):
                state[f"{block}.mlp.experts.{e}.down_proj.weight"] = tensor[e]
        else:
            state[key] = tensor
    # The MTP block: transformers does not build it; its tensors must not reach the model.
    for key in [k for k in state if k.startswith("model.layers.1.")]:
        state[key.replace("model.layers.1.", f"model.layers.{n}.")] = torch.randn_like(state[key])
    state[f"model.layers.{n}.eh_proj.weight"] = torch.randn(32, 64)
    out = {}
    for key, tensor in state.items():
        tensor = tensor.detach().clone().contiguous()
        if fp8(key, tensor):
            out[key], out[key + "_scale_inv"] = quantize_fp8(tensor.float(), (4, 4))
        elif key.endswith("e_score_correction_bias"):
            out[key] = tensor.float()
        else:
            out[key] = tensor.to(torch.bfloat16)
    return out


def write_fp8_checkpoint(model, folder, with_tokenizer=None, fp8=fp8_published, **quantization):
    return write_published_folder(folder, with_tokenizer, {
        **json.loads(model.config.to_json_string()), "quantization_config": {
            "quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic",
            "weight_block_size": [4, 4], **quantization}}, published_state(model, fp8))


def write_two_shards(state: dict[str, torch.Tensor], folder) -> None:
    """`state` in two safetensors shards with their index, the sorted names alternating between
    them (so a block's tensors, its experts', span both, as published shards split blocks)."""
    keys = sorted(state)
    shards = {"model-00001-of-00002.safetensors": keys[::2],
              "model-00002-of-00002.safetensors": keys[1::2]}
    for shard, names in shards.items():
        # each tensor a storage of its own (per-expert slices share their stacked tensor's)
        save_file({k: state[k].clone() for k in names}, str(folder / shard),
                  metadata={"format": "pt"})
    (folder / "model.safetensors.index.json").write_text(json.dumps({
        "metadata": {}, "weight_map": {k: s for s, names in shards.items() for k in names}}))


def write_published_folder(folder, with_tokenizer, config: dict,
                           state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A checkpoint folder as its publisher's: `with_tokenizer`'s files (none where it is
    None), `config` as its config.json and `state` in two shards (`write_two_shards`); returns
    `state`."""
    folder.mkdir(parents=True)
    if with_tokenizer is not None:
        with_tokenizer.save_pretrained(folder)
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    write_two_shards(state, folder)
    return state


def bfloat16_rounded(model):
    """A copy of the float32 `model` with every parameter rounded to bfloat16 (and kept in
    float32): the model whose weights a bfloat16 checkpoint of `model` holds."""
    rounded = copy.deepcopy(model)
    with torch.no_grad():
        for p in rounded.parameters():
            p.copy_(p.to(torch.bfloat16).float())
    return rounded


def test_an_fp8_checkpoint_is_dequantized_fused_and_its_mtp_block_dropped_on_import(
        tmp_path, tokenizer):  # noqa: F811 - the fixture
    model = random_model(small())
    state = write_fp8_checkpoint(model, tmp_path / "hub", tokenizer)
    with pytest.raises(PrunebenchError, match="FP8 weights.*dequantizes them once"):
        load_model(tmp_path / "hub")
    out = import_local(f"local:{tmp_path / 'hub'}", tmp_path / "imported")
    record = json.loads((out / moe_fuse.RECORD).read_text())
    assert record["dequantized_from"] == "fp8"
    assert record["quantization_config"]["weight_block_size"] == [4, 4]
    assert record["dropped_blocks"] == ["model.layers.4"] and "multi-token" in record[
        "dropped_note"]
    assert "quantization_config" not in json.loads((out / "config.json").read_text())
    ours = load_model(out)
    assert numel(ours) == count_params(ours.config) == numel(model)
    # A weight is the dequantized FP8 one, value for value.
    name = "model.layers.2.self_attn.kv_b_proj.weight"
    expected = moe_fuse.dequantize_fp8(state[name], state[name + "_scale_inv"], (4, 4))
    assert torch.equal(ours.state_dict()[name].to(torch.bfloat16), expected)
    up = moe_fuse.dequantize_fp8(state["model.layers.3.mlp.experts.1.up_proj.weight"],
                                 state["model.layers.3.mlp.experts.1.up_proj.weight_scale_inv"],
                                 (4, 4))
    assert torch.equal(ours.model.layers[3].mlp.experts.gate_up_proj[1, 16:].to(torch.bfloat16),
                       up)
    # transformers' own loading of the published folder (it dequantizes FP8 without a GPU and
    # drops the MTP block) computes what prunebench's import computes.
    # (It dequantizes into the dtype asked for; prunebench's import keeps bfloat16, the
    # published model's: transformers' float32 weights rounded to bfloat16 are the same model.)
    theirs = AutoModelForCausalLM.from_pretrained(tmp_path / "hub", dtype=torch.float32).eval()
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(p.to(torch.bfloat16).float())
    theirs_state = theirs.state_dict()
    for key, tensor in ours.state_dict().items():
        assert torch.equal(tensor.float(), theirs_state[key].float()), key
    x = ids()
    assert torch.equal(logits(ours, x), logits(theirs, x))
    # The imported checkpoint is a plain unquantized one to transformers too.
    again = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    assert torch.equal(logits(again, x), logits(ours, x))


def test_fp8_scales_without_an_fp8_config_or_another_quantization_are_refused(tmp_path):
    model = random_model(small())
    write_fp8_checkpoint(model, tmp_path / "hub")
    raw = json.loads((tmp_path / "hub" / "config.json").read_text())
    raw["quantization_config"] = {"quant_method": "fp8", "weight_block_size": "128"}
    (tmp_path / "hub" / "config.json").write_text(json.dumps(raw))
    with pytest.raises(PrunebenchError, match="does not dequantize"):
        moe_fuse.fuse_experts(tmp_path / "hub")
    del raw["quantization_config"]
    (tmp_path / "hub" / "config.json").write_text(json.dumps(raw))
    with pytest.raises(PrunebenchError, match="FP8 scales.*no FP8 quantization_config"):
        moe_fuse.fuse_experts(tmp_path / "hub")
    assert (tmp_path / "hub" / "model-00001-of-00002.safetensors").exists()  # nothing changed


@pytest.mark.parametrize("drop", [[0], [1], [0, 2], [1, 3], [2, 3]])
def test_depth_pruning_keeps_the_dense_blocks_a_prefix_reloading_each_as_it_was(drop, tmp_path):
    check_depth_pruning_keeps_the_dense_prefix(random_model(small(first_k_dense_replace=2)),
                                               drop, tmp_path)


def check_depth_pruning_keeps_the_dense_prefix(model, drop: list[int], tmp_path,
                                               dense_count=None,
                                               loader=AutoModelForCausalLM) -> None:
    """Removing `drop` from a 4-block model whose first 2 blocks are dense: exactly the others
    kept, the config's count of dense first blocks (`dense_count(config)`; by default
    `first_k_dense_replace`) the kept dense blocks', and the saved model reloads each block as
    the kind it was, in prunebench and in transformers (`loader`'s from_pretrained: Mistral
    4's own class, which AutoModelForCausalLM does not map), weight for weight (DeepSeek-V3's,
    V2's, GLM-4.5's, ERNIE 4.5's and Mistral 4's)."""
    kinds = [type(layer.mlp).__name__ for layer in model.model.layers]
    layers = list(model.model.layers)
    keep = [i for i in range(4) if i not in drop]
    remove_blocks(model, drop)
    assert list(model.model.layers) == [layers[i] for i in keep]  # exactly the others, in order
    dense_count = dense_count or (lambda config: config.first_k_dense_replace)
    assert dense_count(model.config) == sum(i < 2 for i in keep)
    assert numel(model) == count_params(model.config)
    x = ids()
    expected = logits(model, x)
    save_model(model, None, tmp_path / "pruned")
    ours = load_model(tmp_path / "pruned")
    theirs = in_allocated_memory(loader.from_pretrained(tmp_path / "pruned",
                                                        dtype=torch.float32))
    for reloaded in (ours, theirs.eval()):
        assert [type(layer.mlp).__name__ for layer in reloaded.model.layers] == [
            kinds[i] for i in keep]
        state = reloaded.state_dict()  # every weight and score bias, value for value
        assert all(torch.equal(t, state[k]) for k, t in model.state_dict().items())
        # (the same weights in other tensors may sum in another order: float32 rounding only)
        torch.testing.assert_close(logits(reloaded, x), expected, rtol=0, atol=1e-5)
    assert torch.equal(logits(ours, x), logits(theirs, x))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_cache_a_step_reads_is_the_latent_transformers_cache_holds(dtype):
    check_latent_cache_bytes(random_model(small()).to(dtype), dtype)


def check_latent_cache_bytes(model, dtype) -> None:
    """`model` (latent attention, in `dtype`) and a copy without its block 1: after a prefill,
    transformers' cache holds kv_cache_bytes, each block's normed latent (kv_lora_rank) and
    rotated key (qk_rope_head_dim) per position, not keys and values per head; the plan's
    bytes a token adds (kv_bytes_per_token) are one position's (DeepSeek-V3's, V2's and
    Mistral 4's)."""
    from prunebench.benchmark.floors import kv_cache_bytes
    from prunebench.checkpoint.param_count import kv_bytes_per_token, kv_head_count
    from prunebench.modeling import layer_shapes
    from test_qwen3_next import cache_bytes

    config = model.config
    value_bytes = 2 if dtype == torch.bfloat16 else 4
    per_position = (config.kv_lora_rank + config.qk_rope_head_dim) * value_bytes
    for drop in ([], [1]):
        remove_blocks(model, drop)
        blocks = config.num_hidden_layers
        for batch, length in ((1, 5), (2, 9)):
            with torch.no_grad():
                out = model(input_ids=ids(batch, length), use_cache=True)
            cache = getattr(out, "past_key_values", None) or out.cache
            assert cache_bytes(cache) == kv_cache_bytes(config, batch, length, dtype) == (
                batch * length * blocks * per_position)
        kv_heads = kv_head_count(layer_shapes(config))
        assert kv_bytes_per_token(config, kv_heads, value_bytes) == blocks * per_position


def test_width_methods_and_the_lora_targets_of_its_experts_are_refused():
    config = small()
    with pytest.raises(FamilyUnsupported, match="mixture-of-experts family 'deepseek_v3'"):
        refuse_moe(config, "flap")
    problem = expert_target_problem(config, ["q_proj", "k_proj", "v_proj", "o_proj",
                                             "gate_proj"])
    assert problem.startswith("lora.target_modules names ['gate_proj'], but "
                              "DeepseekV3ForCausalLM holds its experts' projections as fused")
    assert problem.endswith("(['q_proj', 'k_proj', 'v_proj', 'o_proj'])")
    assert expert_target_problem(config, ["q_proj", "k_proj", "v_proj", "o_proj"]) is None
    assert expert_target_problem(small(q_lora_rank=None), ["q_proj", "o_proj"]) is None


# ------------------------------------------------------------------- LoRA's latent targets

# What each of LoRA's attention targets adapts in a block of multi-head latent attention
# (plan.lora_settings.LATENT_TARGETS), with a query rank and without.
LATENT_ADAPTED = {"q_proj": ("q_a_proj", "q_b_proj"),
                  "k_proj v_proj": ("kv_a_proj_with_mqa", "kv_b_proj"), "o_proj": ("o_proj",)}
NO_QUERY_RANK = {**LATENT_ADAPTED, "q_proj": ("q_proj",)}


@pytest.mark.parametrize("name, adapted", [("deepseek_v3", LATENT_ADAPTED),
                                           ("deepseek_v2", NO_QUERY_RANK),
                                           ("minicpm3", LATENT_ADAPTED)])
def test_lora_targets_adapt_the_latent_attentions_linear_layers_doing_their_part(name, adapted):
    """In every family of latent attention a target adapts the linear layers of the
    attention doing its part, and those alone: q_proj the query path (q_a_proj and q_b_proj
    with a query rank, the one q_proj without), k_proj and v_proj together
    kv_a_proj_with_mqa and kv_b_proj (each makes keys and values both), o_proj o_proj;
    naming k_proj or v_proj alone is refused, as a packed module's parts are. MiniCPM3's
    dense MLP keeps LLaMA's targets."""
    from test_families import family_model

    from prunebench import lora

    model = family_model(name)
    for targets, parts in adapted.items():
        chosen, _ = lora.lora_target_names(model, targets.split())
        assert sorted(chosen) == sorted(f"model.layers.{b}.self_attn.{part}" for b in range(4)
                                        for part in parts)
    for alone in ("k_proj", "v_proj"):
        with pytest.raises(PrunebenchError, match=rf"names \['{alone}'\] but not .*reads one "
                                                  r"kv_a_proj_with_mqa and one kv_b_proj"):
            lora.lora_target_names(model, ["q_proj", alone, "o_proj"])
    if name == "minicpm3":
        chosen, _ = lora.lora_target_names(model, list(lora.TARGETS))
        assert sum(".mlp." in n for n in chosen) == 3 * 4


def test_lora_on_latent_attention_trains_and_merges():
    """DeepSeek-V3's four attention targets: q_a_proj, q_b_proj, kv_a_proj_with_mqa, kv_b_proj
    and o_proj of every block adapted, trained and merged into a plain DeepseekV3ForCausalLM
    computing the adapted model's logits."""
    adapted = [f"model.layers.{b}.self_attn.{part}" for b in range(4)
               for part in ("q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj")]
    check_lora_trains_and_merges(random_model(small()), ["q_proj", "k_proj", "v_proj", "o_proj"],
                                 adapted)


def check_lora_refused_at_start_and_by_the_job(folder, model, targets, match, passing):
    """LoRA of `targets` (None: the default's) on the checkpoint in `folder`: refused at the
    workflow's start (plan.checks.moe_problems, one problem matching `match`) and by the LoRA
    job on `model`; the targets `passing` pass the start check."""
    from prunebench import lora
    from prunebench.plan.checks import moe_problems

    def start(lora_section):
        return moe_problems({"models": {"m": {"source": f"local:{folder}",
                                              "variants": ["dense", "sleb-0.25+lora"]}},
                             "benchmark": {"backends": ["hf"]}, "lora": lora_section})

    problems = start({} if targets is None else {"target_modules": targets})
    assert len(problems) == 1 and re.search(match, problems[0])
    settings = lora.resolve_settings({} if targets is None else {"target_modules": targets})
    with pytest.raises(PrunebenchError, match=match):
        lora.attach_lora(model, settings)
    for names in passing:
        assert start({"target_modules": names}) == []


def check_lora_trains_and_merges(model, targets: list[str], adapted: list[str]):
    """LoRA of `targets` on a copy of `model` adapts exactly the linear layers `adapted` (full
    names, in the model's order); every adapter is on the forward path (its lora_B gets a
    gradient), an optimizer step changes the logits, and the merged model is a plain model of
    the class holding base + alpha / r x B @ A in each adapted weight, computing the adapted
    model's logits (in float32 to 1e-5: (W + s B A) x against W x + s B (A x), a rounding
    apart; no routing choice near a tie on a random model) with the parameters it had.
    Returns the merged model."""
    from peft.tuners.lora import LoraLayer
    from test_families import ids, logits, numel

    from prunebench import lora

    settings = lora.resolve_settings({"target_modules": targets, "dropout": 0.0, "seed": 0})
    peft_model, names, skipped = lora.attach_lora(copy.deepcopy(model), settings)
    assert names == adapted and skipped == []
    x = ids(2, 10)
    before = logits(peft_model, x)
    peft_model(input_ids=x, labels=x).loss.backward()
    adapters = {n.removeprefix("base_model.model."): m for n, m in peft_model.named_modules()
                if isinstance(m, LoraLayer)}
    assert sorted(adapters) == sorted(names)
    assert all(m.lora_B["default"].weight.grad.abs().sum() > 0 for m in adapters.values())
    torch.optim.SGD([p for p in peft_model.parameters() if p.requires_grad], lr=0.5).step()
    adapted_logits = logits(peft_model, x)
    assert not torch.allclose(adapted_logits, before, atol=1e-4)
    scale = settings["alpha"] / settings["r"]
    expected = {n: (m.base_layer.weight + scale * m.lora_B["default"].weight
                    @ m.lora_A["default"].weight).detach() for n, m in adapters.items()}
    merged = peft_model.merge_and_unload()
    assert type(merged) is type(model)
    assert not any(isinstance(m, LoraLayer) for m in merged.modules())
    modules = dict(merged.named_modules())
    for name, weight in expected.items():
        torch.testing.assert_close(modules[name].weight, weight)
    torch.testing.assert_close(logits(merged, x), adapted_logits, rtol=0, atol=1e-5)
    assert numel(merged) == count_params(merged.config) == numel(model)
    return merged


def test_the_batch_one_floor_reads_the_top_k_routed_and_the_shared_experts():
    config = small()
    d = 32
    unread = (4 - 2) * 3 * d * 16  # two of the four routed experts in each of 3 sparse blocks
    total = count_params(config) - VOCAB * d  # the embedding table is not read whole
    assert read_params(config) == total - 3 * unread


def test_deepseek_v3s_known_shape_counts_its_published_total_less_the_score_biases():
    from prunebench.checkpoint.architectures import (architecture_config, architecture_values,
                                                     known_shape_of)

    values = architecture_values("deepseek-v3")
    config = architecture_config("deepseek-v3")
    assert type(config).__name__ == "DeepseekV3Config"
    sparse_blocks = 61 - 3
    # 671,026,419,200 published (safetensors, MTP block left out) = parameters + score biases
    assert count_params(config) == 671_026_419_200 - 256 * sparse_blocks == 671_026_404_352
    assert count_params(config_from_dict(values)) == count_params(config)
    assert sum(p.numel() for p in build_model(config, device="meta").parameters()) == \
        count_params(config)
    # a batch-1 step: 8 of 256 routed experts, the shared one, attention and head (the card's
    # 36.6B activated with the 0.9B head)
    assert read_params(config) == 36_625_603_584
    assert known_shape_of("deepseek-ai/DeepSeek-V3") == "deepseek-v3"
    assert known_shape_of("deepseek-ai/DeepSeek-R1") == "deepseek-r1"


def test_moonlights_known_shape_by_hand():
    """Moonlight-16B-A3B: DeepSeek-V3's architecture with MLA without a query LoRA (16 heads,
    q_proj 2048 -> 16 x (128 + 64), kv_a 2048 -> 512 + 64 normed, kv_b 512 -> 16 x (128 + 128),
    o_proj 16 x 128 -> 2048), a dense MLP of 11264 in block 0, then 26 sparse blocks of a 64 x
    2048 router, 64 experts of 1408 and 2 shared (one MLP of 2816); untied embeddings of
    163840. A batch-1 step reads 6 of the 64 experts and no embedding table."""
    from prunebench.checkpoint.architectures import (architecture_config, architecture_values,
                                                     known_shape_of)

    d, vocab = 2048, 163840
    attention = d * 16 * 192 + d * 576 + 512 + 512 * 16 * 256 + 16 * 128 * d
    expert = 3 * d * 1408
    sparse = 64 * d + 64 * expert + 3 * d * 2 * 1408
    total = 27 * (attention + 2 * d) + 3 * d * 11264 + 26 * sparse + 2 * vocab * d + d
    assert total == 15_960_108_544  # the card's 16B
    config = architecture_config("moonlight-16b-a3b")
    assert type(config).__name__ == "DeepseekV3Config"
    assert count_params(config) == count_params(
        config_from_dict(architecture_values("moonlight-16b-a3b"))) == total
    assert sum(p.numel() for p in build_model(config, device="meta").parameters()) == total
    read = total - vocab * d - 26 * (64 - 6) * expert
    assert read_params(config) == read == 2_579_230_208
    for hub in ("moonshotai/Moonlight-16B-A3B", "moonshotai/Moonlight-16B-A3B-Instruct"):
        assert known_shape_of(hub) == "moonlight-16b-a3b"


def test_a_config_with_fewer_kv_heads_than_query_heads_is_refused(tmp_path):
    """transformers builds such a DeepSeek-V3 and stops at its first forward (its latent keys
    and values are expanded per query head, then repeated by the group size): said before."""
    from prunebench.checkpoint.param_count import checked_config_json

    values = json.loads(small().to_json_string())
    (tmp_path / "fits").mkdir()
    (tmp_path / "fits" / "config.json").write_text(json.dumps(values))
    assert checked_config_json(tmp_path / "fits")["num_key_value_heads"] == 4
    check_fewer_kv_heads_refused(small(), tmp_path)


def check_fewer_kv_heads_refused(config, tmp_path) -> None:
    """`config` (4 heads) with 2 KV heads in its config.json: transformers builds such a
    latent-attention model and stops at its first forward; prunebench's load check and plan's
    read refuse it, naming the fix (DeepSeek-V3's, V2's and Mistral 4's)."""
    from prunebench.checkpoint.param_count import checked_config_json, checkpoint_config

    values = json.loads(config.to_json_string())
    fewer = tmp_path / "fewer"
    fewer.mkdir()
    (fewer / "config.json").write_text(json.dumps({**values, "num_key_value_heads": 2}))
    with pytest.raises(RuntimeError):  # what transformers does with it
        model = build_model(type(config).from_pretrained(fewer), device="cpu")
        model(input_ids=ids(1, 4))
    for read in (checked_config_json, checkpoint_config):  # the load's check, and plan's
        with pytest.raises(PrunebenchError, match="num_attention_heads=4 and "
                                                  "num_key_value_heads=2: DeepSeek's latent"):
            read(fewer)

