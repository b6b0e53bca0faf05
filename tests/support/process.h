// Real child processes for tests: run a command to completion capturing its output, or
// keep one running (a `projd run` worker) and signal it (SIGTERM, SIGKILL, SIGSTOP...).
// Not thread-safe per object.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace projd::testing {

struct ProcessResult {
  int exit_code = -1;  // exit status, or 128 + signal
  std::string out;     // stdout
  std::string err;     // stderr
};

// Runs argv[0] (a path) with the current environment plus `env` (a value of "" with
// key prefixed by '-' removes the variable: {"-DATABASE_URL", ""}). Feeds `input` to
// stdin. Kills the process and fails the test after `timeout`.
ProcessResult RunProcess(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env = {},
                         const std::string& input = "",
                         std::chrono::seconds timeout = std::chrono::seconds(120));

// A long-running child with stdout+stderr appended to a log file.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
               std::string log_path);
  ~ChildProcess();  // SIGKILL if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int sig) const;
  // Waits up to `timeout` for exit; returns the exit code (128 + signal) or nullopt.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  bool running();
  std::string Log() const;
  const std::string& log_path() const { return log_path_; }

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string log_path_;
};

// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
template <typename Fn>
bool WaitFor(Fn&& condition, std::chrono::milliseconds timeout);

}  // namespace projd::testing

#include <thread>

namespace projd::testing {
template <typename Fn>
bool WaitFor(Fn&& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}
}  // namespace projd::testing
