"""Phi-4-multimodal (`phi4_multimodal`, Phi4MultimodalForCausalLM): its language model is
Phi-3's decoder (Phi-4-mini's), kept on download or import as a `phi3` checkpoint
(checkpoint.text_part), shown against transformers' own classes: the kept Phi3ForCausalLM
computes the whole model's logits on text (short and long rotary factors, the image and audio
tokens' ids among the text); its parameters are the whole model's but the encoders', counted
from config.json alone; it decodes as the whole model's generate within the original context
and, past it, as the model computes; a config.json leaving settings to Phi4MultimodalConfig
gets that class's defaults, not Phi-3's; depth pruning gives the whole model of the kept
blocks, reloaded by prunebench and transformers and decoded by both hf backends as its
generate; a uniform head and channel prune gives the whole model of those widths; the
repository's own code's layout (phi4mm: LoRA adapters inside the projections) is refused,
naming transformers' layout. Every other method runs the kept checkpoint as any Phi-3 one
(tests/test_families.py's matrix)."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from transformers import Phi3ForCausalLM, Phi4MultimodalConfig, Phi4MultimodalForCausalLM

from prunebench import PrunebenchError
from prunebench.checkpoint import text_part
from prunebench.checkpoint.param_count import (checked_config_json, checkpoint_config,
                                               config_from_dict, count_params)
from prunebench.modeling import load_model, remove_blocks, save_model
from test_families import VOCAB, ids, logits, numel
from test_qwen3_next import check_hf_backends_decode_as_transformers

pytestmark = pytest.mark.usefixtures("one_thread")

# The image and audio tokens' ids inside the vocabulary: on text (no pixels, no audio features)
# the whole model embeds them as any token, and so does Phi-3.
IMAGE, AUDIO = VOCAB - 2, VOCAB - 1
ENCODERS = dict(
    vision_config=dict(hidden_size=32, intermediate_size=48, num_hidden_layers=1,
                       num_attention_heads=2, image_size=28, patch_size=14, crop_size=28,
                       image_token_id=IMAGE),
    audio_config=dict(hidden_size=32, intermediate_size=48, num_blocks=1, num_attention_heads=2,
                      nemo_conv_channels=16, depthwise_separable_out_channel=32,
                      ext_pw_out_channel=32, audio_token_id=AUDIO))
# Phi-4-mini's decoder, small: GQA, a partial rotation (0.75 published) whose frequencies the
# long factors stretch past original_max_position_embeddings (4096 published: 16 here, which
# the backends' 7-token prompts and 8 new tokens stay within, and a test crosses), tied.
LONGROPE = {"type": "longrope", "short_factor": [1.0, 1.1, 1.3, 1.6],
            "long_factor": [1.0, 2.0, 4.0, 8.0]}
TEXT = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_hidden_layers=4,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
            original_max_position_embeddings=16, partial_rotary_factor=0.5,
            rope_scaling=LONGROPE, tie_word_embeddings=True, bos_token_id=1, eos_token_id=2,
            pad_token_id=0)


def whole_model(**changes) -> Phi4MultimodalForCausalLM:
    """A random Phi4MultimodalForCausalLM of TEXT's decoder with `changes` (norms randomised;
    the config class fills in the rope dict it is given: a copy)."""
    torch.manual_seed(0)
    config = Phi4MultimodalConfig(**copy.deepcopy({**TEXT, **changes, **ENCODERS}))
    model = Phi4MultimodalForCausalLM(config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 and "norm" in name:
                p.copy_(torch.randn_like(p) * 0.2 + 1.0)
    return model.eval()


def encoders(model) -> int:
    return sum(p.numel() for p in model.model.embed_tokens_extend.parameters())


def encoder_tensors(model) -> int:
    """The encoders' saved tensors' elements: their parameters and the audio encoder's
    normalisation buffers."""
    return sum(t.numel() for t in model.model.embed_tokens_extend.state_dict().values())


@pytest.fixture(scope="module")
def kept(tmp_path_factory):
    """The whole model, its folder after the extraction, and config.json's language-model
    values as the start reads them before it (what `prunebench plan` counts)."""
    model = whole_model()
    folder = tmp_path_factory.mktemp("phi4mm") / "model"
    model.save_pretrained(folder)
    values = checked_config_json(folder, text_part=True)
    assert text_part.take_text_part(folder) is True
    return model, folder, values


def test_the_kept_language_model_is_phi3_computing_the_whole_models_logits_on_text(kept):
    """Kept: a Phi3ForCausalLM of the whole model's parameters but its encoders' (tied, as
    published), counted alike from the multimodal config.json and the kept one, computing the
    whole model's logits on text within original_max_position_embeddings (short factors) and
    past it (long factors), the image and audio tokens' ids among the text."""
    model, folder, values = kept
    ours = load_model(folder)
    assert type(ours) is Phi3ForCausalLM and ours.config.tie_word_embeddings is True
    language = numel(model) - encoders(model)
    assert numel(ours) == count_params(checkpoint_config(folder)) == language
    assert count_params(config_from_dict(values)) == language
    record = json.loads((folder / text_part.RECORD).read_text())
    assert (record["taken_from"], record["text_model_type"]) == ("Phi4MultimodalForCausalLM",
                                                                  "phi3")
    assert record["left_out"]["parameters"] == encoder_tensors(model) > encoders(model) > 0
    written = json.loads((folder / "config.json").read_text())
    assert not {k for k in written if k.startswith(("vision", "audio"))}
    whole = model.config.rope_parameters
    assert {k: ours.config.rope_parameters[k] for k in whole} == whole
    for length in (10, 40):
        x = ids(2, length)
        x[:, 3], x[:, 5] = IMAGE, AUDIO
        torch.testing.assert_close(logits(ours, x), logits(model, x), rtol=0, atol=1e-5)
    # the long factors are in use past 16 tokens: the first ten positions' logits differ
    short, long = logits(model, ids(2, 10)), logits(model, ids(2, 40))[:, :10]
    assert (short - long).abs().max() > 1e-3


