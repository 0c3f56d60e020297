// Classification data from IDX, NPY and table files (see classification_data.hpp).

#include "fmala/io/classification_data.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "fmala/backend/cuda.hpp"
#include "fmala/core/error.hpp"
#include "fmala/io/idx.hpp"
#include "fmala/io/npy.hpp"
#include "fmala/io/table.hpp"

namespace fmala::io {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDirectoryHint =
    "a directory holding train-images-idx3-ubyte(.gz), train-labels-idx1-ubyte(.gz), "
    "t10k-images-idx3-ubyte(.gz) and t10k-labels-idx1-ubyte(.gz)";

constexpr const char* kLayoutHint =
    "a directory holding the four IDX files train-images-idx3-ubyte, "
    "train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each "
    "plain or with .gz), a directory holding train_x.npy and train_y.npy (with test_x.npy and "
    "test_y.npy for a test split), a directory holding train.csv (with test.csv for a test "
    "split), or a table file";

constexpr const char* kIdxNames[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                     "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
constexpr const char* kNpyNames[] = {"train_x.npy", "train_y.npy", "test_x.npy", "test_y.npy"};
constexpr const char* kTableNames[] = {"train.csv", "test.csv"};

// Largest label accepted for NPY and tables, so that n_classes = label + 1 fits in int.
constexpr double kMaxLabel = INT_MAX - 1;
// Training arrays on a GPU get their classes counted up to this many.
constexpr int kMaxCountedClasses = 1 << 20;

bool path_exists(const fs::path& path) {
  std::error_code error;
  return fs::exists(path, error);
}

// ---------------------------------------------------------------------------
// IDX

// Returns directory/name, or directory/name.gz when only that exists.
std::string find_idx_file(const fs::path& directory, const std::string& name) {
  std::error_code error;
  const fs::path plain = directory / name;
  const fs::path gz = directory / (name + ".gz");
  if (fs::exists(plain, error)) {
    return plain.string();
  }
  if (fs::exists(gz, error)) {
    return gz.string();
  }
  throw make_error(directory.string(),
                   "missing " + name + " (tried '" + plain.string() + "' and '" + gz.string() +
                       "')",
                   "Put the four IDX files of the data set in the directory");
}

// Appends the scaled pixels of the first `count` images to x and their labels
// to y, after checking that the two files agree.
void add_split(const IdxArray& images, const IdxArray& labels, size_t count, int n_classes,
               Normalisation normalise, std::vector<double>& x, std::vector<int>& y) {
  if (images.dims.size() != 3) {
    throw make_error(images.path,
                     "holds " + std::to_string(images.dims.size()) +
                         "-dimensional labels, expected 3-dimensional images",
                     "Check that the image and label files are not swapped");
  }
  if (labels.dims.size() != 1) {
    throw make_error(labels.path,
                     "holds " + std::to_string(labels.dims.size()) +
                         "-dimensional images, expected 1-dimensional labels",
                     "Check that the image and label files are not swapped");
  }
  if (images.count() != labels.count()) {
    throw make_error(labels.path,
                     "has " + std::to_string(labels.count()) + " labels, but " + images.path +
                         " has " + std::to_string(images.count()) + " images",
                     "Use image and label files of the same split");
  }
  // Every label is checked, also those beyond `count`, so a subset never hides
  // a corrupt file.
  for (size_t n = 0; n < labels.count(); ++n) {
    const int label = labels.values[n];
    if (label >= n_classes) {
      throw make_error(labels.path,
                       "label " + std::to_string(label) + " at index " + std::to_string(n) +
                           " is out of range 0.." + std::to_string(n_classes - 1),
                       "Use a data set with labels 0 to " + std::to_string(n_classes - 1));
    }
  }
  const size_t p = images.item_size();
  x.resize(count * p);
  y.assign(labels.values.begin(), labels.values.begin() + static_cast<std::ptrdiff_t>(count));
  if (normalise == Normalisation::none) {
    for (size_t i = 0; i < count * p; ++i) {
      x[i] = static_cast<double>(images.values[i]) / 255.0;
    }
    return;
  }
  const double scale = 1.0 / (255.0 * kFashionMnistPixelSd);
  const double shift = kFashionMnistPixelMean / kFashionMnistPixelSd;
  for (size_t i = 0; i < count * p; ++i) {
    x[i] = static_cast<double>(images.values[i]) * scale - shift;
  }
}

ClassificationData load_idx_directory(const fs::path& directory, size_t subset,
                                      Normalisation normalise) {
  ClassificationData data;
  data.source = directory.string();
  const IdxArray train_images = read_idx(find_idx_file(directory, "train-images-idx3-ubyte"));
  const IdxArray train_labels = read_idx(find_idx_file(directory, "train-labels-idx1-ubyte"));
  const IdxArray test_images = read_idx(find_idx_file(directory, "t10k-images-idx3-ubyte"));
  const IdxArray test_labels = read_idx(find_idx_file(directory, "t10k-labels-idx1-ubyte"));

  if (train_images.dims.size() == 3 && test_images.dims.size() == 3 &&
      (train_images.dims[1] != test_images.dims[1] || train_images.dims[2] != test_images.dims[2])) {
    throw make_error(test_images.path,
                     "images are " + std::to_string(test_images.dims[1]) + " x " +
                         std::to_string(test_images.dims[2]) + ", but the training images in " +
                         train_images.path + " are " + std::to_string(train_images.dims[1]) +
                         " x " + std::to_string(train_images.dims[2]),
                     "Use training and test files of the same data set");
  }
  if (subset > train_images.count()) {
    throw make_error("subset",
                     std::to_string(subset) + " exceeds the " +
                         std::to_string(train_images.count()) + " training images in " +
                         train_images.path,
                     "Give at most " + std::to_string(train_images.count()) + ", or 0 for all");
  }
  const size_t n_train = subset > 0 ? subset : train_images.count();
  add_split(train_images, train_labels, n_train, data.n_classes, normalise, data.train_x,
            data.train_y);
  add_split(test_images, test_labels, test_images.count(), data.n_classes, normalise, data.test_x,
            data.test_y);
  data.n_features = train_images.item_size();
  data.height = static_cast<int>(train_images.dims[1]);
  data.width = static_cast<int>(train_images.dims[2]);
  data.channels = 1;
  return data;
}

// ---------------------------------------------------------------------------
// NPY and tables

// One split read from NPY files or a table, before the subset and scaling.
struct Split {
  std::vector<double> x;  // (rows, P) row-major
  std::vector<int> y;     // (rows)
  std::string x_path;     // file of the features
  std::string y_path;     // file of the labels, the same as x_path for a table
};

// Extents of one row of x in NHWC order.
struct ImageShape {
  size_t height = 1;
  size_t width = 0;
  size_t channels = 1;

  size_t features() const { return height * width * channels; }
  bool operator==(const ImageShape&) const = default;
};

// Converts a stored label to int. `position` locates it in `path` for errors,
// e.g. "index 3".
int to_label(double value, const std::string& path, const std::string& position) {
  const char* fix = "Store the class labels as whole numbers 0, 1, ..., K-1";
  if (std::isnan(value)) {
    throw make_error(path, "the label at " + position + " is NaN", fix);
  }
  if (value < 0) {
    throw make_error(path, fmt::format("label {} at {} is negative", value, position), fix);
  }
  if (value != std::floor(value)) {
    throw make_error(path, fmt::format("label {} at {} is not a whole number", value, position),
                     fix);
  }
  if (value > kMaxLabel) {
    throw make_error(path,
                     fmt::format("label {} at {} exceeds the largest supported label {}", value,
                                 position, kMaxLabel),
                     fix);
  }
  return static_cast<int>(value);
}

// Checks that every value of x (rows, p) is finite, naming the first that is not.
void check_finite(const std::vector<double>& x, size_t p, const std::string& path) {
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i])) {
      throw make_error(path,
                       fmt::format("the feature value at index {} (row {}, feature {}) is {}", i,
                                   i / p, i % p, std::isnan(x[i]) ? "NaN" : "infinite"),
                       "Remove or impute missing and infinite values first");
    }
  }
}

