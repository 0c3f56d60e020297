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
//
// Line-HMC replaces phases 3 and 4 by L leapfrog steps along u. Each step is
// a position update (phase_leapfrog_position), a jet at θ + t u and a momentum
// update (phase_leapfrog_momentum), as step_line_hmc in each back end runs them.

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
  Real* curvature_tangent = nullptr;  // one extra tangent of the curvature estimate (PC samplers, M > 1)
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
  Real* line_t = nullptr;         // Line-HMC position t along u; θ* = θ + t u
  Real* momentum = nullptr;       // Line-HMC momentum p, NaN once the trajectory diverged
  Real* kinetic_start = nullptr;  // Line-HMC p²/2 at t = 0
  Real* leapfrog_step = nullptr;  // Line-HMC ε of this transition, after jitter
  // (C) each, PC samplers with M > 1 only: the jet along one extra curvature
  // tangent. Scratch within a step, not part of the chain's state.
  Real* curvature_f = nullptr;
  Real* curvature_d = nullptr;
  Real* curvature_h = nullptr;
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
  uint64_t first_chain = 0;  // the global index of the engine's chain 0
  bool adapt_per_chain = false;
  Real target_accept = Real(0.574);
  Real min_step = Real(1e-8);
};

// Whether MALA evaluates the gradient at the current state each step.
FMALA_HD constexpr bool needs_current_gradient(const SamplerOptions& o) {
  return o.kind == SamplerKind::mala && o.uncached;
}

// Whether the sampler evaluates a jet at the current state each step.
FMALA_HD constexpr bool needs_current_jet(const SamplerOptions& o) {
  return is_forward(o.kind) && !o.persistent;
}
// Whether u* is drawn independently of u (otherwise the proposal is evaluated along u).
FMALA_HD constexpr bool has_reverse_tangent(const SamplerOptions& o) {
  return is_forward(o.kind) && !is_line(o.kind) && o.kind != SamplerKind::line_hmc && !o.aligned;
}

// The normals of one random block for C chains of `dim`, one thread per pair:
// thread i writes pair i % ⌈dim/2⌉ of chain first_chain + i / ⌈dim/2⌉ into
// its row. The same values as Stream::normals, for a device that would
// otherwise draw a row in one thread. `low` is block_counter(step, purpose,
// offset).
struct DrawNormalPairs {
  uint64_t seed;
  uint64_t first_chain;
  uint64_t low;
  int dim;
  Real* rows;
  FMALA_HD void operator()(size_t i) const {
    const size_t pairs = (static_cast<size_t>(dim) + 1) / 2;
    const size_t k = i / pairs;
    const size_t p = i % pairs;
    double first;
    double second;
    normal_pair_at(seed, first_chain + k, low, p, &first, &second);
    Real* row = rows + k * static_cast<size_t>(dim);
    row[2 * p] = static_cast<Real>(first);
    if (2 * p + 1 < static_cast<size_t>(dim)) {
      row[2 * p + 1] = static_cast<Real>(second);
    }
  }
};

// ---- Curvature from several tangents -------------------------------------------------------
//
// With curvature_tangents = M > 1, a PC sampler's h at θ (and h* at θ*) is
// the mean of uᵀ∇²f u over its own tangent and M − 1 extra unit tangents, an
// estimate of tr(∇²f)/D in the manner of Hutchinson's trace estimator. The
// extra tangents are auxiliary variables like u itself: drawn independently
// of θ, fresh at θ* where u* is fresh (PC-FMALA) and the same as at θ where
// the reverse move keeps u (PC-Line-FMALA, --aligned). The Metropolis–
// Hastings ratio therefore keeps its form, with h and h* replaced by the means.

// Whether the sampler averages its curvature over extra tangents.
FMALA_HD constexpr bool has_curvature_tangents(const SamplerOptions& o) {
  return is_preconditioned(o.kind) && o.curvature_tangents > 1;
}

// 32-bit words of one extra tangent's share of its random block: 2^26 words
// hold 2^25 normals, so D ≤ 2^25, and the 63 extra tangents of M = 64 fit
// in the block's 2^32 words.
inline constexpr int kCurvatureTangentShift = 26;
inline constexpr int kMaxCurvatureTangents = 64;
inline constexpr int64_t kMaxCurvatureDim = int64_t(1) << (kCurvatureTangentShift - 1);

