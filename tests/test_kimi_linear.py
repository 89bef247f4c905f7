"""Kimi Linear (kimi_linear, KimiLinearForCausalLM; Moonshot's Kimi-Linear-48B-A3B): Kimi
Delta Attention blocks (KDA: q/k/v_proj, a depthwise conv1d, a low-rank forget gate of a
decay per channel, b_proj, a low-rank output gate and a gated norm) beside latent attention
blocks (DeepSeek-V3's MLA without rotation), as `layer_types` (or config.json's
linear_attn_config) says, DeepSeek-V3's experts after a dense prefix. Exact counts (against
transformers' meta model, config.json's values alone as Moonshot publishes them, and by hand);
depth pruning that removes blocks of either kind, each kept block reloading as the kind it was
(linear_attn_config's 1-based lists rewritten too), with the logits of transformers' model of
the kept blocks; the hf and hf_static backends' tokens of a depth-pruned model equal to
transformers' generate; the cache a step reads (latents and KDA states) equal to what
transformers' cache holds; the refusals (width methods, the compiled backend; a prune leaving
no latent attention block, its depth plans too). tests/test_families.py runs the shared
per-family tests on it."""

from __future__ import annotations

import copy
import itertools
import json

import pytest
import torch
from transformers import KimiLinearConfig, KimiLinearForCausalLM

from prunebench import PrunebenchError
from prunebench.benchmark.floors import kv_cache_bytes
from prunebench.checkpoint.param_count import (config_from_dict, count_params, kda_params,
                                               linear_attention_state, mla_params,
                                               sparse_mlp_blocks)
from prunebench.modeling import build_model, load_model, remove_blocks, save_model
from block_helpers import kept_blocks_state
from test_deepseek import ids, logits, numel, random_model
from test_families import VOCAB, in_allocated_memory
from test_granitemoehybrid import check_width_and_compiled_refused
from test_qwen3_next import (FULL, KINDS, LINEAR,
                             check_a_depth_pruned_reload_decodes_as_transformers,
                             check_cache_bytes, check_depth_plans_leave_a_block_of_each_kind)

pytestmark = pytest.mark.usefixtures("one_thread")


def small(**over) -> KimiLinearConfig:
    """A small Kimi Linear model of KINDS' five blocks: latent attention of 4 heads (queries
    8 + 4 wide, values 12, a latent of 16); KDA of 2 heads of 8, 3 taps; the first block's
    MLP dense (40), then 4 experts of 16 (2 a token) and a shared one; untied."""
    values = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=40,
                  moe_intermediate_size=16, num_hidden_layers=5, num_attention_heads=4,
                  num_key_value_heads=4, kv_lora_rank=16, q_lora_rank=None,
                  qk_rope_head_dim=4, qk_nope_head_dim=8, v_head_dim=12, num_local_experts=4,
                  num_experts_per_tok=2, n_group=1, topk_group=1, layer_types=list(KINDS),
                  linear_head_dim=8, linear_num_heads=2, linear_conv_kernel_dim=3,
                  max_position_embeddings=64, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    values.update(over)
    return KimiLinearConfig(**values)


def published(config) -> dict:
    """The model's config.json as Moonshot publishes Kimi-Linear-48B-A3B's: no layer_types
    or mlp_layer_types; the block kinds as linear_attn_config's 1-based kda_layers /
    full_attn_layers beside the KDA's heads, width and taps; the dense prefix by
    first_k_dense_replace."""
    raw = {k: v for k, v in json.loads(config.to_json_string()).items()
           if k not in ("layer_types", "mlp_layer_types", "linear_head_dim", "linear_num_heads",
                        "linear_conv_kernel_dim", "dtype", "transformers_version")}
    kinds = config.layer_types
    return {**raw, "first_k_dense_replace": config.mlp_layer_types.count("dense"),
            "linear_attn_config": {
                "head_dim": config.linear_head_dim, "num_heads": config.linear_num_heads,
                "short_conv_kernel_size": config.linear_conv_kernel_dim,
                "kda_layers": [i + 1 for i, kind in enumerate(kinds) if kind == LINEAR],
                "full_attn_layers": [i + 1 for i, kind in enumerate(kinds) if kind == FULL]}}


