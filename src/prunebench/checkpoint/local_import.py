"""Models from a folder on disk: `local:<path>` as a config's `models.<name>.source`, e.g. a
model the user fine-tuned or a checkpoint kept on a cluster's shared file system.

The folder is imported once into the workflow's `resources/models/<name>/`, as a hub download
is, rather than read in place: every result then comes from one fixed copy whose manifest
records the sha256 of each file, whatever later happens to the folder (the workflow re-imports
it, and reruns what depends on it, when one of its files changes). The folder is only read.

What is imported is what a hub download takes (hub.ALLOW_PATTERNS: config, safetensors weights,
tokenizer files), top level only. A folder with only pickle weights (`pytorch_model*.bin`) has
them copied and converted once through torch's weights-only loader (checkpoint.pickle_convert),
never unpickled. A folder that prunebench made (it holds a `prunebench.json` manifest) is
verified against that manifest first.

Copies land by rename, so an interrupted import resumes: a file already copied whole (same size
and modification time as the folder's) is not copied again.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import shutil
from pathlib import Path

from prunebench import PrunebenchError
from prunebench.atomic import atomic_path
from prunebench.checkpoint.integrity import MANIFEST, TOKENIZER_FILES

log = logging.getLogger(__name__)

def local_path(name: str) -> Path:
    """The folder a `local:<name>` source names: `~` expanded, a relative path taken from the
    directory the workflow runs in (Snakemake's working directory)."""
    return Path(name).expanduser().resolve()


def _matches(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(name, p) for p in patterns)


def import_files(folder: Path) -> list[Path]:
    """The files of `folder` that make the checkpoint: config, tokenizer and safetensors
    weights, or its pickle weights when it has no safetensors ones (converted on import)."""
    from prunebench.hub import ALLOW_PATTERNS, PICKLE_PATTERNS

    if not folder.is_dir():
        return []
    files = sorted(f for f in folder.iterdir()
                   if f.is_file() and not f.name.startswith(".") and f.name != MANIFEST)
    chosen = [f for f in files if _matches(f.name, ALLOW_PATTERNS)]
    if not any(f.suffix == ".safetensors" for f in chosen):
        chosen += [f for f in files if _matches(f.name, PICKLE_PATTERNS) and f not in chosen]
    return sorted(chosen)


def local_problems(model: str, source_name: str) -> list[str]:
    """What stops `local:<source_name>` from being imported as model `model`, one line each:
    checked when the workflow starts, before any job runs."""
    from prunebench.checkpoint.param_count import checked_config_json

    where = f"models.{model}.source local:{source_name}"
    folder = local_path(source_name)
    if not folder.exists():
        return [f"{where}: no such folder {folder} (a relative path is read from the directory "
                f"Snakemake runs in, {Path.cwd()}): give the folder holding config.json, the "
                "weights and the tokenizer"]
    if not folder.is_dir():
        return [f"{where}: {folder} is a file; give the folder holding config.json, the weights "
                "and the tokenizer"]
    if not (folder / "config.json").is_file():
        return [f"{where}: {folder} has no config.json: give the folder that save_pretrained "
                "wrote (config.json, the weights and the tokenizer)"]
    try:
        checked_config_json(folder)  # missing or invalid, or a family prunebench lacks
    except PrunebenchError as err:
        return [f"{where}: {err}"]
    problems = []
    names = {f.name for f in import_files(folder)}
    if not any(n.endswith(".safetensors") or n.endswith(".bin") for n in names):
        others = sorted(f.name for f in folder.iterdir() if f.suffix in (".bin", ".pt", ".pth"))
        found = f" (found {others}: only pytorch_model*.bin pickles are converted)" if others else ""
        problems.append(f"{where}: {folder} holds no weights{found}: save the model there with "
                        "save_pretrained(..., safe_serialization=True)")
    if not names & set(TOKENIZER_FILES):
        problems.append(f"{where}: {folder} has no tokenizer ({', '.join(TOKENIZER_FILES)}); "
                        "calibration and evaluation need one: save the base model's tokenizer "
                        "into it (tokenizer.save_pretrained)")
    return problems


def import_local(source: str, out_dir: str | Path) -> Path:
    """Import the folder `source` (`local:<path>`) names into `out_dir`: copied, pickles
    converted, manifest written, and put in place only once complete (module docstring)."""
    from prunebench.checkpoint.integrity import verify_manifest
    from prunebench.checkpoint.pickle_convert import (convert_pickle_checkpoint,
                                                      converted_pickles, from_pickles)
    from prunebench.modeling import write_manifest

    out_dir = Path(out_dir)
    name = source.removeprefix("local:")
    problems = local_problems(out_dir.name, name)
    if problems:
        raise PrunebenchError("\n".join(problems))
    folder = local_path(name)
    if (folder / MANIFEST).is_file():  # made by prunebench: it says what its files must be
        verify_manifest(folder)
    # A fixed staging folder, kept when an import breaks off, so a rerun resumes it.
    staging = out_dir.parent / f".{out_dir.name}.import"
    staging.mkdir(parents=True, exist_ok=True)
    converted = set(converted_pickles(staging))  # pickles already converted (and deleted)
    for file in import_files(folder):
        target = staging / file.name
        if file.name in converted or _same_copy(file, target):
            continue
        with atomic_path(target) as tmp:
            shutil.copy2(file, tmp)  # the folder's modification time too, for _same_copy
    if from_pickles(staging):
        log.warning("%s has pickle weights only: converting them once to safetensors with "
                    "torch's weights-only loader (no code in them runs)", folder)
        convert_pickle_checkpoint(staging)
    write_manifest(staging, {"source": source, "imported_from": str(folder)})
    os.replace(staging, out_dir)
    log.info("imported %s into %s", folder, out_dir)
    return out_dir


def _same_copy(file: Path, target: Path) -> bool:
    """Whether an earlier attempt copied `file` whole (copies land by rename) and the folder's
    file has not changed since."""
    if not target.exists():
        return False
    src, dst = file.stat(), target.stat()
    return src.st_size == dst.st_size and src.st_mtime_ns == dst.st_mtime_ns
