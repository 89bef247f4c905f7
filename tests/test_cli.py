"""`prunebench plan`: sizes from configs alone, no weights."""
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from prunebench.checkpoint.architectures import known_shape_of
from prunebench.cli import main, plan_rows

REPO = Path(__file__).resolve().parents[1]


def test_plan_sizes_the_paper_variants_without_weights(tmp_path, capsys):
    config = {"models": {
        "llama-7b": {"source": "random:llama-7b",
                     "variants": ["dense", "depth_ppl-4.9B", "llm_pruner-4.9B", "flap-4.9B",
                                  {"name": "llm_pruner-5.42B", "params": {"ratio": 0.25}}]},
        "vicuna-13b": {"source": "random:vicuna-13b",
                       "variants": ["depth_ppl-9.5B", "depth_mag-9.5B"]},
    }}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    rows = {(r["model"], r["variant"]): r for r in plan_rows(tmp_path / "c.yaml", tmp_path)}
    assert rows["llama-7b", "dense"]["params_after"] == 6_738_415_616
    assert rows["llama-7b", "depth_ppl-4.9B"]["params_after"] == 4_916_965_376
    assert rows["llama-7b", "depth_ppl-4.9B"]["blocks_removed"] == 9
    assert abs(rows["llama-7b", "llm_pruner-4.9B"]["params_after"] - 4.9e9) < 0.01 * 4.9e9
    assert rows["llama-7b", "llm_pruner-5.42B"]["params_after"] == 5_422_977_024
    assert rows["vicuna-13b", "depth_ppl-9.5B"]["blocks_removed"] == 11
    # the text each prune will read: the original's calibration unless the config says otherwise
    assert rows["llama-7b", "depth_ppl-4.9B"]["calibration"] == \
        "bookcorpus 10x128 seed 1234 row_slice_inclusive"
    assert rows["llama-7b", "flap-4.9B"]["calibration"] == "wikitext2 1024x128 seed 1234 joined_stream"
    assert "calibration" not in rows["llama-7b", "dense"]
    assert "calibration" not in rows["vicuna-13b", "depth_mag-9.5B"]  # data-free
    assert main(["plan", "--configfile", str(tmp_path / "c.yaml"),
                 "--resources", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "4,916,965,376" in out and "calibration=bookcorpus 10x128 seed 1234" in out


def test_plan_stacks_config_files_as_snakemake_does(tmp_path, capsys):
    """Two --configfile files (or one option with two files) are merged left to right, as
    Snakemake merges them: models of both, and the second's variants for a model in both."""
    (tmp_path / "a.yaml").write_text(yaml.safe_dump({"models": {
        "a": {"source": "random:llama-7b", "variants": ["dense", "depth_ppl-4.9B"]},
        "b": {"source": "random:llama-13b", "variants": ["dense"]}}}))
    (tmp_path / "b.yaml").write_text(yaml.safe_dump({"models": {
        "b": {"source": "random:llama-13b", "variants": ["depth_ppl-9.5B"]}}}))
    files = [str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")]
    # the files also as arguments, as `prunebench check-config` takes them
    for argv in (["--configfile", files[0], "--configfile", files[1]], ["--configfile", *files],
                 files):
        assert main(["plan", *argv, "--resources", str(tmp_path)]) == 0
        shown = {tuple(cell.strip() for cell in line.split("|")[1:3])
                 for line in capsys.readouterr().out.splitlines()[2:]}
        assert shown == {("a", "dense"), ("a", "depth_ppl-4.9B"), ("b", "depth_ppl-9.5B")}
    for command in ("plan", "check-config"):
        with pytest.raises(SystemExit):
            main([command, files[0], "--configfile", files[1]])
        assert "not both" in capsys.readouterr().err


def test_check_config_takes_the_files_after_configfile_too(tmp_path, capsys):
    """As `prunebench plan` and Snakemake take them: the same check either way."""
    (tmp_path / "a.yaml").write_text(yaml.safe_dump({"models": {
        "a": {"source": "random:llama-7b", "variants": ["dense", "depth_ppl-4.9B"]}}}))
    files = [str(Path(__file__).resolve().parents[1] / "config" / "config.yaml"),
             str(tmp_path / "a.yaml")]
    for argv in (files, ["--configfile", *files]):
        assert main(["check-config", *argv, "--resources", str(tmp_path)]) == 0
        assert "no problem found" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["check-config"])
    assert "name the config files" in capsys.readouterr().err


def test_plan_sizes_a_local_folder_from_its_own_config(tmp_path, capsys):
    from prunebench.checkpoint.architectures import architecture_config

    folder = tmp_path / "my model"
    folder.mkdir()
    architecture_config("llama-7b").to_json_file(folder / "config.json")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"models": {
        "mine": {"source": f"local:{folder}", "variants": ["depth_ppl-4.9B"]}}}))
    rows = plan_rows(tmp_path / "c.yaml", tmp_path)
    assert [(r["variant"], r["params_after"]) for r in rows] == [("depth_ppl-4.9B", 4_916_965_376)]


