#include "tests/faults/network_partition.h"

#include <cstdlib>

#include "tests/support/process.h"

namespace projd::faults {
namespace {

bool Ip(const std::vector<std::string>& args, std::string* error = nullptr) {
  std::vector<std::string> argv{"/usr/sbin/ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto r = testing::RunProcess(argv, {}, "", std::chrono::seconds(10));
  if (r.exit_code != 0 && error) *error = "ip " + args.front() + " " + args[1] + ": " + r.err;
  return r.exit_code == 0;
}

}  // namespace

NetworkPartition::~NetworkPartition() {
  if (!created_) return;
  Ip({"link", "del", "pf-host"});
  Ip({"netns", "del", name_});
}

bool NetworkPartition::Create(std::string* error) {
  Ip({"link", "del", "pf-host"});  // leftovers of an interrupted run
  Ip({"netns", "del", name_});
  if (!Ip({"netns", "add", name_}, error)) return false;
  created_ = true;
  return Ip({"link", "add", "pf-host", "type", "veth", "peer", "name", "pf-ns"}, error) &&
         Ip({"link", "set", "pf-ns", "netns", name_}, error) &&
         Ip({"addr", "add", std::string(kHostAddress) + "/30", "dev", "pf-host"}, error) &&
         Ip({"link", "set", "pf-host", "up"}, error) &&
         Ip({"-n", name_, "addr", "add", "10.213.7.2/30", "dev", "pf-ns"}, error) &&
         Ip({"-n", name_, "link", "set", "pf-ns", "up"}, error) &&
         Ip({"-n", name_, "link", "set", "lo", "up"}, error);
}

std::vector<std::string> NetworkPartition::Wrapper() const { return {"/usr/sbin/ip", "netns", "exec", name_}; }

void NetworkPartition::Cut() { Ip({"link", "set", "pf-host", "down"}); }

void NetworkPartition::Heal() { Ip({"link", "set", "pf-host", "up"}); }

}  // namespace projd::faults
