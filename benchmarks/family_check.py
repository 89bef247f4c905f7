"""Every supported family's compiled decoder against transformers' generate, on the device.

The CPU tests check each family's decoder op by op (mode "eager"); this runs the same decoding
as the benchmarks run it on a GPU, under the decoder's own CUDA graph: per family, a small
random model shaped like a published one (its family's pieces kept: Llama-3.1's rope scaling,
Qwen2's q/k/v biases, Qwen3's q/k norms, Gemma's plus-one norms and scaled embeddings, Gemma-2's
soft caps and sandwich norms, Gemma-3-4B's per-head q/k norms, two rotary bases and linear
scaling, Phi-4-mini's packed projections and partial rotary, OLMo-2's output norms and
whole-projection q/k norms, OLMo-3's with local blocks, Granite's scalars, SmolLM3's blocks
without rotary positions, Ministral 3's queries scaled by position, EXAONE-4's global block
without rotary positions, GLM's q/k/v biases, packed gate/up and half of each head rotating
in adjacent pairs, GLM-4's norms on the sublayers' outputs, Seed-OSS's q/k/v biases and
head_dim apart from hidden / heads, ERNIE 4.5's whole heads rotating in adjacent pairs in
float32 (tied; its biases set on here, as use_bias allows), Command R+'s parallel block,
LayerNorms, per-head q/k norms, rotation in adjacent pairs and logit scale, Command R7B's
(Cohere2) with local blocks and a global one without rotary positions, Hunyuan-7B's q/k norms
after the rotation and NTK-alpha frequencies (tied, no biases as published: with its four
attention biases on, this random tied model's depth variant repeats one token; the CPU tests
check them), StableLM-2-1.6B's biased LayerNorms, q/k/v biases and quarter-head rotary with
StableLM-2-12B's parallel block and per-head q/k LayerNorms, Arcee's ungated relu2 MLP with
biases and YaRN tables, Nemotron's ungated MLP, LayerNorms weighing by 1 + weight with biases,
half of each head rotating and head_dim set apart, StarCoder2-3B's ungated gelu MLP named
c_fc / c_proj with biases everywhere and biased LayerNorms, phi-2's parallel block, attention
output `dense`, fc1 / fc2 MLP and biased LM head with q/k LayerNorms on, Granite 4.0's
attention-only dense model with its shared MLP's packed input_linear, Apertus's ungated xIELU
MLP with its own norm names, Ministral's per-block windows, Helium's whole heads rotating in
adjacent pairs and its norms weighing float32 statistics, VaultGemma's Gemma-2 attention with
two norms a block, Pythia-6.9B's q/k/v packed head by head, biases everywhere, ungated gelu
MLP and parallel block of two LayerNorms, OPT's learned positions and its block's own fc1 /
fc2, Falcon twice (Falcon-7B's multi-query attention and parallel block of one norm,
Falcon-40B's q/k/v rows by KV group and parallel block of two norms, biased), GPT-J-6B's
parallel block of one LayerNorm, a quarter of each head rotating in adjacent pairs by its
sin / cos table, ungated gelu_new MLP and biased LM head, GPT-2's learned positions, packed
c_attn and ungated gelu_new MLP of Conv1D projections, biases everywhere, SantaCoder's
(GPT-BigCode's) learned positions, c_attn packed head by head (multi_query off: its
multi-query layout repeated its tokens here), biases everywhere and biased LayerNorms,
untied, BLOOM-7b1's ALiBi biases (slopes in the model's dtype from key positions), q/k/v
packed head by head, biases everywhere and LayerNorm of the embeddings, MPT's ALiBi biases
(float32, from the last position) with its bias-free LayerNorms and q/k/v clamp,
HyperCLOVA X's Granite scalars (its logits multiplied) and norms on the sublayers' outputs,
Persimmon's q/k/v packed head by head with q/k LayerNorms and half of each head rotating,
GPT-NeoX-Japanese's q/k/v packed head by head, last block's attention bias and unbiased MLP,
gpt-neo-125m's learned positions, unscaled float32 scores and local blocks,
xglm-564M's sinusoidal positions (offset 2), embeddings scaled by sqrt(d_model) and OPT's
pre-LN block, BioGPT-Large's learned positions (offset 2), embeddings scaled by
sqrt(hidden_size), OPT's pre-LN block and its head output_projection, CTRL's fixed
sinusoidal rows, embeddings scaled by sqrt(n_embd), Wq / Wk / Wv / dense, its ffn
Sequential's ReLU MLP and biased LM head, CodeGen's GPT-J block with q, k and v in qkv_proj's
four shards of [q; v; k], ModernBERT-decoder's block 0 without an attention norm, packed
Wi of [input; gate], global and windowed blocks of a rotary base each and prediction head
before the LM head, Emu3's language model (LLaMA's block, biases on), Llama 3.2
Vision's language model (a cross-attention block between self-attention blocks, which a text
forward passes over: pruned around it and left out of the compiled decoder); sliding
windows of 8 tokens, as Mistral-7B-v0.1,
Gemma-2, Gemma-3, OLMo-3, Command R7B and Phi-3-4k have them in longer form, so that a
24-token cell passes them), dense, width-pruned (a KV
group out of one block (CodeGen's: a head of each shard), every head out of another, half the
channels of a third; BLOOM's and MPT's MLP channels alone, their heads' ALiBi slopes
following the head count: every channel of the first block, half of the fourth's) and
depth-pruned (one block out). Each decodes greedily with the compiled backend and with HF
generate, in float32: the tokens must agree up to a row's first near tie. In the benchmarks'
dtype (bfloat16 by default) it reports how many tokens agree, for information (rounding
differs between the two implementations, so sequences part after a near tie).

    python benchmarks/family_check.py                              # on a GPU (under a minute)
    python benchmarks/family_check.py --device cpu --mode eager    # anywhere

Writes family_check.json and family_check.md to --out (default $OUT); exits 1 if a float32
check failed (tokens differ before a near tie, or the rows generated fewer than 3 distinct
tokens each on average: output any decoder would match) or a check in either dtype raised
(a decoder that cannot run in the benchmarks' dtype is broken, whatever its tokens).
"""

