#pragma once
// Gaussian target N(0, Σ) with either diagonal Σ = diag(scales²) or an AR(1)
// correlation Σ_ij = ρ^|i−j| (unit variances). Log-density without its constant.

#include "fmala/ad/math.hpp"
#include "fmala/core/config.hpp"
#include "fmala/targets/point.hpp"

namespace fmala {

struct GaussianTarget {
  int dim = 1;
  const Real* scales = nullptr;  // (D) standard deviations, or null for all ones; ignored when rho != 0
  Real rho = 0;                  // AR(1) correlation of neighbours, |rho| < 1

  // AR(1): f = −½ [x_0² + Σ_{i≥1} (x_i − ρ x_{i−1})² / (1 − ρ²)]
  // diagonal: f = −½ Σ (x_i / s_i)²
  template <class X>
  FMALA_HD typename X::value_type log_density(const X& x) const {
    using T = typename X::value_type;
    T sum = T(Real(0));
    if (rho != Real(0)) {
      const Real inv = Real(1) / (Real(1) - rho * rho);
      sum += x[0] * x[0];
      for (int i = 1; i < dim; ++i) {
        const T r = x[i] - rho * x[i - 1];
        sum += (r * r) * inv;
      }
    } else {
      for (int i = 0; i < dim; ++i) {
        const Real s = scales ? scales[i] : Real(1);
        const T y = x[i] / s;
        sum += y * y;
      }
    }
    return Real(-0.5) * sum;
  }

  FMALA_HD Real gradient(const Real* x, Real* g) const {
    if (rho != Real(0)) {
      // With r_i = x_i − ρ x_{i−1}: ∂f/∂x_i = −[x_0]_{i=0} − (r_i [i≥1] − ρ r_{i+1} [i<D−1]) / (1 − ρ²)
      const Real inv = Real(1) / (Real(1) - rho * rho);
      for (int i = 0; i < dim; ++i) {
        Real gi = (i == 0) ? -x[0] : -(x[i] - rho * x[i - 1]) * inv;
        if (i + 1 < dim) {
          gi += rho * (x[i + 1] - rho * x[i]) * inv;
        }
        g[i] = gi;
      }
    } else {
      for (int i = 0; i < dim; ++i) {
        const Real s = scales ? scales[i] : Real(1);
        g[i] = -x[i] / (s * s);
      }
    }
    return log_density(LinePoint<Real>{x});
  }
};

}  // namespace fmala
