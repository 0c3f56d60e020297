#include "fmala/io/read_file.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "fmala/core/error.hpp"

namespace fmala::io {

std::string read_whole_file(const std::string& path, const std::string& kind) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    throw make_error(path, "cannot open the " + kind + ": " + std::strerror(errno), "Check the path");
  }
  std::string bytes;
  char buffer[1 << 16];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) {
    bytes.append(buffer, n);
  }
  const bool failed = std::ferror(file) != 0;
  std::fclose(file);
  if (failed) {
    throw make_error(path, "reading the " + kind + " failed", "Check that the path is a regular file");
  }
  return bytes;
}

}  // namespace fmala::io
