// Reading events from a real hot standby (docs/reading.md, "Reading from hot standbys"): a
// private primary and its streaming standby (pg_basebackup -R), the follower proving marks
// on the primary with their WAL positions, and a StandbyRouter reading from the standby
// while writers commit (some with synchronous_commit = off) and replay is paused and resumed.
#include <catch2/catch.hpp>

#include <atomic>
#include <cctype>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include <sys/socket.h>
#include <unistd.h>

#include <pqxx/pqxx>

#include "devtools/embedded_postgres.h"
#include "orchestrator/common/clock.h"
#include "orchestrator/common/logging.h"
#include "orchestrator/pg/socket_deadline.h"
#include "orchestrator/reading/high_water_mark_follower.h"
#include "orchestrator/reading/pg/pg_event_reader.h"
#include "orchestrator/reading/pg/pg_position_source.h"
#include "orchestrator/reading/pg/pg_standby_probe.h"
#include "orchestrator/reading/standby_router.h"
#include "orchestrator/reading/standby_watch.h"
#include "tests/support/pg_test_schema.h"
#include "tests/support/process.h"

using namespace std::chrono_literals;
using projd::EmbeddedPostgres;
using projd::testing::PgTestSchema;
using projd::testing::WaitFor;

namespace projd {
namespace {

EmbeddedPostgres::Options PairOptions(int standby_of = 0) {
  EmbeddedPostgres::Options o;
  o.settings["max_connections"] = "60";
  o.standby_of_port = standby_of;
  return o;
}

// A private primary and its standby.
struct Pair {
  EmbeddedPostgres primary{PairOptions()};
  std::unique_ptr<EmbeddedPostgres> standby;
  Pair() {
    primary.Start();
    standby = std::make_unique<EmbeddedPostgres>(PairOptions(primary.port()));
    standby->Start();
  }
};

pg::ConnectionOptions On(const std::string& url, const PgTestSchema& db) {
  auto o = db.options();
  o.url = url;
  return o;
}

// The processes whose parent is `parent` (from /proc).
std::vector<pid_t> ChildrenOf(pid_t parent) {
  std::vector<pid_t> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const auto name = entry.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    const auto close = line.rfind(')');  // "pid (comm) state ppid ..."
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    char state = 0;
    pid_t ppid = 0;
    if (rest >> state >> ppid && ppid == parent) out.push_back(static_cast<pid_t>(std::stoi(name)));
  }
  return out;
}

// SIGSTOP or SIGCONT to the postmaster and every backend of a server (each backend is a
// session of its own): a server that hangs rather than refuses.
void SignalServer(const EmbeddedPostgres& server, int signal) {
  std::ifstream pidfile(server.data_dir() + "/postmaster.pid");
  pid_t pid = 0;
  REQUIRE((pidfile >> pid));
  if (signal == SIGSTOP) REQUIRE(::kill(pid, signal) == 0);  // first: it forks no more
  for (const auto child : ChildrenOf(pid)) ::kill(child, signal);
  if (signal != SIGSTOP) REQUIRE(::kill(pid, signal) == 0);
}

void Exec(const std::string& url, const std::string& sql) {
  pqxx::connection c(url);
  pqxx::nontransaction tx(c);
  tx.exec(sql);
}

// Appends `n` events of one aggregate each in its own transaction; every third one with
// synchronous_commit = off (visible before its commit record is flushed).
void Write(const PgTestSchema& db, int first, int n) {
  auto conn = db.Connect();
  for (int i = first; i < first + n; ++i) {
    pqxx::work tx(*conn);
    if (i % 3 == 0) tx.exec0("SET LOCAL synchronous_commit = off");
    tx.exec_params0("INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_type)"
                    " VALUES ('c', 't', $1, 1, 'E')",
                    "agg-" + std::to_string(i));
    tx.commit();
  }
}

// The follower, the WAL-position marks, the watch and one router, as a worker wires them.
struct StandbyReading {
  SystemClock clock;
  WalMarks marks;
  StandbyBoard board{{"standby"}};
  pg::PgPositionSource source;
  HighWaterMarkFollower follower;
  StandbyWatch watch;
  StandbyRouter router;

