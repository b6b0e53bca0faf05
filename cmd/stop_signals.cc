#include "cmd/stop_signals.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace projd::cli {
namespace {

sigset_t StopSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

const char* SignalName(int sig) { return sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "signal"; }

}  // namespace

StopSignals::StopSignals(std::chrono::milliseconds shutdown_timeout, Logger logger)
    : shutdown_timeout_(shutdown_timeout), logger_(std::move(logger)) {
  const sigset_t set = StopSet();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal_fd_ = ::signalfd(-1, &set, SFD_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
  if (signal_fd_ < 0 || wake_fd_ < 0) {
    throw std::runtime_error(std::string("cannot watch stop signals: ") + std::strerror(errno));
  }
  thread_ = std::thread([this] { Run(); });
}

StopSignals::~StopSignals() {
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto written = ::write(wake_fd_, &one, sizeof one);
  if (thread_.joinable()) thread_.join();
  ::close(signal_fd_);
  ::close(wake_fd_);
}

void StopSignals::SetReporter(Reporter reporter) {
  std::lock_guard lock(mu_);
  reporter_ = std::move(reporter);
}

void StopSignals::FreezeReport() {
  Reporter current;
  {
    std::lock_guard lock(mu_);
    current = reporter_;
  }
  const std::optional<ShutdownState> last = current ? current() : std::nullopt;
  SetReporter([last] { return last; });
}

bool StopSignals::WaitForStop(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return requested_; });
}

void StopSignals::WaitForStop() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return requested_; });
}

bool StopSignals::stop_requested() const {
  std::lock_guard lock(mu_);
  return requested_;
}

int StopSignals::signal() const {
  std::lock_guard lock(mu_);
  return signal_;
}

Clock::Monotonic::time_point StopSignals::requested_at() const {
  std::lock_guard lock(mu_);
  return requested_at_;
}

void StopSignals::Run() {
  while (true) {
    int timeout_ms = -1;  // no deadline before the first signal
    {
      std::lock_guard lock(mu_);
      if (requested_) {
        const auto left = requested_at_ + shutdown_timeout_ - Clock::Monotonic::now();
        // Rounded up: poll must not wake before the deadline.
        timeout_ms = static_cast<int>(std::max<std::int64_t>(
            0, std::chrono::ceil<std::chrono::milliseconds>(left).count()));
      }
    }
    pollfd fds[2] = {{signal_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    const int ready = ::poll(fds, 2, timeout_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      logger_.Error("waiting for stop signals failed", {{"error", std::strerror(errno)}});
      return;
    }
    if (fds[1].revents != 0) return;  // the process ends normally
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info{};
      if (::read(signal_fd_, &info, sizeof info) != static_cast<ssize_t>(sizeof info)) continue;
      {
        std::lock_guard lock(mu_);
        if (!requested_) {
          requested_ = true;
          signal_ = static_cast<int>(info.ssi_signo);
          requested_at_ = Clock::Monotonic::now();
          cv_.notify_all();
          continue;
        }
      }
      logger_.Warn("second stop signal; exiting at once", {{"signal", SignalName(static_cast<int>(info.ssi_signo))}});
      Expire("a second stop signal");
    }
    bool due = false;
    {
      std::lock_guard lock(mu_);
      due = requested_ && Clock::Monotonic::now() >= requested_at_ + shutdown_timeout_;
    }
    if (due) Expire("SHUTDOWN_TIMEOUT passed");
  }
}

void StopSignals::Expire(const char* reason) {
  Reporter reporter;
  {
    std::lock_guard lock(mu_);
    reporter = reporter_;
  }
  const std::optional<ShutdownState> state = reporter ? reporter() : std::nullopt;
  // A stop that finished keeps its own code: only the teardown after it did not end.
  const int code = state && state->step == ShutdownStep::kStopped ? ExitCodeOf(*state) : kExitStopAbandoned;
  LogFields fields{{"reason", reason}, {"shutdown_timeout_ms", std::to_string(shutdown_timeout_.count())}};
  if (state) {
    const auto described = DescribeShutdown(*state);
    fields.insert(fields.end(), described.begin(), described.end());
  } else {
    fields.push_back({"step", "starting"});
  }
  fields.push_back({"exit_code", std::to_string(code)});
  logger_.Error("stop did not finish; exiting at once, abandoning the rest", fields);
  Exit(code);
}

void StopSignals::Exit(int code) const {
  logger_.spd()->flush();
  std::fflush(nullptr);
  std::_Exit(code);
}

}  // namespace projd::cli
