"""Cohere (cohere, CohereForCausalLM; Command R, Command R+, Aya) and Cohere2 (cohere2: Command
R7B, Command A): exact counts of its one
LayerNorm a block and of the per-head q/k norms Command R+ has (use_qk_norm), with and without
transformers; the compiled decoder against transformers on a width-pruned model with q/k norms,
fused and not (the parallel block, the LayerNorms, the rotation in adjacent pairs in float32,
the logit scale); head removal slicing the per-head q/k norm weights, through a save and a
reload; FLAP's bias compensation in the parallel block; Cohere2's block kinds read as its class
reads them, its global blocks without rotary positions, a config.json without a window refused;
the known shapes and the hub ids that name them (tests/test_families.py runs the shared per-family tests on it too: every method, save
and reload, every backend, evaluation, LoRA)."""

from __future__ import annotations

import copy
import itertools
import json

import pytest
import torch
from transformers import Cohere2Config, Cohere2ForCausalLM, CohereConfig, CohereForCausalLM

from prunebench import PrunebenchError

from prunebench.benchmark.compiled import StaticDecoder
from prunebench.checkpoint.architectures import (ARCHITECTURES, architecture_config,
                                                known_shape_of)
from prunebench.checkpoint.param_count import (checkpoint_config, config_from_dict,
                                             config_from_json, qk_norm)
from prunebench.methods import flap, surgery
from prunebench.methods.wanda_sp import attention_kinds, block_inputs, run_block
from prunebench.modeling import (build_model, count_params, count_params_meta, load_config,
                                 load_model, remove_blocks, save_model)
from test_families import family_model, greedy_tokens_agree, ids, logits, numel

pytestmark = pytest.mark.usefixtures("one_thread")


# A small GQA shape, 6 query heads of 8 on 2 KV heads (tests/test_stablelm.py's too).
SMALL_GQA = dict(vocab_size=97, hidden_size=48, intermediate_size=56, num_hidden_layers=3,
                 num_attention_heads=6, num_key_value_heads=2)


def small(**kw) -> CohereConfig:
    return CohereConfig(**{**SMALL_GQA, "logit_scale": 0.37, **kw})


@pytest.mark.parametrize("qk_norms,tied,bias", list(itertools.product([False, True], repeat=3)))
def test_counts_equal_transformers_parameters(qk_norms, tied, bias):
    config = small(use_qk_norm=qk_norms, tie_word_embeddings=tied, attention_bias=bias)
    model = CohereForCausalLM(config)
    attn = model.model.layers[0].self_attn
    assert hasattr(attn, "q_norm") == qk_norms == qk_norm(config)
    if qk_norms:  # a weight row per head, not one shared by the heads
        assert attn.q_norm.weight.shape == (6, 8) and attn.k_norm.weight.shape == (2, 8)
    assert not hasattr(model.model.layers[0], "post_attention_layernorm")
    assert count_params(config) == count_params_meta(config) == numel(model)
    # and without transformers, from its config.json's values (`prunebench plan`)
    assert count_params(config_from_dict(json.loads(config.to_json_string()))) == numel(model)


def test_a_width_pruned_config_json_counts_without_torch(tmp_path):
    """The per-head q/k norms leave with their heads in the closed form too: a pruned
    checkpoint's config.json alone (layer_shapes) counts its parameters."""
    model = pruned_config_json_counts(family_model("cohere"), tmp_path)
    assert model.model.layers[1].self_attn.q_norm.weight.shape == (2, 16)


def pruned_config_json_counts(model, tmp_path):
    """`model` with a KV group out of block 1, every head out of block 2 (no q/k norms left
    there either) and a third of block 3's MLP channels out, saved: its config.json alone
    counts its parameters (also StableLM's: tests/test_stablelm.py)."""
    surgery.remove_kv_groups(model, 1, [0])
    surgery.remove_kv_groups(model, 2, [0, 1])
    surgery.remove_channels(model, 3, range(0, 128, 3))
    save_model(model, None, tmp_path / "m")
    assert count_params(config_from_json(tmp_path / "m" / "config.json")) == numel(model)
    return model


