"""Exact parameter counts from a model's config alone (closed form), and its per-block shapes.

No torch here: job sizing and `prunebench plan` count parameters while Snakemake parses the
workflow. `config` is a transformers config of a supported family (LlamaConfig, MistralConfig,
Qwen2Config, Qwen3Config, GemmaConfig, Gemma2Config, Phi3Config, Olmo2Config, Olmo3Config,
GraniteConfig, Gemma3TextConfig, SmolLM3Config, Ministral3Config, Exaone4Config, GlmConfig,
Glm4Config, SeedOssConfig, Ernie4_5Config, MixtralConfig, Qwen3MoeConfig, OlmoeConfig,
Qwen2MoeConfig, GptOssConfig, DeepseekV3Config, DeepseekV2Config, GraniteMoeConfig,
Glm4MoeConfig, Ernie4_5_MoeConfig, CohereConfig, Cohere2Config, HunYuanDenseV1Config,
StableLmConfig, MiniMaxM2Config, HunYuanMoEV1Config, ArceeConfig, NemotronConfig,
Llama4TextConfig, Qwen3NextConfig, Starcoder2Config, PhiConfig, Mistral4Config,
Qwen3_5TextConfig, Qwen3_5MoeTextConfig, ApertusConfig, MinistralConfig, HeliumConfig,
VaultGemmaConfig, GraniteMoeSharedConfig, OPTConfig, Dots1Config, FlexOlmoConfig,
DbrxConfig, SolarOpenConfig, Cohere2MoeConfig, GraniteMoeSWAConfig, CwmConfig,
GraniteSWAConfig, AfmoeConfig, LagunaConfig, MellumConfig, ExaoneMoeConfig, Glm4MoeLiteConfig,
YoutuConfig, AriaTextConfig, BeamConfig) or
anything with the same attributes (`config_from_dict`, which `prunebench plan` sizes with);
prunebench.modeling checks these counts against meta-device models.

The families differ, for counting and surgery, only in which projections carry biases,
whether attention normalises queries and keys (per head, or over the whole projection), how
many norms a block has, whether q/k/v and gate/up are packed into one module each and whether
the MLP has a gate at all (`FAMILIES`). Tied input and output
embeddings (`tie_word_embeddings`, e.g. the small Qwen2.5 models) are one tensor, counted once.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, NamedTuple

from prunebench import FamilyUnsupported, PrunebenchError

if TYPE_CHECKING:
    from transformers import LlamaConfig


@dataclass(frozen=True)
class SparseBlocks:
    """Which blocks of a mixture of experts are sparse (hold routed experts), as the family's
    decoder layer reads its config, and how wide the others' dense MLP is. Made by one of the
    constructors below, each naming its config keys:

    - `every()`: every block (Mixtral, OLMoE, gpt-oss, ...);
    - `unless_listed()`: every block but those in `mlp_only_layers` and those that
      `decoder_sparse_step` skips, and none where the config has no experts (Qwen3-MoE,
      Qwen2-MoE, Qwen3-Next, Flint); `unless_listed(width_key, None)`: no step, the dense
      blocks this key wide (Kolibri-1.1's mlp_only_intermediate_size);
    - `after_first(key)`: all but the first `key` blocks (DeepSeek's and Mistral 4's
      `first_k_dense_replace`);
    - `in_range()`: every `moe_layer_interval`-th block from `moe_layer_start_index` to
      `moe_layer_end_index` (ERNIE 4.5);
    - `listed(key)`: the blocks `key` lists by index (Llama 4's `moe_layers`; where a config
      leaves it out, every `interleave_moe_layer_step`-th block, as Llama4TextConfig derives it);
    - `named(key, dense_width_key)`: the blocks whose entry in the per-block list `key` is
      "sparse" (Cohere2-MoE's `mlp_layer_types` of "dense" / "sparse", which Cohere2MoeConfig
      derives from a config.json's first_k_dense_replace where it gives none: config_from_dict;
      EXAONE-MoE's and GLM-4.7-Flash's alike);
      its dense blocks' width key may be null, read then as `intermediate_size`
      (Cohere2MoeMLP's `prefix_dense_intermediate_size`);
    - `named_or_first(key, first_key)`: `named(key)` where the config holds the list, else
      all but the first `first_key` blocks (A.X K1: AXK1Config holds mlp_layer_types in
      transformers 5.25, first_k_dense_replace in 5.17); a depth prune writes both;
    - `periodic()`: the blocks whose index is `expert_layer_offset` modulo
      `expert_layer_period`, where the config has more than one expert (Jamba's
      layers_num_experts); a depth prune writes the two integers that say the kept kinds, or
      is refused where none do (`period_of`).

    `dense_width_key`: the config key of the dense blocks' MLP width (Llama 4's
    `intermediate_size_mlp`, where `intermediate_size` is its experts'; Granite 4.0's
    `shared_intermediate_size`, the width of its `shared_mlp`, which is every block's MLP where
    its config has no experts: `Family.experts_optional`), None where the family's class reads
    no key for it (BLOOM's, MPT's: `Family.mlp_width_default`). Depth pruning rewrites
    the keys so that each kept block reloads as the kind it was (`kept`).
    """

    rule: str = "every"
    key: str | None = None
    dense_width_key: str | None = "intermediate_size"
    first_key: str | None = None  # `named_or_first`'s count of dense blocks first

    @classmethod
    def every(cls, dense_width_key: str | None = "intermediate_size") -> SparseBlocks:
        return cls("every", None, dense_width_key)

    @classmethod
    def unless_listed(cls, dense_width_key: str = "intermediate_size",
                      step_key: str | None = "decoder_sparse_step") -> SparseBlocks:
        # (`key`: the config's step, none in Kolibri-1.1's, whose dense blocks are
        # mlp_only_intermediate_size wide)
        return cls("unless_listed", step_key, dense_width_key)

    @classmethod
    def after_first(cls, key: str) -> SparseBlocks:
        return cls("after_first", key)

    @classmethod
    def in_range(cls) -> SparseBlocks:
        return cls("in_range")

    @classmethod
    def listed(cls, key: str, dense_width_key: str = "intermediate_size") -> SparseBlocks:
        return cls("listed", key, dense_width_key)

    @classmethod
    def named(cls, key: str, dense_width_key: str) -> SparseBlocks:
        return cls("named", key, dense_width_key)

    @classmethod
    def named_or_first(cls, key: str, first_key: str) -> SparseBlocks:
        return cls("named_or_first", key, "intermediate_size", first_key)

    @classmethod
    def periodic(cls) -> SparseBlocks:
        return cls("periodic")

    def of(self, config) -> list[bool]:
        """Per block, whether the config makes it sparse (`sparse_mlp_blocks`, which answers
        for a family without experts)."""
        n = block_count(config)
        if self.rule == "periodic":
            # JambaConfig's layers_num_experts: num_experts there, 1 (a JambaMLP) elsewhere
            return [num_experts(config) > 1 and i % config.expert_layer_period
                    == config.expert_layer_offset for i in range(n)]
        if self.rule == "named_or_first":
            listed = getattr(config, self.key, None)
            return ([kind == "sparse" for kind in listed] if listed
                    else [i >= (getattr(config, self.first_key, None) or 0) for i in range(n)])
        if self.rule == "after_first":
            # DeepseekV3DecoderLayer compares its index with the key
            dense = getattr(config, self.key, None) or 0
            return [i >= dense for i in range(n)]
        if self.rule == "listed":
            # Llama4TextDecoderLayer: `layer_idx in config.moe_layers`
            listed = getattr(config, self.key, None)
            if listed is None:
                step = getattr(config, "interleave_moe_layer_step", None) or 1
                listed = range(step - 1, n, step)
            return [i in set(listed) for i in range(n)]
        if self.rule == "named":
            # Cohere2MoeDecoderLayer: `config.mlp_layer_types[layer_idx] == "dense"` or sparse
            return [kind == "sparse" for kind in getattr(config, self.key)]
        if self.rule == "in_range":
            # Ernie4_5_MoeDecoderLayer, whatever its number of experts (the end's -1, as
            # Ernie4_5_MoeConfig reads it: the last block)
            start, end, step = moe_layer_range(config)
            return [(i + 1) % step == 0 and start <= i <= end for i in range(n)]
        if self.rule == "unless_listed":
            # Qwen3MoeDecoderLayer, Qwen2MoeDecoderLayer
            dense = set(getattr(config, "mlp_only_layers", None) or [])
            step = (getattr(config, self.key, None) if self.key else None) or 1
            return [i not in dense and num_experts(config) > 0 and (i + 1) % step == 0
                    for i in range(n)]
        return [True] * n

    def kept(self, kinds: list[bool]) -> dict[str, Any]:
        """The config values under which the blocks a depth prune keeps, renumbered from 0,
        have the kinds they had (`kinds`, theirs before the removal: True sparse), for
        `modeling.remove_blocks` to set; PrunebenchError where the keys cannot say them (ERNIE
        4.5's range: `moe_layer_range_of`)."""
        if self.rule == "after_first":
            # the kept dense blocks stay the first: their count keeps every kept block's kind
            return {self.key: sum(not sparse for sparse in kinds)}
        if self.rule == "in_range":
            return dict(zip(("moe_layer_start_index", "moe_layer_end_index",
                             "moe_layer_interval"), moe_layer_range_of(kinds)))
        if self.rule == "periodic":
            return dict(zip(("expert_layer_period", "expert_layer_offset"),
                            period_of(kinds, "expert_layer_period / expert_layer_offset",
                                      "sparse MLP")))
        if self.rule == "named":
            # the list itself loses the removed blocks' entries (PER_BLOCK_CONFIG_LISTS)
            return {}
        if self.rule == "named_or_first":
            # the list (where held) renumbered as `named`'s, and the count of the kept dense
            # blocks, still the first (the kinds are a dense prefix: axk1_unbuilt), for the
            # transformers version that reads it
            return {self.first_key: sum(not sparse for sparse in kinds)}
        if self.rule == "listed":
            # any removal can be said so (interleave_moe_layer_step is read only without a list)
            return {self.key: [new for new, sparse in enumerate(kinds) if sparse]}
        if self.rule == "unless_listed":
            # Renumbered, the kept dense blocks would reload as sparse ones by
            # decoder_sparse_step and the other way round: name them by their new indices
            # (none where every kept block is sparse), every other block sparse.
            return {"mlp_only_layers": [new for new, sparse in enumerate(kinds) if not sparse],
                    **({self.key: 1} if self.key else {})}
        return {}


@dataclass(frozen=True)
class SharedExpert:
    """The shared expert a mixture of experts' sparse block holds beside its routed ones, which
    every token goes through (`shared_expert_params`). Made by one of the constructors below:

    - `none()`: no shared expert (Mixtral, Qwen3-MoE, OLMoE, gpt-oss, ...);
    - `gated(key)`: a SwiGLU MLP of this config key's width (`mlp.shared_expert.gate_proj /
      up_proj / down_proj`, no biases), its output scaled by sigmoid(`mlp.shared_expert_gate`(x)),
      a linear of one output (hidden weights, no bias): Qwen2-MoE's, Qwen3-Next's and
      Qwen3.5-MoE's `shared_expert_intermediate_size`;
    - `count(key)`: this config key's number of shared experts of the routed ones' width, held
      as one ungated SwiGLU MLP that many times as wide (`mlp.shared_experts`), biased as the
      family's MLP biases are, unscaled: DeepSeek's, Mistral 4's, GLM-4.5's and Solar Open's
      `n_shared_experts`, ERNIE 4.5's `moe_num_shared_experts`, Cohere2-MoE's
      `num_shared_experts` (its output summed with the routed experts' or averaged); `width_key`:
      each shared expert as wide as this key says (Dots 3 Note's
      `shared_experts_intermediate_size`); `absent_at_zero`: a count of 0 builds no MLP (ERNIE 4.5's
      Ernie4_5_MoeSparseMoeBlock; DeepSeek's classes build one of width 0 whatever, its
      down_proj bias counted where it has biases);
    - `one()`: one ungated SwiGLU MLP as wide as a routed expert, no biases, unscaled (Hunyuan's
      `mlp.shared_mlp`, Llama 4's `feed_forward.shared_expert`); `one(key)`: as wide as this
      config key says (Granite 4.0's `shared_mlp` of `shared_intermediate_size`, its gate and
      up packed in `input_linear`; Flint's `shared_expert` and Kolibri-1's `shared_experts` of
      `shared_expert_intermediate_size`). In a family of ungated experts (`ungated_mlp`:
      Ergo's `mlp.shared_experts` of `shared_intermediate_size`) an ungated MLP, up and down.
    """

    kind: str = "none"
    key: str | None = None
    absent_at_zero: bool = False
    width_key: str | None = None  # (`count`'s: a shared expert's own width, not the routed's)

    @classmethod
    def none(cls) -> SharedExpert:
        return cls()

    @classmethod
    def gated(cls, key: str) -> SharedExpert:
        return cls("gated", key)

    @classmethod
    def count(cls, key: str, absent_at_zero: bool = False,
              width_key: str | None = None) -> SharedExpert:
        return cls("count", key, absent_at_zero, width_key)

    @classmethod
    def one(cls, key: str | None = None) -> SharedExpert:
        return cls("one", key)


@dataclass(frozen=True)
class Family:
    """What a model family's decoder block holds beyond the LLaMA layout.

    `model_class` is the transformers class prunebench builds (never remote code); `qk_norm`:
    an RMSNorm of size head_dim on every query and every key head (Qwen3), one weight shared by
    all heads of the block.

    Biases: each is answered one way, by a value the family fixes where its class fixes it
    (True / False always; None: not fixed) and else by its config key. q/k/v's: `qkv_bias`
    (Qwen2's and Phi's True, Mistral's False), else the key `attention_bias_key`
    (`attention_bias`; Qwen2-MoE's `qkv_bias`; ERNIE 4.5's `use_bias`, its `mlp_bias_key`
    too; Starcoder2's `use_bias`, likewise); o_proj's: `o_bias`, else `o_bias_key` where it
    has a key of its own (Seed-OSS's `attention_out_bias`), else `attention_bias_key`; the
    MLP's: `mlp_bias` (Phi's True), else `mlp_bias_key` (none without a key); the LM head's:
    `lm_head_bias` (Phi's True), else `lm_head_bias_key` (none without a key).

    Gemma's layout: `norm_plus_one`, RMSNorms that weigh by 1 + weight, in float32 before the
    cast back; `scaled_embedding`, embeddings multiplied by sqrt(hidden_size) (in the weights'
    dtype); and Gemma-2's `sandwich_norms`, an RMSNorm on the attention's and on the MLP's
    output too (`post_attention_layernorm`, `post_feedforward_layernorm`;
    `pre_feedforward_layernorm` is then the norm before the MLP): four norms a block. Gemma-2's
    attention scores and final logits are soft-capped (`attn_logit_softcapping`,
    `final_logit_softcapping`, read from the config).

    `packed`: the modules that pack several of the LLaMA layout's projections by rows. Phi-3
    packs q, k and v into one Linear, `qkv_proj`, its rows [q; k; v], and gate and up into
    one, `gate_up_proj`, its rows [gate; up]; GLM packs gate and up only: the same weights as
    the LLaMA layout's separate projections, stacked (prunebench.projections reads them by
    part).

    `pairwise_rotary` (GLM): the rotated part of each query and key head rotates its
    dimensions in adjacent pairs (0 with 1, 2 with 3, ...), each pair with the frequency of its
    index, where LLaMA pairs dimension i with i + rotary / 2; no parameter, so counts and
    surgery are the layout's. GLM-4 also norms the two sublayers' outputs (`sandwich_norms`,
    as Gemma-2, under other names: `post_self_attn_layernorm` after the attention,
    `post_attention_layernorm` before the MLP, `post_mlp_layernorm` after it).

    OLMo-2's layout: `post_norms`, a block's two norms are on the attention's and the MLP's
    outputs (`post_attention_layernorm`, `post_feedforward_layernorm`) and none before them;
    `qk_norm_whole`, an RMSNorm over each block's whole query projection and another over its
    whole key projection (sizes heads x head_dim: they shrink with the heads and, as the RMS is
    taken over every head left, removing heads rescales the others); and `norm_weight_float32`,
    every RMSNorm weighs its float32 statistics before the cast back (LLaMA's weighs after).

    `multipliers` (Granite): the config's `embedding_multiplier` scales the embeddings,
    `residual_multiplier` each sublayer's output before the residual sum, `logits_scaling`
    divides the logits (its `attention_multiplier` is the attention's scale, which the
    attention module holds); no parameter of them, so counts and surgery are LLaMA's.

    `position_query_scale` (Ministral 3, Mistral 4): queries are multiplied, after the rotation, by
    `1 + beta * log(1 + floor(position / original context))` (Llama-4's attention temperature,
    `llama_4_scaling_beta` and `original_max_position_embeddings` of `rope_parameters`): 1
    within the original context, larger past it; no parameter, so counts and surgery are
    Mistral's.

    `global_nope` (EXAONE-4, Cohere2): where the config has a sliding window, its
    full-attention (global) blocks attend without rotary positions, its sliding ones with them;
    without one, every block rotates (EXAONE-4; Cohere2 always has one: a config.json without
    is refused). No parameter, so counts and surgery are its layout's.

    `shipped_code`: the `module.Class` names of code the family's published checkpoints name
    in their config.json's `auto_map` that transformers' own classes replace (never imported).

    `moe_intermediate_key` (Mixtral, Qwen3-MoE, OLMoE, Qwen2-MoE, gpt-oss): the block's MLP is
    a sparse mixture of experts, each expert's width given by this config key: a router
    (`mlp.gate.weight`, experts x hidden) and every expert's gate, up and down projections
    fused into two 3D parameters (`mlp.experts.gate_up_proj` [experts, 2 * width, hidden], rows
    [gate; up] per expert, and `mlp.experts.down_proj` [experts, hidden, width]), as
    transformers 5 holds them. Only depth pruning applies to such a model (`refuse_moe`).
    `sparse_blocks` (a `SparseBlocks`): which blocks hold the experts, the others a dense MLP
    (of `intermediate_size` unless it says another key), as the family's config says it
    (Qwen3-MoE's and Qwen2-MoE's `mlp_only_layers` and `decoder_sparse_step`, DeepSeek's
    `first_k_dense_replace`, ERNIE 4.5's range, Llama 4's `moe_layers`; every block by
    default); `shared_expert` (a `SharedExpert`): whether and how wide each sparse block's
    shared expert is (Qwen2-MoE's gated one of `shared_expert_intermediate_size`, DeepSeek's
    `n_shared_experts`, Hunyuan's and Llama 4's one as wide as an expert; none by default).

    gpt-oss's own (`moe_biases`, `attention_sinks`): its router is `mlp.router` (weight
    experts x hidden and a bias of experts), and its experts carry biases
    (`mlp.experts.gate_up_proj_bias` [experts, 2 * width], `mlp.experts.down_proj_bias`
    [experts, hidden]) beside weights held transposed, `gate_up_proj` [experts, hidden,
    2 * width] with the gate and up columns interleaved (gate at even, up at odd indices) and
    `down_proj` [experts, width, hidden] (GptOssExperts); each attention holds a learned logit
    per query head, `self_attn.sinks`, a column the softmax normalises over and drops, which
    PyTorch's SDPA kernels do not compute (the model runs matmul + softmax attention).
    GraniteSWA's and GraniteMoE-SWA's attentions hold such sinks too (`attention_sinks`, one a
    query head, which leave with their heads where width surgery runs: GraniteSWA's), beside
    Granite's `multipliers`.

    DeepSeek-V3's own (DeepSeek-V2's and Mistral 4's too): `latent_attention`, multi-head
    latent attention counted whole by `mla_params` (never width-pruned), its cache one latent
    and one rotated key a block and position; its first `first_k_dense_replace` blocks dense
    (`SparseBlocks.after_first`) and `n_shared_experts` shared experts of moe_intermediate_size
    (`SharedExpert.count`). The router's `e_score_correction_bias` is a buffer, not a
    parameter. DeepSeek-V3.2's `attention_indexer`: each latent attention holds a lightning
    indexer (`self_attn.indexer`, `indexer_params`) that keeps, for each query, the index_topk
    keys it scores highest and masks the others; it is the block's own, removed with it
    (GLM-MoE-DSA's in the blocks `indexer_types` names "full" alone: `indexer_blocks`).
    A.X K1's `moe_output_norm`: its sparse blocks' MoE output goes through an RMSNorm of
    hidden_size (`mlp.post_mlp_layernorm`) before the residual; its dense blocks have none.

    PhiMoE's own: `norm_bias`, its norms are LayerNorms (the mean taken out, a weight and a
    bias of hidden_size each, the final norm's too), and `lm_head_bias_key` (`lm_head_bias`),
    the config key that gives the LM head a bias of the vocabulary's size.

    OLMo's own (the first OLMo): `norm_weightless`, its norms are LayerNorms without a weight
    or a bias (the mean taken out and the variance divided out, in float32, epsilon 1e-5):
    no parameter of them.

    `qk_norm_key` (GLM-4.5): Qwen3's per-head q/k norms where this config key is true
    (`use_qk_norm`: GLM-4.5 and GLM-4.6 set it, GLM-4.5-Air not); `qk_norm` is for the families
    that always have them.

    ERNIE 4.5's mixture of experts: a block is sparse where `(i + 1) % moe_layer_interval == 0`
    and `moe_layer_start_index <= i <= moe_layer_end_index` (-1: the last block), dense
    (intermediate_size) elsewhere (`SparseBlocks.in_range`); and `router_score_bias`, its
    router holds a score-correction bias of one value per expert
    (`mlp.gate.moe_statics.e_score_correction_bias` [1, experts], float32) as a parameter,
    counted with the router (DeepSeek-V3's is a buffer, not counted).
    Cohere's own (Command R, Command R+, Aya): `parallel_block`, the attention and the MLP both
    read the block's one norm (`input_layernorm`) and their sum is added to the residual once:
    one norm a block, none before the MLP of its own; `norm_centred`, its norms are LayerNorms
    with a weight and no bias (CohereLayerNorm: the mean taken out and the variance divided out
    in float32, the weight applied in float32 before the cast back), the final norm too;
    `qk_norm_each_head`, its q/k norms (where `qk_norm_key` says: Command R+) are such
    LayerNorms over each head's head_dim with a weight of their own for every head ([heads,
    head_dim] and [KV heads, head_dim]), which leave with their heads (Qwen3's one weight is
    shared by the heads); `paired_tables`, its rotary module's cos / sin tables already repeat
    each frequency for the two dimensions of its pair (with `pairwise_rotary`; GLM's list the
    frequencies twice over, LLaMA's way, and its rotation pairs them); `rotate_float32`,
    queries and keys rotate in float32 (the tables in the model's dtype) before the cast back;
    `logit_scale_key` (`logit_scale`), the config key whose value multiplies the logits
    (Granite's `logits_scaling` divides them). No parameter of these but the norms' weights.

    `qk_norm_after_rotary` (Hunyuan dense): Qwen3's per-head q/k norms (`qk_norm`, one head_dim
    weight each, shared by the block's heads, counted as Qwen3's), applied to the queries and
    keys after the rotation, not before it (named `query_layernorm` / `key_layernorm`).

    StableLM's own: `parallel_block_key` (`use_parallel_residual`), Cohere's parallel block
    where this config key is true (StableLM-2-12B; the block then holds no
    post_attention_layernorm), LLaMA's sequential block elsewhere; its norms are LayerNorms
    with a weight and a bias (`norm_bias`, PhiMoE's), applied in the model's dtype as torch's
    LayerNorm does; its per-head q/k norms (`qk_norm_key` `qk_layernorm`, `qk_norm_each_head`)
    are one bias-free LayerNorm module per head (`q_layernorm.norms.<head>`), which leave
    with their heads.

    `rotary_dim_key` (MiniMax-M2's `rotary_dim`): the config key that gives how many of a
    head's dimensions rotate, where the others give `partial_rotary_factor`; read as that
    factor (`with_partial_rotary`), which is what transformers' rotary modules read. No
    parameter.

    Hunyuan's mixture of experts (Hunyuan-A13B): every sparse block holds one shared expert as
    wide as a routed one (`SharedExpert.one`: `mlp.shared_mlp.gate_proj / up_proj /
    down_proj`, no biases) that every token goes through, unscaled and ungated;
    `float32_params`, name patterns (matched as transformers matches `_keep_in_fp32_modules`) of
    tensors the family's class makes float32 whatever dtype it is built or loaded in, which
    `from_pretrained` leaves float32 (HunYuanMoEV1Gate's router `wg`, an nn.Linear made with
    dtype=float32).

    `ungated_mlp` (Arcee, Nemotron, Starcoder2, Phi, Apertus): the MLP has no gate,
    `down_proj(act(up_proj(x)))` (ArceeMLP, NemotronMLP; `hidden_act` relu2, ReLU then squared,
    in the published models),
    its biases by `mlp_bias_key`: an MLP channel is one up_proj row (and its bias entry) and
    one down_proj column, 2 x hidden weights where a gated channel holds 3 x hidden
    (`mlp_input_projections`). What a config alone decides (counts, sizing, LoRA settings)
    reads this flag; what reads a block's modules asks prunebench.projections for its MLP's
    input parts (`mlp_inputs`), and `modeling.check_mlp_gates` refuses a built model whose
    modules disagree with the flag. Nemotron's norms are LayerNorms
    with a bias that weigh by 1 + weight (NemotronLayerNorm1P: `norm_bias` with
    `norm_plus_one`), in the model's dtype as torch's LayerNorm computes. Starcoder2's and
    Phi's ungated MLPs name their modules otherwise (c_fc / c_proj, fc1 / fc2; Phi's attention
    output is `dense`): prunebench.projections maps them (`OWN_NAMES`). Apertus's ungated MLP
    applies xIELU (`hidden_act` "xielu"), an activation holding two learned scalars in each
    block (`activation_params`), and its block names LLaMA's two norms otherwise
    (`projections.block_norm`).

    Llama 4's mixture of experts: `moe_layers` lists the sparse blocks by index (where a config
    leaves it out, every `interleave_moe_layer_step`-th block, as Llama4TextConfig derives it),
    the others dense, of `intermediate_size_mlp` (`intermediate_size` is the experts' width
    there): `SparseBlocks.listed`; and Hunyuan's shared expert (`SharedExpert.one`: its
    `feed_forward.shared_expert`). Its blocks hold the MLP as `feed_forward`
    (`modeling.sparse_block`); its experts' fused weights are stored transposed
    (`experts.gate_up_proj` [experts, hidden, 2 * width], `experts.down_proj` [experts, width,
    hidden]): the same parameters, counted alike.

    Qwen3-Next's own: `linear_attention`, the blocks that `layer_types` names
    "linear_attention" hold a Gated DeltaNet (`linear_attn`) instead of softmax attention:
    no query or KV heads, no KV cache, its parameters counted by `linear_attention_params`
    and a fixed-size state per sequence (`linear_attention_state`); `gated_query`, the other
    blocks' q_proj is twice as wide, each head's query followed by its output gate (the
    attention's output times sigmoid(gate) before o_proj). Qwen3.5's language models
    (`qwen3_5_text` dense, `qwen3_5_moe_text`) are Qwen3-Next's blocks with the Gated
    DeltaNet's input projections split (the same parameters, counted alike), a dense MLP in
    every block (the dense one: a hybrid without experts, depth-only as Granite 4.0's H models)
    or experts and a gated shared expert in every block (the MoE one).

    Granite 4.0's own (`granitemoehybrid`): `experts_optional`, a config of no experts
    (`num_local_experts` 0: granite-4.0-micro, -h-micro) builds no sparse MLP, every block's
    MLP is then its dense `shared_mlp` (of `sparse_blocks.dense_width_key`) and the model is no
    mixture of experts (`is_moe`); with experts, every block holds them beside that MLP as its
    shared expert. `mamba_mixer`: its `linear_attention` blocks hold a Mamba-2 mixer (`mamba`,
    counted by `mamba_params`, its state `mamba_state`) where Qwen3-Next's hold a Gated
    DeltaNet.

    Gemma 4's own (`gemma4_text`): `per_layer_blocks`, its blocks differ as transformers'
    `per_layer_config` says (each block's head_dim and KV heads: the global blocks' wider
    heads, fewer KV heads), its global blocks take their values from the keys where
    `attention_k_eq_v` is set (no v_proj), its last `num_kv_shared_layers` blocks reuse the
    keys and values of an earlier block of their kind (no k_proj / v_proj / k_norm of their
    own, and twice as wide an MLP where `use_double_wide_mlp` is set), and each block may read
    a per-layer input (`hidden_size_per_layer_input`: a gate and a projection, and the
    model's packed per-layer embedding and projection). Counted by
    `per_layer_block_params`; a depth prune keeps the block whose keys a kept block reuses
    (`modeling.remove_blocks`); width surgery and the compiled decoder refuse it
    (`refuse_moe`). `moe_switch_key` (its `enable_moe_block`): the blocks hold experts only
    where this config key is true, beside the dense MLP (`is_moe`). Gemma 4 12B's (unified)
    language model (`gemma4_unified_text`) is Gemma 4's without per-layer inputs or experts.
    Gemma 3n's language model
    (`gemma3n_text`) is `per_layer_blocks` too, without per_layer_config: each block's MLP
    width from the intermediate_size list, an AltUp and a LAuReL in every block
    (`gemma3n_own_params`), the AltUp streams' projections outside (`altup_projection_params`).

    Nemotron-H's own (`nemotron_h`): `one_mixer_blocks`, each block holds one mixer behind its
    own norm (NemotronHBlock: `norm`, then `mixer`, then the residual sum), of the kind
    `layer_types` names (NemotronHConfig's `layers_block_type`, published as
    `hybrid_override_pattern`, one character a block): a Mamba-2 mixer ("linear_attention",
    M; `mamba_mixer`, counted by `mamba_params` under Nemotron-H's keys), attention without
    rotary positions or biases ("full_attention", *: JambaAttention), an ungated MLP ("mlp",
    -: up_proj, relu2, down_proj, biases by mlp_bias) or a mixture of experts ("moe", E:
    Nemotron 3's, refused: `nemotron_h_unbuilt`). Counted by `one_mixer_block_params`, shaped
    by `one_mixer_block_shapes`; depth only (`refuse_moe`).
    Mamba's own (`mamba`, `falcon_mamba`): `mamba1_blocks`, every block is an RMSNorm and a
    Mamba-1 mixer (`mixer`: in_proj, a depthwise conv1d, x_proj, dt_proj, A_log, D, out_proj;
    `mamba1_params`) around the residual, no attention, no MLP: a state of one size a block
    (`mamba1_state`) and no KV cache; its modules under `backbone` (embeddings, layers,
    norm_f: `projections.MODULE_ALIASES`); depth only (`refuse_moe`).
    Mamba-2's own (`mamba2`): `mamba2_blocks`, Mamba's layout (a norm and a `mixer` a block
    under `backbone`) with a Mamba-2 mixer (Mamba2Mixer: `mamba_params` under Mamba2Config's
    keys, `mamba_shape`), its state `mamba_state`; `mamba_stack` is either layout.
    xLSTM's own (`xlstm`): `mlstm_blocks`, every block under `backbone.blocks` an RMSNorm, an
    mLSTM layer (`mlstm_layer`: q, k, v, ogate_preact, the igate / fgate preactivations, a
    multi-head norm, out_proj), an RMSNorm and a gated FFN (`ffn`), around the residual
    (`mlstm_params`); a state of one size a block in the model's dtype (`mlstm_state`, in its
    own xLSTMCache) and no KV cache; an LM head of its own whatever tie_word_embeddings says;
    depth only (`refuse_moe`), its config.json's sizes and kernels checked (`xlstm_unbuilt`).
    RWKV's own (`rwkv`, RWKV-4): `rwkv_blocks`, every block two LayerNorms (ln1, ln2, biased)
    around a time-mixing `attention` (RwkvSelfAttention: the WKV recurrence over time_decay /
    time_first, key / value / receptance / output, three time_mix vectors) and a channel-mixing
    `feed_forward` (RwkvFeedForward: key to intermediate_size, squared ReLU, value back,
    receptance), `rwkv_block_params`; its embeddings' LayerNorm `pre_ln`, built on block 0
    only, counted beside the embeddings (a depth prune that removes block 0 moves it to the
    block left first: `modeling.remove_blocks`); its state five vectors a block
    (`rwkv_state`), no KV cache; its modules under `rwkv` (embeddings, blocks, ln_out:
    `projections.MODULE_ALIASES`); depth only (`refuse_moe`).
    RecurrentGemma's own (`recurrent_gemma`, Griffin): `griffin_blocks`, each block a
    `temporal_block` of the kind block_types names, cycled over the blocks (`griffin_kinds`:
    an RG-LRU recurrent block, `linear_attention`, or local sliding-window attention), behind
    `temporal_pre_norm`, then `channel_pre_norm` and `mlp_block` (a biased GeGLU MLP of half
    intermediate_size); `layer_shapes` gives a recurrent block no heads, `block_param_count`
    counts either kind (`griffin_block_params`), `linear_attention_state` the recurrent
    block's state; a depth prune writes the kept blocks' kinds back as block_types
    (`kept_block_lists`); depth only (`refuse_moe`).
    GPT-NeoX's own (`gpt_neox`: Pythia, GPT-NeoX-20B): its one packed q/k/v
    module (`query_key_value`, `packed` "qkv_proj") holds its rows head by head, [q_0; k_0;
    v_0; q_1; ...] (GPTNeoXAttention views it as [heads, 3 x head_dim] before the chunk), where
    Phi-3's holds [all q; all k; all v]: a head's q, k and v rows leave together
    (prunebench.projections maps the rows). `parallel_norms`: its parallel block (by
    `parallel_block_key`, `use_parallel_residual`) keeps a norm before each sublayer, x +
    attn(input_layernorm(x)) + mlp(post_attention_layernorm(x)), where Cohere's and StableLM's
    feed both sublayers from one norm: two norms a block either way. Its modules are named
    otherwise than LLaMA's above the block's parts too (`projections.alias_llama_names`).
    OPT's own (`opt`): `position_table_offset`, learned absolute positions
    (OPTLearnedPositionalEmbedding: a table of max_position_embeddings + offset rows, counted
    with the embeddings, added to them; no rotary); `kv_per_query_head`, every query head has keys and
    values of its own whatever config.json says (OPT's, GPT-NeoX's, whose configs hold no
    num_key_value_heads: `kv_heads`); `norm_affine_key`, the key that leaves the
    LayerNorms without weights and biases (`layer_norm_elementwise_affine`);
    `final_norm_removed_key`, the key that drops the final norm (`_remove_final_layer_norm`).
    Its blocks, embeddings and final norm live under `model.decoder` (`projections.decoder`).
    BLOOM's and MPT's own (`bloom`, `mpt`): `alibi`, ALiBi biases on the attention scores
    instead of rotary positions, each head's slope computed by transformers from the config's
    head count (BloomModel's build_alibi_tensor, MptModel's build_mpt_alibi_tensor): a model
    with heads removed would give its kept heads other slopes than the model that was scored,
    so they are depth only (`refuse_moe`), run by the hf and hf_static backends and by the
    compiled decoder, which adds the biases as the model's own builder computes them
    (`benchmark.compiled.alibi_slopes`). `mlp_width_default`: the multiple of hidden_size that the
    MLP is wide where the dense width key is None, or where the class reads none (BLOOM's and
    MPT's, `SparseBlocks.every(None)`: BloomMLP's and MptMLP's 4 x hidden_size, whatever a
    stray intermediate_size or MPT's expansion_ratio says). `embedding_norm`: a norm of the
    embeddings before the first block (BLOOM's word_embeddings_layernorm), counted with them.
    `layer_norm_no_bias`: its norms are torch LayerNorms whose bias the class removes (MPT's
    norm_1, norm_2 and norm_f: the mean taken out, a weight, no bias), which the compiled
    decoder applies so.
    Their modules are named otherwise than LLaMA's above the block's parts
    (`projections.alias_llama_names`).
    Falcon's (`falcon`) are GPT-NeoX's fields in part, as its class builds them by config
    keys (`falcon_kv_heads`, `parallel_norms`, `falcon_unsupported`): its one
    `query_key_value` module packs q, k and v in one of three layouts
    (`projections.qkv_layout`), its parallel block (by `parallel_block_key`, `parallel_attn`)
    keeps one norm or, in the new decoder architecture, two (`parallel_norms`, where
    num_ln_in_parallel_attn says so).
    GPT-J's own (`gptj`): `sincos_table`, no rotary module of LLaMA's kind but one fixed table,
    `embed_positions` ([n_positions, rotary_dim]: the sines of the rotary_dim / 2 frequencies
    of base 10000, then their cosines; GPTJRotaryEmbedding's in transformers 5.25, every
    GPTJAttention's own in 5.17), whose row for a position rotates the first rotary_dim
    dimensions of each query and key head in adjacent pairs (`pairwise_rotary`, each sine and
    cosine repeated for its pair: `paired_tables`); a position past the table has no row.
    Its MLP's width key `n_inner` is 4 x n_embd where None (`mlp_width_default`, as BLOOM's
    and MPT's). `parallel_outputs_first`:
    its parallel block sums attention + MLP before adding the input (GPTJBlock, and Phi's
    PhiDecoderLayer alike), where Cohere's adds the attention to the input first: the same in
    exact arithmetic, rounded otherwise (no parameter).
    GPT-2's (`gpt2`) are fields of others: Phi-3's packed q/k/v rows (`packed`, its c_attn),
    OPT's learned positions (`position_table_offset` 0: its wpe has n_positions rows) and
    every head its own keys and values (`kv_per_query_head`), GPT-J's MLP width (n_inner,
    `mlp_width_default`). Its projections are transformers' Conv1D modules (weight [in, out]),
    which prunebench holds as nn.Linear (`modeling.linear_projections`, `CONV1D_WEIGHTS`).
    GPT-BigCode's (`gpt_bigcode`: StarCoder, SantaCoder) are fields of others: Falcon's packed
    `c_attn` of one KV head where multi_query (`falcon_kv_heads`; `projections.qkv_layout`
    "runs", else "heads"), OPT's learned positions (`position_table_offset` 0: GPTBigCodeModel's
    `wpe`, a row a position), GPT-J's config keys (n_embd, n_layer, n_head, n_positions) and
    n_inner (`mlp_width_default`), LayerNorms with biases before each sublayer.
    Falcon-H1's own (`falcon_h1`): `mamba_beside_attention`, every block runs a Mamba-2 mixer
    (`mamba`, FalconH1Mixer: counted by `mamba_params` under Falcon-H1's keys, its inner width
    mamba_d_ssm, its gated norm only where mamba_rms_norm is set, out_proj biased by
    projectors_bias) beside its attention on the same normed input and adds both outputs to
    the residual, each scaled by its multiplier, before LLaMA's MLP: every block caches keys
    and values and keeps a Mamba-2 state (`state_blocks`); depth only (`refuse_moe`). Its
    multipliers (embedding, LM head, key, attention in / out, SSM in / out, the MLP's gate and
    down, the in_proj outputs' mup_vector) are no parameters.
    LFM2's own (`lfm2`, `lfm2_moe`): `short_conv`, the blocks that `layer_types` names "conv"
    hold a gated short convolution (`conv`, Lfm2ShortConv: in_proj hidden -> 3 x hidden, the
    gates B and C and the input x; a depthwise conv1d of conv_L_cache taps over B * x; C times
    its output; out_proj hidden -> hidden; all three biased by conv_bias) where the others hold
    GQA attention (q/k RMSNorms of head_dim, out_proj): `linear_attention` blocks counted by
    `short_conv_params`, their state the conv's last conv_L_cache inputs
    (`linear_attention_state`). Its modules are named otherwise (operator_norm / ffn_norm
    before the mixer and the MLP, `feed_forward` of w1 / w3 / w2, the final norm
    `embedding_norm`, applied after the last block despite its name). Depth only
    (`refuse_moe`), whatever its blocks: its width methods' and compiled decoder's modules are
    not LLaMA's. `auto_adjust_ff_dim`: the dense MLP is not intermediate_size wide but what
    Lfm2MLP derives from it (`dense_width`: two thirds, times block_ffn_dim_multiplier, rounded
    up to block_multiple_of, where block_auto_adjust_ff_dim is set; LFM2-MoE's dense blocks
    take intermediate_size as it is).
    LFM3 (`lfm3`, transformers 5.23 on) is LFM2's hybrid with a third kind of block, attention
    over a window ("sliding_attention", sliding_window), Qwen3's attention (q/k/v/o_proj biased
    by attention_bias, per-head q_norm / k_norm) with a sigmoid gate a query head (`g_proj`,
    hidden -> heads, no bias: `output_gate` where `output_gate_key` use_attention_gate is
    true), Gemma-2's sandwich norms where use_sandwich_norm is (`sandwich_norms_key`:
    post_operator_norm / post_ffn_norm) and an MLP of intermediate_size as it is (Lfm2MoeMLP:
    no auto-adjusted width). Depth only as LFM2 (`short_conv`).
    HyperCLOVA X's (`hyperclovax`) are fields of others: Granite's scalars (`multipliers`:
    embedding_multiplier, residual_multiplier, attention_multiplier) but its logits_scaling
    multiplies the logits (`logit_scale_key`, Cohere's way, where Granite's divides), and
    Gemma-2's sandwich norms where `sandwich_norms_key` (its `use_post_norm`, Peri-LN) is true:
    an RMSNorm on each sublayer's output (`post_norm1` after the attention, `post_norm2` after
    the MLP; `post_attention_layernorm` stays the norm before the MLP), none where it is false
    (HyperCLOVAXDecoderLayer's nn.Identity).
    MiniCPM3's (`minicpm3`): DeepSeek-V2's `latent_attention` in a dense model (LLaMA's MLP in
    every block), embeddings scaled by scale_emb and hidden states divided by hidden_size /
    dim_model_base before the LM head (no parameter), and each sublayer's output scaled by
    scale_depth / sqrt(num_hidden_layers) (`depth_scale_key`: a depth prune rewrites
    scale_depth so that the kept blocks scale as they did, `kept_depth_scale`). Depth only
    (`refuse_moe`): its latent attention is never width-pruned, nor run by the compiled
    decoder.
    EXAONE-MoE's (`exaone_moe`), GLM-4.7-Flash's (`glm4_moe_lite`) and Youtu's (`youtu`) are
    fields of others: EXAONE-4's attention (`qk_norm`, `global_nope`) in LLaMA's block with
    DeepSeek-V3's experts by `SparseBlocks.named`; DeepSeek-V3's `latent_attention` with
    GLM-4.5's experts by `SparseBlocks.named`; DeepSeek-V3's `latent_attention` in a dense model
    (MiniCPM3's case: depth only, `refuse_moe`).
    nanochat's own (`nanochat`): `rms_norm_weightless`, every norm is an RMSNorm without a
    weight (NanoChatRMSNorm, Llama 4's weightless one: float32 statistics, then the cast back):
    the block's two, the per-head q/k norms after the rotation (`qk_norm_after_rotary`, no
    parameter: `qk_norm` stays false) and the final norm, which also norms the embeddings before
    the first block (`embedding_norm`, BLOOM's place for it); no parameter of them.
    `rotary_reversed`: its rotate_half is cat(x2, -x1), LLaMA's negated, so each pair rotates by
    minus LLaMA's angle (the sin tables negated); no parameter.
    `output_gate` (AFMoE, Laguna): the attention's output is gated, before o_proj, by a
    projection of the block's input of its own (AFMoE's `self_attn.gate_proj`, sigmoid, one
    gate per query channel; Laguna's `self_attn.g_proj`, softplus, one gate per query head
    where `output_gate_per_head_key` (`gating`) is true or "per-head", else one per channel),
    never biased: hidden x (heads x head_dim) or hidden x heads parameters, which Qwen3-Next's
    `gated_query` holds inside q_proj instead. Depth only, as the families holding it are
    mixtures of experts (`refuse_moe`). `output_gate_key`: the config key that builds the gate
    where true, none where false (LFM3's use_attention_gate); every such model where None.
    Persimmon's (`persimmon`) are fields of others: GPT-NeoX's query_key_value packed head by
    head (`packed`, `kv_per_query_head`) and MLP names, Phi's q/k LayerNorms over head_dim
    with biases, shared by the heads (`qk_norm_key` `qk_layernorm`) and output `dense`,
    LayerNorms with biases in LLaMA's sequential block, a relu2 ungated MLP.
    GPT-Neo's own (`gpt_neo`): `float32_unscaled_scores`, its attention takes q . k in float32
    (queries and keys cast up), neither divided by sqrt(head_dim) nor by anything else, the
    softmax in float32 and the probabilities cast back to the values' dtype
    (GPTNeoSelfAttention._attn): no SDPA kernel computes that (transformers' GPT-Neo has no
    SDPA attention), so every backend runs it as matmul + softmax (`eager`); each block
    attends globally or, where `attention_layers` (expanded by GPTNeoConfig from
    `attention_types`) says "local", to the window_size last positions (`sliding_windows`);
    OPT's learned positions (`position_table_offset` 0: `wpe`), GPT-2's LayerNorms and MLP
    names, separate q/k/v without biases (one per query head: `kv_per_query_head`) and a
    biased out_proj.
    XGLM's own (`xglm`): `sinusoidal_positions`, fixed sinusoidal positions
    (XGLMSinusoidalPositionalEmbedding: the sines of hidden_size / 2 frequencies then their
    cosines, made in float32 and cast to the model's dtype, the row position + 2 added to each
    token's embedding, the row of pad_token_id zeroed), a non-persistent buffer and no
    parameter, which transformers makes longer for a longer sequence; `embed_scale_key`
    (`scale_embedding`), the config key that multiplies the embeddings by sqrt(hidden_size) as
    a Python float (XGLMScaledWordEmbedding; Gemma's `scaled_embedding` rounds the factor to
    the weights' dtype first). Otherwise OPT's pre-LN block and names.
    CTRL's own (`ctrl`): `position_buffer` (`pos_encoding`), the decoder's non-persistent
    buffer of fixed sinusoidal rows, positions 0 .. n_positions - 1 (modeling_ctrl's
    positional_encoding: the sines of hidden_size / 2 frequencies then their cosines, made in
    float32 and cast to the embeddings' dtype by the forward), added to each token's embedding
    and never made longer (a position past its rows is an IndexError in transformers); and
    `embed_scale_always`, the embeddings times sqrt(hidden_size) as a Python float with no
    config key (CTRLModel always scales).
    `depth_only`: a dense family whose blocks hold what prunebench's width surgery, sublayer
    removal and compiled decoder do not handle, said as `refuse_moe`'s refusal names it: depth
    methods and the hf / hf_static backends only. Its parameters beyond LLaMA's block are
    counted by `own_block_params`. DiffLlama's (`diffllama`): differential attention, query
    heads paired with the head half the heads away, each pair's output normed as one and scaled
    by a lambda_init its block's index gives (a depth prune keeps each kept block's value in
    `layer_lambda_init`: modeling.BLOCK_CONSTANTS). BitNet's (`bitnet`): RMSNorms over the
    attention output and the MLP's hidden channels before o_proj and down_proj (attn_sub_norm,
    built hidden_size wide whatever the heads; ffn_sub_norm), relu2.
    `qkv_shards` (CodeGen's 4): q, k and v fused in one qkv_proj in the model-parallel layout
    of its TPU training (CodeGenAttention's mp_num: shard s holds [q; v; k] of the s-th
    quarter of the heads, `projections.qkv_layout` "shards"), which transformers splits into
    that many equal shards: width pruning keeps as many heads in each shard (the uniform rules
    remove a multiple of it, `methods.sizing.shape_after_removal`; the selectors the worst
    heads of each shard, `methods.surgery.worst_groups`), the kept rows in that layout.
    `expert_norms` (Ergo): each routed expert ends in an RMSNorm over hidden_size of its own
    (`mlp.experts.post_expert_norm.weight`, experts x hidden), and so does the shared expert
    (`mlp.shared_experts.norm`); a sparse block counts them (`expert_param_count`,
    `shared_expert_params`).
    `min_transformers`: the first transformers release holding the family's classes (`config_class`
    and `model_class`), where it is newer than the oldest release prunebench accepts (the
    floor, `make test-floor`'s): EXAONE's ExaoneConfig, InternLM3's InternLM3Config and
    IQuest-Coder's IQuestCoderConfig, and the mixtures of experts Flint's, Kolibri-1's and
    MiniCPM5-MoE's config classes. Reading,
    counting and planning its configs need no transformers class (`config_from_dict`) and work
    on any release; building its model on an older one is refused before anything is loaded,
    naming the release to install (`transformers_release_problem`: the start's checks, the
    commands' model resolution and every class lookup, `modeling.config_class` / `model_class`).
    MiMo-V2-Flash's (`mimo_v2_flash`): `v_head_dim_key`, the key of each value head's width
    (`v_head_dim`), which v_proj's rows and o_proj's columns follow where head_dim is the
    queries' and keys'; `window_kv_and_sinks`, its sliding-window blocks hold twice the
    config's KV heads and a learned sink logit per query head, its full-attention blocks
    neither (MiMoV2FlashAttention fixes both by the block's layer type). Depth only, as a
    mixture of experts (`refuse_moe`).
    JetMoE's (`jetmoe`): `attention_experts`, a mixture of attention heads (JetMoeMoA under the
    block's `self_attention.experts`): one `kv_proj` (hidden -> 2 x KV heads x head_dim, the
    keys and values every expert shares) and a router choosing num_experts_per_tok of
    num_local_experts experts a token, each a query projection (hidden -> KV heads x head_dim)
    and an output projection back, the chosen experts' outputs weighed and summed plus one
    bias of hidden (`o_bias`): a token's query heads are its experts' (num_attention_heads is
    KV heads x num_experts_per_tok), counted by `moa_params`; `moe_output_bias`, a bias of
    hidden added to the sparse MLP's output (JetMoeMoE's). Depth only (`refuse_moe`).
    GPT-NeoX-Japanese's own (`gpt_neox_japanese`): `mlp_width_multiple_key`, the key whose
    value times hidden_size is the MLP width (`intermediate_multiple_size`: int() of the
    product, GPTNeoXJapaneseMLP's; no width key of its own); `last_block_dense_bias`, its last
    block alone adds a bias of hidden_size after the attention's output projection (the
    attention's `dense_bias`, which GPTNeoXJapaneseLayer adds to `dense`'s output): counted as
    that block's o_proj bias (`layer_shapes`), held by prunebench as the bias of `dense`
    (`modeling.fold_dense_bias`, the same sum) and saved back under transformers' name; a
    depth prune that removes the last block gives the new last block the zero bias that
    transformers' class of that depth builds (`modeling.remove_blocks`).
    Apertus 1.5's (`apertus1p5_text`): `head_vocab_key`, the config key of an untied LM head's
    rows where they are fewer than the input vocabulary's (`output_vocab_size`: the first ids,
    the text tokens; the visual and audio codes are read, never scored): `lm_head_rows`, the
    logits' width, which the parameter count, the decode floor's read and the checks of the
    token ids a model scores (perplexity, calibration) read.
    OpenAI GPT's own (`openai-gpt`): `post_ln_blocks`, each block's LayerNorms after its
    residual sums (ln_1 over input + attention, ln_2 over that + MLP) and no final norm
    (none counted; `modeling.final_norm` an identity; the fused block's `post_ln` order).
    ModernBERT-decoder's: `prediction_head`, a dense hidden x hidden layer (its bias by
    `classifier_bias`), an activation and a norm between the final norm and the LM head
    (`prediction_head_params`); `first_attention_unnormed`, block 0 has no norm before its
    attention (its class builds an Identity by the block's index: `layer_shapes` marks it, and
    `depth_kept_blocks` keeps it, as a block left first would lose its trained norm);
    `norm_bias_key`, the config key that gives every LayerNorm a bias (`norm_bias`).
    LongCat-Flash's (`longcat_flash`): `block_count_key`, the config key of the decoder's
    blocks where it is not num_hidden_layers (`num_layers`: each LongcatFlashDecoderLayer
    holds two latent attentions, two dense MLPs and a shortcut MoE, and num_hidden_layers,
    2 x num_layers, counts the attentions, the cache's entries), read by `block_count`.
    """

    model_class: str
    config_class: str
    qkv_bias: bool | None
    o_bias: bool | None
    mlp_bias_key: str | None
    qk_norm: bool
    sandwich_norms: bool = False
    norm_plus_one: bool = False
    scaled_embedding: bool = False
    packed: tuple[str, ...] = ()
    post_norms: bool = False
    qk_norm_whole: bool = False
    norm_weight_float32: bool = False
    multipliers: bool = False
    position_query_scale: bool = False
    global_nope: bool = False
    pairwise_rotary: bool = False
    shipped_code: tuple[str, ...] = ()
    moe_intermediate_key: str | None = None
    sparse_blocks: SparseBlocks = SparseBlocks.every()
    shared_expert: SharedExpert = SharedExpert.none()
    attention_bias_key: str = "attention_bias"
    o_bias_key: str | None = None
    moe_biases: bool = False
    attention_sinks: bool = False
    latent_attention: bool = False
    attention_indexer: bool = False
    moe_output_norm: bool = False
    norm_bias: bool = False
    lm_head_bias_key: str | None = None
    norm_weightless: bool = False
    qk_norm_key: str | None = None
    router_score_bias: bool = False
    parallel_block: bool = False
    norm_centred: bool = False
    qk_norm_each_head: bool = False
    paired_tables: bool = False
    rotate_float32: bool = False
    logit_scale_key: str | None = None
    qk_norm_after_rotary: bool = False
    parallel_block_key: str | None = None
    rotary_dim_key: str | None = None
    float32_params: tuple[str, ...] = ()
    ungated_mlp: bool = False
    linear_attention: bool = False
    gated_query: bool = False
    mlp_bias: bool | None = None
    lm_head_bias: bool | None = None
    experts_optional: bool = False
    mamba_mixer: bool = False
    per_layer_blocks: bool = False
    moe_switch_key: str | None = None
    one_mixer_blocks: bool = False
    parallel_norms: bool = False
    position_table_offset: int | None = None
    kv_per_query_head: bool = False
    norm_affine_key: str | None = None
    final_norm_removed_key: str | None = None
    alibi: bool = False
    embedding_norm: bool = False
    layer_norm_no_bias: bool = False
    sincos_table: bool = False
    mlp_width_default: int | None = None
    parallel_outputs_first: bool = False
    mamba_beside_attention: bool = False
    mamba1_blocks: bool = False
    mamba2_blocks: bool = False
    mlstm_blocks: bool = False
    griffin_blocks: bool = False
    rwkv_blocks: bool = False
    short_conv: bool = False
    auto_adjust_ff_dim: bool = False
    sandwich_norms_key: str | None = None
    depth_scale_key: str | None = None
    rms_norm_weightless: bool = False
    rotary_reversed: bool = False
    output_gate: bool = False
    output_gate_per_head_key: str | None = None
    output_gate_key: str | None = None
    float32_unscaled_scores: bool = False
    depth_only: str | None = None
    qkv_shards: int = 1
    sinusoidal_positions: bool = False
    embed_scale_key: str | None = None
    position_buffer: str | None = None
    embed_scale_always: bool = False

    @property
    def mamba_stack(self) -> bool:
        """Every block a norm and one Mamba mixer, no attention, no MLP (Mamba-1's or
        Mamba-2's: `mamba1_blocks`, `mamba2_blocks`)."""
        return self.mamba1_blocks or self.mamba2_blocks
    min_transformers: str | None = None
    v_head_dim_key: str | None = None
    window_kv_and_sinks: bool = False
    attention_experts: bool = False
    moe_output_bias: bool = False
    mlp_width_multiple_key: str | None = None
    last_block_dense_bias: bool = False
    head_vocab_key: str | None = None
    expert_norms: bool = False
    post_ln_blocks: bool = False
    norm_bias_key: str | None = None
    prediction_head: bool = False
    first_attention_unnormed: bool = False
    block_count_key: str = "num_hidden_layers"


# GLM-4.5's block of experts and q/k norms, as Glm4MoeForCausalLM builds it for the families
# transformers maps onto that class (Sarvam-MoE, Param2-MoE).
_GLM4_MOE_BLOCKS = dict(moe_intermediate_key="moe_intermediate_size",
                        sparse_blocks=SparseBlocks.after_first("first_k_dense_replace"),
                        shared_expert=SharedExpert.count("n_shared_experts"),
                        qk_norm_key="use_qk_norm")


# Read from transformers' own modeling files (5.x): LlamaAttention/LlamaMLP use
# attention_bias/mlp_bias; MistralAttention has no biases; Qwen2Attention has q/k/v biases and
# none on o_proj; Qwen3Attention uses attention_bias for all four and adds q_norm/k_norm.
FAMILIES: dict[str, Family] = {
    "llama": Family("LlamaForCausalLM", "LlamaConfig", None, None, "mlp_bias", False),
    "mistral": Family("MistralForCausalLM", "MistralConfig", False, False, None, False),
    "qwen2": Family("Qwen2ForCausalLM", "Qwen2Config", True, False, None, False),
    "qwen3": Family("Qwen3ForCausalLM", "Qwen3Config", None, None, None, True),
    # GemmaAttention and Gemma2Attention use attention_bias for all four projections (no
    # published model sets it); GemmaRMSNorm and Gemma2RMSNorm weigh by 1 + weight, and
    # Gemma2DecoderLayer holds four norms.
    "gemma": Family("GemmaForCausalLM", "GemmaConfig", None, None, None, False,
                    norm_plus_one=True, scaled_embedding=True),
    "gemma2": Family("Gemma2ForCausalLM", "Gemma2Config", None, None, None, False,
                     sandwich_norms=True, norm_plus_one=True, scaled_embedding=True),
    # Phi3Attention / Phi3MLP: packed qkv_proj and gate_up_proj, no biases at all.
    "phi3": Family("Phi3ForCausalLM", "Phi3Config", False, False, None, False,
                   packed=("qkv_proj", "gate_up_proj"),
                   shipped_code=("configuration_phi3.Phi3Config", "modeling_phi3.Phi3ForCausalLM")),
    # OlmoAttention: attention_bias for all four projections (no published model sets it), q, k
    # and v clamped to +-clip_qkv where the config sets it (OLMo-7B-0424 and later);
    # OlmoDecoderLayer: LLaMA's block with OlmoLayerNorm, a LayerNorm without parameters.
    "olmo": Family("OlmoForCausalLM", "OlmoConfig", None, None, None, False,
                   norm_weightless=True),
    # Olmo2Attention uses attention_bias for all four projections (no published model sets it)
    # and norms the whole q and k projections; Olmo2DecoderLayer norms the sublayers' outputs.
    "olmo2": Family("Olmo2ForCausalLM", "Olmo2Config", None, None, None, False,
                    post_norms=True, qk_norm_whole=True, norm_weight_float32=True),
    # Olmo3Attention / Olmo3DecoderLayer: OLMo-2's, with sliding windows on three blocks of
    # four (`layer_types`) and one rotary table per layer type (as Gemma-3's, in float32).
    "olmo3": Family("Olmo3ForCausalLM", "Olmo3Config", None, None, None, False,
                    post_norms=True, qk_norm_whole=True, norm_weight_float32=True),
    # GraniteAttention / GraniteMLP: LLaMA's biases (attention_bias, mlp_bias); the scalars of
    # GraniteModel, GraniteDecoderLayer and GraniteForCausalLM.
    "granite": Family("GraniteForCausalLM", "GraniteConfig", None, None, "mlp_bias", False,
                      multipliers=True),
    # HyperCLOVAXDecoderLayer: GraniteDecoderLayer's (LLaMA's biases, Granite's embedding,
    # residual and attention multipliers) with an RMSNorm on each sublayer's output where
    # use_post_norm (Peri-LN: post_norm1, post_norm2; nn.Identity where false);
    # HyperCLOVAXForCausalLM multiplies the logits by logits_scaling (Granite's divides).
    "hyperclovax": Family("HyperCLOVAXForCausalLM", "HyperCLOVAXConfig", None, None,
                          "mlp_bias", False, multipliers=True, logit_scale_key="logits_scaling",
                          sandwich_norms_key="use_post_norm"),
    # EXAONE 3.0 / 3.5 / Deep (ExaoneConfig, transformers 5.24 on): transformers builds
    # LlamaForCausalLM for it (its auto mapping), LLaMA's block as attention_bias / mlp_bias
    # say (neither set as published); the published config.json names its shape GPT-2's way
    # (num_layers, layer_norm_epsilon, activation_function: CONFIG_KEY_NAMES) and its
    # checkpoints their tensors so (transformer.h.N.attn.attention.q_proj, out_proj, ln_1 /
    # ln_2, mlp.c_fc_0 / c_fc_1 / c_proj, transformer.wte / ln_f: modeling.LOADED_PREFIXES /
    # LOADED_NAMES), as transformers 5.24 and 5.25 save them too; the code its config.json
    # names is set aside.
    "exaone": Family("LlamaForCausalLM", "ExaoneConfig", None, None, "mlp_bias", False,
                     shipped_code=("configuration_exaone.ExaoneConfig",
                                   "modeling_exaone.ExaoneForCausalLM"),
                     min_transformers="5.24.0"),
    # InternLM3 (InternLM3Config, transformers 5.23 on): LlamaForCausalLM too, its
    # config.json's qkv_bias and bias read as attention_bias and mlp_bias (its attribute_map:
    # CONFIG_KEY_NAMES; they must agree, `internlm3_unbuilt`), head_dim 128 where left out
    # (not hidden / heads); the code its config.json names is set aside.
    "internlm3": Family("LlamaForCausalLM", "InternLM3Config", None, None, "mlp_bias", False,
                        shipped_code=("configuration_internlm3.InternLM3Config",
                                      "modeling_internlm3.InternLM3ForCausalLM"),
                        min_transformers="5.23.0"),
    # IQuest-Coder V1 (IQuestCoderConfig, transformers 5.23 on): LlamaForCausalLM too (its auto
    # mapping), LLaMA's block; head_dim 128 where left out (not hidden / heads); its own code's
    # clip_qkv and sliding window, which the Llama class has not, refused unless off (null /
    # false as published: `iquestcoder_unbuilt`); the code its config.json names set aside.
    "iquestcoder": Family("LlamaForCausalLM", "IQuestCoderConfig", None, None, "mlp_bias", False,
                          shipped_code=("configuration_iquestcoder.IQuestCoderConfig",
                                        "modeling_iquestcoder.IQuestCoderForCausalLM"),
                          min_transformers="5.23.0"),
    # Gemma3Attention: attention_bias for all four, per-head q_norm / k_norm (Gemma's plus-one
    # RMSNorm of head_dim); Gemma3DecoderLayer: Gemma-2's four norms; text-only checkpoints.
    "gemma3_text": Family("Gemma3ForCausalLM", "Gemma3TextConfig", None, None, None, True,
                          sandwich_norms=True, norm_plus_one=True, scaled_embedding=True),
    # SmolLM3Attention / SmolLM3MLP: LLaMA's biases; every fourth block (`no_rope_layers`
    # 0) attends without rotary positions (NoPE), a flag the attention module keeps.
    "smollm3": Family("SmolLM3ForCausalLM", "SmolLM3Config", None, None, "mlp_bias", False),
    # Ministral3Attention / MistralMLP: Mistral's block (no biases), queries scaled by position
    # (Llama-4's attention temperature); the language model of Ministral 3 and Devstral 2.
    "ministral3": Family("Ministral3ForCausalLM", "Ministral3Config", False, False, None, False,
                         position_query_scale=True),
    # Exaone4Attention: no biases, a per-head q_norm / k_norm (LLaMA's RMSNorm of head_dim, as
    # Qwen3's) before the rotation, which its global blocks skip when the config has a sliding
    # window; Exaone4DecoderLayer is Olmo2DecoderLayer (norms on the sublayers' outputs only),
    # its RMSNorm LLaMA's (the weight after the cast back).
    "exaone4": Family("Exaone4ForCausalLM", "Exaone4Config", False, False, None, True,
                      post_norms=True, global_nope=True),
    # ExaoneMoeAttention: Exaone4Attention (no biases, per-head q_norm / k_norm before the
    # rotation, global blocks without rotary positions where the config has a window);
    # ExaoneMoeDecoderLayer: OLMoE's block, LLaMA's two norms before the sublayers (not
    # EXAONE-4's output norms), and the MLP its entry of `mlp_layer_types` names
    # (ExaoneMoeConfig derives it from first_k_dense_replace where config.json gives none): a
    # dense MLP of intermediate_size or DeepSeek-V3's MoE (a sigmoid router over num_experts
    # experts of moe_intermediate_size, weight float32, e_score_correction_bias a buffer, and
    # num_shared_experts shared experts fused into one ungated MLP), no biases; untied.
    "exaone_moe": Family("ExaoneMoeForCausalLM", "ExaoneMoeConfig", False, False, None, True,
                         global_nope=True, moe_intermediate_key="moe_intermediate_size",
                         sparse_blocks=SparseBlocks.named("mlp_layer_types",
                                                          "intermediate_size"),
                         shared_expert=SharedExpert.count("num_shared_experts")),
    # Kolibri-1 (Kolibri1Config, transformers 5.20 on): EXAONE-4's attention (no biases,
    # per-head q_norm / k_norm before the rotation, global blocks without rotary positions
    # where the config has a window: every fifth by Kolibri1Config) in GLM-4's sandwich block
    # (`post_self_attn_layernorm` after the attention, `post_attention_layernorm` before the
    # MLP, `post_mlp_layernorm` after it: four norms), and in every block DeepSeek-V3's MoE
    # (no dense MLP, no intermediate_size): a sigmoid router (weight experts x hidden,
    # e_score_correction_bias a buffer) over num_experts experts of moe_intermediate_size and
    # one ungated SwiGLU shared expert of shared_expert_intermediate_size
    # (`mlp.shared_experts`), no biases; untied.
    "kolibri1": Family("Kolibri1ForCausalLM", "Kolibri1Config", False, False, None, True,
                       sandwich_norms=True, global_nope=True,
                       moe_intermediate_key="moe_intermediate_size",
                       sparse_blocks=SparseBlocks.every(None),
                       shared_expert=SharedExpert.one("shared_expert_intermediate_size"),
                       min_transformers="5.20.0"),
    # Kolibri-1.1 (Kolibri1_1Config, transformers 5.25 on): Kolibri-1's block and MoE, its
    # global blocks "indexed_attention" (no rotary positions, keys chosen by a weightless
    # indexer, NVFP4-rounded keys and values: no parameter); its `mlp_only_layers` (blocks 0
    # and 1 where null) a dense SwiGLU MLP of mlp_only_intermediate_size instead of the
    # experts; the blocks whose kv_source_layers entry names an earlier block read that
    # block's keys and values (no k_proj, v_proj or k_norm: `kv_reusing_blocks`), and the
    # indexed blocks index_layers leaves out rescore the candidate pool of the closest
    # indexer before them (`kolibri1_1_sources`: a depth prune keeps a source while a block
    # it keeps reads it, `broken_reads`).
    "kolibri1_1": Family("Kolibri1_1ForCausalLM", "Kolibri1_1Config", False, False, None,
                         True, sandwich_norms=True, global_nope=True,
                         moe_intermediate_key="moe_intermediate_size",
                         sparse_blocks=SparseBlocks.unless_listed("mlp_only_intermediate_size",
                                                                  None),
                         shared_expert=SharedExpert.one("shared_expert_intermediate_size"),
                         min_transformers="5.25.0"),
    # GlmAttention: q/k/v biases as attention_bias says (the published configs: true), none on
    # o_proj; GlmMLP: one gate_up_proj; apply_rotary_pos_emb rotates the first
    # partial_rotary_factor of each head in adjacent pairs. Glm4DecoderLayer adds the norms of
    # the sublayers' outputs (four a block).
    "glm": Family("GlmForCausalLM", "GlmConfig", None, False, None, False,
                  packed=("gate_up_proj",), pairwise_rotary=True),
    "glm4": Family("Glm4ForCausalLM", "Glm4Config", None, False, None, False,
                   packed=("gate_up_proj",), pairwise_rotary=True, sandwich_norms=True),
    # SeedOssAttention: LLaMA's block with q/k/v biases as attention_bias says and an o_proj
    # bias as attention_out_bias says (the published configs: true and false), head_dim set
    # apart (128 with hidden 5120 and 80 heads); SeedOssMLP: biases as mlp_bias says. Its
    # attention_dropout / residual_dropout (0.1 in SeedOssConfig) act in training mode only:
    # the gradient passes and LoRA recovery turn them off (modeling.base_dropout_off).
    "seed_oss": Family("SeedOssForCausalLM", "SeedOssConfig", None, None, "mlp_bias", False,
                       o_bias_key="attention_out_bias"),
    # Ernie4_5Attention / Ernie4_5MLP: LLaMA's block with every projection (q/k/v, o_proj,
    # gate/up/down) biased or not by one key, `use_bias` (false in the published configs);
    # apply_rotary_pos_emb rotates the whole of each head in adjacent pairs (GLM's), in
    # float32 with float32 tables, and casts back; GQA, head_dim set apart (128), tied.
    "ernie4_5": Family("Ernie4_5ForCausalLM", "Ernie4_5Config", None, None, "use_bias", False,
                       pairwise_rotary=True, attention_bias_key="use_bias",
                       # baidu's ERNIE-4.5-*-PT config.json `auto_map` (its own code, written
                       # before transformers took the family in).
                       shipped_code=("configuration_ernie4_5.Ernie4_5_Config",
                                     "modeling_ernie4_5.Ernie4_5_Model",
                                     "modeling_ernie4_5.Ernie4_5_ForCausalLM")),
    # HunYuanDenseV1Attention: biases on all four projections as attention_bias says (false in
    # the published configs), per-head query_layernorm / key_layernorm (RMSNorms of head_dim,
    # shared by the heads, in every block whatever the config's use_qk_norm says) applied
    # after the rotation; rotary frequencies of NTK-alpha (rope_scaling type "dynamic" with an
    # alpha: static, computed by its rotary module); HunYuanDenseV1MLP: no biases (mlp_bias
    # unread); GQA, head_dim 128, tied in the published configs.
    "hunyuan_v1_dense": Family("HunYuanDenseV1ForCausalLM", "HunYuanDenseV1Config", None, None,
                               None, True, qk_norm_after_rotary=True,
                               # the `auto_map` Tencent's own fine-tuning script
                               # (Hunyuan-7B's train/) writes into a config.json: its code,
                               # written before transformers took the family in.
                               shipped_code=("configuration_hunyuan.HunYuanConfig",
                                             "modeling_hunyuan.HunyuanModel",
                                             "modeling_hunyuan.HunYuanForCausalLM")),
    # CohereAttention: biases on all four projections as attention_bias says (false in the
    # published configs), per-head q_norm / k_norm (CohereLayerNorm of [heads, head_dim]) where
    # use_qk_norm is set (Command R+), rotation in adjacent pairs in float32; CohereMLP: no
    # biases; CohereDecoderLayer: one input_layernorm feeding attention and MLP in parallel;
    # CohereForCausalLM: logits times logit_scale.
    "cohere": Family("CohereForCausalLM", "CohereConfig", None, None, None, False,
                     qk_norm_key="use_qk_norm", parallel_block=True, norm_centred=True,
                     qk_norm_each_head=True, pairwise_rotary=True, paired_tables=True,
                     rotate_float32=True, logit_scale_key="logit_scale"),
    # Cohere2Attention / Cohere2DecoderLayer: Cohere's parallel block without q/k norms, sliding
    # windows on three blocks of four (`layer_types`), only those blocks rotating (the global
    # ones attend without rotary positions).
    "cohere2": Family("Cohere2ForCausalLM", "Cohere2Config", None, None, None, False,
                      parallel_block=True, norm_centred=True, pairwise_rotary=True,
                      paired_tables=True, rotate_float32=True, logit_scale_key="logit_scale",
                      global_nope=True),
    # CohereCompassAttention / CohereCompassDecoderLayer (the language model of Cohere's
    # North-Micro-Vision, `cohere_compass`): Cohere2's parallel block (one bias-free
    # LayerNorm, windows on the blocks layer_types names sliding) rotating by
    # rope_parameters' entry of the block's layer type (null: no rotation, as the published
    # global blocks'; the compiled decoder rotates where the rotary module holds that kind's
    # table; none at all refused: cohere_compass_unbuilt) with LLaMA's rotate_half in the
    # model's dtype (Qwen3's apply_rotary_pos_emb; M-RoPE's three axes are one on text); logits
    # times
    # logit_scale where set (the class's default none: 1). 5.21 on (RELEASE_REASONS).
    "cohere_compass_text": Family("CohereCompassForCausalLM", "CohereCompassTextConfig", None,
                                  None, None, False, parallel_block=True, norm_centred=True,
                                  logit_scale_key="logit_scale", min_transformers="5.21.0"),
    # Cohere2MoeAttention / Cohere2MoeDecoderLayer: Cohere2's parallel block (windows on the
    # blocks `layer_types` names sliding, only those rotating, in adjacent pairs, but for the
    # full-attention dense blocks where prefix_dense_sliding_window_pattern is 1), its one norm
    # a Cohere LayerNorm, or an RMSNorm where rms_norm_eps is set (a weight either way); its MLP
    # as `mlp_layer_types` names it: a dense Cohere2MoeMLP of prefix_dense_intermediate_size
    # (intermediate_size where null) or a Cohere2MoeSparseMoeBlock: a softmax or sigmoid
    # router (`mlp.gate.weight`, experts x hidden) over num_experts experts of
    # intermediate_size (Mixtral's fused experts) and, where num_shared_experts > 0, that many
    # shared experts fused into one Cohere2MoeMLP, summed with the routed output or averaged;
    # no biases; logits times logit_scale, tied as published.
    "cohere2_moe": Family("Cohere2MoeForCausalLM", "Cohere2MoeConfig", None, None, None, False,
                          parallel_block=True, norm_centred=True, pairwise_rotary=True,
                          paired_tables=True, rotate_float32=True,
                          logit_scale_key="logit_scale", global_nope=True,
                          moe_intermediate_key="intermediate_size",
                          sparse_blocks=SparseBlocks.named("mlp_layer_types",
                                                           "prefix_dense_intermediate_size"),
                          shared_expert=SharedExpert.count("num_shared_experts",
                                                           absent_at_zero=True)),
    # StableLmAttention: q/k/v biases as use_qkv_bias says (StableLM-2-1.6B sets it), o_proj
    # never biased, bias-free per-head q/k LayerNorms (StableLmLayerNormPerHead) where
    # qk_layernorm is set (StableLM-2-12B), partial rotary (LLaMA's pairing within the rotated
    # part); StableLmMLP: no biases; StableLmDecoderLayer: nn.LayerNorm (weight and bias) before
    # each sublayer, or one feeding both in parallel where use_parallel_residual is set (no
    # post_attention_layernorm built then); the final norm an nn.LayerNorm too.
    "stablelm": Family("StableLmForCausalLM", "StableLmConfig", None, False, None, False,
                       attention_bias_key="use_qkv_bias", norm_bias=True,
                       qk_norm_key="qk_layernorm", qk_norm_each_head=True,
                       parallel_block_key="use_parallel_residual"),
    # ArceeAttention: LLaMA's (biases on all four projections as attention_bias says, GQA,
    # head_dim set apart where the config gives one); ArceeMLP: no gate, up_proj and down_proj
    # biased as mlp_bias says, relu2 between them; LLaMA's RMSNorms.
    "arcee": Family("ArceeForCausalLM", "ArceeConfig", None, None, "mlp_bias", False,
                    ungated_mlp=True),
    # NemotronAttention: biases on all four projections as attention_bias says, head_dim set
    # apart, the first partial_rotary_factor (0.5) of each head rotating with LLaMA's pairing;
    # NemotronMLP: ArceeMLP's (no gate, biases by mlp_bias); NemotronLayerNorm1P before each
    # sublayer and as the final norm: a LayerNorm with a bias weighing by 1 + weight, computed
    # in the input's dtype with autocast off; untied.
    "nemotron": Family("NemotronForCausalLM", "NemotronConfig", None, None, "mlp_bias", False,
                       norm_bias=True, norm_plus_one=True, ungated_mlp=True),
    # Starcoder2Attention: biases on all four projections as use_bias says, GQA, one window
    # (sliding_window) for every block; Starcoder2MLP: no gate, c_fc -> hidden_act
    # (gelu_pytorch_tanh) -> c_proj, biased by use_bias too; nn.LayerNorms (weight and bias,
    # norm_epsilon) before each sublayer and as the final norm; tied as the config says.
    "starcoder2": Family("Starcoder2ForCausalLM", "Starcoder2Config", None, None, "use_bias",
                         False, attention_bias_key="use_bias", norm_bias=True,
                         ungated_mlp=True),
    # PhiAttention: q/k/v and the output projection `dense` always biased, the first
    # partial_rotary_factor (0.4 in phi-2) of each head rotating, q/k LayerNorms over head_dim
    # with biases, shared by the heads, by qk_layernorm (false as published); PhiMLP: no gate,
    # fc1 -> gelu_new -> fc2, biased; PhiDecoderLayer: Cohere's parallel block, one nn.LayerNorm
    # (`input_layernorm`) feeding both, summed as GPTJBlock sums them (attention + MLP, then
    # the input: parallel_outputs_first); the final `final_layernorm` and a biased LM head. (No
    # config key switches any of these biases: nn.Linear's default.)
    "phi": Family("PhiForCausalLM", "PhiConfig", True, True, None, False, norm_bias=True,
                  qk_norm_key="qk_layernorm", parallel_block=True, ungated_mlp=True,
                  mlp_bias=True, lm_head_bias=True, parallel_outputs_first=True),
    # ApertusAttention: biases on all four projections as attention_bias says (false in the
    # published configs), per-head q_norm / k_norm (Qwen3's: RMSNorms of head_dim shared by the
    # heads, before the rotation), llama3 rotary scaling as published; ApertusMLP: no gate, no
    # biases, up_proj -> xIELU (hidden_act "xielu": XIELUActivation, whose learned alpha_p and
    # alpha_n are parameters of the MLP's act_fn, `activation_params`) -> down_proj;
    # ApertusDecoderLayer: LLaMA's two RMSNorms under its own names (attention_layernorm,
    # feedforward_layernorm: projections.block_norm); untied.
    "apertus": Family("ApertusForCausalLM", "ApertusConfig", None, None, None, True,
                      ungated_mlp=True),
    # Apertus 1.5's language model (Apertus1p5TextConfig, transformers 5.24 on): Apertus's
    # block as ApertusModel builds it (Apertus1p5TextForCausalLM subclasses ApertusForCausalLM),
    # its input vocabulary widened for visual and audio codes and its untied LM head
    # `output_vocab_size` rows where the config gives that key (the released checkpoints keep
    # the text tokens' rows alone; None: vocab_size), `head_vocab_key`: `lm_head_rows`.
    "apertus1p5_text": Family("Apertus1p5TextForCausalLM", "Apertus1p5TextConfig", None, None,
                              None, True, ungated_mlp=True, head_vocab_key="output_vocab_size",
                              min_transformers="5.24.0"),
    # MinistralAttention (Qwen2Attention without biases) / MinistralMLP: Mistral's block, no
    # biases anywhere, each block's sliding window or full attention as `layer_types` says
    # (MinistralConfig makes every block sliding where the config gives a window and no list).
    "ministral": Family("MinistralForCausalLM", "MinistralConfig", False, False, None, False),
    # CwmAttention (Qwen2Attention with q/k/v rebuilt without biases): no biases on any
    # projection (CwmConfig has no attention_bias), head_dim set apart (128), each block's
    # sliding window or full attention as `layer_types` says (every fourth block full, from
    # the first, where the config gives no list), llama3 rotary scaling (static: one table);
    # LLaMA's decoder layer and MLP (biases by mlp_bias), RMSNorms and an untied head.
    "cwm": Family("CwmForCausalLM", "CwmConfig", False, False, "mlp_bias", False),
    # GraniteSWAAttention: Granite's (biases by attention_bias, scores scaled by
    # attention_multiplier), each block's sliding window or full attention as `layer_types`
    # says (every fourth block full, from the first, without a list), a learned sink logit
    # per query head (`sinks`, gpt-oss's as GraniteSWA's eager attention computes it: the
    # output times sigmoid(logsumexp(scores) - sink)), each block's rotary base from
    # `layer_rope_theta` (0: no rotary positions, NoPE); GraniteMLP and Granite's multipliers.
    "granite_swa": Family("GraniteSWAForCausalLM", "GraniteSWAConfig", None, None, "mlp_bias",
                          False, multipliers=True, attention_sinks=True),
    # HeliumAttention: LLaMA's q/k/v biases by attention_bias (false as published), an o_proj
    # without a bias that reads hidden_size inputs (the heads must fill the hidden size:
    # checked_config_json), whole heads rotating in adjacent pairs (GLM's pairing, its tables
    # listing the frequencies twice over); HeliumMLP: LLaMA's (biases by mlp_bias);
    # HeliumRMSNorm weighs the float32 statistics before the cast back (OLMo-2's); untied.
    "helium": Family("HeliumForCausalLM", "HeliumConfig", None, False, "mlp_bias", False,
                     pairwise_rotary=True, norm_weight_float32=True),
    # VaultGemmaAttention / VaultGemmaMLP: Gemma-2's (biases on all four by attention_bias,
    # queries scaled by query_pre_attn_scalar, soft caps, each block's window or full
    # attention as layer_types says, a GeGLU MLP without biases); VaultGemmaDecoderLayer: two
    # norms only, weighing by 1 + weight, input_layernorm and pre_feedforward_layernorm (no
    # norms on the sublayers' outputs: projections.block_norm); scaled embeddings, tied.
    "vaultgemma": Family("VaultGemmaForCausalLM", "VaultGemmaConfig", None, None, None, False,
                         norm_plus_one=True, scaled_embedding=True),
    # GPTNeoXAttention: one query_key_value Linear packing each head's q, k and v rows
    # together ([heads, 3 x head_dim]: projections.qkv_layout "heads") and the output `dense`, both biased as
    # attention_bias says (true by default and in every published model), one KV head per
    # query head (no num_key_value_heads), partial rotary (rotary_pct: partial_rotary_factor in
    # both transformers versions); GPTNeoXMLP: no gate, dense_h_to_4h -> gelu -> dense_4h_to_h,
    # always biased; GPTNeoXLayer: nn.LayerNorm (weight and bias) before each sublayer, the two
    # in parallel where use_parallel_residual says (Pythia, GPT-NeoX-20B; `parallel_norms`);
    # GPTNeoXModel's final norm a LayerNorm too; untied lm_head (published as `embed_out`).
    "gpt_neox": Family("GPTNeoXForCausalLM", "GPTNeoXConfig", None, None, None, False,
                       packed=("qkv_proj",), norm_bias=True,
                       mlp_bias=True, ungated_mlp=True,
                       parallel_block_key="use_parallel_residual", parallel_norms=True,
                       kv_per_query_head=True),
    # PersimmonAttention: one query_key_value Linear packing each head's q, k and v rows
    # together (viewed as [heads, 3, head_dim]: GPT-NeoX's, projections.qkv_layout "heads") and
    # the output `dense`, both always biased, every head its own keys and values, q_layernorm /
    # k_layernorm (nn.LayerNorms over head_dim with biases, shared by the heads: Phi's) where
    # qk_layernorm says (true by default and as published), before the rotation of each head's
    # first partial_rotary_factor (0.5); PersimmonMLP: GPT-NeoX's (no gate, dense_h_to_4h ->
    # relu2 -> dense_4h_to_h, always biased); PersimmonDecoderLayer: LLaMA's sequential block
    # under nn.LayerNorms (weight and bias); PersimmonModel's `final_layernorm` a LayerNorm too;
    # the LM head untied by default, no bias.
    "persimmon": Family("PersimmonForCausalLM", "PersimmonConfig", True, True, None, False,
                        packed=("qkv_proj",), norm_bias=True, mlp_bias=True, ungated_mlp=True,
                        qk_norm_key="qk_layernorm", kv_per_query_head=True),
    # GPTNeoXJapaneseAttention: GPT-NeoX's query_key_value packed head by head ([heads, 3 x
    # head_dim]: projections.qkv_layout "heads") and output `dense`, neither biased, every head
    # its own keys and values, the first rotary_pct of each head rotating (rotate_half; the
    # rotary base rotary_emb_base), the last block's `dense_bias` added after `dense`
    # (`last_block_dense_bias`); GPTNeoXJapaneseMLP: no gate, no biases, dense_h_to_4h -> gelu
    # -> dense_4h_to_h, int(hidden_size x intermediate_multiple_size) wide
    # (`mlp_width_multiple_key`); GPTNeoXJapaneseLayer: LLaMA's sequential block under
    # nn.LayerNorms (weight and bias); the final `final_layer_norm` a LayerNorm too; the LM head
    # `embed_out`, tied by default, no bias.
    "gpt_neox_japanese": Family("GPTNeoXJapaneseForCausalLM", "GPTNeoXJapaneseConfig", False,
                                False, None, False, packed=("qkv_proj",), norm_bias=True,
                                mlp_bias=False, ungated_mlp=True, kv_per_query_head=True,
                                sparse_blocks=SparseBlocks.every(None),
                                mlp_width_multiple_key="intermediate_multiple_size",
                                last_block_dense_bias=True),
    # FalconAttention: one query_key_value Linear (packed "qkv_proj") whose rows go one of three
    # ways by config (projections.qkv_layout: grouped per KV head in the new decoder
    # architecture, [all q; k; v] of one KV head where multi_query, else head by head as
    # GPT-NeoX's) and the output `dense`, both biased as `bias` says; FalconMLP: no gate,
    # dense_h_to_4h -> gelu -> dense_4h_to_h, biased by `bias`, ffn_hidden_size wide (4 x hidden
    # where null); FalconDecoderLayer: nn.LayerNorms (weight and bias), one before each
    # sublayer in sequence (parallel_attn false), one feeding both in parallel (Falcon-7B's,
    # Falcon2-11B's) or one before each in parallel (ln_attn / ln_mlp: Falcon-40B's and 180B's,
    # `parallel_norms`); FalconModel's final norm `ln_f` a LayerNorm too; the LM head
    # tied as tie_word_embeddings says (true by default), no bias. ALiBi refused
    # (falcon_unsupported).
    "falcon": Family("FalconForCausalLM", "FalconConfig", None, None, "bias", False,
                     attention_bias_key="bias", packed=("qkv_proj",),
                     norm_bias=True, ungated_mlp=True, parallel_block_key="parallel_attn",
                     parallel_norms=True, sparse_blocks=SparseBlocks.every("ffn_hidden_size")),
    # OPTAttention: q/k/v and out_proj biased as enable_bias says (true as published), every
    # head its own keys and values, queries scaled by 1/sqrt(head_dim) before the scores;
    # OPTDecoderLayer: nn.LayerNorms (self_attn_layer_norm, final_layer_norm) before each
    # sublayer where do_layer_norm_before is set, fc1 -> activation_function (relu) -> fc2
    # held by the block itself, biased by enable_bias; OPTDecoder: learned positions
    # (OPTLearnedPositionalEmbedding, offset 2) added to the embeddings, a final LayerNorm
    # unless _remove_final_layer_norm; OPTForCausalLM: the LM head tied, no bias.
    "opt": Family("OPTForCausalLM", "OPTConfig", None, None, "enable_bias", False,
                  attention_bias_key="enable_bias", norm_bias=True, ungated_mlp=True,
                  sparse_blocks=SparseBlocks.every("ffn_dim"), position_table_offset=2,
                  kv_per_query_head=True, norm_affine_key="layer_norm_elementwise_affine",
                  final_norm_removed_key="_remove_final_layer_norm"),
    # BloomAttention: one query_key_value Linear packing each head's q, k and v rows together
    # ([heads, 3, head_dim] as GPT-NeoX's: projections.qkv_layout "heads") and the output `dense`, both
    # always biased, every head its own keys and values, ALiBi biases from n_head (`alibi`);
    # BloomMLP: dense_h_to_4h -> tanh gelu -> dense_4h_to_h, 4 x hidden_size wide, always
    # biased; BloomBlock: nn.LayerNorms before each sublayer; BloomModel: a LayerNorm of the
    # embeddings (word_embeddings_layernorm) and a final one (ln_f); the LM head tied.
    "bloom": Family("BloomForCausalLM", "BloomConfig", True, True, None, False,
                    packed=("qkv_proj",), norm_bias=True, mlp_bias=True,
                    ungated_mlp=True, kv_per_query_head=True, alibi=True,
                    sparse_blocks=SparseBlocks.every(None), mlp_width_default=4,
                    embedding_norm=True),
    # MptAttention: one Wqkv Linear, rows [all q; all k; all v] (Phi-3's packing), out_proj,
    # no biases whatever no_bias says, every head its own keys and values, ALiBi biases from
    # n_heads (`alibi`); MptMLP (`ffn`): up_proj -> gelu -> down_proj, 4 x hidden_size wide
    # whatever expansion_ratio says, no biases; MptBlock: LayerNorms without biases (norm_1,
    # norm_2), as MptModel's final norm_f; the LM head tied.
    "mpt": Family("MptForCausalLM", "MptConfig", False, False, None, False,
                  packed=("qkv_proj",), mlp_bias=False, ungated_mlp=True,
                  kv_per_query_head=True, alibi=True, sparse_blocks=SparseBlocks.every(None),
                  mlp_width_default=4, layer_norm_no_bias=True),
    # GPTJAttention: q_proj / k_proj / v_proj / out_proj without biases, every head its own
    # keys and values (no num_key_value_heads), head_dim n_embd / n_head, the first
    # rotary_dim of each head rotating in adjacent pairs (rotate_every_two) by a fixed
    # sin / cos table (`sincos_table`); GPTJMLP: no gate, fc_in -> gelu_new -> fc_out, always
    # biased, n_inner wide (4 x n_embd where None); GPTJBlock: one nn.LayerNorm (ln_1) feeding
    # attention and MLP in parallel, both added to the input (Cohere's parallel block);
    # GPTJModel: wte, blocks `h`, the final ln_f; GPTJForCausalLM: an untied, biased lm_head.
    "gptj": Family("GPTJForCausalLM", "GPTJConfig", False, False, None, False,
                   norm_bias=True, parallel_block=True, ungated_mlp=True, mlp_bias=True,
                   lm_head_bias=True, pairwise_rotary=True, paired_tables=True,
                   kv_per_query_head=True, sincos_table=True, parallel_outputs_first=True,
                   sparse_blocks=SparseBlocks.every("n_inner"), mlp_width_default=4),
    # CodeGenAttention: GPT-J's attention with q, k and v in one qkv_proj without bias, viewed
    # as 4 shards (mp_num, its TPU training's model parallelism) of [q; v; k] for a quarter of
    # the heads each; CodeGenMLP, CodeGenBlock, CodeGenModel and CodeGenForCausalLM: GPT-J's
    # (parallel block of one LayerNorm, biased gelu_new MLP n_inner wide, the fixed sin / cos
    # table rotating rotary_dim of each head in adjacent pairs, an untied biased lm_head).
    # Width pruning keeps as many heads in each shard and repacks them (`qkv_shards`).
    "codegen": Family("CodeGenForCausalLM", "CodeGenConfig", False, False, None, False,
                      packed=("qkv_proj",), norm_bias=True, parallel_block=True,
                      ungated_mlp=True, mlp_bias=True, lm_head_bias=True, pairwise_rotary=True,
                      paired_tables=True, kv_per_query_head=True, sincos_table=True,
                      parallel_outputs_first=True, sparse_blocks=SparseBlocks.every("n_inner"),
                      mlp_width_default=4, qkv_shards=4),
    # GPT2Attention: one c_attn packing [all q; all k; all v] (Phi-3's runs) and the output
    # c_proj, both always biased, every head its own keys and values, head_dim n_embd / n_head,
    # no rotary positions; GPT2MLP: no gate, c_fc -> gelu_new -> c_proj, always biased, n_inner
    # wide (4 x n_embd where None); GPT2Block: nn.LayerNorms ln_1 / ln_2 before each sublayer;
    # GPT2Model: learned positions wpe (n_positions rows, no offset) added to wte's rows, the
    # final ln_f; GPT2LMHeadModel: the LM head tied, no bias. Its projections are Conv1D
    # modules, held by prunebench as nn.Linear (modeling.linear_projections). What its class
    # builds that prunebench does not reproduce is refused (gpt2_unsupported).
    "gpt2": Family("GPT2LMHeadModel", "GPT2Config", True, True, None, False,
                   packed=("qkv_proj",), norm_bias=True, ungated_mlp=True, mlp_bias=True,
                   kv_per_query_head=True, position_table_offset=0,
                   sparse_blocks=SparseBlocks.every("n_inner"), mlp_width_default=4),
    # OpenAI GPT (GPT-1, "openai-gpt"): GPT-2's Attention and MLP modules (Conv1D c_attn
    # packing [all q; all k; all v] and c_proj, c_fc -> gelu_new -> c_proj, all biased, every
    # head its own keys and values, scores scaled by 1 / sqrt(head_dim)), the MLP always 4 x
    # n_embd wide (no width key); its Block post-LN (`post_ln_blocks`): ln_1 over input +
    # attention, ln_2 over that + MLP, the block's output the second norm's; OpenAIGPTModel:
    # tokens_embed, learned positions positions_embed (offset 0), no final norm;
    # OpenAIGPTLMHeadModel: the LM head tied, no bias.
    "openai-gpt": Family("OpenAIGPTLMHeadModel", "OpenAIGPTConfig", True, True, None, False,
                         packed=("qkv_proj",), norm_bias=True, ungated_mlp=True,
                         mlp_bias=True, kv_per_query_head=True, position_table_offset=0,
                         sparse_blocks=SparseBlocks.every(None), mlp_width_default=4,
                         post_ln_blocks=True),
    # GPTBigCodeAttention: one c_attn Linear packing q, k and v (packed "qkv_proj"), [all q; k;
    # v] of one KV head where multi_query (every StarCoder), else head by head ([heads, 3 x
    # head_dim]: projections.qkv_layout), and the output c_proj, both always biased, head_dim
    # n_embd / n_head; GPTBigCodeMLP: no gate, c_fc -> gelu_pytorch_tanh -> c_proj, always
    # biased, n_inner wide (4 x n_embd where null); GPTBigCodeBlock: nn.LayerNorms ln_1 / ln_2
    # before each sublayer; GPTBigCodeModel: learned positions `wpe` (offset 0) added to the
    # embeddings `wte`, blocks `h`, the final ln_f; GPTBigCodeForCausalLM: the LM head tied
    # (tie_word_embeddings, true by default), no bias.
    "gpt_bigcode": Family("GPTBigCodeForCausalLM", "GPTBigCodeConfig", True, True, None, False,
                          packed=("qkv_proj",), norm_bias=True, ungated_mlp=True,
                          mlp_bias=True, position_table_offset=0,
                          sparse_blocks=SparseBlocks.every("n_inner"), mlp_width_default=4),
    # GPTNeoSelfAttention (held by each block's GPTNeoAttention as `attention`): q_proj /
    # k_proj / v_proj without biases, out_proj biased, every head its own keys and values,
    # head_dim hidden_size / num_heads, scores q . k in float32 without any scale, masked by
    # its own causal buffer `bias`, banded to the window_size last positions in the blocks
    # attention_layers names "local" (`float32_unscaled_scores`); GPTNeoMLP: no gate, c_fc ->
    # gelu_new -> c_proj, always biased, intermediate_size wide (4 x hidden_size where null);
    # GPTNeoBlock: nn.LayerNorms ln_1 / ln_2 before each sublayer; GPTNeoModel: learned
    # positions wpe (offset 0) added to wte's rows, blocks `h`, the final ln_f;
    # GPTNeoForCausalLM: the LM head tied (tie_word_embeddings, true by default), no bias.
    "gpt_neo": Family("GPTNeoForCausalLM", "GPTNeoConfig", False, True, None, False,
                      norm_bias=True, ungated_mlp=True, mlp_bias=True, kv_per_query_head=True,
                      position_table_offset=0, sparse_blocks=SparseBlocks.every(
                          "intermediate_size"), mlp_width_default=4,
                      float32_unscaled_scores=True),
    # XGLMAttention: q/k/v/out_proj always biased, every head its own keys and values, the
    # queries scaled by 1/sqrt(head_dim) before the scores, matmul + softmax alone (no SDPA
    # attention in transformers); XGLMDecoderLayer: OPT's pre-LN block (nn.LayerNorms
    # self_attn_layer_norm / final_layer_norm, the block's own fc1 -> gelu -> fc2, always
    # biased, ffn_dim wide); XGLMModel: embeddings times sqrt(d_model) where scale_embedding
    # (`embed_scale_key`), fixed sinusoidal positions of offset 2 added (`sinusoidal_positions`),
    # the final LayerNorm `layer_norm`; XGLMForCausalLM: the LM head tied, no bias. Its
    # cross-attention is refused (xglm_unsupported).
    "xglm": Family("XGLMForCausalLM", "XGLMConfig", True, True, None, False,
                   norm_bias=True, ungated_mlp=True, mlp_bias=True, kv_per_query_head=True,
                   sparse_blocks=SparseBlocks.every("ffn_dim"), sinusoidal_positions=True,
                   embed_scale_key="scale_embedding"),
    # CTRL's MultiHeadAttention (`multi_head_attention`): Wq / Wk / Wv / dense, always
    # biased, every head its own keys and values, scores scaled by 1 / sqrt(head_dim);
    # EncoderLayer: pre-LN (nn.LayerNorms layernorm1 / layernorm2 of eps 1e-6 whatever the
    # config says: its layer_norm_epsilon is the final norm's alone), `ffn` an nn.Sequential of
    # Linear (0) -> ReLU -> Linear (2), biased, dff wide; CTRLModel (`transformer`): `w`
    # times sqrt(n_embd) always (`embed_scale_always`), its fixed sinusoidal rows
    # `pos_encoding` added (`position_buffer`), blocks `h`, the final LayerNorm `layernorm`;
    # CTRLLMHeadModel: the LM head tied (tie_word_embeddings, true by default), with a bias.
    "ctrl": Family("CTRLLMHeadModel", "CTRLConfig", True, True, None, False,
                   norm_bias=True, ungated_mlp=True, mlp_bias=True, kv_per_query_head=True,
                   sparse_blocks=SparseBlocks.every("dff"), lm_head_bias=True,
                   position_buffer="pos_encoding", embed_scale_always=True),
    # BioGptAttention: Bart's (q/k/v/out_proj always biased, every head its own keys and
    # values, the queries scaled by 1/sqrt(head_dim)); BioGptDecoderLayer: OPT's pre-LN block
    # (nn.LayerNorms self_attn_layer_norm / final_layer_norm of the default eps, not the
    # config's layer_norm_eps, which no module reads; the block's own fc1 -> hidden_act (gelu)
    # -> fc2, always biased, intermediate_size wide); BioGptModel (`biogpt`): embeddings times
    # sqrt(hidden_size) where scale_embedding (`embed_scale_key`), OPT's learned positions of
    # offset 2 added, the final LayerNorm `layer_norm`; BioGptForCausalLM: its LM head
    # `output_projection` (projections.MODULE_ALIASES' lm_head), tied, no bias.
    "biogpt": Family("BioGptForCausalLM", "BioGptConfig", True, True, None, False,
                     norm_bias=True, ungated_mlp=True, mlp_bias=True, kv_per_query_head=True,
                     sparse_blocks=SparseBlocks.every("intermediate_size"),
                     position_table_offset=2, embed_scale_key="scale_embedding"),
    # Jais2Attention: LLaMA's (biases on all four projections as attention_bias says, true by
    # default and as published; GQA where num_key_value_heads says; head_dim set apart);
    # Jais2MLP: NemotronMLP's (no gate, up_proj -> relu2 -> down_proj, biased by mlp_bias);
    # Jais2DecoderLayer: nn.LayerNorms (weight and bias, layer_norm_eps) before each sublayer,
    # the final norm one too (Starcoder2's norms under LLaMA's names); untied by default.
    "jais2": Family("Jais2ForCausalLM", "Jais2Config", None, None, "mlp_bias", False,
                    norm_bias=True, ungated_mlp=True),
    # NanoChatAttention: Qwen3Attention's projections (biases on all four as attention_bias
    # says, false by default), rotated the other way round (its rotate_half is cat(x2, -x1):
    # `rotary_reversed`), then the rotated queries and keys normed (Hunyuan's order:
    # qk_norm_after_rotary) by RMSNorms without a weight (Llama4TextWeightlessRMSNorm's);
    # NanoChatMLP: CLIP's fc1 -> relu2 -> fc2, no gate, never biased; NanoChatDecoderLayer:
    # LLaMA's block under two weightless RMSNorms; NanoChatModel: its one weightless final
    # norm applied to the embeddings too (`embedding_norm`); NanoChatForCausalLM: Gemma-2's
    # final_logit_softcapping (15 by default), untied by default.
    "nanochat": Family("NanoChatForCausalLM", "NanoChatConfig", None, None, None, False,
                       mlp_bias=False, ungated_mlp=True, rms_norm_weightless=True,
                       qk_norm_after_rotary=True, rotary_reversed=True, embedding_norm=True),
    # Emu3's language model (Emu3ForCausalLM of Emu3TextConfig, the decoder inside BAAI's
    # Emu3-Chat-hf / Emu3-Gen-hf, `emu3`, whose vocabulary holds the VQ-VAE's image tokens as
    # rows of the embedding and the LM head): LLaMA's block under other names (q/k/v/o biased
    # by attention_bias and the SwiGLU MLP by mlp_bias, both false in its class and as
    # published; GQA; head_dim set apart where given; RMSNorms), untied; its blocks' residual
    # dropout (nn.Dropout of attention_dropout, 0.1 as published) acts in training mode only,
    # where base_dropout_off turns it off as for every family.
    "emu3_text_model": Family("Emu3ForCausalLM", "Emu3TextConfig", None, None, "mlp_bias",
                              False),
    # DiffLlamaAttention: LLaMA's projections (attention_bias on all four), two softmax maps
    # over the two halves of the query heads subtracted with a learned lambda (lambda_q1 / k1 /
    # q2 / k2, head_dim each) and lambda_init = 0.8 - 0.6 exp(-0.3 layer_idx), an RMSNorm
    # without a weight over each head pair; DiffLlamaMLP: LLaMA's, never biased.
    "diffllama": Family("DiffLlamaForCausalLM", "DiffLlamaConfig", None, None, None, False,
                        mlp_bias=False,
                        depth_only="differential attention (query heads paired with the head "
                                   "half the heads away and the values split in two halves of "
                                   "KV heads, a lambda per block)"),
    # BitNetAttention: LLaMA's (attention_bias on all four) with attn_sub_norm, an RMSNorm of
    # hidden_size over the attention output before o_proj; BitNetMLP: Gemma's (never biased,
    # relu2 as published) with ffn_sub_norm over its intermediate_size channels.
    "bitnet": Family("BitNetForCausalLM", "BitNetConfig", None, None, None, False,
                     mlp_bias=False,
                     depth_only="RMSNorms over the attention output and the MLP's hidden "
                                "channels (attn_sub_norm, built hidden_size wide whatever the "
                                "heads; ffn_sub_norm), whose statistics a removed head or "
                                "channel changes"),
    # DogeAttention: Qwen3's (q_norm / k_norm over head_dim before the rotation, attention_bias
    # on q/k/v/o) with a dynamic mask: A (one per KV head) and dt_proj (the values' KV heads ->
    # one score a KV head, attention_bias) add exp(A softplus(dt)) to each key's scores and keep
    # the keep_window_size best keys a query; each block scales its two residuals by a learned
    # vector (input_residual, post_attention_residual). DogeMLP: LLaMA's (mlp_bias). Its MoE
    # (is_moe, CDMoE) refused: doge_unbuilt.
    "doge": Family("DogeForCausalLM", "DogeConfig", None, None, "mlp_bias", True,
                   depth_only="a dynamic attention mask (A and dt_proj score each key from the "
                              "values of its KV head, kept by keep_window_size) and residuals "
                              "scaled by a learned vector each"),
    # Dory (NVIDIA's Nemotron-Labs Dory, a looped nGPT): DoryAttention is AFMoE's with no
    # norm weights (q / k L2-normed over head_dim before the rotation, the queries then scaled
    # by `sqk`, a sigmoid output gate `gate_proj` scaled by `s_gate`, an L2 norm before o_proj;
    # attention_bias on q/k/v/o), DoryMLP LLaMA's (mlp_bias) scaled by `suv_gate` / `suv_up`
    # with an L2 norm before down_proj; Gemma-2's four norm places, all weightless, around an
    # interpolating residual (`lambda_1`, `lambda_2`); DoryLMHead scales each token's logit
    # (`logit_scale`, `lm_head_bias_params`). The blocks of its recurrent section run
    # n_recurrent_loops times (`block_passes`, `dory_sections`).
    "dory": Family("DoryForCausalLM", "DoryConfig", None, None, "mlp_bias", False,
                   sandwich_norms=True, rms_norm_weightless=True, output_gate=True,
                   depth_only="nGPT's weightless L2 norms on the unit sphere, interpolating "
                              "residuals of learned rates (lambda_1 / lambda_2), scaled queries, "
                              "output gates and MLP channels (sqk, s_gate, suv_gate / suv_up), "
                              "and a recurrent section of blocks run n_recurrent_loops times",
                   min_transformers="5.24.0"),
    # Llama 3.2 Vision's language model (MllamaTextModel): LLaMA's self-attention blocks
    # (MllamaSelfAttentionDecoderLayer: no biases, head_dim hidden / heads) with, at the
    # indices cross_attention_layers lists, cross-attention blocks (MllamaCrossAttentionDecoder
    # Layer: q/k/v/o over the image states, q_norm / k_norm of head_dim, a tanh gate on each
    # sublayer) that the model skips on text (nothing to attend to, nothing cached): kept by a
    # depth prune (depth_kept_blocks) and whole by width pruning and BlockPruner (text_blocks:
    # their self-attention blocks alone), counted (layer_shapes' cross_attention), neither
    # read nor caching a step (benchmark.floors), left out by the compiled decoder. Its
    # embedding holds 8 rows past vocab_size for the image tokens (embedding_rows); the LM
    # head is never tied (tied_embeddings).
    "mllama_text_model": Family("MllamaForCausalLM", "MllamaTextConfig", False, False, None,
                                False, mlp_bias=False),
    # ModernBertDecoderLayer: attn_norm (none in block 0: an Identity by its index) ->
    # ModernBertDecoderAttention (q/k/v_proj and Wo, attention_bias; a window of
    # local_attention // 2 on layer_types' sliding blocks, a rotary base each kind) and
    # mlp_norm -> ModernBertDecoderMLP (one Wi of rows [input; gate], act(input) x gate, then
    # Wo; mlp_bias); LayerNorms biased by norm_bias, one on the embeddings too; after the
    # final norm a prediction head (`lm_head`: dense, classifier_bias, act, norm) before the
    # LM head `decoder` (decoder_bias), tied by default. Its attention rotates q and k in
    # float32 with tables of the model's dtype (Cohere's `rotate_float32`).
    "modernbert-decoder": Family("ModernBertDecoderForCausalLM", "ModernBertDecoderConfig",
                                 None, None, "mlp_bias", False, embedding_norm=True,
                                 kv_per_query_head=True,
                                 norm_bias_key="norm_bias", lm_head_bias_key="decoder_bias",
                                 prediction_head=True, first_attention_unnormed=True,
                                 rotate_float32=True, packed=("gate_up_proj",)),
    # MixtralAttention: Mistral's (no biases); MixtralSparseMoeBlock (`mlp`): a router and
    # num_local_experts experts of intermediate_size each, in every block.
    "mixtral": Family("MixtralForCausalLM", "MixtralConfig", False, False, None, False,
                      moe_intermediate_key="intermediate_size"),
    # PhimoeAttention: attention_bias for all four projections (true in Phi-3.5-MoE's config);
    # PhimoeDecoderLayer: nn.LayerNorm (weight and bias) before each sublayer, and a
    # PhimoeSparseMoeBlock of num_local_experts experts of intermediate_size under `mlp`, its
    # router `mlp.router` (no bias; sparsemixer top-2 routing); PhimoeModel's final norm a
    # LayerNorm too, PhimoeForCausalLM's head biased as lm_head_bias says.
    "phimoe": Family("PhimoeForCausalLM", "PhimoeConfig", None, None, None, False,
                     moe_intermediate_key="intermediate_size", norm_bias=True,
                     lm_head_bias_key="lm_head_bias",
                     # microsoft/Phi-3.5-MoE-instruct's config.json `auto_map`.
                     shipped_code=("configuration_phimoe.PhiMoEConfig",
                                   "modeling_phimoe.PhiMoEForCausalLM")),
    # Qwen3MoeAttention: Qwen3's (attention_bias for all four, per-head q/k norms);
    # Qwen3MoeDecoderLayer: a Qwen3MoeSparseMoeBlock of experts of moe_intermediate_size, or a
    # dense Qwen3MoeMLP of intermediate_size in the blocks of `mlp_only_layers` and those that
    # `decoder_sparse_step` skips (`sparse_mlp_blocks`).
    "qwen3_moe": Family("Qwen3MoeForCausalLM", "Qwen3MoeConfig", None, None, None, True,
                        moe_intermediate_key="moe_intermediate_size",
                        sparse_blocks=SparseBlocks.unless_listed()),
    # OlmoeAttention: attention_bias for all four (no published model sets it), OLMo-2's q/k
    # norms over the whole projections (hidden_size and KV heads x head_dim wide), clip_qkv
    # clamping q, k and v when set; OlmoeDecoderLayer: LLaMA's norms before the sublayers
    # (not OLMo-2's after them), a router and num_experts experts of intermediate_size in
    # every block; OlmoeRMSNorm is LLaMA's (the weight after the cast back).
    "olmoe": Family("OlmoeForCausalLM", "OlmoeConfig", None, None, None, False,
                    qk_norm_whole=True, moe_intermediate_key="intermediate_size"),
    # Qwen2MoeAttention: Qwen2's, its q/k/v biases as the config's `qkv_bias` says (true by
    # default and in the published models), none on o_proj; Qwen2MoeDecoderLayer: Qwen3-MoE's
    # choice of block kind (`mlp_only_layers`, `decoder_sparse_step`), a dense Qwen2MoeMLP of
    # intermediate_size or a Qwen2MoeSparseMoeBlock: a router over num_experts experts of
    # moe_intermediate_size and a shared expert of shared_expert_intermediate_size, scaled by
    # the sigmoid of a one-output gate, that every token goes through.
    "qwen2_moe": Family("Qwen2MoeForCausalLM", "Qwen2MoeConfig", None, False, None, False,
                        moe_intermediate_key="moe_intermediate_size",
                        sparse_blocks=SparseBlocks.unless_listed(),
                        shared_expert=SharedExpert.gated("shared_expert_intermediate_size"),
                        attention_bias_key="qkv_bias"),
    # Flint (FlintConfig, transformers 5.21 on): Qwen3-MoE's attention (biases on all four
    # projections as attention_bias says, false as published; per-head q_norm / k_norm) with a
    # learned sink logit per query head (`self_attn.sinks`, float32: eager attention, as
    # FlintPreTrainedModel refuses SDPA) and rotary positions on the sliding blocks alone (the
    # full-attention blocks `layer_types` names, by FlintConfig the first two, every fourth
    # from block 1 and the last, attend without them); GPT-oss's RMSNorm (the weight on the
    # float32 statistics); FlintModel is Qwen2-MoE's, its blocks Qwen3-MoE's: a dense Qwen3
    # MLP of intermediate_size in the blocks of `mlp_only_layers` ([0, 1] where null) and those
    # decoder_sparse_step skips, else a float32 sigmoid router over num_experts experts of
    # moe_intermediate_size and one ungated SwiGLU shared expert of
    # shared_expert_intermediate_size (`mlp.shared_expert`, no sigmoid gate: Qwen2-MoE's
    # without it), no biases; untied.
    "flint": Family("FlintForCausalLM", "FlintConfig", None, None, None, True,
                    norm_weight_float32=True, global_nope=True, attention_sinks=True,
                    moe_intermediate_key="moe_intermediate_size",
                    sparse_blocks=SparseBlocks.unless_listed(),
                    shared_expert=SharedExpert.one("shared_expert_intermediate_size"),
                    min_transformers="5.21.0"),
    # GraniteMoeAttention: LLaMA's biases by attention_bias; GraniteMoeDecoderLayer: LLaMA's
    # norms before the sublayers and Granite's scalars (embedding, residual, attention and
    # logits multipliers), its MLP a GraniteMoeMoE under `block_sparse_moe` in every block: a
    # router over num_local_experts experts of intermediate_size, no biases.
    "granitemoe": Family("GraniteMoeForCausalLM", "GraniteMoeConfig", None, None, None, False,
                         multipliers=True, moe_intermediate_key="intermediate_size"),
    # GraniteMoeSharedDecoderLayer: GraniteMoE's (its attention, norms, scalars and
    # `block_sparse_moe`) and, where shared_intermediate_size is above 0, a
    # GraniteMoeSharedMLP beside the experts (`shared_mlp`: input_linear [gate; up] packed,
    # output_linear, no biases) of that width, which every token goes through, unscaled.
    "granitemoeshared": Family("GraniteMoeSharedForCausalLM", "GraniteMoeSharedConfig", None,
                               None, None, False, multipliers=True,
                               moe_intermediate_key="intermediate_size",
                               shared_expert=SharedExpert.one("shared_intermediate_size")),
    # GraniteMoeSWADecoderLayer: GraniteMoE-Shared's (Granite's scalars, `block_sparse_moe`, a
    # `shared_mlp` where shared_intermediate_size > 0, 0 by default) with GraniteSWA's
    # attention: LLaMA's biases by attention_bias, a window on the blocks `layer_types` names
    # sliding (every block but each fourth from block 0 where config.json gives none), each
    # block's rotary base from `layer_rope_theta` (0: no rotation) and a learned sink logit per
    # query head (`self_attn.sinks`, gpt-oss's: eager attention, as transformers builds it).
    "granitemoe_swa": Family("GraniteMoeSWAForCausalLM", "GraniteMoeSWAConfig", None, None,
                             None, False, multipliers=True,
                             moe_intermediate_key="intermediate_size",
                             shared_expert=SharedExpert.one("shared_intermediate_size"),
                             attention_sinks=True),
    # GptOssAttention: attention_bias for all four (true in the published configs) and a sink
    # logit per query head; GptOssDecoderLayer: LLaMA's norms before the sublayers
    # (GptOssRMSNorm weighs the float32 statistics before the cast back, as OLMo-2's), and
    # in every block a GptOssMLP: a router with a bias and num_local_experts experts of
    # intermediate_size with biases, their clamped SwiGLU's gate and up interleaved;
    # sliding windows on every other block (`layer_types`).
    "gpt_oss": Family("GptOssForCausalLM", "GptOssConfig", None, None, None, False,
                      norm_weight_float32=True, moe_intermediate_key="intermediate_size",
                      moe_biases=True, attention_sinks=True),
    # DeepseekV3Attention: multi-head latent attention (`latent_attention`, mla_params);
    # DeepseekV3DecoderLayer: a dense DeepseekV3MLP of intermediate_size in the first
    # `first_k_dense_replace` blocks (`SparseBlocks.after_first`), a DeepseekV3MoE after them: a
    # router over n_routed_experts experts of moe_intermediate_size (its weight float32, its
    # e_score_correction_bias a buffer, no parameter) and n_shared_experts shared experts
    # fused into one DeepseekV3MLP of moe_intermediate_size x n_shared_experts, which every
    # token goes through, unscaled.
    # (qkv_bias / o_bias False: mla_params counts attention_bias's biases itself.)
    "deepseek_v3": Family("DeepseekV3ForCausalLM", "DeepseekV3Config", False, False, None, False,
                          moe_intermediate_key="moe_intermediate_size", latent_attention=True,
                          sparse_blocks=SparseBlocks.after_first("first_k_dense_replace"),
                          shared_expert=SharedExpert.count("n_shared_experts"),
                          # deepseek-ai's DeepSeek-V3 / R1 config.json `auto_map`.
                          shipped_code=("configuration_deepseek.DeepseekV3Config",
                                        "modeling_deepseek.DeepseekV3Model",
                                        "modeling_deepseek.DeepseekV3ForCausalLM")),
    # Sarvam-MLA (sarvam-105b; SarvamMLAConfig, transformers 5.24 on): built by transformers as
    # DeepseekV3ForCausalLM (its auto mapping), DeepSeek-V3's latent attention (queries
    # without a rank as published: one q_proj), dense prefix, router and fused shared experts;
    # its config.json's num_shared_experts read as n_shared_experts (CONFIG_KEY_NAMES), its
    # legacy head_dim (kv_lora_rank + qk_rope_head_dim, vLLM's) as qk_rope_head_dim and its
    # `deepseek_yarn` rope type as yarn, as SarvamMLAConfig reads them; published under
    # DeepSeek-V3's names (transformers maps sarvam_mla onto qwen2_moe's conversion alone).
    "sarvam_mla": Family("DeepseekV3ForCausalLM", "SarvamMLAConfig", False, False, None, False,
                         moe_intermediate_key="moe_intermediate_size", latent_attention=True,
                         sparse_blocks=SparseBlocks.after_first("first_k_dense_replace"),
                         shared_expert=SharedExpert.count("n_shared_experts"),
                         min_transformers="5.24.0"),
    # DeepseekV32Attention: DeepSeek-V3's latent attention (queries always through q_lora_rank:
    # a null rank builds no indexer, refused) and a lightning indexer (`self_attn.indexer`,
    # `attention_indexer`: wq_b from the query latent, wk, a LayerNorm k_norm with a bias and
    # weights_proj, counted by indexer_params) whose top index_topk keys per query are the only
    # ones attended; DeepseekV32DecoderLayer: DeepSeek-V3's dense prefix (mlp_layer_types,
    # derived from first_k_dense_replace), router, experts and fused shared experts.
    "deepseek_v32": Family("DeepseekV32ForCausalLM", "DeepseekV32Config", False, False, None,
                           False, moe_intermediate_key="moe_intermediate_size",
                           latent_attention=True, attention_indexer=True,
                           sparse_blocks=SparseBlocks.named("mlp_layer_types",
                                                            "intermediate_size"),
                           shared_expert=SharedExpert.count("n_shared_experts")),
    # AXK1Attention (SK Telecom's A.X K1): DeepSeek-V3's latent attention, its queries always
    # through q_lora_rank (a null rank refused); AXK1DecoderLayer: DeepSeek-V3's dense
    # prefix (mlp_layer_types in 5.25, first_k_dense_replace in 5.17: SparseBlocks.
    # named_or_first), router (float32, a score-correction buffer), experts and fused shared
    # experts, the MoE output normed by its own RMSNorm (`moe_output_norm`).
    "axk1": Family("AXK1ForCausalLM", "AXK1Config", False, False, None, False,
                   moe_intermediate_key="moe_intermediate_size", latent_attention=True,
                   moe_output_norm=True,
                   sparse_blocks=SparseBlocks.named_or_first("mlp_layer_types",
                                                             "first_k_dense_replace"),
                   shared_expert=SharedExpert.count("n_shared_experts")),
    # AXK2Attention (SK Telecom's A.X K2 / K2-Light): DeepSeek-V3.2's latent attention and
    # lightning indexer in every block, its queries and an output gate a value channel from
    # one q_gate_proj over the query latent normed and not (2 x q_lora_rank -> heads x
    # (qk_head_dim + v_head_dim): mla_params); AXK2DecoderLayer: every input_layernorm and a
    # sparse block's post_attention_layernorm an RMSNorm times a sigmoid of a low-rank SiLU
    # MLP of it (hidden -> gated_norm_rank -> hidden: gated_norm_params); DeepSeek-V3's dense
    # prefix (mlp_layer_types), a float32 sigmoid router from 5.24, grouped where n_group is
    # set, experts and fused shared experts. 5.17 to 5.23 hold the router in the model's dtype
    # (RELEASE_REASONS).
    "axk2": Family("AXK2ForCausalLM", "AXK2Config", False, False, None, False,
                   moe_intermediate_key="moe_intermediate_size", latent_attention=True,
                   attention_indexer=True,
                   sparse_blocks=SparseBlocks.named("mlp_layer_types", "intermediate_size"),
                   shared_expert=SharedExpert.count("n_shared_experts"),
                   min_transformers="5.24.0"),
    # GlmMoeDsaAttention (GLM-5): DeepSeek-V3.2's latent attention and lightning indexer
    # (its rotation interleaved), the indexer only in the blocks `indexer_types` names "full";
    # a "shared" block builds none and attends to the top keys the last "full" block before it
    # chose (indexer_blocks); GlmMoeDsaDecoderLayer: DeepSeek-V3.2's dense prefix
    # (mlp_layer_types, derived from first_k_dense_replace), router, experts and fused shared
    # experts.
    "glm_moe_dsa": Family("GlmMoeDsaForCausalLM", "GlmMoeDsaConfig", False, False, None,
                          False, moe_intermediate_key="moe_intermediate_size",
                          latent_attention=True, attention_indexer=True,
                          sparse_blocks=SparseBlocks.named("mlp_layer_types",
                                                           "intermediate_size"),
                          shared_expert=SharedExpert.count("n_shared_experts")),
    # InklingDecoderLayer (Thinking Machines' Inkling, its language model): attention of its
    # own heads in the blocks `layer_types` names "hybrid_sliding" (swa_* heads, KV heads and
    # head_dim, windowed) and "hybrid", each with per-head q/k RMSNorms, a short convolution on
    # its keys and on its values, a relative-position bias from r_proj (heads x d_rel) and a
    # d_rel x extent table; a short convolution on the attention's and the MLP's outputs; the
    # MLP `mlp_layer_types` names: a dense one with a scalar gain, or a float32 sigmoid router
    # over the routed and the shared experts (its score-correction buffer, a scalar gain), the
    # experts and n_shared_experts shared experts; a normed embedding, an untied head, logits
    # over the unpadded vocabulary (all counted by inkling_block_params). 5.17 to 5.22 route
    # in the model's dtype, 5.17 to 5.24's static cache fails on the windowed blocks
    # (RELEASE_REASONS).
    "inkling_text": Family("InklingForCausalLM", "InklingTextConfig", False, False, None, True,
                           moe_intermediate_key="moe_intermediate_size", embedding_norm=True,
                           sparse_blocks=SparseBlocks.named("mlp_layer_types",
                                                            "intermediate_size"),
                           shared_expert=SharedExpert.count("n_shared_experts"),
                           min_transformers="5.25.0"),
    # Inkling2SlidingDecoderLayer / Inkling2FullDecoderLayer (Thinking Machines' Inkling 2,
    # its language model): attention of its own heads in the blocks `layer_types` names
    # "hybrid_sliding" (swa_* heads, KV heads and head_dim, windowed) and in the others (the
    # config's, full, their key and value convolutions dynamic and each projection's input
    # normed apart), each with a gated output, a sink logit a head, scaled q / relative-state
    # clips and a relative-position bias; short convolutions on the keys, the values and both
    # sublayers' outputs; a block attention residual's learned queries before the attention
    # (none in block 0) and the MLP; a float32 sigmoid router over the experts in every block;
    # a normed embedding, one more residual query before the final norm, an untied head of
    # unpadded_vocab_size rows (all counted by inkling2_block_params and
    # non_block_param_count). 5.23 builds another model and 5.24's static cache fails on the
    # windowed blocks (RELEASE_REASONS). Depth prunes remove whole groups of
    # n_layers_per_attn_res_block blocks (whole_period).
    "inkling2_text": Family("Inkling2ForCausalLM", "Inkling2TextConfig", False, False, None,
                            False, moe_intermediate_key="moe_intermediate_size",
                            embedding_norm=True, sparse_blocks=SparseBlocks.every(None),
                            head_vocab_key="unpadded_vocab_size", min_transformers="5.25.0"),
    # HYV4Attention (Tencent's Hy4): GLM-MoE-DSA's latent attention and lightning indexer
    # (indexer_types "full" / "shared": indexer_blocks), its output gated a value channel
    # (gate_proj, hidden -> heads x v_head_dim) and a float32 sink logit a head;
    # HYV4DecoderLayer: hc_mult residual streams, mixed into each sublayer's input and the
    # sublayer's output spread back over them by a float32 hyper-connection (attn_hc, ffn_hc:
    # own_block_params), the streams collapsed by a float32 hc_head before the final norm
    # (non_block_param_count); the MLP `mlp_layer_types` names (block 0 dense by default),
    # GLM-4.7-Flash's float32 sigmoid router with its score-correction buffer, experts and
    # fused shared experts. 5.17 to 5.24 rotate the rope slice in halves, 5.25 in interleaved
    # pairs (RELEASE_REASONS).
    "hy_v4": Family("HYV4ForCausalLM", "HYV4Config", False, False, None, False,
                    moe_intermediate_key="moe_intermediate_size", latent_attention=True,
                    attention_indexer=True,
                    sparse_blocks=SparseBlocks.named("mlp_layer_types", "intermediate_size"),
                    shared_expert=SharedExpert.count("n_shared_experts"),
                    min_transformers="5.25.0"),
    # DeepseekV4Attention (DeepSeek-V4): queries through q_lora_rank, one key-value head read as
    # both keys and values (kv_proj), a grouped output projection (o_a_proj a group, o_b_proj)
    # and float32 sinks; a compressor by each block's layer_types (HCA's, CSA's with a lightning
    # indexer of its own, none in a sliding block); hc_mult residual streams mixed by float32
    # hyper-connections (attn_hc, ffn_hc) and collapsed by hc_head; every block's experts
    # routed by top k or by the token's id (mlp_layer_types "hash_moe": tid2eid, a buffer)
    # beside one shared expert as wide as an expert (deepseek_v4_block_params). 5.17 to 5.23
    # build its hyper-connections, norms and sinks in the model's dtype (RELEASE_REASONS).
    "deepseek_v4": Family("DeepseekV4ForCausalLM", "DeepseekV4Config", False, False, None,
                          False, moe_intermediate_key="moe_intermediate_size",
                          shared_expert=SharedExpert.one(), min_transformers="5.24.0"),
    # Dots3NoteTextAttention (Dots Studio's Dots 3 Note, its language model): DeepSeek-
    # V3's latent attention (queries always through q_lora_rank) of each block's own heads and
    # ranks (per_layer_config: the sliding blocks' differ, `latent_block_shapes`), its latents
    # rescaled, its shared rotated key normed (k_rope_only_layernorm), its output gated per
    # head (g_proj); the lightning indexer of GLM-MoE-DSA in the blocks layer_types names
    # "indexed_attention", none in the "sliding_attention" ones (windowed); the decoder layer
    # DeepSeek-V3.2's (mlp_layer_types, a grouped sigmoid router of float32 weights from 5.24,
    # fused experts, n_shared_experts shared ones of shared_experts_intermediate_size).
    "dots3_note_text": Family("Dots3NoteForCausalLM", "Dots3NoteTextConfig", False, False,
                              None, False, moe_intermediate_key="moe_intermediate_size",
                              latent_attention=True, attention_indexer=True,
                              sparse_blocks=SparseBlocks.named("mlp_layer_types",
                                                               "intermediate_size"),
                              shared_expert=SharedExpert.count(
                                  "n_shared_experts",
                                  width_key="shared_experts_intermediate_size"),
                              min_transformers="5.24.0"),
    # DeepseekV2Attention / DeepseekV2DecoderLayer: DeepSeek-V3's (latent attention, dense
    # prefix, shared experts fused in one MLP), its router a softmax over n_routed_experts
    # (greedy or group-limited top k) without V3's score-correction buffer, and its MLPs (the
    # dense blocks' and the shared experts') with biases as the config's `mlp_bias` says
    # (false in the published models); the routed experts have none.
    "deepseek_v2": Family("DeepseekV2ForCausalLM", "DeepseekV2Config", False, False, "mlp_bias",
                          False, moe_intermediate_key="moe_intermediate_size",
                          latent_attention=True,
                          sparse_blocks=SparseBlocks.after_first("first_k_dense_replace"),
                          shared_expert=SharedExpert.count("n_shared_experts"),
                          # deepseek-ai's DeepSeek-V2(-Lite) config.json `auto_map`.
                          shipped_code=("configuration_deepseek.DeepseekV2Config",
                                        "modeling_deepseek.DeepseekV2Model",
                                        "modeling_deepseek.DeepseekV2ForCausalLM")),
    # MiniCPM3Attention: DeepseekV2Attention's latent attention (biases on q_a_proj,
    # kv_a_proj_with_mqa and o_proj by attention_bias: mla_params), rotating LLaMA's way;
    # MiniCPM3DecoderLayer: LLaMA's norms and MLP (mlp_bias), each sublayer's output times
    # scale_depth / sqrt(num_hidden_layers); embeddings times scale_emb, the last hidden
    # states divided by hidden_size / dim_model_base: no parameter of them.
    "minicpm3": Family("MiniCPM3ForCausalLM", "MiniCPM3Config", False, False, "mlp_bias", False,
                       latent_attention=True, depth_scale_key="scale_depth"),
    # YoutuAttention: DeepseekV3Attention's latent attention (biases on q_a_proj,
    # kv_a_proj_with_mqa and o_proj by attention_bias: mla_params; rope_interleave as
    # DeepSeek-V3's); YoutuDecoderLayer: LLaMA's two norms and a dense Qwen3 MLP (no biases)
    # in every block; tied as published. A dense model of latent attention, as MiniCPM3's.
    "youtu": Family("YoutuForCausalLM", "YoutuConfig", False, False, None, False,
                    latent_attention=True),
    # Mistral4Attention: DeepSeek-V3's latent attention, its queries scaled by position past
    # the original context as Ministral 3's (`position_query_scale`); Mistral4DecoderLayer:
    # DeepSeek's dense prefix (first_k_dense_replace) and Mistral4MoE (DeepseekV3MoE): a
    # router over n_routed_experts experts of moe_intermediate_size, a softmax over them
    # (DeepSeek-V2's) with V3's group-limited top k and no score-correction buffer, its
    # weight in the model's dtype (DeepSeek's is float32), and n_shared_experts shared
    # experts fused in one MLP; no MLP biases.
    "mistral4": Family("Mistral4ForCausalLM", "Mistral4Config", False, False, None, False,
                       moe_intermediate_key="moe_intermediate_size", latent_attention=True,
                       position_query_scale=True,
                       sparse_blocks=SparseBlocks.after_first("first_k_dense_replace"),
                       shared_expert=SharedExpert.count("n_shared_experts")),
    # Glm4MoeAttention: GQA with q/k/v biases as attention_bias says (true in the published
    # configs), none on o_proj, a per-head q_norm / k_norm (RMSNorm of head_dim) where
    # `use_qk_norm` is set, half of each head rotating (partial_rotary_factor 0.5, LLaMA's
    # rotate_half pairs: no parameter); Glm4MoeDecoderLayer: LLaMA's two norms, a dense
    # Glm4MoeMLP of intermediate_size in the first `first_k_dense_replace` blocks and a
    # Glm4MoeMoE after them: DeepSeek-V3's sigmoid router (weight experts x hidden,
    # e_score_correction_bias a buffer), n_routed_experts experts of moe_intermediate_size
    # and n_shared_experts shared experts fused into one ungated MLP, no biases.
    "glm4_moe": Family("Glm4MoeForCausalLM", "Glm4MoeConfig", None, False, None, False,
                       moe_intermediate_key="moe_intermediate_size",
                       sparse_blocks=SparseBlocks.after_first("first_k_dense_replace"),
                       shared_expert=SharedExpert.count("n_shared_experts"),
                       qk_norm_key="use_qk_norm"),
    # Sarvam-MoE (sarvam-30b; SarvamMoEConfig, transformers 5.24 on) and Param2-MoE
    # (BharatGen's Param2-17B-A2.4B; Param2MoeConfig, 5.25 on): built by transformers as
    # Glm4MoeForCausalLM (their auto mapping), GLM-4.5's block with q/k norms (use_qk_norm,
    # true as published) and whole heads rotating (partial_rotary_factor 1.0 where left out);
    # their config.json's num_experts / num_shared_experts / use_qkv_bias read as n_routed_
    # experts / n_shared_experts / attention_bias (CONFIG_KEY_NAMES), their own code's keys
    # the Glm4Moe class does not build refused unless as published (`sarvam_moe_unbuilt`);
    # their checkpoints' own names and fused query_key_value taken apart on import
    # (moe_fuse.RENAMED, QKV_SPLIT); the code their config.json names set aside.
    "sarvam_moe": Family("Glm4MoeForCausalLM", "SarvamMoEConfig", None, False, None, False,
                         **_GLM4_MOE_BLOCKS,
                         shipped_code=("configuration_sarvam_moe.SarvamMoEConfig",
                                       "modeling_sarvam_moe.SarvamMoEForCausalLM"),
                         min_transformers="5.24.0"),
    "param2moe": Family("Glm4MoeForCausalLM", "Param2MoeConfig", None, False, None, False,
                        **_GLM4_MOE_BLOCKS,
                        # (its own code's names, as public code loads them from its hub
                        # repository; its base model too, as an auto_map may name it)
                        shipped_code=("configuration_param2moe.Param2MoEConfig",
                                      "modeling_param2moe.Param2MoEForCausalLM",
                                      "modeling_param2moe.Param2MoEModel"),
                        min_transformers="5.25.0"),
    # Glm4MoeLiteAttention: DeepseekV3Attention's latent attention (not GLM-4.5's GQA);
    # Glm4MoeLiteDecoderLayer: LLaMA's two norms and the MLP its entry of `mlp_layer_types`
    # names (Glm4MoeLiteConfig's: block 0 dense, the others sparse, where config.json gives
    # none; no first_k_dense_replace read): a dense Glm4MoeMLP of intermediate_size or GLM-4.5's
    # Glm4MoeMoE (DeepSeek-V3's sigmoid router, e_score_correction_bias a buffer,
    # n_routed_experts experts of moe_intermediate_size, n_shared_experts shared experts fused
    # into one ungated MLP), no biases; untied.
    "glm4_moe_lite": Family("Glm4MoeLiteForCausalLM", "Glm4MoeLiteConfig", False, False, None,
                            False, moe_intermediate_key="moe_intermediate_size",
                            latent_attention=True,
                            sparse_blocks=SparseBlocks.named("mlp_layer_types",
                                                             "intermediate_size"),
                            shared_expert=SharedExpert.count("n_shared_experts")),
    # LongcatFlashDecoderLayer (transformers 5.25 on: RELEASE_REASONS): two of DeepSeek-V3's
    # latent attentions (LongcatFlashMLA: a query rank always, biases on q_a_proj,
    # kv_a_proj_with_mqa and o_proj by attention_bias; its LoRA scales no parameter), two
    # dense SwiGLU MLPs of ffn_hidden_size (`mlps`), four RMSNorms (input_layernorm and
    # post_attention_layernorm, two each) and a shortcut LongcatFlashMoE (`mlp`): a router
    # (`router.classifier`, n_routed_experts + zero_expert_num rows, biased where router_bias
    # says; e_score_correction_bias a buffer) and n_routed_experts experts of
    # expert_ffn_hidden_size (a zero expert holds nothing). num_layers blocks
    # (`block_count_key`: num_hidden_layers counts the attentions); untied.
    "longcat_flash": Family("LongcatFlashForCausalLM", "LongcatFlashConfig", False, False, None,
                            False, moe_intermediate_key="expert_ffn_hidden_size",
                            latent_attention=True, block_count_key="num_layers",
                            min_transformers="5.25.0"),
    # MiniCPM5-MoE (MiniCPM5MoeConfig, transformers 5.25 on): LLaMA's attention (biases on
    # all four as attention_bias says, false as published) whose query projection also gives
    # each head's output gate (`self_attn.q_gate_proj`, twice q_proj's rows, each head's
    # query then its gate: Qwen3-Next's `gated_query` under another name; the published
    # checkpoints' `self_attn.q_proj`, renamed on import), the output times sigmoid(gate)
    # before o_proj; GLM-4.7-Flash's block (LLaMA's two norms, the MLP its entry of
    # `mlp_layer_types` names: MiniCPM5MoeConfig derives it from first_k_dense_replace, 1
    # where config.json gives none, a key it does not keep): a dense MLP of intermediate_size
    # or DeepSeek-V3's MoE (a float32 grouped sigmoid router, e_score_correction_bias a
    # buffer, n_routed_experts experts of moe_intermediate_size and n_shared_experts shared
    # experts fused into one ungated MLP), no biases; untied.
    "minicpm5_moe": Family("MiniCPM5MoeForCausalLM", "MiniCPM5MoeConfig", None, None, None,
                           False, gated_query=True, moe_intermediate_key="moe_intermediate_size",
                           sparse_blocks=SparseBlocks.named("mlp_layer_types",
                                                            "intermediate_size"),
                           shared_expert=SharedExpert.count("n_shared_experts"),
                           min_transformers="5.25.0"),
    # Ergo (ErgoConfig, transformers 5.25 on): one packed qkv_proj (every query head, then the
    # KV heads' keys, then their values, head_dim hidden / heads whatever config.json says),
    # o_proj, no biases, per-head q_norm / k_norm; rotary positions on the sliding blocks alone
    # (every global_attention_every_n_layers-th block global, without them); Gemma-2's four
    # norms a block (the sublayers' outputs normed too) and two residual gates of hidden_size
    # (`attention_residual_gate`, `feedforward_residual_gate`: own_block_params); the MLP its
    # entry of `mlp_layer_types` names (the first num_dense_blocks dense where config.json lists
    # none): an ungated relu2 MLP (up_proj, down_proj) of first_dense_intermediate_size, or a
    # float32 sigmoid router (`mlp.gate.linear`, e_score_correction_bias a buffer) over
    # num_experts ungated relu2 experts of moe_intermediate_size, each ending in an RMSNorm of
    # its own, beside one ungated shared expert of shared_intermediate_size ending in its norm
    # (expert_norms); an LM head of float32 outputs, never tied (ErgoConfig holds no
    # tie_word_embeddings: `tied_embeddings`).
    "ergo": Family("ErgoForCausalLM", "ErgoConfig", False, False, None, True,
                   sandwich_norms=True, packed=("qkv_proj",), global_nope=True,
                   ungated_mlp=True, moe_intermediate_key="moe_intermediate_size",
                   sparse_blocks=SparseBlocks.named("mlp_layer_types",
                                                    "first_dense_intermediate_size"),
                   shared_expert=SharedExpert.one("shared_intermediate_size"),
                   expert_norms=True, min_transformers="5.25.0"),
    # ZayaDecoderLayer (Zyphra's ZAYA1): LLaMA's two norms around a compressed convolutional
    # attention (ZayaCCAProjection: LLaMA's q/k/v rows, the values split into a current and a
    # one-token-delayed half, q and k mixed by a depthwise and a grouped causal convolution
    # over time whose states the cache holds; an L2 q/k norm with a learned key scale a KV
    # head, `temp`; half of each head rotating) and a ZayaSparseMoeBlock: an MLP router of
    # its own width (router_hidden_size) over num_experts + 1 classes (the last a skip
    # expert computing nothing), reading the previous block's router state in every block but
    # block 0, and experts of moe_intermediate_size; each sublayer's output and the residual
    # scaled and shifted (ZayaResidualScaling), the embeddings too: counted by
    # own_block_params, zaya_router_params, non_block_param_count. LM head bias by
    # lm_head_bias; tied as published.
    "zaya": Family("ZayaForCausalLM", "ZayaConfig", None, None, None, False,
                   moe_intermediate_key="moe_intermediate_size", lm_head_bias_key="lm_head_bias"),
    # SolarOpenAttention: LLaMA's (q/k/v biases as attention_bias says, false as published; an
    # o_proj never biased; GQA, head_dim set apart, whole heads rotating), no q/k norms;
    # SolarOpenDecoderLayer: LLaMA's two norms and, in every block (no dense prefix), GLM-4.5's
    # Glm4MoeMoE (`mlp`): DeepSeek-V3's sigmoid router (weight experts x hidden, float32 in
    # 5.25, e_score_correction_bias a buffer), n_routed_experts experts of
    # moe_intermediate_size and n_shared_experts shared experts fused into one ungated MLP
    # (width 0 where none: no parameters), no biases; untied.
    "solar_open": Family("SolarOpenForCausalLM", "SolarOpenConfig", None, False, None, False,
                         moe_intermediate_key="moe_intermediate_size",
                         sparse_blocks=SparseBlocks.every(None),
                         shared_expert=SharedExpert.count("n_shared_experts")),
    # AriaTextAttention: LLaMA's (all four projections biased as attention_bias says; GQA,
    # head_dim set apart); AriaTextDecoderLayer: LLaMA's two norms and, in every block, an
    # AriaTextMoELayer (`mlp`): a router (weight experts x hidden, no bias: 5.17's nn.Linear,
    # 5.25's AriaTextTopKRouter) choosing moe_topk of moe_num_experts experts of
    # intermediate_size (no biases; 5.17's experts.fc1 / fc2, 5.25's gate_up_proj / down_proj,
    # the same [in, out] tensors: modeling.EQUAL_NAMES), and moe_num_shared_experts shared
    # experts fused in one MLP that many times as wide (biased as mlp_bias says), summed
    # unscaled; no dense MLP; untied.
    "aria_text": Family("AriaTextForCausalLM", "AriaTextConfig", None, None, "mlp_bias", False,
                        moe_intermediate_key="intermediate_size",
                        sparse_blocks=SparseBlocks.every(None),
                        shared_expert=SharedExpert.count("moe_num_shared_experts")),
    # Dots1Attention: Qwen3's (biases on all four projections as attention_bias says, false
    # in the published config; per-head q_norm / k_norm, RMSNorms of head_dim shared by the
    # heads; each block's window or full attention as layer_types says); Dots1DecoderLayer:
    # LLaMA's two norms, a dense Dots1MLP of intermediate_size in the first
    # `first_k_dense_replace` blocks and a Dots1MoE after them: DeepSeek-V3's router (its
    # weight float32, e_score_correction_bias a buffer, grouped top k), n_routed_experts
    # experts of moe_intermediate_size and n_shared_experts shared experts fused into one
    # MLP, no biases; no latent attention (plain GQA).
    "dots1": Family("Dots1ForCausalLM", "Dots1Config", None, None, None, True,
                    moe_intermediate_key="moe_intermediate_size",
                    sparse_blocks=SparseBlocks.after_first("first_k_dense_replace"),
                    shared_expert=SharedExpert.count("n_shared_experts")),
    # AfmoeAttention: LLaMA's (biases on all four by attention_bias, false as published),
    # Qwen3's per-head q/k norms, a sigmoid output gate of its own (`self_attn.gate_proj`,
    # hidden -> heads x head_dim, no bias: `output_gate`); the blocks `layer_types` names
    # sliding (all but each global_attn_every_n_layers-th, where config.json gives none) attend
    # within sliding_window and rotate, the full-attention ones rotate nothing (`global_nope`;
    # whatever the window). AfmoeDecoderLayer: four OLMo-2 RMSNorms (weight before the cast
    # back), before and after each sublayer (`input_layernorm`, `post_attention_layernorm`,
    # `pre_mlp_layernorm`, `post_mlp_layernorm`: `sandwich_norms`), a dense AfmoeMLP of
    # intermediate_size in the first num_dense_layers blocks, an AfmoeSparseMoeBlock after
    # them: a sigmoid router (`mlp.router.gate.weight`, experts x hidden) choosing by its
    # scores plus `mlp.expert_bias` (a float32 parameter of one value per expert:
    # `router_score_bias`), renormalised and scaled by route_scale, num_experts experts of
    # moe_intermediate_size and num_shared_experts shared experts fused into one MLP, no
    # biases; embeddings times sqrt(hidden_size) where mup_enabled (no parameter).
    "afmoe": Family("AfmoeForCausalLM", "AfmoeConfig", None, None, None, True,
                    sandwich_norms=True, norm_weight_float32=True, global_nope=True,
                    moe_intermediate_key="moe_intermediate_size",
                    sparse_blocks=SparseBlocks.after_first("num_dense_layers"),
                    shared_expert=SharedExpert.count("num_shared_experts"),
                    router_score_bias=True, output_gate=True),
    # BeamAttention (Reflection's Beam): AFMoE's attention (biases on all four by
    # attention_bias, false by default; per-head q/k norms; a sigmoid output gate of its own,
    # `self_attn.gate_proj`, hidden -> heads x head_dim: `output_gate`) with a gate bias of one
    # value a head (`self_attn.gate_bias`, counted by own_block_params); the blocks
    # `layer_types` names sliding attend within sliding_window and rotate, the full ones rotate
    # nothing (rope_parameters' full_attention entry null) and scale their queries by
    # (1 + (position + 1) / 2048) ** 0.1 (no parameter). BeamDecoderLayer: four RMSNorms
    # weighing in float32 (`sandwich_norms`), each sublayer's output added to the residual
    # scaled by its index in the stack (2 (i + 1) and 2 (i + 1) + 1: a depth prune gives the
    # kept blocks their new indices, modeling.remove_blocks), a dense BeamMLP of
    # intermediate_size or a BeamMoE as `mlp_layer_types` names it: DeepSeek-V3's grouped
    # sigmoid router (`mlp.gate.weight` float32, e_score_correction_bias a buffer; n_group /
    # topk_group), num_experts experts of moe_intermediate_size scaled by
    # routed_scaling_factor, no shared expert, no biases; logits soft-capped by
    # final_logit_softcapping (no parameter); untied.
    "beam": Family("BeamForCausalLM", "BeamConfig", None, None, None, True,
                   sandwich_norms=True, norm_weight_float32=True, global_nope=True,
                   moe_intermediate_key="moe_intermediate_size",
                   sparse_blocks=SparseBlocks.named("mlp_layer_types", "intermediate_size"),
                   output_gate=True, min_transformers="5.20.1"),
    # LagunaAttention: AFMoE's (biases by attention_bias, per-head q/k norms) with each
    # block's query heads from `num_attention_heads_per_layer` (its KV heads the config's) and
    # a softplus output gate (`self_attn.g_proj`, no bias) per head or per channel as `gating`
    # says (`output_gate`); every block rotates, a partial rotation of its own per layer type
    # (`rope_parameters` keyed full_attention / sliding_attention: no parameter), windows on
    # the blocks `layer_types` names sliding. LagunaDecoderLayer: LLaMA's two norms, a dense
    # LagunaMLP of intermediate_size or a LagunaSparseMoeBlock as `mlp_layer_types` names it
    # (block 0 dense, the rest sparse, where config.json gives none): Qwen3.5-MoE's router
    # (`mlp.gate.weight`) made sigmoid, choosing by its scores plus `mlp.gate.
    # e_score_correction_bias` (a parameter: `router_score_bias`), renormalised; Qwen3-MoE's
    # experts of moe_intermediate_size scaled by moe_routed_scaling_factor, and one shared
    # expert of shared_expert_intermediate_size (`mlp.shared_experts`), ungated; no biases.
    "laguna": Family("LagunaForCausalLM", "LagunaConfig", None, None, None, True,
                     moe_intermediate_key="moe_intermediate_size",
                     sparse_blocks=SparseBlocks.named("mlp_layer_types", "intermediate_size"),
                     shared_expert=SharedExpert.one("shared_expert_intermediate_size"),
                     router_score_bias=True, output_gate=True,
                     output_gate_per_head_key="gating"),
    # MellumAttention: Qwen3-MoE's (biases on all four by attention_bias, per-head q/k norms),
    # a window on the blocks `layer_types` names sliding, every block rotating by its layer
    # type's base (`rope_parameters` keyed full_attention / sliding_attention, as Laguna's).
    # MellumDecoderLayer: LLaMA's two norms, a dense MellumMLP of intermediate_size or
    # Qwen3-MoE's sparse block (a softmax router, `mlp.gate.weight`, over num_experts experts of
    # moe_intermediate_size, its top k renormalised where norm_topk_prob) as `mlp_layer_types`
    # names it (every block sparse where config.json gives none); no shared expert, no biases.
    "mellum": Family("MellumForCausalLM", "MellumConfig", None, None, None, True,
                     moe_intermediate_key="moe_intermediate_size",
                     sparse_blocks=SparseBlocks.named("mlp_layer_types", "intermediate_size")),
    # JetMoeDecoderLayer: LLaMA's two norms (JetMoeRMSNorm, its eps fixed at 1e-6; the final
    # norm's rms_norm_eps) around a JetMoeAttention under `self_attention`: kv_proj and a
    # mixture of attention heads (`attention_experts`: its router `experts.router.layer`, each
    # expert's query and output projections `experts.input_linear` / `output_linear`, one
    # output bias) and a JetMoeMoE `mlp`: a softmax-of-top-k router (`mlp.router.layer`) over
    # num_local_experts experts of intermediate_size (`input_linear` [gate; up],
    # `output_linear`, activation_function) and one output bias (`moe_output_bias`); whole
    # heads rotating; tied as published.
    "jetmoe": Family("JetMoeForCausalLM", "JetMoeConfig", False, True, None, False,
                     moe_intermediate_key="intermediate_size", attention_experts=True,
                     moe_output_bias=True),
    # MiMoV2FlashAttention: q/k/v biased as attention_bias says (false as published), o_proj
    # never; queries and keys of head_dim, values of v_head_dim (o_proj's inputs heads x
    # v_head_dim), multiplied by attention_value_scale; a block `layer_types` names sliding
    # attends within sliding_window with twice num_key_value_heads and a sink logit per query
    # head (`sinks`, gpt-oss's: eager), a full one with num_key_value_heads and none; a part of
    # each head rotating by its layer type's base. MiMoV2FlashDecoderLayer: LLaMA's two norms,
    # a dense MLP of intermediate_size or DeepSeek-V3's sigmoid router (float32 weight, its
    # e_score_correction_bias a buffer) over n_routed_experts experts of moe_intermediate_size
    # as `mlp_layer_types` names it, no shared expert; no biases, untied.
    "mimo_v2_flash": Family("MiMoV2FlashForCausalLM", "MiMoV2FlashConfig", None, False, None,
                            False, moe_intermediate_key="moe_intermediate_size",
                            sparse_blocks=SparseBlocks.named("mlp_layer_types",
                                                             "intermediate_size"),
                            attention_sinks=True, v_head_dim_key="v_head_dim",
                            window_kv_and_sinks=True),
    # FlexOlmoAttention: OLMo-2's (biases on all four by attention_bias, q_norm / k_norm over
    # the whole q and k projections); FlexOlmoDecoderLayer: OLMo-2's norms on the sublayers'
    # outputs (post_attention_layernorm, post_feedforward_layernorm, none before them),
    # weighing the float32 statistics before the cast back, and in every block OLMoE's
    # FlexOlmoSparseMoeBlock: a router over num_experts experts of intermediate_size, no
    # biases, no shared expert.
    "flex_olmo": Family("FlexOlmoForCausalLM", "FlexOlmoConfig", None, None, None, False,
                        post_norms=True, qk_norm_whole=True, norm_weight_float32=True,
                        moe_intermediate_key="intermediate_size"),
    # DbrxAttention (under each DbrxBlock's norm_attn_norm, between its LayerNorms norm_1 and
    # norm_2, which have no bias): one Wqkv Linear, rows [all q; all k; all v] (Phi-3's), and
    # out_proj, no biases, its q/k/v clamped to +-clip_qkv; DbrxFFN (`ffn`) in every block: a
    # router (`router.layer`, experts x hidden) over moe_num_experts experts whose w1 / v1 / w2
    # (gate, up, down) are each one [experts x ffn_hidden_size, hidden] parameter (w2 applied
    # transposed), no biases, no shared expert; the LM head untied. Its shape keys live in
    # config.json's attn_config and ffn_config (CONFIG_KEY_NAMES' dotted names).
    "dbrx": Family("DbrxForCausalLM", "DbrxConfig", False, False, None, False,
                   packed=("qkv_proj",), moe_intermediate_key="moe_intermediate_size"),
    # Ernie4_5_MoeAttention: the dense ERNIE 4.5's (every projection biased by use_bias, whole
    # heads rotating in adjacent pairs in float32); Ernie4_5_MoeDecoderLayer: a dense
    # Ernie4_5_MoeMLP of intermediate_size (biased by use_bias) outside the range of
    # moe_layer_start_index / _end_index / _interval, an Ernie4_5_MoeSparseMoeBlock in it: a
    # float32 router over moe_num_experts experts of moe_intermediate_size (no biases) with a
    # float32 score-correction bias parameter, and moe_num_shared_experts shared experts fused
    # into one Ernie4_5_MoeMLP that many times as wide (biased by use_bias), unscaled;
    # Ernie4_5_MoeForCausalLM's head biased by use_bias too.
    "ernie4_5_moe": Family("Ernie4_5_MoeForCausalLM", "Ernie4_5_MoeConfig", None, None,
                           "use_bias", False, pairwise_rotary=True, attention_bias_key="use_bias",
                           moe_intermediate_key="moe_intermediate_size",
                           sparse_blocks=SparseBlocks.in_range(),
                           shared_expert=SharedExpert.count("moe_num_shared_experts",
                                                            absent_at_zero=True),
                           router_score_bias=True, lm_head_bias_key="use_bias",
                           # baidu's ERNIE-4.5-*-A*B-PT config.json `auto_map` (its own code).
                           shipped_code=("configuration_ernie4_5_moe.Ernie4_5_MoeConfig",
                                         "modeling_ernie4_5_moe.Ernie4_5_Model",
                                         "modeling_ernie4_5_moe.Ernie4_5_MoeModel",
                                         "modeling_ernie4_5_moe.Ernie4_5_MoeForCausalLM")),
    # MiniMaxM2Attention: no biases, GQA, head_dim set apart (128: 48 heads are 6144 wide on
    # hidden 3072), q_norm / k_norm RMSNorms over the whole q and k projections (OLMo-2's),
    # `rotary_dim` of each head rotating (LLaMA's pairing within them); MiniMaxM2DecoderLayer:
    # LLaMA's two norms and, in every block, a MiniMaxM2SparseMoeBlock (`mlp`): a router
    # (`mlp.gate.weight`, experts x hidden, in the model's dtype) whose sigmoid plus the
    # block's `e_score_correction_bias` (a buffer of the block, not of the router: no
    # parameter) picks num_experts_per_tok of num_local_experts experts of intermediate_size,
    # their sigmoid scores renormalised; no shared expert.
    "minimax_m2": Family("MiniMaxM2ForCausalLM", "MiniMaxM2Config", False, False, None, False,
                         qk_norm_whole=True, moe_intermediate_key="intermediate_size",
                         rotary_dim_key="rotary_dim",
                         # MiniMaxAI's MiniMax-M2 config.json `auto_map` (its own code).
                         shipped_code=("configuration_minimax_m2.MiniMaxM2Config",
                                       "modeling_minimax_m2.MiniMaxM2ForCausalLM")),
    # MiniMaxM3VLAttention (the language model of MiniMaxAI's MiniMax-M3): GQA without
    # biases, head_dim set apart, per-head q_norm / k_norm of head_dim shared by the heads
    # (Gemma's 1 + weight, as every norm of it), partial rotation; in the blocks layer_types
    # names "minimax_m3_sparse" a lightning indexer (`self_attn.indexer`: q_proj, k_proj and
    # their norms, `attention_indexer`) choosing the key blocks each query attends to.
    # MiniMaxM3VLDecoderLayer: LLaMA's two norms and the MLP `mlp_layer_types` names: a dense
    # MLP of dense_intermediate_size ([gate; up] fused, gpt-oss's clamped SwiGLU) or a sigmoid
    # router (its score-correction bias a buffer) over num_local_experts experts of
    # intermediate_size, scaled by routed_scaling_factor, beside one shared expert of
    # shared_intermediate_size (`mlp.shared_experts`); no biases, untied.
    "minimax_m3_vl_text": Family("MiniMaxM3VLForCausalLM", "MiniMaxM3VLTextConfig", False, False,
                                 None, True, norm_plus_one=True,
                                 moe_intermediate_key="intermediate_size",
                                 attention_indexer=True,
                                 sparse_blocks=SparseBlocks.named("mlp_layer_types",
                                                                  "dense_intermediate_size"),
                                 shared_expert=SharedExpert.one("shared_intermediate_size")),
    # HunYuanMoEV1Attention: the dense Hunyuan's (biases on all four projections as
    # attention_bias says, per-head query_layernorm / key_layernorm applied after the rotation,
    # NTK-alpha rotary frequencies, head_dim read with no fallback); HunYuanMoEV1Moe in every
    # block: a router (HunYuanMoEV1Gate's `wg`, experts x hidden, float32 in every dtype) whose
    # softmax picks moe_topk (each block's own where it is a list) of num_experts experts of
    # intermediate_size, their weights renormalised, and one shared expert of the same width
    # (`mlp.shared_mlp`) that every token goes through; no MLP biases.
    "hunyuan_v1_moe": Family("HunYuanMoEV1ForCausalLM", "HunYuanMoEV1Config", None, None, None,
                             True, qk_norm_after_rotary=True,
                             moe_intermediate_key="intermediate_size",
                             shared_expert=SharedExpert.one(),
                             float32_params=("mlp.gate.wg",),
                             # the `auto_map` of Tencent's published Hunyuan-A13B config.json
                             # (its own code, model_type "hunyuan": checked_config_json)
                             shipped_code=("configuration_hunyuan.HunYuanConfig",
                                           "hunyuan.HunYuanModel",
                                           "hunyuan.HunYuanMoEV1ForCausalLM")),
    # HYV3Attention: Apertus's (biases on all four projections as attention_bias says, false
    # as published; GQA, head_dim set apart; per-head q_norm / k_norm RMSNorms of head_dim
    # shared by the heads, before the rotation); HYV3DecoderLayer: LLaMA's two norms and the
    # MLP `mlp_layer_types` names: a dense HYV3MLP of intermediate_size (biases by mlp_bias)
    # or HYV3MoE: a float32 sigmoid router (`mlp.gate.weight`) whose scores plus the block's
    # `e_score_correction_bias` (a buffer, MiniMax-M2's) pick num_experts_per_tok of
    # num_experts experts of moe_intermediate_size, renormalised and scaled by
    # router_scaling_factor, and num_shared_experts shared experts fused into one HYV3MLP
    # (`mlp.shared_experts`, biases by mlp_bias), summed in float32 where
    # enable_moe_fp32_combine; untied as published.
    "hy_v3": Family("HYV3ForCausalLM", "HYV3Config", None, None, "mlp_bias", True,
                    moe_intermediate_key="moe_intermediate_size",
                    sparse_blocks=SparseBlocks.named("mlp_layer_types", "intermediate_size"),
                    shared_expert=SharedExpert.count("num_shared_experts")),
    # Llama4TextAttention: GQA (40 / 8 heads of 128 published) without biases (attention_bias),
    # the whole of each head rotating in adjacent pairs (complex tables) except in the blocks
    # `no_rope_layers` marks 0 (every fourth: NoPE, their queries scaled by position past
    # floor_scale as attn_temperature_tuning says, attn_scale strong), a weightless L2 norm of
    # each query and key head on the rotating blocks where use_qk_norm is set (no parameter),
    # chunked attention (attention_chunk_size) on the rotating blocks (`layer_types`);
    # Llama4TextDecoderLayer: LLaMA's two norms and a `feed_forward`, in the blocks of
    # `moe_layers` a Llama4TextMoe: a router (`feed_forward.router`, experts x hidden, no bias)
    # whose top-k logits' sigmoid weighs each expert's input, num_local_experts experts of
    # intermediate_size fused, and one shared expert of that width; elsewhere a dense
    # Llama4TextMLP of intermediate_size_mlp. No biases anywhere, untied (as published).
    "llama4_text": Family("Llama4ForCausalLM", "Llama4TextConfig", None, None, None, False,
                          pairwise_rotary=True, moe_intermediate_key="intermediate_size",
                          sparse_blocks=SparseBlocks.listed(
                              "moe_layers", dense_width_key="intermediate_size_mlp"),
                          shared_expert=SharedExpert.one()),
    # Qwen3NextDecoderLayer: the token mixer `layer_types` names, a Qwen3NextGatedDeltaNet
    # (`linear_attn`: in_proj_qkvz, in_proj_ba, a depthwise conv1d, dt_bias, A_log, a gated
    # RMSNorm of linear_value_head_dim, out_proj; no biases) or a Qwen3NextAttention
    # (`self_attn`: Qwen3-MoE's, biases as attention_bias says, per-head q/k norms, the query
    # projection twice as wide for its output gate, partial rotary); Qwen2-MoE's MLP (a router
    # over num_experts experts of moe_intermediate_size and a shared expert of
    # shared_expert_intermediate_size under a one-output sigmoid gate, or a dense MLP of
    # intermediate_size in the blocks mlp_only_layers / decoder_sparse_step name); every
    # Qwen3NextRMSNorm weighs by 1 + weight (Gemma's; the gated one by its weight).
    "qwen3_next": Family("Qwen3NextForCausalLM", "Qwen3NextConfig", None, None, None, True,
                         norm_plus_one=True, moe_intermediate_key="moe_intermediate_size",
                         sparse_blocks=SparseBlocks.unless_listed(),
                         shared_expert=SharedExpert.gated("shared_expert_intermediate_size"),
                         linear_attention=True, gated_query=True),
    # Qwen3_5DecoderLayer (the language model of Qwen3_5ForConditionalGeneration): Qwen3-Next's
    # two token mixers (the Gated DeltaNet's input projections split: in_proj_qkv, in_proj_z,
    # in_proj_b, in_proj_a, the same rows as in_proj_qkvz / in_proj_ba), its zero-centred
    # norms, and a dense Qwen3_5MLP of intermediate_size in every block; no experts.
    "qwen3_5_text": Family("Qwen3_5ForCausalLM", "Qwen3_5TextConfig", None, None, None, True,
                           norm_plus_one=True, linear_attention=True, gated_query=True),
    # Qwen3_5MoeDecoderLayer: the same blocks with Qwen3-Next's sparse MLP in every one (a
    # router over num_experts experts of moe_intermediate_size, its top k always
    # renormalised, and a shared expert of shared_expert_intermediate_size under a
    # one-output sigmoid gate); its config has no dense width (intermediate_size).
    "qwen3_5_moe_text": Family("Qwen3_5MoeForCausalLM", "Qwen3_5MoeTextConfig", None, None,
                               None, True, norm_plus_one=True,
                               moe_intermediate_key="moe_intermediate_size",
                               shared_expert=SharedExpert.gated(
                                   "shared_expert_intermediate_size"),
                               linear_attention=True, gated_query=True),
    # LaraMiniDecoderLayer (Translated's Lara 4 Mini, transformers 5.24 on): Qwen3.5's block
    # (two norms around the token mixer `layer_types` names) with three kinds: a Gated DeltaNet
    # (`linear_attn`, Qwen3.5's: Qwen3-Next's parameters) or Qwen3's attention (q_norm /
    # k_norm, no output gate), windowed and rotating in "sliding_attention" blocks, unwindowed
    # and unrotated in "full_attention" ones (`global_nope`); Helium's RMSNorm (its weight
    # applied in float32); Flint's MoE in every block: a float32 softmax router over
    # num_experts experts of moe_intermediate_size, its top k renormalised, and one ungated
    # shared expert of shared_expert_intermediate_size; no biases; tied.
    "lara_mini": Family("LaraMiniForCausalLM", "LaraMiniConfig", None, None, None, True,
                        norm_weight_float32=True, global_nope=True,
                        moe_intermediate_key="moe_intermediate_size",
                        shared_expert=SharedExpert.one("shared_expert_intermediate_size"),
                        linear_attention=True, min_transformers="5.24.0"),
    # OlmoHybridModel (AI2's OLMo Hybrid): the token mixer `layer_types` names, each in a
    # block class of its own: OLMo-3's post-norm block (OlmoHybridAttentionDecoderLayer:
    # attention biased by attention_bias, RMSNorms over the whole q and k projections, norms
    # on the sublayers' outputs; no window) or LLaMA's pre-norm block around a Gated
    # DeltaNet (`linear_attn`:
    # q/k/v/a/b/g_proj and o_proj apart, a depthwise conv1d, dt_bias, A_log, a gated RMSNorm
    # of linear_value_head_dim; no biases: Qwen3-Next's parameters, counted alike); a dense
    # MLP in every block. Two norms a block either way (the count is the same).
    "olmo_hybrid": Family("OlmoHybridForCausalLM", "OlmoHybridConfig", None, None, None, False,
                          post_norms=True, qk_norm_whole=True, norm_weight_float32=True,
                          linear_attention=True),
    # KimiLinearDecoderLayer (Moonshot's Kimi Linear): LLaMA's two norms around the token mixer
    # `layer_types` names under `self_attn`, a KimiLinearAttention (DeepSeek-V3's latent
    # attention without rotation: `latent_attention`, mla_params) or a Kimi Delta Attention
    # (KimiLinearDeltaAttention: q/k/v_proj, a depthwise conv1d, the forget gate's f_a/f_b_proj,
    # dt_bias and A_log, b_proj, g_a/g_b_proj, a gated RMSNorm of linear_head_dim, o_proj; no
    # biases: `kda_params`); DeepSeek-V3's MLPs: a dense prefix (mlp_layer_types, derived
    # from first_k_dense_replace) and a sigmoid router over num_experts experts of
    # moe_intermediate_size with num_shared_experts shared experts fused in one MLP.
    "kimi_linear": Family("KimiLinearForCausalLM", "KimiLinearConfig", False, False, None,
                          False, moe_intermediate_key="moe_intermediate_size",
                          latent_attention=True, linear_attention=True,
                          sparse_blocks=SparseBlocks.named("mlp_layer_types",
                                                           "intermediate_size"),
                          shared_expert=SharedExpert.count("n_shared_experts")),
    # BailingHybridDecoderLayer (Ant's Ling / Ring 3.0 hybrids, transformers 5.25 on): Kimi
    # Linear's block, its two mixers under `self_attn` as `layer_types` says (the last block of
    # every layer_group_size a latent attention, the others KDA, where config.json gives no
    # list): a latent attention (DeepSeek-V3's, rotating, with g_proj, a sigmoid gate of one
    # value a head: mla_params plus hidden x heads) or a Kimi Delta Attention with full-rank
    # gates (f_proj and g_proj hidden -> width; A_log a head and dt_bias a channel under its
    # forget_gate; no biases: `bailing_kda_params`); Kimi Linear's MLPs, a dense prefix by
    # first_k_dense_replace, the experts' and shared experts' SwiGLU clipped per block
    # (expert_swiglu_limit_list / share_expert_swiglu_limit_list: PER_BLOCK_CONFIG_LISTS).
    # 5.20 to 5.24 build the class but not as 5.25 and the published checkpoints do: none
    # clips the SwiGLU (the lists are ignored), 5.20 to 5.23 refuse a query rank
    # (RELEASE_REASONS).
    "bailing_hybrid": Family("BailingHybridForCausalLM", "BailingHybridConfig", False, False,
                             None, False, moe_intermediate_key="moe_intermediate_size",
                             latent_attention=True, linear_attention=True,
                             sparse_blocks=SparseBlocks.named("mlp_layer_types",
                                                              "intermediate_size"),
                             shared_expert=SharedExpert.count("n_shared_experts"),
                             min_transformers="5.25.0"),
    # MiniMaxDecoderLayer (MiniMax-Text-01 / MiniMax-M1): LLaMA's two norms around the token
    # mixer `layer_types` names under `self_attn`, Mixtral's attention (no biases) or a
    # lightning attention (MiniMaxLightningAttention: qkv_proj, output_gate, an RMSNorm over
    # its heads' outputs, out_proj; no biases: `lightning_params`; its decay slopes buffers
    # computed from the block's index, which a depth prune keeps: modeling.remove_blocks'
    # checkpoint holds them); Mixtral's experts in every block. Each sublayer's residual is
    # the normed input, weighed with the output by the config's alpha / beta scalars.
    "minimax": Family("MiniMaxForCausalLM", "MiniMaxConfig", False, False, None, False,
                      moe_intermediate_key="intermediate_size", linear_attention=True),
    # GraniteMoeHybridDecoderLayer: LLaMA's two norms and Granite's four scalars; the token
    # mixer `layer_types` names (published as "attention" / "mamba", which transformers'
    # config reads as "full_attention" / "linear_attention"): a GraniteMoeHybridAttention
    # (LLaMA's, biases on all four by attention_bias, rotary only where
    # position_embedding_type is "rope") or a Mamba-2 mixer (`mamba`); in every block a
    # GraniteMoeHybridMLP (`shared_mlp`: input_linear [gate; up] packed, output_linear, no
    # biases) of shared_intermediate_size and, where num_local_experts > 0, GraniteMoE's
    # `block_sparse_moe` beside it (router and experts of intermediate_size).
    "granitemoehybrid": Family("GraniteMoeHybridForCausalLM", "GraniteMoeHybridConfig", None,
                               None, None, False, multipliers=True, packed=("gate_up_proj",),
                               moe_intermediate_key="intermediate_size",
                               sparse_blocks=SparseBlocks.every("shared_intermediate_size"),
                               shared_expert=SharedExpert.one("shared_intermediate_size"),
                               experts_optional=True, linear_attention=True, mamba_mixer=True),
    # Gemma4TextAttention: biases on all four projections as attention_bias says, per-head
    # q_norm / k_norm (Gemma4RMSNorm of the block's head_dim, weighing by the weight itself, in
    # float32) and a weightless v_norm, scaling 1; each block's head_dim and KV heads from
    # per_layer_config; no v_proj on global blocks with attention_k_eq_v, no k/v projections
    # or norms on the blocks that reuse another's keys (num_kv_shared_layers).
    # Gemma4TextDecoderLayer: Gemma-2's four norms, a GeGLU MLP, optionally a router and
    # experts beside it with three norms of their own (enable_moe_block), a per-layer input's
    # gate and projection (hidden_size_per_layer_input) and a `layer_scalar` buffer scaling
    # the block's output; scaled embeddings, tied (as published).
    "gemma4_text": Family("Gemma4ForCausalLM", "Gemma4TextConfig", None, None, None, True,
                          sandwich_norms=True, scaled_embedding=True, norm_weight_float32=True,
                          moe_intermediate_key="moe_intermediate_size",
                          per_layer_blocks=True, moe_switch_key="enable_moe_block"),
    # Gemma4UnifiedTextDecoderLayer: Gemma 4's block (its attention and MLP classes, the
    # per-block head_dim and KV heads, values that are the keys, shared keys and values, the
    # double-wide MLP, layer_scalar) without per-layer inputs or experts, whatever its
    # config.json says of them (`per_layer_input_width`); scaled embeddings, tied.
    "gemma4_unified_text": Family("Gemma4UnifiedForCausalLM", "Gemma4UnifiedTextConfig", None,
                                  None, None, True, sandwich_norms=True, scaled_embedding=True,
                                  norm_weight_float32=True, per_layer_blocks=True),
    # Gemma3nTextDecoderLayer: Gemma 4's dense block without per_layer_config (one head_dim,
    # each block's MLP width from the intermediate_size list, a gaussian top-k cutoff on the
    # gate of the blocks activation_sparsity_pattern names), KV sharing and per-layer inputs
    # alike, and per block an AltUp (prediction / correction coefficients, router, its norm,
    # correct_output_scale: `gemma3n_own_params`) over altup_num_inputs residual streams and
    # a LAuReL low-rank residual (laurel_rank) with its norm; the streams made and merged by
    # altup_(unembed_)projections outside the blocks; scaled embeddings, tied (as published).
    "gemma3n_text": Family("Gemma3nForCausalLM", "Gemma3nTextConfig", None, None, None, True,
                           sandwich_norms=True, scaled_embedding=True, per_layer_blocks=True),
    # NemotronHBlock: one RMSNorm and one mixer a block (`one_mixer_blocks`): NemotronHMamba2Mixer
    # (in_proj / out_proj biased by use_bias, conv1d by use_conv_bias), NemotronHAttention
    # (JambaAttention: no biases, no rotary, head_dim from the config) or NemotronHMLP
    # (NemotronMLP's up_proj / down_proj, relu2, biases by mlp_bias); embeddings, norm_f and
    # an LM head never tied (NemotronHForCausalLM ties nothing).
    "nemotron_h": Family("NemotronHForCausalLM", "NemotronHConfig", False, False, "mlp_bias",
                         False, ungated_mlp=True, linear_attention=True, mamba_mixer=True,
                         one_mixer_blocks=True),
    # JambaAttentionDecoderLayer / JambaMambaDecoderLayer: LLaMA's two RMSNorms
    # (input_layernorm, pre_ff_layernorm) around the token mixer layers_block_type names, a
    # JambaAttention (`self_attn`: no biases, no rotary) in every attn_layer_period-th block
    # from attn_layer_offset, a Mamba-1 mixer (`mamba`, JambaMambaMixer: `jamba_mamba_params`)
    # in the others; `feed_forward` a JambaSparseMoeBlock (a router and num_experts fused
    # experts of intermediate_size) in every expert_layer_period-th block from
    # expert_layer_offset (`SparseBlocks.periodic`), a JambaMLP (LLaMA's SwiGLU of the same
    # width) elsewhere; final_layernorm; untied as published. A config.json names no block's
    # kind but by the four integers: a depth prune removes whole periods (`jamba_period`).
    "jamba": Family("JambaForCausalLM", "JambaConfig", False, False, None, False,
                    moe_intermediate_key="intermediate_size",
                    sparse_blocks=SparseBlocks.periodic(), linear_attention=True),
    # ZambaModel: blocks of the kinds layers_block_type names (5.17 and 5.25 read "mamba" as
    # "linear_attention"): a ZambaMambaDecoderLayer (input_layernorm, then `mamba`, a
    # ZambaMambaMixer: Mamba-1 over mamba_expand x hidden channels in n_mamba_heads heads,
    # `zamba_mamba_params`) or a ZambaHybridLayer, which runs the one shared transformer block
    # (`shared_transf`: attention and a gated MLP over the hidden state concatenated with the
    # embeddings, no residual of its own, no rotary; `zamba_shared_params`, counted once with
    # the embeddings), its own `linear` (hidden -> hidden) and a Mamba block of its own
    # (`mamba_decoder`), which adds the linear's output to its input; final_layernorm; tied.
    "zamba": Family("ZambaForCausalLM", "ZambaConfig", False, False, None, False,
                    linear_attention=True),
    # Zamba2Model: Zamba's layout with Mamba-2 mixers (Zamba2MambaMixer: Granite 4.0's, keyed
    # mamba_* / n_mamba_heads / mamba_ngroups, in_proj and out_proj biased by add_bias_linear,
    # the conv always), and num_mem_blocks shared transformer blocks (`shared_transformer`:
    # hybrid block j, in hybrid order, runs block j mod num_mem_blocks; the MLP biased by
    # add_bias_linear; rotary where use_mem_rope), each holding a LoRA adapter of every hybrid
    # block that runs it (gate_up_proj's always; q/k/v's where use_shared_attention_adapter),
    # counted with that hybrid block; a depth prune removes hybrid blocks in whole cycles of
    # num_mem_blocks (`zamba2_removal_problem`, docs/families.md, Zamba2); tied.
    "zamba2": Family("Zamba2ForCausalLM", "Zamba2Config", False, False, None, False,
                     linear_attention=True),
    # BambaDecoderLayer: LLaMA's two RMSNorms (input_layernorm, pre_ff_layernorm) around the
    # token mixer `layers_block_type` names, a BambaAttention (`self_attn`: LLaMA's, biases on
    # all four by attention_bias, half of each head rotating: BambaConfig hard-codes
    # partial_rotary_factor 0.5) in the blocks attn_layer_indices lists, a Mamba-2 mixer
    # (`mamba`, BambaMixer: Granite 4.0's keys, `mamba_mixer`) in the others; in every block a
    # BambaMLP (`feed_forward`: LLaMA's SwiGLU, biases by mlp_bias); final_layernorm; untied.
    "bamba": Family("BambaForCausalLM", "BambaConfig", None, None, "mlp_bias", False,
                    linear_attention=True, mamba_mixer=True),
    # FalconH1DecoderLayer: input_layernorm feeding a FalconH1Mixer (`mamba`: Mamba-2 of
    # mamba_d_ssm inner width, in_proj biased by mamba_proj_bias, out_proj by projectors_bias,
    # its gated RMSNorm only where mamba_rms_norm is set) and a FalconH1Attention (`self_attn`:
    # LLaMA's, biases on all four by attention_bias, head_dim set apart, keys times
    # key_multiplier) side by side, their multiplied outputs added to the residual; then
    # pre_ff_layernorm and a FalconH1MLP (`feed_forward`: LLaMA's SwiGLU, biases by mlp_bias,
    # the gate's input and the output multiplied); final_layernorm; untied as published.
    "falcon_h1": Family("FalconH1ForCausalLM", "FalconH1Config", None, None, "mlp_bias", False,
                        mamba_beside_attention=True),
    # Lfm2DecoderLayer: operator_norm feeding the token mixer `layer_types` names, an
    # Lfm2Attention (`self_attn`: q/k/v/out_proj without biases, q_layernorm / k_layernorm of
    # head_dim, whole heads rotating) or an Lfm2ShortConv (`conv`: `short_conv`); ffn_norm
    # feeding `feed_forward` (Lfm2MLP: SwiGLU w1 / w3 / w2 without biases, its width derived
    # from intermediate_size: `auto_adjust_ff_dim`); the final `embedding_norm`; tied as
    # published. LFM2-MoE's Lfm2MoeDecoderLayer: the same mixers, a dense Lfm2MoeMLP of
    # intermediate_size in the first num_dense_layers blocks, then Lfm2MoeSparseMoeBlock
    # (`feed_forward`: a sigmoid router `gate` over num_experts, its expert_bias a buffer, and
    # fused experts of moe_intermediate_size).
    # MambaBlock: `norm` (MambaRMSNorm) then `mixer` (MambaMixer: in_proj [2 x inner, hidden]
    # and out_proj biased by use_bias, conv1d biased by use_conv_bias, x_proj to dt_rank + 2 x
    # state_size, dt_proj biased, A_log [inner, state_size], D), the residual sum; backbone's
    # embeddings and norm_f; tied as tie_word_embeddings says (true by default and as
    # published). FalconMambaBlock: the same, its mixer's RMSNorms of B, C and dt weightless
    # (FalconMambaWeightlessRMSNorm: no parameters, mixer_rms_eps).
    "mamba": Family("MambaForCausalLM", "MambaConfig", False, False, None, False,
                    mamba1_blocks=True),
    "falcon_mamba": Family("FalconMambaForCausalLM", "FalconMambaConfig", False, False, None,
                           False, mamba1_blocks=True),
    # Mamba2Block: `norm` (Mamba2RMSNorm) then `mixer` (Mamba2Mixer: in_proj to the gate, the
    # conv's channels (inner + 2 x n_groups x state_size) and one dt a head, biased with
    # out_proj by use_bias; conv1d biased by use_conv_bias; dt_bias, A_log, D a head; the gated
    # RMSNorm over the inner width), the residual sum; backbone's embeddings and norm_f.
    "mamba2": Family("Mamba2ForCausalLM", "Mamba2Config", False, False, None, False,
                     mamba2_blocks=True),
    # xLSTMBlock: `norm_mlstm` (an RMSNorm, biased by use_bias) then `mlstm_layer` (xLSTMLayer:
    # q and k hidden -> qk_dim, v and ogate_preact hidden -> v_dim, biased by use_bias; igate /
    # fgate_preact hidden -> num_heads, always biased; a multi-head LayerNorm over v_dim; out_proj
    # v_dim -> hidden), the residual sum, `norm_ffn` then `ffn` (xLSTMFeedForward: proj_up_gate,
    # proj_up, proj_down, SiLU-gated), the residual sum; backbone's embeddings and out_norm (a
    # weight alone); lm_head its own (xLSTMForCausalLM ties nothing), its logits soft-capped.
    "xlstm": Family("xLSTMForCausalLM", "xLSTMConfig", False, False, None, False,
                    mlstm_blocks=True),
    # RecurrentGemmaDecoderLayer: `temporal_pre_norm` (Gemma's RMSNorm, 1 + weight) then
    # `temporal_block`, of the kind block_types names (cycled: `griffin_kinds`): a
    # RecurrentGemmaRecurrentBlock (linear_x / linear_y hidden -> lru_width, a depthwise
    # conv_1d of conv1d_width taps, the RG-LRU `rg_lru`: recurrent_param and block-diagonal
    # input and recurrent gates of num_attention_heads blocks, linear_out; all biased) or a
    # RecurrentGemmaAttention (q/k/v_proj biased by attention_bias, o_proj always biased,
    # half of each head rotated, a sliding window of attention_window_size); the residual,
    # `channel_pre_norm` and `mlp_block` (gelu-gated gate_proj / up_proj of intermediate_size
    # / 2, down_proj, all biased); embeddings times sqrt(hidden_size) rounded to bfloat16 (the
    # model's `normalizer` buffer), `final_norm`, logits soft-capped by logits_soft_cap; tied.
    # RwkvBlock: pre_ln (block 0 only), ln1 -> `attention` (RwkvSelfAttention: time_decay and
    # time_first of attention_hidden_size, time_mix_key / value / receptance of hidden_size,
    # key / value / receptance / output Linears without biases), ln2 -> `feed_forward`
    # (RwkvFeedForward: time_mix_key / receptance, key to intermediate_size, receptance
    # hidden -> hidden, value back; no biases); nn.LayerNorms with biases; RwkvModel's
    # `embeddings`, `blocks`, `ln_out`; the LM head `head`, untied as published.
    "rwkv": Family("RwkvForCausalLM", "RwkvConfig", False, False, None, False, norm_bias=True,
                   rwkv_blocks=True),
    "recurrent_gemma": Family("RecurrentGemmaForCausalLM", "RecurrentGemmaConfig", None, True,
                              None, False, norm_plus_one=True, scaled_embedding=True,
                              linear_attention=True, griffin_blocks=True),
    "lfm2": Family("Lfm2ForCausalLM", "Lfm2Config", False, False, None, True,
                   linear_attention=True, short_conv=True, auto_adjust_ff_dim=True),
    "lfm2_moe": Family("Lfm2MoeForCausalLM", "Lfm2MoeConfig", False, False, None, True,
                       linear_attention=True, short_conv=True,
                       moe_intermediate_key="moe_intermediate_size",
                       sparse_blocks=SparseBlocks.after_first("num_dense_layers")),
    # Lfm3DecoderLayer: LFM2's block (operator_norm, the token mixer `layer_types` names, ffn_norm,
    # `feed_forward` w1 / w3 / w2 of intermediate_size: Lfm2MoeMLP) with post_operator_norm /
    # post_ffn_norm on the two outputs where use_sandwich_norm is set; Lfm3Attention (Qwen3's:
    # q/k/v/o_proj biased by attention_bias, per-head q_norm / k_norm) on "full_attention" and
    # "sliding_attention" blocks, its output gated a head by sigmoid(g_proj(input)) where
    # use_attention_gate is set; Lfm2ShortConv on "conv" blocks; the final `embedding_norm`.
    "lfm3": Family("Lfm3ForCausalLM", "Lfm3Config", None, None, None, True,
                   linear_attention=True, short_conv=True, sandwich_norms_key="use_sandwich_norm",
                   output_gate=True, output_gate_key="use_attention_gate",
                   output_gate_per_head_key="use_attention_gate", min_transformers="5.23.0"),
}

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


def family(config) -> Family:
    """The config's family (by `model_type`; a config.json without one is LLaMA, as old ones)."""
    model_type = getattr(config, "model_type", None) or "llama"
    if problem := untaken_wrapper(model_type):
        raise PrunebenchError(problem)
    try:
        return FAMILIES[model_type]
    except KeyError:
        raise PrunebenchError(
            f"model_type {model_type!r} is not supported: prunebench handles "
            f"{', '.join(sorted(FAMILIES))} ({', '.join(f.model_class for f in FAMILIES.values())}); "
            "use a checkpoint of one of these families") from None


def block_count(config) -> int:
    """The decoder's blocks (`model.model.layers`), what depth pruning removes: the config's
    num_hidden_layers, or its family's `block_count_key` where that counts them otherwise
    (LongCat-Flash's num_layers: its num_hidden_layers, twice as many, counts the latent
    attentions). A config of no family here reads num_hidden_layers."""
    f = FAMILIES.get(getattr(config, "model_type", None) or "llama")
    return getattr(config, f.block_count_key if f else "num_hidden_layers")


def set_block_count(config, blocks: int) -> None:
    """Write a depth prune's `blocks` into the config: num_hidden_layers, or the family's
    `block_count_key` and num_hidden_layers as many times more as the family's blocks hold
    cache entries (LongCat-Flash's two attentions a block: LongcatFlashConfig derives it,
    a config read without transformers is given it)."""
    f = FAMILIES.get(getattr(config, "model_type", None) or "llama")
    if f is None or f.block_count_key == "num_hidden_layers":
        config.num_hidden_layers = blocks
        return
    entries = cache_entries_per_block(config)
    setattr(config, f.block_count_key, blocks)
    if getattr(config, "num_hidden_layers", None) != entries * blocks:
        config.num_hidden_layers = entries * blocks


def cache_entries_per_block(config) -> int:
    """A block's entries in transformers' cache: num_hidden_layers over `block_count` (two in
    a LongCat-Flash block, one latent attention's each; one elsewhere)."""
    return config.num_hidden_layers // block_count(config)


def qkv_bias(config) -> bool:
    f = family(config)
    if f.qkv_bias is not None:
        return f.qkv_bias
    return bool(getattr(config, f.attention_bias_key, False))


def o_bias(config) -> bool:
    """Whether the family's o_proj has a bias before any pruning (FLAP may add one)."""
    f = family(config)
    if f.o_bias is not None:
        return f.o_bias
    return bool(getattr(config, f.o_bias_key or f.attention_bias_key, False))


def mlp_bias(config) -> bool:
    f = family(config)
    if f.mlp_bias is not None:
        return f.mlp_bias
    return bool(getattr(config, f.mlp_bias_key, False)) if f.mlp_bias_key else False


def qk_norm(config) -> bool:
    """Whether each attention norms its query and key heads (Qwen3's always; GLM-4.5's as
    its config's `use_qk_norm` says)."""
    f = family(config)
    return f.qk_norm or (f.qk_norm_key is not None and bool(getattr(config, f.qk_norm_key,
                                                                      False)))


def sandwich_norms(config) -> bool:
    """Whether each block norms its sublayers' outputs too, four norms a block (Gemma-2's
    always; HyperCLOVA X's as its config's `use_post_norm` says)."""
    f = family(config)
    return f.sandwich_norms or (f.sandwich_norms_key is not None
                                and bool(getattr(config, f.sandwich_norms_key, False)))


def parallel_block(config) -> bool:
    """Whether each block's attention and MLP read one norm's output in parallel (Cohere's
    always; StableLM's as its config's `use_parallel_residual` says)."""
    f = family(config)
    return f.parallel_block or (f.parallel_block_key is not None
                                and bool(getattr(config, f.parallel_block_key, False)))


def mlp_input_projections(config) -> int:
    """The projections that read a block's MLP input, each of intermediate_size outputs: gate
    and up (LLaMA's SwiGLU; Phi-3's and GLM's packed into one module of twice the rows), or up
    alone in an ungated MLP (Arcee, Nemotron, Starcoder2, Phi, Apertus: `Family.ungated_mlp`)."""
    return 1 if family(config).ungated_mlp else 2


def is_moe(config) -> bool:
    """Whether the family's blocks hold a mixture of experts (Mixtral, Qwen3-MoE, OLMoE, ...:
    every family with a `moe_intermediate_key`; Granite 4.0's only where its config has
    experts: `Family.experts_optional`)."""
    f = family(config)
    if f.experts_optional and not num_experts(config):
        return False
    if f.moe_switch_key is not None:  # Gemma 4: experts where enable_moe_block says
        return bool(getattr(config, f.moe_switch_key, False))
    return f.moe_intermediate_key is not None


def num_experts(config) -> int:
    """Experts per sparse block: `num_local_experts` (Mixtral, gpt-oss; Qwen3-MoE's and OLMoE's
    classes too, which map it onto the `num_experts` of their published config.json files), or
    `num_experts` (Qwen2MoeConfig, which has no other name for it)."""
    value = config_value(config, "num_local_experts")  # (DBRX's ffn_config.moe_num_experts)
    if value is None:
        value = getattr(config, "num_experts", None)
    if value is None:  # (AriaTextConfig's moe_num_experts: no attribute_map gives it so)
        value = getattr(config, "moe_num_experts", None)
    return value


def sparse_mlp_blocks(config) -> list[bool]:
    """Per block, whether its MLP is a mixture of experts, as the family's decoder layer
    decides it (`Family.sparse_blocks`): none in a family without experts."""
    if not is_moe(config):
        return [False] * block_count(config)
    return family(config).sparse_blocks.of(config)


def moe_layer_range(config) -> tuple[int, int, int]:
    """ERNIE 4.5's (moe_layer_start_index, moe_layer_end_index, moe_layer_interval), the end's
    -1 read as the last block (Ernie4_5_MoeConfig's defaults: 1, -1, 1)."""
    start = getattr(config, "moe_layer_start_index", None)
    end = getattr(config, "moe_layer_end_index", None)
    step = getattr(config, "moe_layer_interval", None)
    start, step = (1 if start is None else start), (step or 1)
    end = block_count(config) - 1 if end is None or end == -1 else end
    return start, end, step


def period_of(kinds: list[bool], keys: str, what: str) -> tuple[int, int]:
    """The (period, offset) under which block i is of a kind exactly where i % period ==
    offset, offset < period (JambaConfig's attn_layer_period / attn_layer_offset and
    expert_layer_period / expert_layer_offset, the only way its config.json says where its
    attention blocks and experts are): the first two such blocks' distance and the first's
    index; one block alone, or none, past the others. PrunebenchError naming `keys` and the
    blocks (`what` the kind) where no two integers say them."""
    n, where = len(kinds), [i for i, kind in enumerate(kinds) if kind]
    period, offset = ((n + 1, n) if not where else (n, where[0]) if len(where) == 1
                      else (where[1] - where[0], where[0]))
    if offset < period and [i % period == offset for i in range(n)] == kinds:
        return period, offset
    raise PrunebenchError(
        f"the kept blocks' kinds ({''.join('X' if kind else '.' for kind in kinds)}: X a "
        f"{what} block) fit no {keys}, which is how a Jamba config.json says where they are "
        "(block i is one where i % period == offset): remove whole periods of blocks (the "
        "depth methods do: docs/families.md, Jamba), or other blocks")


def jamba_kept_layout(config, keep: list[int]) -> dict[str, int]:
    """The attn_layer_period / attn_layer_offset under which the blocks a depth prune keeps
    (`keep`, renumbered from 0) are attention blocks or Mamba ones as they were, for
    modeling.remove_blocks to set beside the experts' (`SparseBlocks.periodic`); PrunebenchError
    where no two integers say them. Nothing for another family."""
    if getattr(config, "model_type", None) != "jamba":
        return {}
    linear = linear_attention_blocks(config)
    return dict(zip(("attn_layer_period", "attn_layer_offset"),
                    period_of([not linear[i] for i in keep],
                              "attn_layer_period / attn_layer_offset", "attention")))


def jamba_period(config) -> int:
    """Jamba's whole period: the blocks after which its layout repeats (the least common
    multiple of attn_layer_period and expert_layer_period; 8 in the published models). Any
    run of so many consecutive blocks holds each kind of block as often as any other such run,
    and removing it leaves the blocks after it of the kinds the two offsets give them again."""
    return math.lcm(config.attn_layer_period, config.expert_layer_period)


# Why Inkling 2's depth prunes remove whole groups (the docs' words, and the refusals').
INKLING2_GROUPS = (
    "Inkling2TextModel keeps the input of every n_layers_per_attn_res_block-th block (block i "
    "with i % n == 0, by its index) for its block attention residuals, and block 0 holds no "
    "queries before its attention: removing other blocks would move those boundaries and "
    "change what kept blocks compute")


def whole_period(config) -> int | None:
    """The blocks a depth prune of this model removes together, None where it removes blocks
    one by one: Jamba's whole period (`jamba_period`: any run of so many consecutive blocks),
    Inkling 2's group of n_layers_per_attn_res_block blocks (from a multiple of it:
    `aligned_periods`; INKLING2_GROUPS)."""
    model_type = getattr(config, "model_type", None)
    if model_type == "jamba":
        return jamba_period(config)
    if model_type == "inkling2_text":
        return config.n_layers_per_attn_res_block
    return None


def aligned_periods(config) -> bool:
    """Whether a depth prune's whole periods (`whole_period`) start at multiples of the
    period: Inkling 2's groups do (its boundaries are blocks i with i % n == 0), Jamba's runs
    start anywhere."""
    return getattr(config, "model_type", None) == "inkling2_text"


def inkling2_removal_problem(config, removed) -> str | None:
    """Why removing the blocks `removed` from an Inkling 2 model is refused (None where it is
    not, and in other families): they are not whole groups of n_layers_per_attn_res_block
    blocks after the first (INKLING2_GROUPS), the only removal that keeps every kept block's
    role under its new index."""
    if getattr(config, "model_type", None) != "inkling2_text" or not removed:
        return None
    n, removed = config.n_layers_per_attn_res_block, sorted(set(removed))
    groups = {block // n for block in removed}
    whole = all(set(range(g * n, g * n + n)) <= set(removed)
                and g * n + n <= config.num_hidden_layers for g in groups)
    if whole and 0 not in groups:
        return None
    return (f"removing blocks {removed} would not remove whole groups of this Inkling 2 "
            f"model's blocks: {INKLING2_GROUPS}. Remove whole groups of "
            f"n_layers_per_attn_res_block={n} blocks (blocks g * {n} to g * {n} + {n - 1}, g "
            "from 1; the first group stays): the depth methods choose so (methods.sizing)")


def moe_layer_range_of(sparse: list[bool]) -> tuple[int, int, int]:
    """ERNIE 4.5's (moe_layer_start_index, moe_layer_end_index, moe_layer_interval) that give
    exactly these blocks' kinds (True: sparse), the first sparse block its start, the last its
    end and the smallest interval that fits: what a depth-pruned model's config says, so that
    each kept block reloads as the kind it was. A published config (every block from the
    start on sparse, interval 1) pruned by any blocks keeps a dense prefix and sparse blocks
    after it: always one range. PrunebenchError where none fits (an interval above 1 whose
    pattern the removal broke)."""
    n = len(sparse)
    where = [i for i, s in enumerate(sparse) if s]
    if not where:  # no sparse block left: a range past the last block
        return n, n - 1, 1
    first, last = where[0], where[-1]
    for step in range(1, n + 1):
        if [(i + 1) % step == 0 and first <= i <= last for i in range(n)] == sparse:
            return first, last, step
    raise PrunebenchError(
        f"the kept blocks' kinds ({''.join('S' if s else 'D' for s in sparse)}: S sparse, D "
        "dense) fit no moe_layer_start_index / moe_layer_end_index / moe_layer_interval, which "
        "is how an ERNIE 4.5 config.json says where its experts are: remove other blocks (the "
        "published models, interval 1, allow any), or keep the model dense")


def linear_attention_blocks(config) -> list[bool]:
    """Per block, whether it is one of Qwen3-Next's or Qwen3.5's Gated DeltaNet blocks (or
    Granite 4.0's Mamba-2 ones: `layer_types` "linear_attention"; LFM2's short convolutions:
    "conv"); False for every block of the other families."""
    if not family(config).linear_attention:
        return [False] * block_count(config)
    if family(config).griffin_blocks:  # (RecurrentGemma's RG-LRU blocks)
        return [kind == "recurrent" for kind in griffin_kinds(config)]
    return [kind in ("linear_attention", "conv") for kind in config.layer_types]


# The kinds of attention block by whose cache transformers sizes a hybrid's masks
# (depth_needed_kinds; modeling.remove_blocks names them in its refusal): LFM3's windowed
# blocks count as well.
MASK_SIZING_KINDS = ("full-attention", "full or windowed attention")


def depth_needed_kinds(config) -> list[tuple[str, list[int], str]]:
    """The kinds of block of which a depth prune must keep one (two of Zamba's hybrid blocks:
    `depth_needed_least`; modeling.remove_blocks refuses a prune that leaves fewer): each
    kind's name, its blocks and why. A full-attention block where other blocks mix tokens
    otherwise (Qwen3-Next's, Qwen3.5's and OLMo Hybrid's Gated DeltaNet, Granite 4.0's and
    Bamba's Mamba-2, LFM2's short convolutions, Nemotron-H's Mamba-2 and MLP blocks); and OLMo
    Hybrid's Gated DeltaNet blocks too. None in other families (MiniMax's lightning attention
    blocks run alone)."""
    n = block_count(config)
    if getattr(config, "model_type", None) == "zamba":
        return zamba_needed_kinds(config)
    if getattr(config, "model_type", None) == "zamba2":
        return [("hybrid", zamba2_hybrid_ids(config), ZAMBA2_NO_HYBRID)]
    if family(config).rwkv_blocks:  # (two kept: `depth_needed_least`)
        return [("RWKV", list(range(n)), RWKV_ONE_BLOCK)]
    if family(config).griffin_blocks:  # (no recurrent block needed: attention alone runs)
        return [("attention", [i for i, kind in enumerate(griffin_kinds(config))
                               if kind == "attention"],
                 "RecurrentGemmaModel sizes its masks by its first attention block's cache, so "
                 "neither generate nor any cached forward runs without one")]
    kind, attention = MASK_SIZING_KINDS[0], (
        "transformers sizes its masks by a full-attention block's cache, so neither generate "
        "nor any cached forward runs without one")
    if getattr(config, "model_type", None) == "lfm3":
        # (LFM3's kind is either attention block: a windowed one sizes them too)
        kind, attention = MASK_SIZING_KINDS[1], (
            "transformers 5.23 and 5.24 read the cache's length from an attention block (full "
            "or windowed), so neither generate nor any cached forward runs without one")
    if family(config).one_mixer_blocks:
        return [(kind, [i for i in range(n) if config.layer_types[i] == "full_attention"],
                 attention)]
    linear = linear_attention_blocks(config)
    if not any(linear) or config.model_type in ("minimax", "lara_mini"):
        # (MiniMax's masks and cache run without a softmax block, 5.17 and 5.25; Lara Mini's
        # without a full-attention or windowed one, 5.24 and 5.25: LaraMiniModel masks by the
        # kinds it has, its cache's length read from any)
        return []
    kinds = [(kind, [i for i in range(n) if not linear[i]], attention)]
    if config.model_type == "olmo_hybrid":
        kinds.append(("Gated DeltaNet", [i for i in range(n) if linear[i]],
                      "OlmoHybridConfig refuses a model without one, so neither prunebench "
                      "nor transformers would load the pruned checkpoint"))
    return kinds


def linear_attention_params(config) -> int:
    """Parameters of one block's token mixer of another kind than softmax attention: Granite
    4.0's Mamba-2 mixer (`mamba_params`), or Qwen3-Next's Gated DeltaNet
    (Qwen3NextGatedDeltaNet): in_proj_qkvz (hidden -> 2 x keys + 2 x values, the queries,
    keys, values and the output gate z), in_proj_ba (hidden -> 2 x value heads: beta and the
    decay's input; Qwen3.5's Qwen3_5GatedDeltaNet splits the two into in_proj_qkv, in_proj_z,
    in_proj_b and in_proj_a, the same rows), the depthwise conv1d over the queries, keys and
    values (one kernel of linear_conv_kernel_dim per channel, no bias), dt_bias and A_log (one
    per value head), the gated RMSNorm (linear_value_head_dim) and out_proj (values ->
    hidden); no biases. LFM2's short convolution (`short_conv_params`)."""
    if family(config).mamba_mixer:
        return mamba_params(config)
    if family(config).short_conv:
        return short_conv_params(config)
    if getattr(config, "model_type", None) == "jamba":
        return jamba_mamba_params(config)
    if getattr(config, "model_type", None) == "zamba":
        return zamba_mamba_params(config)
    if getattr(config, "model_type", None) == "zamba2":
        return mamba_params(config)
    if getattr(config, "model_type", None) == "kimi_linear":
        return kda_params(config)
    if getattr(config, "model_type", None) == "bailing_hybrid":
        return bailing_kda_params(config)
    if getattr(config, "model_type", None) == "minimax":
        return lightning_params(config)
    keys = config.linear_num_key_heads * config.linear_key_head_dim
    values = config.linear_num_value_heads * config.linear_value_head_dim
    heads = config.linear_num_value_heads
    d = config.hidden_size
    return (d * (2 * keys + 2 * values) + d * 2 * heads
            + (2 * keys + values) * config.linear_conv_kernel_dim + 2 * heads
            + config.linear_value_head_dim + values * d)


def linear_attention_state(config) -> tuple[int, int]:
    """The values one sequence's state holds in a Gated DeltaNet block, whatever its length:
    (the conv state, the last linear_conv_kernel_dim inputs of each of the conv1d's channels,
    in the model's dtype; the recurrent state, a key x value matrix per value head, which
    transformers keeps in float32); a Mamba-2 mixer's (`mamba_state`); an LFM2 short
    convolution's conv state alone (the last conv_L_cache inputs of its hidden_size channels,
    LinearAttentionLayer's conv_states; no recurrent state); a Mamba-1 mixer's
    (`mamba1_state`); a RecurrentGemma recurrent block's (`griffin_state`); an xLSTM block's
    (`mlstm_state`)."""
    if family(config).mamba1_blocks:
        return mamba1_state(config)
    if family(config).mlstm_blocks:
        return mlstm_state(config)
    if family(config).rwkv_blocks:
        return rwkv_state(config)
    if family(config).griffin_blocks:
        return griffin_state(config)
    if (family(config).mamba_mixer or family(config).mamba_beside_attention
            or family(config).mamba2_blocks or getattr(config, "model_type", None) == "zamba2"):
        return mamba_state(config)
    if family(config).short_conv:
        return config.hidden_size * config.conv_L_cache, 0
    if getattr(config, "model_type", None) == "minimax":
        # lightning attention: no conv; K^T V, a head_dim x head_dim matrix a head (in the
        # model's dtype: MiniMaxCache.linear_cache, `state_in_model_dtype`)
        return 0, config.num_attention_heads * head_dim(config) ** 2
    if getattr(config, "model_type", None) in ("jamba", "zamba"):
        # Mamba-1's: the conv's last mamba_d_conv inputs and mamba_d_state values a channel
        # (Zamba's heads split the channels: the same values)
        inner = config.mamba_expand * config.hidden_size
        return inner * config.mamba_d_conv, inner * config.mamba_d_state
    if getattr(config, "model_type", None) in ("kimi_linear", "bailing_hybrid"):
        # KDA: its conv1d over queries, keys and values; a key x value matrix per head
        width = config.linear_num_heads * config.linear_head_dim
        return 3 * width * config.linear_conv_kernel_dim, width * config.linear_head_dim
    channels = (2 * config.linear_num_key_heads * config.linear_key_head_dim
                + config.linear_num_value_heads * config.linear_value_head_dim)
    return (channels * config.linear_conv_kernel_dim,
            config.linear_num_value_heads * config.linear_key_head_dim
            * config.linear_value_head_dim)


def kda_params(config) -> int:
    """Parameters of one Kimi Delta Attention (KimiLinearDeltaAttention), linear_num_heads
    heads of linear_head_dim (w wide in all): q_proj, k_proj and v_proj (hidden -> w each), the
    depthwise conv1d over the three (linear_conv_kernel_dim taps a channel, no bias), the
    forget gate's low-rank projection f_a_proj (hidden -> head_dim) and f_b_proj (-> w), its
    dt_bias (one a channel, w) and A_log (one a head), b_proj (hidden -> one beta a head), the
    output gate's g_a_proj / g_b_proj (the same low rank), the gated RMSNorm (head_dim) and
    o_proj (w -> hidden); no biases."""
    d, head, heads = config.hidden_size, config.linear_head_dim, config.linear_num_heads
    w = heads * head
    return (3 * d * w + 3 * w * config.linear_conv_kernel_dim + 2 * (d * head + head * w)
            + w + heads + d * heads + head + w * d)


def bailing_kda_params(config) -> int:
    """Parameters of one of Ling's Kimi Delta Attentions (BailingHybridDeltaAttention),
    linear_num_heads heads of linear_head_dim (w wide in all): q_proj, k_proj and v_proj
    (hidden -> w each), the depthwise conv1d over the three (linear_conv_kernel_dim taps a
    channel, no bias), the forget gate's full-rank f_proj (hidden -> w), dt_bias (w) and A_log
    (one a head), b_proj (hidden -> one beta a head), the output gate's full-rank g_proj
    (hidden -> w), the gated RMSNorm (head_dim) and o_proj (w -> hidden); no biases."""
    d, head, heads = config.hidden_size, config.linear_head_dim, config.linear_num_heads
    w = heads * head
    return (3 * d * w + 3 * w * config.linear_conv_kernel_dim + d * w + w + heads
            + d * heads + d * w + head + w * d)


def lightning_params(config) -> int:
    """Parameters of one MiniMax lightning attention (MiniMaxLightningAttention), heads x
    head_dim (w) wide: qkv_proj (hidden -> 3 w), output_gate (hidden -> w), the RMSNorm over
    the heads' outputs (w) and out_proj (w -> hidden); no biases. Its decay slopes and
    factors are buffers, not parameters."""
    w = config.num_attention_heads * head_dim(config)
    return 4 * config.hidden_size * w + w + w * config.hidden_size


def state_in_model_dtype(config) -> bool:
    """Whether the linear-attention blocks keep their recurrent state in the model's dtype
    (MiniMax's lightning attention: MiniMaxCache.linear_cache, made in the values' dtype)
    rather than float32 (a Gated DeltaNet's, a KDA's, a Mamba-2 mixer's); xLSTM's (xLSTMCache,
    made in the embeddings' dtype, into which each step copies its float32 states)."""
    return getattr(config, "model_type", None) in ("minimax", "xlstm")


def short_conv_params(config) -> int:
    """Parameters of one LFM2 short convolution (Lfm2ShortConv): in_proj (hidden -> 3 x
    hidden: B, C and x), the depthwise conv1d (conv_L_cache taps a channel) and out_proj
    (hidden -> hidden), each with a bias where conv_bias is set."""
    d, bias = config.hidden_size, bool(config.conv_bias)
    return (d * 3 * d + (3 * d if bias else 0) + d * config.conv_L_cache + (d if bias else 0)
            + d * d + (d if bias else 0))


class MambaShape(NamedTuple):
    """A Mamba-2 mixer's sizes, whatever its family's config keys call them (`mamba_shape`)."""

    inner: int  # the inner width: the gate z, the SSM's input x, out_proj's input
    channels: int  # the conv1d's: the inner width and the B and C projections
    heads: int
    head_dim: int
    state: int  # d_state: each head's state is head_dim x state
    conv: int  # the conv1d's kernel
    conv_bias: bool
    proj_bias: bool  # in_proj's (and out_proj's, but in Falcon-H1)
    out_bias: bool  # out_proj's
    gated_norm: bool  # the RMSNorm over the inner width, gated by z (Falcon-H1's optional)


def mamba_shape(config) -> MambaShape:
    """A Mamba-2 mixer's sizes as the family's class reads them: Granite 4.0's
    (GraniteMoeHybridMambaLayer: mamba_expand x hidden wide, mamba_n_heads, mamba_n_groups,
    mamba_d_state, mamba_d_conv, mamba_conv_bias, mamba_proj_bias) or Nemotron-H's
    (NemotronHMamba2Mixer: mamba_num_heads x mamba_head_dim wide, n_groups, ssm_state_size,
    conv_kernel, use_conv_bias, use_bias) or Falcon-H1's (FalconH1Mixer: Granite 4.0's keys,
    mamba_d_ssm wide where set, out_proj biased by projectors_bias, the gated norm by
    mamba_rms_norm) or Mamba-2's (Mamba2Mixer: expand x hidden wide, which Mamba2Config
    checks is num_heads x head_dim, n_groups, state_size, conv_kernel, use_conv_bias,
    use_bias)."""
    if family(config).mamba2_blocks:
        inner, groups = int(config.expand * config.hidden_size), config.n_groups
        state, bias = config.state_size, bool(config.use_bias)
        return MambaShape(inner, inner + 2 * groups * state, config.num_heads, config.head_dim,
                          state, config.conv_kernel, bool(config.use_conv_bias), bias, bias, True)
    if getattr(config, "model_type", None) == "zamba2":
        # (Zamba2MambaMixer: the conv biased whatever use_conv_bias says)
        inner, heads = int(config.mamba_expand * config.hidden_size), config.n_mamba_heads
        state, bias = config.mamba_d_state, bool(config.add_bias_linear)
        return MambaShape(inner, inner + 2 * config.mamba_ngroups * state, heads, inner // heads,
                          state, config.mamba_d_conv, True, bias, bias, True)
    if family(config).one_mixer_blocks:
        heads, head = config.mamba_num_heads, config.mamba_head_dim
        inner, groups, state = heads * head, config.n_groups, config.ssm_state_size
        bias = bool(config.use_bias)
        return MambaShape(inner, inner + 2 * groups * state, heads, head, state,
                          config.conv_kernel, bool(config.use_conv_bias), bias, bias, True)
    inner = mamba_inner(config)
    heads, state = config.mamba_n_heads, config.mamba_d_state
    bias = bool(config.mamba_proj_bias)
    falcon = family(config).mamba_beside_attention
    return MambaShape(inner, inner + 2 * config.mamba_n_groups * state, heads,
                      mamba_head_dim(config), state, config.mamba_d_conv,
                      bool(config.mamba_conv_bias), bias,
                      bool(config.projectors_bias) if falcon else bias,
                      bool(config.mamba_rms_norm) if falcon else True)


def mamba_inner(config) -> int:
    """A Granite 4.0, Bamba or Falcon-H1 Mamba-2 mixer's inner width: mamba_expand x hidden,
    or Falcon-H1's mamba_d_ssm where set."""
    ssm = getattr(config, "mamba_d_ssm", None) if family(config).mamba_beside_attention else None
    return ssm if ssm is not None else int(config.mamba_expand * config.hidden_size)


def mamba_params(config) -> int:
    """Parameters of one Mamba-2 mixer (GraniteMoeHybridMambaLayer, Bamba's;
    NemotronHMamba2Mixer): in_proj (hidden -> the gate z, the conv's channels and one dt per
    head), the depthwise conv1d (a kernel a channel, and its bias), dt_bias, A_log and D (one
    per head), the gated RMSNorm over the inner width and out_proj (inner -> hidden); in_proj
    and out_proj biased alike (`mamba_shape`)."""
    m, d = mamba_shape(config), config.hidden_size
    projected = m.inner + m.channels + m.heads
    return (d * projected + (projected if m.proj_bias else 0)
            + m.channels * m.conv + (m.channels if m.conv_bias else 0)
            + 3 * m.heads + (m.inner if m.gated_norm else 0) + m.inner * d
            + (d if m.out_bias else 0))


def mamba_state(config) -> tuple[int, int]:
    """The values one sequence's state holds in a Mamba-2 block, whatever its length: (the conv
    state, the last kernel's inputs of each conv1d channel; the SSM state, a head_dim x d_state
    matrix per head)."""
    m = mamba_shape(config)
    return m.channels * m.conv, m.heads * m.head_dim * m.state


def mamba_head_dim(config) -> int:
    """A Granite 4.0, Bamba or Falcon-H1 Mamba-2 head's width: mamba_d_head, or the inner width
    over the heads where the config says "auto" (their configs' default, which the classes
    resolve so)."""
    head = getattr(config, "mamba_d_head", "auto")
    if head in (None, "auto"):
        return mamba_inner(config) // config.mamba_n_heads
    return head


def mamba1_inner(config) -> int:
    """A Mamba-1 mixer's inner width: intermediate_size where a config.json gives it (it
    overrides what MambaConfig and FalconMambaConfig derive, and falcon-mamba-7b's is not
    expand x hidden: expand 16, intermediate_size 8192 = 2 x hidden), else expand x hidden."""
    inner = getattr(config, "intermediate_size", None)
    return int(config.expand * config.hidden_size) if inner is None else inner


def mamba1_dt_rank(config) -> int:
    """A Mamba-1 mixer's dt_proj rank: time_step_rank, or ceil(hidden / 16) where "auto" (the
    classes' default, which they resolve so)."""
    rank = getattr(config, "time_step_rank", "auto")
    return math.ceil(config.hidden_size / 16) if rank in (None, "auto") else int(rank)


def mamba1_params(config) -> int:
    """Parameters of one Mamba-1 mixer (MambaMixer, FalconMambaMixer): in_proj (hidden -> the
    SSM's input and the gate, 2 x inner), the depthwise conv1d over the inner width (a kernel
    of conv_kernel a channel, and its bias by use_conv_bias), x_proj (inner -> dt_rank + B + C,
    2 x state_size; no bias), dt_proj (dt_rank -> inner, biased), A_log (inner x state_size),
    D (inner) and out_proj (inner -> hidden); in_proj and out_proj biased by use_bias.
    FalconMamba's norms of B, C and dt hold no parameters."""
    d, inner, state = config.hidden_size, mamba1_inner(config), config.state_size
    rank, bias = mamba1_dt_rank(config), bool(config.use_bias)
    return (d * 2 * inner + (2 * inner if bias else 0)
            + inner * config.conv_kernel + (inner if config.use_conv_bias else 0)
            + inner * (rank + 2 * state) + rank * inner + inner
            + inner * state + inner + inner * d + (d if bias else 0))


def jamba_mamba_params(config) -> int:
    """Parameters of one JambaMambaMixer: a Mamba-1 mixer (`mamba1_params`) of mamba_expand x
    hidden channels, mamba_d_state, mamba_d_conv taps (the conv biased by mamba_conv_bias,
    in_proj and out_proj by mamba_proj_bias) and a dt_proj of mamba_dt_rank ("auto": ceil(hidden
    / 16)), and RMSNorms of dt, B and C with a weight each (dt_layernorm, b_layernorm,
    c_layernorm)."""
    return (mamba1_params(mamba1_of_mamba_keys(config)) + mamba1_dt_rank(
        mamba1_of_mamba_keys(config)) + 2 * config.mamba_d_state)


def mamba1_of_mamba_keys(config) -> SimpleNamespace:
    """A Mamba-1 mixer's keys (MambaConfig's) of a hybrid that names them mamba_* (Jamba's and
    Zamba's: mamba_expand x hidden channels, mamba_d_state, mamba_d_conv taps, the conv biased
    by mamba_conv_bias, in_proj and out_proj by mamba_proj_bias, a dt_proj of mamba_dt_rank,
    "auto": ceil(hidden / 16))."""
    return SimpleNamespace(hidden_size=config.hidden_size,
                           intermediate_size=config.mamba_expand * config.hidden_size,
                           state_size=config.mamba_d_state, time_step_rank=config.mamba_dt_rank,
                           use_bias=config.mamba_proj_bias, conv_kernel=config.mamba_d_conv,
                           use_conv_bias=config.mamba_conv_bias)


def zamba_mamba_params(config) -> int:
    """Parameters of one ZambaMambaMixer: a Mamba-1 mixer of Jamba's keys
    (`mamba1_of_mamba_keys`) whose channels n_mamba_heads heads split, each head with x_proj
    and dt_proj of its own (x_proj_weight, dt_proj_weight, dt_proj_bias: together as many
    values as one mixer's over all the channels), no norms of dt, B and C."""
    return mamba1_params(mamba1_of_mamba_keys(config))


def zamba_attention_width(config) -> int:
    """The width Zamba's shared attention reads: attention_hidden_size, the hidden state and
    the embeddings concatenated (ZambaConfig's default where null: 2 x hidden_size)."""
    return getattr(config, "attention_hidden_size", None) or 2 * config.hidden_size


def zamba_shared_params(config) -> int:
    """Parameters of Zamba's one shared transformer block (ZambaAttentionDecoderLayer), which
    every hybrid block runs: counted once, with the embeddings (`non_block_param_count`), while
    hybrid blocks are left (a depth prune keeps two: `zamba_needed_kinds`). input_layernorm
    over attention_hidden_size, q/k/v_proj from it (heads and KV heads of head_dim,
    attention_head_dim), o_proj (-> hidden), pre_ff_layernorm and a gated MLP of
    intermediate_size; no biases."""
    a, d, hd = zamba_attention_width(config), config.hidden_size, head_dim(config)
    q, kv = config.num_attention_heads * hd, kv_heads(config) * hd
    return a + a * (q + 2 * kv) + q * d + d + 3 * d * config.intermediate_size


def zamba_hybrid_blocks(config) -> list[bool]:
    """Per block, whether a Zamba block is a hybrid one (layers_block_type "hybrid")."""
    return [kind == "hybrid" for kind in config.layer_types]


def zamba_needed_kinds(config) -> list[tuple[str, list[int], str]]:
    """The hybrid blocks of which a Zamba depth prune keeps two (`depth_needed_least`; none
    named in other families, nor in a Zamba model of Mamba blocks alone): transformers'
    ZambaModel, 5.17 and 5.25, cannot build a model of tied embeddings and one hybrid block,
    whose tying of the shared block finds no other block to tie (a ValueError); and none would
    drop the shared block, the model's only attention and MLP, which runs in hybrid blocks
    alone."""
    if getattr(config, "model_type", None) != "zamba":
        return []
    hybrid = [i for i, is_hybrid in enumerate(zamba_hybrid_blocks(config)) if is_hybrid]
    why = ("transformers' ZambaModel cannot build a model of one hybrid block (it ties the "
           "shared transformer block's copies and finds none to tie), and none would drop that "
           "block, the model's only attention and MLP, so a prune keeps two")
    return [("hybrid", hybrid, why)] if hybrid else []


def depth_needed_least(config) -> int:
    """How many blocks of each kind `depth_needed_kinds` names a depth prune keeps: two of a
    Zamba model's hybrid blocks (`zamba_needed_kinds`) and of an RWKV model's blocks
    (`RWKV_ONE_BLOCK`), one of every other family's kinds."""
    return 2 if getattr(config, "model_type", None) in ("zamba", "rwkv") else 1


# Why an RWKV depth prune keeps two blocks (5.17, 5.25).
RWKV_ONE_BLOCK = ("RwkvPreTrainedModel's weight init divides by num_hidden_layers - 1, so "
                  "transformers cannot build or load an RWKV model of one block")


def zamba_shapes(config) -> list[dict[str, Any]]:
    """Each Zamba block's shape: a hybrid block the shared attention's heads (its KV cache,
    head_dim each), a Mamba block none; no MLP of a block's own (the shared block's is
    counted apart: `zamba_shared_params`)."""
    return [{**MAMBA1_SHAPE, "num_attention_heads": config.num_attention_heads,
             "num_key_value_heads": kv_heads(config)} if is_hybrid else {**MAMBA1_SHAPE}
            for is_hybrid in zamba_hybrid_blocks(config)]


def zamba_block_params(config, shape: dict[str, Any]) -> int:
    """Parameters of one Zamba block of `shape`: a Mamba block's norm and mixer, and in a
    hybrid block (one with heads) its own linear (hidden -> hidden, no bias) beside them."""
    d = config.hidden_size
    return (norm_params(config) + zamba_mamba_params(config)
            + (d * d if shape["num_attention_heads"] else 0))


def zamba2_hybrid_ids(config) -> list[int]:
    """A Zamba2 model's hybrid blocks (layers_block_type "hybrid", Zamba2Config's
    hybrid_layer_ids): hybrid block j runs shared block j mod num_mem_blocks and reads its
    adapters by j (`zamba2_removal_problem`)."""
    return [i for i, kind in enumerate(config.layer_types) if kind == "hybrid"]


# Why a Zamba2 depth prune keeps a hybrid block (5.17, 5.25).
ZAMBA2_NO_HYBRID = ("Zamba2Model's masks and cache need an attention block, which only its "
                    "hybrid blocks run (the shared transformer blocks), so neither generate "
                    "nor any cached forward runs without one")


def zamba2_shifted(config, removed) -> list[int]:
    """The kept hybrid blocks of a Zamba2 model that removing the blocks `removed` would hand
    another shared block: those with a number of removed hybrid blocks before them that is no
    multiple of num_mem_blocks. Hybrid block j (in hybrid order) runs shared block j mod
    num_mem_blocks (Zamba2Model.get_layers' block_id and ties) through its adapter slot j in
    that block's lists, which hold an adapter at the slots of the hybrid blocks running it
    alone; a removal of whole cycles (runs of num_mem_blocks consecutive hybrid blocks, or any
    hybrid blocks after the last kept one) keeps each kept hybrid block on its shared block and
    its adapter at its new slot, as transformers builds the model of the kept blocks
    (modeling.remove_blocks drops the removed blocks' adapters). Any removal with
    num_mem_blocks 1. Empty in other families."""
    if getattr(config, "model_type", None) != "zamba2":
        return []
    removed, gone, shifted = set(removed), 0, []
    for block in zamba2_hybrid_ids(config):
        if block in removed:
            gone += 1
        elif gone % config.num_mem_blocks:
            shifted.append(block)
    return shifted


def zamba2_removal_problem(config, removed) -> str | None:
    """Why removing the blocks `removed` from a Zamba2 model is refused (None where it is
    not, and in other families): it would leave no hybrid block (`ZAMBA2_NO_HYBRID`), or hand
    kept hybrid blocks another shared block (`zamba2_shifted`)."""
    if getattr(config, "model_type", None) != "zamba2":
        return None
    hybrid, removed = zamba2_hybrid_ids(config), sorted(set(removed))
    if not set(hybrid) - set(removed):
        return (f"removing blocks {removed} would leave this Zamba2 model none of its hybrid "
                f"blocks {hybrid}: {ZAMBA2_NO_HYBRID}. Remove fewer blocks (a larger size), or "
                "keep one with the depth method's protect_first / protect_last")
    if shifted := zamba2_shifted(config, removed):
        cycle = config.num_mem_blocks
        return (f"removing blocks {removed} would hand this Zamba2 model's hybrid blocks "
                f"{shifted} other shared transformer blocks than they were trained with: "
                f"hybrid block j (in hybrid order, the hybrid blocks are {hybrid}) runs shared "
                f"block j mod num_mem_blocks={cycle} through its own adapters, so hybrid "
                f"blocks go in whole cycles of {cycle} consecutive ones (or after the last one "
                "kept), which keep every later one on its shared block. Remove such cycles, "
                "or Mamba blocks: the depth methods choose so (methods.sizing)")
    return None


def zamba2_shared_params(config) -> int:
    """Parameters of Zamba2's shared transformer blocks (Zamba2AttentionDecoderLayer), the
    first num_mem_blocks hybrid blocks' (fewer where the model has fewer hybrid blocks), which
    the others' copies are tied to: counted once each, with the embeddings, as Zamba's one:
    input_layernorm over 2 x hidden, q/k/v_proj from it (heads and KV heads of head_dim,
    2 x hidden / heads), o_proj (-> hidden), pre_ff_layernorm and gate_up_proj / down_proj
    of intermediate_size (biased by add_bias_linear); not the adapters
    (`zamba2_adapter_params`)."""
    a, d, hd = 2 * config.hidden_size, config.hidden_size, head_dim(config)
    q, kv, inter = config.num_attention_heads * hd, kv_heads(config) * hd, config.intermediate_size
    mlp = 3 * d * inter + (2 * inter + d if config.add_bias_linear else 0)
    blocks = min(config.num_mem_blocks, len(zamba2_hybrid_ids(config)))
    return blocks * (a + a * (q + 2 * kv) + q * d + d + mlp)


def depth_removed_params(config, removed) -> int:
    """Parameters a depth prune removing the blocks `removed` takes: theirs
    (`block_param_count`), and a Zamba2 model's shared blocks no kept hybrid block runs any
    more (of num_mem_blocks, as many as the hybrid blocks kept: `zamba2_shared_params`)."""
    shapes, gone = layer_shapes(config), set(removed)
    taken = sum(block_param_count(config, shapes[b]) for b in gone)
    if getattr(config, "model_type", None) == "zamba2":
        hybrid = zamba2_hybrid_ids(config)
        before = min(config.num_mem_blocks, len(hybrid))
        after = min(config.num_mem_blocks, len([b for b in hybrid if b not in gone]))
        taken += (before - after) * zamba2_shared_params(config) // before
    return taken


def zamba2_adapter_params(config) -> int:
    """Parameters of one Zamba2 hybrid block's adapters, held in the shared block it runs: a
    rank-adapter_rank LoRA on gate_up_proj (hidden -> 2 x intermediate_size) always, and on
    q / k / v_proj (2 x hidden -> 2 x hidden each) where use_shared_attention_adapter is set."""
    r, d = config.adapter_rank, config.hidden_size
    attention = 3 * 2 * (2 * d * r) if config.use_shared_attention_adapter else 0
    return r * (d + 2 * config.intermediate_size) + attention


def zamba2_block_params(config, shape: dict[str, Any]) -> int:
    """Parameters of one Zamba2 block of `shape`: a Mamba block's norm and Mamba-2 mixer, and
    in a hybrid block (one with heads) its own linear (hidden -> hidden, no bias) and its
    adapters (`zamba2_adapter_params`)."""
    d = config.hidden_size
    return (norm_params(config) + mamba_params(config)
            + (d * d + zamba2_adapter_params(config) if shape["num_attention_heads"] else 0))


def mamba1_state(config) -> tuple[int, int]:
    """The values one sequence's state holds in a Mamba-1 block, whatever its length: (the conv
    state, the last conv_kernel inputs of each inner channel; the SSM state, state_size values
    an inner channel)."""
    inner = mamba1_inner(config)
    return inner * config.conv_kernel, inner * config.state_size


def round_up(value: float, multiple: int) -> int:
    """`value` rounded up to a multiple of `multiple`, as xLSTM's round_up_to_next_multiple_of
    computes it (a floor division of value + multiple - 1: for a value that is no integer
    this may differ from math.ceil by one multiple)."""
    return int((value + multiple - 1) // multiple * multiple)


def mlstm_widths(config) -> tuple[int, int, int]:
    """An xLSTM block's widths as xLSTMLayer and xLSTMFeedForward build them: the query / key
    width (hidden x qk_dim_factor, truncated), the value width (hidden x v_dim_factor,
    truncated) and the FFN's (hidden x ffn_proj_factor, rounded up to a multiple of
    ffn_round_up_to_multiple_of)."""
    d = config.hidden_size
    return (int(d * config.qk_dim_factor), int(d * config.v_dim_factor),
            round_up(d * config.ffn_proj_factor, config.ffn_round_up_to_multiple_of))


def mlstm_params(config) -> int:
    """Parameters of one xLSTM block (xLSTMBlock): two RMSNorms (a bias each by use_bias), the
    mLSTM layer (q, k: hidden -> qk; v, ogate_preact: hidden -> v; out_proj: v -> hidden; these
    biased by use_bias; the input and forget gates' preactivations hidden -> num_heads, always
    biased; the multi-head norm's weight over v, its bias by use_bias) and the FFN (proj_up_gate
    and proj_up hidden -> up, proj_down up -> hidden, biased by use_bias)."""
    d, heads, (qk, v, up) = config.hidden_size, config.num_heads, mlstm_widths(config)
    bias = bool(config.use_bias)
    norms = 2 * d * (2 if bias else 1)
    layer = (d * (2 * qk + 2 * v) + (2 * qk + 2 * v if bias else 0) + 2 * (d * heads + heads)
             + v * (2 if bias else 1) + v * d + (d if bias else 0))
    ffn = 3 * d * up + (2 * up + d if bias else 0)
    return norms + layer + ffn


def mlstm_state(config) -> tuple[int, int]:
    """The values one sequence's state holds in an xLSTM block, whatever its length, as
    xLSTMCache keeps it (in the model's dtype: `state_in_model_dtype`): no conv state; each
    head's cell state (qk_head_dim x v_head_dim), normaliser (qk_head_dim) and max state (one
    value). xLSTMCache sizes them by xLSTMConfig's qk_head_dim / v_head_dim, which
    `xlstm_unbuilt` checks equal the layer's widths."""
    qk, v, _ = mlstm_widths(config)
    heads = config.num_heads
    qk_head, v_head = qk // heads, v // heads
    return 0, heads * (qk_head * v_head + qk_head + 1)


def griffin_kinds(config) -> list[str]:
    """Each RecurrentGemma block's kind, "recurrent" or "attention": block_types cycled over
    the blocks, as RecurrentGemmaConfig's layers_block_type reads it (5.25 names the kinds
    linear_attention / sliding_attention there; 5.17 by block_types' own words)."""
    kinds = list(config.block_types)
    return [kinds[i % len(kinds)] for i in range(block_count(config))]


def griffin_lru_width(config) -> int:
    """The RG-LRU's width: lru_width, hidden_size where null (RecurrentGemmaConfig's)."""
    return getattr(config, "lru_width", None) or config.hidden_size


def griffin_recurrent_params(config) -> int:
    """Parameters of one RecurrentGemmaRecurrentBlock: linear_x and linear_y (hidden -> lru
    width w, biased), the depthwise conv_1d (conv1d_width taps a channel, biased), the RG-LRU
    (recurrent_param, w; its input and recurrent gates, each num_attention_heads diagonal
    blocks of (w / heads)^2 and a bias of w) and linear_out (w -> hidden, biased)."""
    d, w, heads = config.hidden_size, griffin_lru_width(config), config.num_attention_heads
    gate = heads * (w // heads) ** 2 + w
    return 2 * (d * w + w) + w * config.conv1d_width + w + w + 2 * gate + w * d + d


def griffin_block_params(config, shape: dict[str, Any]) -> int:
    """Parameters of one RecurrentGemma block of `shape`: its two norms, its temporal block
    (attention where the shape has heads: q/k/v_proj biased by attention_bias, o_proj always;
    else `griffin_recurrent_params`) and its MLP (gate_proj, up_proj and down_proj of the
    shape's width, all biased)."""
    d, hd, width = config.hidden_size, head_dim(config), shape["intermediate_size"]
    q, kv = shape["num_attention_heads"] * hd, shape["num_key_value_heads"] * hd
    if shape["num_attention_heads"]:
        bias = q + 2 * kv if config.attention_bias else 0
        temporal = d * q + 2 * d * kv + q * d + bias + d
    else:
        temporal = griffin_recurrent_params(config)
    return 2 * norm_params(config) + temporal + 3 * d * width + 2 * width + d


def griffin_shapes(config) -> list[dict[str, Any]]:
    """Each RecurrentGemma block's shape: an attention block's heads, none in a recurrent one
    (no KV cache: `LINEAR_ATTENTION_SHAPE`); the MLP's width, half intermediate_size
    (RecurrentGemmaMlp's); o_proj and down_proj biased."""
    mlp = {"intermediate_size": config.intermediate_size // 2, "o_proj_bias": True,
           "down_proj_bias": True}
    return [{**mlp, "num_attention_heads": config.num_attention_heads,
             "num_key_value_heads": kv_heads(config)} if kind == "attention"
            else {**mlp, **LINEAR_ATTENTION_SHAPE} for kind in griffin_kinds(config)]


def griffin_state(config) -> tuple[int, int]:
    """The values one sequence's state holds in a RecurrentGemma recurrent block, whatever
    its length (in the block's modules, not in transformers' cache): (the conv state, the last
    conv1d_width - 1 inputs of each of the lru width's channels; the RG-LRU's state, one value
    a channel, in float32)."""
    w = griffin_lru_width(config)
    return w * (config.conv1d_width - 1), w


def rwkv_block_params(config) -> int:
    """Parameters of one RWKV block but block 0's pre_ln (counted beside the embeddings): ln1
    and ln2 (biased LayerNorms), the time mixing (time_decay and time_first of
    attention_hidden_size, three time_mix vectors of hidden_size, key / value / receptance
    hidden -> attention_hidden_size and output back) and the channel mixing (two time_mix
    vectors, key hidden -> intermediate_size, value back, receptance hidden -> hidden); no
    Linear holds a bias."""
    d, a, m = config.hidden_size, rwkv_attention_width(config), rwkv_mlp_width(config)
    return 2 * norm_params(config) + 2 * a + 3 * d + 4 * d * a + 2 * d + 2 * d * m + d * d


def rwkv_attention_width(config) -> int:
    """RWKV's attention_hidden_size, hidden_size where null (RwkvConfig sets it so)."""
    return config.attention_hidden_size or config.hidden_size


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


def rwkv_mlp_width(config) -> int:
    """RWKV's intermediate_size, 4 x hidden_size where null (RwkvConfig sets it so)."""
    return config.intermediate_size or 4 * config.hidden_size


def rwkv_state(config) -> tuple[int, int]:
    """The values one sequence's state holds in an RWKV block, whatever its length: (the last
    inputs of its time mixing and of its channel mixing, hidden_size each, in the model's
    dtype; the WKV numerator, denominator and running maximum, hidden_size each, in float32),
    as RwkvModel allocates its five state tensors."""
    return 2 * config.hidden_size, 3 * config.hidden_size


def state_blocks(config) -> list[bool]:
    """Per block, whether it keeps a state of one size whatever the length (a Gated DeltaNet's
    or a Mamba-2 mixer's, `linear_attention_state`): the linear-attention blocks, and every
    Falcon-H1 block (its Mamba-2 mixer beside its attention, `Family.mamba_beside_attention`)
    and every Mamba-1 or Mamba-2 block of a pure Mamba stack (`Family.mamba_stack`)."""
    if (family(config).mamba_beside_attention or family(config).mamba_stack
            or family(config).mlstm_blocks  # (xLSTM's: an mLSTM state in every block)
            or family(config).rwkv_blocks  # (RWKV's: five state vectors a block)
            or getattr(config, "model_type", None) in ("zamba", "zamba2")):  # (a hybrid's too)
        return [True] * block_count(config)
    return linear_attention_blocks(config)


# Nemotron-H's block kinds (NemotronHConfig's layers_block_type) and the character of each in
# its published hybrid_override_pattern.
NEMOTRON_H_PATTERN = {"M": "linear_attention", "*": "full_attention", "-": "mlp", "E": "moe"}


# The Mamba-2 keys NemotronHConfig reads under older names (its __post_init__), as counted.
NEMOTRON_H_OLD_KEYS = {"mamba_n_groups": "n_groups", "mamba_d_conv": "conv_kernel",
                       "mamba_conv_bias": "use_conv_bias"}


def nemotron_h_pattern(kinds: list[str]) -> str:
    """Nemotron-H's block kinds as its hybrid_override_pattern writes them ("M-M*-")."""
    return "".join(next((c for c, k in NEMOTRON_H_PATTERN.items() if k == kind), "?")
                   for kind in kinds)


def nemotron_h_layer_types(values: dict[str, Any]) -> Any:
    """A Nemotron-H config.json's block kinds as NemotronHConfig reads them: its
    layers_block_type (or layer_types, its attribute_map's name), else its
    hybrid_override_pattern, else the class's default four blocks (Mamba-2, experts,
    attention, MLP)."""
    kinds = values.get("layers_block_type") or values.get("layer_types")
    if isinstance(kinds, list):
        return kinds
    pattern = values.get("hybrid_override_pattern")
    if isinstance(pattern, str):
        return [NEMOTRON_H_PATTERN.get(c, c) for c in pattern]
    return ["linear_attention", "moe", "full_attention", "mlp"]


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


def one_mixer_block_shapes(config) -> list[dict[str, Any]]:
    """Each block of a Nemotron-H model (`Family.one_mixer_blocks`) by the one mixer it holds:
    attention's heads (its only KV cache), a Mamba-2 mixer's state (`linear_attention`), an
    MLP's width; the others' entries 0. A block of experts is refused (`refuse_experts`)."""
    refuse_experts(config)
    shapes = []
    for kind in config.layer_types:
        attention = kind == "full_attention"
        shapes.append({"mixer": kind,
                       "num_attention_heads": config.num_attention_heads if attention else 0,
                       "num_key_value_heads": config.num_key_value_heads if attention else 0,
                       "intermediate_size": config.intermediate_size if kind == "mlp" else 0,
                       "linear_attention": kind == "linear_attention",
                       "o_proj_bias": False, "down_proj_bias": mlp_bias(config)})
    return shapes


def one_mixer_block_params(config, shape: dict[str, Any]) -> int:
    """Parameters of one Nemotron-H block (NemotronHBlock) of `shape`: its RMSNorm and its
    mixer, a Mamba-2 mixer (`mamba_params`), attention (q, k, v and o projections of head_dim
    wide heads, no biases) or an ungated MLP (up_proj and down_proj, biased by mlp_bias)."""
    d = config.hidden_size
    if shape["mixer"] == "linear_attention":
        return d + mamba_params(config)
    if shape["mixer"] == "full_attention":
        q = shape["num_attention_heads"] * head_dim(config)
        return d + 2 * d * q + 2 * d * shape["num_key_value_heads"] * head_dim(config)
    m = shape["intermediate_size"]
    return d + 2 * d * m + ((m + d) if mlp_bias(config) else 0)


def refuse_experts(config) -> None:
    """Refuse a Nemotron-H model with blocks of experts ("moe", E in hybrid_override_pattern:
    Nemotron 3's), which prunebench neither counts nor prunes (its experts are ungated, with a
    latent projection and a score-corrected router prunebench's mixture-of-experts support
    does not read)."""
    moe = [i for i, kind in enumerate(config.layer_types) if kind == "moe"]
    if moe:
        raise FamilyUnsupported(
            f"this Nemotron-H model has blocks of experts (blocks {moe}: 'moe', E in "
            "hybrid_override_pattern, as Nemotron 3's), which prunebench does not support: it "
            "supports Nemotron-H's Mamba-2 (M), attention (*) and MLP (-) blocks, as "
            "Nemotron-H-8B / 47B / 56B and Nemotron Nano 2 (NVIDIA-Nemotron-Nano-9B-v2, "
            "-12B-v2) have them; use one of those")


def per_layer_value(config, index: int, key: str) -> Any:
    """Block `index`'s value of `key` in a config whose blocks differ (Gemma 4's head_dim and
    KV heads): transformers' config gives each block's own through `per_layer_config` (reading
    the key from the whole config is an error there); `config_from_dict`'s holds the
    overrides by block index, the others the whole config's value."""
    layers = getattr(config, "per_layer_config", None)
    if layers is None:  # (Gemma 3n: every block the config's value)
        return getattr(config, key)
    if isinstance(layers, dict):
        return layers.get(index, {}).get(key, getattr(config, key))
    return getattr(layers[index], key)


def kv_sources(config) -> list[int | None]:
    """Per block of a Gemma 4 model, the block whose keys and values it reuses (one of its last
    `num_kv_shared_layers`: the last earlier block of its kind that computes its own, as
    Gemma4TextConfig.kv_sharing_modes and the 5.17 attention both pick it), None for a block
    that computes its own. PrunebenchError where a reusing block's kind has no such block."""
    n, kinds = block_count(config), config.layer_types
    first = n - (getattr(config, "num_kv_shared_layers", 0) or 0)
    sources: list[int | None] = [None] * n
    for i in range(max(first, 0), n):
        own = [j for j in range(max(first, 0)) if kinds[j] == kinds[i]]
        if not own:
            raise PrunebenchError(
                f"block {i} reuses the keys and values of an earlier {kinds[i]} block "
                f"(num_kv_shared_layers={config.num_kv_shared_layers} of {n} blocks), but no "
                "block before the shared ones is of that kind: transformers cannot build this "
                "Gemma 4 model; re-download or rebuild it (a config.json edited by hand no "
                "longer describes its blocks)")
        sources[i] = own[-1]
    return sources


def kv_reusing_blocks(config) -> list[bool]:
    """Per block, whether it reads an earlier block's keys and values instead of computing its
    own (Kolibri-1.1's kv_source_layers: no k_proj, v_proj or k_norm, no cache entry); all
    False in other families (Gemma 4's: `kv_sources`)."""
    sources = getattr(config, "kv_source_layers", None)
    if getattr(config, "model_type", None) != "kolibri1_1" or sources is None:
        return [False] * block_count(config)
    return [source != i for i, source in enumerate(sources)]


def kolibri1_1_sources(config) -> list[tuple[int, int, str]]:
    """What each block of a Kolibri-1.1 model reads of another: (reader, source, what), for
    the keys and values kv_source_layers names and for the candidate pool an indexed block
    that index_layers leaves out (a reindexer) rescores, that of the closest indexer before
    it (Kolibri1_1Model hands each block the pool of the last indexer run). Empty in other
    families."""
    if getattr(config, "model_type", None) != "kolibri1_1":
        return []
    reads = [(i, source, "keys and values")
             for i, source in enumerate(config.kv_source_layers) if source != i]
    indexers = set(config.index_layers)
    last = None
    for i, kind in enumerate(config.layer_types):
        if i in indexers:
            last = i
        elif kind == "indexed_attention" and last is not None:
            reads.append((i, last, "candidate pool"))
    return reads


def broken_reads(config, removed) -> list[tuple[int, int, str]]:
    """What removing the blocks `removed` would take from a block kept: each (reader, source,
    what) of `kolibri1_1_sources` whose source goes while its reader stays (that reader would
    read a missing block's keys, values or pool, or another's). A source goes with its readers
    freely: the kept blocks' lists are renumbered (kept_block_lists). Empty in other families
    and where every reader of a removed source goes too."""
    gone = set(removed)
    return [(reader, source, what) for reader, source, what in kolibri1_1_sources(config)
            if source in gone and reader not in gone]


def depth_kept_blocks(config) -> list[int]:
    """The blocks a depth prune must keep whatever it scores: a Gemma 4 model's last block
    (Gemma4TextConfig makes the last block global whatever layer_types says: a sliding block
    left last would reload as another) and each block whose keys and values a block after it
    reuses (`kv_sources`: removing it would hand those blocks another block's); none in other
    families; Nemotron-H's first block (transformers 5.25's cache reads the sequence length
    from the first block's entry, which an MLP block has not: a prune that left one first
    could not decode; its published models' first block is a Mamba-2 one); a GLM-MoE-DSA
    model's first block where a block shares another's indexer choice (`indexer_blocks`: a
    "shared" block reuses the last "full" block's before it, and one left first has none:
    GlmMoeDsaAttention raises); ModernBERT-decoder's first block (its class builds block 0
    without an attention norm, by index: a block left first would lose its trained norm); a
    Zamba2 model's hybrid blocks (`zamba2_hybrid_ids`: removing one would hand
    each later hybrid block another shared block and adapter); an Inkling 2 model's first
    group of n_layers_per_attn_res_block blocks (INKLING2_GROUPS: a block left first would
    lose its trained queries before the attention). None of Kolibri-1.1's: a block
    others read may go with its readers (`broken_reads`, methods.sizing.depth_removable).
    (A Zamba2 model's hybrid blocks go in whole cycles: `zamba2_removal_problem`.) A Llama
    3.2 Vision model's cross-attention blocks (`cross_attention_blocks`): skipped on text,
    so a text score would find each free to remove, which would take the image pathway away
    and save nothing a text step reads; and its first block (one left first that is a
    cross-attention block holds no cache entry on text, where transformers' static cache reads
    the sequence length: generate would decode at the wrong positions, 5.17 and 5.25)."""
    if family(config).one_mixer_blocks or family(config).first_attention_unnormed:
        return [0]
    if aligned_periods(config):  # (Inkling 2's first group: INKLING2_GROUPS)
        return list(range(min(whole_period(config), config.num_hidden_layers)))
    if cross := cross_attention_blocks(config):  # (Llama 3.2 Vision's: skipped on text)
        return sorted({0, *cross})
    if "shared" in (getattr(config, "indexer_types", None) or ()):
        return [0]
    if not family(config).per_layer_blocks:
        return []
    sources = {source for source in kv_sources(config) if source is not None}
    if getattr(config, "model_type", None) == "gemma3n_text":  # (its config keeps the last block's kind)
        return sorted(sources)
    return sorted(sources | {block_count(config) - 1})


def per_layer_block_shapes(config) -> list[dict[str, Any]]:
    """Each block of a Gemma 4 model as transformers builds it (Family.per_layer_blocks): its
    heads, KV heads and head_dim (per_layer_config), whether it reuses another block's keys
    and values (`kv_shared`: no k/v projections or norms), whether its values are its keys
    (`values_are_keys`: a global block with attention_k_eq_v, no v_proj), its MLP's width
    (twice intermediate_size on a reusing block where use_double_wide_mlp is set) and whether
    it holds experts beside that MLP (`sparse_mlp`)."""
    moe = is_moe(config)
    shapes = []
    for i, source in enumerate(kv_sources(config)):
        shared = source is not None
        shapes.append({
            "num_attention_heads": config.num_attention_heads,
            "num_key_value_heads": per_layer_value(config, i, "num_key_value_heads"),
            "head_dim": per_layer_value(config, i, "head_dim"),
            "kv_shared": shared,
            "values_are_keys": bool(getattr(config, "attention_k_eq_v", False))
            and config.layer_types[i] != "sliding_attention",
            "intermediate_size": block_value(config.intermediate_size, i) * (
                2 if shared and getattr(config, "use_double_wide_mlp", False) else 1),
            "o_proj_bias": False, "down_proj_bias": False, "sparse_mlp": moe})
    return shapes


def per_layer_block_params(config, shape: dict[str, Any]) -> int:
    """Parameters of one Gemma 4 block (Gemma4TextDecoderLayer) of `shape`
    (`per_layer_block_shapes`): q_proj and o_proj, q_norm (head_dim), and where the block
    computes its own keys k_proj, v_proj (none where its values are its keys) and k_norm (the
    v_norm has no weight), biased by attention_bias; the GeGLU MLP; four norms; a per-layer
    input's gate (hidden -> hidden_size_per_layer_input), projection (back) and norm; and
    where enable_moe_block is set the router (its proj, a scale of hidden_size and one per
    expert; its norm has no weight), the fused experts and three norms of their own."""
    d, hd = config.hidden_size, shape["head_dim"]
    q, kv = shape["num_attention_heads"] * hd, shape["num_key_value_heads"] * hd
    bias = bool(getattr(config, "attention_bias", False))
    params = 2 * d * q + hd + ((q + d) if bias else 0)
    if not shape["kv_shared"]:
        projections = 1 if shape["values_are_keys"] else 2
        params += projections * (d * kv + (kv if bias else 0)) + hd
    params += 3 * d * shape["intermediate_size"] + 4 * d
    per_layer = per_layer_input_width(config)
    if per_layer:
        params += 2 * d * per_layer + d
    params += gemma3n_own_params(config)
    if shape.get("sparse_mlp"):
        params += (num_experts(config) * (d + 1) + d
                   + num_experts(config) * expert_param_count(config) + 3 * d)
    return params


def block_value(value, index: int):
    """Block `index`'s entry of a value that is one for every block or a list of one per
    block (Gemma 3n's intermediate_size)."""
    return value[index] if isinstance(value, (list, tuple)) else value


def gemma3n_own_params(config) -> int:
    """What a Gemma 3n block (Gemma3nTextDecoderLayer) holds beyond Gemma 4's: its AltUp over
    altup_num_inputs streams (correct_output_scale and the router's norm, hidden_size each;
    correction_coefs n x n, prediction_coefs n x n^2, modality_router hidden x n) and its
    LAuReL (linear_left / linear_right of laurel_rank, post_laurel_norm); 0 in other
    families."""
    if getattr(config, "model_type", None) != "gemma3n_text":
        return 0
    d, n = config.hidden_size, config.altup_num_inputs
    return 2 * d + n * n + n ** 3 + d * n + 2 * d * config.laurel_rank + d


def altup_projection_params(config) -> int:
    """A Gemma 3n model's projections outside its blocks that make the AltUp streams from the
    embeddings and merge them again (altup_projections, altup_unembed_projections:
    altup_num_inputs - 1 of hidden x hidden each); 0 in other families."""
    if getattr(config, "model_type", None) != "gemma3n_text":
        return 0
    return 2 * (config.altup_num_inputs - 1) * config.hidden_size ** 2


def per_layer_input_width(config) -> int:
    """The width of a Gemma 4 block's per-layer input (hidden_size_per_layer_input; 0: none).
    Gemma 4 12B's (gemma4_unified_text) never has one: Gemma4UnifiedTextModel builds no
    per-layer inputs whatever its config.json says (the published one says 0)."""
    if getattr(config, "model_type", None) == "gemma4_unified_text":
        return 0
    return getattr(config, "hidden_size_per_layer_input", 0) or 0


def per_layer_input_params(config) -> int:
    """A Gemma 4 model's per-layer inputs outside its blocks (Gemma4TextModel): the packed
    embedding (vocab_size_per_layer_input x blocks x hidden_size_per_layer_input), the packed
    projection from the hidden size and the norm of hidden_size_per_layer_input; 0 without
    per-layer inputs or in another family."""
    per_layer = per_layer_input_width(config)
    if not family(config).per_layer_blocks or not per_layer:
        return 0
    packed = block_count(config) * per_layer
    return config.vocab_size_per_layer_input * packed + per_layer_projection_params(config)


def per_layer_projection_params(config) -> int:
    """Of `per_layer_input_params`, what a decode step reads whole: the packed projection and
    its norm (of the embedding, a row a token)."""
    per_layer = per_layer_input_width(config)
    if not family(config).per_layer_blocks or not per_layer:
        return 0
    return config.hidden_size * block_count(config) * per_layer + per_layer


def active_experts(config) -> list[int]:
    """Experts a token is routed to in each block's sparse MLP (the router's top k), block by
    block: Hunyuan's moe_topk may be a list of one per block (HunYuanMoEV1Gate reads its
    block's entry)."""
    k = config_value(config, "num_experts_per_tok")  # (DBRX's ffn_config.moe_top_k)
    if k is None:  # Gemma4TextConfig's and AriaTextConfig's names (no attribute_map maps them)
        k = getattr(config, "moe_topk", None)
        k = config.top_k_experts if k is None else k
    return [int(v) for v in k] if isinstance(k, (list, tuple)) else (
        [int(k)] * block_count(config))


def shared_expert_params(config) -> int:
    """Parameters of a sparse block's shared expert (`Family.shared_expert`); 0 for a family
    without one. Every token goes through it: a decode step reads it whole
    (benchmark.floors.weight_bytes)."""
    shared = family(config).shared_expert
    d = config.hidden_size
    if shared.kind == "one":
        # Hunyuan, Llama 4: one ungated SwiGLU MLP as wide as an expert (HunYuanMoEV1Moe.
        # shared_mlp, Llama4TextMoe.shared_expert); Granite 4.0's of its own width
        # (Ergo's ungated, ending in a norm of its own: expert_norms)
        width = getattr(config, shared.key or family(config).moe_intermediate_key)
        return ((mlp_input_projections(config) + 1) * d * width
                + (d if family(config).expert_norms else 0))
    if shared.kind == "count":
        # DeepSeek-V3: n_shared_experts experts of moe_intermediate_size held as one SwiGLU MLP
        # that many times as wide, ungated (DeepseekV3MoE.shared_experts).
        count = getattr(config, shared.key) or 0
        if not count and shared.absent_at_zero:
            return 0  # ERNIE-4.5-300B-A47B: no shared-expert MLP built
        # (Cohere2-MoE's experts' width is intermediate_size: the family's key; Dots 3 Note's
        # shared experts have a width of their own)
        width = getattr(config, shared.width_key or family(config).moe_intermediate_key) * count
        # DeepSeek-V2's MLP carries biases where the config's mlp_bias says (V3's never)
        return 3 * d * width + ((2 * width + d) if mlp_bias(config) else 0)
    if shared.kind == "gated":
        # Qwen2-MoE: its gate, up and down projections and its one-output gate, no biases
        return 3 * d * getattr(config, shared.key) + d
    return 0


def expert_param_count(config) -> int:
    """Parameters of one expert of a sparse block: its gate, up and down projections (3 x
    hidden x width) and, in gpt-oss, their biases (2 x width for gate and up, hidden for
    down)."""
    # (DBRX's width: its ffn_config's ffn_hidden_size)
    d, width = config.hidden_size, config_value(config, family(config).moe_intermediate_key)
    # (Ergo's ungated experts: up and down alone, and each expert's norm: expert_norms)
    return ((mlp_input_projections(config) + 1) * d * width
            + ((2 * width + d) if family(config).moe_biases else 0)
            + (d if family(config).expert_norms else 0))


def router_param_count(config) -> int:
    """Parameters of a sparse block's router: experts x hidden, and gpt-oss's bias or ERNIE
    4.5's score-correction bias (one value per expert each)."""
    if getattr(config, "model_type", None) == "zaya":
        return zaya_router_params(config)
    if getattr(config, "model_type", None) == "longcat_flash":
        # LongcatFlashTopkRouter's classifier scores the zero experts too (biased where
        # router_bias says; its e_score_correction_bias a buffer)
        scored = num_experts(config) + (config.zero_expert_num or 0)
        return scored * config.hidden_size + (scored if getattr(config, "router_bias", False)
                                              else 0)
    experts = num_experts(config)
    f = family(config)
    return experts * config.hidden_size + (experts if f.moe_biases or f.router_score_bias else 0)


def zaya_router_params(config, reads_state: bool = True) -> int:
    """Parameters of one ZAYA router (ZayaRouter): down_proj (hidden -> router_hidden_size,
    biased), the scale of the previous block's router state it adds (router_states_scale,
    router_hidden_size; none in block 0, which reads none: `reads_state`), and ZayaRouterMLP
    (an RMSNorm, fc1 and fc2 of router_hidden_size square with biases, out_proj to
    num_experts + 1 classes, the last the skip expert, unbiased). balancing_biases is a
    buffer."""
    r = config.router_hidden_size
    return (config.hidden_size * r + r + (r if reads_state else 0) + r + 2 * (r * r + r)
            + r * (num_experts(config) + 1))


def mla_params(config, own: dict[str, Any] | None = None) -> int:
    """Parameters of one multi-head latent attention (DeepseekV3Attention): queries through
    q_a_proj (hidden -> q_lora_rank), q_a_layernorm and q_b_proj (-> heads x (qk_nope_head_dim +
    qk_rope_head_dim)), or one q_proj where q_lora_rank is None; kv_a_proj_with_mqa (hidden ->
    kv_lora_rank + qk_rope_head_dim), kv_a_layernorm (kv_lora_rank), kv_b_proj (-> heads x
    (qk_nope_head_dim + v_head_dim)) and o_proj (heads x v_head_dim -> hidden).
    `attention_bias` puts biases on q_a_proj, kv_a_proj_with_mqa and o_proj only. `own`: the
    block's own heads, ranks and head widths where its blocks differ (`latent_block_shapes`:
    Dots 3 Note's). Dots 3 Note's and Ling's hybrids' attention also hold g_proj (hidden -> one
    sigmoid gate a head: `LATENT_HEAD_GATES`), Dots 3 Note's k_rope_only_layernorm too (an
    RMSNorm of qk_rope_head_dim). A.X K2's q_gate_proj reads the query latent normed and not
    (2 x q_lora_rank) and gives each head's query and its output gate (v_head_dim) where
    q_b_proj gives the query alone."""
    model_type = getattr(config, "model_type", None)
    if own:
        config = SimpleNamespace(hidden_size=config.hidden_size, **own,
                                 attention_bias=getattr(config, "attention_bias", False))
    d, heads = config.hidden_size, config.num_attention_heads
    qk = config.qk_nope_head_dim + config.qk_rope_head_dim
    rank, kv_rank = getattr(config, "q_lora_rank", None), config.kv_lora_rank
    bias = bool(getattr(config, "attention_bias", False))
    gate = d * heads if model_type in LATENT_HEAD_GATES else 0
    key_norm = config.qk_rope_head_dim if model_type == "dots3_note_text" else 0
    if rank is None:
        q = d * heads * qk
    else:
        q = d * rank + (rank if bias else 0) + rank + rank * heads * qk
        if model_type == "axk2":  # (q_gate_proj, no bias)
            q += 2 * rank * heads * (qk + config.v_head_dim) - rank * heads * qk
    kv = (d * (kv_rank + config.qk_rope_head_dim) + ((kv_rank + config.qk_rope_head_dim)
          if bias else 0) + kv_rank + kv_rank * heads * (config.qk_nope_head_dim
                                                         + config.v_head_dim))
    o = heads * config.v_head_dim * d + (d if bias else 0)
    return q + kv + o + gate + key_norm


# The latent attentions that gate each head's output by g_proj (hidden -> heads), by model_type:
# Dots3NoteTextAttention's, BailingHybridAttention's.
LATENT_HEAD_GATES = ("dots3_note_text", "bailing_hybrid")


def output_gate(config) -> bool:
    """Whether each attention gates its output by a projection of its own (`Family.output_gate`:
    AFMoE's, Laguna's; LFM3's where its `output_gate_key` use_attention_gate is true)."""
    f = family(config)
    return f.output_gate and (f.output_gate_key is None
                              or bool(getattr(config, f.output_gate_key, False)))


def output_gate_per_head(config) -> bool:
    """Whether a family with an attention output gate (`Family.output_gate`) gates each query
    head as a whole (Laguna's `gating` true, its default, or "per-head": LagunaAttention's
    g_proj of one output a head; LFM3's, whose g_proj is one a head wherever use_attention_gate
    builds it) rather than each query channel (AFMoE's gate_proj, Laguna's "per-element" or
    false)."""
    key = family(config).output_gate_per_head_key
    if key is None:
        return False
    value = getattr(config, key, True)
    return value is True or value == "per-head"


def moa_params(config) -> int:
    """Parameters of JetMoE's attention but its output bias (`Family.attention_experts`):
    kv_proj (hidden -> 2 x KV heads x head_dim), the router (experts x hidden) and each of
    num_local_experts experts' query and output projections (`attention_expert_params`)."""
    d, width, experts = config.hidden_size, kv_heads(config) * head_dim(config), num_experts(config)
    return 2 * d * width + experts * d + experts * attention_expert_params(config)


def attention_expert_params(config) -> int:
    """Parameters of one of JetMoE's attention experts: its query and output projections
    (hidden <-> KV heads x head_dim); a token's step reads its router's top k of them alone."""
    return 2 * config.hidden_size * kv_heads(config) * head_dim(config)


def indexer_params(config, q_lora_rank: int | None = None) -> int:
    """Parameters of one DeepSeek-V3.2 lightning indexer (DeepseekV32Indexer): wq_b
    (q_lora_rank -> index_n_heads x index_head_dim, from the attention's query latent), wk
    (hidden -> index_head_dim), k_norm (a LayerNorm of index_head_dim: weight and bias) and
    weights_proj (hidden -> index_n_heads), no biases on the three projections; wq_b reads
    the block's own query rank where given (Dots 3 Note's `latent_block_shapes`)."""
    d, heads, width = config.hidden_size, config.index_n_heads, config.index_head_dim
    if getattr(config, "model_type", None) == "minimax_m3_vl_text":
        # MiniMaxM3VLIndexer: q_proj (hidden -> heads x width) and k_proj (hidden -> width)
        # without biases, a Gemma RMSNorm of width on each
        return d * heads * width + d * width + 2 * width
    rank = q_lora_rank or config.q_lora_rank
    return rank * heads * width + d * width + 2 * width + d * heads


def indexer_blocks(config) -> list[bool]:
    """Per block, whether its attention holds a lightning indexer (`Family.attention_indexer`):
    every block of DeepSeek-V3.2; a GLM-MoE-DSA block where `indexer_types` says "full" (a
    "shared" block reuses the top keys of the last "full" block before it); a Dots 3 Note block
    that `layer_types` names "indexed_attention" (its sliding blocks hold none and choose
    nothing); none elsewhere."""
    if not family(config).attention_indexer:
        return [False] * block_count(config)
    if getattr(config, "model_type", None) == "dots3_note_text":  # (its indexed blocks alone)
        return [kind == "indexed_attention" for kind in config.layer_types]
    if getattr(config, "model_type", None) == "minimax_m3_vl_text":  # (its sparse blocks)
        return [kind == MINIMAX_M3_SPARSE for kind in config.layer_types]
    kinds = getattr(config, "indexer_types", None) or ["full"] * block_count(config)
    return [kind == "full" for kind in kinds]


# The layer_types entry of a MiniMax-M3 block whose attention holds an indexer (MiniMaxM3VL-
# Attention builds one there, and transformers' caches a layer of its own to keep its keys).
MINIMAX_M3_SPARSE = "minimax_m3_sparse"

# MiniMax-M3's own config.json keys of its indexer (`sparse_attention_config`) and the
# MiniMaxM3VLTextConfig keys it reads them as (5.17, 5.25).
MINIMAX_M3_INDEXER_KEYS = {"sparse_num_index_heads": "index_n_heads",
                           "sparse_index_dim": "index_head_dim",
                           "sparse_block_size": "index_block_size",
                           "sparse_topk_blocks": "index_topk_blocks",
                           "sparse_local_block": "index_local_blocks"}


def minimax_m3_values(values: dict[str, Any]) -> dict[str, Any]:
    """A MiniMax-M3 language model's config.json values as MiniMaxM3VLTextConfig reads them
    (5.17, 5.25): the indexer's settings and each block's attention kind from its
    `sparse_attention_config` (sparse_attention_freq: 1 a sparse block), the MLP kinds from
    `moe_layer_freq` (1 sparse, 0 dense) where config.json lists none; every block full
    attention and sparse MLP where neither is given."""
    values = dict(values)
    sparse = values.pop("sparse_attention_config", None) or {}
    freq = values.pop("moe_layer_freq", None)
    values.update({key: sparse[own] for own, key in MINIMAX_M3_INDEXER_KEYS.items()
                   if own in sparse})
    n = values["num_hidden_layers"]
    if not values.get("layer_types"):
        values["layer_types"] = ([MINIMAX_M3_SPARSE if f else "full_attention"
                                  for f in sparse["sparse_attention_freq"]]
                                 if "sparse_attention_freq" in sparse
                                 else ["full_attention"] * n)
    if not values.get("mlp_layer_types"):
        values["mlp_layer_types"] = (["sparse" if f else "dense" for f in freq]
                                     if freq is not None else ["sparse"] * n)
    return values


def glm_moe_dsa_indexer_types(values: dict[str, Any]) -> list[str]:
    """Each block's indexer kind as GlmMoeDsaConfig derives it where config.json gives no
    indexer_types (5.17 and 5.25): from index_topk_pattern ("F" full, "S" shared) where given,
    else a block i is "full" where max(i - index_skip_topk_offset + 1, 0) is a multiple of
    index_topk_freq (1 and 2 by default: every block full)."""
    if values.get("indexer_types"):
        return list(values["indexer_types"])
    pattern = values.get("index_topk_pattern")
    if pattern is not None:
        return ([{"F": "full", "S": "shared"}[c] for c in pattern] if isinstance(pattern, str)
                else list(pattern))
    freq = max(values.get("index_topk_freq", 1), 1)
    offset = values.get("index_skip_topk_offset", 2)
    return ["full" if max(i - offset + 1, 0) % freq == 0 else "shared"
            for i in range(values["num_hidden_layers"])]


def inkling_values(values: dict[str, Any]) -> dict[str, Any]:
    """An Inkling config.json's values as InklingTextConfig's __post_init__ reads them (5.25):
    layer_types from local_layer_ids (every block but each sixth windowed where it gives
    none), mlp_layer_types from dense_mlp_idx (dense blocks first; none by default), and
    where it gives dense_intermediate_size, intermediate_size as the experts' width and that
    as the dense MLP's."""
    values = dict(values)
    n = values["num_hidden_layers"]
    if not values.get("layer_types"):
        local = values.get("local_layer_ids")
        local = set(local) if local is not None else {i for i in range(n) if (i + 1) % 6}
        values["layer_types"] = ["hybrid_sliding" if i in local else "hybrid"
                                 for i in range(n)]
    if not values.get("mlp_layer_types"):
        dense = values.get("dense_mlp_idx") or 0
        values["mlp_layer_types"] = ["dense" if i < dense else "sparse" for i in range(n)]
    if values.get("dense_intermediate_size") is not None:
        values["moe_intermediate_size"] = values["intermediate_size"]
        values["intermediate_size"] = values["dense_intermediate_size"]
    return values


def inkling_attention_shapes(config) -> list[dict[str, Any]]:
    """Each Inkling or Inkling 2 block's attention heads, KV heads and head_dim (its windowed
    blocks' the swa_* keys', the others' the config's), and the length of its
    relative-position table (the window in a windowed block, rel_extent else):
    InklingAttention's, Inkling2SlidingAttention's and Inkling2FullAttention's; an Inkling 2
    block's kind too (`full_attention`: dynamic key and value convolutions, three input norms)
    and its block attention residual's queries before the attention (`residual_queries`: one
    a projection's input, three in a full block, one in a windowed one, none in block 0); an
    empty entry for each block of another family."""
    n = block_count(config)
    model_type = getattr(config, "model_type", None)
    if model_type not in ("inkling_text", "inkling2_text"):
        return [{} for _ in range(n)]
    shapes = [{"num_attention_heads": config.swa_num_attention_heads,
               "num_key_value_heads": config.swa_num_key_value_heads,
               "head_dim": config.swa_head_dim, "rel_extent": config.sliding_window}
              if kind == "hybrid_sliding" else
              {"num_attention_heads": config.num_attention_heads,
               "num_key_value_heads": config.num_key_value_heads,
               "head_dim": config.head_dim, "rel_extent": config.rel_extent}
              for kind in config.layer_types]
    if model_type == "inkling2_text":
        for index, (shape, kind) in enumerate(zip(shapes, config.layer_types)):
            full = kind != "hybrid_sliding"  # (Inkling2TextModel's layers: any other is full)
            shape.update(full_attention=full, residual_queries=(3 if full else 1) if index else 0)
    return shapes


def inkling_block_params(config, shape: dict[str, Any]) -> int:
    """Parameters of one InklingDecoderLayer of `shape` (inkling_attention_shapes): q / k / v /
    o projections of its own heads, r_proj (hidden -> heads x d_rel), the relative-position
    table (d_rel x its extent), q_norm and k_norm (head_dim each), depthwise short
    convolutions of conv_kernel_size taps on its keys, its values, the attention's output and
    the MLP's output, two norms; a dense MLP and its scalar gain, or a router over the routed
    and the shared experts (its scalar gain; the score-correction buffer is no parameter),
    the experts and the shared experts (3 x hidden x moe_intermediate_size each)."""
    d, taps = config.hidden_size, config.conv_kernel_size
    q = shape["num_attention_heads"] * shape["head_dim"]
    kv = shape["num_key_value_heads"] * shape["head_dim"]
    attn = (2 * d * q + 2 * d * kv + d * shape["num_attention_heads"] * config.d_rel
            + config.d_rel * shape["rel_extent"] + 2 * shape["head_dim"] + 2 * kv * taps)
    own = 2 * d * taps + 2 * norm_params(config) + 1  # (the MLP's or the router's gain)
    if shape.get("sparse_mlp"):
        shared = config.n_shared_experts
        mlp = ((num_experts(config) + shared) * d + num_experts(config)
               * expert_param_count(config) + shared_expert_params(config))
    else:
        mlp = 3 * d * shape["intermediate_size"]
    return attn + own + mlp


def inkling2_block_params(config, shape: dict[str, Any]) -> int:
    """Parameters of one Inkling 2 block of `shape` (inkling_attention_shapes): the query
    projection, the output's gate and projection (hidden x heads x head_dim each) and the
    query clip's scale (heads x head_dim); key and value projections (hidden -> KV heads x
    head_dim) and their convolutions (conv_kernel_size taps a channel; a full block's dynamic
    ones hold static taps and a projection of the block's input to KV heads x taps); a sink
    logit a head (hidden -> heads); the relative-position bias's projection (hidden -> heads
    x d_rel), its clip's scale and its table (d_rel x its extent); the sublayers' output
    convolutions (hidden x taps each); its norms (two, a full block's four: one a projection's
    input and one before the MLP); the block attention residual's queries (hidden each); the
    router (experts x hidden; its score-correction buffer is no parameter) and the experts."""
    d, taps, rel = config.hidden_size, config.conv_kernel_size, config.d_rel
    heads, kv_heads = shape["num_attention_heads"], shape["num_key_value_heads"]
    q, kv = heads * shape["head_dim"], kv_heads * shape["head_dim"]
    convolutions = 2 * (kv * taps + (d * kv_heads * taps if shape["full_attention"] else 0))
    attention = (3 * d * q + q + 2 * d * kv + convolutions + d * heads
                 + d * heads * rel + heads * rel + rel * shape["rel_extent"])
    norms = (4 if shape["full_attention"] else 2) * norm_params(config)
    residual = (shape["residual_queries"] + 1) * d  # (before the attention and the MLP)
    experts = num_experts(config) * (d + expert_param_count(config))
    return attention + 2 * d * taps + norms + residual + experts


def final_input_params(config) -> int:
    """Parameters of Inkling 2's block attention residual's query before the final norm
    (Inkling2TextModel's final_input: hidden_size), which every step reads; 0 in other
    families."""
    return config.hidden_size if getattr(config, "model_type", None) == "inkling2_text" else 0


def inkling_conv_state(config) -> int:
    """The values one sequence's Inkling or Inkling 2 cache keeps beside its keys and values,
    whatever its length, summed over the blocks (0 for other families): the states of each
    block's four short convolutions (on the keys and the values over its own KV heads x
    head_dim, on the attention's and the MLP's outputs over hidden_size), the last
    conv_kernel_size inputs of each channel, float32 in any dtype (transformers keeps the
    convolutions in float32 and runs them so; Inkling 2's dynamic ones alike)."""
    if getattr(config, "model_type", None) not in ("inkling_text", "inkling2_text"):
        return 0
    return sum(2 * (s["num_key_value_heads"] * s["head_dim"] + config.hidden_size)
               for s in layer_shapes(config)) * config.conv_kernel_size


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
DEEPSEEK_V4_RATIOS = {0: "sliding_attention", 4: "compressed_sparse_attention",
                      128: "heavily_compressed_attention"}


def deepseek_v4_values(values: dict[str, Any]) -> dict[str, Any]:
    """A DeepSeek-V4 config.json's values as DeepseekV4Config's __post_init__ reads them (5.24,
    5.25): compress_rates (CSA 4, HCA 128, or compress_rate_csa / compress_rate_hca), layer_types
    (or from compress_ratios; two HCA blocks then CSA and HCA in turn where neither is given),
    mlp_layer_types (num_hash_layers "hash_moe" blocks first, 3 where not given, then "moe"),
    both cut to num_hidden_layers (num_key_value_heads kept as given, as the class keeps it:
    its attention builds one head whatever it says, which `kv_heads` gives every reader)."""
    values = dict(values)
    n = values["num_hidden_layers"]
    rates = dict(values.get("compress_rates") or {"compressed_sparse_attention": 4,
                                                   "heavily_compressed_attention": 128})
    for key, kind in (("compress_rate_csa", "compressed_sparse_attention"),
                      ("compress_rate_hca", "heavily_compressed_attention")):
        if values.get(key) is not None:
            rates[kind] = values[key]
    values["compress_rates"] = rates
    kinds = values.get("layer_types")
    if kinds is None and values.get("compress_ratios") is not None:
        kinds = [DEEPSEEK_V4_RATIOS.get(r, r) for r in values["compress_ratios"]]
    if kinds is None:
        kinds = (["heavily_compressed_attention"] * min(n, 2)
                 + ["compressed_sparse_attention" if i % 2 else "heavily_compressed_attention"
                    for i in range(max(n - 2, 0))])
    values["layer_types"] = list(kinds)[:n]
    mlps = values.get("mlp_layer_types")
    if mlps is None:
        hashed = values.get("num_hash_layers")
        hashed = 3 if hashed is None else hashed
        mlps = ["hash_moe"] * min(n, hashed) + ["moe"] * max(0, n - hashed)
    values["mlp_layer_types"] = list(mlps)[:n]
    return values


def deepseek_v4_block_params(config, shape: dict[str, Any]) -> int:
    """Parameters of one DeepseekV4DecoderLayer whose attention is of the kind `shape` names
    (`compressor`, its layer_types entry): q_a_proj (hidden -> q_lora_rank), q_a_norm, q_b_proj
    (-> heads x head_dim), kv_proj (-> head_dim: one head, keys and values alike), kv_norm,
    o_a_proj (each of o_groups groups of heads -> o_lora_rank), o_b_proj, a sink a head; an HCA
    compressor (kv_proj, gate_proj -> head_dim, position_bias of its rate x head_dim, kv_norm)
    or a CSA one (the same twice as wide, its kv_norm head_dim, and its indexer: the same of
    index_head_dim, q_b_proj from the query latent to index_n_heads x index_head_dim and
    weights_proj, hidden -> index_n_heads); two norms and two hyper-connections
    (`hyper_connection_params`); a router (experts x hidden; tid2eid and the score-correction
    bias are buffers), the experts and one shared expert."""
    d, hd, heads = config.hidden_size, config.head_dim, config.num_attention_heads
    rank = config.q_lora_rank
    attn = (d * rank + rank + rank * heads * hd + d * hd + hd + heads * hd * config.o_lora_rank
            + config.o_groups * config.o_lora_rank * d + heads)
    kind = shape["compressor"]

    def compressor(width: int, rate: int, overlap: int) -> int:
        # kv_proj, gate_proj, position_bias (overlap x width wide: CSA's two series) and kv_norm
        return 2 * d * overlap * width + rate * overlap * width + width

    if kind == "heavily_compressed_attention":
        attn += compressor(hd, config.compress_rates[kind], 1)
    elif kind == "compressed_sparse_attention":
        rate, ihd, iheads = config.compress_rates[kind], config.index_head_dim, config.index_n_heads
        attn += (compressor(hd, rate, 2) + compressor(ihd, rate, 2) + rank * iheads * ihd
                 + d * iheads)
    mlp = (num_experts(config) * (d + expert_param_count(config))
           + shared_expert_params(config))
    return attn + mlp + 2 * d + 2 * hyper_connection_params(config)


def deepseek_v4_compressed(config, kind: str) -> tuple[int, int]:
    """(compress rate, values of one compressed entry) of a DeepSeek-V4 block of attention
    `kind`: an HCA block's cache gains an entry of head_dim every rate positions, a CSA block's
    one of head_dim and its indexer's key of index_head_dim (DeepseekV4HCACache /
    DeepseekV4CSACache's compressed_kv); a sliding block none ((1, 0)). Beyond these, each
    block's cache is bounded: its window (`sliding_window` positions) and, for a compressor,
    the positions of a window not yet closed and CSA's overlap (`floors.kv_cache_bytes`)."""
    if kind == "heavily_compressed_attention":
        return config.compress_rates[kind], config.head_dim
    if kind == "compressed_sparse_attention":
        return config.compress_rates[kind], config.head_dim + config.index_head_dim
    return 1, 0


def deepseek_v4_token_bytes(config, kinds: list[str], bytes_per_value: int) -> int | float:
    """Bytes a DeepSeek-V4 model's cache grows by per token once past its window, over blocks
    of these attention kinds: each compressed entry's values over its rate (a fraction of a
    byte left as it is where a rate does not divide them; none in the published shapes)."""
    total = 0.0
    for kind in kinds:
        rate, width = deepseek_v4_compressed(config, kind)
        total += width * bytes_per_value / rate
    return int(total) if total.is_integer() else total


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


def hy_v4_indexer_types(values: dict[str, Any]) -> list[str]:
    """Each block's indexer kind as HYV4Config derives it where config.json gives no
    indexer_types (5.17 and 5.25): block 0 and every fourth from block 1 "full", the others
    "shared"."""
    if values.get("indexer_types"):
        return list(values["indexer_types"])
    return ["full" if i == 0 or (i - 1) % 4 == 0 else "shared"
            for i in range(values["num_hidden_layers"])]


def indexer_key_width(config) -> int:
    """Values a DeepSeek-V3.2 block caches for its indexer a position (one key of
    index_head_dim, DynamicIndexedLayer's); 0 for a family without an indexer."""
    return config.index_head_dim if family(config).attention_indexer else 0


def indexer_key_values(config) -> int:
    """Values the model's indexers cache a position, over its blocks: `indexer_key_width` in
    each block that holds one (`indexer_blocks`: a GLM-MoE-DSA "shared" block caches none)."""
    return sum(indexer_blocks(config)) * indexer_key_width(config)


def attention_sinks(config) -> bool:
    """Whether each attention holds a learned sink logit per query head (gpt-oss, Granite-SWA,
    GraniteMoE-SWA), which PyTorch's SDPA kernels do not compute: the model runs matmul +
    softmax attention."""
    return family(config).attention_sinks


# The experts' fused weights (transformers 5 names them without `weight`), under the block's
# `mlp` in most families and its `block_sparse_moe` in GraniteMoE; DBRX's w1 / v1 / w2 (gate,
# up, down) under its `ffn.experts.mlp`.
EXPERT_WEIGHTS = ("experts.gate_up_proj", "experts.down_proj", "experts.mlp.w1",
                  "experts.mlp.v1", "experts.mlp.w2")


def is_scored_weight(name: str, slot: int | None = None) -> bool:
    """Whether a block's parameter `name` is a weight that the Mag+ and Taylor+ criteria score:
    every parameter named `weight`, as the study's script scores them (biases not), and the
    experts' fused weights, which are weights under other names; not Zamba's shared transformer
    block (`shared_transf`) nor Zamba2's (`shared_transformer`), which no block's removal
    removes (and which each hybrid block running it holds: scored in each, a weight's gradient
    would be read and freed more than once), but Zamba2's adapters in it of the hybrid block
    whose place in hybrid order is `slot` (`zamba2_slot`; any where None), removed with it."""
    if "shared_transf" in name:
        adapter = re.search(r"_adapter_list\.(\d+)\.", name)
        if adapter is None or slot is not None and int(adapter[1]) != slot:
            return False
    return "weight" in name or name.endswith(EXPERT_WEIGHTS)


def zamba2_slot(config, block: int) -> int | None:
    """A Zamba2 hybrid block's place in hybrid order (its adapters' slot: `is_scored_weight`);
    None for other blocks and families."""
    if getattr(config, "model_type", None) != "zamba2" or block not in zamba2_hybrid_ids(config):
        return None
    return zamba2_hybrid_ids(config).index(block)


def refuse_moe(config, what: str, keeps_heads: bool = False) -> None:
    """Stop `what` (a width method, the compiled decoder, ...) on a mixture-of-experts model,
    whose experts are 3D parameters no width surgery, fused block or adapter of prunebench
    handles, with what does apply. The width methods' plans (methods.sizing) call it before
    checking their parameters: no value of them helps. A model with blocks of another token
    mixer than softmax attention (Granite 4.0's dense H models: Mamba-2 blocks, no experts) is
    stopped alike: those blocks hold no heads, and the fused block computes attention only;
    and a dense Gemma 4 model (`Family.per_layer_blocks`), whose blocks' shapes its surgery and
    fused block do not read. `keeps_heads`: `what` keeps every head of an ALiBi model (the
    compiled decoder, which adds its biases as transformers computes them; the width methods,
    which remove its MLP channels alone: `heads_removable`), so BLOOM and MPT pass."""
    if family(config).one_mixer_blocks:
        raise FamilyUnsupported(
            f"{what} does not support this {config.model_type!r} model "
            f"({family(config).model_class}): each of its blocks holds one mixer "
            f"({nemotron_h_pattern(config.layer_types)!r}: M a Mamba-2 mixer, * attention, - an MLP), which "
            "prunebench's width surgery, sublayer removal and compiled decoder do not handle. "
            "Prune it with a depth method that removes whole blocks (depth_ppl, depth_taylor, "
            "depth_mag, depth_angular, sleb, shortgpt) and benchmark it with the hf or "
            "hf_static backend")
    if family(config).mamba_stack:
        raise FamilyUnsupported(
            f"{what} does not support this {config.model_type!r} model "
            f"({family(config).model_class}): each of its blocks is a norm and a "
            f"{'Mamba-1' if family(config).mamba1_blocks else 'Mamba-2'} mixer "
            "(no attention heads, no MLP), which prunebench's width surgery, sublayer removal "
            "and compiled decoder do not handle. Prune it with a depth method that removes "
            "whole blocks (depth_ppl, depth_taylor, depth_mag, depth_angular, sleb, shortgpt) "
            "and benchmark it with the hf or hf_static backend")
    if family(config).mlstm_blocks:
        raise FamilyUnsupported(
            f"{what} does not support this {config.model_type!r} model "
            f"({family(config).model_class}): each of its blocks is an mLSTM layer (a matrix "
            "memory, no attention heads) and a gated FFN under xLSTM's own module names, which "
            "prunebench's width surgery, sublayer removal and compiled decoder do not handle. "
            "Prune it with a depth method that removes whole blocks (depth_ppl, depth_taylor, "
            "depth_mag, depth_angular, sleb, shortgpt) and benchmark it with the hf backend")
    if getattr(config, "model_type", None) == "zamba2":
        raise FamilyUnsupported(
            f"{what} does not support this {config.model_type!r} model "
            f"({family(config).model_class}): its blocks hold Mamba-2 mixers, and its hybrid "
            "blocks run num_mem_blocks shared transformer blocks (shared_transformer) over the "
            "hidden state and the embeddings concatenated, through LoRA adapters of their own, "
            "which prunebench's width surgery, sublayer removal and compiled decoder do not "
            "handle. Prune it with a depth method that removes whole blocks (depth_ppl, "
            "depth_taylor, depth_mag, depth_angular, sleb, shortgpt; its Mamba blocks) and "
            "benchmark it with the hf or hf_static backend")
    if family(config).rwkv_blocks:
        raise FamilyUnsupported(
            f"{what} does not support this {config.model_type!r} model "
            f"({family(config).model_class}): each of its blocks is RWKV's time mixing (a WKV "
            "recurrence, no attention heads) and channel mixing with time-shifted inputs, which "
            "prunebench's width surgery, sublayer removal and compiled decoder do not handle. "
            "Prune it with a depth method that removes whole blocks (depth_ppl, depth_taylor, "
            "depth_mag, depth_angular, sleb, shortgpt) and benchmark it with the hf backend at "
            "batch size 1 (hf_static and larger batches do not run it: "
            "own_cache_static_problem, batched_state_problem)")
    if getattr(config, "model_type", None) == "zamba":
        raise FamilyUnsupported(
            f"{what} does not support this {config.model_type!r} model "
            f"({family(config).model_class}): its blocks hold multi-head Mamba mixers, and its "
            "hybrid blocks all run one shared transformer block (shared_transf) over the hidden "
            "state and the embeddings concatenated, which prunebench's width surgery, sublayer "
            "removal and compiled decoder do not handle. Prune it with a depth method that "
            "removes whole blocks (depth_ppl, depth_taylor, depth_mag, depth_angular, sleb, "
            "shortgpt) and benchmark it with the hf or hf_static backend")
    if family(config).griffin_blocks:
        raise FamilyUnsupported(
            f"{what} does not support this {config.model_type!r} model "
            f"({family(config).model_class}): its blocks hold RG-LRU recurrent blocks or local "
            "attention (block_types) under their own module names (temporal_block, mlp_block), "
            "which prunebench's width surgery, sublayer removal and compiled decoder do not "
            "handle. Prune it with a depth method that removes whole blocks (depth_ppl, "
            "depth_taylor, depth_mag, depth_angular, sleb, shortgpt) and benchmark it with the "
            "hf or hf_static backend")
    if family(config).short_conv and not is_moe(config):  # (LFM2-MoE's: as experts, below)
        raise FamilyUnsupported(
            f"{what} does not support this {config.model_type!r} model "
            f"({family(config).model_class}): its blocks hold gated short convolutions or "
            "attention (layer_types), whose modules (operator_norm, conv, feed_forward's w1 / "
            "w3 / w2) prunebench's width surgery, sublayer removal and compiled decoder do not handle. "
            "Prune it with a depth method that removes whole blocks (depth_ppl, depth_taylor, "
            "depth_mag, depth_angular, sleb, shortgpt) and benchmark it with the hf or "
            "hf_static backend")
    if family(config).mamba_beside_attention:
        raise FamilyUnsupported(
            f"{what} does not support this {config.model_type!r} model "
            f"({family(config).model_class}): each of its blocks runs a Mamba-2 mixer beside "
            "its attention, which prunebench's width surgery, sublayer removal and compiled "
            "decoder do not handle. Prune it with a depth method that removes whole blocks "
            "(depth_ppl, depth_taylor, depth_mag, depth_angular, sleb, shortgpt) and benchmark "
            "it with the hf or hf_static backend")
    if not is_moe(config) and any(linear := linear_attention_blocks(config)):
        raise FamilyUnsupported(
            f"{what} does not support this {config.model_type!r} model "
            f"({family(config).model_class}) with blocks of another token mixer than softmax "
            f"attention (blocks {[i for i, kind in enumerate(linear) if kind]}: "
            f"{'Mamba-2' if family(config).mamba_mixer else 'Gated DeltaNet'}), which "
            "prunebench's width surgery, sublayer removal and compiled decoder do not handle. "
            "Prune it with a depth method that removes whole blocks (depth_ppl, depth_taylor, "
            "depth_mag, depth_angular, sleb, shortgpt) and benchmark it with the hf or "
            "hf_static backend")
    if getattr(config, "model_type", None) == "gemma3n_text":
        raise FamilyUnsupported(
            f"{what} does not support this 'gemma3n_text' model (Gemma3nForCausalLM): each "
            "block runs an AltUp over altup_num_inputs residual streams and a LAuReL low-rank "
            "residual beside its attention and MLP, the first blocks cut their MLP's gate "
            "(activation_sparsity_pattern) and its last blocks reuse an earlier block's keys "
            "and values (num_kv_shared_layers), which prunebench's width surgery, sublayer "
            "removal and compiled decoder do not handle. Prune it with a depth method that "
            "removes whole blocks (depth_ppl, depth_taylor, depth_mag, depth_angular, sleb, "
            "shortgpt) and benchmark it with the hf or hf_static backend")
    if not is_moe(config) and family(config).per_layer_blocks:
        raise FamilyUnsupported(
            f"{what} does not support this {config.model_type!r} model "
            f"({family(config).model_class}): its blocks differ in head_dim and KV heads "
            "(per_layer_config), its global blocks may take their values from the keys "
            "(attention_k_eq_v) and its last blocks reuse an earlier block's keys and values "
            "(num_kv_shared_layers), which prunebench's width surgery, sublayer removal and "
            "compiled decoder do not handle. Prune it with a depth method that removes whole "
            "blocks (depth_ppl, depth_taylor, depth_mag, depth_angular, sleb, shortgpt) and "
            "benchmark it with the hf or hf_static backend")
    if family(config).latent_attention and not is_moe(config):  # (DeepSeek's: as experts)
        raise FamilyUnsupported(
            f"{what} does not support this {config.model_type!r} model "
            f"({family(config).model_class}): its multi-head latent attention (q_a_proj / "
            "q_b_proj, kv_a_proj_with_mqa / kv_b_proj) is not LLaMA's q/k/v heads, which "
            "prunebench's width surgery, sublayer removal and compiled decoder handle. Prune it "
            "with a depth method that removes whole blocks (depth_ppl, depth_taylor, depth_mag, "
            "depth_angular, sleb, shortgpt) and benchmark it with the hf or hf_static backend")
    if family(config).depth_only:
        # (depth_angular's runs are refused where blocks loop: sizing.refuse_runs_of_looped_blocks)
        angular = "" if len(set(block_passes(config))) > 1 else " depth_angular,"
        raise FamilyUnsupported(
            f"{what} does not support this {config.model_type!r} model "
            f"({family(config).model_class}): its blocks hold {family(config).depth_only}, "
            "which prunebench's width surgery, sublayer removal and compiled decoder do not "
            "handle. Prune it with a depth method that removes whole blocks (depth_ppl, "
            f"depth_taylor, depth_mag,{angular} sleb, shortgpt) and benchmark it with the "
            "hf or hf_static backend")
    if family(config).alibi and not keeps_heads and not is_moe(config):  # (experts: below)
        raise FamilyUnsupported(
            f"{what} does not support this {config.model_type!r} model "
            f"({family(config).model_class}): its attention adds ALiBi biases whose slopes "
            "transformers computes from the config's head count, so a model with heads removed "
            "would run its kept heads with other slopes than the model that was scored. Prune "
            "its MLP channels alone with a width method (llm_pruner, flap, wanda_sp), or it "
            "with a depth method that removes whole blocks (depth_ppl, depth_taylor, "
            "depth_mag, depth_angular, sleb, shortgpt), both keeping every head; the hf, "
            "hf_static and compiled backends benchmark it")
    if is_moe(config):
        # (not SLEB for Jamba and Inkling 2, whose prunes remove whole periods or groups:
        # methods.sizing)
        sleb = "" if whole_period(config) else "sleb, "
        raise FamilyUnsupported(
            f"{what} does not support the mixture-of-experts family {config.model_type!r} "
            f"({family(config).model_class}): its experts are fused 3D parameters, whose "
            "channels prunebench's width surgery, sublayer removal, compiled decoder and "
            "adapters do not handle. Prune it with a depth method that removes whole blocks "
            f"(depth_ppl, depth_taylor, depth_mag, depth_angular, {sleb}shortgpt) and benchmark "
            "it with the hf or hf_static backend")


def heads_removable(config) -> bool:
    """Whether width pruning may remove heads of this model: not of an ALiBi one (BLOOM's,
    MPT's), whose slopes transformers computes from the config's head count, so that kept
    heads would take other slopes. Its MLP channels go alone: the uniform rules remove no KV
    group of it (`methods.sizing.shape_after_removal`), as they remove none of a multi-query
    model's one group below a ratio of 1 (Gemma 2B's), and FLAP's AL-AM pools no head of it."""
    return not family(config).alibi


def head_shards(config) -> int:
    """The shards whose heads width pruning keeps in equal numbers (`Family.qkv_shards`:
    CodeGen's 4, its qkv_proj's model-parallel shards); 1 for every other family."""
    return family(config).qkv_shards


# A packed module's parts, in the order of its rows (Phi-3), by the LLaMA layout's names.
PACKED_PARTS: dict[str, tuple[str, ...]] = {"qkv_proj": ("q_proj", "k_proj", "v_proj"),
                                            "gate_up_proj": ("gate_proj", "up_proj")}


def normed_outputs(config) -> bool:
    """Whether a norm follows each sublayer's output (Gemma-2's sandwich, OLMo-2's post-norms):
    a sublayer emptied whole then adds that norm of its output bias, or nothing."""
    return sandwich_norms(config) or family(config).post_norms


def norms_per_block(config) -> int:
    """RMSNorm weights of hidden_size in each block: before attention and before the MLP (after
    each, OLMo-2), and after each of them too in the sandwich layout (Gemma-2); one, which both
    read, in Cohere's parallel block (StableLM's where use_parallel_residual is set; GPT-NeoX's
    keeps both: `parallel_norms`)."""
    if parallel_block(config) and not parallel_norms(config):
        return 1
    return 4 if sandwich_norms(config) else 2


def norm_params(config) -> int:
    """Parameters of one norm over hidden_size: its weight, and PhiMoE's LayerNorm bias; none
    in OLMo's LayerNorm without parameters, nor in nanochat's weightless RMSNorm."""
    f = family(config)
    if f.norm_weightless or f.rms_norm_weightless or (
            f.norm_affine_key and not getattr(config, f.norm_affine_key, True)):
        return 0  # (OPT's LayerNorms without layer_norm_elementwise_affine hold none)
    biased = f.norm_bias or bool(f.norm_bias_key and getattr(config, f.norm_bias_key, False))
    return config.hidden_size * (2 if biased else 1)


def lm_head_bias_params(config) -> int:
    """The LM head's bias, one per vocabulary entry where the family always has one (Phi's)
    or its config key sets it (PhiMoE's `lm_head_bias`), else none; Dory's DoryLMHead holds
    a logit scale of one per vocabulary entry instead (`logit_scale`, tied or not), which a
    step reads as a bias."""
    f = family(config)
    if getattr(config, "model_type", None) == "dory":
        return config.vocab_size
    key = f.lm_head_bias_key
    if f.lm_head_bias is not None:
        return config.vocab_size if f.lm_head_bias else 0
    return config.vocab_size if key and getattr(config, key, False) else 0


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


def cohere2_moe_block_kinds(values: dict[str, Any]) -> dict[str, Any]:
    """A Cohere2-MoE config.json's values with each block's attention and MLP kinds as
    Cohere2MoeConfig derives them where it gives no layer_types / mlp_layer_types (5.17 and
    5.25 alike): the first `first_k_dense_replace` blocks (a key it reads and does not keep)
    dense, each prefix_dense_sliding_window_pattern-th of them full attention (every one at 1),
    and in the blocks after them each sliding_window_pattern-th, counted from the first of
    them, full attention, the others sliding; the rest sparse."""
    n, dense = values["num_hidden_layers"], values.get("first_k_dense_replace") or 0
    prefix = values.get("prefix_dense_sliding_window_pattern") or 1
    pattern = values.get("sliding_window_pattern") or 4
    kinds = {}
    if not values.get("layer_types"):
        kinds["layer_types"] = (
            ["sliding_attention" if (i + 1) % prefix else "full_attention"
             for i in range(dense)]
            + ["sliding_attention" if (i + 1) % pattern else "full_attention"
               for i in range(n - dense)])
    if not values.get("mlp_layer_types"):
        kinds["mlp_layer_types"] = dense_prefix_kinds(n, dense)
    return {**values, **kinds}


def dense_prefix_kinds(blocks: int, dense: int) -> list[str]:
    """Each block's MLP kind (`mlp_layer_types`) where the first `dense` blocks are dense and
    the others sparse: what the config classes of Cohere2-MoE, Laguna, EXAONE-MoE,
    DeepSeek-V3.2, HY-V3 and GLM-4.7-Flash derive where config.json lists none."""
    dense = min(dense, blocks)
    return ["dense"] * dense + ["sparse"] * (blocks - dense)


def laguna_block_kinds(values: dict[str, Any]) -> dict[str, Any]:
    """A Laguna or Mellum config.json's values with each block's kinds as LagunaConfig and
    MellumConfig derive them where it gives none (5.17 and 5.25 alike): every block full
    attention, Laguna's block 0 dense and the rest sparse (Mellum's every block sparse), and
    Laguna's every block of num_attention_heads query heads."""
    n, laguna = values["num_hidden_layers"], values.get("model_type") == "laguna"
    kinds = {}
    if not values.get("layer_types"):
        kinds["layer_types"] = ["full_attention"] * n
    if not values.get("mlp_layer_types"):
        kinds["mlp_layer_types"] = dense_prefix_kinds(n, 1 if laguna else 0)
    if laguna and not values.get("num_attention_heads_per_layer"):
        kinds["num_attention_heads_per_layer"] = [values["num_attention_heads"]] * n
    return {**values, **kinds}


def beam_block_kinds(values: dict[str, Any]) -> dict[str, Any]:
    """A Beam config.json's values with each block's kinds as BeamConfig derives them where
    it gives none (5.20.1 to 5.25 alike): every sixth block and the last full attention, the
    others sliding; the first three blocks dense (all of them in a model of fewer), the others
    sparse."""
    n, kinds = values["num_hidden_layers"], {}
    if not values.get("layer_types"):
        kinds["layer_types"] = ["sliding_attention" if (i + 1) % 6 and i < n - 1
                                else "full_attention" for i in range(n)]
    if not values.get("mlp_layer_types"):
        kinds["mlp_layer_types"] = dense_prefix_kinds(n, 3)
    return {**values, **kinds}


def exaone_moe_block_kinds(values: dict[str, Any]) -> dict[str, Any]:
    """An EXAONE-MoE config.json's values with each block's attention and MLP kinds as
    ExaoneMoeConfig derives them where it gives no layer_types / mlp_layer_types (5.17 and
    5.25 alike): every sliding_window_pattern-th block full attention, the others sliding, and
    the first `first_k_dense_replace` blocks dense, the others sparse. (A pattern other than a
    positive number, K-EXAONE's "LLLG", comes with its layer_types, or is refused when read:
    `exaone_moe_unread`.)"""
    n, kinds = values["num_hidden_layers"], {}
    pattern = values.get("sliding_window_pattern")
    if not values.get("layer_types") and isinstance(pattern, int) and pattern > 0:
        kinds["layer_types"] = ["sliding_attention" if (i + 1) % pattern else "full_attention"
                                for i in range(n)]
    if not values.get("mlp_layer_types"):
        kinds["mlp_layer_types"] = dense_prefix_kinds(n, values.get("first_k_dense_replace") or 0)
    return {**values, **kinds}


def flint_block_kinds(values: dict[str, Any]) -> dict[str, Any]:
    """A Flint config.json's values with each block's kinds as FlintConfig's __post_init__
    derives them where it gives none: full attention on the first two blocks, every fourth
    from block 1 and the last, sliding elsewhere; the dense blocks `mlp_only_layers` [0, 1]
    where null (an empty list: none dense)."""
    n, kinds = values["num_hidden_layers"], {}
    if not values.get("layer_types"):
        kinds["layer_types"] = ["full_attention" if i < 2 or i % 4 == 1 or i == n - 1
                                else "sliding_attention" for i in range(n)]
    if values.get("mlp_only_layers") is None:
        kinds["mlp_only_layers"] = [0, 1]
    return {**values, **kinds}


# Kolibri1_1Config's default keys' sources, by indexed block: the indexed block (by its rank
# among them) whose keys and values each reads, for up to ten indexed blocks.
KOLIBRI1_1_KV_SOURCES = (0, 0, 0, 3, 4, 5, 5, 5, 5, 0)


def kolibri1_1_layout(values: dict[str, Any]) -> dict[str, Any]:
    """A Kolibri-1.1 config.json's values with what Kolibri1_1Config.__post_init__ derives
    where it gives none: every fifth block indexed (the others sliding), blocks 0 and 1 dense,
    the 1st, 3rd, 4th and 6th indexed blocks indexers, and each indexed block's keys' source
    by KOLIBRI1_1_KV_SOURCES (refused past ten indexed blocks, as the class refuses)."""
    n = values["num_hidden_layers"]
    kinds = values.get("layer_types") or [
        "indexed_attention" if (i + 1) % 5 == 0 else "sliding_attention" for i in range(n)]
    indexed = [i for i, kind in enumerate(kinds) if kind == "indexed_attention"]
    values = {**values, "layer_types": kinds}
    if values.get("mlp_only_layers") is None:
        values["mlp_only_layers"] = [i for i in (0, 1) if i < n]
    if values.get("index_layers") is None:
        values["index_layers"] = [indexed[i] for i in (0, 2, 3, 5) if i < len(indexed)]
    if values.get("kv_source_layers") is None:
        if len(indexed) > len(KOLIBRI1_1_KV_SOURCES):
            raise PrunebenchError(
                f"this Kolibri-1.1 config.json has {len(indexed)} indexed-attention blocks "
                "and no kv_source_layers: Kolibri1_1Config's default covers "
                f"{len(KOLIBRI1_1_KV_SOURCES)} and refuses more. Give kv_source_layers (each "
                "block's keys' source) in config.json")
        sources = list(range(n))
        for block, rank in zip(indexed, KOLIBRI1_1_KV_SOURCES):
            sources[block] = indexed[rank]
        values["kv_source_layers"] = sources
    return values


def ergo_values(values: dict[str, Any]) -> dict[str, Any]:
    """An Ergo config.json's values as ErgoConfig and ErgoForCausalLM read them (its window
    key `local_attention_window`: CONFIG_KEY_NAMES): each block's kinds derived where it lists
    none (every global_attention_every_n_layers-th block full attention, the first
    num_dense_blocks dense); head_dim hidden / heads and the head untied whatever config.json
    says (ErgoAttention and ErgoForCausalLM read neither key)."""
    values = {**values, "head_dim": values["hidden_size"] // values["num_attention_heads"],
              "tie_word_embeddings": False}
    n, every = values["num_hidden_layers"], values["global_attention_every_n_layers"]
    if not values.get("layer_types"):
        values["layer_types"] = ["sliding_attention" if (i + 1) % every else "full_attention"
                                 for i in range(n)]
    if not values.get("mlp_layer_types"):
        values["mlp_layer_types"] = dense_prefix_kinds(n, values["num_dense_blocks"])
    return values


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


def config_from_dict(values: dict[str, Any]) -> SimpleNamespace:
    """Config values as an object the counts below and the methods' plans accept (no
    transformers), with its family's defaults for the keys they read."""
    values = as_class_type(values)  # (GPT-SW3's "gpt-sw3": GPT-2's)
    defaults = CONFIG_DEFAULTS.get(values.get("model_type") or "llama", _LLAMA_DEFAULTS)
    values = with_llama_keys(values)
    if "num_experts" in values and "num_local_experts" not in values:
        # Qwen3-MoE's, OLMoE's and Qwen2-MoE's config.json name for what the first two classes
        # hold as num_local_experts (num_experts(config) reads either).
        values = {**values, "num_local_experts": values["num_experts"]}
    if "n_routed_experts" in values and "num_local_experts" not in values:
        # DeepSeek-V2's, V3's and GLM-4.5's config.json name for it (their classes'
        # attribute_map).
        values = {**values, "num_local_experts": values["n_routed_experts"]}
    if "moe_num_experts" in values and "num_local_experts" not in values:
        # ERNIE 4.5's config.json names for them (Ernie4_5_MoeConfig's attribute_map).
        values = {**values, "num_local_experts": values["moe_num_experts"]}
    if "moe_k" in values and "num_experts_per_tok" not in values:
        values = {**values, "num_experts_per_tok": values["moe_k"]}
    if "moe_topk" in values and "num_experts_per_tok" not in values:
        # Hunyuan's (HunYuanMoEV1Config's attribute_map), one value or one per block
        values = {**values, "num_experts_per_tok": values["moe_topk"]}
    given = values  # (config.json's own keys, LLaMA's names)
    values = {**defaults, "layer_shapes": None, **without_null_shapes(values)}
    if values.get("model_type") == "deepseek_v4":
        # DeepseekV4Config's attribute_map: intermediate_size (the shared expert's width, what
        # its MLP reads) is moe_intermediate_size, whichever name config.json gives (the
        # former where both are: the class sets it last)
        width = given.get("intermediate_size", values["moe_intermediate_size"])
        values["intermediate_size"] = values["moe_intermediate_size"] = width
    if values["num_key_value_heads"] is None or FAMILIES.get(
            values.get("model_type") or "llama", FAMILIES["llama"]).kv_per_query_head:
        # (GPT-NeoX, OPT: one per query head whatever config.json says, as their attention
        # builds them: `kv_heads`)
        values["num_key_value_heads"] = values["num_attention_heads"]
    if values.get("model_type") == "falcon":
        # FalconConfig's: the MLP 4 x hidden wide and every query head its own KV head where
        # left out, the KV heads its attention builds (`falcon_kv_heads`)
        values["ffn_hidden_size"] = values["ffn_hidden_size"] or 4 * values["hidden_size"]
        values["num_kv_heads"] = values["num_kv_heads"] or values["num_attention_heads"]
        values["num_key_value_heads"] = falcon_kv_heads(SimpleNamespace(**values))
    if values.get("model_type") == "gpt_neo":
        # GPTNeoConfig's __post_init__: each block's kind, attention_types expanded (a
        # depth-pruned config.json's too), and its default window
        values["attention_layers"] = gpt_neo_attention_layers(values)
        values.setdefault("window_size", GPT_NEO_WINDOW)
    if values.get("model_type") == "gpt_bigcode":
        # GPTBigCodeConfig's __post_init__: one KV head where multi_query, one a query head
        # else, whatever num_key_value_heads says (Falcon's rule without its new architecture)
        values["num_key_value_heads"] = falcon_kv_heads(SimpleNamespace(**values))
    if values.get("model_type") in ("deepseek_v2", "deepseek_v3", "sarvam_mla"):
        # DeepseekV2Config and DeepseekV3Config set head_dim to qk_rope_head_dim whatever
        # config.json says (SarvamMLAConfig too: its legacy head_dim, kv_lora_rank +
        # qk_rope_head_dim, dropped).
        values["head_dim"] = values["qk_rope_head_dim"]
    if values.get("model_type") in ("deepseek_v32", "glm_moe_dsa"):
        # DeepseekV32Config's and GlmMoeDsaConfig's __post_init__: head_dim is
        # qk_rope_head_dim, and the first first_k_dense_replace blocks dense where config.json
        # lists no MLP kinds (5.17, 5.25); GLM-MoE-DSA's indexer kinds
        values["head_dim"] = values["qk_rope_head_dim"]
        if not values.get("mlp_layer_types"):
            values["mlp_layer_types"] = dense_prefix_kinds(
                values["num_hidden_layers"], values.get("first_k_dense_replace") or 0)
        if values["model_type"] == "glm_moe_dsa":
            values["indexer_types"] = glm_moe_dsa_indexer_types(values)
    if values.get("model_type") == "inkling_text":
        values = inkling_values(values)
    if values.get("model_type") == "inkling2_text" and not values.get("layer_types"):
        # (Inkling2TextConfig's __post_init__, 5.25: every sixth block full, the others
        # windowed, whatever n_layers_per_attn_res_block says)
        values["layer_types"] = ["hybrid" if (i + 1) % 6 == 0 else "hybrid_sliding"
                                 for i in range(values["num_hidden_layers"])]
    if values.get("model_type") == "hy_v4":
        # HYV4Config's __post_init__ (5.17, 5.25): head_dim is qk_rope_head_dim, one key and
        # value a query head, block 0 dense and an indexer in blocks 0, 1, 5, 9... where
        # config.json lists no kinds
        values["head_dim"] = values["qk_rope_head_dim"]
        values["num_key_value_heads"] = values["num_attention_heads"]
        if not values.get("mlp_layer_types"):
            values["mlp_layer_types"] = dense_prefix_kinds(values["num_hidden_layers"], 1)
        values["indexer_types"] = hy_v4_indexer_types(values)
    if values.get("model_type") == "deepseek_v4":
        values = deepseek_v4_values(values)
    if values.get("model_type") == "dots3_note_text":
        values = dots3_values(values)
    if values.get("model_type") == "xlstm":
        # xLSTMConfig's __post_init__: hidden_size and num_hidden_layers read, embedding_dim
        # and num_blocks only where those are null (`xlstm_sizes`)
        values.update(zip(("hidden_size", "embedding_dim", "num_hidden_layers", "num_blocks"),
                          xlstm_sizes(given)))
    if values.get("model_type") == "minimax_m3_vl_text":
        values = minimax_m3_values(values)
    if values.get("model_type") in ("axk1", "axk2"):
        # AXK1Config's and AXK2Config's __post_init__: head_dim is qk_rope_head_dim; 5.25
        # (AXK2Config: 5.24 on) derives the MLP kinds from first_k_dense_replace and
        # moe_layer_freq (1 and 1) where config.json lists none (A.X K1 on 5.17 reads
        # first_k_dense_replace alone: a config where they differ is refused)
        values["head_dim"] = values["qk_rope_head_dim"]
        values["mlp_layer_types"] = axk1_mlp_kinds(values)
    if values.get("model_type") == "hy_v3" and not values.get("mlp_layer_types"):
        # HYV3Config's: the first block dense, the others sparse (5.17, 5.25)
        values["mlp_layer_types"] = dense_prefix_kinds(values["num_hidden_layers"], 1)
    if values.get("model_type") == "minicpm3":
        # MiniCPM3Config's __post_init__: head_dim is qk_rope_head_dim whatever config.json
        # says, a value head hidden_size / heads wide where v_head_dim is None
        values["head_dim"] = values["qk_rope_head_dim"]
        values["v_head_dim"] = (values["v_head_dim"]
                                or values["hidden_size"] // values["num_attention_heads"])
    if values.get("model_type") in ("glm4_moe_lite", "youtu"):
        # Glm4MoeLiteConfig's attribute_map and YoutuConfig's __post_init__: head_dim is
        # qk_rope_head_dim whatever config.json says
        values["head_dim"] = values["qk_rope_head_dim"]
    if values.get("model_type") == "glm4_moe_lite" and not values.get("mlp_layer_types"):
        # Glm4MoeLiteConfig's: block 0 dense, the others sparse (first_k_dense_replace unread)
        values["mlp_layer_types"] = dense_prefix_kinds(values["num_hidden_layers"], 1)
    if values.get("model_type") == "exaone_moe":
        values = exaone_moe_block_kinds(values)
    if values.get("model_type") == "flint":
        values = flint_block_kinds(values)
    if values.get("model_type") == "kolibri1" and not values.get("layer_types"):
        # Kolibri1Config's: every fifth block full attention, the others sliding
        values["layer_types"] = ["sliding_attention" if (i + 1) % 5 else "full_attention"
                                 for i in range(values["num_hidden_layers"])]
    if values.get("model_type") == "kolibri1_1":
        values = kolibri1_1_layout(values)
    if values.get("model_type") == "minicpm5_moe":
        # MiniCPM5MoeConfig's __post_init__: the first first_k_dense_replace blocks (1 where
        # config.json gives none; a key it does not keep) dense where it lists no MLP kinds
        if not values.get("mlp_layer_types"):
            values["mlp_layer_types"] = dense_prefix_kinds(
                values["num_hidden_layers"], given.get("first_k_dense_replace", 1))
    if values.get("model_type") == "ergo":
        values = ergo_values(values)
    if values.get("model_type") == "mistral4":
        # Mistral4Config sets it to a query head's whole width whatever config.json says.
        values["head_dim"] = values["qk_nope_head_dim"] + values["qk_rope_head_dim"]
    if values.get("model_type") == "cohere2":
        # Cohere2Config's: without layer_types every sliding_window_pattern-th block (4th) is
        # global.
        if not values.get("layer_types"):
            pattern = values.get("sliding_window_pattern") or 4
            values["layer_types"] = ["sliding_attention" if (i + 1) % pattern else "full_attention"
                                     for i in range(values["num_hidden_layers"])]
    if values.get("model_type") == "cohere2_moe":
        values = cohere2_moe_block_kinds(values)
    if values.get("model_type") == "modernbert-decoder":
        values = modernbert_decoder_values(values)
    if (values.get("model_type") in ("cwm", "granite_swa", "granitemoe_swa")
            and not values.get("layer_types")):
        # CwmConfig's, GraniteSWAConfig's and GraniteMoeSWAConfig's: every fourth block full,
        # from the first (5.17 and 5.25)
        values["layer_types"] = ["full_attention" if i % 4 == 0 else "sliding_attention"
                                 for i in range(values["num_hidden_layers"])]
    if values.get("model_type") == "afmoe" and not values.get("layer_types"):
        # AfmoeConfig's: every global_attn_every_n_layers-th block full, the others sliding
        every = values["global_attn_every_n_layers"]
        values["layer_types"] = ["sliding_attention" if (i + 1) % every else "full_attention"
                                 for i in range(values["num_hidden_layers"])]
    if values.get("model_type") in ("laguna", "mellum"):
        values = laguna_block_kinds(values)
    if values.get("model_type") == "beam":
        values = beam_block_kinds(values)
    if values.get("model_type") == "mimo_v2_flash":
        values = mimo_v2_flash_values(values)
    if values.get("model_type") == "longcat_flash":
        values = longcat_flash_values(values, given)
    if values.get("model_type") == "jetmoe" and "num_attention_heads" not in given:
        # JetMoeConfig's __post_init__: a token's query heads are its experts' KV heads where
        # config.json gives none (a given value is kept, and counts nothing: JetMoeAttention
        # builds its experts' projections of the KV heads' width; its attribute_map reads
        # head_dim as kv_channels)
        values["num_attention_heads"] = (values["num_key_value_heads"]
                                         * values["num_experts_per_tok"])
    if values.get("model_type") == "dots1" and not values.get("layer_types"):
        # Dots1Config's: a window on the blocks from max_window_layers on, where it has one.
        window, start = values["sliding_window"], values["max_window_layers"]
        values["layer_types"] = ["sliding_attention" if window is not None and i >= start
                                 else "full_attention"
                                 for i in range(values["num_hidden_layers"])]
    if values.get("model_type") in GATED_DELTANET_TYPES:
        values["layer_types"] = qwen3_next_layer_types(values)
    if values.get("model_type") == "zaya" and not values.get("layer_types"):
        values["layer_types"] = ["hybrid"] * values["num_hidden_layers"]  # ZayaConfig's
    if values.get("model_type") == "dory":
        values.update(dory_values(values))
    if values.get("model_type") == "lara_mini" and not values.get("layer_types"):
        values["layer_types"] = lara_mini_layer_types(values["num_hidden_layers"])
    if values.get("model_type") == "olmo_hybrid":
        # OlmoHybridConfig's __post_init__: the Gated DeltaNet's key and value heads the
        # attention's, a key head three quarters of hidden_size over them, a value head twice it
        values["linear_num_key_heads"] = (values["linear_num_key_heads"]
                                          or values["num_attention_heads"])
        values["linear_num_value_heads"] = (values["linear_num_value_heads"]
                                            or values["num_attention_heads"])
        values["linear_key_head_dim"] = (values["linear_key_head_dim"] or int(
            0.75 * values["hidden_size"] / values["linear_num_key_heads"]))
        values["linear_value_head_dim"] = (values["linear_value_head_dim"]
                                           or 2 * values["linear_key_head_dim"])
    if values.get("model_type") == "kimi_linear":
        values = kimi_linear_values(values)
    if values.get("model_type") == "bailing_hybrid":
        values = bailing_hybrid_values(values)
    if values.get("model_type") == "minimax" and not values.get("layer_types"):
        # MiniMaxConfig's __post_init__ (5.17, 5.25)
        values["layer_types"] = ["linear_attention" if i % 2 else "full_attention"
                                 for i in range(values["num_hidden_layers"])]
    if values.get("model_type") == "granitemoehybrid":
        values["layer_types"] = granite_hybrid_layer_types(values)
    if values.get("model_type") == "bamba":
        values["layer_types"] = bamba_layer_types(values)
    if values.get("model_type") == "zamba":
        values = zamba_values(values)
    if values.get("model_type") == "zamba2":
        values = zamba2_values(values)
    if values.get("model_type") == "jamba":
        # JambaConfig's layers_block_type, read as its layer_types
        period, offset = values["attn_layer_period"], values["attn_layer_offset"]
        values["layer_types"] = ["full_attention" if i % period == offset
                                 else "linear_attention"
                                 for i in range(values["num_hidden_layers"])]
    if values.get("model_type") == "lfm2" and not values.get("layer_types"):
        # Lfm2Config's: attention in the blocks full_attn_idxs lists (every block where it
        # lists none), a short convolution in the others
        listed = values.get("full_attn_idxs")
        listed = range(values["num_hidden_layers"]) if listed is None else listed
        values["layer_types"] = ["full_attention" if i in listed else "conv"
                                 for i in range(values["num_hidden_layers"])]
    if values.get("model_type") == "lfm3" and not values.get("layer_types"):
        values["layer_types"] = lfm3_layer_types(values["num_hidden_layers"])
    if values.get("model_type") == "nemotron_h":
        # NemotronHConfig's older names of its Mamba-2 keys, which it reads as the new ones
        values = {**values, **{new: values[old] for old, new in NEMOTRON_H_OLD_KEYS.items()
                               if old in values}}
        # NemotronHConfig's: the blocks' kinds decide how many there are
        values["layer_types"] = nemotron_h_layer_types(values)
        values["num_hidden_layers"] = len(values["layer_types"])
    if values.get("model_type") in GEMMA4_TYPES:
        values = gemma4_values(values)
    if values.get("model_type") == "gemma3n_text" and not values.get("layer_types"):
        # Gemma3nTextConfig's: every fifth block full, the others sliding
        values["layer_types"] = ["full_attention" if (i + 1) % 5 == 0 else "sliding_attention"
                                 for i in range(values["num_hidden_layers"])]
    if values.get("model_type") == "gpt_oss" and not values.get("layer_types"):
        # GptOssConfig's: a sliding block first, then every other block (its windows).
        values["layer_types"] = ["sliding_attention" if i % 2 == 0 else "full_attention"
                                 for i in range(values["num_hidden_layers"])]
    if values.get("model_type") == "llama4_text" and not values.get("layer_types"):
        # Llama4TextConfig's: chunked attention on the blocks that rotate (no_rope_layers 1;
        # without the list, all but every no_rope_layer_interval-th), where a chunk size is set.
        n, interval = values["num_hidden_layers"], values["no_rope_layer_interval"]
        rope = values.get("no_rope_layers") or [int((i + 1) % interval != 0) for i in range(n)]
        chunked = values.get("attention_chunk_size") is not None
        values["layer_types"] = ["chunked_attention" if r and chunked else "full_attention"
                                 for r in rope]
    return SimpleNamespace(**values)


def modernbert_decoder_values(values: dict[str, Any]) -> dict[str, Any]:
    """ModernBertDecoderConfig's __post_init__ (5.17, 5.25): without layer_types every
    global_attn_every_n_layers-th block full attention from the first, the others sliding;
    the window half of local_attention (where it is null or 0 the class makes it -1, which
    transformers' model cannot run: `modernbert_decoder_unbuilt` refuses that, read here as
    None), but where config.json gives sliding_window itself (as a saved config does), which
    the class sets last."""
    if not values.get("layer_types"):
        every = values["global_attn_every_n_layers"]
        values["layer_types"] = ["sliding_attention" if i % every else "full_attention"
                                 for i in range(values["num_hidden_layers"])]
    if "sliding_window" not in values:
        values["sliding_window"] = (values["local_attention"] // 2 if values["local_attention"]
                                    else None)
    return values


def longcat_flash_values(values: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """A LongCat-Flash config.json's values as transformers 5.25's LongcatFlashConfig reads
    them: its blocks num_layers, or half a num_hidden_layers given (the class's setter, which
    wins where both are given), num_hidden_layers always twice them (its property: the cache's
    entries, two latent attentions a block); the dense MLPs' width ffn_hidden_size (its
    attribute_map's intermediate_size), the experts' expert_ffn_hidden_size."""
    values = dict(values)
    if isinstance(given.get("num_hidden_layers"), int):
        values["num_layers"] = given["num_hidden_layers"] // 2
    values["num_hidden_layers"] = 2 * values["num_layers"]
    for own, llama in (("ffn_hidden_size", "intermediate_size"),
                       ("expert_ffn_hidden_size", "moe_intermediate_size")):
        if llama in given and own not in given:  # (the attribute_map's name given)
            values[own] = given[llama]
        values[llama] = values[own]
    return values


def mimo_v2_flash_window(values: dict[str, Any]) -> dict[str, Any]:
    """A MiMo-V2-Flash config.json's values with its window said once, as transformers 5.25
    reads it (sliding_window_size + 1 where given, else sliding_window, else 129) and 5.17
    then reads it too: 5.17 ignores sliding_window_size and defaults to 128, so the same
    config.json would build another model in each. The window written into sliding_window
    (and sliding_window_size, one less, beside it), which every saved config.json keeps
    (modeling.load_config, config_from_dict); other families' values as they are."""
    if values.get("model_type") != "mimo_v2_flash":
        return values
    size = values.get("sliding_window_size")
    window = size + 1 if isinstance(size, int) else values.get("sliding_window")
    window = MIMO_V2_FLASH_WINDOW if window is None else window
    return {**values, "sliding_window": window, "sliding_window_size": window - 1}


def mimo_v2_flash_values(values: dict[str, Any]) -> dict[str, Any]:
    """A MiMo-V2-Flash config.json's values as MiMoV2FlashConfig reads them (5.17 and 5.25,
    the window as `mimo_v2_flash_window` says it): full attention on block 0 and every sixth
    block and the others sliding where it lists no layer_types, block 0 dense and the others
    sparse where it lists no mlp_layer_types."""
    n = values["num_hidden_layers"]
    values = mimo_v2_flash_window(values)
    if not values.get("layer_types"):
        values["layer_types"] = ["full_attention" if i == 0 or (i + 1) % 6 == 0
                                 else "sliding_attention" for i in range(n)]
    if not values.get("mlp_layer_types"):
        values["mlp_layer_types"] = dense_prefix_kinds(n, 1)
    return values


# Gemma4TextConfig's head_dim of its global blocks where a config.json gives neither
# global_head_dim nor per_layer_config.
GEMMA4_GLOBAL_HEAD_DIM = 512
# The model types of Gemma 4's blocks: its own and Gemma 4 12B's (unified: no per-layer inputs
# or experts), whose config classes read the same values (gemma4_values).
GEMMA4_TYPES = ("gemma4_text", "gemma4_unified_text")


def kimi_linear_values(values: dict[str, Any]) -> dict[str, Any]:
    """KimiLinearConfig's __post_init__ (5.17, 5.25): head_dim is qk_rope_head_dim; the KDA's
    heads, width and taps from config.json's linear_attn_config (num_heads, head_dim,
    short_conv_kernel_size) over the top-level keys; each block's kind from layer_types, else
    from linear_attn_config's kda_layers / full_attn_layers (1-based block numbers), else full
    attention in every fourth block from block 4 (0-based 4, 8, ...); the MLP kinds from
    mlp_layer_types, else the first first_k_dense_replace blocks (1 where left out) dense."""
    linear = values.get("linear_attn_config") or {}
    n = values["num_hidden_layers"]
    values = {**values, "head_dim": values["qk_rope_head_dim"],
              "linear_head_dim": linear.get("head_dim", values["linear_head_dim"]),
              "linear_num_heads": linear.get("num_heads", values["linear_num_heads"]),
              "linear_conv_kernel_dim": linear.get("short_conv_kernel_size",
                                                   values["linear_conv_kernel_dim"])}
    if not values.get("layer_types"):
        if "full_attn_layers" in linear and "kda_layers" in linear:
            kinds: list[Any] = [None] * n
            for block in linear["full_attn_layers"]:
                kinds[block - 1] = "full_attention"
            for block in linear["kda_layers"]:
                kinds[block - 1] = "linear_attention"
        else:
            kinds = ["full_attention" if i and i % 4 == 0 else "linear_attention"
                     for i in range(n)]
        values["layer_types"] = kinds
    if not values.get("mlp_layer_types"):
        dense = values.get("first_k_dense_replace")
        values["mlp_layer_types"] = dense_prefix_kinds(n, 1 if dense is None else dense)
    return values


# A Dots 3 Note sliding block's latent attention as Dots3NoteTextConfig reads it from config.json
# where it gives no per_layer_config: each value from its swa_* key, these by default.
DOTS3_SLIDING = {"num_attention_heads": 64, "num_key_value_heads": 64, "q_lora_rank": 1024,
                 "kv_lora_rank": 1024, "head_dim": 256, "qk_nope_head_dim": 192,
                 "v_head_dim": 128}


def dots3_values(values: dict[str, Any]) -> dict[str, Any]:
    """A Dots 3 Note config.json's values as Dots3NoteTextConfig's __post_init__ reads them (5.24,
    5.25), for the counts: the MLP kinds (mlp_layer_types, else dense before
    first_k_dense_replace, 1 by default, and where moe_layer_freq says), the shared experts'
    width (moe_shared_expert_intermediate_size, its published name), the window
    (sliding_window_size, 512 by default), each block's attention kind (layer_types, else
    blocks 0, 1 and every 4th from 1 "indexed_attention", the others "sliding_attention", all
    full where use_sliding_window is false; use_dsa false names the indexed ones
    "full_attention", which hold no indexer) and each block's latent overrides by index
    (per_layer_config, else every sliding block's from the swa_* keys: DOTS3_SLIDING)."""
    values = dict(values)
    n = values["num_hidden_layers"]
    first, freq = values.get("first_k_dense_replace", 1), values.get("moe_layer_freq", 1)
    if not values.get("mlp_layer_types"):
        values["mlp_layer_types"] = [
            "sparse" if i >= first and (bool(freq[i]) if isinstance(freq, list)
                                        else i % freq == 0) else "dense" for i in range(n)]
    values["shared_experts_intermediate_size"] = values.get(
        "moe_shared_expert_intermediate_size", values["shared_experts_intermediate_size"])
    if values.get("sliding_window") is None:
        values["sliding_window"] = values.get("sliding_window_size", 512)
    use_dsa = values.get("use_dsa", None if "per_layer_config" in values else True)
    if not values.get("layer_types"):
        full = "full_attention" if use_dsa is False else "indexed_attention"
        windowed = values.get("use_sliding_window", True)
        values["layer_types"] = [full if not windowed or i < 2 or i % 4 == 1
                                 else "sliding_attention" for i in range(n)]
    if use_dsa is not None:  # (the legacy name of an indexed block, or the other way)
        old, new = (("indexed_attention", "full_attention") if use_dsa is False
                    else ("full_attention", "indexed_attention"))
        values["layer_types"] = [new if kind == old else kind for kind in values["layer_types"]]
    overrides = values.get("per_layer_config")
    if isinstance(overrides, dict):
        layers = {int(index): dict(o) for index, o in overrides.items()}
    else:
        sliding = {key: values.get(f"swa_{key}", value) for key, value in DOTS3_SLIDING.items()}
        sliding["qk_rope_head_dim"] = values.get(
            "swa_qk_rope_head_dim", sliding["head_dim"] - sliding["qk_nope_head_dim"])
        layers = {i: dict(sliding) for i, kind in enumerate(values["layer_types"])
                  if kind == "sliding_attention"}
    values["per_layer_config"] = layers
    return values


def bailing_hybrid_values(values: dict[str, Any]) -> dict[str, Any]:
    """BailingHybridConfig's __post_init__ (5.25): the KDA's heads the attention's, its head
    width head_dim and its taps short_conv_kernel_size (where config.json gives no
    linear_num_heads / linear_head_dim / linear_conv_kernel_dim, as the published one gives
    none and a saved one gives all), then head_dim qk_rope_head_dim; each block's kind from
    layer_types, else latent attention in the last block of every layer_group_size; the MLP
    kinds from mlp_layer_types, else the first first_k_dense_replace blocks dense."""
    n = values["num_hidden_layers"]
    values = {**values, "head_dim": values["qk_rope_head_dim"],
              "linear_head_dim": values.get("linear_head_dim") or values["head_dim"],
              "linear_num_heads": (values.get("linear_num_heads")
                                   or values["num_attention_heads"]),
              "linear_conv_kernel_dim": (values.get("linear_conv_kernel_dim")
                                         or values["short_conv_kernel_size"])}
    if not values.get("layer_types"):
        group = values["layer_group_size"]
        values["layer_types"] = ["full_attention" if (i + 1) % group == 0
                                 else "linear_attention" for i in range(n)]
    if not values.get("mlp_layer_types"):
        values["mlp_layer_types"] = dense_prefix_kinds(n, values["first_k_dense_replace"])
    return values


def gemma4_layer_types(values: dict[str, Any]) -> list[str]:
    """A Gemma 4 config.json's block kinds as Gemma4TextConfig makes them: its layer_types, or
    every sixth block global where it gives none; the last block global whatever they say
    (the class forces it so, with a warning)."""
    kinds = values.get("layer_types")
    if not isinstance(kinds, list):
        blocks = values.get("num_hidden_layers")
        kinds = ["sliding_attention" if (i + 1) % 6 else "full_attention"
                 for i in range(blocks if isinstance(blocks, int) else 0)]
    return [*kinds[:-1], "full_attention"] if kinds else kinds


def gemma4_values(values: dict[str, Any]) -> dict[str, Any]:
    """A Gemma 4 config.json's values as Gemma4TextConfig reads them, for the counts: its
    block kinds (`gemma4_layer_types`), each block's overrides by index (`per_layer_config`,
    or where it gives none each global block's head_dim of global_head_dim and, with
    attention_k_eq_v, KV heads of num_global_key_value_heads), and the experts a token is
    routed to under the name the counts read (`top_k_experts`)."""
    values = {**values, "layer_types": gemma4_layer_types(values)}
    overrides = values.get("per_layer_config")
    if isinstance(overrides, dict):
        layers = {int(index): dict(o) for index, o in overrides.items()}
    else:
        override = {"head_dim": values.get("global_head_dim") or GEMMA4_GLOBAL_HEAD_DIM}
        if values.get("attention_k_eq_v") and values.get("num_global_key_value_heads"):
            override["num_key_value_heads"] = values["num_global_key_value_heads"]
        layers = {i: dict(override) for i, kind in enumerate(values["layer_types"])
                  if kind == "full_attention"}
    values["per_layer_config"] = layers
    values.setdefault("num_experts_per_tok", values.get("top_k_experts"))
    return values


# Config lists with one entry per block, which lose the removed blocks' entries
# (modeling.remove_blocks) and must hold one for every block (checked_config_json): each
# block's attention kind (Gemma-2/3, OLMo-3, Qwen; MiniMax-M2's `attn_type_list`, all full
# attention, which transformers does not read but other engines do), whether it rotates
# (SmolLM3's NoPE blocks: read when a block is built, so a saved checkpoint would otherwise
# reload its blocks with their neighbours' flags; Granite-SWA's and GraniteMoE-SWA's rotary
# base a block, `layer_rope_theta`, 0 for NoPE), its MLP kind (Cohere2-MoE's
# `mlp_layer_types`, "dense" / "sparse"), its width (a width-pruned checkpoint's shapes) and
# a value its module computes from the block's index (a depth-pruned DiffLlama's
# `layer_lambda_init`: modeling.BLOCK_CONSTANTS).
PER_BLOCK_CONFIG_LISTS = ("layer_types", "no_rope_layers", "layer_shapes", "attn_type_list",
                          "mlp_layer_types", "layer_rope_theta",
                          # Laguna's each block's query heads
                          "num_attention_heads_per_layer",
                          "attention_layers", "layer_lambda_init",
                          # GLM-MoE-DSA's each block's indexer kind
                          "indexer_types",
                          # Ling's each block's SwiGLU clipping (BailingHybridConfig checks
                          # there is one a block)
                          "expert_swiglu_limit_list", "share_expert_swiglu_limit_list",
                          # Gemma 3n's each block's MLP gate cutoff
                          "activation_sparsity_pattern")

# The blocks that hold attention by their indices (Bamba's attn_layer_indices: BambaConfig
# derives its layer_types from them, a property that cannot be set; LFM2's full_attn_idxs,
# from which Lfm2Config derives its layer_types where a config gives none).
# (Inkling's local_layer_ids: its windowed blocks, from which InklingTextConfig derives
# layer_types where a config.json gives none)
ATTENTION_INDEX_KEYS = ("attn_layer_indices", "full_attn_idxs", "local_layer_ids",
                        # (Zamba2's hybrid blocks: Zamba2Config sets a saved list over the one it
                        # derives from layers_block_type, so the kept blocks' new indices)
                        "hybrid_layer_ids",
                        # (Llama 3.2 Vision's cross-attention blocks, which MllamaTextModel
                        # builds and skips by these indices)
                        "cross_attention_layers")


def kept_block_lists(config, keep: list[int]) -> dict[str, Any]:
    """The config's per-block lists (`PER_BLOCK_CONFIG_LISTS`) of the blocks `keep` only, in
    order, as a model of those blocks reads them; a Bamba config's attention blocks' indices
    (`ATTENTION_INDEX_KEYS`) renumbered instead of its layer_types, which follow them (as
    Falcon-H1's follow its depth); an LFM2 config's full_attn_idxs renumbered beside its
    layer_types, so that the two still say the same blocks."""
    lists = {}
    for key in ATTENTION_INDEX_KEYS:
        indices = getattr(config, key, None)
        if indices is not None:
            lists[key] = [new for new, old in enumerate(keep) if old in indices]
    for key in PER_BLOCK_CONFIG_LISTS:
        if key == "layer_types" and _layer_types_derived(config):
            continue
        if getattr(config, key, None):
            lists[key] = [getattr(config, key)[i] for i in keep]
    linear = getattr(config, "linear_attn_config", None)
    if getattr(config, "model_type", None) == "kimi_linear" and isinstance(linear, dict) \
            and "kda_layers" in linear and "full_attn_layers" in linear:
        # KimiLinearConfig reads these (1-based) where a config.json gives no layer_types, as
        # other readers of Kimi Linear's config.json always do: the kept blocks' new numbers
        kinds = [config.layer_types[i] for i in keep]
        lists["linear_attn_config"] = {
            **linear, "kda_layers": [new + 1 for new, kind in enumerate(kinds)
                                     if kind == "linear_attention"],
            "full_attn_layers": [new + 1 for new, kind in enumerate(kinds)
                                 if kind == "full_attention"]}
    if family(config).griffin_blocks:
        # RecurrentGemmaConfig cycles block_types over the blocks: the kept blocks' kinds, one
        # a block, say each again (and the published config.json's copy, `_block_types`,
        # which other engines read, the same; read by index, not by num_hidden_layers, which
        # remove_blocks has already set to the kept depth)
        kinds = [config.block_types[i % len(config.block_types)] for i in keep]
        lists["block_types"] = kinds
        if getattr(config, "_block_types", None) is not None:
            lists["_block_types"] = kinds
    if getattr(config, "model_type", None) == "mimo_v2_flash":
        # (its published lists of the same kinds, read by other engines: MIMO_V2_FLASH_LISTS)
        lists.update({key: [getattr(config, key)[i] for i in keep]
                      for key in MIMO_V2_FLASH_LISTS
                      if isinstance(getattr(config, key, None), list)})
    if getattr(config, "model_type", None) == "kolibri1_1":
        # Kolibri1_1Config names blocks by index: the kept indexers and each kept block's keys'
        # source by their new numbers (a source goes only with its readers: broken_reads)
        new = {old: i for i, old in enumerate(keep)}
        lists["index_layers"] = [new[b] for b in config.index_layers if b in new]
        lists["kv_source_layers"] = [new[config.kv_source_layers[b]] for b in keep]
    # (Dory's sections, whose sizes place each kept block in its own: DoryModel slices its
    # layers by them)
    lists.update(dory_sections(config, keep))
    if "attention_layers" in lists and getattr(config, "model_type", None) == "gpt_neo":
        # GPTNeoConfig expands attention_types into attention_layers whenever it is built (a
        # reload from config.json): the kept blocks' kinds, in order, as one pattern said once
        lists["attention_types"] = [[lists["attention_layers"], 1]]
    return lists


def kept_depth_scale(config, before: int, kept: int) -> dict[str, float]:
    """The config value that keeps each sublayer's scale of a model of `before` blocks in the
    `kept` blocks a depth prune leaves: MiniCPM3's blocks scale their sublayers' outputs by
    scale_depth / sqrt(num_hidden_layers), which a model reloaded with fewer blocks would
    compute larger, so scale_depth shrinks with the square root of the depth (MiniCPM3Config
    reads a None scale_depth as sqrt(num_hidden_layers), a scale of 1 at any depth). None to
    rewrite for other families."""
    key = family(config).depth_scale_key
    if key is None or getattr(config, key, None) is None:
        return {}
    return {key: getattr(config, key) * math.sqrt(kept / before)}


def _layer_types_derived(config) -> bool:
    """Whether the config's class derives its layer_types (a layers_block_type property that
    cannot be set: Bamba's from attn_layer_indices, Falcon-H1's "hybrid" for every block),
    which then follow the blocks without being set; MambaConfig's and FalconMambaConfig's
    layer_types property, "linear_attention" for every block)."""
    return any(isinstance(kinds := getattr(type(config), name, None), property)
               and kinds.fset is None for name in ("layers_block_type", "layer_types"))


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
OPTIONAL_SHAPE_KEYS = ("num_key_value_heads", "head_dim", "ffn_hidden_size", "num_kv_heads")


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


def falcon_kv_heads(config) -> int:
    """A Falcon block's KV heads as FalconAttention builds them: num_kv_heads in the new
    decoder architecture (one per group of query heads), one where multi_query, else one per
    query head (its rows head by head). GPT-BigCode's by the same rule (GPTBigCodeAttention:
    one where multi_query, else one per query head; no new architecture)."""
    if getattr(config, "new_decoder_architecture", False):
        return config.num_kv_heads or config.num_attention_heads
    return 1 if getattr(config, "multi_query", True) else config.num_attention_heads


def parallel_norms(config) -> bool:
    """Whether a parallel block keeps a norm before each sublayer (`Family.parallel_norms`):
    GPT-NeoX's always; Falcon's where num_ln_in_parallel_attn is 2, which FalconDecoderLayer
    makes it in the new decoder architecture where null (ln_attn / ln_mlp: Falcon-40B, 180B),
    one shared norm else (Falcon-7B's input_layernorm; Falcon2-11B's num_ln_in_parallel_attn
    1); Cohere's, StableLM's and Phi's never."""
    if not family(config).parallel_norms:
        return False
    if getattr(config, "model_type", None) != "falcon":
        return True
    norms = getattr(config, "num_ln_in_parallel_attn", None)
    return (norms or (2 if getattr(config, "new_decoder_architecture", False) else 1)) == 2


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


# GPTNeoConfig's defaults of its block kinds and local window (gpt-neo-1.3B's).
GPT_NEO_ATTENTION_TYPES = [[["global", "local"], 12]]
GPT_NEO_WINDOW = 256


def gpt_neo_attention_layers(values: dict[str, Any]) -> list:
    """A GPT-Neo config's kind of each block, as GPTNeoConfig expands `attention_types`
    ([[kinds, repeats], ...]: the kinds listed, the list repeated) into attention_layers."""
    types = values.get("attention_types") or GPT_NEO_ATTENTION_TYPES
    return [kind for kinds, repeats in types for _ in range(repeats) for kind in kinds]


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


def banded_static_cache_problem(config) -> str | None:
    """Why transformers' generate with a static cache computes another model than `config`'s,
    or None: a GPT-Neo model with local blocks, whose GPTNeoSelfAttention bands its scores by
    rows of its own causal buffer taken at the keys' count (key_length - query_length onwards),
    which a static cache makes the cache's length, not the position decoded: every local
    block's window lies at the cache's end (the tokens differ from its dynamic cache's, in
    5.17 and 5.25). Its global blocks' rows are causal alike at any offset."""
    if getattr(config, "model_type", None) != "gpt_neo":
        return None
    if "local" not in (getattr(config, "attention_layers", None) or ()):
        return None
    return ("the hf_static backend cannot run a GPT-Neo model with local attention blocks "
            f"(attention_layers {list(config.attention_layers)}): transformers' GPT-Neo "
            "bands a local block's scores by its own mask taken at the cache's length, so "
            "with a static cache each local block attends to the cache's last window_size "
            "slots, not its own, and its generate computes another model. Benchmark it with "
            "the hf or the compiled backend (both attend as its dynamic cache does)")


# The first transformers whose Dory reads a static cache with recurrent_kv_cache_mode
# "last_loop" (DoryPastReader; 5.24 reads the layer's whole static buffer)
DORY_LAST_LOOP_STATIC = "5.25"


def dory_last_loop_static_problem(config) -> str | None:
    """Why transformers' generate with a static cache cannot run this Dory model, or None:
    recurrent_kv_cache_mode "last_loop" on a transformers older than DORY_LAST_LOOP_STATIC."""
    from packaging.version import Version

    installed = installed_transformers()
    if (getattr(config, "model_type", None) != "dory"
            or getattr(config, "recurrent_kv_cache_mode", "per_loop") != "last_loop"
            or installed is None or Version(installed) >= Version(DORY_LAST_LOOP_STATIC)):
        return None
    return (f"the hf_static backend cannot run a Dory model with recurrent_kv_cache_mode "
            f"\"last_loop\" on transformers {installed}: its earlier loops read the last loop's "
            "static cache layer whole (every position the buffer holds) beside their own keys, "
            "so generate with a static cache fails at its first step. Benchmark it with the hf "
            f"backend, upgrade transformers ({DORY_LAST_LOOP_STATIC} reads it), or set "
            "recurrent_kv_cache_mode \"per_loop\" in its config.json")


def own_cache_static_problem(config) -> str | None:
    """Why transformers' generate with a static cache does not run `config`'s model on one, or
    None: MiniMax's (MiniMaxForCausalLM keeps its lightning attention's state in a cache of
    its own, MiniMaxCache, and generate ignores cache_implementation "static" for it, in 5.17
    and 5.25, with a warning: an hf_static row would time the dynamic cache under the static
    backend's name); OpenAI GPT's (OpenAIGPTLMHeadModel reads no cache at all: generate runs
    the whole sequence again at every step, whatever cache it makes, in 5.17 and 5.25);
    xLSTM's (xLSTMCache, ignored alike);
    DeepSeek-V4's (its compressors' cache layers, which StaticCache cannot build: generate
    fails, 5.24 and 5.25);
    RWKV's (RwkvForCausalLM keeps its state in five tensors of its own, passed as `state`, not
    in a Cache: generate ignores cache_implementation "static" for it with a warning, in 5.17
    and 5.25); a Llama 3.2 Vision model's whose first block is a cross-attention block (empty
    on text: the static cache's sequence length, read from it, stays 0, 5.17 and 5.25); a Dory
    model's with recurrent_kv_cache_mode "last_loop" on a transformers older than
    `DORY_LAST_LOOP_STATIC` (5.24's earlier loops concatenate the static layer's whole buffer
    with their own keys: generate fails at its first step, a RuntimeError of the mask's size)."""
    if problem := dory_last_loop_static_problem(config):
        return problem
    if getattr(config, "model_type", None) == "rwkv":
        return ("the hf_static backend cannot run an RWKV model: RwkvForCausalLM keeps its "
                "state in tensors of its own (`state`), not in a Cache, and transformers' "
                "generate ignores the static cache for it, so an hf_static row would time its "
                "own state under the static backend's name. Benchmark it with the hf backend")
    if getattr(config, "model_type", None) == "openai-gpt":
        return ("the hf_static backend cannot run an OpenAI GPT model: OpenAIGPTLMHeadModel "
                "reads no KV cache, so transformers' generate runs the whole sequence again "
                "at every step whatever cache it is given, and an hf_static row would time "
                "that under the static backend's name. Benchmark it with the hf backend (the "
                "same recomputation, named as it is) or the compiled one (its own KV cache)")
    if 0 in cross_attention_blocks(config):
        return ("the hf_static backend cannot run this Llama 3.2 Vision model: its first block "
                "is a cross-attention block, which holds nothing on text, and transformers' "
                "static cache reads the sequence length from the first block's entry, so "
                "generate decodes at the wrong positions (the published models' first block "
                "self-attends; a depth prune keeps it). Benchmark it with the hf backend")
    if getattr(config, "model_type", None) == "xlstm":
        return ("the hf_static backend cannot run an xLSTM model: xLSTMForCausalLM keeps its "
                "mLSTM states in a cache of its own (xLSTMCache), and transformers' generate "
                "ignores the static cache for it (\"This model does not support `Cache` "
                "instances\"), so an hf_static row would time its own cache under the static "
                "backend's name. Benchmark it with the hf backend")
    if getattr(config, "model_type", None) == "deepseek_v4":
        return ("the hf_static backend cannot run a DeepSeek-V4 model: its compressors keep "
                "their windows and compressed entries in cache layers of their own "
                "(DeepseekV4HCACache, DeepseekV4CSACache), which a static cache has no place "
                "for (transformers' generate with one fails: KeyError "
                "'compressed_sparse_attention'). Benchmark it with the hf backend")
    if getattr(config, "model_type", None) != "minimax":
        return None
    return ("the hf_static backend cannot run a MiniMax model: MiniMaxForCausalLM keeps its "
            "lightning attention's state in a cache of its own (MiniMaxCache), and transformers' "
            "generate ignores the static cache for it, so an hf_static row would time its "
            "dynamic cache. Benchmark it with the hf backend")


def batched_state_problem(config) -> str | None:
    """Why transformers' generate cannot decode more than one sequence at a time of `config`'s
    model, or None: RWKV's (a decode step's RwkvSelfAttention and RwkvFeedForward mix its new
    token, [batch, 1,
    hidden], with its state's last input, [batch, hidden], which broadcast to [batch, batch,
    hidden]: each sequence's step reads every other's, its logits [batch, batch, vocab], in
    5.17 and 5.25; one sequence decodes as the model without a state does)."""
    if not family(config).rwkv_blocks:
        return None
    return ("the hf backend cannot decode a batch of more than one sequence of an RWKV model: "
            "transformers' time and channel mixing broadcast a decode step's new tokens "
            "[batch, 1, hidden] against the state's [batch, hidden] to [batch, batch, hidden], "
            "so each sequence's step reads every other's and generate computes another model, "
            "batch times the work (identical prompts too, as the benchmark's). Benchmark it at batch size 1 alone: benchmark.batch_sizes [1] (and "
            "benchmark.paired.batch_sizes [1] where set)")


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


def zamba_values(values: dict[str, Any]) -> dict[str, Any]:
    """A Zamba config.json's values as ZambaConfig's __post_init__ reads them (5.17 and 5.25):
    attention_hidden_size 2 x hidden and head_dim (attention_head_dim) 2 x hidden / heads
    where null; the blocks' kinds layers_block_type's, "mamba" read as "linear_attention",
    or, where it gives none, two Mamba blocks, a hybrid one, then a hybrid one wherever the
    index past those three is attn_layer_offset modulo attn_layer_period."""
    values = dict(values)
    d, heads = values["hidden_size"], values["num_attention_heads"]
    values["attention_hidden_size"] = values.get("attention_hidden_size") or 2 * d
    values["head_dim"] = values.get("head_dim") or 2 * d // heads
    values["layer_types"] = ["linear_attention" if kind == "mamba" else kind
                             for kind in zamba_block_kinds(values)]
    return values


# Zamba2Config's kinds where a config.json gives no layers_block_type (5.17 and 5.25): 54
# blocks, a Mamba-2 one, seven runs of five Mamba-2 blocks and a hybrid one, then 4 Mamba-2, a
# hybrid, 3 Mamba-2, a hybrid and 2 Mamba-2 (Zamba2-2.7B's)
ZAMBA2_DEFAULT_KINDS = (["mamba"] + (["mamba"] * 5 + ["hybrid"]) * 7 + ["mamba"] * 4
                        + ["hybrid"] + ["mamba"] * 3 + ["hybrid"] + ["mamba"] * 2)


def zamba2_values(values: dict[str, Any]) -> dict[str, Any]:
    """A Zamba2 config.json's values as Zamba2Config's __post_init__ reads them (5.17 and
    5.25): intermediate_size 4 x hidden where null, attention_hidden_size 2 x hidden and
    head_dim (attention_head_dim) 2 x hidden / heads where config.json gives none (a saved value
    is set over the derived one), the blocks' kinds layers_block_type's ("mamba" read as
    "linear_attention") or ZAMBA2_DEFAULT_KINDS."""
    values = dict(values)
    d, heads = values["hidden_size"], values["num_attention_heads"]
    values["intermediate_size"] = values.get("intermediate_size") or 4 * d
    values["attention_hidden_size"] = values.get("attention_hidden_size") or 2 * d
    values["head_dim"] = values.get("head_dim") or 2 * d // heads
    kinds = values.get("layer_types")
    values["layer_types"] = ["linear_attention" if kind == "mamba" else kind
                             for kind in (ZAMBA2_DEFAULT_KINDS if kinds is None else kinds)]
    return values


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


def zamba_block_kinds(values: dict[str, Any]) -> list[str]:
    """A Zamba config.json's block kinds as ZambaConfig reads them: layers_block_type's (read
    as layer_types), or, where it gives none, two Mamba blocks, a hybrid one, then a hybrid one
    wherever the index past those three is attn_layer_offset modulo attn_layer_period (three
    kinds however few the blocks, as ZambaConfig derives them)."""
    if (kinds := values.get("layer_types")) is not None:
        return list(kinds)
    period, offset = values["attn_layer_period"], values["attn_layer_offset"]
    return ["mamba", "mamba", "hybrid"] + ["hybrid" if i % period == offset else "mamba"
                                           for i in range(values["num_hidden_layers"] - 3)]


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


# MiMo-V2-Flash's published config.json keys for each block's kinds (0 full attention / 1
# sliding; 0 dense / 1 sparse), which MiMoV2FlashConfig does not read (5.17, 5.25) but other
# engines do: a depth prune keeps their kept blocks' entries (kept_block_lists).
MIMO_V2_FLASH_LISTS = {"hybrid_layer_pattern": ("layer_types", "full_attention"),
                       "moe_layer_freq": ("mlp_layer_types", "dense")}


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


def installed_transformers() -> str | None:
    """The installed transformers' release, from its package metadata (transformers is not
    imported: the start's checks run without it); None where none is installed."""
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


def xlstm_sizes(values: dict[str, Any]) -> tuple[int, int, int, int]:
    """(hidden_size, embedding_dim, num_hidden_layers, num_blocks) as xLSTMConfig resolves an
    xLSTM config's values (5.17, 5.25): hidden_size and num_hidden_layers as given, their
    defaults (4096, 32) where left out and embedding_dim's / num_blocks' where null; those two
    theirs where null. xLSTMModel builds its embeddings embedding_dim wide and num_blocks
    blocks, everything else and xLSTMCache reads hidden_size and num_hidden_layers."""
    def pair(own: str, alias: str, default: int) -> tuple[int, int]:
        value = values[own] if own in values else default
        value = values.get(alias) if value is None else value
        return value, values.get(alias) if values.get(alias) is not None else value

    return (*pair("hidden_size", "embedding_dim", 4096),
            *pair("num_hidden_layers", "num_blocks", 32))


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


def axk1_mlp_kinds(values: dict[str, Any]) -> list[str]:
    """An A.X K1 config's MLP kinds as AXK1Config derives them in transformers 5.25 (A.X
    K2's as AXK2Config does, in 5.24 and 5.25): its
    mlp_layer_types, else block i sparse where i >= first_k_dense_replace (1 by default) and
    i is a multiple of moe_layer_freq (1 by default)."""
    if values.get("mlp_layer_types"):
        return list(values["mlp_layer_types"])
    first = values.get("first_k_dense_replace", 1)
    freq = values.get("moe_layer_freq", 1)
    return ["sparse" if i >= first and i % freq == 0 else "dense"
            for i in range(values["num_hidden_layers"])]


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


def without_null_shapes(values: dict[str, Any]) -> dict[str, Any]:
    """`values` without the optional shape keys set to null, which mean what leaving them out
    means: the family's class default (Gemma's head_dim is 256, not hidden_size / heads) or
    what the class derives. transformers 5's configs refuse a null for most families (a
    validation traceback when the model is built), so the loader and the counts both read a
    config.json through this and agree on its shapes."""
    return {key: value for key, value in values.items()
            if not (key in OPTIONAL_SHAPE_KEYS and value is None)}


def with_partial_rotary(values: dict[str, Any]) -> dict[str, Any]:
    """`values` (a config.json's) with the rotated part of each head that its family's
    `rotary_dim_key` gives in dimensions (MiniMax-M2's `rotary_dim`: 64 of head_dim 128) also
    given as the `partial_rotary_factor` transformers' rotary modules read, where `values` name
    no factor: transformers 5.25's MiniMaxM2Config converts it so itself, 5.17's ignores it and
    rotates the whole of each head, another model than the published one."""
    model_type = values.get("model_type")
    key = FAMILIES[model_type].rotary_dim_key if model_type in FAMILIES else None
    if key is None or values.get(key) is None:
        return values
    rope = values.get("rope_parameters") or values.get("rope_scaling")
    if "partial_rotary_factor" in values or (isinstance(rope, dict)
                                             and "partial_rotary_factor" in rope):
        return values
    head = values.get("head_dim") or CONFIG_DEFAULTS[model_type]["head_dim"]
    return {**values, "partial_rotary_factor": values[key] / head}


def with_boolean_flags(values: dict[str, Any]) -> dict[str, Any]:
    """`values` (a config.json's) with Llama 4's `attn_temperature_tuning` given as a number
    read as the boolean it means: Llama-4-Scout's published config.json gives 4, which the
    transformers that wrote it (4.51) took as true (Llama4TextAttention tests only its truth);
    5.17's and 5.25's Llama4TextConfig refuse any value but a boolean."""
    value = values.get("attn_temperature_tuning")
    if values.get("model_type") != "llama4_text" or isinstance(value, bool) or not isinstance(
            value, (int, float)):
        return values
    return {**values, "attn_temperature_tuning": bool(value)}


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


# Model types whose config.json transformers reads with another type's config class, whose
# saves write the class's type: read as that type, its family's (every model-type-keyed table
# and check then applies). AI Sweden's GPT-SW3: "gpt-sw3" is GPT2Config's (AutoConfig's own
# alias, in 5.17 and 5.25), built as GPT2LMHeadModel.
READ_AS_TYPE = {"gpt-sw3": "gpt2"}


def as_class_type(values: dict[str, Any]) -> dict[str, Any]:
    """Config values with a model type transformers reads with another type's class
    (`READ_AS_TYPE`) given as that type; others as they are."""
    if (model_type := values.get("model_type")) in READ_AS_TYPE:
        return {**values, "model_type": READ_AS_TYPE[model_type]}
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


# The families of Gated DeltaNet blocks beside full-attention ones (gated but OLMo Hybrid's),
# by model_type: what messages call such a model.
GATED_DELTANET_TYPES = {"qwen3_next": "Qwen3-Next", "qwen3_5_text": "Qwen3.5",
                        "qwen3_5_moe_text": "Qwen3.5-MoE", "olmo_hybrid": "OLMo Hybrid"}


def qwen3_next_layer_types(values: dict[str, Any]) -> Any:
    """A Qwen3-Next or Qwen3.5 config.json's block kinds: its layer_types, or as
    Qwen3NextConfig (and Qwen3.5's text configs) derive them where it gives none (Qwen3-Next's
    published one gives full_attention_interval alone): every interval-th block (4th) full
    attention, the others Gated DeltaNet. OlmoHybridConfig has no interval (every 4th block)
    and makes the last block full attention where that leaves none (fewer than 4 blocks)."""
    if values.get("layer_types"):
        return values["layer_types"]
    interval = values.get("full_attention_interval") or 4
    defaults = CONFIG_DEFAULTS[values.get("model_type") or "qwen3_next"]
    blocks = values.get("num_hidden_layers", defaults["num_hidden_layers"])
    kinds = ["linear_attention" if (i + 1) % interval else "full_attention"
             for i in range(blocks if isinstance(blocks, int) else 0)]
    if values.get("model_type") == "olmo_hybrid" and kinds and "full_attention" not in kinds:
        kinds[-1] = "full_attention"
    return kinds


# LaraMiniConfig's block kinds where a config.json gives none (5.24, 5.25): the released
# period of five, cycled.
LARA_MINI_PERIOD = ("linear_attention", "sliding_attention", "linear_attention",
                    "full_attention", "sliding_attention")


DORY_SECTIONS = ("n_input_layers", "n_recurrent_layers", "n_output_layers")


def dory_values(values: dict[str, Any]) -> dict[str, Any]:
    """A Dory config.json's block values as DoryConfig reads them: where its layer_types list
    each block twice (an attention and an "mlp" entry, as released and as DoryConfig.to_dict
    writes them), the kinds of the attention entries and num_hidden_layers and the three
    section sizes halved (the defaults too, as the class halves whatever it holds); without
    layer_types a sliding_attention block but every fourth; n_recurrent_layers, where null,
    the blocks the other two sections leave."""
    kinds = values.get("layer_types")
    out = {key: values.get(key) for key in ("num_hidden_layers", *DORY_SECTIONS)}
    if kinds is not None and "mlp" in kinds:
        kinds = kinds[::2]
        out = {key: None if value is None else value // 2 for key, value in out.items()}
    if kinds is None:
        kinds = ["full_attention" if (i + 1) % 4 == 0 else "sliding_attention"
                 for i in range(out["num_hidden_layers"])]
    if out["n_recurrent_layers"] is None:
        out["n_recurrent_layers"] = (out["num_hidden_layers"] - out["n_input_layers"]
                                     - out["n_output_layers"])
    return {**out, "layer_types": kinds}


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


def dory_sections(config, keep: list[int]) -> dict[str, int]:
    """A Dory config's three section sizes for the blocks `keep` (each kept block stays in its
    section: a removed recurrent block leaves every loop); none for other families."""
    if getattr(config, "model_type", None) != "dory":
        return {}
    first = config.n_input_layers
    last = first + config.n_recurrent_layers
    return {"n_input_layers": sum(i < first for i in keep),
            "n_recurrent_layers": sum(first <= i < last for i in keep),
            "n_output_layers": sum(i >= last for i in keep)}


def recurrent_blocks(config) -> list[bool]:
    """Whether each block runs in a looped section (Dory's recurrent section, run
    n_recurrent_loops times a token); no block in other families."""
    if getattr(config, "model_type", None) != "dory":
        return [False] * block_count(config)
    first = config.n_input_layers
    return [first <= i < first + config.n_recurrent_layers
            for i in range(config.num_hidden_layers)]


def block_passes(config) -> list[int]:
    """How many times each block runs a token: a Dory recurrent block n_recurrent_loops
    times, every other block once. What a block costs a step (its weights read, its cache
    read: benchmark.floors) and scores (shortgpt's Block Influence, depth_mag's magnitude) is
    its passes'."""
    loops = getattr(config, "n_recurrent_loops", 1)
    return [loops if looped else 1 for looped in recurrent_blocks(config)]


def cache_layers(config) -> list[int]:
    """How many cache layers each block holds keys and values in: a Dory recurrent block one
    a loop with recurrent_kv_cache_mode "per_loop" (DoryModel appends deep copies of the
    recurrent blocks' layers for loops 1, 2, ...), one with "last_loop" (its earlier loops
    read through DoryPastReader views, which hold nothing: the last loop writes the one
    layer); every other block one."""
    if getattr(config, "recurrent_kv_cache_mode", "per_loop") == "last_loop":
        return [1] * config.num_hidden_layers
    return block_passes(config)


def lara_mini_layer_types(blocks: int) -> list[str]:
    """A Lara Mini config.json's block kinds as LaraMiniConfig derives them where it gives no
    layer_types: LARA_MINI_PERIOD over the blocks."""
    return [LARA_MINI_PERIOD[i % len(LARA_MINI_PERIOD)] for i in range(blocks)]


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


# The block kinds Granite 4.0's published config.json files name by their older names
# (`layer_types`, or `layers_block_type` as GraniteMoeHybridConfig's attribute_map reads it),
# as transformers' config (5.17 and 5.25) renames them.
GRANITE_HYBRID_KINDS = {"mamba": "linear_attention", "attention": "full_attention"}


def granite_hybrid_layer_types(values: dict[str, Any]) -> Any:
    """A Granite 4.0 config.json's block kinds under transformers' names: its layer_types (or
    layers_block_type) renamed, or, where it gives none, a Mamba-2 mixer in every block, as
    GraniteMoeHybridConfig derives them."""
    kinds = values.get("layer_types") or values.get("layers_block_type")
    if isinstance(kinds, list):
        return [GRANITE_HYBRID_KINDS.get(kind, kind) for kind in kinds]
    blocks = values.get("num_hidden_layers")
    return ["linear_attention"] * (blocks if isinstance(blocks, int) else 0)


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


def bamba_layer_types(values: dict[str, Any]) -> list[str]:
    """A Bamba config.json's block kinds as BambaConfig derives its layers_block_type: attention
    ("full_attention") in the blocks attn_layer_indices lists, a Mamba-2 mixer
    ("linear_attention") in every other one (every block where it lists none)."""
    listed = values.get("attn_layer_indices") or []
    blocks = values.get("num_hidden_layers")
    return ["full_attention" if i in listed else "linear_attention"
            for i in range(blocks if isinstance(blocks, int) else 0)]


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


def lfm3_layer_types(blocks: int) -> list[str]:
    """Lfm3Config's block kinds where a config gives none: of every four blocks, the third full
    attention, the first windowed attention (but block 0), the others short convolutions."""
    return ["full_attention" if i % 4 == 2 else "sliding_attention" if i % 4 == 0 and i > 0
            else "conv" for i in range(blocks)]


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


def kv_heads(config) -> int:
    """The config's KV heads a block: num_key_value_heads, or one per query head where it
    has none, and always in a family whose attention gives every head keys and values of its
    own (`kv_per_query_head`: GPTNeoXConfig and OPTConfig have no such key, and a stray one
    in their config.json builds nothing)."""
    if family(config).kv_per_query_head:
        return config.num_attention_heads
    if getattr(config, "model_type", None) in ("falcon", "gpt_bigcode"):
        # (5.17's FalconConfig has no key; GPTBigCodeConfig's follows multi_query)
        return falcon_kv_heads(config)
    if getattr(config, "model_type", None) == "deepseek_v4":
        # DeepseekV4Attention's one key-value head, whatever num_key_value_heads holds (the
        # class keeps a config.json's value, so config_from_dict does too: this one place)
        return 1
    # (DBRX's attn_config.kv_n_heads)
    return config_value(config, "num_key_value_heads") or config.num_attention_heads


def dense_width(config) -> int | None:
    """A dense block's MLP width: its dense width key's value (Llama 4's dense blocks' own;
    None where the config has no dense width: Qwen3.5-MoE's, every block sparse), or, where
    the family builds a multiple of hidden_size for None or reads no width key
    (`mlp_width_default`: GPT-J's n_inner; BLOOM's and MPT's classes,
    `SparseBlocks.every(None)`), that multiple."""
    layout = family(config)
    key = layout.sparse_blocks.dense_width_key
    # (no key: a stray intermediate_size in a BLOOM or MPT config.json builds nothing)
    width = getattr(config, key, None) if key else None
    if width is None and layout.sparse_blocks.rule == "named":
        # Cohere2MoeMLP: intermediate_size where prefix_dense_intermediate_size is null
        width = config.intermediate_size
    if layout.mlp_width_multiple_key is not None:  # GPT-NeoX-Japanese's int(hidden x multiple)
        return int(config.hidden_size * config_value(config, layout.mlp_width_multiple_key))
    if width is None and layout.mlp_width_default is not None:
        return layout.mlp_width_default * config.hidden_size
    if layout.auto_adjust_ff_dim and width is not None:
        return lfm2_mlp_width(config, width)
    return width


def lfm2_mlp_width(config, width: int) -> int:
    """The width Lfm2MLP builds from intermediate_size (`width`): as it is, or, where
    block_auto_adjust_ff_dim is set, int(2 x width / 3), then, where block_ffn_dim_multiplier
    is not None, int(multiplier x that) rounded up to a multiple of block_multiple_of
    (transformers 5.17 and 5.25 alike; LFM2-1.2B: 12288 -> 8192)."""
    if not config.block_auto_adjust_ff_dim:
        return width
    width = int(2 * width / 3)
    multiplier, multiple = config.block_ffn_dim_multiplier, config.block_multiple_of
    if multiplier is not None:
        width = multiple * ((int(multiplier * width) + multiple - 1) // multiple)
    return width


def default_layer_shape(config: LlamaConfig) -> dict[str, Any]:
    return {
        "num_attention_heads": config.num_attention_heads,
        "num_key_value_heads": kv_heads(config),
        "intermediate_size": dense_width(config),
        "o_proj_bias": o_bias(config),
        "down_proj_bias": mlp_bias(config),
    }


def query_heads_per_block(config) -> list[int | None]:
    """Each block's query heads where its config lists them (Laguna's
    `num_attention_heads_per_layer`, which LagunaDecoderLayer reads; its KV heads are the
    config's), None for each block of a config without such a list."""
    heads = getattr(config, "num_attention_heads_per_layer", None)
    if heads is None:
        return [None] * block_count(config)
    if len(heads) != block_count(config):
        raise PrunebenchError(
            f"config lists {len(heads)} num_attention_heads_per_layer for "
            f"{block_count(config)} blocks: the checkpoint's config.json is inconsistent; "
            "re-download the model or re-run its prune step")
    return list(heads)


LINEAR_ATTENTION_SHAPE = {"num_attention_heads": 0, "num_key_value_heads": 0,
                          "linear_attention": True}


# A Mamba-1 or Mamba-2 block's shape (`Family.mamba_stack`): its one mixer, counted by
# `mamba1_params` or `mamba_params`.
MAMBA1_SHAPE = {"num_attention_heads": 0, "num_key_value_heads": 0, "intermediate_size": 0,
                "o_proj_bias": False, "down_proj_bias": False, "mamba1": True}


def layer_shapes(config: LlamaConfig) -> list[dict[str, Any]]:
    """Per-block shapes; homogeneous configs get the same entry for every block."""
    shapes = getattr(config, "layer_shapes", None)
    if shapes is None and family(config).per_layer_blocks:
        return per_layer_block_shapes(config)  # Gemma 4 (never width-pruned)
    if shapes is None and family(config).one_mixer_blocks:
        return one_mixer_block_shapes(config)  # Nemotron-H (never width-pruned)
    if shapes is None and family(config).griffin_blocks:
        return griffin_shapes(config)  # RecurrentGemma (never width-pruned)
    if shapes is None and getattr(config, "model_type", None) in ("zamba", "zamba2"):
        return zamba_shapes(config)  # (never width-pruned)
    if shapes is None and family(config).block_count_key != "num_hidden_layers":
        # LongCat-Flash's blocks, alike (never width-pruned): each its two latent attentions,
        # two dense MLPs and its shortcut MoE (longcat_flash_block_params)
        return [dict(default_layer_shape(config), sparse_mlp=True)
                for _ in range(block_count(config))]
    if shapes is None and family(config).rwkv_blocks:
        # RWKV's blocks: no heads (no KV cache), channel mixing never width-pruned
        return [{**MAMBA1_SHAPE, "mamba1": False, "rwkv": True}
                for _ in range(block_count(config))]
    if shapes is None and family(config).mamba_stack:
        # Mamba's and Mamba-2's blocks: no heads (no KV cache), no MLP (never width-pruned)
        return [{**MAMBA1_SHAPE} for _ in range(block_count(config))]
    if shapes is None and family(config).mlstm_blocks:
        # xLSTM's blocks: no heads (no KV cache), counted whole (never width-pruned)
        return [{**MAMBA1_SHAPE, "mamba1": False, "mlstm": True}
                for _ in range(block_count(config))]
    if shapes is None:
        if is_moe(config) or any(linear_attention_blocks(config)):
            # Each block's MLP kind (Qwen3-MoE and Qwen2-MoE may mix dense blocks in): the
            # counts and the depth methods' sizes read it; a mixture-of-experts model is never
            # width-pruned, so it never has layer_shapes of its own.
            # Qwen3-Next's Gated DeltaNet blocks: no query or KV heads (no KV cache), their
            # own parameters (block_param_count).
            # GLM-MoE-DSA's "shared" blocks: no indexer (indexer_blocks).
            # Dots 3 Note's blocks: each its own latent attention's values (its sliding ones').
            # Inkling's blocks: each its own heads and head_dim (its windowed ones').
            shapes = [dict(default_layer_shape(config), sparse_mlp=sparse,
                         **({"num_attention_heads": heads} if heads else {}),
                         **(LINEAR_ATTENTION_SHAPE if linear else {}), **window,
                         **({} if indexed or not family(config).attention_indexer
                            else {"indexer": False}), **latent,
                        **({"kv_shared": True} if reusing else {}), **inkling)
                    for sparse, linear, heads, window, indexed, latent, reusing, inkling
                    in zip(sparse_mlp_blocks(config), linear_attention_blocks(config),
                           query_heads_per_block(config), window_block_shapes(config),
                           indexer_blocks(config), latent_block_shapes(config),
                           kv_reusing_blocks(config), inkling_attention_shapes(config))]
            if getattr(config, "model_type", None) == "deepseek_v4":
                for entry, kind in zip(shapes, config.layer_types):
                    entry["compressor"] = kind  # (its compressor by its attention's kind)
            if getattr(config, "model_type", None) == "zaya" and shapes:
                # ZayaRouter builds router_states_scale by index, in every block but block 0
                shapes[0]["router_reads_state"] = False
            return shapes
        shapes = [default_layer_shape(config) for _ in range(block_count(config))]
        if family(config).last_block_dense_bias and shapes:  # GPT-NeoX-Japanese's dense_bias
            shapes[-1]["o_proj_bias"] = True
        if family(config).first_attention_unnormed and shapes:  # ModernBERT-decoder's block 0
            shapes[0]["attention_norm"] = False
        for i in cross_attention_blocks(config):  # (Llama 3.2 Vision's)
            shapes[i]["cross_attention"] = True
        for shape, held in zip(shapes, cache_layers(config)):  # (Dory's looped blocks)
            if held > 1:
                shape["cache_layers"] = held
        return shapes
    if len(shapes) != block_count(config):
        raise PrunebenchError(
            f"config lists {len(shapes)} layer_shapes for {block_count(config)} blocks: "
            "the checkpoint's config.json is inconsistent; re-run its prune step")
    shapes = [dict(default_layer_shape(config), **s) for s in shapes]
    if family(config).first_attention_unnormed and shapes:  # (a width-pruned one's too)
        shapes[0]["attention_norm"] = False
    for i in cross_attention_blocks(config):  # (Llama 3.2 Vision's: kept whole, a width-pruned
        shapes[i]["cross_attention"] = True  # model's too, its list renumbered by depth prunes)
    return shapes


# A latent attention's values that a Dots 3 Note block may hold of its own (per_layer_config).
LATENT_KEYS = ("num_attention_heads", "q_lora_rank", "kv_lora_rank", "qk_nope_head_dim",
               "qk_rope_head_dim", "v_head_dim")


def latent_block_shapes(config) -> list[dict[str, Any]]:
    """Each Dots 3 Note block's latent attention values (`latent`: LATENT_KEYS, read through
    per_layer_config, where its sliding blocks' heads, ranks and widths differ from the
    indexed ones': mla_params, the KV cache's widths); an empty entry for each block of
    another family."""
    n = block_count(config)
    if getattr(config, "model_type", None) != "dots3_note_text":
        return [{} for _ in range(n)]
    return [{"latent": {key: per_layer_value(config, i, key) for key in LATENT_KEYS}}
            for i in range(n)]


def latent_cache_widths(config) -> list[int]:
    """Values each block's latent attention caches a position: its latent (kv_lora_rank) and
    its rotated key (qk_rope_head_dim), its own where its blocks differ (Dots 3 Note's
    `latent_block_shapes`), the config's else."""
    owns = [shape.get("latent") or {} for shape in layer_shapes(config)]
    # (a LongCat-Flash block's two latent attentions: both widths)
    return [(own.get("kv_lora_rank", config.kv_lora_rank)
             + own.get("qk_rope_head_dim", config.qk_rope_head_dim))
            * cache_entries_per_block(config) for own in owns]


def window_block_shapes(config) -> list[dict[str, Any]]:
    """Each block's shape beyond the config's where its window decides it
    (`Family.window_kv_and_sinks`, MiMo-V2-Flash's: a sliding block's KV heads twice the
    config's and a sink logit per query head, a full-attention block's neither); an empty
    entry for each block of another family."""
    if not family(config).window_kv_and_sinks:
        return [{} for _ in range(block_count(config))]
    return [{"num_key_value_heads": 2 * kv_heads(config), "sinks": True} if window
            else {"sinks": False} for window in sliding_windows(config)]


def sliding_windows(config: LlamaConfig) -> list[int | None]:
    """Each block's sliding attention window (a token attends to itself and the window - 1
    positions before it), None for full attention, as transformers' classes read the config:
    per block from `layer_types` where the config has them (Gemma-2's every other block, Qwen's
    `use_sliding_window` blocks), else the config's window for every block (Mistral, Phi-3);
    GPT-Neo's window_size in the blocks its attention_layers names "local"."""
    if getattr(config, "model_type", None) == "gpt_neo":  # its "local" blocks' band
        return [config.window_size if kind == "local" else None
                for kind in config.attention_layers]
    window = getattr(config, "sliding_window", None)
    types = getattr(config, "layer_types", None)
    if types:  # (Inkling's and ZAYA's windowed blocks: "hybrid_sliding")
        return [window if kind in ("sliding_attention", "hybrid_sliding") else None
                for kind in types]
    return [window] * block_count(config)


def head_dim(config: LlamaConfig) -> int:
    if getattr(config, "model_type", None) in ("ergo", "modernbert-decoder"):
        # ErgoAttention's and ModernBertDecoderAttention's, whatever head_dim the config was
        # given (config_from_dict's too)
        return config.hidden_size // config.num_attention_heads
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


def value_head_dim(config) -> int:
    """Each value head's width: the family's `v_head_dim_key` (MiMo-V2-Flash's v_head_dim,
    narrower than its queries' and keys' head_dim), head_dim in every other family."""
    key = family(config).v_head_dim_key
    return getattr(config, key) if key else head_dim(config)


def caches_tokens(shape: dict[str, Any]) -> bool:
    """Whether a block of this shape caches keys and values a token: not one left with no
    heads, nor a Gemma 4 block that reuses another's keys and values, nor a Llama 3.2 Vision
    cross-attention block (skipped on text; with images it caches their states, not tokens')."""
    return (shape["num_attention_heads"] > 0 and not shape.get("kv_shared")
            and not shape.get("cross_attention"))


def kv_head_count(shapes: list[dict[str, Any]]) -> int:
    """KV heads summed over the blocks of these shapes that cache a token (`caches_tokens`),
    a block's as many times as it holds cache layers (a Dory recurrent block's
    `cache_layers`: one a loop with recurrent_kv_cache_mode "per_loop")."""
    return sum(s["num_key_value_heads"] * s.get("cache_layers", 1) for s in shapes
               if caches_tokens(s))


def kv_bytes_of(config, shapes: list[dict[str, Any]], bytes_per_value: int = 2) -> int:
    """Bytes of KV cache one token adds in blocks of these shapes: `kv_bytes_per_token` of
    their KV heads, or, for a Gemma 4 model, whose blocks' heads differ in width, each block's
    keys and values of its own head_dim (none in a block that reuses another's); for a
    Dots 3 Note model, each block's own latent and rotated key (`latent_block_shapes`) and an
    indexer key in each indexed block."""
    if getattr(config, "model_type", None) == "deepseek_v4":  # (by each block's compressor)
        return deepseek_v4_token_bytes(config, [s["compressor"] for s in shapes
                                                if s["num_attention_heads"] > 0],
                                       bytes_per_value)
    if any("latent" in s for s in shapes):  # (Dots 3 Note's: each block's own latent, below)
        return sum(s["latent"]["kv_lora_rank"] + s["latent"]["qk_rope_head_dim"]
                   + (indexer_key_width(config) if s.get("indexer", True) else 0)
                   for s in shapes if s["num_attention_heads"] > 0) * bytes_per_value
    # (Gemma 4's and Inkling's blocks: each its own head_dim)
    if not (family(config).per_layer_blocks or any("head_dim" in s for s in shapes)):
        return kv_bytes_per_token(config, kv_head_count(shapes), bytes_per_value)
    return sum(2 * s["num_key_value_heads"] * s["head_dim"] * bytes_per_value for s in shapes
               if caches_tokens(s))


def kv_bytes_per_token(config: LlamaConfig, kv_heads: int, bytes_per_value: int = 2) -> int:
    """Bytes of KV cache one token adds: a key and a value vector of head_dim per KV head
    (`kv_heads` summed over the blocks); fp16 by default, the benchmarks' dtype on GPU. Latent
    attention (`Family.latent_attention`) caches one latent of kv_lora_rank and one rotated
    key of qk_rope_head_dim a block, whatever its heads (every block keeps all of them), and
    DeepSeek-V3.2's and GLM-MoE-DSA's indexers a key of their own (`indexer_key_width`): in
    each of the `kv_heads` blocks where every block holds one (DeepSeek-V3.2's; a depth prune's
    kept blocks), else in the blocks `indexer_blocks` names (`sizing.plan_blocks` leaves a
    depth prune's KV bytes to the criterion there: it removes "full" or "shared" blocks)."""
    if getattr(config, "model_type", None) == "deepseek_v4":
        # one key-value head a block; `sizing.plan_blocks` asks only where every block's
        # attention is of one kind (`deepseek_v4_token_bytes`: its compressed entries)
        return deepseek_v4_token_bytes(config, config.layer_types[:1] * kv_heads,
                                       bytes_per_value)
    if family(config).latent_attention:
        # (a LongCat-Flash block's two latent attentions: two entries a block)
        blocks = kv_heads // config.num_key_value_heads * cache_entries_per_block(config)
        width = config.kv_lora_rank + config.qk_rope_head_dim
        indexed = blocks if all(indexer_blocks(config)) else sum(indexer_blocks(config))
        return (blocks * width + indexed * indexer_key_width(config)) * bytes_per_value
    indexed = 0
    if family(config).attention_indexer:  # (MiniMax-M3's indexers beside GQA, counted alike)
        blocks = kv_heads // config.num_key_value_heads
        indexed = blocks if all(indexer_blocks(config)) else sum(indexer_blocks(config))
    # (a key of head_dim and a value of value_head_dim: MiMo-V2-Flash's narrower values)
    return (kv_heads * (head_dim(config) + value_head_dim(config))
            + indexed * indexer_key_width(config)) * bytes_per_value


def block_param_count(config: LlamaConfig, shape: dict[str, Any]) -> int:
    """Parameters of one decoder block with the given shape (norm weights included)."""
    if family(config).per_layer_blocks:
        return per_layer_block_params(config, shape)
    if family(config).one_mixer_blocks:
        return one_mixer_block_params(config, shape)
    if family(config).mamba1_blocks:
        return norm_params(config) + mamba1_params(config)  # MambaBlock: norm, mixer
    if family(config).mlstm_blocks:
        return mlstm_params(config)  # xLSTMBlock: its norms, mLSTM layer and FFN
    if family(config).rwkv_blocks:
        return rwkv_block_params(config)
    if family(config).griffin_blocks:
        return griffin_block_params(config, shape)
    if getattr(config, "model_type", None) == "zamba":
        return zamba_block_params(config, shape)
    if getattr(config, "model_type", None) == "inkling_text":
        return inkling_block_params(config, shape)
    if getattr(config, "model_type", None) == "inkling2_text":
        return inkling2_block_params(config, shape)
    if getattr(config, "model_type", None) == "deepseek_v4":
        return deepseek_v4_block_params(config, shape)
    if getattr(config, "model_type", None) == "longcat_flash":
        return longcat_flash_block_params(config)
    if getattr(config, "model_type", None) == "zamba2":
        return zamba2_block_params(config, shape)
    if family(config).mamba2_blocks:
        return norm_params(config) + mamba_params(config)  # Mamba2Block: norm, mixer
    d, hd = config.hidden_size, head_dim(config)
    q, kv = shape["num_attention_heads"] * hd, shape["num_key_value_heads"] * hd
    # values and o_proj's inputs of value_head_dim a head (MiMo-V2-Flash's; head_dim else)
    v = shape["num_key_value_heads"] * value_head_dim(config)
    attn = d * q + d * kv + d * v + shape["num_attention_heads"] * value_head_dim(config) * d
    if family(config).gated_query:
        # Qwen3-Next: q_proj also gives each head's output gate (its bias too)
        attn += d * q + (q if qkv_bias(config) else 0)
    if output_gate(config) and q:
        # AFMoE's gate_proj, Laguna's and LFM3's g_proj: a gate per query channel, or per head
        attn += d * (shape["num_attention_heads"] if output_gate_per_head(config) else q)
    if family(config).attention_experts:
        # JetMoE's mixture of attention heads, never width-pruned: counted whole, its own way
        # (its output bias by o_bias below)
        q = kv = v = 0
        attn = moa_params(config)
    if family(config).latent_attention:
        # DeepSeek-V3's latent attention is never width-pruned: counted whole, its own way.
        q = kv = 0
        own = shape.get("latent")  # (Dots 3 Note's blocks: each its own heads and ranks)
        attn = mla_params(config, own)
        if family(config).attention_indexer and shape.get("indexer", True):
            # DeepSeek-V3.2's every block, GLM-MoE-DSA's "full", Dots 3 Note's indexed ones
            attn += indexer_params(config, (own or {}).get("q_lora_rank"))
    elif family(config).attention_indexer and shape.get("indexer", True):
        attn += indexer_params(config)  # (MiniMax-M3's sparse blocks, beside GQA)
    if qkv_bias(config):
        attn += q + kv + v  # a removed head takes its bias slice with it
    if o_bias(config) or shape["o_proj_bias"]:
        attn += d
    if qk_norm(config) and q:
        # q_norm and k_norm weigh one head_dim vector each, shared by all heads: removing heads
        # leaves them whole; a block with no heads left has no attention module to hold them.
        # Cohere's weigh each head with a vector of its own, which leaves with its head.
        # Phi's are LayerNorms with a bias too (norm_bias: its q/k norms are as its others).
        attn += ((q + kv) if family(config).qk_norm_each_head
                 else 2 * hd * (2 if family(config).norm_bias else 1))
    if shape.get("kv_shared"):
        # Kolibri-1.1's blocks that read another's keys and values: no k_proj, v_proj, k_norm
        attn -= d * kv + d * v + (hd if qk_norm(config) else 0)
    if family(config).qk_norm_whole:
        attn += q + kv  # OLMo-2: one weight per query and per key channel, leaving with its head
    if attention_sinks(config) and q and shape.get("sinks", True):
        # gpt-oss, GraniteSWA: a sink logit a query head (MiMo-V2-Flash's sliding blocks')
        attn += shape["num_attention_heads"]
    if shape.get("linear_attention"):
        attn = linear_attention_params(config)  # Qwen3-Next's Gated DeltaNet instead
    if family(config).mamba_beside_attention:
        attn += mamba_params(config)  # Falcon-H1's Mamba-2 mixer beside the attention
    attn += own_block_params(config)  # (a depth-only family's pieces beyond LLaMA's block)
    attn += gated_norm_params(config, shape.get("sparse_mlp", False))  # (A.X K2's)
    if shape.get("sparse_mlp"):
        # A router (experts x hidden; gpt-oss's with a bias) and each expert's fused gate/up
        # and down projections (3 x hidden x width; gpt-oss's with biases), Qwen2-MoE's shared
        # expert and its gate; the block's norms are added below.
        # (A.X K1's MoE output norm: Family.moe_output_norm)
        norms = norms_per_block(config) + family(config).moe_output_norm
        # (ZAYA's block 0: a router without router_states_scale, `layer_shapes`)
        router = (zaya_router_params(config, reads_state=False)
                  if shape.get("router_reads_state") is False else router_param_count(config))
        return (attn + router + num_experts(config) * expert_param_count(
            config) + shared_expert_params(config) + norms * norm_params(config)
                + (d if family(config).moe_output_bias else 0))  # (JetMoE's output bias)
    m, inputs = shape["intermediate_size"], mlp_input_projections(config)
    mlp = (inputs + 1) * d * m  # the input projections' rows and down_proj's columns
    mlp += activation_params(config)  # (Apertus's xIELU: its module stays at any width)
    if mlp_bias(config):
        mlp += inputs * m
    if mlp_bias(config) or shape["down_proj_bias"]:
        mlp += d
    norms = norms_per_block(config) - (shape.get("attention_norm") is False)
    # (a Llama 3.2 Vision cross-attention block's q_norm / k_norm and its two tanh gates)
    cross = 2 * head_dim(config) + 2 if shape.get("cross_attention") else 0
    return attn + mlp + norms * norm_params(config) + cross


def longcat_flash_block_params(config) -> int:
    """One LongCat-Flash block's parameters (LongcatFlashDecoderLayer): two latent attentions
    (`mla_params`), two dense SwiGLU MLPs of ffn_hidden_size, four RMSNorms, and its shortcut
    MoE's router (`router_param_count`) and n_routed_experts experts (a zero expert holds no
    parameter: transformers 5.25's LongcatFlashExperts)."""
    d = config.hidden_size
    dense = 3 * d * config.ffn_hidden_size
    return (2 * mla_params(config) + 2 * dense + 4 * norm_params(config)
            + router_param_count(config) + num_experts(config) * expert_param_count(config))


def cross_attention_blocks(config) -> list[int]:
    """The blocks of a Llama 3.2 Vision language model that MllamaTextModel builds as
    cross-attention blocks (cross_attention_layers' entries below its depth), which it skips
    on text (`text_blocks`); none in other families."""
    if getattr(config, "model_type", None) != "mllama_text_model":
        return []
    listed = getattr(config, "cross_attention_layers", None) or ()
    return [i for i in range(block_count(config)) if i in listed]


def text_blocks(config) -> list[int]:
    """The blocks a text-only forward runs: every block but a Llama 3.2 Vision model's
    cross-attention blocks (`cross_attention_blocks`), which MllamaTextModel passes over when
    given no image states and none are cached, as on every text forward and every step of a
    text generate. The compiled decoder runs these alone; the width methods and BlockPruner
    prune these alone (no calibration text reaches the others, whose removal would be free to
    every score and take the image pathway away) and width surgery refuses the others."""
    skipped = set(cross_attention_blocks(config))
    return [i for i in range(config.num_hidden_layers) if i not in skipped]


def embedding_rows(config) -> int:
    """Rows of the input embedding: vocab_size, and 8 more in a Llama 3.2 Vision language
    model (MllamaTextModel's rows of the image tokens from vocab_size on, read only by a
    multimodal prompt's <|image|>; the LM head has vocab_size rows)."""
    extra = 8 if getattr(config, "model_type", None) == "mllama_text_model" else 0
    return config.vocab_size + extra


def own_block_params(config) -> int:
    """Parameters of one block of a `Family.depth_only` family beyond LLaMA's block (which
    such a block keeps whole: these families are never width-pruned); 0 for other families.
    DiffLlama: its four lambda vectors, head_dim each (its group norm has no weight). BitNet:
    attn_sub_norm (hidden_size) and ffn_sub_norm (intermediate_size). Ergo: its two residual
    gates, hidden_size each. HY-V4: its attention's output gate (gate_proj, hidden -> heads x
    v_head_dim, no bias) and sink logits (one a head), and its attn_hc and ffn_hc
    (`hyper_connection_params`). Beam: its attention's gate bias, one value a head (its
    gate_proj is AFMoE's `output_gate`). Dory: its queries' and output gate's scales (sqk,
    s_gate: heads x head_dim each), its residual rates (lambda_1, lambda_2: hidden_size each)
    and its MLP channels' scales (suv_gate, suv_up: intermediate_size each)."""
    d, hd = config.hidden_size, head_dim(config)
    model_type = getattr(config, "model_type", None)  # (none: LLaMA's, as `family` reads it)
    if model_type == "diffllama":
        return 4 * hd
    if model_type == "bitnet":
        return d + config.intermediate_size
    if model_type == "ergo":
        return 2 * d  # its attention's and its MLP's residual gates
    if model_type == "beam":
        return config.num_attention_heads  # its attention's gate_bias, one value a head
    if model_type == "hy_v4":
        # its attention's gate_proj and sinks, and its two hyper-connections
        heads = config.num_attention_heads
        return d * heads * config.v_head_dim + heads + 2 * hyper_connection_params(config)
    if model_type == "zaya":
        return zaya_own_block_params(config)
    if model_type == "dory":  # sqk and s_gate (a query channel each), lambda_1 / lambda_2,
        # suv_gate / suv_up (its attention's output gate is AFMoE's `output_gate`)
        return 2 * config.num_attention_heads * hd + 2 * d + 2 * config.intermediate_size
    if model_type == "doge":  # A and dt_proj (KV heads of values -> one score a KV head),
        kv = kv_heads(config)  # the two residual vectors
        return kv + kv * hd * kv + (kv if config.attention_bias else 0) + 2 * d
    return 0


def gated_norm_params(config, sparse: bool) -> int:
    """Parameters of A.X K2's norm gates in one block beyond its RMSNorms' weights
    (AXK2GatedRMSNorm: the norm's output times a sigmoid of a SiLU MLP of it, fc1 hidden ->
    gated_norm_rank and fc2 back, no biases): its input_layernorm's, and its
    post_attention_layernorm's where the block is sparse (a dense block's is a plain RMSNorm);
    0 for other families."""
    if getattr(config, "model_type", None) != "axk2":
        return 0
    return (2 if sparse else 1) * 2 * config.hidden_size * config.gated_norm_rank


def zaya_own_block_params(config) -> int:
    """A ZAYA block's parameters beyond LLaMA's attention and norms and its MoE: the CCA
    projection's two convolutions over the (heads + KV heads) x head_dim query and key channels
    (conv_qk_depthwise: one tap of cca_time0 a channel; conv_qk_grouped: a group a head, each
    output channel over its head's head_dim channels for cca_time1 taps; both biased), the q/k
    norm's key scale (`temp`, one a KV head) and the two ZayaResidualScaling (four vectors of
    hidden each). Its q/k/v rows are LLaMA's (v_proj_current and v_proj_delayed half a value
    each)."""
    channels = (config.num_attention_heads + kv_heads(config)) * head_dim(config)
    convolutions = (channels * config.cca_time0 + channels
                    + channels * head_dim(config) * config.cca_time1 + channels)
    return convolutions + kv_heads(config) + 2 * 4 * config.hidden_size


# Activations that hold learned parameters, by `hidden_act`, and how many each MLP's holds:
# transformers' XIELUActivation (Apertus's xIELU) holds alpha_p and alpha_n, one value each,
# in whichever dense MLP builds it (its beta and eps are buffers, saved but not parameters).
# Scalars of the block: width pruning leaves them whole; depth pruning removes them with it.
ACTIVATION_PARAMS = {"xielu": 2}


def activation_params(config) -> int:
    """Learned parameters of one dense MLP's activation (`ACTIVATION_PARAMS`): 0 for every
    activation but xIELU."""
    return ACTIVATION_PARAMS.get(getattr(config, "hidden_act", None), 0)


def hyper_connection_params(config) -> int:
    """Parameters of one HY-V4 hyper-connection (HYV4HyperConnection, float32): fn, 2 x hc_mult
    mixing weights over the hc_mult streams' concatenated hidden states (pre- and post-
    weights), base (2 x hc_mult) and scale (2); DeepSeek-V4's (DeepseekV4HyperConnection) of
    (2 + hc_mult) x hc_mult mixing weights (its mixing matrix too) and 3 scales."""
    if getattr(config, "model_type", None) == "deepseek_v4":
        # DeepseekV4HyperConnection: pre, post and an hc_mult x hc_mult mixing matrix (comb)
        # from fn, base a mixing weight, a scale each of the three
        mix = (2 + config.hc_mult) * config.hc_mult
        return mix * config.hc_mult * config.hidden_size + mix + 3
    mix = 2 * config.hc_mult
    return mix * config.hc_mult * config.hidden_size + mix + 2


def hyper_head_params(config) -> int:
    """Parameters of HY-V4's HYV4HyperHead (`model.hc_head`, float32), which collapses the
    hc_mult streams before the final norm: hc_fn (hc_mult x hc_mult x hidden), hc_base
    (hc_mult) and hc_scale (1); 0 for other families."""
    if getattr(config, "model_type", None) not in ("hy_v4", "deepseek_v4"):
        return 0  # (DeepSeek-V4's DeepseekV4HyperHead: the same tensors)
    return config.hc_mult * config.hc_mult * config.hidden_size + config.hc_mult + 1


def lm_head_rows(config) -> int:
    """Rows of the LM head, the width of the logits: vocab_size but where the family's
    `head_vocab_key` (Apertus 1.5's `output_vocab_size`) gives a narrower untied head, whose
    rows are the first token ids'; a tied head is the embedding, whatever the key says
    (Apertus1p5TextForCausalLM's tying replaces its narrower head with the whole table)."""
    key = family(config).head_vocab_key
    rows = getattr(config, key, None) if key and not tied_embeddings(config) else None
    return rows or config.vocab_size


def logit_columns(config) -> int:
    """The ids the model scores, the width of its logits: the LM head's rows (`lm_head_rows`),
    or fewer where Inkling's config gives unpadded_vocab_size (InklingForCausalLM drops the
    logits of its head's padded rows; an id past them has no logit to score)."""
    rows = lm_head_rows(config)
    unpadded = (getattr(config, "unpadded_vocab_size", None)
                if getattr(config, "model_type", None) == "inkling_text" else None)
    return min(rows, unpadded) if unpadded else rows


def non_block_param_count(config: LlamaConfig) -> int:
    """Embeddings, final norm and LM head (PhiMoE's with its bias; Gemma 4's per-layer
    inputs; OPT's learned position table, and its final norm only where the config keeps it;
    BLOOM's norm of the embeddings; Zamba's shared transformer block, Zamba2's; HY-V4's hc_head)."""
    f = family(config)
    emb = embedding_rows(config) * config.hidden_size
    # tied: the head is the embedding
    head = 0 if tied_embeddings(config) else lm_head_rows(config) * config.hidden_size
    final = 0 if f.post_ln_blocks or (f.final_norm_removed_key and getattr(
        config, f.final_norm_removed_key, False)) else norm_params(config)
    positions = 0 if f.position_table_offset is None else (
        (config.max_position_embeddings + f.position_table_offset) * config.hidden_size)
    # BLOOM's norm of the embeddings; RWKV's pre_ln (on its first block, whichever that is)
    final += norm_params(config) if f.embedding_norm or f.rwkv_blocks else 0
    final += prediction_head_params(config)
    # (Zamba's shared transformer block, once, while a hybrid block runs it)
    shared = (zamba_shared_params(config) if getattr(config, "model_type", None) == "zamba"
              and any(zamba_hybrid_blocks(config)) else 0)
    # (ZAYA's scale and bias of the embeddings: input_hidden_states_scale / _bias)
    final += 2 * config.hidden_size if getattr(config, "model_type", None) == "zaya" else 0
    final += final_input_params(config)
    if getattr(config, "model_type", None) == "zamba2":  # (its num_mem_blocks of them)
        shared += zamba2_shared_params(config)
    return (emb + head + final + positions + lm_head_bias_params(config)
            + per_layer_input_params(config) + shared + hyper_head_params(config)
            + altup_projection_params(config))


def prediction_head_params(config) -> int:
    """ModernBERT-decoder's prediction head between the final norm and the LM head
    (`Family.prediction_head`): a dense hidden x hidden (its bias by classifier_bias) and a
    norm; none in other families."""
    if not family(config).prediction_head:
        return 0
    d = config.hidden_size
    return d * d + (d if config.classifier_bias else 0) + norm_params(config)


def tied_embeddings(config) -> bool:
    """Whether the LM head is the input embedding: the config's tie_word_embeddings, and never
    for Ergo, whose ErgoConfig holds no such key and whose ErgoForCausalLM builds a head of its
    own (float32 outputs) whatever config.json says; nor for xLSTM, whose xLSTMForCausalLM
    builds its lm_head apart from the embeddings whatever tie_word_embeddings says; nor for
    Inkling, whose InklingTextConfig holds no such key and whose InklingForCausalLM never ties;
    nor for Llama 3.2 Vision's MllamaForCausalLM, which never ties (its embedding has 8 rows
    more than its head); nor for Inkling 2, whose Inkling2ForCausalLM ties nothing (its head
    has unpadded_vocab_size rows)."""
    return (getattr(config, "model_type", None) not in ("ergo", "xlstm", "inkling_text",
                                                        "mllama_text_model", "inkling2_text")
            and bool(config.tie_word_embeddings))


def count_params(config: LlamaConfig) -> int:
    """Exact parameter count from the config alone (closed form, checked against meta models).

    Tied embeddings (`tie_word_embeddings`) are one tensor and counted once, as
    `model.parameters()` and the published totals count them."""
    family(config)  # another model type: a clear error, not a count of the wrong layout
    return non_block_param_count(config) + sum(
        block_param_count(config, s) for s in layer_shapes(config))
