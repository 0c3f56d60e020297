// A program outside the fmala tree that links the installed package and runs a
// user-written target: a 3-D Gaussian with sd 2 in every coordinate.

#include <cmath>
#include <cstdio>

#include "fmala/run.hpp"
#include "fmala/targets/functor_model.hpp"

struct WideGaussian {
  template <class X>
  FMALA_HD typename X::value_type log_density(const X& x) const {
    typename X::value_type sum = fmala::Real(0);
    for (int i = 0; i < 3; ++i) {
      sum += x[i] * x[i];
    }
    return fmala::Real(-0.125) * sum;
  }
};

int main() {
  fmala::FunctorModel<WideGaussian> model(WideGaussian{}, 3, "wide gaussian");
  fmala::RunSettings settings;
  settings.options.kind = fmala::SamplerKind::pc_line_fmala;
  settings.chains = 16;
  settings.warmup = 200;
  settings.draws = 200;
  const fmala::SamplerRun run = fmala::run_sampler(model, settings);
  double sum2 = 0.0;
  for (double x : run.draws.values) {
    sum2 += x * x;
  }
  const double variance = sum2 / static_cast<double>(run.draws.values.size());
  std::printf("acceptance %.3f, variance %.3f (expected 4)\n", run.acceptance_rate, variance);
  return std::isfinite(variance) && variance > 2.0 && variance < 8.0 ? 0 : 1;
}
