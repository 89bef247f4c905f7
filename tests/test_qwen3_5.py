"""Qwen3.5's language models (qwen3_5_text, Qwen3_5ForCausalLM, dense; qwen3_5_moe_text,
Qwen3_5MoeForCausalLM, a mixture of experts): Qwen3-Next's hybrid of Gated DeltaNet and gated
full-attention blocks, its input projections split (in_proj_qkv, in_proj_z, in_proj_b,
in_proj_a), with a dense MLP in every block or experts and a gated shared expert in every
block. Exact counts (against transformers' meta model, config.json's values alone and the
arithmetic by hand); depth pruning that removes blocks of either kind, each kept block
reloading as the kind it was (`layer_types` rewritten), with the logits of transformers' model
built of the kept blocks; the hf and hf_static backends' tokens of a depth-pruned model equal
to transformers' generate and to greedy decoding without a cache; the cache a step reads equal
to what transformers' cache holds; LoRA on the attention blocks and the dense MLPs; the
refusals (width methods, the compiled backend, at the start too; a prune leaving no
full-attention block; block kinds and head counts transformers does not build); and the
published multimodal checkpoints (Qwen3_5ForConditionalGeneration,
Qwen3_5MoeForConditionalGeneration), whose language model is taken out (the ViT and the
multi-token-prediction layer left out) and computes what the whole model computes on text
(tests/test_families.py and tests/test_moe.py run the shared per-family and mixture-of-experts
tests on the MoE one too)."""

from __future__ import annotations

import copy
import itertools
import json

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import (Qwen3_5ForCausalLM, Qwen3_5MoeForCausalLM, Qwen3_5MoeTextConfig,
                          Qwen3_5TextConfig)

from prunebench import FamilyUnsupported, PrunebenchError
from prunebench.checkpoint import moe_fuse, text_part
from prunebench.checkpoint.local_import import import_local
from prunebench.checkpoint.param_count import (checked_config_json, checkpoint_config,
                                               config_from_dict, count_params, is_moe,
                                               refuse_moe, sparse_mlp_blocks)
from prunebench.modeling import build_model, load_model, remove_blocks, save_model
from block_helpers import kept_blocks_state
from test_deepseek import logits, numel, random_model
from test_families import VOCAB
from test_glm4_moe import check_loads_as_transformers, check_refused_as_a_mixture_of_experts
from test_granitemoehybrid import check_width_and_compiled_refused
from test_qwen3_next import (check_a_depth_pruned_reload_decodes_as_transformers, check_cache_bytes,
                             check_depth_pruning, check_interval_alone, check_refused_when_read,
                             check_removing_the_full_attention_blocks_is_refused, kinds_of,
                             unbuilt_changes)
from test_families import tokenizer  # noqa: F401 - a fixture

pytestmark = pytest.mark.usefixtures("one_thread")

LINEAR, FULL = "linear_attention", "full_attention"
# Five blocks: two full-attention ones among Gated DeltaNet ones (the published 3:1, with
# the last block full attention).
KINDS = [LINEAR, FULL, LINEAR, LINEAR, FULL]
CLASSES = {"qwen3_5_text": Qwen3_5ForCausalLM, "qwen3_5_moe_text": Qwen3_5MoeForCausalLM}
TYPES = sorted(CLASSES)


