#!/usr/bin/env bash
# Chains spread over MPI processes: 2 and 3 processes draw exactly what one
# process draws (shared step-size adaptation included) and write the same
# summary; a job stopped by SIGUSR1, or by a killed process, resumes to the
# same outputs; wrong process counts are clear errors.
# Usage: processes.sh FMALA MPIEXEC
set -euo pipefail
fmala=$1
source=$(cd "$(dirname "$0")/../.." && pwd)
mpiexec=$2
work=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2> /dev/null || true; rm -rf "$work"' EXIT
cd "$work"

# Test machines run as root and have fewer cores than processes.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_WAIT_POLICY=passive
mpi=("$mpiexec" --oversubscribe -np)

same() {
  for sampler in mala pc-fmala; do
    cmp "$1/draws-$sampler.npy" "$2/draws-$sampler.npy"
  done
  python3 "$source/tests/cli/same_summary.py" "$1/summary.json" "$2/summary.json"
}

common=(--target funnel --dim 6 --sampler mala,pc-fmala --chains 13 --warmup 200 --seed 4 -q)
"$fmala" sample "${common[@]}" --draws 100 --out one 2> /dev/null
"${mpi[@]}" 2 "$fmala" sample "${common[@]}" --draws 100 --out two 2> /dev/null
"${mpi[@]}" 3 "$fmala" sample "${common[@]}" --draws 100 --out three 2> /dev/null
same one two
same one three
# Per-chain adaptation and --chain-batch inside each process's slice.
"$fmala" sample "${common[@]}" --draws 100 --adapt-per-chain --out per-chain 2> /dev/null
"${mpi[@]}" 2 "$fmala" sample "${common[@]}" --draws 100 --adapt-per-chain --chain-batch 4 --out per-chain-2 2> /dev/null
same per-chain per-chain-2
grep -q '"processes":2' per-chain-2/log.jsonl

# SIGUSR1 to mpirun reaches every process: they agree on the transition,
# save, and the job resumes to the outputs of an uninterrupted run.
long=("${common[@]}" --draws 20000 --checkpoint-every 3000)
"$fmala" sample "${long[@]}" --out ref 2> /dev/null
"${mpi[@]}" 2 "$fmala" sample "${long[@]}" --out cut 2> cut.err &
pid=$!
for _ in $(seq 2400); do
  [[ -e cut/checkpoint/mala.process1.ckpt ]] && break
  sleep 0.05
done
kill -USR1 "$pid"
status=0
wait "$pid" || status=$?
[[ $status -ne 0 ]] || { echo "the stopped job exited with 0" >&2; cat cut.err >&2; exit 1; }
grep -q "stopped by SIGUSR1" cut.err || { cat cut.err >&2; exit 1; }
grep -q "Continue the run with: mpirun -np 2 fmala resume cut" cut.err
status=0
"${mpi[@]}" 3 "$fmala" resume cut 2> wrong.err || status=$?
[[ $status -eq 2 ]] || { echo "resume with 3 processes: exit status $status" >&2; cat wrong.err >&2; exit 1; }
grep -q "its run was started as 2 processes and is resumed as 3" wrong.err
"${mpi[@]}" 2 "$fmala" resume cut 2> /dev/null
same ref cut

# A process killed after the first checkpoints: the job ends, and resuming
# takes the last transition that both processes saved.
"${mpi[@]}" 2 "$fmala" sample "${long[@]}" --out killed 2> killed.err &
pid=$!
for _ in $(seq 2400); do
  [[ -e killed/checkpoint/mala.process1.previous.ckpt ]] && break
  sleep 0.05
done
victim=$(pgrep -P "$pid" | tail -n 1)
kill -9 "$victim"
status=0
wait "$pid" || status=$?
[[ $status -ne 0 ]] || { echo "the job with a killed process exited with 0" >&2; exit 1; }
"${mpi[@]}" 2 "$fmala" resume killed 2> /dev/null
same ref killed

# Fewer chains than processes.
status=0
"${mpi[@]}" 3 "$fmala" sample --target funnel --chains 2 2> few.err || status=$?
[[ $status -eq 2 ]] || { echo "2 chains on 3 processes: exit status $status" >&2; cat few.err >&2; exit 1; }
grep -q -- "--chains: 2 chains cannot be spread over the job's 3 processes" few.err
[[ $(grep -c "cannot be spread" few.err) -eq 1 ]] || { echo "the error was printed more than once" >&2; exit 1; }
echo "MPI processes: all cases passed"
