// NPY reader and writer. The format, as NumPy 2.4 documents it in
// numpy/lib/_format_impl.py:
//   bytes 0-5   magic "\x93NUMPY"
//   bytes 6-7   major, minor version
//   version 1.x: 2-byte little-endian header length; 2.x and 3.x: 4 bytes
//   header      a Python dict literal with 'descr', 'fortran_order', 'shape',
//               padded with spaces and ended by '\n'
//   data        product(shape) values, each itemsize bytes

#include "fmala/io/npy.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "fmala/core/error.hpp"
#include "fmala/io/read_file.hpp"
#include "fmala/io/atomic_file.hpp"

namespace fmala::io {

std::string shape_repr(const std::vector<size_t>& shape) {
  std::string text = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) {
      text += ", ";
    }
    text += std::to_string(shape[i]);
  }
  if (shape.size() == 1) {
    text += ",";
  }
  return text + ")";
}

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
// Version 1.0 requires the data to start at a multiple of 64 bytes, so that
// memory-mapped arrays of any dtype are aligned.
constexpr size_t kAlignment = 64;

// Returns the element count of `shape`, or nullopt when it overflows size_t.
std::optional<size_t> element_count(const std::vector<size_t>& shape) {
  size_t count = 1;
  for (size_t extent : shape) {
    if (extent != 0 && count > std::numeric_limits<size_t>::max() / extent) {
      return std::nullopt;
    }
    count *= extent;
  }
  return count;
}


// Builds magic, version 1.0, header length and the space-padded header.
std::string npy_preamble(const std::string& path, const char* descr,
                         const std::vector<size_t>& shape) {
  std::string header = std::string("{'descr': '") + descr +
                       "', 'fortran_order': False, 'shape': " + shape_repr(shape) + ", }";
  const size_t unpadded = kMagicSize + 2 + 2 + header.size() + 1;  // +1 for the final '\n'
  header.append((kAlignment - unpadded % kAlignment) % kAlignment, ' ');
  header += '\n';
  if (header.size() > std::numeric_limits<uint16_t>::max()) {
    throw make_error(path,
                     "the NPY header for shape " + shape_repr(shape) +
                         " exceeds the 65535 bytes that format version 1.0 allows",
                     "Write an array with fewer dimensions");
  }

  std::string preamble(kMagic, kMagicSize);
  preamble += '\x01';
  preamble += '\x00';
  preamble += static_cast<char>(header.size() & 0xff);
  preamble += static_cast<char>(header.size() >> 8);
  return preamble + header;
}

template <typename T>
void write_npy_impl(const std::string& path, const T* data, const std::vector<size_t>& shape,
                    const char* descr) {
  const std::optional<size_t> count = element_count(shape);
  if (!count || *count > std::numeric_limits<size_t>::max() / sizeof(T)) {
    throw make_error(path, "the array shape " + shape_repr(shape) + " is too large to write");
  }
  if (data == nullptr && *count > 0) {
    throw make_error(path, "no data given for an array of shape " + shape_repr(shape),
                     "Pass a pointer to " + std::to_string(*count) + " values");
  }

  AtomicFile file(path);
  file.write(npy_preamble(path, descr, shape));
  if constexpr (std::endian::native == std::endian::little) {
    file.write(data, *count * sizeof(T));
  } else {
    // Byte-swap into little-endian order in blocks to bound the extra memory.
    using Bits = std::conditional_t<sizeof(T) == 8, uint64_t, uint32_t>;
    constexpr size_t kBlock = 1 << 16;
    std::vector<unsigned char> block;
    for (size_t start = 0; start < *count; start += kBlock) {
      const size_t n = std::min(kBlock, *count - start);
      block.resize(n * sizeof(T));
      for (size_t i = 0; i < n; ++i) {
        const Bits bits = std::bit_cast<Bits>(data[start + i]);
        for (size_t b = 0; b < sizeof(T); ++b) {
          block[i * sizeof(T) + b] = static_cast<unsigned char>(bits >> (8 * b));
        }
      }
      file.write(block.data(), block.size());
    }
  }
  file.commit();
}


// The fields of an NPY header dict.
struct Header {
  std::optional<std::string> descr;
  std::optional<bool> fortran_order;
  std::optional<std::vector<size_t>> shape;
};

// A parser for the subset of Python literal syntax that NPY headers use: a
// dict of string keys whose values are strings, True/False, or tuples of
// non-negative integers (with an optional Python 2 'L' suffix).
class HeaderParser {
 public:
  HeaderParser(const std::string& path, const std::string& text) : path_(path), text_(text) {}

