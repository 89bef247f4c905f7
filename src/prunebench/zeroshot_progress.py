"""lm-eval's answers kept on disk as they are computed, so that an interrupted zero-shot
evaluation (a pre-empted cluster job, a kill, an out-of-memory batch) resumes where it stopped.

lm-eval asks its model for every request of a run in one call per request type
(`loglikelihood` for the study's multiple-choice tasks), and HFLM reports each answer through
its cache hook the moment a batch is scored. `resumable` routes those calls through an
`AnswerStore`: answers already on disk are returned as they were, only the others reach the
model, and each new one is appended to the store as it comes. A 13B evaluation killed after
six of seven tasks then scores only what is left.

A store belongs to one model and one way of scoring it: the file is named by a digest of the
checkpoint's content (its manifest's sha256 records), the tokenizer, `add_bos_token`, the dtype
and device type, and the torch / transformers / lm-eval versions, and its first line repeats
them. Requests are keyed by their own text (as lm-eval's sqlite cache keys them), so changing
the tasks, `limit` or the few-shot setting simply asks for other keys. The batch size is not
part of it: lowering it past an out-of-memory error keeps what was scored (the answers agree
up to floating-point rounding, as for `evaluation.zeroshot.batch_size` in general).

The store is plain JSON lines (never pickle), flushed line by line; a line torn by a kill is
dropped. A finished evaluation deletes its store: a forced rerun scores everything again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FORMAT = 1  # a new number makes every store on disk stale
REQUEST_TYPES = ("loglikelihood", "loglikelihood_rolling", "generate_until")
_HEADER_KEY = "prunebench_zeroshot_progress"
_MISSING = object()
_FSYNC_EVERY_S = 30.0  # flushed each line (a killed process loses nothing); fsynced this often


def request_key(kind: str, args: tuple) -> str | None:
    """The key of one request: its type and arguments (context and continuation, ...) as JSON.
    None for a request not worth keeping: sampled generation (each run must draw anew) or
    arguments that are not JSON."""
    if kind == "generate_until" and len(args) > 1 and isinstance(args[1], dict) \
            and args[1].get("do_sample"):
        return None
    try:
        text = json.dumps([kind, *args], sort_keys=True)
    except (TypeError, ValueError):
        return None
    return hashlib.sha256(text.encode()).hexdigest()


def _decoded(answer: Any) -> Any:
    # JSON has no tuples: loglikelihood's (log-prob, is-greedy) comes back as a list.
    return tuple(answer) if isinstance(answer, list) else answer


class AnswerStore:
    """One evaluation's answers: {request key: answer} read from `path`, and new answers
    appended to it. Open with `open_store`; `close` releases the file's lock."""

    def __init__(self, path: Path, fd: int, answers: dict[str, Any]):
        self.path = path
        self._fd = fd
        self.answers = answers
        self.reused = 0  # requests answered from the store in this run
        self._synced = time.monotonic()

    def lookup(self, kind: str, args: tuple) -> Any:
        key = request_key(kind, args)
        answer = self.answers.get(key, _MISSING) if key else _MISSING
        if answer is not _MISSING:
            self.reused += 1
        return answer

    def add(self, kind: str, args: tuple, answer: Any) -> None:
        key = request_key(kind, tuple(args))
        if key is None or self._fd < 0 or self.answers.get(key, _MISSING) == answer:
            return
        try:
            line = json.dumps({"key": key, "answer": answer}) + "\n"
        except (TypeError, ValueError):  # an answer that is not JSON: scored again next time
            return
        self.answers[key] = _decoded(json.loads(line)["answer"])
        os.write(self._fd, line.encode())
        if time.monotonic() - self._synced > _FSYNC_EVERY_S:
            os.fsync(self._fd)
            self._synced = time.monotonic()

    def close(self, finished: bool) -> None:
        """Release the store; a `finished` evaluation's is deleted (its results are written)."""
        if self._fd < 0:
            return
        try:
            if finished:
                self.path.unlink(missing_ok=True)
            else:
                os.fsync(self._fd)
                log.info("%d answers kept in %s: a rerun of this evaluation scores only the rest",
                         len(self.answers), self.path)
        finally:
            os.close(self._fd)  # closing releases the lock
            self._fd = -1


