// Tests of the CUDA back end. The tests that run samplers need a CUDA device
// and skip themselves without one. The CudaBackend tests check what the back
// end reports and rejects on any machine, with or without a device.
//
// CPU/GPU parity: both back ends run the same per-chain phase functions on the
// same Philox streams, and their uniforms are bit-identical. Values may still
// differ in the last bits, for four reasons. cuRAND's device Box-Muller uses
// sincospi. Device exp and log (log U among them) may differ from glibc by an
// ulp. The device fuses multiply-adds. It also adds sums over the parameters
// in another order. So values agree to far better than 1e-5 relative, and an
// accept decision can differ only where log U lies within rounding of log α.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#if defined(FMALA_WITH_CUDA)
#include <cuda_runtime_api.h>
#endif

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "cli/options.hpp"
#include "fmala/backend/cpu_engine.hpp"
#include "fmala/backend/cuda.hpp"
#include "fmala/core/error.hpp"
#include "fmala/diagnostics/diagnostics.hpp"
#include "fmala/io/classification_data.hpp"
#include "fmala/io/regression_data.hpp"
#include "fmala/model/logreg.hpp"
#include "fmala/model/mlp.hpp"
#include "fmala/model/network.hpp"
#include "fmala/random/philox.hpp"
#include "fmala/run.hpp"
#include "fmala/targets/builtin.hpp"
#include "fmala/targets/functor_model.hpp"
#include "fmala/targets/funnel.hpp"
#include "synthetic_data.hpp"

namespace {

using fmala::Real;
using fmala::SamplerKind;
using fmala_test::classification_data;
using fmala_test::normals;
using fmala_test::regression_data;

// ---- without a device ------------------------------------------------------------------------

TEST(CudaBackend, CompiledMatchesBuild) {
#if defined(FMALA_WITH_CUDA)
  EXPECT_TRUE(fmala::cuda::compiled());
#else
  EXPECT_FALSE(fmala::cuda::compiled());
#endif
}

TEST(CudaBackend, DeviceAvailableExplainsMissingDevice) {
  std::string reason;
  if (fmala::cuda::device_available(&reason)) {
    GTEST_SKIP() << "a CUDA device is present; this test covers machines without one";
  }
  EXPECT_FALSE(reason.empty());
  EXPECT_NE(reason.find("CUDA"), std::string::npos) << reason;
}

TEST(CudaBackend, RunSamplerRejectsMissingDevice) {
  std::string reason;
  if (fmala::cuda::device_available(&reason)) {
    GTEST_SKIP() << "a CUDA device is present; this test covers machines without one";
  }
  const auto model = fmala::make_funnel_model(3);
  fmala::RunSettings settings;
  settings.chains = 2;
  settings.warmup = 0;
  settings.draws = 1;
  settings.backend = fmala::Backend::cuda;
  try {
    fmala::run_sampler(*model, settings);
    FAIL() << "run_sampler with --backend cuda returned without a device";
  } catch (const fmala::Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("--backend cuda"), std::string::npos) << message;
    EXPECT_NE(message.find(reason), std::string::npos) << message;
    EXPECT_NE(message.find("Use --backend cpu"), std::string::npos) << message;
  }
}

// A funnel that is not a built-in target: analytic_target() is null, as for
// user functors and networks.
class CustomFunnel : public fmala::FunctorModel<fmala::FunnelTarget> {
 public:
  CustomFunnel() : FunctorModel(fmala::FunnelTarget{3}, 3, "custom funnel (3 parameters)") {}
};

// The model check comes before any device call, so this holds on any machine
// with the CUDA back end compiled in.
TEST(CudaBackend, UnsupportedModelIsRejectedByName) {
  if (!fmala::cuda::compiled()) {
    GTEST_SKIP() << "this build has no CUDA back end";
  }
  const CustomFunnel model;
  fmala::RunSettings settings;
  settings.chains = 2;
  settings.warmup = 0;
  settings.draws = 1;
  settings.step_size = Real(0.1);
  const std::vector<Real> theta0(6, Real(0));
  try {
    fmala::cuda::run_sampler(model, settings, theta0, {});
    FAIL() << "the CUDA back end accepted a model without an analytic target";
  } catch (const fmala::Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("custom funnel (3 parameters) is not supported on the CUDA back end"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("Use --backend cpu"), std::string::npos) << message;
  }
}

// ---- without a device: models ------------------------------------------------------------------

TEST(CudaBackend, ActivationAfterPoolingIsRejectedByName) {
  if (!fmala::cuda::compiled()) {
    GTEST_SKIP() << "this build has no CUDA back end";
  }
  fmala::NetworkConfig config;
  config.layers = fmala::parse_layers("conv:2,avgpool,relu,flatten,dense:3", "test");
  const fmala::NetworkClassifier model(classification_data(16, 4, 4, 3), config);
  fmala::RunSettings settings;
  settings.chains = 2;
  settings.warmup = 0;
  settings.draws = 1;
  settings.step_size = Real(0.01);
  const std::vector<Real> theta0(static_cast<size_t>(2 * model.dim()), Real(0));
  try {
    fmala::cuda::run_sampler(model, settings, theta0, {});
    FAIL() << "the CUDA back end accepted an activation after pooling";
  } catch (const fmala::Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("is not supported on the CUDA back end yet"), std::string::npos)
        << message;
    EXPECT_NE(message.find("right after a dense or conv layer"), std::string::npos) << message;
  }
}

// ---- CPU/GPU parity --------------------------------------------------------------------------

