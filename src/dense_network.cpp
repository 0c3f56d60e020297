// The host side of the dense network evaluator: the spec's checks and the
// host's batched products.

#include "fmala/backend/dense_network.hpp"

#include <cblas.h>

#include <algorithm>
#include <string>

#include "blas_util.hpp"
#include "fmala/backend/host_dense_ops.hpp"

namespace fmala {

void check_dense_network(const DenseNetworkSpec& spec, int dim, const std::string& where) {
  const auto fail = [&](const std::string& problem) {
    throw make_error(where, problem, "This is a bug in the model's description; please report it");
  };
  if (spec.layers.empty()) {
    fail("has no layers");
  }
  if (spec.rows == 0 || spec.x == nullptr) {
    fail("has no training rows");
  }
  const bool gaussian = spec.likelihood == DenseNetworkSpec::Likelihood::gaussian;
  if (gaussian ? spec.y == nullptr : spec.labels == nullptr) {
    fail(gaussian ? "has no targets" : "has no labels");
  }
  const size_t d = static_cast<size_t>(dim);
  int width = spec.layers.front().in;
  for (size_t l = 0; l < spec.layers.size(); ++l) {
    const DenseNetworkSpec::Layer& layer = spec.layers[l];
    const std::string name = "layer " + std::to_string(l + 1);
    if (layer.in < 1 || layer.out < 1) {
      fail(name + " has " + std::to_string(layer.in) + " inputs and " + std::to_string(layer.out) +
           " outputs");
    }
    if (layer.in != width) {
      fail(name + " takes " + std::to_string(layer.in) + " inputs but the layer below gives " +
           std::to_string(width));
    }
    if (layer.w_offset + static_cast<size_t>(layer.in) * layer.out > d ||
        layer.b_offset + static_cast<size_t>(layer.out) > d) {
      fail(name + " reaches past the " + std::to_string(dim) + " parameters");
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

size_t dense_network_work_bytes(const DenseNetworkSpec& spec, int chains, bool gradient) {
  const size_t c = static_cast<size_t>(std::max(chains, 0));
  const size_t tile = std::min<size_t>(static_cast<size_t>(std::max(spec.tile, 1)), spec.rows);
  size_t width = 1;    // the widest layer output, or input past the first layer
  size_t outputs = 0;  // every layer's outputs, which gradient() keeps
  for (size_t l = 0; l < spec.layers.size(); ++l) {
    const DenseNetworkSpec::Layer& layer = spec.layers[l];
    width = std::max(width, static_cast<size_t>(layer.out));
    if (l > 0) {
      width = std::max(width, static_cast<size_t>(layer.in));
    }
    outputs += static_cast<size_t>(layer.out);
  }
  // Per-row likelihood terms (C, tile, 3) and sums (C, 3), in both.
  const size_t shared = c * (3 * tile + 3);
  if (gradient) {
    // Every layer's outputs and two δ buffers, for one tile.
    return sizeof(Real) * (c * tile * (outputs + 2 * width) + shared);
  }
  // Two buffers of three planes of the widest layer, for one tile.
  return sizeof(Real) * (c * 2 * 3 * tile * width + shared);
}

void HostDenseOps::gemm(bool trans_a, bool trans_b, int m, int n, int k, Real alpha, const Real* a,
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
