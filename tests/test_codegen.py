"""CodeGen (codegen, CodeGenForCausalLM; Salesforce's CodeGen models): GPT-J's block with q, k
and v fused in one qkv_proj in the four-shard layout of its TPU training, a full family.

CodeGenAttention views qkv_proj's output as 4 shards (its mp_num), each [q; v; k] of a quarter
of the heads: head h's q, v and k rows lie at (h // r) x 3 x local + part x local + (h % r) x
head_dim (r = heads / 4, local = r x head_dim, part 0 q, 1 v, 2 k), and transformers splits
the heads of a pruned block into 4 equal shards again (5.17 by num_attention_heads // 4, 5.25
by embed_dim // 4). Width pruning therefore keeps as many heads in each shard, the kept rows in
that layout (`projections.qkv_layout` "shards", `Family.qkv_shards`).

Checked here: counts against transformers' models, from a config.json of CodeGen's own keys
and by hand; a checkpoint transformers saved, imported and loaded with transformers' logits
(its sin / cos table made again after a load on meta); the shards' layout, as transformers'
attention reads it and not as Phi-3's runs would; head removal equal to transformers' dense
model with the removed heads silenced, and other models where heads are kept unevenly across
the shards or their rows taken as Phi-3's runs; uneven removals refused before anything is
cut; the width methods keeping the best heads of each shard, as many in each; a width-pruned
model reloaded with its logits, the compiled decoder giving its logits and decoding as
generate; depth pruning equal to transformers' model of the kept blocks, reloaded; the old
checkpoints' causal-mask buffers set aside; the refusals (rotary_dim null, n_head no multiple
of 4). tests/test_families.py runs the shared per-family tests on its tiny config."""

from __future__ import annotations

import itertools
import json

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import CodeGenConfig, CodeGenForCausalLM

from prunebench import FamilyUnsupported, PrunebenchError, projections
from prunebench.benchmark.compiled import StaticDecoder
from prunebench.checkpoint.param_count import (checked_config_json, config_from_dict,
                                               count_params, kv_heads,
                                               layer_shapes, norms_per_block, parallel_block)
from prunebench.methods import flap, surgery
from prunebench.methods.registry import method_function
from prunebench.modeling import count_params_meta, load_config, load_model, save_model
from test_cohere import decoder_gives_transformers_logits, decodes_as_generate_does
from test_dbrx import check_a_transformers_checkpoint_imports
from test_families import VOCAB, family_config, family_model, ids, logits, numel
from test_families import tokenizer  # noqa: F401 - a fixture
from test_gpt_neox import check_saved_counts_and_reloads
from test_opt import check_depth_prune_is_transformers_model

pytestmark = pytest.mark.usefixtures("one_thread")

# the family tests' tiny CodeGen: 8 heads of 8 dimensions, 2 a shard
HEADS, HD, SHARDS = 8, 8, 4


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


# --------------------------------------------------------------------------- head removal

def head_rows(heads: list[int]) -> list[int]:
    """The q, v and k rows of `heads` in the dense qkv_proj, shard by shard (each shard's
    [q; v; k] of its kept heads): the kept heads' layout as an attention of fewer heads
    splits it, where each shard keeps as many."""
    return sorted(r for h in heads for part in range(3) for r in value_rows(h, part))


def silenced_dense(model, block: int, removed: list[int]) -> CodeGenForCausalLM:
    """Transformers' dense CodeGenForCausalLM of `model`'s weights with the `removed` heads of
    `block` silenced (their out_proj columns zero): what removing them must compute."""
    dense = CodeGenForCausalLM(model.config).eval()
    dense.load_state_dict(model.state_dict())
    with torch.no_grad():
        dense.transformer.h[block].attn.out_proj.weight[
            :, [h * HD + c for h in removed for c in range(HD)]] = 0
    return dense


