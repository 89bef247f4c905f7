"""AFMoE (afmoe, AfmoeForCausalLM: Arcee's Trinity), Laguna (laguna, LagunaForCausalLM:
poolside's) and Mellum (mellum, MellumForCausalLM: JetBrains' Mellum2): the pieces of their own,
as mixtures of experts (depth pruning, the hf and hf_static backends).

Counts against transformers' meta models and by hand: AFMoE's attention output gate
(gate_proj, a gate per query channel), its four norms a block, its routers' float32 expert_bias
parameter and its shared experts; Laguna's per-block query heads (num_attention_heads_per_layer),
its output gate per head or per channel as `gating` says, its score-bias parameter and its
shared expert; Mellum's dense and sparse blocks as mlp_layer_types names them. Each block's
kinds read from config.json alone as the three classes derive them. Depth pruning equal to
transformers' model of the kept blocks, each per-block list renumbered (layer_types,
mlp_layer_types, num_attention_heads_per_layer) and AFMoE's num_dense_layers rewritten; the
renumbered layer_types shown to matter (AFMoE's global blocks rotate nothing). A depth-pruned
save reloaded by prunebench and by transformers, the hf and hf_static tokens transformers'
generate's. Published-style checkpoints (one tensor per expert; Laguna's score biases and shared
expert under their published names; Mellum's `mtp.*` layer) imported as transformers loads
them. The width methods' and compiled decoder's refusals, dense configs included.
tests/test_families.py runs the shared per-family tests on them; tests/test_moe.py their
per-expert checkpoints under the held names."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from transformers import AfmoeConfig, AfmoeForCausalLM, LagunaConfig, MellumConfig

from prunebench.checkpoint import moe_fuse
from prunebench.checkpoint.local_import import import_local
from prunebench.checkpoint.param_count import (AFMOE_NOT_NULL, block_param_count,
                                               checked_config_json, checkpoint_config,
                                               config_from_dict, count_params, layer_shapes,
                                               refuse_moe, sliding_windows, sparse_mlp_blocks)
from prunebench.modeling import load_config, load_model, remove_blocks
from prunebench import FamilyUnsupported
from test_deepseek import write_published_folder
from test_families import FAMILIES, _write_config, family_model, ids, logits, numel
from test_families import tokenizer  # noqa: F401 - a fixture
from test_glm4_moe import check_half_precision_load, check_refused_as_a_mixture_of_experts
from test_helium_vaultgemma_granitemoeshared import (SHAPE, check_counts, check_depth_pruning,
                                                     family_classes, kept_blocks_state, theirs)
from test_moe import per_expert_state
from test_qwen3_next import check_a_depth_pruned_reload_decodes_as_transformers

pytestmark = pytest.mark.usefixtures("one_thread")

NAMES = ["afmoe", "laguna", "mellum"]
EXPERTS = dict(moe_intermediate_size=24, num_experts=4, num_experts_per_tok=2)
SLIDING, FULL = "sliding_attention", "full_attention"


# --------------------------------------------------------------------------- counts

@pytest.mark.parametrize("name,values", [
    ("afmoe", {**EXPERTS}),
    ("afmoe", {**EXPERTS, "attention_bias": True, "num_shared_experts": 1,
               "num_dense_layers": 2}),
    ("afmoe", {**EXPERTS, "num_shared_experts": 0, "num_dense_layers": 0,
               "tie_word_embeddings": True, "num_key_value_heads": 6}),
    ("laguna", {**EXPERTS}),
    ("laguna", {**EXPERTS, "gating": "per-element", "attention_bias": True,
                "num_attention_heads_per_layer": [6, 2, 4]}),
    ("laguna", {**EXPERTS, "gating": False, "mlp_layer_types": ["dense"] * 3,
                "shared_expert_intermediate_size": 40, "tie_word_embeddings": True}),
    ("mellum", {**EXPERTS}),
    ("mellum", {**EXPERTS, "mlp_layer_types": ["dense", "sparse", "dense"],
                "attention_bias": True}),
    ("mellum", {**EXPERTS, "tie_word_embeddings": True, "num_key_value_heads": 6})])
def test_counts_equal_transformers_parameters(name, values):
    check_counts(name, values)


def test_afmoe_blocks_counted_by_hand():
    """Every block's attention: q/k/v/o of 6 and 2 heads of 8 with biases, q/k norms of 8 and
    the output gate, hidden x (6 x 8), unbiased; four norms of hidden. Block 0 dense (gate, up,
    down of 56); blocks 1-2 a router (4 x hidden) and its expert_bias (4), 4 experts of 24 and
    2 shared experts as one MLP of 48."""
    config = AfmoeConfig(**SHAPE, **EXPERTS, attention_bias=True, num_shared_experts=2,
                         num_dense_layers=1)
    d, q, kv = 48, 6 * 8, 2 * 8
    attention = (d * q + q) + 2 * (d * kv + kv) + (q * d + d) + 2 * 8 + d * q
    dense = attention + 3 * d * 56 + 4 * d
    sparse = attention + 4 * d + 4 + 4 * 3 * d * 24 + 3 * d * 48 + 4 * d
    assert [block_param_count(config, s) for s in layer_shapes(config)] == [dense, sparse,
                                                                            sparse]
    assert count_params(config) == 2 * 97 * d + d + dense + 2 * sparse


@pytest.mark.parametrize("gating,per_head", [(True, True), ("per-head", True),
                                             ("per-element", False), (False, False)])
def test_laguna_blocks_counted_by_hand(gating, per_head):
    """Blocks of 6, 2 and 4 query heads of 8 over 2 KV heads (no biases), q/k norms of 8, the
    softplus gate (hidden x heads per head, hidden x heads x 8 per channel), two norms; block
    0 dense (56), blocks 1-2 a router (4 x hidden) with its score-bias parameter (4), 4 experts
    of 24 and a shared expert of 40."""
    config = LagunaConfig(**SHAPE, **EXPERTS, gating=gating, shared_expert_intermediate_size=40,
                          num_attention_heads_per_layer=[6, 2, 4])
    d, kv = 48, 2 * 8

    def attention(heads):
        q = heads * 8
        return 2 * d * q + 2 * d * kv + 2 * 8 + d * (heads if per_head else q)

    dense = attention(6) + 3 * d * 56 + 2 * d
    sparse = [attention(h) + 4 * d + 4 + 4 * 3 * d * 24 + 3 * d * 40 + 2 * d for h in (2, 4)]
    assert [block_param_count(config, s) for s in layer_shapes(config)] == [dense, *sparse]
    assert [s["num_attention_heads"] for s in layer_shapes(config)] == [6, 2, 4]


def test_mellum_blocks_counted_by_hand():
    """Qwen3-MoE's attention (6 and 2 heads of 8, no biases, q/k norms of 8), two norms;
    blocks 0 and 2 dense (56) as mlp_layer_types says, block 1 a router over 4 experts of 24,
    no shared expert."""
    config = MellumConfig(**SHAPE, **EXPERTS, mlp_layer_types=["dense", "sparse", "dense"])
    d, q, kv = 48, 6 * 8, 2 * 8
    attention = 2 * d * q + 2 * d * kv + 2 * 8
    dense = attention + 3 * d * 56 + 2 * d
    sparse = attention + 4 * d + 4 * 3 * d * 24 + 2 * d
    assert [block_param_count(config, s) for s in layer_shapes(config)] == [dense, sparse,
                                                                            dense]


@pytest.mark.parametrize("name,values,left_out", [
    ("afmoe", {"num_hidden_layers": 8, "global_attn_every_n_layers": 3, "num_dense_layers": 2},
     ("layer_types",)),
    ("laguna", {"num_hidden_layers": 5}, ("layer_types", "mlp_layer_types",
                                          "num_attention_heads_per_layer")),
    ("mellum", {"num_hidden_layers": 5}, ("layer_types", "mlp_layer_types"))])
def test_block_kinds_read_from_config_json_alone_as_the_classes_derive_them(name, values,
                                                                            left_out):
    """A config.json without its per-block lists: prunebench's reading (no transformers) gives
    each block the window, heads and MLP kind the family's config class derives."""
    config = family_classes(name)[0](**{**SHAPE, **EXPERTS, "sliding_window": 6, **values})
    raw = {k: v for k, v in config.to_dict().items() if k not in (*left_out, "dtype")}
    ours = config_from_dict(raw)
    assert sliding_windows(ours) == sliding_windows(config)
    assert sparse_mlp_blocks(ours) == sparse_mlp_blocks(config)
    assert layer_shapes(ours) == layer_shapes(config)
    assert count_params(ours) == count_params(config)
    if name == "afmoe":  # every third block global, the first two dense
        assert sliding_windows(ours) == [6, 6, None] * 2 + [6, 6]
        assert sparse_mlp_blocks(ours) == [False, False] + [True] * 6
    else:  # every block full; Laguna's first dense, Mellum's none
        assert sliding_windows(ours) == [None] * 5
        assert sparse_mlp_blocks(ours) == [name == "mellum"] + [True] * 4


