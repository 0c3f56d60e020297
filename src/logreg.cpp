#include "fmala/model/logreg.hpp"

#include <cblas.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "fmala/ad/math.hpp"
#include "fmala/core/error.hpp"
#include "fmala/model/gaussian_prior.hpp"
#include "blas_util.hpp"
#include "chain_loops.hpp"
#include "classification_scores.hpp"

namespace fmala {

namespace {


// Overwrites each row (cols) of z (rows, cols) by its softmax, shifted by the
// row's maximum.
void softmax_rows(int rows, int cols, Real* z) {
  for (int n = 0; n < rows; ++n) {
    Real* row = z + static_cast<size_t>(n) * cols;
    const Real shift = *std::max_element(row, row + cols);
    Real sum = 0;
    for (int k = 0; k < cols; ++k) {
      row[k] = std::exp(row[k] - shift);
      sum += row[k];
    }
    for (int k = 0; k < cols; ++k) {
      row[k] /= sum;
    }
  }
}

}  // namespace

struct LogisticRegression::Scratch {
  int rows = 0;
  std::vector<Real> packed;  // (P, 2K): W then dW side by side, for one product
  std::vector<Real> z;       // (rows, 2K): logits, then their derivative along u
  std::vector<Jet<Real>> row;  // (K) one row's logits as jets
};

LogisticRegression::LogisticRegression(std::shared_ptr<const io::ClassificationData> data,
                                       LogisticRegressionConfig config)
    : data_(std::move(data)), config_(config) {
  const char* where = "LogisticRegression";
  if (!data_) {
    throw make_error(where, "the data set is null", "Load it with load_classification_data");
  }
  const io::ClassificationData& d = *data_;
  if (d.n_train() == 0 || d.n_features == 0) {
    throw make_error(where,
                     fmt::format("the data set has {} training rows and {} features", d.n_train(),
                                 d.n_features),
                     "Use a data set with at least one training row and one feature");
  }
  if (d.n_classes < 2) {
    throw make_error(where, fmt::format("{} classes, expected at least 2", d.n_classes));
  }
  detail::check_classification_data(d, where, "rows");
  detail::check_classification_settings(config_.prior_sd, config_.tile,
                                        config_.predictive_draws_per_chain, config_.ece_bins);
  const size_t parameters = (d.n_features + 1) * static_cast<size_t>(d.n_classes);
  if (parameters > static_cast<size_t>(std::numeric_limits<int>::max())) {
    throw make_error(where,
                     fmt::format("{} features and {} classes make {} parameters, more than an int "
                                 "can index",
                                 d.n_features, d.n_classes, parameters),
                     "Use fewer features or classes");
  }
  features_ = static_cast<int>(d.n_features);
  classes_ = d.n_classes;
  dim_ = features_ * classes_ + classes_;
  detail::use_serial_blas();

  const size_t weights = static_cast<size_t>(features_) * classes_;
  network_spec_.layers = {{features_, classes_, 0, weights, NetworkSpec::Activation::identity}};
  network_spec_.likelihood = NetworkSpec::Likelihood::categorical;
  network_spec_.x = d.device_train ? d.device_train->x.get() : d.train_x.data();
  network_spec_.labels = d.device_train ? d.device_train->labels.get() : d.train_y.data();
  network_spec_.data_on_device = d.device_train != nullptr;
  network_spec_.rows = d.n_train();
  network_spec_.classes = classes_;
  network_spec_.prior_count = static_cast<size_t>(dim_);
  network_spec_.prior_sd = config_.prior_sd;
  network_spec_.tile = config_.tile;
}

std::string LogisticRegression::description() const {
  return fmt::format("logistic regression {} feature{}, {} classes ({} parameters, {} training rows)",
                     features_, features_ == 1 ? "" : "s", classes_, dim_, data_->n_train());
}

std::string LogisticRegression::parameter_name(int index) const {
  const int weights = features_ * classes_;
  if (index >= 0 && index < weights) {
    return fmt::format("w[{},{}]", index / classes_, index % classes_);
  }
  if (index >= weights && index < dim_) {
    return fmt::format("b[{}]", index - weights);
  }
  return Model::parameter_name(index);
}

LogisticRegression::Scratch LogisticRegression::make_scratch(int rows) const {
  Scratch scratch;
  scratch.rows = rows;
  scratch.packed.resize(static_cast<size_t>(features_) * 2 * classes_);
  scratch.z.resize(static_cast<size_t>(rows) * 2 * classes_);
  scratch.row.resize(static_cast<size_t>(classes_));
  return scratch;
}

void LogisticRegression::logits(const Real* theta, const Real* direction, const double* x,
                                int rows, Scratch& scratch) const {
  const int k = classes_;
  const size_t weights = static_cast<size_t>(features_) * k;
  const Real* b = theta + weights;
  if (direction == nullptr) {
    // Z (rows, K) at the start of scratch.z, with row stride K.
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, k, features_, 1, x, features_,
                theta, k, 0, scratch.z.data(), k);
    for (int n = 0; n < rows; ++n) {
      Real* row = scratch.z.data() + static_cast<size_t>(n) * k;
      for (int j = 0; j < k; ++j) {
        row[j] += b[j];
      }
    }
    return;
  }
  // [Z | Z'] (rows, 2K) = X [W | dW] + [b | db], in one product. The caller
  // packs [W | dW] into scratch.packed once per evaluation.
  const Real* db = direction + weights;
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, 2 * k, features_, 1, x, features_,
              scratch.packed.data(), 2 * k, 0, scratch.z.data(), 2 * k);
  for (int n = 0; n < rows; ++n) {
    Real* row = scratch.z.data() + static_cast<size_t>(n) * 2 * k;
    for (int j = 0; j < k; ++j) {
      row[j] += b[j];
      row[k + j] += db[j];
    }
  }
}

