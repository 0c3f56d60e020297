#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <numbers>
#include <numeric>
#include <tuple>
#include <utility>
#include <vector>

#include "fmala/core/error.hpp"
#include "fmala/io/regression_data.hpp"
#include "fmala/model/mlp.hpp"
#include "fmala/random/philox.hpp"

namespace fmala {
namespace {

constexpr double kLogTwoPi = 1.83787706640934548356065947281123527;

using Activation = MlpConfig::Activation;

std::vector<double> normals(size_t count, uint64_t seed, double scale = 1.0) {
  Stream stream(seed, 0, 0, Draw::noise);
  std::vector<double> values(count);
  for (double& v : values) {
    v = scale * stream.normal();
  }
  return values;
}

// Synthetic standardised data: x ~ N(0, 1), y ~ N(0, 1), unrelated.
std::shared_ptr<io::RegressionData> random_data(size_t n_train, size_t n_test, size_t features,
                                                uint64_t seed) {
  auto data = std::make_shared<io::RegressionData>();
  data->n_features = features;
  data->train_x = normals(n_train * features, seed);
  data->train_y = normals(n_train, seed + 1);
  data->test_x = normals(n_test * features, seed + 2);
  data->test_y = normals(n_test, seed + 3);
  data->x_mean.assign(features, 0.0);
  data->x_sd.assign(features, 1.0);
  return data;
}

MlpConfig small_config(Activation activation, bool learn_noise, std::vector<int> hidden = {5, 4}) {
  MlpConfig config;
  config.hidden = std::move(hidden);
  config.activation = activation;
  config.learn_noise = learn_noise;
  config.noise_sd = 0.7;
  config.prior_sd = 1.3;
  config.tile = 8;
  return config;
}

// (C, D) parameters of moderate size, with log σ near 0 so the likelihood is
// not dominated by one term.
std::vector<Real> random_theta(const MlpRegression& model, int chains, uint64_t seed) {
  std::vector<Real> theta = normals(static_cast<size_t>(chains) * model.dim(), seed, 0.6);
  return theta;
}

struct JetResult {
  std::vector<Real> f, d, h;
};

JetResult run_jet(const MlpRegression& model, int chains, const std::vector<Real>& theta,
                  const std::vector<Real>& u, int order) {
  JetResult r{std::vector<Real>(chains), std::vector<Real>(chains), std::vector<Real>(chains)};
  model.jet(chains, theta.data(), u.data(), order, r.f.data(), r.d.data(), r.h.data());
  return r;
}

double value_at(const MlpRegression& model, std::vector<Real> theta, const std::vector<Real>& u,
                double t) {
  for (size_t i = 0; i < theta.size(); ++i) {
    theta[i] += t * u[i];
  }
  Real f = 0;
  model.jet(1, theta.data(), nullptr, 0, &f, nullptr, nullptr);
  return f;
}

double relative_error(double actual, double expected) {
  return std::abs(actual - expected) / std::max(std::abs(expected), 1e-300);
}

TEST(MlpRegression, DimAndNamesForConcreteShape) {
  auto data = random_data(20, 5, 8, 1);
  MlpConfig config;  // hidden {50}, learned noise
  MlpRegression model(data, config);
  // 8·50 weights + 50 biases + 50·1 weights + 1 bias + log σ
  EXPECT_EQ(model.dim(), 502);
  EXPECT_EQ(model.parameter_name(0), "w0[0,0]");
  EXPECT_EQ(model.parameter_name(3 * 50 + 17), "w0[3,17]");
  EXPECT_EQ(model.parameter_name(400 + 17), "b0[17]");
  EXPECT_EQ(model.parameter_name(450 + 5), "w1[5,0]");
  EXPECT_EQ(model.parameter_name(500), "b1[0]");
  EXPECT_EQ(model.parameter_name(501), "log_sigma");
  EXPECT_EQ(model.parameter_name(502), "theta[502]");

  config.learn_noise = false;
  MlpRegression fixed(data, config);
  EXPECT_EQ(fixed.dim(), 501);
  EXPECT_EQ(fixed.parameter_name(500), "b1[0]");
  EXPECT_EQ(fixed.description(),
            "mlp regression 8-50-1 relu, fixed noise (501 parameters, 20 training rows)");
}

TEST(MlpRegression, DimWithoutHiddenLayers) {
  auto data = random_data(20, 5, 3, 1);
  MlpConfig config;
  config.hidden = {};
  MlpRegression model(data, config);
  // Linear regression: 3 weights, 1 bias, log σ.
  EXPECT_EQ(model.dim(), 5);
  EXPECT_EQ(model.parameter_name(2), "w0[2,0]");
  EXPECT_EQ(model.parameter_name(3), "b0[0]");
}

TEST(MlpRegression, RejectsInvalidSettings) {
  auto data = random_data(20, 5, 3, 1);
  MlpConfig config;
  EXPECT_THROW(MlpRegression(nullptr, config), Error);
  config.hidden = {4, 0};
  EXPECT_THROW(MlpRegression(data, config), Error);
  config = MlpConfig{};
  config.tile = 0;
  EXPECT_THROW(MlpRegression(data, config), Error);
  config = MlpConfig{};
  config.prior_sd = 0;
  EXPECT_THROW(MlpRegression(data, config), Error);
  config = MlpConfig{};
  config.learn_noise = false;
  config.noise_sd = -1;
  EXPECT_THROW(MlpRegression(data, config), Error);
  auto broken = std::make_shared<io::RegressionData>(*data);
  broken->train_x.pop_back();
  EXPECT_THROW(MlpRegression(broken, MlpConfig{}), Error);
}

// (activation, learn_noise, hidden widths). Two hidden layers exercise a layer
// whose input has a tangent; no hidden layer is linear regression, whose
// output has no second-derivative plane.
class MlpJet : public ::testing::TestWithParam<std::tuple<Activation, bool, std::vector<int>>> {};

TEST_P(MlpJet, MatchesFiniteDifferencesAlongDirection) {
  const auto [activation, learn_noise, hidden] = GetParam();
  auto data = random_data(37, 5, 3, 11);
  MlpRegression model(data, small_config(activation, learn_noise, hidden));
  const int chains = 4;
  const std::vector<Real> theta = random_theta(model, chains, 21);
  const std::vector<Real> u = normals(theta.size(), 22);
  const JetResult jet = run_jet(model, chains, theta, u, 2);
  const size_t dim = model.dim();
  for (int k = 0; k < chains; ++k) {
    const std::vector<Real> x(theta.begin() + k * dim, theta.begin() + (k + 1) * dim);
    const std::vector<Real> uk(u.begin() + k * dim, u.begin() + (k + 1) * dim);
    // Central differences: rounding ≈ ε|f|/h and truncation ≈ h² |g'''|, both far
    // below the tolerances for |f| ~ 10² at these steps.
    const double h1 = 1e-5;
    const double first = (value_at(model, x, uk, h1) - value_at(model, x, uk, -h1)) / (2 * h1);
    const double h2 = 1e-4;
    const double second =
        (value_at(model, x, uk, h2) - 2 * value_at(model, x, uk, 0) + value_at(model, x, uk, -h2)) /
        (h2 * h2);
    EXPECT_LT(relative_error(jet.d[k], first), 1e-6) << "chain " << k;
    EXPECT_LT(relative_error(jet.h[k], second), 1e-4) << "chain " << k;
  }
}

TEST_P(MlpJet, GradientMatchesFiniteDifferencesAndJet) {
  const auto [activation, learn_noise, hidden] = GetParam();
  auto data = random_data(37, 5, 3, 12);
  MlpRegression model(data, small_config(activation, learn_noise, hidden));
  const int chains = 3;
  const size_t dim = model.dim();
  const std::vector<Real> theta = random_theta(model, chains, 31);
  const std::vector<Real> u = normals(theta.size(), 32);
  std::vector<Real> f(chains), g(theta.size());
  model.gradient(chains, theta.data(), f.data(), g.data());
  const JetResult jet = run_jet(model, chains, theta, u, 1);
  for (int k = 0; k < chains; ++k) {
    const Real* gk = g.data() + k * dim;
    const double g_dot_u = std::inner_product(gk, gk + dim, u.begin() + k * dim, 0.0);
    EXPECT_LT(relative_error(g_dot_u, jet.d[k]), 1e-9) << "chain " << k;
    EXPECT_DOUBLE_EQ(f[k], jet.f[k]) << "chain " << k;

    const std::vector<Real> x(theta.begin() + k * dim, theta.begin() + (k + 1) * dim);
    const double scale = std::max(
        1.0, std::abs(*std::max_element(
                 gk, gk + dim, [](double a, double b) { return std::abs(a) < std::abs(b); })));
    for (size_t i = 0; i < dim; ++i) {
      std::vector<Real> e(dim, 0.0);
      e[i] = 1.0;
      const double step = 1e-5;
      const double fd = (value_at(model, x, e, step) - value_at(model, x, e, -step)) / (2 * step);
      EXPECT_LT(std::abs(gk[i] - fd), 1e-6 * scale) << model.parameter_name(static_cast<int>(i));
      // The jet along a coordinate axis is the exact partial derivative.
      Real fe = 0;
      Real de = 0;
      model.jet(1, x.data(), e.data(), 1, &fe, &de, nullptr);
      EXPECT_LT(std::abs(gk[i] - de), 1e-9 * scale) << model.parameter_name(static_cast<int>(i));
    }
  }
}

TEST_P(MlpJet, OrdersAgreeOnValue) {
  const auto [activation, learn_noise, hidden] = GetParam();
  auto data = random_data(37, 5, 3, 13);
  MlpRegression model(data, small_config(activation, learn_noise, hidden));
  const int chains = 5;
  const std::vector<Real> theta = random_theta(model, chains, 41);
  const std::vector<Real> u = normals(theta.size(), 42);
  const JetResult zero = run_jet(model, chains, theta, u, 0);
  const JetResult one = run_jet(model, chains, theta, u, 1);
  const JetResult two = run_jet(model, chains, theta, u, 2);
  for (int k = 0; k < chains; ++k) {
    EXPECT_TRUE(std::isfinite(zero.f[k]));
    EXPECT_DOUBLE_EQ(one.f[k], zero.f[k]) << "chain " << k;
    EXPECT_DOUBLE_EQ(two.f[k], zero.f[k]) << "chain " << k;
    EXPECT_DOUBLE_EQ(two.d[k], one.d[k]) << "chain " << k;
  }
}

TEST_P(MlpJet, TileSizeDoesNotChangeResults) {
  const auto [activation, learn_noise, hidden] = GetParam();
  auto data = random_data(37, 5, 3, 14);
  const int chains = 3;
  std::vector<JetResult> results;
  std::vector<std::vector<Real>> gradients;
  std::vector<Real> theta;
  std::vector<Real> u;
  for (const int tile : {1, 7, 256, 37}) {
    MlpConfig config = small_config(activation, learn_noise, hidden);
    config.tile = tile;
    MlpRegression model(data, config);
    if (theta.empty()) {
      theta = random_theta(model, chains, 51);
      u = normals(theta.size(), 52);
    }
    results.push_back(run_jet(model, chains, theta, u, 2));
    std::vector<Real> f(chains), g(theta.size());
    model.gradient(chains, theta.data(), f.data(), g.data());
    gradients.push_back(g);
  }
  for (size_t t = 1; t < results.size(); ++t) {
    for (int k = 0; k < chains; ++k) {
      EXPECT_LT(relative_error(results[t].f[k], results[0].f[k]), 1e-12);
      EXPECT_LT(relative_error(results[t].d[k], results[0].d[k]), 1e-12);
      EXPECT_LT(relative_error(results[t].h[k], results[0].h[k]), 1e-12);
    }
    for (size_t i = 0; i < theta.size(); ++i) {
      EXPECT_NEAR(gradients[t][i], gradients[0][i], 1e-12 * (1 + std::abs(gradients[0][i])));
    }
  }
}

TEST_P(MlpJet, ThreadCountDoesNotChangeResults) {
  const auto [activation, learn_noise, hidden] = GetParam();
  auto data = random_data(37, 5, 3, 15);
  MlpRegression model(data, small_config(activation, learn_noise, hidden));
  const int chains = 13;
  const std::vector<Real> theta = random_theta(model, chains, 61);
  const std::vector<Real> u = normals(theta.size(), 62);
  const int saved = omp_get_max_threads();
  std::vector<JetResult> results;
  std::vector<std::vector<Real>> gradients;
  for (const int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    results.push_back(run_jet(model, chains, theta, u, 2));
    std::vector<Real> f(chains), g(theta.size());
    model.gradient(chains, theta.data(), f.data(), g.data());
    gradients.push_back(g);
  }
  omp_set_num_threads(saved);
  for (size_t t = 1; t < results.size(); ++t) {
    EXPECT_EQ(results[t].f, results[0].f);
    EXPECT_EQ(results[t].d, results[0].d);
    EXPECT_EQ(results[t].h, results[0].h);
    EXPECT_EQ(gradients[t], gradients[0]);
  }
}

TEST_P(MlpJet, TemperingDividesByN) {
  const auto [activation, learn_noise, hidden] = GetParam();
  const size_t n = 37;
  auto data = random_data(n, 5, 3, 16);
  MlpConfig config = small_config(activation, learn_noise, hidden);
  MlpRegression plain(data, config);
  config.temper = true;
  MlpRegression tempered(data, config);
  const int chains = 3;
  const std::vector<Real> theta = random_theta(plain, chains, 71);
  const std::vector<Real> u = normals(theta.size(), 72);
  const JetResult a = run_jet(plain, chains, theta, u, 2);
  const JetResult b = run_jet(tempered, chains, theta, u, 2);
  std::vector<Real> fa(chains), ga(theta.size()), fb(chains), gb(theta.size());
  plain.gradient(chains, theta.data(), fa.data(), ga.data());
  tempered.gradient(chains, theta.data(), fb.data(), gb.data());
  for (int k = 0; k < chains; ++k) {
    EXPECT_DOUBLE_EQ(b.f[k], a.f[k] / n);
    EXPECT_DOUBLE_EQ(b.d[k], a.d[k] / n);
    EXPECT_DOUBLE_EQ(b.h[k], a.h[k] / n);
    EXPECT_DOUBLE_EQ(fb[k], fa[k] / n);
  }
  for (size_t i = 0; i < theta.size(); ++i) {
    EXPECT_DOUBLE_EQ(gb[i], ga[i] / n);
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, MlpJet,
                         ::testing::Combine(::testing::Values(Activation::relu, Activation::tanh),
                                            ::testing::Bool(),
                                            ::testing::Values(std::vector<int>{5, 4},
                                                              std::vector<int>{6},
                                                              std::vector<int>{})));

TEST(MlpRegression, PredictMatchesHandComputedNetwork) {
  // 2 inputs, one hidden layer of 2 relu units, one output:
  //   h = relu(x W0 + b0),  μ = h W1 + b1.
  auto data = random_data(3, 1, 2, 5);
  MlpConfig config;
  config.hidden = {2};
  config.learn_noise = false;
  MlpRegression model(data, config);
  ASSERT_EQ(model.dim(), 2 * 2 + 2 + 2 + 1);
  // W0 = [[1, -2], [0.5, 3]] (row i = input i), b0 = [0.1, -0.2], W1 = [2, -1], b1 = 0.3.
  const std::vector<Real> theta = {1, -2, 0.5, 3, 0.1, -0.2, 2, -1, 0.3};
  const std::vector<double> x = {1.0, 2.0,    // z = [2.1, 3.8]  -> h = [2.1, 3.8]
                                 2.0, -1.0};  // z = [1.6, -7.2] -> h = [1.6, 0]
  std::vector<double> mu(2);
  model.predict(theta.data(), x.data(), 2, mu.data());
  EXPECT_NEAR(mu[0], 2 * 2.1 - 3.8 + 0.3, 1e-14);  // 0.7
  EXPECT_NEAR(mu[1], 2 * 1.6 + 0.3, 1e-14);        // 3.5
}

TEST(MlpRegression, LogDensityOfLinearModelMatchesClosedForm) {
  // No hidden layer: μ = x·w + b. f is the full log joint density with all constants:
  //   Σ_n log N(y_n; μ_n, σ²) + Σ_i log N(θ_i; 0, s²) + log N(log σ; m, τ²).
  auto data = random_data(11, 2, 2, 17);
  MlpConfig config;
  config.hidden = {};
  config.prior_sd = 2.0;
  config.log_noise_prior_mean = -0.5;
  config.log_noise_prior_sd = 0.8;
  MlpRegression model(data, config);
  const std::vector<Real> theta = {0.3, -1.1, 0.25, -0.4};  // w0, w1, b, log σ
  const double sigma = std::exp(theta[3]);
  double expected = 0;
  for (size_t n = 0; n < data->n_train(); ++n) {
    const double mu =
        data->train_x[2 * n] * theta[0] + data->train_x[2 * n + 1] * theta[1] + theta[2];
    const double r = data->train_y[n] - mu;
    expected += -0.5 * kLogTwoPi - std::log(sigma) - 0.5 * r * r / (sigma * sigma);
  }
  for (int i = 0; i < 3; ++i) {
    expected += -0.5 * kLogTwoPi - std::log(2.0) - 0.5 * theta[i] * theta[i] / 4.0;
  }
  expected += -0.5 * kLogTwoPi - std::log(0.8) - 0.5 * (theta[3] + 0.5) * (theta[3] + 0.5) / 0.64;
  Real f = 0;
  model.jet(1, theta.data(), nullptr, 0, &f, nullptr, nullptr);
  EXPECT_NEAR(f, expected, 1e-12 * std::abs(expected));
}

TEST(MlpRegression, InitialStateDependsOnlyOnSeedAndChain) {
  auto data = random_data(20, 5, 8, 1);
  MlpRegression model(data, MlpConfig{});
  const size_t dim = model.dim();
  std::vector<Real> all(4 * dim), one(dim);
  model.initial_state(99, 0, 4, all.data());
  model.initial_state(99, 2, 1, one.data());
  EXPECT_TRUE(std::equal(one.begin(), one.end(), all.begin() + 2 * dim));
  EXPECT_NE(all[0], all[dim]);

  // Biases 0, log σ = log 0.5.
  for (const MlpRegression::Layer& layer : model.layers()) {
    for (int j = 0; j < layer.out; ++j) {
      EXPECT_EQ(all[layer.b_offset + j], 0.0);
    }
  }
  EXPECT_DOUBLE_EQ(all[dim - 1], std::log(0.5));

  // He-normal: the 4·400 first-layer weights have variance 2 / fan_in = 2/8.
  // The sample variance of 1600 normals has relative sd sqrt(2/1600) ≈ 0.035,
  // so 0.2 is more than 5 sd.
  double sum_squares = 0;
  for (int k = 0; k < 4; ++k) {
    for (size_t i = 0; i < 400; ++i) {
      sum_squares += all[k * dim + i] * all[k * dim + i];
    }
  }
  EXPECT_NEAR(sum_squares / 1600, 0.25, 0.2 * 0.25);
}

// Data whose targets are the outputs of a known network θ*, so draws equal to
// θ* predict every row exactly.
struct ExactFit {
  std::shared_ptr<io::RegressionData> data;
  std::vector<Real> theta;
};

ExactFit exact_fit(const MlpConfig& config) {
  auto data = random_data(40, 9, 3, 81);
  data->y_mean = 3.0;
  data->y_sd = 2.5;
  MlpRegression model(data, config);
  ExactFit fit{data, normals(model.dim(), 82, 0.7)};
  model.predict(fit.theta.data(), data->train_x.data(), data->n_train(), data->train_y.data());
  model.predict(fit.theta.data(), data->test_x.data(), data->n_test(), data->test_y.data());
  return fit;
}

TEST(MlpRegression, MetricsOfExactFitAreClosedForm) {
  MlpConfig config;
  config.hidden = {6, 3};
  config.learn_noise = true;
  const ExactFit fit = exact_fit(config);
  MlpRegression model(fit.data, config);
  const double log_sigma = fit.theta.back();
  Draws draws;
  draws.chains = 2;
  draws.draws = 5;
  draws.dim = model.dim();
  for (int i = 0; i < draws.chains * draws.draws; ++i) {
    draws.values.insert(draws.values.end(), fit.theta.begin(), fit.theta.end());
  }
  draws.log_density.assign(draws.chains * draws.draws, 0.0);
  const Metrics metrics = model.metrics(draws);
  // Every draw predicts y exactly, so the residuals are 0 and each row's
  // mixture density is N(0; 0, (σ y_sd)²): nll = log(2π)/2 + log σ + log y_sd.
  const double expected_nll = 0.5 * kLogTwoPi + log_sigma + std::log(2.5);
  ASSERT_EQ(metrics.count("rmse"), 1u);
  EXPECT_NEAR(metrics.at("rmse"), 0.0, 1e-12);
  EXPECT_NEAR(metrics.at("train_rmse"), 0.0, 1e-12);
  EXPECT_NEAR(metrics.at("nll"), expected_nll, 1e-12);
  EXPECT_NEAR(metrics.at("train_nll"), expected_nll, 1e-12);
}

TEST(MlpRegression, MetricsUseLastDrawsAsMixture) {
  // A network with every weight 0 predicts its output bias b everywhere. Kept
  // draws alternate between b = +a and b = -a with fixed σ, so the predictive
  // mean is 0 and each row's density is the two-component mixture
  //   (N(y; a, σ²) + N(y; -a, σ²)) / 2   (standardised; minus log y_sd in original units).
  // The first draws of each chain have b = 50 and must be left out: with
  // predictive_draws_per_chain = 4 only the last 4 of 7 draws count.
  auto data = random_data(30, 12, 2, 91);
  data->y_mean = -1.0;
  data->y_sd = 4.0;
  MlpConfig config;
  config.hidden = {3};
  config.learn_noise = false;
  config.noise_sd = 0.6;
  config.predictive_draws_per_chain = 4;
  MlpRegression model(data, config);
  const size_t dim = model.dim();
  const size_t bias = model.layers().back().b_offset;
  const double a = 0.8;

  Draws draws;
  draws.chains = 3;
  draws.draws = 7;
  draws.dim = model.dim();
  draws.values.assign(draws.chains * draws.draws * dim, 0.0);
  draws.log_density.assign(draws.chains * draws.draws, 0.0);
  for (int c = 0; c < draws.chains; ++c) {
    for (int s = 0; s < draws.draws; ++s) {
      Real* theta = draws.values.data() + (c * draws.draws + s) * dim;
      theta[bias] = s < 3 ? 50.0 : (s % 2 == 0 ? a : -a);
    }
  }

  const auto expected = [&](const std::vector<double>& y) {
    double sse = 0;
    double nll = 0;
    const double sigma = 0.6;
    for (const double v : y) {
      sse += (v * 4.0) * (v * 4.0);
      const double p = 0.5 *
                       (std::exp(-0.5 * (v - a) * (v - a) / (sigma * sigma)) +
                        std::exp(-0.5 * (v + a) * (v + a) / (sigma * sigma))) /
                       (sigma * std::sqrt(2 * std::numbers::pi));
      nll += -(std::log(p) - std::log(4.0));
    }
    return std::pair{std::sqrt(sse / y.size()), nll / y.size()};
  };

  const Metrics metrics = model.metrics(draws);
  const auto [test_rmse, test_nll] = expected(data->test_y);
  const auto [train_rmse, train_nll] = expected(data->train_y);
  EXPECT_NEAR(metrics.at("rmse"), test_rmse, 1e-12 * test_rmse);
  EXPECT_NEAR(metrics.at("nll"), test_nll, 1e-12 * std::abs(test_nll));
  EXPECT_NEAR(metrics.at("train_rmse"), train_rmse, 1e-12 * train_rmse);
  EXPECT_NEAR(metrics.at("train_nll"), train_nll, 1e-12 * std::abs(train_nll));
}

TEST(MlpRegression, MetricsDoNotDependOnThreadCount) {
  auto data = random_data(300, 40, 3, 93);
  MlpConfig config;
  config.hidden = {7};
  config.predictive_draws_per_chain = 5;
  MlpRegression model(data, config);
  // 37 chains · 5 kept draws = 185 draws, more than the 64 draw groups.
  Draws draws;
  draws.chains = 37;
  draws.draws = 6;
  draws.dim = model.dim();
  draws.values = normals(static_cast<size_t>(draws.chains) * draws.draws * draws.dim, 94, 0.5);
  draws.log_density.assign(draws.chains * draws.draws, 0.0);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const Metrics one = model.metrics(draws);
  omp_set_num_threads(3);
  const Metrics three = model.metrics(draws);
  omp_set_num_threads(saved);
  ASSERT_EQ(one.size(), 4u);
  for (const auto& [name, value] : one) {
    EXPECT_TRUE(std::isfinite(value)) << name;
    EXPECT_EQ(three.at(name), value) << name;
  }
}

TEST(MlpRegression, MetricsRejectWrongDimension) {
  auto data = random_data(20, 5, 3, 1);
  MlpRegression model(data, MlpConfig{});
  Draws draws;
  draws.chains = 1;
  draws.draws = 1;
  draws.dim = model.dim() + 1;
  draws.values.assign(draws.dim, 0.0);
  EXPECT_THROW(model.metrics(draws), Error);
}

TEST(MlpRegression, ConcreteDataGradientMatchesJet) {
  const std::filesystem::path path = std::filesystem::path(FMALA_SOURCE_DIR) / "data" / "concrete";
  if (!std::filesystem::exists(path)) {
    GTEST_SKIP() << "no concrete data at " << path;
  }
  auto data = std::make_shared<io::RegressionData>(io::load_regression_data(path.string(), 0));
  MlpRegression model(data, MlpConfig{});
  // 1030 rows, round(0.9 · 1030) = 927 for training.
  EXPECT_EQ(data->n_train(), 927u);
  EXPECT_EQ(model.dim(), 502);
  EXPECT_EQ(model.cost_units(), 927.0);
  const int chains = 4;
  const size_t dim = model.dim();
  std::vector<Real> theta(chains * dim);
  model.initial_state(5, 0, chains, theta.data());
  const std::vector<Real> u = normals(theta.size(), 101);
  const JetResult jet = run_jet(model, chains, theta, u, 2);
  std::vector<Real> f(chains), g(theta.size());
  model.gradient(chains, theta.data(), f.data(), g.data());
  for (int k = 0; k < chains; ++k) {
    EXPECT_TRUE(std::isfinite(jet.f[k]));
    EXPECT_TRUE(std::isfinite(jet.h[k]));
    const double g_dot_u = std::inner_product(g.begin() + k * dim, g.begin() + (k + 1) * dim,
                                              u.begin() + k * dim, 0.0);
    EXPECT_LT(relative_error(g_dot_u, jet.d[k]), 1e-9);
    EXPECT_DOUBLE_EQ(f[k], jet.f[k]);
  }
}

}  // namespace
}  // namespace fmala
