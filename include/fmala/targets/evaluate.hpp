#pragma once
// Per-chain evaluation of a target functor, shared by the CPU loop and the
// CUDA kernels. A target is any type with
//
//   template <class X> typename X::value_type log_density(const X& x) const;
//
// where x[i] yields coordinate i as a Real, Dual<Real> or Jet<Real> (see
// LinePoint). One definition gives the value, ∇f·u and uᵀ∇²f u. A target may
// also define `Real gradient(const Real* x, Real* g) const` (returning f);
// without it the gradient is assembled from D forward passes.

#include <type_traits>

#include "fmala/ad/math.hpp"
#include "fmala/targets/point.hpp"

namespace fmala {

template <class Target>
concept HasGradient = requires(const Target& t, const Real* x, Real* g) {
  { t.gradient(x, g) } -> std::convertible_to<Real>;
};

// order 0: f; 1: f and d = ∇f·u; 2: f, d and h = uᵀ∇²f u.
template <class Target>
FMALA_HD void evaluate_jet(const Target& target,
                           const Real* theta,
                           const Real* direction,
                           int order,
                           Real* f,
                           Real* d,
                           Real* h) {
  if (order >= 2) {
    const Jet<Real> y = target.log_density(LinePoint<Jet<Real>>{theta, direction});
    *f = y.val;
    *d = y.d;
    *h = y.d2;
  } else if (order == 1) {
    const Dual<Real> y = target.log_density(LinePoint<Dual<Real>>{theta, direction});
    *f = y.val;
    *d = y.d;
  } else {
    *f = target.log_density(LinePoint<Real>{theta});
  }
}

// Writes ∇f into g (D) and returns f. `unit` is scratch space of D values.
template <class Target>
FMALA_HD Real evaluate_gradient(const Target& target, int dim, const Real* theta, Real* g, Real* unit) {
  if constexpr (HasGradient<Target>) {
    (void)dim;
    (void)unit;
    return target.gradient(theta, g);
  } else {
    Real f = Real(0);
    for (int i = 0; i < dim; ++i) {
      unit[i] = Real(0);
    }
    for (int i = 0; i < dim; ++i) {
      unit[i] = Real(1);
      const Dual<Real> y = target.log_density(LinePoint<Dual<Real>>{theta, unit});
      unit[i] = Real(0);
      g[i] = y.d;
      f = y.val;
    }
    return f;
  }
}

}  // namespace fmala
