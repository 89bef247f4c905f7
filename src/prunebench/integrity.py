"""Checkpoint integrity: the sha256 of every weight file, recorded at save and checked at load.

Hashing a 13B checkpoint (26 GB) takes tens of seconds, and every benchmark and evaluation cell
loads its checkpoint again. So files are hashed in parallel, and a file whose size, inode and
modification time are unchanged since it last verified against the recorded digest is not
hashed again: anything that rewrites or truncates a file changes those. The memo lives outside
the checkpoint (writing into a Snakemake output directory would make it look newer than its
consumers). Set PRUNEBENCH_VERIFY=full to hash every time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from prunebench import PrunebenchError
from prunebench.atomic import write_json

log = logging.getLogger(__name__)

MANIFEST = "prunebench.json"
FORMAT_VERSION = 1


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
    with ThreadPoolExecutor(max_workers=min(len(files), os.cpu_count() or 1, 8)) as pool:
        return dict(zip((f.name for f in files), pool.map(sha256_file, files)))


def write_manifest(path: Path, weight_files: list[Path], extra: dict[str, Any] | None = None) -> None:
    manifest = {"format": FORMAT_VERSION, "weights_sha256": sha256_files(weight_files)}
    manifest.update(extra or {})
    (path / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")


def _memo_file(path: Path) -> Path | None:
    root = os.environ.get("PRUNEBENCH_CACHE_DIR") or Path.home() / ".cache" / "prunebench"
    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:32]
    return Path(root) / "verified" / f"{key}.json"


def _stat_key(file: Path) -> list[int]:
    st = file.stat()
    return [st.st_size, st.st_ino, st.st_mtime_ns]


def verify_manifest(path: Path) -> None:
    """Check every weight file against the recorded hash, naming the one that differs."""
    path = Path(path)
    manifest_path = path / MANIFEST
    if not manifest_path.exists():
        return  # a checkpoint made elsewhere (e.g. a hub download without a manifest)
    try:
        recorded = json.loads(manifest_path.read_text())["weights_sha256"]
    except (ValueError, KeyError, TypeError) as exc:
        raise PrunebenchError(f"checkpoint {path}: {MANIFEST} is unreadable ({exc}); re-run the "
                              "step that made this checkpoint") from exc
    for name in recorded:
        if not (path / name).exists():
            raise PrunebenchError(f"checkpoint {path}: weight file {name} is missing; "
                                  "re-run the step that made this checkpoint")
    memo_file = None if os.environ.get("PRUNEBENCH_VERIFY") == "full" else _memo_file(path)
    memo = _read_memo(memo_file)
    stale = [name for name, digest in recorded.items()
             if memo.get(name) != [*_stat_key(path / name), digest]]
    actual = sha256_files([path / name for name in stale])
    for name in stale:
        if actual[name] != recorded[name]:
            raise PrunebenchError(f"checkpoint {path}: weight file {name} does not match its "
                                  "recorded sha256 (truncated or modified); re-run the step "
                                  "that made this checkpoint")
    if memo_file is not None and stale:
        memo = {name: [*_stat_key(path / name), digest] for name, digest in recorded.items()}
        try:
            write_json(memo_file, memo)
        except OSError as exc:  # a read-only home only costs time
            log.debug("could not record verification in %s: %s", memo_file, exc)


def _read_memo(memo_file: Path | None) -> dict[str, Any]:
    if memo_file is None or not memo_file.exists():
        return {}
    try:
        return json.loads(memo_file.read_text())
    except (OSError, ValueError):
        return {}
