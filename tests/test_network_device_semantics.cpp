// The network evaluator under operations that behave as the device's do, so
// that what the CPU tests of the host form cannot see is checked without a
// GPU:
//  - gemm makes the column-major call that DeviceNetworkOps makes to cuBLAS
//    (operands swapped), checks cuBLAS's rules on the leading dimensions,
//    that every operand of every batch item lies inside a live allocation,
//    and that no batch item's C overlaps another's or an input;
//  - launch runs every thread on the memory as it was before the launch, as
//    threads of one kernel may see it, fails when two threads write one
//    value, and fails when the result depends on the order of the threads.
// The results must still equal each model's own evaluation.

#include <cblas.h>
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fmala/backend/network_evaluator.hpp"
#include "fmala/io/classification_data.hpp"
#include "fmala/io/regression_data.hpp"
#include "fmala/model/logreg.hpp"
#include "fmala/model/mlp.hpp"
#include "fmala/model/network.hpp"
#include "fmala/random/philox.hpp"

namespace fmala {
namespace {

// Every live allocation of the operations below: start and bytes.
std::map<const char*, size_t>& allocations() {
  static std::map<const char*, size_t> live;
  return live;
}

bool inside_allocation(const void* p, size_t bytes) {
  const char* c = static_cast<const char*>(p);
  auto it = allocations().upper_bound(c);
  if (it == allocations().begin()) {
    return false;
  }
  --it;
  return c >= it->first && c + bytes <= it->first + it->second;
}

class DeviceLikeOps {
 public:
  template <class T>
  class Array {
   public:
    Array() = default;
    explicit Array(size_t n) : size_(n) {
      if (n > 0) {
        data_ = static_cast<T*>(std::calloc(n, sizeof(T)));
        allocations()[reinterpret_cast<const char*>(data_)] = n * sizeof(T);
      }
    }
    Array(Array&& o) noexcept : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
    Array& operator=(Array&& o) noexcept {
      if (this != &o) {
        release();
        data_ = std::exchange(o.data_, nullptr);
        size_ = std::exchange(o.size_, 0);
      }
      return *this;
    }
    Array(const Array&) = delete;
    Array& operator=(const Array&) = delete;
    ~Array() { release(); }
    T* data() const { return data_; }
    size_t size() const { return size_; }
    size_t bytes() const { return size_ * sizeof(T); }

   private:
    void release() {
      if (data_) {
        allocations().erase(reinterpret_cast<const char*>(data_));
        std::free(data_);
        data_ = nullptr;
        size_ = 0;
      }
    }
    T* data_ = nullptr;
    size_t size_ = 0;
  };

  template <class T>
  Array<T> zeros(size_t n) {
    return Array<T>(n);
  }
  template <class T>
  Array<T> upload(const T* host, size_t n) {
    Array<T> a(n);
    if (n > 0) {
      std::memcpy(a.data(), host, n * sizeof(T));
    }
    return a;
  }

