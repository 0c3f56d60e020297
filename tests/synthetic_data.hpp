#pragma once
// Synthetic data sets of the tests: seeded, small, and shaped like the
// loaders' output.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "fmala/io/classification_data.hpp"
#include "fmala/io/regression_data.hpp"
#include "fmala/random/philox.hpp"

namespace fmala_test {

inline std::vector<double> normals(size_t count, uint64_t seed) {
  fmala::Stream stream(seed, 0, 0, fmala::Draw::noise);
  std::vector<double> values(count);
  for (double& v : values) {
    v = stream.normal();
  }
  return values;
}

// Synthetic regression data: y = sin(x·w) + 0.1 noise, x ~ N(0, I).
inline std::shared_ptr<fmala::io::RegressionData> regression_data(size_t rows, size_t features) {
  auto data = std::make_shared<fmala::io::RegressionData>();
  data->n_features = features;
  data->train_x = normals(rows * features, 5);
  const std::vector<double> noise = normals(rows, 6);
  for (size_t n = 0; n < rows; ++n) {
    double z = 0;
    for (size_t i = 0; i < features; ++i) {
      z += data->train_x[n * features + i] * (0.5 + 0.25 * static_cast<double>(i));
    }
    data->train_y.push_back(std::sin(z) + 0.1 * noise[n]);
  }
  data->x_mean.assign(features, 0.0);
  data->x_sd.assign(features, 1.0);
  return data;
}

// Synthetic images (h, w, 1) with N(0, 1) pixels, labels from the sign
// pattern of two pixels so that they carry information.
inline std::shared_ptr<fmala::io::ClassificationData> classification_data(size_t rows, int h, int w,
                                                                   int classes) {
  auto data = std::make_shared<fmala::io::ClassificationData>();
  data->height = h;
  data->width = w;
  data->channels = 1;
  data->n_features = static_cast<size_t>(h) * w;
  data->n_classes = classes;
  data->train_x = normals(rows * data->n_features, 7);
  for (size_t n = 0; n < rows; ++n) {
    const double* x = data->train_x.data() + n * data->n_features;
    const int pattern = (x[0] > 0 ? 1 : 0) + (x[1] > 0 ? 2 : 0);
    data->train_y.push_back(pattern % classes);
  }
  return data;
}

}  // namespace fmala_test
