"""GraniteMoE (granitemoe, GraniteMoeForCausalLM): exact counts, loading of the published tensor
names as transformers loads them, depth removal that reloads, the batch-1 floor, the refusals
every mixture of experts gets and the known shapes (tests/test_families.py and tests/test_moe.py
run the shared per-family and mixture-of-experts tests on it too)."""

import pytest
import torch
from transformers import GraniteMoeConfig, GraniteMoeForCausalLM

from prunebench.benchmark.floors import weight_bytes
from prunebench.checkpoint.param_count import FamilyUnsupported, count_params, refuse_moe
from prunebench.modeling import load_model, remove_blocks, save_model
from prunebench.plan.lora_settings import expert_target_problem
from test_families import in_allocated_memory
from test_families import tokenizer  # noqa: F401 - a fixture

# Granite's scalars away from 1, so that a loader ignoring one gives other logits.
SCALARS = dict(embedding_multiplier=3.0, residual_multiplier=0.5, attention_multiplier=0.1,
               logits_scaling=2.0)


def small(**kw) -> GraniteMoeConfig:
    values = dict(vocab_size=97, hidden_size=48, intermediate_size=40, num_hidden_layers=4,
                  num_attention_heads=4, num_local_experts=4, num_experts_per_tok=2, **SCALARS)
    return GraniteMoeConfig(**{**values, **kw})


@pytest.mark.parametrize("kw", [dict(tie_word_embeddings=True),
                                dict(tie_word_embeddings=False),
                                dict(attention_bias=True, num_key_value_heads=2),
                                dict(num_local_experts=7, num_experts_per_tok=3,
                                     intermediate_size=24, num_hidden_layers=2)])
def test_granitemoe_counts_equal_transformers_parameters(kw):
    config = small(**kw)
    model = GraniteMoeForCausalLM(config)
    assert count_params(config) == sum(p.numel() for p in model.parameters())


def logits(model, ids):
    with torch.no_grad():
        return model.eval()(ids).logits


def test_a_published_granitemoe_folder_loads_as_transformers_loads_it(tmp_path):
    torch.manual_seed(0)
    GraniteMoeForCausalLM(small()).save_pretrained(tmp_path)
    # save_pretrained writes the published names back (input_linear, output_linear,
    # router.layer): the folder is laid out as a hub checkpoint is.
    from safetensors import safe_open
    with safe_open(tmp_path / "model.safetensors", "pt") as f:
        assert "model.layers.0.block_sparse_moe.input_linear.weight" in f.keys()
        assert "model.layers.0.block_sparse_moe.router.layer.weight" in f.keys()
    ids = torch.tensor([[1, 5, 9, 22, 40, 3]])
    ours = load_model(tmp_path, device="cpu", dtype=torch.float32)
    theirs = in_allocated_memory(GraniteMoeForCausalLM.from_pretrained(tmp_path,
                                                                       dtype=torch.float32))
    assert torch.equal(logits(ours, ids), logits(theirs, ids))


def test_granitemoe_depth_pruning_removes_exact_blocks_and_reloads(tmp_path, tokenizer):  # noqa: F811
    torch.manual_seed(1)
    GraniteMoeForCausalLM(small()).save_pretrained(tmp_path / "dense")
    model = load_model(tmp_path / "dense", device="cpu", dtype=torch.float32)
    kept = [model.model.layers[i].block_sparse_moe.experts.down_proj.detach().clone()
            for i in (0, 3)]
    remove_blocks(model, [1, 2])
    save_model(model, tokenizer, tmp_path / "pruned")
    ids = torch.tensor([[2, 7, 11, 30]])
    ours = load_model(tmp_path / "pruned", device="cpu", dtype=torch.float32)
    theirs = GraniteMoeForCausalLM.from_pretrained(tmp_path / "pruned", dtype=torch.float32)
    assert ours.config.num_hidden_layers == theirs.config.num_hidden_layers == 2
    for layer, before in zip(theirs.model.layers, kept):
        assert torch.equal(layer.block_sparse_moe.experts.down_proj, before)
    assert count_params(ours.config) == sum(p.numel() for p in theirs.parameters())
    assert torch.equal(logits(ours, ids), logits(theirs, ids))
    # The pruned model in memory computes what its reload computes (up to float32 rounding:
    # the two may run other attention kernels).
    torch.testing.assert_close(logits(ours, ids), logits(model, ids), rtol=1e-4, atol=1e-5)


