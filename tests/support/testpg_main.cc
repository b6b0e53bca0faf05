// projd-testpg: runs a command against a private, throwaway PostgreSQL server.
//
//   projd-testpg [--keep] [--standby] [--setting name=value]... -- ctest --test-dir build ...
//
// Starts an EmbeddedPostgres (initdb into a temporary directory, a free port on
// 127.0.0.1, fsync on), exports DATABASE_URL (and PROJD_TEST_PG_BINDIR) to the command,
// waits for it, then tears the server down even when the command fails or is
// interrupted. Exit code = the command's exit code.
//
// --standby also starts a streaming hot standby of that server (same settings) and exports
// its URL as PROJD_TEST_STANDBY_URL; both servers then load pg_stat_statements
// (shared_preload_libraries, for bench/standby_reads.sh) unless --setting names
// shared_preload_libraries. --setting adds a server setting (-c name=value) to both.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "devtools/embedded_postgres.h"

namespace {
volatile sig_atomic_t g_child = 0;

void Forward(int sig) {
  if (g_child > 0) ::kill(g_child, sig);
}

constexpr const char* kUsage =
    "usage: projd-testpg [--keep] [--standby] [--setting name=value]... -- command [args...]\n";
}  // namespace

int main(int argc, char** argv) {
  bool keep = false;
  bool standby = false;
  std::map<std::string, std::string> settings{
      {"max_connections", "300"},
      // Two-phase writers (tests/pg/writer_contract_pgtest.cpp) need PREPARE TRANSACTION.
      {"max_prepared_transactions", "20"}};
  int i = 1;
  for (; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--keep") {
      keep = true;
    } else if (a == "--standby") {
      standby = true;
    } else if (a == "--setting" && i + 1 < argc && std::strchr(argv[i + 1], '=') != nullptr) {
      const std::string kv = argv[++i];
      settings[kv.substr(0, kv.find('='))] = kv.substr(kv.find('=') + 1);
    } else if (a == "--") {
      ++i;
      break;
    } else {
      std::cerr << kUsage;
      return 2;
    }
  }
  if (i >= argc) {
    std::cerr << kUsage;
    return 2;
  }
  if (standby) settings.try_emplace("shared_preload_libraries", "pg_stat_statements");
  try {
    projd::EmbeddedPostgres::Options options;
    options.keep = keep;
    options.settings = settings;
    projd::EmbeddedPostgres pg(options);
    pg.Start();
    std::cerr << "projd-testpg: PostgreSQL on 127.0.0.1:" << pg.port() << " (" << pg.base_dir()
              << ")\n";
    // Declared after the primary: torn down before it.
    std::optional<projd::EmbeddedPostgres> replica;
    if (standby) {
      options.standby_of_port = pg.port();
      replica.emplace(options);
      replica->Start();
      std::cerr << "projd-testpg: standby on 127.0.0.1:" << replica->port() << " ("
                << replica->base_dir() << ")\n";
      ::setenv("PROJD_TEST_STANDBY_URL", replica->Url().c_str(), 1);
    }
    ::setenv("DATABASE_URL", pg.Url().c_str(), 1);
    ::setenv("PROJD_TEST_PG_BINDIR", pg.bin_dir().c_str(), 1);

    struct sigaction sa {};
    sa.sa_handler = Forward;
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);

    const pid_t pid = ::fork();
    if (pid == 0) {
      ::execvp(argv[i], argv + i);
      std::cerr << "projd-testpg: cannot run " << argv[i] << ": " << std::strerror(errno) << "\n";
      _exit(127);
    }
    g_child = pid;
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (keep) std::cerr << "projd-testpg: kept server at " << pg.Url() << "\n";
    if (keep && replica) std::cerr << "projd-testpg: kept standby at " << replica->Url() << "\n";
    return rc;
  } catch (const std::exception& e) {
    std::cerr << "projd-testpg: " << e.what() << "\n";
    return 1;
  }
}
