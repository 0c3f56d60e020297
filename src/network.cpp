#include "fmala/model/network.hpp"

#include <cblas.h>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "blas_util.hpp"
#include "chain_loops.hpp"
#include "classification_scores.hpp"
#include "fmala/ad/math.hpp"
#include "fmala/core/error.hpp"
#include "fmala/random/philox.hpp"
#include "fmala/model/gaussian_prior.hpp"

namespace fmala {

namespace {


using Kind = LayerSpec::Kind;
using Layer = NetworkClassifier::Layer;

bool is_activation(Kind kind) {
  return kind == Kind::relu || kind == Kind::tanh || kind == Kind::sigmoid ||
         kind == Kind::softplus;
}

// ---------------------------------------------------------------------------
// Layer list text

bool parse_int(const std::string& text, int& value) {
  const char* end = text.data() + text.size();
  const auto result = std::from_chars(text.data(), end, value);
  return result.ec == std::errc() && result.ptr == end;
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) {
      return parts;
    }
    start = end + 1;
  }
}

constexpr const char* kLayerHelp =
    "Use dense:UNITS, conv:FILTERS[:kK][:sS][:same|valid], avgpool, maxpool, flatten, relu, "
    "tanh, sigmoid or softplus, separated by commas";

LayerSpec parse_layer(const std::string& token, const std::string& where) {
  const std::vector<std::string> parts = split(token, ':');
  const std::string& name = parts[0];
  const auto bad = [&](const std::string& what) {
    return make_error(where, "layer '" + token + "': " + what, kLayerHelp);
  };
  LayerSpec spec;
  const auto simple = [&](Kind kind) {
    if (parts.size() != 1) {
      throw bad("takes no arguments");
    }
    spec.kind = kind;
    return spec;
  };
  if (name == "avgpool") return simple(Kind::avg_pool);
  if (name == "maxpool") return simple(Kind::max_pool);
  if (name == "flatten") return simple(Kind::flatten);
  if (name == "relu") return simple(Kind::relu);
  if (name == "tanh") return simple(Kind::tanh);
  if (name == "sigmoid") return simple(Kind::sigmoid);
  if (name == "softplus") return simple(Kind::softplus);
  if (name != "dense" && name != "conv") {
    throw bad("unknown layer");
  }
  spec.kind = name == "dense" ? Kind::dense : Kind::conv2d;
  if (parts.size() < 2 || !parse_int(parts[1], spec.size) || spec.size < 1) {
    throw bad("needs a whole number of " + std::string(name == "dense" ? "units" : "filters") +
              " of at least 1 after the colon");
  }
  if (spec.kind == Kind::dense && parts.size() != 2) {
    throw bad("dense takes only the number of units");
  }
  bool seen_padding = false, seen_kernel = false, seen_stride = false;
  const auto once = [&](bool& seen, const char* what) {
    if (seen) {
      throw bad(std::string("gives the ") + what + " twice");
    }
    seen = true;
  };
  for (size_t i = 2; i < parts.size(); ++i) {
    const std::string& option = parts[i];
    int value = 0;
    if (option.size() > 1 && option[0] == 'k') {
      once(seen_kernel, "window");
    } else if (option.size() > 1 && option[0] == 's' && option != "same") {
      once(seen_stride, "stride");
    } else if (option == "same" || option == "valid") {
      once(seen_padding, "padding");
    }
    if (option == "same" || option == "valid") {
      spec.same = option == "same";
    } else if (option.size() > 1 && option[0] == 'k' && parse_int(option.substr(1), value)) {
      if (value < 1) {
        throw bad("window k must be at least 1");
      }
      spec.kernel = value;
    } else if (option.size() > 1 && option[0] == 's' && parse_int(option.substr(1), value)) {
      if (value != 1 && value != 2) {
        throw bad("stride s must be 1 or 2");
      }
      spec.stride = value;
    } else {
      throw bad("unknown option '" + option + "'");
    }
  }
  return spec;
}

std::string layer_text(const LayerSpec& spec) {
  switch (spec.kind) {
    case Kind::dense:
      return "dense:" + std::to_string(spec.size);
    case Kind::conv2d: {
      std::string text = "conv:" + std::to_string(spec.size);
      if (spec.kernel != 3) {
        text += ":k" + std::to_string(spec.kernel);
      }
      if (spec.stride != 1) {
        text += ":s" + std::to_string(spec.stride);
      }
      if (!spec.same) {
        text += ":valid";
      }
      return text;
    }
    case Kind::avg_pool:
      return "avgpool";
    case Kind::max_pool:
      return "maxpool";
    case Kind::flatten:
      return "flatten";
    case Kind::relu:
      return "relu";
    case Kind::tanh:
      return "tanh";
    case Kind::sigmoid:
      return "sigmoid";
    case Kind::softplus:
      return "softplus";
  }
  return "?";
}

// ---------------------------------------------------------------------------
// Kernels on one tile of `rows` images. Tensors are (rows, H, W, C) row-major.

// Writes the im2col matrix (rows · H_out · W_out, k · k · C_in) of input a:
// row (n, oy, ox) contains the window at (oy · s - pad_top, ox · s - pad_left),
// in (ky, kx, ci) order, with zeros outside the image.
void im2col(const Layer& layer, int rows, const Real* __restrict__ a, Real* __restrict__ patches) {
  const int k = layer.spec.kernel;
  const int s = layer.spec.stride;
  const size_t c = static_cast<size_t>(layer.in_c);
  const size_t cols = static_cast<size_t>(layer.fan_in);
  for (int n = 0; n < rows; ++n) {
    const Real* image = a + static_cast<size_t>(n) * layer.in_size();
    for (int oy = 0; oy < layer.out_h; ++oy) {
      for (int ox = 0; ox < layer.out_w; ++ox) {
        Real* row = patches + ((static_cast<size_t>(n) * layer.out_h + oy) * layer.out_w + ox) * cols;
        // The k pixels of a window row are adjacent in NHWC, so each window
        // row is one run of k·C_in values, cut where it leaves the image.
        const int x0 = ox * s - layer.pad_left;
        const int first = std::max(0, -x0);                  // first kx inside
        const int last = std::min(k, layer.in_w - x0);       // one past the last
        for (int ky = 0; ky < k; ++ky) {
          const int iy = oy * s - layer.pad_top + ky;
          Real* dst = row + static_cast<size_t>(ky) * k * c;
          if (iy < 0 || iy >= layer.in_h || last <= first) {
            std::fill(dst, dst + k * c, Real(0));
            continue;
          }
          std::fill(dst, dst + static_cast<size_t>(first) * c, Real(0));
          const Real* src = image + (static_cast<size_t>(iy) * layer.in_w + (x0 + first)) * c;
          std::copy(src, src + static_cast<size_t>(last - first) * c, dst + static_cast<size_t>(first) * c);
          std::fill(dst + static_cast<size_t>(last) * c, dst + static_cast<size_t>(k) * c, Real(0));
        }
      }
    }
  }
}

