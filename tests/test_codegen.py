"""CodeGen (codegen, CodeGenForCausalLM; Salesforce's CodeGen models): GPT-J's block with q, k
and v fused in one qkv_proj in the four-shard layout of its TPU training, a depth-only family
(Family.depth_only).

CodeGenAttention views qkv_proj's output as 4 shards (its mp_num), each [q; v; k] of a quarter
of the heads: head h's q, v and k rows lie at (h // r) x 3 x local + part x local + (h % r) x
head_dim (r = heads / 4, local = r x head_dim, part 0 q, 1 v, 2 k). No width surgery, fused
block or method of prunebench reads that layout (a head removal would have to keep a multiple
of four heads and repack the shards): depth methods and the hf / hf_static backends only.

Checked here: counts against transformers' models, from a config.json of CodeGen's own keys
and by hand; a checkpoint transformers saved, imported and loaded with transformers' logits
(its sin / cos table made again after a load on meta); the shards' layout, as transformers'
attention reads it and not as Phi-3's runs would; depth pruning equal to transformers' model
of the kept blocks, reloaded, the hf backends decoding as generate; the old checkpoints'
causal-mask buffers set aside; the refusals (width methods before scoring, width surgery, the
compiled decoder and the start's check, rotary_dim null, n_head no multiple of 4).
tests/test_families.py runs the shared per-family tests on its tiny config."""

from __future__ import annotations

import itertools
import json

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import CodeGenConfig, CodeGenForCausalLM

from prunebench import FamilyUnsupported
from prunebench.checkpoint.param_count import (checked_config_json, config_from_dict,
                                               count_params, kv_heads, norms_per_block,
                                               parallel_block)
from prunebench.methods.registry import method_function
from prunebench.modeling import count_params_meta, load_config, load_model, save_model
from test_dbrx import check_a_transformers_checkpoint_imports
from test_families import VOCAB, family_config, family_model, ids, logits, numel
from test_families import tokenizer  # noqa: F401 - a fixture
from test_hyperclovax_minicpm3 import check_surgery_and_the_compiled_decoder_refuse
from test_opt import check_depth_prune_is_transformers_model

pytestmark = pytest.mark.usefixtures("one_thread")

# the family tests' tiny CodeGen: 8 heads of 8 dimensions, 2 a shard
HEADS, HD, SHARDS = 8, 8, 4
OWN = "q, k and v fused in one qkv_proj in the four-shard layout"


def small(**kw) -> CodeGenConfig:
    return family_config("codegen", **kw)


# --------------------------------------------------------------------------- counts

@pytest.mark.parametrize("inner,tied", list(itertools.product([None, 96], [False, True])))
def test_counts_equal_transformers_parameters(inner, tied):
    config = small(n_inner=inner, tie_word_embeddings=tied)
    model = CodeGenForCausalLM(config)
    layer = model.transformer.h[0]
    assert layer.attn.qkv_proj.bias is None and layer.attn.out_proj.bias is None
    assert layer.mlp.fc_in.out_features == (inner or 4 * 64)  # 4 x n_embd where None
    assert model.lm_head.bias is not None  # biased whether tied or not
    assert parallel_block(config) and norms_per_block(config) == 1  # ln_1 alone
    assert kv_heads(config) == HEADS
    assert count_params(config) == count_params_meta(config) == numel(model)
    assert count_params(config_from_dict(json.loads(config.to_json_string()))) == numel(model)