# --------------------------------------------------------------------------- depth pruning

def kept(values: list, drop: list[int]) -> list:
    return [v for i, v in enumerate(values) if i not in drop]


def renumbered(name: str, drop: list[int]) -> dict:
    """The per-block config values of the tiny model's kept blocks, as transformers' model of
    those blocks is given them."""
    config = FAMILIES[name]()
    values = {"layer_types": kept(config.layer_types, drop)}
    if name == "afmoe":  # the dense prefix: block 0's
        values["num_dense_layers"] = 0 if 0 in drop else 1
    else:
        values["mlp_layer_types"] = kept(config.mlp_layer_types, drop)
    if name == "laguna":
        values["num_attention_heads_per_layer"] = kept(config.num_attention_heads_per_layer,
                                                       drop)
    return values


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("drop", [[0], [1, 2], [3]])
def test_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(name, drop):
    check_depth_pruning(name, drop, **renumbered(name, drop))
    model = family_model(name)
    remove_blocks(model, drop)
    for key, value in renumbered(name, drop).items():
        assert getattr(model.config, key) == value, key


def test_afmoe_global_blocks_rotate_nothing_so_the_kept_blocks_keep_their_kinds():
    """Block 0 removed: the kept blocks are global, sliding, global (blocks 1-3). transformers'
    model of those blocks given the layer_types its config would derive (sliding, global,
    sliding) computes other logits: which blocks rotate and attend within the window is each
    kept block's own, as prunebench's config.json says it."""
    dense = family_model("afmoe")
    model = copy.deepcopy(dense)
    remove_blocks(model, [0])
    assert model.config.layer_types == [FULL, SLIDING, FULL]
    values = {**FAMILIES["afmoe"]().to_dict(), "num_hidden_layers": 3, "num_dense_layers": 0}
    values.pop("layer_types")
    derived = theirs("afmoe", values, kept_blocks_state(dense, [1, 2, 3]))
    assert derived.config.layer_types == [SLIDING, FULL, SLIDING]
    x = ids(2, 24)
    assert not torch.allclose(logits(model, x), logits(derived, x), atol=1e-3)


