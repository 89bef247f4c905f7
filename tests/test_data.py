"""Calibration windows and text sources."""
import datasets
import random

import pytest
import torch

from prunebench import PrunebenchError, data
from prunebench.data import (SAMPLINGS, calibration_windows, draw_windows, load_rows, load_windows,
                             save_windows)
from prunebench.methods.registry import METHODS, resolve_calibration
from prunebench.plan.variants import prune_settings


class CharTokenizer:
    """One id per character (offset by 3 for the special tokens); enough to test windowing."""
    bos_token_id = 1
    eos_token_id = 2

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [3 + (ord(c) % 50) for c in text]}  # never 1 or 2


ROWS = [f"row {i}: " + "abcdefghij" * (i % 3 + 1) for i in range(40)]


class FakeCommits:
    """`HfApi.dataset_info` as the hub answers it: the commit of (repository, revision) from
    `answers`; any other question fails as an unreachable hub does (the hub is unreachable
    here, and no test waits for the network)."""

    def __init__(self):
        self.answers, self.asked = {}, []

    def __call__(self, path, revision=None, token=None, **kwargs):
        self.asked.append((path, revision))
        if (path, revision) not in self.answers:
            raise ConnectionError("[Errno -2] Name or service not known")
        return type("DatasetInfo", (), {"sha": self.answers[(path, revision)]})()


@pytest.fixture(autouse=True)
def hub_commits(monkeypatch):
    """Every test of this module: the hub's commit answers faked, and no hub text read by an
    earlier test in this process."""
    import huggingface_hub

    commits = FakeCommits()
    monkeypatch.setattr(huggingface_hub.HfApi, "dataset_info",
                        lambda api, *args, **kwargs: commits(*args, **kwargs))
    monkeypatch.setattr(data, "_READ_FROM", {})
    return commits


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
    with pytest.raises(PrunebenchError, match=r"wikitext2 \(Salesforce/wikitext.*snakemake prefetch"):
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


class FakeHub:
    """`datasets.load_dataset` as the hub answers it (the hub is unreachable here): a script
    repository is refused as datasets >= 4 refuses it; `parquet` reads the hub's export."""

    def __init__(self, scripts=(), export_fails=False, offline=False, datasets_3=False,
                 trusted_by_environment=False):
        self.scripts, self.export_fails, self.offline = set(scripts), export_fails, offline
        self.datasets_3 = datasets_3
        # datasets 3.x with HF_DATASETS_TRUST_REMOTE_CODE=1: a script runs unless the call
        # says trust_remote_code=False
        self.trusted_by_environment = trusted_by_environment
        self.calls = []

    def __call__(self, path, name=None, **kwargs):
        self.calls.append((path, name, kwargs))
        if self.offline:
            raise ConnectionError(f"Couldn't reach '{path}' on the Hub (LocalEntryNotFoundError)")
        if path in self.scripts and self.datasets_3 and kwargs.get(
                "trust_remote_code", self.trusted_by_environment):
            return {"text": ["the script's own code ran"]}
        if path in self.scripts and self.datasets_3:  # what datasets 2.20 to 3.x raise
            raise ValueError(f"The repository for {path} contains custom code which must be "
                             "executed to correctly load the dataset. Please pass the argument "
                             "`trust_remote_code=True` to allow custom code to be run.")
        if path in self.scripts:
            raise RuntimeError(f"Dataset scripts are no longer supported, but found {path}.py")
        if path == "parquet" and self.export_fails:
            raise FileNotFoundError(f"Unable to find '{kwargs['data_files']['rows']}'")
        return {"text": ["row a", "row b"], "sentence": ["row a", "row b"]}


def test_hub_texts_load_at_their_pinned_commit(monkeypatch, hub_commits):
    import datasets

    from prunebench import data

    hub = FakeHub()
    monkeypatch.setattr(datasets, "load_dataset", hub)
    assert data.load_rows("wikitext2", "test") == ["row a", "row b"]
    assert data.load_rows("c4", "train") == ["row a", "row b"]
    revisions = [kwargs["revision"] for _, _, kwargs in hub.calls]
    assert revisions == [data.HUB_TEXTS["wikitext2"].revision, data.HUB_TEXTS["c4"].revision]
    assert all(len(r) == 40 for r in revisions)  # full commit hashes, not branch names
    assert hub.calls[1][2]["data_files"] == data.HUB_TEXTS["c4"].data_files
    assert hub_commits.asked == []  # a pinned commit needs no question


