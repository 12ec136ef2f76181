// symflow/train/interrupt.hpp - Ctrl-C handling for training loops.
//
// InterruptGuard installs a SIGINT/SIGTERM handler for its lifetime. The first signal sets a
// flag that the loop polls (requested()) so it can write a final checkpoint and exit
// cleanly; a second SIGINT exits at once (status 130) without waiting (a checkpoint being
// written then is abandoned: its temporary file stays, the existing checkpoints are intact).
// The handler is installed with SA_RESTART, so system calls that the first signal interrupts
// (writes of logs and checkpoints, waits) are resumed instead of failing with EINTR.
#pragma once
#include <csignal>
#include <unistd.h>

namespace symflow::train {

namespace detail {
inline volatile std::sig_atomic_t& interruptCount() {
  static volatile std::sig_atomic_t n = 0;
  return n;
}
extern "C" inline void symflowOnInterrupt(int sig) {
  if (interruptCount() >= 1 && sig == SIGINT) {
    const char msg[] = "\ninterrupted twice: exiting now\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(130);
  }
  interruptCount() = interruptCount() + 1;
}
}  // namespace detail

class InterruptGuard {
 public:
  InterruptGuard() {
    detail::interruptCount() = 0;
    struct sigaction sa {};
    sa.sa_handler = detail::symflowOnInterrupt;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, &oldInt_);
    sigaction(SIGTERM, &sa, &oldTerm_);
  }
  ~InterruptGuard() {
    sigaction(SIGINT, &oldInt_, nullptr);
    sigaction(SIGTERM, &oldTerm_, nullptr);
  }
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
  bool requested() const { return detail::interruptCount() > 0; }

 private:
  struct sigaction oldInt_ {}, oldTerm_ {};
};

}  // namespace symflow::train
