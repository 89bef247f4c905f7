"""dots.llm1 (dots1, Dots1ForCausalLM) and FlexOlmo (flex_olmo, FlexOlmoForCausalLM): the
pieces of their own, as mixtures of experts (depth pruning, the hf and hf_static backends).

dots.llm1: exact counts against transformers' meta models (dense first blocks, shared experts,
q/k/v/o biases, tying) and by hand; a config.json without its experts refused, as transformers
cannot build it; each block's window as Dots1Config derives it from max_window_layers, read
from config.json alone; depth pruning equal to transformers' model of the kept blocks (a
removed dense block leaving first_k_dense_replace one lower), saved and reloaded by prunebench
and by transformers, the hf and hf_static tokens transformers'; its float32 router kept so by a
half-precision load as transformers keeps it; the refusals of a mixture of experts.

FlexOlmo: exact counts (OLMo-2's output norms and whole-projection q/k norms, OLMoE's experts)
and by hand; depth pruning equal to transformers' model of the kept blocks, reloaded by
prunebench and by transformers with the hf backends decoding as generate; the refusals.

tests/test_families.py runs the shared per-family tests on both (the depth methods, save and
reload, the hf backends, evaluation); tests/test_moe.py their published per-expert checkpoints,
fused on import as transformers loads them."""

from __future__ import annotations

import pytest
import torch
from transformers import Dots1Config, Dots1ForCausalLM, FlexOlmoConfig

from prunebench import PrunebenchError
from prunebench.checkpoint.param_count import (block_param_count, checked_config_json,
                                               checkpoint_config, config_from_dict,
                                               count_params, layer_shapes, sliding_windows)
from prunebench.modeling import load_config
from test_families import FAMILIES, _write_config, family_model, ids
from test_glm4_moe import check_half_precision_load, check_refused_as_a_mixture_of_experts
from test_helium_vaultgemma_granitemoeshared import (SHAPE, check_counts, check_depth_pruning,
                                                     family_classes, meta_count)
from test_qwen3_next import check_a_depth_pruned_reload_decodes_as_transformers

pytestmark = pytest.mark.usefixtures("one_thread")

DOTS1_EXPERTS = dict(moe_intermediate_size=24, n_routed_experts=4, n_shared_experts=2,
                     num_experts_per_tok=2)
# (FlexOlmoConfig's default padding token, 100277, lies outside the 97 embeddings of SHAPE)
FLEX_OLMO_PAD = dict(pad_token_id=0)


# --------------------------------------------------------------------------- dots.llm1

@pytest.mark.parametrize("values", [{**DOTS1_EXPERTS},
                                    {**DOTS1_EXPERTS, "first_k_dense_replace": 1},
                                    {**DOTS1_EXPERTS, "first_k_dense_replace": 3,
                                     "attention_bias": True},
                                    {**DOTS1_EXPERTS, "n_shared_experts": 1,
                                     "tie_word_embeddings": True, "num_key_value_heads": 6}])
def test_dots1_counts_equal_transformers_parameters(values):
    check_counts("dots1", values)


def test_dots1_blocks_counted_by_hand():
    """A dense block: q/k/v/o of 6 and 2 heads of 8 with biases, q_norm / k_norm of head_dim,
    gate/up/down of 56, two RMSNorms. A sparse one: the same attention, a router over 4
    experts, 4 experts of 24 (gate, up and down each), 2 shared experts as one MLP of 48."""
    config = Dots1Config(**SHAPE, **DOTS1_EXPERTS, first_k_dense_replace=1, attention_bias=True)
    d, q, kv = 48, 6 * 8, 2 * 8
    attention = (d * q + q) + 2 * (d * kv + kv) + (q * d + d) + 2 * 8
    dense = attention + 3 * d * 56 + 2 * d
    sparse = attention + 4 * d + 4 * 3 * d * 24 + 3 * d * 48 + 2 * d
    assert [block_param_count(config, s) for s in layer_shapes(config)] == [dense, sparse,
                                                                            sparse]
    assert (dense, sparse) == (14_448, 27_312)
    assert count_params(config) == 2 * 97 * d + d + dense + 2 * sparse


@pytest.mark.parametrize("missing", ["n_routed_experts", "n_shared_experts",
                                     "num_experts_per_tok"])
def test_a_dots1_config_json_without_its_experts_is_refused(missing, tmp_path):
    """Dots1Config leaves its expert keys None where config.json gives none, which its sparse
    blocks read with no fallback: every reader refuses such a config.json, and transformers
    itself cannot build or run the model. With no sparse block (first_k_dense_replace covering
    every block) nothing reads them, and it is read."""
    raw = {k: v for k, v in family_model("dots1").config.to_dict().items() if k != missing}
    with pytest.raises(TypeError):  # transformers' own failure, as it builds or runs it
        Dots1ForCausalLM(Dots1Config.from_dict(raw))(input_ids=ids(1, 4))
    folder = _write_config(tmp_path / "m", raw)
    for read in (checked_config_json, checkpoint_config, load_config):
        with pytest.raises(PrunebenchError, match=f"gives no {missing} for a dots.llm1 model "
                                                  "with sparse blocks .blocks 1 to 3"):
            read(folder)
    dense = _write_config(tmp_path / "dense", {**raw, "first_k_dense_replace": 4})
    assert count_params(checkpoint_config(dense)) == meta_count(
        "dots1", Dots1Config.from_dict({**raw, "first_k_dense_replace": 4}))


