"""The depth criteria's calibration losses, each computed once and kept on disk as it comes, so
that an interrupted prune resumes where it stopped instead of from the first block.

`depth_ppl` scores each block by the calibration loss of the model without it; `sleb`, round
after round, by the loss without it and the blocks already removed. Both are the mean
next-token NLL of the model with a set of blocks left out, one pass over the calibration
windows each: a SLEB of Vicuna-13B at 9.5B tries about 11 rounds of 38 candidates. A `LossMemo`
keys each loss by that set of blocks (original indices), so a rerun after a kill, a pre-empted
cluster job or a time limit recomputes at most the loss that was under way; the losses it reads
back are the floats the interrupted run computed, so the blocks removed are the same.

The store (prunebench.progress_store) belongs to one model and one way of scoring it: its
header names the checkpoint's content, the dtype its weights were loaded in, the model's
shapes, the calibration windows (a digest of the token ids), the scoring dtype, the batch size
(it changes the floating-point sums), the devices and their hardware (each GPU's name, or the
CPU's model: another one rounds differently), prunebench's code and the torch / transformers
versions. A model not loaded from a checkpoint with a manifest keeps its losses in memory only.
The store is deleted once the pruned checkpoint and its report are written: by `prunebench
prune` after its output is whole, by a workflow job when its process ends well
(`prunebench.pruning.prune_checkpoint`).
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from prunebench.progress_store import ProgressStore, model_identity, open_progress

log = logging.getLogger(__name__)

FORMAT = 1  # a new number makes every store on disk stale
_HEADER_KEY = "prunebench_calibration_losses"


@dataclass
class ScoringProgress:
    """Where a prune keeps its calibration losses (`folder`), and the stores it opened there,
    which its caller deletes once the results are written."""
    folder: Path
    opened: list[Path] = field(default_factory=list)


def calibration_digest(calibration) -> str:
    """sha256 of the calibration windows' token ids and shape."""
    ids = calibration.detach().to("cpu").long().contiguous()
    digest = hashlib.sha256(str(tuple(ids.shape)).encode())
    digest.update(ids.numpy().tobytes())
    return digest.hexdigest()


class LossMemo:
    """The calibration NLL of the model with a set of blocks left out, computed by
    `compute(blocks)` the first time it is asked for and read from the store after.

    A context manager: leaving it releases the store, kept either way (an interrupted prune's
    for the rerun; a finished one's for whoever writes the results, who deletes it then)."""

    def __init__(self, compute: Callable[[set[int]], float], store: ProgressStore | None):
        self._compute = compute
        self._store = store
        self._losses: dict[str, float] = {}
        for key, value in list(store.values.items()) if store is not None else ():
            if isinstance(value, (int, float)) and not isinstance(value, bool) \
                    and math.isfinite(value):
                self._losses[key] = float(value)
            else:  # a line damaged into another JSON value: computed and written again
                del store.values[key]
        self.reused = 0    # losses asked for again, or read back from an interrupted run
        self.computed = 0  # losses computed by this run

    def nll(self, removed: Iterable[int]) -> float:
        blocks = set(removed)
        key = ",".join(str(b) for b in sorted(blocks))
        if key in self._losses:
            self.reused += 1
            return self._losses[key]
        value = float(self._compute(blocks))
        self.computed += 1
        self._losses[key] = value
        if self._store is not None and self._store.is_open:
            self._store.put(key, value)
        return value

    def __enter__(self) -> LossMemo:
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if self._store is not None:
            self._store.close(finished=exc_type is None, keep=True)

    def counts(self) -> dict[str, int]:
        """For the method's report: how many losses were computed and how many read back."""
        return {"computed": self.computed, "reused": self.reused}


def hardware(model) -> list[str]:
    """What computes the model's losses: each GPU's name and compute capability, or the CPU's
    model. Another GPU or CPU model rounds differently, so its losses are not mixed in."""
    import torch

    from prunebench.provenance import cpu_model

    names = set()
    for device in {p.device for p in model.parameters()}:
        if device.type == "cuda":
            props = torch.cuda.get_device_properties(device)
            names.add(f"{props.name} ({props.major}.{props.minor})")
        else:
            names.add(f"{device.type}: {cpu_model() or 'unknown model'}")
    return sorted(names)


def open_memo(compute: Callable[[set[int]], float], progress: ScoringProgress | None, model,
              calibration, batch_size: int, loaded_dtype: str,
              units: str | None = None) -> LossMemo:
    """A LossMemo of `model` (the model the losses are computed with, in its scoring dtype,
    whose weights were loaded in `loaded_dtype`) on these calibration windows, kept in
    `progress.folder` when there is one and the model came from a checkpoint with a manifest.
    `units`: what the numbers of a key name, where they are not blocks (BlockPruner's
    sublayers), so that such losses are never read as those of blocks left out."""
    store = None
    identity = model_identity(model, ("torch", "transformers")) if progress is not None else None
    if identity is not None:
        header = {_HEADER_KEY: FORMAT, "identity": {
            **identity, "loaded_dtype": loaded_dtype, "hardware": hardware(model),
            "calibration": calibration_digest(calibration), "batch_size": int(batch_size),
            **({"units": units} if units else {})}}
        store = open_progress(progress.folder, header, "calibration losses", "the prune")
        if store is not None:
            progress.opened.append(store.path)
    elif progress is not None:
        log.info("the model was not loaded from a checkpoint with a manifest: its calibration "
                 "losses are not kept for a resumed run")
    return LossMemo(compute, store)
