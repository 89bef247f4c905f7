"""Dots 3 Note's language model (dots3_note_text, Dots3NoteForCausalLM: Dots Studio's
dots3-note-prev): the pieces of its own, as a mixture of experts (depth pruning, the hf and
hf_static backends).

DeepSeek-V3.2's latent attention, experts and lightning indexer (its rotation interleaved),
with each block's own heads, ranks and head widths (per_layer_config: the sliding blocks' from
the swa_* keys), a per-head output gate (g_proj), a norm on the shared rotated key
(k_rope_only_layernorm), the indexer in the "indexed_attention" blocks alone, the
"sliding_attention" blocks windowed, and shared experts of a width of their own. Counts against
transformers' meta models (from the config and from config.json alone, as published: no
layer_types, no per_layer_config) and by hand; depth pruning equal to transformers' model of
the kept blocks (layer_types, mlp_layer_types and per_layer_config renumbered), reloaded by
prunebench and by transformers with the hf and hf_static tokens transformers' generate's; the
KV cache (each block's own latent width, the sliding blocks' window, the indexer keys) equal to
transformers' cache; the per-block latents, the gate and the key norm shown to matter; the
refusals (the multimodal dots3_note wrapper, a null query rank, KV heads other than the heads,
overrides the counts do not read, transformers before 5.24). tests/test_families.py runs the
shared per-family tests on it."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from prunebench import PrunebenchError
from prunebench.benchmark.floors import kv_cache_bytes
from prunebench.checkpoint.param_count import (block_param_count, checked_config_json,
                                               config_from_dict, count_params, indexer_blocks,
                                               kv_bytes_of, layer_shapes,
                                               transformers_release_problem)
from prunebench.modeling import build_model, load_config, model_wide_readable, remove_blocks
from block_helpers import kept_blocks_state
from test_families import FAMILIES, _write_config, family_model, ids, logits, numel
from test_helium_vaultgemma_granitemoeshared import theirs
from test_exaone_internlm3 import check_refused_below_its_release
from test_qwen3_next import (cache_bytes, check_a_depth_pruned_reload_decodes_as_transformers,
                             check_hf_backends_decode_as_transformers)

pytestmark = pytest.mark.usefixtures("one_thread")

NAME = "dots3_note_text"
# (transformers 5.17, the floor: these tests skip with the refusal's words)
RELEASE = transformers_release_problem(NAME)
newer = pytest.mark.skipif(RELEASE is not None, reason=str(RELEASE))
if RELEASE is None:
    from transformers import Dots3NoteConfig, Dots3NoteForCausalLM, Dots3NoteTextConfig

KINDS = ["indexed_attention", "sliding_attention", "sliding_attention", "indexed_attention"]
# config.json as the published model writes it (its keys, not transformers' derived ones): the
# sliding blocks' latents from the swa_* keys, the shared experts' width, the window.
PUBLISHED = dict(vocab_size=97, hidden_size=48, intermediate_size=56, num_hidden_layers=6,
                 num_attention_heads=6, num_key_value_heads=6, q_lora_rank=24, kv_lora_rank=16,
                 qk_nope_head_dim=8, qk_rope_head_dim=4, v_head_dim=8, head_dim=12,
                 moe_intermediate_size=24, n_routed_experts=4, num_experts_per_tok=2,
                 n_group=2, topk_group=1, n_shared_experts=1, index_n_heads=2,
                 index_head_dim=8, index_topk=4, first_k_dense_replace=1,
                 moe_shared_expert_intermediate_size=20, sliding_window_size=5,
                 swa_num_attention_heads=2, swa_num_key_value_heads=2, swa_q_lora_rank=20,
                 swa_kv_lora_rank=12, swa_qk_nope_head_dim=12, swa_head_dim=16,
                 swa_v_head_dim=6, pad_token_id=0, bos_token_id=1, eos_token_id=2)


def meta_count(config) -> int:
    with torch.device("meta"):
        return sum(p.numel() for p in Dots3NoteForCausalLM(config).parameters())


@newer
@pytest.mark.parametrize("values", [{}, {"use_sliding_window": False},
                                    {"use_dsa": False, "attention_bias": True},
                                    {"tie_word_embeddings": True, "n_shared_experts": 2,
                                     "moe_layer_freq": [0, 1, 0, 1, 1, 1]}])
def test_counts_equal_transformers_parameters_from_config_json_alone(values):
    """config.json as published (no layer_types, no per_layer_config: the kinds and the sliding
    blocks' latents derived as Dots3NoteTextConfig derives them), read without transformers,
    and the config transformers builds from it: both counted as transformers' meta model."""
    raw = {"model_type": NAME, **PUBLISHED, **values}
    config = model_wide_readable(Dots3NoteTextConfig(**{**PUBLISHED, **values}))
    ours = config_from_dict(raw)
    assert ours.layer_types == config.layer_types
    assert ours.mlp_layer_types == config.mlp_layer_types
    assert indexer_blocks(ours) == [kind == "indexed_attention" for kind in config.layer_types]
    assert count_params(ours) == count_params(config) == meta_count(config)
    saved = {k: v for k, v in config.to_dict().items() if k != "dtype"}
    assert count_params(config_from_dict(saved)) == meta_count(config)


@newer
def test_a_sliding_and_an_indexed_block_counted_by_hand():
    """The tiny model's (tests/test_families.py): hidden 64, an indexed block's attention of 4
    heads (q rank 24, KV rank 16, 8 + 4 query/key channels, values of 8) with its indexer, a
    sliding block's of 2 heads (q rank 20, KV rank 12, 12 + 4, values of 6) without one; each
    with g_proj (64 -> heads) and k_rope_only_layernorm (4); experts of 32, 2 shared of 24."""
    config = FAMILIES[NAME]()
    d = 64

    def latent(heads, rank, kv_rank, nope, v):
        return (d * rank + rank + rank * heads * (nope + 4) + d * (kv_rank + 4) + kv_rank
                + kv_rank * heads * (nope + v) + heads * v * d + d * heads + 4)
    indexer = 24 * 2 * 8 + d * 8 + 2 * 8 + d * 2
    moe = 4 * d + 4 * 3 * d * 32 + 3 * d * 2 * 24 + 2 * d
    dense = latent(4, 24, 16, 8, 8) + indexer + 3 * d * 128 + 2 * d
    sliding = latent(2, 20, 12, 12, 6) + moe
    indexed = latent(4, 24, 16, 8, 8) + indexer + moe
    counts = [dense, sliding, sliding, indexed]
    assert [block_param_count(config, s) for s in layer_shapes(config)] == counts
    model = family_model(NAME)
    assert [sum(p.numel() for p in layer.parameters()) for layer in model.model.layers] == counts
    assert sliding != latent(4, 24, 16, 8, 8) + moe  # (read from the whole config: wrong)


@newer
@pytest.mark.parametrize("drop", [[0], [1], [1, 2], [2, 3]])
def test_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(drop):
    """With the indexers choosing 4 keys and a window of 4 over 12 positions: each kept block's
    kind, MLP kind and latent overrides under its new index, its logits transformers' model's
    of the kept blocks (built from the renumbered config), the counts its parameters."""
    dense = family_model(NAME)
    for layer in dense.model.layers:
        if layer.self_attn.indexer is not None:
            layer.self_attn.indexer.index_topk = 4
    for layer in dense.model.layers:
        if layer.self_attn.sliding_window:
            layer.self_attn.sliding_window = 4
    dense.config.index_topk, dense.config.sliding_window = 4, 4
    model = remove_blocks(copy.deepcopy(dense), drop)
    keep = [b for b in range(4) if b not in drop]
    assert model.config.layer_types == [KINDS[b] for b in keep]
    overrides = {int(i): o for i, o in model.config.to_dict()["per_layer_config"].items()}
    assert sorted(overrides) == [i for i, b in enumerate(keep) if KINDS[b] != KINDS[0]]
    values = {**dense.config.to_dict(), "num_hidden_layers": len(keep),
              "mlp_layer_types": model.config.mlp_layer_types,
              "layer_types": model.config.layer_types, "per_layer_config": overrides}
    reference = theirs(NAME, values, kept_blocks_state(dense, keep))
    x = ids(2, 12)
    torch.testing.assert_close(logits(model, x), logits(reference, x), rtol=0, atol=1e-6)
    assert numel(model) == count_params(model.config) == numel(reference)


@newer
@pytest.mark.parametrize("part", ["g_proj", "k_rope_only_layernorm"])
def test_the_gate_and_the_key_norm_matter(part):
    """What a model without them would miss: the output gate (sigmoid(g_proj(x)) a head) and
    the rotated key's norm change the logits by far more than float32's rounding."""
    model = family_model(NAME)
    x = ids(2, 12)
    before = logits(model, x)
    with torch.no_grad():
        for layer in model.model.layers:
            getattr(layer.self_attn, part).weight.mul_(3.0)
    after = logits(model, x)
    assert (after - before).abs().max() > 1e-3 * before.abs().max()


@newer
def test_a_depth_pruned_reload_decodes_as_transformers(tmp_path):
    """Saved with blocks 1 and 2 (both sliding ones) removed, loaded by prunebench and by
    transformers' class: the hf backend's tokens are transformers' generate's, and
    hf_static's too; its config.json reads back, without transformers, as the model, and
    holds no reading flag of prunebench's."""
    model = family_model(NAME)
    check_a_depth_pruned_reload_decodes_as_transformers(model, [1, 2], Dots3NoteForCausalLM,
                                                        tmp_path / "pruned")
    raw = json.loads((tmp_path / "pruned" / "config.json").read_text())
    assert raw["layer_types"] == ["indexed_attention"] * 2 and not raw.get("per_layer_config")
    assert "allow_global_per_layer_attribute_access" not in raw
    assert count_params(config_from_dict(raw)) == numel(model)
    assert count_params(load_config(tmp_path / "pruned")) == numel(model)


@newer
def test_an_in_place_prune_decodes_with_its_cache():
    """Pruned in place, the model of blocks 0, 2 and 3 (block 2 sliding, with its own latent
    now at index 1) decodes with transformers' caches as transformers' model of the kept
    blocks does."""
    dense = family_model(NAME)
    model = remove_blocks(copy.deepcopy(dense), [1])
    values = {**dense.config.to_dict(), "num_hidden_layers": 3,
              "mlp_layer_types": model.config.mlp_layer_types,
              "layer_types": model.config.layer_types,
              "per_layer_config": model.config.to_dict()["per_layer_config"]}
    check_hf_backends_decode_as_transformers(
        model, theirs(NAME, values, kept_blocks_state(dense, [0, 2, 3])))


@newer
@pytest.mark.parametrize("length", [5, 20])
def test_its_kv_cache_is_what_transformers_cache_holds(length):
    """A position adds each block's own latent and rotated key (indexed: 16 + 4, sliding:
    12 + 4, over their 16-token window alone) and each indexed block's indexer key (8):
    kv_cache_bytes after a prefill shorter and longer than the window equals the tensors
    transformers' cache holds (the window ignored, or the blocks read alike, it would not),
    past the window with each sliding block's step's own position beside the window - 1
    positions transformers keeps; `prunebench plan`'s bytes a token adds likewise."""
    model = family_model(NAME)
    cache = model(ids(1, length), use_cache=True).past_key_values
    indexer = sum(layer.indexer_keys.nbytes for layer in cache.layers
                  if getattr(layer, "indexer_keys", None) is not None)
    step = 2 * (12 + 4) * 4 if length > 16 else 0
    assert kv_cache_bytes(model.config, 1, length, torch.float32) == (
        cache_bytes(cache) + indexer + step)
    assert kv_bytes_of(model.config, layer_shapes(model.config), 4) == (
        2 * (16 + 4 + 8) + 2 * (12 + 4)) * 4


@newer
def test_the_multimodal_wrapper_is_refused_naming_what_to_do(tmp_path):
    """dots3_note (Dots3NoteForConditionalGeneration, the text config at config.json's top
    level beside vision and audio encoders'): refused when read and when built, naming
    the language model transformers saves."""
    folder = _write_config(tmp_path / "m", {"model_type": "dots3_note",
                                            "architectures": ["Dots3NoteForConditionalGeneration"],
                                            **PUBLISHED})
    words = r"model_type 'dots3_note' is not supported: it is Dots Studio's Dots 3 Note.*" \
            r"save_pretrained: prunebench reads the folder it writes \(model_type " \
            r"dots3_note_text\)"
    with pytest.raises(PrunebenchError, match=words):
        checked_config_json(folder)
    with pytest.raises(PrunebenchError, match=words):
        build_model(Dots3NoteConfig())


@newer
@pytest.mark.parametrize("change, match", [
    ({"q_lora_rank": None}, "null q_lora_rank for block 0 of a Dots 3 Note"),
    ({"per_layer_config": {"1": {"swa_q_lora_rank": 20, "hidden_size": 32}}},
     r"overrides \['hidden_size', 'swa_q_lora_rank'\] for block 1"),
    ({"num_key_value_heads": 2}, "block 0 of a Dots 3 Note model 6 heads and "
                                 "num_key_value_heads=2")])
def test_a_config_json_it_cannot_count_or_transformers_run_is_refused(change, match, tmp_path):
    """A null query rank and KV heads other than the heads (Dots3NoteTextConfig refuses both),
    and a block overriding what the counts read from the whole config: every reader of the
    config.json refuses them, those without transformers too."""
    folder = _write_config(tmp_path / "m", {"model_type": NAME, **PUBLISHED, **change})
    for read in (checked_config_json, load_config):
        with pytest.raises(PrunebenchError, match=match):
            read(folder)


def test_an_older_transformers_is_refused_before_the_model_loads_naming_the_upgrade(
        tmp_path, monkeypatch):
    """On a transformers older than 5.24 (5.23's Dots3NoteForCausalLM holds its routers'
    weights in the model's dtype: the release it needs, said so), every way to build it is
    refused, and its config.json is counted all the same."""
    check_refused_below_its_release(NAME, "5.24.0", {"model_type": NAME, **PUBLISHED},
                                    tmp_path, monkeypatch)
