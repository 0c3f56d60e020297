// The CUDA entry points of a build without a CUDA compiler.

#ifndef FMALA_WITH_CUDA

#include "fmala/backend/cuda.hpp"
#include "fmala/core/error.hpp"

namespace fmala::cuda {

bool compiled() { return false; }

bool device_available(std::string* reason) {
  if (reason) {
    *reason = "this build of fmala has no CUDA back end (no CUDA compiler was found at configure time)";
  }
  return false;
}

int select_device(int) { return -1; }

void check_model(const Model&) {
  throw make_error("--backend cuda", "this build of fmala has no CUDA back end",
                   "Rebuild with nvcc on PATH, or use --backend cpu");
}

SamplerRun run_sampler(const Model&, const RunSettings&, const std::vector<Real>&, const ProgressFn&,
                       const RunControl&) {
  throw make_error("--backend cuda", "this build of fmala has no CUDA back end",
                   "Rebuild with nvcc on PATH, or use --backend cpu");
}

void evaluate_jet(const Model&, int, const Real*, const Real*, int, Real*, Real*, Real*) {
  throw make_error("--backend cuda", "this build of fmala has no CUDA back end",
                   "Rebuild with nvcc on PATH, or use --backend cpu");
}

void evaluate_gradient(const Model&, int, const Real*, Real*, Real*) {
  throw make_error("--backend cuda", "this build of fmala has no CUDA back end",
                   "Rebuild with nvcc on PATH, or use --backend cpu");
}

SamplerRun sample_on_device(const Model&, const RunSettings&, const DeviceBuffers&, const ProgressFn&,
                            const RunControl&) {
  throw make_error("sample_on_device", "this build of fmala has no CUDA back end",
                   "Rebuild with nvcc on PATH");
}

DeviceValues allocate_device_values(size_t) {
  throw make_error("draws on the device", "this build of fmala has no CUDA back end",
                   "Rebuild with nvcc on PATH, or keep the draws on the host");
}

void copy_to_host(const Real*, size_t, Real*) {
  throw make_error("copy_to_host", "this build of fmala has no CUDA back end", "Rebuild with nvcc on PATH");
}

PreparedTrainingSplit prepare_training_split(const io::DeviceArrayView& x, const io::DeviceArrayView&, size_t,
                                             size_t, bool, double, int) {
  throw make_error(x.name + " on the GPU", "this build of fmala has no CUDA back end",
                   "Copy the arrays to the host, or rebuild with nvcc on PATH");
}

int64_t first_nonfinite(const io::DeviceArrayView& a, size_t, double*) {
  throw make_error(a.name + " on the GPU", "this build of fmala has no CUDA back end",
                   "Copy the arrays to the host, or rebuild with nvcc on PATH");
}

PreparedRegressionSplit prepare_regression_split(const io::DeviceArrayView& x, const io::DeviceArrayView&, size_t,
                                                 const std::vector<size_t>&, const std::vector<size_t>&) {
  throw make_error(x.name + " on the GPU", "this build of fmala has no CUDA back end",
                   "Copy the arrays to the host, or rebuild with nvcc on PATH");
}

ProductTiming time_layer_products(int, int, int, int, int) {
  throw make_error("--backend cuda", "this build of fmala has no CUDA back end",
                   "Rebuild with nvcc on PATH, or use --backend cpu");
}

}  // namespace fmala::cuda

#endif