// Checks the shapes of arrays x and y of one split (named x_path and y_path
// in messages) and returns the image shape of x.
ImageShape shape_of_split(const std::vector<size_t>& x_shape, const std::vector<size_t>& y_shape,
                          const std::string& x_path, const std::string& y_path) {
  const size_t rank = x_shape.size();
  if (rank < 2 || rank > 4) {
    throw make_error(
        x_path,
        "x has shape " + shape_repr(x_shape) + ", expected (N, P), (N, H, W) or (N, H, W, C)",
        "Give the features with one row per example, e.g. "
        "x.reshape(len(x), -1) for (N, P)");
  }
  ImageShape shape;
  if (rank == 2) {
    shape.width = x_shape[1];
  } else {
    shape.height = x_shape[1];
    shape.width = x_shape[2];
    shape.channels = rank == 4 ? x_shape[3] : 1;
  }
  if (shape.height > INT_MAX || shape.width > INT_MAX || shape.channels > INT_MAX) {
    throw make_error(x_path,
                     "x has shape " + shape_repr(x_shape) + ", with an extent beyond the " +
                         std::to_string(INT_MAX) + " that the image shape fields hold",
                     "Give the rows with smaller extents, e.g. as (N, H, W, C) images");
  }
  if (shape.features() == 0) {
    throw make_error(x_path,
                     "x has shape " + shape_repr(x_shape) + ", which gives each row no features",
                     "Give at least one feature per row");
  }
  if (y_shape.size() != 1) {
    throw make_error(y_path,
                     "y has shape " + shape_repr(y_shape) + ", expected 1 dimension (N)",
                     "Give the labels as a 1-dimensional array, e.g. y.ravel()");
  }
  if (y_shape[0] != x_shape[0]) {
    throw make_error(
        y_path,
        fmt::format("has {} labels, but {} has {} rows", y_shape[0], x_path, x_shape[0]),
        "Use x and y of the same split");
  }
  return shape;
}

