#include <omp.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>

#include <chrono>
#include <cmath>
#include <limits>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "cli/log.hpp"
#include "cli/options.hpp"
#include "cli/shard.hpp"
#include "fmala/backend/buffer_layout.hpp"
#include "fmala/backend/cuda.hpp"
#include "fmala/core/error.hpp"
#include "fmala/io/atomic_file.hpp"
#include "fmala/io/checkpoint.hpp"
#include "fmala/io/classification_data.hpp"
#include "fmala/io/netcdf.hpp"
#include "fmala/io/npy.hpp"
#include "fmala/io/random_images.hpp"
#include "fmala/io/regression_data.hpp"
#include "fmala/model/logreg.hpp"
#include "fmala/model/mlp.hpp"
#include "fmala/model/network.hpp"
#include "fmala/run.hpp"
#include "fmala/summary.hpp"
#include "fmala/targets/builtin.hpp"
#include "fmala/version.hpp"

namespace fmala::cli {

namespace {

const char* kSampleFooter = R"(Examples:
  # The main job: a Bayesian MLP (8-50-1, ReLU) on the UCI concrete data, the six samplers of the paper
  fmala sample --model mlp --data data/concrete --chains 64 --warmup 1000 --draws 200 --thin 5 --out runs/concrete

  # Bayesian multinomial logistic regression (7,850 parameters) on 1,000 Fashion-MNIST images
  fmala sample --model logreg --data fashion-mnist --subset 1000 --sampler pc-line-fmala,mala --chains 16 --warmup 200 --draws 100

  # The MNIST-size CNN of the reference study (824,458 parameters) on 200 Fashion-MNIST images
  fmala sample --preset paper-mnist-cnn --data fashion-mnist --train-subset 200 --test-subset 1000 --sampler pc-line-fmala,mala --chains 4 --warmup 50 --draws 20

  # The 10-D funnel (11 parameters with v), two samplers, funnel KL in summary.json
  fmala sample --target funnel --dim 11 --sampler pc-line-fmala,mala --chains 1024 --draws 2000 --out runs/f

  # A correlated Gaussian with a fixed step size and per-chain draws thinned by 5
  fmala sample --target gaussian --dim 100 --rho 0.9 --sampler line-fmala --step-size 0.5 --thin 5

Outputs in --out DIR: summary.json (settings, acceptance, step size, R-hat, ESS,
timings, metrics, and per-parameter summaries up to 100 parameters),
draws-<sampler>.npy of shape (chains, draws, parameters), float64, and
draws-<sampler>.nc, an ArviZ InferenceData NetCDF4 file (--format chooses).)";

void add_choice(CLI::Option* option, std::vector<std::string> choices) {
  option->check(CLI::IsMember(std::move(choices)));
}

// Splits "a,b,,c" into {"a", "b", "", "c"}. CLI11's delimiter would drop the
// empty entries, which are mistakes worth reporting.
std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    parts.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) {
      return parts;
    }
    start = comma + 1;
  }
}

// Accepts decimal digits only, within 0 .. 2^64 − 1 (CLI11 would clamp
// out-of-range values and wrap negative ones).
const CLI::Validator kUnsigned64(
    [](std::string& text) -> std::string {
      if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
        return "must be a whole number from 0 to 18446744073709551615, got '" + text + "'";
      }
      errno = 0;
      std::strtoull(text.c_str(), nullptr, 10);
      if (errno == ERANGE) {
        return "must be at most 18446744073709551615, got '" + text + "'";
      }
      return "";
    },
    "UINT64");

// Whole numbers of at least `low`, with a message that names the bound
// (CLI11's PositiveNumber prints the range up to the largest double).
CLI::Validator whole_number_at_least(long long low) {
  return CLI::Validator(
      [low](std::string& text) -> std::string {
        long long value = 0;
        if (!CLI::detail::lexical_cast(text, value) || value < low ||
            value > std::numeric_limits<int>::max()) {
          return "must be a whole number from " + std::to_string(low) + " to " +
                 std::to_string(std::numeric_limits<int>::max()) + ", got '" + text + "'";
        }
        return "";
      },
      "INT>=" + std::to_string(low));
}

// Numbers above 0 (or at least 0), with a message that states the bound plainly
// (CLI11's PositiveNumber prints the range up to the largest double).
const CLI::Validator kPositiveNumber(
    [](std::string& text) -> std::string {
      double x = 0;
      if (!CLI::detail::lexical_cast(text, x) || !(x > 0) || !std::isfinite(x)) {
        return "must be a number above 0, got '" + text + "'";
      }
      return "";
    },
    "POSITIVE");

const CLI::Validator kNonNegativeWhole(
    [](std::string& text) -> std::string {
      long long x = 0;
      if (!CLI::detail::lexical_cast(text, x) || x < 0) {
        return "must be a whole number of at least 0, got '" + text + "'";
      }
      return "";
    },
    "INT>=0");

const CLI::Validator kOpenUnitInterval(
    [](std::string& text) -> std::string {
      double x = 0;
      if (!CLI::detail::lexical_cast(text, x) || !(x > 0 && x < 1)) {
        return "must lie strictly between 0 and 1, got '" + text + "'";
      }
      return "";
    },
    "(0,1)");

// Reads a memory size such as "8G", "512M", "1.5GiB" or "4000000000" (bytes).
// The suffixes K, M, G and T are powers of 1024, with an optional "B" or "iB".
double parse_memory_size(const std::string& text, const std::string& flag) {
  const auto bad = [&] {
    return make_error(flag, "'" + text + "' is not a memory size",
                      "Give a number of bytes with an optional K, M, G or T suffix, e.g. 8G");
  };
  if (text.empty() || !(std::isdigit(static_cast<unsigned char>(text[0])) || text[0] == '.') ||
      text.find_first_of("xX") != std::string::npos) {
    throw bad();
  }
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    throw bad();
  }
  std::string unit = text.substr(used);
  for (char& ch : unit) {
    ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  if (unit.size() > 1 && (unit.substr(1) == "B" || unit.substr(1) == "IB")) {
    unit = unit.substr(0, 1);
  }
  const std::string units = "KMGT";
  double scale = 1;
  if (unit == "B" || unit.empty()) {
    scale = 1;
  } else if (unit.size() == 1 && units.find(unit[0]) != std::string::npos) {
    scale = std::pow(1024.0, static_cast<double>(units.find(unit[0]) + 1));
  } else {
    throw bad();
  }
  if (!(value * scale >= 1) || !std::isfinite(value)) {
    throw make_error(flag, "'" + text + "' is below one byte", "Give a positive size, e.g. 8G");
  }
  return value * scale;
}

// Peak host bytes of one sampler's run on the CPU back end, the largest over
// the chosen samplers, which run one after another and each free their draws.
// The parts are the kept draws and log-density, the engine's (C, D) buffers,
// the model's per-thread workspace, and the data, which stay for the whole run.
struct MemoryEstimate {
  double draws = 0;
  double chains = 0;
  double workspace = 0;
  double data = 0;
  int threads = 1;
  double total() const { return draws + chains + workspace + data; }
};

MemoryEstimate estimate_memory(const SampleOptions& o, const Model& model,
                               const std::vector<RunSettings>& settings, double data_bytes) {
  MemoryEstimate best;
  const double c = o.chains;
  const double batch = o.chain_batch > 0 ? std::min(o.chain_batch, o.chains) : o.chains;
  const double d = model.dim();
  const int threads = o.threads > 0 ? o.threads : omp_get_max_threads();
  for (const RunSettings& s : settings) {
    MemoryEstimate e;
    if (s.stream.enabled) {
      // Monitored traces and the log-density, the running mean and m2, one
      // draw in transit and the last K draws of every chain.
      const double m = static_cast<double>(s.stream.monitor.size());
      e.draws = 8.0 * c * o.draws * (m + 1.0) + 8.0 * c * d * (3.0 + s.stream.keep_last);
    } else {
      e.draws = 8.0 * c * o.draws * (d + 1.0);
    }
    e.chains = 8.0 * batch * (d * matrix_buffer_count(s.options) + kScalarBuffers + kCounterBuffers);
    e.threads = std::min(threads, std::max(static_cast<int>(batch), 1));
    e.workspace = static_cast<double>(model.workspace_bytes(s.options.kind == SamplerKind::mala)) *
                  e.threads;
    e.data = data_bytes;
    if (e.total() > best.total()) {
      best = e;
    }
  }
  return best;
}

