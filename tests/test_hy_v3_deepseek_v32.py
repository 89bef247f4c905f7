"""HY-V3 (hy_v3, HYV3ForCausalLM: Tencent's Hy3) and DeepSeek-V3.2 (deepseek_v32,
DeepseekV32ForCausalLM): the pieces of their own, as mixtures of experts (depth pruning, the hf
and hf_static backends).

HY-V3: exact counts against transformers' meta models (shared experts, attention and MLP
biases, tying, its own dense blocks) and by hand; each block's MLP kind read from config.json
alone as HYV3Config derives it; depth pruning equal to transformers' model of the kept blocks,
mlp_layer_types renumbered; a checkpoint under Tencent's names (the router's `router.gate`, the
score-correction `expert_bias`, the `shared_mlp`, one tensor per expert) imported as
transformers loads it; a count of 0 shared experts refused, transformers' shared MLP of
intermediate_size shown.

DeepSeek-V3.2: counts (its lightning indexer, against transformers' own indexer too) and by
hand; each block's MLP kind read from config.json alone (first_k_dense_replace); depth pruning
equal to transformers' model of the kept blocks with the indexer choosing (index_topk 4 of 24
keys), the indexer shown to change the logits; its KV cache's indexer keys in the floor and in a
depth plan's KV bytes, each removed block's gone with it; a null
query rank refused, transformers' own failure shown.

Both: a depth-pruned save reloaded by prunebench and by transformers, the hf and hf_static
tokens transformers' generate's; the width methods' and compiled decoder's refusals; their
transformers classes' defaults and the counts of their config.json keys. tests/test_families.py
runs the shared per-family tests on them (the depth methods, save and reload, the hf backends,
evaluation); tests/test_moe.py their per-expert checkpoints, fused on import."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from huggingface_hub.errors import StrictDataclassFieldValidationError
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import (AutoModelForCausalLM, DeepseekV32Config, DeepseekV32ForCausalLM,
                          HYV3Config, HYV3ForCausalLM)

from prunebench import FamilyUnsupported, PrunebenchError
from prunebench.checkpoint import moe_fuse
from prunebench.checkpoint.local_import import import_local
from prunebench.checkpoint.param_count import (block_param_count, checked_config_json,
                                               checkpoint_config, config_from_dict,
                                               count_params, indexer_params,
                                               kv_bytes_of, kv_bytes_per_token,
                                               layer_shapes, sparse_mlp_blocks)
from prunebench.methods.sizing import plan_blocks
from prunebench.modeling import build_model, load_config, load_model, remove_blocks
from block_helpers import kept_blocks_state
from test_families import FAMILIES, _write_config, family_model, ids, logits, numel
from test_families import tokenizer  # noqa: F401 - a fixture (getfixturevalue)
from test_glm4_moe import check_refused_as_a_mixture_of_experts
from test_helium_vaultgemma_granitemoeshared import (SHAPE, check_counts, check_depth_pruning,
                                                     family_classes, theirs)
from test_deepseek import fp8_published, write_fp8_checkpoint
from test_moe import per_expert_state
from test_qwen3_next import (check_a_depth_pruned_reload_decodes_as_transformers,
                             check_hf_backends_decode_as_transformers)

pytestmark = pytest.mark.usefixtures("one_thread")

NAMES = ["hy_v3", "deepseek_v32"]
HY_EXPERTS = dict(moe_intermediate_size=24, num_experts=4, num_experts_per_tok=2)
DS_LATENT = dict(num_key_value_heads=6, q_lora_rank=24, kv_lora_rank=16, qk_nope_head_dim=8,
                 qk_rope_head_dim=4, v_head_dim=8, moe_intermediate_size=24,
                 n_routed_experts=4, num_experts_per_tok=2, n_group=2, topk_group=1,
                 index_n_heads=2, index_head_dim=8)


# --------------------------------------------------------------------------- HY-V3

@pytest.mark.parametrize("values", [{**HY_EXPERTS},
                                    {**HY_EXPERTS, "num_shared_experts": 2,
                                     "attention_bias": True, "mlp_bias": True},
                                    {**HY_EXPERTS, "tie_word_embeddings": True,
                                     "num_key_value_heads": 6,
                                     "mlp_layer_types": ["sparse", "dense", "sparse"]}])
def test_hy_v3_counts_equal_transformers_parameters(values):
    check_counts("hy_v3", values)


def test_hy_v3_blocks_counted_by_hand():
    """A dense block: q/k/v/o of 6 and 2 heads of 8 with biases, q/k norms of 8 each, an MLP
    of 56 with biases, two RMSNorms. A sparse one: the same attention, a router over 4
    experts, 4 experts of 24, 2 shared experts as one MLP of 48 with biases, two norms."""
    config = HYV3Config(**SHAPE, **HY_EXPERTS, num_shared_experts=2, attention_bias=True,
                        mlp_bias=True)
    d, q, kv = 48, 6 * 8, 2 * 8
    attention = (d * q + q) + 2 * (d * kv + kv) + (q * d + d) + 2 * 8
    dense = attention + 3 * d * 56 + 2 * 56 + d + 2 * d
    sparse = attention + 4 * d + 4 * 3 * d * 24 + (3 * d * 48 + 2 * 48 + d) + 2 * d
    assert [block_param_count(config, s) for s in layer_shapes(config)] == [dense, sparse,
                                                                            sparse]
    assert (dense, sparse) == (14_608, 27_456)
    assert count_params(config) == 2 * 97 * d + d + dense + 2 * sparse


@pytest.mark.parametrize("blocks", [1, 3, 5])
def test_hy_v3_block_kinds_read_from_config_json_are_its_classs(blocks):
    """Each block's MLP kind as HYV3Config derives it where config.json gives no
    mlp_layer_types (the first block dense), read without transformers and counted alike."""
    raw = {k: v for k, v in FAMILIES["hy_v3"]().to_dict().items()
           if k not in ("mlp_layer_types", "dtype")}
    raw["num_hidden_layers"] = blocks
    theirs_, ours = HYV3Config.from_dict(raw), config_from_dict(raw)
    assert ours.mlp_layer_types == theirs_.mlp_layer_types == ["dense"] + ["sparse"] * (
        blocks - 1)
    assert count_params(ours) == count_params(theirs_)


@pytest.mark.parametrize("drop", [[0], [1, 2], [3]])
def test_hy_v3_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(drop):
    """Each kept block's MLP kind under its new index (mlp_layer_types renumbered: the dense
    block 0, where kept, stays the dense one)."""
    kinds = ["dense", "sparse", "sparse", "sparse"]
    kept = [kinds[b] for b in range(4) if b not in drop]
    check_depth_pruning("hy_v3", drop, mlp_layer_types=kept)
    assert remove_blocks(family_model("hy_v3"), drop).config.mlp_layer_types == kept


def test_a_checkpoint_under_tencents_names_imports_as_transformers_loads_it(tmp_path,
                                                                            request):
    """Hy3 as Tencent publishes it: the router `mlp.router.gate.weight`, the score-correction
    buffer `mlp.expert_bias`, the shared experts `mlp.shared_mlp.*` and one tensor per expert.
    Imported (experts fused, names read as transformers' hy_v3 conversion renames them), it
    computes what transformers' load of the same files and the model they came from compute;
    without the renames its router, buffers and shared experts would be left random. The
    import writes HYV3ForCausalLM's own names (renamed where its experts are fused, as
    Laguna's and EXAONE-MoE's: moe_fuse.RENAMED), so its files need no renaming to load."""
    model = family_model("hy_v3")
    with torch.no_grad():  # (a buffer the shared tests leave at 0: shown to be read)
        for layer in model.model.layers[1:]:
            layer.mlp.e_score_correction_bias.uniform_(-0.5, 0.5)
    state = {}
    for key, tensor in per_expert_state(model, "hy_v3").items():
        key = key.replace(".mlp.e_score_correction_bias", ".mlp.expert_bias")
        state[key.replace(".mlp.shared_experts.", ".mlp.shared_mlp.")] = tensor
    assert any(".mlp.router.gate.weight" in k for k in state)
    assert any(".mlp.shared_mlp.up_proj.bias" in k for k in state)
    folder = tmp_path / "hub"
    folder.mkdir()
    model.config.save_pretrained(folder)
    request.getfixturevalue("tokenizer").save_pretrained(folder)
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    imported = import_local(f"local:{folder}", tmp_path / "imported")
    written = set()
    for shard in imported.glob("*.safetensors"):
        with safe_open(str(shard), "pt") as f:
            written |= set(f.keys())
    assert written == set(model.state_dict())
    ours = load_model(imported)
    their = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    x = ids()
    assert torch.equal(logits(ours, x), logits(their, x))
    assert torch.equal(logits(ours, x), logits(model, x))
    assert torch.equal(ours.model.layers[2].mlp.e_score_correction_bias,
                       model.model.layers[2].mlp.e_score_correction_bias)


@pytest.mark.parametrize("count", [0, None])
def test_an_hy_v3_config_json_without_shared_experts_is_refused(count, tmp_path):
    """transformers' HYV3MoE reads a shared-expert width of 0 as unset and builds a shared MLP
    of intermediate_size (weights no checkpoint holds), and fails on null: every reader of
    the config.json refuses it, and building it refuses it too."""
    raw = {**{k: v for k, v in FAMILIES["hy_v3"]().to_dict().items() if k != "dtype"},
           "num_shared_experts": count}
    if count == 0:
        built = HYV3ForCausalLM(HYV3Config.from_dict(raw))
        assert built.model.layers[1].mlp.shared_experts.up_proj.out_features == \
            raw["intermediate_size"]
    else:
        with pytest.raises(TypeError):
            HYV3ForCausalLM(HYV3Config.from_dict(raw))
    folder = _write_config(tmp_path / "m", raw)
    match = f"num_shared_experts={count!r} for an HY-V3"
    for read in (checked_config_json, checkpoint_config, load_config):
        with pytest.raises(PrunebenchError, match=match):
            read(folder)
    if count == 0:
        with pytest.raises(FamilyUnsupported, match=match):
            build_model(HYV3Config.from_dict(raw), device="meta")


# --------------------------------------------------------------------------- DeepSeek-V3.2

@pytest.mark.parametrize("values", [{**DS_LATENT},
                                    {**DS_LATENT, "attention_bias": True,
                                     "first_k_dense_replace": 2, "n_shared_experts": 2},
                                    {**DS_LATENT, "tie_word_embeddings": True,
                                     "index_n_heads": 3, "index_head_dim": 12,
                                     "first_k_dense_replace": 0}])
def test_deepseek_v32_counts_equal_transformers_parameters(values):
    check_counts("deepseek_v32", values)


def test_deepseek_v32s_indexer_counted_by_hand_and_as_transformers_builds_it():
    """One indexer: wq_b 24 -> 2 x 8, wk 48 -> 8, a LayerNorm of 8 (weight and bias), and
    weights_proj 48 -> 2; the whole block beside it DeepSeek-V3's latent attention."""
    config = DeepseekV32Config(**{**SHAPE, **DS_LATENT})
    assert indexer_params(config) == 24 * 16 + 48 * 8 + 2 * 8 + 48 * 2 == 880
    model = DeepseekV32ForCausalLM(config)
    assert indexer_params(config) == sum(
        p.numel() for p in model.model.layers[0].self_attn.indexer.parameters())
    d, heads = 48, 6
    latent = (d * 24 + 24 + 24 * heads * 12) + (d * 20 + 16 + 16 * heads * 16) + heads * 8 * d
    sparse = latent + 880 + 4 * d + 4 * 3 * d * 24 + 3 * d * 24 + 2 * d
    dense = latent + 880 + 3 * d * 56 + 2 * d
    assert [block_param_count(config, s) for s in layer_shapes(config)] == [
        dense, dense, dense]  # (first_k_dense_replace 3 by default: every block here)
    config = DeepseekV32Config(**{**SHAPE, **DS_LATENT, "first_k_dense_replace": 1})
    assert [block_param_count(config, s) for s in layer_shapes(config)] == [dense, sparse,
                                                                            sparse]


