// Durations as operators write them: Go syntax ("250ms", "5s", "1m30s", "1.5h") or a
// bare integer of milliseconds ("5000"). Pure functions; thread-safe.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace projd {

// Parses `text` into milliseconds. Units: h, m, s, ms, us/µs, ns (sub-millisecond parts
// are rounded down to whole milliseconds, so "1500us" = 1ms). Components may repeat and
// carry fractions ("1h2m3.5s"). A leading '-' is accepted (callers reject negatives).
// Returns nullopt for empty text, unknown units, a number without unit after another
// component, or a value beyond ~292 million years (overflow).
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text);

// Formats as Go does for whole milliseconds: "1m30s", "250ms", "0s", "1h0m0s".
std::string FormatDuration(std::chrono::milliseconds d);

}  // namespace projd
