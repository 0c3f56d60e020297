// Superchains: the chains of a superchain start from one state, and the
// summary's nested R-hat is that of fmala::diag::nested_rhat on the draws.

#include <gtest/gtest.h>

#include <algorithm>
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

namespace fmala {
namespace {

// Runs `settings` in batches of `batch` chains and joins them.
SamplerRun run_in_batches(const Model& model, RunSettings settings, int batch) {
  const int chains = settings.chains;
  settings.all_chains = chains;
  std::vector<SamplerRun> runs;
  for (int first = 0; first < chains; first += batch) {
    settings.first_chain = first;
    settings.chains = std::min(batch, chains - first);
    runs.push_back(run_sampler(model, settings));
  }
  return combine_chain_batches(std::move(runs));
}

TEST(ChainBatches, JoinedBatchesEqualOneRun) {
  const auto model = make_funnel_model(5);
  RunSettings s;
  s.options.kind = SamplerKind::mala;
  s.chains = 12;
  s.warmup = 60;
  s.draws = 30;
  s.thin = 2;
  s.adapt_per_chain = true;
  s.superchains = 3;  // superchains of 4 chains, split by batches of 5
  s.threads = 1;
  for (bool stream : {false, true}) {
    s.stream.enabled = stream;
    s.stream.monitor = {0, 3};
    s.stream.keep_last = stream ? 4 : 0;
    const SamplerRun whole = run_sampler(*model, s);
    const SamplerRun joined = run_in_batches(*model, s, 5);
    EXPECT_EQ(joined.settings.chains, 12);
    EXPECT_EQ(joined.draws.values, whole.draws.values);
    EXPECT_EQ(joined.draws.log_density, whole.draws.log_density);
    EXPECT_EQ(joined.draws.accepted, whole.draws.accepted);
    EXPECT_EQ(joined.step_size, whole.step_size);
    EXPECT_NEAR(joined.acceptance_rate, whole.acceptance_rate, 1e-12);
    EXPECT_NEAR(joined.accept_prob, whole.accept_prob, 1e-12);
    EXPECT_EQ(joined.nonfinite_rejections, whole.nonfinite_rejections);
    EXPECT_EQ(joined.stream.mean, whole.stream.mean);
    EXPECT_EQ(joined.stream.last.values, whole.stream.last.values);
    const SamplerSummary a = summarize(whole, *model);
    const SamplerSummary b = summarize(joined, *model);
    EXPECT_EQ(a.rhat_max, b.rhat_max);
    EXPECT_EQ(a.nested_rhat_max, b.nested_rhat_max);
  }
}

TEST(ChainBatches, BatchesOutOfOrderAreRejected) {
  const auto model = make_gaussian_model(2, Real(0));
  RunSettings s;
  s.chains = 2;
  s.draws = 5;
  s.warmup = 5;
  s.step_size = Real(0.5);
  s.all_chains = 4;
  s.first_chain = 2;
  SamplerRun second = run_sampler(*model, s);
  s.first_chain = 0;
  SamplerRun first = run_sampler(*model, s);
  std::vector<SamplerRun> wrong;
  wrong.push_back(std::move(second));
  wrong.push_back(std::move(first));
  EXPECT_THROW(combine_chain_batches(std::move(wrong)), Error);
  s.first_chain = 3;  // chains 3 and 4 of 4
  EXPECT_THROW(run_sampler(*model, s), Error);
}

}  // namespace
}  // namespace fmala
