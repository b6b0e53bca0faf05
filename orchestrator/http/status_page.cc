#include "orchestrator/http/status_page.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <random>

#include "orchestrator/common/version.h"
#include "orchestrator/http/html_escape.h"
#include "orchestrator/http/status_page_script.h"
#include "orchestrator/runtime/readiness.h"

namespace projd::http {
namespace {

// Every figure the script updates carries data-f="<name>"; the script finds it by that name
// within its row or section, so the markup and the script must agree on these names.
std::string Figure(std::string_view field, std::string_view text, std::string_view tag = "span") {
  return "<" + std::string(tag) + " data-f=\"" + std::string(field) + "\">" + EscapeHtml(text) + "</" +
         std::string(tag) + ">";
}

std::string Seconds(std::optional<double> s) {
  if (!s) return "unknown";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", *s);
  return buf;
}

template <typename T>
std::string Known(const std::optional<T>& v) {
  return v ? std::to_string(*v) : "unknown";
}

// The state as a badge; unknown state names (added later) render like any other.
std::string StateCell(const std::string& state) {
  return "<td class=\"state\" data-f=\"state\" data-state=\"" + EscapeHtml(state) + "\">" + EscapeHtml(state) + "</td>";
}

// <li> items, or one item saying `none`.
std::string ListItems(const std::vector<std::string>& items, std::string_view none) {
  if (items.empty()) return "<li class=\"none\">" + EscapeHtml(none) + "</li>";
  std::string out;
  for (const auto& i : items) out += "<li>" + EscapeHtml(i) + "</li>";
  return out;
}

std::string Head(const WorkerStatus& s, std::string_view nonce) {
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<title>projd " + EscapeHtml(s.worker_name) + " (" + EscapeHtml(s.replica_set) + ")</title>"
         "<style nonce=\"" + std::string(nonce) + "\">" + std::string(kStatusPageStyle) + "</style></head>\n<body>\n";
}

std::string Header(const WorkerStatus& s, const Readiness& ready) {
  const auto& c = s.coordination;
  const auto mark = s.high_water_mark_known ? std::to_string(s.high_water_mark) : std::string("unknown");
  return "<header><h1>projd worker " + EscapeHtml(s.worker_name) + "</h1>\n<p>replica set <b>" +
         EscapeHtml(s.replica_set) + "</b> &middot; id <code>" + EscapeHtml(s.worker_id) + "</code> &middot; projd " +
         EscapeHtml(kVersion) + " &middot; generation " + Figure("generation", std::to_string(c.generation), "b") +
         " (acknowledged " + Figure("acked_generation", std::to_string(c.acked_generation)) +
         ") &middot; high-water mark " + Figure("mark", mark, "b") + " &middot; <b data-f=\"ready\" data-ready=\"" +
         (ready.ready ? "true\">ready" : "false\">not ready") + "</b>" + (s.stopping ? " &middot; stopping" : "") +
         "</p>\n<p id=\"live\">Figures as of this page's rendering; without JavaScript, reload for newer ones.</p>"
         "</header>\n";
}

std::string MembersSection(const WorkerStatus& s) {
  const auto& c = s.coordination;
  std::string rows;
  for (const auto& m : c.assignment) {
    const auto name = m.worker_name + (m.worker_id == s.worker_id ? " (this worker)" : "");
    rows += "<tr><td>" + EscapeHtml(name) + "</td><td>" + PartitionRanges(m.partitions) + "</td><td>" +
            std::to_string(m.partitions.size()) + "</td></tr>";
  }
  if (rows.empty()) rows = "<tr><td colspan=\"3\">no assignment read yet</td></tr>";
  return "<section id=\"replica-set\"><h2>Replica set</h2>\n<p>" +
         Figure("live_members", std::to_string(c.live_members)) + " live members &middot; " +
         Figure("partition_count", std::to_string(c.partition_count)) +
         " partitions &middot; this worker owns " + Figure("owned", std::to_string(c.owned.size())) +
         ", waits for " + Figure("waiting", std::to_string(c.waiting.size())) + ", releases " +
         Figure("releasing", std::to_string(c.releasing.size())) +
         "</p>\n<table id=\"members\"><thead><tr><th>member</th><th>partitions</th><th>count</th></tr></thead><tbody>" +
         rows + "</tbody></table></section>\n";
}

std::string ProjectionRow(const WorkerStatus& s, const RunnerStatus& r, std::int64_t max_lag) {
  const auto lag = LagEvents(s, r);
  return "<tr data-projection=\"" + EscapeHtml(r.projection) + "\"><td>" + EscapeHtml(r.projection) + "</td>" +
         StateCell(ToString(r.state)) + Figure("partitions", std::to_string(r.partitions), "td") +
         Figure("position", std::to_string(r.min_position), "td") + Figure("lag_events", Known(lag), "td") +
         "<td><meter data-f=\"lag_bar\" min=\"0\" max=\"" + std::to_string(max_lag) + "\" value=\"" +
         std::to_string(lag.value_or(0)) + "\">" + Known(lag) + "</meter></td>" +
         Figure("lag_seconds", Seconds(LagSeconds(s, r)), "td") +
         Figure("events_processed", std::to_string(r.events_processed), "td") + "</tr>";
}

std::string ProjectionsSection(const WorkerStatus& s) {
  std::int64_t max_lag = 1;
  for (const auto& r : s.runners) max_lag = std::max(max_lag, LagEvents(s, r).value_or(0));
  std::string rows;
  for (const auto& r : s.runners) rows += ProjectionRow(s, r, max_lag);
  if (rows.empty()) rows = "<tr><td colspan=\"8\">no projection runs here</td></tr>";
  return "<section id=\"lag\"><h2>Projections</h2>\n<table id=\"projections\"><thead><tr><th>projection</th>"
         "<th>state</th><th>partitions</th><th>position</th><th>lag (events)</th><th>lag</th><th>behind (s)</th>"
         "<th>events processed</th></tr></thead><tbody>" +
         rows +
         "</tbody></table>\n<h3>Lag over time (events)</h3>\n"
         "<svg id=\"lag-chart\" viewBox=\"0 0 760 180\" role=\"img\" aria-label=\"lag over time\">"
         "<text x=\"10\" y=\"90\">The chart is drawn by this page's script from /status, polled every 2 s.</text>"
         "</svg></section>\n";
}

std::string StatesSection(const WorkerStatus& s) {
  std::string rows;
  for (const auto& r : s.runners) {
    rows += "<tr data-projection=\"" + EscapeHtml(r.projection) + "\"><td>" + EscapeHtml(r.projection) + "</td>" +
            StateCell(ToString(r.state)) + "<td><ul data-f=\"reasons\">" + ListItems(RunnerReasons(s, r), "-") +
            "</ul></td></tr>";
  }
  return "<section id=\"states\"><h2>Runner states</h2>\n<table id=\"runners\"><thead><tr><th>projection</th>"
         "<th>state</th><th>why</th></tr></thead><tbody>" +
         rows + "</tbody></table></section>\n";
}

std::string DeadLettersSection(const WorkerStatus& s) {
  std::string rows;
  for (const auto& r : s.runners) {
    rows += "<tr data-projection=\"" + EscapeHtml(r.projection) + "\"><td>" + EscapeHtml(r.projection) + "</td>" +
            Figure("dead_letters", std::to_string(r.dead_letters), "td") +
            Figure("parked_aggregates", std::to_string(r.parked_aggregates), "td") + "</tr>";
  }
  return "<section id=\"dead-letters\"><h2>Dead letters</h2>\n<p>Set aside by this worker since it started "
         "(<code>projd dead-letters list</code> shows them all).</p>\n<table id=\"dead-letter-counts\"><thead><tr>"
         "<th>projection</th><th>dead letters</th><th>parked aggregates</th></tr></thead><tbody>" +
         rows + "</tbody></table></section>\n";
}

std::string PersistenceSection(const WorkerStatus& s, const Readiness& ready) {
  const auto& p = s.persistence;
  return "<section id=\"persistence\"><h2>Persistence core</h2>\n<p>circuit breaker <b class=\"state\" "
         "data-f=\"breaker\" data-state=\"" + EscapeHtml(p.circuit_breaker_state) + "\">" +
         EscapeHtml(p.circuit_breaker_state) + "</b> &middot; failures in a row " +
         Figure("breaker_failures", std::to_string(p.circuit_breaker_failure_count)) + " &middot; trips " +
         Figure("breaker_trips", std::to_string(p.circuit_breaker_trips)) + " &middot; pending checkpoints " +
         Figure("pending", std::to_string(p.pending_count)) + " &middot; last error " +
         Figure("persistence_error", p.last_error.empty() ? "none" : p.last_error) +
         "</p>\n<h3>Not ready because</h3><ul id=\"unready\">" + ListItems(ready.reasons, "nothing: ready") +
         "</ul>\n<h3>Degraded</h3><ul id=\"degraded\">" + ListItems(ready.degraded, "nothing") +
         "</ul>\n<h3>Paused by an operator</h3><ul id=\"paused\">" + ListItems(ready.paused, "nothing") +
         "</ul></section>\n";
}

std::string HeldBy(const HoldingTransaction& h) {
  std::string out = "the high-water mark waits on a live transaction: pid " + std::to_string(h.pid);
  if (!h.xid.empty()) out += ", xid " + h.xid;
  if (!h.application_name.empty()) out += ", application " + h.application_name;
  if (!h.state.empty()) out += ", " + h.state;
  if (!h.xact_start.empty()) out += ", since " + h.xact_start;
  return out;
}

std::string NewNonce() {
  std::random_device random;
  std::string out;
  for (int i = 0; i < 4; ++i) {
    char buf[9];
    std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(random()));
    out += buf;
  }
  return out;
}

}  // namespace

