"""What prunebench refuses of a model type whatever its config says, and why: a transformers
release older than the family's (`RELEASE_REASONS`, `transformers_release_problem`), a dtype its
class cannot run (`FLOAT16_REASONS`), published quantized weights (`QUANTIZED_AS_PUBLISHED`,
`FP8_PUBLISHED`: those an import dequantizes), multimodal wrappers it does not take apart and
drafters (`UNTAKEN_WRAPPERS`, `DRAFTERS`).
"""

from __future__ import annotations

import functools

from typing import Any

from prunebench import FamilyUnsupported

from .families import FAMILIES


# The families whose published checkpoints hold block-quantized FP8 weights (an e4m3 `X.weight`
# beside its float32 `X.weight_scale_inv`; config.json's quantization_config `quant_method:
# fp8`), which a download or an import dequantizes once to bfloat16 (checkpoint.moe_fuse): by
# model_type, the published repository. DeepSeek-V3.2's indexer is quantized alike (its wq_b and
# wk in FP8 with their weight_scale_inv; its weights_proj and k_norm in bfloat16, as published).
# A.X K2 and MiMo-V2-Flash leave some linear weights in bfloat16 without a scale (A.X K2's gated
# norms' W_down / W_up, MiMo-V2-Flash's o_proj: their quantization_config's
# modules_to_not_convert), kept as they are.
FP8_PUBLISHED = {"deepseek_v3": "deepseek-ai/DeepSeek-V3", "minimax_m2": "MiniMaxAI/MiniMax-M2",
                 "deepseek_v32": "deepseek-ai/DeepSeek-V3.2", "axk2": "skt/A.X-K2",
                 "mimo_v2_flash": "XiaomiMiMo/MiMo-V2-Flash"}

# Published quantized checkpoints refused with what is known of them, by model_type: what the
# config.json describes ({kind}: its quantization_config and method), why, and what to use.
QUANTIZED_AS_PUBLISHED = {
    # microsoft/bitnet-b1.58-2B-4T: ternary weights packed four to a byte (uint8) with a scale
    # each, which transformers' BitNet quantizer unpacks into its own AutoBitLinear layers;
    # pruning rewrites weights, which packed ternary values cannot hold.
    "bitnet": (
        "a BitNet checkpoint of packed ternary weights ({kind}), as "
        "microsoft/bitnet-b1.58-2B-4T publishes it: prunebench prunes and times full-precision "
        "weights, which a prune rewrites and packed ternary values cannot hold. Use the "
        "bfloat16 master weights Microsoft publishes beside it "
        "(hf:microsoft/bitnet-b1.58-2B-4T-bf16@<commit>)"),
    # deepseek-ai's published DeepSeek-V4 weights: not dequantized on import (docs/families.md,
    # "DeepSeek-V4 under depth pruning": what is not confirmed here).
    "deepseek_v4": (
        "DeepSeek-V4 as deepseek-ai publishes it ({kind}: FP8 linear weights, experts in FP4 "
        "by expert_dtype), which prunebench does not import: its tensors are under its "
        "reference code's names (layers.N.attn.wq_a, ffn.experts.E.w1, hc_attn_fn, ...), "
        "which transformers' deepseek_v4 conversion renames as it loads them and prunebench's "
        "import does not, and the FP4 experts' storage (two e2m1 values a byte, a scale per 32 "
        "columns of a row, as transformers reads it) was not confirmed against a published "
        "file. Load it with transformers (DeepseekV4ForCausalLM, transformers 5.24 or later, "
        "dequantized) and save it with save_pretrained in bfloat16: prunebench reads that "
        "folder"),
}

