// symflow/train/mpi_communicator.hpp - the MPI communicator of data-parallel training
// (train/distributed.hpp, docs/distributed.md). The only symflow header that includes <mpi.h>;
// nothing else includes it, so MPI stays an optional dependency: the symflow program includes
// it when built with SYMFLOW_MPI (CMake, on when Open MPI's development files are found).
//
//   MpiSession mpi(argc, argv);          // MPI_Init when started by mpirun, else nothing
//   if (mpi.active()) opt.comm = &mpi.world();
//
// Collectives run on MPI_COMM_WORLD with its default error handler (MPI_ERRORS_ARE_FATAL): a
// failing call aborts the job. A rank that dies (killed, crashed, exited with an error) makes
// mpirun end the whole job with a message naming the rank, instead of the others waiting
// forever in the next allreduce; a rank that catches an error itself calls abortJob(), which
// ends the others at once (tests/mpi_train_test.sh checks both).
#pragma once
#include <algorithm>
#include <climits>
#include <cstdlib>
#include <memory>
#include <string>

#include <mpi.h>

#include "symflow/train/distributed.hpp"

namespace symflow::train {

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(MPI_Comm comm = MPI_COMM_WORLD) : comm_(comm) {
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void allreduceSum(float* d, std::size_t n) override { chunked(d, n, MPI_FLOAT, [&](void* p, int c, MPI_Datatype t) {
    MPI_Allreduce(MPI_IN_PLACE, p, c, t, MPI_SUM, comm_);
  }); }
  void allreduceSum(double* d, std::size_t n) override { chunked(d, n, MPI_DOUBLE, [&](void* p, int c, MPI_Datatype t) {
    MPI_Allreduce(MPI_IN_PLACE, p, c, t, MPI_SUM, comm_);
  }); }
  void broadcast(float* d, std::size_t n, int root) override { chunked(d, n, MPI_FLOAT, [&](void* p, int c, MPI_Datatype t) {
    MPI_Bcast(p, c, t, root, comm_);
  }); }
  std::string describe() const override { return "MPI, " + std::to_string(size_) + " ranks"; }

 private:
  /// MPI counts are ints: buffers beyond INT_MAX elements go in pieces.
  template <class T, class F> static void chunked(T* d, std::size_t n, MPI_Datatype type, F&& f) {
    const std::size_t maxCount = std::size_t(INT_MAX / 2);
    for (std::size_t i = 0; i < n; i += maxCount) f(d + i, int(std::min(maxCount, n - i)), type);
  }
  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
};

/// MPI_Init / MPI_Finalize around main when the program was started by an MPI launcher
/// (mpirun, mpiexec, srun: their environment variables), nothing otherwise, so that the
/// program run by hand behaves exactly like one built without MPI.
class MpiSession {
 public:
  MpiSession(int& argc, char**& argv) {
    if (!startedByMpiLauncher()) return;
    MPI_Init(&argc, &argv);
    world_ = std::make_unique<MpiCommunicator>(MPI_COMM_WORLD);
  }
  ~MpiSession() {
    if (world_) MPI_Finalize();
  }
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  bool active() const { return world_ != nullptr; }
  Communicator& world() { return *world_; }
  /// Ends every rank of the job at once (after this rank printed its error).
  [[noreturn]] void abortJob(int code) {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::exit(code);
  }

 private:
  std::unique_ptr<MpiCommunicator> world_;
};

}  // namespace symflow::train
