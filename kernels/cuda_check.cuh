#pragma once
// Error checking and owning wrappers for CUDA runtime resources.

#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

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

// An event for ordering work between streams; it records no time.
class EventHandle {
 public:
  EventHandle() { FMALA_CUDA_CHECK(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming)); }
  EventHandle(const EventHandle&) = delete;
  EventHandle& operator=(const EventHandle&) = delete;
  ~EventHandle() {
    if (event_) {
      cudaEventDestroy(event_);
    }
  }
  cudaEvent_t get() const { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

// n values of T in page-locked host memory, which a copy from the device
// fills while the host goes on. When the host cannot lock that much memory
// it falls back to ordinary memory: the copies into it then make the host
// wait, and their results are the same.
template <class T>
class HostStagingArray {
 public:
  HostStagingArray() = default;
  explicit HostStagingArray(size_t n) : size_(n) {
    if (n == 0) {
      return;
    }
    void* p = nullptr;
    if (cudaMallocHost(&p, n * sizeof(T)) == cudaSuccess) {
      pinned_ = static_cast<T*>(p);
    } else {
      (void)cudaGetLastError();  // an allocation failure is not sticky; clear it
      fallback_.resize(n);
    }
  }
  HostStagingArray(const HostStagingArray&) = delete;
  HostStagingArray& operator=(const HostStagingArray&) = delete;
  HostStagingArray(HostStagingArray&& other) noexcept
      : pinned_(std::exchange(other.pinned_, nullptr)),
        fallback_(std::move(other.fallback_)),
        size_(std::exchange(other.size_, 0)) {}
  HostStagingArray& operator=(HostStagingArray&& other) noexcept {
    if (this != &other) {
      release();
      pinned_ = std::exchange(other.pinned_, nullptr);
      fallback_ = std::move(other.fallback_);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  ~HostStagingArray() { release(); }

  T* data() { return pinned_ ? pinned_ : fallback_.data(); }
  const T* data() const { return pinned_ ? pinned_ : fallback_.data(); }
  size_t size() const { return size_; }
  bool page_locked() const { return pinned_ != nullptr; }

 private:
  void release() noexcept {
    if (pinned_) {
      cudaFreeHost(pinned_);
      pinned_ = nullptr;
    }
  }

  T* pinned_ = nullptr;
  std::vector<T> fallback_;
  size_t size_ = 0;
};

}  // namespace fmala::cuda_detail
