"""JetMoE (jetmoe, JetMoeForCausalLM: JetMoE-8B): the pieces of its own, as a mixture of experts
(depth pruning, the hf and hf_static backends).

Counts against transformers' meta models and by hand: its mixture of attention heads (one
kv_proj of the KV heads every expert shares, a router, each expert's query and output
projections, one output bias) and its MLP experts with their output bias; a token's query
heads its experts' KV heads (num_attention_heads derived, whatever config.json says), head_dim
read from kv_channels. Depth pruning equal to transformers' model of the kept blocks, a save
reloaded by prunebench and by transformers decoding as generate; the KV cache's bytes equal to
transformers' cache. Depth Taylor's pass without activation checkpointing (JetMoE's class has
none), its scores those of a pass with it on a family that has it. Refusals: the width methods,
the compiled decoder, LoRA's targets other than k_proj and v_proj (its attention's and MLP's
experts fused 3D parameters; peft's wrapper of a 3D parameter refuses dropout), and k_proj or
v_proj alone. LoRA's k_proj and v_proj adapt its one kv_proj, trained, merged and reloaded.
tests/test_families.py runs the shared per-family
tests on it."""

from __future__ import annotations


import pytest
import torch
from transformers import JetMoeConfig, JetMoeForCausalLM

from prunebench import FamilyUnsupported
from prunebench.benchmark.floors import kv_cache_bytes
from prunebench.checkpoint.param_count import (block_param_count, config_from_dict,
                                               count_params, layer_shapes, refuse_moe)
from prunebench.lora import resolve_settings
from prunebench.modeling import (load_model, remove_blocks, save_model,
                                 set_activation_checkpointing)
from test_deepseek import check_lora_refused_at_start_and_by_the_job, check_lora_trains_and_merges
from test_families import FAMILIES, family_model, ids, logits
from test_helium_vaultgemma_granitemoeshared import SHAPE, check_counts, check_depth_pruning
from test_qwen3_next import cache_bytes, check_a_depth_pruned_reload_decodes_as_transformers

pytestmark = pytest.mark.usefixtures("one_thread")

NAME = "jetmoe"
EXPERTS = dict(intermediate_size=24, num_local_experts=4, num_experts_per_tok=2)


@pytest.mark.parametrize("values", [
    {**EXPERTS},
    {**EXPERTS, "tie_word_embeddings": False},
    {**EXPERTS, "num_experts_per_tok": 3, "num_key_value_heads": 3},
    {**EXPERTS, "num_local_experts": 6, "num_experts_per_tok": 1, "head_dim": 12}])
def test_counts_equal_transformers_parameters(values):
    check_counts(NAME, values)


def test_a_block_counted_by_hand():
    """2 KV heads of 8 (kv_proj: hidden -> 2 x 16), a router over 4 attention experts (4 x
    hidden), each a query projection (hidden -> 16) and an output projection back, the
    attention's output bias (hidden); an MLP router (4 x hidden), 4 experts of 24 ([gate; up]
    and down) and the MLP's output bias (hidden); two norms. Query heads: 2 KV heads x 2
    experts a token, whatever num_attention_heads SHAPE says (6)."""
    config = JetMoeConfig(**{k: v for k, v in {**SHAPE, **EXPERTS}.items()
                             if k != "num_attention_heads"})
    d, w = 48, 2 * 8
    attention = 2 * d * w + 4 * d + 4 * 2 * d * w + d
    mlp = 4 * d + 4 * 3 * d * 24 + d
    block = attention + mlp + 2 * d
    assert config.num_attention_heads == 4
    assert [block_param_count(config, s) for s in layer_shapes(config)] == [block] * 3
    assert count_params(config) == 97 * d + d + 3 * block  # tied, as JetMoeConfig's default


def test_query_heads_and_head_dim_read_from_config_json_as_the_class_reads_them():
    """head_dim is config.json's kv_channels, and its query heads the KV heads times the
    experts a token where it gives none (JetMoeConfig's reading; a given value is kept, as the
    class keeps it, and counts nothing): prunebench's reading without transformers gives the
    class's shape and count."""
    config = JetMoeConfig(**{k: v for k, v in {**SHAPE, **EXPERTS, "num_experts_per_tok": 3}
                             .items() if k != "num_attention_heads"})
    raw = {k: v for k, v in config.to_dict().items() if k not in ("dtype", "num_attention_heads")}
    assert "kv_channels" in raw and "head_dim" not in raw
    ours = config_from_dict(raw)
    assert (ours.num_attention_heads, ours.head_dim) == (config.num_attention_heads, 8) == (6, 8)
    assert layer_shapes(ours) == layer_shapes(config)
    assert count_params(ours) == count_params(config)
    given = JetMoeConfig.from_dict({**raw, "num_attention_heads": 7})
    assert config_from_dict({**raw, "num_attention_heads": 7}).num_attention_heads == 7 \
        == given.num_attention_heads
    assert count_params(given) == count_params(config)


@pytest.mark.parametrize("drop", [[0], [1, 2], [3]])
def test_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(drop):
    check_depth_pruning(NAME, drop)


