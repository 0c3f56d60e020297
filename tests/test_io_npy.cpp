// Tests for the NPY reader and writer and for atomic file replacement. The
// reference files in tests/data/io were written by NumPy with
// tests/data/io/make_npy_references.py.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fmala/core/error.hpp"
#include "fmala/io/atomic_file.hpp"
#include "fmala/io/npy.hpp"

namespace fs = std::filesystem;

namespace {

const std::string kDataDir = std::string(FMALA_TEST_DATA_DIR) + "/io/";

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Returns the message of the fmala::Error that `action` throws, or "" if none.
template <typename Action>
std::string error_message(Action action) {
  try {
    action();
  } catch (const fmala::Error& error) {
    return error.what();
  }
  return "";
}

// A fresh directory per test, removed afterwards.
class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("fmala-io-" + std::to_string(::getpid()) + "-" +
                                        info->test_suite_name() + "-" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  size_t entry_count() const {
    return static_cast<size_t>(
        std::distance(fs::directory_iterator(dir_), fs::directory_iterator()));
  }

  fs::path dir_;
};

size_t product(const std::vector<size_t>& shape) {
  size_t count = 1;
  for (size_t extent : shape) {
    count *= extent;
  }
  return count;
}

const std::vector<std::vector<size_t>> kShapes = {{5}, {2, 3}, {2, 3, 4}, {}, {0, 3}, {1, 1, 1}};

}  // namespace

using NpyWriter = TempDirTest;
using AtomicFile = TempDirTest;
using NpyReader = TempDirTest;

TEST_F(NpyWriter, RoundTripDoubleShapes) {
  for (const auto& shape : kShapes) {
    SCOPED_TRACE(shape.size());
    std::vector<double> values(product(shape));
    for (size_t i = 0; i < values.size(); ++i) {
      values[i] = 0.37 * static_cast<double>(i) - 5.0 + 1e-300;
    }
    const std::string file = path("a.npy");
    fmala::io::write_npy(file, values.data(), shape);
    const fmala::io::NpyArray array = fmala::io::read_npy(file);
    EXPECT_EQ(array.dtype, "<f8");
    EXPECT_EQ(array.shape, shape);
    EXPECT_EQ(array.values, values);
  }
}

TEST_F(NpyWriter, RoundTripFloatShapes) {
  for (const auto& shape : kShapes) {
    SCOPED_TRACE(shape.size());
    std::vector<float> values(product(shape));
    std::vector<double> expected(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      values[i] = 0.1f * static_cast<float>(i) - 3.0f;
      expected[i] = static_cast<double>(values[i]);  // float -> double is exact
    }
    const std::string file = path("a.npy");
    fmala::io::write_npy(file, values.data(), shape);
    const fmala::io::NpyArray array = fmala::io::read_npy(file);
    EXPECT_EQ(array.dtype, "<f4");
    EXPECT_EQ(array.shape, shape);
    EXPECT_EQ(array.values, expected);
    EXPECT_EQ(read_bytes(file).size() % 64, product(shape) * 4 % 64);
  }
}

TEST_F(NpyWriter, HeaderPaddedToMultipleOf64) {
  const std::vector<std::vector<size_t>> shapes = {
      {}, {1}, {7, 9}, {123456789, 0}, {1, 2, 3, 4, 5, 6, 7, 8}, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0}};
  for (const auto& shape : shapes) {
    SCOPED_TRACE(shape.size());
    const std::vector<double> values(product(shape), 1.0);
    const std::string file = path("a.npy");
    fmala::io::write_npy(file, values.data(), shape);
    const std::string bytes = read_bytes(file);
    ASSERT_GE(bytes.size(), 10u);
    EXPECT_EQ(bytes.substr(0, 6), "\x93NUMPY");
    EXPECT_EQ(bytes[6], 1);  // version 1.0
    EXPECT_EQ(bytes[7], 0);
    const size_t header_size = static_cast<unsigned char>(bytes[8]) |
                               static_cast<size_t>(static_cast<unsigned char>(bytes[9])) << 8;
    EXPECT_EQ((10 + header_size) % 64, 0u);
    ASSERT_EQ(bytes.size(), 10 + header_size + values.size() * 8);
    EXPECT_EQ(bytes[10 + header_size - 1], '\n');
  }
}

