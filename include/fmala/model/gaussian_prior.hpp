#pragma once
// The isotropic Gaussian prior of the models' weights, as a jet along a line,
// for the models on the CPU and the network evaluator on either back end.

#include <cstddef>

#include "fmala/ad/jet.hpp"
#include "fmala/ad/math.hpp"
#include "fmala/core/config.hpp"

namespace fmala::detail {

// The prior's jet from Σ θ_i², Σ θ_i u_i and Σ u_i² over its `count` entries.
FMALA_HD inline Jet<Real> gaussian_prior_from_sums(double sum_tt, double sum_tu, double sum_uu, size_t count,
                                                   Real prior_sd) {
  constexpr double kLogTwoPi = 1.83787706640934548356065947281123527;
  const Real inv_var = Real(1) / (prior_sd * prior_sd);
  return Jet<Real>(-0.5 * sum_tt * inv_var -
                       static_cast<double>(count) * (log(prior_sd) + 0.5 * kLogTwoPi),
                   -sum_tu * inv_var, -sum_uu * inv_var);
}

// Σ_i log N(θ_i + t u_i; 0, s²) over the first `count` entries at t = 0, with
// its first and second derivatives in t for order ≥ 1 and ≥ 2:
//   -Σ (θ_i + t u_i)² / (2 s²) - count (log s + log(2π) / 2).
// direction may be null for order 0.
FMALA_HD inline Jet<Real> gaussian_prior_jet(const Real* theta, const Real* direction, int order,
                                             size_t count, Real prior_sd) {
  double sum_tt = 0;
  double sum_tu = 0;
  double sum_uu = 0;
  for (size_t i = 0; i < count; ++i) {
    sum_tt += theta[i] * theta[i];
    if (order >= 1) {
      sum_tu += theta[i] * direction[i];
    }
    if (order >= 2) {
      sum_uu += direction[i] * direction[i];
    }
  }
  return gaussian_prior_from_sums(sum_tt, sum_tu, sum_uu, count, prior_sd);
}

}  // namespace fmala::detail
