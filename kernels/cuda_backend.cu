// Entry points of the CUDA back end that need no engine: whether it was
// compiled, and whether the current machine can run it. run_sampler is in
// cuda_engine.cu.

#include <cuda_runtime_api.h>

#include <string>

#include "cuda_check.cuh"
#include "fmala/backend/cuda.hpp"

namespace fmala::cuda {

namespace {

#define FMALA_STRINGIFY_IMPL(...) #__VA_ARGS__
#define FMALA_STRINGIFY(...) FMALA_STRINGIFY_IMPL(__VA_ARGS__)
#if defined(__CUDA_ARCH_LIST__)
// nvcc's list of the virtual architectures this file is built for, e.g. "800,900".
constexpr const char* kArchitectures = FMALA_STRINGIFY(__CUDA_ARCH_LIST__);
#else
constexpr const char* kArchitectures = "unknown";
#endif

// An empty kernel. Querying its attributes fails unless this build contains
// code that the current device can run.
__global__ void probe_kernel() {}

std::string describe_error(cudaError_t status) {
  return std::string(cudaGetErrorName(status)) + ": " + cudaGetErrorString(status);
}

}  // namespace

bool compiled() { return true; }

int select_device(int index) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    (void)cudaGetLastError();
    return -1;
  }
  const int device = index % count;
  if (cudaSetDevice(device) != cudaSuccess) {
    (void)cudaGetLastError();
    return -1;
  }
  return device;
}

bool device_available(std::string* reason) {
  std::string failure;
  int count = 0;
  cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    // These errors are not sticky: clear them so later runtime calls start clean.
    (void)cudaGetLastError();
    int driver = 0;
    int runtime = 0;
    (void)cudaDriverGetVersion(&driver);
    (void)cudaRuntimeGetVersion(&runtime);
    const auto version = [](int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); };
    if (status == cudaErrorInsufficientDriver && driver == 0) {
      failure = "no NVIDIA driver is installed, so there is no usable GPU (" + describe_error(status) + ")";
    } else if (status == cudaErrorInsufficientDriver) {
      failure = "the NVIDIA driver supports CUDA " + version(driver) + ", older than the CUDA " +
                version(runtime) + " this build uses; update the driver or rebuild with the CUDA "
                "toolkit the driver supports";
    } else {
      failure = "no usable CUDA device: cudaGetDeviceCount failed with " + describe_error(status);
    }
  } else if (count == 0) {
    failure = "no CUDA device: cudaGetDeviceCount found 0 devices";
  } else {
    int device = 0;
    cudaDeviceProp prop{};
    status = cudaGetDevice(&device);
    if (status == cudaSuccess) {
      status = cudaGetDeviceProperties(&prop, device);
    }
    if (status != cudaSuccess) {
      (void)cudaGetLastError();
      failure = "the current CUDA device cannot be queried: " + describe_error(status);
    } else {
      cudaFuncAttributes attributes{};
      status = cudaFuncGetAttributes(&attributes, probe_kernel);
      if (status != cudaSuccess) {
        (void)cudaGetLastError();
        failure = "CUDA device " + std::to_string(device) + " (" + prop.name + ", compute capability " +
              std::to_string(prop.major) + "." + std::to_string(prop.minor) +
              ") cannot run this build, which holds code for architectures " + kArchitectures +
              " (" + describe_error(status) + "); rebuild for it with -DCMAKE_CUDA_ARCHITECTURES=" +
              std::to_string(prop.major) + std::to_string(prop.minor) + " (CUDA_ARCHITECTURES=" +
              std::to_string(prop.major) + std::to_string(prop.minor) + " for scripts/gpu-bundle.sh)";
      }
    }
  }
  if (failure.empty()) {
    return true;
  }
  if (reason) {
    *reason = failure;
  }
  return false;
}

}  // namespace fmala::cuda
