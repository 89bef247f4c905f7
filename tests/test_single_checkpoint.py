"""`prunebench prune`, `recover`, `bench` and `eval`: one checkpoint, no config, the
workflow's files.

Commands run in-process through `cli.main` on the trained tiny model, at tiny sizes (few
calibration windows, two LoRA steps, few timed runs, a few documents per task). Bad input is checked to fail
with one `error:` line, exit code 2, no traceback, and nothing written.
"""
import argparse
import hashlib
import json
import logging
import math
import os
import shutil
import sys
import types
from pathlib import Path

import huggingface_hub
import pytest
import yaml
from huggingface_hub import errors

from prunebench import PrunebenchError, cli, modeling
from prunebench.atomic import read_json
from prunebench.cli import main
from prunebench.commands import QUIET_BARS, add_parsers, without_progress_bars, workflow_defaults
from prunebench.commands.arguments import parse_params, require_hub
from prunebench.commands.model_source import hub_checkpoint
from prunebench.commands.prune import draw_calibration
from prunebench.plan.layout import ZEROSHOT_PROGRESS_VARIABLE
from prunebench.commands.recover import LORA_OPTIONS

# The workflow's prune_report.json / bench / ppl.json / zeroshot.json keys
# (docs/architecture.md, "Result files").
REPORT_KEYS = {"model", "variant", "method", "target", "target_params", "params_before",
               "params_after", "blocks_before", "blocks_after", "calibration", "method_report",
               "elapsed_s", "base", "checkpoint", "provenance"}
BENCH_KEYS = {"model", "variant", "backend", "input_tokens", "output_tokens", "params", "dtype",
              "attention", "rows", "provenance"}
ROW_KEYS = {"batch_size", "status", "latency_s_mean", "latency_s_std", "latency_s_min",
            "latency_s_median", "throughput_tok_s", "peak_memory_bytes", "latency_s_cv",
            "unstable", "runs"}
PPL_KEYS = {"model", "variant", "params", "window", "stride", "bos", "perplexity", "details",
            "splits", "provenance"}
ZEROSHOT_KEYS = {"model", "variant", "params", "accuracy", "average", "metric", "metrics",
                 "samples", "tasks", "num_fewshot", "limit", "batch_size", "seed", "suite",
                 "lm_eval_version", "elapsed_s", "provenance"}
QUICK_BENCH = ["--warmup", "1", "--repeats", "2", "--max-repeats", "2", "--device", "cpu", "-q"]


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code: int, err: str, expected: str) -> None:
    assert code == 2
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: ") and expected in last, err


@pytest.fixture(scope="module")
def pruned(tiny_model_dir, tmp_path_factory):
    """`prunebench prune` output: depth_ppl on a few embedded calibration windows."""
    out = tmp_path_factory.mktemp("prune") / "tiny-ppl"
    assert main(["prune", str(tiny_model_dir), "--method", "depth_ppl", "--size", "0.8",
                 "--out", str(out), "--calibration", "embedded", "--n", "4", "--length", "64",
                 "--device", "cpu", "-q"]) == 0
    return out


# --------------------------------------------------------------------------- prune


def test_prune_writes_the_workflows_checkpoint_and_report(pruned, tiny_model_dir):
    report = read_json(pruned / "prune_report.json")
    assert set(report) >= REPORT_KEYS
    assert report["variant"] == "depth_ppl-0.8" and report["method"] == "depth_ppl"
    assert report["model"] == tiny_model_dir.name
    assert report["calibration"] == {"source": "embedded", "n": 4, "length": 64, "seed": 1234,
                                     "sampling": "wrapped"}  # the workflow's resolution
    assert report["checkpoint"] == str(pruned / "checkpoint")
    dense = modeling.count_params(modeling.load_config(tiny_model_dir))
    assert report["params_before"] == dense and report["params_after"] < dense
    model = modeling.load_model(pruned / "checkpoint")  # verified against its manifest
    assert modeling.check_param_count(model, "pruned") == report["params_after"]
    assert model.config.num_hidden_layers == report["blocks_after"]
    cell = report["provenance"]["cell"]
    assert cell["method"] == "depth_ppl" and cell["source"] == str(tiny_model_dir)
    assert report["provenance"]["seed"] == 1234
    # It names the weights it was pruned from, as its checkpoint's manifest does.
    from prunebench.checkpoint.integrity import MANIFEST, sha256_file

    base = {"checkpoint": str(tiny_model_dir),
            "manifest_sha256": sha256_file(tiny_model_dir / MANIFEST)}
    assert report["base"] == base
    assert read_json(pruned / "checkpoint" / MANIFEST)["base"] == base
    assert not list(pruned.parent.glob(".*partial*"))  # no temporary left beside it


def test_calibration_is_what_the_workflow_draws(tiny_model_dir, embedded_corpus):
    # The workflow's calibration rule on its embedded text (conftest makes it as the
    # embedded_text rule does) gives the windows the command draws in memory.
    from prunebench.data import draw_windows, load_rows
    from prunebench.methods.registry import resolve_calibration

    tokenizer = modeling.load_tokenizer(tiny_model_dir)
    settings = resolve_calibration("flap", {"source": "embedded", "n": 3, "length": 32})
    expected = draw_windows(load_rows("embedded", "train", embedded_corpus), tokenizer, 3, 32,
                            settings["seed"], settings["sampling"], source="embedded")
    assert draw_calibration(tokenizer, settings).equal(expected)


def test_data_free_method_parses_params_and_refuses_a_full_output(tiny_model_dir, tmp_path,
                                                                   capsys):
    out = tmp_path / "mag"
    out.mkdir()
    (out / "keep.txt").write_text("the user's own file")
    argv = ["prune", tiny_model_dir, "--method", "depth_mag", "--size", "0.8", "--out", out,
            "--param", "protect_first=1", "--param", "protect_last=1", "--device", "cpu", "-q"]
    code, _, err = run(capsys, *argv)
    assert_one_line_error(code, err, "exists and is not empty")
    # --force replaces only an earlier prunebench output, never a folder of other files
    code, _, err = run(capsys, *argv, "--force")
    assert_one_line_error(code, err, "holds files no prunebench command wrote")
    assert (out / "keep.txt").read_text() == "the user's own file"  # untouched
    (out / "prune_report.json").write_text("{}")  # an earlier result beside the user's file
    (out / "plots").mkdir()
    code, _, err = run(capsys, *argv, "--force")
    assert_one_line_error(code, err, "also holds keep.txt, plots/, which no prunebench command "
                                     "wrote there")
    assert (out / "keep.txt").read_text() == "the user's own file"  # untouched
    (out / "keep.txt").unlink()
    (out / "plots").rmdir()
    code, stdout, _ = run(capsys, *argv, "--force")
    assert code == 0 and "depth_mag-0.8" in stdout
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint", "prune_report.json"]
    report = read_json(out / "prune_report.json")
    assert report["calibration"] is None  # data-free: no windows drawn, none reported
    # "1" became the integer 1, which the method accepts and records
    assert report["method_report"]["protect_first"] == 1
    assert report["method_report"]["protect_last"] == 1


def test_a_failed_prune_leaves_nothing(tiny_model_dir, tmp_path, monkeypatch):
    from prunebench import pruning

    def half_written(model_dir, method, size, out_dir, *args, **kwargs):
        Path(out_dir).mkdir(parents=True)
        (Path(out_dir) / "model.safetensors").write_bytes(b"half")
        raise RuntimeError("killed half-way")

    monkeypatch.setattr(pruning, "prune_checkpoint", half_written)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="half-way"):
        main(["prune", str(tiny_model_dir), "--method", "depth_mag", "--size", "0.8",
              "--out", str(out), "-q"])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("extra, expected", [
    (["--method", "magic", "--size", "0.8"], "unknown pruning method 'magic'"),
    (["--method", "magic", "--size", "0.8"], "depth_ppl"),  # the known ones are listed
    (["--method", "dense", "--size", "0.8"], "nothing to prune"),
    (["--method", "depth_ppl", "--size", "100M"], "larger than the model"),
    (["--method", "depth_ppl", "--size", "0"], "must be positive"),
    (["--method", "depth_ppl", "--size", "1.5"], "ambiguous"),
    (["--method", "depth_mag", "--size", "1"], "keeps every parameter"),
    (["--method", "depth_ppl", "--size", "0.8", "--calibration", "embedded", "--length", "1025"],
     "calibration windows of 1025 tokens (--length) exceed the model's context of 1024"),
    (["--method", "depth_mag", "--size", "1e6"], "malformed target size '1e6'"),  # no '1E6' hint
    (["--method", "llm_pruner", "--size", "0.8", "--param", "ratio=1"],
     "ratio 1.0 keeps"),  # a ratio whose size is not the variant's
    (["--method", "depth_ppl", "--size", "0.8", "--param", "protect_first"], "key=value"),
    (["--method", "depth_ppl", "--size", "0.8", "--param", "=3"], "key=value"),
    (["--method", "depth_ppl", "--size", "0.8", "--param", "bogus=1"], "unknown parameter"),
    (["--method", "depth_ppl", "--size", "0.8", "--param", "protect_frist=1"],
     "unknown parameter(s) ['protect_frist'] (did you mean 'protect_first'?)"),
    (["--method", "flap", "--size", "0.8", "--param", "metrc=IFV"],
     "unknown parameter(s) ['metrc'] (did you mean 'metric'?)"),
    (["--method", "depth_ppl", "--size", "0.8", "--param", "protect_first=1", "--param",
      "protect_first=2"], "given twice"),
    (["--method", "depth_mag", "--size", "0.8", "--calibration", "embedded"], "data-free"),
    (["--method", "depth_ppl", "--size", "0.8", "--calibration", "books"],
     "unknown --calibration source 'books'"),
    (["--method", "depth_ppl", "--size", "0.8", "--sampling", "random"], "unknown --sampling"),
])
def test_prune_bad_input(tiny_model_dir, tmp_path, capsys, extra, expected):
    out = tmp_path / "out"
    code, _, err = run(capsys, "prune", tiny_model_dir, "--out", out, "--device", "cpu", *extra)
    assert_one_line_error(code, err, expected)
    assert not out.exists()


def test_a_model_given_as_a_file_or_a_workflow_source_is_told_what_to_give(tiny_model_dir,
                                                                           tmp_path, capsys):
    """MODEL <folder>/config.json was told 'config.json is missing'; `random:llama-7b` (a
    config's source) 'no model at random:llama-7b'."""
    model = shutil.copytree(tiny_model_dir, tmp_path / "model")
    code, _, err = run(capsys, "prune", model / "config.json", "--method", "depth_mag", "--size",
                       "0.8", "--out", tmp_path / "out")
    assert_one_line_error(code, err, f"{model / 'config.json'} is a file, not a checkpoint "
                                     f"folder: give the folder holding config.json")
    assert f"({model} holds a config.json)" in err and "is missing" not in err
    for source in ("random:llama-7b", "tiny"):
        code, _, err = run(capsys, "bench", source, "--tokens", "4x4", "--batch", "1")
        assert_one_line_error(code, err, f"MODEL {source!r}: a workflow config's source")
    assert not (tmp_path / "out").exists()


def test_prune_refuses_a_missing_model_and_an_output_inside_it(tiny_model_dir, tmp_path,
                                                                capsys):
    code, _, err = run(capsys, "prune", tmp_path / "nowhere", "--method", "depth_ppl", "--size",
                       "0.8", "--out", tmp_path / "out")
    assert_one_line_error(code, err, "no model at")
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "prune", tmp_path / "empty", "--method", "depth_ppl", "--size",
                       "0.8", "--out", tmp_path / "out")
    assert_one_line_error(code, err, "config.json is missing")
    copy = shutil.copytree(tiny_model_dir, tmp_path / "model")
    code, _, err = run(capsys, "prune", copy, "--method", "depth_mag", "--size", "0.8", "--out",
                       copy, "--force")
    assert_one_line_error(code, err, "holds the model")
    assert (copy / "config.json").exists()
    # nor a path inside it: a benchmark's JSON over the model's config.json
    assert_bench_refused_over(capsys, copy, copy / "config.json", "is inside the model folder")
    # an output path under a file is refused before any work
    (tmp_path / "afile").write_text("")
    for argv in (["prune", copy, "--method", "depth_mag", "--size", "0.8"],
                 ["bench", copy, "--tokens", "4x2", "--batch", "1"],
                 ["eval", copy, "--ppl", "embedded"]):
        code, _, err = run(capsys, *argv, "--out", tmp_path / "afile" / "sub")
        assert_one_line_error(code, err, "afile is a file, not a folder")


