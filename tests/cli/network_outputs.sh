#!/usr/bin/env bash
# Network models from the command line: the presets print the parameter counts
# of the reference study, a small CNN writes predictive metrics and draws of
# shape (chains, draws, D), and on Fashion-MNIST (when installed) it learns
# well above chance.
set -euo pipefail
fmala=$1
source_dir=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

expect_line() {
  local pattern=$1
  shift
  "$fmala" "$@" > "$work/stdout"
  if ! grep -q -- "$pattern" "$work/stdout"; then
    echo "FAIL: '$pattern' not in the output of: $*"; cat "$work/stdout"; exit 1
  fi
  echo "ok   $pattern"
}

one_step=(--chains 1 --warmup 0 --draws 1 --sampler fmala --no-draws)
expect_line "(824458 parameters" sample --preset paper-mnist-cnn --data random:28x28x1 --subset 1 "${one_step[@]}"
expect_line "(2395434 parameters" sample --preset paper-cifar-cnn --data random:32x32x3 --subset 1 "${one_step[@]}"
expect_line "(40701 parameters" sample --preset paper-regression --data "$source_dir/data/agw1d/data.csv" "${one_step[@]}"
expect_line "relu, fixed noise, tempered" sample --preset paper-regression --data "$source_dir/data/agw1d/data.csv" "${one_step[@]}"

# A CNN on the tiny IDX set (4 training images of 2 x 3 pixels, 10 classes).
"$fmala" sample --model cnn --data "$source_dir/tests/data/idx/tiny" --layers conv:4,relu,flatten,dense:10 \
  --sampler mala,fmala,pc-line-fmala --chains 4 --warmup 20 --draws 15 --predictive-draws 5 \
  --out "$work/tiny" > "$work/stdout"
cat "$work/stdout"
python3 - "$work/tiny" <<'PY'
import json, os, struct, sys
out = sys.argv[1]
doc = json.load(open(os.path.join(out, "summary.json")))
assert [s["sampler"] for s in doc["samplers"]] == ["mala", "fmala", "pc-line-fmala"]
# conv 3·3·1·4 + 4 = 40, dense 2·3·4·10 + 10 = 250.
assert "(290 parameters" in doc["model"], doc["model"]
for s in doc["samplers"]:
    m = s["metrics"]
    for key in ["accuracy", "nll", "ece", "brier", "train_accuracy"]:
        assert m.get(key) is not None, (s["sampler"], key)
    assert 0.0 <= m["accuracy"] <= 1.0, m
    assert 0.0 <= m["ece"] <= 1.0, m
    assert m["nll"] > 0, m
    with open(os.path.join(out, "draws-" + s["sampler"] + ".npy"), "rb") as f:
        magic = f.read(6)
        assert magic == b"\x93NUMPY", magic
        f.read(2)
        length = struct.unpack("<H", f.read(2))[0]
        header = f.read(length).decode()
        assert "'shape': (4, 15, 290)" in header, header
print("ok   tiny CNN summary and draws")
PY

# summary.json names only the draw files that were written.
"$fmala" sample --model cnn --data "$source_dir/tests/data/idx/tiny" --layers dense:10 --sampler mala \
  --chains 2 --warmup 5 --draws 5 --format netcdf -q --out "$work/nc"
python3 - "$work/nc" <<'PY'
import json, os, sys
s = json.load(open(os.path.join(sys.argv[1], "summary.json")))["samplers"][0]
assert "draws_file" not in s, s.get("draws_file")
assert s["draws_netcdf"] == "draws-mala.nc", s.get("draws_netcdf")
assert not os.path.exists(os.path.join(sys.argv[1], "draws-mala.npy"))
print("ok   draw file names")
PY

if [[ -d /usr/share/datasets/fashion-mnist ]]; then
  # 10 classes, so chance is 0.1; this small CNN reaches about 0.6 from 200
  # images. Below 0.3 means it did not learn.
  "$fmala" sample --model cnn --data fashion-mnist --layers conv:8:s2,relu,maxpool,flatten,dense:10 \
    --train-subset 200 --test-subset 500 --sampler mala,pc-line-fmala --chains 4 --warmup 150 \
    --draws 50 --predictive-draws 20 --no-draws --out "$work/fm" > "$work/stdout"
  cat "$work/stdout"
  python3 - "$work/fm" <<'PY'
import json, os, sys
doc = json.load(open(os.path.join(sys.argv[1], "summary.json")))
for s in doc["samplers"]:
    accuracy = s["metrics"]["accuracy"]
    assert accuracy > 0.3, (s["sampler"], accuracy)
    print("ok  ", s["sampler"], "test accuracy", accuracy)
PY
else
  echo "skip Fashion-MNIST run: /usr/share/datasets/fashion-mnist is not installed"
fi
