"""Sampling in the compiled backend (issue #14 item 9) and its build time per row (item 11).

Every check is deterministic: fixed seeds, float64 models where a support is compared (HF and
the decoder then agree to ~1e-15 before the shared cast to float32), no timing thresholds.
"""

from __future__ import annotations

import pytest
import torch
from transformers.generation.logits_process import (TemperatureLogitsWarper, TopKLogitsWarper,
                                                    TopPLogitsWarper)

from prunebench import PrunebenchError
from prunebench import benchmark as bench
from prunebench.benchmark.sampling import STUDY_SAMPLING, Sampling, filter_logits, sample
from prunebench.benchmark.compiled import StaticDecoder
from test_benchmark import dense_model, sweep, width_model

# The study's, one that cuts hard with every filter, and one per filter alone.
SETTINGS = [STUDY_SAMPLING, Sampling(top_k=8, top_p=0.6, temperature=0.7),
            Sampling(top_k=0, top_p=0.8, temperature=1.3), Sampling(top_k=5, top_p=1.0)]


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is fastest


def hf_support(scores: torch.Tensor, s: Sampling) -> torch.Tensor:
    """Boolean [B, V] support from HF's own warpers, in the order `generate` applies them."""
    scores = scores.to(torch.float32)
    if s.temperature != 1.0:
        scores = TemperatureLogitsWarper(s.temperature)(None, scores)
    if s.top_k:
        scores = TopKLogitsWarper(top_k=s.top_k)(None, scores)
    if s.top_p < 1.0:
        scores = TopPLogitsWarper(top_p=s.top_p)(None, scores)
    return torch.isfinite(scores)


@pytest.mark.parametrize("s", SETTINGS)
def test_filter_is_hf_warpers(s):
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 300, generator=gen) * 3
    logits[0, :40] = 5.0  # ties across the top-k cut: HF keeps every tied token
    ours = filter_logits(logits, s)
    assert torch.equal(torch.isfinite(ours), hf_support(logits, s))
    support = torch.isfinite(ours)
    assert (support.sum(-1) < 300).all()  # every setting cuts something: a real check


def test_sample_never_leaves_the_support_and_follows_the_noise():
    """The exponential race picks argmax(probs / noise): with noise 1 it is greedy, a tiny noise
    on a supported token draws it, and no noise can draw a token outside the support."""
    logits = torch.tensor([[4.0, 3.0, 2.0, -5.0, -6.0]])
    s = Sampling(top_k=3, top_p=1.0)
    ones = torch.ones_like(logits)
    assert sample(logits, ones, s).item() == 0
    tiny = ones.clone()
    tiny[0, 2] = 1e-30
    assert sample(logits, tiny, s).item() == 2
    tiny = ones.clone()
    tiny[0, 4] = torch.finfo(torch.float32).tiny  # outside the top 3: probability exactly 0
    assert sample(logits, tiny, s).item() == 0


@pytest.mark.parametrize("kwargs,match", [
    (dict(top_k=-1), "top_k"), (dict(top_k=2.5), "top_k"), (dict(top_p=0.0), "top_p"),
    (dict(top_p=1.5), "top_p"), (dict(temperature=0.0), "temperature"),
])
def test_bad_sampling_settings(kwargs, match):
    with pytest.raises(PrunebenchError, match=match):
        Sampling(**kwargs)


def test_decoder_rejects_a_non_sampling_object():
    with pytest.raises(PrunebenchError, match="Sampling"):
        StaticDecoder(dense_model(), 1, 8, mode="eager", sampling={"top_k": 50})


def prompt(batch: int, length: int = 6) -> torch.Tensor:
    ids = bench.make_prompt(None, length, 256, seed=1).repeat(batch, 1)
    ids[1:, 2] = 17  # distinct rows
    return ids


@pytest.mark.parametrize("s", SETTINGS[:2])
@pytest.mark.parametrize("kind", ["dense", "width"])
def test_every_sampled_token_lies_in_hfs_support_teacher_forced(kind, s):
    model = (dense_model if kind == "dense" else width_model)().to(torch.float64)
    ids, n = prompt(3), 14
    out = StaticDecoder(model, 3, 6 + n, mode="eager", sampling=s, seed=3).generate(ids, n)
    assert out.shape == (3, 6 + n) and torch.equal(out[:, :6], ids)
    with torch.inference_mode():
        # Teacher forcing: HF's logits for every generated position, given the sampled prefix.
        logits = model(out[:, :-1]).logits[:, 5:].to(torch.float32)  # [B, n, V]
        logits[..., model.config.eos_token_id] = float("-inf")  # forced length: never EOS
    support = hf_support(logits.flatten(0, 1), s).view(3, n, -1)
    drawn = support.gather(-1, out[:, 6:, None]).squeeze(-1)
    assert drawn.all(), drawn
    # Sampled, not greedy: some token is not the step's best.
    assert (out[:, 6:] != logits.argmax(-1)).any()


