"""Paired timing (prunebench.benchmark.paired): a variant and its dense model timed in turns.

The statistics are checked on numbers worked out by hand and on synthetic timers (a drift that
is the same for every machine); the sweep on small random CPU models, for its behaviour and
records only, never for a speed."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
import torch

from prunebench import PrunebenchError
from prunebench.benchmark import paired
from prunebench.benchmark import timing as ts
from prunebench.modeling import remove_blocks
from prunebench.report import load_paired, paired_headline, paired_table
from test_benchmark import dense_model, make_model, recording_forward, small_config

pytestmark = pytest.mark.usefixtures("one_thread")


# ------------------------------------------------------------------------- the statistics


def test_paired_ratio_by_hand():
    # log ratios ln 2 and ln 4: mean 1.5 ln 2, sample sd ln 2 / sqrt 2, t(1) = 12.707
    ratio, low, high = ts.paired_ratio_ci95([2.0, 4.0], [1.0, 1.0])
    assert ratio == pytest.approx(2 ** 1.5)
    half = 12.707 * (math.log(2) / math.sqrt(2)) / math.sqrt(2)
    assert low == pytest.approx(2 ** 1.5 * math.exp(-half))
    assert high == pytest.approx(2 ** 1.5 * math.exp(half))
    # every pair with the same ratio: that ratio, no spread
    assert ts.paired_ratio_ci95([3.0, 6.0, 9.0], [1.0, 2.0, 3.0]) == pytest.approx((3, 3, 3))
    # one pair: the ratio, no interval
    assert ts.paired_ratio_ci95([3.0], [2.0]) == (1.5, None, None)


# The message is matched: an empty list or a zero on top that reached the arithmetic would
# raise a ValueError too (statistics.fmean's StatisticsError, math.log's "math domain error").
@pytest.mark.parametrize("top, bottom, match", [
    ([1.0, 2.0], [1.0], "as many runs on each side.*got 2 and 1"),
    ([], [], "at least one: got 0 and 0"),
    ([1.0, 0.0], [1, 1], "all be positive"), ([1.0, 1.0], [0.0, 1.0], "all be positive")])
def test_paired_ratio_refuses_unmatched_or_empty_or_zero_timings(top, bottom, match):
    with pytest.raises(ValueError, match=match):
        ts.paired_ratio_ci95(top, bottom)


def test_turns_alternate_which_model_goes_first():
    calls = []
    dense, variant = paired.alternate(lambda: calls.append("d") or 1.0,
                                      lambda: calls.append("v") or 2.0, 4)
    assert "".join(calls) == "dvvddvvd"
    assert dense == [1.0] * 4 and variant == [2.0] * 4
    assert paired.alternate(lambda: 1.0, lambda: 1.0, 0) == ([], [])


def test_pairs_cancel_a_drift_that_separate_means_cannot():
    """The machine slows by 2% per run over the whole measurement (a throttling GPU, a job
    starting beside it): the variant is truly 2x faster. Timed in turns, every pair sees nearly
    the same slowdown: the paired interval holds 2 and is narrow. Timed one after the other (as
    two jobs are), the variant's runs all come later and slower: the ratio of the means is far
    from 2, and its unpaired interval, which sees only each side's spread, misses 2."""
    clock = iter(range(10_000))

    def slowdown() -> float:
        return 1.02 ** next(clock)

    dense, variant = paired.alternate(lambda: 2.0 * slowdown(), lambda: 1.0 * slowdown(), 10)
    ratio, low, high = ts.paired_ratio_ci95(dense, variant)
    assert low < 2.0 < high and high / low < 1.05

    later_dense = [2.0 * slowdown() for _ in range(10)]
    later_variant = [1.0 * slowdown() for _ in range(10)]

    def summary(xs):
        return sum(xs) / len(xs), pd.Series(xs).std(), len(xs)

    separate_low, separate_high = ts.ratio_ci95(summary(later_dense), summary(later_variant))
    assert not separate_low < 2.0 < separate_high


# ----------------------------------------------------------------------------- the sweep


def depth_variant():
    return remove_blocks(make_model(small_config()), [1, 2])


