"""The backends behind one interface (`prepare`, `generate`, `release`): `hf` (HF `generate`,
the paper's protocol), `hf_static` (HF `generate` with transformers' static KV cache, which
transformers compiles on a GPU: how its users speed up `generate`) and `compiled` (our own
static-cache decoder, prunebench.benchmark.compiled)."""

from __future__ import annotations

import contextlib
import logging
import sys

import torch

from prunebench import PrunebenchError
from prunebench.benchmark.measure import StepClock
from prunebench.benchmark.sampling import Sampling
from prunebench.checkpoint.param_count import (banded_static_cache_problem,
                                               batched_state_problem, family,
                                               own_cache_static_problem)
from prunebench.oom import free_memory, is_out_of_memory

log = logging.getLogger(__name__)


def chunked_static_cache_problem(model) -> str | None:
    """Why this transformers cannot run `model`'s generate with a static cache, or None: Llama
    4's chunked attention blocks (`layer_types` chunked_attention) take their mask from
    transformers' create_chunked_causal_mask, which 5.17's create_masks_for_generate (the static
    cache's mask builder) calls with a `block_sequence_ids` it does not accept (a TypeError at
    the first generate). Read from the functions' signatures, not from a version number."""
    import inspect

    from transformers import masking_utils

    if "chunked_attention" not in (getattr(model.config, "layer_types", None) or ()):
        return None
    passed = inspect.signature(masking_utils.create_masks_for_generate).parameters
    taken = inspect.signature(masking_utils.create_chunked_causal_mask).parameters
    if "block_sequence_ids" not in passed or "block_sequence_ids" in taken or any(
            p.kind == p.VAR_KEYWORD for p in taken.values()):
        return None
    import transformers

    return (f"the hf_static backend cannot run a model with chunked attention (Llama 4) on "
            f"transformers {transformers.__version__}: its static cache's mask builder "
            "(create_masks_for_generate) passes create_chunked_causal_mask an argument it does "
            "not take, and generate stops. Benchmark it with the hf backend, or upgrade "
            "transformers (5.25 runs it)")


def static_cache_problem(model) -> str | None:
    """Why this transformers cannot run `model`'s generate with a static cache, or None: Llama
    4's chunked attention (`chunked_static_cache_problem`), GPT-Neo's local blocks
    (`banded_static_cache_problem`), MiniMax's own cache (`own_cache_static_problem`), or a
    Falcon-H1 model on a
    transformers whose FalconH1Mixer still takes its cache as `cache_params` (5.17's), whose
    own generate with a static cache stops at the second step (an IndexError in the static
    cache: the hybrid block's attention is handed more positions than it decodes); the mixer
    that takes it as `cache` (5.25's) decodes it as the dynamic cache does. Read from the
    mixer's signature, not from a version number."""
    if problem := chunked_static_cache_problem(model):
        return problem
    if problem := banded_static_cache_problem(model.config) or own_cache_static_problem(
            model.config):
        return problem
    if not family(model.config).mamba_beside_attention:
        return None
    import inspect

    import transformers
    from transformers.models.falcon_h1.modeling_falcon_h1 import FalconH1Mixer

    if "cache_params" not in inspect.signature(FalconH1Mixer.forward).parameters:
        return None
    return (f"the hf_static backend cannot run a Falcon-H1 model on transformers "
            f"{transformers.__version__}: its own generate with a static cache stops at the "
            "second token (the static cache's hybrid blocks, attention beside a Mamba-2 "
            "mixer, are not decoded by this version's FalconH1Mixer). Benchmark it with the "
            "hf backend, or upgrade transformers (5.25 runs it)")


def refuse_flash_on_cuda(model, attention: str, backend: str) -> None:
    """Before any GPU work: a backend that masks a static cache cannot run CUDA's flash kernel."""
    from prunebench.benchmark import flash_takes_no_mask

    if attention == "flash" and model.device.type == "cuda":
        raise PrunebenchError(flash_takes_no_mask(backend))


