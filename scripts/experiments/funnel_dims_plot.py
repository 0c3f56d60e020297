#!/usr/bin/env python3
"""Plots the runs of scripts/experiments/funnel-dims.sh against the dimension D.

Left: KL(N(0, 3²) ‖ N(m, s²)) of the v draws, log scale. Right: the smallest
bulk ESS per second of sampling, log scale. One colour per sampler, dashed for
--aligned, dotted for --persistent and dash-dotted for other options, named
as in funnel_dims_table.py.

Needs matplotlib (for example in a virtual environment:
python3 -m venv /tmp/plots && /tmp/plots/bin/pip install matplotlib).
Usage: funnel_dims_plot.py [DIR] [PNG]
(defaults: runs/experiments/funnel-dims and docs/img/research-funnel-dims.png)
"""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import funnel_dims_table  # noqa: E402

try:
    import matplotlib
except ImportError:
    sys.exit("funnel_dims_plot.py: matplotlib is not installed; install it in a virtual environment "
             "(python3 -m venv /tmp/plots && /tmp/plots/bin/pip install matplotlib) and run this "
             "script with /tmp/plots/bin/python")

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def line_style(name):
    """Colour of the base sampler, and a dash pattern and marker for each variant."""
    words = name.split()
    rank = funnel_dims_table.row_order_key(name)[1]
    colour = plt.get_cmap("tab10")(rank % 10)
    variant = " ".join(words[1:])
    if not variant:
        return colour, "-", "o"
    if variant == "--aligned":
        return colour, "--", "s"
    if variant == "--persistent":
        return colour, ":", "^"
    return colour, "-.", "D"


def main():
    root = pathlib.Path(__file__).resolve().parents[2]
    directory = sys.argv[1] if len(sys.argv) > 1 else root / "runs/experiments/funnel-dims"
    png = sys.argv[2] if len(sys.argv) > 2 else root / "docs/img/research-funnel-dims.png"
    lines = {}
    for dim, name, s, _ in funnel_dims_table.rows(directory):
        lines.setdefault(name, []).append((dim, s["metrics"].get("kl_v"), s["ess_bulk_per_second"]))
    if not lines:
        sys.exit("funnel_dims_plot.py: no d-<D>/<label>/summary.json under %s" % directory)

    fig, (ax_kl, ax_ess) = plt.subplots(1, 2, figsize=(12, 4.8))
    for name in sorted(lines, key=funnel_dims_table.row_order_key):
        points = sorted(lines[name])
        colour, dashes, marker = line_style(name)
        dims = [p[0] for p in points]
        ax_kl.plot(dims, [p[1] for p in points], dashes, color=colour, marker=marker, label=name)
        ax_ess.plot(dims, [p[2] for p in points], dashes, color=colour, marker=marker, label=name)
    for ax in (ax_kl, ax_ess):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("dimension D (v and D − 1 coordinates x)")
        ax.grid(True, which="both", alpha=0.3)
    ax_kl.set_ylabel("KL of the v draws")
    ax_ess.set_ylabel("smallest bulk ESS per second of sampling")
    ax_kl.set_title("KL(N(0, 3²) ‖ N(m, s²)) of v")
    ax_ess.set_title("ESS per second")
    ax_ess.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    print("wrote %s" % png)


if __name__ == "__main__":
    main()
