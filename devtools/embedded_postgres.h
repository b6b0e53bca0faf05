// EmbeddedPostgres: a private, throwaway PostgreSQL server started from the installed
// server binaries (initdb + pg_ctl) in a temporary directory, listening on a free port
// of 127.0.0.1 and on a Unix socket inside that directory.
//
// Used by `projd demo` when DATABASE_URL is unset, by the test runner (projd-testpg) and
// by multi-process tests that stop, restart or kill the server. When the process runs as
// root the server runs as an unprivileged user (postgres refuses root): the data
// directory is handed to that user and the server binaries run under its uid.
//
// A server can be a streaming hot standby of another (Options::standby_of_port): its data
// directory is a pg_basebackup of that server, which then streams over a replication slot
// of its own, so a standby that was stopped resumes however much the primary wrote since.
//
// Not thread-safe: one owner drives start/stop. The destructor stops the server (fast
// mode), drops a standby's slot on its primary and removes the directory unless
// Options::keep is set.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace projd {

class EmbeddedPostgres {
 public:
  struct Options {
    // Directory with initdb/pg_ctl/postgres; empty = first of $PROJD_PG_BINDIR (read by
    // the caller), /usr/lib/postgresql/{17,16,15,14,13}/bin, then PATH.
    std::string bin_dir;
    // Parent of the temporary directory; empty = $TMPDIR or /tmp.
    std::string parent_dir;
    // Unprivileged account used when running as root.
    std::string run_as_user = "postgres";
    // Database created after start and named in Url().
    std::string database = "projd";
    // Extra server settings (-c name=value). fsync stays on unless set here.
    // A standby refuses to start with max_connections, max_prepared_transactions,
    // max_locks_per_transaction, max_wal_senders or max_worker_processes below its
    // primary's: give a standby the primary's settings.
    std::map<std::string, std::string> settings;
    // 0: a primary (initdb). Otherwise the port of an EmbeddedPostgres on 127.0.0.1 (its
    // superuser, trust auth) this server is a hot standby of: the first Start() takes a
    // pg_basebackup of it (with a new replication slot) instead of initdb and createdb.
    int standby_of_port = 0;
    // Leave the server running and the directory in place on destruction.
    bool keep = false;
    // Bound for start and stop.
    std::chrono::seconds timeout{60};
  };

  explicit EmbeddedPostgres(Options options);
  EmbeddedPostgres(const EmbeddedPostgres&) = delete;
  EmbeddedPostgres& operator=(const EmbeddedPostgres&) = delete;
  ~EmbeddedPostgres();

  // initdb or, for a standby, pg_basebackup (first time only), start and wait until the
  // server accepts connections, create Options::database (first time, primary only).
  // Throws std::runtime_error with the server log's tail on failure.
  void Start();
  // Stops the server. kFast rolls back open transactions and disconnects clients
  // (pg_ctl -m fast); kImmediate is an abrupt shutdown that needs crash recovery.
  enum class StopMode { kFast, kImmediate };
  void Stop(StopMode mode = StopMode::kFast);
  // SIGKILL to the postmaster (crash; children are left to exit on their own).
  void Kill();
  // Ends a standby's recovery (pg_ctl promote -w): it then accepts writes. Its slot on the
  // old primary stays until destruction.
  void Promote();
  bool running() const { return running_; }

  // postgresql://projd@127.0.0.1:<port>/<database>?sslmode=disable
  std::string Url() const;
  int port() const { return port_; }
  const std::string& base_dir() const { return base_dir_; }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& log_file() const { return log_file_; }
  const std::string& bin_dir() const { return bin_dir_; }

 private:
  int RunTool(const std::string& tool, const std::vector<std::string>& args, bool as_server_user) const;
  std::string LogTail() const;
  void InitDataDir();
  void DropStandbySlot() noexcept;

  Options options_;
  std::string bin_dir_;
  std::string base_dir_;
  std::string data_dir_;
  std::string log_file_;
  int port_ = 0;
  std::string slot_;  // a standby's replication slot on its primary
  bool initialized_ = false;
  bool database_created_ = false;
  bool running_ = false;
  int uid_ = -1;  // server user when running as root, else -1
  int gid_ = -1;
};

// Returns a TCP port on 127.0.0.1 that was free a moment ago.
int PickFreeLocalPort();

}  // namespace projd
