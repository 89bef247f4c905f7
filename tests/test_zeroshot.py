"""Zero-shot accuracy through lm-eval: the offline suite, dense vs random vs width-pruned, the
paper's metric choice, and the offline error for hub tasks (with a fake hub)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from prunebench import PrunebenchError, data, mc_suite, modeling, tiny, zeroshot
from prunebench.pruning import prune_checkpoint

# Enough items that a model at chance stays well below the bar (std of a 2-choice task's
# accuracy over 60 items: 0.065; of the 4-task average: about 0.03), small enough for seconds.
ITEMS = 60
CHANCE = sum(mc_suite.CHANCE.values()) / len(mc_suite.TASKS)


@pytest.fixture(scope="module")
def suite(embedded_corpus, tmp_path_factory):
    return mc_suite.write_suite(embedded_corpus / "test.txt",
                                tmp_path_factory.mktemp("zs") / "mc_suite", n=ITEMS)


def run(model, tokenizer, suite, tasks=mc_suite.TASKS, batch_size=32, **kwargs):
    return zeroshot.evaluate(model, tokenizer, list(tasks), include_path=suite,
                             batch_size=batch_size, **kwargs)


@pytest.fixture(scope="module")
def dense_result(tiny_model_dir, suite):
    model = modeling.load_model(tiny_model_dir)
    return run(model, modeling.load_tokenizer(tiny_model_dir), suite)


@pytest.fixture(scope="module")
def one_request_at_a_time(tiny_model_dir, suite):
    """The tiny model's answers to the whole suite, one request per forward pass (no padding)
    on one thread: each request is then one forward of its own tokens, so a test that scores
    the same requests so (on one thread, in this process) gets them bit for bit. Two tests
    compare against it; scoring it once saves one of the module's longest runs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return run(modeling.load_model(tiny_model_dir), modeling.load_tokenizer(tiny_model_dir),
                   suite, batch_size=1)
    finally:
        torch.set_num_threads(threads)


# --------------------------------------------------------------------------- the suite files

def test_suite_is_lm_eval_yaml_over_balanced_jsonl(suite, embedded_corpus, tmp_path):
    for task in mc_suite.TASKS:
        config = yaml.safe_load((suite / f"{task}.yaml").read_text())
        assert config["task"] == task and config["output_type"] == "multiple_choice"
        assert config["dataset_path"] == "json"
        # named relative to the suite folder, so the folder can be copied or moved
        assert config["dataset_kwargs"]["data_files"]["test"] == f"{task}.jsonl"
        rows = [json.loads(line) for line in open(suite / f"{task}.jsonl")]
        assert len(rows) == ITEMS
        n = mc_suite.N_CHOICES[task]
        assert all(len(r["choices"]) == n and len(set(r["choices"])) == n for r in rows)
        # the answer is spread over the positions, so "always the first" is chance
        counts = [sum(r["label"] == i for r in rows) for i in range(n)]
        assert max(counts) <= 2 * ITEMS / n, (task, counts)
    # two-choice tasks: as many singular answers as plural ones
    agreement = [json.loads(line) for line in open(suite / "pb_agreement.jsonl")]
    singular = sum(r["choices"][r["label"]].split()[0].endswith("s") for r in agreement)
    assert singular == ITEMS // 2
    # same text and seed, same bytes
    again = mc_suite.write_suite(embedded_corpus / "test.txt", tmp_path / "again", n=ITEMS)
    for task in mc_suite.TASKS:
        assert (again / f"{task}.jsonl").read_bytes() == (suite / f"{task}.jsonl").read_bytes()


def test_suite_refuses_more_items_than_the_text_holds(embedded_corpus, tmp_path):
    with pytest.raises(PrunebenchError, match="too few .* items"):
        mc_suite.write_suite(embedded_corpus / "test.txt", tmp_path / "s", n=10**6)
    assert not (tmp_path / "s").exists()


def test_balancing_refuses_too_few_items_even_when_each_class_has_its_share():
    """Two classes of one item each hold their share of 3 (one each), not the third item."""
    import random

    one = {"context": "c", "choices": [" a", " b"], "label": 0}
    with pytest.raises(PrunebenchError, match=r"too few pb_number items \(2 for 3 wanted\)"):
        mc_suite._balanced([("a", one), ("b", dict(one))], 3, random.Random(0), "pb_number")


def test_missing_suite_data_is_named(suite, tmp_path, monkeypatch):
    from prunebench.plan import layout

    broken = tmp_path / "broken"
    shutil.copytree(suite, broken)
    (broken / "pb_counting.jsonl").unlink()
    with pytest.raises(PrunebenchError, match="pb_counting.jsonl is missing.*regenerate"):
        mc_suite.check_suite(broken, list(mc_suite.TASKS))
    # in a job of a run with its own --directory and config, the command repeats them: typed in
    # the checkout, Snakemake would read the suite's path there under the default config
    run = "--directory /data/runs/paper --configfile /checkout/config/paper.yaml"
    monkeypatch.setenv(layout.RERUN_CONFIG_VARIABLE, run)
    monkeypatch.delenv(layout.RERUN_PROGRAM_VARIABLE, raising=False)
    with pytest.raises(PrunebenchError) as err:
        mc_suite.check_suite(broken, list(mc_suite.TASKS))
    assert f"(`snakemake --cores all -f {broken / 'suite.json'} {run}`)" in str(err.value)


def test_the_suites_remake_commands_repeat_the_runs_arguments(tmp_path, monkeypatch):
    """The suite's unreadable data and its missing text said `snakemake -f <file>` and
    `snakemake <file>` alone (no --cores, nor the run's --directory and config files), where
    check_suite, for the same suite, gave layout.remake_command's."""
    from prunebench.plan import layout

    run = "--directory 'runs/my run' --configfile my.yaml"
    monkeypatch.setenv(layout.RERUN_CONFIG_VARIABLE, run)
    monkeypatch.delenv(layout.RERUN_PROGRAM_VARIABLE, raising=False)
    failed = [{"ok": False, "path": "json", "name": None}]
    err = zeroshot._dataset_error(failed, ValueError("bad row"), ["pb_counting"])
    assert str(err).endswith(
        f"(`snakemake --cores all -f resources/data/mc_suite/suite.json {run}`)")
    with pytest.raises(PrunebenchError) as missing:
        mc_suite.write_suite(tmp_path / "test.txt", tmp_path / "suite")
    assert str(missing.value).endswith(
        f"(`snakemake --cores all resources/data/embedded/test.txt {run}`)")


