// The text of `projd status` beyond its summary: the partition table (one PartitionStatus a
// line) and the frames of `projd status --watch` (a terminal frame redrawn in place, a
// plain frame with a header line for pipes and files). Pure functions of their arguments;
// thread-safe. docs/operations.md, "Reading `projd status`", shows the output.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orchestrator/coordination/partition_status.h"

namespace projd {

// An age or a lag for a person: "0 s", "4.2 s", "37 s", "3m07s", "2h05m", "3d04h".
// Negative input counts as 0.
std::string FormatAge(double seconds);

// `text` on one line (line breaks and tabs become spaces) of at most `max_bytes` bytes,
// cut at a UTF-8 character boundary and ending in "..." when cut.
std::string OneLine(std::string_view text, std::size_t max_bytes);

// The LAST ERROR cell: "-", the current owner's error with its age, or a stale report
// marked as such ("(stale: failing on w1, gone, 2m00s ago) ...") so it never reads as
// the partition's present.
std::string ErrorCell(const PartitionStatus& row);

// The table, header included; a line saying so when `rows` is empty ("" for
// `selected_projection` = every projection).
std::string FormatPartitionTable(const std::vector<PartitionStatus>& rows, const std::string& selected_projection);

// "2026-12-02 04:30:00 UTC"
std::string FormatUtc(std::chrono::system_clock::time_point at);

// Terminal control for --watch on a terminal (ANSI/VT100).
inline constexpr const char* kHideCursor = "\x1b[?25l";
inline constexpr const char* kShowCursor = "\x1b[?25h";
inline constexpr const char* kClearScreen = "\x1b[H\x1b[2J";

// The first line of each --watch frame.
std::string WatchHeader(const std::string& replica_set, std::chrono::milliseconds interval,
                        std::chrono::system_clock::time_point at);

// The size of the terminal a frame is drawn on; 0 = unknown (no limit).
struct TerminalSize {
  int rows = 0;
  int columns = 0;
};

// `text` drawn over the previous frame of a terminal: cursor home, each line followed by
// erase-to-end-of-line, then erase below. Nothing is cleared before it is redrawn, so the
// screen does not flicker. A frame never scrolls the terminal (which would break drawing in
// place): lines are cut to `size.columns - 1` bytes (at a UTF-8 boundary), and a text longer
// than `size.rows - 1` lines ends in "... N more lines (name one projection to see it)".
std::string TerminalFrame(std::string_view text, TerminalSize size = {});

// `text` for a pipe or a file: appended after the earlier frames, preceded by a blank line
// (except the first) so frames stay apart; each frame starts with its WatchHeader line.
std::string PlainFrame(std::string_view text, bool first);

// The line shown at the top of a frame while the database cannot be read (--watch keeps
// trying): the masked error, when it was last read, and when it tries again.
std::string WatchErrorLine(std::string_view error, std::chrono::milliseconds retry_in, int attempt,
                           std::optional<double> last_good_age_seconds);

}  // namespace projd