def test_a_config_json_of_its_own_keys_counts_as_transformers_builds_it(tmp_path):
    """CodeGen's config.json names its sizes as GPT-J's does (n_embd, n_layer, n_head,
    n_positions, n_inner null: 4 x n_embd); counted by hand and by transformers' model."""
    values = {"model_type": "codegen", "vocab_size": 97, "n_embd": 48, "n_inner": None,
              "n_layer": 3, "n_head": 4, "n_positions": 64, "rotary_dim": 4,
              "activation_function": "gelu_new", "tie_word_embeddings": False}
    theirs = CodeGenForCausalLM(CodeGenConfig(**values))
    d, m, vocab = 48, 4 * 48, 97
    # qkv_proj and out_proj without biases, fc_in / fc_out with, one LayerNorm (weight, bias)
    block = 3 * d * d + d * d + 2 * d * m + m + d + 2 * d
    by_hand = 3 * block + 2 * vocab * d + vocab + 2 * d  # embedding, head and its bias, ln_f
    (tmp_path / "config.json").write_text(json.dumps(values))
    assert count_params(config_from_dict(checked_config_json(tmp_path))) == by_hand
    assert numel(theirs) == by_hand


# --------------------------------------------------------------------------- import and load

def test_a_checkpoint_transformers_saved_imports_and_computes_transformers_logits(
        tmp_path, tokenizer):  # noqa: F811
    """Built on meta and loaded, its sin / cos table (CodeGenRotaryEmbedding's in 5.25, every
    attention's in 5.17, no weight) is made again as transformers makes it: the same logits."""
    check_a_transformers_checkpoint_imports(CodeGenForCausalLM, small(), tokenizer, tmp_path)


def test_a_checkpoint_with_the_attentions_old_mask_buffers_loads_as_transformers_loads_it(
        tmp_path):
    """Salesforce's conversion wrote each attention's causal-mask buffers (attn.causal_mask,
    attn.masked_bias), which CodeGenForCausalLM does not hold: prunebench's loader sets them
    aside, and the model computes the saved one's logits."""
    model = family_model("codegen")
    x = ids()
    save_model(model, None, tmp_path / "m")
    weights = tmp_path / "m" / "model.safetensors"
    state = load_file(weights)
    for b in range(4):
        state[f"transformer.h.{b}.attn.causal_mask"] = torch.ones(1, 1, 8, 8)
        state[f"transformer.h.{b}.attn.masked_bias"] = torch.tensor(-1e9)
    save_file(state, weights, metadata={"format": "pt"})
    ours = load_model(tmp_path / "m", verify=False)
    assert torch.equal(logits(ours, x), logits(model, x))


# --------------------------------------------------------------------------- the shards

def value_rows(head: int, part: int = 1) -> list[int]:
    """Head `head`'s rows of qkv_proj's `part` (0 q, 1 v, 2 k) in CodeGen's shards."""
    per, local = HEADS // SHARDS, HEADS // SHARDS * HD
    start = head // per * 3 * local + part * local + head % per * HD
    return list(range(start, start + HD))


def attention_output_heads(model, x) -> torch.Tensor:
    """Block 0's attention output before out_proj, [tokens, heads, head_dim]."""
    seen = []
    hook = model.transformer.h[0].attn.out_proj.register_forward_hook(
        lambda module, args, out: seen.append(args[0].detach()))
    with torch.no_grad():
        model(x)
    hook.remove()
    return seen[0][0].view(-1, HEADS, HD)


@pytest.mark.parametrize("head", [0, 3, 6])
def test_the_shards_hold_each_heads_q_v_and_k_where_the_refusal_says(head):
    """Silencing head h's value rows at the shards' place silences head h's output alone;
    silencing the rows Phi-3's runs [all q; all k; all v] would name silences no whole head:
    the layout no width surgery or fused block of prunebench reads."""
    torch.manual_seed(0)
    model = CodeGenForCausalLM(small()).eval()
    x = ids()
    before = attention_output_heads(model, x)
    weight = model.transformer.h[0].attn.qkv_proj.weight
    saved = weight.detach().clone()
    with torch.no_grad():
        weight[value_rows(head)] = 0
    after = attention_output_heads(model, x)
    assert torch.all(after[:, head] == 0) and before[:, head].abs().sum() > 0
    others = [h for h in range(HEADS) if h != head]
    assert torch.equal(after[:, others], before[:, others])
    runs = list(range(2 * HEADS * HD + head * HD, 2 * HEADS * HD + (head + 1) * HD))
    with torch.no_grad():
        weight.copy_(saved)
        weight[runs] = 0
    assert not any(torch.all(attention_output_heads(model, x)[:, h] == 0)
                   for h in range(HEADS))


