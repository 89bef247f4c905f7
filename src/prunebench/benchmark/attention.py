"""Which attention kernels a benchmark runs: the `attention` setting resolved per device, SDPA
restricted to the named kernels for everything run inside, and the operators that really ran
(from the profiler), recorded with every sweep."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

import torch

from prunebench import PrunebenchError

log = logging.getLogger(__name__)

ATTENTION = {
    "sdpa": None,  # PyTorch's own dispatch: on CUDA it may pick a pathologically slow kernel
    "flash-efficient": ("FLASH_ATTENTION", "EFFICIENT_ATTENTION"),
    "flash": ("FLASH_ATTENTION",),
    "efficient": ("EFFICIENT_ATTENTION",),
    "math": ("MATH",),
    "cudnn": ("CUDNN_ATTENTION",),
    "eager": None,  # HF's / our own matmul + softmax, no SDPA at all
}


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
