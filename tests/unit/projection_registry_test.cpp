#include <catch2/catch.hpp>

#include <projd/registry.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

class Alpha final : public projd::AsyncProjection {
 public:
  std::string Name() const override { return "alpha"; }
  void Handle(std::span<const projd::Event>, projd::AsyncContext&) override {}
};

class Beta final : public projd::TransactionalProjection {
 public:
  std::string Name() const override { return "beta"; }
  void Handle(std::span<const projd::Event>, projd::Transaction&) override {}
};

void AddTwo(projd::ProjectionRegistry& r) {
  r.Add("beta", [] { return std::make_unique<Beta>(); });
  r.Add("alpha", [] { return std::make_unique<Alpha>(); });
}

// A projection that needs something from its team's code (a client, a configuration).
struct Greeter {
  std::string greeting;
};

class Greeting final : public projd::AsyncProjection {
 public:
  explicit Greeting(std::shared_ptr<const Greeter> greeter) : greeter_(std::move(greeter)) {}
  std::string Name() const override { return "greeting"; }
  int BatchSize() const override { return 7; }
  void Handle(std::span<const projd::Event>, projd::AsyncContext&) override {}
  const Greeter& greeter() const { return *greeter_; }

 private:
  std::shared_ptr<const Greeter> greeter_;
};

// One version of a projection (Version() as given).
class Versioned final : public projd::AsyncProjection {
 public:
  Versioned(std::string name, int version) : name_(std::move(name)), version_(version) {}
  std::string Name() const override { return name_; }
  int Version() const override { return version_; }
  void Handle(std::span<const projd::Event>, projd::AsyncContext&) override {}

 private:
  std::string name_;
  int version_;
};

void AddVersion(projd::ProjectionRegistry& r, const std::string& name, int version) {
  r.Add(name, [name, version] { return std::make_unique<Versioned>(name, version); });
}

std::vector<std::pair<std::string, int>> NamesAndVersions(const std::vector<std::unique_ptr<projd::Projection>>& ps) {
  std::vector<std::pair<std::string, int>> out;
  for (const auto& p : ps) out.emplace_back(p->Name(), p->Version());
  return out;
}

int counted_constructions = 0;
class Counted final : public projd::AsyncProjection {
 public:
  Counted() { ++counted_constructions; }
  std::string Name() const override { return "counted"; }
  void Handle(std::span<const projd::Event>, projd::AsyncContext&) override {}
};

}  // namespace

TEST_CASE("the registry creates all projections when none are selected", "[projections]") {
  projd::ProjectionRegistry r;
  AddTwo(r);
  CHECK(r.Names() == std::vector<std::string>{"alpha", "beta"});
  const auto all = r.Create({});
  REQUIRE(all.size() == 2);
  CHECK(r.Problems().empty());
}

TEST_CASE("the registry creates only the selected projections", "[projections]") {
  projd::ProjectionRegistry r;
  AddTwo(r);
  const auto one = r.Create({"beta"});
  REQUIRE(one.size() == 1);
  CHECK(one[0]->Name() == "beta");
  CHECK(one[0]->Kind() == projd::ProjectionKind::kTransactional);
}

TEST_CASE("an unknown projection name is an error listing the registered ones", "[projections]") {
  projd::ProjectionRegistry r;
  AddTwo(r);
  REQUIRE_THROWS_WITH(r.Create({"beta", "gamma"}),
                      Catch::Contains("gamma") && Catch::Contains("registered: alpha, beta"));
}

TEST_CASE("duplicate and malformed projection names are reported", "[projections]") {
  projd::ProjectionRegistry r;
  AddTwo(r);
  r.Add("alpha", [] { return std::make_unique<Alpha>(); });
  r.Add("Bad Name", [] { return std::make_unique<Alpha>(); });
  const auto problems = r.Problems();
  REQUIRE(problems.size() == 2);
  CHECK_THAT(problems[0], Catch::Contains("alpha") && Catch::Contains("twice"));
  CHECK_THAT(problems[1], Catch::Contains("Bad Name"));
}

