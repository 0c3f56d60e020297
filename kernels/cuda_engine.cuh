#pragma once
// The CUDA back end's engine: per-chain buffers in device memory, one stream,
// and each transition as the parallel passes of backend/parallel_step.hpp
// (per-chain scalar work one thread per chain, work over the parameters one
// thread per value). It provides the Engine interface that drive() in
// backend/driver.hpp expects, with the same behaviour as CpuEngine.

#include <cuda_runtime_api.h>

#include <cstddef>
#include <memory>
#include <vector>

#include "cuda_check.cuh"
#include "device_ops.cuh"
#include "fmala/backend/cuda.hpp"
#include "fmala/backend/device_memory.hpp"
#include "fmala/backend/draw_record.hpp"
#include "fmala/backend/driver.hpp"
#include "fmala/backend/network_evaluator.hpp"
#include "fmala/backend/parallel_step.hpp"
#include "fmala/model/model.hpp"
#include "fmala/samplers/phases.hpp"
#include "fmala/targets/funnel.hpp"
#include "fmala/targets/gaussian.hpp"
#include "fmala/targets/rosenbrock.hpp"

namespace fmala::cuda_detail {

// One built-in analytic target whose pointers (the gaussian scales) are
// device pointers. Only the member that `kind` names is used.
struct DeviceTarget {
  AnalyticTarget::Kind kind = AnalyticTarget::Kind::gaussian;
  GaussianTarget gaussian;
  FunnelTarget funnel;
  RosenbrockTarget rosenbrock;
};

// The model's dimension, after checking that the CUDA back end evaluates it;
// throws fmala::Error naming --backend cuda otherwise. Needs no device.
int supported_dim(const Model& model);

class CudaEngine {
 public:
  // Throws fmala::Error when the model is neither a built-in analytic target
  // nor a network model, or when a CUDA call fails (no device, not enough
  // device memory).
  // With `device`, the engine runs on the caller's stream (when given), reads
  // the initial states from the caller's device buffer (when given) and
  // record() writes the kept draws into the caller's device buffers.
  // With `records_draws` the memory plan counts, and the engine allocates,
  // the staging from which kept draws are copied to the host; record() needs it.
  CudaEngine(const Model& model, const SamplerOptions& options, int chains, uint64_t seed,
             uint64_t first_chain = 0, const cuda::DeviceBuffers* device = nullptr,
             int kept_draws = 0, bool records_draws = false);
  // Waits for a copy still in flight, which writes into the engine's memory.
  ~CudaEngine();
  CudaEngine(const CudaEngine&) = delete;
  CudaEngine& operator=(const CudaEngine&) = delete;

  void initialize(const std::vector<Real>& theta0);
  void set_step_size(Real eta);
  void start_chain_adaptation(Real eta0);
  void finish_chain_adaptation();
  void step(const StepContext& ctx, bool adapting);
  Real mean_accept_prob();
  // Copies θ (unless it goes to the caller's device buffers), f and the
  // counters of every chain into staging on the device, and from there to
  // page-locked host memory on a second stream, while the next transitions
  // run. When θ's staging does not fit beside the run, θ goes to the host on
  // the engine's stream instead. The draw lands in `out` when the next record() or finish_records()
  // waits for that copy (see backend/draw_record.hpp).
  void record(Draws& out, int index, DrawDone done);
  void finish_records();
  void cancel_records() noexcept;
  // False when record() writes the draws into the caller's device buffers.
  bool host_values() const { return device_.draws == nullptr; }
  // Waits for every queued kernel and copy of the engine's stream.
  void synchronize();
  EngineCounters counters();
  EngineState save_state();
  void restore_state(const EngineState& state);

  // The model's jet or gradient at host states, through the engine's own
  // evaluation; see cuda::evaluate_jet.
  void evaluate_jet_from_host(const Real* theta, const Real* direction, int order, Real* f, Real* d,
                              Real* h);
  void evaluate_gradient_from_host(const Real* theta, Real* f, Real* g);

