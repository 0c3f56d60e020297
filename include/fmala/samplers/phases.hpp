#pragma once
// One sampler step as per-chain phases, shared by both back ends.
//
// A step for all chains is:
//   1. prepare  — draw a fresh tangent u at θ when the sampler needs one;
//   2. (back end) evaluate the jet at θ along u, unless it is cached;
//   3. propose  — build θ* from per-chain scalars;
//   4. (back end) evaluate the jet or gradient at θ*;
//   5. accept   — form log α from scalars, draw U, accept or reject in place.
// Phases 1, 3 and 5 are the functions below, called once per chain k by an
// OpenMP loop on the CPU and by one GPU thread per chain with CUDA. They read
// and write chain k's slices only, so chains never depend on each other.

#include <math.h>

#include "fmala/adapt/dual_averaging.hpp"
#include "fmala/core/config.hpp"
#include "fmala/random/philox.hpp"
#include "fmala/samplers/kinds.hpp"
#include "fmala/samplers/proposal.hpp"

namespace fmala {

// Raw pointers to every per-chain buffer, host or device. Unused buffers of a
// sampler may be null.
struct ChainBuffers {
  int chains = 0;
  int dim = 0;
  // (C, D) chain-major
  Real* theta = nullptr;
  Real* theta_prop = nullptr;
  Real* tangent = nullptr;       // u at θ
  Real* tangent_prop = nullptr;  // u* at θ* (full forward samplers without the aligned option)
  Real* noise = nullptr;         // z
  Real* grad = nullptr;          // ∇f(θ) (MALA)
  Real* grad_prop = nullptr;     // ∇f(θ*) (MALA)
  // (C) one per chain
  Real* f = nullptr;
  Real* d = nullptr;
  Real* h = nullptr;
  Real* f_prop = nullptr;
  Real* d_prop = nullptr;
  Real* h_prop = nullptr;
  Real* step_size = nullptr;
  Real* coef_c = nullptr;
  Real* coef_sigma = nullptr;
  Real* zeta = nullptr;
  Real* dot_uz = nullptr;
  Real* dot_zz = nullptr;
  Real* dot_uu_rev = nullptr;
  Real* dot_zu_rev = nullptr;
  Real* accept_prob = nullptr;      // min(1, α) of the last step
  Real* accept_prob_sum = nullptr;  // Σ min(1, α) over all steps so far
  int64_t* n_accepted = nullptr;
  int64_t* n_nonfinite = nullptr;  // proposals rejected for a non-finite value
  int64_t* n_floor = nullptr;      // curvatures that took the floor (forward and reverse)
  DualAveraging* adapt = nullptr;  // per-chain step-size adaptation
};

struct StepContext {
  SamplerOptions options;
  uint64_t seed = 0;
  int64_t step = 0;  // transition index, warmup included
  bool adapt_per_chain = false;
  Real target_accept = Real(0.574);
  Real min_step = Real(1e-8);
};

// Whether the sampler evaluates a jet at the current state each step.
FMALA_HD constexpr bool needs_current_jet(const SamplerOptions& o) {
  return is_forward(o.kind) && !o.persistent;
}
// Whether u* is drawn independently of u (otherwise the proposal is evaluated along u).
FMALA_HD constexpr bool has_reverse_tangent(const SamplerOptions& o) {
  return is_forward(o.kind) && !is_line(o.kind) && !o.aligned;
}

FMALA_HD inline void phase_prepare(const ChainBuffers& b, const StepContext& ctx, int k) {
  if (!needs_current_jet(ctx.options)) {
    return;
  }
  Stream stream(ctx.seed, static_cast<uint64_t>(k), ctx.step, Draw::tangent);
  unit_tangent(stream, b.dim, b.tangent + static_cast<size_t>(k) * b.dim);
}

// Draws chain k's proposal noise (z or ζ) and, where the sampler has one, its
// reverse tangent u*, into the buffers.
FMALA_HD inline void draw_proposal_noise(const ChainBuffers& b, const StepContext& ctx, int k) {
  const int dim = b.dim;
  const size_t row = static_cast<size_t>(k) * dim;
  const SamplerOptions& o = ctx.options;
  Stream noise_stream(ctx.seed, static_cast<uint64_t>(k), ctx.step, Draw::noise);
  if (is_line(o.kind)) {
    b.zeta[k] = noise_stream.normal();
    return;
  }
  normal_vector(noise_stream, dim, b.noise + row);
  if (has_reverse_tangent(o)) {
    Stream tangent_stream(ctx.seed, static_cast<uint64_t>(k), ctx.step, Draw::tangent_rev);
    unit_tangent(tangent_stream, dim, b.tangent_prop + row);
  }
}

// Builds θ* for chain k from the drawn noise and the per-chain scalars at θ.
FMALA_HD inline void build_proposal(const ChainBuffers& b, const SamplerOptions& o, int k) {
  const int dim = b.dim;
  const size_t row = static_cast<size_t>(k) * dim;
  const Real* theta = b.theta + row;
  Real* prop = b.theta_prop + row;
  const Real eta = b.step_size[k];

  if (o.kind == SamplerKind::rwmh || o.kind == SamplerKind::mala) {
    const Real* z = b.noise + row;
    // RWMH: θ* = θ + η z;  MALA: θ* = θ + (η²/2) g + η z
    const Real half_eta2 = Real(0.5) * eta * eta;
    for (int i = 0; i < dim; ++i) {
      const Real drift = o.kind == SamplerKind::mala ? half_eta2 * b.grad[row + i] : Real(0);
      prop[i] = theta[i] + drift + eta * z[i];
    }
    return;
  }

  const Coefficients co = forward_coefficients(o, dim, eta, b.d[k], b.h[k]);
  b.coef_c[k] = co.c;
  b.coef_sigma[k] = co.sigma;
  if (co.floored) {
    b.n_floor[k] += 1;
  }
  const Real* u = b.tangent + row;

  if (is_line(o.kind)) {
    // θ* = θ + δ u with δ = c + σζ
    const Real delta = co.c + co.sigma * b.zeta[k];
    for (int i = 0; i < dim; ++i) {
      prop[i] = theta[i] + delta * u[i];
    }
    return;
  }

  // θ* = θ + c u + σ z, with u* drawn independently or (aligned) equal to u
  const Real* z = b.noise + row;
  const Real* u_rev = has_reverse_tangent(o) ? b.tangent_prop + row : u;
  double uz = 0.0;
  double zz = 0.0;
  double uu_rev = 0.0;
  double zu_rev = 0.0;
  for (int i = 0; i < dim; ++i) {
    prop[i] = theta[i] + co.c * u[i] + co.sigma * z[i];
    uz += static_cast<double>(u[i]) * z[i];
    zz += static_cast<double>(z[i]) * z[i];
    uu_rev += static_cast<double>(u[i]) * u_rev[i];
    zu_rev += static_cast<double>(z[i]) * u_rev[i];
  }
  b.dot_uz[k] = static_cast<Real>(uz);
  b.dot_zz[k] = static_cast<Real>(zz);
  b.dot_uu_rev[k] = static_cast<Real>(uu_rev);
  b.dot_zu_rev[k] = static_cast<Real>(zu_rev);
}

FMALA_HD inline void phase_propose(const ChainBuffers& b, const StepContext& ctx, int k) {
  draw_proposal_noise(b, ctx, k);
  build_proposal(b, ctx.options, k);
}

// log q(θ|θ*) − log q(θ*|θ) for chain k after the proposal was evaluated. Sets
// *valid to false when the reverse move is undefined (zero or non-finite σ*).
FMALA_HD inline Real log_q_ratio(const ChainBuffers& b, const StepContext& ctx, int k, bool* valid) {
  const SamplerOptions& o = ctx.options;
  const int dim = b.dim;
  const size_t row = static_cast<size_t>(k) * dim;
  *valid = true;
  if (o.kind == SamplerKind::rwmh) {
    return Real(0);
  }
  if (o.kind == SamplerKind::mala) {
    double z_gsum = 0.0;
    double gsum2 = 0.0;
    for (int i = 0; i < dim; ++i) {
      const double gsum = static_cast<double>(b.grad[row + i]) + b.grad_prop[row + i];
      z_gsum += static_cast<double>(b.noise[row + i]) * gsum;
      gsum2 += gsum * gsum;
    }
    return mala_log_q_ratio(b.step_size[k], static_cast<Real>(z_gsum), static_cast<Real>(gsum2));
  }
  const Coefficients rev = forward_coefficients(o, dim, b.step_size[k], b.d_prop[k], b.h_prop[k]);
  if (rev.floored) {
    b.n_floor[k] += 1;
  }
  if (!(rev.sigma > Real(0)) || !isfinite(rev.sigma)) {
    *valid = false;
    return Real(0);
  }
  if (is_line(o.kind)) {
    return line_log_q_ratio(b.coef_c[k], b.coef_sigma[k], rev.c, rev.sigma, b.zeta[k]);
  }
  FullScalars s;
  s.dot_uz = b.dot_uz[k];
  s.dot_zz = b.dot_zz[k];
  s.dot_uu_rev = b.dot_uu_rev[k];
  s.dot_zu_rev = b.dot_zu_rev[k];
  return full_log_q_ratio(dim, b.coef_c[k], b.coef_sigma[k], rev.c, rev.sigma, s);
}

// log α for chain k, NaN when the proposal must be rejected for a non-finite
// value or an undefined reverse move.
FMALA_HD inline Real log_accept_ratio(const ChainBuffers& b, const StepContext& ctx, int k) {
  const SamplerOptions& o = ctx.options;
  // A non-finite value at the proposal is a counted rejection.
  bool finite = isfinite(b.f_prop[k]);
  if (is_forward(o.kind)) {
    finite = finite && isfinite(b.d_prop[k]);
    if (is_preconditioned(o.kind)) {
      finite = finite && isfinite(b.h_prop[k]);
    }
  }
  Real log_alpha = Real(NAN);
  if (finite) {
    bool valid = true;
    const Real ratio = log_q_ratio(b, ctx, k, &valid);
    log_alpha = valid ? b.f_prop[k] - b.f[k] + ratio : Real(NAN);
  }
  return log_alpha;
}

FMALA_HD inline void phase_accept(const ChainBuffers& b, const StepContext& ctx, int k, bool adapting) {
  const SamplerOptions& o = ctx.options;
  const int dim = b.dim;
  const size_t row = static_cast<size_t>(k) * dim;
  const Real log_alpha = log_accept_ratio(b, ctx, k);
  if (isnan(log_alpha)) {
    b.n_nonfinite[k] += 1;
  }

  Stream accept_stream(ctx.seed, static_cast<uint64_t>(k), ctx.step, Draw::accept);
  const Real log_u = ::log(accept_stream.uniform());
  const bool accept = log_u < log_alpha;  // false for NaN
  b.accept_prob[k] = accept_probability(log_alpha);
  b.accept_prob_sum[k] += b.accept_prob[k];

  if (accept) {
    b.n_accepted[k] += 1;
    b.f[k] = b.f_prop[k];
    for (int i = 0; i < dim; ++i) {
      b.theta[row + i] = b.theta_prop[row + i];
    }
    if (o.kind == SamplerKind::mala) {
      for (int i = 0; i < dim; ++i) {
        b.grad[row + i] = b.grad_prop[row + i];
      }
    }
    if (is_forward(o.kind) && o.persistent) {
      b.d[k] = b.d_prop[k];
      b.h[k] = b.h_prop[k];
      if (has_reverse_tangent(o)) {
        for (int i = 0; i < dim; ++i) {
          b.tangent[row + i] = b.tangent_prop[row + i];
        }
      }
    }
  }

  if (adapting && ctx.adapt_per_chain) {
    b.step_size[k] = b.adapt[k].update(b.accept_prob[k], ctx.target_accept, ctx.min_step);
  }
}

}  // namespace fmala
