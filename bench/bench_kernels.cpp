// Achieved GFLOP/s of the dense-layer jet kernel against plain BLAS products
// of the same shapes, on one thread. The models run this kernel per chain and
// per tile inside their OpenMP loop over chains, with BLAS on the calling
// thread, so a single-thread DGEMM of the same shape is the practical limit of
// a jet, and SGEMM the limit of the same work in single precision.
//
// A jet of order k through a dense layer multiplies the stacked planes
// (A0; A1; A2) by W in one product and adds A0·dW and 2·A1·dW: with three
// input planes that is 2·r·i·o·(k + 1) + 2·r·i·o·k flops (6 r i o for a
// first-order jet, 10 r i o for a second-order one), for r rows, i inputs
// and o outputs. The shapes are those of the models' layers at their default
// tiles (see docs/benchmarks.md). Rates are per CPU second of the one thread,
// so other jobs on the machine change them less than wall-clock rates.

#include <benchmark/benchmark.h>
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "blas_util.hpp"
#include "fmala/random/philox.hpp"

namespace {

std::vector<double> normals(size_t count, uint64_t seed) {
  fmala::Stream stream(seed, 0, 0, fmala::Draw::noise);
  std::vector<double> values(count);
  for (double& v : values) {
    v = stream.normal();
  }
  return values;
}

struct Shape {
  int rows;
  int in;
  int out;
};

Shape shape_of(const benchmark::State& state) {
  return {static_cast<int>(state.range(0)), static_cast<int>(state.range(1)),
          static_cast<int>(state.range(2))};
}

void set_flops(benchmark::State& state, double flops_per_iteration) {
  state.counters["flops"] =
      benchmark::Counter(flops_per_iteration, benchmark::Counter::kIsIterationInvariantRate,
                         benchmark::Counter::kIs1000);
}

template <int Order>
void BM_DenseJet(benchmark::State& state) {
  fmala::detail::use_serial_blas();
  const Shape s = shape_of(state);
  const size_t a_plane = static_cast<size_t>(s.rows) * s.in;
  const size_t weights = static_cast<size_t>(s.in) * s.out;
  const std::vector<double> a = normals(3 * a_plane, 1);
  const std::vector<double> w = normals(weights, 2);
  const std::vector<double> dw = normals(weights, 3);
  const std::vector<double> b = normals(static_cast<size_t>(s.out), 4);
  const std::vector<double> db = normals(static_cast<size_t>(s.out), 5);
  std::vector<double> z(3 * static_cast<size_t>(s.rows) * s.out);
  for (auto _ : state) {
    fmala::detail::dense_jet<Order>(s.rows, s.in, s.out, a.data(), 3, w.data(), dw.data(),
                                    b.data(), db.data(), z.data());
    benchmark::DoNotOptimize(z.data());
    benchmark::ClobberMemory();
  }
  const double product = 2.0 * s.rows * s.in * s.out;
  set_flops(state, product * ((Order + 1) + Order));
}

template <class T>
void gemm_once(const Shape& s, const T* a, const T* w, T* z);

template <>
void gemm_once<double>(const Shape& s, const double* a, const double* w, double* z) {
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.rows, s.out, s.in, 1.0, a, s.in, w,
              s.out, 0.0, z, s.out);
}

template <>
void gemm_once<float>(const Shape& s, const float* a, const float* w, float* z) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.rows, s.out, s.in, 1.0f, a, s.in, w,
              s.out, 0.0f, z, s.out);
}

// One product (rows, in) × (in, out), the unit that the jet's products are made of.
template <class T>
void BM_Gemm(benchmark::State& state) {
  fmala::detail::use_serial_blas();
  const Shape s = shape_of(state);
  const std::vector<double> a64 = normals(static_cast<size_t>(s.rows) * s.in, 1);
  const std::vector<double> w64 = normals(static_cast<size_t>(s.in) * s.out, 2);
  const std::vector<T> a(a64.begin(), a64.end());
  const std::vector<T> w(w64.begin(), w64.end());
  std::vector<T> z(static_cast<size_t>(s.rows) * s.out);
  for (auto _ : state) {
    gemm_once<T>(s, a.data(), w.data(), z.data());
    benchmark::DoNotOptimize(z.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, 2.0 * s.rows * s.in * s.out);
}

// rows, in, out: a hidden layer of the paper's regression MLP (tile 256); the
// logistic regression on 28×28 images (tile 256); the second convolution of
// the MNIST-size CNN as an im2col product (tile 32 images of 14×14 pixels,
// 3×3×32 inputs); that CNN's first dense layer (tile 32).
void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"rows", "in", "out"});
  b->Args({256, 100, 100});
  b->Args({256, 784, 10});
  b->Args({32 * 14 * 14, 288, 64});
  b->Args({32, 3136, 256});
}

