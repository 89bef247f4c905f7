#!/usr/bin/env bash
# Run config/gpu-smoke.yaml on one GPU machine without network, timed, and print the summary table.
# It runs in a directory of its own (SMOKE_DIR, default runs/gpu-smoke): its model is named
# llama-7b like the paper configs' but is random, and would otherwise replace a paper run's
# download, checkpoints and results in this checkout's resources/ and results/.
# Packages the machine lacks (snakemake and its dependencies) may be carried as wheels in .whl/
# (benchmarks/offline_wheels.py makes them); they are installed into .whl/site unless snakemake
# is importable. Extra arguments go to snakemake. PYTHON picks the interpreter (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
SMOKE_DIR=${SMOKE_DIR:-runs/gpu-smoke}
if ! "$PYTHON" -c "import snakemake" 2>/dev/null && compgen -G ".whl/*.whl" > /dev/null; then
    "$PYTHON" -m pip install -q --no-index --no-deps --upgrade --target .whl/site .whl/*.whl
    export PYTHONPATH="$PWD/.whl/site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD/src:${PYTHONPATH:-}"
rm -f "$SMOKE_DIR/usage.md"  # an earlier run's
start=$(date +%s)
status=0
"$PYTHON" -m snakemake --cores all --directory "$SMOKE_DIR" --configfile config/gpu-smoke.yaml "$@" \
    || status=$?
echo "gpu-smoke wall time: $(( $(date +%s) - start )) s"
summary="$SMOKE_DIR/results/tables/summary.md"
if [ -f "$summary" ]; then cat "$summary"; else echo "no summary table (a dry run?): $summary"; fi
# What each rule's jobs spent (wall, GPU and CPU time; failed and killed attempts too), also
# after a failure: SMOKE_DIR/usage.md. A dry run ran no job, and has none.
if usage_table=$("$PYTHON" -m prunebench.cli usage --directory "$SMOKE_DIR" 2>/dev/null); then
    echo "$usage_table" > "$SMOKE_DIR/usage.md"
    echo "what the jobs spent (prunebench usage):"
    echo "$usage_table"
fi
exit "$status"
