"""Cohere Compass's language model (cohere_compass_text: CohereCompassForCausalLM, the text half
of Cohere's North-Micro-Vision, `cohere_compass`), a family of transformers 5.21 on
(Family.min_transformers: 5.17 to 5.20 have the class but rotate by other frequencies).

Cohere2's parallel block (one bias-free LayerNorm feeding attention and MLP, windows on the
sliding blocks, logits times logit_scale) whose blocks rotate by rope_parameters' entry of
their layer type, none where it is null (the published global blocks), with LLaMA's
rotate_half (Cohere's rotate adjacent pairs). Shown against transformers' own classes: the
release's refusal below 5.21 (make test-floor's 5.17 really); counts, tied and untied;
prunebench's model computing transformers' logits; depth pruning equal to transformers' model
of the kept blocks (reloaded, both hf backends decoding as generate); head and channel
removal equal to transformers' model of those widths; the compiled decoder on a width-pruned
model, fused and not, and as generate; each quirk it reproduces changing the logits (the
unrotated global blocks, the rotate_half pairing, the logit scale); the configs transformers
cannot build or run refused when read; and the multimodal checkpoint's language model kept
as this family's, computing what the whole model computes on text. tests/test_families.py runs
the shared per-family tests on it too (every method, every backend, evaluation, LoRA, windows
in the compiled decoder)."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from transformers import AutoModelForCausalLM

from prunebench import PrunebenchError
from prunebench.benchmark.compiled import StaticDecoder
from prunebench.checkpoint import param_count, text_part
from prunebench.checkpoint.param_count import checked_config_json, config_from_dict
from prunebench.modeling import count_params, count_params_meta, load_config, load_model
from block_helpers import prune_every_block_uniformly, sliced_state
from test_cohere import decoder_gives_transformers_logits, decodes_as_generate_does, width_pruned
from test_exaone_internlm3 import check_refused_below_its_release, needs, small, write
from test_families import COHERE_COMPASS_ROPE, family_model, ids, logits, numel
from test_gpt_neox import without_blocks_1_and_2_is

pytestmark = pytest.mark.usefixtures("one_thread")

NAME = "cohere_compass_text"
SLIDING = ["sliding_attention"] * 3 + ["full_attention"]


def tiny_json(**changes) -> dict:
    """A tiny config.json of the family in North-Micro-Vision's text_config keys."""
    return {"model_type": NAME, "hidden_size": 64, "intermediate_size": 128,
            "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2,
            "vocab_size": 128, "max_position_embeddings": 256, "sliding_window": 6,
            "layer_types": SLIDING, "rope_parameters": COHERE_COMPASS_ROPE,
            "logit_scale": 0.25, "tie_word_embeddings": True, **changes}


@pytest.fixture(scope="module")
def model():
    needs(NAME)
    return family_model(NAME)


def test_an_older_transformers_is_refused_before_the_model_loads_naming_the_upgrade(
        tmp_path, monkeypatch):
    """Below 5.21 (5.17 to 5.20 have the class, which rotates otherwise: RELEASE_REASONS)
    every way to build the model is refused naming the release; read and counted all the
    same."""
    check_refused_below_its_release(NAME, "5.21.0", tiny_json(), tmp_path, monkeypatch)
    assert "mrope_interleaved" in param_count.RELEASE_REASONS[NAME]


@pytest.mark.parametrize("tied", [True, False])
def test_counts_equal_transformers_parameters(tied):
    config = small(NAME, tie_word_embeddings=tied)
    theirs = AutoModelForCausalLM.from_config(config)
    assert type(theirs).__name__ == "CohereCompassForCausalLM"
    assert count_params(config) == count_params_meta(config) == numel(theirs)
    assert count_params(config_from_dict(json.loads(config.to_json_string()))) == numel(theirs)


def test_prunebenchs_model_is_transformers_model(model, tmp_path):
    """prunebench's model computes what transformers' class computes with its weights; its
    config.json read by prunebench is transformers' config of the same file."""
    theirs = AutoModelForCausalLM.from_config(model.config).eval()
    theirs.load_state_dict(model.state_dict())
    x = ids()
    torch.testing.assert_close(logits(model, x), logits(theirs, x), rtol=0, atol=1e-5)
    folder = write(tmp_path, tiny_json())
    ours = load_config(folder)
    assert ours.layer_types == SLIDING and ours.rope_parameters["full_attention"] is None
    assert count_params(ours) == count_params(config_from_dict(tiny_json()))


def test_depth_pruning_is_transformers_model_of_the_kept_blocks(model, tmp_path):
    """Blocks 1 and 2 removed: transformers' model of a sliding and a global block, given
    blocks 0 and 3 (each keeping its kind and rotation); reloads and decodes as generate."""
    theirs = AutoModelForCausalLM.from_config(small(
        NAME, num_hidden_layers=2, layer_types=["sliding_attention", "full_attention"]))
    pruned = without_blocks_1_and_2_is(model, "model.layers", theirs, tmp_path)
    assert pruned.config.layer_types == ["sliding_attention", "full_attention"]


def test_a_uniformly_width_pruned_model_is_transformers_model_of_its_widths(model):
    """Every block loses KV group 0 (query heads 0 and 1) and MLP channels 3..34:
    transformers' model of 2 query heads on 1 KV head (head_dim kept) and 96 channels given
    the rows the test keeps itself."""
    import copy

    pruned = copy.deepcopy(model)
    original, q_rows, kv_rows, keep = prune_every_block_uniformly(pruned, list(range(3, 35)), 16)
    state = sliced_state(original, rows={"q_proj": q_rows, "k_proj": kv_rows, "v_proj": kv_rows,
                                         "gate_proj": keep, "up_proj": keep},
                         columns={"o_proj": q_rows, "down_proj": keep})
    reference = AutoModelForCausalLM.from_config(small(
        NAME, num_attention_heads=2, num_key_value_heads=1, head_dim=16,
        intermediate_size=96)).eval()
    reference.load_state_dict(state)
    x = ids()
    torch.testing.assert_close(logits(pruned, x), logits(reference, x), rtol=0, atol=1e-5)
    assert numel(pruned) == numel(reference) == count_params(pruned.config)


