#include "orchestrator/config/duration.h"

#include <cmath>
#include <cstdint>
#include <limits>

namespace projd {
namespace {

// Nanoseconds per unit; the parse accumulates nanoseconds in long double and checks range.
std::optional<long double> UnitNanos(std::string_view unit) {
  if (unit == "ns") return 1.0L;
  if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") return 1e3L;
  if (unit == "ms") return 1e6L;
  if (unit == "s") return 1e9L;
  if (unit == "m") return 60e9L;
  if (unit == "h") return 3600e9L;
  return std::nullopt;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  bool negative = false;
  if (text[0] == '-' || text[0] == '+') {
    negative = text[0] == '-';
    text.remove_prefix(1);
    if (text.empty()) return std::nullopt;
  }
  // Bare integer: milliseconds.
  bool all_digits = true;
  for (char c : text) all_digits = all_digits && IsDigit(c);
  constexpr long double kMaxMs = static_cast<long double>(std::numeric_limits<std::int64_t>::max());
  if (all_digits) {
    if (text.size() > 18) return std::nullopt;
    long double ms = 0;
    for (char c : text) ms = ms * 10 + (c - '0');
    const auto v = static_cast<std::int64_t>(ms);
    return std::chrono::milliseconds(negative ? -v : v);
  }
  long double total_ns = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    // Number with optional fraction.
    const std::size_t num_begin = i;
    long double value = 0;
    bool any_digit = false;
    while (i < text.size() && IsDigit(text[i])) {
      value = value * 10 + (text[i] - '0');
      any_digit = true;
      ++i;
    }
    if (i < text.size() && text[i] == '.') {
      ++i;
      long double scale = 0.1L;
      while (i < text.size() && IsDigit(text[i])) {
        value += (text[i] - '0') * scale;
        scale /= 10;
        any_digit = true;
        ++i;
      }
    }
    if (!any_digit || i == num_begin) return std::nullopt;
    // Unit: letters (and the micro sign's bytes).
    const std::size_t unit_begin = i;
    while (i < text.size() && !IsDigit(text[i]) && text[i] != '.') ++i;
    const auto nanos = UnitNanos(text.substr(unit_begin, i - unit_begin));
    if (!nanos) return std::nullopt;
    total_ns += value * *nanos;
    if (total_ns / 1e6L > kMaxMs) return std::nullopt;
  }
  const auto ms = static_cast<std::int64_t>(std::floor(total_ns / 1e6L));
  return std::chrono::milliseconds(negative ? -ms : ms);
}

std::string FormatDuration(std::chrono::milliseconds d) {
  std::int64_t ms = d.count();
  std::string sign;
  if (ms < 0) {
    sign = "-";
    ms = -ms;
  }
  if (ms == 0) return "0s";
  if (ms < 1000) return sign + std::to_string(ms) + "ms";
  const std::int64_t hours = ms / 3'600'000;
  const std::int64_t minutes = (ms / 60'000) % 60;
  const std::int64_t seconds = (ms / 1000) % 60;
  const std::int64_t millis = ms % 1000;
  std::string secs = std::to_string(seconds);
  if (millis != 0) {
    std::string frac = std::to_string(millis);
    frac.insert(0, 3 - frac.size(), '0');
    while (!frac.empty() && frac.back() == '0') frac.pop_back();
    secs += "." + frac;
  }
  std::string out = sign;
  if (hours > 0) out += std::to_string(hours) + "h" + std::to_string(minutes) + "m";
  else if (minutes > 0) out += std::to_string(minutes) + "m";
  return out + secs + "s";
}

}  // namespace projd
