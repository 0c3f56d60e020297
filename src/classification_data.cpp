// Classification data from IDX files (see classification_data.hpp).

#include "fmala/io/classification_data.hpp"

#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "fmala/core/error.hpp"
#include "fmala/io/idx.hpp"

namespace fmala::io {
namespace {

constexpr const char* kDirectoryHint =
    "a directory holding train-images-idx3-ubyte(.gz), train-labels-idx1-ubyte(.gz), "
    "t10k-images-idx3-ubyte(.gz) and t10k-labels-idx1-ubyte(.gz)";

// Returns directory/name, or directory/name.gz when only that exists.
std::string find_idx_file(const std::filesystem::path& directory, const std::string& name) {
  std::error_code error;
  const std::filesystem::path plain = directory / name;
  const std::filesystem::path gz = directory / (name + ".gz");
  if (std::filesystem::exists(plain, error)) {
    return plain.string();
  }
  if (std::filesystem::exists(gz, error)) {
    return gz.string();
  }
  throw make_error(directory.string(),
                   "missing " + name + " (tried '" + plain.string() + "' and '" + gz.string() +
                       "')",
                   "Put the four IDX files of the data set in the directory");
}

// Appends the standardised pixels of the first `count` images to x and their
// labels to y, after checking that the two files agree.
void add_split(const IdxArray& images, const IdxArray& labels, size_t count, int n_classes,
               std::vector<double>& x, std::vector<int>& y) {
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
  const double scale = 1.0 / (255.0 * kFashionMnistPixelSd);
  const double shift = kFashionMnistPixelMean / kFashionMnistPixelSd;
  for (size_t i = 0; i < count * p; ++i) {
    x[i] = static_cast<double>(images.values[i]) * scale - shift;
  }
}

}  // namespace

ClassificationData load_classification_data(const std::string& spec, size_t subset) {
  namespace fs = std::filesystem;
  std::error_code error;
  const bool named = spec == "fashion-mnist";
  const fs::path directory = named ? fs::path(kFashionMnistDirectory) : fs::path(spec);
  if (!fs::is_directory(directory, error)) {
    if (named) {
      throw make_error(directory.string(), "Fashion-MNIST not found",
                       std::string("Install it with apt-get install dataset-fashion-mnist or give ") +
                           kDirectoryHint);
    }
    throw make_error(spec, "data directory not found",
                     std::string("Give 'fashion-mnist' for the installed data set or ") +
                         kDirectoryHint);
  }

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
  add_split(train_images, train_labels, n_train, data.n_classes, data.train_x, data.train_y);
  add_split(test_images, test_labels, test_images.count(), data.n_classes, data.test_x,
            data.test_y);
  data.n_features = train_images.item_size();
  return data;
}

}  // namespace fmala::io
