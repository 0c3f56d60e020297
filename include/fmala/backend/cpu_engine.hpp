#pragma once
// The CPU back end: per-chain buffers in host memory, phases run by OpenMP
// loops over chains, and the model evaluated for all chains at once.

#include <vector>

#include "fmala/backend/driver.hpp"
#include "fmala/model/model.hpp"
#include "fmala/samplers/phases.hpp"

namespace fmala {

// Chains × parameters below which a transition runs on one thread. A
// transition opens one parallel region, in which each thread runs every
// phase and evaluation of its own range of chains; waking the OpenMP threads
// costs tens of microseconds under OMP_WAIT_POLICY=passive, more than the
// work below this size. On the funnel with 2 threads, 1,024 chains × 11
// parameters ran 1.3 to 1.7 times faster in one region per transition than
// on one thread (docs/benchmarks.md).
inline constexpr int64_t kMinParallelWork = 8192;

class CpuEngine {
 public:
  // Chain k of the engine is chain first_chain + k of the run: its random
  // streams are that chain's.
  CpuEngine(const Model& model, const SamplerOptions& options, int chains, uint64_t seed,
            uint64_t first_chain = 0);

  void initialize(const std::vector<Real>& theta0);
  void set_step_size(Real eta);
  void start_chain_adaptation(Real eta0);
  void finish_chain_adaptation();
  void step(const StepContext& ctx, bool adapting);
  Real mean_accept_prob() const;
  bool host_values() const { return true; }
  void record(Draws& out, int index) const;
  EngineCounters counters() const;
  EngineState save_state() const;
  void restore_state(const EngineState& state);

 private:
  // The chains [first, first + count): the whole transition of those chains,
  // phases and the model's evaluations of their rows only. step() gives each
  // OpenMP thread one contiguous range, so a transition opens one parallel
  // region; the model's own loops over chains then run inside it on the
  // calling thread.
  struct Range {
    int first;
    int count;
  };
  void step_range(const StepContext& ctx, bool adapting, Range r);
  void evaluate_current(Range r);
  void evaluate_proposal(Range r);
  // With several curvature tangents: replaces h (at θ, or h* at θ*) by the
  // mean curvature over the jet's tangent and the M − 1 extra ones.
  void average_curvature(const StepContext& ctx, bool at_proposal, Range r);
  // Writes the first `width` normals of one random block for the chains of r
  // into their rows of `rows` (width values per chain).
  void draw_normals(const StepContext& ctx, Draw purpose, uint64_t offset, Range r, Real* rows, int width) const;
  void step_line_hmc(const StepContext& ctx, bool adapting, Range r);

  const Model& model_;
  SamplerOptions options_;
  int chains_;
  int dim_;
  uint64_t seed_;
  uint64_t first_chain_;
  bool parallel_;  // small problems run on one thread: a parallel region costs more than it saves
  std::vector<Real> matrices_;  // every (C, D) buffer, back to back
  std::vector<Real> scalars_;   // every (C) buffer, back to back
  std::vector<int64_t> counts_;
  std::vector<Real> curvature_scratch_;  // (C) × kCurvatureScalarBuffers, PC samplers with M > 1
  std::vector<DualAveraging> adapt_;
  ChainBuffers b_;
};

}  // namespace fmala
