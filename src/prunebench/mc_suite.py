"""The offline zero-shot suite: multiple-choice tasks cut from the embedded held-out text.

The tiny default model cannot be scored on the paper's hub tasks offline, so the pipeline makes
its own lm-eval tasks from its own text. They test what a small model learns from local
structure (the tiny model does not learn long-range recall at its training budget, see
`prunebench.tiny`), each item asking which continuation the text really has:

- `pb_agreement`: the verb form after a pet noun or pronoun ("Anna's dogs" -> " sleep near" vs
  " sleeps near"; "It" -> " sleeps every" vs " sleep every"). Two choices; half the answers
  singular.
- `pb_number`: the noun's number after "has a <colour>" / "has two <colour>" (" dog." vs
  " dogs."). Two choices; half the answers singular.
- `pb_counting`: the next number of a counting sequence ("four, five, six," -> " seven,") among
  four numbers; answers equally often three, four, five, six and seven.
- `pb_continuation`: the paragraph's true next sentence against three copies with the same
  words (same spelling, so the same tokens) in a shuffled order. Four choices.

Each task is an lm-eval YAML (`output_type: multiple_choice`, `dataset_path: json` over a local
JSONL file) run through lm-eval's TaskManager, never scored here. The two-choice tasks are
balanced so a model that prefers the shorter (or longer) form scores chance, and every task
places the answer uniformly among the choices.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import yaml

from prunebench import PrunebenchError
from prunebench.atomic import atomic_dir
from prunebench.corpus import ANIMALS, COLOURS, NUMBERS, PET_VERBS, _plural
from prunebench.plan.layout import EMBEDDED_TEXT, remake_command

TASKS = ("pb_agreement", "pb_number", "pb_counting", "pb_continuation")
N_CHOICES = {"pb_agreement": 2, "pb_number": 2, "pb_counting": 4, "pb_continuation": 4}
# Fraction right by guessing, for comparing a model with chance.
CHANCE = {task: 1.0 / n for task, n in N_CHOICES.items()}
DEFAULT_ITEMS = 100
# Only the last few sentences are kept as context: every task is decided locally, and shorter
# contexts keep the evaluation of a variant within seconds on a CPU.
DEFAULT_CONTEXT_SENTENCES = 4
SUITE_VERSION = 1

# Counting answers: the numbers the held-out text has plenty of as a next number. Answers are
# balanced over them and distractors drawn from them, so a model that simply prefers some
# number words (a random one does) scores chance.
COUNT_ANSWERS = NUMBERS[3:8]
_SINGULAR = dict(PET_VERBS)
_PLURAL = {p: s for s, p in PET_VERBS}
_NUMBER_INDEX = {word: i for i, word in enumerate(NUMBERS)}
_PETS = "|".join(ANIMALS + [_plural(a) for a in ANIMALS])
_SENTENCE_END = re.compile(r"(?<=\.) (?=[A-Z])")
# Each choice ends where its word visibly ends (the next word, or punctuation): a bare " sleep"
# would also be the start of " sleeps", which biases the comparison towards the shorter form.
_PET_VERB = re.compile(rf"^((?:[A-Z]\w+)'s (?:{_PETS})) (\w+)( \w+)")
_PRONOUN_VERB = re.compile(r"^(It|They) (\w+)( \w+)")
_HAS_PET = re.compile(rf"^((?:She|He) has (?:a|\w+) (?:{'|'.join(COLOURS)})) ({_PETS})\.$")
_NUMBER_LIST = re.compile(r"^(.*?(?:go |: ))((?:\w+, )+\w+)\.$")


def split_sentences(paragraph: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(paragraph.strip()) if s]


def _context(sentences: list[str], index: int, prefix: str, keep: int) -> str:
    """The `keep` sentences before `index`, then the start of sentence `index`."""
    return " ".join(sentences[max(0, index - keep):index] + ([prefix] if prefix else []))


def _agreement_items(sentences: list[str], keep: int) -> list[tuple[str, dict]]:
    items = []
    for i, sentence in enumerate(sentences):
        for pattern in (_PET_VERB, _PRONOUN_VERB):
            m = pattern.match(sentence)
            if not m:
                continue
            verb = m.group(2)
            if verb in _SINGULAR:
                form, choices = "singular", [verb, _SINGULAR[verb]]
            elif verb in _PLURAL:
                form, choices = "plural", [verb, _PLURAL[verb]]
            else:
                continue
            items.append((form, {"context": _context(sentences, i, m.group(1), keep),
                                 "choices": [f" {c}{m.group(3)}" for c in choices],
                                 "label": 0}))
    return items


def _number_items(sentences: list[str], keep: int) -> list[tuple[str, dict]]:
    items = []
    for i, sentence in enumerate(sentences):
        m = _HAS_PET.match(sentence)
        if not m:
            continue
        noun = m.group(2)
        singular = noun in ANIMALS
        other = _plural(noun) if singular else next(a for a in ANIMALS if _plural(a) == noun)
        items.append(("singular" if singular else "plural",
                      {"context": _context(sentences, i, m.group(1), keep),
                       "choices": [f" {noun}.", f" {other}."], "label": 0}))
    return items


def _counting_items(sentences: list[str], keep: int, rng: random.Random
                    ) -> list[tuple[str, dict]]:
    items = []
    for i, sentence in enumerate(sentences):
        m = _NUMBER_LIST.match(sentence)
        if not m:
            continue
        words = m.group(2).split(", ")
        if not all(w in _NUMBER_INDEX for w in words):
            continue
        # Cut after at least two numbers, so the step of the sequence is visible.
        for cut in range(2, len(words)):
            answer = words[cut]
            if answer not in COUNT_ANSWERS:
                continue
            end = "," if cut + 1 < len(words) else "."
            wrong = rng.sample([n for n in COUNT_ANSWERS if n != answer], 3)
            prefix = m.group(1) + ", ".join(words[:cut]) + ","
            items.append((answer, {"context": _context(sentences, i, prefix, keep),
                               "choices": [f" {n}{end}" for n in [answer] + wrong],
                               "label": 0}))
    return items


def _shuffled(sentence: str, rng: random.Random) -> str:
    # Every word keeps its spelling (capitals included), so all choices hold the same tokens
    # and only their order tells them apart: a model that ignores order scores chance.
    words = sentence[:-1].split(" ")
    rng.shuffle(words)
    return " ".join(words) + "."


def _continuation_items(sentences: list[str], keep: int, rng: random.Random
                        ) -> list[tuple[str, dict]]:
    items = []
    for i in range(1, len(sentences)):
        true = sentences[i]
        if not true.endswith(".") or len(true.split(" ")) < 5:
            continue  # short sentences have too few distinct orders
        wrong: list[str] = []
        for _ in range(50):
            candidate = _shuffled(true, rng)
            if candidate != true and candidate not in wrong:
                wrong.append(candidate)
            if len(wrong) == 3:
                break
        if len(wrong) == 3:
            items.append(("", {"context": _context(sentences, i, "", keep),
                               "choices": [f" {true}"] + [f" {w}" for w in wrong],
                               "label": 0}))
    return items


def _balanced(items: list[tuple[str, dict]], n: int, rng: random.Random, task: str
              ) -> list[dict]:
    """n items, equally many of each class (when classes are given), answers placed at random."""
    classes: dict[str, list[dict]] = {}
    for cls, item in items:
        classes.setdefault(cls, []).append(item)
    per_class = n // len(classes) if classes else 0
    short = {c: len(v) for c, v in classes.items() if len(v) < per_class}
    if not classes or short or len(items) < n:  # the classes' shares, or the whole, too small
        raise PrunebenchError(
            f"the held-out text yields too few {task} items ({short or len(items)} for {n} "
            "wanted): ask for fewer items (evaluation.zeroshot.suite.items) or a larger "
            "embedded text")
    chosen = [item for cls in sorted(classes) for item in rng.sample(classes[cls], per_class)]
    chosen += rng.sample([i for _, i in items if i not in chosen], n - len(chosen))
    rng.shuffle(chosen)
    out = []
    for item in chosen:
        choices = list(item["choices"])
        answer = choices[item["label"]]
        rng.shuffle(choices)
        out.append({"context": item["context"], "choices": choices,
                    "label": choices.index(answer)})
    return out


def generate_items(paragraphs: list[str], n: int = DEFAULT_ITEMS, seed: int = 0,
                   context_sentences: int = DEFAULT_CONTEXT_SENTENCES) -> dict[str, list[dict]]:
    """{task: n items {"context", "choices", "label"}} cut from `paragraphs` (one per entry)."""
    if n < 2:
        raise PrunebenchError(f"{n} items per task is too few to compare with chance: use >= 2")
    if context_sentences < 1:
        raise PrunebenchError(f"context_sentences={context_sentences}: keep at least 1 sentence")
    rng = random.Random(f"prunebench-mc-suite-{seed}")
    found: dict[str, list[tuple[str, dict]]] = {task: [] for task in TASKS}
    for paragraph in paragraphs:
        sentences = split_sentences(paragraph)
        found["pb_agreement"] += _agreement_items(sentences, context_sentences)
        found["pb_number"] += _number_items(sentences, context_sentences)
        found["pb_counting"] += _counting_items(sentences, context_sentences, rng)
        found["pb_continuation"] += _continuation_items(sentences, context_sentences, rng)
    return {task: _balanced(found[task], n, rng, task) for task in TASKS}


def task_yaml(task: str, data_file: str) -> dict:
    """The lm-eval task config of one suite task over its JSONL file, named relative to the
    suite folder. lm-eval hands data_files to `datasets` unchanged, which reads a relative path
    against the working directory, not the YAML's folder; so prunebench never lets lm-eval read
    this field: `task_config` replaces it with the file in the folder the suite is read from,
    and a copied or moved suite reads its own files, never the original's."""
    metrics = [{"metric": m, "aggregation": "mean", "higher_is_better": True}
               for m in ("acc", "acc_norm")]
    return {
        "task": task,
        "tag": ["prunebench_suite"],
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": data_file}},
        "test_split": "test",
        "output_type": "multiple_choice",
        # Bare field names: lm-eval reads them from the document, no template involved.
        "doc_to_text": "context",
        "doc_to_choice": "choices",
        "doc_to_target": "label",
        "target_delimiter": "",  # every choice starts with its own space
        "metric_list": metrics,
        "metadata": {"version": SUITE_VERSION},
    }