class HFRunner:
    """HF `generate` with the output length forced (the paper's protocol)."""

    def __init__(self, model, output_tokens: int, *, sampling: Sampling | None = None):
        from transformers import LogitsProcessor

        self.model = model
        self.output_tokens = output_tokens
        config = model.config
        # The whole decoding setting: generate() runs with a fresh generation config (below),
        # so nothing a checkpoint's generation_config.json ships (do_sample with temperature 0.6,
        # a repetition_penalty, no_repeat_ngram_size) adds its work to the timing or changes the
        # tokens. min = max new tokens masks EOS until the last step, so the requested length is
        # honoured.
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

        if input_ids.shape[0] > 1 and (problem := batched_state_problem(self.model.config)):
            raise PrunebenchError(problem)  # (RWKV's state: every sequence would read all)
        processors = LogitsProcessorList([self._clock_processor(clock)] if clock else [])
        with torch.inference_mode(), only_these_settings(self.model):
            if clock:
                clock.start()
            return self.model.generate(input_ids=input_ids, attention_mask=attention_mask,
                                       logits_processor=processors, **self.kwargs)


class HFStaticRunner(HFRunner):
    """HF `generate` with transformers' static KV cache (`cache_implementation="static"`), as a
    transformers user makes `generate` fast: on a GPU transformers then compiles the model's
    forward for the decode steps itself (torch.compile with its default CompileConfig: CUDA
    graphs, `reduce-overhead`); on the CPU it does not, and the static cache runs op by op. The
    prefill runs uncompiled either way, as transformers runs it. Whether the decode steps were
    compiled is read from the call, not assumed (`mode`: `compile` or `eager`).

    `prepare` runs one untimed `generate` of the row's shapes, so that transformers' compile
    (minutes for a 13B model) is timed as the build (`compile_s`), never in a warm-up or timed
    run."""

    def __init__(self, model, output_tokens: int, *, attention: str = "auto",
                 sampling: Sampling | None = None, compile: bool = True):
        refuse_flash_on_cuda(model, attention, "hf_static")
        if problem := static_cache_problem(model):
            raise PrunebenchError(problem)
        super().__init__(model, output_tokens, sampling=sampling)
        self.kwargs["cache_implementation"] = "static"
        if not compile:  # op by op wherever it runs (the attention probe's two tokens)
            self.kwargs["disable_compile"] = True
        self.mode: str | None = None  # how the decode steps ran, once a generate has run
        # As CompiledRunner's: a paired benchmark resets dynamo once per batch size itself.
        self.resets_dynamo = True

    def prepare(self, batch_size: int, seq_len: int) -> None:
        if self.resets_dynamo and "torch._dynamo" in sys.modules:
            # Each batch size's shapes compile anew: without a reset, dynamo's recompile limit
            # would be reached after a few batch sizes and the decode steps would run eagerly.
            reset_dynamo()
        # transformers sizes each new static cache to the longest any generate of this model
        # asked for before: a longer token config timed earlier in the process would lengthen
        # this row's cache and the attention over it.
        if hasattr(self.model, "_previous_max_cache_length"):
            del self.model._previous_max_cache_length
        prompt_length = seq_len - self.output_tokens
        if prompt_length < 1:
            raise PrunebenchError(f"sequence length {seq_len} leaves no prompt before "
                                  f"{self.output_tokens} output tokens")
        # The compile depends on the prompt's shape, not its tokens: token 0, which every
        # vocabulary holds. Not the pad token: LLaMA-1 conversions (decapoda's) set
        # pad_token_id to -1, which generate takes but the embedding does not (an IndexError
        # on the CPU, a device-side assert that ends the process's CUDA work on a GPU).
        ids = torch.zeros((batch_size, prompt_length), dtype=torch.long,
                          device=self.model.device)
        self.generate(ids, torch.ones_like(ids))

    def release(self) -> None:
        """Forget transformers' compiled decode step: its CUDA graphs hold a private memory
        pool until dynamo does, which the next sweep in this process (another model, backend
        or cell) would find taken. Not in a paired benchmark (`resets_dynamo` off), which
        resets dynamo itself once both of its runners are done."""
        if self.resets_dynamo and self.mode == "compile" and "torch._dynamo" in sys.modules:
            reset_dynamo()

    def generate(self, input_ids, attention_mask, clock: StepClock | None = None):
        compiled = []
        ask = self.model.get_compiled_call

        def noting(compile_config):  # generate asks for the compiled forward when it compiles
            compiled.append(True)
            return ask(compile_config)

        self.model.get_compiled_call = noting  # this model object only; removed below
        try:
            out = super().generate(input_ids, attention_mask, clock)
        finally:
            del self.model.get_compiled_call
            if compiled:
                # Also when the call failed after asking for the compiled forward (out of
                # memory while compiling or capturing, a sweep's first batch size): dynamo
                # holds what it compiled, and `release` is to forget it.
                self.mode = "compile"
        self.mode = "compile" if compiled else "eager"
        return out

    @property
    def fallback(self) -> str | None:
        """Why a GPU row's decode steps ran op by op: transformers compiles them on a GPU, so
        such a row is not this backend's fast path and is flagged, as a compiled backend row
        whose capture failed is (on the CPU transformers compiles nothing: no flag)."""
        if self.mode == "eager" and self.model.device.type == "cuda":
            return ("transformers did not compile the decode steps on this GPU (it compiles "
                    "them where it can: a static cache, no quantizer, no offloaded weights)")
        return None


