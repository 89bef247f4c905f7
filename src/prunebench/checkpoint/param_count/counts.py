"""Exact parameter counts from a config alone (closed form): each block's shape
(`layer_shapes`), its parameters (`block_param_count`), those outside the blocks
(`non_block_param_count`) and the model's (`count_params`); the KV cache a token adds
(`kv_bytes_per_token`, `kv_bytes_of`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prunebench import PrunebenchError

from .families import block_count, num_experts
from .traits import (attention_sinks, cache_entries_per_block, cross_attention_blocks, dense_width,
                     family, head_dim, indexer_blocks, is_moe, kv_heads, kv_reusing_blocks,
                     linear_attention_blocks, mlp_bias, mlp_input_projections, norm_params,
                     norms_per_block, o_bias, output_gate, output_gate_per_head, qk_norm, qkv_bias,
                     sparse_mlp_blocks, value_head_dim, zamba_hybrid_blocks)
from .shapes import (LINEAR_ATTENTION_SHAPE, MAMBA1_SHAPE, activation_params,
                     altup_projection_params, deepseek_v4_block_params, deepseek_v4_token_bytes,
                     expert_param_count, final_input_params, gated_norm_params,
                     griffin_block_params, griffin_shapes, hyper_head_params, indexer_key_width,
                     indexer_params, inkling2_block_params, inkling_attention_shapes,
                     inkling_block_params, latent_block_shapes, linear_attention_params,
                     longcat_flash_block_params, mamba1_params, mamba_params, mla_params,
                     mlstm_params, moa_params, one_mixer_block_params, one_mixer_block_shapes,
                     own_block_params, per_layer_block_params, per_layer_block_shapes,
                     per_layer_input_params, ple_ranks, prediction_head_params,
                     qwen4_exp_block_params, router_param_count,
                     rwkv_block_params, shared_expert_params, window_block_shapes,
                     zamba2_block_params, zamba2_shared_params, zamba_block_params, zamba_shapes,
                     zamba_shared_params, zaya_router_params)

if TYPE_CHECKING:
    from transformers import LlamaConfig


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


def indexer_key_values(config) -> int:
    """Values the model's indexers cache a position, over its blocks: `indexer_key_width` in
    each block that holds one (`indexer_blocks`: a GLM-MoE-DSA "shared" block caches none)."""
    return sum(indexer_blocks(config)) * indexer_key_width(config)


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
            for entry, rank in zip(shapes, ple_ranks(config)):
                if rank is not None:  # (a Qwen4-Exp block's per-layer embedding, its table's
                    entry["ple_rank"] = rank  # rows by its rank: qwen4_exp_block_params)
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


def latent_cache_widths(config) -> list[int]:
    """Values each block's latent attention caches a position: its latent (kv_lora_rank) and
    its rotated key (qk_rope_head_dim), its own where its blocks differ (Dots 3 Note's
    `latent_block_shapes`), the config's else."""
    owns = [shape.get("latent") or {} for shape in layer_shapes(config)]
    # (a LongCat-Flash block's two latent attentions: both widths)
    return [(own.get("kv_lora_rank", config.kv_lora_rank)
             + own.get("qk_rope_head_dim", config.qk_rope_head_dim))
            * cache_entries_per_block(config) for own in owns]


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
    if getattr(config, "model_type", None) == "qwen4_exp_text":
        return qwen4_exp_block_params(config, shape)
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


def embedding_rows(config) -> int:
    """Rows of the input embedding: vocab_size, and 8 more in a Llama 3.2 Vision language
    model (MllamaTextModel's rows of the image tokens from vocab_size on, read only by a
    multimodal prompt's <|image|>; the LM head has vocab_size rows)."""
    extra = 8 if getattr(config, "model_type", None) == "mllama_text_model" else 0
    return config.vocab_size + extra


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
    # (no final norm: OpenAI GPT's blocks end in theirs; Qwen4-Exp's hyper_connection_mixer
    # collapses the streams instead, hyper_head_params)
    final = 0 if f.post_ln_blocks or getattr(config, "model_type", None) == "qwen4_exp_text" or (
        f.final_norm_removed_key and getattr(config, f.final_norm_removed_key, False)
    ) else norm_params(config)
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
