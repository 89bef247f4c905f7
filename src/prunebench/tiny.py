"""The embedded default: a synthetic corpus, its tokenizer and a tiny LLaMA trained on CPU.

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

Corpus files (`write_corpus`) hold one paragraph per line. The canonical token stream of a text
(`encode_text`) is `<s> paragraph </s>` for every line, concatenated; the model is trained on
random windows of that stream.
"""

from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tokenizers import (Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers,
                        processors, trainers)
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from prunebench import PrunebenchError
from prunebench.atomic import write_text
from prunebench.evaluate import perplexity
from prunebench.modeling import build_model, count_params, save_model

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
UNK, BOS, EOS = "<unk>", "<s>", "</s>"

# Defaults of the embedded model (the pipeline's `tiny` model and the tests' checkpoint).
DEFAULT_N_SENTENCES = 60_000
DEFAULT_VOCAB_SIZE = 512
DEFAULT_STEPS = 250
DEFAULT_BATCH_SIZE = 8
DEFAULT_SEQ_LEN = 256
DEFAULT_LR = 3e-3

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


# --------------------------------------------------------------------------- tokenizer

def train_tokenizer(text: str, vocab_size: int = DEFAULT_VOCAB_SIZE,
                    padding_side: str = "left") -> PreTrainedTokenizerFast:
    """A BPE tokenizer with LLaMA's conventions, trained offline on `text`.

    `<unk>`=0, `<s>`=1 (prepended by the post-processor), `</s>`=2; pad is `<unk>` (id 0), as
    usually done for LLaMA. Words are split on spaces and punctuation (spaces become "▁", as in
    SentencePiece); newlines are read as spaces.
    """
    if padding_side not in ("left", "right"):
        raise PrunebenchError(f"padding_side={padding_side!r}: use 'left' or 'right'")
    if not text.strip():
        raise PrunebenchError("cannot train a tokenizer on empty text: pass the train split")
    if vocab_size < 64:
        raise PrunebenchError(f"vocab_size={vocab_size} is too small: use at least 64 (the "
                              "characters alone need about 60 entries)")
    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.normalizer = normalizers.Replace(Regex(r"\s*\n\s*"), " ")
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first"),
        pre_tokenizers.Punctuation(behavior="isolated"),
    ])
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[UNK, BOS, EOS],
                                  show_progress=False)
    tok.train_from_iterator(text.splitlines(), trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B:1",
        special_tokens=[(BOS, tok.token_to_id(BOS))])
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token=UNK, bos_token=BOS,
                                   eos_token=EOS, pad_token=UNK, padding_side=padding_side,
                                   clean_up_tokenization_spaces=False)


def encode_text(tokenizer, text: str) -> torch.Tensor:
    """The canonical token stream of a corpus file: `<s> line </s>` per non-empty line."""
    lines = [line for line in text.splitlines() if line.strip()]
    ids: list[int] = []
    for row in tokenizer(lines, add_special_tokens=True)["input_ids"]:
        ids += row + [tokenizer.eos_token_id]
    return torch.tensor(ids, dtype=torch.long)


# --------------------------------------------------------------------------- model

def tiny_config(vocab_size: int, **overrides) -> LlamaConfig:
    """8 blocks, hidden 128, 4 heads of 32, MLP 384: about 2M parameters."""
    settings = dict(vocab_size=vocab_size, hidden_size=128, intermediate_size=384,
                    num_hidden_layers=8, num_attention_heads=4, num_key_value_heads=4,
                    head_dim=32, max_position_embeddings=1024, rms_norm_eps=1e-5,
                    rope_theta=10000.0, tie_word_embeddings=False, bos_token_id=1,
                    eos_token_id=2, pad_token_id=0, torch_dtype="float32")
    settings.update(overrides)
    return LlamaConfig(**settings)


