"""How far to trust a timing: spread, percentiles, a 95% t-interval, drift over the runs, and
when to stop repeating.

Pure functions over lists of seconds, so they are tested on numbers worked out by hand
(tests/test_timing_stats.py); `benchmark.run` applies them to every row.
Student's t comes from a small table rather than scipy, which prunebench does not depend on.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

# Two-sided 95% critical values of Student's t (0.975 quantile) by degrees of freedom, rounded
# up at the third decimal (a printed table's nearest rounding, e.g. 2.262 for df 9 where the
# quantile is 2.26216, would make the interval a little narrower than exact).
_T95 = {
    1: 12.707, 2: 4.303, 3: 3.183, 4: 2.777, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.307, 9: 2.263,
    10: 2.229, 11: 2.201, 12: 2.179, 13: 2.161, 14: 2.145, 15: 2.132, 16: 2.120, 17: 2.110,
    18: 2.101, 19: 2.094, 20: 2.086, 21: 2.080, 22: 2.074, 23: 2.069, 24: 2.064, 25: 2.060,
    26: 2.056, 27: 2.052, 28: 2.049, 29: 2.046, 30: 2.043, 40: 2.022, 50: 2.009, 60: 2.001,
    80: 1.991, 100: 1.984, 120: 1.980,
}

# Why a row stopped taking timed runs (its `stop_reason`).
STABLE, MAX_REPEATS, MAX_SECONDS = "stable", "max_repeats", "max_seconds"

# What to do about a row whose timed runs compiled (`graphs_compiled_while_timed`): the build
# (`prepare`) compiles every shape a row times, so a compile there means the step's code or
# shapes changed from call to call (dynamo recompiled it), which a rerun alone may not fix.
# What else to time it with depends on the backend: `compile_mode` is the compiled backend's
# (hf_static refuses it), and the hf backend compiles nothing of its own.
_COMPILED_WHILE_TIMED_INSTEAD = {
    "compiled": ", or time it with compile_mode: cuda-graph (no compile) or the hf backend",
    "hf_static": ", or time it with the hf backend, or the compiled backend with compile_mode: "
                 "cuda-graph (no compile; hf_static takes no compile_mode)",
}


# The `floor_note` of a row of transformers' generate on a model whose class reads no KV cache
# (benchmark.floors.uncached_note: OpenAI GPT's hf rows), which the timed tables' caption names.
UNCACHED_DECODE_NOTE = (
    "no KV cache: OpenAIGPTLMHeadModel reads none, so transformers' generate runs the whole "
    "sequence so far again at every step, its time per token growing with the length decoded "
    "(quadratic in all); the compiled backend caches keys and values")


def compiled_while_timed_fix(backend: str) -> str:
    """What to do about a `backend` row (or paired row) whose timed runs compiled a graph."""
    return ("rerun the cell; if it compiles again, the step recompiles from call to call: set "
            "TORCH_LOGS=recompiles to see why" + _COMPILED_WHILE_TIMED_INSTEAD.get(backend, ""))


def t_critical_95(df: int) -> float:
    """The 0.975 quantile of Student's t with `df` degrees of freedom.

    Between tabulated values the next smaller df is used: its t is larger, so the interval is
    never narrower than the exact one. Above the table, df 120's value serves (at most 1% wider
    than exact; the normal limit 1.960 would be narrower for every finite df).
    """
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df}")
    return _T95[max(k for k in _T95 if k <= df)]


def coefficient_of_variation(xs: Sequence[float]) -> float | None:
    """Sample standard deviation / mean; None with fewer than two values (no spread seen)."""
    if len(xs) < 2:
        return None
    mean = statistics.fmean(xs)
    return statistics.stdev(xs) / mean if mean else None


def percentile(xs: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), interpolating linearly between order statistics
    (numpy's default, which `statistics.median` agrees with at q=50)."""
    import numpy as np

    if not xs:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    return float(np.percentile(xs, q))


def mean_ci95(xs: Sequence[float]) -> tuple[float, float | None]:
    """Mean and the half-width of its 95% Student-t interval (None with fewer than two values)."""
    mean = statistics.fmean(xs)
    if len(xs) < 2:
        return mean, None
    return mean, t_critical_95(len(xs) - 1) * statistics.stdev(xs) / math.sqrt(len(xs))


