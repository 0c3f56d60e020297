// Exact acceptance ratios on one-dimensional Gaussians, derived by hand, and
// properties of the per-chain phases (non-finite rejection, curvature floor,
// determinism of the streams).

#include <gtest/gtest.h>

#include <cmath>
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

// log α of the move x -> y on N(0, s²) in one dimension, for a sampler whose
// one-step proposal has variance `variance` (η² for MALA, FMALA and the line
// samplers; for the PC samplers σ² = η² s² since κ = 1/s²). The noise is
// chosen so that the proposal lands exactly on y; the tangents are u = u* = 1.
Real log_alpha_1d(SamplerKind kind, Real x, Real y, Real variance, Real scale,
                  fmala::PcForm form = fmala::PcForm::paper) {
  const fmala::GaussianTarget target{1, &scale, 0.0};
  fmala::testing::OneChain one(1);
  fmala::ChainBuffers& b = one.b;
  fmala::StepContext ctx;
  ctx.options.kind = kind;
  ctx.options.pc_form = form;
  const bool pc = fmala::is_preconditioned(kind);
  // For PC samplers σ = η/√κ = η s, so η² = variance / s².
  const Real eta = std::sqrt(pc ? variance / (scale * scale) : variance);
  b.step_size[0] = eta;
  b.theta[0] = x;
  b.tangent[0] = 1.0;
  b.tangent_prop[0] = 1.0;
  fmala::evaluate_jet(target, b.theta, b.tangent, 2, b.f, b.d, b.h);
  Real unit = 0;
  fmala::evaluate_gradient(target, 1, b.theta, b.grad, &unit);
  // Drift of the forward move: MALA (η²/2) g; the others c u with c = (σ²/2) d.
  const Real drift = 0.5 * variance * (-x / (scale * scale));
  const Real z = (y - x - (kind == SamplerKind::rwmh ? 0.0 : drift)) / std::sqrt(variance);
  b.noise[0] = z;
  b.zeta[0] = z;
  fmala::build_proposal(b, ctx.options, 0);
  EXPECT_NEAR(b.theta_prop[0], y, 1e-14);
  const Real* direction = b.tangent;
  fmala::evaluate_jet(target, b.theta_prop, direction, 2, b.f_prop, b.d_prop, b.h_prop);
  fmala::evaluate_gradient(target, 1, b.theta_prop, b.grad_prop, &unit);
  return fmala::log_accept_ratio(b, ctx, 0);
}

// Standard normal, proposal variance 0.5, x = 1 -> y = 2:
//   f(y) − f(x) = −2 + 0.5 = −1.5
//   forward mean 1 + 0.25·(−1) = 0.75, log q(y|x) = −(1.25)²/1 = −1.5625
//   reverse mean 2 + 0.25·(−2) = 1.5,  log q(x|y) = −(0.5)²/1 = −0.25
//   log α = −1.5 − 0.25 + 1.5625 = −0.1875
// In one dimension with u = u* = 1, FMALA, Line-FMALA and (κ = 1) both PC
// samplers propose exactly as MALA does, so all give the same value.
TEST(ExactRatio, StandardNormalOneToTwo) {
  for (SamplerKind kind : {SamplerKind::mala, SamplerKind::fmala, SamplerKind::line_fmala,
                           SamplerKind::pc_fmala, SamplerKind::pc_line_fmala}) {
    SCOPED_TRACE(std::string(fmala::sampler_name(kind)));
    EXPECT_NEAR(log_alpha_1d(kind, 1.0, 2.0, 0.5, 1.0), -0.1875, 1e-14);
  }
}

// Standard normal, proposal variance 0.25, x = 2 -> y = −1:
//   f(y) − f(x) = −0.5 + 2 = 1.5
//   forward mean 2 − 0.25 = 1.75,   log q(y|x) = −(2.75)²/0.5 = −15.125
//   reverse mean −1 + 0.125 = −0.875, log q(x|y) = −(2.875)²/0.5 = −16.53125
//   log α = 1.5 − 16.53125 + 15.125 = 0.09375
TEST(ExactRatio, StandardNormalTwoToMinusOne) {
  for (SamplerKind kind : {SamplerKind::mala, SamplerKind::fmala, SamplerKind::line_fmala,
                           SamplerKind::pc_fmala, SamplerKind::pc_line_fmala}) {
    SCOPED_TRACE(std::string(fmala::sampler_name(kind)));
    EXPECT_NEAR(log_alpha_1d(kind, 2.0, -1.0, 0.25, 1.0), 0.09375, 1e-14);
  }
}

