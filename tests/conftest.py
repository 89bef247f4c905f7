"""Shared fixtures: the embedded corpus, a trained tiny checkpoint (cached), small random models.

Training the tiny model takes a minute or two on two cores, so its checkpoint is cached under
`$PRUNEBENCH_TEST_CACHE` (default `<repo>/.pytest_cache/prunebench`) in a directory named by a
hash of the code that makes it and the build arguments. `save_model` writes atomically, so a
directory that exists is complete.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import pytest
import torch
import transformers

from prunebench import modeling, tiny

REPO = Path(__file__).resolve().parents[1]

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
