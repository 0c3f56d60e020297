#pragma once
// Dual<T>: a first-order forward-mode number, value plus the derivative along
// one direction. Evaluating f on x + t u with Dual inputs (x_i, u_i) yields
// f(x) and the directional derivative ∇f(x)·u in one pass.

#include "fmala/core/config.hpp"

namespace fmala {

template <class T>
struct Dual {
  T val{};  // value
  T d{};    // first derivative along the direction

  constexpr Dual() = default;
  FMALA_HD constexpr Dual(T value) : val(value), d(T(0)) {}  // NOLINT: constants promote
  FMALA_HD constexpr Dual(T value, T derivative) : val(value), d(derivative) {}

  FMALA_HD Dual& operator+=(const Dual& o) {
    val += o.val;
    d += o.d;
    return *this;
  }
  FMALA_HD Dual& operator-=(const Dual& o) {
    val -= o.val;
    d -= o.d;
    return *this;
  }
  // (ab)' = a'b + ab'
  FMALA_HD Dual& operator*=(const Dual& o) {
    d = d * o.val + val * o.d;
    val *= o.val;
    return *this;
  }
  // (a/b)' = (a' - (a/b) b') / b
  FMALA_HD Dual& operator/=(const Dual& o) {
    const T q = val / o.val;
    d = (d - q * o.d) / o.val;
    val = q;
    return *this;
  }
};

template <class T>
FMALA_HD Dual<T> operator-(const Dual<T>& a) {
  return {-a.val, -a.d};
}
template <class T>
FMALA_HD Dual<T> operator+(Dual<T> a, const Dual<T>& b) {
  return a += b;
}
template <class T>
FMALA_HD Dual<T> operator-(Dual<T> a, const Dual<T>& b) {
  return a -= b;
}
template <class T>
FMALA_HD Dual<T> operator*(Dual<T> a, const Dual<T>& b) {
  return a *= b;
}
template <class T>
FMALA_HD Dual<T> operator/(Dual<T> a, const Dual<T>& b) {
  return a /= b;
}
// Mixed operations with a plain scalar.
template <class T>
FMALA_HD Dual<T> operator+(Dual<T> a, T b) {
  a.val += b;
  return a;
}
template <class T>
FMALA_HD Dual<T> operator+(T a, Dual<T> b) {
  b.val += a;
  return b;
}
template <class T>
FMALA_HD Dual<T> operator-(Dual<T> a, T b) {
  a.val -= b;
  return a;
}
template <class T>
FMALA_HD Dual<T> operator-(T a, const Dual<T>& b) {
  return {a - b.val, -b.d};
}
template <class T>
FMALA_HD Dual<T> operator*(const Dual<T>& a, T b) {
  return {a.val * b, a.d * b};
}
template <class T>
FMALA_HD Dual<T> operator*(T a, const Dual<T>& b) {
  return {a * b.val, a * b.d};
}
template <class T>
FMALA_HD Dual<T> operator/(const Dual<T>& a, T b) {
  return {a.val / b, a.d / b};
}
template <class T>
FMALA_HD Dual<T> operator/(T a, const Dual<T>& b) {
  const T q = a / b.val;
  return {q, -q * b.d / b.val};
}
// Comparisons look at the value only, so branches follow the primal path.
template <class T>
FMALA_HD bool operator<(const Dual<T>& a, const Dual<T>& b) {
  return a.val < b.val;
}
template <class T>
FMALA_HD bool operator>(const Dual<T>& a, const Dual<T>& b) {
  return a.val > b.val;
}

}  // namespace fmala
