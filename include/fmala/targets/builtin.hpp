#pragma once
// Factories for the built-in analytic targets as Models.

#include <memory>
#include <vector>

#include "fmala/model/model.hpp"

namespace fmala {

// N(0, Σ): diagonal with the given scales (all ones when empty), or AR(1)
// correlation ρ^|i−j| when rho != 0.
std::unique_ptr<Model> make_gaussian_model(int dim, Real rho, std::vector<Real> scales = {});

// Neal's funnel with `dim` parameters, v included (the "10-D funnel" is dim 11).
// Metric: kl_v = KL(N(0, 3²) ‖ N(m, s²)) of the pooled v draws.
std::unique_ptr<Model> make_funnel_model(int dim);

// The 2-D Rosenbrock banana.
std::unique_ptr<Model> make_rosenbrock_model();

}  // namespace fmala
