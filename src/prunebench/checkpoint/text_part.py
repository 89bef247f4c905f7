"""The language model of a multimodal checkpoint, taken out once as a text-only checkpoint.

Gemma-3's 4B, 12B and 27B checkpoints (`model_type` gemma3, Gemma3ForConditionalGeneration)
hold a Gemma-3 text model (the `gemma3_text` family of the 270M and 1B checkpoints) beside a
SigLIP vision tower and the projector that turns its image features into tokens; Mistral-Small
3.1 and 3.2 (`mistral3`, Mistral3ForConditionalGeneration) hold a Mistral text model beside a
Pixtral vision tower, Ministral 3 and Devstral Small 2 (the same wrapper) a Ministral 3 one
(`ministral3`) and Mistral Small 4 a Mistral 4 mixture of experts (`mistral4`); LLaVA-1.5 and LLaVA-NeXT (`llava`, `llava_next`) a LLaMA (Vicuna), Mistral or
Qwen2 one beside a CLIP vision tower; InternVL (`internvl`) a Qwen2, Qwen3 or LLaMA one beside
an InternViT; GOT-OCR 2.0 (`got_ocr2`) a Qwen2 one beside a SAM-style ViT; Idefics3 and
SmolVLM (`idefics3`, `smolvlm`) a LLaMA one beside a SigLIP; Qwen2-VL
and Qwen2.5-VL (`qwen2_vl`, `qwen2_5_vl`) a Qwen2 one and Qwen3-VL (`qwen3_vl`) a Qwen3 one
beside a ViT; Llama 4 Scout and Maverick (`llama4`, Llama4ForConditionalGeneration) a Llama 4
mixture of experts (`llama4_text`) beside a vision tower and a projector; Qwen3.5 and
Qwen3.5-MoE (`qwen3_5`, `qwen3_5_moe`) a Qwen3.5 language model (`qwen3_5_text`,
`qwen3_5_moe_text`) beside a ViT and a multi-token-prediction layer; Qwen4-Exp (`qwen4_exp`)
a Qwen4-Exp language model (`qwen4_exp_text`) beside a ViT; Gemma 4
(`gemma4`, Gemma4ForConditionalGeneration) a Gemma 4 one (`gemma4_text`) beside a vision
tower, an audio tower (E2B, E4B) and their embedders; Gemma 4 12B (`gemma4_unified`) a
Gemma 4 12B one (`gemma4_unified_text`) beside embedders of raw image patches and audio
frames; Gemma 3n (`gemma3n`) a Gemma 3n one
(`gemma3n_text`) beside the same; Cohere Compass (`cohere_compass`) a
Cohere Compass one (`cohere_compass_text`) beside Qwen3-VL's ViT; Phi-4-multimodal
(`phi4_multimodal`, Phi4MultimodalForCausalLM) a Phi-3 one (Phi-4-mini's) beside image and
audio encoders; MOSS-Transcribe-Diarize (`moss_transcribe_diarize`) a Qwen3 one beside an audio
encoder; Emu3 (`emu3`) an Emu3 one (`emu3_text_model`, whose vocabulary holds the image tokens)
beside the VQ-VAE that turns images into those tokens and back; Llama 3.2 Vision (`mllama`) a
Llama 3.2 Vision one (`mllama_text_model`, with its cross-attention blocks) beside a vision model
and its projector; Fuyu (`fuyu`, FuyuForCausalLM) a Persimmon one beside the linear embedding of
its image patches. Given text alone, such a model runs its language model and its LM head and
nothing else: the same computation as the text family's causal LM with those weights. (The Qwen-VL models rotate each head in three sections by three
position ids, time, height and width (M-RoPE); a text token's three ids are its one position,
so on text the rotation is the text family's ordinary one with the same frequencies.)
prunebench prunes, times and evaluates text generation, so when the workflow downloads or
imports such a checkpoint (and when a command downloads one or is given its folder) it keeps
only that part: the language model's tensors renamed
to the text checkpoint's names, into new shards (`model-text-*.safetensors`) with their index,
the text config as config.json, and `text_part.json` recording what was left out. The vision
tower's and projector's tensors are not kept, so image input is gone from every variant.

The config the language model runs with is the wrapper's `text_config` (keys it leaves out take
the text config class's defaults, as in the wrapper) with what the wrapper itself decides for
the whole model: whether the LM head is tied to the embedding (`tie_word_embeddings`, the
wrapper class's default where absent; an LM head of its own that differs from the embedding
stays untied, as transformers loads it), the dtype, the special token ids, and, for Gemma-3, no
final logit soft cap (Gemma3ForConditionalGeneration never applies one; Gemma3ForCausalLM
would apply a `final_logit_softcapping` the text config names). A wrapper whose config the
start would refuse (quantized, shipping code) or whose text config transformers refuses is
refused before any file changes.

Resumable: the new shards land by rename, and config.json is rewritten only after them and the
index, so until it is the folder is still the multimodal checkpoint (a rerun of the download or
import brings back any original file changed since, and the extraction starts again, keeping
the shards already made from the same files); the original shards are deleted last, and only
from the folder the extraction's record describes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prunebench import PrunebenchError

log = logging.getLogger(__name__)

RECORD = "text_part.json"
TEXT_SHARD = "model-text-{:05d}-of-{:05d}.safetensors"
# The original weight files (size, modification time) the text shards are being made from,
# while they are. Hidden: no manifest records it, no download listing deletes it.
PROGRESS = ".text_part.progress.json"


@dataclass(frozen=True)
class Wrapper:
    """A multimodal model type whose language model is a supported text family.

    `published`: the checkpoints it is made for, as messages name them; `text_model_types`:
    the language model families its checkpoints hold (the first where the text config names
    none, as the wrapper's config class assumes); `renames`: tensor
    name prefixes of the language model in the wrapper's checkpoints (as the
    hub's files name them, and as transformers 5 names them in memory) and what the text
    family's checkpoints call them; `left_out`: prefixes of the other modalities' tensors;
    `tied_by_default`: the wrapper config class's `tie_word_embeddings` default;
    `tied_by_text`: whether the text config's own `tie_word_embeddings` ties them too (LlavaConfig
    takes it from there, where transformers 4 saved it; transformers 5 reads a LLaVA-NeXT's
    whole config only, and would load such a checkpoint, which holds no LM head, with a random
    one: it is kept tied, as transformers 4 made and trained it);
    `text_overrides`: text config values the wrapper's forward pass implies, or the tensors it
    leaves out (Qwen3.5's multi-token-prediction layers: none kept);
    `text_config_types`: the model types the wrapper's text configs name for its own language
    model class (Qwen2.5-VL's `qwen2_5_vl_text`) and the text family that computes the same;
    `text_at_top`: whether a config.json without `text_config` holds the language model's
    settings at its top level (Qwen2-VL's and Qwen2.5-VL's published configs, which the
    wrapper's config class reads so); `multimodal_rope`: the language model rotates by M-RoPE
    (module docstring), whose sections the text family's rotary settings leave out;
    `text_defaults`: where the wrapper's text config class is not the text family's, its
    defaults that differ from the family class's (a key a config leaves out takes the
    wrapper's default inside the whole model; `rope_theta` stands for the rotary base however
    the config gives it), or those transformers 4 gave where 5's differ (Fuyu's rotary base:
    the checkpoints leaving it out were saved and trained so); `causal_on_text`: the values of
    the text config's `use_bidirectional_attention` under which both the wrapper and the text class attend
    causally on text (Gemma 4's "vision": only image tokens attend both ways)."""

    model_class: str
    published: str
    text_model_types: tuple[str, ...]
    renames: tuple[tuple[str, str], ...]
    left_out: tuple[str, ...]
    tied_by_default: bool
    tied_by_text: bool = False
    text_overrides: dict[str, Any] = field(default_factory=dict)
    text_config_types: dict[str, str] = field(default_factory=dict)
    text_at_top: bool = False
    multimodal_rope: bool = False
    text_defaults: dict[str, Any] = field(default_factory=dict)
    causal_on_text: tuple[str, ...] = ()


# The LLaVA-style layout both use: `language_model.model.*` (and an untied
# `language_model.lm_head.*`) in the hub's files, which transformers 5 still writes;
# `model.language_model.*` and `lm_head.*` in transformers 5's modules.
_LLAVA_RENAMES = (("language_model.model.", "model."), ("language_model.lm_head.", "lm_head."),
                  ("model.language_model.", "model."), ("lm_head.", "lm_head."))
_LLAVA_LEFT_OUT = ("vision_tower.", "multi_modal_projector.", "model.vision_tower.",
                   "model.multi_modal_projector.")
# Idefics3 / SmolVLM: `model.text_model.*` beside `model.vision_model.*` and the connector that
# turns image features into tokens.
_IDEFICS3_RENAMES = (("model.text_model.", "model."), ("lm_head.", "lm_head."))
_IDEFICS3_LEFT_OUT = ("model.vision_model.", "model.connector.")
# Qwen-VL: the language model named as the text family's checkpoints name it (Qwen2-VL's and
# Qwen2.5-VL's published files) or as transformers 5's modules do; the ViT under `visual.`.
_QWEN_VL_RENAMES = (("model.language_model.", "model."),
                    *((name, name) for name in ("model.embed_tokens.", "model.layers.",
                                                "model.norm.", "lm_head.")))
_QWEN_VL_LEFT_OUT = ("visual.", "model.visual.")
# Llama 4: `language_model.model.*` and `language_model.lm_head.*` beside `vision_model.*` and
# `multi_modal_projector.*`, in the hub's files and in transformers 5's modules alike.
_LLAMA4_RENAMES = (("language_model.model.", "model."), ("language_model.lm_head.", "lm_head."))
_LLAMA4_LEFT_OUT = ("vision_model.", "multi_modal_projector.")
# Gemma 4: the language model as transformers 5 names its modules and saves them
# (`model.language_model.*`; the LM head tied to its embedding) beside a vision tower, an audio
# tower (E2B, E4B) and their embedders into the language model's width.
_GEMMA4_RENAMES = (("model.language_model.", "model."), ("lm_head.", "lm_head."))
_GEMMA4_LEFT_OUT = ("model.vision_tower.", "model.audio_tower.", "model.embed_vision.",
                    "model.embed_audio.")
# What a config.json with the language model's settings at its top holds for the other
# modalities (vision_config, image / video / vision token ids, Fuyu's patch size and channels)
# or the wrapper alone.
_NOT_TEXT_AT_TOP = ("vision_config", "architectures", "auto_map", "model_type", "patch_size",
                    "num_channels")
_OTHER_MODALITY_PREFIXES = ("vision_", "image_", "video_", "audio_")
# The rotary settings of M-RoPE's sections, which the text family's rotation has no use for.
_MROPE_KEYS = ("mrope_section", "mrope_interleaved")
# Qwen2VLTextConfig's and Qwen2_5_VLTextConfig's defaults where Qwen2Config's differ (the 72B's
# shapes, its rotary base and norm epsilon, Qwen's token ids), Qwen3VLTextConfig's where
# Qwen3Config's do (tests/test_text_part.py compares them with transformers' classes).
_QWEN2_VL_TEXT_DEFAULTS = dict(
    vocab_size=152064, hidden_size=8192, intermediate_size=29568, num_hidden_layers=80,
    num_attention_heads=64, num_key_value_heads=8, rms_norm_eps=1e-5, max_window_layers=80,
    rope_theta=1000000.0, bos_token_id=151643, eos_token_id=151645)
_QWEN3_VL_TEXT_DEFAULTS = dict(max_position_embeddings=128000, rope_theta=500000.0)
# Phi-4-multimodal: the language model named as Phi-3's checkpoints name it, beside the image
# and audio encoders and their projectors under `model.embed_tokens_extend.`; the defaults of
# Phi4MultimodalConfig where Phi3Config's differ (Phi-4-mini's vocabulary, KV heads and context,
# its token ids; tests/test_phi4_multimodal.py compares them with transformers' classes).
_PHI4_MM_RENAMES = tuple((name, name) for name in ("model.embed_tokens.", "model.layers.",
                                                   "model.norm.", "lm_head."))
_PHI4_MM_TEXT_DEFAULTS = dict(vocab_size=200064, num_key_value_heads=8,
                              max_position_embeddings=131072, bos_token_id=199999,
                              eos_token_id=[199999, 200020], pad_token_id=199999)

# Fuyu: the rotary base its language model was trained with and transformers 4 gave it where
# config.json names none (FuyuConfig's default for a config without text_config,
# PersimmonConfig's for a text_config, which transformers 4 saved without it); transformers 5
# builds Persimmon's 10000 instead (docs/families.md, "Fuyu").
_FUYU_TEXT_DEFAULTS = dict(rope_theta=25000.0)

WRAPPERS: dict[str, Wrapper] = {
    # Gemma3ForConditionalGeneration's LM head never soft-caps the logits.
    "gemma3": Wrapper("Gemma3ForConditionalGeneration", "Gemma-3 4B, 12B and 27B",
                      ("gemma3_text",), _LLAVA_RENAMES,
                      _LLAVA_LEFT_OUT, tied_by_default=True,
                      text_overrides={"final_logit_softcapping": None}),
    # Mistral-Small 3.1 / 3.2: a Mistral text model (head_dim 128 set apart) and a Pixtral
    # vision tower. Its config class ties by default where the published config.json names no
    # tying, and the files hold an LM head of their own, which differs: kept untied (_tied).
    # Ministral 3 (3B, 8B, 14B) and Devstral Small 2 wrap a Ministral 3 text model instead
    # (Mistral's block, queries scaled by position) in the same class and layout; Mistral
    # Small 4 a Mistral 4 mixture of experts (`mistral4`; its experts fused, as transformers
    # saves them: the published repository's FP8 weights are refused as any quantized ones).
    "mistral3": Wrapper("Mistral3ForConditionalGeneration",
                        "Mistral-Small 3.1 and 3.2, Ministral 3, Devstral Small 2, "
                        "Mistral Small 4",
                        ("mistral", "ministral3", "mistral4"), _LLAVA_RENAMES,
                        _LLAVA_LEFT_OUT, tied_by_default=True),
    # LLaVA-1.5 (a CLIP vision tower beside Vicuna v1.5: llava-hf/llava-1.5-7b-hf, -13b-hf) and
    # the LLaVA models built on other language models in the same class.
    "llava": Wrapper("LlavaForConditionalGeneration", "LLaVA-1.5 and other LLaVA models",
                     ("llama", "mistral", "qwen2"), _LLAVA_RENAMES, _LLAVA_LEFT_OUT,
                     tied_by_default=False, tied_by_text=True),
    # LLaVA-NeXT (1.6: llava-hf/llava-v1.6-vicuna-7b-hf, -13b, -mistral-7b, -34b): LLaVA's
    # layout and a learned `image_newline` vector between image rows, left out with the tower.
    "llava_next": Wrapper("LlavaNextForConditionalGeneration", "LLaVA-NeXT (1.6)",
                          ("llama", "mistral", "qwen2"), _LLAVA_RENAMES,
                          (*_LLAVA_LEFT_OUT, "image_newline", "model.image_newline"),
                          tied_by_default=False, tied_by_text=True),
    # InternVL 3 / 3.5 in transformers' own layout (OpenGVLab/InternVL3-8B-hf, ...; the
    # repositories without -hf ship code of their own, refused as any): LLaVA's layout with an
    # InternViT tower, beside a Qwen2, Qwen3 or LLaMA language model. Its config class ties by
    # default; an LM head of its own that differs stays untied (_tied).
    "internvl": Wrapper("InternVLForConditionalGeneration", "InternVL (-hf checkpoints)",
                        ("qwen2", "qwen3", "llama"), _LLAVA_RENAMES, _LLAVA_LEFT_OUT,
                        tied_by_default=True, tied_by_text=True),
    # GOT-OCR 2.0 in transformers' layout (stepfun-ai/GOT-OCR-2.0-hf; stepfun-ai/GOT-OCR2_0
    # ships code of its own, refused as any): LLaVA's layout with a SAM-style ViT and a
    # convolutional projector beside a Qwen2 language model; given text alone,
    # GotOcr2ForConditionalGeneration runs Qwen2Model and the LM head, as Qwen2ForCausalLM does.
    # Its config class ties by default (transformers 5 ties by the whole config's value alone);
    # an LM head of its own that differs stays untied (_tied).
    "got_ocr2": Wrapper("GotOcr2ForConditionalGeneration", "GOT-OCR 2.0 (-hf checkpoint)",
                        ("qwen2",), _LLAVA_RENAMES, _LLAVA_LEFT_OUT, tied_by_default=True),
    # Idefics3 and SmolVLM (HuggingFaceTB/SmolVLM-256M/500M-Instruct, SmolVLM2): a SigLIP
    # tower and a connector beside a LLaMA language model (SmolLM2's, Llama-3's).
    "idefics3": Wrapper("Idefics3ForConditionalGeneration", "Idefics3", ("llama",),
                        _IDEFICS3_RENAMES, _IDEFICS3_LEFT_OUT, tied_by_default=False,
                        tied_by_text=True),
    "smolvlm": Wrapper("SmolVLMForConditionalGeneration", "SmolVLM and SmolVLM2", ("llama",),
                       _IDEFICS3_RENAMES, _IDEFICS3_LEFT_OUT, tied_by_default=False,
                       tied_by_text=True),
    # Qwen2-VL and Qwen2.5-VL (2B-72B; Qwen/Qwen2.5-VL-7B-Instruct): a Qwen2 language model
    # beside a ViT (`visual.*`). The published files name the language model as Qwen2's
    # checkpoints do (`model.layers.*`), transformers 5's modules `model.language_model.*`;
    # the published config.json holds its settings at the top (no text_config). Tied where
    # the text config ties (where transformers 4 saved it; transformers 5 forwards it).
    "qwen2_vl": Wrapper("Qwen2VLForConditionalGeneration", "Qwen2-VL", ("qwen2",),
                        _QWEN_VL_RENAMES, _QWEN_VL_LEFT_OUT, tied_by_default=False,
                        tied_by_text=True, text_config_types={"qwen2_vl_text": "qwen2"},
                        text_at_top=True, multimodal_rope=True,
                        text_defaults=_QWEN2_VL_TEXT_DEFAULTS),
    "qwen2_5_vl": Wrapper("Qwen2_5_VLForConditionalGeneration", "Qwen2.5-VL", ("qwen2",),
                          _QWEN_VL_RENAMES, _QWEN_VL_LEFT_OUT, tied_by_default=False,
                          tied_by_text=True, text_config_types={"qwen2_5_vl_text": "qwen2"},
                          text_at_top=True, multimodal_rope=True,
                          text_defaults=_QWEN2_VL_TEXT_DEFAULTS),
    # Qwen3-VL (2B-32B dense): a Qwen3 language model (per-head q/k norms) beside a ViT whose
    # "DeepStack" features are added to the first blocks' hidden states where an image is.
    # Transformers 5 ties by the whole config's value only; a text config that ties a
    # checkpoint without an LM head of its own is kept tied all the same (_tied keeps an own
    # head that differs untied), not refused.
    "qwen3_vl": Wrapper("Qwen3VLForConditionalGeneration", "Qwen3-VL (dense)", ("qwen3",),
                        _QWEN_VL_RENAMES, _QWEN_VL_LEFT_OUT, tied_by_default=False,
                        tied_by_text=True, text_config_types={"qwen3_vl_text": "qwen3"},
                        multimodal_rope=True,
                        text_defaults=_QWEN3_VL_TEXT_DEFAULTS),
    # Cohere Compass (CohereLabs/North-Micro-Vision-Instruct): Qwen3-VL's layout and ViT (its
    # DeepStack features added to the first blocks' hidden states at image positions only)
    # around a Cohere Compass language model, whose text config is its own family's
    # (cohere_compass_text: its rotation by layer type kept, M-RoPE's sections too, as that
    # class reads them; on text they rotate as one axis); logits times the text config's
    # logit_scale in both classes. Tied as Qwen3-VL's.
    "cohere_compass": Wrapper("CohereCompassForConditionalGeneration",
                              "Cohere Compass (North-Micro-Vision)", ("cohere_compass_text",),
                              _QWEN_VL_RENAMES, _QWEN_VL_LEFT_OUT, tied_by_default=False,
                              tied_by_text=True),
    # Llama 4 Scout and Maverick (meta-llama/Llama-4-Scout-17B-16E(-Instruct),
    # -Maverick-17B-128E(-Instruct)): a Llama 4 mixture of experts beside a vision tower and
    # the projector of its features; given text alone, Llama4ForConditionalGeneration runs
    # Llama4ForCausalLM of its text_config and nothing else. Untied (its config class's
    # default and the published configs'; an LM head of its own).
    "llama4": Wrapper("Llama4ForConditionalGeneration", "Llama 4 Scout and Maverick",
                      ("llama4_text",), _LLAMA4_RENAMES, _LLAMA4_LEFT_OUT,
                      tied_by_default=False),
    # Qwen3.5 (Qwen/Qwen3.5-27B and the other dense ones) and Qwen3.5-MoE (Qwen/Qwen3.5-35B-A3B,
    # -122B-A10B, -397B-A17B): Qwen3-VL's layout (`model.language_model.*` beside the ViT's
    # `model.visual.*`, `lm_head.*`) around a Qwen3.5 language model, whose text config is its
    # own family's (qwen3_5_text, qwen3_5_moe_text: M-RoPE's sections kept, as that class
    # reads them; on text they rotate as one axis), and a multi-token-prediction layer
    # (`mtp.*`) that neither Qwen3_5ForConditionalGeneration nor Qwen3_5ForCausalLM builds
    # (both ignore it on loading, and the config's mtp_* keys): left out with the tower, its
    # text config then saying it holds no such layer (mtp_num_hidden_layers 0: an engine that
    # reads the key, for speculative decoding, would look for the layers' weights). Tied as
    # Qwen3-VL's.
    "qwen3_5": Wrapper("Qwen3_5ForConditionalGeneration", "Qwen3.5 (dense)", ("qwen3_5_text",),
                       _QWEN_VL_RENAMES, (*_QWEN_VL_LEFT_OUT, "mtp."),
                       tied_by_default=False, tied_by_text=True,
                       text_overrides={"mtp_num_hidden_layers": 0}),
    "qwen3_5_moe": Wrapper("Qwen3_5MoeForConditionalGeneration", "Qwen3.5-MoE",
                           ("qwen3_5_moe_text",), _QWEN_VL_RENAMES,
                           (*_QWEN_VL_LEFT_OUT, "mtp."), tied_by_default=False,
                           tied_by_text=True, text_overrides={"mtp_num_hidden_layers": 0}),
    # Qwen4-Exp (qwen4_exp, Qwen4ExpForConditionalGeneration, transformers 5.23 on): Qwen3.5-
    # MoE's layout around a Qwen4-Exp language model (qwen4_exp_text); given text alone,
    # Qwen4ExpModel hands its language model the token ids for the per-layer embeddings and
    # text positions, as Qwen4ExpForCausalLM computes them. Its text config says nothing of a
    # multi-token-prediction layer; one `mtp.*` would be left out as Qwen3.5's. Tied as
    # Qwen3.5's.
    "qwen4_exp": Wrapper("Qwen4ExpForConditionalGeneration", "Qwen4-Exp",
                         ("qwen4_exp_text",), _QWEN_VL_RENAMES, (*_QWEN_VL_LEFT_OUT, "mtp."),
                         tied_by_default=False, tied_by_text=True),
    # Gemma 4 (E2B, E4B, 31B, 26B-A4B): given text alone, Gemma4ForConditionalGeneration runs
    # its Gemma4TextModel and LM head with the text config's final soft cap, as
    # Gemma4ForCausalLM does; its text_config's use_bidirectional_attention "vision" makes
    # image tokens attend both ways and text causally, as the text class attends.
    "gemma4": Wrapper("Gemma4ForConditionalGeneration", "Gemma 4 (E2B, E4B, 31B, 26B-A4B)",
                      ("gemma4_text",), _GEMMA4_RENAMES, _GEMMA4_LEFT_OUT,
                      tied_by_default=True, causal_on_text=("vision",)),
    # Gemma 4 12B (unified: google/gemma-4-12B(-it)): Gemma 4's layout (model.language_model.*)
    # with no vision or audio tower, only embedders of raw patches and waveform frames
    # (model.embed_audio.*, model.embed_vision.*: its patch layers saved as
    # model.vision_embedder.*, transformers' conversion mapping); given text alone
    # Gemma4UnifiedForConditionalGeneration runs its Gemma4UnifiedTextModel and LM head with
    # the text config's final soft cap, as Gemma4UnifiedForCausalLM does, causally on text.
    "gemma4_unified": Wrapper("Gemma4UnifiedForConditionalGeneration", "Gemma 4 12B (unified)",
                              ("gemma4_unified_text",), _GEMMA4_RENAMES,
                              (*_GEMMA4_LEFT_OUT, "model.vision_embedder."),
                              tied_by_default=True, causal_on_text=("vision",)),
    # Gemma 3n (E2B, E4B): Gemma 4's layout (model.language_model.*, a vision tower, an
    # audio tower and their embedders); given text alone (ids below the vision embedder's
    # vocab_offset, the soft tokens') Gemma3nForConditionalGeneration runs its
    # Gemma3nTextModel on the language model's embeddings and per-layer inputs and the LM
    # head with the text config's final soft cap, as Gemma3nForCausalLM does.
    "gemma3n": Wrapper("Gemma3nForConditionalGeneration", "Gemma 3n (E2B, E4B)",
                       ("gemma3n_text",), _GEMMA4_RENAMES, _GEMMA4_LEFT_OUT,
                       tied_by_default=True),
    # Emu3 (BAAI/Emu3-Chat-hf, Emu3-Gen-hf): an Emu3 language model (LLaMA's block) beside the
    # VQ-VAE image tokenizer (`vqmodel.*`), whose codes are tokens of the language model's own
    # vocabulary (the embedding's and the LM head's rows, all kept). The hub's files name the
    # language model `text_model.model.*` and `text_model.lm_head.*` (transformers 4's
    # modules, which transformers 5 still writes), transformers 5's modules
    # `model.text_model.*` and `lm_head.*`; given text alone, Emu3ForConditionalGeneration
    # runs Emu3TextModel and the LM head, as Emu3ForCausalLM does. Untied (its config class's
    # default and the published text config's). (AutoModelForCausalLM builds Emu3ForCausalLM
    # of such a checkpoint's text_config but loads none of its tensors, under other names.)
    "emu3": Wrapper("Emu3ForConditionalGeneration", "Emu3 (Emu3-Chat-hf, Emu3-Gen-hf)",
                    ("emu3_text_model",),
                    (("text_model.model.", "model."), ("text_model.lm_head.", "lm_head."),
                     ("model.text_model.", "model."), ("lm_head.", "lm_head.")),
                    ("vqmodel.", "model.vqmodel."), tied_by_default=False),
    # Llama 3.2 Vision (meta-llama/Llama-3.2-11B-Vision(-Instruct), -90B-Vision(-Instruct)):
    # a vision model and its projector beside the language model (MllamaTextModel, its
    # cross-attention blocks kept: mllama_text_model), named `language_model.model.*` and
    # `language_model.lm_head.*` in the hub's files, `model.language_model.*` and `lm_head.*`
    # in transformers 5's modules. Given text alone, MllamaForConditionalGeneration runs its
    # language model without cross-attention states, as MllamaForCausalLM does. Never tied.
    "mllama": Wrapper("MllamaForConditionalGeneration", "Llama 3.2 Vision (11B, 90B)",
                      ("mllama_text_model",),
                      (*_LLAMA4_RENAMES, ("model.language_model.", "model."),
                       ("lm_head.", "lm_head.")),
                      (*_LLAMA4_LEFT_OUT, "model.vision_model.", "model.multi_modal_projector."),
                      tied_by_default=False),
    # MiniMax-M3 (MiniMaxM3SparseForConditionalGeneration): a MiniMax-M3 language model
    # beside a ViT (`vision_tower.*`), its projector and the merge MLP of its patches
    # (`patch_merge_mlp.*`), in LLaVA's layout as transformers saves it (and publishes it:
    # its experts, MLPs and indexers under their published names, fused and renamed once
    # after, as the text family's: checkpoint.moe_fuse); untied.
    "minimax_m3_vl": Wrapper("MiniMaxM3SparseForConditionalGeneration", "MiniMax-M3",
                             ("minimax_m3_vl_text",), _LLAVA_RENAMES,
                             (*_LLAVA_LEFT_OUT, "patch_merge_mlp."), tied_by_default=False),
    # Fuyu (adept/fuyu-8b): a Persimmon language model beside the linear embedding of the
    # image patches (`vision_embed_tokens.*`), in LLaVA's layout (the hub's and transformers 5's
    # names alike); given text alone FuyuForCausalLM runs PersimmonModel on the token
    # embeddings and its LM head, as PersimmonForCausalLM does. The published config.json is
    # flat (transformers 4.35's: no text_config), its text settings at the top, read as
    # transformers 4 read them (FuyuConfig forwarded every one, rope_theta, rope_scaling and
    # partial_rotary_factor too): transformers 5.25 forwards the rotary base but not
    # partial_rotary_factor (0.5 always, as published), 5.17 neither (a base of 10000 where
    # 25000 is published). A text_config without a rotary base was saved by transformers 4
    # (5.17 and 5.25 write its rope_parameters), which left out PersimmonConfig's default
    # then, 25000; transformers 5 reads 10000. So the kept text config states the base the model was
    # trained with (_FUYU_TEXT_DEFAULTS). Untied (its config class's default and the
    # published config's).
    "fuyu": Wrapper("FuyuForCausalLM", "Fuyu-8B", ("persimmon",), _LLAVA_RENAMES,
                    ("vision_embed_tokens.", "model.vision_embed_tokens."),
                    tied_by_default=False, text_at_top=True,
                    text_defaults=_FUYU_TEXT_DEFAULTS),
    # MOSS-Transcribe-Diarize (hf-audio/MOSS-Transcribe-Diarize-HF; transformers 5.20 on has
    # its class): a Qwen3 language model (transformers' AutoModel of its text_config) beside a
    # Whisper-like audio encoder and the projector of its merged frames, as transformers 5
    # names and saves them; given text alone (no input_features), the whole model runs the
    # language model on the token embeddings and its LM head, as Qwen3ForCausalLM does. Tied
    # by its config class's default.
    "moss_transcribe_diarize": Wrapper("MossTranscribeDiarizeForConditionalGeneration",
                                       "MOSS-Transcribe-Diarize", ("qwen3",), _GEMMA4_RENAMES,
                                       ("model.audio_tower.", "model.multi_modal_projector."),
                                       tied_by_default=True),
    # Phi-4-multimodal (microsoft/Phi-4-multimodal-instruct in transformers' layout: its
    # revision refs/pr/70, or a save_pretrained of Phi4MultimodalForCausalLM): Phi-4-mini's
    # decoder, a Phi-3 one, its settings at the config's top beside vision_config and
    # audio_config. Its vision and speech LoRA adapters are no part of these weights (PEFT
    # adapters in the repository's vision-lora/ and speech-lora/ folders, which a download
    # leaves out as any folder): given text alone, Phi4MultimodalForCausalLM runs the decoder
    # without them (its embed_tokens_extend changes no text token's embedding), as
    # Phi3ForCausalLM does. (The repository's own code, model_type phi4mm, is refused:
    # param_count.UNTAKEN_WRAPPERS.)
    "phi4_multimodal": Wrapper("Phi4MultimodalForCausalLM", "Phi-4-multimodal", ("phi3",),
                               _PHI4_MM_RENAMES, ("model.embed_tokens_extend.",),
                               tied_by_default=False, text_at_top=True,
                               text_defaults=_PHI4_MM_TEXT_DEFAULTS),
}

# What a wrapper's config holds for the whole model that its language model's config repeats;
# the transformers version that saved it decides how transformers loads its tokenizer
# (modeling.tokenizer_options).
_DTYPE_KEYS = ("torch_dtype", "dtype")
_WHOLE_MODEL_KEYS = (*_DTYPE_KEYS, "bos_token_id", "eos_token_id", "pad_token_id",
                     "transformers_version")


def wrapper_of(raw: Any) -> Wrapper | None:
    """The wrapper a config.json's values describe, or None for any other model (or values
    that are no object)."""
    return WRAPPERS.get(raw.get("model_type") or "") if isinstance(raw, dict) else None


def taken_apart(raw: Any) -> Wrapper | None:
    """The wrapper whose language model prunebench keeps of a checkpoint with this config.json:
    None for one that names code of its own (refused, as any model naming code is)."""
    return None if isinstance(raw, dict) and "auto_map" in raw else wrapper_of(raw)


def text_config_values(raw: dict[str, Any], where: str = "config.json") -> dict[str, Any]:
    """The config.json values of the language model inside the wrapper `raw` describes (module
    docstring); refused with what to do when it holds no text config of the expected family."""
    from prunebench.checkpoint.param_count import CONFIG_DEFAULTS, with_boolean_flags

    wrapper = WRAPPERS[raw["model_type"]]
    text = raw.get("text_config")
    if text is None and wrapper.text_at_top:
        text = {k: v for k, v in raw.items() if k not in _NOT_TEXT_AT_TOP
                and not k.startswith(_OTHER_MODALITY_PREFIXES)}
    if not isinstance(text, dict):
        raise PrunebenchError(
            f"{where} describes a {raw['model_type']} model without a text_config object: "
            "re-download the checkpoint, or save it again with save_pretrained; its language "
            "model's settings are missing")
    kind = text.get("model_type") or wrapper.text_model_types[0]
    kind = wrapper.text_config_types.get(kind, kind)
    if kind not in wrapper.text_model_types:
        raise PrunebenchError(
            f"{where}: the {raw['model_type']} model's language model is {kind!r}: prunebench "
            f"takes out only the {' or '.join(map(repr, wrapper.text_model_types))} language "
            f"model of {wrapper.published} ({wrapper.model_class}), and their fine-tunes; a "
            f"{kind!r} one is not supported")
    if text.get("use_bidirectional_attention") and (
            text["use_bidirectional_attention"] not in wrapper.causal_on_text):
        # The multimodal class ignores it on text (and halves the sliding windows for it); the
        # text class would attend both ways: no text checkpoint computes what the whole does.
        raise PrunebenchError(
            f"{where}: its text_config sets use_bidirectional_attention (an embedding model's "
            "setting), which the multimodal model and a text model apply differently: "
            "prunebench prunes and times causal language models; use a checkpoint without it")
    values = {k: v for k, v in text.items() if k not in ("architectures", "auto_map")}
    if any(k in raw for k in _DTYPE_KEYS):  # one dtype, the whole model's
        for key in _DTYPE_KEYS:
            values.pop(key, None)
    # (a token id the language model has no embedding for is the wrapper's alone: Idefics3's
    # config class pads with 128002, SmolVLM's vocabulary has 49,280 tokens, and an embedding
    # cannot pad with a row it lacks)
    vocab_size = text.get("vocab_size", wrapper.text_defaults.get(
        "vocab_size", CONFIG_DEFAULTS.get(kind, {}).get("vocab_size")))
    for key in _WHOLE_MODEL_KEYS:
        value = _in_vocabulary(raw[key], vocab_size) if key in raw else _NONE_LEFT
        if value is not _NONE_LEFT:
            values[key] = value
    tied = raw.get("tie_word_embeddings", wrapper.tied_by_default)
    if wrapper.tied_by_text and tied is False and text.get("tie_word_embeddings") is True:
        tied = True  # (any other value is the config class's to accept or refuse)
    values["tie_word_embeddings"] = tied
    values.update(wrapper.text_overrides)
    ropes = [values[key] for key in ("rope_parameters", "rope_scaling")
             if isinstance(values.get(key), dict)]
    for key, default in wrapper.text_defaults.items():
        if key != "rope_theta" or not any("rope_theta" in rope for rope in ropes):
            values.setdefault(key, default)
    values["model_type"] = kind
    values = with_boolean_flags(values)  # (Llama-4-Scout's attn_temperature_tuning 4: true)
    if wrapper.multimodal_rope:
        for key in ("rope_parameters", "rope_scaling"):
            if isinstance(values.get(key), dict):
                values[key] = _single_axis_rope(values[key])
    return values


_NONE_LEFT = object()


def _in_vocabulary(value: Any, vocab_size: Any) -> Any:
    """A token id, or a list of them (as eos_token_id may be), without the ids the vocabulary
    lacks; _NONE_LEFT where none is left. Any other value passes as it is."""
    def known(token):
        return not isinstance(token, int) or not isinstance(vocab_size, int) or (
            0 <= token < vocab_size)

    if isinstance(value, list):
        ids = [token for token in value if known(token)]
        return ids if ids or not value else _NONE_LEFT
    return value if known(value) else _NONE_LEFT


def _single_axis_rope(rope: dict[str, Any]) -> dict[str, Any]:
    """M-RoPE's rotary settings as the text family's: the same frequencies (type, base,
    scaling), without the sections (`{"type": "mrope", "mrope_section": [16, 24, 24]}` in
    Qwen2.5-VL's published config is the default rotation)."""
    rope = {k: v for k, v in rope.items() if k not in _MROPE_KEYS}
    kind = rope.get("rope_type", rope.pop("type", None))  # (`type`: transformers 4's name)
    rope["rope_type"] = "default" if kind in (None, "mrope") else kind
    return rope


def _text_name(wrapper: Wrapper, name: str, file: Path) -> str | None:
    """The text checkpoint's name of the wrapper's tensor `name`, None for a tensor left out;
    a name of neither kind is refused (another layout, whose tensors could be lost)."""
    for old, new in wrapper.renames:
        if name.startswith(old):
            return new + name.removeprefix(old)
    if name.startswith(wrapper.left_out):
        return None
    raise PrunebenchError(
        f"{file}: tensor {name!r} is neither the language model's nor the vision tower's or "
        f"projector's in a {wrapper.model_class} checkpoint, a layout prunebench does not know "
        "(nothing was changed): use the published checkpoint, or a fine-tune saved with "
        "transformers' save_pretrained")


def take_text_part(folder: str | Path, hash_sources: bool = False) -> bool:
    """If `folder` holds a multimodal checkpoint of a known wrapper, turn it into its language
    model's text-only checkpoint in place (module docstring); True if it did. `hash_sources`:
    record the sha256 of the files it replaces (an import's, so that the workflow can tell a
    source file that was only touched from one that changed)."""
    import json

    from prunebench.atomic import atomic_path, read_json_or_none, write_json
    from prunebench.checkpoint.integrity import SAFETENSORS_INDEX, sha256_files, weight_files
    from prunebench.checkpoint.param_count import checked_config_json

    folder = Path(folder)
    raw = read_json_or_none(folder / "config.json")
    wrapper = wrapper_of(raw)
    if wrapper is None:
        _delete_originals(folder)  # an extraction that ended before deleting them
        return False
    # Everything the start refuses (quantized weights, code of its own, bad shapes) and every
    # value the text config class refuses stops here, before any file changes.
    values = checked_config_json(folder, text_part=True)
    _require_valid(values, folder)
    originals = [f for f in weight_files(folder) if not _is_text_shard(f.name)]
    if not originals:  # a previous run wrote the index; its shards are complete (written first)
        originals = sorted(f for f in folder.glob("*.safetensors") if not _is_text_shard(f.name))
    kept, left_out = _sorted_tensors(wrapper, originals)
    if not kept:
        raise PrunebenchError(f"{folder}: no tensor of the language model in its weights: "
                              "re-download the checkpoint, or save it again with save_pretrained")
    values["tie_word_embeddings"] = _tied(values["tie_word_embeddings"], kept, folder,
                                          stated="tie_word_embeddings" in raw)
    # Text shards an interrupted run wrote are kept only if made from these very files (a
    # download of a branch that moved since brings others).
    state = {f.name: [f.stat().st_size, f.stat().st_mtime_ns] for f in originals}
    if read_json_or_none(folder / PROGRESS) != state:
        for stale in folder.glob("model-text-*.safetensors"):
            stale.unlink()
        write_json(folder / PROGRESS, state)
    replaced = [folder / "config.json", *originals]
    if (_indexed(folder) or set()) & {f.name for f in originals}:  # the wrapper's index: replaced
        replaced.append(folder / SAFETENSORS_INDEX)
    sources = sha256_files(replaced) if hash_sources else None
    shards = {file: TEXT_SHARD.format(i, len(kept)) for i, file in enumerate(kept, start=1)}
    weight_map, total = _write_text_shards(kept, shards, folder)
    write_json(folder / RECORD, {
        "taken_from": wrapper.model_class, "model_type": raw["model_type"],
        "text_model_type": values["model_type"],
        "original_weight_files": sorted(f.name for f in originals),
        "text_weight_files": sorted(shards.values()),
        "left_out": {**left_out, "prefixes": list(wrapper.left_out)},
        "text_config_overrides": wrapper.text_overrides,
        **({"source_sha256": sources} if sources is not None else {})})
    write_json(folder / SAFETENSORS_INDEX, {"metadata": {"total_size": total},
                                            "weight_map": dict(sorted(weight_map.items()))})
    with atomic_path(folder / "config.json") as tmp:
        tmp.write_text(json.dumps({"architectures": [_text_class(values)], **values}, indent=2)
                       + "\n", encoding="utf-8")
    _delete_originals(folder)
    log.info("%s: kept the %s language model of this %s (%d tensors of the vision tower and "
             "projector, %d parameters, left out)", folder, values["model_type"],
             wrapper.model_class, left_out["tensors"], left_out["parameters"])
    return True


def _sorted_tensors(wrapper: Wrapper, originals: list[Path]):
    """Each original file's language-model tensors with their new names ({file: {name: text
    name}}), and the count of the tensors and parameters left out; names only, nothing loaded,
    so an unknown layout stops here before any file changes."""
    from safetensors import safe_open

    kept: dict[Path, dict[str, str]] = {}
    left_out = {"tensors": 0, "parameters": 0}
    for file in originals:
        with safe_open(file, framework="pt") as handle:
            for name in handle.keys():
                text_name = _text_name(wrapper, name, file)
                if text_name is None:
                    left_out["tensors"] += 1
                    left_out["parameters"] += _numel(handle.get_slice(name).get_shape())
                else:
                    kept.setdefault(file, {})[name] = text_name
    return kept, left_out


def _write_text_shards(kept: dict[Path, dict[str, str]], shards: dict[Path, str],
                       folder: Path) -> tuple[dict[str, str], int]:
    """One text shard per original file that holds language-model tensors (one original in
    memory at a time; a shard an earlier run wrote whole is kept); the index's weight map and
    total size."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    from prunebench.atomic import atomic_path

    weight_map, total = {}, 0
    for file, names in kept.items():
        target = folder / shards[file]
        with safe_open(file, framework="pt") as handle:
            for name, text_name in names.items():
                weight_map[text_name] = shards[file]
                total += _nbytes(handle.get_slice(name))
            if target.is_file():  # written whole (by rename) from these files by an earlier run
                continue
            tensors = {text_name: handle.get_tensor(name) for name, text_name in names.items()}
        with atomic_path(target) as tmp:
            save_file(tensors, str(tmp), metadata={"format": "pt"})
        del tensors
    return weight_map, total


def finished(folder: str | Path) -> bool:
    """Whether `folder` holds a finished extraction: config.json the text model's, and the
    index naming exactly the shards the extraction wrote, all there."""
    from prunebench.atomic import read_json_or_none

    folder = Path(folder)
    raw = read_json_or_none(folder / "config.json")
    record = read_json_or_none(folder / RECORD)
    return (isinstance(raw, dict) and wrapper_of(raw) is None and isinstance(record, dict)
            and _indexed(folder) == set(record.get("text_weight_files") or ())
            and all((folder / name).is_file() for name in record["text_weight_files"]))


def _require_valid(values: dict[str, Any], folder: Path) -> None:
    """Build the text family's config from `values`: a value transformers refuses is said now,
    with the folder, rather than by every job that loads the model later."""
    from prunebench.modeling import config_class

    try:
        config_class(values["model_type"])(**values)
    except Exception as err:  # noqa: BLE001 - transformers' validation errors vary by version
        raise PrunebenchError(
            f"{folder / 'config.json'}: its language model's settings are not valid for "
            f"{values['model_type']} ({type(err).__name__}: {err}): re-download the checkpoint, "
            "or save it again with save_pretrained") from None


def _tied(tied: bool, kept: dict[Path, dict[str, str]], folder: Path, stated: bool) -> bool:
    """Whether the text model ties its LM head to the embedding: as the config says, except
    that an LM head of its own that differs from the embedding is kept untied (as transformers
    5 loads such a checkpoint, and as transformers 4 did for a text config that unties it)."""
    from safetensors import safe_open

    where = {text: (file, name) for file, names in kept.items() for name, text in names.items()}
    if "lm_head.weight" not in where:
        if not tied:
            raise PrunebenchError(
                f"{folder}: its config.json unties the LM head from the embedding, and its "
                "weights hold no LM head: re-download the checkpoint, or save it again with "
                "save_pretrained")
        return True
    if not tied or "model.embed_tokens.weight" not in where:
        return tied

    def tensor(text_name: str):
        file, name = where[text_name]
        with safe_open(file, framework="pt") as handle:
            return handle.get_tensor(name)

    if tensor("lm_head.weight").equal(tensor("model.embed_tokens.weight")):
        return True
    # (published Mistral-Small checkpoints: their config names no tying, their class's
    # default ties; a config that says so is worth a warning)
    (log.warning if stated else log.info)(
        "%s: its LM head differs from the embedding although %s: kept untied, as "
        "transformers loads it", folder,
        "its config ties them" if stated else "its config class ties them by default")
    return False


def _text_class(values: dict[str, Any]) -> str:
    from prunebench.checkpoint.param_count import FAMILIES

    return FAMILIES[values["model_type"]].model_class


def _indexed(folder: Path) -> set[str] | None:
    """The weight files the folder's index names, None without a readable index (read as it
    is: the loader's check would warn of the files beside them, which an extraction deletes
    next)."""
    from prunebench.checkpoint.integrity import _indexed_shards

    try:
        names = _indexed_shards(folder)
    except PrunebenchError:
        return None
    return None if names is None else set(names)


def _delete_originals(folder: Path) -> None:
    """Delete the wrapper's weight files once the folder is the finished text checkpoint the
    extraction's record describes (the last step of `take_text_part`, redone if a run ended
    before it). Nothing the index names is deleted, nor anything in a folder the record does
    not describe (a text_part.json copied into another checkpoint's folder)."""
    from prunebench.atomic import read_json_or_none

    if not finished(folder):
        return
    named = _indexed(folder) or set()
    for name in read_json_or_none(folder / RECORD).get("original_weight_files") or ():
        if isinstance(name, str) and Path(name).name == name and name not in named:
            (folder / name).unlink(missing_ok=True)
    (folder / PROGRESS).unlink(missing_ok=True)


def own_file(name: str) -> bool:
    """Whether `name` is a file an extraction writes (a text shard, its record), or a fusion of
    a mixture of experts' per-expert weights (checkpoint.moe_fuse): not one of the download's,
    which a rerun of the download must not take for another commit's and delete."""
    from prunebench.checkpoint import moe_fuse

    return _is_text_shard(name) or name == RECORD or moe_fuse.own_file(name)


def _is_text_shard(name: str) -> bool:
    return name.startswith("model-text-") and name.endswith(".safetensors")


def _numel(shape) -> int:
    count = 1
    for size in shape:
        count *= size
    return count


_DTYPE_BYTES = {"F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2,
                "I16": 2, "U16": 2, "I8": 1, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}


def _nbytes(tensor_slice) -> int:
    return _numel(tensor_slice.get_shape()) * _DTYPE_BYTES.get(tensor_slice.get_dtype(), 4)
