"""Evaluation text tokenized as the study's code did it: transformers 4.x's slow LlamaTokenizer
in its legacy mode (prunebench.legacy_tokenization), against ids that tokenizer made."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from prunebench import PrunebenchError, mc_suite, zeroshot
from prunebench.evaluate import perplexities, perplexity
from prunebench import legacy_tokenization
from prunebench.legacy_tokenization import legacy_encoder, legacy_ids, sentencepiece_file
from prunebench.modeling import build_model, load_model, load_tokenizer, save_model
from prunebench.tiny import tiny_config

# A 400-piece BPE SentencePiece model trained for these tests with LLaMA's settings (byte
# fallback, the dummy prefix, digits split, no whitespace normalisation).
DATA = Path(__file__).parent / "data" / "sentencepiece"
SPECIAL = {"<unk>": 0, "<s>": 1, "</s>": 2}
# What transformers 4.40.1 (the study's pinned version; sentencepiece 0.2.3) made of each text:
# LlamaTokenizer(vocab_file=DATA / "tokenizer.model")(text, add_special_tokens=False), in the
# legacy mode it takes for a config without `legacy` (LLaMA-1's and Vicuna v1.3's).
STUDY_IDS = {
    " the company said <unk> <unk> watching the market\n\n 1987 shares <unk>.":
        [366, 301, 344, 284, 366, 0, 366, 366, 0, 366, 316, 301, 299, 13, 13, 366, 392, 396, 394,
         393, 325, 366, 0, 366, 388],
    "<unk> at the start, and <s> and </s> in the middle</s>":
        [0, 366, 334, 301, 263, 370, 264, 370, 387, 327, 366, 1, 366, 327, 366, 2, 366, 333, 301,
         275, 369, 380, 380, 386, 368, 2],
    "no special tokens here: price was 42 percent\n\nnew year":
        [280, 375, 263, 379, 368, 376, 369, 367, 386, 332, 383, 365, 373, 302, 345, 61, 287, 357,
         366, 398, 391, 292, 13, 13, 372, 279, 338],
    "<unk><unk> back to back <unk>, é – café":
        [0, 0, 366, 272, 367, 303, 332, 272, 367, 303, 366, 0, 366, 387, 366, 198, 172, 366, 229,
         131, 150, 340, 367, 381, 198, 172],
}


@pytest.mark.parametrize("text", list(STUDY_IDS))
def test_the_ids_are_the_study_tokenizers(text):
    """Each piece between special tokens gets SentencePiece's dummy prefix of its own (after
    `<unk>`, " watching" is ['▁', '▁watching']), which transformers 5's tokenizer does not."""
    assert legacy_ids(text, DATA / "tokenizer.model", SPECIAL) == STUDY_IDS[text]


@pytest.fixture
def sentencepiece_checkpoint(tmp_path):
    """A random LLaMA of the test vocabulary saved by prunebench with a tokenizer loaded from a
    folder holding the SentencePiece model and a LLaMA-1-like config (no `legacy` key)."""
    source = tmp_path / "source"
    source.mkdir()
    shutil.copyfile(DATA / "tokenizer.model", source / "tokenizer.model")
    (source / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "LlamaTokenizer", "bos_token": "<s>", "eos_token": "</s>",
        "unk_token": "<unk>", "add_bos_token": True, "add_eos_token": False}))
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(source))
    torch.manual_seed(0)
    model = build_model(tiny_config(400, num_hidden_layers=2, hidden_size=64,
                                    intermediate_size=128, num_attention_heads=2,
                                    num_key_value_heads=2, head_dim=32), device="cpu")
    save_model(model, tokenizer, tmp_path / "base")
    return tmp_path / "base"


def test_perplexity_scores_the_studys_stream_and_records_how(sentencepiece_checkpoint):
    """With tokenization sentencepiece_legacy the scored stream is BOS + the study's ids; the
    checkpoint prunebench saved keeps the SentencePiece model it needs (transformers 5 saves a
    tokenizer without it)."""
    base = sentencepiece_checkpoint
    assert (base / "tokenizer.model").read_bytes() == (DATA / "tokenizer.model").read_bytes()
    model, tokenizer = load_model(base), load_tokenizer(base)
    text = next(iter(STUDY_IDS))
    settings = {"window": 8, "stride": None, "bos": "first", "batch_size": 2,
                "max_windows": None, "tokenization": "sentencepiece_legacy"}
    scored = perplexities(model, tokenizer, {"ptb": text}, settings)["ptb"]
    stream = torch.tensor([1] + STUDY_IDS[text])
    assert scored["stream_tokens"] == len(stream)
    assert scored["tokenization"] == "sentencepiece_legacy"
    assert scored["perplexity"] == perplexity(model, stream, 8, batch_size=2)["perplexity"]
    with pytest.raises(PrunebenchError, match="tokenization 'bpe' unknown: use one of "):
        perplexities(model, tokenizer, {"ptb": text}, {**settings, "tokenization": "bpe"})


