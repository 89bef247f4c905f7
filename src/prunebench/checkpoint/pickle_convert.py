"""One-time conversion of a pickle-only checkpoint (`pytorch_model*.bin`) into safetensors.

Some pinned revisions of the study's models ship only pickle weights. Unpickling runs whatever
code the file names, so such files are read once, at download, through torch's weights-only
loader (`torch.load(..., weights_only=True)`), which accepts tensors and plain containers and
refuses anything else without running it. Each file becomes a safetensors file, both sha256
are recorded in `pickle_conversion.json` (hashed with the checkpoint's other files by its
manifest), and the pickle file is deleted so nothing can load it later. A file the weights-only
loader refuses stays refused, with its reason.

An interrupted conversion resumes: each pickle is deleted only after its safetensors file and
its record in `.pickle_conversion.progress.json` are written, so a rerun converts the pickles
still there and checks the earlier ones' files against their records. Until the conversion has
finished (no pickle and no progress record left), the folder's safetensors files are only part
of the checkpoint: hub.download tells such a folder by `from_pickles`.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from prunebench import PrunebenchError
from prunebench.atomic import atomic_path, write_json
from prunebench.checkpoint.integrity import SAFETENSORS_INDEX, sha256_file

log = logging.getLogger(__name__)

RECORD = "pickle_conversion.json"
# The records of the files converted so far, while a conversion is under way. Hidden, so no
# manifest records it (integrity.defining_files).
PROGRESS = ".pickle_conversion.progress.json"
PICKLE_INDEX = "pytorch_model.bin.index.json"


def safetensors_name(pickle_name: str) -> str:
    """'pytorch_model-00001-of-00003.bin' -> 'model-00001-of-00003.safetensors' (the names
    transformers gives the same shards in safetensors)."""
    return re.sub(r"^pytorch_model", "model", pickle_name).removesuffix(".bin") + ".safetensors"


# torch's weights-only loader could be made to run code before 2.6 (CVE-2025-32434); from 2.6
# on it is the safe reader this module relies on. Pre-releases of 2.6 (2.6.0a0 builds, dev,
# rc) are refused too, as transformers refuses them for torch.load.
SAFE_TORCH = "2.6"


def require_safe_torch(what: str) -> None:
    """Refuse to read the pickle file(s) `what` with a torch whose weights-only loader is not
    safe, before anything is read (or downloaded)."""
    import torch
    from packaging.version import InvalidVersion, Version

    try:
        safe = Version(str(torch.__version__)) >= Version(SAFE_TORCH)
    except InvalidVersion:
        safe = False
    if not safe:
        raise PrunebenchError(
            f"{what} would be unpickled, and torch {torch.__version__}'s weights-only loader is not "
            f"safe against malicious pickles (CVE-2025-32434; fixed in torch {SAFE_TORCH}): "
            "upgrade torch, or choose a revision or mirror that ships safetensors")


def load_weights_only(path: Path) -> dict:
    """A pickle file's tensors, read without running any code it names."""
    import torch

    require_safe_torch(path.name)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - UnpicklingError, RuntimeError, ... all refused
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:300]
        raise PrunebenchError(
            f"{path.name} cannot be read by torch's weights-only loader ({reason}); prunebench "
            "never unpickles it otherwise: choose a revision or mirror that ships safetensors, "
            "or, for a local: folder, check the file is whole or save the model again with "
            "save_pretrained(..., safe_serialization=True)"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise PrunebenchError(f"{path.name} holds no plain mapping of tensor names to tensors; "
                              "choose a revision or mirror that ships safetensors")
    return state


def from_pickles(folder: str | Path) -> bool:
    """Whether `folder` holds pickle weights, or a conversion of them (interrupted, or finished
    by a download stopped before its folder was put in place): its safetensors files, if any,
    are the conversion's to finish or check, not files the hub's sha256 can verify."""
    folder = Path(folder)
    return (any(folder.glob("pytorch_model*.bin")) or (folder / PROGRESS).exists()
            or (folder / RECORD).exists())


def converted_pickles(folder: str | Path) -> list[str]:
    """The pickle files converted (and deleted) so far: a resumed download must not fetch
    them again."""
    return sorted(_records(Path(folder)))


def conversion_files(folder: str | Path) -> set[str]:
    """The files a conversion in `folder` wrote so far (the safetensors files of the pickles
    converted, its record): no commit of the hub repository has them, and a download's check
    against the hub's file list must not delete them as another commit's (their pickles are
    gone). The safetensors index is not among them: it is made again from the pickle index."""
    folder = Path(folder)
    written = {str(r.get("to")) for r in _records(folder).values() if isinstance(r, dict)}
    return written | ({RECORD} if (folder / RECORD).exists() else set())


def convert_pickle_checkpoint(folder: str | Path) -> list[dict]:
    """Convert every `pytorch_model*.bin` in `folder` to safetensors, resuming a conversion that
    was interrupted; returns the records of all converted files."""
    folder = Path(folder)
    done = _records(folder)  # {pickle name: record} of what an earlier attempt converted
    pending = sorted(folder.glob("pytorch_model*.bin"))
    if not pending and not done:
        raise PrunebenchError(f"no pytorch_model*.bin files to convert in {folder}")
    _check_converted(folder, [r for name, r in done.items()
                              if name not in {p.name for p in pending}])
    for source in pending:  # a pickle still there is converted (again), whatever was recorded
        done[source.name] = _convert_file(source, folder / safetensors_name(source.name))
        # Recorded before the pickle goes: a kill in between leaves the pickle to convert again.
        write_json(folder / PROGRESS, {"converted": [done[n] for n in sorted(done)]})
        source.unlink()
    _convert_index(folder)
    records = [done[name] for name in sorted(done)]
    write_json(folder / RECORD, {"converted": records})
    (folder / PROGRESS).unlink(missing_ok=True)  # last: until now a rerun resumes
    return records


def _save(tensors: dict, target: Path) -> None:
    from safetensors.torch import save_file

    with atomic_path(target) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "pt"})


