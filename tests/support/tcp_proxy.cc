#include "tests/support/tcp_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libpq-fe.h>

#include <cerrno>
#include <stdexcept>

namespace projd::testing {

std::string LibpqValue(const std::string& url, const std::string& key) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  if (options == nullptr) {
    PQfreemem(error);
    return "";
  }
  std::string value;
  for (auto* o = options; o->keyword != nullptr; ++o) {
    if (key == o->keyword && o->val != nullptr) value = o->val;
  }
  PQconninfoFree(options);
  return value;
}

std::string ThroughProxy(const std::string& url, int proxy_port) {
  const auto target = LibpqValue(url, "host") + ":" + LibpqValue(url, "port");
  const auto at = url.find(target);
  if (at == std::string::npos) return "";
  return url.substr(0, at) + "127.0.0.1:" + std::to_string(proxy_port) + url.substr(at + target.size());
}

TcpProxy::TcpProxy(std::string target_host, int target_port)
    : target_host_(std::move(target_host)), target_port_(target_port) {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener_, 64) != 0 || ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw std::runtime_error("tcp proxy: cannot listen on 127.0.0.1");
  }
  port_ = ntohs(address.sin_port);
  acceptor_ = std::thread([this] { Accept(); });
}

TcpProxy::~TcpProxy() {
  Refuse();
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::unique_ptr<Link>> links;
  {
    std::lock_guard lock(mu_);
    links.swap(links_);  // the pumps take mu_ on their way out: join without it
  }
  for (auto& link : links) {
    if (link->to_server.joinable()) link->to_server.join();
    if (link->to_client.joinable()) link->to_client.join();
    ::close(link->client);
    ::close(link->server);
  }
  ::close(listener_);
}

void TcpProxy::Freeze() {
  std::lock_guard lock(mu_);
  frozen_ = true;
}

void TcpProxy::Thaw() {
  {
    std::lock_guard lock(mu_);
    frozen_ = false;
  }
  cv_.notify_all();
}

void TcpProxy::Refuse() {
  std::lock_guard lock(mu_);
  if (refused_) return;
  refused_ = true;
  cv_.notify_all();
  // shutdown() wakes the threads blocked on these sockets; they close nothing themselves.
  ::shutdown(listener_, SHUT_RDWR);
  for (auto& link : links_) {
    ::shutdown(link->client, SHUT_RDWR);
    ::shutdown(link->server, SHUT_RDWR);
  }
}

int TcpProxy::connections() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(links_.size());
}

bool TcpProxy::MayForward() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !frozen_ || refused_; });
  return !refused_;
}

void TcpProxy::Accept() {
  while (true) {
    const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) {
      if (errno == EINTR) continue;
      return;  // the listener was shut down
    }
    const int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in target{};
    target.sin_family = AF_INET;
    target.sin_port = htons(static_cast<std::uint16_t>(target_port_));
    ::inet_pton(AF_INET, target_host_.c_str(), &target.sin_addr);
    if (server < 0 || ::connect(server, reinterpret_cast<sockaddr*>(&target), sizeof target) != 0) {
      ::close(client);
      if (server >= 0) ::close(server);
      continue;
    }
    const int one = 1;
    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard lock(mu_);
    if (refused_) {
      ::close(client);
      ::close(server);
      return;
    }
    auto link = std::make_unique<Link>();
    link->client = client;
    link->server = server;
    link->to_server = std::thread([this, client, server] { Pump(client, server); });
    link->to_client = std::thread([this, client, server] { Pump(server, client); });
    links_.push_back(std::move(link));
  }
}

void TcpProxy::Pump(int from, int to) {
  char buffer[64 * 1024];
  while (true) {
    const ssize_t n = ::read(from, buffer, sizeof buffer);
    if (n <= 0) break;
    if (!MayForward()) break;  // held here while frozen
    for (ssize_t sent = 0; sent < n;) {
      const ssize_t w = ::send(to, buffer + sent, static_cast<std::size_t>(n - sent), MSG_NOSIGNAL);
      if (w <= 0) {
        ::shutdown(from, SHUT_RD);
        return;
      }
      sent += w;
    }
  }
  ::shutdown(to, SHUT_WR);  // pass the end of the stream on
}

}  // namespace projd::testing
