#pragma once
// HostNetworkOps: the host's operations for NetworkEvaluator (see
// backend/network_evaluator.hpp): arrays in host memory, batched products as one
// CBLAS call per batch item, and elementwise passes as OpenMP loops. The
// device's twin is kernels/device_ops.cuh; the CPU tests run the evaluator
// with this one.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "fmala/backend/sum3.hpp"
#include "fmala/core/config.hpp"

namespace fmala {

class HostNetworkOps {
 public:
  template <class T>
  class Array {
   public:
    Array() = default;
    explicit Array(std::vector<T> values) : values_(std::move(values)) {}
    T* data() { return values_.empty() ? nullptr : values_.data(); }
    const T* data() const { return values_.empty() ? nullptr : values_.data(); }
    size_t size() const { return values_.size(); }
    size_t bytes() const { return values_.size() * sizeof(T); }

   private:
    std::vector<T> values_;
  };

  template <class T>
  Array<T> zeros(size_t n) {
    return Array<T>(std::vector<T>(n, T(0)));
  }
  template <class T>
  Array<T> upload(const T* host, size_t n) {
    return Array<T>(std::vector<T>(host, host + n));
  }

  // Row-major C_i = α op(A_i) op(B_i) + β C_i for i < batch, with
  // X_i = X + i · stride_x (a stride of 0 shares one matrix).
  void gemm(bool trans_a, bool trans_b, int m, int n, int k, Real alpha, const Real* a, int lda,
            int64_t stride_a, const Real* b, int ldb, int64_t stride_b, Real beta, Real* c, int ldc,
            int64_t stride_c, int batch);

  template <class F>
  void launch(size_t n, const F& f, const char* /*phase*/) {
    const int64_t count = static_cast<int64_t>(n);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < count; ++i) {
      f(static_cast<size_t>(i));
    }
  }

  // out[s] = Σ f(j) over j in [s·stride, s·stride + length), in index order.
  template <class F>
  void segment_sums(size_t segments, int64_t stride, int64_t length, const F& f, Sum3* out,
                    const char* /*phase*/) {
    const int64_t count = static_cast<int64_t>(segments);
#pragma omp parallel for schedule(static)
    for (int64_t s = 0; s < count; ++s) {
      Sum3 total;
      for (int64_t j = s * stride; j < s * stride + length; ++j) {
        total = total + f(j);
      }
      out[s] = total;
    }
  }
};

}  // namespace fmala