// The adjoint of im2col: a (rows, H, W, C) = Σ of every patch entry back at
// its pixel. Overwrites a.
void col2im(const Layer& layer, int rows, const Real* __restrict__ patches, Real* __restrict__ a) {
  std::fill(a, a + static_cast<size_t>(rows) * layer.in_size(), Real(0));
  const int k = layer.spec.kernel;
  const int s = layer.spec.stride;
  const size_t c = static_cast<size_t>(layer.in_c);
  const size_t cols = static_cast<size_t>(layer.fan_in);
  for (int n = 0; n < rows; ++n) {
    Real* image = a + static_cast<size_t>(n) * layer.in_size();
    for (int oy = 0; oy < layer.out_h; ++oy) {
      for (int ox = 0; ox < layer.out_w; ++ox) {
        const Real* row =
            patches + ((static_cast<size_t>(n) * layer.out_h + oy) * layer.out_w + ox) * cols;
        for (int ky = 0; ky < k; ++ky) {
          const int iy = oy * s - layer.pad_top + ky;
          if (iy < 0 || iy >= layer.in_h) {
            continue;
          }
          for (int kx = 0; kx < k; ++kx) {
            const int ix = ox * s - layer.pad_left + kx;
            if (ix < 0 || ix >= layer.in_w) {
              continue;
            }
            const Real* src = row + (static_cast<size_t>(ky) * k + kx) * c;
            Real* dst = image + (static_cast<size_t>(iy) * layer.in_w + ix) * c;
            for (size_t ci = 0; ci < c; ++ci) {
              dst[ci] += src[ci];
            }
          }
        }
      }
    }
  }
}

// Offset of input pixel (y, x) of image n, channel 0.
size_t pixel(const Layer& layer, int n, int y, int x) {
  return (static_cast<size_t>(n) * layer.in_h * layer.in_w + static_cast<size_t>(y) * layer.in_w +
          x) *
         layer.in_c;
}

// Average pooling, 2×2 windows with stride 2: linear, so each jet plane is
// pooled on its own.
void avg_pool(const Layer& layer, int rows, const Real* __restrict__ a, Real* __restrict__ out) {
  const size_t c = static_cast<size_t>(layer.in_c);
  for (int n = 0; n < rows; ++n) {
    for (int oy = 0; oy < layer.out_h; ++oy) {
      for (int ox = 0; ox < layer.out_w; ++ox) {
        const Real* p00 = a + pixel(layer, n, 2 * oy, 2 * ox);
        const Real* p01 = p00 + c;
        const Real* p10 = a + pixel(layer, n, 2 * oy + 1, 2 * ox);
        const Real* p11 = p10 + c;
        Real* o = out + ((static_cast<size_t>(n) * layer.out_h + oy) * layer.out_w + ox) * c;
        for (size_t ci = 0; ci < c; ++ci) {
          o[ci] = Real(0.25) * ((p00[ci] + p01[ci]) + (p10[ci] + p11[ci]));
        }
      }
    }
  }
}

// The adjoint of avg_pool: spreads δ/4 over each window. Overwrites a.
void avg_pool_adjoint(const Layer& layer, int rows, const Real* __restrict__ delta,
                      Real* __restrict__ a) {
  std::fill(a, a + static_cast<size_t>(rows) * layer.in_size(), Real(0));
  const size_t c = static_cast<size_t>(layer.in_c);
  for (int n = 0; n < rows; ++n) {
    for (int oy = 0; oy < layer.out_h; ++oy) {
      for (int ox = 0; ox < layer.out_w; ++ox) {
        const Real* d = delta + ((static_cast<size_t>(n) * layer.out_h + oy) * layer.out_w + ox) * c;
        for (int dy = 0; dy < 2; ++dy) {
          Real* p = a + pixel(layer, n, 2 * oy + dy, 2 * ox);
          for (size_t ci = 0; ci < c; ++ci) {
            p[ci] = Real(0.25) * d[ci];
            p[c + ci] = Real(0.25) * d[ci];
          }
        }
      }
    }
  }
}

// For each output of a 2×2 max-pool, the offset (from the window's corner
// pixel, in units of values) of the entry that contains the window's maximum in
// a. Ties go to the first in (dy, dx) order, the same rule in jet() and
// gradient(), so the derivative of the max is that of the selected entry.
template <class Visit>
void for_each_max(const Layer& layer, int rows, const Real* __restrict__ a, Visit&& visit) {
  const size_t c = static_cast<size_t>(layer.in_c);
  const size_t row_step = static_cast<size_t>(layer.in_w) * c;
  const size_t offsets[4] = {0, c, row_step, row_step + c};
  for (int n = 0; n < rows; ++n) {
    for (int oy = 0; oy < layer.out_h; ++oy) {
      for (int ox = 0; ox < layer.out_w; ++ox) {
        const size_t corner = pixel(layer, n, 2 * oy, 2 * ox);
        const size_t out = ((static_cast<size_t>(n) * layer.out_h + oy) * layer.out_w + ox) * c;
        for (size_t ci = 0; ci < c; ++ci) {
          size_t best = corner + ci;
          for (int j = 1; j < 4; ++j) {
            if (a[corner + ci + offsets[j]] > a[best]) {
              best = corner + ci + offsets[j];
            }
          }
          visit(out + ci, best);
        }
      }
    }
  }
}

// The derivative of an activation φ, from its output a = φ(z):
//   relu' = [a > 0], tanh' = 1 - a², sigmoid' = a (1 - a), softplus' = 1 - e^(-a),
// the last because softplus' = sigmoid(z) and e^a = 1 + e^z.
Real slope_from_output(Kind kind, Real a) {
  switch (kind) {
    case Kind::relu:
      return a > Real(0) ? Real(1) : Real(0);
    case Kind::tanh:
      return Real(1) - a * a;
    case Kind::sigmoid:
      return a * (Real(1) - a);
    default:
      return -std::expm1(-a);
  }
}

