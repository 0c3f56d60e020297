#!/usr/bin/env bash
# Longer runs of the Bayesian logistic regression on the first 10,000
# Fashion-MNIST training images: 4 chains, 2,500 warmup transitions with
# step-size adaptation, 500 kept draws, test metrics on all 10,000 test
# images from the last 100 draws of every chain. The line samplers move
# along one random direction per transition, so in 7,850 dimensions they
# need many more transitions than MALA to reach the posterior.
# Writes runs/experiments/logreg-long/<sampler>/summary.json.
# Usage: scripts/experiments/logreg-long.sh [BUILD_DIR] [SAMPLER...]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
fmala=${1:-$root/build}/fmala
shift || true
samplers=("$@")
if [[ ${#samplers[@]} -eq 0 ]]; then
  samplers=(mala pc-line-fmala line-fmala)
fi
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
for sampler in "${samplers[@]}"; do
  "$fmala" sample --preset paper-logreg --data fashion-mnist --train-subset 10000 \
    --sampler "$sampler" --chains 4 --warmup 2500 --draws 500 --seed 1 --no-draws \
    --out "$root/runs/experiments/logreg-long/$sampler"
done
