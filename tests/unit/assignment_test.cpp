#include <catch2/catch.hpp>

#include <map>
#include <random>

#include "orchestrator/coordination/assignment.h"

using projd::AssignPartitions;
using projd::CountMoves;

namespace {
std::vector<std::string> Members(int n, int offset = 0) {
  std::vector<std::string> m;
  for (int i = 0; i < n; ++i) m.push_back("w" + std::to_string(100 + offset + i));
  return m;
}

void CheckBalanced(const std::vector<std::string>& a, const std::vector<std::string>& members) {
  std::map<std::string, int> count;
  for (const auto& o : a) {
    REQUIRE(std::find(members.begin(), members.end(), o) != members.end());
    ++count[o];
  }
  const int p = static_cast<int>(a.size());
  const int n = static_cast<int>(members.size());
  for (const auto& m : members) {
    INFO(m);
    CHECK(count[m] >= p / n);
    CHECK(count[m] <= (p + n - 1) / n);
  }
}

// The least number of moves any balanced assignment needs from `before`.
int MinimalMoves(const std::vector<std::string>& before, std::vector<std::string> members) {
  const int p = static_cast<int>(before.size());
  const int n = static_cast<int>(members.size());
  std::map<std::string, int> owned;
  for (const auto& o : before) ++owned[o];
  std::vector<int> loads;
  for (const auto& m : members) loads.push_back(owned.count(m) ? owned[m] : 0);
  std::sort(loads.rbegin(), loads.rend());
  int kept = 0;
  for (int i = 0; i < n; ++i) kept += std::min(loads[i], p / n + (i < p % n ? 1 : 0));
  return p - kept;
}
}  // namespace

TEST_CASE("a first assignment is balanced", "[assignment]") {
  for (int p : {64, 128, 256}) {
    for (int n = 1; n <= 64; ++n) {
      const auto members = Members(n);
      const auto a = AssignPartitions(p, std::vector<std::string>(p), members);
      CheckBalanced(a, members);
    }
  }
}

TEST_CASE("joins and leaves of 1..64 members stay balanced and move only what must move", "[assignment]") {
  std::mt19937 rng(7);
  for (int p : {64, 128, 256}) {
    auto members = Members(1);
    auto current = AssignPartitions(p, std::vector<std::string>(p), members);
    int next_id = 1;
    for (int step = 0; step < 150; ++step) {
      const bool join = members.size() < 2 || (members.size() < 64 && rng() % 2 == 0);
      if (join) {
        members.push_back("w" + std::to_string(100 + next_id++));
      } else {
        members.erase(members.begin() + static_cast<long>(rng() % members.size()));
      }
      const auto next = AssignPartitions(p, current, members);
      INFO("partitions " << p << ", members " << members.size() << ", step " << step);
      CheckBalanced(next, members);
      CHECK(CountMoves(current, next) == MinimalMoves(current, members));
      current = next;
    }
  }
}

TEST_CASE("a fourth worker joining takes about a quarter and nothing else moves", "[assignment]") {
  const auto three = Members(3);
  const auto before = AssignPartitions(64, std::vector<std::string>(64), three);
  auto four = three;
  four.push_back("w999");
  const auto after = AssignPartitions(64, before, four);
  CHECK(CountMoves(before, after) == 16);
  for (int p = 0; p < 64; ++p) {
    if (before[p] != after[p]) CHECK(after[p] == "w999");
  }
}

TEST_CASE("a restarted member with the same name gets its partitions back", "[assignment]") {
  const auto members = Members(4);
  const auto before = AssignPartitions(32, std::vector<std::string>(32), members);
  // w101 restarts: same name, so nothing changes.
  CHECK(AssignPartitions(32, before, members) == before);
  // Unchanged membership is a fixed point.
  CHECK(CountMoves(before, AssignPartitions(32, before, members)) == 0);
}

TEST_CASE("the assignment is deterministic whatever the member order", "[assignment]") {
  auto members = Members(5);
  const auto a = AssignPartitions(64, std::vector<std::string>(64), members);
  std::reverse(members.begin(), members.end());
  CHECK(AssignPartitions(64, std::vector<std::string>(64), members) == a);
}

TEST_CASE("more members than partitions leaves some idle", "[assignment]") {
  const auto members = Members(10);
  const auto a = AssignPartitions(4, std::vector<std::string>(4), members);
  std::map<std::string, int> count;
  for (const auto& o : a) ++count[o];
  CHECK(count.size() == 4);
  for (const auto& [m, c] : count) CHECK(c == 1);
}