@pytest.mark.parametrize("values, windows", [
    ({}, [None, None, 6, 6]), ({"max_window_layers": 1}, [None, 6, 6, 6]),
    ({"sliding_window": None}, [None] * 4),
    ({"layer_types": ["sliding_attention", "full_attention"] * 2}, [6, None, 6, None])])
def test_dots1_windows_read_from_config_json_are_dots1configs(values, windows):
    """Each block's window as Dots1Config makes it where config.json gives no layer_types (a
    window from block max_window_layers on, none where sliding_window is null), read without
    transformers as transformers reads it."""
    raw = {k: v for k, v in FAMILIES["dots1"]().to_dict().items() if k != "layer_types"}
    raw.update(values)
    assert sliding_windows(Dots1Config.from_dict(raw)) == windows == sliding_windows(
        config_from_dict(raw))


@pytest.mark.parametrize("drop", [[0], [1, 2], [3]])
def test_dots1_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(drop):
    """Block 0 is dense (first_k_dense_replace 1): removing it leaves none; the windows start
    at block 2 (max_window_layers), each kept block keeping its own."""
    dense_kept = 0 if 0 in drop else 1
    kinds = ["full_attention"] * 2 + ["sliding_attention"] * 2
    check_depth_pruning("dots1", drop, first_k_dense_replace=dense_kept,
                        layer_types=[k for b, k in enumerate(kinds) if b not in drop])


@pytest.mark.parametrize("name", ["dots1", "flex_olmo"])
def test_a_depth_pruned_reload_decodes_as_transformers(name, tmp_path):
    """Saved with blocks 1 and 2 removed, loaded by prunebench and by transformers' class: the
    hf backend's tokens are transformers' generate's, and hf_static's too."""
    check_a_depth_pruned_reload_decodes_as_transformers(family_model(name), [1, 2],
                                                        family_classes(name)[1],
                                                        tmp_path / "pruned")


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_a_half_precision_dots1_load_keeps_in_float32_what_transformers_keeps(dtype, tmp_path):
    """The score-correction buffers in every version, the router weights too in transformers
    5.25 (Dots1PreTrainedModel._keep_in_fp32_modules_strict): prunebench's load holds each
    tensor in the dtype transformers' does, and computes its logits."""
    ours = check_half_precision_load(family_model("dots1"), dtype, tmp_path)
    assert ours.model.layers[1].mlp.gate.e_score_correction_bias.dtype == torch.float32
    assert ours.model.layers[1].mlp.experts.gate_up_proj.dtype == dtype


# --------------------------------------------------------------------------- FlexOlmo

@pytest.mark.parametrize("values", [{}, {"attention_bias": True},
                                    {"num_experts": 5, "num_experts_per_tok": 3,
                                     "tie_word_embeddings": True},
                                    {"num_key_value_heads": 6}])
def test_flex_olmo_counts_equal_transformers_parameters(values):
    check_counts("flex_olmo", {**FLEX_OLMO_PAD, **values})


def test_flex_olmo_block_counted_by_hand():
    """One block: q/k/v/o of 6 and 2 heads of 8, q_norm over the whole query projection (48)
    and k_norm over the whole key projection (16), a router over 7 experts (FlexOlmoConfig's
    default), 7 experts of 56, two output RMSNorms of hidden."""
    config = FlexOlmoConfig(**SHAPE, **FLEX_OLMO_PAD)
    d, q, kv, m = 48, 6 * 8, 2 * 8, 56
    by_hand = d * q + 2 * d * kv + q * d + (q + kv) + 7 * d + 7 * 3 * d * m + 2 * d
    assert by_hand == 63_088
    assert count_params(config) == 2 * 97 * d + d + 3 * by_hand


@pytest.mark.parametrize("drop", [[0], [1, 2], [3]])
def test_flex_olmo_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(drop):
    check_depth_pruning("flex_olmo", drop)


@pytest.mark.parametrize("name, model_class", [("dots1", "Dots1ForCausalLM"),
                                               ("flex_olmo", "FlexOlmoForCausalLM")])
@pytest.mark.parametrize("method", ["LLM-Pruner", "FLAP", "the compiled backend"])
def test_refuses_what_reshapes_its_experts(name, model_class, method):
    check_refused_as_a_mixture_of_experts(FAMILIES[name](), method, model_class)


def test_the_known_dots1_shape_counts_what_transformers_builds():
    """dots.llm1.inst's config.json: 62 blocks of hidden 4096, 32 heads of 128 (MHA) with
    per-head q/k norms, block 0 dense (10944), 61 sparse (a 128 x 4096 router, 128 experts of
    1408, 2 shared experts fused in one MLP of 2816), untied; by hand, and a batch-1 step's
    reads (6 routed experts)."""
    from prunebench.benchmark.floors import read_params
    from prunebench.checkpoint.architectures import (architecture_config, architecture_values,
                                                     known_shape_of)

    config = architecture_config("dots.llm1.inst")
    d, vocab = 4096, 152064
    attention = 4 * d * d + 2 * 128 + 2 * d  # with the block's two norms
    dense = attention + 3 * d * 10944
    routed = 3 * d * 1408
    sparse = attention + 128 * d + 128 * routed + 3 * d * 2816
    total = 2 * vocab * d + d + dense + 61 * sparse
    assert count_params(config) == total == meta_count("dots1", config) == 142_774_373_888
    assert count_params(config_from_dict(architecture_values("dots.llm1.inst"))) == total
    assert read_params(config) == total - vocab * d - 61 * 122 * routed == 13_393_726_976
    assert known_shape_of("rednote-hilab/dots.llm1.inst") == "dots.llm1.inst"
    assert known_shape_of("rednote-hilab/dots.llm1.base") is None  # no source of its own
