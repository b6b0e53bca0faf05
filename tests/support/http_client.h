// A minimal blocking HTTP/1.1 client for tests, over a plain socket to 127.0.0.1: one
// request per connection (Connection: close), the whole response read until close.
#pragma once

#include <chrono>
#include <string>

namespace projd::testing {

struct HttpResult {
  int status = 0;  // 0: no (parsable) response
  std::string headers;
  std::string body;
};

HttpResult HttpCall(int port, const std::string& method, const std::string& path,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Sends `bytes` as they are and returns whatever comes back until the server closes the
// connection or `timeout` passes (for malformed requests).
std::string RawExchange(int port, const std::string& bytes,
                        std::chrono::milliseconds timeout = std::chrono::seconds(10));

// A connected socket that sends nothing (a slow client); closed by the destructor.
class IdleConnection {
 public:
  explicit IdleConnection(int port);
  ~IdleConnection();
  // True once the server closed the connection (waits up to `timeout`).
  bool ClosedByServer(std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
};

}  // namespace projd::testing
