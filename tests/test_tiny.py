"""The embedded default: corpus, tokenizer, tiny model, and the quality the other tests rely on."""

from __future__ import annotations

import collections
import hashlib
import json
import math
import re

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from prunebench.evaluate import perplexity
from prunebench import PrunebenchError, modeling, tiny
from prunebench.corpus import FEMALE, generate_corpus, generate_probes, write_corpus

SMALL = 2_000  # sentences: enough for corpus and tokenizer checks, fast to make


# --------------------------------------------------------------------------- corpus

def test_corpus_splits_are_disjoint_and_deterministic():
    corpus = generate_corpus(seed=3, n_sentences=SMALL)
    assert set(corpus) == {"train", "validation", "test"}
    paragraphs = {split: text.splitlines() for split, text in corpus.items()}
    assert len(paragraphs["train"]) > 40 and len(paragraphs["test"]) >= 3
    assert all(line.strip() for p in paragraphs.values() for line in p)
    assert not set(paragraphs["train"]) & set(paragraphs["test"])
    assert not set(paragraphs["train"]) & set(paragraphs["validation"])
    assert not set(paragraphs["validation"]) & set(paragraphs["test"])
    sentences = sum(len(re.findall(r"[.]( |$)", line)) for line in paragraphs["train"])
    assert SMALL <= sentences < SMALL * 1.1
    assert generate_corpus(seed=3, n_sentences=SMALL) == corpus
    assert generate_corpus(seed=4, n_sentences=SMALL)["train"] != corpus["train"]


def test_corpus_has_agreement_and_consistent_facts():
    text = generate_corpus(seed=0, n_sentences=SMALL)["train"]
    for line in text.splitlines():
        people = dict(re.findall(r"(\w+) is an? (\w+) from \w+\.", line))
        genders = {}
        for name, pronoun in re.findall(r"(\w+) is an? \w+ from \w+\. (She|He) has", line):
            genders[name] = pronoun
        female = set(FEMALE)
        assert all((g == "She") == (n in female) for n, g in genders.items()), line
        # A restated job is the job the person was introduced with.
        for name, job in re.findall(r"(\w+) is an? (\w+)\.", line):
            assert people[name] == job, line
        # Counting reaches exactly the number of objects the person owns.
        for name, seq in re.findall(r"(\w+) counts (?:his|her) \w+: ([a-z, ]+)\.", line):
            owned = re.search(rf"{name} is an? \w+ from \w+\. \w+ has [^.]+\. \w+ owns (\w+)",
                              line).group(1)
            assert seq.split(", ")[-1] == owned, line
        # Pets' verbs agree with their number.
        for noun, verb in re.findall(r"'s (\w+) (sleeps?|runs?|eats?|plays?|waits?|sits?) ",
                                     line):
            assert noun.endswith("s") != verb.endswith("s"), line


def test_probes_have_one_true_choice_stated_in_the_context():
    probes = generate_probes(seed=0, n=200)
    assert len(probes) == 200
    for item in probes:
        choices = item["choices"]
        assert 2 <= len(choices) <= 4 and len(set(choices)) == len(choices)
        answer = choices[item["label"]].strip(" .")
        assert re.search(rf"\b{answer}\b", item["context"]), item


def test_write_corpus_writes_one_paragraph_per_line(tmp_path):
    paths = write_corpus(tmp_path / "corpus", seed=1, n_sentences=SMALL)
    expected = generate_corpus(seed=1, n_sentences=SMALL)
    assert sorted(p.name for p in (tmp_path / "corpus").iterdir()) == [
        "test.txt", "train.txt", "validation.txt"]
    for split, path in paths.items():
        assert path.read_text() == expected[split]


def test_corpus_rejects_tiny_sizes():
    with pytest.raises(PrunebenchError, match="n_sentences"):
        generate_corpus(n_sentences=10)


# --------------------------------------------------------------------------- tokenizer

@pytest.fixture(scope="module")
def small_corpus():
    return generate_corpus(seed=0, n_sentences=SMALL)


def test_tokenizer_follows_llama_conventions(small_corpus, tmp_path):
    tok = tiny.train_tokenizer(small_corpus["train"], vocab_size=300)
    assert len(tok) <= 300
    assert (tok.unk_token_id, tok.bos_token_id, tok.eos_token_id, tok.pad_token_id) == (0, 1, 2, 0)
    assert tok.convert_ids_to_tokens([0, 1, 2]) == ["<unk>", "<s>", "</s>"]
    paragraph = small_corpus["test"].splitlines()[0]
    ids = tok(paragraph)["input_ids"]
    assert ids[0] == 1 and ids.count(1) == 1 and 0 not in ids and 2 not in ids
    assert tok.decode(ids, skip_special_tokens=True) == paragraph
    assert tok.padding_side == "left"
    batch = tok(["Anna is a baker.", "Tom is a cook from Lima."], padding=True)["input_ids"]
    assert batch[0][0] == 0 and batch[0][-1] == batch[1][-1]  # padded on the left with id 0

    tok.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert loaded(paragraph)["input_ids"] == ids
    assert (loaded.bos_token_id, loaded.eos_token_id, loaded.pad_token_id) == (1, 2, 0)
    assert loaded.padding_side == "left"
    assert tiny.train_tokenizer(small_corpus["train"], padding_side="right").padding_side == "right"