from __future__ import annotations

import argparse
import copy
import logging
import os
import re
import sys
import time
import traceback
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # script_arguments, beside this script

from script_arguments import add_device_and_dtype, check_dtype, names  # noqa: E402

from prunebench.atomic import write_json, write_text  # noqa: E402
from prunebench.benchmark.compiled import MODES, StaticDecoder, resolve_mode  # noqa: E402
from prunebench.commands.arguments import non_negative_int, positive_int  # noqa: E402
from prunebench.checkpoint.architectures import architecture_values  # noqa: E402
from prunebench.checkpoint.param_count import family as family_layout  # noqa: E402
from prunebench.checkpoint.param_count import head_shards, kv_heads, text_blocks  # noqa: E402
from prunebench.checkpoint.param_count import transformers_release_problem  # noqa: E402
from prunebench import projections  # noqa: E402
from prunebench.methods import surgery  # noqa: E402
from prunebench.modeling import (build_model, config_class, remove_blocks,  # noqa: E402
                                 resolve_device, resolve_dtype)
from prunebench.provenance import provenance  # noqa: E402

log = logging.getLogger("family_check")

WINDOW = 8  # shorter than the cells: the windows' masks take part
SMALL_WIDTH = 128  # every small model's MLP channels
# One published shape per family, made small; what makes the family differ is kept.
FAMILY_SHAPES = {"llama": "llama-3.1-8b", "mistral": "mistral-7b-v0.3", "qwen2": "qwen2.5-7b",
                 "qwen3": "qwen3-8b", "gemma": "gemma-7b", "gemma2": "gemma-2-2b",
                 "phi3": "phi-4-mini", "olmo2": "olmo-2-1124-7b", "granite": None,
                 "gemma3_text": "gemma-3-4b", "smollm3": None, "olmo3": "olmo-3-7b",
                 "ministral3": None, "exaone4": None, "glm": "glm-4-9b-chat",
                 "glm4": "glm-4-9b-0414", "olmo": "olmo-7b", "seed_oss": "seed-oss-36b",
                 "ernie4_5": "ernie-4.5-0.3b",
                 "cohere": "command-r-plus", "cohere2": "command-r7b",
                 "hunyuan_v1_dense": "hunyuan-7b", "stablelm": "stablelm-2-1.6b",
                 "arcee": None, "nemotron": None, "starcoder2": "starcoder2-3b",
                 "phi": "phi-2", "granitemoehybrid": None,
                 "apertus": None, "apertus1p5_text": None, "ministral": None,
                 "cwm": None, "granite_swa": "granite-swash-2b",
                 "helium": "helium-1-preview-2b", "vaultgemma": None,
                 "gpt_neox": "pythia-6.9b", "opt": None,
                 "falcon": None, "falcon_40b": None, "gptj": "gpt-j-6b", "gpt2": None,
                 "gpt_bigcode": "gpt_bigcode-santacoder", "bloom": "bloom-7b1", "mpt": None,
                 "hyperclovax": None,
                 "jais2": None, "nanochat": None,
                 "exaone": "exaone-3.0-7.8b", "internlm3": "internlm3-8b-instruct",
                 "iquestcoder": None,
                 "persimmon": None, "gpt_neox_japanese": None,
                 "gpt_neo": "gpt-neo-125m", "xglm": "xglm-564m",
                 "biogpt": "biogpt-large", "openai-gpt": None, "ctrl": "ctrl",
                 "codegen": None, "cohere_compass_text": None, "modernbert-decoder": None,
                 "emu3_text_model": None, "mllama_text_model": None}
