"""Instruction data for LoRA recovery: records, prompt templates, tokenization, splits.

A record is `{"instruction", "input", "output"}` (Alpaca's fields). Sources:

- `alpaca`: Alpaca-cleaned (`yahma/alpaca-cleaned`) from the hub through `datasets`, the
  study's recovery data;
- `embedded`: instruction-style records the pipeline makes offline from its own embedded train
  text (continue a paragraph from its first sentences) and from `corpus.generate_probes` (complete
  a sentence with a fact stated earlier), so the recovery stage runs without network.

Records are written as JSON lines by the workflow's `instructions` rule; `split_records` draws
the held-out validation set with a seed, and `encode_record` masks the prompt from the loss.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy
import torch

from prunebench import PrunebenchError
from prunebench.atomic import atomic_path
from prunebench.hub import dataset_commit, hub_auth, load_error
from prunebench.plan.lora_settings import (RESPONSE_SEPARATORS, SPLITS, TEMPLATES,
                                          split_problem)

log = logging.getLogger(__name__)

FIELDS = ("instruction", "input", "output")
SOURCES = ("embedded", "alpaca")
ALPACA_HUB = "yahma/alpaca-cleaned"
IGNORE_INDEX = -100  # label of a token that is not scored (the prompt and the padding)

# The prompt templates (plan.lora_settings.TEMPLATES, imported above): the Alpaca one (the
# study's recovery used it through alpaca-lora), and a short one for the tiny model, whose
# 512-token vocabulary would spend most of a window on the Alpaca preamble.

# Instructions of the embedded records; which one a record gets is drawn with the seed.
CONTINUE = ("Continue the story:", "Continue the text:", "Write what happens next:")
COMPLETE = ("Complete the sentence from the story:", "Finish the last sentence:")


# --------------------------------------------------------------------------- sources

def check_record(record: Any, where: str) -> dict[str, str]:
    if not isinstance(record, dict) or any(not isinstance(record.get(f, ""), str) for f in FIELDS):
        raise PrunebenchError(f"{where}: an instruction record must be an object with string "
                              f"fields {FIELDS}; re-create the file with the `instructions` rule")
    # An empty output is kept, as the study's alpaca-lora trains on it: the response is the
    # end-of-sequence token alone.
    if not record.get("instruction", "").strip():
        raise PrunebenchError(f"{where}: a record has an empty instruction; remove it or "
                              "re-create the file with the `instructions` rule")
    return {f: record.get(f, "") for f in FIELDS}


def embedded_records(train_text: str, seed: int = 0, n_recall: int | None = None
                     ) -> list[dict[str, str]]:
    """Instruction records from the embedded train text (one paragraph per line).

    Every paragraph of at least two sentences gives a continuation record: its first sentences
    are the input, the rest the output (the cut is drawn with the seed). `n_recall` (default: a
    quarter of that count) sentence-completion records come from `corpus.generate_probes`, on a
    random stream of their own, so none repeats the evaluation's test text.
    """
    from prunebench.mc_suite import split_sentences
    from prunebench.corpus import generate_probes

    rng = random.Random(f"prunebench-instructions-{seed}")
    records = []
    for line in train_text.splitlines():
        sentences = split_sentences(line)
        if len(sentences) < 2:
            continue
        cut = rng.randint(1, min(len(sentences) - 1, max(1, len(sentences) // 2)))
        records.append({"instruction": rng.choice(CONTINUE), "input": " ".join(sentences[:cut]),
                        "output": " ".join(sentences[cut:])})
    if not records:
        raise PrunebenchError("the embedded train text has no paragraph of two sentences or more: "
                              "re-create it with the `embedded_text` rule")
    n_recall = len(records) // 4 if n_recall is None else n_recall
    for item in generate_probes(seed, n_recall, split="instructions"):
        answer = item["choices"][item["label"]].strip()
        records.append({"instruction": rng.choice(COMPLETE), "input": item["context"],
                        "output": answer})
    rng.shuffle(records)
    return records


def alpaca_records(path: str = ALPACA_HUB) -> list[dict[str, str]]:
    """Alpaca-cleaned's train split through `datasets` (the study's recovery data), at the
    commit its default branch is at now (which the log names)."""
    import datasets

    token = hub_auth()  # a malformed HF_TOKEN is its own error, not an unreachable hub
    commit = dataset_commit(path)
    log.info("loading %s @ %s through datasets", path, commit or "newest")
    try:
        data = datasets.load_dataset(path, split="train", revision=commit, token=token,
                                     trust_remote_code=False)  # datasets 3.x: see data.py
    except Exception as err:  # noqa: BLE001 - datasets raises many types when offline
        raise load_error(err)(
            f"cannot load the instruction dataset {path}: {type(err).__name__}: {err}. This "
            "machine may be offline: pre-fetch it where the hub is reachable (`snakemake "
            "prefetch`, which writes resources/data/instructions/alpaca.jsonl, or `python -c "
            f"\"import datasets; datasets.load_dataset('{path}')\"` and HF_DATASETS_OFFLINE=1 "
            "here), or set lora.data.source to 'embedded'") from None
    missing = [f for f in FIELDS if f not in data.column_names]
    if missing:
        raise PrunebenchError(f"{path} has no column(s) {missing}: it is not an Alpaca-format "
                              "dataset (instruction, input, output)")
    return [check_record({f: row[f] or "" for f in FIELDS}, path) for row in data]


def make_records(source: str, embedded_train: str | Path | None = None, seed: int = 0,
                 n_recall: int | None = None) -> list[dict[str, str]]:
    if source == "alpaca":
        return alpaca_records()
    if source == "embedded":
        if embedded_train is None or not Path(embedded_train).exists():
            raise PrunebenchError(f"embedded instructions need the embedded train text "
                                  f"({embedded_train}); run the workflow's embedded_text rule")
        return embedded_records(Path(embedded_train).read_text(encoding="utf-8"), seed, n_recall)
    raise PrunebenchError(f"unknown instruction source {source!r}: choose one of {list(SOURCES)}")


def write_records(path: str | Path, records: Iterable[dict[str, str]]) -> int:
    """JSON lines, written atomically; returns the count."""
    n = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            n += 1
    return n


def read_records(path: str | Path) -> list[dict[str, str]]:
    path = Path(path)
    if not path.exists():
        raise PrunebenchError(f"{path} is missing: make it with the workflow's `instructions` "
                              "rule (or `snakemake prefetch` for hub data)")
    records = []
    with open(path, encoding="utf-8") as fh:
        for i, line in enumerate(fh, 1):
            if line.strip():
                try:
                    records.append(check_record(json.loads(line), f"{path}:{i}"))
                except json.JSONDecodeError as err:
                    raise PrunebenchError(f"{path}:{i} is not JSON ({err.msg}): re-create the "
                                          "file with the `instructions` rule") from None
    if not records:
        raise PrunebenchError(f"{path} holds no instruction records: re-create it with the "
                              "`instructions` rule, or use another lora.data.source")
    return records


def split_records(records: list[dict[str, str]], val_size: int, seed: int,
                  max_train: int | None = None, split: str | None = None
                  ) -> tuple[list[dict], list[dict]]:
    """(train, validation): a seeded permutation of the records, its first `val_size` held
    out (the study: 2000). `split` (lora.data.split) draws it: "shuffle" or None, Python's
    `random.Random(seed).shuffle`; "train_test_split", as the `datasets` library's
    `Dataset.train_test_split(test_size=val_size, shuffle=True, seed=seed)` draws it, the
    study's split, which holds out the same records given the same records in the same
    order."""
    if val_size < 1:
        raise PrunebenchError(f"lora.data.val_size={val_size}: the best adapter is chosen by "
                              "validation loss, so hold out at least 1 record")
    problem = split_problem(len(records), val_size)
    if problem:
        raise PrunebenchError(problem)
    if split == "train_test_split":
        # datasets' own draw (the same since datasets 1.x): numpy's default generator seeded
        # with `seed` permutes the row indices; the first val_size are the test split, the
        # rest, in that order, the train split.
        order = numpy.random.default_rng(seed).permutation(len(records)).tolist()
    elif split in (None, "shuffle"):
        order = list(range(len(records)))
        random.Random(seed).shuffle(order)
    else:
        raise PrunebenchError(f"lora.data.split={split!r}: choose one of {list(SPLITS)}")
    val = [records[i] for i in order[:val_size]]
    train = [records[i] for i in order[val_size:]]
    if max_train is not None:
        train = train[:max_train]
    if not train:
        raise PrunebenchError(f"no training records left (max_train={max_train}): raise "
                              "lora.data.max_train or leave it out")
    return train, val


# --------------------------------------------------------------------------- tokenization

def format_prompt(record: dict[str, str], template: str = "alpaca") -> str:
    if template not in TEMPLATES:
        raise PrunebenchError(f"unknown prompt template {template!r}: choose one of "
                              f"{sorted(TEMPLATES)}")
    forms = TEMPLATES[template]
    # Any input but an empty one takes the input form, whitespace too, as alpaca-lora's
    # Prompter (`if input:`), which the study's recovery used.
    form = forms["with_input"] if record.get("input") else forms["no_input"]
    return form.format(instruction=record["instruction"], input=record.get("input", ""))


def encode_record(record: dict[str, str], tokenizer, template: str = "alpaca",
                  max_length: int = 256) -> dict[str, torch.Tensor]:
    """input_ids = BOS + the prompt and response tokenized as one text + EOS (cut at
    max_length); labels = input_ids with BOS and the prompt's tokens set to -100, so only the
    response is learned.

    As the study's recovery (alpaca-lora's `generate_and_tokenize_prompt`): the whole text is
    tokenized once, and as many leading tokens are masked as the prompt alone tokenizes to. The
    response is not tokenized apart: a SentencePiece tokenizer would then start it with a
    word-initial piece ("▁Hello" after "Response:\n", where the text has "Hello"), teaching the
    model tokens it never sees in running text.
    """
    prompt_text = format_prompt(record, template)
    prompt = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    text = tokenizer(prompt_text + RESPONSE_SEPARATORS[template] + record["output"],
                     add_special_tokens=False)["input_ids"]
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    ids = (bos + text + eos)[:max_length]
    labels = ([IGNORE_INDEX] * len(bos + prompt) + text[len(prompt):] + eos)[:max_length]
    return {"input_ids": torch.tensor(ids, dtype=torch.long),
            "labels": torch.tensor(labels, dtype=torch.long)}


def encode_records(records: list[dict[str, str]], tokenizer, template: str, max_length: int,
                   what: str) -> list[dict[str, torch.Tensor]]:
    """Every record encoded. One whose prompt fills the whole window has nothing to learn (no
    scored token) and is kept, as the study's alpaca-lora keeps it: it still takes its place
    in its batch, so the batches and the step count are the study's."""
    if max_length < 2:
        raise PrunebenchError(f"lora.max_length={max_length}: use at least 2 tokens")
    encoded = [encode_record(r, tokenizer, template, max_length) for r in records]
    silent = sum(not bool((e["labels"] != IGNORE_INDEX).any()) for e in encoded)
    if silent == len(encoded):
        raise PrunebenchError(f"{what}: no record has a response within {max_length} tokens: "
                              "raise lora.max_length or use a shorter prompt template")
    if silent:
        log.warning("%s: %d of %d records have no response token within %d tokens (their "
                    "prompt fills them): they add nothing to the loss, as in the study", what,
                    silent, len(encoded), max_length)
    return encoded


def collate(examples: list[dict[str, torch.Tensor]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded batch (positions stay 0.. for every row); padding unscored and unattended."""
    length = max(len(e["input_ids"]) for e in examples)
    ids = torch.full((len(examples), length), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), length), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(examples), length), dtype=torch.long)
    for row, e in enumerate(examples):
        n = len(e["input_ids"])
        ids[row, :n], labels[row, :n], mask[row, :n] = e["input_ids"], e["labels"], 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}
