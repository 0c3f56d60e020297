// Tests for the InferenceData NetCDF4 writer: the file is read back with the
// netCDF C library, and replacement is checked to be atomic.

#include <gtest/gtest.h>
#include <netcdf.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fmala/core/error.hpp"
#include "fmala/io/netcdf.hpp"
#include "fmala/run.hpp"
#include "fmala/targets/builtin.hpp"

namespace fs = std::filesystem;

namespace {

constexpr int kChains = 3;
constexpr int kDraws = 5;
constexpr int kDim = 2;

// Draw value of (chain c, draw s, parameter j). The 1/3 term has no short binary
// expansion, so a lossy conversion anywhere would show in the exact comparison.
double draw_value(int c, int s, int j) { return 100.0 * c + 10.0 * s + j + 1.0 / 3.0; }

double log_density_value(int c, int s) { return -(c * kDraws + s) - 0.125; }

fmala::SamplerRun make_run() {
  fmala::SamplerRun run;
  run.settings.options.kind = fmala::SamplerKind::mala;
  run.settings.chains = kChains;
  run.settings.draws = kDraws;
  run.settings.warmup = 7;
  run.settings.seed = 42;
  fmala::Draws& d = run.draws;
  d.chains = kChains;
  d.draws = kDraws;
  d.dim = kDim;
  for (int c = 0; c < kChains; ++c) {
    for (int s = 0; s < kDraws; ++s) {
      for (int j = 0; j < kDim; ++j) {
        d.values.push_back(draw_value(c, s, j));
      }
      d.log_density.push_back(log_density_value(c, s));
    }
  }
  run.step_size = {0.5, 0.25, 0.125};
  run.acceptance_rate = 0.625;
  run.accept_prob = 0.5;
  run.nonfinite_rejections = 3;
  run.curvature_floor_hits = 4;
  return run;
}

const std::vector<std::string> kNames = {"alpha", "beta"};

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "fmala-netcdf-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return (fs::path(path_) / name).string(); }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(path_)) {
      names.push_back(entry.path().filename().string());
    }
    return names;
  }

 private:
  std::string path_;
};

// Open netCDF dataset, closed on scope exit.
class Dataset {
 public:
  explicit Dataset(const std::string& path) { status_ = nc_open(path.c_str(), NC_NOWRITE, &id_); }
  ~Dataset() {
    if (status_ == NC_NOERR) {
      nc_close(id_);
    }
  }
  int status() const { return status_; }
  int id() const { return id_; }
  int group(const char* name) const {
    int gid = -1;
    EXPECT_EQ(nc_inq_grp_ncid(id_, name, &gid), NC_NOERR) << name;
    return gid;
  }

 private:
  int id_ = -1;
  int status_ = NC_NOERR;
};

size_t dimension_length(int group, const char* name) {
  int dim = -1;
  size_t length = 0;
  EXPECT_EQ(nc_inq_dimid(group, name, &dim), NC_NOERR) << name;
  EXPECT_EQ(nc_inq_dimlen(group, dim, &length), NC_NOERR) << name;
  return length;
}

std::vector<std::string> variable_dimensions(int group, const char* name) {
  int var = -1;
  int ndims = 0;
  EXPECT_EQ(nc_inq_varid(group, name, &var), NC_NOERR) << name;
  EXPECT_EQ(nc_inq_varndims(group, var, &ndims), NC_NOERR) << name;
  std::vector<int> ids(static_cast<size_t>(ndims));
  EXPECT_EQ(nc_inq_vardimid(group, var, ids.data()), NC_NOERR) << name;
  std::vector<std::string> names;
  for (int id : ids) {
    char dim_name[NC_MAX_NAME + 1] = {};
    EXPECT_EQ(nc_inq_dimname(group, id, dim_name), NC_NOERR);
    names.emplace_back(dim_name);
  }
  return names;
}

