#!/usr/bin/env bash
# Compares fmala's samplers with JAX and BlackJAX peers (bench/peers/peers.py) at
# equal work: the same target, chains, parameters, fixed step size, burn-in,
# transitions and thinning. Writes peers.md and peers.csv (fmala/peer ratios of
# chain-steps per second and bulk ESS per second, peak memory) to the output
# directory, with environment.txt (machine, date, versions, commands).
#
# Exit status: 0 done, 77 skipped because PyPI cannot be reached to create the
# virtual environment, 1 anything else.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/bench/peers

usage() {
  cat <<EOF
Usage: bench/peers/run.sh [OPTIONS]

  --fmala PATH         fmala binary to measure (default: build one, CPU-only, in
                       build-peers/fmala-build; with --gpu, with CUDA by scripts/build.sh)
  --venv DIR           virtual environment for JAX, BlackJAX, NumPy and ArviZ, created
                       from PyPI when missing (default: build-peers/venv, with --gpu
                       build-peers/venv-cuda)
  --out DIR            output directory (default: build-peers/results)
  --targets LIST       comma-separated: funnel, mlp (default: funnel,mlp)
  --samplers LIST      comma-separated subset of fmala,line-fmala,pc-fmala,pc-line-fmala,
                       mala,rwmh (default: all six)
  --quick              a tenth of the draws, to check the script end to end
  --cpus LIST          CPUs that both implementations are pinned to with taskset, and
                       whose count is fmala's --threads (default: 0,1)
  --jax-cpu-devices N  split the CPU into N XLA devices and shard the chains over them
                       (default: 1, JAX's default single CPU device)
  --jax-prng NAME      JAX's PRNG: threefry2x32 (JAX's default), rbg or unsafe_rbg
                       (default: threefry2x32)
  --omp-wait-policy P  OMP_WAIT_POLICY for fmala: passive, active, or default (leave it
                       unset, so libgomp spins briefly before sleeping; the default)
  --gpu                run fmala with --backend cuda and JAX on its GPU back end
                       (installs requirements-cuda.txt)
  --max-load X         wait before a measurement while the 1-minute load average is
                       above X (default: 1.5)
  --load-tries N       check the load at most N times per measurement (default: 4)
  --load-wait S        seconds between the checks (default: 60)
  -h, --help           this text
EOF
}

fmala=""
venv=""
out=$root/build-peers/results
targets=funnel,mlp
samplers=fmala,line-fmala,pc-fmala,pc-line-fmala,mala,rwmh
quick=0
cpus=0,1
jax_cpu_devices=1
jax_prng=threefry2x32
omp_wait_policy=default
gpu=0
max_load=1.5
load_tries=4
load_wait=60

while [[ $# -gt 0 ]]; do
  case $1 in
    --fmala) fmala=$2; shift 2 ;;
    --venv) venv=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --targets) targets=$2; shift 2 ;;
    --samplers) samplers=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    --cpus) cpus=$2; shift 2 ;;
    --jax-cpu-devices) jax_cpu_devices=$2; shift 2 ;;
    --jax-prng) jax_prng=$2; shift 2 ;;
    --omp-wait-policy) omp_wait_policy=$2; shift 2 ;;
    --gpu) gpu=1; shift ;;
    --max-load) max_load=$2; shift 2 ;;
    --load-tries) load_tries=$2; shift 2 ;;
    --load-wait) load_wait=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run.sh: unknown option '$1'. See bench/peers/run.sh --help" >&2; exit 1 ;;
  esac
done

for sampler in ${samplers//,/ }; do
  case $sampler in
    fmala | line-fmala | pc-fmala | pc-line-fmala | mala | rwmh) ;;
    *) echo "run.sh: --samplers: unknown sampler '$sampler'. Use fmala, line-fmala, pc-fmala, pc-line-fmala, mala or rwmh" >&2; exit 1 ;;
  esac
done
for target in ${targets//,/ }; do
  case $target in
    funnel | mlp) ;;
    *) echo "run.sh: --targets: unknown target '$target'. Use funnel or mlp" >&2; exit 1 ;;
  esac
done

threads=$(awk -F, '{print NF}' <<<"$cpus")
if [[ $gpu == 1 ]]; then
  requirements=$here/requirements-cuda.txt
  venv=${venv:-$root/build-peers/venv-cuda}
else
  requirements=$here/requirements.txt
  venv=${venv:-$root/build-peers/venv}
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)

