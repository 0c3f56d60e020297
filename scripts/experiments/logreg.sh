#!/usr/bin/env bash
# Bayesian logistic regression (7,850 parameters) on the full Fashion-MNIST
# training set (60,000 images), one sampler at a time: 8 chains, 300 warmup
# transitions with step-size adaptation, 200 kept draws. Test metrics come
# from the last 100 draws of every chain. Writes
# runs/experiments/logreg/<sampler>/summary.json.
# Usage: scripts/experiments/logreg.sh [BUILD_DIR] [SAMPLER...]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
fmala=${1:-$root/build}/fmala
shift || true
samplers=("$@")
if [[ ${#samplers[@]} -eq 0 ]]; then
  samplers=(mala fmala line-fmala pc-fmala pc-line-fmala)
fi
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
for sampler in "${samplers[@]}"; do
  "$fmala" sample --preset paper-logreg --data fashion-mnist --sampler "$sampler" --chains 8 \
    --warmup 300 --draws 200 --seed 1 --no-draws --out "$root/runs/experiments/logreg/$sampler"
done
