#include "fmala/backend/cpu_engine.hpp"

#include <omp.h>

#include <cmath>
#include <exception>
#include <string>

#include "fmala/backend/buffer_layout.hpp"
#include "fmala/backend/draw_record.hpp"
#include "fmala/core/error.hpp"

namespace fmala {

CpuEngine::CpuEngine(const Model& model, const SamplerOptions& options, int chains, uint64_t seed,
                     uint64_t first_chain)
    : model_(model),
      options_(options),
      chains_(chains),
      dim_(model.dim()),
      seed_(seed),
      first_chain_(first_chain),
      parallel_(static_cast<int64_t>(chains) * model.dim() >= kMinParallelWork) {
  const size_t c = static_cast<size_t>(chains_);
  matrices_.assign(c * dim_ * matrix_buffer_count(options_), Real(0));
  scalars_.assign(c * kScalarBuffers, Real(0));
  counts_.assign(c * kCounterBuffers, 0);
  lay_out_buffers(b_, options_, chains_, dim_, matrices_.data(), scalars_.data(), counts_.data());
  if (has_curvature_tangents(options_)) {
    curvature_scratch_.assign(c * kCurvatureScalarBuffers, Real(0));
    lay_out_curvature_scratch(b_, options_, chains_, curvature_scratch_.data());
  }
}

void CpuEngine::initialize(const std::vector<Real>& theta0) {
  std::copy(theta0.begin(), theta0.end(), b_.theta);
  // Cache what the sampler needs at the current state.
  if (options_.kind == SamplerKind::mala) {
    model_.gradient(chains_, b_.theta, b_.f, b_.grad);
  } else if (is_forward(options_.kind) && options_.persistent) {
#pragma omp parallel for schedule(static) if (parallel_)
    for (int k = 0; k < chains_; ++k) {
      Stream stream(seed_, first_chain_ + static_cast<uint64_t>(k), -1, Draw::tangent);
      unit_tangent(stream, dim_, b_.tangent + static_cast<size_t>(k) * dim_);
    }
    model_.jet(chains_, b_.theta, b_.tangent, jet_order(options_.kind), b_.f, b_.d, b_.h);
    StepContext init;
    init.options = options_;
    init.seed = seed_;
    init.step = -1;
    init.first_chain = first_chain_;
    average_curvature(init, false, Range{0, chains_});
  } else {
    model_.jet(chains_, b_.theta, nullptr, 0, b_.f, nullptr, nullptr);
  }
  for (int k = 0; k < chains_; ++k) {
    if (!std::isfinite(b_.f[k])) {
      throw make_error("initial state", "the log-density of chain " + std::to_string(k) +
                                            " is not finite (" + std::to_string(b_.f[k]) + ")",
                       "Start from a point where the density is positive");
    }
  }
}

void CpuEngine::set_step_size(Real eta) {
  for (int k = 0; k < chains_; ++k) {
    b_.step_size[k] = eta;
  }
}

void CpuEngine::start_chain_adaptation(Real eta0) {
  adapt_.assign(static_cast<size_t>(chains_), DualAveraging::start(eta0));
  b_.adapt = adapt_.data();
}

void CpuEngine::finish_chain_adaptation() {
  for (int k = 0; k < chains_; ++k) {
    b_.step_size[k] = adapt_[k].final_step();
  }
}

void CpuEngine::evaluate_current(Range r) {
  const size_t row = static_cast<size_t>(r.first) * dim_;
  model_.jet(r.count, b_.theta + row, b_.tangent ? b_.tangent + row : nullptr,
             jet_order(options_.kind), b_.f + r.first, b_.d ? b_.d + r.first : nullptr,
             b_.h ? b_.h + r.first : nullptr);
}

void CpuEngine::evaluate_proposal(Range r) {
  const SamplerKind kind = options_.kind;
  const size_t row = static_cast<size_t>(r.first) * dim_;
  if (kind == SamplerKind::mala) {
    model_.gradient(r.count, b_.theta_prop + row, b_.f_prop + r.first, b_.grad_prop + row);
  } else if (kind == SamplerKind::rwmh) {
    model_.jet(r.count, b_.theta_prop + row, nullptr, 0, b_.f_prop + r.first, nullptr, nullptr);
  } else {
    const Real* direction = has_reverse_tangent(options_) ? b_.tangent_prop : b_.tangent;
    model_.jet(r.count, b_.theta_prop + row, direction + row, jet_order(kind), b_.f_prop + r.first,
               b_.d_prop + r.first, b_.h_prop + r.first);
  }
}

void CpuEngine::step(const StepContext& ctx, bool adapting) {
  if (!parallel_) {
    step_range(ctx, adapting, Range{0, chains_});
    return;
  }
  // An exception must not leave the parallel region: the first one is kept
  // and thrown after it.
  std::exception_ptr error;
#pragma omp parallel
  {
    const int threads = omp_get_num_threads();
    const int t = omp_get_thread_num();
    const int first = static_cast<int>(static_cast<int64_t>(chains_) * t / threads);
    const int last = static_cast<int>(static_cast<int64_t>(chains_) * (t + 1) / threads);
    try {
      if (last > first) {
        step_range(ctx, adapting, Range{first, last - first});
      }
    } catch (...) {
#pragma omp critical(fmala_cpu_engine_error)
      if (!error) {
        error = std::current_exception();
      }
    }
  }
  if (error) {
    std::rethrow_exception(error);
  }
}

void CpuEngine::step_range(const StepContext& ctx, bool adapting, Range r) {
  if (options_.kind == SamplerKind::line_hmc) {
    step_line_hmc(ctx, adapting, r);
    return;
  }
  const ChainBuffers b = b_;
  const int end = r.first + r.count;
  if (needs_current_gradient(options_)) {
    const size_t row = static_cast<size_t>(r.first) * dim_;
    model_.gradient(r.count, b_.theta + row, b_.f + r.first, b_.grad + row);
  }
  if (needs_current_jet(options_)) {
    draw_normals(ctx, Draw::tangent, 0, r, b_.tangent, dim_);
    for (int k = r.first; k < end; ++k) {
      phase_prepare(b, ctx, k, true);
    }
    evaluate_current(r);
    average_curvature(ctx, false, r);
  }
  if (is_line(options_.kind)) {
    // ζ is the first normal of each chain's noise block.
    draw_normals(ctx, Draw::noise, 0, r, b_.zeta, 1);
  } else {
    draw_normals(ctx, Draw::noise, 0, r, b_.noise, dim_);
    if (has_reverse_tangent(options_)) {
      draw_normals(ctx, Draw::tangent_rev, 0, r, b_.tangent_prop, dim_);
    }
  }
  for (int k = r.first; k < end; ++k) {
    phase_propose(b, ctx, k, true);
  }
  evaluate_proposal(r);
  average_curvature(ctx, true, r);
  for (int k = r.first; k < end; ++k) {
    phase_accept(b, ctx, k, adapting);
  }
}

void CpuEngine::draw_normals(const StepContext& ctx, Draw purpose, uint64_t offset, Range r, Real* rows,
                             int width) const {
  chain_normals(ctx.seed, ctx.first_chain + static_cast<uint64_t>(r.first), r.count, ctx.step, purpose, offset,
                width, rows + static_cast<size_t>(r.first) * width, width);
}

void CpuEngine::average_curvature(const StepContext& ctx, bool at_proposal, Range r) {
  if (!has_curvature_tangents(options_)) {
    return;
  }
  const ChainBuffers b = b_;
  const int end = r.first + r.count;
  const size_t row = static_cast<size_t>(r.first) * dim_;
  const Real* at = (at_proposal ? b_.theta_prop : b_.theta) + row;
  for (int m = 2; m <= options_.curvature_tangents; ++m) {
    draw_normals(ctx, curvature_purpose(options_, at_proposal), curvature_offset(m), r, b_.curvature_tangent,
                 dim_);
    for (int k = r.first; k < end; ++k) {
      draw_curvature_tangent(b, ctx, k, m, at_proposal, true);
    }
    model_.jet(r.count, at, b_.curvature_tangent + row, 2, b_.curvature_f + r.first,
               b_.curvature_d + r.first, b_.curvature_h + r.first);
    for (int k = r.first; k < end; ++k) {
      add_curvature(b, k, at_proposal);
    }
  }
  for (int k = r.first; k < end; ++k) {
    finish_curvature(b, options_, k, at_proposal);
  }
}

// L leapfrog steps along one tangent: L + 1 jets, all along u.
void CpuEngine::step_line_hmc(const StepContext& ctx, bool adapting, Range r) {
  const ChainBuffers b = b_;
  const int end = r.first + r.count;
  const bool tangent = needs_current_jet(options_);
  if (tangent) {
    draw_normals(ctx, Draw::tangent, 0, r, b_.tangent, dim_);
  }
  for (int k = r.first; k < end; ++k) {
    phase_prepare(b, ctx, k, tangent);
  }
  evaluate_current(r);
  for (int step = 0; step < options_.leapfrog_steps; ++step) {
    const bool first = step == 0;
    for (int k = r.first; k < end; ++k) {
      phase_leapfrog_position(b, k, first);
    }
    evaluate_proposal(r);
    for (int k = r.first; k < end; ++k) {
      phase_leapfrog_momentum(b, k);
    }
  }
  for (int k = r.first; k < end; ++k) {
    phase_accept(b, ctx, k, adapting);
  }
}

Real CpuEngine::mean_accept_prob() const {
  double sum = 0.0;
  for (int k = 0; k < chains_; ++k) {
    sum += b_.accept_prob[k];
  }
  return static_cast<Real>(sum / chains_);
}

void CpuEngine::record(Draws& out, int index) const { store_draw(out, index, chains_, dim_, b_.theta, b_.f); }

EngineCounters CpuEngine::counters() const {
  // The three counters lie back to back from n_accepted (buffer_layout.hpp).
  return counters_from(chains_, b_.n_accepted, b_.accept_prob_sum, b_.step_size, b_.accept_prob);
}

EngineState CpuEngine::save_state() const {
  EngineState s;
  const size_t cd = static_cast<size_t>(chains_) * dim_;
  s.theta.assign(b_.theta, b_.theta + cd);
  if (options_.kind == SamplerKind::mala) {
    s.grad.assign(b_.grad, b_.grad + cd);
  }
  if (options_.persistent) {
    s.tangent.assign(b_.tangent, b_.tangent + cd);
  }
  s.log_density.assign(b_.f, b_.f + chains_);
  s.scalars = scalars_;
  s.counts = counts_;
  s.adapt = adapt_;
  return s;
}

void CpuEngine::restore_state(const EngineState& s) {
  check_state_shape(s, options_, chains_, dim_);
  std::copy(s.theta.begin(), s.theta.end(), b_.theta);
  std::copy(s.grad.begin(), s.grad.end(), b_.grad);
  std::copy(s.tangent.begin(), s.tangent.end(), b_.tangent);
  scalars_ = s.scalars;
  counts_ = s.counts;
  adapt_ = s.adapt;
  b_.adapt = adapt_.empty() ? nullptr : adapt_.data();
}

}  // namespace fmala
