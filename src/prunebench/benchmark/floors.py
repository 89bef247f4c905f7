"""The memory-bandwidth floor of a decode step: the bytes it must read (weights, KV cache)
over the device's measured copy bandwidth. A step far above its floor points at something other
than the model (framework overhead, a pathological kernel; docs/benchmarks.md, "Bandwidth
floor")."""

from __future__ import annotations

import copy
import logging
import re
import time
from typing import Any

import torch

from prunebench import PrunebenchError
from prunebench.benchmark.timing import UNCACHED_DECODE_NOTE
from prunebench.checkpoint.param_count import (active_experts, altup_projection_params,
                                               attention_expert_params, block_count,
                                               block_passes,
                                               caches_tokens,
                                               deepseek_v4_compressed,
                                               expert_param_count, family, final_input_params,
                                               hyper_head_params, indexer_key_values,
                                               indexer_positions, inkling_conv_state, is_moe,
                                               latent_cache_widths, linear_attention_state,
                                               lm_head_bias_params, lm_head_rows,
                                               norm_params, num_experts,
                                               per_layer_projection_params, ple_state,
                                               prediction_head_params, sliding_windows,
                                               state_blocks, state_in_model_dtype,
                                               value_head_dim)
from prunebench.modeling import (block_param_count, build_model, float32_kept, head_dim,
                                 layer_shapes, resolve_dtype)

log = logging.getLogger(__name__)

# A batch-1 decode step slower than this many bandwidth floors is flagged as an anomaly.
FLOOR_FLAG_FACTOR = 10.0


def _element_size(dtype: str | torch.dtype) -> int:
    return torch.empty((), dtype=resolve_dtype(dtype)).element_size()


def read_params(config) -> int:
    """Parameters one decode step must read: every block, the final norm, the LM head (and
    HY-V4's hc_head before the final norm, ModernBERT-decoder's prediction head after it);
    a block as many times as it runs a token (Dory's recurrent blocks once a loop:
    `block_passes`).

    Per-block shapes (width pruning, zero-head blocks) come from `layer_shapes`. The embedding
    table is not read in full (only batch rows), so it is left out (Gemma 4's per-layer
    embedding too, its projection read whole); the LM head is read in full (with tied
    embeddings it is that same table, counted once).
    """
    # (a Llama 3.2 Vision cross-attention block: skipped on text, never read; a Dory recurrent
    # block read once a loop)
    params = sum(passes * block_param_count(config, s)
                 for s, passes in zip(layer_shapes(config), block_passes(config))
                 if not s.get("cross_attention"))
    if is_moe(config):
        # A token reads its router's top-k experts of each sparse block, not all of them: the
        # other experts' weights are no part of its step (`moe_floor_note` says for which
        # batches that is the whole read). An unread expert's biases (gpt-oss) are unread too;
        # the router (its bias), the attention (gpt-oss's sinks) and a shared expert (Qwen2-MoE),
        # which every token goes through, with its gate, are read whole. Each block routes to
        # its own top k (Hunyuan's moe_topk may give one per block).
        params -= sum((num_experts(config) - k) * expert_param_count(config)
                      for k, s in zip(active_experts(config), layer_shapes(config))
                      if s.get("sparse_mlp"))
        if family(config).attention_experts:  # JetMoE's attention experts: the top k too
            params -= sum((num_experts(config) - k) * attention_expert_params(config)
                          for k in active_experts(config))
    return params + norm_params(config) + lm_head_rows(config) * config.hidden_size + (
        lm_head_bias_params(config)) + per_layer_projection_params(config) + (
        hyper_head_params(config)) + (  # (HY-V4's hc_head, collapsing its streams every step)
        altup_projection_params(config)) + (  # (Gemma 3n's, making and merging its streams)
        prediction_head_params(config)) + (  # (ModernBERT-decoder's, before its LM head)
        final_input_params(config))  # (Inkling 2's residual query before its final norm)


