"""Job logs: rate-limited progress lines, tidy logger names, and a quiet console."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from prunebench import logs

REPO = Path(__file__).resolve().parents[1]


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def records(caplog):
    caplog.set_level(logging.INFO, logger="test.progress")
    return lambda: [r.getMessage() for r in caplog.records if r.name == "test.progress"]


def progress(total: int, clock: FakeClock, every: float = 10.0) -> logs.Progress:
    return logs.Progress(logging.getLogger("test.progress"), "windows", total, every=every,
                         clock=clock)


def test_progress_logs_first_last_and_at_most_every_interval(records):
    clock = FakeClock()
    p = progress(100, clock)
    for _ in range(100):
        clock.now += 1.0  # one second per unit: 100 s in all
        p.step()
    lines = records()
    # the first unit, then one line per 10 s (units 11, 21, ..., 91), then the last
    assert len(lines) == 11, lines
    assert lines[0] == "windows: 1/100 (1%), elapsed 1 s, eta 99 s"
    assert lines[1] == "windows: 11/100 (11%), elapsed 11 s, eta 89 s"
    assert lines[-1] == "windows: 100/100 (100%), elapsed 100 s, eta 0 s"


def test_progress_of_a_fast_loop_is_two_lines(records):
    clock = FakeClock()
    p = progress(2048, clock)
    for done in range(8, 2049, 8):  # batches of 8, all within one interval
        clock.now += 0.01
        p.update(done)
    assert [line.split(",")[0] for line in records()] == ["windows: 8/2048 (0%)",
                                                          "windows: 2048/2048 (100%)"]


def test_progress_counts_in_steps_of_any_size_and_without_units_done(records):
    clock = FakeClock()
    p = progress(10, clock, every=5.0)
    p.update(0)
    clock.now += 6
    p.step(4)
    clock.now += 6
    p.step(6)
    assert records() == ["windows: 0/10 (0%), elapsed 0 s, eta unknown",
                         "windows: 4/10 (40%), elapsed 6 s, eta 9 s",
                         "windows: 10/10 (100%), elapsed 12 s, eta 0 s"]


def test_file_named_library_logger_gets_a_module_name_and_keeps_its_level(tmp_path):
    path_named = logging.getLogger(
        "/venv/lib/python3.11/site-packages/huggingface_hub/serialization/_torch.py")
    log_file = tmp_path / "job.log"
    root = logging.getLogger()
    saved = root.handlers[:], root.level, sys.excepthook, signal.getsignal(signal.SIGTERM)
    try:
        logs.setup(log_file)
        logging.getLogger("prunebench.data").info("ours")
        path_named.info("Model weights successfully saved to .x.partial-1!")
        path_named.warning("a real warning")
    finally:  # setup() configures the whole process; give the other tests theirs back
        for handler in root.handlers:
            if handler not in saved[0]:
                handler.close()
        root.handlers[:], sys.excepthook = saved[0], saved[2]
        signal.signal(signal.SIGTERM, saved[3])
        root.setLevel(saved[1])
        logging.captureWarnings(False)
    text = log_file.read_text()
    assert "prunebench.data: ours" in text
    assert "huggingface_hub.serialization._torch: a real warning" in text
    assert "successfully saved" not in text and "/venv/" not in text


def test_a_jobs_console_says_its_own_lines_and_warnings_and_its_log_everything(tmp_path):
    """lm-eval's progress notes (about twenty INFO lines per zero-shot job) filled Snakemake's
    console, interleaved with the other jobs'; they stay in the job's log."""
    log_file = tmp_path / "job.log"
    job = textwrap.dedent(f"""
        import logging
        from prunebench import logs
        logs.setup({str(log_file)!r}, stop_with_parent=False)
        logging.getLogger("prunebench").info("ours")
        logging.getLogger("prunebench.zeroshot").info("ours too")
        logging.getLogger("lm_eval.evaluator").info("Setting random seed to 1234")
        logging.getLogger("lm_eval.api.task").warning("a library's warning")
        logging.getLogger("prunebenchmark").info("another package")
    """)
    done = subprocess.run([sys.executable, "-c", job], capture_output=True, text=True,
                          timeout=120, check=True)
    text = log_file.read_text()
    for line in ("prunebench: ours", "prunebench.zeroshot: ours too", "Setting random seed",
                 "a library's warning", "another package"):
        assert line in text, text
    for line in ("prunebench: ours", "prunebench.zeroshot: ours too", "a library's warning"):
        assert line in done.stderr, done.stderr
    assert "Setting random seed" not in done.stderr and "another package" not in done.stderr


def test_credentials_in_a_mirrors_url_never_reach_a_jobs_log_or_its_failure_record(
        tmp_path):
    """A site's hub mirror (HF_ENDPOINT=https://user:secret@mirror) or proxy is named in full
    by the HTTP client's request lines (INFO) and by the errors of a failed download, which a
    job logs and records for its retries: the password reached the log three times per
    failed dataset load."""
    log_file = tmp_path / "job.log"
    url = "http://alice:S3CRETPASS@mirror.example:8765/datasets/x/resolve/main/README.md"
    job = textwrap.dedent(f"""
        import logging
        from prunebench import PrunebenchError, logs
        logs.setup({str(log_file)!r}, stop_with_parent=False)
        logging.getLogger("httpx").info("HTTP Request: GET {url} 500")
        logging.getLogger("httpx").warning("a warning naming {url}")
        logging.getLogger("huggingface_hub.utils._http").warning("thrown while requesting {url}")
        try:
            raise OSError("{url} failed")
        except OSError:
            logging.getLogger("prunebench").exception("with its traceback")
        raise PrunebenchError("cannot load dataset x from {url}: check the mirror")
    """)
    env = {**os.environ, logs.RUN_VARIABLE: "run-1"}
    done = subprocess.run([sys.executable, "-c", job], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode != 0
    record = logs.failure_record_path(log_file)
    for text in (done.stderr, log_file.read_text(), record.read_text()):
        assert "S3CRETPASS" not in text and "alice" not in text, text
    text = log_file.read_text()
    assert "http://***@mirror.example:8765/datasets" in text  # the URL is still named
    assert "a warning naming" in text and "HTTP Request" not in text  # requests: not logged
    assert "cannot load dataset x from http://***@mirror" in record.read_text()
    assert logs.redact("https://u@h/x and ftp://a:b@c/ but not a@b.c") == (
        "https://***@h/x and ftp://***@c/ but not a@b.c")


def test_a_job_interrupted_while_importing_its_libraries_says_one_line(tmp_path):
    """Ctrl-C reaches every running job, most often while it imports torch and transformers,
    before its log is set up: each printed a traceback through the import machinery. A
    library whose import is interrupted stands in for torch here; other errors keep
    Python's traceback, and a hook set before prunebench's import is left alone."""
    (tmp_path / "slow_library.py").write_text("raise KeyboardInterrupt\n")
    (tmp_path / "broken_library.py").write_text("raise ImportError('no such thing')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))}

    def job(code: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=120, env=env)

    interrupted = job("from prunebench import logs\nimport slow_library\n")
    assert interrupted.returncode != 0
    assert interrupted.stderr == ("interrupted while starting (importing its libraries): "
                                  "nothing was written\n")
    broken = job("from prunebench import logs\nimport broken_library\n")
    assert "Traceback" in broken.stderr and "ImportError: no such thing" in broken.stderr
    own_hook = job("import sys\nsys.excepthook = lambda *exc: print('own hook')\n"
                   "from prunebench import logs\nimport slow_library\n")
    assert own_hook.stdout == "own hook\n" and own_hook.stderr == ""


@pytest.mark.parametrize("raised, said, traceback", [
    ("KeyboardInterrupt()", "interrupted: this job's outputs were not written", False),
    ("RuntimeError('boom')", "job failed", True)])
def test_an_interrupted_job_says_one_line_and_a_failed_one_its_traceback(tmp_path, raised, said,
                                                                         traceback):
    """Ctrl-C stops every running job: each used to print a traceback, like a crash."""
    log_file = tmp_path / "job.log"
    job = (f"from prunebench import logs\nlogs.setup({str(log_file)!r})\nraise {raised}\n")
    done = subprocess.run([sys.executable, "-c", job], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0
    for text in (done.stderr, log_file.read_text()):
        assert said in text and ("Traceback" in text) == traceback, text


def test_sigterm_stops_a_job_as_ctrl_c_does(tmp_path):
    """`timeout`, a batch system's time limit or pre-emption send SIGTERM to the job: it died
    of it mid-write with no word in its log; it now stops as Ctrl-C stops it, the file being
    written dropped whole, one line said."""
    log_file, out = tmp_path / "job.log", tmp_path / "result.json"
    job = ("import os, signal\n"
           "from prunebench import atomic, logs\n"
           f"logs.setup({str(log_file)!r})\n"
           f"with atomic.atomic_path({str(out)!r}) as tmp:\n"
           "    tmp.write_text('half')\n"
           "    os.kill(os.getpid(), signal.SIGTERM)\n"
           "    tmp.write_text('whole')\n")
    done = subprocess.run([sys.executable, "-c", job], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1, (done.returncode, done.stderr)  # not -15: killed by it
    text = log_file.read_text()
    assert "terminated (SIGTERM): this job's outputs were not written" in text, text
    assert "Traceback" not in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job.log"]  # nothing half-written


def test_a_second_sigterm_kills_a_job_and_forked_children_take_sigterm_as_processes_do(
        tmp_path):
    """A job whose first SIGTERM is not acted on (a native call, threads) is killed by the
    second, as a process without the handler would be; a worker forked without exec has the
    default, not an exception it has no log for."""
    job = ("import os, signal, time\n"
           "from prunebench import logs\n"
           f"logs.setup({str(tmp_path / 'job.log')!r})\n"
           "child = os.fork()\n"
           "if child == 0:\n"
           "    os._exit(0 if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL else 3)\n"
           "assert os.waitpid(child, 0)[1] == 0, 'the forked child kept the handler'\n"
           "try:\n"
           "    os.kill(os.getpid(), signal.SIGTERM)\n"
           "except logs.Terminated:\n"
           "    pass\n"
           "os.kill(os.getpid(), signal.SIGTERM)\n"
           "time.sleep(30)\n")
    done = subprocess.run([sys.executable, "-c", job], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == -signal.SIGTERM, (done.returncode, done.stderr)


def test_module_name_of_a_file():
    assert logs.module_name("/a/lib/python3.11/site-packages/pkg/sub/mod.py") == "pkg.sub.mod"
    assert logs.module_name("/a/dist-packages/pkg/mod.py") == "pkg.mod"
    assert logs.module_name("/somewhere/script.py") == "script"


@pytest.mark.parametrize("profile", sorted((REPO / "profiles").glob("*/config.yaml")),
                         ids=lambda p: p.parent.name)
def test_profiles_do_not_print_shell_commands(profile):
    # Every rule runs a script: Snakemake would print `Shell command: None` for each job.
    assert not yaml.safe_load(profile.read_text()).get("printshellcmds")


def test_workflow_rules_are_script_rules():
    """The reason printshellcmds is off: a rule with `shell:` would want it back on."""
    rules = "\n".join(p.read_text() for p in (REPO / "workflow").rglob("*.smk"))
    rules += (REPO / "workflow" / "Snakefile").read_text()
    assert "shell:" not in rules


def test_attention_probe_prints_no_profiler_lines():
    code = ("import torch\n"
            "from prunebench.benchmark import attention_kernels\n"
            "q = torch.ones(1, 1, 2, 4)\n"
            "sdpa = torch.nn.functional.scaled_dot_product_attention\n"
            "print(attention_kernels(lambda: sdpa(q, q, q)))\n")
    env = {k: v for k, v in os.environ.items() if k != "KINETO_LOG_LEVEL"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=300, check=True)
    assert "scaled_dot_product" in proc.stdout
    assert "USDT" not in proc.stderr, proc.stderr
