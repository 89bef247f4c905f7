"""Timing statistics on numbers worked out by hand, and the stopping rule of adaptive repeats
driven by a fake timing source (no real runs, no sleeping, no timing assertions)."""

from __future__ import annotations

import math

import pytest

from prunebench.benchmark import timing as ts

# mean 5, sample variance ((-3)^2 + (-1)^2 + 1^2 + 3^2) / 3 = 20/3, sd = 2.5820
FOUR = [2.0, 4.0, 6.0, 8.0]


def test_coefficient_of_variation_by_hand():
    assert ts.coefficient_of_variation(FOUR) == pytest.approx(math.sqrt(20 / 3) / 5)
    assert ts.coefficient_of_variation([3.0, 3.0, 3.0]) == 0.0
    assert ts.coefficient_of_variation([3.0]) is None  # one value shows no spread


def test_percentiles_interpolate_linearly():
    # position (n - 1) * q / 100 in [2, 4, 6, 8]: q=50 -> 1.5 -> 5; q=90 -> 2.7 -> 6 + 0.7 * 2
    assert ts.percentile(FOUR, 50) == pytest.approx(5.0)
    assert ts.percentile(FOUR, 90) == pytest.approx(7.4)
    assert ts.percentile([8.0, 2.0, 6.0, 4.0], 0) == 2.0  # order of the input does not matter
    assert ts.percentile(FOUR, 100) == 8.0
    assert ts.percentile([1.0, 2.0, 10.0], 50) == 2.0
    assert ts.percentile([7.0], 90) == 7.0
    with pytest.raises(ValueError):
        ts.percentile([], 50)
    with pytest.raises(ValueError):
        ts.percentile(FOUR, 101)


def test_t_table():
    assert ts.t_critical_95(1) == 12.707
    assert ts.t_critical_95(3) == 3.183
    assert ts.t_critical_95(19) == 2.094
    assert ts.t_critical_95(45) == 2.022  # between 40 and 50: the larger, safer t of 40
    assert ts.t_critical_95(500) == 1.980
    # Never narrower than exact, also past the table (exact: 1.9623 at df 1000, 1.9602 at
    # 10000; the normal limit 1.960 would be narrower).
    assert ts.t_critical_95(1000) >= 1.9623 and ts.t_critical_95(10_000) >= 1.9602
    with pytest.raises(ValueError):
        ts.t_critical_95(0)


def test_every_tabulated_t_is_the_exact_quantile_rounded_up():
    """Never below the exact value (the interval never too narrow), and within 0.001 of it."""
    from scipy.stats import t  # scipy comes with lm-eval (scikit-learn); prunebench needs none

    for df, value in ts._T95.items():
        exact = float(t.ppf(0.975, df))
        assert exact <= value < exact + 0.001, df


def test_mean_ci95_by_hand():
    mean, half = ts.mean_ci95(FOUR)
    # t(3) * sd / sqrt(4) = 3.183 * 2.5820 / 2 = 4.1093
    assert mean == 5.0 and half == pytest.approx(3.183 * math.sqrt(20 / 3) / 2)
    assert half == pytest.approx(4.109, abs=1e-3)
    assert ts.ci_share(FOUR) == pytest.approx(half / 5)
    assert ts.mean_ci95([2.0]) == (2.0, None)
    assert ts.ci_share([2.0]) is None


def test_unstable_flag():
    assert ts.is_unstable(FOUR, 0.05)  # the mean known to within 82%: unstable
    assert not ts.is_unstable(FOUR, 0.9)
    # 1.00 and 1.02: sd 0.014142, half-width 12.707 * 0.014142 / sqrt(2) = 0.12707 -> 12.6% of 1.01
    assert ts.is_unstable([1.00, 1.02], 0.05)
    assert not ts.is_unstable([1.00, 1.02] * 10, 0.05)
    assert ts.is_unstable([1.0], 0.05)  # one run cannot show that it is stable


def fake_timer(latencies):
    """A timing source that returns the given latencies in turn, then repeats the last one."""
    calls = []

    def run_once():
        value = latencies[min(len(calls), len(latencies) - 1)]
        calls.append(value)
        return value

    return run_once, calls


def test_runs_that_agree_stop_at_the_minimum():
    run_once, calls = fake_timer([1.0] * 100)
    latencies, reason = ts.repeat_until_stable(run_once, min_runs=5, max_runs=50,
                                               max_seconds=1e9, target=0.05)
    assert (len(latencies), reason) == (5, ts.STABLE) and len(calls) == 5