def test_the_kept_model_decodes_as_the_whole_models_generate(kept):
    """Within original_max_position_embeddings, prunebench's hf and hf_static backends on the
    kept model give the whole model's generate tokens."""
    model, folder, _ = kept
    check_hf_backends_decode_as_transformers(load_model(folder), model)


def test_past_the_factors_switch_the_kept_model_decodes_as_phi3s_generate(kept):
    """A 12-token prompt and 8 new tokens cross original_max_position_embeddings (16), where
    both classes' generate drop the cache. Phi-3's generate (5.24 on) then prefills the whole
    sequence again with the long factors: the kept model decodes as the whole model computes
    (its greedy decoding without a cache). Phi4MultimodalForCausalLM's generate (5.25 too)
    feeds that step's token alone, as Phi-3's did before 5.24, attending to it alone: where the
    installed Phi-3 does so too, the kept model's tokens are that generate's."""
    from prunebench import benchmark as bench
    from prunebench.benchmark.run import phi3_generate_refeeds_the_sequence
    from test_families import assert_tokens_agree, certain_steps
    from test_qwen3_next import no_cache_greedy

    model, folder, _ = kept
    prompt, n_new = ids(2, 12, seed=5), 8
    mask = torch.ones_like(prompt)
    tokens = bench.HFRunner(load_model(folder), n_new).generate(prompt, mask)
    with torch.inference_mode():
        generated = model.generate(input_ids=prompt, attention_mask=mask, max_new_tokens=n_new,
                                   min_new_tokens=n_new, do_sample=False, pad_token_id=0)
    if phi3_generate_refeeds_the_sequence():
        uncached, scores = no_cache_greedy(model, prompt, n_new)
        certain = certain_steps(scores)
        assert min(certain) > 5  # (past the switch, at the 5th new token)
        assert_tokens_agree(tokens, uncached, certain, prompt.shape[1])
        assert not torch.equal(generated, uncached)  # the multimodal class's generate differs
    else:
        assert torch.equal(tokens, generated)


def test_settings_left_to_the_config_class_take_phi4_multimodals_defaults(tmp_path):
    """The text defaults are exactly those of Phi4MultimodalConfig that differ from
    Phi3Config's; a config.json leaving out num_key_value_heads (8, not the query heads'
    count) and max_position_embeddings (131072, not 4096: the long rotation's attention
    scale) keeps the language model the whole model loads."""
    from transformers import Phi3Config

    own, theirs = Phi4MultimodalConfig().to_dict(), Phi3Config().to_dict()
    differing = {k: v for k, v in own.items() if theirs.get(k, v) != v
                 and k not in ("model_type", "vision_config", "audio_config")}
    assert differing == text_part.WRAPPERS["phi4_multimodal"].text_defaults

    model = whole_model(num_attention_heads=16, num_key_value_heads=8, partial_rotary_factor=1.0,
                        original_max_position_embeddings=4096, max_position_embeddings=131072,
                        rope_scaling={**LONGROPE, "short_factor": [1.0, 1.3],
                                      "long_factor": [2.0, 4.0]})
    folder = tmp_path / "model"
    model.save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    for key in ("num_key_value_heads", "max_position_embeddings"):
        del config[key]
    (folder / "config.json").write_text(json.dumps(config))
    whole = Phi4MultimodalForCausalLM.from_pretrained(folder).eval()
    text_part.take_text_part(folder)
    ours = load_model(folder)
    assert (ours.config.num_key_value_heads, ours.config.max_position_embeddings) == (8, 131072)
    x = ids(2, 10)
    torch.testing.assert_close(logits(ours, x), logits(whole, x), rtol=0, atol=1e-5)
    phi3_defaults = Phi3ForCausalLM.from_pretrained(
        folder, max_position_embeddings=4096).eval()  # (the long rotation unscaled)
    assert (logits(phi3_defaults, x) - logits(whole, x)).abs().max() > 1e-3


