// Rank-normalised split R-hat, ESS and MCSE. The formulas, thresholds and operation order
// follow ArviZ 0.23.4 (arviz/stats/diagnostics.py and stats_utils.py) so that results agree
// with it to rounding. The conventions are documented in diagnostics.hpp.

#include "fmala/diagnostics/diagnostics.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstddef>
#include <limits>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

#include "fmala/core/error.hpp"

namespace fmala::diag {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Fewer draws per chain than this give NaN diagnostics, as in ArviZ.
constexpr int kMinDraws = 4;

// Fewer chains than this give a NaN R-hat, as in ArviZ.
constexpr int kMinRhatChains = 2;

// ArviZ treats an array as constant when max - min is below np.finfo(float).resolution.
constexpr double kConstantThreshold = 1e-15;

// Blom's offset for the rank back-transformation (r - c) / (N - 2c + 1).
constexpr double kBlomOffset = 3.0 / 8.0;

// One quantity as (chains, draws), chain-major.
struct ChainMatrix {
  int chains = 0;
  int draws = 0;
  std::vector<double> values;

  const double* chain(int c) const { return values.data() + static_cast<std::size_t>(c) * draws; }
};

void validate_draws(const char* where, const double* x, int chains, int draws) {
  if (chains < 1) {
    throw make_error(where, "chains is " + std::to_string(chains) + ", expected at least 1",
                     "Pass draws shaped (chains, draws) with at least one chain");
  }
  if (draws < 1) {
    throw make_error(where, "draws is " + std::to_string(draws) + ", expected at least 1",
                     "Pass draws shaped (chains, draws) with at least one draw per chain");
  }
  if (x == nullptr) {
    throw make_error(where, "the draws pointer is null", "Pass a buffer of chains * draws doubles");
  }
}

std::size_t count(int chains, int draws) {
  return static_cast<std::size_t>(chains) * static_cast<std::size_t>(draws);
}

bool contains_nan(const double* x, std::size_t n) {
  return std::any_of(x, x + n, [](double value) { return std::isnan(value); });
}

// Shared validity rule of ArviZ's rhat, ess and mcse: at least 4 draws and no NaN.
bool diagnostics_defined(const double* x, int chains, int draws) {
  return draws >= kMinDraws && !contains_nan(x, count(chains, draws));
}

// ArviZ's rhat needs two chains as well: the two halves of a single chain are not
// independent starts, so they cannot show that the chains mix.
bool rhat_defined(const double* x, int chains, int draws) {
  return chains >= kMinRhatChains && diagnostics_defined(x, chains, draws);
}

double mean_of(const double* x, std::size_t n) {
  double sum = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    sum += x[i];
  }
  return sum / static_cast<double>(n);
}

// Two-pass variance with n - ddof in the denominator, as numpy's var.
double variance_of(const double* x, std::size_t n, int ddof) {
  const double mean = mean_of(x, n);
  double sum_squares = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double deviation = x[i] - mean;
    sum_squares += deviation * deviation;
  }
  return sum_squares / (static_cast<double>(n) - ddof);
}

// Python's max(a, b) and min(a, b): the first argument wins unless the second compares
// strictly greater (smaller), so a NaN in the second position is ignored.
double python_max(double a, double b) { return b > a ? b : a; }
double python_min(double a, double b) { return b < a ? b : a; }

// ArviZ's _split_chains: the first halves of all chains, then the last halves of all chains.
ChainMatrix split_chains(const double* x, int chains, int draws) {
  const int half = draws / 2;
  ChainMatrix split;
  split.chains = 2 * chains;
  split.draws = half;
  split.values.resize(count(split.chains, half));
  for (int c = 0; c < chains; ++c) {
    const double* source = x + static_cast<std::size_t>(c) * draws;
    std::copy(source, source + half, split.values.begin() + static_cast<std::ptrdiff_t>(c) * half);
    std::copy(source + (draws - half), source + draws,
              split.values.begin() + static_cast<std::ptrdiff_t>(chains + c) * half);
  }
  return split;
}

