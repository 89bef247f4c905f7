"""Granite 4.0 (granitemoehybrid, GraniteMoeHybridForCausalLM): the attention-only dense models
(granite-4.0-micro's layout: every block attention, its MLP the dense `shared_mlp` with gate and
up packed in `input_linear`) as a full family, and the hybrid H models (Mamba-2 blocks beside
attention ones, with or without experts) by depth pruning and the hf / hf_static backends.

Exact counts against transformers' meta models, config.json's values alone (the published
block names "mamba" / "attention") and the arithmetic by hand (the Mamba-2 mixer's closed
form); width surgery of the packed [gate; up] rows checked by silent channels and by
transformers' own class of the pruned widths given the rows that should be kept; the compiled
decoder on a width-pruned model; depth pruning of either kind of block equal to transformers'
model of the kept blocks, reloaded by prunebench and by transformers; the hf and hf_static
backends' tokens of a depth-pruned hybrid model equal to transformers' generate and to greedy
decoding without a cache; kv_cache_bytes equal to what transformers' cache holds; a published
folder (experts as block_sparse_moe.input_linear / output_linear / router.layer) loaded as
transformers loads it; the refusals (tests/test_families.py and tests/test_moe.py run the
shared per-family and mixture-of-experts tests on both layouts too)."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from transformers import AutoModelForCausalLM, GraniteMoeHybridConfig, GraniteMoeHybridForCausalLM

from prunebench import FamilyUnsupported, PrunebenchError
from prunebench.benchmark.compiled import StaticDecoder
from prunebench.checkpoint.param_count import (checked_config_json, config_from_dict,
                                               count_params, is_moe, linear_attention_blocks,
                                               mamba_params, refuse_moe)
from prunebench.methods import surgery
from prunebench.modeling import build_model, load_model, remove_blocks, save_model
from block_helpers import kept_blocks_state, prune_every_block_uniformly, sliced_state
from test_deepseek import ids, logits, numel, random_model
from test_families import VOCAB, greedy_tokens_agree, in_allocated_memory
from test_glm4_moe import check_loads_as_transformers
from test_qwen3_next import (check_a_depth_pruned_reload_decodes_as_transformers,
                             check_cache_bytes)

pytestmark = pytest.mark.usefixtures("one_thread")

MAMBA, ATTENTION = "linear_attention", "full_attention"
# Five blocks, two of them attention (the published H models: one in ten, none last).
KINDS = ["mamba", "attention", "mamba", "mamba", "attention"]


def small(**over) -> GraniteMoeHybridConfig:
    """A small Granite 4.0-H: attention of 4 query heads of 8 on 2 KV heads, no rotary (as the
    H models publish it); Mamba-2 of 4 heads of 16 in 2 groups with a state of 8; 4 experts of
    16, 2 a token, beside the shared MLP of 24; Granite's scalars (no powers of two); untied."""
    values = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=16,
                  shared_intermediate_size=24, num_hidden_layers=5, num_attention_heads=4,
                  num_key_value_heads=2, layer_types=KINDS, position_embedding_type=None,
                  num_local_experts=4, num_experts_per_tok=2, mamba_n_heads=4, mamba_n_groups=2,
                  mamba_d_state=8, mamba_d_conv=4, mamba_expand=2, mamba_chunk_size=4,
                  embedding_multiplier=12.0, attention_multiplier=0.21,
                  residual_multiplier=0.22, logits_scaling=7.3, max_position_embeddings=128,
                  bos_token_id=1, eos_token_id=2, pad_token_id=0)
    return GraniteMoeHybridConfig(**{**values, **over})


def dense(**over) -> GraniteMoeHybridConfig:
    """A small attention-only dense Granite 4.0 (granite-4.0-micro's layout): every block
    attention with rotary positions, its MLP the shared one (of 40 channels), no experts."""
    return small(**{"layer_types": ["attention"] * 4, "num_hidden_layers": 4,
                    "num_local_experts": 0, "shared_intermediate_size": 40,
                    "position_embedding_type": "rope", **over})


def theirs(config, state) -> GraniteMoeHybridForCausalLM:
    """transformers' own model of `config` given the tensors `state`, float32."""
    model = GraniteMoeHybridForCausalLM(config).eval()
    model.load_state_dict(state, strict=True)
    return model


# --------------------------------------------------------------------------- counts

@pytest.mark.parametrize("over", [
    {}, {"tie_word_embeddings": True, "attention_bias": True},
    {"num_local_experts": 0}, {"mamba_proj_bias": True, "mamba_conv_bias": False},
    {"mamba_d_head": 32, "mamba_n_heads": 2, "mamba_n_groups": 1}])
