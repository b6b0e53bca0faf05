// `projd status --watch`: draws a snapshot every interval until SIGINT or SIGTERM (exit 0).
// On a terminal each frame is redrawn in place (cursor home, lines overwritten, the rest
// erased; cut to the terminal's size so it never scrolls; the cursor hidden meanwhile and
// shown again at the end). To a pipe or a file each
// frame is appended: text frames apart by a blank line, each starting with its header line;
// with --json one JSON object a line. A snapshot the database cannot give (projd::Error) is
// shown in the frame with the last good one and tried again with capped backoff; the
// command never exits on it. Single-threaded; blocks SIGINT and SIGTERM while it runs and
// receives them with sigtimedwait, so a signal during a read ends the watch once that read
// returns (reads are bounded by the connection timeouts).
#pragma once

#include <chrono>
#include <functional>
#include <string>

namespace projd::cli {

struct WatchSettings {
  std::string replica_set;
  std::chrono::milliseconds interval{2000};
  bool json = false;
  std::string database_url;  // to mask its password in error texts
};

// `render` returns one snapshot (a text table, or one line of JSON) and throws projd::Error
// when the database fails. Returns the exit code (0 after a stop signal).
int RunStatusWatch(const WatchSettings& settings, const std::function<std::string()>& render);

}  // namespace projd::cli
