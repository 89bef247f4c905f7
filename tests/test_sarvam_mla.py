"""Sarvam-MLA (sarvam_mla: sarvamai/sarvam-105b), a mixture of experts transformers builds as
DeepseekV3ForCausalLM from a config class newer than prunebench's floor
(Family.min_transformers: SarvamMLAConfig with transformers 5.24): depth pruning and the
hf / hf_static backends, as every mixture of experts.

On a transformers older than that (make test-floor's 5.17; on a newer one the release is
faked): its config.json is read, counted and planned without a transformers class, and
everything that builds the model is refused before it loads, naming the release to install.
Its config.json in Sarvam's own format (num_shared_experts, a head_dim of kv_lora_rank +
qk_rope_head_dim, a `deepseek_yarn` rope type) read as SarvamMLAConfig reads it.

Where the class exists (skipped below with the refusal's reason): counts against
transformers' meta models and by hand; depth pruning equal to transformers' model of the
kept blocks; a depth-pruned save reloaded by prunebench and by transformers, the hf and
hf_static tokens transformers' generate's; a published per-expert checkpoint imported as
transformers loads it (a multi-token-prediction layer after the blocks dropped); the legacy
config.json's rope built as yarn and shown to matter; the width methods' and the compiled
decoder's refusals. tests/test_families.py runs the shared per-family tests on it."""

from __future__ import annotations


import pytest
import torch
import transformers

from prunebench.checkpoint.param_count import (FamilyUnsupported, block_param_count,
                                               config_from_dict, count_params, layer_shapes,
                                               refuse_moe,
                                               transformers_release_problem)
from prunebench.modeling import build_model, load_config
from test_afmoe_laguna_mellum import check_published_import
from test_exaone_internlm3 import check_refused_below_its_release, write
from test_families import family_model, ids, logits
from test_glm4_moe import with_mtp_layer
from test_families import tokenizer  # noqa: F401 - a fixture
from test_helium_vaultgemma_granitemoeshared import SHAPE, check_counts, check_depth_pruning
from test_moe import per_expert_state
from test_qwen3_next import check_a_depth_pruned_reload_decodes_as_transformers

pytestmark = pytest.mark.usefixtures("one_thread")

LATENT = dict(num_key_value_heads=6, kv_lora_rank=16, qk_rope_head_dim=4, qk_nope_head_dim=8,
              v_head_dim=8, q_lora_rank=None, moe_intermediate_size=24, num_experts=4,
              num_shared_experts=1, num_experts_per_tok=2, first_k_dense_replace=1)
