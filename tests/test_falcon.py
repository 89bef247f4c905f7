"""Falcon (falcon, FalconForCausalLM; Falcon-7B / 40B / 180B, Falcon2-11B): exact counts over
its layouts (multi-query, the new decoder architecture of one or two norms, head by head;
parallel or sequential; biases; tying) with and without transformers, a config.json's derived
values (ffn_hidden_size, num_kv_heads) and counted by hand; its modules answering LLaMA's
names; KV-group removal keeping the rows of query_key_value in each of its three layouts (as
FalconAttention views them, checked against the module reshaped by hand) and the pruned model
computing transformers' own dense model with the removed heads silenced, the rows taken in
another layout computing another model; a uniformly MLP-pruned model equal to transformers'
model of its width; depth pruning equal to transformers' model of the kept blocks, saved and
reloaded by prunebench and by transformers' class, the hf backends decoding as generate; the
compiled decoder against transformers on width-pruned models of each layout, its pieces shown
to matter; FLAP in both parallel blocks; the refusals (ALiBi, the layouts transformers builds
and cannot run); dropout read from the config off in training-mode passes; LoRA on its own
module names; a tied model saved once and reloaded tied; a model depth-pruned in place
decoding from its cache, Falcon's and every family's whose attention LLaMA's name does not
hold (BLOOM, GPT-NeoX, MPT, GPT-J, GPT-2, GPT-BigCode, GPT-Neo, DBRX, JetMoE)
(tests/test_families.py runs the shared per-family tests on Falcon-7B's and Falcon-40B's
layouts too: every method, save and reload, every backend, evaluation, LoRA)."""

from __future__ import annotations

import copy
import itertools
import json

import pytest
import torch
from safetensors.torch import load_file
from torch import nn
from transformers import FalconConfig, FalconForCausalLM

from prunebench import FamilyUnsupported, projections
from prunebench.checkpoint.param_count import (checked_config_json, config_from_dict,
                                             config_from_json, kv_heads, norms_per_block,
                                             parallel_block)
from prunebench.methods import surgery
from prunebench.modeling import (ZeroHeadAttention, build_model,
                                 count_params, count_params_meta, final_norm, load_model,
                                 remove_blocks, save_model)
from test_cohere import (decoder_gives_transformers_logits, decodes_as_generate_does,
                         flap_keeps_each_blocks_mean_output, reloads_with_its_logits)
from test_families import FAMILIES, family_model, ids, logits, numel
from test_gpt_neox import (check_a_uniformly_mlp_pruned_model,
                           lora_adapts_query_key_value_dense_and_the_mlp, without_blocks_1_and_2_is)
from test_stablelm import decoder_follows_the_change, dropout_turned_off, without_norm_biases

pytestmark = pytest.mark.usefixtures("one_thread")

HEADS, HD, WIDTH, D = 4, 16, 128, 64  # the family tests' tiny Falcon: 4 heads of 16
VOCAB_SMALL = 97
# Each layout by the flags FalconConfig reads, on the family tests' tiny configs: Falcon-7B's
# (multi-query, the parallel block of one norm), Falcon-40B's and 180B's (the new decoder
# architecture, 2 KV heads, ln_attn / ln_mlp), Falcon2-11B's (the new decoder architecture of
# one norm: num_ln_in_parallel_attn 1), and the rotary one of falcon-rw's rows (neither flag:
# head by head) in falcon-rw's sequential block; biases on in the last three.
LAYOUTS = {"7b": ("falcon", {}),
           "40b": ("falcon_40b", {}),
           "11b": ("falcon_40b", {"num_ln_in_parallel_attn": 1}),
           "rw": ("falcon", {"multi_query": False, "parallel_attn": False, "bias": True})}


def falcon(layout: str, **changes):
    name, own = LAYOUTS[layout]
    return family_model(name, **{**own, **changes})


def config_of(layout: str, **changes) -> FalconConfig:
    name, own = LAYOUTS[layout]
    values = {**FAMILIES[name]().to_dict(), **own, **changes}
    values.pop("num_key_value_heads", None)  # (5.25's derived attribute: FalconConfig sets it)
    return FalconConfig(**values)


@pytest.mark.parametrize("layout,bias,tied",
                         [(lay, b, t) for lay in LAYOUTS for b, t in
                          itertools.product([False, True], repeat=2)])