@pytest.mark.parametrize("dense", [0, 1, 3, 5])
def test_deepseek_v32_block_kinds_read_from_config_json_are_its_classs(dense):
    """Each block's MLP kind as DeepseekV32Config derives it where config.json gives no
    mlp_layer_types (the first first_k_dense_replace blocks dense), read without
    transformers and counted alike."""
    raw = {k: v for k, v in FAMILIES["deepseek_v32"]().to_dict().items()
           if k not in ("mlp_layer_types", "layer_types", "dtype")}
    raw["first_k_dense_replace"] = dense
    theirs_, ours = DeepseekV32Config.from_dict(raw), config_from_dict(raw)
    assert ours.mlp_layer_types == theirs_.mlp_layer_types
    assert sparse_mlp_blocks(ours) == [i >= dense for i in range(4)]
    assert count_params(ours) == count_params(theirs_)


def choosing(model):
    """`model` with its indexers keeping 4 keys a query (the shared tests' keep every key of
    their short prompts)."""
    model.config.index_topk = 4
    for layer in model.model.layers:
        layer.self_attn.indexer.index_topk = 4
    return model


@pytest.mark.parametrize("drop", [[0], [1, 2], [3]])
def test_deepseek_v32_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(drop):
    """With the indexers choosing 4 of up to 24 keys: each kept block's indexer and MLP kind
    under its new index (mlp_layer_types and layer_types renumbered), its logits
    transformers' model's of the kept blocks."""
    dense = choosing(family_model("deepseek_v32"))
    model = remove_blocks(copy.deepcopy(dense), drop)
    keep = [b for b in range(4) if b not in drop]
    kinds = [["dense", "sparse", "sparse", "sparse"][b] for b in keep]
    assert model.config.mlp_layer_types == kinds
    values = {**dense.config.to_dict(), "num_hidden_layers": len(keep),
              "mlp_layer_types": kinds, "layer_types": [dense.config.layer_types[b]
                                                        for b in keep]}
    reference = theirs("deepseek_v32", values, kept_blocks_state(dense, keep))
    assert reference.config.index_topk == 4
    x = ids(2, 24)
    torch.testing.assert_close(logits(model, x), logits(reference, x), rtol=0, atol=1e-6)
    assert numel(model) == count_params(model.config) == numel(reference)


