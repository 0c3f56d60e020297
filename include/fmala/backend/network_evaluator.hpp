#pragma once
// NetworkEvaluator: the log density of a network model (NetworkSpec: dense,
// convolution and pooling layers) for all chains at once, as a fixed
// sequence of batched products and elementwise passes over a tile of
// training rows. The CUDA back end evaluates the network models with it
// (kernels/device_ops.cuh). On the host it runs with HostNetworkOps: the CPU
// tests check the sequence against the models' own per-chain evaluation that
// way.
//
// `Ops` supplies the back end:
//   template <class T> using Array = ...;     owning array with data() and bytes()
//   template <class T> Array<T> zeros(size_t n);
//   template <class T> Array<T> upload(const T* host, size_t n);
//   void gemm(bool trans_a, bool trans_b, int m, int n, int k, Real alpha,
//             const Real* a, int lda, int64_t stride_a, const Real* b, int ldb,
//             int64_t stride_b, Real beta, Real* c, int ldc, int64_t stride_c,
//             int batch);                  row-major C = α op(A) op(B) + β C per batch item
//   template <class F> void launch(size_t n, const F& f, const char* phase);   f(i), i < n
//   template <class F> void segment_sums(size_t segments, int64_t stride, int64_t length,
//                                        const F& f, Sum3* out, const char* phase);
//                                 out[s] = Σ f(j) over j in [s·stride, s·stride + length),
//                                 in an order of the back end's choosing
// All pointers that the evaluator receives and passes on are in the Ops'
// memory space.
//
// Jets. Per chain, a layer's input and output are `planes` stacked (rows,
// width) matrices: value, first and second derivative along u. With
// per-chain W and its direction dW (d²W = 0, θ moves on a line):
//   Z = H W + b,  Z' = H' W + H dW + db,  Z'' = H'' W + 2 H' dW,
// so the stacked planes of H times W are one product per chain, batched over
// chains, and two more products add the dW terms. The first layer's input is
// the data tile, shared by all chains (batch stride 0), with no derivative
// planes. Then the activation jet, elementwise:
//   a = φ(z),  a' = φ'(z) z',  a'' = φ''(z) z'² + φ'(z) z''.
// A convolution is the same with the im2col patch matrix (one row per output
// position, k·k·C_in columns) in place of H, built per chain and plane for a
// chunk of images at a time (shared by all chains for the first layer), so
// that the patches stay within the size of one layer's planes. Pooling acts
// on each plane (max pooling takes every plane at the maximum of the value
// plane). The likelihood's jet is formed per row and summed per chain in row
// order, in double, across tiles.
//
// Gradient (reverse mode, for MALA). Each tile runs forward keeping every
// layer's output, then δ = ∂ log p / ∂(last output) per row and, layer by
// layer backwards, δ ← δ ⊙ φ'(z) with φ' from the stored output a = φ(z),
// ∂W += Hᵀ δ, ∂b += Σ_rows δ and δ ← δ Wᵀ (a convolution: its patches for
// H, and col2im of δ Wᵀ, gathered per input value so that no two threads add
// into one value; pooling: its adjoint, gathered the same way).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "fmala/ad/jet.hpp"
#include "fmala/ad/math.hpp"
#include "fmala/backend/sum3.hpp"
#include "fmala/core/config.hpp"
#include "fmala/core/error.hpp"
#include "fmala/model/gaussian_prior.hpp"
#include "fmala/model/model.hpp"

