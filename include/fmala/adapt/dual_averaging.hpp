#pragma once
// Dual averaging of log η during warmup (Hoffman & Gelman 2014, with Stan's
// constants γ = 0.05, t0 = 10, κ = 0.75 and μ = log(10 η0)). After warmup the
// averaged iterate η̄ is used.

#include <math.h>

#include "fmala/core/config.hpp"

namespace fmala {

struct DualAveraging {
  Real mu = 0;           // log(10 η0)
  Real h_bar = 0;        // running mean of (target − accept prob)
  Real log_step = 0;     // current log η
  Real log_step_bar = 0; // averaged log η
  Real count = 0;        // iterations so far

  static constexpr Real kGamma = Real(0.05);
  static constexpr Real kT0 = Real(10);
  static constexpr Real kKappa = Real(0.75);

  FMALA_HD static DualAveraging start(Real initial_step) {
    DualAveraging s;
    s.mu = ::log(Real(10) * initial_step);
    s.log_step = ::log(initial_step);
    s.log_step_bar = s.log_step;
    return s;
  }

  // Feeds one iteration's mean acceptance probability and returns the next η,
  // never below min_step.
  FMALA_HD Real update(Real accept_prob, Real target, Real min_step) {
    count += Real(1);
    const Real w = Real(1) / (count + kT0);
    h_bar = (Real(1) - w) * h_bar + w * (target - accept_prob);
    log_step = mu - ::sqrt(count) / kGamma * h_bar;
    const Real log_min = ::log(min_step);
    if (log_step < log_min) {
      log_step = log_min;
    }
    const Real eta = ::pow(count, -kKappa);
    log_step_bar = eta * log_step + (Real(1) - eta) * log_step_bar;
    return ::exp(log_step);
  }

  FMALA_HD Real final_step() const { return ::exp(log_step_bar); }
};

}  // namespace fmala
