#include <catch2/catch.hpp>

#include "orchestrator/runtime/worker_status.h"

TEST_CASE("every error text of a worker's status loses the database password, also outside a URL", "[status][secrets]") {
  const std::string url = "postgresql://projd:Sup3r?S@c#r%25zz@db:5432/app";
  projd::WorkerStatus s;
  s.coordination.last_error = "could not connect as projd with Sup3r?S@c#r%zz";
  s.persistence.last_error = "ERROR: password Sup3r?S@c#r%zz rejected";
  projd::RunnerStatus runner;
  runner.last_error = "my projection printed its config: secret=Sup3r?S@c#r%zz";
  runner.stopped.push_back({3, 42, "cannot reach postgresql://projd:Sup3r?S@c#r%25zz@db/app"});
  s.runners.push_back(runner);
  const auto masked = projd::MaskSecretsIn(s, url);
  for (const auto* text : {&masked.coordination.last_error, &masked.persistence.last_error,
                           &masked.runners[0].last_error, &masked.runners[0].stopped[0].error}) {
    INFO(*text);
    CHECK(text->find("Sup3r") == std::string::npos);
    CHECK(text->find("****") != std::string::npos);
  }
  CHECK(masked.runners[0].last_error == "my projection printed its config: secret=****");
}
