#pragma once
// Image classification data in the MNIST layout: four IDX files holding the
// training and test images and labels, read into normalised features for
// the Bayesian logistic regression.

#include <cstddef>
#include <string>
#include <vector>

namespace fmala::io {

struct ClassificationData {
  std::string source;     // directory read
  size_t n_features = 0;  // P: pixels per image, rows × cols (784 for 28 × 28)
  int n_classes = 10;     // K: labels are 0 .. K-1
  // Features are (N, P) row-major, pixel / 255 standardised with
  // kFashionMnistPixelMean and kFashionMnistPixelSd. Labels are (N).
  std::vector<double> train_x, test_x;
  std::vector<int> train_y, test_y;

  size_t n_train() const { return train_y.size(); }
  size_t n_test() const { return test_y.size(); }
};

// Mean and population sd of pixel / 255 over the 60,000 Fashion-MNIST training
// images (47,040,000 pixels). Computed from the Debian package
// dataset-fashion-mnist 0.0~git20200523.55506a9-1: mean 0.286041, sd 0.353024.
inline constexpr double kFashionMnistPixelMean = 0.2860;
inline constexpr double kFashionMnistPixelSd = 0.3530;

// Directory where the Debian package dataset-fashion-mnist installs the data.
inline constexpr const char* kFashionMnistDirectory = "/usr/share/datasets/fashion-mnist";

// Loads train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte
// and t10k-labels-idx1-ubyte from the directory `spec`, each as the plain file
// or, when that is absent, with a ".gz" suffix. The name "fashion-mnist" stands
// for kFashionMnistDirectory. Training and test sets are the files' own split.
// subset > 0 keeps the first `subset` training images in file order (all test
// images are kept), 0 keeps all. Pixels are standardised with the
// Fashion-MNIST constants above whatever the data set.
//
// Throws fmala::Error when the directory or a file is missing (for
// "fashion-mnist" the message gives the apt-get command that installs it), when a file is
// malformed (see read_idx), when the images and labels of a split differ in
// count, when the image size differs between the splits, when a label is 10
// or more (naming the file and the index), or when subset exceeds the number
// of training images.
ClassificationData load_classification_data(const std::string& spec, size_t subset = 0);

}  // namespace fmala::io