# Multimodal model types whose language model is a family prunebench supports but which it does
# not take apart (checkpoint.text_part), by model_type: why, and what to use instead.
UNTAKEN_WRAPPERS = {
    "dots3_note": (
        "Dots Studio's Dots 3 Note (Dots3NoteForConditionalGeneration): a Dots 3 Note language "
        "model (dots3_note_text) beside vision and audio encoders, its config.json holding the "
        "language model's values at its top level (no text_config) and its published tensors "
        "in a layout prunebench has not seen (its experts, a multi-token-prediction layer "
        "after the blocks), so prunebench does not take the language model out as it does "
        "other multimodal checkpoints'. Load the language model with transformers "
        "(AutoModelForCausalLM builds Dots3NoteForCausalLM for it) and save it with "
        "save_pretrained: prunebench reads the folder it writes (model_type dots3_note_text)"),
    "inkling_mm_model": (
        "Thinking Machines' Inkling (InklingForConditionalGeneration): an Inkling language "
        "model (inkling_text) beside vision and audio towers, its published tensors in a "
        "layout of their own (model.llm.*, each block's projections under other names, its "
        "experts' and MLPs' gate and up rows interleaved in one tensor), so prunebench does "
        "not take the language model out as it does other multimodal checkpoints'. Load it "
        "with transformers (InklingForConditionalGeneration converts the tensors), build "
        "InklingForCausalLM of its text_config holding model.language_model's weights under "
        "model. and its lm_head, and save that with save_pretrained: prunebench reads the "
        "folder it writes (model_type inkling_text)"),
    "inkling2": (
        "Thinking Machines' Inkling 2 (Inkling2ForConditionalGeneration): an Inkling 2 "
        "language model (inkling2_text) beside a vision tower, its published tensors in a "
        "layout of their own (model.llm.*, each block's projections under other names, its "
        "experts' gate and up rows interleaved in one tensor and quantized to MXFP8), so "
        "prunebench does not take the language model out as it does other multimodal "
        "checkpoints'. Load it with transformers (Inkling2ForConditionalGeneration converts "
        "the tensors) unquantized, build Inkling2ForCausalLM of its text_config holding "
        "model.language_model's weights under model. and its lm_head, and save that with "
        "save_pretrained: prunebench reads the folder it writes (model_type inkling2_text)"),
    "phi4mm": (
        "Microsoft's Phi-4-multimodal as its own code has it (Phi4MMForCausalLM: "
        "microsoft/Phi-4-multimodal-instruct's main branch), its vision and speech LoRA "
        "adapters inside the language model's projections (base_layer, lora_A, lora_B), a "
        "layout no transformers class reads, and prunebench never runs a checkpoint's code. "
        "Transformers' layout of the same model (phi4_multimodal, "
        "Phi4MultimodalForCausalLM; the adapters apart, which text does not use) is published "
        "at the repository's revision refs/pr/70: use "
        "hf:microsoft/Phi-4-multimodal-instruct@<that revision's commit> (prunebench keeps its "
        "language model, a Phi-3 one, model_type phi3), or convert a copy with transformers' "
        "convert_phi4_multimodal_weights_to_hf.py and import that folder")}


# Gemma 4's drafter models for assisted (speculative) decoding: decoders of Gemma 4's blocks
# that run only inside a target model's generate (docs/families.md, "Gemma 4's assistants").
_DRAFTER = (
    "{name}, a drafter for assisted decoding with a {target} target model, not a language "
    "model of its own: each of its blocks reads the target's keys and values "
    "(num_kv_shared_layers = num_hidden_layers: no k_proj or v_proj), its input is the "
    "target's last hidden state beside a token's embedding (pre_projection of twice "
    "backbone_hidden_size), its output is projected back to the target's width "
    "(post_projection) and its logits may be scored over num_centroids centroids of the "
    "vocabulary (use_ordered_embeddings); its forward refuses to run without the target's "
    "shared_kv_states, so there is no perplexity, generation or block score of it alone to "
    "measure. Prune and benchmark its target model instead")
DRAFTERS = {
    "gemma4_assistant": _DRAFTER.format(
        name="Gemma 4's assistant (Gemma4AssistantForCausalLM, google/gemma-4-*-assistant)",
        target="Gemma 4 (gemma4, gemma4_text)"),
    "gemma4_unified_assistant": _DRAFTER.format(
        name="Gemma 4 12B's assistant (Gemma4UnifiedAssistantForCausalLM)",
        target="Gemma 4 12B (gemma4_unified, gemma4_unified_text)")}


def untaken_wrapper(model_type: str | None) -> str | None:
    """Why prunebench refuses a multimodal model type of `UNTAKEN_WRAPPERS` or a drafter of
    `DRAFTERS`, with what to do; None for any other type."""
    why = UNTAKEN_WRAPPERS.get(model_type or "") or DRAFTERS.get(model_type or "")
    return f"model_type {model_type!r} is not supported: it is {why}" if why else None


