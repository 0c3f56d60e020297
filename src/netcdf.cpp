// InferenceData NetCDF4 files through the netCDF C library. The layout follows
// what ArviZ 0.23 writes with InferenceData.to_netcdf: each group defines its own
// chain and draw dimensions with int64 coordinate variables, and float variables
// carry _FillValue = NaN.

#include "fmala/io/netcdf.hpp"

#include <fcntl.h>
#include <netcdf.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

#include "fmala/core/error.hpp"
#include "fmala/samplers/kinds.hpp"
#include "fmala/version.hpp"

namespace fmala::io {
namespace {

constexpr char kLibraryName[] = "fmala";

// Owns one open netCDF dataset at a temporary path. Unless commit() succeeds, the
// destructor closes the dataset and deletes the temporary file.
class TemporaryDataset {
 public:
  explicit TemporaryDataset(std::string path) : path_(std::move(path)) { create(); }
  ~TemporaryDataset() { discard(); }
  TemporaryDataset(const TemporaryDataset&) = delete;
  TemporaryDataset& operator=(const TemporaryDataset&) = delete;

  int id() const { return ncid_; }

  // Throws fmala::Error naming the destination when a netCDF call failed.
  void check(int status, const std::string& action) const {
    if (status != NC_NOERR) {
      throw make_error(path_, action + " failed: " + nc_strerror(status),
                       "Check free disk space and that the directory is writable; the previous "
                       "file is unchanged");
    }
  }

  // Closes the dataset, flushes it to disk and renames it over the destination.
  void commit() {
    const int ncid = ncid_;
    ncid_ = -1;
    check(nc_close(ncid), "closing the netCDF file");
    const int fd = ::open(temp_path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
      const int error = errno;
      if (fd >= 0) {
        ::close(fd);
      }
      throw make_error(path_, std::string("flushing to disk failed: ") + std::strerror(error),
                       "Check free disk space; the previous file is unchanged");
    }
    ::close(fd);
    if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
      const int error = errno;
      throw make_error(path_,
                       std::string("renaming the temporary file onto the output failed: ") +
                           std::strerror(error),
                       "Check that the output path is not a directory and is writable");
    }
    temp_path_.clear();
    const int dir = ::open(directory().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
      // Failure is ignored because some file systems do not support fsync on directories.
      ::fsync(dir);
      ::close(dir);
    }
  }

 private:
  std::string directory() const {
    const std::filesystem::path parent = std::filesystem::path(path_).parent_path();
    return parent.empty() ? std::string(".") : parent.string();
  }

  void create() {
    static std::atomic<unsigned long long> counter{0};
    const std::filesystem::path target(path_);
    const std::string name = target.filename().string();
    if (name.empty() || name == "." || name == "..") {
      throw make_error(path_, "the output path names a directory, not a file",
                       "Give a file name at the end of the path");
    }
    std::error_code ec;
    if (!std::filesystem::is_directory(directory(), ec)) {
      throw make_error(
          path_, "cannot write the file because the directory '" + directory() + "' does not exist",
          "Create the directory or choose another output path");
    }
    constexpr int kAttempts = 100;
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
      temp_path_ = (target.parent_path() / ("." + name + ".tmp-" + std::to_string(::getpid()) +
                                            "-" + std::to_string(counter.fetch_add(1))))
                       .string();
      const int status = nc_create(temp_path_.c_str(), NC_NETCDF4 | NC_NOCLOBBER, &ncid_);
      if (status == NC_NOERR) {
        return;
      }
      if (status == NC_EEXIST) {
        continue;
      }
      // Nothing was created, so there is nothing to delete.
      temp_path_.clear();
      ncid_ = -1;
      throw make_error(path_,
                       "cannot create a temporary netCDF file in the directory '" + directory() +
                           "': " + nc_strerror(status),
                       "Check that the directory is writable and the disk is not full");
    }
    temp_path_.clear();
    throw make_error(path_,
                     "cannot find an unused temporary file name after " +
                         std::to_string(kAttempts) + " attempts",
                     "Remove leftover '." + name + ".tmp-*' files");
  }

  void discard() noexcept {
    if (ncid_ >= 0) {
      nc_close(ncid_);
      ncid_ = -1;
    }
    if (!temp_path_.empty()) {
      ::unlink(temp_path_.c_str());
      temp_path_.clear();
    }
  }

  std::string path_;
  std::string temp_path_;
  int ncid_ = -1;
};

// Helpers that define netCDF objects in one group and throw on failure.
class GroupWriter {
 public:
  GroupWriter(const TemporaryDataset& file, int group) : file_(file), group_(group) {}

  int dimension(const char* name, size_t length) const {
    int id = -1;
    file_.check(nc_def_dim(group_, name, length, &id),
                std::string("defining the dimension '") + name + "'");
    return id;
  }