def width_pruned(model=None):
    """The family tests' Cohere (q/k norms, GQA 4 / 2, logit scale, tied), or `model`, with a
    KV group out of block 1, every head out of block 2 and a third of block 3's MLP channels
    out."""
    model = family_model("cohere") if model is None else model
    surgery.remove_kv_groups(model, 1, [1])
    surgery.remove_kv_groups(model, 2, [0, 1])
    surgery.remove_channels(model, 3, range(0, 128, 3))
    assert numel(model) == count_params(model.config)
    return model


@pytest.mark.parametrize("fuse", [True, False])
def test_the_compiled_decoder_gives_transformers_logits_for_a_width_pruned_model(fuse):
    decoder_gives_transformers_logits(width_pruned(), fuse)


def decoder_gives_transformers_logits(model, fuse: bool = True) -> StaticDecoder:
    """The compiled decoder's prefill logits of `model` are transformers' (op by op, float32);
    returns the decoder."""
    prompt = ids(3, 9, seed=5)
    decoder = StaticDecoder(model, 3, 16, mode="eager", fuse=fuse)
    with torch.no_grad():
        theirs = logits(model, prompt)[:, -1]
    torch.testing.assert_close(decoder.prefill_logits(prompt), theirs, rtol=0, atol=1e-5)
    return decoder


def test_the_compiled_decoder_decodes_a_width_pruned_model_as_generate_does():
    decodes_as_generate_does(width_pruned())


def decodes_as_generate_does(model) -> None:
    # the decode steps, from the static cache: HF generate's tokens up to any near tie
    tokens, _ = greedy_tokens_agree(model)
    assert len(set(tokens[:, 6:].flatten().tolist())) > 3  # varied: a real check


def test_the_decoder_applies_each_of_coheres_pieces():
    """Each of the pieces the decoder reproduces changes this model's logits (else the
    comparison above would not see it dropped): the logit scale, the q/k norms' per-head
    weights, the pairwise rotation."""
    model = family_model("cohere")
    prompt = ids(2, 9, seed=6)
    reference = logits(model, prompt)[:, -1]
    scaled = copy.deepcopy(model)
    scaled.logit_scale = 1.0
    assert (logits(scaled, prompt)[:, -1] - reference).abs().max() > 1e-2
    heads = model.model.layers[0].self_attn.q_norm.weight
    assert (heads - heads[:1]).abs().max() > 0.1  # each head weighed otherwise
    decoder = StaticDecoder(model, 2, 12, mode="eager")
    torch.testing.assert_close(decoder.prefill_logits(prompt), reference, rtol=0, atol=1e-5)
    decoder.logit_scale = 1.0
    torch.testing.assert_close(decoder.prefill_logits(prompt), logits(scaled, prompt)[:, -1],
                               rtol=0, atol=1e-5)


def test_head_removal_slices_the_per_head_qk_norms_and_reloads(tmp_path):
    model = family_model("cohere")
    attn = model.model.layers[1].self_attn
    q_before, k_before = attn.q_norm.weight.detach().clone(), attn.k_norm.weight.detach().clone()
    surgery.remove_kv_groups(model, 1, [0])  # KV head 0 and its query heads 0 and 1
    attn = model.model.layers[1].self_attn
    assert torch.equal(attn.q_norm.weight, q_before[2:])
    assert torch.equal(attn.k_norm.weight, k_before[1:])
    x = ids()
    mine = reloads_with_its_logits(model, x, tmp_path)
    # the kept heads' own rows matter: the removed heads' rows in their place change the logits
    with torch.no_grad():
        attn.q_norm.weight.copy_(q_before[:2])
    assert (logits(model, x) - mine).abs().max() > 1e-3