# The families without a known shape: Granite's scalars, Granite-3-like, far from 1 and no
# powers of two (which every dtype holds exactly, so a scalar applied in another dtype would go
# unseen); SmolLM3 with blocks attending without rotary positions (NoPE) after rotating ones
# (the depth variant's removal of block 1 moves block 3's to 2), untied (a random model with
# tied embeddings repeats its tokens, which proves nothing); Ministral 3 with YaRN and its
# query scale from an original context (8 tokens) inside the cell, by a beta (0.7, published
# 0.1) that moves the tokens (YaRN's factor the context's, 256 / 8, as published configs have
# it: transformers warns of any other); EXAONE-4 with the 32B's hybrid attention: local
# blocks rotating, a global one (the fourth) without rotary positions; Arcee (AFM-4.5B's
# shape not confirmed here) with its ungated relu2 MLP, biases on every projection (false in
# the published config, so sliced here) and YaRN tables over an original context (8 tokens)
# inside the cell; Nemotron (a config of its own, though minitron-4b / -8b are known shapes
# now: theirs have no biases) with its ungated MLP, biased LayerNorms weighing by 1 + weight, half of each head rotating, head_dim
# set apart (below) and biases on every projection. (GLM and GLM-4 have
# known shapes, GLM-4-9B-chat's and GLM-4-9B-0414's: their q/k/v biases kept, half of each
# head rotating in adjacent pairs.) Granite 4.0's attention-only dense model (granite-4.0-
# micro's layout, its config.json not confirmed here): Granite's scalars, the dense shared MLP
# (gate and up packed in input_linear, as wide as the others' MLP) and biases on the four
# attention projections (false as published, so sliced here). Apertus (Apertus-8B's and
# -70B's config.json not confirmed here) with its ungated xIELU MLP (learned scalars a block,
# randomised below as every 1-D parameter), per-head q/k norms, biases on every attention
# projection (false as published, so sliced here) and llama3 rotary scaling over an original
# context (8 tokens) inside the cell; Ministral (Ministral-8B-Instruct-2410's config.json not
# confirmed here) with one full-attention block and three of a window inside the cells, as
# `layer_types` says (the depth variant's removal of block 1 keeps both kinds); CWM (facebook/cwm's
# config.json not confirmed here) likewise, as CwmConfig makes its blocks without layer_types,
# its llama3 rotary scaling over an original context (8 tokens) inside the cell. VaultGemma
# (vaultgemma-1b's config.json not confirmed here) with Gemma-2's attention (queries scaled by
# query_pre_attn_scalar, not head_dim's, soft caps) and two norms a block, a window inside the
# cells on every other block as `layer_types` says. (Helium has a known shape,
# helium-1-preview-2b's: its whole heads rotating in adjacent pairs, its heads filling the
# hidden size, as they must.) OPT (its known shapes tie the LM head, and a random tied model
# repeats its tokens here: a small untied one) with its learned positions added to the
# embeddings, every head its own keys and values, biases everywhere and its block's own
# fc1 / fc2 (its width under its own key, ffn_dim). Falcon (no config.json of a published model
# confirmed here) twice: Falcon-7B's layout (multi-query, one KV head for every query head, the
# parallel block of one norm) and Falcon-40B's (the new decoder architecture's q/k/v rows by KV
# group, 2 KV heads, the parallel block of two norms, ln_attn / ln_mlp), biased (false as
# published, so sliced here), untied (a random tied model repeats its tokens), the MLP's width
# under its own key (ffn_hidden_size). GPT-2 (its known shapes tie the LM head, and a random
# tied model repeats its tokens here: a small untied one, as OPT's) with its Conv1D projections
# held as nn.Linear, c_attn's rows [all q; all k; all v], learned positions without an offset,
# biases everywhere and an ungated gelu_new MLP under its own width key (n_inner). MPT (no whole published
# config.json confirmed here) with MPT-7B's layout, its ALiBi over a max_seq_len of 256, its
# q/k/v clamp (clip_qkv, as MPT-30B's configs set it) tight enough to bite here, untied (a
# random tied model repeats its tokens). HyperCLOVA X (no HyperCLOVAX-SEED config.json
# confirmed here) with Granite's scalars, far from 1 and no powers of two, its logits_scaling
# a multiplier, and an RMSNorm on each sublayer's output (use_post_norm, Peri-LN). Jais2
# (Jais-2-8B's config.json not confirmed here) with its biased attention and ungated relu2 MLP
# and its LayerNorms; nanochat (nanochat-d32's config.json not confirmed here) with its weightless norms (the embeddings' too), its rotation
# the other way round, q/k norms after it, a soft cap that binds and biases on the attention
# (false as published, so sliced here).
UNSHAPED = {"granite": dict(model_type="granite", embedding_multiplier=12.0,
                            attention_multiplier=0.0151, residual_multiplier=0.22,
                            logits_scaling=7.3),
            "smollm3": dict(model_type="smollm3", no_rope_layers=[1, 0, 1, 0],
                            tie_word_embeddings=False),
            "ministral3": dict(model_type="ministral3", tie_word_embeddings=False,
                               rope_parameters={
                                   "rope_type": "yarn", "rope_theta": 1000000.0, "factor": 32.0,
                                   "original_max_position_embeddings": 8, "beta_fast": 32.0,
                                   "beta_slow": 1.0, "mscale": 1.0, "mscale_all_dim": 1.0,
                                   "llama_4_scaling_beta": 0.7}),
            "exaone4": dict(model_type="exaone4", sliding_window=WINDOW,
                            layer_types=["sliding_attention"] * 3 + ["full_attention"]),
            # Cohere Compass (no known shape): North-Micro-Vision's rotation by layer type (the
            # global blocks' none), untied, a logit scale
            "cohere_compass_text": dict(
                model_type="cohere_compass_text", sliding_window=WINDOW, logit_scale=0.37,
                layer_types=["sliding_attention"] * 3 + ["full_attention"],
                tie_word_embeddings=False,
                rope_parameters={"sliding_attention": {"rope_type": "default",
                                                       "rope_theta": 50000.0},
                                 "full_attention": None}),
            "arcee": dict(model_type="arcee", attention_bias=True, mlp_bias=True,
                          rope_parameters={"rope_type": "yarn", "rope_theta": 10000.0,
                                           "factor": 32.0, "original_max_position_embeddings": 8,
                                           "beta_fast": 32.0, "beta_slow": 1.0}),
            "nemotron": dict(model_type="nemotron", attention_bias=True, mlp_bias=True,
                             partial_rotary_factor=0.5),
            "granitemoehybrid": dict(model_type="granitemoehybrid", num_local_experts=0,
                                     shared_intermediate_size=SMALL_WIDTH,
                                     layer_types=["attention"] * 4,
                                     position_embedding_type="rope", attention_bias=True,
                                     embedding_multiplier=12.0, attention_multiplier=0.0151,
                                     residual_multiplier=0.22, logits_scaling=7.3),
            "apertus": dict(model_type="apertus", attention_bias=True, rope_parameters={
                "rope_type": "llama3", "rope_theta": 12000000.0, "factor": 8.0,
                "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                "original_max_position_embeddings": 8}),
            # Apertus 1.5's language model: Apertus's, its LM head narrower than the input
            # vocabulary (small_config)
            "apertus1p5_text": dict(model_type="apertus1p5_text", attention_bias=True,
                                    rope_parameters={
                "rope_type": "llama3", "rope_theta": 12000000.0, "factor": 8.0,
                "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                "original_max_position_embeddings": 8}),
            "ministral": dict(model_type="ministral", sliding_window=WINDOW,
                              layer_types=["full_attention"] + ["sliding_attention"] * 3),
            "cwm": dict(model_type="cwm", sliding_window=WINDOW, rope_parameters={
                "rope_type": "llama3", "rope_theta": 1000000.0, "factor": 16.0,
                "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                "original_max_position_embeddings": 8}),
            "vaultgemma": dict(model_type="vaultgemma", sliding_window=WINDOW,
                               query_pre_attn_scalar=24,
                               layer_types=["sliding_attention", "full_attention"] * 2),
            "opt": dict(model_type="opt", ffn_dim=SMALL_WIDTH, tie_word_embeddings=False),
            "falcon": dict(model_type="falcon", multi_query=True, parallel_attn=True,
                           ffn_hidden_size=SMALL_WIDTH, tie_word_embeddings=False),
            "falcon_40b": dict(model_type="falcon", new_decoder_architecture=True,
                               num_kv_heads=2, bias=True, ffn_hidden_size=SMALL_WIDTH,
                               tie_word_embeddings=False),
            "gpt2": dict(model_type="gpt2", tie_word_embeddings=False),
            "mpt": dict(model_type="mpt", max_seq_len=256, attn_config={"clip_qkv": 1.0},
                        tie_word_embeddings=False),
            "hyperclovax": dict(model_type="hyperclovax", embedding_multiplier=3.3,
                                attention_multiplier=0.0151, residual_multiplier=0.22,
                                logits_scaling=0.37, use_post_norm=True),
            # Jais2 (no config.json of Jais-2-8B read): biased attention and MLP, LayerNorms
            "jais2": dict(model_type="jais2", attention_bias=True, mlp_bias=True),
            # nanochat (no config.json of nanochat-d32 read): weightless norms, its rotation,
            # the soft cap tight enough (2; published 15) to bind at these logits' scale,
            # biases on (published: off) so that their slicing is decoded
            "nanochat": dict(model_type="nanochat", attention_bias=True,
                             final_logit_softcapping=2.0),
            # Emu3's language model (no config.json of Emu3-Chat-hf read): LLaMA's block,
            # biases on (published: off) so that their slicing is decoded, untied
            "emu3_text_model": dict(model_type="emu3_text_model", attention_bias=True,
                                    mlp_bias=True, tie_word_embeddings=False),
            # Llama 3.2 Vision's language model (its 11B's layout made small below: a
            # cross-attention block between self-attention blocks), untied (published: untied)
            "mllama_text_model": dict(model_type="mllama_text_model",
                                      tie_word_embeddings=False),
            # IQuest-Coder (no whole config.json of IQuest-Coder-V1 found): LLaMA's block as
            # transformers builds it, SMALL's head_dim given (its class's 128 where left out),
            # its own clamp and window off as published, untied
            "iquestcoder": dict(model_type="iquestcoder", clip_qkv=None,
                                use_sliding_window=False, tie_word_embeddings=False),
            # Persimmon (no config.json of Persimmon-8B confirmed): q/k/v packed head by head,
            # q/k LayerNorms with biases, half of each head rotating, ungated relu2 MLP, untied
            "persimmon": dict(model_type="persimmon", qk_layernorm=True,
                              partial_rotary_factor=0.5, tie_word_embeddings=False),
            # GPT-NeoX-Japanese (no config.json of gpt-neox-japanese-2.7b found): q/k/v packed
            # head by head, the last block's dense_bias, an ungated gelu MLP without biases,
            # whole heads rotating (as transformers 5.17 runs it), untied (published: tied by
            # default, and a random tied model repeats its tokens)
            "gpt_neox_japanese": dict(model_type="gpt_neox_japanese", rotary_pct=1.0,
                                      tie_word_embeddings=False),
            # OpenAI GPT (no config.json of openai-gpt found): post-LN blocks (no final norm,
            # the logits read off the last block's ln_2), GPT-2's Conv1D projections, untied
            # (published: tied; a random tied model repeats its tokens, 1.0 to 3.0 distinct a
            # row at seeds 0 and 1)
            "openai-gpt": dict(model_type="openai-gpt", tie_word_embeddings=False),
            # CodeGen (no config.json of a Salesforce CodeGen found): GPT-J's block with
            # q, k and v in qkv_proj's four shards of [q; v; k], a quarter of each head
            # rotating, untied as published
            "codegen": dict(model_type="codegen", rotary_dim=4, tie_word_embeddings=False),
            # ModernBERT-decoder (no config.json of an Ettin decoder confirmed): block 0
            # without an attention norm, global and windowed blocks in turn (the window
            # inside the cells), a rotary base each kind, the prediction head before the LM
            # head, every bias on (published: off), untied (published: tied; a random tied
            # model repeats its tokens)
            "modernbert-decoder": dict(model_type="modernbert-decoder",
                                       global_attn_every_n_layers=2, local_attention=2 * WINDOW,
                                       attention_bias=True, mlp_bias=True, norm_bias=True,
                                       classifier_bias=True, decoder_bias=True,
                                       tie_word_embeddings=False, cls_token_id=1,
                                       sep_token_id=2)}
SMALL = dict(hidden_size=64, intermediate_size=SMALL_WIDTH, num_hidden_layers=4,
             num_attention_heads=4, num_key_value_heads=2, head_dim=16, vocab_size=256,
             max_position_embeddings=256, bos_token_id=1, eos_token_id=2, pad_token_id=0)
NEAR_TIE = 1e-4  # float32: far above the differences of two correct implementations
MIN_VARIED = 3  # distinct generated tokens per row (mean) for the agreement to mean something


def small_config(family: str):
    shape = FAMILY_SHAPES[family]
    values = {**(architecture_values(shape) if shape else UNSHAPED[family]), **SMALL}
    model_type = values.pop("model_type")
    if model_type in ("mistral", "gemma2", "phi3", "gemma3_text", "olmo3", "cohere2"):  # as Mistral-7B-v0.1's
        values["sliding_window"] = WINDOW
    if model_type == "apertus1p5_text":  # the head's rows SMALL's vocabulary, 32 ids past it
        # read and never generated (output_vocab_size)
        values.update(vocab_size=SMALL["vocab_size"] + 32, output_vocab_size=SMALL["vocab_size"])
    if model_type == "ernie4_5":  # every projection biased (published: none), so sliced
        values["use_bias"] = True
    if model_type == "stablelm":  # StableLM-2-12B's parallel block and per-head q/k norms
        values.update(use_parallel_residual=True, qk_layernorm=True)  # on 1.6B's biases
    if model_type == "starcoder2":  # its window (published 4096) inside the cells
        values["sliding_window"] = WINDOW
    if model_type == "gpt_neox":  # a KV head per query head, GPTNeoXConfig's only kind
        values.pop("num_key_value_heads")
    if model_type == "falcon":  # head_dim hidden / heads (FalconConfig's property), its own
        # keys for the KV heads and the MLP's width
        for key in ("head_dim", "num_key_value_heads", "intermediate_size"):
            values.pop(key)
    if model_type == "gptj":  # GPTJConfig's own keys for SMALL's sizes, heads of
        # hidden / heads (16) with a quarter rotating (64 of 256 published), a KV head each
        for own in ("n_embd", "n_layer", "n_head", "n_positions", "num_key_value_heads",
                    "head_dim"):
            values.pop(own)
        values.update(n_inner=values.pop("intermediate_size"), rotary_dim=4)
    if model_type == "codegen":  # eight heads of 8, two in each of qkv_proj's four shards
        # (so that the width variant keeps some: a head of each shard out), a KV head each,
        # the MLP's width under CodeGenConfig's own key
        for key in ("num_key_value_heads", "head_dim"):
            values.pop(key)
        values.update(num_attention_heads=8, n_inner=values.pop("intermediate_size"))
    if model_type == "gpt2":  # heads of hidden / heads (16), a KV head each, the MLP's
        # width under GPT2Config's own key
        for key in ("num_key_value_heads", "head_dim"):
            values.pop(key)
        values["n_inner"] = values.pop("intermediate_size")
    if model_type == "gpt_bigcode":  # GPTBigCodeConfig's own keys for SMALL's sizes, heads of
        # hidden / heads (16), each its own keys and values (multi_query false: c_attn's rows
        # head by head) and untied: SantaCoder's multi-query layout, tied or not, repeated its
        # tokens here in the depth variant (tests/test_gpt_bigcode.py decodes both layouts)
        for own in ("n_embd", "n_layer", "n_head", "n_positions", "num_key_value_heads",
                    "head_dim"):
            values.pop(own)
        values.update(n_inner=values.pop("intermediate_size"), multi_query=False,
                      tie_word_embeddings=False)
    if model_type in ("bloom", "mpt"):  # their own keys for SMALL's sizes (BloomConfig's and
        # MptConfig's attribute_map read LLaMA's names as them), heads of hidden / heads, a KV
        # head each, the MLP 4 x hidden whatever a key says, MPT's context its max_seq_len;
        # untied (bloom-7b1 is tied: a random tied model repeats its tokens)
        for own in ("n_layer", "n_head", "num_key_value_heads", "head_dim", "intermediate_size",
                    "max_position_embeddings"):
            values.pop(own, None)
        values["tie_word_embeddings"] = False
    if model_type == "granite_swa":  # granite-swash-2b's window inside the cells on the
        # first and third blocks, a block without rotary positions (base 0) and one of another
        # base (published: every block at 10,000), untied (published: tied, and a random tied
        # model repeats its tokens)
        values.update(sliding_window=WINDOW, tie_word_embeddings=False,
                      layer_types=["sliding_attention", "full_attention"] * 2,
                      layer_rope_theta=[10000.0, 0, 10000.0, 500.0])
    if model_type == "gpt_neox_japanese":  # a KV head per query head, hidden / heads, its
        # MLP's width as the multiple of hidden_size GPTNeoXJapaneseConfig reads
        for key in ("num_key_value_heads", "head_dim"):
            values.pop(key)
        values["intermediate_multiple_size"] = values.pop("intermediate_size") // 64
    if model_type == "modernbert-decoder":  # a KV head per query head (no key), heads of
        # hidden / heads whatever head_dim says
        for key in ("num_key_value_heads", "head_dim"):
            values.pop(key)
    if model_type == "persimmon":  # a KV head per query head (no key), hidden / heads
        for key in ("num_key_value_heads", "head_dim"):
            values.pop(key)
    if model_type == "gpt_neo":  # GPTNeoConfig's own keys for SMALL's sizes, heads of hidden /
        # heads (16), a KV head each, global and local blocks in turn with gpt-neo-125m's
        # window (256) moved inside the cells, untied (gpt-neo-125m is tied: a random tied
        # model repeats its tokens)
        for key in ("num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                    "head_dim"):
            values.pop(key)
        values.update(num_layers=4, num_heads=4, attention_types=[[["global", "local"], 2]],
                      window_size=WINDOW, tie_word_embeddings=False)
    if model_type == "xglm":  # XGLMConfig's own keys for SMALL's sizes (its attribute_map
        # reads LLaMA's names as them), heads of hidden / heads (16), a KV head each, the MLP's
        # width as ffn_dim; untied (xglm-564M is tied: a random tied model repeats its tokens)
        for own in ("d_model", "num_layers", "attention_heads", "num_key_value_heads",
                    "head_dim"):
            values.pop(own)
        values.update(ffn_dim=values.pop("intermediate_size"), tie_word_embeddings=False)
    if model_type == "internlm3":  # biases on q, k, v, o_proj and the MLP (published: off,
        # qkv_bias and bias), so sliced; dynamic NTK scaling as published (the cells lie
        # within its context: the tables unscaled)
        values.update(attention_bias=True, mlp_bias=True)
    if model_type == "openai-gpt":  # heads of hidden / heads (16), a KV head each, the
        # MLP 4 x n_embd (256: no key of its width in OpenAIGPTConfig)
        for key in ("num_key_value_heads", "head_dim", "intermediate_size"):
            values.pop(key)
    if model_type == "biogpt":  # heads of hidden / heads (16), a KV head each (no key of
        # either in BioGptConfig); untied (BioGPT-Large is tied: a random tied model repeats
        # its tokens)
        for key in ("num_key_value_heads", "head_dim"):
            values.pop(key)
        values["tie_word_embeddings"] = False
    if model_type == "ctrl":  # CTRLConfig's own keys for SMALL's sizes (its attribute_map
        # reads LLaMA's names as them; SMALL's 256 positions, not 50000), heads of hidden /
        # heads (16), a KV head each, the MLP's width as dff; untied (Salesforce/ctrl is tied:
        # a random tied model repeats its tokens)
        for own in ("n_embd", "n_layer", "n_head", "n_positions", "num_key_value_heads",
                    "head_dim"):
            values.pop(own, None)
        values.update(dff=values.pop("intermediate_size"), tie_word_embeddings=False)
    if model_type == "mllama_text_model":  # a fifth block, the third of cross-attention
        # (the 11B's first is its fourth): the variants prune the four text blocks around it,
        # the depth variant renumbering it
        values.update(num_hidden_layers=SMALL["num_hidden_layers"] + 1, cross_attention_layers=[2])
    if model_type == "phi":  # q/k LayerNorms with biases (published: off), so decoded
        values["qk_layernorm"] = True
    if model_type == "nemotron":  # head_dim set apart, as published (4 x 32 against 64)
        values["head_dim"] = 32
    if model_type == "olmo":  # OLMo-7B-0424's clamp of q, k and v, tight enough to bite here
        values["clip_qkv"] = 0.1
    if model_type in ("gemma2", "gemma3_text"):
        values["query_pre_attn_scalar"] = 24  # not head_dim's, as Gemma-2-27B's
    if model_type == "gemma3_text":  # a local and a global block of each rotary base
        values["layer_types"] = ["sliding_attention", "full_attention"] * 2
    if model_type in ("llama", "olmo3"):  # rope scaling's original context inside the cell
        values["rope_scaling"] = {**values["rope_scaling"], "original_max_position_embeddings": 8}
    if model_type == "olmo3":  # YaRN on the global blocks' table only; its factor the context's
        values["rope_scaling"]["factor"] = SMALL["max_position_embeddings"] / 8
    return config_class(model_type)(**values)


def variants(config, device, seed: int) -> dict:
    """dense, width- and depth-pruned models of `config` (an ALiBi model's width variant of
    its MLP channels alone: prunebench removes no heads of one), drawn on the CPU (the same weights on every
    device). Matrices of variance 1 / fan-in: at transformers' initial 0.02 a small
    model repeats one token whatever its attention computes, and would prove nothing. Biases
    and norms randomised too (HF's zeros and ones would hide a slice of the wrong rows)."""
    torch.manual_seed(seed)
    dense = build_model(copy.deepcopy(config), device="cpu", dtype=torch.float32).eval()
    with torch.no_grad():
        for name, p in dense.named_parameters():
            if p.dim() == 2 and "norm" not in name:  # (Cohere's q/k norms: a row per head)
                p.normal_(0, p.shape[1] ** -0.5)
                if family_layout(config).post_ln_blocks and "embed" in name:
                    # (OpenAI GPT: the first block's norm follows the input plus attention,
                    # so embeddings of 1 / fan-in left the tokens' identity to the attention's
                    # average, and the greedy rows repeated one token)
                    p.normal_(0, 1.0)
            else:  # norm weights around 1, biases around 0 (StableLM's LayerNorms' too: a
                # final norm's bias around 1 would leave this model's logits to it; Falcon's
                # norms are ln_attn, ln_mlp and ln_f, GPT-J's ln_1 and ln_f)
                norm = "norm" in name or re.search(r"(^|\.)ln_", name)
                weight = norm and not name.endswith(".bias")
                p.copy_(torch.randn_like(p) * 0.2 + (1.0 if weight else 0.0))
    dense.to(device)
    # the blocks a text forward runs (Llama 3.2 Vision's cross-attention block passed over):
    # the variants prune these
    text = text_blocks(config)
    depth = copy.deepcopy(dense)
    remove_blocks(depth, [text[1]])
    width = copy.deepcopy(dense)
    if family_layout(config).alibi:  # every head kept: an MLP emptied, another halved (the
        # first emptied: MPT's model emptied of block 2's MLP repeated its tokens at seed 0)
        layers = projections.decoder(width).layers
        mlp_width = projections.mlp_width(projections.block_mlp(layers[text[0]]))
        surgery.remove_channels(width, text[0], range(mlp_width))
        surgery.remove_channels(width, text[3], range(0, mlp_width, 2))
        return {"dense": dense, "width": width, "depth": depth}
    # a KV group out (CodeGen's: a head of each of qkv_proj's shards, which keep as many)
    shards = head_shards(config)
    surgery.remove_kv_groups(width, text[1],
                             [s * kv_heads(config) // shards for s in range(shards)])
    # no heads left: its output bias alone (GPT-NeoX's four KV heads too)
    surgery.remove_kv_groups(width, text[2], range(kv_heads(config)))
    surgery.remove_channels(width, text[3], range(0, SMALL_WIDTH, 2))
    return {"dense": dense, "width": width, "depth": depth}


def hf_greedy(model, prompt, n_new):
    out = model.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt),
                         max_new_tokens=n_new, min_new_tokens=n_new, do_sample=False,
                         pad_token_id=0, output_scores=True, return_dict_in_generate=True)
    return out.sequences, torch.stack(out.scores, dim=1)


def agreement(mine, theirs, scores, prompt_len: int) -> tuple[int, int, bool]:
    """(tokens equal before the first difference, tokens checkable before each row's first
    near tie, all checkable tokens equal), summed over rows."""
    top2 = scores.float().topk(2, dim=-1).values
    tie = (top2[..., 0] - top2[..., 1]) < NEAR_TIE
    equal = checkable = 0
    ok = True
    for row in range(mine.shape[0]):
        new_mine, new_theirs = mine[row, prompt_len:], theirs[row, prompt_len:]
        differs = (new_mine != new_theirs).nonzero()
        first_diff = int(differs[0]) if len(differs) else len(new_mine)
        first_tie = int(tie[row].nonzero()[0]) if tie[row].any() else len(new_mine)
        equal += first_diff
        checkable += first_tie
        ok &= first_diff >= first_tie
    return equal, checkable, ok


def check(family, variant, model, mode, dtype, args, device) -> dict:
    row = {"family": family, "variant": variant, "dtype": str(dtype).removeprefix("torch."),
           "mode": mode}
    t0 = time.perf_counter()
    try:
        model = model.to(dtype)
        generator = torch.Generator().manual_seed(args.seed + 1)
        prompt = torch.randint(3, model.config.vocab_size, (args.batch, args.input_tokens),
                               generator=generator).to(device)
        prompt[:, 0] = 1
        with torch.inference_mode():
            theirs, scores = hf_greedy(model, prompt, args.output_tokens)
            decoder = StaticDecoder(model, args.batch, args.input_tokens + args.output_tokens,
                                    mode=mode)
            mine = decoder.generate(prompt, args.output_tokens)
            del decoder
        equal, checkable, ok = agreement(mine, theirs, scores, args.input_tokens)
        total = args.batch * args.output_tokens
        # Distinct tokens per row, on average: a model repeating one token agrees with any
        # decoder, so rows that do prove little (a random model may fall into such a loop).
        varied = sum(len(set(theirs[r, args.input_tokens:].tolist()))
                     for r in range(args.batch)) / args.batch
        # float32 is the check; another dtype is reported only (see the module's docstring)
        status = ("ok" if ok else "MISMATCH") if dtype == torch.float32 else "reported"
        if status == "ok" and varied < MIN_VARIED:
            status = "UNVARIED"
        row.update(status=status, tokens_equal=equal, tokens_checkable=checkable, tokens=total,
                   distinct_per_row=round(varied, 2))
    except Exception as exc:  # noqa: BLE001 - recorded; the next model runs
        log.error("%s %s %s failed:\n%s", family, variant, dtype, traceback.format_exc())
        row.update(status="error", error=f"{type(exc).__name__}: {exc}")
    row["seconds"] = round(time.perf_counter() - t0, 2)
    return row


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_device_and_dtype(p, "bfloat16", "the benchmarks' dtype, reported beside float32: ")
    p.add_argument("--mode", default="auto", choices=MODES,
                   help="the decoder's mode (auto: cuda-graph on CUDA, eager elsewhere)")
    p.add_argument("--families", default=",".join(FAMILY_SHAPES),
                   type=names(FAMILY_SHAPES, "families"),
                   help="the families to check, comma-separated, each once (default: all)")
    p.add_argument("--batch", type=positive_int, default=3)
    p.add_argument("--input-tokens", type=positive_int, default=6)
    p.add_argument("--output-tokens", type=positive_int, default=18)
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--out", default=os.environ.get("OUT") or "family_check_out")
    args = p.parse_args(argv)
    check_dtype(p, args.dtype)  # refused here, not after the start
    return args


def markdown(rows: list[dict]) -> str:
    lines = ["| family | variant | dtype | status | tokens equal / checkable / all | s |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        counts = (f"{r['tokens_equal']} / {r['tokens_checkable']} / {r['tokens']}"
                  if "tokens" in r else r.get("error", ""))
        lines.append(f"| {r['family']} | {r['variant']} | {r['dtype']} | {r['status']} | "
                     f"{counts} | {r['seconds']} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(args.device, "--device")
    dtypes = list(dict.fromkeys([torch.float32, resolve_dtype(args.dtype, device)]))
    mode = resolve_mode(args.mode, device)  # auto: the decoder's CUDA graph on CUDA
    rows = []
    provenance_ = provenance(device=device, seed=args.seed, cell=vars(args))

    def save() -> None:
        """The report so far: written after every family, so that a run stopped at a GPU
        session's time share keeps the families it checked."""
        write_json(out / "family_check.json",
                   {"args": vars(args), "mode": mode, "rows": rows, "provenance": provenance_})
        write_text(out / "family_check.md", f"# Families: compiled decoder ({mode}) against HF "
                   f"generate on {device}\n\n" + markdown(rows))

    for family in args.families:
        if problem := transformers_release_problem(family):
            # a family newer than this transformers (EXAONE, InternLM3 on 5.17): said, not
            # failed, as the installed release cannot build it at all
            log.warning("skipping %s: %s", family, problem)
            rows.append({"family": family, "variant": "-", "dtype": "-", "mode": mode,
                         "status": "skipped", "error": problem, "seconds": 0})
            save()
            continue
        try:
            models = variants(small_config(family), device, args.seed)
        except Exception as exc:  # noqa: BLE001 - recorded; the next family runs
            log.error("building %s failed:\n%s", family, traceback.format_exc())
            rows.append({"family": family, "variant": "-", "dtype": "-", "mode": mode,
                         "status": "error", "error": f"{type(exc).__name__}: {exc}",
                         "seconds": 0})
            save()
            continue
        for dtype in dtypes:
            for variant, model in models.items():
                rows.append(check(family, variant, model, mode, dtype, args, device))
                log.info("%s", rows[-1])
        del models
        save()
    save()  # also when no family was asked for
    print(markdown(rows))
    failed = [r for r in rows if r["status"] == "error" or (
        r["status"] in ("MISMATCH", "UNVARIED") and r["dtype"] == "float32")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
