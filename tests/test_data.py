"""Calibration windows and text sources."""
import datasets
import pytest
import torch

from prunebench import PrunebenchError
from prunebench.data import calibration_windows, load_rows, load_windows, save_windows


class CharTokenizer:
    """One id per character (offset by 3 for the special tokens); enough to test windowing."""
    bos_token_id = 1
    eos_token_id = 2

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [3 + (ord(c) % 50) for c in text]}  # never 1 or 2


ROWS = [f"row {i}: " + "abcdefghij" * (i % 3 + 1) for i in range(40)]


def test_windows_have_exact_length_random_offsets_and_are_seeded():
    a = calibration_windows(ROWS, CharTokenizer(), n=20, length=32, seed=1234)
    b = calibration_windows(ROWS, CharTokenizer(), n=20, length=32, seed=1234)
    c = calibration_windows(ROWS, CharTokenizer(), n=20, length=32, seed=7)
    assert a.shape == (20, 32) and a.dtype == torch.long
    assert torch.equal(a, b) and not torch.equal(a, c)
    # random offsets, as the originals: most windows start inside a row, not at its BOS
    assert (a[:, 0] != 1).sum() > 10
    # every window is a contiguous slice of the BOS-per-row token stream
    stream = [t for row in ROWS + ROWS for t in [1] + CharTokenizer()(row)["input_ids"]]
    text = ",".join(map(str, stream))
    assert all(",".join(map(str, w)) in text for w in a.tolist())


def test_too_little_text_is_refused():
    with pytest.raises(PrunebenchError, match="fewer than one window"):
        calibration_windows(["short"], CharTokenizer(), n=1, length=64, seed=0)


def test_windows_round_trip_through_safetensors(tmp_path):
    windows = calibration_windows(ROWS, CharTokenizer(), n=3, length=16, seed=0)
    save_windows(windows, tmp_path / "w.safetensors", {"source": "embedded", "seed": 0})
    loaded, meta = load_windows(tmp_path / "w.safetensors")
    assert torch.equal(loaded, windows) and meta["source"] == "embedded"


def test_embedded_source_reads_its_split(tmp_path):
    (tmp_path / "train.txt").write_text("first paragraph\n\nsecond paragraph\n")
    assert load_rows("embedded", "train", tmp_path) == ["first paragraph", "second paragraph"]
    with pytest.raises(PrunebenchError, match="missing"):
        load_rows("embedded", "test", tmp_path)


def test_non_utf8_text_is_refused(tmp_path):
    (tmp_path / "train.txt").write_bytes(b"caf\xe9 ok\n")
    with pytest.raises(PrunebenchError, match="not UTF-8"):
        load_rows("embedded", "train", tmp_path)


def test_unknown_source_is_refused():
    with pytest.raises(PrunebenchError, match="unknown text source 'books'"):
        load_rows("books", "train")


def test_offline_hub_dataset_names_it_and_how_to_prefetch(monkeypatch):
    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach the hub")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(PrunebenchError, match=r"wikitext2 \(Salesforce/wikitext.*pre-fetch"):
        load_rows("wikitext2", "test")


def test_wrapped_rows_follow_the_training_stream():
    windows = calibration_windows(ROWS, CharTokenizer(), n=4, length=40, seed=3, wrap_rows=True)
    for w in windows.tolist():
        assert w[0] == 1  # a window starts at a row, with that row's BOS
        for i, t in enumerate(w[:-1]):  # every row ends with EOS, then the next row's BOS
            if t == 2:
                assert w[i + 1] == 1


@pytest.mark.parametrize("source, split", [("wikitext2", "test"), ("ptb", "validation")])
def test_evaluation_text_joins_rows_as_the_study_did(monkeypatch, source, split):
    # LLM-Pruner's perplexity evaluation, which the study used, joins the rows of both
    # WikiText-2 and PTB with "\n\n" before tokenizing.
    from prunebench import data

    monkeypatch.setattr(data, "_load_hub_rows", lambda *args: ["first row", "", "second row"])
    assert data.load_text(source, split) == "first row\n\n\n\nsecond row"
