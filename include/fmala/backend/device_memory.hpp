#pragma once
// Device memory planning for the CUDA back end: what a run allocates on the
// device, computed before anything is allocated, and the network tile that
// makes it fit.

#include <cstddef>
#include <string>

#include "fmala/model/model.hpp"
#include "fmala/samplers/phases.hpp"

namespace fmala {

// The copy to the host that a run makes of each kept draw. The copies start
// from staging buffers on the device, so that they overlap the next transitions.
enum class DrawCopies {
  none,     // the engine keeps no draws (evaluations, benchmarks)
  scalars,  // log-densities and counters; the states go to the caller's device buffers
  states,   // the states too
};

struct DeviceMemoryPlan {
  size_t chain_bytes = 0;  // the engine's per-chain buffers: states, tangents, gradients, scalars
  size_t data_bytes = 0;   // a network's training data
  size_t work_bytes = 0;   // a network's work buffers for one tile
  size_t draw_bytes = 0;   // staging for the copies of kept draws to the host
  int tile = 0;            // training rows per tile of a network; 0 for other models
  size_t total() const { return chain_bytes + data_bytes + work_bytes + draw_bytes; }
};

// The device bytes that the CUDA back end allocates for `chains` chains of
// `model` with `options`, with tiles of `tile` rows for a network, and the
// staging that `draws` needs. cuBLAS's workspace and Thrust's temporaries are
// not included.
DeviceMemoryPlan device_memory_plan(const Model& model, const SamplerOptions& options, int chains,
                                    int tile, DrawCopies draws = DrawCopies::none);

// The device bytes from which one kept draw of `chains` chains of `dim`
// parameters is copied to the host.
size_t draw_staging_bytes(int chains, int dim, DrawCopies draws);

// The plan with the largest tile, from the model's own down by halves, whose
// total fits in `available` bytes. Throws fmala::Error naming --chains when
// even one row per tile does not fit: the message gives the estimate, its
// parts and the largest chain count that fits; `device` names the device.
DeviceMemoryPlan plan_device_memory(const Model& model, const SamplerOptions& options, int chains,
                                    size_t available, const std::string& device,
                                    DrawCopies draws = DrawCopies::none);

}  // namespace fmala