// Standard normal quantile Phi^-1(p) for 0 < p < 1. Peter Acklam's rational approximation
// (relative error 1.13e-9 against scipy.special.ndtri) is refined by one Halley step on
// Phi(x) = 0.5 erfc(-x / sqrt 2). Halley converges cubically, and the refined value is within
// 2.7e-15 of ndtri for p from 1e-15 to 1/2 (checked in Python with the same coefficients).
double normal_quantile(double p) {
  if (!(p > 0.0 && p < 1.0)) {
    if (p == 0.0) return -std::numeric_limits<double>::infinity();
    if (p == 1.0) return std::numeric_limits<double>::infinity();
    return kNaN;
  }
  // Work in the lower tail, where 0.5 erfc(-x / sqrt 2) keeps full relative accuracy.
  const bool upper = p > 0.5;
  const double tail = upper ? 1.0 - p : p;

  constexpr double kCentral[6] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                  -2.759285104469687e+02, 1.383577518672690e+02,
                                  -3.066479806614716e+01, 2.506628277459239e+00};
  constexpr double kCentralDenominator[5] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                             -1.556989798598866e+02, 6.680131188771972e+01,
                                             -1.328068155288572e+01};
  constexpr double kTail[6] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00,  2.938163982698783e+00};
  constexpr double kTailDenominator[4] = {7.784695709041462e-03, 3.224671290700398e-01,
                                          2.445134137142996e+00, 3.754408661907416e+00};
  constexpr double kTailBreak = 0.02425;

  double x = 0.0;
  if (tail < kTailBreak) {
    const double q = std::sqrt(-2.0 * std::log(tail));
    const double numerator =
        ((((kTail[0] * q + kTail[1]) * q + kTail[2]) * q + kTail[3]) * q + kTail[4]) * q + kTail[5];
    const double denominator =
        (((kTailDenominator[0] * q + kTailDenominator[1]) * q + kTailDenominator[2]) * q +
         kTailDenominator[3]) *
            q +
        1.0;
    x = numerator / denominator;
  } else {
    const double q = tail - 0.5;
    const double r = q * q;
    const double numerator =
        (((((kCentral[0] * r + kCentral[1]) * r + kCentral[2]) * r + kCentral[3]) * r +
          kCentral[4]) *
             r +
         kCentral[5]) *
        q;
    const double denominator =
        ((((kCentralDenominator[0] * r + kCentralDenominator[1]) * r + kCentralDenominator[2]) * r +
          kCentralDenominator[3]) *
             r +
         kCentralDenominator[4]) *
            r +
        1.0;
    x = numerator / denominator;
  }

  const double error = 0.5 * std::erfc(-x / std::numbers::sqrt2) - tail;
  const double ratio = error * std::sqrt(2.0 * std::numbers::pi) * std::exp(0.5 * x * x);
  x -= ratio / (1.0 + 0.5 * x * ratio);
  return upper ? -x : x;
}

// ArviZ's _z_scale: average ranks (scipy.stats.rankdata, method "average") over the pooled
// values, back-transformed to standard normal scores.
std::vector<double> z_scale(const std::vector<double>& values) {
  const std::size_t n = values.size();
  std::vector<std::pair<double, std::size_t>> sorted(n);
  for (std::size_t i = 0; i < n; ++i) {
    sorted[i] = {values[i], i};
  }
  std::sort(sorted.begin(), sorted.end());

  // Tied sorted positions first..last-1 share the average of the 1-based ranks first+1..last.
  std::vector<double> rank(n);
  std::size_t first = 0;
  while (first < n) {
    std::size_t last = first + 1;
    while (last < n && sorted[last].first == sorted[first].first) {
      ++last;
    }
    std::fill(rank.begin() + static_cast<std::ptrdiff_t>(first),
              rank.begin() + static_cast<std::ptrdiff_t>(last),
              0.5 * static_cast<double>(first + 1 + last));
    first = last;
  }

  std::vector<double> z(n);
  const double denominator = static_cast<double>(n) - 2.0 * kBlomOffset + 1.0;
  const auto signed_n = static_cast<std::ptrdiff_t>(n);
#pragma omp parallel for schedule(static)
  for (std::ptrdiff_t i = 0; i < signed_n; ++i) {
    const auto position = static_cast<std::size_t>(i);
    z[sorted[position].second] = normal_quantile((rank[position] - kBlomOffset) / denominator);
  }
  return z;
}

