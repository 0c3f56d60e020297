#pragma once
// Entry points of the CUDA back end. They are defined in kernels/ when fmala is
// built with a CUDA compiler, and throw fmala::Error otherwise.

#include <string>
#include <vector>

#include "fmala/run.hpp"

namespace fmala::cuda {

// True when the library was built with the CUDA back end.
bool compiled();

// True when a usable CUDA device is present; otherwise *reason gives the cause.
bool device_available(std::string* reason);

// Makes device `index` modulo the device count the calling thread's current
// device (one device per process of an MPI job on a host) and returns it;
// -1 when there is no usable device.
int select_device(int index);

// Runs one sampler on the current CUDA device, from the initial states theta0 (C, D).
SamplerRun run_sampler(const Model& model,
                       const RunSettings& settings,
                       const std::vector<Real>& theta0,
                       const ProgressFn& progress,
                       const RunControl& control = {});

}  // namespace fmala::cuda