  void gemm(bool trans_a, bool trans_b, int m, int n, int k, Real alpha, const Real* a, int lda,
            int64_t stride_a, const Real* b, int ldb, int64_t stride_b, Real beta, Real* c, int ldc,
            int64_t stride_c, int batch) {
    ++gemms;
    if (m == 0 || n == 0 || batch == 0) {
      return;
    }
    // The cuBLAS call: C^T (n × m) = op(B)^T op(A)^T in column-major terms.
    const bool ta = trans_b;
    const bool tb = trans_a;
    const int64_t rows = n, cols = m;
    const Real* first = b;
    const Real* second = a;
    const int ld_first = ldb, ld_second = lda;
    ASSERT_GE(ld_first, std::max(1, ta ? k : n)) << "cuBLAS lda, m=" << m << " n=" << n << " k=" << k;
    ASSERT_GE(ld_second, std::max(1, tb ? m : k)) << "cuBLAS ldb, m=" << m << " n=" << n << " k=" << k;
    ASSERT_GE(ldc, std::max(1, n)) << "cuBLAS ldc";
    const int64_t first_rows = ta ? k : rows, first_cols = ta ? rows : k;
    const int64_t second_rows = tb ? cols : k, second_cols = tb ? k : cols;
    const int64_t extent_first = k == 0 ? 0 : ld_first * (first_cols - 1) + first_rows;
    const int64_t extent_second = k == 0 ? 0 : ld_second * (second_cols - 1) + second_rows;
    const int64_t extent_c = static_cast<int64_t>(ldc) * (cols - 1) + rows;
    if (batch > 1) {
      ASSERT_GE(std::llabs(stride_c), extent_c) << "the C of two batch items overlap";
    }
    for (int i = 0; i < batch; ++i) {
      const Real* x = first + i * stride_b;
      const Real* y = second + i * stride_a;
      Real* z = c + i * stride_c;
      ASSERT_TRUE(inside_allocation(x, static_cast<size_t>(extent_first) * sizeof(Real)))
          << "B of batch item " << i << " leaves its allocation";
      ASSERT_TRUE(inside_allocation(y, static_cast<size_t>(extent_second) * sizeof(Real)))
          << "A of batch item " << i << " leaves its allocation";
      ASSERT_TRUE(inside_allocation(z, static_cast<size_t>(extent_c) * sizeof(Real)))
          << "C of batch item " << i << " leaves its allocation";
      const auto overlap = [](const Real* p, int64_t np, const Real* q, int64_t nq) {
        return p < q + nq && q < p + np;
      };
      ASSERT_FALSE(overlap(z, extent_c, x, extent_first) || overlap(z, extent_c, y, extent_second))
          << "C overlaps an input in batch item " << i;
      cblas_dgemm(CblasColMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                  static_cast<int>(rows), static_cast<int>(cols), k, alpha, x, ld_first, y, ld_second,
                  beta, z, ldc);
    }
  }

  template <class F>
  void launch(size_t n, const F& f, const char* phase) {
    ++launches;
    if (n == 0) {
      return;
    }
    // Memory before the launch; each thread runs on it alone.
    std::vector<std::pair<char*, std::vector<char>>> before;
    for (const auto& [p, bytes] : allocations()) {
      char* q = const_cast<char*>(p);
      before.emplace_back(q, std::vector<char>(q, q + bytes));
    }
    std::map<char*, std::pair<size_t, std::vector<char>>> writes;  // address -> thread, value
    for (size_t i = 0; i < n; ++i) {
      f(i);
      for (auto& [p, saved] : before) {
        if (std::memcmp(p, saved.data(), saved.size()) == 0) {
          continue;
        }
        for (size_t o = 0; o < saved.size(); o += sizeof(float)) {
          if (std::memcmp(p + o, saved.data() + o, sizeof(float)) != 0) {
            auto it = writes.find(p + o);
            ASSERT_TRUE(it == writes.end() || it->second.first == i)
                << phase << ": threads " << it->second.first << " and " << i << " write one value";
            writes[p + o] = {i, std::vector<char>(p + o, p + o + sizeof(float))};
          }
        }
        std::memcpy(p, saved.data(), saved.size());
      }
    }
    for (const auto& [address, write] : writes) {
      std::memcpy(address, write.second.data(), sizeof(float));
    }
    // The same launch in reverse order must give the same memory.
    std::vector<std::vector<char>> result;
    for (auto& [p, saved] : before) {
      result.emplace_back(p, p + saved.size());
      std::memcpy(p, saved.data(), saved.size());
    }
    for (size_t i = n; i-- > 0;) {
      f(i);
    }
    for (size_t r = 0; r < before.size(); ++r) {
      ASSERT_EQ(std::memcmp(before[r].first, result[r].data(), result[r].size()), 0)
          << phase << ": the result depends on the order of the threads";
    }
  }

