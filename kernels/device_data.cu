// Training arrays that sit on a CUDA device, checked, converted and scaled
// there: the device's part of io::classification_data_from_device_arrays and
// io::regression_data_from_device_arrays. The host formats every message
// from what these passes report.
//
// NOTE: these passes compile in CI but have not yet run on a GPU. The
// CudaDeviceData tests of tests/test_gpu_backend.cpp compare them with the
// host path, bit for bit, on a device.

#include <cuda_runtime_api.h>

#include <climits>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cuda_check.cuh"
#include "device_ops.cuh"
#include "fmala/backend/cuda.hpp"
#include "fmala/core/error.hpp"

namespace fmala::cuda {

namespace {

using cuda_detail::DeviceArray;
using cuda_detail::launch_on;

// The value of an unset index: atomicMin over the indices found keeps the first.
constexpr unsigned long long kNoIndex = ULLONG_MAX;

template <class T>
__device__ double load(const void* p, size_t i) {
  return static_cast<double>(static_cast<const T*>(p)[i]);
}

// Returns value i of an array of the given DLPack kind and width as a double.
__device__ double read_value(const void* p, char kind, int bits, size_t i) {
  if (kind == 'f') {
    return bits == 64 ? load<double>(p, i) : load<float>(p, i);
  }
  const bool is_signed = kind == 'i';
  switch (bits) {
    case 8:
      return is_signed ? load<int8_t>(p, i) : load<uint8_t>(p, i);
    case 16:
      return is_signed ? load<int16_t>(p, i) : load<uint16_t>(p, i);
    case 32:
      return is_signed ? load<int32_t>(p, i) : load<uint32_t>(p, i);
    default:
      return is_signed ? load<int64_t>(p, i) : load<uint64_t>(p, i);
  }
}

// Mean, population sd, smallest and largest of `count` values.
struct Moments {
  double mean, sd, low, high;
};

// Computes the moments of value(0) … value(count − 1) in the order and
// roundings of the host's standardisation. Explicit _rn operations rule out
// fused multiply-adds. The comparisons are those of std::min and std::max,
// which keep the first of two equal values (+0 and -0 among them), where
// fmin and fmax need not. A constant sequence gets its value as the mean and
// sd 1.
template <class Value>
__device__ Moments moments(const Value& value, size_t count) {
  double sum = 0;
  double low = value(0);
  double high = low;
  for (size_t i = 0; i < count; ++i) {
    const double v = value(i);
    sum = __dadd_rn(sum, v);
    low = v < low ? v : low;
    high = high < v ? v : high;
  }
  if (low == high) {
    return {low, 1, low, high};
  }
  const double n = static_cast<double>(count);
  const double mean = __ddiv_rn(sum, n);
  double squares = 0;
  for (size_t i = 0; i < count; ++i) {
    const double deviation = __dsub_rn(value(i), mean);
    squares = __dadd_rn(squares, __dmul_rn(deviation, deviation));
  }
  return {mean, __dsqrt_rn(__ddiv_rn(squares, n)), low, high};
}

// Records in *first_nonfinite the index of every value of x that is not
// finite, and writes the first `kept_values` values as float64 to out (null: x is
// read in place).
struct ConvertFeatures {
  const void* x;
  char kind;
  int bits;
  size_t kept_values;
  double* out;
  unsigned long long* first_nonfinite;

  __device__ void operator()(size_t i) const {
    const double v = read_value(x, kind, bits, i);
    if (!isfinite(v)) {
      atomicMin(first_nonfinite, static_cast<unsigned long long>(i));
    }
    if (out != nullptr && i < kept_values) {
      out[i] = v;
    }
  }
};

// Records the index of every label that is not a whole number in [0,
// max_label] and the largest label, and writes the first `kept_rows` as int.
struct ConvertLabels {
  const void* y;
  char kind;
  int bits;
  size_t kept_rows;
  double max_label;
  int* labels;
  unsigned long long* first_invalid;
  int* largest;

  __device__ void operator()(size_t n) const {
    const double v = read_value(y, kind, bits, n);
    if (!(v >= 0) || v != floor(v) || v > max_label) {
      atomicMin(first_invalid, static_cast<unsigned long long>(n));
      return;
    }
    const int label = static_cast<int>(v);
    atomicMax(largest, label);
    if (n < kept_rows) {
      labels[n] = label;
    }
  }
};

struct CountClasses {
  const int* labels;
  unsigned long long* counts;

