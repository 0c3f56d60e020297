#pragma once
// How both engines carve their per-chain buffers out of three allocations:
// every (C, D) buffer, every (C) scalar buffer and the (C) counters, back to
// back. Host code only; the pointers may be host or device addresses.

#include <cstddef>
#include <cstdint>

#include "fmala/run.hpp"
#include "fmala/samplers/phases.hpp"

namespace fmala {

inline constexpr int kMaxMatrixBuffers = 7;  // (C, D) each, at most
inline constexpr int kScalarBuffers = 20;    // (C) each
inline constexpr int kCounterBuffers = 3;    // (C) each

// The set of (C, D) buffers a sampler uses. θ and θ' are always used. The
// tangent u is used by the forward samplers, the reverse tangent u* where
// has_reverse_tangent returns true, the noise z by all but the line samplers, the
// gradients at θ and θ' by MALA, and one extra tangent by PC samplers that
// average their curvature over several tangents.
struct MatrixBufferUse {
  bool tangent = false;
  bool tangent_prop = false;
  bool noise = false;
  bool gradients = false;
  bool curvature_tangent = false;
  int count() const {
    return 2 + int(tangent) + int(tangent_prop) + int(noise) + 2 * int(gradients) +
           int(curvature_tangent);
  }
};

inline MatrixBufferUse matrix_buffer_use(const SamplerOptions& options) {
  MatrixBufferUse use;
  use.tangent = is_forward(options.kind);
  use.tangent_prop = has_reverse_tangent(options);
  use.noise = !is_line(options.kind) && options.kind != SamplerKind::line_hmc;
  use.gradients = options.kind == SamplerKind::mala;
  use.curvature_tangent = has_curvature_tangents(options);
  return use;
}

// Number of (C, D) buffers the sampler of `options` uses, so the engines
// allocate C·D·matrix_buffer_count(options) values and no more: at network
// scale these buffers dominate memory (7 × 64 chains × 2.4 M parameters in
// double would be 8.6 GB).
inline int matrix_buffer_count(const SamplerOptions& options) {
  return matrix_buffer_use(options).count();
}

// Points b's buffers into `matrices` (C·D·matrix_buffer_count(options)
// values), `scalars` (C·kScalarBuffers) and `counters` (C·kCounterBuffers).
// Matrix buffers the sampler does not use are null and take no space.
inline void lay_out_buffers(ChainBuffers& b,
                            const SamplerOptions& options,
                            int chains,
                            int dim,
                            Real* matrices,
                            Real* scalars,
                            int64_t* counters) {
  const size_t cd = static_cast<size_t>(chains) * dim;
  const MatrixBufferUse use = matrix_buffer_use(options);
  Real* next = matrices;
  const auto take = [&](bool used) -> Real* {
    if (!used) {
      return nullptr;
    }
    Real* buffer = next;
    next += cd;
    return buffer;
  };
  b.chains = chains;
  b.dim = dim;
  b.theta = take(true);
  b.theta_prop = take(true);
  b.tangent = take(use.tangent);
  b.tangent_prop = take(use.tangent_prop);
  b.noise = take(use.noise);
  b.grad = take(use.gradients);
  b.grad_prop = take(use.gradients);
  b.curvature_tangent = take(use.curvature_tangent);

  const size_t c = static_cast<size_t>(chains);
  Real** fields[kScalarBuffers] = {
      &b.f,          &b.d,          &b.h,           &b.f_prop,          &b.d_prop,
      &b.h_prop,     &b.step_size,  &b.coef_c,      &b.coef_sigma,      &b.zeta,
      &b.dot_uz,     &b.dot_zz,     &b.dot_uu_rev,  &b.dot_zu_rev,      &b.accept_prob,
      &b.accept_prob_sum, &b.line_t, &b.momentum,   &b.kinetic_start,   &b.leapfrog_step};
  for (int i = 0; i < kScalarBuffers; ++i) {
    *fields[i] = scalars + i * c;
  }
  b.n_accepted = counters;
  b.n_nonfinite = counters + c;
  b.n_floor = counters + 2 * c;
}

// (C) scratch buffers of the curvature estimate (ChainBuffers::curvature_f,
// _d, _h), kept apart from the checkpointed scalars.
inline constexpr int kCurvatureScalarBuffers = 3;

// Points b's curvature scratch into `scratch` (C·kCurvatureScalarBuffers
// values), or leaves it null when the sampler has no extra tangents.
inline void lay_out_curvature_scratch(ChainBuffers& b, const SamplerOptions& options, int chains,
                                      Real* scratch) {
  if (!has_curvature_tangents(options)) {
    return;
  }
  const size_t c = static_cast<size_t>(chains);
  b.curvature_f = scratch;
  b.curvature_d = scratch + c;
  b.curvature_h = scratch + 2 * c;
}

// Throws fmala::Error naming "checkpoint" unless `state` has the sizes that
// an engine of `options`, `chains` and `dim` carries.
void check_state_shape(const EngineState& state, const SamplerOptions& options, int chains, int dim);

}  // namespace fmala