ChainMatrix z_scale(const ChainMatrix& matrix) {
  ChainMatrix scaled{matrix.chains, matrix.draws, z_scale(matrix.values)};
  return scaled;
}

// numpy's median: the middle value, or the mean of the two middle values.
double median_of(std::vector<double> values) {
  const std::size_t n = values.size();
  const std::size_t middle = n / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(middle),
                   values.end());
  const double upper = values[middle];
  if (n % 2 == 1) {
    return upper;
  }
  const double lower =
      *std::max_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(middle));
  return (lower + upper) / 2.0;
}

// Quantile of type 7 (linear interpolation) with the operation order of
// scipy.stats.mstats.mquantiles(alphap=1, betap=1), which ArviZ uses. Keeping that order
// reproduces ArviZ's rounding, which decides the indicator x <= q when the two order
// statistics around q are tied.
double quantile_type7(const std::vector<double>& sorted, double p) {
  const std::size_t n = sorted.size();
  if (n == 1) {
    return sorted[0];
  }
  const double m = 1.0 + p * (1.0 - 1.0 - 1.0);
  const double aleph = static_cast<double>(n) * p + m;
  const double k = std::floor(std::clamp(aleph, 1.0, static_cast<double>(n - 1)));
  const double gamma = std::clamp(aleph - k, 0.0, 1.0);
  const auto index = static_cast<std::size_t>(k);
  return (1.0 - gamma) * sorted[index - 1] + gamma * sorted[index];
}

std::size_t next_power_of_two(std::size_t n) {
  std::size_t power = 1;
  while (power < n) {
    power <<= 1;
  }
  return power;
}

// Radix-2 complex FFT of one fixed power-of-two length, with the twiddle factors
// exp(-2 pi i k / length) computed once from cos and sin, which is more accurate than
// generating them by repeated multiplication.
class PowerOfTwoFft {
 public:
  explicit PowerOfTwoFft(std::size_t length) : length_(length), twiddle_(length / 2) {
    for (std::size_t k = 0; k < length / 2; ++k) {
      const double angle =
          -2.0 * std::numbers::pi * static_cast<double>(k) / static_cast<double>(length);
      twiddle_[k] = {std::cos(angle), std::sin(angle)};
    }
  }

  std::size_t length() const { return length_; }

  // Transforms data (length() values) in place. The inverse is unnormalised, so a forward
  // and an inverse transform multiply the input by length().
  void transform(std::complex<double>* data, bool inverse) const {
    for (std::size_t i = 1, j = 0; i < length_; ++i) {
      std::size_t bit = length_ >> 1;
      for (; (j & bit) != 0; bit >>= 1) {
        j ^= bit;
      }
      j |= bit;
      if (i < j) {
        std::swap(data[i], data[j]);
      }
    }
    for (std::size_t span = 2; span <= length_; span <<= 1) {
      const std::size_t half = span / 2;
      const std::size_t stride = length_ / span;
      for (std::size_t start = 0; start < length_; start += span) {
        for (std::size_t k = 0; k < half; ++k) {
          const std::complex<double> factor =
              inverse ? std::conj(twiddle_[k * stride]) : twiddle_[k * stride];
          const std::complex<double> odd = factor * data[start + k + half];
          data[start + k + half] = data[start + k] - odd;
          data[start + k] += odd;
        }
      }
    }
  }