@pytest.mark.parametrize("name", NAMES)
def test_a_depth_pruned_save_reloads_and_decodes_as_transformers(name, tmp_path):
    check_a_depth_pruned_reload_decodes_as_transformers(
        family_model(name), [1], family_classes(name)[1], tmp_path / "pruned")


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_a_half_precision_afmoe_load_keeps_in_float32_what_transformers_keeps(dtype, tmp_path):
    """The routers' expert_bias in float16 (AfmoePreTrainedModel's `_keep_in_fp32_modules`,
    the norms' too, in 5.17) and in bfloat16 too where the class keeps it strictly
    (`_keep_in_fp32_modules_strict`, 5.25): prunebench's load holds each tensor in the dtype
    transformers' does, and computes its logits."""
    ours = check_half_precision_load(family_model("afmoe"), dtype, tmp_path)
    strict = "expert_bias" in (getattr(family_classes("afmoe")[1],
                                       "_keep_in_fp32_modules_strict", None) or ())
    kept = torch.float32 if strict or dtype == torch.float16 else dtype
    assert ours.model.layers[1].mlp.expert_bias.dtype == kept
    assert ours.model.layers[1].mlp.experts.gate_up_proj.dtype == dtype


# --------------------------------------------------------------------------- checkpoints

def published_laguna_names(state: dict) -> dict:
    """Laguna's state under the names its published checkpoints give (transformers'
    conversion of `laguna` renames them back): the routers' score biases under the experts,
    the shared expert singular."""
    held_and_published = ((".mlp.gate.e_score_correction_bias",
                           ".mlp.experts.e_score_correction_bias"),
                          (".mlp.shared_experts.", ".mlp.shared_expert."))
    renamed = {}
    for key, tensor in state.items():
        for held, published in held_and_published:
            key = key.replace(held, published)
        renamed[key] = tensor
    return renamed