def test_hybrid_counts_equal_transformers_parameters(over):
    """Mamba-2 blocks (their in_proj / conv1d / out_proj biases as the config says, any head
    width), attention blocks, experts or none, tied or not: the closed form, and
    config_from_dict of the published config.json values ("mamba" / "attention" as the block
    names), equal model.parameters() of transformers' meta model."""
    config = small(**over)
    meta = numel(build_model(config, device="meta"))
    assert count_params(config) == meta
    published = {**json.loads(config.to_json_string()), "layer_types": KINDS}
    assert count_params(config_from_dict(published)) == meta
    assert is_moe(config_from_dict(published)) == (config.num_local_experts > 0)


@pytest.mark.parametrize("over", [{}, {"tie_word_embeddings": True, "attention_bias": True}])
def test_dense_counts_equal_transformers_parameters(over):
    config = dense(**over)
    assert count_params(config) == numel(build_model(config, device="meta"))
    assert not is_moe(config) and not any(linear_attention_blocks(config))


def test_the_mamba_mixer_counted_by_hand():
    """small()'s Mamba-2 mixer: inner width 2 x 32 = 64, conv channels 64 + 2 x 2 x 8 = 96;
    in_proj 32 x (64 + 96 + 4), conv1d 96 x 4 and its bias 96, dt_bias / A_log / D 4 each, the
    gated norm 64, out_proj 64 x 32; no projection biases."""
    assert mamba_params(small()) == 32 * 164 + 96 * 4 + 96 + 3 * 4 + 64 + 64 * 32 == 7852
    mixer = build_model(small(), device="meta").model.layers[0].mamba
    assert numel(mixer) == 7852


def test_a_config_json_without_layer_types_is_all_mamba_and_refused(tmp_path):
    """GraniteMoeHybridConfig builds a Mamba-2 mixer in every block where config.json gives no
    layer_types, a model whose cache transformers cannot size: refused when read, as a kind
    transformers runs no mixer for is."""
    values = json.loads(small().to_json_string())
    del values["layer_types"]
    assert config_from_dict(values).layer_types == [MAMBA] * 5
    (tmp_path / "config.json").write_text(json.dumps(values))
    with pytest.raises(PrunebenchError, match="gives no 'attention' block .*all 'mamba'"):
        checked_config_json(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**values, "layer_types": [
        "mamba", "attention", "sliding_attention", "mamba", "attention"]}))
    with pytest.raises(PrunebenchError, match=r"gives layer_types \['sliding_attention'\]"):
        checked_config_json(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**values, "layer_types": KINDS}))
    checked_config_json(tmp_path)


# --------------------------------------------------------------------------- width (dense)

def test_removing_silent_mlp_channels_keeps_the_logits():
    """Channels whose output_linear columns are zero add nothing: removing them (their gate
    rows and their up rows, half the packed input_linear apart) leaves the logits as they
    were; had the wrong up rows gone, the kept channels would change."""
    model = random_model(dense())
    drop = [0, 7, 21, 39]
    with torch.no_grad():
        model.model.layers[2].shared_mlp.output_linear.weight[:, drop] = 0
    x = ids()
    before = logits(model, x)
    surgery.remove_channels(model, 2, drop)
    assert model.model.layers[2].shared_mlp.input_linear.weight.shape == (2 * 36, 32)
    assert numel(model) == count_params(model.config)
    torch.testing.assert_close(logits(model, x), before, rtol=0, atol=1e-5)


def test_a_uniformly_width_pruned_model_computes_as_transformers_class_of_its_widths():
    """Every block loses KV group 0 (query heads 0 and 1) and channels 3..12: prunebench's
    model computes what transformers' GraniteMoeHybridForCausalLM of 2 query heads, 1 KV head
    and 30 channels computes given the rows the test keeps itself (input_linear's gate rows
    and up rows of the kept channels, q/k/v/o's of the kept heads, their biases)."""
    model = random_model(dense(attention_bias=True))
    hd = 8
    original, q_rows, kv_rows, keep = prune_every_block_uniformly(model, list(range(3, 13)), hd)
    state = sliced_state(original, rows={"q_proj": q_rows, "k_proj": kv_rows,
                                         "v_proj": kv_rows,
                                         "input_linear": keep + [40 + c for c in keep]},
                         columns={"o_proj": q_rows, "output_linear": keep})
    reference = theirs(dense(attention_bias=True, num_attention_heads=2, num_key_value_heads=1,
                             shared_intermediate_size=30, head_dim=hd), state)
    x = ids()
    torch.testing.assert_close(logits(model, x), logits(reference, x), rtol=0, atol=1e-5)
    assert numel(model) == numel(reference) == count_params(model.config)


