// Reproducibility of runs on the CPU back end, for Neal's funnel and the MLP regression:
//   * a run's draws, step sizes and counters are bit-identical for 1, 2 and 4 OpenMP threads
//     (RunSettings::threads), with a fixed step size, shared adaptation and per-chain
//     adaptation;
//   * chain k's draws are bit-identical whether 4 or 1,024 chains run, with a fixed step size
//     and with per-chain adaptation (RunSettings::adapt_per_chain). Shared adaptation averages
//     the acceptance probability over all chains, so its step size, and every chain's draws,
//     depend on the chain count, and this check does not apply to it.

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fmala/core/error.hpp"
#include "fmala/io/regression_data.hpp"
#include "fmala/model/mlp.hpp"
#include "fmala/random/philox.hpp"
#include "fmala/run.hpp"
#include "fmala/targets/builtin.hpp"

namespace fmala {
namespace {

// 40 training rows of 3 standard normal features with y = 0.5 x_0 + 0.1 e, standardised.
std::shared_ptr<io::RegressionData> regression_data() {
  auto data = std::make_shared<io::RegressionData>();
  data->n_features = 3;
  Stream stream(3, 0, 0, Draw::noise);
  for (int i = 0; i < 40 * 3; ++i) {
    data->train_x.push_back(stream.normal());
  }
  for (int i = 0; i < 40; ++i) {
    data->train_y.push_back(0.5 * data->train_x[3 * i] + 0.1 * stream.normal());
  }
  data->test_x = std::vector<double>(data->train_x.begin(), data->train_x.begin() + 30);
  data->test_y = std::vector<double>(data->train_y.begin(), data->train_y.begin() + 10);
  data->x_mean.assign(3, 0.0);
  data->x_sd.assign(3, 1.0);
  return data;
}

// A 3-6-1 relu network with learned noise: 32 parameters. A tile of 16 rows splits the 40
// rows into three tiles, so the tile loop runs more than once.
std::unique_ptr<Model> make_mlp_model() {
  MlpConfig config;
  config.hidden = {6};
  config.tile = 16;
  return std::make_unique<MlpRegression>(regression_data(), config);
}

enum class StepRule { fixed, shared, per_chain };

const char* step_rule_name(StepRule rule) {
  switch (rule) {
    case StepRule::fixed:
      return "fixed step";
    case StepRule::shared:
      return "shared adaptation";
    case StepRule::per_chain:
      return "per-chain adaptation";
  }
  return "unknown";
}

RunSettings make_settings(SamplerKind kind, StepRule rule, int chains, int threads) {
  RunSettings settings;
  settings.options.kind = kind;
  settings.chains = chains;
  settings.warmup = 30;
  settings.draws = 15;
  settings.thin = 2;
  settings.seed = 20240607;
  settings.threads = threads;
  settings.backend = Backend::cpu;
  if (rule == StepRule::fixed) {
    settings.step_size = Real(0.2);
  }
  settings.adapt_per_chain = rule == StepRule::per_chain;
  return settings;
}

// Bitwise equality, so -0.0 against 0.0 or a changed NaN payload also counts as a difference.
bool same_bits(Real a, Real b) { return std::memcmp(&a, &b, sizeof(Real)) == 0; }

// Compares the first `chains` chains of two runs of the same model: every kept draw, its
// log-density and per-draw statistics, and the final step size. Reports the first difference.
void expect_same_chains(const SamplerRun& expected, const SamplerRun& actual, int chains) {
  ASSERT_GE(expected.draws.chains, chains);
  ASSERT_GE(actual.draws.chains, chains);
  ASSERT_EQ(expected.draws.draws, actual.draws.draws);
  ASSERT_EQ(expected.draws.dim, actual.draws.dim);
  ASSERT_TRUE(expected.draws.has_statistics());
  ASSERT_TRUE(actual.draws.has_statistics());
  const int draws = expected.draws.draws;
  const int dim = expected.draws.dim;
  for (int c = 0; c < chains; ++c) {
    for (int s = 0; s < draws; ++s) {
      const Real* x = expected.draws.at(c, s);
      const Real* y = actual.draws.at(c, s);
      for (int i = 0; i < dim; ++i) {
        ASSERT_TRUE(same_bits(x[i], y[i]))
            << "chain " << c << " draw " << s << " coordinate " << i << ": " << x[i] << " vs "
            << y[i];
      }
      const size_t cell = static_cast<size_t>(c) * draws + s;
      ASSERT_TRUE(same_bits(expected.draws.log_density[cell],
                            actual.draws.log_density[cell]))
          << "log-density of chain " << c << " draw " << s;
      ASSERT_TRUE(same_bits(expected.draws.accept_prob[cell],
                            actual.draws.accept_prob[cell]))
          << "acceptance probability of chain " << c << " draw " << s;
      ASSERT_TRUE(same_bits(expected.draws.step_size[cell],
                            actual.draws.step_size[cell]))
          << "step size of chain " << c << " draw " << s;
      ASSERT_EQ(expected.draws.accepted[cell], actual.draws.accepted[cell])
          << "accepted count of chain " << c << " draw " << s;
    }
    ASSERT_TRUE(same_bits(expected.step_size[static_cast<size_t>(c)],
                          actual.step_size[static_cast<size_t>(c)]))
        << "final step size of chain " << c;
  }
}

// Expects two runs with the same chain count to agree in every chain and every run total.
void expect_same_run(const SamplerRun& expected, const SamplerRun& actual) {
  ASSERT_EQ(expected.draws.chains, actual.draws.chains);
  expect_same_chains(expected, actual, expected.draws.chains);
  if (::testing::Test::HasFatalFailure()) {
    return;
  }
  EXPECT_TRUE(same_bits(expected.acceptance_rate, actual.acceptance_rate));
  EXPECT_TRUE(same_bits(expected.accept_prob, actual.accept_prob));
  EXPECT_EQ(expected.nonfinite_rejections, actual.nonfinite_rejections);
  EXPECT_EQ(expected.curvature_floor_hits, actual.curvature_floor_hits);
  EXPECT_EQ(expected.evaluations, actual.evaluations);
}

// Runs `kind` on `model` with 1, 2 and 4 threads for each step rule. 13 chains split unevenly
// over 2 and 4 threads.
void check_thread_counts(const Model& model, SamplerKind kind) {
  constexpr int kChains = 13;
  for (const StepRule rule : {StepRule::fixed, StepRule::shared, StepRule::per_chain}) {
    SCOPED_TRACE(step_rule_name(rule));
    const SamplerRun one = run_sampler(model, make_settings(kind, rule, kChains, 1));
    for (const int threads : {2, 4}) {
      SCOPED_TRACE(std::to_string(threads) + " threads");
      const SamplerRun many = run_sampler(model, make_settings(kind, rule, kChains, threads));
      expect_same_run(one, many);
    }
  }
}

// Runs `kind` on `model` with 4 and with 1,024 chains, and expects chains 0 to 3 to agree.
void check_chain_counts(const Model& model, SamplerKind kind) {
  constexpr int kFewChains = 4;
  constexpr int kManyChains = 1024;
  for (const StepRule rule : {StepRule::fixed, StepRule::per_chain}) {
    SCOPED_TRACE(step_rule_name(rule));
    const SamplerRun few = run_sampler(model, make_settings(kind, rule, kFewChains, 2));
    const SamplerRun many = run_sampler(model, make_settings(kind, rule, kManyChains, 2));
    ASSERT_EQ(many.draws.chains, kManyChains);
    expect_same_chains(few, many, kFewChains);
  }
}

TEST(Reproducibility, FunnelSameForOneTwoFourThreads) {
  const auto model = make_funnel_model(11);
  for (const SamplerKind kind : kAllSamplers) {
    SCOPED_TRACE(std::string(sampler_name(kind)));
    check_thread_counts(*model, kind);
  }
}

TEST(Reproducibility, FunnelChainSameForFourOr1024Chains) {
  const auto model = make_funnel_model(11);
  for (const SamplerKind kind : kAllSamplers) {
    SCOPED_TRACE(std::string(sampler_name(kind)));
    check_chain_counts(*model, kind);
  }
}

TEST(Reproducibility, MlpSameForOneTwoFourThreads) {
  const auto model = make_mlp_model();
  for (const SamplerKind kind : {SamplerKind::mala, SamplerKind::fmala, SamplerKind::pc_line_fmala}) {
    SCOPED_TRACE(std::string(sampler_name(kind)));
    check_thread_counts(*model, kind);
  }
}

TEST(Reproducibility, MlpChainSameForFourOr1024Chains) {
  const auto model = make_mlp_model();
  for (const SamplerKind kind : {SamplerKind::mala, SamplerKind::fmala, SamplerKind::pc_line_fmala}) {
    SCOPED_TRACE(std::string(sampler_name(kind)));
    check_chain_counts(*model, kind);
  }
}

// The chain-count check can fail: shared adaptation averages over all chains, so chain 0's
// step size and draws change between 4 and 1,024 chains.
TEST(Reproducibility, SharedAdaptationDependsOnChainCount) {
  const auto model = make_funnel_model(11);
  const SamplerRun few =
      run_sampler(*model, make_settings(SamplerKind::fmala, StepRule::shared, 4, 2));
  const SamplerRun many =
      run_sampler(*model, make_settings(SamplerKind::fmala, StepRule::shared, 1024, 2));
  EXPECT_FALSE(same_bits(few.step_size[0], many.step_size[0]));
}

}  // namespace
}  // namespace fmala

namespace fmala {
namespace {

// Uncached MALA evaluates the gradient at the current state again: twice the
// evaluations, and the same draws as the cached form.
TEST(UncachedMala, SameDrawsAsCachedWithTwiceTheEvaluations) {
  const auto model = make_funnel_model(7);
  RunSettings s;
  s.options.kind = SamplerKind::mala;
  s.chains = 16;
  s.warmup = 80;
  s.draws = 60;
  s.adapt_per_chain = true;
  s.threads = 2;
  const SamplerRun cached = run_sampler(*model, s);
  s.options.uncached = true;
  const SamplerRun uncached = run_sampler(*model, s);
  EXPECT_EQ(uncached.draws.values, cached.draws.values);
  EXPECT_EQ(uncached.draws.log_density, cached.draws.log_density);
  EXPECT_EQ(uncached.step_size, cached.step_size);
  EXPECT_EQ(uncached.evaluations, 2 * cached.evaluations);
  s.options.kind = SamplerKind::fmala;
  EXPECT_THROW(run_sampler(*model, s), Error);
}

}  // namespace
}  // namespace fmala
