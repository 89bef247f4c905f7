#!/usr/bin/env bash
# Run config/gpu-smoke.yaml on one GPU machine without network, timed, and print the summary table.
# Packages the machine lacks (snakemake and its dependencies) may be carried as wheels in .whl/
# (benchmarks/offline_wheels.py makes them); they are installed unless snakemake is importable.
# Extra arguments go to snakemake. PYTHON picks the interpreter (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c "import snakemake" 2>/dev/null && compgen -G ".whl/*.whl" > /dev/null; then
    "$PYTHON" -m pip install -q --no-index --no-deps --target /tmp/prunebench-site .whl/*.whl
    export PYTHONPATH="/tmp/prunebench-site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD/src:${PYTHONPATH:-}"
start=$(date +%s)
"$PYTHON" -m snakemake --cores all --configfile config/gpu-smoke.yaml "$@"
echo "gpu-smoke wall time: $(( $(date +%s) - start )) s"
cat results/tables/summary.md
