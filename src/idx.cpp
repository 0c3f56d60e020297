// IDX reader (see idx.hpp).

#include "fmala/io/idx.hpp"

#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "fmala/core/error.hpp"

namespace fmala::io {
namespace {

constexpr uint8_t kUnsignedByte = 0x08;
constexpr size_t kChunk = size_t{1} << 20;

uint32_t read_big_endian(const uint8_t* bytes) {
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) |
         uint32_t{bytes[3]};
}

// Reads the whole file, decompressing a gzip stream. zlib reads a file without
// the gzip magic as it is.
std::vector<uint8_t> read_all(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) {
    throw make_error(path, "IDX file not found", "Check the path");
  }
  if (std::filesystem::is_directory(path, error)) {
    throw make_error(path, "is a directory, not an IDX file", "Give the path of the file itself");
  }
  errno = 0;
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) {
    throw make_error(path, std::string("cannot open the IDX file (") +
                               (errno != 0 ? std::strerror(errno) : "out of memory") + ")",
                     "Check the file's permissions");
  }
  std::vector<uint8_t> bytes;
  while (true) {
    const size_t old_size = bytes.size();
    bytes.resize(old_size + kChunk);
    const int got = gzread(file, bytes.data() + old_size, static_cast<unsigned>(kChunk));
    if (got < 0) {
      int code = 0;
      const std::string message = gzerror(file, &code);
      gzclose(file);
      throw make_error(path, "the gzip stream is corrupt (" + message + ")",
                       "Download or copy the file again");
    }
    bytes.resize(old_size + static_cast<size_t>(got));
    if (static_cast<size_t>(got) < kChunk) {
      break;
    }
  }
  // gzread reports a gzip stream cut short (Z_BUF_ERROR) only through gzerror
  // after the last read, or through gzclose.
  int code = 0;
  const std::string message = gzerror(file, &code);
  const int closed = gzclose(file);
  if (code != Z_OK || closed != Z_OK) {
    throw make_error(path,
                     "the gzip stream is truncated or corrupt (" +
                         (code != Z_OK ? message : "gzclose returned " + std::to_string(closed)) +
                         ")",
                     "Download or copy the file again");
  }
  return bytes;
}

}  // namespace

size_t IdxArray::item_size() const {
  size_t size = 1;
  for (size_t i = 1; i < dims.size(); ++i) {
    size *= dims[i];
  }
  return size;
}

IdxArray read_idx(const std::string& path) {
  const std::vector<uint8_t> bytes = read_all(path);
  if (bytes.size() < 4) {
    throw make_error(path,
                     "truncated IDX header: " + std::to_string(bytes.size()) +
                         " bytes, expected at least 4",
                     "Download or copy the file again");
  }
  const uint32_t magic = read_big_endian(bytes.data());
  if (bytes[0] != 0 || bytes[1] != 0 || (bytes[3] != 1 && bytes[3] != 3)) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%08x", magic);
    throw make_error(path,
                     std::string("invalid IDX magic number ") + hex +
                         ", expected 0x00000803 (images) or 0x00000801 (labels)",
                     "Give an IDX file such as train-images-idx3-ubyte(.gz)");
  }
  if (bytes[2] != kUnsignedByte) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", bytes[2]);
    throw make_error(path,
                     std::string("unsupported IDX type byte ") + hex +
                         ", only 0x08 (unsigned byte) is supported",
                     "Give an IDX file of unsigned bytes");
  }
  const size_t rank = bytes[3];
  const size_t header = 4 + 4 * rank;
  if (bytes.size() < header) {
    throw make_error(path,
                     "truncated IDX header: " + std::to_string(bytes.size()) + " bytes, the " +
                         std::to_string(rank) + " dimensions need " + std::to_string(header),
                     "Download or copy the file again");
  }

  IdxArray array;
  array.path = path;
  std::string shape;
  // Three 32-bit sizes multiply to less than 2^96, so the product is checked
  // against the data length step by step instead of formed in 64 bits.
  const size_t data_bytes = bytes.size() - header;
  size_t expected = 1;
  bool too_large = false;
  for (size_t i = 0; i < rank; ++i) {
    const uint32_t size = read_big_endian(bytes.data() + 4 + 4 * i);
    if (size == 0) {
      throw make_error(path, "IDX dimension " + std::to_string(i) + " is 0",
                       "Give a file with at least one item");
    }
    array.dims.push_back(size);
    shape += (i == 0 ? "" : " x ") + std::to_string(size);
    if (expected > data_bytes / size + 1) {
      too_large = true;
    } else {
      expected *= size;
    }
  }
  if (too_large || data_bytes < expected) {
    throw make_error(path,
                     "truncated IDX data: the header declares " + shape + " values, but only " +
                         std::to_string(data_bytes) + " bytes follow it",
                     "Download or copy the file again");
  }
  if (data_bytes > expected) {
    throw make_error(path,
                     std::to_string(data_bytes - expected) +
                         " trailing bytes after the IDX data: the header declares " + shape +
                         " = " + std::to_string(expected) + " values",
                     "Check that the header's dimensions match the data");
  }
  array.values.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
  return array;
}

}  // namespace fmala::io