  // Training rows per tile of a network after memory planning; 0 for
  // other models.
  int network_tile() const { return tile_; }

  // Bytes of device memory held by the engine's buffers. Temporary storage
  // that Thrust allocates for a reduction is not included.
  size_t device_bytes() const;

  // Evaluates the model for every chain at device states: f and, by order, its
  // derivatives along `direction` (as Model::jet), or f and its gradient.
  // ParallelStep calls these two as its Evaluate.
  void jet(const Real* theta, const Real* direction, int order, Real* f, Real* d, Real* h);
  void gradient(const Real* theta, Real* f, Real* g);

 private:
  template <class Functor>
  void for_each_chain(const Functor& functor, const char* phase);
  // The transition's passes on the current buffers (b_ changes when the
  // adaptation starts or a state is restored).
  ParallelStep<DeviceNetworkOps, CudaEngine> parallel();
  // Copies n values from the device to the host and waits for the copy.
  template <class T>
  void copy_to_host(const T* device, size_t n, T* host);
  // Copies n values from the host to the device and waits for the copy.
  template <class T>
  void copy_to_device(const T* host, size_t n, T* device);
  // The staging buffers, stream and events of record().
  void allocate_draw_staging();

  SamplerOptions options_;
  int chains_;
  int dim_;
  uint64_t seed_;
  uint64_t first_chain_;         // the global index of chain 0
  cuda::DeviceBuffers device_;   // the caller's buffers and stream, when given
  int kept_draws_ = 0;           // S of the caller's draw buffers
  StreamHandle stream_;          // created after dim_ has checked the model
  DeviceArray<Real> scales_;     // (D) gaussian standard deviations, when given
  DeviceArray<Real> matrices_;   // every (C, D) buffer, back to back
  DeviceArray<Real> scalars_;    // every (C) buffer, back to back
  DeviceArray<int64_t> counts_;  // accepted, non-finite and floor counts, (C) each
  DeviceArray<DualAveraging> adapt_;
  DeviceArray<Real> scratch_;  // (C, D) unit vectors for targets without a gradient()
  DeviceArray<Real> curvature_scratch_;  // (C) × kCurvatureScalarBuffers, PC samplers with M > 1
  DeviceTarget target_;
  // The stream's elementwise passes, reductions and products.
  std::unique_ptr<DeviceNetworkOps> ops_;
  DeviceArray<Sum3> step_sums_;              // (2C) ParallelStep's sums
  DeviceArray<unsigned char> accepted_;      // (C) ParallelStep's accept flags
  // Network models: the evaluator, null otherwise.
  std::unique_ptr<NetworkEvaluator<DeviceNetworkOps>> network_;
  int tile_ = 0;
  ChainBuffers b_;
  std::vector<Real> host_accept_prob_;  // (C) staging for mean_accept_prob()
  // record()'s buffers. The snapshot of a kept draw is taken on the device,
  // on the engine's stream. Its copy to the host runs on copy_stream_ after
  // snapshot_taken_, and in_flight_ waits for copied_.
  bool records_draws_ = false;
  bool stage_theta_on_device_ = false;    // θ goes to the host through stage_theta_
  DeviceArray<Real> stage_theta_;         // (C, D), when stage_theta_on_device_
  DeviceArray<Real> stage_scalars_;       // (C) × kDrawStagingScalars
  DeviceArray<int64_t> stage_counts_;     // (C) × kCounterBuffers
  HostStagingArray<Real> host_theta_;
  HostStagingArray<Real> host_scalars_;
  HostStagingArray<int64_t> host_counts_;
  std::unique_ptr<StreamHandle> copy_stream_;
  std::unique_ptr<EventHandle> snapshot_taken_;
  std::unique_ptr<EventHandle> copied_;
  DrawInFlight in_flight_;
};

}  // namespace fmala::cuda_detail
