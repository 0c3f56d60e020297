// Fuzz target for io::read_table. Each input is read twice, as "input.csv"
// (CSV with an optional header line) and as "input.txt" (whitespace-separated).

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fmala/io/table.hpp"
#include "fuzz_common.hpp"

namespace {

void read_and_check(const std::string& path, size_t size) {
  fmala::fuzz::succeeds([&] {
    const fmala::io::Table table = fmala::io::read_table(path);
    FUZZ_CHECK(table.rows > 0);
    FUZZ_CHECK(table.cols > 0);
    FUZZ_CHECK(table.values.size() == table.rows * table.cols);
    // Every value takes at least one character of the file.
    FUZZ_CHECK(table.values.size() <= size);
    for (double value : table.values) {
      FUZZ_CHECK(std::isfinite(value));
    }
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  read_and_check(fmala::fuzz::write_input("input.csv", data, size), size);
  read_and_check(fmala::fuzz::write_input("input.txt", data, size), size);
  return 0;
}
