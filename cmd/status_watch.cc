#include "cmd/status_watch.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <optional>

#include <nlohmann/json.hpp>

#include "orchestrator/common/backoff.h"
#include "orchestrator/common/errors.h"
#include "orchestrator/config/database_url.h"
#include "orchestrator/coordination/status_text.h"

namespace projd::cli {
namespace {

// Retries of a failing read back off up to this (or the interval, when longer).
constexpr std::chrono::milliseconds kMaxRetryDelay{30000};

// SIGINT and SIGTERM, blocked while the watch runs and taken with sigtimedwait.
class WatchSignals {
 public:
  WatchSignals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  ~WatchSignals() {
    // A signal still pending would be delivered (and end the process) once unblocked.
    const timespec zero{0, 0};
    while (sigtimedwait(&set_, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  WatchSignals(const WatchSignals&) = delete;
  WatchSignals& operator=(const WatchSignals&) = delete;

  // Waits up to `timeout`; true once a stop signal arrived.
  bool Wait(std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const auto left = std::max(std::chrono::nanoseconds(0), deadline - std::chrono::steady_clock::now());
      const auto secs = std::chrono::duration_cast<std::chrono::seconds>(left);
      const timespec ts{static_cast<time_t>(secs.count()), static_cast<long>((left - secs).count())};
      if (sigtimedwait(&set_, nullptr, &ts) > 0) return true;
      if (errno != EINTR) return false;  // EAGAIN: the time is up
    }
  }

 private:
  sigset_t set_{};
  sigset_t old_{};
};

// Asked per frame: a resized terminal gets frames of its new size.
TerminalSize StdoutSize() {
  winsize ws{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0) return {};
  return {ws.ws_row, ws.ws_col};
}

void Write(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

std::string ErrorJson(const std::string& error, std::chrono::milliseconds retry_in, int attempt) {
  return nlohmann::json({{"error", error},
                         {"at", FormatUtc(std::chrono::system_clock::now())},
                         {"attempt", attempt},
                         {"retry_in_ms", retry_in.count()}})
      .dump();
}

// Draws frames; remembers the last good snapshot to show under an error.
class FrameWriter {
 public:
  explicit FrameWriter(const WatchSettings& settings) : settings_(settings), terminal_(isatty(STDOUT_FILENO) == 1) {
    if (terminal_ && !settings_.json) Write(std::string(kHideCursor) + kClearScreen);
  }
  ~FrameWriter() {
    if (terminal_ && !settings_.json) Write(kShowCursor);
  }
  FrameWriter(const FrameWriter&) = delete;
  FrameWriter& operator=(const FrameWriter&) = delete;

  void Snapshot(const std::string& body) {
    last_good_ = body;
    last_good_at_ = std::chrono::steady_clock::now();
    Draw(body);
  }

  void Failure(const std::string& error, std::chrono::milliseconds retry_in, int attempt) {
    if (settings_.json) return Draw(ErrorJson(error, retry_in, attempt));
    std::optional<double> age;
    if (last_good_at_) {
      age = std::chrono::duration<double>(std::chrono::steady_clock::now() - *last_good_at_).count();
    }
    Draw(WatchErrorLine(error, retry_in, attempt, age) + last_good_);
  }

 private:
  void Draw(const std::string& body) {
    if (settings_.json) return Write(body + "\n");
    const auto frame = WatchHeader(settings_.replica_set, settings_.interval, std::chrono::system_clock::now()) + body;
    Write(terminal_ ? TerminalFrame(frame, StdoutSize()) : PlainFrame(frame, first_));
    first_ = false;
  }

  const WatchSettings& settings_;
  const bool terminal_;
  bool first_ = true;
  std::string last_good_;
  std::optional<std::chrono::steady_clock::time_point> last_good_at_;
};

}  // namespace

int RunStatusWatch(const WatchSettings& settings, const std::function<std::string()>& render) {
  const WatchSignals signals;
  FrameWriter frames(settings);
  Backoff backoff(settings.interval, std::max(settings.interval, kMaxRetryDelay));
  while (true) {
    std::chrono::milliseconds next = settings.interval;
    try {
      frames.Snapshot(render());
      backoff.Reset();
    } catch (const Error& e) {
      next = backoff.Next();
      frames.Failure(MaskSecrets(e.what(), settings.database_url), next, backoff.attempts());
    }
    if (signals.Wait(next)) return 0;
  }
}

}  // namespace projd::cli