def reloads_with_its_logits(model, x, tmp_path) -> torch.Tensor:
    """`model` saved and reloaded: as many parameters, the same logits on `x` (returned)."""
    mine = logits(model, x)
    save_model(model, None, tmp_path / "m")
    reloaded = load_model(tmp_path / "m")
    assert numel(reloaded) == numel(model)
    assert torch.equal(logits(reloaded, x), mine)
    return mine


def test_flap_compensates_each_sublayer_of_the_parallel_block_with_its_removed_mean():
    """Attention and MLP read the same normed input and their outputs are added once: FLAP's
    statistics (o_proj's and down_proj's inputs on the dense model) and compensations (each
    removed part's mean output into its output bias) keep every pruned block's output, averaged
    over the calibration tokens and given the dense block's inputs, the dense block's."""
    flap_keeps_each_blocks_mean_output(family_model("cohere"))


def flap_keeps_each_blocks_mean_output(model) -> None:
    """FLAP's compensations keep each pruned block's mean output on the dense block's inputs
    (also StableLM's parallel block: tests/test_stablelm.py)."""
    calibration = ids(6, 16, seed=7)
    kinds = attention_kinds(model.config)
    batches = block_inputs(model, calibration, 2)
    inputs, outputs = [], []
    with torch.no_grad():
        for b, layer in enumerate(model.model.layers):
            inputs.append(batches)
            batches = run_block(layer, kinds[b], batches)
            outputs.append(batches)
    # a size at which FLAP removes a KV group of some block besides MLP channels
    report = flap.prune(model, calibration, int(0.6 * numel(model)))
    compensated = {name for block in report["blocks"] for name in block["compensated"]}
    assert compensated == {"o_proj", "down_proj"}
    with torch.no_grad():
        for b, layer in enumerate(model.model.layers):
            pruned = torch.cat([h for h, _ in run_block(layer, kinds[b], inputs[b])])
            dense = torch.cat([h for h, _ in outputs[b]])
            mean = lambda t: t.double().reshape(-1, t.shape[-1]).mean(0)  # noqa: E731
            torch.testing.assert_close(mean(pruned), mean(dense), rtol=0, atol=1e-4)


def test_the_known_shapes_count_by_hand_and_build_their_family():
    """Command R+'s count written out by hand: 96 query heads of 128 (q and o 12288 wide), 8
    KV heads, a q and a k LayerNorm weight per head, a SwiGLU MLP, one LayerNorm a block, the
    embeddings tied to the head, a final LayerNorm."""
    d, hd, heads, kv, m, vocab, blocks = 12288, 128, 96, 8, 33792, 256000, 64
    block = 2 * d * heads * hd + 2 * d * kv * hd + (heads + kv) * hd + 3 * d * m + d
    by_hand = blocks * block + vocab * d + d
    assert by_hand == 103_810_674_688
    assert count_params(config_from_dict(ARCHITECTURES["command-r-plus"])) == by_hand
    built = architecture_config("command-r-plus")
    assert type(built).__name__ == "CohereConfig" and built.use_qk_norm
    assert built.tie_word_embeddings and built.logit_scale == 0.8333333333333334
    assert count_params(built) == count_params_meta(built) == by_hand
    command_r = architecture_config("command-r")
    assert not command_r.use_qk_norm and command_r.num_key_value_heads == 64
    assert count_params(command_r) == 34_980_831_232
    assert count_params(architecture_config("aya-23-8b")) == 8_028_033_024


