"""Shared fixtures: the embedded corpus, the trained tiny checkpoint, small random models, and
the default workflow's run; and the two background processes that make the last two.

The two slow things the tests share, training the tiny test model (tests/tiny_checkpoint.py)
and one run of the default workflow (workflow_helpers.FAST), start in background processes
before the tests are collected; one the collected tests do not need is stopped. Tests that need
neither run first, beside them; then the tests of the tiny model, then those of the workflow
run, each waiting for its process if it is not yet done. While a background process runs,
every process computes with one thread: the two cores are shared, and waiting OpenMP threads
slow small torch ops down many times.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
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
# The datasets cache of in-process lm-eval runs, instead of ~/.cache/huggingface/datasets; one
# the user set is kept (HF_HOME and HF_HUB_CACHE are left alone: the hub cache is read-only here).
os.environ.setdefault("HF_DATASETS_CACHE", str(_SESSION_DIR / "hf-datasets"))
# The benchmark lock (prunebench.benchmark.interference): by default one file in /tmp that every
# user's benchmarks share, which another job may hold, and which, made by another user under
# the sticky /tmp with fs.protected_regular=1, cannot even be opened. This session's sweeps and
# its background run still exclude each other (it is inherited; so are xdist workers). A folder
# the user set is kept.
os.environ.setdefault("PRUNEBENCH_LOCK_DIR", str(_SESSION_DIR / "locks"))

# pytest-xdist (`-n N`, as `make test-fast` runs) splits the cores among its worker processes.
XDIST_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
_BACKGROUND: dict[str, tuple[subprocess.Popen, Path]] = {}  # name -> (process, its log)


@functools.cache
def torch_threads() -> int:
    """The threads a test may use once no background process runs: this process's share of the
    cores (its torch default, read before any background process lowers it)."""
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
def _group(item) -> int:
    """Run order: tests needing neither background result, then the tiny model's, then the run's."""
    if "default_workflow_run" in item.fixturenames:
        return 2
    return 1 if "tiny_model_dir" in item.fixturenames else 0


def pytest_collection_modifyitems(session, config, items):
    items.sort(key=_group)  # stable: the file order holds within each group


def _start(name: str, cmd: list[str], cwd: Path, log: Path) -> None:
    with open(log, "w") as out:  # a session of its own: stopping it stops its jobs too
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "OMP_NUM_THREADS": "1"},
                                start_new_session=True)
    _BACKGROUND[name] = (proc, log)
    import torch

    torch.set_num_threads(1)


def _stop(name: str) -> None:
    proc, _ = _BACKGROUND[name]
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.hookimpl(trylast=True)  # after the tmpdir plugin has set up its factory
def pytest_configure(config):
    """Both background processes start before the tests are collected: importing the test
    modules keeps one core busy for 10-30 s (longer on a fresh venv, which compiles them), and
    the other core would wait. Those the collected tests turn out not to need are stopped."""
    if config.option.collectonly or XDIST_WORKERS or getattr(config.option, "numprocesses", None):
        # Under xdist the workers spread the tests over the cores instead; the tiny model is
        # trained by the first worker that needs it (the others wait on its lock), and the
        # workflow run, which one process must share, is not made (default_workflow_run).
        # The controller runs no test: only a worker needs torch (and its share of the cores).
        if XDIST_WORKERS:
            import torch

            torch.set_num_threads(torch_threads())
        return
    from tiny_checkpoint import checkpoint_dir, is_built

    torch_threads()  # read before a background process lowers it
    factory = config._tmp_path_factory
    if not is_built(checkpoint_dir()):
        _start("tiny", [sys.executable, str(REPO / "tests" / "tiny_checkpoint.py")], REPO,
               factory.mktemp("background") / "tiny_checkpoint.log")
    from workflow_helpers import make_workdir, snakemake_command

    workdir = make_workdir(factory.mktemp("workflow"))
    _start("run", snakemake_command(), workdir, workdir / "snakemake.out")


def pytest_collection_finish(session):
    groups = {_group(item) for item in session.items}
    for name, group in (("tiny", 1), ("run", 2)):
        if name in _BACKGROUND and group not in groups:
            _stop(name)


def _wait_for(name: str, timeout: int = 1800) -> int | None:
    """Wait for a background process; its exit code, or None if it was never started."""
    if name not in _BACKGROUND:
        return None
    proc, _ = _BACKGROUND[name]
    return proc.wait(timeout=timeout)


def _log_tail(name: str) -> str:
    return _BACKGROUND[name][1].read_text()[-6000:]


def pytest_runtest_setup(item):
    # Once no background process is left, the tests may use every core again.
    if all(proc.poll() is not None for proc, _ in _BACKGROUND.values()):
        import torch

        torch.set_num_threads(torch_threads())


def pytest_sessionfinish(session):
    for name in _BACKGROUND:  # e.g. -x stopped the session before a test waited
        _stop(name)


def pytest_unconfigure(config):
    for name in _BACKGROUND:  # stopped already, unless the session never ran
        _stop(name)
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def default_workflow_run() -> Path:
    """The finished default run's directory. Tests that change it (forced reruns) must leave
    it complete."""
    code = _wait_for("run")
    if code is None:
        raise AssertionError(
            "the end-to-end tests share one workflow run that a single pytest process starts "
            "before collection; under pytest-xdist (-n) none is made: run them without -n (make test)")
    if code != 0:
        raise AssertionError(f"the default workflow run failed ({code}):\n{_log_tail('run')}")
    return _BACKGROUND["run"][1].parent
