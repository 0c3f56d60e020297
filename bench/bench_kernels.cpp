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

BENCHMARK_TEMPLATE(BM_DenseJet, 1)->Apply(shapes);
BENCHMARK_TEMPLATE(BM_DenseJet, 2)->Apply(shapes);
BENCHMARK_TEMPLATE(BM_Gemm, double)->Apply(shapes);
BENCHMARK_TEMPLATE(BM_Gemm, float)->Apply(shapes);

}  // namespace
