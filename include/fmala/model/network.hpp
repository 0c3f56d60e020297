#pragma once
// NetworkClassifier: a Bayesian neural network (dense, convolution, pooling
// and activation layers) for classification on the CPU back end, evaluated
// for many chains at once.
//
// Model: p(y_n = k | x_n) = softmax(net(x_n; θ))_k with independent
// N(0, prior_sd²) priors on every weight and bias. The log density is the
// full log joint, the prior's normalising constant included:
//
//   f(θ) = Σ_n log softmax(net(x_n; θ))[y_n] + Σ_i log N(θ_i; 0, prior_sd²).
//
// Tensors are NHWC: one image is (height, width, channels) with the channel
// index fastest, the layout of the data rows (see ClassificationData). A
// convolution is a product of the im2col patch matrix (pixels, k·k·C_in) and
// its weights; each window row is one run of k·C_in contiguous values of the
// input. docs/benchmarks.md measures this against NCHW: NCHW is faster on
// inputs with few channels, and NHWC is kept because it fixes the order of
// the flattened values, and so the meaning of the parameters.
//
// Layers (see LayerSpec):
//   dense      y = x W + b on the flattened input (H·W·C), W (in, out)
//   conv2d     k×k window, stride 1 or 2, SAME or VALID padding,
//              W (k, k, C_in, C_out) row-major, b (C_out)
//   avg_pool, max_pool   2×2 windows with stride 2, VALID (odd edges dropped)
//   flatten    (H, W, C) -> (1, 1, H·W·C), which moves no data in NHWC
//   relu, tanh, sigmoid, softplus   elementwise
// The last layer's output must be K = n_classes values per image (the logits).
//
// Parameter layout (D values per chain): each dense or conv layer in turn
// stores W then b. For example the MNIST-size CNN of the reference study
// (conv 3×3 1→32, relu, avg-pool, conv 3×3 32→64, relu, avg-pool, dense
// 3136→256, relu, dense 256→10) has 824,458 parameters.
//
// Evaluation streams the training images in tiles of `tile` images.
// jet() carries the value, first and second derivative along the direction u
// ("planes" 0, 1, 2) through the layers and keeps only one layer's input and
// output for one tile, so its memory grows with neither N nor depth.
// gradient() is hand-written reverse mode: it keeps every layer's output for
// one tile, then accumulates the gradient tile by tile, so its memory grows
// with depth × tile but not with N. An untiled run (tile ≥ N) keeps every
// layer's output for all images, as backpropagation over a full batch does.
// Each chain is evaluated by one OpenMP thread in a fixed order and each BLAS
// call runs on the calling thread, so with a given BLAS the results are
// bit-identical for any thread count.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fmala/ad/jet.hpp"
#include "fmala/core/config.hpp"
#include "fmala/io/classification_data.hpp"
#include "fmala/model/model.hpp"

namespace fmala {

struct LayerSpec {
  enum class Kind { dense, conv2d, avg_pool, max_pool, flatten, relu, tanh, sigmoid, softplus };
  Kind kind = Kind::dense;
  int size = 0;       // dense: output units; conv2d: output channels
  int kernel = 3;     // conv2d: window side k
  int stride = 1;     // conv2d: 1 or 2
  bool same = true;   // conv2d: SAME (zero padding, output ⌈in / stride⌉) or VALID
};

// Parses a comma-separated layer list, for example
//   "conv:32,relu,avgpool,conv:64,relu,avgpool,flatten,dense:256,relu,dense:10".
// The tokens are dense:UNITS, conv:FILTERS, avgpool, maxpool, flatten, relu,
// tanh, sigmoid and softplus. A conv token takes the options ":kK" (window,
// default 3), ":sS" (stride 1 or 2, default 1) and ":same" or ":valid"
// (default same), in any order.
// Throws fmala::Error naming `where` and the token for an unknown token or a
// size, window or stride out of range.
std::vector<LayerSpec> parse_layers(const std::string& text, const std::string& where);

// The layer list of a named architecture, or an empty list for an unknown name:
//   "paper-mnist-cnn"  the MNIST-size CNN above (824,458 parameters on 28×28×1)
//   "paper-cifar-cnn"  six 3×3 SAME convolutions 32-32-64-64-128-128 with relu,
//                      a 2×2 max-pool after each pair, dense 2048→1024, relu,
//                      dense 1024→10 (2,395,434 parameters on 32×32×3)
std::vector<LayerSpec> network_preset(const std::string& name);

// The text form of a layer list, as parse_layers reads it.
std::string format_layers(const std::vector<LayerSpec>& layers);

struct NetworkConfig {
  std::vector<LayerSpec> layers;
  Real prior_sd = 1.0;  // N(0, prior_sd²) on every weight and bias
  int tile = 32;        // training images per tile
  // metrics() uses the last min(predictive_draws_per_chain, S) kept draws of
  // every chain.
  int predictive_draws_per_chain = 100;
  int ece_bins = 100;  // equal-width confidence bins of the expected calibration error
};

class NetworkClassifier : public Model {
 public:
  // Checks the data as LogisticRegression does and the layers against the
  // image shape (height, width, channels) of the data. Throws fmala::Error
  // naming the layer (1-based, with its text) for a window larger than its
  // padded input, a pooling layer on an input smaller than 2×2, a last layer
  // whose output is not n_classes values, or no layer with parameters; and for
  // a non-positive or non-finite prior_sd, or a tile, predictive_draws_per_chain
  // or ece_bins below 1. Sets OpenBLAS's pthreads build to one thread.
  NetworkClassifier(std::shared_ptr<const io::ClassificationData> data, NetworkConfig config);
  ~NetworkClassifier() override;

