// symflow/train/batch_producer.hpp - renders training batches on a thread beside the optimizer,
// through a bounded queue.
//
// BatchProducer<Batch>(render, firstStep, capacity):
//   one producer thread calls render(s) for s = firstStep, firstStep + 1, ... in order and
//   pushes each batch into a FIFO of at most `capacity` batches (it blocks while the queue is
//   full); next() pops them in the same order (it blocks while the queue is empty).
// Determinism: batch s is whatever render(s) returns. When render is a function of s alone
//   (e.g. draws from Rng(seed).fork(domain).fork(s)), the consumer sees the same content for
//   step s however the threads are scheduled, and the same as calling render(s) directly.
//   render runs on the producer thread only (it may own non-thread-safe objects such as a
//   synth and an STFT plan, as long as nothing else uses them).
// Exceptions: an exception thrown by render(s) stops the producer; the batches before s are
//   still delivered, then next() rethrows that exception (every later call rethrows it too).
// Shutdown: stop() (or the destructor) wakes the producer wherever it waits and joins it; it
//   never deadlocks, whether the queue is full, empty or the producer is inside render (then
//   stop() waits for that one render to return). next() after stop() throws Error.
// Waiting: waitSeconds() is the time the consumer spent blocked in next(); waitFraction() is
//   that over the wall time from construction to the latest return of next() (0 = rendering
//   never stalled the optimizer). Timing is observation only: it never changes any batch.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

#include "symflow/core/types.hpp"

namespace symflow::train {

template <class Batch>
class BatchProducer {
 public:
  using Render = std::function<Batch(std::int64_t step)>;
  using Clock = std::chrono::steady_clock;

  BatchProducer(Render render, std::int64_t firstStep, std::size_t capacity)
      : render_(std::move(render)), nextStep_(firstStep), capacity_(capacity), start_(Clock::now()),
        lastReturn_(start_) {
    require(capacity_ >= 1, "BatchProducer: the queue needs room for at least one batch");
    require(bool(render_), "BatchProducer: no render function");
    thread_ = std::thread([this] { run(); });
  }
  BatchProducer(const BatchProducer&) = delete;
  BatchProducer& operator=(const BatchProducer&) = delete;
  ~BatchProducer() { stop(); }

  /// The next batch in step order (blocks while none is ready); rethrows a render exception.
  Batch next() {
    const auto t0 = Clock::now();
    std::unique_lock<std::mutex> lock(mutex_);
    require(!stopped_, "BatchProducer: next() after stop()");
    notEmpty_.wait(lock, [&] { return !queue_.empty() || error_ || stopped_; });
    const auto t1 = Clock::now();
    waited_ += std::chrono::duration<double>(t1 - t0).count();
    lastReturn_ = t1;
    if (queue_.empty()) {
      if (error_) std::rethrow_exception(error_);
      throw Error("BatchProducer: stopped while waiting for a batch");
    }
    Batch b = std::move(queue_.front());
    queue_.pop_front();
    ++consumed_;
    notFull_.notify_one();
    return b;
  }

  /// Stops and joins the producer thread (idempotent).
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopped_ = true;
    }
    notFull_.notify_all();
    notEmpty_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  /// Seconds the consumer spent blocked in next().
  double waitSeconds() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return waited_;
  }
  /// waitSeconds() / wall time from construction to the latest return of next() (0 before any).
  double waitFraction() const {
    std::lock_guard<std::mutex> lock(mutex_);
    const double total = std::chrono::duration<double>(lastReturn_ - start_).count();
    return total > 0 ? waited_ / total : 0.0;
  }
  /// Batches handed out so far.
  std::int64_t consumed() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return consumed_;
  }
  std::size_t capacity() const { return capacity_; }

 private:
  void run() {
    for (;;) {
      std::int64_t step;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        notFull_.wait(lock, [&] { return stopped_ || queue_.size() < capacity_; });
        if (stopped_) return;
        step = nextStep_++;
      }
      try {
        Batch b = render_(step);
        std::lock_guard<std::mutex> lock(mutex_);
        queue_.push_back(std::move(b));
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        error_ = std::current_exception();
        notEmpty_.notify_all();
        return;
      }
      notEmpty_.notify_one();
    }
  }

  Render render_;
  std::int64_t nextStep_;
  std::size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable notFull_, notEmpty_;
  std::deque<Batch> queue_;
  std::exception_ptr error_;
  bool stopped_ = false;
  std::int64_t consumed_ = 0;
  double waited_ = 0;
  Clock::time_point start_, lastReturn_;
  std::thread thread_;  // last: started after every other member is constructed
};

}  // namespace symflow::train
