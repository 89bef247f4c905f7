"""Exact parameter counts from a model's config alone (closed form), and its per-block shapes.

No torch here: job sizing and `prunebench plan` count parameters while Snakemake parses the
workflow. `config` is a transformers config of a supported family (`FAMILIES`, by model_type)
or anything with the same attributes (`config_from_dict`, which `prunebench plan` sizes with);
prunebench.modeling checks these counts against meta-device models.

Where things are (each module's names are re-exported here: `param_count.X` reads any of them):
- `defaults`: each family's config keys: the defaults its class gives those a config.json leaves
  out (`CONFIG_DEFAULTS`), the names it gives LLaMA's keys (`CONFIG_KEY_NAMES`), a value read
  under them (`config_value`, `with_llama_keys`, `context_length`)
- `families`: the family table: `Family` (what a family's decoder holds beyond the LLaMA
  layout), `FAMILIES` by model_type, `SparseBlocks` / `SharedExpert` (a mixture of experts'
  sparse blocks and shared expert)
- `releases`: what is refused of a model type whatever its config says: a transformers release
  older than its family's (`RELEASE_REASONS`, `transformers_release_problem`), float16
  (`FLOAT16_REASONS`), published quantized weights (`QUANTIZED_AS_PUBLISHED`, `FP8_PUBLISHED`),
  wrappers and drafters (`UNTAKEN_WRAPPERS`, `DRAFTERS`)
- `traits`: a config read through its family (`family`): its blocks' biases, norms, heads and
  widths (`kv_heads`, `head_dim`, `dense_width`), and which block is of which kind (sparse,
  linear attention, hybrid, windowed, ...)
- `shapes`: per-family pieces of a block beyond LLaMA's: their shapes, parameters and state
  (linear attention, Mamba, Zamba, xLSTM, Griffin, RWKV, Nemotron-H, Gemma 4's per-layer blocks,
  experts, latent attention, indexers, Inkling, DeepSeek-V4, ...)
- `counts`: per-block shapes (`layer_shapes`); parameters of a block (`block_param_count`),
  outside the blocks (`non_block_param_count`) and in all (`count_params`); the KV cache a token
  adds (`kv_bytes_per_token`, `kv_bytes_of`)
- `prune_rules`: what a prune may do: the blocks a depth prune keeps (`depth_needed_kinds`,
  `depth_kept_blocks`), what it takes and rewrites (`depth_removed_params`, `kept_block_lists`);
  what width methods and backends refuse (`refuse_moe`, `heads_removable`, ...)
- `config_dict`: `config_from_dict`: a config.json's values as an object the counts accept, each
  family's derived values as its class derives them (`*_values`, `*_layer_types`)
- `config_json`: `checked_config_json` / `checkpoint_config` / `config_from_json`: a config.json
  refused without torch where missing, invalid, unsupported, or built otherwise than it says
  (`unreproduced_layout`, each family's `*_unbuilt`)
"""

from __future__ import annotations

from prunebench import FamilyUnsupported

from .defaults import (CONFIG_DEFAULTS, CONFIG_KEY_NAMES, MIMO_V2_FLASH_WINDOW, config_value,
                       context_key, context_length, nested_value, with_llama_keys)
from .families import (FAMILIES, Family, SharedExpert, SparseBlocks, block_count, moe_layer_range,
                       moe_layer_range_of, num_experts, period_of)
from .releases import (DOGE_SDPA_CAUSAL, DRAFTERS, FLOAT16_REASONS, FP8_PUBLISHED,
                       GPT_NEOX_JAPANESE_PARTIAL_ROTARY, QUANTIZED_AS_PUBLISHED, RELEASE_REASONS,
                       UNTAKEN_WRAPPERS, float16_problem, gpt_neox_japanese_unbuilt,
                       installed_transformers, require_transformers_release, sdpa_not_causal,
                       transformers_release_problem, untaken_wrapper)
from .traits import (MINIMAX_M3_SPARSE, PACKED_PARTS, attention_sinks, cache_entries_per_block,
                     cross_attention_blocks, dense_width, falcon_kv_heads, family, griffin_kinds,
                     head_dim, indexer_blocks, is_moe, kv_heads, kv_reusing_blocks, kv_sources,
                     lfm2_mlp_width, linear_attention_blocks, mlp_bias, mlp_input_projections,
                     norm_params, normed_outputs, norms_per_block, o_bias, output_gate,
                     output_gate_per_head, parallel_block, parallel_norms, qk_norm, qkv_bias,
                     sandwich_norms, set_block_count, sliding_windows, sparse_mlp_blocks,
                     text_blocks, value_head_dim, zamba2_hybrid_ids, zamba_hybrid_blocks)
