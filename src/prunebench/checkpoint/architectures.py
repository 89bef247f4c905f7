"""Known shapes of supported families, so plans can be sized and GPU runs made without weights.

Each entry is the published checkpoint's config.json values that decide shapes and the forward
pass (`model_type` picks the family, LLaMA when absent). Sizes count tied embeddings once
(`param_count.count_params`), as the shapes that tie them (`tie_word_embeddings`) share one
table.
"""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING

from prunebench import PrunebenchError

if TYPE_CHECKING:  # imported when a config is built: job sizing reads the shapes alone
    from transformers import LlamaConfig

# The embedded tiny model (prunebench.tiny): 8 blocks, hidden 128, 4 heads of 32, MLP 384, about
# 2M parameters; its vocabulary is the size of the tokenizer trained on the embedded text, and
# the config's `embedded.model` may override the sizes, `rms_norm_eps`, `rope_theta` and
# `tie_word_embeddings` (the schema lists them; the token ids and dtype stay). Here, torch-free,
# so that the config checks know its context and size before it is trained.
TINY_SHAPE: dict = dict(hidden_size=128, intermediate_size=384, num_hidden_layers=8,
                        num_attention_heads=4, num_key_value_heads=4, head_dim=32,
                        max_position_embeddings=1024, rms_norm_eps=1e-5, rope_theta=10000.0,
                        tie_word_embeddings=False, bos_token_id=1, eos_token_id=2,
                        pad_token_id=0, torch_dtype="float32")

# The tiny model's tokenizer vocabulary by default: its largest (a trained vocabulary may stay
# smaller), so the largest the tiny model can be before it is trained (plan.checks).
TINY_VOCAB_SIZE = 512
# The training windows' length by default (prunebench.tiny), at most max_position_embeddings.
TINY_SEQ_LEN = 256

# Shapes of the published checkpoints (config.json of each hub repository).
ARCHITECTURES: dict[str, dict] = {
    "llama-7b": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                     num_attention_heads=32, num_key_value_heads=32, vocab_size=32000,
                     max_position_embeddings=2048, rms_norm_eps=1e-6),
    "llama-13b": dict(hidden_size=5120, intermediate_size=13824, num_hidden_layers=40,
                      num_attention_heads=40, num_key_value_heads=40, vocab_size=32000,
                      max_position_embeddings=2048, rms_norm_eps=1e-6),
    "llama-3-8b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                       num_attention_heads=32, num_key_value_heads=8, vocab_size=128256,
                       max_position_embeddings=8192, rms_norm_eps=1e-5, rope_theta=500000.0),
}
# meta-llama/Llama-3.1-8B config.json: GQA 32/8 heads and Llama-3's rope scaling (rotary
# frequencies whose wavelength exceeds 8192 / low_freq_factor tokens are divided by `factor`,
# those between that and 8192 / high_freq_factor interpolated). 8,030,261,248 parameters.
ARCHITECTURES["llama-3.1-8b"] = dict(
    ARCHITECTURES["llama-3-8b"], max_position_embeddings=131072,
    rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                  "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
    bos_token_id=128000, eos_token_id=128001)
# meta-llama/Llama-3.2-1B and -3B config.json (as public code quotes them; the repositories are
# gated): Llama-3's vocabulary and rope scaling (factor 32), GQA, tied embeddings.
# 1,235,814,400 / 3,212,749,824 parameters.
ARCHITECTURES["llama-3.2-1b"] = dict(
    ARCHITECTURES["llama-3.1-8b"], hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
    num_attention_heads=32, num_key_value_heads=8, tie_word_embeddings=True,
    rope_scaling={"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                  "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})
ARCHITECTURES["llama-3.2-3b"] = dict(ARCHITECTURES["llama-3.2-1b"], hidden_size=3072,
                                     num_hidden_layers=28, num_attention_heads=24, head_dim=128)
# nvidia/Llama-3.1-Minitron-4B-Width-Base config.json (as public copies of it quote it; one
# naming it as _name_or_path, written indented as transformers writes it, is the 906 bytes the
# hub lists for the file): Llama-3.1-8B pruned in width (hidden 4096 -> 3072, MLP 14336 ->
# 9216; every block and head kept: 32 heads of head_dim 128 on 8 KV heads, queries wider than
# the hidden size), its rope scaling, context and vocabulary. 4,512,746,496 parameters (the
# card: 4.51B).
ARCHITECTURES["llama-3.1-minitron-4b-width"] = dict(
    ARCHITECTURES["llama-3.1-8b"], hidden_size=3072, intermediate_size=9216, head_dim=128)
# nvidia/Llama-3.1-Minitron-4B-Depth-Base: Llama-3.1-8B pruned in depth, 16 of its 32 blocks
# kept whole. Its config.json (883 bytes in the hub's listing) was not found in a public source
# (searched three times: its hub pages and their mirrors, derivatives and GGUF conversions
# naming it, code, issues): the block shapes are its model
# card's (hidden 4096, 32 heads, MLP 14336), the block count its checkpoint's (a safetensors
# index half the width model's, 4.98 + 4.1 GB of bfloat16: 4.54B parameters; the card's "32
# layers in total" are its parent's), the rest Llama-3.1-8B's, which the width model keeps.
# Assumed, not read: its rope scaling and 131072 context (the width model's file with this
# model's name and shapes is 888 bytes with Llama-3's rope_scaling, 713 without: a hint that
# the 883-byte file has them, no more). 4,540,469,248 parameters.
ARCHITECTURES["llama-3.1-minitron-4b-depth"] = dict(ARCHITECTURES["llama-3.1-8b"],
                                                    num_hidden_layers=16)
# nvidia/Minitron-4B-Base and -8B-Base config.json (the hub's pages of the files, read through
# public indexes): Nemotron-4 15B pruned in width (hidden size, heads, MLP) and distilled,
# model_type nemotron (ungated relu2 MLP, LayerNorms weighing by 1 + weight with a bias, half of
# each head rotating); head_dim 128 set apart (the 8B's 48 query heads are wider than its
# hidden size), GQA on 8 KV heads, a 256000-token untied vocabulary, context 4096. The cards'
# "32 attention heads" of the 4B is not its config's 24. 4,190,509,056 and 8,271,699,968
# parameters. Nemotron-Mini-4B-Instruct's config.json has the 4B's shapes (kv_channels 128 for
# head_dim, which NemotronConfig derives the same from 3072 / 24).
ARCHITECTURES["minitron-4b"] = dict(
    model_type="nemotron", hidden_size=3072, intermediate_size=9216, num_hidden_layers=32,
    num_attention_heads=24, num_key_value_heads=8, head_dim=128, vocab_size=256000,
    max_position_embeddings=4096, norm_eps=1e-5, rope_theta=10000.0, partial_rotary_factor=0.5,
    hidden_act="relu2", bos_token_id=2, eos_token_id=3)
ARCHITECTURES["minitron-8b"] = dict(ARCHITECTURES["minitron-4b"], hidden_size=4096,
                                    intermediate_size=16384, num_attention_heads=48)
ARCHITECTURES["nemotron-mini-4b"] = ARCHITECTURES["minitron-4b"]
# mistralai/Mistral-7B-v0.3 config.json (v0.3: vocabulary 32768, no sliding window).
# 7,248,023,552 parameters.
ARCHITECTURES["mistral-7b-v0.3"] = dict(
    model_type="mistral", hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
    num_attention_heads=32, num_key_value_heads=8, head_dim=128, vocab_size=32768,
    max_position_embeddings=32768, rms_norm_eps=1e-5, rope_theta=1000000.0, sliding_window=None,
    bos_token_id=1, eos_token_id=2)
# mistralai/Mistral-Small-3.1-24B-Instruct-2503 and -3.2-24B-Instruct-2506 config.json's
# text_config: their language model, which prunebench keeps of these multimodal checkpoints
# (checkpoint.text_part; the Pixtral vision tower and projector are left out): head_dim 128
# set apart from hidden / heads (5120 / 32), GQA 32 / 8, an untied LM head. 23,572,403,200
# parameters (counted from this config; the model cards' 24B include the vision tower).
ARCHITECTURES["mistral-small-3.1-24b"] = dict(
    model_type="mistral", hidden_size=5120, intermediate_size=32768, num_hidden_layers=40,
    num_attention_heads=32, num_key_value_heads=8, head_dim=128, vocab_size=131072,
    max_position_embeddings=131072, rms_norm_eps=1e-5, rope_theta=1000000000.0,
    sliding_window=None, bos_token_id=1, eos_token_id=2)
ARCHITECTURES["mistral-small-3.2-24b"] = ARCHITECTURES["mistral-small-3.1-24b"]
# mistralai/Mistral-Nemo-Base-2407 config.json (as public copies of it quote it): head_dim 128
# set apart from hidden / heads (5120 / 32), GQA 32 / 8, the Tekken vocabulary of 131072, rotary
# base 1e6, no sliding window, the config's context of 1,024,000. 12,247,782,400 parameters.
# (Mistral-Nemo-Instruct-2407 has these shapes; the copies of its config disagree on the
# context, so no hub id of it names this shape.)
ARCHITECTURES["mistral-nemo-base-2407"] = dict(
    model_type="mistral", hidden_size=5120, intermediate_size=14336, num_hidden_layers=40,
    num_attention_heads=32, num_key_value_heads=8, head_dim=128, vocab_size=131072,
    max_position_embeddings=1024000, rms_norm_eps=1e-5, rope_theta=1000000.0,
    sliding_window=None, bos_token_id=1, eos_token_id=2)
ARCHITECTURES["mistral-nemo-12b"] = ARCHITECTURES["mistral-nemo-base-2407"]
# NVIDIA's Minitron models (arXiv 2408.11796): published prunes of the two parents above,
# distilled after pruning, so their shapes say what depth and width pruning kept, and
# `random:` sources time them beside their parents'.
# nvidia/Mistral-NeMo-Minitron-8B-Base config.json (-Instruct's shapes the same): Mistral-NeMo
# pruned in width (hidden 5120 -> 4096, MLP 14336 -> 11520; every block and head kept, queries
# as wide as the hidden size now), context 8192. 8,414,105,600 parameters.
ARCHITECTURES["mistral-nemo-minitron-8b"] = dict(
    ARCHITECTURES["mistral-nemo-base-2407"], hidden_size=4096, intermediate_size=11520,
    max_position_embeddings=8192)
# Qwen/Qwen2.5-7B config.json: q/k/v biases (Qwen2 family), GQA 28/4 heads, untied embeddings
# (the 0.5B-3B models tie them). 7,615,616,512 parameters.
ARCHITECTURES["qwen2.5-7b"] = dict(
    model_type="qwen2", hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
    num_attention_heads=28, num_key_value_heads=4, vocab_size=152064,
    max_position_embeddings=131072, rms_norm_eps=1e-6, rope_theta=1000000.0,
    use_sliding_window=False, tie_word_embeddings=False, bos_token_id=151643,
    eos_token_id=151643)
# Qwen/Qwen3-8B config.json: head_dim 128 given explicitly, per-head q/k RMSNorm, GQA 32/8.
# 8,190,735,360 parameters.
ARCHITECTURES["qwen3-8b"] = dict(
    model_type="qwen3", hidden_size=4096, intermediate_size=12288, num_hidden_layers=36,
    num_attention_heads=32, num_key_value_heads=8, head_dim=128, vocab_size=151936,
    max_position_embeddings=40960, rms_norm_eps=1e-6, rope_theta=1000000.0,
    attention_bias=False, use_sliding_window=False, tie_word_embeddings=False,
    bos_token_id=151643, eos_token_id=151645)
# google/gemma-2-2b, -9b and -27b config.json (Gemma-2 family): head_dim 256 (27B: 128, with
# queries scaled by 144 ** -0.5, not head_dim's), soft-capped attention (50) and final logits
# (30), sliding windows of 4096 tokens on every other block, tied embeddings.
# 2,614,341,888 / 9,241,705,984 / 27,227,128,320 parameters.
_GEMMA2 = dict(model_type="gemma2", vocab_size=256000, max_position_embeddings=8192,
               rms_norm_eps=1e-6, rope_theta=10000.0, hidden_activation="gelu_pytorch_tanh",
               attn_logit_softcapping=50.0, final_logit_softcapping=30.0, sliding_window=4096,
               attention_bias=False, tie_word_embeddings=True, bos_token_id=2, eos_token_id=1,
               pad_token_id=0)
ARCHITECTURES["gemma-2-2b"] = dict(
    _GEMMA2, hidden_size=2304, intermediate_size=9216, num_hidden_layers=26,
    num_attention_heads=8, num_key_value_heads=4, head_dim=256, query_pre_attn_scalar=256)
ARCHITECTURES["gemma-2-9b"] = dict(
    _GEMMA2, hidden_size=3584, intermediate_size=14336, num_hidden_layers=42,
    num_attention_heads=16, num_key_value_heads=8, head_dim=256, query_pre_attn_scalar=256)
ARCHITECTURES["gemma-2-27b"] = dict(
    _GEMMA2, hidden_size=4608, intermediate_size=36864, num_hidden_layers=46,
    num_attention_heads=32, num_key_value_heads=16, head_dim=128, query_pre_attn_scalar=144)
# google/gemma-2b and gemma-7b config.json (Gemma family): head_dim 256, norms weighing by
# 1 + weight, scaled embeddings, GeGLU, no soft caps; 2B has one KV head (multi-query
# attention: width pruning can remove no head of it, only MLP channels), 7B has 16.
# 2,506,172,416 / 8,537,680,896 parameters.
_GEMMA = dict(model_type="gemma", vocab_size=256000, max_position_embeddings=8192,
              rms_norm_eps=1e-6, rope_theta=10000.0, hidden_act="gelu_pytorch_tanh",
              attention_bias=False, tie_word_embeddings=True, bos_token_id=2, eos_token_id=1,
              pad_token_id=0)
ARCHITECTURES["gemma-2b"] = dict(
    _GEMMA, hidden_size=2048, intermediate_size=16384, num_hidden_layers=18,
    num_attention_heads=8, num_key_value_heads=1, head_dim=256)
ARCHITECTURES["gemma-7b"] = dict(
    _GEMMA, hidden_size=3072, intermediate_size=24576, num_hidden_layers=28,
    num_attention_heads=16, num_key_value_heads=16, head_dim=256)
# microsoft/Phi-3-mini-4k-instruct, Phi-3-medium-4k-instruct, phi-4 and Phi-4-mini-instruct
# config.json (Phi-3 family: q/k/v packed into one qkv_proj, gate/up into one gate_up_proj; no
# biases). Phi-3's 4k models attend within sliding windows of 2047 tokens; Phi-4-mini rotates
# three quarters of each head (partial_rotary_factor 0.75) and ties its embeddings. Its
# published config also scales its rotary frequencies (longrope, with per-frequency factors
# for its 128k context) which are left out here: they change the tables' values, not a shape
# or the work of a token; a downloaded Phi-4-mini has them.
# 3,821,079,552 (Phi-3-mini, Phi-3.5-mini) / 13,960,238,080 / 14,659,507,200 / 3,836,021,760
# parameters.
_PHI3 = dict(model_type="phi3", rms_norm_eps=1e-5, rope_theta=10000.0, attention_bias=False,
             tie_word_embeddings=False)
ARCHITECTURES["phi-3-mini"] = dict(
    _PHI3, hidden_size=3072, intermediate_size=8192, num_hidden_layers=32,
    num_attention_heads=32, num_key_value_heads=32, vocab_size=32064,
    max_position_embeddings=4096, sliding_window=2047, bos_token_id=1, eos_token_id=32000,
    pad_token_id=32000)
# microsoft/Phi-3.5-mini-instruct: Phi-3-mini's shapes with a 128k context (its longrope
# factors left out, as Phi-4-mini's below).
ARCHITECTURES["phi-3.5-mini"] = dict(ARCHITECTURES["phi-3-mini"], max_position_embeddings=131072,
                                     sliding_window=262144)
ARCHITECTURES["phi-3-medium"] = dict(
    ARCHITECTURES["phi-3-mini"], hidden_size=5120, intermediate_size=17920,
    num_hidden_layers=40, num_attention_heads=40, num_key_value_heads=10)
ARCHITECTURES["phi-4"] = dict(
    _PHI3, hidden_size=5120, intermediate_size=17920, num_hidden_layers=40,
    num_attention_heads=40, num_key_value_heads=10, vocab_size=100352,
    max_position_embeddings=16384, original_max_position_embeddings=16384,
    rope_theta=250000.0, sliding_window=None,
    bos_token_id=100257, eos_token_id=100265, pad_token_id=100349)
ARCHITECTURES["phi-4-mini"] = dict(
    _PHI3, hidden_size=3072, intermediate_size=8192, num_hidden_layers=32,
    num_attention_heads=24, num_key_value_heads=8, vocab_size=200064,
    max_position_embeddings=131072, partial_rotary_factor=0.75, tie_word_embeddings=True,
    bos_token_id=199999, eos_token_id=199999, pad_token_id=199999)
