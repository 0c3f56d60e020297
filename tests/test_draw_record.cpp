// Kept draws that complete after the transitions that follow them, as the
// CUDA engine's copies to the host do. The driver must give the same run as
// with an engine that records at once: with thinning, streaming, checkpoints
// and stops. When a run fails, the draw in flight must be dropped.

#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "fmala/backend/cpu_engine.hpp"
#include "fmala/backend/draw_record.hpp"
#include "fmala/backend/driver.hpp"
#include "fmala/run.hpp"
#include "fmala/targets/builtin.hpp"

namespace fmala {
namespace {

// The CPU engine with the deferring form of record(): the snapshot is taken
// at record() and lands in the caller's draws at the next record() or
// finish_records(), as on the device.
class DeferringEngine : public CpuEngine {
 public:
  using CpuEngine::CpuEngine;

  void step(const StepContext& ctx, bool adapting) {
    CpuEngine::step(ctx, adapting);
    ++steps_;
  }

  void record(Draws& out, int index, DrawDone done) {
    finish_records();
    EngineState state = save_state();
    theta_ = std::move(state.theta);
    f_ = std::move(state.log_density);
    counters_ = counters();
    started_at_ = steps_;
    in_flight_.start(out, index, std::move(done));
  }

  void finish_records() {
    if (!in_flight_.active()) {
      return;
    }
    if (steps_ > started_at_) {
      ++late_;
    }
    in_flight_.complete(static_cast<int>(f_.size()), static_cast<int>(theta_.size() / f_.size()),
                        theta_.data(), f_.data(), counters_);
  }

  void cancel_records() noexcept {
    if (in_flight_.active()) {
      ++cancelled_;
    }
    in_flight_.cancel();
  }

  bool in_flight() const { return in_flight_.active(); }
  int late() const { return late_; }
  int cancelled() const { return cancelled_; }

