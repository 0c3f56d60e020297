#include "cli/shard.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>

#include "fmala/core/error.hpp"

#ifdef FMALA_WITH_MPI
#include <mpi.h>
#endif

namespace fmala::cli {
namespace {

const Shard* g_shard = nullptr;

// The number of processes an MPI launcher started, from its environment
// (Open MPI, then PMI as MPICH and Slurm set it); 0 when none did.
int launched_processes() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"}) {
    if (const char* value = std::getenv(name)) {
      return std::atoi(value);
    }
  }
  return 0;
}

// A run of one slice of chains as bytes, for sending it to rank 0. Both ends
// are the same program on the same kind of host, so values keep their
// in-memory form.
class Packer {
 public:
  template <class T>
  void value(const T& x) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto* p = reinterpret_cast<const char*>(&x);
    bytes_.insert(bytes_.end(), p, p + sizeof(T));
  }
  template <class T>
  void values(const std::vector<T>& v) {
    value(static_cast<uint64_t>(v.size()));
    const auto* p = reinterpret_cast<const char*>(v.data());
    bytes_.insert(bytes_.end(), p, p + v.size() * sizeof(T));
  }
  std::vector<char> take() { return std::move(bytes_); }

 private:
  std::vector<char> bytes_;
};

class Unpacker {
 public:
  explicit Unpacker(const std::vector<char>& bytes) : bytes_(bytes) {}
  template <class T>
  void value(T& x) {
    take(&x, sizeof(T));
  }
  template <class T>
  void values(std::vector<T>& v) {
    uint64_t n = 0;
    value(n);
    if (n > (bytes_.size() - at_) / sizeof(T)) {
      fail();
    }
    v.resize(n);
    take(v.data(), n * sizeof(T));
  }
  void finish() const {
    if (at_ != bytes_.size()) {
      fail();
    }
  }

 private:
  void take(void* to, size_t n) {
    if (n > bytes_.size() - at_) {
      fail();
    }
    if (n == 0) {
      return;  // an empty vector's data() may be null, which memcpy does not take
    }
    std::memcpy(to, bytes_.data() + at_, n);
    at_ += n;
  }
  [[noreturn]] static void fail() {
    throw Error("a process sent a run that does not unpack; all processes must run the same fmala");
  }
  const std::vector<char>& bytes_;
  size_t at_ = 0;
};

template <class Io, class DrawsT>
void visit_draws(Io& io, DrawsT& d) {
  io.value(d.chains);
  io.value(d.draws);
  io.value(d.dim);
  io.values(d.values);
  io.values(d.log_density);
  io.values(d.accept_prob);
  io.values(d.step_size);
  io.values(d.accepted);
  io.values(d.nonfinite);
  io.values(d.floor_hits);
}

// Every field that combine_chain_batches and the outputs read, in one order
// for packing and unpacking.
template <class Io, class Run>
void visit_run(Io& io, Run& r) {
  io.value(r.settings.first_chain);
  io.value(r.settings.chains);
  visit_draws(io, r.draws);
  io.values(r.stream.monitored);
  io.value(r.stream.keep_last);
  io.value(r.stream.count);
  io.value(r.stream.chains);
  io.value(r.stream.dim);
  io.values(r.stream.mean);
  io.values(r.stream.m2);
  visit_draws(io, r.stream.last);
  io.values(r.step_size);
  io.value(r.target_accept);
  io.value(r.acceptance_rate);
  io.value(r.accept_prob);
  io.value(r.nonfinite_rejections);
  io.value(r.curvature_floor_hits);
  io.value(r.step_size_at_floor);
  io.value(r.seconds_warmup);
  io.value(r.seconds_sampling);
  io.value(r.evaluations);
  io.value(r.peak_memory_bytes);
  io.value(r.device_tile);
}

}  // namespace

const Shard& current_shard() {
  static const Shard one_process;
  return g_shard ? *g_shard : one_process;
}

void set_current_shard(const Shard* shard) { g_shard = shard; }

ChainSlice Shard::slice(int chains, int rank) const {
  const int64_t base = chains / size_;
  const int64_t extra = chains % size_;
  ChainSlice s;
  s.first = rank * base + std::min<int64_t>(rank, extra);
  s.count = static_cast<int>(base + (rank < extra ? 1 : 0));
  return s;
}

#ifdef FMALA_WITH_MPI

struct Shard::Pending {
  MPI_Request request = MPI_REQUEST_NULL;
  int64_t send = 0;
  int64_t receive = 0;
};

static_assert(std::is_same_v<Real, double>, "the reductions send Real as MPI_DOUBLE");

Shard::Shard(int* argc, char*** argv) {
  if (launched_processes() < 2) {
    return;
  }
  int provided = 0;
  MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  mpi_ = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local);
  MPI_Comm_rank(local, &local_rank_);
  MPI_Comm_size(local, &local_size_);
  MPI_Comm_free(&local);
  pending_ = std::make_unique<Pending>();
}

Shard::~Shard() {
  if (mpi_) {
    settle();
    MPI_Finalize();
  }
}

void Shard::settle() const {
  if (pending_ && pending_->request != MPI_REQUEST_NULL) {
    MPI_Wait(&pending_->request, MPI_STATUS_IGNORE);
  }
}