def weight_bytes(config, dtype: str | torch.dtype) -> int:
    """Bytes of weights one decode step must read: `read_params` at `dtype`'s element size, and
    what that leaves out of the tensors a loaded model holds (`_kept_and_buffer_bytes`): the
    ones transformers keeps in float32 at `dtype`, at 4 bytes, and the routers' buffers."""
    return read_params(config) * _element_size(dtype) + _kept_and_buffer_bytes(
        config, resolve_dtype(dtype))


# (config class, config JSON, dtype) -> _kept_and_buffer_bytes: a meta model takes about 0.1 s
# to build, and the floor is computed for every row of a sweep.
_KEPT_AND_BUFFER_BYTES: dict[tuple, int] = {}


def _kept_and_buffer_bytes(config, dtype: torch.dtype) -> int:
    """The bytes a step reads beyond `read_params` at `dtype`'s element size: the tensors that
    transformers keeps in float32 when it loads the model in `dtype` (`modeling.float32_kept`:
    DeepSeek-V3's, GLM-4.5's and ERNIE 4.5's routers in half precision, DeepSeek-V2's in
    transformers 5.25, Hunyuan-A13B's, gpt-oss's norms in float16) 4 bytes each, and the
    checkpoint's buffers (the score-correction biases of DeepSeek-V3's, GLM-4.5's and
    MiniMax-M2's routers, which pick the experts and are no parameters) in the dtype loading
    gives them. Decided on a meta-device model of `config` as loading decides it, so each
    installed transformers version's own lists apply."""
    key = (type(config).__name__, config.to_json_string(use_diff=False), dtype)
    if key not in _KEPT_AND_BUFFER_BYTES:
        model = build_model(copy.deepcopy(config), device="meta")  # (it may set attention)
        kept, size = float32_kept(model, dtype), _element_size(dtype)
        saved = set(model.state_dict())  # buffers a checkpoint holds (not rotary tables)
        buffers = {name: b for name, b in model.named_buffers() if name in saved}
        embedding = model.get_input_embeddings().weight
        tied = model.get_output_embeddings().weight is embedding
        extra = 0
        for name, tensor in [*model.named_parameters(), *buffers.items()]:
            if (tensor is embedding and not tied) or not (name in buffers or kept(name)):
                continue  # a step reads the embedding's rows only; the rest is read_params'
            each = (4 if kept(name) else size) if tensor.is_floating_point() else (
                tensor.element_size())
            counted = 0 if name in buffers else size  # a parameter is in read_params already
            extra += _numel_read(config, name, tensor) * (each - counted)
        _KEPT_AND_BUFFER_BYTES[key] = extra
    return _KEPT_AND_BUFFER_BYTES[key]


def _numel_read(config, name: str, tensor: torch.Tensor) -> int:
    """The elements of a model's tensor `name` that a batch-1 step reads: a sparse block's
    fused experts (`.experts.`: [experts, ...]) its top k of them, every other tensor whole.
    JetMoE (`Family.attention_experts`) holds its MLP's and its attention's experts as
    `input_linear` / `output_linear`, its attention's router and output bias under `experts.`
    beside them, read whole."""
    block = re.search(r"\.layers\.(\d+)\.", name)
    if family(config).attention_experts:
        routed = re.search(r"\.(input|output)_linear\.", name) is not None
    else:
        routed = ".experts." in f".{name}"
    if not routed or block is None:
        return tensor.numel()
    return tensor.numel() * active_experts(config)[int(block[1])] // num_experts(config)


def moe_floor_note(config, batch: int) -> str | None:
    """Why a mixture-of-experts model's decode step at `batch` has no bandwidth floor, or None
    when it has one. At batch 1 the step reads the router's top-k experts of each sparse block
    (`weight_bytes`); with more rows it reads the union of every row's experts, which the
    router decides token by token: between k and all of them, unknown before the run, so no
    floor is given rather than one far below what the step must read."""
    if not is_moe(config) or batch == 1:
        return None
    return (f"mixture of experts: at batch {batch} a decode step reads the experts its "
            "tokens' routers choose, a number known only as it runs; the floor is given at "
            "batch 1 only")


