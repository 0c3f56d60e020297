#pragma once
// Regression data for the Bayesian MLP: a numeric table whose last column is
// the target, split into training and test rows by a seeded, portable
// permutation and standardised with training-set statistics.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace fmala::io {

struct RegressionData {
  std::string source;     // path of the table read
  size_t n_features = 0;  // P: table columns minus the target
  // x is (N, P) row-major and y is (N), both standardised with the training
  // statistics below, so the test split is on the same scale as training.
  std::vector<double> train_x, train_y, test_x, test_y;
  // Per-feature training mean and population standard deviation (ddof = 0).
  // A feature that is constant on the training rows gets sd 1 and a mean equal
  // to its value, so it standardises to exactly 0.
  std::vector<double> x_mean, x_sd;
  double y_mean = 0, y_sd = 1;  // same rules as x_mean and x_sd
  // Row indices into the table (0-based, blank and header lines not counted),
  // each set in ascending order.
  std::vector<size_t> train_rows, test_rows;

  size_t n_train() const { return train_y.size(); }
  size_t n_test() const { return test_y.size(); }
};

// Returns a permutation of 0..n-1: a Fisher–Yates shuffle whose random numbers
// come from splitmix64 seeded with `seed`, with integers in [0, i] drawn by
// rejection sampling so they are unbiased. The result depends only on n and
// seed, the same on every platform and compiler (std::shuffle is not).
std::vector<size_t> seeded_permutation(size_t n, uint64_t seed);

// Loads regression data from `path`: a directory containing data.txt, or a
// table file itself (see read_table for the formats). The last column is the
// target and the others are features. The first round(train_fraction * n)
// entries of seeded_permutation(n, seed) are the training rows and the rest
// are the test rows.
//
// Throws fmala::Error when `path` is neither a table file nor a directory with
// data.txt, and the message then lists the paths tried. It also throws when the
// table has fewer than 2 columns or 10 rows, when train_fraction is outside
// (0, 1), or when the split leaves the training or test set empty. Errors in
// the table itself come from read_table.
RegressionData load_regression_data(const std::string& path, uint64_t seed,
                                    double train_fraction = 0.9);

}  // namespace fmala::io