PG19_COMMIT = "9f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6"
EXPORT_COMMIT = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"


def test_an_unpinned_hub_text_is_read_at_the_commit_the_hub_names_which_is_recorded(
        monkeypatch, hub_commits, tmp_path):
    """A repository that moves on between the question and the load is still read at the
    commit the record names."""
    hub = FakeHub()
    monkeypatch.setattr(datasets, "load_dataset", hub)
    hub_commits.answers[("emozilla/pg19", None)] = PG19_COMMIT
    assert data.hub_location("pg19", "train") == "emozilla/pg19 (validation) @ newest"
    assert load_rows("pg19", "train") == ["row a", "row b"]
    assert [kwargs["revision"] for _, _, kwargs in hub.calls] == [PG19_COMMIT]
    assert data.hub_location("pg19", "train") == f"emozilla/pg19 (validation) @ {PG19_COMMIT}"
    windows = torch.ones(2, 4, dtype=torch.long)
    save_windows(windows, tmp_path / "w.safetensors", {"source": "pg19", "split": "train"})
    assert load_windows(tmp_path / "w.safetensors")[1]["dataset"] == \
        f"emozilla/pg19 (validation) @ {PG19_COMMIT}"


def test_a_parquet_export_is_read_at_the_commit_of_its_branch(monkeypatch, hub_commits):
    spec = data.HUB_TEXTS["ptb"]
    hub = FakeHub(scripts=[spec.path])
    monkeypatch.setattr(datasets, "load_dataset", hub)
    hub_commits.answers[(spec.path, None)] = PG19_COMMIT
    hub_commits.answers[(spec.path, "refs/convert/parquet")] = EXPORT_COMMIT
    assert load_rows("ptb", "validation") == ["row a", "row b"]
    assert hub.calls[0][2]["revision"] == PG19_COMMIT  # the repository itself, refused
    files = hub.calls[1][2]["data_files"]["rows"]
    assert files == f"hf://datasets/{spec.path}@{EXPORT_COMMIT}/penn_treebank/validation/*.parquet"
    assert data.hub_location("ptb", "validation") == (
        f"ptb-text-only/ptb_text_only/penn_treebank (validation) @ {EXPORT_COMMIT} "
        "(refs/convert/parquet)")


@pytest.mark.parametrize("offline_variable", [None, "HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"])
def test_where_the_hub_names_no_commit_the_newest_is_read_and_recorded_as_newest(
        monkeypatch, hub_commits, caplog, offline_variable):
    """Offline, the cached copy is read without a question to the hub; a hub that does not
    answer is said in the log."""
    import huggingface_hub

    if offline_variable:
        monkeypatch.setenv(offline_variable, "1")
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE",
                            offline_variable == "HF_HUB_OFFLINE")  # read once, at import
    hub = FakeHub()
    monkeypatch.setattr(datasets, "load_dataset", hub)
    with caplog.at_level("INFO", logger="prunebench"):
        assert load_rows("bookcorpus", "train") == ["row a", "row b"]
    assert hub.calls[0][2]["revision"] is None
    assert data.hub_location("bookcorpus", "train") == "bookcorpus/bookcorpus (train) @ newest"
    if offline_variable:
        assert hub_commits.asked == [] and "offline" in caplog.text
    else:
        assert hub_commits.asked == [("bookcorpus/bookcorpus", None)]
        assert "did not say which commit dataset bookcorpus/bookcorpus is at (ConnectionError" \
            in caplog.text


@pytest.mark.parametrize("env, sent", [(None, False), ("hf_secret_value_123", "hf_secret_value_123")])
def test_hub_texts_send_the_environments_token_and_no_other(monkeypatch, env, sent):
    """HF_TOKEN, or False: a token saved on the machine (`hf auth login`) is never sent."""
    import datasets

    from prunebench import data

    if env is None:
        monkeypatch.delenv("HF_TOKEN", raising=False)
    else:
        monkeypatch.setenv("HF_TOKEN", env)
    hub = FakeHub(scripts=[data.HUB_TEXTS["ptb"].path])  # the direct load, then the export's
    monkeypatch.setattr(datasets, "load_dataset", hub)
    data.load_rows("ptb", "validation")
    assert [kwargs["token"] for _, _, kwargs in hub.calls] == [sent, sent]


