// Fuzz target for io::read_npy: the input is the whole NPY file.

#include <cstddef>
#include <cstdint>

#include "fmala/io/npy.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fmala::fuzz::write_input("input.npy", data, size);
  fmala::fuzz::succeeds([&] {
    const fmala::io::NpyArray array = fmala::io::read_npy(path);
    size_t count = 1;
    for (size_t extent : array.shape) {
      count *= extent;
    }
    FUZZ_CHECK(array.values.size() == count);
    // Every value comes from data bytes of the file.
    FUZZ_CHECK(array.values.size() <= size);
  });
  return 0;
}