@pytest.mark.parametrize("removed", [[1, 2, 5, 6], [0, 3, 4, 7]])
def test_removing_a_head_of_each_shard_is_transformers_model_with_them_silenced(removed):
    """One head out of each shard: qkv_proj keeps the kept heads' q, v and k rows in the
    shards' layout, out_proj their columns, and transformers' own CodeGenAttention, told its
    four heads, computes transformers' dense model with the removed heads silenced."""
    model = family_model("codegen")
    kept = [h for h in range(HEADS) if h not in removed]
    attn = model.transformer.h[1].attn
    qkv, out = attn.qkv_proj.weight.detach().clone(), attn.out_proj.weight.detach().clone()
    silenced = silenced_dense(model, 1, removed)
    surgery.remove_kv_groups(model, 1, removed)
    assert torch.equal(attn.qkv_proj.weight, qkv[head_rows(kept)])
    assert torch.equal(attn.out_proj.weight, out[:, [h * HD + c for h in kept for c in range(HD)]])
    assert projections.attention_heads(attn, HD) == (4, 4)
    assert attn.num_attention_heads == 4 and attn.embed_dim == 4 * HD  # (5.17's, 5.25's split)
    assert numel(model) == count_params(model.config)
    x = ids()
    torch.testing.assert_close(logits(model, x), logits(silenced, x), rtol=0, atol=1e-5)


def test_heads_kept_unevenly_across_the_shards_are_refused_before_anything_is_cut():
    model = family_model("codegen")
    for remove in (lambda: surgery.remove_kv_groups(model, 1, [0, 1]),
                   lambda: surgery.remove_heads(model, 1, [0, 2, 4])):
        with pytest.raises(PrunebenchError, match=r"block 1: keeping heads \[.*\] leaves "
                           r"\[\d, \d, \d, \d\] heads in the 4 shards of its qkv_proj .*keep "
                           r"as many heads in each shard \(a multiple of 4 in all\), or none"):
            remove()
    assert numel(model) == count_params(model.config)  # nothing cut


def test_the_shards_must_keep_as_many_heads_in_their_own_layout(monkeypatch):
    """What the check and the layout guard against: heads 0..3 out (shards 0 and 1 emptied,
    the check bypassed), or one head of each shard out with qkv_proj's rows taken as Phi-3's
    runs [all q; all k; all v] (the attention then told its heads as it should be): either
    way transformers' attention gives kept heads other heads' rows, another model than the
    dense one with the removed heads silenced."""
    x = ids()
    uneven = family_model("codegen")
    reference = logits(silenced_dense(uneven, 1, [0, 1, 2, 3]), x)
    with monkeypatch.context() as patch:
        patch.setattr(surgery, "check_shards_kept", lambda *args: None)
        surgery.remove_kv_groups(uneven, 1, [0, 1, 2, 3])
    assert (logits(uneven, x) - reference).abs().max() > 1e-2
    runs = family_model("codegen")
    reference = logits(silenced_dense(runs, 1, [1, 2, 5, 6]), x)
    with monkeypatch.context() as patch:
        patch.setattr(projections, "qkv_layout", lambda attn: "runs")
        surgery.remove_kv_groups(runs, 1, [1, 2, 5, 6])
    projections.set_block_heads(runs.transformer.h[1].attn, 4, 4)
    assert (logits(runs, x) - reference).abs().max() > 1e-2


def test_the_selectors_remove_the_worst_heads_of_each_shard():
    """The four worst heads lie in shards 0 and 1: LLM-Pruner's, FLAP's UL-UM and Wanda-sp's
    removal (surgery.worst_groups) takes the worst of each shard instead; FLAP's AL-AM pools
    the j-th best head of every shard as one unit, scored by their mean."""
    config = small()
    scores = torch.tensor([0.1, 0.2, 0.3, 0.4, 5.0, 6.0, 8.0, 7.0])
    assert surgery.worst_groups(config, scores, 4) == [0, 2, 4, 7]
    assert surgery.worst_groups(config, scores, 0) == []
    units = flap._head_units(config, scores)
    assert [heads for _, heads in units] == [(1, 3, 5, 6), (0, 2, 4, 7)]
    assert units[0][0] == pytest.approx((0.2 + 0.4 + 6.0 + 8.0) / 4)
    costs = flap._unit_costs(config, layer_shapes(config)[0])
    assert costs[0] == costs[1] == 4 * 4 * 64 * HD  # four heads' q, k, v rows, out_proj cols