@pytest.mark.parametrize("fuse", [True, False])
def test_the_compiled_decoder_decodes_a_width_pruned_model_as_transformers(fuse, tmp_path):
    """The compiled decoder (the packed input_linear fused with the q/k/v rows' block, Granite's
    scalars) on a width-pruned model reloaded: its prefill logits equal transformers' forward,
    and its greedy tokens, and hf_static's, equal HF generate's where HF's choice is
    certain."""
    model = random_model(dense(attention_bias=True))
    surgery.remove_kv_groups(model, 1, [1])
    surgery.remove_channels(model, 2, range(0, 40, 3))
    save_model(model, None, tmp_path / "width")
    reloaded = load_model(tmp_path / "width")
    if fuse:
        greedy_tokens_agree(reloaded)
        return
    prompt = ids(2, 6, seed=2)
    decoder = StaticDecoder(reloaded, 2, 14, mode="eager", fuse=False)
    torch.testing.assert_close(decoder.prefill_logits(prompt), logits(reloaded, prompt)[:, -1],
                               rtol=0, atol=1e-4)


def test_the_compiled_backend_refuses_a_model_without_rotary_positions():
    model = random_model(dense(position_embedding_type=None))
    with pytest.raises(PrunebenchError, match="compiled backend does not support this "
                                              "'granitemoehybrid' model: its position_embedding_"
                                              "type is None.*hf or hf_static backend"):
        StaticDecoder(model, 1, 8, mode="eager")


# --------------------------------------------------------------------------- depth (hybrid)

def kept_blocks_model(model, keep: list[int]) -> GraniteMoeHybridForCausalLM:
    """transformers' own model of `model`'s blocks `keep` (renumbered): a config of that depth
    whose layer_types are the kept blocks' own, given those weights."""
    config = copy.deepcopy(model.config)
    config.num_hidden_layers = len(keep)
    config.layer_types = [config.layer_types[i] for i in keep]
    return theirs(config, kept_blocks_state(model, keep))


def kinds_of(model) -> list[str]:
    """Each block's token mixer as built: a Mamba-2 mixer or attention."""
    return [MAMBA if layer.mamba is not None else ATTENTION for layer in model.model.layers]


@pytest.mark.parametrize("experts", [4, 0])
@pytest.mark.parametrize("drop", [[0], [1], [2, 4], [0, 3]])
def test_depth_pruning_keeps_each_blocks_kind_and_computes_as_transformers(experts, drop,
                                                                           tmp_path):
    """Removing Mamba-2 or attention blocks: layer_types loses the removed blocks' entries,
    every kept block's mixer takes its new index (the cache's), the model computes what
    transformers' model of the kept blocks computes, and it reloads so in prunebench and in
    transformers (AutoModelForCausalLM)."""
    model = random_model(small(num_local_experts=experts))
    keep = [i for i in range(5) if i not in drop]
    reference = kept_blocks_model(model, keep)
    remove_blocks(model, drop)
    kinds = [[MAMBA, ATTENTION, MAMBA, MAMBA, ATTENTION][i] for i in keep]
    assert model.config.layer_types == kinds == kinds_of(model)
    for new, layer in enumerate(model.model.layers):
        assert (layer.mamba or layer.self_attn).layer_idx == new
    x = ids()
    assert torch.equal(logits(model, x), logits(reference, x))
    assert numel(model) == count_params(model.config)
    save_model(model, None, tmp_path / "depth")
    ours = load_model(tmp_path / "depth")
    loaded = in_allocated_memory(AutoModelForCausalLM.from_pretrained(
        tmp_path / "depth", dtype=torch.float32)).eval()
    assert kinds_of(ours) == kinds_of(loaded) == kinds
    assert torch.equal(logits(ours, x), logits(model, x))
    assert torch.equal(logits(loaded, x), logits(model, x))


def test_removing_every_attention_block_is_refused_before_anything_changes():
    """Without an attention block transformers' cache cannot size the masks (5.17's and
    5.25's ValueError): the removal is refused, naming the attention blocks and what to do;
    the model is left whole."""
    model = random_model(small())
    x = ids()
    before = logits(model, x)
    with pytest.raises(PrunebenchError, match=r"removing blocks \[1, 4\] would leave this "
                                              r"Granite 4.0 model Mamba-2 blocks only \(its "
                                              r"full-attention blocks are \[1, 4\]\).*"
                                              "protect_last where the model's last block is"):
        remove_blocks(model, [4, 1])
    assert model.config.num_hidden_layers == 5 and model.config.layer_types == [
        MAMBA, ATTENTION, MAMBA, MAMBA, ATTENTION]
    assert torch.equal(logits(model, x), before)
    kept = kept_blocks_model(model, [0, 2, 3])
    with pytest.raises(ValueError), torch.no_grad():  # what transformers does with such a model
        kept.generate(input_ids=x, max_new_tokens=2, do_sample=False, pad_token_id=0)