// The random block of extra tangent m (2 ≤ m ≤ M): at θ, or at_proposal at θ*.
FMALA_HD inline Draw curvature_purpose(const SamplerOptions& o, bool at_proposal) {
  return at_proposal && has_reverse_tangent(o) ? Draw::curvature_rev : Draw::curvature;
}
FMALA_HD inline uint64_t curvature_offset(int m) {
  return static_cast<uint64_t>(m - 2) << kCurvatureTangentShift;
}

// Draws chain k's extra tangent m (2 ≤ m ≤ M) of transition ctx.step into
// b.curvature_tangent: the one at θ, or at_proposal the one at θ*. With
// `drawn`, the back end has already written the tangent's normals there
// (chain_normals on the host, DrawNormalPairs on the device), and only their
// rescaling is left.
FMALA_HD inline void draw_curvature_tangent(const ChainBuffers& b, const StepContext& ctx, int k,
                                            int m, bool at_proposal, bool drawn = false) {
  Real* u = b.curvature_tangent + static_cast<size_t>(k) * b.dim;
  if (!drawn) {
    Stream stream(ctx.seed, ctx.first_chain + static_cast<uint64_t>(k), ctx.step,
                  curvature_purpose(ctx.options, at_proposal), curvature_offset(m));
    stream.normals(b.dim, u);
  }
  scale_to_unit(b.dim, u);
}

// Adds the curvature along the extra tangent just evaluated to h (or h*).
FMALA_HD inline void add_curvature(const ChainBuffers& b, int k, bool at_proposal) {
  Real* h = at_proposal ? b.h_prop : b.h;
  h[k] += b.curvature_h[k];
}

// Turns the sum of M curvatures into their mean.
FMALA_HD inline void finish_curvature(const ChainBuffers& b, const SamplerOptions& o, int k,
                                      bool at_proposal) {
  Real* h = at_proposal ? b.h_prop : b.h;
  h[k] /= static_cast<Real>(o.curvature_tangents);
}

// ---- Line-HMC: leapfrog on g(t) = f(θ + t u) with g'(t) = ∇f(θ + t u)·u ----------------------

// Starts chain k's trajectory at t = 0 with momentum p and leapfrog step eps.
FMALA_HD inline void start_trajectory(const ChainBuffers& b, int k, Real p, Real eps) {
  b.line_t[k] = Real(0);
  b.momentum[k] = p;
  b.kinetic_start[k] = Real(0.5) * p * p;
  b.leapfrog_step[k] = eps;
}

// First half of a leapfrog step: p ← p + (ε/2) g'(t), t ← t + ε p, and θ* = θ + t u.
// g'(t) is d (the jet at θ) on the first step and d* (the last jet at θ*)
// after it. A non-finite value marks the trajectory as diverged (p = NaN);
// θ* is then θ, so the remaining jets are evaluated at a finite point.
FMALA_HD inline void phase_leapfrog_position(const ChainBuffers& b, int k, bool first) {
  const size_t row = static_cast<size_t>(k) * b.dim;
  const Real eps = b.leapfrog_step[k];
  const Real slope = first ? b.d[k] : b.d_prop[k];
  Real p = b.momentum[k];
  Real t = b.line_t[k];
  if (!isnan(p)) {
    p += Real(0.5) * eps * slope;
    t += eps * p;
    if (!isfinite(p) || !isfinite(t)) {
      p = Real(NAN);
    }
  }
  if (isnan(p)) {
    t = Real(0);
  }
  b.momentum[k] = p;
  b.line_t[k] = t;
  const Real* theta = b.theta + row;
  const Real* u = b.tangent + row;
  Real* prop = b.theta_prop + row;
  for (int i = 0; i < b.dim; ++i) {
    prop[i] = theta[i] + t * u[i];
  }
}

// Second half of a leapfrog step, after the jet at θ* = θ + t u:
// p ← p + (ε/2) d*. A non-finite f* or d* marks the trajectory as diverged.
FMALA_HD inline void phase_leapfrog_momentum(const ChainBuffers& b, int k) {
  Real p = b.momentum[k];
  if (isnan(p)) {
    return;
  }
  if (!isfinite(b.f_prop[k]) || !isfinite(b.d_prop[k])) {
    b.momentum[k] = Real(NAN);
    return;
  }
  p += Real(0.5) * b.leapfrog_step[k] * b.d_prop[k];
  b.momentum[k] = isfinite(p) ? p : Real(NAN);
}

