// Chain-steps per second of every sampler on the funnel, the AR(1) Gaussian
// and the three network models, CPU back end. Each iteration times sampling
// runs with a fixed step size (no adaptation) and keeps the time of the
// transitions and the copy of their kept draws (see run_steps); diagnostics
// are not included. The analytic targets keep every 10th transition: at
// 16,384 chains × 1,001 parameters, 20 kept draws would be 2.6 GB to write.
// The runs use several OpenMP threads, so the times are wall-clock.
//
// Counters: chain_steps_per_s; evals_per_s, the log-density evaluations (jets
// or gradients, all chains) per second; bytes_per_chain, the engine's
// per-chain buffers (the model's own scratch is not counted); dim.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <vector>

#include "fmala/backend/buffer_layout.hpp"
#include "fmala/io/random_images.hpp"
#include "fmala/io/regression_data.hpp"
#include "fmala/model/logreg.hpp"
#include "fmala/model/mlp.hpp"
#include "fmala/model/network.hpp"
#include "fmala/random/philox.hpp"
#include "fmala/run.hpp"
#include "fmala/targets/builtin.hpp"

namespace {

using fmala::SamplerKind;

// Times the transitions alone: each iteration runs the sampler for
// draws × thin transitions and again for twice as many, and reports the
// difference, so the start of a run (initial states, and the first gradient
// or jet, which differ between samplers) cancels.
void run_steps(benchmark::State& state, const fmala::Model& model, SamplerKind kind, int draws,
               int thin, double step_size, bool persistent = false) {
  fmala::RunSettings s;
  s.options.kind = kind;
  s.options.persistent = persistent;
  s.chains = static_cast<int>(state.range(0));
  s.warmup = 0;
  s.thin = thin;
  s.step_size = step_size;
  int64_t evaluations = 0;
  for (auto _ : state) {
    double seconds[2] = {};
    int64_t counts[2] = {};
    for (int twice = 0; twice < 2; ++twice) {
      s.draws = draws * (twice + 1);
      const auto start = std::chrono::steady_clock::now();
      fmala::SamplerRun run = fmala::run_sampler(model, s);
      benchmark::DoNotOptimize(run.draws.values.data());
      seconds[twice] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      counts[twice] = run.evaluations;
    }
    state.SetIterationTime(std::max(seconds[1] - seconds[0], 1e-9));
    evaluations = counts[1] - counts[0];
  }
  const double chain_steps = static_cast<double>(s.chains) * draws * thin;
  state.counters["chain_steps_per_s"] =
      benchmark::Counter(chain_steps, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["evals_per_s"] = benchmark::Counter(
      static_cast<double>(evaluations) * s.chains, benchmark::Counter::kIsIterationInvariantRate);
  const double per_chain_values =
      static_cast<double>(fmala::matrix_buffer_count(s.options)) * model.dim() +
      fmala::kScalarBuffers;
  state.counters["bytes_per_chain"] =
      per_chain_values * sizeof(fmala::Real) + fmala::kCounterBuffers * sizeof(int64_t);
  state.counters["dim"] = model.dim();
}

// ---- analytic targets ----------------------------------------------------------------------

template <SamplerKind Kind>
void BM_Funnel(benchmark::State& state) {
  const auto model = fmala::make_funnel_model(static_cast<int>(state.range(1)));
  run_steps(state, *model, Kind, 2, 10, 0.1);
}

template <SamplerKind Kind>
void BM_Ar1(benchmark::State& state) {
  const auto model = fmala::make_gaussian_model(static_cast<int>(state.range(1)), 0.9);
  run_steps(state, *model, Kind, 2, 10, 0.1);
}

// chains × D: 1 to 16,384 chains at D = 11, 101 and 1001.
void funnel_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"chains", "dim"});
  for (int dim : {11, 101, 1001}) {
    for (int chains : {1, 64, 1024, 4096, 16384}) {
      b->Args({chains, dim});
    }
  }
  b->Unit(benchmark::kMillisecond)->UseManualTime();
}

void ar1_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"chains", "dim"})->ArgsProduct({{1024}, {100, 1000}});
  b->Unit(benchmark::kMillisecond)->UseManualTime();
}

// ---- networks on synthetic data of the paper's shapes ----------------------------------------