def _convert_file(source: Path, target: Path) -> dict:
    import torch

    state = load_weights_only(source)
    # safetensors refuses tensors that share memory or are not contiguous: own copies.
    tensors = {name: t.detach().contiguous().clone() for name, t in state.items()}
    _save(tensors, target)
    log.info("converted %s to %s with the weights-only loader (%d tensors)",
             source.name, target.name, len(tensors))
    return {"from": source.name, "from_sha256": sha256_file(source),
            "to": target.name, "to_sha256": sha256_file(target),
            "tensors": len(tensors), "loader": "torch.load(weights_only=True)",
            "torch": torch.__version__}


def _records(folder: Path) -> dict[str, dict]:
    """{pickle name: record} of the files an earlier attempt converted: the progress record of
    an interrupted conversion, else the record of a finished one (its download then stopped
    before the folder was put in place)."""
    for name in (PROGRESS, RECORD):
        if (folder / name).exists():
            try:
                return {r["from"]: r for r in json.loads((folder / name).read_text())["converted"]}
            except (ValueError, KeyError, TypeError) as err:
                raise PrunebenchError(f"{folder / name} is unreadable ({err}): delete {folder} "
                                      "and rerun to download and convert the model again") from None
    return {}


def _check_converted(folder: Path, records: list[dict]) -> None:
    """The files an earlier attempt converted are still what it wrote: their pickles are gone,
    so nothing else can vouch for them."""
    for record in records:
        target = folder / record["to"]
        if not target.exists() or sha256_file(target) != record["to_sha256"]:
            raise PrunebenchError(f"{target} is missing or differs from what the conversion of "
                                  f"{record['from']} wrote, and that pickle is gone: delete "
                                  f"{folder} and rerun to download and convert the model again")


def _convert_index(folder: Path) -> None:
    """A sharded checkpoint's index, pointed at the safetensors shards."""
    index = folder / PICKLE_INDEX
    if not index.exists():
        return
    data = json.loads(index.read_text())
    data["weight_map"] = {k: safetensors_name(v) for k, v in data.get("weight_map", {}).items()}
    write_json(folder / SAFETENSORS_INDEX, data)
    index.unlink()