int64_t Shard::max_of_previous(int64_t local) const {
  if (!mpi_) {
    return local;
  }
  int64_t previous = 0;
  if (pending_->request != MPI_REQUEST_NULL) {
    MPI_Wait(&pending_->request, MPI_STATUS_IGNORE);
    previous = pending_->receive;
  }
  pending_->send = local;
  MPI_Iallreduce(&pending_->send, &pending_->receive, 1, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD,
                 &pending_->request);
  return previous;
}

Real Shard::mean_over_chains(const std::vector<Real>& local, int chains) const {
  std::vector<Real> all(static_cast<size_t>(chains));
  std::vector<int> counts(static_cast<size_t>(size_));
  std::vector<int> offsets(static_cast<size_t>(size_));
  for (int r = 0; r < size_; ++r) {
    const ChainSlice s = slice(chains, r);
    counts[static_cast<size_t>(r)] = s.count;
    offsets[static_cast<size_t>(r)] = static_cast<int>(s.first);
  }
  MPI_Allgatherv(local.data(), static_cast<int>(local.size()), MPI_DOUBLE, all.data(), counts.data(),
                 offsets.data(), MPI_DOUBLE, MPI_COMM_WORLD);
  double sum = 0.0;
  for (Real x : all) {
    sum += x;
  }
  return static_cast<Real>(sum / chains);
}

int64_t Shard::max(int64_t local) const {
  int64_t out = local;
  if (mpi_) {
    MPI_Allreduce(&local, &out, 1, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD);
  }
  return out;
}

int64_t Shard::min(int64_t local) const {
  int64_t out = local;
  if (mpi_) {
    MPI_Allreduce(&local, &out, 1, MPI_INT64_T, MPI_MIN, MPI_COMM_WORLD);
  }
  return out;
}

void Shard::barrier() const {
  if (mpi_) {
    MPI_Barrier(MPI_COMM_WORLD);
  }
}

std::optional<SamplerRun> Shard::gather(SamplerRun local) const {
  if (!mpi_) {
    return local;
  }
  // Messages of at most 1 GiB: MPI counts are ints.
  constexpr uint64_t kPiece = uint64_t(1) << 30;
  if (rank_ != 0) {
    Packer packer;
    visit_run(packer, local);
    const std::vector<char> bytes = packer.take();
    const uint64_t n = bytes.size();
    MPI_Send(&n, 1, MPI_UINT64_T, 0, 0, MPI_COMM_WORLD);
    for (uint64_t at = 0; at < n; at += kPiece) {
      MPI_Send(bytes.data() + at, static_cast<int>(std::min(kPiece, n - at)), MPI_BYTE, 0, 1, MPI_COMM_WORLD);
    }
    return std::nullopt;
  }
  std::vector<SamplerRun> runs;
  runs.reserve(static_cast<size_t>(size_));
  const RunSettings settings = local.settings;
  runs.push_back(std::move(local));
  for (int r = 1; r < size_; ++r) {
    uint64_t n = 0;
    MPI_Recv(&n, 1, MPI_UINT64_T, r, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    std::vector<char> bytes(n);
    for (uint64_t at = 0; at < n; at += kPiece) {
      MPI_Recv(bytes.data() + at, static_cast<int>(std::min(kPiece, n - at)), MPI_BYTE, r, 1, MPI_COMM_WORLD,
               MPI_STATUS_IGNORE);
    }
    SamplerRun run;
    run.settings = settings;
    Unpacker unpacker(bytes);
    visit_run(unpacker, run);
    unpacker.finish();
    runs.push_back(std::move(run));
  }
  double warmup = 0;
  double sampling = 0;
  for (const SamplerRun& run : runs) {
    warmup = std::max(warmup, run.seconds_warmup);
    sampling = std::max(sampling, run.seconds_sampling);
  }
  SamplerRun all = combine_chain_batches(std::move(runs));
  // The processes ran at the same time: the job took as long as the slowest.
  all.seconds_warmup = warmup;
  all.seconds_sampling = sampling;
  return all;
}

void Shard::abort(int status) const {
  if (mpi_) {
    MPI_Abort(MPI_COMM_WORLD, status);
  }
  std::exit(status);
}

#else  // without MPI: one process

struct Shard::Pending {};

Shard::Shard(int*, char***) {
  const int launched = launched_processes();
  if (launched > 1) {
    throw Error("an MPI launcher started " + std::to_string(launched) +
                " processes, but this fmala was built without MPI, so each would run every chain. Install "
                "Open MPI (Debian: libopenmpi-dev) and build fmala again, or run one process");
  }
}

Shard::~Shard() = default;

Real Shard::mean_over_chains(const std::vector<Real>& local, int chains) const {
  double sum = 0.0;
  for (Real x : local) {
    sum += x;
  }
  return static_cast<Real>(sum / chains);
}

int64_t Shard::max(int64_t local) const { return local; }
int64_t Shard::max_of_previous(int64_t local) const { return local; }
void Shard::settle() const {}
int64_t Shard::min(int64_t local) const { return local; }
void Shard::barrier() const {}
std::optional<SamplerRun> Shard::gather(SamplerRun local) const { return local; }
void Shard::abort(int status) const { std::exit(status); }

#endif

}  // namespace fmala::cli