// ---- image layout of a convolution: NHWC against NCHW -------------------------------------------
//
// One plane of a 3×3 SAME convolution (stride 1) on a tile of images, as an
// im2col copy and BLAS products, on one thread. NHWC (fmala's layout): each
// output position's patch row contains k runs of k·C_in contiguous values,
// one per window row. One product (n·H·W, k·k·C_in) × (k·k·C_in, C_out)
// gives the NHWC output of the whole tile. NCHW (the layout of Caffe-style
// im2col): each patch row (ci, ky, kx) contains the image plane shifted by
// (ky, kx), copied in runs of up to W values. One product per image
// (C_out, k·k·C_in) × (k·k·C_in, H·W) gives that image's NCHW output. Both
// count 2·n·H·W·k·k·C_in·C_out flops per iteration.

struct ConvShape {
  int images, height, width, c_in, c_out, k;
};

ConvShape conv_shape_of(const benchmark::State& state) {
  return {static_cast<int>(state.range(0)), static_cast<int>(state.range(1)),
          static_cast<int>(state.range(1)), static_cast<int>(state.range(2)),
          static_cast<int>(state.range(3)), 3};
}

void im2col_nhwc(const ConvShape& s, const double* x, double* patches) {
  const int pad = (s.k - 1) / 2;
  const size_t cols = static_cast<size_t>(s.k) * s.k * s.c_in;
  for (int n = 0; n < s.images; ++n) {
    const double* image = x + static_cast<size_t>(n) * s.height * s.width * s.c_in;
    for (int oy = 0; oy < s.height; ++oy) {
      for (int ox = 0; ox < s.width; ++ox) {
        double* row = patches + ((static_cast<size_t>(n) * s.height + oy) * s.width + ox) * cols;
        // The k pixels of a window row are adjacent in NHWC: one run of
        // k·C_in values, cut where the window leaves the image.
        const int first = std::max(0, pad - ox);             // first kx inside
        const int last = std::min(s.k, s.width + pad - ox);  // one past the last
        for (int ky = 0; ky < s.k; ++ky) {
          const int iy = oy - pad + ky;
          double* d = row + static_cast<size_t>(ky) * s.k * s.c_in;
          if (iy < 0 || iy >= s.height) {
            std::fill(d, d + static_cast<size_t>(s.k) * s.c_in, 0.0);
            continue;
          }
          std::fill(d, d + static_cast<size_t>(first) * s.c_in, 0.0);
          const double* src = image + (static_cast<size_t>(iy) * s.width + (ox - pad + first)) * s.c_in;
          std::copy(src, src + static_cast<size_t>(last - first) * s.c_in, d + static_cast<size_t>(first) * s.c_in);
          std::fill(d + static_cast<size_t>(last) * s.c_in, d + static_cast<size_t>(s.k) * s.c_in, 0.0);
        }
      }
    }
  }
}

// The patch matrix (k·k·C_in, H·W) of one NCHW image.
void im2col_nchw(const ConvShape& s, const double* image, double* cols) {
  const int pad = (s.k - 1) / 2;
  const size_t plane = static_cast<size_t>(s.height) * s.width;
  for (int ci = 0; ci < s.c_in; ++ci) {
    const double* channel = image + static_cast<size_t>(ci) * plane;
    for (int ky = 0; ky < s.k; ++ky) {
      for (int kx = 0; kx < s.k; ++kx) {
        double* row = cols + ((static_cast<size_t>(ci) * s.k + ky) * s.k + kx) * plane;
        const int first = std::max(0, pad - kx);                  // first ox inside
        const int last = std::min(s.width, s.width + pad - kx);   // one past the last
        for (int oy = 0; oy < s.height; ++oy) {
          const int iy = oy - pad + ky;
          double* d = row + static_cast<size_t>(oy) * s.width;
          if (iy < 0 || iy >= s.height) {
            std::fill(d, d + s.width, 0.0);
            continue;
          }
          std::fill(d, d + first, 0.0);
          const double* src = channel + static_cast<size_t>(iy) * s.width + (first - pad + kx);
          std::copy(src, src + (last - first), d + first);
          std::fill(d + last, d + s.width, 0.0);
        }
      }
    }
  }
}

