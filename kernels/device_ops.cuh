#pragma once
// DeviceNetworkOps: the device's operations for NetworkEvaluator (see
// backend/network_evaluator.hpp), the twin of HostNetworkOps: arrays in device
// memory, batched products through cuBLAS strided-batched DGEMM, and
// elementwise passes through thrust::for_each, all on one stream.

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <thrust/execution_policy.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/transform_iterator.h>
#include <thrust/system_error.h>

#include <cub/device/device_segmented_reduce.cuh>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "cuda_check.cuh"
#include "fmala/backend/sum3.hpp"
#include "fmala/core/config.hpp"
#include "fmala/core/error.hpp"

namespace fmala::cuda_detail {

// s · stride + shift: the first (shift 0) or one-past-last (shift = length)
// element of segment s.
struct SegmentBound {
  int64_t stride;
  int64_t shift;
  FMALA_HD int64_t operator()(int64_t s) const { return s * stride + shift; }
};

inline void check_cublas(cublasStatus_t status, const char* call) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    throw make_error("CUDA back end",
                     std::string(call) + " failed with " + cublasGetStatusName(status) + " (" +
                         cublasGetStatusString(status) + ")",
                     "Check that the device has enough free memory (nvidia-smi), or use --backend cpu");
  }
}

// Calls f(i) for i in [0, n) on the device, queued on `stream` (null: the
// legacy default stream). `phase` names the pass in errors.
template <class F>
void launch_on(cudaStream_t stream, size_t n, const F& f, const char* phase) {
  if (n == 0) {
    return;
  }
  try {
    thrust::for_each(thrust::cuda::par_nosync.on(stream), thrust::counting_iterator<size_t>(0),
                     thrust::counting_iterator<size_t>(n), f);
  } catch (const thrust::system_error& e) {
    throw make_error("CUDA back end", std::string(phase) + " failed to launch: " + e.what(),
                     "Check the device with nvidia-smi, or use --backend cpu");
  }
  FMALA_CUDA_CHECK(cudaGetLastError());
}

class DeviceNetworkOps {
 public:
  template <class T>
  using Array = DeviceArray<T>;

  explicit DeviceNetworkOps(cudaStream_t stream) : stream_(stream) {
    check_cublas(cublasCreate(&handle_), "cublasCreate");
    const cublasStatus_t status = cublasSetStream(handle_, stream_);
    if (status != CUBLAS_STATUS_SUCCESS) {
      cublasDestroy(handle_);
      check_cublas(status, "cublasSetStream");
    }
  }
  DeviceNetworkOps(const DeviceNetworkOps&) = delete;
  DeviceNetworkOps& operator=(const DeviceNetworkOps&) = delete;
  ~DeviceNetworkOps() { cublasDestroy(handle_); }

  template <class T>
  Array<T> zeros(size_t n) {
    return Array<T>(n, stream_);
  }

  template <class T>
  Array<T> upload(const T* host, size_t n) {
    Array<T> array(n, stream_);
    if (n > 0) {
      FMALA_CUDA_CHECK(cudaMemcpyAsync(array.data(), host, n * sizeof(T), cudaMemcpyHostToDevice, stream_));
      // The host buffer may go away after the return.
      FMALA_CUDA_CHECK(cudaStreamSynchronize(stream_));
    }
    return array;
  }

  // Row-major C_i = α op(A_i) op(B_i) + β C_i. cuBLAS is column-major, and a
  // row-major matrix is its column-major transpose, so this computes
  // C_iᵀ = op(B_i)ᵀ op(A_i)ᵀ with the operands swapped.
  void gemm(bool trans_a, bool trans_b, int m, int n, int k, Real alpha, const Real* a, int lda,
            int64_t stride_a, const Real* b, int ldb, int64_t stride_b, Real beta, Real* c, int ldc,
            int64_t stride_c, int batch) {
    if (m == 0 || n == 0 || batch == 0) {
      return;
    }
    check_cublas(cublasDgemmStridedBatched(handle_, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                                           trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha, b,
                                           ldb, stride_b, a, lda, stride_a, &beta, c, ldc, stride_c,
                                           batch),
                 "cublasDgemmStridedBatched");
  }

  template <class F>
  void launch(size_t n, const F& f, const char* phase) {
    launch_on(stream_, n, f, phase);
  }

  // out[s] = Σ f(j) over j in [s·stride, s·stride + length): one CUB segmented
  // reduction, a thread block per segment, so a long segment (a chain's D
  // parameters) is read by many threads with coalesced loads instead of by
  // one thread. The order of the additions is CUB's.
  template <class F>
  void segment_sums(size_t segments, int64_t stride, int64_t length, const F& f, Sum3* out, const char* phase) {
    if (segments == 0) {
      return;
    }
    const auto values = thrust::make_transform_iterator(thrust::counting_iterator<int64_t>(0), f);
    const auto begins = thrust::make_transform_iterator(thrust::counting_iterator<int64_t>(0), SegmentBound{stride, 0});
    const auto ends = thrust::make_transform_iterator(thrust::counting_iterator<int64_t>(0), SegmentBound{stride, length});
    const auto count = static_cast<int64_t>(segments);
    size_t bytes = 0;
    check_reduce(cub::DeviceSegmentedReduce::Reduce(nullptr, bytes, values, out, count, begins, ends, AddSum3{},
                                                    Sum3{}, stream_),
                 phase);
    // One buffer for every call, grown when a call needs more (CUB needs
    // about one byte here). At least one byte, since a null buffer would make the
    // next call a size query. cudaFree waits for the device, so a buffer is
    // not released while a queued reduction still uses it.
    if (reduce_temp_.size() < std::max<size_t>(bytes, 1)) {
      reduce_temp_ = DeviceArray<char>();
      reduce_temp_ = DeviceArray<char>(std::max<size_t>(bytes, 1), stream_);
    }
    check_reduce(cub::DeviceSegmentedReduce::Reduce(reduce_temp_.data(), bytes, values, out, count, begins, ends,
                                                    AddSum3{}, Sum3{}, stream_),
                 phase);
  }

 private:
  static void check_reduce(cudaError_t status, const char* phase) {
    if (status != cudaSuccess) {
      throw make_error("CUDA back end", std::string(phase) + " failed: " + cudaGetErrorString(status),
                       "Check the device with nvidia-smi, or use --backend cpu");
    }
  }

  cudaStream_t stream_;
  cublasHandle_t handle_ = nullptr;
  DeviceArray<char> reduce_temp_;  // temporary storage of segment_sums
};

}  // namespace fmala::cuda_detail