Real sigmoid_value(Real z) {
  if (z >= 0) {
    return Real(1) / (Real(1) + std::exp(-z));
  }
  const Real e = std::exp(z);
  return e / (Real(1) + e);
}

// φ(z), φ'(z), φ''(z) for the smooth activations.
struct Derivatives {
  Real value, first, second;
};

Derivatives smooth_activation(Kind kind, Real z) {
  switch (kind) {
    case Kind::tanh: {
      const Real t = std::tanh(z);
      const Real slope = Real(1) - t * t;
      return {t, slope, Real(-2) * t * slope};
    }
    case Kind::sigmoid: {
      const Real s = sigmoid_value(z);
      const Real slope = s * (Real(1) - s);
      return {s, slope, slope * (Real(1) - Real(2) * s)};
    }
    default: {  // softplus(z) = max(z, 0) + log1p(e^(-|z|)), softplus' = sigmoid
      const Real s = sigmoid_value(z);
      return {std::max(z, Real(0)) + std::log1p(std::exp(-std::abs(z))), s, s * (Real(1) - s)};
    }
  }
}

// Applies an activation in place to the `planes` nonzero planes of `count`
// entries each:  a = φ(z),  a' = φ'(z) z',  a'' = φ''(z) z'² + φ'(z) z''.
// Returns the number of nonzero planes afterwards (relu keeps a zero second
// plane zero; the smooth ones fill it when the first is nonzero).
template <int Order>
int activation_jet(Kind kind, size_t count, Real* z, int planes) {
  Real* __restrict__ z0 = z;
  Real* __restrict__ z1 = z + count;
  Real* __restrict__ z2 = z + 2 * count;
  if (kind == Kind::relu) {
    if (Order >= 1 && planes >= 2) {
      detail::keep_where_positive(count, z0, z1);
    }
    if (Order >= 2 && planes >= 3) {
      detail::keep_where_positive(count, z0, z2);
    }
#pragma omp simd
    for (size_t i = 0; i < count; ++i) {
      z0[i] = z0[i] > Real(0) ? z0[i] : Real(0);
    }
    return planes;
  }
  const bool first = Order >= 1 && planes >= 2;
  const bool second = Order >= 2 && planes >= 3;
  for (size_t i = 0; i < count; ++i) {
    const Derivatives phi = smooth_activation(kind, z0[i]);
    z0[i] = phi.value;
    if (first) {
      if constexpr (Order >= 2) {
        z2[i] = phi.second * z1[i] * z1[i] + (second ? phi.first * z2[i] : Real(0));
      }
      z1[i] = phi.first * z1[i];
    }
  }
  return first ? Order + 1 : 1;
}

// One linear map (dense or conv as a product) along the line θ + t u:
//   Z0 = A0 W + b,  Z1 = A1 W + A0 dW + db,  Z2 = A2 W + 2 A1 dW,
// as detail::dense_jet, but with the planes of A and Z `a_plane` and
// `z_plane` values apart, so a block of rows can be written into planes that
// hold more rows. Returns the number of planes of Z written.
template <int Order>
int strided_linear_jet(int rows, int in, int out, const Real* a, size_t a_plane, int input_planes,
                       const Real* w, const Real* dw, const Real* b, const Real* db, Real* z,
                       size_t z_plane) {
  using detail::add_bias;
  using detail::gemm;
  const int stacked = std::min(input_planes, Order + 1);
  gemm(rows, out, in, 1, a, w, 0, z);
  add_bias(rows, out, b, z);
  if constexpr (Order == 0) {
    return 1;
  }
  Real* z1 = z + z_plane;
  if (stacked >= 2) {
    gemm(rows, out, in, 1, a + a_plane, w, 0, z1);
  }
  gemm(rows, out, in, 1, a, dw, stacked >= 2 ? 1 : 0, z1);
  add_bias(rows, out, db, z1);
  if (Order == 1 || input_planes == 1) {
    return 2;
  }
  Real* z2 = z + 2 * z_plane;
  if (stacked >= 3) {
    gemm(rows, out, in, 1, a + 2 * a_plane, w, 0, z2);
  }
  gemm(rows, out, in, 2, a + a_plane, dw, stacked >= 3 ? 1 : 0, z2);
  return 3;
}

// ∂W (in, out) += Aᵀ Δ and ∂b (out) += Σ_n Δ_n for A (rows, in), Δ (rows, out).
void add_linear_gradient(int rows, int in, int out, const Real* a, const Real* delta, Real* gw,
                         Real* gb) {
  if (out == 1) {
    cblas_dgemv(CblasRowMajor, CblasTrans, rows, in, 1, a, in, delta, 1, 1, gw, 1);
  } else {
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, in, out, rows, 1, a, in, delta, out, 1,
                gw, out);
  }
  for (int n = 0; n < rows; ++n) {
    const Real* dn = delta + static_cast<size_t>(n) * out;
    for (int j = 0; j < out; ++j) {
      gb[j] += dn[j];
    }
  }
}

// Values of one plane of im2col patches that a convolution builds at a time.
// The images of a tile go through the patch matrix in chunks of this size
// (at least one image), so the patches, k·k times larger than the layer's
// input, do not grow with the tile.
constexpr size_t kPatchValues = size_t{1} << 20;

// Images per chunk of a conv layer (see kPatchValues).
int images_per_chunk(const Layer& layer) {
  const size_t per_image = static_cast<size_t>(layer.out_h) * layer.out_w * layer.fan_in;
  return static_cast<int>(std::max<size_t>(1, kPatchValues / std::max<size_t>(per_image, 1)));
}

// Largest index a 32-bit int holds, the limit of BLAS dimensions.
constexpr size_t kIntMax = static_cast<size_t>(std::numeric_limits<int>::max());

}  // namespace

// ---------------------------------------------------------------------------
// Layer lists

std::vector<LayerSpec> parse_layers(const std::string& text, const std::string& where) {
  if (text.empty()) {
    throw make_error(where, "the layer list is empty", kLayerHelp);
  }
  std::vector<LayerSpec> layers;
  for (const std::string& token : split(text, ',')) {
    if (token.empty()) {
      throw make_error(where, "empty layer in '" + text + "'", kLayerHelp);
    }
    layers.push_back(parse_layer(token, where));
  }
  return layers;
}

