#!/usr/bin/env python3
"""Peak memory of forward and reverse samplers on the network classifier.

Runs `fmala sample` once per configuration, each in its own process with one
OpenMP thread, one chain, no warmup and one kept draw, and reads
`peak_memory_bytes` (the process's peak resident set size) and
`seconds_per_step` from summary.json. Three sweeps:

  n      the CIFAR-size CNN (--preset paper-cifar-cnn) on N random 32x32x3
         images: untiled MALA (one tile of all N images, as a full-batch
         backpropagation), tiled MALA and the forward samplers (tile 32)
  depth  stacks of L 3x3 conv layers with 32 filters on 64 random 32x32x3
         images, tile 32
  tile   the CIFAR-size CNN on 256 random images, tiles 8 to 256

Writes one CSV row per run to --csv and prints a Markdown table per sweep.
Standard library only; see bench/plot_memory.py for the plots.

Usage: bench/memory.py --fmala build/fmala --csv docs/memory.csv [--sweeps n,depth,tile]
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile

FORWARD = ["fmala", "line-fmala", "pc-line-fmala"]


def run(fmala, args, label):
    with tempfile.TemporaryDirectory() as out:
        command = [fmala, "sample", "--chains", "1", "--warmup", "0", "--draws", "1",
                   "--threads", "1", "--no-draws", "-q", "--out", out] + args
        env = dict(os.environ, OMP_WAIT_POLICY="passive", OMP_NUM_THREADS="1")
        result = subprocess.run(command, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            return {"label": label, "command": " ".join(command[1:]), "error":
                    result.stderr.strip()}
        doc = json.load(open(os.path.join(out, "summary.json")))
        s = doc["samplers"][0]
        return {"label": label, "command": " ".join(command[1:]), "dim": doc["dim"],
                "peak_mib": s["peak_memory_bytes"] / 2**20,
                "seconds_per_step": s["seconds_per_step"], "error": ""}


def sweep_n(fmala, sizes):
    rows = []
    for n in sizes:
        base = ["--preset", "paper-cifar-cnn", "--data", "random:32x32x3", "--train-subset", str(n)]
        configs = [("mala", str(n), "mala untiled"), ("mala", "32", "mala tile 32")]
        configs += [(s, "32", s + " tile 32") for s in FORWARD]
        for sampler, tile, label in configs:
            r = run(fmala, base + ["--sampler", sampler, "--tile", tile], label)
            r.update({"sweep": "n", "x": n, "sampler": sampler, "tile": tile})
            rows.append(r)
            print(f"n={n} {label}: {r.get('peak_mib', r['error'])}", file=sys.stderr, flush=True)
    return rows


def sweep_depth(fmala, depths):
    rows = []
    for depth in depths:
        layers = ",".join(["conv:32,relu"] * depth) + ",flatten,dense:10"
        base = ["--model", "cnn", "--layers", layers, "--data", "random:32x32x3",
                "--train-subset", "64", "--tile", "32"]
        for sampler in ["mala"] + FORWARD:
            r = run(fmala, base + ["--sampler", sampler], sampler + " tile 32")
            r.update({"sweep": "depth", "x": depth, "sampler": sampler, "tile": "32"})
            rows.append(r)
            print(f"depth={depth} {sampler}: {r.get('peak_mib', r['error'])}", file=sys.stderr,
                  flush=True)
    return rows


def sweep_tile(fmala, tiles):
    rows = []
    for tile in tiles:
        base = ["--preset", "paper-cifar-cnn", "--data", "random:32x32x3", "--train-subset", "256",
                "--tile", str(tile)]
        for sampler in ["mala", "pc-line-fmala"]:
            r = run(fmala, base + ["--sampler", sampler], sampler)
            r.update({"sweep": "tile", "x": tile, "sampler": sampler, "tile": str(tile)})
            rows.append(r)
            print(f"tile={tile} {sampler}: {r.get('peak_mib', r['error'])}", file=sys.stderr,
                  flush=True)
    return rows


def table(rows, sweep, x_name):
    labels = []
    for r in rows:
        if r["sweep"] == sweep and r["label"] not in labels:
            labels.append(r["label"])
    xs = sorted({r["x"] for r in rows if r["sweep"] == sweep})
    lines = [f"| {x_name} | " + " | ".join(labels) + " |",
             "|---|" + "---:|" * len(labels)]
    for x in xs:
        cells = []
        for label in labels:
            match = [r for r in rows if r["sweep"] == sweep and r["x"] == x and r["label"] == label]
            if not match or match[0]["error"]:
                cells.append("failed" if match else "")
            else:
                cells.append(f"{match[0]['peak_mib']:.0f} MiB, {match[0]['seconds_per_step']:.2f} s")
        lines.append(f"| {x} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fmala", required=True, help="path of the fmala program")
    parser.add_argument("--csv", required=True, help="CSV file to write")
    parser.add_argument("--sweeps", default="n,depth,tile")
    parser.add_argument("--sizes", default="64,128,256,512,1024",
                        help="image counts of the n sweep")
    args = parser.parse_args()
    sweeps = args.sweeps.split(",")
    rows = []
    if "n" in sweeps:
        rows += sweep_n(args.fmala, [int(v) for v in args.sizes.split(",")])
    if "depth" in sweeps:
        rows += sweep_depth(args.fmala, [2, 4, 8, 16])
    if "tile" in sweeps:
        rows += sweep_tile(args.fmala, [8, 32, 64, 256])
    fields = ["sweep", "x", "label", "sampler", "tile", "dim", "peak_mib", "seconds_per_step",
              "error", "command"]
    with open(args.csv, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    for sweep, x_name in [("n", "images N"), ("depth", "conv layers"), ("tile", "tile")]:
        if sweep in sweeps:
            print(table(rows, sweep, x_name))
            print()


if __name__ == "__main__":
    main()
