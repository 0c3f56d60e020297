// Writes the seed checkpoints of fuzz_checkpoint: for every run of
// checkpoint_runs.hpp, a funnel run stopped after `stop_after` transitions
// (or run to the end), checkpointed into OUTPUT_DIR/<name>.
//
// Usage: fuzz_make_checkpoint_seeds OUTPUT_DIR

#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>

#include "checkpoint_runs.hpp"
#include "fmala/io/checkpoint.hpp"
#include "fmala/run.hpp"
#include "fmala/targets/builtin.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path output(argv[1]);
  try {
    std::filesystem::create_directories(output);
    const auto model = fmala::make_funnel_model(fmala::fuzz::kCheckpointDim);
    for (const fmala::fuzz::CheckpointRun& run : fmala::fuzz::checkpoint_runs()) {
      const std::string path = (output / run.name).string();
      fmala::RunControl control;
      // The run saves when a stop is requested and once at its end.
      control.save = [&path](const fmala::RunCheckpoint& c) { fmala::io::write_checkpoint(path, c); };
      control.stop_requested = [stop_after = run.stop_after, polls = int64_t{0}]() mutable {
        return ++polls == stop_after;
      };
      try {
        fmala::run_sampler(*model, run.settings, {}, control);
      } catch (const fmala::RunStopped& stopped) {
        std::printf("%s: stopped after %lld transitions\n", path.c_str(),
                    static_cast<long long>(stopped.done()));
        continue;
      }
      std::printf("%s: finished\n", path.c_str());
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "%s\n", error.what());
    return 1;
  }
  return 0;
}