// RWMH: the proposal is symmetric, so log α = f(y) − f(x) = −2 + 0.5 = −1.5.
TEST(ExactRatio, RandomWalkIsDensityDifference) {
  EXPECT_NEAR(log_alpha_1d(SamplerKind::rwmh, 1.0, 2.0, 0.5, 1.0), -1.5, 1e-14);
}

// N(0, 2²), proposal variance σ² = 2 (PC: η² = 0.5, κ = 1/4), x = 1 -> y = 2:
//   f(y) − f(x) = (−4 + 1)/8 = −0.375; drift (σ²/2)(−x/4) = −x/4
//   forward mean 0.75, log q(y|x) = −(1.25)²/4 = −0.390625
//   reverse mean 1.5,  log q(x|y) = −(0.5)²/4 = −0.0625
//   log α = −0.375 − 0.0625 + 0.390625 = −0.046875
// The reference form of PC-FMALA gives the same move in one dimension:
// c = η² d/(2κ) and σ = η/√(Dκ) with D = 1.
TEST(ExactRatio, PreconditionedScaleTwo) {
  EXPECT_NEAR(log_alpha_1d(SamplerKind::pc_line_fmala, 1.0, 2.0, 2.0, 2.0), -0.046875, 1e-14);
  EXPECT_NEAR(log_alpha_1d(SamplerKind::pc_fmala, 1.0, 2.0, 2.0, 2.0), -0.046875, 1e-14);
  EXPECT_NEAR(log_alpha_1d(SamplerKind::pc_fmala, 1.0, 2.0, 2.0, 2.0, fmala::PcForm::reference),
              -0.046875, 1e-14);
}

TEST(PhaseAccept, NonFiniteProposalIsCountedRejection) {
  fmala::testing::OneChain one(1);
  fmala::ChainBuffers& b = one.b;
  fmala::StepContext ctx;
  ctx.options.kind = SamplerKind::line_fmala;
  b.theta[0] = 0.5;
  b.theta_prop[0] = 7.0;
  b.f[0] = -0.125;
  b.f_prop[0] = NAN;
  b.d_prop[0] = 0.0;
  b.step_size[0] = 0.1;
  b.coef_sigma[0] = 0.1;

  fmala::phase_accept(b, ctx, 0, false);

  EXPECT_EQ(b.theta[0], 0.5);
  EXPECT_EQ(*b.n_accepted, 0);
  EXPECT_EQ(*b.n_nonfinite, 1);
  EXPECT_EQ(b.accept_prob[0], 0.0);
}

TEST(ForwardCoefficients, CurvatureFloorIsCounted) {
  fmala::SamplerOptions o;
  o.kind = SamplerKind::pc_line_fmala;
  o.curvature_floor = 1e-6;
  // |h| = 1e-9 < floor: κ = 1e-6, σ = η/√κ = 0.1/1e-3 = 100.
  const fmala::Coefficients co = fmala::forward_coefficients(o, 5, 0.1, 2.0, 1e-9);
  EXPECT_TRUE(co.floored);
  EXPECT_NEAR(co.sigma, 100.0, 1e-9);
  EXPECT_NEAR(co.c, 0.5 * 100.0 * 100.0 * 2.0, 1e-6);
  const fmala::Coefficients ok = fmala::forward_coefficients(o, 5, 0.1, 2.0, -4.0);
  EXPECT_FALSE(ok.floored);
  EXPECT_NEAR(ok.sigma, 0.05, 1e-15);
}

TEST(ForwardCoefficients, SqrtDimScalesStep) {
  fmala::SamplerOptions o;
  o.kind = SamplerKind::fmala;
  o.sqrt_dim = true;
  // ε = η√D = 0.1·2 = 0.2, c = ε²/2 · d = 0.02·3
  const fmala::Coefficients co = fmala::forward_coefficients(o, 4, 0.1, 3.0, 0.0);
  EXPECT_NEAR(co.sigma, 0.2, 1e-15);
  EXPECT_NEAR(co.c, 0.06, 1e-15);
}

