// The CUDA engine and the CUDA back end's run_sampler. Each transition is
// ParallelStep's sequence of passes over the __host__ __device__ phase
// functions that the CPU engine runs. Both back ends therefore make the same
// draws from the same seed, up to the last bits of device math functions
// (see random/philox.hpp), of fused multiply-adds and of sums over the
// parameters.

#include "cuda_engine.cuh"

#include <thrust/execution_policy.h>
#include <thrust/fill.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/system_error.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <type_traits>

#include "fmala/backend/buffer_layout.hpp"
#include "fmala/backend/cuda.hpp"
#include "fmala/backend/device_memory.hpp"
#include "fmala/core/error.hpp"
#include "fmala/targets/evaluate.hpp"

namespace fmala::cuda_detail {

namespace {


// ---- per-chain functors: thread k works on chain k only ---------------------------------

// ---- per-chain and per-value functors ---------------------------------------------------

// Element i of (C, D): θ of chain k = i / D into draw `index` of the
// caller's (C, S, D) buffer, and its f into the (C, S) buffer (when given).
struct ScatterDraw {
  const Real* theta;
  const Real* f;
  int dim;
  int draws;
  int index;
  Real* out;
  Real* log_density;
  __device__ void operator()(size_t i) const {
    const size_t k = i / static_cast<size_t>(dim);
    const size_t j = i % static_cast<size_t>(dim);
    const size_t slot = k * static_cast<size_t>(draws) + static_cast<size_t>(index);
    out[slot * static_cast<size_t>(dim) + j] = theta[i];
    if (j == 0 && log_density) {
      log_density[slot] = f[k];
    }
  }
};

struct FinishAdaptation {
  ChainBuffers b;
  __device__ void operator()(int k) const { b.step_size[k] = b.adapt[k].final_step(); }
};

// f, and for order >= 1 d = ∇f·u, for order 2 also h = uᵀ∇²f u. d and h may be
// null when the order does not need them, as Model::jet allows.
template <class Target>
struct JetChain {
  Target target;
  int dim;
  const Real* theta;
  const Real* direction;
  int order;
  Real* f;
  Real* d;
  Real* h;
  __device__ void operator()(int k) const {
    const size_t row = static_cast<size_t>(k) * dim;
    Real unused_d = 0;
    Real unused_h = 0;
    evaluate_jet(target, theta + row, direction ? direction + row : nullptr, order, f + k,
                 d ? d + k : &unused_d, h ? h + k : &unused_h);
  }
};

template <class Target>
struct GradientChain {
  Target target;
  int dim;
  const Real* theta;
  Real* f;
  Real* g;
  Real* scratch;  // (C, D), null when the target defines gradient()
  __device__ void operator()(int k) const {
    const size_t row = static_cast<size_t>(k) * dim;
    f[k] = evaluate_gradient(target, dim, theta + row, g + row, scratch ? scratch + row : nullptr);
  }
};

// Calls fn with the member of t that t.kind names.
template <class Fn>
void visit_target(const DeviceTarget& t, Fn&& fn) {
  switch (t.kind) {
    case AnalyticTarget::Kind::gaussian:
      fn(t.gaussian);
      return;
    case AnalyticTarget::Kind::funnel:
      fn(t.funnel);
      return;
    case AnalyticTarget::Kind::rosenbrock:
      fn(t.rosenbrock);
      return;
  }
  throw make_error("CUDA back end",
                   "unknown analytic target kind " + std::to_string(static_cast<int>(t.kind)));
}

}  // namespace

// The model's dimension, after checking that the CUDA back end evaluates it:
// a built-in analytic target or a network model.
int supported_dim(const Model& model) {
  const AnalyticTarget* spec = model.analytic_target();
  if (spec == nullptr) {
    if (const NetworkSpec* network = model.network_spec()) {
      check_network_spec(*network, model.dim(), "--backend cuda");
      return model.dim();
    }
    throw make_error("--backend cuda",
                     model.description() + " is not supported on the CUDA back end yet, which "
                                           "evaluates the analytic targets and the network models "
                                           "whose activations each follow a dense or conv layer",
                     "Use --backend cpu, or put each activation right after a dense or conv layer");
  }
  if (spec->dim != model.dim()) {
    throw make_error("--backend cuda",
                     "the analytic target of " + model.description() + " has " +
                         std::to_string(spec->dim) + " parameters but the model has " +
                         std::to_string(model.dim()),
                     "Use --backend cpu");
  }
  if (!spec->scales.empty() && static_cast<int>(spec->scales.size()) != spec->dim) {
    throw make_error("--scales",
                     "has " + std::to_string(spec->scales.size()) + " values for " +
                         std::to_string(spec->dim) + " dimensions",
                     "Give one scale per dimension");
  }
  return spec->dim;
}

// ---- construction -------------------------------------------------------------------------

CudaEngine::CudaEngine(const Model& model, const SamplerOptions& options, int chains, uint64_t seed,
                       uint64_t first_chain, const cuda::DeviceBuffers* device, int kept_draws,
                       bool records_draws)
    // supported_dim() runs before any member touches the device, so an
    // unsupported model is reported as such even on a machine without one.
    : options_(options),
      chains_(chains),
      dim_(supported_dim(model)),
      seed_(seed),
      first_chain_(first_chain),
      device_(device ? *device : cuda::DeviceBuffers{}),
      kept_draws_(kept_draws),
      stream_(device_.stream) {
  // Plan the device memory before allocating any of it: a network's
  // tile is lowered until the run fits in 90% of the free memory.
  size_t free_bytes = 0;
  size_t total_bytes = 0;
  FMALA_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  int device_index = 0;
  FMALA_CUDA_CHECK(cudaGetDevice(&device_index));
  cudaDeviceProp prop{};
  FMALA_CUDA_CHECK(cudaGetDeviceProperties(&prop, device_index));
  // Staging θ for the copy of a kept draw must not cost a network a smaller
  // tile or the run its chains. So the plan counts the scalars' staging only,
  // and θ is staged when it fits beside that plan. Otherwise record() copies
  // θ to the host on the engine's stream: the copy then does not overlap the
  // transitions, but the host still does not wait for it.
  const size_t available = free_bytes / 10 * 9;
  const DeviceMemoryPlan plan = plan_device_memory(
      model, options_, chains_, available,
      "CUDA device " + std::to_string(device_index) + " (" + prop.name + ", " +
          std::to_string(free_bytes >> 20) + " MiB free)",
      records_draws ? DrawCopies::scalars : DrawCopies::none);
  tile_ = plan.tile;
  records_draws_ = records_draws;
  stage_theta_on_device_ =
      records_draws && host_values() &&
      device_memory_plan(model, options_, chains_, plan.tile, DrawCopies::states).total() <= available;
  if (const AnalyticTarget* analytic = model.analytic_target()) {
    const AnalyticTarget& spec = *analytic;
    target_.kind = spec.kind;
    target_.gaussian = GaussianTarget{spec.dim, nullptr, spec.rho};
    target_.funnel = FunnelTarget{spec.dim};
    target_.rosenbrock = RosenbrockTarget{};
    if (spec.kind == AnalyticTarget::Kind::gaussian && !spec.scales.empty()) {
      scales_ = DeviceArray<Real>(spec.scales.size(), stream_.get());
      FMALA_CUDA_CHECK(cudaMemcpyAsync(scales_.data(), spec.scales.data(), scales_.bytes(),
                                       cudaMemcpyHostToDevice, stream_.get()));
      target_.gaussian.scales = scales_.data();
    }
  }
  ops_ = std::make_unique<DeviceNetworkOps>(stream_.get());
  if (model.analytic_target() == nullptr) {
    NetworkSpec spec = *model.network_spec();
    spec.tile = plan.tile;
    network_ = std::make_unique<NetworkEvaluator<DeviceNetworkOps>>(spec, dim_, chains_, *ops_);
  }

  // The same buffer layout as the CPU engine.
  const size_t c = static_cast<size_t>(chains_);
  const size_t cd = c * dim_;
  const bool mala = options_.kind == SamplerKind::mala;
  matrices_ = DeviceArray<Real>(cd * matrix_buffer_count(options_), stream_.get());
  scalars_ = DeviceArray<Real>(c * kScalarBuffers, stream_.get());
  counts_ = DeviceArray<int64_t>(c * kCounterBuffers, stream_.get());
  lay_out_buffers(b_, options_, chains_, dim_, matrices_.data(), scalars_.data(), counts_.data());
  step_sums_ = DeviceArray<Sum3>(2 * c, stream_.get());
  accepted_ = DeviceArray<unsigned char>(c, stream_.get());
  if (has_curvature_tangents(options_)) {
    curvature_scratch_ = DeviceArray<Real>(c * kCurvatureScalarBuffers, stream_.get());
    lay_out_curvature_scratch(b_, options_, chains_, curvature_scratch_.data());
  }

  if (mala && !network_) {
    bool needs_scratch = false;
    visit_target(target_, [&](const auto& target) {
      needs_scratch = !HasGradient<std::decay_t<decltype(target)>>;
    });
    if (needs_scratch) {
      scratch_ = DeviceArray<Real>(cd, stream_.get());
    }
  }
  if (records_draws) {
    allocate_draw_staging();
  }
}

CudaEngine::~CudaEngine() {
  // Errors are ignored: a destructor must not throw.
  if (copy_stream_) {
    cudaStreamSynchronize(copy_stream_->get());
  }
}

void CudaEngine::allocate_draw_staging() {
  const size_t c = static_cast<size_t>(chains_);
  if (stage_theta_on_device_) {
    stage_theta_ = DeviceArray<Real>(c * dim_, stream_.get());
  }
  if (host_values()) {
    host_theta_ = HostStagingArray<Real>(c * dim_);
  }
  stage_scalars_ = DeviceArray<Real>(c * kDrawStagingScalars, stream_.get());
  stage_counts_ = DeviceArray<int64_t>(c * kCounterBuffers, stream_.get());
  host_scalars_ = HostStagingArray<Real>(c * kDrawStagingScalars);
  host_counts_ = HostStagingArray<int64_t>(c * kCounterBuffers);
  copy_stream_ = std::make_unique<StreamHandle>();
  snapshot_taken_ = std::make_unique<EventHandle>();
  copied_ = std::make_unique<EventHandle>();
}

size_t CudaEngine::device_bytes() const {
  return scales_.bytes() + matrices_.bytes() + scalars_.bytes() + counts_.bytes() + adapt_.bytes() +
         scratch_.bytes() + curvature_scratch_.bytes() + step_sums_.bytes() + accepted_.bytes() +
         stage_theta_.bytes() + stage_scalars_.bytes() + stage_counts_.bytes() +
         (network_ ? network_->bytes() : 0);
}

// ---- launches and copies ------------------------------------------------------------------

// Runs functor(k) for k in [0, C) on the engine's stream. par_nosync lets
// consecutive phases queue on the stream without a host wait between them,
// which plain par would add after each for_each.
template <class Functor>
void CudaEngine::for_each_chain(const Functor& functor, const char* phase) {
  try {
    thrust::for_each(thrust::cuda::par_nosync.on(stream_.get()), thrust::counting_iterator<int>(0),
                     thrust::counting_iterator<int>(chains_), functor);
  } catch (const thrust::system_error& e) {
    throw make_error("CUDA back end", std::string(phase) + " failed to launch: " + e.what(),
                     "Check the device with nvidia-smi, or use --backend cpu");
  }
  // Launch errors only; a fault inside the kernel surfaces at the next
  // synchronising call, which is checked too.
  FMALA_CUDA_CHECK(cudaGetLastError());
}

ParallelStep<DeviceNetworkOps, CudaEngine> CudaEngine::parallel() {
  return ParallelStep<DeviceNetworkOps, CudaEngine>(*ops_, *this, b_,
                                                    StepScratch{step_sums_.data(), accepted_.data()}, options_);
}

template <class T>
void CudaEngine::copy_to_host(const T* device, size_t n, T* host) {
  if (n == 0) {
    return;
  }
  FMALA_CUDA_CHECK(
      cudaMemcpyAsync(host, device, n * sizeof(T), cudaMemcpyDeviceToHost, stream_.get()));
  FMALA_CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
}

template <class T>
void CudaEngine::copy_to_device(const T* host, size_t n, T* device) {
  if (n == 0) {
    return;
  }
  FMALA_CUDA_CHECK(
      cudaMemcpyAsync(device, host, n * sizeof(T), cudaMemcpyHostToDevice, stream_.get()));
  FMALA_CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
}

void CudaEngine::jet(const Real* theta, const Real* direction, int order, Real* f, Real* d,
                     Real* h) {
  if (network_) {
    network_->jet(theta, direction, order, f, d, h);
    return;
  }
  visit_target(target_, [&](const auto& target) {
    using Target = std::decay_t<decltype(target)>;
    for_each_chain(JetChain<Target>{target, dim_, theta, direction, order, f, d, h}, "jet");
  });
}

void CudaEngine::gradient(const Real* theta, Real* f, Real* g) {
  if (network_) {
    network_->gradient(theta, f, g);
    return;
  }
  visit_target(target_, [&](const auto& target) {
    using Target = std::decay_t<decltype(target)>;
    for_each_chain(GradientChain<Target>{target, dim_, theta, f, g, scratch_.data()}, "gradient");
  });
}

// Both use the engine's own state buffers (θ, u, f, d, h; θ, ∇f), which the
// memory plan counts. The evaluation engines are made for a PC sampler and
// for MALA, whose buffers include these.
void CudaEngine::evaluate_jet_from_host(const Real* theta, const Real* direction, int order,
                                        Real* f, Real* d, Real* h) {
  const size_t c = static_cast<size_t>(chains_);
  const size_t cd = c * dim_;
  copy_to_device(theta, cd, b_.theta);
  if (order >= 1) {
    copy_to_device(direction, cd, b_.tangent);
  }
  jet(b_.theta, order >= 1 ? b_.tangent : nullptr, order, b_.f, b_.d, b_.h);
  copy_to_host(b_.f, c, f);
  if (order >= 1) {
    copy_to_host(b_.d, c, d);
  }
  if (order >= 2) {
    copy_to_host(b_.h, c, h);
  }
}

void CudaEngine::evaluate_gradient_from_host(const Real* theta, Real* f, Real* g) {
  const size_t c = static_cast<size_t>(chains_);
  const size_t cd = c * dim_;
  copy_to_device(theta, cd, b_.theta);
  gradient(b_.theta, b_.f, b_.grad);
  copy_to_host(b_.f, c, f);
  copy_to_host(b_.grad, cd, g);
}

// ---- Engine interface ---------------------------------------------------------------------

void CudaEngine::initialize(const std::vector<Real>& theta0) {
  const size_t cd = static_cast<size_t>(chains_) * dim_;
  if (device_.initial_state) {
    FMALA_CUDA_CHECK(cudaMemcpyAsync(b_.theta, device_.initial_state, cd * sizeof(Real),
                                     cudaMemcpyDeviceToDevice, stream_.get()));
  } else {
    if (theta0.size() != cd) {
      throw make_error("CUDA back end", "initial states hold " + std::to_string(theta0.size()) +
                                            " values, expected " + std::to_string(chains_) +
                                            " chains × " + std::to_string(dim_) + " parameters");
    }
    FMALA_CUDA_CHECK(cudaMemcpyAsync(b_.theta, theta0.data(), cd * sizeof(Real),
                                     cudaMemcpyHostToDevice, stream_.get()));
  }
  // Cache what the sampler needs at the current state.
  if (options_.kind == SamplerKind::mala) {
    gradient(b_.theta, b_.f, b_.grad);
  } else if (is_forward(options_.kind) && options_.persistent) {
    StepContext init;
    init.options = options_;
    init.seed = seed_;
    init.step = -1;
    init.first_chain = first_chain_;
    parallel().unit_tangents(init, Draw::tangent, 0, b_.tangent);
    jet(b_.theta, b_.tangent, jet_order(options_.kind), b_.f, b_.d, b_.h);
    parallel().average_curvature(init, false);
  } else {
    jet(b_.theta, nullptr, 0, b_.f, nullptr, nullptr);
  }
  std::vector<Real> f(static_cast<size_t>(chains_));
  copy_to_host(b_.f, f.size(), f.data());
  for (int k = 0; k < chains_; ++k) {
    if (!std::isfinite(f[k])) {
      throw make_error("initial state",
                       "the log-density of chain " + std::to_string(k) + " is not finite (" +
                           std::to_string(f[k]) + ")",
                       "Start from a point where the density is positive");
    }
  }
}

void CudaEngine::set_step_size(Real eta) {
  thrust::fill(thrust::cuda::par_nosync.on(stream_.get()), b_.step_size, b_.step_size + chains_,
               eta);
  FMALA_CUDA_CHECK(cudaGetLastError());
}

void CudaEngine::start_chain_adaptation(Real eta0) {
  const std::vector<DualAveraging> start(static_cast<size_t>(chains_), DualAveraging::start(eta0));
  adapt_ = DeviceArray<DualAveraging>(start.size(), stream_.get());
  FMALA_CUDA_CHECK(cudaMemcpyAsync(adapt_.data(), start.data(), adapt_.bytes(),
                                   cudaMemcpyHostToDevice, stream_.get()));
  // The host vector dies at return, so the copy must finish first.
  FMALA_CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
  b_.adapt = adapt_.data();
}

void CudaEngine::finish_chain_adaptation() { for_each_chain(FinishAdaptation{b_}, "adaptation"); }

void CudaEngine::step(const StepContext& ctx, bool adapting) { parallel().step(ctx, adapting); }

// The one device-to-host transfer inside a warmup step with a shared step
// size: the chains' min(1, α), added on the host in chain order as the CPU
// engine adds them, so that the shared step size depends on the same sum.
Real CudaEngine::mean_accept_prob() {
  host_accept_prob_.resize(static_cast<size_t>(chains_));
  copy_to_host(b_.accept_prob, host_accept_prob_.size(), host_accept_prob_.data());
  double sum = 0.0;
  for (const Real p : host_accept_prob_) {
    sum += p;
  }
  return static_cast<Real>(sum / chains_);
}

void CudaEngine::synchronize() { FMALA_CUDA_CHECK(cudaStreamSynchronize(stream_.get())); }

// NOTE: the driver's side of these deferred copies is tested on the CPU
// (tests/test_draw_record.cpp); the copies themselves have not yet run on a GPU.
void CudaEngine::record(Draws& out, int index, DrawDone done) {
  // The staging has room for one draw, so the previous one must have left it.
  finish_records();
  if (!records_draws_) {
    throw make_error("CUDA back end", "record() was called on an engine made without records_draws",
                     "Construct the engine with records_draws = true");
  }
  const cudaStream_t stream = stream_.get();
  // Orders the reuse of the staging on the device too, even where the host
  // lost track of a copy (a failed call in the middle of an earlier record).
  // Before the first record the event has no work and the wait is empty.
  FMALA_CUDA_CHECK(cudaStreamWaitEvent(stream, copied_->get(), 0));
  const size_t c = static_cast<size_t>(chains_);
  const size_t cd = c * dim_;
  if (device_.draws) {
    // Draw `index` of chain k goes to (k · S + index) · D in the caller's
    // buffer, scattered by a kernel. A strided copy would need a pitch of
    // S · D · 8 bytes, more than cudaMemcpy2D accepts (2^31 - 1) for long
    // runs of large models.
    try {
      thrust::for_each(thrust::cuda::par_nosync.on(stream), thrust::counting_iterator<size_t>(0),
                       thrust::counting_iterator<size_t>(cd),
                       ScatterDraw{b_.theta, b_.f, dim_, kept_draws_, index, device_.draws,
                                   device_.log_density});
    } catch (const thrust::system_error& e) {
      throw make_error("CUDA back end", std::string("recording a draw failed to launch: ") + e.what(),
                       "Check the device with nvidia-smi");
    }
    FMALA_CUDA_CHECK(cudaGetLastError());
  } else if (stage_theta_on_device_) {
    FMALA_CUDA_CHECK(cudaMemcpyAsync(stage_theta_.data(), b_.theta, cd * sizeof(Real),
                                     cudaMemcpyDeviceToDevice, stream));
  } else {
    // No room to stage θ: it goes to the host before the next transitions
    // on the engine's stream, and copied_ follows this copy through
    // snapshot_taken_.
    FMALA_CUDA_CHECK(cudaMemcpyAsync(host_theta_.data(), b_.theta, cd * sizeof(Real),
                                     cudaMemcpyDeviceToHost, stream));
  }
  // The snapshot on the device, in the order of kDrawStagingScalars; the
  // next transitions queue behind these copies on the same stream.
  const Real* scalars[kDrawStagingScalars] = {b_.f, b_.accept_prob_sum, b_.step_size, b_.accept_prob};
  for (int i = 0; i < kDrawStagingScalars; ++i) {
    FMALA_CUDA_CHECK(cudaMemcpyAsync(stage_scalars_.data() + i * c, scalars[i], c * sizeof(Real),
                                     cudaMemcpyDeviceToDevice, stream));
  }
  FMALA_CUDA_CHECK(cudaMemcpyAsync(stage_counts_.data(), counts_.data(), stage_counts_.bytes(),
                                   cudaMemcpyDeviceToDevice, stream));
  FMALA_CUDA_CHECK(cudaEventRecord(snapshot_taken_->get(), stream));
  // The copy to the host runs on its own stream, beside the next transitions.
  const cudaStream_t copy = copy_stream_->get();
  FMALA_CUDA_CHECK(cudaStreamWaitEvent(copy, snapshot_taken_->get(), 0));
  if (stage_theta_on_device_) {
    FMALA_CUDA_CHECK(cudaMemcpyAsync(host_theta_.data(), stage_theta_.data(), stage_theta_.bytes(),
                                     cudaMemcpyDeviceToHost, copy));
  }
  FMALA_CUDA_CHECK(cudaMemcpyAsync(host_scalars_.data(), stage_scalars_.data(), stage_scalars_.bytes(),
                                   cudaMemcpyDeviceToHost, copy));
  FMALA_CUDA_CHECK(cudaMemcpyAsync(host_counts_.data(), stage_counts_.data(), stage_counts_.bytes(),
                                   cudaMemcpyDeviceToHost, copy));
  FMALA_CUDA_CHECK(cudaEventRecord(copied_->get(), copy));
  in_flight_.start(out, index, std::move(done));
}

void CudaEngine::finish_records() {
  if (!in_flight_.active()) {
    return;
  }
  const cudaError_t status = cudaEventSynchronize(copied_->get());
  if (status != cudaSuccess) {
    in_flight_.cancel();
    throw cuda_error(status, "cudaEventSynchronize(copied_->get())", __FILE__, __LINE__);
  }
  const size_t c = static_cast<size_t>(chains_);
  const Real* scalars = host_scalars_.data();
  in_flight_.complete(chains_, dim_, device_.draws ? nullptr : host_theta_.data(), scalars,
                      counters_from(chains_, host_counts_.data(), scalars + c, scalars + 2 * c, scalars + 3 * c));
}

void CudaEngine::cancel_records() noexcept {
  // A copy may still write into the host staging, even one that an earlier
  // failed record() queued without marking it in flight: let it finish.
  // Errors are ignored, because the run is already leaving with its own.
  if (copy_stream_) {
    cudaStreamSynchronize(copy_stream_->get());
  }
  in_flight_.cancel();
}

EngineCounters CudaEngine::counters() {
  EngineCounters c;
  const size_t n = static_cast<size_t>(chains_);
  c.accepted.resize(n);
  c.nonfinite.resize(n);
  c.floor_hits.resize(n);
  c.accept_prob_sum.resize(n);
  c.step_size.resize(n);
  c.last_accept_prob.resize(n);
  copy_to_host(b_.n_accepted, n, c.accepted.data());
  copy_to_host(b_.n_nonfinite, n, c.nonfinite.data());
  copy_to_host(b_.n_floor, n, c.floor_hits.data());
  copy_to_host(b_.accept_prob_sum, n, c.accept_prob_sum.data());
  copy_to_host(b_.step_size, n, c.step_size.data());
  copy_to_host(b_.accept_prob, n, c.last_accept_prob.data());
  return c;
}

EngineState CudaEngine::save_state() {
  EngineState s;
  const size_t c = static_cast<size_t>(chains_);
  const size_t cd = c * dim_;
  s.theta.resize(cd);
  copy_to_host(b_.theta, cd, s.theta.data());
  if (options_.kind == SamplerKind::mala) {
    s.grad.resize(cd);
    copy_to_host(b_.grad, cd, s.grad.data());
  }
  if (options_.persistent) {
    s.tangent.resize(cd);
    copy_to_host(b_.tangent, cd, s.tangent.data());
  }
  s.log_density.resize(c);
  copy_to_host(b_.f, c, s.log_density.data());
  s.scalars.resize(scalars_.size());
  copy_to_host(scalars_.data(), scalars_.size(), s.scalars.data());
  s.counts.resize(counts_.size());
  copy_to_host(counts_.data(), counts_.size(), s.counts.data());
  s.adapt.resize(adapt_.size());
  copy_to_host(adapt_.data(), adapt_.size(), s.adapt.data());
  return s;
}

void CudaEngine::restore_state(const EngineState& s) {
  check_state_shape(s, options_, chains_, dim_);
  copy_to_device(s.theta.data(), s.theta.size(), b_.theta);
  copy_to_device(s.grad.data(), s.grad.size(), b_.grad);
  copy_to_device(s.tangent.data(), s.tangent.size(), b_.tangent);
  copy_to_device(s.scalars.data(), s.scalars.size(), scalars_.data());
  copy_to_device(s.counts.data(), s.counts.size(), counts_.data());
  if (s.adapt.empty()) {
    adapt_ = DeviceArray<DualAveraging>();
    b_.adapt = nullptr;
  } else {
    adapt_ = DeviceArray<DualAveraging>(s.adapt.size(), stream_.get());
    copy_to_device(s.adapt.data(), s.adapt.size(), adapt_.data());
    b_.adapt = adapt_.data();
  }
}

}  // namespace fmala::cuda_detail

