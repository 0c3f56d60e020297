#!/usr/bin/env bash
# Bayesian logistic regression (7,850 parameters) on the full Fashion-MNIST
# training set with the five samplers: 8 chains, 500 warmup, 500 draws, test
# metrics from the last 100 draws of every chain. Writes
# runs/experiments/logreg/summary.json. Usage: scripts/experiments/logreg.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
fmala=${1:-$root/build}/fmala
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
"$fmala" sample --preset paper-logreg --data fashion-mnist \
  --sampler mala,fmala,line-fmala,pc-fmala,pc-line-fmala --chains 8 --warmup 500 --draws 500 \
  --seed 1 --no-draws --out "$root/runs/experiments/logreg"
