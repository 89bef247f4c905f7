"""The embedded default's tokenizer and tiny LLaMA, trained on CPU on the synthetic corpus of
`prunebench.corpus` (which describes the language and why it is built that way).

The canonical token stream of a corpus file (`encode_text`) is `<s> paragraph </s>` for every
line, concatenated; the model is trained on random windows of that stream.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from pathlib import Path

import torch
from tokenizers import (Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers,
                        processors, trainers)
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from prunebench import PrunebenchError
from prunebench.checkpoint.architectures import TINY_SEQ_LEN, TINY_SHAPE, TINY_VOCAB_SIZE
from prunebench.evaluate import perplexity
from prunebench.modeling import build_model, count_params, save_model
from prunebench.provenance import provenance

log = logging.getLogger(__name__)

UNK, BOS, EOS = "<unk>", "<s>", "</s>"

# Defaults of the embedded model (the pipeline's `tiny` model and the tests' checkpoint).
DEFAULT_VOCAB_SIZE = TINY_VOCAB_SIZE
DEFAULT_STEPS = 250
DEFAULT_BATCH_SIZE = 8
DEFAULT_SEQ_LEN = TINY_SEQ_LEN
DEFAULT_LR = 3e-3

# --------------------------------------------------------------------------- tokenizer

def train_tokenizer(text: str, vocab_size: int = DEFAULT_VOCAB_SIZE,
                    padding_side: str = "left") -> PreTrainedTokenizerFast:
    """A BPE tokenizer with LLaMA's conventions, trained offline on `text`.

    `<unk>`=0, `<s>`=1 (prepended by the post-processor), `</s>`=2; pad is `<unk>` (id 0), as
    usually done for LLaMA. Words are split on spaces and punctuation (spaces become "▁", as in
    SentencePiece); newlines are read as spaces.
    """
    if padding_side not in ("left", "right"):
        raise PrunebenchError(f"padding_side={padding_side!r}: use 'left' or 'right'")
    if not text.strip():
        raise PrunebenchError("cannot train a tokenizer on empty text: pass the train split")
    if vocab_size < 64:
        raise PrunebenchError(f"vocab_size={vocab_size} is too small: use at least 64 (the "
                              "characters alone need about 60 entries)")
    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.normalizer = normalizers.Replace(Regex(r"\s*\n\s*"), " ")
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first"),
        pre_tokenizers.Punctuation(behavior="isolated"),
    ])
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[UNK, BOS, EOS],
                                  show_progress=False)
    tok.train_from_iterator(text.splitlines(), trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B:1",
        special_tokens=[(BOS, tok.token_to_id(BOS))])
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token=UNK, bos_token=BOS,
                                   eos_token=EOS, pad_token=UNK, padding_side=padding_side,
                                   clean_up_tokenization_spaces=False)


def encode_text(tokenizer, text: str) -> torch.Tensor:
    """The canonical token stream of a corpus file: `<s> line </s>` per non-empty line, the
    tokenizer's BOS and EOS put there whatever its own encoding adds (a real model's tokenizer
    scoring the embedded text may add none, or an EOS of its own); none it lacks."""
    lines = [line for line in text.splitlines() if line.strip()]
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    ids: list[int] = []
    for row in tokenizer(lines, add_special_tokens=False)["input_ids"]:
        ids += bos + row + eos
    return torch.tensor(ids, dtype=torch.long)


# --------------------------------------------------------------------------- model

def tiny_config(vocab_size: int, **overrides) -> LlamaConfig:
    """8 blocks, hidden 128, 4 heads of 32, MLP 384: about 2M parameters (TINY_SHAPE)."""
    return LlamaConfig(**{**TINY_SHAPE, "vocab_size": vocab_size, **overrides})


def _lr_at(step: int, steps: int, lr: float, warmup: int) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def train_tiny_model(config: LlamaConfig, tokenizer, train_text: str, *,
                     steps: int = DEFAULT_STEPS, batch_size: int = DEFAULT_BATCH_SIZE,
                     seq_len: int = DEFAULT_SEQ_LEN, lr: float = DEFAULT_LR, seed: int = 0,
                     log_every: int = 50) -> LlamaForCausalLM:
    """Train a LLaMA from scratch on random windows of `train_text`, on CPU in float32.

    Deterministic from `seed` on one machine with the same torch version and thread count:
    the weights' init and the windows come from seeded generators, and deterministic algorithms
    are requested. Different thread counts or CPUs may reorder float reductions, so weights then
    differ in the last bits.
    """
    if steps < 1 or batch_size < 1 or seq_len < 2:
        raise PrunebenchError(f"steps={steps}, batch_size={batch_size}, seq_len={seq_len}: "
                              "all must be positive (seq_len at least 2)")
    if seq_len > config.max_position_embeddings:
        raise PrunebenchError(f"seq_len={seq_len} exceeds max_position_embeddings="
                              f"{config.max_position_embeddings}: shorten it")
    stream = encode_text(tokenizer, train_text)
    if len(stream) <= seq_len + 1:
        raise PrunebenchError(f"train text has {len(stream)} tokens, fewer than one window of "
                              f"{seq_len + 1}: pass more text or a shorter seq_len")
    if int(stream.max()) >= config.vocab_size:
        raise PrunebenchError(f"tokenizer ids reach {int(stream.max())} but the config's "
                              f"vocab_size is {config.vocab_size}: build the config from "
                              "len(tokenizer)")

    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        torch.manual_seed(seed)
        model = build_model(config, device="cpu", dtype=torch.float32)
        model.train()
        windows = torch.Generator().manual_seed(seed)
        decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
        no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                                 {"params": no_decay, "weight_decay": 0.0}],
                                lr=lr, betas=(0.9, 0.95), foreach=False)
        warmup = max(1, min(100, steps // 10))
        offsets = torch.arange(seq_len + 1)
        t0 = last = time.perf_counter()
        for step in range(steps):
            for group in opt.param_groups:
                group["lr"] = _lr_at(step, steps, lr, warmup)
            starts = torch.randint(0, len(stream) - seq_len - 1, (batch_size,), generator=windows)
            batch = stream[starts[:, None] + offsets]
            loss = _lm_loss(model, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            if (step + 1) % log_every == 0 or step + 1 == steps:
                now = time.perf_counter()
                n = log_every if (step + 1) % log_every == 0 else (step + 1) % log_every
                log.info("step %d/%d  loss %.4f  lr %.2e  %.0f tokens/s", step + 1, steps,
                         loss.item(), opt.param_groups[0]["lr"],
                         n * batch_size * seq_len / max(now - last, 1e-9))
                last = now
        log.info("trained %d steps in %.1f s, final loss %.4f", steps, time.perf_counter() - t0,
                 loss.item())
    finally:
        torch.use_deterministic_algorithms(deterministic)
    model.eval()
    model.config.use_cache = True
    return model


def _lm_loss(model: LlamaForCausalLM, batch: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy of a [B, L+1] batch (inputs are the first L tokens)."""
    logits = model(input_ids=batch[:, :-1], use_cache=False).logits
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                             batch[:, 1:].reshape(-1))