def mtp_layer(d: int) -> dict:
    """A multi-token-prediction layer under Mellum's published `mtp.*` names, which
    MellumForCausalLM does not build (and ignores on loading)."""
    g = torch.Generator().manual_seed(3)
    shapes = {"mtp.0.eh_proj.weight": (d, 2 * d), "mtp.0.enorm.weight": (d,),
              "mtp.0.hnorm.weight": (d,), "mtp.0.mlp.experts.0.gate_proj.weight": (32, d)}
    return {n: torch.randn(s, generator=g) for n, s in shapes.items()}


@pytest.mark.parametrize("name", NAMES)
def test_a_published_per_expert_checkpoint_imports_as_transformers_loads_it(
        name, tmp_path, tokenizer):  # noqa: F811 - the fixture
    """One tensor per expert (and Laguna's published names, Mellum's MTP layer): transformers'
    conversion on loading, prunebench's one-time fusion on import and the model the weights
    came from compute the same logits; the MTP layer dropped and recorded."""
    model = family_model(name)
    with torch.no_grad():  # (AFMoE's routers start at zero: random ones choose by token)
        for pname, p in model.named_parameters():
            if pname.endswith("router.gate.weight"):
                p.copy_(torch.randn_like(p))
    state = per_expert_state(model, name)  # Qwen2-MoE's per-expert names, every family's
    assert "model.layers.1.mlp.experts.3.down_proj.weight" in state
    if name == "laguna":
        state = published_laguna_names(state)
        assert "model.layers.1.mlp.experts.e_score_correction_bias" in state
        assert "model.layers.1.mlp.shared_expert.down_proj.weight" in state
    if name == "mellum":
        state = {**state, **mtp_layer(64)}
    record = check_published_import(model, family_classes(name)[1], state, tmp_path,
                                    tokenizer)
    assert record["experts_per_block"] == {f"model.layers.{i}": 4 for i, sparse in enumerate(
        sparse_mlp_blocks(model.config)) if sparse}
    assert record.get("dropped_blocks") == (["mtp"] if name == "mellum" else None)


def check_published_import(model, model_class, state, tmp_path, tokenizer) -> dict:  # noqa: F811
    """`state` (`model`'s weights as published) in a hub-like folder: transformers' conversion
    on loading (`model_class`), prunebench's one-time fusion on import and `model` compute the
    same logits, the imported model counted as it holds; returns the fusion's record."""
    config = json.loads(model.config.to_json_string())
    write_published_folder(tmp_path / "hub", tokenizer, config, state)
    assert moe_fuse.needs_fusion(tmp_path / "hub")
    x = ids()
    published = model_class.from_pretrained(tmp_path / "hub", dtype=torch.float32).eval()
    assert torch.equal(logits(published, x), logits(model, x))
    out = import_local(f"local:{tmp_path / 'hub'}", tmp_path / "imported")
    ours = load_model(out)
    assert torch.equal(logits(ours, x), logits(model, x))
    assert numel(ours) == count_params(ours.config) == numel(model)
    return json.loads((out / moe_fuse.RECORD).read_text())


def test_qwen2_moes_own_shared_expert_name_is_not_renamed_as_lagunas():
    """Laguna's renames are its checkpoints' alone: Qwen2-MoE's `mlp.shared_expert.*` is the
    name its class holds."""
    name = "model.layers.0.mlp.shared_expert.up_proj.weight"
    assert moe_fuse.fused_name(name, "qwen2_moe") == name
    assert moe_fuse.fused_name(name, "laguna") == "model.layers.0.mlp.shared_experts.up_proj.weight"