# --------------------------------------------------------------------------- counts

@pytest.mark.parametrize("q_rank,bias,kinds", list(itertools.product(
    [None, 20], [False, True], [KINDS, [FULL, LINEAR, LINEAR, LINEAR, LINEAR]])))
def test_counts_equal_transformers_parameters(q_rank, bias, kinds):
    """Queries through a rank or not, attention biases on or off, one or two latent attention
    blocks: the closed form, config_from_dict of the config.json values and of the published
    layout equal model.parameters() (untied: KimiLinearForCausalLM ties nothing, and a
    config.json saying otherwise is refused as read)."""
    config = small(q_lora_rank=q_rank, attention_bias=bias, layer_types=list(kinds))
    model = build_model(config, device="meta")
    assert numel(model) == count_params(config)
    assert count_params(config_from_dict(json.loads(config.to_json_string()))) == numel(model)
    ours = config_from_dict(published(config))
    assert ours.layer_types == config.layer_types
    assert ours.mlp_layer_types == config.mlp_layer_types
    assert count_params(ours) == numel(model)
    for i, kind in enumerate(kinds):
        mixer = model.model.layers[i].self_attn
        parts = sum(p.numel() for p in mixer.parameters())
        assert parts == (mla_params(config) if kind == FULL else kda_params(config))


def test_the_count_is_the_sum_of_each_part_by_hand():
    d, w, head, heads = 32, 2 * 8, 8, 2
    kda = (3 * d * w + 3 * w * 3  # q, k, v; the conv1d's kernels
           + d * head + head * w + w + heads  # the forget gate: f_a, f_b, dt_bias, A_log
           + d * heads  # b_proj
           + d * head + head * w + head  # the output gate g_a, g_b and the gated norm
           + w * d)  # o_proj
    mla = (d * 4 * 12  # q_proj (no rank): 4 heads of 8 + 4
           + d * (16 + 4) + 16 + 16 * 4 * (8 + 12)  # kv_a, its norm, kv_b
           + 4 * 12 * d)  # o_proj
    sparse = 4 * d + 4 * 3 * d * 16 + 3 * d * 16  # router, experts, the shared expert
    dense = 3 * d * 40
    blocks = [(mla if kind == FULL else kda) + (dense if i == 0 else sparse) + 2 * d
              for i, kind in enumerate(KINDS)]
    assert count_params(small()) == 2 * VOCAB * d + d + sum(blocks)


@pytest.mark.parametrize("blocks,dense", [(5, None), (9, 2), (3, 0)])
def test_a_config_json_without_block_kinds_reads_as_the_class_derives(blocks, dense):
    """A config.json with neither layer_types nor linear_attn_config's lists (KimiLinearConfig:
    full attention in blocks 4, 8, ...) nor mlp_layer_types (the first first_k_dense_replace
    blocks dense, 1 where left out): read without transformers, the kinds and the count are
    the model's. The KDA's heads and width come from linear_attn_config over the top-level
    keys, as the class reads them."""
    extra = {} if dense is None else {"first_k_dense_replace": dense}
    config = KimiLinearConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=blocks,
                              num_attention_heads=4, kv_lora_rank=16, qk_rope_head_dim=4,
                              qk_nope_head_dim=8, v_head_dim=12, moe_intermediate_size=16,
                              intermediate_size=40, num_local_experts=4,
                              linear_attn_config={"head_dim": 8, "num_heads": 2},
                              pad_token_id=0, **extra)
    values = {k: v for k, v in json.loads(config.to_json_string()).items()
              if k not in ("layer_types", "mlp_layer_types", "linear_head_dim",
                           "linear_num_heads")}
    ours = config_from_dict(values)
    assert ours.layer_types == config.layer_types
    assert ours.mlp_layer_types == config.mlp_layer_types
    assert (ours.linear_head_dim, ours.linear_num_heads) == (8, 2)
    assert count_params(ours) == numel(build_model(config, device="meta"))


