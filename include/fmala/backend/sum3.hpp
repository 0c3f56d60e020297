#pragma once
// Sum3: three sums in double, reduced together, such as the prior's
// Σ θ², Σ θ·u and Σ u² of one chain.

#include "fmala/core/config.hpp"

namespace fmala {

struct Sum3 {
  double a = 0.0;
  double b = 0.0;
  double c = 0.0;
};

FMALA_HD inline Sum3 operator+(const Sum3& x, const Sum3& y) { return Sum3{x.a + y.a, x.b + y.b, x.c + y.c}; }

// The reduction operator for device reductions of Sum3 values.
struct AddSum3 {
  FMALA_HD Sum3 operator()(const Sum3& x, const Sum3& y) const { return x + y; }
};

}  // namespace fmala