// A byte count in the largest binary unit that keeps it at least 1.
std::string gib(double bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (unit < 4 && bytes >= 1024) {
    bytes /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{:.0f} bytes", bytes) : fmt::format("{:.2f} {}", bytes, units[unit]);
}

// The memory a run may use: --max-memory when given, else 90% of physical
// memory (0 when unknown).
double memory_limit(const SampleOptions& o) {
  if (!o.was_given("--max-memory")) {
    const double pages = static_cast<double>(sysconf(_SC_PHYS_PAGES));
    const double page_size = static_cast<double>(sysconf(_SC_PAGE_SIZE));
    return pages > 0 && page_size > 0 ? 0.9 * pages * page_size : 0.0;
  }
  return parse_memory_size(o.max_memory, "--max-memory");
}

// Stops a run that would not fit: above --max-memory when given, else above
// 90% of the machine's physical memory.
void check_memory(const SampleOptions& o, const Model& model,
                  const std::vector<RunSettings>& settings, double data_bytes) {
  const MemoryEstimate e = estimate_memory(o, model, settings, data_bytes);
  const std::string kept =
      o.stream ? fmt::format("{} of monitored traces and running statistics", gib(e.draws))
               : fmt::format("{} of kept draws ({} chain{} × {} draw{} × {} parameters)", gib(e.draws), o.chains,
                             o.chains == 1 ? "" : "s", o.draws, o.draws == 1 ? "" : "s", model.dim());
  const std::string parts =
      fmt::format("{}, {} of chain state, {} of model workspace ({} thread{}) and {} of data", kept,
                  gib(e.chains), gib(e.workspace), e.threads, e.threads == 1 ? "" : "s", gib(e.data));
  const std::string fix = o.stream ? "Monitor fewer coordinates (--monitor), run fewer chains or lower --tile"
                                   : "Keep fewer draws (lower --draws), keep running statistics only "
                                     "(--stream), run fewer chains or lower --tile";
  if (o.was_given("--max-memory")) {
    const double limit = memory_limit(o);
    if (e.total() > limit) {
      throw make_error("--max-memory",
                       fmt::format("the run needs about {}, more than the limit of {}: {}",
                                   gib(e.total()), gib(limit), parts),
                       fix + ", or raise --max-memory");
    }
    return;
  }
  const double pages = static_cast<double>(sysconf(_SC_PHYS_PAGES));
  const double page_size = static_cast<double>(sysconf(_SC_PAGE_SIZE));
  if (pages <= 0 || page_size <= 0) {
    return;
  }
  const double physical = pages * page_size;
  if (e.total() > 0.9 * physical) {
    throw make_error("--draws/--chains",
                     fmt::format("the run needs about {}, more than 90% of this machine's {}: {}",
                                 gib(e.total()), gib(physical), parts),
                     fix);
  }
}

// The model settings of a --preset, filled into the options the user left
// unset. A preset fixes the architecture, so giving --hidden, --activation,
// --noise-sd or --layers with it is an error; --prior-sd overrides its prior.
SampleOptions apply_preset(const SampleOptions& given) {
  SampleOptions o = given;
  if (o.preset.empty()) {
    return o;
  }
  struct Preset {
    const char* name;
    const char* model;
    double prior_sd;
  };
  // Priors from the reference study: N(0, 0.1²) for the regression MLP,
  // N(0, 1) for the logistic regression, N(0, 10²) for the CIFAR-size CNN.
  // The study does not state the MNIST-size CNN's prior; N(0, 1) as for the
  // logistic regression on the same images.
  static const Preset kPresets[] = {{"paper-regression", "mlp", 0.1},
                                    {"paper-logreg", "logreg", 1.0},
                                    {"paper-mnist-cnn", "cnn", 1.0},
                                    {"paper-cifar-cnn", "cnn", 10.0}};
  const Preset* preset = nullptr;
  for (const Preset& p : kPresets) {
    if (o.preset == p.name) {
      preset = &p;
    }
  }
  if (preset == nullptr) {
    throw make_error("--preset", "unknown preset '" + o.preset + "'",
                     "Use paper-regression, paper-logreg, paper-mnist-cnn or paper-cifar-cnn");
  }
  if (!o.model.empty() && o.model != preset->model) {
    throw make_error("--preset " + o.preset,
                     "is a --model " + std::string(preset->model) + " preset, but --model " +
                         o.model + " was given",
                     "Drop --model or use --model " + std::string(preset->model));
  }
  for (const char* flag : {"--hidden", "--activation", "--noise-sd", "--layers", "--temper"}) {
    if (o.was_given(flag)) {
      throw make_error(flag, "conflicts with --preset " + o.preset + ", which fixes the model",
                       "Drop " + std::string(flag) + " or --preset");
    }
  }
  o.model = preset->model;
  if (!o.prior_sd) {
    o.prior_sd = preset->prior_sd;
  }
  if (o.preset == "paper-regression") {
    // MLP 1-100-100-100-100-100-1, relu, Gaussian likelihood with sd 0.025 on
    // the standardised targets, and the log posterior divided by N.
    o.hidden = {100, 100, 100, 100, 100};
    o.activation = "relu";
    o.noise_sd = 0.025;
    o.temper = true;
  } else if (o.model == "cnn") {
    o.layers = format_layers(network_preset(o.preset));
  }
  return o;
}

// Loads the classification data of --data: "random:HxWxC" for random images
// (--subset of them for training, default 1000, and --test-subset for the test
// split, default 0), otherwise the files load_classification_data reads.
std::shared_ptr<io::ClassificationData> load_images(const SampleOptions& o) {
  int h = 0, w = 0, c = 0;
  if (io::parse_random_images_spec(o.data, "--data", h, w, c)) {
    const size_t n_train = o.subset > 0 ? static_cast<size_t>(o.subset) : 1000;
    const size_t n_test = static_cast<size_t>(o.test_subset);
    const double bytes = 8.0 * h * w * c * static_cast<double>(n_train + n_test);
    const double limit = memory_limit(o);
    if (limit > 0 && bytes > limit) {
      throw make_error("--data " + o.data,
                       fmt::format("{} + {} random images of {}x{}x{} take {}, more than the {} "
                                   "the run may use",
                                   n_train, n_test, h, w, c, gib(bytes), gib(limit)),
                       "Use smaller images or fewer of them (--train-subset, --test-subset)");
    }
    return std::make_shared<io::ClassificationData>(
        io::random_images(h, w, c, 10, n_train, n_test, std::stoull(o.split_seed)));
  }
  if (o.was_given("--split-seed")) {
    throw make_error("--split-seed", "applies to --model mlp and to random:HxWxC images only",
                     "Drop --split-seed");
  }
  const io::Normalisation normalise =
      o.normalise == "none" ? io::Normalisation::none : io::Normalisation::standard;
  std::shared_ptr<io::ClassificationData> data;
  if (o.arrays && o.arrays->device_train) {
    const DataArrays::DeviceSplit& train = *o.arrays->device_train;
    data = std::make_shared<io::ClassificationData>(io::classification_data_from_device_arrays(
        train.x, train.y, o.arrays->test ? &*o.arrays->test : nullptr, static_cast<size_t>(o.subset), normalise,
        "arrays"));
  } else if (o.arrays) {
    if (!o.arrays->train) {
      throw make_error("data", "--model " + o.model + " needs training images and labels",
                       "Give the training features and class labels");
    }
    data = std::make_shared<io::ClassificationData>(io::classification_data_from_arrays(
        *o.arrays->train, o.arrays->test ? &*o.arrays->test : nullptr, static_cast<size_t>(o.subset), normalise,
        "arrays"));
  } else {
    data = std::make_shared<io::ClassificationData>(
        io::load_classification_data(o.data, static_cast<size_t>(o.subset), normalise));
  }
  if (o.test_subset > 0 && static_cast<size_t>(o.test_subset) > data->n_test()) {
    throw make_error("--test-subset",
                     fmt::format("{} exceeds the {} test images of {}", o.test_subset,
                                 data->n_test(), data->source),
                     fmt::format("Give at most {}, or 0 for all", data->n_test()));
  }
  if (o.test_subset > 0 && static_cast<size_t>(o.test_subset) < data->n_test()) {
    const size_t n = static_cast<size_t>(o.test_subset);
    data->test_x.resize(n * data->n_features);
    data->test_y.resize(n);
  }
  return data;
}

// Checks that the data fit the preset: on other shapes its layers would build
// a different network from the reference study's, so that is an error.
void check_preset_data(const SampleOptions& o, const io::ClassificationData& data) {
  struct Shape {
    const char* preset;
    int height, width, channels;
  };
  static const Shape kShapes[] = {{"paper-logreg", 28, 28, 1},
                                  {"paper-mnist-cnn", 28, 28, 1},
                                  {"paper-cifar-cnn", 32, 32, 3}};
  for (const Shape& shape : kShapes) {
    if (o.preset != shape.preset) {
      continue;
    }
    const bool flat_match = o.preset == "paper-logreg" &&
                            data.n_features == static_cast<size_t>(shape.height) * shape.width;
    if ((data.height != shape.height || data.width != shape.width ||
         data.channels != shape.channels) && !flat_match) {
      throw make_error("--preset " + o.preset,
                       fmt::format("is defined for {}x{}x{} images, but {} has {}x{}x{}",
                                   shape.height, shape.width, shape.channels, data.source,
                                   data.height, data.width, data.channels),
                       "Use --model cnn --layers (or --model logreg) for other image shapes");
    }
    if (data.n_classes != 10) {
      throw make_error("--preset " + o.preset,
                       fmt::format("is defined for 10 classes, but {} has {}", data.source,
                                   data.n_classes),
                       "Use --model cnn --layers (or --model logreg) for other class counts");
    }
  }
}

// Warns when the class count came from the largest label (NPY and table
// data) and some class below it has no training image, since one stray label
// can add many classes. IDX data have a fixed count of 10 and are skipped.
void warn_about_empty_classes(const io::ClassificationData& data) {
  int largest = -1;
  for (const std::vector<int>* labels : {&data.train_y, &data.test_y}) {
    for (const int y : *labels) {
      largest = std::max(largest, y);
    }
  }
  if (data.device_train) {
    // The labels on the GPU were counted there, when they were few enough;
    // the largest among the rows kept is the last class counted.
    const std::vector<size_t>& counted = data.device_train->class_counts;
    if (counted.empty()) {
      return;
    }
    for (size_t k = counted.size(); k-- > 0;) {
      if (counted[k] > 0) {
        largest = std::max(largest, static_cast<int>(k));
        break;
      }
    }
  }
  if (largest + 1 != data.n_classes) {
    return;
  }
  std::vector<size_t> counts(static_cast<size_t>(std::max(data.n_classes, 0)), 0);
  if (data.device_train) {
    std::copy(data.device_train->class_counts.begin(), data.device_train->class_counts.end(), counts.begin());
  }
  for (const int y : data.train_y) {
    if (y >= 0 && y < data.n_classes) {
      ++counts[static_cast<size_t>(y)];
    }
  }
  const size_t empty = static_cast<size_t>(std::count(counts.begin(), counts.end(), size_t{0}));
  if (empty > 0) {
    std::fprintf(stderr,
                 "fmala: warning: %s: %zu of the %d classes have no training image. Check the "
                 "labels: the class count is 10 for IDX files, 1 + the largest label otherwise\n",
                 data.source.c_str(), empty, data.n_classes);
  }
}

std::unique_ptr<Model> build_model(const SampleOptions& o, std::string* data_note,
                                   double* data_bytes) {
  if (!o.target.empty() && !o.model.empty()) {
    throw make_error("--target/--model", "give one of them, not both");
  }
  if (o.arrays && o.arrays->device_train && o.backend != "cuda") {
    throw make_error(o.arrays->device_train->x.name + " on the GPU", "the run uses --backend cpu",
                     "Pass backend='cuda', or copy the arrays to the host");
  }
  if (!o.target.empty()) {
    for (const char* flag : {"--data", "--subset", "--test-subset", "--normalise", "--ece-bins",
                             "--layers", "--split-index", "--split-seed", "--hidden", "--activation",
                             "--prior-sd", "--noise-sd", "--temper", "--tile", "--predictive-draws"}) {
      if (o.was_given(flag)) {
        throw make_error(flag, "applies to the models on data, not to --target " + o.target,
                         "Drop " + std::string(flag) + " or use --model");
      }
    }
  }
  if (o.target == "gaussian") {
    return make_gaussian_model(o.dim == SampleOptions::kDefaultDim ? 10 : o.dim, o.rho, o.scales);
  }
  if (o.target == "funnel") {
    return make_funnel_model(o.dim == SampleOptions::kDefaultDim ? 11 : o.dim);
  }
  if (o.target == "rosenbrock") {
    if (o.dim != SampleOptions::kDefaultDim && o.dim != 2) {
      throw make_error("--dim", "the rosenbrock target has 2 dimensions, got " + std::to_string(o.dim),
                       "Drop --dim or give --dim 2");
    }
    return make_rosenbrock_model();
  }
  if (!o.data.empty() && o.model.empty()) {
    throw make_error("--data", "applies to --model mlp, logreg and cnn only",
                     "Drop --data or give --model");
  }
  for (const char* flag : {"--dim", "--rho", "--scales"}) {
    if (o.was_given(flag)) {
      throw make_error(flag, "applies to --target gaussian and funnel, not to --model " + o.model,
                       "Drop " + std::string(flag));
    }
  }
  const bool images = o.model == "logreg" || o.model == "cnn";
  if (images) {
    for (const char* flag : {"--hidden", "--activation", "--noise-sd", "--temper"}) {
      if (o.was_given(flag)) {
        throw make_error(flag, "applies to --model mlp only, not to --model " + o.model,
                         "Drop " + std::string(flag));
      }
    }
  }
  for (const char* flag : {"--subset", "--test-subset", "--normalise", "--ece-bins"}) {
    if (o.was_given(flag) && !images) {
      throw make_error(flag, "applies to --model logreg and cnn only",
                       "Drop " + std::string(flag) + " or use --model logreg or cnn");
    }
  }
  if (o.was_given("--split-index") && o.model != "mlp") {
    throw make_error("--split-index", "applies to --model mlp only",
                     "Drop --split-index or use --model mlp");
  }
  if (o.was_given("--layers") && o.model != "cnn") {
    throw make_error("--layers", "applies to --model cnn only", "Drop --layers or use --model cnn");
  }
  const double prior_sd = o.prior_sd.value_or(1.0);
  if (images) {
    if (o.data.empty() && !o.arrays) {
      throw make_error("--data", "is required with --model " + o.model,
                       "Give --data fashion-mnist, random:HxWxC, or a directory of IDX or NPY "
                       "files or a table");
    }
    auto data = load_images(o);
    check_preset_data(o, *data);
    *data_bytes = 8.0 * static_cast<double>(data->train_x.size() + data->test_x.size());
    // A table (rows of features) is stored as 1 × F × 1 images.
    const bool table = data->height == 1 && data->channels == 1;
    *data_note = table ? fmt::format("{}: {} training and {} test rows of {} features, {} classes", data->source,
                                     data->n_train(), data->n_test(), data->width, data->n_classes)
                       : fmt::format("{}: {} training and {} test images of {}x{}x{}, {} classes",
                                     data->source, data->n_train(), data->n_test(), data->height,
                                     data->width, data->channels, data->n_classes);
    if (o.model == "logreg") {
      LogisticRegressionConfig config;
      config.prior_sd = prior_sd;
      config.tile = o.tile;
      config.predictive_draws_per_chain = o.predictive_draws;
      config.ece_bins = o.ece_bins;
      auto model = std::make_unique<LogisticRegression>(data, config);
      warn_about_empty_classes(*data);
      return model;
    }
    if (o.layers.empty()) {
      throw make_error("--layers", "is required with --model cnn",
                       "Give a layer list such as conv:32,relu,avgpool,flatten,dense:10, or "
                       "--preset paper-mnist-cnn");
    }
    NetworkConfig config;
    config.layers = parse_layers(o.layers, "--layers");
    config.prior_sd = prior_sd;
    config.tile = o.was_given("--tile") ? o.tile : NetworkConfig{}.tile;
    config.predictive_draws_per_chain = o.predictive_draws;
    config.ece_bins = o.ece_bins;
    auto model = std::make_unique<NetworkClassifier>(data, config);
    warn_about_empty_classes(*data);
    return model;
  }
  if (o.model == "mlp") {
    if (o.data.empty() && !(o.arrays && (o.arrays->table || o.arrays->device_train))) {
      throw make_error("--data", "is required with --model mlp",
                       "Give a directory holding data.txt, e.g. --data data/concrete");
    }
    if (o.split_index && o.was_given("--split-seed")) {
      throw make_error("--split-index", "conflicts with --split-seed",
                       "Give --split-index to use the split files, or --split-seed for a seeded split");
    }
    std::shared_ptr<io::RegressionData> data;
    if (o.arrays && o.arrays->device_train) {
      const DataArrays::DeviceSplit& train = *o.arrays->device_train;
      if (o.split_index) {
        throw make_error("--split-index", "applies to data directories with split files, not to arrays",
                         "Drop --split-index, or give the data as a directory");
      }
      data = std::make_shared<io::RegressionData>(io::regression_data_from_device_arrays(
          train.x, train.y, std::stoull(o.split_seed), "the arrays x, y"));
    } else if (o.arrays && o.arrays->table) {
      if (o.split_index) {
        throw make_error("--split-index", "applies to data directories with split files, not to arrays",
                         "Drop --split-index, or give the data as a directory");
      }
      data = std::make_shared<io::RegressionData>(
          io::regression_data_from_table(*o.arrays->table, std::stoull(o.split_seed)));
    } else {
      data = std::make_shared<io::RegressionData>(
          o.split_index ? io::load_regression_data_split(o.data, *o.split_index)
                        : io::load_regression_data(o.data, std::stoull(o.split_seed)));
    }
    *data_bytes = 8.0 * static_cast<double>(data->train_x.size() + data->test_x.size() +
                                            data->train_y.size() + data->test_y.size());
    if (o.preset == "paper-regression" && data->n_features != 1) {
      throw make_error("--preset paper-regression",
                       fmt::format("is defined for 1 input feature, but {} has {}", data->source,
                                   data->n_features),
                       "Use --model mlp --hidden for other data");
    }
    MlpConfig config;
    config.hidden = o.hidden;
    config.activation = o.activation == "tanh" ? MlpConfig::Activation::tanh : MlpConfig::Activation::relu;
    config.prior_sd = prior_sd;
    if (o.noise_sd > 0) {
      config.learn_noise = false;
      config.noise_sd = o.noise_sd;
    }
    config.temper = o.temper;
    config.tile = o.tile;
    config.predictive_draws_per_chain = o.predictive_draws;
    *data_note = fmt::format("{}: {} training and {} test rows, {} features ({})", data->source,
                             data->n_train(), data->n_test(), data->n_features,
                             o.split_index ? "split files " + std::to_string(*o.split_index)
                                           : "split seed " + o.split_seed);
    return std::make_unique<MlpRegression>(data, config);
  }
  throw make_error("--target", "missing",
                   "Give --target gaussian|funnel|rosenbrock, --model mlp|logreg|cnn or --preset");
}

// The streaming settings of --stream and --monitor. By default the run
// monitors the coordinates the model's metrics read, then ten evenly spaced
// ones, and keeps the last --predictive-draws draws when the metrics need
// whole draws.
StreamSettings build_stream(const SampleOptions& o, const Model& model) {
  StreamSettings stream;
  if (!o.stream) {
    if (o.was_given("--monitor")) {
      throw make_error("--monitor", "applies to --stream runs only", "Add --stream or drop --monitor");
    }
    return stream;
  }
  stream.enabled = true;
  const std::optional<std::vector<int>> reads = model.metric_coordinates();
  if (o.was_given("--monitor")) {
    stream.monitor = o.monitor;
  } else {
    if (reads) {
      stream.monitor = *reads;
    }
    const int dim = model.dim();
    const int evenly = std::min(dim, 10);
    for (int i = 0; i < evenly; ++i) {
      const int j = evenly == 1 ? 0 : static_cast<int>(std::lround(static_cast<double>(i) * (dim - 1) / (evenly - 1)));
      if (std::find(stream.monitor.begin(), stream.monitor.end(), j) == stream.monitor.end()) {
        stream.monitor.push_back(j);
      }
    }
  }
  stream.keep_last = reads ? 0 : std::min(o.predictive_draws, o.draws);
  return stream;
}

std::vector<RunSettings> build_settings(const SampleOptions& o, int dim, const StreamSettings& stream) {
  std::vector<std::string> names;
  if (o.sampler_list.has_value()) {
    names = split_commas(*o.sampler_list);
  }
  if (names.empty()) {
    for (SamplerKind kind : kDefaultSamplers) {
      names.emplace_back(sampler_name(kind));
    }
  }
  // An option that none of the chosen samplers has is a mistake worth reporting;
  // with several samplers it applies to those that have it.
  auto require_some = [&](bool given, const char* flag, std::initializer_list<SamplerKind> kinds) {
    if (!given) {
      return;
    }
    for (const std::string& name : names) {
      const auto kind = parse_sampler(name);
      for (SamplerKind k : kinds) {
        if (kind == k) {
          return;
        }
      }
    }
    std::string list;
    for (SamplerKind k : kinds) {
      list += (list.empty() ? "" : " or ") + std::string(sampler_name(k));
    }
    throw make_error(flag, "applies to " + list + ", and none of them is among --sampler",
                     "Add one of them to --sampler or drop the flag");
  };
  require_some(o.sqrt_dim, "--sqrt-dim", {SamplerKind::fmala, SamplerKind::line_fmala});
  require_some(o.aligned, "--aligned", {SamplerKind::fmala, SamplerKind::pc_fmala});
  require_some(o.persistent, "--persistent", {SamplerKind::fmala, SamplerKind::pc_fmala});
  require_some(o.uncached, "--uncached", {SamplerKind::mala});
  require_some(o.pc_form == "reference", "--pc-form", {SamplerKind::pc_fmala});
  require_some(o.curvature_tangents != 1, "--curvature-tangents",
               {SamplerKind::pc_fmala, SamplerKind::pc_line_fmala});
  require_some(o.leapfrog_steps.has_value(), "--leapfrog-steps", {SamplerKind::line_hmc});
  require_some(o.jitter.has_value(), "--jitter", {SamplerKind::line_hmc});

  std::vector<RunSettings> out;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    if (name.empty()) {
      throw make_error("--sampler", "contains an empty name", "Separate sampler names by single commas");
    }
    if (std::find(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(i), name) !=
        names.begin() + static_cast<std::ptrdiff_t>(i)) {
      throw make_error("--sampler", "names '" + name + "' twice", "List each sampler once");
    }
    const auto kind = parse_sampler(name);
    if (!kind) {
      throw make_error("--sampler", "unknown sampler '" + name + "'",
                       "Use rwmh, mala, fmala, line-fmala, pc-fmala, pc-line-fmala or line-hmc");
    }
    RunSettings s;
    s.options.kind = *kind;
    // Sampler-specific options apply to the samplers they exist for.
    s.options.sqrt_dim = o.sqrt_dim && (*kind == SamplerKind::fmala || *kind == SamplerKind::line_fmala);
    s.options.aligned = o.aligned && (*kind == SamplerKind::fmala || *kind == SamplerKind::pc_fmala);
    s.options.persistent = o.persistent && (*kind == SamplerKind::fmala || *kind == SamplerKind::pc_fmala);
    s.options.uncached = o.uncached && *kind == SamplerKind::mala;
    s.options.pc_form = o.pc_form == "reference" ? PcForm::reference : PcForm::paper;
    s.options.curvature_floor = o.curvature_floor;
    if (is_preconditioned(*kind)) {
      s.options.curvature_tangents = o.curvature_tangents;
    }
    if (*kind == SamplerKind::line_hmc) {
      s.options.leapfrog_steps = o.leapfrog_steps.value_or(s.options.leapfrog_steps);
      s.options.jitter = static_cast<Real>(o.jitter.value_or(0.0));
    }
    s.chains = o.chains;
    s.warmup = o.warmup;
    s.draws = o.draws;
    s.thin = o.thin;
    s.seed = std::stoull(o.seed);
    if (o.step_size != "auto") {
      try {
        size_t used = 0;
        const double eta = std::stod(o.step_size, &used);
        if (used != o.step_size.size()) {
          throw std::invalid_argument("trailing characters");
        }
        s.step_size = eta;
      } catch (const std::exception&) {
        throw make_error("--step-size", "invalid value '" + o.step_size + "'",
                         "Give 'auto' or a positive number such as 0.1");
      }
    }
    if (o.initial_step > 0) {
      s.initial_step = o.initial_step;
    }
    if (o.target_accept != 0) {
      s.target_accept = o.target_accept;
    }
    s.adapt_per_chain = o.adapt_per_chain;
    s.backend = o.backend == "cuda" ? Backend::cuda : Backend::cpu;
    s.threads = o.threads;
    s.stream = stream;
    s.superchains = o.superchains;
    validate(s, dim);
    out.push_back(s);
  }
  return out;
}

