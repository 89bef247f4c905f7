"""LongCat-Flash (longcat_flash, LongcatFlashForCausalLM: Meituan's): the pieces of its own, as
a mixture of experts (depth pruning of whole decoder layers, the hf and hf_static backends).

Its blocks are `num_layers` (Family.block_count_key), each two of DeepSeek-V3's latent
attentions, two dense MLPs and a shortcut MoE whose router scores zero experts too;
num_hidden_layers, twice as many, counts the attentions (the cache's entries). Counts against
transformers' meta models (LongcatFlashConfig's defaults, LongCat-Flash-Chat's shape,
560,664,958,976) and by hand; the block count read from config.json alone as 5.25's class
reads it. Depth pruning renumbers each kept attention's cache entry (2j, 2j + 1 of block j):
the pruned model computes transformers' model of the kept blocks, decodes as generate, and its
KV cache (two latents and two rotated keys a block) is what transformers' cache holds. A
published-style checkpoint (one tensor per expert, `model.mtp.*` layers) imported as
transformers loads it. Refusals: transformers below 5.25 (its experts' zero-expert rows), the
width methods and the compiled decoder. tests/test_families.py runs the shared per-family
tests on it; tests/test_moe.py its per-expert checkpoint."""

from __future__ import annotations

import copy

import pytest
import torch

from prunebench.benchmark.floors import kv_cache_bytes
from prunebench.checkpoint.param_count import (RELEASE_REASONS, block_count, config_from_dict,
                                               count_params, kv_bytes_of, kv_bytes_per_token,
                                               kv_head_count, layer_shapes,
                                               transformers_release_problem)
from prunebench.modeling import count_params_meta, remove_blocks
from block_helpers import kept_blocks_state
from test_families import FAMILIES, family_model, ids, logits, numel
from test_families import tokenizer  # noqa: F401 - a fixture

pytestmark = pytest.mark.usefixtures("one_thread")

NAME = "longcat_flash"


@pytest.fixture(autouse=True)
def a_release_with_the_class(request):
    """Every test but the refusal's needs transformers 5.25 (RELEASE_REASONS): skipped below,
    as the refusal says."""
    if request.node.name.startswith("test_releases_below"):
        return
    if problem := transformers_release_problem(NAME):
        pytest.skip(problem)


def test_releases_below_5_25_are_refused_naming_the_zero_experts_rows():
    """5.17 to 5.24 build the experts' gate_up_proj with rows for the zero experts (other
    shapes and counts for the same checkpoint): refused there, naming why and the release."""
    import transformers
    from packaging.version import Version

    assert "zero experts" in RELEASE_REASONS[NAME]
    problem = transformers_release_problem(NAME)
    if Version(transformers.__version__) < Version("5.25.0"):
        assert problem is not None and "5.25" in problem and "zero experts" in problem
    else:
        assert problem is None


# --------------------------------------------------------------------------- counts

def meta_count(config) -> int:
    from transformers import LongcatFlashForCausalLM

    with torch.device("meta"):
        return sum(p.numel() for p in LongcatFlashForCausalLM(config).parameters())


def test_the_defaults_count_as_transformers_builds_them():
    """LongcatFlashConfig's defaults (its docstring names LongCat-Flash-Chat's): 28 blocks of
    560,664,958,976 parameters in all, as its meta model holds, and as config.json's values
    read without transformers count them."""
    from transformers import LongcatFlashConfig

    config = LongcatFlashConfig()
    assert count_params(config) == count_params_meta(config) == meta_count(config) \
        == 560_664_958_976
    assert count_params(config_from_dict({"model_type": NAME})) == 560_664_958_976
    assert block_count(config) == 28 and len(layer_shapes(config)) == 28


@pytest.mark.parametrize("values", [{}, {"router_bias": True, "attention_bias": False},
                                    {"zero_expert_num": 0, "tie_word_embeddings": True},
                                    {"num_hidden_layers": 6}])
def test_counts_equal_transformers_parameters(values):
    """The tiny config and changes of it (the router's bias, no zero experts, tied, a block
    count given as num_hidden_layers: half of it, as LongcatFlashConfig's setter reads it),
    counted from the config and from its config.json values alone."""
    config = type(FAMILIES[NAME]())(**{**FAMILIES[NAME]().to_dict(), **values})
    reference = meta_count(config)
    assert count_params(config) == count_params_meta(config) == reference
    raw = {k: v for k, v in config.to_dict().items() if k != "dtype"}
    read = config_from_dict({**raw, **values})
    assert count_params(read) == reference
    assert block_count(read) == block_count(config) == config.num_layers
    assert read.num_hidden_layers == config.num_hidden_layers == 2 * config.num_layers


