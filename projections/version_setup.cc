#include "projections/version_setup.h"

#include "orchestrator/versions/lane_key.h"
#include "projections/projection_sink.h"

namespace projd {

VersionSetup::VersionSetup(VersionStore& store, std::string replica_set, pg::ConnectionOptions setup_options)
    : store_(store), replica_set_(std::move(replica_set)), setup_options_(std::move(setup_options)) {}

LaneState VersionSetup::SetUp(Projection& projection, const std::vector<int>& versions) {
  const auto name = projection.Name();
  const auto known = store_.Register(replica_set_, name, versions);
  const auto lane = LaneKey(name, projection.Version());
  LaneState state = LanesOf(known)[lane];
  if (state.runs) {
    auto options = setup_options_;
    options.read_model_schema = state.schema;
    SetUpProjection(projection, options);
    store_.PointStableNames(replica_set_, name, projection.Version());
  }
  lanes_[lane] = state;
  return state;
}

}  // namespace projd