std::vector<std::string> RunnerReasons(const WorkerStatus& s, const RunnerStatus& r) {
  std::vector<std::string> out;
  for (const auto& p : r.stopped) {
    out.push_back("partition " + std::to_string(p.partition) + " stopped at position " + std::to_string(p.position) +
                  ": " + p.error);
  }
  if (r.state == RunnerState::kHeld) {
    out.push_back(s.mark.held_by ? HeldBy(*s.mark.held_by) : "the high-water mark waits on a live transaction");
  }
  if (r.state == RunnerState::kStalled) out.push_back("events wait but nothing committed lately");
  if (!r.paused.Empty()) out.push_back("paused by an operator on " + Describe(r.paused));
  const bool failing = r.state == RunnerState::kFailing || r.state == RunnerState::kStalled;
  if (failing && !r.last_error.empty()) {
    out.push_back((r.database_error ? "database error, retried: " : "last error: ") + r.last_error);
  }
  return out;
}

std::string PartitionRanges(const std::vector<int>& partitions) {
  std::string out;
  for (std::size_t i = 0; i < partitions.size();) {
    std::size_t j = i;
    while (j + 1 < partitions.size() && partitions[j + 1] == partitions[j] + 1) ++j;
    if (!out.empty()) out += ", ";
    out += std::to_string(partitions[i]);
    if (j > i) out += "-" + std::to_string(partitions[j]);
    i = j + 1;
  }
  return out;
}

std::string RenderStatusPage(const WorkerStatus& s, std::string_view nonce) {
  const auto ready = CheckReadiness(s);
  return Head(s, nonce) + Header(s, ready) + "<main>\n" + MembersSection(s) + ProjectionsSection(s) +
         StatesSection(s) + DeadLettersSection(s) + PersistenceSection(s, ready) + "</main>\n<script nonce=\"" +
         std::string(nonce) + "\">" + std::string(kStatusPageScript) + "</script>\n</body></html>\n";
}

std::string StatusPagePolicy(std::string_view nonce) {
  const auto n = std::string(nonce);
  return "default-src 'none'; script-src 'nonce-" + n + "'; style-src 'nonce-" + n +
         "'; connect-src 'self'; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
}

HttpResponse StatusPageResponse(const WorkerStatus& status) {
  const auto nonce = NewNonce();
  return {200,
          "text/html; charset=utf-8",
          RenderStatusPage(status, nonce),
          {{"Content-Security-Policy", StatusPagePolicy(nonce)},
           {"X-Content-Type-Options", "nosniff"},
           {"Cache-Control", "no-store"},
           {"Referrer-Policy", "no-referrer"}}};
}

}  // namespace projd::http
