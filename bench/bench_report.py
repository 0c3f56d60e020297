#!/usr/bin/env python3
"""Tables and plots of docs/benchmarks.md from one fmala-bench JSON file.

Prints Markdown tables:
  - jet kernel GFLOP/s against DGEMM and SGEMM of the same shape (one thread);
  - funnel chain-steps per second against the number of chains, and the
    ratio of 16,384 chains to 1,024 chains;
  - the networks: seconds per transition of each sampler and its ratio to MALA.
Writes docs/img/bench-chains.png (funnel chain-steps per second against
chains, one panel per D) and docs/img/bench-mlp-rows.png (the MLP's time per
transition against the training rows N; bench-logreg-rows.png and
bench-cnn-rows.png beside it when those sweeps are in the JSON) unless
--no-plot is given.

Needs matplotlib for the plot (for example in a virtual environment:
python3 -m venv /tmp/plots && /tmp/plots/bin/pip install matplotlib).
Usage: bench/bench_report.py BENCH_JSON [--png docs/img/bench-chains.png]
       [--rows-png docs/img/bench-mlp-rows.png] [--no-plot]
"""

import argparse
import collections
import json
import re

SAMPLERS = ["rwmh", "mala", "fmala", "fmala_persistent", "line_fmala", "pc_fmala",
            "pc_line_fmala", "line_hmc"]
NAME = re.compile(r"BM_(\w+)<(?:SamplerKind::)?(\w+)(, true)?>/(.*)")


def parse(path):
    with open(path) as f:
        doc = json.load(f)
    rows = []
    for b in doc["benchmarks"]:
        if b.get("run_type") == "aggregate":
            continue
        m = NAME.match(b["name"])
        if not m:
            continue
        args = dict(part.split(":") for part in m.group(4).split("/") if ":" in part)
        kind = m.group(2) + ("_persistent" if m.group(3) else "")
        rows.append({"bench": m.group(1), "kind": kind,
                     "args": {k: int(v) for k, v in args.items()}, "b": b})
    return doc.get("context", {}), rows


