// Edge cases of the run loop and the samplers, with exact expected values.
// The run loop: the reported acceptance probability and which transitions are
// kept. The samplers: rejection of proposals whose log-density overflows,
// MALA's acceptance ratio, double sums of likelihoods over float32 data,
// non-finite initial states and the summary of a one-chain run.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <numbers>
#include <string>
#include <unistd.h>
#include <vector>

#include "half_normal.hpp"
#include "fmala/backend/buffer_layout.hpp"
#include "fmala/backend/draw_record.hpp"
#include "fmala/backend/driver.hpp"
#include "fmala/core/error.hpp"
#include "fmala/io/classification_data.hpp"
#include "fmala/io/npy.hpp"
#include "fmala/model/logreg.hpp"
#include "fmala/run.hpp"
#include "fmala/samplers/phases.hpp"
#include "fmala/summary.hpp"
#include "fmala/targets/builtin.hpp"
#include "fmala/targets/evaluate.hpp"
#include "fmala/targets/functor_model.hpp"
#include "fmala/targets/gaussian.hpp"
#include "one_chain.hpp"

namespace {

using fmala::Real;
using fmala::SamplerKind;
using fmala::testing::HalfNormalTarget;

constexpr SamplerKind kAllSamplers[] = {
    SamplerKind::rwmh,     SamplerKind::mala,          SamplerKind::fmala,    SamplerKind::line_fmala,
    SamplerKind::pc_fmala, SamplerKind::pc_line_fmala, SamplerKind::line_hmc,
};

// ---- A fake engine for the run loop ---------------------------------------------------------

// An engine whose transition t has log α = +2 for even t and -1 for odd t on every chain.
// Its buffers are laid out as the real engines lay out theirs, and the real phase_accept
// accepts or rejects and adds min(1, α) to accept_prob_sum. Its state θ is the index of the
// last accepted transition, and it records which transitions the run loop keeps.
class AlternatingEngine {
 public:
  explicit AlternatingEngine(int chains) : chains_(chains) {
    options_.kind = SamplerKind::rwmh;
    const size_t c = static_cast<size_t>(chains);
    matrices_.assign(c * static_cast<size_t>(fmala::matrix_buffer_count(options_)), Real(0));
    scalars_.assign(c * fmala::kScalarBuffers, Real(0));
    counts_.assign(c * fmala::kCounterBuffers, 0);
    fmala::lay_out_buffers(b_, options_, chains, 1, matrices_.data(), scalars_.data(),
                           counts_.data());
  }

  void initialize(const std::vector<Real>& theta0) {
    std::copy(theta0.begin(), theta0.end(), b_.theta);
  }
  void set_step_size(Real eta) { std::fill(b_.step_size, b_.step_size + chains_, eta); }
  void start_chain_adaptation(Real /*eta0*/) {}
  void finish_chain_adaptation() {}

  void step(const fmala::StepContext& ctx, bool adapting) {
    last_step_ = ctx.step;
    stepped_.push_back(ctx.step);
    for (int k = 0; k < chains_; ++k) {
      // RWMH's log α is f(θ*) - f(θ), so f = 0 and f(θ*) = log α.
      b_.f[k] = Real(0);
      b_.f_prop[k] = ctx.step % 2 == 0 ? Real(2) : Real(-1);
      b_.theta_prop[k] = static_cast<Real>(ctx.step);
      fmala::phase_accept(b_, ctx, k, adapting);
    }
  }

  Real mean_accept_prob() const {
    double sum = 0.0;
    for (int k = 0; k < chains_; ++k) {
      sum += b_.accept_prob[k];
    }
    return static_cast<Real>(sum / chains_);
  }

  bool host_values() const { return true; }
  // Writes the index of the transition just made as every chain's draw.
  void record(fmala::Draws& out, int index) {
    recorded_.push_back(last_step_);
    for (int k = 0; k < chains_; ++k) {
      const size_t slot = static_cast<size_t>(k) * out.draws + index;
      out.values[slot] = static_cast<Real>(last_step_);
      out.log_density[slot] = b_.f[k];
    }
  }

  fmala::EngineCounters counters() const {
    return fmala::counters_from(chains_, b_.n_accepted, b_.accept_prob_sum, b_.step_size, b_.accept_prob);
  }

  fmala::EngineState save_state() const { return {}; }
  void restore_state(const fmala::EngineState& /*state*/) {}