@pytest.mark.usefixtures("unreadable_offline_suite")
def test_an_unreadable_suite_names_the_workflows_command_for_its_own_folder(
        tiny_model_dir, suite, tmp_path, monkeypatch):
    """The zeroshot job's suite that lm-eval's datasets cannot read is named with the command
    that remakes that folder's suite.json (as check_suite names a missing file: it named
    resources/data/mc_suite whatever folder was read); a caller whose suite the workflow does
    not make gives its own fix (suite_fix: prunebench eval's), for a missing file too."""
    import shlex

    from prunebench.plan import layout

    arguments = "--directory /data/runs/paper --configfile /checkout/config/paper.yaml"
    monkeypatch.setenv(layout.RERUN_CONFIG_VARIABLE, arguments)
    monkeypatch.delenv(layout.RERUN_PROGRAM_VARIABLE, raising=False)
    model, tokenizer = modeling.load_model(tiny_model_dir), modeling.load_tokenizer(tiny_model_dir)
    with pytest.raises(PrunebenchError) as err:
        run(model, tokenizer, suite, tasks=["pb_number"], limit=2)
    assert str(err.value) == (
        f"cannot read the offline suite's data in {suite} (ValueError: bad row): regenerate the "
        f"suite (`snakemake --cores all -f {shlex.quote(str(suite / 'suite.json'))} "
        f"{arguments}`)")
    with pytest.raises(PrunebenchError) as err:
        run(model, tokenizer, suite, tasks=["pb_number"], limit=2, suite_fix="write it again")
    assert str(err.value) == (f"cannot read the offline suite's data in {suite} (ValueError: "
                              "bad row): write it again")
    broken = tmp_path / "broken"
    shutil.copytree(suite, broken)
    (broken / "pb_number.jsonl").unlink()
    with pytest.raises(PrunebenchError) as err:
        run(model, tokenizer, broken, tasks=["pb_number"], suite_fix="write it again")
    assert str(err.value) == f"{broken / 'pb_number.jsonl'} is missing: write it again"


def test_task_config_reads_the_data_next_to_the_yaml(suite, tmp_path):
    # A suite written before the paths became relative holds where it was generated.
    old = tmp_path / "old"
    shutil.copytree(suite, old)
    config = yaml.safe_load((old / "pb_number.yaml").read_text())
    config["dataset_kwargs"]["data_files"]["test"] = str(tmp_path / "original" / "x.jsonl")
    (old / "pb_number.yaml").write_text(yaml.safe_dump(config))
    loaded = mc_suite.task_config(old, "pb_number")
    assert loaded["dataset_kwargs"]["data_files"]["test"] == str(old.resolve() / "pb_number.jsonl")
    assert loaded["task"] == "pb_number" and loaded["output_type"] == "multiple_choice"


def test_moved_suite_evaluates_on_its_own_files(tiny_model_dir, embedded_corpus, tmp_path):
    original = mc_suite.write_suite(embedded_corpus / "test.txt", tmp_path / "a" / "mc_suite",
                                    n=ITEMS)
    moved = tmp_path / "b" / "mc_suite"
    moved.parent.mkdir()
    shutil.move(original, moved)
    shutil.rmtree(tmp_path / "a")
    # Fewer items in the moved copy than the original had: the count shows which file was read.
    rows = (moved / "pb_number.jsonl").read_text().splitlines(keepends=True)
    (moved / "pb_number.jsonl").write_text("".join(rows[:7]))
    model = modeling.load_model(tiny_model_dir)
    result = run(model, modeling.load_tokenizer(tiny_model_dir), moved, tasks=("pb_number",))
    assert result["summary"]["samples"] == {"pb_number": 7}


# --------------------------------------------------------------------------- through lm-eval

def test_torchs_environment_report_is_not_made_for_lm_eval(tiny_model_dir, suite, monkeypatch):
    """lm-eval asks torch for its environment report (it runs `pip list`, nvidia-smi: seconds
    per evaluation), which the kept results drop anyway: it is not made, and torch's function
    is back in place afterwards."""
    from torch.utils import collect_env

    calls = []

    def report():
        calls.append(True)
        return "report"

    monkeypatch.setattr(collect_env, "get_pretty_env_info", report)
    model = modeling.load_model(tiny_model_dir)
    result = run(model, modeling.load_tokenizer(tiny_model_dir), suite, tasks=("pb_number",),
                 limit=4)
    assert result["summary"]["samples"] == {"pb_number": 4}
    assert calls == [] and "pretty_env_info" not in result["lm_eval"]
    assert collect_env.get_pretty_env_info is report


def test_lm_eval_run_outside_a_git_work_tree_prints_no_git_error(tiny_model_dir, suite,
                                                                  monkeypatch, tmp_path, capfd):
    """lm-eval runs `git describe` in the directory it runs in; a run directory outside any git
    work tree got "fatal: not a git repository" in its output. Its `git_hash` names the code
    that ran the evaluation instead: prunebench's commit, as the provenance does."""
    from prunebench.provenance import code_identity

    monkeypatch.chdir(tmp_path)
    model = modeling.load_model(tiny_model_dir)
    result = run(model, modeling.load_tokenizer(tiny_model_dir), suite, tasks=("pb_number",),
                 limit=2)
    assert "not a git repository" not in "".join(capfd.readouterr())
    assert result["lm_eval"]["git_hash"] == code_identity()["commit"]
    # An lm-eval without that function (another version) is left as it is, not broken.
    from lm_eval import evaluator

    from prunebench.zeroshot import _git_hash_of_prunebench

    monkeypatch.delattr(evaluator, "get_git_commit_hash")
    with _git_hash_of_prunebench():
        assert not hasattr(evaluator, "get_git_commit_hash")


def test_dense_tiny_model_beats_chance(dense_result):
    summary = dense_result["summary"]
    assert set(summary["accuracy"]) == set(mc_suite.TASKS)
    assert summary["samples"] == {t: ITEMS for t in mc_suite.TASKS}
    # Measured: average 0.975 (bar 0.675); number, counting and continuation 1.0 (bars 0.8,
    # 0.55, 0.55): margins of 12 to 27 items of 60, far beyond another machine's training.
    assert summary["average"] >= CHANCE + 0.3, summary
    for task in ("pb_number", "pb_counting", "pb_continuation"):
        assert summary["accuracy"][task] >= mc_suite.CHANCE[task] + 0.3, summary
    # lm-eval's own results JSON is kept, without per-sample records
    assert set(mc_suite.TASKS) <= set(dense_result["lm_eval"]["results"])
    assert "samples" not in dense_result["lm_eval"]
    json.dumps(dense_result["lm_eval"])


