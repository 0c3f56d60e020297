#pragma once
// The program's messages: one interface for the levels quiet, normal, verbose
// and debug, and a JSON-lines run log (log.jsonl in the output directory) that
// receives every event whatever the level.

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace fmala::cli {

enum class LogLevel { quiet = 0, normal = 1, verbose = 2, debug = 3 };

// "quiet", "normal", "verbose" or "debug"; empty for anything else.
std::optional<LogLevel> parse_log_level(std::string_view name);

class RunLog {
 public:
  explicit RunLog(LogLevel level);
  ~RunLog();
  RunLog(const RunLog&) = delete;
  RunLog& operator=(const RunLog&) = delete;

  // Starts the JSON-lines file: a new one, or appended to when a run resumes.
  // Throws fmala::Error naming the file when it cannot be opened.
  void open_file(const std::string& path, bool append);

  LogLevel level() const { return level_; }
  bool shows(LogLevel level) const { return level_ >= level; }

  // Printed at normal level and above (stdout).
  void info(const std::string& event, const std::string& message, nlohmann::json fields = {});
  // Printed at verbose level and above (stdout).
  void detail(const std::string& event, const std::string& message, nlohmann::json fields = {});
  // Printed at debug level (stderr).
  void debug(const std::string& event, const std::string& message, nlohmann::json fields = {});
  // Printed at every level, quiet included (stderr, "fmala: warning: ").
  void warning(const std::string& event, const std::string& message, nlohmann::json fields = {});
  // A warning written to the file only, for problems that are printed
  // together in one line by print_warning.
  void file_warning(const std::string& event, const std::string& message, nlohmann::json fields = {});
  void print_warning(const std::string& message);
  // Written to the file only.
  void record(const std::string& event, nlohmann::json fields);

  size_t warnings() const { return warnings_; }

 private:
  void write(const char* level, const std::string& event, const std::string& message,
             nlohmann::json fields);

  LogLevel level_;
  std::FILE* file_ = nullptr;
  std::chrono::steady_clock::time_point start_;
  size_t warnings_ = 0;
};

}  // namespace fmala::cli
