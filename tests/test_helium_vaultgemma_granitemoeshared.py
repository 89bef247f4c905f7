"""Helium (helium, HeliumForCausalLM; helium-1-2b, helium-1-preview-2b), VaultGemma (vaultgemma,
VaultGemmaForCausalLM; vaultgemma-1b) and GraniteMoE-Shared (granitemoeshared,
GraniteMoeSharedForCausalLM): the pieces of their own.

Helium: exact counts against transformers' meta models, config.json's values alone and by hand;
its whole heads rotating in adjacent pairs and its norms weighing the float32 statistics, each
changing the logits; a config.json whose heads do not fill the hidden size (o_proj reads
hidden_size inputs) refused, as transformers cannot run it; silent heads removed with the
logits kept; a uniformly channel-pruned model equal to transformers' class of its width given
the rows the test keeps; depth pruning equal to transformers' model of the kept blocks, saved
and reloaded by prunebench and by transformers, the hf and hf_static tokens transformers'; the
compiled decoder on dense and width-pruned models, fused and not; the known shape.

VaultGemma: counts (two norms a block, where Gemma-2 has four); the compiled decoder reading
its norm before the MLP under Gemma-2's name without Gemma-2's output norms, its soft caps and
windows; a uniformly width-pruned model equal to transformers' class of its widths; depth
pruning keeping each block's window, equal to transformers' model of the kept blocks and to
transformers' reload of the saved checkpoint.

GraniteMoE-Shared: counts with and without the shared MLP; the shared MLP changing the logits;
a folder transformers saved (the experts under their published names) loaded as transformers
loads it; depth pruning taking each removed block's shared MLP with it, reloaded by prunebench
and by transformers, the hf and hf_static tokens transformers'; the refusals of a mixture of
experts (width methods, the compiled backend, LoRA on the experts' projections).

tests/test_families.py runs the shared per-family tests on the three (every method where it
applies, save and reload, every backend, evaluation, LoRA); benchmarks/family_check.py decodes
them on a GPU."""

from __future__ import annotations

import copy
import importlib
import json

import pytest
import torch
import transformers
from transformers import (GraniteMoeSharedConfig, GraniteMoeSharedForCausalLM, HeliumConfig,
                          HeliumForCausalLM, VaultGemmaConfig, VaultGemmaForCausalLM)

from prunebench import PrunebenchError
from prunebench.benchmark.compiled import sliding_windows
from prunebench.checkpoint.architectures import architecture_config
from prunebench.checkpoint.param_count import (block_param_count, checked_config_json,
                                               checkpoint_config, config_from_dict,
                                               count_params, default_layer_shape)
from prunebench.methods import surgery
from prunebench.modeling import count_params_meta, load_config, load_model, remove_blocks, save_model
from block_helpers import kept_blocks_state, prune_every_block_uniformly, sliced_state
from test_cohere import decoder_gives_transformers_logits, decodes_as_generate_does
from test_families import CLASSES as FAMILY_CLASSES
from test_families import (FAMILIES, _write_config, family_model, ids, in_allocated_memory,
                           llama_rotary, logits, numel)
from test_glm4_moe import check_loads_as_transformers, check_refused_as_a_mixture_of_experts
from test_qwen3_next import check_a_depth_pruned_reload_decodes_as_transformers
from test_ungated_mlp import width_pruned

pytestmark = pytest.mark.usefixtures("one_thread")

# 6 query heads on 2 KV heads; Helium's heads fill the hidden size (6 x 8 = 48).
SHAPE = dict(vocab_size=97, hidden_size=48, intermediate_size=56, num_hidden_layers=3,
             num_attention_heads=6, num_key_value_heads=2, head_dim=8)


def family_classes(name: str) -> tuple[type, type]:
    """transformers' config and model classes of a family of tests/test_families.py (its
    tiny config's class, and the class it names for the family): what the checks below build
    (tests/test_dots1_flex_olmo.py's families too)."""
    return type(FAMILIES[name]()), getattr(transformers, FAMILY_CLASSES[name])


