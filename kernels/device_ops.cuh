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
#include <thrust/system_error.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "cuda_check.cuh"
#include "fmala/core/config.hpp"
#include "fmala/core/error.hpp"

namespace fmala::cuda_detail {

inline void check_cublas(cublasStatus_t status, const char* call) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    throw make_error("CUDA back end",
                     std::string(call) + " failed with " + cublasGetStatusName(status) + " (" +
                         cublasGetStatusString(status) + ")",
                     "Check that the device has enough free memory (nvidia-smi), or use --backend cpu");
  }
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
    if (n == 0) {
      return;
    }
    try {
      thrust::for_each(thrust::cuda::par_nosync.on(stream_), thrust::counting_iterator<size_t>(0),
                       thrust::counting_iterator<size_t>(n), f);
    } catch (const thrust::system_error& e) {
      throw make_error("CUDA back end", std::string(phase) + " failed to launch: " + e.what(),
                       "Check the device with nvidia-smi, or use --backend cpu");
    }
    FMALA_CUDA_CHECK(cudaGetLastError());
  }

 private:
  cudaStream_t stream_;
  cublasHandle_t handle_ = nullptr;
};

}  // namespace fmala::cuda_detail
