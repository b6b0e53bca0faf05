#include "orchestrator/reading/pg/index_build_progress.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>

#include <pqxx/pqxx>

namespace projd::pg {
namespace {

// Another role's build shows a NULL phase (no pg_read_all_stats): nothing to say then.
constexpr const char* kSampleSql =
    "SELECT coalesce(phase, ''), coalesce(blocks_done, 0), coalesce(blocks_total, 0),"
    " coalesce(tuples_done, 0), coalesce(tuples_total, 0), coalesce(lockers_done, 0),"
    " coalesce(lockers_total, 0), coalesce(current_locker_pid, 0)"
    " FROM pg_stat_progress_create_index WHERE pid = $1";

// A sample is one quick catalog read: bounds how long Stop() can wait for it.
constexpr std::chrono::milliseconds kSampleTimeout{5000};

struct Counter {
  std::int64_t done, total;
  const char* unit;
};

// The counter that moves in this phase. PostgreSQL keeps the others from earlier phases
// (the table's blocks stay at 100 % while the tuples are loaded into the tree), so the phase
// decides: waits count transactions, loading counts tuples, scans count blocks.
std::optional<Counter> CounterOf(const IndexBuildSample& s) {
  const auto has = [&s](const char* word) { return s.phase.find(word) != std::string::npos; };
  if (s.phase.starts_with("waiting") && s.lockers_total > 0) return Counter{s.lockers_done, s.lockers_total, "transactions"};
  if (has("loading tuples") && s.tuples_total > 0) return Counter{s.tuples_done, s.tuples_total, "tuples"};
  if (has("scanning") && s.blocks_total > 0) return Counter{s.blocks_done, s.blocks_total, "blocks"};
  return std::nullopt;
}

int Percent(const Counter& c) { return static_cast<int>(std::clamp<std::int64_t>(c.done * 100 / c.total, 0, 100)); }

IndexBuildSample FromRow(const pqxx::row& r) {
  return {r[0].as<std::string>(), r[1].as<std::int64_t>(), r[2].as<std::int64_t>(), r[3].as<std::int64_t>(),
          r[4].as<std::int64_t>(), r[5].as<std::int64_t>(), r[6].as<std::int64_t>(), r[7].as<int>()};
}

}  // namespace

std::string FormatIndexBuildLine(const std::string& index, const IndexBuildSample& sample) {
  std::string line = "index " + index + ": " + sample.phase;
  const auto counter = CounterOf(sample);
  if (!counter) return line;
  if (std::string(counter->unit) == "transactions") {
    // Whom the build waits for is what an operator can act on (operations.md).
    line += ": " + std::to_string(counter->done) + " of " + std::to_string(counter->total) + " transactions ended";
    if (sample.current_locker_pid != 0) line += ", waiting for pid " + std::to_string(sample.current_locker_pid);
    return line;
  }
  return line + " " + std::to_string(Percent(*counter)) + " % (" + std::to_string(counter->done) + "/" +
         std::to_string(counter->total) + " " + counter->unit + ")";
}

std::string IndexBuildStep(const IndexBuildSample& sample) {
  const auto counter = CounterOf(sample);
  return sample.phase + "|" + (counter ? std::to_string(Percent(*counter) / 10) : "");
}

IndexBuildProgress::IndexBuildProgress(ConnectionOptions options, int builder_pid, std::string index, Report report,
                                       std::chrono::milliseconds interval)
    : options_(std::move(options)),
      builder_pid_(builder_pid),
      index_(std::move(index)),
      report_(std::move(report)),
      interval_(interval) {
  if (options_.timeouts.statement.count() == 0) options_.timeouts.statement = kSampleTimeout;
  thread_ = std::thread([this] { Run(); });
}

IndexBuildProgress::~IndexBuildProgress() {
  try {
    Stop();
  } catch (const std::exception&) {
    // join() failing leaves nothing to clean up that the process could still use.
  }
}

void IndexBuildProgress::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool IndexBuildProgress::Stopped(std::chrono::milliseconds wait) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, wait, [this] { return stop_; });
}

void IndexBuildProgress::Run() {
  try {
    std::unique_ptr<pqxx::connection> conn;
    std::string last_step;
    while (!Stopped(interval_)) {
      if (!conn) conn = Connect(options_);
      pqxx::nontransaction tx(*conn);
      const auto rows = tx.exec_params(kSampleSql, builder_pid_);
      if (rows.empty()) continue;  // not started yet, or finished
      const auto sample = FromRow(rows[0]);
      if (sample.phase.empty() || IndexBuildStep(sample) == last_step) continue;
      last_step = IndexBuildStep(sample);
      report_(FormatIndexBuildLine(index_, sample));
    }
  } catch (...) {
    // The build goes on unwatched: its own session reports how it ended.
  }
}

}  // namespace projd::pg
