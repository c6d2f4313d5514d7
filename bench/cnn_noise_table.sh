#!/usr/bin/env bash
# Issue 18: test accuracy of the CNV-style CNNs, clean and under injector-stream noise in every
# hidden layer (conv and fc), with and without noise-aware training.
# Usage: [N_IMAGES=5000] bench/cnn_noise_table.sh [seeds] [models...]; appends to results/noise_cnv.txt
# (N_IMAGES: the first N test images, 0 = all 10000; the shipped tables used 5000 and 2 seeds, what
# the shared 2-core machine allowed: about 45 s per noisy pass over 5000 images there)
set -euo pipefail
seeds=${1:-3}
shift || true
models=${*:-cnv-w1a1 cnv-w1a1-eps0.05 cnv-w2a2 cnv-w1a1-fashion}
py=${PYTHON:-.venv/bin/python}
out=${OUT:-results/noise_cnv.txt}
mkdir -p results
for m in $models; do
  OMP_NUM_THREADS=1 "$py" -m noisybnn.cli eval --model "$m" --eps 0,0.01,0.02,0.05,0.1,0.2 \
    --seeds "$seeds" --source injector --n-images "${N_IMAGES:-0}" | tee -a "$out"
  echo | tee -a "$out"
done
