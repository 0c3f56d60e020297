// Line-HMC: leapfrog trajectories and acceptance ratios derived by hand,
// divergence handling, evaluation counts, option checks and determinism.

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "fmala/core/error.hpp"
#include "fmala/run.hpp"
#include "fmala/samplers/phases.hpp"
#include "fmala/targets/builtin.hpp"
#include "fmala/targets/evaluate.hpp"
#include "fmala/targets/gaussian.hpp"
#include "one_chain.hpp"

namespace {

using fmala::Real;
using fmala::SamplerKind;

struct Trajectory {
  Real t = 0;
  Real p = 0;
  Real log_alpha = 0;
};

// Runs the phases of one Line-HMC transition by hand from θ along u with
// momentum p and leapfrog step eps, evaluating the target's jets as the back
// ends do. Leaves the buffers of `one` at the end of the trajectory.
template <class Target>
Trajectory run_trajectory(const Target &target, fmala::testing::OneChain &one,
                          const std::vector<Real> &theta,
                          const std::vector<Real> &u, Real p, Real eps,
                          int steps) {
  fmala::ChainBuffers &b = one.b;
  fmala::StepContext ctx;
  ctx.options.kind = SamplerKind::line_hmc;
  ctx.options.leapfrog_steps = steps;
  for (size_t i = 0; i < theta.size(); ++i) {
    b.theta[i] = theta[i];
    b.tangent[i] = u[i];
  }
  fmala::evaluate_jet(target, b.theta, b.tangent, 1, b.f, b.d, b.h);
  fmala::start_trajectory(b, 0, p, eps);
  for (int step = 0; step < steps; ++step) {
    fmala::phase_leapfrog_position(b, 0, step == 0);
    fmala::evaluate_jet(target, b.theta_prop, b.tangent, 1, b.f_prop, b.d_prop,
                        b.h_prop);
    fmala::phase_leapfrog_momentum(b, 0);
  }
  return {b.line_t[0], b.momentum[0], fmala::log_accept_ratio(b, ctx, 0)};
}

// Standard normal in 1-D, θ = 1, u = 1, p = 0.5, ε = 0.5, so g(t) = −(1 + t)²/2
// and g'(t) = −(1 + t). Every number below is dyadic, hence exact in double.
//   p½ = 0.5 + 0.25·g'(0) = 0.5 − 0.25 = 0.25
//   t₁ = 0 + 0.5·0.25 = 0.125
//   p₁ = 0.25 + 0.25·g'(0.125) = 0.25 − 0.25·1.125 = −0.03125
//   H(0, p) = 1²/2 + 0.5²/2 = 0.625
//   H(t₁, p₁) = 1.125²/2 + 0.03125²/2 = 0.6328125 + 0.00048828125 =
//   0.63330078125 log α = 0.625 − 0.63330078125 = −0.00830078125
TEST(LineHmc, OneLeapfrogStepStandardNormal) {
  const fmala::GaussianTarget target{1, nullptr, 0.0};
  fmala::testing::OneChain one(1);
  const Trajectory tr = run_trajectory(target, one, {1.0}, {1.0}, 0.5, 0.5, 1);
  EXPECT_NEAR(tr.t, 0.125, 1e-14);
  EXPECT_NEAR(tr.p, -0.03125, 1e-14);
  EXPECT_NEAR(one.theta_prop[0], 1.125, 1e-14);
  EXPECT_NEAR(tr.log_alpha, -0.00830078125, 1e-14);
}

// The same start with L = 2, continuing from (t₁, p₁) = (0.125, −0.03125):
//   p = −0.03125 + 0.25·g'(0.125) = −0.03125 − 0.28125 = −0.3125
//   t₂ = 0.125 + 0.5·(−0.3125) = −0.03125
//   p₂ = −0.3125 + 0.25·g'(−0.03125) = −0.3125 − 0.25·0.96875 = −0.5546875
//   H(t₂, p₂) = 0.96875²/2 + 0.5546875²/2 = 0.46923828125 + 0.153839111328125
//             = 0.623077392578125
//   log α = 0.625 − 0.623077392578125 = 0.001922607421875
TEST(LineHmc, TwoLeapfrogStepsStandardNormal) {
  const fmala::GaussianTarget target{1, nullptr, 0.0};
  fmala::testing::OneChain one(1);
  const Trajectory tr = run_trajectory(target, one, {1.0}, {1.0}, 0.5, 0.5, 2);
  EXPECT_NEAR(tr.t, -0.03125, 1e-14);
  EXPECT_NEAR(tr.p, -0.5546875, 1e-14);
  EXPECT_NEAR(one.theta_prop[0], 0.96875, 1e-14);
  EXPECT_NEAR(tr.log_alpha, 0.001922607421875, 1e-14);
}

// 2-D Gaussian with correlation 0.5 along the non-axis tangent u = (0.6, 0.8).
// The reference trajectory uses the precision matrix P = Σ⁻¹ = [[1, −0.5],
// [−0.5, 1]] / 0.75 directly, f(x) = −xᵀPx/2 and ∇f = −Px, not the target's
// AR(1) factorisation nor the library's phases.
TEST(LineHmc, CorrelatedGaussianNonAxisTangent) {
  const double theta[2] = {0.3, -1.2};
  const double u[2] = {0.6, 0.8};
  const double p0 = -0.7;
  const double eps = 0.4;
  const int steps = 3;
  auto point = [&](double t, double *x) {
    x[0] = theta[0] + t * u[0];
    x[1] = theta[1] + t * u[1];
  };
  auto log_density = [](const double *x) {
    return -0.5 * (x[0] * x[0] - x[0] * x[1] + x[1] * x[1]) / 0.75;
  };
  auto slope = [&](double t) {
    double x[2];
    point(t, x);
    const double g0 = -(x[0] - 0.5 * x[1]) / 0.75;
    const double g1 = -(x[1] - 0.5 * x[0]) / 0.75;
    return g0 * u[0] + g1 * u[1];
  };
  double t = 0.0;
  double p = p0;
  for (int step = 0; step < steps; ++step) {
    p += 0.5 * eps * slope(t);
    t += eps * p;
    p += 0.5 * eps * slope(t);
  }
  double start[2];
  double end[2];
  point(0.0, start);
  point(t, end);
  const double expected_log_alpha =
      (-log_density(start) + 0.5 * p0 * p0) - (-log_density(end) + 0.5 * p * p);

  const fmala::GaussianTarget target{2, nullptr, 0.5};
  fmala::testing::OneChain one(2);
  const Trajectory tr = run_trajectory(target, one, {theta[0], theta[1]},
                                       {u[0], u[1]}, p0, eps, steps);
  EXPECT_NEAR(tr.t, t, 1e-13);
  EXPECT_NEAR(tr.p, p, 1e-13);
  EXPECT_NEAR(one.theta_prop[0], end[0], 1e-13);
  EXPECT_NEAR(one.theta_prop[1], end[1], 1e-13);
  EXPECT_NEAR(tr.log_alpha, expected_log_alpha, 1e-13);
  // The trajectory has to move for the check to mean anything.
  EXPECT_GT(std::abs(t), 0.1);
}

// A non-finite derivative in the middle of the trajectory rejects the move,
// counts it, and later jets are taken at θ, a finite point.
TEST(LineHmc, NonFiniteTrajectoryIsCountedRejection) {
  const fmala::GaussianTarget target{1, nullptr, 0.0};
  fmala::testing::OneChain one(1);
  fmala::ChainBuffers &b = one.b;
  fmala::StepContext ctx;
  ctx.options.kind = SamplerKind::line_hmc;
  b.theta[0] = 1.0;
  b.tangent[0] = 1.0;
  fmala::evaluate_jet(target, b.theta, b.tangent, 1, b.f, b.d, b.h);
  fmala::start_trajectory(b, 0, 0.5, 0.5);
  fmala::phase_leapfrog_position(b, 0, true);
  b.d_prop[0] = Real(INFINITY);
  fmala::phase_leapfrog_momentum(b, 0);
  EXPECT_TRUE(std::isnan(b.momentum[0]));
  fmala::phase_leapfrog_position(b, 0, false);
  EXPECT_EQ(b.theta_prop[0], 1.0);
  fmala::evaluate_jet(target, b.theta_prop, b.tangent, 1, b.f_prop, b.d_prop,
                      b.h_prop);
  fmala::phase_leapfrog_momentum(b, 0);
  fmala::phase_accept(b, ctx, 0, false);
  EXPECT_EQ(one.counters[1], 1) << "non-finite rejections";
  EXPECT_EQ(one.counters[0], 0) << "acceptances";
  EXPECT_EQ(b.accept_prob[0], 0.0);
  EXPECT_EQ(b.theta[0], 1.0);
}

// One jet at θ and one per leapfrog step.
TEST(LineHmc, CountsOneJetPerLeapfrogStepPlusOne) {
  const auto model = fmala::make_gaussian_model(3, 0.0);
  fmala::RunSettings s;
  s.options.kind = SamplerKind::line_hmc;
  s.options.leapfrog_steps = 3;
  s.chains = 2;
  s.warmup = 10;
  s.draws = 10;
  const fmala::SamplerRun run = fmala::run_sampler(*model, s);
  EXPECT_EQ(run.evaluations, 20 * 4);
}

// With a fixed step and jitter on, chain k's draws do not depend on the chain
// count, and the jitter changes the draws.
TEST(LineHmc, JitteredChainIndependentOfChainCount) {
  const auto model = fmala::make_funnel_model(6);
  fmala::RunSettings s;
  s.options.kind = SamplerKind::line_hmc;
  s.options.jitter = 0.3;
  s.chains = 3;
  s.warmup = 20;
  s.draws = 30;
  s.step_size = 0.3;
  s.threads = 1;
  const fmala::SamplerRun small = fmala::run_sampler(*model, s);
  s.chains = 8;
  s.threads = 2;
  const fmala::SamplerRun large = fmala::run_sampler(*model, s);
  s.options.jitter = 0;
  const fmala::SamplerRun fixed = fmala::run_sampler(*model, s);
  int differing = 0;
  for (int c = 0; c < 3; ++c) {
    for (int d = 0; d < 30; ++d) {
      for (int i = 0; i < 6; ++i) {
        ASSERT_EQ(small.draws.at(c, d)[i], large.draws.at(c, d)[i])
            << "chain " << c << " draw " << d << " coordinate " << i;
        differing += small.draws.at(c, d)[i] != fixed.draws.at(c, d)[i] ? 1 : 0;
      }
    }
  }
  EXPECT_GT(differing, 0);
}

TEST(LineHmc, ValidateChecksItsOptions) {
  fmala::RunSettings s;
  s.options.kind = SamplerKind::line_hmc;
  EXPECT_NO_THROW(fmala::validate(s, 3));
  s.options.leapfrog_steps = 0;
  EXPECT_THROW(fmala::validate(s, 3), fmala::Error);
  s.options.leapfrog_steps = 1001;
  EXPECT_THROW(fmala::validate(s, 3), fmala::Error);
  s.options.leapfrog_steps = 1000;
  EXPECT_NO_THROW(fmala::validate(s, 3));
  s.options.jitter = 1.0;
  EXPECT_THROW(fmala::validate(s, 3), fmala::Error);
  s.options.jitter = -0.1;
  EXPECT_THROW(fmala::validate(s, 3), fmala::Error);
  s.options.jitter = 0.5;
  EXPECT_NO_THROW(fmala::validate(s, 3));
}

TEST(LineHmc, ValidateRejectsOptionsOfOtherSamplers) {
  fmala::RunSettings s;
  s.options.kind = SamplerKind::line_hmc;
  s.options.sqrt_dim = true;
  EXPECT_THROW(fmala::validate(s, 3), fmala::Error);
  s.options.sqrt_dim = false;
  s.options.aligned = true;
  EXPECT_THROW(fmala::validate(s, 3), fmala::Error);
  s.options.aligned = false;
  s.options.persistent = true;
  EXPECT_THROW(fmala::validate(s, 3), fmala::Error);

  fmala::RunSettings other;
  other.options.kind = SamplerKind::line_fmala;
  other.options.leapfrog_steps = 4;
  EXPECT_THROW(fmala::validate(other, 3), fmala::Error);
  other.options.leapfrog_steps = fmala::SamplerOptions{}.leapfrog_steps;
  other.options.jitter = 0.2;
  EXPECT_THROW(fmala::validate(other, 3), fmala::Error);
}

TEST(LineHmc, NameRoundTrips) {
  EXPECT_EQ(fmala::sampler_name(SamplerKind::line_hmc), "line-hmc");
  EXPECT_EQ(fmala::parse_sampler("line-hmc"), SamplerKind::line_hmc);
  EXPECT_EQ(fmala::default_target_accept(SamplerKind::line_hmc), Real(0.8));
}

} // namespace
