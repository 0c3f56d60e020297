// Fuzz target for io::read_checkpoint. The input is a checkpoint file, read
// with the settings of every run in checkpoint_runs.hpp. Mutations rarely keep
// the FNV-1a checksum valid, so each input is read a second time with its
// last 8 bytes replaced by the checksum of the bytes between the 24-byte
// header and them. That second read reaches the end of the reader, where a
// checkpoint with the run's identity and arbitrary contents is accepted.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "checkpoint_runs.hpp"
#include "fmala/backend/buffer_layout.hpp"
#include "fmala/io/checkpoint.hpp"
#include "fuzz_common.hpp"

namespace {

constexpr size_t kHeaderBytes = 24;  // magic, version, zero, payload length
constexpr size_t kChecksumBytes = 8;

const std::vector<fmala::fuzz::CheckpointRun>& runs() {
  static const std::vector<fmala::fuzz::CheckpointRun> all = fmala::fuzz::checkpoint_runs();
  return all;
}

// FNV-1a, 64 bits, as checkpoint.cpp computes it over the payload.
uint64_t fnv1a(const uint8_t* data, size_t size) {
  uint64_t value = 14695981039346656037ull;
  for (size_t i = 0; i < size; ++i) {
    value = (value ^ data[i]) * 1099511628211ull;
  }
  return value;
}

// Checks an accepted checkpoint against the shapes that resuming a run of
// `settings` requires (run_sampler checks them again before it resumes).
void check(const fmala::RunCheckpoint& c, const fmala::RunSettings& settings) {
  const size_t chains = static_cast<size_t>(settings.chains);
  const size_t dim = static_cast<size_t>(fmala::fuzz::kCheckpointDim);
  const fmala::StreamSettings& stream = settings.stream;
  const size_t columns = stream.enabled ? stream.monitor.size() : dim;
  const size_t cells = chains * static_cast<size_t>(settings.draws);
  FUZZ_CHECK(c.chains == settings.chains);
  FUZZ_CHECK(c.dim == fmala::fuzz::kCheckpointDim);
  FUZZ_CHECK(c.draws == settings.draws);
  FUZZ_CHECK(c.first_chain == settings.first_chain);
  FUZZ_CHECK(c.kept >= 0 && c.kept <= c.draws);
  FUZZ_CHECK(c.done >= 0);
  FUZZ_CHECK((c.done >= c.warmup) == !c.at_warmup_end.accepted.empty());

  try {
    fmala::check_state_shape(c.engine, settings.options, settings.chains,
                             fmala::fuzz::kCheckpointDim);
  } catch (const fmala::Error& error) {
    std::fprintf(stderr, "%s\n", error.what());
    FUZZ_CHECK(!"the engine state of an accepted checkpoint has the right shape");
  }
  FUZZ_CHECK(c.engine.adapt.empty() || c.engine.adapt.size() == chains);

  const fmala::Draws& d = c.kept_draws;
  FUZZ_CHECK(d.values.size() == cells * columns);
  FUZZ_CHECK(d.log_density.size() == cells);
  FUZZ_CHECK(d.has_statistics());

  if (stream.enabled) {
    const fmala::DrawStream& st = c.stream;
    FUZZ_CHECK(st.monitored == stream.monitor);
    FUZZ_CHECK(st.count == c.kept);
    FUZZ_CHECK(st.mean.size() == chains * dim);
    FUZZ_CHECK(st.m2.size() == chains * dim);
    FUZZ_CHECK(st.last.values.size() == chains * dim * static_cast<size_t>(stream.keep_last));
  }
}

void read_with_every_run(const std::string& path) {
  for (const fmala::fuzz::CheckpointRun& run : runs()) {
    fmala::fuzz::succeeds([&] {
      check(fmala::io::read_checkpoint(path, run.settings, fmala::fuzz::kCheckpointDim),
            run.settings);
    });
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  read_with_every_run(fmala::fuzz::write_input("input.ckpt", data, size));

  if (size >= kHeaderBytes + kChecksumBytes) {
    std::vector<uint8_t> patched(data, data + size);
    const size_t payload = size - kHeaderBytes - kChecksumBytes;
    const uint64_t checksum = fnv1a(patched.data() + kHeaderBytes, payload);
    std::memcpy(patched.data() + size - kChecksumBytes, &checksum, kChecksumBytes);
    read_with_every_run(fmala::fuzz::write_input("input.ckpt", patched.data(), patched.size()));
  }
  return 0;
}
