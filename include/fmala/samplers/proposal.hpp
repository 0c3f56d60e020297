#pragma once
// Proposal coefficients and log proposal-density ratios from per-chain scalars.
//
// Full-dimensional forward proposals: θ* = θ + c u + σ z (z ~ N(0, I_D)), and the
// reverse move from θ* uses c*, σ*, u*. With Δ = θ* − θ,
//   log q(θ*|θ) = −D log σ − |z|²/2
//   log q(θ|θ*) = −D log σ* − |Δ + c* u*|²/(2σ*²)
//   |Δ + c* u*|² = c² + 2cσ (u·z) + σ²|z|² + 2c*(c (u·u*) + σ (z·u*)) + c*².
// Line proposals: θ* = θ + δ u with δ = c + σζ, reverse along the same u:
//   log q(θ*|θ) = −log σ − ζ²/2,  log q(θ|θ*) = −log σ* − (δ + c*)²/(2σ*²).
// Every ratio is formed from these scalars (dot products in double), never as
// the difference of two O(D) sums.

#include <math.h>

#include "fmala/core/config.hpp"
#include "fmala/samplers/kinds.hpp"

namespace fmala {

// Drift coefficient c and noise scale σ of a forward proposal at a point with
// directional derivative d and curvature h along its tangent.
struct Coefficients {
  Real c = 0;
  Real sigma = 0;
  bool floored = false;  // κ = max(|h|, floor) took the floor
};

FMALA_HD inline Coefficients forward_coefficients(const SamplerOptions& options,
                                                  int dim,
                                                  Real step_size,
                                                  Real d,
                                                  Real h) {
  Coefficients out;
  if (is_preconditioned(options.kind)) {
    const Real abs_h = h < Real(0) ? -h : h;
    Real kappa = abs_h;
    if (!(abs_h >= options.curvature_floor)) {  // also true for a NaN curvature
      kappa = options.curvature_floor;
      out.floored = true;
    }
    if (options.pc_form == PcForm::reference && options.kind == SamplerKind::pc_fmala) {
      out.c = step_size * step_size * d / (Real(2) * kappa);
      out.sigma = step_size / ::sqrt(static_cast<Real>(dim) * kappa);
    } else {
      out.sigma = step_size / ::sqrt(kappa);
      out.c = Real(0.5) * out.sigma * out.sigma * d;
    }
  } else {
    const Real eps = options.sqrt_dim ? step_size * ::sqrt(static_cast<Real>(dim)) : step_size;
    out.sigma = eps;
    out.c = Real(0.5) * eps * eps * d;
  }
  return out;
}

// Scalars of one full-dimensional proposal.
struct FullScalars {
  Real dot_uz = 0;      // u·z
  Real dot_zz = 0;      // |z|²
  Real dot_uu_rev = 0;  // u·u*
  Real dot_zu_rev = 0;  // z·u*
};

// log q(θ|θ*) − log q(θ*|θ) for a full-dimensional proposal.
//
// Evaluated with a = c/σ, a* = c*/σ* and r = σ/σ*, so that no σ² appears on
// its own: dividing |Δ + c* u*|² by σ*² gives
//   (a r)² + 2 a r² (u·z) + r²|z|² + 2 a* (a r (u·u*) + r (z·u*)) + a*²,
// which stays finite for step sizes whose square underflows.
FMALA_HD inline Real full_log_q_ratio(int dim,
                                      Real c,
                                      Real sigma,
                                      Real c_rev,
                                      Real sigma_rev,
                                      const FullScalars& s) {
  const Real a = c / sigma;
  const Real a_rev = c_rev / sigma_rev;
  if (sigma_rev == sigma) {
    // r = 1: the |z|² terms cancel exactly.
    return Real(-0.5) * (a * a + Real(2) * a * s.dot_uz +
                         Real(2) * a_rev * (a * s.dot_uu_rev + s.dot_zu_rev) + a_rev * a_rev);
  }
  const Real r = sigma / sigma_rev;
  const Real rest = a * a * r * r + Real(2) * a * r * r * s.dot_uz +
                    Real(2) * a_rev * (a * r * s.dot_uu_rev + r * s.dot_zu_rev) + a_rev * a_rev;
  return static_cast<Real>(dim) * ::log(r) + Real(0.5) * s.dot_zz * (Real(1) - r * r) -
         Real(0.5) * rest;
}

// log q(θ|θ*) − log q(θ*|θ) for a line proposal with noise ζ, with a = c/σ,
// a* = c*/σ* and r = σ/σ* as above: (δ + c*)/σ* = r (a + ζ) + a*.
FMALA_HD inline Real line_log_q_ratio(Real c, Real sigma, Real c_rev, Real sigma_rev, Real zeta) {
  const Real a = c / sigma;
  const Real a_rev = c_rev / sigma_rev;
  if (sigma_rev == sigma) {
    // −(c + c*)(2δ + c* − c)/(2σ²) with δ = c + σζ
    return Real(-0.5) * (a + a_rev) * (a + a_rev + Real(2) * zeta);
  }
  const Real r = sigma / sigma_rev;
  const Real back = r * (a + zeta) + a_rev;
  return ::log(r) - Real(0.5) * back * back + Real(0.5) * zeta * zeta;
}

// MALA with θ* = θ + (η²/2) g + η z:
//   log q(θ|θ*) − log q(θ*|θ) = −[η z·(g + g*) + (η²/4)|g + g*|²] / 2.
FMALA_HD inline Real mala_log_q_ratio(Real step_size, Real dot_z_gsum, Real norm2_gsum) {
  return Real(-0.5) * (step_size * dot_z_gsum + Real(0.25) * step_size * step_size * norm2_gsum);
}

// min(1, α), and 0 when log α is NaN.
FMALA_HD inline Real accept_probability(Real log_alpha) {
  if (isnan(log_alpha)) {
    return Real(0);
  }
  return log_alpha >= Real(0) ? Real(1) : ::exp(log_alpha);
}

}  // namespace fmala
