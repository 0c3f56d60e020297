// Tests of Dual<T>: arithmetic, the elementary functions of fmala/ad/math.hpp
// against closed-form derivatives and central differences, stable forms at
// large arguments, and the float instantiation.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "fd_check.hpp"
#include "fmala/ad/dual.hpp"
#include "fmala/ad/math.hpp"

namespace {

using fmala::Dual;
using fmala::test::expect_matches_central_differences;
using fmala::test::FdOptions;
using fmala::test::matches_central_differences;

constexpr double kEps = std::numeric_limits<double>::epsilon();

// Arrays of Dual are copied as raw memory (memcpy, cudaMemcpy), which needs a trivially
// copyable type of exactly two T with no padding.
static_assert(std::is_trivially_copyable_v<Dual<double>>);
static_assert(sizeof(Dual<double>) == 2 * sizeof(double));
static_assert(sizeof(Dual<float>) == 2 * sizeof(float));

// σ'(x) = e^{-|x|} / (1 + e^{-|x|})², which is even in x and never forms 1 - σ.
double sigmoid_derivative(double x) {
  const double e = std::exp(-std::abs(x));
  return e / ((1 + e) * (1 + e));
}

// ---- arithmetic ------------------------------------------------------------------------

TEST(Dual, DefaultConstructedIsZero) {
  const Dual<double> x;
  EXPECT_EQ(x.val, 0.0);
  EXPECT_EQ(x.d, 0.0);
}

TEST(Dual, ScalarPromotesWithZeroDerivative) {
  const Dual<double> x = 2.5;
  EXPECT_EQ(x.val, 2.5);
  EXPECT_EQ(x.d, 0.0);
}

// All operands below are dyadic, so every expected value is exact.
TEST(Dual, AdditionAddsValuesAndDerivatives) {
  const Dual<double> a(1.5, 2.0);
  const Dual<double> b(-0.25, 0.5);
  const Dual<double> sum = a + b;
  EXPECT_EQ(sum.val, 1.25);
  EXPECT_EQ(sum.d, 2.5);
}

TEST(Dual, SubtractionSubtractsValuesAndDerivatives) {
  const Dual<double> a(1.5, 2.0);
  const Dual<double> b(-0.25, 0.5);
  const Dual<double> difference = a - b;
  EXPECT_EQ(difference.val, 1.75);
  EXPECT_EQ(difference.d, 1.5);
}

TEST(Dual, UnaryMinusNegatesValueAndDerivative) {
  const Dual<double> negated = -Dual<double>(1.5, -2.0);
  EXPECT_EQ(negated.val, -1.5);
  EXPECT_EQ(negated.d, 2.0);
}

TEST(Dual, MultiplicationFollowsProductRule) {
  const Dual<double> a(1.5, 2.0);
  const Dual<double> b(-0.25, 0.5);
  const Dual<double> product = a * b;
  // ab = 1.5 * -0.25 = -0.375; (ab)' = a'b + ab' = 2 * -0.25 + 1.5 * 0.5 = 0.25
  EXPECT_EQ(product.val, -0.375);
  EXPECT_EQ(product.d, 0.25);
}

TEST(Dual, DivisionFollowsQuotientRule) {
  const Dual<double> a(1.5, 2.0);
  const Dual<double> b(-0.25, 0.5);
  const Dual<double> quotient = a / b;
  // a/b = -6; (a/b)' = (a'b - ab') / b² = (2 * -0.25 - 1.5 * 0.5) / 0.0625 = -20
  EXPECT_EQ(quotient.val, -6.0);
  EXPECT_EQ(quotient.d, -20.0);
}

TEST(Dual, ScalarOperandsOnEitherSide) {
  const Dual<double> a(1.5, 2.0);
  // A scalar c is a constant: (a + c)' = (c + a)' = a', (a - c)' = a', (c - a)' = -a'.
  EXPECT_EQ((a + 0.5).val, 2.0);
  EXPECT_EQ((a + 0.5).d, 2.0);
  EXPECT_EQ((0.5 + a).val, 2.0);
  EXPECT_EQ((0.5 + a).d, 2.0);
  EXPECT_EQ((a - 0.5).val, 1.0);
  EXPECT_EQ((a - 0.5).d, 2.0);
  EXPECT_EQ((0.5 - a).val, -1.0);
  EXPECT_EQ((0.5 - a).d, -2.0);
  // (c a)' = (a c)' = c a' = 4 * 2 = 8; (a / c)' = a' / c = 2 / 4 = 0.5
  EXPECT_EQ((a * 4.0).val, 6.0);
  EXPECT_EQ((a * 4.0).d, 8.0);
  EXPECT_EQ((4.0 * a).val, 6.0);
  EXPECT_EQ((4.0 * a).d, 8.0);
  EXPECT_EQ((a / 4.0).val, 0.375);
  EXPECT_EQ((a / 4.0).d, 0.5);
  // (c / b)' = -c b' / b² = -3 * 3 / 4 = -2.25 for b = (2, 3), c = 3
  const Dual<double> b(2.0, 3.0);
  EXPECT_EQ((3.0 / b).val, 1.5);
  EXPECT_EQ((3.0 / b).d, -2.25);
}

TEST(Dual, CompoundAssignmentMatchesBinaryOperators) {
  const Dual<double> a(1.5, 2.0);
  const Dual<double> b(-0.25, 0.5);
  Dual<double> x = a;
  x += b;
  EXPECT_EQ(x.val, (a + b).val);
  EXPECT_EQ(x.d, (a + b).d);
  x = a;
  x -= b;
  EXPECT_EQ(x.val, (a - b).val);
  EXPECT_EQ(x.d, (a - b).d);
  x = a;
  x *= b;
  EXPECT_EQ(x.val, (a * b).val);
  EXPECT_EQ(x.d, (a * b).d);
  x = a;
  x /= b;
  EXPECT_EQ(x.val, (a / b).val);
  EXPECT_EQ(x.d, (a / b).d);
}

TEST(Dual, CompoundAssignmentWithScalar) {
  const Dual<double> a(1.5, 2.0);
  Dual<double> x = a;
  x += 0.5;
  EXPECT_EQ(x.val, 2.0);
  EXPECT_EQ(x.d, 2.0);
  x = a;
  x -= 0.5;
  EXPECT_EQ(x.val, 1.0);
  EXPECT_EQ(x.d, 2.0);
  x = a;
  x *= 4.0;
  EXPECT_EQ(x.val, 6.0);
  EXPECT_EQ(x.d, 8.0);
  x = a;
  x /= 4.0;
  EXPECT_EQ(x.val, 0.375);
  EXPECT_EQ(x.d, 0.5);
}

// x *= x must read both operands before writing: (x²)' = 2 x x' = 2 * 1.5 * 2 = 6.
// The right operand goes through a reference, as in generic code that aliases it.
TEST(Dual, SelfMultiplicationReadsOperandsFirst) {
  Dual<double> x(1.5, 2.0);
  const Dual<double>& x_alias = x;
  x *= x_alias;
  EXPECT_EQ(x.val, 2.25);
  EXPECT_EQ(x.d, 6.0);
  Dual<double> y(1.5, 2.0);
  const Dual<double>& y_alias = y;
  y /= y_alias;
  EXPECT_EQ(y.val, 1.0);
  EXPECT_EQ(y.d, 0.0);
}

TEST(Dual, ComparisonsIgnoreDerivative) {
  const Dual<double> small(1.0, 100.0);
  const Dual<double> large(2.0, -100.0);
  EXPECT_TRUE(small < large);
  EXPECT_FALSE(small > large);
  EXPECT_TRUE(large > small);
  EXPECT_FALSE(large < small);
}

TEST(Dual, RationalExpressionsMatchCentralDifferences) {
  const std::vector<double> points = {-40.0, -2.5, -1e-3, 1e-8, 0.7, 3.0, 1e3};
  // Neither expression divides by zero at these points.
  const auto rational = [](auto x) { return (x * x - 3.0) / (x + 5.5) + 2.0 * x; };
  const auto reciprocal = [](auto x) { return 2.0 / (x * x + 1.0) - x / 4.0 + (1.5 - x) * x; };
  expect_matches_central_differences(rational, points);
  expect_matches_central_differences(reciprocal, points);
}

// ---- elementary functions --------------------------------------------------------------

// One elementary function with its derivative in closed form.
struct FirstOrderCase {
  const char* name;
  Dual<double> (*dual)(const Dual<double>&);
  double (*value)(double);
  double (*derivative)(double);
  std::vector<double> points;
  double absolute_tolerance;  // besides the relative 1e-14
};

std::vector<FirstOrderCase> first_order_cases() {
  const std::vector<double> whole_line = {-40.0, -7.5, -1.3, -1e-3, 0.0,
                                          1e-8,  0.4,  2.7,  12.0,  40.0};
  const std::vector<double> positive = {1e-6, 1e-3, 0.4, 1.0, 2.7, 1e3, 1e8};
  return {
      // exp' = exp
      {"exp", [](const Dual<double>& x) { return fmala::exp(x); },
       [](double x) { return std::exp(x); }, [](double x) { return std::exp(x); }, whole_line, 0.0},
      // log' = 1/x
      {"log", [](const Dual<double>& x) { return fmala::log(x); },
       [](double x) { return std::log(x); }, [](double x) { return 1 / x; }, positive, 0.0},
      // log1p' = 1/(1 + x)
      {"log1p",
       [](const Dual<double>& x) { return fmala::log1p(x); },
       [](double x) { return std::log1p(x); },
       [](double x) { return 1 / (1 + x); },
       {-0.999, -0.5, -1e-3, 0.0, 1e-8, 0.4, 12.0, 1e6},
       0.0},
      // tanh' = sech² x = 1 / cosh² x. The implementation forms 1 - tanh² x, which
      // keeps absolute precision only, so it is 0 for |x| > 19 where sech² x < 1e-16.
      {"tanh", [](const Dual<double>& x) { return fmala::tanh(x); },
       [](double x) { return std::tanh(x); },
       [](double x) { return 1 / (std::cosh(x) * std::cosh(x)); }, whole_line, 4 * kEps},
      // sqrt' = 1 / (2 √x)
      {"sqrt", [](const Dual<double>& x) { return fmala::sqrt(x); },
       [](double x) { return std::sqrt(x); }, [](double x) { return 0.5 / std::sqrt(x); }, positive,
       0.0},
      // σ' = e^{-|x|} / (1 + e^{-|x|})², including σ'(±40) ≈ 4.2484e-18
      {"sigmoid", [](const Dual<double>& x) { return fmala::sigmoid(x); },
       [](double x) { return 1 / (1 + std::exp(-x)); }, sigmoid_derivative, whole_line, 0.0},
      // softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^{-|x|}), softplus' = σ(x)
      {"softplus", [](const Dual<double>& x) { return fmala::softplus(x); },
       [](double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x))); },
       [](double x) { return 1 / (1 + std::exp(-x)); }, whole_line, 0.0},
      // square' = 2x
      {"square", [](const Dual<double>& x) { return fmala::square(x); },
       [](double x) { return x * x; }, [](double x) { return 2 * x; }, whole_line, 0.0},
      // relu' = 1 for x > 0, else 0 (relu'(0) = 0, see ReluDerivativeAtZeroIsZero)
      {"relu", [](const Dual<double>& x) { return fmala::relu(x); },
       [](double x) { return x > 0 ? x : 0.0; }, [](double x) { return x > 0 ? 1.0 : 0.0; },
       whole_line, 0.0},
  };
}

