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
//                                                       // (or the deferred form of draw_record.hpp)
//   bool host_values() const;                           // record() fills out.values
//   EngineCounters counters();                          // host copy of the counters
//   EngineState save_state();                           // host copy of the carried state
//   void restore_state(const EngineState& state);       // instead of initialize()

#include <chrono>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "fmala/adapt/dual_averaging.hpp"
#include "fmala/backend/draw_record.hpp"
#include "fmala/run.hpp"
#include "fmala/samplers/phases.hpp"

namespace fmala {

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Checks that a checkpoint belongs to these settings and this model, and
// that the model gives the checkpoint's log-densities at its states (so the
// data have not changed). Throws fmala::Error naming "checkpoint".
void check_resume(const RunCheckpoint& checkpoint, const Model& model, const RunSettings& settings);

template <class Engine>
SamplerRun drive(Engine& engine,
                 const Model& model,
                 const RunSettings& settings,
                 const std::vector<Real>& theta0,
                 const ProgressFn& progress,
                 const RunControl& control = {}) {
  const SamplerKind kind = settings.options.kind;
  const int chains = settings.chains;
  const int dim = model.dim();
  SamplerRun run;
  run.settings = settings;
  run.target_accept = settings.target_accept.value_or(default_target_accept(kind));

  const bool adapt = !settings.step_size.has_value();
  const Real eta0 = settings.step_size.value_or(
      settings.initial_step.value_or(default_initial_step(kind, dim)));
  const Real min_step = eta0 * settings.min_step_fraction;

  StepContext ctx;
  ctx.options = settings.options;
  ctx.seed = settings.seed;
  ctx.first_chain = static_cast<uint64_t>(settings.first_chain);
  ctx.adapt_per_chain = adapt && settings.adapt_per_chain;
  ctx.target_accept = run.target_accept;
  ctx.min_step = min_step;

  // With streaming, each kept draw passes through `one` into the running
  // statistics, and only the monitored columns are kept.
  const bool streaming = settings.stream.enabled;
  const int columns = streaming ? static_cast<int>(settings.stream.monitor.size()) : dim;
  Draws one;
  if (streaming) {
    one.chains = chains;
    one.draws = 1;
    one.dim = dim;
    one.values.assign(static_cast<size_t>(chains) * dim, Real(0));
    one.log_density.assign(static_cast<size_t>(chains), Real(0));
  }
  const int64_t warmup = settings.warmup;
  const int64_t total = warmup + static_cast<int64_t>(settings.draws) * settings.thin;
  DualAveraging shared = DualAveraging::start(eta0);
  EngineCounters at_warmup_end;
  int64_t done = 0;
  int kept = 0;
  double seconds_warmup = 0;
  double seconds_sampling = 0;
  if (control.resume) {
    RunCheckpoint& from = *control.resume;
    check_resume(from, model, settings);
    engine.restore_state(from.engine);
    shared = from.shared;
    at_warmup_end = from.at_warmup_end;
    done = from.done;
    kept = from.kept;
    seconds_warmup = from.seconds_warmup;
    seconds_sampling = from.seconds_sampling;
    run.draws = std::move(from.kept_draws);
    run.stream = std::move(from.stream);
  } else {
    run.draws.chains = chains;
    run.draws.draws = settings.draws;
    run.draws.dim = columns;
    // An engine that writes the values elsewhere (the caller's device
    // buffers) keeps none on the host.
    if (engine.host_values()) {
      run.draws.values.assign(static_cast<size_t>(chains) * settings.draws * columns, Real(0));
    }
    if (streaming) {
      run.stream.start(chains, dim, settings.stream);
    }
    run.draws.log_density.assign(static_cast<size_t>(chains) * settings.draws, Real(0));
    const size_t cells = static_cast<size_t>(chains) * settings.draws;
    run.draws.accept_prob.assign(cells, Real(0));
    run.draws.step_size.assign(cells, Real(0));
    run.draws.accepted.assign(cells, 0);
    run.draws.nonfinite.assign(cells, 0);
    run.draws.floor_hits.assign(cells, 0);
    engine.initialize(theta0);
    engine.set_step_size(eta0);
    if (ctx.adapt_per_chain) {
      engine.start_chain_adaptation(eta0);
    }
  }

  // Time goes to warmup until the transition that ends it, then to sampling.
  auto phase_start = std::chrono::steady_clock::now();
  const auto account_time = [&]() {
    (done <= warmup ? seconds_warmup : seconds_sampling) += seconds_since(phase_start);
    phase_start = std::chrono::steady_clock::now();
  };
  // The counters at the previous kept draw, or at the end of warmup before
  // the first: each draw's statistics count the transitions in between.
  EngineCounters previous;
  if (done >= warmup) {
    previous = at_warmup_end;
    const Draws& d = run.draws;
    for (int k = 0; k < chains; ++k) {
      for (int s = 0; s < kept; ++s) {
        const size_t slot = static_cast<size_t>(k) * settings.draws + s;
        previous.accepted[k] += d.accepted[slot];
        previous.nonfinite[k] += d.nonfinite[slot];
        previous.floor_hits[k] += d.floor_hits[slot];
      }
    }
  }
  const auto end_warmup = [&]() {
    if (adapt) {
      if (settings.adapt_per_chain) {
        engine.finish_chain_adaptation();
      } else {
        engine.set_step_size(shared.final_step());
      }
    }
    account_time();
    at_warmup_end = engine.counters();
    previous = at_warmup_end;
  };
  // The engine may complete a kept draw after the transitions that follow it
  // (see backend/draw_record.hpp). So `kept` counts the draws started, and
  // each draw's statistics are filled in when its values arrive, in order.
  const auto complete = [&](int slot_index, const EngineCounters& now) {
    Draws& d = run.draws;
    if (streaming) {
      for (int k = 0; k < chains; ++k) {
        const size_t slot = static_cast<size_t>(k) * settings.draws + slot_index;
        d.log_density[slot] = one.log_density[static_cast<size_t>(k)];
        const Real* state = one.at(k, 0);
        for (int m = 0; m < columns; ++m) {
          d.values[slot * columns + m] = state[settings.stream.monitor[static_cast<size_t>(m)]];
        }
      }
      run.stream.add(one);
    }
    for (int k = 0; k < chains; ++k) {
      const size_t slot = static_cast<size_t>(k) * settings.draws + slot_index;
      d.accept_prob[slot] = now.last_accept_prob[k];
      d.step_size[slot] = now.step_size[k];
      d.accepted[slot] = now.accepted[k] - previous.accepted[k];
      d.nonfinite[slot] = now.nonfinite[k] - previous.nonfinite[k];
      d.floor_hits[slot] = now.floor_hits[k] - previous.floor_hits[k];
    }
    previous = now;
  };
  const auto record = [&]() {
    const int slot_index = kept;
    record_draw(engine, streaming ? one : run.draws, streaming ? 0 : slot_index,
                [&complete, slot_index](const EngineCounters& now) { complete(slot_index, now); });
    ++kept;
  };
  // Draws still in flight when the run leaves early are dropped with it.
  const CancelRecordsOnExit<Engine> cancel_on_exit(engine);
  // The checkpoint borrows the draws for the call and gives them back.
  const auto save = [&]() {
    finish_records(engine);
    account_time();
    RunCheckpoint state;
    state.sampler = std::string(sampler_name(kind));
    state.first_chain = settings.first_chain;
    state.chains = chains;
    state.dim = dim;
    state.warmup = settings.warmup;
    state.draws = settings.draws;
    state.thin = settings.thin;
    state.seed = settings.seed;
    state.done = done;
    state.kept = kept;
    state.shared = shared;
    state.engine = engine.save_state();
    state.at_warmup_end = at_warmup_end;
    state.seconds_warmup = seconds_warmup;
    state.seconds_sampling = seconds_sampling;
    std::swap(state.kept_draws, run.draws);
    std::swap(state.stream, run.stream);
    try {
      control.save(state);
    } catch (...) {
      std::swap(state.kept_draws, run.draws);
      std::swap(state.stream, run.stream);
      throw;
    }
    std::swap(state.kept_draws, run.draws);
    std::swap(state.stream, run.stream);
  };

  const int64_t first = done;
  if (done == 0 && warmup == 0) {
    end_warmup();
  }
  // The random numbers of transition t depend on (seed, chain, t) only, so a
  // resumed run draws the same ones.
  while (done < total) {
    const bool warming = done < warmup;
    ctx.step = done;
    engine.step(ctx, warming && adapt);
    if (warming && adapt && !settings.adapt_per_chain) {
      const Real mean = control.mean_accept_prob ? control.mean_accept_prob(engine.counters().last_accept_prob)
                                                 : engine.mean_accept_prob();
      engine.set_step_size(shared.update(mean, run.target_accept, min_step));
    }
    ++done;
    if (done == warmup) {
      end_warmup();
    }
    if (done > warmup && (done - warmup) % settings.thin == 0) {
      record();
    }
    if (progress && (done % 16 == 0 || done == total)) {
      progress(done, total);
    }
    if (done == total) {
      break;
    }
    const bool stop = control.stop_requested && control.stop_requested();
    if (control.save && (stop || (control.checkpoint_every > 0 && done % control.checkpoint_every == 0))) {
      save();
    }
    if (stop) {
      throw RunStopped(done, total);
    }
  }
  if (control.save && done > first) {
    save();
  } else {
    finish_records(engine);
    account_time();
  }
  run.seconds_warmup = seconds_warmup;
  run.seconds_sampling = seconds_sampling;

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
    // The final step is dual averaging's weighted mean of log η, which stays
    // a little above the floor even when the last iterates all sat on it.
    for (Real eta : run.step_size) {
      if (eta <= min_step * Real(2)) {
        run.step_size_at_floor = true;
      }
    }
  }
  // Line-HMC: one jet at θ and one after each of the L position updates.
  int64_t evals_per_step =
      needs_current_jet(settings.options) || needs_current_gradient(settings.options) ? 2 : 1;
  if (kind == SamplerKind::line_hmc) {
    evals_per_step = 1 + static_cast<int64_t>(settings.options.leapfrog_steps);
  }
  // Several curvature tangents: M − 1 more jets at θ* and, unless cached, at θ.
  if (has_curvature_tangents(settings.options)) {
    const int64_t extra = settings.options.curvature_tangents - 1;
    evals_per_step += needs_current_jet(settings.options) ? 2 * extra : extra;
  }
  run.evaluations = total * evals_per_step;
  return run;
}

}  // namespace fmala