std::vector<LayerSpec> network_preset(const std::string& name) {
  if (name == "paper-mnist-cnn") {
    return parse_layers("conv:32,relu,avgpool,conv:64,relu,avgpool,flatten,dense:256,relu,dense:10",
                        name);
  }
  if (name == "paper-cifar-cnn") {
    return parse_layers(
        "conv:32,relu,conv:32,relu,maxpool,conv:64,relu,conv:64,relu,maxpool,"
        "conv:128,relu,conv:128,relu,maxpool,flatten,dense:1024,relu,dense:10",
        name);
  }
  return {};
}

std::string format_layers(const std::vector<LayerSpec>& layers) {
  std::string text;
  for (const LayerSpec& spec : layers) {
    if (!text.empty()) {
      text += ',';
    }
    text += layer_text(spec);
  }
  return text;
}

// ---------------------------------------------------------------------------
// NetworkClassifier

struct NetworkClassifier::Scratch {
  int rows = 0;
  // jet(): one layer's input and output, 3 planes of (rows, max_size) each,
  // and the im2col patches of up to 3 planes.
  std::vector<Real> first, second, patches;
  // gradient(): the output of every layer that stores one (see chain_gradient),
  // the backward buffers and the patches' adjoint.
  std::vector<std::vector<Real>> outputs;
  std::vector<Real> delta, delta_next, patch_delta;
  std::vector<Jet<Real>> row;  // one image's logits as jets
};

NetworkClassifier::NetworkClassifier(std::shared_ptr<const io::ClassificationData> data,
                                     NetworkConfig config)
    : data_(std::move(data)), config_(std::move(config)) {
  const char* where = "NetworkClassifier";
  if (!data_) {
    throw make_error(where, "the data set is null", "Load it with load_classification_data");
  }
  const io::ClassificationData& d = *data_;
  if (d.n_train() == 0 || d.n_features == 0) {
    throw make_error(where,
                     fmt::format("the data set has {} training images and {} features",
                                 d.n_train(), d.n_features),
                     "Use a data set with at least one training image");
  }
  if (d.n_classes < 2) {
    throw make_error(where, fmt::format("{} classes, expected at least 2", d.n_classes));
  }
  if (d.height < 1 || d.width < 1 || d.channels < 1 ||
      static_cast<size_t>(d.height) * d.width * d.channels != d.n_features) {
    throw make_error(where,
                     fmt::format("image shape {}x{}x{} does not hold the {} features per image",
                                 d.height, d.width, d.channels, d.n_features),
                     "Set height, width and channels so that their product is n_features");
  }
  detail::check_classification_data(d, where, "images");
  detail::check_classification_settings(config_.prior_sd, config_.tile,
                                        config_.predictive_draws_per_chain, config_.ece_bins);
  if (config_.layers.empty()) {
    throw make_error("layers", "the network has no layers",
                     "Give a layer list, for example conv:32,relu,avgpool,flatten,dense:10");
  }

  int h = d.height;
  int w = d.width;
  int c = d.channels;
  size_t offset = 0;
  max_size_ = d.n_features;
  for (size_t l = 0; l < config_.layers.size(); ++l) {
    const LayerSpec& spec = config_.layers[l];
    const auto fail = [&](const std::string& what, const std::string& fix) {
      return make_error(fmt::format("layer {} ({})", l + 1, layer_text(spec)), what, fix);
    };
    Layer layer;
    layer.spec = spec;
    layer.in_h = h;
    layer.in_w = w;
    layer.in_c = c;
    switch (spec.kind) {
      case Kind::dense: {
        const size_t in = static_cast<size_t>(h) * w * c;
        if (in > kIntMax) {
          throw fail(fmt::format("has {} inputs, more than an int can index", in),
                     "Pool or stride earlier layers");
        }
        layer.fan_in = static_cast<int>(in);
        h = 1;
        w = 1;
        c = spec.size;
        break;
      }
      case Kind::conv2d: {
        const int k = spec.kernel;
        const int s = spec.stride;
        if (spec.same) {
          h = (layer.in_h + s - 1) / s;
          w = (layer.in_w + s - 1) / s;
          layer.pad_top = std::max((h - 1) * s + k - layer.in_h, 0) / 2;
          layer.pad_left = std::max((w - 1) * s + k - layer.in_w, 0) / 2;
        } else {
          if (k > layer.in_h || k > layer.in_w) {
            throw fail(fmt::format("the {}x{} window is larger than its {}x{} input", k, k,
                                   layer.in_h, layer.in_w),
                       "Use a smaller window, SAME padding, or fewer pooling layers before it");
          }
          h = (layer.in_h - k) / s + 1;
          w = (layer.in_w - k) / s + 1;
        }
        layer.fan_in = k * k * c;
        c = spec.size;
        break;
      }
      case Kind::avg_pool:
      case Kind::max_pool:
        if (h < 2 || w < 2) {
          throw fail(fmt::format("its input is {}x{}, smaller than the 2x2 window", h, w),
                     "Remove the pooling layer or pool less before it");
        }
        h /= 2;
        w /= 2;
        break;
      case Kind::flatten:
        c = h * w * c;
        h = 1;
        w = 1;
        break;
      default:
        break;
    }
    layer.out_h = h;
    layer.out_w = w;
    layer.out_c = c;
    if (layer.has_parameters()) {
      layer.w_offset = offset;
      offset += static_cast<size_t>(layer.fan_in) * spec.size;
      layer.b_offset = offset;
      offset += static_cast<size_t>(spec.size);
    }
    max_size_ = std::max(max_size_, layer.out_size());
    layers_.push_back(layer);
  }
  classes_ = d.n_classes;
  const Layer& last = layers_.back();
  if (last.out_size() != static_cast<size_t>(classes_)) {
    throw make_error(fmt::format("layer {} ({})", layers_.size(), layer_text(last.spec)),
                     fmt::format("the network ends with {}x{}x{} = {} outputs per image, but the "
                                 "data have {} classes",
                                 last.out_h, last.out_w, last.out_c, last.out_size(), classes_),
                     fmt::format("End the layer list with dense:{}", classes_));
  }
  if (offset == 0) {
    throw make_error("layers", "the network has no dense or conv layer, so no parameters",
                     "Add a dense or conv layer");
  }
  if (offset > kIntMax) {
    throw make_error("layers",
                     fmt::format("the network has {} parameters, more than an int can index",
                                 offset),
                     "Use narrower layers");
  }
  dim_ = static_cast<int>(offset);
  detail::use_serial_blas();
  describe_network();
}

