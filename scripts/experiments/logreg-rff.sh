#!/usr/bin/env bash
# Bayesian logistic regression with 10,000 parameters: random Fourier
# features of Fashion-MNIST (P = 999, so (P + 1) x 10 classes = 10,000
# parameters, prior N(0, 1), features standardised by fmala), one run per
# sampler on the first TRAIN_SUBSET training images (default 10,000):
# CHAINS chains (default 4), WARMUP transitions with step-size adaptation
# (default 1,000), DRAWS kept draws (default 500), one thread per run and
# JOBS runs at a time (default 2). Test metrics come from the last 100 draws
# of every chain on all 10,000 test images.
#
# The features of all 60,000 training images are written once, by
# scripts/experiments/rff_features.py, into OUT/data (kept when present).
# That script and the table need numpy and matplotlib: a virtual environment
# is made at VENV (default BUILD_DIR/rff-venv) when missing, with pinned
# versions from PyPI.
#
# Writes OUT/<sampler>/summary.json and OUT/<sampler>.log (default OUT:
# runs/experiments/logreg-rff), prints the Markdown table and writes the
# plot docs/img/research-logreg-rff.png.
# Usage: [TRAIN_SUBSET=N] [WARMUP=N] [DRAWS=N] [CHAINS=N] [JOBS=N] [VENV=DIR] [OUT=DIR]
#        scripts/experiments/logreg-rff.sh [BUILD_DIR] [SAMPLER...]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
shift || true
samplers=("$@")
if [[ ${#samplers[@]} -eq 0 ]]; then
  # line-hmc first: with 8 leapfrog steps it takes the longest, so it starts at once.
  samplers=(line-hmc mala fmala line-fmala pc-fmala pc-line-fmala)
fi
export FMALA=$build/fmala
export OUT=${OUT:-$root/runs/experiments/logreg-rff}
export TRAIN_SUBSET=${TRAIN_SUBSET:-10000}
export WARMUP=${WARMUP:-1000}
export DRAWS=${DRAWS:-500}
export CHAINS=${CHAINS:-4}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
jobs=${JOBS:-2}
venv=${VENV:-$build/rff-venv}

if [[ ! -x $FMALA ]]; then
  echo "logreg-rff.sh: $FMALA not found; build fmala first or pass its build directory as the first argument" >&2
  exit 1
fi
if [[ ! -x $venv/bin/python ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet numpy==2.4.6 matplotlib==3.11.2
fi
if [[ ! -f $OUT/data/test_y.npy ]]; then
  "$venv/bin/python" "$root/scripts/experiments/rff_features.py" --out "$OUT/data" --seed 1
fi

# A sampler may carry options ("pc-fmala --aligned"); its run directory is
# then named after both (pc-fmala-aligned).
run_sampler() {
  local spec=$1
  local sampler=${spec// --/-}
  local words
  read -r -a words <<< "$spec"
  echo "$sampler: started $(date -u +%H:%M:%S)"
  if "$FMALA" sample --model logreg --data "$OUT/data" --train-subset "$TRAIN_SUBSET" \
      --sampler "${words[@]}" --chains "$CHAINS" --warmup "$WARMUP" --draws "$DRAWS" --threads 1 \
      --seed 1 --no-draws --no-checkpoint --out "$OUT/$sampler" > "$OUT/$sampler.log" 2>&1; then
    echo "$sampler: finished $(date -u +%H:%M:%S)"
  else
    echo "$sampler: failed, see $OUT/$sampler.log" >&2
    return 1
  fi
}
export -f run_sampler
# A failed run leaves the others running, and the table shows those that finished.
status=0
printf '%s\n' "${samplers[@]}" | xargs -P "$jobs" -I{} bash -c 'run_sampler "$1"' _ {} || status=$?

"$venv/bin/python" "$root/scripts/experiments/logreg_rff_table.py" "$OUT" \
  --plot "$root/docs/img/research-logreg-rff.png"
exit "$status"
