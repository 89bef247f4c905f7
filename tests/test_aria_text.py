"""Aria's language model (aria_text, AriaTextForCausalLM: Rhymes' Aria): the pieces of its own,
as a mixture of experts (depth pruning, the hf and hf_static backends).

Exact counts against transformers' meta models (biases, shared experts or none, tying, KV
heads), from config.json's own keys alone (moe_num_experts / moe_topk, which AriaTextConfig
holds under no other name) and by hand: the shared experts as one MLP of
moe_num_shared_experts x intermediate_size biased as mlp_bias says, the routed experts never;
depth pruning equal to transformers' model of the kept blocks; the experts under transformers
5.17's names (`experts.fc1.weight` / `fc2.weight`, as Rhymes publishes them) and 5.25's
(`gate_up_proj` / `down_proj`) loaded under the installed class's, saved under the published
ones and loaded so by transformers; a depth-pruned reload decoding as transformers' generate;
a batch-1 step reading its top k experts; the width methods' and the compiled decoder's
refusals. tests/test_families.py runs the shared per-family tests on its tiny config."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AriaTextConfig, AriaTextForCausalLM

from prunebench.checkpoint.param_count import (block_param_count, config_from_dict,
                                               count_params, layer_shapes)
from prunebench.modeling import EQUAL_NAMES, load_model, save_model
from test_families import FAMILIES, family_model, ids, in_allocated_memory, logits
from test_glm4_moe import check_refused_as_a_mixture_of_experts
from test_helium_vaultgemma_granitemoeshared import SHAPE, check_counts, check_depth_pruning
from test_qwen3_next import check_a_depth_pruned_reload_decodes_as_transformers

pytestmark = pytest.mark.usefixtures("one_thread")

EXPERTS = dict(moe_num_experts=4, moe_topk=2)


@pytest.mark.parametrize("values", [
    {**EXPERTS},
    {**EXPERTS, "moe_num_shared_experts": 1, "attention_bias": True, "mlp_bias": True},
    {**EXPERTS, "moe_num_shared_experts": 0, "mlp_bias": True},
    {**EXPERTS, "tie_word_embeddings": True, "num_key_value_heads": 6}])
def test_counts_equal_transformers_parameters(values):
    check_counts("aria_text", values)


def test_a_block_counted_by_hand():
    """One block (every one sparse): q/k/v/o of 6 and 2 heads of 8 with biases, a router over
    4 experts (no bias), 4 experts of 56 (gate, up and down each, no biases whatever mlp_bias
    says), 2 shared experts as one MLP of 112 with biases (mlp_bias), two RMSNorms."""
    config = AriaTextConfig(**SHAPE, **EXPERTS, moe_num_shared_experts=2, attention_bias=True,
                            mlp_bias=True)
    d, q, kv, shared = 48, 6 * 8, 2 * 8, 2 * 56
    attention = (d * q + q) + 2 * (d * kv + kv) + (q * d + d)
    block = attention + 4 * d + 4 * 3 * d * 56 + (3 * d * shared + 2 * shared + d) + 2 * d
    assert block == 55_216
    assert [block_param_count(config, s) for s in layer_shapes(config)] == [block] * 3
    assert count_params(config) == 2 * 97 * d + d + 3 * block
    # the shared experts' biases are the only MLP biases: the routed experts hold none
    unbiased = AriaTextConfig(**SHAPE, **EXPERTS, moe_num_shared_experts=2, attention_bias=True)
    assert count_params(config) - count_params(unbiased) == 3 * (2 * shared + d)


def test_config_json_is_read_by_its_own_expert_keys():
    """config.json names its experts moe_num_experts / moe_topk (AriaTextConfig has no other
    name for them, no attribute_map): read alone, they count what transformers builds, 8 and
    2 where left out (its defaults), and a batch-1 step reads the top k of them."""
    from prunebench.benchmark.floors import read_params

    raw = {"model_type": "aria_text", **SHAPE, "moe_num_experts": 6, "moe_topk": 3,
           "moe_num_shared_experts": 1}
    config = AriaTextConfig(**{k: v for k, v in raw.items() if k != "model_type"})
    with torch.device("meta"):
        reference = sum(p.numel() for p in AriaTextForCausalLM(config).parameters())
    assert count_params(config_from_dict(raw)) == count_params(config) == reference
    routed = 3 * 48 * 56
    assert read_params(config) == reference - 97 * 48 - 3 * (6 - 3) * routed
    left_out = {k: v for k, v in raw.items() if k not in ("moe_num_experts", "moe_topk")}
    assert count_params(config_from_dict(left_out)) == count_params(
        AriaTextConfig(**{k: v for k, v in left_out.items() if k != "model_type"}))
    assert read_params(config_from_dict(left_out)) == read_params(config_from_dict(
        {**left_out, "moe_num_experts": 8, "moe_topk": 2}))


@pytest.mark.parametrize("drop", [[0], [1, 2], [3]])
def test_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(drop):
    check_depth_pruning("aria_text", drop)


def test_the_shared_experts_and_their_activation_change_the_logits():
    """What the tests above would miss if the shared experts were dropped, or run with the
    routed experts' SiLU (the tiny config's hidden_act is gelu): each changes the logits by far
    more than float32's rounding."""
    model = family_model("aria_text")
    x = ids(2, 16)
    ours = logits(model, x)
    for change in ("dropped", "silu"):
        other = family_model("aria_text")
        for layer in other.model.layers:
            shared = layer.mlp.shared_experts
            if change == "silu":
                shared.act_fn = torch.nn.SiLU()
            else:
                shared.forward = torch.zeros_like
        assert (ours - logits(other, x)).abs().max() > 1e-3 * ours.abs().max(), change