namespace fmala {

namespace network_detail {

using Activation = NetworkSpec::Activation;

inline constexpr double kLogTwoPi = 1.83787706640934548356065947281123527;

FMALA_HD inline Real sigmoid_of(Real z) {
  if (z >= 0) {
    return Real(1) / (Real(1) + exp(-z));
  }
  const Real e = exp(z);
  return e / (Real(1) + e);
}

// φ(z), φ'(z) and φ''(z).
struct ActivationValues {
  Real value, first, second;
};

FMALA_HD inline ActivationValues activation_values(Activation kind, Real z) {
  switch (kind) {
    case Activation::relu:
      return z > Real(0) ? ActivationValues{z, Real(1), Real(0)}
                         : ActivationValues{Real(0), Real(0), Real(0)};
    case Activation::tanh: {
      const Real t = tanh(z);
      const Real slope = Real(1) - t * t;
      return {t, slope, Real(-2) * t * slope};
    }
    case Activation::sigmoid: {
      const Real s = sigmoid_of(z);
      const Real slope = s * (Real(1) - s);
      return {s, slope, slope * (Real(1) - Real(2) * s)};
    }
    case Activation::softplus: {
      const Real s = sigmoid_of(z);
      const Real a = (z > Real(0) ? z : Real(0)) + log1p(exp(z > Real(0) ? -z : z));
      return {a, s, s * (Real(1) - s)};
    }
    case Activation::identity:
    default:
      return {z, Real(1), Real(0)};
  }
}

// φ'(z) from the output a = φ(z): relu' = [a > 0], tanh' = 1 - a²,
// sigmoid' = a (1 - a), softplus' = sigmoid(z) = 1 - e^(-a).
FMALA_HD inline Real slope_from_output(Activation kind, Real a) {
  switch (kind) {
    case Activation::relu:
      return a > Real(0) ? Real(1) : Real(0);
    case Activation::tanh:
      return Real(1) - a * a;
    case Activation::sigmoid:
      return a * (Real(1) - a);
    case Activation::softplus:
      return -expm1(-a);
    case Activation::identity:
    default:
      return Real(1);
  }
}

// The number of nonzero planes after an activation of a layer output with
// `planes` nonzero planes, for jets of `order`: relu and the identity keep a
// zero second plane zero, the smooth ones fill it from the first.
inline int planes_after(Activation kind, int planes, int order) {
  if (kind == Activation::relu || kind == Activation::identity) {
    return planes;
  }
  return order >= 2 && planes >= 2 ? 3 : planes;
}

// Adds the bias (and its direction) to one layer's output planes and applies
// the activation jet, for element i of (C, values): `values` per plane and
// chain, whose channel (bias index) is the position modulo `channels`.
// Planes of chain c start at out + c · chain_stride, plane p at p · values.
struct BiasActivation {
  Real* out;
  int64_t chain_stride;
  int64_t values;
  int channels;
  int planes_in;   // nonzero planes of the product
  int planes_out;  // nonzero planes after the activation
  const Real* theta;
  const Real* direction;  // null for order 0
  int64_t dim;
  int64_t b_offset;
  Activation activation;
  FMALA_HD void operator()(size_t i) const {
    const size_t per_chain = static_cast<size_t>(values);
    const size_t c = i / per_chain;
    const size_t e = i % per_chain;
    const size_t j = e % static_cast<size_t>(channels);
    Real* z = out + c * chain_stride + e;
    const size_t b = c * dim + b_offset + j;
    Real z0 = z[0] + theta[b];
    Real z1 = planes_in >= 2 ? z[per_chain] + direction[b] : Real(0);
    const Real z2 = planes_in >= 3 ? z[2 * per_chain] : Real(0);
    const ActivationValues v = activation_values(activation, z0);
    z[0] = v.value;
    if (planes_out >= 2) {
      z[per_chain] = v.first * z1;
    }
    if (planes_out >= 3) {
      z[2 * per_chain] = v.second * z1 * z1 + v.first * z2;
    }
  }
};

// One row's log-likelihood jet into terms (C, tile, 3). Row r of chain c has
// output planes at out + c · chain_stride, plane p at p · rows · width.
struct RowLikelihood {
  const Real* out;
  int64_t chain_stride;
  int rows;
  int width;  // 1 (gaussian) or the number of classes
  int planes;
  NetworkSpec::Likelihood likelihood;
  const double* y;   // this tile's targets
  const int* labels; // this tile's labels
  Real* terms;
  int tile;
  FMALA_HD void operator()(size_t i) const {
    const size_t c = i / static_cast<size_t>(rows);
    const size_t r = i % static_cast<size_t>(rows);
    const size_t plane = static_cast<size_t>(rows) * width;
    const Real* z0 = out + c * chain_stride + r * width;
    const Real* z1 = planes >= 2 ? z0 + plane : nullptr;
    const Real* z2 = planes >= 3 ? z0 + 2 * plane : nullptr;
    Real* t = terms + (c * tile + r) * 3;
    if (likelihood == NetworkSpec::Likelihood::gaussian) {
      // Σ r², (Σ r²)' = Σ -2 r μ', (Σ r²)'' = Σ 2 μ'² - 2 r μ''.
      const Real res = y[r] - z0[0];
      const Real mu1 = z1 ? z1[0] : Real(0);
      const Real mu2 = z2 ? z2[0] : Real(0);
      t[0] = res * res;
      t[1] = Real(-2) * res * mu1;
      t[2] = Real(2) * mu1 * mu1 - Real(2) * res * mu2;
      return;
    }
    // log softmax(z)_y = z_y - lse(z), with lse' = Σ p z' and
    // lse'' = Σ p z'' + Σ p z'² - (Σ p z')², p = softmax(z).
    Real shift = z0[0];
    for (int k = 1; k < width; ++k) {
      shift = z0[k] > shift ? z0[k] : shift;
    }
    Real sum = 0, s1 = 0, s2 = 0, s11 = 0;
    for (int k = 0; k < width; ++k) {
      const Real e = exp(z0[k] - shift);
      sum += e;
      if (z1) {
        s1 += e * z1[k];
        s11 += e * z1[k] * z1[k];
      }
      if (z2) {
        s2 += e * z2[k];
      }
    }
    const int label = labels[r];
    const Real mean1 = s1 / sum;
    t[0] = (z0[label] - shift) - log(sum);
    t[1] = (z1 ? z1[label] : Real(0)) - mean1;
    t[2] = (z2 ? z2[label] : Real(0)) - (s2 / sum + s11 / sum - mean1 * mean1);
  }
};

// sums[c] += Σ_r terms[c, r] in row order, for chain c.
struct SumRows {
  const Real* terms;
  int tile;
  int rows;
  int width;  // values per row: 3 (jets) or 1 (gradient)
  Real* sums;
  FMALA_HD void operator()(size_t c) const {
    const Real* t = terms + c * tile * width;
    Real* s = sums + c * width;
    for (int r = 0; r < rows; ++r) {
      for (int w = 0; w < width; ++w) {
        s[w] += t[static_cast<size_t>(r) * width + w];
      }
    }
  }
};

// The scalar settings of the likelihood and priors, copied into the functors.
struct Settings {
  NetworkSpec::Likelihood likelihood;
  size_t prior_count;
  Real prior_sd;
  bool learn_noise;
  Real noise_sd;
  Real log_noise_prior_mean;
  Real log_noise_prior_sd;
  bool temper;
  double rows;

  explicit Settings(const NetworkSpec& spec)
      : likelihood(spec.likelihood),
        prior_count(spec.prior_count),
        prior_sd(spec.prior_sd),
        learn_noise(spec.learn_noise),
        noise_sd(spec.noise_sd),
        log_noise_prior_mean(spec.log_noise_prior_mean),
        log_noise_prior_sd(spec.log_noise_prior_sd),
        temper(spec.temper),
        rows(static_cast<double>(spec.rows)) {}

  FMALA_HD Jet<Real> log_noise_prior(const Jet<Real>& s) const {
    const Real inv = Real(1) / (log_noise_prior_sd * log_noise_prior_sd);
    const Real e = s.val - log_noise_prior_mean;
    return Jet<Real>(-0.5 * e * e * inv - log(log_noise_prior_sd) - 0.5 * kLogTwoPi,
                     -e * s.d * inv, -s.d * s.d * inv);
  }