def test_a_checkpoint_without_the_model_finds_the_one_it_was_made_from(
        sentencepiece_checkpoint, tmp_path):
    """Pruned and recovered checkpoints made before they kept the file: their manifests name
    the checkpoint each was made from (`base.checkpoint`, `lora.base`)."""
    pruned, recovered = tmp_path / "pruned", tmp_path / "recovered"
    for folder, manifest in ((pruned, {"base": {"checkpoint": str(sentencepiece_checkpoint)}}),
                             (recovered, {"lora": {"base": str(pruned)}})):
        folder.mkdir()
        (folder / "prunebench.json").write_text(json.dumps(manifest))
    assert sentencepiece_file(recovered) == sentencepiece_checkpoint / "tokenizer.model"
    (sentencepiece_checkpoint / "tokenizer.model").unlink()
    with pytest.raises(PrunebenchError) as err:
        sentencepiece_file(recovered)
    assert f"neither it nor the checkpoints it was made from ({pruned}, " \
           f"{sentencepiece_checkpoint}) have" in str(err.value)
    assert "use tokenization: tokenizer, or copy the base model's tokenizer.model" in \
        str(err.value)


def test_a_checkpoint_whose_manifest_names_its_files_is_not_told_to_take_a_copied_model(
        tmp_path, small_random_model, small_tokenizer):
    """A checkpoint saved with a manifest of its files refuses a file put in after the save,
    so copying the base's tokenizer.model in, the advice for older checkpoints, cannot work."""
    from prunebench import modeling

    checkpoint = tmp_path / "pruned"
    modeling.save_model(small_random_model(), small_tokenizer, checkpoint)
    assert not (checkpoint / "tokenizer.model").exists()
    with pytest.raises(PrunebenchError) as err:
        sentencepiece_file(checkpoint)
    assert f"use tokenization: tokenizer, or make {checkpoint} again from a base model that " \
           "has one" in str(err.value)
    assert "copy the base model's" not in str(err.value)


def test_zero_shot_requests_are_encoded_as_the_studys_lm_eval_encoded_them(
        sentencepiece_checkpoint):
    """The study's lm-eval encoded each request with the slow LlamaTokenizer: HFLM's
    tok_encode, through which every log-likelihood request goes, gives the study's ids, with
    a BOS where HFLM would put one."""
    checkpoint = sentencepiece_checkpoint
    model, tokenizer = load_model(checkpoint), load_tokenizer(checkpoint)
    encode = legacy_encoder(tokenizer)
    plain = zeroshot.language_model(model, tokenizer, 1, False, encode)
    with_bos = zeroshot.language_model(model, tokenizer, 1, True, encode)
    for text, ids in STUDY_IDS.items():
        assert plain.tok_encode(text) == ids
        assert with_bos.tok_encode(text) == [1] + ids
        assert with_bos.tok_encode(text, add_special_tokens=False) == ids
        assert plain.tok_encode(text, add_special_tokens=True) == [1] + ids
        assert with_bos.tok_encode(text, left_truncate_len=3) == ids[-3:]
    # no second BOS before a text that starts with its string (as HFLM decides)
    assert with_bos.tok_encode("<s> and the rest") == legacy_ids(
        "<s> and the rest", DATA / "tokenizer.model", SPECIAL)
    # lm-eval's split of a context and its answer: the answer's ids are the whole text's after
    # the context's
    text = "no special tokens here: price was 42 percent\n\nnew year"
    context, answer = plain._encode_pair("no special tokens here: price was",
                                         " 42 percent\n\nnew year")
    assert context + answer == STUDY_IDS[text]


def test_a_zero_shot_evaluation_with_the_studys_tokenization_records_it(
        sentencepiece_checkpoint, embedded_corpus, tmp_path, monkeypatch):
    suite = mc_suite.write_suite(embedded_corpus / "test.txt", tmp_path / "suite", n=8)
    checkpoint = sentencepiece_checkpoint
    model, tokenizer = load_model(checkpoint), load_tokenizer(checkpoint)
    encoded = []
    real = legacy_tokenization.legacy_ids

    def counted(text, *args):
        encoded.append(text)
        return real(text, *args)

    monkeypatch.setattr(legacy_tokenization, "legacy_ids", counted)
    out = zeroshot.evaluate(model, tokenizer, ["pb_number"], include_path=suite, limit=4,
                            add_bos_token=False, tokenization="sentencepiece_legacy",
                            progress_dir=tmp_path / "progress")
    assert out["summary"]["tokenization"] == "sentencepiece_legacy"
    assert encoded  # the requests went through the study's encoding
    plain = zeroshot.evaluate(model, tokenizer, ["pb_number"], include_path=suite, limit=4,
                              add_bos_token=False, progress_dir=tmp_path / "progress")
    assert plain["summary"]["tokenization"] == "tokenizer"
    # Answers kept for one tokenization are not the other's (an interrupted evaluation resumes
    # only in a store of its own identity); a store made before the setting existed still fits.
    from prunebench.zeroshot_progress import store_identity

    assert store_identity(model, tokenizer, False, "sentencepiece_legacy") != \
        store_identity(model, tokenizer, False)
    assert store_identity(model, tokenizer, False, "tokenizer") == \
        store_identity(model, tokenizer, False) and "tokenization" not in \
        store_identity(model, tokenizer, False)
    with pytest.raises(PrunebenchError, match="tokenization 'bpe' unknown: use one of "):
        zeroshot.evaluate(model, tokenizer, ["pb_number"], include_path=suite,
                          tokenization="bpe")
    (sentencepiece_checkpoint / "tokenizer.model").unlink()
    with pytest.raises(PrunebenchError, match="needs the SentencePiece model"):
        zeroshot.evaluate(model, tokenizer, ["pb_number"], include_path=suite,
                          tokenization="sentencepiece_legacy")
