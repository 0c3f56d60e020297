// ParallelStep, the CUDA back end's sequence of passes for one transition,
// run on the host against CpuEngine. With segment sums in index order it must
// give the same states, scalars, counters and adaptation bit for bit, for
// every sampler and option. With the sums in a tree order, as a GPU adds
// them, it must make the same decisions and keep the states within rounding.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "fmala/adapt/dual_averaging.hpp"
#include "fmala/backend/buffer_layout.hpp"
#include "fmala/backend/cpu_engine.hpp"
#include "fmala/backend/host_network_ops.hpp"
#include "fmala/backend/parallel_step.hpp"
#include "fmala/model/mlp.hpp"
#include "fmala/run.hpp"
#include "fmala/targets/builtin.hpp"
#include "synthetic_data.hpp"

namespace {

using fmala::ChainBuffers;
using fmala::CpuEngine;
using fmala::DualAveraging;
using fmala::EngineState;
using fmala::Real;
using fmala::SamplerKind;
using fmala::SamplerOptions;
using fmala::StepContext;
using fmala::Sum3;

// Launches one index at a time, and adds each segment as a balanced tree, as
// a block reduction on a GPU does, instead of in index order.
class TreeOps {
 public:
  template <class F>
  void launch(size_t n, const F& f, const char* /*phase*/) {
    for (size_t i = 0; i < n; ++i) {
      f(i);
    }
  }
  template <class F>
  void segment_sums(size_t segments, int64_t stride, int64_t length, const F& f, Sum3* out,
                    const char* /*phase*/) {
    for (size_t s = 0; s < segments; ++s) {
      const int64_t first = static_cast<int64_t>(s) * stride;
      out[s] = tree(f, first, first + length);
    }
  }

 private:
  template <class F>
  static Sum3 tree(const F& f, int64_t begin, int64_t end) {
    if (end - begin == 1) {
      return f(begin);
    }
    const int64_t middle = begin + (end - begin) / 2;
    return tree(f, begin, middle) + tree(f, middle, end);
  }
};

// The model's jets and gradients for all chains at once, in the form that
// ParallelStep calls.
struct ModelEvaluate {
  const fmala::Model& model;
  int chains;
  void jet(const Real* theta, const Real* direction, int order, Real* f, Real* d, Real* h) {
    model.jet(chains, theta, direction, order, f, d, h);
  }
  void gradient(const Real* theta, Real* f, Real* g) { model.gradient(chains, theta, f, g); }
};

// Every buffer of ParallelStep in host memory, laid out as CpuEngine's.
struct HostChains {
  std::vector<Real> matrices;
  std::vector<Real> scalars;
  std::vector<Real> curvature;
  std::vector<int64_t> counts;
  std::vector<DualAveraging> adapt;
  std::vector<Sum3> sums;
  std::vector<unsigned char> accepted;
  ChainBuffers b;

  HostChains(const SamplerOptions& options, int chains, int dim) {
    const size_t c = static_cast<size_t>(chains);
    matrices.assign(c * dim * fmala::matrix_buffer_count(options), Real(0));
    scalars.assign(c * fmala::kScalarBuffers, Real(0));
    counts.assign(c * fmala::kCounterBuffers, 0);
    fmala::lay_out_buffers(b, options, chains, dim, matrices.data(), scalars.data(), counts.data());
    if (fmala::has_curvature_tangents(options)) {
      curvature.assign(c * fmala::kCurvatureScalarBuffers, Real(0));
      fmala::lay_out_curvature_scratch(b, options, chains, curvature.data());
    }
    sums.resize(2 * c);
    accepted.resize(c);
  }

  // Takes over an engine's state (the buffers kept between transitions).
  void load(const EngineState& s) {
    std::copy(s.theta.begin(), s.theta.end(), b.theta);
    std::copy(s.grad.begin(), s.grad.end(), b.grad);
    std::copy(s.tangent.begin(), s.tangent.end(), b.tangent);
    std::copy(s.scalars.begin(), s.scalars.end(), scalars.begin());
    std::copy(s.counts.begin(), s.counts.end(), counts.begin());
    adapt = s.adapt;
    b.adapt = adapt.empty() ? nullptr : adapt.data();
  }

