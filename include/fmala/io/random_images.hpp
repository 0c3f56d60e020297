#pragma once
// Random image classification data of a chosen shape, for timing and memory
// measurements of the networks when a real data set of that shape is not at
// hand (for example CIFAR-10's 32 × 32 × 3).

#include <cstddef>
#include <cstdint>
#include <string>

#include "fmala/io/classification_data.hpp"

namespace fmala::io {

// n_train + n_test images of shape (height, width, channels) with N(0, 1)
// pixels and uniform labels in 0..classes-1, from Philox streams keyed by
// seed only, so the same arguments give the same data on every machine.
// Throws fmala::Error for a non-positive shape, fewer than 2 classes or no
// training images.
ClassificationData random_images(int height, int width, int channels, int classes, size_t n_train,
                                 size_t n_test, uint64_t seed);

// Parses "random:HxWxC" (for example "random:32x32x3"); returns false when
// `spec` does not start with "random:". Throws fmala::Error naming `where`
// for a malformed shape after the prefix or a side outside 1..65535.
bool parse_random_images_spec(const std::string& spec, const std::string& where, int& height,
                              int& width, int& channels);

}  // namespace fmala::io
