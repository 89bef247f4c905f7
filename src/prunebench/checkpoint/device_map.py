"""Spread a model over several devices (accelerate device maps) when one GPU cannot hold it.

Pruning LLaMA-13B in float32 (52 GB of weights, plus gradients for LLM-Pruner) or evaluating a
larger model does not fit one 80 GB GPU. A device map places whole decoder blocks on GPUs in
order (`0`, `1`, ...), then on `"cpu"` (weights kept in host memory: moved in to the first GPU
per forward, or, for pruning, which reads and rewrites them, computed where they are) and
`"disk"` (memory-mapped from an offload folder; refused for pruning); accelerate's hooks move
activations between them, so the model computes exactly what it computes on one device.

Benchmarks stay on one GPU: a split model's timings measure the transfers, not the model.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from prunebench import PrunebenchError
from prunebench.projections import decoder, embedding_name

log = logging.getLogger(__name__)

# A decoder block is never split across devices: its residual stream would cross devices
# inside the block, once per sub-layer. Our zero-head attention stand-in is part of a block.
# Each family has its own block class (MistralDecoderLayer, Qwen2DecoderLayer, ...): `no_split`.
NO_SPLIT = ["LlamaDecoderLayer"]
STRATEGIES = ("auto", "balanced", "balanced_low_0", "sequential")


def no_split(model) -> list[str]:
    """The block class names of this model (its family's decoder layer, whole)."""
    return sorted({type(layer).__name__ for layer in decoder(model).layers} | set(NO_SPLIT))


DeviceMap = dict[str, int | str]


def plan(model: nn.Module, device_map: str | DeviceMap = "auto",
         max_memory: dict[int | str, int | str] | None = None,
         dtype: torch.dtype | None = None) -> DeviceMap:
    """Which device each module goes to. `model` may live on the meta device.

    `device_map`: an explicit mapping (returned after checking it covers the model), or a
    strategy: `auto` / `balanced` (spread evenly over the visible GPUs), `balanced_low_0` (keep
    GPU 0 light for generation), `sequential` (fill GPU 0 first). `max_memory` caps each device,
    e.g. `{0: "70GiB", 1: "70GiB", "cpu": "200GiB"}`; what does not fit goes to `"disk"`.
    """
    from accelerate import infer_auto_device_map
    from accelerate.utils import get_balanced_memory

    if isinstance(device_map, dict):
        check_covers(model, device_map)
        return dict(device_map)
    if device_map not in STRATEGIES:
        raise PrunebenchError(f"unknown device_map {device_map!r}: use one of {STRATEGIES} or a "
                              "mapping of module names to devices (0, 1, 'cpu', 'disk')")
    if max_memory is None and device_map != "sequential":
        max_memory = get_balanced_memory(model, dtype=dtype, no_split_module_classes=no_split(model),
                                         low_zero=device_map == "balanced_low_0")
    placement = infer_auto_device_map(model, max_memory=max_memory, dtype=dtype,
                                      no_split_module_classes=no_split(model))
    log.info("device map: %s", summarize(placement))
    return placement


def check_covers(model: nn.Module, device_map: DeviceMap) -> None:
    """Every parameter and buffer must fall under one mapped module name."""
    names = [n for n, _ in model.named_parameters()] + [n for n, _ in model.named_buffers()]
    uncovered = [n for n in names if device_for(n, device_map) is None]
    if uncovered:
        raise PrunebenchError(f"device_map leaves {len(uncovered)} tensors without a device "
                              f"(e.g. {uncovered[:3]}): map their modules too, or map '' "
                              "(the whole model) to a default device")


def device_for(name: str, device_map: DeviceMap) -> int | str | None:
    """The device of a parameter name under the longest matching module prefix."""
    best, best_len = None, -1
    for prefix, device in device_map.items():
        if (prefix == "" or name == prefix or name.startswith(prefix + ".")) and len(prefix) > best_len:
            best, best_len = device, len(prefix)
    return best


def summarize(device_map: DeviceMap) -> dict[str, int]:
    """How many mapped modules each device holds (for the log)."""
    counts: dict[str, int] = {}
    for device in device_map.values():
        counts[str(device)] = counts.get(str(device), 0) + 1
    return counts


def dispatch(model: nn.Module, device_map: str | DeviceMap = "auto",
             max_memory: dict[int | str, int | str] | None = None,
             offload_dir: str | Path | None = None,
             keep_cpu_resident: bool = False) -> nn.Module:
    """Place a loaded model's modules per the device map and hook up the transfers.

    Modules mapped to `"disk"` are written to `offload_dir` (a temporary folder when None,
    kept alive as long as the model) and read back per forward. Modules mapped to `"cpu"`
    beside GPUs are, as accelerate does it, kept in host memory but computed on the first GPU,
    their weights moved in per forward (their parameters are then meta tensors), which
    evaluation wants; `keep_cpu_resident` keeps them in place instead, computed on the CPU, as
    pruning needs (it reads, scores and slices the weights themselves).
    """
    from accelerate import dispatch_model

    dtype = next(model.parameters()).dtype
    placement = plan(model, device_map, max_memory=max_memory, dtype=dtype)
    for device in set(placement.values()):
        if isinstance(device, int) and device >= torch.cuda.device_count():
            raise PrunebenchError(f"device_map places modules on GPU {device} but "
                                  f"{torch.cuda.device_count()} GPUs are visible: request more "
                                  "GPUs for the job or lower max_memory's GPU entries")
    if "disk" in placement.values() and offload_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="prunebench-offload-")
        offload_dir = tmp.name
        model._prunebench_offload_dir = tmp  # removed when the model is garbage-collected
    # force_hooks: even a single-device map gets the same code path, so a map that happens to
    # fit one device behaves like one that does not.
    # accelerate makes the first GPU of the map the main device, and streams every module
    # mapped to the cpu from there; with the cpu as the main device it streams disk ones only.
    main = "cpu" if keep_cpu_resident and "cpu" in placement.values() else None
    return dispatch_model(model, device_map=placement, main_device=main, offload_dir=offload_dir,
                          force_hooks=True)


