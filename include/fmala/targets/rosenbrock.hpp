#pragma once
// Rosenbrock "banana" in two dimensions: f(x, y) = −((1 − x)² + 100 (y − x²)²) / 20.

#include "fmala/ad/math.hpp"
#include "fmala/core/config.hpp"
#include "fmala/targets/point.hpp"

namespace fmala {

struct RosenbrockTarget {
  int dim = 2;

  template <class X>
  FMALA_HD typename X::value_type log_density(const X& x) const {
    using T = typename X::value_type;
    const T a = Real(1) - x[0];
    const T b = x[1] - x[0] * x[0];
    return Real(-1.0 / 20.0) * (a * a + Real(100) * (b * b));
  }

  // ∂f/∂x = (2a + 400 x b) / 20,  ∂f/∂y = −10 b, with a = 1 − x, b = y − x²
  FMALA_HD Real gradient(const Real* x, Real* g) const {
    const Real a = Real(1) - x[0];
    const Real b = x[1] - x[0] * x[0];
    g[0] = (Real(2) * a + Real(400) * x[0] * b) / Real(20);
    g[1] = Real(-10) * b;
    return log_density(LinePoint<Real>{x});
  }
};

}  // namespace fmala
