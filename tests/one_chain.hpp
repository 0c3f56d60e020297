#pragma once
// Buffers of a single chain, for tests that drive the sampler phases by hand
// with explicit state, tangents and noise.

#include <cstdint>
#include <vector>

#include "fmala/samplers/phases.hpp"

namespace fmala::testing {

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
    fmala::Real* s = scalars.data();
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
    b.accept_prob_sum = s + 15;
    b.line_t = s + 16;
    b.momentum = s + 17;
    b.kinetic_start = s + 18;
    b.leapfrog_step = s + 19;
    b.n_accepted = counters.data();
    b.n_nonfinite = counters.data() + 1;
    b.n_floor = counters.data() + 2;
  }
  std::vector<fmala::Real> theta, theta_prop, tangent, tangent_prop, noise, grad, grad_prop, scalars;
  std::vector<int64_t> counters;
  fmala::ChainBuffers b;
};

}  // namespace fmala::testing
