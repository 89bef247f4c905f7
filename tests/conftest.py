"""Shared fixtures: the embedded corpus, a trained tiny checkpoint (cached), small random models.

Training the tiny model takes a minute or two on two cores, so its checkpoint is cached under
`$PRUNEBENCH_TEST_CACHE` (default `<repo>/.pytest_cache/prunebench`) in a directory named by a
hash of the code that makes it and the build arguments. `save_model` writes atomically, so a
directory that exists is complete.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import subprocess
from pathlib import Path

import pytest
import torch
import transformers

from prunebench import modeling, tiny

REPO = Path(__file__).resolve().parents[1]
TORCH_THREADS = torch.get_num_threads()


# The corpus and the test checkpoint. Fewer steps than the pipeline default keeps the first
# test session short; tests/test_tiny.py checks that the quality bar still holds.
CORPUS_ARGS = {"seed": 0, "n_sentences": tiny.DEFAULT_N_SENTENCES}
TINY_BUILD_ARGS = {"seed": 0, "vocab_size": tiny.DEFAULT_VOCAB_SIZE, "steps": 200,
                   "batch_size": tiny.DEFAULT_BATCH_SIZE, "seq_len": tiny.DEFAULT_SEQ_LEN,
                   "lr": tiny.DEFAULT_LR}


def _cache_root() -> Path:
    return Path(os.environ.get("PRUNEBENCH_TEST_CACHE", REPO / ".pytest_cache" / "prunebench"))


def _cache_key(**args) -> str:
    """Hash of everything the checkpoint depends on: code, library versions and arguments."""
    digest = hashlib.sha256()
    for module in (tiny, modeling):
        digest.update(Path(module.__file__).read_bytes())
    digest.update(json.dumps({"args": args, "torch": torch.__version__,
                              "transformers": transformers.__version__},
                             sort_keys=True).encode())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session", autouse=True)
def isolated_verification_memo(tmp_path_factory):
    """Checkpoint verification memos (prunebench.integrity) go to a per-session folder."""
    os.environ["PRUNEBENCH_CACHE_DIR"] = str(tmp_path_factory.mktemp("prunebench-cache"))


@pytest.fixture(scope="session")
def embedded_corpus(tmp_path_factory) -> Path:
    """A directory with train.txt, validation.txt and test.txt (one paragraph per line)."""
    out = tmp_path_factory.mktemp("embedded_corpus")
    tiny.write_corpus(out, **CORPUS_ARGS)
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(embedded_corpus) -> Path:
    """A trained tiny LLaMA checkpoint (tokenizer included), built once and then reused."""
    out = _cache_root() / f"tiny-{_cache_key(corpus=CORPUS_ARGS, build=TINY_BUILD_ARGS)}"
    out.parent.mkdir(parents=True, exist_ok=True)
    # Parallel test workers (pytest-xdist) share the cache: one trains, the others wait for it.
    with open(out.parent / f"{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / modeling.MANIFEST).exists():
            logging.getLogger(__name__).info("training the tiny test model into %s", out)
            tiny.build_tiny(out, embedded_corpus, **TINY_BUILD_ARGS)
    return out


@pytest.fixture(scope="session")
def small_random_model():
    """A factory `(seed=0, **config_overrides) -> LlamaForCausalLM`, randomly initialised.

    Default shape: 4 blocks, hidden 64, 4 heads of 16, MLP 128, vocab 128; eval mode, CPU.
    """

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



# ------------------------------------------------------------ the shared end-to-end run
# The default workflow (made quick: workflow_helpers.FAST) runs once per session. It starts in
# the background as soon as the tests are collected, so its minutes of mostly single-threaded
# job start-up overlap the unit tests; each side then gets one compute thread of the two cores
# (two threads each would oversubscribe them, and waiting OpenMP threads slow small torch ops
# down many times). Tests of tests/test_workflow.py wait for it when they first need it.
_BACKGROUND: dict[str, tuple[Path, subprocess.Popen]] = {}


def pytest_collection_finish(session):
    wanted = any(item.path.name == "test_workflow.py" for item in session.items)
    if not wanted or session.config.option.collectonly or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    from workflow_helpers import make_workdir, snakemake_command

    workdir = make_workdir(session.config._tmp_path_factory.mktemp("workflow"))
    log = open(workdir / "snakemake.out", "w")  # noqa: SIM115 - closed when the run ends
    proc = subprocess.Popen(snakemake_command(), cwd=workdir, stdout=log,
                            stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": "1"})
    log.close()
    _BACKGROUND["run"] = (workdir, proc)
    torch.set_num_threads(1)


def pytest_sessionfinish(session):
    if "run" in _BACKGROUND:  # started, but no test waited for it (e.g. -x stopped early)
        _BACKGROUND.pop("run")[1].kill()


@pytest.fixture(scope="session")
def default_workflow_run(tmp_path_factory) -> Path:
    """The finished default run's directory. Tests that change it (forced reruns) must leave
    it complete."""
    from workflow_helpers import make_workdir, snakemake

    if "run" not in _BACKGROUND:  # not started at collection (e.g. under pytest-xdist)
        workdir = make_workdir(tmp_path_factory.mktemp("workflow"))
        snakemake(workdir)
        return workdir
    workdir, proc = _BACKGROUND.pop("run")
    code = proc.wait(timeout=1800)
    torch.set_num_threads(TORCH_THREADS)
    if code != 0:
        raise AssertionError(f"the default workflow run failed ({code}):\n"
                             f"{(workdir / 'snakemake.out').read_text()[-6000:]}")
    return workdir