// Checks arrays x and y of one split (named x_path and y_path in messages)
// and sets `shape` to the image shape of x.
Split split_from_arrays(NpyArray x, const NpyArray& y, const std::string& x_path, const std::string& y_path,
                        ImageShape& shape) {
  Split split;
  split.x_path = x_path;
  split.y_path = y_path;
  shape = shape_of_split(x.shape, y.shape, x_path, y_path);
  check_finite(x.values, shape.features(), split.x_path);
  split.y.resize(y.values.size());
  for (size_t n = 0; n < y.values.size(); ++n) {
    split.y[n] = to_label(y.values[n], split.y_path, "index " + std::to_string(n));
  }
  split.x = std::move(x.values);
  return split;
}

// Reads x_name and y_name from `directory` as one split and sets `shape` to
// the image shape of x.
Split read_npy_split(const fs::path& directory, const char* x_name, const char* y_name,
                     ImageShape& shape) {
  const std::string x_path = (directory / x_name).string();
  const std::string y_path = (directory / y_name).string();
  NpyArray x = read_npy(x_path);
  const NpyArray y = read_npy(y_path);
  return split_from_arrays(std::move(x), y, x_path, y_path, shape);
}

// Checks that the test rows have the training rows' image shape.
void check_same_shape(const ImageShape& test_shape, const ImageShape& shape, const Split& test,
                      const Split& train) {
  if (test_shape != shape) {
    throw make_error(
        test.x_path,
        fmt::format("rows have shape {} x {} x {} (height x width x channels), but the rows "
                    "of {} have shape {} x {} x {}",
                    test_shape.height, test_shape.width, test_shape.channels, train.x_path,
                    shape.height, shape.width, shape.channels),
        "Use training and test arrays of the same data set, with the same extents after "
        "the first");
  }
}

// Reads a table whose last column is the label as one split, and returns the
// number of features through `p`.
Split read_table_split(const std::string& path, size_t& p) {
  const Table table = read_table(path);
  if (table.cols < 2) {
    throw make_error(path,
                     "the table has 1 column, but classification data needs at least one "
                     "feature column and the label column",
                     "Put the features first and the class label in the last column");
  }
  p = table.cols - 1;
  Split split;
  split.x_path = path;
  split.y_path = path;
  split.x.resize(table.rows * p);
  split.y.resize(table.rows);
  for (size_t row = 0; row < table.rows; ++row) {
    const double* values = table.values.data() + row * table.cols;
    std::copy(values, values + p, split.x.begin() + static_cast<std::ptrdiff_t>(row * p));
    split.y[row] = to_label(
        values[p], path,
        "data row " + std::to_string(row) + " (0-based, header and blank lines not counted)");
  }
  return split;
}