def pair(dense=None, variant=None, **kwargs):
    args = dict(input_tokens=5, output_tokens=6, batch_sizes=[1, 2], warmup=1, repeats=3,
                device="cpu", dtype="float32", seed=0, model_name="m", variant="depth")
    args.update(kwargs)
    return paired.run_paired(dense or dense_model(), variant or depth_variant(), None, **args)


@pytest.mark.parametrize("backend", ["hf", "hf_static", "compiled"])
def test_a_paired_sweep_records_both_sides_pair_by_pair(backend):
    result = pair(backend=backend)
    assert result["against"] == "dense" and result["pairs"] == 3
    assert result["dense_params"] > result["params"]
    assert (result["dense_blocks"], result["blocks"]) == (4, 2)
    assert result["provenance"]["versions"]["torch"]
    assert [r["batch_size"] for r in result["rows"]] == [1, 2]
    for row in result["rows"]:
        assert row["status"] == "ok" and row["pairs"] == 3
        assert len(row["dense_latencies_s"]) == len(row["variant_latencies_s"]) == 3
        assert len(row["dense_warmup_latencies_s"]) == 1
        ratio, low, high = ts.paired_ratio_ci95(row["dense_latencies_s"],
                                                row["variant_latencies_s"])
        assert (row["latency_speedup"], row["latency_speedup_ci95_low"],
                row["latency_speedup_ci95_high"]) == (ratio, low, high)
        assert row["unpaired_speedup"] == pytest.approx(
            sum(row["dense_latencies_s"]) / sum(row["variant_latencies_s"]))
        assert "competition" in row["interference"]
        assert ("decode_modes" in row) == (backend != "hf")
        if backend == "hf_static":  # on the CPU transformers compiles nothing
            assert row["decode_modes"] == {"dense": "eager", "variant": "eager"}
    json.dumps(result)  # JSON-ready


@pytest.mark.parametrize("fails", [False, True])
def test_each_batch_size_compiles_each_models_step_once_and_statically(fails, monkeypatch):
    """Each compiled runner reset dynamo (all compiled code of the process) as it built its
    decoder: the variant's reset, after the dense runner had compiled its step, made the dense
    one compile again inside its timed runs (reduce-overhead and compile modes). Now the pairs
    reset it once per batch size, before both are built: each step compiles once, with static
    shapes (a width variant compiled beside the dense step had its widths marked dynamic), and
    a runner that fell back to eager (`fails`: the dense capture fails once) stops no reset,
    so dynamo's recompile limit (8) is never reached over a long sweep. (torch.compile runs
    dynamo with its eager backend here: the CPU needs no C++ build.)"""
    import torch._dynamo
    from torch._dynamo.utils import counters

    from prunebench.benchmark import runners
    from test_benchmark import width_model

    real_compile = torch.compile
    symbolic = []  # per compiled graph: whether any of its inputs is a symbolic size

    def recording(gm, example_inputs):
        symbolic.append(any(isinstance(x, torch.SymInt) for x in example_inputs))
        return gm.forward

    monkeypatch.setattr(torch, "compile", lambda fn, **kwargs: real_compile(
        fn, backend=recording, fullgraph=True, dynamic=kwargs.get("dynamic")))
    events = []  # "reset", or the number of compilations before each warm-up or timed run
    real_reset = torch._dynamo.reset
    monkeypatch.setattr(torch._dynamo, "reset", lambda: (events.append("reset"), real_reset()))
    real_generate, real_prepare = runners.CompiledRunner.generate, runners.CompiledRunner.prepare
    monkeypatch.setattr(runners.CompiledRunner, "generate", lambda self, *a, **k: (
        events.append(counters["stats"]["unique_graphs"]), real_generate(self, *a, **k))[1])
    failed = []

    def prepare(self, batch_size, seq_len):
        if fails and not failed:  # the dense model's first capture
            failed.append(self)
            real_build = self._decoder

            def failing_build(*args):
                decoder = real_build(*args)
                decoder.prepare = lambda: (_ for _ in ()).throw(RuntimeError("capture failed"))
                self._decoder = real_build
                return decoder

            self._decoder = failing_build
        return real_prepare(self, batch_size, seq_len)

    monkeypatch.setattr(runners.CompiledRunner, "prepare", prepare)
    counters.clear()
    sizes = list(range(1, 11))
    result = pair(variant=width_model(), backend="compiled", compile_mode="compile",
                  batch_sizes=sizes, warmup=1, repeats=2, output_tokens=2)
    assert [row["status"] for row in result["rows"]] == ["ok"] * len(sizes)
    modes = [row["decode_modes"] for row in result["rows"]]
    assert all(m["variant"] == "compile" for m in modes)  # compiled to the last batch size
    assert all(m["dense"] == ("eager" if fails else "compile") for m in modes)
    assert not any(symbolic) and symbolic
    # per batch size six runs (a warm-up pair, two timed pairs), no compilation between them
    runs = "".join("r" if e == "reset" else "g" for e in events)
    assert runs.count("rggggggr") == len(sizes), runs
    timed = [e for e in events if e != "reset"]
    assert all(len(set(timed[i:i + 6])) == 1 for i in range(0, len(timed), 6))
    # and each row says so itself (benchmark.paired counts the compiles of its timed pairs)
    assert [row["graphs_compiled_while_timed"] for row in result["rows"]] == [0] * len(sizes)