# Sarvam's own format, as its code writes config.json (SarvamMLAConfig's legacy keys): a
# head_dim of kv_lora_rank + qk_rope_head_dim (vLLM's), q_head_dim, DeepSeek's yarn by name.
LEGACY_ROPE = {"type": "deepseek_yarn", "factor": 4.0, "original_max_position_embeddings": 8,
               "beta_fast": 32, "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 1.0}


def needs() -> None:
    if problem := transformers_release_problem("sarvam_mla"):
        pytest.skip(problem)


def tiny_json(**changes) -> dict:
    return {**SHAPE, "model_type": "sarvam_mla", **LATENT, **changes}


def legacy_json(**changes) -> dict:
    return tiny_json(head_dim=20, q_head_dim=12, rope_scaling=LEGACY_ROPE, rope_theta=10000.0,
                     **changes)


def test_an_older_transformers_is_refused_before_the_model_loads_naming_the_upgrade(
        tmp_path, monkeypatch):
    check_refused_below_its_release("sarvam_mla", "5.24.0", tiny_json(), tmp_path, monkeypatch)


def test_the_first_release_is_that_whose_class_the_installed_transformers_has():
    from prunebench.checkpoint.param_count import FAMILIES as REGISTRY

    family = REGISTRY["sarvam_mla"]
    assert family.min_transformers == "5.24.0"
    assert hasattr(transformers, family.config_class) == (
        transformers_release_problem("sarvam_mla") is None)


@pytest.mark.parametrize("values", [
    {**LATENT}, {**LATENT, "q_lora_rank": 12, "num_shared_experts": 2,
                 "tie_word_embeddings": True},
    {**LATENT, "first_k_dense_replace": 2, "attention_bias": True}])
def test_counts_equal_transformers_parameters(values):
    needs()
    check_counts("sarvam_mla", values)


def test_the_blocks_counted_by_hand_from_its_own_format():
    """Without a class, from Sarvam's own config.json (its head_dim of 20 not read: a query
    head 8 + 4 wide, keys through a latent of 16, values of 8): 6 heads on hidden 48, dense
    block 0 (an MLP of 56) and sparse blocks (a router, 4 experts of 24, one shared)."""
    d, heads = 48, 6
    attention = (d * heads * 12 + d * (16 + 4) + 16 + 16 * heads * (8 + 8)
                 + heads * 8 * d)
    dense = attention + 3 * d * 56 + 2 * d
    sparse = attention + 4 * d + 4 * 3 * d * 24 + 3 * d * 24 + 2 * d
    config = config_from_dict(legacy_json())
    assert config.head_dim == 4
    assert [block_param_count(config, s) for s in layer_shapes(config)] == [dense, sparse,
                                                                             sparse]
    assert count_params(config) == 2 * 97 * d + d + dense + 2 * sparse


def test_its_own_format_is_read_as_its_class_reads_it(tmp_path):
    """head_dim as qk_rope_head_dim, deepseek_yarn as yarn (SarvamMLAConfig's reading): the
    model built from the folder rotates by yarn, and without the scaling its logits differ."""
    needs()
    # (weights of std 0.2, under which the rotation weighs on the logits)
    config = load_config(write(tmp_path / "m", legacy_json(initializer_range=0.2)))
    assert config.head_dim == 4 and config.n_shared_experts == 1
    assert config.rope_parameters["rope_type"] == "yarn"
    theirs = transformers.SarvamMLAConfig(**{k: v for k, v in legacy_json().items()
                                             if k != "model_type"})
    assert config.rope_parameters == theirs.rope_parameters
    torch.manual_seed(0)
    model = build_model(config, device="cpu").eval()
    plain = load_config(write(tmp_path / "p", tiny_json(rope_theta=10000.0,
                                                        initializer_range=0.2)))
    other = build_model(plain, device="cpu").eval()
    other.load_state_dict(model.state_dict())
    x = ids(1, 24) % 97  # (SHAPE's vocabulary)
    ours, changed = logits(model, x), logits(other, x)
    assert (ours - changed).abs().max() > 1e-3 * ours.abs().max()


@pytest.mark.parametrize("drop", [[0], [1, 2], [3]])
def test_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(drop):
    needs()
    check_depth_pruning("sarvam_mla", drop, first_k_dense_replace=0 if 0 in drop else 1)


def test_a_depth_pruned_reload_decodes_as_transformers(tmp_path):
    needs()
    check_a_depth_pruned_reload_decodes_as_transformers(
        family_model("sarvam_mla"), [1, 2], transformers.DeepseekV3ForCausalLM,
        tmp_path / "pruned")


def test_a_published_per_expert_checkpoint_imports_as_transformers_loads_it(
        tmp_path, tokenizer):  # noqa: F811 - the fixture
    """DeepSeek-V3's names, one tensor per expert, the score biases made to matter; a
    multi-token-prediction layer after the blocks dropped and recorded."""
    needs()
    model = family_model("sarvam_mla")
    with torch.no_grad():
        for layer in model.model.layers[1:]:
            layer.mlp.gate.e_score_correction_bias.normal_(0, 1)
    n = model.config.num_hidden_layers
    state = with_mtp_layer(per_expert_state(model, "sarvam_mla"), n, model.config.hidden_size)
    record = check_published_import(model, transformers.DeepseekV3ForCausalLM, state, tmp_path,
                                    tokenizer)
    assert record["dropped_blocks"] == [f"model.layers.{n}"]
    assert "DeepseekV3ForCausalLM does not build" in record["dropped_note"]


@pytest.mark.parametrize("method", ["llm_pruner", "flap", "wanda_sp", "blockpruner",
                                    "the compiled backend"])
def test_width_methods_and_the_compiled_decoder_are_refused(method):
    """Refused as every mixture of experts, the depth methods named (without a class too)."""
    with pytest.raises(FamilyUnsupported, match="mixture-of-experts family 'sarvam_mla'.*"
                                                "depth method"):
        refuse_moe(config_from_dict(tiny_json()), method)
