"""Hunyuan's mixture of experts (hunyuan_v1_moe, HunYuanMoEV1ForCausalLM; Hunyuan-A13B): exact
counts of its float32 routers, routed experts and one shared expert a block (against
transformers' meta model, config.json's values alone and the arithmetic by hand); its router's
top k one per block (moe_topk as published: a list), which depth pruning keeps with each kept
block, the depth-pruned logits equal to transformers' model of the kept blocks; Tencent's
published layout (a config.json of its own code, model_type "hunyuan" without head_dim, one
tensor per expert) imported as transformers' class reads it, pruned and reloaded; the routers
kept in float32 in half precision as transformers keeps them; the refusals (width methods,
expert counts and shared experts transformers does not build); the known shape by hand
(tests/test_families.py and tests/test_moe.py run the shared per-family and mixture-of-experts
tests on it too)."""

from __future__ import annotations

import copy
import itertools
import json

import pytest
import torch
from transformers import HunYuanMoEV1Config, HunYuanMoEV1ForCausalLM

from prunebench import PrunebenchError
from prunebench.checkpoint import moe_fuse
from prunebench.checkpoint.local_import import import_local
from prunebench.checkpoint.param_count import (checked_config_json, checkpoint_config,
                                               config_from_dict, config_from_json, count_params)
from prunebench.modeling import build_model, load_model, remove_blocks, save_model
from block_helpers import kept_blocks_state
from test_deepseek import (bfloat16_rounded, ids, logits, numel, random_model,
                           write_published_folder)
from test_deepseek_v2 import check_known_shape
from test_families import VOCAB, in_allocated_memory
from test_glm4_moe import (check_half_precision_load, check_loads_as_transformers,
                           check_refused_as_a_mixture_of_experts)
from test_moe import per_expert_state
from test_families import tokenizer  # noqa: F401 - a fixture

pytestmark = pytest.mark.usefixtures("one_thread")

# Hunyuan-A13B's rope_scaling as its config.json writes it (type dynamic with an alpha: static
# NTK-alpha frequencies; the beta / mscale entries are read by neither transformers nor
# Tencent's code).
PUBLISHED_ROPE = {"alpha": 1000.0, "beta_fast": 32, "beta_slow": 1, "factor": 1.0,
                  "mscale": 1.0, "mscale_all_dim": 1.0, "type": "dynamic"}
# The auto_map of Tencent's published config.json: its own code, set aside.
TENCENT_CODE = {"AutoConfig": "configuration_hunyuan.HunYuanConfig",
                "AutoModel": "hunyuan.HunYuanModel",
                "AutoModelForCausalLM": "hunyuan.HunYuanMoEV1ForCausalLM"}


def small(**over) -> HunYuanMoEV1Config:
    """A small Hunyuan MoE: 4 query heads of 8 on 2 KV heads (head_dim = hidden / heads, as
    published), 4 experts of 16, each block routing to its own top k, one shared expert,
    tied (as published)."""
    values = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=16, num_hidden_layers=4,
                  num_attention_heads=4, num_key_value_heads=2, head_dim=8, num_experts=4,
                  moe_topk=[2, 1, 3, 2], attention_bias=False, tie_word_embeddings=True,
                  rope_theta=10000.0, rope_scaling={"type": "dynamic", "alpha": 1000.0,
                                                    "factor": 1.0},
                  max_position_embeddings=64, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    return HunYuanMoEV1Config(**{**values, **over})


@pytest.mark.parametrize("bias,tied,topk", list(itertools.product(
    [False, True], [False, True], [2, [2, 1, 3, 2]])))
def test_counts_equal_transformers_parameters(bias, tied, topk):
    """Attention biases on or off, tied or not, one top k or one per block: the closed form,
    and config_from_dict of the config.json values (num_experts, moe_topk), equal
    model.parameters(); the router is float32 and the shared expert as wide as an expert."""
    config = small(attention_bias=bias, tie_word_embeddings=tied, moe_topk=topk)
    model = build_model(config, device="meta")
    assert numel(model) == count_params(config)
    values = json.loads(config.to_json_string())
    assert "num_experts" in values and "moe_topk" in values and "num_local_experts" not in values
    assert count_params(config_from_dict(values)) == count_params(config)
    mlp = model.model.layers[0].mlp
    assert mlp.gate.wg.weight.shape == (4, 32) and mlp.gate.wg.weight.dtype == torch.float32
    assert mlp.shared_mlp.up_proj.weight.shape == (16, 32)
    assert (model.model.layers[0].self_attn.o_proj.bias is not None) == bias