  // log N(y; μ, σ²) summed over the rows, from Σ (y - μ)² and log σ.
  FMALA_HD Jet<Real> gaussian(const Jet<Real>& log_sigma, const Jet<Real>& sum_squares) const {
    const Jet<Real> precision = exp(Real(-2) * log_sigma);
    return Real(-0.5 * rows * kLogTwoPi) - Real(rows) * log_sigma -
           Real(0.5) * (precision * sum_squares);
  }
};

// The terms of the prior's sums at flat index j of the (C, D) parameters:
// θ_j², θ_j u_j and u_j² (only θ_j² without a direction).
struct PriorTerms {
  const Real* theta;
  const Real* direction;
  FMALA_HD Sum3 operator()(int64_t j) const {
    const double t = theta[j];
    if (direction == nullptr) {
      return Sum3{t * t, 0.0, 0.0};
    }
    const double u = direction[j];
    return Sum3{t * t, t * u, u * u};
  }
};

// f, d, h of chain c from its likelihood sums and its prior sums.
struct FinishJet {
  Settings settings;
  const Real* sums;  // (C, 3)
  const Sum3* prior;  // (C)
  const Real* theta;
  const Real* direction;
  int64_t dim;
  int order;
  Real* f;
  Real* d;
  Real* h;
  FMALA_HD void operator()(size_t c) const {
    const Real* t = theta + c * dim;
    const Real* u = order >= 1 ? direction + c * dim : nullptr;
    const Real* s = sums + 3 * c;
    const Jet<Real> prior_jet = detail::gaussian_prior_from_sums(
        prior[c].a, order >= 1 ? prior[c].b : 0.0, order >= 2 ? prior[c].c : 0.0, settings.prior_count,
        settings.prior_sd);
    const Jet<Real> likelihood_sums(s[0], order >= 1 ? s[1] : Real(0), order >= 2 ? s[2] : Real(0));
    Jet<Real> result;
    if (settings.likelihood == NetworkSpec::Likelihood::gaussian) {
      Jet<Real> log_sigma(log(settings.noise_sd));
      if (settings.learn_noise) {
        const size_t at = settings.prior_count;
        log_sigma = Jet<Real>(t[at], u ? u[at] : Real(0), Real(0));
      }
      result = settings.gaussian(log_sigma, likelihood_sums) + prior_jet;
      if (settings.learn_noise) {
        result += settings.log_noise_prior(log_sigma);
      }
    } else {
      result = likelihood_sums + prior_jet;
    }
    if (settings.temper) {
      result = result / Real(settings.rows);
    }
    f[c] = result.val;
    if (order >= 1 && d) {
      d[c] = result.d;
    }
    if (order >= 2 && h) {
      h[c] = result.d2;
    }
  }
};

// The output layer's δ and the row's log-likelihood term (gaussian: the
// squared residual; δ = y - μ, to be scaled by the precision at the end).
struct OutputDelta {
  const Real* out;  // (C, tile, width) per chain at out + c · chain_stride
  int64_t chain_stride;
  Real* delta;      // (C, rows, width) per chain at delta + c · delta_stride
  int64_t delta_stride;
  int rows;
  int width;
  NetworkSpec::Likelihood likelihood;
  const double* y;
  const int* labels;
  Real* terms;  // (C, tile)
  int tile;
  FMALA_HD void operator()(size_t i) const {
    const size_t c = i / static_cast<size_t>(rows);
    const size_t r = i % static_cast<size_t>(rows);
    const Real* z = out + c * chain_stride + r * width;
    Real* dz = delta + c * delta_stride + r * width;
    Real* t = terms + c * tile + r;
    if (likelihood == NetworkSpec::Likelihood::gaussian) {
      const Real res = y[r] - z[0];
      dz[0] = res;
      *t = res * res;
      return;
    }
    Real shift = z[0];
    for (int k = 1; k < width; ++k) {
      shift = z[k] > shift ? z[k] : shift;
    }
    Real sum = 0;
    for (int k = 0; k < width; ++k) {
      sum += exp(z[k] - shift);
    }
    const int label = labels[r];
    *t = (z[label] - shift) - log(sum);
    for (int k = 0; k < width; ++k) {
      dz[k] = (k == label ? Real(1) : Real(0)) - exp(z[k] - shift) / sum;
    }
  }
};

// g_b[j] += Σ_r δ[r, j] for chain c = i / width, unit j = i % width, over
// `rows` rows of δ (images, or image positions of a convolution).
struct AddBiasGradient {
  const Real* delta;
  int64_t delta_stride;
  int64_t rows;
  int width;
  Real* g;
  int64_t dim;
  int64_t b_offset;
  FMALA_HD void operator()(size_t i) const {
    const size_t c = i / static_cast<size_t>(width);
    const size_t j = i % static_cast<size_t>(width);
    const Real* dz = delta + c * delta_stride + j;
    Real sum = 0;
    for (int64_t r = 0; r < rows; ++r) {
      sum += dz[static_cast<size_t>(r) * width];
    }
    g[c * dim + b_offset + j] += sum;
  }
};

// δ[i] *= φ'(z) from the stored output a = φ(z), element i of (C, rows, width).
struct MultiplyBySlope {
  Real* delta;
  int64_t delta_stride;
  const Real* a;
  int64_t a_stride;
  size_t per_chain;
  Activation activation;
  FMALA_HD void operator()(size_t i) const {
    const size_t c = i / per_chain;
    const size_t e = i % per_chain;
    delta[c * delta_stride + e] *= slope_from_output(activation, a[c * a_stride + e]);
  }
};

// The shapes of one convolution or pooling layer, for the functors below.
struct ImageShape {
  int in_h, in_w, in_c, out_h, out_w, out_c, kernel, stride, pad_top, pad_left;

