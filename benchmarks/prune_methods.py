"""Time each width-pruning method on the trained tiny model: wall time and peak RSS.

Each method runs in its own fresh Python process, so its peak resident memory (ru_maxrss of
that process) is its own. Calibration follows each method's DEFAULT_CALIBRATION (n x length
windows) drawn from the embedded corpus's train text with the checkpoint's tokenizer.

    python benchmarks/prune_methods.py --model DIR --corpus DIR [--target 0.8]

Without --model the newest tiny checkpoint cached by the tests (.pytest_cache/prunebench) is
used; without --corpus the embedded corpus is written to a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
METHODS = {
    "llm_pruner": {},
    "flap": {},
    "flap(UL-UM)": {"structure": "UL-UM"},
    "wanda_sp": {},
}


def run_one(method: str, model_dir: str, corpus: str, target: float) -> dict:
    import importlib

    import torch

    from prunebench import data, modeling
    from prunebench.plan import sizes

    torch.manual_seed(0)
    module = importlib.import_module(f"prunebench.{method.split('(')[0]}")
    tokenizer = modeling.load_tokenizer(model_dir)
    rows = [r for r in (Path(corpus) / "train.txt").read_text().splitlines() if r.strip()]
    cal = module.DEFAULT_CALIBRATION
    windows = data.calibration_windows(rows, tokenizer, cal["n"], cal["length"], seed=1234)
    model = modeling.load_model(model_dir)
    dense = modeling.count_params(model.config)
    target_params = sizes.parse_size(target, dense)
    start = time.perf_counter()
    report = module.prune(model, windows, target_params, **METHODS[method])
    elapsed = time.perf_counter() - start
    return {"method": method, "calibration": f"{cal['n']}x{cal['length']}", "seconds": elapsed,
            "params_before": dense, "params_after": report["params_after"],
            "target_params": target_params,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def default_model() -> str:
    cached = sorted((d for d in (REPO / ".pytest_cache" / "prunebench").glob("tiny-*")
                     if (d / "prunebench.json").exists()),
                    key=lambda p: p.stat().st_mtime)
    if not cached:
        sys.exit("no tiny checkpoint cached by the tests: run pytest once or pass --model DIR")
    return str(cached[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model")
    parser.add_argument("--corpus")
    parser.add_argument("--target", default="0.8", help="kept fraction or absolute size")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # child mode: one method, JSON out
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.model, args.corpus, args.target)))
        return
    model = args.model or default_model()
    tmp = None
    corpus = args.corpus
    if corpus is None:
        from prunebench.corpus import write_corpus
        tmp = tempfile.TemporaryDirectory()
        write_corpus(tmp.name)
        corpus = tmp.name
    rows = []
    for method in METHODS:
        out = subprocess.run([sys.executable, __file__, "--one", method, "--model", model,
                              "--corpus", corpus, "--target", str(args.target)],
                             capture_output=True, text=True)
        if out.returncode:
            sys.exit(f"{method} failed:\n{out.stderr[-3000:]}")
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"model {model}, target {args.target}")
    print(f"{'method':<12} {'calibration':>11} {'seconds':>8} {'peak RSS MiB':>13} "
          f"{'params before':>14} {'after':>10} {'target':>10}")
    for r in rows:
        print(f"{r['method']:<12} {r['calibration']:>11} {r['seconds']:>8.2f} "
              f"{r['peak_rss_mib']:>13.0f} {r['params_before']:>14,} {r['params_after']:>10,} "
              f"{r['target_params']:>10,}")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