@functools.cache
def installed_transformers() -> str | None:
    """The installed transformers' release, from its package metadata (transformers is not
    imported: the start's checks run without it); None where none is installed. Read once a
    process: each lookup scans sys.path and parses the METADATA file (3-7 ms), and loading or
    decoding a model asks several times (sdpa_not_causal, the static-cache checks)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("transformers")
    except PackageNotFoundError:
        return None


# The first transformers release whose GPTNeoXJapaneseRotaryEmbedding builds the frequencies
# of the rotated part alone (rotary_pct of head_dim): 5.17's builds head_dim's, whose table
# does not fit a partly rotated head (its forward stops on the shapes).
GPT_NEOX_JAPANESE_PARTIAL_ROTARY = "5.18"


def gpt_neox_japanese_unbuilt(values: dict[str, Any]) -> str | None:
    """A GPT-NeoX-Japanese config.json (or built config) rotating part of each head
    (rotary_pct, or partial_rotary_factor in rope_parameters, below 1) where the installed
    transformers is older than 5.18 (`GPT_NEOX_JAPANESE_PARTIAL_ROTARY`), with what to do;
    None otherwise (and for other families)."""
    from packaging.version import Version

    if values.get("model_type") != "gpt_neox_japanese":
        return None
    rope = values.get("rope_parameters") or values.get("rope_scaling") or {}
    factor = values.get("rotary_pct", (rope if isinstance(rope, dict) else {}).get(
        "partial_rotary_factor", 1.0))
    installed = installed_transformers()
    if factor is None or factor >= 1 or installed is None or Version(installed) >= Version(
            GPT_NEOX_JAPANESE_PARTIAL_ROTARY):
        return None
    return (f"rotates {factor} of each head (rotary_pct) in a GPT-NeoX-Japanese model, which "
            f"transformers {installed} cannot run: its GPTNeoXJapaneseRotaryEmbedding builds "
            "the frequencies of the whole head, which do not fit the rotated part (fixed in "
            f"{GPT_NEOX_JAPANESE_PARTIAL_ROTARY}): upgrade transformers (`pip install -U "
            f"\"transformers>={GPT_NEOX_JAPANESE_PARTIAL_ROTARY}\"`)")


# The first transformers release whose DogeModel always builds its causal mask: 5.17's lets
# SDPA skip it (allow_is_causal_skip), and DogeAttention then passes SDPA its dynamic mask
# alone, so every token attends to later tokens; 5.17's eager attention builds the mask.
DOGE_SDPA_CAUSAL = "5.18"


def sdpa_not_causal(config) -> bool:
    """Whether transformers' SDPA attention runs this model without its causal mask: Doge
    where the installed transformers is older than `DOGE_SDPA_CAUSAL` (eager runs it as
    trained)."""
    from packaging.version import Version

    installed = installed_transformers()
    return (getattr(config, "model_type", None) == "doge" and installed is not None
            and Version(installed) < Version(DOGE_SDPA_CAUSAL))


# Why a family's `min_transformers` is a later release than its config class's first, by
# model_type (the message's words where they are not "its <class> came with that release").
RELEASE_REASONS = {"inkling2_text": "5.23's Inkling2ForCausalLM is another model (no "
                   "logarithmic scaling of its full blocks' queries and relative states past "
                   "log_scaling_n_floor, a head of vocab_size rows, its projections under "
                   "other names) and 5.24's generate with a static cache fails on its "
                   "windowed blocks",
                   "deepseek_v4": "5.17 to 5.23 have DeepseekV4Config but build its "
                   "hyper-connections, norms, sinks and compressors' position biases in the "
                   "model's dtype, which 5.24 keeps in float32 (a bfloat16 model's logits "
                   "differ), and 5.17 to 5.19 return its norms in float32",
                   "inkling_text": "5.17 to 5.22 route its experts in the model's dtype, "
                   "which 5.23 on keep in float32 (a bfloat16 model's experts' choices can "
                   "differ), and 5.17 to 5.24's generate with a static cache fails on its "
                   "windowed blocks",
                   "dots3_note_text": "5.23's Dots3NoteForCausalLM holds its routers' "
                   "weights in the model's dtype, which 5.24 keeps in float32: a bfloat16 "
                   "model's experts' choices can differ",
                   "hy_v4": "5.17 to 5.24 have HYV4Config but rotate each query's and key's "
                   "rotary slice in halves where 5.25 rotates interleaved pairs (DeepSeek's "
                   "layout): the same weights give other logits on the two",
                   "axk2": "5.17 to 5.23 have AXK2Config but hold its routers' weights in "
                   "the model's dtype, which 5.24 keeps in float32: a bfloat16 model's "
                   "experts' choices can differ; 5.17 also refuses the config.json a later "
                   "release writes, whose layer_types name the blocks indexed_attention where "
                   "5.17 knows deepseek_sparse_attention",
                   "bailing_hybrid": "5.20 to 5.24 have BailingHybridConfig but ignore its "
                   "SwiGLU limits, which the published checkpoints set, and 5.20 to 5.23 "
                   "build no query rank",
                   "longcat_flash": "5.17 to 5.24 have LongcatFlashConfig but build its "
                   "experts' gate_up_proj with rows for the zero experts too, which no token "
                   "reads and 5.25 builds none of (the same checkpoint holds other shapes "
                   "and counts on the two: 5.17 refuses one 5.25 saved)",
                   "qwen4_exp_text": "5.17 to 5.22 have Qwen4ExpTextConfig but, with "
                   "eager attention and a left-padded batch, add the QSA indexer's float mask "
                   "to the causal one (the minimum twice: -inf), so the padded row's logits "
                   "are all NaN, its real tokens' too; 5.17 also refuses the config.json a "
                   "later release writes, whose layer_types name the indexed blocks "
                   "indexed_attention where 5.17 knows qwen_sparse_attention",
                   "cohere_compass_text": "5.17 to 5.20 have CohereCompassTextConfig but "
                   "rotate by ERNIE-4.5-VL's reordered frequencies, ignoring the published "
                   "mrope_interleaved, where 5.21 on rotates as Qwen3-VL's interleaved M-RoPE "
                   "(on text, LLaMA's rotation): the same weights give other logits on the two"}


# Families transformers' class cannot run in float16, and why: the start refuses a float16
# dtype (or auto, float16 on a GPU) for their models (plan.checks.float16_problems), and a
# model is neither loaded nor cast so (`float16_problem`).
FLOAT16_REASONS = {"deepseek_v4": "DeepseekV4ForCausalLM keeps its compressors' and "
                   "indexers' projections (kv_proj, gate_proj, weights_proj) in float32 in a "
                   "float16 model (_keep_in_fp32_modules, 5.24 and 5.25), which transformers' "
                   "forward then multiplies with float16 hidden states: it fails with a dtype "
                   "mismatch (in bfloat16 they are bfloat16, as published)"}


def float16_problem(model_type: str | None, dtype: Any) -> str | None:
    """Why a model of the family `model_type` cannot run in `dtype` (a torch dtype or its
    name), with the fix: where it is float16 and transformers' class of the family cannot run
    in it (`FLOAT16_REASONS`); None otherwise."""
    if str(dtype).lower().removeprefix("torch.") not in ("float16", "fp16", "half"):
        return None
    if (reason := FLOAT16_REASONS.get(model_type or "")) is None:
        return None
    return (f"a {model_type!r} model cannot run in float16: {reason}. Run it in bfloat16 "
            "(or float32): set the dtype to bfloat16 (benchmark.dtype, evaluation.perplexity"
            ".dtype, evaluation.zeroshot.dtype, a method's dtype; `auto` means float16 on a "
            "GPU)")


def transformers_release_problem(model_type: str | None) -> str | None:
    """Why this environment's transformers cannot build the family `model_type`: it is older
    than the family's first release (`Family.min_transformers`), with the upgrade to make;
    None where it can (and for a type prunebench lacks: `family` names those). Read from the
    installed package's metadata (`installed_transformers`)."""
    from packaging.version import Version

    f = FAMILIES.get(model_type or "llama")
    if f is None or f.min_transformers is None:
        return None
    installed = installed_transformers()
    if installed is not None and Version(installed) >= Version(f.min_transformers):
        return None
    came = RELEASE_REASONS.get(model_type, f"its {f.config_class} came with that release")
    return (f"model_type {model_type!r} needs transformers {f.min_transformers} or newer ({came}"
            "; transformers builds it as "
            f"{f.model_class}), and this environment has transformers "
            f"{installed or '(none installed)'}: upgrade it (`pip install -U "
            f"\"transformers>={f.min_transformers}\"`), or use a checkpoint of another family. "
            "Its plans and counts need no transformers class and run on any release")


def require_transformers_release(model_type: str | None) -> None:
    """Refuse the family `model_type` where this transformers cannot build it
    (`transformers_release_problem`)."""
    if problem := transformers_release_problem(model_type):
        raise FamilyUnsupported(problem)
