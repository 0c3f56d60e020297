#include "fmala/summary.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <nlohmann/json.hpp>

#include "fmala/diagnostics/diagnostics.hpp"
#include "fmala/io/atomic_file.hpp"
#include "fmala/version.hpp"

namespace fmala {

namespace {

ParameterSummary to_parameter(const std::string& name, const diag::Summary& s) {
  ParameterSummary p;
  p.name = name;
  p.mean = s.mean;
  p.sd = s.sd;
  p.mcse = s.mcse_mean;
  p.rhat = s.rhat;
  p.ess_bulk = s.ess_bulk;
  p.ess_tail = s.ess_tail;
  return p;
}

std::vector<int> monitored_coordinates(int dim) {
  std::vector<int> out;
  if (dim <= kMaxListedParameters) {
    for (int i = 0; i < dim; ++i) {
      out.push_back(i);
    }
    return out;
  }
  for (int i = 0; i < kMaxListedParameters; ++i) {
    out.push_back(static_cast<int>(std::lround(static_cast<double>(i) * (dim - 1) /
                                               (kMaxListedParameters - 1))));
  }
  return out;
}

// JSON has no NaN or infinity: they are written as null.
nlohmann::json number(double x) {
  if (!std::isfinite(x)) {
    return nullptr;
  }
  return x;
}

// A streaming run: diagnostics from the traces of the monitored coordinates,
// means and sds of the others from the running statistics, and metrics from
// the traces or the last kept draws, whichever the model reads.
template <class Monitor>
void summarize_stream(const SamplerRun& run, const Model& model, Monitor& monitor, SamplerSummary& out) {
  const Draws& d = run.draws;
  const DrawStream& st = run.stream;
  std::vector<ParameterSummary> traced(static_cast<size_t>(model.dim()));
  std::vector<bool> has_trace(static_cast<size_t>(model.dim()), false);
  for (int m = 0; m < d.dim; ++m) {
    const int j = st.monitored[static_cast<size_t>(m)];
    const ParameterSummary p = to_parameter(
        model.parameter_name(j), diag::summarize_coordinate(d.values.data(), d.chains, d.draws, d.dim, m));
    monitor(p);
    traced[static_cast<size_t>(j)] = p;
    has_trace[static_cast<size_t>(j)] = true;
  }
  if (model.dim() <= kMaxListedParameters) {
    for (int j = 0; j < model.dim(); ++j) {
      if (has_trace[static_cast<size_t>(j)]) {
        out.parameters.push_back(traced[static_cast<size_t>(j)]);
        continue;
      }
      ParameterSummary p;
      p.name = model.parameter_name(j);
      p.mean = st.pooled_mean(j);
      p.sd = st.pooled_sd(j);
      p.mcse = p.rhat = p.ess_bulk = p.ess_tail = std::nan("");
      out.parameters.push_back(p);
    }
  }
  const std::optional<std::vector<int>> reads = model.metric_coordinates();
  if (!reads) {
    out.metrics = model.metrics(st.last_in_order());
  } else if (reads->size() <= st.monitored.size() &&
             std::equal(reads->begin(), reads->end(), st.monitored.begin())) {
    // The traces start with the coordinates the metrics read, in their order.
    out.metrics = model.metrics(d);
  }
}

// Nested R-hat of the log-density and of every monitored column, written
// into the listed parameters; the maximum is NaN when any value is.
void add_nested_rhat(const SamplerRun& run, const Model& model, SamplerSummary& out) {
  const Draws& d = run.draws;
  const int superchains = run.settings.superchains;
  const int per = d.chains / superchains;
  std::vector<double> x(static_cast<size_t>(d.chains) * d.draws);
  // column −1 is the log-density.
  const auto nested = [&](int column) {
    for (size_t cell = 0; cell < x.size(); ++cell) {
      x[cell] = column < 0 ? d.log_density[cell] : d.values[cell * d.dim + column];
    }
    return diag::nested_rhat(x.data(), superchains, per, d.draws);
  };
  double worst = nested(-1);
  out.log_density.nested_rhat = worst;
  bool undefined = std::isnan(worst);
  const bool stream = run.settings.stream.enabled;
  std::vector<int> columns;
  if (stream) {
    for (int m = 0; m < d.dim; ++m) {
      columns.push_back(m);
    }
  } else {
    columns = monitored_coordinates(d.dim);
  }
  for (int column : columns) {
    const double value = nested(column);
    undefined = undefined || std::isnan(value);
    worst = std::max(worst, value);
    const int j = stream ? run.stream.monitored[static_cast<size_t>(column)] : column;
    if (model.dim() <= kMaxListedParameters) {
      out.parameters[static_cast<size_t>(j)].nested_rhat = value;
    }
  }
  out.nested_rhat_max = undefined ? std::nan("") : worst;
}

}  // namespace

SamplerSummary summarize(const SamplerRun& run, const Model& model) {
  SamplerSummary out;
  out.sampler = std::string(sampler_name(run.settings.options.kind));
  out.run = &run;
  const Draws& d = run.draws;
  out.rhat_max = -std::numeric_limits<double>::infinity();
  out.ess_bulk_min = std::numeric_limits<double>::infinity();
  out.ess_tail_min = std::numeric_limits<double>::infinity();
  // A quantity without a defined diagnostic (too few draws, NaN draws, R-hat of one
  // chain) makes that extreme undefined as well, rather than silently skipped. Each
  // statistic is tracked on its own, so a one-chain run keeps its ESS minima.
  bool rhat_nan = false;
  bool ess_bulk_nan = false;
  bool ess_tail_nan = false;
  auto monitor = [&](const ParameterSummary& p) {
    ++out.monitored;
    rhat_nan = rhat_nan || std::isnan(p.rhat);
    ess_bulk_nan = ess_bulk_nan || std::isnan(p.ess_bulk);
    ess_tail_nan = ess_tail_nan || std::isnan(p.ess_tail);
    out.rhat_max = std::max(out.rhat_max, p.rhat);
    out.ess_bulk_min = std::min(out.ess_bulk_min, p.ess_bulk);
    out.ess_tail_min = std::min(out.ess_tail_min, p.ess_tail);
  };

  out.log_density = to_parameter("log_density", diag::summarize(d.log_density.data(), d.chains, d.draws));
  monitor(out.log_density);
  if (run.settings.stream.enabled) {
    summarize_stream(run, model, monitor, out);
  }
  for (int j : run.settings.stream.enabled ? std::vector<int>{} : monitored_coordinates(d.dim)) {
    const ParameterSummary p = to_parameter(
        model.parameter_name(j), diag::summarize_coordinate(d.values.data(), d.chains, d.draws, d.dim, j));
    monitor(p);
    if (d.dim <= kMaxListedParameters) {
      out.parameters.push_back(p);
    }
  }
  if (rhat_nan) {
    out.rhat_max = std::nan("");
  }
  if (ess_bulk_nan) {
    out.ess_bulk_min = std::nan("");
  }
  if (ess_tail_nan) {
    out.ess_tail_min = std::nan("");
  }
  out.ess_per_second = run.seconds_sampling > 0 ? out.ess_bulk_min / run.seconds_sampling : std::nan("");
  const double steps = static_cast<double>(run.settings.warmup) +
                       static_cast<double>(run.settings.draws) * run.settings.thin;
  out.seconds_per_step = steps > 0 ? (run.seconds_warmup + run.seconds_sampling) / steps : 0.0;
  if (!run.settings.stream.enabled) {
    out.metrics = model.metrics(d);
  }
  if (run.settings.superchains > 0) {
    add_nested_rhat(run, model, out);
  }
  return out;
}

std::string summary_json_text(const Model& model,
                              const std::vector<SamplerSummary>& summaries,
                              const std::string& command_line) {
  nlohmann::json doc;
  doc["fmala_version"] = version();
  doc["fmala_commit"] = source_commit();
  doc["command"] = command_line;
  doc["model"] = model.description();
  doc["dim"] = model.dim();
  doc["samplers"] = nlohmann::json::array();
  for (const SamplerSummary& s : summaries) {
    const SamplerRun& r = *s.run;
    const RunSettings& st = r.settings;
    nlohmann::json j;
    j["sampler"] = s.sampler;
    nlohmann::json settings;
    settings["seed"] = st.seed;
    settings["chains"] = st.chains;
    settings["warmup"] = st.warmup;
    settings["draws"] = st.draws;
    settings["thin"] = st.thin;
    settings["step_size"] = st.step_size ? nlohmann::json(*st.step_size) : nlohmann::json("auto");
    settings["target_accept"] = r.target_accept;
    settings["adapt_per_chain"] = st.adapt_per_chain;
    settings["backend"] = st.backend == Backend::cuda ? "cuda" : "cpu";
    settings["sqrt_dim"] = st.options.sqrt_dim;
    settings["aligned"] = st.options.aligned;
    settings["persistent"] = st.options.persistent;
    settings["uncached"] = st.options.uncached;
    settings["pc_form"] = st.options.pc_form == PcForm::reference ? "reference" : "paper";
    settings["curvature_floor"] = st.options.curvature_floor;
    settings["curvature_tangents"] = st.options.curvature_tangents;
    j["settings"] = settings;
    j["acceptance_rate"] = number(r.acceptance_rate);
    j["accept_prob"] = number(r.accept_prob);
    double mean_step = 0.0;
    for (Real eta : r.step_size) {
      mean_step += eta;
    }
    mean_step /= std::max<size_t>(1, r.step_size.size());
    j["step_size"] = number(mean_step);
    if (st.adapt_per_chain) {
      j["step_size_per_chain"] = r.step_size;
    }
    j["step_size_at_floor"] = r.step_size_at_floor;
    j["seconds_warmup"] = r.seconds_warmup;
    j["seconds_sampling"] = r.seconds_sampling;
    j["seconds"] = r.seconds_warmup + r.seconds_sampling;
    j["seconds_per_step"] = s.seconds_per_step;
    j["seconds_diagnostics"] = s.seconds_diagnostics;
    j["peak_memory_bytes"] = r.peak_memory_bytes;
    if (r.device_tile > 0) {
      j["device_tile"] = r.device_tile;
    }
    j["nonfinite_rejections"] = r.nonfinite_rejections;
    j["curvature_floor_hits"] = r.curvature_floor_hits;
    j["rhat_max"] = number(s.rhat_max);
    j["ess_bulk_min"] = number(s.ess_bulk_min);
    j["ess_tail_min"] = number(s.ess_tail_min);
    j["ess_bulk_per_second"] = number(s.ess_per_second);
    j["monitored_quantities"] = s.monitored;
    nlohmann::json metrics = nlohmann::json::object();
    for (const auto& [name, value] : s.metrics) {
      metrics[name] = number(value);
    }
    j["metrics"] = metrics;
    const bool nested = r.settings.superchains > 0;
    auto param_json = [&](const ParameterSummary& p) {
      nlohmann::json out{{"name", p.name},         {"mean", number(p.mean)},
                         {"sd", number(p.sd)},     {"mcse", number(p.mcse)},
                         {"rhat", number(p.rhat)}, {"ess_bulk", number(p.ess_bulk)},
                         {"ess_tail", number(p.ess_tail)}};
      if (nested) {
        out["nested_rhat"] = number(p.nested_rhat);
      }
      return out;
    };
    if (nested) {
      j["superchains"] = r.settings.superchains;
      j["nested_rhat_max"] = number(s.nested_rhat_max);
    }
    j["log_density"] = param_json(s.log_density);
    if (model.dim() <= kMaxListedParameters) {
      j["parameters"] = nlohmann::json::array();
      for (const ParameterSummary& p : s.parameters) {
        j["parameters"].push_back(param_json(p));
      }
    }
    if (!s.draws_npy.empty()) {
      j["draws_file"] = s.draws_npy;
    }
    j["draws_shape"] = {r.draws.chains, r.draws.draws, r.draws.dim};
    if (r.settings.stream.enabled) {
      nlohmann::json names = nlohmann::json::array();
      for (int c : r.stream.monitored) {
        names.push_back(model.parameter_name(c));
      }
      j["stream"] = {{"monitored", names},
                     {"monitored_indices", r.stream.monitored},
                     {"keep_last", r.stream.keep_last},
                     {"draws_added", r.stream.count}};
    }
    if (!s.draws_netcdf.empty()) {
      j["draws_netcdf"] = s.draws_netcdf;
    }
    doc["samplers"].push_back(j);
  }
  // Paths and arguments are bytes, not always UTF-8: invalid sequences become U+FFFD.
  return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

void write_summary_json(const std::string& path,
                        const Model& model,
                        const std::vector<SamplerSummary>& summaries,
                        const std::string& command_line) {
  io::write_file_atomic(path, summary_json_text(model, summaries, command_line));
}

}  // namespace fmala
