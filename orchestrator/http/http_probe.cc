#include "orchestrator/http/http_probe.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "orchestrator/http/http_server.h"

namespace projd::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

ProbeResult Probe(const std::string& host, unsigned short port, const std::string& path,
                  std::chrono::milliseconds timeout) {
  ProbeResult result;
  asio::io_context io;
  beast::tcp_stream stream(io);
  bhttp::request<bhttp::empty_body> request{bhttp::verb::get, path, 11};
  request.set(bhttp::field::host, host);
  request.set(bhttp::field::connection, "close");
  beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> response;
  beast::error_code failure;

  // One deadline for the whole exchange: every operation below shares the expiry.
  stream.expires_after(timeout);
  tcp::resolver resolver(io);
  resolver.async_resolve(host, std::to_string(port), [&](beast::error_code ec, tcp::resolver::results_type r) {
    if (ec) return void(failure = ec);
    stream.async_connect(r, [&](beast::error_code ec2, const tcp::endpoint&) {
      if (ec2) return void(failure = ec2);
      bhttp::async_write(stream, request, [&](beast::error_code ec3, std::size_t) {
        if (ec3) return void(failure = ec3);
        bhttp::async_read(stream, buffer, response, [&](beast::error_code ec4, std::size_t) {
          if (ec4) return void(failure = ec4);
          result.status = static_cast<int>(response.result_int());
          result.body = response.body();
        });
      });
    });
  });
  // The resolver has no deadline of its own; bound the loop too.
  io.run_for(timeout + std::chrono::milliseconds(100));
  if (result.status == 0) {
    result.error = failure ? failure.message() : "no response within the timeout";
  }
  return result;
}

std::pair<std::string, unsigned short> LocalProbeAddress(const std::string& listen_addr) {
  auto [host, port] = ParseListenAddress(listen_addr);
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  return {host, port};
}

}  // namespace projd::http