@pytest.mark.parametrize("source, split", [("ptb", "validation"), ("bookcorpus", "train")])
def test_no_dataset_repositorys_code_runs_even_where_the_environment_trusts_it(monkeypatch,
                                                                               source, split):
    """datasets 3.x runs a loading script when HF_DATASETS_TRUST_REMOTE_CODE=1 is set and the
    call does not refuse it: prunebench's calls refuse it, so the text comes from the export."""
    import datasets

    from prunebench import data

    hub = FakeHub(scripts=[data.HUB_TEXTS[source].path], datasets_3=True,
                  trusted_by_environment=True)
    monkeypatch.setattr(datasets, "load_dataset", hub)
    assert data.load_rows(source, split) == ["row a", "row b"]
    assert [kwargs["trust_remote_code"] for _, _, kwargs in hub.calls] == [False, False]


@pytest.mark.parametrize("datasets_3", [False, True])
@pytest.mark.parametrize("source, split, folder", [
    ("ptb", "validation", "penn_treebank/validation"), ("bookcorpus", "train", "plain_text/train")])
def test_a_script_repository_is_read_from_the_hubs_parquet_export(monkeypatch, caplog, source,
                                                                  split, folder, datasets_3):
    import datasets

    from prunebench import data

    spec = data.HUB_TEXTS[source]
    hub = FakeHub(scripts=[spec.path], datasets_3=datasets_3)
    monkeypatch.setattr(datasets, "load_dataset", hub)
    assert data.load_rows(source, split) == ["row a", "row b"]
    assert [call[0] for call in hub.calls] == [spec.path, "parquet"]
    files = hub.calls[1][2]["data_files"]["rows"]
    assert files == (f"hf://datasets/{spec.path}@refs%2Fconvert%2Fparquet/{folder}/*.parquet")
    # huggingface_hub reads the repository, branch and files out of the address as meant
    # (the hub itself is unreachable here)
    from huggingface_hub.hf_file_system import parse_hf_uri

    uri = parse_hf_uri(files)
    assert (uri.type, uri.id, uri.revision, uri.path_in_repo) == (
        "dataset", spec.path, "refs/convert/parquet", f"{folder}/*.parquet")
    assert "parquet export" in caplog.text


def test_a_failed_export_and_an_offline_hub_are_explained(monkeypatch):
    import datasets

    from prunebench import data

    monkeypatch.setattr(datasets, "load_dataset",
                        FakeHub(scripts=["ptb-text-only/ptb_text_only"], export_fails=True))
    with pytest.raises(PrunebenchError, match=r"loading script.*parquet export.*partial.*"
                       r"HF_DATASETS_TRUST_REMOTE_CODE=1"):
        data.load_rows("ptb", "validation")
    offline = FakeHub(offline=True)
    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(PrunebenchError, match=r"ptb .*ConnectionError.*snakemake prefetch"):
        data.load_rows("ptb", "validation")
    assert len(offline.calls) == 1  # an unreachable hub is not taken for a script refusal


# ------------------------------------------------------------ the originals' samplings (draw_windows)

SAMPLED = ["row_slice", "row_slice_inclusive", "row_chunks", "joined_stream", "joined_chunks"]
LONG_ROWS = [f"row {i}: " + "klmnopqrst" * (i % 5 + 2) for i in range(30)]  # 28-58 characters


def encoded(row: str) -> list[int]:
    return [1] + CharTokenizer()(row)["input_ids"]


def is_slice(window: list[int], ids: list[int]) -> bool:
    return any(ids[i:i + len(window)] == window for i in range(len(ids) - len(window) + 1))


