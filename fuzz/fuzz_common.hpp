#pragma once
// Helpers shared by the libFuzzer targets. The readers take paths, so each
// target writes its input to a file in a per-process scratch directory and
// calls the reader on that file. fmala::Error is the expected outcome for bad
// input. Any other exception escapes LLVMFuzzerTestOneInput, and libFuzzer
// reports it as a crash, like a sanitizer report or a failed FUZZ_CHECK.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "fmala/core/error.hpp"

namespace fmala::fuzz {

// Aborts with a message when an invariant of a successful read fails, so that
// libFuzzer keeps the input as a crasher.
#define FUZZ_CHECK(condition)                                                              \
  do {                                                                                     \
    if (!(condition)) {                                                                    \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                        \
    }                                                                                      \
  } while (false)

// A directory of this process under $FMALA_FUZZ_TMPDIR, /dev/shm (when it
// exists, so the files stay in memory) or the system temporary directory. It
// is removed when the process exits normally.
class ScratchDirectory {
 public:
  ScratchDirectory() {
    namespace fs = std::filesystem;
    fs::path base;
    if (const char* chosen = std::getenv("FMALA_FUZZ_TMPDIR"); chosen != nullptr && *chosen != '\0') {
      base = chosen;
    } else if (std::error_code error; fs::is_directory("/dev/shm", error)) {
      base = "/dev/shm";
    } else {
      base = fs::temp_directory_path();
    }
    path_ = base / ("fmala-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(path_);
  }
  ~ScratchDirectory() {
    std::error_code error;
    std::filesystem::remove_all(path_, error);
  }
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline ScratchDirectory& scratch() {
  static ScratchDirectory directory;
  return directory;
}

// Replaces the contents of `path` with `bytes`; aborts when the file cannot be
// written, because the target would then test nothing.
inline void write_file(const std::string& path, std::string_view bytes) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) {
    std::perror(path.c_str());
    std::abort();
  }
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), file) != bytes.size()) {
    std::perror(path.c_str());
    std::abort();
  }
  if (std::fclose(file) != 0) {
    std::perror(path.c_str());
    std::abort();
  }
}

// Writes the fuzzer's input to the scratch file `name` and returns its path.
inline std::string write_input(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = scratch().file(name);
  write_file(path, std::string_view(reinterpret_cast<const char*>(data), size));
  return path;
}

// Calls `read` and returns true when it succeeds, false when it throws
// fmala::Error. Other exceptions propagate to libFuzzer.
template <typename Read>
bool succeeds(Read&& read) {
  try {
    read();
    return true;
  } catch (const fmala::Error&) {
    return false;
  }
}

}  // namespace fmala::fuzz
