#pragma once
// fmala::Model: a log-density evaluated for many chains at once.
//
// Buffers are chain-major: theta and direction are (C, D), per-chain outputs
// are (C). A model returns, per chain, f = log π(θ) up to a constant and,
// along a direction u, d = ∇f(θ)·u and h = uᵀ∇²f(θ)u (the "jet"), or the full
// gradient for reverse-mode samplers.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fmala/core/config.hpp"

namespace fmala {

// Kept draws of one sampler: values (C, S, D), the log-density (C, S) and the
// sampler statistics of every kept draw (C, S).
struct Draws {
  int chains = 0;
  int draws = 0;
  int dim = 0;
  std::vector<Real> values;       // (C, S, D) chain-major
  std::vector<Real> log_density;  // (C, S)
  // Per kept draw, (C, S) each; empty when the draws were not made by a run.
  // The transition that made the draw: min(1, α) and the step size η.
  std::vector<Real> accept_prob;
  std::vector<Real> step_size;
  // Counts over the `thin` transitions since the previous kept draw (or the
  // end of warmup): accepted proposals, proposals rejected for a non-finite
  // value, and curvatures that took the floor.
  std::vector<int64_t> accepted;
  std::vector<int64_t> nonfinite;
  std::vector<int64_t> floor_hits;

  bool has_statistics() const {
    const size_t cells = static_cast<size_t>(chains) * static_cast<size_t>(draws);
    return accept_prob.size() == cells && step_size.size() == cells && accepted.size() == cells &&
           nonfinite.size() == cells && floor_hits.size() == cells;
  }

  const Real* at(int chain, int draw) const {
    return values.data() + (static_cast<size_t>(chain) * draws + draw) * dim;
  }
};

// Class probabilities of a classifier's posterior-mean predictive on its test
// split, with the test labels.
struct TestPredictive {
  int classes = 0;
  std::vector<double> probabilities;  // (rows, classes) row-major
  std::vector<int> labels;            // (rows)
};

// Pointers to the last min(per_chain, S) kept draws of every chain, chain by
// chain, for posterior predictive metrics; empty when there are no draws.
// Throws fmala::Error naming `where` when the draws do not have `dim`
// parameters or their buffer has the wrong size.
std::vector<const Real*> last_draws_per_chain(const Draws& draws,
                                              int dim,
                                              int per_chain,
                                              const std::string& where);

// Task metrics by name (kl_v, rmse, nll, ...), in the units the model states.
using Metrics = std::map<std::string, double>;

// Description of a built-in analytic target, from which a back end other than
// the CPU one (CUDA) builds its own evaluator.
struct AnalyticTarget {
  enum class Kind { gaussian, funnel, rosenbrock };
  Kind kind = Kind::gaussian;
  int dim = 1;
  Real rho = 0;              // gaussian: AR(1) correlation
  std::vector<Real> scales;  // gaussian: standard deviations, empty for all ones
};

// Description of a network model (dense, convolution and pooling layers,
// each dense or convolution layer followed by an elementwise activation, with
// a Gaussian or categorical likelihood and isotropic Gaussian priors), from
// which a back end other than the CPU one (CUDA) builds its own evaluator.
// Images are NHWC, as in NetworkClassifier. The pointers refer to the model's
// training data and stay valid as long as the model.
struct NetworkSpec {
  enum class Activation { identity, relu, tanh, sigmoid, softplus };
  enum class Likelihood { gaussian, categorical };
  struct Layer {
    enum class Kind { dense, conv2d, avg_pool, max_pool };
    int in = 0;   // input values per row (per image)
    int out = 0;  // output values per row
    // dense: W (in, out) row-major; conv2d: W (k, k, in_c, out_c) row-major.
    // Offsets in a chain's parameter vector; unused for pooling.
    size_t w_offset = 0;
    size_t b_offset = 0;  // b (out) for dense, (out_c) for conv2d
    Activation activation = Activation::identity;  // applied to the layer's output
    Kind kind = Kind::dense;
    // conv2d and pooling: the image shapes (height, width, channels); the
    // convolution's k×k window, stride and the zero rows and columns before
    // the first (SAME padding). Pooling: 2×2 windows with stride 2, odd
    // edges dropped.
    int in_h = 1, in_w = 1, in_c = 1;
    int out_h = 1, out_w = 1, out_c = 1;
    int kernel = 1, stride = 1, pad_top = 0, pad_left = 0;
  };
  std::vector<Layer> layers;
  Likelihood likelihood = Likelihood::gaussian;
  const double* x = nullptr;    // training inputs (rows, layers[0].in) row-major
  const double* y = nullptr;    // gaussian: targets (rows)
  const int* labels = nullptr;  // categorical: labels (rows) in [0, classes)
  size_t rows = 0;
  // x, y and labels are in the memory the back end computes in (a CUDA
  // device's for --backend cuda) and outlive the evaluator, which then reads
  // them in place instead of copying them.
  bool data_on_device = false;
  int classes = 0;            // categorical: the last layer's outputs
  size_t prior_count = 0;     // parameters [0, prior_count) have the N(0, prior_sd²) prior
  Real prior_sd = 1;
  // gaussian: σ = noise_sd, or, with learn_noise, log σ = θ[prior_count] with
  // a N(log_noise_prior_mean, log_noise_prior_sd²) prior.
  bool learn_noise = false;
  Real noise_sd = 1;
  Real log_noise_prior_mean = 0;
  Real log_noise_prior_sd = 1;
  bool temper = false;  // divide the whole log density by rows
  int tile = 256;       // training rows per tile
};

class Model {
 public:
  virtual ~Model() = default;