Jet<Real> LogisticRegression::prior_jet(const Real* theta, const Real* direction,
                                        int order) const {
  return detail::gaussian_prior_jet(theta, direction, order, static_cast<size_t>(dim_),
                                    config_.prior_sd);
}

Jet<Real> LogisticRegression::chain_jet(const Real* theta, const Real* direction, int order,
                                        Scratch& scratch) const {
  const io::ClassificationData& data = *data_;
  const size_t n_train = data.n_train();
  const int k = classes_;
  if (order >= 1) {
    for (int i = 0; i < features_; ++i) {
      const size_t from = static_cast<size_t>(i) * k;
      Real* to = scratch.packed.data() + 2 * from;
      std::copy(theta + from, theta + from + k, to);
      std::copy(direction + from, direction + from + k, to + k);
    }
  }
  const int stride = order >= 1 ? 2 * k : k;
  Jet<Real> sum(0);
  for (size_t start = 0; start < n_train; start += static_cast<size_t>(scratch.rows)) {
    const int rows = static_cast<int>(std::min<size_t>(scratch.rows, n_train - start));
    logits(theta, order >= 1 ? direction : nullptr, data.train_x.data() + start * features_, rows,
           scratch);
    for (int n = 0; n < rows; ++n) {
      const Real* z = scratch.z.data() + static_cast<size_t>(n) * stride;
      for (int j = 0; j < k; ++j) {
        // The logits are linear in θ, so their second derivative along u is 0.
        scratch.row[j] = Jet<Real>(z[j], order >= 1 ? z[k + j] : Real(0), Real(0));
      }
      const int y = data.train_y[start + static_cast<size_t>(n)];
      sum += scratch.row[y] - log_sum_exp(scratch.row.data(), k);
    }
  }
  return sum + prior_jet(theta, direction, order);
}

void LogisticRegression::jet(int chains, const Real* theta, const Real* direction, int order,
                             Real* f, Real* d, Real* h) const {
  detail::require_host_data(data_->device_train);
  const int rows =
      static_cast<int>(std::min<size_t>(static_cast<size_t>(config_.tile), data_->n_train()));
  detail::jet_over_chains(
      "LogisticRegression::jet", chains, static_cast<size_t>(dim_), theta, direction, order, f, d, h,
      [&] { return make_scratch(rows); },
      [&](const Real* t, const Real* u, int o, Scratch& scratch) {
        return chain_jet(t, u, o, scratch);
      });
}