def test_plan_sizes_the_tiny_model_before_it_is_built(tmp_path, capsys, tiny_model_dir):
    """It was refused until the workflow had trained the model. Its configured shape at the
    largest vocabulary gives the built model's plan: the tokenizer learns every entry of its
    vocabulary from the embedded text."""
    import shutil

    default = REPO / "config" / "config.yaml"
    before = plan_rows(default, tmp_path / "fresh")
    assert before and all("error" not in row for row in before)
    assert "tiny: not built yet" in capsys.readouterr().err
    built = tmp_path / "built" / "models" / "tiny"
    built.mkdir(parents=True)
    shutil.copy(tiny_model_dir / "config.json", built)
    assert plan_rows(default, tmp_path / "built") == before
    assert "not built yet" not in capsys.readouterr().err


def test_plan_names_the_command_that_builds_the_tiny_model_in_the_runs_directory(tmp_path,
                                                                                 capsys):
    """With --directory, the line saying the tiny model is not built yet gave its path from here
    as the target (`snakemake --cores all runs/x/resources/models/tiny`), which no rule makes:
    Snakemake reads targets in the run's directory, so the command gives that directory and the
    target there, with the config files planned."""
    run, default = tmp_path / "run", str(REPO / "config" / "config.yaml")
    assert main(["plan", "--directory", str(run), "--configfile", default]) == 0
    said = re.search(r"\(`(snakemake [^`]*)` builds it\)", capsys.readouterr().err)
    assert said is not None
    assert shlex.split(said[1]) == ["snakemake", "--cores", "all", "--directory", str(run),
                                    "resources/models/tiny", "--configfile", default]


def test_the_paper_configs_prune_each_model_over_one_llm_pruner_block_range(tmp_path,
                                                                             monkeypatch):
    """The speed study and the quality tables prune a model's LLM-Pruner variants over the same
    blocks (the default range for 40 blocks differs from the one the 13B configs give)."""
    # Without the hub (a test must not depend on it, nor wait on it): the models' published
    # shapes, which their hub configs have too.
    _offline(monkeypatch)
    ranges: dict[str, set] = {}
    for name in ("paper.yaml", "paper-tables.yaml"):
        for row in plan_rows(REPO / "config" / name, tmp_path):
            if row["variant"].startswith("llm_pruner-"):
                ranges.setdefault(row["model"], set()).add(row["blocks"])
    assert ranges == {"llama-7b": {"4..29"}, "vicuna-13b": {"4..37"}}


def test_plan_reports_an_unreachable_target(tmp_path, capsys):
    config = {"models": {"m": {"source": "random:llama-7b", "variants": ["llm_pruner-0.5B"]}}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    assert main(["plan", "--configfile", str(tmp_path / "c.yaml"), "--resources", str(tmp_path)]) == 2
    assert "unreachable" in capsys.readouterr().err


def _offline(monkeypatch):
    """No hub: nothing cached, no connection, and a download would be a bug."""
    import huggingface_hub

    from prunebench import cli

    def no_download(*args, **kwargs):
        raise AssertionError("an unreachable hub must not be tried (about 30 s of retries)")

    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda *a, **k: None)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_download)
    monkeypatch.setattr(cli, "hub_reachable", lambda: False)


