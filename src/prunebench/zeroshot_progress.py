"""lm-eval's answers kept on disk as they are computed, so that an interrupted zero-shot
evaluation (a pre-empted cluster job, a kill, an out-of-memory batch) resumes where it stopped.

lm-eval asks its model for every request of a run in one call per request type
(`loglikelihood` for the study's multiple-choice tasks), and HFLM reports each answer through
its cache hook the moment a batch is scored. `resumable` routes those calls through an
`AnswerStore`: answers already on disk are returned as they were, only the others reach the
model, and each new one is appended to the store as it comes. A 13B evaluation killed after
six of seven tasks then scores only what is left. Only log-likelihoods are kept: generated text
may be sampled (a task's `temperature` alone turns sampling on), and a kept sample would be
returned for every repeat.

A store belongs to one model and one way of scoring it: the file is named by a digest of the
checkpoint's content (`integrity.content_digest`), the model's shapes, the tokenizer,
`add_bos_token`, the dtype and device type, prunebench's code and the torch / transformers /
lm-eval versions, and its first line repeats them. Requests are keyed by their own text (as
lm-eval's sqlite cache keys them), so changing the tasks, `limit` or the few-shot setting simply
asks for other keys. The batch size is not part of it: lowering it past an out-of-memory error
keeps what was scored (the answers agree up to floating-point rounding, as for
`evaluation.zeroshot.batch_size` in general).

The store is plain JSON lines (never pickle), flushed line by line; a line torn by a kill is
dropped. Keeping progress is best-effort: a folder that cannot be written, a full disk or a
file system without locks turns it off with a warning, never failing the evaluation. The
store is deleted once the results are written (a workflow job's when its process ends well,
zeroshot.evaluate), so a forced rerun scores everything again.
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

from prunebench import PrunebenchError

log = logging.getLogger(__name__)

FORMAT = 1  # a new number makes every store on disk stale
REQUEST_TYPES = ("loglikelihood", "loglikelihood_rolling")  # deterministic answers only
_HEADER_KEY = "prunebench_zeroshot_progress"
_FSYNC_EVERY_S = 30.0  # flushed each line (a killed process loses nothing); fsynced this often


def request_key(kind: str, args: tuple) -> str | None:
    """The key of one request: its type and arguments (context and continuation) as JSON. None
    for one not kept: another type (generation), or arguments that are not JSON."""
    if kind not in REQUEST_TYPES:
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
    appended to it while it is open. Open with `open_store`; `close` releases the file's lock."""

    def __init__(self, path: Path, fd: int, answers: dict[str, Any]):
        self.path = path
        self._fd = fd
        self.answers = answers
        self.reused = 0  # requests answered from the store in this run
        self._synced = time.monotonic()

    def lookup(self, kind: str, args: tuple) -> tuple[bool, Any]:
        """(found, answer) for one request."""
        key = request_key(kind, args)
        if key is None or key not in self.answers:
            return False, None
        self.reused += 1
        return True, self.answers[key]

    def add(self, kind: str, args: tuple, answer: Any) -> None:
        key = request_key(kind, tuple(args))
        if key is None or self._fd < 0 or key in self.answers:
            return
        try:
            line = (json.dumps({"key": key, "answer": answer}) + "\n").encode()
        except (TypeError, ValueError):  # an answer that is not JSON: scored again next time
            return
        self.answers[key] = _decoded(json.loads(line)["answer"])
        try:
            written = 0
            while written < len(line):
                written += os.write(self._fd, line[written:])
            if time.monotonic() - self._synced > _FSYNC_EVERY_S:
                os.fsync(self._fd)
                self._synced = time.monotonic()
        except OSError as exc:  # a full disk or a quota: the evaluation goes on without it
            log.warning("cannot keep zero-shot answers in %s (%s): the evaluation goes on, but a "
                        "rerun after an interruption will score everything again", self.path, exc)
            self._release()

    def close(self, finished: bool, keep: bool = False) -> None:
        """Release the store. A `finished` evaluation's store is deleted (its results are made),
        unless `keep` (its caller deletes it once they are written); an unfinished one's is kept
        for the rerun."""
        if self._fd < 0:
            return
        try:
            if finished and not keep:
                self.path.unlink(missing_ok=True)
            elif finished:
                os.fsync(self._fd)
            else:
                os.fsync(self._fd)
                log.info("%d answers kept in %s: a rerun of this evaluation scores only the rest",
                         len(self.answers), self.path)
        except OSError as exc:  # never hides the evaluation's own outcome
            log.warning("zero-shot progress file %s: %s", self.path, exc)
        finally:
            self._release()

    def _release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing releases the lock
            self._fd = -1


