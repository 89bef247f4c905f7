"""GPT-2 (gpt2, GPT2LMHeadModel; gpt2 ... gpt2-xl, DistilGPT2 and fine-tunes): its Conv1D
projections held by prunebench as nn.Linear of the same parameters and written back as
transformers holds them (a checkpoint of transformers' model loads to its logits and greedy
tokens; prunebench's checkpoints, the hub's GPT2Model names and old mask buffers too); exact
counts over its options with and without transformers, from a config.json of GPT-2's own keys
and by hand for the known shapes; head removal keeping each kept head's rows of c_attn's
three runs and c_proj's columns, computing transformers' dense model with the removed heads
silenced; each width method's pruned model equal to transformers' GPT2LMHeadModel with its
blocks' Conv1D modules at the pruned shapes, loaded from the saved checkpoint; a uniformly
MLP-pruned model equal to transformers' model of that n_inner; depth pruning equal to
transformers' model of the kept blocks, reloaded by prunebench and by transformers' class, the
hf backends decoding as generate; the compiled decoder on width-pruned models, as transformers'
logits and as generate's tokens, the learned positions and biases each shown to matter; the
flags prunebench does not reproduce refused from config.json and build_model; LoRA's targets on
its own names; its dropout off in training-mode passes (tests/test_families.py runs the shared
per-family tests on it too: every method, save and reload, every backend, evaluation, LoRA)."""

from __future__ import annotations

import copy
import itertools
import json

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import GPT2Config, GPT2LMHeadModel
from transformers.pytorch_utils import Conv1D

from prunebench import FamilyUnsupported, projections
from prunebench.checkpoint.architectures import (ARCHITECTURES, architecture_config,
                                                known_shape_of)
from prunebench.checkpoint.param_count import checked_config_json, config_from_dict, kv_heads
from prunebench.lora import lora_target_names
from prunebench.methods import surgery
from prunebench.methods.registry import method_function
from prunebench.modeling import (build_model, count_params, count_params_meta, load_model,
                                 published_state, save_model)
from prunebench.plan.lora_settings import TARGETS
from test_cohere import decoder_gives_transformers_logits, decodes_as_generate_does
from test_families import (METHODS, PUBLISHED, TARGET, family_config, family_model, ids,
                           in_allocated_memory, logits, numel)
from test_gpt_neox import width_pruned
from test_opt import check_depth_prune_is_transformers_model
from test_stablelm import decoder_follows_the_change, dropout_turned_off, without_norm_biases

pytestmark = pytest.mark.usefixtures("one_thread")

# the family tests' tiny GPT-2 (test_gpt_neox's width_pruned reads its 4 heads and 128 channels)
HEADS, HD, D, WIDTH = 4, 16, 64, 128
PROJECTIONS = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")


def small(**kw) -> GPT2Config:
    return family_config("gpt2", **kw)


def transformers_copy(model) -> GPT2LMHeadModel:
    """transformers' own GPT2LMHeadModel (Conv1D projections) of `model`'s dense config, given
    `model`'s weights as a checkpoint holds them (published_state)."""
    theirs = GPT2LMHeadModel(small(**{k: getattr(model.config, k) for k in
                                      ("n_inner", "n_layer", "tie_word_embeddings")})).eval()
    theirs.load_state_dict(published_state(model))
    return theirs