  __device__ void operator()(size_t n) const { atomicAdd(counts + labels[n], 1ULL); }
};

// Column j of x (rows, features) over its first `rows` rows.
struct FeatureMoments {
  const double* x;
  size_t rows;
  size_t features;
  double* mean;
  double* sd;

  __device__ void operator()(size_t j) const {
    const auto value = [this, j](size_t row) { return x[row * features + j]; };
    const Moments m = moments(value, rows);
    mean[j] = m.mean;
    sd[j] = m.sd;
  }
};

struct ScaleFeatures {
  double* x;
  size_t features;
  const double* mean;
  const double* sd;

  __device__ void operator()(size_t i) const {
    const size_t j = i % features;
    x[i] = __ddiv_rn(__dsub_rn(x[i], mean[j]), sd[j]);
  }
};

// Regression data: column j < features of x (rows, features), or y for
// j == features.
struct Columns {
  const void* x;
  char x_kind;
  int x_bits;
  const void* y;
  char y_kind;
  int y_bits;
  size_t features;

  __device__ double at(size_t row, size_t j) const {
    return j < features ? read_value(x, x_kind, x_bits, row * features + j) : read_value(y, y_kind, y_bits, row);
  }
};

// Column j over the table rows `rows` (count of them, in their order), as
// the host's column_statistics computes it.
struct ColumnMoments {
  Columns columns;
  const size_t* rows;
  size_t count;
  double* mean;
  double* sd;
  double* low;
  double* high;

  __device__ void operator()(size_t j) const {
    const auto value = [this, j](size_t i) { return columns.at(rows[i], j); };
    const Moments m = moments(value, count);
    mean[j] = m.mean;
    sd[j] = m.sd;
    low[j] = m.low;
    high[j] = m.high;
  }
};

// Writes the standardised features and target of `rows` into x_out (rows,
// features) and y_out. Records each value that is not finite in
// *first_overflow as (position + offset) × (features + 1) + column.
struct StandardiseRows {
  Columns columns;
  const size_t* rows;
  const double* mean;
  const double* sd;
  double* x_out;
  double* y_out;
  size_t offset;
  unsigned long long* first_overflow;

  __device__ void operator()(size_t k) const {
    const size_t width = columns.features + 1;
    const size_t i = k / width;
    const size_t j = k % width;
    const double result = __ddiv_rn(__dsub_rn(columns.at(rows[i], j), mean[j]), sd[j]);
    if (!isfinite(result)) {
      atomicMin(first_overflow, static_cast<unsigned long long>((i + offset) * width + j));
    }
    if (j < columns.features) {
      x_out[i * columns.features + j] = result;
    } else {
      y_out[i] = result;
    }
  }
};

struct ReadOne {
  const void* p;
  char kind;
  int bits;
  size_t index;
  double* out;