@pytest.mark.usefixtures("one_thread")
def test_a_tasks_accuracy_does_not_depend_on_the_tasks_run_beside_it(tiny_model_dir, suite,
                                                                    one_request_at_a_time):
    """The suite has items of one task whose text is another task's item split elsewhere
    between context and answer; lm-eval's logits cache scored such pairs together and got one
    of them wrong, so pb_number scored lower beside pb_continuation than alone."""
    model = modeling.load_model(tiny_model_dir)
    tokenizer = modeling.load_tokenizer(tiny_model_dir)
    # One request per batch, both runs in this process on one thread: each request is then
    # one forward of its own tokens, the same computation beside other tasks as alone, so equal
    # scores are exact. In batches of 32 its padding and neighbours differ between the two
    # runs, which moves its log-likelihoods in the last bits and could flip a near tie between
    # two choices of some other trained model: a difference that is not the one tested here.
    beside = one_request_at_a_time["summary"]["accuracy"]
    alone = {task: run(model, tokenizer, suite, tasks=(task,), batch_size=1)
             ["summary"]["accuracy"][task] for task in mc_suite.TASKS}
    assert set(beside) == set(mc_suite.TASKS)
    assert alone == beside


@pytest.mark.parametrize("add_bos_token", [True, False])
def test_bos_setting_reaches_every_sequence_the_model_scores(tiny_model_dir, suite, add_bos_token):
    model = modeling.load_model(tiny_model_dir)
    tokenizer = modeling.load_tokenizer(tiny_model_dir)
    first_tokens: list[int] = []

    def record(module, args, kwargs):
        ids = kwargs["input_ids"] if "input_ids" in kwargs else args[0]
        first_tokens.extend(ids[:, 0].tolist())

    handle = model.register_forward_pre_hook(record, with_kwargs=True)
    try:
        out = run(model, tokenizer, suite, tasks=["pb_number"], limit=4,
                  add_bos_token=add_bos_token)
    finally:
        handle.remove()
    assert first_tokens, "lm-eval never called the model"
    starts_with_bos = {token == tokenizer.bos_token_id for token in first_tokens}
    assert starts_with_bos == {add_bos_token}
    assert out["summary"]["add_bos_token"] is add_bos_token
    assert out["summary"]["log_softmax_dtype"] == "float32"  # how the answers were scored


@pytest.mark.parametrize("add_bos_token", [True, False])
def test_every_context_starts_with_the_bos_whatever_the_tokenizers_own_encoding_adds(
        tiny_model_dir, add_bos_token):
    """`add_bos_token` decides the BOS, not the tokenizer's post-processor: lm-eval leaves it
    to the tokenizer's encoding, which for some tokenizers with a BOS adds none (their config
    turns it off) or adds an EOS after the text: such contexts started without the BOS asked
    for and ended with an EOS."""
    from tokenizers import processors

    model = modeling.load_model(tiny_model_dir)
    tokenizer = modeling.load_tokenizer(tiny_model_dir)
    eos = tokenizer.eos_token
    tokenizer.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single=f"$A {eos}", special_tokens=[(eos, tokenizer.eos_token_id)])
    text = tokenizer("the cat sat on the mat", add_special_tokens=False)["input_ids"]
    assert tokenizer("the cat sat on the mat")["input_ids"] == text + [tokenizer.eos_token_id]

    lm = zeroshot.language_model(model, tokenizer, 1, add_bos_token=add_bos_token)
    bos = [tokenizer.bos_token_id] if add_bos_token else []
    assert lm.tok_encode("the cat sat on the mat") == bos + text
    assert lm.tok_encode("the cat sat on the mat", add_special_tokens=False) == text
    assert lm.tok_encode(f"{tokenizer.bos_token} the cat") == \
        tokenizer(f"{tokenizer.bos_token} the cat", add_special_tokens=False)["input_ids"]
    # a generation task's prompts start so too, left-padded into one batch
    short = bos + tokenizer("the cat", add_special_tokens=False)["input_ids"]
    ids, mask = lm.tok_batch_encode(["the cat sat on the mat", "the cat"])
    pad = [tokenizer.pad_token_id] * (len(bos + text) - len(short))
    assert ids.tolist() == [bos + text, pad + short]
    assert mask.tolist() == [[1] * len(bos + text), [0] * len(pad) + [1] * len(short)]
    ids, mask = lm.tok_batch_encode(["the cat sat on the mat"], left_truncate_len=3)
    assert ids.tolist() == [(bos + text)[-3:]] and mask.tolist() == [[1, 1, 1]]
    # each prompt decides for itself (lm-eval looked at the first one's start for the batch)
    ids, _ = lm.tok_batch_encode(["the cat", f"{tokenizer.bos_token} the cat"])
    assert ids.tolist()[1] == lm.tok_encode(f"{tokenizer.bos_token} the cat")


def test_a_rolling_log_likelihood_does_not_score_the_bos_given_the_bos(tiny_model_dir,
                                                                        monkeypatch):
    """lm-eval's rolling log-likelihood (wikitext's tasks) puts its prefix token, the BOS,
    before each text's first window: a text encoded with a BOS of its own had that BOS scored
    as its first token, given itself (lm-eval issue 3333)."""
    from lm_eval.api.instance import Instance

    model = modeling.load_model(tiny_model_dir)
    tokenizer = modeling.load_tokenizer(tiny_model_dir)
    lm = zeroshot.language_model(model, tokenizer, 1, add_bos_token=True)
    scored = []
    monkeypatch.setattr(lm, "_loglikelihood_tokens",
                        lambda requests, **kwargs: scored.extend(requests) or
                        [(0.0, True)] * len(requests))
    text = "the cat sat on the mat"
    lm.loglikelihood_rolling([Instance("loglikelihood_rolling", {}, (text,), 0)],
                             disable_tqdm=True)
    (_, context, targets), = scored
    assert context == [tokenizer.bos_token_id]
    assert targets == tokenizer(text, add_special_tokens=False)["input_ids"]
    assert lm.add_bos_token is True and lm.tok_encode(text)[0] == tokenizer.bos_token_id


def test_a_half_precision_model_is_scored_from_float32_log_probabilities(tiny_model_dir):
    """As in the study's evaluation, whose transformers cast LLaMA's logits to float32 before
    lm-eval's log-softmax; transformers 5 returns float16 logits, and lm-eval's log-softmax in
    float16 put this 4-token answer's log-probability 0.009 nats off."""
    model = modeling.load_model(tiny_model_dir, dtype=torch.float16)
    tokenizer = modeling.load_tokenizer(tiny_model_dir)
    lm = zeroshot.language_model(model, tokenizer, 1, add_bos_token=False)
    context, answer = [5, 17, 42, 8, 99, 23], [61, 7, 130, 12]
    (scored, _), = lm._loglikelihood_tokens([(("", ""), context, answer)], disable_tqdm=True)
    with torch.no_grad():
        logits = model(torch.tensor([context + answer[:-1]])).logits[0, -len(answer):]
    expected = torch.log_softmax(logits, -1, dtype=torch.float32)[range(len(answer)), answer]
    assert scored == pytest.approx(float(expected.sum()), rel=1e-5, abs=1e-5)


