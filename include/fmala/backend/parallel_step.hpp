#pragma once
// One transition of all chains as a sequence of parallel passes, the way the
// CUDA back end runs it. Per-chain scalar work (coefficients, accept/reject,
// adaptation) runs one thread per chain. Work over a chain's D parameters
// (rescaling tangents, building θ*, copying an accepted θ*) runs as
// elementwise passes over all C × D values, one thread per value. Sums over
// D (norms and dot products) are segmented reductions, one segment per
// chain. A GPU is then busy with C × D threads instead of C, and neighbouring
// threads read neighbouring values.
//
// `Ops` supplies the passes (kernels/device_ops.cuh on the device, and host
// versions in the CPU tests):
//   template <class F> void launch(size_t n, const F& f, const char* phase);
//   template <class F> void segment_sums(size_t segments, int64_t stride,
//       int64_t length, const F& f, Sum3* out, const char* phase);
// `Evaluate` evaluates the model for all chains at once:
//   void jet(const Real* theta, const Real* direction, int order, Real* f, Real* d, Real* h);
//   void gradient(const Real* theta, Real* f, Real* g);
//
// The sequence calls the same functions of samplers/phases.hpp as the CPU
// engine's per-chain loops, in the same order. With segment sums in index
// order it reproduces CpuEngine bit for bit (tests/test_parallel_step.cpp);
// the device sums in another order and fuses multiply-adds, so its values may
// differ in the last bits.

#include <cstddef>
#include <cstdint>

#include "fmala/backend/sum3.hpp"
#include "fmala/core/config.hpp"
#include "fmala/random/philox.hpp"
#include "fmala/samplers/phases.hpp"

namespace fmala {

// Scratch of the sequence, in the Ops' memory: 2C sums and C accept flags.
struct StepScratch {
  Sum3* sums = nullptr;
  unsigned char* accepted = nullptr;
};
inline constexpr size_t kStepScratchBytesPerChain = 2 * sizeof(Sum3) + sizeof(unsigned char);

namespace parallel_detail {

// Σ u² of each row, in sums[k].a.
struct SquaredValue {
  const Real* u;
  FMALA_HD Sum3 operator()(int64_t j) const { return Sum3{static_cast<double>(u[j]) * u[j], 0.0, 0.0}; }
};

// Each row divided by its norm, from the sums of SquaredValue.
struct ScaleToUnit {
  Real* u;
  const Sum3* sums;
  int dim;
  FMALA_HD void operator()(size_t j) const {
    const size_t d = static_cast<size_t>(dim);
    u[j] = unit_element(u[j], unit_factor(sums[j / d].a), j % d == 0);
  }
};

struct PrepareMomentum {
  ChainBuffers b;
  StepContext ctx;
  FMALA_HD void operator()(size_t k) const { prepare_momentum(b, ctx, static_cast<int>(k)); }
};

struct ChainCoefficients {
  ChainBuffers b;
  SamplerOptions options;
  FMALA_HD void operator()(size_t k) const { proposal_coefficients(b, options, static_cast<int>(k)); }
};

struct ProposalElements {
  ChainBuffers b;
  SamplerOptions options;
  FMALA_HD void operator()(size_t j) const {
    const int k = static_cast<int>(j / static_cast<size_t>(b.dim));
    b.theta_prop[j] = proposal_value(b, options, proposal_move(b, options, k), j);
  }
};

struct DotsFirst {
  ChainBuffers b;
  SamplerOptions options;
  FMALA_HD Sum3 operator()(int64_t j) const { return proposal_dots_first(b, options, static_cast<size_t>(j)); }
};

struct DotsSecond {
  ChainBuffers b;
  SamplerOptions options;
  FMALA_HD Sum3 operator()(int64_t j) const { return proposal_dots_second(b, options, static_cast<size_t>(j)); }
};

struct StoreDots {
  ChainBuffers b;
  const Sum3* sums;  // (2C): the first sums, then the second
  FMALA_HD void operator()(size_t k) const {
    store_proposal_dots(b, static_cast<int>(k), sums[k], sums[static_cast<size_t>(b.chains) + k]);
  }
};

struct MalaTerms {
  ChainBuffers b;
  FMALA_HD Sum3 operator()(int64_t j) const { return mala_terms(b, static_cast<size_t>(j)); }
};

struct Decide {
  ChainBuffers b;
  StepContext ctx;
  bool adapting;
  const Sum3* mala;  // (C), MALA only
  unsigned char* accepted;
  FMALA_HD void operator()(size_t k) const {
    const int chain = static_cast<int>(k);
    accepted[k] = decide_accept(b, ctx, chain, adapting, mala ? mala[k] : Sum3{}) ? 1 : 0;
  }
};

struct AcceptElements {
  ChainBuffers b;
  SamplerOptions options;
  const unsigned char* accepted;
  FMALA_HD void operator()(size_t j) const {
    if (accepted[j / static_cast<size_t>(b.dim)]) {
      accept_element(b, options, j);
    }
  }
};

struct LeapfrogScalars {
  ChainBuffers b;
  bool first;
  FMALA_HD void operator()(size_t k) const { leapfrog_scalars(b, static_cast<int>(k), first); }
};

struct LeapfrogElements {
  ChainBuffers b;
  FMALA_HD void operator()(size_t j) const { leapfrog_element(b, b.line_t[j / static_cast<size_t>(b.dim)], j); }
};

struct LeapfrogMomentum {
  ChainBuffers b;
  FMALA_HD void operator()(size_t k) const { phase_leapfrog_momentum(b, static_cast<int>(k)); }
};

struct AddCurvature {
  ChainBuffers b;
  bool at_proposal;
  FMALA_HD void operator()(size_t k) const { add_curvature(b, static_cast<int>(k), at_proposal); }
};

struct FinishCurvature {
  ChainBuffers b;
  SamplerOptions options;
  bool at_proposal;
  FMALA_HD void operator()(size_t k) const { finish_curvature(b, options, static_cast<int>(k), at_proposal); }
};

}  // namespace parallel_detail

template <class Ops, class Evaluate>
class ParallelStep {
 public:
  // b, scratch and every pointer in them are in the Ops' memory; all of them
  // must outlive this object.
  ParallelStep(Ops& ops, Evaluate& evaluate, const ChainBuffers& b, StepScratch scratch,
               const SamplerOptions& options)
      : ops_(ops), evaluate_(evaluate), b_(b), scratch_(scratch), options_(options) {}

