#include "orchestrator/waits/wait_service.h"

#include <map>
#include <tuple>

#include "orchestrator/common/backoff.h"
#include "orchestrator/common/errors.h"
#include "orchestrator/waits/progress_wait.h"

namespace projd {
namespace {

using TargetKey = std::tuple<std::string, std::int64_t, std::string>;

TargetKey KeyOf(const WaitTarget& t) { return {t.projection, t.position, t.replica_set}; }

}  // namespace

WaitService::WaitService(std::unique_ptr<ProgressStore> store, const Clock& clock, Logger logger,
                         WaitServiceOptions options)
    : store_(std::move(store)), clock_(clock), logger_(std::move(logger)), options_(options) {}

WaitService::~WaitService() { Stop(); }

void WaitService::Start() {
  std::lock_guard lock(mu_);
  if (started_ || stop_) return;
  started_ = true;
  thread_ = std::thread([this] { Run(); });
}

void WaitService::Stop() {
  std::list<Pending> left;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    left.swap(pending_);
  }
  cv_.notify_all();
  for (auto& p : left) {
    p.last.kind = WaitResult::Kind::kStopped;
    p.done(p.last);
  }
  if (thread_.joinable()) thread_.join();
}

bool WaitService::Submit(const WaitTarget& target, std::chrono::milliseconds timeout, Done done) {
  {
    std::lock_guard lock(mu_);
    if (stop_ || pending_.size() >= options_.max_waits) return false;
    pending_.push_back({target, clock_.Now() + timeout, std::move(done), {}});
  }
  cv_.notify_all();
  return true;
}

std::size_t WaitService::pending() const {
  std::lock_guard lock(mu_);
  return pending_.size();
}

void WaitService::Run() {
  Backoff backoff(std::chrono::milliseconds(200), options_.error_backoff_max);
  int polls = 0;
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !pending_.empty(); });
      if (stop_) return;
    }
    const bool failed = Round();
    const auto pause = failed ? backoff.Next() : PollPause(polls++);
    if (!failed) backoff.Reset();
    std::unique_lock lock(mu_);
    if (pending_.empty()) polls = 0;
    // Woken early by Stop; a new wait is read in the next round anyway.
    cv_.wait_for(lock, pause, [&] { return stop_; });
    if (stop_) return;
  }
}

bool WaitService::Round() {
  std::map<TargetKey, WaitTarget> targets;
  {
    std::lock_guard lock(mu_);
    for (const auto& p : pending_) targets.emplace(KeyOf(p.target), p.target);
  }
  // Read outside the lock: Submit and Stop never wait for the database.
  std::map<TargetKey, WaitResult> read;
  bool failed = false;
  std::string failure;
  for (const auto& [key, target] : targets) {
    WaitResult r;
    try {
      r.progress = store_->Check(target);
      r.kind = r.progress.processed() ? WaitResult::Kind::kProcessed : WaitResult::Kind::kTimedOut;
    } catch (const PermanentError& e) {
      r.kind = WaitResult::Kind::kFailed;
      r.error = e.what();
    } catch (const std::exception& e) {
      // Transient, or anything unexpected: retried, as this thread must never end the worker.
      failure = e.what();
      failed = true;
      if (const auto covered = outage_log_.Occur(clock_.Now())) {
        logger_.Warn("database unavailable for /wait; retrying until each wait's timeout",
                     {{"error", e.what()}, {"failures", std::to_string(covered)}});
      }
      break;  // the same for every target: try again after the backoff
    }
    read.emplace(key, std::move(r));
  }
  if (!failed) {
    if (const auto failures = outage_log_.End()) {
      logger_.Info("database reachable again for /wait", {{"failures", std::to_string(failures)}});
    }
  }
  std::list<Pending> finished;
  {
    std::lock_guard lock(mu_);
    const auto now = clock_.Now();
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (const auto r = read.find(KeyOf(it->target)); r != read.end()) {
        it->last = r->second;
        it->tried = true;
      } else if (failed && targets.count(KeyOf(it->target))) {
        it->last.error = failure;  // keeps the progress of the last successful read
        it->tried = true;
      }
      const bool answered = it->last.kind != WaitResult::Kind::kTimedOut;
      // A wait submitted during this round is read at least once before it can time out.
      if (answered || (it->tried && now >= it->deadline)) {
        auto next = std::next(it);
        finished.splice(finished.end(), pending_, it);
        it = next;
      } else {
        ++it;
      }
    }
  }
  Finish(finished);
  return failed;
}

void WaitService::Finish(std::list<Pending>& done_ones) {
  for (auto& p : done_ones) p.done(p.last);
}

}  // namespace projd