  __device__ void operator()(size_t) const { *out = read_value(p, kind, bits, index); }
};

template <class T>
std::vector<T> to_host(const DeviceArray<T>& a) {
  std::vector<T> out(a.size());
  if (!out.empty()) {
    FMALA_CUDA_CHECK(cudaMemcpy(out.data(), a.data(), a.bytes(), cudaMemcpyDeviceToHost));
  }
  return out;
}

template <class T>
DeviceArray<T> to_device(const std::vector<T>& values) {
  DeviceArray<T> out(values.size(), nullptr);
  if (!values.empty()) {
    FMALA_CUDA_CHECK(cudaMemcpy(out.data(), values.data(), out.bytes(), cudaMemcpyHostToDevice));
  }
  return out;
}

// Returns n indices that are not set yet (kNoIndex).
DeviceArray<unsigned long long> unset_indices(size_t n) {
  return to_device(std::vector<unsigned long long>(n, kNoIndex));
}

double value_at(const io::DeviceArrayView& a, size_t i) {
  DeviceArray<double> one(1, nullptr);
  launch_on(nullptr, 1, ReadOne{a.data, a.kind, a.bits, i, one.data()}, "reading one value");
  return to_host(one)[0];
}

// Returns a shared pointer that frees the array with its last copy.
template <class T>
std::shared_ptr<const T> share(DeviceArray<T>&& a) {
  auto holder = std::make_shared<DeviceArray<T>>(std::move(a));
  return std::shared_ptr<const T>(holder, holder->data());
}

// Throws fmala::Error naming the array unless it is memory of the current device.
void require_current_device(const io::DeviceArrayView& a) {
  int current = 0;
  FMALA_CUDA_CHECK(cudaGetDevice(&current));
  cudaPointerAttributes attributes{};
  const cudaError_t status = cudaPointerGetAttributes(&attributes, a.data);
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
  }
  if (status != cudaSuccess ||
      (attributes.type != cudaMemoryTypeDevice && attributes.type != cudaMemoryTypeManaged)) {
    throw make_error(a.name, "is not memory of a CUDA device that this process can read",
                     "Give an array on the GPU, or a host array");
  }
  if (attributes.type == cudaMemoryTypeDevice && attributes.device != current) {
    throw make_error(a.name,
                     "is on GPU " + std::to_string(attributes.device) + ", but the run uses GPU " +
                         std::to_string(current),
                     "Move the arrays to GPU " + std::to_string(current) +
                         " (x.to('cuda:" + std::to_string(current) + "') in PyTorch), or choose the GPU with "
                         "CUDA_VISIBLE_DEVICES");
  }
}

// Checks that the arrays are memory of the current, usable device, and waits
// for work still queued there: the arrays may come from another stream of
// the caller's (a framework's own stream).
void start_reading(std::initializer_list<const io::DeviceArrayView*> arrays) {
  std::string reason;
  if (!device_available(&reason)) {
    throw make_error((*arrays.begin())->name + " on the GPU", reason,
                     "Copy the arrays to the host and use --backend cpu");
  }
  for (const io::DeviceArrayView* a : arrays) {
    require_current_device(*a);
  }
  FMALA_CUDA_CHECK(cudaDeviceSynchronize());
}

}  // namespace

int64_t first_nonfinite(const io::DeviceArrayView& a, size_t count, double* value) {
  start_reading({&a});
  DeviceArray<unsigned long long> first = unset_indices(1);
  launch_on(nullptr, count, ConvertFeatures{a.data, a.kind, a.bits, 0, nullptr, first.data()}, "checking values");
  const unsigned long long found = to_host(first)[0];
  if (found == kNoIndex) {
    return -1;
  }
  *value = value_at(a, found);
  return static_cast<int64_t>(found);
}

PreparedRegressionSplit prepare_regression_split(const io::DeviceArrayView& x, const io::DeviceArrayView& y,
                                                 size_t features, const std::vector<size_t>& train_rows,
                                                 const std::vector<size_t>& test_rows) {
  if (train_rows.empty() || features == 0) {
    throw make_error(x.name, "a split needs training rows and at least one feature",
                     "Give at least one training row and one feature");
  }
  start_reading({&x, &y});
  PreparedRegressionSplit out;
  const Columns columns{x.data, x.kind, x.bits, y.data, y.kind, y.bits, features};
  const size_t width = features + 1;
  const DeviceArray<size_t> train_index = to_device(train_rows);
  const DeviceArray<size_t> test_index = to_device(test_rows);
  DeviceArray<double> mean(width, nullptr);
  DeviceArray<double> sd(width, nullptr);
  DeviceArray<double> low(width, nullptr);
  DeviceArray<double> high(width, nullptr);
  launch_on(nullptr, width,
            ColumnMoments{columns, train_index.data(), train_rows.size(), mean.data(), sd.data(), low.data(),
                          high.data()},
            "column statistics");
  out.mean = to_host(mean);
  out.sd = to_host(sd);
  out.low = to_host(low);
  out.high = to_host(high);

  // The host checks the statistics; standardising with bad ones does no
  // harm before it throws.
  DeviceArray<double> train_x(train_rows.size() * features, nullptr);
  DeviceArray<double> train_y(train_rows.size(), nullptr);
  DeviceArray<double> test_x(test_rows.size() * features, nullptr);
  DeviceArray<double> test_y(test_rows.size(), nullptr);
  DeviceArray<unsigned long long> overflow = unset_indices(1);
  launch_on(nullptr, train_rows.size() * width,
            StandardiseRows{columns, train_index.data(), mean.data(), sd.data(), train_x.data(), train_y.data(), 0,
                            overflow.data()},
            "standardising the training rows");
  launch_on(nullptr, test_rows.size() * width,
            StandardiseRows{columns, test_index.data(), mean.data(), sd.data(), test_x.data(), test_y.data(),
                            train_rows.size(), overflow.data()},
            "standardising the test rows");
  const unsigned long long first_overflow = to_host(overflow)[0];
  if (first_overflow != kNoIndex) {
    out.first_overflow = static_cast<int64_t>(first_overflow);
    const size_t position = first_overflow / width;
    const size_t j = first_overflow % width;
    const size_t row = position < train_rows.size() ? train_rows[position] : test_rows[position - train_rows.size()];
    out.overflow_value = j < features ? value_at(x, row * features + j) : value_at(y, row);
  }
  out.test_x = to_host(test_x);
  out.test_y = to_host(test_y);
  FMALA_CUDA_CHECK(cudaDeviceSynchronize());
  out.x = share(std::move(train_x));
  out.y = share(std::move(train_y));
  return out;
}

