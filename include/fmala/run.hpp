#pragma once
// Running one sampler on many chains: settings, results and the entry point.

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "fmala/adapt/dual_averaging.hpp"
#include "fmala/core/config.hpp"
#include "fmala/model/model.hpp"
#include "fmala/samplers/kinds.hpp"

namespace fmala {

enum class Backend { cpu, cuda };

// Streaming: running statistics instead of every draw, so memory stops
// growing with draws × parameters. The run keeps the traces of the
// `monitor` coordinates (for R-hat, ESS and MCSE), Welford means and
// variances of every coordinate, and the last `keep_last` draws of every
// chain (for predictive metrics).
struct StreamSettings {
  bool enabled = false;
  std::vector<int> monitor;  // coordinates whose traces are kept, in this order; not empty
  int keep_last = 0;         // 0 to draws
};

struct RunSettings {
  SamplerOptions options;
  int chains = 64;
  int warmup = 1000;  // transitions before the first kept draw
  int draws = 1000;   // kept draws per chain; a run makes warmup + draws × thin transitions
  int thin = 1;
  uint64_t seed = 1;
  std::optional<Real> step_size;      // fixed η; warmup is then plain burn-in
  std::optional<Real> initial_step;   // start of dual averaging; a per-sampler guess when empty
  std::optional<Real> target_accept;  // default_target_accept(kind) when empty
  bool adapt_per_chain = false;       // one step size per chain instead of one shared
  Real min_step_fraction = Real(1e-3);  // adaptation never takes η below this × initial η
  Backend backend = Backend::cpu;
  int threads = 0;  // OpenMP threads on the CPU back end; 0 keeps the default
  StreamSettings stream;
  // 0, or K >= 2 superchains of chains / K consecutive chains each: the chains
  // of a superchain start from one initial state (its first chain's), and the
  // summary adds nested R-hat.
  int superchains = 0;
  // The global index of this run's chain 0: a run of a batch of chains
  // first_chain … first_chain + chains − 1 draws exactly what those chains
  // draw in one run of all chains (with fixed or per-chain step sizes).
  int64_t first_chain = 0;
  // The chains of the whole run when this run is one batch of it; 0: `chains`.
  int64_t all_chains = 0;
};

// The chains of the whole run that `settings` belongs to.
int64_t all_chains(const RunSettings& settings);

// Checks option combinations and ranges; throws fmala::Error naming the flag.
void validate(const RunSettings& settings, int dim);

// Initial η for dual averaging when the user gives none.
Real default_initial_step(SamplerKind kind, int dim);

// The running statistics of a streaming run.
struct DrawStream {
  std::vector<int> monitored;  // the coordinate of each column of SamplerRun::draws
  int keep_last = 0;
  int64_t count = 0;           // draws added per chain
  int chains = 0;
  int dim = 0;
  std::vector<double> mean;    // (C, D) Welford running mean per chain and coordinate
  std::vector<double> m2;      // (C, D) sum of squared deviations from it
  Draws last;                  // (C, K, D): the run's draw s at slot s mod K

  // Sizes the statistics for `chains` × `dim` and empties them.
  void start(int chains, int dim, const StreamSettings& settings);
  // Adds one kept draw of every chain; `one` has shape (C, 1, D).
  void add(const Draws& one);
  // The kept last draws, oldest first: (C, min(K, count), D).
  Draws last_in_order() const;
  // Pooled over chains: the mean and sd (divisor n − 1) of coordinate j.
  double pooled_mean(int j) const;
  double pooled_sd(int j) const;
};

struct SamplerRun {
  RunSettings settings;
  // Kept draws (C, S, D) and log-density (C, S); with streaming (C, S, M),
  // the traces of the coordinates stream.monitored.
  Draws draws;
  DrawStream stream;            // empty unless settings.stream.enabled
  std::vector<Real> step_size;  // (C) final step size per chain
  Real target_accept = 0;
  Real acceptance_rate = 0;     // fraction of accepted proposals after warmup
  Real accept_prob = 0;         // mean min(1, α) after warmup
  int64_t nonfinite_rejections = 0;  // whole run
  int64_t curvature_floor_hits = 0;  // whole run
  bool step_size_at_floor = false;   // adaptation reached its lower bound
  double seconds_warmup = 0;
  double seconds_sampling = 0;
  int64_t evaluations = 0;           // jet or gradient evaluations per chain, whole run
  size_t peak_memory_bytes = 0;      // CPU: peak host resident set size; CUDA: device memory of the engine's buffers
  int device_tile = 0;  // CUDA, network models: training rows per tile after memory planning; 0 otherwise
};

// Progress: (transitions done, transitions in all).
using ProgressFn = std::function<void(int64_t, int64_t)>;

// Per-chain counters of an engine, copied to the host.
struct EngineCounters {
  std::vector<int64_t> accepted;     // (C)
  std::vector<int64_t> nonfinite;    // (C)
  std::vector<int64_t> floor_hits;   // (C)
  std::vector<Real> accept_prob_sum; // (C) Σ min(1, α) over the run
  std::vector<Real> step_size;       // (C)
  std::vector<Real> last_accept_prob;  // (C) min(1, α) of the last transition
};

// Everything an engine carries from one transition to the next, on the host.
struct EngineState {
  std::vector<Real> theta;        // (C, D) current states
  std::vector<Real> grad;         // (C, D) cached ∇f(θ): MALA only, else empty
  std::vector<Real> tangent;      // (C, D) the kept tangent: --persistent only, else empty
  std::vector<Real> log_density;  // (C) f(θ), to check the model on resume
  std::vector<Real> scalars;      // (kScalarBuffers, C) step sizes, cached jets, Σ min(1, α), ...
  std::vector<int64_t> counts;    // (kCounterBuffers, C) accepted, non-finite, floor counts
  std::vector<DualAveraging> adapt;  // (C) per-chain adaptation; empty when it is shared
};

// A run stopped after `done` transitions: with the same model, settings and
// this state, run_sampler continues as if it had never stopped, and its draws
// are bit-identical to those of an uninterrupted run.
struct RunCheckpoint {
  // The run it belongs to, checked against the settings on resume.
  std::string sampler;
  int64_t first_chain = 0;
  int chains = 0;
  int dim = 0;
  int warmup = 0;
  int draws = 0;
  int thin = 0;
  uint64_t seed = 0;

