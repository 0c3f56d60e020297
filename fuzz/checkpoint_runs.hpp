#pragma once
// The runs behind the seed checkpoints of fuzz_checkpoint. read_checkpoint
// trusts no size in a file before it has compared the file's identity with
// the settings and dimension it is given. So the fuzz target reads every input
// with the settings of each of these runs, and make_checkpoint_seeds writes
// one checkpoint per run. Together they cover every optional part of the
// payload: the MALA gradient, the persistent tangent, per-chain adaptation,
// the counters at the end of warmup and the running statistics of streaming.
//
// NOTE: the seed files in fuzz/corpus/fuzz_checkpoint/ match the checkpoint
// layout of the time they were written. After a layout change, write them
// again with fuzz_make_checkpoint_seeds, or the fuzzer starts from files that
// fail the layout checks.

#include <cstdint>
#include <string>
#include <vector>

#include "fmala/run.hpp"

namespace fmala::fuzz {

// Dimension of the funnel model of every seed run.
inline constexpr int kCheckpointDim = 3;

struct CheckpointRun {
  std::string name;       // file name of the seed checkpoint
  RunSettings settings;   // settings of the run, for read_checkpoint
  int64_t stop_after = 0; // transitions before the stop; 0 lets the run finish
};

inline std::vector<CheckpointRun> checkpoint_runs() {
  RunSettings base;
  base.chains = 2;
  base.warmup = 4;
  base.draws = 3;
  base.thin = 2;
  base.seed = 7;
  base.threads = 1;

  std::vector<CheckpointRun> runs;
  {
    // FMALA with shared adaptation, stopped in warmup: no optional part.
    CheckpointRun run{"fmala-warmup.ckpt", base, 2};
    run.settings.options.kind = SamplerKind::fmala;
    runs.push_back(run);
  }
  {
    // MALA with per-chain adaptation, stopped after one kept draw: gradient,
    // per-chain adaptation and warmup counters. The run is chains 4 and 5 of
    // a run of 8 chains.
    CheckpointRun run{"mala-per-chain.ckpt", base, 6};
    run.settings.options.kind = SamplerKind::mala;
    run.settings.adapt_per_chain = true;
    run.settings.first_chain = 4;
    run.settings.all_chains = 8;
    runs.push_back(run);
  }
  {
    // Persistent PC-FMALA with a fixed step size: tangent and warmup counters.
    CheckpointRun run{"pc-fmala-persistent.ckpt", base, 5};
    run.settings.options.kind = SamplerKind::pc_fmala;
    run.settings.options.persistent = true;
    run.settings.step_size = Real(0.3);
    runs.push_back(run);
  }
  {
    // Streaming FMALA that monitors coordinates 2 and 0 and keeps the last 2
    // draws, stopped after one kept draw.
    CheckpointRun run{"fmala-stream.ckpt", base, 7};
    run.settings.options.kind = SamplerKind::fmala;
    run.settings.stream.enabled = true;
    run.settings.stream.monitor = {2, 0};
    run.settings.stream.keep_last = 2;
    runs.push_back(run);
  }
  {
    // RWMH run to the end: every draw kept.
    CheckpointRun run{"rwmh-finished.ckpt", base, 0};
    run.settings.options.kind = SamplerKind::rwmh;
    runs.push_back(run);
  }
  return runs;
}

}  // namespace fmala::fuzz