// Whether both layouts give the same convolution of one image, the weights
// and the image permuted from NHWC to NCHW.
bool layouts_agree(ConvShape s) {
  s.images = 1;
  const size_t positions = static_cast<size_t>(s.height) * s.width;
  const size_t patch = static_cast<size_t>(s.k) * s.k * s.c_in;
  const std::vector<double> x = normals(positions * s.c_in, 7);
  const std::vector<double> w = normals(patch * s.c_out, 8);
  std::vector<double> x_nchw(x.size()), w_nchw(w.size());
  for (size_t p = 0; p < positions; ++p) {
    for (int ci = 0; ci < s.c_in; ++ci) {
      x_nchw[static_cast<size_t>(ci) * positions + p] = x[p * s.c_in + ci];
    }
  }
  for (int ky = 0; ky < s.k; ++ky) {
    for (int kx = 0; kx < s.k; ++kx) {
      for (int ci = 0; ci < s.c_in; ++ci) {
        for (int co = 0; co < s.c_out; ++co) {
          w_nchw[((static_cast<size_t>(co) * s.c_in + ci) * s.k + ky) * s.k + kx] =
              w[((static_cast<size_t>(ky) * s.k + kx) * s.c_in + ci) * s.c_out + co];
        }
      }
    }
  }
  std::vector<double> patches(positions * patch), z(positions * s.c_out), z_nchw(z.size());
  im2col_nhwc(s, x.data(), patches.data());
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(positions), s.c_out,
              static_cast<int>(patch), 1.0, patches.data(), static_cast<int>(patch), w.data(), s.c_out,
              0.0, z.data(), s.c_out);
  im2col_nchw(s, x_nchw.data(), patches.data());
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.c_out, static_cast<int>(positions),
              static_cast<int>(patch), 1.0, w_nchw.data(), static_cast<int>(patch), patches.data(),
              static_cast<int>(positions), 0.0, z_nchw.data(), static_cast<int>(positions));
  for (size_t p = 0; p < positions; ++p) {
    for (int co = 0; co < s.c_out; ++co) {
      if (std::abs(z[p * s.c_out + co] - z_nchw[static_cast<size_t>(co) * positions + p]) > 1e-9) {
        return false;
      }
    }
  }
  return true;
}

template <bool Nhwc>
void BM_ConvLayout(benchmark::State& state) {
  fmala::detail::use_serial_blas();
  const ConvShape s = conv_shape_of(state);
  if (!layouts_agree(s)) {
    state.SkipWithError("the NHWC and NCHW convolutions differ");
    return;
  }
  const size_t positions = static_cast<size_t>(s.height) * s.width;
  const size_t patch = static_cast<size_t>(s.k) * s.k * s.c_in;
  const std::vector<double> x = normals(s.images * positions * s.c_in, 1);
  const std::vector<double> w = normals(patch * s.c_out, 2);
  std::vector<double> z(s.images * positions * s.c_out);
  std::vector<double> patches(Nhwc ? s.images * positions * patch : positions * patch);
  for (auto _ : state) {
    if (Nhwc) {
      im2col_nhwc(s, x.data(), patches.data());
      // W is (k, k, C_in, C_out): (patch, C_out) row-major.
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(s.images * positions),
                  s.c_out, static_cast<int>(patch), 1.0, patches.data(), static_cast<int>(patch),
                  w.data(), s.c_out, 0.0, z.data(), s.c_out);
    } else {
      for (int n = 0; n < s.images; ++n) {
        im2col_nchw(s, x.data() + n * positions * s.c_in, patches.data());
        // W is (C_out, C_in, k, k): (C_out, patch) row-major.
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.c_out, static_cast<int>(positions),
                    static_cast<int>(patch), 1.0, w.data(), static_cast<int>(patch), patches.data(),
                    static_cast<int>(positions), 0.0, z.data() + n * positions * s.c_out,
                    static_cast<int>(positions));
      }
    }
    benchmark::DoNotOptimize(z.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, 2.0 * s.images * positions * patch * s.c_out);
}

