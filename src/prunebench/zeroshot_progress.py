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

The store (prunebench.progress_store) is plain JSON lines (never pickle), flushed line by
line; a line torn by a kill is dropped. Keeping progress is best-effort: a folder that cannot
be written, a full disk or a file system without locks turns it off with a warning, never
failing the evaluation. The store is deleted once the results are written (a workflow job's when its process ends well,
zeroshot.evaluate), so a forced rerun scores everything again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from prunebench import PrunebenchError
from prunebench.progress_store import ProgressStore, model_identity, open_progress

log = logging.getLogger(__name__)

FORMAT = 1  # a new number makes every store on disk stale
REQUEST_TYPES = ("loglikelihood", "loglikelihood_rolling")  # deterministic answers only
_HEADER_KEY = "prunebench_zeroshot_progress"


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


class AnswerStore(ProgressStore):
    """One evaluation's answers, keyed by their requests (progress_store.ProgressStore). Open
    with `open_store`; `close` releases the file's lock."""

    decode = staticmethod(_decoded)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reused = 0  # requests answered from the store in this run

    @property
    def answers(self) -> dict[str, Any]:
        return self.values

    def lookup(self, kind: str, args: tuple) -> tuple[bool, Any]:
        """(found, answer) for one request."""
        key = request_key(kind, args)
        if key is None or key not in self.values:
            return False, None
        self.reused += 1
        return True, self.values[key]

    def add(self, kind: str, args: tuple, answer: Any) -> None:
        key = request_key(kind, tuple(args))
        if key is not None and self.is_open:
            self.put(key, answer)


def store_identity(model, tokenizer, add_bos_token: bool,
                   tokenization: str = "tokenizer") -> dict[str, Any] | None:
    """What decides the answers besides the requests' text; None for a model that did not come
    from a checkpoint with a manifest (`modeling.load_model` records its content). The study's
    tokenization and the tokenizer's load options (modeling.tokenizer_options) are named only
    where they are used: a store made before they existed still fits."""
    identity = model_identity(model, ("torch", "transformers", "lm_eval"))
    if identity is None:
        return None
    return {**identity, "tokenizer": str(getattr(tokenizer, "name_or_path", "")),
            "add_bos_token": bool(add_bos_token),
            **({"tokenization": tokenization} if tokenization != "tokenizer" else {}),
            **({"tokenizer_options": options}
               if (options := getattr(tokenizer, "prunebench_options", None)) else {})}


def open_store(folder: str | Path, identity: dict[str, Any]) -> AnswerStore | None:
    """The store of `identity` in `folder`, with what an earlier run of it left; None when it
    cannot be kept (another process holds it: the same model evaluated twice at once; a folder
    that cannot be written; a file system without locks), with a warning."""
    return open_progress(folder, {_HEADER_KEY: FORMAT, "identity": identity},
                         "zero-shot answers", "the evaluation", store_class=AnswerStore)


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
