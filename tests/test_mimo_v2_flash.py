"""MiMo-V2-Flash (mimo_v2_flash, MiMoV2FlashForCausalLM: Xiaomi's): the pieces of its own, as a
mixture of experts (depth pruning, the hf and hf_static backends).

Counts against transformers' meta models and by hand: queries and keys of head_dim, values
of v_head_dim (v_proj's rows, o_proj's columns), each sliding block's KV heads twice the
config's and a sink logit per query head, a full block's neither, the dense first block and
the sparse ones as mlp_layer_types names them; the published shape (309B) by hand. Each
block's kinds and the window read from config.json alone as the class derives them. The
window: transformers 5.17 and 5.25 read the same config.json otherwise (5.25 takes
sliding_window_size + 1 and defaults to 129, 5.17 reads sliding_window and defaults to 128);
prunebench reads 5.25's window on both and writes it into a saved config.json, which both then
read alike; the window shown to matter. Depth pruning equal to transformers' model of the kept
blocks (layer_types, mlp_layer_types and the published hybrid_layer_pattern / moe_layer_freq
renumbered), a save reloaded by prunebench and by transformers decoding as generate. The KV
cache's bytes (keys of head_dim, values of v_head_dim, twice the heads in the windows) equal
to transformers' cache. A published-style checkpoint (one tensor per expert, the sinks under
`attention_sink_bias`, `model.mtp.*` layers) imported as transformers loads it. Refusals: the
width methods and the compiled decoder, and config.json keys of the published layout that
transformers does not read and builds otherwise. tests/test_families.py runs the shared
per-family tests on it; tests/test_moe.py its per-expert checkpoint under the held names."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import MiMoV2FlashConfig, MiMoV2FlashForCausalLM

from prunebench import PrunebenchError
from prunebench.benchmark.floors import kv_cache_bytes
from prunebench.checkpoint.param_count import (block_param_count, checked_config_json,
                                               config_from_dict, count_params, layer_shapes,
                                               sliding_windows, sparse_mlp_blocks)
from prunebench.modeling import build_model, load_config, load_model, remove_blocks, save_model
from test_afmoe_laguna_mellum import check_published_import
from test_families import FAMILIES, family_model, ids, logits, numel
from test_families import tokenizer  # noqa: F401 - a fixture
from test_glm4_moe import check_refused_as_a_mixture_of_experts
from test_helium_vaultgemma_granitemoeshared import (SHAPE, check_counts, check_depth_pruning,
                                                     theirs)
from test_moe import per_expert_state
from test_qwen3_next import cache_bytes, check_a_depth_pruned_reload_decodes_as_transformers

pytestmark = pytest.mark.usefixtures("one_thread")

NAME = "mimo_v2_flash"
EXPERTS = dict(moe_intermediate_size=24, n_routed_experts=4, num_experts_per_tok=2)
SLIDING, FULL = "sliding_attention", "full_attention"


# --------------------------------------------------------------------------- counts

@pytest.mark.parametrize("values", [
    {**EXPERTS},
    {**EXPERTS, "attention_bias": True, "v_head_dim": 4, "tie_word_embeddings": True},
    {**EXPERTS, "layer_types": [SLIDING, FULL, SLIDING], "mlp_layer_types": ["sparse"] * 3},
    {**EXPERTS, "layer_types": [FULL] * 3, "mlp_layer_types": ["dense", "sparse", "dense"],
     "num_key_value_heads": 3, "v_head_dim": 16}])
def test_counts_equal_transformers_parameters(values):
    check_counts(NAME, {"v_head_dim": 6, **values})


def test_blocks_counted_by_hand():
    """Queries and keys of heads of 8, values of 6 (scaled, no parameter): block 0 full over
    2 KV heads without sinks and dense (56); blocks 1-2 sliding over 4 KV heads with 6 sink
    logits, a router (4 x hidden; its score-correction bias a buffer) over 4 experts of 24;
    q/k/v biased, o_proj not; two norms of hidden."""
    config = MiMoV2FlashConfig(**SHAPE, **EXPERTS, v_head_dim=6, attention_bias=True,
                               layer_types=[FULL, SLIDING, SLIDING])
    d = 48

    def attention(kv):
        return (d * 48 + 48) + (d * kv * 8 + kv * 8) + (d * kv * 6 + kv * 6) + 6 * 6 * d

    dense = attention(2) + 3 * d * 56 + 2 * d
    sparse = attention(4) + 6 + 4 * d + 4 * 3 * d * 24 + 2 * d
    assert [block_param_count(config, s) for s in layer_shapes(config)] == [dense, sparse,
                                                                            sparse]
    assert [s["num_key_value_heads"] for s in layer_shapes(config)] == [2, 4, 4]
    assert count_params(config) == 2 * 97 * d + d + dense + 2 * sparse


def published_config() -> dict:
    """MiMo-V2-Flash's config.json as public loaders' tests of it quote it (its shape keys and
    the published layout's keys transformers does not read): 48 blocks, full attention on
    block 0 and every sixth, block 0 dense."""
    return {"architectures": ["MiMoV2FlashForCausalLM"], "model_type": NAME,
            "vocab_size": 152576, "hidden_size": 4096, "num_hidden_layers": 48,
            "num_attention_heads": 64, "num_key_value_heads": 4, "head_dim": 192,
            "v_head_dim": 128, "swa_num_attention_heads": 64, "swa_num_key_value_heads": 8,
            "swa_head_dim": 192, "swa_v_head_dim": 128, "partial_rotary_factor": 0.334,
            "rope_theta": 5000000, "swa_rope_theta": 10000, "sliding_window": 128,
            "sliding_window_size": 128,
            "hybrid_layer_pattern": [int(not (i == 0 or (i + 1) % 6 == 0)) for i in range(48)],
            "moe_layer_freq": [int(i != 0) for i in range(48)],
            "add_swa_attention_sink_bias": True, "add_full_attention_sink_bias": False,
            "intermediate_size": 16384, "n_routed_experts": 256, "num_experts_per_tok": 8,
            "moe_intermediate_size": 2048, "routed_scaling_factor": None,
            "scoring_func": "sigmoid", "topk_method": "noaux_tc", "n_group": 1,
            "norm_topk_prob": True, "layernorm_epsilon": 1e-5, "attention_value_scale": 0.707}


def test_the_published_shape_counted_by_hand_and_as_transformers_builds_it():
    """309B (the card's): 9 full blocks (0, 5, 11, ..., 47) of 64 query heads of 192 over 4
    KV heads, values of 128; 39 sliding blocks over 8 KV heads with 64 sinks; block 0's MLP
    of 16384, 47 blocks of 256 experts of 2048; untied embeddings of 152576."""
    raw = published_config()
    d, v = 4096, 152576

    def attention(kv):
        return d * 64 * 192 + d * kv * (192 + 128) + 64 * 128 * d

    full, sliding = attention(4) + 2 * d, attention(8) + 64 + 2 * d
    experts = 256 * d + 256 * 3 * d * 2048
    by_hand = (2 * v * d + d + 9 * full + 39 * sliding + 3 * d * 16384
               + 47 * experts)
    assert by_hand == 308_778_768_832
    assert count_params(config_from_dict(raw)) == by_hand
    config = MiMoV2FlashConfig(**{k: v for k, v in raw.items() if k != "model_type"})
    with torch.device("meta"):
        assert sum(p.numel() for p in MiMoV2FlashForCausalLM(config).parameters()) == by_hand


def test_block_kinds_read_from_config_json_alone_as_the_class_derives_them():
    """A config.json without layer_types or mlp_layer_types: full attention on block 0 and
    every sixth block, block 0 dense, as MiMoV2FlashConfig derives them."""
    config = MiMoV2FlashConfig(**{**SHAPE, **EXPERTS, "num_hidden_layers": 13})
    raw = {k: v for k, v in config.to_dict().items()
           if k not in ("layer_types", "mlp_layer_types", "dtype")}
    ours = config_from_dict(raw)
    assert [w is None for w in sliding_windows(ours)] == [
        i in (0, 5, 11) for i in range(13)]
    assert sparse_mlp_blocks(ours) == sparse_mlp_blocks(config) == [False] + [True] * 12
    assert layer_shapes(ours) == layer_shapes(config)
    assert count_params(ours) == count_params(config)


# --------------------------------------------------------------------------- the window

@pytest.mark.parametrize("given,window", [
    ({"sliding_window": 6, "sliding_window_size": 6}, 7),  # (as published: 128 and 128)
    ({"sliding_window_size": 6}, 7),
    ({"sliding_window": 6}, 6),
    ({}, 129)])
def test_a_config_json_gives_one_window_on_5_17_and_5_25(given, window, tmp_path):
    """prunebench reads the window transformers 5.25 reads (sliding_window_size + 1, the
    reference's previous positions and the query's own; 129 without either key), on 5.17
    too, which alone would read sliding_window (128 without it); what it saves says that
    window so that either version's own load reads it."""
    values = {k: v for k, v in FAMILIES[NAME]().to_dict().items()
              if k not in ("sliding_window", "dtype")}
    (tmp_path / "config.json").write_text(json.dumps({**values, **given}))
    config = load_config(tmp_path)
    assert config.sliding_window == window
    assert config_from_dict(checked_config_json(tmp_path)).sliding_window == window
    assert sliding_windows(config) == [None, window, window, None]
    config.save_pretrained(tmp_path / "saved")
    written = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert written["sliding_window"] == window
    assert written["sliding_window_size"] == window - 1
    assert MiMoV2FlashConfig.from_pretrained(tmp_path / "saved").sliding_window == window


def test_the_window_matters():
    """transformers' model of the tiny model's weights with a window of 7 (the published keys'
    6 + 1) and of 6 (what transformers 5.17 alone reads of them) computes other logits on a
    prompt longer than both."""
    model = family_model(NAME)
    values = {k: v for k, v in model.config.to_dict().items() if k != "sliding_window_size"}
    x = ids(2, 24)
    out = [logits(theirs(NAME, {**values, "sliding_window": w}, model.state_dict()), x)
           for w in (6, 7)]
    torch.testing.assert_close(out[0], logits(model, x), rtol=0, atol=1e-6)
    assert not torch.allclose(out[0], out[1], atol=1e-3)


# --------------------------------------------------------------------------- depth pruning

def kept(values: list, drop: list[int]) -> list:
    return [v for i, v in enumerate(values) if i not in drop]


@pytest.mark.parametrize("drop", [[0], [1, 2], [3]])
def test_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(drop):
    config = FAMILIES[NAME]()
    renumbered = {"layer_types": kept(config.layer_types, drop),
                  "mlp_layer_types": kept(config.mlp_layer_types, drop)}
    check_depth_pruning(NAME, drop, **renumbered)
    model = family_model(NAME)
    remove_blocks(model, drop)
    for key, value in renumbered.items():
        assert getattr(model.config, key) == value, key


def test_depth_pruning_renumbers_the_published_lists_of_block_kinds():
    """hybrid_layer_pattern and moe_layer_freq, which transformers does not read, keep the kept
    blocks' entries: the pruned config.json still says what its blocks are to other engines,
    and is read again without a refusal."""
    model = family_model(NAME)
    model.config.hybrid_layer_pattern = [0, 1, 1, 0]
    model.config.moe_layer_freq = [0, 1, 1, 1]
    remove_blocks(model, [0, 2])
    assert model.config.hybrid_layer_pattern == [1, 0]
    assert model.config.moe_layer_freq == [1, 1]
    assert model.config.layer_types == [SLIDING, FULL]
    build_model(model.config)  # (refused if the lists said other blocks than layer_types)


def test_a_depth_pruned_save_reloads_and_decodes_as_transformers(tmp_path):
    check_a_depth_pruned_reload_decodes_as_transformers(
        family_model(NAME), [1], MiMoV2FlashForCausalLM, tmp_path / "pruned")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_kv_cache_is_what_transformers_cache_holds(dtype):
    """kv_cache_bytes: keys of 16 and values of 8 a KV head, 2 KV heads in the full blocks
    and 4 in the sliding ones (prompts within their window); equal to the tensors
    transformers' cache holds after a prefill, a depth-pruned model's too."""
    model = family_model(NAME).to(dtype)
    size = torch.finfo(dtype).bits // 8
    for drop, heads in (([], 2 * 2 + 2 * 4), ([0], 2 * 4 + 2)):
        remove_blocks(model, drop)
        for batch, length in ((1, 4), (2, 5)):
            with torch.no_grad():
                out = model(input_ids=ids(batch, length), use_cache=True)
            cache = getattr(out, "past_key_values", None) or out.cache
            assert cache_bytes(cache) == kv_cache_bytes(model.config, batch, length, dtype) \
                == batch * length * heads * (16 + 8) * size


# --------------------------------------------------------------------------- checkpoints

def published_names(state: dict) -> dict:
    """The state under the published names: the sinks `self_attn.attention_sink_bias`."""
    return {k.replace(".self_attn.sinks", ".self_attn.attention_sink_bias"): v
            for k, v in state.items()}


def mtp_layer(d: int) -> dict:
    """A multi-token-prediction layer under the published `model.mtp.*` names, which
    MiMoV2FlashForCausalLM does not build (and ignores on loading)."""
    g = torch.Generator().manual_seed(3)
    shapes = {"model.mtp.layers.0.eh_proj.weight": (d, 2 * d),
              "model.mtp.layers.0.enorm.weight": (d,),
              "model.mtp.layers.0.self_attn.q_proj.weight": (64, d)}
    return {n: torch.randn(s, generator=g) for n, s in shapes.items()}


def test_a_published_per_expert_checkpoint_imports_as_transformers_loads_it(
        tmp_path, tokenizer):  # noqa: F811 - the fixture
    """One tensor per expert, the sinks under their published name and an MTP layer:
    transformers' conversion on loading, prunebench's one-time fusion on import and the model
    the weights came from compute the same logits; the MTP layer dropped and recorded."""
    model = family_model(NAME)
    state = published_names(per_expert_state(model, NAME))
    assert "model.layers.1.mlp.experts.3.down_proj.weight" in state
    assert "model.layers.1.self_attn.attention_sink_bias" in state
    state = {**state, **mtp_layer(64)}
    record = check_published_import(model, MiMoV2FlashForCausalLM, state, tmp_path, tokenizer)
    assert record["experts_per_block"] == {f"model.layers.{i}": 4 for i in (1, 2, 3)}
    assert record.get("dropped_blocks") == ["model.mtp"]


# --------------------------------------------------------------------------- refusals

@pytest.mark.parametrize("method", ["llm_pruner", "flap", "wanda_sp", "blockpruner",
                                    "the compiled backend"])
def test_width_methods_and_the_compiled_decoder_are_refused(method):
    check_refused_as_a_mixture_of_experts(FAMILIES[NAME](), method, "MiMoV2FlashForCausalLM")


@pytest.mark.parametrize("change", [
    {"hybrid_layer_pattern": [0, 1, 0, 1]}, {"moe_layer_freq": [1, 1, 1, 1]},
    {"moe_layer_freq": 1}, {"swa_num_key_value_heads": 2}, {"swa_head_dim": 8},
    {"swa_v_head_dim": 16}, {"add_full_attention_sink_bias": True},
    {"add_swa_attention_sink_bias": False}, {"n_shared_experts": 1},
    {"layernorm_epsilon": 1e-3}])
def test_published_keys_transformers_builds_otherwise_are_refused(change, tmp_path):
    """The published layout's keys that MiMoV2FlashConfig does not read: each saying other
    blocks, heads, sinks or norms than the class builds from its own keys is refused when
    config.json is read and when a model is built; saying the same, read as it is."""
    values = {k: v for k, v in FAMILIES[NAME]().to_dict().items() if k != "dtype"}
    same = {"hybrid_layer_pattern": [0, 1, 1, 0], "moe_layer_freq": [False, True, True, True],
            "swa_num_key_value_heads": 4, "swa_head_dim": 16, "swa_v_head_dim": 8,
            "add_full_attention_sink_bias": False, "add_swa_attention_sink_bias": True,
            "n_shared_experts": 0, "layernorm_epsilon": 1e-5}
    (tmp_path / "config.json").write_text(json.dumps({**values, **same}))
    checked_config_json(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**values, **same, **change}))
    key = next(iter(change))
    with pytest.raises(PrunebenchError, match=f"gives {key}=.*MiMoV2FlashForCausalLM does not "
                                              "read"):
        checked_config_json(tmp_path)
    config = FAMILIES[NAME]()
    for k, v in change.items():
        setattr(config, k, v)
    with pytest.raises(PrunebenchError, match=f"gives {key}="):
        build_model(config)


def test_a_published_config_json_is_read_as_it_is(tmp_path):
    """The published config.json (its layout's keys agreeing with what the class builds, its
    rotary keys at the top the class's defaults) passes the read's checks, its window 129."""
    (tmp_path / "config.json").write_text(json.dumps(published_config()))
    assert config_from_dict(checked_config_json(tmp_path)).sliding_window == 129


def test_a_saved_model_reloads_with_sinks_in_its_sliding_blocks_alone(tmp_path):
    model = family_model(NAME)
    save_model(model, None, tmp_path / "m")
    ours = load_model(tmp_path / "m")
    assert numel(ours) == count_params(ours.config) == numel(model)
    assert [layer.self_attn.sinks is not None for layer in ours.model.layers] == [
        False, True, True, False]