  int64_t done = 0;  // transitions completed, warmup included
  int kept = 0;      // draws recorded per chain
  DualAveraging shared;           // the shared step-size adaptation
  EngineState engine;
  EngineCounters at_warmup_end;   // the counters when warmup ended; empty before
  Draws kept_draws;               // (C, S, D) or (C, S, M); the first `kept` draws of every chain are filled
  DrawStream stream;              // the running statistics of a streaming run
  double seconds_warmup = 0;      // time spent so far, over every segment of the run
  double seconds_sampling = 0;
};

// Checkpointing and stopping of a run.
struct RunControl {
  // Continue from this state instead of the model's initial states. The run
  // takes the checkpoint's draws (they are moved out).
  RunCheckpoint* resume = nullptr;
  // Called with the run's state every `checkpoint_every` transitions (0:
  // never on a schedule), when a stop is requested, and once at the end.
  int64_t checkpoint_every = 0;
  std::function<void(const RunCheckpoint&)> save;
  // Polled after every transition; when it returns true the run saves a
  // checkpoint (if `save` is set) and throws RunStopped.
  std::function<bool()> stop_requested;
  // For a run whose chains are one slice of chains spread over several
  // processes. Given min(1, α) of this run's chains at the last transition,
  // it returns the mean over the chains of all the processes, summed in
  // global chain order. The shared step size, and with it every draw, then
  // does not depend on how the chains are spread. Empty: the mean over this
  // run's chains.
  std::function<Real(const std::vector<Real>&)> mean_accept_prob;
};

// Thrown when RunControl::stop_requested asked a run to stop.
class RunStopped : public std::runtime_error {
 public:
  RunStopped(int64_t done, int64_t total)
      : std::runtime_error("the run stopped after " + std::to_string(done) + " of " +
                           std::to_string(total) + " transitions"),
        done_(done),
        total_(total) {}
  int64_t done() const { return done_; }
  int64_t total() const { return total_; }

 private:
  int64_t done_;
  int64_t total_;
};

// Joins the runs of consecutive chain batches (first_chain ascending, equal
// settings otherwise) into the run of all their chains: draws, statistics
// and running statistics are concatenated chain by chain, counters summed,
// rates averaged over chains, times summed. Throws fmala::Error when the
// batches do not fit together.
SamplerRun combine_chain_batches(std::vector<SamplerRun> batches);

// The initial states (C, D) of the run's chains: the model's initial_state()
// of chains first_chain … first_chain + C − 1, each superchain's chains
// starting where its first chain starts.
std::vector<Real> initial_states(const Model& model, const RunSettings& settings);

// Runs one sampler from the initial states of `model` and returns its draws
// and statistics. Throws fmala::Error on bad settings or a non-finite initial state.
SamplerRun run_sampler(const Model& model, const RunSettings& settings, const ProgressFn& progress = {});

// The same with checkpoints, resumption and stop requests. Throws fmala::Error
// when `control.resume` belongs to other settings or another model (its
// log-densities are evaluated again and compared), and RunStopped on a stop.
SamplerRun run_sampler(const Model& model,
                       const RunSettings& settings,
                       const ProgressFn& progress,
                       const RunControl& control);

}  // namespace fmala
