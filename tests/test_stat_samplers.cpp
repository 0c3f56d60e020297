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

#include <algorithm>
#include <cmath>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "fmala/diagnostics/diagnostics.hpp"
#include "fmala/run.hpp"
#include "fmala/ad/math.hpp"
#include "fmala/io/regression_data.hpp"
#include "fmala/model/mlp.hpp"
#include "fmala/random/philox.hpp"
#include "fmala/targets/builtin.hpp"
#include "fmala/targets/functor_model.hpp"

namespace {

using fmala::Real;
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

// Checks that every coordinate of the draws has mean 0 and E[x²] equal to
// `variance`, each within 5 MCSE.
void expect_centred_moments(const fmala::Draws& d, double variance, const char* name) {
  const int dim = d.dim;
  std::vector<double> x(static_cast<size_t>(d.chains) * d.draws);
  std::vector<double> x2(x.size());
  for (int j = 0; j < dim; ++j) {
    for (size_t i = 0; i < x.size(); ++i) {
      x[i] = d.values[i * dim + j];
      x2[i] = x[i] * x[i];
    }
    const fmala::diag::Summary m = fmala::diag::summarize(x.data(), d.chains, d.draws);
    const fmala::diag::Summary v = fmala::diag::summarize(x2.data(), d.chains, d.draws);
    EXPECT_LT(std::abs(m.mean), 5 * m.mcse_mean) << name << " coordinate " << j;
    EXPECT_LT(std::abs(v.mean - variance), 5 * v.mcse_mean)
        << name << " coordinate " << j << ": E[x^2] " << v.mean << ", mcse " << v.mcse_mean;
  }
}

// The options of the forward samplers and of Line-HMC are exact kernels too.
// On the AR(1) target the curvature uᵀ∇²f u differs between directions, so
// for plain pc-fmala, whose tangents at θ* are fresh, the curvature averaged
// over several tangents differs between θ and θ*. With --aligned and for
// pc-line-fmala the tangents are the same at both, so h* = h on a Gaussian;
// LogisticMoments below covers those.
struct OptionCase {
  const char* name;
  SamplerKind kind;
  bool aligned;
  bool persistent;
  bool sqrt_dim;
  fmala::PcForm form;
  int leapfrog_steps;
  double jitter;
  int curvature_tangents = 1;
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
  s.options.curvature_tangents = c.curvature_tangents;
  s.chains = 256;
  s.warmup = 1000;
  s.draws = 1000;
  s.seed = 7;
  const fmala::SamplerRun run = fmala::run_sampler(*model, s);
  expect_centred_moments(run.draws, 1.0, c.name);
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
                   fmala::PcForm::paper, 8, 0.5},
        OptionCase{"pc_fmala_curvature_tangents", SamplerKind::pc_fmala, false, false, false,
                   fmala::PcForm::paper, 8, 0.0, 4},
        OptionCase{"pc_fmala_aligned_curvature_tangents", SamplerKind::pc_fmala, true, false,
                   false, fmala::PcForm::paper, 8, 0.0, 4},
        OptionCase{"pc_fmala_persistent_curvature_tangents", SamplerKind::pc_fmala, false, true,
                   false, fmala::PcForm::paper, 8, 0.0, 3},
        OptionCase{"pc_line_fmala_curvature_tangents", SamplerKind::pc_line_fmala, false, false,
                   false, fmala::PcForm::paper, 8, 0.0, 4}),
    option_case_name);

// A product of D standard logistic distributions: log p = Σ −x_i − 2 softplus(−x_i),
// mean 0 and variance π²/3 per coordinate. Its curvature −2σ(x_i)σ(−x_i)
// depends on the state, so a PC sampler whose κ at θ and κ* at θ* enter the
// ratio wrongly leaves the target, where on a Gaussian (constant curvature)
// such an error only changes the acceptance rate.
struct LogisticProductTarget {
  int dim = 4;
  template <class X>
  typename X::value_type log_density(const X& x) const {
    using T = typename X::value_type;
    T sum = T(Real(0));
    for (int i = 0; i < dim; ++i) {
      sum += -x[i] - Real(2) * fmala::softplus(-x[i]);
    }
    return sum;
  }
};

struct CurvatureCase {
  const char* name;
  SamplerKind kind;
  bool aligned;
  bool persistent;
  int curvature_tangents;
};

void PrintTo(const CurvatureCase& c, std::ostream* out) { *out << c.name; }

class LogisticMoments : public testing::TestWithParam<CurvatureCase> {};

TEST_P(LogisticMoments, WithinFiveMcse) {
  const CurvatureCase c = GetParam();
  const LogisticProductTarget target;
  const fmala::FunctorModel<LogisticProductTarget> model(target, target.dim, "logistic product");
  fmala::RunSettings s;
  s.options.kind = c.kind;
  s.options.aligned = c.aligned;
  s.options.persistent = c.persistent;
  s.options.curvature_tangents = c.curvature_tangents;
  s.chains = 256;
  s.warmup = 1000;
  s.draws = 1000;
  s.seed = 11;
  const fmala::SamplerRun run = fmala::run_sampler(model, s);
  expect_centred_moments(run.draws, M_PI * M_PI / 3.0, c.name);
}

