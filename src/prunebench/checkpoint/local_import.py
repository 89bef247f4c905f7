"""Models from a folder on disk: `local:<path>` as a config's `models.<name>.source`, e.g. a
model the user fine-tuned or a checkpoint kept on a cluster's shared file system.

The folder is imported once into the workflow's `resources/models/<name>/`, as a hub download
is, rather than read in place: every result then comes from one fixed copy whose manifest
records the sha256 of each file, whatever later happens to the folder (the workflow re-imports
it, and reruns what depends on it, when one of its files changes: a new size, or a new
modification time with other bytes, `workflow_state`; once imported, the folder may even go).
The folder is only read.

What is imported is the checkpoint (CHECKPOINT_FILES: config, generation config, tokenizer
files, safetensors weights and their index), top level only: a trainer's logs and states
beside it are left out, so adding one changes nothing. A folder with only pickle weights
(`pytorch_model*.bin`) has them copied and converted once through torch's weights-only loader
(checkpoint.pickle_convert), never unpickled. A folder that prunebench made (it holds a
`prunebench.json` manifest) is verified against that manifest first.

Copies land by rename, so an interrupted import resumes: a file already copied whole (same size
and modification time as the folder's) is not copied again. The staging folder records the
folder's files it was started from; if they changed before the rerun, it starts over.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import shutil
from pathlib import Path

from prunebench import PrunebenchError
from prunebench.atomic import atomic_path, read_json_or_none, write_json
from prunebench.checkpoint.integrity import MANIFEST, TOKENIZER_FILES, remember_verified

log = logging.getLogger(__name__)

# The files of a checkpoint that save_pretrained (model and tokenizer) writes, Mistral's own
# tokenizer file, and the record of a pickle conversion prunebench made.
CHECKPOINT_FILES = ["config.json", "generation_config.json", "*.safetensors",
                    "model.safetensors.index.json", "tokenizer*.json", "tokenizer.model",
                    "tekken.json",
                    "special_tokens_map.json", "added_tokens.json", "vocab.json", "vocab.txt",
                    "merges.txt", "*.tiktoken", "chat_template.jinja", "chat_template.json",
                    "pickle_conversion.json", "text_part.json", "moe_fusion.json"]
# The staging folder's record of the folder's files it copies (hidden: not in any manifest).
SOURCE_RECORD = ".import-source.json"


def local_path(name: str) -> Path:
    """The folder a `local:<name>` source names: `~` expanded, a relative path taken from the
    directory the workflow runs in (Snakemake's working directory)."""
    return Path(name).expanduser().resolve()


def _matches(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(name, p) for p in patterns)


def import_files(folder: Path) -> list[Path]:
    """The files of `folder` that make the checkpoint: config, tokenizer and safetensors
    weights, or its pickle weights when it has no safetensors ones (converted on import).
    Weights of another layout a hub download leaves out too (Mistral's
    `consolidated.safetensors`, for mistral-inference: tens of GB no transformers class
    reads) are not imported."""
    from prunebench.hub import IGNORE_PATTERNS, PICKLE_PATTERNS

    files = _top_level_files(folder)
    chosen = [f for f in files
              if _matches(f.name, CHECKPOINT_FILES) and not _matches(f.name, IGNORE_PATTERNS)]
    if not any(f.suffix == ".safetensors" for f in chosen):
        chosen += [f for f in files if _matches(f.name, PICKLE_PATTERNS) and f not in chosen]
    return sorted(chosen)


def code_files(folder: Path) -> list[Path]:
    """The folder's top-level code files (`*.py`: a tokenizer's or model's own), imported
    beside the checkpoint only where the run trusts remote code, as a hub download fetches
    them (hub.REMOTE_CODE_PATTERNS). They are no part of `folder_state`, as the switch is no
    parameter of the import: switching it reruns no finished import (delete the imported
    folder to import them)."""
    from prunebench.hub import REMOTE_CODE_PATTERNS

    return [f for f in _top_level_files(folder) if _matches(f.name, REMOTE_CODE_PATTERNS)]


def _top_level_files(folder: Path) -> list[Path]:
    """The folder's files an import may take: top level, not hidden, not its manifest."""
    if not folder.is_dir():
        return []
    return sorted(f for f in folder.iterdir()
                  if f.is_file() and not f.name.startswith(".") and f.name != MANIFEST)


def local_problems(model: str, source_name: str, where: str | None = None) -> list[str]:
    """What stops `local:<source_name>` from being imported as model `model`, one line each:
    checked when the workflow starts, before any job runs. `where` names the folder in the
    messages (a workflow config's `models.<model>.source` by default)."""
    from prunebench.checkpoint.param_count import checked_config_json

    where = where or f"models.{model}.source local:{source_name}"
    folder = local_path(source_name)
    if not folder.exists():
        relative = ("" if Path(source_name).expanduser().is_absolute() else
                    f" (a relative path is read from the directory Snakemake runs in, "
                    f"{Path.cwd()}{_from_where_started(source_name)})")
        return [f"{where}: no such folder {folder}{relative}{_close_folder(folder)}: give the "
                "folder holding config.json, the weights and the tokenizer"]
    if not folder.is_dir():
        return [f"{where}: {folder} is a file; give the folder holding config.json, the weights "
                "and the tokenizer"]
    pruned = pruned_problem(folder, model)
    if pruned:
        return [f"{where}: {pruned}"]
    if not (folder / "config.json").is_file():
        return [f"{where}: {folder} has no config.json: "
                + (_checkpoint_subfolders(folder) or "give the folder that save_pretrained wrote "
                   "(config.json, the weights and the tokenizer)")]
    try:
        # missing or invalid, or a family prunebench lacks (a multimodal checkpoint is taken,
        # its language model kept on import: checkpoint.text_part)
        checked_config_json(folder, text_part=True)
    except PrunebenchError as err:
        return [f"{where}: {err}"]
    problems = []
    names = {f.name for f in import_files(folder)}
    if not any(n.endswith(".safetensors") or n.endswith(".bin") for n in names):
        others = sorted(f.name for f in folder.iterdir() if f.suffix in (".bin", ".pt", ".pth"))
        found = f" (found {others}: only pytorch_model*.bin pickles are converted)" if others else ""
        problems.append(f"{where}: {folder} holds no weights{found}: save the model there with "
                        "save_pretrained(..., safe_serialization=True)")
    from prunebench.checkpoint.integrity import safetensors_problems, weight_files

    damaged = safetensors_problems(import_files(folder))
    if damaged:
        problems.append(f"{where}: {folder}: {'; '.join(damaged)}: save the model there again "
                        "(save_pretrained) or copy its files whole")
    if any(n.endswith(".safetensors") for n in names):
        try:  # the shards the model is loaded from: one its index names but missing, ...
            weight_files(folder)
        except PrunebenchError as err:
            problems.append(f"{where}: {err}")
    if not names & set(TOKENIZER_FILES):
        problems.append(f"{where}: {folder} has no tokenizer ({', '.join(TOKENIZER_FILES)}); "
                        "calibration and evaluation need one: save the base model's tokenizer "
                        "into it (tokenizer.save_pretrained)")
    return problems


def pruned_problem(folder: Path, model: str) -> str | None:
    """Why `folder`, a checkpoint prunebench pruned (a prune or recover output, the workflow's
    results/pruned/<model>/<variant>/ or its checkpoint/), cannot be a `local:` base model, or
    None. Its import would write a manifest of its own that records no pruning, so the model
    would stand as `dense` in every table, its variants sized against it, and nothing would
    say it was pruned; a dense model recovered with LoRA (`dense+lora`) is a fine-tuned dense
    model, which is what a base model of one's own may be."""
    if (folder / "checkpoint" / "config.json").is_file():  # an output folder, not its checkpoint
        checkpoint, report_file = folder / "checkpoint", folder / "prune_report.json"
    else:
        checkpoint = folder
        report_file = folder.parent / "prune_report.json" if folder.name == "checkpoint" else None
    manifest = read_json_or_none(checkpoint / MANIFEST)
    manifest = manifest if isinstance(manifest, dict) else {}
    report = read_json_or_none(report_file) if report_file and report_file.is_file() else None
    report = report if isinstance(report, dict) else {}
    variant = str(report.get("variant") or "")
    pruned = _pruned_from(checkpoint, manifest)
    if pruned is None and not (variant and variant.removesuffix("+lora") != "dense"):
        return _pruned_copy(checkpoint, model)
    recorded_in, base = pruned or (checkpoint, str((report.get("base") or {}).get("checkpoint")
                                                   or "") or None)
    what = f"{variant} of {report.get('model')}" if variant and report.get("model") else "a model"
    dense = _recorded_folder(recorded_in, base) if base else None
    fix = (f"give the dense model it was pruned from, local:{dense}" if dense else
           f"give the dense model it was pruned from{f' ({base})' if base else ''}")
    return (f"{folder} holds {what} pruned by prunebench (a prune or recover output): "
            "imported as a base model it would be the dense row of the tables, its "
            "variants sized against it, with nothing left to record that it was pruned; "
            f"{fix}, and list the variant ({variant or '<method>-<size>'}) under "
            f"models.{model}.variants instead")


def _pruned_copy(checkpoint: Path, model: str) -> str | None:
    """Why `checkpoint`, a copy of a prunebench-pruned checkpoint without the manifest and
    report that would name its dense model (its config.json and weights alone, or one imported
    before this check), cannot be a base model, or None. Its config.json says so: `layer_shapes`
    (each block's widths) is written by prunebench's width surgery only, `blocks_before_pruning`
    by its block removal only; no published model has either."""
    raw = read_json_or_none(checkpoint / "config.json")
    raw = raw if isinstance(raw, dict) else {}
    if raw.get("layer_shapes"):
        found = ("layer_shapes (each block's widths), which only prunebench's width pruning "
                 "writes: it holds a width-pruned model")
    elif raw.get("blocks_before_pruning"):
        found = (f"blocks_before_pruning ({raw['blocks_before_pruning']}; it holds "
                 f"{raw.get('num_hidden_layers')}), which only prunebench's depth pruning "
                 "writes: it holds a depth-pruned model")
    else:
        return None
    return (f"{checkpoint}'s config.json has {found} whose manifest and prune report, which "
            "would name its dense model, are not with it. Imported as a base model it would be "
            "the dense row of the tables, its variants sized against it; give the dense model "
            f"it was pruned from, and list the variant under models.{model}.variants instead")


def _pruned_from(checkpoint: Path, manifest: dict,
                 depth: int = 0) -> tuple[Path, str | None] | None:
    """(the pruned checkpoint, the base its manifest says it was pruned from) for a checkpoint
    pruned (its manifest's `base`, or through a LoRA recovery's `lora.base` the base of the
    checkpoint it recovered), or None for one not pruned."""
    if isinstance(manifest.get("base"), dict):
        return checkpoint, str(manifest["base"].get("checkpoint") or "") or None
    lora = manifest.get("lora")
    if depth or not isinstance(lora, dict) or not lora.get("base"):
        return None
    recovered = _recorded_folder(checkpoint, str(lora["base"]))
    inner = read_json_or_none(recovered / MANIFEST) if recovered else None
    return _pruned_from(recovered, inner, depth + 1) if isinstance(inner, dict) else None


def _recorded_folder(checkpoint: Path, base: str) -> Path | None:
    """The folder `base` (a path a manifest or report records, relative to the directory the
    run or command worked in) names, if it holds a model: absolute, from the run directory of
    a workflow checkpoint (<run>/results/pruned/<model>/<variant>/checkpoint), or from here."""
    resolved = checkpoint.resolve()
    tries = [Path(base)] if Path(base).is_absolute() else (
        [resolved.parents[4] / base] if len(resolved.parents) > 4
        and resolved.parents[2].name == "pruned" and resolved.parents[3].name == "results"
        else []) + [Path.cwd() / base]
    return next((p.resolve() for p in tries if (p / "config.json").is_file()), None)


def _from_where_started(source_name: str) -> str:
    """Where a relative folder lies that names one from the directory the command was started
    in (the shell's $PWD, which Snakemake's --directory does not change): the usual slip of a
    run in a directory of its own (--directory runs/<name>)."""
    started = os.environ.get("PWD")
    if not started or Path(started).resolve() == Path.cwd().resolve():
        return ""
    there = Path(started).resolve() / source_name
    if not (there / "config.json").is_file():
        return ""
    return (f", its --directory; from {started}, where it was started, the path names "
            f"{there}: write that absolute path")


def _close_folder(folder: Path) -> str:
    """' (did you mean '<sibling>'?)' for a folder beside the missing one of a close name."""
    from prunebench import did_you_mean

    try:
        siblings = [p.name for p in folder.parent.iterdir() if p.is_dir()]
    except OSError:  # no parent either, or one this user cannot list
        return ""
    hint = did_you_mean(folder.name, siblings)
    close = [name for name in siblings if hint == f" (did you mean {name!r}?)"]
    return f" (did you mean {str(folder.parent / close[0])!r}?)" if close else ""


def _checkpoint_subfolders(folder: Path) -> str:
    """Where a training run's output folder keeps its checkpoints (transformers' Trainer saves
    each in `checkpoint-<step>/`): its sub-folders that hold a config.json, named."""
    try:
        held = sorted((p for p in folder.iterdir() if (p / "config.json").is_file()),
                      key=lambda p: (len(p.name), p.name))
    except OSError:
        return ""
    if not held:
        return ""
    shown = ", ".join(p.name for p in held[-3:])
    more = f" and {len(held) - 3} more" if len(held) > 3 else ""
    return (f"its sub-folder(s) {shown}{more} hold one (a training run's checkpoints?): give "
            f"the one to prune, e.g. local:{held[-1]}")


def import_local(source: str, out_dir: str | Path, where: str | None = None,
                 trust_remote_code: bool | None = None) -> Path:
    """Import the folder `source` (`local:<path>`) names into `out_dir`: copied, pickles
    converted, manifest written, and put in place only once complete (module docstring).
    `trust_remote_code`: whether its code files come too (code_files; None: the workflow's
    setting, hub.trust_remote_code_of_run)."""
    from prunebench.checkpoint import moe_fuse
    from prunebench.checkpoint.integrity import verify_manifest
    from prunebench.checkpoint.text_part import RECORD, finished, take_text_part
    from prunebench.hub import trust_remote_code_of_run
    from prunebench.modeling import write_manifest

    out_dir = Path(out_dir)
    folder = local_path(source.removeprefix("local:"))
    problems = local_problems(out_dir.name, str(folder), where)
    if problems:
        raise PrunebenchError("\n".join(problems))
    if (folder / MANIFEST).is_file():  # made by prunebench: it says what its files must be
        verify_manifest(folder)
    files = import_files(folder)
    # A fixed staging folder, kept when an import breaks off, so a rerun resumes it, unless the
    # folder's files changed since (then a copy or conversion in it may be of the old ones).
    staging = out_dir.parent / f".{out_dir.name}.import"
    record = _state(files)
    if staging.exists() and _recorded(staging) != record:
        log.info("%s changed since the import broke off: starting it over", folder)
        shutil.rmtree(staging)
    staging.mkdir(parents=True, exist_ok=True)
    write_json(staging / SOURCE_RECORD, record)
    # An import killed after it took a multimodal checkpoint's language model out (while its
    # manifest was hashed) is finished with what it made: the originals are gone from staging.
    taken_out = RECORD not in {f.name for f in files} and finished(staging)
    # Likewise one killed after a mixture of experts' per-expert weights were fused (their
    # originals are gone from staging: copied again, they would be fused again).
    fused = moe_fuse.RECORD not in {f.name for f in files} and moe_fuse.finished(staging)
    if not taken_out and not fused:
        if trust_remote_code is None:
            trust_remote_code = trust_remote_code_of_run()
        code = code_files(folder) if trust_remote_code else []
        _copy_and_convert(folder, files + code, staging)
        # A multimodal checkpoint (Gemma-3 4B-27B, Mistral-Small 3.x): its language model,
        # with the sha256 of the folder's files it replaces (workflow_state compares the
        # folder's files with them).
        taken_out = take_text_part(staging, hash_sources=True)
    # Per-expert weights (published Mixtral, Qwen3-MoE, OLMoE, Qwen2-MoE) fused once into
    # transformers 5's layout, which prunebench's loader reads (checkpoint.moe_fuse); a
    # finished fusion's leftover originals are deleted.
    fused = moe_fuse.fuse_experts(staging, hash_sources=True) or fused
    # DBRX's and xLSTM's published config.json written as transformers reads them (their
    # weights as they are)
    written_config = moe_fuse.write_published_config(staging)
    extra = {"source": source, "imported_from": str(folder), "imported_files": record}
    if taken_out:
        extra["imported_sha256"] = read_json_or_none(staging / RECORD).get("source_sha256")
    if fused:  # the originals' sha256, which workflow_state compares the folder's files with
        fusion = read_json_or_none(staging / moe_fuse.RECORD) or {}
        extra["imported_sha256"] = {**(extra.get("imported_sha256") or {}),
                                    **(fusion.get("source_sha256") or {})}
    if written_config is not None:  # the folder's config.json, as workflow_state compares it
        extra["imported_sha256"] = {**(extra.get("imported_sha256") or {}),
                                    "config.json": written_config}
    # The record stays until the manifest is written: hashing a 13B checkpoint takes minutes,
    # and an import interrupted then resumes with its copies.
    hashed = write_manifest(staging, extra)
    (staging / SOURCE_RECORD).unlink()
    os.replace(staging, out_dir)
    remember_verified(out_dir, hashed)
    log.info("imported %s into %s", folder, out_dir)
    return out_dir


def _copy_and_convert(folder: Path, files: list[Path], staging: Path) -> None:
    """Copy `files` of `folder` into `staging` (those an earlier attempt copied whole are kept)
    and convert pickle weights once."""
    from prunebench.checkpoint.pickle_convert import (convert_pickle_checkpoint,
                                                      converted_pickles, from_pickles)

    converted = set(converted_pickles(staging))  # pickles already converted (and deleted)
    for file in files:
        target = staging / file.name
        if file.name in converted or _same_copy(file, target):
            continue
        with atomic_path(target) as tmp:
            shutil.copy2(file, tmp)  # the folder's modification time too, for _same_copy
    # Also after a finished conversion (its record there): the copies above brought the pickle
    # index back, which the conversion turns into the safetensors one again.
    if from_pickles(staging):
        log.warning("%s has pickle weights only: converting them once to safetensors with "
                    "torch's weights-only loader (no code in them runs)", folder)
        convert_pickle_checkpoint(staging)


def folder_state(folder: Path) -> dict[str, list[int]]:
    """The files an import takes from `folder`, each with its size and modification time (ns):
    what the workflow compares to tell whether the folder changed since its import."""
    return _state(import_files(folder))


def workflow_state(folder: Path, model_dir: Path) -> dict[str, list[int]]:
    """What the workflow compares to decide whether `folder` changed since its import into
    `model_dir`: `folder_state`, except when every file whose modification time moved still
    has the size and the bytes that were imported (a `touch`, a copy that did not keep
    times): then the imported record, so only a change of content reruns the import and what
    was made from it. Such files are hashed once per change of their stat (known_sha256's
    memo); pickles converted on import have no recorded hash and count as changed."""
    from prunebench.checkpoint.integrity import known_sha256

    now = folder_state(folder)

    def announce(names: list[str]) -> None:
        log.warning("%s: a new modification time since the import (%s); comparing their "
                    "contents with it (once)", folder, ", ".join(names))

    # Anything odd (a damaged manifest, a file gone or replaced while it is hashed) counts
    # as changed: the worst it does is import again.
    try:
        imported = imported_state(model_dir)
        if not isinstance(imported, dict) or now == imported or set(now) != set(imported):
            return now
        moved = [name for name in now if now[name] != imported[name]]
        recorded = _imported_sha256(model_dir)
        if any(now[name][0] != imported[name][0] or name not in recorded for name in moved):
            return now
        digests = known_sha256([folder / name for name in moved], announce)
        same = all(digests[name] == recorded[name] for name in moved)
    except (OSError, TypeError, AttributeError, IndexError, KeyError):
        return now
    return imported if same else now


def _imported_sha256(model_dir: Path) -> dict[str, str]:
    """{file name: sha256} of the folder's files as imported: as the import's manifest records
    them, or, for the files that taking a multimodal checkpoint's language model out replaced
    (config.json, the original shards and index), as it recorded them (`imported_sha256`)."""
    manifest = read_json_or_none(Path(model_dir) / MANIFEST)
    if not isinstance(manifest, dict):
        return {}
    recorded = {}
    for key in ("files_sha256", "weights_sha256", "imported_sha256"):
        if isinstance(manifest.get(key), dict):
            recorded.update(manifest[key])
    return {k: v for k, v in recorded.items() if isinstance(v, str)}


def _state(files: list[Path]) -> dict[str, list[int]]:
    return {f.name: _size_and_time(f) for f in files}


def _size_and_time(file: Path) -> list[int]:
    stat = file.stat()
    return [stat.st_size, stat.st_mtime_ns]


def imported_state(model_dir: Path) -> dict[str, list[int]] | None:
    """`folder_state` of the folder as it was imported into `model_dir` (its manifest)."""
    manifest = read_json_or_none(Path(model_dir) / MANIFEST)
    return manifest.get("imported_files") if isinstance(manifest, dict) else None


def _recorded(staging: Path) -> dict | None:
    return read_json_or_none(staging / SOURCE_RECORD)


def _same_copy(file: Path, target: Path) -> bool:
    """Whether an earlier attempt copied `file` whole (copies land by rename) and the folder's
    file has not changed since."""
    return target.exists() and _size_and_time(file) == _size_and_time(target)