// log α = H(0, p₀) − H(t_L, p_L) with H(t, p) = −g(t) + p²/2, NaN for a
// diverged trajectory. Leapfrog is volume-preserving and reversible under
// p → −p, so this is the exact Metropolis ratio of the move θ → θ + t_L u.
FMALA_HD inline Real line_hmc_log_accept_ratio(const ChainBuffers& b, int k) {
  const Real p = b.momentum[k];
  if (isnan(p) || !isfinite(b.f_prop[k]) || !isfinite(b.d_prop[k])) {
    return Real(NAN);
  }
  return (b.f_prop[k] - b.f[k]) - (Real(0.5) * p * p - b.kinetic_start[k]);
}

// Draws chain k's tangent u at θ and, for Line-HMC, its momentum p ~ N(0, 1)
// and jittered leapfrog step. p and the jitter's U come from the step's noise
// stream, p first, so turning jitter on leaves p unchanged. With
// `tangent_drawn`, the back end has already written u's normals into
// b.tangent (chain_normals on the host, DrawNormalPairs on the device), and
// only their rescaling is left.
FMALA_HD inline void phase_prepare(const ChainBuffers& b, const StepContext& ctx, int k,
                                   bool tangent_drawn = false) {
  if (!needs_current_jet(ctx.options)) {
    return;
  }
  Real* u = b.tangent + static_cast<size_t>(k) * b.dim;
  if (!tangent_drawn) {
    Stream stream(ctx.seed, ctx.first_chain + static_cast<uint64_t>(k), ctx.step, Draw::tangent);
    stream.normals(b.dim, u);
  }
  scale_to_unit(b.dim, u);
  if (ctx.options.kind == SamplerKind::line_hmc) {
    Stream noise_stream(ctx.seed, ctx.first_chain + static_cast<uint64_t>(k), ctx.step, Draw::noise);
    const Real p = static_cast<Real>(noise_stream.normal());
    Real eps = b.step_size[k];
    if (ctx.options.jitter > Real(0)) {
      const Real uniform = static_cast<Real>(noise_stream.uniform());
      eps *= Real(1) + ctx.options.jitter * (Real(2) * uniform - Real(1));
    }
    start_trajectory(b, k, p, eps);
  }
}

// Draws chain k's proposal noise (z or ζ) and, where the sampler has one, its
// reverse tangent u*, into the buffers. With `drawn`, the back end has
// already written z or ζ and the normals of u* (chain_normals on the host,
// DrawNormalPairs on the device), and only u*'s rescaling is left.
FMALA_HD inline void draw_proposal_noise(const ChainBuffers& b, const StepContext& ctx, int k,
                                         bool drawn = false) {
  const int dim = b.dim;
  const size_t row = static_cast<size_t>(k) * dim;
  const SamplerOptions& o = ctx.options;
  if (is_line(o.kind)) {
    if (!drawn) {
      Stream noise_stream(ctx.seed, ctx.first_chain + static_cast<uint64_t>(k), ctx.step, Draw::noise);
      b.zeta[k] = noise_stream.normal();
    }
    return;
  }
  if (!drawn) {
    Stream noise_stream(ctx.seed, ctx.first_chain + static_cast<uint64_t>(k), ctx.step, Draw::noise);
    normal_vector(noise_stream, dim, b.noise + row);
  }
  if (has_reverse_tangent(o)) {
    Real* u_rev = b.tangent_prop + row;
    if (!drawn) {
      Stream tangent_stream(ctx.seed, ctx.first_chain + static_cast<uint64_t>(k), ctx.step, Draw::tangent_rev);
      tangent_stream.normals(dim, u_rev);
    }
    scale_to_unit(dim, u_rev);
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

FMALA_HD inline void phase_propose(const ChainBuffers& b, const StepContext& ctx, int k,
                                   bool noise_drawn = false) {
  draw_proposal_noise(b, ctx, k, noise_drawn);
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
  if (o.kind == SamplerKind::line_hmc) {
    return line_hmc_log_accept_ratio(b, k);
  }
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

  Stream accept_stream(ctx.seed, ctx.first_chain + static_cast<uint64_t>(k), ctx.step, Draw::accept);
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