  StandbyReading(const pg::ConnectionOptions& primary, const pg::ConnectionOptions& standby,
                 bool fallback_to_primary = false)
      : source(primary),
        follower(source, clock, std::chrono::milliseconds(100)),
        watch(Probes(standby), marks, board, clock, Logger("test", "off", LogFormat::kText), std::chrono::hours(1)),
        router(std::make_unique<pg::PgEventReader>(primary), Sessions(standby), marks, board, clock,
               [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); },
               StandbyRouterOptions{fallback_to_primary}) {}

  static std::vector<std::unique_ptr<StandbyProbe>> Probes(const pg::ConnectionOptions& o) {
    std::vector<std::unique_ptr<StandbyProbe>> out;
    out.push_back(std::make_unique<pg::PgStandbyProbe>(o));
    return out;
  }
  static std::vector<std::unique_ptr<StandbySession>> Sessions(const pg::ConnectionOptions& o) {
    std::vector<std::unique_ptr<StandbySession>> out;
    out.push_back(std::make_unique<pg::PgEventReader>(o));
    return out;
  }
  void Round() {
    if (follower.Advance()) {
      if (auto at = source.ReadWalPosition()) marks.Record(follower.mark(), *at, clock.Now());
    }
    watch.Round();
  }
};

}  // namespace

TEST_CASE("a standby reports the primary's WAL history and a replay position at most the primary's insert position",
          "[standby]") {
  Pair pair;
  PgTestSchema db(pair.primary.Url(), true);
  pg::PgPositionSource source(db.options());
  const auto at = source.ReadWalPosition();
  REQUIRE(at);
  pqxx::connection primary(pair.primary.Url());
  pqxx::nontransaction ptx(primary);
  const auto flushed = std::stoull(ptx.exec1("SELECT (pg_current_wal_flush_lsn() - '0/0')::text")[0].as<std::string>());
  CHECK(at->lsn >= flushed);
  CHECK(at->timeline == 1);
  pg::PgStandbyProbe probe(On(pair.standby->Url(), db));
  REQUIRE(WaitFor([&] { return probe.Probe().replayed.lsn >= at->lsn; }, 30s));
  const auto facts = probe.Probe();
  CHECK(facts.in_recovery);
  CHECK(facts.replayed.SameHistory(*at));
  pg::PgStandbyProbe on_primary(db.options());
  CHECK_FALSE(on_primary.Probe().in_recovery);
}

TEST_CASE("a router reads every committed event from the standby exactly once, waiting while replay is paused",
          "[standby]") {
  Pair pair;
  PgTestSchema db(pair.primary.Url(), true);
  StandbyReading reading(db.options(), On(pair.standby->Url(), db));

  ReadRequest request;
  request.partition_count = 4;
  for (int p = 0; p < 4; ++p) request.after[p] = 0;
  request.limit = 37;
  std::map<std::int64_t, int> seen;
  auto read_available = [&] {
    reading.Round();
    request.high_water_mark = reading.follower.mark();
    const auto r = reading.router.ReadBatch(request);
    for (const auto& e : r.events) {
      ++seen[e.event.global_position];
      request.after[e.partition] = e.event.global_position;
    }
    for (auto& [p, a] : request.after) a = std::max(a, r.scanned_to);
    return r;
  };
  auto lowest = [&] {
    std::int64_t l = request.after.begin()->second;
    for (auto& [p, a] : request.after) l = std::min(l, a);
    return l;
  };

  // Writers race the reader.
  std::thread w1([&] { Write(db, 0, 300); });
  std::thread w2([&] { Write(db, 1000, 300); });
  const bool all_read = WaitFor([&] {
    read_available();
    return seen.size() >= 600;
  }, 60s);
  w1.join();
  w2.join();
  REQUIRE(all_read);

  // Replay paused: new events are proven on the primary, the standby does not have them,
  // and the router returns nothing for them (it waits instead of reading the primary).
  // Once pg_wal_replay_pause() returns, the standby applies no further record.
  Exec(pair.standby->Url(), "SELECT pg_wal_replay_pause()");
  Write(db, 5000, 50);
  REQUIRE(WaitFor([&] {
    reading.Round();
    return reading.follower.mark() >= 650 && reading.marks.Latest()->lsn > 0;
  }, 20s));
  const auto before = seen.size();
  for (int i = 0; i < 3; ++i) {
    const auto r = read_available();
    CHECK(r.events.empty());
  }
  CHECK(seen.size() == before);
  CHECK(lowest() < reading.follower.mark());
  const auto figures = reading.board.Figures();
  CHECK(figures.primary_batches == 0);
  CHECK(figures.waits >= 3);
  CHECK(figures.standbys[0].lag_bytes > 0);

  Exec(pair.standby->Url(), "SELECT pg_wal_replay_resume()");
  REQUIRE(WaitFor([&] {
    read_available();
    return seen.size() == 650;
  }, 30s));
  for (const auto& [position, n] : seen) CHECK(n == 1);
  CHECK(reading.board.Figures().primary_batches == 0);
  CHECK(reading.board.Figures().standbys[0].batches > 0);
  const auto committed = db.Scalar<std::int64_t>("SELECT count(*) FROM events");
  CHECK(committed == 650);
}

