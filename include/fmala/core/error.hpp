#pragma once
// fmala::Error: the exception for bad input and bad settings. Its message names
// where the problem is (a file, flag or field), what is wrong, and the fix.

#include <stdexcept>
#include <string>

namespace fmala {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Builds the message "<where>: <what>. <fix>" so every error reads alike.
inline Error make_error(const std::string& where, const std::string& what,
                        const std::string& fix = "") {
  std::string message = where.empty() ? what : where + ": " + what;
  if (!fix.empty()) {
    message += ". " + fix;
  }
  return Error(message);
}

}  // namespace fmala