  int variable(const char* name, nc_type type, std::vector<int> dims) const {
    int id = -1;
    file_.check(nc_def_var(group_, name, type, static_cast<int>(dims.size()), dims.data(), &id),
                std::string("defining the variable '") + name + "'");
    if (type == NC_DOUBLE) {
      const double fill = std::numeric_limits<double>::quiet_NaN();
      file_.check(nc_def_var_fill(group_, id, 0, &fill),
                  std::string("setting the fill value of '") + name + "'");
    }
    return id;
  }

  void text(const char* name, const std::string& value, int var = NC_GLOBAL) const {
    file_.check(nc_put_att_text(group_, var, name, value.size(), value.c_str()),
                std::string("writing the attribute '") + name + "'");
  }

  void number(const char* name, double value) const {
    file_.check(nc_put_att_double(group_, NC_GLOBAL, name, NC_DOUBLE, 1, &value),
                std::string("writing the attribute '") + name + "'");
  }

  void integer(const char* name, long long value) const {
    file_.check(nc_put_att_longlong(group_, NC_GLOBAL, name, NC_INT64, 1, &value),
                std::string("writing the attribute '") + name + "'");
  }

  // Index coordinate 0..n−1 of an existing dimension, as ArviZ writes for chain and draw.
  void index_coordinate(int var, size_t n) const {
    std::vector<long long> index(n);
    std::iota(index.begin(), index.end(), 0LL);
    file_.check(nc_put_var_longlong(group_, var, index.data()), "writing a coordinate");
  }

  void doubles(int var, const double* values, const char* name) const {
    file_.check(nc_put_var_double(group_, var, values),
                std::string("writing the variable '") + name + "'");
  }

  void integers(int var, const int64_t* values, const char* name) const {
    static_assert(sizeof(long long) == sizeof(int64_t));
    file_.check(nc_put_var_longlong(group_, var, reinterpret_cast<const long long*>(values)),
                std::string("writing the variable '") + name + "'");
  }

  void strings(int var, const std::vector<std::string>& values, const char* name) const {
    std::vector<const char*> pointers;
    pointers.reserve(values.size());
    for (const std::string& value : values) {
      pointers.push_back(value.c_str());
    }
    file_.check(nc_put_var_string(group_, var, pointers.data()),
                std::string("writing the variable '") + name + "'");
  }

  void provenance() const {
    text("created_by", kLibraryName);
    text("inference_library", kLibraryName);
    text("inference_library_version", version());
  }

 private:
  const TemporaryDataset& file_;
  int group_;
};

void check_sizes(const std::string& path, const SamplerRun& run,
                 const std::vector<std::string>& parameter_names) {
  const Draws& d = run.draws;
  if (d.chains < 1 || d.draws < 1 || d.dim < 1) {
    throw make_error(path,
                     "the draws have shape (" + std::to_string(d.chains) + ", " +
                         std::to_string(d.draws) + ", " + std::to_string(d.dim) +
                         "), and every dimension must be at least 1",
                     "Write draws of a run with at least one chain, draw and parameter");
  }
  const size_t cells = static_cast<size_t>(d.chains) * static_cast<size_t>(d.draws);
  if (d.values.size() != cells * static_cast<size_t>(d.dim) || d.log_density.size() != cells ||
      run.step_size.size() != static_cast<size_t>(d.chains) ||
      parameter_names.size() != static_cast<size_t>(d.dim)) {
    throw make_error(path,
                     "the draws (" + std::to_string(d.values.size()) + " values, " +
                         std::to_string(d.log_density.size()) + " log-densities, " +
                         std::to_string(run.step_size.size()) + " step sizes, " +
                         std::to_string(parameter_names.size()) +
                         " parameter names) do not match the shape (" + std::to_string(d.chains) +
                         ", " + std::to_string(d.draws) + ", " + std::to_string(d.dim) + ")",
                     "Pass the draws of a finished run before they are released");
  }
}

void write_posterior(const TemporaryDataset& file, const Draws& d,
                     const std::vector<std::string>& parameter_names) {
  int group = -1;
  file.check(nc_def_grp(file.id(), "posterior", &group), "defining the group 'posterior'");
  const GroupWriter g(file, group);
  const int chain = g.dimension("chain", static_cast<size_t>(d.chains));
  const int draw = g.dimension("draw", static_cast<size_t>(d.draws));
  const int parameter = g.dimension("parameter", static_cast<size_t>(d.dim));
  const int chain_var = g.variable("chain", NC_INT64, {chain});
  const int draw_var = g.variable("draw", NC_INT64, {draw});
  const int parameter_var = g.variable("parameter", NC_STRING, {parameter});
  const int theta = g.variable("theta", NC_DOUBLE, {chain, draw, parameter});
  g.provenance();
  g.index_coordinate(chain_var, static_cast<size_t>(d.chains));
  g.index_coordinate(draw_var, static_cast<size_t>(d.draws));
  g.strings(parameter_var, parameter_names, "parameter");
  g.doubles(theta, d.values.data(), "theta");
}

