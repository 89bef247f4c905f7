"""Shared fixtures: the embedded corpus, the trained tiny checkpoint, small random models, and
the default workflow's run; and the two background processes that make the last two.

The two slow things the tests share, training the tiny test model (tests/tiny_checkpoint.py)
and one run of the default workflow (workflow_helpers.FAST), start in background processes
before the tests are collected; one the collected tests do not need is stopped. The tests run
beside them (`make test`: in one pytest-xdist worker per core and one more): first those
needing neither, then the tests of the workflow run, then those of the tiny model, each waiting
for its process if it is not yet done. While a background process runs, every process computes
with one thread: the cores are shared, and waiting OpenMP threads slow small torch ops down many
times."""

from __future__ import annotations

import fcntl
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import transformers

# torch, transformers and the model code are imported where they are used: pytest-xdist's
# controller process (`make test-fast`) loads this file too, runs no test, and would otherwise
# spend 10 s importing them before any worker starts.

REPO = Path(__file__).resolve().parents[1]

# What the tests and their background processes write outside their temporary folders goes to
# one folder of this session's, set here, at import: before anything imports `datasets` (which
# reads its cache path once) and before pytest_configure starts the background processes, which
# inherit it. Removed at the end of the session (pytest_unconfigure).
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="prunebench-tests-"))
# Checkpoint verification memos (prunebench.checkpoint.integrity): always this session's own,
# never the user's ~/.cache/prunebench (nor a $PRUNEBENCH_CACHE_DIR with their downloads).
os.environ["PRUNEBENCH_CACHE_DIR"] = str(_SESSION_DIR / "prunebench-cache")
# Zero-shot progress (prunebench.zeroshot_progress): each test names its folder, and the
# workflow runs make theirs in their working directories; never a folder the user set.
os.environ.pop("PRUNEBENCH_ZEROSHOT_PROGRESS", None)
os.environ.pop("PRUNEBENCH_SCORING_PROGRESS", None)  # the same for the prunes' losses
os.environ.pop("PRUNEBENCH_PERPLEXITY_PROGRESS", None)  # and `prunebench eval`'s perplexities
# A cluster user's caps on job requests (prunebench.plan.jobsize) would change the sizes the
# tests compute; the tests that cap set their own.
os.environ.pop("PRUNEBENCH_MAX_RUNTIME_MIN", None)
os.environ.pop("PRUNEBENCH_MAX_MEM_MB", None)
# The datasets cache of in-process lm-eval runs, instead of ~/.cache/huggingface/datasets; one
# the user set is kept (HF_HOME and HF_HUB_CACHE are left alone: the hub cache is read-only here).
os.environ.setdefault("HF_DATASETS_CACHE", str(_SESSION_DIR / "hf-datasets"))
# Where transformers copies code shipped with a checkpoint that a test runs (a tokenizer's,
# with trust_remote_code), instead of ~/.cache/huggingface/modules.
os.environ.setdefault("HF_MODULES_CACHE", str(_SESSION_DIR / "hf-modules"))
# The benchmark lock (prunebench.benchmark.interference): by default one file in /tmp that every
# user's benchmarks share, which another job may hold, and which, made by another user under
# the sticky /tmp with fs.protected_regular=1, cannot even be opened. This session's sweeps and
# its background run still exclude each other (it is inherited; so are xdist workers). A folder
# the user set is kept.
os.environ.setdefault("PRUNEBENCH_LOCK_DIR", str(_SESSION_DIR / "locks"))

# pytest-xdist (`-n N`, as `make test` runs) splits the cores among its worker processes.
XDIST_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))


