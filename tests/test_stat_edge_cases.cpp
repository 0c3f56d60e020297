// Every sampler on a target whose log-density is -inf outside its support:
// proposals outside must be rejected, and the kept draws must match the
// target's moments within their Monte Carlo standard error.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include "half_normal.hpp"
#include "fmala/diagnostics/diagnostics.hpp"
#include "fmala/run.hpp"
#include "fmala/targets/functor_model.hpp"

namespace {

using fmala::Real;
using fmala::SamplerKind;
using fmala::testing::HalfNormalTarget;

// The half-normal with chain k of C starting at 0.25 + 1.5 (k + 1/2) / C, inside the support.
class HalfNormalModel : public fmala::FunctorModel<HalfNormalTarget> {
 public:
  HalfNormalModel() : FunctorModel(HalfNormalTarget{}, 1, "half-normal") {}

  void initial_state(uint64_t /*seed*/, int first_chain, int chains, Real* theta) const override {
    const double total = static_cast<double>(first_chain + chains);
    for (int k = 0; k < chains; ++k) {
      theta[k] = static_cast<Real>(0.25 + 1.5 * (first_chain + k + 0.5) / total);
    }
  }
};

TEST(HalfNormal, EverySamplerStaysInSupportWithCorrectMoments) {
  // Half-normal moments: E[x] = sqrt(2 / pi) = 0.7979 and Var[x] = 1 - 2 / pi = 0.3634.
  // The sample mean is checked against its MCSE (sd / sqrt(ESS) of x), the variance
  // mean((x - mean)²) against the MCSE of that mean (sd / sqrt(ESS) of (x - mean)²).
  // Each band is 4 MCSE wide, a two-sided normal tail of 6e-5 per check.
  const double expected_mean = std::sqrt(2.0 / std::numbers::pi);
  const double expected_variance = 1.0 - 2.0 / std::numbers::pi;
  constexpr int kChains = 256;
  constexpr int kDraws = 1000;
  const HalfNormalModel model;
  for (const SamplerKind kind :
       {SamplerKind::rwmh, SamplerKind::mala, SamplerKind::fmala, SamplerKind::line_fmala,
        SamplerKind::pc_fmala, SamplerKind::pc_line_fmala, SamplerKind::line_hmc}) {
    SCOPED_TRACE(std::string(fmala::sampler_name(kind)));
    fmala::RunSettings settings;
    settings.options.kind = kind;
    settings.chains = kChains;
    settings.warmup = 500;
    settings.draws = kDraws;
    settings.seed = 20;
    const fmala::SamplerRun run = fmala::run_sampler(model, settings);

    // Proposals at x <= 0 were evaluated and rejected as non-finite.
    EXPECT_GT(run.nonfinite_rejections, 0);
    EXPECT_GT(run.accept_prob, 0.0);
    EXPECT_LT(run.accept_prob, 1.0);

    const std::vector<Real>& x = run.draws.values;
    ASSERT_EQ(x.size(), static_cast<size_t>(kChains) * kDraws);
    size_t outside = 0;
    for (const Real value : x) {
      outside += value > 0 ? 0 : 1;  // also counts NaN
    }
    EXPECT_EQ(outside, 0u);
    size_t nonfinite_densities = 0;
    for (const Real value : run.draws.log_density) {
      nonfinite_densities += std::isfinite(value) ? 0 : 1;
    }
    EXPECT_EQ(nonfinite_densities, 0u);

    double mean = 0.0;
    for (const Real value : x) {
      mean += value;
    }
    mean /= static_cast<double>(x.size());
    const double mcse_mean = fmala::diag::mcse_mean(x.data(), kChains, kDraws);
    ASSERT_TRUE(std::isfinite(mcse_mean));
    EXPECT_NEAR(mean, expected_mean, 4.0 * mcse_mean);

    std::vector<double> squared_deviation(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      squared_deviation[i] = (x[i] - mean) * (x[i] - mean);
    }
    double variance = 0.0;
    for (const double value : squared_deviation) {
      variance += value;
    }
    variance /= static_cast<double>(x.size());
    const double mcse_variance = fmala::diag::mcse_mean(squared_deviation.data(), kChains, kDraws);
    ASSERT_TRUE(std::isfinite(mcse_variance));
    EXPECT_NEAR(variance, expected_variance, 4.0 * mcse_variance);
    std::printf("%-14s mean %.4f (mcse %.4f)  variance %.4f (mcse %.4f)  accept_prob %.3f  "
                "non-finite rejections %lld\n",
                std::string(fmala::sampler_name(kind)).c_str(), mean, mcse_mean, variance,
                mcse_variance, static_cast<double>(run.accept_prob),
                static_cast<long long>(run.nonfinite_rejections));
  }
}

}  // namespace
