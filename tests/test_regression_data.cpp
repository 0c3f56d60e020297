// Tests for loading, splitting and standardising regression data.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
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
  EXPECT_NE(message.find("no data.txt"), std::string::npos) << message;
  EXPECT_NE(message.find(path + "/data.txt"), std::string::npos) << message;
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