@pytest.mark.usefixtures("one_thread")
def test_a_model_whose_embedding_is_offloaded_scores_as_on_one_device(tiny_model_dir, suite,
                                                                      one_request_at_a_time):
    """A device map that offloads the embedding (to disk here; to the cpu beside GPUs alike)
    leaves its parameters on the meta device, which `model.device` then names: HFLM put every
    request there and failed ("unsupported scalarType"). Inputs go where the embedding
    computes, and the answers are the one-device model's, bit for bit: both are scored in this
    process one request at a time (no padding) on one thread (the one-device answers by
    one_request_at_a_time), so that no float rounding differs."""
    from prunebench.checkpoint.device_map import main_device

    tokenizer = modeling.load_tokenizer(tiny_model_dir)
    one_device = one_request_at_a_time
    blocks = modeling.load_config(tiny_model_dir).num_hidden_layers
    mapping = {"model.embed_tokens": "disk", "model.rotary_emb": "cpu", "model.norm": "cpu",
               "lm_head": "cpu",
               **{f"model.layers.{i}": "disk" if i % 2 else "cpu" for i in range(blocks)}}
    model = modeling.load_model(tiny_model_dir, device_map=mapping)
    assert model.device.type == "meta" and main_device(model).type == "cpu"
    result = run(model, tokenizer, suite, batch_size=1)
    assert result["lm_eval"]["results"] == one_device["lm_eval"]["results"]


def test_random_model_of_same_shape_stays_at_chance(tiny_model_dir, suite, dense_result):
    config = modeling.load_config(tiny_model_dir)
    model = modeling.random_model(config, "cpu", torch.float32, seed=3)
    summary = run(model, modeling.load_tokenizer(tiny_model_dir), suite)["summary"]
    # Seeded weights, the same on every machine. Measured: 0.38 (bar 0.475, about 3 standard
    # deviations of a chance-level average); the dense-minus-random gap 0.53 (bar 0.25).
    assert summary["average"] <= CHANCE + 0.1, summary
    assert dense_result["summary"]["average"] - summary["average"] >= 0.25


def test_width_pruned_heterogeneous_checkpoint_evaluates(tiny_model_dir, embedded_corpus, suite,
                                                         tmp_path):
    tokenizer = modeling.load_tokenizer(tiny_model_dir)
    rows = [r for r in (embedded_corpus / "train.txt").read_text().splitlines() if r.strip()]
    calibration = data.calibration_windows(rows, tokenizer, n=10, length=64, seed=1234)
    out = tmp_path / "llm_pruner"
    prune_checkpoint(tiny_model_dir, "llm_pruner", "0.8", out, calibration, device="cpu")
    config = modeling.load_config(out)
    shapes = modeling.layer_shapes(config)
    assert len({json.dumps(s, sort_keys=True) for s in shapes}) > 1  # per-block shapes differ
    model = modeling.load_model(out)
    result = run(model, modeling.load_tokenizer(out), suite,
                 tasks=("pb_number", "pb_continuation"), limit=20)
    summary = result["summary"]
    assert summary["samples"] == {"pb_number": 20, "pb_continuation": 20}
    assert all(0.0 <= v <= 1.0 for v in summary["accuracy"].values())
    # pruned to 80%, still far from chance on easy tasks (measured 1.0; chance 0.375)
    assert summary["average"] > 0.5


# --------------------------------------------------------------------------- resuming

class Interrupted(Exception):
    """What stops the evaluation below part-way, as a kill or a pre-emption would."""


def count_forwards(model, fail_at: int | None = None) -> list[int]:
    """A list whose length is the number of forward calls the model made; the `fail_at`-th
    call raises Interrupted."""
    calls: list[int] = []

    def hook(module, args):
        calls.append(1)
        if fail_at is not None and len(calls) == fail_at:
            raise Interrupted("stopped here")

    model.register_forward_pre_hook(hook)
    return calls


def store_lines(folder: Path) -> list[dict]:
    (store,) = folder.glob("*.jsonl")
    return [json.loads(line) for line in store.read_text().splitlines()]


def test_an_interrupted_evaluation_resumes_with_what_it_had_scored(tiny_model_dir, suite,
                                                                   tmp_path):
    tokenizer = modeling.load_tokenizer(tiny_model_dir)
    progress = tmp_path / "progress"
    # Batches of one: each request is one forward of its own tokens, the same computation in
    # every run, so the resumed run's scores must equal an uninterrupted run's exactly.
    settings = dict(tasks=mc_suite.TASKS, batch_size=1, limit=8)
    fresh_model = modeling.load_model(tiny_model_dir)
    fresh_forwards = count_forwards(fresh_model)
    fresh = run(fresh_model, tokenizer, suite, **settings)
    total = len(fresh_forwards)
    assert fresh["summary"]["resumed_requests"] == 0  # no progress_dir: nothing kept

    stopped_at = total // 2
    interrupted = modeling.load_model(tiny_model_dir)
    forwards = count_forwards(interrupted, fail_at=stopped_at)
    with pytest.raises(Interrupted):
        run(interrupted, tokenizer, suite, progress_dir=progress, **settings)
    assert len(forwards) == stopped_at
    header, *answers = store_lines(progress)
    # Answers computed before the interruption were on disk at once, not only at the end: one
    # per request scored (a request repeated in another task is kept once).
    keys = [a["key"] for a in answers]
    assert 0 < len(keys) == len(set(keys)) <= stopped_at - 1
    assert header["identity"]["add_bos_token"] is True

    resumed_model = modeling.load_model(tiny_model_dir)
    resumed_forwards = count_forwards(resumed_model)
    resumed = run(resumed_model, tokenizer, suite, progress_dir=progress, **settings)
    reused = resumed["summary"]["resumed_requests"]
    assert reused >= len(keys)  # each kept answer served at least once
    assert len(resumed_forwards) == total - reused
    for key in ("accuracy", "metrics", "samples", "average"):
        assert resumed["summary"][key] == fresh["summary"][key]
    assert list(progress.glob("*.jsonl")) == []  # a finished evaluation deletes its store


