// Fuzz target for io::read_idx. Each input is read twice: as a plain file,
// and gzip-compressed into a ".gz" file, so that mutations of the IDX header
// and data also reach the reader through zlib's decompression. Inputs that are
// gzip streams themselves, such as the .gz seeds, test the corrupt-stream
// paths in the plain read.

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fmala/io/idx.hpp"
#include "fuzz_common.hpp"

namespace {

// Returns `data` as a gzip stream (deflate with a gzip wrapper).
std::string gzip(const uint8_t* data, size_t size) {
  z_stream stream{};
  // 15 + 16: a 32 KiB window with a gzip header and trailer.
  if (deflateInit2(&stream, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    std::abort();
  }
  std::string out(deflateBound(&stream, static_cast<uLong>(size)), '\0');
  stream.next_in = const_cast<Bytef*>(data);
  stream.avail_in = static_cast<uInt>(size);
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  if (deflate(&stream, Z_FINISH) != Z_STREAM_END) {
    std::abort();
  }
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

// Reads `path` and, when that succeeds, checks the array's shape. A positive
// `max_values` bounds the number of values.
void read_and_check(const std::string& path, size_t max_values) {
  fmala::fuzz::succeeds([&] {
    const fmala::io::IdxArray array = fmala::io::read_idx(path);
    FUZZ_CHECK(array.dims.size() == 1 || array.dims.size() == 3);
    size_t count = 1;
    for (uint32_t extent : array.dims) {
      FUZZ_CHECK(extent > 0);
      count *= extent;
    }
    FUZZ_CHECK(array.values.size() == count);
    FUZZ_CHECK(max_values == 0 || array.values.size() <= max_values);
    FUZZ_CHECK(array.count() * array.item_size() == count);
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string plain = fmala::fuzz::write_input("input-idx3-ubyte", data, size);
  // An input that is a gzip stream itself may decompress to many times its
  // size, so only the memory limits of libFuzzer bound its values.
  read_and_check(plain, 0);

  const std::string gzipped = fmala::fuzz::scratch().file("input-idx3-ubyte.gz");
  fmala::fuzz::write_file(gzipped, gzip(data, size));
  // Decompressed, the file is the input, so it contains at most `size` values.
  read_and_check(gzipped, size);
  return 0;
}
