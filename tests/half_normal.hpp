#pragma once
// A target with a bounded support for the tests: the half-normal.

#include <limits>

#include "fmala/ad/dual.hpp"
#include "fmala/ad/jet.hpp"
#include "fmala/core/config.hpp"

namespace fmala::testing {

// The half-normal log-density -x²/2 for x > 0 and -inf for x <= 0, as a user would write
// it: outside the support the value is -inf and its derivatives are NaN.
struct HalfNormalTarget {
  static Real value_of(Real y) { return y; }
  static Real value_of(const Dual<Real>& y) { return y.val; }
  static Real value_of(const Jet<Real>& y) { return y.val; }

  static Real outside(Real) { return -std::numeric_limits<Real>::infinity(); }
  static Dual<Real> outside(const Dual<Real>&) {
    return {-std::numeric_limits<Real>::infinity(), std::numeric_limits<Real>::quiet_NaN()};
  }
  static Jet<Real> outside(const Jet<Real>&) {
    return {-std::numeric_limits<Real>::infinity(), std::numeric_limits<Real>::quiet_NaN(),
            std::numeric_limits<Real>::quiet_NaN()};
  }

  template <class X>
  typename X::value_type log_density(const X& x) const {
    const typename X::value_type y = x[0];
    if (!(value_of(y) > Real(0))) {
      return outside(y);
    }
    return Real(-0.5) * (y * y);
  }
};

}  // namespace fmala::testing