def uncached_note(config, backend: str) -> str | None:
    """Why a row of transformers' generate (the hf backend) on a model whose class reads no KV
    cache has no bandwidth floor, or None: OpenAI GPT's (OpenAIGPTLMHeadModel: every step runs
    the whole sequence so far again, so a step's time grows with the length decoded, quadratic
    over the output, and no floor of one cached step bounds it; its hf_static rows are refused,
    param_count.own_cache_static_problem, and the compiled decoder keeps a cache of its own)."""
    if backend != "hf" or getattr(config, "model_type", None) != "openai-gpt":
        return None
    return UNCACHED_DECODE_NOTE


def kv_cache_bytes(config, batch: int, seq_len: int, dtype: str | torch.dtype) -> int:
    """Bytes of keys and values a step attending to `seq_len` positions must read.

    Each block holds its own KV heads; blocks with zero heads hold none; a block with a sliding
    window shorter than `seq_len` attends to (and transformers' cache keeps) the window only,
    and so does a block of Llama 4's chunked attention (`layer_types` chunked_attention), whose
    cache transformers keeps as a window of attention_chunk_size. (GPT-Neo's local blocks attend
    to their window too, but transformers' cache keeps every position and its attention reads
    them all under a mask: for it the figure is what a step must read, below what it reads.)
    A Gated DeltaNet block (Qwen3-Next, Qwen3.5) caches no keys or values but a state of one
    size whatever the length, which each step reads: its conv state in `dtype`, its recurrent
    state in float32 (as transformers keeps it), per sequence; so does a Mamba-2 block (Granite
    4.0, Bamba, Nemotron-H), and every Falcon-H1 block beside its keys and values.
    Multi-head latent attention (DeepSeek-V2 / V3, Mistral 4: `Family.latent_attention`)
    caches each position compressed, whatever its heads: the normed latent of kv_lora_rank
    and the rotated key of qk_rope_head_dim that all heads share (DeepseekV3Attention updates
    the cache with them and expands keys and values from them at each step); DeepSeek-V3.2's
    indexer (`Family.attention_indexer`) caches a key of index_head_dim beside them, which each
    step scores (GLM-MoE-DSA's in the blocks that hold an indexer; transformers 5.17 caches
    the expanded keys and values instead of the latent: more bytes, so this stays a floor
    there too; Dots 3 Note's blocks cache latents of their own widths, its sliding blocks over
    their window alone, and its indexed blocks alone an indexer key). Kimi Linear's latent
    attention blocks cache so, its Kimi Delta Attention blocks a state as a Gated DeltaNet's
    (a recurrent state in float32); MiniMax's lightning attention blocks a key x value matrix
    a head in the model's dtype, no conv state. MiniMax-M3's indexers (beside GQA) cache a key
    of index_head_dim a position in each block that holds one. A Dory recurrent block's keys
    and values are read by each of its n_recurrent_loops passes (`block_passes`): with
    recurrent_kv_cache_mode "per_loop" each loop's own cache layer, with "last_loop" the one
    layer the last loop writes, which the earlier loops read too (param_count.cache_layers:
    what is held). A Qwen4-Exp model's indexers cache a key of indexer_head_dim a position,
    its per-layer embedding blocks their dilated convolution's state and last token ids
    (`param_count.ple_state`), and its first indexed block the three M-RoPE positions of every
    position seen (`indexer_positions`), which each step reads whole."""
    if getattr(config, "model_type", None) == "deepseek_v4":
        return batch * deepseek_v4_cache_bytes(config, seq_len, dtype)
    state = 0
    if any(linear := state_blocks(config)):  # (every Falcon-H1 block beside its keys, values)
        conv, recurrent = linear_attention_state(config)
        # (MiniMax's lightning attention keeps its state in the model's dtype)
        recurrent_size = _element_size(dtype) if state_in_model_dtype(config) else 4
        state = sum(linear) * batch * (conv * _element_size(dtype) + recurrent * recurrent_size)
    # (Inkling's short convolutions' states beside every block's keys and values, float32)
    state += batch * inkling_conv_state(config) * 4
    # (Qwen4-Exp's per-layer embeddings' convolution states and last token ids, and its
    # indexers' shared position history: int64)
    ple_values, ple_ids = ple_state(config)
    state += batch * (ple_values * _element_size(dtype)
                      + (ple_ids + indexer_positions(config) * seq_len) * 8)
    if family(config).latent_attention:  # (Kimi Linear's KDA blocks: their state beside)
        shapes = layer_shapes(config)
        # (Dots 3 Note's blocks: each its own latent's width, its sliding ones over their window)
        windows = (sliding_windows(config) if any("latent" in shape for shape in shapes)
                   else [None] * len(shapes))
        latent = sum(width * min(seq_len, window or seq_len) for shape, width, window
                     in zip(shapes, latent_cache_widths(config), windows)
                     if shape["num_attention_heads"] > 0)
        return batch * (latent + seq_len * indexer_key_values(config)) * _element_size(dtype) \
            + state
    chunk = getattr(config, "attention_chunk_size", None)
    windows = [chunk if kind == "chunked_attention" else window for kind, window in
               zip(getattr(config, "layer_types", None) or [None] * block_count(config),
                   sliding_windows(config))]
    # (a Gemma 4 block's shape gives its own head_dim, and none is cached by a block that
    # reuses another's keys and values); a key of head_dim and a value of value_head_dim a KV
    # head (MiMo-V2-Flash's values narrower than its keys)
    # (a Dory recurrent block's every loop reads its keys and values: its own copy of them
    # with recurrent_kv_cache_mode "per_loop", the last loop's with "last_loop")
    values = sum(passes * shape["num_key_value_heads"] * min(seq_len, window or seq_len)
                 * ((shape.get("head_dim") or head_dim(config))
                    + (shape.get("head_dim") or value_head_dim(config)))
                 for shape, window, passes in zip(layer_shapes(config), windows,
                                                  block_passes(config))
                 if caches_tokens(shape))
    # (MiniMax-M3's indexers: a key of index_head_dim a position in each sparse block)
    values += seq_len * indexer_key_values(config)
    return batch * values * _element_size(dtype) + state