TEST(UnitTangent, HasUnitNorm) {
  fmala::Stream stream(3, 5, 7, fmala::Draw::tangent);
  std::vector<Real> u(1000);
  fmala::unit_tangent(stream, 1000, u.data());
  double norm2 = 0;
  for (Real x : u) {
    norm2 += x * x;
  }
  EXPECT_NEAR(norm2, 1.0, 1e-12);
}

TEST(Stream, KeyedByChainStepAndPurpose) {
  fmala::Stream a(11, 3, 40, fmala::Draw::noise);
  fmala::Stream same(11, 3, 40, fmala::Draw::noise);
  fmala::Stream other_chain(11, 4, 40, fmala::Draw::noise);
  fmala::Stream other_step(11, 3, 41, fmala::Draw::noise);
  fmala::Stream other_use(11, 3, 40, fmala::Draw::accept);
  const double x = a.normal();
  EXPECT_EQ(x, same.normal());
  EXPECT_NE(x, other_chain.normal());
  EXPECT_NE(x, other_step.normal());
  EXPECT_NE(x, other_use.normal());
}

// Chain k's draws do not depend on how many chains run beside it, when the
// step size is fixed, nor on the number of threads.
TEST(RunSampler, ChainIndependentOfChainCountAndThreads) {
  const auto model = fmala::make_funnel_model(6);
  for (SamplerKind kind : fmala::kAllSamplers) {
    SCOPED_TRACE(std::string(fmala::sampler_name(kind)));
    fmala::RunSettings s;
    s.options.kind = kind;
    s.chains = 3;
    s.warmup = 20;
    s.draws = 30;
    s.step_size = 0.3;
    s.threads = 1;
    const fmala::SamplerRun small = fmala::run_sampler(*model, s);
    s.chains = 8;
    s.threads = 2;
    const fmala::SamplerRun large = fmala::run_sampler(*model, s);
    for (int c = 0; c < 3; ++c) {
      for (int d = 0; d < 30; ++d) {
        for (int i = 0; i < 6; ++i) {
          ASSERT_EQ(small.draws.at(c, d)[i], large.draws.at(c, d)[i])
              << "chain " << c << " draw " << d << " coordinate " << i;
        }
      }
    }
  }
}

// With per-chain adaptation, chain k also keeps its draws whatever the chain count.
TEST(RunSampler, PerChainAdaptationIndependentOfChainCount) {
  const auto model = fmala::make_gaussian_model(4, 0.5);
  fmala::RunSettings s;
  s.options.kind = SamplerKind::pc_line_fmala;
  s.chains = 2;
  s.warmup = 50;
  s.draws = 20;
  s.adapt_per_chain = true;
  const fmala::SamplerRun small = fmala::run_sampler(*model, s);
  s.chains = 5;
  const fmala::SamplerRun large = fmala::run_sampler(*model, s);
  EXPECT_EQ(small.step_size[1], large.step_size[1]);
  EXPECT_EQ(small.draws.at(1, 19)[3], large.draws.at(1, 19)[3]);
}

// Extra curvature tangents come from their own streams: distinct for each m,
// fresh at θ* where u* is fresh (PC-FMALA), the same as at θ where the reverse
// move keeps u (PC-Line-FMALA, --aligned).
TEST(CurvatureTangents, StreamsFollowTheReverseTangent) {
  const int dim = 7;
  std::vector<Real> tangent(dim);
  fmala::ChainBuffers b;
  b.chains = 1;
  b.dim = dim;
  b.curvature_tangent = tangent.data();
  fmala::StepContext ctx;
  ctx.seed = 5;
  ctx.step = 12;
  ctx.first_chain = 3;
  const auto draw = [&](SamplerKind kind, bool aligned, int m, bool at_proposal) {
    ctx.options.kind = kind;
    ctx.options.aligned = aligned;
    ctx.options.curvature_tangents = 4;
    fmala::draw_curvature_tangent(b, ctx, 0, m, at_proposal);
    return tangent;
  };
  // Tangent m = 3 at θ is the second vector of chain 3's curvature block.
  fmala::Stream expected_stream(5, 3, 12, fmala::Draw::curvature,
                                uint64_t(1) << fmala::kCurvatureTangentShift);
  std::vector<Real> expected(dim);
  fmala::unit_tangent(expected_stream, dim, expected.data());
  EXPECT_EQ(draw(SamplerKind::pc_fmala, false, 3, false), expected);

  EXPECT_NE(draw(SamplerKind::pc_fmala, false, 2, false), expected);
  EXPECT_NE(draw(SamplerKind::pc_fmala, false, 3, true), expected);
  EXPECT_EQ(draw(SamplerKind::pc_line_fmala, false, 3, true), expected);
  EXPECT_EQ(draw(SamplerKind::pc_fmala, true, 3, true), expected);
}