TEST_CASE("projection names follow the documented rules", "[projections]") {
  CHECK(projd::IsValidProjectionName("stream_stats"));
  CHECK(projd::IsValidProjectionName("v2-orders"));
  CHECK_FALSE(projd::IsValidProjectionName(""));
  CHECK_FALSE(projd::IsValidProjectionName("2fast"));
  CHECK_FALSE(projd::IsValidProjectionName("Upper"));
}

TEST_CASE("a factory builds a projection with its dependencies, once per Create", "[projections][sdk]") {
  auto greeter = std::make_shared<const Greeter>(Greeter{"hello"});
  projd::ProjectionRegistry r;
  int built = 0;
  r.Add("greeting", [greeter, &built] {
    ++built;
    return std::make_unique<Greeting>(greeter);
  });
  CHECK(r.Names() == std::vector<std::string>{"greeting"});
  CHECK(built == 0);  // listing names builds nothing
  const auto created = r.Create({"greeting"});
  REQUIRE(created.size() == 1);
  CHECK(built == 1);
  const auto& g = dynamic_cast<const Greeting&>(*created[0]);
  CHECK(g.greeter().greeting == "hello");
  CHECK(g.BatchSize() == 7);
}

TEST_CASE("a registered type is first built when the registry is read, and that instance is used",
          "[projections][sdk]") {
  projd::ProjectionRegistry r;
  counted_constructions = 0;
  r.Add<Counted>();
  CHECK(counted_constructions == 0);  // nothing during registration (static initialisation)
  CHECK(r.Names() == std::vector<std::string>{"counted"});
  CHECK(counted_constructions == 1);
  CHECK(r.Create({}).size() == 1);
  CHECK(counted_constructions == 1);  // the instance built for the name
  CHECK(r.Create({}).size() == 1);
  CHECK(counted_constructions == 2);
}

TEST_CASE("a factory whose projection reports another name is refused", "[projections][sdk]") {
  projd::ProjectionRegistry r;
  r.Add("orders", [] { return std::make_unique<Alpha>(); });
  REQUIRE_THROWS_WITH(r.Create({}), Catch::Contains("registered as 'orders' names itself 'alpha'"));
}

TEST_CASE("statements that would end the unit's transaction are recognised, in scripts too, others are not",
          "[projections][sdk]") {
  using projd::Transaction;
  for (const auto* sql : {"COMMIT", "commit;", "  -- why\n COMMIT", "/* x */ end", "ROLLBACK", "rollback and chain",
                          "ABORT", "BEGIN", "START TRANSACTION", "PREPARE TRANSACTION 'x'", "COMMIT PREPARED 'x'",
                          "ROLLBACK PREPARED 'x'", "\tEnd Transaction", "CREATE TABLE a (x int); COMMIT",
                          "INSERT INTO t VALUES (';'); commit", "SELECT $$;$$; END", "SELECT E'\\';'; COMMIT",
                          "/* a; */ SELECT 1 -- b;\n; ROLLBACK"}) {
    INFO(sql);
    CHECK(Transaction::EndsTransaction(sql));
  }
  for (const auto* sql : {"INSERT INTO t VALUES (1)", "SAVEPOINT s", "RELEASE SAVEPOINT s", "ROLLBACK TO SAVEPOINT s",
                          "rollback to s", "PREPARE q AS SELECT 1", "SELECT 'COMMIT'", "UPDATE commits SET n = 1",
                          "WITH x AS (SELECT 1) SELECT * FROM x", "(SELECT 1)", "", "-- only a comment",
                          "CREATE TABLE a (x int); CREATE INDEX ON a (x);", "SELECT ';COMMIT'", "SELECT $$; COMMIT $$",
                          "SELECT $tag$ ; COMMIT $tag$", "SELECT \"a;commit\" FROM t", "SELECT E'\\'; COMMIT'",
                          "/* ; COMMIT */ SELECT 1", "SELECT 1 -- ; COMMIT", "SELECT $1, $2; SELECT 2"}) {
    INFO(sql);
    CHECK_FALSE(Transaction::EndsTransaction(sql));
  }
}

