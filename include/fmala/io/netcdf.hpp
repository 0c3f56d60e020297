#pragma once
// Kept draws as an ArviZ InferenceData file: one NetCDF4 (HDF5) file with one
// group per InferenceData group, which arviz.from_netcdf opens.

#include <string>
#include <vector>

#include "fmala/run.hpp"

namespace fmala::io {

// Writes the draws of `run` to `path` as an InferenceData NetCDF4 file, atomically:
// the file goes to a hidden temporary name in the same directory and is renamed
// over `path` only when complete. Layout, with C chains, S draws and D parameters:
//   posterior:    theta (chain, draw, parameter) float64; coordinates chain and
//                 draw (int64 0..C−1 and 0..S−1) and parameter (strings from
//                 parameter_names).
//   sample_stats: lp (chain, draw) float64, the log-density of each draw, and
//                 step_size (chain, draw) float64, each chain's final step size
//                 repeated over its draws because the step is fixed after warmup.
//                 Its attributes record the sampler name, its settings and the
//                 acceptance statistics.
// Both groups and the root carry created_by = inference_library = "fmala".
// parameter_names has D entries. Throws fmala::Error naming `path` when the
// directory is missing, the sizes of `run` disagree, or the netCDF library fails;
// on any error the temporary file is removed and an existing `path` is unchanged.
void write_inference_data_netcdf(const std::string& path, const SamplerRun& run,
                                 const std::vector<std::string>& parameter_names);

}  // namespace fmala::io
