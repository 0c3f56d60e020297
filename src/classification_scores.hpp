#pragma once
// Scores of a posterior predictive for classification (internal header),
// shared by the logistic regression and the network models.

#include <vector>

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

}  // namespace fmala::detail