# --------------------------------------------------------------------------- depth

@pytest.mark.parametrize("drop", [[0], [1, 2]])
def test_depth_pruning_is_transformers_model_of_the_kept_blocks(drop, tmp_path):
    check_depth_prune_is_transformers_model(
        family_model("codegen"), drop, "transformer.h.", CodeGenForCausalLM,
        lambda n: small(n_layer=n), tmp_path)


# --------------------------------------------------------------------------- refusals

@pytest.mark.parametrize("method", ["flap", "llm_pruner", "wanda_sp", "blockpruner"])
def test_the_width_methods_refuse_it_before_scoring(method):
    model = family_model("codegen")
    with pytest.raises(FamilyUnsupported, match=f"{method}.*{OWN}.*depth method.*hf_static"):
        method_function(method)(model, ids(8, 24, seed=3), int(0.8 * numel(model)))
    assert numel(model) == count_params(model.config)  # nothing cut


def test_width_surgery_and_the_compiled_decoder_refuse_it():
    check_surgery_and_the_compiled_decoder_refuse(family_model("codegen"), OWN)


def test_the_start_refuses_the_compiled_backend_for_it(tmp_path):
    from prunebench.plan.checks import moe_problems

    small().save_pretrained(tmp_path / "codegen")
    runs = {"models": {"codegen": {"source": f"local:{tmp_path / 'codegen'}",
                                   "variants": ["dense"]}},
            "benchmark": {"backends": ["hf", "compiled"]}}
    assert moe_problems(runs, tmp_path / "nowhere") == [
        f"models.codegen (codegen) holds {OWN} of its TPU training (a quarter of the heads' q, "
        "v and k a shard), which the compiled backend does not run (its fused blocks compute "
        "LLaMA's block): take 'compiled' out of benchmark.backends (hf and hf_static run it)"]


def test_a_config_json_with_a_null_rotary_dim_is_refused_naming_the_whole_head(tmp_path):
    """rotary_dim null, which CodeGenConfig's strict check refuses (5.17 and 5.25), is refused
    by prunebench's readers of the config.json with the value to give, as GPT-J's."""
    values = {"model_type": "codegen", "vocab_size": VOCAB, "n_embd": 48, "n_layer": 2,
              "n_head": 4, "n_positions": 64, "rotary_dim": None}
    with pytest.raises(Exception, match="rotary_dim"):  # transformers' own check
        CodeGenConfig(**values)
    (tmp_path / "config.json").write_text(json.dumps(values))
    for read in (checked_config_json, load_config):
        with pytest.raises(FamilyUnsupported, match=r"gives rotary_dim null for a CodeGen "
                           r"model: transformers' CodeGenConfig refuses it .*n_embd / n_head "
                           r"= 12 for the whole head"):
            read(tmp_path)


def test_a_config_json_with_heads_no_multiple_of_four_is_refused_when_read(tmp_path):
    """Six heads cannot be split into CodeGen's four shards: transformers 5.17's attention
    stops on a reshape at the first forward and 5.25's reads heads across two shards; every
    reader of the config.json refuses it, naming the shards, before any weight loads."""
    values = {"model_type": "codegen", "vocab_size": VOCAB, "n_embd": 48, "n_layer": 2,
              "n_head": 6, "n_positions": 64, "n_ctx": 64, "rotary_dim": 4}
    (tmp_path / "config.json").write_text(json.dumps(values))
    for read in (checked_config_json, load_config):
        with pytest.raises(FamilyUnsupported, match=r"gives n_head=6 for a CodeGen model: its "
                           r"qkv_proj holds q, v and k in four shards .*multiple of 4"):
            read(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**values, "n_head": 4}))
    assert checked_config_json(tmp_path)["model_type"] == "codegen"  # four heads read
