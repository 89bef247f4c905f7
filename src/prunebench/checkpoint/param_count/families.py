"""The family table: what each supported model family's decoder holds beyond the LLaMA
layout (`Family`, `FAMILIES`, by model_type), which blocks of a mixture of experts are sparse
(`SparseBlocks`, with the readers of their config keys: `num_experts`, `period_of`,
`moe_layer_range`) and what shared expert they hold (`SharedExpert`).

The families differ, for counting and surgery, only in which projections carry biases,
whether attention normalises queries and keys (per head, or over the whole projection), how
many norms a block has, whether q/k/v and gate/up are packed into one module each and whether
the MLP has a gate at all (`FAMILIES`). Tied input and output
embeddings (`tie_word_embeddings`, e.g. the small Qwen2.5 models) are one tensor, counted once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prunebench import PrunebenchError

from .defaults import config_value


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
    # Qwen4ExpTextDecoderLayer (the language model of Qwen4ExpForConditionalGeneration,
    # transformers 5.23 on: RELEASE_REASONS): Qwen3.5-MoE's two token mixers, its indexed
    # blocks' gated attention holding a QSA indexer (index_qk_proj, q / k layernorms:
    # `attention_indexer`, `indexer_blocks`), and Qwen3-Next's sparse MLP, but no norms of
    # LLaMA's: hc_count residual streams, each sublayer reading them through a gated residual
    # of its own, collapsed by hyper_connection_mixer (no final norm); the blocks
    # ple_layer_ids lists add a per-layer n-gram embedding whose table's rows follow the
    # block's rank in that list (`qwen4_exp_block_params`, `ple_sources`).
    "qwen4_exp_text": Family("Qwen4ExpForCausalLM", "Qwen4ExpTextConfig", None, None, None,
                             True, norm_plus_one=True,
                             moe_intermediate_key="moe_intermediate_size",
                             shared_expert=SharedExpert.gated(
                                 "shared_expert_intermediate_size"),
                             linear_attention=True, gated_query=True, attention_indexer=True,
                             min_transformers="5.23.0"),
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


def block_count(config) -> int:
    """The decoder's blocks (`model.model.layers`), what depth pruning removes: the config's
    num_hidden_layers, or its family's `block_count_key` where that counts them otherwise
    (LongCat-Flash's num_layers: its num_hidden_layers, twice as many, counts the latent
    attentions). A config of no family here reads num_hidden_layers."""
    f = FAMILIES.get(getattr(config, "model_type", None) or "llama")
    return getattr(config, f.block_count_key if f else "num_hidden_layers")


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
