"""Gemma 4 (gemma4_text, Gemma4ForCausalLM): every layout by depth pruning and the hf / hf_static
backends; width methods, width surgery and the compiled backend refused.

The layouts: the dense 31B's (global blocks of wider heads and fewer KV heads, their values
their keys: attention_k_eq_v, no v_proj), the E2B / E4B's (per-layer inputs: a packed
embedding and projection outside the blocks and a gate and projection in each; the last blocks
reusing an earlier block's keys and values, their MLP twice as wide), and the 26B-A4B's
(a router and experts beside each block's dense MLP). Exact counts against transformers' meta
models, config.json's values alone (as transformers writes them, with per_layer_config, and
with global_head_dim / num_global_key_value_heads instead) and the arithmetic by hand; depth
pruning equal to transformers' own forward of the dense model with the removed blocks passed
over (each kept block keeps its per-layer input, mask and keys' source), reloaded by
prunebench and by transformers; the blocks a depth prune must keep (the last, and each block
whose keys later blocks reuse) never removed by the depth methods and refused to
remove_blocks with the model left whole; the hf and hf_static backends' tokens equal to
transformers' generate and to greedy decoding without a cache; kv_cache_bytes equal to what
transformers' cache holds; the benchmark sweep on every backend and the perplexity computed by
hand; a folder transformers saved loaded as it loads it; LoRA's adapters
on the projections each block holds; the refusals; and the language model of the multimodal
Gemma4ForConditionalGeneration, its vision and audio towers left out, computing on text what
the whole model computes."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, Gemma4ForCausalLM, Gemma4TextConfig

from prunebench import PrunebenchError
from prunebench.benchmark.floors import kv_cache_bytes
from prunebench.checkpoint.param_count import (block_param_count, checked_config_json,
                                               config_from_dict, count_params,
                                               depth_kept_blocks, is_moe, kv_bytes_of,
                                               kv_sources,
                                               layer_shapes)
from prunebench.methods.depth import without_blocks
from prunebench.methods.registry import method_function
from prunebench.modeling import build_model, load_model, remove_blocks, save_model
from test_deepseek import ids, logits, numel
from test_families import VOCAB, in_allocated_memory
from test_glm4_moe import check_loads_as_transformers
from test_granitemoehybrid import check_width_and_compiled_refused
from test_qwen3_next import cache_bytes, check_a_depth_pruned_reload_decodes_as_transformers

pytestmark = pytest.mark.usefixtures("one_thread")

S, F = "sliding_attention", "full_attention"
KINDS = [S, S, F, S, S, F]


def small(**over) -> Gemma4TextConfig:
    """A small dense Gemma 4 of the 31B's layout: sliding blocks of 4 query heads of 8 on 2 KV
    heads, global ones (blocks 2 and 5) of heads of 16 on 1 KV head whose values are its keys;
    no per-layer inputs, sharing or experts; tied (as published). No end-of-sequence token:
    generate's minimum length, which holds it back, would part its tokens from greedy decoding
    without a cache."""
    values = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=48, num_hidden_layers=6,
                  num_attention_heads=4, num_key_value_heads=2, head_dim=8, global_head_dim=16,
                  num_global_key_value_heads=1, attention_k_eq_v=True, layer_types=KINDS,
                  sliding_window=16, hidden_size_per_layer_input=0, num_kv_shared_layers=0,
                  max_position_embeddings=128, bos_token_id=1, eos_token_id=None, pad_token_id=0)
    return Gemma4TextConfig(**{**values, **over})


def per_layer(**over) -> Gemma4TextConfig:
    """The E2B / E4B's layout: per-layer inputs of 8 a block, the last two blocks (a sliding
    and a global one) reusing the keys and values of blocks 3 and 2, their MLP twice as wide;
    keys and values of their own on the global blocks (attention_k_eq_v off, as published)."""
    return small(**{"hidden_size_per_layer_input": 8, "vocab_size_per_layer_input": VOCAB,
                    "num_kv_shared_layers": 2, "use_double_wide_mlp": True,
                    "attention_k_eq_v": False, "num_global_key_value_heads": None, **over})


def experts(**over) -> Gemma4TextConfig:
    """The 26B-A4B's layout: a router choosing 2 of 4 experts of 16 beside each block's MLP."""
    return small(**{"enable_moe_block": True, "num_experts": 4, "top_k_experts": 2,
                    "moe_intermediate_size": 16, **over})


LAYOUTS = {"dense": small, "per_layer": per_layer, "experts": experts}


def random_model(config, seed: int = 0):
    """`config`'s model with every weight random (std 0.1; norms, the routers' scales and each
    block's layer_scalar around 1), float32, in eval mode."""
    torch.manual_seed(seed)
    model = build_model(config, device="cpu")
    with torch.no_grad():
        for name, p in model.named_parameters():
            around_one = "norm" in name or name.endswith(("scale", "per_expert_scale"))
            p.copy_(torch.randn_like(p) * (0.2 if p.dim() == 1 else 0.1) + around_one)
        for layer in model.model.layers:
            layer.layer_scalar.copy_(torch.rand(1) + 0.5)
    return model.eval()