def test_its_projections_are_linear_and_compute_transformers_logits_and_tokens(tmp_path):
    """prunebench builds GPT-2's Conv1D projections as nn.Linear of the transposed weights: a
    checkpoint written by transformers' save_pretrained loads to transformers' logits and
    greedy tokens, and prunebench's save of it holds every tensor under transformers' name
    and shape (Conv1D's [in, out]), byte for byte the same."""
    torch.manual_seed(0)  # (untied: this random model tied repeats one token)
    theirs = GPT2LMHeadModel(small(tie_word_embeddings=False)).eval()
    with torch.no_grad():  # biases and norms off their 0 / 1 so that a wrong slice shows
        for p in theirs.parameters():
            if p.dim() == 1:
                p.add_(torch.randn_like(p) * 0.2)
    theirs.save_pretrained(tmp_path / "hf")
    ours = load_model(tmp_path / "hf", verify=False)
    layer = ours.transformer.h[0]
    for name in PROJECTIONS:
        module = layer.get_submodule(name)
        assert type(module) is nn.Linear
        original = theirs.transformer.h[0].get_submodule(name)
        assert isinstance(original, Conv1D)
        assert torch.equal(module.weight, original.weight.t())
    assert not any(isinstance(m, Conv1D) for m in build_model(small(), device="meta").modules())
    x = ids()
    torch.testing.assert_close(logits(ours, x), logits(theirs, x), rtol=0, atol=1e-5)
    prompt = ids(2, 7, seed=5)
    with torch.inference_mode():
        mine, reference = (m.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt),
                                      max_new_tokens=10, min_new_tokens=10, do_sample=False,
                                      pad_token_id=0) for m in (ours, theirs))
    assert torch.equal(mine, reference)
    assert len(set(mine[:, 7:].flatten().tolist())) > 3  # varied: a real check
    save_model(ours, None, tmp_path / "ours")
    saved, published = (load_file(f / "model.safetensors")
                        for f in (tmp_path / "ours", tmp_path / "hf"))
    assert saved.keys() == published.keys()
    assert all(torch.equal(saved[k], published[k]) for k in saved)


def test_the_hubs_base_model_names_and_mask_buffers_load_as_transformers_loads_them(tmp_path):
    """gpt2's hub checkpoints hold GPT2Model's names (h.*, wte, wpe, ln_f, no LM head: tied)
    and each attention's old causal-mask buffers (attn.bias, attn.masked_bias), which
    GPT2LMHeadModel loads under `transformer.` and ignores: prunebench's loader does the same."""
    model = family_model("gpt2")
    save_model(model, None, tmp_path)
    weights = tmp_path / "model.safetensors"
    state = {k.removeprefix("transformer."): v for k, v in load_file(weights).items()}
    for b in range(4):
        state[f"h.{b}.attn.bias"] = torch.tril(torch.ones(1, 1, 256, 256))
        state[f"h.{b}.attn.masked_bias"] = torch.tensor(-1e4)
    save_file(state, weights, metadata={"format": "pt"})
    assert not any(k.startswith(("transformer.", "lm_head")) for k in load_file(weights))
    x = ids()
    assert torch.equal(logits(load_model(tmp_path, verify=False), x), logits(model, x))
    theirs = in_allocated_memory(GPT2LMHeadModel.from_pretrained(tmp_path, dtype=torch.float32))
    torch.testing.assert_close(logits(theirs.eval(), x), logits(model, x), rtol=0, atol=1e-5)


@pytest.mark.parametrize("inner,tied", list(itertools.product([None, 96], [True, False])))
def test_counts_equal_transformers_parameters(inner, tied):
    config = small(n_inner=inner, tie_word_embeddings=tied)
    model = GPT2LMHeadModel(config)
    assert model.transformer.h[0].mlp.c_fc.nf == (inner or 4 * D)  # 4 x n_embd where None
    assert kv_heads(config) == HEADS
    assert count_params(config) == count_params_meta(config) == numel(model)
    assert count_params(config_from_dict(json.loads(config.to_json_string()))) == numel(model)
    assert numel(build_model(config, device="meta")) == numel(model)


def test_a_published_config_json_counts_as_transformers_builds_it(tmp_path):
    """GPT-2's config.json names its sizes n_embd, n_layer, n_head, n_positions and n_inner
    (null: 4 x n_embd), as gpt2's does, read without transformers and by hand: c_attn and
    c_proj, c_fc and c_proj with biases, two LayerNorms a block, learned positions, a tied
    head; a stray num_key_value_heads builds nothing (every head its own keys and values)."""
    values = {"model_type": "gpt2", "vocab_size": 97, "n_embd": 48, "n_inner": None,
              "n_layer": 3, "n_head": 6, "n_positions": 40, "n_ctx": 40,
              "activation_function": "gelu_new"}
    theirs = GPT2LMHeadModel(GPT2Config(**values))
    d, m, vocab, positions = 48, 4 * 48, 97, 40
    block = (d * 3 * d + 3 * d) + (d * d + d) + (d * m + m) + (m * d + d) + 2 * 2 * d
    by_hand = 3 * block + vocab * d + positions * d + 2 * d
    assert count_params(config_from_dict(values)) == numel(theirs) == by_hand
    (tmp_path / "config.json").write_text(json.dumps({**values, "num_key_value_heads": 4}))
    assert count_params(config_from_dict(checked_config_json(tmp_path))) == by_hand


