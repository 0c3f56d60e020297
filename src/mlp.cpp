#include "fmala/model/mlp.hpp"

#include <cblas.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "fmala/ad/math.hpp"
#include "fmala/core/error.hpp"
#include "blas_util.hpp"
#include "chain_loops.hpp"
#include "fmala/random/philox.hpp"
#include "fmala/model/gaussian_prior.hpp"

// Performance. At the default shape (927 training rows, 8 features, hidden
// {50}, relu, tile 256, 64 chains) the CBLAS products were about twice as fast
// as hand-written loops that keep blocks of sums in SSE2 registers. An order-2
// jet for all 64 chains took 6.3 ms against 12 ms, and the gradient 5.9 ms
// against 12.8 ms. These are the best of 7 batches of 20 calls from a
// standalone timing program on one OpenMP thread of a 2-core AMD EPYC VM,
// with GCC 12 -O3 (no -march) and OpenBLAS 0.3.21 (pthreads build, one thread
// per call). Netlib's reference BLAS is slower than either (28.9 ms for the
// order-2 jet), so link an optimised BLAS.

namespace fmala {

namespace {

constexpr double kLogTwoPi = 1.83787706640934548356065947281123527;

using Activation = MlpConfig::Activation;

using detail::add_bias;
using detail::dense_jet;
using detail::gemm;
using detail::keep_where_positive;

// Applies the activation in place to the `planes` written planes of `count`
// jet entries each (see dense_jet):
//   a = φ(z),  a' = φ'(z) z',  a'' = φ''(z) z'² + φ'(z) z''.
// relu' is 1 for z > 0 and 0 otherwise (0 at the kink), relu'' = 0;
// tanh' = 1 - t², tanh'' = -2 t (1 - t²). Returns the number of planes
// written: relu keeps a zero second plane zero, tanh does not.
template <int Order>
int activate_jet(Activation activation, size_t count, Real* z, int planes) {
  Real* __restrict__ z0 = z;
  Real* __restrict__ z1 = z + count;
  Real* __restrict__ z2 = z + 2 * count;
  if (activation == Activation::relu) {
    // The derivative planes go first, while z0 is still the pre-activation.
    if (Order >= 1 && planes >= 2) {
      keep_where_positive(count, z0, z1);
    }
    if (Order >= 2 && planes >= 3) {
      keep_where_positive(count, z0, z2);
    }
#pragma omp simd
    for (size_t i = 0; i < count; ++i) {
      z0[i] = z0[i] > Real(0) ? z0[i] : Real(0);
    }
    return planes;
  }
  const bool second = planes >= 3;
  for (size_t i = 0; i < count; ++i) {
    const Real t = std::tanh(z0[i]);
    const Real slope = Real(1) - t * t;
    z0[i] = t;
    if constexpr (Order >= 2) {
      const Real z2i = second ? z2[i] : Real(0);
      z2[i] = slope * z2i - 2 * t * slope * z1[i] * z1[i];
    }
    if constexpr (Order >= 1) {
      z1[i] = slope * z1[i];
    }
  }
  return Order + 1;
}

// G (in, out) += Aᵀ Δ and g_b (out) += Σ_n Δ_n for A (rows, in), Δ (rows, out).
void add_weight_gradient(int rows, int in, int out, const Real* a, const Real* delta, Real* gw,
                         Real* gb) {
  if (out == 1) {
    cblas_dgemv(CblasRowMajor, CblasTrans, rows, in, 1, a, in, delta, 1, 1, gw, 1);
  } else {
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, in, out, rows, 1, a, in, delta, out, 1, gw,
                out);
  }
  for (int n = 0; n < rows; ++n) {
    const Real* __restrict__ dn = delta + static_cast<size_t>(n) * out;
    Real* __restrict__ g = gb;
    for (int j = 0; j < out; ++j) {
      g[j] += dn[j];
    }
  }
}

// next (rows, in) = Δ Wᵀ for Δ (rows, out) and W (in, out).
void backpropagate(int rows, int in, int out, const Real* __restrict__ delta,
                   const Real* __restrict__ w, Real* __restrict__ next) {
  if (out == 1) {
    for (int n = 0; n < rows; ++n) {
      const Real dv = delta[n];
      Real* row = next + static_cast<size_t>(n) * in;
      for (int k = 0; k < in; ++k) {
        row[k] = dv * w[k];
      }
    }
  } else {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, in, out, 1, delta, out, w, out, 0,
                next, in);
  }
}