def test_a_block_counted_by_hand():
    """One tiny block: two latent attentions (q_a_proj 64 x 24 + its bias, q_a_layernorm 24,
    q_b_proj 24 x 4 heads x 12; kv_a_proj_with_mqa 64 x 20 + its bias, kv_a_layernorm 16,
    kv_b_proj 16 x 4 x 16; o_proj 32 x 64 + its bias), two MLPs of 3 x 64 x 128, four norms of
    64, a router of 4 + 2 rows of 64 and four experts of 3 x 64 x 32."""
    config = FAMILIES[NAME]()
    attention = (64 * 24 + 24 + 24 + 24 * 4 * 12 + 64 * 20 + 20 + 16 + 16 * 4 * 16
                 + 32 * 64 + 64)
    block = 2 * attention + 2 * 3 * 64 * 128 + 4 * 64 + 6 * 64 + 4 * 3 * 64 * 32
    model = family_model(NAME)
    assert sum(p.numel() for p in model.model.layers[0].parameters()) == block
    assert count_params(config) == 4 * block + 2 * 128 * 64 + 64


def test_the_dense_report_and_the_text_blocks_count_its_blocks(tmp_path, monkeypatch):
    """The workflow's dense report (workflow/scripts/dense_report.py, results.dense_report)
    gives num_layers blocks before and after, not num_hidden_layers (twice as many, which it
    wrote before), and the blocks a text forward runs are those blocks."""
    from prunebench.atomic import read_json
    from prunebench.checkpoint.param_count import text_blocks
    from workflow_helpers import run_rule_script

    config = FAMILIES[NAME]()
    config.save_pretrained(tmp_path / "model")
    run_rule_script("dense_report", monkeypatch, input={"model": str(tmp_path / "model")},
                    output={"report": str(tmp_path / "report.json")},
                    wildcards={"model": "longcat"}, params={"source": "tiny"})
    report = read_json(tmp_path / "report.json")
    assert report["blocks_before"] == report["blocks_after"] == config.num_layers == 4
    assert config.num_hidden_layers == 8
    assert report["params_before"] == report["params_after"] == count_params(config)
    assert text_blocks(config) == [0, 1, 2, 3]


# --------------------------------------------------------------------------- depth pruning

@pytest.mark.parametrize("drop", [[0], [1, 2], [3]])
def test_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(drop):
    """Whole decoder layers removed: each kept attention's cache entry renumbered to 2j and
    2j + 1 of its new index j, the config's num_layers the kept blocks (num_hidden_layers twice
    them), and the logits those of transformers' model of the kept blocks."""
    from transformers import LongcatFlashForCausalLM

    dense = family_model(NAME)
    model = copy.deepcopy(dense)
    remove_blocks(model, drop)
    keep = [b for b in range(4) if b not in drop]
    assert model.config.num_layers == len(keep) and model.config.num_hidden_layers == 2 * len(keep)
    assert [a.layer_idx for layer in model.model.layers for a in layer.self_attn] \
        == list(range(2 * len(keep)))
    config = type(dense.config)(**{**dense.config.to_dict(), "num_layers": len(keep)})
    with torch.device("meta"):
        reference = LongcatFlashForCausalLM(config)
    reference.load_state_dict(kept_blocks_state(dense, keep), strict=True, assign=True)
    reference.model.rotary_emb = type(reference.model.rotary_emb)(config=config)
    reference = reference.float().eval()
    x = ids(2, 24)
    torch.testing.assert_close(logits(model, x), logits(reference, x), rtol=0, atol=1e-6)
    assert numel(model) == count_params(model.config) == numel(reference)


def test_a_depth_pruned_save_reloads_and_decodes_as_transformers(tmp_path):
    """Saved after a prune, loaded again by prunebench and by transformers: the hf and
    hf_static backends decode as transformers' generate (the renumbered cache entries: left at
    their old numbers, generate stops)."""
    from transformers import LongcatFlashForCausalLM
    from test_qwen3_next import check_a_depth_pruned_reload_decodes_as_transformers

    check_a_depth_pruned_reload_decodes_as_transformers(
        family_model(NAME), [1], LongcatFlashForCausalLM, tmp_path / "pruned")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_kv_cache_is_what_transformers_cache_holds(dtype):
    """Two latents of 16 and two rotated keys of 4 a block and position (kv_bytes_of,
    kv_cache_bytes), equal to the tensors transformers' cache holds after a prefill, a
    depth-pruned model's too."""
    from test_qwen3_next import cache_bytes

    model = family_model(NAME).to(dtype)
    size = torch.finfo(dtype).bits // 8
    for drop, blocks in (([], 4), ([0, 2], 2)):
        remove_blocks(model, drop)
        shapes = layer_shapes(model.config)
        assert kv_bytes_of(model.config, shapes, size) \
            == kv_bytes_per_token(model.config, kv_head_count(shapes), size) \
            == blocks * 2 * (16 + 4) * size
        for batch, length in ((1, 4), (2, 5)):
            with torch.no_grad():
                out = model(input_ids=ids(batch, length), use_cache=True)
            cache = getattr(out, "past_key_values", None) or out.cache
            assert cache_bytes(cache) == kv_cache_bytes(model.config, batch, length, dtype) \
                == batch * length * blocks * 2 * (16 + 4) * size