from .shapes import (ACTIVATION_PARAMS, LATENT_HEAD_GATES, LATENT_KEYS, LINEAR_ATTENTION_SHAPE,
                     MAMBA1_SHAPE, NEMOTRON_H_PATTERN, MambaShape, activation_params,
                     active_experts, altup_projection_params, attention_expert_params,
                     bailing_kda_params, block_value, deepseek_v4_block_params,
                     deepseek_v4_compressed, deepseek_v4_token_bytes, expert_param_count,
                     final_input_params, gated_norm_params, gemma3n_own_params,
                     griffin_block_params, griffin_lru_width, griffin_recurrent_params,
                     gated_residual_params, griffin_shapes, griffin_state, hyper_connection_params,
                     hyper_head_params, indexer_positions, ple_params, ple_ranks, ple_state,
                     ple_table_shape,
                     qwen4_exp_block_params,
                     indexer_key_width, indexer_params, inkling2_block_params,
                     inkling_attention_shapes, inkling_block_params, jamba_mamba_params, kda_params,
                     latent_block_shapes, lightning_params, linear_attention_params,
                     linear_attention_state, longcat_flash_block_params, mamba1_dt_rank,
                     mamba1_inner, mamba1_of_mamba_keys, mamba1_params, mamba1_state,
                     mamba_head_dim, mamba_inner, mamba_params, mamba_shape, mamba_state,
                     mla_params, mlstm_params, mlstm_state, mlstm_widths, moa_params,
                     nemotron_h_pattern, one_mixer_block_params, one_mixer_block_shapes,
                     own_block_params, per_layer_block_params, per_layer_block_shapes,
                     per_layer_input_params, per_layer_input_width, per_layer_projection_params,
                     per_layer_value, prediction_head_params, refuse_experts, round_up,
                     router_param_count, rwkv_attention_width, rwkv_block_params, rwkv_mlp_width,
                     rwkv_state, shared_expert_params, short_conv_params, state_blocks,
                     state_in_model_dtype, window_block_shapes, zamba2_adapter_params,
                     zamba2_block_params, zamba2_shared_params, zamba_attention_width,
                     zamba_block_params, zamba_mamba_params, zamba_shapes, zamba_shared_params,
                     zaya_own_block_params, zaya_router_params)
from .counts import (block_param_count, block_passes, cache_layers, caches_tokens, count_params,
                     default_layer_shape, embedding_rows, indexer_key_values, inkling_conv_state,
                     kv_bytes_of, kv_bytes_per_token, kv_head_count, latent_cache_widths,
                     layer_shapes, lm_head_bias_params, lm_head_rows, logit_columns,
                     non_block_param_count, query_heads_per_block, recurrent_blocks,
                     tied_embeddings)
from .prune_rules import (ATTENTION_INDEX_KEYS, DORY_LAST_LOOP_STATIC, EXPERT_WEIGHTS,
                          INKLING2_GROUPS, MASK_SIZING_KINDS, MIMO_V2_FLASH_LISTS,
                          PER_BLOCK_CONFIG_LISTS, RWKV_ONE_BLOCK, ZAMBA2_NO_HYBRID, aligned_periods,
                          banded_static_cache_problem, batched_state_problem, block_reads,
                          broken_reads, depth_kept_blocks, depth_needed_kinds, depth_needed_least,
                          depth_removed_params, dory_last_loop_static_problem, dory_sections,
                          head_shards, heads_removable, inkling2_removal_problem, is_scored_weight,
                          jamba_kept_layout, jamba_period, kept_block_lists, kept_depth_scale,
                          kolibri1_1_sources, own_cache_static_problem, ple_sources, refuse_moe,
                          whole_period,
                          zamba2_removal_problem, zamba2_shifted, zamba2_slot, zamba_needed_kinds)