void NetworkClassifier::describe_network() {
  std::vector<NetworkSpec::Layer> spec_layers;
  for (const Layer& layer : layers_) {
    NetworkSpec::Layer s;
    s.in = static_cast<int>(layer.in_size());
    s.out = static_cast<int>(layer.out_size());
    s.in_h = layer.in_h;
    s.in_w = layer.in_w;
    s.in_c = layer.in_c;
    s.out_h = layer.out_h;
    s.out_w = layer.out_w;
    s.out_c = layer.out_c;
    NetworkSpec::Activation activation = NetworkSpec::Activation::identity;
    switch (layer.spec.kind) {
      case Kind::dense:
      case Kind::conv2d:
        s.kind = layer.spec.kind == Kind::dense ? NetworkSpec::Layer::Kind::dense
                                                : NetworkSpec::Layer::Kind::conv2d;
        s.w_offset = layer.w_offset;
        s.b_offset = layer.b_offset;
        s.kernel = layer.spec.kind == Kind::conv2d ? layer.spec.kernel : 1;
        s.stride = layer.spec.kind == Kind::conv2d ? layer.spec.stride : 1;
        s.pad_top = layer.pad_top;
        s.pad_left = layer.pad_left;
        spec_layers.push_back(s);
        continue;
      case Kind::avg_pool:
      case Kind::max_pool:
        s.kind = layer.spec.kind == Kind::avg_pool ? NetworkSpec::Layer::Kind::avg_pool
                                                   : NetworkSpec::Layer::Kind::max_pool;
        spec_layers.push_back(s);
        continue;
      case Kind::flatten:
        continue;
      case Kind::relu:
        activation = NetworkSpec::Activation::relu;
        break;
      case Kind::tanh:
        activation = NetworkSpec::Activation::tanh;
        break;
      case Kind::sigmoid:
        activation = NetworkSpec::Activation::sigmoid;
        break;
      case Kind::softplus:
        activation = NetworkSpec::Activation::softplus;
        break;
    }
    if (spec_layers.empty() || spec_layers.back().activation != NetworkSpec::Activation::identity ||
        spec_layers.back().kind == NetworkSpec::Layer::Kind::avg_pool ||
        spec_layers.back().kind == NetworkSpec::Layer::Kind::max_pool) {
      return;  // an activation of the input or of a pooling layer, or two in a row
    }
    spec_layers.back().activation = activation;
  }
  const io::ClassificationData& d = *data_;
  network_spec_.layers = std::move(spec_layers);
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

NetworkClassifier::~NetworkClassifier() = default;

std::string NetworkClassifier::description() const {
  const io::ClassificationData& d = *data_;
  return fmt::format("network {}x{}x{} {} ({} parameters, {} training images)", d.height, d.width,
                     d.channels, format_layers(config_.layers), dim_, d.n_train());
}

std::string NetworkClassifier::parameter_name(int index) const {
  if (index < 0 || index >= dim_) {
    return Model::parameter_name(index);
  }
  const size_t i = static_cast<size_t>(index);
  for (size_t l = 0; l < layers_.size(); ++l) {
    const Layer& layer = layers_[l];
    if (!layer.has_parameters() || i >= layer.b_offset + layer.spec.size) {
      continue;
    }
    if (i >= layer.b_offset) {
      return fmt::format("b{}[{}]", l + 1, i - layer.b_offset);
    }
    const size_t local = i - layer.w_offset;
    const size_t out = static_cast<size_t>(layer.spec.size);
    if (layer.spec.kind == Kind::dense) {
      return fmt::format("w{}[{},{}]", l + 1, local / out, local % out);
    }
    const size_t c = static_cast<size_t>(layer.in_c);
    const size_t k = static_cast<size_t>(layer.spec.kernel);
    const size_t row = local / out;
    return fmt::format("w{}[{},{},{},{}]", l + 1, row / (k * c), row / c % k, row % c,
                       local % out);
  }
  return Model::parameter_name(index);
}

size_t NetworkClassifier::patch_values(int rows) const {
  size_t most = 0;
  for (const Layer& layer : layers_) {
    if (layer.spec.kind == Kind::conv2d) {
      const size_t images = static_cast<size_t>(std::min(images_per_chunk(layer), rows));
      most = std::max(most, images * layer.out_h * layer.out_w * layer.fan_in);
    }
  }
  return most;
}

bool NetworkClassifier::works_in_place(size_t l) const {
  const Kind kind = layers_[l].spec.kind;
  if (kind == Kind::flatten) {
    return true;
  }
  if (!is_activation(kind)) {
    return false;
  }
  // The input must be a scratch buffer (not the data) that no backward step
  // reads again. That is the output of a dense, conv or pooling layer, possibly
  // through flatten. An activation's output is not, because the activation's
  // own derivative comes from it.
  for (size_t j = l; j-- > 0;) {
    const Kind before = layers_[j].spec.kind;
    if (before != Kind::flatten) {
      return !is_activation(before);
    }
  }
  return false;
}

NetworkClassifier::Scratch NetworkClassifier::make_scratch(int rows, bool gradient) const {
  Scratch scratch;
  scratch.rows = rows;
  const size_t r = static_cast<size_t>(rows);
  scratch.row.resize(static_cast<size_t>(classes_));
  if (!gradient) {
    scratch.first.resize(3 * r * max_size_);
    scratch.second.resize(3 * r * max_size_);
    scratch.patches.resize(3 * patch_values(rows));
    return scratch;
  }
  scratch.outputs.resize(layers_.size());
  for (size_t l = 0; l < layers_.size(); ++l) {
    if (!works_in_place(l)) {
      scratch.outputs[l].resize(r * layers_[l].out_size());
    }
  }
  scratch.delta.resize(r * max_size_);
  scratch.delta_next.resize(r * max_size_);
  scratch.patches.resize(patch_values(rows));
  scratch.patch_delta.resize(patch_values(rows));
  return scratch;
}

size_t NetworkClassifier::workspace_bytes(bool gradient) const {
  const size_t r =
      std::min<size_t>(static_cast<size_t>(config_.tile), std::max<size_t>(data_->n_train(), 1));
  size_t values = 0;
  if (!gradient) {
    values = 6 * r * max_size_ + 3 * patch_values(static_cast<int>(r));
  } else {
    for (size_t l = 0; l < layers_.size(); ++l) {
      values += works_in_place(l) ? 0 : r * layers_[l].out_size();
    }
    values += 2 * r * max_size_ + 2 * patch_values(static_cast<int>(r));
  }
  return values * sizeof(Real);
}

Jet<Real> NetworkClassifier::prior_jet(const Real* theta, const Real* direction, int order) const {
  return detail::gaussian_prior_jet(theta, direction, order, static_cast<size_t>(dim_),
                                    config_.prior_sd);
}

NetworkClassifier::Logits NetworkClassifier::forward_jet(const Real* theta, const Real* direction,
                                                         int order, const double* x, int rows,
                                                         Scratch& scratch) const {
  const size_t r = static_cast<size_t>(rows);
  const Real* input = x;
  int planes = 1;  // nonzero planes of `input`: the data have no tangent
  Real* output = scratch.first.data();
  const auto other = [&](const Real* buffer) {
    return buffer == scratch.first.data() ? scratch.second.data() : scratch.first.data();
  };
  for (const Layer& layer : layers_) {
    const size_t in_plane = r * layer.in_size();
    const size_t out_plane = r * layer.out_size();
    const int used = std::min(planes, order + 1);  // planes worth reading at this order
    const Kind kind = layer.spec.kind;
    const auto linear = [&](auto order_constant) {
      constexpr int kOrder = decltype(order_constant)::value;
      const Real* w = theta + layer.w_offset;
      const Real* b = theta + layer.b_offset;
      const Real* dw = kOrder >= 1 ? direction + layer.w_offset : nullptr;
      const Real* db = kOrder >= 1 ? direction + layer.b_offset : nullptr;
      if (kind == Kind::dense) {
        return detail::dense_jet<kOrder>(rows, layer.fan_in, layer.spec.size, input, planes, w, dw,
                                         b, db, output);
      }
      const int chunk = images_per_chunk(layer);
      const size_t pixels_per_image = static_cast<size_t>(layer.out_h) * layer.out_w;
      int written = 1;
      for (int n0 = 0; n0 < rows; n0 += chunk) {
        const int count = std::min(chunk, rows - n0);
        const size_t pixels = static_cast<size_t>(count) * pixels_per_image;
        const size_t patch_plane = pixels * layer.fan_in;
        for (int j = 0; j < used; ++j) {
          im2col(layer, count, input + j * in_plane + n0 * layer.in_size(),
                 scratch.patches.data() + j * patch_plane);
        }
        written = strided_linear_jet<kOrder>(
            static_cast<int>(pixels), layer.fan_in, layer.spec.size, scratch.patches.data(),
            patch_plane, planes, w, dw, b, db, output + n0 * layer.out_size(), out_plane);
      }
      return written;
    };
    const auto activate = [&](auto order_constant) {
      constexpr int kOrder = decltype(order_constant)::value;
      return activation_jet<kOrder>(kind, in_plane, output, used);
    };
    const auto at_order = [&](const auto& step) {
      if (order == 0) {
        return step(std::integral_constant<int, 0>{});
      }
      if (order == 1) {
        return step(std::integral_constant<int, 1>{});
      }
      return step(std::integral_constant<int, 2>{});
    };
    switch (kind) {
      case Kind::dense:
      case Kind::conv2d:
        planes = at_order(linear);
        break;
      case Kind::avg_pool:
        for (int j = 0; j < used; ++j) {
          avg_pool(layer, rows, input + j * in_plane, output + j * out_plane);
        }
        planes = used;
        break;
      case Kind::max_pool:
        for_each_max(layer, rows, input, [&](size_t out, size_t in) {
          for (int j = 0; j < used; ++j) {
            output[j * out_plane + out] = input[j * in_plane + in];
          }
        });
        planes = used;
        break;
      case Kind::flatten:
        continue;  // NHWC rows are already flat
      default:
        // In place on a scratch buffer; the data themselves are copied first.
        if (input == x) {
          std::copy(x, x + in_plane, output);
        } else {
          output = const_cast<Real*>(input);
        }
        planes = at_order(activate);
        break;
    }
    input = output;
    output = other(output);
  }
  return {input, std::min(planes, order + 1)};
}

Jet<Real> NetworkClassifier::chain_jet(const Real* theta, const Real* direction, int order,
                                       Scratch& scratch) const {
  const io::ClassificationData& data = *data_;
  const size_t n_train = data.n_train();
  const size_t p = data.n_features;
  const int k = classes_;
  Jet<Real> sum(0);
  for (size_t start = 0; start < n_train; start += static_cast<size_t>(scratch.rows)) {
    const int rows = static_cast<int>(std::min<size_t>(scratch.rows, n_train - start));
    const Logits logits =
        forward_jet(theta, direction, order, data.train_x.data() + start * p, rows, scratch);
    const int planes = logits.planes;
    const size_t plane = static_cast<size_t>(rows) * k;
    const Real* z0 = logits.values;
    for (int n = 0; n < rows; ++n) {
      for (int j = 0; j < k; ++j) {
        const size_t at = static_cast<size_t>(n) * k + j;
        scratch.row[j] = Jet<Real>(z0[at], planes >= 2 ? z0[plane + at] : Real(0),
                                   planes >= 3 ? z0[2 * plane + at] : Real(0));
      }
      const int y = data.train_y[start + static_cast<size_t>(n)];
      sum += scratch.row[y] - log_sum_exp(scratch.row.data(), k);
    }
  }
  return sum + prior_jet(theta, direction, order);
}

void NetworkClassifier::jet(int chains, const Real* theta, const Real* direction, int order,
                            Real* f, Real* d, Real* h) const {
  detail::require_host_data(data_->device_train);
  const int rows =
      static_cast<int>(std::min<size_t>(static_cast<size_t>(config_.tile), data_->n_train()));
  detail::jet_over_chains(
      "NetworkClassifier::jet", chains, static_cast<size_t>(dim_), theta, direction, order, f, d, h,
      [&] { return make_scratch(rows, false); },
      [&](const Real* t, const Real* u, int o, Scratch& scratch) {
        return chain_jet(t, u, o, scratch);
      });
}

// Reverse mode, tile by tile. The forward pass keeps every layer's output.
// An activation that follows a layer other than an activation works in place
// on that layer's output. This is safe because its own derivative is a
// function of its output (slope_from_output), and the layer before it needs
// only its own input. With δ the adjoint of a layer's output:
//   dense, conv: ∂W += Aᵀ δ (A the input or its im2col patches), ∂b += Σ δ,
//                δ_in = δ Wᵀ (then col2im for conv)
//   activation:  δ_in = δ ⊙ φ'(a);  avg-pool: δ / 4 over the window;
//   max-pool:    δ to the selected entry;  flatten: δ unchanged.
// At the logits δ = onehot(y) - softmax(z). The pass stops below the first
// layer with parameters, since the data need no adjoint.
Real NetworkClassifier::chain_gradient(const Real* theta, Real* g, Scratch& scratch) const {
  const io::ClassificationData& data = *data_;
  const size_t n_train = data.n_train();
  const size_t p = data.n_features;
  const int k = classes_;
  const size_t n_layers = layers_.size();
  size_t first_parameters = 0;
  while (!layers_[first_parameters].has_parameters()) {
    ++first_parameters;
  }
  std::fill(g, g + dim_, Real(0));
  double log_likelihood = 0;
  // activation[l] is the input of layer l; activation[n_layers] the logits.
  std::vector<const Real*> activation(n_layers + 1);
  for (size_t start = 0; start < n_train; start += static_cast<size_t>(scratch.rows)) {
    const int rows = static_cast<int>(std::min<size_t>(scratch.rows, n_train - start));
    const size_t r = static_cast<size_t>(rows);
    activation[0] = data.train_x.data() + start * p;
    for (size_t l = 0; l < n_layers; ++l) {
      const Layer& layer = layers_[l];
      const Real* a = activation[l];
      Real* out = scratch.outputs[l].data();
      switch (layer.spec.kind) {
        case Kind::dense:
          detail::dense_jet<0>(rows, layer.fan_in, layer.spec.size, a, 1, theta + layer.w_offset,
                               nullptr, theta + layer.b_offset, nullptr, out);
          break;
        case Kind::conv2d: {
          const int chunk = images_per_chunk(layer);
          for (int n0 = 0; n0 < rows; n0 += chunk) {
            const int count = std::min(chunk, rows - n0);
            im2col(layer, count, a + n0 * layer.in_size(), scratch.patches.data());
            detail::dense_jet<0>(count * layer.out_h * layer.out_w, layer.fan_in, layer.spec.size,
                                 scratch.patches.data(), 1, theta + layer.w_offset, nullptr,
                                 theta + layer.b_offset, nullptr, out + n0 * layer.out_size());
          }
          break;
        }
        case Kind::avg_pool:
          avg_pool(layer, rows, a, out);
          break;
        case Kind::max_pool:
          for_each_max(layer, rows, a, [&](size_t o, size_t i) { out[o] = a[i]; });
          break;
        case Kind::flatten:
          out = const_cast<Real*>(a);
          break;
        default:
          if (scratch.outputs[l].empty()) {
            out = const_cast<Real*>(a);  // in place (see above)
          } else {
            std::copy(a, a + r * layer.in_size(), out);
          }
          activation_jet<0>(layer.spec.kind, r * layer.in_size(), out, 1);
          break;
      }
      activation[l + 1] = out;
    }

    // δ at the logits, and the log-likelihood of the tile.
    Real* delta = scratch.delta.data();
    const Real* z = activation[n_layers];
    for (int n = 0; n < rows; ++n) {
      const Real* row = z + static_cast<size_t>(n) * k;
      Real* dn = delta + static_cast<size_t>(n) * k;
      const int y = data.train_y[start + static_cast<size_t>(n)];
      const Real shift = *std::max_element(row, row + k);
      Real sum = 0;
      for (int j = 0; j < k; ++j) {
        dn[j] = std::exp(row[j] - shift);
        sum += dn[j];
      }
      // log softmax(z)_y from z_y itself, since exp(z_y - shift) can underflow.
      log_likelihood += (row[y] - shift) - std::log(sum);
      for (int j = 0; j < k; ++j) {
        dn[j] = (j == y ? Real(1) : Real(0)) - dn[j] / sum;
      }
    }

    Real* next = scratch.delta_next.data();
    for (size_t l = n_layers; l-- > first_parameters;) {
      const Layer& layer = layers_[l];
      const Real* a = activation[l];
      const bool propagate = l > first_parameters;
      switch (layer.spec.kind) {
        case Kind::dense:
          add_linear_gradient(rows, layer.fan_in, layer.spec.size, a, delta, g + layer.w_offset,
                              g + layer.b_offset);
          if (propagate) {
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, layer.fan_in,
                        layer.spec.size, 1, delta, layer.spec.size, theta + layer.w_offset,
                        layer.spec.size, 0, next, layer.fan_in);
            std::swap(delta, next);
          }
          break;
        case Kind::conv2d: {
          // Chunk by chunk of images, as in the forward pass: the patches of
          // the chunk, then ∂W += patchesᵀ δ and δ_in = col2im(δ Wᵀ).
          const int chunk = images_per_chunk(layer);
          const int in = layer.fan_in;
          const int out = layer.spec.size;
          const size_t pixels_per_image = static_cast<size_t>(layer.out_h) * layer.out_w;
          for (int n0 = 0; n0 < rows; n0 += chunk) {
            const int count = std::min(chunk, rows - n0);
            const int pixels = static_cast<int>(count * pixels_per_image);
            const Real* chunk_delta = delta + n0 * pixels_per_image * out;
            im2col(layer, count, a + n0 * layer.in_size(), scratch.patches.data());
            add_linear_gradient(pixels, in, out, scratch.patches.data(), chunk_delta,
                                g + layer.w_offset, g + layer.b_offset);
            if (propagate) {
              cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, pixels, in, out, 1, chunk_delta,
                          out, theta + layer.w_offset, out, 0, scratch.patch_delta.data(), in);
              col2im(layer, count, scratch.patch_delta.data(), next + n0 * layer.in_size());
            }
          }
          if (propagate) {
            std::swap(delta, next);
          }
          break;
        }
        case Kind::avg_pool:
          avg_pool_adjoint(layer, rows, delta, next);
          std::swap(delta, next);
          break;
        case Kind::max_pool:
          std::fill(next, next + r * layer.in_size(), Real(0));
          for_each_max(layer, rows, a, [&](size_t o, size_t i) { next[i] = delta[o]; });
          std::swap(delta, next);
          break;
        case Kind::flatten:
          break;
        default: {
          const Real* out = activation[l + 1];
          const size_t count = r * layer.in_size();
          for (size_t i = 0; i < count; ++i) {
            delta[i] *= slope_from_output(layer.spec.kind, out[i]);
          }
          break;
        }
      }
    }
  }
  const Real inv_var = Real(1) / (config_.prior_sd * config_.prior_sd);
  for (int i = 0; i < dim_; ++i) {
    g[i] -= theta[i] * inv_var;
  }
  return log_likelihood + prior_jet(theta, nullptr, 0).val;
}

