#pragma once
// The input format of fuzz_regression_split: one text holding the files of a
// UCI split directory. Text before the first section line is data.txt. A
// section line is "=== <name>" on a line of its own, and the lines after it,
// up to the next section line, are the file <name>. Only the names in
// kBundleFiles are written, and a repeated name replaces the earlier section.

#include <array>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include "fuzz_common.hpp"

namespace fmala::fuzz {

inline constexpr std::array<std::string_view, 8> kBundleFiles = {
    "data.txt",           "index_train_0.txt", "index_test_0.txt", "index_features.txt",
    "index_target.txt",   "n_splits.txt",      "index_train_1.txt", "index_test_1.txt"};

// Splits `bundle` into its files, by name.
inline std::map<std::string, std::string> split_bundle(std::string_view bundle) {
  constexpr std::string_view kMarker = "=== ";
  std::map<std::string, std::string> files;
  std::string name = "data.txt";
  std::string contents;
  size_t start = 0;
  while (start < bundle.size()) {
    size_t end = bundle.find('\n', start);
    end = end == std::string_view::npos ? bundle.size() : end + 1;
    const std::string_view line = bundle.substr(start, end - start);
    start = end;
    if (line.substr(0, kMarker.size()) == kMarker) {
      files[name] = contents;
      contents.clear();
      std::string_view next = line.substr(kMarker.size());
      while (!next.empty() && (next.back() == '\n' || next.back() == '\r')) {
        next.remove_suffix(1);
      }
      name = std::string(next);
      continue;
    }
    contents += line;
  }
  files[name] = contents;
  return files;
}

// Writes the files of `bundle` into `directory` and removes every other file
// of kBundleFiles from it.
inline void unpack_bundle(std::string_view bundle, const std::filesystem::path& directory) {
  const std::map<std::string, std::string> files = split_bundle(bundle);
  for (std::string_view name : kBundleFiles) {
    const std::filesystem::path path = directory / name;
    const auto found = files.find(std::string(name));
    if (found == files.end()) {
      std::error_code error;
      std::filesystem::remove(path, error);
    } else {
      write_file(path.string(), found->second);
    }
  }
}

}  // namespace fmala::fuzz