def test_progress_is_kept_only_for_the_same_model_scored_the_same_way(tiny_model_dir, suite,
                                                                      tmp_path):
    tokenizer = modeling.load_tokenizer(tiny_model_dir)
    progress = tmp_path / "progress"
    model = modeling.load_model(tiny_model_dir)
    count_forwards(model, fail_at=5)
    with pytest.raises(Interrupted):
        run(model, tokenizer, suite, tasks=["pb_number"], limit=4, batch_size=1,
            progress_dir=progress)
    (kept,) = progress.glob("*.jsonl")
    # Without a BOS token the answers differ: that evaluation has a store of its own.
    other = run(modeling.load_model(tiny_model_dir), tokenizer, suite, tasks=["pb_number"],
                limit=4, batch_size=1, progress_dir=progress, add_bos_token=False)
    assert other["summary"]["resumed_requests"] == 0
    assert list(progress.glob("*.jsonl")) == [kept]  # the other one's, finished, deleted
    # Neither does a model pruned in memory after loading take the checkpoint's answers.
    pruned = modeling.load_model(tiny_model_dir)
    del pruned.model.layers[-1]
    pruned.config.num_hidden_layers -= 1
    assert run(pruned, tokenizer, suite, tasks=["pb_number"], limit=4, batch_size=1,
               progress_dir=progress)["summary"]["resumed_requests"] == 0
    # A model that did not come from a checkpoint with a manifest keeps nothing.
    config = modeling.load_config(tiny_model_dir)
    random = modeling.random_model(config, "cpu", torch.float32, seed=3)
    empty = tmp_path / "none"
    out = run(random, tokenizer, suite, tasks=["pb_number"], limit=2, progress_dir=empty)
    assert out["summary"]["resumed_requests"] == 0 and not empty.exists()


def test_the_progress_folder_comes_from_the_environment_when_not_given(tiny_model_dir, suite,
                                                                       tmp_path, monkeypatch):
    from prunebench.plan.layout import ZEROSHOT_PROGRESS_VARIABLE

    monkeypatch.setenv(ZEROSHOT_PROGRESS_VARIABLE, str(tmp_path / "from-env"))
    model = modeling.load_model(tiny_model_dir)
    count_forwards(model, fail_at=3)
    with pytest.raises(Interrupted):
        run(model, modeling.load_tokenizer(tiny_model_dir), suite, tasks=["pb_number"], limit=4,
            batch_size=1)
    assert len(store_lines(tmp_path / "from-env")) == 1 + 2  # the header, two answers


def test_out_of_memory_with_progress_says_the_answers_are_kept(tiny_model_dir, suite, tmp_path):
    model = modeling.load_model(tiny_model_dir)
    calls = count_forwards(model)

    def exhausted(*args, **kwargs):  # the third batch does not fit
        if len(calls) == 3:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 4.00 GiB")

    model.register_forward_pre_hook(exhausted)
    with pytest.raises(PrunebenchError, match="the 2 answers scored so far are kept"):
        run(model, modeling.load_tokenizer(tiny_model_dir), suite, tasks=["pb_number"], limit=4,
            batch_size=1, progress_dir=tmp_path)


def test_a_store_drops_a_torn_or_damaged_line_and_appends_after_what_is_whole(tmp_path):
    from prunebench.zeroshot_progress import open_store

    identity = {"checkpoint": "abc"}
    store = open_store(tmp_path, identity)
    store.add("loglikelihood", ("a context", " answer"), (-1.5, True))
    store.add("loglikelihood", ("a context", " other"), (-2.25, False))
    store.close(finished=False)
    (path,) = tmp_path.glob("*.jsonl")
    lines = path.read_text().splitlines(keepends=True)
    # a kill in the middle of the last line, and a line damaged on disk
    path.write_text(lines[0] + "not json\n" + lines[1] + lines[2][:10])
    store = open_store(tmp_path, identity)
    assert list(store.answers.values()) == [(-1.5, True)]  # the whole line before the tear
    assert store.lookup("loglikelihood", ("a context", " answer")) == (True, (-1.5, True))
    store.add("loglikelihood_rolling", ("a whole text",), -35.5)
    # Generated text is never kept: it may be sampled (a temperature alone turns sampling on).
    store.add("generate_until", ("a context", {"until": ["\n"], "temperature": 0.7}), "drawn")
    store.close(finished=False)
    again = open_store(tmp_path, identity)
    assert len(again.answers) == 2
    assert again.lookup("loglikelihood_rolling", ("a whole text",)) == (True, -35.5)
    assert again.lookup("generate_until", ("a context", {"until": ["\n"], "temperature": 0.7})) \
        == (False, None)
    again.close(finished=True)
    assert not path.exists()


def test_a_store_of_another_format_or_identity_is_started_afresh(tmp_path):
    from prunebench import zeroshot_progress

    store = zeroshot_progress.open_store(tmp_path, {"checkpoint": "abc"})
    store.add("loglikelihood", ("x", "y"), (-1.0, True))
    store.close(finished=False)
    (path,) = tmp_path.glob("*.jsonl")
    header, entry = path.read_text().splitlines()
    path.write_text(header.replace('"abc"', '"xyz"') + "\n" + entry + "\n")  # not its own
    assert zeroshot_progress.open_store(tmp_path, {"checkpoint": "abc"}).answers == {}
    assert len(path.read_text().splitlines()) == 1  # the header alone


def test_a_store_in_use_by_another_evaluation_is_left_to_it(tmp_path, caplog):
    import subprocess
    import sys

    from prunebench.zeroshot_progress import open_store

    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from prunebench.zeroshot_progress import open_store; "
         f"store = open_store({str(tmp_path)!r}, {{'checkpoint': 'abc'}}); "
         "store.add('loglikelihood', ('x', 'y'), (-1.0, True)); print('held', flush=True); "
         "sys.stdin.read(); store.close(finished=False)"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert open_store(tmp_path, {"checkpoint": "abc"}) is None
        assert "keeps no progress of its own" in caplog.text
    finally:
        holder.communicate("", timeout=60)  # it closes its store and ends
    second = open_store(tmp_path, {"checkpoint": "abc"})  # released: taken with its answers
    assert len(second.answers) == 1
    second.close(finished=True)


def test_the_store_locked_is_the_one_at_its_path(tmp_path, monkeypatch):
    """The evaluation holding the store may finish (and delete it) between another's opening
    and locking it: that one must then lock a file at the path, not the deleted one."""
    import fcntl

    from prunebench.zeroshot_progress import open_store

    real_flock = fcntl.flock
    deleted = []

    def flock_after_the_holder_finished(fd, operation):
        if not deleted:
            (path,) = tmp_path.glob("*.jsonl")
            path.unlink()
            deleted.append(path)
        return real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock_after_the_holder_finished)
    store = open_store(tmp_path, {"checkpoint": "abc"})
    store.add("loglikelihood", ("x", "y"), (-1.0, True))
    assert deleted and store.path.exists()
    assert len(store.path.read_text().splitlines()) == 2  # the header and the answer
    store.close(finished=False)


