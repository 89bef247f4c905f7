#!/usr/bin/env bash
# Run config/gpu-smoke.yaml on one GPU machine without network and print the summary table.
# Packages the machine lacks (snakemake and its dependencies) may be carried as wheels in .whl/.
set -euo pipefail
cd "$(dirname "$0")/.."
if compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD/src:${PYTHONPATH:-}"
start=$(date +%s)
python3 -m snakemake --cores all --configfile config/gpu-smoke.yaml "$@"
echo "gpu-smoke wall time: $(( $(date +%s) - start )) s"
cat results/tables/summary.md
