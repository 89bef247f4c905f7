"""Each family's config keys as its transformers config class reads them, without
transformers: the values the class gives the keys a config.json leaves out (`CONFIG_DEFAULTS`),
the names a family gives LLaMA's keys (`CONFIG_KEY_NAMES`), and reading a value under its
family's name (`config_value`, `with_llama_keys`, `context_length`).
"""

from __future__ import annotations

from typing import Any


# MiMo-V2-Flash's window: 128 previous positions and the query's own, as the reference
# (SGLang) attends; 5.25's MiMoV2FlashConfig reads sliding_window_size + 1 and says 129
# without either key, 5.17's reads sliding_window alone and says 128 without it.
MIMO_V2_FLASH_WINDOW = 129


# What each family's transformers config class (5.x) gives the keys the counts, the methods'
# plans and the start's context check read, for a config.json that omits them, so that
# `config_from_dict` sizes (and bounds) the model transformers would build from it
# (tests/test_param_counting.py holds them to the classes).
# None: derived as the classes derive it (head_dim: hidden_size / heads; num_key_value_heads:
# one per query head, as configs written before transformers 4.31 mean it: LLaMA-1
# conversions, Vicuna v1.3).
_LLAMA_DEFAULTS = {"vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 11008,
                   "num_hidden_layers": 32, "num_attention_heads": 32,
                   "num_key_value_heads": None, "head_dim": None, "tie_word_embeddings": False,
                   "attention_bias": False, "mlp_bias": False, "max_position_embeddings": 2048}
_QWEN_DEFAULTS = {**_LLAMA_DEFAULTS, "vocab_size": 151936, "intermediate_size": 22016,
                  "num_key_value_heads": 32, "max_position_embeddings": 32768}
_GLM_DEFAULTS = {**_LLAMA_DEFAULTS, "vocab_size": 151552, "intermediate_size": 13696,
                 "num_hidden_layers": 40, "num_key_value_heads": 2, "head_dim": 128,
                 "attention_bias": True, "max_position_embeddings": 131072}
# Qwen3NextConfig's Gated DeltaNet, which Qwen3.5's text configs keep.
_GATED_DELTANET_DEFAULTS = {"linear_conv_kernel_dim": 4, "linear_key_head_dim": 128,
                            "linear_value_head_dim": 128, "linear_num_key_heads": 16,
                            "linear_num_value_heads": 32}
