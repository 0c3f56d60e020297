// Tests of Jet<T>: arithmetic with second derivatives, the elementary functions of
// fmala/ad/math.hpp against closed forms and central differences, the chain rule
// along a line x = x0 + t u, stable forms at large arguments, and Jet<float>.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "fd_check.hpp"
#include "fmala/ad/jet.hpp"
#include "fmala/ad/math.hpp"

namespace {

using fmala::Dual;
using fmala::Jet;
using fmala::test::expect_matches_central_differences;
using fmala::test::FdOptions;
using fmala::test::matches_central_differences;

constexpr double kEps = std::numeric_limits<double>::epsilon();

// Arrays of Jet are copied as raw memory (memcpy, cudaMemcpy), which needs a trivially
// copyable type of exactly three T with no padding.
static_assert(std::is_trivially_copyable_v<Jet<double>>);
static_assert(sizeof(Jet<double>) == 3 * sizeof(double));
static_assert(sizeof(Jet<float>) == 3 * sizeof(float));

// σ'(x) = e^{-|x|} / (1 + e^{-|x|})², which is even in x and never forms 1 - σ.
double sigmoid_derivative(double x) {
  const double e = std::exp(-std::abs(x));
  return e / ((1 + e) * (1 + e));
}

void expect_jet_eq(const Jet<double>& actual, double val, double d, double d2) {
  EXPECT_EQ(actual.val, val);
  EXPECT_EQ(actual.d, d);
  EXPECT_EQ(actual.d2, d2);
}

// ---- arithmetic ------------------------------------------------------------------------

// a = (3, 2, 1) and b = (2, -1, 4) as (value, first, second derivative along t).
// Every expected value below is a small dyadic number, so the results are exact.
const Jet<double> kA(3.0, 2.0, 1.0);
const Jet<double> kB(2.0, -1.0, 4.0);

TEST(Jet, DefaultConstructedIsZero) { expect_jet_eq(Jet<double>(), 0.0, 0.0, 0.0); }

TEST(Jet, ScalarPromotesWithZeroDerivatives) {
  const Jet<double> x = 2.5;
  expect_jet_eq(x, 2.5, 0.0, 0.0);
}

TEST(Jet, AdditionAndSubtractionActPerComponent) {
  expect_jet_eq(kA + kB, 5.0, 1.0, 5.0);
  expect_jet_eq(kA - kB, 1.0, 3.0, -3.0);
  expect_jet_eq(-kA, -3.0, -2.0, -1.0);
}

TEST(Jet, MultiplicationFollowsLeibnizRule) {
  // (ab)' = a'b + ab' = 2*2 + 3*(-1) = 1
  // (ab)'' = a''b + 2a'b' + ab'' = 1*2 + 2*2*(-1) + 3*4 = 10
  expect_jet_eq(kA * kB, 6.0, 1.0, 10.0);
}

TEST(Jet, DivisionFollowsQuotientRule) {
  // q = a/b = 1.5
  // q' = a'/b - ab'/b² = 1 + 0.75 = 1.75
  // q'' = a''/b - 2a'b'/b² - ab''/b² + 2ab'²/b³ = 0.5 + 1 - 3 + 0.75 = -0.75
  expect_jet_eq(kA / kB, 1.5, 1.75, -0.75);
}

TEST(Jet, ScalarOperandsOnEitherSide) {
  // A scalar c is a constant: adding or subtracting it changes only the value.
  expect_jet_eq(kA + 0.5, 3.5, 2.0, 1.0);
  expect_jet_eq(0.5 + kA, 3.5, 2.0, 1.0);
  expect_jet_eq(kA - 0.5, 2.5, 2.0, 1.0);
  expect_jet_eq(0.5 - kA, -2.5, -2.0, -1.0);
  // Scaling by c scales every component.
  expect_jet_eq(kA * 4.0, 12.0, 8.0, 4.0);
  expect_jet_eq(4.0 * kA, 12.0, 8.0, 4.0);
  expect_jet_eq(kA / 4.0, 0.75, 0.5, 0.25);
  // (c/b)' = -c b'/b² = 3/4; (c/b)'' = c(-b''/b² + 2b'²/b³) = 3(-1 + 1/4) = -2.25
  expect_jet_eq(3.0 / kB, 1.5, 0.75, -2.25);
}

TEST(Jet, CompoundAssignmentMatchesBinaryOperators) {
  Jet<double> x = kA;
  x += kB;
  expect_jet_eq(x, 5.0, 1.0, 5.0);
  x = kA;
  x -= kB;
  expect_jet_eq(x, 1.0, 3.0, -3.0);
  x = kA;
  x *= kB;
  expect_jet_eq(x, 6.0, 1.0, 10.0);
  x = kA;
  x /= kB;
  expect_jet_eq(x, 1.5, 1.75, -0.75);
}

TEST(Jet, CompoundAssignmentWithScalar) {
  Jet<double> x = kA;
  x += 0.5;
  expect_jet_eq(x, 3.5, 2.0, 1.0);
  x = kA;
  x -= 0.5;
  expect_jet_eq(x, 2.5, 2.0, 1.0);
  x = kA;
  x *= 4.0;
  expect_jet_eq(x, 12.0, 8.0, 4.0);
  x = kA;
  x /= 4.0;
  expect_jet_eq(x, 0.75, 0.5, 0.25);
}

// x *= x must read both operands before writing. The right operand goes through a
// reference, as in generic code that aliases it.
TEST(Jet, SelfOperationsReadOperandsFirst) {
  // (a²)' = 2aa' = 12; (a²)'' = 2a'² + 2aa'' = 8 + 6 = 14
  Jet<double> x = kA;
  const Jet<double>& x_alias = x;
  x *= x_alias;
  expect_jet_eq(x, 9.0, 12.0, 14.0);
  Jet<double> y = kA;
  const Jet<double>& y_alias = y;
  y /= y_alias;
  expect_jet_eq(y, 1.0, 0.0, 0.0);
}

TEST(Jet, ComparisonsIgnoreDerivatives) {
  const Jet<double> small(1.0, 100.0, 100.0);
  const Jet<double> large(2.0, -100.0, -100.0);
  EXPECT_TRUE(small < large);
  EXPECT_FALSE(small > large);
  EXPECT_TRUE(large > small);
  EXPECT_FALSE(large < small);
}

TEST(Jet, RationalExpressionsMatchCentralDifferences) {
  const std::vector<double> points = {-40.0, -2.5, -1e-3, 1e-8, 0.7, 3.0, 1e3};
  // Neither expression divides by zero at these points.
  const auto rational = [](auto x) { return (x * x - 3.0) / (x + 5.5) + 2.0 * x; };
  const auto reciprocal = [](auto x) { return 2.0 / (x * x + 1.0) - x / 4.0 + (1.5 - x) * x; };
  expect_matches_central_differences(rational, points);
  expect_matches_central_differences(reciprocal, points);
}

// ---- elementary functions --------------------------------------------------------------

// One elementary function with its first and second derivatives in closed form.
struct SecondOrderCase {
  const char* name;
  Jet<double> (*jet)(const Jet<double>&);
  Dual<double> (*dual)(const Dual<double>&);
  double (*value)(double);
  double (*first)(double);
  double (*second)(double);
  std::vector<double> points;
  // Absolute error allowed at x besides the relative 1e-14, for a unit seed.
  double (*absolute_tolerance)(double x);
};

double no_absolute_tolerance(double) { return 0.0; }

// Tolerance of a computed g''(0) = f''(x0) u² + f'(x0) w: relative to the sum of the
// magnitudes of the two terms, which can cancel, plus the case's absolute floor.
double second_tolerance(const SecondOrderCase& c, double x0, double direction, double curvature) {
  const double seed_scale = direction * direction + std::abs(curvature);
  const double scale =
      std::abs(c.second(x0)) * direction * direction + std::abs(c.first(x0)) * std::abs(curvature);
  return 1e-14 * scale + c.absolute_tolerance(x0) * seed_scale;
}

std::vector<SecondOrderCase> second_order_cases() {
  const std::vector<double> whole_line = {-40.0, -7.5, -1.3, -1e-3, 0.0,
                                          1e-8,  0.4,  2.7,  12.0,  40.0};
  const std::vector<double> positive = {1e-6, 1e-3, 0.4, 1.0, 2.7, 1e3, 1e8};
  return {
      // exp' = exp'' = exp
      {"exp", [](const Jet<double>& x) { return fmala::exp(x); },
       [](const Dual<double>& x) { return fmala::exp(x); }, [](double x) { return std::exp(x); },
       [](double x) { return std::exp(x); }, [](double x) { return std::exp(x); }, whole_line,
       no_absolute_tolerance},
      // log' = 1/x, log'' = -1/x²
      {"log", [](const Jet<double>& x) { return fmala::log(x); },
       [](const Dual<double>& x) { return fmala::log(x); }, [](double x) { return std::log(x); },
       [](double x) { return 1 / x; }, [](double x) { return -1 / (x * x); }, positive,
       no_absolute_tolerance},
      // log1p' = 1/(1 + x), log1p'' = -1/(1 + x)²
      {"log1p",
       [](const Jet<double>& x) { return fmala::log1p(x); },
       [](const Dual<double>& x) { return fmala::log1p(x); },
       [](double x) { return std::log1p(x); },
       [](double x) { return 1 / (1 + x); },
       [](double x) { return -1 / ((1 + x) * (1 + x)); },
       {-0.999, -0.5, -1e-3, 0.0, 1e-8, 0.4, 12.0, 1e6},
       no_absolute_tolerance},
      // tanh' = sech² x = 1/cosh² x, tanh'' = -2 tanh(x) sech² x. The implementation
      // forms 1 - tanh² x, which keeps absolute precision only, so both derivatives
      // are 0 for |x| > 19 where sech² x < 1e-16.
      {"tanh", [](const Jet<double>& x) { return fmala::tanh(x); },
       [](const Dual<double>& x) { return fmala::tanh(x); }, [](double x) { return std::tanh(x); },
       [](double x) { return 1 / (std::cosh(x) * std::cosh(x)); },
       [](double x) { return -2 * std::tanh(x) / (std::cosh(x) * std::cosh(x)); }, whole_line,
       [](double) { return 8 * kEps; }},
      // sqrt' = 1/(2√x), sqrt'' = -1/(4 x√x)
      {"sqrt", [](const Jet<double>& x) { return fmala::sqrt(x); },
       [](const Dual<double>& x) { return fmala::sqrt(x); }, [](double x) { return std::sqrt(x); },
       [](double x) { return 0.5 / std::sqrt(x); },
       [](double x) { return -0.25 / (x * std::sqrt(x)); }, positive, no_absolute_tolerance},
      // σ' = e^{-|x|}/(1 + e^{-|x|})², σ'' = σ'(x)(1 - 2σ(x)) = -σ'(x) tanh(x/2).
      // σ''(±40) = ∓4.2484e-18 must keep its relative precision. Near x = 0 the
      // factor σ(-x) - σ(x) cancels, so there σ'' has absolute precision ≈ eps σ'.
      {"sigmoid", [](const Jet<double>& x) { return fmala::sigmoid(x); },
       [](const Dual<double>& x) { return fmala::sigmoid(x); },
       [](double x) { return 1 / (1 + std::exp(-x)); }, sigmoid_derivative,
       [](double x) { return -sigmoid_derivative(x) * std::tanh(x / 2); }, whole_line,
       [](double x) { return kEps * sigmoid_derivative(x); }},
      // softplus' = σ(x), softplus'' = σ'(x); softplus''(40) = 4.2484e-18 is not 0.
      {"softplus", [](const Jet<double>& x) { return fmala::softplus(x); },
       [](const Dual<double>& x) { return fmala::softplus(x); },
       [](double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x))); },
       [](double x) { return 1 / (1 + std::exp(-x)); }, sigmoid_derivative, whole_line,
       no_absolute_tolerance},
      // square' = 2x, square'' = 2
      {"square", [](const Jet<double>& x) { return fmala::square(x); },
       [](const Dual<double>& x) { return fmala::square(x); }, [](double x) { return x * x; },
       [](double x) { return 2 * x; }, [](double) { return 2.0; }, whole_line,
       no_absolute_tolerance},
      // relu' = 1 for x > 0, else 0 (relu'(0) = 0); relu'' = 0
      {"relu", [](const Jet<double>& x) { return fmala::relu(x); },
       [](const Dual<double>& x) { return fmala::relu(x); },
       [](double x) { return x > 0 ? x : 0.0; }, [](double x) { return x > 0 ? 1.0 : 0.0; },
       [](double) { return 0.0; }, whole_line, no_absolute_tolerance},
  };
}