// Throws fmala::Error naming `path` unless every feature's mean and sd are
// finite and the sd positive.
void check_scaling(const std::vector<double>& mean, const std::vector<double>& sd, const std::string& path) {
  for (size_t j = 0; j < mean.size(); ++j) {
    // Values near the limits of double overflow the sum, and distinct values
    // less than about 1e-162 apart underflow the squares to 0.
    if (!std::isfinite(mean[j]) || !std::isfinite(sd[j]) || !(sd[j] > 0)) {
      throw make_error(path,
                       fmt::format("feature {} cannot be standardised: its training mean is {} "
                                   "and its sd {} in double precision",
                                   j, mean[j], sd[j]),
                       "Rescale the feature before saving, or load without normalisation");
    }
  }
}

// x (rows, p) to (value - mean_j) / sd_j.
void apply_scaling(std::vector<double>& x, const std::vector<double>& mean, const std::vector<double>& sd) {
  const size_t p = mean.size();
  for (size_t i = 0; i < x.size(); ++i) {
    x[i] = (x[i] - mean[i % p]) / sd[i % p];
  }
}

// Scales each feature j of train_x and test_x, both (rows, p), to
// (value - mean_j) / sd_j with the mean and population sd of train_x. A
// feature that is constant on the training rows gets its value as the mean
// and sd 1, so it becomes exactly 0. Constancy is detected by min == max, not
// by sd == 0, because the rounded mean of equal values can differ from them
// by an ulp and leave a tiny nonzero sd.
void standardise(std::vector<double>& train_x, std::vector<double>& test_x, size_t p,
                 const std::string& path) {
  const size_t n = train_x.size() / p;
  std::vector<double> mean(p, 0.0);
  std::vector<double> min(train_x.begin(), train_x.begin() + static_cast<std::ptrdiff_t>(p));
  std::vector<double> max = min;
  for (size_t row = 0; row < n; ++row) {
    for (size_t j = 0; j < p; ++j) {
      const double value = train_x[row * p + j];
      mean[j] += value;
      min[j] = std::min(min[j], value);
      max[j] = std::max(max[j], value);
    }
  }
  for (double& m : mean) {
    m /= static_cast<double>(n);
  }
  std::vector<double> squares(p, 0.0);
  for (size_t row = 0; row < n; ++row) {
    for (size_t j = 0; j < p; ++j) {
      const double deviation = train_x[row * p + j] - mean[j];
      squares[j] += deviation * deviation;
    }
  }

  std::vector<double> sd(p);
  for (size_t j = 0; j < p; ++j) {
    if (min[j] == max[j]) {
      mean[j] = min[j];
      sd[j] = 1.0;
      continue;
    }
    sd[j] = std::sqrt(squares[j] / static_cast<double>(n));
  }
  check_scaling(mean, sd, path);
  for (std::vector<double>* x : {&train_x, &test_x}) {
    apply_scaling(*x, mean, sd);
  }
}

// Builds the data set from the splits read: checks the sizes and labels,
// keeps the training subset and scales the features.
// Checks the training rows and the subset; returns the rows kept.
size_t kept_rows(size_t n_rows, size_t subset, const std::string& x_path) {
  if (n_rows == 0) {
    throw make_error(x_path, "the training split is empty (0 rows)", "Give at least one training row");
  }
  if (subset > n_rows) {
    throw make_error("subset",
                     std::to_string(subset) + " exceeds the " + std::to_string(n_rows) +
                         " training rows in " + x_path,
                     "Give at most " + std::to_string(n_rows) + ", or 0 for all");
  }
  return subset > 0 ? subset : n_rows;
}