def test_same_seed_same_tokens_other_seed_other_tokens_exact_length_no_eos():
    model = dense_model()
    ids = prompt(2)
    with torch.inference_mode():
        first = model(ids).logits[:, -1].argmax(-1)[0].item()
    model.config.eos_token_id = first  # the likeliest first token: unforced it would be drawn
    decoder = StaticDecoder(model, 2, 30, mode="eager", sampling=STUDY_SAMPLING, seed=7)
    a, b = decoder.generate(ids, 24), decoder.generate(ids, 24)
    assert torch.equal(a, b)  # the generator is seeded at every call
    assert torch.equal(StaticDecoder(model, 2, 30, mode="eager", sampling=STUDY_SAMPLING,
                                     seed=7).generate(ids, 24), a)
    assert not torch.equal(decoder.generate(ids, 24, seed=8), a)
    assert a.shape == (2, 30) and not (a[:, 6:] == first).any()


def test_top_k_one_is_greedy_and_greedy_is_unchanged():
    model = width_model()
    ids = prompt(3)
    greedy = StaticDecoder(model, 3, 20, mode="eager").generate(ids, 14)
    one = StaticDecoder(model, 3, 20, mode="eager", sampling=Sampling(top_k=1, top_p=1.0))
    assert torch.equal(one.generate(ids, 14), greedy)


def test_sampled_step_traces_as_one_graph():
    """fullgraph compilation fails on any host sync (.item()) or branch on a value in the step;
    the compiled step must draw the eager step's tokens from the same seed."""
    model = width_model()
    ids = prompt(2, 5)
    eager = StaticDecoder(model, 2, 15, mode="eager", sampling=STUDY_SAMPLING, seed=4)
    compiled = StaticDecoder(model, 2, 15, mode="compile", sampling=STUDY_SAMPLING, seed=4,
                             compile_kwargs={"backend": "eager", "fullgraph": True})
    compiled.prepare()
    assert torch.equal(compiled.generate(ids, 10), eager.generate(ids, 10))


def test_hf_backend_gets_the_same_settings():
    runner = bench.HFRunner(dense_model(), 4, sampling=STUDY_SAMPLING)
    assert {k: runner.kwargs[k] for k in ("do_sample", "top_k", "top_p", "temperature")} == {
        "do_sample": True, "top_k": 50, "top_p": 0.95, "temperature": 1.0}
    assert bench.HFRunner(dense_model(), 4).kwargs["do_sample"] is False


@pytest.mark.parametrize("backend", ["hf", "compiled"])
def test_both_backends_sample_in_a_sweep_and_record_build_time(backend):
    result = sweep(dense_model(), backend=backend, sampling=True, batch_sizes=[1, 2],
                   probe_attention=False)
    assert result["sampling"] == {"top_k": 50, "top_p": 0.95, "temperature": 1.0}
    rows = result["rows"]
    assert [r["status"] for r in rows] == ["ok", "ok"]
    for row in rows:
        # (What it measures is tried on a fake clock: test_build_time_is_measured_around_...)
        assert isinstance(row["compile_s"], float)
        assert isinstance(row["compile_cache"], dict)
    assert result["compile_s"] == pytest.approx(sum(r["compile_s"] for r in rows))


def test_build_time_is_measured_around_prepare_only(monkeypatch):
    """compile_s is the time `prepare` took, apart from the timed runs: on a fake clock that
    ticks 1 ms per reading, every prepare takes 5 fake seconds and the runs a few ticks."""
    clock = {"t": 0.0}

    def perf_counter():
        clock["t"] += 0.001
        return clock["t"]

    import time

    monkeypatch.setattr(time, "perf_counter", perf_counter)
    original = bench.CompiledRunner.prepare

    def slow_prepare(self, batch_size, seq_len):
        original(self, batch_size, seq_len)
        clock["t"] += 5.0

    monkeypatch.setattr(bench.CompiledRunner, "prepare", slow_prepare)
    result = sweep(dense_model(), backend="compiled", batch_sizes=[1, 2, 3],
                   probe_attention=False, max_repeats=1)
    assert [r["compile_s"] for r in result["rows"]] == pytest.approx([5.001] * 3)
    # The runs are timed on the same fake clock, so their latency counts readings (1 ms each),
    # whatever the machine's speed: far below the 5 s that prepare added.
    assert all(r["latency_s_mean"] < 1 for r in result["rows"])
    assert result["compile_s"] == pytest.approx(15.003)


def test_bad_sampling_flag():
    with pytest.raises(PrunebenchError, match="sampling must be"):
        sweep(dense_model(), sampling="yes")


def test_compile_cache_is_the_change_of_inductors_counters_over_the_build(monkeypatch):
    """What a build took from inductor's caches is recorded per row: here each `prepare` counts
    one FX-graph cache hit, as a compile served from the on-disk cache does."""
    from torch._dynamo.utils import counters

    original = bench.CompiledRunner.prepare

    def cached_prepare(self, batch_size, seq_len):
        original(self, batch_size, seq_len)
        counters["inductor"]["fxgraph_cache_hit"] += 1

    monkeypatch.setattr(bench.CompiledRunner, "prepare", cached_prepare)
    counters["inductor"]["fxgraph_cache_miss"] += 3  # earlier work: not this row's
    result = sweep(dense_model(), backend="compiled", batch_sizes=[1, 2], probe_attention=False)
    assert [r["compile_cache"] for r in result["rows"]] == [{"fxgraph_cache_hit": 1}] * 2