std::vector<double> read_doubles(int group, const char* name, size_t count) {
  int var = -1;
  EXPECT_EQ(nc_inq_varid(group, name, &var), NC_NOERR) << name;
  std::vector<double> values(count);
  EXPECT_EQ(nc_get_var_double(group, var, values.data()), NC_NOERR) << name;
  return values;
}

std::vector<long long> read_int64(int group, const char* name, size_t count) {
  int var = -1;
  nc_type type = NC_NAT;
  EXPECT_EQ(nc_inq_varid(group, name, &var), NC_NOERR) << name;
  EXPECT_EQ(nc_inq_vartype(group, var, &type), NC_NOERR) << name;
  EXPECT_EQ(type, NC_INT64) << name;
  std::vector<long long> values(count);
  EXPECT_EQ(nc_get_var_longlong(group, var, values.data()), NC_NOERR) << name;
  return values;
}

std::string text_attribute(int group, const char* name) {
  size_t length = 0;
  if (nc_inq_attlen(group, NC_GLOBAL, name, &length) != NC_NOERR) {
    return "<missing>";
  }
  std::string value(length, '\0');
  EXPECT_EQ(nc_get_att_text(group, NC_GLOBAL, name, value.data()), NC_NOERR) << name;
  return value;
}

double double_attribute(int group, const char* name) {
  double value = -1;
  EXPECT_EQ(nc_get_att_double(group, NC_GLOBAL, name, &value), NC_NOERR) << name;
  return value;
}

template <typename Action>
std::string error_message(Action action) {
  try {
    action();
  } catch (const fmala::Error& error) {
    return error.what();
  }
  return "";
}

TEST(NetcdfWriter, GroupsHaveChainDrawAndParameterDimensions) {
  TempDir dir;
  const std::string path = dir.file("draws.nc");
  fmala::io::write_inference_data_netcdf(path, make_run(), kNames);
  Dataset file(path);
  ASSERT_EQ(file.status(), NC_NOERR) << nc_strerror(file.status());
  const int posterior = file.group("posterior");
  EXPECT_EQ(dimension_length(posterior, "chain"), size_t{kChains});
  EXPECT_EQ(dimension_length(posterior, "draw"), size_t{kDraws});
  EXPECT_EQ(dimension_length(posterior, "parameter"), size_t{kDim});
  EXPECT_EQ(variable_dimensions(posterior, "theta"),
            (std::vector<std::string>{"chain", "draw", "parameter"}));
  const int stats = file.group("sample_stats");
  EXPECT_EQ(dimension_length(stats, "chain"), size_t{kChains});
  EXPECT_EQ(dimension_length(stats, "draw"), size_t{kDraws});
  EXPECT_EQ(variable_dimensions(stats, "lp"), (std::vector<std::string>{"chain", "draw"}));
  EXPECT_EQ(variable_dimensions(stats, "step_size"), (std::vector<std::string>{"chain", "draw"}));
}

TEST(NetcdfWriter, DrawsRoundTripExactlyInChainMajorOrder) {
  TempDir dir;
  const std::string path = dir.file("draws.nc");
  fmala::io::write_inference_data_netcdf(path, make_run(), kNames);
  Dataset file(path);
  ASSERT_EQ(file.status(), NC_NOERR);
  const std::vector<double> theta =
      read_doubles(file.group("posterior"), "theta", size_t{kChains * kDraws * kDim});
  for (int c = 0; c < kChains; ++c) {
    for (int s = 0; s < kDraws; ++s) {
      for (int j = 0; j < kDim; ++j) {
        EXPECT_EQ(theta[static_cast<size_t>((c * kDraws + s) * kDim + j)], draw_value(c, s, j))
            << "chain " << c << " draw " << s << " parameter " << j;
      }
    }
  }
}