# --------------------------------------------------------------------------- checkpoints

def test_a_published_per_expert_checkpoint_imports_as_transformers_loads_it(
        tmp_path, tokenizer):  # noqa: F811 - the fixture
    """One tensor per expert and a multi-token-prediction layer (`model.mtp.*`): transformers'
    conversion on loading, prunebench's one-time fusion on import and the model the weights
    came from compute the same logits; the MTP layer dropped and recorded."""
    from transformers import LongcatFlashForCausalLM
    from test_afmoe_laguna_mellum import check_published_import
    from test_mimo_v2_flash import mtp_layer
    from test_moe import per_expert_state

    model = family_model(NAME)
    state = per_expert_state(model, NAME)
    assert "model.layers.1.mlp.experts.3.down_proj.weight" in state
    assert "model.layers.1.mlp.router.classifier.weight" in state
    state = {**state, **mtp_layer(64)}
    record = check_published_import(model, LongcatFlashForCausalLM, state, tmp_path, tokenizer)
    assert record["experts_per_block"] == {f"model.layers.{i}": 4 for i in range(4)}
    assert record.get("dropped_blocks") == ["model.mtp"]


# --------------------------------------------------------------------------- refusals

@pytest.mark.parametrize("method", ["llm_pruner", "flap", "wanda_sp", "blockpruner",
                                    "the compiled backend"])
def test_width_methods_and_the_compiled_decoder_are_refused(method):
    """Refused as a mixture of experts, the depth methods named; LoRA's targets pass (the
    MLP targets adapt the dense MLPs, below), k_proj without v_proj refused (the latent rule,
    plan.lora_settings.LATENT_TARGETS: k / v together)."""
    from prunebench.checkpoint.param_count import FamilyUnsupported, refuse_moe
    from prunebench.plan.lora_settings import expert_target_problem

    config = FAMILIES[NAME]()
    with pytest.raises(FamilyUnsupported, match=f"mixture-of-experts family '{NAME}'"
                                                ".*depth method"):
        refuse_moe(config, method)
    assert expert_target_problem(config, ["q_proj", "k_proj", "v_proj", "o_proj"]) is None
    assert expert_target_problem(config, ["q_proj", "o_proj", "gate_proj"]) is None
    assert "k_proj', 'v_proj'] or none" in expert_target_problem(config, ["k_proj", "o_proj"])


# --------------------------------------------------------------------------- LoRA

def test_lora_adapts_the_attentions_and_the_dense_mlps_not_the_experts(tmp_path):
    """The seven targets (the default's) adapt both latent attentions of every block (the
    latent rule) and its two dense MLPs (`mlps.0`, `mlps.1`: plan.lora_settings.
    DENSE_MLPS_BESIDE_EXPERTS), not the experts (fused 3D parameters) nor the router: every
    adapter trains (a gradient on each lora_B) and merges into a plain LongcatFlashForCausalLM
    computing the adapted model's logits; the workflow's start lets the default targets and
    the MLP targets alone pass, and refuses k_proj without v_proj as the LoRA job does."""
    from prunebench.lora import TARGETS
    from test_deepseek import (check_lora_refused_at_start_and_by_the_job,
                               check_lora_trains_and_merges)

    adapted = [f"model.layers.{b}.{module}" for b in range(4) for module in (
        *(f"self_attn.{i}.{part}" for i in range(2) for part in (
            "q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj")),
        *(f"mlps.{i}.{part}" for i in range(2) for part in ("gate_proj", "up_proj",
                                                              "down_proj")))]
    model = family_model(NAME)
    check_lora_trains_and_merges(model, list(TARGETS), adapted)
    folder = tmp_path / "m"
    FAMILIES[NAME]().save_pretrained(folder)
    check_lora_refused_at_start_and_by_the_job(
        folder, model, ["k_proj", "o_proj", "gate_proj"], r"names \['k_proj'\] but not",
        passing=[list(TARGETS), ["gate_proj", "up_proj", "down_proj"]])
