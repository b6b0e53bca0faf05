#include "orchestrator/coordination/status_text.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "orchestrator/config/duration.h"

namespace projd {
namespace {

// Widest error shown in the table; --json has the whole text.
constexpr std::size_t kErrorWidth = 120;

std::string Printf(const char* format, auto... args) {
  char buf[256];
  const int n = std::snprintf(buf, sizeof buf, format, args...);
  return std::string(buf, static_cast<std::size_t>(std::clamp(n, 0, static_cast<int>(sizeof buf) - 1)));
}

std::string Reporter(const StateReport& r) {
  return r.worker_name.empty() ? "worker " + r.worker_id.substr(0, 8) + " (gone)" : r.worker_name;
}

}  // namespace

std::string FormatAge(double seconds) {
  if (!(seconds > 0)) return "0 s";
  if (seconds < 10) return Printf("%.1f s", seconds);
  if (seconds < 60) return Printf("%.0f s", std::floor(seconds));
  const auto whole = static_cast<long long>(seconds);
  if (whole < 3600) return Printf("%lldm%02llds", whole / 60, whole % 60);
  if (whole < 86400) return Printf("%lldh%02lldm", whole / 3600, whole % 3600 / 60);
  return Printf("%lldd%02lldh", whole / 86400, whole % 86400 / 3600);
}

std::string OneLine(std::string_view text, std::size_t max_bytes) {
  std::string flat;
  flat.reserve(text.size());
  for (const char c : text) flat.push_back(c == '\n' || c == '\r' || c == '\t' ? ' ' : c);
  while (!flat.empty() && flat.back() == ' ') flat.pop_back();
  if (flat.size() <= max_bytes) return flat;
  std::size_t cut = max_bytes > 3 ? max_bytes - 3 : 0;
  // Never split a UTF-8 sequence: back up over continuation bytes (10xxxxxx).
  while (cut > 0 && (static_cast<unsigned char>(flat[cut]) & 0xC0) == 0x80) --cut;
  return flat.substr(0, cut) + "...";
}

std::string ErrorCell(const PartitionStatus& row) {
  std::string cell;
  if (row.report && !row.report_current) {
    const auto& r = *row.report;
    cell = "(stale: " + (r.state.empty() ? std::string("no state") : r.state) + " on " + Reporter(r) + ", " +
           FormatAge(r.age_seconds) + " ago)";
  }
  if (!row.last_error.empty()) {
    if (!cell.empty()) cell += " ";
    if (row.error_age_seconds) cell += FormatAge(*row.error_age_seconds) + " ago: ";
    cell += row.last_error;
  }
  return cell.empty() ? "-" : OneLine(cell, kErrorWidth);
}

std::string FormatPartitionTable(const std::vector<PartitionStatus>& rows, const std::string& selected_projection) {
  if (rows.empty()) {
    return selected_projection.empty() ? "no checkpoint rows yet (no projection has started)\n"
                                       : "no checkpoint rows for projection " + selected_projection + "\n";
  }
  std::size_t name_width = 10;
  for (const auto& r : rows) name_width = std::max(name_width, r.projection.size());
  const int w = static_cast<int>(name_width);
  std::string out = Printf("%-*s %4s %12s %12s %8s %-9s %-20s %s\n", w, "PROJECTION", "PART", "CHECKPOINT",
                           "LAG EVENTS", "LAG", "STATE", "OWNER", "LAST ERROR");
  for (const auto& r : rows) {
    out += Printf("%-*s %4d %12lld %12lld %8s %-9s %-20s ", w, r.projection.c_str(), r.partition,
                  static_cast<long long>(r.position), static_cast<long long>(r.lag_events),
                  FormatAge(r.lag_seconds).c_str(), r.state.c_str(), OneLine(r.owner, 20).c_str());
    out += ErrorCell(r) + "\n";
  }
  return out;
}

std::string FormatUtc(std::chrono::system_clock::time_point at) {
  const std::time_t t = std::chrono::system_clock::to_time_t(at);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string WatchHeader(const std::string& replica_set, std::chrono::milliseconds interval,
                        std::chrono::system_clock::time_point at) {
  return "projd status --watch " + FormatDuration(interval) + ": replica set " + replica_set + " at " + FormatUtc(at) +
         " (Ctrl-C ends)\n";
}

std::string TerminalFrame(std::string_view text, TerminalSize size) {
  std::vector<std::string_view> lines;
  for (std::size_t start = 0; start < text.size();) {
    const auto end = text.find('\n', start);
    lines.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  // The last row stays empty: a newline written on it would scroll.
  const std::size_t rows = size.rows > 1 ? static_cast<std::size_t>(size.rows - 1) : lines.size();
  std::size_t shown = lines.size();
  std::string more;
  if (lines.size() > rows) {
    shown = rows - 1;
    more = "... " + std::to_string(lines.size() - shown) + " more lines (name one projection to see it)";
  }
  std::string out = "\x1b[H";
  auto put = [&](std::string_view line) {
    if (size.columns > 1 && line.size() >= static_cast<std::size_t>(size.columns)) {
      std::size_t cut = static_cast<std::size_t>(size.columns - 1);
      while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
      line = line.substr(0, cut);
    }
    out.append(line);
    out.append("\x1b[K\n");
  };
  for (std::size_t i = 0; i < shown; ++i) put(lines[i]);
  if (!more.empty()) put(more);
  out.append("\x1b[J");
  return out;
}

std::string PlainFrame(std::string_view text, bool first) {
  std::string out = first ? "" : "\n";
  out.append(text);
  if (!text.empty() && text.back() != '\n') out.push_back('\n');
  return out;
}

std::string WatchErrorLine(std::string_view error, std::chrono::milliseconds retry_in, int attempt,
                           std::optional<double> last_good_age_seconds) {
  std::string line = "database error (attempt " + std::to_string(attempt) + ", next try in " +
                     FormatDuration(retry_in) + "): " + OneLine(error, 400) + "\n";
  line += last_good_age_seconds ? "last snapshot read " + FormatAge(*last_good_age_seconds) + " ago:\n"
                                : std::string("no snapshot read yet\n");
  return line;
}

}  // namespace projd