def test_prune_refuses_a_count_equal_to_the_dense_model(tiny_model_dir, tmp_path, capsys):
    from prunebench.modeling import count_params, load_config

    dense = count_params(load_config(tiny_model_dir))
    code, _, err = run(capsys, "prune", tiny_model_dir, "--method", "depth_mag", "--size", dense,
                       "--out", tmp_path / "out")
    assert_one_line_error(code, err, "keeps every parameter")


def test_prune_refuses_a_pruned_checkpoint_as_its_model(pruned, tmp_path, capsys):
    """Its size would be measured against the pruned model, its name say it came from dense."""
    for model in (pruned, pruned / "checkpoint"):
        code, _, err = run(capsys, "prune", model, "--method", "depth_mag", "--size", "0.8",
                           "--out", tmp_path / "again")
        assert_one_line_error(code, err, "holds depth_ppl-0.8 of ")
        assert "an output of prunebench prune or recover" in err and "prune the dense" in err
    assert not (tmp_path / "again").exists()


def test_a_checkpoint_named_by_dot_is_its_pruned_variant(pruned, monkeypatch):
    from prunebench.commands.model_source import resolve_model

    monkeypatch.chdir(pruned / "checkpoint")
    assert resolve_model(".").variant == "depth_ppl-0.8"


