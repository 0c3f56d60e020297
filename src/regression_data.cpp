// Regression data: table loading, the seeded train/test split, the split from
// UCI benchmark index files, and standardisation (see regression_data.hpp).

#include "fmala/io/regression_data.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "fmala/backend/cuda.hpp"
#include "fmala/core/error.hpp"
#include "fmala/io/npy.hpp"
#include "fmala/io/read_file.hpp"
#include "fmala/io/table.hpp"

namespace fmala::io {
namespace {

namespace fs = std::filesystem;

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

// Resolves `path` to a table file: the path itself, or path/data.txt (else
// path/data.csv) for a directory.
std::string resolve_table_path(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::path given(path);
  const std::string in_directory = (given / "data.txt").string();
  if (fs::is_directory(given, error)) {
    const std::string csv_in_directory = (given / "data.csv").string();
    if (!fs::exists(in_directory, error) && fs::exists(csv_in_directory, error)) {
      return csv_in_directory;
    }
    if (!fs::exists(in_directory, error)) {
      throw make_error(path,
                       "the directory contains neither data.txt nor data.csv (tried '" + in_directory + "')",
                       "Put the table in data.txt or data.csv, with the target in the last column, or "
                       "pass the table file itself");
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

// Formats a double in its shortest round-trip form, e.g. "1e+300" or "0.25".
std::string format_double(double value) {
  char buffer[32];
  const std::to_chars_result result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

// Per-column mean and population sd (ddof = 0) of column `col` of `table` over
// `rows`, with the constant-column rule described in RegressionData. Throws
// fmala::Error when the mean or sd is not finite or the sd is 0. That happens
// for finite values too far apart or too close together for double precision,
// because squared deviations overflow above about 1e154 and underflow below
// about 1e-162.
void column_statistics(const Table& table, size_t col, const std::vector<size_t>& rows,
                       double& mean, double& sd);

// Throws fmala::Error naming `path` and the column when the training mean or
// sd of a column that is not constant is not finite or the sd is 0.
void check_column(const std::string& path, size_t col, size_t rows, double min, double max, double mean,
                  double sd) {
  if (min == max) {
    return;
  }
  if (!std::isfinite(mean) || !std::isfinite(sd) || sd == 0) {
    throw make_error(path,
                     "column " + std::to_string(col) + " (0-based) cannot be standardised: its " +
                         std::to_string(rows) + " training values range from " + format_double(min) + " to " +
                         format_double(max) + ", which in double precision gives a mean of " +
                         format_double(mean) + " and a standard deviation of " + format_double(sd),
                     "Rescale the column to values of moderate magnitude, e.g. multiply it by a "
                     "power of 10");
  }
}

void column_statistics(const Table& table, size_t col, const std::vector<size_t>& rows,
                       double& mean, double& sd) {
  const std::vector<double>& values = table.values;
  const size_t cols = table.cols;
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
  check_column(table.path, col, rows.size(), min, max, mean, sd);
}

// Returns (value - mean) / sd. Throws fmala::Error naming the table row and
// column when the result overflows. That happens for a test row far outside
// the training rows' range, or for a range wider than the largest double.
// Throws the error of a standardised value that overflows.
[[noreturn]] void throw_overflow(const std::string& path, size_t row, size_t col, double value, double mean,
                               double sd) {
  throw make_error(path,
                   "row " + std::to_string(row) +
                       " (0-based, blank and header lines not counted), column " +
                       std::to_string(col) + " (0-based): the value " + format_double(value) +
                       " standardised with the training mean " + format_double(mean) +
                       " and standard deviation " + format_double(sd) +
                       " is out of the range of double",
                   "Rescale the column to values of moderate magnitude, or check the row for "
                   "a mistyped exponent");
}

double standardised(const Table& table, size_t row, size_t col, double mean, double sd) {
  const double value = table.values[row * table.cols + col];
  const double result = (value - mean) / sd;
  if (!std::isfinite(result)) {
    throw_overflow(table.path, row, col, value, mean, sd);
  }
  return result;
}

// Sets the training statistics of data.feature_columns and data.target_column
// over data.train_rows, then copies the standardised features and target of
// the training and test rows into x (rows, P) and y.
void standardise(const Table& table, RegressionData& data) {
  const size_t p = data.feature_columns.size();
  data.n_features = p;
  data.x_mean.resize(p);
  data.x_sd.resize(p);
  for (size_t j = 0; j < p; ++j) {
    column_statistics(table, data.feature_columns[j], data.train_rows, data.x_mean[j],
                      data.x_sd[j]);
  }
  column_statistics(table, data.target_column, data.train_rows, data.y_mean, data.y_sd);

  const auto gather = [&](const std::vector<size_t>& rows, std::vector<double>& x,
                          std::vector<double>& y) {
    x.resize(rows.size() * p);
    y.resize(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      for (size_t j = 0; j < p; ++j) {
        x[i * p + j] = standardised(table, rows[i], data.feature_columns[j], data.x_mean[j],
                                    data.x_sd[j]);
      }
      y[i] = standardised(table, rows[i], data.target_column, data.y_mean, data.y_sd);
    }
  };
  gather(data.train_rows, data.train_x, data.train_y);
  gather(data.test_rows, data.test_x, data.test_y);
}

// One entry of an index file and the 1-based line it is on, for error messages.
struct IndexEntry {
  size_t value = 0;
  size_t line = 0;
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string_view trim_blanks(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

// Returns "1 row", "6 rows" and so on.
std::string count_of(size_t count, const std::string& unit) {
  return std::to_string(count) + " " + unit + (count == 1 ? "" : "s");
}

// Reads an index file of 0-based indices below `bound`, one per line, in file
// order. `unit` ("row" or "column") and `table_path` name what the indices
// address in error messages. Rejects a line that is not plain digits, an index
// of `bound` or more, and an index that appears twice.
std::vector<IndexEntry> read_index_file(const std::string& path, size_t bound,
                                        const std::string& unit, const std::string& table_path) {
  const std::string text = read_whole_file(path, "index file");
  std::vector<IndexEntry> entries;
  // First line of each index, or 0 while the index has not appeared.
  std::vector<size_t> first_line(bound, 0);
  size_t line_number = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      end = text.size();
    }
    std::string_view line(text.data() + start, end - start);
    start = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    line = trim_blanks(line);
    if (line.empty()) {
      continue;
    }

    const std::string where = path + ":" + std::to_string(line_number);
    const std::string field(line);
    if (!std::all_of(line.begin(), line.end(), is_digit)) {
      throw make_error(where, "'" + field + "' is not a plain non-negative integer",
                       "Write one 0-based " + unit +
                           " index per line, as digits only (no sign, decimal point or exponent)");
    }
    size_t value = 0;
    const std::from_chars_result parsed =
        std::from_chars(line.data(), line.data() + line.size(), value);
    if (parsed.ec != std::errc() || value >= bound) {
      throw make_error(where,
                       unit + " index " + field + " is out of range: '" + table_path + "' has " +
                           count_of(bound, unit) + ", so the indices are 0 to " +
                           std::to_string(bound - 1),
                       "Check that the index files belong to this table. Indices are 0-based" +
                           std::string(unit == "row" ? " and do not count blank lines" : ""));
    }
    if (first_line[value] != 0) {
      throw make_error(where,
                       unit + " index " + field + " is repeated (first on line " +
                           std::to_string(first_line[value]) + ")",
                       "List each " + unit + " at most once");
    }
    first_line[value] = line_number;
    entries.push_back({value, line_number});
  }
  return entries;
}

// Returns, ascending, every k for which `folder` contains both
// index_train_<k>.txt and index_test_<k>.txt. Names with leading zeros are
// skipped because load_regression_data_split would not look for them.
std::vector<uint64_t> available_splits(const fs::path& folder) {
  const std::string prefix = "index_train_";
  const std::string suffix = ".txt";
  std::vector<uint64_t> splits;
  std::error_code error;
  for (fs::directory_iterator it(folder, error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
      continue;
    }
    const std::string digits =
        name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    uint64_t k = 0;
    const std::from_chars_result parsed =
        std::from_chars(digits.data(), digits.data() + digits.size(), k);
    if (parsed.ec != std::errc() || parsed.ptr != digits.data() + digits.size() ||
        std::to_string(k) != digits) {
      continue;
    }
    std::error_code exists_error;
    if (fs::exists(folder / ("index_test_" + digits + ".txt"), exists_error)) {
      splits.push_back(k);
    }
  }
  std::sort(splits.begin(), splits.end());
  return splits;
}

// Formats ascending numbers with runs shortened, e.g. "0-4, 7, 9".
std::string format_ranges(const std::vector<uint64_t>& values) {
  std::string text;
  for (size_t i = 0; i < values.size();) {
    size_t last = i;
    while (last + 1 < values.size() && values[last + 1] == values[last] + 1) {
      ++last;
    }
    if (!text.empty()) {
      text += ", ";
    }
    text += std::to_string(values[i]);
    if (last > i) {
      text += '-';
      text += std::to_string(values[last]);
    }
    i = last + 1;
  }
  return text;
}

// Returns " (n_splits.txt gives N splits)" when `folder` has an n_splits.txt holding a
// plain integer, else "". The file is only a hint for error messages, so an
// unreadable or malformed one is ignored.
std::string n_splits_note(const fs::path& folder) {
  const fs::path path = folder / "n_splits.txt";
  std::error_code error;
  if (!fs::is_regular_file(path, error)) {
    return "";
  }
  std::string text;
  try {
    text = read_whole_file(path.string(), "split count file");
  } catch (const Error&) {
    return "";
  }
  std::string_view value(text);
  while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) {
    value.remove_suffix(1);
  }
  value = trim_blanks(value);
  if (value.empty() || !std::all_of(value.begin(), value.end(), is_digit)) {
    return "";
  }
  return " (n_splits.txt gives " + std::string(value) + " splits)";
}

// Throws when either index file of the split is missing, listing the paths
// tried and the splits that are present.
void require_split_files(const fs::path& folder, int split_index, const std::string& train_path,
                         const std::string& test_path) {
  std::error_code error;
  const bool has_train = fs::exists(train_path, error);
  const bool has_test = fs::exists(test_path, error);
  if (has_train && has_test) {
    return;
  }
  const std::string split = "split " + std::to_string(split_index);
  std::string what;
  if (!has_train && !has_test) {
    what = split + " not found: neither '" + train_path + "' nor '" + test_path + "' exists";
  } else {
    what = split + " is incomplete: '" + (has_train ? test_path : train_path) +
           "' does not exist, although '" + (has_train ? train_path : test_path) + "' does";
  }
  const std::vector<uint64_t> splits = available_splits(folder);
  const std::string note = n_splits_note(folder);
  std::string fix;
  if (splits.empty()) {
    fix = "The directory has no split with both index files" + note +
          ". Add index_train_<k>.txt and index_test_<k>.txt next to data.txt";
  } else {
    fix = "Splits with both index files in the directory: " + format_ranges(splits) + note +
          ". Pass one of those split indices, or add the missing index files next to data.txt";
  }
  throw make_error(folder.string(), what, fix);
}

// Sets data.feature_columns and data.target_column from index_features.txt
// and index_target.txt in `folder`, or from the defaults of
// load_regression_data_split where a file is absent.
void select_columns(const fs::path& folder, const Table& table, RegressionData& data) {
  const std::string features_path = (folder / "index_features.txt").string();
  const std::string target_path = (folder / "index_target.txt").string();
  std::error_code error;

  data.target_column = table.cols - 1;
  std::string target_origin = "the last column, the default without index_target.txt";
  if (fs::exists(target_path, error)) {
    const std::vector<IndexEntry> entries =
        read_index_file(target_path, table.cols, "column", table.path);
    if (entries.size() != 1) {
      throw make_error(target_path,
                       entries.empty() ? "the file lists no column"
                                       : "the file lists " + count_of(entries.size(), "column") +
                                             ", but the target is a single column",
                       "Write the 0-based index of the target column on one line");
    }
    data.target_column = entries.front().value;
    target_origin = "line " + std::to_string(entries.front().line) + " of '" + target_path + "'";
  }

  data.feature_columns.clear();
  if (!fs::exists(features_path, error)) {
    for (size_t col = 0; col < table.cols; ++col) {
      if (col != data.target_column) {
        data.feature_columns.push_back(col);
      }
    }
    if (data.feature_columns.empty()) {
      throw make_error(table.path,
                       "the table has " + count_of(table.cols, "column") +
                           ", but regression data needs at least one feature and the target",
                       "Add the feature columns to the table");
    }
    return;
  }
  const std::vector<IndexEntry> entries =
      read_index_file(features_path, table.cols, "column", table.path);
  if (entries.empty()) {
    throw make_error(features_path, "the file lists no column",
                     "Write the 0-based index of each feature column on its own line, or delete "
                     "the file to use every column but the target");
  }
  for (const IndexEntry& entry : entries) {
    if (entry.value == data.target_column) {
      throw make_error(features_path + ":" + std::to_string(entry.line),
                       "column " + std::to_string(entry.value) + " is also the target column (" +
                           target_origin + ")",
                       "Remove the target column from the feature columns, or choose another "
                       "target in index_target.txt");
    }
    data.feature_columns.push_back(entry.value);
  }
}

// Returns the row indices of a split file in ascending order, rejecting an empty split.
std::vector<size_t> sorted_rows(const std::vector<IndexEntry>& entries, const std::string& path,
                                const std::string& split_name) {
  if (entries.empty()) {
    throw make_error(path, "the file lists no row, so the " + split_name + " split is empty",
                     "List at least one row index in each split file");
  }
  std::vector<size_t> rows;
  rows.reserve(entries.size());
  for (const IndexEntry& entry : entries) {
    rows.push_back(entry.value);
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

// Draws the seeded split of n rows into data.train_rows and data.test_rows,
// each in ascending order; data.source names the data in messages.
void draw_split(size_t n, uint64_t seed, double train_fraction, RegressionData& data) {
  if (n < kMinRows) {
    throw make_error(data.source,
                     "the table has " + std::to_string(n) + " rows, fewer than the " +
                         std::to_string(kMinRows) + " needed for a train/test split",
                     "Use a larger data set");
  }
  const auto n_train = static_cast<size_t>(std::round(train_fraction * static_cast<double>(n)));
  if (n_train == 0 || n_train == n) {
    throw make_error(data.source,
                     "train_fraction " + std::to_string(train_fraction) + " of " +
                         std::to_string(n) + " rows leaves the " +
                         (n_train == 0 ? "training" : "test") + " set empty",
                     "Choose a train_fraction that puts at least one row in each set");
  }
  const std::vector<size_t> permutation = seeded_permutation(n, seed);
  data.train_rows.assign(permutation.begin(), permutation.begin() + static_cast<std::ptrdiff_t>(n_train));
  data.test_rows.assign(permutation.begin() + static_cast<std::ptrdiff_t>(n_train), permutation.end());
  // Ascending order keeps rows in file order, which makes the split easy to
  // compare against the file; the likelihood does not depend on row order.
  std::sort(data.train_rows.begin(), data.train_rows.end());
  std::sort(data.test_rows.begin(), data.test_rows.end());
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
  return regression_data_from_table(read_table(resolve_table_path(path)), seed, train_fraction);
}

RegressionData regression_data_from_table(const Table& table, uint64_t seed, double train_fraction) {
  if (!(train_fraction > 0 && train_fraction < 1)) {
    throw make_error(table.path,
                     "train_fraction " + std::to_string(train_fraction) + " is outside (0, 1)",
                     "Use a fraction such as 0.9 for a 90/10 split");
  }
  RegressionData data;
  data.source = table.path;
  if (table.cols < 2) {
    throw make_error(data.source,
                     "the table has " + std::to_string(table.cols) +
                         " column, but regression data needs at least one feature and the target",
                     "Put the features first and the target in the last column");
  }
  draw_split(table.rows, seed, train_fraction, data);
  data.feature_columns.resize(table.cols - 1);
  std::iota(data.feature_columns.begin(), data.feature_columns.end(), size_t{0});
  data.target_column = table.cols - 1;
  standardise(table, data);
  return data;
}

RegressionData load_regression_data_split(const std::string& directory, int split_index) {
  if (split_index < 0) {
    throw make_error(directory, "split index " + std::to_string(split_index) + " is negative",
                     "Split indices start at 0, so pass the k of an index_train_<k>.txt file");
  }
  const fs::path folder(directory);
  std::error_code error;
  if (!fs::is_directory(folder, error)) {
    throw make_error(directory,
                     fs::exists(folder, error) ? "not a directory" : "directory not found",
                     "Pass the directory that contains data.txt and the index_train_<k>.txt and "
                     "index_test_<k>.txt files");
  }
  const std::string table_path = (folder / "data.txt").string();
  if (!fs::exists(table_path, error)) {
    throw make_error(directory, "the directory contains no data.txt (tried '" + table_path + "')",
                     "Put the table in data.txt next to the index files");
  }
  const std::string k = std::to_string(split_index);
  const std::string train_path = (folder / ("index_train_" + k + ".txt")).string();
  const std::string test_path = (folder / ("index_test_" + k + ".txt")).string();
  require_split_files(folder, split_index, train_path, test_path);

  RegressionData data;
  data.source = table_path;
  const Table table = read_table(table_path);
  select_columns(folder, table, data);

  const std::vector<IndexEntry> train = read_index_file(train_path, table.rows, "row", table_path);
  const std::vector<IndexEntry> test = read_index_file(test_path, table.rows, "row", table_path);
  data.train_rows = sorted_rows(train, train_path, "training");
  data.test_rows = sorted_rows(test, test_path, "test");
  // Line of each training row in its file, or 0 for a row outside the training split.
  std::vector<size_t> train_line(table.rows, 0);
  for (const IndexEntry& entry : train) {
    train_line[entry.value] = entry.line;
  }
  for (const IndexEntry& entry : test) {
    if (train_line[entry.value] != 0) {
      throw make_error(test_path + ":" + std::to_string(entry.line),
                       "row " + std::to_string(entry.value) + " is also a training row (line " +
                           std::to_string(train_line[entry.value]) + " of '" + train_path + "')",
                       "Put each row in only one of the two split files");
    }
  }

  standardise(table, data);
  return data;
}

RegressionData regression_data_from_device_arrays(const DeviceArrayView& x, const DeviceArrayView& y, uint64_t seed,
                                                  const std::string& source, double train_fraction) {
  if (!(train_fraction > 0 && train_fraction < 1)) {
    throw make_error(source, "train_fraction " + std::to_string(train_fraction) + " is outside (0, 1)",
                     "Use a fraction such as 0.9 for a 90/10 split");
  }
  if (x.shape.empty() || x.shape.size() > 2 || y.shape.size() != 1 || x.shape[0] != y.shape[0]) {
    throw make_error(source,
                     "x has shape " + shape_repr(x.shape) + " and y " + shape_repr(y.shape) +
                         ", but regression needs x of shape (N, P) or (N,) and y of shape (N,)",
                     "Give one row of features per target");
  }
  RegressionData data;
  data.source = source;
  const size_t p = x.shape.size() == 2 ? x.shape[1] : 1;
  const size_t rows = y.shape[0];
  // The checks come in the order of the host's route: the values (which
  // Python checks there), the columns, the rows.
  double value = 0;
  const int64_t nonfinite_x = cuda::first_nonfinite(x, rows * p, &value);
  if (nonfinite_x >= 0) {
    const auto i = static_cast<size_t>(nonfinite_x);
    throw Error(x.name + "[" + std::to_string(i / p) + ", " + std::to_string(i % p) + "] is " +
                format_double(value) + "; the features must be finite");
  }
  const int64_t nonfinite_y = cuda::first_nonfinite(y, rows, &value);
  if (nonfinite_y >= 0) {
    throw Error(y.name + "[" + std::to_string(nonfinite_y) + "] is " + format_double(value) +
                "; the targets must be finite");
  }
  if (p == 0) {
    throw make_error(source, "the table has 1 column, but regression data needs at least one feature and the target",
                     "Put the features first and the target in the last column");
  }
  draw_split(rows, seed, train_fraction, data);
  data.feature_columns.resize(p);
  std::iota(data.feature_columns.begin(), data.feature_columns.end(), size_t{0});
  data.target_column = p;
  data.n_features = p;

  cuda::PreparedRegressionSplit prepared = cuda::prepare_regression_split(x, y, p, data.train_rows, data.test_rows);
  for (size_t j = 0; j <= p; ++j) {
    check_column(source, j, data.train_rows.size(), prepared.low[j], prepared.high[j], prepared.mean[j],
                 prepared.sd[j]);
  }
  if (prepared.first_overflow >= 0) {
    const auto k = static_cast<size_t>(prepared.first_overflow);
    const size_t position = k / (p + 1);
    const size_t j = k % (p + 1);
    const size_t row = position < data.train_rows.size() ? data.train_rows[position]
                                                         : data.test_rows[position - data.train_rows.size()];
    throw_overflow(source, row, j, prepared.overflow_value, prepared.mean[j], prepared.sd[j]);
  }
  data.x_mean.assign(prepared.mean.begin(), prepared.mean.begin() + static_cast<std::ptrdiff_t>(p));
  data.x_sd.assign(prepared.sd.begin(), prepared.sd.begin() + static_cast<std::ptrdiff_t>(p));
  data.y_mean = prepared.mean[p];
  data.y_sd = prepared.sd[p];
  data.test_x = std::move(prepared.test_x);
  data.test_y = std::move(prepared.test_y);
  auto device = std::make_shared<DeviceRegressionSplit>();
  device->x = std::move(prepared.x);
  device->y = std::move(prepared.y);
  device->rows = data.train_rows.size();
  device->device = x.device;
  data.device_train = std::move(device);
  return data;
}

}  // namespace fmala::io
