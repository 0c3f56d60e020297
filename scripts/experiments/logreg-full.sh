#!/usr/bin/env bash
# Bayesian logistic regression on the full Fashion-MNIST training set (60,000
# images) with long warmups: 2 chains, WARMUP transitions with step-size
# adaptation, 500 kept draws, one thread per run so that two runs share the
# two cores. TEST_SUBSET (default 0: all 10,000) limits the test images the
# predictive metrics are computed on.
# Writes runs/experiments/logreg-full/<sampler>-w<warmup>/summary.json.
# Usage: [TEST_SUBSET=N] scripts/experiments/logreg-full.sh [BUILD_DIR] [WARMUP] [SAMPLER...]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
fmala=${1:-$root/build}/fmala
warmup=${2:-3000}
shift 2 || shift $#
samplers=("$@")
if [[ ${#samplers[@]} -eq 0 ]]; then
  samplers=(mala fmala line-fmala pc-fmala pc-line-fmala)
fi
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
for sampler in "${samplers[@]}"; do
  "$fmala" sample --preset paper-logreg --data fashion-mnist --sampler "$sampler" --chains 2 \
    --warmup "$warmup" --draws 500 --threads 1 --test-subset "${TEST_SUBSET:-0}" --seed 1 --no-draws \
    --out "$root/runs/experiments/logreg-full/$sampler-w$warmup"
done
