// The host side of the network evaluator: the spec's checks and the
// host's batched products.

#include "fmala/backend/network_evaluator.hpp"

#include <cblas.h>

#include <algorithm>
#include <string>

#include "blas_util.hpp"
#include "fmala/backend/host_network_ops.hpp"

namespace fmala {

void check_network_spec(const NetworkSpec& spec, int dim, const std::string& where) {
  const auto fail = [&](const std::string& problem) {
    throw make_error(where, problem, "This is a bug in the model's description; please report it");
  };
  if (spec.layers.empty()) {
    fail("has no layers");
  }
  if (spec.rows == 0 || spec.x == nullptr) {
    fail("has no training rows");
  }
  const bool gaussian = spec.likelihood == NetworkSpec::Likelihood::gaussian;
  if (gaussian ? spec.y == nullptr : spec.labels == nullptr) {
    fail(gaussian ? "has no targets" : "has no labels");
  }
  const size_t d = static_cast<size_t>(dim);
  int width = spec.layers.front().in;
  for (size_t l = 0; l < spec.layers.size(); ++l) {
    const NetworkSpec::Layer& layer = spec.layers[l];
    const std::string name = "layer " + std::to_string(l + 1);
    if (layer.in < 1 || layer.out < 1) {
      fail(name + " has " + std::to_string(layer.in) + " inputs and " + std::to_string(layer.out) +
           " outputs");
    }
    if (layer.in != width) {
      fail(name + " takes " + std::to_string(layer.in) + " inputs but the layer below gives " +
           std::to_string(width));
    }
    using Kind = NetworkSpec::Layer::Kind;
    if (layer.kind != Kind::dense) {
      if (static_cast<int64_t>(layer.in_h) * layer.in_w * layer.in_c != layer.in ||
          static_cast<int64_t>(layer.out_h) * layer.out_w * layer.out_c != layer.out) {
        fail(name + " has image shapes that do not match its " + std::to_string(layer.in) +
             " inputs and " + std::to_string(layer.out) + " outputs");
      }
      if (layer.kernel < 1 || layer.stride < 1) {
        fail(name + " has a window of " + std::to_string(layer.kernel) + " and a stride of " +
             std::to_string(layer.stride));
      }
    }
    if (layer.kind == Kind::avg_pool || layer.kind == Kind::max_pool) {
      if (layer.out_h != layer.in_h / 2 || layer.out_w != layer.in_w / 2 || layer.out_c != layer.in_c ||
          layer.activation != NetworkSpec::Activation::identity) {
        fail(name + " is not a 2x2 pooling of its input");
      }
    } else {
      const size_t weights = layer.kind == Kind::dense
                                 ? static_cast<size_t>(layer.in) * layer.out
                                 : static_cast<size_t>(layer.kernel) * layer.kernel * layer.in_c * layer.out_c;
      const size_t biases = static_cast<size_t>(layer.kind == Kind::dense ? layer.out : layer.out_c);
      if (layer.w_offset + weights > d || layer.b_offset + biases > d) {
        fail(name + " reaches past the " + std::to_string(dim) + " parameters");
      }
    }
    width = layer.out;
  }
  if (gaussian && width != 1) {
    fail("a Gaussian likelihood needs one output, the last layer has " + std::to_string(width));
  }
  if (!gaussian && width != spec.classes) {
    fail("the last layer has " + std::to_string(width) + " outputs for " +
         std::to_string(spec.classes) + " classes");
  }
  if (spec.prior_count + (gaussian && spec.learn_noise ? 1 : 0) > d) {
    fail("its priors cover more than the " + std::to_string(dim) + " parameters");
  }
  if (spec.tile < 1) {
    fail("has a tile of " + std::to_string(spec.tile) + " rows");
  }
}

size_t network_max_width(const NetworkSpec& spec) {
  size_t width = 1;
  for (size_t l = 0; l < spec.layers.size(); ++l) {
    width = std::max(width, static_cast<size_t>(spec.layers[l].out));
    if (l > 0) {
      width = std::max(width, static_cast<size_t>(spec.layers[l].in));
    }
  }
  return width;
}

int network_chunk_rows(const NetworkSpec::Layer& layer, int tile, int64_t max_width) {
  const int64_t per_image = static_cast<int64_t>(layer.out_h) * layer.out_w * layer.kernel *
                            layer.kernel * layer.in_c;
  const int64_t fits = static_cast<int64_t>(tile) * max_width / std::max<int64_t>(per_image, 1);
  return static_cast<int>(std::clamp<int64_t>(fits, 1, std::max(tile, 1)));
}

namespace {

int clipped_tile(const NetworkSpec& spec) {
  return static_cast<int>(std::min<size_t>(static_cast<size_t>(std::max(spec.tile, 1)), spec.rows));
}

}  // namespace

size_t network_max_patch(const NetworkSpec& spec) {
  const int tile = clipped_tile(spec);
  const int64_t width = static_cast<int64_t>(network_max_width(spec));
  size_t largest = 0;
  for (const NetworkSpec::Layer& layer : spec.layers) {
    if (layer.kind != NetworkSpec::Layer::Kind::conv2d) {
      continue;
    }
    const size_t per_image = static_cast<size_t>(layer.out_h) * layer.out_w * layer.kernel *
                             layer.kernel * layer.in_c;
    largest = std::max(largest, static_cast<size_t>(network_chunk_rows(layer, tile, width)) * per_image);
  }
  return largest;
}

size_t network_work_bytes(const NetworkSpec& spec, int chains, bool gradient) {
  const size_t c = static_cast<size_t>(std::max(chains, 0));
  const size_t tile = static_cast<size_t>(clipped_tile(spec));
  const size_t width = network_max_width(spec);
  const size_t patch = network_max_patch(spec);
  size_t outputs = 0;  // every layer's outputs, which gradient() keeps
  for (const NetworkSpec::Layer& layer : spec.layers) {
    outputs += static_cast<size_t>(layer.out);
  }
  // Per-row likelihood terms (C, tile, 3), their sums (C, 3) and the prior's
  // sums (C, 3), in both.
  const size_t shared = c * (3 * tile + 6);
  if (gradient) {
    // Every layer's outputs and two δ buffers for one tile; one plane of
    // patches and their adjoint.
    return sizeof(Real) * (c * tile * (outputs + 2 * width) + shared + 2 * c * patch);
  }
  // Two buffers of three planes of the widest layer for one tile; three
  // planes of patches.
  return sizeof(Real) * (c * 2 * 3 * tile * width + shared + 3 * c * patch);
}

void HostNetworkOps::gemm(bool trans_a, bool trans_b, int m, int n, int k, Real alpha, const Real* a,
                        int lda, int64_t stride_a, const Real* b, int ldb, int64_t stride_b,
                        Real beta, Real* c, int ldc, int64_t stride_c, int batch) {
  detail::use_serial_blas();
  const CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
  const CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
#pragma omp parallel for schedule(static)
  for (int i = 0; i < batch; ++i) {
    cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b, ldb,
                beta, c + i * stride_c, ldc);
  }
}

}  // namespace fmala
