"""Prints the Markdown tables of scripts/experiments/funnel-dims.sh, one per dimension.

Usage:
  funnel_dims_table.py DIR          print the tables from DIR/d-<D>/<label>/
  funnel_dims_table.py --store-v RUN
                                    write RUN/v.json with the mean and sd of v
                                    from RUN/draws-<sampler>.npy

Columns: the acceptance rate and the adapted step size. Then
KL(N(0, 3²) ‖ N(m, s²)) of the v draws of all chains (fmala's kl_v) and their
mean m and sd s, which are 0 and 3 under the target. Then the smallest bulk
and tail ESS over the log-density and the monitored coordinates, per 1,000
draws of all chains, and the largest R-hat. Last, the seconds per transition
(warmup and sampling) and the smallest bulk ESS per second of sampling.
A row is named by the words between --sampler and --chains of its command,
so "fmala --aligned" names FMALA with the aligned reverse tangent.
"""
import ast
import json
import math
import pathlib
import struct
import sys

SAMPLER_ORDER = ["rwmh", "mala", "fmala", "line-fmala", "pc-fmala", "pc-line-fmala", "line-hmc"]


def read_npy_column(path, column):
    """Return one column of the last axis of a C-ordered float64 .npy file as a list."""
    with open(path, "rb") as f:
        if f.read(6) != b"\x93NUMPY":
            raise ValueError("%s: not a .npy file" % path)
        major = f.read(2)[0]
        length_format = "<H" if major == 1 else "<I"
        (header_length,) = struct.unpack(length_format, f.read(struct.calcsize(length_format)))
        header = ast.literal_eval(f.read(header_length).decode("latin1"))
        if header["descr"] != "<f8" or header["fortran_order"]:
            raise ValueError("%s: expected C-ordered little-endian float64, got %s" % (path, header))
        data = f.read()
    if sys.byteorder != "little":
        raise ValueError("%s: reading .npy files needs a little-endian machine" % path)
    values = memoryview(data).cast("d")
    width = header["shape"][-1]
    return list(values[column::width])


def store_v(run):
    """Write run/v.json with the count, mean and sd (ddof 1) of the v draws of all chains."""
    run = pathlib.Path(run)
    summary = json.load(open(run / "summary.json"))
    (sampler,) = summary["samplers"]
    column = sampler["stream"]["monitored_indices"].index(0)
    v = read_npy_column(run / ("draws-%s.npy" % sampler["sampler"]), column)
    mean = math.fsum(v) / len(v)
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in v) / (len(v) - 1))
    with open(run / "v.json", "w") as f:
        json.dump({"draws": len(v), "mean": mean, "sd": sd}, f)
        f.write("\n")


def funnel_kl(mean, sd):
    """Return KL(N(0, 3²) ‖ N(mean, sd²)) by the formula of fmala's kl_v."""
    return math.log(sd / 3.0) + (9.0 + mean * mean) / (2.0 * sd * sd) - 0.5


def row_name(command):
    words = command.split()
    if "--sampler" not in words or "--chains" not in words:
        return None
    return " ".join(words[words.index("--sampler") + 1:words.index("--chains")])


def rows(directory):
    for path in pathlib.Path(directory).glob("d-*/*/summary.json"):
        dim = int(path.parent.parent.name[2:])
        doc = json.load(open(path))
        (s,) = doc["samplers"]
        name = row_name(doc["command"]) or path.parent.name
        v_path = path.parent / "v.json"
        v = json.load(open(v_path)) if v_path.exists() else None
        yield dim, name, s, v


def row_order_key(name):
    words = name.split()
    rank = SAMPLER_ORDER.index(words[0]) if words[0] in SAMPLER_ORDER else len(SAMPLER_ORDER)
    return (len(words) > 1, rank, name)


def per_1000(ess, draws):
    return None if ess is None else 1000 * ess / draws


def format_cell(x, form):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else form % x


def print_table(dim, entries):
    settings = entries[0][1]["settings"]
    kept_draws = "%d draws" % settings["draws"]
    if settings["thin"] > 1:
        kept_draws += ", one every %d of %d transitions" % (settings["thin"], settings["thin"] * settings["draws"])
    print("**D = %d** (%d chains, %d warmup transitions, %s)"
          % (dim, settings["chains"], settings["warmup"], kept_draws))
    print()
    print("| sampler | accept | step | KL of v | v mean | v sd | ESS bulk min per 1,000 | "
          "ESS tail min per 1,000 | R-hat max | s/step | ESS bulk min/s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, s, v in sorted(entries, key=lambda entry: row_order_key(entry[0])):
        draws = s["settings"]["chains"] * s["settings"]["draws"]
        kl = s["metrics"].get("kl_v")
        if v is not None and kl is not None and not math.isclose(kl, funnel_kl(v["mean"], v["sd"]), rel_tol=1e-6):
            print("%s at D = %d: kl_v %g differs from the KL of v.json's mean and sd, %g"
                  % (name, dim, kl, funnel_kl(v["mean"], v["sd"])), file=sys.stderr)
        print("| %s | %.3f | %.3g | %s | %s | %s | %s | %s | %s | %.3g | %s |"
              % (name, s["acceptance_rate"], s["step_size"], format_cell(kl, "%.3g"),
                 format_cell(v and v["mean"], "%+.2f"), format_cell(v and v["sd"], "%.2f"),
                 format_cell(per_1000(s["ess_bulk_min"], draws), "%.1f"),
                 format_cell(per_1000(s["ess_tail_min"], draws), "%.1f"),
                 format_cell(s["rhat_max"], "%.3g"), s["seconds_per_step"],
                 format_cell(s["ess_bulk_per_second"], "%.3g")))
    print()


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--store-v":
        store_v(sys.argv[2])
        return
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        sys.exit("usage: funnel_dims_table.py DIR | --store-v RUN_DIR")
    by_dim = {}
    for dim, name, s, v in rows(sys.argv[1]):
        by_dim.setdefault(dim, []).append((name, s, v))
    if not by_dim:
        sys.exit("funnel_dims_table.py: no d-<D>/<label>/summary.json under %s; "
                 "run scripts/experiments/funnel-dims.sh first" % sys.argv[1])
    for dim in sorted(by_dim):
        print_table(dim, by_dim[dim])


if __name__ == "__main__":
    main()
