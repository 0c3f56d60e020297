#pragma once
// MCMC convergence diagnostics for one scalar quantity: rank-normalised split R-hat, bulk and
// tail effective sample size (ESS) and Monte Carlo standard errors (MCSE), as defined by
// Vehtari, Gelman, Simpson, Carpenter and Bürkner (2021), "Rank-normalization, folding, and
// localization: an improved R-hat for assessing convergence of MCMC", Bayesian Analysis 16(2).
// The formulas follow ArviZ 0.23.4 (arviz/stats/diagnostics.py), and tests/test_diagnostics.cpp
// checks R-hat, ESS, MCSE and summarize against ArviZ to 1e-6 relative on the draws in
// tests/data/diagnostics.
// nested_rhat adds nested R-hat for many short chains grouped in superchains. Its definition and
// conventions are documented at its declaration, and the rest of this comment does not apply to
// it.
//
// Layout: x contains one quantity as (chains, draws), chain-major: x[c * draws + s].
//
// Algorithm, as in ArviZ:
//   * Splitting: each chain becomes two chains, its first floor(draws/2) and its last
//     floor(draws/2) draws. With an odd draw count the middle draw is dropped.
//   * Rank normalisation: the pooled split draws are ranked (ties get their average rank r)
//     and mapped to z = Phi^-1((r - 3/8) / (N + 1/4)), N the pooled count (Blom 1958).
//   * Autocovariance: per chain by FFT of the centred draws, zero-padded to a power of two of
//     at least twice the draw count, divided by the draw count (biased estimator).
//   * ESS: Geyer's initial positive sequence truncates the summed autocorrelations, Geyer's
//     initial monotone sequence smooths them, and the integrated time tau is floored at
//     1 / log10(N), so ESS never exceeds N log10(N).
//
// Edge conventions (tests/test_diagnostics.cpp covers each one except infinite draws):
//   * draws < 4: rhat, every ess_* and every mcse_* return NaN. ArviZ does the same.
//     summarize still returns mean and sd, as az.summary does.
//   * One chain: rhat returns NaN, as ArviZ does, because the two halves of one chain cannot
//     show whether independent chains agree. The ESS and MCSE functions accept one chain and
//     split it into two halves, as ArviZ does.
//   * Any NaN in x: every function returns NaN, mean and sd included. ArviZ's rhat, ess and
//     mcse do the same. Infinite draws are not rejected, and the results follow IEEE
//     arithmetic.
//   * Constant draws: a transformed array whose max - min is below 1e-15 (an absolute
//     threshold, ArviZ's np.finfo(float).resolution) gets ESS equal to its size, the split
//     count 2 * chains * floor(draws/2). So for draws that are all equal, ess_bulk, ess_tail
//     and ess_mean return that count, rhat returns NaN (0/0 between- over within-chain
//     variance), mcse_mean returns 0 and mcse_sd returns NaN (0/0). All as in ArviZ.
//   * Split chains that are each constant but not all equal, such as two chains stuck at
//     different values: the within-chain variance is 0 and the between-chain variance is
//     positive. The bulk R-hat is then sqrt(+inf), so rhat returns +infinity. The folded
//     R-hat is +infinity or NaN (0/0), which leaves the maximum at +infinity, as in ArviZ.
//   * rhat is the bulk R-hat unless the folded R-hat is larger, so a NaN folded R-hat (all
//     folded draws equal, as for draws alternating between two values) yields the bulk value.
//     This is what ArviZ's max(rhat_bulk, rhat_tail) returns.
//   * Odd draw counts: rhat folds the split draws around the median of the split draws, as
//     az.rhat does. az.summary folds around the median of the unsplit draws, so its r_hat
//     differs from rhat (and from Summary::rhat) when the draw count is odd.
//
// Bad arguments (chains < 1, draws < 1, a null pointer, a coordinate out of range) throw
// fmala::Error. All functions are thread-safe because they keep no state between calls. The
// autocovariances and normal scores run on OpenMP threads, and every output element is computed
// by one thread, so results do not depend on the thread count.

#include <cstddef>