class ProgressBar {
 public:
  ProgressBar(std::string label, bool enabled) : label_(std::move(label)), enabled_(enabled) {
    start_ = std::chrono::steady_clock::now();
  }
  void update(int64_t done, int64_t total) {
    if (!enabled_ || total <= 0) {
      return;
    }
    if (first_ < 0) {
      // A resumed run starts part way; the time left comes from this segment's pace.
      first_ = done;
      start_ = std::chrono::steady_clock::now();
    }
    const double fraction = static_cast<double>(done) / static_cast<double>(total);
    const int width = 30;
    const int filled = static_cast<int>(fraction * width);
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double eta = done > first_ ? elapsed * (total - done) / (done - first_) : 0.0;
    std::fprintf(stderr, "\r%-14s [%s%s] %3d%%  %lld/%lld steps  %.0fs left ", label_.c_str(),
                 std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
                 static_cast<int>(100 * fraction), static_cast<long long>(done),
                 static_cast<long long>(total), eta);
    if (done == total) {
      std::fputc('\n', stderr);
    }
    std::fflush(stderr);
  }

 private:
  std::string label_;
  bool enabled_;
  int64_t first_ = -1;  // the first count seen
  std::chrono::steady_clock::time_point start_;
};

std::string format_number(double x, const char* spec) {
  if (std::isnan(x)) {
    return "nan";
  }
  return fmt::format(fmt::runtime(spec), x);
}

