#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "fmala/core/error.hpp"
#include "fmala/io/classification_data.hpp"
#include "fmala/model/logreg.hpp"
#include "fmala/random/philox.hpp"

namespace fmala {
namespace {

constexpr double kLogTwoPi = 1.83787706640934548356065947281123527;

std::vector<double> normals(size_t count, uint64_t seed, double scale = 1.0) {
  Stream stream(seed, 0, 0, Draw::noise);
  std::vector<double> values(count);
  for (double& v : values) {
    v = scale * stream.normal();
  }
  return values;
}

// Synthetic data: x ~ N(0, 1) with P features, labels cycling through K classes.
std::shared_ptr<io::ClassificationData> random_data(size_t n_train, size_t n_test, size_t features,
                                                    int classes, uint64_t seed) {
  auto data = std::make_shared<io::ClassificationData>();
  data->n_features = features;
  data->n_classes = classes;
  data->train_x = normals(n_train * features, seed);
  data->test_x = normals(n_test * features, seed + 1);
  for (size_t n = 0; n < n_train; ++n) {
    data->train_y.push_back(static_cast<int>((n * 7 + 3) % static_cast<size_t>(classes)));
  }
  for (size_t n = 0; n < n_test; ++n) {
    data->test_y.push_back(static_cast<int>((n * 5 + 1) % static_cast<size_t>(classes)));
  }
  return data;
}

LogisticRegressionConfig small_config(int tile = 8) {
  LogisticRegressionConfig config;
  config.prior_sd = 1.3;
  config.tile = tile;
  return config;
}

struct JetResult {
  std::vector<Real> f, d, h;
};

JetResult run_jet(const LogisticRegression& model, int chains, const std::vector<Real>& theta,
                  const std::vector<Real>& u, int order) {
  JetResult r{std::vector<Real>(chains), std::vector<Real>(chains), std::vector<Real>(chains)};
  model.jet(chains, theta.data(), u.data(), order, r.f.data(), r.d.data(), r.h.data());
  return r;
}

// f(θ + t u) for one chain.
double value_at(const LogisticRegression& model, std::vector<Real> theta,
                const std::vector<Real>& u, double t) {
  for (size_t i = 0; i < theta.size(); ++i) {
    theta[i] += t * u[i];
  }
  Real f = 0;
  model.jet(1, theta.data(), nullptr, 0, &f, nullptr, nullptr);
  return f;
}

TEST(LogisticRegression, DimensionAndNames) {
  const LogisticRegression model(random_data(10, 3, 5, 4, 1), small_config());
  EXPECT_EQ(model.dim(), 5 * 4 + 4);
  EXPECT_EQ(model.parameter_name(0), "w[0,0]");
  EXPECT_EQ(model.parameter_name(6), "w[1,2]");
  EXPECT_EQ(model.parameter_name(19), "w[4,3]");
  EXPECT_EQ(model.parameter_name(20), "b[0]");
  EXPECT_EQ(model.parameter_name(23), "b[3]");
  EXPECT_EQ(model.cost_units(), 10.0);
  EXPECT_EQ(model.description(),
            "logistic regression 5 features, 4 classes (24 parameters, 10 training rows)");
}

TEST(LogisticRegression, LogDensityAtZero) {
  // At θ = 0 every class has probability 1/K, so
  // f = -N log K - D (log s + log(2π) / 2) with N = 10, K = 4, D = 24, s = 1.3.
  const LogisticRegression model(random_data(10, 3, 5, 4, 2), small_config());
  const std::vector<Real> theta(24, 0.0);
  Real f = 0;
  model.jet(1, theta.data(), nullptr, 0, &f, nullptr, nullptr);
  const double expected = -10 * std::log(4.0) - 24 * (std::log(1.3) + 0.5 * kLogTwoPi);
  EXPECT_NEAR(f, expected, 1e-12 * std::abs(expected));
}

TEST(LogisticRegression, JetMatchesFiniteDifferences) {
  const LogisticRegression model(random_data(23, 4, 5, 4, 3), small_config());
  const int dim = model.dim();
  for (uint64_t seed = 0; seed < 3; ++seed) {
    const std::vector<Real> theta = normals(dim, 100 + seed, 0.7);
    const std::vector<Real> u = normals(dim, 200 + seed);
    const JetResult r = run_jet(model, 1, theta, u, 2);
    // Central differences: error O(e²) from the third and fourth derivatives
    // plus rounding ~1e-16 |f| / e (first) and / e² (second); |f| ~ 100 here.
    const double e1 = 1e-5;
    const double fd1 = (value_at(model, theta, u, e1) - value_at(model, theta, u, -e1)) / (2 * e1);
    const double e2 = 1e-3;
    const double fd2 = (value_at(model, theta, u, e2) - 2 * value_at(model, theta, u, 0) +
                        value_at(model, theta, u, -e2)) /
                       (e2 * e2);
    EXPECT_NEAR(r.d[0], fd1, 1e-6 * std::max(1.0, std::abs(fd1))) << "seed " << seed;
    EXPECT_NEAR(r.h[0], fd2, 1e-4 * std::max(1.0, std::abs(fd2))) << "seed " << seed;
    EXPECT_LT(r.h[0], 0.0) << "the log density is strictly concave";
  }
}

TEST(LogisticRegression, GradientMatchesFiniteDifferencesAndJet) {
  const LogisticRegression model(random_data(23, 4, 5, 4, 4), small_config());
  const int dim = model.dim();
  const int chains = 3;
  const std::vector<Real> theta = normals(static_cast<size_t>(chains) * dim, 300, 0.7);
  const std::vector<Real> u = normals(static_cast<size_t>(chains) * dim, 301);
  std::vector<Real> f(chains);
  std::vector<Real> g(static_cast<size_t>(chains) * dim);
  model.gradient(chains, theta.data(), f.data(), g.data());
  const JetResult r = run_jet(model, chains, theta, u, 1);
  for (int c = 0; c < chains; ++c) {
    double gu = 0;
    for (int i = 0; i < dim; ++i) {
      gu += g[c * dim + i] * u[c * dim + i];
    }
    EXPECT_NEAR(gu, r.d[c], 1e-10 * std::max(1.0, std::abs(r.d[c]))) << "chain " << c;
    EXPECT_NEAR(f[c], r.f[c], 1e-12 * std::abs(r.f[c])) << "chain " << c;
  }
  // Coordinate by coordinate for chain 0.
  const std::vector<Real> theta0(theta.begin(), theta.begin() + dim);
  for (int i = 0; i < dim; ++i) {
    std::vector<Real> e(dim, 0.0);
    e[i] = 1.0;
    const double h = 1e-5;
    const double fd = (value_at(model, theta0, e, h) - value_at(model, theta0, e, -h)) / (2 * h);
    EXPECT_NEAR(g[i], fd, 1e-6 * std::max(1.0, std::abs(fd))) << model.parameter_name(i);
  }
}

TEST(LogisticRegression, OrdersAgreeOnValue) {
  const LogisticRegression model(random_data(23, 4, 5, 4, 5), small_config());
  const int chains = 4;
  const std::vector<Real> theta = normals(static_cast<size_t>(chains) * model.dim(), 400, 0.7);
  const std::vector<Real> u = normals(static_cast<size_t>(chains) * model.dim(), 401);
  const JetResult r0 = run_jet(model, chains, theta, u, 0);
  const JetResult r1 = run_jet(model, chains, theta, u, 1);
  const JetResult r2 = run_jet(model, chains, theta, u, 2);
  for (int c = 0; c < chains; ++c) {
    // Orders 1 and 2 form the logits in a wider product than order 0, so they
    // may round differently.
    EXPECT_NEAR(r1.f[c], r0.f[c], 1e-12 * std::abs(r0.f[c])) << "chain " << c;
    EXPECT_EQ(r2.f[c], r1.f[c]) << "chain " << c;
    EXPECT_EQ(r2.d[c], r1.d[c]) << "chain " << c;
  }
}

TEST(LogisticRegression, TilesAgree) {
  const auto data = random_data(23, 4, 5, 4, 6);
  const int chains = 3;
  const LogisticRegression reference(data, small_config(23));
  const std::vector<Real> theta = normals(static_cast<size_t>(chains) * reference.dim(), 500, 0.7);
  const std::vector<Real> u = normals(static_cast<size_t>(chains) * reference.dim(), 501);
  const JetResult expected = run_jet(reference, chains, theta, u, 2);
  std::vector<Real> f_expected(chains);
  std::vector<Real> g_expected(theta.size());
  reference.gradient(chains, theta.data(), f_expected.data(), g_expected.data());
  for (int tile : {1, 7, 1000}) {
    const LogisticRegression model(data, small_config(tile));
    const JetResult r = run_jet(model, chains, theta, u, 2);
    std::vector<Real> f(chains);
    std::vector<Real> g(theta.size());
    model.gradient(chains, theta.data(), f.data(), g.data());
    for (int c = 0; c < chains; ++c) {
      EXPECT_NEAR(r.f[c], expected.f[c], 1e-12 * std::abs(expected.f[c])) << "tile " << tile;
      EXPECT_NEAR(r.d[c], expected.d[c], 1e-12 * std::max(1.0, std::abs(expected.d[c])))
          << "tile " << tile;
      EXPECT_NEAR(r.h[c], expected.h[c], 1e-12 * std::max(1.0, std::abs(expected.h[c])))
          << "tile " << tile;
      EXPECT_NEAR(f[c], f_expected[c], 1e-12 * std::abs(f_expected[c])) << "tile " << tile;
    }
    for (size_t i = 0; i < g.size(); ++i) {
      EXPECT_NEAR(g[i], g_expected[i], 1e-12 * std::max(1.0, std::abs(g_expected[i])))
          << "tile " << tile << " entry " << i;
    }
  }
}

TEST(LogisticRegression, BitIdenticalForAnyThreadCount) {
  const LogisticRegression model(random_data(40, 30, 6, 3, 7), small_config());
  const int chains = 7;
  const std::vector<Real> theta = normals(static_cast<size_t>(chains) * model.dim(), 600, 0.7);
  const std::vector<Real> u = normals(static_cast<size_t>(chains) * model.dim(), 601);
  Draws draws;
  draws.chains = chains;
  draws.draws = 1;
  draws.dim = model.dim();
  draws.values = theta;
  draws.log_density.assign(chains, 0.0);

  const int saved = omp_get_max_threads();
  std::vector<JetResult> jets;
  std::vector<std::vector<Real>> gradients;
  std::vector<Metrics> metrics;
  for (int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    jets.push_back(run_jet(model, chains, theta, u, 2));
    std::vector<Real> f(chains);
    std::vector<Real> g(theta.size());
    model.gradient(chains, theta.data(), f.data(), g.data());
    g.insert(g.end(), f.begin(), f.end());
    gradients.push_back(g);
    metrics.push_back(model.metrics(draws));
  }
  omp_set_num_threads(saved);
  for (size_t i = 1; i < jets.size(); ++i) {
    EXPECT_EQ(jets[i].f, jets[0].f);
    EXPECT_EQ(jets[i].d, jets[0].d);
    EXPECT_EQ(jets[i].h, jets[0].h);
    EXPECT_EQ(gradients[i], gradients[0]);
    EXPECT_EQ(metrics[i], metrics[0]);
  }
}

// Two classes, one feature, and draws chosen so the posterior-mean predictive
// is known in closed form. With W = (w0, w1) and b = (b0, b1), the logits at x
// are (w0 x + b0, w1 x + b1). Each of the 2 chains keeps 2 draws; only the
// last (predictive_draws_per_chain = 1) enters the metrics, so the first is set
// to a wild value that would change every metric if it were used.
//   chain 0: W = (-log 3, 0), b = (log 3, 0)
//     x = 0: logits (log 3, 0)     -> p = (3/4, 1/4)
//     x = 1: logits (0, 0)         -> p = (1/2, 1/2)
//     x = 2: logits (-log 3, 0)    -> p = (1/4, 3/4)
//   chain 1: W = (-log 3, 0), b = (0, 0)
//     x = 0: (1/2, 1/2),  x = 1: (1/4, 3/4),  x = 2: logits (-2 log 3, 0) -> (1/10, 9/10)
// Mean over the two draws:
//     x = 0: (0.625, 0.375),  x = 1: (0.375, 0.625),  x = 2: (0.175, 0.825).
// Test set (14 rows): five at x = 0 with labels 0,0,0,1,1 (predicted 0, 3
// correct), five at x = 1 with labels 1 (predicted 1, 5 correct), four at x = 2
// with labels 1,1,1,0 (predicted 1, 3 correct).
//   accuracy = 11/14
//   nll   = -(8 log 0.625 + 2 log 0.375 + 3 log 0.825 + log 0.175) / 14
//   ece   : bin 62 contains the ten rows at x = 0, 1 with confidence 0.625 and
//           accuracy 8/10; bin 82 contains the four at x = 2 with confidence
//           0.825 and accuracy 3/4, so
//           ece = (10 |0.8 - 0.625| + 4 |0.75 - 0.825|) / 14 = 2.05 / 14
//   brier : a correct row at confidence c scores 2 (1 - c)², a wrong one 2 c²:
//           (8 · 2 · 0.375² + 2 · 2 · 0.625² + 3 · 2 · 0.175² + 2 · 0.825²) / 14
//           = (2.25 + 1.5625 + 0.18375 + 1.36125) / 14 = 5.3575 / 14
// Training set: x = 0 with label 0 (correct) and x = 1 with label 0 (wrong),
// so train_accuracy = 1/2.
TEST(LogisticRegression, MetricsOnHandBuiltCase) {
  auto data = std::make_shared<io::ClassificationData>();
  data->n_features = 1;
  data->n_classes = 2;
  data->train_x = {0, 1};
  data->train_y = {0, 0};
  data->test_x = {0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2};
  data->test_y = {0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0};
  LogisticRegressionConfig config;
  config.predictive_draws_per_chain = 1;
  const LogisticRegression model(data, config);
  ASSERT_EQ(model.dim(), 4);

  const double l3 = std::log(3.0);
  Draws draws;
  draws.chains = 2;
  draws.draws = 2;
  draws.dim = 4;
  // (C, S, D): parameters w[0,0], w[0,1], b[0], b[1].
  draws.values = {
      50, -50, 9, -9,   // chain 0, draw 0 (unused)
      -l3, 0, l3, 0,    // chain 0, draw 1
      -50, 50, -9, 9,   // chain 1, draw 0 (unused)
      -l3, 0, 0, 0,     // chain 1, draw 1
  };
  draws.log_density.assign(4, 0.0);
  const Metrics m = model.metrics(draws);
  ASSERT_EQ(m.size(), 5u);
  EXPECT_NEAR(m.at("accuracy"), 11.0 / 14, 1e-15);
  const double nll =
      -(8 * std::log(0.625) + 2 * std::log(0.375) + 3 * std::log(0.825) + std::log(0.175)) / 14;
  EXPECT_NEAR(m.at("nll"), nll, 1e-14);
  EXPECT_NEAR(m.at("ece"), 2.05 / 14, 1e-14);
  EXPECT_NEAR(m.at("brier"), 5.3575 / 14, 1e-14);
  EXPECT_NEAR(m.at("train_accuracy"), 0.5, 1e-15);
}

TEST(LogisticRegression, MetricsRejectWrongShape) {
  const LogisticRegression model(random_data(10, 3, 5, 4, 8), small_config());
  Draws draws;
  draws.chains = 1;
  draws.draws = 1;
  draws.dim = 3;
  draws.values.assign(3, 0.0);
  EXPECT_THROW(model.metrics(draws), Error);
  draws.dim = model.dim();
  EXPECT_THROW(model.metrics(draws), Error);
  draws.draws = 0;
  EXPECT_TRUE(model.metrics(draws).empty());
}

TEST(LogisticRegression, RejectsBadSettings) {
  const auto data = random_data(10, 3, 5, 4, 9);
  EXPECT_THROW(LogisticRegression(nullptr, small_config()), Error);
  LogisticRegressionConfig config = small_config();
  config.prior_sd = 0;
  EXPECT_THROW(LogisticRegression(data, config), Error);
  config = small_config();
  config.prior_sd = std::nan("");
  EXPECT_THROW(LogisticRegression(data, config), Error);
  config = small_config(0);
  EXPECT_THROW(LogisticRegression(data, config), Error);
  config = small_config();
  config.predictive_draws_per_chain = 0;
  EXPECT_THROW(LogisticRegression(data, config), Error);
  auto bad_label = std::make_shared<io::ClassificationData>(*data);
  bad_label->train_y[2] = 4;
  EXPECT_THROW(LogisticRegression(bad_label, small_config()), Error);
  auto one_class = std::make_shared<io::ClassificationData>(*data);
  one_class->n_classes = 1;
  EXPECT_THROW(LogisticRegression(one_class, small_config()), Error);
  const LogisticRegression model(data, small_config());
  const std::vector<Real> theta(model.dim(), 0.0);
  Real f = 0;
  EXPECT_THROW(model.jet(1, theta.data(), nullptr, 3, &f, nullptr, nullptr), Error);
}

TEST(LogisticRegression, LargeLogitsStayFinite) {
  // Logits of ±1000 overflow exp without the max shift: the value must stay
  // finite, and a confidently wrong row must cost about its logit gap.
  auto data = std::make_shared<io::ClassificationData>();
  data->n_features = 1;
  data->n_classes = 2;
  data->train_x = {1};
  data->train_y = {1};
  LogisticRegressionConfig config;
  config.prior_sd = 1e6;
  const LogisticRegression model(data, config);
  // W = (1000, -1000), b = 0: logits (1000, -1000), label 1, log p = -2000.
  const std::vector<Real> theta = {1000, -1000, 0, 0};
  const std::vector<Real> u = {1, 0, 0, 0};
  const JetResult r = run_jet(model, 1, theta, u, 2);
  std::vector<Real> g(4);
  Real f = 0;
  model.gradient(1, theta.data(), &f, g.data());
  const double prior = -0.5 * 2e6 / 1e12 - 4 * (std::log(1e6) + 0.5 * kLogTwoPi);
  EXPECT_NEAR(r.f[0], -2000 + prior, 1e-9);
  EXPECT_NEAR(f, -2000 + prior, 1e-9);
  // d/dw00 log p_1 = -p_0 x = -1 (plus the prior's -1000 / 1e12).
  EXPECT_NEAR(r.d[0], -1.0, 1e-8);
  EXPECT_NEAR(g[0], -1.0, 1e-8);
}

TEST(LogisticRegression, FashionMnistSubset) {
  if (!std::filesystem::is_directory(io::kFashionMnistDirectory)) {
    GTEST_SKIP() << io::kFashionMnistDirectory
                 << " is absent: install it with apt-get install dataset-fashion-mnist";
  }
  auto data =
      std::make_shared<io::ClassificationData>(io::load_classification_data("fashion-mnist", 200));
  const LogisticRegression model(data, LogisticRegressionConfig{});
  ASSERT_EQ(model.dim(), 7850);
  EXPECT_EQ(model.parameter_name(7849), "b[9]");
  const std::vector<Real> theta = normals(7850, 700, 0.01);
  const std::vector<Real> u = normals(7850, 701);
  const JetResult r = run_jet(model, 1, theta, u, 2);
  std::vector<Real> g(7850);
  Real f = 0;
  model.gradient(1, theta.data(), &f, g.data());
  double gu = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    gu += g[i] * u[i];
  }
  EXPECT_NEAR(gu, r.d[0], 1e-9 * std::abs(r.d[0]));
  EXPECT_NEAR(f, r.f[0], 1e-12 * std::abs(r.f[0]));
  // At θ = 0 every class has probability 1/10: argmax ties go to class 0, which
  // is 1,000 of the 10,000 test images, so accuracy = 0.1, nll = log 10,
  // brier = 9 · 0.01 + 0.81 = 0.9 and ece = |0.1 - 0.1| = 0, up to rounding in
  // the sums over 10,000 rows.
  Draws draws;
  draws.chains = 1;
  draws.draws = 1;
  draws.dim = 7850;
  draws.values.assign(7850, 0.0);
  draws.log_density.assign(1, 0.0);
  const Metrics m = model.metrics(draws);
  EXPECT_NEAR(m.at("accuracy"), 0.1, 1e-10);
  EXPECT_NEAR(m.at("nll"), std::log(10.0), 1e-10);
  EXPECT_NEAR(m.at("brier"), 0.9, 1e-10);
  EXPECT_NEAR(m.at("ece"), 0.0, 1e-10);
}

}  // namespace
}  // namespace fmala
