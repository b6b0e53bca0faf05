#include "orchestrator/coordination/coordinator.h"

#include <algorithm>
#include <sstream>

#include "orchestrator/common/errors.h"

namespace projd {
namespace {

using std::chrono::milliseconds;

std::string JoinInts(const std::vector<int>& v) {
  std::ostringstream out;
  for (std::size_t i = 0; i < v.size(); ++i) out << (i ? "," : "") << v[i];
  return out.str();
}

template <typename Set>
std::vector<int> Vec(const Set& s) {
  return std::vector<int>(s.begin(), s.end());
}

}  // namespace

Coordinator::Coordinator(CoordinationStore& store, CheckpointStore& stamp_store, PersistenceCore& core,
                         PartitionOwner& owner, const Clock& clock, Logger logger, CoordinatorOptions options)
    : store_(store),
      stamp_store_(stamp_store),
      core_(core),
      owner_(owner),
      clock_(clock),
      logger_(std::move(logger)),
      options_(std::move(options)),
      backoff_(milliseconds(100), options_.timings.heartbeat_interval) {
  last_success_ = clock_.Now();
}

Coordinator::~Coordinator() { Stop(); }

void Coordinator::Start() {
  thread_.Start([this] { Loop(); });
}

void Coordinator::Stop() {
  RequestStop();
  thread_.Join();
}

void Coordinator::RequestStop() {
  stop_ = true;
  wake_.Notify();
}

bool Coordinator::AwaitStop(std::chrono::nanoseconds timeout) { return thread_.JoinFor(timeout); }

void Coordinator::ReportFenced(int partition) {
  {
    std::lock_guard lock(mu_);
    fenced_.insert(partition);
  }
  wake_.Notify();
}

CoordinatorStatus Coordinator::Status() const {
  std::lock_guard lock(mu_);
  CoordinatorStatus s = status_;
  s.owned = Vec(owned_);
  s.releasing = releasing_partitions_;
  s.round_durations = round_durations_.Snapshot();
  s.heartbeat_latencies = heartbeat_latencies_.Snapshot();
  return s;
}

void Coordinator::Loop() {
  while (!stop_) {
    const auto seen = wake_.version();
    milliseconds wait{0};
    const auto started = clock_.Now();
    try {
      wait = Tick();
      round_durations_.Observe(clock_.Now() - started);
    } catch (const std::exception& e) {
      // Tick handles database errors itself; anything else is a bug we log and survive.
      logger_.Error("coordination round failed", {{"error", e.what()}});
      wait = backoff_.Next();
    } catch (...) {
      logger_.Error("coordination round failed with a non-standard exception");
      wait = backoff_.Next();
    }
    if (stop_) break;
    wake_.WaitFor(seen, wait);
  }
}

milliseconds Coordinator::Tick() {
  const auto& t = options_.timings;
  const auto& rs = options_.replica_set;
  const auto& id = options_.worker.worker_id;

  // Self-fencing comes first: after a long pause (SIGSTOP, a stalled VM) peers may have
  // evicted us already, so nothing may be processed until a heartbeat succeeds again.
  bool owns_something;
  {
    std::lock_guard lock(mu_);
    owns_something = !owned_.empty();
  }
  if (owns_something && ShouldSelfFence(last_success_, clock_.Now(), t)) {
    DropEverything("no successful heartbeat within the self-fence threshold: stopping processing");
    std::lock_guard lock(mu_);
    status_.self_fenced = true;
    ++status_.counters.self_fenced;
  }

  if (!registered_) {
    try {
      const int stored = store_.EnsureReplicaSet(rs, options_.partitions);
      if (stored != options_.partitions) {
        logger_.Warn("PARTITIONS differs from the replica set's stored count; using the stored count",
                     {{"replica_set", rs}, {"configured", std::to_string(options_.partitions)},
                      {"stored", std::to_string(stored)}});
      }
      store_.Register(rs, options_.worker);
      registered_ = true;
      last_success_ = clock_.Now();
      {
        std::lock_guard lock(mu_);
        status_.registered = true;
        status_.healthy = true;
        ++status_.counters.registrations;
      }
      logger_.Info("registered", {{"replica_set", rs}, {"worker_id", id}, {"worker_name", options_.worker.worker_name}});
    } catch (const std::exception& e) {
      std::lock_guard lock(mu_);
      status_.healthy = false;
      status_.last_error = e.what();
      ++status_.counters.heartbeat_failures;
      logger_.Warn("registration failed; retrying", {{"error", e.what()}});
      return std::min(backoff_.Next(), t.heartbeat_interval);
    }
  }

  std::set<int> fenced;
  {
    std::lock_guard lock(mu_);
    fenced.swap(fenced_);
  }
  if (!fenced.empty()) {
    std::vector<int> mine;
    {
      std::lock_guard lock(mu_);
      for (int p : fenced) {
        if (owned_.count(p)) mine.push_back(p);
      }
    }
    if (!mine.empty()) ReleaseOwned(mine, false);
    known_generation_ = -1;  // re-read the assignment; a newer generation is on its way
  }

  const auto attempt = clock_.Now();
  try {
    auto hb = store_.Heartbeat(rs, id, t.stale_timeout);
    last_success_ = attempt;
    last_heartbeat_ = attempt;
    backoff_.Reset();
    bool resumed = false;
    {
      std::lock_guard lock(mu_);
      ++status_.counters.heartbeats;
      status_.healthy = true;
      status_.last_error.clear();
      status_.heartbeat_latency = std::chrono::duration_cast<milliseconds>(clock_.Now() - attempt);
      heartbeat_latencies_.Observe(clock_.Now() - attempt);
      status_.live_members = hb.live_members;
      resumed = status_.self_fenced;
      status_.self_fenced = false;
    }
    if (!hb.found) {
      {
        std::lock_guard lock(mu_);
        ++status_.counters.evicted;
        status_.registered = false;
      }
      DropEverything("this worker's row is gone (evicted by a peer): stopped processing, rejoining");
      registered_ = false;
      return milliseconds(0);
    }
    if (resumed) {
      logger_.Info("heartbeats succeed again; resuming");
      known_generation_ = -1;
    }
    if (!hb.evicted.empty()) {
      {
        std::lock_guard lock(mu_);
        status_.counters.stale_workers_cleaned += static_cast<std::int64_t>(hb.evicted.size());
      }
      for (const auto& w : hb.evicted) {
        logger_.Warn("evicted a stale worker", {{"worker_id", w}, {"stale_timeout_ms", std::to_string(t.stale_timeout.count())}});
      }
    }
    milliseconds wait = t.heartbeat_interval;
    const auto decision = DecideGeneration(hb, t);
    if (decision.form) {
      if (auto g = store_.FormGeneration(rs)) {
        {
          std::lock_guard lock(mu_);
          ++status_.counters.generations_formed;
        }
        logger_.Info("generation formed", {{"replica_set", rs}, {"generation", std::to_string(*g)}});
        hb.generation = *g;
      }
    } else if (decision.wait > milliseconds(0)) {
      wait = std::min(wait, decision.wait + milliseconds(10));
    }
    if (hb.generation != known_generation_ || handover_pending_) Reconcile(store_.ReadAssignment(rs));
    if (handover_pending_) wait = std::min(wait, std::max(t.heartbeat_interval / 4, milliseconds(20)));
    if (releasing_ || stamp_busy_) wait = std::min(wait, milliseconds(250));
    return wait;
  } catch (const std::exception& e) {
    // Whatever step failed (acknowledge, stamp, ...), reconcile the assignment again next
    // round: a generation whose partitions were not taken must not count as handled.
    known_generation_ = -1;
    {
      std::lock_guard lock(mu_);
      status_.healthy = false;
      status_.last_error = e.what();
      ++status_.counters.heartbeat_failures;
    }
    logger_.Warn("coordination failed; retrying", {{"error", e.what()}, {"attempt", std::to_string(backoff_.attempts() + 1)}});
    return std::min(backoff_.Next(), t.heartbeat_interval);
  }
}

void Coordinator::Reconcile(const AssignmentView& view) {
  const auto& rs = options_.replica_set;
  const auto& id = options_.worker.worker_id;
  if (view.partitions != known_partitions_) {
    std::vector<int> all;
    {
      std::lock_guard lock(mu_);
      all = Vec(owned_);
    }
    if (!all.empty()) {
      logger_.Info("partition count changed; restarting every partition",
                   {{"from", std::to_string(known_partitions_)}, {"to", std::to_string(view.partitions)}});
      ReleaseOwned(all, false);  // the split stamped every row: our old writes are fenced anyway
    }
    known_partitions_ = view.partitions;
  }
  if (known_rebuild_ >= 0 && view.rebuild_generation > known_rebuild_) {
    std::vector<int> all;
    {
      std::lock_guard lock(mu_);
      all = Vec(owned_);
    }
    if (!all.empty()) {
      logger_.Info("a projection was rebuilt; restarting every partition from its checkpoints",
                   {{"generation", std::to_string(view.rebuild_generation)}});
      ReleaseOwned(all, false);  // the rebuild stamped its rows: old writes are fenced anyway
    }
  }
  known_rebuild_ = view.rebuild_generation;
  stamp_busy_ = false;
  std::set<int> mine;
  for (int p = 0; p < view.partitions; ++p) {
    if (view.owner_ids[p] == id) mine.insert(p);
  }
  std::vector<int> lost, gained;
  {
    std::lock_guard lock(mu_);
    for (int p : owned_) {
      if (!mine.count(p)) lost.push_back(p);
    }
    for (int p : mine) {
      if (!owned_.count(p)) gained.push_back(p);
    }
    status_.generation = view.generation;
    status_.partition_count = view.partitions;
  }
  if (!lost.empty()) ReleaseOwned(lost, true);
  if (!FinishRelease()) {
    handover_pending_ = true;  // acknowledged in a later round, once released
    return;
  }
  std::int64_t acked;
  {
    std::lock_guard lock(mu_);
    acked = status_.acked_generation;
  }
  if (view.generation > acked) {
    store_.Acknowledge(rs, id, view.generation);
    std::lock_guard lock(mu_);
    status_.acked_generation = view.generation;
    ++status_.counters.reconfigurations;
  }
  known_generation_ = view.generation;
  {
    std::lock_guard lock(mu_);
    status_.waiting = gained;
  }
  if (gained.empty()) {
    handover_pending_ = false;
    return;
  }

  const auto decision = DecideHandover(view, store_.ListMembers(rs), id, options_.timings);
  if (!decision.ready) {
    handover_pending_ = true;
    if (!decision.late.empty()) {
      const auto evicted = store_.EvictUnacknowledged(rs, decision.late, view.generation);
      if (!evicted.empty()) {
        {
          std::lock_guard lock(mu_);
          status_.counters.coordination_timeouts += static_cast<std::int64_t>(evicted.size());
        }
        for (const auto& w : evicted) {
          logger_.Error("coordination timeout: evicted a member that did not acknowledge the generation",
                        {{"worker_id", w}, {"generation", std::to_string(view.generation)},
                         {"coordination_timeout_ms", std::to_string(options_.timings.coordination_timeout.count())}});
        }
        if (auto g = store_.FormGeneration(rs)) {
          std::lock_guard lock(mu_);
          ++status_.counters.generations_formed;
        }
        known_generation_ = -1;
      }
    }
    return;
  }

  TakeGained(view, gained);
}

void Coordinator::TakeGained(const AssignmentView& view, const std::vector<int>& gained) {
  const auto projections = owner_.Projections();
  StampResult stamp;
  if (!projections.empty()) {
    stamp = stamp_store_.Stamp(options_.replica_set, projections, gained, view.generation, options_.worker.worker_id);
  }
  std::set<int> refused, busy;
  for (const auto& k : stamp.lost) refused.insert(k.partition);
  for (const auto& k : stamp.busy) busy.insert(k.partition);
  // A partition starts only when every projection's row is stamped; the others are
  // stamped again next round (same generation: harmless) and then start.
  std::vector<Checkpoint> start;
  for (const auto& cp : stamp.taken) {
    if (!refused.count(cp.key.partition) && !busy.count(cp.key.partition)) start.push_back(cp);
  }
  owner_.Take(view.partitions, start);
  std::vector<int> taken, waiting;
  {
    std::lock_guard lock(mu_);
    for (int p : gained) {
      if (refused.count(p) || busy.count(p)) {
        waiting.push_back(p);
        continue;
      }
      owned_.insert(p);
      taken.push_back(p);
    }
    status_.counters.partitions_taken += static_cast<std::int64_t>(taken.size());
    status_.waiting = waiting;
  }
  handover_pending_ = !waiting.empty();
  stamp_busy_ = !busy.empty();
  if (!taken.empty()) {
    logger_.Info("partitions taken", {{"generation", std::to_string(view.generation)},
                                      {"count", std::to_string(taken.size())}, {"partitions", JoinInts(taken)}});
  }
  if (!refused.empty()) {
    logger_.Warn("a newer generation already stamped partitions; waiting for it",
                 {{"generation", std::to_string(view.generation)}, {"partitions", JoinInts(Vec(refused))}});
  }
  if (!busy.empty()) {
    logger_.Info("checkpoint rows still held by the previous owner's transaction; taking them when it ends",
                 {{"generation", std::to_string(view.generation)}, {"partitions", JoinInts(Vec(busy))}});
  }
}

void Coordinator::ReleaseOwned(const std::vector<int>& partitions, bool drain) {
  owner_.Release(partitions);  // returns at once; a batch in flight finishes on its own
  if (drain) {
    if (!releasing_) releasing_ = Releasing{{}, clock_.Now()};
    releasing_->partitions.insert(releasing_->partitions.end(), partitions.begin(), partitions.end());
  }
  {
    std::lock_guard lock(mu_);
    releasing_partitions_ = releasing_ ? releasing_->partitions : std::vector<int>{};
    for (int p : partitions) owned_.erase(p);
    status_.counters.partitions_released += static_cast<std::int64_t>(partitions.size());
  }
  logger_.Info("partitions released", {{"count", std::to_string(partitions.size())},
                                       {"partitions", JoinInts(partitions)}, {"drain", drain ? "true" : "false"}});
}

bool Coordinator::FinishRelease() {
  if (!releasing_) return true;
  const auto& parts = releasing_->partitions;
  const auto budget = std::min(options_.drain_timeout, options_.timings.coordination_timeout / 2);
  const auto elapsed = std::chrono::duration_cast<milliseconds>(clock_.Now() - releasing_->since);
  const bool overdue = elapsed >= budget;
  auto result = ForceResult::kTimeout;
  if (!overdue && owner_.Busy(parts)) return false;  // a batch in flight still holds some
  if (!overdue) {
    std::vector<CheckpointKey> keys;
    for (const auto& projection : owner_.Projections()) {
      for (int p : parts) keys.push_back({options_.replica_set, projection, p});
    }
    // A slice per round, so that the heartbeat of the next round is not held up.
    const auto slice = std::min(budget - elapsed, std::max(options_.timings.heartbeat_interval / 4, milliseconds(20)));
    result = core_.Revoke(keys, slice);
    if (result == ForceResult::kTimeout && clock_.Now() - releasing_->since < budget) return false;
  }
  if (result != ForceResult::kOk) {
    logger_.Warn("handover: released partitions not drained within the budget; acknowledging anyway: the new owner"
                 " resumes from the last durable checkpoint, and a batch still in flight here is fenced by its stamp",
                 {{"result", overdue && owner_.Busy(parts) ? "runner still in its batch" : ToString(result)},
                  {"budget_ms", std::to_string(budget.count())}, {"partitions", JoinInts(parts)}});
  }
  releasing_.reset();
  std::lock_guard lock(mu_);
  releasing_partitions_.clear();
  return true;
}

void Coordinator::DropEverything(const std::string& why) {
  std::vector<int> all;
  {
    std::lock_guard lock(mu_);
    all = Vec(owned_);
    status_.waiting.clear();
  }
  logger_.Error(why, {{"partitions", std::to_string(all.size())}});
  if (!all.empty()) ReleaseOwned(all, false);
  known_generation_ = -1;
  handover_pending_ = false;
  releasing_.reset();  // no acknowledgement is owed any more: this worker rejoins
  std::lock_guard lock(mu_);
  releasing_partitions_.clear();
}

bool Coordinator::Leave() { return LeaveVia(store_); }

bool Coordinator::LeaveVia(CoordinationStore& store) {
  const auto& rs = options_.replica_set;
  try {
    store.Deregister(rs, options_.worker.worker_id);
  } catch (const std::exception& e) {
    logger_.Warn("could not deregister; peers evict this worker after STALE_WORKER_TIMEOUT", {{"error", e.what()}});
    return false;
  }
  try {
    const auto g = store.FormGeneration(rs);
    logger_.Info("left the replica set", {{"replica_set", rs}, {"next_generation", g ? std::to_string(*g) : "none"}});
  } catch (const std::exception& e) {
    // Deregistered: the next heartbeat of a peer forms the generation instead.
    logger_.Warn("left the replica set; forming the next generation failed (a peer's heartbeat forms it)",
                 {{"replica_set", rs}, {"error", e.what()}});
  }
  return true;
}

}  // namespace projd
