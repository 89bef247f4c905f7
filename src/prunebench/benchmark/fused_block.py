"""One decoder block of the `compiled` backend, with its weights fused for decoding.

A batch-1 decode step is bound by reading the weights, so it reads them in as few, large GEMVs
as possible: each block's q/k/v projections become one fused [q + 2 kv, d] weight and its
gate/up projections one fused [2 m, d] weight, built once per block (Phi-3 packs them so
already: its modules' weights are used as they are; an ungated MLP's up_proj, Arcee's and
Nemotron's, is used alone). The HF modules' parameters
are then re-pointed at row views of the fused tensors, so no second copy of the weights exists
and the HF model keeps working on the same memory (`unfuse` undoes the re-pointing).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from prunebench import PrunebenchError, projections
from prunebench.modeling import norm_eps

# The attention modules' names of the queries' scale (transformers' `scaling`; MptAttention's
# softmax_scale, BloomAttention's inv_norm_factor), the first one a module holds.
SCALE_NAMES = ("scaling", "softmax_scale", "inv_norm_factor")


def norm_style(layout) -> str:
    """How a `param_count.Family`'s RMSNorm applies its weight: "llama", to the statistics cast
    back to the input's dtype; "plus_one" (Gemma's), 1 + weight in float32, then the cast;
    "float32" (OLMo-2's), the weight in float32, then the cast; "layer_norm" (the first OLMo's),
    a LayerNorm without weight or bias in float32, then the cast; "centred" (Cohere's), a
    LayerNorm weighed in float32, then the cast; "affine" (StableLM's, PhiMoE's), torch's
    LayerNorm with a weight and a bias (MPT's without the bias; ModernBERT-decoder's with one
    where its `norm_bias_key` says); "affine_plus_one" (Nemotron's
    LayerNorm1P), torch's LayerNorm weighing by 1 + weight (added in the weight's dtype) with a
    bias; "weightless" (nanochat's), an RMSNorm's float32 statistics without a weight, then the
    cast."""
    if layout.rms_norm_weightless:
        return "weightless"
    if layout.norm_bias and layout.norm_plus_one:
        return "affine_plus_one"
    return ("plus_one" if layout.norm_plus_one else
            "float32" if layout.norm_weight_float32 else
            "layer_norm" if layout.norm_weightless else
            "centred" if layout.norm_centred else
            "affine" if layout.norm_bias or layout.layer_norm_no_bias or layout.norm_bias_key
            else "llama")


def norm_weight(norm: nn.Module, device: torch.device) -> torch.Tensor:
    """A norm's weight, or for a norm without one (OLMo's, nanochat's) ones on `device` in its
    place, which its "layer_norm" or "weightless" style never reads: the buffer says that the
    norm is there (nanochat's RMSNorm holds no shape: one entry)."""
    weight = getattr(norm, "weight", None)
    if weight is not None:
        return weight.detach()
    return torch.ones(getattr(norm, "normalized_shape", 1), device=device)


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float,
             style: str = "llama", bias: torch.Tensor | None = None) -> torch.Tensor:
    """An HF RMSNorm: float32 statistics, then the weight as the family applies it (above);
    `bias`, the "affine" style's."""
    if style == "weightless":  # NanoChatRMSNorm: x.float() * rsqrt(mean(x^2) + eps), cast back
        return F.rms_norm(x.to(torch.float32), (x.shape[-1],), eps=eps).to(x.dtype)
    if style == "layer_norm":  # OlmoLayerNorm: no weight, no bias
        return F.layer_norm(x.to(torch.float32), (x.shape[-1],), None, None, eps=eps).to(x.dtype)
    if style == "affine" and weight.dim() == 1:  # nn.LayerNorm's own forward
        return F.layer_norm(x, (x.shape[-1],), weight, bias, eps=eps)
    if style == "affine_plus_one":  # NemotronLayerNorm1P's forward (autocast off)
        return F.layer_norm(x, (x.shape[-1],), weight + 1.0, bias, eps=eps)
    if style == "affine":
        # StableLM's per-head q/k norms (a bias-free LayerNorm a head; the weights one row per
        # head, [heads, head_dim]): the kernel's float32 arithmetic, rounded once as each
        # head's LayerNorm rounds its output
        h = F.layer_norm(x.to(torch.float32), (x.shape[-1],), None, None, eps=eps)
        return (h * weight.to(torch.float32)).to(x.dtype)
    if style == "centred":
        # CohereLayerNorm, written as its forward computes it (a fused layer_norm rounds
        # otherwise); the weight may be one row per head ([heads, head_dim], its q/k norms)
        x32 = x.to(torch.float32)
        centred = x32 - x32.mean(-1, keepdim=True)
        h = centred * torch.rsqrt(centred.pow(2).mean(-1, keepdim=True) + eps)
        return (weight.to(torch.float32) * h).to(x.dtype)
    h = F.rms_norm(x.to(torch.float32), (x.shape[-1],), eps=eps)
    if style == "plus_one":
        return (h * (1.0 + weight.to(torch.float32))).to(x.dtype)
    if style == "float32":
        return (weight.to(torch.float32) * h).to(x.dtype)
    return weight * h.to(x.dtype)


def qk_norm_weight(norm: nn.Module | None, per_head: nn.Module | None,
                   device: torch.device) -> tuple[torch.Tensor | None, float | None]:
    """A q or k norm's weight and epsilon: Qwen3's, OLMo-2's, Cohere's module (`norm`), Phi's
    LayerNorm shared by the heads (`per_head` without `norms`), or StableLM's per-head one
    (`per_head`: a LayerNorm module a head, their weights stacked as a row per head, as
    Cohere's are held); nanochat's weightless RMSNorm gives `norm_weight`'s ones in its place;
    (None, None) for none."""
    if norm is None and per_head is not None and not hasattr(per_head, "norms"):
        norm = per_head  # Phi's q_layernorm: one nn.LayerNorm over head_dim
    if norm is not None:
        return norm_weight(norm, device), norm_eps(norm)
    if per_head is not None:
        return (torch.stack([n.weight.detach() for n in per_head.norms]),
                norm_eps(per_head.norms[0]))
    return None, None


def soft_cap(x: torch.Tensor, cap: float) -> torch.Tensor:
    """cap * tanh(x / cap), in HF's order of operations (Gemma-2's attention and logits)."""
    return torch.tanh(x / cap) * cap


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rotate_pairs(x: torch.Tensor) -> torch.Tensor:
    """GLM's rotation: dimensions 2i and 2i + 1 rotate as one pair."""
    return torch.stack((-x[..., 1::2], x[..., 0::2]), dim=-1).flatten(-2)


def pairwise_table(table: torch.Tensor) -> torch.Tensor:
    """A rotary module's cos or sin table ([..., r], the r / 2 frequencies twice) as GLM applies
    it: each frequency repeated for the two dimensions of its pair."""
    return table[..., :table.shape[-1] // 2].repeat_interleave(2, dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                 pairwise: bool = False) -> torch.Tensor:
    """x: [..., hd] with cos/sin broadcastable to it, or narrower (a `partial_rotary_factor`,
    Phi-4-mini's, GLM's): the first dimensions rotate, the rest pass through, as transformers
    does; `pairwise` (GLM): in adjacent pairs, with tables made by `pairwise_table`. Computed in
    the tables' dtype where it is wider than x's (OLMo-2's rotary module returns float32
    tables, which its attention applies in float32) and cast back to x's."""
    rotate = rotate_pairs if pairwise else rotate_half
    rotary = cos.shape[-1]
    if rotary == x.shape[-1]:
        return (x * cos + rotate(x) * sin).to(x.dtype)
    head, tail = x[..., :rotary], x[..., rotary:]
    return torch.cat(((head * cos + rotate(head) * sin).to(x.dtype), tail), dim=-1)


def flex_attention_masked(q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                          mask: torch.Tensor, gqa: bool, scale: float | None = None,
                          softcap: float | None = None) -> torch.Tensor:
    """Attention of q [B, Hq, T, hd] over the static cache [B, Hkv, L, hd] where mask [T, L] is
    true, with flex_attention: the mask is applied as a score modification (scores of masked
    positions -inf), so no block mask has to follow the position from step to step and the
    step keeps its static shapes for the CUDA graph. `softcap` caps the scaled scores first,
    as Gemma-2's attention does. A float mask [Hq, T, L] is added to each head's scores
    instead (ALiBi's biases, -inf where masked: the decoder's `alibi_biases`)."""
    from torch.nn.attention.flex_attention import flex_attention

    def keep_visible(score, batch, head, q_idx, kv_idx):
        if softcap is not None:
            score = soft_cap(score, softcap)
        if mask.dtype != torch.bool:
            return score + mask[head, q_idx, kv_idx]
        return torch.where(mask[q_idx, kv_idx], score, -float("inf"))

    return flex_attention(q, keys, values, score_mod=keep_visible, enable_gqa=gqa, scale=scale)


# --------------------------------------------------------------------------- fused weights

def _consecutive(tensors: list[torch.Tensor]) -> bool:
    """True when the tensors are contiguous row blocks lying back to back in one storage."""
    first = tensors[0]
    ptr = first.untyped_storage().data_ptr()
    end = first.data_ptr()
    for t in tensors:
        if (not t.is_contiguous() or t.untyped_storage().data_ptr() != ptr
                or t.data_ptr() != end or t.dtype != first.dtype):
            return False
        end += t.numel() * t.element_size()
    return True


def fuse_rows(params: list[torch.Tensor]) -> torch.Tensor:
    """Concatenate parameters along dim 0 into one tensor and re-point each at its rows.

    After this the parameters are views of the fused tensor: the old separate tensors are freed
    (unless something else holds them), so fusing costs no memory beyond one block's transient
    copy. Parameters that are already consecutive views (an earlier decoder fused them) are
    reused as they are.
    """
    if len(params) == 1:  # already one tensor (Phi-3's packed projections)
        return params[0].detach()
    with torch.inference_mode(False), torch.no_grad():
        if _consecutive(params):
            first = params[0].detach()
            rows = sum(p.shape[0] for p in params)
            return first.as_strided((rows, *first.shape[1:]), first.stride())
        fused = torch.cat([p.detach() for p in params])
        start = 0
        for p in params:
            p.data = fused[start:start + p.shape[0]]
            start += p.shape[0]
        return fused


def unfuse(model: nn.Module) -> None:
    """Give every parameter that shares storage with another its own copy again.

    Saving with safetensors refuses parameters that are partial views of one storage, so call
    this before saving a model a decoder has fused (costs one tensor's copy at a time).
    """
    seen: dict[int, int] = {}
    params = list(model.parameters())
    for p in params:
        ptr = p.untyped_storage().data_ptr()
        seen[ptr] = seen.get(ptr, 0) + 1
    with torch.inference_mode(False), torch.no_grad():
        for p in params:
            if seen[p.untyped_storage().data_ptr()] > 1 and p.numel():
                p.data = p.detach().clone()


def fuse_linears(layers: list[nn.Linear]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(weight, bias) of one linear computing all `layers`' outputs side by side."""
    biases = [layer.bias for layer in layers]
    if any(b is None for b in biases) and not all(b is None for b in biases):
        raise PrunebenchError("cannot fuse projections where only some have a bias")
    weight = fuse_rows([layer.weight for layer in layers])
    bias = None if biases[0] is None else fuse_rows(biases)
    return weight, bias


def detach_or_none(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.detach()


class Block(nn.Module):
    """One decoder block's weights (fused) and KV cache, as buffers of this module.

    Buffers, so torch.compile treats them as static addresses (no copies under inductor's CUDA
    graphs) and our CUDA graph can update the cache in place.
    """

    def __init__(self, layer: nn.Module, head_dim: int, cache_shape: tuple[int, int, int],
                 fuse: bool, norm_style: str = "llama",
                 residual_multiplier: float | None = None, qk_norm_whole: bool = False,
                 rotate: bool = True, pairwise_rotary: bool = False, parallel: bool = False,
                 qk_norm_after_rotary: bool = False, outputs_first: bool = False,
                 float32_unscaled_scores: bool = False, post_ln: bool = False):
        super().__init__()
        attn, mlp = layer.self_attn, projections.block_mlp(layer)
        self.head_dim, self.fuse, self.norm_style = head_dim, fuse, norm_style
        self.residual_multiplier = residual_multiplier  # Granite: each sublayer's output
        # Cohere: the MLP reads the attention's normed input (no norm of its own), and both
        # outputs are added to the block's input; GPT-NeoX's parallel block norms the input
        # for its MLP apart (its post_attention_layernorm: `ln2` below)
        self.parallel = parallel
        # GPT-J's and Phi's parallel blocks add attention + MLP, then the input (Cohere's:
        # input + attention, then + MLP), which rounds otherwise
        self.outputs_first = outputs_first
        # OpenAI GPT's post-LN block: its ln1 (ln_1) norms input + attention, the MLP reads
        # that sum, and its ln2 (ln_2) norms that + MLP, the block's output; neither sublayer
        # reads a norm of its own input
        self.post_ln = post_ln
        # The norms before attention and before the MLP (LLaMA's post_attention_layernorm is
        # the one before the MLP), and those of the two outputs: Gemma-2's sandwich layout has
        # all four (its post_attention_layernorm is the attention output's), GLM-4's too
        # (under names of its own), OLMo-2's the output norms only.
        # (Apertus and VaultGemma name LLaMA's two norms otherwise: projections.block_norm;
        # VaultGemma's block holds Gemma-2's pre_feedforward_layernorm without its output norms.)
        sandwich = hasattr(layer, "post_feedforward_layernorm") and hasattr(
            layer, "pre_feedforward_layernorm")
        before_attention = projections.block_norm(layer, "input_layernorm")
        post_only = before_attention is None
        outputs = sandwich or post_only
        # (a parallel block holds a norm before its MLP where it norms the input apart:
        # GPT-NeoX's; Cohere's, StableLM's and Phi's hold none)
        norms = {"ln1": before_attention,
                 "ln2": (layer.pre_feedforward_layernorm if sandwich else None if post_only
                         else projections.block_norm(layer, "post_attention_layernorm")),
                 "ln_attn_out": layer.post_attention_layernorm if outputs else None,
                 "ln_mlp_out": layer.post_feedforward_layernorm if outputs else None}
        if hasattr(layer, "post_self_attn_layernorm"):  # GLM-4
            norms.update(ln_attn_out=layer.post_self_attn_layernorm,
                         ln_mlp_out=layer.post_mlp_layernorm)
        if hasattr(layer, "post_norm1"):  # HyperCLOVA X's Peri-LN, nn.Identity without use_post_norm
            norms.update({name: None if isinstance(norm, nn.Identity) else norm for name, norm
                          in (("ln_attn_out", layer.post_norm1), ("ln_mlp_out", layer.post_norm2))})
        if isinstance(before_attention, nn.Identity):  # ModernBERT-decoder's block 0: no norm
            norms["ln1"] = None
        self.eps = {}
        for name, norm in norms.items():
            self.register_buffer(name, None if norm is None else norm_weight(
                norm, projections.o_proj(attn).weight.device), persistent=False)
            # (StableLM's LayerNorms: their biases, as `<name>_b`)
            self.register_buffer(f"{name}_b", detach_or_none(getattr(norm, "bias", None)),
                                 persistent=False)
            self.eps[name] = None if norm is None else norm_eps(norm)
        self.n_q, self.n_kv = projections.attention_heads(attn, head_dim)
        # SmolLM3's NoPE blocks attend without rotary positions (the module's flag), and so
        # do EXAONE-4's global blocks of a hybrid config (`rotate`, from the decoder)
        self.rotate = rotate and bool(getattr(attn, "use_rope", True))
        self.pairwise_rotary = pairwise_rotary  # GLM: adjacent dimensions rotate together
        # Queries' scale (Gemma-2: query_pre_attn_scalar ** -0.5, not head_dim's; MPT's
        # softmax_scale, BLOOM's inv_norm_factor: their modules' names of it) and the soft cap
        # of the attention scores (Gemma-2), as the HF module holds them.
        self.scale = float(next((getattr(attn, name) for name in SCALE_NAMES
                                 if getattr(attn, name, None) is not None), head_dim ** -0.5))
        # What SDPA and flex are given: their own default where it is the model's scale (as
        # before scales other than 1 / sqrt(head_dim) existed here), else the model's.
        self.kernel_scale = None if self.scale == head_dim ** -0.5 else self.scale
        # GPT-Neo's scores: q . k in float32, unscaled (eager only: check_softcap_attention)
        self.scores_float32 = float32_unscaled_scores
        if float32_unscaled_scores:
            self.scale = self.kernel_scale = 1.0
        self.softcap = getattr(attn, "attn_logit_softcapping", None) if self.n_q else None
        # GraniteSWA's sink logit per query head (its output times sigmoid(logsumexp(scores)
        # - sink), as GraniteSWA's eager attention computes it; matmul + softmax only)
        self.register_buffer("sinks", detach_or_none(getattr(attn, "sinks", None))
                             if self.n_q else None, persistent=False)
        self.register_buffer("o_w", detach_or_none(projections.o_proj(attn).weight) if self.n_q else None,
                             persistent=False)
        self.register_buffer("o_b", detach_or_none(projections.o_proj(attn).bias), persistent=False)
        qkv_w = qkv_b = k_cache = v_cache = None
        if self.n_q:  # a cache of this block's own KV width; zero-head blocks get none
            qkv_w, qkv_b = fuse_linears([projections.get_part(attn, part)
                                         for part in projections.attention_inputs(attn)])
            if projections.qkv_layout(attn) != "runs":
                # GPT-NeoX's rows head by head, [q_0; k_0; v_0; q_1; ...] (Falcon's by KV
                # group in its new decoder architecture), taken as [q; k; v]
                # (each output computed alike, its place alone moved)
                rows = projections.attention_part_rows(attn, head_dim)
                order = torch.tensor([r for part in projections.ATTENTION_PARTS
                                      for r in rows[part]], device=qkv_w.device)
                qkv_w = qkv_w.index_select(0, order)
                qkv_b = None if qkv_b is None else qkv_b.index_select(0, order)
            batch, length, dtype = cache_shape
            shape = (batch, self.n_kv, length, head_dim)
            k_cache = torch.zeros(shape, device=qkv_w.device, dtype=dtype)
            v_cache = torch.zeros(shape, device=qkv_w.device, dtype=dtype)
        self.register_buffer("k_cache", k_cache, persistent=False)
        self.register_buffer("v_cache", v_cache, persistent=False)
        self.register_buffer("qkv_w", qkv_w, persistent=False)
        self.register_buffer("qkv_b", qkv_b, persistent=False)
        # Qwen3: RMSNorm over each query / key head (weights of size head_dim, shared by heads);
        # Hunyuan's, under other names, norm the rotated heads (`qk_norm_after_rotary`), and so
        # do nanochat's weightless ones.
        q_norm = getattr(attn, "q_norm", getattr(attn, "query_layernorm", None))
        k_norm = getattr(attn, "k_norm", getattr(attn, "key_layernorm", None))
        self.qk_norm_after_rotary = qk_norm_after_rotary
        device = projections.o_proj(attn).weight.device
        q_norm_w, self.q_norm_eps = qk_norm_weight(q_norm, getattr(attn, "q_layernorm", None),
                                                   device)
        k_norm_w, self.k_norm_eps = qk_norm_weight(k_norm, getattr(attn, "k_layernorm", None),
                                                   device)
        self.register_buffer("q_norm_w", q_norm_w, persistent=False)
        self.register_buffer("k_norm_w", k_norm_w, persistent=False)
        # Phi's q/k LayerNorms (shared by the heads) hold biases too
        for name in ("q", "k"):
            self.register_buffer(f"{name}_norm_b", detach_or_none(getattr(
                getattr(attn, f"{name}_layernorm", None), "bias", None)), persistent=False)
        # OLMo-2's q/k norms weigh every channel of the whole projection (Qwen3's: one head's),
        # as the family says: a pruned OLMo-2 block with one head left has head_dim of them.
        self.qk_norm_whole = q_norm is not None and qk_norm_whole
        self.qkv_split = [self.n_q * head_dim, self.n_kv * head_dim, self.n_kv * head_dim]
        # OLMo's clamp of the projected queries, keys and values (clip_qkv; OLMoE's is refused
        # with every mixture of experts); MPT's, which its attention holds and skips where 0
        # (MptAttention's `if self.clip_qkv`, OlmoAttention's `is not None`).
        self.clip_qkv = getattr(getattr(attn, "config", None), "clip_qkv", None)
        if self.clip_qkv is None:
            self.clip_qkv = getattr(attn, "clip_qkv", None) or None

        self.m = projections.mlp_width(mlp)
        # [gate; up] rows (fused, or Phi-3's packed module), or an ungated MLP's up rows alone
        inputs = [projections.get_part(mlp, part) for part in projections.mlp_inputs(mlp)]
        self.gated = projections.mlp_gated(mlp)
        self.mlp_split = [self.m, self.m] if self.gated else [self.m]
        gate_up_w, gate_up_b = fuse_linears(inputs) if self.m else (None, None)
        self.register_buffer("gate_up_w", gate_up_w, persistent=False)
        self.register_buffer("gate_up_b", gate_up_b, persistent=False)
        self.register_buffer("down_w", detach_or_none(projections.down_proj(mlp).weight) if self.m else None,
                             persistent=False)
        self.register_buffer("down_b", detach_or_none(projections.down_proj(mlp).bias), persistent=False)
        # (Phi-3's and Phi's name activation_fn, Starcoder2's act, Granite 4.0's activation,
        # BLOOM's gelu_impl, CTRL's nn.Sequential ffn its module 1, the ReLU)
        self.act = next(getattr(mlp, name) for name in ("act_fn", "activation_fn", "act",
                                                        "activation", "gelu_impl", "1")
                        if hasattr(mlp, name))

    def _project(self, h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                 split: list[int]) -> torch.Tensor:
        """h @ weight.T (+ bias): one GEMV, or (fuse=False) one per original projection."""
        if self.fuse:
            return F.linear(h, weight, bias)
        biases = [None] * len(split) if bias is None else bias.split(split)
        return torch.cat([F.linear(h, w, b) for w, b in zip(weight.split(split), biases)], -1)

    def attention(self, h: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                  pos: torch.Tensor, mask: torch.Tensor, kind: str,
                  query_scale: torch.Tensor | None = None) -> torch.Tensor:
        """`kind`: "sdpa" (PyTorch's kernels), "eager" (matmul, softmax, matmul) or "flex"
        (flex_attention: under torch.compile one generated kernel, split over the cache for a
        short query, as a decode step has). `query_scale` [T] (Ministral 3): each position's
        queries are multiplied by it after the rotation."""
        b, t, _ = h.shape
        n_q, n_kv = self.n_q, self.n_kv
        qkv = self._project(h, self.qkv_w, self.qkv_b, self.qkv_split)
        if self.clip_qkv is not None:
            qkv = qkv.clamp(min=-self.clip_qkv, max=self.clip_qkv)
        qkv = qkv.view(b, t, n_q + 2 * n_kv, self.head_dim)
        qk = qkv[:, :, :n_q + n_kv]
        if self.q_norm_w is not None and self.qk_norm_whole:  # OLMo-2: over all heads
            q_all = rms_norm(qk[:, :, :n_q].reshape(b, t, -1), self.q_norm_w, self.q_norm_eps,
                             self.norm_style)
            k_all = rms_norm(qk[:, :, n_q:].reshape(b, t, -1), self.k_norm_w, self.k_norm_eps,
                             self.norm_style)
            qk = torch.cat([q_all, k_all], dim=-1).view(b, t, n_q + n_kv, self.head_dim)
        elif self.q_norm_w is not None and not self.qk_norm_after_rotary:
            # per-head norm before the rotation (Qwen3; Cohere's weights one row per head,
            # which broadcast over the heads as its norm does)
            qk = self._head_norms(qk, n_q)
        if self.rotate:
            qk = apply_rotary(qk, cos, sin, self.pairwise_rotary)  # q and k together
        if self.q_norm_w is not None and self.qk_norm_after_rotary:  # Hunyuan: rotated heads
            qk = self._head_norms(qk, n_q)
        q = qk[:, :, :n_q].transpose(1, 2)
        if query_scale is not None:  # in the queries' dtype, as transformers multiplies
            q = q * query_scale.to(q.dtype).view(1, 1, t, 1)
        self.k_cache[:, :, pos] = qk[:, :, n_q:].transpose(1, 2)
        self.v_cache[:, :, pos] = qkv[:, :, n_q + n_kv:].transpose(1, 2)
        keys, values = self.k_cache, self.v_cache
        groups = n_q // n_kv
        if kind == "flex":
            out = flex_attention_masked(q, keys, values, mask, groups > 1, self.kernel_scale,
                                        self.softcap)
            out = out.transpose(1, 2).reshape(b, t, -1)
            return F.linear(out, self.o_w, self.o_b)
        if groups > 1:
            # Grouped-query attention: KV head j serves query heads j*groups .. j*groups+groups-1.
            # Fold those heads into the query length instead of repeating the cache, which
            # would copy the whole cache every step (a mask of a row per head folded alike).
            q = q.reshape(b, n_kv, groups * t, self.head_dim)
            mask = (mask.repeat(groups, 1) if mask.dtype == torch.bool
                    else mask.reshape(n_kv, groups * t, -1))
        if kind == "eager":
            scores = ((q.float() @ keys.float().transpose(-1, -2)) if self.scores_float32
                      else (q @ keys.transpose(-1, -2)) * self.scale)
            if self.softcap is not None:
                scores = soft_cap(scores, self.softcap)
            # (ALiBi's biases: a float mask [heads, T, L], -inf where masked, added in its
            # dtype as the model adds them: MPT's float32 scores, BLOOM's in the model's dtype)
            scores = (scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool
                      else scores + mask)
            probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
            out = probs @ values
            if self.sinks is not None:
                out = out * self._sink_scale(scores, groups, t).to(out.dtype)
        else:
            if self.softcap is not None:  # the decoder refuses this before any step
                raise PrunebenchError("SDPA cannot soft-cap attention scores: use eager or flex")
            if self.sinks is not None:  # (refused before any step too)
                raise PrunebenchError("SDPA cannot apply attention sinks: use eager")
            if self.scores_float32:  # (refused before any step too)
                raise PrunebenchError("SDPA cannot take GPT-Neo's float32 scores: use eager")
            out = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask,
                                                 scale=self.kernel_scale)
        out = out.reshape(b, n_q, t, self.head_dim).transpose(1, 2).reshape(b, t, -1)
        return F.linear(out, self.o_w, self.o_b)

    def _sink_scale(self, scores: torch.Tensor, groups: int, t: int) -> torch.Tensor:
        """Each query's factor sigmoid(logsumexp(scores) - sink) in float32 ([B, KV heads,
        groups x T, 1], as `attention` folds a KV group's query heads into its rows: head
        j x groups + g's query s at row g x T + s), the subtraction in the scores' dtype, as
        GraniteSWA's eager attention computes it."""
        sink = self.sinks.view(self.n_kv, groups, 1).expand(-1, -1, t).reshape(self.n_kv, -1)
        return (torch.logsumexp(scores, dim=-1) - sink).float().sigmoid().unsqueeze(-1)

    def _head_norms(self, qk: torch.Tensor, n_q: int) -> torch.Tensor:
        """The per-head q/k norms of [B, T, heads, hd] queries (the first n_q) and keys."""
        return torch.cat([rms_norm(qk[:, :, :n_q], self.q_norm_w, self.q_norm_eps,
                                   self.norm_style, self.q_norm_b),
                          rms_norm(qk[:, :, n_q:], self.k_norm_w, self.k_norm_eps,
                                   self.norm_style, self.k_norm_b)], dim=2)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, pos: torch.Tensor,
                mask: torch.Tensor, attention: str,
                query_scale: torch.Tensor | None = None) -> torch.Tensor:
        if self.post_ln:
            return self._post_ln_forward(x, cos, sin, pos, mask, attention, query_scale)
        normed = self._norm(x, "ln1") if self.n_q or self.parallel else None
        attn = None
        if self.n_q:
            attn = self._output_norm(self.attention(normed, cos, sin, pos, mask, attention,
                                                    query_scale), "ln_attn_out")
        elif self.o_b is not None:  # no heads: the attention output is the o_proj bias
            attn = self._output_norm(self.o_b.expand_as(x), "ln_attn_out")
        # (Without a bias, an empty attention or MLP outputs zeros, which a norm keeps zero.)
        if self.parallel and (self.ln2 is not None or self.outputs_first):
            # GPT-NeoX: the MLP reads its own norm of the block's input, and the block adds
            # mlp + attention + input, transformers' order (GPT-J's MLP reads the attention's
            # norm, its sum attention + MLP + input, Phi's too: the same, addition commuting)
            h = self._norm(x, "ln2") if self.ln2 is not None else normed
            mlp = self._mlp(x, h if self.m else None)
            outputs = [out for out in (mlp, attn) if out is not None]
            return x if not outputs else sum(outputs[1:], outputs[0]) + x
        if attn is not None:
            x = x + attn
        # (x + attention) + MLP, in transformers' order of Cohere's parallel block's sum too
        mlp = self._mlp(x, (normed if self.parallel else self._norm(x, "ln2")) if self.m else None)
        return x if mlp is None else x + mlp

    def _post_ln_forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                         pos: torch.Tensor, mask: torch.Tensor, attention: str,
                         query_scale: torch.Tensor | None) -> torch.Tensor:
        """OpenAI GPT's block: ln_1(x + attention(x)), then ln_2(h + MLP(h)) of that h (an
        empty sublayer's output its bias, or nothing: the norm still applies)."""
        attn = (self.attention(x, cos, sin, pos, mask, attention, query_scale) if self.n_q
                else None if self.o_b is None else self.o_b.expand_as(x))
        h = self._norm(x if attn is None else x + attn, "ln1")
        mlp = self._mlp(h, h if self.m else None)
        return self._norm(h if mlp is None else h + mlp, "ln2")

    def _mlp(self, x: torch.Tensor, h: torch.Tensor | None) -> torch.Tensor | None:
        """The MLP's output (normed where the layout norms it) for its normed input `h`; a
        zero-channel MLP's is its down_proj bias, or None without one."""
        if self.m:
            gate_up = self._project(h, self.gate_up_w, self.gate_up_b, self.mlp_split)
            # (ungated: act(up), relu2 in Arcee and Nemotron; Apertus's xIELU, the MLP's own
            # module with its learned scalars)
            inner = (self.act(gate_up[..., :self.m]) * gate_up[..., self.m:] if self.gated
                     else self.act(gate_up))
            return self._output_norm(F.linear(inner, self.down_w, self.down_b), "ln_mlp_out")
        if self.down_b is not None:  # zero-channel MLP: its output is the down_proj bias
            return self._output_norm(self.down_b.expand_as(x), "ln_mlp_out")
        return None

    def _norm(self, x: torch.Tensor, name: str) -> torch.Tensor:
        weight = getattr(self, name)
        return x if weight is None else rms_norm(x, weight, self.eps[name], self.norm_style,
                                                 getattr(self, f"{name}_b"))

    def _output_norm(self, out: torch.Tensor, name: str) -> torch.Tensor:
        """A sublayer's output as the residual stream adds it: normed where the layout norms it
        (Gemma-2/3, OLMo-2/3), scaled where the model scales it (Granite), else as it is."""
        if getattr(self, name) is not None:
            out = self._norm(out, name)
        if self.residual_multiplier is not None:
            out = out * self.residual_multiplier
        return out