@contextlib.contextmanager
def only_these_settings(model):
    """Let `generate` see only the settings passed to it: transformers fills every setting a
    call leaves out from `model.generation_config` (the checkpoint's file), so it is replaced by
    a default one while the call runs."""
    from transformers import GenerationConfig

    kept = model.generation_config
    model.generation_config = GenerationConfig()
    try:
        yield
    finally:
        model.generation_config = kept


class CompiledRunner:
    """Decoding with a static per-block KV cache (benchmark.compiled.StaticDecoder).

    `mode` is one of benchmark.compiled.MODES; `fuse=False` issues one GEMV per original projection
    (for comparison); `compile_kwargs` override torch.compile's arguments in the compile modes.
    `sampling` (None: greedy) and `seed`: every call samples from a generator seeded with `seed`.
    """

    def __init__(self, model, output_tokens: int, *, mode: str = "auto",
                 attention: str = "sdpa", fuse: bool = True,
                 compile_kwargs: dict | None = None, sampling: Sampling | None = None,
                 seed: int = 0):
        from prunebench.benchmark.compiled import decoder_attention, resolve_mode

        refuse_flash_on_cuda(model, attention, "compiled")
        self.model = model
        self.output_tokens = output_tokens
        self.mode = resolve_mode(mode, model.device)
        self.attention = decoder_attention(attention)
        self.fuse = fuse
        self.compile_kwargs = compile_kwargs
        self.sampling = sampling
        self.seed = seed
        self.decoder = None
        self.fallback: str | None = None  # why capture failed, when it did
        # Whether building or dropping a decoder resets dynamo (every compiled function of the
        # process). A paired benchmark's runners do not: one's reset, between the other's
        # compilation and its timed runs, would make that one recompile inside them; the
        # pairs reset it themselves, once per batch size.
        self.resets_dynamo = True

    def _reset_dynamo(self) -> None:
        if self.resets_dynamo:
            reset_dynamo()

    def _decoder(self, batch_size: int, seq_len: int, mode: str):
        from prunebench.benchmark.compiled import StaticDecoder

        if mode not in ("eager", "cuda-graph"):
            # Each decoder is a new `self` for the same step function: without a reset, dynamo's
            # recompile limit would be reached after a few batch sizes and it would fall back
            # to eager silently.
            self._reset_dynamo()
        return StaticDecoder(self.model, batch_size, seq_len, mode=mode,
                             attention=self.attention, fuse=self.fuse,
                             compile_kwargs=self.compile_kwargs, sampling=self.sampling,
                             seed=self.seed)

    def _drop_decoder(self) -> None:
        """Free the decoder's KV cache and CUDA graph now, before the next one is built: a
        sweep's peak memory is then its own batch size's, and a large batch size gets the
        memory earlier ones held."""
        if self.decoder is None:
            return
        device = self.decoder.positions.device
        self.decoder.close()  # its step's reference to it, the one cycle that held it
        self.decoder = None
        if self.mode not in ("eager", "cuda-graph"):
            self._reset_dynamo()  # the compiled step's caches and guards may hold it too
        if device.type == "cuda":
            free_memory(device)  # whatever is left in cycles; outside every timed run

    def prepare(self, batch_size: int, seq_len: int) -> None:
        self._drop_decoder()  # the previous batch size's cache and graph, freed first
        self.decoder = self._decoder(batch_size, seq_len, self.mode)
        try:
            self.decoder.prepare()
            return
        except Exception as exc:
            # Flex attention run op by op is its reference implementation (every score
            # materialised, seconds per step): no fallback worth timing, so its failure stands.
            if is_out_of_memory(exc) or self.mode == "eager" or self.attention == "flex":
                raise
            # Keep the benchmark alive but say plainly that this row was not captured. The log
            # gets the message, not the exception: a handler that keeps records would keep its
            # traceback, and the failed decoder with it.
            log.warning("decode step capture (%s) failed, running eagerly: %s", self.mode,
                        str(exc))
            self.fallback = f"{self.mode} failed: {type(exc).__name__}: {str(exc)[:200]}"
        # Outside the except block, whose traceback holds the failed decoder: freed before the
        # eager one's cache is allocated, dynamo's hold on it included (also in a paired
        # benchmark, whose other model may then compile again: that row is flagged anyway).
        self._drop_decoder()
        reset_dynamo()
        self.mode = "eager"  # later batch sizes run eagerly too
        self.decoder = self._decoder(batch_size, seq_len, "eager")

    def release(self) -> None:
        self._drop_decoder()

    def generate(self, input_ids, attention_mask, clock: StepClock | None = None):
        # Every prompt in the batch is the same full-length prompt, so no padding exists and
        # the attention mask is all ones; the static decoder masks by position instead.
        if clock:
            clock.start()
        return self.decoder.generate(input_ids, self.output_tokens,
                                     on_token=clock.mark if clock else None)


