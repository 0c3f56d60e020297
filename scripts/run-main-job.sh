#!/usr/bin/env bash
# The main job: installs what is missing, builds fmala, and samples the
# posterior of a Bayesian MLP (8-50-1, ReLU) on the UCI concrete data with all
# six samplers, 64 chains each. Writes runs/concrete/summary.json and the draws.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" "$root/build" -DFMALA_BUILD_TESTS=OFF -DFMALA_BUILD_BENCH=OFF
cd "$root"
# Passive waiting keeps idle OpenMP threads from spinning on a shared machine.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
exec ./build/fmala sample --model mlp --data data/concrete --chains 64 \
  --warmup 1000 --draws 200 --thin 5 --seed 1 --out runs/concrete "$@"