@functools.cache
def torch_threads() -> int:
    """The threads a test may use once no background process runs: this process's share of the
    cores (its torch default, read before pytest_runtest_setup first lowers it)."""
    import torch

    return max(1, torch.get_num_threads() // max(1, XDIST_WORKERS))


@pytest.fixture
def one_thread():
    """Tiny models' ops run fastest on one thread, and other tests share the cores; restored
    after the test. Modules of such tests use it with `pytest.mark.usefixtures`."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def unreadable_offline_suite(monkeypatch):
    """datasets' loader failing on the offline suite's data (its tasks load their JSONL files as
    "json") with ValueError("bad row"), every other load left to it: a suite lm-eval cannot
    read, for the zero-shot evaluations' messages."""
    import datasets

    real = datasets.load_dataset

    def load(*args, **kwargs):
        if kwargs.get("path", args[0] if args else None) == "json":
            raise ValueError("bad row")
        return real(*args, **kwargs)

    monkeypatch.setattr(datasets, "load_dataset", load)


@pytest.fixture(scope="session")
def embedded_corpus(tmp_path_factory) -> Path:
    """A directory with train.txt, validation.txt and test.txt (one paragraph per line)."""
    from tiny_checkpoint import CORPUS_ARGS

    from prunebench import corpus

    out = tmp_path_factory.mktemp("embedded_corpus")
    corpus.write_corpus(out, **CORPUS_ARGS)
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(embedded_corpus) -> Path:
    """A trained tiny LLaMA checkpoint (tokenizer included), built once and then reused."""
    from tiny_checkpoint import checkpoint_dir, ensure_built

    out = checkpoint_dir()
    if _wait_for("tiny") not in (None, 0):
        raise AssertionError(f"training the tiny test model failed:\n{_log_tail('tiny')}")
    return ensure_built(out, embedded_corpus)  # already built unless the background was not run


@pytest.fixture(scope="session")
def small_tokenizer(embedded_corpus):
    """A tokenizer of 128 tokens (small_random_model's vocabulary), trained on part of the
    embedded text: for checkpoints that must carry a tokenizer."""
    from prunebench import tiny

    lines = (embedded_corpus / "train.txt").read_text().splitlines()[:300]
    return tiny.train_tokenizer("\n".join(lines), vocab_size=128)


@pytest.fixture(scope="session")
def save_tokenizer_with_own_code(small_tokenizer):
    """A function `(folder) -> None` saving small_tokenizer into `folder` as a checkpoint whose
    tokenizer is a class of its own (tokenization_mine.MineTokenizer, in the folder), which
    transformers loads only with trust_remote_code; config.json says llama."""
    def save(folder: Path) -> None:
        small_tokenizer.save_pretrained(folder)
        config = json.loads((folder / "tokenizer_config.json").read_text())
        config.update(auto_map={"AutoTokenizer": [None, "tokenization_mine.MineTokenizer"]},
                      tokenizer_class="MineTokenizer")
        (folder / "tokenizer_config.json").write_text(json.dumps(config))
        (folder / "tokenization_mine.py").write_text(
            "from transformers import PreTrainedTokenizerFast\n\n\n"
            "class MineTokenizer(PreTrainedTokenizerFast):\n    pass\n")
        (folder / "config.json").write_text('{"model_type": "llama"}')

    return save


@pytest.fixture(scope="session")
def small_random_model():
    """A factory `(seed=0, **config_overrides) -> LlamaForCausalLM`, randomly initialised.

    Default shape: 4 blocks, hidden 64, 4 heads of 16, MLP 128, vocab 128; eval mode, CPU.
    """

    import torch

    from prunebench import modeling, tiny

    def make(seed: int = 0, **overrides) -> transformers.LlamaForCausalLM:
        settings = dict(num_hidden_layers=4, hidden_size=64, intermediate_size=128,
                        num_attention_heads=4, max_position_embeddings=256)
        settings.update(overrides)
        settings.setdefault("num_key_value_heads", settings["num_attention_heads"])
        settings.setdefault("head_dim", settings["hidden_size"] // settings["num_attention_heads"])
        config = tiny.tiny_config(settings.pop("vocab_size", 128), **settings)
        torch.manual_seed(seed)
        model = modeling.build_model(config, device="cpu")
        model.eval()
        return model

    return make



# ------------------------------------------------------------ the background processes
# The process that runs the session (alone, or as pytest-xdist's controller before its workers
# start) starts them; every process that runs tests follows them through files in one folder,
# named by an environment variable the workers inherit: `<name>.json` (pid and log) when a
# process starts, then `<name>.rc` (its exit code) when it ends, or `<name>.stopped` when it was
# stopped because no collected test needs it.
BACKGROUND_VARIABLE = "PRUNEBENCH_TEST_BACKGROUND"
_STARTED: dict[str, subprocess.Popen] = {}  # what this process started, to stop and reap
# Runs a command, then writes its exit code (atomically: a reader sees all of it or no file).
_RECORD_EXIT_CODE = ("import os, subprocess, sys; code = subprocess.call(sys.argv[2:]); "
                     "open(sys.argv[1] + '.part', 'w').write(str(code)); "
                     "os.replace(sys.argv[1] + '.part', sys.argv[1])")


def _group(item) -> int:
    """Run order: tests needing neither background result, then the workflow run's, then the
    tiny model's. The run's tests take it one at a time (default_workflow_run), so they start
    as soon as it is done; the tiny model's, which any number of workers can run side by side,
    fill the end."""
    if "default_workflow_run" in item.fixturenames:
        return 1
    return 2 if "tiny_model_dir" in item.fixturenames else 0


def pytest_collection_modifyitems(session, config, items):
    items.sort(key=_group)  # stable: the file order holds within each group


def _folder() -> Path | None:
    folder = os.environ.get(BACKGROUND_VARIABLE)
    return Path(folder) if folder else None


def _record(name: str) -> dict | None:
    """A started background process's pid and log; None if it was not started."""
    folder = _folder()
    path = folder / f"{name}.json" if folder else None
    return json.loads(path.read_text()) if path and path.exists() else None


def _start(name: str, cmd: list[str], cwd: Path, log: Path) -> None:
    exit_code = _folder() / f"{name}.rc"
    with open(log, "w") as out:  # a session of its own: stopping it stops its jobs too
        proc = subprocess.Popen([sys.executable, "-c", _RECORD_EXIT_CODE, str(exit_code), *cmd],
                                cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "OMP_NUM_THREADS": "1"},
                                start_new_session=True)
    _STARTED[name] = proc
    (_folder() / f"{name}.json").write_text(json.dumps({"pid": proc.pid, "log": str(log)}))


def _finished(name: str) -> bool:
    return any((_folder() / f"{name}{end}").exists() for end in (".rc", ".stopped"))


def _background_running() -> bool:
    return any(_record(name) and not _finished(name) for name in ("tiny", "run"))


@pytest.hookimpl(trylast=True)  # after the tmpdir plugin has set up its factory
def pytest_configure(config):
    """Both background processes start before the tests are collected: importing the test
    modules keeps one core busy for 10-30 s (longer on a fresh venv, which compiles them), and
    the other core would wait. Those the collected tests turn out not to need are stopped. The
    tiny model's process finds the model already built in seconds when it is cached: deciding
    that here would import torch, and delay pytest-xdist's workers by as long."""
    if config.option.collectonly or os.environ.get("PYTEST_XDIST_WORKER"):
        return  # a worker: its controller started them
    folder = _SESSION_DIR / "background"
    folder.mkdir()
    os.environ[BACKGROUND_VARIABLE] = str(folder)
    factory = config._tmp_path_factory
    _start("tiny", [sys.executable, str(REPO / "tests" / "tiny_checkpoint.py")], REPO,
           factory.mktemp("background") / "tiny_checkpoint.log")
    from workflow_helpers import make_workdir, snakemake_command

    workdir = make_workdir(factory.mktemp("workflow"))
    _start("run", snakemake_command(), workdir, workdir / "snakemake.out")


def pytest_collection_finish(session):
    """Stops what no collected test needs (in each process that collects: every worker collects
    the same tests), and takes what was imported out of the garbage collector's sight."""
    _freeze_imports()
    for name, fixture in (("run", "default_workflow_run"), ("tiny", "tiny_model_dir")):
        record = _record(name)
        needed = any(fixture in item.fixturenames for item in session.items)
        if record and not needed and not _finished(name):
            try:
                os.killpg(record["pid"], signal.SIGKILL)
            except ProcessLookupError:  # it had ended
                pass
            (_folder() / f"{name}.stopped").touch()


def _freeze_imports() -> None:
    """Move every object alive now (the modules of torch, transformers, Snakemake, lm-eval: a
    few million objects) to the collector's permanent generation. The benchmark sweeps and
    scripts call gc.collect() between models so that the next one's memory is its own; in a
    test process each full collection scanned all of them, about 1 s, 60 s of CPU in a run.
    Only what exists at this point is frozen (no test has run): what tests make is collected
    as before. The LLaMA model code, which most tests import later, is imported first."""
    import gc

    import transformers

    transformers.LlamaForCausalLM  # noqa: B018 - the lazy module's import, done here
    gc.freeze()


def _alive(pid: int) -> bool:
    """Whether process `pid` still runs (a zombie, ended but not yet reaped, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:  # no /proc (macOS): whether it can be signalled
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def _wait_for(name: str, stalled: float = 3600) -> int | None:
    """Wait for a background process; its exit code, or None if it was never started. It is
    waited for as long as it runs and writes to its log (a busy machine trained the tiny model
    for 26 minutes where an idle one takes 3): a test fails when it ended without an exit code
    (killed), or when its log has not grown for `stalled` seconds (hung)."""
    record = _record(name)
    if record is None:
        return None
    exit_code = _folder() / f"{name}.rc"
    log = Path(record["log"])
    grown, last_size = time.monotonic(), -1
    while not exit_code.exists():
        if (_folder() / f"{name}.stopped").exists():
            raise AssertionError(f"the background process {name!r} was stopped: no test was "
                                 "thought to need it")
        if not _alive(record["pid"]):
            time.sleep(1)  # its exit code is written just before it ends
            if exit_code.exists():
                break
            raise AssertionError(f"the background process {name!r} ended without an exit code "
                                 f"(killed?); its log ends:\n{_log_tail(name)}")
        size = log.stat().st_size if log.exists() else 0
        if size != last_size:
            grown, last_size = time.monotonic(), size
        elif time.monotonic() - grown > stalled:
            raise AssertionError(f"the background process {name!r} wrote nothing to {log} for "
                                 f"{stalled:.0f} s (hung?); its log ends:\n{_log_tail(name)}")
        time.sleep(0.5)
    return int(exit_code.read_text())


def _log_tail(name: str) -> str:
    return Path(_record(name)["log"]).read_text()[-6000:]


@pytest.hookimpl(tryfirst=True)  # before the test's fixtures (one_thread) are set up
def pytest_runtest_setup(item):
    # While a background process runs the cores are shared, so every process computes with one
    # thread; then each test process takes its share.
    import torch

    share = torch_threads()  # read first: it is the default, before any is set
    torch.set_num_threads(1 if _background_running() else share)


def _stop_started() -> None:
    for proc in _STARTED.values():
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def pytest_sessionfinish(session):
    _stop_started()  # e.g. -x stopped the session before a test waited


def pytest_unconfigure(config):
    _stop_started()  # stopped already, unless the session never ran
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)


@pytest.fixture
def default_workflow_run() -> Iterator[Path]:
    """The finished default run's directory, held by this test alone: tests in other pytest-xdist
    workers that want it wait (a file lock). Tests that change it (forced reruns) must leave it
    complete."""
    code = _wait_for("run")
    if code is None:
        raise AssertionError("the end-to-end tests share one workflow run that pytest starts "
                             "before collection; none was started (--collect-only?)")
    if code != 0:
        raise AssertionError(f"the default workflow run failed ({code}):\n{_log_tail('run')}")
    with open(_folder() / "run.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        yield Path(_record("run")["log"]).parent