@pytest.mark.parametrize("drop", [[0], [4], [2, 3]])
def test_the_hf_backends_decode_a_depth_pruned_model_as_transformers_generate(drop, tmp_path):
    """A depth-pruned hybrid model reloaded (its blocks renumbered: each Mamba-2 mixer's conv
    and SSM states under its new index): the hf backend's tokens equal transformers' generate
    of its own loading of the checkpoint, and greedy decoding without a cache wherever that
    choice is certain; so do hf_static's (transformers' static cache keeps the Mamba-2 states
    as its dynamic one does). The Mamba-2 mixer runs transformers' PyTorch fallback on the
    CPU (no CUDA kernel)."""
    check_a_depth_pruned_reload_decodes_as_transformers(
        random_model(small()), drop, GraniteMoeHybridForCausalLM, tmp_path / "pruned")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_cache_a_step_reads_is_what_transformers_cache_holds(dtype):
    """kv_cache_bytes: the attention blocks' keys and values of the positions seen, and each
    Mamba-2 block's state of one size whatever the length (its conv state in the model's
    dtype, its SSM state in float32), equal to the tensors transformers' cache holds after a
    prefill; a depth-pruned model's too."""
    check_cache_bytes(random_model(small()).to(dtype), dtype)


def test_a_folder_transformers_saved_loads_as_transformers_loads_it(tmp_path):
    """A folder of transformers' save_pretrained (the experts as Granite publishes them, under
    block_sparse_moe's input_linear / output_linear / router.layer where the version writes
    them so): prunebench's load holds the tensors transformers' from_pretrained holds and
    computes its logits."""
    model = random_model(small())
    GraniteMoeHybridForCausalLM.save_pretrained(model, tmp_path / "hub")
    ours = load_model(tmp_path / "hub")
    check_loads_as_transformers(ours, tmp_path / "hub")
    x = ids()
    assert torch.equal(logits(ours, x), logits(model, x))


# --------------------------------------------------------------------------- refusals

@pytest.mark.parametrize("experts", [4, 0])
def test_width_methods_and_the_compiled_backend_refuse_hybrid_models(experts):
    """A hybrid model, with experts or without (granite-4.0-h-micro's dense MLPs): its Mamba-2
    blocks hold no heads, its experts no channels prunebench cuts; width surgery, the width
    methods' plans and the compiled decoder refuse it, naming the depth methods and the hf
    backends; the attention-only dense model is refused none of them."""
    config = small(num_local_experts=experts)
    what = "mixture-of-experts family 'granitemoehybrid'" if experts else (
        r"this 'granitemoehybrid' model .*with blocks of another token mixer than softmax "
        r"attention \(blocks \[0, 2, 3\]: Mamba-2\)")
    check_width_and_compiled_refused(config, what)
    refuse_moe(dense(), "flap (width pruning)")  # no refusal


def check_width_and_compiled_refused(config, what: str) -> None:
    """A width method's plan (FLAP's), width surgery and the compiled decoder refuse a model of
    `config`, saying `what` (a regex) and, in the plan's message, the depth methods and the hf
    backends."""
    with pytest.raises(FamilyUnsupported, match=f"flap .*{what}.*depth method.*hf or hf_static"):
        refuse_moe(config, "flap (width pruning)")
    model = random_model(config)
    with pytest.raises(FamilyUnsupported, match=f"width surgery.*{what}"):
        surgery.remove_channels(model, 1, [0])
    with pytest.raises(FamilyUnsupported, match=f"compiled backend.*{what}"):
        StaticDecoder(model, 1, 8, mode="eager")


@pytest.mark.parametrize("experts", [4, 0])
def test_the_start_refuses_the_compiled_backend_for_a_hybrid_model(experts, tmp_path):
    """A hybrid model whose config is known at the start (here a local folder) is told of the
    compiled backend there, with experts or without, not by its benchmark job; the
    attention-only dense model is not."""
    from prunebench.plan.checks import moe_problems

    for name, config in (("hybrid", small(num_local_experts=experts)), ("dense", dense())):
        config.save_pretrained(tmp_path / name)
    runs = {"models": {name: {"source": f"local:{tmp_path / name}", "variants": ["dense"]}
                       for name in ("hybrid", "dense")},
            "benchmark": {"backends": ["hf", "compiled"]}}
    problem, = moe_problems(runs, tmp_path / "nowhere")
    assert problem.startswith("models.hybrid (granitemoehybrid) ")
    assert ("is a mixture of experts" if experts else "Mamba-2") in problem
    assert "take 'compiled' out of benchmark.backends (hf and hf_static run it)" in problem