// For x = x0 + t u seeded as Jet(x0, u, 0), g(t) = f(x0 + t u) has g'(0) = f'(x0) u
// and g''(0) = f''(x0) u².
TEST(JetMath, LineSeedGivesScaledDerivatives) {
  constexpr double kDirection = -2.5;
  for (const SecondOrderCase& c : second_order_cases()) {
    for (const double x0 : c.points) {
      SCOPED_TRACE(::testing::Message() << c.name << " at x0 = " << x0);
      const Jet<double> y = c.jet(Jet<double>(x0, kDirection, 0.0));
      const double value = c.value(x0);
      const double first = c.first(x0) * kDirection;
      const double second = c.second(x0) * kDirection * kDirection;
      EXPECT_NEAR(y.val, value, 1e-14 * std::abs(value));
      EXPECT_NEAR(y.d, first,
                  1e-14 * std::abs(first) + c.absolute_tolerance(x0) * std::abs(kDirection));
      EXPECT_NEAR(y.d2, second, second_tolerance(c, x0, kDirection, 0.0));
    }
  }
}

// An input that is itself curved, x(t) with x' = u and x'' = w, gives
// (f∘x)' = f'(x) u and (f∘x)'' = f''(x) u² + f'(x) w.
TEST(JetMath, CurvedInputAddsFirstDerivativeTimesSecond) {
  constexpr double kDirection = 0.75;
  constexpr double kCurvature = -1.25;
  for (const SecondOrderCase& c : second_order_cases()) {
    for (const double x0 : c.points) {
      SCOPED_TRACE(::testing::Message() << c.name << " at x0 = " << x0);
      const Jet<double> y = c.jet(Jet<double>(x0, kDirection, kCurvature));
      const double first = c.first(x0) * kDirection;
      const double second = c.second(x0) * kDirection * kDirection + c.first(x0) * kCurvature;
      EXPECT_NEAR(y.d, first,
                  1e-14 * std::abs(first) + c.absolute_tolerance(x0) * std::abs(kDirection));
      // The two terms can cancel, so the tolerance scales with their magnitudes.
      EXPECT_NEAR(y.d2, second, second_tolerance(c, x0, kDirection, kCurvature));
    }
  }
}

