// Trigger and FlushOutcome: why a checkpoint flush ran and how it ended. Their names are
// the `trigger` and `outcome` labels of the persistence metrics and the `flushes` keys of
// /status (docs/metrics.md, docs/persistence.md).
#pragma once

#include <array>
#include <cstddef>
#include <string>

namespace projd {

// interval: the fixed-rate timer; size: MAX_BATCH_SIZE keys pending; lag: the work's own
// backpressure (persistence_pressure.h); caught_up: FlushSoon; force: ForcePersistence;
// revoke: a partition handover; shutdown: the final drain.
enum class Trigger { kInterval, kSize, kLag, kCaughtUp, kForce, kRevoke, kShutdown };
inline constexpr std::array kTriggers = {Trigger::kInterval, Trigger::kSize,   Trigger::kLag,     Trigger::kCaughtUp,
                                         Trigger::kForce,    Trigger::kRevoke, Trigger::kShutdown};
std::string ToString(Trigger t);  // "interval", "size", "lag", "caught_up", "force", "revoke", "shutdown"

// kNothing: nothing pending (for the keys asked); no transaction, never counted.
// kSkippedOpen: the breaker refused the attempt; counted as "skipped".
enum class FlushOutcome { kNothing, kSuccess, kFailure, kSkippedOpen };
inline constexpr std::array kFlushOutcomes = {FlushOutcome::kNothing, FlushOutcome::kSuccess, FlushOutcome::kFailure,
                                              FlushOutcome::kSkippedOpen};
std::string ToString(FlushOutcome o);  // "nothing", "success", "failure", "skipped"

constexpr std::size_t Index(Trigger t) { return static_cast<std::size_t>(t); }
constexpr std::size_t Index(FlushOutcome o) { return static_cast<std::size_t>(o); }
static_assert(Index(kTriggers.back()) + 1 == kTriggers.size(), "kTriggers lists every Trigger in order");
static_assert(Index(kFlushOutcomes.back()) + 1 == kFlushOutcomes.size(), "kFlushOutcomes lists every outcome in order");

}  // namespace projd
