"""One-time conversion of a pickle-only checkpoint (`pytorch_model*.bin`) into safetensors.

Some pinned revisions of the study's models ship only pickle weights. Unpickling runs whatever
code the file names, so such files are read once, at download, through torch's weights-only
loader (`torch.load(..., weights_only=True)`), which accepts tensors and plain containers and
refuses anything else without running it. Each file becomes a safetensors file, both sha256
are recorded in `pickle_conversion.json` (hashed with the checkpoint's other files by its
manifest), and the pickle file is deleted so nothing can load it later. A file the weights-only
loader refuses stays refused, with its reason.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from prunebench import PrunebenchError
from prunebench.atomic import atomic_path, write_json
from prunebench.checkpoint.integrity import sha256_file

log = logging.getLogger(__name__)

RECORD = "pickle_conversion.json"
PICKLE_INDEX = "pytorch_model.bin.index.json"
SAFETENSORS_INDEX = "model.safetensors.index.json"


def safetensors_name(pickle_name: str) -> str:
    """'pytorch_model-00001-of-00003.bin' -> 'model-00001-of-00003.safetensors' (the names
    transformers gives the same shards in safetensors)."""
    return re.sub(r"^pytorch_model", "model", pickle_name).removesuffix(".bin") + ".safetensors"


def load_weights_only(path: Path) -> dict:
    """A pickle file's tensors, read without running any code it names."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - UnpicklingError, RuntimeError, ... all refused
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:300]
        raise PrunebenchError(
            f"{path.name} cannot be read by torch's weights-only loader ({reason}); prunebench "
            "never unpickles it otherwise: choose a revision or mirror that ships safetensors"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise PrunebenchError(f"{path.name} holds no plain mapping of tensor names to tensors; "
                              "choose a revision or mirror that ships safetensors")
    return state


def convert_pickle_checkpoint(folder: str | Path) -> list[dict]:
    """Convert every `pytorch_model*.bin` in `folder` to safetensors; returns the records."""
    import torch
    from safetensors.torch import save_file

    folder = Path(folder)
    records = []
    for source in sorted(folder.glob("pytorch_model*.bin")):
        state = load_weights_only(source)
        # safetensors refuses tensors that share memory or are not contiguous: own copies.
        tensors = {name: t.detach().contiguous().clone() for name, t in state.items()}
        target = folder / safetensors_name(source.name)
        with atomic_path(target) as tmp:
            save_file(tensors, str(tmp), metadata={"format": "pt"})
        records.append({"from": source.name, "from_sha256": sha256_file(source),
                        "to": target.name, "to_sha256": sha256_file(target),
                        "tensors": len(tensors), "loader": "torch.load(weights_only=True)",
                        "torch": torch.__version__})
        source.unlink()
        log.info("converted %s to %s with the weights-only loader (%d tensors)",
                 source.name, target.name, len(tensors))
    if not records:
        raise PrunebenchError(f"no pytorch_model*.bin files to convert in {folder}")
    _convert_index(folder)
    write_json(folder / RECORD, {"converted": records})
    return records


def _convert_index(folder: Path) -> None:
    """A sharded checkpoint's index, pointed at the safetensors shards."""
    index = folder / PICKLE_INDEX
    if not index.exists():
        return
    data = json.loads(index.read_text())
    data["weight_map"] = {k: safetensors_name(v) for k, v in data.get("weight_map", {}).items()}
    write_json(folder / SAFETENSORS_INDEX, data)
    index.unlink()
