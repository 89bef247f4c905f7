"""Generation benchmarks: `run_sweep` times one cell (a batch-size sweep of one model, backend
and token config); the workflow's benchmark rule and `prunebench bench` call it.

- `run`: the sweep and its `SweepSettings`, resumable partial rows
- `runners`: the `hf` and `compiled` backends behind one interface; `compiled`: the static-cache
  decoder; `sampling`: sampled decoding shared by both
- `measure`: per-token clocks and peak memory; `timing`: the noise statistics and the adaptive
  stop rule; `floors`: the memory-bandwidth floor of a decode step
- `attention`: attention kernels chosen and probed; `prompts`: the benchmark prompt
- `interference`: the per-device lock and what else ran beside a row
"""

from prunebench.benchmark.attention import attention_context, attention_kernels, resolve_attention
from prunebench.benchmark.floors import (decode_floor_s, kv_cache_bytes, mean_decode_context,
                                         measure_bandwidth, weight_bytes)
from prunebench.benchmark.measure import PeakMemory, StepClock, synchronize
from prunebench.benchmark.prompts import FIRST_ORDINARY_ID, PROMPT_TEXT, make_prompt
from prunebench.benchmark.run import (BACKENDS, DEFAULT_BATCH_SIZES, DEFAULT_CI_TARGET, OOM,
                                      SweepSettings, dtype_name, run_sweep, sweep)
from prunebench.benchmark.runners import CompiledRunner, HFRunner

__all__ = ["BACKENDS", "DEFAULT_BATCH_SIZES", "DEFAULT_CI_TARGET", "FIRST_ORDINARY_ID", "OOM",
           "PROMPT_TEXT", "CompiledRunner", "HFRunner", "PeakMemory", "StepClock",
           "SweepSettings", "attention_context", "attention_kernels", "decode_floor_s",
           "dtype_name", "kv_cache_bytes", "make_prompt", "mean_decode_context",
           "measure_bandwidth", "resolve_attention", "run_sweep", "sweep", "synchronize",
           "weight_bytes"]