  int dim() const override { return dim_; }
  // For example "network 28x28x1 conv:32,relu,avgpool,...,dense:10 (824458
  // parameters, 2000 training images)", with the full layer list.
  std::string description() const override;
  // "w<l>[...]" and "b<l>[...]" with l the layer's 1-based position in the
  // list: w<l>[i,j] for dense, w<l>[ky,kx,ci,co] for conv2d.
  std::string parameter_name(int index) const override;

  // theta and direction are (C, D) chain-major; f, d and h are (C).
  void jet(int chains, const Real* theta, const Real* direction, int order, Real* f, Real* d,
           Real* h) const override;

  // theta and g are (C, D) chain-major; f is (C). Reverse mode.
  void gradient(int chains, const Real* theta, Real* f, Real* g) const override;

  // Weights N(0, gain / fan_in) with gain 2 before a relu and 1 otherwise,
  // zero biases. Chain k draws from Stream(seed, k, -1, Draw::init) only, one
  // normal per weight in parameter order.
  void initial_state(uint64_t seed, int first_chain, int chains, Real* theta) const override;

  // Scores the posterior-mean predictive over the last
  // min(predictive_draws_per_chain, S) draws of every chain, as
  // LogisticRegression::metrics does: accuracy, nll, ece, brier on the test
  // split and train_accuracy on the training split.
  Metrics metrics(const Draws& draws) const override;
  // The posterior-mean class probabilities on the test split that metrics()
  // scores.
  TestPredictive test_predictive(const Draws& draws) const override;
  // The predictive metrics need whole draws.
  std::optional<std::vector<int>> metric_coordinates() const override { return std::nullopt; }

  double cost_units() const override { return static_cast<double>(data_->n_train()); }

  // Writes the class probabilities (rows, K) of images x (rows, H·W·C) at one
  // parameter vector theta (D).
  void predict(const Real* theta, const double* x, size_t rows, double* probabilities) const;

  // Bytes of scratch one thread holds for jet() (gradient = false) or
  // gradient() (true) with the configured tile.
  size_t workspace_bytes(bool gradient) const override;

  // The network as a NetworkSpec, for back ends other than the CPU one, when
  // each activation follows a dense or conv2d layer; null otherwise (an
  // activation of the input or of a pooling layer's output, or two in a row).
  const NetworkSpec* network_spec() const override {
    return network_spec_.layers.empty() ? nullptr : &network_spec_;
  }

  const NetworkConfig& config() const { return config_; }
  const io::ClassificationData& data() const { return *data_; }

  // One compiled layer: its shapes and, for dense and conv2d, the offsets of
  // W and b in a chain's parameter vector.
  struct Layer {
    LayerSpec spec;
    int in_h = 0, in_w = 0, in_c = 0;
    int out_h = 0, out_w = 0, out_c = 0;
    int pad_top = 0, pad_left = 0;  // conv2d SAME: zeros before the first row and column
    int fan_in = 0;                 // dense: in; conv2d: k·k·C_in
    size_t w_offset = 0, b_offset = 0;
    size_t in_size() const { return static_cast<size_t>(in_h) * in_w * in_c; }
    size_t out_size() const { return static_cast<size_t>(out_h) * out_w * out_c; }
    bool has_parameters() const {
      return spec.kind == LayerSpec::Kind::dense || spec.kind == LayerSpec::Kind::conv2d;
    }
  };
  const std::vector<Layer>& layers() const { return layers_; }

 private:
  // The posterior-mean class probabilities (rows, K) of features x over the
  // draws `selected`, summed in an order that does not depend on the thread
  // count.
  std::vector<double> mean_probabilities(const std::vector<const Real*>& selected, const std::vector<double>& x,
                                         size_t n_rows) const;
  struct Scratch;
  Scratch make_scratch(int rows, bool gradient) const;
  // Whether gradient() runs layer l in place on its input's buffer, keeping
  // no output of its own (flatten, and activations; see chain_gradient).
  bool works_in_place(size_t l) const;
  // Values of one plane of the largest im2col chunk for tiles of `rows` images.
  size_t patch_values(int rows) const;
  // The logits of one tile: planes of (rows, K), of which the first `planes`
  // are nonzero, inside a scratch buffer.
  struct Logits {
    const Real* values;
    int planes;
  };
  // Runs the layers on `rows` images x for one chain, as jets of the given order.
  Logits forward_jet(const Real* theta, const Real* direction, int order, const double* x, int rows,
                  Scratch& scratch) const;
  Jet<Real> chain_jet(const Real* theta, const Real* direction, int order, Scratch& scratch) const;
  Real chain_gradient(const Real* theta, Real* g, Scratch& scratch) const;
  Jet<Real> prior_jet(const Real* theta, const Real* direction, int order) const;
  // Fills network_spec_ when the network has a NetworkSpec form.
  void describe_network();

  std::shared_ptr<const io::ClassificationData> data_;
  NetworkConfig config_;
  std::vector<Layer> layers_;
  int dim_ = 0;
  int classes_ = 0;
  size_t max_size_ = 0;     // largest layer input or output per image
  NetworkSpec network_spec_;  // no layers when the network has no NetworkSpec form
};

}  // namespace fmala