def test_counts_equal_transformers_parameters(layout, bias, tied):
    config = config_of(layout, bias=bias, tie_word_embeddings=tied)
    model = FalconForCausalLM(config)
    layer = model.transformer.h[0]
    assert (layer.self_attention.query_key_value.bias is not None) == bias
    assert (layer.mlp.dense_h_to_4h.bias is not None) == bias
    n_kv = {"7b": 1, "40b": 2, "11b": 2, "rw": HEADS}[layout]
    assert kv_heads(config) == n_kv
    assert layer.self_attention.query_key_value.out_features == (HEADS + 2 * n_kv) * HD
    assert norms_per_block(config) == sum(isinstance(m, nn.LayerNorm) for m in layer.modules())
    assert parallel_block(config) == (layout != "rw")
    assert count_params(config) == count_params_meta(config) == numel(model)
    # and without transformers, from its config.json's values (`prunebench plan`)
    assert count_params(config_from_dict(json.loads(config.to_json_string()))) == numel(model)


def test_a_config_json_counts_as_transformers_builds_it_and_by_hand(tmp_path):
    """Falcon-40B's config.json leaves ffn_hidden_size out (4 x hidden) and names its KV heads
    num_kv_heads (Falcon-7B's has neither: multi-query); num_ln_in_parallel_attn left out is
    two norms in the new decoder architecture, one in the old."""
    for values, n_kv, norms in [
            ({"new_decoder_architecture": True, "num_kv_heads": 2}, 2, 2),
            ({"new_decoder_architecture": True, "num_kv_heads": 2,
              "num_ln_in_parallel_attn": 1}, 2, 1),
            ({}, 1, 1), ({"parallel_attn": False, "multi_query": False}, 6, 2)]:
        values = {"model_type": "falcon", "vocab_size": 97, "hidden_size": 48,
                  "num_hidden_layers": 3, "num_attention_heads": 6, **values}
        theirs = FalconForCausalLM(FalconConfig(**{k: v for k, v in values.items()
                                                   if k != "model_type"}))
        d, hd, vocab = 48, 8, 97
        block = d * (6 + 2 * n_kv) * hd + d * d + 2 * d * 4 * d + norms * 2 * d
        by_hand = 3 * block + vocab * d + 2 * d  # tied (FalconConfig's default), final norm
        assert numel(theirs) == by_hand
        assert count_params(config_from_dict(values)) == by_hand
        (tmp_path / "config.json").write_text(json.dumps(values))
        assert count_params(config_from_dict(checked_config_json(tmp_path))) == by_hand


def test_its_modules_answer_llamas_names_and_keep_their_own(tmp_path):
    """prunebench reads Falcon's modules by LLaMA's names (aliases, not submodules): the
    state dict keeps transformers' names; blocks removed and a block's attention replaced are
    the ones its forward reads (`h`, `self_attention`), in a copy too."""
    model = falcon("40b")
    assert model.model is model.transformer and model.model.layers is model.transformer.h
    assert final_norm(model) is model.transformer.ln_f
    assert all(layer.self_attn is layer.self_attention for layer in model.transformer.h)
    assert projections.block_norm(model.model.layers[0], "post_attention_layernorm") is \
        model.transformer.h[0].ln_mlp
    assert set(model.state_dict()) == set(FalconForCausalLM(model.config).state_dict())
    copied = copy.deepcopy(model)
    surgery.remove_kv_groups(copied, 2, range(2))
    layer = copied.transformer.h[2]
    assert isinstance(layer.self_attention, ZeroHeadAttention)
    assert layer.self_attn is layer.self_attention and "self_attn" not in layer._modules
    remove_blocks(copied, [1])
    assert copied.model.layers is copied.transformer.h and len(copied.transformer.h) == 3
    assert "layers" not in copied.transformer._modules
    reloads_with_its_logits(copied, ids(), tmp_path)


def layout_rows(weight: torch.Tensor, layout: str, kept_groups: list[int]) -> torch.Tensor:
    """query_key_value's rows (or bias) of the kept KV groups as FalconAttention views them,
    by hand: [KV heads, queries a group + 2 (q..., k, v), head_dim] in the new decoder
    architecture, [heads, 3 (q, k, v), head_dim] head by head."""
    if layout == "rw":
        return weight.reshape(HEADS, 3, HD, *weight.shape[1:])[kept_groups].reshape(
            -1, *weight.shape[1:])
    return weight.reshape(2, HEADS // 2 + 2, HD, *weight.shape[1:])[kept_groups].reshape(
        -1, *weight.shape[1:])


