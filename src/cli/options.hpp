#pragma once
// Options of `fmala sample` and the function that runs it.

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fmala/backend/cuda.hpp"
#include "fmala/io/classification_data.hpp"
#include "fmala/io/table.hpp"
#include "fmala/model/model.hpp"

namespace fmala::cli {

// Data given in memory instead of --data, as the Python package passes it.
struct DataArrays {
  // logreg and cnn: the training split and an optional test split.
  std::optional<io::ArraySplit> train;
  // With --backend cuda, in place of `train` (logreg, cnn) or `table`
  // (mlp): the arrays on a GPU, read there
  // (io::classification_data_from_device_arrays and
  // io::regression_data_from_device_arrays).
  struct DeviceSplit {
    io::DeviceArrayView x, y;
  };
  std::optional<DeviceSplit> device_train;
  std::optional<io::ArraySplit> test;
  // mlp: the table [x | y] (its `path` names it), split as a --data table is.
  std::optional<io::Table> table;
};

struct SampleOptions {
  std::string target;  // gaussian | funnel | rosenbrock
  std::string model;   // mlp | logreg | cnn
  std::string preset;  // paper-regression | paper-logreg | paper-mnist-cnn | paper-cifar-cnn
  std::string data;
  static constexpr int kDefaultDim = -2147483647;  // the target's default (gaussian 10, funnel 11, rosenbrock 2)
  int dim = kDefaultDim;
  double rho = 0.0;
  std::vector<double> scales;
  std::optional<std::string> sampler_list;  // comma-separated; kDefaultSamplers when not given
  int chains = 64;
  int warmup = 1000;
  int draws = 1000;
  int thin = 1;
  std::string step_size = "auto";
  double initial_step = 0.0;
  double target_accept = 0.0;
  bool adapt_per_chain = false;
  std::string seed = "1";  // checked to be a whole number in 0 .. 2^64 − 1
  std::string backend = "cpu";
  int threads = 0;
  std::string out;
  bool sqrt_dim = false;
  bool aligned = false;
  bool persistent = false;
  bool uncached = false;
  std::string pc_form = "paper";
  double curvature_floor = 1e-6;
  int curvature_tangents = 1;  // pc-fmala, pc-line-fmala
  std::optional<int> leapfrog_steps;  // line-hmc; unset: SamplerOptions' default
  std::optional<double> jitter;       // line-hmc; unset: 0
  // MLP
  std::vector<int> hidden = {50};
  std::string activation = "relu";
  std::optional<double> prior_sd;  // unset: the preset's, else 1
  double noise_sd = 0.0;  // 0: learn log σ
  bool temper = false;
  int tile = 256;
  std::string split_seed = "0";
  std::optional<int> split_index;  // mlp: use index_train_K.txt / index_test_K.txt
  // logreg and cnn
  int subset = 0;       // first N training images, 0: all
  int test_subset = 0;  // first N test images, 0: all
  std::string normalise = "standard";
  std::string layers;   // cnn layer list (see parse_layers)
  // Predictive metrics from the last K kept draws of every chain.
  int predictive_draws = 100;
  int ece_bins = 100;
  std::string max_memory;  // e.g. "8G"; empty: 90% of physical memory
  bool quiet = false;
  bool verbose = false;
  std::string log_level = "normal";  // quiet | normal | verbose | debug
  bool no_draws = false;
  std::string format = "npy,netcdf";  // draw file formats, comma-separated
  int chain_batch = 0;       // chains per batch; 0: all at once
  int superchains = 0;       // 0: none; else nested R-hat over this many superchains
  bool stream = false;       // running statistics instead of every draw
  std::vector<int> monitor;  // --stream: coordinates whose traces are kept
  int64_t checkpoint_every = 0;        // transitions between checkpoints; 0: only on SIGINT/SIGTERM
  bool no_checkpoint = false;          // no checkpoints at all; signals end the run at once
  // Whether an option was given on the command line, by its long name
  // ("--hidden"); set by add_sample_options.
  std::function<bool(const std::string&)> was_given = [](const std::string&) { return false; };
  // In place of --data; null when the data come from files.
  std::shared_ptr<const DataArrays> arrays;
  // Set by the Python package, not a flag: each sampler's kept draws stay on
  // the GPU that makes them (--backend cuda) in SampleResults::Sampler::
  // device_draws, besides the host copy that the summary and files use.
  bool device_draws = false;
};

void add_sample_options(CLI::App& app, SampleOptions& options);

// The start of a run: its arguments after `sample` (kept in the checkpoint's
// command file) and whether it continues the checkpoint in --out.
// The results a run returns to a caller in the same process (the Python
// package), besides its files.
struct SampleResults {
  struct Sampler {
    std::string name;
    Draws draws;                       // (C, S, D), or (C, S, M) with --stream
    std::vector<std::string> columns;  // the parameter name of each of the D or M columns
    TestPredictive predictive;         // classifiers with a test split; else empty
    // With SampleOptions::device_draws: the (C, S, D) draws on the GPU;
    // else empty.
    cuda::DeviceValues device_draws;
  };
  std::vector<Sampler> samplers;
  std::string summary_json;  // the text of summary.json
  std::string stop_message;  // set when a signal stopped the run
};

struct Invocation {
  std::string command_line;            // as summary.json records it
  std::vector<std::string> arguments;  // the arguments after `sample`
  bool resume = false;
  // Filled with the draws and the summary when not null.
  SampleResults* results = nullptr;
  // SIGINT and SIGTERM stop the run after the current transition also
  // without checkpoints (the run then cannot be resumed).
  bool stop_on_signals = false;
  // The command that continues a stopped run in `out`; empty: fmala resume OUT.
  std::function<std::string(const std::string&)> resume_command;
};

// Runs the samplers and writes the outputs; returns the exit status.
int run_sample(const SampleOptions& options, const Invocation& invocation);

// Runs `fmala resume DIR`: reads DIR/checkpoint/command, parses its arguments
// with the options of `sample`, and continues the run. `base` carries the
// in-memory data and the results of a caller in the same process.
int run_resume(const std::string& directory);
int run_resume(const std::string& directory, const SampleOptions& base, Invocation invocation);

}  // namespace fmala::cli
