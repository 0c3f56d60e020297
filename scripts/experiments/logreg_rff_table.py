"""Print the Markdown table of scripts/experiments/logreg-rff.sh and draw its plot.

Reads DIR/<sampler>/summary.json for every sampler that finished. The
columns are the warmup transitions, the acceptance rate, the adapted step size, and the test
accuracy, NLL and ECE from the last 100 draws of every chain. Then come the
smallest bulk ESS and the largest R-hat over the log-density and the
monitored coordinates, the seconds per transition, and that bulk ESS per
second of sampling after warmup. A last row quotes MALA on the raw pixels
(7,850 parameters, the first 10,000 training images, 4 chains, 3,000
transitions) from the table of docs/experiments.md, section "Bayesian
logistic regression on Fashion-MNIST". That run was not repeated here, and
it ran alone on both cores, so its seconds per transition are not
comparable with the one-thread runs.

The plot (--plot PATH, needs matplotlib) has four panels, one bar per
sampler: test accuracy and test NLL with the raw-pixel MALA as a dashed
line, seconds per transition, and the largest R-hat with 1.01 as a dashed
line. A sampler whose warmup differs from the first run's has it in its label.
Usage: logreg_rff_table.py DIR [--plot PATH]
"""
import argparse
import json
import math
import pathlib

SAMPLER_ORDER = ["mala", "fmala", "line-fmala", "pc-fmala", "pc-fmala-aligned", "pc-line-fmala", "line-hmc"]

# MALA on standardised raw pixels, first 10,000 training images, 2,500 warmup
# transitions and 500 draws, as docs/experiments.md reports it (without ESS).
RAW_PIXEL_MALA = {
    "label": "mala, raw pixels (7,850 parameters)",
    "warmup": 2500,
    "acceptance_rate": 0.584,
    "step_size": 0.00294,
    "accuracy": 0.8254,
    "nll": 0.4978,
    "ece": 0.0243,
    "rhat_max": 4.22,
    "seconds_per_step": 0.0656,
}


def read_runs(directory):
    runs = []
    for sampler in SAMPLER_ORDER:
        path = pathlib.Path(directory) / sampler / "summary.json"
        if not path.exists():
            continue
        with open(path) as f:
            doc = json.load(f)
        for summary in doc["samplers"]:
            # A run directory is named after the sampler and its options: pc-fmala-aligned.
            if summary["settings"].get("aligned"):
                summary["sampler"] += " --aligned"
            if summary["sampler"].replace(" --", "-") == sampler:
                runs.append(summary)
    return runs


def number(value, form):
    """Format value with form, or '–' when the summary stored null (not finite)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return form % value


def print_table(runs):
    print("| sampler | warmup | accept | step | test accuracy | test NLL | ECE | bulk ESS min "
          "| R-hat max | s/step | bulk ESS/s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for run in runs:
        metrics = run["metrics"]
        print("| %s | %d | %.3f | %.3g | %.4f | %.4f | %.4f | %s | %s | %.3f | %s |"
              % (run["sampler"], run["settings"]["warmup"], run["acceptance_rate"], run["step_size"], metrics["accuracy"],
                 metrics["nll"], metrics["ece"], number(run["ess_bulk_min"], "%.1f"),
                 number(run["rhat_max"], "%.2f"), run["seconds_per_step"],
                 number(run["ess_bulk_per_second"], "%.3f")))
    raw = RAW_PIXEL_MALA
    print("| %s | %d | %.3f | %.3g | %.4f | %.4f | %.4f | – | %.2f | %.4f | – |"
          % (raw["label"], raw["warmup"], raw["acceptance_rate"], raw["step_size"], raw["accuracy"], raw["nll"],
             raw["ece"], raw["rhat_max"], raw["seconds_per_step"]))


def plot(runs, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    settings = runs[0]["settings"]
    names = []
    for run in runs:
        warmup = run["settings"]["warmup"]
        if warmup == settings["warmup"]:
            names.append(run["sampler"])
        else:
            names.append("%s\n(%d warmup)" % (run["sampler"], warmup))
    positions = range(len(runs))
    panels = [
        ("test accuracy", [run["metrics"]["accuracy"] for run in runs], RAW_PIXEL_MALA["accuracy"], False),
        ("test NLL (nats per image)", [run["metrics"]["nll"] for run in runs], RAW_PIXEL_MALA["nll"], False),
        ("seconds per transition (shared machine)", [run["seconds_per_step"] for run in runs], None, False),
        ("R-hat max (log scale)", [run["rhat_max"] or 0.0 for run in runs], 1.01, True),
    ]
    figure, axes = plt.subplots(2, 2, figsize=(10, 7))
    for axis, (label, values, reference, log_scale) in zip(axes.flat, panels):
        axis.bar(positions, values, color="tab:blue")
        if reference is not None:
            reference_label = "MALA on raw pixels (7,850 parameters)"
            if log_scale:
                reference_label = "R-hat 1.01, converged chains"
            axis.axhline(reference, color="tab:red", linestyle="--", label=reference_label)
            axis.legend(loc="lower right", fontsize=8)
        if log_scale:
            axis.set_yscale("log")
        if label == "test accuracy":
            low = min(values + [reference])
            axis.set_ylim(max(0.0, low - 0.1), min(1.0, max(values + [reference]) + 0.03))
        axis.set_xticks(list(positions))
        axis.set_xticklabels(names, rotation=30, ha="right")
        axis.set_xlabel("sampler")
        axis.set_ylabel(label)
        axis.grid(axis="y", alpha=0.3)
    figure.suptitle("Logistic regression, 10,000 parameters, random Fourier features of Fashion-MNIST\n"
                    "%d chains, %d warmup transitions, %d draws"
                    % (settings["chains"], settings["warmup"], settings["draws"]))
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    print("wrote %s" % path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("directory", help="output directory of logreg-rff.sh")
    parser.add_argument("--plot", help="PNG file of the plot (default: no plot)")
    args = parser.parse_args()
    runs = read_runs(args.directory)
    if not runs:
        raise SystemExit("%s: no <sampler>/summary.json found. Run scripts/experiments/logreg-rff.sh first"
                         % args.directory)
    print_table(runs)
    if args.plot:
        plot(runs, args.plot)


if __name__ == "__main__":
    main()
