#pragma once
// Image and feature-table classification data for the Bayesian logistic
// regression and the CNN: IDX files in the MNIST layout, NPY arrays, or
// numeric tables whose last column is the class label.

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "fmala/io/device_array.hpp"
#include "fmala/io/npy.hpp"

namespace fmala::io {

// Scaling that load_classification_data applies to the features.
enum class Normalisation {
  // IDX: (pixel / 255 - kFashionMnistPixelMean) / kFashionMnistPixelSd.
  // NPY and tables: (value - mean) / sd per feature, with the mean and the
  // population sd (ddof 0) of the training rows kept after the subset.
  standard,
  // IDX: pixel / 255. NPY and tables: the values as stored.
  none,
};

// The training split of a data set whose arrays sit on a CUDA device: only
// --backend cuda evaluates it, where it lies.
struct DeviceTrainingSplit {
  // (rows, n_features) row-major, scaled as train_x would be; device memory,
  // either the caller's array (float64, no scaling) or a buffer of the run.
  std::shared_ptr<const double> x;
  std::shared_ptr<const int> labels;  // (rows) in [0, n_classes), device memory
  size_t rows = 0;
  int device = -1;  // the CUDA device's index
  // Training rows per class, for the warning about empty classes; empty when
  // the labels name too many classes to count.
  std::vector<size_t> class_counts;
};

struct ClassificationData {
  std::string source;     // directory read, or the table file for a single file
  size_t n_features = 0;  // P = height · width · channels (784 for 28 × 28 images)
  // Image shape: each row of x is one image in height-width-channel order
  // (NHWC), so n_features = height · width · channels. A table of plain
  // features has height 1, width n_features and 1 channel.
  int height = 1;
  int width = 0;
  int channels = 1;
  int n_classes = 10;     // K: labels are 0 .. K-1
  // Features are (N, P) row-major, scaled by the Normalisation passed to
  // load_classification_data. Labels are (N).
  std::vector<double> train_x, test_x;
  std::vector<int> train_y, test_y;

  // Set when the training split is on a GPU; train_x and train_y are then empty.
  std::shared_ptr<const DeviceTrainingSplit> device_train;

  size_t n_train() const { return device_train ? device_train->rows : train_y.size(); }
  size_t n_test() const { return test_y.size(); }
};

// Mean and population sd of pixel / 255 over the 60,000 Fashion-MNIST training
// images (47,040,000 pixels). Computed from the Debian package
// dataset-fashion-mnist 0.0~git20200523.55506a9-1: mean 0.286041, sd 0.353024.
inline constexpr double kFashionMnistPixelMean = 0.2860;
inline constexpr double kFashionMnistPixelSd = 0.3530;

// Directory where the Debian package dataset-fashion-mnist installs the data.
inline constexpr const char* kFashionMnistDirectory = "/usr/share/datasets/fashion-mnist";

// Loads classification data from `spec`, which is one of the following. The
// name "fashion-mnist" stands for kFashionMnistDirectory.
//
// IDX directory: train-images-idx3-ubyte, train-labels-idx1-ubyte,
//   t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each as the plain file
//   or, when that is absent, with a ".gz" suffix (see read_idx). Images are
//   (N, rows, cols) unsigned bytes, so height = rows, width = cols and
//   channels = 1. n_classes is 10 and every label must be below 10.
// NPY directory: train_x.npy and train_y.npy, with test_x.npy and test_y.npy
//   both present or both absent. Without them the test split is empty. x is
//   (N, P), (N, H, W) or (N, H, W, C) with channels last, of any dtype that
//   read_npy reads, and its values must be finite. (N, P) gives height 1 and
//   width P. y is (N) of an integer dtype, or of a float dtype whose values are
//   whole numbers. The training and test x must agree in H, W and C.
// Table directory or file: a directory with train.csv and an optional
//   test.csv, or the path of one table file, which is training data only. A
//   file name ending in ".npy", "-ubyte" or "-ubyte.gz" is rejected. See read_table for the formats. The last column is the class label
//   and the others are the features, so height is 1, width is the column count
//   minus 1 and channels is 1. Both tables need the same column count.
//
// A directory must contain files of exactly one of these layouts. For NPY and
// tables every label must be a whole number in 0 .. 2^31 - 2, and n_classes is
// 1 + the largest label over all rows of both splits (before the subset), which
// must be at least 2.
//
// subset > 0 keeps the first `subset` training rows in file order (all test
// rows are kept), and 0 keeps all. Labels and feature values are checked on
// every row, also those the subset drops. Training and test features are
// scaled by `normalise`.
//
// Throws fmala::Error naming the file or directory in these cases:
// - `spec` is not found (for "fashion-mnist" the message gives the apt-get
//   command that installs it);
// - a directory contains none of the layouts (the message lists the names
//   tried) or files of more than one, or a file of its layout is missing;
// - a file is malformed (see read_idx, read_npy and read_table);
// - x and y of a split differ in row count, or the image shape or column
//   count differs between the splits;
// - y is not 1-dimensional, or x has fewer than 2 or more than 4 dimensions
//   or no features;
// - a feature value is NaN or infinite, or a label is negative, not a whole
//   number, NaN or too large (the message gives the index);
// - the labels give fewer than 2 classes, the training split is empty, or
//   subset exceeds the number of training rows;
// - standardisation meets a feature whose mean or sd is not representable as
//   a finite, positive double (values near 1e308 or differing by about 1e-162).
ClassificationData load_classification_data(const std::string& spec, size_t subset = 0,
                                            Normalisation normalise = Normalisation::standard);

// One split given as arrays in memory, with the names that messages use for
// them (for instance "x_train").
struct ArraySplit {
  NpyArray x;  // (N, P), (N, H, W) or (N, H, W, C), channels last
  NpyArray y;  // (N) whole numbers
  std::string x_name;
  std::string y_name;
};

// Builds classification data from arrays in memory, with the checks, subset
// and scaling of the NPY layout of load_classification_data. `test` may be
// null (no test split). `source` describes the data in notes and messages.
ClassificationData classification_data_from_arrays(const ArraySplit& train, const ArraySplit* test,
                                                   size_t subset, Normalisation normalise,
                                                   const std::string& source);

// As classification_data_from_arrays, for a training split on a CUDA
// device: its checks, subset and scaling run on that device, with the same
// results and messages, and the data set keeps it there (device_train). `x`
// may hold float64, float32 or 8-bit unsigned values and `y` integers or
// floats. The test split stays on the host and is scaled with the training
// rows' mean and sd.
ClassificationData classification_data_from_device_arrays(const DeviceArrayView& x, const DeviceArrayView& y,
                                                          const ArraySplit* test, size_t subset,
                                                          Normalisation normalise, const std::string& source);

}  // namespace fmala::io
