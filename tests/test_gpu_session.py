"""The GPU-slot scripts (benchmarks/gpu_session.py, gpu_memory.py, offline_wheels.py), on the CPU:
their plumbing (deadlines, stopping, packing, skipping) and what each check proves."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- gpu_session

def test_session_env_step_writes_the_summary_the_log_and_the_archive(tmp_path):
    session = load_script("gpu_session")
    out, work = tmp_path / "out", tmp_path / "work"
    assert session.main(["--steps", "env", "--out", str(out), "--work", str(work),
                         "--deadline-s", "300"]) == 0
    summary = (out / "summary.md").read_text()
    assert "## env" in summary and "total wall time" in summary
    # the versions line itself (an import error's text also says "torch")
    import torch

    assert f" torch {torch.__version__} cuda " in summary
    assert "gpu_session: steps ['env']" in (out / "session.log").read_text()
    with tarfile.open(out / "results.tar.gz") as archive:
        names = archive.getnames()
    assert "gpu_session/pip-freeze.txt" in names
    assert "torch==" in (work / "pip-freeze.txt").read_text()


def test_a_rehearsal_runs_the_workflow_in_a_copy_of_the_checkout(tmp_path):
    """A rehearsal's smoke run made a tiny stand-in of llama-7b in this checkout's resources/,
    which the config checks then read as the real model's (and its results in results/)."""
    session = load_script("gpu_session")
    copy = session.checkout_copy(tmp_path / "checkout")
    for needed in ("workflow/Snakefile", "config/gpu-smoke.yaml", "profiles/default/config.yaml",
                   "src/prunebench/__init__.py", "benchmarks/gpu_smoke.sh", "pyproject.toml"):
        assert (copy / needed).is_file(), needed
    assert not any((copy / part).exists() for part in ("results", "resources", ".venv", ".git"))
    assert session.checkout_copy(tmp_path / "checkout") == copy  # made afresh over an old one


def test_session_skips_a_step_the_deadline_leaves_no_room_for(tmp_path):
    session = load_script("gpu_session")
    out = tmp_path / "out"
    session.main(["--steps", "check,memory", "--out", str(out), "--work", str(tmp_path / "w"),
                  "--deadline-s", "5"])
    summary = (out / "summary.md").read_text()
    assert summary.count("skipped: no time left") == 2
    assert not (tmp_path / "w" / "check").exists()  # gpu_check never started


def test_a_stopped_step_is_not_summarised_with_a_report_an_earlier_run_left(tmp_path,
                                                                           monkeypatch):
    """A warm machine keeps an earlier session's results/: a step stopped before it wrote its
    report was summarised with the earlier run's table (an H200, 2026-12-04)."""
    session = load_script("gpu_session")
    work = tmp_path / "w"
    reports = {"autotune": "gpu_check.md", "attention-eager": "gpu_check.md",
               "families": "family_check.md", "paired": "paired_check.md",
               "memory": "gpu_memory.md"}
    for folder, name in reports.items():
        (work / folder).mkdir(parents=True)
        (work / folder / name).write_text("| STALE | table of an earlier run |\n")
    (work / "keep.txt").write_text("not a report")
    monkeypatch.setattr(session.Session, "run", lambda self, cmd, timeout, env=None,
                        cwd=None: (124, 1.0))  # every step stopped before writing anything
    out = tmp_path / "out"
    assert session.main(["--steps", "autotune,attention,families,paired,memory",
                         "--attention-trials", "eager", "--out", str(out), "--work", str(work),
                         "--deadline-s", "3600"]) == 0
    summary = (out / "summary.md").read_text()
    assert "STALE" not in summary
    for name in reports.values():
        assert f"(no {name}: see session.log)" in summary
    with tarfile.open(out / "results.tar.gz") as archive:  # nor packed as this command's
        assert not [n for n in archive.getnames() if n.endswith(tuple(reports.values()))]
    assert (work / "keep.txt").read_text() == "not a report"  # --work's other files kept


REHEARSAL_S = 3600  # a rehearsal's share and deadline: no machine is that slow, none stops it


def rehearsed_summary(step: str, tmp_path: Path, monkeypatch, *options: str) -> str:
    """The summary of one step rehearsed on the CPU (its reports under tmp_path / "w"). The
    step's share of the deadline (a GPU session's: 240 s for paired, 180 s for families) is
    raised to REHEARSAL_S, so that a busy machine's slow rehearsal passes as a fast one's; the
    shares and deadline themselves are tested above and below, without timing a rehearsal."""
    session = load_script("gpu_session")
    monkeypatch.setitem(session.SHARES, step, (REHEARSAL_S, *session.SHARES[step][1:]))
    out = tmp_path / "out"
    assert session.main(["--steps", step, "--rehearse", "--out", str(out), "--work",
                         str(tmp_path / "w"), "--deadline-s", str(REHEARSAL_S), *options]) == 0
    return (out / "summary.md").read_text()


def test_the_paired_step_times_both_pruned_shapes_against_dense_in_a_rehearsal(tmp_path,
                                                                            monkeypatch):
    summary = rehearsed_summary("paired", tmp_path, monkeypatch)
    assert "## paired (exit 0" in summary
    for variant in ("depth", "width"):
        for backend in ("hf", "compiled"):
            assert f"| {variant} | {backend} | 8x8 | 1 |" in summary, summary
    report = json.loads((tmp_path / "w" / "paired" / "paired_check.json").read_text())
    rows = [c["result"]["rows"][0] for c in report["cells"]]
    assert all(r["status"] == "ok" and r["pairs"] == 2 for r in rows)
    assert all(r["latency_speedup_ci95_low"] <= r["latency_speedup"]
               <= r["latency_speedup_ci95_high"] for r in rows)


def test_the_static_step_times_transformers_static_cache_on_the_three_shapes(tmp_path,
                                                                            monkeypatch):
    summary = rehearsed_summary("static", tmp_path, monkeypatch)
    assert "## static (exit 0" in summary
    for variant in ("dense", "depth", "width"):
        assert re.search(rf"\| {variant} \| [^|]+ \| \d+ \| hf_static \| 4x8 \| 1 \| .*"
                         r"\| eager \| [\d.]+ \|$", summary, re.M), summary
        # each row's decode steps profiled, to be read against the compiled backend's
        assert f"profile: {variant} hf_static eager" in summary


def test_session_refuses_an_unknown_step(tmp_path):
    session = load_script("gpu_session")
    with pytest.raises(SystemExit) as stop:
        session.main(["--steps", "env,smoek", "--out", str(tmp_path)])
    assert stop.value.code == 2


