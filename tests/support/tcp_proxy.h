// TcpProxy: forwards TCP connections from a free port on 127.0.0.1 to a target (the test
// server), so that a test can make the database misbehave for one worker only while other
// tests share the server.
//  * Freeze(): bytes stop moving; connections stay open and new ones are taken but not
//    served. To its clients the database hangs, as a stopped (SIGSTOP) server or a
//    black-holed network looks: no error, no answer.
//  * Thaw(): bytes move again, including those held while frozen.
//  * Refuse(): every connection is cut and new ones are refused (the database is
//    unreachable). Final.
// Two threads per connection (one per direction) and one accepting. Thread-safe.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace projd::testing {

// The value libpq reads for `key` from a connection string or URL ("" when absent or unparsable).
std::string LibpqValue(const std::string& url, const std::string& key);
// `url` with its host:port replaced by 127.0.0.1:`proxy_port` ("" when it names none).
std::string ThroughProxy(const std::string& url, int proxy_port);

class TcpProxy {
 public:
  TcpProxy(std::string target_host, int target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  void Freeze();
  void Thaw();
  void Refuse();
  int connections() const;  // accepted so far

 private:
  struct Link {
    int client = -1;
    int server = -1;
    std::thread to_server;
    std::thread to_client;
  };
  void Accept();
  void Pump(int from, int to);
  // Waits while frozen; false once refused.
  bool MayForward();

  const std::string target_host_;
  const int target_port_;
  int listener_ = -1;
  int port_ = 0;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool frozen_ = false;
  bool refused_ = false;
  std::vector<std::unique_ptr<Link>> links_;
  std::thread acceptor_;
};

}  // namespace projd::testing
