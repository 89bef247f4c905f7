"""Fuyu (`fuyu`, FuyuForCausalLM; adept/fuyu-8b): its language model is Persimmon's decoder
beside a linear embedding of image patches, kept on download or import as a `persimmon`
checkpoint (checkpoint.text_part), shown against transformers' own classes: the kept
PersimmonForCausalLM computes the whole model's logits on text (the image token's id among the
text), its parameters are the whole model's but the patch embedding's, counted from config.json
alone; a config.json in the published form (flat: the text settings at its top, no text_config)
keeps the rotary base it states, as transformers 4 (which wrote it) and 5.25 read it, where 5.17
reads Persimmon's 10000; a text_config stating none (as transformers 4 saved fine-tunes) keeps
the 25000 transformers 4 gave it, where transformers 5 reads 10000; depth pruning gives the
whole model of the kept blocks. Every other method runs the kept checkpoint as any Persimmon one
(tests/test_families.py's matrix)."""

from __future__ import annotations

import json

import pytest
import torch
import transformers
from packaging.version import Version
from transformers import FuyuConfig, FuyuForCausalLM, PersimmonForCausalLM

from prunebench.checkpoint import text_part
from prunebench.checkpoint.param_count import (checked_config_json, checkpoint_config,
                                               config_from_dict, count_params)
from prunebench.modeling import load_model, remove_blocks, save_model
from test_families import VOCAB, ids, logits, numel

pytestmark = pytest.mark.usefixtures("one_thread")

# The id of the token that marks where an image goes (image_token_id). On text, the whole
# model embeds it as it embeds any other token.
IMAGE = VOCAB - 1
# Persimmon's decoder, small (q/k LayerNorms, half of each head rotating, as published); the
# rotary base given explicitly, as transformers 5 saves it.
TEXT = dict(model_type="persimmon", vocab_size=VOCAB, hidden_size=64, intermediate_size=128,
            num_hidden_layers=4, num_attention_heads=4, max_position_embeddings=256,
            qk_layernorm=True, initializer_range=0.2, bos_token_id=1, eos_token_id=2)
PATCHES = dict(patch_size=4, num_channels=3, image_token_id=IMAGE)
# adept/fuyu-8b's config.json (its revision 73445a4, written by transformers 4.35) but for the
# sizes: TEXT's values at the top, no text_config.
PUBLISHED = dict(architectures=["FuyuForCausalLM"], attention_dropout=0.0, hidden_act="relu2",
                 hidden_dropout=0.0, image_size=300, layer_norm_eps=1e-05, model_type="fuyu",
                 partial_rotary_factor=0.5, rope_scaling=None,
                 rope_theta=25000.0, tie_word_embeddings=False, torch_dtype="float32",
                 transformers_version="4.35.0.dev0", use_cache=True,
                 **{k: v for k, v in TEXT.items() if k != "model_type"}, **PATCHES)


def whole_model(theta: float = 25000.0, **changes) -> FuyuForCausalLM:
    """A random FuyuForCausalLM of TEXT's decoder rotating by base `theta`, with `changes`
    (norms randomised)."""
    torch.manual_seed(0)
    rope = {"rope_type": "default", "rope_theta": theta, "partial_rotary_factor": 0.5}
    # (the patch embedding's width at the top too: 5.17 sizes it by FuyuConfig's own field)
    text = {**TEXT, **changes, "rope_parameters": rope}
    model = FuyuForCausalLM(FuyuConfig(text_config=text, hidden_size=text["hidden_size"],
                                       **PATCHES))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 and "norm" in name:
                p.copy_(torch.randn_like(p) * 0.2 + (0.0 if name.endswith("bias") else 1.0))
    return model.eval()


def patch_embedding(model) -> int:
    return sum(p.numel() for p in model.model.vision_embed_tokens.parameters())


def text_with_images() -> torch.Tensor:
    x = ids(2, 20)
    x[:, 4] = IMAGE
    return x


def saved_as(model, folder, config: dict):
    """`model`'s weights in `folder` (under the hub's names, which transformers 5 writes) with
    `config` as its config.json."""
    model.save_pretrained(folder)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.fixture(scope="module")
def kept(tmp_path_factory):
    """The whole model, its folder after the extraction, and config.json's language-model
    values as the start reads them before it (what `prunebench plan` counts)."""
    model = whole_model()
    folder = tmp_path_factory.mktemp("fuyu") / "model"
    model.save_pretrained(folder)
    values = checked_config_json(folder, text_part=True)
    assert text_part.take_text_part(folder) is True
    return model, folder, values


def test_the_kept_language_model_is_persimmon_computing_the_whole_models_logits(kept):
    """Kept: a PersimmonForCausalLM of the whole model's parameters but the patch
    embedding's (untied, as published), counted alike from the multimodal config.json and the
    kept one, computing the whole model's logits on text, the image token's id among it; the
    kept config.json holds nothing of the patches."""
    model, folder, values = kept
    ours = load_model(folder)
    assert type(ours) is PersimmonForCausalLM and ours.config.tie_word_embeddings is False
    language = numel(model) - patch_embedding(model)
    assert numel(ours) == count_params(checkpoint_config(folder)) == language
    assert count_params(config_from_dict(values)) == language
    record = json.loads((folder / text_part.RECORD).read_text())
    assert (record["taken_from"], record["text_model_type"]) == ("FuyuForCausalLM", "persimmon")
    assert record["left_out"] == {"tensors": 2, "parameters": patch_embedding(model),
                                  "prefixes": ["vision_embed_tokens.",
                                               "model.vision_embed_tokens."]}
    written = json.loads((folder / "config.json").read_text())
    assert not {k for k in written if k.startswith(("image", "patch", "num_channels"))}
    assert ours.config.rope_parameters == model.config.text_config.rope_parameters
    torch.testing.assert_close(logits(ours, text_with_images()),
                               logits(model, text_with_images()), rtol=0, atol=1e-5)


