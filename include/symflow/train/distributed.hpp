// symflow/train/distributed.hpp - synchronous data-parallel training: the communicator the
// trainer talks to, and how a global batch is split over ranks (docs/distributed.md).
//
// Trainer<Task> (train/trainer.hpp) takes a Communicator through TrainOptions::comm; without
// one it runs alone, exactly as before. With N ranks, every step:
//   shard      rank r takes sounds [shardOf(B, r, N)) of the step's global batch of B sounds;
//              the data stream is defined in global sounds (sound g of step s is the same
//              sound whatever N), so a run can be resumed with a different number of ranks.
//   draws      the per-sound random draws of the flow step (dropout mask, x0, t) are made for
//              the whole global batch from the step's Rng and sliced (FlowTrainOptions::
//              globalBatch / sliceBegin): sound g gets the same draws whatever N.
//   local      the minibatch OT coupling and BatchNorm statistics work on the rank's shard
//              (as PyTorch DDP without SyncBatchNorm); BatchNorm running statistics are rank 0's.
//   reduce     gradients are scaled by (shard size / B) and summed over ranks with one
//              allreduce over the flat gradient buffer (so they are the global-batch mean), with
//              the three loss terms and the stop flags (Ctrl-C, time budget) in a second,
//              8-double allreduce; then every rank clips and steps Adam on the same numbers, so
//              the weights stay identical without being sent again.
//   output     only rank 0 prints progress, writes logs and checkpoints; every rank reads the
//              checkpoint at --resume (the output folder is on a file system all ranks see).
// Ranks hold identical weights at every step: at the start rank 0's weights and buffers are
// broadcast to all, so even a non-deterministic initialization cannot make them differ.
//
// Communicators: SingleProcess (N = 1, every call a no-op), InProcessGroup (N threads of one
// process sharing memory: the trainer's data-parallel logic tested without MPI,
// tests/test_train_distributed.cpp), and MpiCommunicator (train/mpi_communicator.hpp, the
// only file that includes <mpi.h>; the symflow program uses it when built with SYMFLOW_MPI and
// started by mpirun).
#pragma once
#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "symflow/core/types.hpp"

namespace symflow::train {

/// The ranks of a data-parallel job. Collective calls must be made by every rank in the same
/// order with the same sizes.
class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// data[i] = sum over ranks of data[i], in place, on every rank.
  virtual void allreduceSum(float* data, std::size_t n) = 0;
  virtual void allreduceSum(double* data, std::size_t n) = 0;
  /// data = root's data, on every rank.
  virtual void broadcast(float* data, std::size_t n, int root) = 0;
  /// "MPI, 2 ranks" (shown when training starts).
  virtual std::string describe() const = 0;
};

/// One process alone: rank 0 of 1.
class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void allreduceSum(float*, std::size_t) override {}
  void allreduceSum(double*, std::size_t) override {}
  void broadcast(float*, std::size_t, int) override {}
  std::string describe() const override { return "1 process"; }
};

/// True when an MPI launcher (mpirun, mpiexec, srun) started this process: its environment.
inline bool startedByMpiLauncher() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(v)) return true;
  return false;
}
/// The number of ranks the launcher started (1 when none): read from its environment, so that
/// a program without MPI support can refuse a launch of several copies.
inline int launcherWorldSize() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
    if (const char* s = std::getenv(v)) return std::max(1, std::atoi(s));
  return 1;
}

/// Sounds [first, second) of a global batch of B sounds taken by `rank` of `size` ranks:
/// [B rank / size, B (rank + 1) / size), shards differing by at most one sound.
inline std::pair<Index, Index> shardOf(Index B, int rank, int size) {
  require(size >= 1 && rank >= 0 && rank < size, "shardOf: rank " + std::to_string(rank) + " of " +
                                                      std::to_string(size) + " ranks");
  return {B * rank / size, B * (rank + 1) / size};
}

/// N ranks as N threads of one process (a test double for MPI with the same semantics):
/// InProcessGroup g(2); thread r uses g.member(r). Every collective is a barrier.
class InProcessGroup {
 public:
  explicit InProcessGroup(int size) : size_(size), slots_(std::size_t(size)) {
    require(size >= 1, "InProcessGroup: size must be >= 1");
    for (int r = 0; r < size; ++r) members_.push_back(std::make_unique<Member>(*this, r));
  }
  Communicator& member(int rank) { return *members_.at(std::size_t(rank)); }

 private:
  class Member final : public Communicator {
   public:
    Member(InProcessGroup& g, int r) : g_(g), r_(r) {}
    int rank() const override { return r_; }
    int size() const override { return g_.size_; }
    void allreduceSum(float* d, std::size_t n) override { g_.allreduce(r_, d, n); }
    void allreduceSum(double* d, std::size_t n) override { g_.allreduce(r_, d, n); }
    void broadcast(float* d, std::size_t n, int root) override { g_.broadcast(r_, d, n, root); }
    std::string describe() const override { return "in-process group, " + std::to_string(g_.size_) + " ranks"; }

   private:
    InProcessGroup& g_;
    int r_;
  };

  /// Every rank publishes its pointer, waits for all, reads, then waits again so that no rank
  /// changes its buffer before every other has read it.
  void barrier() {
    std::unique_lock<std::mutex> lock(m_);
    const long gen = generation_;
    if (++arrived_ == size_) {
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
    } else {
      cv_.wait(lock, [&] { return generation_ != gen; });
    }
  }
  template <class T> void allreduce(int r, T* d, std::size_t n) {
    std::vector<T> sum(n, T(0));
    slots_[std::size_t(r)] = d;
    barrier();
    for (int o = 0; o < size_; ++o) {  // the same order on every rank: identical sums
      const T* other = static_cast<const T*>(slots_[std::size_t(o)]);
      for (std::size_t i = 0; i < n; ++i) sum[i] += other[i];
    }
    barrier();
    std::copy(sum.begin(), sum.end(), d);
  }
  void broadcast(int r, float* d, std::size_t n, int root) {
    slots_[std::size_t(r)] = d;
    barrier();
    std::vector<float> copy(static_cast<const float*>(slots_[std::size_t(root)]),
                            static_cast<const float*>(slots_[std::size_t(root)]) + n);
    barrier();
    std::copy(copy.begin(), copy.end(), d);
  }

  int size_;
  std::vector<const void*> slots_;
  std::vector<std::unique_ptr<Member>> members_;
  std::mutex m_;
  std::condition_variable cv_;
  int arrived_ = 0;
  long generation_ = 0;
};

}  // namespace symflow::train
