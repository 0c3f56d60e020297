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
#include "fmala/backend/sum3.hpp"
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
FMALA_HD inline void leapfrog_scalars(const ChainBuffers& b, int k, bool first) {
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
}

// Writes θ*_j = θ_j + t u_j for element j of the (C, D) buffers, with t its chain's position.
FMALA_HD inline void leapfrog_element(const ChainBuffers& b, Real t, size_t j) {
  b.theta_prop[j] = b.theta[j] + t * b.tangent[j];
}

FMALA_HD inline void phase_leapfrog_position(const ChainBuffers& b, int k, bool first) {
  leapfrog_scalars(b, k, first);
  const size_t row = static_cast<size_t>(k) * b.dim;
  const Real t = b.line_t[k];
  for (int i = 0; i < b.dim; ++i) {
    leapfrog_element(b, t, row + static_cast<size_t>(i));
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

// Line-HMC only: chain k's momentum and jittered leapfrog step, the part of
// phase_prepare that does not touch the tangent.
FMALA_HD inline void prepare_momentum(const ChainBuffers& b, const StepContext& ctx, int k) {
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
  prepare_momentum(b, ctx, k);
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

// The forward samplers' coefficients c and σ at θ for chain k, stored in
// coef_c and coef_sigma (a floor taken is counted). RWMH and MALA have none.
FMALA_HD inline void proposal_coefficients(const ChainBuffers& b, const SamplerOptions& o, int k) {
  if (!is_forward(o.kind)) {
    return;
  }
  const Coefficients co = forward_coefficients(o, b.dim, b.step_size[k], b.d[k], b.h[k]);
  b.coef_c[k] = co.c;
  b.coef_sigma[k] = co.sigma;
  if (co.floored) {
    b.n_floor[k] += 1;
  }
}

// The per-chain numbers θ* is built from, after proposal_coefficients:
//   RWMH:   θ* = θ + η z
//   MALA:   θ* = θ + (η²/2) g + η z
//   line:   θ* = θ + δ u with δ = c + σζ
//   full:   θ* = θ + c u + σ z (u* drawn independently or, aligned, equal to u)
struct ProposalMove {
  Real eta = 0;
  Real half_eta2 = 0;
  Real c = 0;
  Real sigma = 0;
  Real delta = 0;
};

FMALA_HD inline ProposalMove proposal_move(const ChainBuffers& b, const SamplerOptions& o, int k) {
  ProposalMove m;
  m.eta = b.step_size[k];
  m.half_eta2 = Real(0.5) * m.eta * m.eta;
  if (is_forward(o.kind)) {
    m.c = b.coef_c[k];
    m.sigma = b.coef_sigma[k];
    if (is_line(o.kind)) {
      m.delta = m.c + m.sigma * b.zeta[k];
    }
  }
  return m;
}

// The form of a sampler's move, one of the four above.
enum class MoveForm { random_walk, langevin, line, full };

FMALA_HD constexpr MoveForm move_form(const SamplerOptions& o) {
  return o.kind == SamplerKind::rwmh   ? MoveForm::random_walk
         : o.kind == SamplerKind::mala ? MoveForm::langevin
         : is_line(o.kind)             ? MoveForm::line
                                       : MoveForm::full;
}

// θ*_j for element j of the (C, D) buffers under move form F, with m the move of j's chain.
template <MoveForm F>
FMALA_HD inline Real move_value(const ChainBuffers& b, const ProposalMove& m, size_t j) {
  if constexpr (F == MoveForm::random_walk) {
    return b.theta[j] + Real(0) + m.eta * b.noise[j];
  } else if constexpr (F == MoveForm::langevin) {
    return b.theta[j] + m.half_eta2 * b.grad[j] + m.eta * b.noise[j];
  } else if constexpr (F == MoveForm::line) {
    return b.theta[j] + m.delta * b.tangent[j];
  } else {
    return b.theta[j] + m.c * b.tangent[j] + m.sigma * b.noise[j];
  }
}

// θ*_j with the sampler's move form chosen at run time, for one thread per element.
FMALA_HD inline Real proposal_value(const ChainBuffers& b, const SamplerOptions& o, const ProposalMove& m,
                                    size_t j) {
  switch (move_form(o)) {
    case MoveForm::random_walk:
      return move_value<MoveForm::random_walk>(b, m, j);
    case MoveForm::langevin:
      return move_value<MoveForm::langevin>(b, m, j);
    case MoveForm::line:
      return move_value<MoveForm::line>(b, m, j);
    case MoveForm::full:
    default:
      return move_value<MoveForm::full>(b, m, j);
  }
}

// u*: drawn independently of u, or (aligned) u itself.
FMALA_HD inline const Real* reverse_tangent(const ChainBuffers& b, const SamplerOptions& o) {
  return has_reverse_tangent(o) ? b.tangent_prop : b.tangent;
}

// Element j's share of the full forward samplers' dot products, which log q
// needs, in double: u·z, z·z and u·u* here, z·u* in proposal_dots_second.
FMALA_HD inline Sum3 proposal_dots_first(const ChainBuffers& b, const SamplerOptions& o, size_t j) {
  const double u = b.tangent[j];
  const double z = b.noise[j];
  return Sum3{u * z, z * z, u * reverse_tangent(b, o)[j]};
}
FMALA_HD inline Sum3 proposal_dots_second(const ChainBuffers& b, const SamplerOptions& o, size_t j) {
  return Sum3{static_cast<double>(b.noise[j]) * reverse_tangent(b, o)[j], 0.0, 0.0};
}

// Stores chain k's dot products from their sums.
FMALA_HD inline void store_proposal_dots(const ChainBuffers& b, int k, const Sum3& first, const Sum3& second) {
  b.dot_uz[k] = static_cast<Real>(first.a);
  b.dot_zz[k] = static_cast<Real>(first.b);
  b.dot_uu_rev[k] = static_cast<Real>(first.c);
  b.dot_zu_rev[k] = static_cast<Real>(second.a);
}

// Whether the sampler's log q needs the dot products of the proposal.
FMALA_HD constexpr bool needs_proposal_dots(const SamplerOptions& o) {
  return is_forward(o.kind) && !is_line(o.kind) && o.kind != SamplerKind::line_hmc;
}

// Writes θ* of the chain row that starts at `row`, with the move form fixed per loop.
template <MoveForm F>
FMALA_HD inline void build_row(const ChainBuffers& b, const ProposalMove& m, size_t row) {
  for (int i = 0; i < b.dim; ++i) {
    b.theta_prop[row + i] = move_value<F>(b, m, row + i);
  }
}

// Builds θ* for chain k from the drawn noise and the per-chain scalars at θ.
FMALA_HD inline void build_proposal(const ChainBuffers& b, const SamplerOptions& o, int k) {
  const int dim = b.dim;
  const size_t row = static_cast<size_t>(k) * dim;
  proposal_coefficients(b, o, k);
  const ProposalMove m = proposal_move(b, o, k);
  switch (move_form(o)) {
    case MoveForm::random_walk:
      build_row<MoveForm::random_walk>(b, m, row);
      return;
    case MoveForm::langevin:
      build_row<MoveForm::langevin>(b, m, row);
      return;
    case MoveForm::line:
      build_row<MoveForm::line>(b, m, row);
      return;
    case MoveForm::full:
      break;
  }
  // The full move, with its dot products in the same pass.
  double uz = 0.0;
  double zz = 0.0;
  double uu_rev = 0.0;
  double zu_rev = 0.0;
  for (int i = 0; i < dim; ++i) {
    const size_t j = row + i;
    b.theta_prop[j] = move_value<MoveForm::full>(b, m, j);
    const Sum3 first = proposal_dots_first(b, o, j);
    uz += first.a;
    zz += first.b;
    uu_rev += first.c;
    zu_rev += proposal_dots_second(b, o, j).a;
  }
  store_proposal_dots(b, k, Sum3{uz, zz, uu_rev}, Sum3{zu_rev, 0.0, 0.0});
}

FMALA_HD inline void phase_propose(const ChainBuffers& b, const StepContext& ctx, int k,
                                   bool noise_drawn = false) {
  draw_proposal_noise(b, ctx, k, noise_drawn);
  build_proposal(b, ctx.options, k);
}

// Element j's share of MALA's sums z·(g + g*) (in a) and ‖g + g*‖² (in b),
// which its log q needs.
FMALA_HD inline Sum3 mala_terms(const ChainBuffers& b, size_t j) {
  const double gsum = static_cast<double>(b.grad[j]) + b.grad_prop[j];
  return Sum3{static_cast<double>(b.noise[j]) * gsum, gsum * gsum, 0.0};
}

// Chain k's MALA sums, in index order.
FMALA_HD inline Sum3 mala_sums(const ChainBuffers& b, int k) {
  const size_t row = static_cast<size_t>(k) * b.dim;
  double z_gsum = 0.0;
  double gsum2 = 0.0;
  for (int i = 0; i < b.dim; ++i) {
    const Sum3 terms = mala_terms(b, row + i);
    z_gsum += terms.a;
    gsum2 += terms.b;
  }
  return Sum3{z_gsum, gsum2, 0.0};
}

// log q(θ|θ*) − log q(θ*|θ) for chain k after the proposal was evaluated,
// with MALA's sums from mala_sums (unused by the other samplers). Sets
// *valid to false when the reverse move is undefined (zero or non-finite σ*).
FMALA_HD inline Real log_q_ratio(const ChainBuffers& b, const StepContext& ctx, int k, const Sum3& mala,
                                 bool* valid) {
  const SamplerOptions& o = ctx.options;
  const int dim = b.dim;
  *valid = true;
  if (o.kind == SamplerKind::rwmh) {
    return Real(0);
  }
  if (o.kind == SamplerKind::mala) {
    return mala_log_q_ratio(b.step_size[k], static_cast<Real>(mala.a), static_cast<Real>(mala.b));
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
FMALA_HD inline Real log_accept_ratio(const ChainBuffers& b, const StepContext& ctx, int k, const Sum3& mala) {
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
    const Real ratio = log_q_ratio(b, ctx, k, mala, &valid);
    log_alpha = valid ? b.f_prop[k] - b.f[k] + ratio : Real(NAN);
  }
  return log_alpha;
}

// log α with MALA's sums computed here, in index order.
FMALA_HD inline Real log_accept_ratio(const ChainBuffers& b, const StepContext& ctx, int k) {
  return log_accept_ratio(b, ctx, k, ctx.options.kind == SamplerKind::mala ? mala_sums(b, k) : Sum3{});
}

// Chain k's accept/reject decision with MALA's sums from mala_sums: counts,
// acceptance probability, the scalars of an accepted proposal and the
// per-chain step-size adaptation. Returns whether the proposal was accepted;
// the (C, D) buffers are the caller's to copy (accept_element).
FMALA_HD inline bool decide_accept(const ChainBuffers& b, const StepContext& ctx, int k, bool adapting,
                                   const Sum3& mala) {
  const SamplerOptions& o = ctx.options;
  const Real log_alpha = log_accept_ratio(b, ctx, k, mala);
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
    if (is_forward(o.kind) && o.persistent) {
      b.d[k] = b.d_prop[k];
      b.h[k] = b.h_prop[k];
    }
  }

  if (adapting && ctx.adapt_per_chain) {
    b.step_size[k] = b.adapt[k].update(b.accept_prob[k], ctx.target_accept, ctx.min_step);
  }
  return accept;
}

// The vectors an accepted proposal brings along with θ*: MALA's gradient
// and a persistent sampler's reverse tangent.
FMALA_HD constexpr bool accepts_gradient(const SamplerOptions& o) { return o.kind == SamplerKind::mala; }
FMALA_HD constexpr bool accepts_tangent(const SamplerOptions& o) {
  return is_forward(o.kind) && o.persistent && has_reverse_tangent(o);
}

// Element j of an accepted proposal: θ ← θ*, and the vectors cached with it.
FMALA_HD inline void accept_element(const ChainBuffers& b, const SamplerOptions& o, size_t j) {
  b.theta[j] = b.theta_prop[j];
  if (accepts_gradient(o)) {
    b.grad[j] = b.grad_prop[j];
  }
  if (accepts_tangent(o)) {
    b.tangent[j] = b.tangent_prop[j];
  }
}

FMALA_HD inline void copy_row(const Real* from, Real* to, size_t row, int dim) {
  for (int i = 0; i < dim; ++i) {
    to[row + i] = from[row + i];
  }
}

FMALA_HD inline void phase_accept(const ChainBuffers& b, const StepContext& ctx, int k, bool adapting) {
  const SamplerOptions& o = ctx.options;
  const Sum3 mala = o.kind == SamplerKind::mala ? mala_sums(b, k) : Sum3{};
  if (decide_accept(b, ctx, k, adapting, mala)) {
    // accept_element's copies, one vector per loop.
    const size_t row = static_cast<size_t>(k) * b.dim;
    copy_row(b.theta_prop, b.theta, row, b.dim);
    if (accepts_gradient(o)) {
      copy_row(b.grad_prop, b.grad, row, b.dim);
    }
    if (accepts_tangent(o)) {
      copy_row(b.tangent_prop, b.tangent, row, b.dim);
    }
  }
}

}  // namespace fmala
