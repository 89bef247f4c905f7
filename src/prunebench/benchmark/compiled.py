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

Sampling (prunebench.benchmark.sampling, the same top-k / top-p / temperature as the `hf` backend) stays
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
from prunebench.benchmark.fused_block import Block, detach_or_none, rms_norm
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

    `sampling` (prunebench.benchmark.sampling.Sampling; None: greedy) samples every token, the first one
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
        self.register_buffer("head_b", detach_or_none(model.lm_head.bias), persistent=False)
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
            raise PrunebenchError(f"sampling must be a prunebench.benchmark.sampling.Sampling or None "
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