# allenai/OLMo-2-1124-7B and -13B config.json (OLMo-2 family: norms after each sublayer's
# output only, q/k RMSNorms over the whole projections; multi-head attention).
# 7,298,617,344 / 13,716,198,400 parameters (counted from these configs; the model cards say
# 7.3B and 13.7B).
_OLMO2 = dict(model_type="olmo2", vocab_size=100352, max_position_embeddings=4096,
              rms_norm_eps=1e-6, rope_theta=500000.0, attention_bias=False,
              tie_word_embeddings=False, bos_token_id=None, eos_token_id=100257,
              pad_token_id=100277)
ARCHITECTURES["olmo-2-1124-7b"] = dict(
    _OLMO2, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
    num_attention_heads=32, num_key_value_heads=32)
ARCHITECTURES["olmo-2-1124-13b"] = dict(
    _OLMO2, hidden_size=5120, intermediate_size=13824, num_hidden_layers=40,
    num_attention_heads=40, num_key_value_heads=40)
# allenai/Olmo-3-1025-7B (-7B-Instruct, -7B-Think) and Olmo-3-1125-32B / Olmo-3.1-32B config.json,
# as public code quotes them (the hub could not be read here): OLMo-2's block with three
# sliding-window blocks (4096 tokens) to one full-attention block, whose rotary positions
# alone are YaRN-scaled (factor 8 over 8192 tokens), as transformers' Olmo3Config applies a
# config.json's `rope_scaling`. 7,298,011,136 / 32,233,522,176 parameters (counted from these
# configs; the model cards say 7B and 32B).
_OLMO3 = dict(model_type="olmo3", vocab_size=100278, max_position_embeddings=65536,
              rms_norm_eps=1e-6, rope_theta=500000.0, sliding_window=4096,
              rope_scaling={"rope_type": "yarn", "factor": 8.0,
                            "original_max_position_embeddings": 8192, "beta_fast": 32.0,
                            "beta_slow": 1.0, "attention_factor": 1.2079441541679836},
              attention_bias=False, tie_word_embeddings=False, bos_token_id=None,
              eos_token_id=100257, pad_token_id=100277)
ARCHITECTURES["olmo-3-7b"] = dict(
    _OLMO3, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
    num_attention_heads=32, num_key_value_heads=32)
ARCHITECTURES["olmo-3-32b"] = dict(
    _OLMO3, hidden_size=5120, intermediate_size=27648, num_hidden_layers=64,
    num_attention_heads=40, num_key_value_heads=8)
# google/gemma-3-1b-pt and gemma-3-270m config.json (Gemma-3 text family, gemma3_text):
# Gemma-2's block with per-head q/k norms and no soft caps; five local blocks (512-token
# windows, rotary base 10000) to one global block (base 1000000); one KV head of 256.
# 999,885,952 / 268,098,176 parameters (counted from these configs; the model cards say 1B
# and 270M).
_GEMMA3 = dict(model_type="gemma3_text", vocab_size=262144, max_position_embeddings=32768,
               rms_norm_eps=1e-6, hidden_activation="gelu_pytorch_tanh", head_dim=256,
               num_attention_heads=4, num_key_value_heads=1, query_pre_attn_scalar=256,
               sliding_window=512, attention_bias=False, tie_word_embeddings=True,
               rope_parameters={"sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
                                "full_attention": {"rope_type": "default",
                                                   "rope_theta": 1000000.0}},
               bos_token_id=2, eos_token_id=1, pad_token_id=0)
ARCHITECTURES["gemma-3-1b"] = dict(_GEMMA3, hidden_size=1152, intermediate_size=6912,
                                   num_hidden_layers=26)
ARCHITECTURES["gemma-3-270m"] = dict(_GEMMA3, hidden_size=640, intermediate_size=2048,
                                     num_hidden_layers=18)
# google/gemma-3-4b-pt, -12b-pt and -27b-pt config.json's text_config: their language models,
# which prunebench keeps of these multimodal checkpoints (checkpoint.text_part; the SigLIP
# vision tower and projector, about 0.4B parameters, are left out). A vocabulary of 262208,
# 1024-token windows, and global blocks whose rotary positions are divided by 8 (linear
# scaling) for a 128k context. 3,880,263,168 / 11,766,034,176 / 27,009,346,304 parameters
# (counted from these configs; with the vision tower's 0.42B, the 4.3B, 12.2B and 27.4B of the
# published totals).
_GEMMA3_MULTIMODAL = dict(
    _GEMMA3, vocab_size=262208, max_position_embeddings=131072, sliding_window=1024,
    rope_parameters={"sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
                     "full_attention": {"rope_type": "linear", "factor": 8.0,
                                        "rope_theta": 1000000.0}})
ARCHITECTURES["gemma-3-4b"] = dict(_GEMMA3_MULTIMODAL, hidden_size=2560, intermediate_size=10240,
                                   num_hidden_layers=34, num_attention_heads=8,
                                   num_key_value_heads=4)
ARCHITECTURES["gemma-3-12b"] = dict(_GEMMA3_MULTIMODAL, hidden_size=3840,
                                    intermediate_size=15360, num_hidden_layers=48,
                                    num_attention_heads=16, num_key_value_heads=8)
ARCHITECTURES["gemma-3-27b"] = dict(_GEMMA3_MULTIMODAL, hidden_size=5376,
                                    intermediate_size=21504, num_hidden_layers=62,
                                    num_attention_heads=32, num_key_value_heads=16, head_dim=128,
                                    query_pre_attn_scalar=168)
# HuggingFaceTB/SmolLM3-3B(-Base) config.json as public code quotes it (the hub could not be
# read here; SmolLM3 family: every fourth block without rotary positions). Its context (65536
# tokens) and rotary base (5,000,000) are not SmolLM3Config's defaults (32768, 2,000,000).
# GQA 16 / 4, tied embeddings. 3,075,098,624 parameters (the model card: 3B).
ARCHITECTURES["smollm3-3b"] = dict(
    model_type="smollm3", hidden_size=2048, intermediate_size=11008, num_hidden_layers=36,
    num_attention_heads=16, num_key_value_heads=4, vocab_size=128256, tie_word_embeddings=True,
    max_position_embeddings=65536, rms_norm_eps=1e-6, rope_theta=5000000.0,
    no_rope_layer_interval=4, bos_token_id=None, eos_token_id=128001, pad_token_id=128004)
