"""BLOOM (bloom, BloomForCausalLM; bloom-560m ... bloom-176b, BLOOMZ) and MPT (mpt,
MptForCausalLM; MPT-7B, MPT-30B): ALiBi biases on the attention scores instead of rotary
positions, each head's slope computed by transformers from the config's head count. BLOOM packs
each head's q, k and v rows together (query_key_value), biases everything, norms its embeddings
(word_embeddings_layernorm), its blocks under transformer.h; MPT packs [all q; all k; all v]
(Wqkv), biases nothing, its LayerNorms without biases, its blocks under transformer.blocks; both
an ungated gelu MLP of 4 x hidden_size, tied. Exact counts (against transformers' meta model,
config.json's own keys alone and the arithmetic by hand); depth pruning equal to transformers'
model of the kept blocks, saved and reloaded by prunebench and by transformers' class, the hf
and hf_static backends' tokens equal to transformers' generate; the compiled decoder's ALiBi
(its slopes the paper's for any head count, as the models' own builders give them; its prefill
and decode-step logits transformers' at float32, dense and depth-pruned, in every attention;
its greedy tokens generate's; the biases, BLOOM's embedding LayerNorm and norm biases, MPT's
bias-free LayerNorms, clip_qkv and softmax_scale each shown to matter); why heads are not
removed (a kept head's slope follows the head count): the width methods remove MLP channels
alone (every head and its slope kept, the pruned model the dense one with those channels
silenced, reloaded by prunebench, decoded by the compiled decoder and hf_static as generate;
a target the MLPs cannot reach refused naming the depth methods), BlockPruner MLP sublayers
alone (scored as removed: the MLP hands back the residual it adds to); the refusals (head
removal; BlockPruner's attention sublayers; the decoder on a block of another head count,
MPT past its max_seq_len; BLOOM's post-LN residual, MPT's keys transformers does not read);
the training-mode passes without their dropout. tests/test_families.py runs every method
(BlockPruner's default, mix, refused), every backend, perplexity, LoRA and zero-shot on both."""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch
from transformers import BloomConfig, BloomForCausalLM, MptConfig, MptForCausalLM

from prunebench import FamilyUnsupported, PrunebenchError
from prunebench import projections
from prunebench.benchmark.compiled import StaticDecoder, alibi_slopes
from prunebench.checkpoint.param_count import (checked_config_json, config_from_dict,
                                               count_params, layer_shapes)
from prunebench.methods import blockpruner, sizing, surgery
from prunebench.methods.registry import method_function
from prunebench.modeling import (base_dropout_off, build_model, count_params_meta, load_model,
                                 remove_blocks, save_model)
from prunebench.plan.checks import moe_problems
from test_cohere import decodes_as_generate_does
from test_families import VOCAB, family_model, ids, logits, numel
# (random_model: weights of std 0.1, biases around 0, norms around 1)
from test_opt import check_depth_prune_is_transformers_model, random_model
from test_stablelm import decoder_follows_the_change, without_norm_biases

CLASSES = {"bloom": BloomForCausalLM, "mpt": MptForCausalLM}
BLOCKS = {"bloom": "transformer.h.", "mpt": "transformer.blocks."}


