// Tests for reading whitespace- and comma-separated numeric tables.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fmala/core/error.hpp"
#include "fmala/io/table.hpp"

namespace {

const std::string kDataDir = std::string(FMALA_TEST_DATA_DIR) + "/io/";

// Returns the message of the fmala::Error that reading `path` throws, or "".
std::string read_error(const std::string& path) {
  try {
    fmala::io::read_table(path);
  } catch (const fmala::Error& error) {
    return error.what();
  }
  return "";
}

}  // namespace

TEST(Table, ReadsConcreteData) {
  const std::string path = std::string(FMALA_SOURCE_DIR) + "/data/concrete/data.txt";
  const fmala::io::Table table = fmala::io::read_table(path);
  EXPECT_EQ(table.path, path);
  ASSERT_EQ(table.rows, 1030u);
  ASSERT_EQ(table.cols, 9u);
  ASSERT_EQ(table.values.size(), 1030u * 9u);
  // First and last lines of the file, which ends in a blank line.
  const std::vector<double> first = {540.0, 0.0, 0.0, 162.0, 2.5, 1040.0, 676.0, 28, 79.99};
  const std::vector<double> last = {260.9, 100.5, 78.3, 200.6, 8.6, 864.5, 761.5, 28, 32.40};
  for (size_t j = 0; j < 9; ++j) {
    EXPECT_EQ(table.values[j], first[j]) << "column " << j;
    EXPECT_EQ(table.values[1029 * 9 + j], last[j]) << "column " << j;
  }
}

TEST(Table, MixedTabsAndSpaces) {
  const fmala::io::Table table = fmala::io::read_table(kDataDir + "mixed_whitespace.txt");
  ASSERT_EQ(table.rows, 3u);
  ASSERT_EQ(table.cols, 3u);
  EXPECT_EQ(table.values, (std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(Table, CrlfLineEndings) {
  const fmala::io::Table table = fmala::io::read_table(kDataDir + "crlf.txt");
  ASSERT_EQ(table.rows, 2u);
  ASSERT_EQ(table.cols, 2u);
  EXPECT_EQ(table.values, (std::vector<double>{1, 2, 3, 4}));
}

TEST(Table, CsvHeaderSkipped) {
  const fmala::io::Table table = fmala::io::read_table(kDataDir + "header.csv");
  ASSERT_EQ(table.rows, 2u);
  ASSERT_EQ(table.cols, 3u);
  EXPECT_EQ(table.values, (std::vector<double>{1.5, 2, 3, -400, 5, 6}));
}

TEST(Table, RaggedRowNamesLine) {
  // ragged.txt: two rows of 3 fields, a blank line 3, then "7 8" on line 4.
  const std::string path = kDataDir + "ragged.txt";
  const std::string message = read_error(path);
  EXPECT_NE(message.find(path + ":4:"), std::string::npos) << message;
  EXPECT_NE(message.find("the row has 2 fields but line 1 has 3 (field 3 is missing)"), std::string::npos)
      << message;
}

TEST(Table, RaggedCsvRowNamesLine) {
  const std::string path = kDataDir + "ragged.csv";
  const std::string message = read_error(path);
  EXPECT_NE(message.find(path + ":3:"), std::string::npos) << message;
  EXPECT_NE(message.find("2 fields"), std::string::npos) << message;
}

TEST(Table, NanRejected) {
  const std::string path = kDataDir + "nan.txt";
  const std::string message = read_error(path);
  EXPECT_NE(message.find(path + ":2:"), std::string::npos) << message;
  EXPECT_NE(message.find("field 2 is NaN"), std::string::npos) << message;
}

TEST(Table, InfinityRejected) {
  const std::string path = kDataDir + "inf.txt";
  const std::string message = read_error(path);
  EXPECT_NE(message.find(path + ":2:"), std::string::npos) << message;
  EXPECT_NE(message.find("field 3 is infinite"), std::string::npos) << message;
}

TEST(Table, NonNumericFieldRejected) {
  const std::string path = kDataDir + "non_numeric.txt";
  const std::string message = read_error(path);
  EXPECT_NE(message.find(path + ":2:"), std::string::npos) << message;
  EXPECT_NE(message.find("field 3 'six' is not a number"), std::string::npos) << message;
}

TEST(Table, EmptyCsvFieldRejected) {
  const std::string path = kDataDir + "empty_field.csv";
  const std::string message = read_error(path);
  EXPECT_NE(message.find(path + ":2:"), std::string::npos) << message;
  EXPECT_NE(message.find("field 2 is empty"), std::string::npos) << message;
}

TEST(Table, FilesWithoutRowsRejected) {
  for (const std::string name : {"empty.txt", "blank.txt", "header_only.csv"}) {
    SCOPED_TRACE(name);
    const std::string path = kDataDir + name;
    const std::string message = read_error(path);
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("no data rows"), std::string::npos) << message;
  }
}

TEST(Table, MissingFileRejected) {
  const std::string path = kDataDir + "no_such_table.txt";
  const std::string message = read_error(path);
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("No such file"), std::string::npos) << message;
}

// A header line is only accepted in CSV: in a whitespace table it is a
// non-numeric field on line 1.
TEST(Table, WhitespaceHeaderRejected) {
  const std::string path = kDataDir + "header.txt";
  const std::string message = read_error(path);
  EXPECT_NE(message.find(path + ":1:"), std::string::npos) << message;
  EXPECT_NE(message.find("field 1 'cement' is not a number"), std::string::npos) << message;
}