CONFIG_DEFAULTS: dict[str, dict[str, Any]] = {
    "llama": _LLAMA_DEFAULTS,
    "mistral": {**_LLAMA_DEFAULTS, "intermediate_size": 14336, "num_key_value_heads": 8,
                "max_position_embeddings": 131072},
    "qwen2": _QWEN_DEFAULTS,
    "qwen3": {**_QWEN_DEFAULTS, "head_dim": 128},
    "gemma": {**_LLAMA_DEFAULTS, "vocab_size": 256000, "hidden_size": 3072,
              "intermediate_size": 24576, "num_hidden_layers": 28, "num_attention_heads": 16,
              "num_key_value_heads": 16, "head_dim": 256, "tie_word_embeddings": True,
              "max_position_embeddings": 8192},
    "gemma2": {**_LLAMA_DEFAULTS, "vocab_size": 256000, "hidden_size": 2304,
               "intermediate_size": 9216, "num_hidden_layers": 26, "num_attention_heads": 8,
               "num_key_value_heads": 4, "head_dim": 256, "tie_word_embeddings": True,
               "max_position_embeddings": 8192, "attn_logit_softcapping": 50.0},
    "phi3": {**_LLAMA_DEFAULTS, "vocab_size": 32064, "hidden_size": 3072,
             "intermediate_size": 8192, "max_position_embeddings": 4096},
    "olmo2": {**_LLAMA_DEFAULTS, "vocab_size": 50304},
    "olmo3": {**_LLAMA_DEFAULTS, "vocab_size": 50304},
    "granite": _LLAMA_DEFAULTS,
    # HyperCLOVAXConfig's: GraniteConfig's (LLaMA's shape), the post-sublayer norms on
    "hyperclovax": {**_LLAMA_DEFAULTS, "use_post_norm": True},
    # ExaoneConfig's (EXAONE-3.0-7.8B's shape) and InternLM3Config's (internlm3-8b's; head_dim
    # 128 whatever hidden / heads)
    "exaone": {**_LLAMA_DEFAULTS, "vocab_size": 102400, "intermediate_size": 14336,
               "num_key_value_heads": 8, "max_position_embeddings": 4096},
    # IQuestCoderConfig's (IQuest-Coder-V1-40B's shape; head_dim 128 whatever hidden / heads)
    "iquestcoder": {**_LLAMA_DEFAULTS, "vocab_size": 76800, "hidden_size": 5120,
                    "intermediate_size": 27648, "num_hidden_layers": 80,
                    "num_attention_heads": 40, "num_key_value_heads": 8, "head_dim": 128,
                    "max_position_embeddings": 131072},
    "internlm3": {**_LLAMA_DEFAULTS, "vocab_size": 128512, "intermediate_size": 10240,
                  "num_hidden_layers": 48, "num_key_value_heads": 2, "head_dim": 128,
                  "max_position_embeddings": 32768},
    "smollm3": {**_LLAMA_DEFAULTS, "vocab_size": 128256, "hidden_size": 2048,
                "num_hidden_layers": 36, "num_attention_heads": 16, "num_key_value_heads": 4,
                "tie_word_embeddings": True, "max_position_embeddings": 32768},
    "ministral3": {**_LLAMA_DEFAULTS, "vocab_size": 131072, "intermediate_size": 14336,
                   "num_hidden_layers": 34, "num_key_value_heads": 8, "head_dim": 128,
                   "max_position_embeddings": 262144},
    "exaone4": {**_LLAMA_DEFAULTS, "vocab_size": 102400, "intermediate_size": 16384,
                "num_key_value_heads": 32},
    # ExaoneMoeConfig's: EXAONE-4's (MHA, a window of 4096 on three blocks of four) with a
    # dense first block (first_k_dense_replace 1: config_from_dict derives the blocks' kinds),
    # then 64 experts of 1024, 8 a token, and one shared expert; untied.
    "exaone_moe": {**_LLAMA_DEFAULTS, "vocab_size": 102400, "intermediate_size": 16384,
                   "num_key_value_heads": 32, "sliding_window": 4096,
                   "sliding_window_pattern": 4, "first_k_dense_replace": 1,
                   "moe_intermediate_size": 1024, "num_local_experts": 64,
                   "num_experts_per_tok": 8, "num_shared_experts": 1},
    # Kolibri1Config's (Kolibri-1's shape): GQA 48 / 4 heads of 128 on hidden 2560, a window
    # of 513 with every fifth block global (config_from_dict), 384 experts of 512 (6 a token)
    # and a shared expert of 512 in each of 50 blocks, untied; no dense MLP.
    "kolibri1": {**_LLAMA_DEFAULTS, "vocab_size": 128000, "hidden_size": 2560,
                 "intermediate_size": None, "num_hidden_layers": 50, "num_attention_heads": 48,
                 "num_key_value_heads": 4, "head_dim": 128, "rms_norm_eps": 1e-6,
                 "max_position_embeddings": 262144, "sliding_window": 513,
                 "moe_intermediate_size": 512, "num_local_experts": 384,
                 "num_experts_per_tok": 6, "shared_expert_intermediate_size": 512},
    # Kolibri1_1Config's (Kolibri-1.1's shape): Kolibri-1's, its global blocks indexed, blocks
    # 0 and 1 a dense MLP of 3584 (config_from_dict derives the blocks' kinds, indexers and
    # keys' sources as the class does: kolibri1_1_layout).
    "kolibri1_1": {**_LLAMA_DEFAULTS, "vocab_size": 128000, "hidden_size": 2560,
                   "intermediate_size": None, "num_hidden_layers": 50,
                   "num_attention_heads": 48, "num_key_value_heads": 4, "head_dim": 128,
                   "rms_norm_eps": 1e-6, "max_position_embeddings": 262144,
                   "sliding_window": 513, "moe_intermediate_size": 512,
                   "num_local_experts": 384, "num_experts_per_tok": 6,
                   "shared_expert_intermediate_size": 512, "mlp_only_intermediate_size": 3584},
    "glm": _GLM_DEFAULTS,
    "glm4": _GLM_DEFAULTS,
    # SeedOssConfig's: Seed-OSS-36B's shape but hidden_size 4096 (the published 5120 is not the
    # class's default), q/k/v biases on, none on o_proj (attention_out_bias).
    "seed_oss": {**_LLAMA_DEFAULTS, "vocab_size": 155136, "intermediate_size": 27648,
                 "num_hidden_layers": 64, "num_attention_heads": 80, "num_key_value_heads": 8,
                 "head_dim": 128, "attention_bias": True, "attention_out_bias": False,
                 "max_position_embeddings": 524288},
    # Ernie4_5Config's (ERNIE-4.5-0.3B's shape): biases by use_bias, tied embeddings.
    "ernie4_5": {**_LLAMA_DEFAULTS, "vocab_size": 103424, "hidden_size": 1024,
                 "intermediate_size": 3072, "num_hidden_layers": 18, "num_attention_heads": 16,
                 "num_key_value_heads": 2, "head_dim": 128, "tie_word_embeddings": True,
                 "use_bias": False, "max_position_embeddings": 131072},
    # HunYuanDenseV1Config's: LLaMA's defaults but the vocabulary (its head_dim is None, which
    # transformers cannot build: checked_config_json refuses a config.json without one).
    "hunyuan_v1_dense": {**_LLAMA_DEFAULTS, "vocab_size": 290943},
    # CohereConfig's (Command R's shape): one KV head per query head, tied embeddings, no
    # q/k norms, logits times 0.0625.
    "cohere": {**_LLAMA_DEFAULTS, "vocab_size": 256000, "hidden_size": 8192,
               "intermediate_size": 22528, "num_hidden_layers": 40, "num_attention_heads": 64,
               "tie_word_embeddings": True, "max_position_embeddings": 8192,
               "use_qk_norm": False, "logit_scale": 0.0625},
    # Cohere2Config's: Cohere's, no q/k norms, windows of 4096 on three blocks of four.
    "cohere2": {**_LLAMA_DEFAULTS, "vocab_size": 256000, "hidden_size": 8192,
                "intermediate_size": 22528, "num_hidden_layers": 40, "num_attention_heads": 64,
                "tie_word_embeddings": True, "max_position_embeddings": 8192,
                "logit_scale": 0.0625, "sliding_window": 4096},
    # CohereCompassTextConfig's: Cohere2's shape, no logit scale (1), every block global
    # where config.json gives no layer_types.
    "cohere_compass_text": {**_LLAMA_DEFAULTS, "vocab_size": 256000, "hidden_size": 8192,
                            "intermediate_size": 22528, "num_hidden_layers": 40,
                            "num_attention_heads": 64, "tie_word_embeddings": True,
                            "max_position_embeddings": 8192, "logit_scale": None,
                            "sliding_window": 4096},
    # Cohere2MoeConfig's: Cohere2's shape (head_dim 128 set apart, MHA where config.json gives
    # no KV heads, tied) with 8 experts of intermediate_size, 2 a token, no shared expert, no
    # dense block (config_from_dict derives the blocks' kinds), prefix_dense_intermediate_size
    # null (intermediate_size), LayerNorms (no rms_norm_eps).
    "cohere2_moe": {**_LLAMA_DEFAULTS, "vocab_size": 256000, "hidden_size": 8192,
                    "intermediate_size": 22528, "num_hidden_layers": 40,
                    "num_attention_heads": 64, "head_dim": 128, "tie_word_embeddings": True,
                    "max_position_embeddings": 8192, "logit_scale": 0.0625,
                    "sliding_window": 4096, "num_local_experts": 8, "num_experts_per_tok": 2,
                    "num_shared_experts": 0, "prefix_dense_intermediate_size": None},
    # StableLmConfig's (StableLM-3B-4E1T's shape): no q/k/v biases, q/k norms or parallel
    # residual, untied.
    "stablelm": {**_LLAMA_DEFAULTS, "vocab_size": 50304, "hidden_size": 2560,
                 "intermediate_size": 6912, "num_attention_heads": 32,
                 "num_key_value_heads": 32, "max_position_embeddings": 4096,
                 "use_qkv_bias": False, "qk_layernorm": False, "use_parallel_residual": False},
    # GPTNeoXConfig's (GPT-NeoX-20B's shape): one KV head per query head (num_key_value_heads
    # None: config_from_dict takes the heads), every attention projection biased, the
    # parallel residual, untied.
    "gpt_neox": {**_LLAMA_DEFAULTS, "vocab_size": 50432, "hidden_size": 6144,
                 "intermediate_size": 24576, "num_hidden_layers": 44, "num_attention_heads": 64,
                 "num_key_value_heads": None, "max_position_embeddings": 2048,
                 "attention_bias": True, "use_parallel_residual": True},
    # BloomConfig's (its own keys n_layer / n_head read as LLaMA's: CONFIG_KEY_NAMES): every
    # head its own keys and values, no width key (BloomMLP's is 4 x hidden_size: `mlp_width_default`),
    # no context length (ALiBi), tied.
    "bloom": {"vocab_size": 250880, "hidden_size": 64, "num_hidden_layers": 2,
              "num_attention_heads": 8, "num_key_value_heads": None, "head_dim": None,
              "tie_word_embeddings": True, "apply_residual_connection_post_layernorm": False},
    # MptConfig's (d_model / n_layers / n_heads read as LLaMA's keys): every head its own keys
    # and values, expansion_ratio 4 and no_bias as MptMLP and MptAttention build them whatever
    # they say (`alibi_unbuilt`), no logit scale, tied.
    "mpt": {"vocab_size": 50368, "hidden_size": 2048, "num_hidden_layers": 24,
            "num_attention_heads": 16, "num_key_value_heads": None, "head_dim": None,
            "tie_word_embeddings": True, "expansion_ratio": 4, "no_bias": True,
            "logit_scale": None, "attn_config": {}},
    # PersimmonConfig's (Persimmon-8B's shape): one KV head per query head (no key), q/k
    # LayerNorms, untied.
    "persimmon": {"vocab_size": 262144, "hidden_size": 4096, "intermediate_size": 16384,
                  "num_hidden_layers": 36, "num_attention_heads": 64,
                  "num_key_value_heads": None, "head_dim": None,
                  "max_position_embeddings": 16384, "tie_word_embeddings": False,
                  "qk_layernorm": True},
    # GPTNeoXJapaneseConfig's (gpt-neox-japanese-2.7b's shape): one KV head per query head (no
    # key), the MLP 4 x hidden_size wide (intermediate_multiple_size; no width key), tied.
    "gpt_neox_japanese": {"vocab_size": 32000, "hidden_size": 2560, "num_hidden_layers": 32,
                          "num_attention_heads": 32, "num_key_value_heads": None,
                          "head_dim": None, "intermediate_multiple_size": 4,
                          "max_position_embeddings": 2048, "tie_word_embeddings": True},
    # FalconConfig's (Falcon-7B's shape, 71 heads): multi-query, the parallel block of one
    # norm, no biases, tied; ffn_hidden_size and num_kv_heads null (4 x hidden; the heads:
    # config_from_dict derives them as the class does).
    "falcon": {"vocab_size": 65024, "hidden_size": 4544, "ffn_hidden_size": None,
               "num_hidden_layers": 32, "num_attention_heads": 71, "num_kv_heads": None,
               "num_key_value_heads": None, "head_dim": None, "max_position_embeddings": 2048,
               "tie_word_embeddings": True, "bias": False, "alibi": False,
               "new_decoder_architecture": False, "multi_query": True, "parallel_attn": True,
               "num_ln_in_parallel_attn": None},
    # ArceeConfig's: LLaMA's keys with AFM-4.5B's hidden and MLP widths (not its vocabulary or
    # depth: the class's docstring names the model, its defaults are not all the model's).
    "arcee": {**_LLAMA_DEFAULTS, "hidden_size": 2560, "intermediate_size": 18432,
              "max_position_embeddings": 4096},
    # Starcoder2Config's (StarCoder2-3B's widths, not its vocabulary or depth): biases, tied.
    "starcoder2": {**_LLAMA_DEFAULTS, "vocab_size": 49152, "hidden_size": 3072,
                   "intermediate_size": 12288, "num_hidden_layers": 30,
                   "num_attention_heads": 24, "num_key_value_heads": 2,
                   "tie_word_embeddings": True, "max_position_embeddings": 4096,
                   "use_bias": True},
    # OPTConfig's (opt-125m's shape): no KV-head or head_dim key (every head its own keys and
    # values, head_dim hidden / heads), the MLP's width as ffn_dim, tied.
    "opt": {"vocab_size": 50272, "hidden_size": 768, "ffn_dim": 3072, "num_hidden_layers": 12,
            "num_attention_heads": 12, "num_key_value_heads": None, "head_dim": None,
            "max_position_embeddings": 2048, "tie_word_embeddings": True, "enable_bias": True,
            "layer_norm_elementwise_affine": True, "do_layer_norm_before": True,
            "_remove_final_layer_norm": False, "word_embed_proj_dim": None},
    # GPTJConfig's (GPT-J-6B's shape) under LLaMA's names (config_from_dict reads GPT-J's own:
    # CONFIG_KEY_NAMES): n_inner None, an MLP of 4 x n_embd; every head its own keys and values.
    "gptj": {"vocab_size": 50400, "hidden_size": 4096, "n_inner": None, "num_hidden_layers": 28,
             "num_attention_heads": 16, "num_key_value_heads": None, "head_dim": None,
             "max_position_embeddings": 2048, "tie_word_embeddings": False},
    # CodeGenConfig's (GPT-J-6B's shape, as its class gives it) under LLaMA's names
    # (CONFIG_KEY_NAMES): n_inner None, an MLP of 4 x n_embd; untied.
    "codegen": {"vocab_size": 50400, "hidden_size": 4096, "n_inner": None,
                "num_hidden_layers": 28, "num_attention_heads": 16, "num_key_value_heads": None,
                "head_dim": None, "max_position_embeddings": 2048, "tie_word_embeddings": False},
    # GPT2Config's (gpt2's shape, 124M) under LLaMA's names (config_from_dict reads GPT-2's own:
    # CONFIG_KEY_NAMES): n_inner None, an MLP of 4 x n_embd; every head its own keys and values;
    # tied.
    "gpt2": {"vocab_size": 50257, "hidden_size": 768, "n_inner": None, "num_hidden_layers": 12,
             "num_attention_heads": 12, "num_key_value_heads": None, "head_dim": None,
             "max_position_embeddings": 1024, "tie_word_embeddings": True},
    # OpenAIGPTConfig's (openai-gpt's shape) under LLaMA's names (config_from_dict reads its
    # own: CONFIG_KEY_NAMES): an MLP of 4 x n_embd, no key; every head its own keys and
    # values; tied.
    "openai-gpt": {"vocab_size": 40478, "hidden_size": 768, "num_hidden_layers": 12,
                   "num_attention_heads": 12, "num_key_value_heads": None, "head_dim": None,
                   "max_position_embeddings": 512, "tie_word_embeddings": True},
    # GPTBigCodeConfig's (GPT-2's sizes, its own keys read as LLaMA's: CONFIG_KEY_NAMES):
    # n_inner None, an MLP of 4 x n_embd; multi_query, one KV head (config_from_dict derives
    # it); tied.
    "gpt_bigcode": {"vocab_size": 50257, "hidden_size": 768, "n_inner": None,
                    "num_hidden_layers": 12, "num_attention_heads": 12,
                    "num_key_value_heads": None, "head_dim": None,
                    "max_position_embeddings": 1024, "tie_word_embeddings": True,
                    "multi_query": True},
    # GPTNeoConfig's (gpt-neo-1.3B's shape; num_layers / num_heads read as LLaMA's keys:
    # CONFIG_KEY_NAMES): intermediate_size None, an MLP of 4 x hidden_size; tied.
    "gpt_neo": {"vocab_size": 50257, "hidden_size": 2048, "intermediate_size": None,
                "num_hidden_layers": 24, "num_attention_heads": 16,
                "num_key_value_heads": None, "head_dim": None,
                "max_position_embeddings": 2048, "tie_word_embeddings": True},
    # XGLMConfig's (xglm-564M's shape) under LLaMA's names (config_from_dict reads XGLM's own:
    # CONFIG_KEY_NAMES): no KV-head or head_dim key, the MLP's width as ffn_dim, scaled
    # embeddings, tied.
    "xglm": {"vocab_size": 256008, "hidden_size": 1024, "ffn_dim": 4096,
             "num_hidden_layers": 24, "num_attention_heads": 16, "num_key_value_heads": None,
             "head_dim": None, "max_position_embeddings": 2048, "tie_word_embeddings": True,
             "scale_embedding": True},
    # CTRLConfig's (Salesforce/ctrl's shape) under LLaMA's names (config_from_dict reads its
    # own: CONFIG_KEY_NAMES): every head its own keys and values, the MLP's width as dff, tied.
    "ctrl": {"vocab_size": 246534, "hidden_size": 1280, "dff": 8192, "num_hidden_layers": 48,
             "num_attention_heads": 16, "num_key_value_heads": None, "head_dim": None,
             "max_position_embeddings": 256, "tie_word_embeddings": True},
    # BioGptConfig's (microsoft/biogpt's shape): LLaMA's names, no KV-head or head_dim key,
    # 1024 positions, scaled embeddings, tied.
    "biogpt": {"vocab_size": 42384, "hidden_size": 1024, "intermediate_size": 4096,
               "num_hidden_layers": 24, "num_attention_heads": 16, "num_key_value_heads": None,
               "head_dim": None, "max_position_embeddings": 1024, "tie_word_embeddings": True,
               "scale_embedding": True},
    # PhiConfig's: no q/k norms, untied.
    "phi": {**_LLAMA_DEFAULTS, "vocab_size": 51200, "hidden_size": 2048,
            "intermediate_size": 8192, "num_hidden_layers": 24, "qk_layernorm": False},
    # NemotronConfig's (Nemotron-4 15B's shape): head_dim hidden / heads when left out, and
    # num_key_value_heads None, which transformers cannot build (checked_config_json refuses a
    # config.json without it).
    "nemotron": {**_LLAMA_DEFAULTS, "vocab_size": 256000, "hidden_size": 6144,
                 "intermediate_size": 24576, "num_attention_heads": 48,
                 "max_position_embeddings": 4096},
    # Jais2Config's (its class's default shape, Jais-2-8B's): biased attention and MLP.
    "jais2": {**_LLAMA_DEFAULTS, "vocab_size": 150272, "hidden_size": 3328,
              "intermediate_size": 26624, "num_attention_heads": 26,
              "max_position_embeddings": 8192, "attention_bias": True, "mlp_bias": True},
    # NanoChatConfig's (nanochat's d12 shape): no head_dim key (hidden / heads), untied.
    "nanochat": {**_LLAMA_DEFAULTS, "vocab_size": 50304, "hidden_size": 768,
                 "intermediate_size": 8192, "num_hidden_layers": 12, "num_attention_heads": 6},
    # Emu3TextConfig's (Emu3-Chat-hf's language model): 184,622 tokens (text, special and the
    # 32,768 image tokens), 8 KV heads, untied.
    "emu3_text_model": {**_LLAMA_DEFAULTS, "vocab_size": 184622, "intermediate_size": 14336,
                        "num_key_value_heads": 8, "max_position_embeddings": 9216},
    "diffllama": {**_LLAMA_DEFAULTS, "hidden_size": 2048, "intermediate_size": 8192,
                  "num_hidden_layers": 16},
    "bitnet": {**_LLAMA_DEFAULTS, "vocab_size": 128256, "hidden_size": 2560,
               "intermediate_size": 6912, "num_hidden_layers": 30, "num_attention_heads": 20,
               "num_key_value_heads": 5},
    # DogeConfig's (Doge-320M's shape): no head_dim key (hidden / heads), KV heads = heads.
    # DoryConfig's (Dory1.0-4B's shape): 8 input, 20 recurrent (the rest) and 8 output blocks,
    # the recurrent ones looped twice; a sliding_attention block but every fourth.
    "dory": {**_LLAMA_DEFAULTS, "vocab_size": 131072, "hidden_size": 2560,
             "intermediate_size": 7168, "num_hidden_layers": 36, "num_attention_heads": 16,
             "num_key_value_heads": 4, "head_dim": 256, "max_position_embeddings": 8192,
             "sliding_window": 1024, "layer_types": None, "n_input_layers": 8,
             "n_recurrent_layers": None, "n_output_layers": 8, "n_recurrent_loops": 2,
             "recurrent_kv_cache_mode": "per_loop"},
    "doge": {**_LLAMA_DEFAULTS, "vocab_size": 32768, "hidden_size": 1024,
             "intermediate_size": 2048, "num_hidden_layers": 32, "num_attention_heads": 8},
    # MllamaTextConfig's (Llama 3.2 11B Vision's language model): 40 blocks, 8 of them
    # cross-attention blocks, 128,256 tokens (and 8 image rows), untied.
    "mllama_text_model": {**_LLAMA_DEFAULTS, "vocab_size": 128256, "intermediate_size": 14336,
                          "num_hidden_layers": 40, "num_key_value_heads": 8,
                          "max_position_embeddings": 131072,
                          "cross_attention_layers": [3, 8, 13, 18, 23, 28, 33, 38]},
    # ModernBertDecoderConfig's (ModernBERT-base's shape): KV heads = heads, tied; its LM
    # head's bias on (decoder_bias), no other bias.
    "modernbert-decoder": {**_LLAMA_DEFAULTS, "vocab_size": 50368, "hidden_size": 768,
                           "intermediate_size": 1152, "num_hidden_layers": 22,
                           "num_attention_heads": 12, "max_position_embeddings": 8192,
                           "tie_word_embeddings": True, "norm_bias": False,
                           "decoder_bias": True, "classifier_bias": False,
                           "global_attn_every_n_layers": 3, "local_attention": 128},
    "mixtral": {**_LLAMA_DEFAULTS, "intermediate_size": 14336, "num_key_value_heads": 8,
                "max_position_embeddings": 131072, "num_local_experts": 8,
                "num_experts_per_tok": 2},
    # MiniMaxConfig's (5.17, 5.25): Mixtral's; without layer_types, full attention in the
    # even blocks and lightning attention in the odd ones (config_from_dict).
    "minimax": {**_LLAMA_DEFAULTS, "intermediate_size": 14336, "num_key_value_heads": 8,
                "max_position_embeddings": 131072, "num_local_experts": 8,
                "num_experts_per_tok": 2},
    # Qwen3MoeConfig's num_local_experts, which its published config.json files write as
    # num_experts (config_from_dict maps one onto the other, as the class does).
    "qwen3_moe": {**_QWEN_DEFAULTS, "hidden_size": 2048, "intermediate_size": 6144,
                  "num_hidden_layers": 24, "num_key_value_heads": 4,
                  "moe_intermediate_size": 768, "num_local_experts": 128,
                  "num_experts_per_tok": 8, "mlp_only_layers": [], "decoder_sparse_step": 1},
    # FlintConfig's (Flint's shape): GQA 32 / 4 heads of 128 on hidden 2048, a window of 513
    # (the full-attention blocks by config_from_dict), 256 experts of 512 (6 a token) and a
    # shared expert of 1024 in the blocks but the two dense ones of 6144 (mlp_only_layers
    # [0, 1] where null), 49 blocks, untied.
    "flint": {**_QWEN_DEFAULTS, "vocab_size": 150144, "hidden_size": 2048,
              "intermediate_size": 6144, "num_hidden_layers": 49, "num_key_value_heads": 4,
              "head_dim": 128, "rms_norm_eps": 1e-6, "max_position_embeddings": 262144,
              "sliding_window": 513, "moe_intermediate_size": 512, "num_local_experts": 256,
              "num_experts_per_tok": 6, "shared_expert_intermediate_size": 1024,
              "decoder_sparse_step": 1},
    # OlmoeConfig's: intermediate_size is an expert's width; num_experts in config.json too.
    "olmoe": {**_LLAMA_DEFAULTS, "vocab_size": 50304, "hidden_size": 2048,
              "intermediate_size": 2048, "num_hidden_layers": 16, "num_attention_heads": 16,
              "max_position_embeddings": 4096, "num_local_experts": 64,
              "num_experts_per_tok": 8},
    # Qwen2MoeConfig's (Qwen1.5-MoE-A2.7B's shape): num_experts in its class and config.json
    # (held as num_local_experts here, as config_from_dict maps it), q/k/v biases by `qkv_bias`.
    "qwen2_moe": {**_QWEN_DEFAULTS, "hidden_size": 2048, "intermediate_size": 5632,
                  "num_hidden_layers": 24, "num_attention_heads": 16, "num_key_value_heads": 16,
                  "moe_intermediate_size": 1408, "shared_expert_intermediate_size": 5632,
                  "num_local_experts": 60, "num_experts_per_tok": 4, "mlp_only_layers": [],
                  "decoder_sparse_step": 1, "qkv_bias": True},
    # OlmoConfig's: LLaMA-7B's shape with OLMo's vocabulary and no clamp.
    "olmo": {**_LLAMA_DEFAULTS, "vocab_size": 50304, "clip_qkv": None},
    # PhimoeConfig's (Phi-3.5-MoE's shape): 16 experts of intermediate_size, 2 a token.
    "phimoe": {**_LLAMA_DEFAULTS, "vocab_size": 32064, "intermediate_size": 6400,
               "num_key_value_heads": 8, "max_position_embeddings": 131072,
               "num_local_experts": 16, "num_experts_per_tok": 2, "attention_bias": False,
               "lm_head_bias": False},
    # GraniteMoeConfig's: LLaMA's defaults with 8 experts, 2 per token.
    "granitemoe": {**_LLAMA_DEFAULTS, "num_local_experts": 8, "num_experts_per_tok": 2},
    # GraniteMoeSharedConfig's: GraniteMoE's, with no shared MLP (shared_intermediate_size 0).
    "granitemoeshared": {**_LLAMA_DEFAULTS, "num_local_experts": 8, "num_experts_per_tok": 2,
                         "shared_intermediate_size": 0},
    # GraniteMoeSWAConfig's: GraniteMoE-Shared's, a window of 128 (config_from_dict derives
    # the blocks' kinds: each fourth from block 0 full, the others sliding).
    "granitemoe_swa": {**_LLAMA_DEFAULTS, "num_local_experts": 8, "num_experts_per_tok": 2,
                       "shared_intermediate_size": 0, "sliding_window": 128},
    # GptOssConfig's (the 120B's shape): experts of intermediate_size, head_dim 64 set apart,
    # biases on the four attention projections; layer_types alternate from a sliding block.
    "gpt_oss": {**_LLAMA_DEFAULTS, "vocab_size": 201088, "hidden_size": 2880,
                "intermediate_size": 2880, "num_hidden_layers": 36, "num_attention_heads": 64,
                "num_key_value_heads": 8, "head_dim": 64, "attention_bias": True,
                "max_position_embeddings": 131072, "num_local_experts": 128,
                "num_experts_per_tok": 4, "sliding_window": 128},
    # DeepseekV3Config's (DeepSeek-V3's shape): n_routed_experts in its class and config.json
    # (held as num_local_experts here, as the class's attribute_map does); head_dim is the
    # class's qk_rope_head_dim.
    "deepseek_v3": {**_LLAMA_DEFAULTS, "vocab_size": 129280, "hidden_size": 7168,
                    "intermediate_size": 18432, "moe_intermediate_size": 2048,
                    "num_hidden_layers": 61, "num_attention_heads": 128,
                    "num_key_value_heads": 128, "n_shared_experts": 1, "num_local_experts": 256,
                    "kv_lora_rank": 512, "q_lora_rank": 1536, "qk_rope_head_dim": 64,
                    "v_head_dim": 128, "qk_nope_head_dim": 128, "num_experts_per_tok": 8,
                    "first_k_dense_replace": 3, "max_position_embeddings": 4096,
                    "head_dim": 64},
    # SarvamMLAConfig's (its class's defaults): DeepSeek-V3's latent attention of 64 heads
    # (KV heads None: one a query head) without a query rank on hidden 4096, block 0 dense (16384), then 128 experts of 2048 (8
    # a token) and one shared expert in each of 31 blocks, untied.
    "sarvam_mla": {**_LLAMA_DEFAULTS, "vocab_size": 262144, "intermediate_size": 16384,
                   "moe_intermediate_size": 2048, "num_attention_heads": 64,
                   "num_key_value_heads": None, "n_shared_experts": 1, "num_local_experts": 128,
                   "kv_lora_rank": 512, "q_lora_rank": None, "qk_rope_head_dim": 64,
                   "v_head_dim": 128, "qk_nope_head_dim": 128, "num_experts_per_tok": 8,
                   "first_k_dense_replace": 1, "max_position_embeddings": 4096,
                   "head_dim": 64},
    # DeepseekV32Config's (DeepSeek-V3.2-Exp's shape): DeepSeek-V3's, its dense prefix read
    # as mlp_layer_types (config_from_dict derives them from first_k_dense_replace), and an
    # indexer of 64 heads of 128 keeping 2048 keys a query.
    "deepseek_v32": {**_LLAMA_DEFAULTS, "vocab_size": 129280, "hidden_size": 7168,
                     "intermediate_size": 18432, "moe_intermediate_size": 2048,
                     "num_hidden_layers": 61, "num_attention_heads": 128,
                     "num_key_value_heads": 128, "n_shared_experts": 1,
                     "num_local_experts": 256, "kv_lora_rank": 512, "q_lora_rank": 1536,
                     "qk_rope_head_dim": 64, "v_head_dim": 128, "qk_nope_head_dim": 128,
                     "num_experts_per_tok": 8, "first_k_dense_replace": 3,
                     "max_position_embeddings": 163840, "head_dim": 64, "index_topk": 2048,
                     "index_head_dim": 128, "index_n_heads": 64},
    # AXK1Config's (A.X K1's shape): DeepSeek-V3's with 64 heads, 192 experts and a vocab of
    # 163840, one dense block first (first_k_dense_replace, the kinds derived by
    # config_from_dict), a 32768-token context.
    "axk1": {**_LLAMA_DEFAULTS, "vocab_size": 163840, "hidden_size": 7168,
             "intermediate_size": 18432, "moe_intermediate_size": 2048,
             "num_hidden_layers": 61, "num_attention_heads": 64, "num_key_value_heads": 64,
             "n_shared_experts": 1, "num_local_experts": 192, "kv_lora_rank": 512,
             "q_lora_rank": 1536, "qk_rope_head_dim": 64, "v_head_dim": 128,
             "qk_nope_head_dim": 128, "num_experts_per_tok": 8, "first_k_dense_replace": 1,
             "max_position_embeddings": 32768, "head_dim": 64},
    # AXK2Config's (its class's defaults, A.X K2-Light's scale): 48 blocks of hidden 2048, 32
    # heads of latent attention (query rank 384, KV rank 128, 64 + 32 query/key channels,
    # values of 64), block 0 dense of 5120 (mlp_layer_types derived by config_from_dict), then
    # 128 experts of 512 (8 a token) and one shared, an indexer of 16 heads of 128 keeping
    # 2048 keys in every block, norm gates of rank 16.
    "axk2": {**_LLAMA_DEFAULTS, "vocab_size": 163840, "hidden_size": 2048,
             "intermediate_size": 5120, "moe_intermediate_size": 512,
             "num_hidden_layers": 48, "num_attention_heads": 32, "num_key_value_heads": 32,
             "n_shared_experts": 1, "num_local_experts": 128, "kv_lora_rank": 128,
             "q_lora_rank": 384, "qk_rope_head_dim": 32, "v_head_dim": 64,
             "qk_nope_head_dim": 64, "num_experts_per_tok": 8,
             "max_position_embeddings": 131072, "head_dim": 32, "index_topk": 2048,
             "index_head_dim": 128, "index_n_heads": 16, "gated_norm_rank": 16},
    # GlmMoeDsaConfig's (GLM-5's shape): 78 blocks of hidden 6144, 64 heads of latent
    # attention (query rank 2048, 192 + 64 query/key channels, values of 256), 3 dense blocks
    # of 12288 then 256 experts of 2048 (8 a token) and one shared, an indexer of 32 heads of
    # 128 keeping 2048 keys (indexer_types derived by config_from_dict).
    "glm_moe_dsa": {**_LLAMA_DEFAULTS, "vocab_size": 154880, "hidden_size": 6144,
                    "intermediate_size": 12288, "moe_intermediate_size": 2048,
                    "num_hidden_layers": 78, "num_attention_heads": 64,
                    "num_key_value_heads": 64, "n_shared_experts": 1,
                    "num_local_experts": 256, "kv_lora_rank": 512, "q_lora_rank": 2048,
                    "qk_rope_head_dim": 64, "v_head_dim": 256, "qk_nope_head_dim": 192,
                    "num_experts_per_tok": 8, "first_k_dense_replace": 3,
                    "max_position_embeddings": 202752, "head_dim": 64, "index_topk": 2048,
                    "index_head_dim": 128, "index_n_heads": 32, "rms_norm_eps": 1e-5},
    # InklingTextConfig's (5.25): 66 blocks of hidden 6144, full-attention blocks of 64 heads
    # on 8 KV heads of 128 (every sixth), the others windowed over 512 tokens with 64 heads on
    # 16 KV heads of 128, relative states of 16 a head over 1024 positions, kernels of 4,
    # 256 experts of 3072 (6 a token) and 2 shared in every block, untied (layer_types and
    # mlp_layer_types derived by config_from_dict).
    "inkling_text": {**_LLAMA_DEFAULTS, "vocab_size": 201024, "hidden_size": 6144,
                     "intermediate_size": 24576, "moe_intermediate_size": 3072,
                     "num_hidden_layers": 66, "num_attention_heads": 64,
                     "num_key_value_heads": 8, "head_dim": 128, "swa_num_attention_heads": 64,
                     "swa_num_key_value_heads": 16, "swa_head_dim": 128,
                     "sliding_window": 512, "d_rel": 16, "rel_extent": 1024,
                     "conv_kernel_size": 4, "num_local_experts": 256, "num_experts_per_tok": 6,
                     "n_shared_experts": 2, "max_position_embeddings": 131072,
                     "rms_norm_eps": 1e-6, "tie_word_embeddings": False,
                     "unpadded_vocab_size": None, "bos_token_id": 1, "eos_token_id": 2},
    # Inkling2TextConfig's (5.25): 48 blocks of hidden 4608, full-attention blocks of 48 heads
    # on 8 KV heads of 128 (every sixth), the others windowed over 1024 tokens with as many,
    # relative states of 16 a head over 1024 positions, kernels of 4, 384 experts of 2304 (8
    # a token) in every block, groups of 6 blocks, untied over 200058 of 201024 rows
    # (layer_types derived by config_from_dict).
    "inkling2_text": {**_LLAMA_DEFAULTS, "vocab_size": 201024, "unpadded_vocab_size": 200058,
                      "hidden_size": 4608, "intermediate_size": 2304,
                      "moe_intermediate_size": 2304, "num_hidden_layers": 48,
                      "num_attention_heads": 48, "num_key_value_heads": 8, "head_dim": 128,
                      "swa_num_attention_heads": 48, "swa_num_key_value_heads": 8,
                      "swa_head_dim": 128, "sliding_window": 1024, "d_rel": 16,
                      "rel_extent": 1024, "conv_kernel_size": 4, "num_local_experts": 384,
                      "num_experts_per_tok": 8, "n_layers_per_attn_res_block": 6,
                      "max_position_embeddings": 1048576, "rms_norm_eps": 1e-6,
                      "tie_word_embeddings": False, "bos_token_id": None,
                      "eos_token_id": 200006},
    # HYV4Config's (its class's defaults): 34 blocks of hidden 2816, 32 heads of latent
    # attention (query rank 1536, KV rank 512, 192 + 64 query/key channels, values of 256),
    # block 0 dense of 6912, then 256 experts of 768 (8 a token) and one shared, an indexer of
    # 16 heads of 128 keeping 2048 keys, 4 residual streams (indexer_types, mlp_layer_types,
    # head_dim and the KV heads derived by config_from_dict).
    "hy_v4": {**_LLAMA_DEFAULTS, "vocab_size": 120832, "hidden_size": 2816,
              "intermediate_size": 6912, "moe_intermediate_size": 768,
              "num_hidden_layers": 34, "num_attention_heads": 32, "num_key_value_heads": 32,
              "num_local_experts": 256, "n_shared_experts": 1, "num_experts_per_tok": 8,
              "kv_lora_rank": 512, "q_lora_rank": 1536, "qk_rope_head_dim": 64,
              "qk_nope_head_dim": 192, "v_head_dim": 256, "head_dim": 64,
              "max_position_embeddings": 262144, "rms_norm_eps": 1e-5, "index_topk": 2048,
              "index_head_dim": 128, "index_n_heads": 16, "hc_mult": 4},
    # DeepseekV4Config's (its class's defaults, V4-Flash's shape): 43 blocks of hidden 4096, 64
    # query heads of 512 (query rank 1024) and one key-value head, 8 output groups of rank 1024,
    # 256 experts of 2048 (6 a token) and one shared, an indexer of 64 heads of 128, 4 residual
    # streams (layer_types, mlp_layer_types and compress_rates derived by deepseek_v4_values).
    "deepseek_v4": {**_LLAMA_DEFAULTS, "vocab_size": 129280, "hidden_size": 4096,
                    "intermediate_size": 2048, "moe_intermediate_size": 2048, "num_hidden_layers": 43,
                    "num_attention_heads": 64, "num_key_value_heads": 1, "head_dim": 512,
                    "q_lora_rank": 1024, "num_experts_per_tok": 6, "num_local_experts": 256,
                    "n_shared_experts": 1, "max_position_embeddings": 1048576,
                    "rms_norm_eps": 1e-6, "hc_mult": 4, "o_groups": 8, "o_lora_rank": 1024,
                    "index_n_heads": 64, "index_head_dim": 128, "index_topk": 512,
                    "sliding_window": 128, "layer_types": None, "mlp_layer_types": None,
                    "compress_rates": None, "tie_word_embeddings": False,
                    "bos_token_id": 0, "eos_token_id": 1},
    # Dots3NoteTextConfig's (Dots 3 Note's shape): 46 blocks of hidden 5120, 128 heads of latent
    # attention (query rank 1024, KV rank 512, 128 + 64 query/key channels, values of 128) in
    # the indexed blocks, the sliding blocks' own from the swa_* keys (dots3_values), block 0
    # dense of 13824, then 256 experts of 1536 (8 a token) and one shared of 1536, an indexer
    # of 64 heads of 128 keeping 2048 keys, a 512-token window, a 524288-token context.
    "dots3_note_text": {**_LLAMA_DEFAULTS, "vocab_size": 152064, "hidden_size": 5120,
                        "intermediate_size": 13824, "moe_intermediate_size": 1536,
                        "num_hidden_layers": 46, "num_attention_heads": 128,
                        "num_key_value_heads": 128, "n_shared_experts": 1,
                        "num_local_experts": 256, "kv_lora_rank": 512, "q_lora_rank": 1024,
                        "qk_rope_head_dim": 64, "v_head_dim": 128, "qk_nope_head_dim": 128,
                        "num_experts_per_tok": 8, "max_position_embeddings": 524288,
                        "head_dim": 256, "index_topk": 2048, "index_head_dim": 128,
                        "index_n_heads": 64, "rms_norm_eps": 1e-5,
                        "shared_experts_intermediate_size": 1536, "sliding_window": None},
    # DeepseekV2Config's: n_routed_experts 64 of 1407, 2 shared, no dense prefix, q_lora_rank
    # 1536; its num_experts_per_tok has no default (None: a config.json gives it).
    "deepseek_v2": {**_LLAMA_DEFAULTS, "vocab_size": 102400, "max_position_embeddings": 2048,
                    "moe_intermediate_size": 1407, "n_shared_experts": 2,
                    "num_local_experts": 64, "kv_lora_rank": 512, "q_lora_rank": 1536,
                    "qk_rope_head_dim": 64, "v_head_dim": 128, "qk_nope_head_dim": 128,
                    "num_experts_per_tok": None, "first_k_dense_replace": 0, "head_dim": 64},
    # MiniCPM3Config's (MiniCPM3-4B's shape, as its class says), tied; v_head_dim None is
    # hidden_size / heads and head_dim the class's qk_rope_head_dim (config_from_dict).
    "minicpm3": {**_LLAMA_DEFAULTS, "vocab_size": 73448, "hidden_size": 2560,
                 "intermediate_size": 6400, "num_hidden_layers": 62, "num_attention_heads": 40,
                 "num_key_value_heads": 40, "max_position_embeddings": 32768,
                 "tie_word_embeddings": True, "kv_lora_rank": 256, "q_lora_rank": 768,
                 "qk_nope_head_dim": 64, "qk_rope_head_dim": 32, "v_head_dim": None,
                 "head_dim": 32, "scale_depth": 1.4},
    # YoutuConfig's (Youtu-LLM-2B's shape, as its class says): DeepSeek-V3's latent attention
    # keys (head_dim the class's qk_rope_head_dim), a dense MLP of 6144 in each of 32 blocks,
    # tied.
    "youtu": {**_LLAMA_DEFAULTS, "vocab_size": 128256, "hidden_size": 2048,
              "intermediate_size": 6144, "num_hidden_layers": 32, "num_attention_heads": 16,
              "num_key_value_heads": 16, "max_position_embeddings": 131072,
              "tie_word_embeddings": True, "kv_lora_rank": 512, "q_lora_rank": 1536,
              "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128,
              "head_dim": 64, "rms_norm_eps": 1e-6},
    # Mistral4Config's (Mistral Small 4's shape, its docstring's checkpoint): n_routed_experts
    # in its class and config.json (held as num_local_experts here, as its attribute_map
    # does); head_dim is the class's qk_nope_head_dim + qk_rope_head_dim.
    "mistral4": {**_LLAMA_DEFAULTS, "vocab_size": 131072, "intermediate_size": 12288,
                 "num_hidden_layers": 36, "num_key_value_heads": 32,
                 "max_position_embeddings": 1048576, "moe_intermediate_size": 2048,
                 "n_shared_experts": 1, "num_local_experts": 128, "kv_lora_rank": 256,
                 "q_lora_rank": 1024, "qk_rope_head_dim": 64, "v_head_dim": 128,
                 "qk_nope_head_dim": 64, "num_experts_per_tok": 4, "first_k_dense_replace": 0,
                 "head_dim": 128},
    # Glm4MoeConfig's (GLM-4.5-Air's shape): n_routed_experts in its class and config.json
    # (held as num_local_experts here, as its attribute_map does); no head_dim of its own
    # (the attention takes hidden_size / heads where config.json gives none: the published
    # ones give 128), no q/k norms, one dense first block.
    "glm4_moe": {**_LLAMA_DEFAULTS, "vocab_size": 151552, "intermediate_size": 10944,
                 "num_hidden_layers": 46, "num_attention_heads": 96, "num_key_value_heads": 8,
                 "max_position_embeddings": 131072, "moe_intermediate_size": 1408,
                 "num_local_experts": 128, "num_experts_per_tok": 8, "n_shared_experts": 1,
                 "first_k_dense_replace": 1, "use_qk_norm": False},
    # SarvamMoEConfig's (sarvam-30b's shape, as its class says): GQA 64 / 4 heads of 64 on
    # hidden 4096 with q/k norms, block 0 dense (8192), then 128 experts of 1024 (6 a token)
    # and one shared expert in each of 18 blocks, untied.
    "sarvam_moe": {**_LLAMA_DEFAULTS, "vocab_size": 262144, "intermediate_size": 8192,
                   "num_hidden_layers": 19, "num_attention_heads": 64, "num_key_value_heads": 4,
                   "head_dim": 64, "max_position_embeddings": 131072,
                   "moe_intermediate_size": 1024, "num_local_experts": 128,
                   "num_experts_per_tok": 6, "n_shared_experts": 1, "first_k_dense_replace": 1,
                   "use_qk_norm": True},
    # Param2MoeConfig's (Param2-17B-A2.4B's shape, as its class says): GQA 32 / 8 heads of 64
    # on hidden 2048 with q/k norms, block 0 dense (9216), then 64 experts of 2048 (6 a token)
    # and 2 shared experts in each of 20 blocks, tied.
    "param2moe": {**_LLAMA_DEFAULTS, "vocab_size": 128000, "hidden_size": 2048,
                  "intermediate_size": 9216, "num_hidden_layers": 21, "num_attention_heads": 32,
                  "num_key_value_heads": 8, "head_dim": 64, "tie_word_embeddings": True,
                  "max_position_embeddings": 32768, "moe_intermediate_size": 2048,
                  "num_local_experts": 64, "num_experts_per_tok": 6, "n_shared_experts": 2,
                  "first_k_dense_replace": 1, "use_qk_norm": True},
    # Glm4MoeLiteConfig's (GLM-4.7-Flash's shape, as its class says): DeepSeek-V3's latent
    # attention keys (head_dim the class's qk_rope_head_dim), block 0 dense (10240), then 64
    # experts of 1536, 4 a token, and one shared expert in each of 46 blocks; untied.
    # LongcatFlashConfig's (5.25: its docstring names LongCat-Flash-Chat's shape): 28 blocks
    # (num_layers; num_hidden_layers 56, config_from_dict) of two latent attentions of 64
    # heads on hidden 6144, two dense MLPs of 12288 and a router over 512 experts of 2048 and
    # 256 zero experts (12 a token), untied: 560,664,958,976 parameters.
    "longcat_flash": {**_LLAMA_DEFAULTS, "vocab_size": 131072, "hidden_size": 6144,
                      "num_layers": 28, "ffn_hidden_size": 12288, "num_attention_heads": 64,
                      "max_position_embeddings": 131072, "kv_lora_rank": 512,
                      "q_lora_rank": 1536, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64,
                      "v_head_dim": 128, "head_dim": 64, "num_local_experts": 512,
                      "num_experts_per_tok": 12, "zero_expert_num": 256,
                      "expert_ffn_hidden_size": 2048, "router_bias": False},
    "glm4_moe_lite": {**_LLAMA_DEFAULTS, "vocab_size": 154880, "hidden_size": 2048,
                      "intermediate_size": 10240, "num_hidden_layers": 47,
                      "num_attention_heads": 20, "num_key_value_heads": 20,
                      "max_position_embeddings": 202752, "moe_intermediate_size": 1536,
                      "num_local_experts": 64, "num_experts_per_tok": 4, "n_shared_experts": 1,
                      "kv_lora_rank": 512, "q_lora_rank": 768, "qk_nope_head_dim": 192,
                      "qk_rope_head_dim": 64, "v_head_dim": 256, "head_dim": 64},
    # MiniCPM5MoeConfig's (MiniCPM5-15B-A2.5B's shape): GQA 32 / 2 heads of 128 on hidden
    # 2048, the first block dense of 8192 (config_from_dict), then 160 experts of 512 (16 a
    # token) and one shared expert, 28 blocks, untied.
    "minicpm5_moe": {**_LLAMA_DEFAULTS, "vocab_size": 130560, "hidden_size": 2048,
                     "intermediate_size": 8192, "num_hidden_layers": 28,
                     "num_attention_heads": 32, "num_key_value_heads": 2, "head_dim": 128,
                     "rms_norm_eps": 1e-6, "max_position_embeddings": 524288,
                     "moe_intermediate_size": 512, "num_local_experts": 160,
                     "num_experts_per_tok": 16, "n_shared_experts": 1},
    # ErgoConfig's: GQA 64 / 8 heads of 128 (hidden / heads) on hidden 8192, a window of 512
    # with every fourth block global (config_from_dict), block 0 dense of 32768, then 256
    # experts of 4096 (8 a token) and a shared expert of 8192, 64 blocks, never tied.
    "ergo": {**_LLAMA_DEFAULTS, "vocab_size": 262144, "hidden_size": 8192,
             "intermediate_size": None, "num_hidden_layers": 64, "num_attention_heads": 64,
             "num_key_value_heads": 8, "rms_norm_eps": 1e-12, "max_position_embeddings": 524288,
             "sliding_window": 512, "global_attention_every_n_layers": 4, "num_dense_blocks": 1,
             "first_dense_intermediate_size": 32768, "moe_intermediate_size": 4096,
             "num_local_experts": 256, "num_experts_per_tok": 8,
             "shared_intermediate_size": 8192},
    # ZayaConfig's (5.17, 5.25; ZAYA1-8B's shape): GQA 8 / 2 heads of 128 on hidden 2048, 16
    # experts of 2048 (one a token) behind a router of 256 in each of 40 "hybrid" blocks
    # (config_from_dict), convolutions of 2 taps, tied, no LM head bias.
    "zaya": {**_LLAMA_DEFAULTS, "vocab_size": 262272, "hidden_size": 2048,
             "intermediate_size": None, "num_hidden_layers": 40, "num_attention_heads": 8,
             "num_key_value_heads": 2, "head_dim": 128, "rms_norm_eps": 1e-5,
             "max_position_embeddings": 131072, "tie_word_embeddings": True,
             "moe_intermediate_size": 2048, "num_local_experts": 16, "num_experts_per_tok": 1,
             "router_hidden_size": 256, "cca_time0": 2, "cca_time1": 2,
             "lm_head_bias": False, "sliding_window": None, "layer_types": None,
             "pad_token_id": 0, "bos_token_id": 2, "eos_token_id": 106},
    # AriaTextConfig's: MHA (KV heads None: one a query head) of 32 heads on hidden 4096,
    # 8 experts of 4096 (2 a token) and 2 shared experts in each of 32 blocks, untied.
    "aria_text": {**_LLAMA_DEFAULTS, "intermediate_size": 4096, "num_local_experts": 8,
                  "num_experts_per_tok": 2, "moe_num_shared_experts": 2},
    # SolarOpenConfig's (Solar Open 100B's shape): GQA 64 / 8 heads of 128 on hidden 4096,
    # 128 experts of 1280 (8 a token) and one shared expert in each of 48 blocks, untied; no
    # dense MLP (no intermediate_size).
    "solar_open": {**_LLAMA_DEFAULTS, "vocab_size": 196608, "intermediate_size": None,
                   "num_hidden_layers": 48, "num_attention_heads": 64,
                   "num_key_value_heads": 8, "head_dim": 128,
                   "max_position_embeddings": 131072, "moe_intermediate_size": 1280,
                   "num_local_experts": 128, "num_experts_per_tok": 8, "n_shared_experts": 1},
    # AfmoeConfig's (Trinity-Mini's shape): 16 heads of 128 (MHA where config.json gives no KV
    # heads) on hidden 2048, one dense block of 6144 (num_dense_layers), 64 experts of 1408
    # (6 a token) and 2 shared experts, a window of 1024 on all but each fourth block, untied.
    "afmoe": {**_LLAMA_DEFAULTS, "vocab_size": 200192, "hidden_size": 2048,
              "intermediate_size": 6144, "num_attention_heads": 16, "head_dim": 128,
              "max_position_embeddings": 16384, "moe_intermediate_size": 1408,
              "num_local_experts": 64, "num_experts_per_tok": 6, "num_shared_experts": 2,
              "num_dense_layers": 1, "global_attn_every_n_layers": 4, "sliding_window": 1024},
    # BeamConfig's (Beam-1.0-501B-A23B's, as its docstring names it: 501,267,599,808
    # parameters): 52 blocks of hidden 5120, 48 query heads of 128 on 8 KV heads, a window
    # of 512 on all but each sixth block and the last, three dense blocks of 20480, then 256
    # experts of 2560 (8 a token, 4 of 8 groups), untied (layer_types and mlp_layer_types
    # derived by config_from_dict).
    "beam": {**_LLAMA_DEFAULTS, "vocab_size": 151936, "hidden_size": 5120,
             "intermediate_size": 20480, "num_hidden_layers": 52, "num_attention_heads": 48,
             "num_key_value_heads": 8, "head_dim": 128, "max_position_embeddings": 8192,
             "rms_norm_eps": 1e-6, "sliding_window": 512, "moe_intermediate_size": 2560,
             "num_local_experts": 256, "num_experts_per_tok": 8, "n_group": 8,
             "topk_group": 4, "routed_scaling_factor": 2.5, "final_logit_softcapping": 30.0},
    # LagunaConfig's: 48 query heads of 128 in every block (GQA over 8), block 0 dense (8192
    # wide), then 256 experts of 512 (8 a token) and a shared expert of 512, gated per head,
    # a window of 512 where layer_types says (none of its own: every block full), untied.
    "laguna": {**_LLAMA_DEFAULTS, "vocab_size": 100352, "hidden_size": 2048,
               "intermediate_size": 8192, "num_hidden_layers": 40, "num_attention_heads": 48,
               "num_key_value_heads": 8, "head_dim": 128, "max_position_embeddings": 131072,
               "moe_intermediate_size": 512, "shared_expert_intermediate_size": 512,
               "num_local_experts": 256, "num_experts_per_tok": 8, "gating": True,
               "sliding_window": 512},
    # MellumConfig's: GQA 32 / 4 heads of 128 on hidden 2304, every block sparse where
    # config.json lists no mlp_layer_types (64 experts of 896, 8 a token; a dense block of
    # 7168), a window of 1024 where layer_types says (every block full by default), untied.
    "mellum": {**_LLAMA_DEFAULTS, "vocab_size": 98304, "hidden_size": 2304,
               "intermediate_size": 7168, "num_hidden_layers": 28, "num_attention_heads": 32,
               "num_key_value_heads": 4, "head_dim": 128, "max_position_embeddings": 131072,
               "moe_intermediate_size": 896, "num_local_experts": 64,
               "num_experts_per_tok": 8, "sliding_window": 1024},
    # JetMoeConfig's: 16 KV heads of kv_channels 128 on hidden 2048 (query heads 16 x 2, as
    # many as experts a token), 8 experts of 5632 (2 a token) in both mixtures, 12 blocks,
    # tied; no dense MLP (every block sparse).
    "jetmoe": {**_LLAMA_DEFAULTS, "hidden_size": 2048, "intermediate_size": 5632,
               "num_hidden_layers": 12, "num_key_value_heads": 16, "head_dim": 128,
               "max_position_embeddings": 4096, "tie_word_embeddings": True,
               "num_local_experts": 8, "num_experts_per_tok": 2},
    # MiMoV2FlashConfig's (MiMo-V2-Flash's shape): 64 query heads of 192 over 4 KV heads (8
    # in the sliding blocks), values of 128, 256 experts of 2048 (8 a token) in every block
    # but the first (a dense MLP of 16384), full attention on block 0 and every sixth block,
    # a window of 129 (mimo_v2_flash_window: 5.17's class says 128), untied.
    "mimo_v2_flash": {**_LLAMA_DEFAULTS, "vocab_size": 152576, "hidden_size": 4096,
                      "intermediate_size": 16384, "num_hidden_layers": 48,
                      "num_attention_heads": 64, "num_key_value_heads": 4, "head_dim": 192,
                      "v_head_dim": 128, "max_position_embeddings": 131072,
                      "moe_intermediate_size": 2048, "num_local_experts": 256,
                      "num_experts_per_tok": 8, "sliding_window": MIMO_V2_FLASH_WINDOW},
    # Dots1Config's: DeepSeek-V3's keys (n_routed_experts, n_shared_experts,
    # first_k_dense_replace; no experts or shared experts where config.json gives none), MHA,
    # no head_dim of its own (hidden_size / heads), a window of 4096 on the blocks from
    # max_window_layers (62: none of its 62 blocks) on.
    "dots1": {**_LLAMA_DEFAULTS, "vocab_size": 152064, "hidden_size": 4608,
              "intermediate_size": 10944, "num_hidden_layers": 62, "num_attention_heads": 32,
              "num_key_value_heads": 32, "moe_intermediate_size": 1408,
              "num_local_experts": None, "num_experts_per_tok": None, "n_shared_experts": None,
              "first_k_dense_replace": 0, "sliding_window": 4096, "max_window_layers": 62},
    # FlexOlmoConfig's (FlexOlmo-7x7B's shape): intermediate_size is an expert's width, 7
    # experts, 5 per token; num_experts in config.json too.
    "flex_olmo": {**_LLAMA_DEFAULTS, "vocab_size": 100352, "max_position_embeddings": 4096,
                  "num_local_experts": 7, "num_experts_per_tok": 5},
    # DbrxConfig's (d_model / n_heads / n_layers / max_seq_len read as LLaMA's keys) and its
    # sub-configs' (DbrxAttentionConfig's kv_n_heads, DbrxFFNConfig's ffn_hidden_size,
    # moe_num_experts and moe_top_k, read through CONFIG_KEY_NAMES' dotted names): no head_dim
    # of its own (d_model / n_heads), no dense MLP, untied.
    "dbrx": {**_LLAMA_DEFAULTS, "vocab_size": 32000, "hidden_size": 2048,
             "intermediate_size": None, "num_hidden_layers": 24, "num_attention_heads": 16,
             "num_key_value_heads": 1, "max_position_embeddings": 2048,
             "moe_intermediate_size": 3584, "num_local_experts": 4, "num_experts_per_tok": 1},
    # Ernie4_5_MoeConfig's (ERNIE-4.5-21B-A3B's shape): moe_num_experts and moe_k in its class
    # and config.json (held as num_local_experts and num_experts_per_tok here, as its
    # attribute_map does); no head_dim of its own (hidden_size / heads: 128), biases by
    # use_bias, MoE blocks from the second to the last (-1), tied embeddings.
    "ernie4_5_moe": {**_LLAMA_DEFAULTS, "vocab_size": 103424, "hidden_size": 2560,
                     "intermediate_size": 12288, "num_hidden_layers": 28,
                     "num_attention_heads": 20, "num_key_value_heads": 4,
                     "tie_word_embeddings": True, "use_bias": False,
                     "max_position_embeddings": 131072, "moe_intermediate_size": 1536,
                     "num_local_experts": 64, "num_experts_per_tok": 6,
                     "moe_num_shared_experts": 2, "moe_layer_start_index": 1,
                     "moe_layer_end_index": -1, "moe_layer_interval": 1},
    # MiniMaxM2Config's (MiniMax-M2's shape): head_dim 128 set apart, 256 experts of
    # intermediate_size, 8 a token, untied; the whole of each head rotating where config.json
    # gives neither rotary_dim nor partial_rotary_factor.
    "minimax_m2": {**_LLAMA_DEFAULTS, "vocab_size": 200064, "hidden_size": 3072,
                   "intermediate_size": 1536, "num_hidden_layers": 62, "num_attention_heads": 48,
                   "num_key_value_heads": 8, "head_dim": 128, "max_position_embeddings": 196608,
                   "num_local_experts": 256, "num_experts_per_tok": 8},
    # MiniMaxM3VLTextConfig's (MiniMax-M3's shape, 5.17 and 5.25): 60 blocks of hidden 6144,
    # GQA 64 / 4 heads of 128, 128 experts of 3072 (4 a token) and a shared one of 3072, dense
    # blocks of 12288, an indexer of 4 heads of 128 where a block is sparse; untied.
    "minimax_m3_vl_text": {**_LLAMA_DEFAULTS, "vocab_size": 200064, "hidden_size": 6144,
                           "intermediate_size": 3072, "num_hidden_layers": 60,
                           "num_attention_heads": 64, "num_key_value_heads": 4,
                           "head_dim": 128, "rms_norm_eps": 1e-6,
                           "max_position_embeddings": 524288, "num_local_experts": 128, "num_experts_per_tok": 4,
                           "dense_intermediate_size": 12288,
                           "shared_intermediate_size": 3072, "index_n_heads": 4,
                           "index_head_dim": 128, "index_block_size": 128,
                           "index_topk_blocks": 16, "index_local_blocks": 1},
    # HunYuanMoEV1Config's: LLaMA's defaults but the vocabulary, one expert routed to alone
    # (num_experts, moe_topk: held as num_local_experts and num_experts_per_tok here, as its
    # attribute_map does); no head_dim (refused, as the dense Hunyuan's).
    "hunyuan_v1_moe": {**_LLAMA_DEFAULTS, "vocab_size": 290943, "num_local_experts": 1,
                       "num_experts_per_tok": 1},
    # HYV3Config's (Hy3-preview's shape): 80 blocks of hidden 4096, GQA 64 / 8 heads of 128,
    # block 0 dense of 13312 (mlp_layer_types, derived by config_from_dict), then 192 experts
    # of 1536 (num_experts, held as num_local_experts), 8 a token, and one shared expert.
    "hy_v3": {**_LLAMA_DEFAULTS, "vocab_size": 120832, "intermediate_size": 13312,
              "num_hidden_layers": 80, "num_attention_heads": 64, "num_key_value_heads": 8,
              "head_dim": 128, "max_position_embeddings": 131072, "num_local_experts": 192,
              "num_experts_per_tok": 8, "num_shared_experts": 1,
              "moe_intermediate_size": 1536},
    # Llama4TextConfig's (Llama-4-Scout's shape): experts of intermediate_size in every block
    # (interleave_moe_layer_step 1, moe_layers derived from it), dense blocks'
    # intermediate_size_mlp, one expert a token, head_dim 128 set apart, untied; every fourth
    # block without rotary positions, the others' attention in chunks of 8192.
    "llama4_text": {**_LLAMA_DEFAULTS, "vocab_size": 202048, "hidden_size": 5120,
                    "intermediate_size": 8192, "intermediate_size_mlp": 16384,
                    "num_hidden_layers": 48, "num_attention_heads": 40, "num_key_value_heads": 8,
                    "head_dim": 128, "max_position_embeddings": 131072,
                    "num_local_experts": 16, "num_experts_per_tok": 1, "moe_layers": None,
                    "interleave_moe_layer_step": 1, "no_rope_layer_interval": 4,
                    "attention_chunk_size": 8192},
    # Qwen3NextConfig's (Qwen3-Next-80B-A3B's shape but intermediate_size, unread there:
    # every block sparse): num_experts in its class and config.json (held as
    # num_local_experts here, as config_from_dict maps it); layer_types derived from
    # full_attention_interval (config_from_dict).
    "qwen3_next": {**_QWEN_DEFAULTS, "hidden_size": 2048, "intermediate_size": 5632,
                   "num_hidden_layers": 48, "num_attention_heads": 16,
                   "num_key_value_heads": 2, "head_dim": 256,
                   "moe_intermediate_size": 512, "shared_expert_intermediate_size": 512,
                   "num_local_experts": 512, "num_experts_per_tok": 10, "mlp_only_layers": [],
                   "decoder_sparse_step": 1, **_GATED_DELTANET_DEFAULTS},
    # Qwen3_5TextConfig's (Qwen3NextConfig's with its own shape: a dense MLP of
    # intermediate_size in every block, Qwen3.5's vocabulary); Qwen3_5MoeTextConfig's (no
    # dense width at all: every block sparse); layer_types derived from
    # full_attention_interval where a config.json gives none (config_from_dict).
    "qwen3_5_text": {**_QWEN_DEFAULTS, "vocab_size": 248320, "hidden_size": 4096,
                     "intermediate_size": 12288, "num_hidden_layers": 32,
                     "num_attention_heads": 16, "num_key_value_heads": 4, "head_dim": 256,
                     **_GATED_DELTANET_DEFAULTS},
    "qwen3_5_moe_text": {**_QWEN_DEFAULTS, "vocab_size": 248320, "hidden_size": 2048,
                         "intermediate_size": None, "num_hidden_layers": 40,
                         "num_attention_heads": 16, "num_key_value_heads": 2, "head_dim": 256,
                         "moe_intermediate_size": 512, "shared_expert_intermediate_size": 512,
                         "num_local_experts": 256, "num_experts_per_tok": 8,
                         **_GATED_DELTANET_DEFAULTS},
    # Qwen4ExpTextConfig's (5.23 to 5.25): Qwen3.5-MoE's shape with 512 experts (10 a
    # token), 4 residual streams mixed at rank 320, no per-layer embeddings (ple_layer_ids
    # None; ple_embed_dim None reads as hidden_size) and no QSA indexer keys (None: an indexed
    # block is then refused when read, `_qwen4_exp_unbuilt`); layer_types derived from
    # full_attention_interval where a config.json gives none (config_from_dict).
    "qwen4_exp_text": {**_QWEN_DEFAULTS, "vocab_size": 248320, "hidden_size": 2048,
                       "intermediate_size": None, "num_hidden_layers": 40,
                       "num_attention_heads": 16, "num_key_value_heads": 2, "head_dim": 256,
                       "moe_intermediate_size": 512, "shared_expert_intermediate_size": 512,
                       "num_local_experts": 512, "num_experts_per_tok": 10,
                       **_GATED_DELTANET_DEFAULTS, "hc_count": 4, "hc_lowrank": 320,
                       "ple_layer_ids": None, "ple_embed_dim": None, "ple_conv_kernel_size": 4,
                       "ngram_size": 3, "heads_per_ngram": 8,
                       "ngram_vocab_size_base": 20_000_000,
                       "make_ngram_vocab_size_divisible_by": 128, "seed": 1234,
                       "split_ngram_parts": 512, "indexer_n_heads": None,
                       "indexer_kv_heads": None, "indexer_head_dim": None,
                       "indexer_budget": None, "indexer_compress_ratio": None},
    # LaraMiniConfig's (5.24, 5.25: the published Lara-4-Mini-Base's shape, their docstring
    # says): GQA 16 / 4 heads of 128 on hidden 1024, a window of 512, 128 experts of 512 (4 a
    # token) and a shared expert of 512 in every block, a Gated DeltaNet of 8 key heads and 16
    # value heads of 128, 34 blocks of the period-5 kinds (config_from_dict), tied.
    "lara_mini": {**_QWEN_DEFAULTS, "hidden_size": 1024, "intermediate_size": None,
                  "num_hidden_layers": 34, "num_attention_heads": 16, "num_key_value_heads": 4,
                  "head_dim": 128, "rms_norm_eps": 1e-6, "max_position_embeddings": 131072,
                  "tie_word_embeddings": True, "sliding_window": 512,
                  "moe_intermediate_size": 512, "shared_expert_intermediate_size": 512,
                  "num_local_experts": 128, "num_experts_per_tok": 4,
                  "eos_token_id": 151643, **_GATED_DELTANET_DEFAULTS,
                  "linear_num_key_heads": 8, "linear_num_value_heads": 16},
    # OlmoHybridConfig's: its Gated DeltaNet's heads and widths derived from the attention's
    # where left out (config_from_dict), layer_types from the block count.
    "olmo_hybrid": {**_LLAMA_DEFAULTS, "vocab_size": 100352, "hidden_size": 3840,
                    "num_attention_heads": 30, "max_position_embeddings": 65536,
                    "linear_conv_kernel_dim": 4, "linear_num_key_heads": None,
                    "linear_num_value_heads": None, "linear_key_head_dim": None,
                    "linear_value_head_dim": None},
    # KimiLinearConfig's (5.17, 5.25): latent attention of 32 heads without a query rank, the
    # KDA of 32 heads of 128 (overridden by config.json's linear_attn_config), 256 experts of
    # 1024, one shared, the first block dense (first_k_dense_replace); head_dim is the class's
    # qk_rope_head_dim (config_from_dict).
    "kimi_linear": {**_LLAMA_DEFAULTS, "vocab_size": 163840, "hidden_size": 2304,
                    "intermediate_size": 9216, "moe_intermediate_size": 1024,
                    "num_hidden_layers": 27, "num_attention_heads": 32,
                    "num_key_value_heads": 32, "n_shared_experts": 1, "num_local_experts": 256,
                    "num_experts_per_tok": 8, "kv_lora_rank": 512, "q_lora_rank": None,
                    "qk_rope_head_dim": 64, "v_head_dim": 128, "qk_nope_head_dim": 128,
                    "max_position_embeddings": 1048576, "linear_head_dim": 128,
                    "linear_num_heads": 32, "linear_conv_kernel_dim": 4},
    # BailingHybridConfig's (5.25): Ling-3.0-Flash's shape, latent attention of 32 heads
    # without a query rank, the KDA of its 32 heads of head_dim 128, 4 taps, 512 experts of
    # 768 and one shared, the first two blocks dense; head_dim, the KDA's width, the block
    # kinds and MLP kinds derived as the class does (config_from_dict: bailing_hybrid_values).
    "bailing_hybrid": {**_LLAMA_DEFAULTS, "vocab_size": 157184, "hidden_size": 2560,
                       "intermediate_size": 6144, "moe_intermediate_size": 768,
                       "num_hidden_layers": 42, "num_attention_heads": 32,
                       "num_key_value_heads": 32, "n_shared_experts": 1,
                       "num_local_experts": 512, "num_experts_per_tok": 8, "kv_lora_rank": 512,
                       "q_lora_rank": None, "qk_rope_head_dim": 64, "v_head_dim": 128,
                       "qk_nope_head_dim": 128, "max_position_embeddings": 262144,
                       "rms_norm_eps": 1e-6, "head_dim": 128, "short_conv_kernel_size": 4,
                       "layer_group_size": 6, "first_k_dense_replace": 2,
                       "pad_token_id": 156892, "bos_token_id": None, "eos_token_id": 156895},
    # GraniteMoeHybridConfig's: LLaMA's defaults with 8 experts, 2 a token, a shared MLP of
    # 1024, no rotary (position_embedding_type None) and, without layer_types, a Mamba-2
    # mixer in every block (config_from_dict), of 128 heads with a state of 256.
    "granitemoehybrid": {**_LLAMA_DEFAULTS, "num_local_experts": 8, "num_experts_per_tok": 2,
                         "shared_intermediate_size": 1024, "position_embedding_type": None,
                         "mamba_n_heads": 128, "mamba_n_groups": 1, "mamba_d_state": 256,
                         "mamba_d_head": "auto", "mamba_d_conv": 4, "mamba_expand": 2,
                         "mamba_conv_bias": True, "mamba_proj_bias": False},
    # ApertusConfig's (Apertus-8B's shape but its MLP width: the class's 14336): xIELU, one KV
    # head per query head where config.json gives none, no head_dim of its own.
    "apertus": {**_LLAMA_DEFAULTS, "vocab_size": 131072, "intermediate_size": 14336,
                "max_position_embeddings": 65536, "hidden_act": "xielu"},
    # Apertus1p5TextConfig's: Apertus's, its vocabulary 266752 (text, visual and audio
    # codes), a whole LM head where output_vocab_size is left out.
    "apertus1p5_text": {**_LLAMA_DEFAULTS, "vocab_size": 266752, "intermediate_size": 14336,
                        "max_position_embeddings": 65536, "hidden_act": "xielu",
                        "output_vocab_size": None},
    # HeliumConfig's (Helium-1 Preview's shape): head_dim 128 set apart, MHA, untied.
    "helium": {**_LLAMA_DEFAULTS, "vocab_size": 48000, "hidden_size": 2560,
               "intermediate_size": 7040, "num_hidden_layers": 24, "num_attention_heads": 20,
               "num_key_value_heads": 20, "head_dim": 128, "max_position_embeddings": 4096},
    # VaultGemmaConfig's (Gemma-2-2B's shape, as Gemma2Config's): a soft cap of 50 on the
    # attention scores, tied.
    "vaultgemma": {**_LLAMA_DEFAULTS, "vocab_size": 256000, "hidden_size": 2304,
                   "intermediate_size": 9216, "num_hidden_layers": 26,
                   "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256,
                   "tie_word_embeddings": True, "max_position_embeddings": 8192,
                   "attn_logit_softcapping": 50.0},
    # MinistralConfig's (MistralConfig's shape): a window of 4096 on every block where
    # config.json gives neither sliding_window nor layer_types.
    "ministral": {**_LLAMA_DEFAULTS, "intermediate_size": 14336, "num_key_value_heads": 8,
                  "max_position_embeddings": 131072, "sliding_window": 4096},
    # CwmConfig's (CWM 32B's shape): head_dim 128, a window of 8192 on three blocks in four.
    "cwm": {**_LLAMA_DEFAULTS, "vocab_size": 128256, "hidden_size": 6144,
            "intermediate_size": 21504, "num_hidden_layers": 64, "num_attention_heads": 48,
            "num_key_value_heads": 8, "head_dim": 128, "max_position_embeddings": 131072,
            "sliding_window": 8192},
    # GraniteSWAConfig's: a window of 128 on three blocks in four, tied.
    "granite_swa": {**_LLAMA_DEFAULTS, "vocab_size": 100352, "hidden_size": 2560,
                    "intermediate_size": 8192, "num_hidden_layers": 24,
                    "num_attention_heads": 20, "num_key_value_heads": 4,
                    "tie_word_embeddings": True, "max_position_embeddings": 8192,
                    "sliding_window": 128},
    # Gemma4TextConfig's: a sliding block of 256-wide heads five times in six, the sixth global
    # with heads of global_head_dim (512; as many KV heads, num_global_key_value_heads
    # unset), no per-layer config, sharing or experts, per-layer inputs of 256 (config_from_dict
    # derives layer_types and per_layer_config as the class does).
    # Gemma3nTextConfig's (E4B's shape): 35 blocks, every fifth full, the last 15 reusing
    # keys and values, per-layer inputs of 256, 4 AltUp streams, a LAuReL rank of 64.
    "gemma3n_text": {**_LLAMA_DEFAULTS, "vocab_size": 262400, "hidden_size": 2048,
                     "intermediate_size": 16384, "num_hidden_layers": 35,
                     "num_attention_heads": 8, "num_key_value_heads": 2, "head_dim": 256,
                     "tie_word_embeddings": True, "max_position_embeddings": 32768,
                     "sliding_window": 512, "vocab_size_per_layer_input": 262144,
                     "hidden_size_per_layer_input": 256, "num_kv_shared_layers": 15,
                     "altup_num_inputs": 4, "laurel_rank": 64},
    "gemma4_text": {**_LLAMA_DEFAULTS, "vocab_size": 262144, "hidden_size": 2304,
                    "intermediate_size": 9216, "num_hidden_layers": 30, "num_attention_heads": 8,
                    "num_key_value_heads": 4, "head_dim": 256, "tie_word_embeddings": True,
                    "max_position_embeddings": 131072, "sliding_window": 512,
                    "vocab_size_per_layer_input": 262144, "hidden_size_per_layer_input": 256,
                    "attention_k_eq_v": False, "num_kv_shared_layers": 0,
                    "enable_moe_block": False, "use_double_wide_mlp": False,
                    "num_experts": None, "top_k_experts": None, "moe_intermediate_size": None},
    # Gemma4UnifiedTextConfig's: Gemma4TextConfig's without per-layer inputs or experts, a
    # context of 262144 and windows of 1024.
    "gemma4_unified_text": {**_LLAMA_DEFAULTS, "vocab_size": 262144, "hidden_size": 2304,
                            "intermediate_size": 9216, "num_hidden_layers": 30,
                            "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256,
                            "tie_word_embeddings": True, "max_position_embeddings": 262144,
                            "sliding_window": 1024, "attention_k_eq_v": False,
                            "num_kv_shared_layers": 0, "use_double_wide_mlp": False},
    # NemotronHConfig's (its shape keys' defaults; the blocks from layers_block_type or
    # hybrid_override_pattern: config_from_dict): relu2 MLPs of 21504, attention of 32 heads
    # of 128 on 8 KV heads, Mamba-2 mixers of 128 heads of 64 in 8 groups with a state of 128
    # and a kernel of 4, biases off but the conv's, untied.
    # BambaConfig's (Bamba-9B's shape but its vocabulary and depth): 8 KV heads, a 262144
    # context, Mamba-2 mixers of 128 heads with a state of 256 in one group, untied; without
    # attn_layer_indices a Mamba-2 mixer in every block (config_from_dict), refused when read.
    # JambaConfig's
    "jamba": {**_LLAMA_DEFAULTS, "vocab_size": 65536, "intermediate_size": 14336,
              "num_key_value_heads": 8, "max_position_embeddings": 262144,
              "num_local_experts": 16, "num_experts_per_tok": 2, "expert_layer_period": 2,
              "expert_layer_offset": 1, "attn_layer_period": 8, "attn_layer_offset": 4,
              "mamba_d_state": 16, "mamba_d_conv": 4, "mamba_expand": 2, "mamba_dt_rank": "auto",
              "mamba_conv_bias": True, "mamba_proj_bias": False, "rms_norm_eps": 1e-6},
    "bamba": {**_LLAMA_DEFAULTS, "vocab_size": 128000, "intermediate_size": 14336,
              "num_key_value_heads": 8, "max_position_embeddings": 262144,
              "mamba_n_heads": 128, "mamba_n_groups": 1, "mamba_d_state": 256,
              "mamba_d_head": "auto", "mamba_d_conv": 4, "mamba_expand": 2,
              "mamba_conv_bias": True, "mamba_proj_bias": False},
    # FalconH1Config's: Bamba's shape keys with an 8192 context, Mamba-2 mixers of mamba_d_ssm
    # 1024 inner width, no gated norm (mamba_rms_norm) and no out_proj bias
    # (projectors_bias); head_dim unset (hidden / heads).
    "falcon_h1": {**_LLAMA_DEFAULTS, "vocab_size": 128000, "intermediate_size": 14336,
                  "num_key_value_heads": 8, "max_position_embeddings": 8192,
                  "mamba_d_ssm": 1024, "mamba_n_heads": 128, "mamba_n_groups": 1,
                  "mamba_d_state": 256, "mamba_d_head": "auto", "mamba_d_conv": 4,
                  "mamba_expand": 2, "mamba_conv_bias": True, "mamba_proj_bias": False,
                  "mamba_rms_norm": False, "projectors_bias": False},
    # Lfm2Config's: LFM2-2.6B's shape keys (65536 tokens, 2560 wide, 32 blocks of 32 heads on
    # 8 KV heads, intermediate_size 12288 adjusted as Lfm2MLP does), a 128000 context, every
    # block attention where neither layer_types nor full_attn_idxs is given, tied.
    "lfm2": {**_LLAMA_DEFAULTS, "vocab_size": 65536, "hidden_size": 2560,
             "intermediate_size": 12288, "num_hidden_layers": 32, "num_key_value_heads": 8,
             "max_position_embeddings": 128000, "tie_word_embeddings": True,
             "conv_bias": False, "conv_L_cache": 3, "block_multiple_of": 256,
             "block_ffn_dim_multiplier": 1.0, "block_auto_adjust_ff_dim": True},
    # Lfm2MoeConfig's: LFM2-8B-A1B's shape keys (2048 wide, 32 blocks, 2 dense, 32 experts of
    # 1792, 4 a token), tied; it derives no layer_types (a config.json must give them:
    # `_lfm2_unbuilt`).
    "lfm2_moe": {**_LLAMA_DEFAULTS, "vocab_size": 65536, "hidden_size": 2048,
                 "intermediate_size": 7168, "moe_intermediate_size": 1792,
                 "num_hidden_layers": 32, "num_key_value_heads": 8,
                 "max_position_embeddings": 128000, "tie_word_embeddings": True,
                 "conv_bias": False, "conv_L_cache": 3, "num_dense_layers": 2,
                 "num_experts": 32, "num_local_experts": 32, "num_experts_per_tok": 4},
    # Lfm3Config's (LFM3-1.7B's shape keys, as its docstring names them: 128000 tokens, 2048
    # wide, 24 blocks of 16 heads of 128 on 4 KV heads, an MLP of 7680; a 256-token window),
    # tied; the sandwich norms and the attention gate on; layer_types derived where none are
    # given (`lfm3_layer_types`)
    "lfm3": {**_LLAMA_DEFAULTS, "vocab_size": 128000, "hidden_size": 2048,
             "intermediate_size": 7680, "num_hidden_layers": 24, "num_attention_heads": 16,
             "num_key_value_heads": 4, "head_dim": 128, "max_position_embeddings": 128000,
             "tie_word_embeddings": True, "conv_bias": False, "conv_L_cache": 7,
             "sliding_window": 256, "use_sandwich_norm": True, "use_attention_gate": True,
             "attention_bias": False},
    # MambaConfig's and FalconMambaConfig's defaults (no attention, no position limit: LLaMA's head
    # keys unread)
    "mamba": {**_LLAMA_DEFAULTS, "vocab_size": 50280, "hidden_size": 768, "state_size": 16,
              "expand": 2, "conv_kernel": 4, "use_bias": False, "use_conv_bias": True,
              "time_step_rank": "auto", "tie_word_embeddings": True, "intermediate_size": None,
              "max_position_embeddings": None},
    "falcon_mamba": {**_LLAMA_DEFAULTS, "vocab_size": 50280, "hidden_size": 768,
                     "state_size": 16, "expand": 2, "conv_kernel": 4, "use_bias": False,
                     "use_conv_bias": True, "time_step_rank": "auto",
                     "tie_word_embeddings": True, "intermediate_size": None,
                     "max_position_embeddings": None},
    # RwkvConfig's defaults (no attention heads: LLaMA's head keys unread; the context
    # length its context_length, which max_position_embeddings names)
    "rwkv": {**_LLAMA_DEFAULTS, "vocab_size": 50277, "hidden_size": 4096, "num_hidden_layers": 32,
             "attention_hidden_size": None, "intermediate_size": None, "rescale_every": 6,
             "tie_word_embeddings": False, "max_position_embeddings": 1024},
    # ZambaConfig's (Zamba-7B-v1's shape; layer_types None: derived by config_from_dict)
    "zamba": {**_LLAMA_DEFAULTS, "vocab_size": 32000, "hidden_size": 3712,
              "intermediate_size": 14848, "num_hidden_layers": 76, "num_attention_heads": 16,
              "num_key_value_heads": 16, "head_dim": None, "attention_hidden_size": None,
              "n_mamba_heads": 2, "hidden_act": "gelu", "rms_norm_eps": 1e-5,
              "max_position_embeddings": 4096, "attn_layer_period": 6, "attn_layer_offset": 4,
              "mamba_d_state": 16, "mamba_d_conv": 4, "mamba_expand": 2, "mamba_dt_rank": "auto",
              "mamba_conv_bias": True, "mamba_proj_bias": False, "layer_types": None,
              "tie_word_embeddings": True},
    # Zamba2Config's (Zamba2-2.7B's shape; layer_types None: derived by config_from_dict)
    "zamba2": {**_LLAMA_DEFAULTS, "vocab_size": 32000, "hidden_size": 2560,
               "intermediate_size": None, "num_hidden_layers": 54, "num_attention_heads": 32,
               "num_key_value_heads": None, "head_dim": None, "attention_hidden_size": None,
               "hidden_act": "gelu", "rms_norm_eps": 1e-5, "max_position_embeddings": 4096,
               "mamba_d_state": 64, "mamba_d_conv": 4, "mamba_expand": 2, "mamba_ngroups": 1,
               "n_mamba_heads": 8, "add_bias_linear": False, "num_mem_blocks": 1,
               "use_shared_attention_adapter": False, "adapter_rank": 128,
               "use_mem_rope": False, "layer_types": None, "tie_word_embeddings": True},
    # Mamba2Config's defaults (no attention, no position limit)
    # RecurrentGemmaConfig's (no position limit: local attention, rotary positions)
    "recurrent_gemma": {**_LLAMA_DEFAULTS, "vocab_size": 256000, "hidden_size": 2560,
                        "intermediate_size": 3 * 2560, "num_hidden_layers": 26,
                        "num_attention_heads": 10, "lru_width": None, "sliding_window": 2048,
                        "conv1d_width": 4, "block_types": ["recurrent", "recurrent",
                                                           "attention"],
                        "tie_word_embeddings": True, "max_position_embeddings": None},
    "mamba2": {**_LLAMA_DEFAULTS, "vocab_size": 32768, "hidden_size": 4096, "num_heads": 128,
               "head_dim": 64, "state_size": 128, "num_hidden_layers": 64, "expand": 2,
               "conv_kernel": 4, "n_groups": 8, "use_bias": False, "use_conv_bias": True,
               "chunk_size": 256, "time_step_rank": "auto", "tie_word_embeddings": False,
               "max_position_embeddings": None},
    # xLSTMConfig's defaults (no attention, no position limit; embedding_dim and num_blocks
    # follow hidden_size and num_hidden_layers where null: `xlstm_sizes`)
    "xlstm": {**_LLAMA_DEFAULTS, "vocab_size": 50304, "hidden_size": 4096,
              "num_hidden_layers": 32, "num_heads": 8, "use_bias": False,
              "qk_dim_factor": 0.5, "v_dim_factor": 1.0, "ffn_proj_factor": 2.667,
              "ffn_round_up_to_multiple_of": 64, "weight_mode": "single", "mode": "inference",
              "tie_word_embeddings": False, "max_position_embeddings": None},
    "nemotron_h": {**_LLAMA_DEFAULTS, "vocab_size": 131072, "intermediate_size": 21504,
                   "num_key_value_heads": 8, "head_dim": 128, "mlp_hidden_act": "relu2",
                   "mlp_bias": False, "mamba_num_heads": 128, "mamba_head_dim": 64,
                   "n_groups": 8, "ssm_state_size": 128, "conv_kernel": 4,
                   "use_conv_bias": True, "use_bias": False, "max_position_embeddings": 4096},
    "gemma3_text": {**_LLAMA_DEFAULTS, "vocab_size": 262208, "hidden_size": 2304,
                    "intermediate_size": 9216, "num_hidden_layers": 26, "num_attention_heads": 8,
                    "num_key_value_heads": 4, "head_dim": 256, "tie_word_embeddings": True,
                    "max_position_embeddings": 131072},
}


