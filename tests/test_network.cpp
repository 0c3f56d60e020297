#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "fmala/core/error.hpp"
#include "fmala/io/classification_data.hpp"
#include "fmala/model/logreg.hpp"
#include "fmala/model/network.hpp"
#include "fmala/random/philox.hpp"

namespace fmala {
namespace {

using Kind = LayerSpec::Kind;

std::vector<double> normals(size_t count, uint64_t seed, double scale = 1.0) {
  Stream stream(seed, 0, 0, Draw::noise);
  std::vector<double> values(count);
  for (double& v : values) {
    v = scale * stream.normal();
  }
  return values;
}

// Synthetic images (h, w, c) with N(0, 1) pixels, labels cycling through K classes.
std::shared_ptr<io::ClassificationData> random_images(size_t n_train, size_t n_test, int h, int w,
                                                     int c, int classes, uint64_t seed) {
  auto data = std::make_shared<io::ClassificationData>();
  data->height = h;
  data->width = w;
  data->channels = c;
  data->n_features = static_cast<size_t>(h) * w * c;
  data->n_classes = classes;
  data->train_x = normals(n_train * data->n_features, seed);
  data->test_x = normals(n_test * data->n_features, seed + 1);
  for (size_t n = 0; n < n_train; ++n) {
    data->train_y.push_back(static_cast<int>((n * 7 + 3) % static_cast<size_t>(classes)));
  }
  for (size_t n = 0; n < n_test; ++n) {
    data->test_y.push_back(static_cast<int>((n * 5 + 1) % static_cast<size_t>(classes)));
  }
  return data;
}

NetworkConfig config_of(const std::string& layers, int tile = 2, double prior_sd = 1.3) {
  NetworkConfig config;
  config.layers = parse_layers(layers, "test");
  config.tile = tile;
  config.prior_sd = prior_sd;
  return config;
}

// ---------------------------------------------------------------------------
// A plain reference forward pass, written loop by loop from the definitions
// (no im2col, no BLAS), to check the layout conventions of the model.

struct Tensor {
  int h, w, c;
  std::vector<double> v;  // (h, w, c)
  double& at(int y, int x, int ch) { return v[(static_cast<size_t>(y) * w + x) * c + ch]; }
  double get(int y, int x, int ch) const { return v[(static_cast<size_t>(y) * w + x) * c + ch]; }
};

std::vector<double> reference_logits(const NetworkClassifier& model, const double* theta,
                                     const double* image) {
  const io::ClassificationData& d = model.data();
  Tensor t{d.height, d.width, d.channels,
           std::vector<double>(image, image + d.n_features)};
  for (const NetworkClassifier::Layer& layer : model.layers()) {
    const LayerSpec& s = layer.spec;
    switch (s.kind) {
      case Kind::dense: {
        Tensor out{1, 1, s.size, std::vector<double>(static_cast<size_t>(s.size))};
        const size_t in = t.v.size();
        for (int j = 0; j < s.size; ++j) {
          double z = theta[layer.b_offset + j];
          for (size_t i = 0; i < in; ++i) {
            z += t.v[i] * theta[layer.w_offset + i * s.size + j];
          }
          out.v[j] = z;
        }
        t = out;
        break;
      }
      case Kind::conv2d: {
        // TensorFlow's convention: SAME pads (out - 1) s + k - in in total,
        // the smaller half before.
        const int k = s.kernel;
        int oh, ow, pt = 0, pl = 0;
        if (s.same) {
          oh = (t.h + s.stride - 1) / s.stride;
          ow = (t.w + s.stride - 1) / s.stride;
          pt = std::max((oh - 1) * s.stride + k - t.h, 0) / 2;
          pl = std::max((ow - 1) * s.stride + k - t.w, 0) / 2;
        } else {
          oh = (t.h - k) / s.stride + 1;
          ow = (t.w - k) / s.stride + 1;
        }
        Tensor out{oh, ow, s.size, std::vector<double>(static_cast<size_t>(oh) * ow * s.size)};
        for (int y = 0; y < oh; ++y) {
          for (int x = 0; x < ow; ++x) {
            for (int co = 0; co < s.size; ++co) {
              double z = theta[layer.b_offset + co];
              for (int ky = 0; ky < k; ++ky) {
                for (int kx = 0; kx < k; ++kx) {
                  const int iy = y * s.stride - pt + ky;
                  const int ix = x * s.stride - pl + kx;
                  if (iy < 0 || ix < 0 || iy >= t.h || ix >= t.w) {
                    continue;
                  }
                  for (int ci = 0; ci < t.c; ++ci) {
                    const size_t wi = ((static_cast<size_t>(ky) * k + kx) * t.c + ci) * s.size + co;
                    z += t.get(iy, ix, ci) * theta[layer.w_offset + wi];
                  }
                }
              }
              out.at(y, x, co) = z;
            }
          }
        }
        t = out;
        break;
      }
      case Kind::avg_pool:
      case Kind::max_pool: {
        Tensor out{t.h / 2, t.w / 2, t.c,
                   std::vector<double>(static_cast<size_t>(t.h / 2) * (t.w / 2) * t.c)};
        for (int y = 0; y < out.h; ++y) {
          for (int x = 0; x < out.w; ++x) {
            for (int ch = 0; ch < t.c; ++ch) {
              const double a = t.get(2 * y, 2 * x, ch), b = t.get(2 * y, 2 * x + 1, ch);
              const double c = t.get(2 * y + 1, 2 * x, ch), e = t.get(2 * y + 1, 2 * x + 1, ch);
              out.at(y, x, ch) = s.kind == Kind::avg_pool ? (a + b + c + e) / 4
                                                          : std::max({a, b, c, e});
            }
          }
        }
        t = out;
        break;
      }
      case Kind::flatten:
        t = Tensor{1, 1, static_cast<int>(t.v.size()), t.v};
        break;
      case Kind::relu:
        for (double& v : t.v) v = std::max(v, 0.0);
        break;
      case Kind::tanh:
        for (double& v : t.v) v = std::tanh(v);
        break;
      case Kind::sigmoid:
        for (double& v : t.v) v = 1 / (1 + std::exp(-v));
        break;
      case Kind::softplus:
        for (double& v : t.v) v = std::log(1 + std::exp(v));
        break;
    }
  }
  return t.v;
}

// One network per layer kind and option, on images of unequal height and
// width so that swapped axes show.
const char* const kNetworks[] = {
    "conv:3,relu,avgpool,flatten,dense:3",
    "conv:2:k2:s2,tanh,conv:3:valid,sigmoid,dense:3",
    "conv:4:k3:s2:valid,softplus,maxpool,dense:3",
    "conv:2:k5,relu,maxpool,conv:2:s2,tanh,dense:4,softplus,dense:3",
    "dense:5,sigmoid,dense:3",
    "avgpool,conv:2,relu,relu,flatten,tanh,dense:3",
};

struct JetResult {
  std::vector<Real> f, d, h;
};

JetResult run_jet(const NetworkClassifier& model, int chains, const std::vector<Real>& theta,
                  const std::vector<Real>& u, int order) {
  JetResult r{std::vector<Real>(chains), std::vector<Real>(chains), std::vector<Real>(chains)};
  model.jet(chains, theta.data(), u.data(), order, r.f.data(), r.d.data(), r.h.data());
  return r;
}

// f(θ + t u) and ∇f(θ + t u)·u for one chain.
double value_at(const NetworkClassifier& model, std::vector<Real> theta, const std::vector<Real>& u,
                double t) {
  for (size_t i = 0; i < theta.size(); ++i) {
    theta[i] += t * u[i];
  }
  Real f = 0;
  model.jet(1, theta.data(), nullptr, 0, &f, nullptr, nullptr);
  return f;
}

double slope_at(const NetworkClassifier& model, std::vector<Real> theta, const std::vector<Real>& u,
                double t) {
  for (size_t i = 0; i < theta.size(); ++i) {
    theta[i] += t * u[i];
  }
  Real f = 0;
  std::vector<Real> g(theta.size());
  model.gradient(1, theta.data(), &f, g.data());
  double gu = 0;
  for (size_t i = 0; i < theta.size(); ++i) {
    gu += g[i] * u[i];
  }
  return gu;
}

TEST(NetworkClassifier, ParsesAndFormatsLayerLists) {
  const std::vector<LayerSpec> layers =
      parse_layers("conv:8:k5:s2:valid,relu,maxpool,avgpool,flatten,dense:10,softplus", "--layers");
  ASSERT_EQ(layers.size(), 7u);
  EXPECT_EQ(layers[0].kind, Kind::conv2d);
  EXPECT_EQ(layers[0].size, 8);
  EXPECT_EQ(layers[0].kernel, 5);
  EXPECT_EQ(layers[0].stride, 2);
  EXPECT_FALSE(layers[0].same);
  EXPECT_EQ(layers[2].kind, Kind::max_pool);
  EXPECT_EQ(layers[5].kind, Kind::dense);
  EXPECT_EQ(layers[5].size, 10);
  EXPECT_EQ(format_layers(layers),
            "conv:8:k5:s2:valid,relu,maxpool,avgpool,flatten,dense:10,softplus");
  EXPECT_EQ(format_layers(parse_layers("conv:4:same:k3:s1", "x")), "conv:4");
}

TEST(NetworkClassifier, RejectsBadLayerLists) {
  const auto message = [](const std::string& text) {
    try {
      parse_layers(text, "--layers");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("").find("empty"), std::string::npos);
  EXPECT_NE(message("dense:3,,relu").find("empty layer"), std::string::npos);
  EXPECT_NE(message("pool").find("'pool': unknown layer"), std::string::npos);
  EXPECT_NE(message("dense").find("whole number of units"), std::string::npos);
  EXPECT_NE(message("dense:0").find("at least 1"), std::string::npos);
  EXPECT_NE(message("conv:4:s3").find("stride s must be 1 or 2"), std::string::npos);
  EXPECT_NE(message("conv:4:k0").find("window k must be at least 1"), std::string::npos);
  EXPECT_NE(message("conv:4:pad").find("unknown option 'pad'"), std::string::npos);
  EXPECT_NE(message("relu:2").find("takes no arguments"), std::string::npos);
  EXPECT_NE(message("dense:3:valid").find("only the number of units"), std::string::npos);
  EXPECT_EQ(message("relu,dense").rfind("--layers", 0), 0u) << "the message starts with the flag";
}

TEST(NetworkClassifier, PresetsHaveTheReferenceParameterCounts) {
  // conv 3·3·1·32 + 32 = 320; conv 3·3·32·64 + 64 = 18,496;
  // dense 3136·256 + 256 = 803,072; dense 256·10 + 10 = 2,570; sum 824,458.
  NetworkConfig mnist;
  mnist.layers = network_preset("paper-mnist-cnn");
  const NetworkClassifier small(random_images(1, 0, 28, 28, 1, 10, 1), mnist);
  EXPECT_EQ(small.dim(), 824458);
  EXPECT_EQ(small.layers()[7].fan_in, 3136);
  // 896 + 9,248 + 18,496 + 36,928 + 73,856 + 147,584 (convolutions)
  // + 2,098,176 + 10,250 (dense) = 2,395,434.
  NetworkConfig cifar;
  cifar.layers = network_preset("paper-cifar-cnn");
  const NetworkClassifier large(random_images(1, 0, 32, 32, 3, 10, 2), cifar);
  EXPECT_EQ(large.dim(), 2395434);
  EXPECT_TRUE(network_preset("no-such-preset").empty());
}

TEST(NetworkClassifier, DescriptionAndNames) {
  const NetworkClassifier model(random_images(5, 2, 4, 3, 2, 3, 3),
                                config_of("conv:2:k2:valid,relu,flatten,dense:3"));
  // conv: 2·2·2·2 + 2 = 18; its output is 3 × 2 × 2 = 12; dense 12·3 + 3 = 39.
  EXPECT_EQ(model.dim(), 18 + 39);
  EXPECT_EQ(model.description(),
            "network 4x3x2 conv:2:k2:valid,relu,flatten,dense:3 (57 parameters, 5 training images)");
  // w1[ky, kx, ci, co]: index ((ky·2 + kx)·2 + ci)·2 + co.
  EXPECT_EQ(model.parameter_name(0), "w1[0,0,0,0]");
  EXPECT_EQ(model.parameter_name(13), "w1[1,1,0,1]");
  EXPECT_EQ(model.parameter_name(16), "b1[0]");
  EXPECT_EQ(model.parameter_name(18), "w4[0,0]");
  EXPECT_EQ(model.parameter_name(18 + 3 * 11 + 2), "w4[11,2]");
  EXPECT_EQ(model.parameter_name(56), "b4[2]");
}

TEST(NetworkClassifier, RejectsLayersThatDoNotFitTheImages) {
  const auto message = [](const std::string& layers, int h, int w) {
    try {
      const NetworkClassifier model(random_images(2, 0, h, w, 1, 3, 4), config_of(layers));
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("conv:2:k5:valid,dense:3", 4, 6).find("layer 1 (conv:2:k5:valid)"),
            std::string::npos);
  EXPECT_NE(message("maxpool,maxpool,dense:3", 3, 3).find("layer 2 (maxpool)"), std::string::npos);
  EXPECT_NE(message("dense:4", 3, 3).find("End the layer list with dense:3"), std::string::npos);
  EXPECT_EQ(message("conv:3,relu", 1, 1), "no error")
      << "a 1x1 image with 3 filters has 3 outputs, one per class";
  EXPECT_NE(message("conv:3,relu", 2, 1).find("2x1x3 = 6 outputs"), std::string::npos);
  EXPECT_EQ(message("flatten,relu,dense:3", 2, 2), "no error");
  EXPECT_NE(message("avgpool", 2, 6).find("no dense or conv layer"), std::string::npos);
}

TEST(NetworkClassifier, PredictMatchesPlainReference) {
  for (const char* layers : kNetworks) {
    const NetworkClassifier model(random_images(3, 4, 7, 6, 2, 3, 5), config_of(layers, 3));
    const std::vector<Real> theta = normals(static_cast<size_t>(model.dim()), 6, 0.5);
    const io::ClassificationData& d = model.data();
    std::vector<double> p(d.n_test() * 3);
    model.predict(theta.data(), d.test_x.data(), d.n_test(), p.data());
    for (size_t n = 0; n < d.n_test(); ++n) {
      const std::vector<double> z =
          reference_logits(model, theta.data(), d.test_x.data() + n * d.n_features);
      ASSERT_EQ(z.size(), 3u);
      const double shift = std::max({z[0], z[1], z[2]});
      const double sum = std::exp(z[0] - shift) + std::exp(z[1] - shift) + std::exp(z[2] - shift);
      for (int k = 0; k < 3; ++k) {
        EXPECT_NEAR(p[n * 3 + k], std::exp(z[k] - shift) / sum, 1e-13)
            << layers << " image " << n << " class " << k;
      }
    }
  }
}

TEST(NetworkClassifier, JetMatchesFiniteDifferences) {
  for (const char* layers : kNetworks) {
    const NetworkClassifier model(random_images(5, 0, 7, 6, 2, 3, 7), config_of(layers));
    const int dim = model.dim();
    for (uint64_t seed = 0; seed < 2; ++seed) {
      const std::vector<Real> theta = normals(dim, 100 + seed, 0.5);
      // A unit direction, as the samplers draw: with u ~ N(0, I) instead, the
      // stencil moves the pre-activations far enough to cross relu and
      // max-pool kinks, where f has no second derivative.
      std::vector<Real> u = normals(dim, 200 + seed);
      double norm = 0;
      for (const Real v : u) norm += v * v;
      for (Real& v : u) v /= std::sqrt(norm);
      const JetResult r = run_jet(model, 1, theta, u, 2);
      // Central differences of f with small steps, because relu and max-pool
      // put kinks in f' (a kink within the stencil adds about |jump| / e to
      // the second difference). The error is truncation O(e²) plus rounding
      // of about 4 ε |f| / (2e) (first) and 4 ε |f| / e² (second), which the
      // tolerances add to a relative 1e-6 and 1e-4.
      const double eps = std::numeric_limits<double>::epsilon();
      const double f0 = value_at(model, theta, u, 0);
      const double e1 = 1e-6;
      const double fd1 =
          (value_at(model, theta, u, e1) - value_at(model, theta, u, -e1)) / (2 * e1);
      const double e2 = 2e-5;
      const double fd2 =
          (value_at(model, theta, u, e2) - 2 * f0 + value_at(model, theta, u, -e2)) / (e2 * e2);
      EXPECT_NEAR(r.d[0], fd1, 1e-6 * std::abs(fd1) + 2 * eps * std::abs(f0) / e1)
          << layers << " seed " << seed;
      EXPECT_NEAR(r.h[0], fd2, 1e-4 * std::abs(fd2) + 4 * eps * std::abs(f0) / (e2 * e2))
          << layers << " seed " << seed;
    }
  }
}

TEST(NetworkClassifier, SecondDerivativeMatchesDifferenceOfReverseSlope) {
  // The jet's second derivative against a central difference of ∇f·u from
  // reverse mode: error O(e² |f''''|) plus rounding ~1e-16 |∇f·u| / e.
  for (const char* layers : kNetworks) {
    const NetworkClassifier model(random_images(5, 0, 7, 6, 2, 3, 8), config_of(layers));
    const int dim = model.dim();
    const std::vector<Real> theta = normals(dim, 300, 0.5);
    const std::vector<Real> u = normals(dim, 301);
    const JetResult r = run_jet(model, 1, theta, u, 2);
    const double e = 1e-5;
    const double fd = (slope_at(model, theta, u, e) - slope_at(model, theta, u, -e)) / (2 * e);
    EXPECT_NEAR(r.h[0], fd, 1e-6 * std::max(1.0, std::abs(fd))) << layers;
  }
}

TEST(NetworkClassifier, GradientMatchesJetAndFiniteDifferences) {
  for (const char* layers : kNetworks) {
    const NetworkClassifier model(random_images(5, 0, 7, 6, 2, 3, 9), config_of(layers));
    const int dim = model.dim();
    const int chains = 3;
    const std::vector<Real> theta = normals(static_cast<size_t>(chains) * dim, 400, 0.5);
    const std::vector<Real> u = normals(static_cast<size_t>(chains) * dim, 401);
    std::vector<Real> f(chains);
    std::vector<Real> g(static_cast<size_t>(chains) * dim);
    model.gradient(chains, theta.data(), f.data(), g.data());
    const JetResult r = run_jet(model, chains, theta, u, 1);
    for (int c = 0; c < chains; ++c) {
      double gu = 0;
      for (int i = 0; i < dim; ++i) {
        gu += g[c * dim + i] * u[c * dim + i];
      }
      EXPECT_NEAR(gu, r.d[c], 1e-10 * std::max(1.0, std::abs(r.d[c]))) << layers << " chain " << c;
      EXPECT_NEAR(f[c], r.f[c], 1e-12 * std::abs(r.f[c])) << layers << " chain " << c;
    }
    // Every 7th coordinate of chain 0 against a central difference.
    const std::vector<Real> theta0(theta.begin(), theta.begin() + dim);
    for (int i = 0; i < dim; i += 7) {
      std::vector<Real> e(dim, 0.0);
      e[i] = 1.0;
      const double h = 1e-5;
      const double fd = (value_at(model, theta0, e, h) - value_at(model, theta0, e, -h)) / (2 * h);
      EXPECT_NEAR(g[i], fd, 1e-6 * std::max(1.0, std::abs(fd)))
          << layers << " " << model.parameter_name(i);
    }
  }
}

TEST(NetworkClassifier, LargeConvolutionsRunInChunks) {
  // The second convolution's patches are 64 · 64 · 144 = 589,824 values per
  // image, more than half the chunk budget of 2^20, so a tile of 3 images goes
  // through it one image at a time. The results must equal the plain reference
  // and the reverse pass must agree with the jet.
  const NetworkClassifier model(random_images(3, 2, 64, 64, 1, 3, 15),
                                config_of("conv:16,tanh,conv:4,relu,maxpool,flatten,dense:3", 3));
  const int dim = model.dim();
  const std::vector<Real> theta = normals(dim, 800, 0.3);
  const io::ClassificationData& d = model.data();
  std::vector<double> p(d.n_test() * 3);
  model.predict(theta.data(), d.test_x.data(), d.n_test(), p.data());
  for (size_t n = 0; n < d.n_test(); ++n) {
    const std::vector<double> z =
        reference_logits(model, theta.data(), d.test_x.data() + n * d.n_features);
    const double shift = std::max({z[0], z[1], z[2]});
    const double sum = std::exp(z[0] - shift) + std::exp(z[1] - shift) + std::exp(z[2] - shift);
    for (int k = 0; k < 3; ++k) {
      EXPECT_NEAR(p[n * 3 + k], std::exp(z[k] - shift) / sum, 1e-12) << "image " << n;
    }
  }
  // A unit direction keeps the relu and max-pool kinks out of the stencil
  // (see JetMatchesFiniteDifferences).
  std::vector<Real> u = normals(dim, 801);
  double norm = 0;
  for (const Real v : u) norm += v * v;
  for (Real& v : u) v /= std::sqrt(norm);
  const JetResult r = run_jet(model, 1, theta, u, 2);
  const double e = 1e-6;
  const double fd = (slope_at(model, theta, u, e) - slope_at(model, theta, u, -e)) / (2 * e);
  EXPECT_NEAR(r.h[0], fd, 1e-6 * std::max(1.0, std::abs(fd)));
  EXPECT_NEAR(slope_at(model, theta, u, 0), r.d[0], 1e-10 * std::max(1.0, std::abs(r.d[0])));
}

TEST(NetworkClassifier, OrdersAndTilesAgreeOnValue) {
  const char* layers = kNetworks[3];
  const NetworkClassifier one(random_images(7, 0, 7, 6, 2, 3, 10), config_of(layers, 1));
  const NetworkClassifier all(random_images(7, 0, 7, 6, 2, 3, 10), config_of(layers, 100));
  const int dim = one.dim();
  const std::vector<Real> theta = normals(static_cast<size_t>(2) * dim, 500, 0.5);
  const std::vector<Real> u = normals(static_cast<size_t>(2) * dim, 501);
  const JetResult r0 = run_jet(one, 2, theta, u, 0);
  const JetResult r2 = run_jet(one, 2, theta, u, 2);
  const JetResult big = run_jet(all, 2, theta, u, 2);
  for (int c = 0; c < 2; ++c) {
    EXPECT_NEAR(r0.f[c], r2.f[c], 1e-12 * std::abs(r0.f[c]));
    EXPECT_NEAR(big.f[c], r2.f[c], 1e-12 * std::abs(r2.f[c]));
    EXPECT_NEAR(big.d[c], r2.d[c], 1e-11 * std::max(1.0, std::abs(r2.d[c])));
    EXPECT_NEAR(big.h[c], r2.h[c], 1e-11 * std::max(1.0, std::abs(r2.h[c])));
  }
}

TEST(NetworkClassifier, DenseNetworkEqualsLogisticRegression) {
  // dense:K on flat features is softmax regression with the same parameter
  // layout (W (P, K), then b), so both models must agree.
  const auto data = random_images(9, 6, 1, 5, 1, 4, 11);
  const NetworkClassifier net(data, config_of("dense:4", 4, 1.3));
  LogisticRegressionConfig lr_config;
  lr_config.prior_sd = 1.3;
  lr_config.tile = 4;
  const LogisticRegression logreg(data, lr_config);
  ASSERT_EQ(net.dim(), logreg.dim());
  const int dim = net.dim();
  const std::vector<Real> theta = normals(static_cast<size_t>(dim) * 2, 600, 0.7);
  const std::vector<Real> u = normals(static_cast<size_t>(dim) * 2, 601);
  std::vector<Real> f1(2), d1(2), h1(2), f2(2), d2(2), h2(2);
  net.jet(2, theta.data(), u.data(), 2, f1.data(), d1.data(), h1.data());
  logreg.jet(2, theta.data(), u.data(), 2, f2.data(), d2.data(), h2.data());
  std::vector<Real> g1(theta.size()), g2(theta.size());
  net.gradient(2, theta.data(), f1.data(), g1.data());
  logreg.gradient(2, theta.data(), f2.data(), g2.data());
  for (int c = 0; c < 2; ++c) {
    EXPECT_NEAR(f1[c], f2[c], 1e-12 * std::abs(f2[c]));
    EXPECT_NEAR(d1[c], d2[c], 1e-12 * std::max(1.0, std::abs(d2[c])));
    EXPECT_NEAR(h1[c], h2[c], 1e-12 * std::max(1.0, std::abs(h2[c])));
  }
  for (size_t i = 0; i < g1.size(); ++i) {
    EXPECT_NEAR(g1[i], g2[i], 1e-12 * std::max(1.0, std::abs(g2[i]))) << i;
  }
  Draws draws;
  draws.chains = 2;
  draws.draws = 1;
  draws.dim = dim;
  draws.values = theta;
  draws.log_density = {0, 0};
  const Metrics a = net.metrics(draws);
  const Metrics b = logreg.metrics(draws);
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, value] : b) {
    EXPECT_NEAR(a.at(name), value, 1e-12) << name;
  }
}

TEST(NetworkClassifier, BitIdenticalForAnyThreadCount) {
  const NetworkClassifier model(random_images(6, 3, 7, 6, 2, 3, 12),
                                config_of(kNetworks[3], 4));
  const int dim = model.dim();
  const int chains = 5;
  const std::vector<Real> theta = normals(static_cast<size_t>(chains) * dim, 700, 0.5);
  const std::vector<Real> u = normals(static_cast<size_t>(chains) * dim, 701);
  const int saved = omp_get_max_threads();
  std::vector<std::vector<Real>> results;
  for (int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    const JetResult r = run_jet(model, chains, theta, u, 2);
    std::vector<Real> f(chains), g(theta.size());
    model.gradient(chains, theta.data(), f.data(), g.data());
    std::vector<Real> all = r.f;
    all.insert(all.end(), r.d.begin(), r.d.end());
    all.insert(all.end(), r.h.begin(), r.h.end());
    all.insert(all.end(), g.begin(), g.end());
    results.push_back(all);
  }
  omp_set_num_threads(saved);
  EXPECT_EQ(results[0], results[1]);
  EXPECT_EQ(results[0], results[2]);
}

TEST(NetworkClassifier, InitialStateScalesWeightsByFanIn) {
  const NetworkClassifier model(random_images(2, 0, 8, 8, 1, 3, 13),
                                config_of("conv:16,relu,flatten,dense:3"));
  std::vector<Real> theta(static_cast<size_t>(model.dim()) * 2);
  model.initial_state(7, 0, 2, theta.data());
  std::vector<Real> again(static_cast<size_t>(model.dim()));
  model.initial_state(7, 1, 1, again.data());
  EXPECT_TRUE(std::equal(again.begin(), again.end(), theta.begin() + model.dim()))
      << "chain 1's start depends only on the seed and the chain";
  const NetworkClassifier::Layer& conv = model.layers()[0];
  const NetworkClassifier::Layer& dense = model.layers()[3];
  // Sample variances of 144 conv weights (gain 2 before relu, fan-in 9) and
  // 3072 dense weights (gain 1, fan-in 1024), within 5 standard errors
  // (the sd of a sample variance is σ² √(2 / n)).
  const auto variance = [&](size_t offset, size_t count) {
    double sum = 0;
    for (size_t i = 0; i < count; ++i) sum += theta[offset + i] * theta[offset + i];
    return sum / static_cast<double>(count);
  };
  const double conv_var = 2.0 / 9;
  EXPECT_NEAR(variance(conv.w_offset, 144), conv_var, 5 * conv_var * std::sqrt(2.0 / 144));
  const double dense_var = 1.0 / 1024;
  EXPECT_NEAR(variance(dense.w_offset, 3072), dense_var, 5 * dense_var * std::sqrt(2.0 / 3072));
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(theta[conv.b_offset + j], 0.0);
  }
}

TEST(NetworkClassifier, WorkspaceVersusDepth) {
  // The reverse pass keeps every layer's output for a tile; the jet keeps one
  // layer's input and output, whatever the depth.
  const auto data = random_images(64, 0, 8, 8, 1, 3, 14);
  const NetworkClassifier shallow(data, config_of("conv:8,relu,conv:8,relu,flatten,dense:3", 16));
  const NetworkClassifier deep(
      data, config_of("conv:8,relu,conv:8,relu,conv:8,relu,conv:8,relu,flatten,dense:3", 16));
  EXPECT_EQ(shallow.workspace_bytes(false), deep.workspace_bytes(false));
  // Two more conv outputs of 16 images × 8 × 8 × 8 values, 8 bytes each; the
  // relus work in place.
  EXPECT_EQ(deep.workspace_bytes(true) - shallow.workspace_bytes(true), 2u * 16 * 8 * 8 * 8 * 8);
}

}  // namespace
}  // namespace fmala
