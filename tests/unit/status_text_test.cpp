// The text of `projd status`'s partition table and of --watch frames, without a database.
#include <catch2/catch.hpp>

#include "orchestrator/coordination/status_text.h"

using namespace projd;

namespace {

PartitionStatus Row(const std::string& projection, int partition) {
  PartitionStatus r;
  r.projection = projection;
  r.partition = partition;
  r.position = 1200;
  r.lag_events = 34;
  r.lag_seconds = 75;
  r.state = "running";
  r.source = StateSource::kOwner;
  r.owner = "worker-a";
  r.owner_id = "id-a";
  return r;
}

}  // namespace

TEST_CASE("ages read as seconds, minutes, hours and days", "[unit][status]") {
  CHECK(FormatAge(0) == "0 s");
  CHECK(FormatAge(-3) == "0 s");
  CHECK(FormatAge(4.24) == "4.2 s");
  CHECK(FormatAge(37.9) == "37 s");
  CHECK(FormatAge(187) == "3m07s");
  CHECK(FormatAge(2 * 3600 + 5 * 60 + 9) == "2h05m");
  CHECK(FormatAge(3 * 86400 + 4 * 3600) == "3d04h");
}

TEST_CASE("an error cell is one line, cut at a character boundary", "[unit][status]") {
  CHECK(OneLine("a\nb\tc\r\n", 20) == "a b c");
  CHECK(OneLine("abcdefghij", 10) == "abcdefghij");
  CHECK(OneLine("abcdefghijk", 10) == "abcdefg...");
  // "é" is two bytes: a cut inside it backs up before it.
  CHECK(OneLine("abcdeé-tail-of-text", 8) == "abcde...");
}

TEST_CASE("the error cell says whose report it is", "[unit][status]") {
  auto row = Row("orders", 0);
  CHECK(ErrorCell(row) == "-");

  row.last_error = "relation \"x\" does not exist";
  row.error_age_seconds = 5;
  row.report = StateReport{"id-a", "worker-a", "failing", row.last_error, 5.0, 9};
  row.report_current = true;
  CHECK(ErrorCell(row) == "5.0 s ago: relation \"x\" does not exist");

  row.state = "-";
  row.source = StateSource::kStale;
  row.report = StateReport{"0123456789abcdef", "", "failing", row.last_error, 5.0, 130};
  row.report_current = false;
  CHECK(ErrorCell(row) == "(stale: failing on worker 01234567 (gone), 2m10s ago) 5.0 s ago: relation \"x\" does not exist");

  row.last_error.clear();
  row.report->worker_name = "worker-b";
  CHECK(ErrorCell(row) == "(stale: failing on worker-b, 2m10s ago)");
}

TEST_CASE("the partition table has a header and one aligned line per partition", "[unit][status]") {
  auto paused = Row("orders@2", 1);
  paused.state = "paused";
  paused.owner = "unassigned";
  const auto text = FormatPartitionTable({Row("orders", 0), paused}, "");
  CHECK(text ==
        "PROJECTION PART   CHECKPOINT   LAG EVENTS      LAG STATE     OWNER                LAST ERROR\n"
        "orders        0         1200           34    1m15s running   worker-a             -\n"
        "orders@2      1         1200           34    1m15s paused    unassigned           -\n");
}

TEST_CASE("an empty partition table says why", "[unit][status]") {
  CHECK(FormatPartitionTable({}, "") == "no checkpoint rows yet (no projection has started)\n");
  CHECK(FormatPartitionTable({}, "orders") == "no checkpoint rows for projection orders\n");
}

TEST_CASE("a terminal frame overwrites the previous one in place", "[unit][status]") {
  CHECK(TerminalFrame("one\ntwo\n") == "\x1b[Hone\x1b[K\ntwo\x1b[K\n\x1b[J");
  CHECK(TerminalFrame("last line without newline") == "\x1b[Hlast line without newline\x1b[K\n\x1b[J");
}

TEST_CASE("a terminal frame never scrolls: lines cut to the width, the rest of a long text counted",
          "[unit][status]") {
  CHECK(TerminalFrame("abcdefgh\nxy\n", {10, 5}) == "\x1b[Habcd\x1b[K\nxy\x1b[K\n\x1b[J");
  // "é" is two bytes: a cut inside it backs up before it.
  CHECK(TerminalFrame("abcé\n", {10, 5}) == "\x1b[Habc\x1b[K\n\x1b[J");
  // 5 rows: 4 usable (the last stays empty), so 3 lines and the count of the 3 others.
  CHECK(TerminalFrame("1\n2\n3\n4\n5\n6\n", {5, 80}) ==
        "\x1b[H1\x1b[K\n2\x1b[K\n3\x1b[K\n... 3 more lines (name one projection to see it)\x1b[K\n\x1b[J");
  CHECK(TerminalFrame("1\n2\n3\n4\n", {5, 80}) == "\x1b[H1\x1b[K\n2\x1b[K\n3\x1b[K\n4\x1b[K\n\x1b[J");
}

TEST_CASE("plain frames are appended apart by a blank line", "[unit][status]") {
  CHECK(PlainFrame("a\nb\n", true) == "a\nb\n");
  CHECK(PlainFrame("a\nb", false) == "\na\nb\n");
}

TEST_CASE("a watch frame names the interval, the replica set and the time", "[unit][status]") {
  const auto at = std::chrono::system_clock::time_point(std::chrono::seconds(1796185800));  // 2026-12-02 04:30:00
  CHECK(WatchHeader("orders", std::chrono::seconds(2), at) ==
        "projd status --watch 2s: replica set orders at 2026-12-02 04:30:00 UTC (Ctrl-C ends)\n");
}

TEST_CASE("an error frame says what failed, when it tries again and how old the shown snapshot is", "[unit][status]") {
  CHECK(WatchErrorLine("cannot connect", std::chrono::milliseconds(4000), 3, 12.5) ==
        "database error (attempt 3, next try in 4s): cannot connect\nlast snapshot read 12 s ago:\n");
  CHECK(WatchErrorLine("x\ny", std::chrono::milliseconds(500), 1, std::nullopt) ==
        "database error (attempt 1, next try in 500ms): x y\nno snapshot read yet\n");
}