  explicit ImageShape(const NetworkSpec::Layer& l)
      : in_h(l.in_h), in_w(l.in_w), in_c(l.in_c), out_h(l.out_h), out_w(l.out_w), out_c(l.out_c),
        kernel(l.kernel), stride(l.stride), pad_top(l.pad_top), pad_left(l.pad_left) {}
  FMALA_HD int64_t in_size() const { return static_cast<int64_t>(in_h) * in_w * in_c; }
  FMALA_HD int64_t out_size() const { return static_cast<int64_t>(out_h) * out_w * out_c; }
  FMALA_HD int64_t positions() const { return static_cast<int64_t>(out_h) * out_w; }
  FMALA_HD int64_t patch() const { return static_cast<int64_t>(kernel) * kernel * in_c; }
};

// im2col of `rows` images for `planes` planes of `chains` chains: patch row
// (r, oy, ox) contains the window at (oy · s - pad_top, ox · s - pad_left) in
// (ky, kx, ci) order, zeros outside the image. Element i of
// (chains, planes, rows, positions, patch); image r of plane p of chain c
// starts at in + c · in_stride + p · in_plane + r · in_size, and its patches
// at patches + ((c · planes + p) · rows + r) · positions · patch.
struct Im2col {
  ImageShape shape;
  const Real* in;
  int64_t in_stride;
  int64_t in_plane;
  int planes;
  int rows;
  Real* patches;
  FMALA_HD void operator()(size_t i) const {
    const size_t cols = static_cast<size_t>(shape.patch());
    const size_t col = i % cols;
    size_t rest = i / cols;
    const size_t pos = rest % static_cast<size_t>(shape.positions());
    rest /= static_cast<size_t>(shape.positions());
    const size_t r = rest % static_cast<size_t>(rows);
    rest /= static_cast<size_t>(rows);
    const size_t p = rest % static_cast<size_t>(planes);
    const size_t c = rest / static_cast<size_t>(planes);
    const int ci = static_cast<int>(col % static_cast<size_t>(shape.in_c));
    const int kx = static_cast<int>((col / static_cast<size_t>(shape.in_c)) % static_cast<size_t>(shape.kernel));
    const int ky = static_cast<int>(col / (static_cast<size_t>(shape.in_c) * shape.kernel));
    const int oy = static_cast<int>(pos / static_cast<size_t>(shape.out_w));
    const int ox = static_cast<int>(pos % static_cast<size_t>(shape.out_w));
    const int iy = oy * shape.stride - shape.pad_top + ky;
    const int ix = ox * shape.stride - shape.pad_left + kx;
    Real v = 0;
    if (iy >= 0 && iy < shape.in_h && ix >= 0 && ix < shape.in_w) {
      v = in[c * in_stride + p * in_plane + r * shape.in_size() +
             (static_cast<int64_t>(iy) * shape.in_w + ix) * shape.in_c + ci];
    }
    patches[i] = v;
  }
};

// The adjoint of Im2col for one plane: each input value of `rows` images is
// the sum of the patch entries that copied it, gathered (no two threads write
// one value). Element i of (chains, rows, in_size); writes
// out + c · out_stride + r · in_size + e from patches + c · patch_stride.
struct Col2im {
  ImageShape shape;
  const Real* patches;
  int64_t patch_stride;
  int rows;
  Real* out;
  int64_t out_stride;
  FMALA_HD void operator()(size_t i) const {
    const size_t per_image = static_cast<size_t>(shape.in_size());
    const size_t e = i % per_image;
    const size_t r = (i / per_image) % static_cast<size_t>(rows);
    const size_t c = i / (per_image * rows);
    const int ci = static_cast<int>(e % static_cast<size_t>(shape.in_c));
    const int ix = static_cast<int>((e / static_cast<size_t>(shape.in_c)) % static_cast<size_t>(shape.in_w));
    const int iy = static_cast<int>(e / (static_cast<size_t>(shape.in_c) * shape.in_w));
    const Real* image = patches + c * patch_stride + r * shape.positions() * shape.patch();
    Real sum = 0;
    for (int ky = 0; ky < shape.kernel; ++ky) {
      const int ty = iy + shape.pad_top - ky;  // oy · stride
      if (ty < 0 || ty % shape.stride != 0 || ty / shape.stride >= shape.out_h) {
        continue;
      }
      const int oy = ty / shape.stride;
      for (int kx = 0; kx < shape.kernel; ++kx) {
        const int tx = ix + shape.pad_left - kx;
        if (tx < 0 || tx % shape.stride != 0 || tx / shape.stride >= shape.out_w) {
          continue;
        }
        const int ox = tx / shape.stride;
        sum += image[(static_cast<int64_t>(oy) * shape.out_w + ox) * shape.patch() +
                     (static_cast<int64_t>(ky) * shape.kernel + kx) * shape.in_c + ci];
      }
    }
    out[c * out_stride + r * shape.in_size() + e] = sum;
  }
};

// The offset, from a 2×2 window's corner, of its largest value in `a`, ties
// to the first in (dy, dx) order (as the CPU back end).
FMALA_HD inline int64_t window_max(const Real* a, int64_t corner, int64_t row_step, int64_t c) {
  const int64_t offsets[4] = {0, c, row_step, row_step + c};
  int64_t best = 0;
  for (int j = 1; j < 4; ++j) {
    if (a[corner + offsets[j]] > a[corner + best]) {
      best = offsets[j];
    }
  }
  return best;
}

// A 2×2 pooling layer with stride 2 on `planes` planes: average, or the
// value at the maximum of plane 0 for every plane. Element i of
// (chains, planes, rows, out_size).
struct PoolForward {
  ImageShape shape;
  bool max;
  const Real* in;
  int64_t in_stride;
  int64_t in_plane;
  Real* out;
  int64_t out_stride;
  int64_t out_plane;
  int planes;
  int rows;
  FMALA_HD void operator()(size_t i) const {
    const size_t per_image = static_cast<size_t>(shape.out_size());
    const size_t e = i % per_image;
    size_t rest = i / per_image;
    const size_t r = rest % static_cast<size_t>(rows);
    rest /= static_cast<size_t>(rows);
    const size_t p = rest % static_cast<size_t>(planes);
    const size_t c = rest / static_cast<size_t>(planes);
    const int64_t ch = static_cast<int64_t>(e % static_cast<size_t>(shape.out_c));
    const int64_t ox = static_cast<int64_t>((e / static_cast<size_t>(shape.out_c)) % static_cast<size_t>(shape.out_w));
    const int64_t oy = static_cast<int64_t>(e / (static_cast<size_t>(shape.out_c) * shape.out_w));
    const int64_t row_step = static_cast<int64_t>(shape.in_w) * shape.in_c;
    const int64_t corner = r * shape.in_size() + (2 * oy * shape.in_w + 2 * ox) * shape.in_c + ch;
    const Real* plane = in + c * in_stride + p * in_plane;
    Real v;
    if (max) {
      const Real* values = in + c * in_stride;  // plane 0 picks the entry
      v = plane[corner + window_max(values, corner, row_step, shape.in_c)];
    } else {
      v = Real(0.25) * ((plane[corner] + plane[corner + shape.in_c]) +
                        (plane[corner + row_step] + plane[corner + row_step + shape.in_c]));
    }
    out[c * out_stride + p * out_plane + r * per_image + e] = v;
  }
};

// The adjoint of PoolForward for one plane, gathered per input value:
// δ/4 of its window (average), or δ where it is its window's maximum in
// `a` (the layer's input). Element i of (chains, rows, in_size).
struct PoolAdjoint {
  ImageShape shape;
  bool max;
  const Real* delta;  // (rows, out_size) at delta + c · delta_stride
  int64_t delta_stride;
  const Real* a;  // the input, at a + c · a_stride
  int64_t a_stride;
  Real* out;
  int64_t out_stride;
  int rows;
  FMALA_HD void operator()(size_t i) const {
    const size_t per_image = static_cast<size_t>(shape.in_size());
    const size_t e = i % per_image;
    const size_t r = (i / per_image) % static_cast<size_t>(rows);
    const size_t c = i / (per_image * rows);
    const int64_t ch = static_cast<int64_t>(e % static_cast<size_t>(shape.in_c));
    const int64_t ix = static_cast<int64_t>((e / static_cast<size_t>(shape.in_c)) % static_cast<size_t>(shape.in_w));
    const int64_t iy = static_cast<int64_t>(e / (static_cast<size_t>(shape.in_c) * shape.in_w));
    const int64_t oy = iy / 2;
    const int64_t ox = ix / 2;
    Real v = 0;
    if (oy < shape.out_h && ox < shape.out_w) {
      const Real d = delta[c * delta_stride + r * shape.out_size() + (oy * shape.out_w + ox) * shape.out_c + ch];
      if (!max) {
        v = Real(0.25) * d;
      } else {
        const int64_t row_step = static_cast<int64_t>(shape.in_w) * shape.in_c;
        const int64_t corner = r * shape.in_size() + (2 * oy * shape.in_w + 2 * ox) * shape.in_c + ch;
        const int64_t self = (iy - 2 * oy) * row_step + (ix - 2 * ox) * shape.in_c;
        v = window_max(a + c * a_stride, corner, row_step, shape.in_c) == self ? d : Real(0);
      }
    }
    out[c * out_stride + r * per_image + e] = v;
  }
};

struct Fill {
  Real* values;
  Real value;
  FMALA_HD void operator()(size_t i) const { values[i] = value; }
};

// The gradient of chain c from its likelihood gradient and sums, with the
// prior; element i < C · D is coordinate i % D of chain i / D, and f is
// written by the coordinate 0.
struct FinishGradient {
  Settings settings;
  const Real* sums;   // (C)
  const Sum3* prior;  // (C): Σ θ² of each chain's prior
  const Real* theta;
  int64_t dim;
  Real* f;
  Real* g;
  FMALA_HD void operator()(size_t i) const {
    const size_t c = i / static_cast<size_t>(dim);
    const size_t at = i % static_cast<size_t>(dim);
    const Real* t = theta + c * dim;
    const Real inv_var = Real(1) / (settings.prior_sd * settings.prior_sd);
    const bool gaussian = settings.likelihood == NetworkSpec::Likelihood::gaussian;
    const Real log_sigma = gaussian && settings.learn_noise ? t[settings.prior_count]
                                                            : log(settings.noise_sd);
    const Real precision = gaussian ? exp(Real(-2) * log_sigma) : Real(1);
    Real value = g[i];
    if (at < settings.prior_count) {
      value = precision * value - t[at] * inv_var;
    } else if (gaussian && settings.learn_noise && at == settings.prior_count) {
      const Real sd = settings.log_noise_prior_sd;
      value = Real(-settings.rows) + precision * sums[c] -
              (log_sigma - settings.log_noise_prior_mean) / (sd * sd);
    }
    if (settings.temper) {
      value = value / Real(settings.rows);
    }
    g[i] = value;
    if (at == 0) {
      Jet<Real> result;
      if (gaussian) {
        result = settings.gaussian(Jet<Real>(log_sigma), Jet<Real>(sums[c])) +
                 detail::gaussian_prior_from_sums(prior[c].a, 0.0, 0.0, settings.prior_count, settings.prior_sd);
        if (settings.learn_noise) {
          result += settings.log_noise_prior(Jet<Real>(log_sigma));
        }
      } else {
        result = Jet<Real>(sums[c]) +
                 detail::gaussian_prior_from_sums(prior[c].a, 0.0, 0.0, settings.prior_count, settings.prior_sd);
      }
      if (settings.temper) {
        result = result / Real(settings.rows);
      }
      f[c] = result.val;
    }
  }
};

}  // namespace network_detail

// Throws fmala::Error naming `where` when the spec is inconsistent with a
// parameter vector of `dim` values (offsets out of range, layer widths that do
// not chain, a last layer that does not match the likelihood).
void check_network_spec(const NetworkSpec& spec, int dim, const std::string& where);

// Bytes of the work buffers that NetworkEvaluator allocates for `chains`
// chains with the spec's tile: those of jet() or, with `gradient`, those of
// gradient() (MALA evaluates only gradients).
size_t network_work_bytes(const NetworkSpec& spec, int chains, bool gradient);

// The widest layer output, or input past the first layer, in values per row.
size_t network_max_width(const NetworkSpec& spec);
// Images per chunk of a convolution's im2col: as many as keep one plane of
// one chain's patches within tile × max_width values, at least 1.
int network_chunk_rows(const NetworkSpec::Layer& layer, int tile, int64_t max_width);
// The largest one-plane patch buffer of one chain over the convolutions,
// chunk × positions × k·k·C_in; 0 without convolutions.
size_t network_max_patch(const NetworkSpec& spec);

template <class Ops>
class NetworkEvaluator {
 public:
  using Layer = NetworkSpec::Layer;
  using Kind = NetworkSpec::Layer::Kind;