def test_a_deepseek_v32_depth_pruned_in_memory_decodes_with_its_cache():
    """Not reloaded (gpu_check's depth variant, pruned in place), the model of blocks 0 and 3
    decodes with transformers' caches as transformers' model of the kept blocks does: each
    indexer caches its keys under an index of its own (DeepseekV32Indexer.layer_idx), which
    remove_blocks renumbers with its attention's (left at 3, a cache of 2 blocks has no entry
    for it: an IndexError in 5.17 and 5.25)."""
    dense = family_model("deepseek_v32")
    model = remove_blocks(copy.deepcopy(dense), [1, 2])
    assert [layer.self_attn.indexer.layer_idx for layer in model.model.layers] == [0, 1]
    values = {**dense.config.to_dict(), "num_hidden_layers": 2,
              "mlp_layer_types": model.config.mlp_layer_types,
              "layer_types": model.config.layer_types}
    check_hf_backends_decode_as_transformers(
        model, theirs("deepseek_v32", values, kept_blocks_state(dense, [0, 3])))


def test_deepseek_v32s_indexer_changes_its_logits():
    """What the test above would miss if the indexer were ignored: keeping 4 keys a query
    rather than all of them changes the logits past the 4th position, by far more than
    float32's rounding, and not before it (the first 4 positions see every key either way)."""
    model = family_model("deepseek_v32")
    x = ids(2, 24)
    every, chosen = logits(model, x), logits(choosing(copy.deepcopy(model)), x)
    torch.testing.assert_close(chosen[:, :4], every[:, :4], rtol=0, atol=1e-5)
    assert (chosen[:, 4:] - every[:, 4:]).abs().max() > 1e-3 * every.abs().max()


