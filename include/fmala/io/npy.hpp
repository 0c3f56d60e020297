#pragma once
// NPY files (NumPy's binary array format), as documented for numpy.lib.format: a magic string, a
// version, a Python-dict header with 'descr', 'fortran_order' and 'shape', then the raw array data.

#include <cstddef>
#include <string>
#include <vector>

namespace fmala::io {

// Writes a C-order array of the given shape as NPY version 1.0 with dtype '<f8'
// (double) or '<f4' (float). `data` points to product(shape) values, and an
// empty shape writes a 0-d array of one value. The header is padded with spaces so that the
// data starts at a multiple of 64 bytes. The file is replaced atomically.
// Throws fmala::Error naming `path` on failure.
void write_npy(const std::string& path, const double* data, const std::vector<size_t>& shape);
void write_npy(const std::string& path, const float* data, const std::vector<size_t>& shape);

// An array read from an NPY file: values converted to double, in C order.
struct NpyArray {
  std::vector<size_t> shape;   // empty for a 0-d array
  std::vector<double> values;  // product(shape) values
  std::string dtype;           // the 'descr' of the file, e.g. "<f4"
};

// Reads an NPY file of version 1.0, 2.0 or 3.0 with dtype '<f8', '<f4', '<i8',
// '<i4' or '|u1'. Integers above 2^53 in magnitude lose precision in the
// conversion to double. Throws fmala::Error naming `path` and the problem for a
// missing file, bad magic string, unsupported version, malformed header,
// Fortran order, big-endian or unsupported dtype, and a data size that does
// not match the shape (truncated or overlong file).
NpyArray read_npy(const std::string& path);

// Formats a shape as Python prints a tuple: (), (3,), (2, 3).
std::string shape_repr(const std::vector<size_t>& shape);

}  // namespace fmala::io
