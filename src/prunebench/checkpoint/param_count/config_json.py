"""A checkpoint's config.json read and checked before any model is built
(`checked_config_json`, `checkpoint_config`, `config_from_json`): refused where it is missing,
invalid or of a model type (or code) prunebench lacks, and where transformers would not build
or run what it says (`unreproduced_layout` and each family's `*_unbuilt` check).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from prunebench import FamilyUnsupported, PrunebenchError

from .defaults import CONFIG_DEFAULTS, _LLAMA_DEFAULTS, with_llama_keys
from .families import FAMILIES
from .releases import (FP8_PUBLISHED, QUANTIZED_AS_PUBLISHED, gpt_neox_japanese_unbuilt,
                       untaken_wrapper)
from .traits import kv_sources
from .shapes import LATENT_KEYS, NEMOTRON_H_PATTERN, refuse_experts, round_up
from .prune_rules import MIMO_V2_FLASH_LISTS, PER_BLOCK_CONFIG_LISTS
from .config_dict import (DORY_SECTIONS, GATED_DELTANET_TYPES, GEMMA4_TYPES, LARA_MINI_PERIOD,
                          OPTIONAL_SHAPE_KEYS, ZAMBA2_DEFAULT_KINDS, as_class_type, axk1_mlp_kinds,
                          bailing_hybrid_values, bamba_layer_types, beam_block_kinds,
                          config_from_dict, deepseek_v4_values, dense_prefix_kinds, dory_values,
                          dots3_values, glm_moe_dsa_indexer_types, gpt_neo_attention_layers,
                          granite_hybrid_layer_types, hy_v4_indexer_types, inkling_values,
                          kimi_linear_values, lfm3_layer_types, mimo_v2_flash_values,
                          modernbert_decoder_values, nemotron_h_layer_types, qwen3_next_layer_types,
                          without_null_shapes, xlstm_sizes, zamba_block_kinds)


def rwkv_unbuilt(values: dict[str, Any]) -> str | None:
    """What of an RWKV config transformers builds but cannot run as a cached language model,
    with what to do; None where it can (and for other families): an attention_hidden_size
    other than hidden_size (RwkvSelfAttention's WKV recurrence is that wide, but RwkvModel
    makes the state it keeps for it hidden_size wide: its first cached forward, and so generate,
    stops on the shapes, 5.17 and 5.25 alike; every published RWKV-4 gives none, or
    hidden_size)."""
    if values.get("model_type") != "rwkv":
        return None
    hidden = values.get("hidden_size", CONFIG_DEFAULTS["rwkv"]["hidden_size"])
    width = values.get("attention_hidden_size")
    if width is None or width == hidden:
        return None
    return (f"gives attention_hidden_size={width} for an RWKV model of hidden_size={hidden}: "
            "transformers' RwkvModel keeps each block's WKV state hidden_size wide, so its "
            "cached forward (and generate) stops on the shapes with a time mixing of another "
            "width. Re-download the model: every published RWKV-4 gives none, or hidden_size")


def nemotron_h_unbuilt(raw: dict[str, Any]) -> str | None:
    """What of a Nemotron-H config.json prunebench or transformers does not build or run, said
    with what to do; None when nothing: a block kind NemotronHBlock has no mixer for, blocks
    of experts (`refuse_experts`), no attention block (transformers sizes the masks by an
    attention block's cache, 5.17 and 5.25), an MLP block first (5.25's cache reads the
    sequence length from the first block's entry, which an MLP block has not), or tied
    embeddings (NemotronHForCausalLM ties nothing: its LM head is its own, whatever
    tie_word_embeddings says)."""
    kinds = nemotron_h_layer_types(raw)
    unknown = sorted({k for k in kinds if k not in NEMOTRON_H_PATTERN.values()})
    redo = ("re-download or rebuild the model; a config.json edited by hand no longer "
            "describes its blocks")
    if unknown:
        return (f"gives block kinds {unknown} (layers_block_type / hybrid_override_pattern): "
                "NemotronHForCausalLM builds a mixer for M / linear_attention (Mamba-2), * / "
                "full_attention, - / mlp and E / moe (experts) only (transformers 5.25 reads "
                f"no older name): {redo}")
    if "moe" in kinds:
        try:
            refuse_experts(SimpleNamespace(layer_types=kinds))
        except FamilyUnsupported as err:
            return f"describes a model prunebench does not support: {err}"
    if "full_attention" not in kinds:
        return ("gives no attention block (* in hybrid_override_pattern): transformers sizes a "
                "Nemotron-H model's masks by an attention block's cache, so neither generate "
                f"nor any cached forward runs without one: {redo}")
    if kinds[0] == "mlp":
        return ("gives an MLP block first (- at the start of hybrid_override_pattern): "
                "transformers 5.25's cache reads the sequence length from the first block's "
                f"entry, which an MLP block has not, so generate stops: {redo}")
    if raw.get("tie_word_embeddings"):
        return ("sets tie_word_embeddings, which NemotronHForCausalLM does not follow (it ties "
                "nothing: its LM head is a weight of its own, and counts and loads would take "
                "it for the embedding): set it to false, as the published models have it")
    return None


def inkling_unbuilt(values: dict[str, Any]) -> str | None:
    """What of an Inkling config.json transformers does not build as it says, with what to
    do; None where nothing (and for other families): block kinds other than "hybrid" /
    "hybrid_sliding" (InklingAttention windows the second, attends fully in any other, and
    InklingTextModel masks any but "hybrid" as windowed), MLP kinds other than "dense" /
    "sparse", or not one of each a block. An Inkling 2 config.json's block kinds likewise
    (Inkling2TextModel builds a windowed block for "hybrid_sliding" and a full one for any
    other, and masks the second fully), where it gives them."""
    if (values.get("model_type") == "inkling2_text" and "num_hidden_layers" in values
            and (kinds := values.get("layer_types"))):
        n = values["num_hidden_layers"]
        if len(kinds) != n or any(k not in ("hybrid", "hybrid_sliding") for k in kinds):
            return (f"gives block kinds {kinds} for {n} blocks: Inkling2TextModel attends "
                    "fully in 'hybrid' blocks and within the window in 'hybrid_sliding' ones "
                    "only, one a block; re-download the model's config.json")
    if values.get("model_type") != "inkling_text" or "num_hidden_layers" not in values:
        return None
    read = inkling_values(values)
    n, kinds, mlps = read["num_hidden_layers"], read["layer_types"], read["mlp_layer_types"]
    if len(kinds) != n or any(k not in ("hybrid", "hybrid_sliding") for k in kinds):
        return (f"gives block kinds {kinds} for {n} blocks: InklingTextModel attends fully in "
                "'hybrid' blocks and within the window in 'hybrid_sliding' ones only, one a "
                "block; re-download the model's config.json")
    if len(mlps) != n or any(k not in ("dense", "sparse") for k in mlps):
        return (f"gives MLP kinds {mlps} for {n} blocks: InklingDecoderLayer builds a dense "
                "MLP for 'dense' and experts for 'sparse' only, one a block; re-download the "
                "model's config.json")
    return None


# DeepseekV4Config's block kinds: the attention's (its compressor's) and the MLP's router's, and
# the layer types its legacy compress_ratios (one a block) name.
DEEPSEEK_V4_KINDS = ("sliding_attention", "compressed_sparse_attention",
                     "heavily_compressed_attention")
DEEPSEEK_V4_MLP_KINDS = ("hash_moe", "moe")


def deepseek_v4_unbuilt(values: dict[str, Any]) -> str | None:
    """What of a DeepSeek-V4 config.json transformers does not build as it says, with what to
    do; None where nothing (and for other families): attention kinds other than DeepseekV4Config's
    three or MLP kinds other than "hash_moe" / "moe" (it refuses them), not one a block, or
    another number of shared experts than one (DeepseekV4SparseMoeBlock builds one shared
    expert of moe_intermediate_size whatever n_shared_experts says)."""
    if values.get("model_type") != "deepseek_v4" or "num_hidden_layers" not in values:
        return None
    read = deepseek_v4_values(values)
    n = read["num_hidden_layers"]
    for key, kinds, allowed in (("layer_types", read["layer_types"], DEEPSEEK_V4_KINDS),
                                ("mlp_layer_types", read["mlp_layer_types"],
                                 DEEPSEEK_V4_MLP_KINDS)):
        if len(kinds) != n or any(k not in allowed for k in kinds):
            return (f"gives {key} {kinds} for {n} blocks: DeepseekV4Config accepts one of "
                    f"{list(allowed)} a block (as layer_types, compress_ratios of 0 / 4 / 128 "
                    "or num_hash_layers say them); re-download the model's config.json")
    if values.get("n_shared_experts", 1) != 1:
        return (f"gives n_shared_experts={values['n_shared_experts']} for a DeepSeek-V4 model: "
                "transformers' DeepseekV4SparseMoeBlock builds one shared expert of "
                "moe_intermediate_size whatever it says, so the checkpoint would not load as "
                "written; re-download the model's config.json")
    return None


def exaone_moe_unread(values: dict[str, Any]) -> str | None:
    """What of an EXAONE-MoE config.json ExaoneMoeConfig cannot read (it raises before any
    model is built, in 5.17 and 5.25): a null sliding_window, or no layer_types with a
    sliding_window_pattern that is no positive number (its own rule divides by it); None where
    it reads it (and for other families)."""
    if values.get("model_type") != "exaone_moe":
        return None
    if "sliding_window" in values and values["sliding_window"] is None:
        return ("gives sliding_window=null for an EXAONE-MoE model: ExaoneMoeConfig takes a "
                "window for its local blocks and refuses null")
    pattern = values.get("sliding_window_pattern", 4)
    if not values.get("layer_types") and not (isinstance(pattern, int)
                                              and not isinstance(pattern, bool) and pattern > 0):
        return (f"gives sliding_window_pattern={pattern!r} and no layer_types for an "
                "EXAONE-MoE model: ExaoneMoeConfig derives each block's attention from a "
                "pattern only where it is a positive number (every pattern-th block global) "
                "and cannot read this one")
    return None


# Config values that are one for every block or a list of one per block (Hunyuan's moe_topk,
# the router's top k, which HunYuanMoEV1Gate reads by its block's index): a list is as above.
PER_BLOCK_CONFIG_VALUES = ("moe_topk",
                           "intermediate_size")  # (Gemma 3n's: a list of one a block)

# The config keys of a model's shape (checked_config_json); the optional ones may be null
# (transformers derives them from the others).
SHAPE_KEYS = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
              "num_attention_heads", "num_key_value_heads", "head_dim", "max_position_embeddings",
              "ffn_dim",  # (OPT's MLP width)
              "ffn_hidden_size", "num_kv_heads")  # (Falcon's, null where derived)


# MptAttentionConfig's values transformers' MptAttention and MptModel build whatever
# attn_config says (MptModel's ALiBi takes build_mpt_alibi_tensor's alibi_bias_max of 8): any
# other value describes another model than the one transformers would run.
MPT_ATTENTION_FIXED = {"alibi": True, "alibi_bias_max": 8, "qk_ln": False,
                       "attn_type": "multihead_attention", "prefix_lm": False}


def alibi_unbuilt(values: dict[str, Any]) -> str | None:
    """What of a BLOOM or MPT config (its config.json's values, or a config object's dict)
    transformers' class does not build as the config says, with what to do; None where it
    builds it. BLOOM: apply_residual_connection_post_layernorm (BloomBlock adds the normed
    input as the residual; false in every released BLOOM and BLOOMZ model), which the counts'
    and every method's reading of a block as x + sublayer(norm(x)) would get wrong. MPT: the
    keys MosaicML's own code reads and transformers' MptForCausalLM ignores (expansion_ratio
    other than 4, no_bias false, a logit_scale, `MPT_ATTENTION_FIXED`'s attention keys):
    transformers would run another model than the checkpoint's."""
    model_type = values.get("model_type")
    if model_type == "bloom" and values.get("apply_residual_connection_post_layernorm"):
        return ("gives apply_residual_connection_post_layernorm true: a BLOOM model whose "
                "blocks add the normed input as the residual, which prunebench does not handle "
                "(every released BLOOM and BLOOMZ model gives false). Use a checkpoint of the "
                "released layout")
    if model_type != "mpt":
        return None
    attention = values.get("attn_config") or {}
    given = {"expansion_ratio": values.get("expansion_ratio", 4),
             "no_bias": values.get("no_bias", True), "logit_scale": values.get("logit_scale"),
             **{key: attention.get(key, fixed) for key, fixed in MPT_ATTENTION_FIXED.items()}}
    built = {"expansion_ratio": 4, "no_bias": True, "logit_scale": None, **MPT_ATTENTION_FIXED}
    if other := [f"{key}={given[key]!r}" for key in built if given[key] != built[key]]:
        return (f"gives {', '.join(other)}: transformers' MptForCausalLM builds "
                + ", ".join(f"{key}={value!r}" for key, value in built.items())
                + " (attn_config's alibi, alibi_bias_max, qk_ln, attn_type and prefix_lm) "
                "whatever these keys say, so it would run another model than this "
                "checkpoint's; prunebench never runs the checkpoint's own code: use an MPT "
                "checkpoint of the published MPT-7B / MPT-30B layout")
    return None


def opt_unsupported(values: dict[str, Any]) -> str | None:
    """What of an OPT config (its config.json's values, or a config object's `vars`)
    prunebench does not handle, with what to do; None where it handles it. Both are opt-350m's
    alone among the published models: its post-LN block (`do_layer_norm_before` false:
    OPTDecoderLayer norms each sublayer's output after the residual sum, which the counts'
    and every method's pre-norm reading of a block would get wrong) and its embeddings of
    another width than the blocks (`word_embed_proj_dim` 512 against hidden_size 1024:
    OPTDecoder's project_in / project_out, which no count or method reads)."""
    if values.get("model_type") != "opt":
        return None
    hidden = values.get("hidden_size", CONFIG_DEFAULTS["opt"]["hidden_size"])
    if values.get("do_layer_norm_before", True) is False:
        return ("gives do_layer_norm_before false: an OPT model whose blocks norm each "
                "sublayer's output after the residual sum (post-LN, as facebook/opt-350m alone "
                "among the published OPT models), which prunebench does not handle. Use "
                "another OPT size (opt-125m, opt-1.3b, ..., opt-66b, all pre-LN)")
    if values.get("word_embed_proj_dim") not in (None, hidden):
        return (f"gives word_embed_proj_dim {values['word_embed_proj_dim']} against "
                f"hidden_size {hidden}: an OPT model whose embeddings are projected in and out "
                "of the blocks' width (project_in / project_out, as facebook/opt-350m alone "
                "among the published OPT models), which prunebench does not handle. Use "
                "another OPT size (opt-125m, opt-1.3b, ..., opt-66b, whose embeddings are as "
                "wide as the blocks)")
    return None


# GPT2Config's flags whose models prunebench does not reproduce, with the value every published
# GPT-2 (gpt2 ... gpt2-xl, DistilGPT2) gives them and why: GPT2Attention divides each block's
# scores by its index + 1 (scale_attn_by_inverse_layer_idx: a depth-pruned block would take
# another index, so another model), computes its scores in float32 in eager attention alone
# (reorder_and_upcast_attn: the compiled decoder and SDPA compute another rounding of them),
# builds a cross-attention no causal LM reads (add_cross_attention: parameters the counts do not
# count) or leaves the scores unscaled (scale_attn_weights false; the compiled decoder scales
# them by 1 / sqrt(head_dim)).
GPT2_FLAGS = {"scale_attn_by_inverse_layer_idx": False, "reorder_and_upcast_attn": False,
              "add_cross_attention": False, "scale_attn_weights": True}


def gpt2_unsupported(values: dict[str, Any]) -> str | None:
    """What of a GPT-2 config (its config.json's values, or a config object's dict)
    prunebench does not reproduce (`GPT2_FLAGS`), with what to do; None where it does."""
    if values.get("model_type") != "gpt2":
        return None
    if other := [f"{key} {str(values[key]).lower()}" for key, published in GPT2_FLAGS.items()
                 if key in values and bool(values[key]) != published]:
        return (f"gives {', '.join(other)}: a GPT-2 model whose attention prunebench does not "
                "reproduce (scores scaled by each block's index, which a depth prune changes; "
                "scores upcast in eager attention alone; a cross-attention; unscaled scores). "
                "Every published GPT-2 (gpt2, gpt2-medium, gpt2-large, gpt2-xl, distilgpt2) "
                "gives " + ", ".join(f"{key} {str(v).lower()}" for key, v in GPT2_FLAGS.items())
                + ": use a checkpoint of that layout")
    return None


def falcon_unsupported(values: dict[str, Any]) -> str | None:
    """What of a Falcon config (its config.json's values, or a config object's `vars`)
    prunebench does not handle, with what to do; None where it handles it: ALiBi positions
    (falcon-rw), whose slopes transformers computes from the model's head count, so that a
    block with heads removed would give its kept heads other slopes, and the layouts
    FalconDecoderLayer builds but cannot run (each stops at the first forward)."""
    if values.get("model_type") != "falcon":
        return None
    new = bool(values.get("new_decoder_architecture", False))
    norms = values.get("num_ln_in_parallel_attn")
    heads = values.get("num_attention_heads", CONFIG_DEFAULTS["falcon"]["num_attention_heads"])
    kv = values.get("num_kv_heads")
    if values.get("alibi", False):
        return ("gives alibi true: a Falcon model of ALiBi positions (tiiuae/falcon-rw-1b, "
                "falcon-rw-7b), whose per-head slopes transformers computes from the model's "
                "head count, so that removing heads would give the kept heads other slopes and "
                "prunebench's compiled decoder computes no ALiBi; prunebench handles the "
                "rotary Falcon models (falcon-7b, falcon-40b, falcon-180b, falcon-11b). Use "
                "one of those")
    if new and not values.get("parallel_attn", True):
        return ("gives new_decoder_architecture true with parallel_attn false, a layout "
                "FalconDecoderLayer builds and cannot run (its forward reads norms it did not "
                "build): set parallel_attn true, as every published new-architecture Falcon "
                "model has it")
    if not new and values.get("parallel_attn", True) and norms == 2:
        return ("gives num_ln_in_parallel_attn 2 without new_decoder_architecture, a layout "
                "FalconDecoderLayer builds (ln_attn / ln_mlp) and cannot run (its forward "
                "reads input_layernorm): leave num_ln_in_parallel_attn out or set it to 1, or "
                "set new_decoder_architecture true")
    if not new and not values.get("multi_query", True) and kv not in (None, heads):
        return (f"gives num_kv_heads {kv} for {heads} heads with neither "
                "new_decoder_architecture nor multi_query: that layout packs every head's own "
                "query, key and value (3 x hidden_size rows), and FalconAttention then repeats "
                "the keys by heads / num_kv_heads and stops at the first forward. Leave "
                "num_kv_heads out or set it to num_attention_heads")
    if new and isinstance(kv, int) and isinstance(heads, int) and kv > 0 and heads % kv:
        return (f"gives num_attention_heads {heads} and num_kv_heads {kv}: each KV head of "
                "the new decoder architecture serves a whole group of query heads, so the "
                "heads must be a multiple of the KV heads: re-download or rebuild the model; "
                "a config.json edited by hand no longer describes its weights")
    return None


def gpt_neo_unbuilt(values: dict[str, Any]) -> str | None:
    """What of a GPT-Neo config (config.json's values, or a config object's dict) its class
    cannot build or run, with what to do; None where it can: attention_types that do not give
    each block one kind (GPTNeoConfig refuses another count as it is built, after a download)
    or a kind other than "global" / "local" (GPTNeoAttention refuses it as it builds)."""
    if values.get("model_type") != "gpt_neo":
        return None
    try:
        kinds = gpt_neo_attention_layers(values)
    except (TypeError, ValueError):
        kinds = None
    blocks = values.get("num_layers", values.get("num_hidden_layers", 24))
    if kinds is None or len(kinds) != blocks:
        return (f"gives attention_types {values.get('attention_types')!r}, which does not "
                f"give each of its {blocks} blocks one kind: GPTNeoConfig expands "
                "[[kinds, repeats], ...] (gpt-neo-1.3B's [[['global', 'local'], 12]]) into "
                "one kind a block. Give attention_types of num_layers kinds in all")
    if other := sorted({str(kind) for kind in kinds} - {"global", "local"}):
        return (f"names block kinds {other} in attention_types: GPT-Neo's blocks attend "
                "'global' or 'local' only (GPTNeoAttention refuses others). Use those two")
    return None


def gpt_bigcode_unsupported(values: dict[str, Any]) -> str | None:
    """What of a GPT-BigCode config (its config.json's values, or a config object's dict)
    prunebench does not handle, with what to do; None where it handles it: add_cross_attention
    (GPTBigCodeBlock then builds a cross-attention and its norm, which a causal LM never runs
    and no count, method or compiled block reads; transformers refuses it with multi_query
    as it builds the model; no published StarCoder or SantaCoder model sets it)."""
    if values.get("model_type") != "gpt_bigcode" or not values.get("add_cross_attention"):
        return None
    return ("gives add_cross_attention true: a GPT-BigCode model whose blocks hold a "
            "cross-attention over an encoder's states (crossattention, ln_cross_attn), which a "
            "causal LM never runs and prunebench does not count or prune. Set "
            "add_cross_attention false (as every published StarCoder, StarCoderBase and "
            "SantaCoder model has it) or leave it out")


def xglm_unsupported(values: dict[str, Any]) -> str | None:
    """What of an XGLM config (its config.json's values, or a config object's dict) prunebench
    does not handle, with what to do; None where it handles it: add_cross_attention
    (XGLMDecoderLayer then builds a cross-attention and its norm, which a causal LM never runs
    and no count, method or compiled block reads; no published XGLM model sets it)."""
    if values.get("model_type") != "xglm" or not values.get("add_cross_attention"):
        return None
    return ("gives add_cross_attention true: an XGLM model whose blocks hold a "
            "cross-attention over an encoder's states (encoder_attn, encoder_attn_layer_norm), "
            "which a causal LM never runs and prunebench does not count or prune. Set "
            "add_cross_attention false (as every published XGLM model has it) or leave it out")


def gptj_unsupported(values: dict[str, Any]) -> str | None:
    """What of a GPT-J or CodeGen config (its config.json's values, or a config object's dict)
    transformers cannot build or run, with what to do; None where it can: rotary_dim null,
    which GPTJConfig's and CodeGenConfig's strict checks refuse (5.17 and 5.25), and which
    their attention would read as rotating the whole of each head while its sin / cos table
    is built n_embd wide, a table that fits a head only in a model of one head."""
    model_type = values.get("model_type")
    if model_type not in ("gptj", "codegen") or "rotary_dim" not in values or values[
            "rotary_dim"] is not None:
        return None
    values = with_llama_keys(values)
    defaults = CONFIG_DEFAULTS[model_type]
    hidden = values.get("hidden_size", defaults["hidden_size"])
    heads = values.get("num_attention_heads", defaults["num_attention_heads"])
    whole = (f"n_embd / n_head = {hidden // heads}"
             if _positive_whole(hidden) and _positive_whole(heads) and hidden % heads == 0
             else "n_embd / n_head")
    name = {"gptj": "GPT-J", "codegen": "CodeGen"}[model_type]
    return (f"gives rotary_dim null for a {name} model: transformers' {name.replace('-', '')}"
            "Config refuses it (5.17 and 5.25), and its attention, which reads null as "
            "rotating the whole of each head, would build its sin / cos table n_embd wide, "
            "which fits a head only in a model of one head. Give rotary_dim the dimensions of "
            f"each head its weights were trained to rotate: {whole} for the whole head, as "
            "null meant (gpt-j-6b gives 64, a quarter of its heads)")


def codegen_unbuilt(values: dict[str, Any]) -> str | None:
    """What of a CodeGen config.json transformers runs otherwise than its weights were laid out,
    with what to do; None where nothing (and for other families): n_head no multiple of 4, the
    shards qkv_proj holds (CodeGenAttention's mp_num, a quarter of the heads' q, v and k each,
    as Salesforce's code split it), which transformers 5.17 cannot split (its first forward
    stops on a reshape) and 5.25 reads with heads across two shards."""
    if values.get("model_type") != "codegen":
        return None
    heads = with_llama_keys(values).get("num_attention_heads",
                                        CONFIG_DEFAULTS["codegen"]["num_attention_heads"])
    if not _positive_whole(heads) or heads % 4 == 0:
        return None
    return (f"gives n_head={heads} for a CodeGen model: its qkv_proj holds q, v and k in four "
            "shards of a quarter of the heads each (CodeGenAttention's mp_num), which "
            "transformers 5.17 cannot split for a head count that is no multiple of 4 (a "
            "reshape error at the first forward) and 5.25 reads with heads across two shards, "
            "a layout no CodeGen was trained in. Re-download the model: every published "
            "CodeGen has a multiple of 4 heads")


def unreproduced_layout(values: dict[str, Any]) -> str | None:
    """What of a config (config.json's values, or a built config's dict) a family's own check
    refuses, with what to do; None where none does. One list for both places that ask: a
    config.json read (`checked_config_json`) and a model built (`modeling.build_model`). Each
    check answers None for other families; a new family's check goes on a line of its own."""
    checks = (opt_unsupported, alibi_unbuilt, falcon_unsupported, gpt2_unsupported,
              gpt_bigcode_unsupported, gptj_unsupported, cohere2_moe_unbuilt,
              hy_v3_deepseek_v32_unbuilt,
              glm_moe_dsa_unbuilt,
              axk1_unbuilt,
              axk2_unbuilt,
              gpt_neo_unbuilt,
              diffllama_unbuilt,
              afmoe_unbuilt,
              xglm_unsupported,
              internlm3_unbuilt,
              iquestcoder_unbuilt,
              mimo_v2_flash_unbuilt,
              minicpm5_moe_unbuilt,
              sarvam_moe_unbuilt,
              minimax_unbuilt,
              gpt_neox_japanese_unbuilt,
              recurrent_gemma_unbuilt,
              dots3_unbuilt,
              zamba_unbuilt,
              zamba2_unbuilt,
              doge_unbuilt, codegen_unbuilt,
              lara_mini_unbuilt, modernbert_decoder_unbuilt,
              xlstm_unbuilt, inkling_unbuilt, zaya_unbuilt,
              cohere_compass_unbuilt,
              deepseek_v4_unbuilt,
              beam_unbuilt, rwkv_unbuilt,
              dory_unbuilt)
    return next((problem for check in checks if (problem := check(values))), None)


# MiniMax's own code's config.json keys (MiniMax-Text-01's, MiniMax-M1's), which MiniMaxConfig
# does not read (5.17, 5.25), by the key it reads instead.
MINIMAX_OWN_FACTORS = {"layernorm_full_attention_alpha": "full_attn_alpha_factor",
                       "layernorm_full_attention_beta": "full_attn_beta_factor",
                       "layernorm_linear_attention_alpha": "linear_attn_alpha_factor",
                       "layernorm_linear_attention_beta": "linear_attn_beta_factor",
                       "layernorm_mlp_alpha": "mlp_alpha_factor",
                       "layernorm_mlp_beta": "mlp_beta_factor"}


def minimax_unbuilt(values: dict[str, Any]) -> str | None:
    """What of a MiniMax config.json transformers builds or runs otherwise than it says (5.17
    and 5.25), with what to do; None where nothing (and for other families): a block kind
    other than "full_attention" / "linear_attention" (MiniMaxModel masks by those two only),
    and keys of MiniMax's own code that MiniMaxConfig does not read and that say otherwise
    than what it builds (attn_type_list, 0 a lightning block; the layernorm_* residual
    scalars; postnorm false, a pre-norm residual, where MiniMaxDecoderLayer always takes the
    normed input). (rotary_dim, which transformers' MiniMax does not read either, rotating the
    whole head, is not refused: prunebench measures the model transformers builds, and a
    transformers conversion's config.json may carry it.)"""
    if values.get("model_type") != "minimax":
        return None
    read = config_from_dict({**values})
    kinds = list(read.layer_types)
    if len(kinds) != read.num_hidden_layers or any(
            kind not in ("full_attention", "linear_attention") for kind in kinds):
        return (f"gives block kinds {kinds} for {read.num_hidden_layers} blocks: "
                "MiniMaxDecoderLayer builds lightning attention for 'linear_attention' and "
                "softmax attention for 'full_attention' only, one a block; re-download the model")
    listed = values.get("attn_type_list")
    if listed is not None and [0 if kind == "linear_attention" else 1 for kind in kinds] \
            != list(listed):
        return (f"gives attn_type_list {list(listed)} (MiniMax's own code: 0 lightning "
                f"attention), which MiniMaxConfig does not read: it builds the blocks "
                f"layer_types says ({kinds}). Use the model's transformers conversion "
                "(MiniMaxAI/MiniMax-Text-01-hf) or write layer_types to match")
    for own, key in MINIMAX_OWN_FACTORS.items():
        if own in values and values[own] != values.get(key, 1):
            return (f"gives {own}={values[own]} (MiniMax's own code), which MiniMaxConfig "
                    f"does not read: it weighs by {key}={values.get(key, 1)}. Use the model's "
                    f"transformers conversion or set {key} to {values[own]}")
    if values.get("postnorm") is False:
        return ("gives postnorm false (MiniMax's own code: residuals of each sublayer's input), "
                "but MiniMaxDecoderLayer always adds the normed input: transformers builds "
                "another model. Use a checkpoint made for transformers' MiniMax")
    return None


def zamba2_unbuilt(values: dict[str, Any]) -> str | None:
    """What of a Zamba2 config.json transformers builds otherwise or not at all (5.17 and
    5.25), with what to do; None where it builds what it says (and for other families): a block
    kind other than "mamba" ("linear_attention") / "hybrid" (Zamba2Model builds a Mamba-2 block
    for any kind but "hybrid"), kinds of another number than num_hidden_layers, no hybrid block
    (Zamba2Model's masks then find no attention cache: it stops), untied embeddings
    (Zamba2Model then ties no hybrid block's copy of a shared block: each would run weights of
    its own, which no checkpoint holds), a saved hybrid_layer_ids, mamba_headdim,
    attention_hidden_size or attention_head_dim other than Zamba2Config derives (the saved
    value is set over the derived one: the adapters would be looked up by other blocks, or
    the Mamba-2 heads and the shared attention shaped otherwise), mamba_expand x hidden_size
    in no whole n_mamba_heads heads, or attention adapters on heads whose q / k / v widths
    are not 2 x hidden_size (transformers' attention stops adding them)."""
    if values.get("model_type") != "zamba2":
        return None
    read = {**CONFIG_DEFAULTS["zamba2"], **without_null_shapes(with_llama_keys(values))}
    kinds = read["layer_types"]
    if problem := zamba_kinds_unbuilt(kinds, "Zamba2", "Mamba-2"):
        return problem
    said = ("layers_block_type" if kinds is not None else "no layers_block_type (Zamba2Config "
            "then gives 54 blocks' kinds, Zamba2-2.7B's)")
    kinds = list(ZAMBA2_DEFAULT_KINDS if kinds is None else kinds)
    if problem := zamba_shared_unbuilt(read, kinds, said, "Zamba2", "Mamba-2"):
        return problem
    if "hybrid" not in kinds:
        return (f"gives {said}: no \"hybrid\" block for a Zamba2 model: transformers' "
                "Zamba2Model sizes its masks by a hybrid block's attention cache and stops "
                "without one. Give it a hybrid block")
    d, heads, mamba_heads = read["hidden_size"], read["num_attention_heads"], read["n_mamba_heads"]
    inner = read["mamba_expand"] * d
    kv = read["num_key_value_heads"] or heads
    if read["use_shared_attention_adapter"] and _positive_whole(heads) and (
            2 * d % heads or kv != heads):
        return (f"gives use_shared_attention_adapter true for a Zamba2 model of "
                f"num_attention_heads={heads} and num_key_value_heads={kv} over 2 x hidden_size "
                f"= {2 * d}: each q / k / v adapter returns 2 x hidden_size values, which "
                "transformers adds to q_proj's, k_proj's and v_proj's outputs (heads x "
                "2 x hidden_size / heads each), so its attention stops unless the heads divide "
                "2 x hidden_size and there are as many KV heads as heads. Give such heads, or "
                "set use_shared_attention_adapter false")
    derived = {"hybrid_layer_ids": [i for i, kind in enumerate(kinds) if kind == "hybrid"],
               "attention_hidden_size": 2 * d,
               "attention_head_dim": 2 * d // heads if _positive_whole(heads) else None,
               "mamba_headdim": int(inner) // mamba_heads if _positive_whole(mamba_heads)
               else None}
    for key, value in derived.items():
        if values.get(key) is not None and value is not None and values[key] != value:
            return (f"gives {key}={values[key]!r} for a Zamba2 model whose Zamba2Config derives "
                    f"{value!r} from its other values: transformers sets the saved value over "
                    "the derived one, so the model would not be the one the other values say "
                    f"(a config.json edited by hand?). Leave {key} out, or give {value!r}")
    return None


def zamba_unbuilt(values: dict[str, Any]) -> str | None:
    """What of a Zamba config.json transformers builds otherwise or not at all (5.17 and 5.25),
    with what to do; None where it builds what it says (and for other families): a block kind
    other than "mamba" ("linear_attention") / "hybrid" (ZambaModel builds a Mamba block for
    any kind but "hybrid"), layers_block_type of another length than num_hidden_layers
    (ZambaModel builds one block an entry), untied embeddings (ZambaModel then ties no hybrid
    block's copy of the shared block to another's), one hybrid block (ZambaModel's tying stops
    with a ValueError), or mamba_expand x hidden_size in no whole n_mamba_heads heads
    (ZambaConfig refuses it)."""
    if values.get("model_type") != "zamba":
        return None
    read = {**CONFIG_DEFAULTS["zamba"], **without_null_shapes(with_llama_keys(values))}
    kinds, n = read["layer_types"], read["num_hidden_layers"]
    if problem := zamba_kinds_unbuilt(kinds, "Zamba", "Mamba"):
        return problem
    # (where layers_block_type is left out, the kinds ZambaConfig derives: they too can be
    # of another length, or one hybrid block)
    said = ("layers_block_type" if kinds is not None else "no layers_block_type (ZambaConfig "
            "derives the kinds from attn_layer_period / attn_layer_offset)")
    if kinds is None and _positive_whole(n):
        kinds = zamba_block_kinds(read)
    if problem := zamba_shared_unbuilt(read, kinds, said, "Zamba", "Mamba"):
        return problem
    if kinds is not None and list(kinds).count("hybrid") == 1:
        return (f"gives {said}: one \"hybrid\" block for a Zamba model: "
                "transformers' ZambaModel (5.17 and 5.25) ties each further hybrid block's "
                "copy of the shared transformer block to the first's, and with none to tie "
                "stops with a ValueError, so the model is never built. Give it two hybrid "
                "blocks or more in layers_block_type")
    return None


def zamba_kinds_unbuilt(kinds: Any, name: str, mamba: str) -> str | None:
    """Why a Zamba (`name` "Zamba") or Zamba2 config.json's layers_block_type (`kinds`, None
    where left out) is built otherwise than it says: an entry other than "mamba"
    ("linear_attention") / "hybrid", for which {name}Model builds a `mamba` block."""
    if kinds is not None and (not isinstance(kinds, (list, tuple)) or any(
            kind not in ("mamba", "linear_attention", "hybrid") for kind in kinds)):
        return (f"gives layers_block_type={kinds!r} for a {name} model, whose {name}Model "
                f"builds a hybrid block for \"hybrid\" and a {mamba} block for any other "
                "entry: give each block \"mamba\" or \"hybrid\"")
    return None


def zamba_shared_unbuilt(read: dict[str, Any], kinds: list[str] | None, said: str, name: str,
                         mamba: str) -> str | None:
    """What Zamba's and Zamba2's config.json checks share (`zamba_unbuilt`, `zamba2_unbuilt`;
    `read` its values over its class's defaults, `kinds` its block kinds as given or derived,
    `said` how config.json gives them, `name` "Zamba" or "Zamba2", `mamba` its Mamba block):
    kinds of another number than num_hidden_layers ({name}Model builds one block a kind),
    untied embeddings ({name}Model then ties no hybrid block's copy of a shared block to
    another's: each would run weights of its own, which no checkpoint holds), mamba_expand x
    hidden_size in no whole n_mamba_heads heads."""
    n = read["num_hidden_layers"]
    if kinds is not None and len(kinds) != n:
        return (f"gives {said}: {len(kinds)} block kinds for a {name} model of "
                f"num_hidden_layers={n}: {name}Model builds one block a kind, so the model "
                "would not be of the depth the config says. Give layers_block_type one entry a "
                "block")
    if not read["tie_word_embeddings"]:
        return (f"gives tie_word_embeddings false for a {name} model: transformers' {name}Model "
                "(5.17 and 5.25) then ties neither the head nor its hybrid blocks' copies of "
                "the shared transformer blocks, so hybrid blocks run weights of their own, "
                "which its checkpoint does not hold, no longer the shared blocks prunebench "
                f"counts and prunes. Set it true ({name}Config's default) or leave it out")
    inner, heads = read["mamba_expand"] * read["hidden_size"], read["n_mamba_heads"]
    if _positive_whole(heads) and inner % heads:
        return (f"gives mamba_expand x hidden_size = {inner} channels for a {name} model of "
                f"n_mamba_heads={heads}: its {mamba} heads split the channels evenly. Give a "
                "head count that divides them")
    return None


def recurrent_gemma_unbuilt(values: dict[str, Any]) -> str | None:
    """What of a RecurrentGemma config.json transformers builds otherwise or not at all (5.17
    and 5.25), with what to do; None where it builds what it says (and for other families):
    block kinds other than "recurrent" / "attention" (RecurrentGemmaDecoderLayer finds no
    class), none (nothing to cycle), no attention block among the blocks (no forward runs:
    RecurrentGemmaModel sizes its masks by one), a published `_block_types` other than
    block_types (RecurrentGemmaConfig reads block_types alone: the blocks would be of its
    kinds), an lru_width not in whole RG-LRU gate blocks of num_attention_heads, or
    embeddings_scale_by_sqrt_dim false (RecurrentGemmaModel always scales)."""
    if values.get("model_type") != "recurrent_gemma":
        return None
    read = {**CONFIG_DEFAULTS["recurrent_gemma"], **without_null_shapes(values)}
    kinds = read["block_types"]
    if not isinstance(kinds, (list, tuple)) or not kinds or any(
            kind not in ("recurrent", "attention") for kind in kinds):
        return (f"gives block_types={kinds!r} for a RecurrentGemma model, whose blocks "
                "RecurrentGemmaConfig cycles over a non-empty list of \"recurrent\" and "
                "\"attention\": give such a list (the published models': [\"recurrent\", "
                "\"recurrent\", \"attention\"])")
    published = values.get("_block_types")
    if published is not None and list(published) != list(kinds):
        return (f"gives _block_types={published!r} and block_types={list(kinds)!r} for a "
                "RecurrentGemma model: transformers' RecurrentGemmaConfig reads block_types "
                "alone (its default where left out), so it would build other blocks than "
                "_block_types says. Give block_types the same list")
    n = read["num_hidden_layers"]
    if "attention" not in [kinds[i % len(kinds)] for i in range(n)]:
        return (f"gives block_types={list(kinds)!r} for a RecurrentGemma model of {n} blocks, "
                "which leaves it no attention block: RecurrentGemmaModel sizes its masks by "
                "its first attention block's cache, so no forward runs. Give block_types an "
                "\"attention\" entry within the first num_hidden_layers blocks")
    width, heads = read["lru_width"] or read["hidden_size"], read["num_attention_heads"]
    if width % heads:
        return (f"gives lru_width={width} for a RecurrentGemma model of {heads} attention "
                "heads: its RG-LRU gates are num_attention_heads blocks of lru_width / "
                "num_attention_heads, so the width must be a multiple of the heads")
    if values.get("embeddings_scale_by_sqrt_dim") is False:
        return ("gives embeddings_scale_by_sqrt_dim=false for a RecurrentGemma model: "
                "transformers' RecurrentGemmaModel scales the embeddings by sqrt(hidden_size) "
                "whatever it says, so it would run another model. Leave it out or set it true")
    return None


def mimo_v2_flash_unbuilt(values: dict[str, Any]) -> str | None:
    """What of a MiMo-V2-Flash config.json transformers builds otherwise than it says (5.17 and
    5.25), with what to do; None where it builds what it says (and for other families).
    MiMoV2FlashConfig reads none of the published keys of the blocks' kinds
    (`MIMO_V2_FLASH_LISTS`), the sliding blocks' heads (swa_*), the sinks' switches, shared
    experts or, without rope_parameters, the rotary bases and rotated part: its attention
    fixes a sliding block's KV heads at twice num_key_value_heads with sinks, a full one's at
    num_key_value_heads without, rotates 0.334 of each head at bases 5000000 (full) and
    10000 (sliding) and norms with rms_norm_eps (the published layernorm_epsilon unread). A
    key saying otherwise describes a model transformers does not build."""
    if values.get("model_type") != "mimo_v2_flash":
        return None
    read = mimo_v2_flash_values({**CONFIG_DEFAULTS["mimo_v2_flash"],
                                 **without_null_shapes(values)})
    built: dict[str, Any] = {
        key: [0 if kind == first else 1 for kind in read[kinds]]
        for key, (kinds, first) in MIMO_V2_FLASH_LISTS.items()}
    built.update(swa_num_key_value_heads=2 * read["num_key_value_heads"],
                 swa_num_attention_heads=read["num_attention_heads"],
                 swa_head_dim=read["head_dim"], swa_v_head_dim=read["v_head_dim"],
                 add_swa_attention_sink_bias=True, add_full_attention_sink_bias=False,
                 n_shared_experts=0, layernorm_epsilon=values.get("rms_norm_eps", 1e-5))
    if values.get("rope_parameters") is None:
        built.update(rope_theta=5_000_000, swa_rope_theta=10_000, partial_rotary_factor=0.334)
    for key, value in built.items():
        given = values.get(key)
        if key == "n_shared_experts" and not given:
            continue  # (none, as published: MiMoV2FlashMoE holds no shared expert)
        if isinstance(given, list):
            given = [int(entry) for entry in given]  # (some engines write them as booleans)
        if key in values and given != value:
            return (f"gives {key}={values[key]!r} for a MiMo-V2-Flash model, which "
                    f"transformers' MiMoV2FlashForCausalLM does not read: it builds "
                    f"{value!r} from the config's other keys (layer_types, mlp_layer_types, "
                    "num_key_value_heads, head_dim, v_head_dim, rope_parameters), so it would "
                    "run another model than the checkpoint's. Re-download the model, or say "
                    "the same in the keys transformers reads; a config.json edited by hand no "
                    "longer describes its weights")
    return None


def iquestcoder_unbuilt(values: dict[str, Any]) -> str | None:
    """What of an IQuest-Coder config transformers cannot build: its own code clamps q, k and
    v where clip_qkv is set and windows the attention where use_sliding_window is, but
    transformers builds it as LlamaForCausalLM, which does neither, and its IQuestCoderConfig
    refuses either on (5.23, 5.25); None where both are off (null / false, as published) and
    for other families."""
    if values.get("model_type") != "iquestcoder":
        return None
    # (as IQuestCoderConfig asks: clip_qkv anything but null, use_sliding_window truthy)
    on = {"clip_qkv": (values.get("clip_qkv") is not None, "clamps q, k and v", "null"),
          "use_sliding_window": (bool(values.get("use_sliding_window")),
                                 "windows the attention", "false")}
    for key, (given, does, off) in on.items():
        if given:
            return (f"gives {key}={values[key]!r} for an IQuest-Coder model: its own code "
                    f"{does}, which transformers' Llama class (IQuest-Coder's) does not, and "
                    "IQuestCoderConfig refuses it, so it cannot build this model. Use a "
                    f"checkpoint whose config.json gives {key} {off} (the published ones do)")
    return None


def minicpm5_moe_unbuilt(values: dict[str, Any]) -> str | None:
    """What of a MiniCPM5-MoE config transformers refuses: use_gated_attention false, weights
    without the attention's output gate, which MiniCPM5MoeConfig refuses (5.25: its
    attention always gates, `self_attn.q_gate_proj`); None where it builds (and for other
    families)."""
    if values.get("model_type") != "minicpm5_moe" or values.get("use_gated_attention") is not False:
        return None
    return ("gives use_gated_attention=false for a MiniCPM5-MoE model: transformers' "
            "MiniCPM5MoeForCausalLM always gates the attention's output (q_gate_proj: each "
            "head's query and gate) and MiniCPM5MoeConfig refuses the key false, so it cannot "
            "build this model. Use a checkpoint of the published architecture (gated "
            "attention: the key true or left out)")


# Sarvam-MoE's and Param2-MoE's own code's config.json keys that transformers' Glm4Moe class
# (theirs) does not read, each with the value it builds (as published) and what another
# value would compute. (moe_router_enable_expert_bias false, a router without score biases,
# is built: its import writes them as zeros, moe_fuse.SPARSE_ONLY.)
SARVAM_MOE_OWN_KEYS = {"use_bias": (False, "biases the attention's output and the MLPs"),
                       "use_rmsnorm": (True, "normalizes by LayerNorm"),
                       "score_function": ("sigmoid", "scores the experts otherwise")}


def sarvam_moe_unbuilt(values: dict[str, Any]) -> str | None:
    """What of a Sarvam-MoE or Param2-MoE config transformers builds otherwise than the
    model's own code computes it: a key of `SARVAM_MOE_OWN_KEYS` given another value than the
    published one (transformers 5.24 / 5.25 build Glm4MoeForCausalLM whatever they say: no
    biases but q/k/v's, RMSNorm, a sigmoid router with a score-correction buffer); None where
    they are left out or as published (and for other families)."""
    if values.get("model_type") not in ("sarvam_moe", "param2moe"):
        return None
    for key, (built, otherwise) in SARVAM_MOE_OWN_KEYS.items():
        if key in values and values[key] != built:
            return (f"gives {key}={values[key]!r} for a {values['model_type']} model: its own "
                    f"code then {otherwise}, which transformers' Glm4Moe class (the family's) "
                    f"does not, so it would compute another model. Use a checkpoint whose "
                    f"config.json gives {key} {json.dumps(built)} or leaves it out (the "
                    "published ones do)")
    return None


def internlm3_unbuilt(values: dict[str, Any]) -> str | None:
    """What of an InternLM3 config transformers cannot build: InternLM3's own code biases q, k
    and v where qkv_bias says and o_proj and the MLP where bias says, but transformers builds
    it as LlamaForCausalLM, one attention_bias for all four attention projections, and its
    InternLM3Config refuses the two differing (5.23, 5.25); None where they agree (and for
    other families)."""
    if values.get("model_type") != "internlm3":
        return None
    read = with_llama_keys(values)  # (qkv_bias / bias, or attention_bias / mlp_bias)
    qkv, other = bool(read.get("attention_bias")), bool(read.get("mlp_bias"))
    if qkv == other:
        return None
    return (f"gives qkv_bias={qkv} but bias={other} for an InternLM3 model: transformers builds "
            "InternLM3 as LLaMA, one bias switch for q, k, v and o_proj, and refuses them "
            "differing (InternLM3Config), so it cannot build this model. Use a checkpoint whose "
            "config.json gives both the same value (internlm3-8b's: both false)")


# AFMoE's keys that AfmoeConfig takes as null (typed `int | None`, in 5.17 and 5.25) and its
# model cannot: key -> what reads it, and when transformers stops on a null (a TypeError; the
# window's a ValueError of its mask code where no block is sliding).
AFMOE_NOT_NULL = {
    "num_dense_layers": ("AfmoeDecoderLayer compares each block's index with it to choose its "
                         "dense or sparse MLP", "as it builds the model"),
    "num_experts": ("AfmoeSparseMoeBlock sizes its router and experts by it",
                    "as it builds the model"),
    "num_shared_experts": ("AfmoeSparseMoeBlock sizes its shared MLP by it",
                           "as it builds the model"),
    "num_experts_per_tok": ("its router chooses that many experts a token",
                            "at the first forward"),
    "route_scale": ("its router scales the chosen experts' weights by it",
                    "at the first forward"),
    "global_attn_every_n_layers": ("AfmoeConfig derives each block's attention from it where "
                                   "config.json gives no layer_types", "as it reads the config"),
    "sliding_window": ("AfmoeModel builds a sliding-window mask of it (whether or not a block "
                       "is sliding)", "at the first forward")}


def afmoe_unbuilt(values: dict[str, Any]) -> str | None:
    """What of an AFMoE config transformers cannot run: a null AFMOE_NOT_NULL key (the
    attention period only where config.json gives no layer_types), with what to do; None where
    it runs (and for other families)."""
    if values.get("model_type") != "afmoe":
        return None
    for key, (reader, when) in AFMOE_NOT_NULL.items():
        if key not in values or values[key] is not None \
                or (key == "global_attn_every_n_layers" and values.get("layer_types")):
            continue
        return (f"gives {key}=null for an AFMoE model: transformers' AfmoeConfig takes it, but "
                f"{reader}, and on a null transformers stops {when}. Give the "
                "value the checkpoint was trained with, or re-download the model; a config.json "
                "edited by hand no longer describes its model")
    return None


def beam_unbuilt(values: dict[str, Any]) -> str | None:
    """What of a Beam config.json transformers does not run as it says (5.20.1 to 5.25), with
    what to do; None where it runs (and for other families): block kinds other than
    sliding_attention / full_attention, or not one a block (BeamModel has a mask for those two
    alone: a KeyError at the first forward), rope_parameters without an entry for each kind
    (keyed by kind, null for a kind that rotates nothing: a KeyError when built), a null window
    beside a sliding block, MLP kinds other than dense / sparse or not one a block (BeamConfig
    refuses them), and routing groups the router cannot form (n_group null or not dividing
    num_experts into groups of two or more, topk_group null or more than n_group: the router's
    view or top-k fails)."""
    if values.get("model_type") != "beam":
        return None
    read = beam_block_kinds({**CONFIG_DEFAULTS["beam"], **without_null_shapes(values)})
    n, kinds, mlps = read["num_hidden_layers"], read["layer_types"], read["mlp_layer_types"]
    fix = "; re-download the model's config.json: one edited by hand no longer describes it"
    if len(kinds) != n or any(k not in ("sliding_attention", "full_attention") for k in kinds):
        return (f"gives block kinds {kinds} for {n} blocks: BeamModel masks 'sliding_attention' "
                "and 'full_attention' blocks only, one a block" + fix)
    rope = read.get("rope_parameters")
    if rope is not None and (not isinstance(rope, dict) or any(k not in rope for k in kinds)):
        return (f"gives rope_parameters {rope}: BeamConfig reads them keyed by block kind (an "
                "entry for 'sliding_attention' and one for 'full_attention', null where it "
                "rotates nothing), and its rotary module fails on a kind without one" + fix)
    if read.get("sliding_window") is None and "sliding_attention" in kinds:
        return ("gives sliding_window=null beside sliding_attention blocks: BeamModel's "
                "sliding-window mask needs a window (a TypeError at the first forward)" + fix)
    if len(mlps) != n or any(k not in ("dense", "sparse") for k in mlps):
        return (f"gives MLP kinds {mlps} for {n} blocks: BeamDecoderLayer builds a dense MLP "
                "for 'dense' and experts for 'sparse' only, one a block" + fix)
    # (BeamConfig's name for it, or the one config_from_dict gives it)
    experts = values.get("num_experts") or read["num_local_experts"]
    groups, chosen = read.get("n_group"), read.get("topk_group")
    if any(mlp == "sparse" for mlp in mlps) and not (
            isinstance(groups, int) and isinstance(chosen, int) and groups > 0
            and experts % groups == 0 and experts // groups >= 2 and 0 < chosen <= groups):
        return (f"gives n_group={groups} and topk_group={chosen} for {experts} experts: "
                "BeamTopKRouter splits the experts into n_group equal groups of two or more "
                "(it scores a group by its best two) and keeps the topk_group best of them "
                "(its view or top-k fails at the first forward otherwise)" + fix)
    return None


def diffllama_unbuilt(values: dict[str, Any]) -> str | None:
    """What of a DiffLlama config DiffLlamaAttention refuses when built (5.17 and 5.25): an odd
    KV head count (its values are split into two halves of KV heads) or attention dropout (no
    dropout its two softmax maps share), with what to do; None where it builds (and for other
    families)."""
    if values.get("model_type") != "diffllama":
        return None
    kv = values.get("num_key_value_heads") or values.get("num_attention_heads")
    if isinstance(kv, int) and kv % 2:
        return (f"gives {kv} KV heads for a DiffLlama model: DiffLlamaAttention splits its "
                "values into two halves of KV heads and refuses an odd count, so transformers "
                "cannot build it. Give the even count the checkpoint was trained with, or "
                "re-download the model; a config.json edited by hand no longer describes it")
    if (values.get("attention_dropout") or 0) > 0:
        return (f"sets attention_dropout={values['attention_dropout']} for a DiffLlama model, "
                "which DiffLlamaAttention refuses (its two softmax maps share no dropout): set "
                "it to 0.0")
    return None


def doge_unbuilt(values: dict[str, Any]) -> str | None:
    """A Doge config of Cross Domain MoE blocks (is_moe), which neither release runs as its
    config says, with what to do; None for dense Doge (and other families). 5.17's decoder
    layer passes DogeCDMoE's (output, router logits) tuple on as the hidden state and stops;
    5.25's DogeCDMoE splits the router's output over the batch's tokens (`view(2, tokens,
    -1)`), so each token's experts are chosen from other tokens' logits: a token's output
    depends on later tokens and on the other rows of its batch."""
    if values.get("model_type") != "doge" or not values.get("is_moe"):
        return None
    return ("sets is_moe=true for a Doge model (Cross Domain MoE blocks), which transformers "
            "does not compute as the model was trained: 5.17 stops on DogeCDMoE's output "
            "tuple, and 5.25's router splits its logits over the batch's tokens, so a token's "
            "experts depend on later tokens and on the other rows of its batch (not causal), "
            "and no prune's scores or benchmark's tokens would be the model's. prunebench runs "
            "dense Doge (is_moe false) only: use a dense Doge checkpoint")


# The xLSTM kernels transformers' own code runs (xLSTMConfig's choices without the xlstm
# package; mode "inference" is the one whose forward takes any length and returns states).
XLSTM_OWN_KERNELS = {"chunkwise_kernel": ("chunkwise--native_autograd",
                                          "parallel--native_autograd"),
                     "sequence_kernel": ("native_sequence__native",),
                     "step_kernel": ("native",), "mode": ("inference",)}


def as_xlstm_read(raw: Any) -> Any:
    """An xLSTM config.json as NX-AI publishes it (xLSTM-7b: chunkwise_kernel
    "chunkwise--triton_xl_chunk", sequence_kernel "native_sequence__triton", step_kernel
    "triton", the xlstm package's kernels, which xLSTMConfig's strict check refuses without
    that package in 5.17 and 5.25) written as transformers' own code reads it, what a download
    or an import writes: each kernel key not among `XLSTM_OWN_KERNELS`' as its native choice.
    The same model: transformers' own xLSTM code never reads the three keys (its backend
    always runs its native chunkwise, sequence and step kernels), and the Triton ones compute
    the same mLSTM (a chunkwise form of the one recurrence). Every other value (mode
    included) as published; any other config.json as it is."""
    if not isinstance(raw, dict) or raw.get("model_type") != "xlstm":
        return raw
    kernels = ("chunkwise_kernel", "sequence_kernel", "step_kernel")
    return {**raw, **{key: XLSTM_OWN_KERNELS[key][0] for key in kernels
                      if key in raw and raw[key] not in XLSTM_OWN_KERNELS[key]}}


def xlstm_unbuilt(values: dict[str, Any]) -> str | None:
    """What of an xLSTM config (its config.json's values, or a config object's dict)
    transformers' own xLSTM code (prunebench never needs the xlstm package) does not run as a
    causal LM, with what to do; None where it runs it (and for other families). Its sizes
    (`xlstm_sizes`): embedding_dim other than hidden_size builds embeddings the blocks cannot
    read, num_blocks other than num_hidden_layers a cache of another depth than the blocks (a
    depth prune writes both); xLSTMCache sizes each head's state by qk_dim / v_dim rounded up
    to a multiple of 64 where the layer truncates them, so widths off that multiple (or heads
    that do not divide them) stop generate; the Triton kernels (the xlstm package's, which
    NX-AI's config.json names: a download or an import writes the native ones,
    `as_xlstm_read`) and a mode other than inference (whose forward stops on a length that is
    no multiple of chunk_size, and on any cached step) are refused by xLSTMConfig or stop the
    forward; weight_mode "fused" stops transformers' initialisation;
    add_out_norm false is ignored by xLSTMModel, which norms the last hidden states anyway."""
    if values.get("model_type") != "xlstm":
        return None
    hidden, embedding, layers, blocks = xlstm_sizes(values)
    if embedding != hidden or blocks != layers:
        return (f"gives hidden_size={hidden} and embedding_dim={embedding}, "
                f"num_hidden_layers={layers} and num_blocks={blocks} (as xLSTMConfig reads "
                "them: a key left out takes its default, 4096 and 32): xLSTMModel builds its "
                "embeddings embedding_dim wide and num_blocks blocks, but the blocks and "
                "xLSTMCache read hidden_size and num_hidden_layers, so the model would not run. "
                "Give each pair one value (embedding_dim = hidden_size, num_blocks = "
                "num_hidden_layers), as the model's weights say")
    for key, own in XLSTM_OWN_KERNELS.items():
        if values.get(key, own[0]) not in own:
            if key == "mode":
                return (f"sets mode={values[key]!r}, which transformers' own xLSTM code does "
                        "not run as a causal LM (a training mode's forward stops on a length "
                        "that is no multiple of chunk_size and on every cached step). Set "
                        "mode='inference' (xLSTM-7b's): the same weights")
            return (f"sets {key}={values[key]!r}, the xlstm package's kernel, which "
                    "xLSTMConfig refuses without that package (its choices: "
                    f"{', '.join(own)}; prunebench never needs the package). A download or "
                    f"an import writes {key}={own[0]!r} (the same model: `as_xlstm_read`): use "
                    "the model through a workflow source, hf:NX-AI/xLSTM-7b@<commit> or "
                    "local:<folder>, or a command given hf:<org>/<repo>@<commit> or the "
                    "folder, imported into its cache")
    if values.get("add_out_norm") is False:
        return ("sets add_out_norm=false (no norm after the last block, as the xlstm package's "
                "xLSTMLarge builds it), but xLSTMModel builds and applies its out_norm whatever "
                "add_out_norm says (5.17, 5.25), its weight ones where the checkpoint has none: "
                "transformers would compute another model than the checkpoint's. prunebench "
                "runs xLSTM models with add_out_norm true (xLSTM-7b's)")
    if values.get("weight_mode", "single") != "single":
        return (f"sets weight_mode={values['weight_mode']!r} (q, k, v and the gates packed in "
                "one Linear each), which transformers' own xLSTM code does not build: "
                "xLSTMPreTrainedModel's initialisation of the packed gates' bias stops on a "
                "shape mismatch, in from_pretrained too (5.17, 5.25). Use a checkpoint of "
                "weight_mode 'single' (separate q, k, v, ogate_preact, igate_preact, "
                "fgate_preact and FFN projections)")
    d, heads = hidden, values.get("num_heads", 8)
    for key, default in (("qk_dim_factor", 0.5), ("v_dim_factor", 1.0)):
        width = d * values.get(key, default)
        if int(width) != round_up(width, 64) or int(width) % heads:
            return (f"gives hidden_size={d}, {key}={values.get(key, default)} and "
                    f"num_heads={heads}: xLSTMLayer builds its {key.split('_dim')[0]} width as "
                    f"{int(width)}, but xLSTMCache sizes each head's state by that width "
                    f"rounded up to a multiple of 64 ({round_up(width, 64)}), split over the "
                    "heads, so generate stops on the states' shapes. transformers runs widths "
                    "that are multiples of 64 and of num_heads: use a model of such widths")
    return None


# Cohere2-MoE's routing choices, as Cohere2MoeTopKRouter and Cohere2MoeSparseMoeBlock take them
# (any other value raises at the model's first forward, in 5.17 and 5.25): key -> (what it
# chooses, the values transformers computes).
COHERE2_MOE_CHOICES = {"expert_selection_fn": ("its router's score function",
                                               ("softmax", "sigmoid")),
                       "shared_expert_combination_strategy": (
                           "how its shared experts' output joins the routed experts'",
                           ("sum", "average"))}


def cohere2_moe_unbuilt(values: dict[str, Any]) -> str | None:
    """What of a Cohere2-MoE config transformers builds and cannot run (a routing choice of
    `COHERE2_MOE_CHOICES` it does not compute: a ValueError at the first forward, after a
    download, a build and a prune), with what to do; None where it runs (and for other
    families). The combination is read only where the blocks have shared experts."""
    if values.get("model_type") != "cohere2_moe":
        return None
    for key, (what, choices) in COHERE2_MOE_CHOICES.items():
        if key == "shared_expert_combination_strategy" and not values.get("num_shared_experts"):
            continue
        if key in values and values[key] not in choices:
            return (f"gives {key}={values[key]!r} for a Cohere2-MoE model: transformers' "
                    f"Cohere2MoeForCausalLM computes {what} as {' or '.join(choices)} only "
                    "(it stops at the first forward on any other), so no pruning or benchmark "
                    f"can run it. Give one of {list(choices)}, as the checkpoint was trained "
                    "with, or re-download the model; a config.json edited by hand no longer "
                    "describes its model")
    return None


def cohere_compass_unbuilt(values: dict[str, Any]) -> str | None:
    """What of a Cohere Compass text config transformers cannot build or run, with what to do;
    None where it can (and for other families): a layer type of its blocks without an entry in
    rope_parameters (CohereCompassRotaryEmbedding reads each kind's, an object or null for no
    rotation: a KeyError when built; CohereCompassTextConfig's defaults, no layer_types and no
    entries, are such a config), or sliding blocks with sliding_window null (a TypeError at
    the first forward, in 5.21 and 5.25)."""
    if values.get("model_type") != "cohere_compass_text":
        return None
    kinds = values.get("layer_types") or ["full_attention"] * values.get(
        "num_hidden_layers", CONFIG_DEFAULTS["cohere_compass_text"]["num_hidden_layers"])
    rope = values.get("rope_parameters")
    missing = sorted(set(kinds) - set(rope if isinstance(rope, dict) else ()))
    if missing:
        return (f"gives no rope_parameters entry for its {' and '.join(missing)} blocks (a "
                "Cohere Compass model rotates each kind of block by its own entry, an object, "
                "or null for none: transformers cannot build it without one). Re-download the "
                "model (North-Micro-Vision's config.json gives sliding_attention's object and "
                "full_attention null), or give each layer type the rotation its blocks were "
                "trained with; a config.json edited by hand no longer describes its model")
    if "sliding_attention" in kinds and "sliding_window" in values \
            and values["sliding_window"] is None:
        return ("gives sliding_window=null for a Cohere Compass model with sliding_attention "
                "blocks, which transformers masks by it (it stops at the first forward "
                "without one): re-download the model, or give the window its blocks were "
                "trained with (North-Micro-Vision's: 4096); a config.json edited by hand no "
                "longer describes its model")
    return None


def hy_v3_deepseek_v32_unbuilt(values: dict[str, Any]) -> str | None:
    """What of an HY-V3 or DeepSeek-V3.2 config transformers cannot build as its checkpoint
    is, with what to do; None where it can (and for other families). HY-V3: a
    num_shared_experts of 0 (HYV3MLP reads a width of 0 as unset and builds a shared MLP of
    intermediate_size, which no checkpoint holds: random weights) or null (a TypeError).
    DeepSeek-V3.2: a null q_lora_rank (its indexer reads the query latent, which its attention
    always builds: DeepseekV32Config takes an int only, in 5.17 and 5.25, where the counts
    without transformers would read a null rank as DeepSeek-V3's one q_proj)."""
    model_type = values.get("model_type")
    if model_type == "hy_v3" and "num_shared_experts" in values \
            and not values["num_shared_experts"]:
        return (f"gives num_shared_experts={values['num_shared_experts']!r} for an HY-V3 "
                "model: transformers' HYV3MoE builds its shared MLP at the experts' width "
                "times that count, and reads 0 as unset (a shared MLP of intermediate_size, "
                "which no checkpoint holds: random weights) and null not at all. Give the "
                "count of shared experts the checkpoint holds (the published Hy3's: 1), or "
                "re-download the model")
    if model_type == "deepseek_v32" and "q_lora_rank" in values \
            and values["q_lora_rank"] is None:
        return ("gives q_lora_rank=null for a DeepSeek-V3.2 model: its lightning indexer "
                "reads the attention's query latent (q_lora_rank wide), which transformers' "
                "DeepseekV32Attention always builds, and DeepseekV32Config refuses a null "
                "rank. Give the query rank the checkpoint holds (the published "
                "DeepSeek-V3.2's: 1536), or re-download the model")
    return None


def modernbert_decoder_unbuilt(values: dict[str, Any]) -> str | None:
    """A ModernBERT-decoder config whose sliding blocks get no window, with what to do; None
    where each has one (and for other families): where local_attention is null or 0,
    ModernBertDecoderConfig makes the window -1 (5.17, 5.25), and transformers' attention then
    fails on every sliding block (its mask is not the scores' size)."""
    if values.get("model_type") != "modernbert-decoder":
        return None
    read = modernbert_decoder_values({**CONFIG_DEFAULTS["modernbert-decoder"], **values})
    sliding = [i for i, kind in enumerate(read["layer_types"]) if kind == "sliding_attention"]
    window = read["sliding_window"]
    if not sliding or (window is not None and window >= 1):
        return None
    return (f"gives its sliding_attention blocks {sliding} no window (local_attention "
            f"{read['local_attention']!r}, sliding_window {window!r}): ModernBertDecoderConfig "
            "makes it -1, with which transformers' model fails on those blocks. Give "
            "local_attention, twice the window (the Ettin decoders' 128), or make every block "
            "full_attention (global_attn_every_n_layers 1, or layer_types)")


def dots3_unbuilt(values: dict[str, Any]) -> str | None:
    """What of a Dots 3 Note config (`dots3_note_text`) the counts would not reproduce, with
    what to do; None where none (and for other families): a block whose query rank is null
    (Dots3NoteTextConfig refuses it, 5.24 and 5.25: its attention always builds the query
    latent, which the counts without transformers would read as one q_proj), or a block's
    per_layer_config overriding a value other than its latent attention's (LATENT_KEYS,
    num_key_value_heads, head_dim): the counts read those alone block by block."""
    if values.get("model_type") != "dots3_note_text":
        return None
    # (a null shape read as left out, as the loader reads it: the class's default)
    values = dots3_values({**CONFIG_DEFAULTS["dots3_note_text"], **without_null_shapes(values)})
    own = {*LATENT_KEYS, "num_key_value_heads", "head_dim"}
    for i, override in sorted(values["per_layer_config"].items()):
        if other := sorted(set(override) - own):
            return (f"overrides {other} for block {i} of a Dots 3 Note model (per_layer_config): "
                    "prunebench counts each block's latent attention values of its own "
                    f"({', '.join(sorted(own))}) and the model's others, so its counts and "
                    "plans would not be this model's. Use the config.json transformers wrote "
                    "for the checkpoint, or re-download the model")
    blocks = [{key: values["per_layer_config"].get(i, {}).get(key, values.get(key))
               for key in ("q_lora_rank", "num_attention_heads", "num_key_value_heads")}
              for i in range(values["num_hidden_layers"])]
    odd = next((i for i, b in enumerate(blocks)
                if b["num_key_value_heads"] != b["num_attention_heads"]), None)
    if odd is not None:
        return (f"gives block {odd} of a Dots 3 Note model {blocks[odd]['num_attention_heads']} "
                f"heads and num_key_value_heads={blocks[odd]['num_key_value_heads']} (null "
                "or left out: Dots3NoteTextConfig's 128): its latent attention expands one "
                "key and value a head, and Dots3NoteTextConfig refuses KV heads other than "
                "its heads. Give num_key_value_heads equal to num_attention_heads, or "
                "re-download the model")
    ranks = [b["q_lora_rank"] for b in blocks]
    if None in ranks:
        return (f"gives a null q_lora_rank for block {ranks.index(None)} of a Dots 3 Note model: "
                "its attention always builds the query latent (q_a_proj, q_lora_rank wide), "
                "which its indexer reads too, and Dots3NoteTextConfig refuses a null rank. "
                "Give the query rank the checkpoint holds (the published model's: 1024), or "
                "re-download the model")
    return None


def axk1_unbuilt(values: dict[str, Any]) -> str | None:
    """What of an A.X K1 config transformers cannot build, or builds otherwise in 5.17 and in
    5.25, with what to do; None where it can (and for other families): a null q_lora_rank
    (AXK1Config refuses it), and MLP kinds other than a dense prefix of
    first_k_dense_replace blocks (1 where left out) then sparse ones: 5.25 reads
    mlp_layer_types (or derives them with moe_layer_freq), 5.17 first_k_dense_replace alone
    (a config holding both must say the same blocks)."""
    if values.get("model_type") != "axk1":
        return None
    if "q_lora_rank" in values and values["q_lora_rank"] is None:
        return ("gives q_lora_rank=null for an A.X K1 model: transformers' AXK1Config refuses "
                "a null rank (its attention always builds the query latent). Give the query "
                "rank the checkpoint holds (the published A.X K1's: 1536), or re-download the "
                "model")
    if "num_hidden_layers" not in values:
        return None
    kinds = axk1_mlp_kinds(values)
    # (a 5.25 config holds the list alone, its count read by 5.25's class from the list; 5.17's
    # holds the count, 1 where config.json gives none, and the list where it gives one)
    first = values.get("first_k_dense_replace",
                       kinds.count("dense") if values.get("mlp_layer_types") else 1)
    if not isinstance(first, int) or kinds != dense_prefix_kinds(len(kinds), first) \
            or len(kinds) != values["num_hidden_layers"]:
        return (f"gives MLP kinds {kinds} (mlp_layer_types, or as first_k_dense_replace and "
                f"moe_layer_freq derive them) and first_k_dense_replace={first!r} for an A.X "
                f"K1 model of {values['num_hidden_layers']} blocks: transformers 5.25 builds "
                "the kinds, 5.17 the first first_k_dense_replace blocks dense and the others "
                "sparse, two models where they differ. Give kinds of dense blocks first and "
                "their count as first_k_dense_replace (the published A.X K1's: 1), or "
                "re-download the model's config.json")
    return None


def axk2_unbuilt(values: dict[str, Any]) -> str | None:
    """What of an A.X K2 config transformers cannot build, with what to do; None where it can
    (and for other families): a query rank null or below 1 (AXK2Config refuses it: its
    indexer and output gate read the query latent, which the counts without transformers
    would read as one q_proj), and n_group / topk_group not given together or not grouping
    the experts (AXK2Config refuses them when the model is built)."""
    if values.get("model_type") != "axk2":
        return None
    rank = values.get("q_lora_rank", 1)
    if not isinstance(rank, int) or rank < 1:
        return (f"gives q_lora_rank={rank!r} for an A.X K2 model: its attention's indexer and "
                "output gate read the query latent, and AXK2Config refuses a rank that is not "
                "positive. Give the query rank the checkpoint holds (AXK2Config's default: "
                "384), or re-download the model")
    groups, top = values.get("n_group"), values.get("topk_group")
    experts = values.get("n_routed_experts", CONFIG_DEFAULTS["axk2"]["num_local_experts"])
    if (groups is None) != (top is None) or (groups is not None and (
            not isinstance(groups, int) or not isinstance(top, int) or groups < 1
            or experts % groups or not 1 <= top <= groups)):
        return (f"gives n_group={groups!r} and topk_group={top!r} for an A.X K2 model of "
                f"{experts} experts: AXK2Config routes over groups only with both given, "
                "n_group dividing the experts and topk_group at most n_group, and refuses "
                "other values when the model is built. Give both (the larger A.X K2 "
                "releases') or neither (A.X K2-Light's: no groups), or re-download the "
                "model's config.json")
    return None


# Latent-attention families whose blocks share an indexer's choice by `indexer_types`: their
# name, what of transformers fails on a null query rank, the published (or default) rank, how
# the kinds derive where config.json lists none and the keys that derive them.
SHARED_INDEXER_TYPES = {
    "glm_moe_dsa": ("GLM-MoE-DSA", "GlmMoeDsaConfig refuses a null rank", "GLM-5's: 2048",
                    glm_moe_dsa_indexer_types,
                    " (indexer_types, or as index_topk_pattern / index_topk_freq / "
                    "index_skip_topk_offset derive them)"),
    "hy_v4": ("HY-V4", "HYV4Attention cannot build its q_a_proj without one",
              "HYV4Config's default: 1536", hy_v4_indexer_types,
              " (indexer_types, or as HYV4Config derives them)")}


def glm_moe_dsa_unbuilt(values: dict[str, Any]) -> str | None:
    """What of a GLM-MoE-DSA or HY-V4 config (`SHARED_INDEXER_TYPES`) transformers cannot
    build or run, with what to do; None where it can: a null q_lora_rank (its indexer reads the
    query latent; GlmMoeDsaConfig refuses it, 5.17 and 5.25, as DeepSeek-V3.2's; HYV4Attention
    builds q_a_proj of it in 5.25), and indexer kinds (indexer_types, or as derived) other than
    "full" / "shared", not one a block, or whose first is "shared" (the attention raises on
    its first forward: no "full" block before it); None for other families."""
    if values.get("model_type") not in SHARED_INDEXER_TYPES:
        return None
    name, fails, rank, derive, keys = SHARED_INDEXER_TYPES[values["model_type"]]
    if "q_lora_rank" in values and values["q_lora_rank"] is None:
        return (f"gives q_lora_rank=null for a {name} model: its lightning indexer reads "
                f"the attention's query latent (q_lora_rank wide), and {fails}. Give the "
                f"query rank the checkpoint holds ({rank}), or re-download the model")
    if "num_hidden_layers" not in values:
        return None
    try:
        kinds = derive(values)
    except (KeyError, TypeError):
        kinds = None
    if (not isinstance(kinds, list) or len(kinds) != values["num_hidden_layers"]
            or any(kind not in ("full", "shared") for kind in kinds) or kinds[:1] == ["shared"]):
        return (f"gives indexer kinds {kinds!r} for a {name} model of "
                f"{values['num_hidden_layers']} blocks{keys}: transformers' attention needs "
                "one of \"full\" or \"shared\" a block, the first \"full\" (a \"shared\" "
                "block reuses the top keys of a \"full\" block before it). Re-download the "
                "model's config.json")
    return None


# Shape keys a family's transformers classes read with no fallback, which a config.json must
# give (checked_config_json refuses one without, left out or null): model_type -> (key, what
# the model is called, what reads the key, the value to give).
_HUNYUAN_HEAD_DIM = ("attention and rotary frequencies transformers sizes by head_dim alone",
                     "the head_dim its weights have (the published Hunyuan models': 128)")
REQUIRED_SHAPE_KEYS = {
    # HunYuanDenseV1Attention (and HunYuanMoEV1Attention, the same) reads config.head_dim with
    # no fallback to hidden / heads: a config.json without one stops transformers as it builds
    # the rotary module.
    "hunyuan_v1_dense": ("head_dim", "Hunyuan dense model", *_HUNYUAN_HEAD_DIM),
    "hunyuan_v1_moe": ("head_dim", "Hunyuan mixture of experts", *_HUNYUAN_HEAD_DIM),
    # NemotronAttention divides its heads by config.num_key_value_heads, which NemotronConfig
    # leaves None (no fallback to one per head): a TypeError as transformers builds the model,
    # where the counts would have taken one KV head per head.
    "nemotron": ("num_key_value_heads", "Nemotron model", "attention transformers builds from "
                 "num_key_value_heads alone", "the KV heads its weights have (k_proj's rows / "
                 "head_dim)"),
    # MinistralAttention takes config.head_dim where the config has the attribute, and
    # MinistralConfig always has it, None where config.json gives none (its __post_init__
    # skips MistralConfig's hidden / heads): a TypeError as transformers builds the model
    # (5.17 and 5.25), where the counts would have taken hidden_size / heads.
    "ministral": ("head_dim", "Ministral model", "attention transformers sizes by head_dim "
                  "alone", "the head_dim its weights have (q_proj's rows / num_attention_heads)"),
}


# MiniMax-M2's config.json keys that transformers' MiniMaxM2ForCausalLM does not read, with
# the values it builds whatever they say (MiniMax's own code reads them): the published
# checkpoints' values. `attn_type_list` (one entry a block) is checked entry by entry.
MINIMAX_M2_FIXED = {"attn_type_list": 1, "use_qk_norm": True, "qk_norm_type": "per_layer",
                    "scoring_func": "sigmoid", "use_routing_bias": True,
                    "shared_intermediate_size": 0}


def _minimax_m2_unbuilt(raw: dict[str, Any]) -> list[str]:
    """The MINIMAX_M2_FIXED keys `raw` gives other values than transformers builds."""
    found = []
    for key, built in MINIMAX_M2_FIXED.items():
        value = raw.get(key)
        given = value if isinstance(value, list) else [value]
        if value is not None and any(v != built for v in given):
            found.append(f"{key}={value!r}")
    return found


def _positive_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _shipped_code_is_the_familys(raw: dict[str, Any], model_type: str) -> bool:
    """Whether the code a config.json names (`auto_map`) is none, or only the family's own
    classes as its published checkpoints ship them (`Family.shipped_code`: Phi-3's
    `configuration_phi3.Phi3Config` and `modeling_phi3.Phi3ForCausalLM`, written before
    transformers took the family in, also named from another repository as
    `<repo>--modeling_phi3.Phi3ForCausalLM` by its fine-tunes). Such code is set aside (never
    imported) and transformers' own class built, as transformers does without
    `trust_remote_code`; any other code may compute another model, and is refused. Tokenizer
    entries are the tokenizer loader's to judge (it runs no code without the config's
    `trust_remote_code`; Phi-4-mini's map names a tokenizer repository)."""
    auto_map = raw.get("auto_map")
    if auto_map is None:
        return True
    if not isinstance(auto_map, dict):
        return False
    named = [v for key, value in auto_map.items() if not str(key).startswith("AutoTokenizer")
             for v in (value if isinstance(value, list) else [value]) if v is not None]
    shipped = FAMILIES[model_type].shipped_code
    return all(isinstance(v, str) and v.split("--")[-1] in shipped for v in named)


def _check_gemma4_sharing(raw: dict[str, Any], where: Path) -> None:
    """Refuse a Gemma 4 config.json whose key and value sharing transformers cannot build: a
    block reusing the keys of an earlier one of its kind needs such a block before the shared
    ones (kv_sources), and at least one block must compute its own."""
    blocks, shared = raw.get("num_hidden_layers"), raw.get("num_kv_shared_layers") or 0
    if not (_positive_whole(blocks) and isinstance(shared, int)):
        return
    if not 0 <= shared < blocks:
        raise PrunebenchError(
            f"{where} gives num_kv_shared_layers={shared} for {blocks} blocks: the shared blocks "
            "reuse the keys and values of earlier blocks, so at least the first block computes "
            "its own (0 to num_hidden_layers - 1 shared): re-download or rebuild the model; a "
            "config.json edited by hand no longer describes its blocks")
    try:
        kv_sources(config_from_dict(raw))
    except PrunebenchError as err:
        raise PrunebenchError(f"{where}: {err}") from None


def _check_gemma3n_lists(raw: dict[str, Any], where: Path) -> None:
    """Refuse a Gemma 3n config.json whose per-block lists transformers cannot build from:
    intermediate_size one positive whole number for every block or a list of one per block,
    activation_sparsity_pattern a list of one per block (Gemma3nTextConfig raises otherwise,
    and a depth prune keeps the kept blocks' entries)."""
    blocks = raw.get("num_hidden_layers")
    widths, sparsity = raw.get("intermediate_size"), raw.get("activation_sparsity_pattern")
    bad = []
    if isinstance(widths, list) and (len(widths) != blocks
                                     or not all(_positive_whole(w) for w in widths)):
        bad.append(f"intermediate_size={widths!r}")
    if sparsity is not None and not (isinstance(sparsity, list) and len(sparsity) == blocks):
        bad.append(f"activation_sparsity_pattern={sparsity!r}")
    if bad:
        raise PrunebenchError(
            f"{where} gives {', '.join(bad)} for num_hidden_layers={blocks}: each is a list of "
            "one value per block (intermediate_size may be one positive whole number for all): "
            "re-download or rebuild the model; a config.json edited by hand no longer describes "
            "its blocks")


def published_hunyuan_moe(raw: Any) -> bool:
    """Whether a config.json is Tencent's published Hunyuan-A13B one (-Instruct, -Pretrain):
    model_type "hunyuan", its own code's, naming HunYuanMoEV1ForCausalLM. (That model_type
    names Hunyuan-Large and the January 2025 Hunyuan-7B too, HunYuanForCausalLM: other models,
    refused as any other type.)"""
    return (isinstance(raw, dict) and raw.get("model_type") == "hunyuan"
            and raw.get("architectures") == ["HunYuanMoEV1ForCausalLM"])


def as_hunyuan_v1_moe(raw: dict[str, Any]) -> dict[str, Any]:
    """Tencent's published Hunyuan-A13B config.json as transformers' HunYuanMoEV1ForCausalLM
    reads it: model_type hunyuan_v1_moe, and the head_dim its attention is sized by (read with
    no fallback), which Tencent's code derives as hidden_size / num_attention_heads (neither
    reads the file's `attention_head_dim`); every other value as published (its auto_map set
    aside, the family's `shipped_code`)."""
    values = {**raw, "model_type": "hunyuan_v1_moe"}
    hidden, heads = raw.get("hidden_size"), raw.get("num_attention_heads")
    if (raw.get("head_dim") is None and _positive_whole(hidden) and _positive_whole(heads)
            and hidden % heads == 0):
        values["head_dim"] = hidden // heads
    return values


def checked_config_json(path: str | Path, text_part: bool = False) -> dict[str, Any]:
    """The config.json of the checkpoint folder `path`, refused with what to do when it is
    missing, not JSON, or of a model type (or custom code) prunebench does not build.

    A multimodal checkpoint whose language model prunebench takes out on download or import
    (checkpoint.text_part: Gemma-3 4B-27B, Mistral-Small 3.x), or gpt-oss with the MXFP4
    experts a download or an import dequantizes (checkpoint.moe_fuse), is refused too, unless
    `text_part`: then its language model's values are returned, as its text-only (or
    dequantized) checkpoint will have them (what the start's checks and `prunebench plan` read
    of a folder to import or of a hub config); a published DBRX or xLSTM config.json likewise,
    as its download or import writes it (`as_written`), refused as it is (`dbrx_unbuilt`,
    `xlstm_unbuilt`)."""
    from prunebench.checkpoint.text_part import WRAPPERS, taken_apart, text_config_values
    path = Path(path)
    if not (path / "config.json").exists() and (path / "checkpoint" / "config.json").exists():
        raise PrunebenchError(f"{path} is a variant's folder (its prune report beside its "
                              f"checkpoint): load the checkpoint, {path / 'checkpoint'}")
    if not (path / "config.json").exists():
        raise PrunebenchError(f"no model at {path}: config.json is missing. Build or download "
                              "the model first (the workflow's `model` rule does this)")
    try:
        raw = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise PrunebenchError(f"{path / 'config.json'} is not valid JSON ({exc}): re-download "
                              "or rebuild the model") from exc
    if not isinstance(raw, dict):
        raise PrunebenchError(f"{path / 'config.json'} holds a JSON {type(raw).__name__}, not an "
                              "object of settings: re-download or rebuild the model")
    raw = as_class_type(raw)  # (GPT-SW3's "gpt-sw3": GPT-2's)
    quantized = raw.get("quantization_config")
    method = quantized.get("quant_method") if isinstance(quantized, dict) else None
    if quantized is not None and method == "fp8" and raw.get("model_type") in FP8_PUBLISHED:
        # deepseek-ai's published DeepSeek-V3 / R1 / V3.2 weights and MiniMaxAI's MiniMax-M2:
        # block-quantized FP8, which a download or an import dequantizes once to bfloat16
        # (checkpoint.moe_fuse).
        if not text_part:
            hub = FP8_PUBLISHED[raw["model_type"]]
            raise PrunebenchError(
                f"{path / 'config.json'} describes {FAMILIES[raw['model_type']].model_class} "
                f"with FP8 weights (quantization_config, fp8), as {hub.split('/')[0]} publishes "
                "it; prunebench dequantizes them once to bfloat16 when it downloads or imports "
                f"the model: use it through a workflow source (hf:{hub}@<commit> or "
                "local:<folder>) or give a command the folder (imported into its cache), not "
                "the folder as it is")
        raw = {k: v for k, v in raw.items() if k != "quantization_config"}
        quantized = None
    if quantized is not None and method == "mxfp4" and raw.get("model_type") == "gpt_oss":
        # openai's published gpt-oss weights: MXFP4 experts, which a download or an import
        # dequantizes once to bfloat16 and drops this entry (checkpoint.moe_fuse).
        if not text_part:
            raise PrunebenchError(
                f"{path / 'config.json'} describes gpt-oss with MXFP4 experts "
                "(quantization_config, mxfp4), as openai publishes it; prunebench dequantizes "
                "them once to bfloat16 when it downloads or imports the model: use it through "
                "a workflow source (hf:openai/gpt-oss-20b@<commit> or local:<folder>) or give "
                "a command the folder (imported into its cache), not the folder as it is")
        raw = {k: v for k, v in raw.items() if k != "quantization_config"}
        quantized = None
    if quantized is not None and raw.get("model_type") in QUANTIZED_AS_PUBLISHED:
        kind = f"quantization_config{f', {method}' if method else ''}"
        raise PrunebenchError(f"{path / 'config.json'} describes "
                              + QUANTIZED_AS_PUBLISHED[raw["model_type"]].format(kind=kind))
    if quantized is not None:
        raise PrunebenchError(
            f"{path / 'config.json'} describes a quantized checkpoint (quantization_config"
            f"{f', {method}' if method else ''}): prunebench prunes, times and evaluates "
            "full-precision weights (float32, float16, bfloat16 safetensors), which pruning "
            "rewrites; use the checkpoint it was quantized from")
    wrapper = taken_apart(raw)  # (one naming code of its own is refused below)
    if wrapper is not None and not text_part:
        raise PrunebenchError(
            f"{path / 'config.json'} describes a multimodal {wrapper.model_class}, whose "
            "language model prunebench keeps when a workflow "
            "downloads or imports it (models.<name>.source: hf:<org>/<repo>@<commit> or "
            "local:<folder>; it is then in resources/models/<name>/) and when a command is "
            "given it (MODEL hf:<org>/<repo>@<commit> or the folder: imported into the "
            "command's cache); load that language model, not the folder as it is")
    if wrapper is not None:
        raw = text_config_values(raw, str(path / "config.json"))
    if published_hunyuan_moe(raw):
        # Tencent's Hunyuan-A13B as published: a download or an import writes its config.json
        # for transformers' class, as it fuses its per-expert weights (checkpoint.moe_fuse).
        if not text_part:
            raise PrunebenchError(
                f"{path / 'config.json'} describes Hunyuan-A13B as Tencent publishes it "
                "(model_type 'hunyuan', its own code's, and no head_dim), with one tensor per "
                "expert; prunebench writes it for transformers' HunYuanMoEV1ForCausalLM "
                "(model_type hunyuan_v1_moe) and fuses its experts once when it downloads or "
                "imports the model: use it through a workflow source "
                "(hf:tencent/Hunyuan-A13B-Instruct@<commit> or local:<folder>) or give a "
                "command the folder (imported into its cache), not the folder as it is")
        raw = as_hunyuan_v1_moe(raw)
    if text_part:
        # DBRX's and xLSTM's published config.json as a download or an import writes them
        # (`as_written`); read as they are, `dbrx_unbuilt` and `xlstm_unbuilt` below refuse
        # them, naming what to write.
        raw = as_written(raw)
    model_type = raw.get("model_type") or "llama"
    if problem := untaken_wrapper(model_type):
        raise PrunebenchError(f"{path / 'config.json'}: {problem}")
    if model_type not in FAMILIES or not _shipped_code_is_the_familys(raw, model_type):
        # prunebench builds transformers' own classes; it never runs a checkpoint's code.
        raise PrunebenchError(
            f"{path / 'config.json'} describes model_type {raw.get('model_type')!r}"
            f"{' with custom code (auto_map)' if 'auto_map' in raw else ''}: prunebench handles "
            f"the model types {sorted(FAMILIES)} "
            f"({', '.join(f.model_class for f in FAMILIES.values())}), and the language model "
            f"of {', '.join(w.model_class for w in WRAPPERS.values())} checkpoints, with "
            "transformers' own code only and never runs code shipped with a checkpoint")
    raw = with_llama_keys(raw)  # (the families' own keys, DBRX's nested ones: CONFIG_KEY_NAMES)
    # The shapes every count and method reads: a hand-edited or damaged value would otherwise
    # stop them with a TypeError deep inside, or a transformers validation traceback. (A
    # num_key_value_heads in a GPT-NeoX or OPT config.json is none of them: their attention
    # gives every head its own keys and values whatever it says, `kv_heads`.)
    # (GPT-BigCode's: its config class derives it from multi_query whatever it says)
    unread = (("num_key_value_heads",) if FAMILIES[model_type].kv_per_query_head
              or model_type == "gpt_bigcode" else ())
    if model_type == "gemma3n_text" and isinstance(raw.get("intermediate_size"), list):
        unread = ("intermediate_size",)  # (a width a block: _check_gemma3n_lists)
    bad = [f"{key}={raw[key]!r}" for key in SHAPE_KEYS
           if key in raw and key not in unread
           and not (raw[key] is None and key in OPTIONAL_SHAPE_KEYS)
           and not _positive_whole(raw[key])]
    if bad:
        raise PrunebenchError(
            f"{path / 'config.json'} gives {', '.join(bad)}: each must be a positive whole "
            "number (or, for num_key_value_heads and head_dim, null or left out): re-download or "
            "rebuild the model; a config.json edited by hand no longer describes its weights")
    # How the shapes fit together, which transformers checks only as it builds the model (a
    # validation traceback) and the counts not at all.
    heads, kv_heads = raw.get("num_attention_heads"), raw.get("num_key_value_heads")
    if (heads is not None and kv_heads is not None and "num_key_value_heads" not in unread
            and heads % kv_heads):
        raise PrunebenchError(
            f"{path / 'config.json'} gives num_attention_heads={heads} and "
            f"num_key_value_heads={kv_heads}: each KV head serves a whole group of query heads, "
            "so the heads must be a multiple of the KV heads: re-download or rebuild the model; "
            "a config.json edited by hand no longer describes its weights")
    defaults = CONFIG_DEFAULTS.get(model_type, _LLAMA_DEFAULTS)
    hidden = raw.get("hidden_size", defaults.get("hidden_size"))
    derived_head_dim = (raw.get("head_dim") is None and defaults.get("head_dim") is None)
    if derived_head_dim and heads and isinstance(hidden, int) and hidden % heads:
        raise PrunebenchError(
            f"{path / 'config.json'} gives hidden_size={hidden} and num_attention_heads={heads} "
            "and no head_dim, which is then hidden_size / heads: not a whole number. "
            "Re-download or rebuild the model; a config.json edited by hand no longer "
            "describes its weights")
    # Cohere2Model masks its local blocks by sliding_window: a null one builds, then stops at
    # the first forward in transformers' mask code (its class's default is 4096).
    # (Cohere2MoeModel's alike)
    if (model_type in ("cohere2", "cohere2_moe") and "sliding_window" in raw
            and raw["sliding_window"] is None):
        raise PrunebenchError(
            f"{path / 'config.json'} gives sliding_window=null for a "
            f"{'Cohere2' if model_type == 'cohere2' else 'Cohere2-MoE'} model, whose local "
            "blocks transformers masks by it (it stops at the first forward without one): "
            "re-download or rebuild the model, or give the window its blocks were trained with "
            "(Command R7B's and Command A's: 4096); a config.json edited by hand no longer "
            "describes its model")
    if (problem := exaone_moe_unread(raw)) is not None:
        raise PrunebenchError(
            f"{path / 'config.json'} {problem}: re-download the model (K-EXAONE's config.json "
            "gives its layer_types), or give the window and the layer_types its blocks were "
            "trained with; a config.json edited by hand no longer describes its model")
    # A shape key the family's classes read with no fallback: transformers cannot build it.
    if model_type in REQUIRED_SHAPE_KEYS and raw.get(REQUIRED_SHAPE_KEYS[model_type][0]) is None:
        key, name, reader, value = REQUIRED_SHAPE_KEYS[model_type]
        raise PrunebenchError(
            f"{path / 'config.json'} gives no {key} for a {name}, whose {reader} (it "
            "cannot build the model without one): re-download or rebuild the model, or give "
            f"{value}")
    if model_type == "hunyuan_v1_moe":
        _check_hunyuan_experts(raw, path / "config.json")
    if problem := unreproduced_layout(raw):
        raise FamilyUnsupported(f"{path / 'config.json'} {problem}")
    # A module hidden_size wide that reads every query head: another head_dim builds (the
    # config class takes it) and stops at the first forward on a shape mismatch.
    # (a null head_dim reads as left out: the class's default, as without_null_shapes reads it)
    head_dim = raw.get("head_dim") or defaults.get("head_dim")
    query_heads = raw.get("num_attention_heads", defaults.get("num_attention_heads"))
    if (model_type in HEADS_FILL_HIDDEN and head_dim is not None and query_heads
            and isinstance(hidden, int) and head_dim * query_heads != hidden):
        raise PrunebenchError(
            f"{path / 'config.json'} gives head_dim={head_dim} with "
            f"num_attention_heads={query_heads} "
            f"and hidden_size={hidden}: {HEADS_FILL_HIDDEN[model_type]} hidden_size wide, so "
            "its heads must fill the hidden size (head_dim x num_attention_heads = "
            "hidden_size). Re-download or rebuild the model; a config.json edited by hand no "
            "longer describes its weights")
    # Mamba2Mixer's heads fill its inner width (expand x hidden): Mamba2Config refuses another
    # product with a validation traceback (a null head_dim reads as its 64, as left out).
    ssm_heads, expand = raw.get("num_heads", defaults.get("num_heads")), raw.get("expand", 2)
    if (model_type == "mamba2" and isinstance(ssm_heads, int) and isinstance(hidden, int)
            and isinstance(head_dim, int) and ssm_heads * head_dim != expand * hidden):
        raise PrunebenchError(
            f"{path / 'config.json'} gives num_heads={ssm_heads} and head_dim={head_dim} "
            f"(64 where null or left out) with expand={expand} and hidden_size={hidden}: a "
            "Mamba-2 mixer's heads fill its inner width (num_heads x head_dim = expand x "
            "hidden_size), as Mamba2Config checks. Re-download or rebuild the model; a "
            "config.json edited by hand no longer describes its weights")
    # DeepseekV3Attention (V2's and Mistral4Attention too) expands its latent keys and values
    # to every query head and then repeats them by heads / KV heads: fewer KV heads than query
    # heads builds and stops at the first forward on a shape mismatch (the published models
    # have as many).
    if (model_type in FAMILIES and FAMILIES[model_type].latent_attention and heads is not None
            and kv_heads is not None and kv_heads != heads):
        raise PrunebenchError(
            f"{path / 'config.json'} gives num_attention_heads={heads} and "
            f"num_key_value_heads={kv_heads}: DeepSeek's latent attention expands keys and "
            "values to every query head, so transformers runs it only with as many KV heads "
            "(set num_key_value_heads to num_attention_heads, or leave it out). Re-download or "
            "rebuild the model; a config.json edited by hand no longer describes its weights")
    # transformers' MiniMaxM2ForCausalLM builds full softmax attention with q/k norms over the
    # whole projections in every block and a sigmoid router with its score-correction bias,
    # no shared expert, whatever these keys of MiniMax's own code say: other values describe
    # another model (MiniMax-Text-01's lightning attention blocks, say).
    if model_type == "minimax_m2" and (unbuilt := _minimax_m2_unbuilt(raw)):
        raise PrunebenchError(
            f"{path / 'config.json'} gives {', '.join(unbuilt)}: transformers' "
            "MiniMaxM2ForCausalLM builds what MiniMax-M2's published config.json says ("
            + ", ".join(f"{k}={v!r}" + (" in every block" if k == "attn_type_list" else "")
                        for k, v in MINIMAX_M2_FIXED.items())
            + ") and ignores these keys, so it would run another model than this checkpoint's; "
            "prunebench never runs the checkpoint's own code: use a checkpoint of the published "
            "MiniMax-M2 architecture")
    if model_type in GATED_DELTANET_TYPES and (problem := _qwen3_next_unbuilt(raw)):
        raise PrunebenchError(f"{path / 'config.json'} {problem}")
    if model_type in (*GEMMA4_TYPES, "gemma3n_text"):
        _check_gemma4_sharing(raw, path / "config.json")
    if model_type == "gemma3n_text":
        _check_gemma3n_lists(raw, path / "config.json")
    if model_type == "granitemoehybrid" and (problem := _granite_hybrid_unbuilt(raw)):
        raise PrunebenchError(f"{path / 'config.json'} {problem}")
    if model_type == "nemotron_h" and (problem := nemotron_h_unbuilt(raw)):
        raise PrunebenchError(f"{path / 'config.json'} {problem}")
    if model_type in ("kimi_linear", "bailing_hybrid") and (problem := _kda_hybrid_unbuilt(raw)):
        raise PrunebenchError(f"{path / 'config.json'} {problem}")
    if model_type == "dots1" and (problem := _dots1_unbuilt(raw)):
        raise PrunebenchError(f"{path / 'config.json'} {problem}")
    if problem := dbrx_unbuilt(raw):
        raise PrunebenchError(f"{path / 'config.json'} {problem}")
    if model_type == "bamba" and (problem := _bamba_unbuilt(raw)):
        raise PrunebenchError(f"{path / 'config.json'} {problem}")
    if model_type in ("lfm2", "lfm2_moe", "lfm3") and (problem := _lfm2_unbuilt(raw)):
        raise PrunebenchError(f"{path / 'config.json'} {problem}")
    # One entry per block (each block's attention kind, whether it rotates): a short list
    # would stop the model's build on an IndexError, or give blocks their neighbours' entries.
    blocks = raw.get("num_hidden_layers")
    short = [f"{key} ({len(raw[key]) if isinstance(raw[key], list) else raw[key]!r})"
             for key in PER_BLOCK_CONFIG_LISTS if raw.get(key) is not None
             and isinstance(blocks, int) and not (isinstance(raw[key], list)
                                                  and len(raw[key]) >= blocks)]
    short += [f"{key} ({len(raw[key])})" for key in PER_BLOCK_CONFIG_VALUES
              if isinstance(raw.get(key), list) and isinstance(blocks, int)
              and len(raw[key]) < blocks]
    if short:
        raise PrunebenchError(
            f"{path / 'config.json'} gives {', '.join(short)} for {blocks} blocks: each block "
            "needs its entry: re-download or rebuild the model; a config.json edited by hand no "
            "longer describes its blocks")
    return raw


# The families whose attention holds a module hidden_size wide over every query head (the
# heads must fill the hidden size), by model_type: what the refusal says of it. OlmoeAttention
# norms the whole query projection with a norm hidden_size wide; HeliumAttention's o_proj
# reads hidden_size inputs (OlmoeConfig's head_dim is hidden / heads where config.json gives
# none, HeliumConfig's 128 whatever the hidden size).
HEADS_FILL_HIDDEN = {"olmoe": "OLMoE's q_norm (OlmoeAttention) is",
                     "helium": "Helium's o_proj (HeliumAttention) reads inputs"}


def dory_unbuilt(values: dict[str, Any]) -> str | None:
    """What of a Dory config (config.json's values, or a built config's dict, both in the
    doubled layout DoryConfig.to_dict writes) transformers does not build as it says, with
    what to do; None where nothing (and for other families): a doubled layer_types that does
    not alternate an attention kind and "mlp", or a doubled size that is odd (DoryConfig
    halves it, dropping a block); sections that are negative or do not sum to
    num_hidden_layers (DoryConfig refuses the sum, not a negative section: with too few blocks
    for the input and output sections' defaults the recurrent one comes out negative);
    n_recurrent_loops below 1."""
    if values.get("model_type") != "dory":
        return None
    raw = {**CONFIG_DEFAULTS["dory"], **{k: v for k, v in values.items() if v is not None
                                         or k == "n_recurrent_layers"}}
    kinds = raw.get("layer_types")
    if kinds is not None and "mlp" in kinds:
        if kinds[1::2] != ["mlp"] * (len(kinds) // 2) or "mlp" in kinds[::2]:
            return ("its layer_types list \"mlp\" entries, so DoryConfig reads them as each "
                    "block's attention kind followed by \"mlp\", which they do not alternate: "
                    "write each block as its kind and \"mlp\" (the released layout), or list one "
                    "kind a block without \"mlp\"")
        odd = [key for key in ("num_hidden_layers", *DORY_SECTIONS)
               if raw.get(key) is not None and raw[key] % 2]
        if odd:
            return (f"its layer_types list each block twice (its kind and \"mlp\"), so DoryConfig "
                    f"halves num_hidden_layers and the section sizes, and {', '.join(odd)} "
                    "is odd (halving drops a block): write twice each size in blocks")
    read = dory_values(raw)
    sections = {key: read[key] for key in DORY_SECTIONS}
    if min(sections.values()) < 0 or sum(sections.values()) != read["num_hidden_layers"]:
        return (f"its sections of n_input_layers {sections['n_input_layers']}, "
                f"n_recurrent_layers {sections['n_recurrent_layers']} and n_output_layers "
                f"{sections['n_output_layers']} blocks (DoryConfig's reading: 8, the rest and 8 "
                f"where left out) do not split its {read['num_hidden_layers']} blocks: set the "
                "three so that none is negative and they sum to num_hidden_layers")
    if not isinstance(raw["n_recurrent_loops"], int) or raw["n_recurrent_loops"] < 1:
        return (f"n_recurrent_loops is {raw['n_recurrent_loops']!r}: DoryModel runs its "
                "recurrent section that many times, at least once: set a whole number >= 1")
    return None


def lara_mini_unbuilt(values: dict[str, Any]) -> str | None:
    """What of a Lara Mini config.json transformers does not build as it says, with what to
    do; None where nothing (and for other families): block kinds other than the three
    LaraMiniDecoderLayer and LaraMiniModel's masks know, or not one a block, and Gated DeltaNet
    value heads no multiple of its key heads (LaraMiniConfig refuses them, 5.24 and 5.25)."""
    if values.get("model_type") != "lara_mini":
        return None
    read = config_from_dict({**values})
    kinds = list(read.layer_types)
    if len(kinds) != read.num_hidden_layers or any(k not in LARA_MINI_PERIOD for k in kinds):
        return (f"gives block kinds {kinds} for {read.num_hidden_layers} blocks: "
                "LaraMiniDecoderLayer builds a Gated DeltaNet for 'linear_attention' and "
                "attention for 'sliding_attention' (windowed, rotating) or 'full_attention' "
                "only, one a block; re-download the model")
    if read.linear_num_value_heads % read.linear_num_key_heads:
        return (f"gives linear_num_value_heads={read.linear_num_value_heads}, no multiple of "
                f"linear_num_key_heads={read.linear_num_key_heads}: LaraMiniConfig refuses it "
                "(each key head serves whole value heads); re-download the model")
    return None


# The keys of ZAYA's older, Megatron-style config.json (Zyphra/ZAYA1-8B-legacy's), which
# ZayaConfig does not read: it would build its own defaults' shape from such a file.
ZAYA_LEGACY_KEYS = ("zaya_use_eda", "zaya_mlp_expansion", "ffn_hidden_size", "num_query_groups")


def zaya_unbuilt(values: dict[str, Any]) -> str | None:
    """What of a ZAYA config.json transformers does not build as it says, with what to do;
    None where nothing (and for other families): the older Megatron-style schema
    (ZAYA_LEGACY_KEYS), more than one expert a token, block kinds other than "hybrid" /
    "hybrid_sliding" or not one a block, or windowed blocks without a window (ZayaConfig
    refuses the last three, 5.17 and 5.25)."""
    if values.get("model_type") != "zaya":
        return None
    if legacy := [key for key in ZAYA_LEGACY_KEYS if key in values]:
        return (f"holds {legacy}, keys of ZAYA's Megatron-style config.json, which ZayaConfig "
                "does not read (it would build its defaults' shape, not this model's): "
                "download the transformers-native checkpoint (Zyphra/ZAYA1-8B, not its "
                "-legacy copy)")
    read = config_from_dict({**values})
    if read.num_experts_per_tok != 1:
        return (f"gives num_experts_per_tok={read.num_experts_per_tok}: ZayaConfig refuses any "
                "but 1 (its router picks one expert a token); re-download the model")
    kinds = list(read.layer_types)
    if len(kinds) != read.num_hidden_layers or any(
            k not in ("hybrid", "hybrid_sliding") for k in kinds):
        return (f"gives block kinds {kinds} for {read.num_hidden_layers} blocks: "
                "ZayaModel masks and caches 'hybrid' and 'hybrid_sliding' blocks only, one a "
                "block; re-download the model")
    if "hybrid_sliding" in kinds and not getattr(read, "sliding_window", None):
        return ("names 'hybrid_sliding' blocks without a sliding_window: ZayaConfig refuses "
                "it; re-download the model")
    return None


# The keys of a dots.llm1 config.json that Dots1Config leaves None where it gives none, which
# its sparse blocks read with no fallback (Dots1MoE's shared MLP of moe_intermediate_size x
# n_shared_experts, Dots1TopkRouter's n_routed_experts x hidden weight and its top k).
DOTS1_EXPERT_KEYS = ("n_routed_experts", "n_shared_experts", "num_experts_per_tok")


def _dots1_unbuilt(raw: dict[str, Any]) -> str | None:
    """What of a dots.llm1 config.json transformers cannot build, said with what to do; None
    when nothing: a model with a sparse block (past first_k_dense_replace) whose config.json
    leaves an expert key out or null (`DOTS1_EXPERT_KEYS`)."""
    blocks = raw.get("num_hidden_layers", CONFIG_DEFAULTS["dots1"]["num_hidden_layers"])
    dense = raw.get("first_k_dense_replace") or 0
    missing = [key for key in DOTS1_EXPERT_KEYS if raw.get(key) is None]
    if not missing or not isinstance(blocks, int) or blocks <= dense:
        return None
    return (f"gives no {' / '.join(missing)} for a dots.llm1 model with sparse blocks (blocks "
            f"{dense} to {blocks - 1}, past first_k_dense_replace): Dots1Config leaves them "
            "None, and transformers cannot build or run its experts, shared experts and router "
            "without them: re-download or rebuild the model, or give the values its weights "
            "have")


# The keys of a DBRX config.json's sub-configs that describe its weights' shapes, its rotation
# and its clamp (DbrxAttention reads attn_config's rope_theta with no fallback, and clamps
# q/k/v by clip_qkv, which torch refuses to do with no bound: null leaves it unrunnable);
# DbrxConfig gives the others defaults of no published DBRX (1 KV head, 4 experts of 3584,
# top 1).
DBRX_SHAPE_KEYS = {"attn_config": ("kv_n_heads", "rope_theta", "clip_qkv"),
                   "ffn_config": ("ffn_hidden_size", "moe_num_experts", "moe_top_k")}
# The rotary base transformers 5 rotates by where a config gives none (rope_parameters').
DEFAULT_ROPE_THETA = 10000.0


# The ffn_config keys DbrxFFNConfig reads (5.17 and 5.25 alike). transformers 5.17 refuses any
# other key there ("Found unknown kwargs": the published uniform_expert_assignment, which it
# never reads, PreTrainedConfig's leftovers such as temperature, and what to_dict writes of its
# own, _name_or_path), which 5.25 ignores.
DBRX_FFN_KEYS = ("hidden_size", "ffn_act_fn", "ffn_hidden_size", "moe_num_experts", "moe_top_k",
                 "moe_jitter_eps", "moe_loss_weight", "moe_normalize_expert_weights")


def with_read_ffn_keys(values: dict[str, Any]) -> dict[str, Any]:
    """A DBRX config's values with its ffn_config's keys that DbrxFFNConfig does not read left
    out (`DBRX_FFN_KEYS`), so that transformers 5.17 reads it as 5.25 does; any other config's
    as they are."""
    ffn = values.get("ffn_config")
    if values.get("model_type") != "dbrx" or not isinstance(ffn, dict):
        return values
    return {**values, "ffn_config": {k: v for k, v in ffn.items() if k in DBRX_FFN_KEYS}}


def as_written(raw: Any) -> Any:
    """A published config.json as a download or an import writes it for transformers
    (`moe_fuse.write_published_config`): DBRX's (`as_dbrx_read`), xLSTM's (`as_xlstm_read`);
    any other as it is."""
    return as_xlstm_read(as_dbrx_read(raw))


def as_dbrx_read(raw: Any) -> Any:
    """A DBRX config.json as Databricks publishes it (dbrx-base, dbrx-instruct) written as
    transformers 5's DbrxConfig reads it, what a download or an import writes: attn_config's
    rotary base also at the top level, as rope_theta (transformers reads that into
    rope_parameters and never reads attn_config's), where the file gives no base of its own
    there (no rope_theta, no rope_parameters); ffn_config's whole-number
    moe_normalize_expert_weights (the published `1`, which DbrxFFNConfig's strict check
    refuses) as the float it means. Every other value as published; any other config.json as
    it is."""
    if not isinstance(raw, dict) or raw.get("model_type") != "dbrx":
        return raw
    values = dict(raw)
    attn, ffn = raw.get("attn_config"), raw.get("ffn_config")
    if (isinstance(attn, dict) and attn.get("rope_theta") is not None
            and raw.get("rope_theta") is None and raw.get("rope_parameters") is None):
        values["rope_theta"] = attn["rope_theta"]
    normalize = ffn.get("moe_normalize_expert_weights") if isinstance(ffn, dict) else None
    if isinstance(normalize, int) and not isinstance(normalize, bool):
        values["ffn_config"] = {**ffn, "moe_normalize_expert_weights": float(normalize)}
    return values


def dbrx_unbuilt(values: dict[str, Any]) -> str | None:
    """What of a DBRX config (its config.json's values, or a config object's dict)
    transformers does not build as the checkpoint needs, said with what to do; None for
    another model type or where it builds it: a sub-config (attn_config, ffn_config) that is
    no object of settings or leaves out (or nulls) a key of `DBRX_SHAPE_KEYS`; attn_config's rope_theta
    other than the base transformers' DbrxRotaryEmbedding rotates by (rope_parameters', or a
    top-level rope_theta, 10000 without either: transformers 5 stores attn_config's and never
    reads it, so the published config.json, which gives 500000 there alone, would run with
    base 10000); a whole-number moe_normalize_expert_weights (the published `1`, which
    DbrxFFNConfig's strict check refuses in 5.17 and 5.25); tie_word_embeddings true, which
    DbrxConfig refuses."""
    if values.get("model_type") != "dbrx":
        return None
    for name, keys in DBRX_SHAPE_KEYS.items():
        sub = values.get(name)
        if not isinstance(sub, dict):
            return (f"gives {name}={sub!r}, not an object of settings: a DBRX config.json holds "
                    f"its {' / '.join(keys)} there, which DbrxConfig would otherwise take from "
                    "its defaults (a model of other shapes than this checkpoint's weights): "
                    "re-download the model, or give the values its weights have")
        if missing := [key for key in keys if sub.get(key) is None]:
            return (f"gives no {' / '.join(missing)} in its {name}: DbrxConfig would take "
                    "its defaults for the shape keys (1 KV head, 4 experts of 3584, top 1), "
                    "which describe no published DBRX model, DbrxAttention cannot be built "
                    "without rope_theta nor run without clip_qkv (its q/k/v clamp, 8 in the "
                    "published models): re-download the model, or give the values its "
                    "weights have")
    rope = values.get("rope_parameters")
    theta = ((rope.get("rope_theta") if isinstance(rope, dict) else None)
             or values.get("rope_theta") or DEFAULT_ROPE_THETA)
    wanted = values["attn_config"]["rope_theta"]
    if float(theta) != float(wanted):
        return (f"gives attn_config.rope_theta={wanted} but transformers' DbrxRotaryEmbedding "
                f"rotates by rope_parameters' base, {theta} here (transformers 5 keeps "
                "attn_config's rope_theta and never reads it): every query and key would "
                "rotate at another rate than the model was trained with. Add "
                f'"rope_theta": {wanted} at the top level of config.json (transformers 5.17 '
                "and 5.25 read it into rope_parameters; a download or an import writes it so "
                "where config.json gives no rotary base of its own: use the model through a "
                "workflow source, hf:databricks/dbrx-instruct@<commit> or local:<folder>, or "
                "a command given hf:<org>/<repo>@<commit> or the folder, imported into its "
                "cache)")
    normalize = values["ffn_config"].get("moe_normalize_expert_weights")
    if isinstance(normalize, int) and not isinstance(normalize, bool):
        return (f"gives ffn_config.moe_normalize_expert_weights={normalize}, a whole number "
                "(as the published config.json writes it), which DbrxFFNConfig's strict check "
                f"refuses (a float or null): write {float(normalize)} in config.json (the "
                "same p-norm of the router's top-k weights), as a download or an import "
                "writes it (a workflow source hf:databricks/dbrx-instruct@<commit> or "
                "local:<folder>, or a command given hf:<org>/<repo>@<commit> or the folder, "
                "imported into its cache)")
    if values.get("tie_word_embeddings"):
        return ("gives tie_word_embeddings true, which DbrxConfig refuses (DBRX's LM head is "
                "its own): re-download the model, or give false")
    return None


def _granite_hybrid_unbuilt(raw: dict[str, Any]) -> str | None:
    """What of a Granite 4.0 config.json transformers does not build or run, said with what to
    do; None when nothing. GraniteMoeHybridDecoderLayer builds a Mamba-2 mixer for
    "linear_attention" ("mamba") and attention for any other kind, whose masks it then looks
    up by kind (any other one stops the forward), and its cache, as Qwen3-Next's, needs an
    attention block: a config.json without layer_types builds Mamba-2 blocks only."""
    kinds = granite_hybrid_layer_types(raw)
    other = sorted({k for k in kinds if k not in ("linear_attention", "full_attention")})
    if other:
        return (f"gives layer_types {other}: GraniteMoeHybridForCausalLM builds a Mamba-2 "
                "mixer for 'mamba' and attention for 'attention' (or their names "
                "'linear_attention' and 'full_attention') and runs no other kind: re-download "
                "or rebuild the model; a config.json edited by hand no longer describes its "
                "blocks")
    if kinds and "full_attention" not in kinds:
        return ("gives no 'attention' block (layer_types, which GraniteMoeHybridConfig makes "
                "all 'mamba' where a config.json gives none): transformers sizes a Granite "
                "4.0 model's masks by an attention block's cache, so neither generate nor any "
                "cached forward runs without one: re-download or rebuild the model; a "
                "config.json edited by hand no longer describes its blocks")
    return None


def _bamba_unbuilt(raw: dict[str, Any]) -> str | None:
    """What of a Bamba config.json prunebench or transformers does not build or run, said with
    what to do; None when nothing: attn_layer_indices that name no block of the model (the
    class builds those blocks as Mamba-2 ones, silently), none at all (transformers sizes the
    masks by an attention block's cache, 5.17 and 5.25, as Granite 4.0's), or every block
    (no Mamba-2 block: prunebench takes Bamba for the hybrid it publishes, and its width
    methods and compiled decoder, which such a model would reach, read no feed_forward or
    pre_ff_layernorm)."""
    listed, blocks = raw.get("attn_layer_indices") or [], raw.get("num_hidden_layers")
    redo = ("re-download or rebuild the model; a config.json edited by hand no longer "
            "describes its blocks")
    if not isinstance(blocks, int):
        return None  # (refused by key with the other shape values)
    if outside := sorted(i for i in listed if not (isinstance(i, int) and 0 <= i < blocks)):
        return (f"gives attn_layer_indices {outside} outside its {blocks} blocks "
                f"(num_hidden_layers): BambaForCausalLM would build those as Mamba-2 blocks: "
                f"{redo}")
    kinds = bamba_layer_types(raw)
    if "full_attention" not in kinds:
        return ("gives no attention block (attn_layer_indices empty or left out: a Mamba-2 "
                "mixer in every block): transformers sizes a Bamba model's masks by an "
                "attention block's cache, so neither generate nor any cached forward runs "
                f"without one: {redo}")
    if "linear_attention" not in kinds:
        return ("lists every block in attn_layer_indices (no Mamba-2 block), which prunebench "
                "does not support as a Bamba model: it supports Bamba's hybrids of Mamba-2 "
                "and attention blocks (Bamba-9B); an attention-only model is a LLaMA one "
                "(model_type llama)")
    return None


def _lfm2_unbuilt(raw: dict[str, Any]) -> str | None:
    """What of an LFM2 or LFM2-MoE config.json transformers does not build or run, said with
    what to do; None when nothing: an LFM2-MoE one without layer_types (Lfm2MoeConfig derives
    none: its blocks index a None), a block kind other than "conv" or "full_attention" (the
    decoder layer builds attention for it, but Lfm2Model has masks for those two kinds only:
    a KeyError on the first forward), or no attention block (transformers sizes the masks by
    an attention block's cache, 5.17 and 5.25: neither generate nor any cached forward
    runs)."""
    redo = ("re-download or rebuild the model; a config.json edited by hand no longer "
            "describes its blocks")
    kinds = raw.get("layer_types")
    if kinds is None and raw.get("model_type") == "lfm2_moe":
        return ("gives no layer_types: Lfm2MoeConfig derives none (where LFM2's Lfm2Config "
                "takes them from full_attn_idxs), so transformers cannot build its blocks: "
                f"{redo}")
    blocks = raw.get("num_hidden_layers")
    if kinds is None and isinstance(raw.get("full_attn_idxs"), list) and isinstance(blocks, int):
        kinds = ["full_attention" if i in raw["full_attn_idxs"] else "conv"
                 for i in range(blocks)]  # (as Lfm2Config derives them)
    if raw.get("model_type") == "lfm3":
        return _lfm3_unbuilt(raw, kinds, redo)
    if not isinstance(kinds, list):
        return None  # (LFM2 without either: every block attention, as Lfm2Config makes it)
    if other := sorted({str(kind) for kind in kinds} - {"conv", "full_attention"}):
        return (f"gives layer_types {other}, which LFM2's blocks are not (\"conv\" or "
                f"\"full_attention\"): transformers would build them as attention blocks "
                f"without a mask of their kind: {redo}")
    if "full_attention" not in kinds:
        return ("gives no attention block (every layer_types entry \"conv\"): transformers "
                "sizes an LFM2 model's masks by an attention block's cache, so neither "
                f"generate nor any cached forward runs without one: {redo}")
    return None


def _lfm3_unbuilt(raw: dict[str, Any], kinds, redo: str) -> str | None:
    """`_lfm2_unbuilt` of an LFM3 config.json: a block kind other than Lfm3Model's three
    (its masks are made for "conv", "full_attention" and "sliding_attention" alone: a KeyError
    on the first forward), no attention block of either kind (transformers 5.23 and 5.24 read
    the cache's length from one: generate stops), or rope_parameters without the entry of an
    attention kind its blocks hold (Lfm3RotaryEmbedding reads one a kind: a KeyError building
    the model)."""
    blocks = raw.get("num_hidden_layers")
    if kinds is None and isinstance(blocks, int):
        kinds = lfm3_layer_types(blocks)  # (as Lfm3Config derives them)
    if not isinstance(kinds, list):
        return None
    attention = {"full_attention", "sliding_attention"}
    if other := sorted({str(kind) for kind in kinds} - attention - {"conv"}):
        return (f"gives layer_types {other}, which LFM3's blocks are not (\"conv\", "
                "\"full_attention\" or \"sliding_attention\"): transformers would build them "
                f"as attention blocks without a mask of their kind: {redo}")
    if not attention & set(kinds):
        return ("gives no attention block (every layer_types entry \"conv\"): transformers "
                "5.23 and 5.24 read an LFM3 model's cache length from an attention block, so "
                f"neither generate nor any cached forward runs without one: {redo}")
    rope = raw.get("rope_parameters")
    if isinstance(rope, dict) and (missing := sorted(
            kind for kind in attention & set(kinds) if not isinstance(rope.get(kind), dict))):
        return (f"gives rope_parameters without an entry for {missing}, which its blocks are: "
                "Lfm3Config keeps one rotary setting per attention kind (\"full_attention\", "
                "\"sliding_attention\") and transformers cannot build the model without each: "
                f"{redo}")
    return None


def _kda_hybrid_unbuilt(raw: dict[str, Any]) -> str | None:
    """What of a Kimi Linear or Ling hybrid (bailing_hybrid) config.json transformers does not
    build or run, said with what to do; None when nothing: tied embeddings (neither
    KimiLinearForCausalLM nor BailingHybridForCausalLM ties anything: its LM head is its own,
    whatever tie_word_embeddings says), a block of another kind than the two its decoder layer
    builds (Kimi Linear's linear_attn_config lists leaving a block out or naming one past the
    last), or no latent attention block (transformers sizes the masks by an attention block's
    cache, 5.17 and 5.25); Ling's own published layout (`_bailing_own_layout`) and its SwiGLU
    limits not one a block (BailingHybridConfig refuses them)."""
    model_type = raw["model_type"]
    f = FAMILIES[model_type]
    layer = f.model_class.replace("ForCausalLM", "DecoderLayer")
    if raw.get("tie_word_embeddings"):
        return (f"sets tie_word_embeddings, but {f.model_class} ties nothing: its LM head "
                "is a weight of its own, which prunebench and transformers would read apart "
                "from the embeddings. Re-download the model or set tie_word_embeddings to "
                "false")
    defaults = CONFIG_DEFAULTS[model_type]
    blocks = raw.get("num_hidden_layers", defaults["num_hidden_layers"])
    if model_type == "bailing_hybrid" and (problem := _bailing_own_layout(raw, blocks)):
        return problem
    lists = raw.get("linear_attn_config") or {}
    listed = [b for key in ("kda_layers", "full_attn_layers") for b in lists.get(key) or []]
    if not raw.get("layer_types") and any(not 1 <= b <= blocks for b in listed):
        return (f"lists blocks {sorted(b for b in listed if not 1 <= b <= blocks)} in "
                f"linear_attn_config's kda_layers / full_attn_layers (1-based), past its "
                f"{blocks} blocks: re-download the model")
    values = kimi_linear_values if model_type == "kimi_linear" else bailing_hybrid_values
    kinds = values({**defaults, **raw})["layer_types"]
    if len(kinds) != blocks or any(k not in ("linear_attention", "full_attention")
                                   for k in kinds):
        return (f"gives block kinds {kinds} (layer_types"
                + (", or linear_attn_config's kda_layers and full_attn_layers"
                   if model_type == "kimi_linear" else "")
                + f"): {layer} builds a Kimi Delta Attention for 'linear_attention' and latent "
                "attention for 'full_attention' only, one a block; re-download the model")
    if "full_attention" not in kinds:
        return ("gives no 'full_attention' (latent attention) block: transformers sizes the "
                "attention masks by such a block's cache, so neither generate nor any cached "
                "forward runs; re-download the model")
    return None


# The class Ant's own code for the Ling / Ring 3.0 hybrids names in their published
# config.json (its tensors under its own names, each expert apart, the KDA's q/k/v
# convolutions three, multi-token-prediction layers after the blocks), where transformers'
# conversion writes BailingHybridForCausalLM.
BAILING_OWN_ARCHITECTURE = "BailingMoeV3ForCausalLM"


def _bailing_own_layout(raw: dict[str, Any], blocks: int) -> str | None:
    """A Ling hybrid config.json in Ant's own layout (`BAILING_OWN_ARCHITECTURE`, whose
    tensors prunebench does not import), or with a SwiGLU limit list not one a block."""
    if BAILING_OWN_ARCHITECTURE in (raw.get("architectures") or []):
        return (f"names {BAILING_OWN_ARCHITECTURE}, Ant's own layout of the Ling / Ring hybrid "
                "checkpoints (its own tensor names, each expert apart, three q/k/v "
                "convolutions, multi-token-prediction layers), which prunebench does not "
                "import: load it once with transformers' BailingHybridForCausalLM."
                "from_pretrained (which converts it) and save_pretrained it, then use that "
                "folder")
    for key in ("expert_swiglu_limit_list", "share_expert_swiglu_limit_list"):
        limits = raw.get(key)
        if limits is not None and len(limits) != blocks:
            return (f"gives {key} of {len(limits)} limits for its {blocks} blocks: "
                    "BailingHybridConfig needs one a block; re-download the model")
    return None


def _qwen3_next_unbuilt(raw: dict[str, Any]) -> str | None:
    """What of a Qwen3-Next or Qwen3.5 config.json transformers does not build or run as its
    weights are, said with what to do; None when nothing. Qwen3NextDecoderLayer (and Qwen3.5's)
    builds a token mixer for the two kinds of block only (any other entry of `layer_types`
    leaves the block without one, silently), its cache needs a full-attention block
    (modeling.remove_blocks keeps one), and the Gated DeltaNet shares each key head among a
    whole group of value heads (other head counts stop the first forward on a reshape). Its
    full-attention blocks always gate their output (q_proj twice as wide), whatever a
    config.json's attn_output_gate (Qwen3.5's published true) says: false describes weights
    without the gate, which transformers' class would not load."""
    model_type = raw.get("model_type") or "qwen3_next"
    kinds = qwen3_next_layer_types(raw)
    if model_type == "qwen4_exp_text" and isinstance(kinds, list):
        # (its indexed blocks: published "full_attention", saved by 5.18 on "indexed_attention")
        kinds = ["full_attention" if kind == "indexed_attention" else kind for kind in kinds]
    other = sorted({k for k in kinds if k not in ("linear_attention", "full_attention")}
                   if isinstance(kinds, list) else ())
    if other:
        # (OlmoHybridModel builds attention for any other kind, then finds no mask for it)
        other_kind = ("attention without a mask of its kind" if model_type == "olmo_hybrid"
                      else "nothing (the block would run without its token mixer)")
        return (f"gives layer_types {other}: {FAMILIES[model_type].model_class} builds a "
                "Gated DeltaNet for "
                "'linear_attention' and a "
                f"{'gated ' if FAMILIES[model_type].gated_query else ''}softmax attention for "
                f"'full_attention' and {other_kind} for any other kind: "
                "re-download or rebuild the model; a config.json edited by hand no longer "
                "describes its blocks")
    if (model_type == "olmo_hybrid" and isinstance(kinds, list) and kinds
            and "linear_attention" not in kinds):
        return ("gives no 'linear_attention' block (layer_types): OlmoHybridConfig refuses a "
                "model of full-attention blocks only (a Gated DeltaNet block at least), so "
                "transformers would not load it: re-download or rebuild the model; a "
                "config.json edited by hand no longer describes its blocks")
    if isinstance(kinds, list) and kinds and "full_attention" not in kinds:
        return ("gives no 'full_attention' block (layer_types, or as its "
                f"full_attention_interval derives them): transformers sizes a "
                f"{GATED_DELTANET_TYPES[model_type]} model's masks by a full-attention "
                "block's cache, so neither generate nor any "
                "cached forward runs without one: re-download or rebuild the model; a "
                "config.json edited by hand no longer describes its blocks")
    if raw.get("attn_output_gate") is False and FAMILIES[model_type].gated_query:
        return (f"gives attn_output_gate=false: {FAMILIES[model_type].model_class} gates every "
                "full-attention block's output (its q_proj twice as wide, the gate's rows "
                "beside the queries') and ignores this key, so it would not load a checkpoint "
                "without the gate; prunebench never runs the checkpoint's own code: use a "
                f"checkpoint of the published {GATED_DELTANET_TYPES[model_type]} architecture "
                "(attn_output_gate true)")
    if model_type == "qwen4_exp_text" and (problem := _qwen4_exp_unbuilt(raw, kinds)):
        return problem
    defaults = CONFIG_DEFAULTS[model_type]
    values = raw.get("linear_num_value_heads", defaults["linear_num_value_heads"])
    keys = raw.get("linear_num_key_heads", defaults["linear_num_key_heads"])
    if _positive_whole(values) and _positive_whole(keys) and values % keys:
        return (f"gives linear_num_value_heads={values} and linear_num_key_heads={keys}: each "
                "key head of the Gated DeltaNet serves a whole group of value heads, so the "
                "value heads must be a multiple of the key heads (Qwen3-Next-80B-A3B: 32 and "
                "16): re-download or rebuild the model; a config.json edited by hand no longer "
                "describes its weights")
    return None


def _check_hunyuan_experts(raw: dict[str, Any], where: Path) -> None:
    """Refuse a Hunyuan mixture of experts whose experts transformers' class cannot build as
    its weights are: one number of experts for every block (HunYuanMoEV1Experts), and one
    shared expert as wide as a routed one (HunYuanMoEV1Moe.shared_mlp), which Tencent's code
    builds only where use_mixed_mlp_moe is set, num_shared_expert times as wide."""
    experts = raw.get("num_experts")
    if isinstance(experts, list):
        raise PrunebenchError(
            f"{where} gives num_experts as a list of one per block ({experts}): transformers' "
            "HunYuanMoEV1ForCausalLM (as Tencent's code) builds every block with one number of "
            "experts, and its config refuses a list: give that number (Hunyuan-A13B's: 64); a "
            "model whose blocks have different numbers of experts is not one it builds")
    shared = raw.get("num_shared_expert", 1)
    counts = shared if isinstance(shared, list) else [shared]
    if raw.get("use_mixed_mlp_moe") is False or any(count != 1 for count in counts):
        raise PrunebenchError(
            f"{where} gives use_mixed_mlp_moe={raw.get('use_mixed_mlp_moe')!r} and "
            f"num_shared_expert={shared!r}: transformers' HunYuanMoEV1ForCausalLM builds one "
            "shared expert as wide as a routed one in every block (shared_mlp), as Tencent's "
            "code does only with use_mixed_mlp_moe true and one shared expert (it builds none "
            "without, and a wider one for more): these weights are of a model transformers "
            "does not build. Use a checkpoint with one shared expert a block (the published "
            "Hunyuan-A13B's)")


def config_from_json(path: str | Path) -> SimpleNamespace:
    """A checkpoint's config.json as an object the counts below accept (a multimodal one's by
    the language model prunebench keeps of it: checkpoint.text_part; Tencent's published
    Hunyuan-A13B one and Databricks' published DBRX one and NX-AI's xLSTM one as their import
    writes them)."""
    from prunebench.checkpoint.text_part import taken_apart, text_config_values

    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    if taken_apart(raw) is not None:
        raw = text_config_values(raw, str(path))
    if published_hunyuan_moe(raw):  # as its import writes it
        raw = as_hunyuan_v1_moe(raw)
    return config_from_dict(as_written(raw))  # (DBRX's and xLSTM's published ones, likewise)


def checkpoint_config(path: str | Path) -> SimpleNamespace:
    """The config of the checkpoint folder `path`, refused as `modeling.load_config` refuses
    it, as the object the counts and the methods' plans accept: `prunebench plan` sizes a model
    with it, without transformers (a multimodal checkpoint by the language model prunebench
    keeps of it)."""
    return config_from_dict(checked_config_json(path, text_part=True))


# The QSA indexer's keys of a Qwen4-Exp config.json: Qwen4ExpTextAttention builds its indexer
# from them in every indexed block (None, Qwen4ExpTextConfig's default, builds none: a
# TypeError).
QWEN4_EXP_INDEXER_KEYS = ("indexer_n_heads", "indexer_kv_heads", "indexer_head_dim",
                          "indexer_budget", "indexer_compress_ratio")


def _qwen4_exp_unbuilt(raw: dict[str, Any], kinds: list[str]) -> str | None:
    """What of a Qwen4-Exp config.json transformers (5.23 on) does not build, said with what
    to do; None when nothing: an indexed block without the QSA indexer's keys (each indexed
    block builds its indexer from them), and what Qwen4ExpTextConfig refuses of the per-layer
    embeddings (a `ple_layer_ids` entry outside the blocks or on an indexed block, no
    eos_token_id, a ple_embed_dim no multiple of the n-gram heads)."""
    fix = ("re-download or rebuild the model; a config.json edited by hand no longer "
           "describes its blocks")
    missing = [key for key in QWEN4_EXP_INDEXER_KEYS if raw.get(key) is None]
    if missing and "full_attention" in kinds:
        return (f"gives no {', '.join(missing)}: Qwen4ExpTextAttention builds the QSA indexer "
                f"of every indexed block from them (Qwen4ExpTextConfig's default None builds "
                f"none), so transformers cannot build this model: {fix}")
    ple = raw.get("ple_layer_ids") or []
    if not ple:
        return None
    outside = [i for i in ple if not isinstance(i, int) or not 1 <= i <= len(kinds)
               or kinds[i - 1] != "linear_attention"]
    if outside:
        return (f"gives ple_layer_ids {outside}, not one-indexed Gated DeltaNet blocks "
                f"(layer_types: {kinds}): Qwen4ExpTextConfig refuses per-layer embeddings "
                f"elsewhere: {fix}")
    if raw.get("eos_token_id") in (None, []):
        return ("gives ple_layer_ids but no eos_token_id: Qwen4ExpTextConfig refuses it (its "
                f"per-layer embeddings cut the n-grams at the end-of-sequence token): {fix}")
    defaults = CONFIG_DEFAULTS["qwen4_exp_text"]
    heads = ((raw.get("ngram_size", defaults["ngram_size"]) - 1)
             * raw.get("heads_per_ngram", defaults["heads_per_ngram"]))
    width = raw.get("ple_embed_dim") or raw.get("hidden_size", defaults["hidden_size"])
    if heads <= 0 or width % heads:
        return (f"gives ple_embed_dim {width} for {heads} n-gram heads ((ngram_size - 1) x "
                "heads_per_ngram): Qwen4ExpTextConfig refuses a width no positive multiple of "
                f"them: {fix}")
    return None
