#include "fmala/targets/builtin.hpp"

#include <fmt/format.h>

#include <cmath>
#include <string>
#include <utility>

#include "fmala/core/error.hpp"
#include "fmala/diagnostics/diagnostics.hpp"
#include "fmala/targets/funnel.hpp"
#include "fmala/targets/functor_model.hpp"
#include "fmala/targets/gaussian.hpp"
#include "fmala/targets/rosenbrock.hpp"

namespace fmala {

namespace {

class GaussianModel : public FunctorModel<GaussianTarget> {
 public:
  GaussianModel(int dim, Real rho, std::vector<Real> scales)
      : FunctorModel(GaussianTarget{dim, nullptr, rho}, dim, describe(dim, rho)) {
    spec_.kind = AnalyticTarget::Kind::gaussian;
    spec_.dim = dim;
    spec_.rho = rho;
    spec_.scales = std::move(scales);
    if (!spec_.scales.empty()) {
      rebind(GaussianTarget{dim, spec_.scales.data(), rho});
    }
  }
  const AnalyticTarget* analytic_target() const override { return &spec_; }

 private:
  static std::string describe(int dim, Real rho) {
    return "gaussian (" + std::to_string(dim) + " parameters" +
           (rho != 0 ? ", AR(1) rho " + fmt::format("{:g}", static_cast<double>(rho)) : std::string(", iid")) + ")";
  }
  AnalyticTarget spec_;
};

class FunnelModel : public FunctorModel<FunnelTarget> {
 public:
  explicit FunnelModel(int dim)
      : FunctorModel(FunnelTarget{dim}, dim, "funnel (" + std::to_string(dim) + " parameters)") {
    spec_.kind = AnalyticTarget::Kind::funnel;
    spec_.dim = dim;
  }
  std::string parameter_name(int index) const override {
    return index == 0 ? std::string("v") : "x[" + std::to_string(index) + "]";
  }
  const AnalyticTarget* analytic_target() const override { return &spec_; }

  Metrics metrics(const Draws& draws) const override {
    std::vector<double> v;
    v.reserve(static_cast<size_t>(draws.chains) * draws.draws);
    for (int c = 0; c < draws.chains; ++c) {
      for (int s = 0; s < draws.draws; ++s) {
        v.push_back(draws.at(c, s)[0]);
      }
    }
    return {{"kl_v", diag::funnel_kl(v.data(), v.size())}};
  }
  // kl_v reads v only.
  std::optional<std::vector<int>> metric_coordinates() const override { return std::vector<int>{0}; }

 private:
  AnalyticTarget spec_;
};

class RosenbrockModel : public FunctorModel<RosenbrockTarget> {
 public:
  RosenbrockModel() : FunctorModel(RosenbrockTarget{}, 2, "rosenbrock (2 parameters)") {
    spec_.kind = AnalyticTarget::Kind::rosenbrock;
    spec_.dim = 2;
  }
  std::string parameter_name(int index) const override { return index == 0 ? "x" : "y"; }
  const AnalyticTarget* analytic_target() const override { return &spec_; }

 private:
  AnalyticTarget spec_;
};

}  // namespace

std::unique_ptr<Model> make_gaussian_model(int dim, Real rho, std::vector<Real> scales) {
  if (dim < 1) {
    throw make_error("--dim", "must be at least 1 for the gaussian target, got " + std::to_string(dim));
  }
  if (!(rho > -1 && rho < 1)) {
    throw make_error("--rho", "must lie strictly between -1 and 1, got " + fmt::format("{:g}", static_cast<double>(rho)));
  }
  if (!scales.empty() && rho != 0) {
    throw make_error("--scales", "cannot be combined with --rho",
                     "The AR(1) target has unit marginal variances; drop one of the two");
  }
  for (Real scale : scales) {
    if (!(scale > 0) || !std::isfinite(scale)) {
      throw make_error("--scales", "every scale must be a positive finite number, got " + std::to_string(scale));
    }
  }
  if (!scales.empty() && static_cast<int>(scales.size()) != dim) {
    throw make_error("--scales", "has " + std::to_string(scales.size()) + " values for " +
                                     std::to_string(dim) + " dimensions",
                     "Give one scale per dimension");
  }
  return std::make_unique<GaussianModel>(dim, rho, std::move(scales));
}

std::unique_ptr<Model> make_funnel_model(int dim) {
  if (dim < 2) {
    throw make_error("--dim", "must be at least 2 for the funnel (v and one x), got " + std::to_string(dim));
  }
  return std::make_unique<FunnelModel>(dim);
}

std::unique_ptr<Model> make_rosenbrock_model() { return std::make_unique<RosenbrockModel>(); }

}  // namespace fmala
