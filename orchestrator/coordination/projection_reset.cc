#include "orchestrator/coordination/projection_reset.h"

#include <regex>

namespace projd {

ResetDirection DirectionOf(const PartitionMove& move) {
  if (move.to < move.from) return ResetDirection::kBack;
  if (move.to > move.from) return ResetDirection::kForward;
  return ResetDirection::kNone;
}

const char* ToString(ResetDirection direction) {
  switch (direction) {
    case ResetDirection::kBack:
      return "back (replay)";
    case ResetDirection::kForward:
      return "forward (skip)";
    case ResetDirection::kNone:
      break;
  }
  return "unchanged";
}

std::string Describe(ResetRefusal refusal, std::int64_t target, std::int64_t latest) {
  const auto p = std::to_string(target);
  switch (refusal) {
    case ResetRefusal::kNegativeTarget:
      return "position " + p + " is below 0";
    case ResetRefusal::kBeyondLatest:
      return "position " + p + " is above the latest event (" + std::to_string(latest) + "): nothing to skip to";
    case ResetRefusal::kNoCheckpoints:
      return "the projection has no checkpoints in this replica set (no worker has run it yet)";
    case ResetRefusal::kSkipNotConfirmed:
      return "moving to position " + p + " skips events (they are never applied); confirm with --skip";
    case ResetRefusal::kNone:
      break;
  }
  return "";
}

ResetRefusal CheckReset(std::int64_t target, std::int64_t latest, const std::vector<PartitionMove>& moves,
                        SkipPolicy skip) {
  if (target < 0) return ResetRefusal::kNegativeTarget;
  if (target > latest) return ResetRefusal::kBeyondLatest;
  if (moves.empty()) return ResetRefusal::kNoCheckpoints;
  if (skip == SkipPolicy::kAllow) return ResetRefusal::kNone;
  for (const auto& m : moves) {
    if (DirectionOf(m) == ResetDirection::kForward) return ResetRefusal::kSkipNotConfirmed;
  }
  return ResetRefusal::kNone;
}

std::string DescribeMove(const PartitionMove& move, bool with_events) {
  auto out = "partition " + std::to_string(move.partition) + ": " + std::to_string(move.from) + " -> " +
             std::to_string(move.to) + ", " + ToString(DirectionOf(move));
  if (with_events && DirectionOf(move) != ResetDirection::kNone) out += ", " + std::to_string(move.events) + " events";
  return out;
}

std::int64_t EventsMoving(const std::vector<PartitionMove>& moves, ResetDirection direction) {
  std::int64_t n = 0;
  for (const auto& m : moves) {
    if (DirectionOf(m) == direction) n += m.events;
  }
  return n;
}

namespace {

bool LeapYear(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysIn(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && LeapYear(year) ? 29 : kDays[month - 1];
}

}  // namespace

bool IsRfc3339Timestamp(const std::string& text) {
  // RFC 3339 section 5.6 date-time; the seconds may be 60 (a leap second).
  static const std::regex kForm(
      R"(^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$)");
  std::smatch m;
  if (!std::regex_match(text, m, kForm)) return false;
  const auto num = [&](int i) { return std::stoi(m[i].str()); };
  const int year = num(1), month = num(2), day = num(3);
  if (month < 1 || month > 12 || day < 1 || day > DaysIn(year, month)) return false;
  if (num(4) > 23 || num(5) > 59 || num(6) > 60) return false;
  if (m[9].matched && (num(9) > 23 || num(10) > 59)) return false;
  return year >= 1;
}

}  // namespace projd
