// The handover decisions of a worker: which partitions to release, take and wait for,
// when everything restarts, and when a generation counts as handled and acknowledged.
#include <catch2/catch.hpp>

#include "orchestrator/coordination/handover_plan.h"

using namespace projd;

namespace {

AssignmentView View(std::int64_t generation, std::vector<std::string> owner_ids) {
  AssignmentView view;
  view.generation = generation;
  view.partitions = static_cast<int>(owner_ids.size());
  view.owner_ids = std::move(owner_ids);
  view.owner_names = view.owner_ids;
  return view;
}

Checkpoint Row(const std::string& projection, int partition, std::int64_t position) {
  return Checkpoint{{"rs", projection, partition}, position, 2, "me", 0};
}

std::vector<int> Partitions(const std::vector<Checkpoint>& rows) {
  std::vector<int> out;
  for (const auto& cp : rows) out.push_back(cp.key.partition);
  return out;
}

}  // namespace

TEST_CASE("the plan releases what moved away and takes what moved here", "[coordinator][handover]") {
  const auto view = View(3, {"me", "other", "me", "", "other", "me"});
  SECTION("a first assignment takes every partition assigned here") {
    const auto plan = PlanHandover(view, {}, "me");
    CHECK(plan.release.empty());
    CHECK(plan.take == std::vector<int>{0, 2, 5});
  }
  SECTION("owned partitions still assigned here are neither released nor taken") {
    const auto plan = PlanHandover(view, {0, 1, 2, 3, 4}, "me");
    CHECK(plan.release == std::vector<int>{1, 3, 4});  // unassigned (3) is released too
    CHECK(plan.take == std::vector<int>{5});
  }
  SECTION("an assignment without this worker releases everything") {
    const auto plan = PlanHandover(View(4, {"other", "other"}), {0, 1}, "me");
    CHECK(plan.release == std::vector<int>{0, 1});
    CHECK(plan.take.empty());
  }
  SECTION("an unchanged assignment plans nothing") {
    const auto plan = PlanHandover(view, {0, 2, 5}, "me");
    CHECK(plan.release.empty());
    CHECK(plan.take.empty());
  }
}

TEST_CASE("a gained partition starts only when every projection's row was stamped", "[coordinator][handover]") {
  StampResult stamp;
  stamp.taken = {Row("a", 1, 10), Row("b", 1, 11), Row("a", 2, 20), Row("a", 4, 40), Row("b", 4, 41), Row("a", 6, 60)};
  stamp.lost = {{"rs", "b", 2}};                    // a newer generation stamped 2 for b
  stamp.busy = {{"rs", "b", 6}, {"rs", "a", 9}};  // rows still held by the previous owner
  const auto plan = PlanTake({1, 2, 4, 6, 9}, stamp);
  CHECK(Partitions(plan.start) == std::vector<int>{1, 1, 4, 4});
  CHECK(plan.start[0].position == 10);
  CHECK(plan.taken == std::vector<int>{1, 4});
  CHECK(plan.waiting == std::vector<int>{2, 6, 9});
  CHECK(plan.refused == std::vector<int>{2});
  CHECK(plan.busy == std::vector<int>{6, 9});
}

TEST_CASE("without projections every gained partition counts as taken", "[coordinator][handover]") {
  const auto plan = PlanTake({3, 1}, StampResult{});
  CHECK(plan.start.empty());
  CHECK(plan.taken == std::vector<int>{3, 1});
  CHECK(plan.waiting.empty());
}

TEST_CASE("every partition restarts on a split or a rebuild, never on the first assignment",
          "[coordinator][handover]") {
  AssignmentLayout layout;
  auto view = View(1, std::vector<std::string>(8, "me"));
  view.rebuild_generation = 0;
  SECTION("the first view reports the count change from zero") {
    const auto change = layout.Observe(view);
    CHECK(change.cause == RestartCause::kPartitionCount);  // nothing owned yet: nothing restarts
    CHECK(change.previous_partitions == 0);
    CHECK(layout.Observe(view).cause == RestartCause::kNone);
  }
  SECTION("a split reports the previous count") {
    layout.Observe(view);
    auto split = View(2, std::vector<std::string>(16, "me"));
    const auto change = layout.Observe(split);
    CHECK(change.cause == RestartCause::kPartitionCount);
    CHECK(change.previous_partitions == 8);
  }
  SECTION("a newer rebuild generation restarts, the same one does not") {
    layout.Observe(view);
    view.rebuild_generation = 5;
    CHECK(layout.Observe(view).cause == RestartCause::kRebuild);
    CHECK(layout.Observe(view).cause == RestartCause::kNone);
  }
  SECTION("a rebuild seen in the very first view restarts nothing") {
    view.rebuild_generation = 5;
    layout.Observe(view);
    CHECK(layout.Observe(view).cause == RestartCause::kNone);
  }
  SECTION("a split together with a rebuild counts as the split") {
    layout.Observe(view);
    auto split = View(2, std::vector<std::string>(16, "me"));
    split.rebuild_generation = 7;
    CHECK(layout.Observe(split).cause == RestartCause::kPartitionCount);
  }
}

TEST_CASE("a generation is reconciled until handled, and acknowledged once", "[coordinator][handover]") {
  GenerationProgress progress;
  CHECK(progress.ReconcileDue(0));  // nothing handled yet
  CHECK(progress.AcknowledgementDue(1));
  CHECK_FALSE(progress.AcknowledgementDue(0));

  progress.Acknowledged(1);
  progress.Handled(1);
  CHECK_FALSE(progress.ReconcileDue(1));
  CHECK(progress.ReconcileDue(2));
  CHECK_FALSE(progress.AcknowledgementDue(1));
  CHECK(progress.AcknowledgementDue(2));

  SECTION("a pending handover is reconciled every round") {
    progress.SetPending(true);
    CHECK(progress.ReconcileDue(1));
    progress.SetPending(false);
    CHECK_FALSE(progress.ReconcileDue(1));
  }
  SECTION("a forgotten generation is read again, its acknowledgement is not owed again") {
    progress.Forget();
    CHECK(progress.ReconcileDue(1));
    CHECK_FALSE(progress.AcknowledgementDue(1));
  }
  SECTION("dropping everything clears the pending handover and keeps the acknowledgement") {
    progress.SetPending(true);
    progress.Abandon();
    CHECK_FALSE(progress.pending());
    CHECK(progress.ReconcileDue(1));
    CHECK(progress.acked() == 1);
  }
}