// The first-order part of a Jet must repeat the Dual computation.
TEST(JetMath, FirstDerivativeEqualsDual) {
  for (const SecondOrderCase& c : second_order_cases()) {
    for (const double x0 : c.points) {
      SCOPED_TRACE(::testing::Message() << c.name << " at x0 = " << x0);
      const Jet<double> jet = c.jet(Jet<double>(x0, 1.5, 0.0));
      const Dual<double> dual = c.dual(Dual<double>(x0, 1.5));
      EXPECT_EQ(jet.val, dual.val);
      EXPECT_NEAR(jet.d, dual.d, 2 * kEps * std::abs(dual.d));
    }
  }
}

TEST(JetMath, FunctionsMatchCentralDifferences) {
  const std::vector<double> whole_line = {-40.0, -7.5, -1.3, -1e-3, 0.0,
                                          1e-8,  0.4,  2.7,  12.0,  40.0};
  expect_matches_central_differences([](auto x) { return fmala::exp(x); }, whole_line);
  expect_matches_central_differences([](auto x) { return fmala::tanh(x); }, whole_line);
  expect_matches_central_differences([](auto x) { return fmala::sigmoid(x); }, whole_line);
  expect_matches_central_differences([](auto x) { return fmala::softplus(x); }, whole_line);
  expect_matches_central_differences([](auto x) { return fmala::square(x); }, whole_line);

  // Steps proportional to x keep the stencil inside the domain near 0.
  FdOptions near_edge;
  near_edge.min_step_scale = 0.0;
  const std::vector<double> positive = {1e-6, 1e-3, 0.4, 1.0, 2.7, 1e3, 1e8};
  expect_matches_central_differences([](auto x) { return fmala::log(x); }, positive, near_edge);
  expect_matches_central_differences([](auto x) { return fmala::sqrt(x); }, positive, near_edge);
  expect_matches_central_differences([](auto x) { return fmala::log1p(x); },
                                     std::vector<double>{-0.5, -1e-3, 0.0, 1e-8, 0.4, 12.0, 1e6});
  // The stencil of relu must not straddle the kink at 0.
  expect_matches_central_differences([](auto x) { return fmala::relu(x); },
                                     std::vector<double>{-7.5, -1e-3, 1e-3, 2.7}, near_edge);
}