def store_identity(model, tokenizer, add_bos_token: bool) -> dict[str, Any] | None:
    """What decides the answers besides the requests' text; None for a model that did not come
    from a checkpoint with a manifest (`modeling.load_model` records its content)."""
    from importlib.metadata import PackageNotFoundError, version

    from prunebench.modeling import dtype_name
    from prunebench.provenance import code_identity

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
            "code": code_identity()["hash"], "versions": versions}


def open_store(folder: str | Path, identity: dict[str, Any]) -> AnswerStore | None:
    """The store of `identity` in `folder`, with what an earlier run of it left; None when it
    cannot be kept (another process holds it: the same model evaluated twice at once; a folder
    that cannot be written; a file system without locks), with a warning."""
    header = json.loads(json.dumps({_HEADER_KEY: FORMAT, "identity": identity}))
    digest = hashlib.sha256(json.dumps(header, sort_keys=True).encode()).hexdigest()[:24]
    path = Path(folder) / f"{digest}.jsonl"
    try:
        fd = _locked(path)
    except OSError as exc:
        return _cannot_keep(path, exc)
    if fd is None:
        log.warning("another process is evaluating the same model with %s: this evaluation "
                    "keeps no progress of its own", path)
        return None
    try:
        answers, keep = _read(fd, header)
        os.ftruncate(fd, keep)  # drops a line torn by a kill, or a stale store entirely
        os.lseek(fd, 0, os.SEEK_END)
        if keep == 0:
            os.write(fd, (json.dumps(header, sort_keys=True) + "\n").encode())
    except OSError as exc:
        os.close(fd)
        return _cannot_keep(path, exc)
    if answers:
        log.info("resuming the zero-shot evaluation: %d answers from an interrupted run (%s)",
                 len(answers), path)
    return AnswerStore(path, fd, answers)


def _cannot_keep(path: Path, exc: OSError) -> None:
    log.warning("cannot keep zero-shot answers in %s (%s): the evaluation runs without them, so "
                "an interrupted one will start over", path, exc)


def _locked(path: Path, attempts: int = 5) -> int | None:
    """A descriptor of `path` holding its exclusive lock, or None while another holds it."""
    import fcntl  # POSIX only: imported where a lock is taken

    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(attempts):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except OSError:
            os.close(fd)
            raise
        # The holder before us may have finished and deleted the file between our open and our
        # lock: then we hold a file no one else will find. Lock the one at the path instead.
        try:
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)
    raise OSError(f"{path} kept being replaced while it was being locked")


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
        if args is not None:  # a rolling log-likelihood's windows come without a request
            self.store.add(kind, tuple(args), answer)


def resumable(lm, store: AnswerStore) -> None:
    """Make `lm` (an lm-eval LM) answer from `store` where it can and save what it computes."""
    lm.set_cache_hook(_SavingHook(store))
    for kind in REQUEST_TYPES:
        if hasattr(lm, kind):
            # An instance attribute: lm-eval calls getattr(lm, kind)(requests).
            setattr(lm, kind, functools.partial(_answer, getattr(lm, kind), kind, store))


def _answer(compute, kind: str, store: AnswerStore, requests: list, **kwargs) -> list:
    found = [store.lookup(kind, tuple(request.args)) for request in requests]
    todo = [request for request, (known, _) in zip(requests, found) if not known]
    if len(todo) < len(requests):
        log.info("%s: %d of %d requests answered by the interrupted run, %d to score", kind,
                 len(requests) - len(todo), len(requests), len(todo))
    computed = list(compute(todo, **kwargs)) if todo else []
    if len(computed) != len(todo):
        raise PrunebenchError(f"lm-eval's {kind} gave {len(computed)} answers for {len(todo)} "
                              "requests")
    for request, answer in zip(todo, computed):
        store.add(kind, tuple(request.args), answer)  # where the hook did not already
    fresh = iter(computed)
    return [answer if known else next(fresh) for known, answer in found]