  // Copies the training data into the Ops' memory, or reads them in place
  // when spec.data_on_device; work buffers are allocated by the first jet()
  // or gradient().
  NetworkEvaluator(const NetworkSpec& spec, int dim, int chains, Ops& ops)
      : spec_(spec), dim_(dim), chains_(chains), ops_(ops) {
    check_network_spec(spec, dim, "network");
    tile_ = static_cast<int>(std::min<size_t>(static_cast<size_t>(std::max(spec.tile, 1)), spec.rows));
    max_width_ = static_cast<int64_t>(network_max_width(spec));
    max_patch_ = static_cast<int64_t>(network_max_patch(spec));
    const int inputs = spec.layers.front().in;
    if (spec.data_on_device) {
      x_data_ = spec.x;
      y_data_ = spec.y;
      labels_data_ = spec.labels;
      return;
    }
    x_ = ops_.template upload<double>(spec.x, spec.rows * static_cast<size_t>(inputs));
    x_data_ = x_.data();
    if (gaussian()) {
      y_ = ops_.template upload<double>(spec.y, spec.rows);
      y_data_ = y_.data();
    } else {
      labels_ = ops_.template upload<int>(spec.labels, spec.rows);
      labels_data_ = labels_.data();
    }
  }

  // Bytes of the buffers held now (data and work buffers).
  size_t bytes() const {
    size_t total = x_.bytes() + y_.bytes() + labels_.bytes() + planes_a_.bytes() + planes_b_.bytes() +
                   terms_.bytes() + sums_.bytes() + prior_.bytes() + delta_a_.bytes() + delta_b_.bytes() +
                   patches_.bytes() + patch_deltas_.bytes();
    for (const auto& a : activations_) {
      total += a.bytes();
    }
    return total;
  }