// On an isotropic Gaussian every direction has curvature −1, so averaging
// over several tangents changes κ by rounding only: the draws agree with the
// single-tangent sampler's, and each extra tangent costs one more jet at θ
// and one at θ*. On scales (1, 3) the mean over tangents is another κ.
TEST(CurvatureTangents, AverageOfEqualCurvaturesKeepsTheDraws) {
  for (SamplerKind kind : {SamplerKind::pc_fmala, SamplerKind::pc_line_fmala}) {
    SCOPED_TRACE(std::string(fmala::sampler_name(kind)));
    const auto model = fmala::make_gaussian_model(5, 0.0);
    fmala::RunSettings s;
    s.options.kind = kind;
    s.chains = 3;
    s.warmup = 10;
    s.draws = 40;
    s.step_size = 0.8;
    const fmala::SamplerRun one = fmala::run_sampler(*model, s);
    s.options.curvature_tangents = 4;
    const fmala::SamplerRun four = fmala::run_sampler(*model, s);
    EXPECT_EQ(four.evaluations, one.evaluations * 4);
    EXPECT_EQ(four.acceptance_rate, one.acceptance_rate);
    for (size_t i = 0; i < one.draws.values.size(); ++i) {
      ASSERT_NEAR(four.draws.values[i], one.draws.values[i], 1e-12) << "value " << i;
    }

    const auto scaled = fmala::make_gaussian_model(2, 0.0, {1.0, 3.0});
    s.options.curvature_tangents = 1;
    const fmala::SamplerRun single = fmala::run_sampler(*scaled, s);
    s.options.curvature_tangents = 4;
    const fmala::SamplerRun mean = fmala::run_sampler(*scaled, s);
    EXPECT_NE(single.draws.values, mean.draws.values);
  }
}

TEST(Validate, CurvatureTangentsOnlyForPreconditionedSamplers) {
  fmala::RunSettings s;
  s.options.kind = SamplerKind::fmala;
  s.options.curvature_tangents = 4;
  EXPECT_THROW(fmala::validate(s, 3), fmala::Error);
  s.options.kind = SamplerKind::pc_line_fmala;
  EXPECT_NO_THROW(fmala::validate(s, 3));
  s.options.curvature_tangents = fmala::kMaxCurvatureTangents;
  EXPECT_NO_THROW(fmala::validate(s, 3));
  s.options.curvature_tangents = fmala::kMaxCurvatureTangents + 1;
  EXPECT_THROW(fmala::validate(s, 3), fmala::Error);
  s.options.curvature_tangents = 0;
  EXPECT_THROW(fmala::validate(s, 3), fmala::Error);
}

TEST(Validate, RejectsOptionsOfOtherSamplers) {
  fmala::RunSettings s;
  s.options.kind = SamplerKind::line_fmala;
  s.options.persistent = true;
  EXPECT_THROW(fmala::validate(s, 3), fmala::Error);
  s.options.persistent = false;
  s.options.aligned = true;
  EXPECT_THROW(fmala::validate(s, 3), fmala::Error);
  s.options.kind = SamplerKind::fmala;
  s.options.persistent = true;
  EXPECT_THROW(fmala::validate(s, 3), fmala::Error);
  s.options.persistent = false;
  EXPECT_NO_THROW(fmala::validate(s, 3));
  s.thin = 0;
  EXPECT_THROW(fmala::validate(s, 3), fmala::Error);
}

}  // namespace