def runs_rows(weight: torch.Tensor, layout: str, kept_groups: list[int]) -> torch.Tensor:
    """The kept rows were query_key_value Phi-3's [all q; all k; all v]: the wrong layout."""
    n_kv = HEADS if layout == "rw" else 2
    rep = HEADS // n_kv
    q = [h * HD + c for g in kept_groups for h in range(g * rep, (g + 1) * rep)
         for c in range(HD)]
    kv = [g * HD + c for g in kept_groups for c in range(HD)]
    return weight[[*q, *(HEADS * HD + r for r in kv), *(HEADS * HD + n_kv * HD + r for r in kv)]]


@pytest.mark.parametrize("layout,removed", [("40b", [0]), ("40b", [1]), ("11b", [1]),
                                            ("rw", [0]), ("rw", [3]), ("rw", [1, 2]),
                                            ("7b", [0])])
def test_kv_group_removal_keeps_each_groups_rows_in_its_layout(layout, removed):
    """The kept query_key_value holds exactly the kept KV groups' rows (and bias entries) in
    FalconAttention's view of its layout, `dense` the kept query heads' columns; the pruned
    model computes what transformers' own dense FalconForCausalLM computes with the removed
    query heads silenced (their `dense` columns zero). Falcon-7B's one KV group serves every
    head: removing it leaves the block its output alone. The rows taken as Phi-3's layout
    ([all q; all k; all v]) would mix one group's queries with another's keys: another model."""
    model = falcon(layout)
    kept, q_heads, qkv, dense_w, mine = kv_groups_removed_as_silenced(
        model, removed, "self_attention", "query_key_value", "dense")
    attn = model.transformer.h[1].self_attention
    if not kept:
        assert isinstance(attn, ZeroHeadAttention)
        return
    for name, value in qkv.items():
        assert torch.equal(getattr(attn.query_key_value, name), layout_rows(value, layout, kept))
    assert torch.equal(attn.dense.weight,
                       dense_w[:, [h * HD + c for h in q_heads for c in range(HD)]])
    assert projections.attention_heads(attn, HD) == (len(q_heads), len(kept))
    assert (attn.num_heads, attn.num_kv_heads) == (len(q_heads), len(kept))
    wrong = copy.deepcopy(model)
    with torch.no_grad():
        for name, value in qkv.items():
            getattr(wrong.transformer.h[1].self_attention.query_key_value, name).copy_(
                runs_rows(value, layout, kept))
    assert (logits(wrong, ids()) - mine).abs().max() > 1e-2


def kv_groups_removed_as_silenced(model, removed: list[int], attention: str, packed: str,
                                  out: str):
    """Removes KV groups `removed` from block 1 of `model` (a family's tiny model of HEADS
    heads of HD, its blocks `transformer.h`, each block's attention `attention` with its packed
    q/k/v module `packed` and output `out`) and checks that it computes what transformers'
    dense model of the same class computes with the removed groups' query heads silenced (their
    `out` columns zero) and counts as its config says. Returns the kept groups, their query
    heads, the packed module's parameters and `out`'s weight before, and the pruned logits on
    `ids()` (also GPT-BigCode's: tests/test_gpt_bigcode.py)."""
    n_kv = kv_heads(model.config)
    rep = HEADS // n_kv
    kept = [g for g in range(n_kv) if g not in removed]
    q_heads = [h for g in kept for h in range(g * rep, (g + 1) * rep)]
    attn = getattr(model.transformer.h[1], attention)
    before = {n: p.detach().clone() for n, p in getattr(attn, packed).named_parameters()}
    out_w = getattr(attn, out).weight.detach().clone()
    silenced = type(model)(model.config).eval()
    silenced.load_state_dict(model.state_dict())
    with torch.no_grad():
        for h in set(range(HEADS)) - set(q_heads):
            getattr(getattr(silenced.transformer.h[1], attention), out).weight[
                :, h * HD:(h + 1) * HD] = 0
    surgery.remove_kv_groups(model, 1, removed)
    assert numel(model) == count_params(model.config)
    x = ids()
    mine = logits(model, x)
    torch.testing.assert_close(mine, logits(silenced, x), rtol=0, atol=1e-5)
    return kept, q_heads, before, out_w, mine