// next *= φ'(z), with φ'(z) from the stored activation a = φ(z): relu' = [a > 0]
// (0 at the kink, as in activate_jet) and tanh' = 1 - a².
void multiply_by_slope(Activation activation, size_t count, const Real* __restrict__ a,
                       Real* __restrict__ next) {
  if (activation == Activation::relu) {
    keep_where_positive(count, a, next);
  } else {
    for (size_t i = 0; i < count; ++i) {
      next[i] = next[i] * (Real(1) - a[i] * a[i]);
    }
  }
}

// log N(y; μ, σ²) summed over n rows, from S = Σ (y - μ)² and s = log σ:
//   -n/2 log 2π - n s - S e^{-2s} / 2.
// T is Real (gradient) or Jet<Real> (jet), with the same operation order so
// both give the same value.
template <class T>
T gaussian_log_likelihood(const T& log_sigma, const T& sum_squares, double n) {
  const T precision = exp(Real(-2) * log_sigma);
  return Real(-0.5 * n * kLogTwoPi) - Real(n) * log_sigma - Real(0.5) * (precision * sum_squares);
}

void require(bool ok, const std::string& field, const std::string& problem,
             const std::string& fix) {
  if (!ok) {
    throw make_error("mlp: " + field, problem, fix);
  }
}

bool positive_finite(Real x) { return x > 0 && std::isfinite(x); }

// Shortest decimal form that reads back as the same double.
std::string number(double x) { return fmt::format("{}", x); }

}  // namespace

struct MlpRegression::Scratch {
  int rows = 0;
  // jet() and forward(): one layer's input and output jets for one tile, each
  // up to 3 planes of (rows, max_width).
  std::vector<Real> first, second;
  // gradient(): each hidden layer's activations (rows, width), the output μ
  // (rows) and two backward buffers (rows, max_width).
  std::vector<std::vector<Real>> activations;
  std::vector<Real> output;
  std::vector<Real> delta, delta_next;
};

