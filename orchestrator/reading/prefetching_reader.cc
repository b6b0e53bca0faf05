#include "orchestrator/reading/prefetching_reader.h"

#include <algorithm>

namespace projd {
namespace {

bool SameScope(const ReadScope& a, const ReadScope& b) {
  return a.aggregate_types == b.aggregate_types && a.bounded_contexts == b.bounded_contexts;
}

// The prefetched request answers `wanted` when it differs at most by a lower mark.
bool Answers(const ReadRequest& done, const ReadRequest& wanted) {
  return done.partition_count == wanted.partition_count && done.after == wanted.after &&
         done.limit == wanted.limit && done.high_water_mark <= wanted.high_water_mark &&
         SameScope(done.scope, wanted.scope);
}

// The request that follows a full batch: every position advanced to what it scanned.
ReadRequest Following(const ReadRequest& request, const ReadResult& result) {
  ReadRequest next = request;
  for (auto& [partition, after] : next.after) after = std::max(after, result.scanned_to);
  return next;
}

}  // namespace

PrefetchingReader::PrefetchingReader(std::unique_ptr<EventReader> inner)
    : inner_(std::move(inner)), thread_([this] { Run(); }) {}

PrefetchingReader::~PrefetchingReader() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

ReadResult PrefetchingReader::ReadBatch(const ReadRequest& request) {
  auto result = TakePrefetched(request);
  const bool fresh = !result;
  if (fresh) result = inner_->ReadBatch(request);  // the caller sees the database's error
  std::lock_guard lock(mu_);
  if (fresh && !inner_->Plan().empty()) plan_ = inner_->Plan();
  if (static_cast<int>(result->events.size()) >= request.limit) {
    wanted_ = Following(request, *result);
    cv_.notify_all();
  }
  return std::move(*result);
}

std::optional<ReadResult> PrefetchingReader::TakePrefetched(const ReadRequest& request) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !busy_ && !wanted_; });  // the prefetch has ended
  std::optional<ReadResult> out;
  if (done_request_ && done_result_ && Answers(*done_request_, request)) {
    out = std::move(done_result_);
    ++hits_;
  }
  done_request_.reset();
  done_result_.reset();
  return out;
}

void PrefetchingReader::Run() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || wanted_; });
    if (stop_) return;
    ReadRequest request = std::move(*wanted_);
    wanted_.reset();
    busy_ = true;
    lock.unlock();
    std::optional<ReadResult> result;
    try {
      result = inner_->ReadBatch(request);
    } catch (...) {
      // Not reported here: the caller's own read of this batch meets the error again. Caught
      // whatever it is: this thread must not end the process.
    }
    lock.lock();
    if (result && !inner_->Plan().empty()) plan_ = inner_->Plan();
    busy_ = false;
    done_request_ = std::move(request);
    done_result_ = std::move(result);
    cv_.notify_all();
  }
}

std::string PrefetchingReader::Plan() const {
  std::lock_guard lock(mu_);
  return plan_;
}

std::int64_t PrefetchingReader::hits() const {
  std::lock_guard lock(mu_);
  return hits_;
}

}  // namespace projd
