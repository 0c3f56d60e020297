#include "fmala/run.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <utility>

#include "fmala/backend/buffer_layout.hpp"
#include "fmala/backend/cpu_engine.hpp"
#include "fmala/backend/cuda.hpp"
#include "fmala/core/error.hpp"

namespace fmala {

int64_t all_chains(const RunSettings& s) { return s.all_chains > 0 ? s.all_chains : s.chains; }

Real default_initial_step(SamplerKind kind, int dim) {
  const Real root_d = std::sqrt(static_cast<Real>(dim));
  switch (kind) {
    case SamplerKind::rwmh:
    case SamplerKind::fmala:
    case SamplerKind::pc_fmala: return Real(1) / root_d;
    case SamplerKind::mala: return Real(1) / std::pow(static_cast<Real>(dim), Real(1.0 / 6.0));
    case SamplerKind::line_fmala:
    case SamplerKind::pc_line_fmala:
    case SamplerKind::line_hmc: return Real(1);
  }
  return Real(0.1);
}

void validate(const RunSettings& s, int dim) {
  const SamplerKind kind = s.options.kind;
  const std::string name(sampler_name(kind));
  if (dim < 1) {
    throw make_error("--dim", "the model has " + std::to_string(dim) + " parameters",
                     "Use at least 1");
  }
  if (s.chains < 1) {
    throw make_error("--chains", "must be at least 1, got " + std::to_string(s.chains));
  }
  if (s.warmup < 0) {
    throw make_error("--warmup", "must be 0 or more, got " + std::to_string(s.warmup));
  }
  if (s.draws < 1) {
    throw make_error("--draws", "must be at least 1, got " + std::to_string(s.draws));
  }
  if (s.thin < 1) {
    throw make_error("--thin", "must be at least 1, got " + std::to_string(s.thin));
  }
  if (s.step_size && !(*s.step_size > 0 && std::isfinite(*s.step_size))) {
    throw make_error("--step-size", "must be a positive number or 'auto'");
  }
  if (s.target_accept && !(*s.target_accept > 0 && *s.target_accept < 1)) {
    throw make_error("--target-accept", "must lie strictly between 0 and 1");
  }
  if (s.options.sqrt_dim && kind != SamplerKind::fmala && kind != SamplerKind::line_fmala) {
    throw make_error("--sqrt-dim", "applies to fmala and line-fmala only, not " + name);
  }
  if (s.options.aligned && kind != SamplerKind::fmala && kind != SamplerKind::pc_fmala) {
    throw make_error("--aligned", "applies to fmala and pc-fmala only, not " + name);
  }
  if (s.options.persistent && kind != SamplerKind::fmala && kind != SamplerKind::pc_fmala) {
    throw make_error("--persistent", "applies to fmala and pc-fmala only, not " + name,
                     "Line samplers need a fresh tangent every step");
  }
  if (s.options.uncached && kind != SamplerKind::mala) {
    throw make_error("--uncached", "applies to mala only, not " + name);
  }
  if (s.options.persistent && s.options.aligned) {
    throw make_error("--persistent", "cannot be combined with --aligned",
                     "Together they would keep one tangent for the whole run");
  }
  const SamplerOptions defaults;
  if (kind == SamplerKind::line_hmc) {
    if (s.options.leapfrog_steps < 1 || s.options.leapfrog_steps > 1000) {
      throw make_error("--leapfrog-steps",
                       "must lie between 1 and 1000, got " + std::to_string(s.options.leapfrog_steps));
    }
    if (!(s.options.jitter >= 0 && s.options.jitter < 1)) {
      char value[32];
      std::snprintf(value, sizeof value, "%g", static_cast<double>(s.options.jitter));
      throw make_error("--jitter", std::string("must lie in [0, 1), got ") + value,
                       "Use 0 for a fixed leapfrog step, or a fraction such as 0.2");
    }
  } else {
    if (s.options.leapfrog_steps != defaults.leapfrog_steps) {
      throw make_error("--leapfrog-steps", "applies to line-hmc only, not " + name);
    }
    if (s.options.jitter != defaults.jitter) {
      throw make_error("--jitter", "applies to line-hmc only, not " + name);
    }
  }
  if (s.options.curvature_tangents != defaults.curvature_tangents) {
    if (!is_preconditioned(kind)) {
      throw make_error("--curvature-tangents", "applies to pc-fmala and pc-line-fmala only, not " + name);
    }
    if (s.options.curvature_tangents < 1 || s.options.curvature_tangents > kMaxCurvatureTangents) {
      throw make_error("--curvature-tangents",
                       "must lie between 1 and " + std::to_string(kMaxCurvatureTangents) + ", got " +
                           std::to_string(s.options.curvature_tangents),
                       "Use 1 for the curvature along the proposal's tangent alone, or a few, such as 4");
    }
    if (s.options.curvature_tangents > 1 && dim > kMaxCurvatureDim) {
      throw make_error("--curvature-tangents",
                       "supports models of up to " + std::to_string(kMaxCurvatureDim) +
                           " parameters, and this one has " + std::to_string(dim),
                       "Use --curvature-tangents 1");
    }
  }
  if (!(s.options.curvature_floor >= 0)) {
    throw make_error("--curvature-floor", "must be 0 or more");
  }
  if (s.options.curvature_floor == 0 && is_preconditioned(kind)) {
    // Allowed: reproduces the reference code, which has no floor.
  }
  if (s.first_chain < 0) {
    throw make_error("first chain", "must be 0 or more, got " + std::to_string(s.first_chain));
  }
  if (s.all_chains != 0 && (s.all_chains < s.first_chain + s.chains)) {
    throw make_error("chain batch", "chains " + std::to_string(s.first_chain) + " to " +
                                        std::to_string(s.first_chain + s.chains - 1) + " are not among the " +
                                        std::to_string(s.all_chains) + " chains of the run");
  }
  if (s.superchains != 0 && (s.superchains < 2 || all_chains(s) % s.superchains != 0)) {
    throw make_error("--superchains", "must be at least 2 and divide the " + std::to_string(all_chains(s)) +
                                          " chains, got " + std::to_string(s.superchains),
                     "Give for example --chains 256 --superchains 16");
  }
  if (s.stream.enabled) {
    if (s.stream.monitor.empty()) {
      throw make_error("--monitor", "streaming needs at least one monitored coordinate",
                       "Give coordinates, e.g. --monitor 0,1,2");
    }
    std::vector<int> seen = s.stream.monitor;
    std::sort(seen.begin(), seen.end());
    for (size_t i = 0; i < seen.size(); ++i) {
      if (seen[i] < 0 || seen[i] >= dim) {
        throw make_error("--monitor", "coordinate " + std::to_string(seen[i]) + " is outside 0 to " +
                                          std::to_string(dim - 1),
                         "Give coordinates of the model's " + std::to_string(dim) + " parameters");
      }
      if (i > 0 && seen[i] == seen[i - 1]) {
        throw make_error("--monitor", "names coordinate " + std::to_string(seen[i]) + " twice",
                         "List each coordinate once");
      }
    }
    if (s.stream.keep_last < 0 || s.stream.keep_last > s.draws) {
      throw make_error("--predictive-draws", "streaming keeps 0 to --draws last draws, not " +
                                                 std::to_string(s.stream.keep_last));
    }
  }
  const double transitions = static_cast<double>(s.warmup) + static_cast<double>(s.draws) * s.thin;
  if (transitions >= static_cast<double>(1LL << 28)) {
    throw make_error("--draws", "warmup + draws × thin must stay below 2^28 transitions");
  }
}

namespace {

size_t peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      return static_cast<size_t>(std::stoull(line.substr(6))) * 1024;
    }
  }
  return 0;
}

}  // namespace

