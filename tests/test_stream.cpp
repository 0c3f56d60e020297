// Streaming runs: the running statistics agree with those of the stored
// draws, the monitored traces are the stored draws' columns, the summary and
// metrics match the full run's, and a streaming run resumes bit-identically.

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "fmala/core/error.hpp"
#include "fmala/diagnostics/diagnostics.hpp"
#include "fmala/io/checkpoint.hpp"
#include "fmala/io/regression_data.hpp"
#include "fmala/model/mlp.hpp"
#include "fmala/random/philox.hpp"
#include "fmala/run.hpp"
#include "fmala/summary.hpp"
#include "fmala/targets/builtin.hpp"

namespace fmala {
namespace {

RunSettings funnel_settings() {
  RunSettings s;
  s.options.kind = SamplerKind::pc_line_fmala;
  s.chains = 16;
  s.warmup = 100;
  s.draws = 120;
  s.thin = 2;
  s.seed = 21;
  s.adapt_per_chain = true;
  s.threads = 2;
  return s;
}

TEST(DrawStream, WelfordMatchesTwoPassStatistics) {
  DrawStream stream;
  StreamSettings settings;
  settings.keep_last = 3;
  stream.start(3, 2, settings);
  Stream normals(4, 0, 0, Draw::noise);
  std::vector<std::vector<double>> values(2);  // per coordinate, every chain and draw
  for (int s = 0; s < 7; ++s) {
    Draws one;
    one.chains = 3;
    one.draws = 1;
    one.dim = 2;
    for (int k = 0; k < 3; ++k) {
      for (int j = 0; j < 2; ++j) {
        const double x = 100.0 + (j + 1) * normals.normal();  // a large offset tests the stability
        one.values.push_back(x);
        values[static_cast<size_t>(j)].push_back(x);
      }
      one.log_density.push_back(-s - 0.5 * k);
    }
    stream.add(one);
  }
  for (int j = 0; j < 2; ++j) {
    const std::vector<double>& x = values[static_cast<size_t>(j)];
    double mean = 0.0;
    for (double v : x) {
      mean += v / x.size();
    }
    double squares = 0.0;
    for (double v : x) {
      squares += (v - mean) * (v - mean);
    }
    EXPECT_NEAR(stream.pooled_mean(j), mean, 1e-12 * std::abs(mean));
    EXPECT_NEAR(stream.pooled_sd(j), std::sqrt(squares / (x.size() - 1)), 1e-12);
  }
  // The ring keeps draws 4, 5 and 6 of each chain, oldest first.
  const Draws last = stream.last_in_order();
  ASSERT_EQ(last.draws, 3);
  for (int k = 0; k < 3; ++k) {
    for (int s = 0; s < 3; ++s) {
      EXPECT_EQ(last.log_density[static_cast<size_t>(k * 3 + s)], -(4 + s) - 0.5 * k);
    }
  }
}

TEST(DrawStream, NoKeptDrawsGiveEmptyLast) {
  DrawStream stream;
  StreamSettings settings;
  settings.keep_last = 0;
  stream.start(2, 3, settings);
  Draws one;
  one.chains = 2;
  one.draws = 1;
  one.dim = 3;
  one.values.assign(6, 1.0);
  one.log_density.assign(2, -1.0);
  stream.add(one);
  stream.add(one);
  const Draws last = stream.last_in_order();
  EXPECT_EQ(last.chains, 2);
  EXPECT_EQ(last.draws, 0);
  EXPECT_TRUE(last.values.empty());
}

TEST(StreamRun, TracesAndSummaryMatchTheFullRun) {
  const auto model = make_funnel_model(6);
  RunSettings full = funnel_settings();
  RunSettings streamed = full;
  streamed.stream.enabled = true;
  streamed.stream.monitor = {0, 5, 2};
  const SamplerRun a = run_sampler(*model, full);
  const SamplerRun b = run_sampler(*model, streamed);
  ASSERT_EQ(b.draws.dim, 3);
  EXPECT_EQ(b.stream.count, 120);
  EXPECT_EQ(a.draws.log_density, b.draws.log_density);
  EXPECT_EQ(a.draws.accept_prob, b.draws.accept_prob);
  for (int k = 0; k < 16; ++k) {
    for (int s = 0; s < 120; ++s) {
      for (int m = 0; m < 3; ++m) {
        ASSERT_EQ(b.draws.at(k, s)[m], a.draws.at(k, s)[streamed.stream.monitor[static_cast<size_t>(m)]]);
      }
    }
  }
  const SamplerSummary sa = summarize(a, *model);
  const SamplerSummary sb = summarize(b, *model);
  ASSERT_EQ(sa.parameters.size(), 6u);
  ASSERT_EQ(sb.parameters.size(), 6u);
  for (int j = 0; j < 6; ++j) {
    const ParameterSummary& p = sa.parameters[static_cast<size_t>(j)];
    const ParameterSummary& q = sb.parameters[static_cast<size_t>(j)];
    EXPECT_EQ(p.name, q.name);
    EXPECT_NEAR(q.mean, p.mean, 1e-12 * (1 + std::abs(p.mean)));
    EXPECT_NEAR(q.sd, p.sd, 1e-12 * p.sd);
    const bool monitored = j == 0 || j == 2 || j == 5;
    if (monitored) {
      EXPECT_EQ(q.rhat, p.rhat) << j;
      EXPECT_EQ(q.ess_bulk, p.ess_bulk) << j;
    } else {
      EXPECT_TRUE(std::isnan(q.rhat)) << j;
      EXPECT_TRUE(std::isnan(q.ess_bulk)) << j;
    }
  }
  EXPECT_EQ(sb.monitored, 4);  // the log-density and three coordinates
  // kl_v reads v, the first monitored column.
  EXPECT_EQ(sb.metrics.at("kl_v"), sa.metrics.at("kl_v"));
}

TEST(StreamRun, MetricsWithoutVFirstAreLeftOut) {
  const auto model = make_funnel_model(6);
  RunSettings s = funnel_settings();
  s.stream.enabled = true;
  s.stream.monitor = {1, 0};
  const SamplerRun run = run_sampler(*model, s);
  EXPECT_TRUE(summarize(run, *model).metrics.empty());
}

std::shared_ptr<io::RegressionData> small_data() {
  auto data = std::make_shared<io::RegressionData>();
  data->n_features = 2;
  Stream stream(9, 0, 0, Draw::noise);
  for (int i = 0; i < 30 * 2; ++i) {
    data->train_x.push_back(stream.normal());
  }
  for (int i = 0; i < 30; ++i) {
    data->train_y.push_back(data->train_x[2 * i] - 0.5 * data->train_x[2 * i + 1] + 0.2 * stream.normal());
  }
  data->test_x = std::vector<double>(data->train_x.begin(), data->train_x.begin() + 20);
  data->test_y = std::vector<double>(data->train_y.begin(), data->train_y.begin() + 10);
  data->x_mean.assign(2, 0.0);
  data->x_sd.assign(2, 1.0);
  return data;
}

TEST(StreamRun, RingMetricsMatchFullRun) {
  MlpConfig config;
  config.hidden = {4};
  config.predictive_draws_per_chain = 7;
  const MlpRegression model(small_data(), config);
  RunSettings full;
  full.options.kind = SamplerKind::mala;
  full.chains = 4;
  full.warmup = 50;
  full.draws = 30;
  full.threads = 1;
  RunSettings streamed = full;
  streamed.stream.enabled = true;
  streamed.stream.monitor = {0};
  streamed.stream.keep_last = 7;
  const SamplerRun a = run_sampler(model, full);
  const SamplerRun b = run_sampler(model, streamed);
  const Metrics ma = summarize(a, model).metrics;
  const Metrics mb = summarize(b, model).metrics;
  ASSERT_FALSE(ma.empty());
  for (const auto& [name, value] : ma) {
    EXPECT_EQ(mb.at(name), value) << name;
  }
}

TEST(StreamRun, ResumesBitIdentically) {
  const auto model = make_funnel_model(6);
  RunSettings s = funnel_settings();
  s.stream.enabled = true;
  s.stream.monitor = {0, 3};
  s.stream.keep_last = 9;
  const SamplerRun reference = run_sampler(*model, s);
  const std::string file =
      (std::filesystem::temp_directory_path() / "fmala-stream-resume.ckpt").string();
  RunControl stop;
  stop.save = [&file](const RunCheckpoint& c) { io::write_checkpoint(file, c); };
  stop.stop_requested = [polls = 0]() mutable { return ++polls == 177; };
  EXPECT_THROW(run_sampler(*model, s, {}, stop), RunStopped);
  RunCheckpoint checkpoint = io::read_checkpoint(file, s, model->dim());
  std::filesystem::remove(file);
  RunControl resume;
  resume.resume = &checkpoint;
  const SamplerRun resumed = run_sampler(*model, s, {}, resume);
  EXPECT_EQ(resumed.draws.values, reference.draws.values);
  EXPECT_EQ(resumed.draws.log_density, reference.draws.log_density);
  EXPECT_EQ(resumed.stream.count, reference.stream.count);
  EXPECT_EQ(resumed.stream.mean, reference.stream.mean);
  EXPECT_EQ(resumed.stream.m2, reference.stream.m2);
  EXPECT_EQ(resumed.stream.last.values, reference.stream.last.values);
  EXPECT_EQ(resumed.step_size, reference.step_size);
}

TEST(StreamRun, BadMonitorListsAreErrors) {
  const auto model = make_funnel_model(6);
  RunSettings s = funnel_settings();
  s.stream.enabled = true;
  s.stream.monitor = {};
  EXPECT_THROW(run_sampler(*model, s), Error);
  s.stream.monitor = {6};
  EXPECT_THROW(run_sampler(*model, s), Error);
  s.stream.monitor = {1, 1};
  EXPECT_THROW(run_sampler(*model, s), Error);
  s.stream.monitor = {1};
  s.stream.keep_last = 121;
  EXPECT_THROW(run_sampler(*model, s), Error);
}

}  // namespace
}  // namespace fmala
