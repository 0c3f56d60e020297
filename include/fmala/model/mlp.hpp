#pragma once
// MlpRegression: a Bayesian multilayer perceptron for regression on the CPU
// back end, evaluated for many chains at once.
//
// Model: y_n ~ N(net(x_n; W, b), σ²) on standardised x and y, with independent
// N(0, prior_sd²) priors on every weight and bias, and either a fixed σ or
// log σ sampled with a N(log_noise_prior_mean, log_noise_prior_sd²) prior.
//
// The log density is the full log joint density log p(y, θ), normalising
// constants of the Gaussian likelihood and of both priors included:
//
//   f(θ) = Σ_n log N(y_n; net(x_n), σ²) + Σ_i log N(θ_i; 0, prior_sd²)
//          + log N(log σ; log_noise_prior_mean, log_noise_prior_sd²)
//
// (the last term only when log σ is sampled), divided by N when tempering is on.
//
// Parameter layout (D values per chain): each layer l in turn stores W_l as an
// (in, out) row-major matrix, then b_l (out). log σ comes last when it is
// sampled. A network with P inputs and one hidden layer of H units has
// P·H + H + H + 1 weights and biases, e.g. 8·50 + 50 + 50 + 1 = 501 for 8
// features and H = 50, plus 1 for log σ.
//
// Evaluation streams the training data in tiles of `tile` rows, so memory does
// not grow with N: jet() keeps the value, first and second directional
// derivative of one layer's input and output for one tile, gradient() keeps the
// activations of every layer for one tile. Each chain is evaluated by one
// thread in a fixed order, so with a given BLAS the results are bit-identical
// for any OpenMP thread count.
//
// The dense products are CBLAS calls (cblas_dgemm, cblas_dgemv), one chain per
// OpenMP thread. The BLAS must therefore run each call on the calling thread:
// a sequential or OpenMP build. For OpenBLAS's pthreads build (Debian's default
// libopenblas0) the constructor sets OpenBLAS to one thread for the whole
// process, overriding OPENBLAS_NUM_THREADS.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fmala/ad/jet.hpp"
#include "fmala/core/config.hpp"
#include "fmala/io/regression_data.hpp"
#include "fmala/model/model.hpp"

namespace fmala {

struct MlpConfig {
  std::vector<int> hidden = {50};  // hidden layer widths, each at least 1; may be empty
  enum class Activation { relu, tanh } activation = Activation::relu;
  Real prior_sd = 1.0;      // N(0, prior_sd²) on every weight and bias
  bool learn_noise = true;  // sample log σ as the last parameter
  Real noise_sd = 0.1;      // fixed σ in standardised units of y, used when learn_noise is false
  // Prior N(mean, sd²) on log σ. The default is weakly informative, centred at
  // σ = e^-1 ≈ 0.37 standard deviations of the target, with one unit of sd on
  // the log scale (σ between 0.14 and 1 at ±1 sd).
  Real log_noise_prior_mean = -1.0;
  Real log_noise_prior_sd = 1.0;
  // Divides the whole log posterior (value and derivatives) by the number of
  // training points N.
  bool temper = false;
  int tile = 256;  // training rows per tile
  // metrics() uses the last min(predictive_draws_per_chain, S) kept draws of
  // every chain, so the posterior predictive costs at most this many forward
  // passes per chain whatever the run length.
  int predictive_draws_per_chain = 100;
};

class MlpRegression : public Model {
 public:
  // Throws fmala::Error for a null or empty data set, inconsistent data shapes,
  // a hidden width below 1, a non-positive or non-finite prior_sd, noise_sd
  // (when used) or log_noise_prior_sd, a non-finite log_noise_prior_mean, or a
  // tile or predictive_draws_per_chain below 1. Sets OpenBLAS's pthreads build
  // to one thread (see above).
  MlpRegression(std::shared_ptr<const io::RegressionData> data, MlpConfig config);