def test_the_count_is_the_sum_of_each_part_by_hand():
    d, q, kv, width = 32, 4 * 8, 2 * 8, 16
    attention = d * q + 2 * d * kv + q * d + 2 * 8  # no biases; q/k norms of head_dim
    block = attention + 4 * d + 4 * 3 * d * width + 3 * d * width + 2 * d  # router, shared
    assert count_params(small()) == VOCAB * d + d + 4 * block  # tied; the final norm


def kept_blocks_model(model, keep: list[int], topk: list[int]) -> HunYuanMoEV1ForCausalLM:
    """transformers' own model of `model`'s blocks `keep` (renumbered), built from a config of
    that depth with the router top k `topk`, and given those blocks' weights."""
    config = copy.deepcopy(model.config)
    config.num_hidden_layers, config.moe_topk = len(keep), topk
    kept = HunYuanMoEV1ForCausalLM(config).eval()
    kept.load_state_dict(kept_blocks_state(model, keep), strict=False)
    return kept


@pytest.mark.parametrize("drop", [[1], [0, 2], [3], [1, 2]])
def test_depth_pruning_gives_transformers_model_of_the_kept_blocks(drop, tmp_path):
    """Each block routes to its own top k (moe_topk [2, 1, 3, 2]): a removed block takes its
    entry with it, so the pruned model, and its save reloaded by prunebench and by
    transformers, compute the logits of transformers' model built of the kept blocks; with the
    first entries instead (the list cut short), the logits differ."""
    model = random_model(small())
    topk = [2, 1, 3, 2]
    keep = [i for i in range(4) if i not in drop]
    x = ids()
    expected = logits(kept_blocks_model(model, keep, [topk[i] for i in keep]), x)
    remove_blocks(model, drop)
    assert model.config.moe_topk == [topk[i] for i in keep]
    assert [layer.mlp.gate.top_k for layer in model.model.layers] == [topk[i] for i in keep]
    assert numel(model) == count_params(model.config)
    assert torch.equal(logits(model, x), expected)
    save_model(model, None, tmp_path / "pruned")
    assert json.loads((tmp_path / "pruned" / "config.json").read_text())["moe_topk"] == [
        topk[i] for i in keep]
    again = load_model(tmp_path / "pruned")
    assert torch.equal(logits(again, x), expected)
    theirs = in_allocated_memory(HunYuanMoEV1ForCausalLM.from_pretrained(
        tmp_path / "pruned", dtype=torch.float32)).eval()
    assert torch.equal(logits(theirs, x), expected)
    # the entries of the first blocks instead: another model (the check can fail)
    wrong = logits(kept_blocks_model(model, list(range(len(keep))), topk[:len(keep)]), x)
    if topk[:len(keep)] != [topk[i] for i in keep]:
        assert not torch.allclose(wrong, expected, atol=1e-4)


def published_config(model) -> dict:
    """The model's config.json as Tencent publishes Hunyuan-A13B's: model_type "hunyuan" for
    its own code (auto_map), no head_dim (its code derives hidden / heads; the file's
    attention_head_dim is read by neither), per-block lists of moe_topk, num_shared_expert and
    moe_intermediate_size, use_mixed_mlp_moe, and the keys of features it has off."""
    config = model.config
    blocks = config.num_hidden_layers
    raw = {k: v for k, v in json.loads(config.to_json_string()).items()
           if k not in ("head_dim", "rope_parameters", "dtype", "transformers_version")}
    return {**raw, "model_type": "hunyuan", "architectures": ["HunYuanMoEV1ForCausalLM"],
            "auto_map": TENCENT_CODE, "attention_head_dim": config.head_dim,
            "moe_intermediate_size": [config.intermediate_size] * blocks,
            "num_shared_expert": [1] * blocks, "use_mixed_mlp_moe": True, "use_cla": False,
            "cla_share_factor": 2, "use_mla": False, "use_qk_norm": True,
            "rope_theta": 10000.0, "rope_scaling": PUBLISHED_ROPE, "torch_dtype": "bfloat16"}


