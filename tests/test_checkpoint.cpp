// Checkpoints: a run stopped at any transition and resumed from its
// checkpoint file gives draws, step sizes and counters bit-identical to a run
// that never stopped; damaged or foreign checkpoint files are clear errors.

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "fmala/core/error.hpp"
#include "fmala/io/checkpoint.hpp"
#include "fmala/io/regression_data.hpp"
#include "fmala/model/mlp.hpp"
#include "fmala/random/philox.hpp"
#include "fmala/run.hpp"
#include "fmala/targets/builtin.hpp"

namespace fmala {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("fmala-checkpoint-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

RunSettings small_settings(SamplerOptions options, bool per_chain) {
  RunSettings s;
  s.options = options;
  s.chains = 8;
  s.warmup = 60;
  s.draws = 40;
  s.thin = 2;
  s.seed = 11;
  s.adapt_per_chain = per_chain;
  s.threads = 2;
  return s;
}

// Runs `settings`, stopping after each transition count in `stops` and
// resuming from the checkpoint file, until the run ends.
SamplerRun run_with_stops(const Model& model, const RunSettings& settings, const std::vector<int64_t>& stops,
                          const std::string& file, int* stopped) {
  RunCheckpoint resumed;
  bool have_checkpoint = false;
  *stopped = 0;
  for (size_t segment = 0;; ++segment) {
    RunControl control;
    if (have_checkpoint) {
      resumed = io::read_checkpoint(file, settings, model.dim());
      control.resume = &resumed;
    }
    const int64_t stop_at = segment < stops.size() ? stops[segment] : -1;
    control.save = [&file](const RunCheckpoint& c) { io::write_checkpoint(file, c); };
    control.stop_requested = [stop_at, first = have_checkpoint ? resumed.done : int64_t(0),
                              polls = int64_t(0)]() mutable { return first + ++polls == stop_at; };
    try {
      return run_sampler(model, settings, {}, control);
    } catch (const RunStopped& e) {
      EXPECT_EQ(e.done(), stop_at);
      ++*stopped;
      have_checkpoint = true;
    }
  }
}

void expect_same_run(const SamplerRun& a, const SamplerRun& b) {
  ASSERT_EQ(a.draws.values.size(), b.draws.values.size());
  for (size_t i = 0; i < a.draws.values.size(); ++i) {
    ASSERT_EQ(a.draws.values[i], b.draws.values[i]) << "value " << i;
  }
  for (size_t i = 0; i < a.draws.log_density.size(); ++i) {
    ASSERT_EQ(a.draws.log_density[i], b.draws.log_density[i]) << "log-density " << i;
  }
  EXPECT_EQ(a.draws.accept_prob, b.draws.accept_prob);
  EXPECT_EQ(a.draws.step_size, b.draws.step_size);
  EXPECT_EQ(a.draws.accepted, b.draws.accepted);
  EXPECT_EQ(a.draws.nonfinite, b.draws.nonfinite);
  EXPECT_EQ(a.draws.floor_hits, b.draws.floor_hits);
  EXPECT_EQ(a.step_size, b.step_size);
  EXPECT_EQ(a.acceptance_rate, b.acceptance_rate);
  EXPECT_EQ(a.accept_prob, b.accept_prob);
  EXPECT_EQ(a.nonfinite_rejections, b.nonfinite_rejections);
  EXPECT_EQ(a.curvature_floor_hits, b.curvature_floor_hits);
  EXPECT_EQ(a.evaluations, b.evaluations);
}

struct Case {
  const char* name;
  SamplerOptions options;
};

std::vector<Case> cases() {
  std::vector<Case> all;
  for (SamplerKind kind : kAllSamplers) {
    SamplerOptions o;
    o.kind = kind;
    all.push_back({sampler_name(kind).data(), o});
  }
  SamplerOptions persistent;
  persistent.kind = SamplerKind::pc_fmala;
  persistent.persistent = true;
  all.push_back({"pc-fmala --persistent", persistent});
  SamplerOptions persistent_tangents = persistent;
  persistent_tangents.curvature_tangents = 3;
  all.push_back({"pc-fmala --persistent --curvature-tangents 3", persistent_tangents});
  SamplerOptions line_tangents;
  line_tangents.kind = SamplerKind::pc_line_fmala;
  line_tangents.curvature_tangents = 3;
  all.push_back({"pc-line-fmala --curvature-tangents 3", line_tangents});
  SamplerOptions jittered;
  jittered.kind = SamplerKind::line_hmc;
  jittered.leapfrog_steps = 3;
  jittered.jitter = Real(0.3);
  all.push_back({"line-hmc --jitter", jittered});
  return all;
}

// Stops in mid-warmup, at the last warmup transition, at the first sampling
// transition, between kept draws and twice in one run.
const std::vector<std::vector<int64_t>> kStopPlans = {{37}, {60}, {61}, {60 + 23}, {20, 70}};

TEST(Checkpoint, EverySamplerResumesBitIdenticallyOnTheFunnel) {
  const auto model = make_funnel_model(6);
  TempDir dir;
  for (const Case& c : cases()) {
    for (bool per_chain : {false, true}) {
      const RunSettings settings = small_settings(c.options, per_chain);
      const SamplerRun reference = run_sampler(*model, settings);
      for (const auto& plan : kStopPlans) {
        SCOPED_TRACE(std::string(c.name) + (per_chain ? " per chain" : " shared") + ", first stop " +
                     std::to_string(plan.front()));
        int stopped = 0;
        const SamplerRun resumed = run_with_stops(*model, settings, plan, dir.file("run.ckpt"), &stopped);
        EXPECT_EQ(stopped, static_cast<int>(plan.size()));
        expect_same_run(reference, resumed);
      }
    }
  }
}

TEST(Checkpoint, FixedStepAndNoWarmupResume) {
  const auto model = make_gaussian_model(4, Real(0.5));
  TempDir dir;
  RunSettings settings = small_settings(SamplerOptions{}, false);
  settings.step_size = Real(0.4);
  settings.warmup = 0;
  const SamplerRun reference = run_sampler(*model, settings);
  int stopped = 0;
  const SamplerRun resumed = run_with_stops(*model, settings, {1, 5, 33}, dir.file("run.ckpt"), &stopped);
  EXPECT_EQ(stopped, 3);
  expect_same_run(reference, resumed);
}

std::shared_ptr<io::RegressionData> small_regression_data() {
  auto data = std::make_shared<io::RegressionData>();
  data->n_features = 3;
  Stream stream(3, 0, 0, Draw::noise);
  for (int i = 0; i < 40 * 3; ++i) {
    data->train_x.push_back(stream.normal());
  }
  for (int i = 0; i < 40; ++i) {
    data->train_y.push_back(0.5 * data->train_x[3 * i] + 0.1 * stream.normal());
  }
  data->test_x = std::vector<double>(data->train_x.begin(), data->train_x.begin() + 30);
  data->test_y = std::vector<double>(data->train_y.begin(), data->train_y.begin() + 10);
  data->x_mean.assign(3, 0.0);
  data->x_sd.assign(3, 1.0);
  return data;
}

TEST(Checkpoint, MlpResumesBitIdentically) {
  MlpConfig config;
  config.hidden = {6};
  config.tile = 16;
  const MlpRegression model(small_regression_data(), config);
  TempDir dir;
  for (SamplerKind kind : {SamplerKind::mala, SamplerKind::pc_line_fmala}) {
    SamplerOptions o;
    o.kind = kind;
    const RunSettings settings = small_settings(o, true);
    const SamplerRun reference = run_sampler(model, settings);
    int stopped = 0;
    const SamplerRun resumed = run_with_stops(model, settings, {30, 90}, dir.file("mlp.ckpt"), &stopped);
    EXPECT_EQ(stopped, 2);
    expect_same_run(reference, resumed);
  }
}

// Writes a checkpoint of the funnel stopped after 70 transitions; returns the settings.
RunSettings write_stopped_checkpoint(const Model& model, const std::string& file) {
  SamplerOptions o;
  o.kind = SamplerKind::mala;
  const RunSettings settings = small_settings(o, true);
  int stopped = 0;
  RunControl control;
  control.save = [&file](const RunCheckpoint& c) { io::write_checkpoint(file, c); };
  control.stop_requested = [polls = 0]() mutable { return ++polls == 70; };
  EXPECT_THROW(run_sampler(model, settings, {}, control), RunStopped);
  (void)stopped;
  return settings;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string error_of(const std::string& path, const RunSettings& settings, int dim) {
  try {
    io::read_checkpoint(path, settings, dim);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Checkpoint, DamagedFilesAreErrorsNamingTheFile) {
  const auto model = make_funnel_model(6);
  TempDir dir;
  const std::string good = dir.file("good.ckpt");
  const RunSettings settings = write_stopped_checkpoint(*model, good);
  const std::string bytes = read_bytes(good);
  ASSERT_GT(bytes.size(), 200u);
  EXPECT_EQ(error_of(good, settings, 6), "");

  const std::string bad = dir.file("bad.ckpt");
  // Every truncation, at a spread of lengths, is an error, never a crash.
  for (size_t n = 0; n < bytes.size(); n += 1 + n / 7) {
    write_bytes(bad, bytes.substr(0, n));
    const std::string message = error_of(bad, settings, 6);
    EXPECT_NE(message.find(bad), std::string::npos) << "length " << n << ": " << message;
  }
  // One flipped bit anywhere in the payload fails the checksum or a check before it.
  for (size_t at : {size_t(40), bytes.size() / 2, bytes.size() - 20}) {
    std::string flipped = bytes;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x10);
    write_bytes(bad, flipped);
    EXPECT_NE(error_of(bad, settings, 6), "") << "flipped byte " << at;
  }
  std::string flipped = bytes;
  flipped[bytes.size() - 20] = static_cast<char>(flipped[bytes.size() - 20] ^ 0x10);
  write_bytes(bad, flipped);
  EXPECT_NE(error_of(bad, settings, 6).find("checksum"), std::string::npos);

  std::string magic = bytes;
  magic[0] = 'X';
  write_bytes(bad, magic);
  EXPECT_NE(error_of(bad, settings, 6).find("magic"), std::string::npos);

  std::string version = bytes;
  version[8] = 9;
  write_bytes(bad, version);
  EXPECT_NE(error_of(bad, settings, 6).find("version 9"), std::string::npos);

  write_bytes(bad, bytes + "extra");
  EXPECT_NE(error_of(bad, settings, 6).find("does not match its header"), std::string::npos);

  EXPECT_NE(error_of(dir.file("missing.ckpt"), settings, 6).find("cannot open"), std::string::npos);
}

TEST(Checkpoint, ForeignRunsAreRejectedBeforeAllocating) {
  const auto model = make_funnel_model(6);
  TempDir dir;
  const std::string file = dir.file("run.ckpt");
  const RunSettings settings = write_stopped_checkpoint(*model, file);
  RunSettings other = settings;
  other.chains = 9;
  EXPECT_NE(error_of(file, other, 6).find("the number of chains is 8 in the checkpoint but 9"), std::string::npos);
  other = settings;
  other.seed = 12;
  EXPECT_NE(error_of(file, other, 6).find("the seed is 11"), std::string::npos);
  other = settings;
  other.options.kind = SamplerKind::fmala;
  EXPECT_NE(error_of(file, other, 6).find("the sampler is 'mala'"), std::string::npos);
  EXPECT_NE(error_of(file, settings, 7).find("the number of parameters is 6"), std::string::npos);
  other = settings;
  other.adapt_per_chain = false;
  EXPECT_NE(error_of(file, other, 6).find("do not fit this run"), std::string::npos);

  // A header asking for 2^31 − 1 chains meets the settings' check first.
  std::string bytes = read_bytes(file);
  const size_t chains_at = 24 + 4 + std::string("mala").size();
  const int32_t huge = 2147483647;
  bytes.replace(chains_at, 4, reinterpret_cast<const char*>(&huge), 4);
  write_bytes(file, bytes);
  EXPECT_NE(error_of(file, settings, 6).find("2147483647"), std::string::npos);
}

TEST(Checkpoint, ResumingWithOtherDataIsAnError) {
  TempDir dir;
  const std::string file = dir.file("run.ckpt");
  const auto funnel = make_funnel_model(6);
  const RunSettings settings = write_stopped_checkpoint(*funnel, file);
  RunCheckpoint checkpoint = io::read_checkpoint(file, settings, 6);
  // Same size, another density: the saved log-densities no longer hold.
  const auto gaussian = make_gaussian_model(6, Real(0));
  RunControl control;
  control.resume = &checkpoint;
  try {
    run_sampler(*gaussian, settings, {}, control);
    FAIL() << "resumed on another model";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("changed since the checkpoint"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fmala