// For these shapes NumPy 2.4's header (with its space padding) is as long as
// fmala's, so the whole file must match byte for byte.
TEST_F(NpyWriter, MatchesNumpyBytes) {
  const std::vector<double> f8 = {-1.5, 0.0, 0.25, 1e300, -2.5e-300, 3.0};
  fmala::io::write_npy(path("f8.npy"), f8.data(), {2, 3});
  EXPECT_EQ(read_bytes(path("f8.npy")), read_bytes(kDataDir + "numpy_f8_2x3.npy"));

  const std::vector<float> f4 = {0.1f, -2.0f, 3.5f, 1e30f};
  fmala::io::write_npy(path("f4.npy"), f4.data(), {4});
  EXPECT_EQ(read_bytes(path("f4.npy")), read_bytes(kDataDir + "numpy_f4_4.npy"));

  std::vector<double> cube(12);
  for (size_t i = 0; i < cube.size(); ++i) {
    cube[i] = static_cast<double>(i) / 4.0;
  }
  fmala::io::write_npy(path("cube.npy"), cube.data(), {2, 2, 3});
  EXPECT_EQ(read_bytes(path("cube.npy")), read_bytes(kDataDir + "numpy_f8_2x2x3.npy"));

  const double scalar = 2.5;
  fmala::io::write_npy(path("scalar.npy"), &scalar, {});
  EXPECT_EQ(read_bytes(path("scalar.npy")), read_bytes(kDataDir + "numpy_f8_scalar.npy"));
}

TEST_F(NpyWriter, ReplacesExistingFile) {
  const std::vector<double> first = {1, 2, 3, 4};
  const std::vector<double> second = {9, 8};
  fmala::io::write_npy(path("a.npy"), first.data(), {2, 2});
  fmala::io::write_npy(path("a.npy"), second.data(), {2});
  const fmala::io::NpyArray array = fmala::io::read_npy(path("a.npy"));
  EXPECT_EQ(array.shape, std::vector<size_t>{2});
  EXPECT_EQ(array.values, second);
  EXPECT_EQ(entry_count(), 1u);
}

TEST_F(NpyWriter, MissingDirectoryNamesPath) {
  const double value = 1;
  const std::string file = path("no-such-dir/a.npy");
  const std::string message = error_message([&] { fmala::io::write_npy(file, &value, {1}); });
  EXPECT_NE(message.find(file), std::string::npos) << message;
  EXPECT_NE(message.find("does not exist"), std::string::npos) << message;
}

TEST_F(NpyWriter, NullDataRejected) {
  const std::string file = path("a.npy");
  const std::string message =
      error_message([&] { fmala::io::write_npy(file, static_cast<const double*>(nullptr), {3}); });
  EXPECT_NE(message.find(file), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(file));
}

TEST_F(NpyReader, ReadsNumpyDtypes) {
  struct Case {
    std::string file, dtype;
    std::vector<size_t> shape;
    std::vector<double> values;
  };
  const std::vector<Case> cases = {
      {"numpy_f8_2x3.npy", "<f8", {2, 3}, {-1.5, 0.0, 0.25, 1e300, -2.5e-300, 3.0}},
      {"numpy_f4_4.npy", "<f4", {4}, {0.1f, -2.0f, 3.5f, 1e30f}},
      {"numpy_f8_2x2x3.npy",
       "<f8",
       {2, 2, 3},
       {0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2, 2.25, 2.5, 2.75}},
      {"numpy_i8_3.npy", "<i8", {3}, {-1099511627776.0, 0, 7}},  // -(2^40)
      {"numpy_i4_2x2.npy", "<i4", {2, 2}, {-5, 6, 2147483647, -2147483648.0}},
      {"numpy_u1_4.npy", "|u1", {4}, {0, 1, 128, 255}},
      {"numpy_f8_scalar.npy", "<f8", {}, {2.5}},
      {"numpy_f8_0x3.npy", "<f8", {0, 3}, {}},
      {"numpy_v2_f8_3.npy", "<f8", {3}, {1.0, -2.0, 4.5}},  // format version 2.0
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    const fmala::io::NpyArray array = fmala::io::read_npy(kDataDir + c.file);
    EXPECT_EQ(array.dtype, c.dtype);
    EXPECT_EQ(array.shape, c.shape);
    EXPECT_EQ(array.values, c.values);
  }
}

