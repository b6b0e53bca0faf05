// CoordinationStore: membership and generations of a replica set, kept in PostgreSQL rows
// (no leader; the database and its clock are the judge). Liveness is measured on the
// database clock (now()), never the worker's. No session state: libpqxx 6.4 may reconnect
// silently, so leases are rows and every operation is one transaction.
// Implementations need not be thread-safe (one per thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace projd {

struct WorkerInfo {
  std::string worker_id;    // stable for the process (a UUID)
  std::string worker_name;  // WORKER_NAME: a restarted pod with the same name gets its partitions back
  std::string host;
  int pid = 0;
  std::string version;
};

struct Member {
  std::string worker_id;
  std::string worker_name;
  std::chrono::milliseconds heartbeat_age{0};  // by the database clock
  std::int64_t acked_generation = 0;
};

struct HeartbeatResult {
  bool found = false;          // false: this worker was evicted; stop processing and rejoin
  std::int64_t generation = 0;  // the replica set's current generation
  int partitions = 0;           // the replica set's current partition count
  // The live members differ from the owners of the current assignment (a member left or
  // died, or one owns nothing while another owns two or more): a generation is due.
  bool membership_changed = false;
  // Age of the most recent registration (joins are debounced by a grace window).
  std::chrono::milliseconds youngest_member_age{0};
  std::vector<std::string> evicted;  // stale peers this heartbeat deleted
  int live_members = 0;              // live members after the eviction (this worker included)
};

struct AssignmentView {
  std::int64_t generation = 0;
  int partitions = 0;
  std::chrono::milliseconds generation_age{0};  // since the generation formed (database clock)
  std::int64_t rebuild_generation = 0;  // generation of the latest `projd rebuild` (0 = none)
  std::vector<std::string> owner_ids;    // per partition; "" = unassigned
  std::vector<std::string> owner_names;  // per partition
};

class CoordinationStore {
 public:
  virtual ~CoordinationStore() = default;

  // Creates the replica set with `partitions` if new; returns the stored count (the
  // count is fixed per replica set: a different PARTITIONS is reported by the caller).
  virtual int EnsureReplicaSet(const std::string& replica_set, int partitions) = 0;
  virtual void Register(const std::string& replica_set, const WorkerInfo& worker) = 0;
  // One statement: updates the worker's heartbeat to now(), deletes peers whose heartbeat
  // is older than `stale_timeout` (skipping rows being updated right now), and returns the
  // current generation with what the caller needs to decide whether one is due.
  virtual HeartbeatResult Heartbeat(const std::string& replica_set, const std::string& worker_id,
                                    std::chrono::milliseconds stale_timeout) = 0;
  virtual std::vector<Member> ListMembers(const std::string& replica_set) = 0;
  // Deletes members whose heartbeat is older than `stale_timeout`; returns their ids.
  virtual std::vector<std::string> EvictStale(const std::string& replica_set,
                                              std::chrono::milliseconds stale_timeout) = 0;
  // Under a row lock on the replica set: if the live members differ from the current
  // assignment's owners, writes generation + 1 with a sticky balanced assignment and
  // notifies. Returns the new generation, or nullopt when nothing changed.
  virtual std::optional<std::int64_t> FormGeneration(const std::string& replica_set) = 0;
  // Records that the worker released what it lost under `generation`, and notifies (so
  // new owners waiting for the handover react at once).
  virtual void Acknowledge(const std::string& replica_set, const std::string& worker_id,
                           std::int64_t generation) = 0;
  // Deletes the given members if they have not acknowledged `generation` (coordination
  // timeout); returns the ids deleted.
  virtual std::vector<std::string> EvictUnacknowledged(const std::string& replica_set,
                                                       const std::vector<std::string>& worker_ids,
                                                       std::int64_t generation) = 0;
  // Doubles the partition count online as a generation change, in one transaction:
  // partition k of P becomes k and k+P of 2P (both inherit k's checkpoint and owner), and
  // every checkpoint row is stamped with the new generation so writers of the old one are
  // fenced. Returns the new generation. Throws PermanentError beyond 4096 partitions.
  virtual std::int64_t SplitPartitions(const std::string& replica_set) = 0;
  virtual AssignmentView ReadAssignment(const std::string& replica_set) = 0;
  virtual void Deregister(const std::string& replica_set, const std::string& worker_id) = 0;
};

}  // namespace projd
