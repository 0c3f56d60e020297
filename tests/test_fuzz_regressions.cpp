// Inputs kept from fuzzing the file readers (see fuzz/), fed to the readers
// the way their fuzz targets feed them. Each reader has a directory
// tests/data/fuzz/<target>/. An input whose name starts with "valid-" must
// load and pass the shape checks of its fuzz target. Every other input must
// fail with an fmala::Error whose message names the file.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

#include "../fuzz/checkpoint_runs.hpp"
#include "../fuzz/split_bundle.hpp"
#include "fmala/core/error.hpp"
#include "fmala/io/checkpoint.hpp"
#include "fmala/io/idx.hpp"
#include "fmala/io/npy.hpp"
#include "fmala/io/regression_data.hpp"
#include "fmala/io/table.hpp"
#include "fmala/run.hpp"
#include "fmala/targets/builtin.hpp"

namespace {

namespace fs = std::filesystem;

const fs::path kFuzzData = fs::path(FMALA_TEST_DATA_DIR) / "fuzz";

// The inputs kept for `target`, in name order; none when its directory is missing.
std::vector<fs::path> inputs_of(const std::string& target) {
  std::vector<fs::path> files;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(kFuzzData / target, error)) {
    if (entry.is_regular_file()) {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

bool expected_valid(const fs::path& input) {
  return input.filename().string().rfind("valid-", 0) == 0;
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Runs `read` on `input` and checks the outcome that the input's name
// promises. `named` is the path that an error message must contain.
template <typename Read>
void expect_outcome(const fs::path& input, const std::string& named, Read&& read) {
  SCOPED_TRACE(input.string());
  if (expected_valid(input)) {
    EXPECT_NO_THROW(read());
    return;
  }
  try {
    read();
    ADD_FAILURE() << "the input was read without an error";
  } catch (const fmala::Error& error) {
    EXPECT_NE(std::string(error.what()).find(named), std::string::npos) << error.what();
  }
}

// A directory for the files that a test writes, removed at its end.
class ScratchDirectory {
 public:
  ScratchDirectory() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            ("fmala-fuzz-regressions-" + std::to_string(::getpid()) + "-" + info->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchDirectory() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

size_t count_nonfinite(const std::vector<double>& values) {
  return static_cast<size_t>(std::count_if(values.begin(), values.end(),
                                           [](double value) { return !std::isfinite(value); }));
}

TEST(FuzzRegressions, NpyInputs) {
  const std::vector<fs::path> inputs = inputs_of("fuzz_npy");
  ASSERT_FALSE(inputs.empty());
  for (const fs::path& input : inputs) {
    expect_outcome(input, input.string(), [&] {
      const fmala::io::NpyArray array = fmala::io::read_npy(input.string());
      size_t count = 1;
      for (size_t extent : array.shape) {
        count *= extent;
      }
      EXPECT_EQ(array.values.size(), count);
    });
  }
}

TEST(FuzzRegressions, IdxInputs) {
  const std::vector<fs::path> inputs = inputs_of("fuzz_idx");
  ASSERT_FALSE(inputs.empty());
  for (const fs::path& input : inputs) {
    expect_outcome(input, input.string(), [&] {
      const fmala::io::IdxArray array = fmala::io::read_idx(input.string());
      size_t count = 1;
      for (uint32_t extent : array.dims) {
        count *= extent;
      }
      EXPECT_EQ(array.values.size(), count);
    });
  }
}

// The file's extension selects the format: ".csv" is CSV, anything else is
// whitespace-separated.
TEST(FuzzRegressions, TableInputs) {
  const std::vector<fs::path> inputs = inputs_of("fuzz_table");
  ASSERT_FALSE(inputs.empty());
  for (const fs::path& input : inputs) {
    expect_outcome(input, input.string(), [&] {
      const fmala::io::Table table = fmala::io::read_table(input.string());
      EXPECT_EQ(table.values.size(), table.rows * table.cols);
      EXPECT_EQ(count_nonfinite(table.values), 0u);
    });
  }
}

void expect_standardised(const fmala::io::RegressionData& data) {
  EXPECT_EQ(data.train_x.size(), data.n_train() * data.n_features);
  EXPECT_EQ(data.test_x.size(), data.n_test() * data.n_features);
  EXPECT_EQ(count_nonfinite(data.train_x), 0u);
  EXPECT_EQ(count_nonfinite(data.train_y), 0u);
  EXPECT_EQ(count_nonfinite(data.test_x), 0u);
  EXPECT_EQ(count_nonfinite(data.test_y), 0u);
  EXPECT_EQ(count_nonfinite(data.x_mean), 0u);
  EXPECT_EQ(count_nonfinite(data.x_sd), 0u);
  EXPECT_TRUE(std::all_of(data.x_sd.begin(), data.x_sd.end(), [](double sd) { return sd > 0; }));
  EXPECT_TRUE(std::isfinite(data.y_mean));
  EXPECT_TRUE(std::isfinite(data.y_sd));
  EXPECT_GT(data.y_sd, 0);
}

// Each input is a bundle of a split directory's files (fuzz/split_bundle.hpp),
// loaded as split 0 and, from its data.txt, with the seeded split. Both loads
// have the outcome that the input's name promises.
TEST(FuzzRegressions, RegressionSplitInputs) {
  const std::vector<fs::path> inputs = inputs_of("fuzz_regression_split");
  ASSERT_FALSE(inputs.empty());
  ScratchDirectory scratch;
  const std::string directory = scratch.path().string();
  for (const fs::path& input : inputs) {
    fmala::fuzz::unpack_bundle(read_bytes(input), scratch.path());
    expect_outcome(input, directory, [&] {
      expect_standardised(fmala::io::load_regression_data_split(directory, 0));
    });
    expect_outcome(input, directory, [&] {
      expect_standardised(fmala::io::load_regression_data(directory, 1));
    });
  }
}

// Checkpoints are read with the settings of every seed run of
// fuzz/checkpoint_runs.hpp. No kept input is valid for any of them, and each
// seed run's own checkpoint, written afresh, reads back.
TEST(FuzzRegressions, CheckpointInputs) {
  const std::vector<fmala::fuzz::CheckpointRun> runs = fmala::fuzz::checkpoint_runs();
  for (const fs::path& input : inputs_of("fuzz_checkpoint")) {
    ASSERT_FALSE(expected_valid(input)) << input;
    for (const fmala::fuzz::CheckpointRun& run : runs) {
      SCOPED_TRACE(run.name);
      expect_outcome(input, input.string(), [&] {
        fmala::io::read_checkpoint(input.string(), run.settings, fmala::fuzz::kCheckpointDim);
      });
    }
  }

  ScratchDirectory scratch;
  const auto model = fmala::make_funnel_model(fmala::fuzz::kCheckpointDim);
  for (const fmala::fuzz::CheckpointRun& run : runs) {
    SCOPED_TRACE(run.name);
    const std::string path = (scratch.path() / run.name).string();
    fmala::RunControl control;
    control.save = [&path](const fmala::RunCheckpoint& c) { fmala::io::write_checkpoint(path, c); };
    control.stop_requested = [stop_after = run.stop_after, polls = int64_t{0}]() mutable {
      return ++polls == stop_after;
    };
    try {
      fmala::run_sampler(*model, run.settings, {}, control);
      EXPECT_EQ(run.stop_after, 0);
    } catch (const fmala::RunStopped& stopped) {
      EXPECT_EQ(stopped.done(), run.stop_after);
    }
    for (const fmala::fuzz::CheckpointRun& other : runs) {
      const bool same = other.name == run.name;
      try {
        const fmala::RunCheckpoint c =
            fmala::io::read_checkpoint(path, other.settings, fmala::fuzz::kCheckpointDim);
        EXPECT_TRUE(same) << "read with the settings of " << other.name;
      } catch (const fmala::Error& error) {
        EXPECT_FALSE(same) << error.what();
      }
    }
  }
}

}  // namespace