def deepseek_v4_cache_bytes(config, seq_len: int, dtype: str | torch.dtype) -> int:
    """Bytes of one sequence's DeepSeek-V4 cache a step attending to `seq_len` positions reads,
    as DeepseekV4HCACache / DeepseekV4CSACache hold them. Every block: its one key-value head
    over its window (keys and values apart in a sliding block's DynamicSlidingWindowLayer, one
    tensor read as both in a compressor's). A compressor's block beside it
    (`deepseek_v4_compressed`): a compressed entry every rate positions, which the attention
    (and CSA's indexer, its keys) reads whole; the positions of the window not yet closed,
    their projections and gates (HCA's head_dim each, CSA's twice as wide for the compressor
    and for its indexer); CSA's overlap, the last closed window's first halves of both, its
    gates float32 in half precision (added to position_bias, which transformers keeps float32)."""
    size = _element_size(dtype)
    gate = 4 if resolve_dtype(dtype) in (torch.float16, torch.bfloat16) else size
    total = 0
    for shape in layer_shapes(config):
        kind = shape["compressor"]
        rate, width = deepseek_v4_compressed(config, kind)
        window = min(seq_len, config.sliding_window) * config.head_dim
        total += (2 * window if kind == "sliding_attention" else window) * size
        if not width:
            continue
        buffered = seq_len % rate * (2 if kind == "heavily_compressed_attention" else 4)
        total += (seq_len // rate + buffered) * width * size
        if kind == "compressed_sparse_attention" and seq_len >= rate:
            total += rate * width * (size + gate)
    return total


def decode_floor_s(config, batch: int, seq_len: int, dtype: str | torch.dtype,
                   bandwidth_bytes_per_s: float) -> float:
    """Lowest possible decode-step time if memory traffic were the only cost."""
    if bandwidth_bytes_per_s <= 0:
        raise PrunebenchError(f"bandwidth must be positive, got {bandwidth_bytes_per_s}")
    total = weight_bytes(config, dtype) + kv_cache_bytes(config, batch, seq_len, dtype)
    return total / bandwidth_bytes_per_s


def mean_decode_context(input_tokens: int, output_tokens: int) -> int:
    """Mean number of cached positions a decode step attends to: steps i = 1..N-1 see L + i."""
    return input_tokens + output_tokens // 2


_BANDWIDTH: dict[str, tuple[float, str]] = {}


def measure_bandwidth(device: str | torch.device, nbytes: int | None = None,
                      iters: int | None = None) -> tuple[float, str]:
    """Device memory bandwidth in bytes/s from a large copy, measured once per process.

    A copy reads and writes every byte, so traffic is 2 * nbytes per copy. Returns the figure
    and a description of how it was measured.
    """
    device = torch.device(device)
    key = str(device)
    if key in _BANDWIDTH:
        return _BANDWIDTH[key]
    cuda = device.type == "cuda"
    if nbytes is None:
        nbytes = 1 << 30 if cuda else 1 << 26
        if cuda:
            nbytes = min(nbytes, torch.cuda.mem_get_info(device)[0] // 8)
    iters = iters or (20 if cuda else 5)
    src = torch.ones(nbytes, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    for _ in range(3):
        dst.copy_(src)
    if cuda:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize(device)
        start.record()
        for _ in range(iters):
            dst.copy_(src)
        end.record()
        end.synchronize()
        seconds = start.elapsed_time(end) / 1000
    else:
        t0 = time.perf_counter()
        for _ in range(iters):
            dst.copy_(src)
        seconds = time.perf_counter() - t0
    del src, dst
    bandwidth = 2 * nbytes * iters / seconds
    method = (f"{iters} copies of {nbytes / 2**20:.0f} MiB on {device}, "
              "(read + write bytes) / time")
    log.info("measured memory bandwidth of %s: %.1f GB/s", device, bandwidth / 1e9)
    _BANDWIDTH[key] = (bandwidth, method)
    return _BANDWIDTH[key]


def add_floor(row: dict[str, Any], config, *, input_tokens: int, output_tokens: int,
               dtype: torch.dtype, bandwidth: float | None, backend: str) -> None:
    row.update(floor_s=None, pct_of_floor=None, floor_flag=None)
    if note := uncached_note(config, backend):
        row["floor_note"] = note  # on every such row (measured floor or not): read it so
        return
    if bandwidth is None or row["decode_step_s"] is None:
        return
    note = moe_floor_note(config, row["batch_size"])
    if note is not None:
        row["floor_note"] = note  # left out, and why: never a floor of weights it may not read
        return
    context = mean_decode_context(input_tokens, output_tokens)
    floor = decode_floor_s(config, row["batch_size"], context, dtype, bandwidth)
    row["floor_s"] = floor
    row["pct_of_floor"] = 100.0 * floor / row["decode_step_s"]
    row["floor_flag"] = row["batch_size"] == 1 and row["decode_step_s"] > FLOOR_FLAG_FACTOR * floor
    if row["floor_flag"]:
        log.warning("batch-1 decode step %.2f ms is %.1fx the bandwidth floor %.2f ms: the timing "
                    "is dominated by something other than the model (framework overhead or a "
                    "pathological kernel choice; see docs/benchmarks.md, 'Bandwidth floor')",
                    row["decode_step_s"] * 1e3, row["decode_step_s"] / floor, floor * 1e3)
