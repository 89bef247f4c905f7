"""Evaluation text tokenized as the study's code tokenized it: transformers 4.x's slow
`LlamaTokenizer` in its legacy mode (the mode of every LLaMA tokenizer config written before
transformers 4.31, LLaMA-1's and Vicuna v1.3's among them).

That tokenizer cuts the text at each special token's string (`<unk>`, `<s>`, `</s>`, and any
added token) and gives every piece between them to SentencePiece on its own, so each piece gets
SentencePiece's dummy prefix `▁`. transformers 5 tokenizes with the `tokenizers` library and
without that prefix after a special token. The two streams differ chiefly where the text holds
a special token's string: Penn Treebank's text holds `<unk>` 3,485 times (its rare words), so
its stream under LLaMA's tokenizer is about 3% longer the study's way (101,548 tokens against
98,371, counted with LLaMA-1's tokenizer.model), and its perplexity is another number.
WikiText-2's raw text holds none (the two streams are equal in length; 8 of its 338,538 tokens
differ). A run of two or more spaces inside a text is split otherwise too (legacy:
'band  between' -> '▁band', '▁', '▁between'; transformers 5: '▁band', '▁▁', 'between'), as
SentencePiece cuts the text at spaces first; zero-shot tasks' texts hold such runs here and
there. A text that starts with a space differs in its first tokens too (legacy: ' the' -> '▁',
'▁the').
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from prunebench import PrunebenchError

SENTENCEPIECE_FILE = "tokenizer.model"
# evaluation.perplexity.tokenization and evaluation.zeroshot.tokenization: the checkpoint's
# tokenizer as transformers loads it, or the study's (this module).
TOKENIZATIONS = ("tokenizer", "sentencepiece_legacy")


def needs_sentencepiece(tokenization: str | None, datasets) -> bool:
    """Whether evaluating `datasets` with `tokenization` reads the SentencePiece model: the
    study's tokenization of a hub text (the embedded text is scored as the tiny model was
    trained, whatever the setting)."""
    return tokenization == "sentencepiece_legacy" and any(d != "embedded" for d in datasets)


def sentencepiece_file(checkpoint: str | Path) -> Path:
    """The SentencePiece model of `checkpoint`: its own `tokenizer.model`, else that of the
    checkpoint it was made from, as its manifest says (a pruned model's base, a recovered one's
    pruned model: transformers 5 saves a tokenizer without the file), checked against that
    folder's manifest like every tokenizer file."""
    from prunebench.atomic import read_json_or_none
    from prunebench.checkpoint.integrity import MANIFEST, verify_manifest

    folder, seen = Path(checkpoint), []
    while folder is not None and folder not in seen:
        seen.append(folder)
        if (folder / SENTENCEPIECE_FILE).is_file():
            verify_manifest(folder, weights=False)
            return folder / SENTENCEPIECE_FILE
        manifest = read_json_or_none(folder / MANIFEST)
        folder = _made_from(manifest) if isinstance(manifest, dict) else None
    own = read_json_or_none(Path(checkpoint) / MANIFEST)
    # A manifest that names the checkpoint's files refuses one added after the save (F67).
    remedy = (f"or make {checkpoint} again from a base model that has one"
              if isinstance(own, dict) and own.get("files_sha256") else
              f"or copy the base model's {SENTENCEPIECE_FILE} into {checkpoint}")
    raise PrunebenchError(
        f"tokenization sentencepiece_legacy (evaluation.perplexity or evaluation.zeroshot) "
        f"needs the SentencePiece model "
        f"({SENTENCEPIECE_FILE}) of {checkpoint}, which neither it nor the checkpoints it was "
        f"made from ({', '.join(str(f) for f in seen[1:]) or 'none recorded'}) have: LLaMA-1, "
        "LLaMA-2 and Vicuna ship one; for a model whose tokenizer is not SentencePiece's "
        f"(Llama-3, Qwen), use tokenization: tokenizer, {remedy}")


def _made_from(manifest: dict) -> Path | None:
    """The folder a checkpoint was made from, as its manifest records it (prunebench.pruning's
    `base`, prunebench.lora's `lora.base`)."""
    base = manifest.get("base")
    if isinstance(base, dict) and isinstance(base.get("checkpoint"), str):
        return Path(base["checkpoint"])
    lora = manifest.get("lora")
    if isinstance(lora, dict) and isinstance(lora.get("base"), str):
        return Path(lora["base"])
    return None


def legacy_ids(text: str, model_file: str | Path, special_tokens: dict[str, int]) -> list[int]:
    """Token ids of `text` (no BOS) as the slow legacy `LlamaTokenizer` makes them: cut at
    every string of `special_tokens` (string -> id; a longer one first where two start at the
    same place), each piece between encoded by SentencePiece on its own, each special token its
    id. (Its special tokens strip no spaces around them: LLaMA's are made with lstrip and rstrip
    off.)"""
    processor = _processor(str(model_file))
    strings = sorted((s for s in special_tokens if s), key=len, reverse=True)
    if not strings:
        return processor.encode(text) if text else []
    ids, start = [], 0
    for match in re.finditer("|".join(map(re.escape, strings)), text):
        if match.start() > start:
            ids += processor.encode(text[start:match.start()])
        ids.append(special_tokens[match.group()])
        start = match.end()
    if start < len(text):
        ids += processor.encode(text[start:])
    return ids


@functools.lru_cache(maxsize=4)
def _processor(model_file: str):
    """The SentencePiece model at `model_file`, loaded once: zero-shot tasks encode every
    request's text (tens of thousands) with it."""
    import sentencepiece

    return sentencepiece.SentencePieceProcessor(model_file=model_file)


def legacy_encoder(tokenizer):
    """`text -> ids` the study's way for the checkpoint `tokenizer` was loaded from: its
    SentencePiece model (sentencepiece_file) and its special and added tokens."""
    model_file = sentencepiece_file(tokenizer.name_or_path)
    special = dict(tokenizer.added_tokens_encoder)
    return lambda text: legacy_ids(text, model_file, special)
