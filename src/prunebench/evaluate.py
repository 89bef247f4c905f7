"""Perplexity in fixed windows, the way the depth-pruning study measured it.

The text is tokenized once as a stream (BOS at its start only, like the reference evaluation);
with stride == window the windows do not overlap and every token after a window's first is scored
once. With stride < window each window re-reads context and scores only its last `stride` tokens.
The result depends only on the windows, not on the batch size (up to floating-point rounding:
in float16, about 1e-4 of the perplexity).
"""

from __future__ import annotations

import hashlib
import logging
import math
from typing import Any

import torch
import torch.nn.functional as F

from prunebench import PrunebenchError
from prunebench.checkpoint.device_map import main_device
from prunebench.checkpoint.param_count import context_length
from prunebench.data import scored_id_problem
from prunebench.logs import Progress
from prunebench.oom import first_line, is_out_of_memory, out_of_memory_error

log = logging.getLogger(__name__)


def token_stream(tokenizer, text: str, bos: str = "first", encode=None) -> torch.Tensor:
    """Token ids of `text`; with bos "first" the stream starts with BOS (the reference's way).
    `encode` (text -> ids) tokenizes instead of `tokenizer` (legacy_tokenization)."""
    if bos not in ("first", "none"):
        raise PrunebenchError(f"bos handling {bos!r} unknown: use 'first' or 'none'")
    ids = encode(text) if encode else tokenizer(text, add_special_tokens=False)["input_ids"]
    if bos == "first" and tokenizer.bos_token_id is not None:
        ids = [tokenizer.bos_token_id] + ids
    return torch.tensor(ids, dtype=torch.long)


def windows_of(stream: torch.Tensor, length: int, stride: int | None = None,
               max_windows: int | None = None) -> list[tuple[int, int, int]]:
    """(start, end, context) per window: the first `context` tokens are only read, not scored."""
    stride = stride or length
    if length < 2 or not 0 < stride <= length:
        raise PrunebenchError(f"window {length} / stride {stride}: need window >= 2 and "
                              "0 < stride <= window")
    if len(stream) < length:
        raise PrunebenchError(f"evaluation text has {len(stream)} tokens, fewer than one window "
                              f"of {length}")
    spans = [(0, length, 0)]
    start = stride
    while start + length <= len(stream):
        spans.append((start, start + length, length - stride))
        start += stride
    return spans[:max_windows] if max_windows else spans


@torch.no_grad()
def perplexity(model, stream: torch.Tensor, window: int, stride: int | None = None,
               batch_size: int = 8, max_windows: int | None = None,
               bos_token_id: int | None = None) -> dict:
    """exp(total NLL / scored tokens) over the windows, with the counts behind it.

    A window is `window` text tokens. With `bos_token_id`, BOS goes before each (the model
    reads window + 1 tokens) and predicts its first text token, as the study's
    `add_bos_to_every` evaluation (`ppl_bos`) does; without, a window's first token is never
    scored.
    """
    prefix = 1 if bos_token_id is not None else 0
    context_limit = context_length(model.config)  # (MPT's max_seq_len: its ALiBi table's rows)
    if context_limit and window + prefix > context_limit:
        with_bos = " (plus the BOS that starts every window)" if prefix else ""
        raise PrunebenchError(f"perplexity window {window}{with_bos} exceeds the model's context "
                              f"of {context_limit} tokens: set evaluation.perplexity.window "
                              f"(`prunebench eval --window`) <= {context_limit - prefix}")
    if problem := scored_id_problem(stream, model.config):  # (Apertus 1.5's narrower head)
        raise PrunebenchError(f"the perplexity text {problem}")
    step = stride or window
    spans = windows_of(stream, window, step, max_windows)
    device = main_device(model)  # where inputs go, also for a dispatched model
    total_nll, total_tokens = 0.0, 0
    progress = Progress(log, "perplexity windows", len(spans))
    try:
        for i in range(0, len(spans), batch_size):
            chunk = spans[i:i + batch_size]
            batch = torch.stack([stream[s:e] for s, e, _ in chunk]).to(device)
            if prefix:
                batch = torch.cat([torch.full_like(batch[:, :1], bos_token_id), batch], dim=1)
            logits = model(input_ids=batch).logits.float()
            # nll[:, j] is the loss of input position j + 1; text token k sits at position
            # k + prefix.
            nll = F.cross_entropy(logits[:, :-1].transpose(1, 2), batch[:, 1:], reduction="none")
            for row, (_, _, context) in enumerate(chunk):
                skip = max(context + prefix - 1, 0)
                total_nll += nll[row, skip:].double().sum().item()
                total_tokens += nll.shape[1] - skip
            progress.update(i + len(chunk))
    except Exception as exc:  # noqa: BLE001 - only allocation failures are translated
        if not is_out_of_memory(exc):
            raise
        # The result does not depend on the batch size (module docstring), so lowering it is
        # the first thing to try; the logits of a batch (batch x window x vocab, float32) are
        # often what does not fit.
        raise out_of_memory_error(exc)(
            f"out of memory scoring perplexity on {device} in batches of {batch_size} windows "
            f"of {window} tokens ({first_line(exc)}): lower evaluation.perplexity.batch_size "
            "(`prunebench eval --batch-size`), or spread the model over several devices with "
            "the model's device_map / max_memory in the config") from None
    ppl = math.exp(total_nll / total_tokens) if total_nll / total_tokens < 700 else math.inf
    if not math.isfinite(ppl):
        log.warning("perplexity is not finite: the model diverges on this text")
    return {"perplexity": ppl, "nll_sum": total_nll, "scored_tokens": total_tokens,
            "windows": len(spans), "window_text_tokens": window, "stride_tokens": step,
            "bos_in_every_window": bool(prefix)}


