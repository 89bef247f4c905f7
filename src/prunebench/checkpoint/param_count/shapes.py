"""Per-family pieces of a block beyond LLaMA's, their shapes, parameters and state: linear
attention (Gated DeltaNet, KDA, lightning, short convolutions), Mamba-1 and Mamba-2 mixers,
Zamba's and Zamba2's shared blocks, xLSTM, Griffin, RWKV, Nemotron-H, Gemma 3n / Gemma 4's
per-layer blocks, experts and routers, latent attention, attention experts, indexers, Inkling,
DeepSeek-V4, hyper-connections, Qwen4-Exp's gated residuals and per-layer n-gram embeddings.
"""

from __future__ import annotations

import functools
import math
from types import SimpleNamespace
from typing import Any, NamedTuple

from prunebench import FamilyUnsupported

from .defaults import config_value
from .families import block_count, num_experts
from .traits import (family, griffin_kinds, head_dim, is_moe, kv_heads, kv_sources,
                     linear_attention_blocks, mlp_bias, mlp_input_projections, norm_params,
                     sliding_windows, zamba2_hybrid_ids, zamba_hybrid_blocks)


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


def nemotron_h_pattern(kinds: list[str]) -> str:
    """Nemotron-H's block kinds as its hybrid_override_pattern writes them ("M-M*-")."""
    return "".join(next((c for c, k in NEMOTRON_H_PATTERN.items() if k == kind), "?")
                   for kind in kinds)


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


def indexer_key_width(config) -> int:
    """Values a DeepSeek-V3.2 block caches for its indexer a position (one key of
    index_head_dim, DynamicIndexedLayer's); 0 for a family without an indexer."""
    if getattr(config, "model_type", None) == "qwen4_exp_text":  # (its QSA indexer's key)
        return config.indexer_head_dim
    return config.index_head_dim if family(config).attention_indexer else 0


LINEAR_ATTENTION_SHAPE = {"num_attention_heads": 0, "num_key_value_heads": 0,
                          "linear_attention": True}


# A Mamba-1 or Mamba-2 block's shape (`Family.mamba_stack`): its one mixer, counted by
# `mamba1_params` or `mamba_params`.
MAMBA1_SHAPE = {"num_attention_heads": 0, "num_key_value_heads": 0, "intermediate_size": 0,
                "o_proj_bias": False, "down_proj_bias": False, "mamba1": True}


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


def window_block_shapes(config) -> list[dict[str, Any]]:
    """Each block's shape beyond the config's where its window decides it
    (`Family.window_kv_and_sinks`, MiMo-V2-Flash's: a sliding block's KV heads twice the
    config's and a sink logit per query head, a full-attention block's neither); an empty
    entry for each block of another family."""
    if not family(config).window_kv_and_sinks:
        return [{} for _ in range(block_count(config))]
    return [{"num_key_value_heads": 2 * kv_heads(config), "sinks": True} if window
            else {"sinks": False} for window in sliding_windows(config)]


