#pragma once
// Jet<T>: a second-order forward-mode number along one line. Evaluating f on
// x + t u with Jet inputs (x_i, u_i, 0) yields g(0), g'(0) = ∇f(x)·u and
// g''(0) = uᵀ∇²f(x)u for g(t) = f(x + t u), in one pass.

#include "fmala/core/config.hpp"

namespace fmala {

template <class T>
struct Jet {
  T val{};  // g(0)
  T d{};    // g'(0), first derivative along the line
  T d2{};   // g''(0), second derivative along the line

  constexpr Jet() = default;
  FMALA_HD constexpr Jet(T value) : val(value), d(T(0)), d2(T(0)) {}  // NOLINT: constants promote
  FMALA_HD constexpr Jet(T value, T first, T second) : val(value), d(first), d2(second) {}

  FMALA_HD Jet& operator+=(const Jet& o) {
    val += o.val;
    d += o.d;
    d2 += o.d2;
    return *this;
  }
  FMALA_HD Jet& operator-=(const Jet& o) {
    val -= o.val;
    d -= o.d;
    d2 -= o.d2;
    return *this;
  }
  // (ab)'' = a''b + 2a'b' + ab''
  FMALA_HD Jet& operator*=(const Jet& o) {
    const T second = d2 * o.val + T(2) * d * o.d + val * o.d2;
    d = d * o.val + val * o.d;
    d2 = second;
    val *= o.val;
    return *this;
  }
  // q = a/b: q' = (a' - q b')/b, q'' = (a'' - 2 q' b' - q b'')/b
  FMALA_HD Jet& operator/=(const Jet& o) {
    const T q = val / o.val;
    const T q1 = (d - q * o.d) / o.val;
    const T q2 = (d2 - T(2) * q1 * o.d - q * o.d2) / o.val;
    val = q;
    d = q1;
    d2 = q2;
    return *this;
  }
};

template <class T>
FMALA_HD Jet<T> operator-(const Jet<T>& a) {
  return {-a.val, -a.d, -a.d2};
}
template <class T>
FMALA_HD Jet<T> operator+(Jet<T> a, const Jet<T>& b) {
  return a += b;
}
template <class T>
FMALA_HD Jet<T> operator-(Jet<T> a, const Jet<T>& b) {
  return a -= b;
}
template <class T>
FMALA_HD Jet<T> operator*(Jet<T> a, const Jet<T>& b) {
  return a *= b;
}
template <class T>
FMALA_HD Jet<T> operator/(Jet<T> a, const Jet<T>& b) {
  return a /= b;
}
template <class T>
FMALA_HD Jet<T> operator+(Jet<T> a, T b) {
  a.val += b;
  return a;
}
template <class T>
FMALA_HD Jet<T> operator+(T a, Jet<T> b) {
  b.val += a;
  return b;
}
template <class T>
FMALA_HD Jet<T> operator-(Jet<T> a, T b) {
  a.val -= b;
  return a;
}
template <class T>
FMALA_HD Jet<T> operator-(T a, const Jet<T>& b) {
  return {a - b.val, -b.d, -b.d2};
}
template <class T>
FMALA_HD Jet<T> operator*(const Jet<T>& a, T b) {
  return {a.val * b, a.d * b, a.d2 * b};
}
template <class T>
FMALA_HD Jet<T> operator*(T a, const Jet<T>& b) {
  return {a * b.val, a * b.d, a * b.d2};
}
template <class T>
FMALA_HD Jet<T> operator/(const Jet<T>& a, T b) {
  return {a.val / b, a.d / b, a.d2 / b};
}
template <class T>
FMALA_HD Jet<T> operator/(T a, const Jet<T>& b) {
  return Jet<T>(a) / b;
}
template <class T>
FMALA_HD bool operator<(const Jet<T>& a, const Jet<T>& b) {
  return a.val < b.val;
}
template <class T>
FMALA_HD bool operator>(const Jet<T>& a, const Jet<T>& b) {
  return a.val > b.val;
}

}  // namespace fmala