@pytest.mark.parametrize("method,params", [("llm_pruner", {}), ("wanda_sp", {}),
                                           ("flap", {"structure": "UL-UM"}),
                                           ("flap", {"structure": "AL-AM"})])
def test_the_width_methods_keep_as_many_heads_in_each_shard(method, params, tmp_path):
    """At half the size every method removes heads, a multiple of four from a block, the
    worst of each shard by its scores (LLM-Pruner's report gives them); the pruned model
    counts as its config says, reloads with its logits and keeps each block's heads."""
    model = family_model("codegen")
    report = method_function(method)(model, ids(8, 24, seed=3), int(0.5 * numel(model)),
                                     **params)
    heads = [projections.attention_heads(layer.self_attn, HD)[0]
             for layer in model.model.layers]
    assert min(heads) < HEADS and all(n % SHARDS == 0 for n in heads)
    assert numel(model) == count_params(model.config)
    if method == "llm_pruner":
        for block in report["blocks"]:
            if block["removed_heads"]:
                per = HEADS // SHARDS
                for s in range(SHARDS):
                    shard = block["group_scores"][s * per:(s + 1) * per]
                    gone = [h - s * per for h in block["removed_heads"] if h // per == s]
                    assert gone == [int(torch.tensor(shard).argmin())]
    check_saved_counts_and_reloads(model, tmp_path, heads, HD)


# --------------------------------------------------------------------------- compiled decoder

def width_pruned(model):
    """The family tests' CodeGen with a head of each shard out of block 1, every head out of
    block 2 and a third of block 3's MLP channels out."""
    surgery.remove_kv_groups(model, 1, [1, 2, 5, 6])
    surgery.remove_kv_groups(model, 2, range(HEADS))
    surgery.remove_channels(model, 3, range(0, 128, 3))
    assert numel(model) == count_params(model.config)
    return model


@pytest.mark.parametrize("fuse", [True, False])
def test_the_compiled_decoder_gives_transformers_logits_for_a_width_pruned_model(fuse):
    """The decoder reads qkv_proj's shards as each head's q, k and v, and GPT-J's block else
    (one LayerNorm feeding both sublayers, their outputs summed first): transformers'
    logits; reading the shards as Phi-3's runs [all q; all k; all v], other ones."""
    model = width_pruned(family_model("codegen"))
    decoder = decoder_gives_transformers_logits(model, fuse)
    assert all(block.parallel and block.ln2 is None and block.outputs_first
               for block in decoder.blocks)
    prompt = ids(3, 9, seed=5)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(projections, "qkv_layout", lambda attn: "runs")
        runs = StaticDecoder(model, 3, 16, mode="eager", fuse=fuse)
    assert (runs.prefill_logits(prompt) - logits(model, prompt)[:, -1]).abs().max() > 1e-2


def test_the_compiled_decoder_decodes_a_width_pruned_model_as_generate_does():
    decodes_as_generate_does(width_pruned(family_model("codegen")))


def test_the_start_takes_the_compiled_backend_for_it(tmp_path):
    from prunebench.plan.checks import moe_problems

    small().save_pretrained(tmp_path / "codegen")
    runs = {"models": {"codegen": {"source": f"local:{tmp_path / 'codegen'}",
                                   "variants": ["dense"]}},
            "benchmark": {"backends": ["hf", "compiled"]}}
    assert moe_problems(runs, tmp_path / "nowhere") == []


# --------------------------------------------------------------------------- refusals

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