// The largest label of the training rows and the test split; throws when it
// leaves fewer than 2 classes. All rows count, also those the subset drops,
// so the number of classes does not change with the subset.
int largest_label(int train_largest, const Split& train, const Split& test) {
  int max_label = train_largest;
  if (!test.y.empty()) {
    max_label = std::max(max_label, *std::max_element(test.y.begin(), test.y.end()));
  }
  if (max_label < 1) {
    const std::string also = test.y_path.empty() ? "" : ", also in " + test.y_path;
    throw make_error(
        train.y_path,
        "every label is 0" + also + ", so the data has 1 class, but a classifier needs at least 2",
        "Store the class labels as whole numbers 0, 1, ..., K-1 with K >= 2");
  }
  return max_label;
}

// A data set of this shape and classes 0..max_label, without rows yet.
ClassificationData shaped_data(const std::string& source, const ImageShape& shape, int max_label) {
  ClassificationData data;
  data.source = source;
  data.n_features = shape.features();
  data.height = static_cast<int>(shape.height);
  data.width = static_cast<int>(shape.width);
  data.channels = static_cast<int>(shape.channels);
  data.n_classes = max_label + 1;
  return data;
}

ClassificationData assemble(Split train, Split test, const ImageShape& shape, size_t subset,
                            Normalisation normalise, const std::string& source) {
  const size_t n_train = kept_rows(train.y.size(), subset, train.x_path);
  const int max_label = largest_label(*std::max_element(train.y.begin(), train.y.end()), train, test);

  const size_t p = shape.features();
  train.x.resize(n_train * p);
  train.y.resize(n_train);
  if (normalise == Normalisation::standard) {
    standardise(train.x, test.x, p, train.x_path);
  }

  ClassificationData data = shaped_data(source, shape, max_label);
  data.train_x = std::move(train.x);
  data.train_y = std::move(train.y);
  data.test_x = std::move(test.x);
  data.test_y = std::move(test.y);
  return data;
}

ClassificationData load_npy_directory(const fs::path& directory, size_t subset,
                                      Normalisation normalise) {
  const std::string layout_note =
      ". The NPY layout needs train_x.npy and train_y.npy, and test_x.npy and test_y.npy "
      "together or not at all";
  for (const char* name : {kNpyNames[0], kNpyNames[1]}) {
    const fs::path path = directory / name;
    if (!path_exists(path)) {
      throw make_error(directory.string(),
                       std::string("missing ") + name + " (tried '" + path.string() + "')",
                       std::string("Add ") + name + layout_note);
    }
  }
  const fs::path test_x = directory / kNpyNames[2];
  const fs::path test_y = directory / kNpyNames[3];
  if (path_exists(test_x) != path_exists(test_y)) {
    const fs::path& present = path_exists(test_x) ? test_x : test_y;
    const fs::path& missing = path_exists(test_x) ? test_y : test_x;
    throw make_error(directory.string(),
                     "contains " + present.filename().string() + " but not " +
                         missing.filename().string() + " (tried '" + missing.string() + "')",
                     "Add " + missing.filename().string() + ", or remove " +
                         present.filename().string() + " to load without a test split" +
                         layout_note);
  }

  ImageShape shape;
  Split train = read_npy_split(directory, kNpyNames[0], kNpyNames[1], shape);
  Split test;
  if (path_exists(test_x)) {
    ImageShape test_shape;
    test = read_npy_split(directory, kNpyNames[2], kNpyNames[3], test_shape);
    check_same_shape(test_shape, shape, test, train);
  }
  return assemble(std::move(train), std::move(test), shape, subset, normalise, directory.string());
}

// Loads `train_path` and, unless it is empty, `test_path` as tables.
ClassificationData load_tables(const std::string& train_path, const std::string& test_path,
                               size_t subset, Normalisation normalise, const std::string& source) {
  ImageShape shape;
  Split train = read_table_split(train_path, shape.width);
  Split test;
  if (!test_path.empty()) {
    size_t test_width = 0;
    test = read_table_split(test_path, test_width);
    if (test_width != shape.width) {
      throw make_error(test_path,
                       fmt::format("the table has {} columns, but {} has {}", test_width + 1,
                                   train_path, shape.width + 1),
                       "Use training and test tables with the same columns, the label last");
    }
  }
  return assemble(std::move(train), std::move(test), shape, subset, normalise, source);
}

