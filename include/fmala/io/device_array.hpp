#pragma once
// The description of an array in a CUDA device's memory that the data
// loaders read in place.

#include <cstddef>
#include <string>
#include <vector>

namespace fmala::io {

// A C-contiguous array in the memory of a CUDA device, as DLPack describes
// it, with the name that messages use for it.
struct DeviceArrayView {
  const void* data = nullptr;
  std::vector<size_t> shape;
  char kind = 'f';  // 'f' float, 'i' signed or 'u' unsigned integer
  int bits = 64;    // bits per value
  int device = 0;   // the CUDA device's index
  std::string name;
};

}  // namespace fmala::io
