#pragma once
// Scores of a posterior predictive for classification, and the input checks
// of the classification models (internal header), shared by the logistic
// regression and the network classifier.

#include <vector>

#include "fmala/core/config.hpp"
#include "fmala/io/classification_data.hpp"

namespace fmala::detail {

struct ClassificationScores {
  double accuracy = 0;
  double nll = 0;
  double ece = 0;
  double brier = 0;
};

// Scores predictive probabilities p (rows, K) row-major against labels y (rows):
//   accuracy = mean_n [argmax_k p_k(x_n) = y_n]  (ties go to the lowest k)
//   nll      = -mean_n log p_{y_n}(x_n)
//   ece      = Σ_b (n_b / N) |accuracy_b - confidence_b| over `bins` equal-width
//              bins of the confidence max_k p_k, with bin b = [b/bins, (b+1)/bins)
//              and confidence 1 in the last bin
//   brier    = mean_n Σ_k (p_k(x_n) - [k = y_n])²
// All four are 0 for no rows.
ClassificationScores score_classification(const std::vector<double>& p, const std::vector<int>& y,
                                          int k, int bins);

// Checks that x has `unit`s (rows or images) times n_features values in both
// splits and that every label is in 0..n_classes-1. Throws fmala::Error naming
// `where`.
void check_classification_data(const io::ClassificationData& data, const char* where,
                               const char* unit);

// Checks the settings the classification models share: a positive, finite
// prior sd and a tile, predictive_draws_per_chain and ece_bins of at least 1.
// Throws fmala::Error naming the setting.
void check_classification_settings(Real prior_sd, int tile, int predictive_draws_per_chain,
                                   int ece_bins);

}  // namespace fmala::detail