def meta_count(name: str, config) -> int:
    """Parameters of transformers' own class of `config`, built on the meta device."""
    with torch.device("meta"):
        return sum(p.numel() for p in family_classes(name)[1](config).parameters())


def check_counts(name: str, values: dict) -> None:
    """count_params (of the config, and of its config.json values alone) equals transformers'
    class's parameters, and so does the count of prunebench's meta model."""
    config = family_classes(name)[0](**{**SHAPE, **values})
    reference = meta_count(name, config)
    assert count_params(config) == count_params_meta(config) == reference
    assert count_params(config_from_dict({"model_type": name, **SHAPE, **values})) == reference
    raw = {k: v for k, v in config.to_dict().items() if k != "dtype"}
    assert count_params(config_from_dict(raw)) == reference


# VaultGemma's soft-capped attention needs eager attention, which transformers 5.17 does not
# pick by itself (it builds SDPA, dropping the cap without a word; prunebench builds it eagerly,
# as Gemma-2's): asked for wherever transformers builds or loads one here (the other families
# attend as prunebench's models do, by transformers' own choice).
EAGER = {"attn_implementation": "eager"}


def attention(name: str) -> dict:
    return EAGER if name == "vaultgemma" else {}


def theirs(name: str, values: dict, state: dict) -> torch.nn.Module:
    """transformers' own class of the config `values` (float32) holding exactly `state`."""
    config_class, model_class = family_classes(name)
    config = config_class.from_dict(values, **attention(name))
    with torch.device("meta"):
        model = model_class(config)
    model.load_state_dict(state, strict=True, assign=True)
    # (buffers no checkpoint holds, made again on the CPU as transformers makes them: the
    # rotary tables, VaultGemma's embedding scale)
    model.model.rotary_emb = type(model.model.rotary_emb)(config=config)
    # (GraniteMoE-SWA's one a rotary base, each of the config copy it keeps)
    for i, rotary in enumerate(getattr(model.model, "rotary_embs", None) or ()):
        model.model.rotary_embs[i] = type(rotary)(config=rotary.config)
    scale = getattr(model.model.embed_tokens, "scalar_embed_scale", None)
    if scale is not None:
        model.model.embed_tokens.embed_scale = torch.tensor(scale)
    for layer in model.model.layers:  # (Ergo's global blocks' sqrt(global_attention_scale))
        if getattr(getattr(layer, "self_attn", None), "qk_scale", None) is not None:
            layer.self_attn.qk_scale = torch.tensor(model.config.global_attention_scale ** 0.5)
    if getattr(model.config, "tie_word_embeddings", False):  # (ErgoConfig has no such key)
        model.tie_weights()
    return model.float().eval()


def check_depth_pruning(name: str, drop: list[int], **changes) -> None:
    """`name`'s tiny model with blocks `drop` removed computes what transformers' model of the
    kept blocks computes (their config values as prunebench's config.json says them)."""
    dense = family_model(name)
    model = copy.deepcopy(dense)
    remove_blocks(model, drop)
    keep = [b for b in range(4) if b not in drop]
    values = {**FAMILIES[name]().to_dict(), "num_hidden_layers": len(keep), **changes}
    reference = theirs(name, values, kept_blocks_state(dense, keep))
    x = ids(2, 24)
    torch.testing.assert_close(logits(model, x), logits(reference, x), rtol=0, atol=1e-6)
    assert numel(model) == count_params(model.config) == numel(reference)


# --------------------------------------------------------------------------- Helium

@pytest.mark.parametrize("values", [{}, {"attention_bias": True}, {"mlp_bias": True},
                                    {"tie_word_embeddings": True, "num_key_value_heads": 6}])
def test_helium_counts_equal_transformers_parameters(values):
    check_counts("helium", values)


def test_helium_block_counted_by_hand():
    """One block: q/k/v of 6 and 2 heads of 8 with biases (attention_bias), o_proj hidden x
    hidden without one, gate/up/down with biases (mlp_bias), two RMSNorms of hidden."""
    config = HeliumConfig(**SHAPE, attention_bias=True, mlp_bias=True)
    d, q, kv, m = 48, 6 * 8, 2 * 8, 56
    by_hand = (d * q + q) + 2 * (d * kv + kv) + d * d + 2 * (d * m + m) + (m * d + d) + 2 * d
    assert block_param_count(config, default_layer_shape(config)) == by_hand == 14_544
    assert count_params(config) == 2 * 97 * d + d + 3 * by_hand