// What Handle receives has no way to end the transaction: no commit(), no abort().
template <typename T>
concept CanCommit = requires(T& t) { t.commit(); };
template <typename T>
concept CanAbort = requires(T& t) { t.abort(); };
static_assert(!CanCommit<projd::Transaction> && !CanAbort<projd::Transaction>);
static_assert(CanCommit<pqxx::work>);  // the check above would see them

TEST_CASE("a script splits at semicolons outside quotes and comments", "[projections][sdk]") {
  using projd::Transaction;
  CHECK(Transaction::Statements("CREATE TABLE a (x text DEFAULT ';'); CREATE INDEX ON a (x)").size() == 2);
  CHECK(Transaction::Statements("SELECT $f$ a; b $f$").size() == 1);
  CHECK(Transaction::Statements("/* x; /* nested; */ y; */ SELECT 1").size() == 1);
}

using NameAndVersion = std::pair<std::string, int>;

TEST_CASE("two versions of one name register without problems and are created sorted by version",
          "[projections][versions]") {
  projd::ProjectionRegistry r;
  AddVersion(r, "orders", 2);
  AddVersion(r, "orders", 1);
  r.Add("alpha", [] { return std::make_unique<Alpha>(); });
  CHECK(r.Problems().empty());
  CHECK(r.Names() == std::vector<std::string>{"alpha", "orders"});  // a name once
  const auto all = r.Create({});
  CHECK(NamesAndVersions(all) ==
        std::vector<NameAndVersion>{{"alpha", 1}, {"orders", 1}, {"orders", 2}});
}

TEST_CASE("the same projection version registered twice is a problem", "[projections][versions]") {
  projd::ProjectionRegistry r;
  AddVersion(r, "orders", 1);
  AddVersion(r, "orders", 2);
  AddVersion(r, "orders", 2);
  const auto problems = r.Problems();
  REQUIRE(problems.size() == 1);
  CHECK_THAT(problems[0], Catch::Contains("orders") && Catch::Contains("version 2") && Catch::Contains("twice"));
}

TEST_CASE("a version outside 1..9999 is a problem", "[projections][versions]") {
  projd::ProjectionRegistry r;
  AddVersion(r, "low", 0);
  AddVersion(r, "high", 10000);
  AddVersion(r, "lowest", 1);
  AddVersion(r, "highest", projd::kMaxProjectionVersion);
  const auto problems = r.Problems();
  REQUIRE(problems.size() == 2);
  CHECK_THAT(problems[0], Catch::Contains("'low'") && Catch::Contains("version 0") && Catch::Contains("1..9999"));
  CHECK_THAT(problems[1], Catch::Contains("'high'") && Catch::Contains("version 10000"));
}

TEST_CASE("a selection by name picks every version and name@N only that version", "[projections][versions]") {
  projd::ProjectionRegistry r;
  AddVersion(r, "orders", 1);
  AddVersion(r, "orders", 2);
  AddVersion(r, "orders", 3);
  AddVersion(r, "stats", 1);
  CHECK(NamesAndVersions(r.Create({"orders"})) ==
        std::vector<NameAndVersion>{{"orders", 1}, {"orders", 2}, {"orders", 3}});
  CHECK(NamesAndVersions(r.Create({"orders@2"})) == std::vector<NameAndVersion>{{"orders", 2}});
  CHECK(NamesAndVersions(r.Create({"orders@3", "stats"})) ==
        std::vector<NameAndVersion>{{"orders", 3}, {"stats", 1}});
  // Picked twice (by name and by name@N): created once.
  CHECK(NamesAndVersions(r.Create({"orders", "orders@2"})) ==
        std::vector<NameAndVersion>{{"orders", 1}, {"orders", 2}, {"orders", 3}});
}

TEST_CASE("selecting a version that is not registered is an error naming it", "[projections][versions]") {
  projd::ProjectionRegistry r;
  AddVersion(r, "orders", 1);
  AddVersion(r, "orders", 2);
  REQUIRE_THROWS_AS(r.Create({"orders@7"}), std::invalid_argument);
  REQUIRE_THROWS_WITH(r.Create({"orders@2", "orders@7"}),
                      Catch::Contains("orders@7") && Catch::Contains("registered: orders"));
  REQUIRE_THROWS_AS(r.Create({"orders@"}), std::invalid_argument);
}