 private:
  std::size_t length_;
  std::vector<std::complex<double>> twiddle_;
};

// Biased autocovariance of every chain at lags 0..draws-1, laid out like the matrix:
// acov[c * draws + k] = (1/draws) sum_s (x_s - mean)(x_{s+k} - mean).
//
// Two real chains a and b share one complex transform of z = a + i b. With Z its FFT and
// Z'_k = conj(Z_{(m-k) mod m}), the spectra are A = (Z + Z') / 2 and B = (Z - Z') / (2i). The
// periodograms |A|^2 and |B|^2 are real and even, so the inverse FFT of |A|^2 + i |B|^2 returns
// the autocovariance of a in its real part and that of b in its imaginary part.
std::vector<double> autocovariance(const ChainMatrix& matrix) {
  const int n = matrix.draws;
  // Padding to at least 2n keeps the circular correlation from wrapping around.
  const PowerOfTwoFft fft(next_power_of_two(2 * static_cast<std::size_t>(n)));
  const std::size_t padded = fft.length();
  const double scale = 1.0 / (static_cast<double>(padded) * n);
  std::vector<double> acov(matrix.values.size());
  const int pairs = (matrix.chains + 1) / 2;

#pragma omp parallel
  {
    std::vector<std::complex<double>> buffer(padded);
    std::vector<std::complex<double>> periodogram(padded);
#pragma omp for schedule(static)
    for (int pair = 0; pair < pairs; ++pair) {
      const int first_chain = 2 * pair;
      const bool has_second = first_chain + 1 < matrix.chains;
      const double* a = matrix.chain(first_chain);
      const double* b = has_second ? matrix.chain(first_chain + 1) : nullptr;
      const double mean_a = mean_of(a, static_cast<std::size_t>(n));
      const double mean_b = has_second ? mean_of(b, static_cast<std::size_t>(n)) : 0.0;

      std::fill(buffer.begin(), buffer.end(), std::complex<double>{0.0, 0.0});
      for (int s = 0; s < n; ++s) {
        buffer[static_cast<std::size_t>(s)] = {a[s] - mean_a, has_second ? b[s] - mean_b : 0.0};
      }
      fft.transform(buffer.data(), false);

      for (std::size_t k = 0; k < padded; ++k) {
        const std::complex<double> mirrored = std::conj(buffer[(padded - k) % padded]);
        const double power_a = std::norm(buffer[k] + mirrored) / 4.0;
        const double power_b = std::norm(buffer[k] - mirrored) / 4.0;
        periodogram[k] = {power_a, power_b};
      }
      fft.transform(periodogram.data(), true);

      double* out_a = acov.data() + static_cast<std::size_t>(first_chain) * n;
      for (int k = 0; k < n; ++k) {
        out_a[k] = periodogram[static_cast<std::size_t>(k)].real() * scale;
      }
      if (has_second) {
        double* out_b = out_a + n;
        for (int k = 0; k < n; ++k) {
          out_b[k] = periodogram[static_cast<std::size_t>(k)].imag() * scale;
        }
      }
    }
  }
  return acov;
}

// ArviZ's _rhat: sqrt((B/W + n - 1) / n) with B = n var(chain means), W = mean within-chain
// variance, both with ddof = 1. Needs at least 2 chains and 2 draws per chain.
double rhat_basic(const ChainMatrix& matrix) {
  const auto n = static_cast<std::size_t>(matrix.draws);
  std::vector<double> chain_means(static_cast<std::size_t>(matrix.chains));
  double within_sum = 0.0;
  for (int c = 0; c < matrix.chains; ++c) {
    chain_means[static_cast<std::size_t>(c)] = mean_of(matrix.chain(c), n);
    within_sum += variance_of(matrix.chain(c), n, 1);
  }
  const double within = within_sum / matrix.chains;
  const double between =
      static_cast<double>(n) * variance_of(chain_means.data(), chain_means.size(), 1);
  return std::sqrt((between / within + static_cast<double>(n) - 1.0) / static_cast<double>(n));
}

