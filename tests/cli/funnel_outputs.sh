#!/usr/bin/env bash
# The funnel run writes summary.json with kl_v and every documented field, and
# draws-<sampler>.npy of shape (chains, draws, D).
set -euo pipefail
fmala=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$fmala" sample --target funnel --dim 11 --sampler pc-line-fmala,mala --chains 128 --warmup 200 \
  --draws 300 --thin 2 --seed 5 --out "$work/f" > "$work/stdout"
cat "$work/stdout"
grep -q "pc-line-fmala" "$work/stdout"

python3 - "$work/f" <<'PY'
import json, struct, sys, os
out = sys.argv[1]
doc = json.load(open(os.path.join(out, "summary.json")))
names = [s["sampler"] for s in doc["samplers"]]
assert names == ["pc-line-fmala", "mala"], names
required = ["settings", "acceptance_rate", "accept_prob", "step_size", "seconds_warmup",
            "seconds_sampling", "peak_memory_bytes", "nonfinite_rejections",
            "curvature_floor_hits", "rhat_max", "ess_bulk_min", "ess_tail_min", "metrics",
            "parameters"]
for s in doc["samplers"]:
    for key in required:
        assert key in s, (s["sampler"], key)
    assert s["settings"]["chains"] == 128 and s["settings"]["draws"] == 300
    assert s["settings"]["thin"] == 2 and s["settings"]["seed"] == 5
    kl = s["metrics"]["kl_v"]
    assert kl is not None and 0.0 <= kl < 5.0, kl
    params = s["parameters"]
    assert len(params) == 11 and params[0]["name"] == "v", params[0]
    for p in params:
        for key in ["mean", "sd", "mcse", "rhat", "ess_bulk", "ess_tail"]:
            assert key in p
    assert 0.0 < s["acceptance_rate"] <= 1.0
    # NPY header: magic, version 1.0, header length, dict with shape.
    path = os.path.join(out, "draws-%s.npy" % s["sampler"])
    raw = open(path, "rb").read()
    assert raw[:6] == b"\x93NUMPY", path
    hlen = struct.unpack("<H", raw[8:10])[0]
    header = raw[10:10 + hlen].decode("latin1")
    assert "'descr': '<f8'" in header and "'shape': (128, 300, 11)" in header, header
    assert len(raw) == 10 + hlen + 128 * 300 * 11 * 8
print("summary.json and draw files are complete")
PY
