#!/usr/bin/env python3
"""Plots the runs of scripts/experiments/curvature.sh against M, the number of curvature tangents.

Left: pc-fmala's acceptance rate at the fixed step 1e-3, the ceiling that
forward and reverse curvatures from different tangents leave. Right: the
smallest bulk ESS per second of sampling of pc-fmala and pc-line-fmala with
adapted step sizes. One colour per target, log scale in M.

Needs matplotlib (for example in a virtual environment:
python3 -m venv /tmp/plots && /tmp/plots/bin/pip install matplotlib).
Usage: curvature_plot.py [DIR] [PNG]
(defaults: runs/experiments/curvature and docs/img/research-curvature.png)
"""
import json
import pathlib
import sys

try:
    import matplotlib
except ImportError:
    sys.exit("curvature_plot.py: matplotlib is not installed; install it in a virtual environment "
             "(python3 -m venv /tmp/plots && /tmp/plots/bin/pip install matplotlib) and run this "
             "script with /tmp/plots/bin/python")

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TARGETS = {"funnel-11": "funnel, D = 11", "funnel-101": "funnel, D = 101",
           "ar1-100": "AR(1) ρ = 0.9, D = 100"}
TANGENTS = (1, 4, 16)


def sampler_entry(path, sampler):
    with open(path) as f:
        return next(s for s in json.load(f)["samplers"] if s["sampler"] == sampler)


def main():
    root = pathlib.Path(__file__).resolve().parents[2]
    directory = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else root / "runs/experiments/curvature"
    png = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else root / "docs/img/research-curvature.png"
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for colour, (target, label) in zip(("C0", "C1", "C2"), TARGETS.items()):
        ceiling = [sampler_entry(directory / target / f"ceiling-m-{m}" / "summary.json", "pc-fmala")
                   ["acceptance_rate"] for m in TANGENTS]
        left.plot(TANGENTS, ceiling, "o-", color=colour, label=label)
        for sampler, style in (("pc-fmala", "o-"), ("pc-line-fmala", "s--")):
            ess = [sampler_entry(directory / target / f"m-{m}" / "summary.json", sampler)
                   ["ess_bulk_per_second"] for m in TANGENTS]
            right.plot(TANGENTS, ess, style, color=colour, label=f"{sampler}, {label}")
    left.set_xscale("log", base=2)
    left.set_xticks(TANGENTS, [str(m) for m in TANGENTS])
    left.set_xlabel("curvature tangents M")
    left.set_ylabel("pc-fmala acceptance rate at step 1e-3")
    left.set_title("Acceptance ceiling")
    left.legend(fontsize=8)
    right.set_xscale("log", base=2)
    right.set_yscale("log")
    right.set_xticks(TANGENTS, [str(m) for m in TANGENTS])
    right.set_xlabel("curvature tangents M")
    right.set_ylabel("bulk ESS (min) per second of sampling")
    right.set_title("Cost: adapted step, 256 chains")
    right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    print(f"wrote {png}")


if __name__ == "__main__":
    main()
