// HttpServer: a small HTTP/1.1 server on its own Asio loop thread (Boost.Beast), for the
// operator endpoints. Keep-alive, one short deadline per request (idle and slow clients are
// cut), a header and body limit, a cap on open connections; a malformed request gets 400 and
// the connection closes; a handler that throws gives 500. The server never dies with a client.
//
// Probes must answer whatever other clients do: a connection that arrives at the cap closes
// the open connection that has waited longest in its current step (for its request to
// arrive, or for its answer to be taken): an idle keep-alive, a client that never sent its
// request, a slow-loris. Idle or slow clients hold slots only until someone needs one; a
// probe is answered as soon as it sends its request. While the server is at its cap, answers
// close their connection.
//
// A handler may answer later (HttpResponse::later, for long waits): the connection then waits
// for the answer without the request deadline, and the loop goes on serving others.
//
// Thread-safety: Start and Stop from one thread; open_connections() and evicted() from any.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "orchestrator/common/logging.h"

namespace projd::http {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent
  std::string body;
  // Field names lower-cased; a repeated field's values joined with ", " (RFC 9110 5.3).
  std::map<std::string, std::string> headers = {};

  // The value of `lower_case_name`, or nullptr when the request does not carry it.
  const std::string* Header(const std::string& lower_case_name) const {
    const auto it = headers.find(lower_case_name);
    return it == headers.end() ? nullptr : &it->second;
  }
};

struct HttpResponse;
// Answers a deferred request, from any thread. Only the first call counts; a call after the
// connection closed or the server stopped does nothing.
using Respond = std::function<void(HttpResponse)>;

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers = {};  // extra fields, e.g. Allow
  // Set by a handler that answers later: the server ignores the fields above, calls this on
  // its loop thread with the Respond for the answer, and reads nothing more from the
  // connection until it is answered (no request deadline meanwhile; at the connection cap
  // it may still be closed to make room). Must not block.
  std::function<void(Respond)> later = {};
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  // The whole request (head and body) must arrive within this time of the connect or of the
  // previous answer; an answer must be taken within it too. Otherwise the connection closes.
  std::chrono::milliseconds request_timeout{3000};
  // Open connections at most; one more closes the one waiting longest (see above).
  std::size_t max_connections = 64;
  std::size_t header_limit = 8 * 1024;
  std::size_t body_limit = 64 * 1024;
};

// Splits "host:port", ":port" or "[v6]:port"; throws std::invalid_argument on anything else.
std::pair<std::string, unsigned short> ParseListenAddress(const std::string& addr);

class HttpServer {
 public:
  HttpServer(std::string addr, HttpHandler handler, Logger logger, HttpServerOptions options = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts the loop thread. Throws std::runtime_error (address in use, bad
  // address) naming the address.
  void Start();
  void Stop();
  // The bound port (useful with port 0).
  unsigned short port() const { return port_; }
  // Connections open now, and connections closed so far to make room for a new one.
  std::size_t open_connections() const;
  std::uint64_t evicted() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string addr_;
  unsigned short port_ = 0;
  std::thread thread_;
};

}  // namespace projd::http