def longcat_flash_block_params(config) -> int:
    """One LongCat-Flash block's parameters (LongcatFlashDecoderLayer): two latent attentions
    (`mla_params`), two dense SwiGLU MLPs of ffn_hidden_size, four RMSNorms, and its shortcut
    MoE's router (`router_param_count`) and n_routed_experts experts (a zero expert holds no
    parameter: transformers 5.25's LongcatFlashExperts)."""
    d = config.hidden_size
    dense = 3 * d * config.ffn_hidden_size
    return (2 * mla_params(config) + 2 * dense + 4 * norm_params(config)
            + router_param_count(config) + num_experts(config) * expert_param_count(config))


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
    (hc_mult) and hc_scale (1); Qwen4-Exp's hyper_connection_mixer (a gated residual without
    block_inject_weight, `gated_residual_params`: its model has no final norm); 0 for other
    families."""
    if getattr(config, "model_type", None) == "qwen4_exp_text":
        return gated_residual_params(config, inject=False)
    if getattr(config, "model_type", None) not in ("hy_v4", "deepseek_v4"):
        return 0  # (DeepSeek-V4's DeepseekV4HyperHead: the same tensors)
    return config.hc_mult * config.hc_mult * config.hidden_size + config.hc_mult + 1


def prediction_head_params(config) -> int:
    """ModernBERT-decoder's prediction head between the final norm and the LM head
    (`Family.prediction_head`): a dense hidden x hidden (its bias by classifier_bias) and a
    norm; none in other families."""
    if not family(config).prediction_head:
        return 0
    d = config.hidden_size
    return d * d + (d if config.classifier_bias else 0) + norm_params(config)


def gated_residual_params(config, inject: bool = True) -> int:
    """Parameters of one Qwen4-Exp gated residual (Qwen4ExpTextGatedResidual) over hc_count
    streams of hidden_size: its grouped RMSNorm (hc_count x hidden), the low-rank mix
    (input_mix_weight_down to hc_lowrank and input_mix_weight_up back) and, in a block's two
    (`inject`; not hyper_connection_mixer's), block_inject_weight (a weight a stream over
    the streams' concatenated hidden states); no biases."""
    streams = config.hc_count * config.hidden_size
    return (streams + 2 * streams * config.hc_lowrank
            + (config.hc_count * streams if inject else 0))


@functools.lru_cache(maxsize=64)
def _primes_from(start: int, count: int) -> tuple[int, ...]:
    """The first `count` primes from `start` on, in order (trial division, as Qwen4-Exp's
    hashed head sizes are found)."""
    primes: list[int] = []
    candidate = max(start, 2)
    while len(primes) < count:
        if candidate == 2 or (candidate % 2 and all(
                candidate % d for d in range(3, math.isqrt(candidate) + 1, 2))):
            primes.append(candidate)
        candidate += 1
    return tuple(primes)


def ple_table_shape(config, rank: int) -> tuple[int, int]:
    """Rows and width of the n-gram embedding table of a Qwen4-Exp block whose place in
    ple_layer_ids is `rank` (Qwen4ExpTextNGramEmbedding): its (ngram_size - 1) x
    heads_per_ngram hashed heads are the primes from ngram_vocab_size_base on, the rank-th run
    of that many (the first block's the first ones), its rows their sum padded up to a multiple
    of make_ngram_vocab_size_divisible_by, each ple_embed_dim / heads wide. Each table's rows
    follow its rank: a kept table reloads only at its own rank (`ple_sources`)."""
    heads = (config.ngram_size - 1) * config.heads_per_ngram
    sizes = _primes_from(config.ngram_vocab_size_base, heads * (rank + 1))[heads * rank:]
    divisor = config.make_ngram_vocab_size_divisible_by
    return math.ceil(sum(sizes) / divisor) * divisor, config.ple_embed_dim // heads


def ple_params(config, rank: int) -> int:
    """Parameters of a Qwen4-Exp block's per-layer embedding (Qwen4ExpTextPLELayer) at `rank`
    in ple_layer_ids: its n-gram table (`ple_table_shape`), key_proj (ple_embed_dim -> hc_count
    x hidden) and value_proj (-> hidden), its three grouped RMSNorms (hc_count x hidden each)
    and the dilated depthwise conv1d over the streams (ple_conv_kernel_size taps a channel); no
    biases. Its hash buffers are no parameters."""
    rows, width = ple_table_shape(config, rank)
    streams = config.hc_count * config.hidden_size
    return (rows * width + config.ple_embed_dim * (streams + config.hidden_size)
            + 3 * streams + streams * config.ple_conv_kernel_size)


def qwen4_exp_block_params(config, shape: dict[str, Any]) -> int:
    """Parameters of one Qwen4-Exp block (Qwen4ExpTextDecoderLayer): its token mixer, a Gated
    DeltaNet (`linear_attention_params`) or the gated attention (q_proj twice as wide for the
    output gate, q / k norms of head_dim, biases by attention_bias) with its QSA indexer
    (index_qk_proj to indexer_n_heads + indexer_kv_heads heads of indexer_head_dim, its q / k
    layernorms); Qwen3-Next's sparse MLP (router, experts, the gated shared expert); its two
    gated residuals (`gated_residual_params`) and, where ple_layer_ids lists it, its per-layer
    embedding at its rank there (`ple_params`, shape's `ple_rank`). No norm of LLaMA's."""
    d = config.hidden_size
    if shape.get("linear_attention"):
        mixer = linear_attention_params(config)
    else:
        hd = head_dim(config)
        q, kv = config.num_attention_heads * hd, kv_heads(config) * hd
        index = config.indexer_head_dim
        mixer = (d * 2 * q + 2 * d * kv + q * d + 2 * hd
                 + d * (config.indexer_n_heads + config.indexer_kv_heads) * index + 2 * index
                 + ((2 * q + 2 * kv + d) if config.attention_bias else 0))
    moe = (router_param_count(config) + num_experts(config) * expert_param_count(config)
           + shared_expert_params(config))
    rank = shape.get("ple_rank")
    return (mixer + moe + 2 * gated_residual_params(config)
            + (ple_params(config, rank) if rank is not None else 0))


def ple_ranks(config) -> list[int | None]:
    """Each Qwen4-Exp block's place in ple_layer_ids (one-indexed blocks), None where it holds
    no per-layer embedding; None for every block of other families."""
    if getattr(config, "model_type", None) != "qwen4_exp_text":
        return [None] * block_count(config)
    listed = sorted(set(getattr(config, "ple_layer_ids", None) or []))
    return [listed.index(i + 1) if i + 1 in listed else None for i in range(block_count(config))]


def ple_state(config) -> tuple[int, int]:
    """What one sequence's Qwen4-Exp cache keeps of its per-layer embeddings, whatever its
    length, summed over the PLE blocks: values in the model's dtype (each block's dilated
    convolution's last (ple_conv_kernel_size - 1) x ngram_size inputs over hc_count x hidden
    channels) and int64 token ids (its n-gram embedding's last ngram_size - 1); (0, 0) in other
    families."""
    blocks = sum(rank is not None for rank in ple_ranks(config))
    if not blocks:
        return 0, 0
    width = (config.ple_conv_kernel_size - 1) * config.ngram_size
    return (blocks * config.hc_count * config.hidden_size * width,
            blocks * (config.ngram_size - 1))


def indexer_positions(config) -> int:
    """The int64 values a position adds to one sequence's Qwen4-Exp cache besides its keys:
    the three M-RoPE positions its first indexed block keeps for every indexer (none without an
    indexed block, and in other families)."""
    if getattr(config, "model_type", None) != "qwen4_exp_text":
        return 0
    return 3 if any(kind != "linear_attention" for kind in config.layer_types) else 0