from .config_dict import (DEEPSEEK_V4_RATIOS, DORY_SECTIONS, DOTS3_SLIDING, GATED_DELTANET_TYPES,
                          GEMMA4_GLOBAL_HEAD_DIM, GEMMA4_TYPES, GPT_NEO_ATTENTION_TYPES,
                          GPT_NEO_WINDOW, GRANITE_HYBRID_KINDS, KOLIBRI1_1_KV_SOURCES,
                          LARA_MINI_PERIOD, MINIMAX_M3_INDEXER_KEYS, NEMOTRON_H_OLD_KEYS,
                          OPTIONAL_SHAPE_KEYS, READ_AS_TYPE, ZAMBA2_DEFAULT_KINDS, as_class_type,
                          axk1_mlp_kinds, bailing_hybrid_values, bamba_layer_types,
                          beam_block_kinds, cohere2_moe_block_kinds, config_from_dict,
                          deepseek_v4_values, dense_prefix_kinds, dory_values, dots3_values,
                          ergo_values, exaone_moe_block_kinds, flint_block_kinds,
                          gemma4_layer_types, gemma4_values, glm_moe_dsa_indexer_types,
                          gpt_neo_attention_layers, granite_hybrid_layer_types, hy_v4_indexer_types,
                          inkling_values, kimi_linear_values, kolibri1_1_layout, laguna_block_kinds,
                          lara_mini_layer_types, lfm3_layer_types, longcat_flash_values,
                          mimo_v2_flash_values, mimo_v2_flash_window, minimax_m3_values,
                          modernbert_decoder_values, nemotron_h_layer_types, qwen3_next_layer_types,
                          with_boolean_flags, with_partial_rotary, without_null_shapes, xlstm_sizes,
                          zamba2_values, zamba_block_kinds, zamba_values)
from .config_json import (AFMOE_NOT_NULL, BAILING_OWN_ARCHITECTURE, COHERE2_MOE_CHOICES,
                          DBRX_FFN_KEYS, DBRX_SHAPE_KEYS, DEEPSEEK_V4_KINDS, DEEPSEEK_V4_MLP_KINDS,
                          DEFAULT_ROPE_THETA, DOTS1_EXPERT_KEYS, GPT2_FLAGS, HEADS_FILL_HIDDEN,
                          MINIMAX_M2_FIXED, MINIMAX_OWN_FACTORS, MPT_ATTENTION_FIXED,
                          QWEN4_EXP_INDEXER_KEYS,
                          PER_BLOCK_CONFIG_VALUES, REQUIRED_SHAPE_KEYS, SARVAM_MOE_OWN_KEYS,
                          SHAPE_KEYS, SHARED_INDEXER_TYPES, XLSTM_OWN_KERNELS, ZAYA_LEGACY_KEYS,
                          afmoe_unbuilt, alibi_unbuilt, as_dbrx_read, as_hunyuan_v1_moe, as_written,
                          as_xlstm_read, axk1_unbuilt, axk2_unbuilt, beam_unbuilt,
                          checked_config_json, checkpoint_config, codegen_unbuilt,
                          cohere2_moe_unbuilt, cohere_compass_unbuilt, config_from_json,
                          dbrx_unbuilt, deepseek_v4_unbuilt, diffllama_unbuilt, doge_unbuilt,
                          dory_unbuilt, dots3_unbuilt, exaone_moe_unread, falcon_unsupported,
                          glm_moe_dsa_unbuilt, gpt2_unsupported, gpt_bigcode_unsupported,
                          gpt_neo_unbuilt, gptj_unsupported, hy_v3_deepseek_v32_unbuilt,
                          inkling_unbuilt, internlm3_unbuilt, iquestcoder_unbuilt,
                          lara_mini_unbuilt, mimo_v2_flash_unbuilt, minicpm5_moe_unbuilt,
                          minimax_unbuilt, modernbert_decoder_unbuilt, nemotron_h_unbuilt,
                          opt_unsupported, published_hunyuan_moe, recurrent_gemma_unbuilt,
                          rwkv_unbuilt, sarvam_moe_unbuilt, unreproduced_layout, with_read_ffn_keys,
                          xglm_unsupported, xlstm_unbuilt, zamba2_unbuilt, zamba_kinds_unbuilt,
                          zamba_shared_unbuilt, zamba_unbuilt, zaya_unbuilt)