// images, side, C_in, C_out: the MNIST-size CNN's two convolutions and the
// CIFAR-size CNN's first, third and fifth, at a tile of 32 images.
void conv_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"images", "side", "c_in", "c_out"});
  b->Args({32, 28, 1, 32});
  b->Args({32, 14, 32, 64});
  b->Args({32, 32, 3, 32});
  b->Args({32, 16, 32, 64});
  b->Args({32, 8, 64, 128});
}

BENCHMARK_TEMPLATE(BM_ConvLayout, true)->Apply(conv_shapes)->Name("BM_ConvLayout<NHWC>");
BENCHMARK_TEMPLATE(BM_ConvLayout, false)->Apply(conv_shapes)->Name("BM_ConvLayout<NCHW>");

// Normals per CPU second for `chains` rows of `dim` normals, by four paths.
// chain_normals() draws all rows in one call, as the CPU engine does.
// Stream::normals() vectorises along each row, and Stream::normal() draws one
// at a time. curand_normal_double on the host uses libm's log, sin and cos,
// as the host did before the vectorised transform.
enum class NormalPath { chains_at_once, per_chain, one_at_a_time, curand_libm };

template <NormalPath Path>
void BM_Normals(benchmark::State& state) {
  const int chains = static_cast<int>(state.range(0));
  const int dim = static_cast<int>(state.range(1));
  std::vector<double> out(static_cast<size_t>(chains) * dim);
  int64_t step = 0;
  for (auto _ : state) {
    if constexpr (Path == NormalPath::chains_at_once) {
      fmala::chain_normals(1, 0, chains, step, fmala::Draw::noise, 0, dim, out.data(), dim);
    } else {
      for (int k = 0; k < chains; ++k) {
        fmala::Stream stream(1, static_cast<uint64_t>(k), step, fmala::Draw::noise);
        double* row = out.data() + static_cast<size_t>(k) * dim;
        if constexpr (Path == NormalPath::per_chain) {
          stream.normals(dim, row);
        } else if constexpr (Path == NormalPath::curand_libm) {
          curandStatePhilox4_32_10_t generator;
          curand_init(1, static_cast<uint64_t>(k), static_cast<uint64_t>(step) << 32, &generator);
          for (int i = 0; i < dim; ++i) {
            row[i] = curand_normal_double(&generator);
          }
        } else {
          for (int i = 0; i < dim; ++i) {
            row[i] = stream.normal();
          }
        }
      }
    }
    benchmark::DoNotOptimize(out.data());
    ++step;
  }
  state.counters["normals"] =
      benchmark::Counter(static_cast<double>(chains) * dim, benchmark::Counter::kIsIterationInvariantRate);
}

void normal_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"chains", "dim"});
  b->Args({1024, 11});
  b->Args({1024, 101});
  b->Args({64, 40701});
}

BENCHMARK_TEMPLATE(BM_Normals, NormalPath::chains_at_once)->Apply(normal_shapes)->Name("BM_Normals<chains_at_once>");
BENCHMARK_TEMPLATE(BM_Normals, NormalPath::per_chain)->Apply(normal_shapes)->Name("BM_Normals<per_chain>");
BENCHMARK_TEMPLATE(BM_Normals, NormalPath::one_at_a_time)->Apply(normal_shapes)->Name("BM_Normals<one_at_a_time>");
BENCHMARK_TEMPLATE(BM_Normals, NormalPath::curand_libm)->Apply(normal_shapes)->Name("BM_Normals<curand_libm>");

BENCHMARK_TEMPLATE(BM_DenseJet, 1)->Apply(shapes);
BENCHMARK_TEMPLATE(BM_DenseJet, 2)->Apply(shapes);
BENCHMARK_TEMPLATE(BM_Gemm, double)->Apply(shapes);
BENCHMARK_TEMPLATE(BM_Gemm, float)->Apply(shapes);

}  // namespace
