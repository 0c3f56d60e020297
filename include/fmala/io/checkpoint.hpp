#pragma once
// Checkpoint files: the state of one sampler's run (RunCheckpoint) in a
// little-endian binary file with a checksum.
//
// Layout: the 8-byte magic "FMALACKP", a u32 format version, a u32 of zero and
// the u64 length of the payload; the payload; its u64 FNV-1a checksum. The
// payload holds the run's identity (sampler, chains, parameters, warmup,
// draws, thin, seed), the counts of transitions done and draws kept, the
// shared adaptation, the engine's state, the counters at the end of warmup,
// the kept draws of every chain and the time spent so far. Files are replaced
// atomically, so a crash while writing leaves the previous checkpoint intact.

#include <string>

#include "fmala/run.hpp"

namespace fmala::io {

// Writes `checkpoint` to `path` atomically; only the first `kept` draws of
// every chain are stored. Throws fmala::Error naming `path` on failure.
void write_checkpoint(const std::string& path, const RunCheckpoint& checkpoint);

// Reads a checkpoint written for `settings` and a model of `dim` parameters.
// The file's identity is compared with them before anything is allocated
// from its header, so a damaged or foreign file cannot ask for memory. Throws
// fmala::Error naming `path` for a missing, truncated, overlong or corrupted
// file (checksum), a wrong magic string or version, and a run that differs
// from `settings`.
RunCheckpoint read_checkpoint(const std::string& path, const RunSettings& settings, int dim);

}  // namespace fmala::io