def test_deepseek_v32s_kv_cache_holds_its_indexer_keys():
    """A position adds, in each block, the latent (16) and rotated key (4) DeepSeek-V3's
    attention caches and the indexer's key (8): in half precision, 4 blocks x 28 x 2 bytes."""
    config = FAMILIES["deepseek_v32"]()
    kv_heads = sum(s["num_key_value_heads"] for s in layer_shapes(config))
    assert kv_bytes_per_token(config, kv_heads) == 4 * (16 + 4 + 8) * 2


@pytest.mark.parametrize("k", [1, 2])
def test_a_depth_plans_kv_bytes_are_those_of_the_kept_blocks(k):
    """`prunebench plan`'s KV bytes a token adds after a depth prune (kv_bytes_per_token of the
    plan's kv_heads_kept) are those of the pruned model (kv_bytes_of its blocks): each removed
    block takes its indexer's key with it (8 values), not only its latent and rotated key."""
    model = family_model("deepseek_v32")
    config = copy.deepcopy(model.config)
    shapes = layer_shapes(config)
    target = count_params(config) - sum(block_param_count(config, s) for s in shapes[1:1 + k])
    plan = plan_blocks(config, target, 1, 0)
    assert plan["blocks_removed"] == k
    remove_blocks(model, list(range(1, 1 + k)))
    kept = kv_bytes_of(model.config, layer_shapes(model.config))
    assert kv_bytes_per_token(config, plan["kv_heads_kept"]) == kept == (4 - k) * 28 * 2