void check_state_shape(const EngineState& s, const SamplerOptions& options, int chains, int dim) {
  const size_t c = static_cast<size_t>(chains);
  const size_t cd = c * static_cast<size_t>(dim);
  const bool mala = options.kind == SamplerKind::mala;
  const bool per_chain = !s.adapt.empty();
  if (s.theta.size() != cd || s.grad.size() != (mala ? cd : 0) ||
      s.tangent.size() != (options.persistent ? cd : 0) || s.log_density.size() != c ||
      s.scalars.size() != c * kScalarBuffers || s.counts.size() != c * kCounterBuffers ||
      (per_chain && s.adapt.size() != c)) {
    throw make_error("checkpoint", "its chain state does not fit " + std::to_string(chains) +
                                       " chains of " + std::to_string(dim) + " parameters for " +
                                       std::string(sampler_name(options.kind)),
                     "Resume with the settings the checkpoint was written with");
  }
}

void check_resume(const RunCheckpoint& c, const Model& model, const RunSettings& settings) {
  const std::string sampler(sampler_name(settings.options.kind));
  const auto mismatch = [](const std::string& what, const std::string& saved, const std::string& now) {
    return make_error("checkpoint", what + " is " + saved + " in the checkpoint but " + now + " now",
                      "Resume with the settings the checkpoint was written with");
  };
  if (c.sampler != sampler) {
    throw mismatch("the sampler", c.sampler, sampler);
  }
  const std::pair<const char*, std::pair<int64_t, int64_t>> sizes[] = {
      {"the number of chains", {c.chains, settings.chains}},
      {"the number of parameters", {c.dim, model.dim()}},
      {"warmup", {c.warmup, settings.warmup}},
      {"draws", {c.draws, settings.draws}},
      {"thin", {c.thin, settings.thin}},
  };
  for (const auto& [what, values] : sizes) {
    if (values.first != values.second) {
      throw mismatch(what, std::to_string(values.first), std::to_string(values.second));
    }
  }
  if (c.seed != settings.seed) {
    throw mismatch("the seed", std::to_string(c.seed), std::to_string(settings.seed));
  }
  if (c.first_chain != settings.first_chain) {
    throw mismatch("the first chain", std::to_string(c.first_chain), std::to_string(settings.first_chain));
  }
  const int64_t total = static_cast<int64_t>(c.warmup) + static_cast<int64_t>(c.draws) * c.thin;
  const int64_t expected_kept =
      c.done <= c.warmup ? 0 : (c.done - static_cast<int64_t>(c.warmup)) / c.thin;
  if (c.done < 0 || c.done > total || c.kept != expected_kept) {
    throw make_error("checkpoint", "it records " + std::to_string(c.done) + " transitions and " +
                                       std::to_string(c.kept) + " kept draws, which do not agree",
                     "The file is damaged; resume from an intact copy");
  }
  const size_t chains = static_cast<size_t>(c.chains);
  const size_t kept_slots = chains * static_cast<size_t>(c.draws);
  const Draws& d = c.kept_draws;
  const int columns = settings.stream.enabled ? static_cast<int>(settings.stream.monitor.size()) : c.dim;
  if (d.values.size() != kept_slots * static_cast<size_t>(columns) || d.log_density.size() != kept_slots ||
      d.chains != c.chains || d.draws != c.draws || d.dim != columns || !d.has_statistics()) {
    throw make_error("checkpoint", "its draw buffer does not have the shape (chains, draws, parameters)",
                     "The file is damaged; resume from an intact copy");
  }
  const bool warm = c.done >= c.warmup;
  if (warm != !c.at_warmup_end.accepted.empty()) {
    throw make_error("checkpoint", "its warmup counters do not agree with its transition count",
                     "The file is damaged; resume from an intact copy");
  }
  check_state_shape(c.engine, settings.options, settings.chains, model.dim());
  if (settings.stream.enabled) {
    const DrawStream& st = c.stream;
    const size_t cd = chains * static_cast<size_t>(c.dim);
    if (st.monitored != settings.stream.monitor || st.keep_last != settings.stream.keep_last ||
        st.count != c.kept || st.chains != c.chains || st.dim != c.dim || st.mean.size() != cd ||
        st.m2.size() != cd || st.last.values.size() != cd * static_cast<size_t>(st.keep_last)) {
      throw make_error("checkpoint", "its running statistics do not fit this streaming run",
                       "Resume with the settings the checkpoint was written with");
    }
  }

  // The same model and data give the same log-density at the saved states.
  std::vector<Real> f(chains);
  const NetworkSpec* network = model.network_spec();
  if (network != nullptr && network->data_on_device) {
    // Training data on a GPU are evaluated there.
    cuda::evaluate_jet(model, c.chains, c.engine.theta.data(), nullptr, 0, f.data(), nullptr, nullptr);
  } else {
    model.jet(c.chains, c.engine.theta.data(), nullptr, 0, f.data(), nullptr, nullptr);
  }
  for (size_t k = 0; k < chains; ++k) {
    const Real saved = c.engine.log_density[k];
    if (!(std::abs(f[k] - saved) <= Real(1e-6) * std::max(Real(1), std::abs(saved)))) {
      char values[96];
      std::snprintf(values, sizeof values, "%.10g now, %.10g when it was saved", static_cast<double>(f[k]),
                    static_cast<double>(saved));
      throw make_error("checkpoint", "the log-density of chain " + std::to_string(k) + " is " + values,
                       "The model or its data changed since the checkpoint; resume with the same ones");
    }
  }
}

