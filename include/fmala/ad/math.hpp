#pragma once
// Elementary functions for double, float, Dual<T> and Jet<T>.
//
// Every unary rule goes through lift(): for y = f(x) along a line,
//   y' = f'(x) x'            and   y'' = f''(x) x'² + f'(x) x''.
// Plain scalars call the C math library, which nvcc also provides on the device.

#include <math.h>

#include "fmala/ad/dual.hpp"
#include "fmala/ad/jet.hpp"
#include "fmala/core/config.hpp"

namespace fmala {

// ---- plain scalars ------------------------------------------------------------------
FMALA_HD inline double exp(double x) { return ::exp(x); }
FMALA_HD inline double log(double x) { return ::log(x); }
FMALA_HD inline double log1p(double x) { return ::log1p(x); }
FMALA_HD inline double tanh(double x) { return ::tanh(x); }
FMALA_HD inline double sqrt(double x) { return ::sqrt(x); }
FMALA_HD inline float exp(float x) { return ::expf(x); }
FMALA_HD inline float log(float x) { return ::logf(x); }
FMALA_HD inline float log1p(float x) { return ::log1pf(x); }
FMALA_HD inline float tanh(float x) { return ::tanhf(x); }
FMALA_HD inline float sqrt(float x) { return ::sqrtf(x); }

template <class T>
FMALA_HD inline T square(T x) {
  return x * x;
}
// Stable logistic function: never evaluates exp of a large positive number.
template <class T>
FMALA_HD inline T sigmoid_value(T x) {
  if (x >= T(0)) {
    return T(1) / (T(1) + exp(-x));
  }
  const T e = exp(x);
  return e / (T(1) + e);
}
FMALA_HD inline double sigmoid(double x) { return sigmoid_value(x); }
FMALA_HD inline float sigmoid(float x) { return sigmoid_value(x); }
// softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|).
template <class T>
FMALA_HD inline T softplus_value(T x) {
  const T abs_x = x < T(0) ? -x : x;
  return (x > T(0) ? x : T(0)) + log1p(exp(-abs_x));
}
FMALA_HD inline double softplus(double x) { return softplus_value(x); }
FMALA_HD inline float softplus(float x) { return softplus_value(x); }
FMALA_HD inline double relu(double x) { return x > 0.0 ? x : 0.0; }
FMALA_HD inline float relu(float x) { return x > 0.0f ? x : 0.0f; }

// ---- chain rule --------------------------------------------------------------------
template <class T>
FMALA_HD inline Dual<T> lift(const Dual<T>& x, T f, T df, T /*d2f*/) {
  return {f, df * x.d};
}
template <class T>
FMALA_HD inline Jet<T> lift(const Jet<T>& x, T f, T df, T d2f) {
  return {f, df * x.d, d2f * x.d * x.d + df * x.d2};
}

// exp' = exp'' = exp
template <class X>
FMALA_HD inline X exp_jet(const X& x) {
  const auto e = exp(x.val);
  return lift(x, e, e, e);
}
// log' = 1/x, log'' = -1/x²
template <class X>
FMALA_HD inline X log_jet(const X& x) {
  using T = decltype(x.val);
  const T inv = T(1) / x.val;
  return lift(x, log(x.val), inv, -inv * inv);
}
// log1p' = 1/(1+x), log1p'' = -1/(1+x)²
template <class X>
FMALA_HD inline X log1p_jet(const X& x) {
  using T = decltype(x.val);
  const T inv = T(1) / (T(1) + x.val);
  return lift(x, log1p(x.val), inv, -inv * inv);
}
// tanh' = 1 - t², tanh'' = -2t(1 - t²)
template <class X>
FMALA_HD inline X tanh_jet(const X& x) {
  using T = decltype(x.val);
  const T t = tanh(x.val);
  const T dt = T(1) - t * t;
  return lift(x, t, dt, T(-2) * t * dt);
}
// sqrt' = 1/(2√x), sqrt'' = -1/(4 x√x)
template <class X>
FMALA_HD inline X sqrt_jet(const X& x) {
  using T = decltype(x.val);
  const T s = sqrt(x.val);
  return lift(x, s, T(0.5) / s, T(-0.25) / (s * x.val));
}
// σ(x) and its complement σ(-x) = 1 - σ(x), both from one exp(-|x|). Forming
// 1 - σ(x) by subtraction returns exactly 0 for x > 37 in double, which would
// zero σ' = σ(x)σ(-x) where its true value is still a normal number.
template <class T>
struct SigmoidPair {
  T s;  // σ(x)
  T c;  // σ(-x)
};
template <class T>
FMALA_HD inline SigmoidPair<T> sigmoid_pair(T x) {
  const T e = exp(x < T(0) ? x : -x);  // exp(-|x|), in (0, 1]
  const T large = T(1) / (T(1) + e);   // σ(|x|)
  const T small = e * large;           // σ(-|x|)
  return x >= T(0) ? SigmoidPair<T>{large, small} : SigmoidPair<T>{small, large};
}
// σ' = σ(x)σ(-x), σ'' = σ'(x)(σ(-x) - σ(x)) = σ'(x)(1 - 2σ(x))
template <class X>
FMALA_HD inline X sigmoid_jet(const X& x) {
  const auto p = sigmoid_pair(x.val);
  const auto ds = p.s * p.c;
  return lift(x, p.s, ds, ds * (p.c - p.s));
}
// softplus' = σ(x), softplus'' = σ(x)σ(-x)
template <class X>
FMALA_HD inline X softplus_jet(const X& x) {
  const auto p = sigmoid_pair(x.val);
  return lift(x, softplus(x.val), p.s, p.s * p.c);
}
// relu' = 1 for x > 0 and 0 otherwise (0 at the kink), relu'' = 0
template <class X>
FMALA_HD inline X relu_jet(const X& x) {
  using T = decltype(x.val);
  const bool positive = x.val > T(0);
  return lift(x, positive ? x.val : T(0), positive ? T(1) : T(0), T(0));
}

template <class T>
FMALA_HD inline Dual<T> exp(const Dual<T>& x) { return exp_jet(x); }
template <class T>
FMALA_HD inline Jet<T> exp(const Jet<T>& x) { return exp_jet(x); }
template <class T>
FMALA_HD inline Dual<T> log(const Dual<T>& x) { return log_jet(x); }
template <class T>
FMALA_HD inline Jet<T> log(const Jet<T>& x) { return log_jet(x); }
template <class T>
FMALA_HD inline Dual<T> log1p(const Dual<T>& x) { return log1p_jet(x); }
template <class T>
FMALA_HD inline Jet<T> log1p(const Jet<T>& x) { return log1p_jet(x); }
template <class T>
FMALA_HD inline Dual<T> tanh(const Dual<T>& x) { return tanh_jet(x); }
template <class T>
FMALA_HD inline Jet<T> tanh(const Jet<T>& x) { return tanh_jet(x); }
template <class T>
FMALA_HD inline Dual<T> sqrt(const Dual<T>& x) { return sqrt_jet(x); }
template <class T>
FMALA_HD inline Jet<T> sqrt(const Jet<T>& x) { return sqrt_jet(x); }
template <class T>
FMALA_HD inline Dual<T> sigmoid(const Dual<T>& x) { return sigmoid_jet(x); }
template <class T>
FMALA_HD inline Jet<T> sigmoid(const Jet<T>& x) { return sigmoid_jet(x); }
template <class T>
FMALA_HD inline Dual<T> softplus(const Dual<T>& x) { return softplus_jet(x); }
template <class T>
FMALA_HD inline Jet<T> softplus(const Jet<T>& x) { return softplus_jet(x); }
template <class T>
FMALA_HD inline Dual<T> relu(const Dual<T>& x) { return relu_jet(x); }
template <class T>
FMALA_HD inline Jet<T> relu(const Jet<T>& x) { return relu_jet(x); }

// Value of a number of any of the supported types.
FMALA_HD inline double value_of(double x) { return x; }
FMALA_HD inline float value_of(float x) { return x; }
template <class T>
FMALA_HD inline T value_of(const Dual<T>& x) { return x.val; }
template <class T>
FMALA_HD inline T value_of(const Jet<T>& x) { return x.val; }

// log Σ exp(x_i), shifted by the largest value so no term overflows. The shift
// is a constant, so derivatives pass through unchanged.
template <class X>
FMALA_HD inline X log_sum_exp(const X* x, int n) {
  auto shift = value_of(x[0]);
  for (int i = 1; i < n; ++i) {
    if (value_of(x[i]) > shift) {
      shift = value_of(x[i]);
    }
  }
  X sum = exp(x[0] - shift);
  for (int i = 1; i < n; ++i) {
    sum += exp(x[i] - shift);
  }
  return log(sum) + shift;
}
template <class X>
FMALA_HD inline X log_sum_exp(const X& a, const X& b) {
  const X pair[2] = {a, b};
  return log_sum_exp(pair, 2);
}

}  // namespace fmala