@pytest.mark.parametrize("arch, dims", [("gpt2", (768, 12, 12)), ("gpt2-medium", (1024, 24, 16)),
                                        ("gpt2-xl", (1600, 48, 25))])
def test_the_known_shapes_count_by_hand_and_build_their_family(arch, dims):
    d, blocks, heads = dims
    vocab, positions = 50257, 1024
    block = 12 * d * d + 13 * d  # c_attn, c_proj, c_fc, c_proj with biases; two LayerNorms
    by_hand = blocks * block + vocab * d + positions * d + 2 * d  # tied head, ln_f
    assert by_hand == PUBLISHED[arch]
    assert count_params(config_from_dict(ARCHITECTURES[arch])) == by_hand
    built = architecture_config(arch)
    assert type(built).__name__ == "GPT2Config" and built.num_attention_heads == heads
    assert built.n_inner is None and built.tie_word_embeddings
    assert count_params(built) == count_params_meta(built) == by_hand


@pytest.mark.parametrize("repo, shape", [
    ("openai-community/gpt2", "gpt2"), ("gpt2", "gpt2"),
    ("openai-community/gpt2-medium", "gpt2-medium"), ("openai-community/gpt2-xl", "gpt2-xl"),
    ("openai-community/gpt2-large", None),  # no known shape (its config.json not found)
    ("distilbert/distilgpt2", None),  # 6 blocks
    ("sshleifer/tiny-gpt2", None),
])
def test_the_hub_ids_name_their_known_shape_and_no_other(repo, shape):
    assert known_shape_of(repo) == shape


def test_its_modules_answer_llamas_names_and_keep_their_own():
    model = family_model("gpt2")
    assert model.model is model.transformer and model.model.layers is model.transformer.h
    assert model.model.embed_positions is model.transformer.wpe
    layer = model.model.layers[0]
    assert layer.self_attn is layer.attn
    assert projections.block_norm(layer, "input_layernorm") is layer.ln_1
    assert projections.block_norm(layer, "post_attention_layernorm") is layer.ln_2
    assert projections.get_part(layer.attn, "qkv_proj") is layer.attn.c_attn
    assert projections.o_proj(layer.attn) is layer.attn.c_proj
    assert projections.get_part(layer.mlp, "up_proj") is layer.mlp.c_fc
    assert projections.down_proj(layer.mlp) is layer.mlp.c_proj
    assert projections.qkv_layout(layer.attn) == "runs"
    assert set(model.state_dict()) == set(GPT2LMHeadModel(model.config).state_dict())


def head_cols(heads: list[int]) -> list[int]:
    return [h * HD + c for h in heads for c in range(HD)]


@pytest.mark.parametrize("removed", [[0], [3], [1, 2], [0, 2, 3]])
def test_head_removal_keeps_each_kept_heads_rows_and_computes_the_silenced_model(removed):
    """c_attn keeps the kept heads' rows of each of its three runs [q; k; v] (bias entries
    too), c_proj their columns; the pruned model (transformers' GPT2Attention splitting by its
    split_size) computes what transformers' dense GPT2LMHeadModel computes with the removed
    heads silenced (their rows of c_proj's Conv1D weight zero)."""
    model = family_model("gpt2")
    kept = [h for h in range(HEADS) if h not in removed]
    attn = model.model.layers[1].attn
    qkv, qkv_bias = attn.c_attn.weight.detach().clone(), attn.c_attn.bias.detach().clone()
    out = attn.c_proj.weight.detach().clone()
    silenced = transformers_copy(model)
    with torch.no_grad():
        silenced.transformer.h[1].attn.c_proj.weight[head_cols(removed)] = 0
    surgery.remove_kv_groups(model, 1, removed)
    attn = model.model.layers[1].attn
    rows = [part * D + c for part in range(3) for c in head_cols(kept)]
    assert torch.equal(attn.c_attn.weight, qkv[rows])
    assert torch.equal(attn.c_attn.bias, qkv_bias[rows])
    assert torch.equal(attn.c_proj.weight, out[:, head_cols(kept)])
    assert attn.split_size == len(kept) * HD
    assert numel(model) == count_params(model.config)
    x = ids()
    torch.testing.assert_close(logits(model, x), logits(silenced, x), rtol=0, atol=1e-5)