  fmala::StepScratch scratch() { return fmala::StepScratch{sums.data(), accepted.data()}; }
};

template <class T>
bool same_bits(const std::vector<T>& a, const T* b, size_t n) {
  return a.size() == n && (n == 0 || std::memcmp(a.data(), b, n * sizeof(T)) == 0);
}

struct Case {
  std::string target;
  SamplerKind kind;
  std::string option;  // "", "aligned", "persistent", "uncached", "curvature3", "jitter"
  Real step;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.target << " / " << fmala::sampler_name(c.kind) << (c.option.empty() ? "" : " / ") << c.option;
}

std::string case_name(const testing::TestParamInfo<Case>& info) {
  std::string name = info.param.target + "_";
  for (char ch : fmala::sampler_name(info.param.kind)) {
    name += ch == '-' ? '_' : ch;
  }
  return info.param.option.empty() ? name : name + "_" + info.param.option;
}

std::unique_ptr<fmala::Model> make_model(const std::string& name) {
  if (name == "Funnel") {
    return fmala::make_funnel_model(11);
  }
  if (name == "Gaussian") {
    return fmala::make_gaussian_model(10, Real(0.9));
  }
  fmala::MlpConfig config;
  config.hidden = {12};
  config.tile = 32;
  return std::make_unique<fmala::MlpRegression>(fmala_test::regression_data(80, 2), config);
}

SamplerOptions options_of(const Case& c) {
  SamplerOptions o;
  o.kind = c.kind;
  o.aligned = c.option == "aligned";
  o.persistent = c.option == "persistent";
  o.uncached = c.option == "uncached";
  o.curvature_tangents = c.option == "curvature3" ? 3 : 1;
  o.leapfrog_steps = 3;
  o.jitter = c.option == "jitter" ? Real(0.3) : Real(0);
  return o;
}

constexpr int kChains = 5;
constexpr uint64_t kSeed = 17;

// The case's model and a CpuEngine started on it; each test then sets the
// step size and copies the engine's state into `host`.
class ParallelStepMatchesCpu : public testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    model = make_model(GetParam().target);
    options = options_of(GetParam());
    dim = model->dim();
    std::vector<Real> theta0(static_cast<size_t>(kChains) * dim);
    model->initial_state(kSeed, 0, kChains, theta0.data());
    cpu = std::make_unique<CpuEngine>(*model, options, kChains, kSeed);
    cpu->initialize(theta0);
    host = std::make_unique<HostChains>(options, kChains, dim);
    ctx.options = options;
    ctx.seed = kSeed;
  }

  std::unique_ptr<fmala::Model> model;
  SamplerOptions options;
  int dim = 0;
  std::unique_ptr<CpuEngine> cpu;
  std::unique_ptr<HostChains> host;
  StepContext ctx;
};

