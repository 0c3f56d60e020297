#pragma once
// The processes of an MPI job (`mpirun -np R fmala sample …`) and this
// process's slice of the chains. Chain k's random numbers and initial state
// depend on (seed, k) only, so a process that runs chains first … first +
// count − 1 draws exactly what those chains draw in a run of one process.
// The processes communicate twice: the shared step-size adaptation needs the
// mean acceptance over all chains after every warmup transition, and rank 0
// gathers every process's draws after each sampler, for the diagnostics and
// the outputs. Without MPI, or when no MPI launcher started the program,
// there is one process and it runs every chain.

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "fmala/run.hpp"

namespace fmala::cli {

struct ChainSlice {
  int64_t first = 0;
  int count = 0;
};

class Shard {
 public:
  // One process running every chain.
  Shard() = default;
  // Joins the MPI job when an MPI launcher started this process; throws
  // fmala::Error when it did but this fmala was built without MPI.
  Shard(int* argc, char*** argv);
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  // The processes on this host, and this one's index among them.
  int local_rank() const { return local_rank_; }
  int local_size() const { return local_size_; }
  bool several() const { return size_ > 1; }

  // Returns process `rank`'s contiguous slice of `chains` chains. The slices
  // of ranks 0 … size − 1 follow one another and differ in size by at most one.
  ChainSlice slice(int chains, int rank) const;
  ChainSlice slice(int chains) const { return slice(chains, rank_); }

  // `local` has one value per chain of this process's slice of `chains`;
  // returns the mean over all chains of every process, summed in double in
  // global chain order (the order of a run of one process).
  Real mean_over_chains(const std::vector<Real>& local, int chains) const;
  // The largest of every process's `local`.
  int64_t max(int64_t local) const;
  // The largest of every process's `local` at its previous call, 0 at the
  // first: a reduction that runs while the processes compute, so that a
  // process ahead by one call does not wait. Every process must call it
  // equally often.
  int64_t max_of_previous(int64_t local) const;
  // The smallest of every process's `local`.
  int64_t min(int64_t local) const;
  void barrier() const;

  // Rank 0 receives every process's run of its slice and returns the run of
  // all chains (joined in rank order); the other processes send theirs and
  // get nothing back.
  std::optional<SamplerRun> gather(SamplerRun local) const;

  // Ends every process of the job with this exit status.
  [[noreturn]] void abort(int status) const;

 private:
  int rank_ = 0;
  int size_ = 1;
  int local_rank_ = 0;
  int local_size_ = 1;
  bool mpi_ = false;
  // The reduction of max_of_previous in flight.
  struct Pending;
  std::unique_ptr<Pending> pending_;
  void settle() const;
};

// The program's processes; set by main for the lifetime of the program.
const Shard& current_shard();
void set_current_shard(const Shard* shard);

}  // namespace fmala::cli
