"""Checkpoint integrity: the sha256 of every file that defines a checkpoint, recorded at save and
checked at load.

Weights are not the only thing that decides what a checkpoint computes: `config.json` (e.g.
`rope_theta`, `rms_norm_eps`), `generation_config.json` and the tokenizer files change results
without changing any shape, so the shape checks in `modeling.load_model` cannot see an edit to
them. The manifest therefore records the weights (`weights_sha256`) and those files
(`files_sha256`: every top-level file with a DEFINING_SUFFIXES suffix that the save or a hub
download wrote). A file transformers reads at load (READ_AT_LOAD) that the manifest does not
name was put there after the save: it is refused too.

Manifest formats: 1 recorded `weights_sha256` only; 2 (FORMAT_VERSION) adds `files_sha256`. A
format-1 manifest still loads, and what it records is still verified. A checkpoint without a
manifest is refused where the workflow keeps checkpoints (it writes one into each) and loads
with a warning elsewhere (a user's own folder).

Hashing a 13B checkpoint (26 GB) takes tens of seconds, and every benchmark and evaluation cell
loads its checkpoint again. So files are hashed in parallel, and a file whose size, inode and
modification time are unchanged since it last verified against the recorded digest is not
hashed again: anything that rewrites or truncates a file changes those. The memo covers the small
files too, so a load that verifies nothing new costs a few stat calls. It lives outside the
checkpoint (writing into a Snakemake output directory would make it look newer than its
consumers). Set PRUNEBENCH_VERIFY=full to hash every time. What a save has just hashed for its
manifest is memoised under the checkpoint's final folder too (`remember_verified`, after the
rename, which keeps size, inode and modification time), so its first load hashes nothing again.

Which files hold the weights (`weight_files`) is decided here too, without torch, so that the
workflow's start check of a `local:` folder and the loader agree.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from prunebench import PrunebenchError, ResourceError
from prunebench.atomic import read_json_or_none, write_json
from prunebench.plan import layout

log = logging.getLogger(__name__)

# A checkpoint's tokenizer is whichever of these it has (calibration and evaluation need one).
# Any of these is a tokenizer transformers loads; Mistral's tekken.json alone (Mistral-Small
# 3.2, Magistral) is converted by transformers 5.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "tokenizer_config.json", "tekken.json")
MANIFEST = "prunebench.json"
# The index of a sharded checkpoint: which shard holds each tensor.
SAFETENSORS_INDEX = "model.safetensors.index.json"
FORMAT_VERSION = 2  # 1: weights_sha256 only; 2: also files_sha256 (config, tokenizer, ...)

# Suffixes of the non-weight files that change what a checkpoint computes: config.json,
# generation_config.json, the shard index and the tokenizer (tokenizer.json,
# tokenizer_config.json, special_tokens_map.json, added_tokens.json, tokenizer.model,
# chat_template.jinja, vocab/merges *.txt, *.tiktoken), and code a tokenizer may ship (*.py).
# These are what save_model and a hub download (hub.ALLOW_PATTERNS) write besides the weights.
DEFINING_SUFFIXES = (".json", ".model", ".txt", ".tiktoken", ".jinja", ".py")
# Of those, the files transformers reads when it loads a model or a tokenizer from a folder:
# by name, and any SentencePiece (*.model) or tiktoken file. One of them put into a checkpoint
# after its save changes what it computes; a notes.txt, LICENSE.txt or eval_results.json
# beside the weights is read by nothing. (Remote code runs only as config.json's auto_map,
# which the manifest records, names it.)
READ_AT_LOAD = ("config.json", "generation_config.json", SAFETENSORS_INDEX, "tokenizer.json",
                "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
                "tekken.json", "chat_template.jinja", "chat_template.json", "vocab.json",
                "merges.txt", "vocab.txt")
READ_AT_LOAD_SUFFIXES = (".model", ".tiktoken")

_REDO = ("re-run the step that made this checkpoint (delete the folder and rerun snakemake, "
         "which makes it again)")


def sha256_file(path: Path, chunk: int = 1 << 24) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)  # releases the GIL: files hash in parallel threads
    return digest.hexdigest()


def sha256_files(files: list[Path]) -> dict[str, str]:
    """{file name: sha256}, hashed in parallel."""
    if not files:
        return {}
    if len(files) == 1:  # e.g. one small file: no thread pool to start
        return {files[0].name: sha256_file(files[0])}
    with ThreadPoolExecutor(max_workers=min(len(files), os.cpu_count() or 1, 8)) as pool:
        return dict(zip((f.name for f in files), pool.map(sha256_file, files)))


def defining_files(path: Path) -> list[Path]:
    """The checkpoint's non-weight files that define its behaviour (see DEFINING_SUFFIXES).

    Top level only and no hidden files: a hub download keeps its own bookkeeping in `.cache/`.
    """
    return sorted(f for f in Path(path).iterdir()
                  if f.is_file() and f.suffix in DEFINING_SUFFIXES
                  and f.name != MANIFEST and not f.name.startswith("."))


def write_manifest(path: Path, weight_files: list[Path],
                   extra: dict[str, Any] | None = None) -> dict[str, list]:
    """Write the manifest; return what was hashed as memo entries ({name: [size, inode, mtime,
    sha256]}, stat taken before hashing) for `remember_verified` once the folder is in place."""
    others = defining_files(path)
    files = [*weight_files, *others]
    stats = {f.name: _stat_key(f) for f in files}
    digests = sha256_files(files)  # one pool for all: the small files ride along
    manifest = {"format": FORMAT_VERSION,
                "weights_sha256": {f.name: digests[f.name] for f in weight_files},
                "files_sha256": {f.name: digests[f.name] for f in others}}
    manifest.update(extra or {})
    (path / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return {name: [*stats[name], digests[name]] for name in digests}


def remember_verified(path: Path, hashed: dict[str, list]) -> None:
    """Memoise, for the checkpoint now at `path`, the files `write_manifest` hashed where it was
    written (a staging folder renamed to `path` since): each file whose size, inode and
    modification time are still those it was hashed with. A file that differs is left out, and
    its first load hashes it as before."""
    memo_file = None if os.environ.get("PRUNEBENCH_VERIFY") == "full" else _memo_file(path)
    if memo_file is None:
        return
    fresh = {}
    for name, entry in hashed.items():
        try:
            if _stat_key(path / name) == entry[:3]:
                fresh[name] = entry
        except OSError:  # gone already: nothing to remember
            continue
    if not fresh:
        return
    memo = {**_read_memo(memo_file), **fresh}
    try:
        write_json(memo_file, memo)
    except OSError as exc:  # a read-only home only costs time
        log.debug("could not record the hashes in %s: %s", memo_file, exc)


def base_record(path: str | Path) -> dict[str, Any]:
    """Which checkpoint a pruned one was made from, for its report and manifest: its folder,
    the sha256 of its manifest (which holds every weight file's sha256, so it names the
    weights wherever they lie), and where it came from as its manifest says (`source`, the
    `hub_commit` a hub download got, and `imported_from` for a `local:` folder; the results'
    cells name such a source by its kind alone, so that moving the folder reruns nothing)."""
    path = Path(path)
    manifest = read_json_or_none(path / MANIFEST)
    if manifest is None:  # no manifest: a checkpoint loaded outside the workflow
        return {"checkpoint": str(path), "manifest_sha256": None}
    record = {"checkpoint": str(path), "manifest_sha256": sha256_file(path / MANIFEST)}
    if isinstance(manifest, dict):
        record.update({key: manifest[key] for key in ("source", "hub_commit", "imported_from")
                       if isinstance(manifest.get(key), str)})
    return record


# The largest header the safetensors library reads (its MAX_HEADER_SIZE).
MAX_SAFETENSORS_HEADER = 100_000_000


def safetensors_problem(file: str | Path) -> str | None:
    """Why `file` is not a whole safetensors file, from its header alone (cheap for any size:
    what a copy cut short or a file of another format looks like), or None. The format: an
    8-byte little-endian header length, a JSON header giving each tensor's byte range, then
    the tensors' bytes, which end exactly where the file does."""
    file = Path(file)
    if not file.is_file():
        return f"{file.name} is not a file"
    size = file.stat().st_size
    try:
        with open(file, "rb") as fh:
            length = int.from_bytes(fh.read(8), "little")
            if size < 8 or length > size - 8:
                return (f"{file.name} holds {size:,} bytes, too few for the header it begins "
                        "with (cut short, or not safetensors)")
            if length > MAX_SAFETENSORS_HEADER:  # the safetensors library's own limit
                return (f"{file.name} is not safetensors: its header would be {length:,} bytes, "
                        f"over the format's {MAX_SAFETENSORS_HEADER:,}")
            header = json.loads(fh.read(length))
        ends = [entry["data_offsets"][1] for key, entry in header.items()
                if key != "__metadata__"]
        if not all(isinstance(end, int) and not isinstance(end, bool) for end in ends):
            raise TypeError("a tensor's byte range is not a whole number")
        expected = 8 + length + max(ends, default=0)
    except OSError as err:
        return f"{file.name} cannot be read ({err.strerror or err})"
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError) as err:
        return f"{file.name} is not safetensors: its header does not read ({type(err).__name__})"
    if size != expected:
        return (f"{file.name} holds {size:,} bytes where its header describes {expected:,} "
                f"({'cut short' if size < expected else 'extra bytes at its end'})")
    return None