def test_progress_that_cannot_be_kept_never_fails_the_evaluation(tiny_model_dir, suite, tmp_path,
                                                                 monkeypatch, caplog):
    from prunebench import progress_store

    model = modeling.load_model(tiny_model_dir)
    tokenizer = modeling.load_tokenizer(tiny_model_dir)
    # batches of one in every run: the same computation, so the same scores exactly
    expected = run(model, tokenizer, suite, tasks=["pb_number"], limit=4,
                   batch_size=1)["summary"]["accuracy"]
    (tmp_path / "a-file").write_text("")
    # a folder that cannot be made
    out = run(model, tokenizer, suite, tasks=["pb_number"], limit=4, batch_size=1,
              progress_dir=tmp_path / "a-file" / "progress")
    assert out["summary"]["accuracy"] == expected and "cannot keep zero-shot answers" in caplog.text
    # a disk that fills up part-way: the header and two answers written, then no room
    import types

    writes = []

    def filling(fd, data):
        writes.append(data)
        if len(writes) > 3:
            raise OSError(28, "No space left on device")
        return os.write(fd, data)

    caplog.clear()
    monkeypatch.setattr(progress_store, "os", types.SimpleNamespace(**{**vars(os),
                                                                       "write": filling}))
    out = run(model, tokenizer, suite, tasks=["pb_number"], limit=4, batch_size=1,
              progress_dir=tmp_path / "p")
    assert out["summary"]["accuracy"] == expected
    assert "No space left" in caplog.text and "the evaluation goes on" in caplog.text
    assert len(writes) == 4  # nothing tried after the failure


def test_a_failure_after_lm_eval_keeps_the_answers(tiny_model_dir, suite, tmp_path, monkeypatch):
    def unreadable(results, chosen):
        raise PrunebenchError("lm-eval's results lack task pb_number")

    monkeypatch.setattr(zeroshot, "summarise", unreadable)
    with pytest.raises(PrunebenchError, match="lack task"):
        run(modeling.load_model(tiny_model_dir), modeling.load_tokenizer(tiny_model_dir), suite,
            tasks=["pb_number"], limit=4, progress_dir=tmp_path)
    assert len(store_lines(tmp_path)) > 1  # the header and the answers, kept


def test_a_workflow_jobs_answers_outlive_its_result_files_write(tiny_model_dir, suite, tmp_path,
                                                                  monkeypatch):
    """The workflow's zero-shot script writes its files after evaluate() returns: the answers
    kept in the workflow's folder ($PRUNEBENCH_ZEROSHOT_PROGRESS) stay until the job's process
    ends well (atomic.delete_at_successful_exit), so a write that fails (a full disk, a folder
    it cannot write) loses none; they were deleted when lm-eval returned."""
    from prunebench.plan.layout import ZEROSHOT_PROGRESS_VARIABLE

    deferred = []
    monkeypatch.setattr(zeroshot, "delete_at_successful_exit", deferred.append)
    monkeypatch.setenv(ZEROSHOT_PROGRESS_VARIABLE, str(tmp_path / "workflow"))
    tokenizer = modeling.load_tokenizer(tiny_model_dir)
    run(modeling.load_model(tiny_model_dir), tokenizer, suite, tasks=["pb_number"], limit=4)
    (kept,) = (tmp_path / "workflow").glob("*.jsonl")
    assert deferred == [kept] and len(store_lines(tmp_path / "workflow")) > 1
    # A folder given to evaluate() itself: deleted once the evaluation is done, as before.
    run(modeling.load_model(tiny_model_dir), tokenizer, suite, tasks=["pb_number"], limit=4,
        progress_dir=tmp_path / "mine")
    assert list((tmp_path / "mine").glob("*.jsonl")) == [] and deferred == [kept]


def test_a_checkpoints_content_digest_covers_its_config_and_tokenizer(tiny_model_dir, tmp_path):
    from prunebench.checkpoint.integrity import MANIFEST, content_digest

    copy = tmp_path / "ckpt"
    shutil.copytree(tiny_model_dir, copy)
    assert content_digest(copy) == content_digest(tiny_model_dir)
    manifest = json.loads((copy / MANIFEST).read_text())
    config = json.loads((copy / "config.json").read_text())
    config["rope_theta"] = 1234.0
    (copy / "config.json").write_text(json.dumps(config))
    manifest["files_sha256"]["config.json"] = "0" * 64
    (copy / MANIFEST).write_text(json.dumps(manifest))
    assert content_digest(copy) != content_digest(tiny_model_dir)
    # A format-1 manifest records the weights only: the other files are hashed instead.
    one = {k: v for k, v in manifest.items() if k != "files_sha256"}
    (copy / MANIFEST).write_text(json.dumps({**one, "format": 1}))
    before = content_digest(copy)
    config["rope_theta"] = 4321.0
    (copy / "config.json").write_text(json.dumps(config))
    assert content_digest(copy) != before
    assert content_digest(tmp_path) is None  # no manifest: nothing to name it by


# --------------------------------------------------------------------------- errors