PreparedTrainingSplit prepare_training_split(const io::DeviceArrayView& x, const io::DeviceArrayView& y,
                                             size_t features, size_t kept_rows, bool standardise, double max_label,
                                             int max_counted_classes) {
  start_reading({&x, &y});
  const size_t rows = y.shape.at(0);
  const size_t kept_values = kept_rows * features;
  PreparedTrainingSplit out;

  const bool in_place = x.kind == 'f' && x.bits == 64 && !standardise;
  DeviceArray<double> converted(in_place ? 0 : kept_values, nullptr);
  DeviceArray<unsigned long long> first = unset_indices(2);
  DeviceArray<int> largest = to_device(std::vector<int>{-1});
  DeviceArray<int> labels(kept_rows, nullptr);
  launch_on(nullptr, rows * features,
            ConvertFeatures{x.data, x.kind, x.bits, kept_values, in_place ? nullptr : converted.data(), first.data()},
            "converting the features");
  launch_on(nullptr, rows,
            ConvertLabels{y.data, y.kind, y.bits, kept_rows, max_label, labels.data(), first.data() + 1, largest.data()},
            "converting the labels");
  const std::vector<unsigned long long> found = to_host(first);
  out.largest_label = to_host(largest)[0];
  if (found[0] != kNoIndex) {
    out.first_nonfinite = static_cast<int64_t>(found[0]);
    out.nonfinite_value = value_at(x, found[0]);
  }
  if (found[1] != kNoIndex) {
    out.first_invalid_label = static_cast<int64_t>(found[1]);
    out.invalid_label = value_at(y, found[1]);
  }
  if (out.first_nonfinite >= 0 || out.first_invalid_label >= 0) {
    return out;
  }

  if (out.largest_label >= 0 && out.largest_label < max_counted_classes) {
    DeviceArray<unsigned long long> counts(static_cast<size_t>(out.largest_label) + 1, nullptr);
    launch_on(nullptr, kept_rows, CountClasses{labels.data(), counts.data()}, "counting the classes");
    for (const unsigned long long c : to_host(counts)) {
      out.class_counts.push_back(static_cast<size_t>(c));
    }
  }

  if (standardise) {
    DeviceArray<double> mean(features, nullptr);
    DeviceArray<double> sd(features, nullptr);
    launch_on(nullptr, features, FeatureMoments{converted.data(), kept_rows, features, mean.data(), sd.data()},
              "feature statistics");
    launch_on(nullptr, kept_values, ScaleFeatures{converted.data(), features, mean.data(), sd.data()},
              "standardising the features");
    out.mean = to_host(mean);
    out.sd = to_host(sd);
  }
  FMALA_CUDA_CHECK(cudaDeviceSynchronize());
  if (in_place) {
    out.x = std::shared_ptr<const double>(static_cast<const double*>(x.data), [](const double*) {});
  } else {
    out.x = share(std::move(converted));
  }
  out.labels = share(std::move(labels));
  return out;
}

}  // namespace fmala::cuda