MlpRegression::MlpRegression(std::shared_ptr<const io::RegressionData> data, MlpConfig config)
    : data_(std::move(data)), config_(std::move(config)) {
  detail::use_serial_blas();
  require(data_ != nullptr, "data", "no regression data given",
          "Load it with load_regression_data");
  const size_t p = data_->n_features;
  const size_t n = data_->n_train();
  require(p >= 1, "data", "the data set has no features", "Give a table with at least 2 columns");
  require(n >= 1, "data", "the training split is empty", "Use a larger train fraction");
  // Training rows on a GPU were shaped and checked there (device_train).
  const size_t train_values = data_->device_train ? n * p : data_->train_x.size();
  require(train_values == n * p, "data.train_x",
          "has " + std::to_string(train_values) +
              " values, expected n_train * n_features = " + std::to_string(n * p),
          "Store x as (N, P) row-major");
  require(data_->test_x.size() == data_->n_test() * p, "data.test_x",
          "has " + std::to_string(data_->test_x.size()) +
              " values, expected n_test * n_features = " + std::to_string(data_->n_test() * p),
          "Store x as (N, P) row-major");
  require(positive_finite(data_->y_sd), "data.y_sd",
          "must be positive and finite, got " + number(data_->y_sd), "");
  for (size_t i = 0; i < config_.hidden.size(); ++i) {
    require(config_.hidden[i] >= 1, "hidden[" + std::to_string(i) + "]",
            "width must be at least 1, got " + std::to_string(config_.hidden[i]), "");
  }
  require(positive_finite(config_.prior_sd), "prior_sd",
          "must be positive and finite, got " + number(config_.prior_sd), "");
  require(config_.learn_noise || positive_finite(config_.noise_sd), "noise_sd",
          "must be positive and finite, got " + number(config_.noise_sd),
          "Give a positive σ or sample it (learn_noise)");
  require(!config_.learn_noise || positive_finite(config_.log_noise_prior_sd), "log_noise_prior_sd",
          "must be positive and finite, got " + number(config_.log_noise_prior_sd), "");
  require(!config_.learn_noise || std::isfinite(config_.log_noise_prior_mean),
          "log_noise_prior_mean", "must be finite, got " + number(config_.log_noise_prior_mean),
          "");
  require(config_.tile >= 1, "tile", "must be at least 1, got " + std::to_string(config_.tile), "");
  require(config_.predictive_draws_per_chain >= 1, "predictive_draws_per_chain",
          "must be at least 1, got " + std::to_string(config_.predictive_draws_per_chain), "");

  int in = static_cast<int>(p);
  size_t offset = 0;
  std::vector<int> widths = config_.hidden;
  widths.push_back(1);
  max_width_ = 1;
  for (const int out : widths) {
    Layer layer;
    layer.in = in;
    layer.out = out;
    layer.w_offset = offset;
    offset += static_cast<size_t>(in) * out;
    layer.b_offset = offset;
    offset += static_cast<size_t>(out);
    layers_.push_back(layer);
    max_width_ = std::max(max_width_, out);
    in = out;
  }
  n_weights_ = offset;
  const size_t total = offset + (config_.learn_noise ? 1 : 0);
  require(total <= static_cast<size_t>(std::numeric_limits<int>::max()), "hidden",
          "the network has " + std::to_string(total) + " parameters, more than an int can index",
          "Use narrower layers");
  dim_ = static_cast<int>(total);

  network_spec_.likelihood = NetworkSpec::Likelihood::gaussian;
  for (size_t l = 0; l < layers_.size(); ++l) {
    const bool hidden = l + 1 < layers_.size();
    const auto activation = config_.activation == Activation::relu ? NetworkSpec::Activation::relu
                                                                   : NetworkSpec::Activation::tanh;
    network_spec_.layers.push_back({layers_[l].in, layers_[l].out, layers_[l].w_offset,
                                  layers_[l].b_offset,
                                  hidden ? activation : NetworkSpec::Activation::identity});
  }
  network_spec_.x = data_->device_train ? data_->device_train->x.get() : data_->train_x.data();
  network_spec_.y = data_->device_train ? data_->device_train->y.get() : data_->train_y.data();
  network_spec_.data_on_device = data_->device_train != nullptr;
  network_spec_.rows = n;
  network_spec_.prior_count = n_weights_;
  network_spec_.prior_sd = config_.prior_sd;
  network_spec_.learn_noise = config_.learn_noise;
  network_spec_.noise_sd = config_.noise_sd;
  network_spec_.log_noise_prior_mean = config_.log_noise_prior_mean;
  network_spec_.log_noise_prior_sd = config_.log_noise_prior_sd;
  network_spec_.temper = config_.temper;
  network_spec_.tile = config_.tile;
}

std::string MlpRegression::description() const {
  // Built by appending, because GCC 12 gives a false -Wrestrict warning for
  // "literal" + std::string chains.
  std::string text = "mlp regression ";
  text += std::to_string(data_->n_features);
  for (const Layer& layer : layers_) {
    text += '-';
    text += std::to_string(layer.out);
  }
  text += config_.activation == Activation::relu ? " relu" : " tanh";
  text += config_.learn_noise ? ", learned noise" : ", fixed noise";
  if (config_.temper) {
    text += ", tempered";
  }
  text += " (";
  text += std::to_string(dim_);
  text += " parameters, ";
  text += std::to_string(data_->n_train());
  text += " training rows)";
  return text;
}

std::string MlpRegression::parameter_name(int index) const {
  if (index < 0 || index >= dim_) {
    return Model::parameter_name(index);
  }
  const size_t i = static_cast<size_t>(index);
  if (i >= n_weights_) {
    return "log_sigma";
  }
  for (size_t l = 0; l < layers_.size(); ++l) {
    const Layer& layer = layers_[l];
    // Built by appending, for the same reason as in description().
    if (i < layer.b_offset) {
      const size_t local = i - layer.w_offset;
      std::string name = "w";
      name += std::to_string(l);
      name += '[';
      name += std::to_string(local / layer.out);
      name += ',';
      name += std::to_string(local % layer.out);
      name += ']';
      return name;
    }
    if (i < layer.b_offset + static_cast<size_t>(layer.out)) {
      std::string name = "b";
      name += std::to_string(l);
      name += '[';
      name += std::to_string(i - layer.b_offset);
      name += ']';
      return name;
    }
  }
  return Model::parameter_name(index);
}

