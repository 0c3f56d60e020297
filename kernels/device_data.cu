// Training arrays that sit on a CUDA device, checked, converted and scaled
// there: the device's part of io::classification_data_from_device_arrays.
// The host formats every message from what these passes report.

#include <cuda_runtime_api.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cuda_check.cuh"
#include "fmala/backend/cuda.hpp"
#include "fmala/core/error.hpp"

namespace fmala::cuda {

namespace {

using cuda_detail::DeviceArray;

constexpr int kThreads = 256;

// Blocks for a grid-stride loop over n items.
unsigned int blocks_for(size_t n) {
  const size_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned int>(std::min<size_t>(std::max<size_t>(blocks, 1), 65535));
}

// Value i of an array of the given DLPack kind and width, as a double.
__device__ double read_value(const void* p, char kind, int bits, size_t i) {
  if (kind == 'f') {
    return bits == 64 ? static_cast<const double*>(p)[i] : static_cast<double>(static_cast<const float*>(p)[i]);
  }
  if (kind == 'i') {
    switch (bits) {
      case 8:
        return static_cast<double>(static_cast<const int8_t*>(p)[i]);
      case 16:
        return static_cast<double>(static_cast<const int16_t*>(p)[i]);
      case 32:
        return static_cast<double>(static_cast<const int32_t*>(p)[i]);
      default:
        return static_cast<double>(static_cast<const int64_t*>(p)[i]);
    }
  }
  switch (bits) {
    case 8:
      return static_cast<double>(static_cast<const uint8_t*>(p)[i]);
    case 16:
      return static_cast<double>(static_cast<const uint16_t*>(p)[i]);
    case 32:
      return static_cast<double>(static_cast<const uint32_t*>(p)[i]);
    default:
      return static_cast<double>(static_cast<const uint64_t*>(p)[i]);
  }
}

// Every value of x: the first that is not finite, and the first `kept`
// values written as float64 to out (null: x is read in place).
__global__ void convert_features(const void* x, char kind, int bits, size_t count, size_t kept, double* out,
                                 unsigned long long* first_nonfinite) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const double v = read_value(x, kind, bits, i);
    if (!isfinite(v)) {
      atomicMin(first_nonfinite, static_cast<unsigned long long>(i));
    }
    if (out != nullptr && i < kept) {
      out[i] = v;
    }
  }
}

// Every label: the first that is not a whole number in [0, max_label], the
// largest, and the first `kept` as int.
__global__ void convert_labels(const void* y, char kind, int bits, size_t rows, size_t kept, double max_label,
                               int* labels, unsigned long long* first_bad, int* largest) {
  for (size_t n = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; n < rows;
       n += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const double v = read_value(y, kind, bits, n);
    if (!(v >= 0) || v != floor(v) || v > max_label) {
      atomicMin(first_bad, static_cast<unsigned long long>(n));
      continue;
    }
    const int label = static_cast<int>(v);
    atomicMax(largest, label);
    if (n < kept) {
      labels[n] = label;
    }
  }
}

__global__ void count_classes(const int* labels, size_t kept, unsigned long long* counts) {
  for (size_t n = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; n < kept;
       n += static_cast<size_t>(gridDim.x) * blockDim.x) {
    atomicAdd(counts + labels[n], 1ULL);
  }
}