def published_checkpoint(model, folder, names: int):
    """`model` saved by prunebench into `folder` with its experts under EQUAL_NAMES' pair
    member `names` (0: transformers 5.17's and Rhymes' published fc1 / fc2, 1: 5.25's)."""
    save_model(model, None, folder)
    files = sorted(folder.glob("*.safetensors"))
    assert len(files) == 1
    state = load_file(files[0])
    pairs = EQUAL_NAMES["aria_text"]
    renamed = {}
    for name, tensor in state.items():
        for pair in pairs:
            if name.endswith(pair[0]):
                name = name[: -len(pair[0])] + pair[names]
        renamed[name] = tensor
    save_file(renamed, files[0], metadata={"format": "pt"})
    return renamed


@pytest.mark.parametrize("names", [0, 1])
def test_either_versions_expert_names_load_as_the_installed_class_holds_them(names, tmp_path):
    """A checkpoint of the experts under 5.17's (published) names or 5.25's is loaded by
    prunebench under the installed class's, and computes the model's logits; prunebench's own
    save holds the published names alone, which transformers' from_pretrained loads to the same
    logits (5.25 renames them as it loads; 5.17 holds them)."""
    model = family_model("aria_text")
    folder = tmp_path / "m"
    state = published_checkpoint(model, folder, names)
    pair = EQUAL_NAMES["aria_text"][0]
    assert any(name.endswith(pair[names]) for name in state)
    ours = load_model(folder, verify=False)  # (its manifest hashed the file as saved)
    x = ids(2, 16)
    torch.testing.assert_close(logits(ours, x), logits(model, x), rtol=0, atol=0)
    save_model(ours, None, tmp_path / "again")
    saved = load_file(next((tmp_path / "again").glob("*.safetensors")))
    assert sum(name.endswith(".mlp.experts.fc1.weight") for name in saved) == 4
    assert sum(name.endswith(".mlp.experts.fc2.weight") for name in saved) == 4
    assert not any(name.endswith(("gate_up_proj", "down_proj")) and ".experts." in name
                   for name in saved)
    theirs = in_allocated_memory(AriaTextForCausalLM.from_pretrained(
        tmp_path / "again", dtype=torch.float32)).eval()
    torch.testing.assert_close(logits(theirs, x), logits(model, x), rtol=0, atol=1e-6)


def test_a_depth_pruned_reload_decodes_as_transformers(tmp_path):
    """Saved with blocks 1 and 2 removed, loaded by prunebench and by transformers' class: the
    hf backend's tokens are transformers' generate's, and hf_static's too."""
    check_a_depth_pruned_reload_decodes_as_transformers(family_model("aria_text"), [1, 2],
                                                        AriaTextForCausalLM,
                                                        tmp_path / "pruned")


@pytest.mark.parametrize("method", ["LLM-Pruner", "FLAP", "the compiled backend"])
def test_refuses_what_reshapes_its_experts(method):
    check_refused_as_a_mixture_of_experts(FAMILIES["aria_text"](), method,
                                          "AriaTextForCausalLM")