// ArviZ's _ess: multi-chain ESS with Geyer's initial positive and initial monotone sequences.
// Needs at least 2 draws per chain.
double ess_basic(const ChainMatrix& matrix) {
  const auto [min_it, max_it] = std::minmax_element(matrix.values.begin(), matrix.values.end());
  const auto total = static_cast<double>(matrix.values.size());
  if (*max_it - *min_it < kConstantThreshold) {
    return total;
  }

  const int chains = matrix.chains;
  const int n = matrix.draws;
  const auto draws = static_cast<double>(n);
  // Mean autocovariance over chains at every lag, accumulated chain by chain so the reads
  // are sequential.
  const std::vector<double> acov = autocovariance(matrix);
  std::vector<double> mean_acov(static_cast<std::size_t>(n), 0.0);
  for (int c = 0; c < chains; ++c) {
    const double* chain_acov = acov.data() + static_cast<std::size_t>(c) * n;
    for (int lag = 0; lag < n; ++lag) {
      mean_acov[static_cast<std::size_t>(lag)] += chain_acov[lag];
    }
  }
  for (double& value : mean_acov) {
    value /= chains;
  }

  const double mean_var = mean_acov[0] * draws / (draws - 1.0);
  double var_plus = mean_var * (draws - 1.0) / draws;
  if (chains > 1) {
    std::vector<double> chain_means(static_cast<std::size_t>(chains));
    for (int c = 0; c < chains; ++c) {
      chain_means[static_cast<std::size_t>(c)] =
          mean_of(matrix.chain(c), static_cast<std::size_t>(n));
    }
    var_plus += variance_of(chain_means.data(), chain_means.size(), 1);
  }
  auto rho_at = [&](int lag) {
    return 1.0 - (mean_var - mean_acov[static_cast<std::size_t>(lag)]) / var_plus;
  };

  std::vector<double> rho(static_cast<std::size_t>(n), 0.0);
  double rho_even = 1.0;
  double rho_odd = rho_at(1);
  rho[0] = rho_even;
  rho[1] = rho_odd;

  // Geyer's initial positive sequence: sum pairs of lags while the pair sum stays positive.
  int t = 1;
  while (t < n - 3 && rho_even + rho_odd > 0.0) {
    rho_even = rho_at(t + 1);
    rho_odd = rho_at(t + 2);
    if (rho_even + rho_odd >= 0.0) {
      rho[static_cast<std::size_t>(t + 1)] = rho_even;
      rho[static_cast<std::size_t>(t + 2)] = rho_odd;
    }
    t += 2;
  }
  const int max_t = t - 2;
  // ArviZ keeps the last even lag when it is positive, even after the pair sum went negative.
  if (rho_even > 0.0) {
    rho[static_cast<std::size_t>(max_t + 1)] = rho_even;
  }

  // Geyer's initial monotone sequence: pair sums must not increase.
  for (int lag = 1; lag <= max_t - 2; lag += 2) {
    const auto i = static_cast<std::size_t>(lag);
    if (rho[i + 1] + rho[i + 2] > rho[i - 1] + rho[i]) {
      rho[i + 1] = (rho[i - 1] + rho[i]) / 2.0;
      rho[i + 2] = rho[i + 1];
    }
  }

  double rho_sum = 0.0;
  for (int lag = 0; lag <= max_t; ++lag) {
    rho_sum += rho[static_cast<std::size_t>(lag)];
  }
  double tau = -1.0 + 2.0 * rho_sum + rho[static_cast<std::size_t>(max_t + 1)];
  tau = std::max(tau, 1.0 / std::log10(total));
  if (std::any_of(rho.begin(), rho.end(), [](double value) { return std::isnan(value); })) {
    return kNaN;
  }
  return total / tau;
}