# --------------------------------------------------------------------------- depth pruning

def kept_blocks_model(model, keep: list[int]) -> KimiLinearForCausalLM:
    """transformers' own model of `model`'s blocks `keep` (renumbered): a config of that depth
    whose layer_types and mlp_layer_types are the kept blocks' own, given those weights."""
    config = copy.deepcopy(model.config)
    config.num_hidden_layers = len(keep)
    config.layer_types = [config.layer_types[i] for i in keep]
    config.mlp_layer_types = [config.mlp_layer_types[i] for i in keep]
    kept = KimiLinearForCausalLM(config).eval()
    kept.load_state_dict(kept_blocks_state(model, keep), strict=True)
    return kept


def kinds_of(model) -> list[str]:
    """Each block's token mixer as built: a Kimi Delta Attention or latent attention."""
    return [LINEAR if hasattr(layer.self_attn, "forget_gate") else FULL
            for layer in model.model.layers]


@pytest.mark.parametrize("drop", [[0], [1], [3], [0, 4], [0, 2, 3]])
def test_depth_pruning_gives_transformers_model_of_the_kept_blocks(drop, tmp_path):
    """Removing KDA blocks, latent attention ones or the dense block: the pruned model, and its
    save reloaded by prunebench and by transformers, compute the logits of transformers' model
    of the kept blocks, each of the kind it was (layer_types and mlp_layer_types rewritten, as
    the config.json says)."""
    check_depth_pruning_and_reloads(random_model(small()), drop, kept_blocks_model,
                                    KimiLinearForCausalLM, tmp_path / "pruned")


def check_depth_pruning_and_reloads(model, drop, kept_blocks_model, model_class,
                                    folder) -> dict:
    """`model` (KINDS' blocks, block 0 dense) with blocks `drop` removed, and its save in
    `folder` reloaded by prunebench and by transformers' `model_class`: each block the kind it
    was, the logits of transformers' model of the kept blocks (`kept_blocks_model`); the
    config.json written, which the caller checks further."""
    keep = [i for i in range(5) if i not in drop]
    kinds, x = [KINDS[i] for i in keep], ids()
    expected = logits(kept_blocks_model(model, keep), x)
    remove_blocks(model, drop)
    assert model.config.layer_types == kinds == kinds_of(model)
    assert sparse_mlp_blocks(model.config) == [i != 0 for i in keep]
    assert numel(model) == count_params(model.config)
    assert torch.equal(logits(model, x), expected)
    save_model(model, None, folder)
    written = json.loads((folder / "config.json").read_text())
    assert written["layer_types"] == kinds
    assert written["mlp_layer_types"] == ["dense" if i == 0 else "sparse" for i in keep]
    again = load_model(folder)
    assert kinds_of(again) == kinds
    assert torch.equal(logits(again, x), expected)
    theirs = in_allocated_memory(model_class.from_pretrained(folder,
                                                             dtype=torch.float32)).eval()
    assert kinds_of(theirs) == kinds
    assert torch.equal(logits(theirs, x), expected)
    return written