// Per feature j, over the first `rows` rows of x (rows, features): the
// mean and the population sd, in the order and roundings of the host's
// standardise() (explicit _rn operations: no fused multiply-adds). A
// constant feature gets its value as the mean and sd 1.
__global__ void feature_moments(const double* x, size_t rows, size_t features, double* mean_out,
                                double* sd_out) {
  for (size_t j = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; j < features;
       j += static_cast<size_t>(gridDim.x) * blockDim.x) {
    double sum = 0;
    double low = x[j];
    double high = low;
    for (size_t row = 0; row < rows; ++row) {
      const double value = x[row * features + j];
      sum = __dadd_rn(sum, value);
      // std::min and std::max, which keep the first of two equal values
      // (+0 and -0 among them); fmin and fmax need not.
      low = value < low ? value : low;
      high = high < value ? value : high;
    }
    const double n = static_cast<double>(rows);
    const double mean = __ddiv_rn(sum, n);
    double squares = 0;
    for (size_t row = 0; row < rows; ++row) {
      const double deviation = __dsub_rn(x[row * features + j], mean);
      squares = __dadd_rn(squares, __dmul_rn(deviation, deviation));
    }
    if (low == high) {
      mean_out[j] = low;
      sd_out[j] = 1;
    } else {
      mean_out[j] = mean;
      sd_out[j] = __dsqrt_rn(__ddiv_rn(squares, n));
    }
  }
}

__global__ void scale_features(double* x, size_t count, size_t features, const double* mean, const double* sd) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t j = i % features;
    x[i] = __ddiv_rn(__dsub_rn(x[i], mean[j]), sd[j]);
  }
}

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

// Per column over `rows` (table rows, in their order), as the host's
// column_statistics: the sum in that order, min and max; a constant column
// gets mean = its value and sd 1, any other sum / n and the population sd.
__global__ void column_moments(Columns columns, const size_t* rows, size_t count, double* mean_out,
                               double* sd_out, double* low_out, double* high_out) {
  for (size_t j = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; j <= columns.features;
       j += static_cast<size_t>(gridDim.x) * blockDim.x) {
    double sum = 0;
    double low = columns.at(rows[0], j);
    double high = low;
    for (size_t i = 0; i < count; ++i) {
      const double value = columns.at(rows[i], j);
      sum = __dadd_rn(sum, value);
      low = value < low ? value : low;
      high = high < value ? value : high;
    }
    low_out[j] = low;
    high_out[j] = high;
    if (low == high) {
      mean_out[j] = low;
      sd_out[j] = 1;
      continue;
    }
    const double n = static_cast<double>(count);
    const double mean = __ddiv_rn(sum, n);
    double squares = 0;
    for (size_t i = 0; i < count; ++i) {
      const double deviation = __dsub_rn(columns.at(rows[i], j), mean);
      squares = __dadd_rn(squares, __dmul_rn(deviation, deviation));
    }
    mean_out[j] = mean;
    sd_out[j] = __dsqrt_rn(__ddiv_rn(squares, n));
  }
}

// Writes the standardised features and target of `rows` into x_out (count,
// features) and y_out (count). The first value that is not finite goes to
// *first_overflow as (position + offset) × (features + 1) + column.
__global__ void standardise_rows(Columns columns, const size_t* rows, size_t count, const double* mean,
                                 const double* sd, double* x_out, double* y_out, size_t offset,
                                 unsigned long long* first_overflow) {
  const size_t width = columns.features + 1;
  const size_t total = count * width;
  for (size_t k = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; k < total;
       k += static_cast<size_t>(gridDim.x) * blockDim.x) {
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
}

__global__ void read_one(const void* p, char kind, int bits, size_t i, double* out) {
  *out = read_value(p, kind, bits, i);
}

void check_launch(const char* what) {
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess) {
    throw cuda_detail::cuda_error(status, what, __FILE__, __LINE__);
  }
}

template <class T>
std::vector<T> to_host(const DeviceArray<T>& a) {
  std::vector<T> out(a.size());
  if (!out.empty()) {
    FMALA_CUDA_CHECK(cudaMemcpy(out.data(), a.data(), a.bytes(), cudaMemcpyDeviceToHost));
  }
  return out;
}

double value_at(const io::DeviceArrayView& a, size_t i) {
  DeviceArray<double> one(1, nullptr);
  read_one<<<1, 1>>>(a.data, a.kind, a.bits, i, one.data());
  check_launch("read_one");
  return to_host(one)[0];
}