double ess_of_indicator(const double* x, int chains, int draws, double threshold) {
  std::vector<double> indicator(count(chains, draws));
  for (std::size_t i = 0; i < indicator.size(); ++i) {
    indicator[i] = x[i] <= threshold ? 1.0 : 0.0;
  }
  return ess_basic(split_chains(indicator.data(), chains, draws));
}

double summary_mean(const double* x, int chains, int draws) {
  return mean_of(x, count(chains, draws));
}

double summary_sd(const double* x, int chains, int draws) {
  return std::sqrt(variance_of(x, count(chains, draws), 1));
}

// The *_unchecked functions expect validated draws with at least 4 draws per chain and no NaN.
// split is split_chains(x) and z_split is z_scale(split), which summarize computes once.

double rhat_unchecked(const ChainMatrix& split, const ChainMatrix& z_split) {
  const double bulk = rhat_basic(z_split);

  const double median = median_of(split.values);
  ChainMatrix folded = split;
  for (double& value : folded.values) {
    value = std::abs(value - median);
  }
  const double tail = rhat_basic(z_scale(folded));
  return python_max(bulk, tail);
}

double ess_tail_unchecked(const double* x, int chains, int draws) {
  std::vector<double> sorted(x, x + count(chains, draws));
  std::sort(sorted.begin(), sorted.end());
  const double low = ess_of_indicator(x, chains, draws, quantile_type7(sorted, 0.05));
  const double high = ess_of_indicator(x, chains, draws, quantile_type7(sorted, 0.95));
  return python_min(low, high);
}

double mcse_mean_unchecked(const double* x, int chains, int draws) {
  return summary_sd(x, chains, draws) / std::sqrt(ess_basic(split_chains(x, chains, draws)));
}

double mcse_sd_unchecked(const double* x, int chains, int draws) {
  const std::size_t n = count(chains, draws);
  const double mean = mean_of(x, n);
  std::vector<double> squared_deviation(n);
  std::vector<double> fourth_power(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double deviation = x[i] - mean;
    squared_deviation[i] = deviation * deviation;
    fourth_power[i] = squared_deviation[i] * squared_deviation[i];
  }
  const double ess = ess_basic(split_chains(squared_deviation.data(), chains, draws));
  const double expected_variance = mean_of(squared_deviation.data(), n);
  const double variance_of_variance =
      (mean_of(fourth_power.data(), n) - expected_variance * expected_variance) / ess;
  return std::sqrt(variance_of_variance / expected_variance / 4.0);
}

// Superchain k's summaries for nested R-hat: the mean of its draws, the variance of its chain
// means (between-chain) and the mean variance within its chains (within-chain).
struct SuperchainMoments {
  double mean = 0.0;
  double between_chain = 0.0;
  double within_chain = 0.0;
  bool constant = false;  // every draw of the superchain equal
};

// The chains of superchain k are the chains_per_superchain consecutive chains starting at
// chain k * chains_per_superchain, so the superchain is one contiguous block of x.
SuperchainMoments superchain_moments(const double* block, int chains_per_superchain, int draws) {
  const auto draw_count = static_cast<std::size_t>(draws);
  const std::size_t block_size = count(chains_per_superchain, draws);
  SuperchainMoments moments;
  const auto [min_it, max_it] = std::minmax_element(block, block + block_size);
  moments.constant = *min_it == *max_it;

  std::vector<double> chain_means(static_cast<std::size_t>(chains_per_superchain));
  double within_sum = 0.0;
  for (int c = 0; c < chains_per_superchain; ++c) {
    const double* chain = block + static_cast<std::size_t>(c) * draw_count;
    chain_means[static_cast<std::size_t>(c)] = mean_of(chain, draw_count);
    if (draws > 1) {
      within_sum += variance_of(chain, draw_count, 1);
    }
  }
  // Every chain has the same draw count, so the mean of the chain means is the mean of the
  // superchain's draws.
  moments.mean = mean_of(chain_means.data(), chain_means.size());
  // One draw per chain has no within-chain variance, and one chain per superchain has no
  // between-chain variance, and Margossian et al. set the missing term to 0.
  moments.within_chain = draws > 1 ? within_sum / chains_per_superchain : 0.0;
  moments.between_chain =
      chains_per_superchain > 1 ? variance_of(chain_means.data(), chain_means.size(), 1) : 0.0;
  return moments;
}

}  // namespace