@pytest.mark.parametrize("drop", [[0], [1, 2], [4]])
def test_a_published_config_json_is_rewritten_so_every_reader_keeps_the_kinds(drop, tmp_path):
    """A model read from the published layout (the kinds in linear_attn_config alone): the
    pruned config.json's linear_attn_config lists the kept blocks by their new 1-based
    numbers, so that a reader of those lists (as KimiLinearConfig is without layer_types)
    builds each kept block as the kind it was."""
    raw = published(small())
    config = KimiLinearConfig(**raw)
    assert config.layer_types == KINDS
    model = random_model(config)
    keep = [i for i in range(5) if i not in drop]
    expected = logits(kept_blocks_model(model, keep), ids())
    remove_blocks(model, drop)
    lists = model.config.linear_attn_config
    kept_kinds = [KINDS[i] for i in keep]
    assert lists["kda_layers"] == [n + 1 for n, k in enumerate(kept_kinds) if k == LINEAR]
    assert lists["full_attn_layers"] == [n + 1 for n, k in enumerate(kept_kinds) if k == FULL]
    values = json.loads(model.config.to_json_string())
    values.pop("layer_types")
    again = KimiLinearConfig(**values)
    assert again.layer_types == kept_kinds
    assert config_from_dict(values).layer_types == kept_kinds
    theirs = KimiLinearForCausalLM(again).eval()
    theirs.load_state_dict(model.state_dict(), strict=True)
    assert torch.equal(logits(theirs, ids()), expected)


def test_removing_every_latent_attention_block_is_refused_before_anything_changes():
    """Without a latent attention block transformers' cache cannot size the masks (5.17: its
    sequence length; 5.25: its mask sizes): a cached forward stops. The removal is refused,
    naming those blocks and what to do; the model is left whole."""
    check_removing_every_latent_attention_block_refused(random_model(small()), "Kimi Linear",
                                                        kept_blocks_model)


def check_removing_every_latent_attention_block_refused(model, name: str,
                                                        kept_blocks_model) -> None:
    """`model` (KINDS' blocks) refuses the removal of its latent attention blocks 1 and 4,
    naming them as a `name` model's, and is left whole; transformers' model of the blocks left
    (`kept_blocks_model`) stops at a cached forward."""
    x = ids()
    before = logits(model, x)
    with pytest.raises(PrunebenchError, match=rf"removing blocks \[1, 4\] would leave this "
                                              rf"{name} model Kimi Delta Attention blocks "
                                              r"only \(its full-attention blocks are \[1, 4\]\)"):
        remove_blocks(model, [4, 1])
    assert model.config.num_hidden_layers == 5 and model.config.layer_types == KINDS
    assert torch.equal(logits(model, x), before)
    with pytest.raises(ValueError, match="only contain LinearAttention layers"):
        kept = kept_blocks_model(model, [0, 2, 3])
        with torch.no_grad():
            kept(input_ids=x, use_cache=True)


def test_depth_plans_leave_a_latent_attention_block():
    """Its depth plans (methods.sizing.check_kinds_left) are refused exactly where every choice
    of the removed blocks would leave no latent attention block (its full-attention kind:
    param_count.depth_needed_kinds), before any scoring; a plan that may keep one stands."""
    check_depth_plans_leave_a_block_of_each_kind(random_model(small()))


def test_removing_every_kda_block_leaves_a_model_transformers_runs(tmp_path):
    """Latent attention blocks alone: KimiLinearConfig and its cache accept them (no refusal
    needed), and the hf backends decode the reload as transformers' generate."""
    check_a_depth_pruned_reload_decodes_as_transformers(
        random_model(small()), [0, 2, 3], KimiLinearForCausalLM, tmp_path / "pruned")


# --------------------------------------------------------------------------- backends

@pytest.mark.parametrize("drop", [[0], [4], [2, 3]])
def test_the_hf_backends_decode_a_depth_pruned_model_as_transformers_generate(drop, tmp_path):
    """A depth-pruned model (each block's cache entry its new index, its KDA's conv and
    recurrent states too) reloaded: the hf backend's tokens equal transformers' generate of
    its own loading of the checkpoint, and greedy decoding without a cache wherever that
    choice is certain; so do hf_static's."""
    check_a_depth_pruned_reload_decodes_as_transformers(
        random_model(small()), drop, KimiLinearForCausalLM, tmp_path / "pruned")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_cache_a_step_reads_is_what_transformers_cache_holds(dtype):
    """kv_cache_bytes: each latent attention block's latent and shared key per position, and
    each KDA block's state of one size whatever the length (its conv state in the model's
    dtype, its recurrent state in float32), equal to what transformers' cache holds after a
    prefill; a depth-pruned model's too."""
    check_cache_bytes(random_model(small()).to(dtype), dtype)


