// Partition assignment for a generation: sticky and balanced (design section 5).
//
// Given the partition count, the previous owner of each partition (by member name; "" =
// none) and the live members, returns the new owner of each partition such that
//  * every member owns floor(P/n) or ceil(P/n) partitions,
//  * as few partitions as possible change owner (a member keeps what it had, up to its
//    quota; the members that already own most get the larger quotas),
//  * a member that restarts under the same name gets its partitions back,
//  * the result depends only on the inputs (deterministic).
// Pure function; thread-safe.
#pragma once

#include <string>
#include <vector>

namespace projd {

// previous.size() == partitions (missing owners as ""); members non-empty, names unique.
// Returns one owner name per partition.
std::vector<std::string> AssignPartitions(int partitions, const std::vector<std::string>& previous,
                                          std::vector<std::string> members);

// Partitions whose owner differs between two assignments.
int CountMoves(const std::vector<std::string>& before, const std::vector<std::string>& after);

}  // namespace projd