def test_a_step_past_its_share_is_stopped_with_its_children(tmp_path):
    """Snakemake's jobs are children of the step: stopping the step must stop them too. The
    child sleeps for a day: the step returns (exit 124, stopped) long before it would end, and
    it ends only if the stop ended it."""
    session = load_script("gpu_session").Session(tmp_path, deadline_s=60)
    pid_file = tmp_path / "child.pid"
    result = []
    stepping = threading.Thread(target=lambda: result.append(session.run(
        ["bash", "-c", f"sleep 86400 & echo $! > {pid_file}; wait"], timeout=2)), daemon=True)
    stepping.start()
    # run() waits 2 s, then at most 20 s for the stopped group and 5 s for its output; the
    # join's limit only keeps a run() that never stops from hanging the suite.
    stepping.join(timeout=600)
    child = int(pid_file.read_text())
    try:
        assert not stepping.is_alive(), "the step was never stopped"
        [(code, _)] = result
        assert code == 124
        # The group got SIGTERM: the child ends within moments, whatever the machine's load.
        deadline = time.monotonic() + 120
        while not _ended(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _ended(child), f"the step's child {child} outlived the stop"
    finally:
        if not _ended(child):
            os.kill(child, signal.SIGKILL)


def _ended(pid: int) -> bool:
    """Whether the process has ended. A zombie counts as ended: the orphaned child is reaped by
    PID 1, and in a container without an init nothing may ever reap it, so kill(pid, 0) would
    keep succeeding on a process that is dead."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):  # gone (ESRCH if it went while read)
        if Path("/proc/self/stat").exists():
            return True  # /proc works and has no such process
    else:
        # The state follows the command name in parentheses (which may itself hold ')').
        return stat[stat.rindex(")") + 1:].split()[0] in ("Z", "X")
    try:  # no /proc (not Linux): ask the kernel
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


# --------------------------------------------------------------------------- gpu_memory

@pytest.mark.usefixtures("one_thread")
def test_memory_script_prunes_to_its_targets_on_small_shapes(tmp_path):
    memory = load_script("gpu_memory")
    memory.main(["--small", "--device", "cpu", "--checks", "llm_pruner,taylor+",
                 "--out", str(tmp_path)])
    report = json.loads((tmp_path / "gpu_memory.json").read_text())
    rows = {r["check"]: r for r in report["checks"]}
    assert [r["status"] for r in rows.values()] == ["ok", "ok"], rows
    # LLM-Pruner narrows blocks but keeps all of them; Taylor+ removes whole blocks.
    assert rows["llm_pruner"]["params_after"] < rows["llm_pruner"]["params_before"]
    assert rows["llm_pruner"]["blocks_after"] == memory.setup("llm_pruner", True)[
        "config"].num_hidden_layers
    assert rows["taylor+"]["blocks_after"] < memory.setup("taylor+", True)[
        "config"].num_hidden_layers
    assert all(r["peak_gib"] is None for r in rows.values())  # no CUDA peak on the CPU
    assert "| llm_pruner | ok |" in (tmp_path / "gpu_memory.md").read_text()


@pytest.mark.usefixtures("one_thread")
def test_memory_script_resumes_a_killed_float16_recovery_exactly_on_the_cpu(tmp_path):
    memory = load_script("gpu_memory")
    report = memory.main(["--small", "--device", "cpu", "--checks", "lora_resume",
                          "--out", str(tmp_path)])
    [row] = report["checks"]
    assert row["status"] == "ok", row
    assert row["amp"] == "float16" and row["steps"] > row["killed_after"] >= 1
    assert row["resumed_at_steps"] == [row["killed_after"]]
    # Deterministic on a CPU: the resumed recovery is the uninterrupted one, bit for bit.
    assert row["history_equal"] is True and row["max_abs_diff"] == 0.0
    assert "| lora_resume | ok |" in (tmp_path / "gpu_memory.md").read_text()


def test_memory_and_family_checks_refuse_unknown_names_in_their_parsers(tmp_path, capsys):
    """gpu_memory's --checks and family_check's --families and --mode are read by the parser
    (usage, exit code 2, the valid names listed): an unknown check stopped gpu_memory only
    after its start (exit code 1), and an unknown family or mode gave family_check an error row
    per family or check after its start. A list is taken in the order given, each name once."""
    memory, families = load_script("gpu_memory"), load_script("family_check")
    assert memory.parse_args([]).checks == list(memory.CHECKS)
    assert memory.parse_args(["--checks", "lora, taylor+"]).checks == ["lora", "taylor+"]
    assert families.parse_args([]).families == list(families.FAMILY_SHAPES)
    assert families.parse_args(["--families", "qwen3,llama"]).families == ["qwen3", "llama"]
    assert families.parse_args(["--mode", "cuda-graph"]).mode == "cuda-graph"
    valid = str(list(memory.CHECKS))
    refused = [(memory, ["--checks", "lora,flap"], f"argument --checks: unknown checks ['flap']: "
                f"choose from {valid}, comma-separated"),
               (memory, ["--checks", "Lora"], "unknown checks ['Lora'] (did you mean 'lora'?)"),
               (memory, ["--checks", "lora,lora"], "argument --checks: 'lora,lora' names lora "
                "twice: keep one"),
               (memory, ["--checks", "lora,,taylor+"], "'lora,,taylor+' has an empty entry"),
               (families, ["--families", "llama,qwen"], "argument --families: unknown families "
                f"['qwen'] (did you mean 'qwen3'?): choose from {list(families.FAMILY_SHAPES)}"),
               (families, ["--mode", "cuda-grph"], "argument --mode: invalid choice: 'cuda-grph'")]
    for script, bad, said in refused:
        with pytest.raises(SystemExit) as stop:
            script.main([*bad, "--device", "cpu", "--out", str(tmp_path)])
        assert stop.value.code == 2 and said in capsys.readouterr().err, (bad, said)
    assert not any(tmp_path.iterdir())  # refused before anything was written


def test_family_check_keeps_the_families_it_checked_when_stopped(tmp_path, monkeypatch):
    """family_check writes its report after every family: a GPU session stops the step at its
    time share (SIGTERM, then SIGKILL), and a report written only at the end lost every
    family checked before (34 families took 40 s on an H100)."""
    families = load_script("family_check")
    real_check = families.check

    def stop_at_the_second_family(family, *args, **kwargs):
        if family != "llama":
            raise KeyboardInterrupt  # the step stopped mid-run
        return real_check(family, *args, **kwargs)

    monkeypatch.setattr(families, "check", stop_at_the_second_family)
    with pytest.raises(KeyboardInterrupt):
        families.main(["--families", "llama,qwen3", "--device", "cpu", "--dtype", "float32",
                       "--out", str(tmp_path)])
    report = json.loads((tmp_path / "family_check.json").read_text())
    assert {r["family"] for r in report["rows"]} == {"llama"}
    assert {r["variant"] for r in report["rows"]} == {"dense", "width", "depth"}
    assert all(r["status"] == "ok" for r in report["rows"]), report["rows"]
    assert "| llama | depth | float32 | ok |" in (tmp_path / "family_check.md").read_text()


def test_family_check_skips_a_family_newer_than_the_installed_transformers(tmp_path,
                                                                         monkeypatch):
    """A GPU machine's transformers older than a family's first release (EXAONE's 5.24 on the
    lent machine's 5.17) cannot build it at all: its row says so, skipped, and the check of the
    other families passes (an error row would fail the families step for that reason alone)."""
    from prunebench.checkpoint import param_count

    families = load_script("family_check")
    for namespace in (param_count, param_count.releases, param_count.prune_rules):
        monkeypatch.setattr(namespace, "installed_transformers", lambda: "5.17.0")
    assert families.main(["--families", "exaone,llama", "--device", "cpu", "--dtype",
                          "float32", "--out", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "family_check.json").read_text())["rows"]
    skipped = [r for r in rows if r["family"] == "exaone"]
    assert [r["status"] for r in skipped] == ["skipped"]
    assert "needs transformers 5.24" in skipped[0]["error"] and "5.17.0" in skipped[0]["error"]
    assert {r["status"] for r in rows if r["family"] == "llama"} == {"ok"}
    assert "| exaone | - | - | skipped | model_type 'exaone' needs" in (
        tmp_path / "family_check.md").read_text()


# --------------------------------------------------------------------------- offline_wheels

def test_have_list_reads_pip_freeze_and_plain_names(tmp_path):
    wheels = load_script("offline_wheels")
    have = tmp_path / "have.txt"
    have.write_text("# comment\nPyYAML==6.0.2\ntyping_extensions\n"
                    "torch @ file:///wheels/torch.whl\n\n")
    assert wheels.read_have(have) == {"pyyaml", "typing-extensions", "torch"}


def test_closure_follows_requirements_for_the_target_python():
    wheels = load_script("offline_wheels")
    found = wheels.closure(["snakemake"], "3.12")
    assert {"snakemake", "snakemake-interface-common", "pyyaml"} <= set(found)
    assert "pytest" not in found and "torch" not in found
    from importlib import metadata
    assert found["snakemake"] == metadata.version("snakemake")


def test_only_what_the_target_lacks_is_fetched_once(tmp_path, monkeypatch):
    wheels = load_script("offline_wheels")
    needed = wheels.closure(["snakemake"], "3.12")
    lacking = sorted(needed)[:2]
    have = tmp_path / "have.txt"
    have.write_text("\n".join(n for n in needed if n not in lacking))
    out = tmp_path / "whl"
    out.mkdir()
    first = lacking[0].replace("-", "_")
    (out / f"{first}-{needed[lacking[0]]}-py3-none-any.whl").write_text("")  # already there
    (out / f"{lacking[1].replace('-', '_')}-0.0.0-py3-none-any.whl").write_text("")  # stale
    fetched = []
    monkeypatch.setattr(wheels, "fetch", lambda name, version, *_: fetched.append(
        (name, version)) or "downloaded")
    wheels.main(["snakemake", "--have", str(have), "--python-version", "3.12",
                 "--out", str(out)])
    assert fetched == [(lacking[1], needed[lacking[1]])]
    assert not list(out.glob("*-0.0.0-*.whl"))  # two versions would stop the install


def test_a_session_stopped_while_archiving_leaves_no_archive_that_looks_finished(tmp_path):
    session = load_script("gpu_session")
    (tmp_path / "results.tar.gz").write_bytes(b"an earlier session's")
    with pytest.raises(KeyboardInterrupt), session.whole(tmp_path / "results.tar.gz") as tmp:
        tmp.write_bytes(b"half an archive")
        raise KeyboardInterrupt  # the deadline's signal
    assert [p.name for p in tmp_path.iterdir()] == ["results.tar.gz"]
    assert (tmp_path / "results.tar.gz").read_bytes() == b"an earlier session's"
    with session.whole(tmp_path / "summary.md") as tmp:
        tmp.write_text("done\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.tar.gz", "summary.md"]


def fake_pip(monkeypatch, wheels, interrupt: bool) -> None:
    """`pip download -d <folder>` that writes a wheel there, or is killed half-way through."""
    def run(cmd, **kwargs):
        folder = Path(cmd[cmd.index("-d") + 1])
        (folder / "pkg-1.0-py3-none-any.whl").write_bytes(b"half" if interrupt else b"whole")
        if interrupt:
            raise KeyboardInterrupt
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(wheels.subprocess, "run", run)


def test_a_fetched_wheel_appears_whole_in_the_wheel_folder(tmp_path, monkeypatch):
    wheels = load_script("offline_wheels")
    fake_pip(monkeypatch, wheels, interrupt=False)
    assert wheels.fetch("pkg", "1.0", tmp_path, "3.12", ["any"]) == "downloaded"
    assert [p.name for p in tmp_path.iterdir()] == ["pkg-1.0-py3-none-any.whl"]


def test_an_interrupted_fetch_leaves_the_old_wheel_and_no_partial_one(tmp_path, monkeypatch):
    wheels = load_script("offline_wheels")
    out = tmp_path / "whl"
    out.mkdir()
    (out / "pkg-0.9-py3-none-any.whl").write_bytes(b"old")
    (tmp_path / "have.txt").write_text("")
    monkeypatch.setattr(wheels, "closure", lambda *args: {"pkg": "1.0"})
    fake_pip(monkeypatch, wheels, interrupt=True)
    with pytest.raises(KeyboardInterrupt):
        wheels.main(["pkg", "--have", str(tmp_path / "have.txt"), "--python-version", "3.12",
                     "--out", str(out)])
    assert [p.name for p in out.iterdir()] == ["pkg-0.9-py3-none-any.whl"]


def test_the_attention_step_autotunes_the_depth_model_with_the_decoders_own_attention():
    session, gpu_check = load_script("gpu_session"), load_script("gpu_check")
    for attention in session.ATTENTION_TRIALS:
        args = gpu_check.parse_args([*session.attention_args(False, 120, attention),
                                     "--out", "x"])
        assert (args.variants, args.attention, args.compile_mode) == ("depth", attention,
                                                                      "autotune-graph")
        assert args.profile_steps > 0 and args.batch_sizes == "1" and args.backends == "compiled"
        assert args.no_selfcheck is (attention != "flex")  # flex proves its tokens first
    for attention in ("flex", "cudnn"):  # in the autotune step too
        args = gpu_check.parse_args([*session.autotune_args(False, 120, attention), "--out", "x"])
        assert args.no_selfcheck is (attention != "flex")
    autotune = gpu_check.parse_args([*session.autotune_args(False, 120), "--out", "x"])
    assert autotune.attention == "auto" and autotune.variants.split(",")[0] == "dense"
    chosen = gpu_check.parse_args([*session.autotune_args(False, 120, "eager", "width,dense"),
                                   "--out", "x"])
    assert (chosen.attention, chosen.variants) == ("eager", "width,dense")


def test_every_attention_the_session_takes_is_one_the_compiled_decoder_can_time():
    session = load_script("gpu_session")
    from prunebench.benchmark.attention import ATTENTION
    assert set(session.ATTENTION_TRIALS) <= set(session.ATTENTIONS)
    # flash takes no mask: the compiled decoder refuses it on CUDA
    assert set(session.ATTENTIONS) == (set(ATTENTION) | {"auto"}) - {"flash"}


@pytest.mark.parametrize("arguments, named", [
    (["--attention-trials", "eager,cudn"], "cudn"),
    (["--attention-trials", "flash"], "flash"),
    (["--autotune-variants", "dense,deep"], "deep"),
    (["--autotune-attention", "fast"], "fast"),
])
def test_session_refuses_an_unknown_attention_or_variant_before_any_step(
        tmp_path, capsys, arguments, named):
    session = load_script("gpu_session")
    with pytest.raises(SystemExit) as stop:
        session.main(["--steps", "env", *arguments, "--out", str(tmp_path)])
    assert stop.value.code == 2 and named in capsys.readouterr().err
    assert not (tmp_path / "session.log").exists()  # refused before the session started


def test_the_smoke_run_works_in_a_directory_of_its_own(tmp_path):
    """config/gpu-smoke.yaml names its random model llama-7b, as the paper configs name the real
    one: run in the checkout's own resources/ and results/, it would replace a paper run's
    download, checkpoints and results. A dry run shows where it works."""
    session = load_script("gpu_session")
    copy = session.checkout_copy(tmp_path / "checkout")
    env = {**os.environ, "PYTHON": sys.executable}
    done = subprocess.run(["bash", "benchmarks/gpu_smoke.sh", "-n"], cwd=copy, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "This was a dry-run" in done.stdout + done.stderr
    assert (copy / session.SMOKE_DIR / ".snakemake").is_dir()
    assert not any((copy / part).exists() for part in ("results", "resources", ".snakemake",
                                                       "logs"))


# Stands in for the interpreter gpu_smoke.sh runs: its snakemake leaves one job's record of a
# finished attempt and fails, as a smoke run whose later job failed; anything else runs as asked.
FAILING_SNAKEMAKE = """#!/usr/bin/env bash
if [ "$1 $2" = "-m snakemake" ]; then
    mkdir -p runs/gpu-smoke/logs/prune
    echo '{"event": "start", "attempt": "a", "rule": "prune", "wildcards": {}, "started_utc": "2026-12-05T00:00:00+00:00"}' > runs/gpu-smoke/logs/prune/.x.log.usage.jsonl
    echo '{"event": "end", "attempt": "a", "wall_s": 125.0, "outcome": "finished", "gpus": [{"name": "H"}]}' >> runs/gpu-smoke/logs/prune/.x.log.usage.jsonl
    exit 3
fi
exec "$REAL_PYTHON" "$@"
"""


def test_the_smoke_run_says_what_its_jobs_spent_also_when_it_fails(tmp_path):
    session = load_script("gpu_session")
    copy = session.checkout_copy(tmp_path / "checkout")
    (copy / session.SMOKE_DIR).mkdir(parents=True)
    (copy / session.SMOKE_DIR / "usage.md").write_text("an earlier run's table")
    python = tmp_path / "python"
    python.write_text(FAILING_SNAKEMAKE)
    python.chmod(0o755)
    env = {**os.environ, "PYTHON": str(python), "REAL_PYTHON": sys.executable}
    done = subprocess.run(["bash", "benchmarks/gpu_smoke.sh"], cwd=copy, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stdout + done.stderr  # snakemake's failure, kept
    table = (copy / session.SMOKE_DIR / "usage.md").read_text()
    assert "| prune | 1 | 1 | 1 | 0 |" in table and "H: 0.03 GPU-hours" in table
    assert "what the jobs spent (prunebench usage):" in done.stdout


# --------------------------------------------------------------------------- family_check

def test_the_family_check_checks_every_family_against_hf_generate(tmp_path):
    """Every family's small model, dense, width- and depth-pruned, decoded by the compiled
    decoder and by HF generate: in float32 the tokens agree up to near ties (op by op on the
    CPU here; under the decoder's CUDA graph on a GPU), and the rows vary."""
    from prunebench.checkpoint.param_count import FAMILIES

    check = load_script("family_check")
    assert check.main(["--device", "cpu", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "family_check.json").read_text())
    checked = [r for r in report["rows"] if r["dtype"] == "float32"]
    # Not the mixtures of experts (Mixtral, Qwen3-MoE, OLMoE, Qwen2-MoE): the compiled decoder
    # refuses them and they have no width variant (tests/test_families.py checks both refusals);
    # Granite 4.0's family is checked by its attention-only dense model, which has no experts;
    # Qwen3.5's dense one has Gated DeltaNet blocks in every model, and Gemma 4's blocks of
    # two head widths (every layout, the dense ones too) and Falcon-H1's Mamba-2 mixer beside
    # every block's attention, which the decoder refuses. BLOOM's and MPT's (ALiBi) width
    # variant removes MLP channels alone: their heads' slopes follow the head count. MiniCPM3's
    # and Youtu's latent attention (dense models) the decoder refuses as DeepSeek's, and
    # DiffLlama's and BitNet's blocks (Family.depth_only) and Mamba's and FalconMamba's Mamba-1
    # mixers and Mamba-2's (Family.mamba_stack), and xLSTM's mLSTM blocks and RWKV's.
    # A family may be checked in more than one layout (Falcon-7B's and Falcon-40B's).
    decoded = [f for f, layout in FAMILIES.items()
               if (layout.moe_intermediate_key is None and not layout.linear_attention
                   and not layout.per_layer_blocks and not layout.mamba_beside_attention
                   and not layout.latent_attention and not layout.depth_only
                   and not layout.mamba_stack and not layout.mlstm_blocks
                   and not layout.rwkv_blocks)
               or layout.experts_optional]
    assert {(check.small_config(r["family"]).model_type, r["variant"]) for r in checked} == {
        (family, variant) for family in decoded for variant in ("dense", "width", "depth")}
    assert all(r["status"] == "ok" and r["tokens_checkable"] > r["tokens"] / 2 for r in checked)
    assert {r["status"] for r in report["rows"] if r["dtype"] == "bfloat16"} == {"reported"}


def test_the_families_step_runs_the_family_check_in_a_rehearsal(tmp_path, monkeypatch):
    summary = rehearsed_summary("families", tmp_path, monkeypatch)
    assert "## families (exit 0" in summary and "| llama | width | float32 | ok |" in summary


def test_the_family_check_fails_on_a_decoder_that_cannot_run_in_the_benchmarks_dtype(
        tmp_path, monkeypatch):
    """bfloat16 rows only report how many tokens agree, but one that raised is a decoder the
    benchmarks could not run (a scale left in float32 made SDPA refuse mixed dtypes): exit 1."""
    import torch

    from prunebench.benchmark import fused_block

    check = load_script("family_check")
    rotary = fused_block.apply_rotary

    def float32_only(x, cos, sin, pairwise=False):
        if x.dtype == torch.bfloat16:
            raise RuntimeError("Expected query, key, and value to have the same dtype")
        return rotary(x, cos, sin, pairwise)

    monkeypatch.setattr(fused_block, "apply_rotary", float32_only)
    assert check.main(["--device", "cpu", "--mode", "eager", "--families", "llama",
                       "--dtype", "bfloat16", "--out", str(tmp_path)]) == 1
    rows = json.loads((tmp_path / "family_check.json").read_text())["rows"]
    assert [(r["dtype"], r["status"]) for r in rows] == [("float32", "ok")] * 3 + [
        ("bfloat16", "error")] * 3


def test_the_family_check_fails_on_a_decoder_that_decodes_otherwise(tmp_path, monkeypatch):
    """A decoder that drifts from HF generate is a float32 MISMATCH and exit 1, not a pass."""
    from prunebench.benchmark import fused_block

    check = load_script("family_check")
    rotary = fused_block.apply_rotary
    monkeypatch.setattr(fused_block, "apply_rotary",
                        lambda x, cos, sin, pairwise=False: rotary(x, cos, -sin, pairwise))
    assert check.main(["--device", "cpu", "--families", "llama", "--dtype", "float32",
                       "--out", str(tmp_path)]) == 1
    rows = json.loads((tmp_path / "family_check.json").read_text())["rows"]
    assert [r["status"] for r in rows] == ["MISMATCH"] * 3


def test_the_static_step_takes_its_batch_sizes_and_models(tmp_path):
    session, gpu_check = load_script("gpu_session"), load_script("gpu_check")
    args = gpu_check.parse_args([*session.static_args(False, 200, "16,64", "dense,depth"),
                                 "--out", "x"])
    assert (args.batch_sizes, args.variants, args.backends) == ("16,64", "dense,depth",
                                                                "hf_static")
    assert args.profile_steps > 0 and args.tokens == "12x128"
    default = gpu_check.parse_args([*session.static_args(False, 200), "--out", "x"])
    assert (default.batch_sizes, default.variants) == ("1", "dense,depth,width")
    for bad in (["--static-batch-sizes", "16,x"], ["--static-batch-sizes", "0"],
                ["--static-variants", "dense,wide"], ["--moe-batch-sizes", "1,,16"]):
        with pytest.raises(SystemExit) as stop:
            session.main(["--steps", "static", *bad, "--out", str(tmp_path)])
        assert stop.value.code == 2


def test_the_moe_step_times_a_mixture_of_experts_dense_and_depth_pruned(tmp_path, monkeypatch):
    """The hf and hf_static backends on a small Mixtral, dense and depth-pruned: a batch-1 row
    against its floor (the routed experts' weights), a larger batch without one (asked for by
    --moe-batch-sizes: batch 1 alone by default)."""
    summary = rehearsed_summary("moe", tmp_path, monkeypatch, "--moe-batch-sizes", "1,2")
    assert "## moe (exit 0" in summary
    report = json.loads((tmp_path / "w" / "moe" / "gpu_check.json").read_text())
    assert {(c["variant"], c["backend"], c["status"]) for c in report["cells"]} == {
        (v, b, "ok") for v in ("dense", "depth") for b in ("hf", "hf_static")}
    import torch

    from prunebench.benchmark.floors import kv_cache_bytes, weight_bytes

    gpu_check = load_script("gpu_check")
    dense = gpu_check.tiny_moe_test_config()
    configs = {"dense": dense,
               "depth": gpu_check._shallower(dense, len(gpu_check.depth_blocks(dense)))}
    for cell in report["cells"]:
        result = cell["result"]
        one, two = result["rows"]
        # The routed experts' bytes and the KV cache of the mean context over the bandwidth
        # this machine measured, whatever it measured.
        config = configs[cell["variant"]]
        read = (weight_bytes(config, torch.float32)
                + kv_cache_bytes(config, 1, result["floor_context_tokens"], torch.float32))
        assert one["floor_s"] == pytest.approx(read / (result["bandwidth_gbps"] * 1e9),
                                               rel=1e-9)
        assert "floor_note" not in one
        assert two["floor_s"] is None and "mixture of experts" in two["floor_note"]
    blocks = {c["variant"]: c["result"]["blocks"] for c in report["cells"]}
    assert blocks["depth"] < blocks["dense"] == 8


def test_the_minitron_step_times_the_parent_and_both_prunes_in_a_rehearsal(tmp_path,
                                                                          monkeypatch):
    """The three models on both backends, with tiny stand-ins: each Minitron's speed-up over
    the parent beside the ratio of their floors."""
    summary = rehearsed_summary("minitron", tmp_path, monkeypatch)
    assert "## minitron (exit 0" in summary
    report = json.loads((tmp_path / "w" / "minitron" / "gpu_check.json").read_text())
    parent, *prunes = load_script("gpu_session").MINITRON_REHEARSAL
    assert report["args"]["arch"] == parent
    assert {(c["variant"], c["backend"], c["status"]) for c in report["cells"]} == {
        (v, b, "ok") for v in ("dense", *prunes) for b in ("hf", "compiled")}
    for prune in prunes:
        for backend in ("hf", "compiled"):
            assert re.search(rf"^- {prune} {backend} 4x8 batch 1: [\d.]+ \(floors [\d.]+\)$",
                             summary, re.M), summary


def test_the_minitron_step_times_config_minitrons_three_models_on_the_gpu():
    """On the GPU the step times the shapes of config/minitron.yaml's models, parent first, in
    their published dtype at the study's batch sizes, both backends on all three."""
    import yaml

    from prunebench.checkpoint.architectures import known_shape_of
    from prunebench.modeling import count_params

    session, gpu_check = load_script("gpu_session"), load_script("gpu_check")
    models = yaml.safe_load((ROOT / "config" / "minitron.yaml").read_text())["models"]
    repos = [m["source"].removeprefix("hf:").split("@")[0] for m in models.values()]
    assert [known_shape_of(repo) for repo in repos] == list(session.MINITRON)
    args = gpu_check.parse_args([*session.minitron_args(False, 270), "--out", "x"])
    assert (args.arch, args.variants) == (session.MINITRON[0],
                                          ",".join(["dense", *session.MINITRON[1:]]))
    assert (args.hf_variants, args.backends, args.batch_sizes, args.dtype, args.tokens) == (
        args.variants, "compiled,hf", "1,16,64", "bfloat16", "12x128")
    # the sizes config/minitron.yaml says: the parent and NVIDIA's two prunes of it
    assert [count_params(gpu_check.arch_config(name)) for name in session.MINITRON] == [
        8_030_261_248, 4_540_469_248, 4_512_746_496]
    longest, least, _ = session.SHARES["minitron"]
    assert least < longest <= 300  # what a ~300-s slot of the device gives it


def test_gpu_and_paired_checks_refuse_an_unknown_compile_mode_before_building_anything(capsys):
    """docs/benchmarks.md runs both with the decoder's modes (`--compile-mode autotune-graph`);
    a misspelt one used to pass the parser and fail the self-check and every cell, after the
    models were built."""
    for name in ("gpu_check", "paired_check"):
        script = load_script(name)
        with pytest.raises(SystemExit) as stop:
            script.parse_args(["--compile-mode", "autotune-graf"])
        assert stop.value.code == 2
        error = capsys.readouterr().err
        assert "--compile-mode" in error and "'autotune-graf'" in error
        for mode in ("autotune-graph", "cuda-graph", "reduce-overhead", "auto"):
            assert script.parse_args(["--compile-mode", mode]).compile_mode == mode


def test_gpu_check_refuses_what_a_mixture_of_experts_cannot_take_before_building_it(capsys):
    gpu_check = load_script("gpu_check")
    for bad, named in ((["--variants", "dense,width"], "--variants width"),
                       (["--backends", "hf,compiled"], "--backends compiled")):
        with pytest.raises(SystemExit) as stop:
            gpu_check.parse_args(["--arch", "mixtral-8x7b", "--variants", "dense,depth", *bad])
        assert stop.value.code == 2
        error = capsys.readouterr().err
        assert f"mixture of experts (mixtral), which takes neither {named}" in error
        assert "--variants dense,depth --backends hf,hf_static" in error
    with pytest.raises(SystemExit):
        gpu_check.parse_args(["--arch", "llama-99b"])
    assert "unknown architecture 'llama-99b'" in capsys.readouterr().err
    session = load_script("gpu_session")
    args = gpu_check.parse_args(session.moe_args(False, 200)[:-2])
    assert (args.arch, args.variants, args.dtype, args.batch_sizes) == (
        "qwen3-30b-a3b", "dense,depth", "bfloat16", "1")
    assert gpu_check.parse_args(session.moe_args(False, 200, "mixtral-8x7b", "1,16")[:-2]
                                ).batch_sizes == "1,16"


def test_the_checks_refuse_what_a_hybrid_model_cannot_take_before_building_it(capsys):
    """A known shape with Gated DeltaNet blocks beside attention ones and no experts
    (qwen3.5-27b), which width surgery and the compiled decoder refuse once built (refuse_moe),
    as gpu_check's or paired_check's --arch with their defaults (its width model, the compiled
    backend) or as a model gpu_check times on the compiled backend, is refused by the parser
    as a mixture of experts is, naming what times it; those options are then taken."""
    hybrid = "a model with blocks of another token mixer than softmax attention"
    for name, fix in (("gpu_check", "--variants dense,depth --backends hf,hf_static"),
                      ("paired_check", "--variants depth --backends hf,hf_static")):
        script = load_script(name)
        with pytest.raises(SystemExit) as stop:
            script.parse_args(["--arch", "qwen3.5-27b"])
        assert stop.value.code == 2
        assert (f"--arch qwen3.5-27b is {hybrid} (qwen3_5_text), which takes neither --variants "
                "width (no width surgery prunes those blocks) nor --backends compiled (its "
                f"fused blocks compute softmax attention): time it with {fix}"
                ) in capsys.readouterr().err
        assert script.parse_args(["--arch", "qwen3.5-27b", *fix.split()]).arch == "qwen3.5-27b"
    gpu_check = load_script("gpu_check")
    with pytest.raises(SystemExit) as stop:
        gpu_check.parse_args(["--variants", "dense,qwen3.5-27b,mixtral-8x7b"])
    assert stop.value.code == 2
    assert (f"--variants qwen3.5-27b: {hybrid}; mixtral-8x7b: a mixture of experts, which "
            "--backends compiled cannot time") in capsys.readouterr().err
    assert gpu_check.parse_args(["--variants", "dense,qwen3.5-27b", "--backends",
                                 "hf,hf_static"]).variants == "dense,qwen3.5-27b"


def test_the_scripts_read_tokens_batches_devices_and_dtypes_as_prunebench_bench_does(capsys):
    """gpu_check and paired_check read --tokens, --batch-sizes and --device with the readers of
    `prunebench bench` (a malformed value is refused by the parser, exit code 2, with the
    command's message: it ended in int()'s ValueError after the start), --dtype and
    --attention with the library's; what they take is kept as given (reports record it)."""
    import torch

    from prunebench.commands.arguments import parse_batches

    gpu_check, paired = load_script("gpu_check"), load_script("paired_check")
    args = gpu_check.parse_args(["--tokens", "12x128,82x128", "--batch-sizes", "64,1,16",
                                 "--device", "cuda:1", "--dtype", "auto", "--attention", "cudnn"])
    assert (args.tokens, args.batch_sizes, args.device) == ("12x128,82x128", "64,1,16", "cuda:1")
    assert parse_batches(args.batch_sizes, "--batch-sizes") == [1, 16, 64]
    args = paired.parse_args(["--arch", "tiny-test", "--tokens", "8x8", "--dtype", "bf16",
                              "--backends", "hf_static,hf"])
    assert (args.tokens, args.dtype, args.backends) == ("8x8", "bf16", "hf_static,hf")
    for bad, said in ((["--tokens", "12-128"], "malformed --tokens '12-128'"),
                      (["--batch-sizes", "1,0"], "--batch-sizes '1,0' must list positive"),
                      (["--device", "CPU"], "unknown device 'CPU'"),
                      (["--dtype", "float8"], "--dtype: unknown dtype 'float8'")):
        for script in (gpu_check, paired):
            with pytest.raises(SystemExit) as stop:
                script.parse_args(bad)
            assert stop.value.code == 2 and said in capsys.readouterr().err
    # `auto`: the study's float16 on CUDA, float32 on the CPU, as `prunebench bench` takes it
    from prunebench.modeling import resolve_dtype
    assert resolve_dtype("auto", torch.device("cpu")) == torch.float32


def test_gpu_and_paired_checks_say_their_batch_sizes_are_timed_smallest_first_each_once(capsys):
    """Both sort --batch-sizes (the sweep times them from the smallest up, and the first out of
    memory ends it) and refuse a size given twice: their help said neither, so `64,16,1` read
    as an order of priority, and a size given twice as a size timed twice."""
    gpu_check, paired = load_script("gpu_check"), load_script("paired_check")
    for script, extra in ((gpu_check, []), (paired, ["--arch", "tiny-test"])):
        with pytest.raises(SystemExit) as stop:
            script.parse_args(["--help"])
        assert stop.value.code == 0
        shown = " ".join(capsys.readouterr().out.split())  # argparse wraps the help's lines
        assert "timed from the smallest up whatever the order given" in shown
        assert "one given twice is refused" in shown
        with pytest.raises(SystemExit) as stop:
            script.parse_args([*extra, "--batch-sizes", "16,1,16"])
        assert stop.value.code == 2
        error = capsys.readouterr().err
        assert "--batch-sizes '16,1,16' lists a batch size twice: keep one" in error


def test_session_refuses_a_moe_arch_that_is_no_known_mixture_of_experts_before_any_step(
        tmp_path, capsys, monkeypatch):
    """The moe step's shape is checked before the session starts (it was refused by gpu_check
    in the moe step, after the steps before it had spent their shares), from config values
    alone: the session's own process loads no torch."""
    session = load_script("gpu_session")
    started = []
    monkeypatch.setattr(session, "Session", lambda *a: started.append(a) or 1 / 0)
    # A --work of its own: the default is the checkout's results/gpu_session, whose reports
    # of an earlier session the start clears (clear_reports) before the session starts.
    work = tmp_path / "work"
    for arch in ("qwen3-30b-a3b", "mixtral-8x7b"):  # the default, and docs/benchmarks.md's
        with pytest.raises(ZeroDivisionError):
            session.main(["--steps", "moe", "--moe-arch", arch, "--out", str(tmp_path),
                          "--work", str(work)])
    assert len(started) == 2 and work.is_dir()
    for arch, said in (("llama-7b", "--moe-arch llama-7b is no mixture of experts"),
                       ("qwen3-30b", "--moe-arch: unknown architecture 'qwen3-30b'")):
        with pytest.raises(SystemExit) as stop:
            session.main(["--steps", "moe", "--moe-arch", arch, "--out", str(tmp_path)])
        assert stop.value.code == 2 and said in capsys.readouterr().err
    assert len(started) == 2


def test_decode_variants_family_check_and_gpu_memory_read_their_arguments_as_gpu_check_does(
        capsys):
    """decode_variants' --tokens (int() of a split on 'x' after the start, a traceback for
    '12-128'), and the three scripts' --device and --dtype (torch's or the library's error
    after the start) are refused by their parsers, exit code 2, with the message gpu_check and
    `prunebench bench` give; what they take is kept as given."""
    variants, families, memory = (load_script(name) for name in
                                  ("decode_variants", "family_check", "gpu_memory"))
    args = variants.parse_args(["--tokens", "4X6", "--device", "cuda:1", "--dtype", "auto",
                                "--attention", "cudnn"])
    assert (args.tokens, args.device, args.dtype, args.attention) == ("4X6", "cuda:1", "auto",
                                                                      "cudnn")
    args = families.parse_args(["--device", "cpu", "--dtype", "fp16"])
    assert (args.device, args.dtype) == ("cpu", "fp16")
    assert memory.parse_args(["--device", "cuda"]).device == "cuda"
    refused = [(variants, ["--tokens", "12-128"], "malformed --tokens '12-128'"),
               (variants, ["--tokens", "12x0"], "--tokens '12x0' generates nothing"),
               (variants, ["--tokens", "12x128,82x128"], "gives 2 token configs"),
               (variants, ["--attention", "flesh"], "--attention: unknown attention backend"),
               *((script, ["--device", "CPU"], "unknown device 'CPU'")
                 for script in (variants, families, memory)),
               *((script, ["--dtype", "float8"], "--dtype: unknown dtype 'float8'")
                 for script in (variants, families))]
    for script, bad, said in refused:
        with pytest.raises(SystemExit) as stop:
            script.parse_args(bad)
        assert stop.value.code == 2 and said in capsys.readouterr().err, (script, bad)


def test_decode_variants_refuses_an_arch_its_decoder_cannot_run_before_any_measurement(
        capsys, monkeypatch):
    """Every variant decode_variants times is the compiled decoder, which runs no mixture of
    experts: such an --arch (and an unknown one) was refused only after the memory bandwidth
    was measured, by the model build or each variant. Now the parser refuses it, naming the
    script that times it; a dense shape and tiny-test are taken."""
    variants = load_script("decode_variants")
    for arch in ("llama-3.1-8b", "tiny-test", "qwen3-8b"):
        assert variants.parse_args(["--arch", arch]).arch == arch
    monkeypatch.setattr(variants.bench, "measure_bandwidth",
                        lambda *a: pytest.fail("measured before --arch was checked"))
    for arch, model_type in (("mixtral-8x7b", "mixtral"), ("qwen3-30b-a3b", "qwen3_moe")):
        with pytest.raises(SystemExit) as stop:
            variants.main(["--arch", arch, "--device", "cpu"])
        assert stop.value.code == 2
        assert (f"--arch {arch} is a mixture of experts ({model_type}), which the compiled "
                "backend's decoder does not run") in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:  # Qwen3.5's dense hybrid: Gated DeltaNet blocks
        variants.main(["--arch", "qwen3.5-27b", "--device", "cpu"])
    assert stop.value.code == 2
    assert ("--arch qwen3.5-27b is a model with blocks of another token mixer than softmax "
            "attention (qwen3_5_text), which the compiled backend's decoder does not run"
            ) in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        variants.main(["--arch", "llama-99b", "--device", "cpu"])
    assert stop.value.code == 2
    assert "--arch: unknown architecture 'llama-99b'" in capsys.readouterr().err


def test_decode_variants_reads_its_variants_in_the_parser_where_the_device_is_given(
        capsys, monkeypatch):
    """decode_variants' --variants were read after the start: a misspelt name, or a variant of
    the other device than --device names, was refused only once the script ran (on the device
    it was given). The parser now refuses a name of no device (the close one named) and, for
    --device cpu / cuda / cuda:N, one of the other device; --device auto's kind is known only
    once resolved, so the start checks those, before the bandwidth is measured."""
    import torch

    variants = load_script("decode_variants")
    assert variants.parse_args(["--variants", "compile,eager", "--device", "cpu"]).variants == [
        "compile", "eager"]
    assert variants.parse_args(["--variants", "reduce-overhead", "--device", "cuda:1"]
                               ).variants == ["reduce-overhead"]
    assert variants.parse_args(["--variants", "eager,cuda-graph"]).variants == [
        "eager", "cuda-graph"]  # auto: checked at the start
    assert variants.parse_args([]).variants is None  # every variant of the device
    for bad, said in (
            (["--variants", "eagr"], "argument --variants: unknown variants ['eagr'] (did you "
                                     "mean 'eager'?): choose from ['cuda-graph', "),
            (["--variants", "eager,eager", "--device", "cpu"], "names eager twice: keep one"),
            (["--device", "cpu", "--variants", "eager,cuda-graph,reduce-overhead"],
             "--variants cuda-graph,reduce-overhead: variants of a GPU, not of the CPU, which "
             "times eager,unfused-eager,compile: choose from those for --device cpu"),
            (["--device", "cuda:0", "--variants", "compile"],
             "--variants compile: a variant of the CPU, not of a GPU, which times cuda-graph,"
             "unfused-cuda-graph,compile-graph,compile-graph-cdt,autotune-graph,reduce-overhead"
             ": choose from those for --device cuda:0")):
        with pytest.raises(SystemExit) as stop:
            variants.parse_args(bad)
        assert stop.value.code == 2 and said in capsys.readouterr().err, bad
    monkeypatch.setattr(variants.bench, "measure_bandwidth",
                        lambda *a: pytest.fail("measured before --variants was checked"))
    monkeypatch.setattr(variants, "resolve_device", lambda *a: torch.device("cpu"))
    with pytest.raises(SystemExit) as stop:  # --device auto, resolved to the CPU
        variants.main(["--variants", "eager,cuda-graph", "--arch", "tiny-test"])
    assert stop.value.code == (
        "--variants cuda-graph: a variant of a GPU, not of the CPU, which times eager,"
        "unfused-eager,compile (--device auto found no GPU here: choose from those, or run on a "
        "machine with a GPU)")
    monkeypatch.setattr(variants, "resolve_device", lambda *a: torch.device("cuda"))
    with pytest.raises(SystemExit) as stop:  # resolved to a GPU
        variants.main(["--variants", "eager", "--arch", "tiny-test"])
    assert str(stop.value.code).endswith(
        "(--device auto chose the GPU here: choose from those, or give --device cpu for the "
        "CPU's)")


def test_the_scripts_counts_are_refused_by_their_parsers_below_what_each_takes(capsys):
    """decode_variants' --warmup, --repeats and --seed, family_check's --batch, token counts
    and --seed and gpu_memory's --seed were int(): a repeat count of 0 divided by zero after
    the models were built, a negative count was taken. Each is now a whole number of at least
    what it means (0 warm-up runs, 1 timed run, seeds from 0, as gpu_check reads its own), and
    decode_variants, which times a decode step from the first generated token to the last,
    needs 2 output tokens."""
    variants, families, memory = (load_script(name) for name in
                                  ("decode_variants", "family_check", "gpu_memory"))
    args = variants.parse_args(["--warmup", "0", "--repeats", "1", "--seed", "0", "--tokens",
                                "4x2"])
    assert (args.warmup, args.repeats, args.seed) == (0, 1, 0)
    args = families.parse_args(["--batch", "1", "--input-tokens", "1", "--output-tokens", "1"])
    assert (args.batch, args.input_tokens, args.output_tokens, args.seed) == (1, 1, 1, 0)
    assert memory.parse_args(["--seed", "7"]).seed == 7
    refused = [(variants, "--warmup", "-1", 0), (variants, "--repeats", "0", 1),
               (variants, "--seed", "-1", 0), (variants, "--repeats", "2.5", 1),
               (families, "--batch", "0", 1), (families, "--input-tokens", "0", 1),
               (families, "--output-tokens", "0", 1), (families, "--seed", "-1", 0),
               (memory, "--seed", "-1", 0), (memory, "--seed", "one", 0)]
    for script, option, bad, least in refused:
        with pytest.raises(SystemExit) as stop:
            script.parse_args([option, bad])
        assert stop.value.code == 2 and (f"argument {option}: {bad!r}: give a whole number of "
                                         f"at least {least}") in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        variants.parse_args(["--tokens", "12x1"])
    assert stop.value.code == 2 and ("--tokens '12x1': the decode step is timed from the first "
                                     "generated token to the last, so it needs at least 2 "
                                     "output tokens") in capsys.readouterr().err


def test_gpu_check_tells_token_configs_separated_by_spaces_to_take_commas(capsys):
    """gpu_check takes several token configs, comma-separated; given them separated by spaces
    it passed each item to the one-config reader, whose advice (run one command per config,
    each with an --out of its own) is for a command that takes one."""
    from prunebench import PrunebenchError
    from prunebench.commands.arguments import parse_token_configs

    gpu_check = load_script("gpu_check")
    for given in ("12x128 82x128", "12x128,82x128 4x8"):
        with pytest.raises(SystemExit) as stop:
            gpu_check.parse_args(["--tokens", given])
        err = capsys.readouterr().err
        assert stop.value.code == 2 and "one token config per command" not in err
        listed = ",".join(given.replace(",", " ").split())
        assert (f"--tokens {given!r}: separate its token configs with commas, e.g. --tokens "
                f"{listed}") in err
        assert parse_token_configs(listed) == [tuple(map(int, config.split("x")))
                                               for config in listed.split(",")]
    assert parse_token_configs(" 12x128 , 82x128 ") == [(12, 128), (82, 128)]
    with pytest.raises(PrunebenchError, match="has an empty entry"):
        parse_token_configs("")


def test_the_scripts_take_a_budget_of_0_or_inf_and_refuse_a_negative_or_nan_one(capsys):
    """--budget-s 0 (every cell recorded as skipped, as decode_variants' test runs it; gpu_check
    still runs its self-check, kernel check and bandwidth measurement) and inf (no budget):
    gpu_check and paired_check took them before their numbers were read by the library's types,
    and then refused them as 'give a number above 0'. A negative or NaN budget is refused by all
    four (decode_variants and gpu_memory took it: NaN, no comparison true, was no budget)."""
    import math

    for name, extra in (("gpu_check", []), ("paired_check", ["--arch", "tiny-test"]),
                        ("decode_variants", []), ("gpu_memory", [])):
        script = load_script(name)
        assert script.parse_args([*extra, "--budget-s", "0"]).budget_s == 0
        assert script.parse_args([*extra, "--budget-s", "inf"]).budget_s == math.inf
        for bad in ("-1", "nan", "soon"):
            with pytest.raises(SystemExit) as stop:
                script.parse_args([*extra, "--budget-s", bad])
            assert stop.value.code == 2 and (
                f"argument --budget-s: {bad!r}: give a number of seconds of at least 0, or inf "
                "for no budget") in capsys.readouterr().err, (name, bad)
