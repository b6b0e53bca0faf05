#include "devtools/embedded_postgres.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace projd {
namespace fs = std::filesystem;

namespace {

constexpr const char* kSuperuser = "projd";

std::string FindBinDir(const std::string& preferred) {
  if (!preferred.empty()) return preferred;
  for (const char* v : {"17", "16", "15", "14", "13"}) {
    const std::string dir = std::string("/usr/lib/postgresql/") + v + "/bin";
    if (fs::exists(dir + "/initdb") && fs::exists(dir + "/pg_ctl")) return dir;
  }
  if (const char* path = std::getenv("PATH")) {
    std::stringstream ss(path);
    std::string dir;
    while (std::getline(ss, dir, ':')) {
      if (!dir.empty() && fs::exists(dir + "/initdb") && fs::exists(dir + "/pg_ctl")) return dir;
    }
  }
  throw std::runtime_error(
      "PostgreSQL server binaries (initdb, pg_ctl) not found: install postgresql-15 "
      "(apt-get install postgresql-15) or set DATABASE_URL to an existing database");
}

void ChownRecursive(const fs::path& p, int uid, int gid) {
  if (::chown(p.c_str(), uid, gid) != 0) {
    throw std::runtime_error("chown " + p.string() + ": " + std::strerror(errno));
  }
  if (fs::is_directory(p)) {
    for (const auto& entry : fs::recursive_directory_iterator(p)) {
      if (::lchown(entry.path().c_str(), uid, gid) != 0) {
        throw std::runtime_error("chown " + entry.path().string() + ": " + std::strerror(errno));
      }
    }
  }
}

}  // namespace

int PickFreeLocalPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error(std::string("bind: ") + std::strerror(errno));
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

EmbeddedPostgres::EmbeddedPostgres(Options options) : options_(std::move(options)) {
  bin_dir_ = FindBinDir(options_.bin_dir);
  std::string parent = options_.parent_dir;
  if (parent.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    parent = (tmp && *tmp) ? tmp : "/tmp";
  }
  std::string templ = parent + "/projd-pg-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    throw std::runtime_error("mkdtemp in " + parent + ": " + std::strerror(errno));
  }
  base_dir_ = templ;
  data_dir_ = base_dir_ + "/data";
  log_file_ = base_dir_ + "/postgres.log";
  if (::geteuid() == 0) {
    const passwd* pw = ::getpwnam(options_.run_as_user.c_str());
    if (pw == nullptr) {
      throw std::runtime_error("running as root, but user '" + options_.run_as_user +
                               "' to run PostgreSQL does not exist (install postgresql-15)");
    }
    uid_ = static_cast<int>(pw->pw_uid);
    gid_ = static_cast<int>(pw->pw_gid);
    ::chmod(base_dir_.c_str(), 0700);
    ChownRecursive(base_dir_, uid_, gid_);
  }
}

EmbeddedPostgres::~EmbeddedPostgres() {
  if (options_.keep) return;
  try {
    if (running_) Stop(StopMode::kFast);
  } catch (const std::exception&) {
    Kill();
  }
  DropStandbySlot();
  std::error_code ec;
  fs::remove_all(base_dir_, ec);
}

int EmbeddedPostgres::RunTool(const std::string& tool, const std::vector<std::string>& args,
                              bool as_server_user) const {
  const std::string path = bin_dir_ + "/" + tool;
  std::vector<std::string> argv_storage;
  argv_storage.push_back(path);
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // Child: own process group so a Ctrl-C of the caller does not hit the server first.
    ::setpgid(0, 0);
    // Drop privileges first so the log file belongs to the server user too.
    if (as_server_user && uid_ >= 0) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(gid_) != 0 || ::setuid(uid_) != 0) _exit(126);
    }
    const int devnull = ::open("/dev/null", O_RDWR);
    const int log = ::open(log_file_.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0600);
    if (devnull >= 0) ::dup2(devnull, 0);
    if (log >= 0) {
      ::dup2(log, 1);
      ::dup2(log, 2);
    }
    ::execv(path.c_str(), argv.data());
    _exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw std::runtime_error(std::string("waitpid: ") + std::strerror(errno));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string EmbeddedPostgres::LogTail() const {
  std::ifstream in(log_file_);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (all.size() > 2000) all = all.substr(all.size() - 2000);
  return all;
}