  int dim() const override { return dim_; }
  // For example "mlp regression 8-50-1 relu, learned noise (502 parameters, 927 training rows)".
  std::string description() const override;
  // "w<l>[i,j]" (weight from input i to unit j of layer l), "b<l>[j]", "log_sigma".
  std::string parameter_name(int index) const override;

  // theta and direction are (C, D) chain-major; f, d and h are (C).
  void jet(int chains, const Real* theta, const Real* direction, int order, Real* f, Real* d,
           Real* h) const override;

  // theta and g are (C, D) chain-major; f is (C). Reverse mode.
  void gradient(int chains, const Real* theta, Real* f, Real* g) const override;

  // He-normal weights, W ~ N(0, 2/fan_in) for relu and N(0, 1/fan_in) for
  // tanh, zero biases and log σ = log 0.5. Chain k draws from
  // Stream(seed, k, -1, Draw::init) only, one normal per weight in parameter
  // order, so its start depends on nothing but (seed, k).
  void initial_state(uint64_t seed, int first_chain, int chains, Real* theta) const override;

  // Computes the posterior predictive of the last min(predictive_draws_per_chain,
  // S) draws of every chain, M draws in all, in original units of y:
  //   rmse = sqrt(mean_n (y_n - mean_m μ_m(x_n))²)
  //   nll  = -mean_n log((1/M) Σ_m N(y_n; μ_m(x_n), σ_m²))
  // on the test split ("rmse", "nll") and the training split ("train_rmse",
  // "train_nll"). The last draws of a chain are the furthest from its start.
  // The cost is M forward passes over both splits, in double precision. Test
  // entries are omitted when the test split is empty. Returns no metrics when
  // there are no draws. Throws fmala::Error when draws.dim differs from dim()
  // or the value buffer has the wrong size.
  Metrics metrics(const Draws& draws) const override;
  // The predictive metrics need whole draws.
  std::optional<std::vector<int>> metric_coordinates() const override { return std::nullopt; }

  // One evaluation costs one pass over the N training rows.
  double cost_units() const override { return static_cast<double>(data_->n_train()); }

  // Writes the network output μ(x_n) (rows), on the standardised scale of y,
  // for standardised inputs x (rows, P) row-major and one parameter vector
  // theta (D).
  void predict(const Real* theta, const double* x, size_t rows, double* mean) const;
  // σ in standardised units of y at theta (D): exp(log σ) or the fixed noise_sd.
  Real noise_sd(const Real* theta) const;

  // The network as a NetworkSpec, for back ends other than the CPU one.
  const NetworkSpec* network_spec() const override { return &network_spec_; }

  const MlpConfig& config() const { return config_; }
  const io::RegressionData& data() const { return *data_; }

  // One dense layer: the offsets of W_l (in, out) and b_l (out) in a chain's
  // parameter vector.
  struct Layer {
    int in = 0;
    int out = 0;
    size_t w_offset = 0;
    size_t b_offset = 0;
  };
  const std::vector<Layer>& layers() const { return layers_; }

 private:
  struct Scratch;
  Jet<Real> chain_jet(const Real* theta, const Real* direction, int order, Scratch& scratch) const;
  Real chain_gradient(const Real* theta, Real* g, Scratch& scratch) const;
  Jet<Real> prior_jet(const Real* theta, const Real* direction, int order) const;
  Scratch make_scratch(int rows, bool gradient) const;
  // Writes μ(x_n) for `rows` rows of x, tile by tile with scratch.rows rows.
  void forward(const Real* theta, const double* x, size_t rows, double* mean,
               Scratch& scratch) const;

  std::shared_ptr<const io::RegressionData> data_;
  MlpConfig config_;
  std::vector<Layer> layers_;
  int dim_ = 0;
  int max_width_ = 0;
  size_t n_weights_ = 0;  // weights and biases, without log σ
  NetworkSpec network_spec_;
};

}  // namespace fmala