def ratio_ci95(top: tuple[float, float, int], bottom: tuple[float, float, int]
               ) -> tuple[float | None, float | None]:
    """95% interval of the ratio of two means, each given as (mean, sample std, runs): the
    delta method on the log of the ratio (a ratio's interval is skewed), with Welch's degrees
    of freedom, rounded down. (None, None) where either has fewer than two runs or no spread
    recorded. It holds what the two rows' runs saw of each other's noise: two jobs timed at
    different moments can differ by more (docs/benchmarks.md)."""
    (m1, s1, n1), (m2, s2, n2) = top, bottom
    values = (m1, s1, n1, m2, s2, n2)
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in values) \
            or n1 < 2 or n2 < 2 or m1 <= 0 or m2 <= 0:
        return None, None
    a, b = (s1 / m1) ** 2 / n1, (s2 / m2) ** 2 / n2  # variances of the two log means
    if a + b == 0:
        return m1 / m2, m1 / m2
    df = (a + b) ** 2 / (a ** 2 / (n1 - 1) + b ** 2 / (n2 - 1))
    half = t_critical_95(max(1, math.floor(df))) * math.sqrt(a + b)
    return m1 / m2 * math.exp(-half), m1 / m2 * math.exp(half)


def paired_ratio_ci95(top: Sequence[float], bottom: Sequence[float]
                      ) -> tuple[float, float | None, float | None]:
    """The ratio of two timings taken in pairs (top[i] and bottom[i] back to back): the
    geometric mean of the pairs' ratios and its 95% interval, the Student-t interval of the mean
    log ratio with n - 1 degrees of freedom, exponentiated. A slow change common to both runs of
    a pair (another job's load, clocks, a warming cache) cancels in their ratio, so the interval
    holds what differs within pairs; (ratio, None, None) for a single pair."""
    if len(top) != len(bottom) or not top:
        raise ValueError(f"paired timings need as many runs on each side, at least one: got "
                         f"{len(top)} and {len(bottom)}")
    if min(top) <= 0 or min(bottom) <= 0:
        raise ValueError("paired timings must all be positive durations")
    mean, half = mean_ci95([math.log(a / b) for a, b in zip(top, bottom)])
    if half is None:
        return math.exp(mean), None, None
    return math.exp(mean), math.exp(mean - half), math.exp(mean + half)


def ci_share(xs: Sequence[float]) -> float | None:
    """The 95% half-width as a share of the mean (0.05 = the mean is known to within 5%)."""
    mean, half = mean_ci95(xs)
    if half is None or mean <= 0:
        return None
    return half / mean


def is_unstable(xs: Sequence[float], target: float) -> bool:
    """True when the interval is wider than `target` of the mean, or cannot be computed (one run
    shows no spread, so it cannot show that the timing is stable)."""
    share = ci_share(xs)
    return share is None or share > target


def stop_reason(latencies: Sequence[float], *, min_runs: int, max_runs: int,
                max_seconds: float, target: float) -> str | None:
    """Why to stop timing now, or None to take another run.

    The minimum is always taken (the configured `repeats`, the study's protocol). After it, a run
    is added while the interval is wider than `target`, until `max_runs` runs or `max_seconds`
    of timed runs (the sum of the latencies, so the rule does not depend on a clock).
    """
    n = len(latencies)
    if n < min_runs:
        return None
    if not is_unstable(latencies, target):
        return STABLE
    if n >= max_runs:
        return MAX_REPEATS
    if sum(latencies) >= max_seconds:
        return MAX_SECONDS
    return None


def repeat_until_stable(run_once: Callable[[], float], *, min_runs: int, max_runs: int,
                        max_seconds: float, target: float) -> tuple[list[float], str]:
    """Call `run_once` (one timed run, returns its latency) until `stop_reason` says stop.

    Returns the latencies and the reason. `max_runs` below `min_runs` is raised to it, so the
    minimum always runs and `max_runs = repeats` turns adaptive repeats off.
    """
    max_runs = max(max_runs, min_runs)
    latencies: list[float] = []
    while (reason := stop_reason(latencies, min_runs=min_runs, max_runs=max_runs,
                                 max_seconds=max_seconds, target=target)) is None:
        latencies.append(run_once())
    return latencies, reason


# Fewest runs a trend is tested on: below it the normal approximation of Mann-Kendall's
# statistic is poor (and, with 3 runs, no ordering could ever reach p < 0.05).
MIN_TREND_RUNS = 8
TREND_ALPHA = 0.05


def lag1_autocorrelation(xs: Sequence[float]) -> float | None:
    """How much each run resembles the one before it: the sample lag-1 autocorrelation,
    sum((x[i] - m)(x[i+1] - m)) / sum((x[i] - m)^2). Independent runs give about 0 (slightly
    below: -1/n on average); a drift or slow disturbances give clearly positive values. None
    with fewer than 3 runs or no spread."""
    if len(xs) < 3:
        return None
    mean = statistics.fmean(xs)
    deviations = [x - mean for x in xs]
    total = sum(d * d for d in deviations)
    if total == 0:
        return None
    return sum(a * b for a, b in zip(deviations, deviations[1:])) / total