def small(family: str, **changes):
    """A tiny BLOOM or MPT of its own keys: 4 blocks of 4 heads over 64 channels, tied (as
    published); MPT's ALiBi over a max_seq_len of 64."""
    tokens = dict(vocab_size=VOCAB, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    if family == "bloom":
        return BloomConfig(**{**tokens, "hidden_size": 64, "n_layer": 4, "n_head": 4, **changes})
    return MptConfig(**{**tokens, "d_model": 64, "n_layers": 4, "n_heads": 4, "max_seq_len": 64,
                        **changes})


def by_hand(config) -> int:
    """Parameters by hand: the embeddings (tied unless the config says), per block the packed
    q/k/v (3 x d x d), the output (d x d) and the MLP's two d x 4d projections, two LayerNorms
    and the final one; BLOOM's with a bias on every projection and norm and a LayerNorm of the
    embeddings, MPT's without biases."""
    d, v = config.hidden_size, config.vocab_size
    block = 4 * d * d + 2 * d * 4 * d
    if config.model_type == "bloom":
        block += 3 * d + d + 4 * d + d + 2 * 2 * d
        rest = 2 * d + 2 * d  # the final norm and the embeddings' norm, weight and bias
    else:
        block += 2 * d
        rest = d
    return v * d * (1 if config.tie_word_embeddings else 2) + config.num_hidden_layers * block + rest


@pytest.mark.parametrize("family, changes", [
    ("bloom", {}), ("bloom", {"tie_word_embeddings": False}), ("bloom", {"n_head": 8}),
    ("mpt", {}), ("mpt", {"tie_word_embeddings": False}), ("mpt", {"n_heads": 8})])
def test_counts_agree_with_transformers_and_by_hand(family, changes, tmp_path):
    config = small(family, **changes)
    model = build_model(config, device="cpu")
    assert count_params(config) == count_params_meta(config) == numel(model) == by_hand(config)
    config.save_pretrained(tmp_path)
    raw = json.loads((tmp_path / "config.json").read_text())
    assert count_params(config_from_dict(checked_config_json(tmp_path))) == numel(model)
    assert count_params(config_from_dict(raw)) == numel(model)
    # a config.json of the family's model_type alone: the class's defaults
    assert count_params(config_from_dict({"model_type": family})) == numel(
        build_model(CLASSES[family].config_class(), device="meta"))


@pytest.mark.parametrize("family", ["bloom", "mpt"])
def test_a_stray_width_key_is_not_read_as_the_mlp_width(family):
    """BloomMLP and MptMLP are 4 x hidden_size wide whatever config.json says: a stray
    intermediate_size (which the configs keep as an attribute) counts nothing, as it builds
    nothing."""
    values = {**small(family).to_dict(), "intermediate_size": 100}
    config = CLASSES[family].config_class(**values)
    assert config.intermediate_size == 100
    assert count_params(config_from_dict(values)) == count_params(config) == by_hand(
        config) == numel(build_model(config, device="meta"))


def test_blooms_older_n_embed_key_is_read_as_its_class_reads_it():
    """BloomConfig takes an n_embed (early BLOOM config.json files' name of the width) as
    hidden_size, over a hidden_size beside it: so do the counts."""
    values = {**small("bloom").to_dict(), "n_embed": 32}
    assert count_params(config_from_dict(values)) == by_hand(BloomConfig(**values)) == numel(
        build_model(BloomConfig(**values), device="meta"))


@pytest.mark.parametrize("family, changes, drop", [
    ("bloom", {}, [1]), ("bloom", {}, [0, 3]),
    ("mpt", {}, [1]), ("mpt", {}, [0, 3]),
    # MPT's clip_qkv and softmax_scale, which transformers' MptAttention reads
    ("mpt", {"attn_config": {"clip_qkv": 0.3, "softmax_scale": 0.2}}, [2])])
def test_depth_pruning_is_transformers_model_of_the_kept_blocks(family, changes, drop, tmp_path):
    """The pruned model computes what transformers' class of the kept blocks computes (each
    kept head's ALiBi slope unchanged: the head count is), and reloads as it by prunebench and
    by transformers' class, whose hf and hf_static tokens equal transformers' generate."""
    check_depth_prune_is_transformers_model(
        random_model(small(family, **changes)), drop, BLOCKS[family], CLASSES[family],
        lambda n: small(family, **changes, num_hidden_layers=n), tmp_path)


@pytest.mark.parametrize("family", ["bloom", "mpt"])
def test_a_kept_heads_slope_follows_the_head_count(family):
    """Why the width methods keep every head: transformers' model of the kept heads (the removed
    head's q/k/v rows and output columns cut, the head count one less) computes another model
    than the scored one with that head silenced (its output columns zeroed), because every
    kept head's ALiBi slope is recomputed from the new head count."""
    config = small(family, **({"n_head": 4} if family == "bloom" else {"n_heads": 4}))
    model = random_model(config)
    hd, gone = 16, 1
    kept = [h for h in range(4) if h != gone]
    q_rows = [h * hd + c for h in kept for c in range(hd)]
    if family == "bloom":  # [q_h; k_h; v_h] head by head
        qkv_rows = [3 * h * hd + c for h in kept for c in range(3 * hd)]
    else:  # [all q; all k; all v]
        qkv_rows = [p * 64 + r for p in range(3) for r in q_rows]
    state, silenced = {}, {}
    for key, tensor in model.state_dict().items():
        silenced[key] = tensor.clone()
        if ".query_key_value." in key or ".Wqkv." in key:
            tensor = tensor[qkv_rows]
        elif key.endswith((".dense.weight", ".out_proj.weight")) and ".mlp." not in key:
            silenced[key][:, gone * hd:(gone + 1) * hd] = 0
            tensor = tensor[:, q_rows]
        state[key] = tensor.clone()
    # transformers' class of 3 heads of 16 on the 64-wide residual (its classes size a head
    # by hidden_size / heads, so the attention is made 48 wide here, as head removal would)
    cut = CLASSES[family](config).eval()
    qkv, out = ("query_key_value", "dense") if family == "bloom" else ("Wqkv", "out_proj")
    for layer in cut.transformer.h if family == "bloom" else cut.transformer.blocks:
        attn = layer.self_attention if family == "bloom" else layer.attn
        setattr(attn, qkv, torch.nn.Linear(64, 3 * 48, bias=family == "bloom"))
        setattr(attn, out, torch.nn.Linear(48, 64, bias=family == "bloom"))
        attn.num_heads = attn.n_heads = 3  # (BloomAttention's name, MptAttention's)
    cut.transformer.num_heads = 3  # what the model's ALiBi slopes are computed from
    cut.load_state_dict(state)
    model.load_state_dict(silenced)
    x = ids()
    # the kept heads' slopes under 3 heads are not those under 4: another model
    assert not torch.allclose(logits(cut, x), logits(model, x), atol=1e-3)


@pytest.mark.parametrize("family", ["bloom", "mpt"])
def test_head_removal_is_refused_naming_alibi(family):
    """Removing heads is refused with the width methods (MLP channels alone) and the depth
    methods to use instead (the compiled decoder runs these models: below); removing none, as
    the width methods ask of an ALiBi model, and removing MLP channels are not."""
    model = random_model(small(family))
    match = (f"this '{family}' model.*ALiBi.*MLP channels alone.*depth method.*hf, hf_static "
             "and compiled backends")
    for cut in (lambda: surgery.remove_heads(model, 0, [0]),
                lambda: surgery.remove_kv_groups(model, 0, [0])):
        with pytest.raises(FamilyUnsupported, match=match):
            cut()
    assert count_params(model.config) == numel(model)  # nothing changed
    surgery.remove_kv_groups(model, 0, [])
    surgery.remove_heads(model, 0, [])
    surgery.remove_channels(model, 0, [0, 5])
    layer = projections.decoder(model).layers[0]
    assert projections.mlp_width(projections.block_mlp(layer)) == 254
    assert count_params(model.config) == numel(model)


def test_an_alibi_mixture_of_experts_would_be_refused_as_one(monkeypatch):
    """A mixture of experts with ALiBi attention (none today) is told what a mixture of
    experts is, as refuse_moe's other kinds of block are: the ALiBi refusal's compiled backend
    does not run its experts."""
    from prunebench.checkpoint import param_count

    config = small("mpt")
    for namespace in (param_count, param_count.traits, param_count.shapes, param_count.counts,
                      param_count.prune_rules):
        monkeypatch.setattr(namespace, "is_moe", lambda config: True)
    for keeps_heads in (False, True):
        with pytest.raises(FamilyUnsupported, match="the mixture-of-experts family 'mpt'.*"
                           "with the hf or hf_static backend$"):
            param_count.refuse_moe(config, "llm_pruner", keeps_heads=keeps_heads)


def test_the_compiled_backend_is_not_refused_at_the_start_for_a_known_bloom_shape():
    """A workflow benchmarking a BLOOM shape with the compiled backend is told nothing at its
    start: the decoder adds its ALiBi biases."""
    models = {"models": {"b": {"source": "random:bloom-7b1"}}}
    assert moe_problems({**models, "benchmark": {"backends": ["hf", "compiled"]}}) == []


def with_heads(family: str, heads: int, head_dim: int = 8, **changes):
    """A tiny BLOOM or MPT of `heads` heads of `head_dim` (the width follows)."""
    if family == "bloom":
        return small(family, hidden_size=heads * head_dim, n_head=heads, **changes)
    return small(family, d_model=heads * head_dim, n_heads=heads, **changes)


def alibi_paper_slopes(heads: int) -> list[float]:
    """The ALiBi paper's slopes by hand: for the largest power of two m not above the head
    count, 2^(-8k/m) for k = 1 .. m; the heads past m take every other slope of 2m heads,
    2^(-8k/2m) for odd k (BLOOM's build_alibi_tensor; MPT's build_mpt_alibi_tensor rounds the
    count up to 2m and interleaves its slopes, with alibi_bias_max 8, to the same values)."""
    m = 2 ** math.floor(math.log2(heads))
    return ([2 ** (-8 * k / m) for k in range(1, m + 1)]
            + [2 ** (-8 * k / (2 * m)) for k in range(1, 2 * (heads - m), 2)])


@pytest.mark.parametrize("family", ["bloom", "mpt"])
@pytest.mark.parametrize("heads", [1, 4, 6, 12, 16])
def test_the_decoders_alibi_slopes_are_the_papers_for_the_head_count(family, heads):
    """What the decoder reads from the model's own builder: each head's slope, for head counts
    a power of two and not (BLOOM-176B's 112 heads are not), and whether the biases are
    measured from the last position (MPT's table) or from the first (BLOOM's)."""
    slopes, from_last = alibi_slopes(random_model(with_heads(family, heads)))
    assert slopes.dtype == torch.float32 and from_last == (family == "mpt")
    torch.testing.assert_close(slopes, torch.tensor(alibi_paper_slopes(heads)),
                               rtol=1e-6, atol=0)


# A non-power-of-two head count (12: BLOOM's and MPT's slopes of 16 heads taken in part);
# MPT's clip_qkv and softmax_scale, which its attention reads
ALIBI_MODELS = [("bloom", {}), ("mpt", {}),
                ("mpt", {"attn_config": {"clip_qkv": 0.3, "softmax_scale": 0.2}})]


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
@pytest.mark.parametrize("fuse", [True, False])
@pytest.mark.parametrize("drop", [[], [1], [0, 3]])
@pytest.mark.parametrize("family, changes", ALIBI_MODELS)
def test_the_compiled_decoder_gives_transformers_logits_in_prefill_and_decode(
        family, changes, drop, fuse, attention):
    """The decoder's logits, after its prefill and at each decode step from its static
    cache, are transformers' at float32 (the whole sequence at once, no cache), dense and
    depth-pruned (every head kept: the dense model's slopes)."""
    model = random_model(with_heads(family, 12, **changes))
    if drop:
        remove_blocks(model, drop)
    prompt = ids(3, 11, seed=5)
    theirs = logits(model, prompt)
    decoder = StaticDecoder(model, 3, 16, mode="eager", fuse=fuse, attention=attention)
    with torch.inference_mode():
        torch.testing.assert_close(decoder.prefill_logits(prompt[:, :6]), theirs[:, 5],
                                   rtol=0, atol=1e-5)
        for p in range(6, prompt.shape[1]):
            step = decoder.forward(prompt[:, p:p + 1], decoder.positions[p:p + 1])
            torch.testing.assert_close(step, theirs[:, p], rtol=0, atol=1e-5)


@pytest.mark.parametrize("drop", [[], [1]])
@pytest.mark.parametrize("family", ["bloom", "mpt"])
def test_the_compiled_decoder_decodes_as_generate_does(family, drop):
    """Greedy tokens, dense and depth-pruned: generate's (and hf_static's) up to any near tie,
    the prefill's logits transformers' (tests/test_families.py's greedy_tokens_agree)."""
    model = family_model(family)
    if drop:
        remove_blocks(model, drop)
    decodes_as_generate_does(model)


@pytest.mark.filterwarnings("ignore:flex_attention called without torch.compile")
@pytest.mark.parametrize("family", ["bloom", "mpt"])
def test_flex_attention_adds_the_same_biases(family):
    """flex_attention's score modification adds each head's biases: its decode steps give the
    tokens of matmul and softmax (op by op on the CPU)."""
    model = family_model(family)
    prompt = ids(2, 5, seed=2)
    with torch.inference_mode():
        eager = StaticDecoder(model, 2, 12, mode="eager", attention="eager").generate(prompt, 7)
        flex = StaticDecoder(model, 2, 12, mode="eager", attention="flex").generate(prompt, 7)
    assert torch.equal(flex, eager)


def _embedding_norm_moved(model):
    """BLOOM's LayerNorm of the embeddings weighing and shifting otherwise."""
    with torch.no_grad():
        norm = model.transformer.word_embeddings_layernorm
        norm.weight.mul_(3.0)
        norm.bias.add_(0.5)


def _qkv_clipped(model):
    with torch.no_grad():
        for layer in model.transformer.blocks:
            layer.attn.clip_qkv = 0.05


def _scores_scaled(model):
    for layer in model.transformer.blocks:
        layer.attn.softmax_scale = 0.7


@pytest.mark.parametrize("family, change", [
    ("bloom", _embedding_norm_moved), ("bloom", without_norm_biases),
    ("mpt", _qkv_clipped), ("mpt", _scores_scaled)])
def test_the_decoder_applies_each_of_their_pieces(family, change):
    """Each piece the decoder reproduces changes this model's logits (else the comparisons
    above would not see it dropped): BLOOM's LayerNorm of the embeddings and its norms'
    biases, MPT's clamp of q, k and v and its scores' scale; the decoder built from the
    changed model follows it."""
    decoder_follows_the_change(random_model(with_heads(family, 12)), change)


@pytest.mark.parametrize("family", ["bloom", "mpt"])
def test_the_biases_and_the_layer_norms_matter(family):
    """Without the ALiBi biases (slopes zeroed), or with MPT's bias-free LayerNorms taken as
    RMSNorms, the decoder would compute another model than transformers': the comparisons
    above see both."""
    model = random_model(with_heads(family, 12))
    prompt = ids(2, 9, seed=6)
    theirs = logits(model, prompt)[:, -1]
    decoder = StaticDecoder(model, 2, 12, mode="eager")
    torch.testing.assert_close(decoder.prefill_logits(prompt), theirs, rtol=0, atol=1e-5)
    unbiased = copy.copy(decoder)
    unbiased.alibi_slopes = torch.zeros_like(decoder.alibi_slopes)
    assert (unbiased.prefill_logits(prompt) - theirs).abs().max() > 1e-2
    if family == "mpt":
        assert decoder.norm_style == "affine" and decoder.norm_b is None
        for block in decoder.blocks:
            block.norm_style = "llama"
        assert (decoder.prefill_logits(prompt) - theirs).abs().max() > 1e-3


def test_the_decoder_refuses_a_block_of_another_head_count_than_the_slopes():
    """The slopes follow the model's head count: a block holding other heads (removed by
    hand; prunebench's width methods keep an ALiBi model's heads) would attend with another
    model's slopes, and is refused naming both counts."""
    model = random_model(small("bloom"))
    model.transformer.num_heads = 8  # what BloomModel computes its slopes from
    with pytest.raises(PrunebenchError, match=r"block 0 of this bloom model holds 4 attention "
                                              r"heads and its ALiBi slopes are computed for 8"):
        StaticDecoder(model, 1, 12, mode="eager")


def test_the_decoder_refuses_a_cell_past_mpts_max_seq_len():
    """MptModel's ALiBi table holds max_seq_len positions, past which transformers' model
    cannot run: a longer cell is refused naming it (BLOOM's are computed for any length)."""
    StaticDecoder(random_model(small("mpt")), 1, 64, mode="eager").close()
    with pytest.raises(PrunebenchError, match=r"holds 64 positions \(max_seq_len\).*runs to 65"):
        StaticDecoder(random_model(small("mpt")), 1, 65, mode="eager")
    StaticDecoder(random_model(small("bloom")), 1, 65, mode="eager").close()


@pytest.mark.parametrize("family, changes, refused", [
    ("bloom", {"apply_residual_connection_post_layernorm": True},
     "apply_residual_connection_post_layernorm true.*released layout"),
    ("mpt", {"expansion_ratio": 2}, "expansion_ratio=2: transformers' MptForCausalLM builds"),
    ("mpt", {"no_bias": False}, "no_bias=False"),
    ("mpt", {"logit_scale": 0.5}, "logit_scale=0.5"),
    ("mpt", {"attn_config": {"alibi_bias_max": 16}}, "alibi_bias_max=16"),
    ("mpt", {"attn_config": {"qk_ln": True}}, "qk_ln=True"),
    ("mpt", {"attn_config": {"alibi": False}}, "alibi=False"),
    ("mpt", {"attn_config": {"attn_type": "multiquery_attention"}},
     "attn_type='multiquery_attention'"),
    ("mpt", {"attn_config": {"prefix_lm": True}}, "prefix_lm=True")])
def test_what_transformers_does_not_build_is_refused(family, changes, refused, tmp_path):
    """A config transformers' class would build as another model (BLOOM's post-LN residual,
    which prunebench does not read; MPT's keys MptForCausalLM ignores): refused from
    config.json (every reader) and by build_model."""
    config = small(family, **changes)
    with pytest.raises(FamilyUnsupported, match=refused):
        build_model(config, device="meta")
    config.save_pretrained(tmp_path)
    with pytest.raises(FamilyUnsupported, match=refused):
        checked_config_json(tmp_path)


@pytest.mark.parametrize("family, changes", [
    ("bloom", {"hidden_dropout": 0.5, "attention_dropout": 0.5}),
    # (MptAttentionConfig takes attn_pdrop as a whole number in transformers 5.25: 1 drops all)
    ("mpt", {"attn_config": {"attn_pdrop": 1}})])
def test_the_training_mode_passes_turn_the_dropout_off(family, changes):
    """BLOOM's hidden_dropout (its attention's and MLP's outputs) and attention_dropout, MPT's
    attn_pdrop (its probabilities, its MLP's output and the block's residual dropout) act in
    training mode: base_dropout_off zeroes them, so a gradient pass computes the eval-mode
    logits."""
    model = random_model(small(family, **changes))
    x = ids()
    expected = logits(model, x)
    model.train()
    with base_dropout_off(model), torch.no_grad():
        assert torch.equal(model(input_ids=x, use_cache=False).logits, expected)
    model.train()
    with torch.no_grad():  # the rates restored after the pass
        assert not torch.equal(model(input_ids=x, use_cache=False).logits, expected)


def test_the_benchmark_refuses_a_token_config_past_mpts_max_seq_len_naming_it():
    """MPT's context is its max_seq_len (MptModel's ALiBi table; MptConfig has no
    max_position_embeddings): a token config longer is refused naming that key, before any
    run; BLOOM computes its biases for any length and refuses none."""
    from types import SimpleNamespace

    from prunebench import PrunebenchError
    from prunebench.benchmark.run import check_context

    too_long = SimpleNamespace(input_tokens=60, output_tokens=8)
    with pytest.raises(PrunebenchError, match=r"60 \+ 8 tokens exceed the model's max_seq_len "
                                              r"\(64\); use a shorter token config"):
        check_context(build_model(small("mpt"), device="cpu"), too_long)
    check_context(build_model(small("mpt"), device="cpu"), SimpleNamespace(input_tokens=56,
                                                                            output_tokens=8))
    check_context(build_model(small("bloom"), device="cpu"), too_long)


def test_perplexity_and_lora_refuse_a_length_past_mpts_max_seq_len(tmp_path):
    """The perplexity windows and LoRA's records are held to MPT's max_seq_len too (past it
    MptAttention's ALiBi table has fewer columns than the scores: a RuntimeError deep inside),
    refused before any pass, naming the key; BLOOM's windows are not limited."""
    from prunebench import PrunebenchError
    from prunebench.evaluate import perplexity
    from prunebench.lora import recover_checkpoint

    stream = ids(1, 200, seed=2)[0]
    with pytest.raises(PrunebenchError, match="perplexity window 65 exceeds the model's "
                                              "context of 64 tokens"):
        perplexity(build_model(small("mpt"), device="cpu").eval(), stream, 65, batch_size=2)
    assert perplexity(build_model(small("bloom"), device="cpu").eval(), stream, 65,
                      batch_size=2)["perplexity"] > 1
    small("mpt").save_pretrained(tmp_path)
    records = [{"instruction": f"say {i}", "input": "", "output": f"{i}"} for i in range(64)]
    settings = {"data": {"source": "embedded", "val_size": 8, "max_train": 16, "seed": 42},
                "template": "plain", "epochs": 1, "batch_size": 8, "micro_batch_size": 4,
                "max_length": 65, "warmup_steps": 1}
    with pytest.raises(PrunebenchError, match=r"lora.max_length=65 is above the context of "
                                              r".* \(max_seq_len 64\)"):
        recover_checkpoint(tmp_path, tmp_path / "out", records, settings, device="cpu")


# --------------------------------------------------------------------------- width: MLPs alone

# Each width method as the every-method matrix runs it, FLAP in both structures, BlockPruner
# of MLP sublayers alone (its block_type mix and mha refused: below).
WIDTH = [("llm_pruner", {}), ("flap", {}), ("flap", {"structure": "UL-UM"}), ("wanda_sp", {}),
         ("blockpruner", {"block_type": "mlp"})]


def kept_channels(dense_mlp, pruned_mlp) -> list[int]:
    """Which of the dense MLP's channels the pruned one holds, in order: the dense up
    projection's row each pruned row is (surgery slices rows, never changes them)."""
    dense, pruned = (projections.get_part(m, "up_proj").weight for m in (dense_mlp, pruned_mlp))
    same = (dense.unsqueeze(0) == pruned.unsqueeze(1)).all(-1)  # [pruned, dense]
    assert (same.sum(1) == 1).all()  # each pruned row is one dense row
    return same.float().argmax(1).tolist()


def silenced(dense, pruned):
    """`dense` with the MLP channels `pruned` lacks silenced (their down projection's columns
    zeroed) and the output biases `pruned` holds (FLAP's compensation; MPT's, which has none,
    added): the dense model computing what the pruned one should."""
    model = copy.deepcopy(dense)
    with torch.no_grad():
        for mine, theirs in zip(projections.decoder(model).layers,
                                projections.decoder(pruned).layers):
            mlp = projections.block_mlp(mine)
            down = projections.down_proj(mlp)
            gone = sorted(set(range(down.in_features))
                          - set(kept_channels(mlp, projections.block_mlp(theirs))))
            down.weight[:, gone] = 0
            for out, held in ((down, projections.down_proj(projections.block_mlp(theirs))),
                              (projections.o_proj(mine.self_attn),
                               projections.o_proj(theirs.self_attn))):
                if held.bias is not None:
                    out.bias = torch.nn.Parameter(held.bias.detach().clone())
    return model


@pytest.mark.parametrize("method, params", WIDTH)
@pytest.mark.parametrize("family", ["bloom", "mpt"])
def test_the_width_methods_remove_mlp_channels_alone(family, method, params, tmp_path):
    """Every head and its slope kept (the attention's weights untouched), the method's target
    reached from the MLPs alone; the pruned model computes the dense one with the removed
    channels silenced at float32, reloads by prunebench with the same logits (not by
    transformers' class, whose MLP is 4 x hidden wide), and decodes with the compiled decoder
    and hf_static as generate does."""
    model = family_model(family)
    dense = copy.deepcopy(model)
    target = int(0.8 * numel(model))
    method_function(method)(model, ids(8, 24, seed=3), target, **params)
    assert numel(model) == count_params(model.config) < numel(dense)
    # (BlockPruner: within one MLP sublayer of the target)
    assert abs(numel(model) - target) <= (0.1 if method == "blockpruner" else 0.01) * target
    for mine, theirs in zip(projections.decoder(model).layers, projections.decoder(dense).layers):
        assert projections.attention_heads(mine.self_attn, 16) == (4, 4)
        held = dict(mine.self_attn.named_parameters())
        for name, weight in theirs.self_attn.named_parameters():
            assert torch.equal(held[name], weight), name
    slopes, dense_slopes = alibi_slopes(model), alibi_slopes(dense)
    assert torch.equal(slopes[0], dense_slopes[0]) and slopes[1] == dense_slopes[1]
    widths = [s["intermediate_size"] for s in model.config.layer_shapes]
    assert min(widths) < 256
    x = ids()
    torch.testing.assert_close(logits(model, x), logits(silenced(dense, model), x),
                               rtol=0, atol=1e-5)
    save_model(model, None, tmp_path / "pruned")
    reloaded = load_model(tmp_path / "pruned")
    assert [s["intermediate_size"] for s in reloaded.config.layer_shapes] == widths
    assert torch.equal(logits(reloaded, x), logits(model, x))
    with pytest.raises(RuntimeError, match="mismatch"):
        CLASSES[family].from_pretrained(tmp_path / "pruned")
    decodes_as_generate_does(reloaded)


@pytest.mark.parametrize("method, params", WIDTH[:4])
@pytest.mark.parametrize("family", ["bloom", "mpt"])
def test_a_target_the_mlps_cannot_reach_is_refused_naming_the_depth_methods(family, method,
                                                                            params):
    """Every MLP channel gone still leaves the embeddings, norms and every head: a target
    below that is refused from the config alone (the plan, the start's check) and by the
    prune, before any weight changes, naming the depth methods, which reach it."""
    config = small(family)
    model = random_model(config)
    dense = numel(model)
    mlps_gone = copy.deepcopy(config)
    mlps_gone.layer_shapes = [dict(s, intermediate_size=0) for s in layer_shapes(config)]
    floor = count_params(mlps_gone)  # (FLAP's compensation biases add a little to it)
    below, above = floor - 5000, floor + 20000
    match = "unreachable.*every head.*MLP channels alone.*depth method.*depth_ppl"
    with pytest.raises(PrunebenchError, match=match):
        sizing.check_prunable(config, method, str(below), params)
    with pytest.raises(PrunebenchError, match=match):
        method_function(method)(model, ids(8, 24, seed=3), below, **params)
    assert numel(model) == dense
    sizing.check_prunable(config, method, str(above), params)


@pytest.mark.parametrize("block_type", ["mix", "mha"])
@pytest.mark.parametrize("family", ["bloom", "mpt"])
def test_blockpruner_refuses_attention_sublayers(family, block_type):
    """An emptied attention leaves a block of no heads (the decoder's slopes are for every
    head of every block; BloomAttention adds the residual itself): refused from the config
    and by the prune, naming block_type mlp and the depth methods."""
    config = small(family)
    model = random_model(config)
    match = (f"blockpruner with block_type '{block_type}' does not support this '{family}' "
             "model.*block_type: mlp.*depth method")
    with pytest.raises(FamilyUnsupported, match=match):
        sizing.check_prunable(config, "blockpruner", "0.8", {"block_type": block_type})
    with pytest.raises(FamilyUnsupported, match=match):
        blockpruner.prune(model, ids(8, 24, seed=3), int(0.8 * numel(model)),
                          block_type=block_type)
    assert count_params(model.config) == numel(model)


@pytest.mark.parametrize("family", ["bloom", "mpt"])
def test_blockpruner_scores_an_mlp_as_its_removal_computes(family):
    """BloomMLP and MptMLP add their output to the residual they are given: a skipped one
    hands that residual back (zeros, as other families' skipped MLPs give, would wipe the
    residual stream), so the model scored without an MLP computes what the model with it
    removed computes."""
    model = family_model(family)
    x = ids()
    unit = blockpruner.unit_id("mlp", 1)
    with blockpruner.without_sublayers(model, {unit}):
        scored = logits(model, x)
    mlp = projections.block_mlp(projections.decoder(model).layers[1])
    mlp.forward = blockpruner._skipped_mlp  # what a skip ignoring the residual computes
    assert (logits(model, x) - scored).abs().max() > 1e-2
    del mlp.forward
    blockpruner.remove_sublayers(model, [unit])
    assert projections.mlp_width(projections.block_mlp(projections.decoder(model).layers[1])) == 0
    torch.testing.assert_close(logits(model, x), scored, rtol=0, atol=1e-5)
