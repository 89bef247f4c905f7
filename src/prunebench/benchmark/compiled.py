"""The `compiled` backend: greedy or sampled decoding with a static KV cache, written out by hand.

HF `generate` at batch 1 is bound by Python and kernel launches (on an H100 it reaches about 12%
of the bandwidth floor, docs/benchmarks.md). This module runs the same LLaMA forward directly over
the HF modules' weights with a KV cache allocated once, so the decode step has fixed shapes and
can be replayed as one CUDA graph, optionally after torch.compile has fused its elementwise work;
what remains is what the hardware costs.

A batch-1 decode step is bound by reading the weights, so the step reads them in as few, large
GEMVs as possible: each block's q/k/v projections are one fused [q + 2 kv, d] weight and its
gate/up projections one fused [2 m, d] weight, built once per block. The HF modules' parameters
are then re-pointed at row views of the fused tensors, so no second copy of the weights exists
and the HF model (prefill, `hf` backend) keeps working on the same memory.

Blocks are read one by one, so per-block widths (width pruning), blocks with zero heads (their
attention output is the o_proj bias), blocks with a zero-channel MLP (the down_proj bias) and
shallower models (depth pruning) all just work: each block gets a cache of its own KV width, and
zero-head blocks get none.

The families differ only in per-block pieces, all read from the HF modules: q/k/v (and o_proj)
biases (Qwen2) are fused like the weights; Qwen3's per-head q/k RMSNorm (one head_dim weight
shared by every head) is applied to the projected heads before the rotation, as HF does; rope
scaling (LLaMA-3's) comes with the rotary tables of the model's own rotary module. Gemma's
layout comes from its family's flags (param_count.Family): scaled embeddings, norms weighing by
1 + weight, and (Gemma-2) a norm on each sublayer's output; Gemma-2's query scale and soft caps
on the attention scores and the logits come from the modules and the config, and soft-capped
scores rule out SDPA (matmul + softmax, or flex, attend instead: benchmark.attention).
Sliding-window attention (Mistral-7B-v0.1, every other Gemma-2 block, Qwen with
`use_sliding_window`) is a mask per window over the same static cache: a block attends to the
window's last positions only, as transformers masks them (`sliding_windows`). ALiBi (BLOOM,
MPT) replaces the rotation by a bias on each head's scores, its slope as the model's own
builder computes it (`alibi_slopes`): the mask becomes a float one of a row per head, the
biases where the causal mask keeps a position and -inf elsewhere (`StaticDecoder.alibi_biases`).

The step is written without host synchronisation (no `.item()`, no data-dependent shapes): the
position is a device tensor, the cache write is an indexed store, and attention reads the whole
static cache under a mask of the positions filled so far.

Sampling (prunebench.benchmark.sampling, the same top-k / top-p / temperature as the `hf` backend) stays
on the device too: the step takes a tensor of Exponential(1) noise drawn from the decoder's own
generator and returns the sampled token as a device tensor, which the next step reads directly.
The noise is drawn outside the compiled function (dynamo does not trace a generator) but inside
our CUDA graph, which replays the draw from the generator's advancing state.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from prunebench import PrunebenchError, projections
from prunebench.benchmark import CUDA_ONLY_MODES
from prunebench.benchmark.attention import (check_softcap_attention, float32_attention,
                                            sink_attention,
                                            softcapped_attention)
from prunebench.benchmark.fused_block import (Block, detach_or_none, norm_eps, norm_style,
                                              norm_weight, pairwise_table, rms_norm, soft_cap)
from prunebench.checkpoint.param_count import (context_length, family, parallel_block,
                                               refuse_moe, text_blocks)
from prunebench.checkpoint.param_count import sliding_windows as param_sliding_windows
from prunebench.modeling import final_norm
from prunebench.benchmark.sampling import Sampling, exponential_noise, sample

log = logging.getLogger(__name__)

# How the decode step runs ("auto": "cuda-graph" on CUDA, "eager" elsewhere):
#   eager           op by op
#   cuda-graph      captured once as a CUDA graph by us, replayed every step
#   compile-graph   torch.compile (default inductor: fused elementwise kernels), then our graph
#   autotune-graph  torch.compile(mode="max-autotune-no-cudagraphs"), then our graph
#   reduce-overhead torch.compile(mode="reduce-overhead") (inductor's own CUDA graphs)
#   compile         torch.compile(**compile_kwargs), no graph of ours
MODES = ("auto", "eager", "cuda-graph", "compile-graph", "autotune-graph", "reduce-overhead",
         "compile")
GRAPH_MODES = ("cuda-graph", "compile-graph", "autotune-graph")
# The decoder's own attention implementations: PyTorch's SDPA kernels, matmul + softmax, or
# flex_attention (a kernel generated by torch.compile; compile modes only on CUDA).
DECODER_ATTENTION = ("sdpa", "eager", "flex")
COMPILE_KWARGS = {
    "compile-graph": {"fullgraph": True},
    "autotune-graph": {"mode": "max-autotune-no-cudagraphs", "fullgraph": True},
    "reduce-overhead": {"mode": "reduce-overhead", "fullgraph": True},
    "compile": {"mode": "reduce-overhead", "fullgraph": True},
}

# The cache length is padded so the attention mask's last dim is aligned (memory-efficient
# SDPA otherwise pads the mask on every call); padded positions are always masked out.
CACHE_ALIGN = 16


# --------------------------------------------------------------------------- the decoder

def sliding_windows(model: nn.Module, max_seq_len: int) -> list[int | None]:
    """Each block's sliding attention window (param_count.sliding_windows: a token attends to
    itself and the window - 1 before it, as transformers masks it), or None for full attention,
    which a window at least `max_seq_len` long is the same as."""
    return [window if window is not None and window < max_seq_len else None
            for window in param_sliding_windows(model.config)]


def rotary_kinds(model: nn.Module) -> list[str | None]:
    """Each block's kind of rotary table: its layer type where the model's rotary module keeps
    one table per layer type (Gemma-3: `rotary_emb(x, positions, layer_type)`), its rotary
    base where the model keeps a rotary module per base (GraniteSWA's `rotary_embs`, by
    `layer_rope_theta`: "theta_<base>"; a NoPE block's, base 0, None: its `rotary_emb`'s table,
    which it does not apply), else None (one table for every block, or none at all: OPT's
    learned positions)."""
    if getattr(model.model, "rotary_embs", None) is not None:
        return [base_kind(base) if base else None for base in model.config.layer_rope_theta]
    if getattr(getattr(model.model, "rotary_emb", None), "layer_types", None) is None:
        return [None] * len(projections.decoder(model).layers)
    return list(model.config.layer_types)


def untabled_kinds(model: nn.Module) -> set[str]:
    """The layer types the model's rotary module holds no table for, whose blocks do not
    rotate (Cohere Compass's of rope_parameters null: its module keeps a table only for the
    kinds with an entry, `rope_type` by kind; Gemma-3's keeps one for every kind)."""
    rope_types = getattr(getattr(model.model, "rotary_emb", None), "rope_type", None)
    if not isinstance(rope_types, dict):
        return set()
    return {kind for kind in rotary_kinds(model) if kind is not None and kind not in rope_types}


def rotary_tables(model: nn.Module, kind: str | None, x: torch.Tensor,
                  positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The cos and sin tables of a kind of rotary table (`rotary_kinds`) at `positions` [1, T],
    from the model's own rotary module of that kind."""
    by_base = getattr(model.model, "rotary_embs", None)
    if kind is not None and by_base is not None:  # GraniteSWA: the module of that base
        rotary = next(r for r in by_base
                      if base_kind(r.config.rope_parameters["rope_theta"]) == kind)
        return rotary(x, positions)
    return model.model.rotary_emb(x, positions, *([kind] if kind else []))


def base_kind(base: float) -> str:
    """The kind of rotary table (`rotary_kinds`) of a GraniteSWA block of rotary base `base`,
    a buffer name's suffix ("theta_10000_0")."""
    return f"theta_{float(base)}".replace(".", "_")


def alibi_slopes(model: nn.Module) -> tuple[torch.Tensor, bool]:
    """An ALiBi model's slope for each head ([heads], float32) as its own builder computes them
    from its head count, and whether its biases are measured from the last key (MPT's) rather
    than from the first (BLOOM's). BloomModel's build_alibi_tensor gives slope x key position
    (read at position 1: the slope itself; the closest power of two below the head count,
    then every other slope of the next one); MptModel's build_mpt_alibi_tensor (forward's
    alibi_bias_max of 8, the head count rounded up to a power of two) gives slope x (key - last
    key) (read at the key before the last: minus the slope). Both multiply in float32, exactly
    so for a small integer, so these are the builders' slopes to the bit."""
    inner = projections.decoder(model)
    heads, device = inner.num_heads, model.get_input_embeddings().weight.device
    with torch.no_grad():
        if hasattr(inner, "build_mpt_alibi_tensor"):
            return -inner.build_mpt_alibi_tensor(heads, 2, device=device)[:, 0, 0].float(), True
        ones = torch.ones(1, 2, dtype=torch.long, device=device)
        return inner.build_alibi_tensor(ones, heads, torch.float32)[:, 0, 1], False


def check_alibi(model: nn.Module, max_seq_len: int, head_dim: int) -> None:
    """Refuse what the ALiBi biases cannot be added to as transformers adds them: a block with
    another head count than the one the slopes are computed from (the model's: heads removed
    by hand, since prunebench's width methods remove an ALiBi model's MLP channels alone),
    whose heads would take another model's slopes; a cell past MPT's max_seq_len, the length of the table MptModel builds, past
    which transformers' model cannot run either (BLOOM's are computed for any length)."""
    heads = projections.decoder(model).num_heads
    for i, layer in enumerate(projections.decoder(model).layers):
        held = projections.attention_heads(layer.self_attn, head_dim)[0]
        if held != heads:
            raise PrunebenchError(
                f"block {i} of this {model.config.model_type} model holds {held} attention heads "
                f"and its ALiBi slopes are computed for {heads} (the model's head count), so its "
                "heads would attend with another model's slopes: prunebench removes no heads of "
                "an ALiBi model (depth pruning and the width methods keep every head); "
                "benchmark the model as transformers builds it")
    limit = context_length(model.config)
    if limit is not None and max_seq_len > limit:
        raise PrunebenchError(
            f"this {model.config.model_type} model's ALiBi table holds {limit} positions "
            f"(max_seq_len) and this benchmark cell runs to {max_seq_len} tokens, past which "
            "transformers' model cannot run either: use shorter token configs")


def sincos_table(model: nn.Module) -> torch.Tensor:
    """GPT-J's sin / cos table ([n_positions, rotary_dim]: the sines, then the cosines), held by
    its rotary module (transformers 5.25) or by every attention (5.17)."""
    return next(b for name, b in model.named_buffers() if name.endswith("embed_positions"))


def sincos_tables(model: nn.Module, positions: torch.Tensor,
                  dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """GPT-J's cos and sin tables at `positions` ([1, positions, rotary_dim]) as its attention
    applies them: the table's rows in the model's dtype, each sine and cosine repeated for the
    two dimensions of its pair (apply_rotary_pos_emb's repeat_interleave)."""
    sin, cos = sincos_table(model)[positions].to(dtype).chunk(2, dim=-1)
    return tuple(t.repeat_interleave(2, dim=-1).unsqueeze(0) for t in (cos, sin))


def position_table(model: nn.Module, rows: int, dtype: torch.dtype) -> torch.Tensor:
    """The rows of absolute positions added to the embeddings, position 0 first: OPT's learned
    table past its offset (GPT-2's wpe, of none); XGLM's sinusoidal table made for `rows`
    positions past its offset by the module's own get_embedding (float32, its pad_token_id row
    zeroed) and cast to the model's dtype, as the module makes its longer tables; CTRL's first
    `rows` rows of its fixed buffer (`check_static_rope` refuses a cell past them)."""
    buffer = family(model.config).position_buffer
    if buffer:  # CTRL's fixed rows, cast to the embeddings' dtype as CTRLModel casts them
        return getattr(projections.decoder(model), buffer)[:rows].to(dtype=dtype)
    positions = projections.decoder(model).embed_positions
    if not family(model.config).sinusoidal_positions:
        return positions.weight.detach()[family(model.config).position_table_offset:]
    table = positions.get_embedding(rows + positions.offset, positions.embedding_dim,
                                    positions.padding_idx)
    return table[positions.offset:].to(device=positions.weights.device, dtype=dtype)


def _suffix(kind: str | None) -> str:
    """The buffer-name suffix of a kind of rotary table ("cos", "cos_full_attention")."""
    return "" if kind is None else f"_{kind}"


# Rotary types whose frequencies HF recomputes from the current sequence length once it passes
# the model's original context: the decoder's tables, made once, would be those of the start.
LENGTH_DEPENDENT_ROPE = ("dynamic", "longrope")


def refuse_unrotated(model: nn.Module) -> None:
    """Refuse a model without a rotary module (Granite 4.0's without position_embedding_type
    "rope", whose attention takes no positions at all), whose tables the decoder reads."""
    if getattr(model.model, "rotary_emb", True) is None:
        kind = getattr(model.config, "position_embedding_type", None)
        raise PrunebenchError(
            f"the compiled backend does not support this {model.config.model_type!r} model: "
            f"its position_embedding_type is {kind!r}, "
            "so its attention takes no rotary positions and the model holds no rotary module, "
            "whose tables the compiled decoder reads; benchmark it with the hf or hf_static "
            "backend")


def check_static_rope(model: nn.Module, max_seq_len: int) -> None:
    """Refuse a model whose rotary tables would change within `max_seq_len` tokens (none: a
    model of learned positions, OPT's, holds no rotary module; nor does an ALiBi model)."""
    layout = family(model.config)
    if layout.position_buffer:  # CTRL: one fixed table, of n_positions rows
        rows = getattr(projections.decoder(model), layout.position_buffer).shape[0]
        if max_seq_len > rows:
            raise PrunebenchError(
                f"this CTRL model's position table holds {rows} positions (n_positions) and "
                f"this benchmark cell runs to {max_seq_len} tokens, past which transformers' "
                "model has no position either: use shorter token configs")
        return
    if layout.position_table_offset is not None or layout.sinusoidal_positions or layout.alibi:
        return
    if family(model.config).sincos_table:  # GPT-J: one fixed table, of n_positions rows
        rows = sincos_table(model).shape[0]
        if max_seq_len > rows:
            raise PrunebenchError(
                f"this GPT-J model's rotary table holds {rows} positions (n_positions) and this "
                f"benchmark cell runs to {max_seq_len} tokens, past which transformers' model "
                "has no rotation either: use shorter token configs")
        return
    rotary = model.model.rotary_emb
    rope_type = getattr(rotary, "rope_type", "default")
    rope = getattr(model.config, "rope_parameters", None) or getattr(
        model.config, "rope_scaling", None) or {}
    if isinstance(rope_type, dict):  # one per layer type (Gemma-3): any that changes counts,
        # with its own parameters (rope_parameters[layer_type])
        kind = next((k for k, t in rope_type.items() if t in LENGTH_DEPENDENT_ROPE), None)
        rope_type, rope = rope_type.get(kind, "default"), rope.get(kind) or {}
    original = getattr(rotary, "original_max_seq_len", None) or getattr(
        model.config, "max_position_embeddings", None)
    if rope_type == "longrope":
        # longrope switches to its long factors past the rope's own original context
        # (Phi-3-mini-128k: 4096 tokens of 131072), not past max_position_embeddings.
        original = rope.get("original_max_position_embeddings") or getattr(
            model.config, "original_max_position_embeddings", None) or original
    if rope_type in LENGTH_DEPENDENT_ROPE and original is not None and max_seq_len > original:
        raise PrunebenchError(
            f"the model's rope_type {rope_type!r} recomputes its rotary frequencies for "
            f"sequences past {original} tokens, and this benchmark cell runs to {max_seq_len}: "
            "the compiled backend's rotary tables are fixed; use the hf backend for this cell, "
            "or shorter token configs")


def position_query_scale(config, positions: torch.Tensor) -> torch.Tensor:
    """Ministral 3's query factor at each of `positions` (int64): `1 + beta * log(1 +
    floor(position / original context))`, float32, from `rope_parameters`' `llama_4_scaling_beta`
    and `original_max_position_embeddings`, as Ministral3Attention computes it."""
    rope = getattr(config, "rope_parameters", None) or {}
    beta, original = rope.get("llama_4_scaling_beta"), rope.get("original_max_position_embeddings")
    if beta is None or not original:
        raise PrunebenchError(
            f"a {config.model_type} model scales its queries by position from rope_parameters' "
            "llama_4_scaling_beta and original_max_position_embeddings, and its config names "
            f"{'neither' if beta is None and not original else 'only one'} of them: use the "
            "checkpoint's published config.json (transformers would fail on it too)")
    return 1 + beta * torch.log(1 + torch.floor(positions / original))


def resolve_mode(mode: str, device: torch.device) -> str:
    """`auto`: our own CUDA graph on CUDA, op by op elsewhere."""
    if mode == "auto":
        return "cuda-graph" if device.type == "cuda" else "eager"
    return mode


def decoder_attention(attention: str) -> str:
    """The decoder's attention for a benchmark's `attention` setting: its own `eager` or `flex`,
    else `sdpa` (which SDPA kernels may run is the attention context's to say)."""
    return attention if attention in ("eager", "flex") else "sdpa"


def check_flex_mode(attention: str, mode: str, device: torch.device) -> None:
    """Refuse flex attention where nothing compiles it: a CUDA graph of our own or op by op on
    CUDA would time flex_attention's reference implementation, every score materialised, which
    says nothing about flex attention. (Op by op on the CPU stays allowed: what tests check.)"""
    mode = resolve_mode(mode, device)
    if attention == "flex" and (mode == "cuda-graph" or (mode == "eager" and device.type == "cuda")):
        raise PrunebenchError(f"attention 'flex' needs torch.compile to generate its kernel, and "
                              f"compile_mode {mode!r} compiles nothing: set compile_mode to "
                              "compile-graph, autotune-graph, reduce-overhead or compile (or use "
                              "another attention)")


_WARNED_CACHES: set = set()


def check_inductor_cache() -> None:
    """TorchInductor loads its cache entries as pickles: whoever can write into its cache
    folder can run code in this process. The folder TORCHINDUCTOR_CACHE_DIR names (the
    workflow's lies in the project's resources/) is made private when it is new, and refused
    when anyone may write into it; one your group may write into, or another user's, is said
    (a shared project folder can be meant so). Without the variable, torch's default folder
    (`torchinductor_<user>` in the system's temporary folder, which another user may have made
    first) is checked the same way."""
    import os
    import stat
    from pathlib import Path

    folder = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    where = "TORCHINDUCTOR_CACHE_DIR" if folder else "torch's default: TORCHINDUCTOR_CACHE_DIR unset"
    path = Path(folder or _default_inductor_cache())
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = path.stat()
    except OSError as err:  # a file of that name, or a folder that cannot be made
        raise PrunebenchError(f"TorchInductor's cache {path} ({where}) cannot be "
                              f"used: {err.strerror or err}: set TORCHINDUCTOR_CACHE_DIR to a "
                              "folder of your own") from None
    if st.st_mode & stat.S_IWOTH:
        raise PrunebenchError(f"TorchInductor's cache {path} ({where}) is writable "
                              "by every user, and torch loads its entries as pickles, which can "
                              f"run code in this job: `chmod o-w {path}`, or set "
                              "TORCHINDUCTOR_CACHE_DIR to a folder of your own")
    if (st.st_uid != os.getuid() or st.st_mode & stat.S_IWGRP) and path not in _WARNED_CACHES:
        _WARNED_CACHES.add(path)  # once per process, not per batch size
        log.warning("TorchInductor's cache %s is %s: torch loads its entries as pickles, so they "
                    "can run code in this job; keep it so only if you trust them (`chmod go-w`, "
                    "or TORCHINDUCTOR_CACHE_DIR set to a folder of your own, otherwise)", path,
                    "another user's" if st.st_uid != os.getuid() else "writable by your group")


def _default_inductor_cache() -> str:
    """The cache folder TorchInductor uses when TORCHINDUCTOR_CACHE_DIR is not set."""
    try:
        from torch._inductor.runtime.cache_dir_utils import default_cache_dir

        return default_cache_dir()
    except (ImportError, AttributeError):  # another torch's layout: its documented default
        import getpass
        import os
        import re
        import tempfile

        user = re.sub(r'[\\/:*?"<>|]', "_", getpass.getuser())
        return os.path.join(tempfile.gettempdir(), f"torchinductor_{user}")


class StaticDecoder(nn.Module):
    """Greedy (or sampled) decoding of a LlamaForCausalLM for a fixed batch size and length.

    `fuse=False` keeps one GEMV per original projection (q, k, v, gate, up: the layout before
    fusion, for comparison); the weights are stored fused either way.

    `sampling` (prunebench.benchmark.sampling.Sampling; None: greedy) samples every token, the first one
    included, from a generator of the decoder's device that `generate` seeds with `seed` at the
    start of every call, so a call's tokens depend only on the seed.
    """

    def __init__(self, model: nn.Module, batch_size: int, max_seq_len: int, *,
                 mode: str = "auto", attention: str = "auto",
                 compile_kwargs: dict | None = None, fuse: bool = True,
                 sampling: Sampling | None = None, seed: int = 0):
        super().__init__()
        # Its fused blocks compute a dense MLP: a mixture of experts' routed MLP is not one.
        # (An ALiBi model's biases are added here, its heads all kept: `alibi_slopes`.)
        refuse_moe(model.config, "the compiled backend (its fused decoder blocks)",
                   keeps_heads=True)
        refuse_unrotated(model)
        if mode not in MODES:
            raise PrunebenchError(f"unknown compiled-backend mode {mode!r}: choose one of {MODES}")
        if attention == "auto":  # SDPA, unless the model soft-caps its attention scores or
            # normalises them with sink logits (GraniteSWA), which SDPA cannot do
            attention = ("eager" if softcapped_attention(model) or sink_attention(model)
                         or float32_attention(model) else "sdpa")
        if attention not in DECODER_ATTENTION:
            raise PrunebenchError(f"static decoder attention must be one of {DECODER_ATTENTION}, "
                                  f"not {attention!r}")
        check_softcap_attention(model, attention)
        # A plain attribute, not a submodule: the step reads only this module's buffers.
        object.__setattr__(self, "model", model)
        self.attention = attention
        self.fuse = fuse
        config = model.config
        emb = model.get_input_embeddings().weight  # (GPT-NeoX's embed_in)
        device, dtype = emb.device, emb.dtype
        mode = resolve_mode(mode, device)
        check_flex_mode(attention, mode, device)
        if mode in CUDA_ONLY_MODES and device.type != "cuda":
            raise PrunebenchError(f"compiled-backend mode {mode!r} needs a CUDA device (the model "
                                  f"is on {device}); use mode 'eager' on CPU")
        self.mode = mode
        self.head_dim = getattr(config, "head_dim", None) or (
            config.hidden_size // config.num_attention_heads)
        self.batch_size = batch_size
        self.max_seq_len = max_seq_len
        # Llama 3.2 Vision's cross-attention blocks compute and cache nothing on text: the
        # decoder holds neither a fused block nor a cache of them (text_blocks)
        kept = text_blocks(config)
        self.windows = [sliding_windows(model, max_seq_len)[i] for i in kept]
        check_static_rope(model, max_seq_len)
        cache_len = -(-max_seq_len // CACHE_ALIGN) * CACHE_ALIGN

        layout = family(config)
        self.register_buffer("embed", emb.detach(), persistent=False)
        # Gemma scales the embeddings by sqrt(hidden_size), rounded to the weights' dtype as
        # HF rounds it (a float32 scalar cast: bfloat16 gives 55.5 for sqrt(3072), not 55.43).
        self.register_buffer("embed_scale", torch.tensor(config.hidden_size ** 0.5).to(dtype)
                             if layout.scaled_embedding else None, persistent=False)
        self.norm_style = norm_style(layout)
        final = final_norm(model)  # (Phi's final_layernorm, OPT's final_layer_norm)
        # OpenAI GPT's post-LN blocks each end in a norm: none after the last (norm_w None)
        post_ln = layout.post_ln_blocks
        if isinstance(final, nn.Identity) and not post_ln:
            raise PrunebenchError(
                "the compiled backend does not support this OPT model without a final norm "
                "(_remove_final_layer_norm: checkpoints fine-tuned before transformers 4.20.1): "
                "benchmark it with the hf or hf_static backend")
        self.register_buffer("norm_w", None if post_ln else norm_weight(final, device),
                             persistent=False)
        self.register_buffer("norm_b", detach_or_none(getattr(final, "bias", None)),
                             persistent=False)  # (StableLM's LayerNorm)
        self.norm_eps = None if post_ln else norm_eps(final)
        self.final_softcap = getattr(config, "final_logit_softcapping", None)
        # Granite's scalars: embeddings times embedding_multiplier (a Python float times the
        # weights' dtype, as HF multiplies), logits divided by logits_scaling; each block
        # scales its sublayers' outputs by residual_multiplier.
        self.embedding_multiplier = config.embedding_multiplier if layout.multipliers else None
        # XGLM's scale_embedding: sqrt(hidden_size) as a Python float, as
        # XGLMScaledWordEmbedding multiplies (not rounded to the dtype first: Gemma's above)
        # (CTRL's always: `embed_scale_always`, CTRLModel's multiplication by np.sqrt)
        if layout.embed_scale_always or (layout.embed_scale_key
                                         and getattr(config, layout.embed_scale_key, False)):
            self.embedding_multiplier = math.sqrt(config.hidden_size)
        # (HyperCLOVA X's logits_scaling multiplies them instead: its logit_scale_key, below)
        self.logits_scaling = (config.logits_scaling if layout.multipliers
                               and layout.logit_scale_key != "logits_scaling" else None)
        # Cohere's logit_scale multiplies the logits (in their dtype, by a Python float, as
        # CohereForCausalLM does; HyperCLOVA X's logits_scaling likewise); a config without
        # one (None) leaves them as they are.
        self.logit_scale = (getattr(config, layout.logit_scale_key, None)
                            if layout.logit_scale_key else None)
        residual = config.residual_multiplier if layout.multipliers else None
        # (ModernBERT-decoder's LM head is its `decoder`, its `lm_head` the prediction head)
        head = model.get_output_embeddings()
        self.register_buffer("head_w", head.weight.detach(), persistent=False)
        self.register_buffer("head_b", detach_or_none(head.bias), persistent=False)
        # ModernBERT-decoder's prediction head after the final norm: dense (classifier_bias),
        # its activation module (classifier_activation), a LayerNorm (norm_bias)
        predict = model.lm_head if layout.prediction_head else None
        self.predict_act = None if predict is None else predict.act
        for name, weight in (("predict_w", predict and predict.dense.weight),
                             ("predict_b", predict and predict.dense.bias),
                             ("predict_norm_w", predict and predict.norm.weight),
                             ("predict_norm_b", predict and predict.norm.bias)):
            self.register_buffer(name, detach_or_none(weight), persistent=False)
        self.predict_eps = None if predict is None else norm_eps(predict.norm)
        # Rotary tables from the model's own rotary module, so any rope scaling it implements
        # (e.g. LLaMA-3's) is reproduced exactly; indexed by position in the step. Only the
        # max_seq_len positions the check above allowed: a rope that recomputes its frequencies
        # for longer sequences (dynamic, longrope) would otherwise see the cache's alignment
        # padding and change every position's table. The padding's rows are never read.
        # Gemma-3's module holds one table per kind of layer (local layers rotate with another
        # base than global ones), which its blocks take by their layer type.
        positions = torch.arange(cache_len, device=device)
        self.rotary_kinds = [rotary_kinds(model)[i] for i in kept]
        self.untabled = untabled_kinds(model)
        padding = (0, 0, 0, cache_len - max_seq_len)
        # OPT's learned positions: its table's row position + offset is added to each token's
        # embedding (OPTLearnedPositionalEmbedding), and no block rotates (no rotary tables)
        learned = (layout.position_table_offset is not None or layout.sinusoidal_positions
                   or layout.position_buffer is not None)
        self.register_buffer("position_table", position_table(model, cache_len, dtype)
                             if learned else None, persistent=False)
        # BLOOM's and MPT's ALiBi: a bias on each head's scores instead of any rotation, each
        # head's slope from the model's own builder (the config's head count: a depth-pruned
        # model keeps every head, so the dense model's slopes), added by `alibi_biases`;
        # BLOOM's biases in the model's dtype (BloomModel casts them), MPT's in float32.
        self.rotated = rotated = not (learned or layout.alibi)
        self.alibi_from_last = False
        self.register_buffer("alibi_slopes", None, persistent=False)
        if layout.alibi:
            check_alibi(model, max_seq_len, self.head_dim)
            slopes, self.alibi_from_last = alibi_slopes(model)
            self.alibi_slopes = slopes.view(-1, 1, 1)
        self.alibi_dtype = torch.float32 if self.alibi_from_last else dtype
        # BLOOM's LayerNorm of the embeddings (word_embeddings_layernorm), before any block;
        # nanochat's is its final norm itself (NanoChatModel applies `norm` there too), both
        # of the final norm's style
        # (ModernBERT-decoder's its embeddings module's `norm`)
        inner = projections.decoder(model)
        embedding_norm = (getattr(inner, "word_embeddings_layernorm", None)
                          or getattr(getattr(inner, "embeddings", None), "norm", None) or final
                          if layout.embedding_norm else None)
        self.register_buffer("embed_norm_w", None if embedding_norm is None else
                             norm_weight(embedding_norm, device), persistent=False)
        self.register_buffer("embed_norm_b", None if embedding_norm is None else
                             detach_or_none(getattr(embedding_norm, "bias", None)), persistent=False)
        self.embed_norm_eps = None if embedding_norm is None else norm_eps(embedding_norm)
        for kind in dict.fromkeys(self.rotary_kinds) if rotated else ():
            if kind in self.untabled:
                continue
            with torch.no_grad():
                cos, sin = (sincos_tables(model, positions[:max_seq_len], dtype)
                            if layout.sincos_table else
                            rotary_tables(model, kind, emb[:1].unsqueeze(0),
                                          positions[:max_seq_len].unsqueeze(0)))
            if layout.pairwise_rotary and not layout.paired_tables:  # GLM: pair i takes
                cos, sin = (pairwise_table(t) for t in (cos, sin))  # frequency i, as it applies
            if layout.rotary_reversed:  # nanochat's rotate_half, LLaMA's negated: sin * -1
                sin = -sin
            if layout.rotate_float32:
                # Cohere rotates in float32 with its tables' values in the model's dtype: the
                # tables made float32 here (exactly) make apply_rotary compute so too
                cos, sin = cos.float(), sin.float()
            # In the dtype the module returns for the model's dtype: the model's own for most
            # families, float32 for OLMo-2's, whose attention rotates in float32.
            self.register_buffer(f"cos{_suffix(kind)}", F.pad(cos[0], padding), persistent=False)
            self.register_buffer(f"sin{_suffix(kind)}", F.pad(sin[0], padding), persistent=False)
        self.register_buffer("positions", positions, persistent=False)
        # Ministral 3 multiplies its queries by a factor of the position (Llama-4's attention
        # temperature: 1 within the original context), computed as transformers does, in
        # float32 from the integer positions.
        self.register_buffer("query_scale", position_query_scale(config, positions)
                             if layout.position_query_scale else None, persistent=False)
        # The output length is forced, so EOS can never be chosen (HF's min_new_tokens does the
        # same by masking it); without this the two backends would differ after any EOS.
        eos = config.eos_token_id
        eos = [] if eos is None else [eos] if isinstance(eos, int) else list(eos)
        self.register_buffer("suppressed", torch.tensor(eos, dtype=torch.long, device=device),
                             persistent=False)

        # EXAONE-4's and Cohere2's global blocks attend without rotary positions where the
        # config has a sliding window (hybrid attention; Cohere2's always has one); their local
        # blocks, and every block without one, rotate (Exaone4Attention, Cohere2Attention).
        hybrid = layout.global_nope and getattr(config, "sliding_window", None) is not None
        layers = projections.decoder(model).layers
        kinds = getattr(config, "layer_types", None) or [None] * len(layers)
        # GraniteSWA's blocks of rotary base 0 attend without rotary positions (NoPE), and
        # Cohere Compass's of a kind its rotary module holds no table for (untabled_kinds)
        bases = getattr(config, "layer_rope_theta", None) or [None] * len(kinds)
        self.blocks = nn.ModuleList(Block(layer, self.head_dim, (batch_size, cache_len, dtype),
                                          fuse, self.norm_style, residual,
                                          layout.qk_norm_whole,
                                          rotate=rotated and base != 0 and not (
                                              hybrid and kind == "full_attention")
                                          and kind not in self.untabled,
                                          pairwise_rotary=layout.pairwise_rotary,
                                          parallel=parallel_block(config),
                                          qk_norm_after_rotary=layout.qk_norm_after_rotary,
                                          outputs_first=layout.parallel_outputs_first,
                                          float32_unscaled_scores=(
                                              layout.float32_unscaled_scores),
                                          post_ln=post_ln)
                                    for layer, kind, base in ((layers[i], kinds[i], bases[i])
                                                              for i in kept))
        self.n_heads = [block.n_q for block in self.blocks]

        if sampling is not None and not isinstance(sampling, Sampling):
            raise PrunebenchError(f"sampling must be a prunebench.benchmark.sampling.Sampling or None "
                                  f"(greedy), not {sampling!r}")
        self.sampling = sampling
        self.seed = seed
        self.vocab_size = self.head_w.shape[0]
        self.generator = torch.Generator(device=device) if sampling is not None else None

        # Static shapes always: with another decoder's step still compiled (a paired
        # benchmark's other model), dynamo would otherwise mark this one's per-block widths
        # dynamic and compile other kernels than a sweep of this model alone does.
        self.compile_kwargs = {"dynamic": False,
                               **(compile_kwargs or COMPILE_KWARGS.get(mode, {}))}
        self._graph = None
        self._step: Callable = self._decode_step
        if mode not in ("eager", "cuda-graph"):
            check_inductor_cache()
            self._step = torch.compile(self._decode_step, **self.compile_kwargs)

    def close(self) -> None:
        """Let go of the step, compiled or captured: it refers to this decoder (a bound
        method, and torch.compile's wrapper of it), and that cycle kept the decoder, its KV
        cache and its CUDA graph's memory until the collector's next full pass, which a sweep
        does not make: every earlier batch size's cache stayed allocated beside the next one's
        (its peak memory counted them, and a large batch ran out of memory early). Dropping
        the last reference to a closed decoder frees it at once. A closed decoder steps no
        more."""
        self._step = self._closed
        self._graph = None

    @staticmethod
    def _closed(*_args) -> None:
        raise PrunebenchError("this static decoder was closed (its runner moved on to another "
                              "batch size): build a new one")

    # ------------------------------------------------------------------ the forward pass

    def forward(self, tokens: torch.Tensor, pos: torch.Tensor, prefill: bool = False) -> torch.Tensor:
        """Run `tokens` [B, T] at positions `pos` [T]; return the last position's logits.

        The prefill runs eagerly, where flex_attention would fall back to its slow reference
        implementation: it attends with SDPA instead (the same attention, computed otherwise;
        matmul and softmax for a model whose scores are soft-capped, which SDPA cannot do).
        """
        attention = self.attention
        if prefill and attention == "flex":
            attention = "eager" if any(b.softcap is not None for b in self.blocks) else "sdpa"
        x = F.embedding(tokens, self.embed)
        if self.embed_norm_w is not None:  # BLOOM: nn.LayerNorm's own forward; nanochat's
            x = rms_norm(x, self.embed_norm_w, self.embed_norm_eps, self.norm_style,  # RMSNorm
                         self.embed_norm_b)
        if self.embed_scale is not None:
            x = x * self.embed_scale
        if self.embedding_multiplier is not None:
            x = x * self.embedding_multiplier
        if self.position_table is not None:  # OPT: [T, d], broadcast over the batch
            x = x + self.position_table.index_select(0, pos)
        # [T, 1, hd]: broadcast over batch and heads of the [B, T, heads, hd] projections
        # (none where no block rotates: OPT's)
        tables = {kind: (getattr(self, f"cos{_suffix(kind)}").index_select(0, pos).unsqueeze(1),
                         getattr(self, f"sin{_suffix(kind)}").index_select(0, pos).unsqueeze(1))
                  if self.rotated and kind not in self.untabled else (None, None)
                  for kind in dict.fromkeys(self.rotary_kinds)}
        causal = self.positions.unsqueeze(0) <= pos.unsqueeze(1)  # [T, cache_len]
        masks = {None: causal}
        for window in sorted({w for w in self.windows if w is not None}):
            # the window's last positions only: kv > q - window, as transformers masks them
            masks[window] = causal & (self.positions.unsqueeze(0) > pos.unsqueeze(1) - window)
        if self.alibi_slopes is not None:  # (no windows: BLOOM's and MPT's blocks have none)
            masks[None] = self.alibi_biases(pos, causal, attention)
        query_scale = None if self.query_scale is None else self.query_scale.index_select(0, pos)
        for block, window, kind in zip(self.blocks, self.windows, self.rotary_kinds):
            x = block(x, *tables[kind], pos, masks[window], attention, query_scale)
        x = x[:, -1]
        if self.norm_w is not None:  # (none in OpenAI GPT's post-LN model)
            x = rms_norm(x, self.norm_w, self.norm_eps, self.norm_style, self.norm_b)
        if self.predict_w is not None:  # ModernBERT-decoder: norm(act(dense(x)))
            x = F.layer_norm(self.predict_act(F.linear(x, self.predict_w, self.predict_b)),
                             (x.shape[-1],), self.predict_norm_w, self.predict_norm_b,
                             eps=self.predict_eps)
        logits = F.linear(x, self.head_w, self.head_b)
        if self.logits_scaling is not None:  # Granite
            logits = logits / self.logits_scaling
        if self.logit_scale is not None:  # Cohere
            logits = logits * self.logit_scale
        if self.final_softcap is not None:  # Gemma-2
            logits = soft_cap(logits, self.final_softcap)
        return logits

    def alibi_biases(self, pos: torch.Tensor, causal: torch.Tensor,
                     attention: str) -> torch.Tensor:
        """The ALiBi biases of the queries at `pos` [T] over the cache ([heads, T, cache_len]),
        -inf where `causal` [T, cache_len] masks a position. BLOOM's are slope x key position,
        in the model's dtype, as BloomModel computes them. MPT's are slope x (key - last
        position) in float32 for every query: MptModel's table read at its keys, so the
        decode step's biases and the prefill's last row are transformers' own, the earlier rows
        shifted alike (which their softmax does not see). Without host synchronisation: the
        position is a device tensor. Given to SDPA and flex in the queries' dtype, as they take
        a mask; to eager attention as the model adds them."""
        keys = self.positions.unsqueeze(0)  # [1, cache_len]
        if self.alibi_from_last:
            keys = keys - pos[-1:].unsqueeze(1)
        biases = (self.alibi_slopes * keys).to(self.alibi_dtype)  # [heads, 1, cache_len]
        biases = torch.where(causal, biases, float("-inf"))
        return biases if attention == "eager" else biases.to(self.embed.dtype)

    def greedy(self, logits: torch.Tensor) -> torch.Tensor:
        """[B, V] logits -> [B, 1] next tokens, never EOS."""
        return logits.index_fill(-1, self.suppressed, float("-inf")).argmax(dim=-1, keepdim=True)

    def next_token(self, logits: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        """[B, V] logits -> [B, 1] next tokens, never EOS: greedy, or sampled with `noise`."""
        if self.sampling is None:
            return self.greedy(logits)
        # EOS goes before the filters, as HF's min_new_tokens processor runs before its warpers.
        logits = logits.index_fill(-1, self.suppressed, float("-inf"))
        return sample(logits, noise, self.sampling)

    def noise(self) -> torch.Tensor | None:
        """This step's Exponential(1) draws from the decoder's generator (None when greedy)."""
        if self.sampling is None:
            return None
        return exponential_noise((self.batch_size, self.vocab_size), self.generator,
                                 self.positions.device)

    def _decode_step(self, token: torch.Tensor, pos: torch.Tensor,
                     noise: torch.Tensor | None) -> torch.Tensor:
        """One step: token [B, 1] at position pos [1] (and its noise) -> next token [B, 1]."""
        return self.next_token(self.forward(token, pos), noise)

    # ------------------------------------------------------------------ CUDA graph

    def _capture(self) -> None:
        """Record the decode step once as a CUDA graph (compiled first in the compile modes)."""
        self._static_token = torch.zeros(self.batch_size, 1, dtype=torch.long,
                                         device=self.positions.device)
        self._static_pos = self.positions[:1].clone()
        graph = torch.cuda.CUDAGraph()
        if self.generator is not None:
            # A graph replays its random draws from a generator registered with it (the default
            # one is registered already); replays then advance that generator's state, so
            # seeding it before a call makes the call's draws reproducible.
            register = getattr(graph, "register_generator_state", None)
            if register is None:
                raise PrunebenchError(f"sampling inside a CUDA graph needs torch >= 2.5 "
                                      f"(CUDAGraph.register_generator_state); this is torch "
                                      f"{torch.__version__}: upgrade torch or set compile_mode "
                                      "'reduce-overhead' or 'eager'")
            register(self.generator)
        # Warm up on a side stream (compilation, cuBLAS handles, workspace) before capture, as
        # CUDA graphs require. The warm-up steps write position 0 of every block's cache: what
        # was there is put back, since a capture made on the first step() of a generation
        # (without prepare()) comes after the prefill, whose first position it would
        # otherwise replace with the keys and values of token 0, which those steps run on
        # (every later token then attended to them: on an H200 only the first generated token
        # matched HF's).
        kept = [(block, block.k_cache[:, :, :1].clone(), block.v_cache[:, :, :1].clone())
                for block in self.blocks if block.k_cache is not None]
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(3):
                self._step(self._static_token, self._static_pos, self.noise())
        torch.cuda.current_stream().wait_stream(stream)
        with torch.cuda.graph(graph):
            self._static_out = self._step(self._static_token, self._static_pos, self.noise())
        for block, k, v in kept:
            block.k_cache[:, :, :1].copy_(k)
            block.v_cache[:, :, :1].copy_(v)
        self._graph = graph

    def prepare(self) -> None:
        """Capture / compile the decode step before timing (call inside the attention context).

        It runs the step at position 0, which the prefill overwrites before it is ever read
        (a capture left to the first step() keeps what the prefill wrote there).
        """
        with torch.inference_mode():
            if self.mode in GRAPH_MODES and self._graph is None:
                self._capture()
            elif self.mode in ("reduce-overhead", "compile"):
                token = torch.zeros(self.batch_size, 1, dtype=torch.long,
                                    device=self.positions.device)
                for _ in range(3):  # compile, then let cudagraph trees record and replay
                    self.step(token, 0)

    def step(self, token: torch.Tensor, position: int) -> torch.Tensor:
        pos = self.positions[position:position + 1]
        if self.mode in GRAPH_MODES:
            if self._graph is None:
                self._capture()
            self._static_token.copy_(token)
            self._static_pos.copy_(pos)
            self._graph.replay()
            return self._static_out.clone()
        if self.mode == "eager":
            return self._step(token, pos, self.noise())
        # Compiled (possibly with CUDA graphs): the output buffer may be reused by the next
        # replay, so keep a copy (the caller holds every token until the end).
        mark_step = getattr(torch.compiler, "cudagraph_mark_step_begin", None)
        if mark_step is not None:
            mark_step()
        return self._step(token, pos, self.noise()).clone()

    # ------------------------------------------------------------------ generation

    @torch.inference_mode()
    def generate(self, input_ids: torch.Tensor, max_new_tokens: int,
                 on_token: Callable[[], None] | None = None,
                 seed: int | None = None) -> torch.Tensor:
        """Continuation of `input_ids` [B, L] by exactly `max_new_tokens` tokens (greedy, or
        sampled from the generator seeded with `seed`, default the decoder's).

        `on_token` is called after each token is computed (the benchmark's step clock).
        Returns [B, L + max_new_tokens], like HF `generate`.
        """
        b, length = input_ids.shape
        if b != self.batch_size:
            raise PrunebenchError(f"static decoder was built for batch {self.batch_size}, got {b}")
        if length + max_new_tokens > self.max_seq_len:
            raise PrunebenchError(f"{length} + {max_new_tokens} tokens exceed the static cache "
                                  f"({self.max_seq_len}); build the decoder with a larger "
                                  "max_seq_len")
        if self.generator is not None:
            # Host-side state only: seeding neither synchronises nor leaves the graph stale.
            self.generator.manual_seed(self.seed if seed is None else seed)
        # Prefill runs eagerly through the same fused weights (once per call, its own shape).
        token = self.next_token(self.forward(input_ids, self.positions[:length], prefill=True),
                                self.noise())
        if on_token is not None:
            on_token()
        out = [token]
        for i in range(1, max_new_tokens):
            token = self.step(token, length + i - 1)
            if on_token is not None:
                on_token()
            out.append(token)
        return torch.cat([input_ids, *out], dim=1)

    @torch.inference_mode()
    def prefill_logits(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Last-position logits of the prompt (for checking against HF)."""
        return self.forward(input_ids, self.positions[:input_ids.shape[1]], prefill=True)
