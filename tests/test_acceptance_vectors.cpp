// Reproduces tests/data/acceptance.json: one proposal per sampler and option,
// from explicit state, tangents and noise, with its log acceptance ratio. The
// file's values were computed in double with direct Gaussian proposal
// densities (not from the scalar formulas used here), so agreement checks the
// scalar forms of every ratio.

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fmala/samplers/phases.hpp"
#include "fmala/targets/evaluate.hpp"
#include "fmala/targets/funnel.hpp"
#include "fmala/targets/gaussian.hpp"

namespace {

using fmala::Real;
using nlohmann::json;

json load_cases() {
  std::ifstream in(std::string(FMALA_TEST_DATA_DIR) + "/acceptance.json");
  EXPECT_TRUE(in.good()) << "cannot open acceptance.json";
  json doc;
  in >> doc;
  return doc["cases"];
}

std::vector<Real> vec(const json& j) { return j.get<std::vector<Real>>(); }

// Single-chain buffers with every field a sampler may touch.
struct OneChain {
  explicit OneChain(int dim)
      : theta(dim), theta_prop(dim), tangent(dim), tangent_prop(dim), noise(dim), grad(dim),
        grad_prop(dim), scalars(20, 0.0), counters(3, 0) {
    b.chains = 1;
    b.dim = dim;
    b.theta = theta.data();
    b.theta_prop = theta_prop.data();
    b.tangent = tangent.data();
    b.tangent_prop = tangent_prop.data();
    b.noise = noise.data();
    b.grad = grad.data();
    b.grad_prop = grad_prop.data();
    Real* s = scalars.data();
    b.f = s + 0;
    b.d = s + 1;
    b.h = s + 2;
    b.f_prop = s + 3;
    b.d_prop = s + 4;
    b.h_prop = s + 5;
    b.step_size = s + 6;
    b.coef_c = s + 7;
    b.coef_sigma = s + 8;
    b.zeta = s + 9;
    b.dot_uz = s + 10;
    b.dot_zz = s + 11;
    b.dot_uu_rev = s + 12;
    b.dot_zu_rev = s + 13;
    b.accept_prob = s + 14;
    b.n_accepted = counters.data();
    b.n_nonfinite = counters.data() + 1;
    b.n_floor = counters.data() + 2;
  }
  std::vector<Real> theta, theta_prop, tangent, tangent_prop, noise, grad, grad_prop, scalars;
  std::vector<int64_t> counters;
  fmala::ChainBuffers b;
};

template <class Target>
void run_case(const json& c, const Target& target) {
  const int dim = c["dim"].get<int>();
  const auto kind = fmala::parse_sampler(c["sampler"].get<std::string>());
  ASSERT_TRUE(kind.has_value());
  fmala::StepContext ctx;
  ctx.options.kind = *kind;
  const json& opt = c["options"];
  ctx.options.sqrt_dim = opt.value("sqrt_dim", false);
  ctx.options.aligned = opt.value("aligned", false);
  ctx.options.pc_form = opt.value("pc_form", std::string("paper")) == "reference"
                            ? fmala::PcForm::reference
                            : fmala::PcForm::paper;
  ctx.options.curvature_floor = opt.value("h_floor", 1e-6);

  OneChain one(dim);
  fmala::ChainBuffers& b = one.b;
  one.theta = vec(c["theta"]);
  one.tangent = vec(c["tangent"]);
  b.theta = one.theta.data();
  b.tangent = one.tangent.data();
  b.step_size[0] = c["eta"].get<Real>();
  if (c["noise"].is_array()) {
    one.noise = vec(c["noise"]);
    b.noise = one.noise.data();
  } else {
    b.zeta[0] = c["noise"].get<Real>();
  }
  if (c.contains("tangent_reverse")) {
    one.tangent_prop = vec(c["tangent_reverse"]);
    b.tangent_prop = one.tangent_prop.data();
  }

  // State evaluation, as the back end does it.
  fmala::evaluate_jet(target, b.theta, b.tangent, 2, b.f, b.d, b.h);
  if (*kind == fmala::SamplerKind::mala) {
    std::vector<Real> unit(dim);
    fmala::evaluate_gradient(target, dim, b.theta, b.grad, unit.data());
  }
  EXPECT_NEAR(b.f[0], c["log_density"].get<Real>(), 1e-12);
  EXPECT_NEAR(b.d[0], c["dir_deriv"].get<Real>(), 1e-12);
  EXPECT_NEAR(b.h[0], c["curvature"].get<Real>(), 1e-12);

  fmala::build_proposal(b, ctx.options, 0);
  const std::vector<Real> expected_prop = vec(c["proposal"]);
  for (int i = 0; i < dim; ++i) {
    EXPECT_NEAR(b.theta_prop[i], expected_prop[i], 1e-12) << "coordinate " << i;
  }

  // Proposal evaluation along u* (full samplers) or u (line, aligned).
  const Real* dir_prop = fmala::has_reverse_tangent(ctx.options) ? b.tangent_prop : b.tangent;
  fmala::evaluate_jet(target, b.theta_prop, dir_prop, 2, b.f_prop, b.d_prop, b.h_prop);
  if (*kind == fmala::SamplerKind::mala) {
    std::vector<Real> unit(dim);
    fmala::evaluate_gradient(target, dim, b.theta_prop, b.grad_prop, unit.data());
  }
  EXPECT_NEAR(b.f_prop[0], c["log_density_proposal"].get<Real>(), 1e-12);

  const Real log_alpha = fmala::log_accept_ratio(b, ctx, 0);
  EXPECT_NEAR(log_alpha, c["log_alpha"].get<Real>(), 1e-10);
}

TEST(AcceptanceVectors, EveryCaseMatches) {
  const json cases = load_cases();
  ASSERT_GE(cases.size(), 44u);
  const std::vector<Real> scales = {1.0, 2.0, 0.5, 1.5, 3.0};
  for (const json& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const std::string target = c["target"].get<std::string>();
    if (target == "funnel") {
      run_case(c, fmala::FunnelTarget{c["dim"].get<int>()});
    } else {
      ASSERT_EQ(target, "gaussian-scales-1,2,0.5,1.5,3");
      run_case(c, fmala::GaussianTarget{5, scales.data(), 0.0});
    }
  }
}

}  // namespace
