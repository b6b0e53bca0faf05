#include <catch2/catch.hpp>

#include "projections/registry.h"

namespace {

class Alpha final : public projd::AsyncProjection {
 public:
  std::string Name() const override { return "alpha"; }
  void Handle(std::span<const projd::Event>, projd::AsyncContext&) override {}
};

class Beta final : public projd::TransactionalProjection {
 public:
  std::string Name() const override { return "beta"; }
  void Handle(std::span<const projd::Event>, pqxx::work&) override {}
};

projd::ProjectionRegistry TwoProjections() {
  projd::ProjectionRegistry r;
  r.Add("beta", [] { return std::make_unique<Beta>(); });
  r.Add("alpha", [] { return std::make_unique<Alpha>(); });
  return r;
}

}  // namespace

TEST_CASE("the registry creates all projections when none are selected", "[projections]") {
  const auto r = TwoProjections();
  CHECK(r.Names() == std::vector<std::string>{"alpha", "beta"});
  const auto all = r.Create({});
  REQUIRE(all.size() == 2);
  CHECK(r.Problems().empty());
}

TEST_CASE("the registry creates only the selected projections", "[projections]") {
  const auto r = TwoProjections();
  const auto one = r.Create({"beta"});
  REQUIRE(one.size() == 1);
  CHECK(one[0]->Name() == "beta");
  CHECK(one[0]->Kind() == projd::ProjectionKind::kTransactional);
}

TEST_CASE("an unknown projection name is an error listing the registered ones", "[projections]") {
  const auto r = TwoProjections();
  REQUIRE_THROWS_WITH(r.Create({"beta", "gamma"}),
                      Catch::Contains("gamma") && Catch::Contains("registered: alpha, beta"));
}

TEST_CASE("duplicate and malformed projection names are reported", "[projections]") {
  auto r = TwoProjections();
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
