// PrefetchingReader: one batch ahead, used only for exactly the request it answers.
#include <catch2/catch.hpp>

#include <atomic>

#include "orchestrator/common/errors.h"
#include "orchestrator/reading/prefetching_reader.h"
#include "tests/support/fake_event_reader.h"
#include "tests/support/process.h"

using namespace std::chrono_literals;
using projd::PrefetchingReader;
using projd::ReadRequest;
using projd::testing::FakeEventReader;
using projd::testing::WaitFor;

namespace {
// Forwards to a FakeEventReader; calls numbered from `fail_from` to `fail_to` fail.
class Flaky final : public projd::EventReader {
 public:
  explicit Flaky(FakeEventReader& inner) : inner_(inner) {}
  projd::ReadResult ReadBatch(const ReadRequest& request) override {
    const int call = ++calls;
    if (call >= fail_from && call <= fail_to) throw projd::TransientError("connection refused");
    return inner_.ReadBatch(request);
  }
  std::string Plan() const override { return "plan-" + std::to_string(calls.load()); }
  std::atomic<int> calls{0};
  std::atomic<int> fail_from{0}, fail_to{-1};

 private:
  FakeEventReader& inner_;
};

ReadRequest Request(std::int64_t after0, std::int64_t after1, std::int64_t mark, int limit = 3) {
  ReadRequest r;
  r.partition_count = 2;
  r.after = {{0, after0}, {1, after1}};
  r.high_water_mark = mark;
  r.limit = limit;
  return r;
}

std::vector<std::int64_t> Positions(const projd::ReadResult& r) {
  std::vector<std::int64_t> out;
  for (const auto& e : r.events) out.push_back(e.event.global_position);
  return out;
}

struct Fixture {
  Fixture() {
    for (int i = 0; i < 10; ++i) events.Append(i % 2);  // 1..10, odd ones in partition 0
    auto inner = std::make_unique<Flaky>(events);
    flaky = inner.get();
    reader = std::make_unique<PrefetchingReader>(std::move(inner));
  }
  FakeEventReader events;
  Flaky* flaky = nullptr;
  std::unique_ptr<PrefetchingReader> reader;
};
}  // namespace

TEST_CASE("after a full batch the next one is read ahead and served without another read", "[reader][prefetch]") {
  Fixture f;
  CHECK(Positions(f.reader->ReadBatch(Request(0, 0, 10))) == std::vector<std::int64_t>{1, 2, 3});
  REQUIRE(WaitFor([&] { return f.events.reads() == 2; }, 5s));  // (3, 10] fetched meanwhile
  CHECK(Positions(f.reader->ReadBatch(Request(3, 3, 10))) == std::vector<std::int64_t>{4, 5, 6});
  CHECK(f.reader->hits() == 1);
  REQUIRE(WaitFor([&] { return f.events.reads() == 3; }, 5s));
  CHECK(f.events.reads() == 3);  // one batch ahead, no further
}

TEST_CASE("a request the prefetch does not answer is read afresh", "[reader][prefetch]") {
  Fixture f;
  f.reader->ReadBatch(Request(0, 0, 10));
  // A failed unit: the runner asks for the same batch again.
  CHECK(Positions(f.reader->ReadBatch(Request(0, 0, 10))) == std::vector<std::int64_t>{1, 2, 3});
  // A handover: partition 1 is gone.
  ReadRequest only0 = Request(3, 3, 10);
  only0.after.erase(1);
  CHECK(Positions(f.reader->ReadBatch(only0)) == std::vector<std::int64_t>{5, 7, 9});
  // Isolating a poison event: limit 1.
  CHECK(Positions(f.reader->ReadBatch(Request(3, 3, 10, 1))) == std::vector<std::int64_t>{4});
  CHECK(f.reader->hits() == 0);
}

TEST_CASE("a prefetch under an older mark answers a request with a newer one: a smaller batch", "[reader][prefetch]") {
  Fixture f;
  f.reader->ReadBatch(Request(0, 0, 4));  // 1, 2, 3; prefetches (3, 4]
  const auto next = f.reader->ReadBatch(Request(3, 3, 10));
  CHECK(Positions(next) == std::vector<std::int64_t>{4});
  CHECK(next.scanned_to == 4);  // the old mark: nothing above it is claimed
  CHECK(f.reader->hits() == 1);
  CHECK(Positions(f.reader->ReadBatch(Request(4, 4, 10))) == std::vector<std::int64_t>{5, 6, 7});
}

TEST_CASE("a partial batch prefetches nothing", "[reader][prefetch]") {
  Fixture f;
  CHECK(Positions(f.reader->ReadBatch(Request(8, 8, 10))) == std::vector<std::int64_t>{9, 10});
  CHECK(f.events.reads() == 1);
  f.reader->ReadBatch(Request(10, 10, 10));
  CHECK(f.events.reads() == 2);
}

TEST_CASE("a failed prefetch is read again by the caller, who sees the error", "[reader][prefetch]") {
  Fixture f;
  f.flaky->fail_from = 2;  // the prefetch of (3, 10], then the caller's own read of it
  f.flaky->fail_to = 3;
  f.reader->ReadBatch(Request(0, 0, 10));
  CHECK_THROWS_AS(f.reader->ReadBatch(Request(3, 3, 10)), projd::TransientError);
  CHECK(f.flaky->calls == 3);
  CHECK(Positions(f.reader->ReadBatch(Request(3, 3, 10))) == std::vector<std::int64_t>{4, 5, 6});
  CHECK(f.reader->hits() == 0);
}

TEST_CASE("the reader reports the plan of the inner reader's latest statement", "[reader][prefetch]") {
  Fixture f;
  CHECK(f.reader->Plan().empty());
  f.reader->ReadBatch(Request(0, 0, 10));
  REQUIRE(WaitFor([&] { return f.reader->Plan() == "plan-2"; }, 5s));  // the prefetch's statement
}
