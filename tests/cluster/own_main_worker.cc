// A team's worker with its own main() (include/projd/worker.h): projections built by
// factories with a dependency, and a projection that tries to commit by hand. Used by
// sdk_cluster_test.cpp.
#include <cstdlib>
#include <map>
#include <memory>
#include <string>

#include <projd/projd.h>

namespace {

// The dependency: something the team's code builds before the projections (a client, a
// configuration).
struct Labeller {
  std::string label;
};

// Counts events per aggregate type under the label it was given.
class LabelledCounts final : public projd::TransactionalProjection {
 public:
  explicit LabelledCounts(std::shared_ptr<const Labeller> labeller) : labeller_(std::move(labeller)) {}
  std::string Name() const override { return "labelled_counts"; }
  int BatchSize() const override { return 7; }
  void Setup(projd::Transaction& tx) override {
    tx.exec0("CREATE TABLE IF NOT EXISTS labelled_counts (label text, aggregate_type text, events bigint,"
             " PRIMARY KEY (label, aggregate_type))");
  }
  void Reset(projd::Transaction& tx) override { tx.exec0("TRUNCATE labelled_counts"); }
  void Handle(std::span<const projd::Event> batch, projd::Transaction& tx) override {
    std::map<std::string, std::int64_t> counts;
    for (const auto& e : batch) ++counts[e.aggregate_type];
    std::vector<std::string> types;
    std::vector<std::int64_t> n;
    for (const auto& [t, c] : counts) {
      types.push_back(t);
      n.push_back(c);
    }
    tx.exec_params0("INSERT INTO labelled_counts SELECT $1, * FROM unnest($2::text[], $3::bigint[])"
                    " ON CONFLICT (label, aggregate_type) DO UPDATE SET events = labelled_counts.events + EXCLUDED.events",
                    labeller_->label, projd::TextArray(types), projd::IntArray(n));
  }

 private:
  std::shared_ptr<const Labeller> labeller_;
};

// Writes a row per event, then tries to commit on its own: refused every time, so after the
// retries its error policy (skip) dead-letters the events and its table stays empty.
class SelfCommitting final : public projd::TransactionalProjection {
 public:
  std::string Name() const override { return "self_committing"; }
  projd::ErrorPolicy OnError() const override { return projd::ErrorPolicy::kSkip; }
  projd::RetryPolicy Retry() const override { return {2, std::chrono::milliseconds(10), std::chrono::milliseconds(20)}; }
  void Setup(projd::Transaction& tx) override {
    tx.exec0("CREATE TABLE IF NOT EXISTS self_committed (global_position bigint)");
  }
  void Handle(std::span<const projd::Event> batch, projd::Transaction& tx) override {
    for (const auto& e : batch) tx.exec_params0("INSERT INTO self_committed VALUES ($1)", e.global_position);
    tx.exec("COMMIT");
  }
};

}  // namespace

int main(int argc, char** argv) {
  const char* label = std::getenv("TEAM_LABEL");
  auto labeller = std::make_shared<const Labeller>(Labeller{label ? label : "unlabelled"});
  projd::ProjectionRegistry registry;
  registry.Add("labelled_counts", [labeller] { return std::make_unique<LabelledCounts>(labeller); });
  registry.Add<SelfCommitting>();
  return projd::RunWorker(argc, argv, registry);
}