def test_the_known_helium_shape_counts_what_transformers_builds():
    """helium-1-preview-2b's config.json (HeliumConfig's own defaults but the rotary base): 24
    blocks of 20 heads of 128 (MHA) and an MLP of 7040 on hidden 2560, untied, by hand."""
    config = architecture_config("helium-1-preview-2b")
    d, m, blocks = 2560, 7040, 24
    by_hand = 2 * 48000 * d + d + blocks * (4 * d * d + 3 * d * m + 2 * d)
    assert count_params(config) == by_hand == meta_count("helium", config) == 2_172_643_840


def test_helium_rotates_in_adjacent_pairs_and_weighs_its_norms_in_float32():
    """Each of Helium's own pieces changes the logits (else the decoder's reading of them would
    go untested): LLaMA's pairing (i with i + head_dim / 2) instead of adjacent pairs, and, in
    bfloat16, its norms' weights applied in the model's dtype instead of to the float32
    statistics. o_proj has no bias whatever attention_bias says."""
    model = family_model("helium")
    x = ids()
    pairwise = logits(model, x)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(importlib.import_module(type(model).__module__), "apply_rotary_pos_emb",
                      llama_rotary)
        assert (logits(model, x) - pairwise).abs().max() > 1e-3
    attn = model.model.layers[0].self_attn
    assert attn.q_proj.bias is not None and attn.o_proj.bias is None
    half = copy.deepcopy(model).to(torch.bfloat16)
    norm = half.model.layers[0].input_layernorm
    hidden = torch.randn(2, 5, 64, dtype=torch.bfloat16)
    stats = hidden.float() * torch.rsqrt(hidden.float().pow(2).mean(-1, keepdim=True)
                                         + norm.variance_epsilon)
    assert torch.equal(norm(hidden), (norm.weight.float() * stats).to(torch.bfloat16))
    assert not torch.equal(norm(hidden), norm.weight * stats.to(torch.bfloat16))


@pytest.mark.parametrize("head_dim", [8, 32, None])
def test_a_helium_config_json_whose_heads_do_not_fill_the_hidden_size_is_refused(head_dim,
                                                                                 tmp_path):
    """HeliumAttention's o_proj reads hidden_size inputs: a config.json whose heads are
    narrower or wider (HeliumConfig's head_dim is 128 where config.json gives none, whatever
    the hidden size) builds and stops at the first forward. Every reader refuses it first."""
    raw = family_model("helium").config.to_dict()
    raw.pop("head_dim")
    if head_dim is not None:
        raw["head_dim"] = head_dim
    model = HeliumForCausalLM(HeliumConfig.from_dict(raw))
    with pytest.raises(RuntimeError):  # transformers' own failure
        model(input_ids=ids(1, 4))
    head_dim = head_dim or 128
    folder = _write_config(tmp_path / "m", raw)
    for read in (checked_config_json, checkpoint_config, load_config):
        with pytest.raises(PrunebenchError, match=f"head_dim={head_dim} with "
                                                  "num_attention_heads=4 and hidden_size=64: "
                                                  "Helium's o_proj"):
            read(folder)


def test_removing_a_silent_kv_group_keeps_the_logits():
    """A KV group whose query heads' o_proj columns are zero adds nothing: removing it (its
    query, key and value rows and its o_proj columns) leaves the logits as they were, which
    other rows removed would not (the kept heads would change)."""
    model = family_model("helium")
    with torch.no_grad():
        model.model.layers[1].self_attn.o_proj.weight[:, 32:] = 0  # query heads 2 and 3
    x = ids()
    before = logits(model, x)
    surgery.remove_kv_groups(model, 1, [1])
    attn = model.model.layers[1].self_attn
    assert attn.q_proj.weight.shape == (32, 64) and attn.k_proj.weight.shape == (16, 64)
    assert attn.o_proj.weight.shape == (64, 32)
    assert numel(model) == count_params(model.config)
    torch.testing.assert_close(logits(model, x), before, rtol=0, atol=1e-6)
    wrong = family_model("helium")
    with torch.no_grad():
        wrong.model.layers[1].self_attn.o_proj.weight[:, 32:] = 0
    surgery.remove_kv_groups(wrong, 1, [0])
    assert (logits(wrong, x) - before).abs().max() > 1e-3


