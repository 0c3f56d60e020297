// Host normals: cuRAND's Philox4x32-10 words and its Box–Muller mapping to
// (u, v), with log and sin/cos of πv computed here in plain IEEE arithmetic
// rather than by libm. The functions below are written so that the compiler
// vectorises the batch loops. The file is compiled without floating-point
// contraction, so the scalar path and every lane of every instruction set
// round alike and give the same bits.

#include <cmath>
#include <cstdint>
#include <cstring>

#include "fmala/random/philox.hpp"

namespace fmala::detail {
namespace {

#if defined(__GNUC__)
#define FMALA_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define FMALA_ALWAYS_INLINE inline
#endif

FMALA_ALWAYS_INLINE uint64_t as_bits(double x) {
  uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

FMALA_ALWAYS_INLINE double from_bits(uint64_t b) {
  double x;
  std::memcpy(&x, &b, sizeof x);
  return x;
}

constexpr double kTwo52 = 0x1p52;
constexpr uint64_t kTwo52Bits = 0x4330000000000000ULL;  // the bits of 2^52

// n as a double for 0 ≤ n < 2^52, through the bits of 2^52 + n.
FMALA_ALWAYS_INLINE double small_to_double(uint64_t n) { return from_bits(kTwo52Bits | n) - kTwo52; }

// n as a double for 0 ≤ n < 2^53: two halves of at most 27 bits, each exact.
FMALA_ALWAYS_INLINE double u53_to_double(uint64_t n) {
  return small_to_double(n >> 26) * 0x1p26 + small_to_double(n & ((uint64_t(1) << 26) - 1));
}

// log(x) for normal x > 0. x = 2^e m with m in [√½, √2); with f = m − 1 and
// s = f / (2 + f), log m = 2 atanh(s) = f − s (f − T) where
// T = Σ_{k≥1} 2 s^{2k} / (2k + 1). |s| ≤ 0.1716, so nine terms of T leave a
// relative error below 2^-55.
FMALA_ALWAYS_INLINE double log_positive(double x) {
  // Integer operations only, no branches or selects, so that every
  // instruction set vectorises the loop: above √2 the mantissa is halved and
  // the exponent raised by one.
  const uint64_t bits = as_bits(x);
  const uint64_t mantissa = bits & 0x000FFFFFFFFFFFFFULL;
  const uint64_t high = static_cast<uint64_t>(mantissa > 0x6A09E667F3BCDULL);  // m > √2
  const double m = from_bits((mantissa | 0x3FF0000000000000ULL) - (high << 52));
  const double e = small_to_double((bits >> 52) + high) - 1023.0;
  const double f = m - 1.0;
  const double s = f / (2.0 + f);
  const double z = s * s;
  // 2 / (2k + 1) for k = 1 … 9, rounded to the nearest double.
  double t = 0x1.af286bca1af28p-4;
  t = t * z + 0x1.e1e1e1e1e1e1ep-4;
  t = t * z + 0x1.1111111111111p-3;
  t = t * z + 0x1.3b13b13b13b14p-3;
  t = t * z + 0x1.745d1745d1746p-3;
  t = t * z + 0x1.c71c71c71c71cp-3;
  t = t * z + 0x1.2492492492492p-2;
  t = t * z + 0x1.999999999999ap-2;
  t = t * z + 0x1.5555555555555p-1;
  t = t * z;
  const double log_m = f - s * (f - t);
  // ln 2 split so that e · hi is exact for |e| < 2^11.
  constexpr double kLn2Hi = 0x1.62e42fefa3800p-1;
  constexpr double kLn2Lo = 0x1.ef35793c76730p-45;
  return e * kLn2Hi + (log_m + e * kLn2Lo);
}

// sin(πv) and cos(πv) for |v| ≤ 2^50. v = q/2 + r with q an integer and
// |r| ≤ 1/4 (r is exact); sin(πr) and cos(πr) are their Taylor polynomials in
// r, whose first omitted terms are below 2^-53 of the result.
FMALA_ALWAYS_INLINE void sincospi(double v, double* sin_out, double* cos_out) {
  constexpr double kRound = 0x1.8p52;  // adding it rounds |x| < 2^51 to an integer
  const double shifted = 2.0 * v + kRound;
  const uint64_t q = as_bits(shifted);
  const double r = v - 0.5 * (shifted - kRound);
  const double z = r * r;

  // (−1)^k π^(2k+1) / (2k+1)! for k = 0 … 7.
  double s = -0x1.6fadb9f155744p-16;
  s = s * z + 0x1.e8f434d018d63p-12;
  s = s * z - 0x1.e3074fde8871fp-8;
  s = s * z + 0x1.50783487ee782p-4;
  s = s * z - 0x1.32d2cce62bd86p-1;
  s = s * z + 0x1.466bc6775aae2p+1;
  s = s * z - 0x1.4abbce625be53p+2;
  s = s * z + 0x1.921fb54442d18p+1;
  s = s * r;

  // (−1)^k π^(2k) / (2k)! for k = 1 … 8.
  double c = 0x1.20c62c2f2d7f5p-18;
  c = c * z - 0x1.b6e24f44b128fp-14;
  c = c * z + 0x1.f9d38a3763cc3p-10;
  c = c * z - 0x1.a6d1f2a204a8cp-6;
  c = c * z + 0x1.e1f506891babbp-3;
  c = c * z - 0x1.55d3c7e3cbffap+0;
  c = c * z + 0x1.03c1f081b5ac4p+2;
  c = c * z - 0x1.3bd3cc9be45dep+2;
  c = c * z + 1.0;

  // πv = qπ/2 + πr: rotate by the quadrant q mod 4, with bit masks: an odd
  // q swaps sin and cos, and bit 1 of q (of q + 1 for cos) flips the sign.
  const uint64_t swap = uint64_t(0) - (q & 1);
  const uint64_t s_bits = as_bits(s);
  const uint64_t c_bits = as_bits(c);
  const uint64_t sin_bits = (c_bits & swap) | (s_bits & ~swap);
  const uint64_t cos_bits = (s_bits & swap) | (c_bits & ~swap);
  *sin_out = from_bits(sin_bits ^ ((q & 2) << 62));
  *cos_out = from_bits(cos_bits ^ (((q + 1) & 2) << 62));
}

// cuRAND's mapping of four words to two normals (_curand_box_muller_double):
// u in (0, 1] from (x0, x1), v in (0, 2] from (y0, y1), then
// √(−2 log u) · (sin πv, cos πv).
FMALA_ALWAYS_INLINE void box_muller(uint32_t x0, uint32_t x1, uint32_t y0, uint32_t y1, double* first,
                                    double* second) {
  const uint64_t zx = uint64_t(x0) ^ (uint64_t(x1) << 21);
  const uint64_t zy = uint64_t(y0) ^ (uint64_t(y1) << 21);
  const double u = u53_to_double(zx) * 0x1p-53 + 0x1p-54;
  const double v = u53_to_double(zy) * 0x1p-52 + 0x1p-53;
  const double radius = std::sqrt(-2.0 * log_positive(u));
  double sin_v;
  double cos_v;
  sincospi(v, &sin_v, &cos_v);
  *first = radius * sin_v;
  *second = radius * cos_v;
}

FMALA_ALWAYS_INLINE void mulhilo(uint32_t a, uint32_t b, uint32_t* hi, uint32_t* lo) {
  const uint64_t p = uint64_t(a) * uint64_t(b);
  *hi = static_cast<uint32_t>(p >> 32);
  *lo = static_cast<uint32_t>(p);
}

// Philox4x32-10 of the counter (c0, c1, c2, c3) under the key (k0, k1).
FMALA_ALWAYS_INLINE void philox10(uint32_t& c0, uint32_t& c1, uint32_t& c2, uint32_t& c3, uint32_t k0,
                                  uint32_t k1) {
#pragma GCC unroll 10
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0;
    uint32_t lo0;
    uint32_t hi1;
    uint32_t lo1;
    mulhilo(0xD2511F53u, c0, &hi0, &lo0);
    mulhilo(0xCD9E8D57u, c2, &hi1, &lo1);
    const uint32_t n0 = hi1 ^ c1 ^ k0;
    const uint32_t n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
}

// The two normals of the Philox counter (low, chain) under (key0, key1).
FMALA_ALWAYS_INLINE void counter_pair(uint64_t low, uint64_t chain, uint32_t key0, uint32_t key1, double* first,
                                      double* second) {
  uint32_t c0 = static_cast<uint32_t>(low);
  uint32_t c1 = static_cast<uint32_t>(low >> 32);
  uint32_t c2 = static_cast<uint32_t>(chain);
  uint32_t c3 = static_cast<uint32_t>(chain >> 32);
  philox10(c0, c1, c2, c3, key0, key1);
  box_muller(c0, c1, c2, c3, first, second);
}

// The loops below are compiled once per instruction set and picked at load
// time; each lane computes exactly what box_muller_pair computes.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(FMALA_NO_TARGET_CLONES)
#define FMALA_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FMALA_VECTOR_CLONES
#endif

// Pairs i of one chain, vectorised along i.
FMALA_VECTOR_CLONES
void pairs_along_row(uint64_t counter_low, uint64_t chain, uint32_t key0, uint32_t key1, int64_t pairs,
                     double* out) {
#pragma omp simd
  for (int64_t i = 0; i < pairs; ++i) {
    double first;
    double second;
    counter_pair(counter_low + static_cast<uint64_t>(i), chain, key0, key1, &first, &second);
    out[2 * i] = first;
    out[2 * i + 1] = second;
  }
}

// Pair i of `count` chains, vectorised along the chains: for few normals per
// chain a row alone is too short to fill a vector. `second` is false for the
// last pair of an odd row, which keeps only its first normal.
FMALA_VECTOR_CLONES
void pair_across_chains(uint64_t counter, uint64_t first_chain, int64_t count, uint32_t key0, uint32_t key1,
                        bool second, double* out, int64_t ld) {
  if (second) {
#pragma omp simd
    for (int64_t k = 0; k < count; ++k) {
      double a;
      double b;
      counter_pair(counter, first_chain + static_cast<uint64_t>(k), key0, key1, &a, &b);
      out[k * ld] = a;
      out[k * ld + 1] = b;
    }
  } else {
#pragma omp simd
    for (int64_t k = 0; k < count; ++k) {
      double a;
      double b;
      counter_pair(counter, first_chain + static_cast<uint64_t>(k), key0, key1, &a, &b);
      out[k * ld] = a;
    }
  }
}

// Rows at least this long are vectorised along the row.
constexpr int64_t kRowVectorNormals = 32;

}  // namespace

void box_muller_pair(uint32_t x0, uint32_t x1, uint32_t y0, uint32_t y1, double* first, double* second) {
  box_muller(x0, x1, y0, y1, first, second);
}

void normal_pairs(uint64_t counter_low, uint32_t counter2, uint32_t counter3, uint32_t key0, uint32_t key1,
                  int64_t pairs, double* out) {
  pairs_along_row(counter_low, uint64_t(counter2) | (uint64_t(counter3) << 32), key0, key1, pairs, out);
}

}  // namespace fmala::detail

namespace fmala {

void chain_normals(uint64_t seed, uint64_t first_chain, int64_t count, int64_t step, Draw purpose,
                   uint64_t offset, int64_t n, double* out, int64_t ld) {
  if (count <= 0 || n <= 0) {
    return;
  }
  // Chain first + k's counter starts at (low, first + k) under the key of
  // the seed. An offset inside a group of four words, or a counter that
  // would wrap, takes each chain's Stream instead.
  const uint64_t low = block_counter(step, purpose, offset);
  const uint64_t pairs = static_cast<uint64_t>((n + 1) / 2);
  const bool plain = offset % 4 == 0 && low + pairs > low &&
                     first_chain + static_cast<uint64_t>(count) > first_chain;
  if (!plain) {
    for (int64_t k = 0; k < count; ++k) {
      Stream stream(seed, first_chain + static_cast<uint64_t>(k), step, purpose, offset);
      stream.normals(n, out + k * ld);
    }
    return;
  }
  const uint32_t key0 = static_cast<uint32_t>(seed);
  const uint32_t key1 = static_cast<uint32_t>(seed >> 32);
  if (n >= detail::kRowVectorNormals) {
    for (int64_t k = 0; k < count; ++k) {
      const uint64_t chain = first_chain + static_cast<uint64_t>(k);
      double* row = out + k * ld;
      detail::pairs_along_row(low, chain, key0, key1, n / 2, row);
      if (n % 2 != 0) {
        double unused;
        detail::counter_pair(low + static_cast<uint64_t>(n / 2), chain, key0, key1, row + n - 1, &unused);
      }
    }
    return;
  }
  for (int64_t i = 0; i < n / 2 + n % 2; ++i) {
    detail::pair_across_chains(low + static_cast<uint64_t>(i), first_chain, count, key0, key1, 2 * i + 1 < n,
                               out + 2 * i, ld);
  }
}

}  // namespace fmala