def build_tiny(out_dir: str | Path, corpus_dir: str | Path, *, seed: int = 0,
               vocab_size: int = DEFAULT_VOCAB_SIZE, steps: int = DEFAULT_STEPS,
               batch_size: int = DEFAULT_BATCH_SIZE, seq_len: int = DEFAULT_SEQ_LEN,
               lr: float = DEFAULT_LR, log_every: int = 50, **config_overrides) -> Path:
    """Train the tokenizer and the tiny model on corpus_dir/train.txt; save a checkpoint."""
    train_file = Path(corpus_dir) / "train.txt"
    if not train_file.exists():
        raise PrunebenchError(f"{train_file} does not exist: write the corpus first "
                              "(prunebench.corpus.write_corpus)")
    text = train_file.read_text(encoding="utf-8")
    tokenizer = train_tokenizer(text, vocab_size=vocab_size)
    config = tiny_config(len(tokenizer), **config_overrides)
    log.info("tiny model: %d-token vocab, %d blocks, %d params", len(tokenizer),
             config.num_hidden_layers, count_params(config))
    model = train_tiny_model(config, tokenizer, text, steps=steps, batch_size=batch_size,
                             seq_len=seq_len, lr=lr, seed=seed, log_every=log_every)
    record = {"seed": seed, "vocab_size": vocab_size, "steps": steps, "batch_size": batch_size,
              "seq_len": seq_len, "lr": lr, "config_overrides": config_overrides,
              # the text it learnt (the embedded text's seed and size make it): its digest
              "train_text_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
              # the thread count and library versions can change the last bits of the weights
              "provenance": provenance(device="cpu", seed=seed)}
    validation = Path(corpus_dir) / "validation.txt"
    if validation.exists():
        ids = encode_text(tokenizer, validation.read_text(encoding="utf-8"))
        if len(ids) >= seq_len:
            record["validation_perplexity"] = perplexity(model, ids, window=seq_len)["perplexity"]
            log.info("validation perplexity %.3f", record["validation_perplexity"])
    save_model(model, tokenizer, out_dir, extra_manifest={"tiny": record})
    return Path(out_dir)
