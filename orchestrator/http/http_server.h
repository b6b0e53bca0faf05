// HttpServer: a small HTTP/1.1 server on its own Asio loop thread (Boost.Beast), for the
// operator endpoints. Keep-alive, a read deadline per request (slow clients are cut), a
// header and body limit, a cap on open connections; a malformed request gets 400 and the
// connection closes; a handler that throws gives 500. The server never dies with a client.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "orchestrator/logging.h"

namespace projd::http {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  std::chrono::milliseconds read_timeout{10000};  // per request, from its first byte wait
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

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string addr_;
  unsigned short port_ = 0;
  std::thread thread_;
};

}  // namespace projd::http