namespace fmala::cuda {

namespace {

std::unique_ptr<cuda_detail::CudaEngine> evaluation_engine(const Model& model, int chains,
                                                           SamplerKind kind) {
  std::string reason;
  if (!device_available(&reason)) {
    throw make_error("--backend cuda", reason, "Use --backend cpu");
  }
  SamplerOptions options;
  options.kind = kind;
  return std::make_unique<cuda_detail::CudaEngine>(model, options, chains, 0);
}

}  // namespace

void evaluate_jet(const Model& model, int chains, const Real* theta, const Real* direction,
                  int order, Real* f, Real* d, Real* h) {
  if (order < 0 || order > 2) {
    throw make_error("cuda::evaluate_jet", "order must be 0, 1 or 2, got " + std::to_string(order));
  }
  evaluation_engine(model, chains, SamplerKind::pc_fmala)->evaluate_jet_from_host(theta, direction, order, f, d, h);
}

void evaluate_gradient(const Model& model, int chains, const Real* theta, Real* f, Real* g) {
  evaluation_engine(model, chains, SamplerKind::mala)->evaluate_gradient_from_host(theta, f, g);
}

namespace {

// Throws fmala::Error naming `name` unless p is device or managed memory.
void require_device_pointer(const void* p, const char* name) {
  cudaPointerAttributes attributes{};
  const cudaError_t status = cudaPointerGetAttributes(&attributes, p);
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
  }
  int current = 0;
  FMALA_CUDA_CHECK(cudaGetDevice(&current));
  if (status != cudaSuccess ||
      (attributes.type != cudaMemoryTypeDevice && attributes.type != cudaMemoryTypeManaged) ||
      (attributes.type == cudaMemoryTypeDevice && attributes.device != current)) {
    throw make_error(std::string("sample_on_device: ") + name,
                     "is not device memory of the current device (" + std::to_string(current) + ")",
                     "Allocate it with cudaMalloc (or cudaMallocManaged) on the device the run uses");
  }
}

}  // namespace