def store_identity(model, tokenizer, add_bos_token: bool) -> dict[str, Any] | None:
    """What decides the answers besides the requests' text; None for a model that did not come
    from a checkpoint with a manifest (`modeling.load_model` records its content)."""
    from importlib.metadata import PackageNotFoundError, version

    from prunebench.modeling import dtype_name

    checkpoint = getattr(model, "prunebench_content", None)
    if not checkpoint:
        return None
    versions = {}
    for package in ("torch", "transformers", "lm_eval"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    # The shapes too: a model pruned in memory after loading is another model.
    shapes = json.dumps([[name, list(p.shape)] for name, p in model.named_parameters()])
    return {"checkpoint": checkpoint,
            "shapes": hashlib.sha256(shapes.encode()).hexdigest(),
            "tokenizer": str(getattr(tokenizer, "name_or_path", "")),
            "add_bos_token": bool(add_bos_token), "dtype": dtype_name(model),
            "devices": sorted({p.device.type for p in model.parameters()}),
            "versions": versions}


def open_store(folder: str | Path, identity: dict[str, Any]) -> AnswerStore | None:
    """The store of `identity` in `folder`, with what an earlier run of it left; None when
    another process holds it (the same model evaluated twice at once: this one keeps nothing)."""
    import fcntl  # POSIX only: imported where a lock is taken

    header = json.loads(json.dumps({_HEADER_KEY: FORMAT, "identity": identity}))
    digest = hashlib.sha256(json.dumps(header, sort_keys=True).encode()).hexdigest()[:24]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest}.jsonl"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        log.warning("another process is evaluating the same model with %s: this evaluation "
                    "keeps no progress of its own", path)
        return None
    try:
        answers, keep = _read(fd, header)
        os.ftruncate(fd, keep)  # drops a line torn by a kill, or a stale store entirely
        os.lseek(fd, 0, os.SEEK_END)
        if keep == 0:
            os.write(fd, (json.dumps(header, sort_keys=True) + "\n").encode())
    except BaseException:
        os.close(fd)
        raise
    if answers:
        log.info("resuming the zero-shot evaluation: %d answers from an interrupted run (%s)",
                 len(answers), path)
    return AnswerStore(path, fd, answers)


def _read(fd: int, header: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """(answers, bytes to keep) of the file: 0 bytes when its first line is not `header`."""
    data = b""
    while chunk := os.read(fd, 1 << 20):
        data += chunk
    end = data.rfind(b"\n") + 1  # what follows the last newline is a torn line
    lines = data[:end].splitlines()
    try:
        if not lines or json.loads(lines[0]) != header:
            return {}, 0
    except ValueError:
        return {}, 0
    answers = {}
    for line in lines[1:]:
        try:
            entry = json.loads(line)
            answers[str(entry["key"])] = _decoded(entry["answer"])
        except (ValueError, KeyError, TypeError):
            continue  # a damaged line only costs its request being scored again
    return answers, end


class _SavingHook:
    """lm-eval's cache hook (`add_partial`, called as each answer is computed) writing to the
    store."""

    def __init__(self, store: AnswerStore):
        self.store = store

    def add_partial(self, kind: str, args, answer) -> None:
        self.store.add(kind, tuple(args), answer)


def resumable(lm, store: AnswerStore) -> None:
    """Make `lm` (an lm-eval LM) answer from `store` where it can and save what it computes."""
    lm.set_cache_hook(_SavingHook(store))
    for kind in REQUEST_TYPES:
        if hasattr(lm, kind):
            # An instance attribute: lm-eval calls getattr(lm, kind)(requests).
            setattr(lm, kind, functools.partial(_answer, getattr(lm, kind), kind, store))


def _answer(compute, kind: str, store: AnswerStore, requests: list, **kwargs) -> list:
    answers = [store.lookup(kind, tuple(request.args)) for request in requests]
    todo = [request for request, answer in zip(requests, answers) if answer is _MISSING]
    if len(todo) < len(requests):
        log.info("%s: %d of %d requests answered by the interrupted run, %d to score", kind,
                 len(requests) - len(todo), len(requests), len(todo))
    computed = iter(compute(todo, **kwargs) if todo else [])
    out = []
    for request, answer in zip(requests, answers):
        if answer is _MISSING:
            answer = next(computed)
            store.add(kind, tuple(request.args), answer)  # where the hook did not already
        out.append(answer)
    return out