def small(model_type: str, **over):
    """A small Qwen3.5 language model: gated attention of 4 query heads of 8 on 2 KV heads,
    half of each head rotating (M-RoPE's interleaved sections, as published: text positions
    rotate as one); Gated DeltaNet of 2 key heads of 8 on 4 value heads of 12; a dense MLP of
    40 (qwen3_5_text) or 4 experts of 16, 2 a token, and a shared expert of 24
    (qwen3_5_moe_text) in every block; untied."""
    values = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=5,
                  num_attention_heads=4, num_key_value_heads=2, head_dim=8,
                  rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                   "partial_rotary_factor": 0.5, "mrope_interleaved": True,
                                   "mrope_section": [1, 1, 0]},
                  layer_types=KINDS, linear_num_key_heads=2, linear_num_value_heads=4,
                  linear_key_head_dim=8, linear_value_head_dim=12, linear_conv_kernel_dim=4,
                  max_position_embeddings=64, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    if model_type == "qwen3_5_text":
        values.update(intermediate_size=40)
    else:
        values.update(moe_intermediate_size=16, shared_expert_intermediate_size=24,
                      num_experts=4, num_experts_per_tok=2)
    values.update(over)
    if "num_hidden_layers" in over and "layer_types" not in over:
        values.pop("layer_types")  # derived from full_attention_interval
    config = Qwen3_5TextConfig if model_type == "qwen3_5_text" else Qwen3_5MoeTextConfig
    return config(**values)


# The keys of Qwen3.5's published text configs (Qwen3.5-27B's, Qwen3.5-35B-A3B's) that
# transformers' classes (5.17, 5.25) keep as attributes and never read: the output gate that
# every full-attention block has, the dtype serving engines keep the Gated DeltaNet's state in,
# and the multi-token-prediction layer that neither class builds.
PUBLISHED_KEYS = {"attn_output_gate": True, "mamba_ssm_dtype": "float32",
                  "mtp_num_hidden_layers": 1, "mtp_use_dedicated_embeddings": False}


# --------------------------------------------------------------------------- counts

@pytest.mark.parametrize("model_type,bias,tied,kinds", list(itertools.product(
    TYPES, [False, True], [False, True], [KINDS, [LINEAR] * 5, [FULL] * 5])))
def test_counts_equal_transformers_parameters(model_type, bias, tied, kinds):
    """Attention biases on or off (the gated query's bias twice as wide), tied or not, blocks
    of either kind or both: the closed form, and config_from_dict of the config.json values,
    equal model.parameters(); the Gated DeltaNet's four input projections are built split."""
    config = small(model_type, attention_bias=bias, tie_word_embeddings=tied, layer_types=kinds)
    model = build_model(config, device="meta")
    assert numel(model) == count_params(config)
    values = json.loads(config.to_json_string())
    assert count_params(config_from_dict(values)) == count_params(config)
    assert is_moe(config) == (model_type == "qwen3_5_moe_text")
    for i, kind in enumerate(kinds):
        layer = model.model.layers[i]
        if kind == FULL:
            assert layer.self_attn.q_proj.weight.shape == (2 * 4 * 8, 32)  # query and gate
            assert (layer.self_attn.q_proj.bias is not None) == bias
        else:
            shapes = {name: tuple(getattr(layer.linear_attn, name).weight.shape)
                      for name in ("in_proj_qkv", "in_proj_z", "in_proj_b", "in_proj_a")}
            assert shapes == {"in_proj_qkv": (2 * 16 + 48, 32), "in_proj_z": (48, 32),
                              "in_proj_b": (4, 32), "in_proj_a": (4, 32)}


@pytest.mark.parametrize("model_type", TYPES)
@pytest.mark.parametrize("interval", [1, 2, 4, 6])
def test_a_config_json_with_the_interval_alone_counts_the_blocks_transformers_builds(
        model_type, interval):
    """A config.json with full_attention_interval and no layer_types: config_from_dict derives
    each block's kind as Qwen3.5's text configs do."""
    check_interval_alone(small(model_type, num_hidden_layers=6,
                               full_attention_interval=interval), interval)


@pytest.mark.parametrize("model_type", TYPES)
def test_the_count_is_the_sum_of_each_part_by_hand(model_type):
    d, keys, values, value_heads = 32, 2 * 8, 4 * 12, 4
    linear = (d * (2 * keys + values) + d * values + 2 * d * value_heads  # qkv, z, b and a
              + (2 * keys + values) * 4  # the conv1d's kernels
              + 2 * value_heads + 12  # dt_bias, A_log, the gated norm
              + values * d)  # out_proj
    full = d * 2 * 4 * 8 + 2 * d * 2 * 8 + 4 * 8 * d + 2 * 8  # gated q, k, v, o, q/k norms
    if model_type == "qwen3_5_text":
        mlp = 3 * d * 40
    else:  # router, experts, the shared expert and its one-output gate
        mlp = 4 * d + 4 * 3 * d * 16 + 3 * d * 24 + d
    blocks = [(full if kind == FULL else linear) + mlp + 2 * d for kind in KINDS]  # norms
    assert count_params(small(model_type)) == 2 * VOCAB * d + d + sum(blocks)  # untied


