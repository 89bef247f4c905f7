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
scaling (LLaMA-3's) comes with the rotary tables of the model's own rotary module. Sliding-window
attention is not implemented: a model whose window is shorter than the decoder's length is
refused (no benchmark length comes near the 4096-token windows of the published models).

The step is written without host synchronisation (no `.item()`, no data-dependent shapes): the
position is a device tensor, the cache write is an indexed store, and attention reads the whole
static cache under a mask of the positions filled so far.

Sampling (prunebench.sampling, the same top-k / top-p / temperature as the `hf` backend) stays
on the device too: the step takes a tensor of Exponential(1) noise drawn from the decoder's own
generator and returns the sampled token as a device tensor, which the next step reads directly.
The noise is drawn outside the compiled function (dynamo does not trace a generator) but inside
our CUDA graph, which replays the draw from the generator's advancing state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from prunebench import PrunebenchError
from prunebench.sampling import Sampling, exponential_noise, sample

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
COMPILE_KWARGS = {
    "compile-graph": {"fullgraph": True},
    "autotune-graph": {"mode": "max-autotune-no-cudagraphs", "fullgraph": True},
    "reduce-overhead": {"mode": "reduce-overhead", "fullgraph": True},
    "compile": {"mode": "reduce-overhead", "fullgraph": True},
}

# The cache length is padded so the attention mask's last dim is aligned (memory-efficient
# SDPA otherwise pads the mask on every call); padded positions are always masked out.
CACHE_ALIGN = 16


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """LLaMA RMSNorm as HF computes it: float32 statistics, cast back, then the weight."""
    h = F.rms_norm(x.to(torch.float32), (x.shape[-1],), eps=eps)
    return weight * h.to(x.dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x: [..., hd] with cos/sin broadcastable to it."""
    return x * cos + rotate_half(x) * sin


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
    with torch.inference_mode(False), torch.no_grad():
        if len(params) > 1 and _consecutive(params):
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


def _detach(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.detach()


class Block(nn.Module):
    """One decoder block's weights (fused) and KV cache, as buffers of this module.

    Buffers, so torch.compile treats them as static addresses (no copies under inductor's CUDA
    graphs) and our CUDA graph can update the cache in place.
    """

    def __init__(self, layer: nn.Module, head_dim: int, cache_shape: tuple[int, int, int],
                 fuse: bool):
        super().__init__()
        attn, mlp = layer.self_attn, layer.mlp
        self.head_dim, self.fuse = head_dim, fuse
        self.eps1 = layer.input_layernorm.variance_epsilon
        self.eps2 = layer.post_attention_layernorm.variance_epsilon
        self.register_buffer("ln1", layer.input_layernorm.weight.detach(), persistent=False)
        self.register_buffer("ln2", layer.post_attention_layernorm.weight.detach(),
                             persistent=False)
        self.n_q = attn.q_proj.out_features // head_dim if hasattr(attn, "q_proj") else 0
        self.n_kv = attn.k_proj.out_features // head_dim if self.n_q else 0
        self.register_buffer("o_w", _detach(attn.o_proj.weight) if self.n_q else None,
                             persistent=False)
        self.register_buffer("o_b", _detach(attn.o_proj.bias), persistent=False)
        qkv_w = qkv_b = k_cache = v_cache = None
        if self.n_q:  # a cache of this block's own KV width; zero-head blocks get none
            qkv_w, qkv_b = fuse_linears([attn.q_proj, attn.k_proj, attn.v_proj])
            batch, length, dtype = cache_shape
            shape = (batch, self.n_kv, length, head_dim)
            k_cache = torch.zeros(shape, device=qkv_w.device, dtype=dtype)
            v_cache = torch.zeros(shape, device=qkv_w.device, dtype=dtype)
        self.register_buffer("k_cache", k_cache, persistent=False)
        self.register_buffer("v_cache", v_cache, persistent=False)
        self.register_buffer("qkv_w", qkv_w, persistent=False)
        self.register_buffer("qkv_b", qkv_b, persistent=False)
        # Qwen3: RMSNorm over each query / key head (weights of size head_dim, shared by heads).
        q_norm, k_norm = getattr(attn, "q_norm", None), getattr(attn, "k_norm", None)
        self.register_buffer("q_norm_w", _detach(q_norm.weight) if q_norm is not None else None,
                             persistent=False)
        self.register_buffer("k_norm_w", _detach(k_norm.weight) if k_norm is not None else None,
                             persistent=False)
        self.q_norm_eps = q_norm.variance_epsilon if q_norm is not None else None
        self.k_norm_eps = k_norm.variance_epsilon if k_norm is not None else None
        self.qkv_split = [self.n_q * head_dim, self.n_kv * head_dim, self.n_kv * head_dim]

        self.m = mlp.gate_proj.out_features
        gate_up_w, gate_up_b = fuse_linears([mlp.gate_proj, mlp.up_proj]) if self.m else (None,
                                                                                          None)
        self.register_buffer("gate_up_w", gate_up_w, persistent=False)
        self.register_buffer("gate_up_b", gate_up_b, persistent=False)
        self.register_buffer("down_w", _detach(mlp.down_proj.weight) if self.m else None,
                             persistent=False)
        self.register_buffer("down_b", _detach(mlp.down_proj.bias), persistent=False)
        self.act = mlp.act_fn

    def _project(self, h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                 split: list[int]) -> torch.Tensor:
        """h @ weight.T (+ bias): one GEMV, or (fuse=False) one per original projection."""
        if self.fuse:
            return F.linear(h, weight, bias)
        biases = [None] * len(split) if bias is None else bias.split(split)
        return torch.cat([F.linear(h, w, b) for w, b in zip(weight.split(split), biases)], -1)

    def attention(self, h: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                  pos: torch.Tensor, mask: torch.Tensor, eager: bool) -> torch.Tensor:
        b, t, _ = h.shape
        n_q, n_kv = self.n_q, self.n_kv
        qkv = self._project(h, self.qkv_w, self.qkv_b, self.qkv_split)
        qkv = qkv.view(b, t, n_q + 2 * n_kv, self.head_dim)
        qk = qkv[:, :, :n_q + n_kv]
        if self.q_norm_w is not None:  # per-head norm before the rotation (Qwen3)
            qk = torch.cat([rms_norm(qk[:, :, :n_q], self.q_norm_w, self.q_norm_eps),
                            rms_norm(qk[:, :, n_q:], self.k_norm_w, self.k_norm_eps)], dim=2)
        qk = apply_rotary(qk, cos, sin)  # q and k rotated together
        q = qk[:, :, :n_q].transpose(1, 2)
        self.k_cache[:, :, pos] = qk[:, :, n_q:].transpose(1, 2)
        self.v_cache[:, :, pos] = qkv[:, :, n_q + n_kv:].transpose(1, 2)
        keys, values = self.k_cache, self.v_cache
        groups = n_q // n_kv
        if groups > 1:
            # Grouped-query attention: KV head j serves query heads j*groups .. j*groups+groups-1.
            # Fold those heads into the query length instead of repeating the cache, which
            # would copy the whole cache every step.
            q = q.reshape(b, n_kv, groups * t, self.head_dim)
            mask = mask.repeat(groups, 1)
        if eager:
            scores = (q @ keys.transpose(-1, -2)) * self.head_dim ** -0.5
            scores = scores.masked_fill(~mask, float("-inf"))
            probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
            out = probs @ values
        else:
            out = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)
        out = out.reshape(b, n_q, t, self.head_dim).transpose(1, 2).reshape(b, t, -1)
        return F.linear(out, self.o_w, self.o_b)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, pos: torch.Tensor,
                mask: torch.Tensor, eager_attention: bool) -> torch.Tensor:
        if self.n_q:
            h = rms_norm(x, self.ln1, self.eps1)
            x = x + self.attention(h, cos, sin, pos, mask, eager_attention)
        elif self.o_b is not None:  # no heads: the attention output is the o_proj bias
            x = x + self.o_b
        if self.m:
            h = rms_norm(x, self.ln2, self.eps2)
            gate_up = self._project(h, self.gate_up_w, self.gate_up_b, [self.m, self.m])
            inner = self.act(gate_up[..., :self.m]) * gate_up[..., self.m:]
            x = x + F.linear(inner, self.down_w, self.down_b)
        elif self.down_b is not None:  # zero-channel MLP: its output is the down_proj bias
            x = x + self.down_b
        return x


# --------------------------------------------------------------------------- the decoder

def check_no_sliding_window(model: nn.Module, max_seq_len: int) -> None:
    """Refuse a model whose sliding attention window would cut into `max_seq_len` tokens.

    The decoder attends to every cached position; with a window at least as long as the
    sequence, sliding-window attention is the same thing, so only shorter windows are refused.
    """
    config = model.config
    windows = [getattr(layer.self_attn, "sliding_window", None) for layer in model.model.layers]
    if getattr(config, "model_type", None) == "mistral":  # MistralAttention reads the config
        windows.append(getattr(config, "sliding_window", None))
    windows = [w for w in windows if w is not None]
    if windows and min(windows) < max_seq_len:
        raise PrunebenchError(
            f"the model uses sliding-window attention over {min(windows)} tokens, shorter than "
            f"the {max_seq_len} tokens of this benchmark cell: the compiled backend implements "
            "full attention only; use the hf backend for this cell, or shorter token configs")


class StaticDecoder(nn.Module):
    """Greedy (or sampled) decoding of a LlamaForCausalLM for a fixed batch size and length.

    `fuse=False` keeps one GEMV per original projection (q, k, v, gate, up: the layout before
    fusion, for comparison); the weights are stored fused either way.

    `sampling` (prunebench.sampling.Sampling; None: greedy) samples every token, the first one
    included, from a generator of the decoder's device that `generate` seeds with `seed` at the
    start of every call, so a call's tokens depend only on the seed.
    """

    def __init__(self, model: nn.Module, batch_size: int, max_seq_len: int, *,
                 mode: str = "auto", attention: str = "sdpa",
                 compile_kwargs: dict | None = None, fuse: bool = True,
                 sampling: Sampling | None = None, seed: int = 0):
        super().__init__()
        if mode not in MODES:
            raise PrunebenchError(f"unknown compiled-backend mode {mode!r}: choose one of {MODES}")
        if attention not in ("sdpa", "eager"):
            raise PrunebenchError(f"static decoder attention must be 'sdpa' or 'eager', "
                                  f"not {attention!r}")
        # A plain attribute, not a submodule: the step reads only this module's buffers.
        object.__setattr__(self, "model", model)
        self.attention = attention
        self.fuse = fuse
        config = model.config
        emb = model.model.embed_tokens.weight
        device, dtype = emb.device, emb.dtype
        if mode == "auto":
            mode = "cuda-graph" if device.type == "cuda" else "eager"
        if (mode in GRAPH_MODES or mode == "reduce-overhead") and device.type != "cuda":
            raise PrunebenchError(f"compiled-backend mode {mode!r} needs a CUDA device (the model "
                                  f"is on {device}); use mode 'eager' on CPU")
        self.mode = mode
        self.head_dim = getattr(config, "head_dim", None) or (
            config.hidden_size // config.num_attention_heads)
        self.batch_size = batch_size
        self.max_seq_len = max_seq_len
        check_no_sliding_window(model, max_seq_len)
        cache_len = -(-max_seq_len // CACHE_ALIGN) * CACHE_ALIGN

        self.register_buffer("embed", emb.detach(), persistent=False)
        self.register_buffer("norm_w", model.model.norm.weight.detach(), persistent=False)
        self.norm_eps = model.model.norm.variance_epsilon
        self.register_buffer("head_w", model.lm_head.weight.detach(), persistent=False)
        self.register_buffer("head_b", _detach(model.lm_head.bias), persistent=False)
        # Rotary tables from the model's own rotary module, so any rope scaling it implements
        # (e.g. LLaMA-3's) is reproduced exactly; indexed by position in the step.
        positions = torch.arange(cache_len, device=device)
        with torch.no_grad():
            cos, sin = model.model.rotary_emb(emb[:1].unsqueeze(0), positions.unsqueeze(0))
        self.register_buffer("cos", cos[0].to(dtype), persistent=False)
        self.register_buffer("sin", sin[0].to(dtype), persistent=False)
        self.register_buffer("positions", positions, persistent=False)
        # The output length is forced, so EOS can never be chosen (HF's min_new_tokens does the
        # same by masking it); without this the two backends would differ after any EOS.
        eos = config.eos_token_id
        eos = [] if eos is None else [eos] if isinstance(eos, int) else list(eos)
        self.register_buffer("suppressed", torch.tensor(eos, dtype=torch.long, device=device),
                             persistent=False)

        self.blocks = nn.ModuleList(Block(layer, self.head_dim, (batch_size, cache_len, dtype),
                                          fuse) for layer in model.model.layers)
        self.n_heads = [block.n_q for block in self.blocks]

        if sampling is not None and not isinstance(sampling, Sampling):
            raise PrunebenchError(f"sampling must be a prunebench.sampling.Sampling or None "
                                  f"(greedy), not {sampling!r}")
        self.sampling = sampling
        self.seed = seed
        self.vocab_size = self.head_w.shape[0]
        self.generator = torch.Generator(device=device) if sampling is not None else None

        self.compile_kwargs = dict(compile_kwargs or COMPILE_KWARGS.get(mode, {}))
        self._graph = None
        self._step: Callable = self._decode_step
        if mode not in ("eager", "cuda-graph"):
            self._step = torch.compile(self._decode_step, **self.compile_kwargs)

    # ------------------------------------------------------------------ the forward pass

    def forward(self, tokens: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """Run `tokens` [B, T] at positions `pos` [T]; return the last position's logits."""
        x = F.embedding(tokens, self.embed)
        # [T, 1, hd]: broadcast over batch and heads of the [B, T, heads, hd] projections.
        cos = self.cos.index_select(0, pos).unsqueeze(1)
        sin = self.sin.index_select(0, pos).unsqueeze(1)
        mask = self.positions.unsqueeze(0) <= pos.unsqueeze(1)  # [T, cache_len], causal
        eager = self.attention == "eager"
        for block in self.blocks:
            x = block(x, cos, sin, pos, mask, eager)
        x = rms_norm(x[:, -1], self.norm_w, self.norm_eps)
        return F.linear(x, self.head_w, self.head_b)

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
        # CUDA graphs require. It writes position 0 of the caches; the prefill overwrites it.
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(3):
                self._step(self._static_token, self._static_pos, self.noise())
        torch.cuda.current_stream().wait_stream(stream)
        with torch.cuda.graph(graph):
            self._static_out = self._step(self._static_token, self._static_pos, self.noise())
        self._graph = graph

    def prepare(self) -> None:
        """Capture / compile the decode step before timing (call inside the attention context).

        It runs the step at position 0, which the prefill overwrites before it is ever read.
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
        token = self.next_token(self.forward(input_ids, self.positions[:length]), self.noise())
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
        return self.forward(input_ids, self.positions[:input_ids.shape[1]])
