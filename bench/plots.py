#!/usr/bin/env python3
"""Plots of docs/experiments.md from the CSV files in docs/data.

  docs/img/funnel-kl-vs-step.png   mean KL of the v-marginal over seeds versus
                                   the step size, one panel per funnel dimension
  docs/img/memory-vs-n.png         peak resident memory versus the number of
                                   images N, with the linear fit of untiled MALA
  docs/img/memory-vs-depth.png     peak resident memory versus conv depth

Needs matplotlib (for example in a virtual environment:
python3 -m venv /tmp/plots && /tmp/plots/bin/pip install matplotlib).
Usage: bench/plots.py [--data docs/data] [--out docs/img]
"""

import argparse
import collections
import csv
import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def funnel(rows, out):
    by_dim = collections.defaultdict(lambda: collections.defaultdict(list))
    for r in rows:
        kl = float(r["kl"])
        by_dim[int(r["dim"])][r["sampler"]].append((float(r["step"]), kl))
    if not by_dim:
        return
    fig, axes = plt.subplots(1, len(by_dim), figsize=(5 * len(by_dim), 4), squeeze=False)
    for ax, dim in zip(axes[0], sorted(by_dim)):
        for sampler, points in sorted(by_dim[dim].items()):
            steps = sorted({s for s, _ in points})
            means = []
            for s in steps:
                values = [k for t, k in points if t == s]
                finite = [k for k in values if math.isfinite(k)]
                means.append(sum(finite) / len(finite) if len(finite) == len(values) else math.nan)
            ax.plot(steps, means, label=sampler, linewidth=1.2)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("step size η")
        ax.set_ylabel("KL of v, mean over seeds")
        ax.set_title(f"funnel, D = {dim}")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "funnel-kl-vs-step.png"), dpi=120)


def memory(rows, out):
    def series(sweep):
        data = collections.defaultdict(list)
        for r in rows:
            if r["sweep"] == sweep and not r["error"]:
                data[r["label"]].append((int(r["x"]), float(r["peak_mib"])))
        return {k: sorted(v) for k, v in data.items()}

    n = series("n")
    if n:
        fig, ax = plt.subplots(figsize=(6, 4))
        for label, points in sorted(n.items()):
            ax.plot([x for x, _ in points], [y for _, y in points], "o-", label=label)
        untiled = n.get("mala untiled", [])
        if len(untiled) >= 2:
            xs = [x for x, _ in untiled]
            ys = [y for _, y in untiled]
            mean_x = sum(xs) / len(xs)
            mean_y = sum(ys) / len(ys)
            slope = sum((x - mean_x) * (y - mean_y) for x, y in untiled) / sum(
                (x - mean_x) ** 2 for x in xs)
            intercept = mean_y - slope * mean_x
            fit_x = [0, max(xs)]
            ax.plot(fit_x, [intercept + slope * x for x in fit_x], "k:",
                    label=f"fit {slope:.2f} MiB/image + {intercept:.0f} MiB")
        ax.set_xlabel("training images N (CIFAR-size CNN)")
        ax.set_ylabel("peak resident memory (MiB)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(os.path.join(out, "memory-vs-n.png"), dpi=120)

    depth = series("depth")
    if depth:
        fig, ax = plt.subplots(figsize=(6, 4))
        for label, points in sorted(depth.items()):
            ax.plot([x for x, _ in points], [y for _, y in points], "o-", label=label)
        ax.set_xlabel("conv layers (32 filters, 32x32 images, tile 32)")
        ax.set_ylabel("peak resident memory (MiB)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(os.path.join(out, "memory-vs-depth.png"), dpi=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="docs/data")
    parser.add_argument("--out", default="docs/img")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    funnel(read(os.path.join(args.data, "funnel-grid-11.csv")) +
           read(os.path.join(args.data, "funnel-grid-51-101.csv")), args.out)
    memory(read(os.path.join(args.data, "memory.csv")), args.out)


if __name__ == "__main__":
    main()