def test_noisy_runs_continue_until_the_interval_is_narrow():
    # 1 and 2 alternating, mean 1.5: at n = 176, sd = 0.5 * sqrt(176 / 175) = 0.50143 and the
    # half-width 1.980 * 0.50143 / sqrt(176) = 0.07484 is 4.99% of the mean; at 175 it is 5.01%
    run_once, _ = fake_timer([1.0, 2.0] * 100)
    latencies, reason = ts.repeat_until_stable(run_once, min_runs=4, max_runs=200,
                                               max_seconds=1e9, target=0.05)
    assert (len(latencies), reason) == (176, ts.STABLE)
    assert ts.ci_share(latencies) <= 0.05 < ts.ci_share(latencies[:-1])


def test_noisy_runs_stop_at_the_run_cap():
    run_once, _ = fake_timer([1.0, 2.0] * 50)
    latencies, reason = ts.repeat_until_stable(run_once, min_runs=4, max_runs=10,
                                               max_seconds=1e9, target=0.05)
    assert (len(latencies), reason) == (10, ts.MAX_REPEATS)


def test_noisy_runs_stop_at_the_seconds_cap():
    # 1 + 2 + 1 + 2 = 6 s after the minimum of 4; the cap is 9 s: two more runs reach 9
    run_once, _ = fake_timer([1.0, 2.0] * 50)
    latencies, reason = ts.repeat_until_stable(run_once, min_runs=4, max_runs=100,
                                               max_seconds=9.0, target=0.05)
    assert (len(latencies), reason) == (6, ts.MAX_SECONDS)


def test_minimum_always_runs_and_max_at_the_minimum_turns_it_off():
    # the seconds cap is spent after the first run, yet the minimum of 3 runs is taken
    run_once, _ = fake_timer([5.0, 1.0, 9.0])
    latencies, reason = ts.repeat_until_stable(run_once, min_runs=3, max_runs=1,
                                               max_seconds=1.0, target=0.05)
    assert latencies == [5.0, 1.0, 9.0] and reason == ts.MAX_REPEATS
    run_once, _ = fake_timer([1.0])
    assert ts.repeat_until_stable(run_once, min_runs=1, max_runs=1, max_seconds=1e9,
                                  target=0.05) == ([1.0], ts.MAX_REPEATS)


def test_the_interval_of_a_ratio_of_two_means_by_hand():
    """mean 1.0 (sd 0.1, 5 runs) over mean 0.5 (sd 0.05, 5 runs): each log mean has variance
    0.1**2 / 5 = 0.002, Welch's df is (0.004)**2 / (2 * 0.002**2 / 4) = 8, t(8) = 2.306, so the
    ratio 2 spans 2 * exp(-/+ 2.306 * sqrt(0.004))."""
    from prunebench.benchmark.timing import ratio_ci95

    half = 2.306 * math.sqrt(0.004)
    assert ratio_ci95((1.0, 0.1, 5), (0.5, 0.05, 5)) == pytest.approx(
        (2 * math.exp(-half), 2 * math.exp(half)), rel=1e-3)
    # a single run, or no spread recorded: no interval
    assert ratio_ci95((1.0, 0.1, 1), (0.5, 0.05, 5)) == (None, None)
    assert ratio_ci95((1.0, float("nan"), 5), (0.5, 0.05, 5)) == (None, None)
    # no spread at all: the ratio itself
    assert ratio_ci95((1.0, 0.0, 5), (0.5, 0.0, 5)) == (2.0, 2.0)


# ------------------------------------------------------------------------ drift over the runs


def test_lag1_autocorrelation_by_hand():
    # deviations -1.5, -0.5, 0.5, 1.5: (0.75 - 0.25 + 0.75) / (2.25 + 0.25 + 0.25 + 2.25)
    assert ts.lag1_autocorrelation([1.0, 2.0, 3.0, 4.0]) == pytest.approx(0.25)
    # alternating: each run unlike the one before
    assert ts.lag1_autocorrelation([1.0, 3.0, 1.0, 3.0]) == pytest.approx(-0.75)
    assert ts.lag1_autocorrelation([2.0, 2.0, 2.0]) is None  # no spread
    assert ts.lag1_autocorrelation([1.0, 2.0]) is None


def test_the_ar1_interval_widens_by_the_variance_of_a_correlated_mean():
    # independent runs (r <= 0): the plain interval; r = 0.5 over 4 runs:
    # 1 + 2 (3/4 * 0.5 + 2/4 * 0.25 + 1/4 * 0.125) = 2.0625
    assert ts.ar1_variance_factor(0.0, 20) == 1.0 == ts.ar1_variance_factor(-0.4, 20)
    assert ts.ar1_variance_factor(0.5, 4) == pytest.approx(2.0625)
    assert ts.ar1_variance_factor(2.0, 3) == ts.ar1_variance_factor(0.95, 3)  # capped
    alternating = [1.0, 1.1, 1.0, 1.1, 1.0, 1.1]  # negative lag-1: not narrowed
    assert ts.ci_share_ar1(alternating) == ts.ci_share(alternating)
    rising = [1.0 + 0.02 * i for i in range(8)]
    r = ts.lag1_autocorrelation(rising)
    assert r > 0 and ts.ci_share_ar1(rising) == pytest.approx(
        ts.ci_share(rising) * math.sqrt(ts.ar1_variance_factor(r, 8)))
    assert ts.ci_share_ar1([1.0, 1.2]) == ts.ci_share([1.0, 1.2])  # too few runs for r
    assert ts.ci_share_ar1([1.0]) is None
    assert ts.latency_stats(rising, 0.05)["latency_s_ci95_rel_ar1"] == ts.ci_share_ar1(rising)


