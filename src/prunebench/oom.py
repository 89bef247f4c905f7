"""Out-of-memory detection, shared by pruning, LoRA recovery, evaluation and benchmarking: each
turns an allocation failure into an explained error naming the settings to lower (or, in a
benchmark sweep, an "oom" row) instead of a traceback."""

from __future__ import annotations

import gc

import torch


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether an exception is an allocation failure (CUDA or CPU allocator)."""
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    message = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(
        text in message for text in ("out of memory", "can't allocate memory",
                                     "cublas_status_alloc_failed"))


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (at most 200 characters), for a one-line error
    that quotes it; the type's name when the message is empty."""
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def free_memory(device: torch.device) -> None:
    """Return what a failed attempt allocated, before the next (smaller) one."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