def test_the_kda_state_is_in_the_floor():
    """Without the KDA blocks' state the floor would be the latents' alone: the state is
    counted (its conv and recurrent parts by hand)."""
    config = small()
    conv, recurrent = linear_attention_state(config)
    assert (conv, recurrent) == (3 * 16 * 3, 2 * 8 * 8)
    latents = 2 * 7 * (16 + 4) * 2  # two latent attention blocks, 7 positions, fp16
    assert kv_cache_bytes(config, 1, 7, torch.float16) == latents + 3 * (conv * 2 + recurrent * 4)


# --------------------------------------------------------------------------- refusals

def test_width_methods_and_the_compiled_backend_refuse_it():
    check_width_and_compiled_refused(small(), r"mixture-of-experts family 'kimi_linear'")


def test_the_start_refuses_the_compiled_backend(tmp_path):
    from prunebench.plan.checks import moe_problems

    small().save_pretrained(tmp_path / "m")
    runs = {"models": {"m": {"source": f"local:{tmp_path / 'm'}", "variants": ["dense"]}},
            "benchmark": {"backends": ["hf", "compiled"]}}
    problem, = moe_problems(runs, tmp_path / "nowhere")
    assert problem.startswith("models.m (kimi_linear) ")


@pytest.mark.parametrize("change,refused", [
    ({"tie_word_embeddings": True}, "sets tie_word_embeddings, but KimiLinearForCausalLM ties "
                                    "nothing"),
    # (the latent attention families' check: keys and values expanded for every query head)
    ({"num_key_value_heads": 2}, "gives num_attention_heads=4 and num_key_value_heads=2: "
                                 "DeepSeek's latent attention expands"),
    # Moonshot's own code, which its published checkpoint names (and whose tensor layout it
    # holds): never run, the checkpoint refused
    ({"auto_map": {"AutoConfig": "configuration_kimi.KimiLinearConfig",
                   "AutoModelForCausalLM": "modeling_kimi.KimiLinearForCausalLM"}},
     r"model_type 'kimi_linear' with custom code \(auto_map\)"),
    ({"linear_attn_config": {"kda_layers": [1, 3, 4], "full_attn_layers": [2, 6]}},
     r"lists blocks \[6\] in linear_attn_config"),
    ({"linear_attn_config": {"kda_layers": [1, 3], "full_attn_layers": [2, 5]}},
     r"gives block kinds \['linear_attention', 'full_attention', 'linear_attention', None, "),
    ({"linear_attn_config": {"kda_layers": [1, 2, 3, 4, 5], "full_attn_layers": []}},
     "gives no 'full_attention' \\(latent attention\\) block"),
    ({"layer_types": [LINEAR, FULL, LINEAR, "sliding_attention", FULL]},
     "KimiLinearDecoderLayer builds a Kimi Delta Attention"),
])
def test_what_transformers_does_not_build_is_refused_when_read(change, refused, tmp_path):
    """A config.json (the published layout, without layer_types) that ties the embeddings,
    has fewer KV heads, lists blocks past the last or leaves one out, gives no latent attention
    block or names Moonshot's own code is refused as read, naming it."""
    from prunebench.checkpoint.param_count import checked_config_json

    raw = {**published(small()), **change}
    (tmp_path / "config.json").write_text(json.dumps(raw))
    with pytest.raises(PrunebenchError, match=refused):
        checked_config_json(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(published(small())))
    assert checked_config_json(tmp_path)["model_type"] == "kimi_linear"


def test_transformers_builds_an_untied_head_whatever_the_config_says():
    """Why tied embeddings are refused: KimiLinearForCausalLM's head stays its own tensor."""
    model = KimiLinearForCausalLM(small(tie_word_embeddings=True))
    assert model.lm_head.weight.data_ptr() != model.model.embed_tokens.weight.data_ptr()