__all__ = ["ACTIVATION_PARAMS", "AFMOE_NOT_NULL", "ATTENTION_INDEX_KEYS",
           "BAILING_OWN_ARCHITECTURE", "COHERE2_MOE_CHOICES", "CONFIG_DEFAULTS", "CONFIG_KEY_NAMES",
           "DBRX_FFN_KEYS", "DBRX_SHAPE_KEYS", "DEEPSEEK_V4_KINDS", "DEEPSEEK_V4_MLP_KINDS",
           "DEEPSEEK_V4_RATIOS", "DEFAULT_ROPE_THETA", "DOGE_SDPA_CAUSAL", "DORY_LAST_LOOP_STATIC",
           "DORY_SECTIONS", "DOTS1_EXPERT_KEYS", "DOTS3_SLIDING", "DRAFTERS", "EXPERT_WEIGHTS",
           "FAMILIES", "FLOAT16_REASONS", "FP8_PUBLISHED", "GATED_DELTANET_TYPES",
           "GEMMA4_GLOBAL_HEAD_DIM", "GEMMA4_TYPES", "GPT2_FLAGS",
           "GPT_NEOX_JAPANESE_PARTIAL_ROTARY", "GPT_NEO_ATTENTION_TYPES", "GPT_NEO_WINDOW",
           "GRANITE_HYBRID_KINDS", "HEADS_FILL_HIDDEN", "INKLING2_GROUPS", "KOLIBRI1_1_KV_SOURCES",
           "LARA_MINI_PERIOD", "LATENT_HEAD_GATES", "LATENT_KEYS", "LINEAR_ATTENTION_SHAPE",
           "MAMBA1_SHAPE", "MASK_SIZING_KINDS", "MIMO_V2_FLASH_LISTS", "MIMO_V2_FLASH_WINDOW",
           "MINIMAX_M2_FIXED", "MINIMAX_M3_INDEXER_KEYS", "MINIMAX_M3_SPARSE",
           "MINIMAX_OWN_FACTORS", "MPT_ATTENTION_FIXED", "NEMOTRON_H_OLD_KEYS",
           "NEMOTRON_H_PATTERN", "OPTIONAL_SHAPE_KEYS", "PACKED_PARTS", "PER_BLOCK_CONFIG_LISTS",
           "PER_BLOCK_CONFIG_VALUES", "QUANTIZED_AS_PUBLISHED", "READ_AS_TYPE", "RELEASE_REASONS",
           "REQUIRED_SHAPE_KEYS", "RWKV_ONE_BLOCK", "SARVAM_MOE_OWN_KEYS", "SHAPE_KEYS",
           "SHARED_INDEXER_TYPES", "UNTAKEN_WRAPPERS", "XLSTM_OWN_KERNELS", "ZAMBA2_DEFAULT_KINDS",
           "ZAMBA2_NO_HYBRID", "ZAYA_LEGACY_KEYS", "Family", "FamilyUnsupported", "MambaShape",
           "SharedExpert", "SparseBlocks", "activation_params", "active_experts", "afmoe_unbuilt",
           "alibi_unbuilt", "aligned_periods", "altup_projection_params", "as_class_type",
           "as_dbrx_read", "as_hunyuan_v1_moe", "as_written", "as_xlstm_read",
           "attention_expert_params", "attention_sinks", "axk1_mlp_kinds", "axk1_unbuilt",
           "axk2_unbuilt", "bailing_hybrid_values", "bailing_kda_params", "bamba_layer_types",
           "banded_static_cache_problem", "batched_state_problem", "beam_block_kinds",
           "beam_unbuilt", "block_count", "block_param_count", "block_passes", "block_value",
           "block_reads", "broken_reads", "cache_entries_per_block", "cache_layers",
           "caches_tokens",
           "checked_config_json", "checkpoint_config", "codegen_unbuilt", "cohere2_moe_block_kinds",
           "cohere2_moe_unbuilt", "cohere_compass_unbuilt", "config_from_dict", "config_from_json",
           "config_value", "context_key", "context_length", "count_params",
           "cross_attention_blocks", "dbrx_unbuilt", "deepseek_v4_block_params",
           "deepseek_v4_compressed", "deepseek_v4_token_bytes", "deepseek_v4_unbuilt",
           "deepseek_v4_values", "default_layer_shape", "dense_prefix_kinds", "dense_width",
           "depth_kept_blocks", "depth_needed_kinds", "depth_needed_least", "depth_removed_params",
           "diffllama_unbuilt", "doge_unbuilt", "dory_last_loop_static_problem", "dory_sections",
           "dory_unbuilt", "dory_values", "dots3_unbuilt", "dots3_values", "embedding_rows",
           "ergo_values", "exaone_moe_block_kinds", "exaone_moe_unread", "expert_param_count",
           "falcon_kv_heads", "falcon_unsupported", "family", "final_input_params",
           "flint_block_kinds", "float16_problem", "gated_norm_params", "gemma3n_own_params",
           "gemma4_layer_types", "gemma4_values", "glm_moe_dsa_indexer_types",
           "glm_moe_dsa_unbuilt", "gpt2_unsupported", "gpt_bigcode_unsupported",
           "gpt_neo_attention_layers", "gpt_neo_unbuilt", "gpt_neox_japanese_unbuilt",
           "gptj_unsupported", "granite_hybrid_layer_types", "griffin_block_params",
           "griffin_kinds", "griffin_lru_width", "griffin_recurrent_params", "griffin_shapes",
           "griffin_state", "head_dim", "head_shards", "heads_removable",
           "hy_v3_deepseek_v32_unbuilt", "hy_v4_indexer_types", "hyper_connection_params",
           "hyper_head_params", "indexer_blocks", "indexer_key_values", "indexer_key_width",
           "indexer_params", "inkling2_block_params", "inkling2_removal_problem",
           "inkling_attention_shapes", "inkling_block_params", "inkling_conv_state",
           "inkling_unbuilt", "inkling_values", "installed_transformers", "internlm3_unbuilt",
           "iquestcoder_unbuilt", "is_moe", "is_scored_weight", "jamba_kept_layout",
           "jamba_mamba_params", "jamba_period", "kda_params", "kept_block_lists",
           "kept_depth_scale", "kimi_linear_values", "kolibri1_1_layout", "kolibri1_1_sources",
           "kv_bytes_of", "kv_bytes_per_token", "kv_head_count", "kv_heads", "kv_reusing_blocks",
           "kv_sources", "laguna_block_kinds", "lara_mini_layer_types", "lara_mini_unbuilt",
           "latent_block_shapes", "latent_cache_widths", "layer_shapes", "lfm2_mlp_width",
           "lfm3_layer_types", "lightning_params", "linear_attention_blocks",
           "linear_attention_params", "linear_attention_state", "lm_head_bias_params",
           "lm_head_rows", "logit_columns", "longcat_flash_block_params", "longcat_flash_values",
           "mamba1_dt_rank", "mamba1_inner", "mamba1_of_mamba_keys", "mamba1_params",
           "mamba1_state", "mamba_head_dim", "mamba_inner", "mamba_params", "mamba_shape",
           "mamba_state", "mimo_v2_flash_unbuilt", "mimo_v2_flash_values", "mimo_v2_flash_window",
           "minicpm5_moe_unbuilt", "minimax_m3_values", "minimax_unbuilt", "mla_params", "mlp_bias",
           "mlp_input_projections", "mlstm_params", "mlstm_state", "mlstm_widths", "moa_params",
           "modernbert_decoder_unbuilt", "modernbert_decoder_values", "moe_layer_range",
           "moe_layer_range_of", "nemotron_h_layer_types", "nemotron_h_pattern",
           "nemotron_h_unbuilt", "nested_value", "non_block_param_count", "norm_params",
           "normed_outputs", "norms_per_block", "num_experts", "o_bias", "one_mixer_block_params",
           "one_mixer_block_shapes", "opt_unsupported", "output_gate", "output_gate_per_head",
           "own_block_params", "own_cache_static_problem", "parallel_block", "parallel_norms",
           "per_layer_block_params", "per_layer_block_shapes", "per_layer_input_params",
           "per_layer_input_width", "per_layer_projection_params", "per_layer_value", "period_of",
           "prediction_head_params", "published_hunyuan_moe", "qk_norm", "qkv_bias",
           "query_heads_per_block", "qwen3_next_layer_types", "recurrent_blocks",
           "recurrent_gemma_unbuilt", "refuse_experts", "refuse_moe",
           "require_transformers_release", "round_up", "router_param_count", "rwkv_attention_width",
           "rwkv_block_params", "rwkv_mlp_width", "rwkv_state", "rwkv_unbuilt", "sandwich_norms",
           "sarvam_moe_unbuilt", "sdpa_not_causal", "set_block_count", "shared_expert_params",
           "short_conv_params", "sliding_windows", "sparse_mlp_blocks", "state_blocks",
           "state_in_model_dtype", "text_blocks", "tied_embeddings", "transformers_release_problem",
           "unreproduced_layout", "untaken_wrapper", "value_head_dim", "whole_period",
           "window_block_shapes", "with_boolean_flags", "with_llama_keys", "with_partial_rotary",
           "with_read_ffn_keys", "without_null_shapes", "xglm_unsupported", "xlstm_sizes",
           "xlstm_unbuilt", "zamba2_adapter_params", "zamba2_block_params", "zamba2_hybrid_ids",
           "zamba2_removal_problem", "zamba2_shared_params", "zamba2_shifted", "zamba2_slot",
           "zamba2_unbuilt", "zamba2_values", "zamba_attention_width", "zamba_block_kinds",
           "zamba_block_params", "zamba_hybrid_blocks", "zamba_kinds_unbuilt", "zamba_mamba_params",
           "zamba_needed_kinds", "zamba_shapes", "zamba_shared_params", "zamba_shared_unbuilt",
           "zamba_unbuilt", "zamba_values", "zaya_own_block_params", "zaya_router_params",
           "zaya_unbuilt", "gated_residual_params", "ple_params", "ple_ranks", "ple_sources",
           "ple_state", "indexer_positions", "ple_table_shape", "qwen4_exp_block_params", "QWEN4_EXP_INDEXER_KEYS"]
