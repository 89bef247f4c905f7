"""DiffLlama (diffllama, DiffLlamaForCausalLM) and BitNet (bitnet, BitNetForCausalLM; the
bfloat16 master weights of microsoft/bitnet-b1.58-2B-4T): the pieces of their own. Both are
depth-only dense families (Family.depth_only).

DiffLlama's differential attention pairs each query head with the head half the heads away,
splits its values into two halves of KV heads and weighs its second softmax map by a lambda
whose constant part, lambda_init, DiffLlamaAttention computes from its block's index. A depth
prune keeps each kept block's lambda_init (config.json's layer_lambda_init, set again by
prunebench's loader: modeling.BLOCK_CONSTANTS), so the kept blocks compute as they were
scored; transformers' own load of that checkpoint renumbers them and computes another model.
BitNet's RMSNorms over the attention output and the MLP's hidden channels are counted and run
as transformers builds them.

Checked here: counts against transformers' meta models and by hand; a checkpoint transformers
saved, imported and loaded with transformers' logits; depth pruning equal to transformers'
model of the kept blocks (DiffLlama's with the kept blocks' lambda_init), reloaded, the hf
backends decoding as generate; the refusals (width methods before scoring, width surgery, the
compiled decoder and the start's check, BitNet's packed ternary checkpoint, DiffLlama configs
its class refuses). tests/test_families.py runs the shared per-family tests on the tiny
configs."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import BitNetConfig, BitNetForCausalLM, DiffLlamaConfig, DiffLlamaForCausalLM

from prunebench import FamilyUnsupported, PrunebenchError
from prunebench.checkpoint.param_count import (block_param_count, checked_config_json,
                                               config_from_dict, count_params, layer_shapes,
                                               own_block_params)
from prunebench.methods.depth import without_blocks
from prunebench.methods.registry import method_function
from prunebench.modeling import load_model, remove_blocks, save_model
from test_dbrx import check_a_transformers_checkpoint_imports
from test_families import FAMILIES, family_model, ids, in_allocated_memory, logits, numel
from test_families import tokenizer  # noqa: F401 - a fixture
from test_helium_vaultgemma_granitemoeshared import check_counts
from test_hyperclovax_minicpm3 import check_surgery_and_the_compiled_decoder_refuse
from test_opt import check_depth_prune_is_transformers_model

pytestmark = pytest.mark.usefixtures("one_thread")

CLASSES = {"diffllama": (DiffLlamaConfig, DiffLlamaForCausalLM),
           "bitnet": (BitNetConfig, BitNetForCausalLM)}


def config(name: str, **changes):
    return CLASSES[name][0](**{**FAMILIES[name]().to_dict(), **changes})


# --------------------------------------------------------------------------- counts

@pytest.mark.parametrize("name, values", [
    ("diffllama", {}), ("diffllama", {"attention_bias": True, "tie_word_embeddings": True}),
    ("bitnet", {}), ("bitnet", {"attention_bias": True})])
def test_counts_equal_transformers_parameters(name, values):
    check_counts(name, values)


def test_their_own_pieces_counted_by_hand():
    """The tiny configs' pieces beyond LLaMA's block (hidden 64, heads of 16, 2 KV heads, MLP
    of 128): DiffLlama's four lambda vectors; BitNet's two sub-norms."""
    assert own_block_params(config("diffllama")) == 4 * 16
    assert own_block_params(config("bitnet")) == 64 + 128
    llama_block = 64 * 64 * 2 + 2 * 64 * 32 + 3 * 64 * 128 + 2 * 64  # (no biases, 2 norms)
    bitnet = config("bitnet")
    assert block_param_count(bitnet, layer_shapes(bitnet)[0]) == llama_block + 64 + 128


def test_a_config_without_a_model_type_is_counted_as_llamas():
    """A config.json without model_type is LLaMA's (old ones; the untrained tiny model's shape,
    which the start's checks count): none of these pieces, and counted, not refused."""
    values = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
              "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 97}
    assert own_block_params(config_from_dict(values)) == 0
    assert count_params(config_from_dict(values)) == count_params(
        config_from_dict({**values, "model_type": "llama"}))


