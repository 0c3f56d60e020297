"""A Bayesian neural network on Fashion-MNIST, sampled from Python.

Reads the Fashion-MNIST IDX files that the Debian package
dataset-fashion-mnist installs, passes them to fmala as NumPy arrays,
samples the posterior of a Bayesian neural network (784-32-10, ReLU) with
PC-Line-FMALA and MALA, and plots the posterior predictive's uncertainty: the entropy of
the predictive for correct and wrong test predictions, and the test images
the network is least sure about.

    pip install . matplotlib
    python examples/fashion_mnist_bnn.py --out runs/python-bnn

Writes OUT/uncertainty.png and prints the test metrics of each sampler.
"""

import argparse
import gzip
import os

import numpy as np

import fmala

DATA = "/usr/share/datasets/fashion-mnist"
CLASSES = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"]


def read_idx(name):
    """Reads an IDX file of unsigned bytes (gzip'd or plain) into a NumPy array."""
    path = os.path.join(DATA, name)
    if os.path.exists(path):
        with open(path, "rb") as f:
            data = f.read()
    else:
        with gzip.open(path + ".gz", "rb") as f:
            data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def entropy(p):
    return -np.sum(p * np.log(np.clip(p, 1e-300, None)), axis=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="runs/python-bnn", help="output directory")
    parser.add_argument("--train", type=int, default=2000, help="training images used")
    parser.add_argument("--test", type=int, default=2000, help="test images scored")
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--draws", type=int, default=100)
    args = parser.parse_args()
    if not os.path.isdir(DATA):
        raise SystemExit(f"{DATA} is missing: apt-get install dataset-fashion-mnist")

    # (N, 28, 28) pixels in [0, 1]; fmala standardises each pixel with the
    # training mean and sd, as it does for NPY files.
    x_train = read_idx("train-images-idx3-ubyte")[: args.train] / 255.0
    y_train = read_idx("train-labels-idx1-ubyte")[: args.train]
    x_test = read_idx("t10k-images-idx3-ubyte")[: args.test] / 255.0
    y_test = read_idx("t10k-labels-idx1-ubyte")[: args.test]

    result = fmala.sample(
        model="cnn",
        layers="flatten,dense:32,relu,dense:10",
        train=(x_train, y_train),
        test=(x_test, y_test),
        sampler=["pc-line-fmala", "mala"],
        chains=args.chains,
        warmup=args.warmup,
        draws=args.draws,
        predictive_draws=50,
        seed=1,
        quiet=True,
    )
    summary = result.summary()
    for s in summary["samplers"]:
        m = s["metrics"]
        print(f"{s['sampler']:>14}: test accuracy {m['accuracy']:.3f}, NLL {m['nll']:.3f}, "
              f"ECE {m['ece']:.3f}, R-hat max {s['rhat_max']:.2f}, {s['seconds']:.0f} s")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samplers = result.samplers
    labels = result.test_labels
    fig = plt.figure(figsize=(12, 7))
    grid = fig.add_gridspec(3, 6)
    for i, name in enumerate(samplers):
        p = result.test_probabilities[name]
        h = entropy(p)
        right = p.argmax(axis=1) == labels
        ax = fig.add_subplot(grid[i, :2])
        bins = np.linspace(0, np.log(10), 30)
        ax.hist(h[right], bins=bins, alpha=0.6, density=True, label="correct")
        ax.hist(h[~right], bins=bins, alpha=0.6, density=True, label="wrong")
        ax.set_title(f"{name}: predictive entropy (accuracy {right.mean():.3f})", fontsize=9)
        ax.set_xlabel("entropy of the predictive (nats)", fontsize=8)
        ax.legend(fontsize=8)
    # The test images that the first sampler's predictive is least sure about.
    p = result.test_probabilities[samplers[0]]
    order = np.argsort(-entropy(p))[:8]
    for j, n in enumerate(order):
        ax = fig.add_subplot(grid[j // 4, 2 + j % 4])
        ax.imshow(x_test[n], cmap="gray_r")
        top = np.argsort(-p[n])[:2]
        ax.set_title(f"{samplers[0]}, true {CLASSES[labels[n]]}\n{CLASSES[top[0]]} {p[n, top[0]]:.2f}, "
                     f"{CLASSES[top[1]]} {p[n, top[1]]:.2f}", fontsize=7)
        ax.axis("off")
    ax = fig.add_subplot(grid[2, 2:])
    for name in samplers:
        confidence = result.test_probabilities[name].max(axis=1)
        right = result.test_probabilities[name].argmax(axis=1) == labels
        edges = np.linspace(0, 1, 11)
        which = np.clip(np.digitize(confidence, edges) - 1, 0, 9)
        accuracy = [right[which == b].mean() if np.any(which == b) else np.nan for b in range(10)]
        ax.plot((edges[:-1] + edges[1:]) / 2, accuracy, marker="o", label=name)
    ax.plot([0, 1], [0, 1], color="gray", linestyle=":")
    ax.set_xlabel("confidence (max predictive probability)")
    ax.set_ylabel("accuracy")
    ax.set_title("calibration on the test images", fontsize=9)
    ax.legend(fontsize=8)
    fig.suptitle(f"Bayesian network 784-32-10 on {args.train} Fashion-MNIST images, {args.chains} chains x {args.draws} draws")
    fig.tight_layout()
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "uncertainty.png")
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