@pytest.mark.parametrize("sampling", ["wrapped", *SAMPLED])
def test_every_sampling_gives_exact_length_windows_reproducibly(sampling):
    a = draw_windows(LONG_ROWS, CharTokenizer(), n=6, length=24, seed=1234, sampling=sampling)
    b = draw_windows(LONG_ROWS, CharTokenizer(), n=6, length=24, seed=1234, sampling=sampling)
    c = draw_windows(LONG_ROWS, CharTokenizer(), n=6, length=24, seed=7, sampling=sampling)
    assert a.dtype == torch.long and a.shape[1] == 24 and 1 <= a.shape[0] <= 6
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_wrapped_sampling_is_the_embedded_pipelines_draw():
    assert torch.equal(draw_windows(ROWS, CharTokenizer(), n=4, length=40, seed=3),
                       calibration_windows(ROWS, CharTokenizer(), n=4, length=40, seed=3,
                                           wrap_rows=True))


@pytest.mark.parametrize("sampling", ["row_slice", "row_slice_inclusive", "row_chunks"])
def test_row_samplings_cut_each_window_from_one_row(sampling):
    windows = draw_windows(LONG_ROWS, CharTokenizer(), n=8, length=24, seed=0, sampling=sampling)
    assert windows.shape == (8, 24)
    rows = [encoded(row) for row in LONG_ROWS]
    for w in windows.tolist():
        assert w.count(1) <= 1 and (1 not in w or w[0] == 1)  # BOS only as a row's first token
        assert any(is_slice(w, ids) for ids in rows), w


class NumberTokenizer:
    """Text is space-separated token ids: rows can be built whose every token names its row."""
    bos_token_id = 1
    eos_token_id = 2

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [int(t) for t in text.split()]}


def numbered_rows(lengths: list[int]) -> list[str]:
    """Row i holds tokens 1000 * (i + 1) + k, k < its length: a token's row is token // 1000 - 1."""
    return [" ".join(str(1000 * (i + 1) + k) for k in range(n)) for i, n in enumerate(lengths)]