def write_published(model, folder, with_tokenizer) -> dict[str, torch.Tensor]:
    """The folder as Tencent publishes Hunyuan-A13B: `published_config`, each expert's gate / up
    / down weights apart (Qwen2-MoE's names; the router `mlp.gate.wg.weight` and the shared
    expert `mlp.shared_mlp.*` as transformers names them), bfloat16, in two shards."""
    state = {k: t.to(torch.bfloat16).contiguous()
             for k, t in per_expert_state(model, "hunyuan_v1_moe").items()}
    assert "model.layers.0.mlp.gate.wg.weight" in state
    assert "model.layers.0.mlp.experts.3.down_proj.weight" in state
    return write_published_folder(folder, with_tokenizer, published_config(model), state)


def test_the_published_layout_is_imported_as_transformers_class_reads_it_pruned_and_reloaded(
        tmp_path, tokenizer):  # noqa: F811 - the fixture
    model = random_model(small())
    write_published(model, tmp_path / "hub", tokenizer)
    # Loaded as it is, refused with the way to use it; read for a plan, it is counted as its
    # import will make it.
    with pytest.raises(PrunebenchError, match="Hunyuan-A13B as Tencent publishes it.*import"):
        checked_config_json(tmp_path / "hub")
    assert count_params(checkpoint_config(tmp_path / "hub")) == numel(model)
    assert count_params(config_from_json(tmp_path / "hub" / "config.json")) == numel(model)
    assert moe_fuse.needs_fusion(tmp_path / "hub")
    out = import_local(f"local:{tmp_path / 'hub'}", tmp_path / "imported")
    written = json.loads((out / "config.json").read_text())
    assert written["model_type"] == "hunyuan_v1_moe" and written["head_dim"] == 8
    assert written["moe_topk"] == [2, 1, 3, 2]  # everything else as published
    record = json.loads((out / moe_fuse.RECORD).read_text())
    assert record["config_written"] == {"model_type": "hunyuan_v1_moe", "head_dim": 8}
    assert record["experts_per_block"] == {f"model.layers.{i}": 4 for i in range(4)}
    assert "config.json" in record["source_sha256"]  # the published one, replaced
    ours = load_model(out)
    assert numel(ours) == count_params(ours.config) == numel(model)
    # the published values (bfloat16) in transformers' layout: the model they came from,
    # rounded so, computes the same logits
    x = ids()
    assert torch.equal(logits(ours, x), logits(bfloat16_rounded(model), x))
    # transformers' own loading of the imported folder: the same tensors and logits
    check_loads_as_transformers(ours, out)
    remove_blocks(ours, [1, 2])
    expected = logits(ours, x)
    save_model(ours, None, tmp_path / "pruned")
    assert torch.equal(logits(load_model(tmp_path / "pruned"), x), expected)
    theirs = in_allocated_memory(HunYuanMoEV1ForCausalLM.from_pretrained(
        tmp_path / "pruned", dtype=torch.float32)).eval()
    assert torch.equal(logits(theirs, x), expected)


def test_a_published_config_killed_before_it_was_written_is_written_by_the_rerun(
        tmp_path, tokenizer, monkeypatch):  # noqa: F811 - the fixture
    """A fusion killed after its shards and record, before config.json was written: the rerun
    fuses nothing again and writes it."""
    write_published(random_model(small()), tmp_path / "hub", tokenizer)
    real = moe_fuse._finish_config

    def dies_once(folder):
        if moe_fuse.finished(folder):
            raise KeyboardInterrupt
        real(folder)

    with monkeypatch.context() as patch:
        patch.setattr(moe_fuse, "_finish_config", dies_once)
        with pytest.raises(KeyboardInterrupt):
            moe_fuse.fuse_experts(tmp_path / "hub")
    assert json.loads((tmp_path / "hub" / "config.json").read_text())["model_type"] == "hunyuan"
    assert not moe_fuse.fuse_experts(tmp_path / "hub")  # nothing fused again
    assert json.loads((tmp_path / "hub" / "config.json").read_text())["model_type"] == (
        "hunyuan_v1_moe")


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_a_half_precision_load_keeps_the_routers_in_float32_as_transformers_does(dtype,
                                                                                 tmp_path):
    """HunYuanMoEV1Gate makes its router float32 whatever the dtype, and transformers' loading
    leaves it so (no _keep_in_fp32 list names it): prunebench's load holds each tensor in the
    dtype transformers' does, and computes its logits; a model saved in bfloat16 keeps its
    routers' float32 values."""
    ours = check_half_precision_load(random_model(small()), dtype, tmp_path)
    gate = ours.model.layers[1].mlp.gate.wg
    assert gate.weight.dtype == torch.float32
    assert ours.model.layers[1].mlp.experts.gate_up_proj.dtype == dtype
    save_model(ours, None, tmp_path / "again")
    again = load_model(tmp_path / "again", dtype=None)
    assert again.model.layers[1].mlp.gate.wg.weight.dtype == torch.float32
    assert torch.equal(again.model.layers[1].mlp.gate.wg.weight, gate.weight)


