#pragma once
// Numeric text tables: whitespace-separated, or comma-separated for files
// whose name ends in ".csv".

#include <cstddef>
#include <string>
#include <vector>

namespace fmala::io {

struct Table {
  size_t rows = 0, cols = 0;
  std::vector<double> values;  // (rows, cols), row-major
  std::string path;            // the file read
};

// Reads a table of finite numbers with the same number of fields on every row.
//
// Whitespace format: fields separated by any run of spaces and tabs, with
// optional leading and trailing whitespace and no header.
// CSV format (name ends in ".csv", any case): fields separated by commas, with
// surrounding whitespace ignored. A first line whose fields are all
// non-numeric is a header of column names and is skipped.
// In both formats blank lines are skipped and a line may end in "\r\n".
//
// Throws fmala::Error naming the file and, where it applies, the line (1-based)
// for a missing or unreadable file, a file with no data rows, or a row whose
// field count differs from the first row's. A field that is empty, non-numeric,
// out of the range of double, NaN or infinite is an error too.
Table read_table(const std::string& path);

}  // namespace fmala::io