void NetworkClassifier::gradient(int chains, const Real* theta, Real* f, Real* g) const {
  detail::require_host_data(data_->device_train);
  const int rows =
      static_cast<int>(std::min<size_t>(static_cast<size_t>(config_.tile), data_->n_train()));
  detail::gradient_over_chains(
      chains, static_cast<size_t>(dim_), theta, f, g, [&] { return make_scratch(rows, true); },
      [&](const Real* t, Real* gradient, Scratch& scratch) {
        return chain_gradient(t, gradient, scratch);
      });
}

void NetworkClassifier::initial_state(uint64_t seed, int first_chain, int chains,
                                      Real* theta) const {
  const size_t dim = static_cast<size_t>(dim_);
  for (int k = 0; k < chains; ++k) {
    Stream stream(seed, static_cast<uint64_t>(first_chain + k), -1, Draw::init);
    Real* t = theta + k * dim;
    for (size_t l = 0; l < layers_.size(); ++l) {
      const Layer& layer = layers_[l];
      if (!layer.has_parameters()) {
        continue;
      }
      const bool before_relu = l + 1 < layers_.size() && layers_[l + 1].spec.kind == Kind::relu;
      const Real scale =
          std::sqrt((before_relu ? Real(2) : Real(1)) / static_cast<Real>(layer.fan_in));
      const size_t weights = static_cast<size_t>(layer.fan_in) * layer.spec.size;
      for (size_t i = 0; i < weights; ++i) {
        t[layer.w_offset + i] = scale * static_cast<Real>(stream.normal());
      }
      std::fill(t + layer.b_offset, t + layer.b_offset + layer.spec.size, Real(0));
    }
  }
}