def test_the_moe_configs_class_has_no_dense_width_and_every_block_is_sparse():
    """Qwen3_5MoeTextConfig has no intermediate_size (every block's MLP is its sparse block);
    a config.json read without transformers holds none either, and each block is sparse."""
    config = small("qwen3_5_moe_text")
    assert not hasattr(config, "intermediate_size")
    ours = config_from_dict(json.loads(config.to_json_string()))
    assert ours.intermediate_size is None
    assert sparse_mlp_blocks(ours) == sparse_mlp_blocks(config) == [True] * 5


# --------------------------------------------------------------------------- depth pruning

def kept_blocks_model(model, keep: list[int]):
    """transformers' own model of `model`'s blocks `keep` (renumbered): a config of that depth
    whose layer_types are the kept blocks' own, given those weights."""
    config = copy.deepcopy(model.config)
    config.num_hidden_layers = len(keep)
    config.layer_types = [config.layer_types[i] for i in keep]
    kept = CLASSES[config.model_type](config).eval()
    kept.load_state_dict(kept_blocks_state(model, keep), strict=True)
    return kept


@pytest.mark.parametrize("model_type", TYPES)
@pytest.mark.parametrize("drop", [[0], [1], [0, 4], [0, 2, 3]])
def test_depth_pruning_gives_transformers_model_of_the_kept_blocks(model_type, drop, tmp_path):
    """Removing Gated DeltaNet blocks, full-attention ones or both: the pruned model, and its
    save reloaded by prunebench and by transformers, compute the logits of transformers' model
    built of the kept blocks, each block of the kind it was (layer_types rewritten)."""
    check_depth_pruning(random_model(small(model_type)), drop, kept_blocks_model,
                        CLASSES[model_type], tmp_path)


@pytest.mark.parametrize("model_type, name", [("qwen3_5_text", "Qwen3.5"),
                                              ("qwen3_5_moe_text", "Qwen3.5-MoE")])
def test_removing_every_full_attention_block_is_refused_before_anything_changes(model_type,
                                                                                name):
    """Without a full-attention block transformers' cache cannot size the masks: a cached
    forward (generate, every benchmark) stops. The removal is refused, naming the
    full-attention blocks and what to do; the model is left whole."""
    check_removing_the_full_attention_blocks_is_refused(random_model(small(model_type)), name,
                                                        kept_blocks_model)


# --------------------------------------------------------------------------- backends

@pytest.mark.parametrize("model_type", TYPES)
@pytest.mark.parametrize("drop", [[0], [4], [2, 3]])
def test_the_hf_backends_decode_a_depth_pruned_model_as_transformers_generate(model_type, drop,
                                                                             tmp_path):
    """A depth-pruned model (each block's cache entry its new index, its Gated DeltaNet's
    states too) reloaded: the hf backend's tokens equal transformers' generate of its own
    loading of the checkpoint, and greedy decoding without a cache wherever that choice is
    certain; so do hf_static's."""
    check_a_depth_pruned_reload_decodes_as_transformers(
        random_model(small(model_type)), drop, CLASSES[model_type], tmp_path / "pruned")