  const std::vector<int64_t>& stepped() const { return stepped_; }
  const std::vector<int64_t>& recorded() const { return recorded_; }

 private:
  int chains_;
  fmala::SamplerOptions options_;
  std::vector<Real> matrices_;
  std::vector<Real> scalars_;
  std::vector<int64_t> counts_;
  fmala::ChainBuffers b_;
  int64_t last_step_ = -1;
  std::vector<int64_t> stepped_;
  std::vector<int64_t> recorded_;
};

fmala::RunSettings fixed_step_settings(int chains, int warmup, int draws, int thin) {
  fmala::RunSettings settings;
  settings.options.kind = SamplerKind::rwmh;
  settings.chains = chains;
  settings.warmup = warmup;
  settings.draws = draws;
  settings.thin = thin;
  settings.seed = 11;
  settings.step_size = Real(0.5);
  return settings;
}

TEST(Drive, AcceptProbAveragesMinOneAlpha) {
  // After warmup the transitions alternate log α = +2 and -1, so the mean of min(1, α) is
  // (1 + e^-1) / 2 = 0.683939720585721. The mean of α itself would be (e^2 + e^-1) / 2.
  constexpr int kChains = 3;
  const auto model = fmala::make_gaussian_model(1, 0);
  for (const int warmup : {10, 7, 0}) {
    SCOPED_TRACE("warmup " + std::to_string(warmup));
    AlternatingEngine engine(kChains);
    const fmala::RunSettings settings = fixed_step_settings(kChains, warmup, 50, 2);
    const std::vector<Real> theta0(kChains, Real(0));
    const fmala::SamplerRun run = fmala::drive(engine, *model, settings, theta0, {});

    const double expected = (1.0 + std::exp(-1.0)) / 2.0;
    EXPECT_NEAR(run.accept_prob, expected, 1e-12);
    EXPECT_LE(run.accept_prob, 1.0);
    // Every proposal with log α = +2 is accepted, and they are half of all proposals.
    EXPECT_GE(run.acceptance_rate, 0.5);
    EXPECT_LE(run.acceptance_rate, 1.0);
    EXPECT_EQ(run.nonfinite_rejections, 0);
  }
}

TEST(Drive, KeepsEveryThinthTransitionAfterWarmup) {
  // With 0-based transition indices, the k-th kept draw (k = 1..draws) is the state after
  // transition warmup + k * thin - 1, and the run makes warmup + draws * thin transitions.
  struct Case {
    int warmup;
    int draws;
    int thin;
    std::vector<int64_t> kept;
  };
  const Case cases[] = {
      {10, 5, 5, {14, 19, 24, 29, 34}},
      {10, 10, 3, {12, 15, 18, 21, 24, 27, 30, 33, 36, 39}},
      {0, 4, 2, {1, 3, 5, 7}},
      {3, 4, 1, {3, 4, 5, 6}},
  };
  constexpr int kChains = 2;
  const auto model = fmala::make_gaussian_model(1, 0);
  for (const Case& c : cases) {
    SCOPED_TRACE("warmup " + std::to_string(c.warmup) + ", draws " + std::to_string(c.draws) +
                 ", thin " + std::to_string(c.thin));
    AlternatingEngine engine(kChains);
    const fmala::RunSettings settings = fixed_step_settings(kChains, c.warmup, c.draws, c.thin);
    const std::vector<Real> theta0(kChains, Real(0));
    const fmala::SamplerRun run = fmala::drive(engine, *model, settings, theta0, {});

    const int64_t transitions = static_cast<int64_t>(c.warmup) + c.draws * c.thin;
    ASSERT_EQ(static_cast<int64_t>(engine.stepped().size()), transitions);
    EXPECT_EQ(engine.stepped().front(), 0);
    EXPECT_EQ(engine.stepped().back(), transitions - 1);
    EXPECT_EQ(engine.recorded(), c.kept);
    ASSERT_EQ(run.draws.draws, c.draws);
    ASSERT_EQ(run.draws.values.size(), static_cast<size_t>(kChains * c.draws));
    for (int k = 0; k < kChains; ++k) {
      for (int s = 0; s < c.draws; ++s) {
        EXPECT_EQ(run.draws.at(k, s)[0], static_cast<Real>(c.kept[static_cast<size_t>(s)]))
            << "chain " << k << ", draw " << s;
      }
    }
  }
}

// ---- Overflow inside the funnel ---------------------------------------------------------------

TEST(FunnelOverflow, ProposalWithOverflowIsCountedRejection) {
  // At v = -800 the funnel's precision exp(-v) overflows to +inf, so f is -inf (or NaN when
  // every x_i is 0). phase_accept must reject the proposal and count it.
  const auto model = fmala::make_funnel_model(3);
  fmala::testing::OneChain one(3);
  fmala::ChainBuffers& b = one.b;
  fmala::StepContext ctx;
  ctx.options.kind = SamplerKind::rwmh;
  const std::vector<Real> start = {0.5, 0.1, -0.2};
  std::copy(start.begin(), start.end(), b.theta);
  model->jet(1, b.theta, nullptr, 0, b.f, nullptr, nullptr);
  ASSERT_TRUE(std::isfinite(b.f[0]));
  b.theta_prop[0] = -800.0;
  b.theta_prop[1] = 1.0;
  b.theta_prop[2] = 1.0;
  model->jet(1, b.theta_prop, nullptr, 0, b.f_prop, nullptr, nullptr);
  ASSERT_FALSE(std::isfinite(b.f_prop[0])) << b.f_prop[0];

  fmala::phase_accept(b, ctx, 0, false);

  EXPECT_EQ(b.theta[0], 0.5);
  EXPECT_EQ(*b.n_accepted, 0);
  EXPECT_EQ(*b.n_nonfinite, 1);
  EXPECT_EQ(b.accept_prob[0], 0.0);
}

TEST(FunnelOverflow, HugeStepSizeKeepsDrawsFinite) {
  // With η = 1000, proposals reach |v| of hundreds or more, where exp(-v) overflows, or
  // their drift overflows on its own. Every such proposal must be a counted rejection, so
  // the chains keep finite states and log-densities.
  const auto model = fmala::make_funnel_model(11);
  for (const SamplerKind kind : kAllSamplers) {
    SCOPED_TRACE(std::string(fmala::sampler_name(kind)));
    fmala::RunSettings settings;
    settings.options.kind = kind;
    settings.chains = 32;
    settings.warmup = 0;
    settings.draws = 50;
    settings.seed = 3;
    settings.step_size = Real(1000);
    const fmala::SamplerRun run = fmala::run_sampler(*model, settings);

    EXPECT_GT(run.nonfinite_rejections, 0);
    size_t nonfinite_values = 0;
    for (const Real value : run.draws.values) {
      nonfinite_values += std::isfinite(value) ? 0 : 1;
    }
    EXPECT_EQ(nonfinite_values, 0u);
    size_t nonfinite_densities = 0;
    for (const Real value : run.draws.log_density) {
      nonfinite_densities += std::isfinite(value) ? 0 : 1;
    }
    EXPECT_EQ(nonfinite_densities, 0u);
    EXPECT_GE(run.accept_prob, 0.0);
    EXPECT_LE(run.accept_prob, 1.0);
  }
}

// ---- MALA's acceptance ratio ------------------------------------------------------------------

// log α of MALA's move x -> y on N(0, 1) in one dimension with proposal variance h = η².
// The noise is chosen so that the proposal lands on y.
Real mala_log_alpha(Real x, Real y, Real h) {
  const fmala::GaussianTarget target{1, nullptr, 0.0};
  fmala::testing::OneChain one(1);
  fmala::ChainBuffers& b = one.b;
  fmala::StepContext ctx;
  ctx.options.kind = SamplerKind::mala;
  b.step_size[0] = std::sqrt(h);
  b.theta[0] = x;
  Real unit = 0;
  b.f[0] = fmala::evaluate_gradient(target, 1, b.theta, b.grad, &unit);
  b.noise[0] = (y - x - 0.5 * h * b.grad[0]) / std::sqrt(h);
  fmala::build_proposal(b, ctx.options, 0);
  EXPECT_NEAR(b.theta_prop[0], y, 1e-14);
  b.f_prop[0] = fmala::evaluate_gradient(target, 1, b.theta_prop, b.grad_prop, &unit);
  return fmala::log_accept_ratio(b, ctx, 0);
}

TEST(MalaRatio, StandardNormalZeroToThree) {
  // f(x) = -x²/2, h = 1, x = 0 -> y = 3:
  //   f(y) - f(x) = -4.5
  //   forward mean 0 + (h/2)(-0) = 0,   log q(y|x) = -(3 - 0)² / 2 = -4.5
  //   reverse mean 3 + (h/2)(-3) = 1.5, log q(x|y) = -(0 - 1.5)² / 2 = -1.125
  //   log α = -4.5 - 1.125 + 4.5 = -1.125
  EXPECT_NEAR(mala_log_alpha(0.0, 3.0, 1.0), -1.125, 1e-14);
}

TEST(MalaRatio, StandardNormalOneToTwo) {
  // h = 0.5, x = 1 -> y = 2: f(y) - f(x) = -1.5, forward mean 0.75 with
  // log q(y|x) = -(1.25)² / 1 = -1.5625, reverse mean 1.5 with log q(x|y) = -(0.5)² / 1 = -0.25,
  // so log α = -1.5 - 0.25 + 1.5625 = -0.1875.
  EXPECT_NEAR(mala_log_alpha(1.0, 2.0, 0.5), -0.1875, 1e-14);
}

// ---- Likelihood sums over float32 data -------------------------------------------------------

// A directory removed with its contents when the object goes out of scope.
struct TemporaryDirectory {
  std::filesystem::path path;
  TemporaryDirectory() {
    path = std::filesystem::temp_directory_path() /
           ("fmala-edge-" + std::to_string(::getpid()));
    std::filesystem::create_directories(path);
  }
  ~TemporaryDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

TEST(Float32Data, LogisticLikelihoodSumsInDouble) {
  // 10^6 training rows of one feature x = 0.1 stored as float32 in train_x.npy, all labelled
  // 1 (so K = 2 classes). With W = (0, w) and b = (0, 0) the logits are (0, w x), and each row
  // adds log softmax_1 = w x - log(1 + e^{w x}) to f and x (1 - sigmoid(w x)) to ∂f/∂w.
  // The loader converts the float32 values to double, and the model sums the rows in
  // double accumulators. A float32 running sum of 10^6 copies of 0.1f would be off by about
  // 1%, so the 1e-4 band separates the two.
  constexpr size_t kRows = 1000000;
  TemporaryDirectory directory;
  const std::vector<float> x(kRows, 0.1f);
  const std::vector<float> y(kRows, 1.0f);
  fmala::io::write_npy((directory.path / "train_x.npy").string(), x.data(), {kRows, 1});
  fmala::io::write_npy((directory.path / "train_y.npy").string(), y.data(), {kRows});
  const auto data = std::make_shared<const fmala::io::ClassificationData>(
      fmala::io::load_classification_data(directory.path.string(), 0,
                                          fmala::io::Normalisation::none));
  ASSERT_EQ(data->n_train(), kRows);
  ASSERT_EQ(data->n_classes, 2);
  ASSERT_EQ(data->train_x[0], static_cast<double>(0.1f));

  fmala::LogisticRegressionConfig config;
  config.prior_sd = 1.0;
  const fmala::LogisticRegression model(data, config);
  ASSERT_EQ(model.dim(), 4);
  constexpr double kW = 1.5;
  const std::vector<Real> theta = {0.0, kW, 0.0, 0.0};  // W (1 x 2), then b (2)

  // The N(0, 1) prior on the 4 parameters: -2 log(2 pi) - w² / 2.
  const double log_prior = -2.0 * std::log(2.0 * std::numbers::pi) - 0.5 * kW * kW;
  const auto log_likelihood = [](double value) {
    return static_cast<double>(kRows) * (kW * value - std::log1p(std::exp(kW * value)));
  };
  const auto slope = [](double value) {
    return static_cast<double>(kRows) * value / (1.0 + std::exp(kW * value));
  };
  // References with x = 0.1 in double, and with the stored value float(0.1).
  const double exact_f = log_likelihood(0.1) + log_prior;
  const double exact_slope = slope(0.1) - kW;
  const double stored = static_cast<double>(0.1f);
  const double stored_f = log_likelihood(stored) + log_prior;
  const double stored_slope = slope(stored) - kW;

  Real f = 0;
  model.jet(1, theta.data(), nullptr, 0, &f, nullptr, nullptr);
  std::vector<Real> gradient(4);
  Real f_gradient = 0;
  model.gradient(1, theta.data(), &f_gradient, gradient.data());

  EXPECT_NEAR(f, exact_f, 1e-4 * std::abs(exact_f));
  EXPECT_NEAR(f_gradient, exact_f, 1e-4 * std::abs(exact_f));
  EXPECT_NEAR(gradient[1], exact_slope, 1e-4 * std::abs(exact_slope));
  // Summing 10^6 equal doubles one by one loses at most about N * 2^-53 = 1.1e-10 relative.
  EXPECT_NEAR(f, stored_f, 1e-9 * std::abs(stored_f));
  EXPECT_NEAR(f_gradient, stored_f, 1e-9 * std::abs(stored_f));
  EXPECT_NEAR(gradient[1], stored_slope, 1e-9 * std::abs(stored_slope));
}

// ---- Targets with a bounded support ------------------------------------------------------------

// The half-normal as a model whose chains start at x = 0.5, except `bad_chain`, which
// starts at x = -1 outside the support.
class HalfNormalModel : public fmala::FunctorModel<HalfNormalTarget> {
 public:
  explicit HalfNormalModel(int bad_chain)
      : FunctorModel(HalfNormalTarget{}, 1, "half-normal"), bad_chain_(bad_chain) {}

