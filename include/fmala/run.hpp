#pragma once
// Running one sampler on many chains: settings, results and the entry point.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "fmala/core/config.hpp"
#include "fmala/model/model.hpp"
#include "fmala/samplers/kinds.hpp"

namespace fmala {

enum class Backend { cpu, cuda };

struct RunSettings {
  SamplerOptions options;
  int chains = 64;
  int warmup = 1000;  // transitions before the first kept draw
  int draws = 1000;   // kept draws per chain; a run makes warmup + draws × thin transitions
  int thin = 1;
  uint64_t seed = 1;
  std::optional<Real> step_size;      // fixed η; warmup is then plain burn-in
  std::optional<Real> initial_step;   // start of dual averaging; a per-sampler guess when empty
  std::optional<Real> target_accept;  // default_target_accept(kind) when empty
  bool adapt_per_chain = false;       // one step size per chain instead of one shared
  Real min_step_fraction = Real(1e-3);  // adaptation never takes η below this × initial η
  Backend backend = Backend::cpu;
  int threads = 0;  // OpenMP threads on the CPU back end; 0 keeps the default
};

// Checks option combinations and ranges; throws fmala::Error naming the flag.
void validate(const RunSettings& settings, int dim);

// Initial η for dual averaging when the user gives none.
Real default_initial_step(SamplerKind kind, int dim);

struct SamplerRun {
  RunSettings settings;
  Draws draws;                  // kept draws (C, S, D) and log-density (C, S)
  std::vector<Real> step_size;  // (C) final step size per chain
  Real target_accept = 0;
  Real acceptance_rate = 0;     // fraction of accepted proposals after warmup
  Real accept_prob = 0;         // mean min(1, α) after warmup
  int64_t nonfinite_rejections = 0;  // whole run
  int64_t curvature_floor_hits = 0;  // whole run
  bool step_size_at_floor = false;   // adaptation reached its lower bound
  double seconds_warmup = 0;
  double seconds_sampling = 0;
  int64_t evaluations = 0;           // jet or gradient evaluations per chain, whole run
  size_t peak_memory_bytes = 0;      // CPU: peak host resident set size; CUDA: device memory of the engine's buffers
};

// Progress: (transitions done, transitions in all).
using ProgressFn = std::function<void(int64_t, int64_t)>;

// Runs one sampler from the initial states of `model` and returns its draws
// and statistics. Throws fmala::Error on bad settings or a non-finite initial state.
SamplerRun run_sampler(const Model& model, const RunSettings& settings, const ProgressFn& progress = {});

}  // namespace fmala