void print_table(const std::vector<SamplerSummary>& summaries) {
  std::vector<std::string> metric_names;
  for (const SamplerSummary& s : summaries) {
    for (const auto& [name, value] : s.metrics) {
      if (std::find(metric_names.begin(), metric_names.end(), name) == metric_names.end()) {
        metric_names.push_back(name);
      }
    }
  }
  std::string header = fmt::format("{:<14} {:>7} {:>10} {:>7} {:>9} {:>9} {:>9} {:>10}", "sampler",
                                   "accept", "step", "R-hat", "ESS bulk", "ESS tail", "ESS/s", "s/step");
  for (const std::string& m : metric_names) {
    header += fmt::format(" {:>10}", m);
  }
  std::printf("\n%s\n%s\n", header.c_str(), std::string(header.size(), '-').c_str());
  for (const SamplerSummary& s : summaries) {
    const SamplerRun& r = *s.run;
    double step = 0;
    for (Real eta : r.step_size) {
      step += eta;
    }
    step /= std::max<size_t>(1, r.step_size.size());
    std::string line = fmt::format(
        "{:<14} {:>7} {:>10} {:>7} {:>9} {:>9} {:>9} {:>10}", s.sampler,
        format_number(r.acceptance_rate, "{:.3f}"), format_number(step, "{:.3g}"),
        format_number(s.rhat_max, "{:.3f}"), format_number(s.ess_bulk_min, "{:.0f}"),
        format_number(s.ess_tail_min, "{:.0f}"), format_number(s.ess_per_second, "{:.1f}"),
        format_number(s.seconds_per_step, "{:.2e}"));
    for (const std::string& m : metric_names) {
      const auto it = s.metrics.find(m);
      line += fmt::format(" {:>10}", it == s.metrics.end() ? "-" : format_number(it->second, "{:.4g}"));
    }
    std::printf("%s\n", line.c_str());
  }
  std::printf("\nR-hat: max over the log-density and the monitored parameters; ESS: min over them.\n");
}

void prepare_output_directory(const std::string& out) {
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec || !std::filesystem::is_directory(out)) {
    throw make_error("--out " + out, "cannot create the output directory (" + ec.message() + ")",
                     "Choose a writable path");
  }
  const std::string probe = (std::filesystem::path(out) / ".fmala-write-test").string();
  io::write_file_atomic(probe, "");
  std::filesystem::remove(probe, ec);
}

struct DrawFormats {
  bool npy = false;
  bool netcdf = false;
};

// Parses --format. With --no-draws no draw file is written, whatever --format lists.
DrawFormats parse_formats(const SampleOptions& o) {
  DrawFormats formats;
  for (const std::string& name : split_commas(o.format)) {
    bool* flag = nullptr;
    if (name == "npy") {
      flag = &formats.npy;
    } else if (name == "netcdf") {
      flag = &formats.netcdf;
    } else {
      throw make_error("--format", "unknown draw file format '" + name + "' in '" + o.format + "'",
                       "Give npy, netcdf or npy,netcdf");
    }
    if (*flag) {
      throw make_error("--format", "names '" + name + "' twice", "List each format once");
    }
    *flag = true;
  }
  if (o.no_draws) {
    return DrawFormats{};
  }
  return formats;
}

// Draw files of samplers that this run did not write stay in a reused output
// directory. They are left alone, but named in a warning, so that they are not
// mistaken for this run's files.
void warn_about_other_draws(RunLog& log, const std::string& out, const std::vector<SamplerSummary>& summaries,
                            const DrawFormats& formats) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(out, ec)) {
    const std::string name = entry.path().filename().string();
    const std::string extension = entry.path().extension().string();
    if (name.rfind("draws-", 0) != 0 || (extension != ".npy" && extension != ".nc")) {
      continue;
    }
    const bool format_written = extension == ".npy" ? formats.npy : formats.netcdf;
    bool written = false;
    for (const SamplerSummary& s : summaries) {
      written = written || (format_written && name == "draws-" + s.sampler + extension);
    }
    if (!written) {
      log.warning("other_draws", entry.path().string() + " is from an earlier run, not this one",
                  {{"file", entry.path().string()}});
    }
  }
}

// The signal that asked the run to stop, 0 while none has.
volatile std::sig_atomic_t g_stop_signal = 0;

// In a job of several processes, rank 0's note for the terminal when a signal
// arrives. mpirun may end the processes before they save their state (a
// second after it passes SIGINT or SIGTERM on, at once when a process died),
// so the note gives the command that continues from the last checkpoint.
char g_stop_note[1024];
size_t g_stop_note_length = 0;

extern "C" void request_stop(int signal_number) {
  g_stop_signal = signal_number;
  if (g_stop_note_length > 0) {
    const ssize_t written = write(STDERR_FILENO, g_stop_note, g_stop_note_length);
    static_cast<void>(written);
  }
}

// While alive, SIGINT and SIGTERM ask the run to stop after the current
// transition instead of ending the program. The handler is reset after the
// first signal (SA_RESETHAND), so a second one ends the program at once.
class StopOnSignals {
 public:
  explicit StopOnSignals(bool enabled) : enabled_(enabled) {
    if (!enabled_) {
      return;
    }
    g_stop_signal = 0;
    struct sigaction action {};
    action.sa_handler = request_stop;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART | SA_RESETHAND;
    sigaction(SIGINT, &action, &previous_int_);
    sigaction(SIGTERM, &action, &previous_term_);
    // mpirun passes SIGUSR1 on to every process of the job, while it ends
    // the processes soon after passing SIGINT or SIGTERM on.
    sigaction(SIGUSR1, &action, &previous_usr1_);
  }
  ~StopOnSignals() {
    if (enabled_) {
      sigaction(SIGINT, &previous_int_, nullptr);
      sigaction(SIGTERM, &previous_term_, nullptr);
      sigaction(SIGUSR1, &previous_usr1_, nullptr);
    }
  }
  StopOnSignals(const StopOnSignals&) = delete;
  StopOnSignals& operator=(const StopOnSignals&) = delete;

 private:
  bool enabled_;
  struct sigaction previous_int_ {};
  struct sigaction previous_term_ {};
  struct sigaction previous_usr1_ {};
};

// checkpoint/command: what `fmala resume` needs to rebuild the run, as
// NUL-terminated fields, so any bytes of a path survive: the format tag, the
// working directory, the command line as summary.json records it, then the
// arguments after `sample`.
constexpr const char* kCommandFileTag = "fmala-command 1";

std::filesystem::path checkpoint_directory(const std::string& out) {
  return std::filesystem::path(out) / "checkpoint";
}

void write_command_file(const std::filesystem::path& directory, const Invocation& invocation) {
  std::string bytes;
  const auto field = [&bytes](const std::string& text) {
    bytes += text;
    bytes.push_back('\0');
  };
  field(kCommandFileTag);
  field(std::filesystem::current_path().string());
  field(invocation.command_line);
  for (const std::string& argument : invocation.arguments) {
    field(argument);
  }
  io::write_file_atomic((directory / "command").string(), bytes);
}

const char* signal_name(int signal_number) {
  if (signal_number == SIGINT) {
    return "SIGINT";
  }
  if (signal_number == SIGTERM) {
    return "SIGTERM";
  }
  if (signal_number == SIGUSR1) {
    return "SIGUSR1";
  }
  return "a signal";
}

// Reports a run stopped by a signal and returns the exit status 128 + signal,
// as a shell reports a program the signal ended.
int report_stop(RunLog& log, const std::string& out, const std::string& sampler, const std::string& where,
                const Invocation& invocation) {
  SampleResults* results = invocation.results;
  const int signal_number = static_cast<int>(g_stop_signal);
  const Shard& shard = current_shard();
  if (shard.rank() != 0) {
    return 128 + signal_number;
  }
  if (out.empty()) {
    // Stopped without checkpoints: nothing to continue from.
    const std::string message = std::string("stopped by ") + signal_name(signal_number) + " " + where +
                                "; without --out the run keeps no checkpoint and cannot be continued";
    std::fprintf(stderr, "\n");
    log.warning("stopped", message, {{"signal", signal_name(signal_number)}, {"sampler", sampler}});
    if (results) {
      results->stop_message = message;
    }
    return 128 + signal_number;
  }
  const std::string resume =
      (shard.several() ? fmt::format("mpirun -np {} ", shard.size()) : std::string()) +
      (invocation.resume_command ? invocation.resume_command(out) : "fmala resume " + out);
  const std::string message = std::string("stopped by ") + signal_name(signal_number) + " " + where +
                              "; the state is saved in " + checkpoint_directory(out).string() +
                              ". Continue the run with: " + resume;
  std::fprintf(stderr, "\n");
  log.warning("stopped", message, {{"signal", signal_name(signal_number)}, {"sampler", sampler}, {"resume", resume}});
  if (results) {
    results->stop_message = message;
  }
  return 128 + signal_number;
}

