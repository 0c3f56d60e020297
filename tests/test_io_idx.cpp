#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fmala/core/error.hpp"
#include "fmala/io/classification_data.hpp"
#include "fmala/io/idx.hpp"

namespace fmala::io {
namespace {

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

// Writes an unsigned-byte IDX file with the given dims and values.
void write_idx(const std::filesystem::path& path, const std::vector<uint32_t>& dims,
               const std::vector<uint8_t>& values) {
  std::ofstream out(path, std::ios::binary);
  const uint8_t magic[4] = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  out.write(reinterpret_cast<const char*>(magic), 4);
  for (uint32_t d : dims) {
    const uint8_t bytes[4] = {static_cast<uint8_t>(d >> 24), static_cast<uint8_t>(d >> 16),
                              static_cast<uint8_t>(d >> 8), static_cast<uint8_t>(d)};
    out.write(reinterpret_cast<const char*>(bytes), 4);
  }
  out.write(reinterpret_cast<const char*>(values.data()),
            static_cast<std::streamsize>(values.size()));
}

// A fresh directory under the system temporary directory, removed at the end.
class TempDir {
 public:
  explicit TempDir(const std::string& name)
      : path_(std::filesystem::temp_directory_path() /
              (name + "-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
               "-" + std::to_string(reinterpret_cast<uintptr_t>(this)))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code error;
    std::filesystem::remove_all(path_, error);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A valid data set of 2 x 2 images: 3 training and 2 test images.
void write_valid_set(const std::filesystem::path& dir) {
  write_idx(dir / "train-images-idx3-ubyte", {3, 2, 2}, std::vector<uint8_t>(12, 1));
  write_idx(dir / "train-labels-idx1-ubyte", {3}, {0, 1, 2});
  write_idx(dir / "t10k-images-idx3-ubyte", {2, 2, 2}, std::vector<uint8_t>(8, 2));
  write_idx(dir / "t10k-labels-idx1-ubyte", {2}, {3, 4});
}

TEST(Idx, ReadsPlainImages) {
  const IdxArray a = read_idx(kIdxDir + "/images-idx3-ubyte");
  ASSERT_EQ(a.dims, (std::vector<uint32_t>{2, 2, 3}));
  EXPECT_EQ(a.count(), 2u);
  EXPECT_EQ(a.item_size(), 6u);
  EXPECT_EQ(a.values, (std::vector<uint8_t>{0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255}));
}

TEST(Idx, ReadsGzipImagesLikePlain) {
  const IdxArray plain = read_idx(kIdxDir + "/images-idx3-ubyte");
  const IdxArray gz = read_idx(kIdxDir + "/images-idx3-ubyte.gz");
  EXPECT_EQ(gz.dims, plain.dims);
  EXPECT_EQ(gz.values, plain.values);
  EXPECT_EQ(gz.path, kIdxDir + "/images-idx3-ubyte.gz");
}

TEST(Idx, ReadsLabelsPlainAndGzip) {
  for (const std::string name : {"labels-idx1-ubyte", "labels-idx1-ubyte.gz"}) {
    const IdxArray a = read_idx(kIdxDir + "/" + name);
    ASSERT_EQ(a.dims, (std::vector<uint32_t>{2})) << name;
    EXPECT_EQ(a.item_size(), 1u) << name;
    EXPECT_EQ(a.values, (std::vector<uint8_t>{7, 3})) << name;
  }
}

TEST(Idx, RejectsMalformedFiles) {
  struct Case {
    const char* file;
    const char* mentions;
  };
  const Case cases[] = {
      {"missing-idx3-ubyte", "not found"},
      {"bad-magic-idx3-ubyte", "invalid IDX magic number 0x00010803"},
      {"bad-rank-idx2-ubyte", "invalid IDX magic number 0x00000802"},
      {"bad-type-idx3-ubyte", "unsupported IDX type byte 0x0d"},
      {"short-header-idx3-ubyte", "truncated IDX header"},
      {"empty-idx1-ubyte", "truncated IDX header"},
      {"truncated-idx3-ubyte", "truncated IDX data: the header declares 2 x 2 x 3 values, but only 11"},
      {"trailing-idx3-ubyte", "2 trailing bytes"},
      {"zero-dim-idx1-ubyte", "dimension 0 is 0"},
      {"truncated-gzip-idx3-ubyte.gz", "gzip stream is truncated or corrupt"},
  };
  for (const Case& c : cases) {
    const std::string path = kIdxDir + "/" + c.file;
    const std::string message = error_of([&] { read_idx(path); });
    expect_mentions(message, path);
    expect_mentions(message, c.mentions);
  }
}

TEST(Idx, RejectsDimensionProductBeyondData) {
  // 65536 x 65536 x 65536 overflows 64 bits; the reader must still report truncation.
  TempDir dir("fmala-idx-huge");
  const auto path = dir.path() / "huge-idx3-ubyte";
  write_idx(path, {65536, 65536, 65536}, {1, 2, 3});
  const std::string message = error_of([&] { read_idx(path.string()); });
  expect_mentions(message, "truncated IDX data");
}

TEST(ClassificationData, LoadsTinyDirectory) {
  const ClassificationData data = load_classification_data(kIdxDir + "/tiny");
  EXPECT_EQ(data.source, kIdxDir + "/tiny");
  EXPECT_EQ(data.n_features, 6u);
  EXPECT_EQ(data.n_classes, 10);
  EXPECT_EQ(data.train_y, (std::vector<int>{9, 0, 5, 1}));
  EXPECT_EQ(data.test_y, (std::vector<int>{2, 2, 8}));
  ASSERT_EQ(data.train_x.size(), 24u);
  ASSERT_EQ(data.test_x.size(), 18u);
  // x = (pixel / 255 - 0.2860) / 0.3530: pixel 0 -> -0.810198..., 255 -> 2.022662...
  EXPECT_NEAR(data.train_x[0], -0.2860 / 0.3530, 1e-12);
  EXPECT_NEAR(data.train_x[1], (1 - 0.2860) / 0.3530, 1e-12);
  EXPECT_NEAR(data.train_x[6], (10 / 255.0 - 0.2860) / 0.3530, 1e-12);
  EXPECT_NEAR(data.test_x[17], (73 / 255.0 - 0.2860) / 0.3530, 1e-12);
}

TEST(ClassificationData, SubsetKeepsFirstTrainingImages) {
  const ClassificationData all = load_classification_data(kIdxDir + "/tiny");
  const ClassificationData two = load_classification_data(kIdxDir + "/tiny", 2);
  EXPECT_EQ(two.train_y, (std::vector<int>{9, 0}));
  EXPECT_EQ(two.train_x, std::vector<double>(all.train_x.begin(), all.train_x.begin() + 12));
  EXPECT_EQ(two.test_y, all.test_y);
  const std::string message = error_of([&] { load_classification_data(kIdxDir + "/tiny", 5); });
  expect_mentions(message, "5 exceeds the 4 training images");
}

TEST(ClassificationData, MissingDirectoryNamesIt) {
  const std::string path = kIdxDir + "/no-such-directory";
  const std::string message = error_of([&] { load_classification_data(path); });
  expect_mentions(message, path);
  expect_mentions(message, "not found");
}

TEST(ClassificationData, MissingFileListsPathsTried) {
  TempDir dir("fmala-idx-missing");
  write_valid_set(dir.path());
  std::filesystem::remove(dir.path() / "t10k-labels-idx1-ubyte");
  const std::string message = error_of([&] { load_classification_data(dir.path().string()); });
  expect_mentions(message, "missing t10k-labels-idx1-ubyte");
  expect_mentions(message, (dir.path() / "t10k-labels-idx1-ubyte.gz").string());
}

TEST(ClassificationData, RejectsCountMismatch) {
  TempDir dir("fmala-idx-count");
  write_valid_set(dir.path());
  write_idx(dir.path() / "train-labels-idx1-ubyte", {2}, {0, 1});
  const std::string message = error_of([&] { load_classification_data(dir.path().string()); });
  expect_mentions(message, "has 2 labels, but");
  expect_mentions(message, "has 3 images");
}

TEST(ClassificationData, RejectsImageSizeMismatch) {
  TempDir dir("fmala-idx-size");
  write_valid_set(dir.path());
  write_idx(dir.path() / "t10k-images-idx3-ubyte", {2, 1, 4}, std::vector<uint8_t>(8, 2));
  const std::string message = error_of([&] { load_classification_data(dir.path().string()); });
  expect_mentions(message, "images are 1 x 4, but the training images");
  expect_mentions(message, "are 2 x 2");
}

TEST(ClassificationData, RejectsLabelOutOfRange) {
  TempDir dir("fmala-idx-label");
  write_valid_set(dir.path());
  write_idx(dir.path() / "t10k-labels-idx1-ubyte", {2}, {3, 10});
  const std::string message = error_of([&] { load_classification_data(dir.path().string()); });
  expect_mentions(message, (dir.path() / "t10k-labels-idx1-ubyte").string());
  expect_mentions(message, "label 10 at index 1 is out of range 0..9");
}

TEST(ClassificationData, RejectsSwappedFiles) {
  TempDir dir("fmala-idx-swap");
  write_valid_set(dir.path());
  write_idx(dir.path() / "train-images-idx3-ubyte", {3}, {0, 1, 2});
  const std::string message = error_of([&] { load_classification_data(dir.path().string()); });
  expect_mentions(message, "expected 3-dimensional images");
}

TEST(ClassificationData, FashionMnistStatistics) {
  if (!std::filesystem::is_directory(kFashionMnistDirectory)) {
    GTEST_SKIP() << kFashionMnistDirectory
                 << " is absent: install it with apt-get install dataset-fashion-mnist";
  }
  const ClassificationData data = load_classification_data("fashion-mnist", 500);
  EXPECT_EQ(data.source, kFashionMnistDirectory);
  EXPECT_EQ(data.n_train(), 500u);
  EXPECT_EQ(data.n_test(), 10000u);
  EXPECT_EQ(data.n_features, 784u);
  // Standardised with the full training set's statistics, the first 500 images
  // have a mean near 0 and an sd near 1 (not exactly: they are a sample).
  double sum = 0;
  double squares = 0;
  for (double x : data.train_x) {
    sum += x;
    squares += x * x;
  }
  const double n = static_cast<double>(data.train_x.size());
  const double mean = sum / n;
  EXPECT_NEAR(mean, 0.0, 0.05);
  EXPECT_NEAR(std::sqrt(squares / n - mean * mean), 1.0, 0.05);
  // Fashion-MNIST's test set has 1,000 images of each of the 10 classes.
  std::vector<int> per_class(10, 0);
  for (int y : data.test_y) {
    ++per_class[y];
  }
  EXPECT_EQ(per_class, std::vector<int>(10, 1000));
}

}  // namespace
}  // namespace fmala::io
