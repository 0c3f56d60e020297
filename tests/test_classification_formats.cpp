// load_classification_data on NPY directories, tables and IDX without
// normalisation. The NPY and table fixtures are written at test time into a
// temporary directory.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

#include "fmala/core/error.hpp"
#include "fmala/io/classification_data.hpp"
#include "fmala/io/npy.hpp"

namespace fmala::io {
namespace {

namespace fs = std::filesystem;

const std::string kIdxDir = std::string(FMALA_TEST_DATA_DIR) + "/idx";

// Returns the message of the fmala::Error that `load` throws, or fails the test.
template <class F>
std::string error_of(F load) {
  try {
    load();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no fmala::Error thrown";
  return "";
}

void expect_mentions(const std::string& message, const std::string& part) {
  EXPECT_NE(message.find(part), std::string::npos) << "message: " << message;
}

// A fresh directory under the system temporary directory, removed at the end.
class TempDir {
 public:
  explicit TempDir(const std::string& name)
      : path_(fs::temp_directory_path() /
              (name + "-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
               "-" + std::to_string(reinterpret_cast<uintptr_t>(this)))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code error;
    fs::remove_all(path_, error);
  }
  const fs::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

void write_doubles(const std::string& path, const std::vector<double>& values,
                   const std::vector<size_t>& shape) {
  write_npy(path, values.data(), shape);
}

// Writes an NPY version 1.0 file of integers by hand, because write_npy writes
// only floats. The file is the magic string, the version, the little-endian
// header length, then a header padded with spaces and ended by '\n' so that the
// data starts at a multiple of 64 bytes.
template <class T>
void write_integers(const std::string& path, const char* descr, const std::vector<T>& values,
                    const std::vector<size_t>& shape) {
  static_assert(std::is_integral_v<T>);
  std::string shape_text = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    shape_text += (i > 0 ? ", " : "") + std::to_string(shape[i]);
  }
  shape_text += shape.size() == 1 ? ",)" : ")";
  std::string header = std::string("{'descr': '") + descr +
                       "', 'fortran_order': False, 'shape': " + shape_text + ", }";
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';

  std::string bytes("\x93NUMPY\x01\x00", 8);
  bytes += static_cast<char>(header.size() & 0xff);
  bytes += static_cast<char>(header.size() >> 8);
  bytes += header;
  for (T value : values) {
    const auto bits = static_cast<std::make_unsigned_t<T>>(value);
    for (size_t b = 0; b < sizeof(T); ++b) {
      bytes += static_cast<char>((bits >> (8 * b)) & 0xff);
    }
  }
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// A valid NPY directory: training x (3, 2) with labels {0, 1, 2} and test x
// (2, 2) with labels {1, 0}, all doubles.
void write_npy_set(const TempDir& dir) {
  write_doubles(dir.file("train_x.npy"), {1, 2, 3, 4, 5, 6}, {3, 2});
  write_doubles(dir.file("train_y.npy"), {0, 1, 2}, {3});
  write_doubles(dir.file("test_x.npy"), {7, 8, 9, 10}, {2, 2});
  write_doubles(dir.file("test_y.npy"), {1, 0}, {2});
}

// ---------------------------------------------------------------------------
// Shapes and values

TEST(ClassificationFormats, NpyImagesSetHeightWidthChannels) {
  TempDir dir("fmala-cls-nhwc");
  // Training x (3, 2, 2, 3) and test x (2, 2, 2, 3): values 0 .. 35 and 100 .. 123.
  std::vector<double> train_x(36);
  std::iota(train_x.begin(), train_x.end(), 0.0);
  std::vector<double> test_x(24);
  std::iota(test_x.begin(), test_x.end(), 100.0);
  write_doubles(dir.file("train_x.npy"), train_x, {3, 2, 2, 3});
  write_integers<int64_t>(dir.file("train_y.npy"), "<i8", {0, 2, 1}, {3});
  write_doubles(dir.file("test_x.npy"), test_x, {2, 2, 2, 3});
  write_integers<int64_t>(dir.file("test_y.npy"), "<i8", {1, 0}, {2});

  const ClassificationData data =
      load_classification_data(dir.path().string(), 0, Normalisation::none);
  EXPECT_EQ(data.source, dir.path().string());
  EXPECT_EQ(data.height, 2);
  EXPECT_EQ(data.width, 2);
  EXPECT_EQ(data.channels, 3);
  EXPECT_EQ(data.n_features, 12u);
  EXPECT_EQ(data.n_classes, 3);
  EXPECT_EQ(data.n_train(), 3u);
  EXPECT_EQ(data.n_test(), 2u);
  EXPECT_EQ(data.train_x, train_x);
  EXPECT_EQ(data.test_x, test_x);
  EXPECT_EQ(data.train_y, (std::vector<int>{0, 2, 1}));
  EXPECT_EQ(data.test_y, (std::vector<int>{1, 0}));
}

TEST(ClassificationFormats, NpyThreeDimensionsGiveOneChannel) {
  TempDir dir("fmala-cls-nhw");
  write_doubles(dir.file("train_x.npy"), std::vector<double>(2 * 3 * 4, 0.5), {2, 3, 4});
  write_integers<int32_t>(dir.file("train_y.npy"), "<i4", {1, 0}, {2});
  const ClassificationData data =
      load_classification_data(dir.path().string(), 0, Normalisation::none);
  EXPECT_EQ(data.height, 3);
  EXPECT_EQ(data.width, 4);
  EXPECT_EQ(data.channels, 1);
  EXPECT_EQ(data.n_features, 12u);
}

TEST(ClassificationFormats, NpyTableWithoutTestSplit) {
  TempDir dir("fmala-cls-table");
  write_doubles(dir.file("train_x.npy"), {1, 2, 3, 4, 5, 6}, {2, 3});
  write_integers<uint8_t>(dir.file("train_y.npy"), "|u1", {3, 1}, {2});
  const ClassificationData data =
      load_classification_data(dir.path().string(), 0, Normalisation::none);
  EXPECT_EQ(data.height, 1);
  EXPECT_EQ(data.width, 3);
  EXPECT_EQ(data.channels, 1);
  EXPECT_EQ(data.n_features, 3u);
  EXPECT_EQ(data.n_test(), 0u);
  EXPECT_TRUE(data.test_x.empty());
  EXPECT_EQ(data.train_y, (std::vector<int>{3, 1}));
  // The largest label is 3, so the classes are 0 .. 3.
  EXPECT_EQ(data.n_classes, 4);
}

TEST(ClassificationFormats, NpyWholeFloatLabels) {
  TempDir dir("fmala-cls-float-labels");
  write_npy_set(dir);
  std::vector<float> labels = {2.0f, 0.0f, 1.0f};
  write_npy(dir.file("train_y.npy"), labels.data(), {3});
  const ClassificationData data = load_classification_data(dir.path().string());
  EXPECT_EQ(data.train_y, (std::vector<int>{2, 0, 1}));
}

TEST(ClassificationFormats, CsvDirectoryWithHeader) {
  TempDir dir("fmala-cls-csv");
  write_text(dir.file("train.csv"), "a,b,label\n1.5,2,0\n3,-4,1\n\n5,6,1\n");
  write_text(dir.file("test.csv"), "a,b,label\n7,8,2\n");
  const ClassificationData data =
      load_classification_data(dir.path().string(), 0, Normalisation::none);
  EXPECT_EQ(data.source, dir.path().string());
  EXPECT_EQ(data.height, 1);
  EXPECT_EQ(data.width, 2);
  EXPECT_EQ(data.channels, 1);
  EXPECT_EQ(data.n_features, 2u);
  EXPECT_EQ(data.train_x, (std::vector<double>{1.5, 2, 3, -4, 5, 6}));
  EXPECT_EQ(data.train_y, (std::vector<int>{0, 1, 1}));
  EXPECT_EQ(data.test_x, (std::vector<double>{7, 8}));
  EXPECT_EQ(data.test_y, (std::vector<int>{2}));
  // The test label 2 is the largest over both splits.
  EXPECT_EQ(data.n_classes, 3);
}

TEST(ClassificationFormats, SingleTableFileIsTrainingOnly) {
  TempDir dir("fmala-cls-file");
  const std::string path = dir.file("rows.txt");
  write_text(path, "0.5 1 1\n2 3 0\n");
  const ClassificationData data = load_classification_data(path, 0, Normalisation::none);
  EXPECT_EQ(data.source, path);
  EXPECT_EQ(data.n_train(), 2u);
  EXPECT_EQ(data.n_test(), 0u);
  EXPECT_EQ(data.train_x, (std::vector<double>{0.5, 1, 2, 3}));
  EXPECT_EQ(data.train_y, (std::vector<int>{1, 0}));
  EXPECT_EQ(data.n_classes, 2);
}

TEST(ClassificationFormats, NClassesAtLeastLargestLabelPlusOne) {
  TempDir dir("fmala-cls-classes");
  write_npy_set(dir);
  write_doubles(dir.file("test_y.npy"), {4, 0}, {2});
  const ClassificationData data = load_classification_data(dir.path().string());
  EXPECT_EQ(data.n_classes, 5);
}

// ---------------------------------------------------------------------------
// Normalisation

TEST(ClassificationFormats, StandardUsesTrainingMeanAndSd) {
  TempDir dir("fmala-cls-standard");
  // Feature 0 is 2, 4, 4, 4, 5, 5, 7, 9: mean 40 / 8 = 5, squared deviations
  // 9 + 1 + 1 + 1 + 0 + 0 + 4 + 16 = 32, population sd sqrt(32 / 8) = 2.
  // Feature 1 is constant 3, so its mean is 3 and its sd 1.
  write_text(dir.file("train.csv"),
             "f0,f1,y\n2,3,0\n4,3,1\n4,3,0\n4,3,1\n5,3,0\n5,3,1\n7,3,0\n9,3,1\n");
  write_text(dir.file("test.csv"), "11,4,0\n1,3,1\n");
  const ClassificationData data = load_classification_data(dir.path().string());
  ASSERT_EQ(data.train_x.size(), 16u);
  const double expected_feature0[] = {-1.5, -0.5, -0.5, -0.5, 0, 0, 1, 2};
  for (size_t row = 0; row < 8; ++row) {
    EXPECT_DOUBLE_EQ(data.train_x[row * 2], expected_feature0[row]) << "row " << row;
    EXPECT_EQ(data.train_x[row * 2 + 1], 0.0) << "row " << row;
  }
  // Test rows use the training statistics: (11 - 5) / 2 = 3, (4 - 3) / 1 = 1,
  // (1 - 5) / 2 = -2, (3 - 3) / 1 = 0.
  ASSERT_EQ(data.test_x.size(), 4u);
  EXPECT_DOUBLE_EQ(data.test_x[0], 3.0);
  EXPECT_DOUBLE_EQ(data.test_x[1], 1.0);
  EXPECT_DOUBLE_EQ(data.test_x[2], -2.0);
  EXPECT_DOUBLE_EQ(data.test_x[3], 0.0);
}

TEST(ClassificationFormats, StandardGivesZeroMeanUnitSd) {
  TempDir dir("fmala-cls-moments");
  // x (5, 2, 2, 1) with uneven values: every one of the 4 features must come
  // out with training mean 0 and population sd 1.
  const std::vector<double> x = {0.1, 7,  -3, 100, 2.5, 8,   -1, 250, 0.7, 6,
                                 -2,  90, 9,  11,  -8,  300, 4,  10,  -5,  120};
  write_doubles(dir.file("train_x.npy"), x, {5, 2, 2, 1});
  write_doubles(dir.file("train_y.npy"), {0, 1, 0, 1, 1}, {5});
  const ClassificationData data = load_classification_data(dir.path().string());
  ASSERT_EQ(data.n_features, 4u);
  for (size_t j = 0; j < 4; ++j) {
    double sum = 0;
    for (size_t row = 0; row < 5; ++row) {
      sum += data.train_x[row * 4 + j];
    }
    const double mean = sum / 5;
    double squares = 0;
    for (size_t row = 0; row < 5; ++row) {
      squares += (data.train_x[row * 4 + j] - mean) * (data.train_x[row * 4 + j] - mean);
    }
    EXPECT_NEAR(mean, 0.0, 1e-14) << "feature " << j;
    EXPECT_NEAR(std::sqrt(squares / 5), 1.0, 1e-14) << "feature " << j;
  }
}

TEST(ClassificationFormats, StandardUsesOnlySubsetRows) {
  TempDir dir("fmala-cls-subset-stats");
  write_text(dir.file("train.csv"), "2,0\n4,1\n4,0\n4,1\n100,1\n");
  // The first 4 rows have feature values 2, 4, 4, 4: mean 3.5, squared
  // deviations 2.25 + 3 * 0.25 = 3, population sd sqrt(3 / 4). Row 5 (100)
  // is dropped and must not shift the statistics.
  const ClassificationData data = load_classification_data(dir.path().string(), 4);
  ASSERT_EQ(data.n_train(), 4u);
  const double sd = std::sqrt(0.75);
  EXPECT_DOUBLE_EQ(data.train_x[0], -1.5 / sd);
  EXPECT_DOUBLE_EQ(data.train_x[1], 0.5 / sd);
}

TEST(ClassificationFormats, NoneKeepsStoredValues) {
  TempDir dir("fmala-cls-none");
  write_doubles(dir.file("train_x.npy"), {0.25, -3, 1e3, 7}, {2, 2});
  write_doubles(dir.file("train_y.npy"), {0, 1}, {2});
  write_doubles(dir.file("test_x.npy"), {-0.5, 42}, {1, 2});
  write_doubles(dir.file("test_y.npy"), {1}, {1});
  const ClassificationData data =
      load_classification_data(dir.path().string(), 0, Normalisation::none);
  EXPECT_EQ(data.train_x, (std::vector<double>{0.25, -3, 1e3, 7}));
  EXPECT_EQ(data.test_x, (std::vector<double>{-0.5, 42}));
}

TEST(ClassificationFormats, IdxNoneDividesBy255) {
  const ClassificationData data =
      load_classification_data(kIdxDir + "/tiny", 0, Normalisation::none);
  EXPECT_EQ(data.height, 2);
  EXPECT_EQ(data.width, 3);
  EXPECT_EQ(data.channels, 1);
  EXPECT_EQ(data.n_classes, 10);
  ASSERT_EQ(data.train_x.size(), 24u);
  ASSERT_EQ(data.test_x.size(), 18u);
  // The tiny set's first image starts with pixels 0, 255, and the second with 10.
  EXPECT_EQ(data.train_x[0], 0.0);
  EXPECT_EQ(data.train_x[1], 1.0);
  EXPECT_DOUBLE_EQ(data.train_x[6], 10 / 255.0);
  EXPECT_DOUBLE_EQ(data.test_x[17], 73 / 255.0);
}

TEST(ClassificationFormats, IdxStandardIsDefault) {
  const ClassificationData implicit = load_classification_data(kIdxDir + "/tiny");
  const ClassificationData standard =
      load_classification_data(kIdxDir + "/tiny", 0, Normalisation::standard);
  EXPECT_EQ(implicit.train_x, standard.train_x);
  // x = (pixel / 255 - 0.2860) / 0.3530 for pixel 255.
  EXPECT_NEAR(standard.train_x[1], (1 - 0.2860) / 0.3530, 1e-12);
}

// ---------------------------------------------------------------------------
// Subset

TEST(ClassificationFormats, SubsetKeepsFirstNpyRows) {
  TempDir dir("fmala-cls-subset");
  write_npy_set(dir);
  const ClassificationData data =
      load_classification_data(dir.path().string(), 2, Normalisation::none);
  EXPECT_EQ(data.train_x, (std::vector<double>{1, 2, 3, 4}));
  EXPECT_EQ(data.train_y, (std::vector<int>{0, 1}));
  EXPECT_EQ(data.n_test(), 2u);
  // The dropped row's label 2 still counts towards the classes.
  EXPECT_EQ(data.n_classes, 3);
}

TEST(ClassificationFormats, SubsetBeyondTrainingRowsRejected) {
  TempDir dir("fmala-cls-subset-large");
  write_npy_set(dir);
  const std::string message = error_of([&] { load_classification_data(dir.path().string(), 4); });
  expect_mentions(message, "subset: 4 exceeds the 3 training rows in " + dir.file("train_x.npy"));
  expect_mentions(message, "Give at most 3");

  write_text(dir.file("rows.csv"), "1,0\n2,1\n");
  const std::string table_message =
      error_of([&] { load_classification_data(dir.file("rows.csv"), 3); });
  expect_mentions(table_message, "3 exceeds the 2 training rows in " + dir.file("rows.csv"));
}

// ---------------------------------------------------------------------------
// Layout errors

TEST(ClassificationFormats, MissingPathRejected) {
  const std::string path = kIdxDir + "/no-such-data";
  const std::string message = error_of([&] { load_classification_data(path); });
  expect_mentions(message, path);
  expect_mentions(message, "not found");
  expect_mentions(message, "train_x.npy");
  expect_mentions(message, "train.csv");
}

TEST(ClassificationFormats, EmptyDirectoryListsNamesTried) {
  TempDir dir("fmala-cls-empty");
  write_text(dir.file("notes.txt"), "nothing here\n");
  const std::string message = error_of([&] { load_classification_data(dir.path().string()); });
  expect_mentions(message, dir.path().string());
  expect_mentions(message, "none of the known layouts");
  for (const char* name : {"train-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "train_x.npy",
                           "test_y.npy", "train.csv"}) {
    expect_mentions(message, name);
  }
}

TEST(ClassificationFormats, MixedLayoutsRejected) {
  TempDir dir("fmala-cls-mixed");
  write_npy_set(dir);
  write_text(dir.file("train.csv"), "1,0\n2,1\n");
  const std::string message = error_of([&] { load_classification_data(dir.path().string()); });
  expect_mentions(message, dir.path().string());
  expect_mentions(message, "more than one layout");
  expect_mentions(message, "NPY: train_x.npy, train_y.npy, test_x.npy, test_y.npy");
  expect_mentions(message, "table: train.csv");
}

TEST(ClassificationFormats, MissingTrainingNpyNamed) {
  TempDir dir("fmala-cls-no-train-y");
  write_npy_set(dir);
  fs::remove(dir.path() / "train_y.npy");
  const std::string message = error_of([&] { load_classification_data(dir.path().string()); });
  expect_mentions(message, "missing train_y.npy");
  expect_mentions(message, dir.file("train_y.npy"));
}

TEST(ClassificationFormats, LoneTestNpyRejected) {
  TempDir dir("fmala-cls-lone-test");
  write_npy_set(dir);
  fs::remove(dir.path() / "test_y.npy");
  const std::string message = error_of([&] { load_classification_data(dir.path().string()); });
  expect_mentions(message, "contains test_x.npy but not test_y.npy");
  expect_mentions(message, dir.file("test_y.npy"));
  expect_mentions(message, "remove test_x.npy to load without a test split");
}

TEST(ClassificationFormats, MissingTrainCsvRejected) {
  TempDir dir("fmala-cls-no-train-csv");
  write_text(dir.file("test.csv"), "1,0\n2,1\n");
  const std::string message = error_of([&] { load_classification_data(dir.path().string()); });
  expect_mentions(message, "missing train.csv");
  expect_mentions(message, dir.file("train.csv"));
}

TEST(ClassificationFormats, SingleArrayFileRejected) {
  TempDir dir("fmala-cls-single-npy");
  write_npy_set(dir);
  const std::string message = error_of([&] { load_classification_data(dir.file("train_x.npy")); });
  expect_mentions(message, dir.file("train_x.npy"));
  expect_mentions(message, "a single NPY file cannot hold both the features and the labels");

  const std::string idx_path = kIdxDir + "/images-idx3-ubyte";
  const std::string idx_message = error_of([&] { load_classification_data(idx_path); });
  expect_mentions(idx_message, idx_path);
  expect_mentions(idx_message, "a single IDX file cannot hold both the images and the labels");
}

// ---------------------------------------------------------------------------
// Shape errors

TEST(ClassificationFormats, RowCountMismatchRejected) {
  TempDir dir("fmala-cls-count");
  write_npy_set(dir);
  write_doubles(dir.file("train_y.npy"), {0, 1}, {2});
  const std::string message = error_of([&] { load_classification_data(dir.path().string()); });
  expect_mentions(message, dir.file("train_y.npy") + ": has 2 labels, but");
  expect_mentions(message, dir.file("train_x.npy") + " has 3 rows");
}

TEST(ClassificationFormats, TestImageShapeMismatchRejected) {
  TempDir dir("fmala-cls-shape");
  write_doubles(dir.file("train_x.npy"), std::vector<double>(12, 1), {3, 2, 2});
  write_doubles(dir.file("train_y.npy"), {0, 1, 0}, {3});
  // Same feature count (4) as the training images but a different shape.
  write_doubles(dir.file("test_x.npy"), std::vector<double>(8, 1), {2, 4});
  write_doubles(dir.file("test_y.npy"), {1, 0}, {2});
  const std::string message = error_of([&] { load_classification_data(dir.path().string()); });
  expect_mentions(message, dir.file("test_x.npy") + ": rows have shape 1 x 4 x 1");
  expect_mentions(message, dir.file("train_x.npy") + " have shape 2 x 2 x 1");
}

TEST(ClassificationFormats, TableColumnCountMismatchRejected) {
  TempDir dir("fmala-cls-columns");
  write_text(dir.file("train.csv"), "1,2,0\n3,4,1\n");
  write_text(dir.file("test.csv"), "1,2,3,0\n");
  const std::string message = error_of([&] { load_classification_data(dir.path().string()); });
  expect_mentions(message, dir.file("test.csv") + ": the table has 4 columns, but");
  expect_mentions(message, dir.file("train.csv") + " has 3");
}

TEST(ClassificationFormats, LabelsNotOneDimensionalRejected) {
  TempDir dir("fmala-cls-y-rank");
  write_npy_set(dir);
  write_doubles(dir.file("train_y.npy"), {0, 1, 2}, {3, 1});
  const std::string message = error_of([&] { load_classification_data(dir.path().string()); });
  expect_mentions(message, dir.file("train_y.npy"));
  expect_mentions(message, "y has shape (3, 1), expected 1 dimension (N)");
}

TEST(ClassificationFormats, FeatureRankOutsideTwoToFourRejected) {
  struct Case {
    std::vector<size_t> shape;
    const char* mentions;
  };
  const Case cases[] = {
      {{}, "x has shape (), expected"},
      {{3}, "x has shape (3,), expected"},
      {{3, 1, 1, 1, 1}, "x has shape (3, 1, 1, 1, 1), expected"},
  };
  for (const Case& c : cases) {
    TempDir dir("fmala-cls-x-rank");
    write_npy_set(dir);
    write_doubles(dir.file("train_x.npy"), {1, 2, 3}, c.shape);
    const std::string message = error_of([&] { load_classification_data(dir.path().string()); });
    expect_mentions(message, dir.file("train_x.npy"));
    expect_mentions(message, c.mentions);
    expect_mentions(message, "expected (N, P), (N, H, W) or (N, H, W, C)");
  }
}

TEST(ClassificationFormats, NoFeaturesRejected) {
  TempDir dir("fmala-cls-no-features");
  write_npy_set(dir);
  write_doubles(dir.file("train_x.npy"), {}, {3, 0});
  const std::string message = error_of([&] { load_classification_data(dir.path().string()); });
  expect_mentions(message, dir.file("train_x.npy"));
  expect_mentions(message, "no features");
}

TEST(ClassificationFormats, SingleColumnTableRejected) {
  TempDir dir("fmala-cls-one-column");
  write_text(dir.file("train.csv"), "0\n1\n");
  const std::string message = error_of([&] { load_classification_data(dir.path().string()); });
  expect_mentions(message, dir.file("train.csv"));
  expect_mentions(message, "at least one feature column and the label column");
}

TEST(ClassificationFormats, EmptyTrainingSplitRejected) {
  TempDir dir("fmala-cls-empty-train");
  write_npy_set(dir);
  write_doubles(dir.file("train_x.npy"), {}, {0, 2});
  write_doubles(dir.file("train_y.npy"), {}, {0});
  const std::string message = error_of([&] { load_classification_data(dir.path().string()); });
  expect_mentions(message, dir.file("train_x.npy"));
  expect_mentions(message, "the training split is empty");
}

// ---------------------------------------------------------------------------
// Value errors

TEST(ClassificationFormats, InvalidNpyLabelsRejected) {
  struct Case {
    const char* file;
    std::vector<double> labels;
    const char* mentions;
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Case cases[] = {
      {"train_y.npy", {0, -1, 1}, "label -1 at index 1 is negative"},
      {"train_y.npy", {0, 1, 1.5}, "label 1.5 at index 2 is not a whole number"},
      {"train_y.npy", {0, 1, nan}, "the label at index 2 is NaN"},
      {"test_y.npy", {1, 3e9}, "label 3000000000 at index 1 exceeds the largest supported label"},
  };
  for (const Case& c : cases) {
    TempDir dir("fmala-cls-bad-label");
    write_npy_set(dir);
    write_doubles(dir.file(c.file), c.labels, {c.labels.size()});
    const std::string message = error_of([&] { load_classification_data(dir.path().string()); });
    expect_mentions(message, dir.file(c.file));
    expect_mentions(message, c.mentions);
  }
}

TEST(ClassificationFormats, NegativeIntegerLabelRejected) {
  TempDir dir("fmala-cls-int-label");
  write_npy_set(dir);
  write_integers<int32_t>(dir.file("train_y.npy"), "<i4", {0, 1, -2}, {3});
  const std::string message = error_of([&] { load_classification_data(dir.path().string()); });
  expect_mentions(message, dir.file("train_y.npy"));
  expect_mentions(message, "label -2 at index 2 is negative");
}

TEST(ClassificationFormats, InvalidTableLabelsRejected) {
  struct Case {
    const char* file;
    const char* text;
    const char* mentions;
  };
  const Case cases[] = {
      {"labels.csv", "x,y\n1,0\n2,-1\n", "label -1 at data row 1"},
      {"labels.txt", "1 0\n2 1\n3 0.5\n", "label 0.5 at data row 2"},
  };
  for (const Case& c : cases) {
    TempDir dir("fmala-cls-table-label");
    const std::string path = dir.file(c.file);
    write_text(path, c.text);
    const std::string message = error_of([&] { load_classification_data(path); });
    expect_mentions(message, path);
    expect_mentions(message, c.mentions);
  }
}

TEST(ClassificationFormats, NonFiniteFeaturesRejected) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  {
    TempDir dir("fmala-cls-nan");
    write_npy_set(dir);
    write_doubles(dir.file("train_x.npy"), {1, 2, 3, nan, 5, 6}, {3, 2});
    const std::string message = error_of([&] { load_classification_data(dir.path().string()); });
    expect_mentions(message, dir.file("train_x.npy"));
    expect_mentions(message, "the feature value at index 3 (row 1, feature 1) is NaN");
  }
  {
    TempDir dir("fmala-cls-inf");
    write_npy_set(dir);
    write_doubles(dir.file("test_x.npy"), {7, -inf, 9, 10}, {2, 2});
    const std::string message = error_of([&] { load_classification_data(dir.path().string()); });
    expect_mentions(message, dir.file("test_x.npy"));
    expect_mentions(message, "the feature value at index 1 (row 0, feature 1) is infinite");
  }
  {
    // read_table rejects the value itself, naming the line.
    TempDir dir("fmala-cls-table-nan");
    write_text(dir.file("train.csv"), "1,0\nnan,1\n");
    const std::string message = error_of([&] { load_classification_data(dir.path().string()); });
    expect_mentions(message, dir.file("train.csv") + ":2");
    expect_mentions(message, "NaN");
  }
}

TEST(ClassificationFormats, SingleClassRejected) {
  TempDir dir("fmala-cls-one-class");
  write_npy_set(dir);
  write_doubles(dir.file("train_y.npy"), {0, 0, 0}, {3});
  write_doubles(dir.file("test_y.npy"), {0, 0}, {2});
  const std::string message = error_of([&] { load_classification_data(dir.path().string()); });
  expect_mentions(message, dir.file("train_y.npy"));
  expect_mentions(message, dir.file("test_y.npy"));
  expect_mentions(message, "1 class");
  expect_mentions(message, "at least 2");
}

TEST(ClassificationFormats, UnrepresentableStatisticsRejected) {
  TempDir dir("fmala-cls-overflow");
  // The sum 1.5e308 + 1.7e308 overflows double, so the mean is infinite.
  write_doubles(dir.file("train_x.npy"), {1.5e308, 1.7e308}, {2, 1});
  write_doubles(dir.file("train_y.npy"), {0, 1}, {2});
  const std::string message = error_of([&] { load_classification_data(dir.path().string()); });
  expect_mentions(message, dir.file("train_x.npy"));
  expect_mentions(message, "feature 0 cannot be standardised");
  const ClassificationData data =
      load_classification_data(dir.path().string(), 0, Normalisation::none);
  EXPECT_EQ(data.train_x, (std::vector<double>{1.5e308, 1.7e308}));
}

}  // namespace
}  // namespace fmala::io