def test_a_compile_inside_the_timed_pairs_flags_the_row(monkeypatch):
    """A compile in the warm-up pair is not counted; one inside the timed pairs is, and flags
    the row (here a generate that compiles a function of its own at its n-th call)."""
    from prunebench.benchmark import runners
    from prunebench.commands.bench import format_paired

    real_generate = runners.HFRunner.generate
    calls = []

    class Quiet:  # the row's flags are this test's: none for other work on a busy machine
        def __init__(self, device):
            pass

        def start(self):
            pass

        def stop(self):
            return {"competition": False}

    monkeypatch.setattr(paired, "CompetitionMeter", Quiet)

    def compiling_at(n):
        def generate(self, *args, **kwargs):
            calls.append(1)
            if len(calls) == n + 1:
                torch.compile(lambda x: x - 1, backend="eager")(torch.ones(2))
            return real_generate(self, *args, **kwargs)
        return generate

    for at, compiled in ((0, 0), (2, 1)):  # the warm-up pair's first run; the first timed run
        calls.clear()
        torch._dynamo.reset()
        monkeypatch.setattr(runners.HFRunner, "generate", compiling_at(at))
        result = pair(backend="hf", batch_sizes=[1], warmup=1)
        row = result["rows"][0]
        assert row["graphs_compiled_while_timed"] == compiled
        assert paired.row_flags(row) == ["compiled while timed"] * compiled
        assert format_paired(result).splitlines()[-1].endswith(
            "compiled while timed" if compiled else "-")


def test_the_turns_of_a_sweep_alternate(monkeypatch):
    dense, variant = dense_model(), depth_variant()
    order = []
    for name, model in (("d", dense), ("v", variant)):
        monkeypatch.setattr(model.model, "forward", recording_forward(
            model.model.forward, [], lambda batch, name=name: (order.append(name), False)[1],
            None))
    pair(dense, variant, batch_sizes=[1], warmup=1, repeats=3, output_tokens=1)
    # one forward per generate (a single output token): warm-up pair, then three timed pairs
    assert "".join(order) == "dv" + "dvvddv"


def test_a_variant_larger_than_its_dense_model_is_warned_of(caplog):
    with caplog.at_level("WARNING", logger="prunebench.benchmark.paired"):
        pair(depth_variant(), dense_model(), batch_sizes=[1], repeats=2)
    assert "were the two given the other way round" in caplog.text


