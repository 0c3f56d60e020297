// Tests of the host's normals. Stream::normals() (whole groups of Philox
// words at once, vectorised), chain_normals() (many chains at once) and
// DrawNormalPairs (a pair per call, as the device draws them) are compared
// with Stream::normal() (one at a time). The normals are also
// compared with cuRAND's host Box–Muller on libm and with a long-double
// evaluation of the same transform, and tested as a sample from N(0, 1).

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "fmala/random/philox.hpp"
#include "fmala/samplers/phases.hpp"

namespace fmala {
namespace {

// A cuRAND generator keyed as Stream keys its own.
curandStatePhilox4_32_10_t curand_state(uint64_t seed, uint64_t chain, int64_t step, Draw purpose,
                                        uint64_t offset = 0) {
  const uint64_t block = static_cast<uint64_t>(step + 1) * kDrawKinds + static_cast<uint64_t>(purpose);
  curandStatePhilox4_32_10_t state;
  curand_init(seed, chain, (block << 32) + offset, &state);
  return state;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

TEST(HostNormals, BatchEqualsOneAtATime) {
  for (uint64_t chain : {0ULL, 1ULL, 977ULL}) {
    for (int n : {0, 1, 2, 3, 7, 8, 11, 16, 17, 33, 101, 1000, 4097}) {
      Stream batch(12345, chain, 3, Draw::tangent);
      Stream single(12345, chain, 3, Draw::tangent);
      std::vector<double> a(static_cast<size_t>(n));
      batch.normals(n, a.data());
      for (int i = 0; i < n; ++i) {
        const double b = single.normal();
        ASSERT_TRUE(same_bits(a[static_cast<size_t>(i)], b))
            << "chain " << chain << ", n " << n << ", normal " << i << ": " << a[static_cast<size_t>(i)]
            << " against " << b;
      }
      // Both streams stand at the same place afterwards: the cached second
      // normal of an odd count, and the next words.
      EXPECT_TRUE(same_bits(batch.normal(), single.normal())) << "chain " << chain << ", n " << n;
      EXPECT_EQ(batch.bits(), single.bits()) << "chain " << chain << ", n " << n;
      EXPECT_TRUE(same_bits(batch.uniform(), single.uniform())) << "chain " << chain << ", n " << n;
    }
  }
}

TEST(HostNormals, BatchAfterOddDrawOrOffset) {
  // A cached second normal, and an offset that is not a whole group of four
  // words, both take the one-at-a-time path for the start.
  for (uint64_t offset : {0ULL, 1ULL, 2ULL, 3ULL, 4ULL, 64ULL << 26}) {
    Stream batch(7, 5, 0, Draw::noise, offset);
    Stream single(7, 5, 0, Draw::noise, offset);
    EXPECT_TRUE(same_bits(batch.normal(), single.normal()));
    std::vector<double> a(25);
    batch.normals(25, a.data());
    for (size_t i = 0; i < a.size(); ++i) {
      ASSERT_TRUE(same_bits(a[i], single.normal())) << "offset " << offset << ", normal " << i;
    }
  }
}

TEST(HostNormals, ChainNormalsEqualStreams) {
  // Rows shorter than a vector are computed across chains and longer ones
  // along the row. Both paths, and the fallback for an offset inside a group
  // of four words, must give each chain's own stream. Padding past n stays
  // untouched.
  for (uint64_t offset : {0ULL, 3ULL << 26, 2ULL}) {
    for (int64_t n : {1, 2, 11, 31, 32, 33, 100}) {
      for (int64_t count : {1, 7, 64}) {
        const int64_t ld = n + 3;
        const uint64_t first_chain = 1000;
        std::vector<double> out(static_cast<size_t>(count * ld), -7.0);
        chain_normals(5, first_chain, count, 12, Draw::tangent_rev, offset, n, out.data(), ld);
        std::vector<double> row(static_cast<size_t>(n));
        for (int64_t k = 0; k < count; ++k) {
          Stream stream(5, first_chain + static_cast<uint64_t>(k), 12, Draw::tangent_rev, offset);
          stream.normals(n, row.data());
          for (int64_t i = 0; i < ld; ++i) {
            const double got = out[static_cast<size_t>(k * ld + i)];
            const double want = i < n ? row[static_cast<size_t>(i)] : -7.0;
            ASSERT_TRUE(same_bits(got, want)) << "offset " << offset << ", n " << n << ", count " << count
                                              << ", chain " << k << ", column " << i;
          }
        }
      }
    }
  }
}

TEST(HostNormals, PairsInParallelEqualStreams) {
  // The device's form: one call per pair, in any order, from the block's
  // counter alone. Run on the host, it must give each chain's stream.
  for (uint64_t offset : {0ULL, 5ULL << 26}) {
    for (int dim : {1, 2, 11, 12, 101}) {
      const int chains = 6;
      const uint64_t first_chain = 40;
      const uint64_t low = block_counter(9, Draw::curvature, offset);
      Stream probe(77, first_chain, 9, Draw::curvature, offset);
      EXPECT_EQ(uint64_t(probe.state().ctr.x) | (uint64_t(probe.state().ctr.y) << 32), low);

      std::vector<double> rows(static_cast<size_t>(chains * dim), -3.0);
      const DrawNormalPairs draw{77, first_chain, low, dim, rows.data()};
      const size_t pairs = (static_cast<size_t>(dim) + 1) / 2;
      for (size_t i = static_cast<size_t>(chains) * pairs; i-- > 0;) {
        draw(i);
      }
      std::vector<double> row(static_cast<size_t>(dim));
      for (int k = 0; k < chains; ++k) {
        Stream stream(77, first_chain + static_cast<uint64_t>(k), 9, Draw::curvature, offset);
        stream.normals(dim, row.data());
        for (int i = 0; i < dim; ++i) {
          ASSERT_TRUE(same_bits(rows[static_cast<size_t>(k * dim + i)], row[static_cast<size_t>(i)]))
              << "offset " << offset << ", dim " << dim << ", chain " << k << ", normal " << i;
        }
      }
    }
  }
}

TEST(HostNormals, CloseToCurandOnLibm) {
  // cuRAND's host build evaluates the same transform with libm's log, sin
  // and cos of v·π; the two differ by rounding only.
  double worst = 0.0;
  for (uint64_t chain = 0; chain < 64; ++chain) {
    Stream stream(99, chain, 41, Draw::noise);
    curandStatePhilox4_32_10_t reference = curand_state(99, chain, 41, Draw::noise);
    std::vector<double> a(513);
    stream.normals(static_cast<int64_t>(a.size()), a.data());
    for (double x : a) {
      const double r = curand_normal_double(&reference);
      worst = std::max(worst, std::fabs(x - r) / std::max(1.0, std::fabs(r)));
    }
  }
  EXPECT_LT(worst, 1e-14);
}

// The transform in long double from the same four words: u and v exactly as
// cuRAND forms them, the angle reduced to |πr| ≤ π/4 before sinl and cosl.
void reference_pair(uint4 w, long double* first, long double* second) {
  const uint64_t zx = uint64_t(w.x) ^ (uint64_t(w.y) << 21);
  const uint64_t zy = uint64_t(w.z) ^ (uint64_t(w.w) << 21);
  const double u = static_cast<double>(zx) * 0x1p-53 + 0x1p-54;
  const double v = static_cast<double>(zy) * 0x1p-52 + 0x1p-53;
  const long double pi = 3.141592653589793238462643383279502884L;
  const long double radius = std::sqrt(-2.0L * std::log(static_cast<long double>(u)));
  const long double twice = std::nearbyint(2.0L * v);
  const long double r = static_cast<long double>(v) - twice / 2.0L;
  const long double s = std::sin(pi * r);
  const long double c = std::cos(pi * r);
  switch (static_cast<int>(twice) & 3) {
    case 0:
      *first = radius * s, *second = radius * c;
      break;
    case 1:
      *first = radius * c, *second = -radius * s;
      break;
    case 2:
      *first = -radius * s, *second = -radius * c;
      break;
    default:
      *first = -radius * c, *second = radius * s;
      break;
  }
}

TEST(HostNormals, WithinFourUlpOfLongDouble) {
  // Relative to max(|x|, 2^-20): near a zero of sin or cos an absolute error
  // of a few ulp of the radius is what double arithmetic gives.
  double worst_ulps = 0.0;
  for (uint64_t chain = 0; chain < 32; ++chain) {
    Stream stream(2024, chain, 0, Draw::tangent);
    curandStatePhilox4_32_10_t words = curand_state(2024, chain, 0, Draw::tangent);
    std::vector<double> a(4096);
    stream.normals(static_cast<int64_t>(a.size()), a.data());
    for (size_t i = 0; i < a.size(); i += 2) {
      long double first;
      long double second;
      reference_pair(curand4(&words), &first, &second);
      for (auto [got, want] : {std::pair{a[i], first}, std::pair{a[i + 1], second}}) {
        const double scale = std::max(std::fabs(static_cast<double>(want)), 0x1p-20);
        const double ulp = std::nextafter(scale, 2.0 * scale) - scale;
        worst_ulps = std::max(worst_ulps, static_cast<double>(std::fabs(got - want)) / ulp);
      }
    }
  }
  EXPECT_LT(worst_ulps, 4.0);
}

TEST(HostNormals, FixedBitsOnEveryMachine) {
  // The first normals of one stream, written down once: any change of the
  // host transform, or an instruction set that rounds differently, shows here.
  Stream stream(42, 3, 10, Draw::noise);
  std::vector<double> a(64);
  stream.normals(64, a.data());
  const std::pair<size_t, double> expected[] = {
      {0, -0x1.a3a87231aba09p-1}, {1, -0x1.a6b81080b8847p-1}, {2, 0x1.2518b11842f9cp-4},
      {3, -0x1.06111b21079fap+0}, {4, 0x1.d7f8b36c062f7p-3},  {5, -0x1.ac62291febbe3p-1},
      {62, -0x1.7d442ed774fe3p-1}, {63, 0x1.7882323f9eeb5p+0}};
  for (auto [i, want] : expected) {
    EXPECT_TRUE(same_bits(a[i], want)) << "normal " << i << ": " << std::hexfloat << a[i] << " against "
                                       << want;
  }
}

TEST(HostNormals, MomentsAndTails) {
  // 2^20 normals over many chains. Each statistic is compared with its
  // expectation under N(0, 1) at 5 standard errors (fixed seed, so this
  // either always passes or always fails for a given transform).
  const int chains = 256;
  const int per_chain = 4096;
  const double n = static_cast<double>(chains) * per_chain;

  double sum = 0.0;
  double sum2 = 0.0;
  double sum4 = 0.0;
  double beyond3 = 0.0;
  double below_half = 0.0;
  std::vector<double> a(per_chain);

  for (int k = 0; k < chains; ++k) {
    Stream stream(8, static_cast<uint64_t>(k), 2, Draw::noise);
    stream.normals(per_chain, a.data());
    for (double x : a) {
      sum += x;
      sum2 += x * x;
      sum4 += x * x * x * x;
      beyond3 += std::fabs(x) > 3.0 ? 1.0 : 0.0;
      below_half += x < 0.5 ? 1.0 : 0.0;
    }
  }
  EXPECT_NEAR(sum / n, 0.0, 5.0 * std::sqrt(1.0 / n));
  EXPECT_NEAR(sum2 / n, 1.0, 5.0 * std::sqrt(2.0 / n));        // Var(x²) = 2
  EXPECT_NEAR(sum4 / n, 3.0, 5.0 * std::sqrt(96.0 / n));       // Var(x⁴) = 105 − 9
  const double p3 = std::erfc(3.0 / std::sqrt(2.0));            // P(|x| > 3)
  EXPECT_NEAR(beyond3 / n, p3, 5.0 * std::sqrt(p3 * (1 - p3) / n));
  const double ph = 0.5 * std::erfc(-0.5 / std::sqrt(2.0));     // P(x < 0.5)
  EXPECT_NEAR(below_half / n, ph, 5.0 * std::sqrt(ph * (1 - ph) / n));
}

}  // namespace
}  // namespace fmala
