#include "cli/log.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>

#include "fmala/core/error.hpp"

namespace fmala::cli {

std::optional<LogLevel> parse_log_level(std::string_view name) {
  if (name == "quiet") {
    return LogLevel::quiet;
  }
  if (name == "normal") {
    return LogLevel::normal;
  }
  if (name == "verbose") {
    return LogLevel::verbose;
  }
  if (name == "debug") {
    return LogLevel::debug;
  }
  return std::nullopt;
}

RunLog::RunLog(LogLevel level) : level_(level), start_(std::chrono::steady_clock::now()) {}

RunLog::~RunLog() {
  if (file_) {
    std::fclose(file_);
  }
}

void RunLog::open_file(const std::string& path, bool append) {
  std::FILE* file = std::fopen(path.c_str(), append ? "a" : "w");
  if (!file) {
    throw make_error(path, std::string("cannot open the run log (") + std::strerror(errno) + ")",
                     "Choose a writable --out");
  }
  if (file_) {
    std::fclose(file_);
  }
  file_ = file;
}

void RunLog::write(const char* level, const std::string& event, const std::string& message,
                   nlohmann::json fields) {
  if (!file_) {
    return;
  }
  nlohmann::ordered_json line;
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &utc);
  line["event"] = event;
  line["level"] = level;
  line["time"] = stamp;
  line["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (!message.empty()) {
    line["message"] = message;
  }
  if (fields.is_object()) {
    for (auto& [key, value] : fields.items()) {
      line[key] = std::move(value);
    }
  }
  // Paths need not be UTF-8: undecodable bytes become U+FFFD in the log.
  const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::fprintf(file_, "%s\n", text.c_str());
  std::fflush(file_);
}

void RunLog::info(const std::string& event, const std::string& message, nlohmann::json fields) {
  if (shows(LogLevel::normal)) {
    std::printf("%s\n", message.c_str());
    std::fflush(stdout);
  }
  write("info", event, message, std::move(fields));
}

void RunLog::detail(const std::string& event, const std::string& message, nlohmann::json fields) {
  if (shows(LogLevel::verbose)) {
    std::printf("%s\n", message.c_str());
    std::fflush(stdout);
  }
  write("verbose", event, message, std::move(fields));
}

void RunLog::debug(const std::string& event, const std::string& message, nlohmann::json fields) {
  if (shows(LogLevel::debug)) {
    std::fprintf(stderr, "fmala: debug: %s\n", message.c_str());
  }
  write("debug", event, message, std::move(fields));
}

void RunLog::warning(const std::string& event, const std::string& message, nlohmann::json fields) {
  ++warnings_;
  std::fprintf(stderr, "fmala: warning: %s\n", message.c_str());
  write("warning", event, message, std::move(fields));
}

void RunLog::file_warning(const std::string& event, const std::string& message, nlohmann::json fields) {
  ++warnings_;
  write("warning", event, message, std::move(fields));
}

void RunLog::print_warning(const std::string& message) {
  std::fprintf(stderr, "fmala: warning: %s\n", message.c_str());
}

void RunLog::record(const std::string& event, nlohmann::json fields) {
  write("info", event, "", std::move(fields));
}

}  // namespace fmala::cli