INSTANTIATE_TEST_SUITE_P(
    PreconditionedSamplers,
    LogisticMoments,
    testing::Values(CurvatureCase{"pc_fmala", SamplerKind::pc_fmala, false, false, 1},
                    CurvatureCase{"pc_line_fmala", SamplerKind::pc_line_fmala, false, false, 1},
                    CurvatureCase{"pc_fmala_curvature_tangents", SamplerKind::pc_fmala, false,
                                  false, 4},
                    CurvatureCase{"pc_fmala_aligned_curvature_tangents", SamplerKind::pc_fmala,
                                  true, false, 4},
                    CurvatureCase{"pc_fmala_persistent_curvature_tangents",
                                  SamplerKind::pc_fmala, false, true, 3},
                    CurvatureCase{"pc_line_fmala_curvature_tangents", SamplerKind::pc_line_fmala,
                                  false, false, 4}),
    [](const testing::TestParamInfo<CurvatureCase>& param_info) {
      return std::string(param_info.param.name);
    });

// Every sampler on a network model with a closed-form posterior: the MLP
// without hidden layers and with a fixed noise sd is Bayesian linear
// regression, θ = (w, b) ~ N(0, s² I), y | θ ~ N(Xw + b, σ² I), so the
// posterior is N(μ, Σ) with Σ = (AᵀA/σ² + I/s²)⁻¹, μ = Σ Aᵀy/σ² and A = [X 1].
// This runs the samplers through the network code that the BNNs use (jets
// and gradients, over four tiles of 8 rows, the last one partial). Checked: each coordinate's mean against μ and the mean
// of (θ_i − μ_i)² against Σ_ii, within 5 MCSE.
class LinearRegressionPosterior : public testing::TestWithParam<SamplerKind> {};

TEST_P(LinearRegressionPosterior, WithinFiveMcse) {
  constexpr int kRows = 30;
  constexpr int kFeatures = 2;
  constexpr int kDim = kFeatures + 1;
  auto data = std::make_shared<fmala::io::RegressionData>();
  data->n_features = kFeatures;
  fmala::Stream stream(99, 0, 0, fmala::Draw::noise);
  for (int n = 0; n < kRows; ++n) {
    const double x0 = stream.normal();
    const double x1 = stream.normal();
    data->train_x.push_back(x0);
    data->train_x.push_back(x1);
    data->train_y.push_back(0.8 * x0 - 0.5 * x1 + 0.3 + 0.7 * stream.normal());
  }
  data->x_mean.assign(kFeatures, 0.0);
  data->x_sd.assign(kFeatures, 1.0);
  fmala::MlpConfig config;
  config.hidden = {};
  config.learn_noise = false;
  config.noise_sd = 0.7;
  config.prior_sd = 1.3;
  config.tile = 8;
  const fmala::MlpRegression model(data, config);
  ASSERT_EQ(model.dim(), kDim);

  // Precision P = AᵀA/σ² + I/s² and b = Aᵀy/σ², then Σ = P⁻¹ by Gauss–Jordan.
  const double noise_var = 0.7 * 0.7;
  double precision[kDim][2 * kDim] = {};
  double rhs[kDim] = {};
  for (int n = 0; n < kRows; ++n) {
    const double a[kDim] = {data->train_x[2 * n], data->train_x[2 * n + 1], 1.0};
    for (int i = 0; i < kDim; ++i) {
      rhs[i] += a[i] * data->train_y[n] / noise_var;
      for (int j = 0; j < kDim; ++j) {
        precision[i][j] += a[i] * a[j] / noise_var;
      }
    }
  }
  for (int i = 0; i < kDim; ++i) {
    precision[i][i] += 1.0 / (1.3 * 1.3);
    precision[i][kDim + i] = 1.0;
  }
  for (int col = 0; col < kDim; ++col) {
    const double pivot = precision[col][col];
    for (int j = 0; j < 2 * kDim; ++j) {
      precision[col][j] /= pivot;
    }
    for (int row = 0; row < kDim; ++row) {
      if (row != col) {
        const double factor = precision[row][col];
        for (int j = 0; j < 2 * kDim; ++j) {
          precision[row][j] -= factor * precision[col][j];
        }
      }
    }
  }
  double mean[kDim] = {};
  for (int i = 0; i < kDim; ++i) {
    for (int j = 0; j < kDim; ++j) {
      mean[i] += precision[i][kDim + j] * rhs[j];
    }
  }

  fmala::RunSettings s;
  s.options.kind = GetParam();
  s.chains = 256;
  s.warmup = 1000;
  s.draws = 1000;
  s.seed = 5;
  const fmala::SamplerRun run = fmala::run_sampler(model, s);
  const fmala::Draws& d = run.draws;
  std::vector<double> x(static_cast<size_t>(d.chains) * d.draws);
  std::vector<double> sq(x.size());
  for (int j = 0; j < kDim; ++j) {
    for (size_t i = 0; i < x.size(); ++i) {
      x[i] = d.values[i * kDim + j];
      sq[i] = (x[i] - mean[j]) * (x[i] - mean[j]);
    }
    const fmala::diag::Summary m = fmala::diag::summarize(x.data(), d.chains, d.draws);
    const fmala::diag::Summary v = fmala::diag::summarize(sq.data(), d.chains, d.draws);
    const double variance = precision[j][kDim + j];
    EXPECT_LT(std::abs(m.mean - mean[j]), 5 * m.mcse_mean)
        << "coordinate " << j << ": mean " << m.mean << ", posterior " << mean[j];
    EXPECT_LT(std::abs(v.mean - variance), 5 * v.mcse_mean)
        << "coordinate " << j << ": variance " << v.mean << ", posterior " << variance;
  }
}

INSTANTIATE_TEST_SUITE_P(AllSamplers, LinearRegressionPosterior,
                         testing::ValuesIn(fmala::kAllSamplers),
                         [](const testing::TestParamInfo<SamplerKind>& param_info) {
                           std::string name(fmala::sampler_name(param_info.param));
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

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