MlpRegression::Scratch MlpRegression::make_scratch(int rows, bool gradient) const {
  Scratch scratch;
  scratch.rows = rows;
  const size_t plane = static_cast<size_t>(rows) * max_width_;
  if (gradient) {
    for (size_t l = 0; l + 1 < layers_.size(); ++l) {
      scratch.activations.emplace_back(static_cast<size_t>(rows) * layers_[l].out);
    }
    scratch.output.resize(static_cast<size_t>(rows));
    scratch.delta.resize(plane);
    scratch.delta_next.resize(plane);
  } else {
    scratch.first.resize(3 * plane);
    scratch.second.resize(3 * plane);
  }
  return scratch;
}

Jet<Real> MlpRegression::prior_jet(const Real* theta, const Real* direction, int order) const {
  Jet<Real> prior =
      detail::gaussian_prior_jet(theta, direction, order, n_weights_, config_.prior_sd);
  if (config_.learn_noise) {
    const Real s = theta[n_weights_];
    const Real us = order >= 1 ? direction[n_weights_] : Real(0);
    const Real m = config_.log_noise_prior_mean;
    const Real sd = config_.log_noise_prior_sd;
    const Real inv = Real(1) / (sd * sd);
    prior += Jet<Real>(-0.5 * (s - m) * (s - m) * inv - std::log(sd) - 0.5 * kLogTwoPi,
                       -(s - m) * us * inv, -us * us * inv);
  }
  return prior;
}

Jet<Real> MlpRegression::chain_jet(const Real* theta, const Real* direction, int order,
                                   Scratch& scratch) const {
  const io::RegressionData& data = *data_;
  const size_t n_train = data.n_train();
  const size_t p = data.n_features;
  double sum0 = 0;  // Σ r²,                 r = y - μ
  double sum1 = 0;  // (Σ r²)'  = Σ -2 r μ'
  double sum2 = 0;  // (Σ r²)'' = Σ 2 μ'² - 2 r μ''
  for (size_t start = 0; start < n_train; start += static_cast<size_t>(scratch.rows)) {
    const int rows = static_cast<int>(std::min<size_t>(scratch.rows, n_train - start));
    const Real* input = data.train_x.data() + start * p;
    int planes = 1;  // nonzero planes of `input`: the data has no tangent
    Real* output = scratch.first.data();
    for (size_t l = 0; l < layers_.size(); ++l) {
      const Layer& layer = layers_[l];
      const Real* w = theta + layer.w_offset;
      const Real* b = theta + layer.b_offset;
      const Real* dw = order >= 1 ? direction + layer.w_offset : nullptr;
      const Real* db = order >= 1 ? direction + layer.b_offset : nullptr;
      const size_t count = static_cast<size_t>(rows) * layer.out;
      const bool hidden = l + 1 < layers_.size();
      const auto layer_jet = [&](auto order_constant) {
        constexpr int kOrder = decltype(order_constant)::value;
        planes = dense_jet<kOrder>(rows, layer.in, layer.out, input, planes, w, dw, b, db, output);
        if (hidden) {
          planes = activate_jet<kOrder>(config_.activation, count, output, planes);
        }
      };
      if (order == 0) {
        layer_jet(std::integral_constant<int, 0>{});
      } else if (order == 1) {
        layer_jet(std::integral_constant<int, 1>{});
      } else {
        layer_jet(std::integral_constant<int, 2>{});
      }
      input = output;
      output = output == scratch.first.data() ? scratch.second.data() : scratch.first.data();
    }
    // The output layer has one unit, so its planes are (rows) each; a plane
    // that was not written is zero.
    const Real* mu0 = input;
    const Real* mu1 = input + rows;
    const Real* mu2 = planes >= 3 ? input + 2 * static_cast<size_t>(rows) : nullptr;
    const double* y = data.train_y.data() + start;
    for (int n = 0; n < rows; ++n) {
      const double r = y[n] - mu0[n];
      sum0 += r * r;
      if (order >= 1) {
        sum1 += -2 * r * mu1[n];
      }
      if (order >= 2) {
        sum2 += 2 * mu1[n] * mu1[n] - (mu2 ? 2 * r * mu2[n] : Real(0));
      }
    }
  }

  Jet<Real> log_sigma(std::log(config_.noise_sd));
  if (config_.learn_noise) {
    log_sigma = Jet<Real>(theta[n_weights_], order >= 1 ? direction[n_weights_] : Real(0), Real(0));
  }
  Jet<Real> f = gaussian_log_likelihood(log_sigma, Jet<Real>(sum0, sum1, sum2),
                                        static_cast<double>(n_train)) +
                prior_jet(theta, direction, order);
  if (config_.temper) {
    f = f / static_cast<Real>(n_train);
  }
  return f;
}