@pytest.mark.parametrize("fuse", [True, False])
def test_the_compiled_decoder_gives_transformers_logits_for_a_width_pruned_model(fuse):
    needs(NAME)
    decoder_gives_transformers_logits(width_pruned(family_model(NAME)), fuse)


def test_the_compiled_decoder_decodes_a_width_pruned_model_as_generate_does():
    needs(NAME)
    decodes_as_generate_does(width_pruned(family_model(NAME)))


def test_the_decoder_applies_each_of_the_familys_pieces(model, monkeypatch):
    """Each quirk the compiled decoder reproduces changes the logits: the global blocks
    without a rotary table attend unrotated (rotated, the logits differ), the rotation pairs
    i with i + head_dim / 2 (Cohere's and Cohere2's adjacent pairs differ), the logit scale."""
    prompt = ids(2, 9, seed=6)
    reference = logits(model, prompt)[:, -1]
    decoder = StaticDecoder(model, 2, 12, mode="eager")
    assert decoder.untabled == {"full_attention"}
    assert [b.rotate for b in decoder.blocks] == [True, True, True, False]
    torch.testing.assert_close(decoder.prefill_logits(prompt), reference, rtol=0, atol=1e-5)
    decoder.logit_scale = 1.0
    assert (decoder.prefill_logits(prompt) - reference).abs().max() > 1e-2
    rotated = StaticDecoder(model, 2, 12, mode="eager")
    for block in rotated.blocks:  # the global block given the sliding blocks' table
        block.rotate = True
    rotated.rotary_kinds = ["sliding_attention"] * 4
    assert (rotated.prefill_logits(prompt) - reference).abs().max() > 1e-3
    monkeypatch.setitem(param_count.FAMILIES, NAME, dataclasses.replace(
        param_count.FAMILIES[NAME], pairwise_rotary=True))
    pairwise = StaticDecoder(model, 2, 12, mode="eager")
    assert (pairwise.prefill_logits(prompt) - reference).abs().max() > 1e-3


@pytest.mark.parametrize("changes, words, fails", [
    ({"rope_parameters": {"sliding_attention": COHERE_COMPASS_ROPE["sliding_attention"]}},
     "no rope_parameters entry for its full_attention blocks", KeyError),
    ({"layer_types": None, "rope_parameters": None},
     "no rope_parameters entry for its full_attention blocks", KeyError),
    ({"sliding_window": None}, "sliding_window=null", (TypeError, ValueError)),
])
def test_configs_transformers_cannot_build_or_run_are_refused_when_read(changes, words, fails,
                                                                        tmp_path):
    """transformers fails on each (a KeyError when built, an error at the first forward);
    prunebench refuses its config.json when read and a model built of it, naming the key."""
    from transformers import CohereCompassForCausalLM, CohereCompassTextConfig

    from prunebench.modeling import build_model

    needs(NAME)
    values = {k: v for k, v in tiny_json(**changes).items()
              if v is not None or k == "sliding_window"}  # (the others: left out)
    config = CohereCompassTextConfig(**{k: v for k, v in values.items() if k != "model_type"})
    with pytest.raises(fails):
        CohereCompassForCausalLM(config)(ids())
    folder = write(tmp_path, values)
    with pytest.raises(PrunebenchError, match=words):
        checked_config_json(folder)
    with pytest.raises(PrunebenchError, match=words):
        build_model(config)


def test_the_multimodal_checkpoints_language_model_is_kept_as_this_family(tmp_path):
    """CohereCompassForConditionalGeneration (Qwen3-VL's ViT, its DeepStack features added
    at image positions only) taken apart: the kept text checkpoint loads as
    CohereCompassForCausalLM (its rotation by layer type kept) and computes the whole model's
    logits on text, positions past the first M-RoPE section's share included."""
    from transformers import CohereCompassConfig, CohereCompassForConditionalGeneration

    needs(NAME)
    text = {k: v for k, v in tiny_json(num_hidden_layers=2, vocab_size=300,
                                       layer_types=["sliding_attention", "full_attention"],
                                       tie_word_embeddings=None).items()
            if k not in ("model_type", "tie_word_embeddings")}
    torch.manual_seed(0)
    whole = CohereCompassForConditionalGeneration(CohereCompassConfig(
        text_config=text, tie_word_embeddings=True, image_token_id=297, video_token_id=298,
        vision_start_token_id=295, vision_end_token_id=296,
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2,
                           out_hidden_size=64, deepstack_visual_indexes=[0, 1],
                           num_position_embeddings=16))).eval()
    folder = tmp_path / "whole"
    whole.save_pretrained(folder)
    assert text_part.take_text_part(folder) is True
    kept = load_model(folder)
    assert type(kept).__name__ == "CohereCompassForCausalLM"
    assert kept.config.rope_parameters["full_attention"] is None
    x = torch.randint(3, 290, (2, 60), generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(logits(kept, x), logits(whole, x), rtol=0, atol=1e-5)
    record = json.loads((folder / text_part.RECORD).read_text())
    assert record["text_model_type"] == NAME
    assert record["left_out"]["parameters"] == sum(
        p.numel() for p in whole.model.visual.parameters())