  Header parse() {
    Header header;
    skip_space();
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') {
        ++pos_;
        break;
      }
      const std::string key = parse_string();
      skip_space();
      expect(':');
      skip_space();
      if (key == "descr") {
        set_once(header.descr, key, parse_descr());
      } else if (key == "fortran_order") {
        set_once(header.fortran_order, key, parse_bool());
      } else if (key == "shape") {
        set_once(header.shape, key, parse_shape());
      } else {
        fail("unknown key '" + key + "' (the keys are 'descr', 'fortran_order' and 'shape')");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
      } else if (peek() != '}') {
        fail("expected ',' or '}' after the value of '" + key + "'");
      }
    }
    skip_space();
    if (pos_ != text_.size()) {
      fail("unexpected text after the closing '}'");
    }
    if (!header.descr) {
      fail("missing key 'descr'");
    }
    if (!header.fortran_order) {
      fail("missing key 'fortran_order'");
    }
    if (!header.shape) {
      fail("missing key 'shape'");
    }
    return header;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    constexpr size_t kShown = 200;
    std::string excerpt = text_.substr(0, kShown);
    while (!excerpt.empty() && (excerpt.back() == ' ' || excerpt.back() == '\n')) {
      excerpt.pop_back();
    }
    const std::string quoted = "\"" + excerpt + (text_.size() > kShown ? "...\"" : "\"");
    throw make_error(path_,
                     "invalid NPY header at character " + std::to_string(pos_) + ": " + what +
                         ". The header is " + quoted,
                     "Write the file with numpy.save or fmala");
  }

  template <typename T>
  void set_once(std::optional<T>& field, const std::string& key, T value) {
    if (field) {
      fail("duplicate key '" + key + "'");
    }
    field = std::move(value);
  }

  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  void expect(char c) {
    if (peek() != c) {
      fail(std::string("expected '") + c + "'");
    }
    ++pos_;
  }

  std::string parse_string() {
    const char quote = peek();
    if (quote != '\'' && quote != '"') {
      fail("expected a quoted string");
    }
    const size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string::npos) {
      fail("unterminated string");
    }
    std::string value = text_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return value;
  }

  std::string parse_descr() {
    if (peek() == '[') {
      fail("'descr' is a list, which means a structured dtype, and only plain arrays are read");
    }
    return parse_string();
  }

  bool parse_bool() {
    if (text_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (text_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    fail("expected True or False for 'fortran_order'");
  }

  std::vector<size_t> parse_shape() {
    std::vector<size_t> shape;
    expect('(');
    while (true) {
      skip_space();
      if (peek() == ')') {
        ++pos_;
        return shape;
      }
      shape.push_back(parse_extent());
      skip_space();
      if (peek() == ',') {
        ++pos_;
      } else if (peek() != ')') {
        fail("expected ',' or ')' in 'shape'");
      }
    }
  }

  size_t parse_extent() {
    if (peek() < '0' || peek() > '9') {
      fail("expected a non-negative integer in 'shape'");
    }
    size_t value = 0;
    while (peek() >= '0' && peek() <= '9') {
      const size_t digit = static_cast<size_t>(peek() - '0');
      if (value > (std::numeric_limits<size_t>::max() - digit) / 10) {
        fail("an extent in 'shape' is too large");
      }
      value = value * 10 + digit;
      ++pos_;
    }
    if (peek() == 'L') {
      ++pos_;
    }
    return value;
  }

  const std::string& path_;
  const std::string& text_;
  size_t pos_ = 0;
};

// Decodes one little-endian value of type T, independent of the host's byte order.
template <typename T>
double load_little_endian(const unsigned char* bytes) {
  using Bits = std::conditional_t<sizeof(T) == 8, uint64_t,
                                  std::conditional_t<sizeof(T) == 4, uint32_t, uint8_t>>;
  Bits bits = 0;
  for (size_t b = 0; b < sizeof(T); ++b) {
    bits |= static_cast<Bits>(static_cast<Bits>(bytes[b]) << (8 * b));
  }
  return static_cast<double>(std::bit_cast<T>(bits));
}

template <typename T>
void convert(const unsigned char* bytes, size_t count, std::vector<double>& values) {
  values.resize(count);
  for (size_t i = 0; i < count; ++i) {
    values[i] = load_little_endian<T>(bytes + i * sizeof(T));
  }
}

}  // namespace


void write_npy(const std::string& path, const double* data, const std::vector<size_t>& shape) {
  write_npy_impl(path, data, shape, "<f8");
}

