#!/usr/bin/env bash
# Bad flags and missing files: one clear line on stderr, exit status 2, and
# files of an earlier run left untouched.
set -uo pipefail
fmala=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

expect_status_2() {
  local what=$1
  shift
  "$fmala" "$@" > "$work/stdout" 2> "$work/stderr"
  local status=$?
  local lines
  lines=$(wc -l < "$work/stderr")
  if [[ $status -ne 2 ]]; then
    echo "FAIL $what: exit status $status, expected 2"; cat "$work/stderr"; failures=$((failures + 1))
  elif [[ $lines -ne 1 ]]; then
    echo "FAIL $what: $lines lines on stderr, expected 1"; cat "$work/stderr"; failures=$((failures + 1))
  elif ! grep -q -- "$expected" "$work/stderr"; then
    echo "FAIL $what: stderr does not mention '$expected'"; cat "$work/stderr"; failures=$((failures + 1))
  else
    echo "ok   $what: $(cat "$work/stderr")"
  fi
}

expected="--bogus";        expect_status_2 "unknown flag" sample --target funnel --bogus
expected="--chains";       expect_status_2 "zero chains" sample --target funnel --chains 0
expected="--chains";       expect_status_2 "non-numeric chains" sample --target funnel --chains many
expected="--step-size";    expect_status_2 "bad step size" sample --target funnel --step-size fast
expected="--sampler";      expect_status_2 "unknown sampler" sample --target funnel --sampler hmc
expected="--target";       expect_status_2 "unknown target" sample --target banana
expected="--target";       expect_status_2 "no target" sample
expected="--rho";          expect_status_2 "rho out of range" sample --target gaussian --rho 1.5
expected="--dim";          expect_status_2 "funnel too small" sample --target funnel --dim 1
expected="--data";         expect_status_2 "mlp without data" sample --model mlp
expected="$work/missing";  expect_status_2 "missing data directory" sample --model mlp --data "$work/missing"
expected="--data";         expect_status_2 "logreg without data" sample --model logreg
expected="$work/no-idx";   expect_status_2 "missing logreg directory" sample --model logreg --data "$work/no-idx"
expected="--subset";       expect_status_2 "negative subset" sample --model logreg --data "$2/tests/data/idx/tiny" --subset -1
expected="--subset";       expect_status_2 "subset without logreg" sample --model mlp --data "$2/data/concrete" --subset 10
expected="exceeds the 4 training images"; expect_status_2 "subset beyond the data" sample --model logreg --data "$2/tests/data/idx/tiny" --subset 5
if [[ ! -d /usr/share/datasets/fashion-mnist ]]; then
  expected="apt-get install dataset-fashion-mnist"; expect_status_2 "fashion-mnist not installed" sample --model logreg --data fashion-mnist
fi
expected="--target-accept"; expect_status_2 "target accept above 1" sample --target funnel --target-accept 1.5
expected="--persistent";   expect_status_2 "persistent line sampler" sample --target funnel --sampler line-fmala --persistent
expected="--persistent";   expect_status_2 "persistent and aligned" sample --target funnel --sampler fmala --persistent --aligned
expected="--curvature-tangents"; expect_status_2 "curvature tangents without a PC sampler" sample --target funnel --sampler fmala,mala --curvature-tangents 4
expected="--curvature-tangents"; expect_status_2 "too many curvature tangents" sample --target funnel --sampler pc-fmala --curvature-tangents 65
expected="cuda";           expect_status_2 "cuda without a device" sample --target funnel --backend cuda --draws 10 --warmup 0
# A model that the CUDA back end cannot evaluate is rejected before any device
# is looked for ("not supported on the CUDA back end"). A build without CUDA
# reports that it has no CUDA back end. The message for a missing device
# names neither.
expected="CUDA back end";  expect_status_2 "cuda with an activation after pooling" sample --model cnn --layers conv:4,avgpool,relu,flatten,dense:10 --data random:8x8x1 --backend cuda --draws 2 --warmup 0