void MlpRegression::jet(int chains, const Real* theta, const Real* direction, int order,
                        Real* f, Real* d, Real* h) const {
  detail::require_host_data(data_->device_train);
  const int rows =
      static_cast<int>(std::min<size_t>(static_cast<size_t>(config_.tile), data_->n_train()));
  detail::jet_over_chains(
      "MlpRegression::jet", chains, static_cast<size_t>(dim_), theta, direction, order, f, d, h,
      [&] { return make_scratch(rows, false); },
      [&](const Real* t, const Real* u, int o, Scratch& scratch) {
        return chain_jet(t, u, o, scratch);
      });
}

// Reverse mode, tile by tile. With r_n = y_n - μ_n and precision e^{-2s}, the
// likelihood's gradient with respect to the network output is e^{-2s} r_n; the
// backward pass propagates δ = r (the precision is applied once at the end):
//   ∂/∂W_l = A_{l-1}ᵀ δ_l,  ∂/∂b_l = Σ_n δ_l,  δ_{l-1} = (δ_l W_lᵀ) ⊙ φ'(Z_{l-1}),
// and ∂/∂s = -N + e^{-2s} Σ r².
Real MlpRegression::chain_gradient(const Real* theta, Real* g, Scratch& scratch) const {
  const io::RegressionData& data = *data_;
  const size_t n_train = data.n_train();
  const size_t p = data.n_features;
  const size_t n_layers = layers_.size();
  std::fill(g, g + dim_, Real(0));
  double sum0 = 0;
  for (size_t start = 0; start < n_train; start += static_cast<size_t>(scratch.rows)) {
    const int rows = static_cast<int>(std::min<size_t>(scratch.rows, n_train - start));
    const Real* x = data.train_x.data() + start * p;
    // Forward: the same products as jet() at order 0, keeping every layer's output.
    for (size_t l = 0; l < n_layers; ++l) {
      const Layer& layer = layers_[l];
      const Real* a = l == 0 ? x : scratch.activations[l - 1].data();
      Real* z = l + 1 < n_layers ? scratch.activations[l].data() : scratch.output.data();
      dense_jet<0>(rows, layer.in, layer.out, a, 1, theta + layer.w_offset, nullptr,
                   theta + layer.b_offset, nullptr, z);
      if (l + 1 < n_layers) {
        activate_jet<0>(config_.activation, static_cast<size_t>(rows) * layer.out, z, 1);
      }
    }
    const double* y = data.train_y.data() + start;
    for (int n = 0; n < rows; ++n) {
      const double r = y[n] - scratch.output[n];
      sum0 += r * r;
      scratch.delta[n] = r;
    }
    // Backward.
    for (size_t l = n_layers; l-- > 0;) {
      const Layer& layer = layers_[l];
      const Real* a = l == 0 ? x : scratch.activations[l - 1].data();
      add_weight_gradient(rows, layer.in, layer.out, a, scratch.delta.data(), g + layer.w_offset,
                          g + layer.b_offset);
      if (l == 0) {
        break;
      }
      backpropagate(rows, layer.in, layer.out, scratch.delta.data(), theta + layer.w_offset,
                    scratch.delta_next.data());
      multiply_by_slope(config_.activation, static_cast<size_t>(rows) * layer.in, a,
                        scratch.delta_next.data());
      std::swap(scratch.delta, scratch.delta_next);
    }
  }

  const Real log_sigma = config_.learn_noise ? theta[n_weights_] : std::log(config_.noise_sd);
  const Real precision = std::exp(Real(-2) * log_sigma);
  const double n = static_cast<double>(n_train);
  const Real inv_var = Real(1) / (config_.prior_sd * config_.prior_sd);
  for (size_t i = 0; i < n_weights_; ++i) {
    g[i] = precision * g[i] - theta[i] * inv_var;
  }
  if (config_.learn_noise) {
    const Real s = theta[n_weights_];
    const Real sd = config_.log_noise_prior_sd;
    g[n_weights_] = Real(-n) + precision * sum0 - (s - config_.log_noise_prior_mean) / (sd * sd);
  }
  Real f = gaussian_log_likelihood(log_sigma, Real(sum0), n) + prior_jet(theta, nullptr, 0).val;
  if (config_.temper) {
    f = f / static_cast<Real>(n_train);
    for (int i = 0; i < dim_; ++i) {
      g[i] = g[i] / static_cast<Real>(n_train);
    }
  }
  return f;
}

