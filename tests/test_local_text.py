"""Texts of your own (the config's `texts`, `file:<path>` in the commands): read, copied into
the run, drawn from and scored as hub texts are (prunebench.local_text, the `local_text` rule)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from prunebench import PrunebenchError, local_text
from prunebench.checkpoint.integrity import sha256_file
from prunebench.cli import main
from prunebench.data import draw_windows, load_rows, save_windows
from prunebench.plan.checks import text_problems
from prunebench.plan.config_files import load_config_files
from prunebench.plan.schema_errors import schema_problems
from prunebench.plan.layout import HUB_TEXT, LOCAL_TEXT_ORIGIN, LOCAL_TEXT_ROWS
from workflow_helpers import REPO, make_workdir, snakemake

DOCUMENTS = ["First document.\nIt spans two lines.", "", "Second document, café included."]


def jsonl(path: Path, records: list, field: str = "text") -> Path:
    path.write_text("".join(json.dumps({field: r} if isinstance(r, str) else r) + "\n"
                            for r in records), encoding="utf-8")
    return path


def prepared(root: Path, name: str, split: str, source: Path, field: str = "text") -> dict:
    files = {kind: root / pattern.format(dataset=name, split=split) for kind, pattern in
             (("rows", LOCAL_TEXT_ROWS), ("text", HUB_TEXT), ("origin", LOCAL_TEXT_ORIGIN))}
    local_text.prepare(source, field, files["rows"], files["text"], files["origin"])
    return files


# --------------------------------------------------------------------------- reading a file


def test_a_jsonl_file_gives_one_row_per_object_with_its_lines_kept(tmp_path):
    source = jsonl(tmp_path / "docs.jsonl", DOCUMENTS, field="body")
    assert local_text.read_source_rows(source, "body") == DOCUMENTS


def test_a_plain_text_file_gives_one_row_per_line_its_empty_lines_kept(tmp_path):
    source = tmp_path / "notes.txt"
    source.write_text("one\n\ntwo\nthree\n", encoding="utf-8")
    # (the joined samplings join empty rows as the originals join WikiText's)
    assert local_text.read_source_rows(source) == ["one", "", "two", "three"]


def test_rows_are_split_at_newlines_alone_as_the_hub_texts_are(tmp_path):
    # str.splitlines would also split at U+2028 and U+0085, which JSON keeps unescaped inside a
    # string (json.dumps(..., ensure_ascii=False), the run's own copy), and at a form feed.
    inside = "Clause 1.\u2028Clause 2.\x85Page one\x0cpage two."
    written = tmp_path / "docs.jsonl"
    written.write_text(json.dumps({"text": inside}, ensure_ascii=False) + "\n", encoding="utf-8")
    assert local_text.read_source_rows(written) == [inside]
    plain = tmp_path / "book.txt"
    plain.write_text(f"{inside}\nsecond row\n", encoding="utf-8")
    assert local_text.read_source_rows(plain) == [inside, "second row"]
    # and the run's copy reads back as it was written
    escaped = jsonl(tmp_path / "escaped.jsonl", [inside, "x"])
    prepared(tmp_path / "run", "mine", "train", escaped)
    assert local_text.read_rows("mine", "train", tmp_path / "run")[0] == [inside, "x"]


def test_a_windows_file_gives_the_rows_and_text_a_linux_one_does(tmp_path):
    """A byte order mark and CRLF line ends (a Windows editor's UTF-8) change nothing read."""
    windows = tmp_path / "windows.jsonl"
    windows.write_bytes(b'\xef\xbb\xbf{"text": "one"}\r\n{"text": "two"}\r\n')
    assert local_text.read_source_rows(windows) == ["one", "two"]
    plain = tmp_path / "windows.txt"
    plain.write_bytes(b"\xef\xbb\xbfone\r\n\r\ntwo\r\n")
    rows, text, sha256 = local_text.read_source(plain)
    assert rows == ["one", "", "two"] and text == "one\n\ntwo\n"
    assert sha256 == sha256_file(plain)  # the file's bytes, as read


@pytest.mark.parametrize("content, expected", [
    ('{"text": "fine"}\n{"text": broken}\n', "line 2 is not JSON"),
    ('["a list"]\n', "line 1 is a JSON list, not an object with a 'text' field"),
    ('{"body": "x", "id": 1}\n', "line 1 has no field 'text' (its fields: ['body', 'id'])"),
    ('{"text": 3}\n', "line 1: field 'text' is a JSON int, not a string"),
    ('{"text": "  "}\n\n', "holds no text"),
])
def test_a_bad_jsonl_file_is_refused_naming_the_line_and_the_fix(tmp_path, content, expected):
    source = tmp_path / "bad.jsonl"
    source.write_text(content, encoding="utf-8")
    with pytest.raises(PrunebenchError) as err:
        local_text.read_source_rows(source)
    assert expected in str(err.value) and str(source) in str(err.value)


def test_a_file_that_is_not_utf8_or_not_there_is_refused(tmp_path):
    latin = tmp_path / "latin.txt"
    latin.write_bytes("café".encode("latin-1"))
    with pytest.raises(PrunebenchError, match="is not UTF-8 text .* save it as UTF-8"):
        local_text.read_source_rows(latin)
    with pytest.raises(PrunebenchError, match="does not exist: fix the path"):
        local_text.read_source_rows(tmp_path / "missing.txt")
    with pytest.raises(PrunebenchError, match="is not a file"):
        local_text.read_source_rows(tmp_path)


# --------------------------------------------------------------------------- the run's copy


def test_the_copy_holds_the_rows_the_scored_text_and_where_they_came_from(tmp_path):
    source = jsonl(tmp_path / "docs.jsonl", DOCUMENTS)
    files = prepared(tmp_path / "run", "mine", "train", source)
    origin = json.loads(files["origin"].read_text())
    assert origin["file"] == str(source) and origin["sha256"] == sha256_file(source)
    assert origin["state"] == [source.stat().st_size, source.stat().st_mtime_ns]
    assert origin["rows"] == 2 and origin["format"] == "jsonl"
    # A JSON-lines file is scored as its rows joined by a blank line, as WikiText's test split
    # is; a plain text file as it is.
    assert files["text"].read_text(encoding="utf-8") == "\n\n".join(DOCUMENTS)
    plain = tmp_path / "plain.txt"
    plain.write_text("a\n\nb  c\n", encoding="utf-8")
    assert prepared(tmp_path / "run", "mine", "test", plain)["text"].read_text() == "a\n\nb  c\n"
    rows, where = local_text.read_rows("mine", "train", tmp_path / "run")
    assert rows == DOCUMENTS and where == f"{source} (sha256 {origin['sha256']})"
    assert local_text.read_rows("other", "train", tmp_path / "run") is None


def test_a_damaged_copy_is_refused_with_how_to_make_it_again(tmp_path):
    files = prepared(tmp_path, "mine", "train", jsonl(tmp_path / "docs.jsonl", DOCUMENTS))
    files["rows"].write_text('{"text": "cut sh', encoding="utf-8")
    with pytest.raises(PrunebenchError, match="is damaged .* delete .* and rerun snakemake"):
        local_text.read_rows("mine", "train", tmp_path)


def test_only_a_change_of_content_counts_as_a_changed_file(tmp_path):
    source = jsonl(tmp_path / "docs.jsonl", DOCUMENTS)
    files = prepared(tmp_path / "run", "mine", "train", source)
    recorded = json.loads(files["origin"].read_text())["state"]
    assert local_text.workflow_state(source, files["origin"]) == recorded
    # touched, or copied without its times: the same bytes, the recorded state
    later = recorded[1] + 5_000_000_000
    os.utime(source, ns=(later, later))
    assert local_text.workflow_state(source, files["origin"]) == recorded
    # gone after the copy (a purged scratch space): the copy stands
    source.rename(tmp_path / "elsewhere.jsonl")
    assert local_text.workflow_state(source, files["origin"]) == recorded
    # other bytes of the same size, written as a file is written (a new modification time):
    # changed
    (tmp_path / "elsewhere.jsonl").rename(source)
    source.write_text(source.read_text().replace("First", "Frist"), encoding="utf-8")
    # (two seconds later: file systems that keep times to the second or two see it too)
    rewritten = later + 2_000_000_000
    os.utime(source, ns=(rewritten, rewritten))
    assert local_text.workflow_state(source, files["origin"]) == [recorded[0], rewritten]
    # nothing copied yet and no file: nothing to compare (the config check names the file)
    assert local_text.workflow_state(tmp_path / "none.txt", tmp_path / "none.json") is None


def test_calibration_draws_from_the_copy_and_its_file_records_the_text(tmp_path, monkeypatch,
                                                                        small_tokenizer):
    from safetensors import safe_open

    source = tmp_path / "mine.txt"
    source.write_text("\n".join(f"row {i} " + "word " * 40 for i in range(30)), encoding="utf-8")
    prepared(tmp_path, "mine", "train", source)
    monkeypatch.chdir(tmp_path)  # the run's directory, as a Snakemake job's
    rows = load_rows("mine", "train")
    assert rows == local_text.read_source_rows(source)
    windows = draw_windows(rows, small_tokenizer, 3, 16, 0, "row_slice", source="mine")
    save_windows(windows, tmp_path / "w.safetensors",
                 {"source": "mine", "split": "train", "n": 3, "length": 16, "seed": 0})
    with safe_open(str(tmp_path / "w.safetensors"), "pt") as f:
        assert f.metadata()["dataset"] == f"{source} (sha256 {sha256_file(source)})"
    with pytest.raises(PrunebenchError, match="unknown text source 'other'.*`texts`"):
        load_rows("other", "train")


def test_a_field_set_for_a_jsonl_file_is_no_param_of_the_plain_files_copy():
    """A plain text file's copy keeps its param when `field` is set for the other split's
    .jsonl file: a changed param would copy it again and remake all that was made from it."""
    before = {"train": "train.txt"}
    after = {"train": "train.txt", "test": "test.jsonl", "field": "body"}
    assert local_text.split_field(after, "train") == local_text.split_field(before, "train")
    assert local_text.split_field(after, "test") == "body"
    assert local_text.split_field({"test": "t.JSONL"}, "test") == "text"


def test_the_perplexity_splits_name_only_the_texts_perplexity_scores():
    """The perplexity rule's `splits` param is a rerun trigger of every perplexity job: a text
    calibration alone uses leaves it as a config without `texts` has it."""
    from prunebench.data import EVAL_SPLITS

    texts = {"mine": {"train": "a.txt", "test": "b.txt"}, "other": {"train": "c.txt"}}
    scoring = {"texts": texts, "evaluation": {"perplexity": {"datasets": ["embedded", "mine"]}}}
    assert local_text.perplexity_splits(scoring) == {**EVAL_SPLITS, "mine": "test"}
    calibrating = {"texts": texts, "evaluation": {"perplexity": {"datasets": ["embedded"]}}}
    assert local_text.perplexity_splits(calibrating) == EVAL_SPLITS
    assert local_text.perplexity_splits({}) == EVAL_SPLITS


# --------------------------------------------------------------------------- config checks


def config_with(tmp_path, texts, calibration_source="mine", datasets=("embedded", "mine")):
    config = load_config_files([REPO / "config" / "config.yaml"])
    config["texts"] = texts
    config["methods"]["depth_ppl"]["calibration"]["source"] = calibration_source
    config["evaluation"]["perplexity"]["datasets"] = list(datasets)
    return config


def test_a_config_naming_its_own_texts_passes(tmp_path):
    train = jsonl(tmp_path / "train.jsonl", DOCUMENTS)
    config = config_with(tmp_path, {"mine": {"train": str(train), "test": str(train)}})
    assert schema_problems(config, REPO / "workflow" / "schemas" / "config.schema.yaml") == []
    assert text_problems(config, tmp_path / "resources") == []


def test_texts_and_the_sources_naming_them_are_checked_before_any_job(tmp_path):
    train = jsonl(tmp_path / "train.jsonl", DOCUMENTS)
    config = config_with(tmp_path, {"mine": {"train": str(train)},
                                    "ptb": {"test": str(tmp_path / "gone.txt")}},
                         datasets=("embedded", "mine", "nosuch"))
    config["models"]["tiny"]["variants"].append(
        {"name": "flap-0.7", "calibration": {"source": "bookcorpu"}})
    problems = text_problems(config, tmp_path / "resources")
    assert problems == [
        "texts.ptb: 'ptb' is a built-in text source: give your text another name",
        f"texts.ptb.test: {tmp_path / 'gone.txt'} does not exist: fix the path (a relative one "
        "is taken from the directory the run works in)",
        "models.tiny.variants flap-0.7: calibration.source: 'bookcorpu' is no built-in text "
        "(embedded, wikitext2, ptb, bookcorpus, c4, pg19, tatsu_alpaca) and no text of `texts`: "
        "fix the name, or add your text under `texts` with a train file (which calibration draws "
        "from)",
        "evaluation.perplexity.datasets: 'mine' is a text of `texts` without a test file, which "
        "perplexity scores: add texts.mine.test",
        "evaluation.perplexity.datasets: 'nosuch' is no built-in text (embedded, wikitext2, ptb) "
        "and no text of `texts`: fix the name, or add your text under `texts` with a test file "
        "(which perplexity scores)",
    ]
    # A file gone after the run copied it is no problem: the copy is what the run reads.
    (tmp_path / "resources" / "data" / "text" / "ptb").mkdir(parents=True)
    (tmp_path / "resources" / "data" / "text" / "ptb" / "test.origin.json").write_text("{}")
    assert not [p for p in text_problems(config, tmp_path / "resources") if "gone.txt" in p]


def test_the_schema_refuses_a_text_name_that_cannot_name_files(tmp_path):
    config = config_with(tmp_path, {"My-Text": {"train": "x.jsonl"}, "empty": {"field": "t"}},
                         calibration_source="embedded", datasets=("embedded",))
    problems = schema_problems(config, REPO / "workflow" / "schemas" / "config.schema.yaml")
    assert any("My-Text" in p for p in problems), problems
    assert any("texts.empty" in p for p in problems), problems  # neither train nor test


# --------------------------------------------------------------------------- commands


def test_prune_and_eval_take_a_file_of_your_own(tiny_model_dir, embedded_corpus, tmp_path,
                                                 capsys, monkeypatch):
    from prunebench import modeling
    from prunebench.atomic import read_json
    from prunebench.commands.prune import draw_calibration

    source = jsonl(tmp_path / "docs.jsonl", [" ".join(rows) for rows in zip(
        *[iter((embedded_corpus / "train.txt").read_text().splitlines()[:60])] * 3)],
        field="body")
    out = tmp_path / "pruned"
    assert main(["prune", str(tiny_model_dir), "--method", "depth_ppl", "--size", "0.8",
                 "--out", str(out), "--calibration", f"file:{source}", "--text-field", "body",
                 "--n", "3", "--length", "32", "--device", "cpu", "-q"]) == 0
    calibration = read_json(out / "prune_report.json")["calibration"]
    assert calibration == {"source": f"file:{source}", "field": "body", "n": 3, "length": 32,
                           "seed": 1234, "sampling": "row_slice_inclusive",
                           "sha256": sha256_file(source)}
    tokenizer = modeling.load_tokenizer(tiny_model_dir)
    expected = draw_windows(local_text.read_source_rows(source, "body"), tokenizer, 3, 32,
                            1234, "row_slice_inclusive")
    assert draw_calibration(tokenizer, calibration).equal(expected)
    # the windows come from the bytes the report's sha256 was taken of, or from none
    with pytest.raises(PrunebenchError, match="changed since this command hashed it"):
        draw_calibration(tokenizer, {**calibration, "sha256": "0" * 64})

    held_out = tmp_path / "held-out.txt"
    held_out.write_text((embedded_corpus / "test.txt").read_text()[:4000], encoding="utf-8")
    assert main(["eval", str(out / "checkpoint"), "--ppl", f"file:{held_out}",
                 "--out", str(tmp_path / "eval"), "--device", "cpu", "-q"]) == 0
    ppl = read_json(tmp_path / "eval" / "ppl.json")
    assert ppl["splits"] == {f"file:{held_out}": "file"}
    assert ppl["details"][f"file:{held_out}"]["text_sha256"] == sha256_file(held_out)
    assert ppl["details"][f"file:{held_out}"]["file_sha256"] == sha256_file(held_out)
    assert "text_field" not in ppl["provenance"]["cell"]  # a plain text file has none

    # A relative path is recorded as the file's absolute one, as prune records it; a .jsonl
    # file's field with it, and its own sha256 beside that of the rows joined that were scored.
    monkeypatch.chdir(tmp_path)
    assert main(["eval", str(out / "checkpoint"), "--ppl", "file:docs.jsonl", "--text-field",
                 "body", "--out", str(tmp_path / "eval-jsonl"), "--device", "cpu", "-q"]) == 0
    ppl = read_json(tmp_path / "eval-jsonl" / "ppl.json")
    scored = f"file:{source}"
    assert ppl["splits"] == {scored: "file"} and ppl["provenance"]["cell"]["text_field"] == "body"
    assert ppl["details"][scored]["file_sha256"] == sha256_file(source)
    assert ppl["details"][scored]["text_sha256"] != sha256_file(source)
    capsys.readouterr()


def test_a_ppl_file_whose_name_holds_commas_is_one_entry(tmp_path, monkeypatch):
    """--ppl is split at commas, but a file:<path> keeps the commas of an existing file's name
    (the longest path that names one): a path with a comma could not be scored before."""
    odd = tmp_path / "a,b.txt"
    odd.write_text("x\n", encoding="utf-8")
    (tmp_path / "a").write_text("y\n", encoding="utf-8")
    split = local_text.split_sources
    assert split(f"embedded,file:{odd},wikitext2") == ["embedded", f"file:{odd}", "wikitext2"]
    assert split(f"file:{tmp_path}/a,b.txt") == [f"file:{odd}"]  # the longest path wins
    assert split(f"file:{tmp_path}/a,embedded") == [f"file:{tmp_path}/a", "embedded"]
    assert split("file:none,ptb") == ["file:none", "ptb"]  # no such file: refused later, alone
    monkeypatch.chdir(tmp_path)
    assert split("file:a,b.txt , ptb") == ["file:a,b.txt", "ptb"]


@pytest.mark.parametrize("argv, expected", [
    (["eval", "{model}", "--ppl", "file:{tmp}/none.txt"],
     "--ppl file:{tmp}/none.txt: {tmp}/none.txt does not exist"),
    (["eval", "{model}", "--ppl", "embedded", "--text-field", "body"],
     "--text-field names the field of a --ppl file:<path>"),
    (["prune", "{model}", "--method", "flap", "--size", "0.8", "--out", "{tmp}/o",
      "--calibration", "file:{tmp}"], "{tmp} is not a file"),
    (["prune", "{model}", "--method", "flap", "--size", "0.8", "--out", "{tmp}/o",
      "--text-field", "body"], "--text-field names the field of a --calibration file:<path>"),
    # a field for a plain text file would be ignored without a word
    (["prune", "{model}", "--method", "flap", "--size", "0.8", "--out", "{tmp}/o",
      "--calibration", "file:{tmp}/rows.txt", "--text-field", "body"],
     "--text-field names the field of a --calibration file:<path> ending in .jsonl"),
    (["eval", "{model}", "--ppl", "file:{tmp}/rows.txt", "--text-field", "body"],
     "--text-field names the field of a --ppl file:<path> ending in .jsonl"),
    # one file under two names
    (["eval", "{model}", "--ppl", "file:{tmp}/rows.txt,file:{tmp}/./rows.txt"],
     "--ppl lists a name twice"),
])
def test_a_file_option_that_cannot_work_is_refused_at_once(tiny_model_dir, tmp_path, capsys,
                                                           argv, expected):
    (tmp_path / "rows.txt").write_text("a row\n", encoding="utf-8")
    code = main([a.format(model=tiny_model_dir, tmp=tmp_path) for a in argv])
    err = capsys.readouterr().err
    assert code == 2 and expected.format(tmp=tmp_path) in err, err


# --------------------------------------------------------------------------- the workflow


@pytest.mark.slow  # runs the workflow's jobs
def test_the_workflow_calibrates_and_scores_on_a_text_of_your_own(tmp_path, embedded_corpus):
    workdir = make_workdir(tmp_path / "wf")
    lines = (embedded_corpus / "train.txt").read_text().splitlines()[:100]
    mine = workdir / "mine"
    mine.mkdir()
    # documents of five paragraphs, in the field a user's data keeps them in
    jsonl(mine / "train.jsonl", [{"body": " ".join(lines[i:i + 5]), "id": i}
                                 for i in range(0, 100, 5)])
    (mine / "test.txt").write_text((embedded_corpus / "test.txt").read_text()[:6000])
    config = yaml.safe_load((workdir / "test.yaml").read_text())
    config["texts"] = {"mine": {"train": "mine/train.jsonl", "test": "mine/test.txt",
                                "field": "body"}}
    config["models"]["tiny"]["variants"] = ["dense", "depth_ppl-0.8"]
    config["methods"]["depth_ppl"]["calibration"] = {"source": "mine", "n": 4, "length": 32}
    config["evaluation"]["perplexity"]["datasets"] = ["embedded", "mine"]
    (workdir / "test.yaml").write_text(yaml.safe_dump(config))
    target = "results/eval/tiny/depth_ppl-0.8/ppl.json"
    snakemake(workdir, target)

    from safetensors import safe_open

    windows = workdir / "resources/data/calibration/tiny/mine-4x32-seed1234-row_slice_inclusive.safetensors"
    with safe_open(str(windows), "pt") as f:
        assert f.metadata()["dataset"] == (f"{mine / 'train.jsonl'} "
                                           f"(sha256 {sha256_file(mine / 'train.jsonl')})")
    ppl = json.loads((workdir / target).read_text())
    assert ppl["splits"] == {"embedded": "test", "mine": "test"}
    assert ppl["details"]["mine"]["text_sha256"] == sha256_file(mine / "test.txt")

    def dry(configfile="test.yaml") -> str:
        proc = snakemake(workdir, "-n", target, configfile=configfile)
        return proc.stdout + proc.stderr

    # A text that no perplexity dataset names changes no perplexity job's params: adding one
    # to `texts` (here unused; it could be another prune's calibration) reruns nothing.
    (workdir / "other.txt").write_text("other text\n")
    with_other = {**config, "texts": {**config["texts"], "other": {"train": "other.txt"}}}
    (workdir / "other.yaml").write_text(yaml.safe_dump(with_other))
    assert "Nothing to be done" in dry("other.yaml")
    # Touched, moved (the config pointed there) or gone: nothing reruns.
    os.utime(mine / "train.jsonl")
    assert "Nothing to be done" in dry()
    (workdir / "moved").mkdir()
    (workdir / "moved" / "t.jsonl").write_bytes((mine / "train.jsonl").read_bytes())
    config["texts"]["mine"]["train"] = "moved/t.jsonl"
    (workdir / "moved.yaml").write_text(yaml.safe_dump(config))
    assert "Nothing to be done" in dry("moved.yaml")
    (mine / "train.jsonl").rename(mine / "away.jsonl")
    assert "Nothing to be done" in dry()
    (mine / "away.jsonl").rename(mine / "train.jsonl")
    # Another text: copied again, and the windows, the prune and its perplexity remade.
    jsonl(mine / "train.jsonl", [{"body": " ".join(lines[i:i + 4])} for i in range(0, 100, 4)])
    plan = dry()
    for rule in ("local_text", "calibration", "prune", "perplexity"):
        assert f"rule {rule}:" in plan, plan


def test_check_config_reads_relative_text_paths_in_the_runs_directory(tmp_path, capsys,
                                                                      monkeypatch):
    run = tmp_path / "runs" / "mine"
    (run / "data").mkdir(parents=True)
    jsonl(run / "data" / "train.jsonl", DOCUMENTS)
    config = tmp_path / "my.yaml"
    config.write_text("texts:\n  mine: {train: data/train.jsonl}\n"
                      "methods:\n  depth_ppl:\n    calibration: {source: mine}\n")
    default = str(REPO / "config" / "config.yaml")
    assert main(["check-config", "--directory", str(run), default, str(config)]) == 0
    # without the run's directory, the path is read where the command runs: not there
    monkeypatch.chdir(tmp_path)
    assert main(["check-config", default, str(config)]) == 2
    assert f"texts.mine.train: {tmp_path / 'data' / 'train.jsonl'} does not exist" in \
        capsys.readouterr().err


def test_calibration_on_a_large_text_of_your_own_asks_for_memory_to_match():
    """Its rows are held in memory as BookCorpus's are: a cluster job sized for a small text is
    killed for memory on a large one."""
    from prunebench.plan import jobsize

    small = jobsize.calibration_mem_mb("mine", text_bytes=10_000_000)
    assert small == jobsize.calibration_mem_mb("mine") == 8 * 1024
    assert jobsize.calibration_mem_mb("mine", text_bytes=3 * 2**30) == (4 + 4 * 3) * 1024
    assert jobsize.calibration_mem_mb("mine", attempt=2, text_bytes=3 * 2**30) == 24 * 1024
