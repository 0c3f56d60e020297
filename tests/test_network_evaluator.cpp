// The batched network evaluator (the sequence the CUDA back end runs for
// the network models), run on the host with HostNetworkOps, against each
// model's own per-chain jet() and gradient().

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "fmala/adapt/dual_averaging.hpp"
#include "fmala/backend/buffer_layout.hpp"
#include "fmala/backend/network_evaluator.hpp"
#include "fmala/backend/parallel_step.hpp"
#include "fmala/backend/device_memory.hpp"
#include "fmala/backend/host_network_ops.hpp"
#include "fmala/core/error.hpp"
#include "fmala/io/classification_data.hpp"
#include "fmala/io/regression_data.hpp"
#include "fmala/model/logreg.hpp"
#include "fmala/model/mlp.hpp"
#include "fmala/model/network.hpp"
#include "fmala/random/philox.hpp"
#include "fmala/targets/builtin.hpp"

namespace fmala {
namespace {

std::vector<double> normals(size_t count, uint64_t seed, double scale = 1.0) {
  Stream stream(seed, 0, 0, Draw::noise);
  std::vector<double> values(count);
  for (double& v : values) {
    v = scale * stream.normal();
  }
  return values;
}

std::shared_ptr<io::RegressionData> regression_data(size_t rows, size_t features) {
  auto data = std::make_shared<io::RegressionData>();
  data->n_features = features;
  data->train_x = normals(rows * features, 11);
  data->train_y = normals(rows, 12);
  data->x_mean.assign(features, 0.0);
  data->x_sd.assign(features, 1.0);
  return data;
}

std::shared_ptr<io::ClassificationData> classification_data(size_t rows, int h, int w, int classes) {
  auto data = std::make_shared<io::ClassificationData>();
  data->height = h;
  data->width = w;
  data->channels = 1;
  data->n_features = static_cast<size_t>(h) * w;
  data->n_classes = classes;
  data->train_x = normals(rows * data->n_features, 21);
  for (size_t n = 0; n < rows; ++n) {
    data->train_y.push_back(static_cast<int>((n * 7 + 3) % static_cast<size_t>(classes)));
  }
  return data;
}

// Relative agreement with a floor of 1 on the scale.
void expect_close(double expected, double actual, const std::string& what) {
  EXPECT_NEAR(actual, expected, 1e-10 * std::max(1.0, std::abs(expected))) << what;
}

// Compares the evaluator with the model at three chains' states and
// directions, for jets of every order and the gradient.
void expect_same_as_model(const Model& model, double scale) {
  const NetworkSpec* spec = model.network_spec();
  ASSERT_NE(spec, nullptr) << model.description();
  const int chains = 3;
  const int dim = model.dim();
  const std::vector<double> theta = normals(static_cast<size_t>(chains) * dim, 31, scale);
  const std::vector<double> direction = normals(static_cast<size_t>(chains) * dim, 32);
  HostNetworkOps ops;
  NetworkEvaluator<HostNetworkOps> evaluator(*spec, dim, chains, ops);
  for (int order = 0; order <= 2; ++order) {
    std::vector<double> f(chains), d(chains), h(chains), f_ref(chains), d_ref(chains), h_ref(chains);
    model.jet(chains, theta.data(), direction.data(), order, f_ref.data(), d_ref.data(), h_ref.data());
    evaluator.jet(theta.data(), direction.data(), order, f.data(), d.data(), h.data());
    for (int k = 0; k < chains; ++k) {
      const std::string what = model.description() + " order " + std::to_string(order) +
                               " chain " + std::to_string(k);
      expect_close(f_ref[k], f[k], what + " f");
      if (order >= 1) {
        expect_close(d_ref[k], d[k], what + " d");
      }
      if (order >= 2) {
        expect_close(h_ref[k], h[k], what + " h");
      }
    }
  }
  std::vector<double> f(chains), f_ref(chains);
  std::vector<double> g(static_cast<size_t>(chains) * dim), g_ref(g.size());
  model.gradient(chains, theta.data(), f_ref.data(), g_ref.data());
  evaluator.gradient(theta.data(), f.data(), g.data());
  for (int k = 0; k < chains; ++k) {
    expect_close(f_ref[k], f[k], model.description() + " gradient's f, chain " + std::to_string(k));
  }
  double g_scale = 0;
  for (double v : g_ref) {
    g_scale = std::max(g_scale, std::abs(v));
  }
  for (size_t i = 0; i < g.size(); ++i) {
    ASSERT_NEAR(g[i], g_ref[i], 1e-10 * std::max(1.0, g_scale))
        << model.description() << " gradient entry " << i << " (" << model.parameter_name(static_cast<int>(i % dim)) << ")";
  }
  // A second evaluation reuses the buffers and must give the same values.
  std::vector<double> f2(chains), d2(chains), h2(chains);
  evaluator.jet(theta.data(), direction.data(), 2, f2.data(), d2.data(), h2.data());
  std::vector<double> f_ref2(chains), d_ref2(chains), h_ref2(chains);
  model.jet(chains, theta.data(), direction.data(), 2, f_ref2.data(), d_ref2.data(), h_ref2.data());
  for (int k = 0; k < chains; ++k) {
    expect_close(h_ref2[k], h2[k], model.description() + " second jet after a gradient");
  }
}

MlpConfig mlp_config(MlpConfig::Activation activation, bool learn_noise, std::vector<int> hidden) {
  MlpConfig config;
  config.hidden = std::move(hidden);
  config.activation = activation;
  config.learn_noise = learn_noise;
  config.noise_sd = 0.7;
  config.prior_sd = 1.3;
  config.log_noise_prior_mean = -0.5;
  config.log_noise_prior_sd = 0.8;
  config.tile = 8;  // 21 rows: two full tiles and a partial one
  return config;
}

TEST(NetworkEvaluator, MlpReluLearnedNoise) {
  MlpRegression model(regression_data(21, 3),
                      mlp_config(MlpConfig::Activation::relu, true, {5, 4}));
  expect_same_as_model(model, 0.5);
}

TEST(NetworkEvaluator, MlpTanhFixedNoiseTempered) {
  MlpConfig config = mlp_config(MlpConfig::Activation::tanh, false, {6, 3, 2});
  config.temper = true;
  MlpRegression model(regression_data(21, 4), config);
  expect_same_as_model(model, 0.5);
}

TEST(NetworkEvaluator, MlpWithoutHiddenLayersAndOneTile) {
  MlpConfig config = mlp_config(MlpConfig::Activation::relu, true, {});
  config.tile = 256;
  MlpRegression model(regression_data(21, 2), config);
  expect_same_as_model(model, 0.5);
}

TEST(NetworkEvaluator, LogisticRegression) {
  LogisticRegressionConfig config;
  config.prior_sd = 1.7;
  config.tile = 4;
  LogisticRegression model(classification_data(10, 2, 3, 4), config);
  expect_same_as_model(model, 0.8);
}

NetworkConfig network_config(const std::string& layers) {
  NetworkConfig config;
  config.layers = parse_layers(layers, "test");
  config.tile = 3;
  config.prior_sd = 1.1;
  return config;
}

TEST(NetworkEvaluator, ClassifierWithEveryActivation) {
  for (const std::string layers :
       {"flatten,dense:7,sigmoid,dense:5,softplus,dense:3",
        "dense:6,relu,dense:4,tanh,dense:3",
        "dense:5,tanh,dense:3,relu"}) {
    NetworkClassifier model(classification_data(8, 2, 3, 3), network_config(layers));
    expect_same_as_model(model, 0.7);
  }
}

std::shared_ptr<io::ClassificationData> images(size_t rows, int h, int w, int channels, int classes) {
  auto data = classification_data(rows, h, w * channels, classes);
  data->width = w;
  data->channels = channels;
  return data;
}

// Convolutions (SAME and VALID, stride 1 and 2, k = 1, 3 and 5, chunks of
// one image), average and max pooling (odd edges dropped, relu zeros tied),
// and pooling of the input itself.
TEST(NetworkEvaluator, ConvolutionalNetworks) {
  struct Case {
    std::string layers;
    int h, w, channels;
  };
  for (const Case& c : {Case{"conv:3,relu,avgpool,conv:4:s2,tanh,flatten,dense:3", 8, 8, 2},
                        Case{"conv:2:k5:valid,sigmoid,maxpool,flatten,dense:4,softplus,dense:3", 9, 9, 1},
                        Case{"conv:3:s2:valid,relu,conv:2:k1,maxpool,flatten,dense:3", 7, 7, 2},
                        Case{"conv:4,relu,maxpool,flatten,dense:3", 6, 6, 1},
                        Case{"avgpool,flatten,dense:3", 5, 4, 2}}) {
    NetworkClassifier model(images(8, c.h, c.w, c.channels, 3), network_config(c.layers));
    expect_same_as_model(model, 0.7);
  }
}

TEST(NetworkEvaluator, ActivationsOutsideLayersHaveNoSpec) {
  for (const std::string layers : {"dense:4,relu,tanh,dense:3", "relu,dense:3",
                                   "avgpool,relu,flatten,dense:3"}) {
    NetworkClassifier model(classification_data(8, 4, 4, 3), network_config(layers));
    EXPECT_EQ(model.network_spec(), nullptr) << layers;
  }
}

// With data_on_device the evaluator reads the spec's arrays in place (for
// the host's operations, host memory) instead of its own copies: same
// values, and the data's bytes leave its count.
TEST(NetworkEvaluator, DataReadInPlace) {
  NetworkConfig config = network_config("conv:3,relu,avgpool,flatten,dense:3");
  const std::shared_ptr<const io::ClassificationData> data = images(7, 6, 6, 2, 3);
  NetworkClassifier model(data, config);
  NetworkSpec spec = *model.network_spec();
  const int chains = 2;
  const int dim = model.dim();
  const std::vector<double> theta = normals(static_cast<size_t>(chains) * dim, 41, 0.6);
  const std::vector<double> direction = normals(static_cast<size_t>(chains) * dim, 42);
  HostNetworkOps ops;
  NetworkEvaluator<HostNetworkOps> copied(spec, dim, chains, ops);
  spec.data_on_device = true;
  NetworkEvaluator<HostNetworkOps> in_place(spec, dim, chains, ops);
  EXPECT_EQ(copied.bytes() - in_place.bytes(), data->train_x.size() * sizeof(double) + data->train_y.size() * sizeof(int));
  std::vector<double> f(chains), d(chains), h(chains), f2(chains), d2(chains), h2(chains);
  copied.jet(theta.data(), direction.data(), 2, f.data(), d.data(), h.data());
  in_place.jet(theta.data(), direction.data(), 2, f2.data(), d2.data(), h2.data());
  EXPECT_EQ(f, f2);
  EXPECT_EQ(d, d2);
  EXPECT_EQ(h, h2);
  std::vector<double> g(static_cast<size_t>(chains) * dim), g2(g.size());
  copied.gradient(theta.data(), f.data(), g.data());
  in_place.gradient(theta.data(), f2.data(), g2.data());
  EXPECT_EQ(f, f2);
  EXPECT_EQ(g, g2);
}

TEST(NetworkEvaluator, InconsistentSpecIsAnError) {
  MlpRegression model(regression_data(21, 3),
                      mlp_config(MlpConfig::Activation::relu, true, {5}));
  NetworkSpec spec = *model.network_spec();
  EXPECT_NO_THROW(check_network_spec(spec, model.dim(), "test"));
  EXPECT_THROW(check_network_spec(spec, model.dim() - 2, "test"), Error);
  spec.layers[1].in = 4;
  EXPECT_THROW(check_network_spec(spec, model.dim(), "test"), Error);
}

// The planned work bytes are what the evaluator allocates.
void expect_planned_bytes(const Model& model) {
  const NetworkSpec& spec = *model.network_spec();
  const int chains = 4;
  const std::vector<double> theta = normals(static_cast<size_t>(chains) * model.dim(), 41, 0.5);
  HostNetworkOps ops;
  for (bool gradient : {false, true}) {
    NetworkEvaluator<HostNetworkOps> evaluator(spec, model.dim(), chains, ops);
    const DeviceMemoryPlan plan =
        device_memory_plan(model, SamplerOptions{}, chains, spec.tile);
    EXPECT_EQ(evaluator.bytes(), plan.data_bytes) << "before any evaluation";
    std::vector<double> f(chains), g(theta.size());
    if (gradient) {
      evaluator.gradient(theta.data(), f.data(), g.data());
    } else {
      evaluator.jet(theta.data(), nullptr, 0, f.data(), nullptr, nullptr);
    }
    EXPECT_EQ(evaluator.bytes(), plan.data_bytes + network_work_bytes(spec, chains, gradient))
        << model.description() << (gradient ? " gradient" : " jet");
  }
}

TEST(NetworkEvaluator, WorkBytesMatchWhatIsAllocated) {
  expect_planned_bytes(MlpRegression(regression_data(21, 3),
                                     mlp_config(MlpConfig::Activation::tanh, true, {7, 5})));
  expect_planned_bytes(NetworkClassifier(images(8, 8, 8, 2, 3),
                                         network_config("conv:3,relu,avgpool,conv:4:s2,flatten,dense:3")));
}

TEST(DeviceMemory, ChainStateOfAnAnalyticTarget) {
  const auto model = make_funnel_model(11);
  SamplerOptions options;
  options.kind = SamplerKind::pc_line_fmala;
  const DeviceMemoryPlan plan = device_memory_plan(*model, options, 1000, 0);
  const size_t expected = sizeof(Real) * 1000 * 11 * matrix_buffer_count(options) +
                          sizeof(Real) * 1000 * kScalarBuffers +
                          sizeof(int64_t) * 1000 * kCounterBuffers + sizeof(DualAveraging) * 1000 +
                          kStepScratchBytesPerChain * 1000;
  EXPECT_EQ(plan.chain_bytes, expected);
  EXPECT_EQ(plan.tile, 0);
  EXPECT_EQ(plan.total(), expected);
}

TEST(DeviceMemory, StagingOfKeptDrawsIsCounted) {
  // A run that copies its draws to the host stages θ, f, three more (C)
  // values and three counters per chain. A run that writes θ to the caller's
  // device buffers stages the rest only, and an evaluation stages nothing.
  const auto model = make_funnel_model(11);
  SamplerOptions options;
  options.kind = SamplerKind::fmala;
  const int chains = 300;
  const DeviceMemoryPlan none = device_memory_plan(*model, options, chains, 0);
  const DeviceMemoryPlan scalars = device_memory_plan(*model, options, chains, 0, DrawCopies::scalars);
  const DeviceMemoryPlan states = device_memory_plan(*model, options, chains, 0, DrawCopies::states);
  EXPECT_EQ(none.draw_bytes, 0u);
  EXPECT_EQ(scalars.draw_bytes, (sizeof(Real) * 4 + sizeof(int64_t) * 3) * chains);
  EXPECT_EQ(states.draw_bytes, scalars.draw_bytes + sizeof(Real) * chains * 11);
  EXPECT_EQ(states.chain_bytes, none.chain_bytes);
  EXPECT_EQ(states.total(), none.total() + states.draw_bytes);
  // The estimate of a run that does not fit includes the staging.
  try {
    plan_device_memory(*model, options, chains, none.total(), "test device", DrawCopies::states);
    FAIL() << "the staging of kept draws was not counted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("to copy kept draws from"), std::string::npos) << e.what();
  }
}

TEST(DeviceMemory, TileIsHalvedUntilTheRunFits) {
  MlpConfig config = mlp_config(MlpConfig::Activation::relu, true, {50, 50});
  config.tile = 256;
  MlpRegression model(regression_data(1000, 3), config);
  SamplerOptions options;
  options.kind = SamplerKind::fmala;
  const int chains = 64;
  const DeviceMemoryPlan full = device_memory_plan(model, options, chains, 256);
  EXPECT_EQ(full.tile, 256);
  // Everything fits: the model's tile.
  EXPECT_EQ(plan_device_memory(model, options, chains, full.total(), "test device").tile, 256);
  // One byte short: the next halving.
  const DeviceMemoryPlan smaller = plan_device_memory(model, options, chains, full.total() - 1, "test device");
  EXPECT_EQ(smaller.tile, 128);
  EXPECT_LT(smaller.total(), full.total());
  // Room for a tile of about 10 rows: 8.
  const DeviceMemoryPlan ten = device_memory_plan(model, options, chains, 10);
  EXPECT_EQ(plan_device_memory(model, options, chains, ten.total(), "test device").tile, 8);
  // MALA keeps every layer's outputs, so its work buffers differ from the jets'.
  options.kind = SamplerKind::mala;
  EXPECT_NE(device_memory_plan(model, options, chains, 256).work_bytes, full.work_bytes);
}

TEST(DeviceMemory, TooManyChainsNamesTheLargestCountThatFits) {
  MlpRegression model(regression_data(1000, 3), mlp_config(MlpConfig::Activation::relu, true, {50}));
  SamplerOptions options;
  options.kind = SamplerKind::mala;
  const DeviceMemoryPlan at_one_row = device_memory_plan(model, options, 100, 1);
  const DeviceMemoryPlan hundred_and_one = device_memory_plan(model, options, 101, 1);
  // Room for exactly 100 chains at one row per tile.
  try {
    plan_device_memory(model, options, 500, at_one_row.total(), "test device");
    FAIL() << "500 chains fitted in the memory of 100";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("--chains"), std::string::npos) << message;
    EXPECT_NE(message.find("test device"), std::string::npos) << message;
    EXPECT_NE(message.find("Run at most 100 chains"), std::string::npos) << message;
  }
  EXPECT_GT(hundred_and_one.total(), at_one_row.total());
  // Less than the data: no chain count fits.
  try {
    plan_device_memory(model, options, 1, 100, "test device");
    FAIL() << "a run fitted in 100 bytes";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--train-subset"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fmala