TEST_CASE("a frozen standby costs a read its client deadline, then the batch comes from the primary", "[standby]") {
  Pair pair;
  PgTestSchema db(pair.primary.Url(), true);
  auto standby = On(pair.standby->Url(), db);
  standby.client_deadline = std::chrono::milliseconds(1000);
  StandbyReading reading(db.options(), standby, true);
  ReadRequest request;
  request.partition_count = 1;
  request.after[0] = 0;
  request.limit = 100;
  std::int64_t delivered = 0;
  auto read = [&] {
    request.high_water_mark = reading.follower.mark();
    const auto r = reading.router.ReadBatch(request);
    delivered += static_cast<std::int64_t>(r.events.size());
    request.after[0] = std::max(request.after[0], r.scanned_to);
  };
  Write(db, 0, 10);
  REQUIRE(WaitFor([&] {
    reading.Round();
    read();
    return delivered == 10;
  }, 30s));
  CHECK(reading.board.Figures().primary_batches == 0);

  SignalServer(*pair.standby, SIGSTOP);
  Write(db, 100, 10);
  REQUIRE(WaitFor([&] {
    if (reading.follower.Advance()) reading.marks.Record(reading.follower.mark(), *reading.source.ReadWalPosition(),
                                                         reading.clock.Now());
    return reading.follower.mark() >= 20;
  }, 30s));
  // The session's replay position cannot be read: the deadline ends the wait, the primary serves.
  auto frozen_read = std::async(std::launch::async, read);
  const bool returned = frozen_read.wait_for(60s) == std::future_status::ready;
  if (!returned) SignalServer(*pair.standby, SIGCONT);
  REQUIRE(returned);
  frozen_read.get();
  CHECK(delivered == 20);
  auto figures = reading.board.Figures();
  CHECK(figures.primary_batches == 1);
  CHECK(figures.standbys[0].read_errors == 1);
  // The watch's probe is bounded the same way and marks it down.
  reading.watch.Round();
  CHECK(reading.board.Figures().standbys[0].condition == StandbyCondition::kDown);

  SignalServer(*pair.standby, SIGCONT);
  Write(db, 200, 10);
  REQUIRE(WaitFor([&] {
    reading.Round();
    read();
    return delivered == 30 && reading.board.Usable(0);
  }, 30s));
  const auto before = reading.board.Figures().standbys[0].batches;
  Write(db, 300, 10);
  REQUIRE(WaitFor([&] {
    reading.Round();
    read();
    return delivered == 40;
  }, 30s));
  CHECK(reading.board.Figures().standbys[0].batches > before);
}

TEST_CASE("SocketDeadline ends a blocked read at its deadline and never touches the socket after Disarm",
          "[standby]") {
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  pg::SocketDeadline deadline;
  {
    // Disarmed in time: the socket stays usable.
    const pg::SocketDeadline::Guard guard(deadline, fds[0], std::chrono::milliseconds(60000));
  }
  REQUIRE(::write(fds[1], "x", 1) == 1);
  char c = 0;
  CHECK(::read(fds[0], &c, 1) == 1);
  // Armed: a read that would block forever returns (end of stream) once the deadline fires.
  deadline.Arm(fds[0], std::chrono::milliseconds(50));
  auto blocked = std::async(std::launch::async, [&] { return ::read(fds[0], &c, 1); });
  REQUIRE(blocked.wait_for(30s) == std::future_status::ready);
  CHECK(blocked.get() == 0);
  CHECK(deadline.Disarm());
  ::close(fds[0]);
  ::close(fds[1]);
}

}  // namespace projd