# A family's own config.json keys for LLaMA's, as its config class's attribute_map reads them
# (BloomConfig's n_layer / n_head, and n_embed, which its __post_init__ takes as hidden_size;
# MptConfig's d_model / n_layers / n_heads; GPTJConfig's and GPT2Config's n_embd / n_layer /
# n_head / n_positions): model_type -> {own key: LLaMA's key}.
CONFIG_KEY_NAMES = {"bloom": {"n_layer": "num_hidden_layers", "n_head": "num_attention_heads",
                              "n_embed": "hidden_size"},
                    "mpt": {"d_model": "hidden_size", "n_layers": "num_hidden_layers",
                            "n_heads": "num_attention_heads"},
                    "gptj": {"n_embd": "hidden_size", "n_layer": "num_hidden_layers",
                             "n_head": "num_attention_heads",
                             "n_positions": "max_position_embeddings"},
                    # Lfm2Config's __post_init__ takes block_ff_dim (LFM2's published key) as
                    # intermediate_size and tie_embedding as tie_word_embeddings, over them;
                    # Lfm2MoeConfig's tie_embedding alike.
                    "lfm2": {"block_ff_dim": "intermediate_size",
                             "tie_embedding": "tie_word_embeddings"},
                    "lfm2_moe": {"tie_embedding": "tie_word_embeddings"},
                    "jetmoe": {"kv_channels": "head_dim"},  # (JetMoeConfig's attribute_map)
                    # (ZambaConfig's attribute_map)
                    "zamba": {"layers_block_type": "layer_types",
                              "attention_head_dim": "head_dim"},
                    "zamba2": {"layers_block_type": "layer_types",
                               "attention_head_dim": "head_dim"},
                    # (RecurrentGemmaConfig's attribute_map)
                    "recurrent_gemma": {"attention_window_size": "sliding_window"},
                    # (ErgoConfig's attribute_map: its published configs' window key)
                    "ergo": {"local_attention_window": "sliding_window"},
                    # (InklingTextConfig's attribute_map: its published configs' keys)
                    "inkling_text": {"sliding_window_size": "sliding_window",
                                     "sconv_kernel_size": "conv_kernel_size",
                                     "model_max_length": "max_position_embeddings"},
                    # (Inkling2TextConfig's attribute_map: its class's and published keys;
                    # intermediate_size is the experts' width, moe_intermediate_size)
                    "inkling2_text": {"sliding_window_size": "sliding_window",
                                      "sconv_kernel_size": "conv_kernel_size",
                                      "model_max_length": "max_position_embeddings",
                                      "n_routed_experts": "num_local_experts",
                                      "route_scale": "routed_scaling_factor"},
                    # DbrxConfig's attribute_map, and the keys of its sub-configs (a dotted
                    # name: the sub-config's key, `nested_value`) that DBRX's modules read
                    "dbrx": {"d_model": "hidden_size", "n_layers": "num_hidden_layers",
                             "n_heads": "num_attention_heads",
                             "max_seq_len": "max_position_embeddings",
                             "attn_config.kv_n_heads": "num_key_value_heads",
                             "ffn_config.ffn_hidden_size": "moe_intermediate_size",
                             "ffn_config.moe_num_experts": "num_local_experts",
                             "ffn_config.moe_top_k": "num_experts_per_tok"},
                    # GPT2Config's, GPT-J's keys
                    "gpt2": {"n_embd": "hidden_size", "n_layer": "num_hidden_layers",
                             "n_head": "num_attention_heads",
                             "n_positions": "max_position_embeddings"},
                    # OpenAIGPTConfig's attribute_map (GPT-2's keys)
                    "openai-gpt": {"n_embd": "hidden_size", "n_layer": "num_hidden_layers",
                                   "n_head": "num_attention_heads",
                                   "n_positions": "max_position_embeddings"},
                    # RwkvConfig's attribute_map (its context length context_length)
                    "rwkv": {"context_length": "max_position_embeddings"},
                    # CTRLConfig's attribute_map (GPT-2's keys)
                    "ctrl": {"n_embd": "hidden_size", "n_layer": "num_hidden_layers",
                             "n_head": "num_attention_heads",
                             "n_positions": "max_position_embeddings"},
                    # ExaoneConfig's attribute_map (EXAONE's published config.json keys)
                    "exaone": {"num_layers": "num_hidden_layers",
                               "layer_norm_epsilon": "rms_norm_eps",
                               "activation_function": "hidden_act"},
                    # InternLM3Config's attribute_map (its published config.json keys)
                    "internlm3": {"qkv_bias": "attention_bias", "bias": "mlp_bias"},
                    # SarvamMoEConfig's and Param2MoeConfig's attribute_map (their own code's
                    # config.json keys; num_experts: every config's name)
                    "sarvam_moe": {"num_shared_experts": "n_shared_experts",
                                   "use_qkv_bias": "attention_bias"},
                    "param2moe": {"num_shared_experts": "n_shared_experts",
                                  "use_qkv_bias": "attention_bias"},
                    # SarvamMLAConfig's attribute_map (its own code's config.json key)
                    "sarvam_mla": {"num_shared_experts": "n_shared_experts"},
                    # KimiLinearConfig's attribute_map (num_experts: every config's name)
                    "kimi_linear": {"num_experts_per_token": "num_experts_per_tok",
                                    "num_shared_experts": "n_shared_experts",
                                    "model_max_length": "max_position_embeddings"},
                    # BailingHybridConfig's attribute_map (its config.json's names)
                    "bailing_hybrid": {"num_experts_per_token": "num_experts_per_tok",
                                       "num_shared_experts": "n_shared_experts",
                                       "model_max_length": "max_position_embeddings",
                                       "moe_renormalize": "norm_topk_prob",
                                       "num_expert_group": "n_group",
                                       "num_nextn_predict_layers": "num_mtp_layers"},
                    # GPTNeoConfig's attribute_map
                    "gpt_neo": {"num_layers": "num_hidden_layers",
                                "num_heads": "num_attention_heads"},
                    # XGLMConfig's attribute_map
                    "xglm": {"d_model": "hidden_size", "num_layers": "num_hidden_layers",
                             "attention_heads": "num_attention_heads"},
                    # GPTBigCodeConfig's attribute_map: GPT-J's names
                    "gpt_bigcode": {"n_embd": "hidden_size", "n_layer": "num_hidden_layers",
                                    "n_head": "num_attention_heads",
                                    "n_positions": "max_position_embeddings"},
                    # CodeGenConfig's attribute_map: GPT-J's names
                    "codegen": {"n_embd": "hidden_size", "n_layer": "num_hidden_layers",
                                "n_head": "num_attention_heads",
                                "n_positions": "max_position_embeddings"}}