@pytest.mark.parametrize("layout", ["7b", "40b"])
def test_a_uniformly_mlp_pruned_model_is_transformers_model_of_its_width(layout):
    """MLP channels removed in every block: transformers' FalconForCausalLM built at the kept
    ffn_hidden_size, given the kept channels' rows (dense_h_to_4h and its bias) and columns
    (dense_4h_to_h) sliced by hand, computes the same logits."""
    check_a_uniformly_mlp_pruned_model(
        falcon(layout), "transformer.h.{}.mlp.", "dense_h_to_4h", "dense_4h_to_h",
        lambda m: FalconForCausalLM(config_of(layout, ffn_hidden_size=m)))


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_depth_pruning_is_transformers_model_of_the_kept_blocks(layout, tmp_path):
    """Blocks 1 and 2 removed: transformers' FalconForCausalLM of two blocks, given blocks 0
    and 3, computes the same logits; saved, the model reloads by prunebench and by
    transformers' class and both hf backends decode as transformers' generate."""
    without_blocks_1_and_2_is(falcon(layout), "transformer.h",
                              FalconForCausalLM(config_of(layout, num_hidden_layers=2)), tmp_path)


def width_pruned(model):
    """`model` with KV group 1 out of block 1 (every head of Falcon-7B's one group), every head
    out of block 2 (its `dense` bias alone left, where biased) and a third of block 3's MLP
    channels out (also GPT-BigCode's: tests/test_gpt_bigcode.py)."""
    surgery.remove_kv_groups(model, 1, [kv_heads(model.config) - 1])
    surgery.remove_kv_groups(model, 2, range(kv_heads(model.config)))
    surgery.remove_channels(model, 3, range(0, WIDTH, 3))
    assert numel(model) == count_params(model.config)
    return model


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("fuse", [True, False])
def test_the_compiled_decoder_gives_transformers_logits_for_a_width_pruned_model(layout, fuse):
    model = width_pruned(falcon(layout))
    decoder = decoder_gives_transformers_logits(model, fuse)
    assert [block.parallel for block in decoder.blocks] == [layout != "rw"] * 4
    # a norm before the MLP of its own: Falcon-40B's ln_mlp, the sequential block's
    assert all((block.ln2 is not None) == (layout in ("40b", "rw")) for block in decoder.blocks)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_the_compiled_decoder_decodes_a_width_pruned_model_as_generate_does(layout):
    decodes_as_generate_does(width_pruned(falcon(layout)))


def _mlp_norm_as_attentions(model):
    """Falcon-40B's ln_mlp given ln_attn's weights: were the decoder to feed the MLP the
    attention's norm (Falcon-7B's block), it would compute this model."""
    with torch.no_grad():
        for layer in model.transformer.h:
            layer.ln_mlp.load_state_dict(layer.ln_attn.state_dict())


@pytest.mark.parametrize("change", [_mlp_norm_as_attentions, without_norm_biases])
def test_the_decoder_applies_each_of_falcons_pieces(change):
    """Each piece the decoder reproduces changes this model's logits (else the comparison
    above would not see it dropped): Falcon-40B's norm before the MLP of its own, the
    LayerNorms' biases; the decoder built from the changed model follows it."""
    decoder_follows_the_change(falcon("40b"), change)


@pytest.mark.parametrize("layout", ["7b", "40b"])
def test_flap_compensates_each_sublayer_of_the_parallel_block_with_its_removed_mean(layout):
    flap_keeps_each_blocks_mean_output(falcon(layout))


@pytest.mark.parametrize("values, refused", [
    ({"alibi": True, "multi_query": False, "parallel_attn": False}, "ALiBi positions"),
    ({"new_decoder_architecture": True, "num_kv_heads": 2, "parallel_attn": False},
     "new_decoder_architecture true with parallel_attn false"),
    ({"num_ln_in_parallel_attn": 2}, "num_ln_in_parallel_attn 2 without"),
    ({"multi_query": False, "num_kv_heads": 2}, "num_kv_heads 2 for 4 heads with neither"),
    ({"new_decoder_architecture": True, "num_kv_heads": 3}, "multiple of the KV heads"),
])
def test_what_prunebench_does_not_handle_is_refused_with_what_to_do(values, refused, tmp_path):
    """ALiBi (falcon-rw: its slopes are computed from the model's head count, which removing
    heads changes) and the layouts FalconDecoderLayer builds and cannot run are refused where
    config.json is read and where a model is built."""
    values = {"model_type": "falcon", "vocab_size": VOCAB_SMALL, "hidden_size": D,
              "num_hidden_layers": 2, "num_attention_heads": HEADS, **values}
    (tmp_path / "config.json").write_text(json.dumps(values))
    with pytest.raises(FamilyUnsupported, match=refused):
        checked_config_json(tmp_path)
    config = FalconConfig(**{k: v for k, v in values.items() if k != "model_type"})
    with pytest.raises(FamilyUnsupported, match=refused):
        build_model(config)