double rhat(const double* x, int chains, int draws) {
  validate_draws("fmala::diag::rhat", x, chains, draws);
  if (!rhat_defined(x, chains, draws)) {
    return kNaN;
  }
  const ChainMatrix split = split_chains(x, chains, draws);
  return rhat_unchecked(split, z_scale(split));
}

double ess_bulk(const double* x, int chains, int draws) {
  validate_draws("fmala::diag::ess_bulk", x, chains, draws);
  if (!diagnostics_defined(x, chains, draws)) {
    return kNaN;
  }
  return ess_basic(z_scale(split_chains(x, chains, draws)));
}

double ess_tail(const double* x, int chains, int draws) {
  validate_draws("fmala::diag::ess_tail", x, chains, draws);
  if (!diagnostics_defined(x, chains, draws)) {
    return kNaN;
  }
  return ess_tail_unchecked(x, chains, draws);
}

double ess_mean(const double* x, int chains, int draws) {
  validate_draws("fmala::diag::ess_mean", x, chains, draws);
  if (!diagnostics_defined(x, chains, draws)) {
    return kNaN;
  }
  return ess_basic(split_chains(x, chains, draws));
}

double mcse_mean(const double* x, int chains, int draws) {
  validate_draws("fmala::diag::mcse_mean", x, chains, draws);
  if (!diagnostics_defined(x, chains, draws)) {
    return kNaN;
  }
  return mcse_mean_unchecked(x, chains, draws);
}

double mcse_sd(const double* x, int chains, int draws) {
  validate_draws("fmala::diag::mcse_sd", x, chains, draws);
  if (!diagnostics_defined(x, chains, draws)) {
    return kNaN;
  }
  return mcse_sd_unchecked(x, chains, draws);
}

Summary summarize(const double* x, int chains, int draws) {
  validate_draws("fmala::diag::summarize", x, chains, draws);
  Summary summary{};
  // A NaN draw propagates into mean and sd through the arithmetic.
  summary.mean = summary_mean(x, chains, draws);
  summary.sd = summary_sd(x, chains, draws);
  if (!diagnostics_defined(x, chains, draws)) {
    summary.mcse_mean = kNaN;
    summary.mcse_sd = kNaN;
    summary.rhat = kNaN;
    summary.ess_bulk = kNaN;
    summary.ess_tail = kNaN;
    return summary;
  }

  const ChainMatrix split = split_chains(x, chains, draws);
  const ChainMatrix z_split = z_scale(split);
  summary.mcse_mean = mcse_mean_unchecked(x, chains, draws);
  summary.mcse_sd = mcse_sd_unchecked(x, chains, draws);
  summary.rhat = chains >= kMinRhatChains ? rhat_unchecked(split, z_split) : kNaN;
  summary.ess_bulk = ess_basic(z_split);
  summary.ess_tail = ess_tail_unchecked(x, chains, draws);
  return summary;
}