ClassificationData load_table_directory(const fs::path& directory, size_t subset,
                                        Normalisation normalise) {
  const fs::path train = directory / kTableNames[0];
  const fs::path test = directory / kTableNames[1];
  if (!path_exists(train)) {
    throw make_error(directory.string(),
                     std::string("missing ") + kTableNames[0] + " (tried '" + train.string() + "')",
                     std::string("Put the training rows in ") + kTableNames[0] +
                         ", the class label in the last column. " + kTableNames[1] +
                         " is optional");
  }
  return load_tables(train.string(), path_exists(test) ? test.string() : "", subset, normalise,
                     directory.string());
}

enum class Layout { idx, npy, table };

// Returns the names of the files of `layout` present in `directory`, as found
// (an IDX file with its .gz suffix where only that exists).
std::vector<std::string> present_files(const fs::path& directory, Layout layout) {
  std::vector<std::string> found;
  switch (layout) {
    case Layout::idx:
      for (const char* name : kIdxNames) {
        if (path_exists(directory / name)) {
          found.emplace_back(name);
        } else if (path_exists(directory / (std::string(name) + ".gz"))) {
          found.push_back(std::string(name) + ".gz");
        }
      }
      break;
    case Layout::npy:
      for (const char* name : kNpyNames) {
        if (path_exists(directory / name)) {
          found.emplace_back(name);
        }
      }
      break;
    case Layout::table:
      for (const char* name : kTableNames) {
        if (path_exists(directory / name)) {
          found.emplace_back(name);
        }
      }
      break;
  }
  return found;
}

// Returns the one layout whose files `directory` contains.
Layout detect_layout(const fs::path& directory) {
  struct Candidate {
    Layout layout;
    const char* name;
    std::vector<std::string> files;
  };
  std::vector<Candidate> present;
  for (const auto& [layout, name] : {std::pair{Layout::idx, "IDX"}, std::pair{Layout::npy, "NPY"},
                                     std::pair{Layout::table, "table"}}) {
    std::vector<std::string> files = present_files(directory, layout);
    if (!files.empty()) {
      present.push_back({layout, name, std::move(files)});
    }
  }
  if (present.empty()) {
    throw make_error(directory.string(),
                     "the directory contains none of the known layouts: tried the IDX files "
                     "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte "
                     "and t10k-labels-idx1-ubyte (each plain or with .gz), the NPY files "
                     "train_x.npy, train_y.npy, test_x.npy and test_y.npy, and the table "
                     "train.csv",
                     "Put the data in one of these layouts, or give the path of a table file");
  }
  if (present.size() > 1) {
    std::string listing;
    for (const Candidate& candidate : present) {
      listing += (listing.empty() ? "" : "; ") + std::string(candidate.name) + ":";
      for (size_t i = 0; i < candidate.files.size(); ++i) {
        listing += (i == 0 ? " " : ", ") + candidate.files[i];
      }
    }
    throw make_error(directory.string(),
                     "the directory contains files of more than one layout (" + listing + ")",
                     "Keep the files of one layout in the directory, so that it is clear which "
                     "data to load");
  }
  return present.front().layout;
}

// Rejects a single file that is not a table but an array or image file of
// one of the directory layouts.
void check_table_file(const fs::path& path) {
  const std::string name = path.filename().string();
  const auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends_with(".npy")) {
    throw make_error(path.string(),
                     "a single NPY file cannot hold both the features and the labels",
                     "Put train_x.npy and train_y.npy (and test_x.npy and test_y.npy) in a "
                     "directory and give the directory");
  }
  if (ends_with("-ubyte") || ends_with("-ubyte.gz")) {
    throw make_error(path.string(), "a single IDX file cannot hold both the images and the labels",
                     std::string("Give ") + kDirectoryHint);
  }
}

}  // namespace

