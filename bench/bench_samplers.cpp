// Chain-steps per second of every sampler on the funnel, the AR(1) Gaussian
// and the three network models, CPU back end. Each iteration times sampling
// runs with a fixed step size (no adaptation) and keeps the time of the
// transitions and the copy of their kept draws (see run_steps); diagnostics
// are not included. The analytic targets keep every 10th transition: at
// 16,384 chains × 1,001 parameters, 20 kept draws would be 2.6 GB to write.
// The runs use several OpenMP threads, so the times are wall-clock. Where a
// CUDA device is present, the *Cuda benchmarks run the funnel, the paper MLP
// and the MNIST-size CNN on it, and time the jet products against cuBLAS
// SGEMM.
//
// Counters: chain_steps_per_s; evals_per_s, the log-density evaluations (jets
// or gradients, all chains) per second; bytes_per_chain, the engine's
// per-chain buffers (the model's own scratch is not counted); dim.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fmala/backend/buffer_layout.hpp"
#include "fmala/backend/cuda.hpp"
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
               int thin, double step_size, bool persistent = false,
               fmala::Backend backend = fmala::Backend::cpu) {
  fmala::RunSettings s;
  s.backend = backend;
  s.options.kind = kind;
  s.options.persistent = persistent;
  s.chains = static_cast<int>(state.range(0));
  s.warmup = 0;
  s.thin = thin;
  s.step_size = step_size;
  int64_t evaluations = 0;
  size_t device_bytes = 0;
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
      device_bytes = run.peak_memory_bytes;
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
  if (backend == fmala::Backend::cuda) {
    // The engine's device buffers and the network evaluator's, all chains.
    state.counters["device_bytes"] = static_cast<double>(device_bytes);
  }
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
  run_steps(state, model, Kind, 4, 1, 1e-3, Persistent);
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
                                   ->ArgsProduct({{16}, {1000, 3000, 10000}})
                                   ->Unit(benchmark::kMillisecond)
                                   ->UseManualTime());
FMALA_BENCH_NETWORK(BM_Cnn, ArgNames({"chains", "rows"})
                                ->ArgsProduct({{4}, {32, 64, 128}})
                                ->Unit(benchmark::kMillisecond)
                                ->UseManualTime());

// ---- the CUDA back end, registered only where a device is present ----------------------------

void BM_FunnelCuda(benchmark::State& state, SamplerKind kind) {
  const auto model = fmala::make_funnel_model(static_cast<int>(state.range(1)));
  run_steps(state, *model, kind, 2, 10, 0.1, false, fmala::Backend::cuda);
}

void BM_MlpCuda(benchmark::State& state, SamplerKind kind, bool persistent) {
  const auto model = make_paper_mlp(static_cast<size_t>(state.range(1)));
  run_steps(state, *model, kind, 3, 1, 1e-3, persistent, fmala::Backend::cuda);
}

void BM_CnnCuda(benchmark::State& state, SamplerKind kind, bool persistent) {
  fmala::NetworkConfig config;
  config.layers = fmala::network_preset("paper-mnist-cnn");
  const fmala::NetworkClassifier model(random_mnist(static_cast<size_t>(state.range(1))), config);
  run_steps(state, model, kind, 1, 2, 1e-3, persistent, fmala::Backend::cuda);
}

// One hidden layer's jet products (three strided-batched DGEMMs) against a
// plain DGEMM and SGEMM of the stacked shape, per chain (3·rows, in) × (in,
// out); shapes of the paper MLP's hidden layers and the CNN's dense layer.
void BM_JetProductsCuda(benchmark::State& state) {
  const int chains = static_cast<int>(state.range(0));
  const int rows = static_cast<int>(state.range(1));
  const int in = static_cast<int>(state.range(2));
  const int out = static_cast<int>(state.range(3));
  fmala::cuda::ProductTiming t;
  for (auto _ : state) {
    t = fmala::cuda::time_layer_products(chains, rows, in, out, 20);
    state.SetIterationTime(t.jet_seconds);
  }
  state.counters["jet_flops_per_s"] = t.jet_flops / t.jet_seconds;
  state.counters["dgemm_flops_per_s"] = t.plain_flops / t.dgemm_seconds;
  state.counters["sgemm_flops_per_s"] = t.plain_flops / t.sgemm_seconds;
  state.counters["jet_over_sgemm"] = (t.jet_flops / t.jet_seconds) / (t.plain_flops / t.sgemm_seconds);
}

void register_cuda_benchmarks() {
  for (SamplerKind kind : fmala::kAllSamplers) {
    const std::string name = "BM_FunnelCuda<" + std::string(fmala::sampler_name(kind)) + ">";
    auto* b = benchmark::RegisterBenchmark(name.c_str(), BM_FunnelCuda, kind);
    b->ArgNames({"chains", "dim"});
    for (int dim : {11, 1001}) {
      for (int chains : {1024, 4096, 16384}) {
        b->Args({chains, dim});
      }
    }
    b->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(1);
  }
  for (SamplerKind kind : {SamplerKind::mala, SamplerKind::fmala, SamplerKind::line_fmala,
                           SamplerKind::pc_line_fmala}) {
    for (bool persistent : {false, true}) {
      if (persistent && kind != SamplerKind::fmala) {
        continue;
      }
      const std::string name = "BM_MlpCuda<" + std::string(fmala::sampler_name(kind)) +
                               (persistent ? ",persistent>" : ">");
      benchmark::RegisterBenchmark(name.c_str(), BM_MlpCuda, kind, persistent)
          ->ArgNames({"chains", "rows"})
          ->ArgsProduct({{1024, 4096}, {1000}})
          ->Unit(benchmark::kMillisecond)
          ->UseManualTime()
          ->Iterations(1);
    }
  }
  for (auto [kind, persistent] : {std::pair{SamplerKind::mala, false}, std::pair{SamplerKind::fmala, true},
                                  std::pair{SamplerKind::pc_line_fmala, false}}) {
    const std::string name = "BM_CnnCuda<" + std::string(fmala::sampler_name(kind)) +
                             (persistent ? ",persistent>" : ">");
    benchmark::RegisterBenchmark(name.c_str(), BM_CnnCuda, kind, persistent)
        ->ArgNames({"chains", "rows"})
        ->ArgsProduct({{256, 1024}, {256}})
        ->Unit(benchmark::kMillisecond)
        ->UseManualTime()
        ->Iterations(1);
  }
  benchmark::RegisterBenchmark("BM_JetProductsCuda", BM_JetProductsCuda)
      ->ArgNames({"chains", "rows", "in", "out"})
      ->Args({1024, 256, 100, 100})
      ->Args({4096, 256, 100, 100})
      ->Args({64, 256, 3136, 256})
      ->Unit(benchmark::kMillisecond)
      ->UseManualTime()
      ->Iterations(1);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  std::string reason;
  if (fmala::cuda::device_available(&reason)) {
    register_cuda_benchmarks();
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
