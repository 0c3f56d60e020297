// Numeric text tables, whitespace- or comma-separated (see table.hpp).

#include "fmala/io/table.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "fmala/core/error.hpp"
#include "fmala/io/read_file.hpp"

namespace fmala::io {
namespace {


bool is_blank(char c) { return c == ' ' || c == '\t'; }

// A field as an error message quotes it: at most 40 bytes, so that a binary
// file read as a table does not flood the terminal.
std::string quoted(std::string_view field) {
  constexpr size_t kMax = 40;
  return "'" + std::string(field.substr(0, kMax)) + (field.size() > kMax ? "...'" : "'");
}

bool ends_with_csv(const std::string& path) {
  if (path.size() < 4) {
    return false;
  }
  std::string suffix = path.substr(path.size() - 4);
  std::transform(suffix.begin(), suffix.end(), suffix.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return suffix == ".csv";
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_blank(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && is_blank(text.back())) {
    text.remove_suffix(1);
  }
  return text;
}

// Splits a line into fields. In the whitespace format, runs of spaces and tabs
// separate fields. In CSV, each comma separates two fields, which are trimmed
// and may be empty.
std::vector<std::string_view> split_fields(std::string_view line, bool csv) {
  std::vector<std::string_view> fields;
  if (csv) {
    size_t start = 0;
    while (true) {
      const size_t comma = line.find(',', start);
      fields.push_back(trim(line.substr(start, comma - start)));
      if (comma == std::string_view::npos) {
        break;
      }
      start = comma + 1;
    }
    return fields;
  }
  size_t pos = 0;
  while (pos < line.size()) {
    while (pos < line.size() && is_blank(line[pos])) {
      ++pos;
    }
    const size_t start = pos;
    while (pos < line.size() && !is_blank(line[pos])) {
      ++pos;
    }
    if (pos > start) {
      fields.push_back(line.substr(start, pos - start));
    }
  }
  return fields;
}

enum class ParseStatus { kOk, kNotNumber, kOutOfRange };

// Parses a whole field as a decimal floating-point number. std::from_chars is
// locale-independent but rejects a leading '+', which text tables do contain.
ParseStatus parse_number(std::string_view field, double& value) {
  if (field.size() > 1 && field[0] == '+' && field[1] != '+' && field[1] != '-') {
    field.remove_prefix(1);
  }
  if (field.empty()) {
    return ParseStatus::kNotNumber;
  }
  const char* end = field.data() + field.size();
  const std::from_chars_result result = std::from_chars(field.data(), end, value);
  if (result.ptr != end) {
    return ParseStatus::kNotNumber;
  }
  if (result.ec == std::errc::result_out_of_range) {
    return ParseStatus::kOutOfRange;
  }
  return result.ec == std::errc() ? ParseStatus::kOk : ParseStatus::kNotNumber;
}

bool is_header(const std::vector<std::string_view>& fields) {
  double ignored = 0;
  return std::none_of(fields.begin(), fields.end(), [&](std::string_view field) {
    return parse_number(field, ignored) != ParseStatus::kNotNumber;
  });
}

}  // namespace

Table read_table(const std::string& path) {
  const std::string text = read_whole_file(path, "table");
  const bool csv = ends_with_csv(path);

  Table table;
  table.path = path;
  size_t first_row_line = 0;  // line that fixed the column count
  size_t line_number = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      end = text.size();
    }
    std::string_view line(text.data() + start, end - start);
    start = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (trim(line).empty()) {
      continue;
    }

    const std::string where = path + ":" + std::to_string(line_number);
    const std::vector<std::string_view> fields = split_fields(line, csv);
    if (first_row_line == 0) {
      first_row_line = line_number;
      table.cols = fields.size();
      if (csv && is_header(fields)) {
        continue;
      }
    } else if (fields.size() != table.cols) {
      const size_t column = std::min(fields.size(), table.cols) + 1;
      throw make_error(where,
                       "the row has " + std::to_string(fields.size()) + " fields but line " +
                           std::to_string(first_row_line) + " has " + std::to_string(table.cols) +
                           " (field " + std::to_string(column) +
                           (fields.size() < table.cols ? " is missing)" : " is extra)"),
                       "Give every row the same number of fields");
    }

    for (size_t i = 0; i < fields.size(); ++i) {
      const std::string field_name = "field " + std::to_string(i + 1);
      double value = 0;
      switch (parse_number(fields[i], value)) {
        case ParseStatus::kOk:
          break;
        case ParseStatus::kNotNumber:
          if (fields[i].empty()) {
            throw make_error(where, field_name + " is empty",
                             "Fill in the missing value or remove the row");
          }
          throw make_error(where, field_name + " " + quoted(fields[i]) + " is not a number",
                           csv ? "Only the first line of a CSV file may contain column names"
                               : "Whitespace tables contain only numbers, with no header line");
        case ParseStatus::kOutOfRange:
          throw make_error(
              where, field_name + " " + quoted(fields[i]) + " is out of the range of double",
              "Rescale the column");
      }
      if (std::isnan(value)) {
        throw make_error(where, field_name + " is NaN",
                         "Remove or impute missing values before loading the table");
      }
      if (std::isinf(value)) {
        throw make_error(where, field_name + " is infinite",
                         "Remove or replace infinite values before loading the table");
      }
      table.values.push_back(value);
    }
    ++table.rows;
  }

  if (table.rows == 0) {
    throw make_error(path,
                     csv ? "the table has no data rows (the file is empty, blank, or "
                           "contains only a header line)"
                         : "the table has no data rows (the file is empty or blank)",
                     "Check that the path names the intended file");
  }
  return table;
}

}  // namespace fmala::io