ClassificationData load_classification_data(const std::string& spec, size_t subset,
                                            Normalisation normalise) {
  std::error_code error;
  if (spec == "fashion-mnist") {
    const fs::path directory(kFashionMnistDirectory);
    if (!fs::is_directory(directory, error)) {
      throw make_error(
          directory.string(), "Fashion-MNIST not found",
          std::string("Install it with apt-get install dataset-fashion-mnist or give ") +
              kDirectoryHint);
    }
    return load_idx_directory(directory, subset, normalise);
  }

  const fs::path path(spec);
  if (fs::is_directory(path, error)) {
    switch (detect_layout(path)) {
      case Layout::idx:
        return load_idx_directory(path, subset, normalise);
      case Layout::npy:
        return load_npy_directory(path, subset, normalise);
      case Layout::table:
        return load_table_directory(path, subset, normalise);
    }
  }
  if (fs::exists(path, error)) {
    check_table_file(path);
    return load_tables(spec, "", subset, normalise, spec);
  }
  throw make_error(spec, "data directory or table file not found",
                   std::string("Give 'fashion-mnist' for the installed data set, ") + kLayoutHint);
}

ClassificationData classification_data_from_arrays(const ArraySplit& train, const ArraySplit* test,
                                                   size_t subset, Normalisation normalise,
                                                   const std::string& source) {
  ImageShape shape;
  Split train_split = split_from_arrays(train.x, train.y, train.x_name, train.y_name, shape);
  Split test_split;
  if (test) {
    ImageShape test_shape;
    test_split = split_from_arrays(test->x, test->y, test->x_name, test->y_name, test_shape);
    check_same_shape(test_shape, shape, test_split, train_split);
  }
  return assemble(std::move(train_split), std::move(test_split), shape, subset, normalise, source);
}

ClassificationData classification_data_from_device_arrays(const DeviceArrayView& x, const DeviceArrayView& y,
                                                          const ArraySplit* test, size_t subset,
                                                          Normalisation normalise, const std::string& source) {
  const ImageShape shape = shape_of_split(x.shape, y.shape, x.name, y.name);
  const size_t p = shape.features();
  const size_t rows = y.shape[0];
  const bool standard = normalise == Normalisation::standard;
  // The checks of the rows and the subset come after those of the values,
  // as on the host.
  cuda::PreparedTrainingSplit prepared;
  if (rows > 0) {
    const size_t used_rows = subset > 0 ? std::min(subset, rows) : rows;
    prepared = cuda::prepare_training_split(x, y, p, used_rows, standard, kMaxLabel, kMaxCountedClasses);
  }
  if (prepared.first_nonfinite >= 0) {
    const auto i = static_cast<size_t>(prepared.first_nonfinite);
    throw make_error(x.name,
                     fmt::format("the feature value at index {} (row {}, feature {}) is {}", i, i / p, i % p,
                                 std::isnan(prepared.nonfinite_value) ? "NaN" : "infinite"),
                     "Remove or impute missing and infinite values first");
  }
  if (prepared.first_invalid_label >= 0) {
    // Throws the message a label on the host gets.
    (void)to_label(prepared.invalid_label, y.name, "index " + std::to_string(prepared.first_invalid_label));
    throw make_error(y.name, fmt::format("the label at index {} is not a class label", prepared.first_invalid_label),
                     "Store the class labels as whole numbers 0, 1, ..., K-1");
  }
  Split train_split;
  train_split.x_path = x.name;
  train_split.y_path = y.name;
  Split test_split;
  if (test) {
    ImageShape test_shape;
    test_split = split_from_arrays(test->x, test->y, test->x_name, test->y_name, test_shape);
    check_same_shape(test_shape, shape, test_split, train_split);
  }
  const size_t n_train = kept_rows(rows, subset, x.name);
  const int max_label = largest_label(prepared.largest_label, train_split, test_split);
  if (standard) {
    check_scaling(prepared.mean, prepared.sd, x.name);
    apply_scaling(test_split.x, prepared.mean, prepared.sd);
  }

  ClassificationData data = shaped_data(source, shape, max_label);
  data.test_x = std::move(test_split.x);
  data.test_y = std::move(test_split.y);
  auto device = std::make_shared<DeviceTrainingSplit>();
  device->x = std::move(prepared.x);
  device->labels = std::move(prepared.labels);
  device->rows = n_train;
  device->device = x.device;
  device->class_counts = std::move(prepared.class_counts);
  data.device_train = std::move(device);
  return data;
}

}  // namespace fmala::io
