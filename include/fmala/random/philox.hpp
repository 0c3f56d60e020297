#pragma once
// Per-chain random streams: cuRAND's Philox4x32-10 through its device API,
// compiled for the host as well, so both back ends draw the same integers.
//
// A stream is keyed by (seed, chain, step, purpose): the chain selects the
// Philox subsequence, and (step, purpose) select a block of 2^32 words inside
// it. Chain k's draws therefore depend on nothing but its own key: not on the
// number of chains, threads or the back end. Normals use cuRAND's Box-Muller
// mapping of the same words. The device evaluates its log and sincospi with
// CUDA's math library. The host uses fmala's own vectorised log and sin/cos
// (src/host_normals.cpp), whose bits do not depend on the instruction set.
// Host and device normals may therefore differ in the last bits.

// cuRAND's device API defaults QUALIFIERS to `static __forceinline__ __device__`.
// Stream is __host__ __device__, so under nvcc the cuRAND functions must be
// host-callable too, which works only if curand_kernel.h was not included before.
#if !defined(QUALIFIERS)
#if defined(__CUDACC__)
#if defined(CURAND_KERNEL_H_)
#error "fmala/random/philox.hpp must be included before curand_kernel.h in CUDA sources"
#endif
#define QUALIFIERS static __forceinline__ __host__ __device__
#else
#define QUALIFIERS static inline __host__ __device__
#endif
#endif
#include <curand_kernel.h>

#include "fmala/core/config.hpp"

namespace fmala {

namespace detail {
// Host Box-Muller: the two normals of one group of four Philox words.
void box_muller_pair(uint32_t x0, uint32_t x1, uint32_t y0, uint32_t y1, double* first, double* second);
// The 2·pairs normals of the Philox counters (counter_low + i, counter2,
// counter3), i < pairs, in the order successive normal() calls return them.
// counter_low + pairs must not wrap.
void normal_pairs(uint64_t counter_low, uint32_t counter2, uint32_t counter3, uint32_t key0, uint32_t key1,
                  int64_t pairs, double* out);
}  // namespace detail

// Named uses of randomness within one step, so samplers that draw different
// amounts never shift each other's streams.
enum class Draw : unsigned {
  init = 0,        // initial state (step -1)
  tangent = 1,     // u at the current state
  noise = 2,       // z (full-dimensional) or ζ (line)
  tangent_rev = 3, // u* at the proposal
  accept = 4,      // U for the Metropolis test
  curvature = 5,      // the extra tangents of the curvature estimate at θ
  curvature_rev = 6,  // the same at the proposal, where u* is drawn afresh
};
inline constexpr unsigned kDrawKinds = 8;

// The position, in 32-bit words of a chain's Philox sequence, at which the
// block of (step, purpose) starts, plus `offset` words into it.
FMALA_HD inline uint64_t block_words(int64_t step, Draw purpose, uint64_t offset) {
  const uint64_t block = static_cast<uint64_t>(step + 1) * kDrawKinds + static_cast<uint64_t>(purpose);
  return (block << 32) + offset;
}

class Stream {
 public:
  // step = -1 is the initialisation; sampler steps count from 0. Steps up to
  // 2^28 are supported. `offset` skips that many 32-bit words into the
  // block of 2^32 that (step, purpose) select, so several vectors can be
  // drawn from one block independently of each other.
  FMALA_HD Stream(uint64_t seed, uint64_t chain, int64_t step, Draw purpose, uint64_t offset = 0) {
    curand_init(seed, chain, block_words(step, purpose, offset), &state_);
  }

  FMALA_HD double normal() {
#if defined(__CUDA_ARCH__)
    return curand_normal_double(&state_);
#else
    // curand_normal_double's bookkeeping, with the host Box-Muller.
    if (state_.boxmuller_flag_double == EXTRA_FLAG_NORMAL) {
      state_.boxmuller_flag_double = 0;
      return state_.boxmuller_extra_double;
    }
    const uint4 w = curand4(&state_);
    double first;
    detail::box_muller_pair(w.x, w.y, w.z, w.w, &first, &state_.boxmuller_extra_double);
    state_.boxmuller_flag_double = EXTRA_FLAG_NORMAL;
    return first;
#endif
  }