void write_sample_stats(const TemporaryDataset& file, const SamplerRun& run) {
  const Draws& d = run.draws;
  const RunSettings& s = run.settings;
  int group = -1;
  file.check(nc_def_grp(file.id(), "sample_stats", &group), "defining the group 'sample_stats'");
  const GroupWriter g(file, group);
  const int chain = g.dimension("chain", static_cast<size_t>(d.chains));
  const int draw = g.dimension("draw", static_cast<size_t>(d.draws));
  const int chain_var = g.variable("chain", NC_INT64, {chain});
  const int draw_var = g.variable("draw", NC_INT64, {draw});
  const int lp = g.variable("lp", NC_DOUBLE, {chain, draw});
  const int step_size = g.variable("step_size", NC_DOUBLE, {chain, draw});
  // Per-draw statistics of a run; draws assembled by hand may lack them.
  const bool per_draw = d.has_statistics();
  int accept_prob = -1, accepted = -1, nonfinite = -1, floor_hits = -1;
  if (per_draw) {
    accept_prob = g.variable("acceptance_rate", NC_DOUBLE, {chain, draw});
    g.text("long_name", "min(1, alpha) of the transition that made the draw", accept_prob);
    accepted = g.variable("accepted", NC_INT64, {chain, draw});
    g.text("long_name", "proposals accepted since the previous kept draw", accepted);
    nonfinite = g.variable("nonfinite_rejections", NC_INT64, {chain, draw});
    g.text("long_name", "proposals rejected for a non-finite value since the previous kept draw",
           nonfinite);
    floor_hits = g.variable("curvature_floor_hits", NC_INT64, {chain, draw});
    g.text("long_name", "curvatures that took the floor since the previous kept draw", floor_hits);
  }

  g.provenance();
  g.text("sampler", std::string(sampler_name(s.options.kind)));
  g.integer("chains", s.chains);
  g.integer("warmup", s.warmup);
  // ArviZ's name for the number of warmup transitions.
  g.integer("tuning_steps", s.warmup);
  g.integer("draws", s.draws);
  g.integer("thin", s.thin);
  // A string, because NetCDF readers differ in their support of unsigned 64-bit attributes.
  g.text("seed", std::to_string(s.seed));
  g.text("step_size_setting", s.step_size ? std::to_string(*s.step_size) : "auto");
  g.number("target_accept", run.target_accept);
  // NetCDF attributes have no boolean type, so flags are stored as 0 or 1.
  g.integer("adapt_per_chain", s.adapt_per_chain ? 1 : 0);
  g.text("backend", s.backend == Backend::cuda ? "cuda" : "cpu");
  g.integer("sqrt_dim", s.options.sqrt_dim ? 1 : 0);
  g.integer("aligned", s.options.aligned ? 1 : 0);
  g.integer("persistent", s.options.persistent ? 1 : 0);
  g.integer("uncached", s.options.uncached ? 1 : 0);
  g.text("pc_form", s.options.pc_form == PcForm::reference ? "reference" : "paper");
  g.number("curvature_floor", s.options.curvature_floor);
  g.integer("curvature_tangents", s.options.curvature_tangents);
  g.number("acceptance_rate", run.acceptance_rate);
  g.number("accept_prob", run.accept_prob);
  g.integer("nonfinite_rejections", run.nonfinite_rejections);
  g.integer("curvature_floor_hits", run.curvature_floor_hits);
  g.integer("step_size_at_floor", run.step_size_at_floor ? 1 : 0);
  g.number("warmup_time", run.seconds_warmup);
  g.number("sampling_time", run.seconds_sampling);

  g.index_coordinate(chain_var, static_cast<size_t>(d.chains));
  g.index_coordinate(draw_var, static_cast<size_t>(d.draws));
  g.doubles(lp, d.log_density.data(), "lp");
  if (per_draw) {
    g.doubles(step_size, d.step_size.data(), "step_size");
    g.doubles(accept_prob, d.accept_prob.data(), "acceptance_rate");
    g.integers(accepted, d.accepted.data(), "accepted");
    g.integers(nonfinite, d.nonfinite.data(), "nonfinite_rejections");
    g.integers(floor_hits, d.floor_hits.data(), "curvature_floor_hits");
    return;
  }
  std::vector<double> steps(static_cast<size_t>(d.chains) * static_cast<size_t>(d.draws));
  for (size_t c = 0; c < static_cast<size_t>(d.chains); ++c) {
    std::fill_n(steps.begin() + static_cast<std::ptrdiff_t>(c * static_cast<size_t>(d.draws)),
                d.draws, static_cast<double>(run.step_size[c]));
  }
  g.doubles(step_size, steps.data(), "step_size");
}

}  // namespace

void write_inference_data_netcdf(const std::string& path, const SamplerRun& run,
                                 const std::vector<std::string>& parameter_names) {
  static_assert(std::is_same_v<Real, double>, "the file stores float64 draws");
  check_sizes(path, run, parameter_names);
  TemporaryDataset file(path);
  const GroupWriter root(file, file.id());
  root.provenance();
  write_posterior(file, run.draws, parameter_names);
  write_sample_stats(file, run);
  file.commit();
}

}  // namespace fmala::io
