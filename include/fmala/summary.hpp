#pragma once
// Per-sampler summaries of a run: convergence diagnostics, costs and task
// metrics, as written to summary.json and printed by the command line.

#include <cmath>
#include <string>
#include <vector>

#include "fmala/model/model.hpp"
#include "fmala/run.hpp"

namespace fmala {

struct ParameterSummary {
  std::string name;
  double mean = 0, sd = 0, mcse = 0, rhat = 0, ess_bulk = 0, ess_tail = 0;
  double nested_rhat = NAN;  // with superchains only
};

struct SamplerSummary {
  std::string sampler;
  const SamplerRun* run = nullptr;
  double rhat_max = 0;       // over the monitored quantities
  double nested_rhat_max = NAN;  // over the same quantities, with superchains only
  double ess_bulk_min = 0;
  double ess_tail_min = 0;
  double ess_per_second = 0;  // ess_bulk_min / seconds of sampling after warmup
  double seconds_per_step = 0;  // (warmup + sampling seconds) / (W + S·K)
  double seconds_diagnostics = 0;  // time spent in summarize(), set by its caller
  int monitored = 0;          // quantities in the maxima and minima above
  Metrics metrics;
  std::vector<ParameterSummary> parameters;  // every parameter when D <= 100, else empty
  ParameterSummary log_density;
  std::string draws_netcdf;  // file name of the InferenceData NetCDF draws, empty when not written
  std::string draws_npy;     // file name of the NPY draws, empty when not written
};

// The maximum number of parameters listed one by one in a summary.
inline constexpr int kMaxListedParameters = 100;

// Diagnostics over the log-density and the parameters. With more than 100
// parameters, R-hat and ESS are monitored on the log-density and on 100
// evenly spaced coordinates (indices round(i (D − 1) / 99)).
SamplerSummary summarize(const SamplerRun& run, const Model& model);

// Returns the text of summary.json for several samplers of one run.
std::string summary_json_text(const Model& model,
                              const std::vector<SamplerSummary>& summaries,
                              const std::string& command_line);

// Writes summary.json for several samplers of one run, atomically.
void write_summary_json(const std::string& path,
                        const Model& model,
                        const std::vector<SamplerSummary>& summaries,
                        const std::string& command_line);

}  // namespace fmala
