#pragma once
// The run loop shared by both back ends: warmup with step-size adaptation,
// then sampling with thinning. An Engine owns the per-chain buffers of one
// back end and provides
//
//   void initialize(const std::vector<Real>& theta0);   // (C, D) host
//   void set_step_size(Real eta);                       // all chains
//   void start_chain_adaptation(Real eta0);             // per-chain dual averaging
//   void finish_chain_adaptation();                     // η ← averaged η per chain
//   void step(const StepContext& ctx, bool adapting);   // one transition, all chains
//   Real mean_accept_prob();                            // over chains, fixed order
//   void record(Draws& out, int index);                 // copy θ and f of every chain
//   EngineCounters counters();                          // host copy of the counters

#include <chrono>
#include <cmath>
#include <vector>

#include "fmala/adapt/dual_averaging.hpp"
#include "fmala/run.hpp"
#include "fmala/samplers/phases.hpp"

namespace fmala {

struct EngineCounters {
  std::vector<int64_t> accepted;     // (C)
  std::vector<int64_t> nonfinite;    // (C)
  std::vector<int64_t> floor_hits;   // (C)
  std::vector<Real> accept_prob_sum; // (C) Σ min(1, α) over the run
  std::vector<Real> step_size;       // (C)
};

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

template <class Engine>
SamplerRun drive(Engine& engine,
                 const Model& model,
                 const RunSettings& settings,
                 const std::vector<Real>& theta0,
                 const ProgressFn& progress) {
  const SamplerKind kind = settings.options.kind;
  const int chains = settings.chains;
  const int dim = model.dim();
  SamplerRun run;
  run.settings = settings;
  run.target_accept = settings.target_accept.value_or(default_target_accept(kind));
  run.draws.chains = chains;
  run.draws.draws = settings.draws;
  run.draws.dim = dim;
  run.draws.values.assign(static_cast<size_t>(chains) * settings.draws * dim, Real(0));
  run.draws.log_density.assign(static_cast<size_t>(chains) * settings.draws, Real(0));

  const bool adapt = !settings.step_size.has_value();
  const Real eta0 = settings.step_size.value_or(
      settings.initial_step.value_or(default_initial_step(kind, dim)));
  const Real min_step = eta0 * settings.min_step_fraction;

  StepContext ctx;
  ctx.options = settings.options;
  ctx.seed = settings.seed;
  ctx.adapt_per_chain = adapt && settings.adapt_per_chain;
  ctx.target_accept = run.target_accept;
  ctx.min_step = min_step;

  engine.initialize(theta0);
  engine.set_step_size(eta0);
  if (ctx.adapt_per_chain) {
    engine.start_chain_adaptation(eta0);
  }
  DualAveraging shared = DualAveraging::start(eta0);

  const int64_t total = static_cast<int64_t>(settings.warmup) +
                        static_cast<int64_t>(settings.draws) * settings.thin;
  int64_t done = 0;
  auto report = [&]() {
    if (progress && (done % 16 == 0 || done == total)) {
      progress(done, total);
    }
  };

  // Warmup: adaptation (or burn-in with a fixed step).
  const auto warmup_start = std::chrono::steady_clock::now();
  for (int t = 0; t < settings.warmup; ++t) {
    ctx.step = t;
    engine.step(ctx, adapt);
    if (adapt && !settings.adapt_per_chain) {
      const Real eta = shared.update(engine.mean_accept_prob(), run.target_accept, min_step);
      engine.set_step_size(eta);
    }
    ++done;
    report();
  }
  if (adapt) {
    if (settings.adapt_per_chain) {
      engine.finish_chain_adaptation();
    } else {
      engine.set_step_size(shared.final_step());
    }
  }
  run.seconds_warmup = seconds_since(warmup_start);
  const EngineCounters at_warmup_end = engine.counters();

  // Sampling: keep every thin-th state.
  const auto sampling_start = std::chrono::steady_clock::now();
  for (int s = 0; s < settings.draws; ++s) {
    for (int j = 0; j < settings.thin; ++j) {
      ctx.step = static_cast<int64_t>(settings.warmup) + static_cast<int64_t>(s) * settings.thin + j;
      engine.step(ctx, false);
      ++done;
      report();
    }
    engine.record(run.draws, s);
  }
  run.seconds_sampling = seconds_since(sampling_start);

  const EngineCounters end = engine.counters();
  const double sampling_steps = static_cast<double>(settings.draws) * settings.thin;
  double accepted = 0.0;
  double prob = 0.0;
  for (int k = 0; k < chains; ++k) {
    accepted += static_cast<double>(end.accepted[k] - at_warmup_end.accepted[k]);
    prob += static_cast<double>(end.accept_prob_sum[k] - at_warmup_end.accept_prob_sum[k]);
    run.nonfinite_rejections += end.nonfinite[k];
    run.curvature_floor_hits += end.floor_hits[k];
  }
  const double denom = sampling_steps * chains;
  run.acceptance_rate = denom > 0 ? static_cast<Real>(accepted / denom) : Real(NAN);
  run.accept_prob = denom > 0 ? static_cast<Real>(prob / denom) : Real(NAN);
  run.step_size = end.step_size;
  if (adapt) {
    for (Real eta : run.step_size) {
      if (eta <= min_step * Real(1.0001)) {
        run.step_size_at_floor = true;
      }
    }
  }
  // Line-HMC: one jet at θ and one after each of the L position updates.
  int64_t evals_per_step = needs_current_jet(settings.options) ? 2 : 1;
  if (kind == SamplerKind::line_hmc) {
    evals_per_step = 1 + static_cast<int64_t>(settings.options.leapfrog_steps);
  }
  run.evaluations = total * evals_per_step;
  return run;
}

}  // namespace fmala