  // n normals into out, the same values as n calls of normal(). The host
  // computes whole groups of four words at once.
  FMALA_HD void normals(int64_t n, double* out) {
    int64_t done = 0;
#if !defined(__CUDA_ARCH__)
    const uint64_t low = uint64_t(state_.ctr.x) | (uint64_t(state_.ctr.y) << 32);
    const int64_t pairs = n / 2;
    if (state_.STATE == 0 && state_.boxmuller_flag_double != EXTRA_FLAG_NORMAL && pairs > 0 &&
        low + static_cast<uint64_t>(pairs) > low) {
      detail::normal_pairs(low, state_.ctr.z, state_.ctr.w, state_.key.x, state_.key.y, pairs, out);
      skipahead(4 * static_cast<unsigned long long>(pairs), &state_);
      done = 2 * pairs;
    }
#endif
    for (int64_t i = done; i < n; ++i) {
      out[i] = normal();
    }
  }
  // Uniform on (0, 1]: log() of it is always finite.
  FMALA_HD double uniform() { return curand_uniform_double(&state_); }
  FMALA_HD uint32_t bits() { return curand(&state_); }
  FMALA_HD const curandStatePhilox4_32_10_t& state() const { return state_; }

 private:
  curandStatePhilox4_32_10_t state_;
};

// The lower 64 bits of the Philox counter at which the block of (step,
// purpose) starts, `offset` words in (a multiple of 4). A Stream's generator
// is at this counter after construction.
FMALA_HD inline uint64_t block_counter(int64_t step, Draw purpose, uint64_t offset) {
  return block_words(step, purpose, offset) / 4;
}

// Normals 2p and 2p + 1 of the stream of `chain` whose block starts at the
// counter `low` (block_counter): the values that the (2p + 1)-th and
// (2p + 2)-th normal() calls return. Pair p needs only its own counter, so
// a device thread per pair can draw a whole block in parallel.
FMALA_HD inline void normal_pair_at(uint64_t seed, uint64_t chain, uint64_t low, uint64_t p, double* first,
                                    double* second) {
  const uint64_t counter = low + p;
  const uint4 c = {static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32),
                   static_cast<uint32_t>(chain), static_cast<uint32_t>(chain >> 32)};
  const uint2 key = {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)};
  const uint4 w = curand_Philox4x32_10(c, key);
#if defined(__CUDA_ARCH__)
  // What curand_normal_double computes from the same four words.
  const double2 pair = _curand_box_muller_double(w.x, w.y, w.z, w.w);
  *first = pair.x;
  *second = pair.y;
#else
  detail::box_muller_pair(w.x, w.y, w.z, w.w, first, second);
#endif
}

// Host only: n normals for each of `count` chains from one (seed, step,
// purpose, offset) block, chain first_chain + k's into out + k·ld. They equal
// Stream(seed, first_chain + k, step, purpose, offset).normals(n, …) bit for
// bit, and are computed across chains at once where rows are short.
void chain_normals(uint64_t seed, uint64_t first_chain, int64_t count, int64_t step, Draw purpose,
                   uint64_t offset, int64_t n, double* out, int64_t ld);

// The factor 1/‖u‖ that scale_to_unit applies, from the squared norm Σ u²
// summed in double; 0 when u cannot be rescaled (zero or non-finite norm).
FMALA_HD inline double unit_factor(double norm2) {
  return norm2 > 0.0 && isfinite(norm2) ? 1.0 / ::sqrt(norm2) : 0.0;
}

// Element i of the rescaled vector: u_i · factor, or with factor 0 the first
// unit vector e₀, a valid direction for a vector that has none.
FMALA_HD inline Real unit_element(Real u, double factor, bool first) {
  if (factor == 0.0) {
    return first ? Real(1) : Real(0);
  }
  return static_cast<Real>(u * factor);
}

// Rescales u (dim normals) to the unit sphere. A zero or non-finite norm
// (probability zero, but possible with a broken stream) gives the first
// coordinate axis instead of a division by zero.
FMALA_HD inline void scale_to_unit(int dim, Real* u) {
  double norm2 = 0.0;
  for (int i = 0; i < dim; ++i) {
    norm2 += u[i] * u[i];
  }
  const double factor = unit_factor(norm2);
  if (factor == 0.0) {
    for (int i = 0; i < dim; ++i) {
      u[i] = unit_element(u[i], factor, i == 0);
    }
    return;
  }
  for (int i = 0; i < dim; ++i) {
    u[i] = static_cast<Real>(u[i] * factor);
  }
}

// Fills u with N(0, 1) draws and rescales it to the unit sphere.
FMALA_HD inline void unit_tangent(Stream& stream, int dim, Real* u) {
  stream.normals(dim, u);
  scale_to_unit(dim, u);
}

FMALA_HD inline void normal_vector(Stream& stream, int dim, Real* z) {
  stream.normals(dim, z);
}

}  // namespace fmala
