// PrefetchingReader: an EventReader that reads one batch ahead (docs/reading.md, "One batch
// ahead").
//
// After a full batch it starts reading the batch that follows (every position advanced to
// the batch's scanned_to, same mark, limit and scope) on a thread of its own, while the
// caller handles the batch it got: the server executes batch n+1 while the runner applies
// batch n (an async handler and its checkpoints, or a unit committing on its lane). The next
// ReadBatch uses the prefetched result only when it asks for exactly that request, or the
// same with a higher mark (the older mark gives a smaller batch, as gap-safe as any: every
// position up to it was final when it was published). Anything else (a failed or moved
// unit, a handover, a stopped partition, isolating a poison event) reads afresh, and a
// prefetch that failed is read again by the caller, which sees the error. So the results
// are exactly those of the inner reader; only their timing changes.
//
// The inner reader is used by one thread at a time. One caller thread (the runner);
// destruction waits for a read in flight (bounded by the session's statement timeout).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "orchestrator/reading/event_reader.h"

namespace projd {

class PrefetchingReader final : public EventReader {
 public:
  explicit PrefetchingReader(std::unique_ptr<EventReader> inner);
  ~PrefetchingReader() override;
  PrefetchingReader(const PrefetchingReader&) = delete;
  PrefetchingReader& operator=(const PrefetchingReader&) = delete;

  ReadResult ReadBatch(const ReadRequest& request) override;

  // Batches served from a prefetch (for tests and the benchmark's profile).
  std::int64_t hits() const;
  // The inner reader's plan of its latest statement (kept here: the inner reader is not
  // safe to ask while the prefetch thread uses it).
  std::string Plan() const override;

 private:
  void Run();
  std::optional<ReadResult> TakePrefetched(const ReadRequest& request);

  std::unique_ptr<EventReader> inner_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::optional<ReadRequest> wanted_;  // the next batch, not started yet
  bool busy_ = false;                  // the thread is reading
  std::optional<ReadRequest> done_request_;
  std::optional<ReadResult> done_result_;  // empty when the prefetch failed
  std::int64_t hits_ = 0;
  std::string plan_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace projd