void EmbeddedPostgres::Start() {
  if (running_) return;
  const bool as_user = uid_ >= 0;
  if (!initialized_) InitDataDir();
  std::string server_opts = "-c listen_addresses=127.0.0.1 -k " + base_dir_;
  for (const auto& [k, v] : options_.settings) server_opts += " -c " + k + "=" + v;
  const std::string wait = std::to_string(options_.timeout.count());
  // A port can be taken between picking and binding: try a few.
  std::string last_error;
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (port_ == 0 || attempt > 0) port_ = PickFreeLocalPort();
    const int rc = RunTool("pg_ctl", {"-D", data_dir_, "-l", log_file_, "-w", "-t", wait, "-o",
                                      server_opts + " -p " + std::to_string(port_), "start"},
                           as_user);
    if (rc == 0) {
      running_ = true;
      break;
    }
    last_error = LogTail();
    if (database_created_) break;  // a restart keeps its port; do not wander
  }
  if (!running_) throw std::runtime_error("PostgreSQL did not start: " + last_error);
  if (!database_created_) {
    // A standby has its primary's databases (and could not create one).
    if (options_.standby_of_port == 0) {
      const int rc = RunTool("createdb", {"-h", base_dir_, "-p", std::to_string(port_), "-U",
                                          kSuperuser, options_.database},
                             as_user);
      if (rc != 0) throw std::runtime_error("createdb failed: " + LogTail());
    }
    database_created_ = true;
  }
}

void EmbeddedPostgres::InitDataDir() {
  const bool as_user = uid_ >= 0;
  if (options_.standby_of_port == 0) {
    const int rc = RunTool("initdb", {"-D", data_dir_, "-U", kSuperuser, "--auth=trust",
                                      "-E", "UTF8", "--locale=C", "--no-sync"},
                           as_user);
    if (rc != 0) {
      throw std::runtime_error("initdb failed (exit " + std::to_string(rc) + "): " + LogTail());
    }
  } else {
    // A slot of its own keeps the primary's WAL until this standby has it: a standby that
    // was stopped or killed resumes streaming. -R writes standby.signal and primary_conninfo.
    static std::atomic<int> standbys{0};
    slot_ = "projd_standby_" + std::to_string(::getpid()) + "_" + std::to_string(++standbys);
    const int rc = RunTool("pg_basebackup",
                           {"-h", "127.0.0.1", "-p", std::to_string(options_.standby_of_port), "-U",
                            kSuperuser, "-D", data_dir_, "-R", "-X", "stream", "-c", "fast", "-C",
                            "-S", slot_, "--no-sync"},
                           as_user);
    if (rc != 0) {
      // slot_ stays: the destructor drops the slot if the backup created it.
      throw std::runtime_error("pg_basebackup failed (exit " + std::to_string(rc) + "): " + LogTail());
    }
  }
  initialized_ = true;
}

void EmbeddedPostgres::Promote() {
  const int rc = RunTool("pg_ctl", {"-D", data_dir_, "-w", "-t",
                                    std::to_string(options_.timeout.count()), "promote"},
                         uid_ >= 0);
  if (rc != 0) throw std::runtime_error("pg_ctl promote failed: " + LogTail());
}

// The slot is busy until the primary's walsender notices the stopped standby: retry for up
// to 10 s. A slot that does not exist is no error; errors are ignored (the primary may be gone; its slots die with it).
void EmbeddedPostgres::DropStandbySlot() noexcept {
  if (slot_.empty()) return;
  const std::string sql =
      "DO $$BEGIN FOR i IN 1..100 LOOP "
      "PERFORM pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
      "WHERE slot_name = '" + slot_ + "' AND NOT active; "
      "EXIT WHEN NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = '" + slot_ + "'); "
      "PERFORM pg_sleep(0.1); END LOOP; END$$";
  try {
    RunTool("psql", {"-X", "-q", "-d",
                     "host=127.0.0.1 port=" + std::to_string(options_.standby_of_port) + " user=" +
                         kSuperuser + " dbname=postgres connect_timeout=5",
                     "-c", sql},
            uid_ >= 0);
  } catch (const std::exception&) {
  }
  slot_.clear();
}

void EmbeddedPostgres::Stop(StopMode mode) {
  if (!running_) return;
  const std::string m = mode == StopMode::kFast ? "fast" : "immediate";
  const int rc = RunTool("pg_ctl", {"-D", data_dir_, "-m", m, "-w", "-t",
                                    std::to_string(options_.timeout.count()), "stop"},
                         uid_ >= 0);
  running_ = false;
  if (rc != 0) throw std::runtime_error("pg_ctl stop failed: " + LogTail());
}

void EmbeddedPostgres::Kill() {
  std::ifstream pidfile(data_dir_ + "/postmaster.pid");
  pid_t pid = 0;
  if (pidfile >> pid && pid > 0) {
    // pg_ctl starts the postmaster in its own session: its group holds every backend.
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    // The backends notice the dead postmaster and exit; wait until the socket is free.
    for (int i = 0; i < 600 && ::kill(pid, 0) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  running_ = false;
}

std::string EmbeddedPostgres::Url() const {
  return "postgresql://" + std::string(kSuperuser) + "@127.0.0.1:" + std::to_string(port_) + "/" +
         options_.database + "?sslmode=disable";
}

}  // namespace projd