// A shared pointer that frees the array with its last copy.
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

}  // namespace

int64_t first_nonfinite(const io::DeviceArrayView& a, size_t count, double* value) {
  std::string reason;
  if (!device_available(&reason)) {
    throw make_error(a.name + " on the GPU", reason, "Copy the arrays to the host and use --backend cpu");
  }
  require_current_device(a);
  FMALA_CUDA_CHECK(cudaDeviceSynchronize());
  const unsigned long long none = ULLONG_MAX;
  DeviceArray<unsigned long long> first(1, nullptr);
  FMALA_CUDA_CHECK(cudaMemcpy(first.data(), &none, first.bytes(), cudaMemcpyHostToDevice));
  convert_features<<<blocks_for(count), kThreads>>>(a.data, a.kind, a.bits, count, 0, nullptr, first.data());
  check_launch("convert_features");
  const unsigned long long found = to_host(first)[0];
  if (found == ULLONG_MAX) {
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
  std::string reason;
  if (!device_available(&reason)) {
    throw make_error(x.name + " on the GPU", reason, "Copy the arrays to the host and use --backend cpu");
  }
  require_current_device(x);
  require_current_device(y);
  FMALA_CUDA_CHECK(cudaDeviceSynchronize());
  const size_t rows = y.shape.at(0);
  PreparedRegressionSplit out;

  // Every value must be finite: x first, then y.
  std::vector<unsigned long long> start = {ULLONG_MAX, ULLONG_MAX};
  DeviceArray<unsigned long long> first(2, nullptr);
  FMALA_CUDA_CHECK(cudaMemcpy(first.data(), start.data(), first.bytes(), cudaMemcpyHostToDevice));
  convert_features<<<blocks_for(rows * features), kThreads>>>(x.data, x.kind, x.bits, rows * features, 0, nullptr,
                                                               first.data());
  check_launch("convert_features");
  convert_features<<<blocks_for(rows), kThreads>>>(y.data, y.kind, y.bits, rows, 0, nullptr, first.data() + 1);
  check_launch("convert_features");
  const std::vector<unsigned long long> found = to_host(first);
  if (found[0] != ULLONG_MAX || found[1] != ULLONG_MAX) {
    out.in_target = found[0] == ULLONG_MAX;
    out.first_nonfinite = static_cast<int64_t>(out.in_target ? found[1] : found[0]);
    out.bad_value = value_at(out.in_target ? y : x, static_cast<size_t>(out.first_nonfinite));
    return out;
  }

  const Columns columns{x.data, x.kind, x.bits, y.data, y.kind, y.bits, features};
  const size_t width = features + 1;
  DeviceArray<size_t> train_index(train_rows.size(), nullptr);
  DeviceArray<size_t> test_index(test_rows.size(), nullptr);
  FMALA_CUDA_CHECK(cudaMemcpy(train_index.data(), train_rows.data(), train_index.bytes(), cudaMemcpyHostToDevice));
  if (!test_rows.empty()) {
    FMALA_CUDA_CHECK(cudaMemcpy(test_index.data(), test_rows.data(), test_index.bytes(), cudaMemcpyHostToDevice));
  }
  DeviceArray<double> mean(width, nullptr);
  DeviceArray<double> sd(width, nullptr);
  DeviceArray<double> low(width, nullptr);
  DeviceArray<double> high(width, nullptr);
  column_moments<<<blocks_for(width), kThreads>>>(columns, train_index.data(), train_rows.size(), mean.data(),
                                                  sd.data(), low.data(), high.data());
  check_launch("column_moments");
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
  DeviceArray<unsigned long long> overflow(1, nullptr);
  FMALA_CUDA_CHECK(cudaMemcpy(overflow.data(), start.data(), overflow.bytes(), cudaMemcpyHostToDevice));
  standardise_rows<<<blocks_for(train_rows.size() * width), kThreads>>>(
      columns, train_index.data(), train_rows.size(), mean.data(), sd.data(), train_x.data(), train_y.data(), 0,
      overflow.data());
  check_launch("standardise_rows");
  if (!test_rows.empty()) {
    standardise_rows<<<blocks_for(test_rows.size() * width), kThreads>>>(
        columns, test_index.data(), test_rows.size(), mean.data(), sd.data(), test_x.data(), test_y.data(),
        train_rows.size(), overflow.data());
    check_launch("standardise_rows");
  }
  const unsigned long long first_overflow = to_host(overflow)[0];
  if (first_overflow != ULLONG_MAX) {
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
                                             size_t features, size_t kept, bool standardise, double max_label,
                                             int max_counted_classes) {
  std::string reason;
  if (!device_available(&reason)) {
    throw make_error(x.name + " on the GPU", reason, "Copy the arrays to the host and use --backend cpu");
  }
  require_current_device(x);
  require_current_device(y);
  // The arrays may come from work still queued on another stream of the
  // caller's (a framework's own stream): wait for all of it.
  FMALA_CUDA_CHECK(cudaDeviceSynchronize());
  const size_t rows = y.shape.at(0);
  const size_t count = rows * features;
  const size_t kept_values = kept * features;
  PreparedTrainingSplit out;

  const bool in_place = x.kind == 'f' && x.bits == 64 && !standardise;
  DeviceArray<double> converted(in_place ? 0 : kept_values, nullptr);
  std::vector<unsigned long long> start = {ULLONG_MAX, ULLONG_MAX};
  DeviceArray<unsigned long long> first(2, nullptr);
  FMALA_CUDA_CHECK(cudaMemcpy(first.data(), start.data(), first.bytes(), cudaMemcpyHostToDevice));
  const int none = -1;
  DeviceArray<int> largest(1, nullptr);
  FMALA_CUDA_CHECK(cudaMemcpy(largest.data(), &none, sizeof none, cudaMemcpyHostToDevice));
  DeviceArray<int> labels(kept, nullptr);

  convert_features<<<blocks_for(count), kThreads>>>(x.data, x.kind, x.bits, count, kept_values,
                                                     in_place ? nullptr : converted.data(), first.data());
  check_launch("convert_features");
  convert_labels<<<blocks_for(rows), kThreads>>>(y.data, y.kind, y.bits, rows, kept, max_label, labels.data(),
                                                 first.data() + 1, largest.data());
  check_launch("convert_labels");
  const std::vector<unsigned long long> found = to_host(first);
  out.largest_label = to_host(largest)[0];
  if (found[0] != ULLONG_MAX) {
    out.first_nonfinite = static_cast<int64_t>(found[0]);
    out.bad_feature = value_at(x, found[0]);
  }
  if (found[1] != ULLONG_MAX) {
    out.first_bad_label = static_cast<int64_t>(found[1]);
    out.bad_label = value_at(y, found[1]);
  }
  if (out.first_nonfinite >= 0 || out.first_bad_label >= 0) {
    return out;
  }

  if (out.largest_label >= 0 && out.largest_label < max_counted_classes) {
    DeviceArray<unsigned long long> counts(static_cast<size_t>(out.largest_label) + 1, nullptr);
    count_classes<<<blocks_for(kept), kThreads>>>(labels.data(), kept, counts.data());
    check_launch("count_classes");
    for (const unsigned long long c : to_host(counts)) {
      out.class_counts.push_back(static_cast<size_t>(c));
    }
  }

  if (standardise) {
    DeviceArray<double> mean(features, nullptr);
    DeviceArray<double> sd(features, nullptr);
    feature_moments<<<blocks_for(features), kThreads>>>(converted.data(), kept, features, mean.data(), sd.data());
    check_launch("feature_moments");
    scale_features<<<blocks_for(kept_values), kThreads>>>(converted.data(), kept_values, features, mean.data(),
                                                          sd.data());
    check_launch("scale_features");
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