# --------------------------------------------------------------------------- refusals

def afmoe_config_json(**changes) -> dict:
    """The tiny AFMoE's config.json values (two sliding blocks, two global) with `changes`."""
    raw = {k: v for k, v in FAMILIES["afmoe"]().to_dict().items() if k != "dtype"}
    return {**raw, **changes}


def transformers_stops_on(raw: dict) -> None:
    """transformers (5.17 and 5.25) reads `raw` into an AfmoeConfig, builds the model and runs
    a forward; one of the three stops (a TypeError, or the mask code's ValueError)."""
    with pytest.raises((TypeError, ValueError)):
        model = AfmoeForCausalLM(AfmoeConfig.from_dict(raw))
        model(ids(1, 8))


@pytest.mark.parametrize("key", sorted(AFMOE_NOT_NULL))
def test_an_afmoe_config_json_with_a_null_it_cannot_run_is_refused_when_read(key, tmp_path):
    """AfmoeConfig types these keys `int | None` and takes a null, which its model reads as a
    number (a TypeError as transformers reads the config, builds the model or runs its first
    forward): every reader of the config.json refuses it first, naming the key, the ones
    without transformers too (whose counts would else fail or guess)."""
    raw = afmoe_config_json(**{key: None})
    if key == "global_attn_every_n_layers":  # read where config.json gives no layer_types
        del raw["layer_types"]
    if key != "global_attn_every_n_layers":
        AfmoeConfig.from_dict(raw)  # taken
    transformers_stops_on(raw)
    folder = _write_config(tmp_path / "m", raw)
    for read in (checked_config_json, checkpoint_config, load_config):
        with pytest.raises(FamilyUnsupported, match=f"gives {key}=null for an AFMoE model.*"
                                                    "trained with"):
            read(folder)


def test_an_afmoe_null_period_beside_layer_types_is_not_refused(tmp_path):
    """A null global_attn_every_n_layers where config.json lists layer_types (AfmoeConfig
    derives nothing from it): transformers runs the model, and the config.json reads and counts
    as transformers' model."""
    raw = afmoe_config_json(global_attn_every_n_layers=None)
    model = AfmoeForCausalLM(AfmoeConfig.from_dict(raw))
    assert model(ids(1, 8)).logits.isfinite().all()
    folder = _write_config(tmp_path / "m", raw)
    assert count_params(checkpoint_config(folder)) == numel(model)
    assert load_config(folder).layer_types == model.config.layer_types


def test_a_null_afmoe_window_stops_transformers_with_every_block_global():
    """Its model builds the sliding-window mask whatever the blocks are: a null window stops
    the first forward (5.17 and 5.25) even where no block is sliding, so it is refused always."""
    transformers_stops_on(afmoe_config_json(sliding_window=None, layer_types=[FULL] * 4))


@pytest.mark.parametrize("name,dense", [
    ("afmoe", {"num_dense_layers": 4}), ("laguna", {"mlp_layer_types": ["dense"] * 4}),
    ("mellum", {"mlp_layer_types": ["dense"] * 4})])
@pytest.mark.parametrize("method", ["llm_pruner", "flap", "wanda_sp", "blockpruner",
                                    "the compiled backend"])
def test_width_methods_and_the_compiled_decoder_are_refused_even_without_experts(name, dense,
                                                                                 method):
    """Refused as mixtures of experts, and so is a config of dense blocks only: its attention
    (AFMoE's and Laguna's output gates, Laguna's heads a block, Mellum's windows and rotary
    bases a layer type) is no part of prunebench's width surgery or compiled decoder."""
    config = FAMILIES[name]()
    check_refused_as_a_mixture_of_experts(config, method, family_classes(name)[1].__name__)
    for key, value in dense.items():
        setattr(config, key, value)
    assert not any(sparse_mlp_blocks(config))
    with pytest.raises(FamilyUnsupported, match=f"mixture-of-experts family '{name}'"):
        refuse_moe(config, method)
