// Superchains: the chains of a superchain start from one state, and the
// summary's nested R-hat is that of fmala::diag::nested_rhat on the draws.

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "fmala/core/error.hpp"
#include "fmala/diagnostics/diagnostics.hpp"
#include "fmala/run.hpp"
#include "fmala/summary.hpp"
#include "fmala/targets/builtin.hpp"

namespace fmala {
namespace {

TEST(Superchains, ChainsOfASuperchainShareTheirStart) {
  const auto model = make_gaussian_model(3, Real(0));
  RunSettings s;
  s.options.kind = SamplerKind::rwmh;
  s.chains = 12;
  s.superchains = 3;
  s.warmup = 0;
  s.draws = 1;
  s.step_size = Real(1e-12);  // the first draw stays at the initial state
  s.threads = 1;
  const SamplerRun run = run_sampler(*model, s);
  for (int k = 0; k < 12; ++k) {
    for (int j = 0; j < 3; ++j) {
      const Real first = run.draws.at(k / 4 * 4, 0)[j];
      EXPECT_NEAR(run.draws.at(k, 0)[j], first, 1e-9) << "chain " << k;
      if (k % 4 == 0 && k > 0) {
        EXPECT_GT(std::abs(run.draws.at(k, 0)[j] - run.draws.at(k - 4, 0)[j]), 1e-6) << "chain " << k;
      }
    }
  }
}

TEST(Superchains, SummaryNestedRhatMatchesTheDiagnostic) {
  const auto model = make_funnel_model(4);
  RunSettings s;
  s.options.kind = SamplerKind::pc_line_fmala;
  s.chains = 32;
  s.superchains = 8;
  s.warmup = 50;
  s.draws = 6;
  s.threads = 1;
  const SamplerRun run = run_sampler(*model, s);
  const SamplerSummary summary = summarize(run, *model);
  const Draws& d = run.draws;
  double worst = diag::nested_rhat(d.log_density.data(), 8, 4, 6);
  EXPECT_EQ(summary.log_density.nested_rhat, worst);
  for (int j = 0; j < 4; ++j) {
    std::vector<double> x;
    for (int k = 0; k < 32; ++k) {
      for (int t = 0; t < 6; ++t) {
        x.push_back(d.at(k, t)[j]);
      }
    }
    const double value = diag::nested_rhat(x.data(), 8, 4, 6);
    EXPECT_EQ(summary.parameters[static_cast<size_t>(j)].nested_rhat, value) << j;
    worst = std::max(worst, value);
  }
  EXPECT_EQ(summary.nested_rhat_max, worst);
  EXPECT_GE(summary.nested_rhat_max, 1.0);
}

TEST(Superchains, CountMustDivideTheChains) {
  const auto model = make_gaussian_model(2, Real(0));
  RunSettings s;
  s.chains = 8;
  s.superchains = 3;
  EXPECT_THROW(run_sampler(*model, s), Error);
  s.superchains = 1;
  EXPECT_THROW(run_sampler(*model, s), Error);
}

}  // namespace
}  // namespace fmala
