"""Perplexity in fixed windows: equal to a direct NLL sum, independent of batch size."""
import math

import pytest
import torch
import torch.nn.functional as F
from transformers import LlamaConfig

from prunebench import PrunebenchError
from prunebench.evaluate import perplexity, windows_of
from prunebench.modeling import build_model


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    config = LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, vocab_size=40)
    return build_model(config, device="cpu").eval()


@pytest.fixture(scope="module")
def stream():
    return torch.randint(3, 40, (103,), generator=torch.Generator().manual_seed(1))


def direct_nll(model, ids):
    """Sum of next-token NLL of one window, computed token by token from full logits."""
    with torch.no_grad():
        logits = model(input_ids=ids[None]).logits[0]
    return sum(-F.log_softmax(logits[t - 1], -1)[ids[t]].item() for t in range(1, len(ids)))


def test_perplexity_equals_direct_computation(model, stream):
    out = perplexity(model, stream, window=20, batch_size=3)
    windows = [stream[s:s + 20] for s in range(0, 100, 20)]  # 5 full windows, 3 tokens left over
    nll = sum(direct_nll(model, w) for w in windows)
    assert out["scored_tokens"] == 5 * 19
    assert out["perplexity"] == pytest.approx(math.exp(nll / (5 * 19)), rel=1e-5)


@pytest.mark.parametrize("error, translated", [
    (torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), True),
    (RuntimeError("CUDA error: out of memory"), True),
    (RuntimeError("expected scalar type Half but found Float"), False),
])
def test_out_of_memory_names_the_batch_size_to_lower(model, stream, error, translated):
    def exhausted(*args, **kwargs):
        raise error

    handle = model.register_forward_pre_hook(exhausted)
    try:
        with pytest.raises(PrunebenchError if translated else RuntimeError) as raised:
            perplexity(model, stream, window=20, batch_size=3)
    finally:
        handle.remove()
    if translated:
        message = str(raised.value)
        assert "\n" not in message and "in batches of 3 windows of 20 tokens" in message
        assert "lower evaluation.perplexity.batch_size" in message and "device_map" in message
    else:  # anything else is not explained away as memory
        assert raised.value is error


def test_perplexity_is_independent_of_batch_size(model, stream):
    values = {b: perplexity(model, stream, window=16, batch_size=b)["perplexity"] for b in (1, 2, 7)}
    assert values[1] == pytest.approx(values[2], rel=1e-6)
    assert values[1] == pytest.approx(values[7], rel=1e-6)


def test_bos_per_window_scores_every_text_token(model, stream):
    out = perplexity(model, stream, window=20, bos_token_id=1, batch_size=4)
    windows = [torch.cat([torch.tensor([1]), stream[s:s + 20]]) for s in range(0, 100, 20)]
    nll = sum(direct_nll(model, w) for w in windows)
    assert out["scored_tokens"] == 100
    assert out["perplexity"] == pytest.approx(math.exp(nll / 100), rel=1e-5)
    # what ppl.json's details record: the windows' text tokens and step
    assert (out["window_text_tokens"], out["stride_tokens"], out["bos_in_every_window"]) == (
        20, 20, True)
    plain = perplexity(model, stream, window=20, stride=10)
    assert (plain["window_text_tokens"], plain["stride_tokens"], plain["bos_in_every_window"]) \
        == (20, 10, False)


def studys_eval_ppl(model, text_ids: torch.Tensor, seq_len: int, add_bos_to_every: bool,
                    bos: int = 1) -> float:
    """The study's perplexity (shortened-llm src/dataset.py `process_data` and src/eval_ppl.py
    `llama_eval`), written out from its loops: BOS before the stream or before every window of
    seq_len tokens, the NLL of every next token of each window, exp of their mean."""
    ids = text_ids if add_bos_to_every else torch.cat([torch.tensor([bos]), text_ids])
    nlls = []
    for i in range(ids.numel() // seq_len):
        window = ids[i * seq_len:(i + 1) * seq_len]
        if add_bos_to_every:
            window = torch.cat([torch.tensor([bos]), window])
        with torch.no_grad():
            logits = model(input_ids=window[None]).logits[0]
        nlls.append(F.cross_entropy(logits[:-1].double(), window[1:], reduction="none"))
    return math.exp(torch.cat(nlls).mean().item())


@pytest.mark.parametrize("add_bos_to_every", [False, True])
def test_both_bos_settings_score_what_the_studys_evaluation_scores(model, stream,
                                                                  add_bos_to_every):
    """bos: first is the study's ppl.csv protocol, bos: window its ppl_bos.csv one."""
    text = stream[1:]  # text tokens only; the study puts the BOS in itself
    ours_stream = text if add_bos_to_every else torch.cat([torch.tensor([1]), text])
    ours = perplexity(model, ours_stream, window=16, batch_size=3,
                      bos_token_id=1 if add_bos_to_every else None)
    assert ours["perplexity"] == pytest.approx(
        studys_eval_ppl(model, text, 16, add_bos_to_every), rel=1e-5)


def test_strided_windows_score_each_token_once(model, stream):
    spans = windows_of(stream, 20, stride=10)
    scored = [t for s, e, ctx in spans for t in range(s + max(ctx, 1), e)]
    assert len(scored) == len(set(scored))
    assert scored == list(range(1, spans[-1][1]))
    out = perplexity(model, stream, window=20, stride=10)
    assert out["scored_tokens"] == len(scored)


def test_text_shorter_than_a_window_is_refused(model):
    with pytest.raises(PrunebenchError, match="fewer than one window"):
        perplexity(model, torch.arange(10), window=20)
