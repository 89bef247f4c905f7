"""Text sources and calibration windows.

Sources: `embedded` (text the pipeline generates itself, see `tiny.py`; offline), and the hub
datasets of the original studies through `datasets`: `wikitext2`, `ptb`, `bookcorpus`, `c4`.
Calibration windows start at a seeded random token of a random row and run on through the
following rows, as the original implementations' random offsets do (see calibration_windows).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from prunebench import PrunebenchError

if TYPE_CHECKING:  # torch is imported where windows are made: the workflow parses this module
    import torch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HubText:
    path: str
    name: str | None
    text_field: str
    splits: dict[str, str]  # our split name -> the dataset's
    data_files: dict[str, str] | None = None
    joiner: str = "\n\n"


# Hub locations of the study's datasets (parquet versions that need no loading script).
HUB_TEXTS: dict[str, HubText] = {
    "wikitext2": HubText("Salesforce/wikitext", "wikitext-2-raw-v1", "text",
                         {"train": "train", "validation": "validation", "test": "test"}),
    "ptb": HubText("ptb-text-only/ptb_text_only", "penn_treebank", "sentence",
                   {"train": "train", "validation": "validation", "test": "test"}, joiner=" "),
    "bookcorpus": HubText("bookcorpus/bookcorpus", None, "text", {"train": "train"}, joiner=" "),
    "c4": HubText("allenai/c4", None, "text", {"train": "train", "validation": "validation"},
                  data_files={"train": "en/c4-train.00000-of-01024.json.gz",
                              "validation": "en/c4-validation.00000-of-00008.json.gz"}),
}
EMBEDDED_SPLITS = ("train", "validation", "test")
SOURCES = ("embedded", *HUB_TEXTS)


def load_rows(source: str, split: str, embedded_dir: str | Path | None = None,
              keep_empty: bool = False) -> list[str]:
    """The source's split as a list of text rows (paragraphs / documents), empty ones dropped
    unless `keep_empty` (WikiText's evaluation text keeps them, as the reference does)."""
    if source == "embedded":
        if split not in EMBEDDED_SPLITS:
            raise PrunebenchError(f"embedded text has splits {EMBEDDED_SPLITS}, not {split!r}")
        if embedded_dir is None:
            raise PrunebenchError("the embedded text source needs its directory "
                                  "(resources/data/embedded, made by the workflow)")
        file = Path(embedded_dir) / f"{split}.txt"
        if not file.exists():
            raise PrunebenchError(f"{file} is missing: run the workflow's embedded_text rule "
                                  "(`snakemake resources/data/embedded/train.txt`)")
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            raise PrunebenchError(f"{file} is not UTF-8 text ({err.reason} at byte {err.start})") from None
        return [row for row in text.split("\n") if row.strip()]
    if source not in HUB_TEXTS:
        raise PrunebenchError(f"unknown text source {source!r}: choose one of {list(SOURCES)}")
    spec = HUB_TEXTS[source]
    if split not in spec.splits:
        raise PrunebenchError(f"{source} has splits {list(spec.splits)}, not {split!r}")
    return [row for row in _load_hub_rows(source, spec, split) if keep_empty or row.strip()]


def _load_hub_rows(source: str, spec: HubText, split: str) -> list[str]:
    import datasets

    log.info("loading %s (%s %s, split %s) through datasets", source, spec.path, spec.name or "",
             spec.splits[split])
    try:
        data = datasets.load_dataset(spec.path, spec.name, split=spec.splits[split],
                                     data_files=spec.data_files)
    except Exception as err:  # noqa: BLE001 - datasets raises many types when offline
        raise PrunebenchError(
            f"cannot load dataset {source} ({spec.path}{'/' + spec.name if spec.name else ''}, "
            f"split {split}): {type(err).__name__}. This machine may be offline: pre-fetch it where "
            f"the hub is reachable (`python -c \"import datasets; datasets.load_dataset("
            f"'{spec.path}', {spec.name!r})\"` or `snakemake prefetch`) and set HF_DATASETS_OFFLINE=1 "
            "here, or use the embedded source") from None
    return list(data[spec.text_field])


def load_text(source: str, split: str, embedded_dir: str | Path | None = None) -> str:
    """A split as one string, joined the way the reference evaluations join it."""
    if source in HUB_TEXTS:
        return HUB_TEXTS[source].joiner.join(load_rows(source, split, keep_empty=True))
    return "\n".join(load_rows(source, split, embedded_dir))


def calibration_windows(rows: list[str], tokenizer, n: int, length: int, seed: int,
                        wrap_rows: bool = False) -> torch.Tensor:
    """n windows of exactly `length` token ids, drawn reproducibly from `rows`.

    Each row is tokenized as the originals do (BOS first); a window starts at a random token of
    a random row and runs on through the following rows, so BOS appears only where a row starts
    (LLM-Pruner, FLAP and Wanda-sp all take random offsets). With `wrap_rows` every row is
    `<s> row </s>` (the embedded model's training stream) and a window starts at a row's BOS.
    """
    if n < 1 or length < 2:
        raise PrunebenchError(f"calibration needs n >= 1 windows of length >= 2 (got {n} x {length})")
    if not rows:
        raise PrunebenchError("calibration text is empty")
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    eos = [tokenizer.eos_token_id] if wrap_rows and tokenizer.eos_token_id is not None else []
    rng = random.Random(seed)
    encoded: dict[int, list[int]] = {}
    windows = []
    for _ in range(n):
        start = rng.randrange(len(rows))
        ids: list[int] = []
        for offset in range(len(rows)):
            i = (start + offset) % len(rows)
            if i not in encoded:
                encoded[i] = bos + tokenizer(rows[i], add_special_tokens=False)["input_ids"] + eos
            if offset == 0 and not wrap_rows:
                ids.extend(encoded[i][rng.randrange(len(encoded[i])):])
            else:
                ids.extend(encoded[i])
            if len(ids) >= length:
                break
        if len(ids) < length:
            raise PrunebenchError(
                f"calibration text has only {len(ids)} tokens, fewer than one window of {length}: "
                "use a larger source or shorter windows")
        windows.append(ids[:length])
    import torch

    return torch.tensor(windows, dtype=torch.long)


def save_windows(windows: torch.Tensor, path: str | Path, meta: dict) -> None:
    """Token windows as safetensors (metadata: source, n, length, seed)."""
    from safetensors.torch import save_file

    from prunebench.atomic import atomic_path

    with atomic_path(path) as tmp:
        save_file({"input_ids": windows.contiguous()}, str(tmp),
                  metadata={k: str(v) for k, v in meta.items()})


def load_windows(path: str | Path) -> tuple[torch.Tensor, dict]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        return fh.get_tensor("input_ids"), dict(fh.metadata() or {})
