// Forward-mode derivatives through a whole small Bayesian network: an MLP with
// 2 inputs, 5 tanh units, 3 softplus units and 1 linear output, with a Gaussian
// log-likelihood over 7 data points and a standard normal prior on every parameter.
// The log-posterior is written once as a template on the scalar type and checked
// along random lines θ + t u against central differences of its double version.

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <limits>
#include <numbers>
#include <random>
#include <span>

#include "fd_check.hpp"
#include "fmala/ad/dual.hpp"
#include "fmala/ad/jet.hpp"
#include "fmala/ad/math.hpp"

namespace {

using fmala::Dual;
using fmala::Jet;
using fmala::test::central_first_difference;
using fmala::test::FdOptions;
using fmala::test::matches_central_differences;

constexpr double kEps = std::numeric_limits<double>::epsilon();

constexpr int kInputs = 2;
constexpr int kHidden1 = 5;  // tanh units
constexpr int kHidden2 = 3;  // softplus units
constexpr int kDataPoints = 7;
// Parameter vector layout: W1 (5, 2) row-major, b1 (5), W2 (3, 5) row-major, b2 (3),
// W3 (1, 3), b3 (1).
constexpr int kW1 = 0;
constexpr int kB1 = kW1 + kHidden1 * kInputs;
constexpr int kW2 = kB1 + kHidden1;
constexpr int kB2 = kW2 + kHidden2 * kHidden1;
constexpr int kW3 = kB2 + kHidden2;
constexpr int kB3 = kW3 + kHidden2;
constexpr int kParams = kB3 + 1;
static_assert(kParams == 37);

constexpr double kNoiseScale = 0.5;  // σ of the Gaussian likelihood
constexpr double kPriorScale = 1.0;  // standard deviation of the prior on each parameter

// Inputs (7, 2) and targets (7) of a fixed regression data set.
constexpr double kX[kDataPoints][kInputs] = {{-1.5, 0.3}, {-0.8, -1.1}, {-0.2, 0.9}, {0.0, 0.0},
                                             {0.6, -0.4}, {1.1, 1.7},   {2.0, -0.6}};
constexpr double kY[kDataPoints] = {-0.9, 0.4, 1.3, 0.1, -0.5, 2.2, 0.7};

// Returns the network output for data point n.
template <class S>
S predict(std::span<const S, kParams> theta, int n) {
  std::array<S, kHidden1> h1;
  for (int j = 0; j < kHidden1; ++j) {
    S z = theta[kB1 + j];
    for (int k = 0; k < kInputs; ++k) {
      z += theta[kW1 + j * kInputs + k] * kX[n][k];
    }
    h1[j] = fmala::tanh(z);
  }
  std::array<S, kHidden2> h2;
  for (int j = 0; j < kHidden2; ++j) {
    S z = theta[kB2 + j];
    for (int k = 0; k < kHidden1; ++k) {
      z += theta[kW2 + j * kHidden1 + k] * h1[k];
    }
    h2[j] = fmala::softplus(z);
  }
  S prediction = theta[kB3];
  for (int k = 0; k < kHidden2; ++k) {
    prediction += theta[kW3 + k] * h2[k];
  }
  return prediction;
}

// Returns log p(data | θ) + log p(θ), both normalised, for any scalar type S of
// double, Dual or Jet.
template <class S>
S log_posterior(std::span<const S, kParams> theta) {
  const double log_norm_noise = std::log(kNoiseScale) + 0.5 * std::log(2 * std::numbers::pi);
  const double log_norm_prior = std::log(kPriorScale) + 0.5 * std::log(2 * std::numbers::pi);

  S log_likelihood = 0.0;
  for (int n = 0; n < kDataPoints; ++n) {
    const S residual = (predict(theta, n) - kY[n]) / kNoiseScale;
    log_likelihood += -0.5 * fmala::square(residual) - log_norm_noise;
  }
  S log_prior = 0.0;
  for (int i = 0; i < kParams; ++i) {
    log_prior += -0.5 * fmala::square(theta[i] / kPriorScale) - log_norm_prior;
  }
  return log_likelihood + log_prior;
}

// g(t) = log_posterior(θ + t u) for t of any scalar type.
template <class S>
S log_posterior_on_line(S t, const std::array<double, kParams>& theta,
                        const std::array<double, kParams>& direction) {
  std::array<S, kParams> x;
  for (int i = 0; i < kParams; ++i) {
    x[i] = S(theta[i]) + t * direction[i];
  }
  return log_posterior(std::span<const S, kParams>(x));
}

struct Line {
  std::array<double, kParams> theta;
  std::array<double, kParams> direction;
};

// Draws θ and u with independent standard normal entries from a fixed seed.
std::array<Line, 5> random_lines() {
  std::mt19937_64 engine(20240611);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::array<Line, 5> lines;
  for (Line& line : lines) {
    for (double& value : line.theta) {
      value = normal(engine);
    }
    for (double& value : line.direction) {
      value = normal(engine);
    }
  }
  return lines;
}

// The log-posterior sums about 50 terms of one sign, each after a few dozen roundings.
// 64 eps is an estimate, with margin, of the relative error of one evaluation.
FdOptions network_options() {
  FdOptions options;
  options.value_error_eps = 64.0;
  return options;
}

TEST(AdNetwork, JetMatchesCentralDifferencesAlongRandomLines) {
  for (const Line& line : random_lines()) {
    const auto g = [&](auto t) { return log_posterior_on_line(t, line.theta, line.direction); };
    // Seeding t = Jet(t0, 1, 0) is the same as seeding x_i = Jet(θ_i + t0 u_i, u_i, 0).
    EXPECT_TRUE(matches_central_differences(g, 0.0, network_options()));
    EXPECT_TRUE(matches_central_differences(g, 0.37, network_options()));
  }
}

TEST(AdNetwork, JetSeededPerParameterEqualsLineSeed) {
  for (const Line& line : random_lines()) {
    std::array<Jet<double>, kParams> x;
    for (int i = 0; i < kParams; ++i) {
      x[i] = Jet<double>(line.theta[i], line.direction[i], 0.0);
    }
    const Jet<double> seeded = log_posterior(std::span<const Jet<double>, kParams>(x));
    const Jet<double> on_line =
        log_posterior_on_line(Jet<double>(0.0, 1.0, 0.0), line.theta, line.direction);
    EXPECT_NEAR(seeded.val, on_line.val, 4 * kEps * std::abs(on_line.val));
    EXPECT_NEAR(seeded.d, on_line.d, 64 * kEps * std::abs(on_line.d));
    EXPECT_NEAR(seeded.d2, on_line.d2, 64 * kEps * std::abs(on_line.d2));
  }
}

// g''(0) is the derivative of g'(t) = Dual pass at t, so a first central difference
// of the Dual's d checks the Jet's d2 to first-difference accuracy.
TEST(AdNetwork, JetSecondDerivativeMatchesDifferenceOfDualDerivative) {
  for (const Line& line : random_lines()) {
    const auto slope = [&](double t) {
      return log_posterior_on_line(Dual<double>(t, 1.0), line.theta, line.direction).d;
    };
    const Jet<double> jet =
        log_posterior_on_line(Jet<double>(0.0, 1.0, 0.0), line.theta, line.direction);
    const auto difference = central_first_difference(slope, 0.0, network_options());
    EXPECT_NEAR(jet.d2, difference.value, difference.tolerance + 64 * kEps * std::abs(jet.d2));
  }
}

TEST(AdNetwork, JetFirstDerivativeEqualsDual) {
  for (const Line& line : random_lines()) {
    const Dual<double> dual =
        log_posterior_on_line(Dual<double>(0.0, 1.0), line.theta, line.direction);
    const Jet<double> jet =
        log_posterior_on_line(Jet<double>(0.0, 1.0, 0.0), line.theta, line.direction);
    EXPECT_EQ(dual.val, jet.val);
    // Both run the same first-order recurrences; only contraction into fused
    // multiply-adds may differ between the two instantiations.
    EXPECT_NEAR(dual.d, jet.d, 16 * kEps * std::abs(jet.d));
  }
}

// ∇f(θ)·u from D Dual passes along the unit directions e_i must equal the single
// directional pass along u.
TEST(AdNetwork, DirectionalDerivativeEqualsGradientDotDirection) {
  for (const Line& line : random_lines()) {
    std::array<double, kParams> gradient;
    for (int i = 0; i < kParams; ++i) {
      std::array<Dual<double>, kParams> x;
      for (int k = 0; k < kParams; ++k) {
        x[k] = Dual<double>(line.theta[k], k == i ? 1.0 : 0.0);
      }
      gradient[i] = log_posterior(std::span<const Dual<double>, kParams>(x)).d;
    }
    double dot = 0.0;
    double magnitude = 0.0;  // Σ |∂_i f u_i| bounds the cancellation in the dot product
    for (int i = 0; i < kParams; ++i) {
      dot += gradient[i] * line.direction[i];
      magnitude += std::abs(gradient[i] * line.direction[i]);
    }
    const Jet<double> jet =
        log_posterior_on_line(Jet<double>(0.0, 1.0, 0.0), line.theta, line.direction);
    EXPECT_NEAR(jet.d, dot, 256 * kEps * magnitude);
  }
}

// The output bias b3 enters every prediction with coefficient 1, so along u = e_b3
//   g'(0)  = Σ_n (y_n - ŷ_n) / σ² - b3 / s²,
//   g''(0) = -N / σ² - 1 / s² = -7 / 0.25 - 1 = -29 for every θ,
// with σ the noise scale and s the prior scale.
TEST(AdNetwork, OutputBiasDirectionHasClosedFormDerivatives) {
  for (const Line& line : random_lines()) {
    std::array<double, kParams> bias_direction{};
    bias_direction[kB3] = 1.0;
    const Jet<double> jet =
        log_posterior_on_line(Jet<double>(0.0, 1.0, 0.0), line.theta, bias_direction);
    double expected_first = -line.theta[kB3] / (kPriorScale * kPriorScale);
    for (int n = 0; n < kDataPoints; ++n) {
      const double prediction = predict(std::span<const double, kParams>(line.theta), n);
      expected_first += (kY[n] - prediction) / (kNoiseScale * kNoiseScale);
    }
    EXPECT_NEAR(jet.d, expected_first, 1e-12 * (1 + std::abs(expected_first)));
    EXPECT_NEAR(jet.d2, -29.0, 1e-12);
  }
}

}  // namespace