TEST(DualMath, FunctionsMatchClosedFormDerivatives) {
  // Seeding x' = u gives f(x)' = f'(x) u. u = -2.5 also checks the scaling by x'.
  constexpr double kDirection = -2.5;
  for (const FirstOrderCase& c : first_order_cases()) {
    for (const double x : c.points) {
      SCOPED_TRACE(::testing::Message() << c.name << " at x = " << x);
      const Dual<double> y = c.dual(Dual<double>(x, kDirection));
      const double value = c.value(x);
      const double derivative = c.derivative(x) * kDirection;
      EXPECT_NEAR(y.val, value, 1e-14 * std::abs(value));
      EXPECT_NEAR(y.d, derivative, 1e-14 * std::abs(derivative) + c.absolute_tolerance);
    }
  }
}

TEST(DualMath, FunctionsMatchCentralDifferences) {
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

// relu'(0) is defined as 0: the value branch is x > 0, and the derivative follows
// the same branch, so an inactive unit passes no derivative.
TEST(DualMath, ReluDerivativeAtZeroIsZero) {
  const Dual<double> at_zero = fmala::relu(Dual<double>(0.0, 1.0));
  EXPECT_EQ(at_zero.val, 0.0);
  EXPECT_EQ(at_zero.d, 0.0);
  const Dual<double> negative_zero = fmala::relu(Dual<double>(-0.0, 1.0));
  EXPECT_EQ(negative_zero.d, 0.0);
}

TEST(DualMath, SigmoidKeepsRelativePrecisionAtPlusMinus40) {
  // σ'(±40) = e^{-40} / (1 + e^{-40})² = 4.248354255291589e-18 to 16 digits.
  constexpr double kExpected = 4.248354255291589e-18;
  const Dual<double> plus = fmala::sigmoid(Dual<double>(40.0, 1.0));
  const Dual<double> minus = fmala::sigmoid(Dual<double>(-40.0, 1.0));
  EXPECT_EQ(plus.val, 1.0);                              // 1 - 4.2e-18 rounds to 1
  EXPECT_NEAR(minus.val, kExpected, 1e-14 * kExpected);  // σ(-40) ≈ e^{-40} ≈ σ'(40)
  EXPECT_NEAR(plus.d, kExpected, 1e-14 * kExpected);
  EXPECT_NEAR(minus.d, kExpected, 1e-14 * kExpected);
}

TEST(DualMath, SoftplusIsFiniteAndExactAtPlusMinus40) {
  // softplus(40) = 40 + log1p(e^{-40}) rounds to 40, softplus'(40) = σ(40) rounds to 1.
  const Dual<double> plus = fmala::softplus(Dual<double>(40.0, 1.0));
  EXPECT_EQ(plus.val, 40.0);
  EXPECT_EQ(plus.d, 1.0);
  // softplus(-40) = log1p(e^{-40}) = 4.248354255291589e-18 (to 16 digits), and
  // softplus'(-40) = σ(-40) = e^{-40} / (1 + e^{-40}) is the same number to 16 digits.
  constexpr double kTail = 4.248354255291589e-18;
  const Dual<double> minus = fmala::softplus(Dual<double>(-40.0, 1.0));
  EXPECT_NEAR(minus.val, kTail, 1e-14 * kTail);
  EXPECT_NEAR(minus.d, kTail, 1e-14 * kTail);
  // Far beyond the range of exp: softplus(1000) = 1000, softplus(-1000) underflows to 0.
  const Dual<double> huge = fmala::softplus(Dual<double>(1000.0, 1.0));
  EXPECT_EQ(huge.val, 1000.0);
  EXPECT_EQ(huge.d, 1.0);
  const Dual<double> tiny = fmala::softplus(Dual<double>(-1000.0, 1.0));
  EXPECT_EQ(tiny.val, 0.0);
  EXPECT_EQ(tiny.d, 0.0);
}

TEST(DualMath, LogSumExpOfLargeEntriesDoesNotOverflow) {
  // For y = log(e^a + e^b): y = b + log1p(e^{a-b}), y' = w_a a' + w_b b' with the
  // softmax weights w_a = σ(a - b), w_b = σ(b - a). a = 1000, b = 1000.5 would
  // overflow e^a in double without the shift.
  const Dual<double> a(1000.0, 1.5);
  const Dual<double> b(1000.5, -0.75);
  const double w_a = 1 / (1 + std::exp(0.5));
  const double w_b = 1 / (1 + std::exp(-0.5));
  const double value = 1000.5 + std::log1p(std::exp(-0.5));
  const double derivative = w_a * 1.5 + w_b * -0.75;

  const Dual<double> pair = fmala::log_sum_exp(a, b);
  EXPECT_NEAR(pair.val, value, 4 * kEps * value);
  EXPECT_NEAR(pair.d, derivative, 1e-14);
  // The order of the entries must not matter: the maximum is found, not assumed first.
  const Dual<double> swapped = fmala::log_sum_exp(b, a);
  EXPECT_NEAR(swapped.val, value, 4 * kEps * value);
  EXPECT_NEAR(swapped.d, derivative, 1e-14);

  const double plain = fmala::log_sum_exp(1000.0, 1000.5);
  EXPECT_NEAR(plain, value, 4 * kEps * value);
}

TEST(DualMath, LogSumExpOfArrayMatchesSoftmaxWeights) {
  // y' = Σ softmax(x)_i x_i'. Entries 1000, 1000.5 and 997 with directions 1.5,
  // -0.75 and 2: the weights are e^{x_i - 1000.5} / Σ_j e^{x_j - 1000.5}.
  const Dual<double> x[3] = {{1000.0, 1.5}, {1000.5, -0.75}, {997.0, 2.0}};
  const double e[3] = {std::exp(-0.5), 1.0, std::exp(-3.5)};
  const double total = e[0] + e[1] + e[2];
  const double value = 1000.5 + std::log(total);
  const double derivative = (e[0] * 1.5 + e[1] * -0.75 + e[2] * 2.0) / total;
  const Dual<double> y = fmala::log_sum_exp(x, 3);
  EXPECT_NEAR(y.val, value, 4 * kEps * value);
  EXPECT_NEAR(y.d, derivative, 1e-14);
}

TEST(DualMath, LogSumExpMatchesCentralDifferencesAlongLine) {
  // g(t) = log(e^{1000 + 1.5 t} + e^{1000.5 - 0.75 t})
  const auto line = [](auto t) { return fmala::log_sum_exp(1.5 * t + 1000.0, -0.75 * t + 1000.5); };
  expect_matches_central_differences(line, std::vector<double>{-3.0, -0.2, 0.0, 0.2, 5.0});
}

// ---- the check itself ------------------------------------------------------------------

// exp(x) + 1e-6 (x - x.val) has the value of exp(x) but a derivative off by 1e-6
// times the seed, which the check must reject. For double the extra term is 0.
TEST(DualFdCheck, RejectsWrongFirstDerivative) {
  const auto wrong = [](auto x) {
    const auto tangent = x - fmala::value_of(x);
    return fmala::exp(x) + 1e-6 * tangent;
  };
  EXPECT_FALSE(matches_central_differences(wrong, 0.3));
  EXPECT_FALSE(matches_central_differences(wrong, -4.0));
  EXPECT_TRUE(matches_central_differences([](auto x) { return fmala::exp(x); }, 0.3));
}

// ---- float -----------------------------------------------------------------------------

TEST(DualFloat, FunctionsAgreeWithDoubleAtFloatPrecision) {
  constexpr float kFloatEps = std::numeric_limits<float>::epsilon();
  const float points[] = {-7.5f, -1.3f, -0.001f, 0.4f, 2.7f};
  for (const float x : points) {
    SCOPED_TRACE(::testing::Message() << "x = " << x);
    const Dual<float> xf(x, 1.0f);
    const Dual<double> xd(x, 1.0);
    const auto expect_close = [&](const Dual<float>& f, const Dual<double>& d) {
      EXPECT_NEAR(f.val, d.val, 16 * kFloatEps * std::abs(d.val));
      EXPECT_NEAR(f.d, d.d, 16 * kFloatEps * std::abs(d.d) + 4 * kFloatEps);
    };
    expect_close(fmala::exp(xf), fmala::exp(xd));
    expect_close(fmala::tanh(xf), fmala::tanh(xd));
    expect_close(fmala::sigmoid(xf), fmala::sigmoid(xd));
    expect_close(fmala::softplus(xf), fmala::softplus(xd));
    expect_close(fmala::relu(xf), fmala::relu(xd));
    expect_close(fmala::square(xf) * 0.5f - 2.0f / (xf + 10.0f),
                 fmala::square(xd) * 0.5 - 2.0 / (xd + 10.0));
  }
  const Dual<float> positive(2.7f, 1.0f);
  const Dual<double> positive_double(2.7f, 1.0);
  EXPECT_NEAR(fmala::log(positive).d, fmala::log(positive_double).d, 4 * kFloatEps);
  EXPECT_NEAR(fmala::log1p(positive).d, fmala::log1p(positive_double).d, 4 * kFloatEps);
  EXPECT_NEAR(fmala::sqrt(positive).d, fmala::sqrt(positive_double).d, 4 * kFloatEps);
}

TEST(DualFloat, LogSumExpOfLargeEntriesDoesNotOverflow) {
  // e^1000 overflows float (max ≈ 3.4e38) as it does double; the shift avoids it.
  const Dual<float> y =
      fmala::log_sum_exp(Dual<float>(1000.0f, 1.5f), Dual<float>(1000.5f, -0.75f));
  const double w_a = 1 / (1 + std::exp(0.5));
  const double w_b = 1 - w_a;
  EXPECT_FLOAT_EQ(y.val, static_cast<float>(1000.5 + std::log1p(std::exp(-0.5))));
  EXPECT_NEAR(y.d, w_a * 1.5 + w_b * -0.75, 1e-6);
}

}  // namespace
