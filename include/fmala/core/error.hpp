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

// Replaces control characters (NUL among them) other than newline and tab by
// \xHH escapes: a message may quote bytes of a damaged file, and a NUL would
// cut it short where it is printed as a C string.
inline std::string escape_control_characters(const std::string& text) {
  static const char* const kHex = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && c != '\n' && c != '\t') || byte == 0x7f) {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

// Builds the message "<where>: <what>. <fix>" so every error reads alike.
inline Error make_error(const std::string& where, const std::string& what,
                        const std::string& fix = "") {
  std::string message = where.empty() ? what : where + ": " + what;
  if (!fix.empty()) {
    message += ". " + fix;
  }
  return Error(escape_control_characters(message));
}

}  // namespace fmala