def test_a_deepseek_v32_config_json_without_a_query_rank_is_refused(tmp_path):
    """Its indexer reads the query latent, which its attention always builds: transformers'
    config class refuses a null rank (5.17 and 5.25), and so does every reader of the
    config.json, the ones without transformers too (which would else count DeepSeek-V3's one
    q_proj and plan a model no job can load)."""
    raw = {**{k: v for k, v in FAMILIES["deepseek_v32"]().to_dict().items() if k != "dtype"},
           "q_lora_rank": None}
    with pytest.raises(StrictDataclassFieldValidationError, match="q_lora_rank"):  # theirs
        DeepseekV32Config.from_dict(raw)
    folder = _write_config(tmp_path / "m", raw)
    for read in (checked_config_json, checkpoint_config, load_config):
        with pytest.raises(PrunebenchError, match="q_lora_rank=null for a DeepSeek-V3.2"):
            read(folder)


def v32_fp8_published(key: str, tensor: torch.Tensor) -> bool:
    """Whether deepseek-ai publishes DeepSeek-V3.2's tensor `key` in FP8: DeepSeek-V3's, and of
    its indexer wq_b and wk (each beside its weight_scale_inv); the indexer's weights_proj and
    k_norm are bfloat16."""
    if ".indexer." in key:
        return key.endswith((".wq_b.weight", ".wk.weight"))
    return fp8_published(key, tensor)


