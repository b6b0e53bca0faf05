// `projd read`: print events gap-safely as JSON lines (one object per line).
#include <iostream>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cmd/cli.h"
#include "orchestrator/reading/high_water_mark_follower.h"
#include "orchestrator/pg/event_notifier.h"
#include "orchestrator/reading/pg/pg_event_reader.h"
#include "orchestrator/reading/pg/pg_position_source.h"

namespace projd::cli {
namespace {

struct ReadFlags {
  std::int64_t from = 0;
  std::string partitions;  // "0,5,9"; empty = all
  bool follow = false;
  std::int64_t limit = 0;  // 0 = no limit
};

bool IsValidUtf8(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    const int n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    if (n < 0 || i + n >= s.size() + (n == 0 ? 1 : 0)) {
      if (n != 0) return false;
    }
    for (int k = 1; k <= n; ++k) {
      if (i + k >= s.size() || (static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    }
    i += n + 1;
  }
  return true;
}

std::string Hex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "\\x";
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::map<int, std::int64_t> OwnedPartitions(const std::string& list, int count, std::int64_t from) {
  std::map<int, std::int64_t> after;
  if (list.empty()) {
    for (int p = 0; p < count; ++p) after[p] = from;
    return after;
  }
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    std::size_t used = 0;
    int p = -1;
    try {
      p = std::stoi(item, &used);
    } catch (const std::exception&) {
    }
    if (used != item.size() || p < 0 || p >= count) {
      throw UsageError("--partitions: '" + item + "' is not a partition of 0.." + std::to_string(count - 1));
    }
    after[p] = from;
  }
  return after;
}

int RunRead(const Invocation& invocation, const ReadFlags& flags) {
  RequireDatabaseUrl(invocation);
  const Config& c = invocation.loaded.config;
  const pg::ConnectionOptions db{c.database_url, c.database_schema, "projd-read"};
  SystemClock clock;
  pg::PgPositionSource source(db);
  HighWaterMarkFollower follower(source, clock, c.gap_grace, flags.from);
  pg::PgEventReader reader(db);
  std::unique_ptr<pg::EventNotifier> notifier;
  if (flags.follow) notifier = std::make_unique<pg::EventNotifier>(db);

  ReadRequest request;
  request.partition_count = c.partitions;
  request.after = OwnedPartitions(flags.partitions, c.partitions, flags.from);
  request.limit = c.batch_size;
  std::int64_t printed = 0;
  while (true) {
    if (notifier) notifier->Wait(std::chrono::milliseconds(0));
    if (!follower.Advance()) std::cerr << "projd read: " << follower.last_error() << " (retrying)\n";
    request.high_water_mark = follower.mark();
    while (true) {
      const auto batch = reader.ReadBatch(request);
      for (const auto& ep : batch.events) {
        const auto& e = ep.event;
        nlohmann::json j = {{"global_position", e.global_position},
                            {"bounded_context", e.bounded_context},
                            {"aggregate_type", e.aggregate_type},
                            {"aggregate_id", e.aggregate_id},
                            {"aggregate_version", e.aggregate_version},
                            {"event_type", e.event_type},
                            {"partition", ep.partition},
                            {"payload", IsValidUtf8(e.payload) ? e.payload : Hex(e.payload)}};
        std::cout << j.dump() << "\n";
        if (flags.limit > 0 && ++printed >= flags.limit) return kExitOk;
      }
      for (auto& [p, after] : request.after) after = std::max(after, batch.scanned_to);
      if (static_cast<int>(batch.events.size()) < request.limit) break;
    }
    std::cout << std::flush;
    if (!flags.follow) return kExitOk;
    notifier->Wait(c.poll_interval);
  }
}

}  // namespace

void AddReadCommand(CLI::App& app, Invocation& invocation) {
  auto* cmd = app.add_subcommand("read", "print events up to the high-water mark as JSON lines");
  // --partitions lists partitions here; the partition count is PARTITIONS or --partition-count.
  AddConfigFlags(*cmd, invocation, {"PARTITIONS"});
  cmd->add_option_function<std::string>(
         "--partition-count", [&invocation](const std::string& v) { invocation.flags["PARTITIONS"] = v; },
         "overrides env PARTITIONS")
      ->group("Configuration");
  auto f = std::make_shared<ReadFlags>();
  cmd->add_option("--from", f->from, "start after this position (default 0)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--partitions", f->partitions, "comma-separated partitions of PARTITIONS (default all)");
  cmd->add_flag("--follow", f->follow, "keep reading new events as they are committed");
  cmd->add_option("--limit", f->limit, "stop after N events")->check(CLI::NonNegativeNumber);
  cmd->callback([&invocation, f] {
    invocation.action = [&invocation, f] { return RunRead(invocation, *f); };
  });
}

}  // namespace projd::cli
