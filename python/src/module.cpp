// fmala._core: the Python package's entry into the program's `sample` and
// `resume` commands. The Python side turns keyword arguments into the
// command's options, so both take the same options and give the same
// messages. This module adds data arrays in memory, and returns the draws and
// the summary besides writing them.

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cli/options.hpp"
#include "fmala/core/error.hpp"

namespace nb = nanobind;

namespace {

using HostArray = nb::ndarray<const double, nb::c_contig, nb::device::cpu>;
// Read only: fmala never writes into the caller's arrays.
using CudaArray = nb::ndarray<nb::ro, nb::device::cuda>;

// The view of an array on a CUDA device that the library reads in place.
// Throws fmala::Error naming it for a layout or value type it does not read.
fmala::io::DeviceArrayView device_view(const CudaArray& a, const std::string& name) {
  fmala::io::DeviceArrayView view;
  view.data = a.data();
  view.name = name;
  view.device = a.device_id();
  int64_t expected = 1;
  for (size_t i = a.ndim(); i-- > 0;) {
    view.shape.insert(view.shape.begin(), a.shape(i));
    if (a.shape(i) > 1 && a.stride(i) != expected) {
      throw fmala::Error(name + ": the array on the GPU is not C-contiguous. Pass a C-contiguous copy, e.g. "
                                "x.contiguous() in PyTorch");
    }
    expected *= static_cast<int64_t>(a.shape(i));
  }
  const nb::dlpack::dtype type = a.dtype();
  const int code = type.code;
  view.bits = type.bits;
  if (type.lanes == 1 && code == static_cast<int>(nb::dlpack::dtype_code::Float) && (type.bits == 32 || type.bits == 64)) {
    view.kind = 'f';
  } else if (type.lanes == 1 && code == static_cast<int>(nb::dlpack::dtype_code::Int) &&
             (type.bits == 8 || type.bits == 16 || type.bits == 32 || type.bits == 64)) {
    view.kind = 'i';
  } else if (type.lanes == 1 &&
             (code == static_cast<int>(nb::dlpack::dtype_code::UInt) ||
              code == static_cast<int>(nb::dlpack::dtype_code::Bool)) &&
             (type.bits == 8 || type.bits == 16 || type.bits == 32 || type.bits == 64)) {
    view.kind = 'u';
  } else {
    throw fmala::Error(name + ": the array on the GPU has DLPack type code " + std::to_string(code) + " with " +
                       std::to_string(type.bits) + " bits, which fmala does not read. Give float64, float32 "
                       "or integer values");
  }
  return view;
}

fmala::io::NpyArray to_npy(const HostArray& a) {
  fmala::io::NpyArray out;
  for (size_t i = 0; i < a.ndim(); ++i) {
    out.shape.push_back(a.shape(i));
  }
  out.values.assign(a.data(), a.data() + a.size());
  out.dtype = "<f8";
  return out;
}

// A NumPy array that owns `values`, of the given shape.
template <class T>
nb::object owned_array(std::vector<T>&& values, std::vector<size_t> shape) {
  auto* held = new std::vector<T>(std::move(values));
  nb::capsule owner(held, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
  return nb::cast(nb::ndarray<nb::numpy, T>(held->data(), shape.size(), shape.data(), owner));
}

// An array over draws kept on a GPU, exported through DLPack with the
// device's type and index. Its memory lives until the last view is gone.
nb::object device_array(const fmala::cuda::DeviceValues& values, std::vector<size_t> shape) {
  auto* shared = new std::shared_ptr<fmala::Real>(values.data);
  nb::capsule owner(shared, [](void* p) noexcept { delete static_cast<std::shared_ptr<fmala::Real>*>(p); });
  return nb::cast(nb::ndarray<double, nb::device::cuda>(values.data.get(), shape.size(), shape.data(), owner,
                                                        nullptr, nb::dtype<double>(), nb::device::cuda::value,
                                                        values.device));
}

// Returns why `value` cannot be read in place on its GPU (a DLPack export
// that fails, a value type or layout the library does not read), or "" when
// it can.
std::string device_array_problem(nb::handle value) {
  CudaArray array;
  if (!nb::try_cast(value, array)) {
    return "it does not export itself through DLPack as a CUDA array";
  }
  try {
    (void)device_view(array, "array");
  } catch (const fmala::Error& e) {
    return e.what();
  }
  return "";
}

// Parses the arguments of `fmala sample` into options, as the program does.
fmala::cli::SampleOptions parse_options(CLI::App& app, const std::vector<std::string>& arguments) {
  fmala::cli::SampleOptions options;
  fmala::cli::add_sample_options(app, options);
  std::vector<std::string> reversed(arguments.rbegin(), arguments.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    throw fmala::Error(std::string(e.what()) + ". help(fmala.sample) lists the options");
  }
  return options;
}

std::shared_ptr<fmala::cli::DataArrays> make_arrays(const std::optional<HostArray>& x_train,
                                                    const std::optional<HostArray>& y_train,
                                                    const std::optional<HostArray>& x_test,
                                                    const std::optional<HostArray>& y_test,
                                                    const std::optional<HostArray>& table) {
  if (!x_train && !x_test && !table) {
    return nullptr;
  }
  auto arrays = std::make_shared<fmala::cli::DataArrays>();
  if (x_train) {
    arrays->train = fmala::io::ArraySplit{to_npy(*x_train), to_npy(*y_train), "x_train", "y_train"};
  }
  if (x_test) {
    arrays->test = fmala::io::ArraySplit{to_npy(*x_test), to_npy(*y_test), "x_test", "y_test"};
  }
  if (table) {
    fmala::io::Table t;
    t.rows = table->shape(0);
    t.cols = table->shape(1);
    t.values.assign(table->data(), table->data() + table->size());
    t.path = "the arrays x, y";
    arrays->table = std::move(t);
  }
  return arrays;
}

// Runs `fmala sample` (or `fmala resume DIR` when `resume` is set) with the
// GIL released, and returns the exit status, the summary and every
// sampler's draws and statistics; with device_draws, also the draws on the
// GPU that made them.
nb::dict run(const std::vector<std::string>& arguments, const std::string& command_line,
             const std::optional<std::string>& resume, const std::optional<HostArray>& x_train,
             const std::optional<HostArray>& y_train, const std::optional<HostArray>& x_test,
             const std::optional<HostArray>& y_test, const std::optional<HostArray>& table, bool device_draws,
             const std::optional<CudaArray>& x_train_device, const std::optional<CudaArray>& y_train_device) {
  fmala::cli::SampleResults results;
  fmala::cli::Invocation invocation;
  invocation.command_line = command_line;
  invocation.arguments = arguments;
  invocation.results = &results;
  invocation.stop_on_signals = true;
  int status = 0;
  {
    CLI::App app{"fmala.sample", "fmala"};
    fmala::cli::SampleOptions options;
    if (!resume) {
      options = parse_options(app, arguments);
    }
    const bool regression = options.model == "mlp" || options.preset == "paper-regression";
    std::string array_arguments;
    if (table || (x_train_device && regression)) {
      array_arguments = ", model='mlp', train=(x, y)";
    } else if (x_train || x_train_device) {
      array_arguments = x_test ? ", train=(x, y), test=(x, y)" : ", train=(x, y)";
    }
    invocation.resume_command = [array_arguments](const std::string& out) {
      return "fmala.resume('" + out + "'" + array_arguments + ")";
    };
    options.arrays = make_arrays(x_train, y_train, x_test, y_test, table);
    if (x_train_device.has_value() != y_train_device.has_value()) {
      throw fmala::Error("x_train_device and y_train_device: give both or neither");
    }
    if (x_train_device) {
      auto arrays = options.arrays ? std::make_shared<fmala::cli::DataArrays>(*options.arrays)
                                   : std::make_shared<fmala::cli::DataArrays>();
      arrays->device_train =
          fmala::cli::DataArrays::DeviceSplit{device_view(*x_train_device, "x_train"),
                                              device_view(*y_train_device, "y_train")};
      options.arrays = std::move(arrays);
    }
    options.device_draws = device_draws;
    nb::gil_scoped_release release;
    status = resume ? fmala::cli::run_resume(*resume, options, invocation)
                    : fmala::cli::run_sample(options, invocation);
  }
  nb::dict out;
  out["status"] = status;
  out["summary"] = results.summary_json;
  out["stop_message"] = results.stop_message;
  nb::list samplers;
  for (fmala::cli::SampleResults::Sampler& s : results.samplers) {
    fmala::Draws& d = s.draws;
    const auto c = static_cast<size_t>(d.chains);
    const auto n = static_cast<size_t>(d.draws);
    nb::dict entry;
    entry["name"] = s.name;
    entry["columns"] = s.columns;
    if (s.device_draws.data) {
      entry["device_values"] = device_array(s.device_draws, {c, n, static_cast<size_t>(d.dim)});
    }
    entry["values"] = owned_array(std::move(d.values), {c, n, static_cast<size_t>(d.dim)});
    entry["log_density"] = owned_array(std::move(d.log_density), {c, n});
    if (d.has_statistics()) {
      nb::dict stats;
      stats["acceptance_rate"] = owned_array(std::move(d.accept_prob), {c, n});
      stats["step_size"] = owned_array(std::move(d.step_size), {c, n});
      stats["accepted"] = owned_array(std::move(d.accepted), {c, n});
      stats["nonfinite_rejections"] = owned_array(std::move(d.nonfinite), {c, n});
      stats["curvature_floor_hits"] = owned_array(std::move(d.floor_hits), {c, n});
      entry["sample_stats"] = stats;
    }
    const fmala::TestPredictive& p = s.predictive;
    if (!p.probabilities.empty()) {
      const size_t rows = p.labels.size();
      std::vector<double> probabilities = p.probabilities;
      std::vector<int64_t> labels(p.labels.begin(), p.labels.end());
      entry["test_probabilities"] = owned_array(std::move(probabilities), {rows, static_cast<size_t>(p.classes)});
      entry["test_labels"] = owned_array(std::move(labels), {rows});
    }
    samplers.append(entry);
  }
  out["samplers"] = samplers;
  return out;
}

// The options of `fmala sample` as (long name without dashes, description)
// pairs, --help left out.
std::vector<std::pair<std::string, std::string>> options_help() {
  CLI::App app{"fmala.sample", "fmala"};
  fmala::cli::SampleOptions options;
  fmala::cli::add_sample_options(app, options);
  std::vector<std::pair<std::string, std::string>> out;
  for (const CLI::Option* option : app.get_options()) {
    for (const std::string& name : option->get_lnames()) {
      if (name != "help") {
        out.emplace_back(name, option->get_description());
      }
    }
  }
  return out;
}

}  // namespace

NB_MODULE(_core, m) {
  m.doc() = "fmala's C++ core: runs the sample and resume commands in this process.";
  nb::exception<fmala::Error>(m, "Error", PyExc_ValueError);
  m.def("device_array_problem", &device_array_problem, nb::arg("value"),
        "Why an array on a GPU cannot be read there in place, or an empty string when it can.");
  m.def("options_help", &options_help, "The options of `fmala sample`: (name, description) pairs.");
  m.def("run", &run, nb::arg("arguments"), nb::arg("command_line"), nb::arg("resume").none() = nb::none(),
        nb::arg("x_train").none() = nb::none(), nb::arg("y_train").none() = nb::none(),
        nb::arg("x_test").none() = nb::none(), nb::arg("y_test").none() = nb::none(),
        nb::arg("table").none() = nb::none(), nb::arg("device_draws") = false,
        nb::arg("x_train_device").none() = nb::none(), nb::arg("y_train_device").none() = nb::none(),
        "Run `fmala sample` with these arguments (or resume the run in `resume`); returns a dict with "
        "the exit status, summary.json's text and every sampler's draws.");
}