@pytest.mark.parametrize("repo, shape", [
    ("CohereForAI/c4ai-command-r-v01", "command-r"),
    ("CohereForAI/c4ai-command-r-plus", "command-r-plus"),
    ("CohereForAI/aya-23-8B", "aya-23-8b"),
    # other shapes: the 08-2024 releases (GQA, no q/k norms), Aya-23-35B
    ("CohereForAI/c4ai-command-r-08-2024", None),
    ("CohereForAI/c4ai-command-r-plus-08-2024", None),
    ("CohereForAI/c4ai-command-r7b-12-2024", "command-r7b"),
    ("CohereLabs/c4ai-command-a-03-2025", "command-a-03-2025"),
    ("CohereForAI/aya-23-35B", None),
])
def test_the_hub_ids_name_their_known_shape_and_no_other(repo, shape):
    assert known_shape_of(repo) == shape


# --------------------------------------------------------------------------- Cohere2

def small2(**kw) -> Cohere2Config:
    values = dict(vocab_size=128, hidden_size=48, intermediate_size=56, num_hidden_layers=5,
                  num_attention_heads=6, num_key_value_heads=2, logit_scale=0.37,
                  sliding_window=5, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    return Cohere2Config(**{**values, **kw})


@pytest.mark.parametrize("written", [{}, {"head_dim": 16}, {"sliding_window_pattern": 2}])
def test_cohere2_counts_and_block_kinds_from_config_json_as_its_class_reads_them(written):
    """Without layer_types Cohere2Config makes every sliding_window_pattern-th block (4th)
    global, and it keeps a head_dim config.json gives (else hidden / heads): the torch-free
    reading of a config.json (`prunebench plan`) does too."""
    config = small2(**written)
    raw = {**json.loads(config.to_json_string()), **written}
    raw.pop("layer_types")  # as the published config.json files have them: a pattern only
    ours = config_from_dict(raw)
    assert ours.layer_types == config.layer_types and ours.head_dim == config.head_dim
    assert config.layer_types.count("full_attention") == 5 // written.get(
        "sliding_window_pattern", 4)
    assert count_params(ours) == numel(Cohere2ForCausalLM(config))


def test_a_cohere2_config_json_without_a_window_is_refused(tmp_path):
    """Cohere2Model masks its local blocks by sliding_window: transformers builds a model
    without one, then stops at its first forward."""
    small2().save_pretrained(tmp_path)
    raw = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**raw, "sliding_window": None}))
    with pytest.raises(PrunebenchError, match="sliding_window=null for a Cohere2 model"):
        load_config(tmp_path)
    with pytest.raises(PrunebenchError, match="sliding_window=null"):
        checkpoint_config(tmp_path)


def test_cohere2s_global_blocks_attend_without_rotary_positions_after_depth_pruning_too():
    """The local blocks rotate, the global (4th) one does not (Cohere2Attention); removing a
    block before it moves it, and the compiled decoder follows: its logits are transformers'."""
    torch.manual_seed(0)
    model = build_model(small2(num_hidden_layers=4, initializer_range=0.1), device="cpu").eval()
    prompt = ids(2, 9, seed=8)
    for removed, rotating in (([], [True, True, True, False]), ([0], [True, True, False])):
        remove_blocks(model, removed)
        decoder = StaticDecoder(model, 2, 12, mode="eager")
        assert [block.rotate for block in decoder.blocks] == rotating
        torch.testing.assert_close(decoder.prefill_logits(prompt), logits(model, prompt)[:, -1],
                                   rtol=0, atol=1e-5)
    # the rotation matters: rotating the global block too changes the logits
    decoder.blocks[-1].rotate = True
    assert (decoder.prefill_logits(prompt) - logits(model, prompt)[:, -1]).abs().max() > 1e-3


def test_cohere2s_known_shapes_build_their_family():
    r7b = architecture_config("command-r7b")
    assert type(r7b).__name__ == "Cohere2Config" and r7b.sliding_window == 4096
    assert r7b.layer_types[:4] == ["sliding_attention"] * 3 + ["full_attention"]
    assert count_params(r7b) == count_params_meta(r7b) == 8_028_033_024
    assert count_params(config_from_dict(ARCHITECTURES["command-a-03-2025"])) == 111_057_580_032