def test_a_uniformly_channel_pruned_helium_computes_as_transformers_class_of_its_width():
    """Every block loses channels 3..34: prunebench's model computes what transformers'
    HeliumForCausalLM of 96 channels computes given the rows the test keeps (gate's and up's
    rows with their biases, down's columns). (Its heads cannot be so compared: transformers'
    o_proj is hidden_size wide, so fewer heads than fill it build no HeliumForCausalLM.)"""
    model = family_model("helium")
    original = copy.deepcopy(model.state_dict())
    keep = [c for c in range(128) if not 3 <= c < 35]
    for block in range(4):
        surgery.remove_channels(model, block, range(3, 35))
    state = sliced_state(original, rows={"gate_proj": keep, "up_proj": keep},
                         columns={"down_proj": keep})
    reference = theirs("helium", {**FAMILIES["helium"]().to_dict(), "intermediate_size": 96},
                       state)
    x = ids()
    torch.testing.assert_close(logits(model, x), logits(reference, x), rtol=0, atol=1e-6)
    assert numel(model) == numel(reference) == count_params(model.config)


@pytest.mark.parametrize("drop", [[0], [1, 2], [3]])
def test_helium_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(drop):
    check_depth_pruning("helium", drop)


@pytest.mark.parametrize("name", ["helium", "vaultgemma", "granitemoeshared"])
def test_a_depth_pruned_reload_decodes_as_transformers(name, tmp_path):
    """Saved with blocks 1 and 2 removed, loaded by prunebench and by transformers' class: the
    hf backend's tokens are transformers' generate's, and hf_static's too. (VaultGemma's final
    soft cap at 5 here: the family tests' 0.5 squeezes this pruned model's logits into near
    ties on every first step, where no token choice is certain to compare.)"""
    changes = {"final_logit_softcapping": 5.0} if name == "vaultgemma" else {}
    check_a_depth_pruned_reload_decodes_as_transformers(family_model(name, **changes), [1, 2],
                                                        family_classes(name)[1], tmp_path / "pruned",
                                                        **attention(name))


@pytest.mark.parametrize("name", ["helium", "vaultgemma"])
@pytest.mark.parametrize("fuse", [True, False])
@pytest.mark.parametrize("pruned", [False, True])
def test_the_compiled_decoder_gives_transformers_logits(name, pruned, fuse):
    """The decoder's prefill logits are transformers' (float32), dense and width-pruned,
    fused and not; VaultGemma's blocks read its two norms (the one before the MLP under
    Gemma-2's name pre_feedforward_layernorm) and no output norms."""
    model = width_pruned(name) if pruned else family_model(name)
    decoder = decoder_gives_transformers_logits(model, fuse)
    for block, layer in zip(decoder.blocks, model.model.layers):
        assert block.ln_attn_out is None and block.ln_mlp_out is None
        before_mlp = getattr(layer, "pre_feedforward_layernorm", None) or \
            layer.post_attention_layernorm
        assert torch.equal(block.ln2, before_mlp.weight)


@pytest.mark.parametrize("name", ["helium", "vaultgemma"])
@pytest.mark.parametrize("pruned", [False, True])
def test_the_compiled_decoder_decodes_as_generate_does(name, pruned):
    decodes_as_generate_does(width_pruned(name) if pruned else family_model(name))


# --------------------------------------------------------------------------- VaultGemma

@pytest.mark.parametrize("values", [{}, {"attention_bias": True},
                                    {"tie_word_embeddings": False}])
def test_vaultgemma_counts_equal_transformers_parameters(values):
    check_counts("vaultgemma", values)