def ar1_variance_factor(r: float, n: int) -> float:
    """How much a lag-1 autocorrelation `r` widens the variance of the mean of `n` runs over
    independent ones, were the runs an AR(1) process: 1 + 2 sum_k (1 - k/n) r^k. `r` is taken
    between 0 (a negative estimate does not narrow the interval) and 0.95."""
    r = min(max(r, 0.0), 0.95)
    return 1 + 2 * sum((1 - k / n) * r ** k for k in range(1, n))


def ci_share_ar1(xs: Sequence[float]) -> float | None:
    """ci_share widened for the runs' lag-1 autocorrelation (ar1_variance_factor with the sample
    estimate): an interval for runs that are not independent. The estimate from 20 runs is
    itself about +-0.2 off and leans low, and the sample variance it widens is itself low under
    correlation, so the widening is partial: in a simulation of AR(1) runs
    (benchmarks/interval_coverage.py: 20 runs, 4000 rows each) the 95% interval covered the
    mean 91% of the time at a true lag-1 correlation of 0.3 (the plain one 86%), 87% at 0.5
    (75%), 73% at 0.8 (46%), and 97% for independent runs (96%). With 3 runs the sample lag-1
    correlation is never above 0 (and with 4 at most 0.31): such rows are not widened."""
    share, r = ci_share(xs), lag1_autocorrelation(xs)
    if share is None or r is None:
        return share
    return share * math.sqrt(ar1_variance_factor(r, len(xs)))


def trend_share(xs: Sequence[float]) -> float | None:
    """How much the latency changed from the first timed run to the last along a robust trend
    line, as a share of the median: the Theil-Sen slope (the median of the slopes between every
    two runs, which one outlier cannot move) x (n - 1) / median. 0.1: 10% slower by the last
    run. None with fewer than 2 runs."""
    n = len(xs)
    if n < 2:
        return None
    slope = statistics.median((xs[j] - xs[i]) / (j - i) for i in range(n) for j in range(i + 1, n))
    median = statistics.median(xs)
    return slope * (n - 1) / median if median else None


def trend_p_value(xs: Sequence[float]) -> float | None:
    """Two-sided p-value of the Mann-Kendall test for a monotonic trend over the runs: S, the
    number of later runs above an earlier one less those below, against its variance under no
    trend (ties corrected), with a continuity correction and the normal approximation. None
    below MIN_TREND_RUNS runs."""
    xs = [float(x) for x in xs]  # numpy's booleans do not subtract
    n = len(xs)
    if n < MIN_TREND_RUNS:
        return None
    s = sum((xs[j] > xs[i]) - (xs[j] < xs[i]) for i in range(n) for j in range(i + 1, n))
    ties = [t for t in Counter(xs).values() if t > 1]
    variance = (n * (n - 1) * (2 * n + 5) - sum(t * (t - 1) * (2 * t + 5) for t in ties)) / 18
    if s == 0 or variance <= 0:
        return 1.0
    z = (abs(s) - 1) / math.sqrt(variance)
    return math.erfc(z / math.sqrt(2))


def is_drifting(xs: Sequence[float], target: float) -> bool | None:
    """True when the runs trend (Mann-Kendall p < TREND_ALPHA) by more than `target` of the
    median over the timed runs: the mean then depends on when the timing stopped, and the
    interval, which takes the runs as independent, is too narrow. None below MIN_TREND_RUNS."""
    p, trend = trend_p_value(xs), trend_share(xs)
    if p is None or trend is None:
        return None
    return p < TREND_ALPHA and abs(trend) > target


def latency_stats(latencies: list[float], ci_target: float) -> dict[str, Any]:
    """A row's latency fields: location, spread, the 95% interval of the mean and its verdict,
    and whether the runs drifted (trend, its p-value, lag-1 autocorrelation, `drifting`)."""
    mean, half = mean_ci95(latencies)
    return {
        "latency_s_mean": mean,
        # one run shows no spread: none recorded, not a spread of 0
        "latency_s_std": statistics.stdev(latencies) if len(latencies) > 1 else None,
        "latency_s_min": min(latencies),
        "latency_s_median": statistics.median(latencies),
        "latency_s_p90": percentile(latencies, 90),
        "latency_s_cv": coefficient_of_variation(latencies),
        "latency_s_ci95_low": mean - half if half is not None else None,
        "latency_s_ci95_high": mean + half if half is not None else None,
        "latency_s_ci95_rel": ci_share(latencies),
        "latency_s_ci95_rel_ar1": ci_share_ar1(latencies),
        "unstable": is_unstable(latencies, ci_target),
        "latency_s_trend": trend_share(latencies),
        "latency_s_trend_p": trend_p_value(latencies),
        "latency_s_lag1_autocorr": lag1_autocorrelation(latencies),
        "drifting": is_drifting(latencies, ci_target),
        "latencies_s": latencies,
    }
