#pragma once
// The OpenMP loops over chains that the data models share (internal header):
// each thread makes its own scratch once and evaluates its chains in order,
// so results do not depend on the thread count.

#include <cstddef>
#include <memory>
#include <string>

#include "fmala/ad/jet.hpp"
#include "fmala/core/config.hpp"
#include "fmala/core/error.hpp"

namespace fmala::detail {

// Throws fmala::Error when the data set's training rows are on a GPU
// (device_train is set), where only the CUDA back end evaluates them.
template <class DeviceSplit>
void require_host_data(const std::shared_ptr<const DeviceSplit>& device_train) {
  if (device_train) {
    throw make_error("--backend cpu",
                     "the training arrays are on GPU " + std::to_string(device_train->device) +
                         ", where only --backend cuda evaluates them",
                     "Pass backend='cuda', or copy the arrays to the host");
  }
}

// Fills f, d and h (C) from chain_jet(theta_k, u_k, order, scratch) for each
// chain k of theta and direction (C, D). Throws fmala::Error naming `where`
// for an order other than 0, 1 or 2.
template <class MakeScratch, class ChainJet>
void jet_over_chains(const char* where, int chains, size_t dim, const Real* theta,
                     const Real* direction, int order, Real* f, Real* d, Real* h,
                     const MakeScratch& make_scratch, const ChainJet& chain_jet) {
  if (order < 0 || order > 2) {
    throw make_error(where, "order must be 0, 1 or 2, got " + std::to_string(order));
  }
#pragma omp parallel
  {
    auto scratch = make_scratch();
#pragma omp for schedule(static)
    for (int k = 0; k < chains; ++k) {
      const Real* u = order >= 1 ? direction + k * dim : nullptr;
      const Jet<Real> y = chain_jet(theta + k * dim, u, order, scratch);
      f[k] = y.val;
      if (order >= 1) {
        d[k] = y.d;
      }
      if (order >= 2) {
        h[k] = y.d2;
      }
    }
  }
}

// Fills f (C) and g (C, D) from chain_gradient(theta_k, g_k, scratch).
template <class MakeScratch, class ChainGradient>
void gradient_over_chains(int chains, size_t dim, const Real* theta, Real* f, Real* g,
                          const MakeScratch& make_scratch, const ChainGradient& chain_gradient) {
#pragma omp parallel
  {
    auto scratch = make_scratch();
#pragma omp for schedule(static)
    for (int k = 0; k < chains; ++k) {
      f[k] = chain_gradient(theta + k * dim, g + k * dim, scratch);
    }
  }
}

}  // namespace fmala::detail
