#pragma once
// The library's version and what it was built from.

namespace fmala {

// Returns the release version, "MAJOR.MINOR.PATCH".
const char* version();

// Returns the source commit as of the last build: 12 hex digits, with
// "-dirty" when tracked files had changes, or "unknown" outside a git checkout.
const char* source_commit();

// Returns the CUDA architectures the device code was compiled for ("80 90"),
// or "none" for a CPU-only build.
const char* cuda_architectures();

}  // namespace fmala