def test_plan_offline_uses_the_published_shape_and_says_so(tmp_path, capsys, monkeypatch):
    _offline(monkeypatch)
    paper = REPO / "config" / "paper.yaml"
    assert main(["plan", "--configfile", str(paper), "--resources", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    notes = captured.err.strip().splitlines()
    assert len(notes) == len(yaml.safe_load(paper.read_text())["models"])  # one line per model
    assert all("planning with the published shape" in line for line in notes)
    assert "| llama-7b | depth_ppl-4.9B | 4.9B | 4,916,965,376" in captured.out


def test_plan_offline_without_a_known_shape_says_what_to_do(tmp_path, capsys, monkeypatch):
    _offline(monkeypatch)
    config = {"models": {"m": {"source": "hf:org/mystery-model@main", "variants": ["dense"]}}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    assert main(["plan", "--configfile", str(tmp_path / "c.yaml"), "--resources", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "org/mystery-model" in err and "copy its config.json" in err


# A fresh process: plans, then says which of torch and transformers it imported.
PLAN_ALONE = """
import sys
from prunebench.cli import main
code = main(sys.argv[1:])
print("imported:", [m for m in ("torch", "transformers") if m in sys.modules], file=sys.stderr)
sys.exit(code)
"""


def transformers_config(values: dict):
    """The family's transformers config of these values: what plan sized with before it read
    configs without transformers (tiny_config and architecture_config build it so)."""
    from prunebench.modeling import config_class

    values = dict(values)
    return config_class(values.pop("model_type", None) or "llama")(**values)


def test_plan_imports_neither_torch_nor_transformers_and_prints_what_their_configs_give(
        tmp_path, capsys, monkeypatch):
    """Planning is arithmetic on configs: `prunebench plan` runs without torch or transformers
    (seconds of imports). The configs it reads instead (param_count.config_from_dict) size every
    variant as transformers' own configs do: the same table, notes and exit code as with the
    transformers config of each model (`load_config`, `architecture_config`, `tiny_config`), for
    the embedded default (the tiny model not built yet), the paper's models offline (their
    published shapes) and a config.json of each family that leaves out every key at its
    family's default (LLaMA-7B's: nearly all), which the config classes fill in."""
    import json

    from prunebench.checkpoint import param_count
    from prunebench.checkpoint.architectures import architecture_values
    from prunebench.modeling import config_class, load_config

    families = {"llama-7b": ["dense", "depth_ppl-0.8", "llm_pruner-0.8", "flap-0.8",
                             {"name": "llm_pruner-5.42B", "params": {"ratio": 0.25}}],
                "mistral-7b-v0.3": ["sleb-0.75", "wanda_sp-0.75", "llm_pruner-0.75"],
                "qwen2.5-7b": ["depth_taylor-0.75", "shortgpt-0.75",
                               {"name": "flap-0.75", "params": {"structure": "UL-UM"}}],
                "qwen3-8b": ["depth_mag-0.75", "wanda_sp-0.75", "llm_pruner-0.75"]}
    models = {}
    for arch, variants in families.items():
        values = architecture_values(arch)
        defaults = config_class(values["model_type"])()
        folder = tmp_path / arch
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps(
            {k: v for k, v in values.items()
             if k == "model_type" or getattr(defaults, k, None) != v}))
        models[arch] = {"source": f"local:{folder}", "variants": variants}
    (tmp_path / "families.yaml").write_text(yaml.safe_dump({"models": models}))
    resources = ["--resources", str(tmp_path / "resources")]
    runs = [["plan", *resources], ["plan", "--configfile", "config/paper.yaml", *resources],
            ["plan", "--configfile", str(tmp_path / "families.yaml"), *resources]]
    # No hub: neither the cache nor a connection (HF_HUB_OFFLINE), as _offline below.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    alone = [subprocess.run([sys.executable, "-c", PLAN_ALONE, *argv], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120) for argv in runs]

    _offline(monkeypatch)
    monkeypatch.chdir(REPO)
    monkeypatch.setattr(param_count, "checkpoint_config", load_config)
    for namespace in (param_count, param_count.config_json):
        monkeypatch.setattr(namespace, "config_from_dict", transformers_config)
    for argv, proc in zip(runs, alone):
        stderr = proc.stderr.splitlines()
        assert stderr[-1] == "imported: []", proc.stderr
        code = main(argv)
        expected = capsys.readouterr()
        # prunebench's own lines: a transformers version that warns while it builds a config
        # (in-process only) is not what is compared
        said = [line for line in expected.err.splitlines()
                if "Warning" not in line and not line.startswith("  warnings.warn")]
        assert (proc.returncode, proc.stdout, stderr[:-1]) == (code, expected.out, said), argv
        assert code == 0 and "not planned" not in proc.stdout, proc.stdout


@pytest.mark.parametrize("repo_id, shape", [
    ("huggyllama/llama-7b", "llama-7b"), ("lmsys/vicuna-13b-v1.3", "vicuna-13b"),
    ("meta-llama/Meta-Llama-3-8B", "llama-3-8b"), ("org/mystery-model", None),
])
def test_known_shape_of_a_hub_id(repo_id, shape):
    assert known_shape_of(repo_id) == shape


def test_paper_tables_sizes_remove_the_studys_block_counts(tmp_path, monkeypatch):
    # The study's tables: LLaMA-7B 20% / 35% pruned = 6 / 11 of 32 blocks, Vicuna-13B 21% / 37%
    # = 8 / 15 of 40 blocks.
    _offline(monkeypatch)
    rows = plan_rows(REPO / "config" / "paper-tables.yaml", tmp_path)
    removed = {(r["model"], r["variant"]): r.get("blocks_removed") for r in rows}
    for model, sizes in {"llama-7b": {"5.5B": 6, "4.5B": 11},
                         "vicuna-13b": {"10.5B": 8, "8.3B": 15}}.items():
        for size, blocks in sizes.items():
            for method in ("depth_ppl", "depth_taylor"):
                assert removed[model, f"{method}-{size}"] == blocks


# --------------------------------------------------------------------------- KV cache

def test_plan_gives_the_kv_cache_each_variant_keeps(tmp_path, capsys):
    # Per generated token, K + V: 2 x blocks x KV heads x head_dim x 2 bytes (fp16).
    config = {"models": {
        "llama-7b": {"source": "random:llama-7b",  # MHA: 32 blocks of 32 KV heads of 128
                     "variants": ["dense", "depth_ppl-4.9B", "flap-4.9B"]},
        "llama-3.1-8b": {"source": "random:llama-3.1-8b",  # GQA: 32 blocks of 8 KV heads
                         "variants": ["wanda_sp-0.75", "llm_pruner-0.75"]},
    }}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    rows = {(r["model"], r["variant"]): r for r in plan_rows(tmp_path / "c.yaml", tmp_path)}
    dense = 2 * 32 * 32 * 128 * 2
    assert rows["llama-7b", "dense"]["kv_bytes"] == dense == 512 * 1024  # docs/families.md
    # Depth: 9 of 32 blocks go with their whole cache.
    assert rows["llama-7b", "depth_ppl-4.9B"]["kv_bytes"] == dense * (32 - 9) // 32
    # FLAP's adaptive structure (AL-AM): the calibration data decides which heads stay.
    assert rows["llama-7b", "flap-4.9B"]["kv_bytes"] is None
    # Whole KV groups (docs/families.md): Wanda-sp keeps 6 of 8 in every block, LLM-Pruner 6
    # of 8 in blocks 4..29 and all 8 in the 6 others.
    gqa_dense = 2 * 32 * 8 * 128 * 2
    assert rows["llama-3.1-8b", "wanda_sp-0.75"]["kv_bytes"] == gqa_dense * 6 // 8
    assert rows["llama-3.1-8b", "llm_pruner-0.75"]["kv_bytes"] == \
        2 * (26 * 6 + 6 * 8) * 128 * 2
    assert main(["plan", "--configfile", str(tmp_path / "c.yaml"),
                 "--resources", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    # no benchmark.dtype: the schema's auto, float16 on a GPU
    assert "KV cache / token (float16 on a GPU: dtype auto; float32, twice these, on a CPU)" \
        in out.splitlines()[0]
    assert "| 32 | 512 KiB (100%) |" in out and "| 23 | 368 KiB (72%) |" in out
    assert "| 32 | data-dependent |" in out and "| 32 | 96 KiB (75%) |" in out
    assert "| 32 | 102 KiB (80%) |" in out  # 204 of 256 groups: the 80% docs/families.md gives


@pytest.mark.parametrize(("dtype", "bytes_per_value"),
                         [("float32", 4), ("bfloat16", 2), ("float16", 2)])
def test_plan_counts_the_kv_cache_in_the_benchmarks_dtype(tmp_path, capsys, dtype,
                                                          bytes_per_value):
    """The column said fp16 for a config benchmarking in float32, half the cache it holds."""
    config = {"benchmark": {"dtype": dtype}, "models": {
        "llama-7b": {"source": "random:llama-7b", "variants": ["dense", "depth_ppl-4.9B"]}}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    rows = {r["variant"]: r for r in plan_rows(tmp_path / "c.yaml", tmp_path)}
    dense = 2 * 32 * 32 * 128 * bytes_per_value
    assert rows["dense"]["kv_bytes"] == rows["dense"]["dense_kv_bytes"] == dense
    assert rows["depth_ppl-4.9B"]["kv_bytes"] == dense * 23 // 32
    assert main(["plan", "--configfile", str(tmp_path / "c.yaml"),
                 "--resources", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"KV cache / token ({dtype})" in out.splitlines()[0]
    assert f"| 23 | {dense * 23 // 32 // 1024} KiB (72%) |" in out


def test_plan_of_a_cpu_run_counts_the_kv_cache_in_float32(tmp_path, capsys):
    """`dtype: auto` with `device: cpu` benchmarks in float32: the column said float16 (a GPU's),
    half the cache the run holds."""
    config = {"device": "cpu", "models": {
        "llama-7b": {"source": "random:llama-7b", "variants": ["dense"]}}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    rows = plan_rows(tmp_path / "c.yaml", tmp_path)
    assert rows[0]["kv_bytes"] == 2 * 32 * 32 * 128 * 4
    assert main(["plan", "--configfile", str(tmp_path / "c.yaml"),
                 "--resources", str(tmp_path)]) == 0
    assert "KV cache / token (float32)" in capsys.readouterr().out.splitlines()[0]


@pytest.mark.parametrize("benchmark", [{"dtype": "fp16"}, {"dtype": ["float16"]}, [1]])
def test_plan_refuses_a_benchmark_dtype_it_cannot_count_in(tmp_path, capsys, benchmark):
    """A dtype the schema does not allow (or a `benchmark` that is no mapping) was a KeyError
    or AttributeError traceback, not an error line naming the key."""
    config = {"benchmark": benchmark, "models": {
        "llama-7b": {"source": "random:llama-7b", "variants": ["dense"]}}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    code = main(["plan", str(tmp_path / "c.yaml"), "--resources", str(tmp_path)])
    err = capsys.readouterr().err
    if isinstance(benchmark, dict):
        assert code == 2 and "benchmark.dtype: " in err and "float32" in err, err
    else:  # check-config's to refuse; plan counts in the default
        assert code == 0, err


def test_depth_kv_cache_is_data_dependent_only_when_removable_blocks_differ():
    from prunebench.checkpoint.architectures import architecture_config
    from prunebench.methods import depth
    from prunebench.modeling import count_params

    config = architecture_config("llama-7b")
    shape = {"num_attention_heads": 32, "num_key_value_heads": 32, "intermediate_size": 11008}
    # Block 0 already lost half its heads (a width-pruned model pruned again in depth).
    config.layer_shapes = [dict(shape, num_attention_heads=16, num_key_value_heads=16)] + \
        [dict(shape) for _ in range(31)]
    target = int(count_params(config) * 0.8)
    plan = depth.plan(config, target)  # the criterion may take block 0: between its 31 others
    k = plan["blocks_removed"]  # left and block 0 among those taken
    assert plan["kv_heads_kept"] is None
    assert plan["kv_heads_kept_range"] == [16 + (31 - k) * 32, (32 - k) * 32]
    kept = depth.plan(config, target, protect_first=1)
    assert kept["kv_heads_kept"] == 16 + (31 - kept["blocks_removed"]) * 32
    assert "kv_heads_kept_range" not in kept


def test_plan_plans_what_it_can_and_names_the_model_and_variant_of_what_it_cannot(
        tmp_path, capsys, monkeypatch):
    """One hub model without a known shape (offline) and one unreachable target: the other
    rows are still given, each failure on its own line, and the exit code says it failed."""
    _offline(monkeypatch)
    config = {"models": {
        "m": {"source": "random:llama-7b",
              "variants": ["dense", "llm_pruner-0.5B", "depth_ppl-4.9B"]},
        "mystery": {"source": "hf:org/mystery-model@main", "variants": ["dense"]}}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    assert main(["plan", "--configfile", str(tmp_path / "c.yaml"), "--resources",
                 str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert "| m | dense |" in out and "| m | depth_ppl-4.9B | 4.9B |" in out
    assert "| m | llm_pruner-0.5B | - |" in out and "| mystery | (all) | - |" in out
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2
    assert errors[0].startswith("error: model m, variant llm_pruner-0.5B: ")
    assert errors[1].startswith("error: model mystery, variant (all): ")
    assert "org/mystery-model" in errors[1]


@pytest.mark.parametrize("text, expected", [
    ("benchmark: {}\n", "'models' is a required property"),
    ("models: {}\n", "models: {} should be non-empty"),
    ("models: {m: {source: tiny}}\n", "models.m: 'variants' is a required property"),
    ("models: {m: {variants: [dense]}}\n", "models.m: 'source' is a required property"),
    ("models: {m: {source: tiny, variants: depth_ppl-0.8}}\n", "must be a list of variant names"),
    ("models: {m: {source: 'hf:/x@y', variants: [dense]}}\n", "is not a hub repository id"),
])
def test_plan_of_a_malformed_models_section_says_what_is_wrong(tmp_path, capsys, text, expected):
    (tmp_path / "c.yaml").write_text(text)
    assert main(["plan", "--configfile", str(tmp_path / "c.yaml"), "--resources",
                 str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


def test_a_config_that_is_not_utf8_is_named(tmp_path, capsys):
    (tmp_path / "c.yaml").write_bytes(b"models:\n  m: {source: \xff\xfe}\n")
    for argv in (["plan", "--configfile", str(tmp_path / "c.yaml")],
                 ["check-config", str(tmp_path / "c.yaml")]):
        assert main(argv) == 2
        assert "is not UTF-8 text" in capsys.readouterr().err


def test_ctrl_c_in_a_command_is_one_line_and_exit_code_130(monkeypatch, capsys):
    from prunebench import commands

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(commands, "prune_command", interrupted)
    assert main(["prune", "m", "--method", "depth_ppl", "--size", "0.8", "--out", "o"]) == 130
    err = capsys.readouterr().err
    assert err.strip().startswith("interrupted: no output was written") and "Traceback" not in err
    # The line says what the rerun keeps, for the command that was interrupted.
    assert "calibration losses it computed" in err and "batch sizes" not in err


@pytest.mark.parametrize("command", ["check-config", "plan"])
def test_a_reader_that_leaves_early_gets_no_traceback(tmp_path, command):
    """`prunebench check-config ... | head -1`: the pipe closes before the output is written;
    also where a variant cannot be planned (the table is printed, then an error)."""
    config = REPO / "config" / "config.yaml"
    if command == "plan":
        config = tmp_path / "c.yaml"
        config.write_text(yaml.safe_dump({"models": {"m": {
            "source": "random:llama-7b", "variants": ["dense", "llm_pruner-0.5B"]}}}))
    argv = [command, str(config)] if command == "check-config" else [
        command, "--configfile", str(config), "--resources", str(tmp_path)]
    proc = subprocess.Popen([sys.executable, "-m", "prunebench.cli", *argv], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before anything is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_a_workflow_model_not_made_yet_names_the_command_that_makes_it(tmp_path, monkeypatch):
    from prunebench import PrunebenchError
    from prunebench.commands.model_source import resolve_model

    monkeypatch.chdir(tmp_path)  # a fresh checkout: the README's examples name the tiny model
    with pytest.raises(PrunebenchError, match=r"resources/models/tiny is made by the workflow: "
                                              r"`snakemake --cores all resources/models/tiny`"):
        resolve_model("resources/models/tiny")
    with pytest.raises(PrunebenchError, match=r"is made by the workflow: "
                                              r"`snakemake --cores all resources/models/tiny`"):
        resolve_model(str(tmp_path / "resources" / "models" / "tiny"))  # here, written whole
    # A run in a directory of its own: Snakemake reads the target there (given from here, as
    # runs/x/resources/models/tiny, it is no rule's output)
    with pytest.raises(PrunebenchError, match=r"`snakemake --cores all --directory runs/x "
                                              r"resources/models/tiny` first"):
        resolve_model("runs/x/resources/models/tiny")
    with pytest.raises(PrunebenchError) as err:
        resolve_model(str(tmp_path / "mine"))
    assert "no model at" in str(err.value) and "snakemake" not in str(err.value)


def test_plan_refuses_a_fixed_ratio_that_misses_the_variants_size(tmp_path):
    """llm_pruner-0.5 with ratio 0.1 would keep 92% of LLaMA-7B under a name that says 50%."""
    config = {"models": {"llama-7b": {"source": "random:llama-7b", "variants": [
        "dense", {"name": "llm_pruner-0.5", "params": {"ratio": 0.1}}]}}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    row = {r["variant"]: r for r in plan_rows(tmp_path / "c.yaml", tmp_path)}["llm_pruner-0.5"]
    assert "ratio 0.1 keeps 6,223,081,472 parameters, 85% above the variant's target" in row["error"]
    assert "leave ratio out" in row["error"]


def test_the_top_level_help_is_written_for_users(capsys):
    """It printed the module's notes for developers (`param_count.config_from_dict`, why torch
    is not imported) instead of what each command is for."""
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    said = capsys.readouterr().out
    for command in ("plan", "check-config", "prune|recover|bench|eval"):
        assert f"prunebench {command}" in said
    assert "snakemake --cores all" in said
    assert "config_from_dict" not in said and "importing torch" not in said


def test_check_config_and_plan_read_a_relative_local_folder_in_the_runs_directory(
        tmp_path, monkeypatch, capsys, small_random_model, small_tokenizer):
    """README runs one's own model with `--directory runs/mine`, where Snakemake reads a
    relative `local:` folder: check-config, run from the checkout, passed such a config while
    the run refused it (or refused one the run would take). `--directory` reads it there."""
    checkout = tmp_path / "checkout"
    for folder in (checkout / "models" / "mine", checkout / "runs" / "mine" / "in-run"):
        small_random_model().save_pretrained(folder, safe_serialization=True)
        small_tokenizer.save_pretrained(folder)
    monkeypatch.chdir(checkout)
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["models"] = {"mine": {"source": "local:models/mine", "variants": ["dense"]}}
    Path("mine.yaml").write_text(yaml.safe_dump(config))
    assert main(["check-config", "mine.yaml"]) == 0  # read here: the folder is here
    assert main(["check-config", "--directory", "runs/mine", "mine.yaml"]) == 2
    err = capsys.readouterr().err
    assert f"no such folder {checkout / 'runs' / 'mine' / 'models' / 'mine'}" in err
    config["models"]["mine"]["source"] = "local:in-run"
    Path("mine.yaml").write_text(yaml.safe_dump(config))
    assert main(["check-config", "--directory", "runs/mine", "mine.yaml"]) == 0
    [row] = plan_rows("mine.yaml", directory="runs/mine")
    assert row["variant"] == "dense" and row["params_after"] > 0
    assert main(["plan", "--directory", "runs/mine", "--configfile", "mine.yaml"]) == 0


@pytest.mark.parametrize("command", ["check-config", "plan"])
@pytest.mark.parametrize("option", ["--directory", "--resources"])
def test_a_file_as_the_runs_directory_or_resources_is_refused(command, option, tmp_path,
                                                             capsys):
    """A file given as --directory (or --resources) was read as a folder holding nothing: the
    config passed as if the run had no model on disk."""
    afile = tmp_path / "notes.txt"
    afile.write_text("")
    config = str(Path(__file__).parents[1] / "config" / "config.yaml")
    with pytest.raises(SystemExit) as exit_:
        main([command, option, str(afile), config])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: {afile} is a file, not a folder: give " in err
    # a folder the run will make (Snakemake makes its --directory) is taken
    assert main([command, option, str(tmp_path / "runs" / "new"), config]) == 0