def test_hub_task_offline_names_dataset_and_prefetch(small_random_model, embedded_corpus,
                                                     monkeypatch):
    import datasets

    asked = []

    def offline(*args, **kwargs):  # the hub as an offline machine sees it
        asked.append(kwargs.get("path", args[0] if args else None))
        raise ConnectionError("Couldn't reach the Hub (offline)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    # The data fails before any model runs: a random one (no wait for the trained one) will do.
    tokenizer = tiny.train_tokenizer((embedded_corpus / "train.txt").read_text(), vocab_size=128)
    model = small_random_model(vocab_size=len(tokenizer))
    with pytest.raises(PrunebenchError) as err:
        zeroshot.evaluate(model, tokenizer, ["arc_easy"], limit=2)
    assert asked and asked[-1] in str(err.value)
    assert "prefetch" in str(err.value) and "HF_DATASETS_OFFLINE" in str(err.value)
    with pytest.raises(PrunebenchError, match="prefetch"):
        zeroshot.prefetch(["arc_easy"])


@pytest.mark.parametrize("env, sent", [(None, False), ("hf_secret_value_123", "hf_secret_value_123")])
def test_lm_evals_dataset_loads_run_no_repository_code_and_send_the_environments_token(
        monkeypatch, env, sent):
    """Some of lm-eval's task files ask `datasets` for trust_remote_code (lm-eval drops it only
    for datasets >= 4); datasets sends a token saved on the machine when given none."""
    import datasets

    if env is None:
        monkeypatch.delenv("HF_TOKEN", raising=False)
    else:
        monkeypatch.setenv("HF_TOKEN", env)
    seen = []
    monkeypatch.setattr(datasets, "load_dataset", lambda *args, **kwargs: seen.append(kwargs))
    with zeroshot._naming_datasets() as calls:
        # as lm-eval's task.py calls it for a task whose dataset_kwargs trust remote code
        datasets.load_dataset(path="org/scripted", name="cfg", trust_remote_code=True)
        datasets.load_dataset(path="org/plain", token="hf_given_by_the_caller")
    assert [c["path"] for c in calls] == ["org/scripted", "org/plain"]
    assert seen == [{"path": "org/scripted", "name": "cfg", "trust_remote_code": False,
                     "token": sent},
                    {"path": "org/plain", "token": "hf_given_by_the_caller",
                     "trust_remote_code": False}]


def test_a_prefetch_records_the_commit_of_each_hub_dataset_it_loaded(monkeypatch):
    """lm-eval's task files name no revision: the record says which commit was the newest."""
    import datasets
    import huggingface_hub

    asked, events = [], []

    def dataset_info(api, path, revision=None, token=None, **kwargs):
        asked.append((path, revision))
        events.append(("asked", path))
        if path == "org/gone":
            raise ConnectionError("[Errno -2] Name or service not known")
        return type("DatasetInfo", (), {"sha": f"{path}@{revision or 'main'}"})()

    def load_dataset(*args, **kwargs):
        events.append(("loaded", kwargs["path"] if "path" in kwargs else args[0]))

    monkeypatch.setattr(huggingface_hub.HfApi, "dataset_info", dataset_info)
    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    with zeroshot._naming_datasets(ask_commits=True) as calls:
        datasets.load_dataset(path="org/plain", name="cfg")
        datasets.load_dataset("org/pinned", revision="v1.0")
        datasets.load_dataset("json", data_files="https://example.org/rows.json")
        datasets.load_dataset(path="org/gone")
        datasets.load_dataset(path="org/plain", name="other")  # another subset of it
    # one question per repository and revision, each before its first load
    assert asked == [("org/plain", None), ("org/pinned", "v1.0"), ("org/gone", None)]
    assert events[:2] == [("asked", "org/plain"), ("loaded", "org/plain")]
    assert [c.get("commit") for c in calls] == ["org/plain@main", "org/pinned@v1.0", None, None,
                                                "org/plain@main"]
    assert "revision" not in calls[2]  # a builder's name is no repository
    asked.clear()
    with zeroshot._naming_datasets() as calls:  # an evaluation, offline: asks nothing
        datasets.load_dataset(path="org/plain")
    assert asked == [] and "commit" not in calls[0]


def _yaml_path(entry):
    return entry.yaml_path if hasattr(entry, "yaml_path") else entry["yaml_path"]


def test_the_studys_hub_tasks_index_only_their_own_folders():
    """The study's tasks are found in their own YAML files without indexing lm-eval's whole task
    tree (14,000 files, 10-25 s): the manager knows them and little else."""
    zeroshot._task_manager.cache_clear()
    manager = zeroshot.task_manager(None, list(zeroshot.PAPER_TASKS))
    assert set(zeroshot.PAPER_TASKS) <= set(manager.all_subtasks)
    assert len(manager.all_tasks) < 200  # the full index has thousands
    for task in zeroshot.PAPER_TASKS:
        text = Path(_yaml_path(manager.task_index[task])).read_text()
        assert f"task: {task}" in text.splitlines()


def test_the_task_scan_places_a_name_only_in_the_one_file_that_defines_it(tmp_path):
    files = {
        "a/first.yaml": "task: alpha  # a comment\ndataset_path: x\n",
        "a/second.yaml": "include: first.yaml\ntask: 'beta'\n",
        "g/group.yaml": "group: gamma\ntask:\n  - task: alpha\n    num_fewshot: 5\n  - beta\n",
        "d/one.yaml": "task: delta\n",
        "d2/two.yaml": "task: delta\n",
        "e/tagged.yaml": "task: epsilon_long\ntag:\n  - eps\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    scan = zeroshot.scan_builtin_tasks(("alpha", "beta"), tmp_path)
    assert scan.folders() == [str(tmp_path / "a")]  # not g/: a list item defines nothing
    for names in (("gamma",), ("delta",), ("eps",), ("alpha", "eps")):  # group, twice, a tag
        assert zeroshot.scan_builtin_tasks(names, tmp_path).folders() is None, names
    scan = zeroshot.scan_builtin_tasks(("eps", "epsilon", "zeta"), tmp_path)
    assert scan.mentioned == {"eps"}  # whole names only: not inside epsilon_long
    assert {"alpha", "beta", "gamma", "delta", "epsilon_long"} <= scan.declared
    with pytest.raises(PrunebenchError, match=r"no task 'alpah' \(did you mean 'alpha'"):
        zeroshot._refuse_unmentioned(("alpah",), zeroshot.scan_builtin_tasks(("alpah",), tmp_path),
                                     None)


def test_hub_task_names_are_checked_against_the_words_of_lm_evals_yamls(tmp_path, monkeypatch):
    root = tmp_path / "tasks"
    (root / "a").mkdir(parents=True)
    (root / "a" / "t.yaml").write_text("task: alpha\ntag:\n  - beta_tag\ninclude: _common_yaml\n")
    (root / "a" / "_common_yaml").write_text("tag: gamma_tag\n")  # a template, no suffix
    (root / "a" / "utils.py").write_text("def delta_fn(): pass\n")
    monkeypatch.setattr(zeroshot, "lm_eval_tasks_dir", lambda: root)
    cache = tmp_path / "cache"
    # a task, tags (one in an included template) and the offline suite pass; a name with other
    # characters is left to lm-eval
    assert zeroshot.unknown_hub_tasks(["alpha", "beta_tag", "gamma_tag", "pb_number", "x+y"],
                                      cache) == []
    assert zeroshot.unknown_hub_tasks(["delta_fn"], cache) != []  # not a task file
    [line] = zeroshot.unknown_hub_tasks(["alpah", "alpha"], cache)
    assert "has no task 'alpah' (did you mean 'alpha'?): pick one from `lm-eval ls tasks`" in line
    [saved] = cache.iterdir()
    (root / "a" / "t.yaml").write_text("task: gamma\n")
    assert zeroshot.unknown_hub_tasks(["alpha"], cache) == []  # the saved words answer
    assert zeroshot.unknown_hub_tasks(["alpha"]) != []  # no cache folder: the files are read
    for damaged in ("{", "[]", '{"words": 3, "declared": []}'):  # made again
        saved.write_text(damaged)
        assert zeroshot.unknown_hub_tasks(["alpha"], cache) != []
        assert zeroshot.unknown_hub_tasks(["gamma"], cache) == []
    # a task folder changed in place (an editable lm-eval) is read again
    (root / "b").mkdir()
    (root / "b" / "new.yaml").write_text("task: epsilon\n")
    assert zeroshot.unknown_hub_tasks(["epsilon"], cache) == []
    # without a folder to keep it in, nothing is written
    assert zeroshot.unknown_hub_tasks(["gamma"], tmp_path / "absent" / "cache") == []
    assert not (tmp_path / "absent").exists()


def test_every_task_group_and_tag_lm_eval_lists_passes_the_start_check():
    """The start check may refuse only typos: each name the installed lm-eval's full index
    lists (tags defined in included templates too, such as `gpqa`) is among the words."""
    from lm_eval.tasks import TaskManager

    names = [n for n in TaskManager().all_tasks if zeroshot._PLAIN_NAME.fullmatch(n)]
    assert len(names) > 1000  # the full index
    words = zeroshot.task_words()["words"]
    assert [n for n in names if n not in words] == []


def test_out_of_memory_names_the_batch_size_to_lower(tiny_model_dir, suite):
    model = modeling.load_model(tiny_model_dir)

    def exhausted(*args, **kwargs):  # the first batch lm-eval sends does not fit
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 4.00 GiB")

    model.register_forward_pre_hook(exhausted)
    with pytest.raises(PrunebenchError) as err:
        run(model, modeling.load_tokenizer(tiny_model_dir), suite, tasks=["pb_number"], limit=4)
    message = str(err.value)
    assert "\n" not in message and "out of memory in lm-eval's zero-shot tasks ['pb_number']" \
        in message and "in batches of 32" in message
    assert "lower evaluation.zeroshot.batch_size" in message and "device_map" in message


def test_unknown_task_is_refused_before_running(tiny_model_dir):
    model = modeling.load_model(tiny_model_dir)
    with pytest.raises(PrunebenchError, match="no task 'arc_eazy'.*arc_easy"):
        zeroshot.evaluate(model, modeling.load_tokenizer(tiny_model_dir), ["arc_eazy"])
    with pytest.raises(PrunebenchError, match="offline suite"):
        zeroshot.evaluate(model, modeling.load_tokenizer(tiny_model_dir), ["pb_counting"])


# --------------------------------------------------------------------------- the summary

def fake_results(**tasks):
    return {"results": {t: {"alias": t, **{f"{k},none": v for k, v in m.items()}}
                        for t, m in tasks.items()},
            "n-samples": {t: {"original": 10, "effective": 10} for t in tasks}}


def test_summary_uses_the_papers_metric_per_task():
    scores = {t: {"acc": 0.5 + i / 100, "acc_stderr": 0.01, "acc_norm": 0.7 + i / 100,
                  "acc_norm_stderr": 0.01} for i, t in enumerate(zeroshot.PAPER_TASKS)}
    chosen = {t: zeroshot.summary_metric(t) for t in zeroshot.PAPER_TASKS}
    summary = zeroshot.summarise(fake_results(**scores), chosen)
    for task, value in summary["accuracy"].items():
        norm = task in ("hellaswag", "arc_challenge", "openbookqa")
        assert value == scores[task]["acc_norm" if norm else "acc"], task
    assert summary["average"] == pytest.approx(sum(summary["accuracy"].values()) / 7)
    assert summary["metrics"]["boolq"]["acc_norm"] == scores["boolq"]["acc_norm"]
    # the config may choose another metric for a task
    assert zeroshot.summary_metric("boolq", {"boolq": "acc_norm"}) == "acc_norm"
    with pytest.raises(PrunebenchError, match="use one of"):
        zeroshot.summary_metric("boolq", {"boolq": "f1"})


def test_summary_missing_task_or_metric_is_an_error():
    with pytest.raises(PrunebenchError, match="lack task piqa"):
        zeroshot.summarise(fake_results(boolq={"acc": 0.6}), {"boolq": "acc", "piqa": "acc"})
    with pytest.raises(PrunebenchError, match="hellaswag have no acc_norm"):
        zeroshot.summarise(fake_results(hellaswag={"acc": 0.6}), {"hellaswag": "acc_norm"})


# --------------------------------------------------------------------------- the study's tasks

# The hub repositories lm-eval >= 0.4.10 reads the study's tasks from. Earlier versions named
# loading-script datasets (`piqa`, `super_glue`, `hellaswag`, ...), which datasets >= 4 refuses
# ("Dataset scripts are no longer supported"): pyproject.toml asks for lm-eval >= 0.4.10. A new
# lm-eval that moves a task to another repository fails here, to be looked at: other rows can
# change the accuracies that the published_vs_reproduced table compares.
STUDY_TASK_DATASETS = {"boolq": "aps/super_glue", "piqa": "baber/piqa",
                       "hellaswag": "Rowan/hellaswag", "winogrande": "allenai/winogrande",
                       "arc_easy": "allenai/ai2_arc", "arc_challenge": "allenai/ai2_arc",
                       "openbookqa": "allenai/openbookqa"}


def lm_eval_dataset_path(task: str) -> str:
    """The `dataset_path` of a built-in lm-eval task, read from its YAML (or the one it
    includes) as text: lm-eval's own config API differs between its versions."""
    import re

    import lm_eval

    def field(text: str, key: str) -> str | None:
        found = re.search(rf"^{key}:\s*(\S+)\s*$", text, re.M)
        return found[1] if found else None

    for path in (Path(lm_eval.__file__).parent / "tasks").rglob("*.yaml"):
        text = path.read_text(encoding="utf-8", errors="replace")
        if field(text, "task") != task:
            continue
        if dataset := field(text, "dataset_path"):
            return dataset
        included = (path.parent / field(text, "include")).read_text(encoding="utf-8")
        return field(included, "dataset_path")
    raise AssertionError(f"lm-eval has no built-in task {task!r}")


def test_the_study_tasks_read_repositories_that_load_without_scripts():
    assert set(STUDY_TASK_DATASETS) == set(zeroshot.PAPER_TASKS)
    found = {task: lm_eval_dataset_path(task) for task in zeroshot.PAPER_TASKS}
    assert found == STUDY_TASK_DATASETS


def test_lm_evals_notices_about_how_prunebench_calls_it_are_left_out_and_nothing_else(caplog):
    """Passing a built model and an explicit num_fewshot is prunebench's way: lm-eval's notices
    of it would appear on every run. Its other messages, from the same loggers, still do."""
    import logging

    huggingface, evaluator = (logging.getLogger(name)
                              for name in ("lm_eval.models.huggingface", "lm_eval.evaluator"))
    with caplog.at_level(logging.INFO), zeroshot._without_lm_eval_notices():
        huggingface.warning("`pretrained` model kwarg is not of type `str`. Many other ...")
        huggingface.warning("Passed an already-initialized model through `pretrained`, ...")
        evaluator.warning("Overwriting default num_fewshot of %s from %s to %s", "t", None, 0)
        huggingface.warning("something else went wrong")
        # a notice of another logger is not prunebench's to drop
        logging.getLogger("lm_eval.api.task").warning("Overwriting default num_fewshot of x")
    assert [r.getMessage() for r in caplog.records] == [
        "something else went wrong", "Overwriting default num_fewshot of x"]
    caplog.clear()
    with caplog.at_level(logging.INFO):  # outside the evaluation: untouched
        evaluator.warning("Overwriting default num_fewshot of %s from %s to %s", "t", None, 0)
    assert len(caplog.records) == 1