TEST_F(NpyReader, MalformedFilesNamePathAndProblem) {
  struct Case {
    std::string file, problem;
  };
  const std::vector<Case> cases = {
      {"numpy_f8_fortran_2x3.npy", "Fortran"},
      {"numpy_big_endian_f8_3.npy", "big-endian"},
      {"numpy_c16_2.npy", "unsupported dtype '<c16'"},
      {"truncated_f8_2x3.npy",
       "truncated NPY file: shape (2, 3) of '<f8' needs 48 data bytes but "
       "the file has 40"},
      {"trailing_bytes_f8_2x3.npy", "8 bytes after the data"},
      {"bad_magic.npy", "magic string"},
      {"truncated_header.npy", "truncated NPY file: the header length is 118 bytes"},
      {"header_missing_shape.npy", "missing key 'shape'"},
      {"header_syntax_error.npy", "expected a quoted string"},
      {"header_unknown_key.npy", "unknown key 'x'"},
      {"no_such_file.npy", "cannot open"},
      {"mixed_whitespace.txt", "magic string"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    const std::string file = kDataDir + c.file;
    const std::string message = error_message([&] { fmala::io::read_npy(file); });
    EXPECT_NE(message.find(file), std::string::npos) << message;
    EXPECT_NE(message.find(c.problem), std::string::npos) << message;
  }
}

TEST_F(NpyReader, EmptyFileRejected) {
  fmala::io::write_file_atomic(path("empty.npy"), "");
  const std::string message = error_message([&] { fmala::io::read_npy(path("empty.npy")); });
  EXPECT_NE(message.find(path("empty.npy")), std::string::npos) << message;
  EXPECT_NE(message.find("empty"), std::string::npos) << message;
}

TEST_F(NpyReader, UnsupportedVersionRejected) {
  std::string bytes = read_bytes(kDataDir + "numpy_f8_2x3.npy");
  bytes[6] = 4;
  fmala::io::write_file_atomic(path("v4.npy"), bytes);
  const std::string message = error_message([&] { fmala::io::read_npy(path("v4.npy")); });
  EXPECT_NE(message.find("unsupported NPY format version 4.0"), std::string::npos) << message;
}

TEST_F(AtomicFile, WritesAndReplacesFile) {
  fmala::io::write_file_atomic(path("out.txt"), "first");
  EXPECT_EQ(read_bytes(path("out.txt")), "first");
  fmala::io::write_file_atomic(path("out.txt"), std::string("sec\0nd", 6));
  EXPECT_EQ(read_bytes(path("out.txt")), std::string("sec\0nd", 6));
  EXPECT_EQ(entry_count(), 1u);  // no temporary file left behind
}

TEST_F(AtomicFile, UncommittedWriteKeepsOldFile) {
  fmala::io::write_file_atomic(path("out.txt"), "old");
  {
    fmala::io::AtomicFile file(path("out.txt"));
    file.write("new content that is never committed");
    EXPECT_EQ(read_bytes(path("out.txt")), "old");  // a reader sees the old file meanwhile
    EXPECT_EQ(entry_count(), 2u);                   // the old file and the temporary file
  }
  EXPECT_EQ(read_bytes(path("out.txt")), "old");
  EXPECT_EQ(entry_count(), 1u);
}

TEST_F(AtomicFile, StreamedWriteCommits) {
  fmala::io::AtomicFile file(path("out.txt"));
  file.write("ab");
  file.write("cd", 1);
  file.commit();
  EXPECT_EQ(read_bytes(path("out.txt")), "abc");
  EXPECT_THROW(file.commit(), fmala::Error);
  EXPECT_THROW(file.write("x"), fmala::Error);
}

TEST_F(AtomicFile, MissingDirectoryNamesPath) {
  const std::string file = path("missing/out.txt");
  const std::string message = error_message([&] { fmala::io::write_file_atomic(file, "x"); });
  EXPECT_NE(message.find(file), std::string::npos) << message;
  EXPECT_NE(message.find("directory '" + path("missing") + "' does not exist"), std::string::npos)
      << message;
}

TEST_F(AtomicFile, DirectoryAsTargetRejected) {
  fs::create_directory(path("sub"));
  const std::string message =
      error_message([&] { fmala::io::write_file_atomic(path("sub"), "x"); });
  EXPECT_NE(message.find(path("sub")), std::string::npos) << message;
  EXPECT_NE(message.find("renaming"), std::string::npos) << message;
  EXPECT_TRUE(fs::is_directory(path("sub")));
  EXPECT_EQ(entry_count(), 1u);  // the temporary file was removed
}

TEST_F(AtomicFile, TrailingSlashRejected) {
  const std::string target = dir_.string() + "/";
  const std::string message = error_message([&] { fmala::io::write_file_atomic(target, "x"); });
  EXPECT_NE(message.find("names a directory"), std::string::npos) << message;
}

TEST_F(AtomicFile, UnwritableDirectoryRejected) {
  if (::geteuid() == 0) {
    GTEST_SKIP() << "root ignores directory permissions";
  }
  fs::create_directory(path("locked"));
  fs::permissions(path("locked"), fs::perms::owner_read | fs::perms::owner_exec);
  const std::string file = path("locked/out.txt");
  const std::string message = error_message([&] { fmala::io::write_file_atomic(file, "x"); });
  fs::permissions(path("locked"), fs::perms::owner_all);
  EXPECT_NE(message.find(file), std::string::npos) << message;
  EXPECT_NE(message.find("Permission denied"), std::string::npos) << message;
}
