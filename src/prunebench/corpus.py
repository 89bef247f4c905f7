"""The embedded text: a synthetic English-like corpus the pipeline writes itself, offline.

Pure Python (no torch), so the workflow's text and suite rules start fast; `prunebench.tiny`
trains the tiny model on it.

The tests and the default pipeline must run offline, so the pipeline writes its own text and
trains its own model. The text is a small English-like language with structure that only a
model using its context can predict:

- entities: each paragraph introduces two or three people, each with a gender, a job, a city, a
  pet (count, colour, animal) and a number of objects; these facts are random per paragraph;
- recall (induction): later sentences restate those facts ("The baker from Lima is Anna.",
  "Anna's dogs are red.") so the model must copy them from earlier in the paragraph;
- agreement: pronouns follow the person's gender, verbs and pronouns follow the pet's number
  ("Its ... sleeps" vs "They ... sleep");
- counting: a person counts the objects they own ("one, two, three."), so the count must be
  recalled and then carried out; number sequences also appear on their own;
- ordering: an age chain ("A is older than B. B is older than C.") is followed by who is the
  oldest and the youngest.

Every recall sentence has a right answer and wrong answers of the same kind, which is what a
"which continuation is true" task needs: `generate_probes` returns such items. Limit: at the
default training budget (about 0.5M tokens) the model learns the grammar but not yet the
in-context recall (probe accuracy stays at chance), so such a task needs a longer training.

Corpus files (`write_corpus`) hold one paragraph per line.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from prunebench import PrunebenchError
from prunebench.atomic import write_text

SPLITS = ("train", "validation", "test")
DEFAULT_N_SENTENCES = 60_000

# --------------------------------------------------------------------------- the language

FEMALE = ["Anna", "Maria", "Sofia", "Emma", "Clara", "Julia", "Nora", "Lena", "Rosa", "Ella",
          "Mila", "Ida", "Vera", "Alice", "Hanna", "Irene", "Lucy", "Olga", "Paula", "Tara"]
MALE = ["Tom", "Paul", "Hugo", "Leo", "Max", "Felix", "Oscar", "Ivan", "Karl", "Omar",
        "Peter", "Sam", "Victor", "Ben", "Carlos", "David", "Erik", "Jonas", "Luca", "Noah"]
JOBS = ["baker", "doctor", "farmer", "teacher", "painter", "sailor", "singer", "pilot",
        "tailor", "writer", "miner", "judge", "cook", "nurse", "driver", "potter"]
CITIES = ["Lima", "Oslo", "Cairo", "Dublin", "Madrid", "Paris", "Tokyo", "Quito", "Rome",
          "Vienna", "Delhi", "Lagos", "Sydney", "Boston", "Prague", "Seoul"]
COLOURS = ["red", "blue", "green", "black", "white", "brown", "grey", "yellow"]
ANIMALS = ["cat", "dog", "horse", "goat", "bird", "rabbit", "duck", "pig"]
OBJECTS = ["book", "cup", "lamp", "chair", "coat", "ring", "box", "key", "hat", "plate"]
NUMBERS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
           "ten", "eleven", "twelve"]
# (singular, plural) verb forms and where the action happens.
PET_VERBS = [("sleeps", "sleep"), ("runs", "run"), ("eats", "eat"), ("plays", "play"),
             ("waits", "wait"), ("sits", "sit")]
PLACES = ["near the door", "under the table", "in the garden", "by the window",
          "on the bed", "behind the house"]
PERSON_VERBS = ["walks to the market", "reads a letter", "cleans the kitchen",
                "visits a friend", "writes a note", "cooks dinner", "opens the window"]
TIMES = ["every morning", "in the evening", "on Sunday", "at noon", "after work"]


def _plural(noun: str) -> str:
    return noun + ("es" if noun.endswith(("s", "x", "sh", "ch")) else "s")


@dataclass
class Person:
    name: str
    female: bool
    job: str
    city: str
    colour: str
    animal: str
    n_pets: int
    obj: str
    n_objs: int

    @property
    def he(self) -> str:
        return "she" if self.female else "he"

    @property
    def his(self) -> str:
        return "her" if self.female else "his"

    def pets(self) -> str:
        """'dog' or 'dogs', following the number of pets (noun agreement)."""
        return self.animal if self.n_pets == 1 else _plural(self.animal)

    def objs(self) -> str:
        return self.obj if self.n_objs == 1 else _plural(self.obj)


@dataclass
class Paragraph:
    """One paragraph: its sentences and its recall questions.

    A probe is (index of the sentence it completes, prefix of that sentence, true answer,
    wrong answers of the same kind); the context is the sentences before that index.
    """

    sentences: list[str] = field(default_factory=list)
    probes: list[tuple[int, str, str, list[str]]] = field(default_factory=list)

    def say(self, sentence: str) -> None:
        self.sentences.append(sentence[0].upper() + sentence[1:])

    def recall(self, prefix: str, answer: str, choices: list[str], suffix: str = ".") -> None:
        """A sentence ending in a fact from the context; remember it as a probe."""
        wrong = [c for c in choices if c != answer]
        self.probes.append((len(self.sentences), prefix[0].upper() + prefix[1:], answer, wrong))
        self.say(f"{prefix} {answer}{suffix}")

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


def _new_person(rng: random.Random, taken: set[str]) -> Person:
    female = rng.random() < 0.5
    name = rng.choice([n for n in (FEMALE if female else MALE) if n not in taken])
    taken.add(name)
    return Person(name=name, female=female, job=rng.choice(JOBS), city=rng.choice(CITIES),
                  colour=rng.choice(COLOURS), animal=rng.choice(ANIMALS),
                  n_pets=rng.choice([1, 1, 2, 3]), obj=rng.choice(OBJECTS),
                  n_objs=rng.randint(2, 7))


def _introduce(p: Paragraph, who: Person) -> None:
    p.say(f"{who.name} is a {who.job} from {who.city}.")
    if who.n_pets == 1:
        p.say(f"{who.he} has a {who.colour} {who.animal}.")
    else:
        p.say(f"{who.he} has {NUMBERS[who.n_pets]} {who.colour} {who.pets()}.")
    p.say(f"{who.name} owns {NUMBERS[who.n_objs]} {who.objs()}.")


def _pet_action(p: Paragraph, who: Person, rng: random.Random) -> None:
    sing, plur = rng.choice(PET_VERBS)
    verb, pron = (sing, "it") if who.n_pets == 1 else (plur, "they")
    place = rng.choice(PLACES)
    p.say(f"{who.name}'s {who.pets()} {verb} {place}.")
    # The pronoun must agree with the pet's number, the verb with the pronoun.
    sing2, plur2 = rng.choice(PET_VERBS)
    p.say(f"{pron} {sing2 if who.n_pets == 1 else plur2} {rng.choice(TIMES)}.")


def _person_action(p: Paragraph, who: Person, rng: random.Random) -> None:
    p.say(f"{rng.choice(TIMES)} {who.name} {rng.choice(PERSON_VERBS)}.")
    p.say(f"then {who.he} {rng.choice(PERSON_VERBS)} with {who.his} {who.pets()}.")


def _recall_fact(p: Paragraph, who: Person, people: list[Person], kind: int) -> None:
    """Restate one fact. Kinds 1, 2 and 4 repeat the introduction's words (plain copying);
    0 asks the other way round, 3 and 5 need the pronoun of the introduction resolved."""
    if kind == 0:
        p.recall(f"the {who.job} from {who.city} is", who.name, [o.name for o in people])
    elif kind == 1:
        p.recall(f"{who.name} is a", who.job, JOBS)
    elif kind == 2:
        p.recall(f"{who.name} is a {who.job} from", who.city, CITIES)
    elif kind == 3:
        be = "is" if who.n_pets == 1 else "are"
        p.recall(f"{who.name}'s {who.pets()} {be}", who.colour, COLOURS)
    elif kind == 4:
        p.recall(f"{who.name} owns", NUMBERS[who.n_objs], NUMBERS[2:8], f" {who.objs()}.")
    else:
        p.recall(f"{who.name} keeps {NUMBERS[who.n_pets]}", who.pets(),
                 [a if who.n_pets == 1 else _plural(a) for a in ANIMALS])


def _count_objects(p: Paragraph, who: Person) -> None:
    # Counting to a number stated earlier: recall, then a sequence of the right length.
    p.say(f"{who.name} counts {who.his} {_plural(who.obj)}: "
          f"{', '.join(NUMBERS[1:who.n_objs + 1])}.")


def _count_sequence(p: Paragraph, rng: random.Random) -> None:
    start = rng.randint(1, 6)
    stop = start + rng.randint(3, 6)
    p.say(f"the numbers go {', '.join(NUMBERS[start:stop + 1])}.")


def _ages(p: Paragraph, people: list[Person], rng: random.Random) -> None:
    order = people[:]
    rng.shuffle(order)  # order[0] is the oldest
    for a, b in zip(order, order[1:]):
        p.say(f"{a.name} is older than {b.name}.")
    names = [x.name for x in people]
    p.recall("so the oldest is", order[0].name, names)
    p.recall("and the youngest is", order[-1].name, names)


def generate_paragraph(rng: random.Random) -> Paragraph:
    """One paragraph: people introduced, actions mixed in, then facts recalled."""
    p = Paragraph()
    taken: set[str] = set()
    people = [_new_person(rng, taken) for _ in range(rng.choice([2, 2, 3]))]
    for who in people:
        _introduce(p, who)
    events = []
    for who in people:
        events += [lambda w=who: _pet_action(p, w, rng), lambda w=who: _person_action(p, w, rng)]
    rng.shuffle(events)
    for event in events[:rng.randint(1, 3)]:
        event()
    if rng.random() < 0.3:
        _count_sequence(p, rng)
    order = rng.sample(people, len(people))
    for who in order:
        for kind in rng.sample(range(6), rng.randint(2, 3)):
            _recall_fact(p, who, people, kind)
        if rng.random() < 0.5:
            _count_objects(p, who)
    if rng.random() < 0.5:
        _ages(p, people, rng)
    return p


def _paragraphs(seed: int, split: str, n_sentences: int) -> list[Paragraph]:
    # A string seed is hashed with SHA-512 by `random`, so it is stable across runs/platforms.
    rng = random.Random(f"prunebench-tiny-{seed}-{split}")
    out, count = [], 0
    while count < n_sentences:
        para = generate_paragraph(rng)
        out.append(para)
        count += len(para.sentences)
    return out


def generate_corpus(seed: int = 0, n_sentences: int = DEFAULT_N_SENTENCES) -> dict[str, str]:
    """Train / validation / test text, one paragraph per line.

    `n_sentences` is the size of the train split (whole paragraphs, so slightly more); validation
    and test get a twentieth of it each. The splits come from independent random streams and no
    paragraph of validation or test appears in train (or in each other).
    """
    if n_sentences < 100:
        raise PrunebenchError(f"n_sentences={n_sentences} is too small for a usable corpus: "
                              "use at least 100")
    sizes = {"train": n_sentences, "validation": n_sentences // 20, "test": n_sentences // 20}
    seen: set[str] = set()
    corpus = {}
    for split in SPLITS:
        lines = []
        for para in _paragraphs(seed, split, sizes[split]):
            if para.text not in seen:
                seen.add(para.text)
                lines.append(para.text)
        corpus[split] = "\n".join(lines) + "\n"
    return corpus


def generate_probes(seed: int, n: int, split: str = "test") -> list[dict]:
    """`n` multiple-choice items: {"context", "choices", "label"}; choices[label] is true.

    The context is a paragraph up to the start of a recall sentence's answer; each choice is a
    continuation (" answer"), the true one restating a fact from the context.
    """
    rng = random.Random(f"prunebench-tiny-probes-{seed}-{split}")
    items = []
    while len(items) < n:
        para = generate_paragraph(rng)
        for index, prefix, answer, wrong in para.probes:
            if not wrong:
                continue
            choices = [answer] + rng.sample(wrong, min(3, len(wrong)))
            rng.shuffle(choices)
            context = " ".join(para.sentences[:index] + [prefix])
            items.append({"context": context, "choices": [f" {c}" for c in choices],
                          "label": choices.index(answer)})
            if len(items) == n:
                break
    return items


def write_corpus(out_dir: str | Path, seed: int = 0,
                 n_sentences: int = DEFAULT_N_SENTENCES) -> dict[str, Path]:
    """Write train.txt, validation.txt and test.txt (one paragraph per line) atomically."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split, text in generate_corpus(seed, n_sentences).items():
        paths[split] = out_dir / f"{split}.txt"
        write_text(paths[split], text)
    return paths


