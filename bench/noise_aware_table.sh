#!/usr/bin/env bash
# Accuracy vs eps_eval for models trained with different eps_train (issue 3's table).
# Usage: bench/noise_aware_table.sh tfc   (or sfc); writes results/noise_aware_<family>.txt
set -euo pipefail
family=${1:-tfc}
out=results/noise_aware_${family}.txt
mkdir -p results
: > "$out"
for m in ${family}-w1a1 ${family}-w1a1-eps0.05 ${family}-w1a1-eps0.1; do
  OMP_NUM_THREADS=1 .venv/bin/noisybnn eval --model "$m" --eps 0,0.01,0.02,0.05,0.1,0.2 \
    --seeds 5 --source injector | tee -a "$out"
  echo | tee -a "$out"
done
