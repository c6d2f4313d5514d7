#!/usr/bin/env bash
# Issue 18: test accuracy of the CNV-style CNNs, clean and under injector-stream noise in every
# hidden layer (conv and fc), with and without noise-aware training.
# Usage: bench/cnn_noise_table.sh [seeds] [models...]; writes results/noise_cnv.txt (appends per model)
set -euo pipefail
seeds=${1:-3}
shift || true
models=${*:-cnv-w1a1 cnv-w1a1-eps0.05 cnv-w2a2 cnv-w1a1-fashion}
py=${PYTHON:-.venv/bin/python}
out=results/noise_cnv.txt
mkdir -p results
for m in $models; do
  OMP_NUM_THREADS=1 "$py" -m noisybnn.cli eval --model "$m" --eps 0,0.01,0.02,0.05,0.1,0.2 \
    --seeds "$seeds" --source injector | tee -a "$out"
  echo | tee -a "$out"
done
