#pragma once
// Kept draws that may reach the host after the transitions that follow them.
//
// An engine records a draw in one of two ways. A synchronous engine (the CPU
// engine) provides record(out, index), which writes θ and f of every chain
// at once, and the driver then reads counters(). A deferring engine (the
// CUDA engine) provides
//
//   void record(Draws& out, int index, DrawDone done);
//   void finish_records();           // completes every draw still on its way
//   void cancel_records() noexcept;  // drops them, for a run that failed
//
// Its record() only starts the copies. The engine completes the draw at its
// next record() or finish_records() at the latest: then the draw's values
// land in `out`, and `done` runs with the counters of the moment the draw
// was taken. Draws complete in the order they were recorded.

#include <algorithm>
#include <cstddef>
#include <functional>
#include <utility>

#include "fmala/backend/buffer_layout.hpp"
#include "fmala/model/model.hpp"
#include "fmala/run.hpp"

namespace fmala {

// The (C) values of Real type that a kept draw carries besides the states:
// f, Σ min(1, α), η and the last min(1, α), in that order in a staging buffer.
inline constexpr int kDrawStagingScalars = 4;

// Called once a kept draw's values are in place, with the counters as they
// were when the draw was taken.
using DrawDone = std::function<void(const EngineCounters&)>;

template <class Engine>
concept DefersRecords = requires(Engine& engine, Draws& out, DrawDone done) {
  engine.record(out, 0, std::move(done));
  engine.finish_records();
  { engine.cancel_records() } noexcept;
};

// Writes draw `index` of every chain into `out`: the states (C, D), unless
// theta is null (the values went elsewhere), and the log-densities (C).
inline void store_draw(Draws& out, int index, int chains, int dim, const Real* theta, const Real* f) {
  for (int k = 0; k < chains; ++k) {
    const size_t slot = static_cast<size_t>(k) * static_cast<size_t>(out.draws) + static_cast<size_t>(index);
    if (theta != nullptr) {
      std::copy(theta + static_cast<size_t>(k) * dim, theta + static_cast<size_t>(k + 1) * dim,
                out.values.begin() + static_cast<std::ptrdiff_t>(slot * static_cast<size_t>(dim)));
    }
    out.log_density[slot] = f[k];
  }
}

// The counters of C chains from the arrays in which the engines keep them.
// `counts` contains the accepted, non-finite and floor counts, (C) each, back to back.
static_assert(kCounterBuffers == 3, "counters_from reads three counters");

inline EngineCounters counters_from(int chains, const int64_t* counts, const Real* accept_prob_sum,
                                    const Real* step_size, const Real* last_accept_prob) {
  const size_t c = static_cast<size_t>(chains);
  EngineCounters out;
  out.accepted.assign(counts, counts + c);
  out.nonfinite.assign(counts + c, counts + 2 * c);
  out.floor_hits.assign(counts + 2 * c, counts + 3 * c);
  out.accept_prob_sum.assign(accept_prob_sum, accept_prob_sum + c);
  out.step_size.assign(step_size, step_size + c);
  out.last_accept_prob.assign(last_accept_prob, last_accept_prob + c);
  return out;
}

// The one kept draw that a deferring engine has started and not completed.
class DrawInFlight {
 public:
  void start(Draws& out, int index, DrawDone done) {
    out_ = &out;
    index_ = index;
    done_ = std::move(done);
  }
  bool active() const { return out_ != nullptr; }
  // Stores the draw (see store_draw) and calls its `done` with `counters`.
  // The draw is no longer in flight even when `done` throws.
  void complete(int chains, int dim, const Real* theta, const Real* f, const EngineCounters& counters) {
    Draws& out = *out_;
    const DrawDone done = std::exchange(done_, nullptr);
    out_ = nullptr;
    store_draw(out, index_, chains, dim, theta, f);
    done(counters);
  }
  void cancel() noexcept {
    out_ = nullptr;
    done_ = nullptr;
  }

 private:
  Draws* out_ = nullptr;
  int index_ = 0;
  DrawDone done_;
};

// The driver's side of both ways: `done` runs now for a synchronous engine.
template <class Engine>
void record_draw(Engine& engine, Draws& out, int index, DrawDone done) {
  if constexpr (DefersRecords<Engine>) {
    engine.record(out, index, std::move(done));
  } else {
    engine.record(out, index);
    done(engine.counters());
  }
}

template <class Engine>
void finish_records(Engine& engine) {
  if constexpr (DefersRecords<Engine>) {
    engine.finish_records();
  }
}

// Cancels a deferring engine's draws in flight when the run leaves early.
template <class Engine>
class CancelRecordsOnExit {
 public:
  explicit CancelRecordsOnExit(Engine& engine) : engine_(engine) {}
  CancelRecordsOnExit(const CancelRecordsOnExit&) = delete;
  CancelRecordsOnExit& operator=(const CancelRecordsOnExit&) = delete;
  ~CancelRecordsOnExit() {
    if constexpr (DefersRecords<Engine>) {
      engine_.cancel_records();
    }
  }

 private:
  Engine& engine_;
};

}  // namespace fmala