namespace {

// Overwrites each row (cols) of z (rows, cols) by its softmax, shifted by the
// row's maximum.
void softmax_rows(size_t rows, int cols, Real* z) {
  for (size_t n = 0; n < rows; ++n) {
    Real* row = z + n * static_cast<size_t>(cols);
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

void NetworkClassifier::predict(const Real* theta, const double* x, size_t rows,
                                double* probabilities) const {
  if (rows == 0) {
    return;
  }
  const size_t tile = std::min<size_t>(static_cast<size_t>(config_.tile), rows);
  Scratch scratch = make_scratch(static_cast<int>(tile), false);
  const size_t p = data_->n_features;
  const size_t k = static_cast<size_t>(classes_);
  for (size_t start = 0; start < rows; start += tile) {
    const int count = static_cast<int>(std::min(tile, rows - start));
    const Logits logits = forward_jet(theta, nullptr, 0, x + start * p, count, scratch);
    std::copy(logits.values, logits.values + count * k, probabilities + start * k);
    softmax_rows(static_cast<size_t>(count), classes_, probabilities + start * k);
  }
}

std::vector<double> NetworkClassifier::mean_probabilities(const std::vector<const Real*>& selected,
                                                          const std::vector<double>& x, size_t n_rows) const {
  const size_t count = selected.size();
  // As in LogisticRegression::metrics, the draws form at most kGroups
  // contiguous groups, a number that does not depend on the thread count. Each
  // group is summed by one thread in draw order and the groups are added in
  // order, so the metrics are the same for any thread count. Images go in
  // chunks of kChunk, which bounds the partial sums at kGroups · kChunk · K
  // doubles.
  constexpr size_t kGroups = 64;
  constexpr size_t kChunk = 1024;
  const size_t groups = std::min(kGroups, count);
  const size_t p = data_->n_features;
  const size_t k = static_cast<size_t>(classes_);

  std::vector<double> mean(n_rows * k, 0.0);
  for (size_t first = 0; first < n_rows; first += kChunk) {
    const size_t rows = std::min(kChunk, n_rows - first);
    std::vector<std::vector<double>> partial(groups, std::vector<double>(rows * k, 0.0));
#pragma omp parallel
    {
      std::vector<double> probabilities(rows * k);
#pragma omp for schedule(dynamic)
      for (size_t group = 0; group < groups; ++group) {
        const size_t begin = group * count / groups;
        const size_t end = (group + 1) * count / groups;
        for (size_t m = begin; m < end; ++m) {
          predict(selected[m], x.data() + first * p, rows, probabilities.data());
          for (size_t i = 0; i < rows * k; ++i) {
            partial[group][i] += probabilities[i];
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

Metrics NetworkClassifier::metrics(const Draws& draws) const {
  const std::vector<const Real*> selected = last_draws_per_chain(
      draws, dim_, config_.predictive_draws_per_chain, "NetworkClassifier::metrics");
  if (selected.empty()) {
    return {};
  }

  Metrics out;
  if (data_->n_test() > 0) {
    const detail::ClassificationScores test = detail::score_classification(
        mean_probabilities(selected, data_->test_x, data_->n_test()), data_->test_y, classes_,
        config_.ece_bins);
    out["accuracy"] = test.accuracy;
    out["nll"] = test.nll;
    out["ece"] = test.ece;
    out["brier"] = test.brier;
  }
  // A training split on a GPU has no host copy to score.
  if (!data_->device_train) {
    const detail::ClassificationScores train = detail::score_classification(
        mean_probabilities(selected, data_->train_x, data_->n_train()), data_->train_y, classes_,
        config_.ece_bins);
    out["train_accuracy"] = train.accuracy;
  }
  return out;
}

TestPredictive NetworkClassifier::test_predictive(const Draws& draws) const {
  const std::vector<const Real*> selected = last_draws_per_chain(
      draws, dim_, config_.predictive_draws_per_chain, "NetworkClassifier::test_predictive");
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
