// Chain-steps per second of every sampler on the funnel and the Gaussian, CPU
// back end. Each iteration runs one short sampling run with a fixed step size
// (no adaptation), so the time is that of the transitions themselves plus the
// copy of kept draws; diagnostics are not included.

#include <benchmark/benchmark.h>

#include <memory>

#include "fmala/run.hpp"
#include "fmala/targets/builtin.hpp"

namespace {

void run_steps(benchmark::State& state, const fmala::Model& model, fmala::SamplerKind kind) {
  fmala::RunSettings s;
  s.options.kind = kind;
  s.chains = static_cast<int>(state.range(0));
  s.warmup = 0;
  s.draws = 20;
  s.thin = 1;
  s.step_size = 0.1;
  for (auto _ : state) {
    fmala::SamplerRun run = fmala::run_sampler(model, s);
    benchmark::DoNotOptimize(run.draws.values.data());
  }
  const double chain_steps = static_cast<double>(s.chains) * s.draws;
  state.counters["chain_steps_per_s"] =
      benchmark::Counter(chain_steps, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["dim"] = model.dim();
}

template <fmala::SamplerKind Kind>
void BM_Funnel(benchmark::State& state) {
  const auto model = fmala::make_funnel_model(static_cast<int>(state.range(1)));
  run_steps(state, *model, Kind);
}

using fmala::SamplerKind;
#define FMALA_FUNNEL_BENCH(kind)                                              \
  BENCHMARK_TEMPLATE(BM_Funnel, kind)                                         \
      ->ArgNames({"chains", "dim"})                                           \
      ->ArgsProduct({{64, 1024}, {11, 101, 1001}})                            \
      ->Unit(benchmark::kMillisecond)
FMALA_FUNNEL_BENCH(SamplerKind::rwmh);
FMALA_FUNNEL_BENCH(SamplerKind::mala);
FMALA_FUNNEL_BENCH(SamplerKind::fmala);
FMALA_FUNNEL_BENCH(SamplerKind::line_fmala);
FMALA_FUNNEL_BENCH(SamplerKind::pc_fmala);
FMALA_FUNNEL_BENCH(SamplerKind::pc_line_fmala);

}  // namespace

BENCHMARK_MAIN();