TEST(JetMath, CompositionsMatchCentralDifferences) {
  const std::vector<double> points = {-6.0, -1.3, -1e-3, 0.0, 0.4, 2.7, 9.0};
  // Each composition has a curved inner function, so the f' x'' term is exercised.
  expect_matches_central_differences([](auto x) { return fmala::tanh(0.5 * fmala::square(x) - x); },
                                     points);
  expect_matches_central_differences(
      [](auto x) { return fmala::softplus(fmala::sigmoid(x) * 3.0 - x * x); }, points);
  expect_matches_central_differences(
      [](auto x) { return fmala::log(1.0 + fmala::exp(-x) * fmala::sqrt(x * x + 2.0)); }, points);
  expect_matches_central_differences(
      [](auto x) { return fmala::log1p(fmala::square(fmala::tanh(x))) / (x * x + 1.0); }, points);
}

// relu'(0) and relu''(0) are defined as 0: the value branch is x > 0, and the
// derivatives follow the same branch, so an inactive unit passes no derivative.
TEST(JetMath, ReluDerivativesAtZeroAreZero) {
  expect_jet_eq(fmala::relu(Jet<double>(0.0, 1.0, 5.0)), 0.0, 0.0, 0.0);
  expect_jet_eq(fmala::relu(Jet<double>(2.0, 1.0, 5.0)), 2.0, 1.0, 5.0);
  expect_jet_eq(fmala::relu(Jet<double>(-2.0, 1.0, 5.0)), 0.0, 0.0, 0.0);
}