def perplexities(model, tokenizer, texts: dict[str, str],
                 settings: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`perplexity` on each text (dataset -> text) with the evaluation settings (window,
    stride, bos, batch_size, max_windows): dataset -> its result.

    bos: "first" starts each text's stream with BOS, "window" starts every window with it,
    "none" adds none. tokenization (left out: "tokenizer"): "sentencepiece_legacy" tokenizes the
    hub texts as the study's code did (legacy_tokenization), with the SentencePiece model of the
    checkpoint `tokenizer` was loaded from. The embedded text is scored as the tiny model was
    trained: each paragraph as <s> paragraph </s>."""
    from prunebench.legacy_tokenization import TOKENIZATIONS, legacy_encoder, needs_sentencepiece
    from prunebench.modeling import dtype_name, placement_record
    from prunebench.tiny import encode_text

    tokenization = settings.get("tokenization") or "tokenizer"
    if tokenization not in TOKENIZATIONS:
        raise PrunebenchError(f"evaluation.perplexity.tokenization {tokenization!r} unknown: use "
                              f"one of {list(TOKENIZATIONS)}")
    encode = legacy_encoder(tokenizer) if needs_sentencepiece(tokenization, texts) else None

    if settings["bos"] != "none" and tokenizer.bos_token_id is None:
        log.warning("the tokenizer has no BOS token (e.g. Qwen's): bos=%s adds none, so the "
                    "texts are scored as with bos: none", settings["bos"])
    scores = {}
    for dataset, text in texts.items():
        if dataset == "embedded":
            stream = encode_text(tokenizer, text)
        else:
            stream = token_stream(tokenizer, text,
                                  bos="first" if settings["bos"] == "first" else "none",
                                  encode=encode)
        if len(stream) < settings["window"]:  # said with the text's name and the fix
            raise PrunebenchError(
                f"perplexity text {dataset} has {len(stream)} tokens, fewer than one window of "
                f"{settings['window']}: score a longer text, or set a shorter window "
                "(evaluation.perplexity.window; `prunebench eval --window`)")
        bos_id = tokenizer.bos_token_id if settings["bos"] == "window" else None
        scores[dataset] = perplexity(model, stream, settings["window"], settings.get("stride"),
                                     settings["batch_size"], settings.get("max_windows"), bos_id)
        # Which text was scored (PTB is read at the commit its text job's log names), and in
        # which precision (evaluation.perplexity.dtype).
        scores[dataset]["text_sha256"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
        scores[dataset]["dtype"] = dtype_name(model)
        scores[dataset]["tokenization"] = "tokenizer" if dataset == "embedded" else tokenization
        scores[dataset]["stream_tokens"] = len(stream)
        scores[dataset].update(placement_record(model))  # a model spread by a device map
        log.info("%s: PPL %.3f over %d tokens", dataset, scores[dataset]["perplexity"],
                 scores[dataset]["scored_tokens"])
    return scores
