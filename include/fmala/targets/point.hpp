#pragma once
// LinePoint<T>: the point θ + t u at t = 0, read coordinate by coordinate as
// numbers of type T. Targets take it instead of an array, so a Dual or Jet
// input is seeded on the fly and no per-chain scratch array is needed, on
// the host or the device.
//
//   LinePoint<Real>        x[i] = θ_i
//   LinePoint<Dual<Real>>  x[i] = (θ_i, u_i)        -> value and ∇f·u
//   LinePoint<Jet<Real>>   x[i] = (θ_i, u_i, 0)     -> value, ∇f·u and uᵀ∇²f u

#include "fmala/ad/dual.hpp"
#include "fmala/ad/jet.hpp"
#include "fmala/core/config.hpp"

namespace fmala {

template <class T>
struct LinePoint;

template <>
struct LinePoint<Real> {
  using value_type = Real;
  const Real* theta;
  FMALA_HD Real operator[](int i) const { return theta[i]; }
};

template <>
struct LinePoint<Dual<Real>> {
  using value_type = Dual<Real>;
  const Real* theta;
  const Real* direction;
  FMALA_HD Dual<Real> operator[](int i) const { return {theta[i], direction[i]}; }
};

template <>
struct LinePoint<Jet<Real>> {
  using value_type = Jet<Real>;
  const Real* theta;
  const Real* direction;
  FMALA_HD Jet<Real> operator[](int i) const { return {theta[i], direction[i], Real(0)}; }
};

}  // namespace fmala