std::unique_ptr<fmala::Model> make_target(const std::string& name) {
  if (name == "Mlp") {
    fmala::MlpConfig config;
    config.hidden = {16, 16};
    config.tile = 64;  // 200 rows: three full tiles and a partial one
    return std::make_unique<fmala::MlpRegression>(regression_data(200, 3), config);
  }
  if (name == "MlpTanhTempered") {
    fmala::MlpConfig config;
    config.hidden = {8};
    config.activation = fmala::MlpConfig::Activation::tanh;
    config.learn_noise = false;
    config.noise_sd = 0.2;
    config.temper = true;
    config.tile = 50;
    return std::make_unique<fmala::MlpRegression>(regression_data(120, 2), config);
  }
  if (name == "LogReg") {
    fmala::LogisticRegressionConfig config;
    config.tile = 40;
    return std::make_unique<fmala::LogisticRegression>(classification_data(150, 3, 4, 4), config);
  }
  if (name == "Cnn") {
    fmala::NetworkConfig config;
    config.layers = fmala::parse_layers("conv:4,relu,maxpool,conv:4:s2,tanh,avgpool,flatten,dense:3", "test");
    config.tile = 16;
    auto data = classification_data(64, 8, 8, 3);
    return std::make_unique<fmala::NetworkClassifier>(data, config);
  }
  if (name == "DenseClassifier") {
    fmala::NetworkConfig config;
    config.layers = fmala::parse_layers("flatten,dense:12,softplus,dense:8,sigmoid,dense:3", "test");
    config.tile = 32;
    return std::make_unique<fmala::NetworkClassifier>(classification_data(100, 3, 3, 3), config);
  }
  if (name == "Funnel") {
    return fmala::make_funnel_model(11);
  }
  if (name == "Gaussian") {
    return fmala::make_gaussian_model(10, Real(0.9));
  }
  if (name == "ScaledGaussian") {
    return fmala::make_gaussian_model(4, Real(0), {Real(0.5), Real(1), Real(2), Real(4)});
  }
  if (name == "Rosenbrock") {
    return fmala::make_rosenbrock_model();
  }
  throw fmala::make_error("make_target", "unknown target " + name);
}

struct ParityCase {
  std::string target;
  SamplerKind kind;
  int curvature_tangents = 1;
  Real step = 0;  // 0: the sampler's default initial step
};

// Names the case in ctest and failure messages instead of printing its bytes.
void PrintTo(const ParityCase& c, std::ostream* os) {
  *os << c.target << " / " << fmala::sampler_name(c.kind);
  if (c.curvature_tangents > 1) {
    *os << " --curvature-tangents " << c.curvature_tangents;
  }
}

std::string case_name(const testing::TestParamInfo<ParityCase>& info) {
  // "pc-line-fmala" -> "PcLineFmala"
  std::string name = info.param.target;
  bool upper = true;
  for (char ch : fmala::sampler_name(info.param.kind)) {
    if (ch == '-') {
      upper = true;
      continue;
    }
    name += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(ch))) : ch;
    upper = false;
  }
  if (info.param.curvature_tangents > 1) {
    name += "CurvatureTangents" + std::to_string(info.param.curvature_tangents);
  }
  return name;
}

// min(1, α) of every chain at each of the first `steps` steps of the CPU engine
// with a fixed step size, (steps, C): the difference of its running sums.
std::vector<Real> cpu_accept_probs(const fmala::Model& model, const fmala::RunSettings& settings,
                                   const std::vector<Real>& theta0, int steps) {
  fmala::CpuEngine engine(model, settings.options, settings.chains, settings.seed);
  engine.initialize(theta0);
  engine.set_step_size(*settings.step_size);
  fmala::StepContext ctx;
  ctx.options = settings.options;
  ctx.seed = settings.seed;
  const size_t chains = static_cast<size_t>(settings.chains);
  std::vector<Real> previous(chains, Real(0));
  std::vector<Real> probs(static_cast<size_t>(steps) * chains);
  for (int t = 0; t < steps; ++t) {
    ctx.step = t;
    engine.step(ctx, false);
    const fmala::EngineCounters counters = engine.counters();
    for (size_t k = 0; k < chains; ++k) {
      probs[t * chains + k] = counters.accept_prob_sum[k] - previous[k];
    }
    previous = counters.accept_prob_sum;
  }
  return probs;
}

// Whether a proposal was accepted between two kept states. Proposals are
// continuous, so an accepted one equals the current state with probability 0.
bool moved(const Real* before, const Real* after, int dim) {
  for (int i = 0; i < dim; ++i) {
    if (before[i] != after[i]) {
      return true;
    }
  }
  return false;
}

class CudaParity : public testing::TestWithParam<ParityCase> {};

