"""The benchmark prompt: the same exact-length prompt for every run of a model."""

from __future__ import annotations

import torch

from prunebench import PrunebenchError

# The paper's 12-token prompt (12 tokens with BOS under the LLaMA tokenizer) opens the text, so the
# 12-token prompt is the paper's; the rest is our own, long enough for the 82-token config.
PROMPT_TEXT = (
    "The Leaning Tower of Pisa is known for its unintended tilt, which began while it was still "
    "being built in the twelfth century, when the soft ground on one side could not carry the "
    "weight of the stone. The builders tried to correct it by making the upper floors a little "
    "taller on the sinking side, so the tower is in fact gently curved. Late in the twentieth "
    "century engineers drew soil from under the raised side of the foundation and halved the "
    "lean, and visitors still climb the narrow spiral stairs to look out over the cathedral "
    "square and the red roofs of the city."
)
# Ids below this are special in LLaMA vocabularies (0 unk/pad, 1 BOS, 2 EOS).
FIRST_ORDINARY_ID = 3


def make_prompt(tokenizer, n_tokens: int, vocab_size: int, seed: int = 0,
                bos_token_id: int | None = 1) -> torch.Tensor:
    """An exact-length prompt, BOS first: fixed natural text, or random ids without a tokenizer.

    With a tokenizer, PROMPT_TEXT is tokenised and truncated (or repeated) to exactly n tokens,
    so the prompt is fixed per model. Random models have no tokenizer: their prompt is
    deterministic random ordinary (non-special) ids.
    """
    if n_tokens < 1:
        raise PrunebenchError(f"prompt length must be at least 1 token, got {n_tokens}")
    if tokenizer is not None:
        bos = tokenizer.bos_token_id
        body = tokenizer(PROMPT_TEXT, add_special_tokens=False)["input_ids"]
        if not body:
            raise PrunebenchError("the tokenizer turns the benchmark prompt into no tokens; "
                                  "check that it is a text tokenizer for this model")
    else:
        bos = bos_token_id
        if vocab_size <= FIRST_ORDINARY_ID:
            raise PrunebenchError(f"vocab_size {vocab_size} leaves no ordinary token ids for a "
                                  "random prompt; use a model with a larger vocabulary")
        gen = torch.Generator().manual_seed(seed)
        body = torch.randint(FIRST_ORDINARY_ID, vocab_size, (n_tokens,), generator=gen).tolist()
    ids = [bos] if bos is not None else []
    while len(ids) < n_tokens:
        ids.extend(body)
    return torch.tensor(ids[:n_tokens], dtype=torch.long)
