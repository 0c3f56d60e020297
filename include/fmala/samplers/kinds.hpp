#pragma once
// The seven samplers and their options.

#include <optional>
#include <string>
#include <string_view>

#include "fmala/core/config.hpp"

namespace fmala {

enum class SamplerKind { rwmh, mala, fmala, line_fmala, pc_fmala, pc_line_fmala, line_hmc };

// PC-FMALA's noise: σ = η/√κ as in arXiv 2505.18081, or σ = η/√(Dκ) with
// drift η² d / (2κ) as in that paper's reference code (SRI-CSL/fojax).
enum class PcForm { paper, reference };

struct SamplerOptions {
  SamplerKind kind = SamplerKind::fmala;
  bool sqrt_dim = false;    // ε = η√D (FMALA and Line-FMALA only)
  bool aligned = false;     // reverse tangent u* = u (FMALA and PC-FMALA)
  bool persistent = false;  // keep (θ, u, f, d, h) as the state: one jet per step (FMALA and PC-FMALA)
  // MALA only: evaluate ∇f(θ) again every step instead of keeping it from the
  // accepted proposal, as code that keeps no state between steps does (two
  // gradients per step). The draws are the same as the cached form's.
  bool uncached = false;
  PcForm pc_form = PcForm::paper;
  Real curvature_floor = Real(1e-6);  // κ = max(|h|, floor); 0 reproduces the reference code
  // PC samplers: h is the mean curvature along this many unit tangents (the
  // proposal's own u and M − 1 more), a randomized estimate of tr(∇²f)/D.
  // 1 is the single-direction curvature of arXiv 2505.18081. 1 to 64.
  int curvature_tangents = 1;
  int leapfrog_steps = 8;  // L leapfrog steps per transition (Line-HMC only), 1 to 1000
  // Line-HMC leapfrog step ε = η (1 + jitter (2U − 1)) with U ~ U(0, 1); 0 keeps ε = η. In [0, 1).
  Real jitter = 0;
};

// Every sampler of the library.
inline constexpr SamplerKind kAllSamplers[] = {
    SamplerKind::rwmh,     SamplerKind::mala,          SamplerKind::fmala,   SamplerKind::line_fmala,
    SamplerKind::pc_fmala, SamplerKind::pc_line_fmala, SamplerKind::line_hmc};

// The samplers a run uses when none is named: the four forward samplers of
// arXiv 2505.18081 and the RWMH and MALA baselines. Line-HMC, whose step costs
// L + 1 jets, runs only when named.
inline constexpr SamplerKind kDefaultSamplers[] = {SamplerKind::rwmh,       SamplerKind::mala,
                                                   SamplerKind::fmala,      SamplerKind::line_fmala,
                                                   SamplerKind::pc_fmala,   SamplerKind::pc_line_fmala};

inline std::string_view sampler_name(SamplerKind kind) {
  switch (kind) {
    case SamplerKind::rwmh: return "rwmh";
    case SamplerKind::mala: return "mala";
    case SamplerKind::fmala: return "fmala";
    case SamplerKind::line_fmala: return "line-fmala";
    case SamplerKind::pc_fmala: return "pc-fmala";
    case SamplerKind::pc_line_fmala: return "pc-line-fmala";
    case SamplerKind::line_hmc: return "line-hmc";
  }
  return "unknown";
}

inline std::optional<SamplerKind> parse_sampler(std::string_view name) {
  for (SamplerKind kind : kAllSamplers) {
    if (sampler_name(kind) == name) {
      return kind;
    }
  }
  return std::nullopt;
}

// Samplers that evaluate forward-mode jets along a tangent u.
FMALA_HD constexpr bool is_forward(SamplerKind k) {
  return k == SamplerKind::fmala || k == SamplerKind::line_fmala || k == SamplerKind::pc_fmala ||
         k == SamplerKind::pc_line_fmala || k == SamplerKind::line_hmc;
}
// The Line-FMALA proposals θ* = θ + δu with δ = c + σζ. Line-HMC also moves
// along u but by a leapfrog trajectory, so it is not one of them.
FMALA_HD constexpr bool is_line(SamplerKind k) {
  return k == SamplerKind::line_fmala || k == SamplerKind::pc_line_fmala;
}
FMALA_HD constexpr bool is_preconditioned(SamplerKind k) {
  return k == SamplerKind::pc_fmala || k == SamplerKind::pc_line_fmala;
}
// Jet order a forward sampler needs: 1 (value and ∇f·u) or 2 (plus curvature).
FMALA_HD constexpr int jet_order(SamplerKind k) { return is_preconditioned(k) ? 2 : 1; }

// Default target of the mean acceptance probability during warmup.
// RWMH and MALA use the optimal-scaling values 0.234 and 0.574. FMALA and
// PC-FMALA drift along one direction only while their noise is
// full-dimensional, so in many dimensions they behave like a random walk:
// on a 100-D Gaussian their bulk ESS was highest at 0.234 (docs/defaults.md).
// PC-FMALA's acceptance also has a ceiling below 1 even as η → 0 (forward and
// reverse curvatures come from different tangents), which 0.234 stays under.
// The line samplers' ESS was flat between 0.574 and 0.8; 0.65 sits inside.
// Line-HMC uses the default of Stan's HMC samplers, 0.8.
inline Real default_target_accept(SamplerKind kind) {
  switch (kind) {
    case SamplerKind::rwmh: return Real(0.234);
    case SamplerKind::mala: return Real(0.574);
    case SamplerKind::fmala: return Real(0.234);
    case SamplerKind::line_fmala: return Real(0.65);
    case SamplerKind::pc_fmala: return Real(0.234);
    case SamplerKind::pc_line_fmala: return Real(0.65);
    case SamplerKind::line_hmc: return Real(0.8);
  }
  return Real(0.574);
}

}  // namespace fmala