def test_a_uniformly_mlp_pruned_model_is_transformers_model_of_its_width():
    """A third of the MLP channels out of every block: transformers' GPT2LMHeadModel of that
    n_inner, given the kept channels' columns of c_fc's Conv1D weight (and its bias entries)
    and rows of c_proj's, sliced by hand from transformers' layout, computes the same logits."""
    model = family_model("gpt2")
    keep = [c for c in range(WIDTH) if c % 3]
    state = published_state(model)
    for b in range(4):
        prefix = f"transformer.h.{b}.mlp."
        state[prefix + "c_fc.weight"] = state[prefix + "c_fc.weight"][:, keep]
        state[prefix + "c_fc.bias"] = state[prefix + "c_fc.bias"][keep]
        state[prefix + "c_proj.weight"] = state[prefix + "c_proj.weight"][keep]
        surgery.remove_channels(model, b, [c for c in range(WIDTH) if c not in keep])
    theirs = GPT2LMHeadModel(small(n_inner=len(keep))).eval()
    theirs.load_state_dict(state)
    x = ids()
    torch.testing.assert_close(logits(model, x), logits(theirs, x), rtol=0, atol=1e-5)


def transformers_model_of_checkpoint(folder) -> GPT2LMHeadModel:
    """transformers' GPT2LMHeadModel of the config.json in `folder`, each block's Conv1D
    modules made at the shapes the checkpoint's tensors give (GPT2Attention split by the kept
    heads' width), loaded strictly from the checkpoint: transformers' own modules at the
    pruned shape."""
    state = load_file(folder / "model.safetensors")
    theirs = GPT2LMHeadModel(GPT2Config.from_pretrained(folder))
    for b, block in enumerate(theirs.transformer.h):
        for name in PROJECTIONS:
            nx, nf = state[f"transformer.h.{b}.{name}.weight"].shape
            owner, _, attr = name.partition(".")
            setattr(getattr(block, owner), attr, Conv1D(nf, nx))
        block.attn.split_size = state[f"transformer.h.{b}.attn.c_proj.weight"].shape[0]
    theirs.load_state_dict(state, strict=False)  # the head: tied to wte
    assert set(theirs.state_dict()) - set(state) == {"lm_head.weight"}
    return theirs.eval()


@pytest.mark.parametrize("method", ["llm_pruner", "flap", "wanda_sp"])
def test_each_width_method_prunes_to_transformers_modules_at_the_pruned_shape(method, tmp_path):
    """Each width method prunes the tiny GPT-2 (heads and channels, block by block); saved,
    its checkpoint loads into transformers' own GPT2 modules at the pruned shapes, which
    compute the pruned model's logits, as prunebench's reload does."""
    model = family_model("gpt2")
    method_function(method)(model, ids(8, 24, seed=3), int(TARGET * numel(model)),
                            **METHODS[method])
    shapes = [(projections.attention_heads(layer.attn, HD),
               projections.mlp_width(layer.mlp)) for layer in model.model.layers]
    assert any(shape != ((HEADS, HEADS), WIDTH) for shape in shapes)  # something was pruned
    assert all(heads[0] > 0 for heads, _ in shapes)  # (every block keeps a head here)
    assert numel(model) == count_params(model.config)
    save_model(model, None, tmp_path)
    x = ids()
    torch.testing.assert_close(logits(transformers_model_of_checkpoint(tmp_path), x),
                               logits(model, x), rtol=0, atol=1e-5)
    assert torch.equal(logits(load_model(tmp_path), x), logits(model, x))


def test_depth_pruning_is_transformers_model_of_the_kept_blocks(tmp_path):
    check_depth_prune_is_transformers_model(family_model("gpt2"), [1, 2], "transformer.h.",
                                            GPT2LMHeadModel, lambda n: small(n_layer=n),
                                            tmp_path)


@pytest.mark.parametrize("fuse", [True, False])
def test_the_compiled_decoder_gives_transformers_logits_for_a_width_pruned_model(fuse):
    decoder = decoder_gives_transformers_logits(width_pruned(family_model("gpt2")), fuse)
    assert decoder.position_table is not None  # learned positions, no rotation
    assert not any(block.parallel for block in decoder.blocks)