def test_tokenizer_is_deterministic(small_corpus):
    a = tiny.train_tokenizer(small_corpus["train"], vocab_size=300)
    b = tiny.train_tokenizer(small_corpus["train"], vocab_size=300)
    assert a.backend_tokenizer.to_str() == b.backend_tokenizer.to_str()


def test_tokenizer_rejects_bad_input():
    with pytest.raises(PrunebenchError, match="empty"):
        tiny.train_tokenizer("  \n")
    with pytest.raises(PrunebenchError, match="vocab_size"):
        tiny.train_tokenizer("Anna is a baker.", vocab_size=10)
    with pytest.raises(PrunebenchError, match="padding_side"):
        tiny.train_tokenizer("Anna is a baker.", padding_side="middle")


def test_encode_text_wraps_every_paragraph(small_corpus):
    tok = tiny.train_tokenizer(small_corpus["train"], vocab_size=300)
    text = small_corpus["validation"]
    ids = tiny.encode_text(tok, text).tolist()
    n = len(text.splitlines())
    assert ids.count(1) == n and ids.count(2) == n and ids[0] == 1 and ids[-1] == 2



@pytest.mark.parametrize("template", ["$A", "<s> $A </s>"])
def test_encode_text_puts_the_bos_and_eos_there_whatever_the_tokenizers_encoding_adds(
        small_corpus, template):
    """The embedded text is scored with any model's tokenizer: one whose encoding adds no BOS,
    or an EOS of its own too, still gives `<s> line </s>` per line (no BOS missing, no EOS
    twice)."""
    from tokenizers import processors

    tok = tiny.train_tokenizer(small_corpus["train"], vocab_size=300)
    text = small_corpus["validation"]
    expected = tiny.encode_text(tok, text).tolist()
    tok.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single=template, special_tokens=[("<s>", 1), ("</s>", 2)])
    assert tiny.encode_text(tok, text).tolist() == expected


# --------------------------------------------------------------------------- model and training

def test_tiny_config_shape():
    config = tiny.tiny_config(512)
    assert config.num_hidden_layers >= 8
    assert config.num_attention_heads * config.head_dim == config.hidden_size
    assert config.max_position_embeddings >= 512
    assert not config.tie_word_embeddings
    assert (config.bos_token_id, config.eos_token_id, config.pad_token_id) == (1, 2, 0)
    assert tiny.tiny_config(512, num_hidden_layers=4).num_hidden_layers == 4


def _short_run(corpus, seed):
    tok = tiny.train_tokenizer(corpus["train"], vocab_size=300)
    config = tiny.tiny_config(len(tok), num_hidden_layers=2, hidden_size=64, head_dim=16,
                              intermediate_size=96)
    return tiny.train_tiny_model(config, tok, corpus["train"], steps=4, batch_size=2,
                                 seq_len=32, lr=1e-3, seed=seed, log_every=2)


def test_training_is_deterministic(small_corpus):
    a, b, c = (_short_run(small_corpus, seed) for seed in (0, 0, 1))
    state_a, state_b, state_c = (m.state_dict() for m in (a, b, c))
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    assert not all(torch.equal(state_a[k], state_c[k]) for k in state_a)
    assert not a.training


def test_training_rejects_bad_arguments(small_corpus):
    tok = tiny.train_tokenizer(small_corpus["train"], vocab_size=300)
    with pytest.raises(PrunebenchError, match="max_position_embeddings"):
        tiny.train_tiny_model(tiny.tiny_config(len(tok)), tok, small_corpus["train"], steps=1,
                              batch_size=1, seq_len=4096)
    with pytest.raises(PrunebenchError, match="vocab_size"):
        tiny.train_tiny_model(tiny.tiny_config(16), tok, small_corpus["train"], steps=1,
                              batch_size=1, seq_len=16)
    with pytest.raises(PrunebenchError, match="one window"):
        tiny.train_tiny_model(tiny.tiny_config(len(tok)), tok, "Anna is a baker.", steps=1,
                              batch_size=1, seq_len=64)


def test_build_tiny_needs_the_corpus(tmp_path):
    with pytest.raises(PrunebenchError, match="write the corpus"):
        tiny.build_tiny(tmp_path / "model", tmp_path / "missing")