  virtual int dim() const = 0;
  // One line for logs and summaries, e.g. "funnel (11 parameters)".
  virtual std::string description() const = 0;
  virtual std::string parameter_name(int index) const { return "theta[" + std::to_string(index) + "]"; }

  // Evaluates f and, for order >= 1, d along direction; for order 2 also h.
  // Pointers for orders not requested may be null. Host buffers.
  virtual void jet(int chains,
                   const Real* theta,
                   const Real* direction,
                   int order,
                   Real* f,
                   Real* d,
                   Real* h) const = 0;

  // Evaluates f and the gradient g (C, D). Host buffers.
  virtual void gradient(int chains, const Real* theta, Real* f, Real* g) const = 0;

  // Writes the initial states (C, D) of chains [first, first + chains).
  // The default is 0.1·N(0, I) from each chain's own stream.
  virtual void initial_state(uint64_t seed, int first_chain, int chains, Real* theta) const;

  // Task metrics from the kept draws (for example kl_v for the funnel, test
  // RMSE and NLL for regression). The default computes none.
  virtual Metrics metrics(const Draws& /*draws*/) const { return {}; }
  // The posterior-mean predictive of a classifier on its test split, from
  // the draws that metrics() uses; empty for other models.
  virtual TestPredictive test_predictive(const Draws& /*draws*/) const { return {}; }

  // The coordinates metrics() reads, when it reads only those, as columns
  // 0, 1, ... of its draws in this order: a streaming run then computes the
  // metrics from their traces. nullopt when metrics() needs whole draws; a
  // streaming run then keeps the last K draws of every chain for it.
  virtual std::optional<std::vector<int>> metric_coordinates() const { return std::vector<int>{}; }

  // Number of log-density evaluations per call of jet() or gradient(), per
  // chain, in units of data points (1 for analytic targets).
  virtual double cost_units() const { return 1.0; }

  // Bytes of scratch memory one CPU thread uses while it evaluates jet()
  // (gradient = false) or gradient() (true), for memory estimates. The
  // default, for models whose scratch is small, is 0.
  virtual size_t workspace_bytes(bool /*gradient*/) const { return 0; }

  // The built-in analytic target this model evaluates, or null for other models.
  virtual const AnalyticTarget* analytic_target() const { return nullptr; }
  // The network this model evaluates, or null for other models.
  virtual const NetworkSpec* network_spec() const { return nullptr; }
};

}  // namespace fmala