  void jet(const Real* theta, const Real* direction, int order, Real* f, Real* d, Real* h) {
    using namespace network_detail;
    if (order < 0 || order > 2) {
      throw make_error("network", "order must be 0, 1 or 2, got " + std::to_string(order));
    }
    if (order >= 1 && direction == nullptr) {
      throw make_error("network", "a jet of order " + std::to_string(order) + " needs a direction");
    }
    const size_t c = static_cast<size_t>(chains_);
    const int64_t chain_stride = static_cast<int64_t>(3) * tile_ * max_width_;
    if (planes_a_.size() == 0) {
      planes_a_ = ops_.template zeros<Real>(c * static_cast<size_t>(chain_stride));
      planes_b_ = ops_.template zeros<Real>(c * static_cast<size_t>(chain_stride));
    }
    ensure_patches(3, false);
    ensure_terms();
    ops_.launch(c * 3, Fill{sums_.data(), Real(0)}, "network: clear sums");
    const int inputs = spec_.layers.front().in;
    for (size_t start = 0; start < spec_.rows; start += static_cast<size_t>(tile_)) {
      const int rows = static_cast<int>(std::min<size_t>(tile_, spec_.rows - start));
      const Real* in = x_data_ + start * inputs;
      int64_t in_stride = 0;  // the data tile is shared by all chains
      int planes = 1;
      Real* out = planes_a_.data();
      for (const Layer& layer : spec_.layers) {
        const int64_t out_plane = static_cast<int64_t>(rows) * layer.out;
        if (layer.kind == Kind::avg_pool || layer.kind == Kind::max_pool) {
          ops_.launch(c * planes * static_cast<size_t>(out_plane),
                      PoolForward{ImageShape(layer), layer.kind == Kind::max_pool, in, in_stride,
                                  static_cast<int64_t>(rows) * layer.in, out, chain_stride, out_plane,
                                  planes, rows},
                      "network: pooling");
        } else {
          const int product_planes =
              products(layer, rows, in, in_stride, planes, order, theta, direction, out, chain_stride);
          const int after = planes_after(layer.activation, product_planes, order);
          ops_.launch(c * static_cast<size_t>(out_plane),
                      BiasActivation{out, chain_stride, out_plane, channels(layer), product_planes,
                                     after, theta, direction, dim_,
                                     static_cast<int64_t>(layer.b_offset), layer.activation},
                      "network: bias and activation");
          planes = after;
        }
        in = out;
        in_stride = chain_stride;
        out = out == planes_a_.data() ? planes_b_.data() : planes_a_.data();
      }
      const Layer& last = spec_.layers.back();
      ops_.launch(c * static_cast<size_t>(rows),
                  RowLikelihood{in, chain_stride, rows, last.out, planes, spec_.likelihood,
                                targets(start), labels(start), terms_.data(), tile_},
                  "network: likelihood");
      ops_.launch(c, SumRows{terms_.data(), tile_, rows, 3, sums_.data()}, "network: sums");
    }
    ops_.segment_sums(c, dim_, static_cast<int64_t>(spec_.prior_count),
                      PriorTerms{theta, order >= 1 ? direction : nullptr}, prior_.data(), "network: prior sums");
    ops_.launch(c, FinishJet{Settings(spec_), sums_.data(), prior_.data(), theta, direction, dim_, order, f, d, h},
                "network: prior");
  }