def offloaded_modules(model: nn.Module) -> list[str]:
    """Names of the modules whose weights accelerate's hooks move in per forward (disk, or
    cpu beside a GPU): their parameters are meta tensors outside a forward."""
    names = []
    for name, module in model.named_modules():
        hook = getattr(module, "_hf_hook", None)
        hooks = getattr(hook, "hooks", None) or ([hook] if hook is not None else [])
        if any(getattr(h, "offload", False) for h in hooks):
            names.append(name)
    return names


def main_device(model: nn.Module) -> torch.device:
    """Where inputs should go: the device the embedding (first module) computes on. For a
    dispatched model that is its hook's execution device: an embedding mapped to "disk", or to
    "cpu" beside GPUs, is computed on the first GPU (its parameters are meta tensors meanwhile)."""
    embeddings = getattr(model, "get_input_embeddings", lambda: None)()
    hook = getattr(embeddings, "_hf_hook", None)
    hooks = getattr(hook, "hooks", None) or ([hook] if hook is not None else [])
    for each in hooks:
        execution = getattr(each, "execution_device", None)
        if execution is not None:
            return torch.device("cuda", execution) if isinstance(execution, int) \
                else torch.device(execution)
    hf_map: dict[str, Any] | None = getattr(model, "hf_device_map", None)
    if hf_map:
        # (the embedding's own name: GPT-NeoX's is gpt_neox.embed_in, OPT's model.decoder.*)
        first = device_for(embedding_name(model) if embeddings is not None
                           else "model.embed_tokens.weight", hf_map)
        if isinstance(first, int):
            return torch.device("cuda", first)
        return torch.device("cpu")
    return next(model.parameters()).device
