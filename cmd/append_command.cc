// `projd append`: append one event from flags, or JSON lines from stdin.
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cmd/cli.h"
#include "orchestrator/common/errors.h"
#include "orchestrator/reading/pg/pg_event_store.h"

namespace projd::cli {
namespace {

struct AppendFlags {
  std::string bounded_context = "default";
  std::string aggregate_type;
  std::string aggregate_id;
  std::string event_type;
  std::string payload;
  std::string metadata;
  std::string expected = "any";
  bool stdin_lines = false;
};

ExpectedVersion ParseExpected(const std::string& text) {
  if (text == "any" || text.empty()) return ExpectedVersion::Any();
  if (text == "none" || text == "no-stream") return ExpectedVersion::NoStream();
  try {
    std::size_t used = 0;
    const long long v = std::stoll(text, &used);
    if (used == text.size() && v >= 0) return v == 0 ? ExpectedVersion::NoStream() : ExpectedVersion::Exact(v);
  } catch (const std::exception&) {
  }
  throw UsageError("--expected-version=" + text + ": use any, none, or a version number");
}

std::string Field(const nlohmann::json& o, const char* key, const std::string& fallback, int line) {
  const auto it = o.find(key);
  if (it == o.end() || it->is_null()) return fallback;
  if (it->is_string()) return it->get<std::string>();
  const std::string k = key;
  if (k == "payload" || k == "metadata" || k == "expected_version") return it->dump();
  throw UsageError("stdin line " + std::to_string(line) + ": field " + k + " must be a string");
}

int AppendOne(EventStore& store, const AppendFlags& f) {
  for (const auto& [name, value] : {std::pair{"--aggregate-type", f.aggregate_type},
                                    std::pair{"--aggregate-id", f.aggregate_id},
                                    std::pair{"--event-type", f.event_type}}) {
    if (value.empty()) throw UsageError(std::string(name) + " is required");
  }
  NewEvent e;
  e.event_type = f.event_type;
  e.payload = f.payload;
  if (!f.metadata.empty()) e.metadata = f.metadata;
  const auto result = store.Append({f.bounded_context, f.aggregate_type, f.aggregate_id},
                                   ParseExpected(f.expected), std::span<const NewEvent>(&e, 1));
  std::cout << "{\"global_position\":" << result.positions.front()
            << ",\"aggregate_version\":" << result.last_version << "}\n";
  return kExitOk;
}

int AppendLines(EventStore& store, const AppendFlags& defaults) {
  std::string line;
  int line_no = 0, appended = 0, conflicts = 0;
  while (std::getline(std::cin, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto o = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!o.is_object()) {
      throw UsageError("stdin line " + std::to_string(line_no) + ": not a JSON object");
    }
    AppendFlags f = defaults;
    f.bounded_context = Field(o, "bounded_context", defaults.bounded_context, line_no);
    f.aggregate_type = Field(o, "aggregate_type", defaults.aggregate_type, line_no);
    f.aggregate_id = Field(o, "aggregate_id", defaults.aggregate_id, line_no);
    f.event_type = Field(o, "event_type", defaults.event_type, line_no);
    f.payload = Field(o, "payload", defaults.payload, line_no);
    f.metadata = Field(o, "metadata", defaults.metadata, line_no);
    f.expected = Field(o, "expected_version", defaults.expected, line_no);
    try {
      AppendOne(store, f);
      ++appended;
    } catch (const ConcurrencyConflict& e) {
      ++conflicts;
      std::cerr << "projd: stdin line " << line_no << ": " << e.what() << "\n";
    }
  }
  std::cerr << "appended " << appended << " event(s), " << conflicts << " conflict(s)\n";
  return conflicts == 0 ? kExitOk : kExitFailure;
}

}  // namespace

void AddAppendCommand(CLI::App& app, Invocation& invocation) {
  auto* cmd = app.add_subcommand("append", "append one event (flags) or JSON lines (--stdin)");
  AddConfigFlags(*cmd, invocation);
  auto f = std::make_shared<AppendFlags>();
  cmd->add_option("--bounded-context", f->bounded_context, "bounded context (default \"default\")");
  cmd->add_option("--aggregate-type", f->aggregate_type, "aggregate type");
  cmd->add_option("--aggregate-id", f->aggregate_id, "aggregate id");
  cmd->add_option("--event-type", f->event_type, "event type");
  cmd->add_option("--payload", f->payload, "payload (stored as bytes)");
  cmd->add_option("--metadata", f->metadata, "metadata (a JSON object)");
  cmd->add_option("--expected-version", f->expected, "any (default), none, or the current version N");
  cmd->add_flag("--stdin", f->stdin_lines, "read JSON objects, one per line, from stdin");
  cmd->callback([&invocation, f] {
    invocation.action = [&invocation, f] {
      RequireDatabaseUrl(invocation);
      const Config& c = invocation.loaded.config;
      pg::PgEventStore store({c.database_url, c.database_schema, "projd-append"});
      return f->stdin_lines ? AppendLines(store, *f) : AppendOne(store, *f);
    };
  });
}

}  // namespace projd::cli