// Reverse mode, tile by tile: with Δ (rows, K) = onehot(y) - softmax(Z), the
// log-likelihood's gradient is Xᵀ Δ for W and the column sums of Δ for b.
Real LogisticRegression::chain_gradient(const Real* theta, Real* g, Scratch& scratch) const {
  const io::ClassificationData& data = *data_;
  const size_t n_train = data.n_train();
  const int k = classes_;
  const size_t weights = static_cast<size_t>(features_) * k;
  std::fill(g, g + dim_, Real(0));
  Real* gb = g + weights;
  double log_likelihood = 0;
  for (size_t start = 0; start < n_train; start += static_cast<size_t>(scratch.rows)) {
    const int rows = static_cast<int>(std::min<size_t>(scratch.rows, n_train - start));
    const double* x = data.train_x.data() + start * features_;
    logits(theta, nullptr, x, rows, scratch);
    for (int n = 0; n < rows; ++n) {
      Real* row = scratch.z.data() + static_cast<size_t>(n) * k;
      const int y = data.train_y[start + static_cast<size_t>(n)];
      const Real shift = *std::max_element(row, row + k);
      // log softmax(z)_y = (z_y - shift) - log Σ exp(z - shift), from z_y
      // itself because exp(z_y - shift) can underflow to 0.
      const Real shifted_y = row[y] - shift;
      Real sum = 0;
      for (int j = 0; j < k; ++j) {
        row[j] = std::exp(row[j] - shift);
        sum += row[j];
      }
      log_likelihood += shifted_y - std::log(sum);
      for (int j = 0; j < k; ++j) {
        row[j] = (j == y ? Real(1) : Real(0)) - row[j] / sum;
        gb[j] += row[j];
      }
    }
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, features_, k, rows, 1, x, features_,
                scratch.z.data(), k, 1, g, k);
  }
  const Real inv_var = Real(1) / (config_.prior_sd * config_.prior_sd);
  for (int i = 0; i < dim_; ++i) {
    g[i] -= theta[i] * inv_var;
  }
  return log_likelihood + prior_jet(theta, nullptr, 0).val;
}

void LogisticRegression::gradient(int chains, const Real* theta, Real* f, Real* g) const {
  detail::require_host_data(data_->device_train);
  const int rows =
      static_cast<int>(std::min<size_t>(static_cast<size_t>(config_.tile), data_->n_train()));
  detail::gradient_over_chains(
      chains, static_cast<size_t>(dim_), theta, f, g, [&] { return make_scratch(rows); },
      [&](const Real* t, Real* gradient, Scratch& scratch) {
        return chain_gradient(t, gradient, scratch);
      });
}

void LogisticRegression::predict(const Real* theta, const double* x, size_t rows,
                                 double* probabilities) const {
  if (rows == 0) {
    return;
  }
  const size_t tile = std::min<size_t>(static_cast<size_t>(config_.tile), rows);
  Scratch scratch = make_scratch(static_cast<int>(tile));
  const size_t k = static_cast<size_t>(classes_);
  for (size_t start = 0; start < rows; start += tile) {
    const int count = static_cast<int>(std::min(tile, rows - start));
    logits(theta, nullptr, x + start * features_, count, scratch);
    softmax_rows(count, classes_, scratch.z.data());
    std::copy(scratch.z.data(), scratch.z.data() + count * k, probabilities + start * k);
  }
}