  // One transition of every chain: what CpuEngine::step does.
  void step(const StepContext& ctx, bool adapting) {
    using namespace parallel_detail;
    if (options_.kind == SamplerKind::line_hmc) {
      step_line_hmc(ctx, adapting);
      return;
    }
    if (needs_current_gradient(options_)) {
      evaluate_.gradient(b_.theta, b_.f, b_.grad);
    }
    if (needs_current_jet(options_)) {
      unit_tangents(ctx, Draw::tangent, 0, b_.tangent);
      evaluate_current();
      average_curvature(ctx, false);
    }
    if (is_line(options_.kind)) {
      // ζ is the first normal of each chain's noise block.
      draw_normals(ctx, Draw::noise, 0, b_.zeta, 1);
    } else {
      draw_normals(ctx, Draw::noise, 0, b_.noise, b_.dim);
      if (has_reverse_tangent(options_)) {
        unit_tangents(ctx, Draw::tangent_rev, 0, b_.tangent_prop);
      }
    }
    ops_.launch(chains(), ChainCoefficients{b_, options_}, "proposal coefficients");
    ops_.launch(values(), ProposalElements{b_, options_}, "proposal");
    if (needs_proposal_dots(options_)) {
      ops_.segment_sums(chains(), b_.dim, b_.dim, DotsFirst{b_, options_}, scratch_.sums, "proposal dot products");
      ops_.segment_sums(chains(), b_.dim, b_.dim, DotsSecond{b_, options_}, scratch_.sums + chains(),
                        "proposal dot products");
      ops_.launch(chains(), StoreDots{b_, scratch_.sums}, "proposal dot products");
    }
    evaluate_proposal();
    average_curvature(ctx, true);
    accept(ctx, adapting);
  }