def values_as_published(config) -> dict:
    """The config.json values of `config` as a published one gives them: global_head_dim and
    num_global_key_value_heads instead of per_layer_config, no layer_types (every sixth block
    global), which Gemma4TextConfig derives."""
    raw = {k: v for k, v in config.to_dict().items() if k not in ("per_layer_config",
                                                                  "layer_types")}
    return {**raw, "global_head_dim": 16, "num_global_key_value_heads": 1}


# --------------------------------------------------------------------------- counts

@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("over", [{}, {"attention_bias": True, "tie_word_embeddings": False}])
def test_counts_equal_transformers_parameters(layout, over):
    """Each layout, with biases and an LM head of its own too: the closed form, the meta model,
    and config_from_dict of the config.json values as transformers writes them, equal
    model.parameters() (the layer_scalar buffers not counted)."""
    config = LAYOUTS[layout](**over)
    with torch.device("meta"):
        n = numel(Gemma4ForCausalLM(config))
    assert count_params(config) == n
    assert count_params(config_from_dict(json.loads(config.to_json_string()))) == n
    assert is_moe(config) == (layout == "experts")


def test_a_published_config_json_is_counted_as_transformers_builds_it():
    """A config.json as Google publishes one (global_head_dim, num_global_key_value_heads, no
    per_layer_config or layer_types: every sixth block global, here block 5 of 6) is counted
    as the model Gemma4TextConfig builds of it."""
    raw = values_as_published(small(layer_types=[S] * 5 + [F]))
    built = Gemma4TextConfig(**{k: v for k, v in raw.items() if k != "model_type"})
    assert built.layer_types == [S] * 5 + [F]
    with torch.device("meta"):
        n = numel(Gemma4ForCausalLM(built))
    assert count_params(config_from_dict(raw)) == n


def test_the_blocks_counted_by_hand():
    """The per-layer layout's blocks by hand (d 32, 4 query heads): a sliding block (head_dim
    8, 2 KV heads), a global one (head_dim 16, with values of its own: 2 KV heads, as
    Gemma4TextConfig reads num_global_key_value_heads only with attention_k_eq_v), a reusing
    sliding block (no k/v projections or k_norm, MLP 96 wide); the per-layer inputs outside
    the blocks (packed embedding and projection of 6 x 8, and its norm)."""
    config = per_layer(num_global_key_value_heads=1)
    d, p = 32, 8
    block_rest = 3 * d * 48 + 4 * d + 2 * d * p + d  # MLP, four norms, per-layer input
    sliding = 2 * d * 32 + 8 + 2 * d * 16 + 8 + block_rest
    global_ = 2 * d * 64 + 16 + 2 * d * 32 + 16 + block_rest
    reusing = 2 * d * 32 + 8 + 3 * d * 96 + 4 * d + 2 * d * p + d
    outside = VOCAB * d + d + VOCAB * 6 * p + d * 6 * p + p
    blocks = [sliding, sliding, global_, sliding] + [reusing, 2 * d * 64 + 16 + 3 * d * 96
                                                     + 4 * d + 2 * d * p + d]
    assert count_params(config) == sum(blocks) + outside
    assert kv_sources(config) == [None, None, None, None, 3, 2]