def test_vaultgemma_block_counted_by_hand():
    """One block: q/k/v/o of 6 and 2 heads of 8 (no biases), gate/up/down, and two norms of
    hidden (Gemma-2's block holds four); tied by default."""
    config = VaultGemmaConfig(**SHAPE)
    d, q, kv, m = 48, 6 * 8, 2 * 8, 56
    by_hand = d * q + 2 * d * kv + q * d + 3 * d * m + 2 * d
    assert block_param_count(config, default_layer_shape(config)) == by_hand == 14_304
    assert count_params(config) == 97 * d + d + 3 * by_hand
    layer = family_model("vaultgemma").model.layers[0]
    assert {n for n, _ in layer.named_children() if "norm" in n} == {
        "input_layernorm", "pre_feedforward_layernorm"}


def test_a_uniformly_width_pruned_vaultgemma_computes_as_transformers_class_of_its_widths():
    """Every block loses KV group 0 (query heads 0 and 1) and channels 3..34: prunebench's
    model computes what transformers' VaultGemmaForCausalLM of 2 query heads, 1 KV head and 96
    channels computes given the rows the test keeps (q/k/v's with their biases, o_proj's
    columns, gate's and up's rows, down's columns)."""
    model = family_model("vaultgemma")
    original, q_rows, kv_rows, keep = prune_every_block_uniformly(model, list(range(3, 35)), 16)
    state = sliced_state(original, rows={"q_proj": q_rows, "k_proj": kv_rows, "v_proj": kv_rows,
                                         "gate_proj": keep, "up_proj": keep},
                         columns={"o_proj": q_rows, "down_proj": keep})
    values = {**FAMILIES["vaultgemma"]().to_dict(), "num_attention_heads": 2,
              "num_key_value_heads": 1, "intermediate_size": 96}
    reference = theirs("vaultgemma", values, state)
    x = ids(2, 16)
    torch.testing.assert_close(logits(model, x), logits(reference, x), rtol=0, atol=1e-6)
    assert numel(model) == numel(reference) == count_params(model.config)
    assert (logits(model, x) - logits(family_model("vaultgemma"), x)).abs().max() > 1e-3


@pytest.mark.parametrize("drop", [[0], [1], [0, 3]])
def test_vaultgemma_depth_pruning_keeps_each_blocks_window(drop, tmp_path):
    """The tiny VaultGemma's blocks alternate a window of 6 and full attention. Removing
    blocks removes their layer_types entries, so each kept block keeps its kind: transformers'
    model of the kept blocks under those layer_types computes the pruned model's logits past
    the window (where every block attending in full differs), and so does transformers' load of
    the saved checkpoint; the compiled decoder masks each block so too."""
    types = list(FAMILIES["vaultgemma"]().layer_types)
    keep = [b for b in range(4) if b not in drop]
    kept_types = [types[b] for b in keep]
    check_depth_pruning("vaultgemma", drop, layer_types=kept_types)
    dense = family_model("vaultgemma")
    full = theirs("vaultgemma", {**FAMILIES["vaultgemma"]().to_dict(),
                                 "num_hidden_layers": len(keep),
                                 "layer_types": ["full_attention"] * len(keep)},
                  kept_blocks_state(dense, keep))
    model = family_model("vaultgemma")
    remove_blocks(model, drop)
    assert model.config.layer_types == kept_types
    assert sliding_windows(model, 24) == [6 if t == "sliding_attention" else None
                                          for t in kept_types]
    x = ids(2, 24)
    assert (logits(full, x) - logits(model, x)).abs().max() > 1e-3  # the windows matter
    save_model(model, None, tmp_path / "pruned")
    assert json.loads((tmp_path / "pruned" / "config.json").read_text())["layer_types"] == \
        kept_types
    loaded = in_allocated_memory(VaultGemmaForCausalLM.from_pretrained(
        tmp_path / "pruned", dtype=torch.float32, **EAGER)).eval()
    torch.testing.assert_close(logits(loaded, x), logits(model, x), rtol=0, atol=1e-6)


# --------------------------------------------------------------------------- GraniteMoE-Shared

