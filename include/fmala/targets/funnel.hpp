#pragma once
// Neal's funnel in D parameters: v = x_0 ~ N(0, 3²) and x_i | v ~ N(0, e^v) for
// i = 1..D−1. The log-density keeps all its constants.

#include "fmala/ad/math.hpp"
#include "fmala/core/config.hpp"
#include "fmala/targets/point.hpp"

namespace fmala {

struct FunnelTarget {
  int dim = 11;

  // f = −v²/18 − ½ log(2π·9) + Σ_i [−½ x_i² e^{−v} − v/2 − ½ log(2π)]
  template <class X>
  FMALA_HD typename X::value_type log_density(const X& x) const {
    using T = typename X::value_type;
    const Real log_2pi = Real(1.8378770664093453);
    const T v = x[0];
    const T inv_var = exp(-v);
    T sum_sq = T(Real(0));
    for (int i = 1; i < dim; ++i) {
      sum_sq += x[i] * x[i];
    }
    const Real n = static_cast<Real>(dim - 1);
    return Real(-1.0 / 18.0) * (v * v) - Real(0.5) * (log_2pi + Real(2.1972245773362196)) +
           Real(-0.5) * (sum_sq * inv_var) - (Real(0.5) * n) * v - Real(0.5) * n * log_2pi;
  }

  // ∂f/∂v = −v/9 + Σ_i (½ x_i² e^{−v} − ½),  ∂f/∂x_i = −x_i e^{−v}
  FMALA_HD Real gradient(const Real* x, Real* g) const {
    const Real inv_var = exp(x[0]);
    const Real e = Real(1) / inv_var;
    Real dv = -x[0] / Real(9);
    for (int i = 1; i < dim; ++i) {
      dv += Real(0.5) * x[i] * x[i] * e - Real(0.5);
      g[i] = -x[i] * e;
    }
    g[0] = dv;
    return log_density(LinePoint<Real>{x});
  }
};

}  // namespace fmala