def test_out_of_memory_with_both_models_stops_at_that_batch_size(monkeypatch):
    from prunebench.benchmark import runners

    released = []
    monkeypatch.setattr(runners.HFRunner, "release", lambda self: released.append(self.model))
    dense, variant = dense_model(), depth_variant()
    seen = []
    monkeypatch.setattr(variant.model, "forward", recording_forward(
        variant.model.forward, seen, lambda batch: batch >= 2,
        lambda: torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")))
    result = pair(dense, variant, batch_sizes=[1, 2, 4])
    assert [(r["batch_size"], r["status"]) for r in result["rows"]] == [(1, "ok"), (2, "oom")]
    assert "out of memory" in result["rows"][-1]["error"]
    assert 4 not in seen
    # both models' runners released after batch 1 and again at the failure
    assert [id(m) for m in released] == [id(dense), id(variant)] * 2


def test_an_interrupted_paired_sweep_resumes_from_its_finished_rows(monkeypatch, tmp_path):
    partial = tmp_path / ".5x6.unfinished.json"
    dense, variant = dense_model(), depth_variant()
    seen = []
    forward = variant.model.forward
    monkeypatch.setattr(variant.model, "forward", recording_forward(
        forward, seen, lambda batch: batch == 2, lambda: KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        pair(dense, variant, partial_path=partial)
    monkeypatch.setattr(variant.model, "forward", recording_forward(forward, seen, lambda b: False,
                                                                    None))
    seen.clear()
    result = pair(dense, variant, partial_path=partial)
    assert result["resumed_batch_sizes"] == [1]
    assert [r["batch_size"] for r in result["rows"]] == [1, 2]
    assert set(seen) == {2}  # batch size 1 was not timed again
    # other settings: timed afresh
    assert pair(dense, variant, partial_path=partial, repeats=2)["resumed_batch_sizes"] == []


@pytest.mark.parametrize("kwargs, variant, match", [
    ({"max_repeats": 5}, None, "fixed number of pairs"),
    ({"repeats": 1}, None, "at least 2 pairs"),
    ({"warmup": 0}, None, "at least 1 warm-up pair"),
    ({"input_tokens": 100, "output_tokens": 100}, None, "max_position_embeddings"),
    ({}, lambda: make_model(small_config(vocab_size=128)), "vocab_size"),
    ({}, lambda: make_model(small_config(hidden_size=32)), "hidden_size"),
    ({"profile_steps": 2, "backend": "compiled"}, None, "profile_steps"),
])
def test_bad_paired_input_is_refused_before_any_run(kwargs, variant, match):
    with pytest.raises(PrunebenchError, match=match):
        pair(variant=variant() if variant else None, **kwargs)


# ------------------------------------------------------------------------------ the table


def paired_file(tmp_path, variant: str, rows: list[dict], name="12x8.json", gpu=None) -> str:
    path = tmp_path / variant / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "model": "m", "variant": variant, "backend": "hf", "input_tokens": 12,
        "output_tokens": 8, "params": 10, "dense_params": 20, "pairs": 3, "dtype": "float16",
        "rows": rows, "provenance": {"code": {"hash": "abc"}, "device": "cuda",
                                     **({"gpu_name": gpu} if gpu else {})}}))
    return str(path)


def ok_row(batch: int, speedup: float, low: float, high: float, **extra) -> dict:
    return {"batch_size": batch, "status": "ok", "pairs": 3, "latency_speedup": speedup,
            "latency_speedup_ci95_low": low, "latency_speedup_ci95_high": high,
            "unpaired_speedup": speedup, "unpaired_speedup_ci95_low": low / 2,
            "unpaired_speedup_ci95_high": high * 2, "dense_latency_s_mean": speedup,
            "variant_latency_s_mean": 1.0, "dense_latencies_s": [1.0, 2.0],
            "interference": {"competition": False}, **extra}


def test_the_paired_table_says_where_separate_jobs_disagree_with_the_pairs(tmp_path):
    files = [paired_file(tmp_path, "depth", [ok_row(1, 1.5, 1.4, 1.6), ok_row(4, 1.5, 1.4, 1.6),
                                             {"batch_size": 8, "status": "oom", "error": "x"}],
                         gpu="H200"),
             paired_file(tmp_path, "width", [ok_row(1, 1.2, 1.1, 1.3, decode_fallback={
                 "variant": "cuda-graph failed: RuntimeError"})], gpu="H200")]
    # depth at 1: the separate interval overlaps the paired one; at 4 it lies above it; width
    # was swept on another GPU: not compared
    speed = pd.DataFrame({"model": "m", "variant": ["depth", "depth", "width"], "backend": "hf",
                          "input_tokens": 12, "output_tokens": 8, "batch_size": [1, 4, 1],
                          "latency_speedup": [1.7, 2.1, 1.25],
                          "latency_speedup_ci95_low": [1.55, 1.9, 1.2],
                          "latency_speedup_ci95_high": [1.85, 2.3, 1.3],
                          "device_name": ["H200", "H200", "H100"], "dtype": "float16"})
    df = load_paired(files)
    assert "dense_latencies_s" not in df  # the runs stay in the files
    table = paired_table(df, speed)
    assert list(zip(table["variant"], table["batch_size"], table["status"])) == [
        ("depth", 1, "ok"), ("depth", 4, "ok"), ("depth", 8, "OOM"), ("width", 1, "ok")]
    assert table["pairs"].isna().tolist() == [False, False, True, False]  # none timed at OOM
    assert table["separate_jobs_speedup"].tolist()[:2] == [1.7, 2.1]
    assert table["separate_jobs_disagree"].tolist() == [False, True, pd.NA, pd.NA]
    assert table["separate_timed_unlike"].tolist() == ["", "", "", "device"]
    assert pd.isna(table["separate_jobs_speedup"].iloc[3])
    assert table["decode_fallback"].tolist()[3] == "variant: cuda-graph failed: RuntimeError"
    shown = paired_headline(table)
    assert shown["flags"].tolist() == ["", "separate jobs disagree", "",
                                       "ran eagerly, separate jobs timed unlike: device"]
    assert shown["speedup_ci95"].tolist()[0] == "[1.4, 1.6]"
    # without a speed table, nothing is compared
    assert paired_table(df)["separate_jobs_disagree"].isna().all()
    # a separate speed-up whose two jobs were timed unlike each other is no figure to compare
    speed["unlike_dense"] = ["", "threads", ""]
    table = paired_table(df, speed)
    assert table["separate_timed_unlike"].tolist() == ["", "its dense job (threads)", "",
                                                       "device"]
    assert table["separate_jobs_speedup"].isna().tolist() == [False, True, True, True]
    assert table["separate_jobs_disagree"].tolist() == [False, pd.NA, pd.NA, pd.NA]


def test_a_paired_row_compiled_while_timed_is_flagged_in_the_table(tmp_path):
    from prunebench.report.paired import paired_untrusted

    files = [paired_file(tmp_path, "depth", [ok_row(1, 1.5, 1.4, 1.6,
                                                    graphs_compiled_while_timed=0),
                                             ok_row(4, 1.5, 1.4, 1.6,
                                                    graphs_compiled_while_timed=3),
                                             ok_row(8, 1.5, 1.4, 1.6)])]  # an older file's
    table = paired_table(load_paired(files))
    assert table["graphs_compiled_while_timed"].tolist() == [0, 3, pd.NA]
    assert paired_headline(table)["flags"].tolist() == ["", "compiled while timed", ""]
    assert paired_untrusted(table).tolist() == [False, True, False]


def test_no_paired_files_make_an_empty_table():
    table = paired_table(load_paired([]), pd.DataFrame())
    assert table.empty and paired_headline(table).empty


def test_paired_files_that_cannot_be_read_as_results_name_their_fix(tmp_path):
    assert load_paired([]).empty  # paired timing off
    bad = paired_file(tmp_path, "depth", [{"batch_size": 1, "status": "ok"}])
    with pytest.raises(PrunebenchError, match=r"finite numbers.*-f .*paired_benchmark"):
        load_paired([bad])
    with pytest.raises(PrunebenchError, match="missing result file"):
        load_paired([str(tmp_path / "nowhere.json")])
    twice = paired_file(tmp_path, "depth", [ok_row(1, 1.5, 1.4, 1.6)], name="copy.json")
    first = paired_file(tmp_path, "depth", [ok_row(1, 1.5, 1.4, 1.6)])
    with pytest.raises(PrunebenchError, match="more than once"):
        load_paired([first, twice])