@pytest.mark.parametrize("values", [{}, {"shared_intermediate_size": 40},
                                    {"shared_intermediate_size": 40, "attention_bias": True,
                                     "tie_word_embeddings": True},
                                    {"num_local_experts": 5, "num_experts_per_tok": 3}])
def test_granitemoeshared_counts_equal_transformers_parameters(values):
    check_counts("granitemoeshared", values)


def test_granitemoeshared_block_counted_by_hand():
    """One block: q/k/v/o of 6 and 2 heads of 8, a router over 4 experts, 4 experts of 56
    (gate, up and down each), a shared MLP of 40 (input_linear [gate; up], output_linear),
    two RMSNorms of hidden; none of the shared MLP where shared_intermediate_size is 0
    (GraniteMoeSharedConfig's default)."""
    values = dict(SHAPE, num_local_experts=4, num_experts_per_tok=2)
    config = GraniteMoeSharedConfig(**values, shared_intermediate_size=40)
    d, q, kv, m, s = 48, 6 * 8, 2 * 8, 56, 40
    by_hand = d * q + 2 * d * kv + q * d + 4 * d + 4 * 3 * d * m + 3 * d * s + 2 * d
    assert by_hand == 44_448
    assert count_params(config) == 2 * 97 * d + d + 3 * by_hand
    without = GraniteMoeSharedConfig(**values)
    assert count_params(config) - count_params(without) == 3 * 3 * d * s
    assert all(layer.shared_mlp is None
               for layer in GraniteMoeSharedForCausalLM(without).model.layers)


def test_the_shared_mlp_changes_the_logits_and_leaves_with_its_block(tmp_path):
    """The shared MLP (every token's, beside the experts) matters to the logits; a removed
    block's leaves with it and each kept block's follows it, as transformers' reload of the
    saved checkpoint holds them."""
    model = family_model("granitemoeshared")
    x = ids()
    silent = copy.deepcopy(model)
    with torch.no_grad():
        silent.model.layers[2].shared_mlp.output_linear.weight.zero_()
    # (this model's logits are small, logits_scaling dividing them: a change of a thousandth
    # of their size, where float32 rounds them some 1e-7 of it)
    reference = logits(model, x)
    assert (logits(silent, x) - reference).abs().max() > 1e-3 * reference.abs().max()
    before = [layer.shared_mlp.input_linear.weight.detach().clone()
              for layer in model.model.layers]
    remove_blocks(model, [0, 2])
    save_model(model, None, tmp_path / "pruned")
    loaded = in_allocated_memory(GraniteMoeSharedForCausalLM.from_pretrained(
        tmp_path / "pruned", dtype=torch.float32)).eval()
    for layer, kept in zip(loaded.model.layers, [before[1], before[3]]):
        assert torch.equal(layer.shared_mlp.input_linear.weight, kept)
    assert numel(loaded) == count_params(model.config)
    torch.testing.assert_close(logits(loaded, x), logits(model, x), rtol=0, atol=1e-6)


def test_a_folder_transformers_saved_loads_as_transformers_loads_it(tmp_path):
    """save_pretrained writes GraniteMoE's published names (block_sparse_moe.input_linear,
    output_linear, router.layer), the shared MLP's under its own: prunebench reads them as
    transformers does, tensor for tensor."""
    from safetensors import safe_open

    family_model("granitemoeshared").save_pretrained(tmp_path)
    with safe_open(tmp_path / "model.safetensors", "pt") as f:
        names = set(f.keys())
    assert {"model.layers.0.block_sparse_moe.input_linear.weight",
            "model.layers.0.block_sparse_moe.router.layer.weight",
            "model.layers.0.shared_mlp.input_linear.weight"} <= names
    check_loads_as_transformers(load_model(tmp_path), tmp_path)


@pytest.mark.parametrize("method", ["LLM-Pruner", "FLAP", "the compiled backend"])
def test_granitemoeshared_refuses_what_reshapes_its_mlps(method):
    check_refused_as_a_mixture_of_experts(FAMILIES["granitemoeshared"](), method,
                                          "GraniteMoeSharedForCausalLM")