// The kind of in-memory data of a run, as checkpoint/arrays records it:
// "train", "train,test" or "table"; empty for data read from files.
std::string array_kind(const SampleOptions& o) {
  if (!o.arrays) {
    return "";
  }
  // Regression arrays on a GPU are the table of a run resumed from host arrays.
  if (o.arrays->table || (o.arrays->device_train && o.model == "mlp")) {
    return "table";
  }
  return o.arrays->test ? "train,test" : "train";
}

// Checks that a resumed run gets data of the kind it started with: arrays
// are not in the command file, so a caller in the same process passes them
// again.
void check_resumed_arrays(const SampleOptions& o, const std::filesystem::path& file) {
  std::string started;
  if (std::filesystem::exists(file)) {
    std::ifstream in(file);
    std::getline(in, started);
  }
  const std::string now = array_kind(o);
  if (started == now) {
    return;
  }
  const auto arguments = [](const std::string& kind) {
    if (kind == "table") {
      return std::string("model='mlp', train=(x, y)");
    }
    return kind == "train" ? std::string("train=(x, y)") : std::string("train=(x, y), test=(x, y)");
  };
  if (started.empty()) {
    throw make_error(o.out, "its run read its data from files, but arrays were given to resume it",
                     "Resume it without arrays");
  }
  throw make_error(o.out,
                   "its run's data were arrays given from Python (" + arguments(started) + "), " +
                       (now.empty() ? std::string("but none were given now")
                                    : "but now " + arguments(now) + " were given"),
                   "Pass the same arrays again: fmala.resume('" + o.out + "', " + arguments(started) + ")");
}

// A job of several processes needs a chain for each, and every process must
// run its slice in the same number of --chain-batch batches, because they
// meet once per transition.
void check_shards(const SampleOptions& o, const Shard& shard) {
  if (o.chains < shard.size()) {
    throw make_error("--chains", fmt::format("{} chains cannot be spread over the job's {} processes", o.chains,
                                             shard.size()),
                     fmt::format("Give at least {} chains, or start fewer processes", shard.size()));
  }
  if (o.chain_batch > 0) {
    const auto batches = [&](int rank) {
      const int count = shard.slice(o.chains, rank).count;
      const int batch = std::min(o.chain_batch, count);
      return (count + batch - 1) / batch;
    };
    if (batches(0) != batches(shard.size() - 1)) {
      throw make_error("--chain-batch",
                       fmt::format("the {} processes hold {} or {} of the {} chains, which split into different "
                                   "numbers of batches of {}",
                                   shard.size(), shard.slice(o.chains, shard.size() - 1).count,
                                   shard.slice(o.chains, 0).count, o.chains, o.chain_batch),
                       "Choose --chain-batch so that both split into the same number of batches, or a chain "
                       "count that the processes share evenly");
    }
  }
}

// The number of processes that the run in checkpoint/ was started with.
int read_process_count(const std::filesystem::path& file) {
  if (!std::filesystem::exists(file)) {
    return 1;
  }
  std::ifstream in(file);
  int count = 0;
  if (!(in >> count) || count < 1) {
    throw make_error(file.string(), "does not contain a process count",
                     "Write the number of processes the run was started with into it");
  }
  return count;
}

// True on every process when a stop signal reached any of them; then every
// process takes the same signal number.
bool agree_on_stop(const Shard& shard) {
  const int64_t agreed = shard.max(static_cast<int64_t>(g_stop_signal));
  g_stop_signal = static_cast<std::sig_atomic_t>(agreed);
  return agreed != 0;
}

// Picks the checkpoint that every process of the job has: the latest
// transition saved by all of them, from each one's latest or previous file.
// Returns false when they must start the sampler from the beginning.
bool resume_together(const Shard& shard, const std::string& latest_file, const std::string& previous_file,
                     const RunSettings& settings, int dim, RunCheckpoint* out) {
  std::optional<RunCheckpoint> latest;
  std::optional<RunCheckpoint> previous;
  if (std::filesystem::exists(latest_file)) {
    latest = io::read_checkpoint(latest_file, settings, dim);
  }
  if (std::filesystem::exists(previous_file)) {
    previous = io::read_checkpoint(previous_file, settings, dim);
  }
  int64_t mine = 0;
  if (latest) {
    mine = latest->done;
  } else if (previous) {
    mine = previous->done;
  }
  const int64_t agreed = shard.min(mine);
  if (agreed == 0) {
    return false;
  }
  if (latest && latest->done == agreed) {
    *out = std::move(*latest);
  } else if (previous && previous->done == agreed) {
    *out = std::move(*previous);
  } else {
    throw make_error(latest_file, fmt::format("contains no state after transition {}, the last one that every "
                                              "process of the job saved",
                                              agreed),
                     "Start the run again");
  }
  return true;
}

// Warnings about one sampler's results: convergence, effective sample size,
// acceptance, non-finite proposals and curvature floors. The log file gets
// one event per problem; the terminal one line per sampler.
void warn_about_results(RunLog& log, const SamplerSummary& summary, const SamplerRun& run) {
  const std::string& name = summary.sampler;
  const RunSettings& s = run.settings;
  std::vector<std::string> problems;
  std::vector<std::string> fixes;
  // The terminal line lists each fix once. `short_fix`, when given, replaces
  // `fix` there because an earlier fix already covers part of it.
  const auto problem = [&](const std::string& event, const std::string& text, const std::string& fix,
                           nlohmann::json fields, const std::string& short_fix = "") {
    fields["sampler"] = name;
    log.file_warning(event, name + ": " + text + ". " + fix, std::move(fields));
    problems.push_back(text);
    const std::string& terminal_fix = short_fix.empty() ? fix : short_fix;
    if (std::find(fixes.begin(), fixes.end(), terminal_fix) == fixes.end()) {
      fixes.push_back(terminal_fix);
    }
  };
  const std::string longer = "Run longer (--warmup, --draws) or more chains";
  if (s.draws < 4) {
    problem("few_draws", fmt::format("R-hat and ESS are NaN with {} draw{} per chain (fewer than 4)", s.draws,
                                        s.draws == 1 ? "" : "s"),
            "Keep more draws (--draws)", {{"draws", s.draws}});
  }
  if (s.chains < 2) {
    problem("one_chain", "R-hat needs at least 2 chains and is NaN with one",
            "Run more chains (--chains) to check convergence", {{"chains", s.chains}});
  }
  if (s.draws >= 4 && s.chains >= 2 && summary.rhat_max > 1.01) {
    problem("rhat", fmt::format("R-hat {:.3g} > 1.01, the chains disagree", summary.rhat_max), longer,
            {{"rhat_max", summary.rhat_max}});
  }
  if (s.superchains > 0 && !(summary.nested_rhat_max <= 1.01)) {
    problem("nested_rhat",
            std::isnan(summary.nested_rhat_max)
                ? std::string("nested R-hat is undefined (constant or NaN draws)")
                : fmt::format("nested R-hat {:.3g} > 1.01, the superchains disagree", summary.nested_rhat_max),
            "Lengthen --warmup so the chains forget their starts, or run more chains per superchain",
            {{"nested_rhat_max", summary.nested_rhat_max}});
  }
  if (s.draws >= 4 && summary.ess_bulk_min < 400) {
    problem("low_ess", fmt::format("bulk ESS {:.3g} < 400", summary.ess_bulk_min), longer,
            {{"ess_bulk_min", summary.ess_bulk_min}});
  }
  if (!s.step_size && std::abs(run.accept_prob - run.target_accept) > 0.1) {
    // Above the target, the adaptation has not yet grown the step enough:
    // a lower target would not help. Below it, the sampler may not reach the
    // target at any step on this posterior.
    const bool above = run.accept_prob > run.target_accept;
    const bool longer_given = std::find(fixes.begin(), fixes.end(), longer) != fixes.end();
    problem("acceptance",
            fmt::format("mean acceptance probability {:.3f}, target {:.3f}", run.accept_prob, run.target_accept),
            above ? "Lengthen --warmup so that the step-size adaptation settles"
                  : "Lengthen --warmup, or set --target-accept to what this sampler reaches",
            {{"accept_prob", run.accept_prob}, {"target_accept", run.target_accept}},
            longer_given ? (above ? longer : "A --target-accept near what this sampler reaches may also help")
                         : "");
  }
  const double transitions =
      (static_cast<double>(s.warmup) + static_cast<double>(s.draws) * s.thin) * s.chains;
  if (run.nonfinite_rejections > 0.01 * transitions) {
    problem("nonfinite",
            fmt::format("{} proposals ({:.2g}%) had a non-finite log-density", run.nonfinite_rejections,
                        100.0 * static_cast<double>(run.nonfinite_rejections) / transitions),
            "Check the model for overflow, or lower --initial-step",
            {{"nonfinite_rejections", run.nonfinite_rejections}});
  }
  if (run.curvature_floor_hits > 0) {
    problem("curvature_floor",
            fmt::format("the curvature took the floor {} times (|h| < {:g})", run.curvature_floor_hits,
                        static_cast<double>(s.options.curvature_floor)),
            "The target is flat or concave along those tangents; --curvature-floor sets the floor",
            {{"curvature_floor_hits", run.curvature_floor_hits}});
  }
  if (!problems.empty()) {
    std::string line = name + ": ";
    for (size_t i = 0; i < problems.size(); ++i) {
      line += (i ? "; " : "") + problems[i];
    }
    line += ".";
    for (const std::string& fix : fixes) {
      line += " " + fix + ".";
    }
    log.print_warning(line);
  }
}


}  // namespace