# --- Python environment ---------------------------------------------------
# The hash of the requirements file marks a finished install, so a second run
# does not contact PyPI.
stamp=$venv/.requirements-sha256
wanted=$(sha256sum "$requirements" "$here/requirements.txt" | sha256sum | cut -d' ' -f1)
if [[ ! -x $venv/bin/python || ! -f $stamp || $(cat "$stamp") != "$wanted" ]]; then
  echo "run.sh: installing $(basename "$requirements") into $venv"
  python3 -m venv "$venv"
  install_log=$out/pip-install.log
  if ! "$venv/bin/pip" install --timeout 30 --retries 2 -r "$requirements" >"$install_log" 2>&1; then
    if grep -qiE "Could not fetch URL|Failed to establish a new connection|Max retries exceeded|Temporary failure in name resolution|Name or service not known|Network is unreachable|Connection (refused|reset)|timed out|No matching distribution found" "$install_log"; then
      echo "run.sh: skipped: PyPI cannot be reached, so the JAX and BlackJAX environment cannot be created (pip's output: $install_log). Rerun with network access to PyPI, or pass --venv DIR with the packages of $requirements installed." >&2
      exit 77
    fi
    cat "$install_log" >&2
    echo "run.sh: pip install -r $requirements failed (output above and in $install_log)" >&2
    exit 1
  fi
  echo "$wanted" >"$stamp"
fi
python=$venv/bin/python

# --- fmala ------------------------------------------------------------------
if [[ -z $fmala ]]; then
  build=$root/build-peers/fmala-build
  echo "run.sh: building fmala in $build"
  if [[ $gpu == 1 ]]; then
    "$root/scripts/build.sh" "$build" -DFMALA_BUILD_TESTS=OFF -DFMALA_BUILD_BENCH=OFF >/dev/null
  else
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFMALA_ENABLE_CUDA=OFF \
      -DFMALA_BUILD_BENCH=OFF -DFMALA_BUILD_TESTS=OFF >"$build.configure.log" 2>&1 || {
      cat "$build.configure.log" >&2; exit 1; }
    nice cmake --build "$build" -j "$(nproc)" --target fmala >/dev/null
  fi
  fmala=$build/fmala
fi
if [[ ! -x $fmala ]]; then
  echo "run.sh: --fmala $fmala: not an executable file. Pass the fmala binary of a build, or omit --fmala to build one" >&2
  exit 1
fi
fmala=$(cd "$(dirname "$fmala")" && pwd)/$(basename "$fmala")

pin=()
if command -v taskset >/dev/null; then
  pin=(taskset -c "$cpus")
else
  echo "run.sh: taskset not found, so neither implementation is pinned to CPUs $cpus" >&2
fi
fmala_backend=(--threads "$threads")
peer_platform=(--cpu-devices "$jax_cpu_devices" --prng "$jax_prng")
if [[ $gpu == 1 ]]; then
  fmala_backend=(--backend cuda --threads "$threads")
  peer_platform=(--gpu --prng "$jax_prng")
fi
# fmala forks and joins several OpenMP parallel regions per transition, so on
# small targets its speed depends strongly on how idle threads wait.
case $omp_wait_policy in
  default) unset OMP_WAIT_POLICY ;;
  passive | active) export OMP_WAIT_POLICY=$omp_wait_policy ;;
  *) echo "run.sh: --omp-wait-policy: unknown policy '$omp_wait_policy'. Use default, passive or active" >&2; exit 1 ;;
esac

loads=$out/loads.txt
commands=$out/commands.txt
: >"$loads"
: >"$commands"

# Records the 1-minute load average before a measurement, after waiting (up to
# load_tries checks, load_wait seconds apart) for it to fall to max_load.
wait_for_load() {
  local label=$1 load try
  for ((try = 1; try <= load_tries; try++)); do
    load=$(cut -d' ' -f1 /proc/loadavg)
    if awk -v l="$load" -v m="$max_load" 'BEGIN { exit !(l <= m) }'; then
      break
    fi
    if ((try < load_tries)); then
      echo "run.sh: load $load > $max_load before $label, waiting ${load_wait} s (check $try of $load_tries)"
      sleep "$load_wait"
    fi
  done
  echo "run.sh: $label at load $load ($(uptime))"
  echo "$label $load" >>"$loads"
}

run_logged() {
  echo "$*" >>"$commands"
  "$@"
}

# --- settings ---------------------------------------------------------------
# Funnel: fixed step sizes close to what fmala's dual averaging reaches on this
# target (1,024 chains, D = 11) at its default acceptance targets. Transitions
# are sized so that fmala samples for 10-20 s on two idle cores, and 2,000
# draws are kept (thinned) so that storing them does not dominate memory.
funnel_chains=1024
funnel_dim=11
funnel_chunk=100
funnel_draws=$((quick ? 200 : 2000))
funnel_step() {
  case $1 in
    fmala) echo 0.7 ;; line-fmala) echo 1.1 ;; pc-fmala) echo 0.65 ;;
    pc-line-fmala) echo 1.5 ;; mala) echo 0.58 ;; rwmh) echo 0.62 ;;
  esac
}
funnel_thin() {
  case $1 in
    fmala | pc-fmala) echo 20 ;; line-fmala | pc-line-fmala) echo 30 ;; mala | rwmh) echo 40 ;;
  esac
}
# MLP of the paper-regression preset, 64 chains: the reference study's step 0.01
# for the forward samplers, 0.001 for MALA and RWMH (MALA accepts nothing at 0.01).
# Transitions are sized so that fmala samples for 10-15 s on two idle cores.
mlp_chains=64
mlp_chunk=10
mlp_step() {
  case $1 in mala | rwmh) echo 0.001 ;; *) echo 0.01 ;; esac
}
mlp_draws() {
  local draws
  case $1 in
    fmala) draws=60 ;; line-fmala) draws=70 ;; pc-fmala | pc-line-fmala) draws=50 ;; mala) draws=120 ;; rwmh) draws=200 ;;
  esac
  echo $((quick ? mlp_chunk : draws))
}

