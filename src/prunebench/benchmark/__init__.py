"""Generation benchmarks: `run_sweep` times one cell (a batch-size sweep of one model, backend
and token config); the workflow's benchmark rule and `prunebench bench` call it. `run_paired`
times a variant and its dense model in turns (the paired_benchmark rule).

- `run`: the sweep and its `SweepSettings`, resumable partial rows
- `paired`: a variant's speed-up over its dense model, the two timed in turns in one process
- `runners`: the `hf`, `hf_static` and `compiled` backends behind one interface; `compiled`: the
  static-cache decoder; `sampling`: sampled decoding shared by all three
- `measure`: per-token clocks and peak memory; `timing`: the noise statistics and the adaptive
  stop rule; `floors`: the memory-bandwidth floor of a decode step
- `attention`: attention kernels chosen and probed; `prompts`: the benchmark prompt
- `interference`: the per-device lock and what else ran beside a row
"""

import importlib

# The compiled backend's modes that run only on CUDA (compiled.MODES says what each does): here,
# where code that must not import torch (the workflow's start checks) reads them too.
CUDA_ONLY_MODES = ("cuda-graph", "compile-graph", "autotune-graph", "reduce-overhead")
# SDPA kernels that exist only on CUDA (attention.ATTENTION): on the CPU no backend would run.
CUDA_ONLY_ATTENTION = ("efficient", "cudnn")
# What to choose instead where no CUDA is (the attention kernels that run on the CPU).
ON_CPU_INSTEAD = "use auto, sdpa, flash, flash-efficient, math or eager"
# The backends that decode over a masked static KV cache, which CUDA's flash kernel does not
# accept: our compiled decoder, and transformers' static cache (`hf_static`).
MASKED_STATIC_CACHE = {"compiled": "the compiled backend's decoder masks its static KV cache",
                       "hf_static": "transformers masks its static KV cache (the hf_static "
                                    "backend)"}


def flash_takes_no_mask(backend: str) -> str:
    """Why `attention: flash` cannot time `backend` on CUDA, and what to choose instead."""
    return (f"benchmark.attention 'flash' takes no attention mask on CUDA, and "
            f"{MASKED_STATIC_CACHE[backend]} (every {backend} cell would stop with 'no available "
            "kernel'): use auto or flash-efficient (flash where no mask is needed, memory-efficient "
            "otherwise) or efficient, or time only the hf backend with flash")

# Loaded on first use (PEP 562), so that a light submodule such as `interference` can be
# imported without torch and transformers (seconds of start-up in every process that needs it).
_SOURCES = {
    "attention": ["attention_context", "attention_kernels", "resolve_attention"],
    "floors": ["decode_floor_s", "kv_cache_bytes", "mean_decode_context", "measure_bandwidth",
               "read_params", "weight_bytes"],
    "measure": ["PeakMemory", "StepClock", "synchronize"],
    "paired": ["alternate", "paired_sweep", "run_paired"],
    "prompts": ["FIRST_ORDINARY_ID", "PROMPT_TEXT", "make_prompt"],
    "run": ["BACKENDS", "DEFAULT_BATCH_SIZES", "DEFAULT_CI_TARGET", "OOM", "SweepSettings",
            "dtype_name", "run_sweep", "sweep"],
    "runners": ["CompiledRunner", "HFRunner", "HFStaticRunner"],
}
_MODULE_OF = {name: module for module, names in _SOURCES.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
