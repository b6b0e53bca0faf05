#include "orchestrator/reading/partition_merge.h"

#include <algorithm>
#include <limits>

namespace projd {
namespace {

bool SameScope(const ReadScope& a, const ReadScope& b) {
  return a.aggregate_types == b.aggregate_types && a.bounded_contexts == b.bounded_contexts;
}

bool ByPosition(const EventWithPartition& a, const EventWithPartition& b) {
  return a.event.global_position < b.event.global_position;
}

}  // namespace

std::size_t PartitionMerge::kept() const {
  std::size_t n = 0;
  for (const auto& [p, s] : streams_) n += s.rows.size();
  return n;
}

// Keeps what the request can use: the same partition count and scope, the partitions it
// owns, each from the position it asks for.
void PartitionMerge::Align(const ReadRequest& request) {
  if (request.partition_count != partition_count_ || !SameScope(request.scope, scope_)) {
    streams_.clear();
    partition_count_ = request.partition_count;
    scope_ = request.scope;
  }
  std::erase_if(streams_, [&](const auto& entry) { return !request.after.contains(entry.first); });
  for (const auto& [p, after] : request.after) {
    auto [it, inserted] = streams_.try_emplace(p);
    Stream& s = it->second;
    if (inserted || after < s.from || after > s.through) {
      s = Stream{after, after, {}};
      continue;
    }
    while (!s.rows.empty() && s.rows.front().event.global_position <= after) s.rows.pop_front();
    s.from = after;
  }
}

int PartitionMerge::Lowest() const {
  int lowest = -1;
  std::int64_t at = std::numeric_limits<std::int64_t>::max();
  for (const auto& [p, s] : streams_) {
    if (!s.rows.empty() && s.rows.front().event.global_position < at) {
      at = s.rows.front().event.global_position;
      lowest = p;
    }
  }
  return lowest;
}

std::int64_t PartitionMerge::Covered() const {
  std::int64_t covered = std::numeric_limits<std::int64_t>::max();
  for (const auto& [p, s] : streams_) {
    if (s.rows.empty()) covered = std::min(covered, s.through);
  }
  return covered;
}

// A partition is read again when it is not complete up to the mark and its rows run low
// (below half a chunk): partitions that drain together are read by one statement.
bool PartitionMerge::NeedsFill(const Stream& s, std::int64_t upto, int chunk) const {
  return s.through < upto && (s.rows.empty() || static_cast<int>(s.rows.size()) * 2 < chunk);
}

void PartitionMerge::FillLow(const ReadRequest& request, int chunk, const Fill& fill) {
  FillRequest f{request.partition_count, {}, request.high_water_mark, chunk, request.scope};
  for (const auto& [p, s] : streams_) {
    if (NeedsFill(s, request.high_water_mark, chunk)) f.after[p] = s.through;
  }
  std::map<int, std::vector<EventWithPartition>> got;
  for (auto& row : fill(f)) got[row.partition].push_back(std::move(row));
  ++last_fills_;
  for (const auto& [p, after] : f.after) {
    auto& rows = got[p];
    if (!std::is_sorted(rows.begin(), rows.end(), ByPosition)) std::sort(rows.begin(), rows.end(), ByPosition);
    Stream& s = streams_[p];
    for (auto& row : rows) {
      if (row.event.global_position > s.through) s.rows.push_back(std::move(row));
    }
    // Fewer than asked: every row of the partition up to the mark is here.
    s.through = static_cast<int>(rows.size()) < chunk ? f.high_water_mark : rows.back().event.global_position;
  }
}

ReadResult PartitionMerge::Read(const ReadRequest& request, int chunk, const Fill& fill) {
  ReadResult result;
  result.scanned_to = request.high_water_mark;
  last_fills_ = 0;
  if (request.limit <= 0 || request.after.empty()) return result;
  Align(request);
  try {
    Merge(request, std::max(chunk, 1), fill, result.events);
  } catch (...) {
    Unread(request, result.events);
    throw;
  }
  if (static_cast<int>(result.events.size()) >= request.limit) {
    result.scanned_to = result.events.back().event.global_position;
  }
  return result;
}

void PartitionMerge::Merge(const ReadRequest& request, int chunk, const Fill& fill,
                           std::vector<EventWithPartition>& out) {
  const std::int64_t mark = request.high_water_mark;
  while (static_cast<int>(out.size()) < request.limit) {
    const int p = Lowest();
    const std::int64_t head = p < 0 ? mark : std::min(streams_[p].rows.front().event.global_position, mark);
    if (Covered() < head) {  // a partition may still hold a row below `head`
      FillLow(request, chunk, fill);
      continue;
    }
    if (p < 0 || streams_[p].rows.front().event.global_position > mark) break;  // all up to the mark
    Stream& s = streams_[p];
    s.from = s.rows.front().event.global_position;  // returned: kept rows now start above it
    out.push_back(std::move(s.rows.front()));
    s.rows.pop_front();
  }
}

// A failed fill ends the batch: the rows it had taken go back, each partition from the
// position the request asked for (Align kept every stream of the request).
void PartitionMerge::Unread(const ReadRequest& request, std::vector<EventWithPartition>& taken) {
  for (auto it = taken.rbegin(); it != taken.rend(); ++it) streams_[it->partition].rows.push_front(std::move(*it));
  for (const auto& [p, after] : request.after) streams_[p].from = after;
  taken.clear();
}

}  // namespace projd
