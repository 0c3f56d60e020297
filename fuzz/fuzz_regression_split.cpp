// Fuzz target for the regression data loaders. The input is a bundle of the
// files of a UCI split directory (see split_bundle.hpp). The directory is
// loaded with load_regression_data_split for split 0, and its data.txt with
// load_regression_data and a fixed seed.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "fmala/io/regression_data.hpp"
#include "fuzz_common.hpp"
#include "split_bundle.hpp"

namespace {

bool all_finite(const std::vector<double>& values) {
  return std::all_of(values.begin(), values.end(), [](double v) { return std::isfinite(v); });
}

// Checks the shapes, the row sets and the standardisation of loaded data.
void check(const fmala::io::RegressionData& data) {
  const size_t p = data.n_features;
  FUZZ_CHECK(p > 0);
  FUZZ_CHECK(data.feature_columns.size() == p);
  FUZZ_CHECK(data.n_train() > 0);
  FUZZ_CHECK(data.n_test() > 0);
  FUZZ_CHECK(data.train_rows.size() == data.n_train());
  FUZZ_CHECK(data.test_rows.size() == data.n_test());
  FUZZ_CHECK(data.train_x.size() == data.n_train() * p);
  FUZZ_CHECK(data.test_x.size() == data.n_test() * p);

  FUZZ_CHECK(std::is_sorted(data.train_rows.begin(), data.train_rows.end()));
  FUZZ_CHECK(std::is_sorted(data.test_rows.begin(), data.test_rows.end()));
  std::vector<size_t> both;
  std::set_intersection(data.train_rows.begin(), data.train_rows.end(), data.test_rows.begin(),
                        data.test_rows.end(), std::back_inserter(both));
  FUZZ_CHECK(both.empty());
  for (size_t column : data.feature_columns) {
    FUZZ_CHECK(column != data.target_column);
  }

  FUZZ_CHECK(data.x_mean.size() == p);
  FUZZ_CHECK(data.x_sd.size() == p);
  FUZZ_CHECK(all_finite(data.x_mean));
  FUZZ_CHECK(all_finite(data.x_sd));
  for (double sd : data.x_sd) {
    FUZZ_CHECK(sd > 0);
  }
  FUZZ_CHECK(std::isfinite(data.y_mean));
  FUZZ_CHECK(std::isfinite(data.y_sd) && data.y_sd > 0);
  FUZZ_CHECK(all_finite(data.train_x));
  FUZZ_CHECK(all_finite(data.train_y));
  FUZZ_CHECK(all_finite(data.test_x));
  FUZZ_CHECK(all_finite(data.test_y));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fmala::fuzz::ScratchDirectory& scratch = fmala::fuzz::scratch();
  fmala::fuzz::unpack_bundle(std::string_view(reinterpret_cast<const char*>(data), size),
                             scratch.path());
  const std::string directory = scratch.path().string();
  fmala::fuzz::succeeds([&] { check(fmala::io::load_regression_data_split(directory, 0)); });
  fmala::fuzz::succeeds([&] { check(fmala::io::load_regression_data(directory, 1)); });
  return 0;
}
