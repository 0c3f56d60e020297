#pragma once
// Reader of IDX files, the format of the MNIST and Fashion-MNIST data sets:
// a big-endian header (two zero bytes, a type byte, the number of dimensions,
// then one 32-bit size per dimension) followed by the values in row-major order.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace fmala::io {

// An unsigned-byte IDX array: images (count, rows, cols) or labels (count).
struct IdxArray {
  std::string path;             // file read
  std::vector<uint32_t> dims;   // sizes from the header, outermost first
  std::vector<uint8_t> values;  // product(dims) values, row-major

  size_t count() const { return dims.empty() ? 0 : dims.front(); }
  // Values per item: the product of all dims but the first (1 for labels).
  size_t item_size() const;
};

// Reads an IDX file of unsigned bytes with magic 0x00000803 (3 dimensions,
// images) or 0x00000801 (1 dimension, labels). A name ending in ".gz" and a
// plain file are both read through zlib, which passes uncompressed files
// through unchanged.
//
// Throws fmala::Error naming the file when it is missing or unreadable, when
// its gzip stream is corrupt, when the header is truncated, when the magic
// number or the type byte (only 0x08, unsigned byte, is supported) is wrong,
// when a dimension is 0, or when the data after the header is shorter
// (truncated) or longer (trailing bytes) than the product of the dimensions.
IdxArray read_idx(const std::string& path);

}  // namespace fmala::io