# --- density check ------------------------------------------------------------
# Both implementations must sample the same density: evaluate peers.py's
# log-densities at fmala's draws and compare with the lp fmala recorded.
check=$out/density-check
rm -rf "$check"
for target in ${targets//,/ }; do
  if [[ $target == funnel ]]; then
    "$fmala" sample --target funnel --dim "$funnel_dim" --chains 16 --warmup 50 --draws 10 \
      --sampler mala --threads "$threads" --format npy,netcdf --no-checkpoint -q --out "$check/funnel" 2>/dev/null
    "$python" "$here/peers.py" check-density --target funnel --fmala-out "$check/funnel"
  else
    "$fmala" sample --preset paper-regression --data "$root/data/agw1d/data.csv" --chains 4 --warmup 2 \
      --draws 2 --sampler mala --step-size 0.001 --predictive-draws 1 --threads "$threads" \
      --format npy,netcdf --no-checkpoint -q --out "$check/mlp" 2>/dev/null
    "$python" "$here/peers.py" check-density --target mlp --data "$root/data/agw1d/data.csv" --fmala-out "$check/mlp"
  fi
done

# --- measurements -------------------------------------------------------------
for target in ${targets//,/ }; do
  rm -rf "$out/fmala-$target" "$out/peer-$target"
  for sampler in ${samplers//,/ }; do
    if [[ $target == funnel ]]; then
      step=$(funnel_step "$sampler")
      thin=$(funnel_thin "$sampler")
      draws=$funnel_draws
      chunk=$funnel_chunk
      warmup=$((2 * chunk * thin))
      model=(--target funnel --dim "$funnel_dim")
      peer_model=(--target funnel --dim "$funnel_dim")
      chains=$funnel_chains
      keep=(--format npy)
    else
      step=$(mlp_step "$sampler")
      thin=1
      draws=$(mlp_draws "$sampler")
      chunk=$mlp_chunk
      warmup=$chunk
      model=(--preset paper-regression --data "$root/data/agw1d/data.csv" --predictive-draws 1)
      peer_model=(--target mlp --data "$root/data/agw1d/data.csv")
      chains=$mlp_chains
      keep=(--format netcdf)
    fi
    wait_for_load "fmala-$target-$sampler"
    run_logged "${pin[@]}" "$fmala" sample "${model[@]}" --sampler "$sampler" --chains "$chains" \
      --warmup "$warmup" --draws "$draws" --thin "$thin" --step-size "$step" --seed 1 \
      "${fmala_backend[@]}" --stream --monitor 0 "${keep[@]}" --no-checkpoint -q \
      --out "$out/fmala-$target/$sampler"
    wait_for_load "peer-$target-$sampler"
    run_logged "${pin[@]}" "$python" "$here/peers.py" sample "${peer_model[@]}" --sampler "$sampler" \
      --chains "$chains" --warmup "$warmup" --draws "$draws" --thin "$thin" --chunk "$chunk" \
      --step-size "$step" --seed 1 "${peer_platform[@]}" --out "$out/peer-$target"
  done
done

# --- report -------------------------------------------------------------------
report=(--loads "$loads" --out "$out")
for target in ${targets//,/ }; do
  report+=("--fmala-$target" "$out/fmala-$target" "--peer-$target" "$out/peer-$target")
done
"$python" "$here/peers.py" report "${report[@]}"

{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores online, pinned to CPUs $cpus"
  echo "kernel: $(uname -sr)"
  echo "fmala: $("$fmala" --version) ($fmala)"
  echo "python packages: $("$python" -m pip freeze | grep -iE '^(jax|jaxlib|jax-cuda12-plugin|blackjax|numpy|arviz)==' | tr '\n' ' ')"
  echo "python: $("$python" --version)"
  echo "environment: OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-(unset)} XLA_FLAGS=${XLA_FLAGS:-(unset)} JAX CPU devices: $jax_cpu_devices, JAX PRNG: $jax_prng"
  echo "commands: $commands"
} >"$out/environment.txt"
cat "$out/environment.txt"
echo "run.sh: wrote $out/peers.md, $out/peers.csv and $out/environment.txt"