// With warmup 0 and thin 1, draw t is the state after step t, so the draws
// show every accept decision: step t accepted exactly when draw t differs from
// draw t − 1 (the initial state for t = 0).
//
// Rule for decisions: chain k's decisions must agree at every step until the
// first step where they differ, and that step must be a near-tie:
// |log U − log α| < 1e-4 with α from the CPU engine (log U > −1e-4 when
// min(1, α) = 1). The chain is not compared after it, since the two runs then
// follow different paths. Up to that step, every kept log-density and
// coordinate must agree to 1e-5 relative. At most 2 of the 64 chains may
// split: a split needs |log U − log α| near rounding (about 1e-13), so even
// one is unlikely.
//
// The CPU half runs on every machine, so that CI checks that each case's step
// size lets both outcomes occur before a device compares them.
TEST_P(CudaParity, MatchesCpuFromSameSeed) {
  const ParityCase& param = GetParam();
  const auto model = make_target(param.target);
  const int dim = model->dim();
  const int chains = 64;
  const int steps = 100;
  fmala::RunSettings settings;
  settings.options.kind = param.kind;
  settings.options.curvature_tangents = param.curvature_tangents;
  settings.chains = chains;
  settings.warmup = 0;
  settings.draws = steps;
  settings.seed = 20240611;
  settings.step_size = param.step > 0 ? param.step : fmala::default_initial_step(param.kind, dim);

  settings.backend = fmala::Backend::cpu;
  const fmala::SamplerRun cpu = fmala::run_sampler(*model, settings);
  const auto accepted_on_cpu = [&] {
    int count = 0;
    std::vector<Real> start(static_cast<size_t>(chains) * dim);
    model->initial_state(settings.seed, 0, chains, start.data());
    for (int k = 0; k < chains; ++k) {
      const Real* before = start.data() + static_cast<size_t>(k) * dim;
      for (int t = 0; t < steps; ++t) {
        count += moved(before, cpu.draws.at(k, t), dim) ? 1 : 0;
        before = cpu.draws.at(k, t);
      }
    }
    return count;
  }();
  // The comparison means something only if both outcomes occur.
  ASSERT_GT(accepted_on_cpu, 0) << "no proposal accepted: make the step smaller";
  ASSERT_LT(accepted_on_cpu, chains * steps) << "every proposal accepted: make the step larger";

  std::string reason;
  if (!fmala::cuda::device_available(&reason)) GTEST_SKIP() << reason;
  settings.backend = fmala::Backend::cuda;
  const fmala::SamplerRun gpu = fmala::run_sampler(*model, settings);

  std::vector<Real> theta0(static_cast<size_t>(chains) * dim);
  model->initial_state(settings.seed, 0, chains, theta0.data());
  const std::vector<Real> probs = cpu_accept_probs(*model, settings, theta0, steps);

  auto close = [](Real a, Real b) { return std::abs(a - b) <= Real(1e-5) * std::abs(b) + 1e-12; };
  int splits = 0;
  int cpu_accepted = 0;
  for (int k = 0; k < chains; ++k) {
    const Real* cpu_before = theta0.data() + static_cast<size_t>(k) * dim;
    const Real* gpu_before = cpu_before;
    for (int t = 0; t < steps; ++t) {
      const Real* cpu_after = cpu.draws.at(k, t);
      const Real* gpu_after = gpu.draws.at(k, t);
      const bool cpu_accept = moved(cpu_before, cpu_after, dim);
      const bool gpu_accept = moved(gpu_before, gpu_after, dim);
      cpu_accepted += cpu_accept ? 1 : 0;
      if (cpu_accept != gpu_accept) {
        fmala::Stream stream(settings.seed, static_cast<uint64_t>(k), t, fmala::Draw::accept);
        const Real log_u = std::log(stream.uniform());
        const Real p = probs[static_cast<size_t>(t) * chains + k];
        const bool tie = p >= Real(1) ? log_u > Real(-1e-4)
                                      : p > Real(0) && std::abs(log_u - std::log(p)) < Real(1e-4);
        EXPECT_TRUE(tie) << "chain " << k << " step " << t << ": CPU "
                         << (cpu_accept ? "accepted" : "rejected") << ", GPU "
                         << (gpu_accept ? "accepted" : "rejected") << ", log U = " << log_u
                         << ", min(1, alpha) = " << p;
        ++splits;
        break;
      }
      const size_t slot = static_cast<size_t>(k) * steps + t;
      const Real f_cpu = cpu.draws.log_density[slot];
      const Real f_gpu = gpu.draws.log_density[slot];
      ASSERT_TRUE(close(f_gpu, f_cpu)) << "log-density of chain " << k << " at draw " << t
                                       << ": GPU " << f_gpu << ", CPU " << f_cpu;
      for (int i = 0; i < dim; ++i) {
        ASSERT_TRUE(close(gpu_after[i], cpu_after[i]))
            << "theta[" << i << "] of chain " << k << " at draw " << t << ": GPU " << gpu_after[i]
            << ", CPU " << cpu_after[i];
      }
      cpu_before = cpu_after;
      gpu_before = gpu_after;
    }
  }
  EXPECT_LE(splits, 2);
  EXPECT_GT(cpu_accepted, 0);
  EXPECT_EQ(gpu.draws.chains, chains);
  EXPECT_EQ(gpu.evaluations, cpu.evaluations);
  EXPECT_GT(gpu.peak_memory_bytes, 0u);
}