void MlpRegression::gradient(int chains, const Real* theta, Real* f, Real* g) const {
  detail::require_host_data(data_->device_train);
  const int rows =
      static_cast<int>(std::min<size_t>(static_cast<size_t>(config_.tile), data_->n_train()));
  detail::gradient_over_chains(
      chains, static_cast<size_t>(dim_), theta, f, g, [&] { return make_scratch(rows, true); },
      [&](const Real* t, Real* gradient, Scratch& scratch) {
        return chain_gradient(t, gradient, scratch);
      });
}

void MlpRegression::initial_state(uint64_t seed, int first_chain, int chains, Real* theta) const {
  const size_t dim = static_cast<size_t>(dim_);
  const Real gain = config_.activation == Activation::relu ? Real(2) : Real(1);
  for (int k = 0; k < chains; ++k) {
    Stream stream(seed, static_cast<uint64_t>(first_chain + k), -1, Draw::init);
    Real* t = theta + k * dim;
    for (const Layer& layer : layers_) {
      const Real scale = std::sqrt(gain / static_cast<Real>(layer.in));
      const size_t weights = static_cast<size_t>(layer.in) * layer.out;
      for (size_t i = 0; i < weights; ++i) {
        t[layer.w_offset + i] = scale * static_cast<Real>(stream.normal());
      }
      std::fill(t + layer.b_offset, t + layer.b_offset + layer.out, Real(0));
    }
    if (config_.learn_noise) {
      t[n_weights_] = std::log(Real(0.5));
    }
  }
}

Real MlpRegression::noise_sd(const Real* theta) const {
  return config_.learn_noise ? std::exp(theta[n_weights_]) : config_.noise_sd;
}

void MlpRegression::predict(const Real* theta, const double* x, size_t rows, double* mean) const {
  if (rows == 0) {
    return;
  }
  Scratch scratch = make_scratch(
      static_cast<int>(std::min<size_t>(static_cast<size_t>(config_.tile), rows)), false);
  forward(theta, x, rows, mean, scratch);
}

void MlpRegression::forward(const Real* theta, const double* x, size_t rows, double* mean,
                            Scratch& scratch) const {
  const size_t p = data_->n_features;
  const size_t tile = static_cast<size_t>(scratch.rows);
  for (size_t start = 0; start < rows; start += tile) {
    const int count = static_cast<int>(std::min(tile, rows - start));
    const Real* input = x + start * p;
    Real* output = scratch.first.data();
    for (size_t l = 0; l < layers_.size(); ++l) {
      const Layer& layer = layers_[l];
      dense_jet<0>(count, layer.in, layer.out, input, 1, theta + layer.w_offset, nullptr,
                   theta + layer.b_offset, nullptr, output);
      if (l + 1 < layers_.size()) {
        activate_jet<0>(config_.activation, static_cast<size_t>(count) * layer.out, output, 1);
      }
      input = output;
      output = output == scratch.first.data() ? scratch.second.data() : scratch.first.data();
    }
    std::copy(input, input + count, mean + start);
  }
}

namespace {

// Per-row sums of the predictive over a range of draws: Σ_m μ_m, and
// log Σ_m exp(l_m) for l_m = log N(y; μ_m, σ_m²) kept as a running maximum
// and the sum of exp(l_m - maximum).
struct PredictiveSums {
  std::vector<double> mean_sum, lse_max, lse_sum;

  explicit PredictiveSums(size_t rows)
      : mean_sum(rows, 0.0),
        lse_max(rows, -std::numeric_limits<double>::infinity()),
        lse_sum(rows, 0.0) {}

  void add(size_t i, double mu, double l) {
    mean_sum[i] += mu;
    if (l > lse_max[i]) {
      lse_sum[i] = lse_sum[i] * std::exp(lse_max[i] - l) + 1;
      lse_max[i] = l;
    } else if (l != -std::numeric_limits<double>::infinity()) {
      lse_sum[i] += std::exp(l - lse_max[i]);
    }
  }