# --------------------------------------------------------------------------- import and load

@pytest.mark.parametrize("name", sorted(CLASSES))
def test_a_checkpoint_transformers_saved_imports_and_computes_transformers_logits(
        name, tmp_path, tokenizer):  # noqa: F811
    check_a_transformers_checkpoint_imports(CLASSES[name][1], FAMILIES[name](), tokenizer,
                                            tmp_path)


# --------------------------------------------------------------------------- depth

def lambda_inits(model) -> list[float]:
    return [layer.self_attn.lambda_init for layer in model.model.layers]


@pytest.mark.parametrize("drop", [[0], [1, 2], [3]])
def test_diffllama_depth_pruning_keeps_each_blocks_lambda_init(drop, tmp_path):
    """Blocks removed: the model left computes what the dense model computes with those
    blocks passed over, each kept block weighing its second softmax map by the lambda_init of
    its index in the dense model; it is transformers' model of the kept blocks given those
    values, and reloads as it (config.json's layer_lambda_init). transformers' model of the
    kept blocks as it builds them (lambda_init of the new indices), which its own load of the
    checkpoint is, computes another model, except where only the last block went (no kept
    block renumbered)."""
    model = family_model("diffllama")
    dense = lambda_inits(model)
    assert len(set(dense)) == 4  # (one a block: 0.2, 0.36, 0.47, 0.56)
    x = ids()
    with without_blocks(model, set(drop)):
        passed_over = logits(model, x)
    keep = [i for i in range(4) if i not in drop]
    remove_blocks(model, drop)
    assert lambda_inits(model) == [dense[i] for i in keep] == model.config.layer_lambda_init
    torch.testing.assert_close(logits(model, x), passed_over, rtol=0, atol=1e-5)
    renumbered = DiffLlamaForCausalLM(config("diffllama", num_hidden_layers=len(keep))).eval()
    renumbered.load_state_dict({k: v for k, v in model.state_dict().items()})
    assert lambda_inits(renumbered) == dense[:len(keep)]
    as_transformers_builds = logits(renumbered, x)
    if drop != [3]:
        assert (as_transformers_builds - passed_over).abs().max() > 1e-3
    for layer, value in zip(renumbered.model.layers, model.config.layer_lambda_init):
        layer.self_attn.lambda_init = value
    assert torch.equal(logits(renumbered, x), logits(model, x))
    save_model(model, None, tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["layer_lambda_init"] == [dense[i] for i in keep]
    ours = load_model(tmp_path)
    assert lambda_inits(ours) == [dense[i] for i in keep]
    assert torch.equal(logits(ours, x), logits(model, x))
    assert count_params(ours.config) == numel(ours)
    theirs = in_allocated_memory(DiffLlamaForCausalLM.from_pretrained(tmp_path,
                                                                      dtype=torch.float32))
    assert torch.equal(logits(theirs.eval(), x), as_transformers_builds)


def test_a_chain_of_diffllama_depth_prunes_keeps_the_dense_models_lambda_init(tmp_path):
    """Two prunes one after the other (4 -> 3 -> 2 blocks), the second of a reloaded
    checkpoint: the blocks left weigh as blocks 2 and 3 of the dense model did."""
    model = family_model("diffllama")
    dense = lambda_inits(model)
    remove_blocks(model, [1])
    save_model(model, None, tmp_path)
    again = load_model(tmp_path)
    remove_blocks(again, [0])
    assert again.config.layer_lambda_init == lambda_inits(again) == dense[2:]
    assert again.config.blocks_before_pruning == 4


@pytest.mark.parametrize("drop", [[0], [1, 2]])
def test_bitnet_depth_pruning_is_transformers_model_of_the_kept_blocks(drop, tmp_path):
    """BitNet's blocks hold nothing their index decides: a depth-pruned model is transformers'
    model of the kept blocks, reloaded by prunebench and by transformers, the hf backends
    decoding as generate."""
    check_depth_prune_is_transformers_model(
        family_model("bitnet"), drop, "model.layers.", BitNetForCausalLM,
        lambda n: config("bitnet", num_hidden_layers=n), tmp_path)


# --------------------------------------------------------------------------- refusals

OWN = {"diffllama": "differential attention", "bitnet": "RMSNorms over the attention output"}


@pytest.mark.parametrize("name", sorted(CLASSES))
@pytest.mark.parametrize("method", ["flap", "llm_pruner", "wanda_sp", "blockpruner"])
def test_the_width_methods_refuse_them_before_scoring(name, method):
    model = family_model(name)
    with pytest.raises(FamilyUnsupported,
                       match=f"{method}.*{OWN[name]}.*depth method.*hf_static"):
        method_function(method)(model, ids(8, 24, seed=3), int(0.8 * numel(model)))
    assert numel(model) == count_params(model.config)  # nothing cut


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_width_surgery_and_the_compiled_decoder_refuse_them(name):
    check_surgery_and_the_compiled_decoder_refuse(family_model(name), OWN[name])


def test_the_start_refuses_the_compiled_backend_for_them(tmp_path):
    """A model of either family whose config is known at the start (a local folder) is told
    of the compiled backend there, not by its benchmark job."""
    from prunebench.plan.checks import moe_problems

    for name in CLASSES:
        config(name).save_pretrained(tmp_path / name)
    runs = {"models": {name: {"source": f"local:{tmp_path / name}", "variants": ["dense"]}
                       for name in CLASSES},
            "benchmark": {"backends": ["hf", "compiled"]}}
    problems = moe_problems(runs, tmp_path / "nowhere")
    assert len(problems) == 2
    for name, problem in zip(CLASSES, problems):
        assert problem.startswith(f"models.{name} ({name}) holds {OWN[name]}")
        assert problem.endswith("take 'compiled' out of benchmark.backends (hf and hf_static "
                                "run it)")


def test_bitnets_packed_ternary_checkpoint_is_refused_for_its_bf16_weights(tmp_path):
    """microsoft/bitnet-b1.58-2B-4T's config.json names its packed ternary weights
    (quantization_config, quant_method bitnet): refused when read, naming the -bf16 master
    weights to use; the same config without it reads."""
    raw = config("bitnet").to_dict()
    raw["quantization_config"] = {"quant_method": "bitnet", "linear_class": "autobitlinear",
                                  "quantization_mode": "offline"}
    (tmp_path / "config.json").write_text(json.dumps(raw))
    with pytest.raises(PrunebenchError, match=r"packed ternary.*bitnet-b1\.58-2B-4T-bf16"):
        checked_config_json(tmp_path)
    del raw["quantization_config"]
    (tmp_path / "config.json").write_text(json.dumps(raw))
    assert checked_config_json(tmp_path)["model_type"] == "bitnet"


@pytest.mark.parametrize("values, problem", [
    ({"num_key_value_heads": 1, "num_attention_heads": 4}, "1 KV heads.*odd count"),
    ({"num_key_value_heads": 3, "num_attention_heads": 3}, "3 KV heads"),
    ({"attention_dropout": 0.1}, "attention_dropout=0.1.*set it to 0.0")])
def test_diffllama_configs_its_class_refuses_are_refused_when_read(values, problem, tmp_path):
    raw = {**FAMILIES["diffllama"]().to_dict(), **values}
    (tmp_path / "config.json").write_text(json.dumps(raw))
    with pytest.raises(PrunebenchError, match=problem):
        checked_config_json(tmp_path)
    with pytest.raises(ValueError):  # (what transformers would do, later)
        DiffLlamaForCausalLM(DiffLlamaConfig(**raw))