@pytest.mark.parametrize("model_type", TYPES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_cache_a_step_reads_is_what_transformers_cache_holds(model_type, dtype):
    """kv_cache_bytes: the full-attention blocks' keys and values of the positions seen, and
    each Gated DeltaNet block's state of one size whatever the length (conv state in the
    model's dtype, recurrent state in float32), equal to what transformers' cache holds after a
    prefill; a depth-pruned model's too."""
    check_cache_bytes(random_model(small(model_type)).to(dtype), dtype)


@pytest.mark.parametrize("model_type", TYPES)
@pytest.mark.parametrize("keys", [PUBLISHED_KEYS,
                                  {**PUBLISHED_KEYS, "mamba_ssm_dtype": "bfloat16",
                                   "mtp_num_hidden_layers": 2,
                                   "mtp_use_dedicated_embeddings": True}])
def test_the_published_keys_transformers_never_reads_change_no_count_and_no_cache(model_type,
                                                                                   keys,
                                                                                   tmp_path):
    """attn_output_gate (true), mamba_ssm_dtype and the mtp_* keys of a config.json are taken
    by the config's check and change neither the count (the gated query counted whatever they
    say; no multi-token-prediction layer is built, however many the config declares) nor the
    cache a step reads: transformers keeps the Gated DeltaNet's recurrent state in float32
    whatever mamba_ssm_dtype says (an engine's setting), as kv_cache_bytes counts it."""
    config = small(model_type, **keys)
    raw = json.loads(config.to_json_string())
    assert {key: raw[key] for key in keys} == keys
    (tmp_path / "config.json").write_text(json.dumps(raw))
    assert checked_config_json(tmp_path) == raw
    model = random_model(config)
    assert numel(model) == numel(random_model(small(model_type)))
    assert count_params(config_from_dict(raw)) == count_params(config) == numel(model)
    check_cache_bytes(model.to(torch.bfloat16), torch.bfloat16)


def test_lora_adapts_the_attention_blocks_and_every_dense_mlp():
    """The dense model's default LoRA targets: q/k/v/o in its full-attention blocks (its Gated
    DeltaNet blocks hold none) and the gate, up and down projections of every block's MLP."""
    from prunebench import lora

    model = random_model(small("qwen3_5_text"))
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    chosen, _ = lora.lora_target_names(model, targets)
    attention = [n for n in chosen if ".self_attn." in n]
    assert sorted({int(n.split(".")[2]) for n in attention}) == [1, 4]
    assert len(attention) == 2 * 4
    assert len([n for n in chosen if ".mlp." in n]) == 5 * 3
    assert len(chosen) == 2 * 4 + 5 * 3


# --------------------------------------------------------------------------- refusals

def test_width_methods_and_the_compiled_backend_refuse_the_dense_hybrid_model():
    """The dense model's Gated DeltaNet blocks hold no heads: width surgery, the width methods'
    plans and the compiled decoder refuse it, naming the depth methods and the hf backends."""
    config = small("qwen3_5_text")
    what = (r"this 'qwen3_5_text' model .*with blocks of another token mixer than softmax "
            r"attention \(blocks \[0, 2, 3\]: Gated DeltaNet\)")
    for method in ("llm_pruner (width pruning)", "blockpruner"):
        with pytest.raises(FamilyUnsupported, match=f"{what}.*depth method.*hf or hf_static"):
            refuse_moe(config, method)
    check_width_and_compiled_refused(config, what)


@pytest.mark.parametrize("method", ["flap", "llm_pruner", "wanda_sp", "blockpruner", "compiled"])
def test_the_moe_model_refuses_width_methods_the_compiled_backend_and_expert_lora(method):
    check_refused_as_a_mixture_of_experts(small("qwen3_5_moe_text"), method,
                                          "Qwen3_5MoeForCausalLM")


@pytest.mark.parametrize("model_type, told", [("qwen3_5_text", "(Gated DeltaNet)"),
                                               ("qwen3_5_moe_text", "is a mixture of experts")])
def test_the_start_refuses_the_compiled_backend(model_type, told, tmp_path):
    """A Qwen3.5 model whose config is known at the start (a local folder) is told of the
    compiled backend there, not by its benchmark job."""
    from prunebench.plan.checks import moe_problems

    small(model_type).save_pretrained(tmp_path / "m")
    runs = {"models": {"m": {"source": f"local:{tmp_path / 'm'}", "variants": ["dense"]}},
            "benchmark": {"backends": ["hf", "compiled"]}}
    problem, = moe_problems(runs, tmp_path / "nowhere")
    assert problem.startswith(f"models.m ({model_type}) ") and told in problem
    assert "take 'compiled' out of benchmark.backends (hf and hf_static run it)" in problem


@pytest.mark.parametrize("model_type,change,refused", [
    (model_type, change, refused) for model_type, model_class, name in (
        ("qwen3_5_text", "Qwen3_5ForCausalLM", "Qwen3.5"),
        ("qwen3_5_moe_text", "Qwen3_5MoeForCausalLM", "Qwen3.5-MoE"))
    for change, refused in unbuilt_changes(model_class, name)])
def test_blocks_transformers_does_not_build_are_refused_when_read(model_type, change, refused,
                                                                  tmp_path):
    """A config.json whose blocks transformers' class does not build as its weights are (a
    block kind it builds no token mixer for, value heads that are no whole groups of key
    heads, a kind missing for some block, no full-attention block) is refused by the load's
    check and by the plan's, before the plan counts it or the load fails."""
    check_refused_when_read(small(model_type), change, refused, tmp_path)


# --------------------------------------------------------------------------- multimodal

VISION = dict(depth=1, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=32,
              num_position_embeddings=16, patch_size=4, spatial_merge_size=1)
WRAPPED = {"qwen3_5_text": ("Qwen3_5Config", "Qwen3_5ForConditionalGeneration", "qwen3_5"),
           "qwen3_5_moe_text": ("Qwen3_5MoeConfig", "Qwen3_5MoeForConditionalGeneration",
                                "qwen3_5_moe")}


def multimodal(model_type: str):
    """A random Qwen3.5 multimodal model (its ViT beside the small language model above), its
    one-dimensional weights randomised too and every weight of std 0.1."""
    import transformers

    config_name, model_name, _ = WRAPPED[model_type]
    text = json.loads(small(model_type, **PUBLISHED_KEYS).to_json_string())
    config = getattr(transformers, config_name)(text_config=text, vision_config=dict(VISION),
                                                image_token_id=120, video_token_id=121,
                                                vision_start_token_id=122,
                                                vision_end_token_id=123)
    torch.manual_seed(0)
    model = getattr(transformers, model_name)(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn_like(p) * (0.2 if p.dim() == 1 else 0.1)
                    + (1.0 if "norm" in name and "visual" in name else 0.0))
    return model


def with_mtp_layer(folder, d: int) -> int:
    """Add a multi-token-prediction layer under the published `mtp.*` names to the saved
    checkpoint in `folder` (a shard of its own, in the index), as Qwen publishes Qwen3.5:
    neither the multimodal class nor the text one builds it. Its parameter count."""
    g = torch.Generator().manual_seed(7)
    shapes = {"mtp.fc.weight": (d, 2 * d), "mtp.pre_fc_norm_embedding.weight": (d,),
              "mtp.pre_fc_norm_hidden.weight": (d,), "mtp.norm.weight": (d,),
              "mtp.layers.0.input_layernorm.weight": (d,)}
    tensors = {n: torch.randn(s, generator=g) for n, s in shapes.items()}
    save_file(tensors, str(folder / "model-mtp.safetensors"), metadata={"format": "pt"})
    index = folder / "model.safetensors.index.json"
    if index.exists():
        weight_map = json.loads(index.read_text())["weight_map"]
    else:  # one file: an index naming it and the new one
        (folder / "model.safetensors").rename(folder / "model-main.safetensors")
        weight_map = {n: "model-main.safetensors"
                      for n in load_file(folder / "model-main.safetensors")}
    weight_map.update({n: "model-mtp.safetensors" for n in tensors})
    index.write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return sum(t.numel() for t in tensors.values())


@pytest.mark.parametrize("model_type, experts", [("qwen3_5_text", None),
                                                   ("qwen3_5_moe_text", "per expert"),
                                                   ("qwen3_5_moe_text", "fused")])
def test_the_published_multimodal_checkpoint_keeps_its_language_model(model_type, experts,
                                                                      tmp_path,
                                                                      tokenizer):  # noqa: F811
    """Qwen3.5 as Qwen publishes it (Qwen3_5ForConditionalGeneration /
    Qwen3_5MoeForConditionalGeneration: `model.language_model.*`, the ViT `model.visual.*`,
    an `mtp.*` layer): imported, its language model is kept as Qwen3_5ForCausalLM /
    Qwen3_5MoeForCausalLM (the tower and the MTP layer left out and recorded; the experts fused
    where the files hold them one per expert, as transformers' save_pretrained writes them,
    kept where they are fused already, as transformers 5 holds them), computes what the whole
    model computes on text (past the first M-RoPE section's positions), loads in transformers
    as in prunebench, and depth-prunes and reloads keeping each block's kind."""
    _, _, wrapper = WRAPPED[model_type]
    model = multimodal(model_type)
    hub = tmp_path / "hub"
    model.save_pretrained(hub)
    tokenizer.save_pretrained(hub)
    if experts == "fused":  # the weights under the names of transformers 5's modules
        (hub / "model.safetensors").unlink()
        save_file({n: t.contiguous() for n, t in model.state_dict().items()},
                  str(hub / "model.safetensors"), metadata={"format": "pt"})
    names = list(load_file(hub / "model.safetensors"))
    assert ("model.language_model.layers.0.mlp.experts.0.gate_proj.weight" in names) == (
        experts == "per expert")
    assert ("model.language_model.layers.0.mlp.experts.gate_up_proj" in names) == (
        experts == "fused")
    mtp = with_mtp_layer(hub, 32)
    raw = json.loads((hub / "config.json").read_text())
    assert raw["model_type"] == wrapper
    assert text_part.wrapper_of(raw) is text_part.WRAPPERS[wrapper]
    with pytest.raises(PrunebenchError, match=f"multimodal {model.__class__.__name__}"):
        checked_config_json(hub)
    planned = checkpoint_config(hub)  # what `prunebench plan` reads of the folder to import
    assert planned.model_type == model_type
    out = import_local(f"local:{hub}", tmp_path / "imported")
    record = json.loads((out / text_part.RECORD).read_text())
    assert record["text_model_type"] == model_type
    assert (out / moe_fuse.RECORD).exists() == (experts == "per expert")
    assert record["left_out"]["parameters"] == mtp + sum(
        p.numel() for p in model.model.visual.parameters())
    # the published keys kept, but the multi-token-prediction layer the import left out is no
    # longer declared (an engine reading the key would look for its weights)
    kept = json.loads((out / "config.json").read_text())
    assert {key: kept[key] for key in PUBLISHED_KEYS} == {**PUBLISHED_KEYS,
                                                          "mtp_num_hidden_layers": 0}
    assert record["text_config_overrides"] == {"mtp_num_hidden_layers": 0}
    ours = load_model(out)
    assert type(ours) is CLASSES[model_type]
    assert numel(ours) == count_params(ours.config) == count_params(planned)
    assert kinds_of(ours) == KINDS
    x = torch.randint(3, VOCAB, (2, 40), generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(logits(ours, x), logits(model, x), rtol=0, atol=1e-5)
    check_loads_as_transformers(ours, out)
    remove_blocks(ours, [0, 2])
    pruned = logits(ours, x)
    save_model(ours, None, tmp_path / "pruned")
    again = load_model(tmp_path / "pruned")
    assert kinds_of(again) == [FULL, LINEAR, FULL]
    assert torch.equal(logits(again, x), pruned)


def test_the_known_shape_counts_what_transformers_builds_and_by_hand():
    """Qwen3.5-27B's language model (the card: 27B): 64 blocks of hidden 5120, every fourth
    gated attention of 24 / 4 heads of 256 (64 dimensions rotating), the others Gated DeltaNet
    of 16 key heads / 48 value heads of 128 with kernels of 4; a dense MLP of 17408 in every
    block; untied vocabulary of 248320. Named by its hub id, not by its quantized copies."""
    from prunebench.benchmark.floors import kv_cache_bytes, read_params
    from prunebench.checkpoint.architectures import known_shape_of
    from test_deepseek_v2 import check_known_shape

    d, vocab = 5120, 248320
    full = d * 2 * 24 * 256 + 2 * d * 4 * 256 + 24 * 256 * d + 2 * 256
    keys, values = 16 * 128, 48 * 128
    linear = (d * (2 * keys + values) + d * values + 2 * d * 48 + (2 * keys + values) * 4
              + 2 * 48 + 128 + values * d)
    block = 3 * d * 17408 + 2 * d  # the MLP, the two norms
    total = 2 * vocab * d + d + 16 * (full + block) + 48 * (linear + block)
    assert total == 26_895_998_464
    # dense: a batch-1 step reads every parameter but the embedding table
    config = check_known_shape("qwen3.5-27b", total, total - vocab * d, "Qwen3_5TextConfig")
    assert read_params(config) == total - vocab * d
    assert config.layer_types == ([LINEAR] * 3 + [FULL]) * 16
    assert config.rope_parameters["partial_rotary_factor"] == 0.25  # 64 of 256
    assert known_shape_of("Qwen/Qwen3.5-27B") == "qwen3.5-27b"
    assert known_shape_of("Qwen/Qwen3.5-27B-FP8") is None
    # a step's cache: the 16 full-attention blocks' keys and values (4 heads of 256,
    # bfloat16) a position, and the 48 Gated DeltaNet blocks' states of one size per sequence
    conv, recurrent = (2 * keys + values) * 4, 48 * 128 * 128
    assert kv_cache_bytes(config, 1, 1000, "bfloat16") == (
        16 * 2 * 4 * 256 * 2 * 1000 + 48 * (conv * 2 + recurrent * 4))


def test_the_moe_known_shape_counts_what_transformers_builds_and_by_hand():
    """Qwen3.5-35B-A3B's language model (the card: 35B total with the ViT, 3B activated): 40
    blocks of hidden 2048, every fourth gated attention of 16 / 2 heads of 256, the others
    Gated DeltaNet of 16 key / 32 value heads of 128 with kernels of 4; in every block 256
    experts of 512, 8 routed, and a gated shared expert of 512; untied vocabulary of 248320.
    A batch-1 step reads all but the 248 experts a token is not routed to in each block, and
    the embedding table."""
    from prunebench.benchmark.floors import read_params
    from prunebench.checkpoint.architectures import known_shape_of
    from test_deepseek_v2 import check_known_shape

    d, vocab = 2048, 248320
    full = d * 2 * 16 * 256 + 2 * d * 2 * 256 + 16 * 256 * d + 2 * 256
    keys, values = 16 * 128, 32 * 128
    linear = (d * (2 * keys + values) + d * values + 2 * d * 32 + (2 * keys + values) * 4
              + 2 * 32 + 128 + values * d)
    expert = 3 * d * 512
    sparse = 256 * d + 256 * expert + expert + d  # router, experts, shared expert and its gate
    block = sparse + 2 * d  # and the two norms
    total = 2 * vocab * d + d + 10 * (full + block) + 30 * (linear + block)
    assert total == 34_660_610_688
    read = total - vocab * d - 40 * 248 * expert
    config = check_known_shape("qwen3.5-35b-a3b", total, read, "Qwen3_5MoeTextConfig")
    assert read_params(config) == read == 2_946_429_568
    assert config.layer_types == ([LINEAR] * 3 + [FULL]) * 10
    assert known_shape_of("Qwen/Qwen3.5-35B-A3B") == "qwen3.5-35b-a3b"
    assert known_shape_of("Qwen/Qwen3.5-35B-A3B-FP8") is None
