#pragma once
// LogisticRegression: a Bayesian multinomial logistic regression (softmax
// regression) for image classification on the CPU back end, evaluated for
// many chains at once.
//
// Model: p(y_n = k | x_n) = softmax(x_n W + b)_k with independent N(0, prior_sd²)
// priors on every weight and bias. The log density is the full log joint:
//
//   f(θ) = Σ_n log softmax(x_n W + b)[y_n] + Σ_i log N(θ_i; 0, prior_sd²),
//
// the prior's normalising constant -D (log prior_sd + log(2π) / 2) included.
// The categorical likelihood has no constant. The log-softmax is formed as
// z_y - log_sum_exp(z), shifted by max z, so large logits do not overflow.
//
// Parameter layout (D = P·K + K values per chain): W as a (P, K) row-major
// matrix, then b (K). For Fashion-MNIST, P = 784 and K = 10, so D = 7,850.
//
// Evaluation streams the training data in tiles of `tile` rows: jet() forms the
// logits and their derivative along u for one tile with two CBLAS products and
// runs the log-softmax in Jet arithmetic (the logits are linear in θ, so their
// second derivative is 0). gradient() is hand-written reverse mode:
// ∂f/∂W = Xᵀ (onehot(y) - softmax(Z)), ∂f/∂b = Σ_n (onehot(y_n) - softmax(z_n)),
// plus the prior's -θ / prior_sd². Each chain is evaluated by one thread in a
// fixed order and the BLAS runs each call on the calling thread (OpenBLAS's
// pthreads build is set to one thread, as for MlpRegression), so with a given
// BLAS the results are bit-identical for any OpenMP thread count.

#include <memory>
#include <string>
#include <vector>

#include "fmala/ad/jet.hpp"
#include "fmala/core/config.hpp"
#include "fmala/io/classification_data.hpp"
#include "fmala/model/model.hpp"

namespace fmala {

struct LogisticRegressionConfig {
  Real prior_sd = 1.0;  // N(0, prior_sd²) on every weight and bias
  int tile = 256;       // training rows per tile
  // metrics() uses the last min(predictive_draws_per_chain, S) kept draws of
  // every chain.
  int predictive_draws_per_chain = 100;
  int ece_bins = 100;  // equal-width confidence bins of the expected calibration error
};

class LogisticRegression : public Model {
 public:
  // Throws fmala::Error for a null data set, one without training rows or
  // features, fewer than 2 classes, inconsistent shapes, a label outside
  // 0..K-1, a non-positive or non-finite prior_sd, or a tile,
  // predictive_draws_per_chain or ece_bins below 1. Sets OpenBLAS's pthreads build to one
  // thread.
  LogisticRegression(std::shared_ptr<const io::ClassificationData> data,
                     LogisticRegressionConfig config);

  int dim() const override { return dim_; }
  // For example "logistic regression 784 features, 10 classes (7850 parameters, 1000 training rows)".
  std::string description() const override;
  // "w[i,k]" (weight from feature i to class k) and "b[k]".
  std::string parameter_name(int index) const override;

  // theta and direction are (C, D) chain-major; f, d and h are (C).
  void jet(int chains, const Real* theta, const Real* direction, int order, Real* f, Real* d,
           Real* h) const override;

  // theta and g are (C, D) chain-major; f is (C).
  void gradient(int chains, const Real* theta, Real* f, Real* g) const override;

  // Scores the posterior-mean predictive p̄(x) = (1/M) Σ_m softmax(x W_m + b_m)
  // over the last min(predictive_draws_per_chain, S) draws of every chain,
  // M draws in all. On the test split:
  //   accuracy = mean_n [argmax_k p̄_k(x_n) = y_n]  (ties go to the lowest k)
  //   nll      = -mean_n log p̄_{y_n}(x_n)
  //   ece      = Σ_b (n_b / N) |accuracy_b - confidence_b| over B = ece_bins
  //              equal-width bins of the confidence max_k p̄_k, with bin
  //              b = [b/B, (b+1)/B) and confidence 1 in the last bin
  //   brier    = mean_n Σ_k (p̄_k(x_n) - [k = y_n])²
  // and "train_accuracy" on the training split. Test entries are omitted when
  // the test split is empty. Returns no metrics when there are no draws. The
  // result does not depend on the thread count. Throws fmala::Error when
  // draws.dim differs from dim() or the value buffer has the wrong size.
  Metrics metrics(const Draws& draws) const override;
  // The posterior-mean class probabilities on the test split that metrics()
  // scores.
  TestPredictive test_predictive(const Draws& draws) const override;
  // The predictive metrics need whole draws.
  std::optional<std::vector<int>> metric_coordinates() const override { return std::nullopt; }

  // One evaluation costs one pass over the N training rows.
  double cost_units() const override { return static_cast<double>(data_->n_train()); }

  // Writes the class probabilities (rows, K) of features x (rows, P) at one
  // parameter vector theta (D).
  void predict(const Real* theta, const double* x, size_t rows, double* probabilities) const;

  // The model as a one-layer NetworkSpec, for back ends other than the CPU one.
  const NetworkSpec* network_spec() const override { return &network_spec_; }

  const LogisticRegressionConfig& config() const { return config_; }
  const io::ClassificationData& data() const { return *data_; }

 private:
  // The posterior-mean class probabilities (rows, K) of features x over the
  // draws `selected`, summed in an order that does not depend on the thread
  // count.
  std::vector<double> mean_probabilities(const std::vector<const Real*>& selected, const std::vector<double>& x,
                                         size_t n_rows) const;
  struct Scratch;
  Scratch make_scratch(int rows) const;
  // Writes the logits Z (rows, K) = X W + b, and for order >= 1 also their
  // derivative along the direction, Z' = X dW + db, into scratch.
  void logits(const Real* theta, const Real* direction, const double* x, int rows,
              Scratch& scratch) const;
  Jet<Real> chain_jet(const Real* theta, const Real* direction, int order, Scratch& scratch) const;
  Real chain_gradient(const Real* theta, Real* g, Scratch& scratch) const;
  Jet<Real> prior_jet(const Real* theta, const Real* direction, int order) const;

  std::shared_ptr<const io::ClassificationData> data_;
  LogisticRegressionConfig config_;
  int features_ = 0;  // P
  int classes_ = 0;   // K
  int dim_ = 0;       // P·K + K
  NetworkSpec network_spec_;
};

}  // namespace fmala
