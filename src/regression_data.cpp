// Regression data: table loading, the seeded train/test split and
// standardisation (see regression_data.hpp).

#include "fmala/io/regression_data.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "fmala/core/error.hpp"
#include "fmala/io/table.hpp"

namespace fmala::io {
namespace {

constexpr size_t kMinRows = 10;

// splitmix64: a Weyl sequence with step 0x9e3779b97f4a7c15, scrambled by two
// xor-shift-multiply rounds. Seeded with 0, its first output is 0xe220a8397b1dcdaf.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // Returns an integer uniform on [0, bound) for bound >= 1. Draws below
  // 2^64 mod bound are rejected so every residue has the same number of
  // preimages, which removes the modulo bias.
  uint64_t below(uint64_t bound) {
    const uint64_t threshold = (0 - bound) % bound;
    uint64_t draw = next();
    while (draw < threshold) {
      draw = next();
    }
    return draw % bound;
  }

 private:
  uint64_t state_;
};

// Resolves `path` to a table file: the path itself, or path/data.txt for a directory.
std::string resolve_table_path(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::path given(path);
  const std::string in_directory = (given / "data.txt").string();
  if (fs::is_directory(given, error)) {
    if (!fs::exists(in_directory, error)) {
      throw make_error(path, "the directory contains no data.txt (tried '" + in_directory + "')",
                       "Put the table in data.txt, with the target in the last column, or pass "
                       "the table file itself");
    }
    return in_directory;
  }
  if (!fs::exists(given, error)) {
    throw make_error(path,
                     "regression data not found (tried '" + path + "' as a table file and '" +
                         in_directory + "' in a directory)",
                     "Pass a directory containing data.txt or a table file");
  }
  return path;
}

// Per-column mean and population sd (ddof = 0) of `values` (rows, cols) over
// `rows`, with the constant-column rule described in RegressionData.
void column_statistics(const std::vector<double>& values, size_t cols, size_t col,
                       const std::vector<size_t>& rows, double& mean, double& sd) {
  double sum = 0;
  double min = values[rows.front() * cols + col];
  double max = min;
  for (size_t row : rows) {
    const double value = values[row * cols + col];
    sum += value;
    min = std::min(min, value);
    max = std::max(max, value);
  }
  // A constant column is detected by min == max, not by sd == 0: the rounded
  // mean of equal values can differ from them by an ulp and give a tiny
  // nonzero sd that would blow the column up to +-1.
  if (min == max) {
    mean = min;
    sd = 1;
    return;
  }
  mean = sum / static_cast<double>(rows.size());
  double squares = 0;
  for (size_t row : rows) {
    const double deviation = values[row * cols + col] - mean;
    squares += deviation * deviation;
  }
  sd = std::sqrt(squares / static_cast<double>(rows.size()));
}

// Copies the standardised features and target of `rows` into x (rows, P) and y.
void gather(const Table& table, const RegressionData& data, const std::vector<size_t>& rows,
            std::vector<double>& x, std::vector<double>& y) {
  const size_t p = data.n_features;
  x.resize(rows.size() * p);
  y.resize(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const double* row = table.values.data() + rows[i] * table.cols;
    for (size_t j = 0; j < p; ++j) {
      x[i * p + j] = (row[j] - data.x_mean[j]) / data.x_sd[j];
    }
    y[i] = (row[p] - data.y_mean) / data.y_sd;
  }
}

}  // namespace

std::vector<size_t> seeded_permutation(size_t n, uint64_t seed) {
  std::vector<size_t> permutation(n);
  std::iota(permutation.begin(), permutation.end(), size_t{0});
  SplitMix64 generator(seed);
  for (size_t i = n; i > 1; --i) {
    const size_t j = static_cast<size_t>(generator.below(i));
    std::swap(permutation[i - 1], permutation[j]);
  }
  return permutation;
}

RegressionData load_regression_data(const std::string& path, uint64_t seed, double train_fraction) {
  if (!(train_fraction > 0 && train_fraction < 1)) {
    throw make_error(path,
                     "train_fraction " + std::to_string(train_fraction) + " is outside (0, 1)",
                     "Use a fraction such as 0.9 for a 90/10 split");
  }

  RegressionData data;
  data.source = resolve_table_path(path);
  const Table table = read_table(data.source);
  if (table.cols < 2) {
    throw make_error(data.source,
                     "the table has " + std::to_string(table.cols) +
                         " column, but regression data needs at least one feature and the target",
                     "Put the features first and the target in the last column");
  }
  if (table.rows < kMinRows) {
    throw make_error(data.source,
                     "the table has " + std::to_string(table.rows) + " rows, fewer than the " +
                         std::to_string(kMinRows) + " needed for a train/test split",
                     "Use a larger data set");
  }

  const size_t n = table.rows;
  const auto n_train = static_cast<size_t>(std::round(train_fraction * static_cast<double>(n)));
  if (n_train == 0 || n_train == n) {
    throw make_error(data.source,
                     "train_fraction " + std::to_string(train_fraction) + " of " +
                         std::to_string(n) + " rows leaves the " +
                         (n_train == 0 ? "training" : "test") + " set empty",
                     "Choose a train_fraction that puts at least one row in each set");
  }
  const std::vector<size_t> permutation = seeded_permutation(n, seed);
  data.train_rows.assign(permutation.begin(), permutation.begin() + n_train);
  data.test_rows.assign(permutation.begin() + n_train, permutation.end());
  // Ascending order keeps rows in file order, which makes the split easy to
  // compare against the file; the likelihood does not depend on row order.
  std::sort(data.train_rows.begin(), data.train_rows.end());
  std::sort(data.test_rows.begin(), data.test_rows.end());

  data.n_features = table.cols - 1;
  data.x_mean.resize(data.n_features);
  data.x_sd.resize(data.n_features);
  for (size_t j = 0; j < data.n_features; ++j) {
    column_statistics(table.values, table.cols, j, data.train_rows, data.x_mean[j], data.x_sd[j]);
  }
  column_statistics(table.values, table.cols, data.n_features, data.train_rows, data.y_mean,
                    data.y_sd);

  gather(table, data, data.train_rows, data.train_x, data.train_y);
  gather(table, data, data.test_rows, data.test_x, data.test_y);
  return data;
}

}  // namespace fmala::io
