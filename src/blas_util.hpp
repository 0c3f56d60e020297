#pragma once
// BLAS helpers and dense-layer jet kernels shared by the models on the CPU
// back end (internal header).

#include <cblas.h>

#include <algorithm>
#include <cstddef>
#include <mutex>

#include "fmala/core/config.hpp"

// OpenBLAS's own controls, declared weak so that the library still links and
// runs against any other CBLAS, where they resolve to null.
extern "C" {
int openblas_get_parallel(void) __attribute__((weak));
void openblas_set_num_threads(int) __attribute__((weak));
}

namespace fmala::detail {

// Makes each BLAS call run on the calling thread. The models call the
// products per chain inside the OpenMP loop over chains, and OpenBLAS's
// pthreads build (openblas_get_parallel() == 1, Debian's default libopenblas0)
// would start its own threads for larger products and compete with OpenMP
// for the cores. Sequential builds (0) and OpenMP builds (2, which run
// single-threaded inside a parallel region) are left alone.
inline void use_serial_blas() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (openblas_get_parallel != nullptr && openblas_set_num_threads != nullptr &&
        openblas_get_parallel() == 1) {
      openblas_set_num_threads(1);
    }
  });
}

// C (m, n) = alpha A (m, k) B (k, n) + beta C, all row-major and contiguous.
inline void gemm(int m, int n, int k, Real alpha, const Real* a, const Real* b, Real beta,
                 Real* c) {
  if (n == 1) {
    cblas_dgemv(CblasRowMajor, CblasNoTrans, m, k, alpha, a, k, b, 1, beta, c, 1);
  } else {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, alpha, a, k, b, n, beta, c, n);
  }
}

// Adds the row vector b (cols) to every row of z (rows, cols).
inline void add_bias(int rows, int cols, const Real* __restrict__ b, Real* __restrict__ z) {
  for (int n = 0; n < rows; ++n) {
    Real* row = z + static_cast<size_t>(n) * cols;
    for (int j = 0; j < cols; ++j) {
      row[j] += b[j];
    }
  }
}

// One dense layer along the line θ + t u, for one tile of `rows` rows:
//   Z0 = A0 W + b,  Z1 = A1 W + A0 dW + db,  Z2 = A2 W + 2 A1 dW,
// where W (in, out), b are the layer's parameters and dW, db their direction.
// A stores planes A0, A1, A2, each (rows, in) row-major, one after the other,
// and Z stores planes (rows, out) the same way. Only the first `input_planes`
// planes of A are nonzero and read: 1 for the data (no tangent), 2 after a
// relu layer whose own input was the data (A2 = 0), otherwise 3. The nonzero
// planes multiply W stacked, in one product. Returns the number of planes of
// Z written, at most Order + 1; the planes after them are zero in value but
// not in memory, so callers read only the planes returned.
template <int Order>
inline int dense_jet(int rows, int in, int out, const Real* a, int input_planes, const Real* w,
                     const Real* dw, const Real* b, const Real* db, Real* z) {
  const size_t a_plane = static_cast<size_t>(rows) * in;
  const size_t z_plane = static_cast<size_t>(rows) * out;
  const int stacked = std::min(input_planes, Order + 1);
  gemm(stacked * rows, out, in, 1, a, w, 0, z);
  add_bias(rows, out, b, z);
  if constexpr (Order == 0) {
    return 1;
  }
  Real* z1 = z + z_plane;
  gemm(rows, out, in, 1, a, dw, stacked >= 2 ? 1 : 0, z1);
  add_bias(rows, out, db, z1);
  if (Order == 1 || input_planes == 1) {
    return 2;
  }
  gemm(rows, out, in, 2, a + a_plane, dw, stacked >= 3 ? 1 : 0, z + 2 * z_plane);
  return 3;
}

// x[i] = z[i] > 0 ? x[i] : 0. GCC 12 compiles this one-array select under
// omp simd to vector code (cmppd + andpd). A select over several arrays in one
// loop becomes a branch per entry instead, which mispredicts because the
// signs of z are close to random.
inline void keep_where_positive(size_t count, const Real* __restrict__ z, Real* __restrict__ x) {
#pragma omp simd
  for (size_t i = 0; i < count; ++i) {
    x[i] = z[i] > Real(0) ? x[i] : Real(0);
  }
}

}  // namespace fmala::detail