// 24 transitions, the first 16 with per-chain step-size adaptation; after
// each, every buffer that CpuEngine keeps must equal the sequence's bit for
// bit. Both accepted and rejected proposals must have occurred.
TEST_P(ParallelStepMatchesCpu, BitForBitWithSumsInIndexOrder) {
  cpu->start_chain_adaptation(GetParam().step);
  host->load(cpu->save_state());
  fmala::HostNetworkOps ops;
  ModelEvaluate evaluate{*model, kChains};
  ctx.adapt_per_chain = true;
  const int steps = 24;
  const int adapting_steps = 16;
  for (int t = 0; t < steps; ++t) {
    ctx.step = t;
    const bool adapting = t < adapting_steps;
    if (t == adapting_steps) {
      cpu->finish_chain_adaptation();
      for (int k = 0; k < kChains; ++k) {
        host->b.step_size[k] = host->adapt[k].final_step();
      }
    }
    cpu->step(ctx, adapting);
    fmala::ParallelStep<fmala::HostNetworkOps, ModelEvaluate>(ops, evaluate, host->b, host->scratch(), options)
        .step(ctx, adapting);

    const EngineState s = cpu->save_state();
    const size_t cd = static_cast<size_t>(kChains) * dim;
    ASSERT_TRUE(same_bits(s.theta, host->b.theta, cd)) << "θ after transition " << t;
    ASSERT_TRUE(same_bits(s.scalars, host->scalars.data(), host->scalars.size())) << "scalars after transition " << t;
    ASSERT_TRUE(same_bits(s.counts, host->counts.data(), host->counts.size())) << "counts after transition " << t;
    ASSERT_TRUE(same_bits(s.adapt, host->adapt.data(), host->adapt.size())) << "adaptation after transition " << t;
    if (!s.grad.empty()) {
      ASSERT_TRUE(same_bits(s.grad, host->b.grad, cd)) << "gradient after transition " << t;
    }
    if (!s.tangent.empty()) {
      ASSERT_TRUE(same_bits(s.tangent, host->b.tangent, cd)) << "tangent after transition " << t;
    }
  }
  const fmala::EngineCounters counters = cpu->counters();
  int64_t accepted = 0;
  for (int64_t n : counters.accepted) {
    accepted += n;
  }
  EXPECT_GT(accepted, 0) << "no proposal was accepted: the copy of accepted states went untested";
  EXPECT_LT(accepted, int64_t(steps) * kChains) << "every proposal was accepted: rejections went untested";
}

// With the sums in tree order the norms and dot products change in the last
// bits: the decisions of 12 fixed-step transitions must agree and the states
// stay within 1e-11 of the CPU engine's.
TEST_P(ParallelStepMatchesCpu, SameDecisionsWithSumsInTreeOrder) {
  cpu->set_step_size(GetParam().step);
  host->load(cpu->save_state());
  TreeOps ops;
  ModelEvaluate evaluate{*model, kChains};
  for (int t = 0; t < 12; ++t) {
    ctx.step = t;
    cpu->step(ctx, false);
    fmala::ParallelStep<TreeOps, ModelEvaluate>(ops, evaluate, host->b, host->scratch(), options).step(ctx, false);
    const EngineState s = cpu->save_state();
    ASSERT_EQ(s.counts, host->counts) << "accepted, non-finite and floor counts after transition " << t;
    for (size_t i = 0; i < s.theta.size(); ++i) {
      ASSERT_NEAR(s.theta[i], host->b.theta[i], 1e-11 * (1 + std::abs(s.theta[i]))) << "θ[" << i << "] after transition " << t;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Samplers, ParallelStepMatchesCpu,
    testing::Values(Case{"Funnel", SamplerKind::rwmh, "", Real(0.5)},
                    Case{"Funnel", SamplerKind::mala, "", Real(0.3)},
                    Case{"Mlp", SamplerKind::mala, "", Real(0.005)},
                    Case{"Mlp", SamplerKind::mala, "uncached", Real(0.005)},
                    Case{"Funnel", SamplerKind::fmala, "", Real(0.3)},
                    Case{"Gaussian", SamplerKind::fmala, "aligned", Real(0.3)},
                    Case{"Gaussian", SamplerKind::fmala, "persistent", Real(0.3)},
                    Case{"Mlp", SamplerKind::fmala, "", Real(0.005)},
                    Case{"Funnel", SamplerKind::line_fmala, "", Real(0.5)},
                    Case{"Mlp", SamplerKind::line_fmala, "", Real(0.05)},
                    Case{"Funnel", SamplerKind::pc_fmala, "", Real(0.5)},
                    Case{"Gaussian", SamplerKind::pc_fmala, "curvature3", Real(0.5)},
                    Case{"Gaussian", SamplerKind::pc_fmala, "persistent", Real(0.5)},
                    Case{"Funnel", SamplerKind::pc_line_fmala, "", Real(0.5)},
                    Case{"Gaussian", SamplerKind::pc_line_fmala, "curvature3", Real(0.5)},
                    Case{"Funnel", SamplerKind::line_hmc, "", Real(0.3)},
                    Case{"Gaussian", SamplerKind::line_hmc, "jitter", Real(0.3)}),
    case_name);

}  // namespace