@pytest.mark.parametrize("method", ["flap", "llm_pruner", "wanda_sp", "blockpruner", "compiled"])
def test_width_methods_the_compiled_backend_and_expert_lora_targets_are_refused(method):
    check_refused_as_a_mixture_of_experts(small(), method, "HunYuanMoEV1ForCausalLM")


@pytest.mark.parametrize("change,refused", [
    ({"num_experts": [4, 4, 4, 4]}, "num_experts as a list of one per block"),
    ({"use_mixed_mlp_moe": False}, "use_mixed_mlp_moe=False .*one shared expert"),
    ({"num_shared_expert": [2, 2, 2, 2]}, r"num_shared_expert=\[2, 2, 2, 2\].*one shared"),
    ({"num_shared_expert": 2}, "num_shared_expert=2"),
    ({"moe_topk": [2, 1, 3]}, r"moe_topk \(3\) for 4 blocks: each block needs its entry"),
])
@pytest.mark.parametrize("published", [False, True])
def test_experts_transformers_does_not_build_are_refused_when_read(change, refused, published,
                                                                   tmp_path):
    """A config.json whose experts transformers' class cannot build as its weights are
    (experts one number a block, one shared expert as wide as a routed one, a top k for each
    block), in transformers' layout or Tencent's, is refused when read, before a plan counts
    it wrong or the load fails on shapes."""
    model = build_model(small(), device="meta")
    values = (published_config(model) if published
              else json.loads(model.config.to_json_string()))
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(values))
    assert checked_config_json(folder, text_part=True)["model_type"] == "hunyuan_v1_moe"
    (folder / "config.json").write_text(json.dumps({**values, **change}))
    with pytest.raises(PrunebenchError, match=refused):
        checked_config_json(folder, text_part=True)


def test_transformers_refuses_what_is_refused():
    """The refusals are of models transformers does not build as their weights are: a list of
    experts is refused by its config too; a shared expert of more than one (Tencent's code:
    num_shared_expert times as wide) is one transformers builds one wide."""
    from huggingface_hub.errors import StrictDataclassError

    with pytest.raises(StrictDataclassError, match="num_experts"):  # its config's: an int
        small(num_experts=[4, 4, 4, 4])
    model = build_model(small(), device="meta")
    assert model.model.layers[0].mlp.shared_mlp.up_proj.weight.shape[0] == 16


def test_the_known_shape_counts_what_transformers_builds_and_by_hand():
    """Hunyuan-A13B (the card: 80B total, 13B active): 32 blocks of 32 / 8 heads of 128 on
    hidden 4096, 64 experts of 3072 and a shared one, 8 routed a token, a 64 x 4096 float32
    router, q/k norms of 128, tied vocabulary of 128167."""
    from prunebench.checkpoint.architectures import known_shape_of

    # a batch-1 step: 8 routed experts and the shared one, attention, routers, LM head
    config = check_known_shape("hunyuan-a13b", 80_393_183_232, 12_747_448_320,
                               "HunYuanMoEV1Config")
    assert config.head_dim == 128 and config.moe_topk == [8] * 32
    d, expert = 4096, 3 * 4096 * 3072
    attention = d * 32 * 128 * 2 + 2 * d * 8 * 128 + 2 * 128
    block = attention + 64 * d + 64 * expert + expert + 2 * d
    assert count_params(config) == 128167 * d + d + 32 * block
    read = 128167 * d + d + 32 * (block - (64 - 8) * expert)
    assert read == 12_747_448_320
    for hub in ("tencent/Hunyuan-A13B-Instruct", "tencent/Hunyuan-A13B-Pretrain"):
        assert known_shape_of(hub) == "hunyuan-a13b"
    for quantized in ("tencent/Hunyuan-A13B-Instruct-FP8",
                      "tencent/Hunyuan-A13B-Instruct-GPTQ-Int4"):
        assert known_shape_of(quantized) is None
