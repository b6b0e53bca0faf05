// NetworkPartition: a network namespace with a veth link to the host (10.213.7.1 on the
// host, 10.213.7.2 inside), so a worker started inside reaches PostgreSQL only over that
// link, and Cut()/Heal() take the link down and up. Needs root (CAP_NET_ADMIN); Create()
// returns false with the reason where namespaces are not permitted.
#pragma once

#include <string>
#include <vector>

namespace projd::faults {

class NetworkPartition {
 public:
  static constexpr const char* kHostAddress = "10.213.7.1";

  NetworkPartition() = default;
  ~NetworkPartition();
  NetworkPartition(const NetworkPartition&) = delete;
  NetworkPartition& operator=(const NetworkPartition&) = delete;

  // Creates the namespace and the link; false (and `error`) when not permitted.
  bool Create(std::string* error);
  // argv prefix that runs a command inside the namespace.
  std::vector<std::string> Wrapper() const;
  void Cut();
  void Heal();

 private:
  bool created_ = false;
  std::string name_ = "projd-faults";
};

}  // namespace projd::faults