std::vector<double> LogisticRegression::mean_probabilities(const std::vector<const Real*>& selected,
                                                           const std::vector<double>& x, size_t n_rows) const {
  const size_t count = selected.size();

  // The draws are split into at most kGroups contiguous groups, a number that
  // does not depend on the thread count. Each group is summed by one thread in
  // draw order and the groups are added in order, so the metrics are the same
  // for any thread count. A group evaluates kBatch draws per product, X times
  // [W_1 | ... | W_kBatch], which uses the BLAS far better than one draw's
  // (P, K) matrix. Rows go in chunks of kChunk, which bounds the partial sums
  // at kGroups · kChunk · K doubles (5 MiB for K = 10).
  constexpr size_t kGroups = 64;
  constexpr size_t kBatch = 16;
  constexpr size_t kChunk = 1024;
  const size_t groups = std::min(kGroups, count);
  const size_t p = static_cast<size_t>(features_);
  const size_t k = static_cast<size_t>(classes_);
  const size_t weights = p * k;

  std::vector<double> mean(n_rows * k, 0.0);
  for (size_t first = 0; first < n_rows; first += kChunk) {
    const size_t rows = std::min(kChunk, n_rows - first);
    const double* xc = x.data() + first * p;
    std::vector<std::vector<double>> partial(groups, std::vector<double>(rows * k, 0.0));
#pragma omp parallel
    {
      std::vector<double> packed(p * k * kBatch);
      std::vector<double> z(rows * k * kBatch);
#pragma omp for schedule(dynamic)
      for (size_t group = 0; group < groups; ++group) {
        const size_t begin = group * count / groups;
        const size_t end = (group + 1) * count / groups;
        for (size_t m0 = begin; m0 < end; m0 += kBatch) {
          const size_t batch = std::min(kBatch, end - m0);
          const size_t width = batch * k;
          for (size_t i = 0; i < p; ++i) {
            for (size_t m = 0; m < batch; ++m) {
              std::copy(selected[m0 + m] + i * k, selected[m0 + m] + (i + 1) * k,
                        packed.data() + i * width + m * k);
            }
          }
          cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(rows),
                      static_cast<int>(width), features_, 1, xc, features_, packed.data(),
                      static_cast<int>(width), 0, z.data(), static_cast<int>(width));
          std::vector<double>& sums = partial[group];
          for (size_t n = 0; n < rows; ++n) {
            for (size_t m = 0; m < batch; ++m) {
              Real* row = z.data() + n * width + m * k;
              const Real* b = selected[m0 + m] + weights;
              for (size_t j = 0; j < k; ++j) {
                row[j] += b[j];
              }
              softmax_rows(1, classes_, row);
              for (size_t j = 0; j < k; ++j) {
                sums[n * k + j] += row[j];
              }
            }
          }
        }
      }
    }
    for (size_t group = 0; group < groups; ++group) {
      for (size_t i = 0; i < rows * k; ++i) {
        mean[first * k + i] += partial[group][i];
      }
    }
  }
  for (double& value : mean) {
    value /= static_cast<double>(count);
  }
  return mean;
}

Metrics LogisticRegression::metrics(const Draws& draws) const {
  const std::vector<const Real*> selected = last_draws_per_chain(
      draws, dim_, config_.predictive_draws_per_chain, "LogisticRegression::metrics");
  if (selected.empty()) {
    return {};
  }

  Metrics out;
  if (data_->n_test() > 0) {
    const detail::ClassificationScores test =
        detail::score_classification(mean_probabilities(selected, data_->test_x, data_->n_test()),
                                     data_->test_y, classes_, config_.ece_bins);
    out["accuracy"] = test.accuracy;
    out["nll"] = test.nll;
    out["ece"] = test.ece;
    out["brier"] = test.brier;
  }
  // A training split on a GPU has no host copy to score.
  if (!data_->device_train) {
    const detail::ClassificationScores train =
        detail::score_classification(mean_probabilities(selected, data_->train_x, data_->n_train()),
                                     data_->train_y, classes_, config_.ece_bins);
    out["train_accuracy"] = train.accuracy;
  }
  return out;
}

TestPredictive LogisticRegression::test_predictive(const Draws& draws) const {
  const std::vector<const Real*> selected = last_draws_per_chain(
      draws, dim_, config_.predictive_draws_per_chain, "LogisticRegression::test_predictive");
  TestPredictive out;
  if (selected.empty() || data_->n_test() == 0) {
    return out;
  }
  out.classes = classes_;
  out.probabilities = mean_probabilities(selected, data_->test_x, data_->n_test());
  out.labels = data_->test_y;
  return out;
}

}  // namespace fmala
