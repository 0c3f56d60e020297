#include "fmala/io/random_images.hpp"

#include <charconv>
#include <string>

#include "fmala/core/error.hpp"
#include "fmala/random/philox.hpp"

namespace fmala::io {

ClassificationData random_images(int height, int width, int channels, int classes, size_t n_train,
                                 size_t n_test, uint64_t seed) {
  if (height < 1 || width < 1 || channels < 1) {
    throw make_error("random images",
                     "shape " + std::to_string(height) + "x" + std::to_string(width) + "x" +
                         std::to_string(channels) + " has a side below 1",
                     "Give positive height, width and channels");
  }
  if (classes < 2) {
    throw make_error("random images", std::to_string(classes) + " classes, expected at least 2");
  }
  if (n_train == 0) {
    throw make_error("random images", "no training images", "Ask for at least one");
  }
  ClassificationData data;
  data.source = "random:" + std::to_string(height) + "x" + std::to_string(width) + "x" +
                std::to_string(channels);
  data.height = height;
  data.width = width;
  data.channels = channels;
  data.n_features = static_cast<size_t>(height) * width * channels;
  data.n_classes = classes;
  const auto fill = [&](size_t count, uint64_t split, std::vector<double>& x, std::vector<int>& y) {
    // One stream per split: chain slot 0 and 1, step = split.
    Stream pixels(seed, split, 0, Draw::init);
    Stream labels(seed, split, 1, Draw::init);
    x.resize(count * data.n_features);
    for (double& v : x) {
      v = pixels.normal();
    }
    y.resize(count);
    for (int& label : y) {
      label = static_cast<int>(labels.uniform() * classes) % classes;
    }
  };
  fill(n_train, 0, data.train_x, data.train_y);
  fill(n_test, 1, data.test_x, data.test_y);
  return data;
}

bool parse_random_images_spec(const std::string& spec, const std::string& where, int& height,
                              int& width, int& channels) {
  const std::string prefix = "random:";
  if (spec.rfind(prefix, 0) != 0) {
    return false;
  }
  const std::string shape = spec.substr(prefix.size());
  int values[3] = {0, 0, 0};
  const char* at = shape.data();
  const char* end = shape.data() + shape.size();
  for (int i = 0; i < 3; ++i) {
    const auto result = std::from_chars(at, end, values[i]);
    const bool last = i == 2;
    if (result.ec != std::errc() || values[i] < 1 || values[i] > 65535 ||
        (last ? result.ptr != end : (result.ptr == end || *result.ptr != 'x'))) {
      throw make_error(where, "'" + spec + "' is not random:HxWxC with sides from 1 to 65535",
                       "Give for example random:32x32x3");
    }
    at = result.ptr + 1;
  }
  height = values[0];
  width = values[1];
  channels = values[2];
  return true;
}

}  // namespace fmala::io
