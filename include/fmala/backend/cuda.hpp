#pragma once
// Entry points of the CUDA back end. They are defined in kernels/ when fmala is
// built with a CUDA compiler, and throw fmala::Error otherwise.

#include <memory>
#include <string>
#include <vector>

#include "fmala/io/classification_data.hpp"
#include "fmala/run.hpp"

// The CUDA runtime's stream type, cudaStream_t = CUstream_st*, declared here so
// that this header does not need the CUDA headers.
struct CUstream_st;

namespace fmala::cuda {

// True when the library was built with the CUDA back end.
bool compiled();

// True when a usable CUDA device is present; otherwise *reason gives the cause.
bool device_available(std::string* reason);

// Makes device `index` modulo the device count the calling thread's current
// device (one device per process of an MPI job on a host) and returns it;
// -1 when there is no usable device.
int select_device(int index);

// Throws fmala::Error naming --backend cuda when the CUDA back end cannot
// evaluate `model` (it evaluates the built-in analytic targets and the
// network models whose activations each follow a dense or conv layer). Needs
// no device, so a run can be refused before it reaches one.
void check_model(const Model& model);

// Runs one sampler on the current CUDA device, from the initial states theta0 (C, D).
SamplerRun run_sampler(const Model& model,
                       const RunSettings& settings,
                       const std::vector<Real>& theta0,
                       const ProgressFn& progress,
                       const RunControl& control = {});

// Device buffers that a caller owns, for sample_on_device. Pointers are
// device (or managed) memory, chain-major.
struct DeviceBuffers {
  // The caller's stream (a cudaStream_t). Null means a stream of the run's
  // own, used after waiting for all work already queued on the device; it
  // does not mean CUDA's legacy default stream. Every kernel and copy of the
  // run is ordered on the stream, and the call returns after the last one.
  CUstream_st* stream = nullptr;
  // (C, D) initial states; null: the model's initial_state(), as run_sampler.
  const Real* initial_state = nullptr;
  // (C, S, D) the kept draws of every chain, S = settings.draws. Required.
  Real* draws = nullptr;
  // (C, S) the log-density of every kept draw, or null.
  Real* log_density = nullptr;
};

// Runs one sampler on the current CUDA device as run_sampler does, but reads
// the initial states from and writes the kept draws into the caller's device
// buffers, on the caller's stream: the draws never pass through the host.
// `control` may ask the run to stop (stop_requested) and share the step
// size's adaptation between processes (mean_accept_prob). Checkpoints keep
// draws on the host, so its resume and save must be empty.
// The returned SamplerRun has everything but the values of the draws
// (draws.values is empty; draws.log_density and the per-draw statistics are
// on the host as usual; fmala::summarize needs the values, so copy them to
// the host first). settings.backend and settings.threads are not used.
// Buffer sizes cannot be checked: they must be as stated above. Throws
// fmala::Error without a usable device, for a model the back end does not
// evaluate, a host pointer, a null draws buffer, streaming settings, or a
// control with checkpoints.
SamplerRun sample_on_device(const Model& model, const RunSettings& settings,
                            const DeviceBuffers& buffers, const ProgressFn& progress = {},
                            const RunControl& control = {});

// Reals in device memory that free themselves when the last copy of `data`
// is dropped: the draws that a run keeps on the GPU that made them.
struct DeviceValues {
  std::shared_ptr<Real> data;
  size_t size = 0;  // number of values
  int device = -1;  // the index of the CUDA device they are on
};

// Allocates `size` values on the current device. Throws fmala::Error without
// a usable device or when the device's memory is short.
DeviceValues allocate_device_values(size_t size);

// Copies `size` values from device (or managed) memory to host memory and
// returns when the copy is done.
void copy_to_host(const Real* device, size_t size, Real* host);

// The device's part of io::classification_data_from_device_arrays: one pass
// over the training arrays on their device, with no message of its own.
struct PreparedTrainingSplit {
  std::shared_ptr<const double> x;    // (rows kept, features) as float64, scaled when asked
  std::shared_ptr<const int> labels;  // (rows kept)
  // The checks cover all rows, also those the subset drops. first_nonfinite
  // is the flat index of the first value of x that is not finite, and
  // first_invalid_label the index of the first label that is not a whole
  // number in [0, max_label]. Each is -1 when there is none.
  int64_t first_nonfinite = -1;
  double nonfinite_value = 0;  // the value at first_nonfinite
  int64_t first_invalid_label = -1;
  double invalid_label = 0;  // the label at first_invalid_label
  int largest_label = -1;  // over all rows
  std::vector<size_t> class_counts;  // rows kept per label 0..largest_label; empty above max_counted_classes
  std::vector<double> mean, sd;      // with scaling: per feature, the mean and sd used
};

// Returns the flat index of the first of the `count` values of `a` that is
// not finite, or -1, and sets *value to that value.
int64_t first_nonfinite(const io::DeviceArrayView& a, size_t count, double* value);

// The device's part of io::regression_data_from_device_arrays.
struct PreparedRegressionSplit {
  std::shared_ptr<const double> x;  // (training rows, features), standardised
  std::shared_ptr<const double> y;  // (training rows), standardised
  std::vector<double> test_x, test_y;  // the test rows, standardised, on the host
  // Per column, features first and the target last, over the training rows:
  // sum / rows, the sd, the smallest and the largest value. A constant
  // column has mean = its value and sd 1.
  std::vector<double> mean, sd, low, high;
  // The first standardised value that is not finite, or -1. The order is
  // the training rows, then the test rows, each row's features and then its
  // target. The index is row position × (features + 1) + column, and
  // overflow_value is the value before standardisation.
  int64_t first_overflow = -1;
  double overflow_value = 0;
};

// Reads x (rows, features) and y (rows) on their device, whose values must be
// finite (first_nonfinite checks them). Takes the column statistics over
// train_rows in their order as the host's column_statistics does, and
// standardises the training and test rows.
PreparedRegressionSplit prepare_regression_split(const io::DeviceArrayView& x, const io::DeviceArrayView& y,
                                                 size_t features, const std::vector<size_t>& train_rows,
                                                 const std::vector<size_t>& test_rows);

// Reads x (rows, features) and y (rows) on their device. It converts x to
// float64 (reading it in place when it is float64 and not scaled) and checks
// it. It converts the labels, of which max_label is the largest allowed, and
// counts the kept rows' classes. With `standardise` it scales the first
// `kept_rows` rows per feature as the host's standardisation does, bit for bit.
PreparedTrainingSplit prepare_training_split(const io::DeviceArrayView& x, const io::DeviceArrayView& y,
                                             size_t features, size_t kept_rows, bool standardise, double max_label,
                                             int max_counted_classes);

// Evaluates the model on the current CUDA device as the back end's samplers
// do, for `chains` chains, from and into host buffers: f and, for order >= 1,
// d = ∇f·u, for order 2 also h = uᵀ∇²f u (theta and direction (C, D), f, d
// and h (C)); or f and the gradient g (C, D). For checks of the device's
// evaluation against the CPU's.
void evaluate_jet(const Model& model, int chains, const Real* theta, const Real* direction,
                  int order, Real* f, Real* d, Real* h);
void evaluate_gradient(const Model& model, int chains, const Real* theta, Real* f, Real* g);

// Device time of one dense layer's jet products for fmala-bench: the three
// strided-batched DGEMMs that the network evaluator makes for a hidden layer
// at order 2 (per chain, `rows` × `in` planes times `in` × `out` weights),
// and, for the same stacked shape (3·rows, in) × (in, out), one plain DGEMM
// and one SGEMM. Seconds per call, averaged over `repeats` calls.
struct ProductTiming {
  double jet_seconds = 0;
  double dgemm_seconds = 0;
  double sgemm_seconds = 0;
  double jet_flops = 0;    // floating-point operations of the jet products
  double plain_flops = 0;  // of one plain product
};
ProductTiming time_layer_products(int chains, int rows, int in, int out, int repeats);

}  // namespace fmala::cuda