def _lr_at(step: int, steps: int, lr: float, warmup: int) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def train_tiny_model(config: LlamaConfig, tokenizer, train_text: str, *,
                     steps: int = DEFAULT_STEPS, batch_size: int = DEFAULT_BATCH_SIZE,
                     seq_len: int = DEFAULT_SEQ_LEN, lr: float = DEFAULT_LR, seed: int = 0,
                     log_every: int = 50) -> LlamaForCausalLM:
    """Train a LLaMA from scratch on random windows of `train_text`, on CPU in float32.

    Deterministic from `seed` on one machine with the same torch version and thread count:
    the weights' init and the windows come from seeded generators, and deterministic algorithms
    are requested. Different thread counts or CPUs may reorder float reductions, so weights then
    differ in the last bits.
    """
    if steps < 1 or batch_size < 1 or seq_len < 2:
        raise PrunebenchError(f"steps={steps}, batch_size={batch_size}, seq_len={seq_len}: "
                              "all must be positive (seq_len at least 2)")
    if seq_len > config.max_position_embeddings:
        raise PrunebenchError(f"seq_len={seq_len} exceeds max_position_embeddings="
                              f"{config.max_position_embeddings}: shorten it")
    stream = encode_text(tokenizer, train_text)
    if len(stream) <= seq_len + 1:
        raise PrunebenchError(f"train text has {len(stream)} tokens, fewer than one window of "
                              f"{seq_len + 1}: pass more text or a shorter seq_len")
    if int(stream.max()) >= config.vocab_size:
        raise PrunebenchError(f"tokenizer ids reach {int(stream.max())} but the config's "
                              f"vocab_size is {config.vocab_size}: build the config from "
                              "len(tokenizer)")

    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        torch.manual_seed(seed)
        model = build_model(config, device="cpu", dtype=torch.float32)
        model.train()
        windows = torch.Generator().manual_seed(seed)
        decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
        no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                                 {"params": no_decay, "weight_decay": 0.0}],
                                lr=lr, betas=(0.9, 0.95), foreach=False)
        warmup = max(1, min(100, steps // 10))
        offsets = torch.arange(seq_len + 1)
        t0 = last = time.perf_counter()
        for step in range(steps):
            for group in opt.param_groups:
                group["lr"] = _lr_at(step, steps, lr, warmup)
            starts = torch.randint(0, len(stream) - seq_len - 1, (batch_size,), generator=windows)
            batch = stream[starts[:, None] + offsets]
            loss = _lm_loss(model, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            if (step + 1) % log_every == 0 or step + 1 == steps:
                now = time.perf_counter()
                n = log_every if (step + 1) % log_every == 0 else (step + 1) % log_every
                log.info("step %d/%d  loss %.4f  lr %.2e  %.0f tokens/s", step + 1, steps,
                         loss.item(), opt.param_groups[0]["lr"],
                         n * batch_size * seq_len / max(now - last, 1e-9))
                last = now
        log.info("trained %d steps in %.1f s, final loss %.4f", steps, time.perf_counter() - t0,
                 loss.item())
    finally:
        torch.use_deterministic_algorithms(deterministic)
    model.eval()
    model.config.use_cache = True
    return model


def _lm_loss(model: LlamaForCausalLM, batch: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy of a [B, L+1] batch (inputs are the first L tokens)."""
    logits = model(input_ids=batch[:, :-1], use_cache=False).logits
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                             batch[:, 1:].reshape(-1))


def build_tiny(out_dir: str | Path, corpus_dir: str | Path, *, seed: int = 0,
               vocab_size: int = DEFAULT_VOCAB_SIZE, steps: int = DEFAULT_STEPS,
               batch_size: int = DEFAULT_BATCH_SIZE, seq_len: int = DEFAULT_SEQ_LEN,
               lr: float = DEFAULT_LR, log_every: int = 50, **config_overrides) -> Path:
    """Train the tokenizer and the tiny model on corpus_dir/train.txt; save a checkpoint."""
    train_file = Path(corpus_dir) / "train.txt"
    if not train_file.exists():
        raise PrunebenchError(f"{train_file} does not exist: write the corpus first "
                              "(prunebench.tiny.write_corpus)")
    text = train_file.read_text()
    tokenizer = train_tokenizer(text, vocab_size=vocab_size)
    config = tiny_config(len(tokenizer), **config_overrides)
    log.info("tiny model: %d-token vocab, %d blocks, %d params", len(tokenizer),
             config.num_hidden_layers, count_params(config))
    model = train_tiny_model(config, tokenizer, text, steps=steps, batch_size=batch_size,
                             seq_len=seq_len, lr=lr, seed=seed, log_every=log_every)
    record = {"seed": seed, "vocab_size": vocab_size, "steps": steps, "batch_size": batch_size,
              "seq_len": seq_len, "lr": lr, "config_overrides": config_overrides}
    validation = Path(corpus_dir) / "validation.txt"
    if validation.exists():
        ids = encode_text(tokenizer, validation.read_text())
        if len(ids) >= seq_len:
            record["validation_perplexity"] = perplexity(model, ids, window=seq_len)["perplexity"]
            log.info("validation perplexity %.3f", record["validation_perplexity"])
    save_model(model, tokenizer, out_dir, extra_manifest={"tiny": record})
    return Path(out_dir)