TEST(JetMath, SigmoidAndSoftplusKeepRelativePrecisionAtPlusMinus40) {
  // σ'(±40) = e^{-40}/(1 + e^{-40})² = 4.248354255291589e-18 to 16 digits, and
  // σ''(±40) = ∓σ'(40) tanh(20) = ∓σ'(40) to 16 digits.
  constexpr double kTail = 4.248354255291589e-18;
  const Jet<double> s_plus = fmala::sigmoid(Jet<double>(40.0, 1.0, 0.0));
  const Jet<double> s_minus = fmala::sigmoid(Jet<double>(-40.0, 1.0, 0.0));
  EXPECT_NEAR(s_plus.d, kTail, 1e-14 * kTail);
  EXPECT_NEAR(s_plus.d2, -kTail, 1e-14 * kTail);
  EXPECT_NEAR(s_minus.d, kTail, 1e-14 * kTail);
  EXPECT_NEAR(s_minus.d2, kTail, 1e-14 * kTail);
  // softplus(40) rounds to 40 with softplus' = σ(40) rounding to 1; softplus'' = σ'.
  const Jet<double> p_plus = fmala::softplus(Jet<double>(40.0, 1.0, 0.0));
  EXPECT_EQ(p_plus.val, 40.0);
  EXPECT_EQ(p_plus.d, 1.0);
  EXPECT_NEAR(p_plus.d2, kTail, 1e-14 * kTail);
  // softplus(-40) = log1p(e^{-40}) and softplus'(-40) = σ(-40) both equal kTail to 16 digits.
  const Jet<double> p_minus = fmala::softplus(Jet<double>(-40.0, 1.0, 0.0));
  EXPECT_NEAR(p_minus.val, kTail, 1e-14 * kTail);
  EXPECT_NEAR(p_minus.d, kTail, 1e-14 * kTail);
  EXPECT_NEAR(p_minus.d2, kTail, 1e-14 * kTail);
}