def reset_dynamo() -> None:
    """`torch._dynamo.reset()`, with inductor's CUDA-graph module imported first. The reset
    resets each backend it holds while iterating over them, and an inductor backend set up for
    CUDA graphs (reduce-overhead) resets them by importing that module, whose first import in
    the process (a chain of inductor modules) registers a backend of its own into the same
    dict: "RuntimeError: dictionary changed size during iteration" (torch 2.13, seen on the
    CPU after an earlier reset had emptied the dict). Where inductor was never imported there
    is no such backend, and nothing more is imported."""
    import torch._dynamo

    if "torch._inductor" in sys.modules:
        import torch._inductor.cudagraph_trees  # noqa: F401 - imported for its side effect
    torch._dynamo.reset()


def graphs_compiled() -> int:
    """How many graphs dynamo has compiled in this process so far (0 while nothing has: dynamo
    is then not imported, as for inductor_cache_counts). Its change over a row's timed runs is
    a compile inside them, whose seconds the latencies then hold."""
    utils = sys.modules.get("torch._dynamo.utils")
    return int(utils.counters["stats"]["unique_graphs"]) if utils is not None else 0


def inductor_cache_counts() -> dict[str, int]:
    """TorchInductor's cache counters so far (FX graph cache hits and misses, ...): their change
    over a `prepare` says how much of its compilation came from the on-disk caches."""
    # Not imported when nothing has compiled yet (importing dynamo costs seconds on a slow CPU);
    # a compile in `prepare` imports it, and its counters then start from zero.
    utils = sys.modules.get("torch._dynamo.utils")
    if utils is None:
        return {}
    return {k: int(n) for k, n in utils.counters["inductor"].items() if "cache" in k}