def safetensors_problems(files) -> list[str]:
    """`safetensors_problem` of each safetensors file among `files`, those there are."""
    return [problem for file in map(Path, files) if file.suffix == ".safetensors"
            if (problem := safetensors_problem(file))]


def _memo_file(path: Path) -> Path | None:
    root = os.environ.get("PRUNEBENCH_CACHE_DIR") or Path.home() / ".cache" / "prunebench"
    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:32]
    return Path(root) / "verified" / f"{key}.json"


def _stat_key(file: Path) -> list[int]:
    st = file.stat()
    return [st.st_size, st.st_ino, st.st_mtime_ns]


def read_recorded(path: Path, manifest_path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(weights, other files) as {name: sha256}; a format-1 manifest has no other files."""
    try:
        manifest = json.loads(manifest_path.read_text())
        weights = manifest["weights_sha256"]
        files = manifest.get("files_sha256", {})
        if not all(isinstance(d, dict) and all(isinstance(v, str) for v in d.values())
                   for d in (weights, files)):
            raise TypeError("sha256 records are not {file: digest} maps")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PrunebenchError(f"checkpoint {path}: {MANIFEST} is unreadable ({exc}); re-run the "
                              "step that made this checkpoint") from exc
    if not files:
        log.debug("%s: manifest format %s records weights only; config and tokenizer files are "
                  "not verified", path, manifest.get("format"))
    return weights, files


def content_digest(path: Path) -> str | None:
    """One sha256 for what a checkpoint holds: of its manifest's records of every weight file
    and every other file that defines it (config, tokenizer; a format-1 manifest, which records
    weights only, has those hashed here); None without a manifest. Two folders with the same
    digest hold the same model and tokenizer."""
    manifest_path = Path(path) / MANIFEST
    if not manifest_path.exists():
        return None
    weights, files = read_recorded(Path(path), manifest_path)
    if not files:
        files = sha256_files(defining_files(Path(path)))
    records = json.dumps({"weights": weights, "files": files}, sort_keys=True)
    return hashlib.sha256(records.encode()).hexdigest()


def known_sha256(files: list[Path], announce=None) -> dict[str, str]:
    """{file name: sha256} of files in one folder, each hashed only when its size, inode or
    modification time is new to the folder's memo (the one verify_manifest keeps: an entry
    says a file with that stat has that digest; PRUNEBENCH_VERIFY=full hashes every time).
    `announce(names)` is called before hashing."""
    if not files:
        return {}
    memo_file = None if os.environ.get("PRUNEBENCH_VERIFY") == "full" else _memo_file(
        files[0].parent)
    memo = _read_memo(memo_file)
    stats = {f.name: _stat_key(f) for f in files}
    known = {name: entry[3] for name, entry in memo.items()
             if name in stats and isinstance(entry, list) and len(entry) == 4
             and entry[:3] == stats[name] and isinstance(entry[3], str)}
    stale = [f for f in files if f.name not in known]
    if stale and announce is not None:
        announce([f.name for f in stale])
    fresh = sha256_files(stale)
    if fresh and memo_file is not None:
        memo.update({name: [*stats[name], digest] for name, digest in fresh.items()})
        try:
            write_json(memo_file, memo)
        except OSError as exc:  # a read-only home only costs time
            log.debug("could not record the hashes in %s: %s", memo_file, exc)
    return {**known, **fresh}


def verify_manifest(path: Path, weights: bool = True) -> None:
    """Check every recorded file against its hash, naming the one that differs, and refuse a
    config or tokenizer file the manifest does not name (one added after the save).

    With `weights=False` only the small files (config, tokenizer, ...) are checked: for jobs that
    read the tokenizer but never the weights (drawing calibration windows).
    """
    path = Path(path)
    manifest_path = path / MANIFEST
    if not manifest_path.exists():
        _no_manifest(path)
        return
    recorded_weights, recorded_files = read_recorded(path, manifest_path)
    recorded = {**recorded_files, **(recorded_weights if weights else {})}

    def what(name: str) -> str:
        return f"weight file {name}" if name in recorded_weights else name

    if recorded_files:  # a format-2 manifest names every defining file the checkpoint had
        added = [f.name for f in defining_files(path) if f.name not in recorded_files
                 and (f.name in READ_AT_LOAD or f.suffix in READ_AT_LOAD_SUFFIXES)]
        if added:
            raise PrunebenchError(_added_message(path, added))
    for name in recorded:
        if not (path / name).exists():
            # ResourceError: on a shared file system a file just written elsewhere may show
            # late, which a retry gets past; a file really gone fails the retry as fast.
            raise ResourceError(f"checkpoint {path}: {what(name)} is missing; {_REDO}")
    memo_file = None if os.environ.get("PRUNEBENCH_VERIFY") == "full" else _memo_file(path)
    memo = _read_memo(memo_file)
    # Stat before hashing: a file rewritten while it is hashed then fails the memo next time.
    stats = {name: _stat_key(path / name) for name in recorded}
    stale = [name for name, digest in recorded.items() if memo.get(name) != [*stats[name], digest]]
    actual = sha256_files([path / name for name in stale])
    for name in stale:
        if actual[name] != recorded[name]:
            raise PrunebenchError(_mismatch_message(path, name, what(name),
                                                    name in recorded_weights))
    if memo_file is not None and stale:
        # Merge: a check of the small files alone must not forget the verified weights.
        memo.update({name: [*stats[name], recorded[name]] for name in recorded})
        try:
            write_json(memo_file, memo)
        except OSError as exc:  # a read-only home only costs time
            log.debug("could not record verification in %s: %s", memo_file, exc)


# Where the workflow puts checkpoints; every one it writes there has a manifest.
_WORKFLOW_CHECKPOINTS = (layout.MODEL, layout.CHECKPOINT)
_warned: set[Path] = set()  # folders already warned about: a job loads weights and tokenizer


def _made_by_workflow(path: Path) -> bool:
    """Whether `path` ends as one of the workflow's checkpoint paths (a wildcard matching any
    one folder name). abspath, not resolve: a linked folder is judged by where it is used."""
    parts = Path(os.path.abspath(path)).parts
    for pattern in _WORKFLOW_CHECKPOINTS:
        want = pattern.split("/")
        tail = parts[-len(want):]
        if len(tail) == len(want) and all(w.startswith("{") or w == p for w, p in zip(want, tail)):
            return True
    return False


def _no_manifest(path: Path) -> None:
    """A checkpoint without a manifest: one of the workflow's cannot be trusted (something other
    than the workflow put it there, so nothing is known of its files); one of the user's own
    (`prunebench bench/eval DIR`) loads, with a warning that nothing was verified."""
    if _made_by_workflow(path):
        raise PrunebenchError(
            f"checkpoint {path} has no {MANIFEST}, which the workflow writes into every "
            "checkpoint it makes there, so its files cannot be verified: delete the folder and "
            "rerun snakemake, which makes it again (to bring a model in by hand, copy a whole "
            f"resources/models/<name>/ folder made by the workflow, its {MANIFEST} included)")
    if path not in _warned:
        _warned.add(path)
        # One line that says why and that nothing is wrong: a save_pretrained folder of the
        # user's own is the common case, and -q keeps warnings.
        log.warning("checkpoint %s has no %s, so prunebench did not make it (a save_pretrained "
                    "folder, a download): it loads as it is, its files not verified against "
                    "recorded sha256 sums, which only prunebench's own checkpoints have", path,
                    MANIFEST)


def _mismatch_message(path: Path, name: str, what: str, is_weight: bool) -> str:
    if is_weight:
        return (f"checkpoint {path}: {what} does not match its recorded sha256 (truncated or "
                f"modified); {_REDO}")
    return (f"checkpoint {path}: {what} does not match its recorded sha256 (edited after the "
            "checkpoint was saved; it changes the model's results without changing any shape, "
            f"so they would be silently wrong); restore the original {name}, or {_REDO}")


def _added_message(path: Path, added: list[str]) -> str:
    names = ", ".join(added)
    return (f"checkpoint {path}: {names} {'is' if len(added) == 1 else 'are'} not in its "
            f"{MANIFEST}, which names every config and tokenizer file the checkpoint was saved "
            "with: added after the save, and read at load, so the model's results could change "
            f"unseen; move {'it' if len(added) == 1 else 'them'} out of the folder, or {_REDO}")


def _read_memo(memo_file: Path | None) -> dict[str, Any]:
    if memo_file is None or not memo_file.exists():
        return {}
    try:
        memo = json.loads(memo_file.read_text())
    except (OSError, ValueError):
        return {}
    return memo if isinstance(memo, dict) else {}


# The one weight file of an unsharded checkpoint, as transformers names it.
SAFETENSORS_SINGLE = "model.safetensors"


def safetensors_files(path: Path) -> list[Path]:
    """The `*.safetensors` files in the folder `path`, sorted; a hidden one (macOS's
    `._model.safetensors` beside a copy) is none of them."""
    return sorted(f for f in path.glob("*.safetensors") if not f.name.startswith("."))


def weight_files(path: Path) -> list[Path]:
    """The checkpoint's safetensors weight files: the shards its index names, else the files
    its manifest records, else its one `*.safetensors` file. Another file beside them (a
    leftover shard, another format's `consolidated.safetensors`) is not loaded: loaded too, its
    tensors would replace the model's, unseen by the manifest's check of the files it records."""
    files = safetensors_files(path)
    if not files:
        pickles = sorted(p.name for p in path.glob("*.bin")) + sorted(p.name for p in path.glob("*.pt"))
        hint = (f" (found pickle files {pickles}: prunebench never loads pickle; convert them to "
                "safetensors first: a workflow model `source: local:<folder>` converts them once "
                "through torch's weights-only loader, or save the model again with "
                "save_pretrained)") if pickles else (
            ": copy the model's *.safetensors files (and their index) beside its config.json")
        raise PrunebenchError(f"no safetensors weights in {path}{hint}")
    names = _indexed_shards(path)
    if names is None:
        recorded = _manifest_weight_names(path)
        if recorded:
            names = recorded
        elif len(files) > 1 and any(f.name == SAFETENSORS_SINGLE for f in files):
            # transformers' from_pretrained reads this file by its name when there is no index
            # (a PEFT adapter or Mistral's consolidated weights beside it are not loaded)
            names = [SAFETENSORS_SINGLE]
        elif len(files) > 1:
            raise PrunebenchError(
                f"{path} holds several safetensors files ({', '.join(f.name for f in files)}) "
                f"and no {SAFETENSORS_INDEX} to say which hold the model: copy the model's "
                "index beside them, or move the other files out")
        else:
            names = [files[0].name]
    # A hub repository or folder is not trusted to name only its own files: an index naming
    # '../x.safetensors' or '/abs/y.safetensors' had another file read, hashed and copied.
    named_by = SAFETENSORS_INDEX if (path / SAFETENSORS_INDEX).exists() else MANIFEST
    outside = [name for name in names if Path(name).name != name or name in (".", "..")
               or not name.endswith(".safetensors")]
    if outside:
        raise PrunebenchError(
            f"checkpoint {path}: its {named_by} names weight file(s) that are not safetensors "
            f"files beside it ({', '.join(outside)}): a checkpoint's shards lie in its folder; "
            "use the model's own index, or download it again")
    missing = [name for name in names if not (path / name).is_file()]
    if missing:
        raise PrunebenchError(
            f"checkpoint {path}: weight file(s) {', '.join(missing)} missing (named by its "
            f"{named_by}): copy every shard of the model beside its config.json, or download "
            "it again")
    stray = sorted(f.name for f in files if f.name not in names)
    if stray and (path, tuple(stray)) not in _SAID_STRAY:  # said once, not at every read
        _SAID_STRAY.add((path, tuple(stray)))
        log.warning("%s: not loading %s, which the checkpoint's index or manifest does not name",
                    path, ", ".join(stray))
    return [path / name for name in names]


_SAID_STRAY: set[tuple[Path, tuple[str, ...]]] = set()


def _indexed_shards(path: Path) -> list[str] | None:
    """The shard names `model.safetensors.index.json` maps the weights to (None: no index)."""
    index = path / SAFETENSORS_INDEX
    if not index.exists():
        return None
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        names = sorted({str(name) for name in weight_map.values()})
        if not names:
            raise ValueError("its weight_map names no file")
        return names
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PrunebenchError(f"{index} is unreadable ({type(exc).__name__}: {exc}): copy the "
                              "model's index again, or download the model again") from None


def _manifest_weight_names(path: Path) -> list[str] | None:
    """The weight files the checkpoint's manifest records (None without a readable one: the
    manifest's own check says what is wrong with it)."""
    manifest = path / MANIFEST
    if not manifest.is_file():
        return None
    try:
        weights, _ = read_recorded(path, manifest)
    except (PrunebenchError, OSError):
        return None
    return sorted(weights) or None