def test_study_row_slices_come_from_distinct_long_enough_rows():
    # ten rows too short for 24 tokens (23 with BOS), then five long enough (25 with BOS)
    rows = numbered_rows([22] * 10 + [24] * 5)
    windows = draw_windows(rows, NumberTokenizer(), n=5, length=24, seed=0,
                           sampling="row_slice_inclusive")
    row_of = [{t // 1000 - 1 for t in w if t > 2} for w in windows.tolist()]
    assert all(len(r) == 1 for r in row_of)
    assert set().union(*row_of) == {10, 11, 12, 13, 14}
    for w in windows.tolist():  # a contiguous slice: consecutive tokens of the row
        body = [t for t in w if t != 1]
        assert body == list(range(body[0], body[0] + len(body)))
    with pytest.raises(PrunebenchError, match="only 5 of its 15 rows have at least 24 tokens"):
        draw_windows(rows, NumberTokenizer(), n=6, length=24, seed=0,
                     sampling="row_slice_inclusive")


@pytest.mark.parametrize("sampling", ["row_slice", "row_slice_inclusive", "row_chunks"])
def test_too_short_rows_name_the_prune_options_beside_the_config(sampling):
    # `prunebench prune --calibration file:...` reaches these errors too, where no config exists:
    # the fix names its options, not only the config's calibration settings.
    rows = numbered_rows([10] * 6)
    with pytest.raises(PrunebenchError) as err:
        draw_windows(rows, NumberTokenizer(), n=4, length=24, seed=0, sampling=sampling)
    message = str(err.value)
    assert "--sampling joined_stream" in message and "--length" in message, message
    assert "calibration settings in the config" in message, message


def test_gptq_row_slices_take_a_long_enough_row_again_when_they_must(caplog):
    rows = numbered_rows([22] * 10 + [24] * 2)  # two rows longer than 24 tokens with BOS
    windows = draw_windows(rows, NumberTokenizer(), n=5, length=24, seed=0, sampling="row_slice")
    assert {t // 1000 - 1 for w in windows.tolist() for t in w if t > 2} <= {10, 11}
    assert "drawn again" in caplog.text


def study_get_examples(rows, tokenizer, n, length, seed):
    """Shortened LLaMA's get_examples (src/dataset.py), as LLM-Pruner's get_bookcorpus: draw a
    row until one of at least `length` tokens (BOS included) not taken before, then a start
    from 0 to its last full window, both ends included, with Python's seeded generator."""
    rng, windows, taken = random.Random(seed), [], []
    for _ in range(n):
        while True:
            i = rng.randint(0, len(rows) - 1)
            ids = [tokenizer.bos_token_id] + tokenizer(rows[i])["input_ids"]
            if len(ids) >= length and i not in taken:
                taken.append(i)
                break
        start = rng.randint(0, len(ids) - length)
        windows.append(ids[start:start + length])
    return windows


def gptq_get_c4(rows, tokenizer, n, length, seed):
    """GPTQ's get_c4 (Wanda-sp's and FLAP's C4 loader): draw a row until one longer than
    `length`, then a start from 0 to one before its last full window."""
    rng, windows = random.Random(seed), []
    for _ in range(n):
        while True:
            i = rng.randint(0, len(rows) - 1)
            ids = [tokenizer.bos_token_id] + tokenizer(rows[i])["input_ids"]
            if len(ids) > length:
                break
        start = rng.randint(0, len(ids) - length - 1)
        windows.append(ids[start:start + length])
    return windows


def sleb_get_trainenc(rows, tokenizer, n, length, seed):
    """SLEB's get_wikitext2_trainenc (utils/data_utils.py) and get_loss's windows (sleb.py):
    the split shuffled by `datasets` with the seed, its first n rows joined with "\n\n" and
    tokenized once with BOS, cut in consecutive windows (numel // length of them)."""
    shuffled = datasets.Dataset.from_dict({"text": rows}).shuffle(seed=seed)
    ids = [tokenizer.bos_token_id] + tokenizer("\n\n".join(shuffled[:n]["text"]))["input_ids"]
    return [ids[i * length:(i + 1) * length] for i in range(len(ids) // length)]


@pytest.mark.parametrize("seed", [0, 42, 1234])
def test_joined_chunks_are_slebs_windows(seed):
    """Same seed, rows (empty ones among them, as in WikiText-2) and tokenizer: the windows
    SLEB's code cuts, one for one."""
    rows = [row if i % 4 else ""
            for i, row in enumerate(numbered_rows([5 + i % 7 for i in range(60)]))]
    ours = draw_windows(rows, NumberTokenizer(), n=12, length=16, seed=seed,
                        sampling="joined_chunks")
    theirs = sleb_get_trainenc(rows, NumberTokenizer(), 12, 16, seed)
    assert 1 < len(theirs) < 12 and ours.tolist() == theirs


# Rows of 20-27 tokens with BOS, around windows of 24: some exactly 24 long, which
# row_slice_inclusive takes and row_slice skips, and whose only window starts at 0.
EDGE_ROWS = numbered_rows([19 + (7 * i) % 9 for i in range(120)])


@pytest.mark.parametrize("seed", [0, 42, 1234])
@pytest.mark.parametrize("sampling, original", [("row_slice_inclusive", study_get_examples),
                                                ("row_slice", gptq_get_c4)])
def test_row_slices_are_the_originals_windows(sampling, original, seed):
    """Same seed, rows and tokenizer: the windows the original code draws, one for one."""
    ours = draw_windows(EDGE_ROWS, NumberTokenizer(), n=10, length=24, seed=seed, sampling=sampling)
    assert ours.tolist() == original(EDGE_ROWS, NumberTokenizer(), 10, 24, seed)


def test_the_study_takes_rows_of_exactly_the_window_length():
    rows = numbered_rows([23] * 6)  # 24 tokens with BOS: one window each, from the start
    windows = draw_windows(rows, NumberTokenizer(), n=6, length=24, seed=0,
                           sampling="row_slice_inclusive")
    assert sorted(w[1] // 1000 - 1 for w in windows.tolist()) == list(range(6))
    assert all(w[0] == 1 for w in windows.tolist())
    with pytest.raises(PrunebenchError, match="none of its 6 rows is longer than 24 tokens"):
        draw_windows(rows, NumberTokenizer(), n=1, length=24, seed=0, sampling="row_slice")


def test_row_chunks_are_consecutive_chunks_of_a_row():
    windows = draw_windows(["abcdefghij" * 5], CharTokenizer(), n=10, length=16, seed=0,
                           sampling="row_chunks")
    ids = encoded("abcdefghij" * 5)  # 51 tokens: three chunks, the remainder dropped
    assert windows.tolist() == [ids[0:16], ids[16:32], ids[32:48]]


@pytest.mark.parametrize("sampling, joiner", [("joined_stream", " "), ("joined_chunks", "\n\n")])
def test_joined_samplings_slice_one_stream_with_one_bos(sampling, joiner):
    windows = draw_windows(LONG_ROWS, CharTokenizer(), n=8, length=24, seed=0, sampling=sampling)
    for w in windows.tolist():
        assert w.count(1) <= 1 and (1 not in w or w[0] == 1)  # only the stream's first token
    if sampling == "joined_stream":  # every row, joined in order
        assert windows.shape == (8, 24)
        stream = encoded(joiner.join(LONG_ROWS))
        assert all(is_slice(w, stream) for w in windows.tolist())
    else:  # n rows in a seeded order, cut in consecutive chunks (so windows follow each other)
        flat = [t for w in windows.tolist() for t in w]
        assert flat[0] == 1 and 1 not in flat[1:]
        text = "".join(chr(t) for t in flat[1:])
        assert "".join(chr(t) for t in CharTokenizer()(joiner)["input_ids"]) in text


def test_joined_chunks_give_fewer_windows_for_short_rows():
    # 4 rows of about 40 characters joined: about 170 tokens, so 7 chunks of 24, not 100
    windows = draw_windows(LONG_ROWS[:4], CharTokenizer(), n=100, length=24, seed=0,
                           sampling="joined_chunks")
    stream = encoded("\n\n".join(LONG_ROWS[:4]))  # shuffled rows have the same total length
    assert windows.shape == (len(stream) // 24, 24)


@pytest.mark.parametrize("sampling", SAMPLED)
def test_too_little_text_names_source_n_length_and_the_fix(sampling):
    with pytest.raises(PrunebenchError, match=r"bookcorpus.*(n = 10|length|of 64).*") as err:
        draw_windows(["short row", "another short row"], CharTokenizer(), n=10, length=64,
                     seed=0, sampling=sampling, source="bookcorpus")
    message = str(err.value)
    assert "64" in message and "n = 10" in message and sampling in message
    assert "lower" in message or "raise" in message or "use a larger" in message


def test_study_row_slice_counts_the_long_enough_rows():
    rows = LONG_ROWS[:3] + ["tiny"] * 5
    with pytest.raises(PrunebenchError, match=r"only 3 of its 8 rows have at least 24 tokens"):
        draw_windows(rows, CharTokenizer(), n=4, length=24, seed=0,
                     sampling="row_slice_inclusive")


class CountingRandom(random.Random):
    """Python's generator, counting the row draws (randrange) made from it."""
    draws = 0

    def randrange(self, *args):
        self.draws += 1
        return super().randrange(*args)


def count_draws(monkeypatch, sampling, rows, n, length, seed=0):
    """draw_windows through a CountingRandom: (windows, draws made)."""
    made = []
    monkeypatch.setattr(data.random, "Random", lambda s: made.append(CountingRandom(s)) or made[-1])
    try:
        return draw_windows(rows, NumberTokenizer(), n=n, length=length, seed=seed,
                            sampling=sampling), made[0].draws
    except PrunebenchError as err:
        return err, made[0].draws


@pytest.mark.parametrize("sampling", ["row_slice", "row_slice_inclusive", "row_chunks"])
def test_too_little_text_in_many_rows_ends_after_one_pass(monkeypatch, sampling):
    """Rows that can never give the window: the error comes after about as many draws as rows
    (past the limit, the rest are read once each), not after a coupon collector's N ln N
    (~43,000 draws for 5,000 rows; for BookCorpus's 74 million, days and gigabytes)."""
    monkeypatch.setattr(data, "DRAWS_BEFORE_SCAN", 100)
    rows = numbered_rows([3] * 5000)
    err, draws = count_draws(monkeypatch, sampling, rows, n=2, length=24)
    assert isinstance(err, PrunebenchError) and "5000 rows" in str(err)
    assert draws <= len(rows)


@pytest.mark.parametrize("sampling", ["row_slice", "row_slice_inclusive"])
def test_rare_long_rows_are_found_by_the_pass_and_drawn_as_the_sampling_draws(monkeypatch,
                                                                                 sampling):
    monkeypatch.setattr(data, "DRAWS_BEFORE_SCAN", 100)
    lengths = [3] * 3000
    for i in (17, 1500, 2999):  # three rows long enough among 3,000
        lengths[i] = 40
    rows = numbered_rows(lengths)
    n = 3 if sampling == "row_slice_inclusive" else 7
    windows, draws = count_draws(monkeypatch, sampling, rows, n=n, length=24)
    again, _ = count_draws(monkeypatch, sampling, rows, n=n, length=24)
    row_of = [{t // 1000 - 1 for t in w if t > 2} for w in windows.tolist()]
    assert windows.shape == (n, 24) and torch.equal(windows, again)
    assert all(len(r) == 1 for r in row_of) and set().union(*row_of) <= {17, 1500, 2999}
    if sampling == "row_slice_inclusive":  # each from another row
        assert set().union(*row_of) == {17, 1500, 2999}
        assert draws <= len(rows) + n  # a start per window, a row draw each before the pass
    for w in windows.tolist():  # a contiguous slice of its row
        body = [t for t in w if t != 1]
        assert body == list(range(body[0], body[0] + len(body)))


def test_unknown_sampling_is_refused():
    with pytest.raises(PrunebenchError, match="unknown calibration sampling 'random'"):
        draw_windows(ROWS, CharTokenizer(), n=1, length=8, seed=0, sampling="random")


def test_saved_windows_record_their_sampling(tmp_path):
    windows = draw_windows(LONG_ROWS, CharTokenizer(), n=2, length=16, seed=0, sampling="row_slice")
    save_windows(windows, tmp_path / "w.safetensors", {"source": "c4", "sampling": "row_slice"})
    assert load_windows(tmp_path / "w.safetensors")[1]["sampling"] == "row_slice"


def test_saved_hub_windows_record_the_dataset_split_and_revision_they_came_from(tmp_path):
    windows = draw_windows(LONG_ROWS, CharTokenizer(), n=2, length=16, seed=0,
                           sampling="row_chunks")
    save_windows(windows, tmp_path / "w.safetensors",
                 {"source": "pg19", "split": "train", "sampling": "row_chunks"})
    meta = load_windows(tmp_path / "w.safetensors")[1]  # its checksum covers the record too
    assert meta["dataset"] == "emozilla/pg19 (validation) @ newest"
    save_windows(windows, tmp_path / "c4.safetensors", {"source": "c4", "split": "train"})
    assert load_windows(tmp_path / "c4.safetensors")[1]["dataset"] == \
        "allenai/c4 (train) @ 607bd4c8450a42878aa9ddc051a65a055450ef87"
    save_windows(windows, tmp_path / "e.safetensors", {"source": "embedded", "split": "train"})
    assert "dataset" not in load_windows(tmp_path / "e.safetensors")[1]


def test_pg19_calibration_reads_the_validation_books_as_shortgpt_does(monkeypatch):
    """ShortGPT's run_shortgpt.py: load_dataset("emozilla/pg19", split="validation"), the
    books' `text`. Calibration reads a source's "train", which for pg19 is that split (its own
    train split is 11 GB of books)."""
    import datasets

    hub = FakeHub()
    monkeypatch.setattr(datasets, "load_dataset", hub)
    assert load_rows("pg19", "train") == ["row a", "row b"]
    (path, name, kwargs), = hub.calls
    assert (path, name, kwargs["split"]) == ("emozilla/pg19", None, "validation")
    # the validation file alone: `datasets` downloads and prepares every split it is given
    assert kwargs["data_files"] == {"validation": "data/validation-*.parquet"}
    with pytest.raises(PrunebenchError, match="pg19 has splits \\['train'\\], not 'test'"):
        load_rows("pg19", "test")


def test_row_chunks_cut_every_row_when_n_is_above_them_all(caplog):
    rows = numbered_rows([40, 20, 55])  # 41, 21, 56 tokens with BOS: 2 + 1 + 3 chunks of 16
    with caplog.at_level("INFO", logger="prunebench.data"):
        windows = draw_windows(rows, NumberTokenizer(), n=1000, length=16, seed=0,
                               sampling="row_chunks")
        assert "cut every row: 6 windows" in caplog.text
        caplog.clear()
        assert len(draw_windows(rows, NumberTokenizer(), n=4, length=16, seed=0,
                                sampling="row_chunks")) == 4
        assert "took n = 4 windows of 16 tokens before every row was cut" in caplog.text
    assert len(windows) == 6
    assert sorted(t // 1000 - 1 for w in windows.tolist() for t in w[1:2] if t > 2) == \
        [0, 0, 1, 2, 2, 2]


def test_sampling_defaults_to_the_originals_except_for_embedded_text():
    assert resolve_calibration("flap")["sampling"] == "joined_stream"
    assert resolve_calibration("depth_ppl", {"source": "wikitext2"})["sampling"] == \
        "row_slice_inclusive"
    assert resolve_calibration("wanda_sp")["sampling"] == "row_slice"
    assert resolve_calibration("depth_ppl", {"source": "embedded"})["sampling"] == "wrapped"
    # an explicit sampling wins at any level, also for the embedded text
    assert resolve_calibration("sleb", {"sampling": "row_chunks"},
                               {"source": "embedded"})["sampling"] == "row_chunks"
    for name in METHODS:
        assert resolve_calibration(name)["sampling"] in SAMPLINGS


def test_variant_calibration_resolves_sampling_from_every_level():
    config = {"models": {"m": {"source": "tiny", "variants": [
        "flap-0.5", {"name": "depth_ppl-0.5", "calibration": {"source": "embedded"}}]}},
        "methods": {"flap": {"calibration": {"source": "embedded", "n": 4}}}}
    assert prune_settings(config, "m", "flap-0.5")["calibration"] == {
        "source": "embedded", "n": 4, "length": 128, "seed": 1234, "sampling": "wrapped"}
    assert prune_settings(config, "m", "depth_ppl-0.5")["calibration"]["sampling"] == "wrapped"


def blockpruner_calibration(rows, tokenizer, n, length, seed):
    """BlockPruner's calibration (block_search.py: set_seed, random.sample, Dataset.select;
    utils.prepare_test_dataloader): n rows picked by the seeded global generator, in the order
    picked, joined with "\n\n" and tokenized once with BOS, every full consecutive window."""
    state = random.getstate()
    try:
        random.seed(seed)
        picked = datasets.Dataset.from_dict({"text": rows}).select(
            random.sample(range(len(rows)), n))
    finally:
        random.setstate(state)
    ids = [tokenizer.bos_token_id] + tokenizer("\n\n".join(picked["text"]))["input_ids"]
    return [ids[i * length:(i + 1) * length] for i in range(len(ids) // length)]


@pytest.mark.parametrize("seed", [0, 42, 1234])
def test_sampled_chunks_are_blockpruners_windows(seed):
    """Same seed, rows and tokenizer: the windows BlockPruner's code cuts, one for one (every
    full window of the rows picked, so more or fewer than n)."""
    rows = numbered_rows([5 + (3 * i) % 11 for i in range(80)])
    for n, length in ((12, 16), (30, 8)):
        ours = draw_windows(rows, NumberTokenizer(), n=n, length=length, seed=seed,
                            sampling="sampled_chunks")
        assert ours.tolist() == blockpruner_calibration(rows, NumberTokenizer(), n, length, seed)
    with pytest.raises(PrunebenchError, match="n = 81 rows to sample .* it has 80: lower n"):
        draw_windows(rows, NumberTokenizer(), n=81, length=8, seed=seed,
                     sampling="sampled_chunks")


def test_tatsu_alpaca_is_the_part_of_alpaca_blockpruner_holds_out(monkeypatch):
    """BlockPruner's utils.get_dataset("alpaca"): the train split split 80/20 with seed 42 by
    `datasets`, the 20% split in halves with seed 42, the first half; here by `datasets`
    itself, beside prunebench's draw, on a row count whose fractions round up."""
    rows = [f"record {i}" for i in range(1003)]
    split = datasets.Dataset.from_dict({"text": rows}).train_test_split(test_size=0.2, seed=42)
    held_out = split.pop("test").train_test_split(test_size=0.5, seed=42)
    assert data.blockpruner_test(rows) == held_out["train"]["text"]
    monkeypatch.setattr(data, "_load_hub_rows", lambda source, spec, split: rows)
    assert load_rows("tatsu_alpaca", "train") == held_out["train"]["text"]
