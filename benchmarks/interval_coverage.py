"""How often the 95% latency intervals a benchmark row records cover the true mean, when the
timed runs are not independent: a simulation of AR(1) runs (each run's deviation a share
`r` of the one before plus fresh noise) through prunebench's own functions, for the plain
interval (`timing.ci_share`) and the one widened by the row's lag-1 correlation
(`timing.ci_share_ar1`). docs/benchmarks.md quotes its default run.

    python benchmarks/interval_coverage.py                   # 20 runs, 4000 rows per case
    python benchmarks/interval_coverage.py --runs 10 --rows 1000 --correlations 0 0.5

Prints one line per correlation: the share of rows whose plain and widened intervals cover
the mean, and the median widening. Pure Python and numpy: seconds on a CPU.
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np

from prunebench.benchmark import timing

BURN_IN = 50  # runs drawn and dropped first, so the process starts at its steady state


def coverage(correlation: float, runs: int, rows: int, seed: int) -> dict[str, float]:
    """Coverage of both intervals over `rows` simulated rows of `runs` runs (latency 1.0 plus
    AR(1) noise with lag-1 `correlation`, each run adding a fresh 1%)."""
    generator = np.random.default_rng(seed)
    plain = widened = 0
    widenings = []
    for _ in range(rows):
        noise = generator.normal(size=runs + BURN_IN)
        series = np.zeros_like(noise)
        for i in range(1, len(noise)):
            series[i] = correlation * series[i - 1] + noise[i]
        latencies = (1.0 + 0.01 * series[BURN_IN:]).tolist()
        mean = statistics.fmean(latencies)
        share, share_ar1 = timing.ci_share(latencies), timing.ci_share_ar1(latencies)
        plain += abs(mean - 1.0) <= share * mean
        widened += abs(mean - 1.0) <= share_ar1 * mean
        widenings.append(share_ar1 / share)
    return {"correlation": correlation, "plain": plain / rows, "widened": widened / rows,
            "median_widening": statistics.median(widenings)}


def main(argv: list[str] | None = None) -> list[dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="timed runs per row (20)")
    parser.add_argument("--rows", type=int, default=4000, help="rows simulated per case")
    parser.add_argument("--correlations", type=float, nargs="+", default=[0.0, 0.3, 0.5, 0.8])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.runs < 3 or args.rows < 1:
        parser.error("--runs must be at least 3 (a lag-1 correlation needs them), --rows >= 1")
    results = [coverage(r, args.runs, args.rows, args.seed) for r in args.correlations]
    print(f"95% intervals of {args.runs} runs, {args.rows} rows per case (seed {args.seed})")
    for row in results:
        print(f"lag-1 {row['correlation']:.2f}: plain covers {row['plain']:.1%}, widened "
              f"{row['widened']:.1%} (median widening x{row['median_widening']:.2f})")
    return results


if __name__ == "__main__":
    main()
