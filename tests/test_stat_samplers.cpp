// Statistical tests of every sampler: on 10-D Gaussians (iid, and AR(1) with
// ρ = 0.9) the posterior mean and variance of each coordinate lie within 5
// Monte Carlo standard errors of the truth (0 and 1).
//
// Tolerance: with the MCSE estimated from the draws (bulk ESS over 256
// chains), a correct sampler misses one check by more than 5 MCSE with
// probability about 6e-7; with 2 × 10 checks per run and 14 runs, the chance of
// a spurious failure stays below 2e-4. The variance is checked as the mean of
// x², whose true value is 1 because every coordinate has mean 0 and
// marginal variance 1. The seeds are fixed, so a passing run stays passing.

#include <gtest/gtest.h>

#include <cmath>
#include <ostream>
#include <string>
#include <vector>

#include "fmala/diagnostics/diagnostics.hpp"
#include "fmala/run.hpp"
#include "fmala/targets/builtin.hpp"

namespace {

using fmala::SamplerKind;

struct Case {
  SamplerKind kind;
  double rho;
};

// Readable parameter values in test listings (and so in ctest's test names).
void PrintTo(const Case& c, std::ostream* out) {
  *out << fmala::sampler_name(c.kind) << " rho " << c.rho;
}

std::string case_name(const testing::TestParamInfo<Case>& info) {
  std::string name(fmala::sampler_name(info.param.kind));
  for (char& c : name) {
    if (c == '-') {
      c = '_';
    }
  }
  return name + (info.param.rho == 0 ? "_iid" : "_ar1");
}

class GaussianMoments : public testing::TestWithParam<Case> {};

TEST_P(GaussianMoments, WithinFiveMcse) {
  const Case c = GetParam();
  const int dim = 10;
  const auto model = fmala::make_gaussian_model(dim, c.rho);
  fmala::RunSettings s;
  s.options.kind = c.kind;
  s.chains = 256;
  s.warmup = 1000;
  s.draws = 1000;
  // RWMH needs a few hundred steps per independent draw on the AR(1) target
  // (condition number about 19); thinning keeps R-hat meaningful.
  s.thin = 5;
  s.seed = 20261204;
  const fmala::SamplerRun run = fmala::run_sampler(*model, s);
  ASSERT_GT(run.acceptance_rate, 0.05) << "the adapted sampler barely moves";

  const fmala::Draws& d = run.draws;
  std::vector<double> x(static_cast<size_t>(d.chains) * d.draws);
  std::vector<double> x2(x.size());
  for (int j = 0; j < dim; ++j) {
    for (int ch = 0; ch < d.chains; ++ch) {
      for (int t = 0; t < d.draws; ++t) {
        const double v = d.at(ch, t)[j];
        x[static_cast<size_t>(ch) * d.draws + t] = v;
        x2[static_cast<size_t>(ch) * d.draws + t] = v * v;
      }
    }
    const fmala::diag::Summary m = fmala::diag::summarize(x.data(), d.chains, d.draws);
    const fmala::diag::Summary v = fmala::diag::summarize(x2.data(), d.chains, d.draws);
    ASSERT_TRUE(std::isfinite(m.mcse_mean));
    ASSERT_TRUE(std::isfinite(v.mcse_mean));
    EXPECT_LT(std::abs(m.mean - 0.0), 5 * m.mcse_mean)
        << "coordinate " << j << ": mean " << m.mean << ", mcse " << m.mcse_mean;
    EXPECT_LT(std::abs(v.mean - 1.0), 5 * v.mcse_mean)
        << "coordinate " << j << ": E[x^2] " << v.mean << ", mcse " << v.mcse_mean;
    // The MCSE is only trustworthy with at least about one effective draw per chain.
    EXPECT_GT(m.ess_bulk, d.chains) << "coordinate " << j << ": R-hat " << m.rhat;
  }
}

std::vector<Case> all_cases() {
  std::vector<Case> out;
  for (double rho : {0.0, 0.9}) {
    for (SamplerKind kind : fmala::kAllSamplers) {
      out.push_back({kind, rho});
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(AllSamplers, GaussianMoments, testing::ValuesIn(all_cases()), case_name);

// The options of the forward samplers and of Line-HMC are exact kernels too.
struct OptionCase {
  const char* name;
  SamplerKind kind;
  bool aligned;
  bool persistent;
  bool sqrt_dim;
  fmala::PcForm form;
  int leapfrog_steps;
  double jitter;
};

void PrintTo(const OptionCase& c, std::ostream* out) { *out << c.name; }

class GaussianMomentsOptions : public testing::TestWithParam<OptionCase> {};

std::string option_case_name(const testing::TestParamInfo<OptionCase>& param_info) {
  return param_info.param.name;
}

TEST_P(GaussianMomentsOptions, WithinFiveMcse) {
  const OptionCase c = GetParam();
  const int dim = 10;
  const auto model = fmala::make_gaussian_model(dim, 0.5);
  fmala::RunSettings s;
  s.options.kind = c.kind;
  s.options.aligned = c.aligned;
  s.options.persistent = c.persistent;
  s.options.sqrt_dim = c.sqrt_dim;
  s.options.pc_form = c.form;
  s.options.leapfrog_steps = c.leapfrog_steps;
  s.options.jitter = c.jitter;
  s.chains = 256;
  s.warmup = 1000;
  s.draws = 1000;
  s.seed = 7;
  const fmala::SamplerRun run = fmala::run_sampler(*model, s);
  const fmala::Draws& d = run.draws;
  std::vector<double> x(static_cast<size_t>(d.chains) * d.draws);
  std::vector<double> x2(x.size());
  for (int j = 0; j < dim; ++j) {
    for (size_t i = 0; i < x.size(); ++i) {
      x[i] = d.values[i * dim + j];
      x2[i] = x[i] * x[i];
    }
    const fmala::diag::Summary m = fmala::diag::summarize(x.data(), d.chains, d.draws);
    const fmala::diag::Summary v = fmala::diag::summarize(x2.data(), d.chains, d.draws);
    EXPECT_LT(std::abs(m.mean), 5 * m.mcse_mean) << c.name << " coordinate " << j;
    EXPECT_LT(std::abs(v.mean - 1.0), 5 * v.mcse_mean) << c.name << " coordinate " << j;
  }
}

INSTANTIATE_TEST_SUITE_P(
    ForwardOptions,
    GaussianMomentsOptions,
    testing::Values(
        OptionCase{"fmala_aligned", SamplerKind::fmala, true, false, false,
                   fmala::PcForm::paper, 8, 0.0},
        OptionCase{"fmala_persistent", SamplerKind::fmala, false, true, false,
                   fmala::PcForm::paper, 8, 0.0},
        OptionCase{"fmala_sqrt_dim", SamplerKind::fmala, false, false, true,
                   fmala::PcForm::paper, 8, 0.0},
        OptionCase{"pc_fmala_aligned", SamplerKind::pc_fmala, true, false, false,
                   fmala::PcForm::paper, 8, 0.0},
        OptionCase{"pc_fmala_persistent", SamplerKind::pc_fmala, false, true, false,
                   fmala::PcForm::paper, 8, 0.0},
        OptionCase{"pc_fmala_reference", SamplerKind::pc_fmala, false, false, false,
                   fmala::PcForm::reference, 8, 0.0},
        OptionCase{"line_fmala_sqrt_dim", SamplerKind::line_fmala, false, false, true,
                   fmala::PcForm::paper, 8, 0.0},
        OptionCase{"line_hmc_one_step", SamplerKind::line_hmc, false, false, false,
                   fmala::PcForm::paper, 1, 0.0},
        OptionCase{"line_hmc_jitter", SamplerKind::line_hmc, false, false, false,
                   fmala::PcForm::paper, 8, 0.5}),
    option_case_name);

// The funnel and the Rosenbrock banana run to the end with finite summaries.
TEST(HardTargets, FunnelAndRosenbrockFinish) {
  const auto funnel = fmala::make_funnel_model(11);
  const auto banana = fmala::make_rosenbrock_model();
  for (const fmala::Model* model : {funnel.get(), banana.get()}) {
    for (SamplerKind kind : fmala::kAllSamplers) {
      SCOPED_TRACE(model->description() + " " + std::string(fmala::sampler_name(kind)));
      fmala::RunSettings s;
      s.options.kind = kind;
      s.chains = 64;
      s.warmup = 300;
      s.draws = 300;
      const fmala::SamplerRun run = fmala::run_sampler(*model, s);
      EXPECT_TRUE(std::isfinite(run.acceptance_rate));
      EXPECT_GT(run.acceptance_rate, 0.0);
      for (double v : run.draws.values) {
        ASSERT_TRUE(std::isfinite(v));
      }
      const fmala::Metrics metrics = model->metrics(run.draws);
      for (const auto& [name, value] : metrics) {
        EXPECT_TRUE(std::isfinite(value)) << name;
      }
    }
  }
}

}  // namespace