def test_an_output_that_cannot_be_written_is_refused_before_any_work(tiny_model_dir, tmp_path,
                                                                      capsys, monkeypatch):
    """An evaluation found it could not write only after scoring everything."""
    import prunebench.commands.arguments as arguments

    def unwritable(**kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(arguments.tempfile, "NamedTemporaryFile", unwritable)
    loads = []
    monkeypatch.setattr("prunebench.modeling.load_model", lambda *a, **k: loads.append(a))
    for argv in (["eval", tiny_model_dir, "--ppl", "embedded"],
                 ["prune", tiny_model_dir, "--method", "depth_mag", "--size", "0.8"],
                 ["bench", tiny_model_dir, "--tokens", "4x2", "--batch", "1"]):
        code, _, err = run(capsys, *argv, "--out", tmp_path / "out")
        assert_one_line_error(code, err, f"cannot write in {tmp_path} (Permission denied)")
    assert not loads


def test_a_symbolic_link_as_output_is_refused(tiny_model_dir, tmp_path, capsys):
    """Replacing the output replaced the link itself, and left a link the next run tripped on."""
    (tmp_path / "real").mkdir()
    (tmp_path / "latest").symlink_to(tmp_path / "real")
    code, _, err = run(capsys, "prune", tiny_model_dir, "--method", "depth_mag", "--size", "0.8",
                       "--out", tmp_path / "latest", "--force")
    assert_one_line_error(code, err, "is a symbolic link")
    assert (tmp_path / "latest").is_symlink()


def test_force_replaces_only_an_output_of_the_same_kind(pruned, tmp_path, capsys):
    """An eval over a prune output would delete the checkpoint; a perplexity-only eval over an
    earlier eval would delete its zero-shot results."""
    copy = shutil.copytree(pruned, tmp_path / "pruned")
    code, _, err = run(capsys, "eval", copy, "--ppl", "embedded", "--out", copy, "--force")
    assert code == 2  # its own model: refused as such
    other = shutil.copytree(pruned, tmp_path / "other")
    code, _, err = run(capsys, "eval", copy, "--ppl", "embedded", "--out", other, "--force")
    assert_one_line_error(code, err, "holds prune_report.json (written by prunebench prune or "
                                     "recover), which this command does not write")
    earlier = tmp_path / "earlier-eval"
    earlier.mkdir()
    (earlier / "zeroshot.json").write_text("{}")
    (earlier / "lm_eval.json").write_text("{}")
    code, _, err = run(capsys, "eval", copy, "--ppl", "embedded", "--out", earlier, "--force")
    assert_one_line_error(code, err, "holds zeroshot.json, lm_eval.json (written by prunebench "
                                     "eval)")
    assert (other / "checkpoint").is_dir() and (earlier / "zeroshot.json").exists()


def assert_bench_refused_over(capsys, model, target: Path, expected: str) -> None:
    """`bench --force` onto the file `target`: refused with `expected`, the file as it was."""
    before = target.read_bytes()
    code, _, err = run(capsys, "bench", model, "--tokens", "4x2", "--batch", "1", "--out",
                       target, "--force")
    assert_one_line_error(code, err, expected)
    assert target.read_bytes() == before


def test_bench_force_replaces_only_a_benchmark_file(pruned, tmp_path, capsys):
    copy = shutil.copytree(pruned, tmp_path / "pruned")
    assert_bench_refused_over(capsys, copy, copy / "prune_report.json",
                              "an output of prunebench prune or recover")
    (tmp_path / "notes.json").write_text('{"mine": 1}')
    assert_bench_refused_over(capsys, copy, tmp_path / "notes.json",
                              "is no benchmark JSON of prunebench bench")


def test_sigterm_ends_a_command_as_ctrl_c_does(tiny_model_dir, tmp_path, capsys, monkeypatch):
    """A batch system's time limit: the output being written is dropped whole, one line said."""
    import os
    import signal

    def killed(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr("prunebench.pruning.prune_checkpoint", killed)
    before = signal.getsignal(signal.SIGTERM)
    code, _, err = run(capsys, "prune", tiny_model_dir, "--method", "depth_mag", "--size", "0.8",
                       "--out", tmp_path / "out", "--device", "cpu")
    assert code == 143 and err.strip().splitlines()[-1].startswith("interrupted:")
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.partial-*"))
    assert signal.getsignal(signal.SIGTERM) is before


def test_an_interrupted_prune_resumes_its_scoring(tiny_model_dir, tmp_path, capsys, monkeypatch):
    """depth_ppl's losses computed before Ctrl-C are kept; the same command rerun computes only
    the rest, and deletes them once its output is whole."""
    from prunebench.methods import depth

    progress = tmp_path / "progress"
    monkeypatch.setenv("PRUNEBENCH_SCORING_PROGRESS", str(progress))
    real, calls = depth.calibration_nll, []

    def interrupted_at_the_fourth(*args):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(depth, "calibration_nll", interrupted_at_the_fourth)
    argv = ["prune", tiny_model_dir, "--method", "depth_ppl", "--size", "0.8", "--out",
            tmp_path / "out", "--calibration", "embedded", "--n", "4", "--length", "64",
            "--device", "cpu", "-q"]
    code, _, err = run(capsys, *argv)
    assert code == 130 and not (tmp_path / "out").exists()
    assert len(list(progress.glob("*.jsonl"))) == 1
    code, _, err = run(capsys, *argv)
    assert code == 0, err
    report = read_json(tmp_path / "out" / "prune_report.json")
    assert report["method_report"]["calibration_loss_counts"]["reused"] == 3
    assert not list(progress.glob("*.jsonl"))


def test_a_cache_folder_that_is_a_file_is_named(tmp_path):
    (tmp_path / "afile").write_text("")
    with pytest.raises(PrunebenchError, match="--cache-dir .*afile is a file"):
        hub_checkpoint("hf:org/model@abc", tmp_path / "afile")


# Each command's required arguments, for tests of the parser alone.
MINIMAL_ARGV = {"prune": ["m", "--method", "depth_ppl", "--size", "0.8", "--out", "o"],
                "bench": ["m", "--tokens", "4x2"], "eval": ["m", "--ppl", "embedded"],
                "recover": ["m", "--out", "o"]}


@pytest.mark.parametrize("command, argv, expected", [
    ("prune", ["--device", "gpu"], "unknown device 'gpu'"),
    ("prune", ["--out", ""], "argument --out: '' is empty: name the folder (or file) to write"),
    ("eval", ["--out", " "], "argument --out: ' ' is empty"),
    ("bench", ["--out", ""], "argument --out: '' is empty"),
    ("bench", ["--device", "CPU"], "unknown device 'CPU'"),
    ("eval", ["--device", "cuda:x"], "unknown device 'cuda:x'"),
    ("recover", ["--device", "mps"], "unknown device 'mps'"),
    ("eval", ["--limit", "0"], "--limit: '0': give a whole number of documents"),
    ("eval", ["--limit", "-1"], "'-1': give a whole number"),
    ("eval", ["--limit", "1.5"], "'1.5': give a whole number"),
    ("eval", ["--limit", "abc"], "'abc': give a whole number"),
    ("eval", ["--batch-size", "0"], "--batch-size: '0': give a whole number of at least 1"),
    ("eval", ["--batch-size", "-2"], "'-2': give a whole number of at least 1"),
    ("eval", ["--max-windows", "0"], "--max-windows: '0'"),
    ("eval", ["--stride", "0"], "--stride: '0'"),
    ("eval", ["--num-fewshot", "-1"], "--num-fewshot: '-1': give a whole number of at least 0"),
    # named by the option typed, not by the config key behind it (lora.r, benchmark.warmup)
    ("recover", ["--rank", "0"], "--rank: '0': give a whole number of at least 1"),
    ("recover", ["--lr", "nan"], "--lr: 'nan': give a number above 0"),
    ("recover", ["--max-length", "1"], "--max-length: '1': give a whole number of at least 2"),
    ("bench", ["--warmup", "0"], "--warmup: '0': give a whole number of at least 1"),
    ("bench", ["--repeats", "0"], "--repeats: '0'"),
    ("bench", ["--max-seconds", "0"], "--max-seconds: '0': give a number of seconds above 0"),
    # a percentage typed for a share is named with the share it meant
    ("bench", ["--ci-target", "5"], "--ci-target: '5': give a share of the mean between 0 and "
                                    "1, e.g. 0.05 for 5%"),
    ("prune", ["--n", "0"], "--n: '0': give a whole number of at least 1"),
    ("prune", ["--length", "1"], "--length: '1': give a whole number of at least 2"),
    ("prune", ["--seed", "-1"], "--seed: '-1': give a whole number of at least 0"),
])
def test_malformed_numbers_and_devices_are_refused_by_the_parser(command, argv, expected,
                                                                  capsys):
    base = MINIMAL_ARGV[command]
    with pytest.raises(SystemExit) as exit_info:
        command_parsers()[command].parse_args([*base, *argv])
    assert exit_info.value.code == 2
    assert expected in capsys.readouterr().err


@pytest.mark.parametrize("command", sorted(MINIMAL_ARGV))
def test_an_empty_model_is_refused_by_name(command, capsys):
    """An unset shell variable as MODEL was looked for as the current folder ("error:  holds no
    model")."""
    with pytest.raises(SystemExit) as exit_info:
        command_parsers()[command].parse_args(["", *MINIMAL_ARGV[command][1:]])
    assert exit_info.value.code == 2
    assert "argument MODEL: '' is empty: give a checkpoint folder or hf:" in capsys.readouterr().err
    if command == "bench":  # the dense model it is timed against, too
        with pytest.raises(SystemExit):
            command_parsers()[command].parse_args([*MINIMAL_ARGV[command], "--against", " "])
        assert "argument --against: ' ' is empty" in capsys.readouterr().err


def test_a_value_starting_with_a_dash_is_told_how_to_be_given(tiny_model_dir, tmp_path, capsys):
    """argparse takes `--tokens -1x8` for two options ("expected one argument"); the message
    says how to pass such a value, which then gets the command's own refusal."""
    out = tmp_path / "bench.json"
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", str(tiny_model_dir), "--tokens", "-1x8", "--out", str(out)])
    assert exit_info.value.code == 2
    assert "join it to its option with '=', e.g. --tokens=-1x8" in capsys.readouterr().err
    code, _, err = run(capsys, "bench", tiny_model_dir, "--tokens=-1x8", "--out", out)
    assert_one_line_error(code, err, "--tokens")
    assert not out.exists()


def test_well_formed_numbers_and_devices_pass_the_parser():
    args = command_parsers()["eval"].parse_args(
        ["m", "--device", "cuda:1", "--limit", "0.25", "--batch-size", "2", "--max-windows", "3",
         "--num-fewshot", "0"])
    assert (args.device, args.limit, args.batch_size, args.max_windows) == ("cuda:1", 0.25, 2, 3)
    assert command_parsers()["eval"].parse_args(["m", "--limit", "50"]).limit == 50


def test_hub_calibration_offline_is_refused_at_once(tiny_model_dir, tmp_path, capsys,
                                                    monkeypatch):
    monkeypatch.setattr(cli, "hub_reachable", lambda: False)
    for variable in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(variable, raising=False)
    code, _, err = run(capsys, "prune", tiny_model_dir, "--method", "depth_ppl", "--size", "0.8",
                       "--out", tmp_path / "out", "--calibration", "wikitext2")
    assert_one_line_error(code, err, "hub is unreachable from here: calibrate on the "
                          "pipeline's own text instead (--calibration embedded); or run where")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("variable", ["HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"])
def test_offline_caches_are_used_without_asking_the_hub(monkeypatch, variable):
    def never():
        raise AssertionError("with the offline switch set, the caches answer: no connection")

    monkeypatch.setattr(cli, "hub_reachable", never)
    monkeypatch.setenv(variable, "1")
    require_hub("calibration from wikitext2")  # no error: datasets reads its cache


# A misspelt argument of each command, with the close name its message offers.
TYPOS = [
    (["prune", "m", "--method", "tylor", "--size", "0.8", "--out", "o"],
     "unknown pruning method 'tylor' (did you mean 'depth_taylor'?)"),
    (["prune", "m", "--method", "flap", "--size", "0.8", "--out", "o", "--param", "metrc=WIFV"],
     "flap: unknown parameter(s) ['metrc'] (did you mean 'metric'?)"),
    (["prune", "m", "--method", "depth_ppl", "--size", "0.8", "--out", "o", "--sampling",
      "wraped"], "unknown --sampling 'wraped' (did you mean 'wrapped'?)"),
    (["bench", "m", "--tokens", "12x4", "--backend", "hff"],
     "unknown --backend 'hff' (did you mean 'hf'?)"),
    (["eval", "m", "--ppl", "wikitxt2"], "unknown --ppl dataset 'wikitxt2' (did you mean "
                                         "'wikitext2'?)"),
    (["eval", "m", "--tasks", "boolq,hellaswg"], "has no task 'hellaswg' (did you mean "
                                                 "'hellaswag'"),
    (["recover", "m", "--out", "o", "--setting", "data.sorce=embedded"],
     "unknown --setting data.sorce (did you mean 'data.source'?)"),
    (["recover", "m", "--out", "o", "--setting", "rank=4"], "--setting rank: set it with --rank"),
    # a bad value too (it was refused after torch's import and the model's config)
    (["prune", "m", "--method", "flap", "--size", "0.8", "--out", "o", "--param", "metric=WIF"],
     "flap: metric='WIF' (did you mean 'WIFV'?): choose one of ['WIFV', 'IFV', 'WIFN']"),
    (["prune", "m", "--method", "depth_ppl", "--size", "1.5m", "--out", "o"],
     "--size '1.5m': write it as a variant's size is written, without spaces and with the "
     "suffix in upper case ('1.5M')"),
    (["prune", "m", "--method", "depth_ppl", "--size", " 0.8", "--out", "o"], "--size ' 0.8'"),
]


@pytest.mark.parametrize("argv, expected", TYPOS)
def test_a_typo_is_refused_before_torch_is_imported(tmp_path, argv, expected):
    """Importing torch takes seconds: a misspelt argument must not wait for it. Run in a fresh
    interpreter, as this test session has torch imported already."""
    assert_refused_before_torch(tmp_path, argv, expected)


def test_a_size_larger_than_the_model_is_refused_before_torch_is_imported(tiny_model_dir,
                                                                          tmp_path):
    """Read from the model's config.json alone (it waited about 6 s for torch)."""
    assert_refused_before_torch(
        tmp_path, ["prune", str(tiny_model_dir), "--method", "depth_ppl", "--size", "100M",
                   "--out", "o"],
        "target size '100M' (100,000,000 params) is larger than the model")


def test_protection_that_leaves_no_block_is_refused_before_torch_is_imported(tiny_model_dir,
                                                                             tmp_path):
    """What the method needs of the model's shape, sized from its config.json alone."""
    assert_refused_before_torch(
        tmp_path, ["prune", str(tiny_model_dir), "--method", "depth_taylor", "--size", "0.8",
                   "--param", "protect_first=6", "--param", "protect_last=2", "--out", "o"],
        "protect_first=6 and protect_last=2 leave no removable block out of 8")


def assert_refused_before_torch(tmp_path, argv, expected):
    import subprocess

    probe = ("import json, sys\n"
             "from prunebench.cli import main\n"
             f"code = main({argv!r})\n"
             "print(json.dumps([code, 'torch' in sys.modules]))\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    code, torch_imported = json.loads(done.stdout.strip().splitlines()[-1])
    assert_one_line_error(code, done.stderr, expected)
    assert not torch_imported, "torch was imported before the typo was refused"
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize("items, expected", [
    (["a=1", "b=0.25", "c=true", "d=False", "e=param_first", "f=null", "g=UL-UM"],
     {"a": 1, "b": 0.25, "c": True, "d": False, "e": "param_first", "f": None, "g": "UL-UM"}),
    ([], {}),
])
def test_param_values_are_typed(items, expected):
    assert parse_params(items) == expected


# --------------------------------------------------------------------------- recover

# A short recovery on the embedded records (2 optimizer steps), as a `lora:` config section.
QUICK_LORA = {"data": {"source": "embedded", "val_size": 8, "max_train": 16},
              "template": "plain", "epochs": 1, "lr": 2e-3, "batch_size": 8,
              "micro_batch_size": 4, "max_length": 64, "warmup_steps": 1, "eval_every": 1}
QUICK_RECOVER = ["--data", "embedded", "--val-size", "8", "--max-train", "16", "--template",
                 "plain", "--epochs", "1", "--lr", "2e-3", "--batch-size", "8",
                 "--micro-batch-size", "4", "--max-length", "64", "--warmup-steps", "1",
                 "--eval-every", "1", "--device", "cpu", "-q"]
# What workflow/scripts/lora.py adds to the base variant's report.
RECOVERY_KEYS = {"base_variant", "recovery", "base_provenance"}


@pytest.fixture(scope="module")
def recovered(pruned, tmp_path_factory):
    """`prunebench recover` output: the depth_ppl-0.8 checkpoint after a quick LoRA run."""
    out = tmp_path_factory.mktemp("recover") / "tiny-ppl-lora"
    assert main(["recover", str(pruned), "--out", str(out), *QUICK_RECOVER]) == 0
    return out


def test_recover_writes_the_workflows_lora_checkpoint_and_report(recovered, pruned):
    from prunebench.commands.model_source import resolve_model
    from prunebench.plan.variants import lora_settings

    assert sorted(p.name for p in recovered.iterdir()) == ["checkpoint", "prune_report.json"]
    base, report = read_json(pruned / "prune_report.json"), read_json(recovered / "prune_report.json")
    assert set(report) == set(base) | RECOVERY_KEYS
    assert report["variant"] == "depth_ppl-0.8+lora" and report["base_variant"] == "depth_ppl-0.8"
    assert report["checkpoint"] == str(recovered / "checkpoint")
    # The base's fields stay (the tables place the recovered variant beside its base), and its
    # provenance moves to base_provenance.
    assert {k: v for k, v in report.items() if k in base and k not in
            ("variant", "checkpoint", "provenance")} == \
        {k: v for k, v in base.items() if k not in ("variant", "checkpoint", "provenance")}
    assert report["base_provenance"] == base["provenance"]
    recovery = report["recovery"]
    assert report["provenance"] == recovery["provenance"]
    # The settings the workflow's lora rule passes for a config with this `lora:` section.
    settings = lora_settings({"lora": QUICK_LORA})
    assert report["provenance"]["cell"]["lora"] == settings
    assert report["provenance"]["seed"] == settings["seed"]
    # The step count follows from the records that survive encoding (the tokenizer decides how
    # many fit max_length), not a fixed number: one epoch of batches of 8 over at most 16.
    assert 1 <= recovery["train_records"] <= 16
    assert recovery["steps"] == recovery["steps_per_epoch"] == math.ceil(
        recovery["train_records"] / 8)
    # Exact on any machine: the best starts as step 0's loss (no adapter) and is replaced only
    # by a strictly lower one.
    assert recovery["best_val_loss"] <= recovery["initial_val_loss"]
    model = modeling.load_model(recovered / "checkpoint")  # a plain model: no peft, verified
    assert modeling.check_param_count(model, "recovered") == report["params_after"]
    assert model.config.num_hidden_layers == report["blocks_after"]
    # bench and eval read it as the recovered variant.
    assert resolve_model(str(recovered)).variant == "depth_ppl-0.8+lora"


def test_recover_trains_on_the_workflows_instruction_records(embedded_corpus):
    from prunebench.commands.recover import instruction_records
    from prunebench.instructions import make_records

    # conftest's corpus is the workflow's embedded text (its default seed).
    data = {"source": "embedded", "seed": 7, "n_recall": 12}
    assert instruction_records(data) == make_records("embedded", embedded_corpus / "train.txt",
                                                     seed=7, n_recall=12)


def test_recover_options_make_the_lora_section():
    from prunebench.commands.recover import lora_section

    args = command_parsers()["recover"].parse_args(
        ["m", "--out", "o", "--rank", "4", "--data", "embedded", "--setting", "dropout=0.1",
         "--setting", "data.n_recall=5", "--setting", "target_modules=q_proj,v_proj"])
    section = lora_section(args)
    assert section["r"] == 4 and section["dropout"] == 0.1
    assert section["target_modules"] == ["q_proj", "v_proj"]
    assert section["data"]["source"] == "embedded" and section["data"]["n_recall"] == 5
    assert section["data"]["val_size"] == schema_entry("lora.data.val_size")["default"]
    assert "save_every" not in section  # an optional setting: absent unless given
    args = command_parsers()["recover"].parse_args(
        ["m", "--out", "o", "--eval-every", "100", "--setting", "save_every=200"])
    assert (lora_section(args)["eval_every"], lora_section(args)["save_every"]) == (100, 200)
    # `none` is one of amp's values (the fix the recovery's overflow warning gives)
    args = command_parsers()["recover"].parse_args(["m", "--out", "o", "--setting", "amp=none"])
    assert lora_section(args)["amp"] == "none"
    # a data setting without a default (lora.data.split) is settable too
    args = command_parsers()["recover"].parse_args(
        ["m", "--out", "o", "--setting", "data.split=train_test_split"])
    assert lora_section(args)["data"]["split"] == "train_test_split"


@pytest.mark.parametrize("extra, expected", [
    (["--batch-size", "10", "--micro-batch-size", "4"], "not a multiple of"),
    # the config keys a settings error names, with the options that set them
    (["--batch-size", "10", "--micro-batch-size", "4"],
     "(set by --batch-size and --micro-batch-size)"),
    (["--setting", "weight_decay=-1"],
     "(set by --warmup-steps, --setting weight_decay=... and --setting max_grad_norm=...)"),
    (["--template", "chatml"], "lora.template='chatml'"),
    (["--data", "dolly"], "lora.data.source='dolly'"),
    (["--setting", "dropout"], "--setting 'dropout' must be key=value"),
    (["--setting", "r=4"], "set it with --rank"),
    (["--setting", "rank=4"], "--setting rank: set it with --rank instead"),  # the option's name
    (["--setting", "data=3"], "--setting data: set it with --data instead"),
    (["--setting", "rnk=4"], "unknown --setting rnk"),
    (["--setting", "dropout=1.5"], "lora.dropout=1.5: must be in [0, 1) (set by --setting "
                                   "dropout=...)"),
    # found before any load, named with the option that sets it (it named only the config key)
    (["--val-size", "100000"], "only 3741 instruction records"),
    (["--val-size", "100000"], "(set by --val-size)"),
    # records that fill one batch in one epoch: one step, at a warm-up's learning rate of 0
    # (the base model was kept, unsaid); known from --max-train before anything is read, else
    # from the records left beside the validation split, before the model loads
    (["--max-train", "8"], "8 training record(s) fill one batch of lora.batch_size=8 in "
                           "lora.epochs=1, one optimizer step, and lora.warmup_steps=1"),
    (["--max-train", "8"], "raise lora.data.max_train), or set lora.epochs to 2 or more, or "
                           "lora.warmup_steps to 0"),
    (["--val-size", "3735"], "6 training record(s) fill one batch of lora.batch_size=8"),
    # records longer than the model's context (1024) trained at positions it never saw
    (["--max-length", "5000"], "lora.max_length=5000 is above the context of"),
    (["--max-length", "5000"], "(set by --max-length)"),
])
def test_recover_bad_input(pruned, tmp_path, capsys, extra, expected):
    out = tmp_path / "out"
    args = [*QUICK_RECOVER, *extra]
    code, _, err = run(capsys, "recover", pruned, "--out", out, *args)
    assert_one_line_error(code, err, expected)
    assert list(tmp_path.iterdir()) == []


def test_a_recovery_that_keeps_the_base_model_says_so(pruned, tmp_path, capsys, monkeypatch):
    """"step 0 of N kept" alone read as a recovery that had worked: step 0 is the base model.
    (The validation loss made the same at every step: no step lowers it.)"""
    import prunebench.lora as lora

    monkeypatch.setattr(lora, "validation_loss", lambda *args, **kwargs: 1.0)
    code, out, err = run(capsys, "recover", pruned, "--out", tmp_path / "out", *QUICK_RECOVER)
    assert code == 0, err
    assert "(step 0 of 2 kept)" in out
    assert ("no step of the 2 trained lowered the validation loss below the base model's "
            "(1.0000): the recovered model is the base model unchanged (step 0)") in err


@pytest.mark.parametrize("extra, ending", [
    (["--setting", "rnk=4"], "(config/README.md, `lora`)"),
    (["--setting", "micro_batch_size=3"], "set it with --micro-batch-size instead"),
])
def test_an_error_about_the_options_themselves_lists_no_options(pruned, tmp_path, capsys,
                                                                 extra, ending):
    """Only the settings' check names config keys to translate: an option's own error names
    setting keys as choices, which are not what went wrong."""
    code, _, err = run(capsys, "recover", pruned, "--out", tmp_path / "out", *QUICK_RECOVER,
                       *extra)
    assert code == 2 and err.strip().endswith(ending), err


def test_recover_on_a_full_disk_names_its_output_and_keeps_its_progress(pruned, tmp_path,
                                                                         capsys, monkeypatch):
    """The error names --out, not the hidden folder being written (the options added to
    recover's errors had dropped the cause atomic_dir names it by); the training's progress
    stays, so the same command resumes."""
    import errno

    import huggingface_hub

    from prunebench.lora import SAVE_EVERY_VARIABLE, progress_path_for

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(huggingface_hub, "save_torch_state_dict", full_disk)
    monkeypatch.setenv(SAVE_EVERY_VARIABLE, "0")  # a save after every step
    out = tmp_path / "out"
    code, _, err = run(capsys, "recover", pruned, "--out", out, *QUICK_RECOVER)
    assert_one_line_error(code, err, f"no space left while writing {out} (")
    assert not out.exists() and progress_path_for(out).exists()


def test_recover_refuses_a_recovered_checkpoint_and_no_model(recovered, tmp_path, capsys):
    out = tmp_path / "out"
    for model, expected in [(recovered, "already recovered with LoRA"),
                            (tmp_path / "nowhere", "no model at")]:
        code, _, err = run(capsys, "recover", model, "--out", out, *QUICK_RECOVER)
        assert_one_line_error(code, err, expected)
    assert list(tmp_path.iterdir()) == []


def test_recover_of_a_dense_model_is_the_workflows_dense_lora(tiny_model_dir, tmp_path,
                                                              monkeypatch):
    """It used to be refused, though the workflow recovers `dense+lora`. Its base report is
    the one the workflow's dense_report rule writes."""
    from workflow_helpers import run_rule_script

    out = tmp_path / "dense-lora"
    assert main(["recover", str(tiny_model_dir), "--out", str(out), *QUICK_RECOVER]) == 0
    report = read_json(out / "prune_report.json")
    assert report["variant"] == "dense+lora" and report["base_variant"] == "dense"
    assert report["method"] == "dense" and report["target"] is None
    params = modeling.count_params(modeling.load_config(tiny_model_dir))
    assert report["params_after"] == report["params_before"] == params
    assert modeling.count_params(modeling.load_config(out / "checkpoint")) == params
    # The workflow's rule script on the same model writes the same base fields.
    run_rule_script("dense_report", monkeypatch, input={"model": str(tiny_model_dir)},
                    output={"report": str(tmp_path / "dense_report.json")},
                    wildcards={"model": tiny_model_dir.resolve().name},
                    params={"source": str(tiny_model_dir)})
    workflow = read_json(tmp_path / "dense_report.json")
    assert workflow["blocks_before"] == workflow["blocks_after"] \
        == modeling.load_config(tiny_model_dir).num_hidden_layers
    assert set(report) == set(workflow) | RECOVERY_KEYS
    same = set(workflow) - {"variant", "checkpoint", "provenance"}
    assert {k: report[k] for k in same} == {k: workflow[k] for k in same}
    assert report["base_provenance"]["cell"] == workflow["provenance"]["cell"]


def test_recover_refuses_a_full_output_and_offline_alpaca(pruned, tmp_path, capsys,
                                                          monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("earlier result")
    code, _, err = run(capsys, "recover", pruned, "--out", out, *QUICK_RECOVER)
    assert_one_line_error(code, err, "exists and is not empty")
    assert (out / "keep.txt").read_text() == "earlier result"
    code, _, err = run(capsys, "recover", pruned, "--out", pruned, "--force", *QUICK_RECOVER)
    assert_one_line_error(code, err, "holds the model")
    assert (pruned / "checkpoint" / "config.json").is_file()
    # The default data is the study's Alpaca-cleaned, a hub dataset.
    monkeypatch.setattr(cli, "hub_reachable", lambda: False)
    for variable in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(variable, raising=False)
    code, _, err = run(capsys, "recover", pruned, "--out", tmp_path / "r2", "--device", "cpu")
    assert_one_line_error(code, err, "hub is unreachable")
    assert "alpaca" in err
    assert not (tmp_path / "r2").exists()


def test_a_warm_up_longer_than_the_recovery_is_warned_of(tiny_model_dir, tmp_path, capsys):
    """The study's 100 warm-up steps on a short run (a few hundred records) kept the learning
    rate near 0 throughout: a '+lora' model barely different from its base, said nowhere."""
    options = list(QUICK_RECOVER)
    options[options.index("--warmup-steps") + 1] = "100"
    code, _, err = run(capsys, "recover", tiny_model_dir, "--out", tmp_path / "r", *options)
    assert code == 0, err
    assert "lora.warmup_steps=100 is not below this run's 2 optimizer step(s)" in err
    assert "set warmup_steps below 2 (prunebench recover --warmup-steps)" in err
    code, _, err = run(capsys, "recover", tiny_model_dir, "--out", tmp_path / "r2", *QUICK_RECOVER)
    assert code == 0 and "warmup_steps" not in err


# --------------------------------------------------------------------------- bench


def test_bench_prints_the_sweep_and_writes_the_workflows_json(pruned, tmp_path, capsys,
                                                             monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default output goes to the working directory
    code, stdout, _ = run(capsys, "bench", pruned, "--tokens", "4x3", "--batch", "2,1",
                          *QUICK_BENCH)
    assert code == 0
    report = read_json(pruned / "prune_report.json")
    out = tmp_path / f"bench-{report['model']}-depth_ppl-0.8-hf-4x3.json"
    assert f"wrote {out.name}" in stdout
    result = read_json(out)
    assert set(result) >= BENCH_KEYS
    assert (result["variant"], result["backend"]) == ("depth_ppl-0.8", "hf")
    assert (result["input_tokens"], result["output_tokens"]) == (4, 3)
    assert result["params"] == report["params_after"]
    assert [r["batch_size"] for r in result["rows"]] == [1, 2]
    for row in result["rows"]:
        assert set(row) >= ROW_KEYS and row["status"] == "ok" and row["runs"] == 2
    assert result["provenance"]["cell"]["source"] == str(pruned)
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["batch"])
    assert all(word in lines[header] for word in ("latency", "tok/s", "CV", "flags"))
    assert [line.split()[0] for line in lines[header + 1:header + 3]] == ["1", "2"]
    assert not list(tmp_path.glob(".*unfinished*"))  # the resume file goes once complete
    code, _, err = run(capsys, "bench", pruned, "--tokens", "4x3", *QUICK_BENCH)
    assert_one_line_error(code, err, "exists")  # never overwritten without --force


@pytest.mark.parametrize("backend, per_block", [("hf", 7), ("compiled", 4)])
def test_bench_profiles_its_decode_steps_when_asked(backend, per_block, pruned, tmp_path,
                                                    capsys):
    """--profile-steps N: each batch size's row keeps the profile of N decode steps, and the
    command prints it: HF's seven projections a block (the compiled decoder fuses q/k/v and
    gate/up into four) and the LM head, per step."""
    out = tmp_path / "profiled.json"
    code, stdout, err = run(capsys, "bench", pruned, "--tokens", "4x4", "--batch", "1",
                            "--backend", backend, "--profile-steps", "2", "--out", out,
                            *QUICK_BENCH)
    assert code == 0, err
    result = read_json(out)
    profile = result["rows"][0]["kernel_profile"]
    assert profile["status"] == "ok" and profile["steps"] == 2
    linear = next(r for r in profile["top"] if r["name"] == "aten::linear")
    assert linear["per_step"] == per_block * result["blocks"] + 1
    assert "batch size 1, 2 decode steps:" in stdout and "| `aten::linear` |" in stdout
    with pytest.raises(SystemExit) as stop:  # argparse's refusal, before anything loads
        run(capsys, "bench", pruned, "--tokens", "4x4", "--profile-steps", "-1")
    assert stop.value.code == 2
    assert "argument --profile-steps: '-1': give a whole number of at least 0" in \
        capsys.readouterr().err


def test_bench_against_its_dense_model_times_the_two_in_turns(pruned, tiny_model_dir, tmp_path,
                                                              capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, stdout, err = run(capsys, "bench", pruned, "--against", tiny_model_dir, "--tokens",
                            "4x3", "--batch", "2,1", "--warmup", "1", "--repeats", "3",
                            "--device", "cpu", "-q")
    assert code == 0, err
    report = read_json(pruned / "prune_report.json")
    out = tmp_path / f"paired-{report['model']}-depth_ppl-0.8-hf-4x3.json"
    result = read_json(out)
    assert (result["against"], result["pairs"]) == ("dense", 3)
    assert (result["params"], result["dense_params"]) == (report["params_after"],
                                                          report["params_before"])
    assert [(r["batch_size"], len(r["dense_latencies_s"])) for r in result["rows"]] == [(1, 3),
                                                                                        (2, 3)]
    cell = result["provenance"]["cell"]
    assert cell["against"] == str(tiny_model_dir) and cell["pairs"] == 3
    assert not {"max_repeats", "ci_target"} & set(cell)
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["batch"])
    assert "speed-up" in lines[header] and "unpaired interval" in lines[header]
    assert [line.split()[0] for line in lines[header + 1:header + 3]] == ["1", "2"]
    assert not list(tmp_path.glob(".*unfinished*"))


@pytest.mark.parametrize("extra, expected", [
    (["--max-repeats", "9"], "--max-repeats sets adaptive repeats, which paired timing"),
    (["--ci-target", "0.1", "--max-seconds", "5"], "--max-seconds and --ci-target set adaptive"),
    (["--repeats", "1"], "at least 2 pairs"),
    (["--profile-steps", "4"], "paired timing (--against) profiles none"),
])
def test_bench_against_refuses_what_paired_timing_does_not_take(pruned, tiny_model_dir, tmp_path,
                                                               capsys, extra, expected):
    out = tmp_path / "paired.json"
    code, _, err = run(capsys, "bench", pruned, "--against", tiny_model_dir, "--tokens", "4x3",
                       "--out", out, "--device", "cpu", *extra)
    assert_one_line_error(code, err, expected)
    assert not out.exists()
    code, _, err = run(capsys, "bench", pruned, "--against", tmp_path / "nowhere", "--tokens",
                       "4x3", "--out", out)
    assert_one_line_error(code, err, "no model at")
    # a pruned model is no dense one to time against (against itself: a "speed-up" of ~1.0x)
    code, _, err = run(capsys, "bench", pruned, "--against", pruned, "--tokens", "4x3",
                       "--out", out)
    assert_one_line_error(code, err, "is the depth_ppl-0.8 variant (its prune report says so)")


@pytest.mark.parametrize("backend", ["compiled", "hf_static"])
def test_bench_samples_on_every_backend_as_on_hf(backend, pruned, tmp_path, capsys):
    """Every backend samples with the study's settings when asked (the same decoding)."""
    out = tmp_path / f"{backend}.json"
    code, _, err = run(capsys, "bench", pruned, "--tokens", "4x3", "--batch", "1",
                       "--backend", backend, "--sampling", "--out", out, *QUICK_BENCH)
    assert code == 0, err
    result = read_json(out)
    assert result["backend"] == backend and result["rows"][0]["status"] == "ok"
    assert result["sampling"] == {"top_k": 50, "top_p": 0.95, "temperature": 1.0}
    assert result["provenance"]["cell"]["sampling"] is True


@pytest.mark.parametrize("extra, expected", [
    (["--tokens", "12x0"], "generates nothing"),
    (["--tokens", "0x4"], "generates nothing"),
    (["--tokens", "abc"], "malformed --tokens 'abc'"),
    # several token configs, as benchmark.token_configs lists them: one per command, said so
    (["--tokens", "12x128,12x64"], "--tokens '12x128,12x64' gives 2 token configs, and a "
     "benchmark takes one token config per command: run it once per config (--tokens 12x128 "
     "and --tokens 12x64)"),
    (["--tokens", "4x2 4x1"], "one token config per command"),
    (["--tokens", "12x4", "--batch", "1,x"], "--batch"),
    (["--tokens", "12x4", "--batch", "0,8"], "positive batch sizes"),
    (["--tokens", "12x4", "--backend", "tpu"], "unknown --backend 'tpu'"),
    (["--tokens", "12x4", "--backend", "tpu"], "compiled"),  # the known ones are listed
    (["--tokens", "12x4", "--dtype", "int3"], "unknown --dtype"),
    (["--tokens", "2000x100"], "max_position_embeddings"),
    (["--tokens", "4x4", "--batch", ""], "--batch '' has an empty entry"),  # not the default sweep
    (["--tokens", "4x4", "--batch", "1,,8"], "--batch '1,,8' has an empty entry: separate its "
     "entries with single commas"),
    (["--tokens", "4x4", "--attention", "efficient"], "--attention efficient is a kernel of CUDA"),
    (["--tokens", "4x4", "--attention", "cudnn"], "--attention cudnn is a kernel of CUDA only"),
])
def test_bench_bad_input(tiny_model_dir, tmp_path, capsys, extra, expected):
    out = tmp_path / "bench.json"
    code, _, err = run(capsys, "bench", tiny_model_dir, "--out", out, *QUICK_BENCH, *extra)
    assert_one_line_error(code, err, expected)
    assert not out.exists()


@pytest.mark.parametrize("backend", ["hf", "hf_static"])
def test_a_compile_mode_for_an_hf_backend_is_refused_not_ignored(backend, tiny_model_dir,
                                                                 tmp_path, capsys):
    out = tmp_path / "bench.json"
    code, _, err = run(capsys, "bench", tiny_model_dir, "--out", out, *QUICK_BENCH, "--tokens",
                       "4x2", "--backend", backend, "--compile-mode", "autotune-graph")
    assert_one_line_error(code, err, "--compile-mode autotune-graph sets the compiled backend; "
                                     f"the {backend!r} backend has none")
    assert not out.exists()


def test_bench_refuses_a_missing_model(tmp_path, capsys):
    code, _, err = run(capsys, "bench", tmp_path / "nowhere", "--tokens", "4x4")
    assert_one_line_error(code, err, "no model at")


def test_bench_on_a_folder_without_manifest_warns_but_a_workflow_one_is_refused(
        tiny_model_dir, tmp_path, capsys):
    mine = tmp_path / "my-model"
    shutil.copytree(tiny_model_dir, mine)
    (mine / modeling.MANIFEST).unlink()  # e.g. saved by transformers
    out = tmp_path / "bench.json"
    code, _, err = run(capsys, "bench", mine, "--tokens", "4x2", "--batch", "1", "--out", out,
                       *QUICK_BENCH)
    assert code == 0, err
    assert f"checkpoint {mine} has no {modeling.MANIFEST}" in err and "not verified" in err
    assert read_json(out)["rows"][0]["status"] == "ok"

    # The same folder where the workflow keeps its base models, which always have a manifest.
    workflow_model = tmp_path / "resources" / "models" / "tiny"
    workflow_model.parent.mkdir(parents=True)
    mine.rename(workflow_model)
    code, _, err = run(capsys, "bench", workflow_model, "--tokens", "4x2", "--batch", "1",
                       "--out", tmp_path / "refused.json", *QUICK_BENCH)
    assert_one_line_error(code, err, f"checkpoint {workflow_model} has no {modeling.MANIFEST}")
    assert "delete the folder and rerun snakemake" in err
    assert not (tmp_path / "refused.json").exists()


# --------------------------------------------------------------------------- eval


def test_eval_writes_the_workflows_perplexity_and_zeroshot(pruned, embedded_corpus, tmp_path,
                                                          capsys):
    from prunebench.evaluate import perplexity
    from prunebench.tiny import encode_text

    out = tmp_path / "eval"
    code, stdout, _ = run(capsys, "eval", pruned, "--ppl", "embedded", "--max-windows", "3",
                          "--tasks", "pb_number", "--limit", "6", "--out", out, "--device",
                          "cpu", "-q")
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["lm_eval.json", "ppl.json", "zeroshot.json"]
    params = read_json(pruned / "prune_report.json")["params_after"]
    ppl = read_json(out / "ppl.json")
    assert set(ppl) >= PPL_KEYS and ppl["splits"] == {"embedded": "test"}
    assert (ppl["variant"], ppl["params"], ppl["window"], ppl["stride"]) == \
        ("depth_ppl-0.8", params, 128, 128)
    # The workflow's perplexity script's numbers on the embedded text it reads.
    model = modeling.load_model(pruned / "checkpoint")
    tokenizer = modeling.load_tokenizer(pruned / "checkpoint")
    stream = encode_text(tokenizer, (embedded_corpus / "test.txt").read_text())
    expected = perplexity(model, stream, 128, None, 8, 3)
    assert ppl["details"]["embedded"]["scored_tokens"] == expected["scored_tokens"]
    assert math.isclose(ppl["perplexity"]["embedded"], expected["perplexity"], rel_tol=1e-9)
    # which text was scored (hub texts are loaded at their newest revision)
    assert ppl["details"]["embedded"]["text_sha256"] == hashlib.sha256(
        (embedded_corpus / "test.txt").read_bytes()).hexdigest()
    assert f"perplexity embedded: {expected['perplexity']:.4f}" in stdout
    zeroshot = read_json(out / "zeroshot.json")
    assert set(zeroshot) >= ZEROSHOT_KEYS
    assert zeroshot["tasks"] == ["pb_number"] and zeroshot["limit"] == 6
    assert zeroshot["samples"] == {"pb_number": 6}
    assert 0 <= zeroshot["accuracy"]["pb_number"] <= 1
    assert zeroshot["suite"]["items_per_task"] == 100  # the workflow's default suite
    assert "provenance" in read_json(out / "lm_eval.json")
    assert "pb_number: acc" in stdout and "average:" in stdout
    # how many documents the accuracy is over (a --limit of a few means little) and its error
    stderr = zeroshot["metrics"]["pb_number"]["acc_stderr"]
    assert f"pb_number: acc {zeroshot['accuracy']['pb_number']:.4f} ± {stderr:.4f} " \
        "(6 documents)" in stdout


def test_quiet_eval_prints_its_results_and_no_progress_bar(tiny_model_dir, tmp_path):
    """-q: neither lm-eval's bars (tqdm, some switched off by argument, the others by the
    environment the command sets before they are imported) nor its notices about how
    prunebench calls it; the results still on stdout. A process of its own, as a user runs it."""
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "prunebench.cli", "eval", str(tiny_model_dir), "--tasks",
         "pb_number", "--limit", "4", "--out", str(tmp_path / "eval"), "--device", "cpu", "-q"],
        capture_output=True, text=True, timeout=600,
        env={k: v for k, v in os.environ.items() if k not in QUIET_BARS})
    assert done.returncode == 0, done.stderr
    assert "pb_number: acc" in done.stdout and "wrote" in done.stdout
    for noise in ("it/s", "Tokenizing inputs", "Running loglikelihood", "model kwarg is not",
                  "already-initialized model", "Overwriting default num_fewshot"):
        assert noise not in done.stderr, done.stderr


def test_quiet_restores_the_progress_bar_variables_it_set(monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "0")
    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS", raising=False)
    with without_progress_bars(True):
        assert all(os.environ[name] == value for name, value in QUIET_BARS.items())
    assert os.environ["TQDM_DISABLE"] == "0" and "HF_HUB_DISABLE_PROGRESS_BARS" not in os.environ
    with without_progress_bars(False):
        assert os.environ["TQDM_DISABLE"] == "0"


def test_eval_keeps_its_zero_shot_answers_until_it_finishes(tiny_model_dir, tmp_path, capsys,
                                                           monkeypatch):
    from prunebench.commands.evaluation import zeroshot_progress_dir
    from prunebench.commands.model_source import default_cache_dir

    monkeypatch.delenv(ZEROSHOT_PROGRESS_VARIABLE, raising=False)
    assert zeroshot_progress_dir() == default_cache_dir().parent / "zeroshot-progress"
    progress = tmp_path / "progress"
    monkeypatch.setenv(ZEROSHOT_PROGRESS_VARIABLE, str(progress))
    assert zeroshot_progress_dir() == progress
    seen: list[list[str]] = []  # the stores on disk at each forward call of the model
    real_load = modeling.load_model

    def load_watched(*args, **kwargs):
        model = real_load(*args, **kwargs)
        model.register_forward_pre_hook(
            lambda module, inputs: seen.append(sorted(p.name for p in progress.glob("*.jsonl"))))
        return model

    monkeypatch.setattr(modeling, "load_model", load_watched)
    code, _, _ = run(capsys, "eval", tiny_model_dir, "--tasks", "pb_number", "--limit", "2",
                     "--out", tmp_path / "eval", "--device", "cpu", "-q")
    assert code == 0
    assert seen and len(seen[0]) == 1 and all(names == seen[0] for names in seen)
    assert list(progress.glob("*.jsonl")) == []  # deleted once the evaluation finished


def test_eval_in_float16_runs_the_model_in_float16_and_records_it(pruned, embedded_corpus,
                                                                  tmp_path, capsys):
    """--dtype (the workflow's evaluation.<stage>.dtype): the study evaluated in float16."""
    from prunebench.evaluate import perplexity
    from prunebench.tiny import encode_text

    out = tmp_path / "eval"
    code, _, _ = run(capsys, "eval", pruned, "--ppl", "embedded", "--max-windows", "2", "--tasks",
                     "pb_number", "--limit", "4", "--dtype", "float16", "--out", out, "--device",
                     "cpu", "-q")
    assert code == 0
    ppl, zeroshot = read_json(out / "ppl.json"), read_json(out / "zeroshot.json")
    assert ppl["details"]["embedded"]["dtype"] == zeroshot["dtype"] == "float16"
    assert ppl["provenance"]["cell"]["dtype"] == zeroshot["provenance"]["cell"]["dtype"] == "float16"
    # The number is the float16 model's: the stored weights cast, then scored as in float32.
    model = modeling.load_model(pruned / "checkpoint", dtype="float16")  # a name, as configs give
    tokenizer = modeling.load_tokenizer(pruned / "checkpoint")
    stream = encode_text(tokenizer, (embedded_corpus / "test.txt").read_text())
    expected = perplexity(model, stream, 128, None, 8, 2)["perplexity"]
    assert math.isclose(ppl["perplexity"]["embedded"], expected, rel_tol=1e-9)
    # Left out, the model runs in float32 and the cell's settings have no dtype, as a workflow
    # config without it.
    code, _, _ = run(capsys, "eval", pruned, "--ppl", "embedded", "--max-windows", "2", "--out",
                     tmp_path / "fp32", "--device", "cpu", "-q")
    fp32 = read_json(tmp_path / "fp32" / "ppl.json")
    assert fp32["details"]["embedded"]["dtype"] == "float32"
    assert "dtype" not in fp32["provenance"]["cell"]
    assert fp32["perplexity"]["embedded"] != ppl["perplexity"]["embedded"]


def test_a_failed_evaluation_writes_nothing(tiny_model_dir, tmp_path, capsys, monkeypatch):
    # Perplexity is done when the zero-shot part fails: neither file may appear alone.
    from prunebench import zeroshot

    def failing(*args, **kwargs):
        raise PrunebenchError("lm-eval failed")

    monkeypatch.setattr(zeroshot, "evaluate", failing)
    out = tmp_path / "eval"
    code, _, err = run(capsys, "eval", tiny_model_dir, "--ppl", "embedded", "--max-windows", "1",
                       "--tasks", "pb_number", "--out", out, "--device", "cpu", "-q")
    assert_one_line_error(code, err, "lm-eval failed")
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_eval_scores_no_finished_dataset_again(pruned, tmp_path, capsys,
                                                              monkeypatch):
    """Perplexity done, zero-shot interrupted: the rerun reads the perplexity back (it took as
    long as the tasks on a big model) and writes what an uninterrupted evaluation writes."""
    from prunebench import evaluate, zeroshot
    from prunebench.commands.evaluation import PERPLEXITY_PROGRESS_VARIABLE

    progress = tmp_path / "progress"
    monkeypatch.setenv(PERPLEXITY_PROGRESS_VARIABLE, str(progress))
    argv = ["eval", pruned, "--ppl", "embedded", "--max-windows", "2", "--tasks", "pb_number",
            "--limit", "2", "--device", "cpu", "-q"]
    real_evaluate, real_perplexities = zeroshot.evaluate, evaluate.perplexities

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(zeroshot, "evaluate", interrupted)
    code, _, err = run(capsys, *argv, "--out", tmp_path / "eval")
    assert code == 130 and "reads back its finished perplexities" in err
    assert not (tmp_path / "eval").exists() and len(list(progress.glob("*.jsonl"))) == 1

    scored: list[list[str]] = []
    monkeypatch.setattr(zeroshot, "evaluate", real_evaluate)
    monkeypatch.setattr(evaluate, "perplexities",
                        lambda model, tokenizer, texts, settings: scored.append(list(texts))
                        or real_perplexities(model, tokenizer, texts, settings))
    # lowered after an out of memory, the batch size keeps what was scored
    code, _, _ = run(capsys, *argv, "--batch-size", "1", "--out", tmp_path / "eval")
    assert code == 0 and scored == []
    assert list(progress.glob("*.jsonl")) == []  # deleted once the files are written
    # Uninterrupted, the same evaluation scores the text and writes the same perplexity.
    code, _, _ = run(capsys, *argv, "--out", tmp_path / "whole")
    assert code == 0 and scored == [["embedded"]]
    resumed, whole = (read_json(tmp_path / name / "ppl.json") for name in ("eval", "whole"))
    assert resumed["perplexity"] == whole["perplexity"]
    assert resumed["details"] == whole["details"]  # the batch size each dataset ran with too
    assert resumed["details"]["embedded"]["batch_size"] == 8
    # Kept perplexities serve only the same scoring: another window count scores again.
    monkeypatch.setattr(zeroshot, "evaluate", interrupted)
    assert run(capsys, *argv, "--out", tmp_path / "other")[0] == 130
    monkeypatch.setattr(zeroshot, "evaluate", real_evaluate)
    scored.clear()
    code, _, _ = run(capsys, *[a if a != "2" else "1" for a in argv], "--out", tmp_path / "other")
    assert code == 0 and scored == [["embedded"]]


def test_more_few_shot_examples_than_a_task_has_are_explained(tiny_model_dir, tmp_path, capsys):
    """lm-eval's own error was a traceback ("Sample larger than population") after loading."""
    code, _, err = run(capsys, "eval", tiny_model_dir, "--tasks", "pb_agreement", "--num-fewshot",
                       "1000", "--limit", "2", "--out", tmp_path / "e", "--device", "cpu", "-q")
    assert_one_line_error(code, err, "num_fewshot 1000 asks for more examples than a task of "
                                     "['pb_agreement'] has")
    assert not (tmp_path / "e").exists()


@pytest.mark.usefixtures("unreadable_offline_suite")
def test_an_unreadable_offline_suite_is_explained_as_evals_own_not_the_workflows(
        tiny_model_dir, tmp_path, capsys):
    """eval writes its offline suite for each evaluation in a scratch folder; one that lm-eval's
    datasets could not read was explained with the workflow's fix (`snakemake ... -f
    resources/data/mc_suite/suite.json`), a folder and a rule this command never used."""
    from prunebench.commands.evaluation import SCRATCH_SUITE_FIX

    code, _, err = run(capsys, "eval", tiny_model_dir, "--tasks", "pb_number", "--limit", "2",
                       "--out", tmp_path / "e", "--device", "cpu", "-q")
    assert_one_line_error(code, err, "cannot read the offline suite's data in ")
    said = err.strip().splitlines()[-1]
    assert said.endswith(f"/mc_suite (ValueError: bad row): {SCRATCH_SUITE_FIX}"), said
    assert "snakemake" not in said and "resources/data" not in said
    assert not (tmp_path / "e").exists()


def test_a_hub_dataset_eval_cannot_load_is_explained_as_a_commands_user_fixes_it(
        tiny_model_dir, tmp_path, capsys, monkeypatch):
    """A hub dataset of lm-eval's tasks that eval could not load (offline with its caches
    lacking it: HF_DATASETS_OFFLINE passes the start's hub check) was explained with the
    workflow's pre-fetch (`snakemake prefetch --configfile <your config>`, a rule of a config
    the command's user has none of); eval says how the command itself gets it."""
    import datasets

    from prunebench.commands.evaluation import HUB_DATASET_FIX

    def offline(*args, **kwargs):  # an offline machine whose caches lack the dataset
        raise ConnectionError("Couldn't reach the Hub (offline)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    code, _, err = run(capsys, "eval", tiny_model_dir, "--tasks", "arc_easy", "--limit", "2",
                       "--out", tmp_path / "e", "--device", "cpu", "-q")
    assert_one_line_error(code, err, "lm-eval tasks ['arc_easy'] need the hub dataset ")
    said = err.strip().splitlines()[-1]
    assert said.endswith("(ConnectionError: Couldn't reach the Hub (offline)); this machine "
                         f"may be offline: {HUB_DATASET_FIX}"), said
    assert "snakemake" not in said and "resources/data" not in said
    assert not (tmp_path / "e").exists()


@pytest.mark.parametrize("extra, expected", [
    ([], "nothing to evaluate"),
    (["--ppl", "books"], "unknown --ppl dataset 'books'"),
    (["--ppl", "embedded,"], "empty entry"),
    (["--ppl", "embedded,embedded"], "twice"),
    (["--ppl", "embedded", "--bos", "never"], "unknown --bos"),
    (["--ppl", "embedded", "--dtype", "float8"], "unknown --dtype 'float8'"),
    (["--ppl", "ptb", "--tokenization", "bpe"], "unknown --tokenization 'bpe': choose one of "
                                                "['tokenizer', 'sentencepiece_legacy']"),
    (["--tasks", "pb_numbers"], "unknown offline task 'pb_numbers' (did you mean 'pb_number'?)"),
    # an option of the part not asked for: it was dropped without a word
    (["--ppl", "embedded", "--limit", "5"], "--limit 5 sets the --tasks part of the evaluation, "
                                            "and no --tasks is given, so it would change "
                                            "nothing: add --tasks, or drop --limit"),
    (["--ppl", "embedded", "--num-fewshot", "2"], "--num-fewshot 2 sets the --tasks part"),
    (["--ppl", "embedded", "--no-add-bos-token"], "--no-add-bos-token sets the --tasks part"),
    (["--tasks", "pb_number", "--window", "64"], "--window 64 sets the --ppl part of the "
                                                 "evaluation, and no --ppl is given"),
    (["--tasks", "pb_number", "--max-windows", "3"], "--max-windows 3 sets the --ppl part"),
])
def test_eval_bad_input(tiny_model_dir, tmp_path, capsys, extra, expected):
    out = tmp_path / "eval"
    code, _, err = run(capsys, "eval", tiny_model_dir, "--out", out, *extra)
    assert_one_line_error(code, err, expected)
    assert not out.exists()


@pytest.mark.parametrize("what", [["--ppl", "ptb"], ["--tasks", "pb_number"]])
def test_eval_refuses_the_studys_tokenization_without_its_model_before_loading(
        tiny_model_dir, tmp_path, capsys, monkeypatch, what):
    """The tiny model's tokenizer is no SentencePiece model: said before the weights load, for
    a hub text's perplexity and for zero-shot tasks (every request is tokenized so)."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")  # the text is never reached
    monkeypatch.setattr(modeling, "load_model", lambda *a, **k: pytest.fail("model loaded"))
    out = tmp_path / "eval"
    code, _, err = run(capsys, "eval", tiny_model_dir, *what, "--tokenization",
                       "sentencepiece_legacy", "--out", out)
    assert_one_line_error(code, err, "needs the SentencePiece model (tokenizer.model)")
    assert not out.exists()


def test_eval_refuses_a_stride_larger_than_the_window_before_looking_for_the_model(
        tmp_path, capsys):
    # (it used to be cut to the window silently, after the model was loaded)
    out = tmp_path / "eval"
    code, _, err = run(capsys, "eval", tmp_path / "no-model", "--ppl", "embedded", "--window",
                       "64", "--stride", "128", "--out", out)
    assert_one_line_error(code, err, "--stride 128 is larger than --window (64 tokens): the "
                          "tokens between two windows would never be scored")
    assert not out.exists()


def test_eval_refuses_a_full_output_and_offline_hub_tasks(tiny_model_dir, tmp_path, capsys,
                                                          monkeypatch):
    out = tmp_path / "eval"
    out.mkdir()
    (out / "ppl.json").write_text("{}")
    code, _, err = run(capsys, "eval", tiny_model_dir, "--ppl", "embedded", "--out", out)
    assert_one_line_error(code, err, "exists and is not empty")
    assert (out / "ppl.json").read_text() == "{}"
    monkeypatch.setattr(cli, "hub_reachable", lambda: False)
    for variable in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(variable, raising=False)
    for extra in (["--tasks", "pb_number,arc_easy"], ["--ppl", "wikitext2"]):
        code, _, err = run(capsys, "eval", tiny_model_dir, "--out", tmp_path / "e2", *extra)
        assert_one_line_error(code, err, "hub is unreachable")
        assert extra[1].split(",")[-1] in err  # names what needs the hub
    assert not (tmp_path / "e2").exists()


def test_a_pruned_checkpoint_saved_without_a_tokenizer_is_told_how_to_get_one(
        tiny_model_dir, tmp_path, capsys):
    """A data-free prune of a folder without tokenizer files saves a checkpoint without them,
    whose manifest then refuses tokenizer files copied in: the advice to copy them there led
    to that refusal."""
    model = tmp_path / "no-tokenizer"
    model.mkdir()
    for name in ("config.json", "generation_config.json", "model.safetensors"):
        shutil.copy(tiny_model_dir / name, model / name)
    out = tmp_path / "pruned"
    assert main(["prune", str(model), "--method", "depth_mag", "--size", "0.8", "--out", str(out),
                 "--device", "cpu", "-q"]) == 0
    code, _, err = run(capsys, "eval", out, "--ppl", "embedded", "--out", tmp_path / "e",
                       "--device", "cpu", "-q")
    assert_one_line_error(code, err, "it was saved without any, and files copied into it now "
                                     "are refused")
    assert "copy the base model's tokenizer files into that folder" not in err
    assert "rerun the prune with --force" in err


def test_a_perplexity_text_shorter_than_a_window_is_named_with_the_fix(tiny_model_dir, tmp_path,
                                                                      capsys):
    """It said only 'evaluation text has 7 tokens, fewer than one window of 128': not which
    of the --ppl texts, nor what to change."""
    short = tmp_path / "short.txt"
    short.write_text("hello world\n")
    code, _, err = run(capsys, "eval", tiny_model_dir, "--ppl", f"file:{short}", "--window", 128,
                       "--out", tmp_path / "e", "--device", "cpu", "-q")
    assert_one_line_error(code, err, f"perplexity text file:{short} has ")
    assert "fewer than one window of 128: score a longer text, or set a shorter window" in err
    assert "--window" in err.strip().splitlines()[-1]
    assert not (tmp_path / "e").exists()


# --------------------------------------------------------------------------- hf: models


def fake_hub(monkeypatch, source_dir: Path, calls: list):
    """huggingface_hub's download and per-file records, served from a local checkpoint."""
    from prunebench.checkpoint.integrity import sha256_file

    def snapshot_download(repo_id, revision=None, local_dir=None, allow_patterns=None,
                          token=None, **kwargs):
        calls.append({"repo_id": repo_id, "revision": revision, "token": token})
        Path(local_dir).mkdir(parents=True, exist_ok=True)
        for file in source_dir.iterdir():
            if file.name != modeling.MANIFEST:
                shutil.copy(file, local_dir)
        return local_dir

    def model_info(self, repo_id, revision=None, files_metadata=False, token=None, **kwargs):
        # Every file of the repository, as the hub lists them; a sha256 for the weights (LFS).
        return types.SimpleNamespace(siblings=[
            types.SimpleNamespace(rfilename=f.name, lfs=types.SimpleNamespace(sha256=sha256_file(f))
                                  if f.suffix == ".safetensors" else None)
            for f in source_dir.iterdir() if f.name != modeling.MANIFEST])

    def list_repo_tree(self, repo_id, path_in_repo=None, *, recursive=False, revision=None,
                       token=None, **kwargs):
        return [types.SimpleNamespace(path=f.name) for f in source_dir.iterdir()
                if f.name != modeling.MANIFEST]

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", model_info)
    monkeypatch.setattr(huggingface_hub.HfApi, "list_repo_tree", list_repo_tree)


def test_hf_model_is_downloaded_once_with_the_env_token(tiny_model_dir, tmp_path, capsys,
                                                       monkeypatch):
    calls: list = []
    fake_hub(monkeypatch, tiny_model_dir, calls)
    monkeypatch.setenv("HF_TOKEN", "hf_secret_token_42")
    cache = tmp_path / "cache"
    argv = ["eval", "hf:org/tiny-model@abc123", "--ppl", "embedded", "--max-windows", "2",
            "--cache-dir", cache, "--device", "cpu"]
    code, stdout, err = run(capsys, *argv, "--out", tmp_path / "a")
    assert code == 0, err
    assert calls == [{"repo_id": "org/tiny-model", "revision": "abc123",
                      "token": "hf_secret_token_42"}]
    assert "hf_secret_token_42" not in stdout + err
    ppl = read_json(tmp_path / "a" / "ppl.json")
    assert (ppl["model"], ppl["variant"]) == ("tiny-model", "dense")
    assert ppl["provenance"]["cell"]["source"] == "hf:org/tiny-model@abc123"
    assert (cache / "org--tiny-model@abc123" / modeling.MANIFEST).exists()
    assert run(capsys, *argv, "--out", tmp_path / "b", "-q")[0] == 0
    assert len(calls) == 1  # the second run reads the cached download


def test_hf_revision_with_slashes_gets_one_cache_folder(tiny_model_dir, tmp_path, monkeypatch):
    fake_hub(monkeypatch, tiny_model_dir, [])
    folder = hub_checkpoint("hf:org/model@refs/pr/3", tmp_path)
    assert folder == tmp_path / "org--model@refs--pr--3"
    assert (folder / modeling.MANIFEST).exists()
    assert [p for p in tmp_path.iterdir() if not p.name.startswith(".")] == [folder]


def test_a_cache_folder_without_a_finished_download_is_named_not_overwritten(
        tiny_model_dir, tmp_path, monkeypatch):
    calls: list = []
    fake_hub(monkeypatch, tiny_model_dir, calls)
    (tmp_path / "org--model@v1").mkdir()
    (tmp_path / "org--model@v1" / "notes.txt").write_text("mine")
    with pytest.raises(PrunebenchError, match=r"org--model@v1 exists but holds no finished "
                                              r"download \(no prunebench.json\): delete it"):
        hub_checkpoint("hf:org/model@v1", tmp_path)
    assert calls == [] and (tmp_path / "org--model@v1" / "notes.txt").read_text() == "mine"


def test_a_second_command_waits_for_the_download_under_way_and_uses_it(
        tiny_model_dir, tmp_path, monkeypatch, caplog):
    """Another process holds the download's lock (a first command downloading): this one
    waits, then takes the finished folder instead of downloading into the same staging."""
    import subprocess
    import threading
    import time

    out = tmp_path / "org--model@v1"
    go = tmp_path / "go"
    # The first finishes its download only when told to: once the second is seen waiting.
    holder = ("import fcntl, os, shutil, sys, time\n"
              f"fd = os.open({str(tmp_path / '.org--model@v1.lock')!r}, os.O_RDWR | os.O_CREAT)\n"
              "fcntl.flock(fd, fcntl.LOCK_EX)\n"
              "print('locked', flush=True)\n"
              f"while not os.path.exists({str(go)!r}):\n"
              "    time.sleep(0.02)\n"
              f"shutil.copytree({str(tiny_model_dir)!r}, {str(out)!r})\n")
    first = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    second: dict = {}

    def run_second():
        try:
            second["folder"] = hub_checkpoint("hf:org/model@v1", tmp_path)
        except BaseException as exc:  # noqa: BLE001 - raised again in the test's thread
            second["error"] = exc

    waiting = f"downloading hf:org/model@v1 into {out}: waiting"
    try:
        assert first.stdout.readline().strip() == "locked"
        monkeypatch.setattr(huggingface_hub, "snapshot_download",
                            lambda **kw: pytest.fail("downloaded a second time"))
        with caplog.at_level(logging.INFO, logger="prunebench"):
            thread = threading.Thread(target=run_second, daemon=True)
            thread.start()
            deadline = time.monotonic() + 60
            while waiting not in caplog.text and thread.is_alive() \
                    and time.monotonic() < deadline:
                time.sleep(0.02)
            assert waiting in caplog.text, second  # it waits while the first holds the lock
            assert thread.is_alive() and not second  # and has not gone on without it
            go.touch()
            thread.join(60)
    finally:
        go.touch()
        first.wait(timeout=60)
    assert first.returncode == 0
    assert not thread.is_alive()
    if "error" in second:
        raise second["error"]
    assert second["folder"] == out


@pytest.mark.parametrize("source, fault, expected", [
    ("hf:", None, "malformed model source"),
    # a command's own fix: its download cache, not the workflow's prefetch
    ("hf:org/model@v1", errors.LocalEntryNotFoundError, "cannot reach the Hugging Face hub to "
     "download org/model: run the command once where the hub is reachable (it keeps the "
     "download in"),
    ("hf:org/model@v1", errors.RepositoryNotFoundError, "not found"),
])
def test_hf_model_errors(tmp_path, capsys, monkeypatch, source, fault, expected):
    def failing_call(*args, **kwargs):
        err = fault.__new__(fault)  # these need an HTTP response to construct normally
        err.args = ("error",)
        raise err

    # the first call to the hub resolves the revision (model_info), then the files come
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", failing_call)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", failing_call)
    code, _, err = run(capsys, "bench", source, "--tokens", "4x4", "--cache-dir",
                       tmp_path / "cache")
    assert_one_line_error(code, err, expected)
    assert not (tmp_path / "cache" / "org--model@v1").exists()  # only a resumable staging
    assert not list(tmp_path.glob("bench-*.json"))


# --------------------------------------------------------------------------- defaults


SCHEMA = yaml.safe_load((Path(__file__).resolve().parents[1] / "workflow" / "schemas"
                         / "config.schema.yaml").read_text())

# Each option whose default is a workflow default -> that config key in the schema.
OPTION_DEFAULTS = {
    **{(command, "device"): "device" for command in ("prune", "bench", "eval")},
    **{(command, "trust_remote_code"): "trust_remote_code"
       for command in ("prune", "recover", "bench", "eval")},
    **{("bench", key): f"benchmark.{key}"
       for key in ("warmup", "repeats", "max_repeats", "max_seconds", "ci_target", "dtype",
                   "attention", "compile_mode", "seed", "sampling")},
    **{("eval", key): f"evaluation.perplexity.{key}"
       for key in ("window", "stride", "bos", "max_windows")},
    **{("eval", key): f"evaluation.zeroshot.{key}"
       for key in ("num_fewshot", "limit", "add_bos_token")},
    ("eval", "zeroshot_seed"): "evaluation.zeroshot.seed",
    ("recover", "device"): "device",
    **{("recover", option): f"lora.{key}" for option, key in LORA_OPTIONS.items()},
}


def schema_entry(path: str) -> dict:
    """Read straight from the schema file, not through prunebench.plan.checks, so that a bug
    there cannot hide a drift."""
    entry = SCHEMA
    for key in path.split("."):
        entry = entry["properties"][key]
    return entry


def command_parsers() -> dict[str, argparse.ArgumentParser]:
    sub = argparse.ArgumentParser().add_subparsers()
    add_parsers(sub)
    return sub.choices


@pytest.mark.parametrize("command, option", sorted(OPTION_DEFAULTS))
def test_option_defaults_are_the_schemas(command, option):
    default = command_parsers()[command].get_default(option)
    expected = schema_entry(OPTION_DEFAULTS[command, option])["default"]
    assert default == expected and type(default) is type(expected), \
        f"prunebench {command} --{option.replace('_', '-')} defaults to {default!r}, the schema " \
        f"to {expected!r}: change workflow_defaults (and say why there), not a copy"


# Options whose values a config key bounds, beside those whose default is one: prune's
# calibration overrides (no default: the method's own) and eval's --batch-size (one option for
# both evaluation stages' batch sizes, whose bounds are the same).
OPTION_KEYS = {**OPTION_DEFAULTS,
               **{("prune", key): f"calibration.{key}" for key in ("n", "length", "seed")},
               ("eval", "batch_size"): "evaluation.perplexity.batch_size"}


def bounded_entry(path: str) -> dict:
    if path.startswith("calibration."):
        return SCHEMA["definitions"]["calibration"]["properties"][path.split(".", 1)[1]]
    return schema_entry(path)


def schema_types(entry: dict) -> set[str]:
    kinds = entry.get("type")
    return set(kinds if isinstance(kinds, list) else [kinds])


def bound_cases(entry: dict) -> list[tuple[str, bool]]:
    """(value as typed, taken?) at each bound of a numeric schema entry, and a fraction for an
    integer one."""
    kinds = schema_types(entry)
    integer = "integer" in kinds
    step = 1 if integer else 1e-6

    def typed(value):
        return str(int(value)) if integer else repr(float(value))

    cases = []
    # sign: the side of the bound where values are taken (+1 above a minimum)
    for key, sign, inclusive in (("minimum", 1, True), ("exclusiveMinimum", 1, False),
                                 ("maximum", -1, True), ("exclusiveMaximum", -1, False)):
        if key in entry:
            bound = entry[key]
            inside = bound if inclusive else bound + sign * step
            outside = bound - sign * step if inclusive else bound
            cases += [(typed(outside), False), (typed(inside), True)]
    if integer:
        cases.append((f"{entry.get('minimum', entry.get('exclusiveMinimum', 0)) + 1}.5", False))
    return cases


def test_every_bound_of_an_option_key_is_checked():
    """The test below must not pass by skipping: every numeric key behind an option has a bound
    it checks, and no bound keyword it does not know."""
    for path in OPTION_KEYS.values():
        entry = bounded_entry(path)
        kinds = schema_types(entry)
        if kinds & {"integer", "number"}:
            assert bound_cases(entry), path
            assert not set(entry) - {"type", "minimum", "exclusiveMinimum", "maximum",
                                     "exclusiveMaximum", "default", "description"}, path


# The options whose config key is a number (the others are choices, switches or devices).
NUMERIC_OPTIONS = sorted(k for k, path in OPTION_KEYS.items() if bound_cases(bounded_entry(path)))


@pytest.mark.parametrize("command, option", NUMERIC_OPTIONS)
def test_options_refuse_what_the_schema_refuses_and_take_what_it_takes(command, option, capsys):
    """At each bound of the config key behind an option: the value just outside is refused by
    the parser, naming the option, the bound itself (or just inside it) is taken; a fraction is
    refused where the key is an integer."""
    cases = bound_cases(bounded_entry(OPTION_KEYS[command, option]))
    base = MINIMAL_ARGV[command]
    flag = f"--{option.replace('_', '-')}"
    for text, taken in cases:
        if taken:
            args = command_parsers()[command].parse_args([*base, flag, text])
            assert getattr(args, option) == pytest.approx(float(text))
        else:
            with pytest.raises(SystemExit):
                command_parsers()[command].parse_args([*base, flag, text])
            assert f"argument {flag}: {text!r}" in capsys.readouterr().err


def test_max_seconds_takes_inf_as_no_limit():
    args = command_parsers()["bench"].parse_args(["m", "--tokens", "4x2", "--max-seconds", "inf"])
    assert args.max_seconds == float("inf")


def test_defaults_without_an_option_are_the_schemas():
    d = workflow_defaults
    assert d.EMBEDDED_SEED == schema_entry("embedded.seed")["default"]
    assert command_parsers()["bench"].get_default("backend") == \
        schema_entry("benchmark.backends")["default"][0]
    assert d.PPL_DEFAULTS["batch_size"] == schema_entry("evaluation.perplexity.batch_size")["default"]
    for name in ("batch_size", "metrics"):
        assert d.ZEROSHOT_DEFAULTS[name] == schema_entry(f"evaluation.zeroshot.{name}")["default"]
    suite = schema_entry("evaluation.zeroshot.suite")["properties"]
    assert d.SUITE_DEFAULTS == {key: entry["default"] for key, entry in suite.items()}


def test_choices_are_the_schemas_and_the_batch_default_the_librarys():
    from prunebench.benchmark import BACKENDS, DEFAULT_BATCH_SIZES

    d = workflow_defaults
    assert d.BENCH_DTYPES == tuple(schema_entry("benchmark.dtype")["enum"])
    assert d.ATTENTIONS == tuple(schema_entry("benchmark.attention")["enum"])
    assert d.COMPILE_MODES == tuple(schema_entry("benchmark.compile_mode")["enum"])
    assert d.BOS_MODES == tuple(schema_entry("evaluation.perplexity.bos")["enum"])
    assert d.EVAL_DTYPES == tuple(schema_entry("evaluation.perplexity.dtype")["enum"]) \
        == tuple(schema_entry("evaluation.zeroshot.dtype")["enum"])
    # No default for the evaluation dtype: one would enter every finished evaluation job's
    # params and rerun them all; left out, the model runs in float32 (the CLI's None).
    for stage in ("perplexity", "zeroshot"):
        assert "default" not in schema_entry(f"evaluation.{stage}.dtype")
    assert command_parsers()["eval"].get_default("dtype") is None
    assert d.BENCH_BACKENDS == tuple(schema_entry("benchmark.backends")["items"]["enum"]) \
        == BACKENDS
    # --batch's help writes the default out (building the parsers must not import torch).
    help_text = command_parsers()["bench"]._option_string_actions["--batch"].help
    assert f"default {','.join(map(str, DEFAULT_BATCH_SIZES))};" in help_text


# --------------------------------------------------------------------------- help, other families


@pytest.mark.parametrize("command", ["prune", "recover", "bench", "eval"])
def test_help_shows_an_example(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    stdout = capsys.readouterr().out
    assert "example:" in stdout and f"prunebench {command} " in stdout


def test_prune_help_lists_every_method():
    from prunebench.methods.registry import METHODS

    help_text = command_parsers()["prune"]._option_string_actions["--method"].help
    assert all(name in help_text for name in METHODS)


@pytest.fixture
def tiny_qwen2_dir(tiny_model_dir, tmp_path) -> Path:
    """A randomly initialised tiny Qwen2 model saved by transformers, with the tiny model's
    tokenizer (its ids fit the vocabulary)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tokenizer = modeling.load_tokenizer(tiny_model_dir)
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=256, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                         tie_word_embeddings=False)
    torch.manual_seed(0)
    out = tmp_path / "qwen2"
    Qwen2ForCausalLM(config).save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


def test_commands_work_on_a_qwen2_model(tiny_qwen2_dir, tmp_path, capsys):
    pruned = tmp_path / "pruned"
    code, _, err = run(capsys, "prune", tiny_qwen2_dir, "--method", "depth_ppl", "--size", "0.8",
                       "--out", pruned, "--calibration", "embedded", "--n", "2", "--length", "32",
                       "--device", "cpu", "-q")
    assert code == 0, err
    report = read_json(pruned / "prune_report.json")
    assert report["params_after"] < report["params_before"]
    assert report["blocks_after"] < report["blocks_before"]
    code, _, err = run(capsys, "bench", pruned, "--tokens", "4x2", "--batch", "1", "--out",
                       tmp_path / "bench.json", *QUICK_BENCH)
    assert code == 0, err
    assert read_json(tmp_path / "bench.json")["rows"][0]["status"] == "ok"
    code, _, err = run(capsys, "eval", pruned, "--ppl", "embedded", "--max-windows", "2",
                       "--tasks", "pb_number", "--limit", "4", "--out", tmp_path / "eval",
                       "--device", "cpu", "-q")
    assert code == 0, err
    ppl = json.loads((tmp_path / "eval" / "ppl.json").read_text())
    assert math.isfinite(ppl["perplexity"]["embedded"])


@pytest.mark.parametrize("add_bos, warned", [(True, True), (False, False)])
def test_eval_warns_that_hub_tasks_with_bos_are_not_the_studys_protocol(monkeypatch, caplog,
                                                                        add_bos, warned):
    """The CLI's default (a BOS before every context) is the embedded model's; the study's
    lm-eval gave LLaMA none, so its numbers compare only with --no-add-bos-token."""
    from prunebench import zeroshot
    from prunebench.commands import evaluation

    def stop(*args, **kwargs):
        raise RuntimeError("stop before lm-eval")

    monkeypatch.setattr(zeroshot, "evaluate", stop)
    args = types.SimpleNamespace(add_bos_token=add_bos, num_fewshot=0, limit=None,
                                 zeroshot_seed=1234, batch_size=None, dtype=None, quiet=False,
                                 tokenization="tokenizer")
    with pytest.raises(RuntimeError, match="stop before lm-eval"):
        evaluation._zeroshot(None, None, None, ["arc_easy", "piqa"], None, None, "cpu", args)
    assert ("--no-add-bos-token" in caplog.text) is warned


def test_a_second_command_onto_an_output_being_written_is_refused(tiny_model_dir, tmp_path,
                                                                    capsys):
    """Two prunes onto one --out: each deleted the other's temporary, and the last replaced the
    first's result without --force."""
    import subprocess
    import sys

    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; "
        "from prunebench.commands.arguments import claim_out; "
        f"claim_out(Path({str(out)!r})); print('held', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        code, _, err = run(capsys, "prune", tiny_model_dir, "--method", "depth_mag", "--size",
                           "0.8", "--out", out, "--device", "cpu")
        assert_one_line_error(code, err, f"--out {out} is being written by another prunebench "
                                         f"command (pid {holder.pid})")
    finally:
        holder.kill()
        holder.wait()
    # once the holder has ended, the same command runs, and a second one in this process too
    for force in ([], ["--force"]):
        code, _, err = run(capsys, "prune", tiny_model_dir, "--method", "depth_mag", "--size",
                           "0.8", "--out", out, "--device", "cpu", "-q", *force)
        assert code == 0, err


def test_the_output_lock_never_writes_through_a_planted_link(tmp_path, monkeypatch):
    """Another user who could write in the lock folder must not get the pid written over a
    file of the user's: the folder is made private, and a link in it is not followed."""
    import hashlib
    import os
    import stat
    import tempfile

    from prunebench import PrunebenchError
    from prunebench.commands.arguments import claim_out, release_out_locks

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    folder = tmp_path / f"prunebench-outputs-{os.getuid()}"
    folder.mkdir()
    os.chmod(folder, 0o777)
    victim = tmp_path / "precious"
    victim.write_text("precious")
    out = tmp_path / "out"
    key = hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:32]
    (folder / f"{key}.lock").symlink_to(victim)
    with pytest.raises(PrunebenchError, match="is not a plain file"):
        claim_out(out)
    assert victim.read_text() == "precious"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    (folder / f"{key}.lock").unlink()
    claim_out(out)
    claim_out(out)  # the same command claiming again: no conflict with itself
    release_out_locks()