TEST(JetMath, LogSumExpOfLargeEntriesHasSoftmaxDerivatives) {
  // Along x_i(t) = x_i + t u_i, y = log Σ e^{x_i} has y' = Σ w_i u_i and
  // y'' = Σ w_i u_i² - (Σ w_i u_i)², the variance of u under the softmax weights w.
  // Entries 1000 and 1000.5 overflow e^x in double without the shift by the maximum.
  const double u_a = 1.5;
  const double u_b = -0.75;
  const double w_a = 1 / (1 + std::exp(0.5));   // σ(-0.5)
  const double w_b = 1 / (1 + std::exp(-0.5));  // σ(0.5)
  const double value = 1000.5 + std::log1p(std::exp(-0.5));
  const double first = w_a * u_a + w_b * u_b;
  const double second = w_a * u_a * u_a + w_b * u_b * u_b - first * first;

  const Jet<double> a(1000.0, u_a, 0.0);
  const Jet<double> b(1000.5, u_b, 0.0);
  for (const Jet<double>& y : {fmala::log_sum_exp(a, b), fmala::log_sum_exp(b, a)}) {
    EXPECT_NEAR(y.val, value, 4 * kEps * value);
    EXPECT_NEAR(y.d, first, 1e-14);
    EXPECT_NEAR(y.d2, second, 1e-13);
  }

  // Curved entries add Σ w_i x_i'': here 0.5 w_a - 2 w_b.
  const Jet<double> curved_a(1000.0, u_a, 0.5);
  const Jet<double> curved_b(1000.5, u_b, -2.0);
  const Jet<double> curved = fmala::log_sum_exp(curved_a, curved_b);
  EXPECT_NEAR(curved.d2, second + 0.5 * w_a - 2.0 * w_b, 1e-13);
}

TEST(JetMath, LogSumExpMatchesCentralDifferencesAlongLine) {
  // g(t) = log(e^{1000 + 1.5 t} + e^{1000.5 - 0.75 t} + e^{997 + 2 t})
  const auto line = [](auto t) {
    using Scalar = decltype(t);
    const Scalar x[3] = {1.5 * t + 1000.0, -0.75 * t + 1000.5, 2.0 * t + 997.0};
    return fmala::log_sum_exp(x, 3);
  };
  expect_matches_central_differences(line, std::vector<double>{-3.0, -0.2, 0.0, 0.2, 5.0});
}

// ---- the check itself ------------------------------------------------------------------

