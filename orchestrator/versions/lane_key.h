// Lane keys: how a projection version is named wherever the runtime keys by projection
// (checkpoints, dead letters, runners, /status). Version 1 keeps the projection's own name,
// so checkpoints written before versions existed stay version 1's; version N >= 2 is
// "name@N" ('@' is not allowed in projection names, so keys never collide).
#pragma once

#include <string>

namespace projd {

struct LaneName {
  std::string projection;
  int version = 1;
};

std::string LaneKey(const std::string& projection, int version);
// The projection and version of a key; a key without "@N" (or with a malformed one) is
// version 1 of the whole key.
LaneName ParseLaneKey(const std::string& key);

// The schema a version's read model lives in: "<projection>_v<N>" beside `stable_schema`
// "public", "<stable_schema>_<projection>_v<N>" otherwise (so that two projd schemas of one
// database never share one). Names longer than PostgreSQL's 63 bytes are cut and end in a
// hash of the whole name.
std::string VersionSchemaName(const std::string& stable_schema, const std::string& projection, int version);

}  // namespace projd