  void merge(const PredictiveSums& other) {
    for (size_t i = 0; i < mean_sum.size(); ++i) {
      mean_sum[i] += other.mean_sum[i];
      const double m = std::max(lse_max[i], other.lse_max[i]);
      if (m == -std::numeric_limits<double>::infinity()) {
        continue;
      }
      lse_sum[i] =
          lse_sum[i] * std::exp(lse_max[i] - m) + other.lse_sum[i] * std::exp(other.lse_max[i] - m);
      lse_max[i] = m;
    }
  }
};

struct SplitScores {
  double rmse = 0;
  double nll = 0;
};

}  // namespace

Metrics MlpRegression::metrics(const Draws& draws) const {
  const std::vector<const Real*> selected = last_draws_per_chain(
      draws, dim_, config_.predictive_draws_per_chain, "MlpRegression::metrics");
  if (selected.empty()) {
    return {};
  }
  const size_t count = selected.size();
  const double log_count = std::log(static_cast<double>(count));
  const double log_y_sd = std::log(data_->y_sd);

  // The draws are split into at most kGroups contiguous groups, a number that
  // does not depend on the thread count. Each group is summed by one thread in
  // draw order and the groups are merged in order, so the scores are the same
  // for any thread count. Rows are scored in chunks of kChunk, which bounds
  // the partial sums at kGroups · kChunk · 3 doubles (6 MiB).
  constexpr size_t kGroups = 64;
  constexpr size_t kChunk = 4096;
  const size_t groups = std::min(kGroups, count);
  const size_t p = data_->n_features;
  const auto score = [&](const std::vector<double>& x, const std::vector<double>& y) {
    const size_t n_rows = y.size();
    double sse = 0;
    double nll = 0;
    for (size_t first = 0; first < n_rows; first += kChunk) {
      const size_t rows = std::min(kChunk, n_rows - first);
      const double* xc = x.data() + first * p;
      const double* yc = y.data() + first;
      std::vector<PredictiveSums> partial(groups, PredictiveSums(rows));
#pragma omp parallel
      {
        Scratch scratch = make_scratch(
            static_cast<int>(std::min<size_t>(static_cast<size_t>(config_.tile), rows)), false);
        std::vector<double> mu(rows);
#pragma omp for schedule(dynamic)
        for (size_t group = 0; group < groups; ++group) {
          const size_t begin = group * count / groups;
          const size_t end = (group + 1) * count / groups;
          for (size_t m = begin; m < end; ++m) {
            const Real* theta = selected[m];
            forward(theta, xc, rows, mu.data(), scratch);
            const double log_sigma = std::log(noise_sd(theta));
            const double inv_var = std::exp(-2 * log_sigma);
            for (size_t i = 0; i < rows; ++i) {
              const double r = yc[i] - mu[i];
              partial[group].add(i, mu[i], -0.5 * kLogTwoPi - log_sigma - 0.5 * r * r * inv_var);
            }
          }
        }
      }
      PredictiveSums total = std::move(partial[0]);
      for (size_t group = 1; group < groups; ++group) {
        total.merge(partial[group]);
      }
      for (size_t i = 0; i < rows; ++i) {
        const double error = (yc[i] - total.mean_sum[i] / static_cast<double>(count)) * data_->y_sd;
        sse += error * error;
        // log N(y_orig; μ_orig, σ_orig²) = log N(y; μ, σ²) - log y_sd.
        const double log_mixture = total.lse_max[i] + std::log(total.lse_sum[i]) - log_count;
        nll += -(log_mixture - log_y_sd);
      }
    }
    SplitScores scores;
    scores.rmse = std::sqrt(sse / static_cast<double>(n_rows));
    scores.nll = nll / static_cast<double>(n_rows);
    return scores;
  };

  Metrics out;
  if (data_->n_test() > 0) {
    const SplitScores test = score(data_->test_x, data_->test_y);
    out["rmse"] = test.rmse;
    out["nll"] = test.nll;
  }
  // Training rows on a GPU have no host copy to score.
  if (!data_->device_train) {
    const SplitScores train = score(data_->train_x, data_->train_y);
    out["train_rmse"] = train.rmse;
    out["train_nll"] = train.nll;
  }
  return out;
}

}  // namespace fmala