SamplerRun combine_chain_batches(std::vector<SamplerRun> batches) {
  if (batches.empty()) {
    throw make_error("chain batches", "there are none to combine");
  }
  if (batches.size() == 1) {
    return std::move(batches.front());
  }
  SamplerRun out = std::move(batches.front());
  const auto append = [](auto& to, const auto& from) { to.insert(to.end(), from.begin(), from.end()); };
  double accepted = out.acceptance_rate * out.settings.chains;
  double prob = out.accept_prob * out.settings.chains;
  for (size_t b = 1; b < batches.size(); ++b) {
    const SamplerRun& r = batches[b];
    if (r.settings.first_chain != out.settings.first_chain + out.settings.chains ||
        r.settings.draws != out.settings.draws || r.draws.dim != out.draws.dim ||
        r.settings.options.kind != out.settings.options.kind || r.stream.count != out.stream.count ||
        r.stream.monitored != out.stream.monitored || r.stream.keep_last != out.stream.keep_last) {
      throw make_error("chain batches", "batch " + std::to_string(b) + " does not continue the chains before it",
                       "Combine the batches of one sampler, in order");
    }
    Draws& d = out.draws;
    d.chains += r.draws.chains;
    append(d.values, r.draws.values);
    append(d.log_density, r.draws.log_density);
    append(d.accept_prob, r.draws.accept_prob);
    append(d.step_size, r.draws.step_size);
    append(d.accepted, r.draws.accepted);
    append(d.nonfinite, r.draws.nonfinite);
    append(d.floor_hits, r.draws.floor_hits);
    DrawStream& st = out.stream;
    if (st.dim > 0) {
      st.chains += r.stream.chains;
      append(st.mean, r.stream.mean);
      append(st.m2, r.stream.m2);
      st.last.chains += r.stream.last.chains;
      append(st.last.values, r.stream.last.values);
      append(st.last.log_density, r.stream.last.log_density);
    }
    append(out.step_size, r.step_size);
    accepted += r.acceptance_rate * r.settings.chains;
    prob += r.accept_prob * r.settings.chains;
    out.settings.chains += r.settings.chains;
    out.nonfinite_rejections += r.nonfinite_rejections;
    out.curvature_floor_hits += r.curvature_floor_hits;
    out.step_size_at_floor = out.step_size_at_floor || r.step_size_at_floor;
    out.seconds_warmup += r.seconds_warmup;
    out.seconds_sampling += r.seconds_sampling;
    out.peak_memory_bytes = std::max(out.peak_memory_bytes, r.peak_memory_bytes);
    out.device_tile = out.device_tile > 0 && r.device_tile > 0 ? std::min(out.device_tile, r.device_tile)
                                                              : std::max(out.device_tile, r.device_tile);
  }
  out.acceptance_rate = static_cast<Real>(accepted / out.settings.chains);
  out.accept_prob = static_cast<Real>(prob / out.settings.chains);
  return out;
}