void add_sample_options(CLI::App& app, SampleOptions& o) {
  app.footer(kSampleFooter);
  o.was_given = [&app](const std::string& name) { return app.count(name) > 0; };
  auto* target = app.add_option("--target", o.target, "Analytic target: gaussian, funnel or rosenbrock");
  add_choice(target, {"gaussian", "funnel", "rosenbrock"});
  add_choice(app.add_option("--model", o.model,
                            "Model on data: mlp (Bayesian MLP regression), logreg (Bayesian "
                            "multinomial logistic regression) or cnn (Bayesian network "
                            "classifier with conv, pooling and dense layers, see --layers)"),
             {"mlp", "logreg", "cnn"});
  add_choice(app.add_option("--preset", o.preset,
                            "Model of the reference study: paper-regression (mlp, 40,701 "
                            "parameters on 1-D data), paper-logreg (7,850), paper-mnist-cnn "
                            "(824,458 on 28x28x1), paper-cifar-cnn (2,395,434 on 32x32x3)"),
             {"paper-regression", "paper-logreg", "paper-mnist-cnn", "paper-cifar-cnn"});
  app.add_option("--data", o.data,
                 "mlp: data directory (holding data.txt) or table file. logreg, cnn: "
                 "fashion-mnist (the installed data set), random:HxWxC (random images), a "
                 "directory of IDX files, of train_x.npy/train_y.npy/test_x.npy/test_y.npy, or of "
                 "train.csv/test.csv (label last), or one table file");
  app.add_option("--layers", o.layers,
                 "cnn: comma-separated layers, e.g. conv:32,relu,avgpool,flatten,dense:10 "
                 "(dense:N, conv:N[:kK][:sS][:same|valid], avgpool, maxpool, flatten, relu, tanh, "
                 "sigmoid, softplus)");
  app.add_option("--dim", o.dim,
                 "Number of parameters of the target, v included for the funnel (default: gaussian 10, "
                 "funnel 11, the paper's 10-D funnel; rosenbrock 2)");
  app.add_option("--rho", o.rho, "AR(1) correlation of the gaussian target, in (-1, 1); 0 = iid")
      ->capture_default_str();
  app.add_option("--scales", o.scales, "Standard deviations of an iid gaussian target, one per dimension")
      ->delimiter(',');
  app.add_option("--sampler", o.sampler_list,
                 "Comma-separated samplers: rwmh, mala, fmala, line-fmala, pc-fmala, pc-line-fmala, "
                 "line-hmc (default: all but line-hmc)");
  app.add_option("--chains", o.chains, "Number of chains")->capture_default_str();
  app.add_option("--warmup", o.warmup, "Warmup transitions (step-size adaptation, or burn-in with a fixed step)")
      ->capture_default_str();
  app.add_option("--draws", o.draws, "Kept draws per chain")->capture_default_str();
  app.add_option("--thin", o.thin, "Keep every K-th transition after warmup")->capture_default_str();
  app.add_option("--step-size", o.step_size, "'auto' (dual averaging during warmup) or a fixed step size η")
      ->capture_default_str();
  app.add_option("--initial-step", o.initial_step, "Starting η of the adaptation (default: a per-sampler guess)")
      ->check(kPositiveNumber);
  app.add_option("--target-accept", o.target_accept,
                 "Mean acceptance probability targeted by the adaptation (default per sampler: rwmh 0.234, "
                 "mala 0.574, fmala 0.234, line-fmala 0.65, pc-fmala 0.234, pc-line-fmala 0.65, "
                 "line-hmc 0.8)")
      ->check(kOpenUnitInterval);
  app.add_flag("--adapt-per-chain", o.adapt_per_chain, "Adapt one step size per chain instead of one shared");
  app.add_option("--seed", o.seed, "Random seed; chain k's streams depend only on (seed, k)")
      ->check(kUnsigned64)
      ->capture_default_str();
  add_choice(app.add_option("--backend", o.backend, "cpu or cuda")->capture_default_str(), {"cpu", "cuda"});
  app.add_option("--threads", o.threads, "OpenMP threads of the CPU back end (0: all cores)")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  app.add_option("--out", o.out, "Output directory for summary.json and draws-<sampler>.npy")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            // An empty value is most likely an unset shell variable; running
            // without outputs would lose the run's results silently.
            return text.empty() ? "is empty; give a directory, or leave out --out to write nothing" : "";
          },
          "DIR"));
  app.add_flag("--no-draws", o.no_draws, "Write summary.json only, without the draw files");
  app.add_option("--format", o.format,
                 "Draw files to write, comma-separated: npy (draws-<sampler>.npy) and netcdf "
                 "(draws-<sampler>.nc, ArviZ InferenceData)")
      ->capture_default_str();
  app.add_flag("--sqrt-dim", o.sqrt_dim, "fmala, line-fmala: scale the step by sqrt(D)");
  app.add_flag("--aligned", o.aligned, "fmala, pc-fmala: reverse tangent u* = u (experimental)");
  app.add_flag("--uncached", o.uncached,
               "mala: evaluate the gradient at the current state again every step (two per step), as "
               "stateless backpropagation code does; same draws as the cached form");
  app.add_flag("--persistent", o.persistent,
               "fmala, pc-fmala: keep the tangent and its jet as state, one jet per step (experimental)");
  add_choice(app.add_option("--pc-form", o.pc_form, "pc-fmala noise: paper (η/√κ) or reference (η/√(Dκ))")
                 ->capture_default_str(),
             {"paper", "reference"});
  app.add_option("--curvature-floor", o.curvature_floor,
                 "PC samplers: κ = max(|h|, floor); 0 reproduces the reference code")
      ->capture_default_str();
  app.add_option("--curvature-tangents", o.curvature_tangents,
                 "PC samplers: curvature κ from the mean of uᵀ∇²f u over M unit tangents, 1 to 64; M − 1 "
                 "extra jets at θ and at θ* per step (experimental)")
      ->capture_default_str();
  app.add_option("--leapfrog-steps", o.leapfrog_steps,
                 "line-hmc: leapfrog steps L per transition, 1 to 1000 (default 8)");
  app.add_option("--jitter", o.jitter,
                 "line-hmc: leapfrog step ε = η(1 + j(2U − 1)) with U uniform, j in [0, 1) (default 0)");
  app.add_option("--hidden", o.hidden, "MLP hidden layer widths, comma-separated")->delimiter(',')
      ->capture_default_str();
  add_choice(app.add_option("--activation", o.activation, "MLP activation: relu or tanh")->capture_default_str(),
             {"relu", "tanh"});
  app.add_option("--prior-sd", o.prior_sd,
                 "mlp, logreg, cnn: prior sd of every weight and bias (default: the preset's, "
                 "else 1)")
      ->check(kPositiveNumber);
  app.add_option("--noise-sd", o.noise_sd,
                 "MLP fixed noise sd in standardised units (default: sample log σ)")
      ->check(kPositiveNumber);
  app.add_flag("--temper", o.temper, "MLP: divide the log posterior by the number of training points");
  app.add_option("--tile", o.tile,
                 "Data points per tile (default: mlp and logreg 256, cnn 32); a tile at least "
                 "as large as the data is one full batch")
      ->check(whole_number_at_least(1));
  app.add_option("--split-seed", o.split_seed,
                 "Seed of the 90/10 train/test split of mlp data, and of random:HxWxC images")
      ->check(kUnsigned64)
      ->capture_default_str();
  app.add_option("--split-index", o.split_index,
                 "mlp: train and test rows from index_train_K.txt and index_test_K.txt in the "
                 "data directory (the UCI benchmark split files) instead of a seeded split")
      ->check(whole_number_at_least(0));
  app.add_option("--subset,--train-subset", o.subset,
                 "logreg, cnn: use the first N training images in file order (0: all; "
                 "random:HxWxC: 1000)")
      ->check(whole_number_at_least(0))
      ->capture_default_str();
  app.add_option("--test-subset", o.test_subset,
                 "logreg, cnn: score the predictive on the first N test images (0: all)")
      ->check(whole_number_at_least(0))
      ->capture_default_str();
  add_choice(app.add_option("--normalise", o.normalise,
                            "logreg, cnn: standard (IDX: the Fashion-MNIST pixel mean and sd; "
                            "other files: per-feature training mean and sd) or none")
                 ->capture_default_str(),
             {"standard", "none"});
  app.add_option("--predictive-draws", o.predictive_draws,
                 "Predictive metrics from the last K kept draws of every chain")
      ->check(whole_number_at_least(1))
      ->capture_default_str();
  app.add_option("--ece-bins", o.ece_bins, "logreg, cnn: equal-width bins of the calibration error")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--max-memory", o.max_memory,
                 "Stop before sampling when the estimated peak memory exceeds this size, e.g. 8G "
                 "(default: 90% of physical memory)");
  app.add_option("--checkpoint-every", o.checkpoint_every,
                 "Save the run's state in --out/checkpoint every N transitions, for fmala resume "
                 "(0: only when SIGINT or SIGTERM stops the run)")
      ->check(kNonNegativeWhole)
      ->capture_default_str();
  app.add_flag("--no-checkpoint", o.no_checkpoint,
               "Keep no checkpoint: SIGINT and SIGTERM end the run at once, and it cannot be resumed");
  app.add_option("--chain-batch", o.chain_batch,
                 "Run the chains in batches of B, one after another, when their state does not fit "
                 "at once (needs --adapt-per-chain or a fixed --step-size; 0: all at once)")
      ->check(whole_number_at_least(0))
      ->capture_default_str();
  app.add_option("--superchains", o.superchains,
                 "Group the chains into K superchains of consecutive chains that share an initial "
                 "state, and report nested R-hat (for many short chains)")
      ->check(whole_number_at_least(0));
  app.add_flag("--stream", o.stream,
               "Keep running statistics instead of every draw: the traces of the --monitor "
               "coordinates, the mean and sd of every parameter, and the last --predictive-draws "
               "draws when the model's metrics need them");
  app.add_option("--monitor", o.monitor,
                 "--stream: parameter indices (0-based) whose traces are kept for R-hat and ESS "
                 "(default: those the metrics read, then 10 evenly spaced)")
      ->delimiter(',');
  app.add_flag("-q,--quiet", o.quiet, "Warnings and errors only: no progress bar, table or notes");
  app.add_flag("-v,--verbose", o.verbose, "Also print each sampler's adaptation and timings");
  app.add_option("--log-level", o.log_level,
                 "quiet, normal, verbose or debug (debug adds every checkpoint); every level writes all "
                 "events to log.jsonl in --out")
      ->capture_default_str();
}

