"""Text sources and calibration windows.

Sources: `embedded` (text the pipeline generates itself, see `tiny.py`; offline), and the hub
datasets of the original studies through `datasets`: `wikitext2`, `ptb`, `bookcorpus`, `c4`,
`pg19` (its validation books), `tatsu_alpaca` (the part of Alpaca BlockPruner calibrates on);
and texts of your own (the config's `texts`, prunebench.local_text).
Calibration windows are drawn the way each original implementation draws them (`sampling`,
see draw_windows and SAMPLINGS): one slice inside one long row, a row cut in chunks, or slices
or chunks of the rows joined into one stream; `wrapped` (the embedded text's) runs on through
`<s> row </s>` rows.

A calibration file records the sha256 of its content in its own metadata (CHECKSUM_KEY), and
load_windows checks it and that every id is a token of the model, so a damaged file stops with
its name and the way to redraw it instead of an IndexError deep inside the model. Files from
before the checksum still load, with the token-id checks only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from prunebench import PrunebenchError
from prunebench.hub import dataset_commit, hub_auth, load_error

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
    # The commit loaded, where one is known to hold the files the originals read; None: the
    # newest.
    revision: str | None = None
    # For a repository that is still a loading script (which `datasets` 4 and newer refuse):
    # the config folder of the hub's own parquet export of it (PARQUET_EXPORT), read instead.
    export_config: str | None = None
    # The part of the split an original reads (CARVES), where it is not the whole split.
    carve: str | None = None


# The branch where the hub keeps a parquet copy of every dataset it can show, made by running
# the dataset's own script (same rows, same order).
PARQUET_EXPORT = "refs/convert/parquet"
# Hub locations of the study's datasets. The pinned commits are those public code pins for
# these files (WikiText-2's parquet layout; C4's first shards, as the GPTQ-era code reads them).
HUB_TEXTS: dict[str, HubText] = {
    "wikitext2": HubText("Salesforce/wikitext", "wikitext-2-raw-v1", "text",
                         {"train": "train", "validation": "validation", "test": "test"},
                         revision="b08601e04326c79dfdd32d625aee71d232d685c3"),
    # The study's evaluation (LLM-Pruner's ppl_dataset) joins PTB's sentences with "\n\n" too.
    "ptb": HubText("ptb-text-only/ptb_text_only", "penn_treebank", "sentence",
                   {"train": "train", "validation": "validation", "test": "test"},
                   export_config="penn_treebank"),
    "bookcorpus": HubText("bookcorpus/bookcorpus", None, "text", {"train": "train"}, joiner=" ",
                          export_config="plain_text"),
    # The first shard of C4's English train and validation sets.
    "c4": HubText("allenai/c4", None, "text", {"train": "train", "validation": "validation"},
                  data_files={"train": "en/c4-train.00000-of-01024.json.gz",
                              "validation": "en/c4-validation.00000-of-00008.json.gz"},
                  revision="607bd4c8450a42878aa9ddc051a65a055450ef87"),
    # ShortGPT's calibration: PG19's 50 validation books (its run_shortgpt.py). Calibration
    # draws from a source's "train", and PG19's own train split is 28,602 books (about 7 GB of
    # parquet), so here "train" is the validation split (the calibration file records it:
    # `dataset`), and only its file is downloaded (data_files: `datasets` would otherwise fetch
    # and prepare every split of the repository).
    "pg19": HubText("emozilla/pg19", None, "text", {"train": "validation"},
                    data_files={"validation": "data/validation-*.parquet"}),
    # BlockPruner's calibration: the `text` column (the formatted instruction, input and
    # response) of the original Alpaca (not Alpaca-cleaned, LoRA's `alpaca`), the portion of
    # its train split that BlockPruner's utils.get_dataset holds out as "test" (CARVES).
    "tatsu_alpaca": HubText("tatsu-lab/alpaca", None, "text", {"train": "train"},
                            carve="blockpruner_test"),
}
EMBEDDED_SPLITS = ("train", "validation", "test")
SOURCES = ("embedded", *HUB_TEXTS)
# The held-out split each perplexity dataset is scored on (the study's: WikiText-2 test, PTB
# validation); the workflow and `prunebench eval` both read it from here.
EVAL_SPLITS = {"embedded": "test", "wikitext2": "test", "ptb": "validation"}


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
            from prunebench.plan.layout import EMBEDDED_TEXT, remake_command

            # the split asked for (it named train.txt for any), as the workflow names it
            remake = remake_command(EMBEDDED_TEXT.format(split=split))
            raise PrunebenchError(f"{file} is missing: run the workflow's embedded_text rule "
                                  f"(`{remake}`)")
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            raise PrunebenchError(f"{file} is not UTF-8 text ({err.reason} at byte {err.start})") from None
        return [row for row in text.split("\n") if row.strip()]
    if source not in HUB_TEXTS:
        return _local_rows(source, split, keep_empty)
    spec = HUB_TEXTS[source]
    if split not in spec.splits:
        raise PrunebenchError(f"{source} has splits {list(spec.splits)}, not {split!r}")
    rows = _load_hub_rows(source, spec, split)
    if spec.carve:
        rows = CARVES[spec.carve](rows)
        log.info("%s: %d rows in %s's portion", source, len(rows), spec.carve)
    return [row for row in rows if keep_empty or row.strip()]


def _train_test_split(count: int, test_size: float, seed: int) -> tuple[list[int], list[int]]:
    """(train, test) row indices as `datasets`' `Dataset.train_test_split(test_size=<fraction>,
    seed=seed)` draws them: numpy's default generator seeded with `seed` permutes the rows; the
    first ceil(test_size * count) are the test split, the rest, in that order, the train split."""
    import numpy as np

    n_test = math.ceil(test_size * count)
    order = np.random.default_rng(seed).permutation(count).tolist()
    return order[n_test:], order[:n_test]


def blockpruner_test(rows: list[str]) -> list[str]:
    """The rows BlockPruner calibrates on (its utils.get_dataset("alpaca")["test"]): the train
    split split 80/20 with seed 42, the 20% split in halves with seed 42, the first half's rows
    (the second is its "validation"), in the order the splits leave them."""
    _, held_out = _train_test_split(len(rows), 0.2, 42)
    first_half, _ = _train_test_split(len(held_out), 0.5, 42)
    return [rows[held_out[i]] for i in first_half]


CARVES = {"blockpruner_test": blockpruner_test}


def _local_rows(source: str, split: str, keep_empty: bool) -> list[str]:
    """A text of your own (the config's `texts`), as the workflow copied it into the run's
    directory (prunebench.local_text)."""
    from prunebench.local_text import read_rows
    from prunebench.plan.layout import LOCAL_TEXT_ROWS

    found = read_rows(source, split)
    if found is None:
        raise PrunebenchError(
            f"unknown text source {source!r}: choose one of {list(SOURCES)}, or name a text of "
            f"the config's `texts` with a {split} file (the workflow copies it to "
            f"{LOCAL_TEXT_ROWS.format(dataset=source, split=split)}, which is not there)")
    rows, where = found
    _read(source, split, where, rows)
    return [row for row in rows if keep_empty or row.strip()]


# Where each hub text this process read came from, with the commit it was read at
# (hub_location): what a calibration file drawn from it records.
_READ_FROM: dict[tuple[str, str], str] = {}


def _load_hub_rows(source: str, spec: HubText, split: str) -> list[str]:
    """The split's rows, loaded at the pinned commit, else at the commit the hub says the
    default branch is at now (dataset_commit), so that the record names what was read."""
    import datasets

    commit = spec.revision or dataset_commit(spec.path)  # asks after checking HF_TOKEN
    token = hub_auth()
    where = _location(spec, split, commit)
    log.info("loading %s (%s) through datasets", source, where)
    try:
        data = datasets.load_dataset(spec.path, spec.name, split=spec.splits[split],
                                     data_files=spec.data_files, revision=commit,
                                     token=token, trust_remote_code=False)
    except Exception as err:  # noqa: BLE001 - datasets raises many types when offline
        from prunebench.oom import first_line

        if spec.export_config and _is_script_refusal(err):
            return _load_parquet_export(source, spec, split)
        raise load_error(err)(
            f"cannot load dataset {source} ({where}): {type(err).__name__}: "
            f"{first_line(err)}. This machine may not reach the hub: run this where it does (for "
            "a workflow, `snakemake prefetch` on a login node makes the evaluation texts and "
            "calibration windows into files the compute nodes read without the network), or "
            "use the embedded source") from None
    return _read(source, split, where, data[spec.text_field])


def _read(source: str, split: str, where: str, rows) -> list[str]:
    _READ_FROM[(source, split)] = where
    rows = list(rows)
    log.info("read %s %s: %d rows from %s", source, split, len(rows), where)
    return rows


def _is_script_refusal(err: Exception) -> bool:
    """`datasets` 4 and newer refuse a repository that is a loading script; 2.20 to 3.x run it
    only with `trust_remote_code`, which prunebench passes as False (explicitly: datasets 3.x
    takes it from HF_DATASETS_TRUST_REMOTE_CODE otherwise, or asks at the terminal)."""
    return "scripts are no longer supported" in str(err) or "trust_remote_code" in str(err)


def _load_parquet_export(source: str, spec: HubText, split: str) -> list[str]:
    """The split from the hub's parquet export of a script repository (PARQUET_EXPORT): the
    rows the script makes, in its order. A partial export (`partial-<split>` folders, made
    for the largest datasets) matches no file here and is refused: it holds other rows."""
    import datasets

    commit = dataset_commit(spec.path, PARQUET_EXPORT)
    files = (f"hf://datasets/{spec.path}@{(commit or PARQUET_EXPORT).replace('/', '%2F')}/"
             f"{spec.export_config}/{spec.splits[split]}/*.parquet")
    log.warning("%s (%s) is a loading script, which this `datasets` refuses: reading the hub's "
                "parquet export of it, %s", source, spec.path, files)
    token = hub_auth()
    try:
        data = datasets.load_dataset("parquet", data_files={"rows": files}, split="rows",
                                     token=token, trust_remote_code=False)
    except Exception as err:  # noqa: BLE001 - as in _load_hub_rows
        from prunebench.oom import first_line

        raise load_error(err)(
            f"cannot load dataset {source}: {spec.path} is a loading script, which datasets "
            f"{datasets.__version__} does not run, and its parquet export {files} did not load "
            f"({type(err).__name__}: {first_line(err)}; a partial export, made for datasets over "
            "5 GB, holds other rows and is not used). Pre-fetch it where the hub is reachable "
            "(`snakemake prefetch`); or, having read the script (it is code from the hub), run "
            "it with datasets < 4 and HF_DATASETS_TRUST_REMOTE_CODE=1 set") from None
    return _read(source, split, _location(spec, split, commit, PARQUET_EXPORT),
                 data[spec.text_field])


def load_text(source: str, split: str) -> str:
    """A split as one string, joined the way the reference evaluations join it."""
    if source in HUB_TEXTS:
        return HUB_TEXTS[source].joiner.join(load_rows(source, split, keep_empty=True))
    return "\n".join(load_rows(source, split))


def calibration_windows(rows: list[str], tokenizer, n: int, length: int, seed: int,
                        wrap_rows: bool = False) -> torch.Tensor:
    """n windows of exactly `length` token ids, drawn reproducibly from `rows`, running on
    across rows (the pipeline's `wrapped` sampling; draw_windows has the originals' kinds).

    Each row is tokenized with its BOS; a window starts at a random token of a random row and
    runs on through the following rows, so it may hold several rows' BOS. With `wrap_rows`
    every row is `<s> row </s>` (the embedded model's training stream) and a window starts at a
    row's BOS.
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


# How windows are drawn, after the original implementations (config/README.md, `sampling`):
#   wrapped        the embedded text's: `<s> row </s>` rows run on (calibration_windows)
#   row_slice      one random slice inside a random row longer than `length`, starting before
#                  its last `length` tokens (GPTQ's get_c4: Wanda-sp on C4)
#   row_slice_inclusive
#                  one random slice inside a random row of at least `length` tokens, starting
#                  anywhere up to its last full window (get_examples of Shortened LLaMA and
#                  LLM-Pruner on BookCorpus)
#   row_chunks     each row tokenized alone, cut in consecutive chunks (ShortGPT on PG19 books)
#   joined_stream  all rows joined with " ", tokenized once, random slices (FLAP on WikiText-2)
#   joined_chunks  the first n rows of the split shuffled as `datasets` shuffles it, joined with
#                  "\n\n", tokenized once, consecutive chunks: often fewer than n windows (SLEB
#                  on WikiText-2)
#   sampled_chunks n rows picked by Python's random.sample, joined with "\n\n" in the order
#                  picked, tokenized once, every full consecutive chunk (BlockPruner on Alpaca)
SAMPLINGS = ("wrapped", "row_slice", "row_slice_inclusive", "row_chunks", "joined_stream",
             "joined_chunks", "sampled_chunks")
DEFAULT_SAMPLING = "wrapped"  # a calibration file's name carries any other sampling
# FLAP's, SLEB's and BlockPruner's
JOINERS = {"joined_stream": " ", "joined_chunks": "\n\n", "sampled_chunks": "\n\n"}


def draw_windows(rows: list[str], tokenizer, n: int, length: int, seed: int,
                 sampling: str = DEFAULT_SAMPLING, source: str = "the calibration text") -> torch.Tensor:
    """Calibration windows of exactly `length` token ids drawn from `rows` as `sampling` says
    (SAMPLINGS), reproducibly from `seed`; `source` names the text in errors."""
    if sampling not in SAMPLINGS:
        raise PrunebenchError(f"unknown calibration sampling {sampling!r}: choose one of {list(SAMPLINGS)}")
    if n < 1 or length < 2:
        raise PrunebenchError(f"calibration needs n >= 1 windows of length >= 2 (got {n} x {length})")
    if not rows:
        raise PrunebenchError(f"calibration text {source} is empty")
    if sampling == "wrapped":
        return calibration_windows(rows, tokenizer, n, length, seed, wrap_rows=True)
    if sampling == "joined_chunks":  # drawn with numpy's generator, as `datasets` shuffles
        windows = _stream_chunks(rows, tokenizer, n, length, seed, source)
    elif sampling == "sampled_chunks":
        windows = _sampled_chunks(rows, tokenizer, n, length, random.Random(seed), source)
    else:
        draw = {"row_slice": _row_slices, "row_slice_inclusive": _row_slices_inclusive,
                "row_chunks": _row_chunks, "joined_stream": _stream_slices}[sampling]
        windows = draw(rows, tokenizer, n, length, random.Random(seed), source)
    import torch

    return torch.tensor(windows, dtype=torch.long)


def _encode(tokenizer, text: str) -> list[int]:
    """Token ids with the BOS the model's tokenizer puts first (the originals tokenize so)."""
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    return bos + tokenizer(text, add_special_tokens=False)["input_ids"]


# The originals draw rows at random until they have what they need: for ever, where the text
# has too few long enough rows (BookCorpus's sentences and windows of 2048 tokens). Past this
# many draws (row_slice: since its last window; as many as the text has rows, if more), far
# past what the originals' own settings take (ten BookCorpus windows come within thousands), the
# rows not yet looked at are read once each in a seeded random order instead: windows of the same
# distribution, and after one pass either the windows or the "too little text" error, instead of
# a coupon collector's N ln N draws over millions of rows.
DRAWS_BEFORE_SCAN = 1_000_000


def _draw_limit(count: int) -> int:
    return max(count, DRAWS_BEFORE_SCAN)


def _unseen_rows(seen: bytearray, rng: random.Random):
    """The row indices `seen` does not mark, once each, in an order drawn from `rng`."""
    import numpy as np

    rest = np.flatnonzero(np.frombuffer(bytes(seen), dtype=np.uint8) == 0)
    if len(seen) < 2**32:  # half the memory of int64 indices (BookCorpus: 74M rows)
        rest = rest.astype(np.uint32)
    log.info("calibration: random draws found too few windows; reading the %d rows not yet seen "
             "once each, in a seeded random order", len(rest))
    np.random.default_rng(rng.getrandbits(64)).shuffle(rest)
    return (int(i) for i in rest)


def _random_rows(count: int, rng: random.Random):
    """Row indices in a seeded random order, each once: one number per draw, a row drawn again
    skipped (the originals' draw), then past _draw_limit draws the rest (_unseen_rows). Drawn
    lazily, so a corpus of millions of rows (BookCorpus) is neither shuffled nor tokenized whole
    for ten windows; one byte per row remembers which were seen."""
    seen, left = bytearray(count), count
    for _ in range(_draw_limit(count)):
        i = rng.randrange(count)
        if not seen[i]:
            seen[i], left = 1, left - 1
            yield i
            if not left:
                return
    yield from _unseen_rows(seen, rng)


def _row_slices(rows, tokenizer, n, length, rng, source) -> list[list[int]]:
    # GPTQ's get_c4: draw a row until one is longer than `length` (any row, again and again),
    # then a start before its last full window. One number from the generator per draw, as
    # there, so the same seed, rows and tokenizer give the original's windows.
    windows, taken, too_short, short_count = [], set(), bytearray(len(rows)), 0

    def cut(i: int, ids: list[int]) -> None:
        if i in taken:
            log.warning("%s: row %d drawn again for another window (row_slice takes a row any "
                        "number of times, as GPTQ's get_c4 does)", source, i)
        taken.add(i)
        start = rng.randrange(len(ids) - length)
        windows.append(ids[start:start + length])

    fruitless = 0  # draws since the last window
    while len(windows) < n and fruitless < _draw_limit(len(rows)):
        i = rng.randrange(len(rows))
        if too_short[i]:
            fruitless += 1
            continue
        ids = _encode(tokenizer, rows[i])
        if len(ids) <= length:
            too_short[i], short_count, fruitless = 1, short_count + 1, fruitless + 1
            if short_count == len(rows):  # the original would loop forever
                raise _no_row_longer(source, rows, n, length)
            continue
        cut(i, ids)
        fruitless = 0
    if len(windows) < n:  # long enough rows are too rare to meet by drawing: find them all
        seen = bytearray(too_short)
        for i in taken:
            seen[i] = 1
        long_rows = sorted(taken) + [i for i in _unseen_rows(seen, rng)
                                     if len(_encode(tokenizer, rows[i])) > length]
        if not long_rows:
            raise _no_row_longer(source, rows, n, length)
        while len(windows) < n:  # any long enough row, again and again, as above
            i = long_rows[rng.randrange(len(long_rows))]
            cut(i, _encode(tokenizer, rows[i]))
    return windows


# Where a calibration's n, length and sampling are set: a workflow user writes the config, a
# `prunebench prune` user gives options; the error names both, as it cannot tell which ran it.
_SETTINGS_WHERE = ("a model's or variant's calibration settings in the config, or prune's "
                   "--n, --length and --sampling options (prunebench prune ... --sampling "
                   "joined_stream)")


def _no_row_longer(source, rows, n, length) -> PrunebenchError:
    return PrunebenchError(
        f"calibration source {source}: none of its {len(rows)} rows is longer than {length} "
        f"tokens, so sampling row_slice cuts no window (n = {n}): lower length, or choose a "
        "sampling that joins rows (joined_stream): " + _SETTINGS_WHERE)


def _row_slices_inclusive(rows, tokenizer, n, length, rng, source) -> list[list[int]]:
    # Shortened LLaMA's and LLM-Pruner's get_examples: draw a row until one of at least `length`
    # tokens not taken before, then a start anywhere up to its last full window. One number
    # per draw, as there (a row drawn again is skipped, as it would be rejected again), so the
    # same seed, rows and tokenizer give the original's windows; too little text stops instead
    # of looping.
    windows = []
    for i in _random_rows(len(rows), rng):
        ids = _encode(tokenizer, rows[i])
        if len(ids) >= length:
            start = rng.randrange(len(ids) - length + 1)
            windows.append(ids[start:start + length])
            if len(windows) == n:
                return windows
    raise PrunebenchError(
        f"calibration source {source}: only {len(windows)} of its {len(rows)} rows have at least "
        f"{length} tokens, fewer than the n = {n} windows asked for with sampling "
        "row_slice_inclusive (each from another row): lower n or length, or choose a sampling "
        "that joins rows (joined_stream): " + _SETTINGS_WHERE)


def _row_chunks(rows, tokenizer, n, length, rng, source) -> list[list[int]]:
    # ShortGPT cuts each book alone; a row's remainder shorter than `length` is dropped (the
    # original scores it as a short chunk of its own, which windows of one length cannot hold).
    windows = []
    for i in _random_rows(len(rows), rng):
        ids = _encode(tokenizer, rows[i])
        for start in range(0, len(ids) - length + 1, length):
            windows.append(ids[start:start + length])
            if len(windows) == n:
                log.info("%s: row_chunks took n = %d windows of %d tokens before every row was "
                         "cut (a random part of the text; a larger n cuts all)", source, n,
                         length)
                return windows
    if not windows:
        raise PrunebenchError(
            f"calibration source {source}: none of its {len(rows)} rows has {length} tokens, so "
            f"sampling row_chunks cuts no window (n = {n}): lower length, or choose a sampling "
            "that joins rows (joined_stream): " + _SETTINGS_WHERE)
    # n caps the chunks; below it, every row was cut (as ShortGPT scores every chunk of PG19's
    # validation books).
    log.info("%s: row_chunks cut every row: %d windows of %d tokens (n = %d caps them)", source,
             len(windows), length, n)
    return windows


def _stream_slices(rows, tokenizer, n, length, rng, source) -> list[list[int]]:
    # FLAP: the whole split joined and tokenized once (one BOS, at the stream's start); n random
    # starts, repeats allowed as in the original.
    stream = _encode(tokenizer, JOINERS["joined_stream"].join(rows))
    if len(stream) <= length:
        raise PrunebenchError(
            f"calibration source {source}: its {len(rows)} rows joined make {len(stream)} tokens, "
            f"not more than one window of {length} (n = {n}, sampling joined_stream): lower "
            "length or use a larger source")
    return [stream[start:start + length]
            for start in (rng.randrange(len(stream) - length) for _ in range(n))]


def _stream_chunks(rows, tokenizer, n, length, seed, source) -> list[list[int]]:
    # SLEB: the split shuffled with `datasets`' Dataset.shuffle(seed) (a permutation from
    # numpy's default_rng, empty rows included), its first n rows joined and tokenized once,
    # then cut in consecutive chunks, so short rows give fewer than n windows (the original's
    # calibration set is that small too: 128 WikiText-2 rows make about 5 windows of 2048).
    import numpy as np

    picked = np.random.default_rng(seed).permutation(len(rows))[:n].tolist()
    return _joined_chunks(rows, picked, tokenizer, n, length, "joined_chunks", source)[:n]


def _joined_chunks(rows, picked, tokenizer, n, length, sampling, source) -> list[list[int]]:
    """The `picked` rows joined as `sampling` joins them, tokenized once, then every full
    consecutive `length`-token chunk (the remainder dropped); none is an error."""
    stream = _encode(tokenizer, JOINERS[sampling].join(rows[i] for i in picked))
    windows = [stream[start:start + length] for start in range(0, len(stream) - length + 1, length)]
    if not windows:
        raise PrunebenchError(
            f"calibration source {source}: {len(picked)} rows joined make {len(stream)} tokens, "
            f"fewer than one window of {length} (n = {n}, sampling {sampling}): raise n (more "
            "rows) or lower length")
    return windows


def _sampled_chunks(rows, tokenizer, n, length, rng, source) -> list[list[int]]:
    # BlockPruner: random.sample(range(len(rows)), n) with the generator seeded (its
    # transformers.set_seed(42) at import), the rows in the order picked (Dataset.select),
    # joined with a blank line and tokenized once, then every full consecutive chunk (its
    # prepare_test_dataloader: numel // seqlen of them, not capped at n).
    if n > len(rows):
        raise PrunebenchError(
            f"calibration source {source}: n = {n} rows to sample (sampling sampled_chunks), but "
            f"it has {len(rows)}: lower n")
    return _joined_chunks(rows, rng.sample(range(len(rows)), n), tokenizer, n, length,
                          "sampled_chunks", source)


CHECKSUM_KEY = "content_sha256"  # metadata key of a calibration file's own digest


def _windows_digest(ids: torch.Tensor, meta: dict[str, str]) -> str:
    """sha256 of everything a calibration file holds: the ids' dtype, shape and bytes, and the
    metadata (its digest excepted)."""
    header = {"dtype": str(ids.dtype), "shape": list(ids.shape),
              "meta": {k: v for k, v in meta.items() if k != CHECKSUM_KEY}}
    digest = hashlib.sha256(json.dumps(header, sort_keys=True).encode())
    digest.update(ids.contiguous().cpu().numpy().tobytes())
    return digest.hexdigest()


def hub_location(source: str, split: str) -> str:
    """Which hub dataset, split and commit a source's split is: 'allenai/c4 (train) @
    607bd4c8...'. Once this process has read it, the commit it was read at (an unpinned
    source's newest then; 'ptb-text-only/ptb_text_only/penn_treebank (validation) @ 1f3c...
    (refs/convert/parquet)' for the hub's parquet export of a loading script), or '@ newest'
    where the hub did not say (offline: read from the cache)."""
    if (source, split) in _READ_FROM:
        return _READ_FROM[(source, split)]
    return _location(HUB_TEXTS[source], split, HUB_TEXTS[source].revision)


def _location(spec: HubText, split: str, commit: str | None, branch: str | None = None) -> str:
    name = f"/{spec.name}" if spec.name else ""
    of_branch = f" ({branch})" if branch else ""
    return f"{spec.path}{name} ({spec.splits[split]}) @ {commit or 'newest'}{of_branch}"


def save_windows(windows: torch.Tensor, path: str | Path, meta: dict) -> None:
    """Token windows as safetensors (metadata: source, n, length, seed, sampling, the hub
    dataset, split and revision they were cut from, and the content's sha256)."""
    from safetensors.torch import save_file

    from prunebench.atomic import atomic_path

    ids = windows.contiguous().cpu()
    metadata = {k: str(v) for k, v in meta.items()}
    if meta.get("source") in HUB_TEXTS and meta.get("split") in HUB_TEXTS[meta["source"]].splits:
        metadata["dataset"] = hub_location(meta["source"], meta["split"])
    elif (meta.get("source"), meta.get("split")) in _READ_FROM:  # a text of your own
        metadata["dataset"] = _READ_FROM[(meta["source"], meta["split"])]
    metadata[CHECKSUM_KEY] = _windows_digest(ids, metadata)
    with atomic_path(path) as tmp:
        save_file({"input_ids": ids}, str(tmp), metadata=metadata)


def token_id_problem(ids: torch.Tensor, vocab_size: int | None = None) -> str | None:
    """What makes `ids` unusable as the model's input, or None: the model's embedding lookup
    fails with a bare IndexError on an id outside 0..vocab_size-1."""
    import torch

    integer = not (ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool)
    if not integer or ids.ndim != 2 or ids.numel() == 0:
        return (f"holds a {str(ids.dtype).removeprefix('torch.')} tensor of shape "
                f"{tuple(ids.shape)}, not windows of integer token ids")
    low, high = int(ids.min()), int(ids.max())
    if low < 0:
        return f"holds token id {low}, which is negative"
    if vocab_size is not None and high >= vocab_size:
        return (f"holds token id {high}, outside the model's vocabulary of {vocab_size} "
                "(corrupted, or drawn with another tokenizer)")
    return None


def scored_id_problem(ids: torch.Tensor, config) -> str | None:
    """What makes `ids` unusable as targets the model scores, or None: an id past its logits
    (`param_count.logit_columns`: Apertus 1.5's head of the text tokens alone, narrower than
    the input vocabulary; Inkling's logits cut to unpadded_vocab_size) has no logit, and the
    loss fails on it with a bare error."""
    from prunebench.checkpoint.param_count import lm_head_rows, logit_columns

    columns = logit_columns(config)
    if not ids.numel() or columns >= config.vocab_size or (high := int(ids.max())) < columns:
        return None
    if columns < lm_head_rows(config):  # (Inkling's padded head)
        return (f"holds token id {high}, which the model reads but does not score: its logits "
                f"cover the first {columns} ids alone (unpadded_vocab_size; its head's other "
                f"rows, to {config.vocab_size}, are padding); score text of its own tokenizer")
    return (f"holds token id {high}, which the model reads but does not score: its LM head "
            f"has the first {columns} ids' rows alone (output_vocab_size), of a vocabulary of "
            f"{config.vocab_size}; score text of the tokens it generates")


def _bad_calibration_file(path: Path, problem: str) -> PrunebenchError:
    from prunebench.plan.layout import remake_command

    return PrunebenchError(f"calibration file {path} {problem}: delete it and rerun snakemake, "
                           f"which draws it again (`{remake_command(str(path))}` redraws just "
                           "this file)")


def load_windows(path: str | Path, vocab_size: int | None = None) -> tuple[torch.Tensor, dict]:
    """A calibration file's windows and metadata, verified before any model sees them.

    The recorded sha256 is checked where there is one (files written before it have none), and
    the ids must be 2-D integers, non-negative and, given `vocab_size`, below it. Any problem, an
    unreadable or truncated file included, raises PrunebenchError naming the file and the fix.
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = dict(fh.metadata() or {})
            ids = fh.get_tensor("input_ids")
    except (SafetensorError, OSError) as exc:
        raise _bad_calibration_file(path, f"is not readable safetensors ({exc})") from exc
    recorded = meta.pop(CHECKSUM_KEY, None)
    if recorded is None:
        log.info("%s has no recorded sha256 (written by an earlier prunebench): checking its "
                 "token ids only", path)
    elif recorded != _windows_digest(ids, meta):
        raise _bad_calibration_file(path, "does not match its recorded sha256 (modified or "
                                    "corrupted)")
    problem = token_id_problem(ids, vocab_size)
    if problem is not None:
        raise _bad_calibration_file(path, problem)
    return ids, meta
