"""GPT-BigCode (gpt_bigcode, GPTBigCodeForCausalLM; StarCoder, StarCoderBase, SantaCoder's
transformers port and their fine-tunes): exact counts over its options (multi_query, n_inner,
tying) with and without transformers, from a config.json of its own keys and by hand for the
known shape; its modules read by LLaMA's names (the learned positions `wpe` as OPT's) while
the state dict keeps transformers'; head removal keeping c_attn's rows as GPTBigCodeAttention
views them (head by head; multi-query's one KV head serving every query head, so removing it
removes the attention) and the pruned model computing transformers' own dense model with the
removed heads silenced; a uniformly MLP-pruned model equal to transformers' model of that
n_inner; depth pruning equal to transformers' model of the kept blocks, saved and reloaded by
prunebench and by transformers' class, the hf backends decoding as generate; the compiled
decoder against transformers on width-pruned models of both layouts, fused and not, each of
its pieces shown to matter (the learned positions, the LayerNorms' biases, unscaled scores);
its dropout off in training-mode passes; LoRA on its own module names; the refusal of a
cross-attention config (tests/test_families.py runs the shared per-family tests on both
layouts: every method, save and reload, every backend, evaluation, LoRA)."""

from __future__ import annotations

import copy
import itertools
import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import GPTBigCodeConfig, GPTBigCodeForCausalLM

from prunebench import FamilyUnsupported, projections
from prunebench.benchmark.compiled import StaticDecoder
from prunebench.checkpoint.architectures import (ARCHITECTURES, architecture_config,
                                                known_shape_of)
from prunebench.checkpoint.param_count import (checked_config_json, config_from_dict, kv_heads,
                                             parallel_block)
from prunebench.lora import lora_target_names
from prunebench.methods import surgery
from prunebench.modeling import (ZeroHeadAttention, build_model, count_params,
                                 count_params_meta, final_norm, load_model, remove_blocks,
                                 save_model)
from prunebench.plan.lora_settings import TARGETS
from test_cohere import (decoder_gives_transformers_logits, decodes_as_generate_does,
                         reloads_with_its_logits)
# (width_pruned: its last KV group out of block 1, head 3 or every head of StarCoder's one
# group; every head out of block 2, its c_proj bias left; a third of block 3's MLP channels)
from test_falcon import kv_groups_removed_as_silenced, width_pruned
from test_families import FAMILIES, PUBLISHED, family_model, ids, logits, numel
from test_gpt_neox import check_a_uniformly_mlp_pruned_model, without_blocks_1_and_2_is
from test_stablelm import decoder_follows_the_change, dropout_turned_off, without_norm_biases

pytestmark = pytest.mark.usefixtures("one_thread")

# the family tests' tiny GPT-BigCode: 4 heads of 16, an MLP of 128 (test_gpt_neox's helpers
# read the same), 256 positions; StarCoder's multi-query layout and the head-by-head one
HEADS, HD, WIDTH, D, POSITIONS = 4, 16, 128, 64, 256
LAYOUTS = {"multi_query": "gpt_bigcode", "heads": "gpt_bigcode_mha"}


def bigcode(layout: str, **changes):
    return family_model(LAYOUTS[layout], **changes)


def small(layout: str, **kw) -> GPTBigCodeConfig:
    values = {**FAMILIES[LAYOUTS[layout]]().to_dict(), **kw}
    values.pop("num_key_value_heads", None)  # (derived: GPTBigCodeConfig sets it)
    return GPTBigCodeConfig(**values)