def test_its_dropout_read_from_the_config_is_off_in_the_passes_that_run_in_training_mode():
    """FalconDecoderLayer reads hidden_dropout and attention_dropout from the model's config
    (not from a module) and drops in training mode: the Taylor+ scores' and LoRA's passes turn
    them off (modeling.base_dropout_off) and restore them after."""
    model = falcon("rw", hidden_dropout=0.3, attention_dropout=0.3)
    with dropout_turned_off(model, falcon("rw")):
        assert model.config.hidden_dropout == model.config.attention_dropout == 0.0
    assert model.config.hidden_dropout == model.config.attention_dropout == 0.3


def test_lora_adapts_its_own_modules_by_llamas_targets():
    lora_adapts_query_key_value_dense_and_the_mlp(falcon("40b"), "transformer.h",
                                                  "self_attention")


@pytest.mark.parametrize("layout", ["7b", "40b"])
def test_a_width_pruned_config_json_counts_without_torch_and_reloads(layout, tmp_path):
    model = width_pruned(falcon(layout))
    save_model(model, None, tmp_path / "m")
    assert count_params(config_from_json(tmp_path / "m" / "config.json")) == numel(model)
    reloaded = load_model(tmp_path / "m")
    x = ids()
    assert torch.equal(logits(reloaded, x), logits(model, x))
    kept_q = 0 if layout == "7b" else 2
    assert [projections.attention_heads(layer.self_attn, HD)[0]
            for layer in reloaded.model.layers] == [4, kept_q, 0, 4]


def test_a_tied_model_saves_its_embedding_once_and_reloads_tied(tmp_path):
    """FalconConfig ties the head to the embedding by default: saved under the embedding's
    name alone (transformer.word_embeddings.weight), reloaded tied by prunebench and by
    transformers' class, the same logits."""
    model = falcon("40b", tie_word_embeddings=True)
    assert model.lm_head.weight is model.transformer.word_embeddings.weight
    x = ids()
    reloaded_logits = reloads_with_its_logits(model, x, tmp_path)
    saved = load_file(tmp_path / "m" / "model.safetensors")
    assert "transformer.word_embeddings.weight" in saved and "lm_head.weight" not in saved
    ours = load_model(tmp_path / "m")
    assert ours.lm_head.weight is ours.transformer.word_embeddings.weight
    theirs = FalconForCausalLM.from_pretrained(tmp_path / "m", dtype=torch.float32).eval()
    torch.testing.assert_close(logits(theirs, x), reloaded_logits, rtol=0, atol=1e-5)


@pytest.mark.parametrize("family", ["bloom", "falcon", "gpt_neox", "mpt", "gptj", "gpt2",
                                    "gpt_bigcode", "gpt_neo", "dbrx", "jetmoe"])
def test_a_model_depth_pruned_in_place_decodes_with_its_cache(family):
    """A model depth-pruned in place (block 0 and another removed) steps from its cache to the
    logits of the whole sequence without one, where its attention lies under another name than
    LLaMA's `self_attn` (Falcon's and BLOOM's `self_attention`, answering `self_attn` through
    projections.alias_llama_names; JetMoE's `self_attention`, not aliased; GPT-NeoX's
    `attention`, ...): each kept attention's cache index renumbered to its new place
    (modeling.remove_blocks), else the cache's first entry is empty or an index runs past it."""
    model = family_model(family)
    remove_blocks(model, [0, 2])
    x = ids(2, 9, seed=4)
    with torch.no_grad():
        whole = model(input_ids=x, use_cache=False).logits[:, -1]
        past = model(input_ids=x[:, :-1], use_cache=True).past_key_values
        step = model(input_ids=x[:, -1:], past_key_values=past, use_cache=True).logits[:, -1]
    torch.testing.assert_close(step, whole, rtol=1e-4, atol=1e-4)  # (DBRX's experts: 3e-5)