Summary summarize_coordinate(const double* draws, int chains, int draws_per_chain, int dim, int j) {
  const char* where = "fmala::diag::summarize_coordinate";
  validate_draws(where, draws, chains, draws_per_chain);
  if (dim < 1) {
    throw make_error(where, "dim is " + std::to_string(dim) + ", expected at least 1",
                     "Pass draws shaped (chains, draws_per_chain, dim)");
  }
  if (j < 0 || j >= dim) {
    throw make_error(
        where,
        "coordinate " + std::to_string(j) + " is out of range for dim " + std::to_string(dim),
        "Pass a coordinate j with 0 <= j < dim");
  }
  const std::size_t n = count(chains, draws_per_chain);
  std::vector<double> column(n);
  for (std::size_t i = 0; i < n; ++i) {
    column[i] = draws[i * static_cast<std::size_t>(dim) + static_cast<std::size_t>(j)];
  }
  return summarize(column.data(), chains, draws_per_chain);
}

double nested_rhat(const double* x, int superchains, int chains_per_superchain, int draws) {
  const char* where = "fmala::diag::nested_rhat";
  if (superchains < 1) {
    throw make_error(where, "superchains is " + std::to_string(superchains) + ", expected at least 1",
                     "Pass draws shaped (superchains * chains_per_superchain, draws)");
  }
  if (chains_per_superchain < 1) {
    throw make_error(where,
                     "chains_per_superchain is " + std::to_string(chains_per_superchain) +
                         ", expected at least 1",
                     "Pass at least one chain per superchain");
  }
  const long long chains = static_cast<long long>(superchains) * chains_per_superchain;
  if (chains > std::numeric_limits<int>::max()) {
    throw make_error(where,
                     std::to_string(superchains) + " superchains of " +
                         std::to_string(chains_per_superchain) + " chains exceed the int range",
                     "Pass fewer superchains or fewer chains per superchain");
  }
  validate_draws(where, x, static_cast<int>(chains), draws);
  if (superchains < 2) {
    return kNaN;
  }
  const std::size_t total = count(static_cast<int>(chains), draws);
  if (!std::all_of(x, x + total, [](double value) { return std::isfinite(value); })) {
    return kNaN;
  }

  const std::size_t block_size = count(chains_per_superchain, draws);
  std::vector<double> superchain_means(static_cast<std::size_t>(superchains));
  double within_superchain_sum = 0.0;
  bool all_constant = true;
  for (int k = 0; k < superchains; ++k) {
    const SuperchainMoments moments =
        superchain_moments(x + static_cast<std::size_t>(k) * block_size, chains_per_superchain, draws);
    superchain_means[static_cast<std::size_t>(k)] = moments.mean;
    within_superchain_sum += moments.between_chain + moments.within_chain;
    all_constant = all_constant && moments.constant;
  }

  // When every superchain is constant the within-superchain variance is exactly 0, so the
  // ratio is decided here instead of by rounding in the means.
  if (all_constant) {
    const bool all_equal = std::all_of(x, x + total, [x](double value) { return value == x[0]; });
    return all_equal ? kNaN : std::numeric_limits<double>::infinity();
  }
  const double between_superchain =
      variance_of(superchain_means.data(), superchain_means.size(), 1);
  const double within_superchain = within_superchain_sum / superchains;
  return std::sqrt(1.0 + between_superchain / within_superchain);
}

double funnel_kl(const double* v, std::size_t n) {
  if (n < 2) {
    return kNaN;
  }
  if (v == nullptr) {
    throw make_error("fmala::diag::funnel_kl", "the draws pointer is null",
                     "Pass a buffer of n doubles");
  }
  const double m = mean_of(v, n);
  const double variance = variance_of(v, n, 1);
  if (std::isnan(variance)) {
    return kNaN;
  }
  if (variance == 0.0) {
    // N(0, 3^2) is not absolutely continuous with respect to a point mass, so the KL is infinite.
    return std::numeric_limits<double>::infinity();
  }
  const double s = std::sqrt(variance);
  return std::log(s / 3.0) + (9.0 + m * m) / (2.0 * variance) - 0.5;
}

}  // namespace fmala::diag