  // h (or h* at_proposal) averaged over the extra curvature tangents, for
  // the PC samplers with M > 1; nothing otherwise.
  void average_curvature(const StepContext& ctx, bool at_proposal) {
    using namespace parallel_detail;
    if (!has_curvature_tangents(options_)) {
      return;
    }
    const Real* at = at_proposal ? b_.theta_prop : b_.theta;
    for (int m = 2; m <= options_.curvature_tangents; ++m) {
      unit_tangents(ctx, curvature_purpose(options_, at_proposal), curvature_offset(m), b_.curvature_tangent);
      evaluate_.jet(at, b_.curvature_tangent, 2, b_.curvature_f, b_.curvature_d, b_.curvature_h);
      ops_.launch(chains(), AddCurvature{b_, at_proposal}, "curvature sum");
    }
    ops_.launch(chains(), FinishCurvature{b_, options_, at_proposal}, "curvature mean");
  }

  // Every chain's unit tangent of one random block into rows (C, D): the
  // normals of Stream(seed, chain, step, purpose, offset), rescaled.
  void unit_tangents(const StepContext& ctx, Draw purpose, uint64_t offset, Real* rows) {
    using namespace parallel_detail;
    draw_normals(ctx, purpose, offset, rows, b_.dim);
    ops_.segment_sums(chains(), b_.dim, b_.dim, SquaredValue{rows}, scratch_.sums, "tangent norm");
    ops_.launch(values(), ScaleToUnit{rows, scratch_.sums, b_.dim}, "tangent scale");
  }

 private:
  size_t chains() const { return static_cast<size_t>(b_.chains); }
  size_t values() const { return chains() * static_cast<size_t>(b_.dim); }

  // `width` normals per chain of one random block into rows (C, width).
  void draw_normals(const StepContext& ctx, Draw purpose, uint64_t offset, Real* rows, int width) {
    const size_t pairs = (static_cast<size_t>(width) + 1) / 2;
    ops_.launch(chains() * pairs,
                DrawNormalPairs{ctx.seed, ctx.first_chain, block_counter(ctx.step, purpose, offset), width, rows},
                "normals");
  }

  void evaluate_current() {
    evaluate_.jet(b_.theta, b_.tangent, jet_order(options_.kind), b_.f, b_.d, b_.h);
  }

  void evaluate_proposal() {
    const SamplerKind kind = options_.kind;
    if (kind == SamplerKind::mala) {
      evaluate_.gradient(b_.theta_prop, b_.f_prop, b_.grad_prop);
    } else if (kind == SamplerKind::rwmh) {
      evaluate_.jet(b_.theta_prop, nullptr, 0, b_.f_prop, nullptr, nullptr);
    } else {
      const Real* direction = has_reverse_tangent(options_) ? b_.tangent_prop : b_.tangent;
      evaluate_.jet(b_.theta_prop, direction, jet_order(kind), b_.f_prop, b_.d_prop, b_.h_prop);
    }
  }

  void accept(const StepContext& ctx, bool adapting) {
    using namespace parallel_detail;
    const Sum3* mala = nullptr;
    if (options_.kind == SamplerKind::mala) {
      ops_.segment_sums(chains(), b_.dim, b_.dim, MalaTerms{b_}, scratch_.sums, "MALA sums");
      mala = scratch_.sums;
    }
    ops_.launch(chains(), Decide{b_, ctx, adapting, mala, scratch_.accepted}, "accept");
    ops_.launch(values(), AcceptElements{b_, options_, scratch_.accepted}, "accepted states");
  }

  // L leapfrog steps along one tangent, as CpuEngine's Line-HMC: L + 1 jets.
  void step_line_hmc(const StepContext& ctx, bool adapting) {
    using namespace parallel_detail;
    if (needs_current_jet(options_)) {
      unit_tangents(ctx, Draw::tangent, 0, b_.tangent);
      ops_.launch(chains(), PrepareMomentum{b_, ctx}, "momentum");
    }
    evaluate_current();
    for (int step = 0; step < options_.leapfrog_steps; ++step) {
      ops_.launch(chains(), LeapfrogScalars{b_, step == 0}, "leapfrog");
      ops_.launch(values(), LeapfrogElements{b_}, "leapfrog position");
      evaluate_proposal();
      ops_.launch(chains(), LeapfrogMomentum{b_}, "leapfrog momentum");
    }
    accept(ctx, adapting);
  }

  Ops& ops_;
  Evaluate& evaluate_;
  ChainBuffers b_;
  StepScratch scratch_;
  SamplerOptions options_;
};

}  // namespace fmala