  void initial_state(uint64_t /*seed*/, int first_chain, int chains, Real* theta) const override {
    for (int k = 0; k < chains; ++k) {
      theta[k] = first_chain + k == bad_chain_ ? Real(-1) : Real(0.5);
    }
  }

 private:
  int bad_chain_;
};

TEST(InitialState, NonFiniteLogDensityNamesChain) {
  const HalfNormalModel model(2);
  for (const SamplerKind kind : kAllSamplers) {
    SCOPED_TRACE(std::string(fmala::sampler_name(kind)));
    fmala::RunSettings settings;
    settings.options.kind = kind;
    settings.chains = 4;
    settings.warmup = 5;
    settings.draws = 5;
    try {
      fmala::run_sampler(model, settings);
      ADD_FAILURE() << "run_sampler accepted a chain that starts at -inf";
    } catch (const fmala::Error& error) {
      const std::string message = error.what();
      EXPECT_NE(message.find("initial state"), std::string::npos) << message;
      EXPECT_NE(message.find("chain 2 "), std::string::npos) << message;
    }
  }
}

TEST(InitialState, PersistentTangentStartIsCheckedToo) {
  // --persistent evaluates a jet at the initial state instead of the value alone.
  const HalfNormalModel model(0);
  fmala::RunSettings settings;
  settings.options.kind = SamplerKind::fmala;
  settings.options.persistent = true;
  settings.chains = 3;
  settings.warmup = 5;
  settings.draws = 5;
  try {
    fmala::run_sampler(model, settings);
    ADD_FAILURE() << "run_sampler accepted a chain that starts at -inf";
  } catch (const fmala::Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("chain 0 "), std::string::npos) << message;
  }
}

// ---- Summary of a one-chain run -----------------------------------------------------------------

TEST(SamplerSummary, OneChainHasNaNRhatButKeepsEss) {
  // R-hat is undefined for one chain, so rhat_max is NaN rather than the maximum over the
  // other quantities. The ESS of one chain is defined, so its minima stay finite.
  const auto model = fmala::make_gaussian_model(3, 0);
  fmala::RunSettings settings;
  settings.options.kind = SamplerKind::mala;
  settings.chains = 1;
  settings.warmup = 200;
  settings.draws = 400;
  settings.seed = 9;
  const fmala::SamplerRun run = fmala::run_sampler(*model, settings);
  const fmala::SamplerSummary summary = fmala::summarize(run, *model);
  EXPECT_EQ(summary.monitored, 4);
  EXPECT_TRUE(std::isnan(summary.rhat_max)) << summary.rhat_max;
  EXPECT_TRUE(std::isfinite(summary.ess_bulk_min)) << summary.ess_bulk_min;
  EXPECT_GT(summary.ess_bulk_min, 0.0);
  EXPECT_TRUE(std::isfinite(summary.ess_tail_min)) << summary.ess_tail_min;
  for (const fmala::ParameterSummary& p : summary.parameters) {
    EXPECT_TRUE(std::isnan(p.rhat)) << p.name;
    EXPECT_TRUE(std::isfinite(p.ess_bulk)) << p.name;
  }

  // Two chains give every extreme a value.
  settings.chains = 2;
  const fmala::SamplerRun two = fmala::run_sampler(*model, settings);
  const fmala::SamplerSummary two_summary = fmala::summarize(two, *model);
  EXPECT_TRUE(std::isfinite(two_summary.rhat_max)) << two_summary.rhat_max;
  EXPECT_TRUE(std::isfinite(two_summary.ess_bulk_min)) << two_summary.ess_bulk_min;
}

}  // namespace
