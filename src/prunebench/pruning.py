"""One prune cell: load, prune to the target size, save, report (methods: prunebench.methods.registry)."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import torch

from prunebench import PrunebenchError
from prunebench.atomic import delete_at_successful_exit, require_free_space
from prunebench.checkpoint.device_map import offloaded_modules
from prunebench.checkpoint.integrity import base_record
from prunebench.checkpoint.param_count import block_count, context_length
from prunebench.data import scored_id_problem, token_id_problem
from prunebench.modeling import (cast_floating, check_param_count, config_dtype, count_params,
                                 dtype_name, load_config, load_model, load_tokenizer,
                                 placement_record, resolve_device, resolve_dtype, save_model,
                                 saved_dtype)
from prunebench.oom import first_line, is_out_of_memory, out_of_memory_error
from prunebench.methods.registry import (DATA_FREE, METHODS, default_calibration,  # noqa: F401
                                 method_function, method_module, parse_variant, split_variant)
from prunebench.methods.loss_memo import ScoringProgress
from prunebench.methods.sizing import check_prunable
from prunebench.plan.layout import SCORING_PROGRESS_VARIABLE

log = logging.getLogger(__name__)

def prune_checkpoint(model_dir: str | Path, method: str, size: str, out_dir: str | Path,
                     calibration: torch.Tensor | None, params: dict[str, Any] | None = None,
                     device: str = "auto", dtype: str = "float32",
                     trust_remote_code: bool = False,
                     placement: dict[str, Any] | None = None,
                     progress: ScoringProgress | None = None) -> dict[str, Any]:
    """Prune the checkpoint at model_dir and save the result atomically to out_dir.

    Everything that can be checked from the config (method, size, parameters) is checked before
    any weight is loaded, so bad input fails fast and writes nothing. `placement` (device_map,
    max_memory) spreads a model larger than one GPU over several GPUs and the CPU while pruning;
    disk offload is refused there, since pruning rewrites the weights in place.

    A method that scores the model block set by block set (`resumable` in the registry) keeps
    each calibration loss as it comes (methods.loss_memo), so that the same prune rerun after an
    interruption computes only the rest: in `progress.folder`, whose stores the caller deletes
    once its results are written; without one, in $PRUNEBENCH_SCORING_PROGRESS (the workflow
    sets it), deleted when this process ends well; neither: not kept.
    """
    prune = method_function(method)
    until_exit = progress is None
    if progress is None and os.environ.get(SCORING_PROGRESS_VARIABLE):
        progress = ScoringProgress(Path(os.environ[SCORING_PROGRESS_VARIABLE]))
    resumable = {"progress": progress} if progress is not None and METHODS[method].resumable else {}
    config = load_config(model_dir)
    dense_params = count_params(config)
    # `prune` repeats the method's check, but only after the model is loaded.
    target = check_prunable(config, method, size, params)
    dev = resolve_device(device)
    # Before the long part: a broken tokenizer fails fast.
    tokenizer = load_tokenizer(model_dir, trust_remote_code)
    started = time.perf_counter()
    blocks_before = block_count(config)
    context = context_length(config)  # (none for BLOOM: ALiBi of any length)
    if calibration is not None and context is not None and calibration.shape[-1] > context:
        raise PrunebenchError(
            f"calibration windows of {calibration.shape[-1]} tokens exceed the model's context of "
            f"{context}: set methods.{method}.calibration.length <= {context}")
    problem = None if calibration is None else (token_id_problem(calibration, config.vocab_size)
                                                or scored_id_problem(calibration, config))
    if problem is not None:  # the embedding lookup would fail deep inside with an IndexError
        raise PrunebenchError(
            f"the calibration tensor for {model_dir} {problem}: delete the calibration file "
            "(resources/data/calibration/<model>/...) and rerun snakemake, which draws it again")
    # Saved in the dtype the base stores its weights in; a method may land a little below
    # its target, hence 95% of it (the check is there to refuse what cannot fit, not to judge
    # what barely fits).
    require_free_space(out_dir, int(0.95 * target * saved_dtype(Path(model_dir), config).itemsize),
                       f"pruning {model_dir} with {method} to {size}")
    # load_model explains its own out-of-memory; what is wrapped below is the method's.
    # Blocks mapped to the cpu stay there, computed there: accelerate would otherwise stream
    # their weights to a GPU per forward, leaving meta tensors where the methods read, score
    # (gradient hooks) and slice them.
    model = load_model(model_dir, device=dev, dtype=resolve_dtype(dtype), **(placement or {}),
                       keep_cpu_resident=True)
    streamed = offloaded_modules(model)
    if streamed:
        raise PrunebenchError(
            f"the device map offloads {len(streamed)} module(s) of {model_dir} "
            f"({', '.join(streamed[:3])}{', ...' if len(streamed) > 3 else ''}): their weights "
            "are read in per forward (from disk), but pruning reads and rewrites weights in "
            "place: raise max_memory (GPUs and cpu) until the model fits in memory")
    placed = placement_record(model)  # before the hooks go (below): where it was pruned
    log.info("pruning %s with %s to %s (%s params of %s)", model_dir, method, size,
             f"{target:,}", f"{dense_params:,}")
    try:
        method_report = prune(model, calibration, target, **resumable, **(params or {}))
    except Exception as exc:  # noqa: BLE001 - only allocation failures are translated
        if not is_out_of_memory(exc):
            raise
        raise out_of_memory_error(exc)(
            f"out of memory pruning {model_dir} with {method} on {dev} ({first_line(exc)}): "
            "use a device with more memory, fewer or shorter calibration windows "
            f"(methods.{method}.calibration), a smaller batch_size param where the method has "
            "one, or a device_map that spreads the model over several devices") from None
    params_after = check_param_count(model, method)
    if getattr(model, "hf_device_map", None):
        # A dispatched model cannot be moved as a whole while accelerate's hooks are attached.
        from accelerate.hooks import remove_hook_from_submodules

        remove_hook_from_submodules(model)
        model.to("cpu")
    base = base_record(model_dir)
    save_model(cast_floating(model, config_dtype(model.config)), tokenizer, out_dir,
               extra_manifest={"base": base})
    if until_exit and progress is not None:
        # A workflow job's report is written by its script after this returns: the losses
        # stay for a rerun until the job's process ends well (a full disk may fail the report).
        for path in progress.opened:
            delete_at_successful_exit(path)
    return {"method": method, "target": size, "target_params": target, "base": base,
            "params_before": dense_params, "params_after": params_after,
            "blocks_before": blocks_before, "blocks_after": block_count(model.config),
            "method_report": method_report, "elapsed_s": time.perf_counter() - started,
            # `dtype`: what the method computed in; `saved_dtype`: what the checkpoint stores.
            "device": str(dev), "dtype": dtype, "saved_dtype": dtype_name(model), **placed}
