// projd-testpg: runs a command against a private, throwaway PostgreSQL server.
//
//   projd-testpg [--keep] -- ctest --test-dir build ...
//
// Starts an EmbeddedPostgres (initdb into a temporary directory, a free port on
// 127.0.0.1, fsync on), exports DATABASE_URL (and PROJD_TEST_PG_BINDIR) to the command,
// waits for it, then tears the server down even when the command fails or is
// interrupted. Exit code = the command's exit code.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "devtools/embedded_postgres.h"

namespace {
volatile sig_atomic_t g_child = 0;

void Forward(int sig) {
  if (g_child > 0) ::kill(g_child, sig);
}
}  // namespace

int main(int argc, char** argv) {
  bool keep = false;
  int i = 1;
  for (; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--keep") {
      keep = true;
    } else if (a == "--") {
      ++i;
      break;
    } else {
      std::cerr << "usage: projd-testpg [--keep] -- command [args...]\n";
      return 2;
    }
  }
  if (i >= argc) {
    std::cerr << "usage: projd-testpg [--keep] -- command [args...]\n";
    return 2;
  }
  try {
    projd::EmbeddedPostgres::Options options;
    options.keep = keep;
    options.settings["max_connections"] = "300";
    // Two-phase writers (tests/pg/writer_contract_pgtest.cpp) need PREPARE TRANSACTION.
    options.settings["max_prepared_transactions"] = "20";
    projd::EmbeddedPostgres pg(options);
    pg.Start();
    std::cerr << "projd-testpg: PostgreSQL on 127.0.0.1:" << pg.port() << " (" << pg.base_dir()
              << ")\n";
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
    return rc;
  } catch (const std::exception& e) {
    std::cerr << "projd-testpg: " << e.what() << "\n";
    return 1;
  }
}