TEST(NetcdfWriter, LogDensityAndStepSizeRoundTrip) {
  TempDir dir;
  const std::string path = dir.file("draws.nc");
  const fmala::SamplerRun run = make_run();
  fmala::io::write_inference_data_netcdf(path, run, kNames);
  Dataset file(path);
  ASSERT_EQ(file.status(), NC_NOERR);
  const int stats = file.group("sample_stats");
  const std::vector<double> lp = read_doubles(stats, "lp", size_t{kChains * kDraws});
  const std::vector<double> step = read_doubles(stats, "step_size", size_t{kChains * kDraws});
  for (int c = 0; c < kChains; ++c) {
    for (int s = 0; s < kDraws; ++s) {
      EXPECT_EQ(lp[static_cast<size_t>(c * kDraws + s)], log_density_value(c, s));
      // Each chain's final step size, repeated over its draws.
      EXPECT_EQ(step[static_cast<size_t>(c * kDraws + s)], run.step_size[static_cast<size_t>(c)]);
    }
  }
}

// A real run records per-draw statistics; the file stores them as (chain,
// draw) variables, and their sums over draws agree with the run's totals.
TEST(NetcdfWriter, PerDrawStatisticsOfARunRoundTrip) {
  const auto model = fmala::make_funnel_model(5);
  fmala::RunSettings settings;
  settings.options.kind = fmala::SamplerKind::pc_fmala;
  settings.chains = 6;
  settings.warmup = 40;
  settings.draws = 30;
  settings.thin = 3;
  settings.adapt_per_chain = true;
  settings.threads = 1;
  const fmala::SamplerRun run = fmala::run_sampler(*model, settings);
  ASSERT_TRUE(run.draws.has_statistics());
  TempDir dir;
  const std::string path = dir.file("draws.nc");
  std::vector<std::string> names;
  for (int j = 0; j < model->dim(); ++j) {
    names.push_back(model->parameter_name(j));
  }
  fmala::io::write_inference_data_netcdf(path, run, names);
  Dataset file(path);
  ASSERT_EQ(file.status(), NC_NOERR);
  const int stats = file.group("sample_stats");
  const size_t cells = 6 * 30;
  const std::vector<double> accept = read_doubles(stats, "acceptance_rate", cells);
  const std::vector<double> step = read_doubles(stats, "step_size", cells);
  const std::vector<long long> accepted = read_int64(stats, "accepted", cells);
  const std::vector<long long> nonfinite = read_int64(stats, "nonfinite_rejections", cells);
  const std::vector<long long> floors = read_int64(stats, "curvature_floor_hits", cells);
  EXPECT_EQ(variable_dimensions(stats, "acceptance_rate"), (std::vector<std::string>{"chain", "draw"}));
  long long accepted_sum = 0;
  for (size_t i = 0; i < cells; ++i) {
    EXPECT_EQ(accept[i], run.draws.accept_prob[i]);
    EXPECT_GE(accept[i], 0.0);
    EXPECT_LE(accept[i], 1.0);
    // Per-chain adaptation ends with one step size per chain.
    EXPECT_EQ(step[i], run.step_size[i / 30]);
    EXPECT_GE(accepted[i], 0);
    EXPECT_LE(accepted[i], 3);  // at most thin proposals between kept draws
    EXPECT_GE(nonfinite[i], 0);
    EXPECT_GE(floors[i], 0);
    accepted_sum += accepted[i];
  }
  // The run's acceptance rate counts the same post-warmup transitions.
  EXPECT_NEAR(static_cast<double>(accepted_sum) / (cells * 3), run.acceptance_rate, 1e-12);
}

