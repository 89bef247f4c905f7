"""Out-of-memory detection, shared by pruning, LoRA recovery, evaluation and benchmarking: each
turns an allocation failure into an explained error naming the settings to lower (or, in a
benchmark sweep, an "oom" row) instead of a traceback."""

from __future__ import annotations

import gc

import torch

from prunebench import PrunebenchError, ResourceError


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether an exception is an allocation failure (CUDA or CPU allocator)."""
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    message = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(
        text in message for text in ("out of memory", "can't allocate memory",
                                     "cublas_status_alloc_failed"))


def out_of_memory_error(exc: BaseException) -> type[PrunebenchError]:
    """The error class for an allocation failure: ResourceError when the host ran out, which a
    scheduler's retry may fix (each attempt asks for more memory); PrunebenchError when a GPU
    did, as a retry gets the same GPU or one of its kind (the partition, `gpu_model`) and would
    run out the same way after loading the model again: the settings must change."""
    message = str(exc).lower()
    # An allocation outside PyTorch's caching allocator (cuBLAS's workspace, a CUDA context)
    # fails with a CUDA error, "CUDA error: out of memory" (torch.AcceleratorError from 2.8).
    accelerator_error = getattr(torch, "AcceleratorError", ())
    on_gpu = isinstance(exc, (torch.cuda.OutOfMemoryError, accelerator_error)) or any(
        text in message for text in ("cuda out of memory", "hip out of memory",
                                     "cuda error: out of memory", "hip error: out of memory",
                                     "cublas_status_alloc_failed"))
    return PrunebenchError if on_gpu else ResourceError


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
