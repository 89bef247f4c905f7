"""Generation benchmarks: a batch-size sweep per model and token config, two backends.

`hf` follows the paper's protocol (Kim et al. 2024): the same exact-length prompt repeated
batch-size times, HF `generate` with the output length forced, the whole call timed with device
synchronisation, warm-up runs then timed runs, throughput = batch * output tokens / latency.
`compiled` (static_decode.py) decodes with a static per-block KV cache and a CUDA-graph
(or torch.compile) decode step: what the hardware allows rather than what Python allows. Both
decode greedily, or both sample with the study's settings (prunebench.sampling.STUDY_SAMPLING).

Every timed run also records when each output token was ready (CUDA events on GPU, which add no
synchronisation; perf_counter on CPU). From those marks come the time to first token (prefill)
and the mean decode step, measured inside the same runs as the latency rather than derived from
it. Each decode step is compared with a bandwidth floor (bytes that must be read per step /
measured copy bandwidth) so that a pathological kernel choice shows up
(docs/benchmarks.md, "Bandwidth floor").
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from prunebench import PrunebenchError
from prunebench.atomic import read_json, write_json
from prunebench.interference import CompetitionMeter, machine_lock
from prunebench.logs import Progress
from prunebench.oom import free_memory, is_out_of_memory
from prunebench.modeling import (block_param_count, head_dim, layer_shapes, resolve_device,
                                 resolve_dtype)
from prunebench.provenance import device_info, package_versions, provenance
from prunebench.sampling import STUDY_SAMPLING, Sampling
from prunebench.timing_stats import (ci_share, coefficient_of_variation, is_unstable, mean_ci95,
                                     percentile, repeat_until_stable)

log = logging.getLogger(__name__)

BACKENDS = ("hf", "compiled")
DEFAULT_BATCH_SIZES = (1, 8, 16, 32, 64, 128, 256)
# A batch-1 decode step slower than this many bandwidth floors is flagged as an anomaly.
FLOOR_FLAG_FACTOR = 10.0
OOM = "oom"  # status of the batch size that ran out of memory (the sweep's last row)
# A row whose 95% interval of the mean latency is wider than this share of the mean is unstable.
DEFAULT_CI_TARGET = 0.05

# The paper's 12-token prompt (12 tokens with BOS under the LLaMA tokenizer) opens the text, so the
# 12-token prompt is the paper's; the rest is our own, long enough for the 82-token config.
PROMPT_TEXT = (
    "The Leaning Tower of Pisa is known for its unintended tilt, which began while it was still "
    "being built in the twelfth century, when the soft ground on one side could not carry the "
    "weight of the stone. The builders tried to correct it by making the upper floors a little "
    "taller on the sinking side, so the tower is in fact gently curved. Late in the twentieth "
    "century engineers drew soil from under the raised side of the foundation and halved the "
    "lean, and visitors still climb the narrow spiral stairs to look out over the cathedral "
    "square and the red roofs of the city."
)
# Ids below this are special in LLaMA vocabularies (0 unk/pad, 1 BOS, 2 EOS).
FIRST_ORDINARY_ID = 3

# attention name -> SDPA backends it allows (None: no restriction / not SDPA).
ATTENTION = {
    "sdpa": None,  # PyTorch's own dispatch: on CUDA it may pick a pathologically slow kernel
    "flash-efficient": ("FLASH_ATTENTION", "EFFICIENT_ATTENTION"),
    "flash": ("FLASH_ATTENTION",),
    "efficient": ("EFFICIENT_ATTENTION",),
    "math": ("MATH",),
    "cudnn": ("CUDNN_ATTENTION",),
    "eager": None,  # HF's / our own matmul + softmax, no SDPA at all
}


# --------------------------------------------------------------------------- resolution

def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def resolve_attention(attention: str, device: torch.device) -> str:
    """'auto' pins flash / memory-efficient SDPA on CUDA and leaves CPU to PyTorch."""
    if attention == "auto":
        return "flash-efficient" if device.type == "cuda" else "sdpa"
    if attention not in ATTENTION:
        raise PrunebenchError(f"unknown attention backend {attention!r}: choose 'auto' or one of "
                              f"{sorted(ATTENTION)}")
    return attention


@contextlib.contextmanager
def attention_context(attention: str) -> Iterator[None]:
    """Restrict SDPA to the named kernels for everything run inside (capture included)."""
    names = ATTENTION[attention]
    if names is None:
        yield
        return
    from torch.nn.attention import SDPBackend, sdpa_kernel

    backends = [getattr(SDPBackend, n) for n in names if hasattr(SDPBackend, n)]
    if not backends:
        raise PrunebenchError(f"attention backend {attention!r} is not available in torch "
                              f"{torch.__version__}; choose another")
    with sdpa_kernel(backends):
        yield


def set_hf_attention(model, attention: str) -> str:
    """Make the HF model use SDPA (or eager attention); return what its config now says."""
    impl = "eager" if attention == "eager" else "sdpa"
    try:
        model.set_attn_implementation(impl)
    except (AttributeError, ValueError, TypeError) as exc:  # older transformers
        log.debug("set_attn_implementation unavailable (%s); setting the config", exc)
        model.config._attn_implementation = impl
    return model.config._attn_implementation


def attention_kernels(fn: Callable[[], Any]) -> list[str]:
    """Names of the attention operators that actually ran during fn(), from the profiler."""
    from torch.profiler import ProfilerActivity, profile

    # The profiler's library (Kineto) prints `USDT: ... profiler_start` / `profiler_stop` to
    # stderr at every use; USDT is its highest level, so only a level above all of them
    # silences it. Read once, when the profiler first starts; a value the user set is kept.
    os.environ.setdefault("KINETO_LOG_LEVEL", "6")

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    keys = ("scaled_dot_product", "flash_attention", "efficient_attention", "cudnn_attention")
    return sorted({e.name for e in prof.events() if any(k in e.name for k in keys)})


# --------------------------------------------------------------------------- prompts

def make_prompt(tokenizer, n_tokens: int, vocab_size: int, seed: int = 0,
                bos_token_id: int | None = 1) -> torch.Tensor:
    """An exact-length prompt, BOS first: fixed natural text, or random ids without a tokenizer.

    With a tokenizer, PROMPT_TEXT is tokenised and truncated (or repeated) to exactly n tokens,
    so the prompt is fixed per model. Random models have no tokenizer: their prompt is
    deterministic random ordinary (non-special) ids.
    """
    if n_tokens < 1:
        raise PrunebenchError(f"prompt length must be at least 1 token, got {n_tokens}")
    if tokenizer is not None:
        bos = tokenizer.bos_token_id
        body = tokenizer(PROMPT_TEXT, add_special_tokens=False)["input_ids"]
        if not body:
            raise PrunebenchError("the tokenizer turns the benchmark prompt into no tokens; "
                                  "check that it is a text tokenizer for this model")
    else:
        bos = bos_token_id
        if vocab_size <= FIRST_ORDINARY_ID:
            raise PrunebenchError(f"vocab_size {vocab_size} leaves no ordinary token ids for a "
                                  "random prompt; use a model with a larger vocabulary")
        gen = torch.Generator().manual_seed(seed)
        body = torch.randint(FIRST_ORDINARY_ID, vocab_size, (n_tokens,), generator=gen).tolist()
    ids = [bos] if bos is not None else []
    while len(ids) < n_tokens:
        ids.extend(body)
    return torch.tensor(ids[:n_tokens], dtype=torch.long)


# --------------------------------------------------------------------------- bandwidth floor

def _element_size(dtype: str | torch.dtype) -> int:
    return torch.empty((), dtype=resolve_dtype(dtype)).element_size()


def weight_bytes(config, dtype: str | torch.dtype) -> int:
    """Bytes of weights one decode step must read: every block, the final norm, the LM head.

    Per-block shapes (width pruning, zero-head blocks) come from `layer_shapes`. The embedding
    table is not read in full (only batch rows), so it is left out; the LM head is read in full
    (with tied embeddings it is that same table, counted once).
    """
    params = sum(block_param_count(config, s) for s in layer_shapes(config))
    params += config.hidden_size + config.vocab_size * config.hidden_size
    return params * _element_size(dtype)


def kv_cache_bytes(config, batch: int, seq_len: int, dtype: str | torch.dtype) -> int:
    """Bytes of keys and values held for `seq_len` positions (read once per decode step).

    Each block holds its own KV heads; blocks with zero heads hold none.
    """
    hd = head_dim(config)
    kv_heads = sum(s["num_key_value_heads"] for s in layer_shapes(config)
                   if s["num_attention_heads"] > 0)
    return 2 * batch * seq_len * kv_heads * hd * _element_size(dtype)


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


# --------------------------------------------------------------------------- timing helpers

def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class StepClock:
    """Marks when each output token is ready, relative to the start of the call.

    On CUDA the marks are events recorded on the stream: they add no synchronisation, so timing
    a run this way does not change it; they are read after the final synchronize.
    """

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self._start = None
        self._marks: list = []

    def _now(self):
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        return time.perf_counter()

    def start(self) -> None:
        self._start = self._now()
        self._marks = []

    def mark(self) -> None:
        self._marks.append(self._now())

    def times(self) -> list[float]:
        """Seconds from start to each mark (call after synchronising)."""
        if self.cuda:
            return [self._start.elapsed_time(m) / 1000 for m in self._marks]
        return [m - self._start for m in self._marks]


class PeakMemory:
    """Peak memory while the block runs: CUDA allocator peak, or sampled process RSS on CPU."""

    def __init__(self, device: torch.device, interval_s: float = 0.005):
        self.device = device
        self.interval_s = interval_s
        self.peak_bytes: int | None = None
        if device.type == "cuda":
            self.method = "torch.cuda.max_memory_allocated"
        elif os.path.exists("/proc/self/statm"):
            self.method = f"process RSS peak (sampled every {interval_s * 1000:.0f} ms)"
        else:
            self.method = "process RSS high-water mark (ru_maxrss, whole process lifetime)"

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes or 0, self._rss())
            self._stop.wait(self.interval_s)

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        elif self.method.startswith("process RSS peak"):
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak_bytes = torch.cuda.max_memory_allocated(self.device)
        elif self.method.startswith("process RSS peak"):
            self._stop.set()
            self._thread.join()
            self.peak_bytes = max(self.peak_bytes or 0, self._rss())
        else:
            import resource

            self.peak_bytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return False


# --------------------------------------------------------------------------- backends

class HFRunner:
    """HF `generate` with the output length forced (the paper's protocol)."""

    def __init__(self, model, output_tokens: int, *, sampling: Sampling | None = None):
        from transformers import LogitsProcessor

        self.model = model
        self.output_tokens = output_tokens
        config = model.config
        # Passed as generate() kwargs so they override any generation_config a checkpoint ships
        # (e.g. do_sample=True with temperature 0.6). min = max new tokens masks EOS until the
        # last step, so the requested length is honoured.
        self.kwargs = dict(max_new_tokens=output_tokens, min_new_tokens=output_tokens,
                           do_sample=False, num_beams=1, use_cache=True,
                           pad_token_id=config.pad_token_id if config.pad_token_id is not None
                           else 0, eos_token_id=config.eos_token_id)
        if sampling is not None:
            self.kwargs.update(sampling.hf_kwargs())

        class ClockProcessor(LogitsProcessor):
            """Called once per generated token, after that token's forward: marks the clock."""

            def __init__(self, clock: StepClock):
                self.clock = clock

            def __call__(self, input_ids, scores):
                self.clock.mark()
                return scores

        self._clock_processor = ClockProcessor

    def prepare(self, batch_size: int, seq_len: int) -> None:
        pass

    def release(self) -> None:
        pass

    def generate(self, input_ids, attention_mask, clock: StepClock | None = None):
        from transformers import LogitsProcessorList

        processors = LogitsProcessorList([self._clock_processor(clock)] if clock else [])
        with torch.inference_mode():
            if clock:
                clock.start()
            return self.model.generate(input_ids=input_ids, attention_mask=attention_mask,
                                       logits_processor=processors, **self.kwargs)


class CompiledRunner:
    """Decoding with a static per-block KV cache (static_decode.StaticDecoder).

    `mode` is one of static_decode.MODES; `fuse=False` issues one GEMV per original projection
    (for comparison); `compile_kwargs` override torch.compile's arguments in the compile modes.
    `sampling` (None: greedy) and `seed`: every call samples from a generator seeded with `seed`.
    """

    def __init__(self, model, output_tokens: int, *, mode: str = "auto",
                 attention: str = "sdpa", fuse: bool = True,
                 compile_kwargs: dict | None = None, sampling: Sampling | None = None,
                 seed: int = 0):
        self.model = model
        self.output_tokens = output_tokens
        if mode == "auto":
            mode = "cuda-graph" if model.device.type == "cuda" else "eager"
        self.mode = mode
        self.attention = "eager" if attention == "eager" else "sdpa"
        self.fuse = fuse
        self.compile_kwargs = compile_kwargs
        self.sampling = sampling
        self.seed = seed
        self.decoder = None
        self.fallback: str | None = None  # why capture failed, when it did

    def _decoder(self, batch_size: int, seq_len: int, mode: str):
        from prunebench.static_decode import StaticDecoder

        if mode not in ("eager", "cuda-graph"):
            # Each decoder is a new `self` for the same step function: without a reset, dynamo's
            # recompile limit would be reached after a few batch sizes and it would fall back
            # to eager silently.
            import torch._dynamo

            torch._dynamo.reset()
        return StaticDecoder(self.model, batch_size, seq_len, mode=mode,
                             attention=self.attention, fuse=self.fuse,
                             compile_kwargs=self.compile_kwargs, sampling=self.sampling,
                             seed=self.seed)

    def prepare(self, batch_size: int, seq_len: int) -> None:
        self.decoder = None  # free the previous batch size's cache and graph first
        self.decoder = self._decoder(batch_size, seq_len, self.mode)
        try:
            self.decoder.prepare()
        except Exception as exc:
            if is_out_of_memory(exc) or self.mode == "eager":
                raise
            # Keep the benchmark alive but say plainly that this row was not captured.
            log.warning("decode step capture (%s) failed, running eagerly: %s", self.mode, exc)
            self.fallback = f"{self.mode} failed: {type(exc).__name__}: {str(exc)[:200]}"
            self.mode = "eager"  # later batch sizes run eagerly too
            self.decoder = self._decoder(batch_size, seq_len, "eager")

    def release(self) -> None:
        self.decoder = None

    def generate(self, input_ids, attention_mask, clock: StepClock | None = None):
        # Every prompt in the batch is the same full-length prompt, so no padding exists and
        # the attention mask is all ones; the static decoder masks by position instead.
        if clock:
            clock.start()
        return self.decoder.generate(input_ids, self.output_tokens,
                                     on_token=clock.mark if clock else None)


# --------------------------------------------------------------------------- the sweep

def _measure_batch(runner, prompt: torch.Tensor, batch_size: int, *, output_tokens: int,
                   warmup: int, repeats: int, device: torch.device,
                   max_repeats: int | None = None, max_seconds: float = float("inf"),
                   ci_target: float = DEFAULT_CI_TARGET) -> dict[str, Any]:
    input_ids = prompt.to(device).unsqueeze(0).repeat(batch_size, 1)
    attention_mask = torch.ones_like(input_ids)
    expected = (batch_size, input_ids.shape[1] + output_tokens)
    max_repeats = max(max_repeats or repeats, repeats)
    # Building the backend (fusing, compiling, autotuning, capturing the CUDA graph) is timed on
    # its own, before and apart from every warm-up and timed run.
    cache_before = inductor_cache_counts()
    synchronize(device)
    t0 = time.perf_counter()
    runner.prepare(batch_size, expected[1])
    synchronize(device)
    compile_s = time.perf_counter() - t0
    cache = {k: n - cache_before.get(k, 0) for k, n in inductor_cache_counts().items()
             if n > cache_before.get(k, 0)}
    # Logged between runs only, never inside a timed one. The total is the most runs it may take.
    progress = Progress(log, f"batch size {batch_size}: runs (warm-up + timed)",
                        warmup + max_repeats)
    for _ in range(warmup):
        runner.generate(input_ids, attention_mask)
        progress.step()
    ttfts, steps, gaps = [], [], []

    def timed_run() -> float:
        clock = StepClock(device)
        synchronize(device)
        t0 = time.perf_counter()
        out = runner.generate(input_ids, attention_mask, clock)
        synchronize(device)
        latency = time.perf_counter() - t0
        if tuple(out.shape) != expected:
            raise PrunebenchError(f"generation returned shape {tuple(out.shape)}, expected "
                                  f"{expected}: the output length was not honoured")
        marks = clock.times()
        if len(marks) != output_tokens:
            raise PrunebenchError(f"step clock saw {len(marks)} tokens for {output_tokens} "
                                  "generated: the backend's per-token hook is broken")
        ttfts.append(marks[0])
        if output_tokens > 1:
            steps.append((marks[-1] - marks[0]) / (output_tokens - 1))
            gaps.extend(b - a for a, b in zip(marks, marks[1:]))  # every single decode step
        progress.step()
        return latency

    with PeakMemory(device) as memory:
        latencies, stopped = repeat_until_stable(timed_run, min_runs=repeats,
                                                 max_runs=max_repeats, max_seconds=max_seconds,
                                                 target=ci_target)
    runner.release()
    step = statistics.fmean(steps) if steps else None
    return {
        "batch_size": batch_size,
        "status": "ok",
        "compile_s": compile_s,
        "compile_cache": cache,
        **latency_stats(latencies, ci_target),
        "runs": len(latencies),
        "stop_reason": stopped,
        "throughput_tok_s": batch_size * output_tokens / statistics.fmean(latencies),
        "throughput_mean_of_rates": statistics.fmean(batch_size * output_tokens / t
                                                     for t in latencies),
        "peak_memory_bytes": memory.peak_bytes,
        "ttft_s": statistics.fmean(ttfts),
        "decode_step_s": step,
        "decode_step_s_p50": percentile(gaps, 50) if gaps else None,
        "decode_step_s_p90": percentile(gaps, 90) if gaps else None,
        "decode_throughput_tok_s": batch_size / step if step else None,
    }


def inductor_cache_counts() -> dict[str, int]:
    """TorchInductor's cache counters so far (FX graph cache hits and misses, ...): their change
    over a `prepare` says how much of its compilation came from the on-disk caches."""
    # Not imported when nothing has compiled yet (importing dynamo costs seconds on a slow CPU);
    # a compile in `prepare` imports it, and its counters then start from zero.
    utils = sys.modules.get("torch._dynamo.utils")
    if utils is None:
        return {}
    return {k: int(n) for k, n in utils.counters["inductor"].items() if "cache" in k}


def latency_stats(latencies: list[float], ci_target: float) -> dict[str, Any]:
    """A row's latency fields: location, spread, the 95% interval of the mean and its verdict."""
    mean, half = mean_ci95(latencies)
    return {
        "latency_s_mean": mean,
        "latency_s_std": statistics.stdev(latencies) if len(latencies) > 1 else 0.0,
        "latency_s_min": min(latencies),
        "latency_s_median": statistics.median(latencies),
        "latency_s_p90": percentile(latencies, 90),
        "latency_s_cv": coefficient_of_variation(latencies),
        "latency_s_ci95_low": mean - half if half is not None else None,
        "latency_s_ci95_high": mean + half if half is not None else None,
        "latency_s_ci95_rel": ci_share(latencies),
        "unstable": is_unstable(latencies, ci_target),
        "latencies_s": latencies,
    }


def _add_floor(row: dict[str, Any], config, *, input_tokens: int, output_tokens: int,
               dtype: torch.dtype, bandwidth: float | None) -> None:
    row.update(floor_s=None, pct_of_floor=None, floor_flag=None)
    if bandwidth is None or row["decode_step_s"] is None:
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


def _validate(*, backend, input_tokens, output_tokens, batch_sizes, warmup, repeats, sampling,
              config, max_seconds=float("inf"), ci_target=DEFAULT_CI_TARGET) -> None:
    if backend not in BACKENDS:
        raise PrunebenchError(f"unknown benchmark backend {backend!r}: choose one of {BACKENDS}")
    if not isinstance(sampling, bool):
        raise PrunebenchError(f"sampling must be true (the study's top-k 50, top-p 0.95, T 1 on "
                              f"both backends) or false (greedy), not {sampling!r}")
    if input_tokens < 1 or output_tokens < 1:
        raise PrunebenchError(f"token config {input_tokens}x{output_tokens} is invalid: input and "
                              "output need at least 1 token each")
    if not batch_sizes or any(int(b) != b or b < 1 for b in batch_sizes):
        raise PrunebenchError(f"batch sizes {list(batch_sizes)} must be a non-empty list of "
                              "positive integers")
    if warmup < 0 or repeats < 1:
        raise PrunebenchError(f"warmup={warmup}, repeats={repeats}: need warmup >= 0 and "
                              "repeats >= 1")
    if not max_seconds > 0 or not ci_target > 0:
        raise PrunebenchError(f"max_seconds={max_seconds}, ci_target={ci_target}: both must be "
                              "positive")
    limit = getattr(config, "max_position_embeddings", None)
    if limit and input_tokens + output_tokens > limit:
        raise PrunebenchError(f"{input_tokens} + {output_tokens} tokens exceed the model's "
                              f"max_position_embeddings ({limit}); use a shorter token config")


def run_sweep(model, tokenizer, *, exclusive: bool = True, **settings) -> dict[str, Any]:
    """`sweep(model, tokenizer, **settings)` holding the benchmark lock of its device, the CPU
    machine or the GPU (unless `exclusive` is false), so no two prunebench benchmarks ever
    time on it at once, whoever started them; a sweep waits for the one before it."""
    device = resolve_device(settings.get("device", "auto"))
    with machine_lock(device=device) if exclusive else contextlib.nullcontext():
        return sweep(model, tokenizer, **settings)


def sweep(model, tokenizer, *, input_tokens: int, output_tokens: int,
              batch_sizes=DEFAULT_BATCH_SIZES, warmup: int = 10, repeats: int = 20,
              max_repeats: int | None = None, max_seconds: float = float("inf"),
              ci_target: float = DEFAULT_CI_TARGET, backend: str = "hf",
              device: str | torch.device = "auto",
              dtype: str | torch.dtype = "float16", attention: str = "auto", seed: int = 0,
              sampling: bool = False, compile_mode: str = "auto",
              bandwidth_bytes_per_s: float | None = None, measure_floor: bool | None = None,
              probe_attention: bool = True, model_name: str | None = None,
              variant: str | None = None, cell: dict | None = None,
              partial_path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Benchmark one model at one token config over increasing batch sizes.

    Each row records the other work measured beside it (`interference`, flagged `competition`
    when it competed: prunebench.interference).

    Stops at the first batch size that runs out of memory, recording it as an "oom" row.
    The bandwidth floor is measured on CUDA by default (`measure_floor`), or taken from
    `bandwidth_bytes_per_s`. Returns a JSON-ready dict (docs/architecture.md, bench schema).

    With `partial_path`, every finished row is saved there as it completes, so a sweep that dies
    (a crash, a pre-empted job) resumes at the batch size it stopped at, on the same machine
    and settings only (`sweep_fingerprint`); the resumed rows are listed in the result.

    Adaptive repeats: after `repeats` timed runs a batch size keeps being timed while the 95%
    interval of its mean latency is wider than `ci_target` of the mean, up to `max_repeats` runs
    (None: `repeats`, i.e. off) or `max_seconds` of timed runs (timing_stats.stop_reason).
    """
    from prunebench.modeling import count_params

    config = model.config
    batch_sizes = sorted(batch_sizes)
    _validate(backend=backend, input_tokens=input_tokens, output_tokens=output_tokens,
              batch_sizes=batch_sizes, warmup=warmup, repeats=repeats, sampling=sampling,
              config=config, max_seconds=max_seconds, ci_target=ci_target)
    max_repeats = max(max_repeats or repeats, repeats)
    device, dtype = resolve_device(device), resolve_dtype(dtype)
    attention = resolve_attention(attention, device)
    model.to(device=device, dtype=dtype)
    model.eval()
    hf_attention = set_hf_attention(model, attention) if backend == "hf" else None
    prompt = make_prompt(tokenizer, input_tokens, config.vocab_size, seed=seed,
                         bos_token_id=config.bos_token_id)

    bandwidth, bandwidth_method = bandwidth_bytes_per_s, "given by the caller"
    if bandwidth is None and (measure_floor if measure_floor is not None else device.type == "cuda"):
        bandwidth, bandwidth_method = measure_bandwidth(device)

    decoding = STUDY_SAMPLING if sampling else None  # one definition for both backends
    if backend == "hf":
        runner = HFRunner(model, output_tokens, sampling=decoding)
    else:
        runner = CompiledRunner(model, output_tokens, mode=compile_mode, attention=attention,
                                sampling=decoding, seed=seed)

    result: dict[str, Any] = {
        "model": model_name, "variant": variant, "backend": backend,
        "input_tokens": input_tokens, "output_tokens": output_tokens,
        "params": count_params(config), "blocks": config.num_hidden_layers,
        "dtype": dtype_name(dtype), "device": str(device),
        "attention": attention, "hf_attn_implementation": hf_attention,
        "attention_kernels": None, "decode_mode": None,
        "sampling": decoding.as_dict() if decoding else None,
        "warmup": warmup, "repeats": repeats, "max_repeats": max_repeats,
        # JSON has no infinity: no cap is written as null.
        "max_seconds": max_seconds if max_seconds != float("inf") else None,
        "ci_target": ci_target, "batch_sizes": batch_sizes, "seed": seed,
        "prompt_ids": prompt.tolist(),
        "timing": {
            "latency": "whole generate call, device synchronised before and after, perf_counter",
            "ttft": "start of the call to the first token's logits, marked in each timed run "
                    "(CUDA events / perf_counter)",
            "decode_step": "(last token mark - first token mark) / (output_tokens - 1), "
                           "marked in each timed run",
            "decode_step_percentiles": "over every single decode step (gap between successive "
                                       "token marks) of every timed run",
            "latency_ci95": "Student-t 95% interval of the mean latency; unstable when its "
                            "half-width exceeds ci_target of the mean",
            "throughput": "throughput_tok_s = batch * output_tokens / mean latency (plotted); "
                          "throughput_mean_of_rates = mean over runs of batch * output_tokens "
                          "/ latency (the study's)",
        },
        "peak_memory_method": PeakMemory(device).method,
        "bandwidth_gbps": bandwidth / 1e9 if bandwidth else None,
        "bandwidth_method": bandwidth_method if bandwidth else None,
        "floor_context_tokens": mean_decode_context(input_tokens, output_tokens),
        "rows": [],
        "compile_s": None,
        "provenance": None,
    }
    fingerprint = sweep_fingerprint(result, config, device, cell)
    done = load_partial_rows(partial_path, fingerprint) if partial_path else {}
    result["resumed_batch_sizes"] = sorted(done)
    torch.manual_seed(seed)
    log.info("benchmark %s/%s backend=%s %dx%d on %s %s attention=%s batches=%s",
             model_name, variant, backend, input_tokens, output_tokens, device,
             dtype_name(dtype), attention, batch_sizes)
    with attention_context(attention):
        if probe_attention:
            result["attention_kernels"] = _probe_attention(model, backend, prompt, device,
                                                           compile_mode, attention)
        for batch_size in batch_sizes:
            if batch_size in done:
                log.info("batch size %d: resumed from %s", batch_size, partial_path)
                result["rows"].append(done[batch_size])
                if done[batch_size]["status"] == OOM:
                    break
                continue
            log.info("batch size %d: %d warm-up + %d timed runs", batch_size, warmup, repeats)
            oom = None
            meter = CompetitionMeter(device)
            meter.start()
            try:
                row = _measure_batch(runner, prompt, batch_size, output_tokens=output_tokens,
                                     warmup=warmup, repeats=repeats, device=device,
                                     max_repeats=max_repeats, max_seconds=max_seconds,
                                     ci_target=ci_target)
                row["interference"] = meter.stop()
                if row["interference"]["competition"]:
                    log.warning("batch size %d: other work ran beside the timing (%s): its "
                                "figures are flagged", batch_size, row["interference"])
            except Exception as exc:  # noqa: BLE001 - only allocation failures are handled
                if not is_out_of_memory(exc):
                    raise
                oom = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
            if oom is not None:
                # Outside the except block, so the traceback's tensors can be freed.
                runner.release()
                free_memory(device)
                log.warning("batch size %d ran out of memory; stopping the sweep (%s)",
                            batch_size, oom)
                result["rows"].append({"batch_size": batch_size, "status": OOM, "error": oom})
                save_partial_rows(partial_path, fingerprint, result["rows"])
                break
            _add_floor(row, config, input_tokens=input_tokens, output_tokens=output_tokens,
                       dtype=dtype, bandwidth=bandwidth)
            result["rows"].append(row)
            if backend == "compiled":
                row["decode_mode"] = result["decode_mode"] = runner.mode
                if runner.fallback:
                    row["decode_fallback"] = runner.fallback
            log.info("batch size %d: latency %.4f s (std %.4f, %d runs, %s%s), %.1f tok/s, "
                     "ttft %.4f s, decode step %s, peak memory %.1f MiB", batch_size,
                     row["latency_s_mean"], row["latency_s_std"], row["runs"],
                     row["stop_reason"], ", UNSTABLE" if row["unstable"] else "",
                     row["throughput_tok_s"], row["ttft_s"],
                     f"{row['decode_step_s'] * 1e3:.2f} ms" if row["decode_step_s"] else "n/a",
                     (row["peak_memory_bytes"] or 0) / 2**20)
            save_partial_rows(partial_path, fingerprint, result["rows"])
    free_memory(device)
    # Resumed rows keep the build time of the run that measured them.
    result["compile_s"] = sum(row.get("compile_s") or 0.0 for row in result["rows"])
    result["provenance"] = provenance(device=device, seed=seed, cell=cell)
    return result


def sweep_fingerprint(result: dict[str, Any], config, device: torch.device,
                      cell: dict | None) -> dict[str, Any]:
    """What must be equal for rows of an earlier, interrupted sweep to be reused: the model's
    shape and the sweep's settings (`result` before any row), the device and the software."""
    keys = ("model", "variant", "backend", "input_tokens", "output_tokens", "params", "blocks",
            "dtype", "device", "attention", "sampling", "warmup", "repeats", "max_repeats",
            "max_seconds", "ci_target", "seed", "prompt_ids")
    return {"sweep": {k: result[k] for k in keys}, "shapes": layer_shapes(config), "cell": cell,
            "versions": package_versions(), "device": device_info(device)}


def load_partial_rows(path: str | os.PathLike, fingerprint: dict[str, Any]) -> dict[int, dict]:
    """Rows saved by an interrupted sweep with the same fingerprint, by batch size."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        saved = read_json(path)
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable partial sweep %s (%s); starting over", path, exc)
        return {}
    if saved.get("fingerprint") != json.loads(json.dumps(fingerprint, default=str)):
        log.info("partial sweep %s was made with other settings or on another machine; "
                 "starting over", path)
        return {}
    return {row["batch_size"]: row for row in saved.get("rows", [])}


def save_partial_rows(path: str | os.PathLike | None, fingerprint: dict[str, Any],
                      rows: list[dict]) -> None:
    if path is not None:
        write_json(path, {"fingerprint": fingerprint, "rows": rows})


def _probe_attention(model, backend: str, prompt: torch.Tensor, device: torch.device,
                     compile_mode: str, attention: str) -> list[str]:
    """Which attention operators run for a prefill and a decode step under the pinned context."""
    ids = prompt.to(device).unsqueeze(0)
    try:
        if backend == "hf":
            runner = HFRunner(model, 2)
            fn = lambda: runner.generate(ids, torch.ones_like(ids))  # noqa: E731
        else:
            # The eager decoder issues the same operators that a CUDA graph captures.
            runner = CompiledRunner(model, 2, mode="eager", attention=attention)
            runner.prepare(1, ids.shape[1] + 2)
            fn = lambda: runner.generate(ids, None)  # noqa: E731
        kernels = attention_kernels(fn)
        runner.release()
    except Exception as exc:  # noqa: BLE001 - the probe is diagnostic; the sweep decides
        if is_out_of_memory(exc):
            raise
        log.warning("attention probe failed: %s", exc)
        return [f"probe failed: {type(exc).__name__}: {str(exc)[:200]}"]
    log.info("attention operators that ran: %s", kernels or "none (eager matmul + softmax)")
    return kernels