def test_the_compiled_decoder_decodes_a_width_pruned_model_as_generate_does():
    decodes_as_generate_does(width_pruned(family_model("gpt2")))


def _other_positions(model):
    with torch.no_grad():
        model.transformer.wpe.weight.copy_(model.transformer.wpe.weight.flip(0))


def _without_projection_biases(model):
    with torch.no_grad():
        for layer in model.transformer.h:
            for name in PROJECTIONS:
                layer.get_submodule(name).bias.zero_()


@pytest.mark.parametrize("change", [without_norm_biases, _other_positions,
                                    _without_projection_biases])
def test_the_decoder_applies_each_of_gpt2s_pieces(change):
    """Each piece the decoder reproduces changes this model's logits: the LayerNorms' biases,
    the learned position table, the projections' biases; the decoder built from the changed
    model follows it."""
    decoder_follows_the_change(family_model("gpt2"), change)


@pytest.mark.parametrize("flag, value", [("scale_attn_by_inverse_layer_idx", True),
                                         ("reorder_and_upcast_attn", True),
                                         ("add_cross_attention", True),
                                         ("scale_attn_weights", False)])
def test_the_flags_prunebench_does_not_reproduce_are_refused(flag, value, tmp_path):
    """Each flag, read from config.json or given to build_model, is refused naming itself
    and the published layout."""
    (tmp_path / "config.json").write_text(json.dumps(
        {"model_type": "gpt2", "n_embd": 48, "n_layer": 2, "n_head": 6, flag: value}))
    match = rf"gives {flag} {str(value).lower()}: a GPT-2 model .* use a checkpoint of that layout"
    with pytest.raises(FamilyUnsupported, match=match):
        checked_config_json(tmp_path)
    with pytest.raises(FamilyUnsupported, match=match):
        build_model(small(**{flag: value}), device="meta")
    (tmp_path / "config.json").write_text(json.dumps(
        {"model_type": "gpt2", "n_embd": 48, "n_layer": 2, "n_head": 6,
         flag: not value if flag != "scale_attn_weights" else True}))
    checked_config_json(tmp_path)  # the published value is read


def test_the_refused_scaling_by_block_index_would_change_with_a_depth_prune():
    """Why scale_attn_by_inverse_layer_idx is refused: transformers scales block i's scores by
    1 / (i + 1), so the model of the kept blocks 0 and 3 (now 0 and 1) computes otherwise than
    the same blocks in their places did."""
    scaled = GPT2LMHeadModel(small(scale_attn_by_inverse_layer_idx=True)).eval()
    assert [b.attn.scaling for b in scaled.transformer.h] == pytest.approx(
        [HD ** -0.5 / (i + 1) for i in range(4)])
    two = GPT2LMHeadModel(small(scale_attn_by_inverse_layer_idx=True, n_layer=2))
    assert two.transformer.h[1].attn.scaling != scaled.transformer.h[3].attn.scaling


def test_lora_adapts_its_own_modules_by_llamas_targets():
    model = family_model("gpt2")
    chosen, skipped = lora_target_names(model, list(TARGETS))
    assert sorted(chosen) == sorted(f"transformer.h.{b}.{name}" for b in range(4)
                                    for name in PROJECTIONS) and not skipped


def test_its_dropout_is_off_in_the_passes_that_run_in_training_mode():
    """GPT2Config's attn_pdrop, resid_pdrop and embd_pdrop (0.1 as published: its nn.Dropout
    modules) act in training mode: base_dropout_off turns them off and restores them after."""
    model = family_model("gpt2", attn_pdrop=0.3, resid_pdrop=0.3, embd_pdrop=0.3)
    with dropout_turned_off(model, family_model("gpt2", attn_pdrop=0.0, resid_pdrop=0.0,
                                                embd_pdrop=0.0)):
        assert model.transformer.drop.p == 0.0 == model.transformer.h[0].attn.attn_dropout.p
    assert model.transformer.h[0].mlp.dropout.p == 0.3


def test_a_copy_keeps_its_own_linear_projections():
    model = family_model("gpt2")
    copied = copy.deepcopy(model)
    surgery.remove_kv_groups(copied, 0, [0])
    assert copied.transformer.h[0].attn.c_attn.out_features == 3 * (HEADS - 1) * HD
    assert model.transformer.h[0].attn.c_attn.out_features == 3 * HEADS * HD