// Adding 1e-5 (x - x.val)² leaves the value and the first derivative unchanged but
// adds 2e-5 x'² to the second derivative, which the check must reject. For double
// and Dual the extra term contributes nothing to what is compared.
TEST(JetFdCheck, RejectsWrongSecondDerivative) {
  const auto wrong = [](auto x) {
    const auto tangent = x - fmala::value_of(x);
    return fmala::tanh(x) + 1e-5 * fmala::square(tangent);
  };
  EXPECT_FALSE(matches_central_differences(wrong, 0.3));
  EXPECT_FALSE(matches_central_differences(wrong, -2.0));
  EXPECT_TRUE(matches_central_differences([](auto x) { return fmala::tanh(x); }, 0.3));
}

// ---- float -----------------------------------------------------------------------------

TEST(JetFloat, FunctionsAgreeWithDoubleAtFloatPrecision) {
  constexpr float kFloatEps = std::numeric_limits<float>::epsilon();
  const float points[] = {-7.5f, -1.3f, -0.001f, 0.4f, 2.7f};
  for (const float x : points) {
    SCOPED_TRACE(::testing::Message() << "x = " << x);
    const Jet<float> xf(x, 1.0f, 0.5f);
    const Jet<double> xd(x, 1.0, 0.5);
    const auto expect_close = [&](const Jet<float>& f, const Jet<double>& d) {
      EXPECT_NEAR(f.val, d.val, 16 * kFloatEps * std::abs(d.val));
      EXPECT_NEAR(f.d, d.d, 16 * kFloatEps * std::abs(d.d) + 4 * kFloatEps);
      EXPECT_NEAR(f.d2, d.d2, 16 * kFloatEps * std::abs(d.d2) + 8 * kFloatEps);
    };
    expect_close(fmala::exp(xf), fmala::exp(xd));
    expect_close(fmala::tanh(xf), fmala::tanh(xd));
    expect_close(fmala::sigmoid(xf), fmala::sigmoid(xd));
    expect_close(fmala::softplus(xf), fmala::softplus(xd));
    expect_close(fmala::relu(xf), fmala::relu(xd));
    expect_close(fmala::square(xf) * 0.5f - 2.0f / (xf + 10.0f),
                 fmala::square(xd) * 0.5 - 2.0 / (xd + 10.0));
  }
  const Jet<float> positive(2.7f, 1.0f, 0.0f);
  const Jet<double> positive_double(2.7f, 1.0, 0.0);
  EXPECT_NEAR(fmala::log(positive).d2, fmala::log(positive_double).d2, 4 * kFloatEps);
  EXPECT_NEAR(fmala::log1p(positive).d2, fmala::log1p(positive_double).d2, 4 * kFloatEps);
  EXPECT_NEAR(fmala::sqrt(positive).d2, fmala::sqrt(positive_double).d2, 4 * kFloatEps);
}

TEST(JetFloat, SigmoidTailKeepsRelativePrecision) {
  // σ'(30) = e^{-30}/(1 + e^{-30})² ≈ 9.3576e-14; 1 - σ(30) is already 0 in float.
  const Jet<float> y = fmala::sigmoid(Jet<float>(30.0f, 1.0f, 0.0f));
  const double expected = sigmoid_derivative(30.0);
  EXPECT_NEAR(y.d, expected, 1e-5 * expected);
  EXPECT_NEAR(y.d2, -expected, 1e-5 * expected);
}

TEST(JetFloat, LogSumExpOfLargeEntriesDoesNotOverflow) {
  const Jet<float> y =
      fmala::log_sum_exp(Jet<float>(1000.0f, 1.5f, 0.0f), Jet<float>(1000.5f, -0.75f, 0.0f));
  const double w_a = 1 / (1 + std::exp(0.5));
  const double w_b = 1 - w_a;
  const double first = w_a * 1.5 + w_b * -0.75;
  EXPECT_FLOAT_EQ(y.val, static_cast<float>(1000.5 + std::log1p(std::exp(-0.5))));
  EXPECT_NEAR(y.d, first, 1e-6);
  EXPECT_NEAR(y.d2, w_a * 2.25 + w_b * 0.5625 - first * first, 1e-6);
}

}  // namespace
