"""One-time fusion of a mixture-of-experts checkpoint's per-expert weights (Mixtral, Qwen3-MoE,
OLMoE, Qwen2-MoE, DeepSeek-V3 / V2, GLM-4.5, ERNIE 4.5, MiniMax-M2, Hunyuan-A13B,
Qwen3-Next, Qwen3.5-MoE, dots.llm1, FlexOlmo, Solar Open, Cohere2-MoE, AFMoE, Laguna,
Mellum, HY-V3, DeepSeek-V3.2, GLM-4.7-Flash, EXAONE-MoE, GLM-MoE-DSA, A.X K1, A.X K2,
MiMo-V2-Flash, Flint, Kolibri-1, MiniCPM5-MoE, Sarvam-MoE, Param2-MoE,
Sarvam-MLA, Beam), and
dequantization of gpt-oss's MXFP4 experts and of DeepSeek-V3's, MiniMax-M2's, A.X K2's and
MiMo-V2-Flash's FP8 weights.

transformers 5 holds a sparse block's experts as two 3D parameters, `mlp.experts.gate_up_proj`
[experts, 2 * width, hidden] (each expert's rows [gate; up]) and `mlp.experts.down_proj`
[experts, hidden, width], and converts the per-expert tensors of published checkpoints as
`from_pretrained` reads them. prunebench reads safetensors itself (`modeling.load_model`), so a
checkpoint with per-expert tensors is fused once, when it is downloaded or imported, as pickle
weights are converted once (checkpoint.pickle_convert):

- Mixtral: `model.layers.N.block_sparse_moe.experts.E.w1 / w3 / w2.weight` (gate, up, down)
  and the router `block_sparse_moe.gate.weight`, under `mlp.` in transformers 5; PhiMoE the
  same (its router written `mlp.gate.weight` here, which the loader reads as PhimoeForCausalLM's
  `mlp.router.weight`, as transformers' conversion of `phimoe` renames it);
- Qwen3-MoE, OLMoE and Qwen2-MoE (dots.llm1 and FlexOlmo alike: transformers maps both onto
  qwen2_moe's conversion): `model.layers.N.mlp.experts.E.gate_proj / up_proj /
  down_proj.weight` (the router `mlp.gate.weight`, a dense block's `mlp.gate_proj` ... and
  Qwen2-MoE's shared expert `mlp.shared_expert.gate_proj / up_proj / down_proj.weight` and its
  gate `mlp.shared_expert_gate.weight` keep their names: transformers' conversion mapping of
  `qwen2_moe`, which Qwen3-MoE and OLMoE take too, fuses the numbered experts only);
- Solar Open and Cohere2-MoE: Qwen2-MoE's per-expert names (transformers maps `solar_open` and
  `cohere2_moe` onto `qwen2_moe`'s conversion in 5.17 and 5.25; the router `mlp.gate.weight`,
  Solar Open's `mlp.gate.e_score_correction_bias`, the shared experts `mlp.shared_experts.*`
  and Cohere2-MoE's dense blocks' `mlp.gate_proj` ... keep their names). (GraniteMoE-SWA has
  no conversion in either version: transformers loads its experts only under their fused
  names, `block_sparse_moe.experts.gate_up_proj` / `down_proj`, as prunebench does.)
- AFMoE, Laguna and Mellum: Qwen2-MoE's per-expert names (transformers maps `afmoe` and
  `mellum` onto `qwen2_moe`'s conversion, and `laguna` onto it with two renames, in 5.17 and
  5.25). AFMoE's router `mlp.router.gate.weight`, its `mlp.expert_bias` and shared experts
  `mlp.shared_experts.*` keep their names; Laguna's routers' score biases, published as
  `mlp.experts.e_score_correction_bias`, and its shared expert, `mlp.shared_expert.*`, are
  renamed to LagunaForCausalLM's `mlp.gate.e_score_correction_bias` and `mlp.shared_experts.*`
  (`RENAMED`, Laguna's checkpoints alone); Mellum's multi-token-prediction layer stored apart
  from the model (`mtp.*`), which MellumForCausalLM ignores on loading, is dropped as
  Qwen3-Next's.
- Beam: Qwen2-MoE's per-expert names (transformers maps `beam` onto `qwen2_moe`'s conversion,
  5.20.1 to 5.25); its router `mlp.gate.weight` and score-correction buffer
  `mlp.gate.e_score_correction_bias`, the attention's `gate_proj` / `gate_bias` and the dense
  blocks' `mlp.gate_proj` ... keep their names.
- HY-V3 (Tencent's Hy3): Qwen2-MoE's per-expert names, its router `mlp.router.gate.weight`,
  score-correction buffer `mlp.expert_bias` and shared MLP `mlp.shared_mlp.*` renamed to
  HYV3ForCausalLM's `mlp.gate.weight`, `mlp.e_score_correction_bias` and
  `mlp.shared_experts.*` (`RENAMED`), and its multi-token-prediction layer
  (`model.layers.{num_hidden_layers}`) dropped.
- A.X K1 (`axk1`): Qwen2-MoE's per-expert names (transformers maps `axk1` onto `qwen2_moe`'s
  conversion with one rename, in 5.17 and 5.25), its MoE output norm stored at the block's
  level, `post_mlp_layernorm`, renamed into the MoE (`mlp.post_mlp_layernorm`: `RENAMED`) and
  dropped from the dense blocks, whose MLP has none (AXK1PreTrainedModel ignores it); a
  router's score-correction buffer the checkpoint leaves out written as zeros, as
  transformers' load leaves it (`SPARSE_ONLY`).
- A.X K2 (`axk2`): DeepSeek-V3's per-expert names (transformers' axk2 conversion fuses them,
  5.17 to 5.25), with that conversion's renames (`RENAMED`): each gated norm's gate MLP,
  stored as `W_down` / `W_up`, under AXK2GatedRMSNorm's `mlp.fc1` / `mlp.fc2`, and the fused
  query-and-gate projection `self_attn.q_b_proj` as `self_attn.q_gate_proj`; its
  multi-token-prediction layers (`model.layers.{num_hidden_layers}` on, which
  AXK2ForCausalLM does not build) dropped. skt/A.X-K2 holds its linear weights in
  block-quantized FP8 as DeepSeek-V3's (below; the gate MLPs `W_down` / `W_up` left in
  bfloat16, the quantization_config's modules_to_not_convert), dequantized alike; the NVFP4
  copy (skt/A.X-K2-NVFP4, another quant_method) is refused.
- MiMo-V2-Flash: Qwen2-MoE's per-expert names (transformers maps `mimo_v2_flash` onto
  `qwen2_moe`'s conversion, in 5.17 and 5.25), its sliding blocks' sink logits
  `self_attn.attention_sink_bias` renamed to MiMoV2FlashForCausalLM's `self_attn.sinks`
  (`RENAMED`; the router `mlp.gate.weight` and its `mlp.gate.e_score_correction_bias` keep
  their names), and its multi-token-prediction layers (`model.mtp.*`), which its class
  ignores on loading, dropped. XiaomiMiMo/MiMo-V2-Flash holds q/k/v_proj, the dense MLP and
  the experts in block-quantized FP8 as DeepSeek-V3's (below; o_proj in bfloat16 without a
  scale), dequantized alike.
- LongCat-Flash: Qwen2-MoE's per-expert names under each block's shortcut MoE (transformers
  maps `longcat_flash` onto `qwen2_moe`'s conversion, 5.25; the router
  `mlp.router.classifier.weight` and its `mlp.router.e_score_correction_bias`, the dense
  `mlps.N.*` and the two attentions `self_attn.N.*` keep their names), and its
  multi-token-prediction layers (`model.mtp.*`), which LongcatFlashForCausalLM ignores on
  loading, dropped as MiMo-V2-Flash's.
- Flint, Kolibri-1 and MiniCPM5-MoE: Qwen2-MoE's per-expert names (transformers maps
  `flint`, `kolibri1` and `minicpm5_moe` onto `qwen2_moe`'s conversion from their first
  releases, 5.21, 5.20 and 5.25), with the renames those conversions add (`RENAMED`): Flint's
  sink logits `self_attn.softmax_offset` to `self_attn.sinks`; Kolibri-1's score biases
  `moe.router.expert_bias` to its router's `mlp.gate.e_score_correction_bias` and its output
  norms `post_attn_norm` / `post_ffn_norm` to GLM-4's `post_self_attn_layernorm` /
  `post_mlp_layernorm`; MiniCPM5-MoE's `self_attn.q_proj` (queries and gates) to
  `self_attn.q_gate_proj`. (transformers saves them under the published names.) Kolibri-1.1
  (`kolibri1_1`, 5.25 on) as Kolibri-1: transformers' conversion of it is kolibri1's.
- Sarvam-MoE (sarvam-30b) and Param2-MoE (Param2-17B-A2.4B): Qwen2-MoE's per-expert names
  (transformers maps `sarvam_moe` onto `qwen2_moe`'s conversion and `param2moe` onto that,
  5.24 / 5.25 on) under their own code's names, renamed as that conversion renames them
  (`RENAMED`: `model.word_embeddings` to `model.embed_tokens`, `attention.dense` to
  `self_attn.o_proj`, `attention.query_layernorm` / `key_layernorm` to `q_norm` / `k_norm`,
  the router's `mlp.gate.expert_bias` to `mlp.gate.e_score_correction_bias`, written as zeros
  where a router has none: `SPARSE_ONLY`), and each block's fused `attention.query_key_value`
  [q; k; v] split into q_proj / k_proj / v_proj by the heads' sizes (`QKV_SPLIT`).
- Sarvam-MLA (sarvam-105b): DeepSeek-V3's per-expert names (transformers maps `sarvam_mla`
  onto `qwen2_moe`'s conversion alone, 5.24 on), nothing renamed.
- The three: multi-token-prediction layers after the blocks (`model.layers.{num_hidden_layers}`
  on: their config classes read num_nextn_predict_layers, as Param2's own configuration
  does; the released checkpoints hold none, their classes say), which Glm4MoeForCausalLM and
  DeepseekV3ForCausalLM do not build, dropped.
- LFM2-MoE: Mixtral's w1 / w3 / w2 under the block's `feed_forward`
  (`model.layers.N.feed_forward.experts.E.w1.weight`), fused there as transformers'
  conversion of `lfm2_moe` fuses them (`feed_forward.experts.gate_up_proj` / `down_proj`;
  the router `feed_forward.gate.weight`, its `feed_forward.expert_bias` and the dense blocks'
  `feed_forward.w1` ... keep their names).

- gpt-oss: its experts are fused already (`mlp.experts.gate_up_proj` [experts, hidden,
  2 * width], gate and up columns interleaved, `mlp.experts.down_proj` [experts, width,
  hidden], each with a bias), but openai's published weights hold them in MXFP4
  (`mlp.experts.gate_up_proj_blocks` / `_scales` and `down_proj_blocks` / `_scales`, with a
  `quantization_config` of `quant_method: mxfp4` in config.json), which transformers runs
  with triton kernels on a GPU, or dequantizes. They are dequantized once to bfloat16 in
  transformers' unquantized layout (`dequantize_mxfp4`, as transformers' own
  `convert_moe_packed_tensors`), and the quantization_config leaves config.json (kept in
  `moe_fusion.json`, with the sha256 of the config.json it was in when an import hashes its
  sources): loading never needs triton or a GPU.

- DeepSeek-V3: per-expert tensors named as Qwen2-MoE's (transformers maps `deepseek_v3` onto
  `qwen2_moe`'s conversion in 5.17 and 5.25; `mlp.shared_experts.*` and the router's
  `mlp.gate.e_score_correction_bias` keep their names), deepseek-ai's linear weights in FP8
  (e4m3, a float32 `weight_scale_inv` per 128 x 128 tile, `quant_method: fp8`), dequantized
  once to bfloat16 (`dequantize_fp8`) with the quantization_config leaving config.json as
  gpt-oss's, and a multi-token-prediction block (`model.layers.{num_hidden_layers}`), which
  transformers does not build: dropped, `moe_fusion.json` saying so (`dropped_blocks`).
- GLM-4.7-Flash (`glm4_moe_lite`): GLM-4.5's per-expert names and multi-token-prediction layer
  (`model.layers.{num_hidden_layers}`: Glm4MoeLitePreTrainedModel ignores `model.layers.47`,
  the published model's), fused and dropped as GLM-4.5's (transformers maps `glm4_moe_lite`
  onto `qwen2_moe`'s conversion in 5.17 and 5.25). GLM-MoE-DSA (GLM-5, `glm_moe_dsa`) alike
  (its layer `model.layers.78`), an indexer's tensors in its "full" blocks under their names.
- EXAONE-MoE (K-EXAONE, `exaone_moe`): Qwen2-MoE's per-expert names (transformers maps
  `exaone_moe` onto `qwen2_moe`'s conversion in 5.17 and 5.25), its routers' score biases
  published as `mlp.e_score_correction_bias`, which that conversion renames to where
  ExaoneMoeForCausalLM holds them, `mlp.gate.e_score_correction_bias` (renamed so here:
  `fused_name`), and a multi-token-prediction layer stored apart (`mtp.*`, which its class
  ignores on loading, as Qwen3-Next's): dropped.
- DeepSeek-V2: V3's per-expert names (transformers maps `deepseek_v2` onto `qwen2_moe`'s
  conversion too), in bfloat16, without a multi-token-prediction block.
- GLM-4.5 / 4.5-Air / 4.6: V3's per-expert names (transformers maps `glm4_moe` onto
  `qwen2_moe`'s conversion in 5.17 and 5.25), in bfloat16, with V3's multi-token-prediction
  layer (`model.layers.{num_hidden_layers}`, `num_nextn_predict_layers` of them), which
  Glm4MoeForCausalLM does not build either: dropped as V3's is.
- ERNIE 4.5 (21B-A3B, 300B-A47B): Qwen2-MoE's per-expert names (transformers maps
  `ernie4_5_moe` onto `qwen2_moe`'s conversion in 5.17 and 5.25; the router `mlp.gate.weight`
  and the shared experts `mlp.shared_experts.*` keep their names), its routers' score biases
  published as `mlp.moe_statics.e_score_correction_bias`, which transformers' conversion
  renames to where Ernie4_5_MoeForCausalLM holds them, `mlp.gate.moe_statics.
  e_score_correction_bias` (renamed so here: `fused_name`), and a multi-token-prediction
  layer stored apart from the blocks (`model.mtp_block.0.*`, `model.mtp_emb_norm.0.*`,
  `model.mtp_hidden_norm.0.*`, `model.mtp_linear_proj.0.*`), which transformers does not load
  (its class ignores every tensor named with `mtp`): dropped.
- MiniMax-M2: Mixtral's per-expert names (`block_sparse_moe.experts.E.w1 / w3 / w2.weight`,
  the router `block_sparse_moe.gate.weight`; transformers maps `minimax_m2` onto `mixtral`'s
  conversion in 5.17 and 5.25) and the score-correction bias of each block,
  `block_sparse_moe.e_score_correction_bias`, which MiniMaxM2SparseMoeBlock holds as
  `mlp.e_score_correction_bias` (renamed with the rest of `block_sparse_moe`); MiniMaxAI's
  linear weights in DeepSeek-V3's FP8 (128 x 128 scale tiles; the routers, score biases,
  embeddings, norms and LM head unquantized), dequantized once to bfloat16 as V3's; and, where
  its files hold them, the `num_mtp_modules` multi-token-prediction modules after the blocks
  (`model.layers.{num_hidden_layers + i}`, as inference engines skip them), which
  MiniMaxM2ForCausalLM does not build: dropped as V3's block is.
- Hunyuan-A13B (-Instruct, -Pretrain): Qwen2-MoE's per-expert names (transformers maps
  `hunyuan_v1_moe` onto `qwen2_moe`'s conversion in 5.17 and 5.25; the router
  `mlp.gate.wg.weight` and the shared expert `mlp.shared_mlp.*` keep their names), under a
  config.json of Tencent's own code (model_type "hunyuan", no head_dim), which transformers'
  HunYuanMoEV1ForCausalLM cannot build from: written as its hunyuan_v1_moe config
  (`param_count.as_hunyuan_v1_moe`: the model type and head_dim; the original's sha256 kept
  when an import hashes its sources), as the quantization_config of a dequantized checkpoint
  leaves it.
- DBRX (dbrx-base, dbrx-instruct): its experts are fused already (transformers' layout:
  nothing to convert), but its config.json gives the rotary base in attn_config alone, which
  transformers 5 never reads, and moe_normalize_expert_weights as the integer 1, which
  DbrxFFNConfig refuses: written as DbrxConfig reads it (`param_count.as_dbrx_read`: a
  top-level rope_theta, 1.0) by `write_published_config`, the weights left as they are.
- Qwen3-Next (80B-A3B-Instruct, -Thinking): Qwen2-MoE's per-expert names (transformers maps
  `qwen3_next` onto `qwen2_moe`'s conversion in 5.17 and 5.25; the router, the shared expert
  and its gate, and the Gated DeltaNet's `linear_attn.*` keep their names), in bfloat16, and
  a multi-token-prediction layer stored apart from the model (`mtp.*`: `mtp.fc`, its norms,
  `mtp.layers.0.*`), which Qwen3NextForCausalLM does not build (its class ignores `^mtp.*`
  on loading): dropped.
- Qwen3.5-MoE's language model (`qwen3_5_moe_text`, as a multimodal Qwen3.5-MoE checkpoint's
  extraction leaves it: checkpoint.text_part, which drops its `mtp.*` layer): transformers
  maps it onto `qwen2_moe`'s conversion too (5.17 and 5.25), so a checkpoint of per-expert
  tensors is fused as Qwen3-Next's; one whose experts are fused already is left alone.
- Qwen4-Exp's language model (`qwen4_exp_text`; transformers maps it onto Qwen3.5-MoE's
  conversion, and saves its experts one at a time so): fused as Qwen3.5-MoE's, its n-gram
  tables' row shards left as they are (modeling.joined_ngram_tables reads them).

Each block's tensors are read (one block in memory at a time, whichever original file holds
them) and written to a shard of their own, `model-fused-00001-of-000NN.safetensors`; the rest
(embeddings, final norm, LM head) go to the last shard. Resumable: a shard is written whole (by
rename) and kept by a rerun made from the same original files (`.moe_fusion.progress.json`
records their sizes and times); the originals are deleted last, once the index names the fused
shards and `moe_fusion.json` records what was done (hashed with the checkpoint's other files by
its manifest). A fusion left unfinished where nothing is left to fuse (a download resumed
after its branch moved to a commit whose experts are fused already) is deleted. prunebench's own
saved checkpoints are fused already and left alone.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from prunebench import PrunebenchError

log = logging.getLogger(__name__)

RECORD = "moe_fusion.json"
PROGRESS = ".moe_fusion.progress.json"  # hidden: no manifest records it
FUSED_SHARD = "model-fused-{:05d}-of-{:05d}.safetensors"

# A per-expert tensor: (block prefix, expert, projection). Mixtral's (and PhiMoE's) names are
# w1 (gate), w3 (up) and w2 (down) under block_sparse_moe (transformers 4's module name) or
# mlp; Qwen3-MoE's, OLMoE's and Qwen2-MoE's are gate_proj, up_proj and down_proj under mlp
# (Qwen2-MoE's `mlp.shared_expert.*`, no numbered expert, is a plain tensor); LFM2-MoE's are
# Mixtral's names under its blocks' `feed_forward`, which transformers 5 keeps.
_EXPERT = re.compile(r"^(model\.layers\.\d+)\.(?:block_sparse_moe|mlp|(feed_forward))\.experts\."
                     r"(\d+)\.(w1|w2|w3|gate_proj|up_proj|down_proj)\.weight$")
_PART = {"w1": "gate", "gate_proj": "gate", "w3": "up", "up_proj": "up",
         "w2": "down", "down_proj": "down"}
_BLOCK = re.compile(r"^(model\.layers\.\d+)\.")
# gpt-oss's MXFP4 experts: (block prefix, projection, part).
_MXFP4 = re.compile(r"^(model\.layers\.\d+)\.mlp\.experts\.(gate_up_proj|down_proj)_"
                    r"(blocks|scales)$")
MOE_TYPES = ("mixtral", "qwen3_moe", "olmoe", "qwen2_moe", "gpt_oss", "deepseek_v3", "deepseek_v2",
             "phimoe", "glm4_moe", "ernie4_5_moe", "minimax_m2", "hunyuan_v1_moe", "qwen3_next",
             "qwen3_5_moe_text", "dots1", "flex_olmo", "lfm2_moe",
             "solar_open", "cohere2_moe", "afmoe", "laguna", "mellum", "hy_v3",
             "deepseek_v32", "glm4_moe_lite", "exaone_moe", "glm_moe_dsa", "axk1",
             "axk2",
             "mimo_v2_flash", "longcat_flash",
             "flint", "kolibri1", "minicpm5_moe", "minimax", "kolibri1_1",
             "sarvam_moe", "param2moe", "sarvam_mla", "lara_mini", "minimax_m3_vl_text",
             "beam", "qwen4_exp_text")
# The families whose published checkpoints hold multi-token-prediction layers after the
# decoder's blocks, which their transformers class does not build (by model_type: its class).
MTP_TYPES = {"deepseek_v3": "DeepseekV3ForCausalLM", "glm4_moe": "Glm4MoeForCausalLM",
             "ernie4_5_moe": "Ernie4_5_MoeForCausalLM", "minimax_m2": "MiniMaxM2ForCausalLM",
             "qwen3_next": "Qwen3NextForCausalLM", "mellum": "MellumForCausalLM",
             "hy_v3": "HYV3ForCausalLM", "deepseek_v32": "DeepseekV32ForCausalLM",
             "glm4_moe_lite": "Glm4MoeLiteForCausalLM", "exaone_moe": "ExaoneMoeForCausalLM",
             "glm_moe_dsa": "GlmMoeDsaForCausalLM",
             "axk2": "AXK2ForCausalLM",
             "mimo_v2_flash": "MiMoV2FlashForCausalLM",
             "longcat_flash": "LongcatFlashForCausalLM",
             # (their config classes read num_nextn_predict_layers, as Param2's own code's
             # does: such layers follow the blocks, model.layers.{num_hidden_layers}...)
             "sarvam_moe": "Glm4MoeForCausalLM", "param2moe": "Glm4MoeForCausalLM",
             "sarvam_mla": "DeepseekV3ForCausalLM"}
# The names a family's published per-expert checkpoints give tensors its class holds under
# others, as transformers' conversion of its model type renames them, by model_type:
# (published part, held part). Laguna's routers' score biases and shared experts; EXAONE-MoE's
# score biases, by its model_type alone: MiniMax-M2's block holds its own under that name;
# Tencent's Hy3 router, score-correction buffer and shared MLP (transformers' hy_v3
# conversion renames them alike, in 5.17 and 5.25; AFMoE's router and Hunyuan-A13B's
# shared_mlp are their classes' own names).
_SARVAM_NAMES = (("model.word_embeddings.", "model.embed_tokens."),
                 (".attention.", ".self_attn."),
                 (".self_attn.dense.", ".self_attn.o_proj."),
                 (".self_attn.query_layernorm.", ".self_attn.q_norm."),
                 (".self_attn.key_layernorm.", ".self_attn.k_norm."),
                 (".mlp.gate.expert_bias", ".mlp.gate.e_score_correction_bias"))
RENAMED = {"laguna": ((".mlp.experts.e_score_correction_bias",
                       ".mlp.gate.e_score_correction_bias"),
                      (".mlp.shared_expert.", ".mlp.shared_experts.")),
           "exaone_moe": ((".mlp.e_score_correction_bias", ".mlp.gate.e_score_correction_bias"),),
           "hy_v3": ((".mlp.router.gate.weight", ".mlp.gate.weight"),
                     (".mlp.expert_bias", ".mlp.e_score_correction_bias"),
                     (".mlp.shared_mlp.", ".mlp.shared_experts.")),
           # A.X K1's MoE output norm, stored at the block's level (transformers' axk1
           # conversion renames it into the MoE, in 5.17 and 5.25)
           "axk1": ((".post_mlp_layernorm.", ".mlp.post_mlp_layernorm."),),
           # A.X K2's norm gates and query-and-gate projection (transformers' axk2
           # conversion renames them so, 5.17 to 5.25)
           "axk2": ((".W_down.", ".mlp.fc1."), (".W_up.", ".mlp.fc2."),
                    (".self_attn.q_b_proj.", ".self_attn.q_gate_proj.")),
           # (MiMo-V2-Flash's sliding blocks' sink logits)
           "mimo_v2_flash": ((".self_attn.attention_sink_bias", ".self_attn.sinks"),),
           # Flint's sink logits, Kolibri-1's score biases and output norms, MiniCPM5-MoE's
           # query-and-gate projection (transformers' flint, kolibri1 and minicpm5_moe
           # conversions rename them so: 5.21, 5.20 and 5.25 on)
           "flint": ((".self_attn.softmax_offset", ".self_attn.sinks"),),
           "kolibri1": (("moe.router.expert_bias", "mlp.gate.e_score_correction_bias"),
                        (".post_attn_norm.", ".post_self_attn_layernorm."),
                        (".post_ffn_norm.", ".post_mlp_layernorm.")),
           # (Kolibri-1.1's the same: transformers' kolibri1_1 conversion is kolibri1's, 5.25)
           "kolibri1_1": (("moe.router.expert_bias", "mlp.gate.e_score_correction_bias"),
                          (".post_attn_norm.", ".post_self_attn_layernorm."),
                          (".post_ffn_norm.", ".post_mlp_layernorm.")),
           "minicpm5_moe": ((".self_attn.q_proj.", ".self_attn.q_gate_proj."),),
           # Sarvam-MoE's and Param2-MoE's own code's names (transformers' sarvam_moe
           # conversion, which param2moe's copies, renames them so: 5.24 / 5.25 on); their
           # fused query_key_value is split apart (QKV_SPLIT)
           "sarvam_moe": _SARVAM_NAMES, "param2moe": _SARVAM_NAMES,
           # Lara Mini's Gated DeltaNet's gated norm (transformers' lara_mini conversion
           # renames it so, 5.24 on); its fused in_proj is split apart (QKV_SPLIT)
           "lara_mini": ((".linear_attn.out_norm.", ".linear_attn.norm."),),
           # MiniMax-M3's indexers and score-correction buffers (transformers' minimax_m3_vl
           # conversion renames them so, 5.17 and 5.25)
           "minimax_m3_vl_text": tuple((f".self_attn.index_{part}.",
                                        f".self_attn.indexer.{part}.")
                                       for part in ("q_proj", "k_proj", "q_norm", "k_norm"))
           + ((".mlp.e_score_correction_bias", ".mlp.gate.e_score_correction_bias"),)}
# The families whose published checkpoints hold an MLP's gate and up projections apart where
# their class fuses them (rows [gate; up]), by model_type: (gate's name part, up's, the fused
# one's), as transformers' conversion concatenates them: MiniMax-M3's dense MLPs and shared
# experts (5.17 and 5.25).
GATE_UP = {"minimax_m3_vl_text": (".gate_proj.weight", ".up_proj.weight",
                                  ".gate_up_proj.weight")}
# What a family's published checkpoints hold in every block and its class holds in its sparse
# blocks alone, dropped from a block without experts (as transformers ignores it on load), and
# the router's score-correction buffer its published checkpoints leave out, which transformers
# leaves at zeros (`_keys_to_ignore_on_load_missing`), written so in a block with experts: A.X
# K1's, by model_type: (held name of the dropped part, the buffer's name under `mlp.`).
SPARSE_ONLY = {"axk1": (".mlp.post_mlp_layernorm.", "gate.e_score_correction_bias"),
               # a router of no score bias (moe_router_enable_expert_bias false), as zeros
               # (Glm4MoeForCausalLM's buffer; zeros choose as no bias does)
               "sarvam_moe": (None, "gate.e_score_correction_bias"),
               "param2moe": (None, "gate.e_score_correction_bias")}
# The families whose published checkpoints hold a block's projections fused in one, by
# model_type: (the fused one's name part, those of the parts its rows are split into, in row
# order, by their sizes: `qkv_rows`), as transformers' conversion of the model type splits
# them (Split(dim=0)), its bias alike where it has one. Sarvam-MoE's and Param2-MoE's
# queries, keys and values (`attention.query_key_value`, `self_attn.query_key_value` once
# renamed, rows [q; k; v]: heads x head_dim, then KV heads x head_dim twice; 5.24 / 5.25 on);
# Lara Mini's Gated DeltaNet's input projections (`linear_attn.in_proj`, rows [q, k, v | z |
# b | a], as Qwen3.5's in_proj_qkv / in_proj_z / in_proj_b / in_proj_a hold them; 5.24 on).
_QKV_PARTS = (".self_attn.q_proj.", ".self_attn.k_proj.", ".self_attn.v_proj.")
QKV_SPLIT = {"sarvam_moe": (".self_attn.query_key_value.", _QKV_PARTS),
             "param2moe": (".self_attn.query_key_value.", _QKV_PARTS),
             "lara_mini": (".linear_attn.in_proj.",
                           tuple(f".linear_attn.in_proj_{p}." for p in ("qkv", "z", "b", "a")))}
# ERNIE 4.5's layer, stored apart from the blocks: every tensor named with `mtp`, as
# Ernie4_5_MoePreTrainedModel's `_keys_to_ignore_on_load_unexpected` matches them; the layer's
# part, `model.mtp_block.0`, `model.mtp_emb_norm.0`, ...
_MTP_PART = re.compile(r"^(.*?mtp[^.]*\.\d+)\.")
# DeepSeek-V3 / R1's, DeepSeek-V3.2's, MiniMax-M2's, A.X K2's and MiMo-V2-Flash's FP8 weights
# (param_count.FP8_PUBLISHED):
# an e4m3 `X.weight` beside its float32 `X.weight_scale_inv`, one scale per block of the
# quantization_config's `weight_block_size` (128 x 128; V3.2's scale_fmt ue8m0 makes each scale a
# power of two, stored as float32 all the same).
_FP8_SCALE = ".weight_scale_inv"

# The 16 values of an e2m1 (FP4) code, by its 4 bits (sign, 2 exponent bits, 1 mantissa bit),
# as the OCP Microscaling format defines them (and transformers' FP4_VALUES lists them).
FP4_VALUES = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0,
              -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0)


def dequantize_mxfp4(blocks, scales, dtype=None):
    """One MXFP4 weight as transformers' unquantized layout holds it: `blocks` (uint8
    [experts, rows, groups, 16], two e2m1 codes a byte, the low 4 bits first) and `scales`
    (uint8 [experts, rows, groups], each a power of two 2^(scale - 127) shared by the 32 values
    of its group) -> [experts, groups * 32, rows] in `dtype` (bfloat16 by default): each value
    code x scale, exact in float32 (and in bfloat16, which has float32's exponents), one expert
    at a time (a float32 copy of 128 experts' weights would need tens of GB)."""
    import torch

    dtype = torch.bfloat16 if dtype is None else dtype
    if blocks.dtype != torch.uint8 or scales.dtype != torch.uint8 or \
            blocks.shape[:-1] != scales.shape or blocks.shape[-1] != 16 or blocks.dim() != 4:
        raise PrunebenchError(
            f"MXFP4 weights of shapes {tuple(blocks.shape)} ({blocks.dtype}) and "
            f"{tuple(scales.shape)} ({scales.dtype}): expected uint8 blocks [experts, rows, "
            "groups, 16] and uint8 scales [experts, rows, groups]; re-download the checkpoint")
    lut = torch.tensor(FP4_VALUES, dtype=torch.float32)
    experts, rows, groups, _ = blocks.shape
    out = torch.empty(experts, groups * 32, rows, dtype=dtype)
    for e in range(experts):
        codes = blocks[e].to(torch.int64)
        values = torch.stack([lut[codes & 0x0F], lut[codes >> 4]], dim=-1)  # [rows, groups, 16, 2]
        values = torch.ldexp(values.reshape(rows, groups, 32),
                             (scales[e].to(torch.int32) - 127).unsqueeze(-1))
        out[e] = values.reshape(rows, groups * 32).to(dtype).T
    return out

def fused_name(name: str, model_type: str | None = None) -> str:
    """A non-expert tensor's name in transformers 5's layout (Mixtral's block_sparse_moe is
    mlp there: its router `block_sparse_moe.gate.weight` becomes `mlp.gate.weight`; ERNIE
    4.5's score biases `mlp.moe_statics.*` are its router's, `mlp.gate.moe_statics.*`; the
    `RENAMED` parts of `model_type`'s checkpoints)."""
    name = name.replace(".block_sparse_moe.", ".mlp.").replace(".mlp.moe_statics.",
                                                               ".mlp.gate.moe_statics.")
    for published, held in RENAMED.get(model_type, ()):
        if held not in name:  # (A.X K1's held name holds its published one)
            name = name.replace(published, held)
    return name


def per_expert_names(names) -> list[str]:
    """The names among `names` of per-expert tensors (a checkpoint to fuse has some)."""
    return [n for n in names if _EXPERT.match(n) or ".block_sparse_moe." in n]


def mxfp4_names(names) -> list[str]:
    """The names among `names` of gpt-oss's MXFP4 expert tensors (`*_blocks`, `*_scales`)."""
    return [n for n in names if _MXFP4.match(n)]


def dequantize_fp8(weight, scale_inv, block: tuple[int, int], dtype=None,
                   name: str = "an FP8 weight"):
    """One block-quantized FP8 weight (DeepSeek-V3's `quant_method: fp8`) in `dtype` (bfloat16
    by default): each value of `weight` (float8_e4m3fn [rows, cols]) times the float32 scale
    of its `block[0]` x `block[1]` tile of `scale_inv` [ceil(rows / block[0]),
    ceil(cols / block[1])] (the last tiles cut at the matrix's edge), computed in float32.
    Any other grid (one padded past the edge tiles, or short of them) is refused, as
    transformers' FP8Linear holds that grid alone: which tile a value is of is not known."""
    import torch

    rows, cols = weight.shape
    grid = (-(-rows // block[0]), -(-cols // block[1]))
    if weight.dtype != torch.float8_e4m3fn or tuple(scale_inv.shape) != grid:
        raise PrunebenchError(
            f"{name} is {weight.dtype} [{rows}, {cols}] with a weight_scale_inv of "
            f"{tuple(scale_inv.shape)}: prunebench dequantizes float8_e4m3fn weights with one "
            f"scale per {block[0]} x {block[1]} tile (the quantization_config's "
            f"weight_block_size), a grid of {grid}; re-download the checkpoint (nothing was "
            "changed)")
    scale = scale_inv.to(torch.float32).repeat_interleave(block[0], dim=0)[:rows]
    scale = scale.repeat_interleave(block[1], dim=1)[:, :cols]
    return (weight.to(torch.float32) * scale).to(dtype or torch.bfloat16)


def _fp8_block(raw: Any, folder: Path) -> tuple[int, int] | None:
    """The FP8 tile shape of a DeepSeek-V3(.2) or MiniMax-M2 config.json quantized as its
    official weights are (`quantization_config`: `quant_method: fp8`, `weight_block_size`),
    None for one that is not FP8; another quantization of it is refused."""
    from prunebench.checkpoint.param_count import FAMILIES, FP8_PUBLISHED

    quantization = raw.get("quantization_config") if isinstance(raw, dict) else None
    if raw.get("model_type") not in FP8_PUBLISHED or quantization is None:
        return None
    block = quantization.get("weight_block_size") if isinstance(quantization, dict) else None
    if (not isinstance(quantization, dict) or quantization.get("quant_method") != "fp8"
            or not (isinstance(block, list) and len(block) == 2
                    and all(isinstance(b, int) and b > 0 for b in block))):
        raise PrunebenchError(
            f"{folder / 'config.json'}: a {FAMILIES[raw['model_type']].model_class} "
            f"quantization_config prunebench does not dequantize ({quantization!r}); it reads "
            "the official FP8 weights (quant_method fp8 with a weight_block_size of two "
            "numbers) or unquantized ones: use one of those")
    return block[0], block[1]


def _mtp_blocks(raw: Any, names) -> list[str]:
    """DeepSeek-V3's, GLM-4.5's, GLM-4.7-Flash's or MiniMax-M2's multi-token-prediction
    block(s) (`model.layers.{num_hidden_layers}...` in its checkpoint), or ERNIE 4.5's
    (`model.mtp_*`) or Qwen3-Next's and EXAONE-MoE's (`mtp.*`), which their classes
    (MTP_TYPES) do not build: their tensors' names."""
    if not isinstance(raw, dict) or raw.get("model_type") not in MTP_TYPES:
        return []
    if raw.get("model_type") == "ernie4_5_moe":
        return [name for name in names if "mtp" in name]
    if raw.get("model_type") in ("qwen3_next", "mellum", "exaone_moe"):  # as their classes skip
        return [name for name in names if name.startswith("mtp.")]
    if raw.get("model_type") in ("mimo_v2_flash", "longcat_flash"):  # (their classes skip
        # model.mtp.*)
        return [name for name in names if name.startswith("model.mtp.")]
    n = raw.get("num_hidden_layers")
    if not isinstance(n, int):
        return []
    return [name for name in names
            if (m := _BLOCK.match(name)) and int(m.group(1).rsplit(".", 1)[1]) >= n]


def _mtp_part(name: str) -> str:
    """The multi-token-prediction layer (or ERNIE 4.5's part of one) a dropped tensor is of:
    `model.layers.61`, `model.mtp_block.0`, Qwen3-Next's `mtp`."""
    if name.startswith("mtp."):
        return "mtp"
    if name.startswith("model.mtp."):
        return "model.mtp"  # (MiMo-V2-Flash's, LongCat-Flash's)
    match = _BLOCK.match(name) or _MTP_PART.match(name)
    return match.group(1) if match else name


def _tensor_names(files: list[Path]) -> dict[str, Path]:
    from safetensors import safe_open

    where: dict[str, Path] = {}
    for file in files:
        with safe_open(file, framework="pt") as handle:
            for name in handle.keys():
                where[name] = file
    return where


def _originals(folder: Path) -> list[Path]:
    from prunebench.checkpoint.integrity import weight_files

    try:
        files = [f for f in weight_files(folder) if not _is_fused_shard(f.name)]
    except PrunebenchError:  # an index a run rewrote names fused shards only
        files = []
    return files or sorted(f for f in folder.glob("*.safetensors")
                           if not _is_fused_shard(f.name))


def needs_fusion(folder: str | Path) -> bool:
    """Whether `folder` is a checkpoint of a MOE_TYPES family with per-expert tensors, MXFP4
    experts (gpt-oss), FP8 weights (param_count.FP8_PUBLISHED) or multi-token-prediction layers
    to drop (MTP_TYPES), or Hunyuan-A13B as Tencent publishes it (its config.json to write,
    too) (or a conversion of one under way)."""
    from prunebench.atomic import read_json_or_none
    from prunebench.checkpoint.param_count import published_hunyuan_moe

    folder = Path(folder)
    raw = read_json_or_none(folder / "config.json")
    hunyuan = published_hunyuan_moe(raw)  # a config to write for transformers' class, too
    if not (isinstance(raw, dict) and (raw.get("model_type") in MOE_TYPES or hunyuan)) \
            or finished(folder):
        return False
    originals = _originals(folder)
    if not originals:
        return False
    names = _tensor_names(originals)
    fused_qkv = QKV_SPLIT.get(raw["model_type"], (None,))[0]
    return bool(hunyuan or per_expert_names(names) or mxfp4_names(names)
                or _mtp_blocks(raw, names) or any(n.endswith(_FP8_SCALE) for n in names)
                or (fused_qkv and any(fused_qkv in fused_name(n, raw["model_type"])
                                      for n in names)))


def fuse_experts(folder: str | Path, hash_sources: bool = False) -> bool:
    """Fuse the per-expert tensors of the checkpoint in `folder` in place (module docstring);
    True if it did. `hash_sources`: record the sha256 of the files it replaces (an import's).
    A finished fusion's originals left by a run that ended before deleting them are deleted."""
    from prunebench.atomic import read_json_or_none, write_json
    from prunebench.checkpoint.integrity import SAFETENSORS_INDEX, sha256_files
    from prunebench.checkpoint.param_count import as_hunyuan_v1_moe, published_hunyuan_moe

    folder = Path(folder)
    if not needs_fusion(folder):
        _finish_config(folder)  # a conversion that ended before rewriting it
        _delete_originals(folder)
        _discard_unfinished(folder)
        return False
    originals = _originals(folder)
    where = _tensor_names(originals)
    raw = read_json_or_none(folder / "config.json")
    fp8 = _fp8_block(raw, folder)
    # DeepSeek-V3's and GLM-4.5's multi-token-prediction block, which transformers does not
    # load either.
    mtp = _mtp_blocks(raw, where)
    where = {k: v for k, v in where.items() if k not in set(mtp)}
    if fp8 is None and any(n.endswith(_FP8_SCALE) for n in where):
        raise PrunebenchError(
            f"{folder}: its weights hold FP8 scales ({next(n for n in where if n.endswith(_FP8_SCALE))}"
            ", ...) but its config.json has no FP8 quantization_config: re-download the "
            "checkpoint (nothing was changed)")
    blocks = _grouped(where, folder)
    state = {f.name: [f.stat().st_size, f.stat().st_mtime_ns] for f in originals}
    if read_json_or_none(folder / PROGRESS) != state:  # shards of other files: made again
        for stale in folder.glob("model-fused-*.safetensors"):
            stale.unlink()
        write_json(folder / PROGRESS, state)
    quantization = raw.get("quantization_config") if isinstance(raw, dict) else None
    dequantized = bool(mxfp4_names(where)) or fp8 is not None
    if mxfp4_names(where) and not (isinstance(quantization, dict)
                            and quantization.get("quant_method") == "mxfp4"):
        raise PrunebenchError(
            f"{folder}: its weights hold MXFP4 experts ({mxfp4_names(where)[0]}, ...) but its "
            f"config.json's quantization_config is {quantization!r}, not MXFP4's: re-download "
            "the checkpoint (nothing was changed)")
    # Tencent's Hunyuan-A13B config.json, written for transformers' class (_finish_config)
    hunyuan = published_hunyuan_moe(raw)
    # The config.json whose quantization_config goes (or that is written anew) is replaced as
    # the weights are.
    replaced = originals + ([folder / "config.json"] if dequantized or hunyuan else [])
    sources = sha256_files(replaced) if hash_sources else None
    weight_map, total, experts = {}, 0, {}
    for i, (block, names) in enumerate(blocks.items(), start=1):
        shard = FUSED_SHARD.format(i, len(blocks))
        written, size, count = _write_shard(block, names, where, folder / shard, fp8,
                                            raw.get("model_type") if isinstance(raw, dict)
                                            else None, qkv_rows(raw))
        weight_map.update(dict.fromkeys(written, shard))
        total += size
        if count:
            experts[block] = count
    layout = ("mlp.experts.gate_up_proj [experts, 2 * width, hidden] (rows [gate; up]), "
              "mlp.experts.down_proj [experts, hidden, width]")
    if fp8 is not None:
        layout += f"; FP8 weights dequantized to bfloat16 ({fp8[0]} x {fp8[1]} scale tiles)"
    elif dequantized:
        layout = ("mlp.experts.gate_up_proj [experts, hidden, 2 * width] (columns gate, up "
                  "interleaved), mlp.experts.down_proj [experts, width, hidden] (GptOssExperts), "
                  "bfloat16")
    write_json(folder / RECORD, {
        "fused_from": sorted(f.name for f in originals),
        "fused_weight_files": sorted(set(weight_map.values())),
        "experts_per_block": experts,
        "layout": layout,
        **({"dequantized_from": "fp8" if fp8 else "mxfp4",
            "quantization_config": quantization} if dequantized else {}),
        **({"dropped_blocks": sorted({_mtp_part(n) for n in mtp}),
            "dropped_note": f"the multi-token-prediction block of the published checkpoint, "
                            f"which {MTP_TYPES.get(raw.get('model_type'))} does not build "
                            "(transformers drops it on loading too)"} if mtp else {}),
        **({"config_written": {k: as_hunyuan_v1_moe(raw).get(k)
                               for k in ("model_type", "head_dim")},
            "config_note": "Tencent's published config.json (model_type 'hunyuan', its own "
                           "code's) written as transformers' HunYuanMoEV1ForCausalLM reads it"}
           if hunyuan else {}),
        **({"source_sha256": sources} if sources is not None else {})})
    write_json(folder / SAFETENSORS_INDEX, {"metadata": {"total_size": total},
                                            "weight_map": dict(sorted(weight_map.items()))})
    _finish_config(folder)
    _delete_originals(folder)
    if dequantized:
        log.info("%s: dequantized the %s of %d blocks to bfloat16 (transformers' "
                 "unquantized layout)", folder, "FP8 weights" if fp8 else "MXFP4 experts",
                 len(experts))
    else:
        log.info("%s: fused the per-expert weights of %d blocks into transformers 5's layout",
                 folder, len(experts))
    return True


def _finish_config(folder: Path) -> None:
    """Write config.json for the converted weights once a finished conversion's record says
    so (its last change before the originals go; redone if a run ended before it): the
    quantization_config out where the weights were dequantized, Tencent's Hunyuan-A13B config
    as transformers' hunyuan_v1_moe one where the record says it was written."""
    import json

    from prunebench.atomic import atomic_path, read_json_or_none
    from prunebench.checkpoint.param_count import as_hunyuan_v1_moe, published_hunyuan_moe

    if not finished(folder):
        return
    record = read_json_or_none(folder / RECORD) or {}
    raw = read_json_or_none(folder / "config.json")
    if not isinstance(raw, dict):
        return
    written = dict(raw)
    if record.get("dequantized_from") in ("mxfp4", "fp8"):
        written.pop("quantization_config", None)
    if "config_written" in record and published_hunyuan_moe(written):
        written = as_hunyuan_v1_moe(written)
    if written == raw:
        return
    with atomic_path(folder / "config.json") as tmp:
        tmp.write_text(json.dumps(written, indent=2) + "\n", encoding="utf-8")


def write_published_config(folder: str | Path) -> str | None:
    """Write the config.json of a checkpoint in `folder` as transformers reads it where the
    published one is not (`param_count.as_written`: DBRX's, module docstring; NX-AI's xLSTM
    one, its xlstm package's kernel names written as transformers' native ones); the sha256 of
    the config.json it replaced (which an import records as the folder's), None where nothing
    was written. Run again on a rewritten file, it writes nothing."""
    import json

    from prunebench.atomic import atomic_path, read_json_or_none
    from prunebench.checkpoint.integrity import sha256_file
    from prunebench.checkpoint.param_count import as_written

    path = Path(folder) / "config.json"
    raw = read_json_or_none(path)
    written = as_written(raw)
    if written == raw:
        return None
    replaced = sha256_file(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(written, indent=2) + "\n", encoding="utf-8")
    log.info("%s: the published config.json written as transformers reads it (%s)", folder,
             WRITTEN_CONFIG[written["model_type"]])
    return replaced


# What `write_published_config` writes, by model type
WRITTEN_CONFIG = {"dbrx": "DBRX's rotary base at the top level, the router's norm a float",
                  "xlstm": "xLSTM's kernel names those of transformers' own code: the same "
                           "model"}


def qkv_rows(raw: Any) -> tuple[int, ...] | None:
    """The rows of each part of a `QKV_SPLIT` family's fused projection (q, k and v; Lara
    Mini's qkv, z, b and a), by its config.json as transformers' config class reads it
    (param_count.config_from_dict); None for others."""
    from prunebench.checkpoint.param_count import config_from_dict, head_dim, kv_heads

    if not (isinstance(raw, dict) and raw.get("model_type") in QKV_SPLIT):
        return None
    config = config_from_dict(raw)
    if raw["model_type"] == "lara_mini":
        keys = config.linear_num_key_heads * config.linear_key_head_dim
        values = config.linear_num_value_heads * config.linear_value_head_dim
        heads = config.linear_num_value_heads
        return 2 * keys + values, values, heads, heads
    kv_rows = kv_heads(config) * head_dim(config)
    return config.num_attention_heads * head_dim(config), kv_rows, kv_rows


def _grouped(where: dict[str, Path], folder: Path) -> dict[str, list[str]]:
    """The tensor names by block (`model.layers.N`), in block order, the others last ('')."""
    groups: dict[str, list[str]] = {}
    for name in where:
        match = _BLOCK.match(name)
        groups.setdefault(match.group(1) if match else "", []).append(name)
    order = sorted((k for k in groups if k), key=lambda k: int(k.rsplit(".", 1)[1]))
    if not order:
        raise PrunebenchError(f"{folder}: no decoder block's tensor in its weights: re-download "
                              "the checkpoint, or save it again with save_pretrained")
    return {k: groups[k] for k in order + ([""] if "" in groups else [])}


def _write_shard(block: str, names: list[str], where: dict[str, Path],
                 target: Path, fp8: tuple[int, int] | None = None,
                 model_type: str | None = None,
                 qkv: tuple[int, ...] | None = None) -> tuple[list[str], int, int]:
    """Write one block's tensors, its experts fused, to `target` (kept if an earlier run wrote
    it whole); returns the names written, their bytes and the block's experts. `fp8`: the
    tile shape of DeepSeek-V3's (MiniMax-M2's) FP8 weights, each dequantized with its
    `weight_scale_inv`; `model_type`: the checkpoint's, whose `RENAMED` parts are renamed;
    `qkv`: the rows of the parts its fused projection is split into (`QKV_SPLIT`)."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    from prunebench.atomic import atomic_path

    experts: dict[int, dict[str, Any]] = {}
    quantized: dict[str, dict[str, str]] = {}
    plain = []
    owner = "mlp"  # where transformers 5 holds the fused experts (LFM2-MoE's feed_forward)
    for name in names:
        match = _EXPERT.match(name)
        packed = _MXFP4.match(name)
        if match:
            experts.setdefault(int(match.group(3)), {})[_PART[match.group(4)]] = name
            owner = match.group(2) or owner
        elif packed:
            quantized.setdefault(packed.group(2), {})[packed.group(3)] = name
        elif fp8 is not None and name.endswith(_FP8_SCALE):
            continue  # read with its weight (get)
        else:
            plain.append(name)
    if quantized and (set(quantized) != {"gate_up_proj", "down_proj"} or any(
            set(parts) != {"blocks", "scales"} for parts in quantized.values())):
        raise PrunebenchError(
            f"{block}: the checkpoint's MXFP4 experts are incomplete (found "
            f"{ {k: sorted(v) for k, v in sorted(quantized.items())} }; each of gate_up_proj "
            "and down_proj needs its blocks and scales): re-download the checkpoint (nothing "
            "was changed)")
    if experts:
        ids = sorted(experts)
        gaps = [e for e in range(len(ids)) if e not in experts]
        parts_missing = [f"{e}: {sorted({'gate', 'up', 'down'} - set(experts[e]))}"
                         for e in ids if set(experts[e]) != {"gate", "up", "down"}]
        if gaps or parts_missing:
            raise PrunebenchError(
                f"{block}: the checkpoint's experts are incomplete (missing experts {gaps}, "
                f"projections {parts_missing}): re-download the checkpoint (nothing was "
                "changed)")
    dropped, buffer = SPARSE_ONLY.get(model_type, (None, None))
    if dropped and not (experts or quantized):  # (A.X K1's dense blocks' unread norm)
        plain = [n for n in plain if dropped not in fused_name(n, model_type)]
    fused_qkv, split_parts = QKV_SPLIT.get(model_type) if qkv else (None, ())

    def held(name: str) -> list[str]:  # (a fused projection's: q_proj, k_proj, v_proj ...)
        name = fused_name(name, model_type)
        if fused_qkv and fused_qkv in name:
            return [name.replace(fused_qkv, part) for part in split_parts]
        return [name]

    # (MiniMax-M3's gate and up projections apart: GATE_UP, each pair one tensor)
    gate, up, fused_gate_up = GATE_UP.get(model_type, (None, None, None))
    pairs = {fused_name(n.replace(gate, fused_gate_up), model_type): (n, n.replace(gate, up))
             for n in plain if gate and n.endswith(gate) and n.replace(gate, up) in plain}
    plain = [n for n in plain if n not in {part for pair in pairs.values() for part in pair}]
    out_names = [n for name in plain for n in held(name)] + list(pairs)
    zeros = (f"{block}.{owner}.{buffer}" if buffer and experts
             and f"{block}.{owner}.{buffer}" not in out_names else None)
    if zeros:
        out_names.append(zeros)
    if experts or quantized:
        out_names += [f"{block}.{owner}.experts.gate_up_proj",
                      f"{block}.{owner}.experts.down_proj"]
    handles: dict[Path, Any] = {}

    def get(name: str) -> torch.Tensor:
        file = where[name]
        if file not in handles:
            handles[file] = safe_open(file, framework="pt")
        tensor = handles[file].get_tensor(name)
        scale = name[:-len(".weight")] + _FP8_SCALE if name.endswith(".weight") else None
        if fp8 is not None and scale in where:
            if where[scale] not in handles:
                handles[where[scale]] = safe_open(where[scale], framework="pt")
            tensor = dequantize_fp8(tensor, handles[where[scale]].get_tensor(scale), fp8,
                                    name=name)
        elif fp8 is not None and tensor.dtype == torch.float8_e4m3fn:
            # (a module left unquantized, MiMo-V2-Flash's o_proj, has no scale and no FP8)
            raise PrunebenchError(
                f"{name} is float8_e4m3fn without a weight_scale_inv beside it: its values "
                "cannot be read without it; re-download the checkpoint (nothing was changed)")
        return tensor

    if target.is_file():  # written whole (by rename) from these originals by an earlier run
        from prunebench.checkpoint.text_part import _nbytes

        with safe_open(target, framework="pt") as handle:  # sizes from the header: no reads
            size = sum(_nbytes(handle.get_slice(n)) for n in handle.keys())
            written = list(handle.keys())
            count = (handle.get_slice(f"{block}.{owner}.experts.down_proj").get_shape()[0]
                     if quantized and sorted(written) == sorted(out_names) else len(experts))
        if sorted(written) == sorted(out_names):
            return written, size, count
        target.unlink()
    tensors = {}
    for name in plain:
        parts = held(name)
        tensor = get(name)
        if len(parts) > 1 and tensor.shape[0] != sum(qkv):
            raise PrunebenchError(
                f"{name} has {tensor.shape[0]} rows where the config.json's heads give "
                f"{' + '.join(map(str, qkv))} ("
                + ", ".join(part.strip(".").rsplit(".", 1)[1] for part in split_parts)
                + "): the weights do not match the "
                "config.json: re-download the checkpoint (nothing was changed)")
        tensors.update(zip(parts, torch.split(tensor, qkv, dim=0) if len(parts) > 1
                           else (tensor,)))
    for name, (gate_name, up_name) in pairs.items():
        tensors[name] = torch.cat([get(gate_name), get(up_name)], dim=0)
    if zeros:
        tensors[zeros] = torch.zeros(len(experts), dtype=torch.float32)
    for proj, parts in quantized.items():
        tensors[f"{block}.{owner}.experts.{proj}"] = dequantize_mxfp4(get(parts["blocks"]),
                                                                 get(parts["scales"]))
    if experts:
        # transformers 5's layout: each expert's rows [gate; up] (as MixtralExperts,
        # Qwen3MoeExperts, OlmoeExperts and Qwen2MoeExperts chunk them), experts stacked on a
        # new first dimension.
        order = range(len(experts))
        tensors[f"{block}.{owner}.experts.gate_up_proj"] = torch.stack(
            [torch.cat([get(experts[e]["gate"]), get(experts[e]["up"])], dim=0) for e in order])
        tensors[f"{block}.{owner}.experts.down_proj"] = torch.stack(
            [get(experts[e]["down"]) for e in order])
    with atomic_path(target) as tmp:
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp),
                  metadata={"format": "pt"})
    count = (tensors[f"{block}.{owner}.experts.down_proj"].shape[0] if quantized
             else len(experts))
    return list(tensors), sum(t.nbytes for t in tensors.values()), count


def finished(folder: str | Path) -> bool:
    """Whether `folder` holds a finished fusion: its index naming exactly the fused shards its
    record lists, all there."""
    from prunebench.atomic import read_json_or_none
    from prunebench.checkpoint.integrity import _indexed_shards

    folder = Path(folder)
    record = read_json_or_none(folder / RECORD)
    if not isinstance(record, dict):
        return False
    try:
        indexed = _indexed_shards(folder)
    except PrunebenchError:
        return False
    files = record.get("fused_weight_files") or ()
    return (indexed is not None and set(indexed) == set(files)
            and all((folder / name).is_file() for name in files))


def _delete_originals(folder: Path) -> None:
    """Delete the per-expert originals once the fusion is finished (its last step, redone if a
    run ended before it); nothing the index names is deleted."""
    from prunebench.atomic import read_json_or_none
    from prunebench.checkpoint.integrity import _indexed_shards

    if not finished(folder):
        return
    named = set(_indexed_shards(folder) or ())
    for name in read_json_or_none(folder / RECORD).get("fused_from") or ():
        if isinstance(name, str) and Path(name).name == name and name not in named:
            (folder / name).unlink(missing_ok=True)
    (folder / PROGRESS).unlink(missing_ok=True)


def _discard_unfinished(folder: Path) -> None:
    """Delete what an unfinished fusion wrote (its fused shards, its progress, its record if
    written) where nothing is left to fuse: an unpinned download killed while fusing, resumed
    after its branch moved to a commit whose weights are fused already. The download keeps
    fused shards as its own files (text_part.own_file), so the stale ones would otherwise go
    into the checkpoint: GBs never loaded, and a record of a fusion its weights never had."""
    if finished(folder) or not (folder / PROGRESS).is_file():
        return
    for stale in folder.glob("model-fused-*.safetensors"):
        stale.unlink()
    (folder / RECORD).unlink(missing_ok=True)
    (folder / PROGRESS).unlink()
    log.warning("%s: deleted the shards of an unfinished fusion of per-expert weights that are "
                "no longer there", folder)


def own_file(name: str) -> bool:
    """Whether `name` is a file a fusion writes (a fused shard, its record): not one of the
    download's, which a rerun of the download must not take for another commit's."""
    return _is_fused_shard(name) or name == RECORD


def _is_fused_shard(name: str) -> bool:
    return name.startswith("model-fused-") and name.endswith(".safetensors")