std::vector<Real> initial_states(const Model& model, const RunSettings& settings) {
  const int dim = model.dim();
  std::vector<Real> theta0(static_cast<size_t>(settings.chains) * dim);
  model.initial_state(settings.seed, settings.first_chain, settings.chains, theta0.data());
  if (settings.superchains > 0) {
    // Each chain starts where the first chain of its superchain starts,
    // which may belong to an earlier batch of chains.
    const int64_t per = all_chains(settings) / settings.superchains;
    for (int k = 0; k < settings.chains; ++k) {
      const int64_t chain = settings.first_chain + k;
      const int64_t leader = chain / per * per;
      if (leader != chain) {
        model.initial_state(settings.seed, leader, 1, theta0.data() + static_cast<size_t>(k) * dim);
      }
    }
  }
  return theta0;
}

SamplerRun run_sampler(const Model& model, const RunSettings& settings, const ProgressFn& progress) {
  return run_sampler(model, settings, progress, RunControl{});
}

SamplerRun run_sampler(const Model& model,
                       const RunSettings& settings,
                       const ProgressFn& progress,
                       const RunControl& control) {
  const int dim = model.dim();
  validate(settings, dim);
  std::vector<Real> theta0;
  if (!control.resume) {
    theta0 = initial_states(model, settings);
  }

  if (settings.backend == Backend::cuda) {
    std::string reason;
    if (!cuda::device_available(&reason)) {
      throw make_error("--backend cuda", reason, "Use --backend cpu");
    }
    return cuda::run_sampler(model, settings, theta0, progress, control);
  }

  const int saved_threads = omp_get_max_threads();
  if (settings.threads > 0) {
    omp_set_num_threads(settings.threads);
  }
  struct RestoreThreads {
    int threads;
    bool active;
    ~RestoreThreads() {
      if (active) {
        omp_set_num_threads(threads);
      }
    }
  } restore{saved_threads, settings.threads > 0};
  CpuEngine engine(model, settings.options, settings.chains, settings.seed,
                   static_cast<uint64_t>(settings.first_chain));
  SamplerRun run = drive(engine, model, settings, theta0, progress, control);
  run.peak_memory_bytes = peak_rss_bytes();
  return run;
}

}  // namespace fmala