def test_a_depth_pruned_save_reloads_and_decodes_as_transformers(tmp_path):
    check_a_depth_pruned_reload_decodes_as_transformers(
        family_model(NAME), [2], JetMoeForCausalLM, tmp_path / "pruned")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_kv_cache_is_what_transformers_cache_holds(dtype):
    """kv_cache_bytes: a key and a value of 16 for each of the 2 KV heads a block (the heads
    every attention expert shares: the cache holds them once), equal to the tensors
    transformers' cache holds after a prefill, a model depth-pruned in place too (its
    attentions' cache entries renumbered: an IndexError otherwise)."""
    model = family_model(NAME).to(dtype)
    size = torch.finfo(dtype).bits // 8
    for drop, blocks in (([], 4), ([1], 3)):
        remove_blocks(model, drop)
        for batch, length in ((1, 5), (2, 9)):
            with torch.no_grad():
                out = model(input_ids=ids(batch, length), use_cache=True)
            cache = getattr(out, "past_key_values", None) or out.cache
            assert cache_bytes(cache) == kv_cache_bytes(model.config, batch, length, dtype) \
                == batch * length * blocks * 2 * 2 * 16 * size


def test_activation_checkpointing_is_left_off_where_the_class_has_none(caplog):
    """JetMoeForCausalLM has no activation checkpointing (transformers raises on turning it
    on): prunebench's switch leaves it off, said in the log, and the pass runs whole."""
    model = family_model(NAME)
    assert not model.supports_gradient_checkpointing
    with pytest.raises(ValueError, match="does not support"):
        model.gradient_checkpointing_enable()
    set_activation_checkpointing(model, True)
    assert "does not support activation checkpointing" in caplog.text
    set_activation_checkpointing(model, False)
    model.train()
    out = model(input_ids=ids(1, 6), labels=ids(1, 6))
    out.loss.backward()
    assert model.model.layers[0].self_attention.experts.input_linear.weight.grad is not None


@pytest.mark.parametrize("method", ["llm_pruner", "flap", "wanda_sp", "blockpruner",
                                    "the compiled backend"])
def test_width_methods_and_the_compiled_decoder_are_refused(method):
    with pytest.raises(FamilyUnsupported, match="mixture-of-experts family 'jetmoe'"
                                                ".*depth method"):
        refuse_moe(FAMILIES[NAME](), method)


def test_lora_adapts_the_keys_and_values_kv_proj_trains_merges_and_reloads(tmp_path):
    """k_proj and v_proj adapt each block's one kv_proj ([keys; values], which every attention
    expert reads: plan.lora_settings.OWN_TARGETS), nothing else (the routers are no target's):
    the adapters on the forward path, a step changing the logits, the merged model a plain
    JetMoeForCausalLM computing the adapted one's logits, saved and reloaded to the same
    logits (float32 both: bit for bit)."""
    merged = check_lora_trains_and_merges(
        family_model(NAME), ["k_proj", "v_proj"],
        [f"model.layers.{b}.self_attention.kv_proj" for b in range(4)])
    save_model(merged, None, tmp_path / "recovered")
    reloaded = load_model(tmp_path / "recovered")
    assert type(reloaded) is JetMoeForCausalLM
    assert torch.equal(logits(reloaded, ids()), logits(merged, ids()))


@pytest.mark.parametrize("targets, match", [
    (["k_proj"], r"names \['k_proj'\] but not \['v_proj'\]: JetMoeForCausalLM reads one "
                 r"kv_proj as k_proj and v_proj"),
    (["q_proj", "k_proj", "v_proj", "o_proj"],
     r"names \['q_proj', 'o_proj'\], which JetMoeForCausalLM holds as its experts' fused 3D "
     r"parameters.*self_attention\.experts.*set lora\.target_modules to \['k_proj', "
     r"'v_proj'\]"),
    (None, r"names \['q_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'\], which "
           r"JetMoeForCausalLM holds as its experts'")])
def test_lora_targets_it_cannot_adapt_are_refused_at_the_start_and_by_the_job(
        tmp_path, targets, match):
    """k_proj without v_proj (its kv_proj is both: one adapter would change the values too),
    and its query and output projections and its MLP's (the default's among them: its
    attention experts' and MLP experts' fused 3D parameters): refused at the start, naming
    what to write, and by the LoRA job; k_proj and v_proj pass the start check."""
    folder = tmp_path / "m"
    FAMILIES[NAME]().save_pretrained(folder)
    check_lora_refused_at_start_and_by_the_job(folder, family_model(NAME), targets, match,
                                               passing=[["k_proj", "v_proj"]])


def test_its_experts_are_left_out_as_peft_adapts_a_3d_parameter_without_dropout_only():
    """peft wraps a 3D parameter (an expert's stacked projections) only through
    `target_parameters`, whose wrapper refuses any lora_dropout (the study's 0.05): the
    attention experts' query projections are no target (nor any family's experts)."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=2, target_modules=[], lora_dropout=resolve_settings()["dropout"],
                        target_parameters=["self_attention.experts.input_linear.weight"])
    with pytest.raises(ValueError, match="does not work with lora_dropout"):
        get_peft_model(family_model(NAME), config)