void check_model(const Model& model) { (void)cuda_detail::supported_dim(model); }

SamplerRun sample_on_device(const Model& model, const RunSettings& settings,
                            const DeviceBuffers& buffers, const ProgressFn& progress,
                            const RunControl& control) {
  std::string reason;
  if (!device_available(&reason)) {
    throw make_error("sample_on_device", reason, "Run it on a machine with a CUDA device");
  }
  validate(settings, model.dim());
  if (settings.stream.enabled) {
    throw make_error("sample_on_device", "streaming keeps running statistics on the host",
                     "Turn streaming off; the draws go to the device buffer");
  }
  if (control.resume != nullptr || control.save || control.checkpoint_every != 0) {
    throw make_error("sample_on_device", "checkpoints hold the draws on the host, and this run keeps them on the device",
                     "Run without checkpoints (no resume, save or checkpoint_every in the RunControl)");
  }
  if (buffers.draws == nullptr) {
    throw make_error("sample_on_device: draws", "is null",
                     "Give a device buffer of chains × draws × dim values");
  }
  require_device_pointer(buffers.draws, "draws");
  if (buffers.log_density) {
    require_device_pointer(buffers.log_density, "log_density");
  }
  if (buffers.initial_state) {
    require_device_pointer(buffers.initial_state, "initial_state");
  }
  std::vector<Real> theta0;
  if (!buffers.initial_state) {
    theta0 = initial_states(model, settings);
  }
  if (buffers.stream == nullptr) {
    // The run's own stream is not ordered after the caller's earlier work
    // (for example a kernel that fills initial_state): wait for it.
    FMALA_CUDA_CHECK(cudaDeviceSynchronize());
  }
  cuda_detail::CudaEngine engine(model, settings.options, settings.chains, settings.seed,
                                 static_cast<uint64_t>(settings.first_chain), &buffers, settings.draws,
                                 /*records_draws=*/true);
  SamplerRun run = drive(engine, model, settings, theta0, progress, control);
  engine.synchronize();
  run.peak_memory_bytes = engine.device_bytes();
  run.device_tile = engine.network_tile();
  return run;
}