  // A tree reduction, as a device's would add: blocks of 64 in index order,
  // then the block sums pairwise. The output must be inside an allocation.
  template <class F>
  void segment_sums(size_t segments, int64_t stride, int64_t length, const F& f, Sum3* out, const char* phase) {
    ++reductions;
    ASSERT_TRUE(segments == 0 || inside_allocation(out, segments * sizeof(Sum3)))
        << phase << ": the sums leave their allocation";
    for (size_t s = 0; s < segments; ++s) {
      const int64_t first = static_cast<int64_t>(s) * stride;
      std::vector<Sum3> blocks;
      for (int64_t j = first; j < first + length; j += 64) {
        Sum3 block;
        for (int64_t i = j; i < std::min(j + 64, first + length); ++i) {
          block = block + f(i);
        }
        blocks.push_back(block);
      }
      while (blocks.size() > 1) {
        std::vector<Sum3> next;
        for (size_t i = 0; i < blocks.size(); i += 2) {
          next.push_back(i + 1 < blocks.size() ? blocks[i] + blocks[i + 1] : blocks[i]);
        }
        blocks = std::move(next);
      }
      out[s] = blocks.empty() ? Sum3{} : blocks[0];
    }
  }

  int gemms = 0;
  int launches = 0;
  int reductions = 0;
};

std::vector<double> normals(size_t count, uint64_t seed, double scale = 1.0) {
  Stream stream(seed, 0, 0, Draw::noise);
  std::vector<double> values(count);
  for (double& v : values) {
    v = scale * stream.normal();
  }
  return values;
}

std::shared_ptr<io::RegressionData> regression_data(size_t rows, size_t features) {
  auto data = std::make_shared<io::RegressionData>();
  data->n_features = features;
  data->train_x = normals(rows * features, 11);
  data->train_y = normals(rows, 12);
  data->x_mean.assign(features, 0.0);
  data->x_sd.assign(features, 1.0);
  return data;
}

std::shared_ptr<io::ClassificationData> images(size_t rows, int h, int w, int channels, int classes) {
  auto data = std::make_shared<io::ClassificationData>();
  data->height = h;
  data->width = w;
  data->channels = channels;
  data->n_features = static_cast<size_t>(h) * w * channels;
  data->n_classes = classes;
  data->train_x = normals(rows * data->n_features, 21);
  for (size_t n = 0; n < rows; ++n) {
    data->train_y.push_back(static_cast<int>((n * 7 + 3) % static_cast<size_t>(classes)));
  }
  return data;
}

void expect_close(double expected, double actual, const std::string& what) {
  EXPECT_NEAR(actual, expected, 1e-10 * std::max(1.0, std::abs(expected))) << what;
}

// Jets of every order and the gradient, through device-like operations on
// buffers that live in their allocations, against the model's own.
void expect_device_semantics(const Model& model, double scale, int chains) {
  SCOPED_TRACE(model.description());
  const NetworkSpec* spec = model.network_spec();
  ASSERT_NE(spec, nullptr);
  const int dim = model.dim();
  const std::vector<double> theta_host = normals(static_cast<size_t>(chains) * dim, 31, scale);
  const std::vector<double> direction_host = normals(theta_host.size(), 32);
  DeviceLikeOps ops;
  auto theta = ops.upload(theta_host.data(), theta_host.size());
  auto direction = ops.upload(direction_host.data(), direction_host.size());
  auto out = ops.zeros<double>(3 * static_cast<size_t>(chains));
  auto gradient = ops.zeros<double>(theta_host.size());
  NetworkEvaluator<DeviceLikeOps> evaluator(*spec, dim, chains, ops);
  for (int order = 0; order <= 2; ++order) {
    std::vector<double> f(chains), d(chains), h(chains);
    model.jet(chains, theta_host.data(), direction_host.data(), order, f.data(), d.data(), h.data());
    evaluator.jet(theta.data(), order >= 1 ? direction.data() : nullptr, order, out.data(),
                  out.data() + chains, out.data() + 2 * chains);
    if (::testing::Test::HasFatalFailure()) {
      return;
    }
    for (int k = 0; k < chains; ++k) {
      const std::string at = "order " + std::to_string(order) + " chain " + std::to_string(k);
      expect_close(f[k], out.data()[k], "f, " + at);
      if (order >= 1) {
        expect_close(d[k], out.data()[chains + k], "d, " + at);
      }
      if (order >= 2) {
        expect_close(h[k], out.data()[2 * chains + k], "h, " + at);
      }
    }
  }
  std::vector<double> f(chains), g(theta_host.size());
  model.gradient(chains, theta_host.data(), f.data(), g.data());
  evaluator.gradient(theta.data(), out.data(), gradient.data());
  if (::testing::Test::HasFatalFailure()) {
    return;
  }
  double g_scale = 1;
  for (double v : g) {
    g_scale = std::max(g_scale, std::abs(v));
  }
  for (int k = 0; k < chains; ++k) {
    expect_close(f[k], out.data()[k], "gradient's f, chain " + std::to_string(k));
  }
  for (size_t i = 0; i < g.size(); ++i) {
    ASSERT_NEAR(gradient.data()[i], g[i], 1e-10 * g_scale) << "gradient entry " << i;
  }
  EXPECT_GT(ops.gemms, 0);
  EXPECT_GT(ops.launches, 0);
  EXPECT_GT(ops.reductions, 0);
}

// The checks catch what they are meant to catch.
struct AddToFirst {
  double* a;
  void operator()(size_t i) const { a[0] += 1.0 + static_cast<double>(i); }
};
struct ReadNext {
  double* a;
  void operator()(size_t i) const { a[i] = a[i + 1] + 1; }
};

TEST(NetworkDeviceSemantics, ChecksCatchRacesOrderAndBadLeadingDimensions) {
  EXPECT_FATAL_FAILURE(
      {
        DeviceLikeOps o;
        auto x = o.zeros<double>(4);
        o.launch(4, AddToFirst{x.data()}, "race");
      },
      "write one value");
  EXPECT_FATAL_FAILURE(
      {
        DeviceLikeOps o;
        auto x = o.zeros<double>(6);
        o.launch(4, ReadNext{x.data()}, "order");
      },
      "order of the threads");
  EXPECT_FATAL_FAILURE(
      {
        DeviceLikeOps o;
        auto x = o.zeros<double>(12);
        auto y = o.zeros<double>(12);
        o.gemm(false, false, 3, 4, 2, 1, x.data(), 1, 0, x.data(), 4, 0, 0, y.data(), 4, 12, 1);
      },
      "cuBLAS ldb");
}

TEST(NetworkDeviceSemantics, Mlps) {
  MlpConfig relu;
  relu.hidden = {5, 4};
  relu.learn_noise = true;
  relu.noise_sd = 0.7;
  relu.prior_sd = 1.3;
  relu.tile = 8;
  expect_device_semantics(MlpRegression(regression_data(21, 3), relu), 0.5, 3);
  MlpConfig tanh = relu;
  tanh.hidden = {6, 3};
  tanh.activation = MlpConfig::Activation::tanh;
  tanh.learn_noise = false;
  tanh.temper = true;
  expect_device_semantics(MlpRegression(regression_data(21, 4), tanh), 0.5, 2);
}

TEST(NetworkDeviceSemantics, LogisticRegression) {
  LogisticRegressionConfig config;
  config.tile = 4;
  expect_device_semantics(LogisticRegression(images(10, 2, 3, 1, 4), config), 0.8, 3);
}

TEST(NetworkDeviceSemantics, Classifiers) {
  struct Case {
    std::string layers;
    int h, w, channels, rows, tile, chains;
  };
  for (const Case& c : {Case{"conv:3,relu,avgpool,conv:4:s2,tanh,flatten,dense:3", 8, 8, 2, 8, 3, 2},
                        Case{"conv:2:k5:valid,sigmoid,maxpool,flatten,dense:4,softplus,dense:3", 9, 9, 1, 8, 3, 2},
                        Case{"conv:3:s2:valid,relu,conv:2:k1,maxpool,flatten,dense:3", 7, 7, 2, 8, 3, 2},
                        Case{"avgpool,flatten,dense:3", 5, 4, 2, 8, 3, 2},
                        Case{"flatten,dense:7,sigmoid,dense:5,softplus,dense:3", 2, 3, 1, 8, 3, 2},
                        Case{"conv:2:k1,relu,conv:6,tanh,maxpool,flatten,dense:3", 4, 4, 1, 11, 7, 5}}) {
    NetworkConfig config;
    config.layers = parse_layers(c.layers, "test");
    config.tile = c.tile;
    config.prior_sd = 1.1;
    expect_device_semantics(NetworkClassifier(images(static_cast<size_t>(c.rows), c.h, c.w, c.channels, 3), config),
                            0.7, c.chains);
  }
}

}  // namespace
}  // namespace fmala