int run_sample(const SampleOptions& given, const Invocation& invocation) {
  const std::string& command_line = invocation.command_line;
  const auto start = std::chrono::steady_clock::now();
  // Validate everything before the first write, so bad input never touches
  // files of an earlier run.
  const SampleOptions o = apply_preset(given);
  if (o.predictive_draws < 1) {
    throw make_error("--predictive-draws", "must be at least 1, got " + std::to_string(o.predictive_draws));
  }
  if (invocation.resume && !o.no_checkpoint && !o.out.empty()) {
    check_resumed_arrays(o, checkpoint_directory(o.out) / "arrays");
  }
  std::string data_note;
  double data_bytes = 0;
  std::unique_ptr<Model> model = build_model(o, &data_note, &data_bytes);
  const std::vector<RunSettings> settings = build_settings(o, model->dim(), build_stream(o, *model));
  check_memory(o, *model, settings, data_bytes);
  const DrawFormats formats = parse_formats(o);
  if (o.checkpoint_every > 0 && o.out.empty()) {
    throw make_error("--checkpoint-every", "needs --out DIR, where the checkpoints are kept",
                     "Add --out DIR");
  }
  if (o.checkpoint_every > 0 && o.no_checkpoint) {
    throw make_error("--checkpoint-every", "cannot be combined with --no-checkpoint", "Drop one of them");
  }
  if (o.chain_batch > 0 && o.chain_batch < o.chains && o.step_size == "auto" && !o.adapt_per_chain) {
    throw make_error("--chain-batch", "the shared step-size adaptation couples all chains, so they cannot run in batches",
                     "Add --adapt-per-chain or give a fixed --step-size");
  }
  const bool checkpoints = !o.out.empty() && !o.no_checkpoint;
  LogLevel level = o.verbose ? LogLevel::verbose : LogLevel::normal;
  if (o.was_given("--log-level")) {
    const std::optional<LogLevel> parsed = parse_log_level(o.log_level);
    if (!parsed) {
      throw make_error("--log-level", "unknown level '" + o.log_level + "'",
                       "Give quiet, normal, verbose or debug");
    }
    level = *parsed;
  }
  if (o.quiet) {
    level = LogLevel::quiet;
  }
  // In a job of several processes, rank 0 speaks for all.
  RunLog log(current_shard().rank() == 0 ? level : LogLevel::quiet);
  const std::filesystem::path checkpoint_dir = checkpoint_directory(o.out);
  if (checkpoints && !invocation.resume && std::filesystem::exists(checkpoint_dir / "command")) {
    throw make_error("--out " + o.out, "it contains the checkpoint of a run that did not finish",
                     "Continue that run with 'fmala resume " + o.out + "', or delete " +
                         checkpoint_dir.string() + " to start a new one there");
  }
  if (o.device_draws) {
    // Only the Python package sets this, so the fixes name its keywords.
    if (o.backend != "cuda") {
      throw make_error("device_draws", "keeps the draws on the GPU that makes them, but the run uses --backend cpu",
                       "Pass backend='cuda', or leave device_draws out to get NumPy arrays");
    }
    if (o.stream) {
      throw make_error("device_draws", "streaming keeps running statistics instead of the draws",
                       "Drop stream=True, or leave device_draws out");
    }
    if (checkpoints) {
      throw make_error("device_draws", "checkpoints for resume keep the draws on the host",
                       "Pass no_checkpoint=True with out=, or leave device_draws out");
    }
    if (current_shard().several()) {
      throw make_error("device_draws", "each process would keep only its own chains on its GPU",
                       "Run one process, or leave device_draws out to gather the draws");
    }
  }
  if (o.backend == "cuda") {
    // The model first: a run the back end cannot evaluate is refused on any
    // machine, before it spends time on a device.
    cuda::check_model(*model);
    if (current_shard().several()) {
      // One device per process on each host, by the process's local index.
      cuda::select_device(current_shard().local_rank());
    }
    std::string reason;
    if (!cuda::device_available(&reason)) {
      throw make_error("--backend cuda", reason, "Use --backend cpu");
    }
  }
  // With device_draws, each sampler's draws get their device array now, so
  // that a GPU short of memory stops the run before any output is written.
  // They count against the memory the runs' plans find free.
  std::vector<cuda::DeviceValues> device_arrays(o.device_draws ? settings.size() : 0);
  for (size_t index = 0; index < device_arrays.size(); ++index) {
    const RunSettings& s = settings[index];
    device_arrays[index] = cuda::allocate_device_values(static_cast<size_t>(s.chains) *
                                                        static_cast<size_t>(s.draws) *
                                                        static_cast<size_t>(model->dim()));
  }
  const Shard& shard = current_shard();
  const bool lead = shard.rank() == 0;
  const std::filesystem::path processes_file = checkpoint_dir / "processes";
  if (shard.several()) {
    check_shards(o, shard);
  }
  if (checkpoints && invocation.resume) {
    const int started = read_process_count(processes_file);
    if (started != shard.size()) {
      throw make_error(o.out, fmt::format("its run was started as {} process{} and is resumed as {}", started,
                                          started == 1 ? "" : "es", shard.size()),
                       started == 1 ? "Continue it with: fmala resume " + o.out
                                    : fmt::format("Continue it with: mpirun -np {} fmala resume {}", started, o.out));
    }
  }
  if (o.threads > 0) {
    // Also for the diagnostics and metrics, not only the sampler steps.
    omp_set_num_threads(o.threads);
  } else if (shard.several()) {
    // The processes on one host share its cores.
    omp_set_num_threads(std::max(1, omp_get_num_procs() / shard.local_size()));
  }
  // Every process has checked its input; from here on rank 0 alone writes
  // the outputs, and the others write their own checkpoints only.
  shard.barrier();
  // A new run in the directory of a finished one replaces its summary.json
  // and log.jsonl. A warning makes the replacement visible.
  std::error_code exists_error;
  const bool replaces_run = !o.out.empty() && lead && !invocation.resume &&
                            std::filesystem::exists(std::filesystem::path(o.out) / "summary.json", exists_error);
  if (!o.out.empty() && lead) {
    prepare_output_directory(o.out);
  }
  if (checkpoints && !invocation.resume && lead) {
    std::error_code ec;
    std::filesystem::create_directories(checkpoint_dir, ec);
    if (ec) {
      throw make_error(checkpoint_dir.string(), "cannot create the checkpoint directory (" + ec.message() + ")",
                       "Choose a writable --out, or add --no-checkpoint");
    }
    write_command_file(checkpoint_dir, invocation);
    io::write_file_atomic(processes_file.string(), std::to_string(shard.size()) + "\n");
    if (o.arrays) {
      io::write_file_atomic((checkpoint_dir / "arrays").string(), array_kind(o) + "\n");
    }
  }
  shard.barrier();
  if (!o.out.empty() && lead) {
    log.open_file((std::filesystem::path(o.out) / "log.jsonl").string(), invocation.resume);
  }
  log.record(invocation.resume ? "resume" : "start",
             {{"command_line", command_line}, {"arguments", invocation.arguments}, {"version", fmala::version()}, {"commit", fmala::source_commit()},
              {"processes", shard.size()}});
  if (replaces_run) {
    log.warning("earlier_run",
                o.out + " contained a finished run: this run replaces its summary.json and log.jsonl. Give another --out "
                        "to keep both");
  }

  const bool tty = isatty(fileno(stderr)) != 0 && log.shows(LogLevel::normal);
  log.info("model", "model: " + model->description(), {{"parameters", model->dim()}});
  if (!data_note.empty()) {
    log.info("data", "data: " + data_note);
  }
  log.info("settings",
           fmt::format("chains {}, warmup {}, draws {}, thin {}, seed {}, back end {}", o.chains, o.warmup,
                       o.draws, o.thin, o.seed, o.backend),
           {{"chains", o.chains}, {"warmup", o.warmup}, {"draws", o.draws}, {"thin", o.thin},
            {"seed", o.seed}, {"backend", o.backend}});

  std::vector<std::unique_ptr<SamplerRun>> runs;
  std::vector<SamplerSummary> summaries;
  if (checkpoints && shard.several() && lead) {
    const std::string note =
        fmt::format("\nfmala: stopping the job; if it ends before the processes save their state, continue "
                    "from the last checkpoint (--checkpoint-every) with: mpirun -np {} fmala resume {}\n",
                    shard.size(), o.out);
    g_stop_note_length = std::min(note.size(), sizeof g_stop_note);
    std::memcpy(g_stop_note, note.data(), g_stop_note_length);
  }
  const StopOnSignals stop_on_signals(checkpoints || invocation.stop_on_signals);
  for (size_t index = 0; index < settings.size(); ++index) {
    const RunSettings& s = settings[index];
    const std::string name(sampler_name(s.options.kind));
    // This process's chains (all of them unless MPI spread them) run in
    // batches of --chain-batch, each its own run of the chains first_chain
    // … first_chain + size − 1, joined afterwards.
    const ChainSlice mine = shard.slice(s.chains);
    const int batch = o.chain_batch > 0 ? std::min(o.chain_batch, mine.count) : mine.count;
    const int batches = (mine.count + batch - 1) / batch;
    std::vector<SamplerRun> parts;
    // With device_draws, every batch writes its chains' slice of one device
    // array of this process's chains.
    const size_t draw_values = static_cast<size_t>(s.draws) * static_cast<size_t>(model->dim());
    const cuda::DeviceValues on_device = o.device_draws ? device_arrays[index] : cuda::DeviceValues{};
    for (int part = 0; part < batches; ++part) {
      RunSettings b = s;
      b.first_chain = mine.first + static_cast<int64_t>(part) * batch;
      b.chains = std::min(batch, mine.count - part * batch);
      b.all_chains = s.chains;
      const std::string label = batches > 1 ? fmt::format("{} {}/{}", name, part + 1, batches) : name;
      std::string stem = name;
      if (shard.several()) {
        stem += fmt::format(".process{}", shard.rank());
      }
      if (batches > 1) {
        stem += fmt::format(".{}", part);
      }
      const std::string checkpoint_file = (checkpoint_dir / (stem + ".ckpt")).string();
      // With several processes the previous checkpoint is kept too: one
      // process may have saved transition t while another died saving it,
      // and the job resumes from the last transition that all of them saved.
      const std::string previous_file = (checkpoint_dir / (stem + ".previous.ckpt")).string();
      RunCheckpoint resumed;
      RunControl control;
      if (shard.several()) {
        control.mean_accept_prob = [&shard, chains = s.chains](const std::vector<Real>& local) {
          return shard.mean_over_chains(local, chains);
        };
      }
      if (checkpoints) {
        if (agree_on_stop(shard)) {
          return report_stop(log, o.out, name, "before " + label + " started", invocation);
        }
        const int64_t total = static_cast<int64_t>(b.warmup) + static_cast<int64_t>(b.draws) * b.thin;
        if (invocation.resume && shard.several()) {
          if (resume_together(shard, checkpoint_file, previous_file, b, model->dim(), &resumed)) {
            control.resume = &resumed;
          }
        } else if (invocation.resume && std::filesystem::exists(checkpoint_file)) {
          resumed = io::read_checkpoint(checkpoint_file, b, model->dim());
          control.resume = &resumed;
        }
        if (control.resume) {
          log.info("resume_sampler",
                   fmt::format("{}: resuming after transition {} of {}", label, resumed.done, total),
                   {{"sampler", name}, {"batch", part}, {"done", resumed.done}, {"total", total}});
        }
        control.checkpoint_every = o.checkpoint_every;
        // The final state of the last batch of the last sampler is not kept:
        // the outputs follow at once.
        const bool last = index + 1 == settings.size() && part + 1 == batches;
        control.save = [checkpoint_file, previous_file, several = shard.several(), &log, label, name, last,
                        total](const RunCheckpoint& state) {
          if (last && state.done == total) {
            return;
          }
          const auto write_start = std::chrono::steady_clock::now();
          if (several) {
            std::error_code ignored;
            std::filesystem::rename(checkpoint_file, previous_file, ignored);
          }
          io::write_checkpoint(checkpoint_file, state);
          const double seconds =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - write_start).count();
          std::error_code ec;
          const auto bytes = std::filesystem::file_size(checkpoint_file, ec);
          log.debug("checkpoint",
                    fmt::format("{}: checkpoint after transition {} of {} ({} bytes, {:.3f} s)", label,
                                state.done, total, ec ? 0 : bytes, seconds),
                    {{"sampler", name}, {"done", state.done}, {"total", total}, {"bytes", ec ? 0 : bytes},
                     {"seconds", seconds}});
        };
        control.stop_requested = [&shard] {
          // A signal that reached one process at transition t stops all of
          // them after transition t + 1: the reduction of the flags overlaps
          // a transition instead of holding the processes in step.
          const int64_t agreed = shard.max_of_previous(static_cast<int64_t>(g_stop_signal));
          if (agreed != 0) {
            g_stop_signal = static_cast<std::sig_atomic_t>(agreed);
          }
          return agreed != 0;
        };
      }
      if (!checkpoints && invocation.stop_on_signals) {
        if (g_stop_signal != 0) {
          return report_stop(log, "", name, "before " + label + " started", invocation);
        }
        control.stop_requested = [] { return g_stop_signal != 0; };
      }
      ProgressBar bar(label, tty);
      try {
        const ProgressFn progress = [&bar](int64_t done, int64_t total) { bar.update(done, total); };
        if (on_device.data) {
          cuda::DeviceBuffers buffers;
          buffers.draws = on_device.data.get() + static_cast<size_t>(b.first_chain - mine.first) * draw_values;
          SamplerRun done = cuda::sample_on_device(*model, b, buffers, progress, control);
          // The device memory of the run includes the kept draws.
          done.peak_memory_bytes += on_device.size * sizeof(Real);
          // The summary, the files and the host's draws read the values on the host.
          done.draws.values.resize(static_cast<size_t>(b.chains) * draw_values);
          cuda::copy_to_host(buffers.draws, done.draws.values.size(), done.draws.values.data());
          parts.push_back(std::move(done));
        } else {
          parts.push_back(run_sampler(*model, b, progress, control));
        }
      } catch (const RunStopped& stopped) {
        return report_stop(log, checkpoints ? o.out : std::string(), name,
                           "after " + std::to_string(stopped.done()) + " of " + std::to_string(stopped.total()) +
                               " transitions of " + label,
                           invocation);
      }
    }
    // Rank 0 joins the chains of every process; the others go on to the
    // next sampler.
    std::optional<SamplerRun> all = shard.gather(combine_chain_batches(std::move(parts)));
    if (!all) {
      continue;
    }
    auto run = std::make_unique<SamplerRun>(std::move(*all));
    run->settings.all_chains = 0;
    run->settings.first_chain = 0;
    if (run->step_size_at_floor) {
      // PC-FMALA's forward and reverse curvatures come from independent
      // tangents, which caps its acceptance below 1 at any step, lower as D grows.
      // --aligned removes the cap but cannot be combined with --persistent.
      const SamplerOptions& options = run->settings.options;
      const bool ceiling = options.kind == SamplerKind::pc_fmala && !options.aligned;
      std::string fix = "Lower --target-accept";
      if (ceiling) {
        const char* aligned = options.persistent ? "pc-fmala --aligned without --persistent" : "--aligned (no ceiling)";
        fix = fmt::format("pc-fmala's acceptance has a ceiling below 1 in many dimensions: use {}, pc-line-fmala, "
                          "or a lower --target-accept",
                          aligned);
      }
      // With per-chain adaptation the smallest step is the one at the floor.
      const Real smallest = *std::min_element(run->step_size.begin(), run->step_size.end());
      log.warning("step_size_floor",
                  fmt::format("{}: the adapted step size reached its floor ({:.3g}); the target acceptance "
                              "{:.3f} may be above what this sampler reaches. {}",
                              name, smallest, run->target_accept, fix),
                  {{"sampler", name}, {"step_size", smallest}});
    }
    {
      const auto [smallest, largest] = std::minmax_element(run->step_size.begin(), run->step_size.end());
      log.detail("adaptation",
                 fmt::format("{}: step size {:.4g} to {:.4g} over the chains, acceptance rate {:.3f}, mean "
                             "min(1, alpha) {:.3f} (target {:.3f})",
                             name, *smallest, *largest, run->acceptance_rate, run->accept_prob,
                             run->target_accept),
                 {{"sampler", name}, {"step_size_min", *smallest}, {"step_size_max", *largest},
                  {"acceptance_rate", run->acceptance_rate}, {"accept_prob", run->accept_prob}});
    }
    const auto diagnostics_start = std::chrono::steady_clock::now();
    summaries.push_back(summarize(*run, *model));
    summaries.back().seconds_diagnostics =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - diagnostics_start).count();
    warn_about_results(log, summaries.back(), *run);
    if (!o.out.empty() && formats.npy) {
      const Draws& d = run->draws;
      const std::string file = "draws-" + summaries.back().sampler + ".npy";
      io::write_npy((std::filesystem::path(o.out) / file).string(), d.values.data(),
                    {static_cast<size_t>(d.chains), static_cast<size_t>(d.draws), static_cast<size_t>(d.dim)});
      summaries.back().draws_npy = file;
    }
    // The draws' columns: every parameter, or with --stream the monitored ones.
    std::vector<std::string> names;
    if (s.stream.enabled) {
      for (int j : s.stream.monitor) {
        names.push_back(model->parameter_name(j));
      }
    } else {
      for (int j = 0; j < model->dim(); ++j) {
        names.push_back(model->parameter_name(j));
      }
    }
    if (!o.out.empty() && formats.netcdf) {
      const std::string file = "draws-" + summaries.back().sampler + ".nc";
      io::write_inference_data_netcdf((std::filesystem::path(o.out) / file).string(), *run, names);
      summaries.back().draws_netcdf = file;
    }
    if (invocation.results) {
      SampleResults::Sampler kept;
      kept.name = summaries.back().sampler;
      if (!s.stream.enabled) {
        kept.predictive = model->test_predictive(run->draws);
      } else if (s.stream.keep_last > 0) {
        kept.predictive = model->test_predictive(run->stream.last_in_order());
      }
      kept.device_draws = on_device;
      // The shape stays behind for summary.json.
      kept.draws = std::move(run->draws);
      kept.columns = std::move(names);
      invocation.results->samplers.push_back(std::move(kept));
    }
    // The summary keeps what the table and summary.json need; the draws
    // themselves are released so memory holds one sampler's draws at a time.
    std::vector<Real>().swap(run->draws.values);
    std::vector<Real>().swap(run->draws.log_density);
    runs.push_back(std::move(run));
    {
      const SamplerSummary& done = summaries.back();
      const SamplerRun& r = *runs.back();
      const std::string message = fmt::format("{} done in {:.1f} s (diagnostics {:.1f} s)", done.sampler,
                                              r.seconds_warmup + r.seconds_sampling, done.seconds_diagnostics);
      const nlohmann::json fields = {{"sampler", done.sampler},
                                     {"seconds_warmup", r.seconds_warmup},
                                     {"seconds_sampling", r.seconds_sampling},
                                     {"seconds_diagnostics", done.seconds_diagnostics},
                                     {"acceptance_rate", r.acceptance_rate},
                                     {"rhat_max", done.rhat_max},
                                     {"ess_bulk_min", done.ess_bulk_min},
                                     {"nonfinite_rejections", r.nonfinite_rejections},
                                     {"curvature_floor_hits", r.curvature_floor_hits}};
      // With a progress bar the line would repeat what the bar showed.
      if (tty) {
        log.detail("sampler_done", message, fields);
      } else {
        log.info("sampler_done", message, fields);
      }
    }
  }
  if (!lead) {
    return 0;
  }
  if (invocation.results) {
    invocation.results->summary_json = summary_json_text(*model, summaries, command_line);
  }
  if (!o.out.empty()) {
    warn_about_other_draws(log, o.out, summaries, formats);
    write_summary_json((std::filesystem::path(o.out) / "summary.json").string(), *model, summaries,
                       command_line);
  }
  if (checkpoints) {
    // Every output is written: the checkpoints have served their purpose.
    std::error_code ec;
    std::filesystem::remove_all(checkpoint_dir, ec);
  }
  if (log.shows(LogLevel::normal)) {
    print_table(summaries);
  }
  if (!o.out.empty()) {
    std::string draw_files;
    if (formats.npy) {
      draw_files += " and draws-<sampler>.npy";
    }
    if (formats.netcdf) {
      draw_files += formats.npy ? ", .nc" : " and draws-<sampler>.nc";
    }
    log.info("outputs", "wrote " + o.out + "/summary.json" + draw_files + ", log.jsonl");
  }
  log.record("end", {{"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()}, {"warnings", log.warnings()}});
  return 0;
}

int run_resume(const std::string& directory) { return run_resume(directory, SampleOptions{}, Invocation{}); }

int run_resume(const std::string& directory, const SampleOptions& base, Invocation invocation) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path dir = fs::absolute(directory, ec);
  if (ec || !fs::is_directory(dir)) {
    throw make_error(directory, "is not a directory", "Give the --out directory of the run to continue");
  }
  const fs::path command_file = dir / "checkpoint" / "command";
  if (!fs::exists(command_file)) {
    throw make_error(directory, "contains no checkpoint (checkpoint/command is missing)",
                     fs::exists(dir / "summary.json")
                         ? "Its run finished: the results are in summary.json"
                         : "Give the --out directory of a run that was stopped");
  }
  std::vector<std::string> fields;
  {
    std::ifstream in(command_file, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t start = 0;
    for (size_t end = bytes.find('\0'); end != std::string::npos; end = bytes.find('\0', start)) {
      fields.push_back(bytes.substr(start, end - start));
      start = end + 1;
    }
    if (start != bytes.size() || fields.size() < 3 || fields[0] != kCommandFileTag) {
      throw make_error(command_file.string(),
                       "is not a command file of this fmala (it must hold '" + std::string(kCommandFileTag) +
                           "', the working directory, the command line and the arguments, each ended by a "
                           "NUL byte)",
                       "Restore it from the run's output directory, or start the run again");
    }
  }
  const std::string working_directory = fields[1];
  const std::string command_line = fields[2];
  const std::vector<std::string> arguments(fields.begin() + 3, fields.end());
  // Relative paths of the command (data files) are relative to where it ran.
  if (fs::is_directory(working_directory, ec)) {
    fs::current_path(working_directory, ec);
  } else {
    std::fprintf(stderr, "fmala: warning: the run was started in %s, which no longer exists; relative "
                         "paths are taken from here\n", working_directory.c_str());
  }

  CLI::App app{"fmala sample", "fmala"};
  SampleOptions options;
  add_sample_options(app, options);
  std::vector<std::string> reversed(arguments.rbegin(), arguments.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    throw make_error(command_file.string(), std::string("its arguments do not parse (") + e.what() + ")",
                     "Restore it from the run's output directory, or start the run again");
  }
  options.out = dir.string();
  options.arrays = base.arrays;
  invocation.command_line = command_line;
  invocation.arguments = arguments;
  invocation.resume = true;
  return run_sample(options, invocation);
}

}  // namespace fmala::cli