expected="--noise-sd";     expect_status_2 "negative noise sd" sample --model mlp --data "$2/data/concrete" --noise-sd -1
expected="--seed";         expect_status_2 "negative seed" sample --target funnel --seed -1
expected="--seed";         expect_status_2 "seed above 2^64" sample --target funnel --seed 18446744073709551616
expected="--threads";      expect_status_2 "negative threads" sample --target funnel --threads -1
expected="--sampler";      expect_status_2 "empty sampler name" sample --target funnel --sampler fmala,,mala
expected="--sampler";      expect_status_2 "duplicate sampler" sample --target funnel --sampler fmala,fmala
expected="--scales";       expect_status_2 "negative scale" sample --target gaussian --dim 2 --scales 1,-1
expected="--scales";       expect_status_2 "scales with rho" sample --target gaussian --dim 2 --scales 1,2 --rho 0.5
expected="--target-accept"; expect_status_2 "target accept zero" sample --target funnel --target-accept 0
expected="GiB";            expect_status_2 "draws beyond memory" sample --target gaussian --dim 1000 --chains 64 --draws 10000000
expected="cuda";           expect_status_2 "cuda creates no output" sample --target funnel --backend cuda --out "$work/cuda-out"
if [[ -e "$work/cuda-out" ]]; then
  echo "FAIL --backend cuda created the output directory before failing"; failures=$((failures + 1))
fi

# Network models, presets and the memory limit.
tiny="$2/tests/data/idx/tiny"
expected="--hidden";       expect_status_2 "preset fixes the architecture" sample --preset paper-regression --data "$2/data/agw1d/data.csv" --hidden 10
expected="--model mlp";    expect_status_2 "preset of another model" sample --preset paper-regression --model logreg --data "$tiny"
expected="--preset";       expect_status_2 "unknown preset" sample --preset paper-vit --data "$tiny"
expected="--layers";       expect_status_2 "cnn without layers" sample --model cnn --data "$tiny"
expected="'conv:4:s3'";    expect_status_2 "bad stride" sample --model cnn --data "$tiny" --layers conv:4:s3,flatten,dense:10
expected="End the layer list with dense:10"; expect_status_2 "wrong number of outputs" sample --model cnn --data "$tiny" --layers conv:4,flatten,dense:3
expected="layer 2 (conv:2:k9:valid)"; expect_status_2 "window beyond the image" sample --model cnn --data random:8x8x1 --layers maxpool,conv:2:k9:valid,dense:10
expected="--layers";       expect_status_2 "layers without cnn" sample --model logreg --data "$tiny" --layers dense:10
expected="--split-index";  expect_status_2 "split files with a target" sample --target funnel --split-index 0
expected="--layers";       expect_status_2 "layers with a target" sample --target gaussian --layers dense:2
expected="--split-index";  expect_status_2 "split files with logreg" sample --model logreg --data "$tiny" --split-index 0
expected="--split-index";  expect_status_2 "split files and a split seed" sample --model mlp --data "$2/data/concrete" --split-index 0 --split-seed 3
expected="split 0 not found"; expect_status_2 "missing split files" sample --model mlp --data "$2/data/concrete" --split-index 0
expected="--test-subset";  expect_status_2 "test subset without images" sample --model mlp --data "$2/data/concrete" --test-subset 5
expected="random:HxWxC";   expect_status_2 "malformed random images" sample --model cnn --data random:32x32 --layers dense:10
expected="--max-memory";   expect_status_2 "memory limit" sample --preset paper-cifar-cnn --data random:32x32x3 --chains 64 --max-memory 2G
expected="model workspace"; expect_status_2 "memory estimate parts" sample --preset paper-cifar-cnn --data random:32x32x3 --chains 64 --max-memory 2G
expected="--max-memory";   expect_status_2 "malformed memory limit" sample --target funnel --max-memory lots
expected="--max-memory";   expect_status_2 "memory limit in unknown unit" sample --target funnel --max-memory 3X