// The paper's regression MLP, 1-100-100-100-100-100-1 relu (40,701 parameters,
// likelihood sd 0.025, prior N(0, 0.1²), log posterior divided by N), on N
// rows of y = sin(3x) + noise.
std::unique_ptr<fmala::Model> make_paper_mlp(size_t rows) {
  auto data = std::make_shared<fmala::io::RegressionData>();
  data->n_features = 1;
  fmala::Stream stream(7, 0, 0, fmala::Draw::noise);
  for (size_t n = 0; n < rows; ++n) {
    const double x = stream.normal();
    data->train_x.push_back(x);
    data->train_y.push_back(std::sin(3 * x) + 0.1 * stream.normal());
  }
  data->x_mean = {0.0};
  data->x_sd = {1.0};
  fmala::MlpConfig config;
  config.hidden = {100, 100, 100, 100, 100};
  config.learn_noise = false;
  config.noise_sd = 0.025;
  config.prior_sd = 0.1;
  config.temper = true;
  return std::make_unique<fmala::MlpRegression>(data, config);
}

std::shared_ptr<const fmala::io::ClassificationData> random_mnist(size_t rows) {
  return std::make_shared<fmala::io::ClassificationData>(
      fmala::io::random_images(28, 28, 1, 10, rows, 0, 1));
}

// Persistent: FMALA with --persistent, one jet per transition.
template <SamplerKind Kind, bool Persistent = false>
void BM_Mlp(benchmark::State& state) {
  const auto model = make_paper_mlp(static_cast<size_t>(state.range(1)));
  run_steps(state, *model, Kind, 5, 1, 1e-3, Persistent);
}

// Logistic regression on N random 28×28 images, 10 classes (7,850 parameters).
template <SamplerKind Kind, bool Persistent = false>
void BM_Logreg(benchmark::State& state) {
  const fmala::LogisticRegression model(random_mnist(static_cast<size_t>(state.range(1))),
                                        fmala::LogisticRegressionConfig{});
  run_steps(state, model, Kind, 5, 1, 1e-3, Persistent);
}

// The MNIST-size CNN (824,458 parameters) on N random 28×28 images.
template <SamplerKind Kind, bool Persistent = false>
void BM_Cnn(benchmark::State& state) {
  fmala::NetworkConfig config;
  config.layers = fmala::network_preset("paper-mnist-cnn");
  const fmala::NetworkClassifier model(random_mnist(static_cast<size_t>(state.range(1))), config);
  run_steps(state, model, Kind, 2, 1, 1e-3, Persistent);
}

#define FMALA_BENCH_ALL(bench, ...)                                             \
  BENCHMARK_TEMPLATE(bench, SamplerKind::rwmh)->__VA_ARGS__;                    \
  BENCHMARK_TEMPLATE(bench, SamplerKind::mala)->__VA_ARGS__;                    \
  BENCHMARK_TEMPLATE(bench, SamplerKind::fmala)->__VA_ARGS__;                   \
  BENCHMARK_TEMPLATE(bench, SamplerKind::line_fmala)->__VA_ARGS__;              \
  BENCHMARK_TEMPLATE(bench, SamplerKind::pc_fmala)->__VA_ARGS__;                \
  BENCHMARK_TEMPLATE(bench, SamplerKind::pc_line_fmala)->__VA_ARGS__;           \
  BENCHMARK_TEMPLATE(bench, SamplerKind::line_hmc)->__VA_ARGS__

FMALA_BENCH_ALL(BM_Funnel, Apply(funnel_args));
FMALA_BENCH_ALL(BM_Ar1, Apply(ar1_args));
// The networks also run FMALA with --persistent (one jet per transition).
#define FMALA_BENCH_NETWORK(bench, ...)                                         \
  FMALA_BENCH_ALL(bench, __VA_ARGS__);                                          \
  BENCHMARK_TEMPLATE(bench, SamplerKind::fmala, true)->__VA_ARGS__

FMALA_BENCH_NETWORK(BM_Mlp, ArgNames({"chains", "rows"})
                                ->ArgsProduct({{64}, {100, 300, 1000, 3000}})
                                ->Unit(benchmark::kMillisecond)
                                ->UseManualTime());
FMALA_BENCH_NETWORK(BM_Logreg, ArgNames({"chains", "rows"})
                                   ->ArgsProduct({{16}, {1000}})
                                   ->Unit(benchmark::kMillisecond)
                                   ->UseManualTime());
FMALA_BENCH_NETWORK(BM_Cnn, ArgNames({"chains", "rows"})
                                ->ArgsProduct({{4}, {64}})
                                ->Unit(benchmark::kMillisecond)
                                ->UseManualTime());

}  // namespace

BENCHMARK_MAIN();