def test_the_published_flat_config_keeps_the_rotary_base_it_states(tmp_path):
    """adept/fuyu-8b's form: the text settings at config.json's top, rope_theta 25000. The kept
    model rotates by 25000 and computes the whole model's logits at that base (as transformers
    4 built it from that file). The installed FuyuConfig reads that file as 5.25 does (25000:
    the same logits) or as 5.17 does (Persimmon's 10000, dropping the flat rope_theta: other
    logits, which the kept model does not follow)."""
    model = whole_model()
    folder = saved_as(model, tmp_path / "published", PUBLISHED)
    as_installed = FuyuForCausalLM.from_pretrained(folder).eval()
    installed_theta = as_installed.config.text_config.rope_parameters["rope_theta"]
    text_part.take_text_part(folder)
    ours = load_model(folder)
    assert ours.config.rope_parameters == {"rope_type": "default", "rope_theta": 25000.0,
                                           "partial_rotary_factor": 0.5}
    x = text_with_images()
    torch.testing.assert_close(logits(ours, x), logits(model, x), rtol=0, atol=1e-5)
    if Version(transformers.__version__) >= Version("5.25"):
        assert installed_theta == 25000.0
    if installed_theta == 25000.0:
        torch.testing.assert_close(logits(as_installed, x), logits(ours, x), rtol=0, atol=1e-5)
    else:
        assert installed_theta == 10000.0
        assert (logits(as_installed, x) - logits(ours, x)).abs().max() > 1e-3


def test_a_flat_config_with_persimmons_base_computes_as_every_release(tmp_path):
    """A flat config.json stating rope_theta 10000: every release's FuyuForCausalLM rotates by
    it (5.17 dropping it for the same default), and so does the kept model, with its logits."""
    model = whole_model(theta=10000.0)
    folder = saved_as(model, tmp_path / "flat", {**PUBLISHED, "rope_theta": 10000.0})
    as_installed = FuyuForCausalLM.from_pretrained(folder).eval()
    text_part.take_text_part(folder)
    ours = load_model(folder)
    assert ours.config.rope_parameters["rope_theta"] == 10000.0
    x = text_with_images()
    torch.testing.assert_close(logits(ours, x), logits(as_installed, x), rtol=0, atol=1e-5)
    torch.testing.assert_close(logits(ours, x), logits(model, x), rtol=0, atol=1e-5)


def test_a_text_config_without_a_rotary_base_keeps_transformers_4s(tmp_path):
    """Fine-tunes saved by transformers 4.36 on (Mantis-VL's, ...): the flat settings and a
    text_config holding only what differs from transformers 4's PersimmonConfig, whose
    rotary base was 25000: the kept model rotates by 25000, the base the model was trained
    with, and computes those logits; transformers 5 builds Persimmon's 10000 of that file
    (other logits)."""
    model = whole_model()
    text = {k: v for k, v in TEXT.items() if k not in ("bos_token_id", "eos_token_id")}
    folder = saved_as(model, tmp_path / "fine-tune", {**PUBLISHED, "text_config": text})
    as_installed = FuyuForCausalLM.from_pretrained(folder).eval()
    assert as_installed.config.text_config.rope_parameters["rope_theta"] == 10000.0
    text_part.take_text_part(folder)
    ours = load_model(folder)
    assert ours.config.rope_parameters["rope_theta"] == 25000.0
    x = text_with_images()
    torch.testing.assert_close(logits(ours, x), logits(model, x), rtol=0, atol=1e-5)
    assert (logits(as_installed, x) - logits(ours, x)).abs().max() > 1e-3


def test_depth_pruning_is_the_whole_model_of_the_kept_blocks(kept, tmp_path):
    """Blocks 1 and 2 removed from the kept model: FuyuForCausalLM of two blocks, given blocks
    0 and 3 (and the same patch embedding), computes the same logits; saved, the model reloads
    by prunebench and by PersimmonForCausalLM with them."""
    model, folder, _ = kept
    state = {k.replace("language_model.layers.3.", "language_model.layers.1."): v
             for k, v in model.state_dict().items()
             if not k.startswith(("model.language_model.layers.1.",
                                  "model.language_model.layers.2."))}
    theirs = whole_model(num_hidden_layers=2)
    theirs.load_state_dict(state)
    pruned = remove_blocks(load_model(folder), [1, 2])
    x = text_with_images()
    torch.testing.assert_close(logits(pruned, x), logits(theirs, x), rtol=0, atol=1e-5)
    assert count_params(pruned.config) == numel(pruned) == numel(theirs) - patch_embedding(theirs)
    save_model(pruned, None, tmp_path / "depth")
    for reloaded in (load_model(tmp_path / "depth"),
                     PersimmonForCausalLM.from_pretrained(tmp_path / "depth").eval()):
        torch.testing.assert_close(logits(reloaded, x), logits(theirs, x), rtol=0, atol=1e-5)
