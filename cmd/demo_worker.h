// DemoWorker: one `projd run` child process of `projd demo` (this same binary), with its
// output in a log file. Stopped with SIGTERM (graceful) or killed when destroyed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>

namespace projd::cli {

class DemoWorker {
 public:
  DemoWorker(const std::string& name, const std::map<std::string, std::string>& env, const std::string& log_dir);
  ~DemoWorker();  // SIGKILL if still running
  DemoWorker(const DemoWorker&) = delete;
  DemoWorker& operator=(const DemoWorker&) = delete;

  const std::string& name() const { return name_; }
  void Terminate() const;  // SIGTERM
  // Waits up to `timeout` for the exit; true when it exited (its code in exit_code()).
  bool Wait(std::chrono::milliseconds timeout);
  int exit_code() const { return exit_code_; }
  bool running() const { return running_; }

 private:
  std::string name_;
  pid_t pid_ = -1;
  bool running_ = false;
  int exit_code_ = -1;
};

}  // namespace projd::cli