std::vector<ParityCase> all_samplers_on(const std::string& target) {
  std::vector<ParityCase> cases;
  for (SamplerKind kind : fmala::kAllSamplers) {
    cases.push_back({target, kind});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Funnel, CudaParity, testing::ValuesIn(all_samplers_on("Funnel")),
                         case_name);
INSTANTIATE_TEST_SUITE_P(Gaussian, CudaParity, testing::ValuesIn(all_samplers_on("Gaussian")),
                         case_name);
// The device copy of the gaussian scales and the Rosenbrock target.
INSTANTIATE_TEST_SUITE_P(OtherTargets, CudaParity,
                         testing::Values(ParityCase{"ScaledGaussian", SamplerKind::mala},
                                         ParityCase{"ScaledGaussian", SamplerKind::pc_fmala},
                                         ParityCase{"Rosenbrock", SamplerKind::line_fmala},
                                         ParityCase{"Rosenbrock", SamplerKind::mala},
                                         ParityCase{"ScaledGaussian", SamplerKind::pc_fmala, 4},
                                         ParityCase{"Funnel", SamplerKind::pc_line_fmala, 4}),
                         case_name);

// The network models: cuBLAS products and the evaluator's elementwise
// passes (im2col, pooling, activations) on the device against the models'
// per-chain CPU evaluation.
// Steps where both outcomes occur in 100 steps from the networks' initial
// states; the defaults suit unit-scale targets.
std::vector<ParityCase> mlp_cases() {
  std::vector<ParityCase> cases = all_samplers_on("Mlp");
  for (ParityCase& c : cases) {
    if (c.kind == SamplerKind::mala) {
      c.step = Real(0.02);
    } else if (c.kind == SamplerKind::line_fmala) {
      c.step = Real(0.3);
    } else if (c.kind == SamplerKind::line_hmc) {
      c.step = Real(0.15);
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Mlp, CudaParity, testing::ValuesIn(mlp_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Networks, CudaParity,
                         testing::Values(ParityCase{"MlpTanhTempered", SamplerKind::mala, 1, Real(0.2)},
                                         ParityCase{"MlpTanhTempered", SamplerKind::pc_line_fmala},
                                         ParityCase{"LogReg", SamplerKind::mala, 1, Real(0.3)},
                                         ParityCase{"LogReg", SamplerKind::fmala},
                                         ParityCase{"LogReg", SamplerKind::pc_fmala},
                                         ParityCase{"DenseClassifier", SamplerKind::mala, 1, Real(0.15)},
                                         ParityCase{"DenseClassifier", SamplerKind::line_fmala},
                                         ParityCase{"DenseClassifier", SamplerKind::pc_line_fmala},
                                         ParityCase{"Cnn", SamplerKind::mala, 1, Real(0.05)},
                                         ParityCase{"Cnn", SamplerKind::fmala},
                                         ParityCase{"Cnn", SamplerKind::pc_line_fmala}),
                         case_name);

// The device's jets and gradients at the same states as the CPU's, for every
// network model; 64 chains span several cuBLAS batches' worth of work.
TEST(CudaNetworks, JetsAndGradientsMatchCpu) {
  std::string reason;
  if (!fmala::cuda::device_available(&reason)) GTEST_SKIP() << reason;
  for (const std::string name : {"Mlp", "MlpTanhTempered", "LogReg", "DenseClassifier", "Cnn"}) {
    const auto model = make_target(name);
    const int chains = 64;
    const size_t cd = static_cast<size_t>(chains) * model->dim();
    std::vector<Real> theta(cd);
    model->initial_state(17, 0, chains, theta.data());
    const std::vector<double> direction = normals(cd, 18);
    const auto expect_close = [&](Real gpu, Real cpu, const std::string& what) {
      EXPECT_LE(std::abs(gpu - cpu), Real(1e-7) * std::max(Real(1), std::abs(cpu)))
          << name << " " << what << ": GPU " << gpu << ", CPU " << cpu;
    };
    for (int order = 0; order <= 2; ++order) {
      std::vector<Real> f(chains), d(chains), h(chains), fc(chains), dc(chains), hc(chains);
      model->jet(chains, theta.data(), direction.data(), order, fc.data(), dc.data(), hc.data());
      fmala::cuda::evaluate_jet(*model, chains, theta.data(), direction.data(), order, f.data(),
                                d.data(), h.data());
      for (int k = 0; k < chains; ++k) {
        const std::string at = "order " + std::to_string(order) + " chain " + std::to_string(k);
        expect_close(f[k], fc[k], "f, " + at);
        if (order >= 1) expect_close(d[k], dc[k], "d, " + at);
        if (order >= 2) expect_close(h[k], hc[k], "h, " + at);
      }
    }
    std::vector<Real> f(chains), fc(chains), g(cd), gc(cd);
    model->gradient(chains, theta.data(), fc.data(), gc.data());
    fmala::cuda::evaluate_gradient(*model, chains, theta.data(), f.data(), g.data());
    Real scale = 1;
    for (Real v : gc) scale = std::max(scale, std::abs(v));
    for (int k = 0; k < chains; ++k) {
      expect_close(f[k], fc[k], "gradient's f, chain " + std::to_string(k));
    }
    for (size_t i = 0; i < cd; ++i) {
      ASSERT_LE(std::abs(g[i] - gc[i]), Real(1e-7) * scale)
          << name << " gradient entry " << i << ": GPU " << g[i] << ", CPU " << gc[i];
    }
  }
}

// ---- the device-buffer API ----------------------------------------------------------------------

TEST(CudaDeviceApi, WithoutDeviceSaysSo) {
  std::string reason;
  if (fmala::cuda::device_available(&reason)) {
    GTEST_SKIP() << "a CUDA device is present; this test covers machines without one";
  }
  const auto model = fmala::make_funnel_model(5);
  fmala::RunSettings settings;
  settings.chains = 2;
  settings.warmup = 0;
  settings.draws = 1;
  fmala::cuda::DeviceBuffers buffers;
  try {
    fmala::cuda::sample_on_device(*model, settings, buffers);
    FAIL() << "sample_on_device ran without a device";
  } catch (const fmala::Error& e) {
    EXPECT_NE(std::string(e.what()).find("sample_on_device"), std::string::npos) << e.what();
  }
}

// Runs `fmala sample` with these arguments in this process, as the Python
// package does, and returns its results.
fmala::cli::SampleResults sample_in_process(std::vector<std::string> arguments, bool device_draws) {
  CLI::App app{"fmala sample", "fmala"};
  fmala::cli::SampleOptions options;
  fmala::cli::add_sample_options(app, options);
  fmala::cli::Invocation invocation;
  invocation.arguments = arguments;
  std::reverse(arguments.begin(), arguments.end());
  app.parse(arguments);
  options.device_draws = device_draws;
  fmala::cli::SampleResults results;
  invocation.results = &results;
  EXPECT_EQ(fmala::cli::run_sample(options, invocation), 0);
  return results;
}

TEST(CudaDeviceApi, DeviceDrawsNeedTheCudaBackend) {
  try {
    sample_in_process({"--target", "funnel", "--chains", "2", "--warmup", "5", "--draws", "5", "--quiet"}, true);
    ADD_FAILURE() << "device_draws with --backend cpu was accepted";
  } catch (const fmala::Error& e) {
    EXPECT_NE(std::string(e.what()).find("device_draws: keeps the draws on the GPU"), std::string::npos)
        << e.what();
  }
}

// Chains in batches of 5, 5 and 2 each write their own slice of the device
// array, and the host's copy equals a run that records its draws as usual.
TEST(CudaDeviceApi, SampleCommandDeviceDraws) {
  std::string reason;
  if (!fmala::cuda::device_available(&reason)) GTEST_SKIP() << reason;
  const std::vector<std::string> arguments = {
      "--target", "funnel", "--dim", "6", "--sampler", "fmala,mala", "--chains", "12", "--chain-batch", "5",
      "--adapt-per-chain", "--warmup", "40", "--draws", "15", "--thin", "2", "--seed", "7", "--backend",
      "cuda", "--quiet"};
  const fmala::cli::SampleResults host = sample_in_process(arguments, false);
  const fmala::cli::SampleResults device = sample_in_process(arguments, true);
  ASSERT_EQ(host.samplers.size(), 2u);
  ASSERT_EQ(device.samplers.size(), 2u);
  for (size_t i = 0; i < host.samplers.size(); ++i) {
    const auto& expected = host.samplers[i];
    const auto& with_device = device.samplers[i];
    EXPECT_EQ(expected.device_draws.data, nullptr);
    ASSERT_NE(with_device.device_draws.data, nullptr) << with_device.name;
    ASSERT_EQ(with_device.device_draws.size, size_t{12} * 15 * 6) << with_device.name;
    std::vector<Real> values(with_device.device_draws.size);
    fmala::cuda::copy_to_host(with_device.device_draws.data.get(), values.size(), values.data());
    EXPECT_EQ(values, expected.draws.values) << with_device.name;
    EXPECT_EQ(with_device.draws.values, expected.draws.values) << with_device.name;
    EXPECT_EQ(with_device.draws.log_density, expected.draws.log_density) << with_device.name;
    EXPECT_EQ(with_device.draws.accepted, expected.draws.accepted) << with_device.name;
  }
  // Timings and the device memory (which counts the draws' array) differ.
  const auto host_summary = nlohmann::json::parse(host.summary_json);
  const auto device_summary = nlohmann::json::parse(device.summary_json);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(device_summary["samplers"][i]["parameters"], host_summary["samplers"][i]["parameters"]);
  }
}

#if defined(FMALA_WITH_CUDA)

// A device buffer of n values, freed at the end of the scope.
struct DeviceVector {
  explicit DeviceVector(size_t n) : size(n) {
    if (cudaMalloc(reinterpret_cast<void**>(&data), n * sizeof(Real)) != cudaSuccess) {
      data = nullptr;
    }
  }
  ~DeviceVector() { cudaFree(data); }
  std::vector<Real> to_host() const {
    std::vector<Real> host(size);
    EXPECT_EQ(cudaMemcpy(host.data(), data, size * sizeof(Real), cudaMemcpyDeviceToHost), cudaSuccess);
    return host;
  }
  Real* data = nullptr;
  size_t size;
};

// The draws that sample_on_device writes into device buffers on the caller's
// stream equal those of run_sampler on the same device, bit for bit, and a
// device initial state gives the same run as the model's.
TEST(CudaDeviceApi, DeviceDrawsEqualTheHostRun) {
  std::string reason;
  if (!fmala::cuda::device_available(&reason)) GTEST_SKIP() << reason;
  for (const std::string name : {"Funnel", "Mlp"}) {
    const auto model = make_target(name);
    const int dim = model->dim();
    fmala::RunSettings settings;
    settings.options.kind = SamplerKind::pc_line_fmala;
    settings.chains = 32;
    settings.warmup = 20;
    settings.draws = 15;
    settings.thin = 2;
    settings.seed = 99;
    settings.backend = fmala::Backend::cuda;
    const fmala::SamplerRun host = fmala::run_sampler(*model, settings);

    const size_t cells = static_cast<size_t>(settings.chains) * settings.draws;
    DeviceVector draws(cells * dim), log_density(cells);
    DeviceVector start(static_cast<size_t>(settings.chains) * dim);
    ASSERT_NE(draws.data, nullptr);
    const std::vector<Real> theta0 = fmala::initial_states(*model, settings);
    ASSERT_EQ(cudaMemcpy(start.data, theta0.data(), theta0.size() * sizeof(Real), cudaMemcpyHostToDevice),
              cudaSuccess);
    cudaStream_t stream = nullptr;
    ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
    for (bool from_device : {false, true}) {
      fmala::cuda::DeviceBuffers buffers;
      buffers.stream = stream;
      buffers.initial_state = from_device ? start.data : nullptr;
      buffers.draws = draws.data;
      buffers.log_density = log_density.data;
      const fmala::SamplerRun run = fmala::cuda::sample_on_device(*model, settings, buffers);
      EXPECT_TRUE(run.draws.values.empty());
      EXPECT_EQ(draws.to_host(), host.draws.values) << name << (from_device ? ", device start" : "");
      EXPECT_EQ(log_density.to_host(), host.draws.log_density) << name;
      EXPECT_EQ(run.draws.log_density, host.draws.log_density) << name;
      EXPECT_EQ(run.draws.accept_prob, host.draws.accept_prob) << name;
      EXPECT_EQ(run.draws.accepted, host.draws.accepted) << name;
      EXPECT_EQ(run.draws.step_size, host.draws.step_size) << name;
      EXPECT_EQ(run.step_size, host.step_size) << name;
    }
    cudaStreamDestroy(stream);
  }
}

TEST(CudaDeviceApi, HostPointerIsRejectedByName) {
  std::string reason;
  if (!fmala::cuda::device_available(&reason)) GTEST_SKIP() << reason;
  const auto model = fmala::make_funnel_model(5);
  fmala::RunSettings settings;
  settings.chains = 2;
  settings.warmup = 0;
  settings.draws = 3;
  std::vector<Real> host(2 * 3 * 5);
  fmala::cuda::DeviceBuffers buffers;
  buffers.draws = host.data();
  try {
    fmala::cuda::sample_on_device(*model, settings, buffers);
    FAIL() << "a host buffer was taken for device memory";
  } catch (const fmala::Error& e) {
    EXPECT_NE(std::string(e.what()).find("draws"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cudaMalloc"), std::string::npos) << e.what();
  }
}


// A copy of host values in device memory.
template <class T>
struct DeviceCopy {
  explicit DeviceCopy(const std::vector<T>& values) {
    if (cudaMalloc(&data, std::max<size_t>(values.size(), 1) * sizeof(T)) != cudaSuccess ||
        cudaMemcpy(data, values.data(), values.size() * sizeof(T), cudaMemcpyHostToDevice) != cudaSuccess) {
      ADD_FAILURE() << "cudaMalloc or cudaMemcpy failed";
    }
  }
  ~DeviceCopy() { cudaFree(data); }
  DeviceCopy(const DeviceCopy&) = delete;
  DeviceCopy& operator=(const DeviceCopy&) = delete;
  void* data = nullptr;
};

template <class T>
std::vector<T> device_to_host(const T* device, size_t n) {
  std::vector<T> host(n);
  EXPECT_EQ(cudaMemcpy(host.data(), device, n * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
  return host;
}

fmala::io::NpyArray npy(std::vector<size_t> shape, std::vector<double> values) {
  fmala::io::NpyArray a;
  a.shape = std::move(shape);
  a.values = std::move(values);
  a.dtype = "<f8";
  return a;
}

// Training arrays on the GPU give the data set that the same arrays give
// on the host. The classes, the test rows and, copied back, the scaled
// features and labels are the same, bit for bit, and so are the messages.
TEST(CudaDeviceData, ClassificationArrays) {
  std::string reason;
  if (!fmala::cuda::device_available(&reason)) GTEST_SKIP() << reason;
  const size_t rows = 50;
  const size_t features = 4 * 3 * 2;
  std::vector<double> x = normals(rows * features, 71);
  for (size_t i = 0; i < x.size(); i += 5) {
    x[i] = 2.0 * x[i] + 10.0;
  }
  for (size_t i = 2; i < x.size(); i += features) {
    x[i] = 0.25;  // one constant feature
  }

  std::vector<int64_t> labels(rows);
  std::vector<double> label_values(rows);
  for (size_t n = 0; n < rows; ++n) {
    labels[n] = static_cast<int64_t>((n * 7) % 4);
    label_values[n] = static_cast<double>(labels[n]);
  }

  const std::vector<double> test_x = normals(9 * features, 72);
  std::vector<double> test_y(9, 1.0);
  fmala::io::ArraySplit test{npy({9, 4, 3, 2}, test_x), npy({9}, test_y), "x_test", "y_test"};

  std::vector<float> x32(x.begin(), x.end());
  std::vector<double> x32_values(x32.begin(), x32.end());
  DeviceCopy<double> x_device(x);
  DeviceCopy<float> x32_device(x32);
  DeviceCopy<int64_t> y_device(labels);

  for (const bool single : {false, true}) {
    for (const auto normalise : {fmala::io::Normalisation::standard, fmala::io::Normalisation::none}) {
      for (const size_t subset : {size_t{0}, size_t{30}}) {
        const std::string context = std::string(single ? "float32" : "float64") +
                                  (normalise == fmala::io::Normalisation::standard ? ", standard" : ", none") +
                                  ", subset " + std::to_string(subset);
        fmala::io::ArraySplit train{npy({rows, 4, 3, 2}, single ? x32_values : x), npy({rows}, label_values),
                                    "x_train", "y_train"};
        const fmala::io::ClassificationData host =
            fmala::io::classification_data_from_arrays(train, &test, subset, normalise, "arrays");
        fmala::io::DeviceArrayView xv{single ? x32_device.data : x_device.data, {rows, 4, 3, 2}, 'f',
                                      single ? 32 : 64, 0, "x_train"};
        fmala::io::DeviceArrayView yv{y_device.data, {rows}, 'i', 64, 0, "y_train"};
        const fmala::io::ClassificationData device =
            fmala::io::classification_data_from_device_arrays(xv, yv, &test, subset, normalise, "arrays");
        ASSERT_NE(device.device_train, nullptr) << context;
        EXPECT_TRUE(device.train_x.empty()) << context;
        EXPECT_EQ(device.n_train(), host.n_train()) << context;
        EXPECT_EQ(device.n_features, host.n_features) << context;
        EXPECT_EQ(device.height, host.height) << context;
        EXPECT_EQ(device.channels, host.channels) << context;
        EXPECT_EQ(device.n_classes, host.n_classes) << context;
        EXPECT_EQ(device.test_x, host.test_x) << context;
        EXPECT_EQ(device.test_y, host.test_y) << context;
        EXPECT_EQ(device_to_host(device.device_train->x.get(), host.train_x.size()), host.train_x) << context;
        EXPECT_EQ(device_to_host(device.device_train->labels.get(), host.train_y.size()), host.train_y) << context;
        EXPECT_EQ(device.device_train->class_counts.size(), 4u) << context;
      }
    }
  }

  // A NaN feature and a label that is not a whole number get the host's messages.
  const auto message = [](const auto& f) {
    try {
      f();
    } catch (const fmala::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  std::vector<double> bad_x = x;
  bad_x[37] = std::nan("");
  DeviceCopy<double> bad_x_device(bad_x);
  std::vector<double> bad_labels = label_values;
  bad_labels[3] = 2.5;
  DeviceCopy<double> bad_y_device(bad_labels);
  DeviceCopy<double> y_values_device(label_values);

  const auto host_error = [&](const std::vector<double>& xs, const std::vector<double>& ys) {
    return message([&] {
      fmala::io::ArraySplit train{npy({rows, 4, 3, 2}, xs), npy({rows}, ys), "x_train", "y_train"};
      (void)fmala::io::classification_data_from_arrays(train, nullptr, 0, fmala::io::Normalisation::standard, "a");
    });
  };
  const auto device_error = [&](void* xs, void* ys) {
    return message([&] {
      fmala::io::DeviceArrayView xv{xs, {rows, 4, 3, 2}, 'f', 64, 0, "x_train"};
      fmala::io::DeviceArrayView yv{ys, {rows}, 'f', 64, 0, "y_train"};
      (void)fmala::io::classification_data_from_device_arrays(xv, yv, nullptr, 0,
                                                              fmala::io::Normalisation::standard, "a");
    });
  };

  EXPECT_EQ(device_error(bad_x_device.data, y_values_device.data), host_error(bad_x, label_values));
  EXPECT_EQ(device_error(x_device.data, bad_y_device.data), host_error(x, bad_labels));
  EXPECT_NE(host_error(x, bad_labels), "no error");
}

// A logistic regression whose training arrays sit on the GPU samples context
// the same arrays give from the host, bit for bit: the evaluator reads
// them in place.
TEST(CudaDeviceData, LogisticRegressionRun) {
  std::string reason;
  if (!fmala::cuda::device_available(&reason)) GTEST_SKIP() << reason;
  const size_t rows = 120;
  const size_t features = 6;
  const std::vector<double> x = normals(rows * features, 81);
  std::vector<double> y(rows);
  for (size_t n = 0; n < rows; ++n) {
    y[n] = x[n * features] + x[n * features + 1] > 0 ? 1.0 : (x[n * features + 2] > 0.5 ? 2.0 : 0.0);
  }

  fmala::io::ArraySplit train{npy({rows, features}, x), npy({rows}, y), "x_train", "y_train"};
  auto host = std::make_shared<fmala::io::ClassificationData>(fmala::io::classification_data_from_arrays(
      train, nullptr, 0, fmala::io::Normalisation::standard, "arrays"));

  DeviceCopy<double> x_device(x);
  DeviceCopy<double> y_device(y);
  fmala::io::DeviceArrayView xv{x_device.data, {rows, features}, 'f', 64, 0, "x_train"};
  fmala::io::DeviceArrayView yv{y_device.data, {rows}, 'f', 64, 0, "y_train"};
  auto device = std::make_shared<fmala::io::ClassificationData>(fmala::io::classification_data_from_device_arrays(
      xv, yv, nullptr, 0, fmala::io::Normalisation::standard, "arrays"));

  fmala::LogisticRegressionConfig config;
  config.tile = 50;
  const fmala::LogisticRegression from_host(host, config);
  const fmala::LogisticRegression from_device(device, config);
  EXPECT_TRUE(from_device.network_spec()->data_on_device);

  for (const SamplerKind kind : {SamplerKind::mala, SamplerKind::pc_line_fmala}) {
    fmala::RunSettings settings;
    settings.options.kind = kind;
    settings.chains = 8;
    settings.warmup = 30;
    settings.draws = 20;
    settings.seed = 17;
    settings.backend = fmala::Backend::cuda;
    const fmala::SamplerRun expected = fmala::run_sampler(from_host, settings);
    const fmala::SamplerRun run = fmala::run_sampler(from_device, settings);
    EXPECT_EQ(run.draws.values, expected.draws.values);
    EXPECT_EQ(run.draws.log_density, expected.draws.log_density);
  }
  // The host's evaluation refuses data it cannot read.
  std::vector<Real> f(1);
  const std::vector<Real> theta(static_cast<size_t>(from_device.dim()), 0.0);
  EXPECT_THROW(from_device.jet(1, theta.data(), nullptr, 0, f.data(), nullptr, nullptr), fmala::Error);
}


// Regression arrays on the GPU give the split, statistics and standardised
// rows that the table [x | y] gives on the host, bit for bit, and an MLP
// on them samples the same draws.
TEST(CudaDeviceData, RegressionArrays) {
  std::string reason;
  if (!fmala::cuda::device_available(&reason)) GTEST_SKIP() << reason;
  const size_t rows = 60;
  const size_t features = 3;
  std::vector<double> x = normals(rows * features, 91);
  std::vector<double> y(rows);
  for (size_t n = 0; n < rows; ++n) {
    x[n * features + 2] = 4.0;  // a constant column
    y[n] = 3.0 * x[n * features] - x[n * features + 1] + 100.0;
  }
  fmala::io::Table table;
  table.rows = rows;
  table.cols = features + 1;
  table.path = "the arrays x, y";
  for (size_t n = 0; n < rows; ++n) {
    table.values.insert(table.values.end(), x.begin() + static_cast<std::ptrdiff_t>(n * features),
                        x.begin() + static_cast<std::ptrdiff_t>((n + 1) * features));
    table.values.push_back(y[n]);
  }
  const auto host = std::make_shared<fmala::io::RegressionData>(fmala::io::regression_data_from_table(table, 5));

  DeviceCopy<double> x_device(x);
  DeviceCopy<double> y_device(y);
  fmala::io::DeviceArrayView xv{x_device.data, {rows, features}, 'f', 64, 0, "x_train"};
  fmala::io::DeviceArrayView yv{y_device.data, {rows}, 'f', 64, 0, "y_train"};
  const auto device = std::make_shared<fmala::io::RegressionData>(
      fmala::io::regression_data_from_device_arrays(xv, yv, 5, "the arrays x, y"));
  ASSERT_NE(device->device_train, nullptr);
  EXPECT_EQ(device->train_rows, host->train_rows);
  EXPECT_EQ(device->test_rows, host->test_rows);
  EXPECT_EQ(device->x_mean, host->x_mean);
  EXPECT_EQ(device->x_sd, host->x_sd);
  EXPECT_EQ(device->y_mean, host->y_mean);
  EXPECT_EQ(device->y_sd, host->y_sd);
  EXPECT_EQ(device->test_x, host->test_x);
  EXPECT_EQ(device->test_y, host->test_y);
  EXPECT_EQ(device_to_host(device->device_train->x.get(), host->train_x.size()), host->train_x);
  EXPECT_EQ(device_to_host(device->device_train->y.get(), host->train_y.size()), host->train_y);

  fmala::MlpConfig config;
  config.hidden = {6};
  config.tile = 16;
  const fmala::MlpRegression from_host(host, config);
  const fmala::MlpRegression from_device(device, config);
  fmala::RunSettings settings;
  settings.options.kind = SamplerKind::fmala;
  settings.chains = 6;
  settings.warmup = 20;
  settings.draws = 10;
  settings.seed = 23;
  settings.backend = fmala::Backend::cuda;
  const fmala::SamplerRun expected = fmala::run_sampler(from_host, settings);
  const fmala::SamplerRun run = fmala::run_sampler(from_device, settings);
  EXPECT_EQ(run.draws.values, expected.draws.values);

  // A target that is not finite is named.
  std::vector<double> bad_y = y;
  bad_y[7] = std::numeric_limits<double>::infinity();
  DeviceCopy<double> bad_y_device(bad_y);
  fmala::io::DeviceArrayView bad{bad_y_device.data, {rows}, 'f', 64, 0, "y_train"};
  try {
    (void)fmala::io::regression_data_from_device_arrays(xv, bad, 5, "the arrays x, y");
    ADD_FAILURE() << "an infinite target was accepted";
  } catch (const fmala::Error& e) {
    EXPECT_EQ(std::string(e.what()), "y_train[7] is inf; the targets must be finite");
  }
}

#endif

// ---- adaptation and sampling on the device -----------------------------------------------------

// Step-size adaptation depends on every accept decision of the warmup, so
// agreement to 1e-6 relative also checks the device's dual averaging: per
// chain in device memory, or shared through the mean acceptance probability
// reduced on the device. A flipped decision (a near-tie, see above) would
// break it, but is far less likely than 1e-6 over these 64 × 100 steps.
TEST(CudaSampling, AdaptedStepSizesMatchCpu) {
  std::string reason;
  if (!fmala::cuda::device_available(&reason)) GTEST_SKIP() << reason;

  const auto model = fmala::make_gaussian_model(10, Real(0.9));
  for (const bool per_chain : {false, true}) {
    SCOPED_TRACE(per_chain ? "per-chain adaptation" : "shared adaptation");
    fmala::RunSettings settings;
    settings.options.kind = SamplerKind::pc_line_fmala;
    settings.chains = 64;
    settings.warmup = 100;
    settings.draws = 10;
    settings.seed = 7;
    settings.adapt_per_chain = per_chain;
    settings.backend = fmala::Backend::cpu;
    const fmala::SamplerRun cpu = fmala::run_sampler(*model, settings);
    settings.backend = fmala::Backend::cuda;
    const fmala::SamplerRun gpu = fmala::run_sampler(*model, settings);
    ASSERT_EQ(gpu.step_size.size(), cpu.step_size.size());
    for (size_t k = 0; k < cpu.step_size.size(); ++k) {
      EXPECT_NEAR(gpu.step_size[k], cpu.step_size[k], 1e-6 * cpu.step_size[k]) << "chain " << k;
    }
    EXPECT_NEAR(gpu.accept_prob, cpu.accept_prob, 1e-6);
  }
}

// Kept draws reach the host after the transitions that follow them. A run
// that streams them, and one stopped with a draw in flight and resumed from
// its checkpoint, must still give the plain run's draws and statistics bit
// for bit on the same device.
TEST(CudaSampling, StreamedAndResumedRunsEqualThePlainRun) {
  std::string reason;
  if (!fmala::cuda::device_available(&reason)) GTEST_SKIP() << reason;
  for (const std::string name : {"Funnel", "Mlp"}) {
    SCOPED_TRACE(name);
    const auto model = make_target(name);
    fmala::RunSettings settings;
    settings.options.kind = SamplerKind::fmala;
    settings.chains = 48;
    settings.warmup = 20;
    settings.draws = 12;
    settings.thin = 3;
    settings.seed = 31;
    settings.backend = fmala::Backend::cuda;
    const fmala::SamplerRun plain = fmala::run_sampler(*model, settings);

    fmala::RunSettings streamed = settings;
    streamed.stream.enabled = true;
    streamed.stream.monitor = {0, model->dim() - 1};
    streamed.stream.keep_last = 5;
    const fmala::SamplerRun stream_run = fmala::run_sampler(*model, streamed);
    ASSERT_EQ(stream_run.stream.count, settings.draws);
    for (int k = 0; k < settings.chains; ++k) {
      for (int t = 0; t < settings.draws; ++t) {
        const Real* full = plain.draws.at(k, t);
        const Real* kept = stream_run.draws.at(k, t);
        ASSERT_EQ(kept[0], full[0]) << "chain " << k << ", draw " << t;
        ASSERT_EQ(kept[1], full[model->dim() - 1]) << "chain " << k << ", draw " << t;
      }
    }
    EXPECT_EQ(stream_run.draws.log_density, plain.draws.log_density);
    EXPECT_EQ(stream_run.draws.accepted, plain.draws.accepted);

    // Kept draws are made at transitions 23, 26, 29, ...: the stop after 27
    // finds the draw of 26 in flight, the stop after 29 its own.
    for (const int64_t stop_at : {int64_t(27), int64_t(29)}) {
      SCOPED_TRACE("stop after transition " + std::to_string(stop_at));
      fmala::RunCheckpoint saved;
      fmala::RunControl control;
      control.save = [&saved](const fmala::RunCheckpoint& c) { saved = c; };
      control.stop_requested = [stop_at, polls = int64_t(0)]() mutable { return ++polls == stop_at; };
      EXPECT_THROW(fmala::run_sampler(*model, settings, {}, control), fmala::RunStopped);
      fmala::RunControl again;
      again.resume = &saved;
      const fmala::SamplerRun resumed = fmala::run_sampler(*model, settings, {}, again);
      EXPECT_EQ(resumed.draws.values, plain.draws.values);
      EXPECT_EQ(resumed.draws.log_density, plain.draws.log_density);
      EXPECT_EQ(resumed.draws.accept_prob, plain.draws.accept_prob);
      EXPECT_EQ(resumed.draws.accepted, plain.draws.accepted);
      EXPECT_EQ(resumed.draws.floor_hits, plain.draws.floor_hits);
      EXPECT_EQ(resumed.step_size, plain.step_size);
    }
  }
}

// N(0, Σ) with AR(1) ρ = 0.9 in 10 dimensions has mean 0, so each coordinate's
// pooled mean must lie within 5 Monte Carlo standard errors of 0 (a chance
// failure has probability about 6e-7 per coordinate).
TEST(CudaSampling, GaussianMeansWithinFiveMcse) {
  std::string reason;
  if (!fmala::cuda::device_available(&reason)) GTEST_SKIP() << reason;

  const auto model = fmala::make_gaussian_model(10, Real(0.9));
  for (const SamplerKind kind : {SamplerKind::mala, SamplerKind::pc_line_fmala}) {
    SCOPED_TRACE(std::string(fmala::sampler_name(kind)));
    fmala::RunSettings settings;
    settings.options.kind = kind;
    settings.chains = 4096;
    settings.warmup = 300;
    settings.draws = 250;
    settings.seed = 11;
    settings.backend = fmala::Backend::cuda;
    const fmala::SamplerRun run = fmala::run_sampler(*model, settings);
    EXPECT_GT(run.acceptance_rate, Real(0.1));
    EXPECT_EQ(run.nonfinite_rejections, 0);
    for (int j = 0; j < model->dim(); ++j) {
      const fmala::diag::Summary s = fmala::diag::summarize_coordinate(
          run.draws.values.data(), run.draws.chains, run.draws.draws, run.draws.dim, j);
      ASSERT_TRUE(std::isfinite(s.mcse_mean)) << "coordinate " << j;
      ASSERT_GT(s.mcse_mean, 0.0) << "coordinate " << j;
      EXPECT_LT(std::abs(s.mean), 5 * s.mcse_mean)
          << "coordinate " << j << ": mean " << s.mean << ", MCSE " << s.mcse_mean;
    }
  }
}

}  // namespace