def context_length(config) -> int | None:
    """The most positions the model takes: max_position_embeddings, MPT's max_seq_len (the
    length of MptModel's ALiBi table, which a longer sequence overruns); None where nothing
    limits it (BloomModel computes its ALiBi biases for any length)."""
    return getattr(config, "max_position_embeddings", None) or getattr(config, "max_seq_len", None)


def context_key(config) -> str:
    """The config key `context_length` is read from, as a refusal names it: MPT's max_seq_len,
    every other family's max_position_embeddings."""
    return ("max_position_embeddings" if getattr(config, "max_position_embeddings", None)
            else "max_seq_len")


def nested_value(values: Any, name: str) -> Any:
    """The value of a config key named as in `CONFIG_KEY_NAMES`: `values`' own key, or, for
    a dotted name (DBRX's `ffn_config.moe_num_experts`), that key of the sub-config, held as a
    dict (config.json's) or as an object (DbrxConfig's DbrxFFNConfig); None where not given."""
    for key in name.split("."):
        values = values.get(key) if isinstance(values, dict) else getattr(values, key, None)
    return values


def with_llama_keys(values: dict[str, Any]) -> dict[str, Any]:
    """Config values with the family's own keys given under LLaMA's names too
    (`CONFIG_KEY_NAMES`), the own key's value where both are given, as the class reads them.
    A sub-config's key left out takes its class's default (`CONFIG_DEFAULTS`), whatever a
    top-level key of LLaMA's name says: DbrxConfig sets num_key_value_heads from attn_config."""
    model_type = values.get("model_type")
    lifted = {}
    for own, llama in CONFIG_KEY_NAMES.get(model_type, {}).items():
        if "." not in own:
            if own in values:
                lifted[llama] = values[own]
        elif (value := nested_value(values, own)) is not None:
            lifted[llama] = value
        else:
            lifted[llama] = CONFIG_DEFAULTS[model_type][llama]
    return {**values, **lifted}


def config_value(config, key: str) -> Any:
    """A config object's value of LLaMA's `key`: where its family's class reads the key from
    a sub-config (DbrxConfig's attn_config and ffn_config: `CONFIG_KEY_NAMES`' dotted names),
    the sub-config's value, whatever a top-level attribute of that name says (DbrxConfig
    keeps a num_key_value_heads given to it, which DbrxAttention does not read); else its
    attribute (`config_from_dict`'s, which `with_llama_keys` gave the sub-config's value or
    default); None where it has none."""
    for own, llama in CONFIG_KEY_NAMES.get(getattr(config, "model_type", None), {}).items():
        if llama == key and "." in own and (value := nested_value(config, own)) is not None:
            return value
    return getattr(config, key, None)