# LGAI-EXAONE/EXAONE-4.0-32B config.json as public code quotes it (TensorRT-LLM's EXAONE-4 test;
# the hub could not be read here): OLMo-2's output norms with per-head q/k norms, GQA 40 / 8,
# sliding windows of 4096 tokens on three blocks of four (`sliding_window_pattern` 4), whose
# global blocks attend without rotary positions, Llama-3's rope scaling on the local ones.
# 32,003,216,384 parameters (the model card: 30.95B without the embeddings).
ARCHITECTURES["exaone-4.0-32b"] = dict(
    model_type="exaone4", hidden_size=5120, intermediate_size=27392, num_hidden_layers=64,
    num_attention_heads=40, num_key_value_heads=8, head_dim=128, vocab_size=102400,
    tie_word_embeddings=False, max_position_embeddings=131072, rms_norm_eps=1e-5,
    rope_theta=1000000.0, rope_scaling={"rope_type": "llama3", "factor": 16.0,
                                        "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                        "original_max_position_embeddings": 8192},
    sliding_window=4096, sliding_window_pattern=4,
    layer_types=(["sliding_attention"] * 3 + ["full_attention"]) * 16, bos_token_id=1,
    eos_token_id=361, pad_token_id=0)
# LGAI-EXAONE/EXAONE-4.0-1.2B config.json as a public copy of the downloaded checkpoint holds it
# (highshore/exaone-compression's model/ folder at 398d48b: its config.json, README and
# generation_config.json; the hub could not be read here), its shapes as NVIDIA
# Megatron-Bridge's EXAONE-4 bridge test quotes them: the 32B's block, GQA 32 / 8 of head_dim
# 64 on hidden 2048, MLP 4096, 30 blocks, every one global and rotating (sliding_window and
# sliding_window_pattern null, layer_types all full_attention: no NoPE blocks), tied
# embeddings, Llama-3's rope scaling (factor 16) at rotary base 1e6, a 65536-token context.
# 1,279,391,488 parameters (count_params; the card: 1.07B without the embeddings,
# 1,069,676,288 here).
ARCHITECTURES["exaone-4.0-1.2b"] = dict(
    ARCHITECTURES["exaone-4.0-32b"], hidden_size=2048, intermediate_size=4096,
    num_hidden_layers=30, num_attention_heads=32, num_key_value_heads=8, head_dim=64,
    tie_word_embeddings=True, max_position_embeddings=65536, sliding_window=None,
    sliding_window_pattern=None, layer_types=["full_attention"] * 30)
# LGAI-EXAONE/EXAONE-3.0-7.8B-Instruct (exaone; transformers 5.24 on, Family.min_transformers):
# its config.json's keys as transformers 4.45 printed the loaded ExaoneConfig in a public
# model card's notes, beside the module tree of its own code (the hub could not be read here;
# the file names them GPT-2's way: num_layers, layer_norm_epsilon, activation_function):
# LLaMA's block, 32 blocks of hidden 4096, GQA 32 / 8, an MLP of 14336, untied, a 4096-token
# context at rotary base 500,000, vocab 102400. 7,818,448,896 parameters (the card's 7.8B).
ARCHITECTURES["exaone-3.0-7.8b"] = dict(
    model_type="exaone", vocab_size=102400, hidden_size=4096, intermediate_size=14336,
    num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
    max_position_embeddings=4096, rms_norm_eps=1e-5, tie_word_embeddings=False,
    eos_token_id=361, pad_token_id=0,
    rope_parameters={"rope_type": "default", "rope_theta": 500000.0})
# internlm/internlm3-8b-instruct (internlm3; transformers 5.23 on): its config.json as a public
# Swift port's test quotes "the real config.json", a Rust port's test of mlx-community's 4-bit
# copy agreeing on every shape key (the hub could not be read here): 48 blocks of hidden 4096,
# GQA 32 / 2 of head_dim 128, an MLP of 10240, no biases (qkv_bias, bias), untied, a
# 32768-token context at rotary base 50,000,000 with dynamic NTK scaling (factor 6), vocab
# 128512. 8,804,241,408 parameters (the card's 8B).
ARCHITECTURES["internlm3-8b-instruct"] = dict(
    model_type="internlm3", vocab_size=128512, hidden_size=4096, intermediate_size=10240,
    num_hidden_layers=48, num_attention_heads=32, num_key_value_heads=2, head_dim=128,
    max_position_embeddings=32768, rms_norm_eps=1e-5, attention_bias=False, mlp_bias=False,
    tie_word_embeddings=False,
    rope_parameters={"rope_type": "dynamic", "factor": 6.0, "rope_theta": 50000000.0})
# allenai/OLMo-1B-hf and OLMo-7B-hf (olmo, the first OLMo) as public code quotes their
# config.json (the 1B's verbatim in two projects' tests; the 7B's in its original d_model /
# n_layers / mlp_ratio form: hidden 4096, 32 blocks of 32 heads, an MLP of 22016 / 2): LLaMA's
# block with LayerNorms without parameters, no GQA, vocab 50304, a 2048-token context,
# clip_qkv null; the 1B ties its embeddings, the 7B does not. 1,176,764,416 / 6,888,095,744
# parameters (the model cards: 1B, 7B).
ARCHITECTURES["olmo-1b"] = dict(
    model_type="olmo", hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
    num_attention_heads=16, num_key_value_heads=16, vocab_size=50304,
    max_position_embeddings=2048, rope_theta=10000.0, attention_bias=False, clip_qkv=None,
    tie_word_embeddings=True, pad_token_id=1, eos_token_id=50279)
ARCHITECTURES["olmo-7b"] = dict(
    ARCHITECTURES["olmo-1b"], hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
    num_attention_heads=32, num_key_value_heads=32, tie_word_embeddings=False)
# ibm-granite/granite-3.3-8b-instruct config.json as public code quotes it verbatim (a dump of
# its parameter shapes and config; the hub could not be read here): LLaMA's layout with
# Granite's four scalars, GQA 32 / 8, tied embeddings, a 128k context at rotary base 10,000,000.
# 8,170,864,640 parameters (the model card: 8B).
ARCHITECTURES["granite-3.3-8b"] = dict(
    model_type="granite", hidden_size=4096, intermediate_size=12800, num_hidden_layers=40,
    num_attention_heads=32, num_key_value_heads=8, vocab_size=49159, tie_word_embeddings=True,
    max_position_embeddings=131072, rms_norm_eps=1e-5, rope_theta=10000000.0,
    embedding_multiplier=12.0, attention_multiplier=0.0078125, residual_multiplier=0.22,
    logits_scaling=16.0, bos_token_id=0, eos_token_id=0, pad_token_id=0)
# ibm-granite/granite-swash-2b config.json (revision af1e3227100b61088eead48389ab5409b5d0e39c)
# as a public converter's test quotes it field for field (the hub could not be read here):
# Granite's scalars, GQA 20 / 4 of head_dim 128, a window of 128 tokens on three blocks in
# four (full attention on blocks 0, 4, ..., 20), no layer_rope_theta (every block at base
# 10,000), a sink logit per query head, tied embeddings, an 8k context. 2,144,463,840
# parameters (the name: 2B).
ARCHITECTURES["granite-swash-2b"] = dict(
    model_type="granite_swa", hidden_size=2560, intermediate_size=8192, num_hidden_layers=24,
    num_attention_heads=20, num_key_value_heads=4, vocab_size=100352, tie_word_embeddings=True,
    max_position_embeddings=8192, rms_norm_eps=1e-5, rope_theta=10000.0, attention_bias=False,
    mlp_bias=False, embedding_multiplier=12.0, attention_multiplier=0.0078125,
    residual_multiplier=0.28, logits_scaling=10.0, sliding_window=128,
    layer_types=["full_attention" if i % 4 == 0 else "sliding_attention" for i in range(24)],
    bos_token_id=100257, eos_token_id=100257, pad_token_id=100256)
# kyutai/helium-1-preview-2b config.json as public code quotes it field for field (a test's copy
# of mlx-community/helium-1-preview-2b-4bit's, whose shapes are the model's; another loader's
# test gives the same shape; the hub could not be read here): LLaMA's layout with Helium's
# pairwise rotation, 20 heads of 128 filling hidden 2560 (MHA), untied, a 4096-token context
# at rotary base 100,000. 2,172,643,840 parameters (the model card: 2B). (kyutai/helium-1-2b,
# the released model, has no shape here: no source of its config.json was found.)
ARCHITECTURES["helium-1-preview-2b"] = dict(
    model_type="helium", hidden_size=2560, intermediate_size=7040, num_hidden_layers=24,
    num_attention_heads=20, num_key_value_heads=20, head_dim=128, vocab_size=48000,
    tie_word_embeddings=False, max_position_embeddings=4096, rms_norm_eps=1e-8,
    rope_theta=100000.0, attention_bias=False, mlp_bias=False, hidden_act="silu",
    bos_token_id=1, eos_token_id=2)
# llava-hf/llava-1.5-7b-hf config.json's text_config as public code quotes it (the hub could not
# be read here): Vicuna-7B v1.5, LlamaConfig's defaults but a 4096-token context and 32,064
# embeddings (image and padding tokens). Its language model, which prunebench keeps of this
# multimodal checkpoint (checkpoint.text_part): 6,738,939,904 parameters.
ARCHITECTURES["llava-1.5-7b"] = dict(
    hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
    num_key_value_heads=32, vocab_size=32064, max_position_embeddings=4096, rms_norm_eps=1e-5,
    pad_token_id=32001)
# Qwen/Qwen2.5-VL-3B-Instruct and -7B-Instruct: their language models (checkpoint.text_part),
# Qwen2's blocks. The 3B's config.json as a public dump quotes it (the hub could not be read
# here; its per-block count, 77,076,992, is the dump's own): 3,085,938,688 parameters, tied.
# The 7B's shapes are Qwen2.5-7B's (a public print of the model: 152,064 x 3,584 embeddings, 28
# blocks, k/v 512 wide, MLP 18,944), with the VL configs' 128,000-token context:
# 7,615,616,512 parameters.
ARCHITECTURES["qwen2.5-vl-3b"] = dict(
    model_type="qwen2", hidden_size=2048, intermediate_size=11008, num_hidden_layers=36,
    num_attention_heads=16, num_key_value_heads=2, vocab_size=151936,
    max_position_embeddings=128000, rms_norm_eps=1e-6, rope_theta=1000000.0,
    use_sliding_window=False, tie_word_embeddings=True, bos_token_id=151643,
    eos_token_id=151645)
ARCHITECTURES["qwen2.5-vl-7b"] = dict(
    ARCHITECTURES["qwen2.5-7b"], max_position_embeddings=128000, eos_token_id=151645)
# THUDM/glm-4-9b-chat-hf config.json (now zai-org/; GLM family, GlmForCausalLM), as a stored copy
# of the hub's page quotes it verbatim (the hub could not be read here): q/k/v biases, GQA 32 / 2
# (head_dim 128), gate/up packed, the first half of each head rotating in adjacent pairs (the
# config has no partial_rotary_factor: GlmConfig's 0.5), rms_norm_eps 1.5625e-07, an untied
# head, a 128k context, and no bos token. 9,399,951,360 parameters (counted from this config;
# as GLM-4's own demo prints the model's, the card's 9.4B). glm-4-9b-chat-1m has 4 KV heads
# (its ChatGLM config's multi_query_group_num), not this shape (known_shape_of).
ARCHITECTURES["glm-4-9b-chat"] = dict(
    model_type="glm", hidden_size=4096, intermediate_size=13696, num_hidden_layers=40,
    num_attention_heads=32, num_key_value_heads=2, head_dim=128, vocab_size=151552,
    max_position_embeddings=131072, rms_norm_eps=1.5625e-07, rope_theta=10000.0,
    attention_bias=True, tie_word_embeddings=False, bos_token_id=None,
    eos_token_id=[151329, 151336, 151338], pad_token_id=151329)
# THUDM/GLM-4-9B-0414 and GLM-4-32B-0414 config.json (now zai-org/; GLM-4 family,
# Glm4ForCausalLM: GLM's block with norms on the sublayers' outputs, four a block), as public
# code and the configs of their public fine-tunes quote them (the hub could not be read here):
# partial_rotary_factor 0.5 given, rms_norm_eps 1e-5, a 32k context, GQA with 2 KV heads of 128;
# the 9B has q/k/v biases, the 32B none (attention_bias false), 48 query heads and 61 blocks.
# eos/pad 151329 (<|endoftext|>) as those configs give them, no bos token.
# 9,400,279,040 parameters (the 9B's safetensors total, as public notes quote it exactly) /
# 32,566,081,536 (counted from this config; the model card says 32B). GLM-Z1-9B-0414 and
# GLM-Z1-32B-0414 are trained from them, and GLM-4-32B-0414 from GLM-4-32B-Base-0414, in the
# same shapes.
_GLM4_0414 = dict(model_type="glm4", head_dim=128, num_key_value_heads=2, vocab_size=151552,
                  max_position_embeddings=32768, rms_norm_eps=1e-5, rope_theta=10000.0,
                  partial_rotary_factor=0.5, tie_word_embeddings=False, bos_token_id=None,
                  eos_token_id=151329, pad_token_id=151329)
ARCHITECTURES["glm-4-9b-0414"] = dict(
    _GLM4_0414, hidden_size=4096, intermediate_size=13696, num_hidden_layers=40,
    num_attention_heads=32, attention_bias=True)
ARCHITECTURES["glm-4-32b-0414"] = dict(
    _GLM4_0414, hidden_size=6144, intermediate_size=23040, num_hidden_layers=61,
    num_attention_heads=48, attention_bias=False)
# ByteDance-Seed/Seed-OSS-36B-Base and -Instruct config.json (Seed-OSS family,
# SeedOssForCausalLM), as public code quotes them (the hub could not be read here): a stored
# snapshot of the raw config.json files of -Base, -Instruct and -Base-woSyn (one shape) and a
# Rust loader's test that mirrors the Instruct config give hidden 5120, 64 blocks, MLP 27648,
# GQA 80 / 8 with head_dim 128 (heads x head_dim 10240, not hidden), vocab 155136, a 524288-token
# context (the card's 512K), rotary base 1e7 with rope_type default, rms_norm_eps 1e-6, q/k/v
# biases (attention_bias true), none on o_proj (attention_out_bias false) or the MLP (mlp_bias
# false), an untied head; the snapshot's tokenizer notes bos 0, pad 1, eos 2 (SeedOssConfig's
# defaults too). Its dropout (attention_dropout, residual_dropout) is left to SeedOssConfig's
# 0.1: it acts in training mode only, where prunebench turns it off. 36,151,104,512 parameters
# (count_params; the snapshot's count of the same configs gives this number too; the card: 36B).
ARCHITECTURES["seed-oss-36b"] = dict(
    model_type="seed_oss", hidden_size=5120, intermediate_size=27648, num_hidden_layers=64,
    num_attention_heads=80, num_key_value_heads=8, head_dim=128, vocab_size=155136,
    max_position_embeddings=524288, rms_norm_eps=1e-6, rope_theta=10000000.0,
    attention_bias=True, attention_out_bias=False, mlp_bias=False, tie_word_embeddings=False,
    bos_token_id=0, eos_token_id=2, pad_token_id=1)
# baidu/ERNIE-4.5-0.3B-PT and -0.3B-Base-PT config.json (ernie4_5, Ernie4_5ForCausalLM), as
# public code quotes it (the hub could not be read here): a stored copy of the raw config.json
# (with its auto_map, set aside) and a training script that mirrors it give hidden 1024, 18
# blocks, MLP 3072, GQA 16 / 2 with head_dim 128 (heads x head_dim 2048, not hidden), vocab
# 103424, a 131072-token context, rotary base 500000, rms_norm_eps 1e-5, no biases (use_bias
# false), tied embeddings, bos 1, eos 2, pad 0 (Ernie4_5Config's defaults too, whose docstring
# names baidu/ERNIE-4.5-0.3B-PT). 360,748,032 parameters (count_params; the card: 0.36B).
ARCHITECTURES["ernie-4.5-0.3b"] = dict(
    model_type="ernie4_5", hidden_size=1024, intermediate_size=3072, num_hidden_layers=18,
    num_attention_heads=16, num_key_value_heads=2, head_dim=128, vocab_size=103424,
    max_position_embeddings=131072, rms_norm_eps=1e-5, rope_theta=500000.0, use_bias=False,
    tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=0)
# Cohere (CohereForCausalLM: one LayerNorm a block feeding attention and MLP in parallel,
# tied embeddings, logits times logit_scale; the hub could not be read here). Token ids:
# CohereConfig's defaults, bos 5, eos 255001, pad 0, as Aya-23's config.json gives them.
_COHERE = dict(model_type="cohere", vocab_size=256000, layer_norm_eps=1e-5,
               tie_word_embeddings=True, attention_bias=False, use_qk_norm=False,
               bos_token_id=5, eos_token_id=255001, pad_token_id=0)
# CohereForAI/c4ai-command-r-v01 config.json as a Rust loader's test quotes it: hidden 8192, 40
# blocks, 64 heads and 64 KV heads, MLP 22528, vocab 256000, rotary base 8e6, logit_scale
# 0.0625, tied, no q/k norms; a table of Cohere shapes in public code gives the same numbers;
# max_position_embeddings 8192 as vLLM issue 3676 quotes the file (the card's 128K context is
# its model_max_length). 34,980,831,232 parameters (count_params; the card: 35B).
ARCHITECTURES["command-r"] = dict(
    _COHERE, hidden_size=8192, intermediate_size=22528, num_hidden_layers=40,
    num_attention_heads=64, num_key_value_heads=64, max_position_embeddings=8192,
    rope_theta=8000000.0, logit_scale=0.0625)
# CohereForAI/c4ai-command-r-plus (the first, 04-2024): hidden 12288 with 8 KV heads of 128 (96
# query heads) and vocab 256000, as two listings that cite its config.json give them; 64 blocks,
# MLP 33792, rotary base 7.5e7, logit_scale 0.8333333333333334, tied, from the table of Cohere
# shapes above; q/k norms per head (use_qk_norm): llama.cpp loads a [heads, head_dim] q and k
# norm weight in every block of a 64-block Command R, which is this model (the table's "false"
# is contradicted by the published weights llama.cpp reads). Its context is not found: Command
# R's 8192 (the card's 128K again a model_max_length). 103,810,674,688 parameters (the card:
# 104B).
ARCHITECTURES["command-r-plus"] = dict(
    _COHERE, hidden_size=12288, intermediate_size=33792, num_hidden_layers=64,
    num_attention_heads=96, num_key_value_heads=8, max_position_embeddings=8192,
    rope_theta=75000000.0, logit_scale=0.8333333333333334, use_qk_norm=True)
# CohereForAI/aya-23-8B config.json as MLC LLM's model presets quote it (and an MLC test):
# hidden 4096, 32 blocks, GQA 32 / 8, MLP 14336, vocab 256000, context 8192, rotary base 10000,
# logit_scale 0.0625, no q/k norms, tied (CohereConfig's default; the file names none).
# 8,028,033,024 parameters (the card: 8B).
ARCHITECTURES["aya-23-8b"] = dict(
    _COHERE, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
    num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=8192,
    rope_theta=10000.0, logit_scale=0.0625)
# Cohere2 (Cohere2ForCausalLM: Cohere's block without q/k norms; 4096-token windows on three
# blocks of four, which alone rotate, the fourth global without rotary positions). From a table
# of Cohere2 shapes in public code (the hub could not be read here), the window and its pattern
# as transformers' Cohere2 documentation describes Command R7B; rotary base 5e4, logit_scale
# 0.25, tied. Their context is not found: Cohere2Config's 8192 (the cards: 128K / 256K).
_COHERE2 = dict(model_type="cohere2", sliding_window=4096, sliding_window_pattern=4,
                rope_theta=50000.0, logit_scale=0.25, max_position_embeddings=8192)
# CohereForAI/c4ai-command-r7b-12-2024 (and -arabic-02-2025, one shape): Aya-23-8B's shape
# (hidden 4096, 32 blocks, GQA 32 / 8, MLP 14336) in Cohere2's block (no use_qk_norm key).
# 8,028,033,024 parameters (the card: 7B, 8.03B counted).
ARCHITECTURES["command-r7b"] = {key: value for key, value in {
    **ARCHITECTURES["aya-23-8b"], **_COHERE2}.items() if key != "use_qk_norm"}
# CohereForAI/c4ai-command-a-03-2025: hidden 12288, 64 blocks, GQA 96 / 8, MLP 36864.
# 111,057,580,032 parameters (the card: 111B).
ARCHITECTURES["command-a-03-2025"] = dict(
    ARCHITECTURES["command-r7b"], hidden_size=12288, intermediate_size=36864,
    num_hidden_layers=64, num_attention_heads=96)
# Hunyuan dense (hunyuan_v1_dense, HunYuanDenseV1ForCausalLM; tencent/Hunyuan-*-Pretrain and
# -Instruct, one shape each), as public code quotes them (the hub could not be read here): a
# family module of an interpretability tool written against the published checkpoints (0.5B
# 16 query heads over 8 KV heads in 24 blocks, 1.8B 16 over 4, 4B and 7B 32 over 8; head_dim
# 128, rope_theta 10000 with rope_scaling type dynamic, alpha 1000, and tied embeddings on
# every checkpoint; vocab 120818 for 0.5B to 4B, about 128K for 7B). All: no biases
# (attention_bias false), rms_norm_eps 1e-5, a 262144-token context (the cards' 256K; a
# hardware survey reads it from 0.5B's config.json).
_HUNYUAN = dict(model_type="hunyuan_v1_dense", head_dim=128, max_position_embeddings=262144,
                rms_norm_eps=1e-5, rope_theta=10000.0,
                rope_scaling={"type": "dynamic", "alpha": 1000.0, "factor": 1.0},
                attention_bias=False, tie_word_embeddings=True)
# Hunyuan-7B: hidden 4096, 32 blocks, MLP 14336, vocab 128167, bos 127958, eos 127960, pad
# 127961 (a TensorRT tool's Hunyuan 7B config fixture and Hy-MT2-7B's config.json, one shape,
# quoted whole; GGUF metadata of the same: feed_forward_length 14336). 7,504,568,320
# parameters (count_params; the card: 7B).
ARCHITECTURES["hunyuan-7b"] = dict(
    _HUNYUAN, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
    num_attention_heads=32, num_key_value_heads=8, vocab_size=128167, bos_token_id=127958,
    eos_token_id=127960, pad_token_id=127961)
# Hunyuan-1.8B: hidden 2048, 32 blocks, MLP 6144, 16 / 4 heads (GGUF metadata a HY-MT 1.8B
# converter checks, the translation model fine-tuned from it; a HY-MT test config: hidden 2048,
# 32 blocks, vocab 120818). 1,791,080,448 parameters (count_params; the card: 1.8B).
ARCHITECTURES["hunyuan-1.8b"] = dict(
    _HUNYUAN, hidden_size=2048, intermediate_size=6144, num_hidden_layers=32,
    num_attention_heads=16, num_key_value_heads=4, vocab_size=120818)
# Hunyuan-0.5B: hidden 1024 (a derivative's config.json, MinerU-HTML's hunyuan0.5B), 24
# blocks, 16 / 8 heads; MLP 3584, which alone gives the 539.0M parameters a model census
# counted (count_params: 539,010,048; the card: 0.5B).
ARCHITECTURES["hunyuan-0.5b"] = dict(
    _HUNYUAN, hidden_size=1024, intermediate_size=3584, num_hidden_layers=24,
    num_attention_heads=16, num_key_value_heads=8, vocab_size=120818)
# StableLM (StableLmForCausalLM: LayerNorms with weights and biases, a quarter of each head
# rotating, untied; the hub could not be read here). stabilityai/stablelm-3b-4e1t: transformers'
# StableLmConfig documents its defaults as this checkpoint's (hidden 2560, 32 blocks, 32 heads
# and 32 KV heads, MLP 6912, vocab 50304, context 4096, rotary base 10000 on 25% of each head,
# LayerNorm epsilon 1e-5, no q/k/v biases, untied); its card's table gives hidden 2560, 32
# blocks, 32 heads, 4096 tokens and 2,795,443,200 parameters, which count_params gives too.
_STABLELM = dict(model_type="stablelm", layer_norm_eps=1e-5, rope_theta=10000.0,
                 partial_rotary_factor=0.25, max_position_embeddings=4096,
                 tie_word_embeddings=False, use_qkv_bias=False, qk_layernorm=False,
                 use_parallel_residual=False)
ARCHITECTURES["stablelm-3b-4e1t"] = dict(
    _STABLELM, hidden_size=2560, intermediate_size=6912, num_hidden_layers=32,
    num_attention_heads=32, num_key_value_heads=32, vocab_size=50304)
# stabilityai/stablelm-2-1_6b (and stablelm-2-zephyr-1_6b, one shape): its config.json as a
# public engine's test quotes it (vocab 100352, hidden 2048, MLP 5632, 24 blocks, 32 heads and
# 32 KV heads, rotary base 10000 on 25% of each head, context 4096, q/k/v biases, untied); its
# card's table gives hidden 2048, 24 blocks, 32 heads and 4096 tokens. 1,644,515,328
# parameters (count_params); the card's 1,644,417,024 is 98,304 fewer, the blocks' LayerNorm
# biases (24 x 2 x 2048), which transformers' model holds.
ARCHITECTURES["stablelm-2-1.6b"] = dict(
    _STABLELM, hidden_size=2048, intermediate_size=5632, num_hidden_layers=24,
    num_attention_heads=32, num_key_value_heads=32, vocab_size=100352, use_qkv_bias=True)
# GPT-NeoX (GPTNeoXForCausalLM: q/k/v packed head by head, every projection biased,
# LayerNorms with biases, the parallel residual with a norm before each sublayer, a quarter of
# each head rotating, untied; the hub could not be read here). EleutherAI/pythia-6.9b and
# pythia-12b: their -deduped twins' configs as a public repository prints them
# (GPTNeoXConfig's dump: hidden 4096 / 5120, MLP 16384 / 20480, 32 / 36 blocks, 32 / 40 heads,
# vocab 50432 / 50688, context 2048, rotary_pct 0.25 on base 10000, LayerNorm epsilon 1e-5,
# attention_bias true, use_parallel_residual true, untied); the Pythia card's table gives the
# same blocks, widths and heads for both suites and 6,857,302,016 / 11,846,072,320 parameters,
# which count_params gives. EleutherAI/gpt-neox-20b: its config.json as a public loader's test
# fixture quotes it (vocab 50432, hidden 6144, MLP 24576, 44 blocks, 64 heads, context 2048,
# gelu, the parallel residual, untied; transformers' GPTNeoXConfig documents its defaults as
# this model's, rotary_pct 0.25 among them); its card gives 44 blocks, d_model 6144, 64 heads
# of 96 and 20,554,567,680 parameters, which count_params gives.
_GPT_NEOX = dict(model_type="gpt_neox", layer_norm_eps=1e-5, rotary_emb_base=10000,
                 rotary_pct=0.25, max_position_embeddings=2048, tie_word_embeddings=False,
                 attention_bias=True, use_parallel_residual=True, hidden_act="gelu")
ARCHITECTURES["pythia-6.9b"] = dict(
    _GPT_NEOX, hidden_size=4096, intermediate_size=16384, num_hidden_layers=32,
    num_attention_heads=32, vocab_size=50432)
ARCHITECTURES["pythia-12b"] = dict(
    _GPT_NEOX, hidden_size=5120, intermediate_size=20480, num_hidden_layers=36,
    num_attention_heads=40, vocab_size=50688)
ARCHITECTURES["gpt-neox-20b"] = dict(
    _GPT_NEOX, hidden_size=6144, intermediate_size=24576, num_hidden_layers=44,
    num_attention_heads=64, vocab_size=50432)
# EleutherAI/gpt-j-6b (GPTJForCausalLM: one biased LayerNorm a block feeding attention and MLP
# in parallel, q/k/v/out_proj without biases, 16 heads of 256 each its own keys and values,
# the first 64 dimensions of each head rotating in adjacent pairs, an ungated gelu_new MLP with
# biases, a biased untied LM head; the hub could not be read here): its config.json as two
# public repositories copy it whole (one a loader's dump of the file, one a benchmark's local
# copy with transformers_version 4.16.0.dev0): n_embd 4096, n_layer 28, n_head 16, n_inner
# null (4 x 4096), rotary_dim 64, n_positions 2048, vocab 50400, gelu_new, LayerNorm epsilon
# 1e-5, tie_word_embeddings false; the model card's table gives the same (28 blocks, d_model
# 4096, d_ff 16384, 16 heads of 256, 64 rotary dimensions, context 2048, an embedding of 50400
# rows). 6,050,882,784 parameters (count_params, transformers' model); the card's total,
# 6,053,381,344, is 2,498,560 more, which no piece of this config accounts for.
ARCHITECTURES["gpt-j-6b"] = dict(
    model_type="gptj", n_embd=4096, n_layer=28, n_head=16, n_inner=None, rotary_dim=64,
    n_positions=2048, vocab_size=50400, activation_function="gelu_new",
    layer_norm_epsilon=1e-5, tie_word_embeddings=False)
# openai-community/gpt2, gpt2-medium and gpt2-xl (GPT2LMHeadModel: c_attn packing [all q; all
# k; all v], c_proj, c_fc -> gelu_new -> c_proj, all biased, every head its own keys and values,
# biased LayerNorms before each sublayer, learned positions wpe of n_positions rows, the LM head
# tied; the hub could not be read here): their config.json as public copies print them whole
# (transformers' GPT2Config of from_pretrained: gpt2 twice, with _name_or_path "gpt2" and
# transformers_version 4.44.0; gpt2-medium once by name and once unnamed, vocab 50257; gpt2-xl
# twice by name, 4.28.1): n_embd 768 / 1024 / 1600, n_layer 12 / 24 / 48, n_head 12 / 16 / 25,
# n_inner null (4 x n_embd), n_positions 1024, vocab 50257, gelu_new, LayerNorm epsilon 1e-5,
# scale_attn_weights true, scale_attn_by_inverse_layer_idx and reorder_and_upcast_attn false,
# no tie_word_embeddings key (tied, the class's default). 124,439,808, 354,823,168 and
# 1,557,611,200 parameters (count_params, transformers' model; gpt2-xl's the count a public
# copy quotes for GPT2Model, which the tied head adds nothing to). gpt2-large is left out: no
# copy of its config.json was found.
_GPT2 = dict(model_type="gpt2", n_inner=None, n_positions=1024, vocab_size=50257,
             activation_function="gelu_new", layer_norm_epsilon=1e-5, tie_word_embeddings=True)
ARCHITECTURES["gpt2"] = dict(_GPT2, n_embd=768, n_layer=12, n_head=12)
ARCHITECTURES["gpt2-medium"] = dict(_GPT2, n_embd=1024, n_layer=24, n_head=16)
ARCHITECTURES["gpt2-xl"] = dict(_GPT2, n_embd=1600, n_layer=48, n_head=25)
# EleutherAI/gpt-neo-125M (GPTNeoForCausalLM: learned positions, q/k/v without biases, a biased
# out_proj, scores unscaled in float32, global and local blocks in turn over a window of 256,
# an ungated gelu_new MLP of 4 x hidden, LayerNorms, tied; the hub could not be read here):
# its config.json as public repositories' tests quote it field for field (hidden 768, 12
# layers, 12 heads, attention_types [[["global", "local"], 6]], window_size 256,
# intermediate_size null, 2048 positions, vocabulary 50257). 125,198,592 parameters
# (count_params, transformers' model; the card's 125M).
ARCHITECTURES["gpt-neo-125m"] = dict(
    model_type="gpt_neo", hidden_size=768, num_layers=12, num_heads=12,
    attention_types=[[["global", "local"], 6]], window_size=256, intermediate_size=None,
    max_position_embeddings=2048, vocab_size=50257, activation_function="gelu_new",
    layer_norm_epsilon=1e-5, tie_word_embeddings=True, bos_token_id=50256, eos_token_id=50256)
# state-spaces/mamba-130m-hf (MambaForCausalLM: Mamba-1 blocks only, no attention; the hub
# could not be read here): its config.json as a public repository's tests quote it whole
# (NVIDIA's Megatron-Bridge tests of its Mamba bridge: every key, transformers_version
# 4.39.0.dev0; hidden 768, 24 blocks, intermediate_size 1536, state 16, conv kernel 4,
# time_step_rank 48, use_bias false, use_conv_bias true, vocabulary 50280, LayerNorm epsilon
# 1e-5, token ids 0, no tie_word_embeddings key: tied, the class's default), a Rust engine's
# copy of "the arch block of the real config.json" and an MLX tool's test of mlx-community's
# copy giving the same shape keys. 129,135,360 parameters (count_params, transformers' model;
# the name's 130M).
ARCHITECTURES["mamba-130m"] = dict(
    model_type="mamba", hidden_size=768, num_hidden_layers=24, intermediate_size=1536,
    expand=2, state_size=16, conv_kernel=4, time_step_rank=48, use_bias=False,
    use_conv_bias=True, vocab_size=50280, layer_norm_epsilon=1e-5, hidden_act="silu",
    residual_in_fp32=True, tie_word_embeddings=True, bos_token_id=0, eos_token_id=0,
    pad_token_id=0)
# facebook/xglm-564M, -1.7B, -2.9B, -4.5B, -7.5B (XGLMForCausalLM: fixed sinusoidal positions,
# embeddings times sqrt(d_model), biases everywhere, LayerNorms, an ungated MLP of ffn_dim, tied;
# the hub could not be read here): their config.json files as a public audit of XGLM tabulates
# them field by field from the hub's raw config.json (d_model, num_layers, attention_heads,
# ffn_dim, vocabulary 256008, 2048 positions, the activation: gelu but 4.5B's relu), 1.7B's
# also quoted whole by a public conversion script (d_model 2048, 24 layers, 16 heads, ffn_dim
# 8192, scale_embedding true, pad 1, bos 0, eos 2). 564,463,616 / 1,732,907,008 /
# 2,941,505,536 / 4,552,511,488 / 7,492,771,840 parameters (count_params, transformers'
# model; the names' 564M, 1.7B, 2.9B, 4.5B, 7.5B).
_XGLM = dict(model_type="xglm", vocab_size=256008, max_position_embeddings=2048,
             activation_function="gelu", scale_embedding=True, tie_word_embeddings=True,
             bos_token_id=0, pad_token_id=1, eos_token_id=2)
ARCHITECTURES["xglm-564m"] = dict(_XGLM, d_model=1024, num_layers=24, attention_heads=16,
                                  ffn_dim=4096)
ARCHITECTURES["xglm-1.7b"] = dict(_XGLM, d_model=2048, num_layers=24, attention_heads=16,
                                  ffn_dim=8192)
ARCHITECTURES["xglm-2.9b"] = dict(_XGLM, d_model=2048, num_layers=48, attention_heads=16,
                                  ffn_dim=8192)
ARCHITECTURES["xglm-4.5b"] = dict(_XGLM, d_model=2048, num_layers=48, attention_heads=16,
                                  ffn_dim=16384, activation_function="relu")
ARCHITECTURES["xglm-7.5b"] = dict(_XGLM, d_model=4096, num_layers=32, attention_heads=32,
                                  ffn_dim=16384)
# microsoft/BioGPT-Large (BioGptForCausalLM: OPT's learned positions of offset 2, embeddings
# times sqrt(hidden_size), biases everywhere, LayerNorms, an ungated gelu MLP, the head
# output_projection tied; the hub could not be read here): its config.json as a public
# script's notes print transformers' BioGptConfig of it whole (_name_or_path
# microsoft/BioGPT-Large, transformers_version 4.34.1): hidden 1600, 48 layers, 25 heads,
# intermediate 6400, 2048 positions, vocabulary 57717, scale_embedding true, no
# tie_word_embeddings key (tied, the class's default). 1,571,188,800 parameters (count_params,
# transformers' model; the name's 1.5B). microsoft/biogpt (347M) is left out: no copy of its
# config.json was found, only BioGptConfig's defaults, which its docstring calls that shape.
ARCHITECTURES["biogpt-large"] = dict(
    model_type="biogpt", vocab_size=57717, hidden_size=1600, num_hidden_layers=48,
    num_attention_heads=25, intermediate_size=6400, max_position_embeddings=2048,
    hidden_act="gelu", layer_norm_eps=1e-12, scale_embedding=True, tie_word_embeddings=True,
    bos_token_id=0, pad_token_id=1, eos_token_id=2)
# Salesforce/ctrl (CTRLLMHeadModel: fixed sinusoidal positions of n_positions rows, embeddings
# times sqrt(n_embd), pre-LN blocks of biased Wq / Wk / Wv / dense and a ReLU MLP of dff, a
# tied LM head with a bias; the hub could not be read here): its config.json as PaddleNLP's
# port of CTRL quotes it field by field in its pretrained_init_configuration["ctrl"] (n_embd
# 1280, 48 layers, 16 heads, dff 8192, n_positions 50000, vocabulary 246534, eps 1e-6, tied).
# 1,637,964,550 parameters (count_params, transformers' model; the card's 1.63 billion).
ARCHITECTURES["ctrl"] = dict(model_type="ctrl", vocab_size=246534, n_embd=1280, dff=8192,
                             n_layer=48, n_head=16, n_positions=50000,
                             layer_norm_epsilon=1e-6, tie_word_embeddings=True)
# bigcode/gpt_bigcode-santacoder (GPTBigCodeForCausalLM, SantaCoder's transformers port:
# learned positions, c_attn packing the 16 query heads of 128 and one KV head (multi_query),
# biases everywhere, LayerNorms, an ungated gelu_pytorch_tanh MLP, tied; the hub could not be
# read here): its config.json as a public repository's test quotes it field for field (n_embd
# 2048, n_layer 24, n_head 16, n_inner 8192, n_positions 2048, vocab 49280, multi_query true,
# LayerNorm epsilon 1e-5, no tie_word_embeddings key: tied, the class's default;
# transformers_version 4.28.0.dev0), another's test repeating its shape keys. 1,124,886,528
# parameters (count_params, transformers' model; the card's 1.1B). bigcode/santacoder itself
# is the same weights under GPT-2's model_type with code of its own, which prunebench refuses.
ARCHITECTURES["gpt_bigcode-santacoder"] = dict(
    model_type="gpt_bigcode", n_embd=2048, n_layer=24, n_head=16, n_inner=8192,
    n_positions=2048, vocab_size=49280, multi_query=True,
    activation_function="gelu_pytorch_tanh", layer_norm_epsilon=1e-5,
    tie_word_embeddings=True, bos_token_id=49152, eos_token_id=49152)
# bigcode/starcoder2-3b (Starcoder2ForCausalLM): its config.json as the public copies that name
# it (_name_or_path bigcode/starcoder2-3b: OpenVINO conversions, fine-tunes) repeat it: hidden
# 3072, MLP 12288 (c_fc / c_proj, gelu_pytorch_tanh), 30 blocks, 24 heads on 2 KV heads,
# vocab 49152, context 16384, a 4096-token window in every block, rotary base
# 999999.4420358813, biases by use_bias (true), LayerNorm epsilon 1e-5, dropout 0.1 on the
# attention weights, the residual and the embeddings (bigcode's "add dropout" revision of the
# file, as the hub's blame shows it), no tie_word_embeddings key (tied, the class's default).
# 3,030,371,328 parameters (count_params); the card says 3B, the hub's pages of its copies
# 3.03B. The exact total is the one the card's own memory footprints allow: 12624.81 MB in
# float32 and 6312.41 MB in bfloat16 (get_memory_footprint, parameters and buffers, under the
# transformers the card was written for, whose Starcoder2RotaryEmbedding in each of the 30
# attention blocks held cos / sin caches of 16384 x 128 in the model's dtype and 64 float32
# inv_freq) pin the count to within 1,250 of 3,030,371,328, less than any bias or norm of
# this shape (tests/test_starcoder2_phi.py).
ARCHITECTURES["starcoder2-3b"] = dict(
    model_type="starcoder2", hidden_size=3072, intermediate_size=12288, num_hidden_layers=30,
    num_attention_heads=24, num_key_value_heads=2, vocab_size=49152,
    max_position_embeddings=16384, sliding_window=4096, rope_theta=999999.4420358813,
    use_bias=True, norm_epsilon=1e-5, hidden_act="gelu_pytorch_tanh", attention_dropout=0.1,
    residual_dropout=0.1, embedding_dropout=0.1, tie_word_embeddings=True, bos_token_id=0,
    eos_token_id=0)
# bigcode/starcoder2-7b and -15b config.json, as the hub's pages of the files show them (the
# 7B's first revision and the copies that name it after its "add dropout" revision; the 15B's
# blame) and their copies repeat them: StarCoder2-3B's block and settings but hidden 4608 /
# 6144, MLP 18432 / 24576, 32 / 40 blocks, 36 / 48 heads on 4 KV heads of 128, rotary base
# 1e6 / 1e5; the 7B without a tie_word_embeddings key (tied: its three bfloat16 shards, 4.89 +
# 4.95 + 4.51 GB, hold the 7.17B a tied model has, not an untied one's 7.40B), the 15B untied
# (tie_word_embeddings false). 7,173,923,840 / 15,957,889,024 parameters (count_params; the
# cards say 7B and 15B).
ARCHITECTURES["starcoder2-7b"] = dict(
    ARCHITECTURES["starcoder2-3b"], hidden_size=4608, intermediate_size=18432,
    num_hidden_layers=32, num_attention_heads=36, num_key_value_heads=4, rope_theta=1000000.0)
ARCHITECTURES["starcoder2-15b"] = dict(
    ARCHITECTURES["starcoder2-3b"], hidden_size=6144, intermediate_size=24576,
    num_hidden_layers=40, num_attention_heads=48, num_key_value_heads=4, rope_theta=100000.0,
    tie_word_embeddings=False)
# microsoft/phi-2 (PhiForCausalLM): its config.json as public copies that name it repeat it:
# hidden 2560, MLP 10240 (fc1 / fc2, gelu_new), 32 blocks, 32 heads and 32 KV heads, vocab
# 51200, context 2048, rotary base 10000 on 0.4 of each head, no q/k LayerNorms, LayerNorm
# epsilon 1e-5, resid_pdrop 0.1, untied (the LM head biased). 2,779,683,840 parameters
# (count_params), the card's 2.78B (2.7B in its text).
ARCHITECTURES["phi-2"] = dict(
    model_type="phi", hidden_size=2560, intermediate_size=10240, num_hidden_layers=32,
    num_attention_heads=32, num_key_value_heads=32, vocab_size=51200,
    max_position_embeddings=2048, partial_rotary_factor=0.4, rope_theta=10000.0,
    qk_layernorm=False, layer_norm_eps=1e-5, hidden_act="gelu_new", resid_pdrop=0.1,
    embd_pdrop=0.0, attention_dropout=0.0, tie_word_embeddings=False, bos_token_id=50256,
    eos_token_id=50256)
# microsoft/phi-1 config.json as the hub's blame of the file shows it, and microsoft/phi-1_5's
# as the copies that name it repeat it (one shape): phi-2's block at hidden 2048, MLP 8192, 24
# blocks of 32 heads (phi-1's num_key_value_heads null: as many as the heads), half of each
# head rotating (partial_rotary_factor 0.5), no residual dropout, bos and eos null.
# 1,418,270,720 parameters (count_params; phi-1.5's float16 model.safetensors is the 2.84 GB
# that makes; the cards say 1.3B).
ARCHITECTURES["phi-1_5"] = dict(
    ARCHITECTURES["phi-2"], hidden_size=2048, intermediate_size=8192, num_hidden_layers=24,
    partial_rotary_factor=0.5, resid_pdrop=0.0, bos_token_id=None, eos_token_id=None)
ARCHITECTURES["phi-1"] = ARCHITECTURES["phi-1_5"]
# facebook/opt-6.7b and facebook/opt-13b (OPTForCausalLM): their config.json as public code
# prints and quotes it (_name_or_path facebook/opt-6.7b: OPTConfig printed by a fine-tuning
# script; facebook/opt-13b: a conversion script's table of the published configs): hidden
# 4096 / 5120, MLP (ffn_dim) 16384 / 20480, 32 / 40 blocks of 32 / 40 heads (every head its
# own keys and values), vocab 50272, context 2048 (a learned table of 2050 rows), relu,
# LayerNorms before each sublayer (do_layer_norm_before), embeddings as wide as the blocks
# (word_embed_proj_dim = hidden_size), dropout 0.1, tied (no tie_word_embeddings key).
# 6,658,473,984 / 12,853,473,280 parameters (count_params: the learned position table, every
# projection's bias and both LayerNorms' weights and biases counted), the cards' 6.7B / 13B.
_OPT = dict(model_type="opt", vocab_size=50272, max_position_embeddings=2048,
            activation_function="relu", do_layer_norm_before=True,
            _remove_final_layer_norm=False, enable_bias=True,
            layer_norm_elementwise_affine=True, dropout=0.1, attention_dropout=0.0,
            bos_token_id=2, eos_token_id=2, pad_token_id=1, tie_word_embeddings=True)
ARCHITECTURES["opt-6.7b"] = dict(_OPT, hidden_size=4096, ffn_dim=16384, num_hidden_layers=32,
                                 num_attention_heads=32, word_embed_proj_dim=4096)
ARCHITECTURES["opt-13b"] = dict(_OPT, hidden_size=5120, ffn_dim=20480, num_hidden_layers=40,
                                num_attention_heads=40, word_embed_proj_dim=5120)
# bigscience/bloom-7b1 and bigscience/bloom (bloom-176b here; BloomForCausalLM: ALiBi, every
# projection and LayerNorm biased, a LayerNorm of the embeddings, an MLP of 4 x hidden, tied;
# the hub could not be read here): bloom-7b1's config.json as a public test fixture quotes BLOOMZ-7b1's
# (hidden 4096, n_layer 30, n_head 32, vocab 250880, seq_length 2048), and public code quotes
# the 7,069,016,064 parameters Hugging Face reports for it; the BLOOM card gives 70 layers of
# 112 heads, hidden 14336, 3,596,615,680 embedding parameters (250880 x 14336) and
# 176,247,271,424 parameters. count_params gives both totals. (No MPT shape: MPT-7B's and
# MPT-30B's config.json files could not be read whole from a source here.)
_BLOOM = dict(model_type="bloom", vocab_size=250880, layer_norm_epsilon=1e-5,
              apply_residual_connection_post_layernorm=False, tie_word_embeddings=True,
              bos_token_id=1, eos_token_id=2, pad_token_id=3)
ARCHITECTURES["bloom-7b1"] = dict(_BLOOM, hidden_size=4096, n_layer=30, n_head=32)
ARCHITECTURES["bloom-176b"] = dict(_BLOOM, hidden_size=14336, n_layer=70, n_head=112)
# LiquidAI/LFM2-1.2B (Lfm2ForCausalLM: 10 gated short-convolution blocks and 6 GQA ones, depth
# pruning and the hf backends only: param_count.refuse_moe; the hub could not be read here):
# its config.json as a public repository quotes it verbatim from a converted container's copy
# (block_ff_dim 12288 over intermediate_size 8192, auto-adjusted as Lfm2MLP does to 8192;
# full_attn_idxs [2, 5, 8, 10, 12, 14]; no tie key: tied, Lfm2Config's default, set here). Its
# 1,170,340,608 parameters (count_params) are the total a public copy of the LFM2 model card's
# table gives. (No shape for LFM2-350M, 700M, 2.6B or LFM2-8B-A1B: their config.json files
# could not be read whole from a source here, only the cards' totals and trimmed copies.)
ARCHITECTURES["lfm2-1.2b"] = dict(
    model_type="lfm2", vocab_size=65536, hidden_size=2048, block_ff_dim=12288,
    intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
    num_key_value_heads=8, full_attn_idxs=[2, 5, 8, 10, 12, 14], max_position_embeddings=128000,
    norm_eps=1e-5, conv_L_cache=3, conv_bias=False, block_auto_adjust_ff_dim=True,
    block_multiple_of=256, block_ffn_dim_multiplier=1.0, rope_theta=1000000.0,
    tie_word_embeddings=True, bos_token_id=1, eos_token_id=7, pad_token_id=0)
# Mixtures of experts (depth pruning and the hf backends only: param_count.refuse_moe).
# mistralai/Mixtral-8x7B-v0.1 and mistral-community/Mixtral-8x22B-v0.1 config.json as public
# code quotes them verbatim (the hub could not be read here): 8 experts a block, 2 routed a
# token, GQA 32 / 8 and 48 / 8, no sliding window, untied. 46,702,792,704 / 140,620,634,112
# parameters (the model cards: 46.7B and 141B, 12.9B and 39B of them active for a token).
# Mixtral-8x22B-Instruct-v0.1 has 32,768 embeddings, so it is not planned as this shape.
_MIXTRAL = dict(model_type="mixtral", num_local_experts=8, num_experts_per_tok=2,
                num_key_value_heads=8, vocab_size=32000, rms_norm_eps=1e-5,
                rope_theta=1000000.0, sliding_window=None, tie_word_embeddings=False,
                bos_token_id=1, eos_token_id=2)
ARCHITECTURES["mixtral-8x7b"] = dict(
    _MIXTRAL, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
    num_attention_heads=32, max_position_embeddings=32768)
ARCHITECTURES["mixtral-8x22b-v0.1"] = dict(
    _MIXTRAL, hidden_size=6144, intermediate_size=16384, num_hidden_layers=56,
    num_attention_heads=48, max_position_embeddings=65536)
# Qwen/Qwen3-30B-A3B and Qwen3-235B-A22B config.json as public code quotes them (the hub could
# not be read here): every block sparse (decoder_sparse_step 1, no mlp_only_layers), 128
# experts of moe_intermediate_size 768 / 1536, 8 routed a token with their weights renormalised
# (norm_topk_prob), Qwen3's q/k norms, head_dim 128, GQA 32 / 4 and 64 / 4, untied.
# 30,532,122,624 / 235,093,634,560 parameters (the model cards: 30.5B and 235B; 3.3B / 22B
# activated). `intermediate_size` is that of a dense block, which these have none of.
_QWEN3_MOE = dict(model_type="qwen3_moe", num_experts=128, num_experts_per_tok=8,
                  norm_topk_prob=True, decoder_sparse_step=1, mlp_only_layers=[],
                  num_key_value_heads=4, head_dim=128, vocab_size=151936,
                  max_position_embeddings=40960, rms_norm_eps=1e-6, rope_theta=1000000.0,
                  attention_bias=False, use_sliding_window=False, tie_word_embeddings=False,
                  bos_token_id=151643, eos_token_id=151645)
ARCHITECTURES["qwen3-30b-a3b"] = dict(
    _QWEN3_MOE, hidden_size=2048, intermediate_size=6144, moe_intermediate_size=768,
    num_hidden_layers=48, num_attention_heads=32)
ARCHITECTURES["qwen3-235b-a22b"] = dict(
    _QWEN3_MOE, hidden_size=4096, intermediate_size=12288, moe_intermediate_size=1536,
    num_hidden_layers=94, num_attention_heads=64)
# allenai/OLMoE-1B-7B-0924 config.json as public code quotes it (the hub could not be read
# here): 16 blocks, each of 64 experts of intermediate_size 1024, 8 routed a token with their
# weights not renormalised (norm_topk_prob false), OLMo-2's q/k norms over the whole
# projections, 16 heads of 128 (no GQA), no biases, clip_qkv null, untied, no BOS token.
# 6,919,161,856 parameters (the safetensors total; the model card: 6.9B, 1.3B active).
# OLMoE-1B-7B-0125 (and its Instruct) has the same shape and total under its release's name.
ARCHITECTURES["olmoe-1b-7b-0924"] = dict(
    model_type="olmoe", num_experts=64, num_experts_per_tok=8, norm_topk_prob=False,
    hidden_size=2048, intermediate_size=1024, num_hidden_layers=16, num_attention_heads=16,
    num_key_value_heads=16, vocab_size=50304, max_position_embeddings=4096, rms_norm_eps=1e-5,
    rope_theta=10000.0, attention_bias=False, clip_qkv=None, tie_word_embeddings=False,
    bos_token_id=None, eos_token_id=50279, pad_token_id=1)
ARCHITECTURES["olmoe-1b-7b-0125"] = ARCHITECTURES["olmoe-1b-7b-0924"]
# Qwen/Qwen1.5-MoE-A2.7B and Qwen/Qwen2-57B-A14B config.json as public code quotes them (the
# hub could not be read here; the 57B's verbatim in TensorRT-LLM's
# tests/unittest/_torch/modeling/test_modeling_qwen_moe.py): every block sparse
# (decoder_sparse_step 1, no mlp_only_layers), 60 experts of moe_intermediate_size 1408 with 4
# routed a token / 64 of 2560 with 8, their weights not renormalised (norm_topk_prob false),
# and a shared expert of shared_expert_intermediate_size 5632 / 20480 that every token goes
# through; Qwen2's q/k/v biases (qkv_bias, Qwen2MoeConfig's default: the configs leave it
# out), 16 heads of 128 (no GQA) / GQA 28 / 4, no sliding window, untied. 14,315,784,192 /
# 57,408,658,944 parameters (the model cards: 14.3B, 2.7B activated / 57B, 14B activated).
# `intermediate_size` is that of a dense block, which these have none of. -Chat and -Instruct
# have the same shapes; the contexts are the base models' (the A2.7B's 8,192; its -Chat's
# config.json gives 32,768).
_QWEN2_MOE = dict(model_type="qwen2_moe", decoder_sparse_step=1, mlp_only_layers=[],
                  norm_topk_prob=False, qkv_bias=True, vocab_size=151936, rms_norm_eps=1e-6,
                  rope_theta=1000000.0, use_sliding_window=False, tie_word_embeddings=False,
                  bos_token_id=151643, eos_token_id=151643)
ARCHITECTURES["qwen1.5-moe-a2.7b"] = dict(
    _QWEN2_MOE, num_experts=60, num_experts_per_tok=4, hidden_size=2048,
    intermediate_size=5632, moe_intermediate_size=1408, shared_expert_intermediate_size=5632,
    num_hidden_layers=24, num_attention_heads=16, num_key_value_heads=16,
    max_position_embeddings=8192)
ARCHITECTURES["qwen2-57b-a14b"] = dict(
    _QWEN2_MOE, num_experts=64, num_experts_per_tok=8, hidden_size=3584,
    intermediate_size=18944, moe_intermediate_size=2560, shared_expert_intermediate_size=20480,
    num_hidden_layers=28, num_attention_heads=28, num_key_value_heads=4,
    max_position_embeddings=131072)
# openai/gpt-oss-20b and gpt-oss-120b config.json as public code quotes them verbatim (the hub
# could not be read here): Modular MAX's gpt_oss model-config test (the 20B's) and a
# hard-coded model_params file of openai/gpt-oss-120b (the 120B's). The same block in both:
# 64 query heads of 64 and 8 KV heads (q/k/v/o biases), a sink logit per head, sliding
# windows of 128 tokens on the even blocks (layer_types), experts of intermediate_size 2880
# with biases, 4 routed a token; YaRN RoPE (factor 32 over 4096 positions, theta 150000),
# untied, 201,088 embeddings. The published weights hold the experts in MXFP4, which a
# download or an import dequantizes to bfloat16 once (checkpoint.moe_fuse). 24 blocks of 32
# experts: 20,914,757,184 parameters; 36 of 128: 116,829,156,672 (the model cards: 21B and
# 117B, 3.6B and 5.1B active).
_GPT_OSS = dict(
    model_type="gpt_oss", num_experts_per_tok=4, hidden_size=2880, intermediate_size=2880,
    num_attention_heads=64, num_key_value_heads=8, head_dim=64, attention_bias=True,
    vocab_size=201088, max_position_embeddings=131072, rms_norm_eps=1e-5, sliding_window=128,
    swiglu_limit=7.0, tie_word_embeddings=False, rope_parameters={
        "rope_type": "yarn", "factor": 32.0, "beta_fast": 32.0, "beta_slow": 1.0,
        "truncate": False, "original_max_position_embeddings": 4096, "rope_theta": 150000.0},
    bos_token_id=None, eos_token_id=200002, pad_token_id=199999)
ARCHITECTURES["gpt-oss-20b"] = dict(
    _GPT_OSS, num_hidden_layers=24, num_local_experts=32,
    layer_types=["sliding_attention", "full_attention"] * 12)
ARCHITECTURES["gpt-oss-120b"] = dict(
    _GPT_OSS, num_hidden_layers=36, num_local_experts=128,
    layer_types=["sliding_attention", "full_attention"] * 18)
# deepseek-ai/DeepSeek-V3 (and DeepSeek-R1, the same shape): config.json as a public parameter
# counting test quotes DeepSeek-R1's verbatim (`config_Deepseek_R1`, transformers_version
# 4.46.3; the search index did not name its repository), agreeing with the transformers
# DeepseekV3Config defaults and tenstorrent/tt-metal models/demos/deepseek_v3/reference/
# README_WEIGHTS.md (61 blocks, one MTP module, 671B, 36.6B activated incl. the 0.9B head):
# hidden 7168, dense intermediate 18432 in the first 3 blocks (first_k_dense_replace), 256
# routed experts of 2048 (8 a token, n_group 8, topk_group 4) and 1 shared, 128 heads of MLA
# (q_lora_rank 1536, kv_lora_rank 512, qk_nope 128, qk_rope 64, v 128), vocab 129280, untied,
# YaRN factor 40 over 4096 positions (theta 10000, mscale 1, mscale_all_dim 1) to 163840,
# rms_norm_eps 1e-6, bos 0, eos 1; FP8 weights (dequantized once on download / import).
# model.parameters(): 671,026,404,352; the published 671,026,419,200 adds the routers'
# e_score_correction_bias (256 floats in each of the 58 sparse blocks: a buffer in
# transformers, no parameter); the MTP block (~11.5B) is dropped on import.
ARCHITECTURES["deepseek-v3"] = dict(
    model_type="deepseek_v3", vocab_size=129280, hidden_size=7168, intermediate_size=18432,
    moe_intermediate_size=2048, num_hidden_layers=61, num_attention_heads=128,
    num_key_value_heads=128, n_shared_experts=1, n_routed_experts=256, kv_lora_rank=512,
    q_lora_rank=1536, qk_rope_head_dim=64, v_head_dim=128, qk_nope_head_dim=128, n_group=8,
    topk_group=4, num_experts_per_tok=8, first_k_dense_replace=3, norm_topk_prob=True,
    routed_scaling_factor=2.5, max_position_embeddings=163840, rms_norm_eps=1e-6,
    tie_word_embeddings=False, bos_token_id=0, eos_token_id=1, rope_parameters={
        "rope_type": "yarn", "factor": 40.0, "beta_fast": 32.0, "beta_slow": 1.0,
        "mscale": 1.0, "mscale_all_dim": 1.0, "original_max_position_embeddings": 4096,
        "rope_theta": 10000.0})
ARCHITECTURES["deepseek-r1"] = ARCHITECTURES["deepseek-v3"]
# deepseek-ai/DeepSeek-V2-Lite and DeepSeek-V2 (deepseek_v2): the shapes from public
# Megatron-style configs of both (deepseek_v2_lite.yaml / deepseek_v2.yaml, citing the hub
# repos: 27 / 60 blocks, hidden 2048 / 5120, dense intermediate 10944 / 12288 in block 0
# (first_k_dense_replace 1), 16 / 128 heads of MLA with kv_lora_rank 512, qk_nope 128,
# qk_rope 64, v 128, q_lora_rank none / 1536, 64 / 160 routed experts of 1408 / 1536 and 2
# shared), 6 routed experts a token in both and V2's device-limited routing over 8 groups, 3
# chosen (the DeepSeek-V2 paper, arXiv 2405.04434), vocab 102400 (the DeepSeek-V2
# tokenizer's), untied, YaRN factor 40 over 4096 positions to 163840 (the paper's context
# extension; V2-Lite-Chat's 32K context is its fine-tuning's, not the shape's).
ARCHITECTURES["deepseek-v2-lite"] = dict(
    model_type="deepseek_v2", vocab_size=102400, hidden_size=2048, intermediate_size=10944,
    moe_intermediate_size=1408, num_hidden_layers=27, num_attention_heads=16,
    num_key_value_heads=16, n_shared_experts=2, n_routed_experts=64, kv_lora_rank=512,
    q_lora_rank=None, qk_rope_head_dim=64, v_head_dim=128, qk_nope_head_dim=128,
    num_experts_per_tok=6, first_k_dense_replace=1, topk_method="greedy",
    max_position_embeddings=163840, rms_norm_eps=1e-6, tie_word_embeddings=False,
    bos_token_id=100000, eos_token_id=100001, rope_parameters={
        "rope_type": "yarn", "factor": 40.0, "beta_fast": 32.0, "beta_slow": 1.0,
        "mscale": 0.707, "mscale_all_dim": 0.707, "original_max_position_embeddings": 4096,
        "rope_theta": 10000.0})
ARCHITECTURES["deepseek-v2"] = dict(
    ARCHITECTURES["deepseek-v2-lite"], hidden_size=5120, intermediate_size=12288,
    moe_intermediate_size=1536, num_hidden_layers=60, num_attention_heads=128,
    num_key_value_heads=128, n_routed_experts=160, q_lora_rank=1536,
    topk_method="group_limited_greedy", n_group=8, topk_group=3)
# moonshotai/Moonlight-16B-A3B and -Instruct (deepseek_v3, DeepseekV3ForCausalLM; DeepSeek-V3's
# architecture at 16B): the -Instruct's config.json as a Rust loader's test quotes it whole at
# revision 4e735b07 (the hub could not be read here), its shapes those of Megatron configs of
# Moonlight (27 blocks, hidden 2048, dense MLP 11264 in block 0, 16 heads, 64 experts of 1408
# with 6 a token and 2 shared, routed_scaling_factor 2.446, rotary base 50000, context 8192):
# MLA without a query LoRA (q_lora_rank null, kv_lora_rank 512, qk_nope 128, qk_rope 64, v
# 128), 16 KV heads, sigmoid routing in one group (noaux_tc, n_group 1, topk_group 1) with the
# weights renormalised, no rope scaling, rms_norm_eps 1e-5, vocab 163840, untied, no MTP layer
# (num_nextn_predict_layers 0), bos 163584, eos 163586. The base model is taken to be of the
# same shape: NVIDIA Megatron-Bridge's provider test maps moonshotai/Moonlight-16B-A3B (the
# base) to a provider of these block shapes (27 layers, hidden 2048, dense 11264, 16 heads,
# 64 experts of 1408 and 2 shared, 6 routed in 1 group by sigmoid scores scaled by 2.446,
# rotary base 50000, eps 1e-5, no query LoRA), but its vocab_size 163842 and context 4096 are
# the provider's, not the file's; the base's own config.json was not read, so its vocabulary,
# context and token ids stay the -Instruct's. model.parameters(): 15,960,108,544 (the card's 16B; the routers' score biases,
# 64 floats in each of the 26 sparse blocks, are buffers), 2,579,230,208 read by a batch-1
# step (6 experts and the 2 shared, attention, routers, LM head; with the embedding table,
# 2.9B: the card's 3B activated).
ARCHITECTURES["moonlight-16b-a3b"] = dict(
    model_type="deepseek_v3", vocab_size=163840, hidden_size=2048, intermediate_size=11264,
    moe_intermediate_size=1408, num_hidden_layers=27, num_attention_heads=16,
    num_key_value_heads=16, n_shared_experts=2, n_routed_experts=64, kv_lora_rank=512,
    q_lora_rank=None, qk_rope_head_dim=64, v_head_dim=128, qk_nope_head_dim=128, n_group=1,
    topk_group=1, num_experts_per_tok=6, first_k_dense_replace=1, norm_topk_prob=True,
    routed_scaling_factor=2.446, max_position_embeddings=8192, rms_norm_eps=1e-5,
    rope_theta=50000.0, tie_word_embeddings=False, bos_token_id=163584, eos_token_id=163586)
# ibm-granite/granite-3.1-1b-a400m and -3b-a800m (granitemoe) as public code quotes their
# config.json (the hub could not be read here; the 3B's shape in several projects' fixtures,
# the 1B's in a printed GraniteMoeForCausalLM and a config modelled on it): 24 / 32 blocks,
# hidden 1024 / 1536, 16 / 24 heads of 64 on 8 KV heads, in every block 32 / 40 experts of
# intermediate_size 512 with 8 routed a token, vocab 49155, tied embeddings, a 128k context.
# 1,334,628,352 / 3,298,793,472 parameters, 428,658,688 / 882,874,368 read by a batch-1 step
# (the model cards: 1.3B, 400M active / 3.3B, 800M active). Granite's scalars are the 1B's
# quoted ones and the rotary base the 3B's, each taken for the other too (they set a random
# model's scale and positions only: no count or timing depends on them). The 3.0 releases have
# the same shapes (their shorter context is their own; the shape's is 3.1's).
ARCHITECTURES["granite-3.1-1b-a400m"] = dict(
    model_type="granitemoe", hidden_size=1024, intermediate_size=512, num_hidden_layers=24,
    num_attention_heads=16, num_key_value_heads=8, num_local_experts=32, num_experts_per_tok=8,
    vocab_size=49155, tie_word_embeddings=True, max_position_embeddings=131072,
    rms_norm_eps=1e-6, rope_theta=10000000.0, embedding_multiplier=12.0,
    attention_multiplier=0.015625, residual_multiplier=0.22, logits_scaling=6.0,
    bos_token_id=0, eos_token_id=0, pad_token_id=0)
ARCHITECTURES["granite-3.1-3b-a800m"] = dict(
    ARCHITECTURES["granite-3.1-1b-a400m"], hidden_size=1536, num_hidden_layers=32,
    num_attention_heads=24, num_local_experts=40)
ARCHITECTURES["granite-3.0-1b-a400m"] = ARCHITECTURES["granite-3.1-1b-a400m"]
ARCHITECTURES["granite-3.0-3b-a800m"] = ARCHITECTURES["granite-3.1-3b-a800m"]
# microsoft/Phi-3.5-MoE-instruct (phimoe) as public code quotes its config.json (the hub could not
# be read here; the shape in several projects' fixtures and a model built from it): 32 blocks,
# hidden 4096, 32 heads of 128 on 8 KV heads, in every block 16 experts of intermediate_size
# 6400 with 2 routed a token, biases on the four attention projections and on the LM head,
# LayerNorms, vocab 32064, untied, a 128k context (its longrope factors left out, as
# Phi-3.5-mini's above). 41,873,153,344 parameters, 6,509,665,600 read by a batch-1 step (the
# model card: 41.9B, 6.6B active with the embeddings).
ARCHITECTURES["phi-3.5-moe"] = dict(
    model_type="phimoe", hidden_size=4096, intermediate_size=6400, num_hidden_layers=32,
    num_attention_heads=32, num_key_value_heads=8, num_local_experts=16, num_experts_per_tok=2,
    vocab_size=32064, attention_bias=True, lm_head_bias=True, tie_word_embeddings=False,
    max_position_embeddings=131072, rms_norm_eps=1e-5, rope_theta=10000.0,
    sliding_window=None, bos_token_id=1, eos_token_id=32000)
# zai-org/GLM-4.5-Air and GLM-4.5 (glm4_moe): the shapes as the GLM team's own training
# framework gives them (THUDM/slime scripts/models/glm4.5-106B-A12B.sh and glm4.5-355B-A32B.sh,
# read through public copies: 1 + 45 / 3 + 89 dense + sparse blocks, hidden 4096 / 5120, 96
# heads of 128 (kv-channels) on 8 KV groups, q/k/v biases (add-qkv-bias) and none elsewhere,
# q/k norms (qk-layernorm) in GLM-4.5 only, half of each head rotating (rotary-percent 0.5,
# base 1000000), dense MLP 10944 / 12288, 128 / 160 experts of 1408 / 1536 and one shared of
# the same width, 8 routed a token by a sigmoid router with score biases, scaled by 2.5 in
# GLM-4.5 (none in the Air), untied, vocab 151552); the Air's are transformers'
# Glm4MoeConfig defaults too (its docstring names zai-org/GLM-4.5), and GLM-4.5's a public
# converter's test quotes as an official-layout config.json (head_dim 128, n_group 1,
# topk_group 1, norm_topk_prob true, rms_norm_eps 1e-5, num_nextn_predict_layers 1, 202752
# positions: GLM-4.6's context, which is GLM-4.5's shape). GLM-4.5's 128K context
# (131072 positions) is the GLM-4.5 paper's (arXiv 2508.06471). The published weights are
# bfloat16 with one multi-token-prediction layer after the last block, dropped on import.
# model.parameters(): 106,852,245,504 / 352,797,814,784 (the cards' 106B / 355B, which count
# the MTP layer and the routers' score biases too), 12,803,366,912 / 32,856,305,664 read by a
# batch-1 step (8 routed experts, the shared one, attention, the LM head; the cards' 12B /
# 32B active).
ARCHITECTURES["glm-4.5-air"] = dict(
    model_type="glm4_moe", vocab_size=151552, hidden_size=4096, intermediate_size=10944,
    moe_intermediate_size=1408, num_hidden_layers=46, num_attention_heads=96,
    num_key_value_heads=8, head_dim=128, attention_bias=True, use_qk_norm=False,
    n_routed_experts=128, n_shared_experts=1, num_experts_per_tok=8, first_k_dense_replace=1,
    n_group=1, topk_group=1, norm_topk_prob=True, routed_scaling_factor=1.0,
    max_position_embeddings=131072, rms_norm_eps=1e-5, tie_word_embeddings=False,
    rope_parameters={"rope_type": "default", "rope_theta": 1000000.0,
                     "partial_rotary_factor": 0.5},
    bos_token_id=None, eos_token_id=[151329, 151336, 151338], pad_token_id=151329)
ARCHITECTURES["glm-4.5"] = dict(
    ARCHITECTURES["glm-4.5-air"], hidden_size=5120, intermediate_size=12288,
    moe_intermediate_size=1536, num_hidden_layers=92, use_qk_norm=True, n_routed_experts=160,
    first_k_dense_replace=3, routed_scaling_factor=2.5)
ARCHITECTURES["glm-4.6"] = dict(ARCHITECTURES["glm-4.5"], max_position_embeddings=202752)
# upstage/Solar-Open-100B (solar_open): its config.json's keys as two public sources quote them
# (a Swift loader's test, "a faithful slice of the real config.json", and a written analysis
# of the model quoting its configuration; the hub could not be read here), which agree on
# every shape key: 48 blocks of hidden 4096, GQA 64 / 8 heads of 128, every block sparse
# (first_k_dense_replace 0: SolarOpenDecoderLayer builds no dense MLP, its intermediate_size
# 10240 unread), 128 experts of 1280, 8 a token by a sigmoid router (renormalised, scaled by
# 1.0), one shared expert, no biases (attention_bias left out), untied, a 131072-token
# context at rotary base 1,000,000, vocab 196608. (The Swift test's yarn rope_scaling, which
# the analysis does not quote, is left out: no parameter depends on it.) 102,651,793,408
# parameters (the card's 102.6B), 11,249,520,640 read by a batch-1 step (8 routed experts, the
# shared one, attention, routers, the LM head; the card's 12B active counts the input
# embeddings too: 12,054,827,008).
ARCHITECTURES["solar-open-100b"] = dict(
    model_type="solar_open", vocab_size=196608, hidden_size=4096, moe_intermediate_size=1280,
    num_hidden_layers=48, num_attention_heads=64, num_key_value_heads=8, head_dim=128,
    n_routed_experts=128, n_shared_experts=1, num_experts_per_tok=8, norm_topk_prob=True,
    routed_scaling_factor=1.0, max_position_embeddings=131072, rms_norm_eps=1e-5,
    tie_word_embeddings=False, rope_parameters={"rope_type": "default", "rope_theta": 1000000.0})
# zai-org/GLM-4.7-Flash (glm4_moe_lite): its config.json's keys as public sources quote them
# (vLLM's test of its config, with the checkpoint's token ids, and two other engines' tests;
# the hub could not be read here), which agree on every shape key: 47 blocks of hidden 2048,
# 20 heads of DeepSeek-V3's latent attention (query rank 768, KV rank 512, 192 + 64 query /
# key channels a head, 256 value channels), block 0 dense (10240), then 64 experts of 1536, 4
# a token by a sigmoid router (renormalised, scaled by 1.8), one shared expert; no biases,
# untied, a 202752-token context at rotary base 1,000,000, vocab 154880. 29,943,390,976
# parameters (the card's 30B), 3,579,568,896 read by a batch-1 step (its A3B).
ARCHITECTURES["glm-4.7-flash"] = dict(
    model_type="glm4_moe_lite", vocab_size=154880, hidden_size=2048, intermediate_size=10240,
    moe_intermediate_size=1536, num_hidden_layers=47, num_attention_heads=20,
    num_key_value_heads=20, q_lora_rank=768, kv_lora_rank=512, qk_nope_head_dim=192,
    qk_rope_head_dim=64, v_head_dim=256, n_routed_experts=64, n_shared_experts=1,
    num_experts_per_tok=4, norm_topk_prob=True, routed_scaling_factor=1.8, n_group=1,
    topk_group=1, max_position_embeddings=202752, rms_norm_eps=1e-5, attention_bias=False,
    tie_word_embeddings=False, rope_parameters={"rope_type": "default", "rope_theta": 1000000.0})
# tencent/Youtu-LLM-2B (youtu): its config.json's keys as two public sources quote them (a Swift
# loader's test of "tencent's config.json" and a port's notes quoting its configuration; the
# hub could not be read here), which agree on every shape key: 32 blocks of hidden 2048, 16
# heads of DeepSeek-V3's latent attention (query rank 1536, KV rank 512, 128 + 64 query / key
# channels a head, 128 value channels), a dense MLP of 6144, tied, rotary base 1,600,000,
# vocab 128256. Neither quotes its context: YoutuConfig's 131072 (no parameter depends on
# it). 1,961,560,064 parameters (the card's 2B).
ARCHITECTURES["youtu-llm-2b"] = dict(
    model_type="youtu", vocab_size=128256, hidden_size=2048, intermediate_size=6144,
    num_hidden_layers=32, num_attention_heads=16, num_key_value_heads=16, q_lora_rank=1536,
    kv_lora_rank=512, qk_nope_head_dim=128, qk_rope_head_dim=64, v_head_dim=128,
    tie_word_embeddings=True, rope_parameters={"rope_type": "default", "rope_theta": 1600000.0})
# rednote-hilab/dots.llm1.inst (dots1): its config.json's shape keys as a public loader's test
# quotes them from mlx-community's dots.llm1.inst-mixed-4-6bit (a quantization of the same
# weights, its shapes the model's; the hub could not be read here): 62 blocks of hidden 4096,
# 32 heads (MHA, head_dim left out: hidden / heads, 128), the first block dense (10944), then
# 128 experts of 1408, 6 a token by a sigmoid router (renormalised, scaled by 2.5), 2 shared
# experts; no biases, untied, a 32768-token context at rotary base 10,000,000, vocab 152064.
# 142,774,373,888 parameters (the card's 142B), 13,393,726,976 read by a batch-1 step (6
# routed experts, the shared ones, attention, routers, the LM head; the card's 14B active
# counts the input embeddings too: 14,016,581,120). (dots.llm1.base has no shape here: no source of its config.json was
# found, though the card gives it the same size.)
ARCHITECTURES["dots.llm1.inst"] = dict(
    model_type="dots1", vocab_size=152064, hidden_size=4096, intermediate_size=10944,
    moe_intermediate_size=1408, num_hidden_layers=62, num_attention_heads=32,
    num_key_value_heads=32, n_routed_experts=128, n_shared_experts=2, num_experts_per_tok=6,
    first_k_dense_replace=1, norm_topk_prob=True, routed_scaling_factor=2.5,
    max_position_embeddings=32768, rms_norm_eps=1e-5, attention_bias=False,
    tie_word_embeddings=False, rope_parameters={"rope_type": "default", "rope_theta": 10000000.0},
    eos_token_id=151649)
# databricks/dbrx-instruct (dbrx, DbrxForCausalLM): its config.json as a public loader's test
# quotes it whole from mlx-community's dbrx-instruct-4bit (a quantization of the same weights,
# its shapes the model's; the hub could not be read here), and a public write-up quotes the
# same shape keys from the official one: d_model 6144, 40 blocks of 48 heads of 128 and 8 KV
# heads (attn_config's kv_n_heads) with q, k and v clamped to +-8, 16 experts of 10752 (w1 /
# v1 / w2), 4 a token (ffn_config's), a 32768-token context at rotary base 500000, vocab
# 100352, untied. Written as transformers 5 reads it (`param_count.dbrx_unbuilt`): the rotary
# base at the top level too (attn_config's alone is never read) and
# moe_normalize_expert_weights as the float 1.0 (the published `1` is refused by its strict
# check). 131,596,523,520 parameters (the card's 132B), 35,853,146,112 read by a batch-1 step (4
# of 16 experts, attention, routers, the LM head: the card's 36B active). (dbrx-base has no
# shape here: no source of its config.json was found, though its card gives the same size.)
ARCHITECTURES["dbrx-instruct"] = dict(
    model_type="dbrx", vocab_size=100352, d_model=6144, n_layers=40, n_heads=48,
    max_seq_len=32768, tie_word_embeddings=False, rope_theta=500000.0,
    attn_config={"attn_pdrop": 0.0, "clip_qkv": 8.0, "kv_n_heads": 8, "rope_theta": 500000.0},
    ffn_config={"ffn_act_fn": {"name": "silu"}, "ffn_hidden_size": 10752, "moe_num_experts": 16,
                "moe_top_k": 4, "moe_jitter_eps": 0.0, "moe_loss_weight": 0.05,
                "moe_normalize_expert_weights": 1.0})
# baidu/ERNIE-4.5-21B-A3B-PT and -300B-A47B-PT (ernie4_5_moe, Ernie4_5_MoeForCausalLM), as
# public code quotes their config.json files (the hub could not be read here): an audit of
# transformers' ernie4_5_moe that tabulates the official configs (-PT, -Base-PT, and the 21B's
# -Thinking), inference engines' tests that mirror them (MindIE's ErniemoeConfig fixtures of
# both shapes, FastDeploy's 300B-shaped config with num_nextn_predict_layers 1, a KV planner's
# 21B fixture), and Ernie4_5_MoeConfig's defaults (its docstring names the 21B). 21B: hidden
# 2560, 28 blocks, 20 / 4 heads of 128, dense MLP 12288 in block 0 (moe_layer_start_index 1,
# end 27, interval 1), 64 experts of 1536 with 6 routed a token and 2 shared, tied embeddings.
# 300B: hidden 8192, 54 blocks, 64 / 8 heads of 128, dense MLP 28672 in blocks 0-2 (start 3,
# end 53), 64 experts of 3584 with 8 routed and no shared ones, untied. Both: vocab 103424, a
# 131072-token context, rotary base 500000, rms_norm_eps 1e-5, no biases (use_bias false),
# bos 1, eos 2, pad 0, one multi-token-prediction layer in the published weights (dropped on
# import: transformers does not load it). model.parameters() (count_params; the routers'
# score-correction biases are parameters there): 21,825,437,888 / 299,484,163,264 (the cards'
# 21B / 300B total), 3,352,150,208 / 47,079,337,152 read by a batch-1 step (the routed
# experts, the shared ones, attention, routers, LM head: the cards' 3B / 47B active).
ARCHITECTURES["ernie-4.5-21b-a3b"] = dict(
    model_type="ernie4_5_moe", vocab_size=103424, hidden_size=2560, intermediate_size=12288,
    moe_intermediate_size=1536, num_hidden_layers=28, num_attention_heads=20,
    num_key_value_heads=4, head_dim=128, use_bias=False, moe_num_experts=64, moe_k=6,
    moe_num_shared_experts=2, moe_layer_start_index=1, moe_layer_end_index=27,
    moe_layer_interval=1, max_position_embeddings=131072, rms_norm_eps=1e-5,
    rope_theta=500000.0, tie_word_embeddings=True, bos_token_id=1, eos_token_id=2,
    pad_token_id=0)
ARCHITECTURES["ernie-4.5-300b-a47b"] = dict(
    ARCHITECTURES["ernie-4.5-21b-a3b"], hidden_size=8192, intermediate_size=28672,
    moe_intermediate_size=3584, num_hidden_layers=54, num_attention_heads=64,
    num_key_value_heads=8, moe_k=8, moe_num_shared_experts=0, moe_layer_start_index=3,
    moe_layer_end_index=53, tie_word_embeddings=False)
# MiniMaxAI/MiniMax-M2 (minimax_m2, MiniMaxM2ForCausalLM), as public code quotes its config.json
# (the hub could not be read here): MiniMax's configuration_minimax_m2.py as ModelCloud's
# GPTQModel copies it (its defaults), the config.json of MiniMax-M2.5 (the same architecture)
# quoted whole by an Ascend quantization guide, inference engines' MiniMax-M2 fixtures, and
# transformers' MiniMaxM2Config defaults, which agree: hidden 3072, 62 blocks, 48 / 8 heads of
# 128 with q/k norms over the whole projections (qk_norm_type per_layer), 64 of each head's
# 128 dimensions rotating (rotary_dim 64; rope_theta 5e6), in every block (attn_type_list all
# 1) 256 experts of 1536 (intermediate_size), 8 a token by a sigmoid router with a score bias
# (scoring_func sigmoid, use_routing_bias), no shared expert (shared_intermediate_size 0),
# vocab 200064, untied, a 196608-token context, rms_norm_eps 1e-6; FP8 weights in 128 x 128
# tiles and num_mtp_modules 3 multi-token-prediction modules (dequantized and dropped on
# import). Its bos / eos ids: null in the config.json the hub's commits show (35c5c79 "add
# modeling_minimax_m2.py", beside use_mtp true; 6d30eb0 adds mtp_transformer_layers 1 and puts
# bos 200019 / eos 200020 in generation_config.json). The published safetensors hold no MTP
# modules, as users who read them report (the weight map's blocks are 0-61 alone, an SGLang
# pull request's comment on the M2 / M2.5 / M2.7 checkpoints; "not published", MiniMax-M2's
# own GitHub issue 47, open; none of M2.7's tensors named mtp.*, its issue 16; M2.5's issue 8
# alike): a download drops none, and a checkpoint that holds them (model.layers.{62 + i})
# has them dropped on import. The index itself was not read here.
# model.parameters(): 228,689,748,992 (the card's 230B; the safetensors add the 62 x 256
# score biases, buffers in transformers), 10,415,940,608 read by a batch-1 step (8 experts,
# attention, router, LM head: the card's 10B active). MiniMax-M2.5 / M2.7 have config.json
# files of their own (M2.7's context is longer), and the REAP checkpoints fewer experts: not
# taken for this shape.
ARCHITECTURES["minimax-m2"] = dict(
    model_type="minimax_m2", vocab_size=200064, hidden_size=3072, intermediate_size=1536,
    num_hidden_layers=62, num_attention_heads=48, num_key_value_heads=8, head_dim=128,
    rotary_dim=64, rope_theta=5000000.0, num_local_experts=256, num_experts_per_tok=8,
    max_position_embeddings=196608, rms_norm_eps=1e-6, tie_word_embeddings=False,
    attn_type_list=[1] * 62, qk_norm_type="per_layer", use_qk_norm=True,
    scoring_func="sigmoid", use_routing_bias=True, shared_intermediate_size=0,
    num_mtp_modules=3, mtp_transformer_layers=1, bos_token_id=None, eos_token_id=None)
# MiniMaxAI/MiniMax-M2.1: M2's shape, as the hub's commits of its config.json (500a52e "add
# config.json"; 968e628 adding num_mtp_modules 3 / mtp_transformer_layers 1 back, vocab
# 200064, untied) and a bfloat16 copy of it (QuixiAI/MiniMax-M2.1-bf16: hidden 3072, 62
# blocks, 48 / 8 heads of 128, rotary_dim 64 over base 5e6, 256 experts of 1536, 8 a token,
# context 196608) give it, with bos 200034 / eos 200020 in the file. Its total and read bytes
# are M2's.
ARCHITECTURES["minimax-m2.1"] = dict(ARCHITECTURES["minimax-m2"], bos_token_id=200034,
                                     eos_token_id=200020)
# tencent/Hunyuan-A13B-Instruct and -Pretrain (published as model_type "hunyuan" for Tencent's
# own code, without head_dim: imported as hunyuan_v1_moe, HunYuanMoEV1ForCausalLM), as public
# code quotes their config.json (the hub could not be read here; its pages now tag the
# Instruct hunyuan_v1_moe, a later revision of the file not found whole: a profiler's fixture
# of a hunyuan_v1_moe config, 32 blocks of hidden 4096, 32 / 8 heads of head_dim 128, 64
# experts with moe_topk / num_shared_expert / moe_intermediate_size lists of 8 / 1 / 3072 per
# block, vocab 128167, names no checkpoint; llama.cpp's converter takes a context of 32768 or
# 262144 and calls the published 32k "incorrectly set"): Tencent's GitHub repository's
# models/config.json (the fork tianyu1412/Hunyuan-A13B holds it whole: model_type hunyuan,
# attention_head_dim 128 and no head_dim, max_position_embeddings 32768), llama.cpp's
# converter (which asserts one moe_topk, one num_shared_expert and one moe_intermediate_size
# for every block, alpha 1000, rope_theta 10000 and a head of 128), and a training script
# written against the downloaded -Pretrain (model_type "hunyuan", head_dim None beside
# attention_head_dim 128, the per-block lists 32 long). Hidden 4096, 32 blocks, 32 / 8 heads
# of 128 (hidden / heads), 64 experts of intermediate_size 3072 (moe_intermediate_size 3072
# in every block, which no code reads), 8 routed a token in every block (moe_topk, a list),
# one shared expert of 3072 (use_mixed_mlp_moe, num_shared_expert 1), vocab 128167, tied, no
# biases, Hunyuan's NTK-alpha rope (type dynamic, alpha 1000 over rope_theta 10000; the
# published rope_scaling's beta / mscale entries are read by neither), rms_norm_eps 1e-5,
# max_position_embeddings 32768 (the card's context is 256K: llama.cpp's converter calls the
# 32K "incorrectly set"), bos 1, eos 127960, pad 127961. model.parameters() (count_params):
# 80,393,183,232 (the card's 80B total), 12,747,448,320 read by a batch-1 step (8 routed
# experts and the shared one, attention, routers, LM head: the card's 13B active).
ARCHITECTURES["hunyuan-a13b"] = dict(
    _HUNYUAN, model_type="hunyuan_v1_moe", hidden_size=4096, intermediate_size=3072,
    num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8, vocab_size=128167,
    num_experts=64, moe_topk=[8] * 32, max_position_embeddings=32768, bos_token_id=1,
    eos_token_id=127960, pad_token_id=127961)
# meta-llama/Llama-4-Scout-17B-16E and -Maverick-17B-128E (llama4, Llama4ForConditionalGeneration):
# their language models (llama4_text, Llama4ForCausalLM), which prunebench keeps of them
# (checkpoint.text_part), as public code quotes their config.json files' text_config (the hub
# could not be read here). Scout: a Llama4Config dump of Llama-4-Scout-17B-16E (with its
# vision_config), the config.json of a text-only Scout fine-tune quoted in a vLLM issue, and
# an engine's fixture mirroring its text_config, which agree: hidden 5120, 48 blocks, 40 / 8
# heads of 128, in every block (interleave_moe_layer_step 1, moe_layers 0-47) 16 experts of
# 8192 (intermediate_size), 1 a token, and a shared expert of 8192; every fourth block
# without rotary positions (no_rope_layers 1, 1, 1, 0, ...: Llama4TextConfig's default
# interval), the others' attention in chunks of 8192 with weightless q/k norms (use_qk_norm),
# Llama-3's rope scaling (factor 8, 8192 original positions) over base 500000, a
# 262144-token context, attention temperature tuning (its config.json's 4, read as true:
# param_count.with_boolean_flags; floor_scale 8192, attn_scale 0.1), vocab 202048, untied,
# bos 200000, eos 200001 / 200007 / 200008, pad 200018. Maverick: TensorRT-LLM's test config
# "Llama4 Maverick config but with only 2 layers" (48 in the model): Scout's shapes with 128
# experts in every other block (interleave_moe_layer_step 2: blocks 1, 3, ..., 47; the others
# a dense MLP of 16384, intermediate_size_mlp), no q/k norms (use_qk_norm false), no rope
# scaling, a 1048576-token context; confirmed by the GGUF metadata of a conversion of the
# published weights (48 blocks, hidden 5120, 40 / 8 heads of 128, 128 experts of 8192 with 1
# a token, dense 16384, interleave_moe_layer_step 2, context 1048576, rotary base 500000, no
# rope scaling keys, vocab 202048, bos 200000), llama.cpp's loader (no q/k norms in 128-expert
# Llama 4) and a Megatron script for Llama-4-Maverick-17B-128E-Instruct (moe-layer-freq
# [0,1]*24, expert MLP 8192, dense 16384); its no_rope_layers, floor_scale and attn_scale are
# in none of these (Llama4TextConfig's defaults here, which no count reads). model.parameters() of
# the language model: 107,769,861,120 / 400,711,848,960; with the vision tower and projector
# those configs give (871,932,416 parameters), 108,641,793,536 / 401,583,781,376 (the cards'
# 109B / 400B total; built on the meta device); 16,138,408,960 / 16,150,205,440 read by a
# batch-1 step (attention, routers, 1 expert and the shared one, Maverick's dense MLPs, LM
# head; with the embedding table, which a step reads a row of, 17.2B: the cards' 17B active).
_LLAMA4_TEXT = dict(
    model_type="llama4_text", vocab_size=202048, hidden_size=5120, intermediate_size=8192,
    intermediate_size_mlp=16384, num_hidden_layers=48, num_attention_heads=40,
    num_key_value_heads=8, head_dim=128, num_local_experts=16, num_experts_per_tok=1,
    interleave_moe_layer_step=1, attention_chunk_size=8192, use_qk_norm=True,
    attn_temperature_tuning=True, floor_scale=8192, attn_scale=0.1, rms_norm_eps=1e-5,
    rope_theta=500000.0, tie_word_embeddings=False, attention_bias=False,
    bos_token_id=200000, eos_token_id=[200001, 200007, 200008], pad_token_id=200018)
ARCHITECTURES["llama-4-scout-17b-16e"] = dict(
    _LLAMA4_TEXT, max_position_embeddings=262144,
    rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                  "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})
ARCHITECTURES["llama-4-maverick-17b-128e"] = dict(
    _LLAMA4_TEXT, num_local_experts=128, interleave_moe_layer_step=2, use_qk_norm=False,
    max_position_embeddings=1048576)
# Qwen/Qwen3-Next-80B-A3B-Instruct and -Thinking (qwen3_next, Qwen3NextForCausalLM), as public
# material quotes them (the hub could not be read here): the card (48 blocks of hidden 2048 in
# 12 x (3 Gated DeltaNet + 1 gated attention); attention of 16 / 2 heads of 256, 64 of each
# head's dimensions rotating; Gated DeltaNet of 32 value / 16 query-key heads of 128; 512
# experts of 512, 10 routed a token, 1 shared; a 262144-token context), a quotation of the
# Instruct config.json (head_dim 256, intermediate_size 5120, the linear attention's keys,
# full_attention_interval 4 without layer_types, mlp_only_layers [], decoder_sparse_step 1,
# max_position_embeddings 262144, moe_intermediate_size 512; cut off after that) and a test
# fixture scaled from it at revision 9c7f2fbe (rope_theta 1e7, partial_rotary_factor 0.25,
# rms_norm_eps 1e-6, untied, norm_topk_prob, the multi-token-prediction layer as `mtp.*`
# tensors: dropped on import). The whole config.json as Alibaba's InferSim repository holds it
# (alibaba/InferSim, hf_configs/qwen3-next-80B-A3B_config.json, at 1201bed: transformers
# 4.57.0.dev0's, no layer_types; which of the two checkpoints it does not say) confirms all of
# these and gives the rest: vocab_size 151936, shared_expert_intermediate_size 512, bos
# 151643 / eos 151645, no rope scaling, no attention_bias key (false, the class's default).
# model.parameters() (count_params): 79,674,391,296 (the card's 80B total; 79,052,061,440
# without the embeddings, the card's "79B non-embedding"; the safetensors' 81B add the MTP
# layer), 3,563,764,480 read by a batch-1 step (10 routed experts and the shared one, every
# block's attention of either kind, routers, LM head: the card's 3B activated).
ARCHITECTURES["qwen3-next-80b-a3b"] = dict(
    model_type="qwen3_next", vocab_size=151936, hidden_size=2048, intermediate_size=5120,
    num_hidden_layers=48, num_attention_heads=16, num_key_value_heads=2, head_dim=256,
    partial_rotary_factor=0.25, rope_theta=10000000.0, full_attention_interval=4,
    linear_conv_kernel_dim=4, linear_key_head_dim=128, linear_value_head_dim=128,
    linear_num_key_heads=16, linear_num_value_heads=32, num_experts=512,
    num_experts_per_tok=10, moe_intermediate_size=512, shared_expert_intermediate_size=512,
    norm_topk_prob=True, decoder_sparse_step=1, mlp_only_layers=[],
    max_position_embeddings=262144, rms_norm_eps=1e-6, tie_word_embeddings=False,
    bos_token_id=151643, eos_token_id=151645)
# Qwen/Qwen3.5-27B (qwen3_5, Qwen3_5ForConditionalGeneration): its language model
# (qwen3_5_text, Qwen3_5ForCausalLM), which prunebench keeps of the multimodal checkpoint
# (checkpoint.text_part; the ViT and the `mtp.*` layer left out), as public material quotes it
# (the hub could not be read here): THUDM/slime's scripts/models/qwen3.5-27B.sh (Megatron's
# arguments: 64 blocks of hidden 5120, gated attention of 24 / 4 heads of 256, a quarter of
# each head rotating at base 1e7, an MLP of 17408, a vocabulary of 248320, untied) and a
# copy of the whole Qwen3_5Config in a public benchmark's code (the same values, and
# full_attention_interval 4, the Gated DeltaNet's 16 key / 48 value heads of 128 with kernels
# of 4, max_position_embeddings 262144, rms_norm_eps 1e-6, no attention bias, M-RoPE's
# sections [11, 11, 10] interleaved; several other public copies of its text config, loaders'
# test fixtures, give the same Gated DeltaNet heads). Its token ids differ between the text config (eos
# 248044) and the whole one (eos 248046, pad 248044): left to the download's config.json.
# model.parameters() (count_params): 26,895,998,464 (the card's 27B; the tower and the MTP
# layer not counted).
# What Qwen3.5's published language models share (the 27B's and the 35B-A3B's below).
_QWEN3_5 = dict(
    vocab_size=248320, head_dim=256,
    rope_parameters={"rope_type": "default", "rope_theta": 10000000.0,
                     "partial_rotary_factor": 0.25, "mrope_interleaved": True,
                     "mrope_section": [11, 11, 10]},
    full_attention_interval=4, linear_conv_kernel_dim=4, linear_key_head_dim=128,
    linear_value_head_dim=128, linear_num_key_heads=16, max_position_embeddings=262144,
    rms_norm_eps=1e-6, tie_word_embeddings=False)
ARCHITECTURES["qwen3.5-27b"] = dict(
    _QWEN3_5, model_type="qwen3_5_text", hidden_size=5120, intermediate_size=17408,
    num_hidden_layers=64, num_attention_heads=24, num_key_value_heads=4,
    linear_num_value_heads=48)
# Qwen/Qwen3.5-35B-A3B (qwen3_5_moe, Qwen3_5MoeForConditionalGeneration): its language model
# (qwen3_5_moe_text, Qwen3_5MoeForCausalLM), kept of the multimodal checkpoint as the 27B's, as
# public material quotes it (the hub could not be read here): THUDM/slime's
# scripts/models/qwen3.5-35B-A3B.sh (Megatron's arguments: 40 blocks of hidden 2048, gated
# attention of 16 / 2 heads of 256, a quarter of each head rotating at base 1e7, 256 experts of
# 512, 8 routed by softmax, and a gated shared expert of 512 in every block, a vocabulary of
# 248320, untied, norms' eps 1e-6) and two public copies of its text config, an engine's test
# fixture written whole and a loader's test of the downloaded config (the same values, and
# full_attention_interval 4, the Gated DeltaNet's 16 key / 32 value heads of 128 with kernels
# of 4, max_position_embeddings 262144, M-RoPE's sections [11, 11, 10] interleaved; its token
# ids left to the download's config.json). model.parameters() (count_params): 34,660,610,688
# (the card's 35B with the ViT, which the language model leaves out), 2,946,429,568 read by a
# batch-1 step (8 routed experts and the shared one, both kinds of attention, routers, LM head:
# the card's 3B activated).
ARCHITECTURES["qwen3.5-35b-a3b"] = dict(
    _QWEN3_5, model_type="qwen3_5_moe_text", hidden_size=2048, num_hidden_layers=40,
    num_attention_heads=16, num_key_value_heads=2, linear_num_value_heads=32, num_experts=256,
    num_experts_per_tok=8, moe_intermediate_size=512, shared_expert_intermediate_size=512)
# google/gemma-4-31B(-it) and google/gemma-4-26B-A4B(-it) (gemma4, Gemma4ForConditionalGeneration):
# their language models (gemma4_text, Gemma4ForCausalLM), kept of the multimodal checkpoints
# (checkpoint.text_part; the vision tower left out), as public material quotes them (the hub
# could not be read here): THUDM/slime's scripts/models/gemma4-31B.sh and gemma4-26B-A4B.sh
# (Megatron's arguments: 60 blocks of hidden 5376, an MLP of 21504, 32 heads on 16 KV heads of
# 256; 30 blocks of hidden 2816, an MLP of 2112, 16 heads on 8 KV heads of 256, 128 experts of
# 704, 8 routed; both a vocabulary of 262144 and norms' eps 1e-6) and, for what those arguments
# do not give (the global blocks' heads of global_head_dim 512 on num_global_key_value_heads 4
# / 2 KV heads whose values are the keys, attention_k_eq_v; five sliding blocks of a 1024-token
# window to one global, the last global; no per-layer inputs, hidden_size_per_layer_input 0,
# nor shared keys; tied; the final soft cap 30; both kinds' rotary settings), ollama's MLX
# runner's tests of both text configs, an engine's fixture of the 31B's written whole and a
# Python tool's copies of both, and for the 26B a fixture trimmed from a quantized copy's
# config.json (its keys verbatim) and an engine's check of its geometry. The context, 262144 in
# the 31B's whole fixture and the 26B's geometry check (and the cards' 256K), is 131072 in
# ollama's tests of all four Gemma 4 configs: taken as 262144. model.parameters()
# (count_params): 30,697,345,280 (the 31B; the vision tower not counted) and 25,233,141,760
# (the 26B-A4B), of which 3,822,530,560 are read by a batch-1 step (every block's attention,
# dense MLP and router, 8 routed experts, the tied LM head: the card's 4B active).
_GEMMA4_MEDIUM = dict(
    model_type="gemma4_text", vocab_size=262144, head_dim=256, global_head_dim=512,
    attention_k_eq_v=True, hidden_size_per_layer_input=0, num_kv_shared_layers=0,
    use_double_wide_mlp=False, sliding_window=1024, final_logit_softcapping=30.0,
    max_position_embeddings=262144, rms_norm_eps=1e-6, hidden_activation="gelu_pytorch_tanh",
    tie_word_embeddings=True,
    rope_parameters={"full_attention": {"rope_type": "proportional", "rope_theta": 1000000.0,
                                        "partial_rotary_factor": 0.25},
                     "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}})
ARCHITECTURES["gemma-4-31b"] = dict(
    _GEMMA4_MEDIUM, hidden_size=5376, intermediate_size=21504, num_hidden_layers=60,
    layer_types=(["sliding_attention"] * 5 + ["full_attention"]) * 10, num_attention_heads=32,
    num_key_value_heads=16, num_global_key_value_heads=4, enable_moe_block=False)
ARCHITECTURES["gemma-4-26b-a4b"] = dict(
    _GEMMA4_MEDIUM, hidden_size=2816, intermediate_size=2112, num_hidden_layers=30,
    layer_types=(["sliding_attention"] * 5 + ["full_attention"]) * 5, num_attention_heads=16,
    num_key_value_heads=8, num_global_key_value_heads=2, enable_moe_block=True, num_experts=128,
    top_k_experts=8, moe_intermediate_size=704)
# google/gemma-4-12B(-it) (gemma4_unified, Gemma4UnifiedForConditionalGeneration): its language
# model (gemma4_unified_text, Gemma4UnifiedForCausalLM), kept of the multimodal checkpoint
# (checkpoint.text_part; the image and audio embedders left out), as its published config.json
# is quoted whole (the hub could not be read here) in a public log of a quantization run that
# fetched it (google/gemma-4-12B at 56820d7d8cbe, transformers_version 5.10.0.dev0) and, every
# value the count needs, in a Swift MLX test of its config decoding: 48 blocks of hidden 3840,
# an MLP of 15360, five sliding blocks of 16 heads on 8 KV heads of 256 (a 1024-token window)
# to one global block of 16 heads of 512 on 1 KV head whose values are its keys; no per-layer
# inputs (hidden_size_per_layer_input 0) or experts, no shared keys; tied; the final soft cap
# 30; a context of 262144 (the log's copy). model.parameters() (count_params): 11,907,350,272.
ARCHITECTURES["gemma-4-12b"] = dict(
    _GEMMA4_MEDIUM, model_type="gemma4_unified_text", hidden_size=3840,
    intermediate_size=15360, num_hidden_layers=48,
    layer_types=(["sliding_attention"] * 5 + ["full_attention"]) * 8, num_attention_heads=16,
    num_key_value_heads=8, num_global_key_value_heads=1)
# Zyphra/ZAYA1-8B (zaya, transformers' native schema; not its -legacy copy, whose Megatron-style
# config.json prunebench refuses): its config.json as sglang's test of its ZayaConfig copies the
# field set verbatim from the file at revision 67d34da515b30409ee8daa67c3605c4402d03f6f (the
# layer list written ["hybrid"] * 40; the hub could not be read here), a Rust engine's test of
# the native file giving the same shape keys: 40 blocks of hidden 2048, each CCA attention of
# 8 heads on 2 KV heads of 128 (convolutions of 2 and 2 taps, half of each head rotating at
# base 5,000,000) and a router of 256 choosing one of 16 experts of 2048 or the skip expert,
# tied, no LM head bias, a 131072-token context, vocab 262272 (tests/test_zaya.py quotes it).
# 8,840,488,784 parameters (8.30B without the tied embedding table: the card's 8.3B total),
# 1,290,737,488 read by a batch-1 step (one expert a block; 0.75B without the head: the card's
# 800M active).
ARCHITECTURES["zaya1-8b"] = dict(
    model_type="zaya", attention_bias=False, attention_dropout=0.0, bos_token_id=2,
    cca_time0=2, cca_time1=2, eos_token_id=106, head_dim=128, hidden_act="silu",
    hidden_size=2048, initializer_range=0.02, layer_types=["hybrid"] * 40, lm_head_bias=False,
    max_position_embeddings=131072, moe_intermediate_size=2048, num_attention_heads=8,
    num_experts=16, num_experts_per_tok=1, num_hidden_layers=40, num_key_value_heads=2,
    output_router_logits=False, pad_token_id=0, partial_rotary_factor=0.5, rms_norm_eps=1e-5,
    rope_parameters={
        "hybrid": {"partial_rotary_factor": 0.5, "rope_theta": 5000000, "rope_type": "default"},
        "hybrid_sliding": {"partial_rotary_factor": 0.5, "rope_theta": 10000.0,
                           "rope_type": "default"},
        "rope_type": "default"},
    router_hidden_size=256, sliding_window=None, tie_word_embeddings=True, use_cache=True,
    vocab_size=262272)
ARCHITECTURES["deepseek-v2-lite-chat"] = ARCHITECTURES["deepseek-v2-lite"]
ARCHITECTURES["deepseek-v2-chat"] = ARCHITECTURES["deepseek-v2"]
# meta-llama/Llama-2-7b-hf and -13b-hf: LLaMA-1's shapes with a 4096-token context and
# rms_norm_eps 1e-5 (Vicuna v1.5 is fine-tuned from them).
ARCHITECTURES["llama-2-7b"] = dict(ARCHITECTURES["llama-7b"], max_position_embeddings=4096,
                                   rms_norm_eps=1e-5)
ARCHITECTURES["llama-2-13b"] = dict(ARCHITECTURES["llama-13b"], max_position_embeddings=4096,
                                    rms_norm_eps=1e-5)
ARCHITECTURES["vicuna-7b"] = ARCHITECTURES["llama-7b"]
ARCHITECTURES["vicuna-13b"] = ARCHITECTURES["llama-13b"]
ARCHITECTURES["vicuna-7b-v1.5"] = ARCHITECTURES["llama-2-7b"]
ARCHITECTURES["vicuna-13b-v1.5"] = ARCHITECTURES["llama-2-13b"]
# The hub ids of OLMo-3's base checkpoints name their release month.
ARCHITECTURES["olmo-3-1025-7b"] = ARCHITECTURES["olmo-3-7b"]
ARCHITECTURES["olmo-3-1125-32b"] = ARCHITECTURES["olmo-3.1-32b"] = ARCHITECTURES["olmo-3-32b"]
# GLM-4-0414's base and reasoning (GLM-Z1) checkpoints, under their hub ids' names.
ARCHITECTURES["glm-z1-9b-0414"] = ARCHITECTURES["glm-4-9b-0414"]
ARCHITECTURES["glm-4-32b-base-0414"] = ARCHITECTURES["glm-z1-32b-0414"] = \
    ARCHITECTURES["glm-4-32b-0414"]


def architecture_shape(name: str) -> dict:
    """The published checkpoint's config values (a copy, nested values too: transformers'
    config classes write into the rope dicts they are given)."""
    try:
        return copy.deepcopy(ARCHITECTURES[name])
    except KeyError:
        raise PrunebenchError(
            f"unknown architecture {name!r}: choose one of {sorted(ARCHITECTURES)}") from None


# Hub id parts that name another kind of checkpoint than the shape's causal LM: quantized
# weights (which prunebench refuses once their config.json is read), reward models, LoRA
# adapters (no model of their own) and Gemma 4's drafters (google/gemma-4-*-it-assistant:
# param_count.DRAFTERS).
OTHER_KINDS = ("gguf", "awq", "gptq", "bnb", "4bit", "8bit", "int4", "int8", "exl2", "mlx",
               "fp8", "nvfp4", "w4a16", "w8a8", "w8a16", "rm", "reward", "lora", "assistant")


def known_shape_of(repo_id: str) -> str | None:
    """The known architecture a hub id names ('huggyllama/llama-7b' -> 'llama-7b',
    'lmsys/vicuna-13b-v1.3' -> 'vicuna-13b'), the longest match; None if it names none, or
    names another kind of checkpoint too ('...-AWQ', '...-GGUF', a reward model '...-RM')."""
    words = repo_id.lower().split("/")[-1]
    if set(re.split(r"[-_.]", words)) & set(OTHER_KINDS):
        return None
    names = [n for n in ARCHITECTURES if n in words.removeprefix("meta-")]
    if "llava" in words:  # its language model is LLaVA's (llava-v1.6-vicuna-7b: not LLaMA-1's)
        names = [n for n in names if n.startswith("llava")]
    if "chat-1m" in words:  # glm-4-9b-chat-1m: 4 KV heads, not glm-4-9b-chat's 2
        names = [n for n in names if n != "glm-4-9b-chat"]
    if re.search(r"command-r7b|08-2024", words):  # Command R7B (Cohere2) and the 08-2024
        # Command R and R+ are other shapes than the first Command R's and R+'s
        names = [n for n in names if n not in ("command-r", "command-r-plus")]
    if "0124" in words:  # Hunyuan-7B-*-0124, January 2025's: another model (and model_type)
        names = [n for n in names if not n.startswith("hunyuan")]
    if re.search(r"llama|mistral", words):  # a Llama-3.1 / Mistral-NeMo Minitron (or a
        # fine-tune of one) is no Nemotron-4 Minitron
        names = [n for n in names if n not in ("minitron-4b", "minitron-8b")]
    if re.search(r"stablelm-2-(zephyr-)?1_6b", words):  # StableLM 2 1.6B's hub ids
        names.append("stablelm-2-1.6b")
    if re.search(r"minimax-m2(\.\d+)?-reap", words):  # REAP's: experts pruned away
        names = [n for n in names if not n.startswith("minimax-m2")]
    elif re.search(r"minimax-m2\.\d", words):  # MiniMax-M2.5, M2.7: config.json files of their
        # own (M2.7's context longer); M2.1's has M2's shape, a key of its own
        names = [n for n in names if n != "minimax-m2"]
    if re.search(r"olmo-7b-0[47]24", words):  # OLMo 1.7 (0424) and the 0724 release: a
        # 4096-token context (0724's config.json as its hub discussion says; 0424's as a copy
        # quotes it, with q/k/v clamped to 8), not OLMo-7B-hf's 2048: planned from their own
        names = [n for n in names if n != "olmo-7b"]
    if "legacy" in words:  # Zyphra/ZAYA1-8B-legacy: a Megatron-style config.json, refused
        names = [n for n in names if n != "zaya1-8b"]
    if re.search(r"gpt2-large|distil|tiny", words):  # gpt2-large (no known shape), DistilGPT2
        # (6 blocks) and the tiny test models are no gpt2 of 124M
        names = [n for n in names if n != "gpt2"]
    return max(names, key=len) if names else None


def architecture_values(name: str) -> dict:
    """The config values of the architecture: its published shape, its `model_type`, and the
    settings its config.json has beside them."""
    shape = architecture_shape(name)
    model_type = shape.setdefault("model_type", "llama")
    # (each family's activation is its config class's default: SiLU, Gemma's GELU)
    settings = dict(bos_token_id=1, eos_token_id=2, tie_word_embeddings=False)
    if model_type == "llama":
        settings["pad_token_id"] = 0
    return {**settings, **shape}


def architecture_config(name: str) -> LlamaConfig:
    """A transformers config of the architecture's family (LlamaConfig, Qwen2Config, ...)."""
    from prunebench.checkpoint.param_count import with_partial_rotary
    from prunebench.modeling import config_class

    values = with_partial_rotary(architecture_values(name))
    return config_class(values.pop("model_type"))(**values)
