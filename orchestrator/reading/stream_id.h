// StreamId: the identity of one aggregate's stream, (bounded_context, aggregate_type,
// aggregate_id), as in the events table's unique constraint. An aggregate id alone is not
// an identity: "42" may name streams of several types and bounded contexts.
// Plain data; copyable; ordered (usable as a std::set/std::map key).
#pragma once

#include <compare>
#include <string>

#include "orchestrator/reading/event.h"

namespace projd {

struct StreamId {
  std::string bounded_context;
  std::string aggregate_type;
  std::string aggregate_id;
  auto operator<=>(const StreamId&) const = default;
};

// The stream `e` belongs to.
inline StreamId StreamOf(const Event& e) { return {e.bounded_context, e.aggregate_type, e.aggregate_id}; }

// "bounded_context/aggregate_type/aggregate_id", for messages only: the parts may contain
// '/', so this is not a key to parse back.
inline std::string ToString(const StreamId& s) {
  return s.bounded_context + "/" + s.aggregate_type + "/" + s.aggregate_id;
}

}  // namespace projd
