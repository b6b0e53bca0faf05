// WorkerFleet: real `projd run` processes on one private schema of the test server, with
// short intervals so multi-process scenarios finish in seconds. Assertions read the
// database (assignments, checkpoints, the stream_stats read model) and the workers' logs.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/pg_test_schema.h"
#include "tests/support/process.h"

namespace projd::testing {

class WorkerFleet {
 public:
  // `settings` override the fleet's defaults (HEARTBEAT_INTERVAL=200ms, ...).
  explicit WorkerFleet(std::map<std::string, std::string> settings = {}, std::string url = "");
  ~WorkerFleet();

  PgTestSchema& db() { return db_; }
  // The worker binary to run (default: projd).
  void UseBinary(std::string path) { binary_ = std::move(path); }
  const std::map<std::string, std::string>& env() const { return env_; }

  // Starts a worker named `name` (WORKER_NAME); a second start of a stopped name restarts it.
  // `wrapper` runs it through another command (`ip netns exec NS`).
  ChildProcess& Start(const std::string& name, const std::map<std::string, std::string>& extra = {},
                      const std::vector<std::string>& wrapper = {});
  ChildProcess& Worker(const std::string& name) { return *workers_.at(name); }
  // The HTTP port worker `name` listens on (HTTP_ADDR 127.0.0.1:0; read from its log,
  // waiting up to 10 s for the "http listening" line). 0 when it never appeared.
  int HttpPort(const std::string& name);

  // Runs a projd subcommand against the fleet's schema and returns its result.
  ProcessResult Projd(const std::vector<std::string>& args);
  // Appends `events` events over `aggregates` aggregates with `projd seed`.
  void Seed(int events, int aggregates, const std::string& prefix);

  // Owned partition count per worker name in the current assignment (live owners only).
  std::map<std::string, int> Owners();
  std::int64_t Generation();
  int Partitions();
  // True when every live member acknowledged the current generation, owns its share, and
  // has taken (stamped) what it owns.
  bool Settled(int members);
  // True when every checkpoint of `projection` reached the latest event position.
  bool CaughtUp(const std::string& projection);
  // Aggregates whose stream_stats row disagrees with the events (lost or doubled events).
  int StreamStatsMismatches();

 private:
  PgTestSchema db_;
  std::map<std::string, std::string> env_;
  std::map<std::string, std::unique_ptr<ChildProcess>> workers_;
  std::string log_dir_;
  std::string binary_ = PROJD_BINARY;
};

}  // namespace projd::testing
