// Timing of the dense-layer jet products on the device against plain cuBLAS
// products of the same shapes, for fmala-bench.

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <thrust/execution_policy.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>

#include <string>

#include "cuda_check.cuh"
#include "device_ops.cuh"
#include "fmala/backend/cuda.hpp"
#include "fmala/core/error.hpp"

namespace fmala::cuda {

namespace {

// An owning CUDA event.
class Event {
 public:
  Event() { FMALA_CUDA_CHECK(cudaEventCreate(&event_)); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event() { cudaEventDestroy(event_); }
  cudaEvent_t get() const { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

// Fills values with numbers spread over [-1, 1] (a product of zeros can run
// faster than one of data).
template <class T>
struct Spread {
  T* values;
  __device__ void operator()(size_t i) const {
    values[i] = static_cast<T>(sin(0.6180339887 * static_cast<double>(i) + 0.5));
  }
};

template <class T>
void spread(cuda_detail::DeviceArray<T>& array, cudaStream_t stream) {
  thrust::for_each(thrust::cuda::par.on(stream), thrust::counting_iterator<size_t>(0),
                   thrust::counting_iterator<size_t>(array.size()), Spread<T>{array.data()});
  FMALA_CUDA_CHECK(cudaGetLastError());
}

// Seconds per call of `work`, from `repeats` calls after one untimed call.
template <class Work>
double seconds_per_call(cudaStream_t stream, int repeats, const Work& work) {
  work();
  Event start, stop;
  FMALA_CUDA_CHECK(cudaEventRecord(start.get(), stream));
  for (int r = 0; r < repeats; ++r) {
    work();
  }
  FMALA_CUDA_CHECK(cudaEventRecord(stop.get(), stream));
  FMALA_CUDA_CHECK(cudaEventSynchronize(stop.get()));
  float ms = 0;
  FMALA_CUDA_CHECK(cudaEventElapsedTime(&ms, start.get(), stop.get()));
  return static_cast<double>(ms) * 1e-3 / repeats;
}

}  // namespace

ProductTiming time_layer_products(int chains, int rows, int in, int out, int repeats) {
  std::string reason;
  if (!device_available(&reason)) {
    throw make_error("time_layer_products", reason, "Run it on a machine with a CUDA device");
  }
  if (repeats < 1) {
    throw make_error("time_layer_products", "repeats is " + std::to_string(repeats), "Time at least one call");
  }
  using cuda_detail::DeviceArray;
  cuda_detail::StreamHandle stream;
  cuda_detail::DeviceNetworkOps ops(stream.get());
  const size_t c = static_cast<size_t>(chains);
  const int64_t plane_in = static_cast<int64_t>(rows) * in;
  const int64_t plane_out = static_cast<int64_t>(rows) * out;
  const int64_t weights = static_cast<int64_t>(in) * out;
  // Per chain: three input planes, W and dW, three output planes.
  DeviceArray<Real> h(c * 3 * plane_in, stream.get());
  DeviceArray<Real> w(c * 2 * weights, stream.get());
  DeviceArray<Real> z(c * 3 * plane_out, stream.get());
  spread(h, stream.get());
  spread(w, stream.get());
  const Real* dw = w.data() + weights;
  ProductTiming timing;
  // The evaluator's products for a hidden layer at order 2:
  // [Z; Z'; Z''] = [H; H'; H''] W, Z' += H dW, Z'' += 2 H' dW.
  timing.jet_seconds = seconds_per_call(stream.get(), repeats, [&] {
    ops.gemm(false, false, 3 * rows, out, in, 1, h.data(), in, 3 * plane_in, w.data(), out,
             2 * weights, 0, z.data(), out, 3 * plane_out, chains);
    ops.gemm(false, false, rows, out, in, 1, h.data(), in, 3 * plane_in, dw, out, 2 * weights, 1,
             z.data() + plane_out, out, 3 * plane_out, chains);
    ops.gemm(false, false, rows, out, in, 2, h.data() + plane_in, in, 3 * plane_in, dw, out,
             2 * weights, 1, z.data() + 2 * plane_out, out, 3 * plane_out, chains);
  });
  timing.jet_flops = 2.0 * 5.0 * static_cast<double>(c) * rows * in * out;
  // One plain product of the stacked shape, in double and in single precision.
  timing.dgemm_seconds = seconds_per_call(stream.get(), repeats, [&] {
    ops.gemm(false, false, 3 * rows, out, in, 1, h.data(), in, 3 * plane_in, w.data(), out,
             2 * weights, 0, z.data(), out, 3 * plane_out, chains);
  });
  DeviceArray<float> hs(c * 3 * plane_in, stream.get());
  DeviceArray<float> ws(c * weights, stream.get());
  DeviceArray<float> zs(c * 3 * plane_out, stream.get());
  spread(hs, stream.get());
  spread(ws, stream.get());
  // Created after the arrays, whose allocation may throw, so that the handle
  // is destroyed on every path below.
  cublasHandle_t handle = nullptr;
  cuda_detail::check_cublas(cublasCreate(&handle), "cublasCreate");
  try {
    cuda_detail::check_cublas(cublasSetStream(handle, stream.get()), "cublasSetStream");
    const float one = 1, zero = 0;
    timing.sgemm_seconds = seconds_per_call(stream.get(), repeats, [&] {
      cuda_detail::check_cublas(
          cublasSgemmStridedBatched(handle, CUBLAS_OP_N, CUBLAS_OP_N, out, 3 * rows, in, &one,
                                    ws.data(), out, weights, hs.data(), in, 3 * plane_in, &zero,
                                    zs.data(), out, 3 * plane_out, chains),
          "cublasSgemmStridedBatched");
    });
  } catch (...) {
    cublasDestroy(handle);
    throw;
  }
  cublasDestroy(handle);
  timing.plain_flops = 2.0 * 3.0 * static_cast<double>(c) * rows * in * out;
  return timing;
}

}  // namespace fmala::cuda