def by_hand(vocab: int, d: int, blocks: int, heads: int, multi_query: bool, width: int,
            positions: int, tied: bool = True) -> int:
    """GPT-BigCode's parameters written out: c_attn of d + 2 x (KV heads x head_dim) rows and
    c_proj, both biased; c_fc / c_proj biased; two LayerNorms (weight and bias) a block; the
    token and position tables, ln_f, an unbiased head (none where tied)."""
    kv = (1 if multi_query else heads) * (d // heads)
    block = (d * (d + 2 * kv) + d + 2 * kv) + (d * d + d) + (2 * d * width + width + d) + 4 * d
    return blocks * block + vocab * d * (1 if tied else 2) + positions * d + 2 * d


@pytest.mark.parametrize("layout,inner,tied",
                         list(itertools.product(LAYOUTS, [None, 96], [True, False])))
def test_counts_equal_transformers_parameters(layout, inner, tied):
    config = small(layout, n_inner=inner, tie_word_embeddings=tied)
    model = GPTBigCodeForCausalLM(config)
    attn = model.transformer.h[0].attn
    assert attn.c_attn.bias is not None and attn.c_proj.bias is not None
    assert model.lm_head.bias is None
    assert model.transformer.h[0].mlp.c_fc.out_features == (inner or 4 * D)  # 4 x n_embd
    assert kv_heads(config) == (1 if layout == "multi_query" else HEADS)
    assert not parallel_block(config)
    assert count_params(config) == count_params_meta(config) == numel(model)
    assert numel(model) == by_hand(config.vocab_size, D, 4, HEADS, layout == "multi_query",
                                   inner or 4 * D, POSITIONS, tied)
    # and without transformers, from its config.json's values (`prunebench plan`)
    assert count_params(config_from_dict(json.loads(config.to_json_string()))) == numel(model)


@pytest.mark.parametrize("multi_query", [None, True, False])
def test_a_published_config_json_counts_as_transformers_builds_it(multi_query, tmp_path):
    """GPT-BigCode's config.json names its sizes n_embd, n_layer, n_head, n_positions and
    n_inner (null: 4 x n_embd), and no num_key_value_heads: multi_query (true where left out)
    gives one KV head, else one a query head, whatever a stray num_key_value_heads says (its
    config class sets it from multi_query)."""
    values = {"model_type": "gpt_bigcode", "vocab_size": 97, "n_embd": 48, "n_inner": None,
              "n_layer": 3, "n_head": 6, "n_positions": 40,
              **({} if multi_query is None else {"multi_query": multi_query})}
    theirs = GPTBigCodeForCausalLM(GPTBigCodeConfig(**values))
    expected = by_hand(97, 48, 3, 6, multi_query is not False, 4 * 48, 40)
    assert count_params(config_from_dict(values)) == numel(theirs) == expected
    stray = config_from_dict({**values, "num_key_value_heads": 4})
    assert kv_heads(stray) == (6 if multi_query is False else 1)
    assert count_params(stray) == expected
    # nor does the config.json's check read it, 4 being no divisor of the 6 heads
    (tmp_path / "config.json").write_text(json.dumps({**values, "num_key_value_heads": 4}))
    assert count_params(config_from_dict(checked_config_json(tmp_path))) == expected


def test_its_modules_answer_llamas_names_and_keep_their_own(tmp_path):
    """prunebench reads GPT-BigCode's modules by LLaMA's names (aliases, not submodules): the
    state dict, and so the checkpoint, keeps transformers' names (transformer.h.N.attn.c_attn,
    ln_1, ...), a copy's aliases are the copy's modules, and a block's attention replaced by
    surgery, or the blocks replaced by depth pruning, are the ones its forward calls."""
    model = bigcode("multi_query")
    inner = model.transformer
    assert model.model is inner and model.model.layers is inner.h
    assert inner.embed_positions is inner.wpe  # OPT's name, which the compiled decoder reads
    assert final_norm(model) is inner.ln_f
    for layer in model.model.layers:
        assert layer.self_attn is layer.attn
        assert projections.block_norm(layer, "input_layernorm") is layer.ln_1
        assert projections.block_norm(layer, "post_attention_layernorm") is layer.ln_2
        assert projections.get_part(layer.self_attn, "qkv_proj") is layer.attn.c_attn
        assert projections.get_part(layer.self_attn, "o_proj") is layer.attn.c_proj
        assert projections.get_part(layer.mlp, "up_proj") is layer.mlp.c_fc
        assert projections.get_part(layer.mlp, "down_proj") is layer.mlp.c_proj
        assert projections.qkv_layout(layer.self_attn) == "runs"
    assert projections.qkv_layout(bigcode("heads").model.layers[0].self_attn) == "heads"
    assert set(model.state_dict()) == set(GPTBigCodeForCausalLM(model.config).state_dict())
    copied = copy.deepcopy(model)
    assert copied.model is copied.transformer and copied.model is not model.transformer
    surgery.remove_kv_groups(copied, 2, [0])
    layer = copied.transformer.h[2]
    assert isinstance(layer.attn, ZeroHeadAttention) and layer.self_attn is layer.attn
    remove_blocks(copied, [0])
    assert copied.model.layers is copied.transformer.h and len(copied.transformer.h) == 3
    assert "layers" not in copied.transformer._modules
    reloads_with_its_logits(copied, ids(), tmp_path)  # saved as m, under its own names
    assert load_model(tmp_path / "m").model is not None


def test_a_reload_computes_transformers_logits_and_tokens_in_both_layouts(tmp_path):
    """Saved by prunebench, each layout loads by prunebench and by transformers' own
    from_pretrained with the same float32 logits and greedy tokens; GPTBigCodeModel's causal
    mask buffer (`bias`, saved with no checkpoint) made again by the loader."""
    for layout in LAYOUTS:
        model = bigcode(layout)
        save_model(model, None, tmp_path / layout)
        ours = load_model(tmp_path / layout)
        theirs = GPTBigCodeForCausalLM.from_pretrained(tmp_path / layout,
                                                       dtype=torch.float32).eval()
        assert torch.equal(ours.transformer.bias, theirs.transformer.bias)
        x = ids()
        torch.testing.assert_close(logits(ours, x), logits(theirs, x), rtol=0, atol=1e-5)
        with torch.inference_mode():
            kw = dict(max_new_tokens=8, min_new_tokens=8, do_sample=False, pad_token_id=0)
            assert torch.equal(ours.generate(x, **kw), theirs.generate(x, **kw))


def head_rows(heads: list[int]) -> list[int]:
    """c_attn's rows of `heads` head by head, as GPTBigCodeAttention views them without
    multi_query ([heads, 3 x head_dim]: each head's q, k, v rows together)."""
    return [h * 3 * HD + r for h in heads for r in range(3 * HD)]


def runs_rows(heads: list[int]) -> list[int]:
    """The same heads' rows read as Phi-3's [all q; all k; all v]: another layout's rows."""
    cols = [h * HD + c for h in heads for c in range(HD)]
    return [*cols, *(HEADS * HD + r for r in cols), *(2 * HEADS * HD + r for r in cols)]


@pytest.mark.parametrize("layout,removed", [("heads", [0]), ("heads", [3]),
                                            ("heads", [1, 2]), ("heads", [0, 1, 2, 3]),
                                            ("multi_query", [0])])
def test_head_removal_keeps_c_attns_rows_as_its_attention_views_them(layout, removed):
    """The kept c_attn holds exactly the kept heads' rows (and bias entries) head by head,
    c_proj their columns, the attention module told its widths (GPTBigCodeAttention splits
    c_attn by embed_dim and kv_dim, views it by num_heads); the pruned model computes what
    transformers' own dense GPTBigCodeForCausalLM computes with the removed heads silenced
    (their c_proj columns zero). StarCoder's one KV head serves every query head: removing it
    leaves the block its c_proj bias alone. The rows taken as runs ([all q; all k; all v])
    would mix one head's query with another's key: another model."""
    model = bigcode(layout)
    _, kept, c_attn, c_proj, mine = kv_groups_removed_as_silenced(model, removed, "attn",
                                                                 "c_attn", "c_proj")
    attn = model.transformer.h[1].attn
    if not kept:
        assert isinstance(attn, ZeroHeadAttention)
        return
    for name, value in c_attn.items():
        assert torch.equal(getattr(attn.c_attn, name), value[head_rows(kept)])
    assert torch.equal(attn.c_proj.weight, c_proj[:, [h * HD + c for h in kept
                                                      for c in range(HD)]])
    assert projections.attention_heads(attn, HD) == (len(kept), len(kept))
    assert (attn.num_heads, attn.embed_dim, attn.kv_dim) == (len(kept), len(kept) * HD,
                                                             len(kept) * HD)
    wrong = copy.deepcopy(model)
    with torch.no_grad():
        for name, value in c_attn.items():
            getattr(wrong.transformer.h[1].attn.c_attn, name).copy_(value[runs_rows(kept)])
    assert (logits(wrong, ids()) - mine).abs().max() > 1e-2


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_a_uniformly_mlp_pruned_model_is_transformers_model_of_its_width(layout):
    """MLP channels removed in every block: transformers' GPTBigCodeForCausalLM built at the
    kept n_inner, given the kept channels' rows (c_fc and its bias) and columns (c_proj)
    sliced by hand, computes the same logits."""
    check_a_uniformly_mlp_pruned_model(
        bigcode(layout), "transformer.h.{}.mlp.", "c_fc", "c_proj",
        lambda width: GPTBigCodeForCausalLM(small(layout, n_inner=width)))


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_depth_pruning_is_transformers_model_of_the_kept_blocks(layout, tmp_path):
    """Blocks 1 and 2 removed: transformers' GPTBigCodeForCausalLM of two blocks, given
    blocks 0 and 3 (and the same position table), computes the same logits; saved, the model
    reloads by prunebench and by transformers' class and both hf backends decode as
    transformers' generate."""
    without_blocks_1_and_2_is(bigcode(layout), "transformer.h",
                              GPTBigCodeForCausalLM(small(layout, n_layer=2)), tmp_path)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("fuse", [True, False])
def test_the_compiled_decoder_gives_transformers_logits_for_a_width_pruned_model(layout, fuse):
    decoder = decoder_gives_transformers_logits(width_pruned(bigcode(layout)), fuse)
    assert decoder.position_table is not None and not any(b.rotate for b in decoder.blocks)
    assert [block.n_q for block in decoder.blocks] == [4, 3 if layout == "heads" else 0, 0, 4]


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_the_compiled_decoder_decodes_a_width_pruned_model_as_generate_does(layout):
    decodes_as_generate_does(width_pruned(bigcode(layout)))


def _positions_shifted(model):
    """Each position given the next one's row of wpe: where a token stands must matter."""
    with torch.no_grad():
        model.transformer.wpe.weight.copy_(model.transformer.wpe.weight.roll(-1, 0))


@pytest.mark.parametrize("change", [_positions_shifted, without_norm_biases])
def test_the_decoder_applies_each_of_gpt_bigcodes_pieces(change):
    """Each piece the decoder reproduces changes this model's logits (else the comparison
    above would not see it dropped): the learned positions, the LayerNorms' biases; the
    decoder built from the changed model follows it."""
    decoder_follows_the_change(bigcode("multi_query"), change)


def test_the_decoder_leaves_scores_unscaled_where_the_config_says_so():
    """scale_attn_weights false: GPTBigCodeAttention's `scaling` is 1 (scores not divided by
    sqrt(head_dim)), which the decoder reads and gives its kernel; its prefill logits are
    transformers', and not those of the scaled model. (Scores four times as large sharpen the
    softmax, which magnifies float32 rounding: 1e-4, greedy_tokens_agree's prefill bound.)"""
    scaled = bigcode("multi_query")
    model = bigcode("multi_query", scale_attn_weights=False)
    assert all(layer.attn.scaling == 1.0 for layer in model.transformer.h)
    prompt = ids(2, 9, seed=6)
    theirs = logits(model, prompt)[:, -1]
    assert (theirs - logits(scaled, prompt)[:, -1]).abs().max() > 1e-2
    decoder = StaticDecoder(model, 2, 12, mode="eager")
    assert all(block.scale == 1.0 and block.kernel_scale == 1.0 for block in decoder.blocks)
    torch.testing.assert_close(decoder.prefill_logits(prompt), theirs, rtol=0, atol=1e-4)


def test_its_dropout_is_off_in_the_passes_that_run_in_training_mode():
    """GPTBigCodeConfig's attn_pdrop (a float GPTBigCodeAttention reads as `attn_dropout`),
    resid_pdrop and embd_pdrop (nn.Dropout modules) act in training mode: the Taylor+ scores'
    and LoRA's passes turn them off (modeling.base_dropout_off) and restore them after."""
    rates = dict(attn_pdrop=0.3, resid_pdrop=0.3, embd_pdrop=0.3)
    model = bigcode("heads", **rates)
    attn = model.transformer.h[0].attn
    assert attn.attn_dropout == 0.3 and model.transformer.drop.p == 0.3
    with dropout_turned_off(model, bigcode("heads", **dict.fromkeys(rates, 0.0))):
        assert attn.attn_dropout == 0.0 and model.transformer.h[0].mlp.dropout.p == 0.0
    assert attn.attn_dropout == 0.3 and model.transformer.h[0].mlp.dropout.p == 0.3


def test_lora_adapts_its_own_modules_by_llamas_targets():
    """The default targets adapt each block's c_attn, attention c_proj, c_fc and MLP c_proj,
    by transformers' names."""
    model = bigcode("multi_query")
    chosen, skipped = lora_target_names(model, list(TARGETS))
    own = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")
    assert sorted(chosen) == sorted(f"transformer.h.{b}.{name}" for b in range(4)
                                    for name in own) and not skipped


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_a_width_pruned_config_json_counts_without_torch_and_reloads(layout, tmp_path):
    model = width_pruned(bigcode(layout))
    save_model(model, None, tmp_path / "m")
    written = json.loads((tmp_path / "m" / "config.json").read_text())
    assert count_params(config_from_dict(written)) == numel(model)
    reloaded = load_model(tmp_path / "m")
    x = ids()
    assert torch.equal(logits(reloaded, x), logits(model, x))
    assert [projections.attention_heads(layer.self_attn, HD)[0]
            for layer in reloaded.model.layers] == [4, 3 if layout == "heads" else 0, 0, 4]


def test_a_tied_model_saves_its_embedding_once_and_reloads_tied(tmp_path):
    """GPTBigCodeConfig ties the head to the embedding by default, as every published model:
    saved under the embedding's name alone (transformer.wte.weight), reloaded tied."""
    model = bigcode("multi_query")
    assert model.lm_head.weight is model.transformer.wte.weight
    reloads_with_its_logits(model, ids(), tmp_path)
    saved = load_file(tmp_path / "m" / "model.safetensors")
    assert "transformer.wte.weight" in saved and "lm_head.weight" not in saved
    ours = load_model(tmp_path / "m")
    assert ours.lm_head.weight is ours.transformer.wte.weight


def test_a_cross_attention_config_is_refused_with_what_to_do(tmp_path):
    """add_cross_attention builds a cross-attention and its norm in every block, which a
    causal LM never runs and prunebench does not count: refused where config.json is read
    and where a model is built, naming the key."""
    values = {"model_type": "gpt_bigcode", "vocab_size": 97, "n_embd": D, "n_layer": 2,
              "n_head": HEADS, "multi_query": False, "add_cross_attention": True}
    (tmp_path / "config.json").write_text(json.dumps(values))
    with pytest.raises(FamilyUnsupported, match="add_cross_attention true.*Set "
                       "add_cross_attention false"):
        checked_config_json(tmp_path)
    config = GPTBigCodeConfig(**{k: v for k, v in values.items() if k != "model_type"})
    with pytest.raises(FamilyUnsupported, match="add_cross_attention true"):
        build_model(config)


def test_the_known_shape_counts_by_hand_and_builds_its_family():
    """SantaCoder's transformers port written out by hand: 16 query heads of 128 on one KV
    head, c_attn and c_proj biased, an MLP of 8192 with biases, two biased LayerNorms a block,
    2048 learned positions, a tied head."""
    expected = by_hand(49280, 2048, 24, 16, True, 8192, 2048)
    assert expected == PUBLISHED["gpt_bigcode-santacoder"] == 1_124_886_528
    assert count_params(config_from_dict(ARCHITECTURES["gpt_bigcode-santacoder"])) == expected
    built = architecture_config("gpt_bigcode-santacoder")
    assert type(built).__name__ == "GPTBigCodeConfig" and built.multi_query
    assert built.tie_word_embeddings and kv_heads(built) == 1
    assert count_params(built) == count_params_meta(built) == expected
    model = build_model(built, device="meta")
    assert model.transformer.h[0].attn.c_attn.out_features == 2048 + 2 * 128
    assert numel(model) == expected


@pytest.mark.parametrize("repo, shape", [
    ("bigcode/gpt_bigcode-santacoder", "gpt_bigcode-santacoder"),
    ("bigcode/santacoder", None),  # the same weights under GPT-2's model_type and own code
    ("bigcode/starcoder", None),  # its config.json not confirmed here
])
def test_the_hub_ids_name_their_known_shape_and_no_other(repo, shape):
    assert known_shape_of(repo) == shape


def test_the_compiled_decoder_reads_the_position_table_from_row_zero():
    """GPTBigCodeModel adds wpe's row `position` (no offset, where OPT's table starts two rows
    on): the decoder's table is wpe's whole, so a cell of all its rows decodes."""
    model = bigcode("multi_query")
    decoder = StaticDecoder(model, 1, POSITIONS, mode="eager")
    assert torch.equal(decoder.position_table, model.transformer.wpe.weight)
    decoder.close()
