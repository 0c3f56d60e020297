#pragma once
// Per-chain random streams: cuRAND's Philox4x32-10 through its device API,
// compiled for the host as well, so both back ends draw the same integers.
//
// A stream is keyed by (seed, chain, step, purpose): the chain selects the
// Philox subsequence, and (step, purpose) select a block of 2^32 words inside
// it. Chain k's draws therefore depend on nothing but its own key: not on the
// number of chains, threads or the back end. Normals come from cuRAND's
// Box-Muller transform, whose device build uses faster sin/cos, so host and
// device normals may differ in the last bits.

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

class Stream {
 public:
  // step = -1 is the initialisation; sampler steps count from 0. Steps up to
  // 2^28 are supported. `offset` skips that many 32-bit words into the
  // block of 2^32 that (step, purpose) select, so several vectors can be
  // drawn from one block independently of each other.
  FMALA_HD Stream(uint64_t seed, uint64_t chain, int64_t step, Draw purpose, uint64_t offset = 0) {
    const uint64_t block = static_cast<uint64_t>(step + 1) * kDrawKinds +
                           static_cast<uint64_t>(purpose);
    curand_init(seed, chain, (block << 32) + offset, &state_);
  }

  FMALA_HD double normal() { return curand_normal_double(&state_); }
  // Uniform on (0, 1]: log() of it is always finite.
  FMALA_HD double uniform() { return curand_uniform_double(&state_); }
  FMALA_HD uint32_t bits() { return curand(&state_); }

 private:
  curandStatePhilox4_32_10_t state_;
};

// Fills w with N(0, 1) draws and rescales it to the unit sphere. A zero or
// non-finite norm (probability zero, but possible with a broken stream) gives
// the first coordinate axis instead of a division by zero.
FMALA_HD inline void unit_tangent(Stream& stream, int dim, Real* u) {
  double norm2 = 0.0;
  for (int i = 0; i < dim; ++i) {
    const double w = stream.normal();
    u[i] = static_cast<Real>(w);
    norm2 += w * w;
  }
  if (!(norm2 > 0.0) || !isfinite(norm2)) {
    for (int i = 0; i < dim; ++i) {
      u[i] = Real(0);
    }
    u[0] = Real(1);
    return;
  }
  const double inv = 1.0 / ::sqrt(norm2);
  for (int i = 0; i < dim; ++i) {
    u[i] = static_cast<Real>(u[i] * inv);
  }
}

FMALA_HD inline void normal_vector(Stream& stream, int dim, Real* z) {
  for (int i = 0; i < dim; ++i) {
    z[i] = static_cast<Real>(stream.normal());
  }
}

}  // namespace fmala
