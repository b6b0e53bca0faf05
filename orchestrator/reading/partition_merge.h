// PartitionMerge: the client side of the per-partition read (docs/reading.md, "Reads that
// scale with the workers"). It keeps, for each owned partition, the rows read ahead from
// that partition's own index range, and merges them in position order into batches.
//
// Why rows may be kept across batches: every row at or below a published high-water mark
// is final (no transaction can still commit a position at or below it: the gap proof of
// guarantees.md), and events are never updated. So a partition's rows read up to a mark,
// together with "complete through position t", stay true for later batches; a partition
// is read again only when its rows run low. One fill reads `chunk` rows from each
// partition that needs them, with one index descent per partition: the server's cost per
// batch is about the rows returned plus one descent per `chunk` rows, whatever the share
// of partitions a worker owns.
//
// The rows kept for a partition are used only from the position the request asks for
// (a request below what they cover, a new partition count or scope starts afresh), and
// never above the request's mark.
//
// Pure logic: the statement is a callback. Not thread-safe (one per reader).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <vector>

#include "orchestrator/reading/event_reader.h"

namespace projd {

// One fill: for each partition, its first `limit` rows with positions in (after, mark],
// in scope, in position order (the order of the partitions is free).
struct FillRequest {
  int partition_count = 0;
  std::map<int, std::int64_t> after;
  std::int64_t high_water_mark = 0;
  int limit = 0;
  ReadScope scope;
};

class PartitionMerge {
 public:
  using Fill = std::function<std::vector<EventWithPartition>(const FillRequest&)>;

  // The batch `request` asks for (the EventReader contract), reading through `fill` with
  // `chunk` rows per partition and fill. Throws what `fill` throws; the rows kept are then
  // those of the fills that succeeded.
  ReadResult Read(const ReadRequest& request, int chunk, const Fill& fill);

  // Statements issued by the latest Read (0 when it was served from kept rows).
  int last_fills() const { return last_fills_; }
  // Rows kept for later batches.
  std::size_t kept() const;
  void Clear() { streams_.clear(); }

 private:
  // A partition's rows in (from, through]: `from` is the request's position or the last row
  // returned since, the rows are those not returned yet.
  struct Stream {
    std::int64_t from = 0;
    std::int64_t through = 0;
    std::deque<EventWithPartition> rows;
  };

  void Align(const ReadRequest& request);
  void Merge(const ReadRequest& request, int chunk, const Fill& fill, std::vector<EventWithPartition>& out);
  void Unread(const ReadRequest& request, std::vector<EventWithPartition>& taken);
  bool NeedsFill(const Stream& s, std::int64_t upto, int chunk) const;
  void FillLow(const ReadRequest& request, int chunk, const Fill& fill);
  // The partition whose next row is lowest, or -1.
  int Lowest() const;
  // The lowest position a partition with no rows left may still hold above its "through".
  std::int64_t Covered() const;

  int partition_count_ = 0;
  ReadScope scope_;
  std::map<int, Stream> streams_;
  int last_fills_ = 0;
};

}  // namespace projd
