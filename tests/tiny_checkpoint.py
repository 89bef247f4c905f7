"""The trained tiny checkpoint the tests share, cached on disk between sessions.

Training it takes about 3 minutes of one core, so conftest starts it in a background process
(`python tests/tiny_checkpoint.py`, which returns at once when the checkpoint is cached) before
the tests are collected, and the fixture `tiny_model_dir` waits for it. The checkpoint lives under `$PRUNEBENCH_TEST_CACHE` (default
`<repo>/.pytest_cache/prunebench`) in a directory named by a hash of the code that makes it and
its arguments. Whoever builds it holds an OS file lock on `<dir>.lock` (released by the kernel if
the builder dies), so the background builder and the fixture never train it twice at once, and
`save_model` writes atomically: a directory with a manifest is complete.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

import tokenizers
import torch

from prunebench import corpus, modeling, tiny
from prunebench.checkpoint import architectures

REPO = Path(__file__).resolve().parents[1]

# Fewer steps than the pipeline default keeps the first test session short;
# tests/test_tiny.py checks that the quality bar still holds.
CORPUS_ARGS = {"seed": 0, "n_sentences": corpus.DEFAULT_N_SENTENCES}
BUILD_ARGS = {"seed": 0, "vocab_size": tiny.DEFAULT_VOCAB_SIZE, "steps": 200,
              "batch_size": tiny.DEFAULT_BATCH_SIZE, "seq_len": tiny.DEFAULT_SEQ_LEN,
              "lr": tiny.DEFAULT_LR}


def checkpoint_dir() -> Path:
    """Where the checkpoint for this code, these library versions and arguments lives: the
    corpus, the training and the saving, the model's shape (architectures' TINY_SHAPE,
    TINY_VOCAB_SIZE, TINY_SEQ_LEN), and the libraries that tokenize and train it. Not
    transformers' release: the checkpoint is prunebench's own format, which every release it
    accepts loads, so `make test-floor` (the oldest release, after `make test` in the CI) uses
    the one the newest trained instead of training another (3 minutes of a core); a test
    needs a trained tiny LLaMA, not the one a release would train."""
    digest = hashlib.sha256()
    for module in (corpus, tiny, modeling, architectures):
        digest.update(Path(module.__file__).read_bytes())
    digest.update(json.dumps({"corpus": CORPUS_ARGS, "build": BUILD_ARGS,
                              "torch": torch.__version__,
                              "tokenizers": tokenizers.__version__},
                             sort_keys=True).encode())
    root = Path(os.environ.get("PRUNEBENCH_TEST_CACHE", REPO / ".pytest_cache" / "prunebench"))
    return root / f"tiny-{digest.hexdigest()[:16]}"


def is_built(out: Path) -> bool:
    return (out / modeling.MANIFEST).exists()


def ensure_built(out: Path, corpus_dir: Path | None = None) -> Path:
    """Train the checkpoint into `out` unless it is there; waits while another process builds."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f"{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not is_built(out):
            logging.getLogger(__name__).info("training the tiny test model into %s", out)
            with tempfile.TemporaryDirectory() as scratch:
                if corpus_dir is None:
                    corpus_dir = Path(scratch)
                    corpus.write_corpus(corpus_dir, **CORPUS_ARGS)
                tiny.build_tiny(out, corpus_dir, **BUILD_ARGS)
    return out


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ensure_built(Path(sys.argv[1]) if len(sys.argv) > 1 else checkpoint_dir())