def test_a_deepseek_v32_fp8_checkpoint_is_dequantized_fused_and_its_mtp_block_dropped(
        tmp_path, tokenizer):  # noqa: F811 - the fixture
    """deepseek-ai's published layout (param_count.FP8_PUBLISHED): e4m3 weights in scale tiles
    of 4 x 4 under a quantization_config with V3.2's scale_fmt, one tensor per expert, an MTP
    block after the last. Refused as it is, imported dequantized (the indexer's FP8 weights
    too, its bfloat16 weights_proj kept), the model transformers' own loading builds."""
    model = family_model("deepseek_v32")
    state = write_fp8_checkpoint(model, tmp_path / "hub", tokenizer, fp8=v32_fp8_published,
                                 scale_fmt="ue8m0")
    indexer = "model.layers.2.self_attn.indexer."
    assert state[indexer + "wk.weight"].dtype == torch.float8_e4m3fn
    assert state[indexer + "weights_proj.weight"].dtype == torch.bfloat16
    assert indexer + "weights_proj.weight_scale_inv" not in state
    with pytest.raises(PrunebenchError, match="DeepseekV32ForCausalLM with FP8 weights.*"
                                              "dequantizes them once.*DeepSeek-V3.2@"):
        load_model(tmp_path / "hub")
    out = import_local(f"local:{tmp_path / 'hub'}", tmp_path / "imported")
    record = json.loads((out / moe_fuse.RECORD).read_text())
    assert record["dequantized_from"] == "fp8"
    assert record["dropped_blocks"] == ["model.layers.4"]
    assert "quantization_config" not in json.loads((out / "config.json").read_text())
    ours = load_model(out)
    assert numel(ours) == count_params(ours.config) == numel(model)
    held = ours.state_dict()
    for name in ("wq_b.weight", "wk.weight"):  # the indexer's, dequantized value for value
        expected = moe_fuse.dequantize_fp8(state[indexer + name],
                                           state[indexer + name + "_scale_inv"], (4, 4))
        assert torch.equal(held[indexer + name].to(torch.bfloat16), expected)
    assert torch.equal(held[indexer + "weights_proj.weight"].to(torch.bfloat16),
                       state[indexer + "weights_proj.weight"])
    # transformers' own loading of the published folder (dequantized without a GPU, the MTP
    # block dropped), its float32 weights rounded to the import's bfloat16: the same model.
    theirs_ = AutoModelForCausalLM.from_pretrained(tmp_path / "hub", dtype=torch.float32).eval()
    with torch.no_grad():
        for p in theirs_.parameters():
            p.copy_(p.to(torch.bfloat16).float())
    theirs_state = theirs_.state_dict()
    for key, tensor in held.items():
        assert torch.equal(tensor.float(), theirs_state[key].float()), key
    x = ids(2, 24)
    assert torch.equal(logits(ours.float(), x), logits(theirs_, x))


# --------------------------------------------------------------------------- both

@pytest.mark.parametrize("name", NAMES)
def test_a_depth_pruned_reload_decodes_as_transformers(name, tmp_path):
    """Saved with blocks 1 and 2 removed, loaded by prunebench and by transformers' class: the
    hf backend's tokens are transformers' generate's, and hf_static's too."""
    check_a_depth_pruned_reload_decodes_as_transformers(family_model(name), [1, 2],
                                                        family_classes(name)[1],
                                                        tmp_path / "pruned")


@pytest.mark.parametrize("name, model_class", [("hy_v3", "HYV3ForCausalLM"),
                                               ("deepseek_v32", "DeepseekV32ForCausalLM")])
@pytest.mark.parametrize("method", ["LLM-Pruner", "FLAP", "the compiled backend"])
def test_refuses_what_reshapes_its_experts(name, model_class, method):
    if name == "deepseek_v32":  # (LoRA on its latent attention: tests/test_moe.py)
        from prunebench.checkpoint.param_count import refuse_moe
        with pytest.raises(FamilyUnsupported, match="mixture-of-experts family "
                                                    "'deepseek_v32'.*depth method"):
            refuse_moe(FAMILIES[name](), method)
        return
    check_refused_as_a_mixture_of_experts(FAMILIES[name](), method, model_class)


def test_a_saved_config_json_reads_back_as_the_models():
    """What prunebench writes for a depth-pruned model (mlp_layer_types of the kept blocks)
    reads back, without transformers, as the model it saved."""
    for name in NAMES:
        model = remove_blocks(family_model(name), [0, 2])
        raw = json.loads(model.config.to_json_string())
        assert count_params(config_from_dict(raw)) == numel(model)
