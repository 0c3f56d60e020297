// Device memory planning for the CUDA back end (see backend/device_memory.hpp).

#include "fmala/backend/device_memory.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

#include "fmala/adapt/dual_averaging.hpp"
#include "fmala/backend/buffer_layout.hpp"
#include "fmala/backend/draw_record.hpp"
#include "fmala/backend/network_evaluator.hpp"
#include "fmala/backend/parallel_step.hpp"
#include "fmala/core/error.hpp"

namespace fmala {

namespace {

std::string gib(size_t bytes) { return fmt::format("{:.2f} GiB", static_cast<double>(bytes) / (1 << 30)); }

}  // namespace

size_t draw_staging_bytes(int chains, int dim, DrawCopies draws) {
  if (draws == DrawCopies::none) {
    return 0;
  }
  const size_t c = static_cast<size_t>(std::max(chains, 0));
  // f, Σ min(1, α), η and the last min(1, α); the three counters.
  size_t bytes = sizeof(Real) * c * kDrawStagingScalars + sizeof(int64_t) * c * kCounterBuffers;
  if (draws == DrawCopies::states) {
    bytes += sizeof(Real) * c * static_cast<size_t>(std::max(dim, 0));
  }
  return bytes;
}

DeviceMemoryPlan device_memory_plan(const Model& model, const SamplerOptions& options, int chains,
                                    int tile, DrawCopies draws) {
  const size_t c = static_cast<size_t>(std::max(chains, 0));
  const size_t d = static_cast<size_t>(model.dim());
  DeviceMemoryPlan plan;
  plan.draw_bytes = draw_staging_bytes(chains, model.dim(), draws);
  plan.chain_bytes = sizeof(Real) * c * d * static_cast<size_t>(matrix_buffer_count(options)) +
                     sizeof(Real) * c * kScalarBuffers + sizeof(int64_t) * c * kCounterBuffers +
                     sizeof(DualAveraging) * c + kStepScratchBytesPerChain * c;
  if (has_curvature_tangents(options)) {
    plan.chain_bytes += sizeof(Real) * c * kCurvatureScalarBuffers;
  }
  const NetworkSpec* spec = model.network_spec();
  if (model.analytic_target() != nullptr || spec == nullptr) {
    if (options.kind == SamplerKind::mala) {
      plan.chain_bytes += sizeof(Real) * c * d;  // unit vectors of a target without gradient()
    }
    return plan;
  }
  NetworkSpec tiled = *spec;
  tiled.tile = std::max(tile, 1);
  plan.tile = static_cast<int>(std::min<size_t>(static_cast<size_t>(tiled.tile), spec->rows));
  const size_t inputs = spec->layers.empty() ? 0 : static_cast<size_t>(spec->layers.front().in);
  // Data read in place are in the device's memory already: the free memory
  // the plan starts from leaves them out.
  plan.data_bytes = spec->data_on_device
                        ? 0
                        : spec->rows * inputs * sizeof(double) +
                              spec->rows * (spec->likelihood == NetworkSpec::Likelihood::gaussian ? sizeof(double)
                                                                                                  : sizeof(int));
  plan.work_bytes = network_work_bytes(tiled, chains, options.kind == SamplerKind::mala);
  return plan;
}

DeviceMemoryPlan plan_device_memory(const Model& model, const SamplerOptions& options, int chains,
                                    size_t available, const std::string& device, DrawCopies draws) {
  const NetworkSpec* spec = model.network_spec();
  int tile = spec && !model.analytic_target() ? std::max(spec->tile, 1) : 0;
  DeviceMemoryPlan plan = device_memory_plan(model, options, chains, tile, draws);
  while (plan.total() > available && tile > 1) {
    tile = std::max(tile / 2, 1);
    plan = device_memory_plan(model, options, chains, tile, draws);
  }
  if (plan.total() <= available) {
    return plan;
  }
  // Per-chain bytes at the smallest tile, from plans of one and two chains.
  const DeviceMemoryPlan one = device_memory_plan(model, options, 1, std::max(tile, 1), draws);
  const DeviceMemoryPlan two = device_memory_plan(model, options, 2, std::max(tile, 1), draws);
  const size_t per_chain = two.total() - one.total();
  const size_t fixed = one.total() - per_chain;
  const size_t fits = available > fixed && per_chain > 0 ? (available - fixed) / per_chain : 0;
  std::string parts = gib(plan.chain_bytes) + " of chain state (" + std::to_string(chains) +
                      " chains × " + std::to_string(model.dim()) + " parameters)";
  if (plan.draw_bytes > 0) {
    parts += ", " + gib(plan.draw_bytes) + " to copy kept draws from";
  }
  if (plan.tile > 0) {
    parts += ", " + gib(plan.work_bytes) + " of network work buffers at 1 row per tile and " +
             gib(plan.data_bytes) + " of training data";
  }
  const std::string fix =
      fits > 0 ? "Run at most " + std::to_string(fits) +
                     " chains at once (--chains, or --chain-batch to run them in batches)"
               : "The training data alone do not fit; use fewer rows (--train-subset) or --backend cpu";
  throw make_error("--chains",
                   "the run needs about " + gib(plan.total()) + " of device memory, more than the " +
                       gib(available) + " that " + device + " can give it: " + parts,
                   fix);
}

}  // namespace fmala