DeviceValues allocate_device_values(size_t size) {
  std::string reason;
  if (!device_available(&reason)) {
    throw make_error("draws on the device", reason, "Run on a machine with a CUDA device, or keep the draws on the host");
  }
  DeviceValues out;
  FMALA_CUDA_CHECK(cudaGetDevice(&out.device));
  void* p = nullptr;
  const cudaError_t status = cudaMalloc(&p, std::max<size_t>(size, 1) * sizeof(Real));
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
    size_t free_bytes = 0;
    size_t total_bytes = 0;
    (void)cudaMemGetInfo(&free_bytes, &total_bytes);
    (void)cudaGetLastError();
    throw make_error("draws on the device",
                     "the draws need " + std::to_string(size * sizeof(Real) >> 20) + " MiB of device " +
                         std::to_string(out.device) + ", which has " + std::to_string(free_bytes >> 20) +
                         " MiB free (" + cudaGetErrorName(status) + ")",
                     "Keep fewer draws or chains, or keep the draws on the host");
  }
  // cudaFree waits for work that uses the memory; errors at release are
  // ignored, as a destructor cannot report them.
  out.data = std::shared_ptr<Real>(static_cast<Real*>(p), [](Real* q) { (void)cudaFree(q); });
  out.size = size;
  return out;
}

void copy_to_host(const Real* device, size_t size, Real* host) {
  FMALA_CUDA_CHECK(cudaMemcpy(host, device, size * sizeof(Real), cudaMemcpyDeviceToHost));
}

SamplerRun run_sampler(const Model& model, const RunSettings& settings,
                       const std::vector<Real>& theta0, const ProgressFn& progress,
                       const RunControl& control) {
  cuda_detail::CudaEngine engine(model, settings.options, settings.chains, settings.seed,
                                 settings.first_chain, nullptr, 0, /*records_draws=*/true);
  SamplerRun run = drive(engine, model, settings, theta0, progress, control);
  run.peak_memory_bytes = engine.device_bytes();
  run.device_tile = engine.network_tile();
  return run;
}

}  // namespace fmala::cuda
