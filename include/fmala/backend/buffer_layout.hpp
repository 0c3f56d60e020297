#pragma once
// How both engines carve their per-chain buffers out of three allocations:
// every (C, D) buffer, every (C) scalar buffer and the (C) counters, back to
// back. Host code only; the pointers may be host or device addresses.

#include <cstddef>
#include <cstdint>

#include "fmala/samplers/phases.hpp"

namespace fmala {

inline constexpr int kMatrixBuffers = 7;   // (C, D) each
inline constexpr int kScalarBuffers = 20;  // (C) each
inline constexpr int kCounterBuffers = 3;  // (C) each

// Points b's buffers into `matrices` (C·D·kMatrixBuffers values), `scalars`
// (C·kScalarBuffers) and `counters` (C·kCounterBuffers). Matrix buffers the
// sampler does not use stay null, although their space is reserved.
inline void lay_out_buffers(ChainBuffers& b,
                            const SamplerOptions& options,
                            int chains,
                            int dim,
                            Real* matrices,
                            Real* scalars,
                            int64_t* counters) {
  const size_t cd = static_cast<size_t>(chains) * dim;
  const bool mala = options.kind == SamplerKind::mala;
  const bool needs_noise = !is_line(options.kind) && options.kind != SamplerKind::line_hmc;
  b.chains = chains;
  b.dim = dim;
  b.theta = matrices;
  b.theta_prop = matrices + cd;
  b.tangent = is_forward(options.kind) ? matrices + 2 * cd : nullptr;
  b.tangent_prop = has_reverse_tangent(options) ? matrices + 3 * cd : nullptr;
  b.noise = needs_noise ? matrices + 4 * cd : nullptr;
  b.grad = mala ? matrices + 5 * cd : nullptr;
  b.grad_prop = mala ? matrices + 6 * cd : nullptr;
  // NOTE: unused (C, D) buffers are reserved anyway; trimming them matters
  // only for memory at network scale.

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

}  // namespace fmala
