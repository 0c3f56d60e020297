#include "classification_scores.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include <fmt/format.h>

#include "fmala/core/error.hpp"

namespace fmala::detail {

ClassificationScores score_classification(const std::vector<double>& p, const std::vector<int>& y,
                                          int k, int bins) {
  const size_t rows = y.size();
  ClassificationScores scores;
  if (rows == 0) {
    return scores;
  }
  std::vector<double> bin_count(static_cast<size_t>(bins), 0.0);
  std::vector<double> bin_correct(static_cast<size_t>(bins), 0.0);
  std::vector<double> bin_confidence(static_cast<size_t>(bins), 0.0);
  for (size_t n = 0; n < rows; ++n) {
    const double* row = p.data() + n * static_cast<size_t>(k);
    const int predicted = static_cast<int>(std::max_element(row, row + k) - row);
    const double confidence = row[predicted];
    const bool correct = predicted == y[n];
    scores.accuracy += correct ? 1.0 : 0.0;
    scores.nll -= std::log(row[y[n]]);
    for (int j = 0; j < k; ++j) {
      const double error = row[j] - (j == y[n] ? 1.0 : 0.0);
      scores.brier += error * error;
    }
    const int bin = std::min(bins - 1, static_cast<int>(confidence * static_cast<double>(bins)));
    bin_count[static_cast<size_t>(bin)] += 1;
    bin_correct[static_cast<size_t>(bin)] += correct ? 1.0 : 0.0;
    bin_confidence[static_cast<size_t>(bin)] += confidence;
  }
  const double total = static_cast<double>(rows);
  for (size_t b = 0; b < bin_count.size(); ++b) {
    if (bin_count[b] > 0) {
      // (n_b / N) |acc_b - conf_b| = |correct_b - Σ conf_b| / N.
      scores.ece += std::abs(bin_correct[b] - bin_confidence[b]) / total;
    }
  }
  scores.accuracy /= total;
  scores.nll /= total;
  scores.brier /= total;
  return scores;
}

void check_classification_data(const io::ClassificationData& d, const char* where,
                               const char* unit) {
  // A training split on a GPU was checked there (device_train).
  const size_t train_values = d.device_train ? d.n_train() * d.n_features : d.train_x.size();
  if (train_values != d.n_train() * d.n_features || d.test_x.size() != d.n_test() * d.n_features) {
    throw make_error(where,
                     fmt::format("features have {} training and {} test values, expected {} "
                                 "times {} features",
                                 train_values, d.test_x.size(), unit, d.n_features));
  }
  for (const std::vector<int>* labels : {&d.train_y, &d.test_y}) {
    for (size_t n = 0; n < labels->size(); ++n) {
      if ((*labels)[n] < 0 || (*labels)[n] >= d.n_classes) {
        throw make_error(where, fmt::format("{} label {} at index {} is outside 0..{}",
                                            labels == &d.train_y ? "training" : "test",
                                            (*labels)[n], n, d.n_classes - 1));
      }
    }
  }
}

void check_classification_settings(Real prior_sd, int tile, int predictive_draws_per_chain,
                                   int ece_bins) {
  if (!(prior_sd > 0) || !std::isfinite(prior_sd)) {
    throw make_error("prior_sd", fmt::format("must be positive and finite, got {}", prior_sd));
  }
  if (tile < 1) {
    throw make_error("tile", fmt::format("must be at least 1, got {}", tile));
  }
  if (predictive_draws_per_chain < 1) {
    throw make_error("predictive_draws_per_chain",
                     fmt::format("must be at least 1, got {}", predictive_draws_per_chain));
  }
  if (ece_bins < 1) {
    throw make_error("ece_bins", fmt::format("must be at least 1, got {}", ece_bins));
  }
}

}  // namespace fmala::detail