def test_an_evaluation_that_cannot_write_its_files_keeps_its_answers(tiny_model_dir, tmp_path,
                                                                      capsys, monkeypatch):
    """The answers were deleted when lm-eval returned, before the write: a full disk at the end
    lost the whole evaluation. Now they go only once the files are written."""
    from prunebench.commands import evaluation

    progress = tmp_path / "progress"
    monkeypatch.setenv(ZEROSHOT_PROGRESS_VARIABLE, str(progress))
    real_atomic_dir = evaluation.atomic_dir

    def disk_full(path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(evaluation, "atomic_dir", disk_full)
    argv = ["eval", tiny_model_dir, "--tasks", "pb_number", "--limit", "2", "--out",
            tmp_path / "eval", "--device", "cpu", "-q"]
    with pytest.raises(OSError, match="No space left"):
        run(capsys, *argv)
    assert len(list(progress.glob("*.jsonl"))) == 1
    monkeypatch.setattr(evaluation, "atomic_dir", real_atomic_dir)
    code, _, err = run(capsys, *argv)
    assert code == 0, err
    assert read_json(tmp_path / "eval" / "zeroshot.json")["resumed_requests"] > 0
    assert list(progress.glob("*.jsonl")) == []


@pytest.mark.parametrize("argv", [
    ["prune", "--method", "depth_mag", "--size", "0.8"],
    ["recover", "--data", "embedded"],
    ["bench", "--tokens", "4x2", "--batch", "1"],
    ["eval", "--ppl", "embedded"],
], ids=lambda argv: argv[0])
def test_a_gpu_this_machine_lacks_is_refused_with_the_option_to_give_instead(
        argv, tiny_model_dir, tmp_path, capsys, monkeypatch):
    """`--device cuda` where no GPU shows: the fix names the option typed, not the workflow
    config's `device:` key (the library's message, which the rule scripts' jobs say); recover
    said it only from inside the recovery, after the records were read."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr("prunebench.commands.recover.instruction_records",
                        lambda *a, **k: pytest.fail("the records were read first"))
    command, *options = argv
    out = tmp_path / ("out.json" if command == "bench" else "out")
    code, _, err = run(capsys, command, tiny_model_dir, *options, "--device", "cuda", "--out",
                       out, "-q")
    assert_one_line_error(code, err, "device cuda requested but no CUDA GPU is visible here: "
                                     "run on a GPU machine, or give --device cpu or --device auto")
    assert "device: " not in err and not out.exists()


def test_prune_says_a_missing_gpu_or_damaged_weights_before_drawing_calibration(
        tiny_model_dir, tmp_path, capsys, monkeypatch):
    """Drawing the windows can be a hub text's download and tokenization: what would stop the
    prune once its weights load is said first."""
    import torch

    from prunebench.commands import prune as prune_command

    monkeypatch.setattr(prune_command, "draw_calibration",
                        lambda *a, **k: pytest.fail("calibration drawn first"))
    argv = ["prune", tiny_model_dir, "--method", "flap", "--size", "0.8", "--calibration",
            "embedded", "--n", "4", "--length", "32", "-q"]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, _, err = run(capsys, *argv, "--out", tmp_path / "a", "--device", "cuda")
    assert_one_line_error(code, err, "no CUDA GPU is visible here")
    damaged = shutil.copytree(tiny_model_dir, tmp_path / "damaged")
    weights = next(damaged.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:-100])
    code, _, err = run(capsys, "prune", damaged, *argv[2:], "--out", tmp_path / "b",
                       "--device", "cpu")
    assert_one_line_error(code, err, f"{weights.name} holds")
    assert "(cut short): re-download it, or re-run the step that made it" in err
