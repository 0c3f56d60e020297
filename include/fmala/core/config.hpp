#pragma once
// Portability macros shared by host and device code.

#if defined(__CUDACC__)
#define FMALA_HD __host__ __device__
#define FMALA_DEVICE_CODE 1
#else
#define FMALA_HD
#define FMALA_DEVICE_CODE 0
#endif

#include <cstdint>

namespace fmala {

// Parameters, activations and per-chain scalars on both back ends.
using Real = double;

}  // namespace fmala
