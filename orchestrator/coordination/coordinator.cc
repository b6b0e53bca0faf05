#include "orchestrator/coordination/coordinator.h"

#include <algorithm>
#include <iterator>
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
      backoff_(milliseconds(100), options_.timings.heartbeat_interval),
      drain_(ReleaseDrain::Budget(options_.drain_timeout, options_.timings)) {
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
    std::lock_guard lock(fenced_mu_);
    fenced_.insert(partition);
  }
  wake_.Notify();
}

std::set<int> Coordinator::TakeFencedReports() {
  std::set<int> fenced;
  std::lock_guard lock(fenced_mu_);
  fenced.swap(fenced_);
  return fenced;
}

CoordinatorStatus Coordinator::Status() const { return status_.Snapshot(); }

void Coordinator::Loop() {
  while (!stop_) {
    const auto seen = wake_.version();
    milliseconds wait{0};
    const auto started = clock_.Now();
    try {
      wait = Tick();
      status_.ObserveRound(clock_.Now() - started);
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
  SelfFenceIfSilent();
  if (!registered_ && !Register()) return RetryDelay();
  ReleaseFencedPartitions();
  try {
    return HeartbeatRound();
  } catch (const std::exception& e) {
    // Whatever step failed (acknowledge, stamp, ...), reconcile the assignment again next
    // round: a generation whose partitions were not taken must not count as handled.
    progress_.Forget();
    status_.Failed(e.what());
    logger_.Warn("coordination failed; retrying", {{"error", e.what()}, {"attempt", std::to_string(backoff_.attempts() + 1)}});
    return RetryDelay();
  }
}

milliseconds Coordinator::RetryDelay() { return std::min(backoff_.Next(), options_.timings.heartbeat_interval); }

// Self-fencing comes first: after a long pause (SIGSTOP, a stalled VM) peers may have
// evicted us already, so nothing may be processed until a heartbeat succeeds again.
void Coordinator::SelfFenceIfSilent() {
  if (!SelfFenceDue(!owned_.empty(), last_success_, clock_.Now(), options_.timings)) return;
  DropEverything("no successful heartbeat within the self-fence threshold: stopping processing");
  status_.SelfFenced();
}

bool Coordinator::Register() {
  const auto& rs = options_.replica_set;
  try {
    const int stored = store_.EnsureReplicaSet(rs, options_.partitions);
    if (stored != options_.partitions) {
      logger_.Warn("PARTITIONS differs from the replica set's stored count; using the stored count",
                   {{"replica_set", rs}, {"configured", std::to_string(options_.partitions)},
                    {"stored", std::to_string(stored)}});
    }
    store_.Register(rs, options_.worker);
  } catch (const std::exception& e) {
    status_.Failed(e.what());
    logger_.Warn("registration failed; retrying", {{"error", e.what()}});
    return false;
  }
  registered_ = true;
  last_success_ = clock_.Now();
  status_.Registered();
  logger_.Info("registered", {{"replica_set", rs}, {"worker_id", options_.worker.worker_id},
                              {"worker_name", options_.worker.worker_name}});
  return true;
}

void Coordinator::ReleaseFencedPartitions() {
  const auto fenced = TakeFencedReports();
  if (fenced.empty()) return;
  std::vector<int> mine;
  std::set_intersection(fenced.begin(), fenced.end(), owned_.begin(), owned_.end(), std::back_inserter(mine));
  if (!mine.empty()) ReleaseOwned(mine, Release::kStop);
  progress_.Forget();  // re-read the assignment; a newer generation is on its way
}

milliseconds Coordinator::HeartbeatRound() {
  const auto& t = options_.timings;
  const auto attempt = clock_.Now();
  const auto hb = store_.Heartbeat(options_.replica_set, options_.worker.worker_id, t.stale_timeout);
  last_success_ = attempt;
  backoff_.Reset();
  const bool was_fenced = status_.HeartbeatSucceeded(clock_.Now() - attempt, hb.live_members);
  switch (ClassifyHeartbeat(hb, was_fenced)) {
    case HeartbeatVerdict::kEvicted:
      status_.Evicted();
      DropEverything("this worker's row is gone (evicted by a peer): stopped processing, rejoining");
      registered_ = false;
      return milliseconds(0);
    case HeartbeatVerdict::kResumed:
      logger_.Info("heartbeats succeed again; resuming");
      progress_.Forget();
      break;
    case HeartbeatVerdict::kAlive:
      break;
  }
  CountEvictedPeers(hb.evicted);
  const auto decision = DecideGeneration(hb, t);
  const auto generation = decision.form ? FormGeneration(hb.generation) : hb.generation;
  if (progress_.ReconcileDue(generation)) Reconcile(store_.ReadAssignment(options_.replica_set));
  return NextRoundDelay({decision.wait, progress_.pending(), drain_.active() || stamp_busy_}, t);
}

void Coordinator::CountEvictedPeers(const std::vector<std::string>& evicted) {
  if (evicted.empty()) return;
  status_.StaleWorkersCleaned(evicted.size());
  for (const auto& w : evicted) {
    logger_.Warn("evicted a stale worker",
                 {{"worker_id", w}, {"stale_timeout_ms", std::to_string(options_.timings.stale_timeout.count())}});
  }
}

std::int64_t Coordinator::FormGeneration(std::int64_t current) {
  const auto g = store_.FormGeneration(options_.replica_set);
  if (!g) return current;
  status_.GenerationFormed();
  logger_.Info("generation formed", {{"replica_set", options_.replica_set}, {"generation", std::to_string(*g)}});
  return *g;
}

void Coordinator::Reconcile(const AssignmentView& view) {
  RestartOnLayoutChange(view);
  stamp_busy_ = false;
  const auto plan = PlanHandover(view, owned_, options_.worker.worker_id);
  status_.AssignmentSeen(view.generation, view.partitions, MembersOf(view.owner_ids, view.owner_names));
  if (!plan.release.empty()) ReleaseOwned(plan.release, Release::kHandover);
  if (!FinishRelease()) {
    progress_.SetPending(true);  // acknowledged in a later round, once released
    return;
  }
  AcknowledgeIfDue(view.generation);
  progress_.Handled(view.generation);
  status_.SetWaiting(plan.take);
  if (plan.take.empty()) {
    progress_.SetPending(false);
    return;
  }
  const auto decision = DecideHandover(view, store_.ListMembers(options_.replica_set), options_.worker.worker_id,
                                       options_.timings);
  if (!decision.ready) {
    progress_.SetPending(true);
    if (!decision.late.empty()) EvictLate(view, decision.late);
    return;
  }
  TakeGained(view, plan.take);
}

void Coordinator::RestartOnLayoutChange(const AssignmentView& view) {
  const auto change = layout_.Observe(view);
  if (change.cause == RestartCause::kNone || owned_.empty()) return;
  if (change.cause == RestartCause::kPartitionCount) {
    logger_.Info("partition count changed; restarting every partition",
                 {{"from", std::to_string(change.previous_partitions)}, {"to", std::to_string(view.partitions)}});
  } else {
    logger_.Info("a projection was rebuilt or reset; restarting every partition from its checkpoints",
                 {{"generation", std::to_string(view.rebuild_generation)}});
  }
  // The split, the rebuild or the reset stamped the rows: our old writes are fenced anyway.
  ReleaseOwned(Vec(owned_), Release::kStop);
}

void Coordinator::AcknowledgeIfDue(std::int64_t generation) {
  if (!progress_.AcknowledgementDue(generation)) return;
  store_.Acknowledge(options_.replica_set, options_.worker.worker_id, generation);
  progress_.Acknowledged(generation);
  status_.Acknowledged(generation);
}

void Coordinator::EvictLate(const AssignmentView& view, const std::vector<std::string>& late) {
  const auto evicted = store_.EvictUnacknowledged(options_.replica_set, late, view.generation);
  if (evicted.empty()) return;
  status_.CoordinationTimeouts(evicted.size());
  for (const auto& w : evicted) {
    logger_.Error("coordination timeout: evicted a member that did not acknowledge the generation",
                  {{"worker_id", w}, {"generation", std::to_string(view.generation)},
                   {"coordination_timeout_ms", std::to_string(options_.timings.coordination_timeout.count())}});
  }
  if (store_.FormGeneration(options_.replica_set)) status_.GenerationFormed();
  progress_.Forget();
}

void Coordinator::TakeGained(const AssignmentView& view, const std::vector<int>& gained) {
  const auto projections = owner_.Projections();
  StampResult stamp;
  if (!projections.empty()) {
    stamp = stamp_store_.Stamp(options_.replica_set, projections, gained, view.generation, options_.worker.worker_id);
  }
  const auto plan = PlanTake(gained, stamp);
  owner_.Take(view.partitions, plan.start);
  owned_.insert(plan.taken.begin(), plan.taken.end());
  status_.Taken(owned_, plan.waiting, plan.taken.size());
  progress_.SetPending(!plan.waiting.empty());
  stamp_busy_ = !plan.busy.empty();
  LogTaken(view, plan);
}

void Coordinator::LogTaken(const AssignmentView& view, const TakePlan& plan) {
  const auto generation = std::to_string(view.generation);
  if (!plan.taken.empty()) {
    logger_.Info("partitions taken", {{"generation", generation},
                                      {"count", std::to_string(plan.taken.size())}, {"partitions", JoinInts(plan.taken)}});
  }
  if (!plan.refused.empty()) {
    logger_.Warn("a newer generation already stamped partitions; waiting for it",
                 {{"generation", generation}, {"partitions", JoinInts(plan.refused)}});
  }
  if (!plan.busy.empty()) {
    logger_.Info("checkpoint rows still held by the previous owner's transaction; taking them when it ends",
                 {{"generation", generation}, {"partitions", JoinInts(plan.busy)}});
  }
}

void Coordinator::ReleaseOwned(const std::vector<int>& partitions, Release mode) {
  owner_.Release(partitions);  // returns at once; a batch in flight finishes on its own
  if (mode == Release::kHandover) drain_.Add(partitions, clock_.Now());
  for (int p : partitions) owned_.erase(p);
  status_.Released(owned_, drain_.partitions(), partitions.size());
  logger_.Info("partitions released", {{"count", std::to_string(partitions.size())},
                                       {"partitions", JoinInts(partitions)},
                                       {"drain", mode == Release::kHandover ? "true" : "false"}});
}

bool Coordinator::FinishRelease() {
  if (!drain_.active()) return true;
  const auto now = clock_.Now();
  const bool overdue = drain_.Overdue(now);
  auto result = ForceResult::kTimeout;
  if (!overdue) {
    if (owner_.Busy(drain_.partitions())) return false;  // a batch in flight still holds some
    const auto keys = ReleaseKeys(options_.replica_set, owner_.Projections(), drain_.partitions());
    result = core_.Revoke(keys, drain_.RevokeSlice(now, options_.timings));
    if (drain_.KeepWaiting(result, clock_.Now())) return false;
  }
  if (result != ForceResult::kOk) WarnUndrained(overdue, result);
  drain_.Clear();
  status_.SetReleasing({});
  return true;
}

void Coordinator::WarnUndrained(bool overdue, ForceResult result) {
  const auto& parts = drain_.partitions();
  logger_.Warn("handover: released partitions not drained within the budget; acknowledging anyway: the new owner"
               " resumes from the last durable checkpoint, and a batch still in flight here is fenced by its stamp",
               {{"result", overdue && owner_.Busy(parts) ? "runner still in its batch" : ToString(result)},
                {"budget_ms", std::to_string(drain_.budget().count())}, {"partitions", JoinInts(parts)}});
}

void Coordinator::DropEverything(const std::string& why) {
  const auto all = Vec(owned_);
  status_.SetWaiting({});
  logger_.Error(why, {{"partitions", std::to_string(all.size())}});
  if (!all.empty()) ReleaseOwned(all, Release::kStop);
  progress_.Abandon();
  drain_.Clear();  // no acknowledgement is owed any more: this worker rejoins
  status_.SetReleasing({});
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