  void gradient(const Real* theta, Real* f, Real* g) {
    using namespace network_detail;
    const size_t c = static_cast<size_t>(chains_);
    const size_t n_layers = spec_.layers.size();
    if (activations_.empty()) {
      for (const Layer& layer : spec_.layers) {
        activations_.push_back(ops_.template zeros<Real>(c * tile_ * static_cast<size_t>(layer.out)));
      }
      delta_a_ = ops_.template zeros<Real>(c * tile_ * static_cast<size_t>(max_width_));
      delta_b_ = ops_.template zeros<Real>(c * tile_ * static_cast<size_t>(max_width_));
    }
    ensure_patches(1, true);
    ensure_terms();
    ops_.launch(c, Fill{sums_.data(), Real(0)}, "network: clear sums");
    ops_.launch(c * static_cast<size_t>(dim_), Fill{g, Real(0)}, "network: clear gradient");
    const int inputs = spec_.layers.front().in;
    const int64_t delta_stride = static_cast<int64_t>(tile_) * max_width_;
    for (size_t start = 0; start < spec_.rows; start += static_cast<size_t>(tile_)) {
      const int rows = static_cast<int>(std::min<size_t>(tile_, spec_.rows - start));
      const Real* x = x_data_ + start * inputs;
      // Forward, keeping every layer's output.
      for (size_t l = 0; l < n_layers; ++l) {
        const Layer& layer = spec_.layers[l];
        const Real* in = l == 0 ? x : activations_[l - 1].data();
        const int64_t in_stride = l == 0 ? 0 : static_cast<int64_t>(tile_) * layer.in;
        const int64_t out_stride = static_cast<int64_t>(tile_) * layer.out;
        const int64_t out_plane = static_cast<int64_t>(rows) * layer.out;
        Real* out = activations_[l].data();
        if (layer.kind == Kind::avg_pool || layer.kind == Kind::max_pool) {
          ops_.launch(c * static_cast<size_t>(out_plane),
                      PoolForward{ImageShape(layer), layer.kind == Kind::max_pool, in, in_stride,
                                  static_cast<int64_t>(rows) * layer.in, out, out_stride, out_plane, 1,
                                  rows},
                      "network: pooling");
          continue;
        }
        products(layer, rows, in, in_stride, 1, 0, theta, nullptr, out, out_stride);
        ops_.launch(c * static_cast<size_t>(out_plane),
                    BiasActivation{out, out_stride, out_plane, channels(layer), 1, 1, theta, nullptr,
                                   dim_, static_cast<int64_t>(layer.b_offset), layer.activation},
                    "network: bias and activation");
      }
      const Layer& last = spec_.layers.back();
      Real* delta = delta_a_.data();
      Real* delta_next = delta_b_.data();
      ops_.launch(c * static_cast<size_t>(rows),
                  OutputDelta{activations_.back().data(), static_cast<int64_t>(tile_) * last.out,
                              delta, delta_stride, rows, last.out, spec_.likelihood,
                              targets(start), labels(start), terms_.data(), tile_},
                  "network: output delta");
      ops_.launch(c, SumRows{terms_.data(), tile_, rows, 1, sums_.data()}, "network: sums");
      // Backward: δ is ∂ log p / ∂(output of layer l) on entry.
      for (size_t l = n_layers; l-- > 0;) {
        const Layer& layer = spec_.layers[l];
        const Real* in = l == 0 ? x : activations_[l - 1].data();
        const int64_t in_stride = l == 0 ? 0 : static_cast<int64_t>(tile_) * layer.in;
        const int64_t out_values = static_cast<int64_t>(rows) * layer.out;
        if (layer.activation != Activation::identity) {
          ops_.launch(c * static_cast<size_t>(out_values),
                      MultiplyBySlope{delta, delta_stride, activations_[l].data(),
                                      static_cast<int64_t>(tile_) * layer.out,
                                      static_cast<size_t>(out_values), layer.activation},
                      "network: slope");
        }
        if (layer.kind == Kind::avg_pool || layer.kind == Kind::max_pool) {
          if (l > 0) {
            ops_.launch(c * static_cast<size_t>(rows) * layer.in,
                        PoolAdjoint{ImageShape(layer), layer.kind == Kind::max_pool, delta,
                                    delta_stride, in, in_stride, delta_next, delta_stride, rows},
                        "network: pooling adjoint");
          }
        } else if (layer.kind == Kind::dense) {
          // ∂W += Hᵀ δ, ∂b += Σ δ, δ ← δ Wᵀ
          ops_.gemm(true, false, layer.in, layer.out, rows, Real(1), in, layer.in, in_stride, delta,
                    layer.out, delta_stride, Real(1), g + layer.w_offset, layer.out, dim_, chains_);
          ops_.launch(c * static_cast<size_t>(layer.out),
                      AddBiasGradient{delta, delta_stride, rows, layer.out, g, dim_,
                                      static_cast<int64_t>(layer.b_offset)},
                      "network: bias gradient");
          if (l > 0) {
            ops_.gemm(false, true, rows, layer.in, layer.out, Real(1), delta, layer.out, delta_stride,
                      theta + layer.w_offset, layer.out, dim_, Real(0), delta_next, layer.in,
                      delta_stride, chains_);
          }
        } else {
          conv_backward(layer, rows, in, in_stride, theta, g, delta, delta_next, delta_stride, l > 0);
        }
        if (l == 0) {
          break;
        }
        std::swap(delta, delta_next);
      }
    }
    ops_.segment_sums(c, dim_, static_cast<int64_t>(spec_.prior_count), PriorTerms{theta, nullptr},
                      prior_.data(), "network: prior sums");
    ops_.launch(c * static_cast<size_t>(dim_),
                FinishGradient{Settings(spec_), sums_.data(), prior_.data(), theta, dim_, f, g},
                "network: prior gradient");
  }

 private:
  using Activation = NetworkSpec::Activation;

  bool gaussian() const { return spec_.likelihood == NetworkSpec::Likelihood::gaussian; }
  const double* targets(size_t start) const { return gaussian() ? y_data_ + start : nullptr; }
  const int* labels(size_t start) const { return gaussian() ? nullptr : labels_data_ + start; }
  static int channels(const Layer& layer) {
    return layer.kind == Kind::conv2d ? layer.out_c : layer.out;
  }

  void ensure_terms() {
    const size_t c = static_cast<size_t>(chains_);
    if (terms_.size() < c * tile_ * 3) {
      terms_ = ops_.template zeros<Real>(c * tile_ * 3);
      sums_ = ops_.template zeros<Real>(c * 3);
      prior_ = ops_.template zeros<Sum3>(c);
    }
  }

  // Patch buffers of the convolutions: `planes` planes of patches, and with
  // `deltas` their adjoint.
  void ensure_patches(int planes, bool deltas) {
    if (max_patch_ == 0) {
      return;
    }
    const size_t n = static_cast<size_t>(chains_) * planes * static_cast<size_t>(max_patch_);
    if (patches_.size() < n) {
      patches_ = ops_.template zeros<Real>(n);
    }
    if (deltas && patch_deltas_.size() == 0) {
      patch_deltas_ = ops_.template zeros<Real>(static_cast<size_t>(chains_) * max_patch_);
    }
  }