def test_granitemoe_is_refused_width_methods_and_expert_lora_targets():
    config = small()
    with pytest.raises(FamilyUnsupported, match="granitemoe"):
        refuse_moe(config, "LLM-Pruner")
    assert expert_target_problem(config, ["q_proj", "gate_proj"]) is not None
    assert expert_target_problem(config, ["q_proj", "v_proj"]) is None


def test_granitemoes_batch_1_floor_reads_the_top_k_experts_only():
    config = small(num_local_experts=6, num_experts_per_tok=2)
    model = GraniteMoeForCausalLM(config)
    per_expert = 3 * config.hidden_size * config.intermediate_size
    whole = sum(p.numel() for p in model.parameters()) - model.model.embed_tokens.weight.numel()
    unread = (6 - 2) * per_expert * config.num_hidden_layers
    assert weight_bytes(config, torch.float32) == 4 * (whole - unread)


@pytest.mark.parametrize("name,total,read,hub", [
    # the model cards' 1.3B total / 400M active and 3.3B / 800M
    ("granite-3.1-1b-a400m", 1_334_628_352, 428_658_688, "ibm-granite/granite-3.0-1b-a400m-base"),
    ("granite-3.1-3b-a800m", 3_298_793_472, 882_874_368,
     "ibm-granite/granite-3.1-3b-a800m-instruct")])
def test_granitemoes_known_shapes_count_their_published_totals(name, total, read, hub):
    from prunebench.checkpoint.architectures import (architecture_config, architecture_values,
                                                     known_shape_of)
    from prunebench.checkpoint.param_count import config_from_dict
    from prunebench.modeling import build_model

    config = architecture_config(name)
    assert type(config).__name__ == "GraniteMoeConfig"
    assert count_params(config) == total
    assert sum(p.numel() for p in build_model(config, device="meta").parameters()) == total
    assert count_params(config_from_dict(architecture_values(name))) == total
    # a batch-1 step: 8 routed experts a block, attention, the norms and the (tied) head
    assert weight_bytes(config, "bfloat16") == 2 * read
    # the 3.0 release's ids name the same shape
    assert architecture_values(known_shape_of(hub)) == architecture_values(name)


def test_a_published_granitemoe_folder_imports_prunes_and_reloads(tmp_path, tokenizer):  # noqa: F811
    """What a `local:` source (and an `hf:` download, which stages its files the same way) does
    with a GraniteMoE folder laid out as the hub's: imported with its tensors under the published
    names, verified, pruned by a depth method through the workflow's prune step, and reloaded."""
    from prunebench.checkpoint.local_import import import_local
    from prunebench.pruning import prune_checkpoint

    torch.manual_seed(2)
    model = GraniteMoeForCausalLM(small(vocab_size=128)).eval()
    model.save_pretrained(tmp_path / "hub")
    tokenizer.save_pretrained(tmp_path / "hub")
    imported = import_local(f"local:{tmp_path / 'hub'}", tmp_path / "imported")
    ids = torch.tensor([[1, 5, 9, 22, 40, 3, 17, 60]])
    ours = load_model(imported, device="cpu", dtype=torch.float32, verify=True)
    assert torch.equal(logits(ours, ids), logits(model, ids))
    calibration = torch.randint(3, 128, (8, 24), generator=torch.Generator().manual_seed(3))
    report = prune_checkpoint(imported, "depth_mag", "0.8", tmp_path / "pruned", calibration,
                              device="cpu", params={"protect_first": 1, "protect_last": 1})
    pruned = load_model(tmp_path / "pruned", device="cpu", dtype=torch.float32, verify=True)
    assert report["params_after"] == count_params(pruned.config) < report["params_before"]
    removed = report["method_report"]["removed_blocks"]
    expected = remove_blocks(load_model(imported, device="cpu", dtype=torch.float32), removed)
    assert pruned.config.num_hidden_layers == report["blocks_after"] == 4 - len(removed) < 4
    assert torch.equal(logits(pruned, ids), logits(expected, ids))