def kernel_table(rows):
    rate = {}
    for r in rows:
        if r["bench"] in ("DenseJet", "Gemm"):
            a = r["args"]
            rate[(r["bench"], r["kind"], a["rows"], a["in"], a["out"])] = r["b"]["flops"] / 1e9
    shapes = sorted({k[2:] for k in rate}, key=lambda s: (s[1], s[0]))
    if not shapes:
        return
    print("| rows × in × out | jet order 1 | jet order 2 | DGEMM | SGEMM | "
          "order 2 / DGEMM | order 2 / SGEMM |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for s in shapes:
        j1 = rate.get(("DenseJet", "1") + s)
        j2 = rate.get(("DenseJet", "2") + s)
        dg = rate.get(("Gemm", "double") + s)
        sg = rate.get(("Gemm", "float") + s)
        if None in (j1, j2, dg, sg):
            continue
        print(f"| {s[0]} × {s[1]} × {s[2]} | {j1:.1f} | {j2:.1f} | {dg:.1f} | {sg:.1f} | "
              f"{j2 / dg:.2f} | {j2 / sg:.2f} |")


def funnel_rates(rows):
    rates = collections.defaultdict(dict)
    for r in rows:
        if r["bench"] == "Funnel":
            a = r["args"]
            rates[(a["dim"], r["kind"])][a["chains"]] = r["b"]["chain_steps_per_s"]
    return rates


def chains_table(rows):
    rates = funnel_rates(rows)
    if not rates:
        return
    chain_counts = sorted({c for v in rates.values() for c in v})
    print("| D | sampler | " + " | ".join(f"{c} chains" for c in chain_counts) +
          " | 16,384 / 1,024 |")
    print("|---|---|" + "---:|" * (len(chain_counts) + 1))
    for (dim, kind) in sorted(rates, key=lambda k: (k[0], SAMPLERS.index(k[1]))):
        v = rates[(dim, kind)]
        cells = " | ".join(f"{v[c] / 1e6:.3g}" if c in v else "" for c in chain_counts)
        ratio = f"{v[16384] / v[1024]:.2f}" if 16384 in v and 1024 in v else ""
        print(f"| {dim} | {kind.replace('_', '-')} | {cells} | {ratio} |")


def network_table(rows):
    per_step = collections.defaultdict(dict)
    for r in rows:
        if r["bench"] in ("Mlp", "Logreg", "Cnn"):
            a = r["args"]
            key = (r["bench"], a["chains"], a["rows"])
            # Seconds per transition of all chains: chains / chain-steps per second.
            per_step[key][r["kind"]] = a["chains"] / r["b"]["chain_steps_per_s"]
    if not per_step:
        return
    print("| model | chains | rows N | " + " | ".join(k.replace("_", "-") for k in SAMPLERS) + " |")
    print("|---|---:|---:|" + "---:|" * len(SAMPLERS))
    for key in sorted(per_step):
        v = per_step[key]
        mala = v.get("mala")
        cells = []
        for k in SAMPLERS:
            if k not in v:
                cells.append("")
            elif mala:
                cells.append(f"{v[k] * 1e3:.3g} ms ({v[k] / mala:.2f})")
            else:
                cells.append(f"{v[k] * 1e3:.3g} ms")
        print(f"| {key[0].lower()} | {key[1]} | {key[2]} | " + " | ".join(cells) + " |")


def plot(rows, png):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rates = funnel_rates(rows)
    dims = sorted({d for d, _ in rates})
    if not dims:
        return
    fig, axes = plt.subplots(1, len(dims), figsize=(4.2 * len(dims), 3.8), squeeze=False)
    for ax, dim in zip(axes[0], dims):
        for kind in SAMPLERS:
            v = rates.get((dim, kind))
            if not v:
                continue
            chains = sorted(v)
            ax.plot(chains, [v[c] for c in chains], "o-", label=kind.replace("_", "-"))
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("chains")
        ax.set_ylabel("chain-steps per second")
        ax.set_title(f"funnel, D = {dim}")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    print(f"\nwrote {png}")


TITLES = {
    "Mlp": "Paper regression MLP (40,701 parameters)",
    "Logreg": "Logistic regression (7,850 parameters)",
    "Cnn": "MNIST-size CNN (824,458 parameters)",
}


def plot_rows(rows, png, bench="Mlp"):
    """Milliseconds per transition against N for one network benchmark."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    per_step = collections.defaultdict(dict)
    chains = set()
    for r in rows:
        if r["bench"] == bench:
            a = r["args"]
            per_step[r["kind"]][a["rows"]] = a["chains"] / r["b"]["chain_steps_per_s"]
            chains.add(a["chains"])
    if not per_step or len({n for v in per_step.values() for n in v}) < 3:
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    for kind in SAMPLERS:
        v = per_step.get(kind)
        if v:
            n = sorted(v)
            ax.plot(n, [v[x] * 1e3 for x in n], "o-", label=kind.replace("_", "-"))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training rows N")
    ax.set_ylabel(f"ms per transition, {', '.join(str(c) for c in sorted(chains))} chains")
    ax.set_title(TITLES.get(bench, bench))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    print(f"wrote {png}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json")
    parser.add_argument("--png", default="docs/img/bench-chains.png")
    parser.add_argument("--rows-png", default="docs/img/bench-mlp-rows.png")
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args()
    context, rows = parse(args.json)
    print(f"host {context.get('host_name', '?')}, {context.get('num_cpus', '?')} CPUs, "
          f"{context.get('date', '?')}\n")
    kernel_table(rows)
    print()
    chains_table(rows)
    print()
    network_table(rows)
    if not args.no_plot:
        plot(rows, args.png)
        plot_rows(rows, args.rows_png)
        # The other networks' sweeps, beside the MLP's plot.
        for bench in ("Logreg", "Cnn"):
            plot_rows(rows, args.rows_png.replace("mlp", bench.lower()), bench)


if __name__ == "__main__":
    main()