  // The products of a dense or conv2d layer on `rows` rows (images) of the
  // `planes` nonzero planes of `in` (plane p at p · rows · in per chain),
  // jets of `order`: Z planes into `out` (chain stride out_stride, plane p at
  // p · rows · out). Returns the nonzero planes written.
  int products(const Layer& layer, int rows, const Real* in, int64_t in_stride, int planes, int order,
               const Real* theta, const Real* direction, Real* out, int64_t out_stride) {
    const int64_t out_plane = static_cast<int64_t>(rows) * layer.out;
    int written = planes;
    if (layer.kind == Kind::dense) {
      const int64_t in_plane = static_cast<int64_t>(rows) * layer.in;
      // [Z; Z'; Z''] = [H; H'; H''] W over the nonzero planes of H.
      ops_.gemm(false, false, planes * rows, layer.out, layer.in, Real(1), in, layer.in, in_stride,
                theta + layer.w_offset, layer.out, dim_, Real(0), out, layer.out, out_stride, chains_);
      if (order >= 1) {
        // Z' += H dW
        ops_.gemm(false, false, rows, layer.out, layer.in, Real(1), in, layer.in, in_stride,
                  direction + layer.w_offset, layer.out, dim_, planes >= 2 ? Real(1) : Real(0),
                  out + out_plane, layer.out, out_stride, chains_);
        written = std::max(written, 2);
      }
      if (order >= 2 && planes >= 2) {
        // Z'' += 2 H' dW
        ops_.gemm(false, false, rows, layer.out, layer.in, Real(2), in + in_plane, layer.in, in_stride,
                  direction + layer.w_offset, layer.out, dim_, planes >= 3 ? Real(1) : Real(0),
                  out + 2 * out_plane, layer.out, out_stride, chains_);
        written = 3;
      }
      return written;
    }
    // conv2d: the same products with the im2col patches of each chunk of
    // images in place of H, (n · positions, k·k·C_in) per plane.
    using namespace network_detail;
    const ImageShape shape(layer);
    const int64_t positions = shape.positions();
    const int64_t patch = shape.patch();
    const bool shared = in_stride == 0;
    const int chunk = chunk_rows(layer);
    for (int r0 = 0; r0 < rows; r0 += chunk) {
      const int n = std::min(chunk, rows - r0);
      const int m = static_cast<int>(n * positions);
      const int64_t plane_patches = static_cast<int64_t>(m) * patch;
      const size_t chains = shared ? 1 : static_cast<size_t>(chains_);
      ops_.launch(chains * planes * static_cast<size_t>(plane_patches),
                  Im2col{shape, in + static_cast<int64_t>(r0) * layer.in, in_stride,
                         static_cast<int64_t>(rows) * layer.in, planes, n, patches_.data()},
                  "network: im2col");
      const int64_t patch_stride = shared ? 0 : planes * plane_patches;
      Real* z = out + static_cast<int64_t>(r0) * layer.out;
      for (int p = 0; p < planes; ++p) {
        ops_.gemm(false, false, m, layer.out_c, static_cast<int>(patch), Real(1),
                  patches_.data() + p * plane_patches, static_cast<int>(patch), patch_stride,
                  theta + layer.w_offset, layer.out_c, dim_, Real(0), z + p * out_plane, layer.out_c,
                  out_stride, chains_);
      }
      if (order >= 1) {
        ops_.gemm(false, false, m, layer.out_c, static_cast<int>(patch), Real(1), patches_.data(),
                  static_cast<int>(patch), patch_stride, direction + layer.w_offset, layer.out_c, dim_,
                  planes >= 2 ? Real(1) : Real(0), z + out_plane, layer.out_c, out_stride, chains_);
      }
      if (order >= 2 && planes >= 2) {
        ops_.gemm(false, false, m, layer.out_c, static_cast<int>(patch), Real(2),
                  patches_.data() + plane_patches, static_cast<int>(patch), patch_stride,
                  direction + layer.w_offset, layer.out_c, dim_, planes >= 3 ? Real(1) : Real(0),
                  z + 2 * out_plane, layer.out_c, out_stride, chains_);
      }
    }
    if (order >= 1) {
      written = std::max(written, 2);
    }
    if (order >= 2 && planes >= 2) {
      written = 3;
    }
    return written;
  }

  // ∂W += Pᵀ δ and ∂b += Σ δ of a convolution, chunk by chunk of images,
  // and, with `propagate`, δ_next = col2im(δ Wᵀ).
  void conv_backward(const Layer& layer, int rows, const Real* in, int64_t in_stride, const Real* theta,
                     Real* g, const Real* delta, Real* delta_next, int64_t delta_stride, bool propagate) {
    using namespace network_detail;
    const size_t c = static_cast<size_t>(chains_);
    const ImageShape shape(layer);
    const int64_t positions = shape.positions();
    const int64_t patch = shape.patch();
    const bool shared = in_stride == 0;
    ops_.launch(c * static_cast<size_t>(layer.out_c),
                AddBiasGradient{delta, delta_stride, rows * positions, layer.out_c, g, dim_,
                                static_cast<int64_t>(layer.b_offset)},
                "network: bias gradient");
    const int chunk = chunk_rows(layer);
    for (int r0 = 0; r0 < rows; r0 += chunk) {
      const int n = std::min(chunk, rows - r0);
      const int m = static_cast<int>(n * positions);
      const int64_t plane_patches = static_cast<int64_t>(m) * patch;
      ops_.launch((shared ? 1 : c) * static_cast<size_t>(plane_patches),
                  Im2col{shape, in + static_cast<int64_t>(r0) * layer.in, in_stride, 0, 1, n,
                         patches_.data()},
                  "network: im2col");
      const Real* d = delta + static_cast<int64_t>(r0) * layer.out;
      ops_.gemm(true, false, static_cast<int>(patch), layer.out_c, m, Real(1), patches_.data(),
                static_cast<int>(patch), shared ? 0 : plane_patches, d, layer.out_c, delta_stride,
                Real(1), g + layer.w_offset, layer.out_c, dim_, chains_);
      if (propagate) {
        ops_.gemm(false, true, m, static_cast<int>(patch), layer.out_c, Real(1), d, layer.out_c,
                  delta_stride, theta + layer.w_offset, layer.out_c, dim_, Real(0),
                  patch_deltas_.data(), static_cast<int>(patch), plane_patches, chains_);
        ops_.launch(c * static_cast<size_t>(n) * layer.in,
                    Col2im{shape, patch_deltas_.data(), plane_patches, n,
                           delta_next + static_cast<int64_t>(r0) * layer.in, delta_stride},
                    "network: col2im");
      }
    }
  }

  int chunk_rows(const Layer& layer) const { return network_chunk_rows(layer, tile_, max_width_); }

  NetworkSpec spec_;
  int64_t dim_;
  int chains_;
  Ops& ops_;
  int tile_ = 1;
  int64_t max_width_ = 1;
  int64_t max_patch_ = 0;
  typename Ops::template Array<double> x_;
  typename Ops::template Array<double> y_;
  typename Ops::template Array<int> labels_;
  // The data the evaluator reads: its copies above, or the spec's own.
  const double* x_data_ = nullptr;
  const double* y_data_ = nullptr;
  const int* labels_data_ = nullptr;
  typename Ops::template Array<Real> planes_a_, planes_b_;  // (C, 3, tile, width) each
  typename Ops::template Array<Real> terms_;                // (C, tile, 3)
  typename Ops::template Array<Real> sums_;                 // (C, 3)
  typename Ops::template Array<Sum3> prior_;                // (C)
  std::vector<typename Ops::template Array<Real>> activations_;  // per layer (C, tile, out)
  typename Ops::template Array<Real> delta_a_, delta_b_;         // (C, tile, width) each
  typename Ops::template Array<Real> patches_;       // (C, planes, chunk · positions, patch)
  typename Ops::template Array<Real> patch_deltas_;  // (C, chunk · positions, patch)
};

}  // namespace fmala
