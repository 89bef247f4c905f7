"""EXAONE-MoE (exaone_moe, ExaoneMoeForCausalLM; K-EXAONE), GLM-4.7-Flash (glm4_moe_lite,
Glm4MoeLiteForCausalLM) and Youtu (youtu, YoutuForCausalLM; Youtu-LLM-2B): the pieces of their
own, as depth-only families (depth pruning, the hf and hf_static backends).

EXAONE-MoE: EXAONE-4's attention (per-head q/k norms, global blocks without rotary positions)
in OLMoE's block (norms before the sublayers) with DeepSeek-V3's experts in the blocks
`mlp_layer_types` names sparse. Counts against transformers' meta models and by hand; each
block's attention and MLP kind read from config.json alone as ExaoneMoeConfig derives them;
depth pruning equal to transformers' model of the kept blocks, both lists renumbered (and shown
to matter); the published layout (score biases under `mlp.e_score_correction_bias`, an `mtp.*`
layer) imported as transformers loads it.

GLM-4.7-Flash: DeepSeek-V3's multi-head latent attention with GLM-4.5's experts, block 0 dense
as Glm4MoeLiteConfig's `mlp_layer_types` says (its config.json's first_k_dense_replace unread).
Counts, block kinds, depth pruning, the published layout (per expert, a multi-token-prediction
layer after the blocks) imported as transformers loads it.

Youtu: DeepSeek-V3's latent attention in a dense model (Qwen3's MLP): counts, depth pruning,
the refusals of a dense model of latent attention (MiniCPM3's).

All three: a depth-pruned save reloaded by prunebench and by transformers, the hf and
hf_static tokens transformers' generate's; the width methods' and compiled decoder's refusals.
tests/test_families.py runs the shared per-family tests on them; tests/test_moe.py the
per-expert import of the two mixtures of experts."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from huggingface_hub.errors import StrictDataclassFieldValidationError
from transformers import ExaoneMoeConfig, Glm4MoeLiteConfig, YoutuConfig

from prunebench import FamilyUnsupported, PrunebenchError
from prunebench.benchmark.compiled import StaticDecoder
from prunebench.checkpoint import moe_fuse
from prunebench.checkpoint.local_import import import_local
from prunebench.checkpoint.param_count import (block_param_count, checked_config_json,
                                               checkpoint_config, config_from_dict, count_params, layer_shapes,
                                               refuse_moe, sliding_windows, sparse_mlp_blocks)
from prunebench.methods import surgery
from prunebench.modeling import count_params_meta, load_config, load_model, remove_blocks
from prunebench.plan.lora_settings import expert_target_problem
from test_deepseek import random_model, write_published_folder
from test_families import FAMILIES, _write_config, family_model, ids, logits, numel
from test_families import tokenizer  # noqa: F401 - a fixture
from test_glm4_moe import (check_half_precision_load, check_loads_as_transformers,
                           check_refused_as_a_mixture_of_experts, write_published)
from test_helium_vaultgemma_granitemoeshared import check_depth_pruning, family_classes
from test_moe import per_expert_state
from test_qwen3_next import check_a_depth_pruned_reload_decodes_as_transformers, mtp_tensors

pytestmark = pytest.mark.usefixtures("one_thread")

NAMES = ["exaone_moe", "glm4_moe_lite", "youtu"]
SLIDING, FULL = "sliding_attention", "full_attention"
# 6 query heads of 8 (EXAONE-MoE) on 2 KV heads; latent attention: 6 heads (as many KV heads,
# as transformers' latent attention expands its keys and values), ranks 20 and 12.
EXAONE = dict(vocab_size=97, hidden_size=48, intermediate_size=56, num_hidden_layers=3,
              num_attention_heads=6, num_key_value_heads=2, head_dim=8,
              moe_intermediate_size=24, num_experts=4, num_experts_per_tok=2)
LATENT = dict(vocab_size=97, hidden_size=48, intermediate_size=56, num_hidden_layers=3,
              num_attention_heads=6, num_key_value_heads=6, q_lora_rank=20, kv_lora_rank=12,
              qk_nope_head_dim=8, qk_rope_head_dim=4, v_head_dim=6)
GLM_EXPERTS = dict(moe_intermediate_size=24, n_routed_experts=4, num_experts_per_tok=2)


def check_counts(config) -> None:
    """count_params (of the config, and of its config.json values alone) equals the parameters
    of transformers' class built from it, and those of prunebench's meta model."""
    with torch.device("meta"):
        built = sum(p.numel() for p in family_classes(config.model_type)[1](config).parameters())
    assert count_params(config) == count_params_meta(config) == built
    raw = {k: v for k, v in config.to_dict().items() if k != "dtype"}
    assert count_params(config_from_dict(raw)) == built


# --------------------------------------------------------------------------- counts

@pytest.mark.parametrize("values", [
    {}, {"num_shared_experts": 2, "first_k_dense_replace": 0},
    {"num_shared_experts": 0, "first_k_dense_replace": 2, "tie_word_embeddings": True},
    {"mlp_layer_types": ["sparse", "dense", "sparse"], "num_key_value_heads": 6}])
def test_exaone_moe_counts_equal_transformers_parameters(values):
    check_counts(ExaoneMoeConfig(**{**EXAONE, **values}))


def test_exaone_moe_blocks_counted_by_hand():
    """A dense block: q/k/v/o of 6 and 2 heads of 8 (no biases), a q_norm and a k_norm of 8, a
    SwiGLU MLP of 56, two RMSNorms. A sparse one: the same attention and norms, a router over 4
    experts, 4 experts of 24 and 2 shared experts as one MLP of 48."""
    config = ExaoneMoeConfig(**EXAONE, num_shared_experts=2, first_k_dense_replace=1)
    d, q, kv = 48, 6 * 8, 2 * 8
    attention = 2 * d * q + 2 * d * kv + 2 * 8 + 2 * d
    dense = attention + 3 * d * 56
    sparse = attention + 4 * d + 4 * 3 * d * 24 + 3 * d * 48
    assert [block_param_count(config, s) for s in layer_shapes(config)] == [dense, sparse,
                                                                            sparse]
    assert (dense, sparse) == (14_320, 27_184)
    assert count_params(config) == 2 * 97 * d + d + dense + 2 * sparse  # untied


@pytest.mark.parametrize("values", [
    {**GLM_EXPERTS}, {**GLM_EXPERTS, "n_shared_experts": 2, "q_lora_rank": None},
    {**GLM_EXPERTS, "attention_bias": True, "tie_word_embeddings": True},
    {**GLM_EXPERTS, "mlp_layer_types": ["dense", "dense", "sparse"]}])
def test_glm4_moe_lite_counts_equal_transformers_parameters(values):
    check_counts(Glm4MoeLiteConfig(**{**LATENT, **values}))


def latent_attention_by_hand(d: int = 48, heads: int = 6) -> int:
    """One of the tests' latent attentions, no biases: q_a_proj (48 -> 20), q_a_layernorm,
    q_b_proj (-> 6 heads of 8 + 4); kv_a_proj_with_mqa (48 -> 12 + 4), kv_a_layernorm,
    kv_b_proj (-> 6 x (8 + 6)); o_proj (6 x 6 -> 48)."""
    q = d * 20 + 20 + 20 * heads * 12
    kv = d * 16 + 12 + 12 * heads * 14
    return q + kv + heads * 6 * d


def test_glm4_moe_lite_blocks_counted_by_hand():
    """Block 0 dense (a SwiGLU MLP of 56), the others a router over 4 experts, 4 experts of 24
    and one shared expert of 24; the latent attention and two RMSNorms in each."""
    config = Glm4MoeLiteConfig(**LATENT, **GLM_EXPERTS)
    d = 48
    dense = latent_attention_by_hand() + 3 * d * 56 + 2 * d
    sparse = latent_attention_by_hand() + 4 * d + 4 * 3 * d * 24 + 3 * d * 24 + 2 * d
    assert [block_param_count(config, s) for s in layer_shapes(config)] == [dense, sparse,
                                                                            sparse]
    assert (dense, sparse) == (14_096, 23_504)
    assert count_params(config) == 2 * 97 * d + d + dense + 2 * sparse


@pytest.mark.parametrize("values", [{}, {"q_lora_rank": None}, {"attention_bias": True},
                                    {"tie_word_embeddings": False, "v_head_dim": 10}])
def test_youtu_counts_equal_transformers_parameters(values):
    check_counts(YoutuConfig(**{**LATENT, **values}))


def test_youtu_block_counted_by_hand():
    """Every block: the latent attention, a SwiGLU MLP of 56 without biases, two RMSNorms;
    tied as YoutuConfig is by default."""
    config = YoutuConfig(**LATENT)
    d = 48
    block = latent_attention_by_hand() + 3 * d * 56 + 2 * d
    assert [block_param_count(config, s) for s in layer_shapes(config)] == [block] * 3
    assert count_params(config) == 97 * d + d + 3 * block


def test_the_known_glm_4_7_flash_shape_counts_what_transformers_builds():
    """GLM-4.7-Flash's config.json keys: 47 blocks of hidden 2048, latent attention of 20
    heads (ranks 768 / 512, 192 + 64 query / key and 256 value channels a head), block 0 dense
    (10240), then a 64 x 2048 router, 64 experts of 1536 and one shared one, untied; by hand,
    against transformers' meta model, from its values alone, and a batch-1 step's reads (4
    routed experts: the card's A3B)."""
    from prunebench.benchmark.floors import read_params
    from prunebench.checkpoint.architectures import (architecture_config, architecture_values,
                                                     known_shape_of)

    config = architecture_config("glm-4.7-flash")
    d, vocab = 2048, 154880
    attention = (d * 768 + 768 + 768 * 20 * 256 + d * 576 + 512 + 512 * 20 * 448
                 + 20 * 256 * d + 2 * d)  # with the block's two norms
    routed = 3 * d * 1536
    dense, sparse = attention + 3 * d * 10240, attention + 64 * d + 64 * routed + routed
    total = 2 * vocab * d + d + dense + 46 * sparse
    assert count_params(config) == total == count_params_meta(config) == 29_943_390_976
    assert count_params(config_from_dict(architecture_values("glm-4.7-flash"))) == total
    assert read_params(config) == total - vocab * d - 46 * 60 * routed == 3_579_568_896
    assert known_shape_of("zai-org/GLM-4.7-Flash") == "glm-4.7-flash"


def test_the_known_youtu_llm_2b_shape_counts_what_transformers_builds():
    """Youtu-LLM-2B's config.json keys: 32 blocks of hidden 2048, latent attention of 16
    heads (ranks 1536 / 512, 128 + 64 query / key and 128 value channels a head), an MLP of
    6144, tied; by hand, against transformers' meta model and from its values alone."""
    from prunebench.checkpoint.architectures import (architecture_config, architecture_values,
                                                     known_shape_of)

    config = architecture_config("youtu-llm-2b")
    d, vocab = 2048, 128256
    attention = (d * 1536 + 1536 + 1536 * 16 * 192 + d * 576 + 512 + 512 * 16 * 256
                 + 16 * 128 * d)
    block = attention + 3 * d * 6144 + 2 * d
    total = vocab * d + d + 32 * block
    assert count_params(config) == total == count_params_meta(config) == 1_961_560_064
    assert count_params(config_from_dict(architecture_values("youtu-llm-2b"))) == total
    assert known_shape_of("tencent/Youtu-LLM-2B") == "youtu-llm-2b"


# --------------------------------------------------------------------------- block kinds

@pytest.mark.parametrize("values", [{}, {"first_k_dense_replace": 0},
                                    {"first_k_dense_replace": 2, "sliding_window_pattern": 2,
                                     "num_hidden_layers": 6},
                                    {"mlp_layer_types": ["sparse", "dense", "sparse"]},
                                    {"layer_types": [FULL, SLIDING, FULL]}])
def test_exaone_moe_block_kinds_read_from_config_json_are_its_classs(values):
    """Each block's attention and MLP kind as ExaoneMoeConfig derives them where config.json
    gives no lists (every sliding_window_pattern-th block global, the first
    first_k_dense_replace blocks dense), read without transformers, and counted alike."""
    raw = {**EXAONE, "model_type": "exaone_moe", "sliding_window": 6, **values}
    theirs, ours = ExaoneMoeConfig(**raw), config_from_dict(raw)
    assert ours.layer_types == theirs.layer_types
    assert ours.mlp_layer_types == theirs.mlp_layer_types
    assert sliding_windows(ours) == sliding_windows(theirs)
    assert sparse_mlp_blocks(ours) == sparse_mlp_blocks(theirs)
    assert count_params(ours) == count_params(theirs)


@pytest.mark.parametrize("values, match", [
    ({"sliding_window": None}, "sliding_window=null for an EXAONE-MoE model"),
    ({"sliding_window_pattern": "LLLG"}, "sliding_window_pattern='LLLG' and no layer_types"),
    ({"sliding_window_pattern": None}, "sliding_window_pattern=None and no layer_types")])
def test_an_exaone_moe_config_json_its_class_cannot_read_is_refused(values, match, tmp_path):
    """ExaoneMoeConfig raises on each (a null window; a pattern it cannot divide by, where
    no layer_types are given): refused when read, before any weight loads. K-EXAONE's own
    "LLLG" comes with its layer_types, and is read."""
    raw = {**EXAONE, "model_type": "exaone_moe", **values}
    with pytest.raises((TypeError, StrictDataclassFieldValidationError)):  # transformers'
        ExaoneMoeConfig(**raw)
    folder = _write_config(tmp_path / "m", raw)
    for read in (checked_config_json, checkpoint_config, load_config):
        with pytest.raises(PrunebenchError, match=match):
            read(folder)
    given = {**raw, "sliding_window": 6, "layer_types": [SLIDING, SLIDING, FULL]}
    if values.get("sliding_window_pattern") == "LLLG":
        read = checked_config_json(_write_config(tmp_path / "given", given))
        assert read["layer_types"] == ExaoneMoeConfig(**given).layer_types


@pytest.mark.parametrize("values", [{}, {"first_k_dense_replace": 2},
                                    {"mlp_layer_types": ["dense", "dense", "sparse"]}])
def test_glm4_moe_lite_block_kinds_read_from_config_json_are_its_classs(values):
    """Glm4MoeLiteConfig makes block 0 dense and the others sparse where config.json gives no
    mlp_layer_types, whatever its first_k_dense_replace says (GLM-4.7-Flash's config.json
    gives 1): read so without transformers, and counted alike."""
    raw = {**LATENT, **GLM_EXPERTS, "model_type": "glm4_moe_lite", **values}
    theirs, ours = Glm4MoeLiteConfig(**raw), config_from_dict(raw)
    assert ours.mlp_layer_types == theirs.mlp_layer_types
    assert sparse_mlp_blocks(ours) == sparse_mlp_blocks(theirs)
    assert ours.head_dim == theirs.head_dim == 4  # (qk_rope_head_dim)
    assert count_params(ours) == count_params(theirs)


# --------------------------------------------------------------------------- depth pruning

@pytest.mark.parametrize("drop, kinds, attention", [
    # block 0 dense and sliding, 1 global (no rotation), 2 sliding, 3 global
    ([0], ["sparse"] * 3, [FULL, SLIDING, FULL]),
    ([1, 2], ["dense", "sparse"], [SLIDING, FULL]),
    ([3], ["dense", "sparse", "sparse"], [SLIDING, FULL, SLIDING])])
def test_exaone_moe_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(
        drop, kinds, attention):
    """Each kept block's MLP and attention kind under its new index (mlp_layer_types and
    layer_types renumbered): the dense block stays dense, a global block stays global."""
    check_depth_pruning("exaone_moe", drop, mlp_layer_types=kinds, layer_types=attention)
    model = remove_blocks(family_model("exaone_moe"), drop)
    assert (model.config.mlp_layer_types, model.config.layer_types) == (kinds, attention)


def test_exaone_moes_global_blocks_attend_without_rotary_positions():
    """What the renumbering keeps: a global block rotates no query or key (EXAONE-4's), so the
    same weights with every block sliding (each rotating, windowed) or every block global
    compute other logits, by far more than float32's rounding."""
    model = family_model("exaone_moe")
    x = ids(2, 24)
    ours = logits(model, x)
    for kinds in ([SLIDING] * 4, [FULL] * 4):
        other = copy.deepcopy(model)
        other.config.layer_types = kinds
        for layer, kind in zip(other.model.layers, kinds):
            layer.self_attn.is_sliding = kind == SLIDING
        assert (ours - logits(other, x)).abs().max() > 1e-3 * ours.abs().max()


@pytest.mark.parametrize("drop, kinds", [([0], ["sparse"] * 3), ([1, 2], ["dense", "sparse"]),
                                         ([3], ["dense", "sparse", "sparse"])])
def test_glm4_moe_lite_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(
        drop, kinds):
    """mlp_layer_types renumbered: with block 0 removed, no block is dense (Glm4MoeLiteConfig
    would make the new block 0 dense without the list)."""
    check_depth_pruning("glm4_moe_lite", drop, mlp_layer_types=kinds)
    assert remove_blocks(family_model("glm4_moe_lite"), drop).config.mlp_layer_types == kinds


@pytest.mark.parametrize("drop", [[0], [1, 2], [3]])
def test_youtu_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(drop):
    check_depth_pruning("youtu", drop)


@pytest.mark.parametrize("name", NAMES)
def test_a_depth_pruned_reload_decodes_as_transformers(name, tmp_path):
    """Saved with blocks 1 and 2 removed, loaded by prunebench and by transformers' class: the
    hf backend's tokens are transformers' generate's, and hf_static's too."""
    check_a_depth_pruned_reload_decodes_as_transformers(family_model(name), [1, 2],
                                                        family_classes(name)[1],
                                                        tmp_path / "pruned")


# --------------------------------------------------------------------------- checkpoints

@pytest.mark.parametrize("name", ["exaone_moe", "glm4_moe_lite"])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_a_half_precision_load_keeps_in_float32_what_transformers_keeps(name, dtype, tmp_path):
    """The score-correction buffers in every version, the router weights too in transformers
    5.25 (their classes' _keep_in_fp32_modules_strict): prunebench's load holds each tensor in
    the dtype transformers' does, and computes its logits."""
    ours = check_half_precision_load(random_model(FAMILIES[name]()), dtype, tmp_path)
    assert ours.model.layers[1].mlp.gate.e_score_correction_bias.dtype == torch.float32
    assert ours.model.layers[1].mlp.experts.gate_up_proj.dtype == dtype


def test_the_published_exaone_moe_layout_is_imported_as_transformers_loads_it(
        tmp_path, tokenizer):  # noqa: F811 - the fixture
    """LG AI Research's layout: one tensor per expert, each router's score biases under
    `mlp.e_score_correction_bias` (transformers' conversion of exaone_moe renames them into
    the router) and a multi-token-prediction layer `mtp.*`, which ExaoneMoeForCausalLM
    ignores. Imported, the experts are fused, the biases renamed and the layer dropped;
    prunebench's load holds what transformers' own loading of the published folder holds."""
    model = random_model(FAMILIES["exaone_moe"]())
    state = per_expert_state(model, "exaone_moe")
    state = {k.replace(".mlp.gate.e_score_correction_bias", ".mlp.e_score_correction_bias"): v
             for k, v in state.items()}
    assert "model.layers.1.mlp.e_score_correction_bias" in state
    hub = tmp_path / "hub"
    write_published_folder(hub, tokenizer, json.loads(model.config.to_json_string()),
                           {**state, **mtp_tensors(64, 32)})
    assert moe_fuse.needs_fusion(hub)
    out = import_local(f"local:{hub}", tmp_path / "imported")
    record = json.loads((out / moe_fuse.RECORD).read_text())
    assert record["dropped_blocks"] == ["mtp"]
    assert "ExaoneMoeForCausalLM" in record["dropped_note"]
    assert record["experts_per_block"] == {f"model.layers.{i}": 4 for i in (1, 2, 3)}
    ours = load_model(out)
    bias = "model.layers.2.mlp.gate.e_score_correction_bias"
    assert torch.equal(ours.state_dict()[bias], model.state_dict()[bias])
    assert ours.state_dict()[bias].abs().max() > 0  # (random: a lost one would be zeros)
    assert torch.equal(logits(ours, ids()), logits(model, ids()))
    check_loads_as_transformers(ours, hub)


def test_the_published_glm4_moe_lite_layout_is_imported_as_transformers_loads_it(
        tmp_path, tokenizer):  # noqa: F811 - the fixture
    """zai-org's layout (GLM-4.5's): one tensor per expert in bfloat16, the score biases
    float32, and a multi-token-prediction layer after the last block (`model.layers.4` here,
    47 in GLM-4.7-Flash), which Glm4MoeLiteForCausalLM does not build: fused and dropped."""
    check_the_published_glm_layout_imports("glm4_moe_lite", "Glm4MoeLiteForCausalLM", tmp_path,
                                           tokenizer)


def check_the_published_glm_layout_imports(name, model_class, tmp_path, with_tokenizer) -> None:
    """A random model of the family `name` written in zai-org's layout (test_glm4_moe's
    write_published: per expert, bfloat16, an MTP layer as block 4) imported: the layer dropped
    (the note naming `model_class`), the count exact, transformers' load of the folder alike
    (GLM-4.7-Flash's and GLM-MoE-DSA's, tests/test_glm_moe_dsa.py)."""
    model = random_model(FAMILIES[name]())
    write_published(model, tmp_path / "hub", with_tokenizer)
    out = import_local(f"local:{tmp_path / 'hub'}", tmp_path / "imported")
    record = json.loads((out / moe_fuse.RECORD).read_text())
    assert record["dropped_blocks"] == ["model.layers.4"]
    assert model_class in record["dropped_note"]
    ours = load_model(out)
    assert numel(ours) == count_params(ours.config) == numel(model)
    check_loads_as_transformers(ours, tmp_path / "hub")


# --------------------------------------------------------------------------- refusals

@pytest.mark.parametrize("method", ["LLM-Pruner", "FLAP", "the compiled backend"])
def test_exaone_moe_refuses_what_reshapes_its_experts(method):
    check_refused_as_a_mixture_of_experts(FAMILIES["exaone_moe"](), method,
                                          "ExaoneMoeForCausalLM")


def test_glm4_moe_lite_refuses_what_reshapes_its_experts_and_lora_on_them():
    """As DeepSeek-V3: the width methods refused naming the depth methods; LoRA on its
    experts refused, its latent attention's linear layers adapted (tests/test_deepseek.py)."""
    config = FAMILIES["glm4_moe_lite"]()
    with pytest.raises(FamilyUnsupported, match="mixture-of-experts family 'glm4_moe_lite'.*"
                                                "depth method"):
        refuse_moe(config, "flap (width pruning)")
    assert "names ['gate_proj'], but" in expert_target_problem(config, ["q_proj", "gate_proj",
                                                                        "o_proj"])
    assert expert_target_problem(config, ["q_proj", "k_proj", "v_proj", "o_proj"]) is None


LATENT_REFUSAL = "its multi-head latent attention"


# (the width methods' refusal before scoring: tests/test_hyperclovax_minicpm3.py, MiniCPM3's
# and Youtu's alike)
def test_width_surgery_and_the_compiled_decoder_refuse_youtu():
    model = family_model("youtu")
    with pytest.raises(FamilyUnsupported, match=f"width surgery.*{LATENT_REFUSAL}"):
        surgery.remove_channels(model, 1, [0])
    with pytest.raises(FamilyUnsupported, match=f"compiled backend.*{LATENT_REFUSAL}"):
        StaticDecoder(model, 1, 8, mode="eager")


def test_the_start_refuses_the_compiled_backend_for_youtu(tmp_path):
    from prunebench.plan.checks import moe_problems

    YoutuConfig(**LATENT).save_pretrained(tmp_path / "youtu")
    runs = {"models": {"youtu": {"source": f"local:{tmp_path / 'youtu'}",
                                 "variants": ["dense"]}},
            "benchmark": {"backends": ["hf", "compiled"]}}
    problem, = moe_problems(runs, tmp_path / "nowhere")
    assert problem.startswith("models.youtu (youtu) has multi-head latent attention")


def test_lora_targets_of_youtu_all_stand_but_k_proj_or_v_proj_alone():
    config = FAMILIES["youtu"]()
    problem = expert_target_problem(config, ["q_proj", "k_proj", "o_proj", "gate_proj"])
    assert problem.startswith("lora.target_modules names ['k_proj'] but not ['v_proj']: ")
    assert expert_target_problem(config, ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                          "up_proj", "down_proj"]) is None


@pytest.mark.parametrize("name", ["glm4_moe_lite", "youtu"])
def test_a_config_json_of_fewer_kv_heads_than_query_heads_is_refused(name, tmp_path):
    """Their latent attention expands its keys and values to every query head: fewer KV heads
    builds and stops at the first forward, so such a config.json is refused when read."""
    config = family_classes(name)[0](**{**LATENT, **(GLM_EXPERTS if name != "youtu" else {})})
    values = {**json.loads(config.to_json_string()), "num_key_value_heads": 2}
    with pytest.raises(PrunebenchError, match="num_key_value_heads=2.*latent attention"):
        checked_config_json(_write_config(tmp_path / "m", values))
