// WakingQueue: a queue that another thread's ZeroMQ poll loop waits on. Any
// thread pushes; the owner polls fd() (an eventfd that becomes readable when
// the queue goes from empty to not empty) and takes everything at once.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <deque>
#include <mutex>
#include <utility>

namespace lantoa::internal {

template <typename T>
class WakingQueue {
 public:
  WakingQueue() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~WakingQueue() {
    if (fd_ >= 0) ::close(fd_);
  }
  WakingQueue(const WakingQueue&) = delete;
  WakingQueue& operator=(const WakingQueue&) = delete;

  void push(T item) {
    bool was_empty;
    {
      std::lock_guard lock(mu_);
      was_empty = items_.empty();
      items_.push_back(std::move(item));
    }
    if (was_empty) {
      uint64_t one = 1;
      [[maybe_unused]] ssize_t n = ::write(fd_, &one, sizeof one);
    }
  }

  std::deque<T> take_all() {
    uint64_t count;
    [[maybe_unused]] ssize_t n = ::read(fd_, &count, sizeof count);
    std::lock_guard lock(mu_);
    return std::exchange(items_, {});
  }

  int fd() const { return fd_; }

 private:
  std::mutex mu_;
  std::deque<T> items_;
  int fd_ = -1;
};

}  // namespace lantoa::internal
