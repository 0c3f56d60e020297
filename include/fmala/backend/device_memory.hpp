#pragma once
// Device memory planning for the CUDA back end: what a run allocates on the
// device, computed before anything is allocated, and the network tile that
// makes it fit.

#include <cstddef>
#include <string>

#include "fmala/model/model.hpp"
#include "fmala/samplers/phases.hpp"

namespace fmala {

struct DeviceMemoryPlan {
  size_t chain_bytes = 0;  // the engine's per-chain buffers: states, tangents, gradients, scalars
  size_t data_bytes = 0;   // a network's training data
  size_t work_bytes = 0;   // a network's work buffers for one tile
  int tile = 0;            // training rows per tile of a network; 0 for other models
  size_t total() const { return chain_bytes + data_bytes + work_bytes; }
};

// The device bytes that the CUDA back end allocates for `chains` chains of
// `model` with `options`, with tiles of `tile` rows for a network.
// cuBLAS's workspace and Thrust's temporaries are not included.
DeviceMemoryPlan device_memory_plan(const Model& model, const SamplerOptions& options, int chains,
                                    int tile);

// The plan with the largest tile, from the model's own down by halves, whose
// total fits in `available` bytes. Throws fmala::Error naming --chains when
// even one row per tile does not fit: the message gives the estimate, its
// parts and the largest chain count that fits; `device` names the device.
DeviceMemoryPlan plan_device_memory(const Model& model, const SamplerOptions& options, int chains,
                                    size_t available, const std::string& device);

}  // namespace fmala
