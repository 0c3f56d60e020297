#!/usr/bin/env bash
# The MNIST-size CNN of the reference study (--preset paper-mnist-cnn,
# 824,458 parameters) on Fashion-MNIST, at the reduced scale that two CPU
# cores allow. It uses the first 500 training images, 2 chains, 200 warmup
# transitions with step-size adaptation and 50 kept draws. The predictive
# comes from the last 25 draws of each chain, on the first 2,000 test images.
# Writes runs/experiments/cnn/summary.json. Usage: scripts/experiments/cnn.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
fmala=${1:-$root/build}/fmala
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
"$fmala" sample --preset paper-mnist-cnn --data fashion-mnist --train-subset 500 \
  --test-subset 2000 --sampler mala,line-fmala,pc-line-fmala --chains 2 --warmup 200 --draws 50 \
  --predictive-draws 25 --seed 1 --no-draws --out "$root/runs/experiments/cnn"