void write_npy(const std::string& path, const float* data, const std::vector<size_t>& shape) {
  write_npy_impl(path, data, shape, "<f4");
}

NpyArray read_npy(const std::string& path) {
  const std::string bytes = read_whole_file(path, "NPY file");
  const auto* raw = reinterpret_cast<const unsigned char*>(bytes.data());

  if (bytes.empty()) {
    throw make_error(path, "the NPY file is empty", "Write the file again");
  }
  if (bytes.size() < kMagicSize || bytes.compare(0, kMagicSize, kMagic, kMagicSize) != 0) {
    throw make_error(path, "not an NPY file: it does not start with the magic string \\x93NUMPY",
                     "Pass a file written by numpy.save or fmala");
  }
  if (bytes.size() < kMagicSize + 2) {
    throw make_error(path, "truncated NPY file: it ends inside the version bytes");
  }
  const unsigned major = raw[6];
  const unsigned minor = raw[7];
  if (major < 1 || major > 3) {
    throw make_error(path,
                     "unsupported NPY format version " + std::to_string(major) + "." +
                         std::to_string(minor) + " (supported: 1.x, 2.x, 3.x)",
                     "Save the array with numpy.save");
  }

  // Version 1 stores the header length in 2 bytes; versions 2 and 3 in 4.
  const size_t length_size = major == 1 ? 2 : 4;
  const size_t header_start = kMagicSize + 2 + length_size;
  if (bytes.size() < header_start) {
    throw make_error(path, "truncated NPY file: it ends inside the header length");
  }
  size_t header_size = 0;
  for (size_t b = 0; b < length_size; ++b) {
    header_size |= static_cast<size_t>(raw[kMagicSize + 2 + b]) << (8 * b);
  }
  if (bytes.size() - header_start < header_size) {
    throw make_error(path, "truncated NPY file: the header length is " +
                               std::to_string(header_size) + " bytes but only " +
                               std::to_string(bytes.size() - header_start) + " bytes follow");
  }

  const std::string header_text = bytes.substr(header_start, header_size);
  const Header header = HeaderParser(path, header_text).parse();

  NpyArray array;
  array.shape = *header.shape;
  array.dtype = *header.descr;
  if (*header.fortran_order) {
    throw make_error(path, "the array is stored in Fortran (column-major) order",
                     "Save a C-order copy, e.g. numpy.save(path, numpy.ascontiguousarray(a))");
  }

  const std::string& descr = array.dtype;
  size_t item_size = 0;
  if (descr == "<f8" || descr == "<i8") {
    item_size = 8;
  } else if (descr == "<f4" || descr == "<i4") {
    item_size = 4;
  } else if (descr == "|u1") {
    item_size = 1;
  } else if (!descr.empty() && descr[0] == '>') {
    throw make_error(path, "the array is big-endian (dtype '" + descr + "')",
                     "Convert it before saving, e.g. a.astype(a.dtype.newbyteorder('<'))");
  } else {
    throw make_error(
        path, "unsupported dtype '" + descr + "' (supported: '<f8', '<f4', '<i8', '<i4', '|u1')",
        "Convert the array before saving, e.g. a.astype('<f8')");
  }

  const std::optional<size_t> count = element_count(array.shape);
  if (!count || *count > std::numeric_limits<size_t>::max() / item_size) {
    throw make_error(path, "the shape " + shape_repr(array.shape) + " is too large");
  }
  const size_t data_start = header_start + header_size;
  const size_t expected = *count * item_size;
  const size_t available = bytes.size() - data_start;
  if (available < expected) {
    throw make_error(path,
                     "truncated NPY file: shape " + shape_repr(array.shape) + " of '" + descr +
                         "' needs " + std::to_string(expected) + " data bytes but the file has " +
                         std::to_string(available),
                     "The file was cut short; write it again");
  }
  if (available > expected) {
    throw make_error(path,
                     "the file has " + std::to_string(available - expected) +
                         " bytes after the data that shape " + shape_repr(array.shape) + " of '" +
                         descr + "' describes",
                     "The file is corrupt or not a single NPY array; write it again");
  }

  const unsigned char* data = raw + data_start;
  if (descr == "<f8") {
    convert<double>(data, *count, array.values);
  } else if (descr == "<f4") {
    convert<float>(data, *count, array.values);
  } else if (descr == "<i8") {
    convert<int64_t>(data, *count, array.values);
  } else if (descr == "<i4") {
    convert<int32_t>(data, *count, array.values);
  } else {
    convert<uint8_t>(data, *count, array.values);
  }
  return array;
}

}  // namespace fmala::io