namespace fmala::diag {

// Rank-normalised split R-hat: the larger of the bulk R-hat (rank-normalised split draws) and
// the folded R-hat (rank-normalised |split draw - median|). ArviZ method "rank".
double rhat(const double* x, int chains, int draws);

// ESS of the rank-normalised split draws.
double ess_bulk(const double* x, int chains, int draws);

// Smaller of the ESS of the indicators I(x <= q05) and I(x <= q95), where q05 and q95 are the
// 5% and 95% quantiles of all draws (linear interpolation, R type 7).
double ess_tail(const double* x, int chains, int draws);

// ESS of the split draws without rank normalisation (ArviZ method "mean").
double ess_mean(const double* x, int chains, int draws);

// MCSE of the mean: sd(x, ddof = 1) / sqrt(ess_mean(x)).
double mcse_mean(const double* x, int chains, int draws);

// MCSE of the sd by the delta method on the variance, as ArviZ computes it: with
// d = (x - mean)^2, Var(var) = (mean(d^2) - mean(d)^2) / ess_mean(d) and
// mcse_sd = sqrt(Var(var) / mean(d) / 4).
double mcse_sd(const double* x, int chains, int draws);

// Columns of az.summary for one quantity, sd with ddof = 1.
struct Summary {
  double mean;
  double sd;
  double mcse_mean;
  double mcse_sd;
  double rhat;
  double ess_bulk;
  double ess_tail;
};

Summary summarize(const double* x, int chains, int draws);

// Summary of coordinate j of draws stored (chains, draws_per_chain, dim):
// value = draws[(c * draws_per_chain + s) * dim + j].
Summary summarize_coordinate(const double* draws, int chains, int draws_per_chain, int dim, int j);

// Nested R-hat of Margossian, Hoffman, Sountsov, Riou-Durand, Vehtari and Gelman (2024), "Nested
// R-hat: assessing the convergence of Markov chain Monte Carlo when running many short chains",
// Bayesian Analysis, doi:10.1214/24-BA1453 (arXiv 2110.13017). It is meant for many short chains
// run in superchains: groups of chains that start from one shared initial point.
//
// Layout: x contains one quantity as (superchains * chains_per_superchain, draws), chain-major,
// and chain c belongs to superchain c / chains_per_superchain. With K superchains, M chains per
// superchain, N draws per chain and x_{kmn} draw n of chain m of superchain k:
//   xbar_{km} = mean_n x_{kmn}          chain mean
//   xbar_k    = mean_{m,n} x_{kmn}      superchain mean
//   B  = 1/(K-1) sum_k (xbar_k - mean_k xbar_k)^2                  between superchains
//   Bc_k = 1/(M-1) sum_m (xbar_{km} - xbar_k)^2,  0 when M = 1      between chains of k
//   Wc_k = 1/M sum_m 1/(N-1) sum_n (x_{kmn} - xbar_{km})^2,  0 when N = 1
//   W  = 1/K sum_k (Bc_k + Wc_k)                                   within superchains
//   nested R-hat = sqrt(1 + B / W)
// This is the plain estimator: no rank normalisation, no folding and no splitting of chains,
// which would not work with the one or few draws per chain that the design allows. It is the
// estimator of the R package posterior's rhat_nested. Nested R-hat is at least 1 by
// construction. Margossian et al. use the threshold 1.01 (B / W < 1.01^2 - 1 = 0.0201) in
// the experiments of their published code.
//
// With one chain per superchain (M = 1), Bc_k = 0, B is the variance of the chain means and W
// is the mean within-chain variance, so nested R-hat^2 = 1 + var(chain means) / W. The basic
// (unsplit, not rank-normalised) R-hat is R-hat^2 = (N - 1) / N + var(chain means) / W, so
// nested R-hat^2 = R-hat^2 + 1 / N. Nested R-hat with M = 1 is therefore larger than the basic
// R-hat of the same chains, and not equal to it.
//
// Edge conventions (tests/test_diagnostics.cpp covers each one):
//   * Fewer than 2 superchains: NaN, because B needs two superchain means.
//   * Any NaN or infinite draw: NaN, as in posterior's rhat_nested.
//   * All draws equal: NaN (B / W is 0/0).
//   * Every superchain constant but not all equal, such as superchains stuck at different
//     values: W is 0 and B is positive, so the result is +infinity. One draw per chain and one
//     chain per superchain (N = M = 1) always gives W = 0, so the result is then +infinity or
//     NaN. posterior instead returns NA whenever any single chain is constant.
// superchains < 1, chains_per_superchain < 1, draws < 1, a null pointer or more chains than
// an int can count throw fmala::Error. The function runs on one thread.
double nested_rhat(const double* x, int superchains, int chains_per_superchain, int draws);

// KL(N(0, 3^2) || N(m, s^2)), with m and s the mean and sd (ddof = 1) of the n draws of the
// funnel's log-scale v, whose true marginal is N(0, 3^2):
// log(s / 3) + (9 + m^2) / (2 s^2) - 1/2. Returns NaN when n < 2 or a draw is NaN, and
// +infinity when all draws are equal (s = 0).
double funnel_kl(const double* v, std::size_t n);

}  // namespace fmala::diag
