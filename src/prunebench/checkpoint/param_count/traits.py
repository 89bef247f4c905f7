"""A config read through its family (`family`): what its blocks hold (biases, norms,
query / key norms, gates, sinks; `kv_heads`, `head_dim`, the MLP's width) and which block is of
which kind (sparse, linear attention, hybrid, cross-attention, windowed, reusing another's keys
and values).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prunebench import PrunebenchError

from .defaults import config_value
from .families import FAMILIES, Family, block_count, num_experts
from .releases import untaken_wrapper

if TYPE_CHECKING:
    from transformers import LlamaConfig


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


def sparse_mlp_blocks(config) -> list[bool]:
    """Per block, whether its MLP is a mixture of experts, as the family's decoder layer
    decides it (`Family.sparse_blocks`): none in a family without experts."""
    if not is_moe(config):
        return [False] * block_count(config)
    return family(config).sparse_blocks.of(config)


def linear_attention_blocks(config) -> list[bool]:
    """Per block, whether it is one of Qwen3-Next's or Qwen3.5's Gated DeltaNet blocks (or
    Granite 4.0's Mamba-2 ones: `layer_types` "linear_attention"; LFM2's short convolutions:
    "conv"); False for every block of the other families."""
    if not family(config).linear_attention:
        return [False] * block_count(config)
    if family(config).griffin_blocks:  # (RecurrentGemma's RG-LRU blocks)
        return [kind == "recurrent" for kind in griffin_kinds(config)]
    return [kind in ("linear_attention", "conv") for kind in config.layer_types]


def zamba_hybrid_blocks(config) -> list[bool]:
    """Per block, whether a Zamba block is a hybrid one (layers_block_type "hybrid")."""
    return [kind == "hybrid" for kind in config.layer_types]


def zamba2_hybrid_ids(config) -> list[int]:
    """A Zamba2 model's hybrid blocks (layers_block_type "hybrid", Zamba2Config's
    hybrid_layer_ids): hybrid block j runs shared block j mod num_mem_blocks and reads its
    adapters by j (`zamba2_removal_problem`)."""
    return [i for i, kind in enumerate(config.layer_types) if kind == "hybrid"]


def griffin_kinds(config) -> list[str]:
    """Each RecurrentGemma block's kind, "recurrent" or "attention": block_types cycled over
    the blocks, as RecurrentGemmaConfig's layers_block_type reads it (5.25 names the kinds
    linear_attention / sliding_attention there; 5.17 by block_types' own words)."""
    kinds = list(config.block_types)
    return [kinds[i % len(kinds)] for i in range(block_count(config))]


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
    if getattr(config, "model_type", None) == "qwen4_exp_text":  # (every attention block's)
        return [kind != "linear_attention" for kind in config.layer_types]
    if getattr(config, "model_type", None) == "minimax_m3_vl_text":  # (its sparse blocks)
        return [kind == MINIMAX_M3_SPARSE for kind in config.layer_types]
    kinds = getattr(config, "indexer_types", None) or ["full"] * block_count(config)
    return [kind == "full" for kind in kinds]


# The layer_types entry of a MiniMax-M3 block whose attention holds an indexer (MiniMaxM3VL-
# Attention builds one there, and transformers' caches a layer of its own to keep its keys).
MINIMAX_M3_SPARSE = "minimax_m3_sparse"


def attention_sinks(config) -> bool:
    """Whether each attention holds a learned sink logit per query head (gpt-oss, Granite-SWA,
    GraniteMoE-SWA), which PyTorch's SDPA kernels do not compute: the model runs matmul +
    softmax attention."""
    return family(config).attention_sinks


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
    return [i for i in range(block_count(config)) if i not in skipped]