TEST(NetcdfWriter, CoordinatesAreIndicesAndParameterNames) {
  TempDir dir;
  const std::string path = dir.file("draws.nc");
  fmala::io::write_inference_data_netcdf(path, make_run(), kNames);
  Dataset file(path);
  ASSERT_EQ(file.status(), NC_NOERR);
  for (const char* group_name : {"posterior", "sample_stats"}) {
    const int group = file.group(group_name);
    EXPECT_EQ(read_int64(group, "chain", kChains), (std::vector<long long>{0, 1, 2})) << group_name;
    EXPECT_EQ(read_int64(group, "draw", kDraws), (std::vector<long long>{0, 1, 2, 3, 4}))
        << group_name;
  }
  const int posterior = file.group("posterior");
  int var = -1;
  ASSERT_EQ(nc_inq_varid(posterior, "parameter", &var), NC_NOERR);
  char* names[kDim] = {};
  ASSERT_EQ(nc_get_var_string(posterior, var, names), NC_NOERR);
  EXPECT_STREQ(names[0], "alpha");
  EXPECT_STREQ(names[1], "beta");
  nc_free_string(kDim, names);
}

TEST(NetcdfWriter, AttributesNameLibrarySamplerAndStatistics) {
  TempDir dir;
  const std::string path = dir.file("draws.nc");
  fmala::io::write_inference_data_netcdf(path, make_run(), kNames);
  Dataset file(path);
  ASSERT_EQ(file.status(), NC_NOERR);
  EXPECT_EQ(text_attribute(file.id(), "created_by"), "fmala");
  EXPECT_EQ(text_attribute(file.group("posterior"), "inference_library"), "fmala");
  const int stats = file.group("sample_stats");
  EXPECT_EQ(text_attribute(stats, "sampler"), "mala");
  EXPECT_EQ(text_attribute(stats, "seed"), "42");
  EXPECT_EQ(text_attribute(stats, "step_size_setting"), "auto");
  EXPECT_EQ(double_attribute(stats, "acceptance_rate"), 0.625);
  EXPECT_EQ(double_attribute(stats, "accept_prob"), 0.5);
  EXPECT_EQ(double_attribute(stats, "nonfinite_rejections"), 3.0);
  EXPECT_EQ(double_attribute(stats, "curvature_floor_hits"), 4.0);
  EXPECT_EQ(double_attribute(stats, "tuning_steps"), 7.0);
}

TEST(NetcdfWriter, MissingDirectoryIsErrorNamingPath) {
  TempDir dir;
  const std::string path = dir.file("absent/draws.nc");
  const std::string message =
      error_message([&] { fmala::io::write_inference_data_netcdf(path, make_run(), kNames); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("does not exist"), std::string::npos) << message;
}

TEST(NetcdfWriter, MismatchedSizesAreRejectedBeforeWriting) {
  TempDir dir;
  const std::string path = dir.file("draws.nc");
  fmala::SamplerRun run = make_run();
  run.draws.log_density.pop_back();
  const std::string message =
      error_message([&] { fmala::io::write_inference_data_netcdf(path, run, kNames); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_TRUE(dir.entries().empty());
}

TEST(NetcdfWriter, ReplacesExistingFileAndLeavesNoTemporaryFile) {
  TempDir dir;
  const std::string path = dir.file("draws.nc");
  std::ofstream(path) << "an earlier file";
  fmala::io::write_inference_data_netcdf(path, make_run(), kNames);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"draws.nc"});
  Dataset file(path);
  EXPECT_EQ(file.status(), NC_NOERR) << nc_strerror(file.status());
}

// A non-empty directory at the destination makes the final rename fail after the
// whole file was written, which exercises the cleanup of the temporary file.
TEST(NetcdfWriter, FailedRenameRemovesTemporaryFile) {
  TempDir dir;
  const std::string path = dir.file("draws.nc");
  fs::create_directory(path);
  std::ofstream((fs::path(path) / "keep").string()) << "x";
  const std::string message =
      error_message([&] { fmala::io::write_inference_data_netcdf(path, make_run(), kNames); });
  EXPECT_NE(message.find("renaming"), std::string::npos) << message;
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"draws.nc"});
  EXPECT_TRUE(fs::exists(fs::path(path) / "keep"));
}

}  // namespace
