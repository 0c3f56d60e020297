#pragma once
// Error checking and owning wrappers for CUDA runtime resources.

#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>
#include <utility>

#include "fmala/core/error.hpp"

namespace fmala::cuda_detail {

// Builds the fmala::Error for a failed CUDA runtime call.
inline Error cuda_error(cudaError_t status, const char* expression, const char* file, int line) {
  return make_error("CUDA back end",
                    std::string(expression) + " failed at " + file + ":" + std::to_string(line) +
                        " with " + cudaGetErrorName(status) + " (" + cudaGetErrorString(status) +
                        ")",
                    "Check that the device is healthy and has enough free memory "
                    "(nvidia-smi), or use --backend cpu");
}

}  // namespace fmala::cuda_detail

// Evaluates a CUDA runtime call and throws fmala::Error naming the call, the
// source location and the CUDA error when it does not return cudaSuccess.
#define FMALA_CUDA_CHECK(expr)                                                               \
  do {                                                                                       \
    const cudaError_t fmala_cuda_status_ = (expr);                                           \
    if (fmala_cuda_status_ != cudaSuccess) {                                                 \
      throw ::fmala::cuda_detail::cuda_error(fmala_cuda_status_, #expr, __FILE__, __LINE__); \
    }                                                                                        \
  } while (false)

namespace fmala::cuda_detail {

// An owning array of n values of T in device memory, zero-filled on `stream`
// so that later work on that stream reads zeros. A plain cudaMemset would run
// on the legacy default stream, which a non-blocking stream is not ordered after.
template <class T>
class DeviceArray {
 public:
  DeviceArray() = default;
  DeviceArray(size_t n, cudaStream_t stream) : size_(n) {
    if (n > 0) {
      void* p = nullptr;
      FMALA_CUDA_CHECK(cudaMalloc(&p, n * sizeof(T)));
      data_ = static_cast<T*>(p);
      const cudaError_t status = cudaMemsetAsync(data_, 0, n * sizeof(T), stream);
      if (status != cudaSuccess) {
        cudaFree(data_);
        data_ = nullptr;
        throw cuda_error(status, "cudaMemsetAsync(data_, 0, n * sizeof(T), stream)", __FILE__,
                         __LINE__);
      }
    }
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  DeviceArray(DeviceArray&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  DeviceArray& operator=(DeviceArray&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  ~DeviceArray() { release(); }

  T* data() const { return data_; }
  size_t size() const { return size_; }
  size_t bytes() const { return size_ * sizeof(T); }

 private:
  // cudaFree errors are ignored: a destructor must not throw, and a failed
  // free leaves nothing to recover.
  void release() noexcept {
    if (data_) {
      cudaFree(data_);
      data_ = nullptr;
    }
  }

  T* data_ = nullptr;
  size_t size_ = 0;
};

// A CUDA stream. With no argument it creates and owns one that does not
// synchronise with the legacy default stream. Given the caller's stream, it
// uses it and does not destroy it.
class StreamHandle {
 public:
  explicit StreamHandle(cudaStream_t external = nullptr) : stream_(external), owned_(external == nullptr) {
    if (owned_) {
      FMALA_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    }
  }
  StreamHandle(const StreamHandle&) = delete;
  StreamHandle& operator=(const StreamHandle&) = delete;
  ~StreamHandle() {
    if (owned_ && stream_) {
      cudaStreamDestroy(stream_);
    }
  }
  cudaStream_t get() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
  bool owned_ = true;
};

}  // namespace fmala::cuda_detail