def task_config(suite_dir: str | Path, task: str) -> dict:
    """The task's YAML as lm-eval should run it: its data is `{task}.jsonl` next to the YAML.

    Whatever data path the YAML holds is replaced, so suites written before the paths became
    relative (they hold the absolute path of where they were generated) work after a move too.
    """
    suite_dir = Path(suite_dir).resolve()
    config = yaml.safe_load((suite_dir / f"{task}.yaml").read_text())
    config["dataset_kwargs"] = {**config.get("dataset_kwargs", {}),
                                "data_files": {"test": str(suite_dir / f"{task}.jsonl")}}
    return config


def write_suite(text_file: str | Path, out_dir: str | Path, n: int = DEFAULT_ITEMS,
                seed: int = 0, context_sentences: int = DEFAULT_CONTEXT_SENTENCES) -> Path:
    """Write `{task}.jsonl` and `{task}.yaml` per task into out_dir, atomically as a whole."""
    text_file = Path(text_file)
    if not text_file.is_file():
        remake = remake_command(EMBEDDED_TEXT.format(split="test"))
        raise PrunebenchError(f"{text_file} is missing: run the workflow's embedded_text rule "
                              f"(`{remake}`)")
    paragraphs = [p for p in text_file.read_text(encoding="utf-8").splitlines() if p.strip()]
    items = generate_items(paragraphs, n, seed, context_sentences)
    out_dir = Path(out_dir).resolve()
    with atomic_dir(out_dir) as tmp:
        for task, rows in items.items():
            (tmp / f"{task}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
            # A path relative to the suite folder: the folder can be copied or moved as a whole.
            (tmp / f"{task}.yaml").write_text(
                yaml.safe_dump(task_yaml(task, f"{task}.jsonl"), sort_keys=False))
        (tmp / "suite.json").write_text(json.dumps({
            "source": str(text_file), "items_per_task": n, "seed": seed,
            "context_sentences": context_sentences, "version": SUITE_VERSION,
            "tasks": {t: {"choices": N_CHOICES[t], "chance": CHANCE[t]} for t in TASKS},
        }, indent=2) + "\n")
    return out_dir


def remake_hint(suite_dir: str | Path) -> str:
    """How a message tells the user to remake the suite in `suite_dir`, made by the workflow's
    mc_suite rule: its command, with the run's arguments to repeat (layout.remake_command). A
    caller whose suite is made otherwise names its own fix (`prunebench eval` writes one for
    each evaluation in a scratch folder)."""
    return f"regenerate the suite (`{remake_command('-f', str(Path(suite_dir) / 'suite.json'))}`)"


def check_suite(suite_dir: str | Path, tasks: list[str], fix: str | None = None) -> None:
    """Fail early, naming the fix (`fix`, else the workflow's: remake_hint), when the suite
    lacks a task's YAML or data file."""
    suite_dir = Path(suite_dir)
    for task in tasks:
        for file in (suite_dir / f"{task}.yaml", suite_dir / f"{task}.jsonl"):
            if not file.is_file():
                raise PrunebenchError(f"{file} is missing: {fix or remake_hint(suite_dir)}")