expected="28x28x1";        expect_status_2 "preset on other image shapes" sample --preset paper-mnist-cnn --data random:32x32x3
expected="1 input feature"; expect_status_2 "regression preset on other data" sample --preset paper-regression --data "$2/data/concrete"
expected="--dim";          expect_status_2 "target option with a model" sample --model cnn --data "$tiny" --layers dense:10 --dim 5
expected="--hidden";       expect_status_2 "mlp option with cnn" sample --model cnn --data "$tiny" --layers dense:10 --hidden 5
expected="--split-seed";   expect_status_2 "split seed with IDX data" sample --model logreg --data "$tiny" --split-seed 4
expected="exceeds the 3 test images"; expect_status_2 "test subset beyond the data" sample --model logreg --data "$tiny" --test-subset 4
expected="--tile";         expect_status_2 "zero tile" sample --model logreg --data "$tiny" --tile 0
expected="--ece-bins";     expect_status_2 "too many bins" sample --model logreg --data "$tiny" --ece-bins 1000000000
expected="window twice";   expect_status_2 "repeated conv option" sample --model cnn --data "$tiny" --layers conv:2:k3:k5,flatten,dense:10
expected="1 to 65535";     expect_status_2 "huge random images" sample --model cnn --data random:99999999999x1x1 --layers dense:10
expected="the run may use"; expect_status_2 "random images beyond memory" sample --model cnn --data random:300x300x3 --layers dense:10 --max-memory 100M
expected="below one byte"; expect_status_2 "zero memory limit" sample --target funnel --max-memory 0
expected="--max-memory";   expect_status_2 "hexadecimal memory limit" sample --target funnel --max-memory 0x10
expected="above 0";        expect_status_2 "zero initial step" sample --target funnel --initial-step 0
expected="'abc' is not a whole number"; expect_status_2 "word for chains" sample --target funnel --chains abc
expected="given 2 times";  expect_status_2 "chains twice" sample --target funnel --chains 4 --chains 8
expected="separated by commas"; expect_status_2 "sampler twice" sample --target funnel --sampler mala --sampler rwmh
expected="--out: is empty"; expect_status_2 "empty output directory" sample --target funnel --out ""
expected="unknown command 'bogus'"; expect_status_2 "unknown command" bogus
expected="fmala --help";   expect_status_2 "no command" --threads 2
expected="fmala resume --help"; expect_status_2 "unknown flag of resume" resume "$work/nowhere" -q

# A malformed data file names the file and the line.
printf '1 2 3\n4 5\n' > "$work/ragged.txt"
expected="ragged.txt";     expect_status_2 "ragged table" sample --model mlp --data "$work/ragged.txt"
# A NUL byte in a field is escaped, so the message keeps its fix.
printf '1 2 ab\0cd\n3 4 5\n' > "$work/nul.txt"
expected='ab\\x00cd'"' is not a number. Whitespace tables"; expect_status_2 "NUL byte in a table" sample --model mlp --data "$work/nul.txt"

# Bad input after a finished run leaves that run's files as they were.
mkdir -p "$work/run"
echo '{"kept": true}' > "$work/run/summary.json"
expected="--thin";         expect_status_2 "bad thin keeps old output" sample --target funnel --thin 0 --out "$work/run"
if ! grep -q kept "$work/run/summary.json"; then
  echo "FAIL earlier summary.json was overwritten"; failures=$((failures + 1))
fi

# A new run in the directory of a finished one warns that it replaces it.
small_run=(sample --target gaussian --dim 2 --chains 2 --warmup 5 --draws 5 --sampler rwmh --out "$work/again")
if "$fmala" "${small_run[@]}" -q 2> "$work/stderr" && "$fmala" "${small_run[@]}" -q 2> "$work/stderr" &&
    grep -q "contained a finished run" "$work/stderr" && grep -q '"earlier_run"' "$work/again/log.jsonl"; then
  echo "ok   reused output directory warns"
else
  echo "FAIL reused output directory: no earlier_run warning"; cat "$work/stderr"; failures=$((failures + 1))
fi

# Arguments are bytes: a path that is not UTF-8 still gets a valid summary.json.
odd_dir="$work/odd"$'\xff'"dir"
if "$fmala" sample --target gaussian --dim 2 --chains 2 --warmup 5 --draws 5 --sampler rwmh -q \
    --out "$odd_dir" 2> "$work/stderr" && [[ -s "$odd_dir/summary.json" ]]; then
  echo "ok   non-UTF-8 output path"
else
  echo "FAIL non-UTF-8 output path"; cat "$work/stderr"; failures=$((failures + 1))
fi

echo "$failures failures"
[[ $failures -eq 0 ]]