def test_build_tiny_records_how_its_weights_were_made(tmp_path):
    # Library versions and the thread count change the trained weights' last bits
    # (docs/architecture.md, "What is bit-reproducible"): the manifest says which made these.
    write_corpus(tmp_path / "corpus", seed=0, n_sentences=SMALL)
    tiny.build_tiny(tmp_path / "model", tmp_path / "corpus", vocab_size=300, steps=1,
                    batch_size=2, seq_len=32, hidden_size=32, intermediate_size=64,
                    num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2, head_dim=16)
    record = json.loads((tmp_path / "model" / modeling.MANIFEST).read_text())["tiny"]
    assert record["steps"] == 1 and record["seed"] == 0
    train = (tmp_path / "corpus" / "train.txt").read_bytes()
    assert record["train_text_sha256"] == hashlib.sha256(train).hexdigest()
    made = record["provenance"]
    assert made["versions"]["torch"] == torch.__version__ and made["torch_threads"] >= 1
    assert made["seed"] == 0 and made["device"] == "cpu" and len(made["code"]["hash"]) == 64


def test_small_random_model_fixture(small_random_model):
    a, b = small_random_model(), small_random_model()
    assert a.config.num_hidden_layers == 4 and a.config.vocab_size == 128 and not a.training
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))
    c = small_random_model(seed=1, num_hidden_layers=2, num_attention_heads=2)
    assert c.config.num_hidden_layers == 2 and c.config.head_dim == 32
    assert modeling.count_params(c.config) == sum(p.numel() for p in c.parameters())


# --------------------------------------------------------------------------- the trained model

@pytest.fixture(scope="module")
def tiny_eval(tiny_model_dir, embedded_corpus):
    tok = modeling.load_tokenizer(tiny_model_dir)
    test_ids = tiny.encode_text(tok, (embedded_corpus / "test.txt").read_text())
    train_ids = tiny.encode_text(tok, (embedded_corpus / "train.txt").read_text())
    return tok, train_ids, test_ids


WINDOWS = 24  # 24 x 256 test tokens per perplexity: enough to rank blocks, fast on CPU


def _ppl(model, ids):
    return perplexity(model, ids, window=256, max_windows=WINDOWS)["perplexity"]


def test_tiny_model_beats_unigram(tiny_model_dir, tiny_eval):
    tok, train_ids, test_ids = tiny_eval
    counts = collections.Counter(train_ids.tolist())
    total = len(train_ids) + len(tok)  # add-one smoothing
    targets = test_ids[1:].tolist()
    unigram = math.exp(-sum(math.log((counts[t] + 1) / total) for t in targets) / len(targets))
    model_ppl = perplexity(modeling.load_model(tiny_model_dir), test_ids, window=256)["perplexity"]
    # Measured about 30x below the unigram perplexity: this bar holds for any sound training.
    assert model_ppl < unigram / 5, (model_ppl, unigram)


def test_a_zeroed_block_is_an_identity_and_blocks_matter_differently(tiny_model_dir, tiny_eval):
    test_ids = tiny_eval[2]
    n_blocks = modeling.load_config(tiny_model_dir).num_hidden_layers
    # Every parameter of a block zeroed (norms too): its attention and MLP see zeros and add
    # exactly 0 to the residual stream, so the model equals the model without that block.
    ids = test_ids[:256][None]
    zeroed = modeling.load_model(tiny_model_dir)
    with torch.no_grad():
        for p in zeroed.model.layers[3].parameters():
            p.zero_()
        dense_logits = modeling.load_model(tiny_model_dir)(input_ids=ids).logits
        zeroed_logits = zeroed(input_ids=ids).logits
        removed_logits = modeling.remove_blocks(zeroed, [3])(input_ids=ids).logits
    assert torch.equal(zeroed_logits, removed_logits)
    assert not torch.equal(zeroed_logits, dense_logits)  # the trained block did something

    # Removing the first block is catastrophic, removing the least important one is not
    # (measured: about 1000 vs 3.3; dense 3.3): a margin far beyond any other machine's training.
    drop_one = [_ppl(modeling.remove_blocks(modeling.load_model(tiny_model_dir), [b]), test_ids)
                for b in range(n_blocks)]
    assert all(math.isfinite(p) for p in drop_one), drop_one
    assert max(drop_one) > 2 * min(drop_one), drop_one


def test_checkpoint_reloads_with_prunebench_and_transformers(tiny_model_dir):
    ours = modeling.load_model(tiny_model_dir)
    theirs = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    theirs.eval()
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    ids = tok(["Anna is a baker from Lima. She has a red cat. Anna lives in"],
              return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.equal(ours(input_ids=ids).logits, theirs(input_ids=ids).logits)
    assert modeling.count_params(ours.config) == sum(p.numel() for p in ours.parameters())