 private:
  std::vector<Real> theta_;
  std::vector<Real> f_;
  EngineCounters counters_;
  DrawInFlight in_flight_;
  int64_t steps_ = 0;
  int64_t started_at_ = 0;
  int late_ = 0;
  int cancelled_ = 0;
};

static_assert(DefersRecords<DeferringEngine>);
static_assert(!DefersRecords<CpuEngine>);

RunSettings settings_for(SamplerKind kind, bool per_chain) {
  RunSettings s;
  s.options.kind = kind;
  s.chains = 6;
  s.warmup = 30;
  s.draws = 20;
  s.thin = 2;
  s.seed = 5;
  s.adapt_per_chain = per_chain;
  s.threads = 1;
  return s;
}

template <class Engine>
SamplerRun drive_with(Engine& engine, const Model& model, const RunSettings& settings,
                      const RunControl& control = {}) {
  const std::vector<Real> theta0 = initial_states(model, settings);
  return drive(engine, model, settings, theta0, {}, control);
}

void expect_same_draws(const Draws& a, const Draws& b) {
  EXPECT_EQ(a.values, b.values);
  EXPECT_EQ(a.log_density, b.log_density);
  EXPECT_EQ(a.accept_prob, b.accept_prob);
  EXPECT_EQ(a.step_size, b.step_size);
  EXPECT_EQ(a.accepted, b.accepted);
  EXPECT_EQ(a.nonfinite, b.nonfinite);
  EXPECT_EQ(a.floor_hits, b.floor_hits);
}

void expect_same_run(const SamplerRun& a, const SamplerRun& b) {
  expect_same_draws(a.draws, b.draws);
  EXPECT_EQ(a.step_size, b.step_size);
  EXPECT_EQ(a.acceptance_rate, b.acceptance_rate);
  EXPECT_EQ(a.accept_prob, b.accept_prob);
  EXPECT_EQ(a.nonfinite_rejections, b.nonfinite_rejections);
  EXPECT_EQ(a.curvature_floor_hits, b.curvature_floor_hits);
  EXPECT_EQ(a.stream.count, b.stream.count);
  EXPECT_EQ(a.stream.mean, b.stream.mean);
  EXPECT_EQ(a.stream.m2, b.stream.m2);
  expect_same_draws(a.stream.last, b.stream.last);
}

TEST(DeferredRecords, SameRunAsImmediate) {
  const auto model = make_funnel_model(5);
  for (const SamplerKind kind : {SamplerKind::rwmh, SamplerKind::mala, SamplerKind::fmala,
                                 SamplerKind::pc_line_fmala}) {
    for (const bool per_chain : {false, true}) {
      for (const int thin : {1, 3}) {
        SCOPED_TRACE(std::string(sampler_name(kind)) + (per_chain ? " per chain" : " shared") +
                     ", thin " + std::to_string(thin));
        RunSettings settings = settings_for(kind, per_chain);
        settings.thin = thin;
        CpuEngine direct(*model, settings.options, settings.chains, settings.seed);
        const SamplerRun reference = drive_with(direct, *model, settings);
        DeferringEngine deferring(*model, settings.options, settings.chains, settings.seed);
        const SamplerRun run = drive_with(deferring, *model, settings);
        expect_same_run(reference, run);
        // Every draw but the last completed only after later transitions ran.
        EXPECT_EQ(deferring.late(), settings.draws - 1);
        EXPECT_FALSE(deferring.in_flight());
      }
    }
  }
}

TEST(DeferredRecords, Streaming) {
  const auto model = make_funnel_model(7);
  RunSettings settings = settings_for(SamplerKind::pc_fmala, false);
  settings.stream.enabled = true;
  settings.stream.monitor = {0, 3, 6};
  settings.stream.keep_last = 7;
  CpuEngine direct(*model, settings.options, settings.chains, settings.seed);
  const SamplerRun reference = drive_with(direct, *model, settings);
  DeferringEngine deferring(*model, settings.options, settings.chains, settings.seed);
  const SamplerRun run = drive_with(deferring, *model, settings);
  ASSERT_EQ(run.stream.count, settings.draws);
  expect_same_run(reference, run);
  EXPECT_EQ(deferring.late(), settings.draws - 1);
}

TEST(DeferredRecords, StopAndResume) {
  // Stops in warmup, at its end, right after a kept draw and between two.
  // Each stop saves a checkpoint, and a fresh engine resumes from it.
  const auto model = make_funnel_model(5);
  const RunSettings settings = settings_for(SamplerKind::line_fmala, true);
  CpuEngine direct(*model, settings.options, settings.chains, settings.seed);
  const SamplerRun reference = drive_with(direct, *model, settings);
  for (const int64_t stop_at : {int64_t(17), int64_t(30), int64_t(41), int64_t(44), int64_t(69)}) {
    SCOPED_TRACE("stop after transition " + std::to_string(stop_at));
    std::optional<RunCheckpoint> saved;
    RunControl control;
    control.save = [&saved](const RunCheckpoint& c) { saved = c; };
    control.stop_requested = [stop_at, polls = int64_t(0)]() mutable { return ++polls == stop_at; };
    DeferringEngine first(*model, settings.options, settings.chains, settings.seed);
    EXPECT_THROW(drive_with(first, *model, settings, control), RunStopped);
    ASSERT_TRUE(saved.has_value());
    EXPECT_FALSE(first.in_flight());
    EXPECT_EQ(first.cancelled(), 0);

    RunCheckpoint resume = *saved;
    RunControl again;
    again.resume = &resume;
    DeferringEngine second(*model, settings.options, settings.chains, settings.seed);
    const SamplerRun run = drive_with(second, *model, settings, again);
    expect_same_run(reference, run);
  }
}

TEST(DeferredRecords, FailedRun) {
  // The progress callback fails after transition 48, whose draw has just been
  // started: that draw must not complete into the run that is gone.
  const auto model = make_funnel_model(5);
  const RunSettings settings = settings_for(SamplerKind::fmala, false);
  DeferringEngine engine(*model, settings.options, settings.chains, settings.seed);
  const std::vector<Real> theta0 = initial_states(*model, settings);
  const ProgressFn progress = [](int64_t done, int64_t) {
    if (done == 48) {
      throw std::runtime_error("progress failed");
    }
  };
  // The callback is called every 16 transitions, and 48 is a kept one.
  EXPECT_THROW(drive(engine, *model, settings, theta0, progress), std::runtime_error);
  EXPECT_EQ(engine.cancelled(), 1);
  EXPECT_FALSE(engine.in_flight());
  engine.finish_records();  // nothing left to complete
}

}  // namespace
}  // namespace fmala