def test_the_coverage_script_runs_prunebenchs_own_intervals(capsys):
    """benchmarks/interval_coverage.py, which docs/benchmarks.md quotes: the widened interval
    contains the plain one on every row, so it covers at least as often."""
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "interval_coverage.py"
    spec = importlib.util.spec_from_file_location("interval_coverage", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    results = module.main(["--runs", "10", "--rows", "40", "--correlations", "0", "0.8"])
    assert [r["correlation"] for r in results] == [0.0, 0.8]
    assert all(r["widened"] >= r["plain"] and r["median_widening"] >= 1.0 for r in results)
    assert "lag-1 0.80: plain covers" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        module.main(["--runs", "2"])


def test_trend_share_is_robust_to_one_outlier():
    # every slope 1: 1 x 3 runs / median 2.5
    assert ts.trend_share([1.0, 2.0, 3.0, 4.0]) == pytest.approx(1.2)
    # one outlier moves 4 of the 10 pairwise slopes; their median stays 1: 1 x 4 / median 3
    assert ts.trend_share([1.0, 2.0, 3.0, 100.0, 5.0]) == pytest.approx(4 / 3)
    assert ts.trend_share([2.0, 2.0, 2.0]) == 0.0
    assert ts.trend_share([2.0]) is None


def test_mann_kendall_p_value_by_hand():
    # 8 rising runs: S = 28, var = 8 * 7 * 21 / 18, z = (28 - 1) / sqrt(var)
    z = 27 / math.sqrt(8 * 7 * 21 / 18)
    assert ts.trend_p_value([float(i) for i in range(8)]) == pytest.approx(
        math.erfc(z / math.sqrt(2)))
    assert ts.trend_p_value([float(-i) for i in range(8)]) == pytest.approx(
        math.erfc(z / math.sqrt(2)))  # two-sided
    # ties: 4 tied pairs leave S = 24 and take 4 * 2 * 1 * 9 from 18 var
    z = 23 / math.sqrt((8 * 7 * 21 - 4 * 18) / 18)
    assert ts.trend_p_value([1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0]) == pytest.approx(
        math.erfc(z / math.sqrt(2)))
    assert ts.trend_p_value([5.0] * 8) == 1.0
    assert ts.trend_p_value([float(i) for i in range(ts.MIN_TREND_RUNS - 1)]) is None
    import numpy as np  # an array of the runs gives the same p-value (it raised TypeError)

    assert ts.trend_p_value(np.arange(8.0)) == ts.trend_p_value([float(i) for i in range(8)])


def test_a_row_drifts_when_its_trend_is_both_significant_and_larger_than_the_target():
    rising = [1.0 + 0.02 * i for i in range(8)]  # +2% a run: 14% over the runs
    assert ts.is_drifting(rising, 0.05) is True
    assert ts.is_drifting(rising, 0.20) is False  # significant, but within the target
    steady = [1.0, 1.1, 1.0, 1.1, 1.0, 1.1, 1.0, 1.1]  # wide but going nowhere
    assert ts.is_drifting(steady, 0.05) is False
    assert ts.is_drifting(rising[:7], 0.05) is None  # too few runs to test
    stats = ts.latency_stats(rising, 0.05)
    assert stats["drifting"] is True and stats["latency_s_trend"] == pytest.approx(0.14 / 1.07)
    assert stats["latency_s_lag1_autocorr"] > 0
    one = ts.latency_stats([0.5], 0.05)
    assert one["latency_s_std"] is None and one["drifting"] is None  # no spread seen


def test_what_to_do_about_a_compile_while_timed_names_only_what_the_backend_takes():
    """hf_static refuses compile_mode (SweepSettings): its advice must not tell the user to set
    it for that backend, as the compiled backend's does."""
    from prunebench.benchmark.timing import compiled_while_timed_fix

    compiled, static, hf = (compiled_while_timed_fix(b) for b in ("compiled", "hf_static", "hf"))
    assert all(text.startswith("rerun the cell") and "TORCH_LOGS=recompiles" in text
               for text in (compiled, static, hf))
    assert "compile_mode: cuda-graph (no compile) or the hf backend" in compiled
    assert "the compiled backend with compile_mode" in static and "hf_static takes no" in static
    assert "compile_mode" not in hf and "hf backend" not in hf
