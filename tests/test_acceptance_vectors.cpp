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
#include "one_chain.hpp"
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

  fmala::testing::OneChain one(dim);
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
