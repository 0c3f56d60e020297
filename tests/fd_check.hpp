#pragma once
// Central finite-difference checks of Dual and Jet derivatives for the tests.
//
// For a generic callable f (one definition called with double, Dual<double> and
// Jet<double>) and a point x0, the checks compare
//   Dual.d and Jet.d   with (f(x0 + h) - f(x0 - h)) / (2h),
//   Jet.d2             with (f(x0 + h) - 2 f(x0) + f(x0 - h)) / h².
// Each comparison carries its own error bound: the leading truncation term
// (h² |f'''| / 6 for the first difference, h² |f''''| / 12 for the second) plus
// the rounding term (2 δ F / (2h) and 4 δ F / h², where δ is the relative error
// of one evaluation of f and F = max |f| over the stencil). |f'''| and |f''''|
// are estimated from f itself on a wider five-point stencil, so a wrong AD rule
// cannot loosen its own tolerance.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <sstream>

#include "fmala/ad/dual.hpp"
#include "fmala/ad/jet.hpp"

namespace fmala::test {

struct FdOptions {
  // Steps are these fractions of the step scale max(|x0|, min_step_scale). The
  // defaults are powers of two near the optimal steps eps^(1/3) and eps^(1/4)
  // for double, so x0 ± h is exact for many x0.
  double first_step = 0x1p-17;   // ≈ 7.6e-6
  double second_step = 0x1p-13;  // ≈ 1.2e-4
  // Stencil for the estimates of |f'''| and |f''''| that set the truncation bound.
  double wide_step = 0x1p-7;  // ≈ 7.8e-3
  // Lower bound of the step scale. Use a value below |x0| (e.g. 0) near a domain
  // edge, such as log at small positive x, so that the stencil stays inside.
  double min_step_scale = 1.0;
  // Relative error δ of one double evaluation of f, as a multiple of machine epsilon.
  double value_error_eps = 4.0;
  // Relative error of the AD derivative itself, as a multiple of machine epsilon.
  double ad_error_eps = 64.0;
  // Factor on the error estimate, because the truncation terms are estimates of
  // the leading term only.
  double safety = 8.0;
};

// A finite-difference estimate with its error bound.
struct FdEstimate {
  double value;
  double tolerance;
};

// Length that the step fractions of FdOptions multiply.
inline double fd_step_scale(double x0, const FdOptions& options) {
  return std::max(std::abs(x0), options.min_step_scale);
}

// Magnitudes of f''' and f'''' near x0.
struct HigherDerivatives {
  double third;
  double fourth;
};

// Estimates |f'''(x0)| and |f''''(x0)| by five-point differences with step
// wide_step * fd_step_scale(x0).
template <class F>
HigherDerivatives estimate_higher_derivatives(F&& f, double x0, const FdOptions& options) {
  const double h = options.wide_step * fd_step_scale(x0, options);
  const double fm2 = f(x0 - 2 * h);
  const double fm1 = f(x0 - h);
  const double f0 = f(x0);
  const double fp1 = f(x0 + h);
  const double fp2 = f(x0 + 2 * h);
  // f''' ≈ (f(x+2h) - 2f(x+h) + 2f(x-h) - f(x-2h)) / (2h³)
  const double third = (fp2 - 2 * fp1 + 2 * fm1 - fm2) / (2 * h * h * h);
  // f'''' ≈ (f(x+2h) - 4f(x+h) + 6f(x) - 4f(x-h) + f(x-2h)) / h⁴
  const double fourth = (fp2 - 4 * fp1 + 6 * f0 - 4 * fm1 + fm2) / (h * h * h * h);
  return {std::abs(third), std::abs(fourth)};
}

// Returns (f(x0 + h) - f(x0 - h)) / (x0 + h - (x0 - h)) with its error bound.
template <class F>
FdEstimate central_first_difference(F&& f, double x0, const FdOptions& options) {
  constexpr double kEps = std::numeric_limits<double>::epsilon();
  const double h = options.first_step * fd_step_scale(x0, options);
  const double xp = x0 + h;
  const double xm = x0 - h;
  const double fp = f(xp);
  const double fm = f(xm);
  // Dividing by the distance between the rounded points removes the error of
  // rounding x0 ± h.
  const double width = xp - xm;
  const double value = (fp - fm) / width;

  const HigherDerivatives higher = estimate_higher_derivatives(f, x0, options);
  const double magnitude = std::max({std::abs(fp), std::abs(fm), std::abs(f(x0))});
  const double truncation = h * h * higher.third / 6;
  const double rounding = 2 * options.value_error_eps * kEps * magnitude / width;
  return {value, options.safety * (truncation + rounding)};
}

// Returns the second difference of f at x0 with steps near h = second_step *
// fd_step_scale(x0), which is (f(x0 + h) - 2 f(x0) + f(x0 - h)) / h² for exact steps,
// with its error bound.
template <class F>
FdEstimate central_second_difference(F&& f, double x0, const FdOptions& options) {
  constexpr double kEps = std::numeric_limits<double>::epsilon();
  const double h = options.second_step * fd_step_scale(x0, options);
  const double xp = x0 + h;
  const double xm = x0 - h;
  const double fp = f(xp);
  const double f0 = f(x0);
  const double fm = f(xm);
  // The three-point rule for unequal steps, exact for quadratics, because
  // rounding x0 ± h can leave the two steps unequal.
  const double step_up = xp - x0;
  const double step_down = x0 - xm;
  const double value = 2 * ((fp - f0) / step_up - (f0 - fm) / step_down) / (step_up + step_down);

  const HigherDerivatives higher = estimate_higher_derivatives(f, x0, options);
  const double magnitude = std::max({std::abs(fp), std::abs(fm), std::abs(f0)});
  const double truncation = h * h * higher.fourth / 12;
  const double rounding = 4 * options.value_error_eps * kEps * magnitude / (h * h);
  return {value, options.safety * (truncation + rounding)};
}

// Checks one point: Dual.val and Jet.val against f(x0), Dual.d and Jet.d against
// the first central difference, Jet.d2 against the second, and Jet.d against
// Dual.d. The inputs are seeded as Dual(x0, 1) and Jet(x0, 1, 0).
template <class F>
::testing::AssertionResult matches_central_differences(F&& f, double x0,
                                                       const FdOptions& options = {}) {
  constexpr double kEps = std::numeric_limits<double>::epsilon();
  const double ad_error = options.ad_error_eps * kEps;
  const double value = f(x0);
  const Dual<double> dual = f(Dual<double>(x0, 1.0));
  const Jet<double> jet = f(Jet<double>(x0, 1.0, 0.0));
  const FdEstimate first = central_first_difference(f, x0, options);
  const FdEstimate second = central_second_difference(f, x0, options);

  std::ostringstream failures;
  failures.precision(17);
  bool ok = true;
  const auto check = [&](const char* what, double actual, double expected, double tolerance) {
    // NaN in either operand fails because the comparison below is then false.
    if (!(std::abs(actual - expected) <= tolerance)) {
      ok = false;
      failures << "\n  " << what << " at x0 = " << x0 << ": " << actual << ", expected " << expected
               << " within " << tolerance << " (difference " << std::abs(actual - expected) << ")";
    }
  };
  const double value_tolerance = ad_error * std::abs(value);
  check("Dual.val", dual.val, value, value_tolerance);
  check("Jet.val", jet.val, value, value_tolerance);
  check("Dual.d vs first central difference", dual.d, first.value,
        first.tolerance + ad_error * std::abs(dual.d));
  check("Jet.d vs first central difference", jet.d, first.value,
        first.tolerance + ad_error * std::abs(jet.d));
  check("Jet.d2 vs second central difference", jet.d2, second.value,
        second.tolerance + ad_error * std::abs(jet.d2));
  check("Jet.d vs Dual.d", jet.d, dual.d, ad_error * std::abs(dual.d));
  if (ok) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << failures.str();
}

// Runs matches_central_differences over every point, one EXPECT per point.
template <class F>
void expect_matches_central_differences(F&& f, std::span<const double> points,
                                        const FdOptions& options = {}) {
  for (const double x0 : points) {
    EXPECT_TRUE(matches_central_differences(f, x0, options));
  }
}

}  // namespace fmala::test
