#!/usr/bin/env python3
"""Write random Fourier features of Fashion-MNIST as the NPY files of `fmala sample --data DIR`.

Reads the four gzip'd IDX files (train-images-idx3-ubyte.gz,
train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz,
t10k-labels-idx1-ubyte.gz), scales the pixels to [0, 1] and standardises
each pixel with the training mean and sd (a constant pixel keeps sd 1).
Every image x then maps to

    z(x) = sqrt(2 / P) * cos(W x + b),

with W of shape (P, 784) drawn from N(0, 1 / l^2), b drawn from U(0, 2 pi)
and P = 999 features by default, so that z(x) . z(y) estimates the Gaussian
kernel exp(-|x - y|^2 / (2 l^2)). The length scale l is the median
Euclidean distance between the standardised images of a random subsample of
the training set (the median heuristic), and is printed. The output
directory receives train_x.npy and test_x.npy (float32, shape (N, P)),
train_y.npy and test_y.npy (int64). With P = 999 and 10 classes, fmala's
logistic regression has (P + 1) * 10 = 10,000 parameters.

W, b and the subsample come from numpy's default_rng(--seed), so the output
is the same on every run with the same numpy version.

Needs only the Python standard library and numpy, for example in a virtual
environment: python3 -m venv /tmp/rff-venv && /tmp/rff-venv/bin/pip install numpy==2.4.6
Usage: rff_features.py [--idx-dir DIR] [--out DIR] [--features P]
                       [--train-subset N] [--median-subsample M] [--seed S]
"""

import argparse
import gzip
import os
import struct
import sys

import numpy as np

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
IDX_UNSIGNED_BYTE = 0x08
CHUNK_ROWS = 5000


def read_idx(path):
    """Read a gzip'd IDX file of unsigned bytes into an array of its stored shape."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        sys.exit("%s: not an IDX file, because its first two bytes are not zero. "
                 "Pass --idx-dir a directory of the Fashion-MNIST .gz files" % path)
    dtype_code, ndim = data[2], data[3]
    if dtype_code != IDX_UNSIGNED_BYTE:
        sys.exit("%s: IDX element type 0x%02x is not supported (expected 0x08, unsigned byte)"
                 % (path, dtype_code))
    shape = struct.unpack(">%dI" % ndim, data[4:4 + 4 * ndim])
    offset = 4 + 4 * ndim
    count = int(np.prod(shape))
    if len(data) - offset != count:
        sys.exit("%s: %d bytes of elements for shape %s, expected %d. The file is truncated or corrupt"
                 % (path, len(data) - offset, shape, count))
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(shape)


def median_distance(x, rng, subsample):
    """Return the median Euclidean distance over all pairs of `subsample` random rows of x."""
    rows = x[rng.choice(x.shape[0], size=min(subsample, x.shape[0]), replace=False)]
    squared = np.sum(rows * rows, axis=1)
    gram = rows @ rows.T
    distance2 = squared[:, None] + squared[None, :] - 2.0 * gram
    upper = np.triu_indices(rows.shape[0], k=1)
    return float(np.sqrt(np.median(np.maximum(distance2[upper], 0.0))))


def fourier_features(x, weights, phases):
    """Map the rows of x to sqrt(2/P) cos(W x + b), in float32, a chunk of rows at a time."""
    count = weights.shape[0]
    out = np.empty((x.shape[0], count), dtype=np.float32)
    scale = np.sqrt(2.0 / count)
    for start in range(0, x.shape[0], CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, x.shape[0])
        out[start:stop] = scale * np.cos(x[start:stop] @ weights.T + phases)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--idx-dir", default="/usr/share/datasets/fashion-mnist",
                        help="directory of the four gzip'd Fashion-MNIST IDX files")
    parser.add_argument("--out", required=True, help="output directory of the NPY files")
    parser.add_argument("--features", type=int, default=999, help="number of features P")
    parser.add_argument("--train-subset", type=int, default=0,
                        help="keep the first N training images in file order (0: all 60,000)")
    parser.add_argument("--median-subsample", type=int, default=2000,
                        help="training images whose pairwise distances give the length scale")
    parser.add_argument("--seed", type=int, default=1, help="seed of W, b and the subsample")
    args = parser.parse_args()
    if args.features < 1:
        parser.error("--features must be at least 1, got %d" % args.features)
    if args.train_subset < 0:
        parser.error("--train-subset must be 0 (all) or a positive count, got %d" % args.train_subset)
    if args.median_subsample < 2:
        parser.error("--median-subsample must be at least 2, got %d" % args.median_subsample)

    paths = {key: os.path.join(args.idx_dir, name) for key, name in IDX_FILES.items()}
    missing = [path for path in paths.values() if not os.path.exists(path)]
    if missing:
        sys.exit("missing IDX file(s): %s. Install the Debian package dataset-fashion-mnist "
                 "or pass --idx-dir" % ", ".join(missing))
    train_images = read_idx(paths["train_images"])
    train_labels = read_idx(paths["train_labels"])
    test_images = read_idx(paths["test_images"])
    test_labels = read_idx(paths["test_labels"])
    if args.train_subset:
        train_images = train_images[:args.train_subset]
        train_labels = train_labels[:args.train_subset]

    train = train_images.reshape(train_images.shape[0], -1).astype(np.float64) / 255.0
    test = test_images.reshape(test_images.shape[0], -1).astype(np.float64) / 255.0
    mean = train.mean(axis=0)
    sd = train.std(axis=0)
    sd[sd == 0.0] = 1.0
    train = (train - mean) / sd
    test = (test - mean) / sd

    rng = np.random.default_rng(args.seed)
    length_scale = median_distance(train, rng, args.median_subsample)
    print("length scale l = %.6g (median pairwise distance of %d standardised training images)"
          % (length_scale, min(args.median_subsample, train.shape[0])))
    weights = rng.normal(0.0, 1.0 / length_scale, size=(args.features, train.shape[1]))
    phases = rng.uniform(0.0, 2.0 * np.pi, size=args.features)

    os.makedirs(args.out, exist_ok=True)
    np.save(os.path.join(args.out, "train_x.npy"), fourier_features(train, weights, phases))
    np.save(os.path.join(args.out, "train_y.npy"), train_labels.astype(np.int64))
    np.save(os.path.join(args.out, "test_x.npy"), fourier_features(test, weights, phases))
    np.save(os.path.join(args.out, "test_y.npy"), test_labels.astype(np.int64))
    print("wrote %d training and %d test images with %d features to %s"
          % (train.shape[0], test.shape[0], args.features, args.out))


if __name__ == "__main__":
    main()