def test_depth_pruning_is_the_whole_model_of_the_kept_blocks(kept, tmp_path):
    """Blocks 1 and 2 removed from the kept model: Phi4MultimodalForCausalLM of two blocks,
    given blocks 0 and 3 (and the same encoders), computes the same logits; saved, the model
    reloads by prunebench and by Phi3ForCausalLM, and both hf backends decode it as that
    two-block model's generate."""
    model, folder, _ = kept
    state = {k.replace("model.layers.3.", "model.layers.1."): v
             for k, v in model.state_dict().items()
             if not k.startswith(("model.layers.1.", "model.layers.2."))}
    theirs = whole_model(num_hidden_layers=2)
    theirs.load_state_dict(state)
    pruned = remove_blocks(load_model(folder), [1, 2])
    x = ids(2, 20)
    torch.testing.assert_close(logits(pruned, x), logits(theirs, x), rtol=0, atol=1e-5)
    assert count_params(pruned.config) == numel(pruned) == numel(theirs) - encoders(theirs)
    save_model(pruned, None, tmp_path / "depth")
    reloaded = load_model(tmp_path / "depth")
    by_transformers = Phi3ForCausalLM.from_pretrained(tmp_path / "depth").eval()
    torch.testing.assert_close(logits(by_transformers, x), logits(theirs, x), rtol=0, atol=1e-5)
    check_hf_backends_decode_as_transformers(reloaded, theirs)


def test_a_uniformly_width_pruned_kept_model_is_the_whole_model_of_its_widths(tmp_path):
    """Every block of the kept model loses KV group 0 (query heads 0 and 1, KV head 0) and MLP
    channels 3..34 through prunebench's surgery: it computes what Phi4MultimodalForCausalLM of
    2 query heads on 1 KV head (head_dim 16 kept) and 64 channels computes given the packed
    rows the test keeps itself (qkv_proj's [q; k; v], gate_up_proj's [gate; up]), and so does
    its reload. (The default rotation: transformers' classes size longrope's factors by
    hidden / heads, which a head prune changes.)"""
    from prunebench.methods import surgery
    from block_helpers import sliced_state

    model = whole_model(rope_scaling=None)
    model.save_pretrained(tmp_path / "model")
    text_part.take_text_part(tmp_path / "model")
    ours = load_model(tmp_path / "model")
    for block in range(4):
        surgery.remove_kv_groups(ours, block, [0])
        surgery.remove_channels(ours, block, range(3, 35))
    queries, keep = list(range(32, 64)), [0, 1, 2, *range(35, 96)]
    state = sliced_state(model.state_dict(),
                         rows={"qkv_proj": [*queries, *range(80, 96), *range(112, 128)],
                               "gate_up_proj": [*keep, *(96 + c for c in keep)]},
                         columns={"o_proj": queries, "down_proj": keep})
    theirs = whole_model(rope_scaling=None, num_attention_heads=2, num_key_value_heads=1,
                         head_dim=16, intermediate_size=64)
    theirs.load_state_dict(state)
    x = ids(2, 20)
    torch.testing.assert_close(logits(ours, x), logits(theirs, x), rtol=0, atol=1e-5)
    assert count_params(ours.config) == numel(ours) == numel(theirs) - encoders(theirs)
    save_model(ours, None, tmp_path / "width")
    torch.testing.assert_close(logits(load_model(tmp_path / "width"), x), logits(theirs, x),
                               rtol=0, atol=1e-5)


def test_the_repositorys_own_code_layout_is_refused_naming_transformers_layout(tmp_path):
    """microsoft/Phi-4-multimodal-instruct's main branch: model_type phi4mm, its own code
    (auto_map), the adapters inside the projections: refused when read, naming revision
    refs/pr/70 (transformers' layout), and not taken apart (nothing changes)."""
    folder = tmp_path / "phi4mm"
    folder.mkdir()
    raw = {**TEXT, "model_type": "phi4mm", "architectures": ["Phi4MMForCausalLM"],
           "auto_map": {"AutoConfig": "configuration_phi4mm.Phi4MMConfig",
                        "AutoModelForCausalLM": "modeling_phi4mm.Phi4MMForCausalLM"},
           "vision_lora": {"r": 4, "lora_alpha": 8}, "speech_lora": {"r": 4, "lora_alpha": 8}}
    (folder / "config.json").write_text(json.dumps(raw))
    before = (folder / "config.json").read_bytes()
    for text in (False, True):
        with pytest.raises(PrunebenchError, match="refs/pr/70") as refused:
            checked_config_json(folder, text_part=text)
        assert "lora_A" in str(refused.value) and "phi3" in str(refused.value)
    assert text_part.take_text_part(folder) is False
    assert (folder / "config.json").read_bytes() == before