# --------------------------------------------------------------------------- depth pruning

def passed_over(model, drop, x):
    """The logits of transformers' own forward of the dense `model` with the blocks `drop`
    passed over (their input their output; every other block keeps its index)."""
    with without_blocks(model, set(drop)):
        return logits(model, x)


@pytest.mark.parametrize("name, hub_id", [("gemma-4-31b", "google/gemma-4-31B-it"),
                                           ("gemma-4-26b-a4b", "google/gemma-4-26B-A4B-it")])
def test_the_known_shapes_count_what_transformers_builds_and_by_hand(name, hub_id):
    """The language models of Gemma 4 31B (60 blocks of hidden 5376: 50 sliding ones of 32
    heads on 16 KV heads of 256, 10 global ones of 32 heads of 512 on 4 KV heads whose values
    are the keys; an MLP of 21504) and 26B-A4B (30 blocks of hidden 2816: 25 sliding of 16 on 8
    of 256, 5 global of 16 on 2 of 512; an MLP of 2112 beside a router and 128 experts of 704,
    8 routed, and their three norms), tied vocabulary of 262144, no per-layer inputs: counted
    against transformers' meta model, their values alone and by hand; a batch-1 step of the
    26B-A4B reads all but the 120 experts a token is not routed to in each block. Named by
    their hub ids, not by quantized copies."""
    from prunebench.benchmark.floors import read_params
    from prunebench.checkpoint.architectures import known_shape_of
    from test_deepseek_v2 import check_known_shape

    moe = name == "gemma-4-26b-a4b"
    d, heads, kv, global_kv, mlp, blocks = ((2816, 16, 8, 2, 2112, 30) if moe
                                            else (5376, 32, 16, 4, 21504, 60))
    sliding = 2 * d * heads * 256 + 2 * d * kv * 256 + 2 * 256  # q, o, k, v, q/k norms
    full = 2 * d * heads * 512 + d * global_kv * 512 + 2 * 512  # no v_proj: the keys
    block = 3 * d * mlp + 4 * d  # the MLP and the four norms
    expert = 3 * d * 704
    if moe:  # router (scale, per-expert scale, projection), experts, their three norms
        block += d + 128 + 128 * d + 128 * expert + 3 * d
    total = 262144 * d + d + blocks // 6 * (5 * sliding + full) + blocks * block
    assert total == (25_233_141_760 if moe else 30_697_345_280)
    read = total - blocks * 120 * expert if moe else total  # tied: the LM head is the table
    config = check_known_shape(name, total, read, "Gemma4TextConfig")
    assert read_params(config) == read
    assert config.layer_types == ([S] * 5 + [F]) * (blocks // 6)
    assert known_shape_of(hub_id) == known_shape_of(hub_id.removesuffix("-it")) == name
    assert known_shape_of(f"{hub_id}-FP8") is None


@pytest.mark.parametrize("layout,drop", [("dense", [0]), ("dense", [2, 3]),
                                         ("per_layer", [1]), ("per_layer", [0, 4]),
                                         ("per_layer", [4]), ("experts", [1, 2])])
def test_depth_pruning_computes_as_the_dense_model_without_the_blocks(layout, drop, tmp_path):
    """Removing blocks (a global one too, a reusing one too): the model computes what the dense
    model computes with those blocks passed over, its per_layer_config and layer_types lose
    their entries, the kept reusing blocks still reuse (num_kv_shared_layers), the packed
    per-layer tables keep the kept blocks' slices, and it reloads so in prunebench and in
    transformers (AutoModelForCausalLM)."""
    check_depth_pruned_as_passed_over(random_model(LAYOUTS[layout]()), drop,
                                      layout == "per_layer", Gemma4ForCausalLM, tmp_path)


def check_depth_pruned_as_passed_over(model, drop, sharing: bool, text_class, tmp_path):
    """`model` (of KINDS' six blocks; with `sharing`, blocks 4 and 5 reusing others' keys)
    without the blocks `drop` computes what it computed with them passed over, its
    layer_types, head widths and shared blocks those of the kept blocks, and reloads so in
    prunebench and as `text_class` in transformers (AutoModelForCausalLM)."""
    x = ids()
    reference = passed_over(model, drop, x)
    keep = [i for i in range(6) if i not in drop]
    remove_blocks(model, drop)
    assert model.config.layer_types == [KINDS[i] for i in keep]
    assert [layer.self_attn.head_dim for layer in model.model.layers] == [
        16 if KINDS[i] == F else 8 for i in keep]
    assert model.config.num_kv_shared_layers == sum(i >= 4 for i in keep if sharing)
    torch.testing.assert_close(logits(model, x), reference, rtol=0, atol=1e-5)
    assert numel(model) == count_params(model.config)
    save_model(model, None, tmp_path / "depth")
    assert count_params(config_from_dict(checked_config_json(tmp_path / "depth"))) == numel(model)
    ours = load_model(tmp_path / "depth")
    loaded = in_allocated_memory(AutoModelForCausalLM.from_pretrained(
        tmp_path / "depth", dtype=torch.float32)).eval()
    assert type(loaded) is text_class
    assert torch.equal(logits(ours, x), logits(model, x))
    assert torch.equal(logits(loaded, x), logits(model, x))


@pytest.mark.parametrize("drop", [[5], [3], [2, 4]])
def test_removing_a_block_the_model_needs_is_refused_before_anything_changes(drop):
    """The last block (Gemma4TextConfig would reload a sliding block left last as a global one)
    and a block whose keys and values a kept block reuses (3 for 4, 2 for 5): refused, naming
    them, the model left whole."""
    model = random_model(per_layer())
    assert depth_kept_blocks(model.config) == [2, 3, 5]
    x = ids()
    before = logits(model, x)
    with pytest.raises(PrunebenchError, match=r"would remove block\(s\) \[\d\] this Gemma 4 "
                                              r"model needs.*4 reuses 3; 5 reuses 2"):
        remove_blocks(model, drop)
    assert model.config.num_hidden_layers == 6 and model.config.layer_types == KINDS
    assert torch.equal(logits(model, x), before)
    assert depth_kept_blocks(small()) == [5]  # no sharing: the last block alone


@pytest.mark.parametrize("method", ["depth_ppl", "sleb", "depth_angular", "depth_taylor"])
def test_the_depth_methods_remove_only_blocks_the_model_can_lose(method):
    """Each depth method prunes the per-layer layout by two blocks' parameters without the blocks it needs (2, 3 and 5), though those add nothing to the
    residual stream here (what every criterion removes first: an angular distance of 0 over
    blocks 2 and 3, no Taylor score in block 5, whose keys no block reuses); depth_ppl scores
    them null."""
    model = random_model(per_layer())
    with torch.no_grad():
        for block in (2, 3, 5):  # each an identity, its keys and values still computed
            layer = model.model.layers[block]
            for output in (layer.self_attn.o_proj, layer.mlp.down_proj,
                           layer.per_layer_projection):
                output.weight.zero_()
            layer.layer_scalar.fill_(1.0)
    # (the size without blocks 0 and 1: the blocks differ in size, so a depth plan says how
    # many of each size go, and depth_angular's one run of removable blocks is those two)
    config = model.config
    target = count_params(config) - sum(block_param_count(config, layer_shapes(config)[b])
                                        for b in (0, 1))
    report = method_function(method)(model, ids(4, 12, seed=3), target,
                                     protect_first=0, protect_last=0)
    assert report["num_removed"] == 2
    assert not set(report["removed_blocks"]) & {2, 3, 5}
    assert numel(model) == count_params(model.config)
    if method == "depth_ppl":
        assert [report["block_scores"][b] for b in (2, 3, 5)] == [None] * 3
    assert torch.isfinite(logits(model, ids())).all()


def test_the_blocks_the_model_needs_are_no_candidates_and_may_leave_none():
    """removable_blocks leaves out the blocks the model needs (and says so where, with the
    protection, that leaves none); depth_angular, which removes a run of consecutive blocks,
    refuses a target below what its longest run of removable ones reaches (blocks 0 and 1 of
    0, 1 and 4 here)."""
    from prunebench.methods.sizing import removable_blocks

    config = per_layer()
    assert removable_blocks(6, 0, 0, depth_kept_blocks(config)) == [0, 1, 4]
    with pytest.raises(PrunebenchError, match=r"protect_first=2 and protect_last=2 leave no "
                                              r"removable block out of 6 beside the blocks the "
                                              r"model needs kept \(\[2, 3, 5\]"):
        removable_blocks(6, 2, 2, depth_kept_blocks(config))
    model = random_model(config)
    removable = sum(block_param_count(config, layer_shapes(config)[b]) for b in (0, 1, 4))
    with pytest.raises(PrunebenchError, match=r"smallest size a depth prune by depth_angular "
                                              r"of this 'gemma4_text' model .* reaches \(it "
                                              r"removes one run of consecutive removable blocks "
                                              r"among \[0, 1, 4\]"):
        method_function("depth_angular")(model, ids(4, 12, seed=3),
                                         count_params(config) - removable,
                                         protect_first=0, protect_last=0)


@pytest.mark.parametrize("layout,drop", [("dense", [1]), ("per_layer", [0, 4]),
                                         ("experts", [3])])
def test_the_hf_backends_decode_a_depth_pruned_model_as_transformers_generate(layout, drop,
                                                                              tmp_path):
    """A depth-pruned model reloaded: the hf backend's tokens equal transformers' generate of
    its own loading of the checkpoint, and greedy decoding without a cache wherever that choice
    is certain; so do hf_static's (transformers' static cache of each block's own head_dim,
    none for the reusing blocks)."""
    check_a_depth_pruned_reload_decodes_as_transformers(
        random_model(LAYOUTS[layout]()), drop, Gemma4ForCausalLM, tmp_path / "pruned")


@pytest.mark.parametrize("layout", ["dense", "per_layer"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_cache_a_step_reads_is_what_transformers_cache_holds(layout, dtype):
    """kv_cache_bytes: each block's keys and values of its own head_dim and KV heads (a global
    block whose values are its keys caches both), none for a block that reuses another's,
    equal to the tensors transformers' cache holds after a prefill, and so is `prunebench
    plan`'s bytes a token adds (kv_bytes_of) times the tokens; a depth-pruned model's too."""
    model = random_model(LAYOUTS[layout]()).to(dtype)
    for drop in ([], [0]):
        remove_blocks(model, drop)
        for batch, length in ((1, 5), (2, 9)):
            with torch.no_grad():
                out = model(input_ids=ids(batch, length), use_cache=True)
            cache = getattr(out, "past_key_values", None) or out.cache
            assert cache_bytes(cache) == kv_cache_bytes(model.config, batch, length, dtype) > 0
            # `prunebench plan`'s bytes a token adds (the windows are longer than these texts)
            size = torch.empty((), dtype=dtype).element_size()
            assert kv_bytes_of(model.config, layer_shapes(model.config), size) * batch * (
                length) == cache_bytes(cache)


def test_a_folder_transformers_saved_loads_as_transformers_loads_it(tmp_path):
    """A folder of transformers' save_pretrained (the per-layer layout, with its layer_scalar
    buffers): prunebench's load holds the tensors transformers' from_pretrained holds and
    computes its logits."""
    model = random_model(per_layer())
    Gemma4ForCausalLM.save_pretrained(model, tmp_path / "hub")
    ours = load_model(tmp_path / "hub")
    check_loads_as_transformers(ours, tmp_path / "hub")
    x = ids()
    assert torch.equal(logits(ours, x), logits(model, x))


# --------------------------------------------------------------------------- refusals

@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_width_methods_surgery_and_the_compiled_backend_refuse_gemma4(layout):
    """Width methods' plans, width surgery and the compiled decoder refuse every layout, naming
    the depth methods and the hf backends (the experts' as a mixture of experts)."""
    config = LAYOUTS[layout]()
    what = ("mixture-of-experts family 'gemma4_text'" if layout == "experts" else
            r"this 'gemma4_text' model \(Gemma4ForCausalLM\): its blocks differ in head_dim")
    check_width_and_compiled_refused(config, what)


def test_the_start_refuses_the_compiled_backend_for_gemma4(tmp_path):
    """A dense Gemma 4 model whose config is known at the start is told of the compiled
    backend there, not by its benchmark job."""
    from prunebench.plan.checks import moe_problems

    small().save_pretrained(tmp_path / "gemma4")
    runs = {"models": {"g": {"source": f"local:{tmp_path / 'gemma4'}", "variants": ["dense"]}},
            "benchmark": {"backends": ["hf", "compiled"]}}
    problem, = moe_problems(runs, tmp_path / "nowhere")
    assert problem.startswith("models.g (gemma4_text) is a Gemma 4 model")
    assert "take 'compiled' out of benchmark.backends (hf and hf_static run it)" in problem


@pytest.mark.parametrize("shared,kinds,match", [
    (6, KINDS, r"num_kv_shared_layers=6 for 6 blocks"),
    (2, [S, S, S, S, F, F], r"block 4 reuses the keys and values of an earlier full_attention "
                            r"block .*no block before the shared ones is of that kind")])
def test_a_config_json_of_sharing_transformers_cannot_build_is_refused(shared, kinds, match,
                                                                       tmp_path):
    """Every block sharing, or a shared block's kind computed by no block before the shared
    ones: refused with what to do (transformers' config stops on either, or builds a model
    that fails its first forward)."""
    raw = {**json.loads(per_layer().to_json_string()), "num_kv_shared_layers": shared,
           "layer_types": kinds}
    raw.pop("per_layer_config")
    tmp_path.joinpath("config.json").write_text(json.dumps(raw))
    with pytest.raises(PrunebenchError, match=match):
        checked_config_json(tmp_path)


# --------------------------------------------------------------------------- multimodal

def multimodal(text: Gemma4TextConfig):
    """A random Gemma4ForConditionalGeneration of `text`, with a small vision tower and audio
    tower (the E2B / E4B have both), in eval mode."""
    from transformers import (Gemma4AudioConfig, Gemma4Config, Gemma4ForConditionalGeneration,
                              Gemma4VisionConfig)

    vision = Gemma4VisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                num_attention_heads=2, num_key_value_heads=2, head_dim=8,
                                position_embedding_size=64, use_clipped_linears=True)
    audio = Gemma4AudioConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                              subsampling_conv_channels=[8, 4], output_proj_dims=16)
    config = Gemma4Config(text_config=text.to_dict(), vision_config=vision.to_dict(),
                          audio_config=audio.to_dict(), image_token_id=VOCAB - 1,
                          video_token_id=VOCAB - 2, audio_token_id=VOCAB - 3,
                          boi_token_id=VOCAB - 4, eoi_token_id=VOCAB - 5, boa_token_id=VOCAB - 6,
                          eoa_token_index=VOCAB - 7)
    torch.manual_seed(0)
    model = Gemma4ForConditionalGeneration(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.copy_(torch.randn_like(p) * 0.2 + (1.0 if "norm" in name else 0.0))
    return model


@pytest.mark.parametrize("layout", ["dense", "per_layer"])
def test_the_kept_language_model_computes_what_the_multimodal_model_computes(layout, tmp_path):
    """A Gemma 4 multimodal folder as transformers saves it (the language model under
    model.language_model, the vision and audio towers and their embedders beside it): the
    language model kept is a Gemma4ForCausalLM of the text config, its parameters the whole
    model's language model's, its logits on text the whole model's (the final soft cap both
    apply); the towers' tensors are left out; it depth-prunes as any Gemma 4 model."""
    model = multimodal(LAYOUTS[layout](final_logit_softcapping=0.5,
                                       use_bidirectional_attention="vision"))
    # text tokens only (below the image, video, audio and their boundary tokens' ids)
    check_the_kept_language_model(model, tmp_path / "gemma4", Gemma4ForCausalLM, VOCAB - 7)


def check_the_kept_language_model(model, folder, text_class, below: int) -> None:
    """`model`, a multimodal model saved to `folder` and taken apart: what is kept is a
    `text_class` model of the whole model's language model's parameters, counted from its
    config.json alone, computing the whole model's logits on token ids below `below`, recorded
    as taken from the whole model's class, and depth-prunable."""
    from prunebench.checkpoint import text_part
    from prunebench.checkpoint.param_count import checkpoint_config

    model.save_pretrained(folder)
    assert text_part.take_text_part(folder) is True
    kept = load_model(folder)
    assert type(kept) is text_class
    language = sum(p.numel() for p in model.model.language_model.parameters())
    assert numel(kept) == count_params(checkpoint_config(folder)) == language
    x = torch.randint(3, below, (2, 12), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        expected = model(input_ids=x).logits
    torch.testing.assert_close(logits(kept, x), expected, rtol=0, atol=1e-5)
    record = json.loads((folder / text_part.RECORD).read_text())
    assert record["taken_from"] == type(model).__name__
    remove_blocks(kept, [1])
    assert numel(kept) == count_params(kept.config)


def test_lora_adapts_every_projection_a_block_holds(tmp_path):
    """LoRA on a depth-pruned model of the per-layer layout: an adapter on each projection the
    blocks hold (no v_proj, k_proj of a block that reuses another's keys), the logits unchanged
    by the adapters as initialised (their B zero), and one gradient step reaching them."""
    model = random_model(per_layer())
    remove_blocks(model, [0])
    # blocks 0-2 compute their keys (and values: no attention_k_eq_v here); 3 and 4 reuse
    names = check_lora_adapts(model, 3)
    assert {n.split(".")[-1] for n in names if ".layers.3." in n} == {
        "q_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}


def check_lora_adapts(model, computing: int) -> list[str]:
    """LoRA on LLaMA's seven projections of `model`, whose `computing` blocks compute their own
    keys and values: an adapter on each projection there is (a k_proj and v_proj in those
    blocks alone), the logits unchanged by the adapters as initialised (their B zero), and one
    gradient step reaching each; the adapted modules' names."""
    from prunebench.lora import attach_lora

    x = ids()
    before = logits(model, x)
    settings = {"target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                   "up_proj", "down_proj"], "r": 4, "alpha": 8, "dropout": 0.0,
                "seed": 0}
    peft_model, names, skipped = attach_lora(model, settings)
    assert not skipped
    assert sum(n.endswith("k_proj") for n in names) == sum(
        n.endswith("v_proj") for n in names) == computing
    torch.testing.assert_close(logits(peft_model, x), before, rtol=0, atol=0)
    peft_model.train()
    loss = peft_model(input_ids=x, labels=x).loss
    loss.backward()
    grads = [p.grad for n, p in peft_model.named_parameters() if "lora_B" in n]
    assert len(grads) == len(names) and all(g is not None and g.abs().sum() > 0 for g in grads)
    return names


def test_a_depth_pruned_model_is_benchmarked_and_its_perplexity_is_the_logits(tmp_path):
    """The benchmark sweep of a depth-pruned model of the per-layer layout runs on the hf and
    hf_static backends (the compiled one refused, naming them), and its perplexity over two
    windows of 64 tokens, each after a BOS, is exp of the mean negative log-likelihood of
    transformers' logits of those windows, computed here by hand."""
    import math

    from prunebench import benchmark as bench
    from prunebench.evaluate import perplexity

    model = random_model(per_layer())
    remove_blocks(model, [1])
    for backend in bench.BACKENDS:
        settings = bench.SweepSettings(input_tokens=5, output_tokens=4, batch_sizes=[2],
                                       warmup=0, repeats=1, device="cpu", dtype="float32",
                                       seed=0, backend=backend)
        if backend == "compiled":
            with pytest.raises(PrunebenchError, match="compiled backend.*hf or hf_static"):
                bench.sweep(model, None, settings)
            continue
        result = bench.sweep(model, None, settings)
        assert [row["status"] for row in result["rows"]] == ["ok"]
        assert result["params"] == count_params(model.config)
    stream = ids(1, 128, seed=6)[0]
    ppl = perplexity(model, stream, window=64, bos_token_id=1)
    assert ppl["scored_tokens"] == 128
    windows = torch.stack([torch.cat([torch.tensor([1]), stream[s:s + 64]]) for s in (0, 64)])
    scores = logits(model, windows)[:, :-1].log_softmax(-1)
    nll = -scores.gather(-1, windows[:, 1:, None]).mean().item()
    assert math.isclose(ppl["perplexity"], math.exp(nll), rel_tol=1e-5)
