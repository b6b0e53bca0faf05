#include "orchestrator/http/http_server.h"

#include <optional>
#include <stdexcept>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace projd::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

// One connection: read a request, answer it, repeat while keep-alive.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const HttpHandler& handler, const HttpServerOptions& options,
          std::atomic<std::size_t>& open)
      : stream_(std::move(socket)), handler_(handler), options_(options), open_(open) {
    ++open_;
  }
  ~Session() { --open_; }

  void Run() { Read(); }

 private:
  void Read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(options_.header_limit));
    parser_->body_limit(options_.body_limit);
    stream_.expires_after(options_.read_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == asio::error::operation_aborted) {
      return Close();
    }
    if (ec) {
      // A malformed request: answer 400 and close.
      HttpResponse bad{400, "text/plain; charset=utf-8", "bad request: " + ec.message() + "\n"};
      return Write(bad, 11, false);
    }
    const auto& req = parser_->get();
    HttpRequest request{std::string(req.method_string()), std::string(req.target()), req.body()};
    HttpResponse response;
    try {
      response = handler_(request);
    } catch (const std::exception& e) {
      response = {500, "text/plain; charset=utf-8", std::string("internal error: ") + e.what() + "\n"};
    }
    Write(response, req.version(), req.keep_alive());
  }

  void Write(const HttpResponse& r, unsigned version, bool keep_alive) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(static_cast<bhttp::status>(r.status), version);
    res->set(bhttp::field::server, "projd");
    res->set(bhttp::field::content_type, r.content_type);
    res->keep_alive(keep_alive);
    res->body() = r.body;
    res->prepare_payload();
    stream_.expires_after(options_.read_timeout);
    bhttp::async_write(stream_, *res, [self = shared_from_this(), res, keep_alive](beast::error_code ec, std::size_t) {
      if (ec || !keep_alive) return self->Close();
      self->Read();
    });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  const HttpHandler& handler_;
  const HttpServerOptions& options_;
  std::atomic<std::size_t>& open_;
};

}  // namespace

std::pair<std::string, unsigned short> ParseListenAddress(const std::string& addr) {
  std::string host, port;
  if (!addr.empty() && addr.front() == '[') {
    const auto close = addr.find(']');
    if (close == std::string::npos || close + 1 >= addr.size() || addr[close + 1] != ':') {
      throw std::invalid_argument("expected [v6-address]:port");
    }
    host = addr.substr(1, close - 1);
    port = addr.substr(close + 2);
  } else {
    const auto colon = addr.rfind(':');
    if (colon == std::string::npos) throw std::invalid_argument("expected host:port or :port");
    host = addr.substr(0, colon);
    port = addr.substr(colon + 1);
  }
  if (host.empty()) host = "0.0.0.0";
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port) > 65535) {
    throw std::invalid_argument("port must be a number 0..65535");
  }
  return {host, static_cast<unsigned short>(std::stoul(port))};
}

struct HttpServer::Impl {
  Impl(HttpHandler h, Logger l, HttpServerOptions o) : handler(std::move(h)), logger(std::move(l)), options(o) {}

  void Accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        if (open >= options.max_connections) {
          beast::error_code ignored;
          socket.close(ignored);  // over the cap: refuse rather than queue without bound
        } else {
          std::make_shared<Session>(std::move(socket), handler, options, open)->Run();
        }
      }
      Accept();
    });
  }

  // Declared before the io_context: destroying it destroys pending sessions, which use these.
  HttpHandler handler;
  Logger logger;
  HttpServerOptions options;
  std::atomic<std::size_t> open{0};
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
};

HttpServer::HttpServer(std::string addr, HttpHandler handler, Logger logger, HttpServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(handler), std::move(logger), options)), addr_(std::move(addr)) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Start() {
  try {
    const auto [host, port] = ParseListenAddress(addr_);
    const tcp::endpoint endpoint(asio::ip::make_address(host), port);
    impl_->acceptor.open(endpoint.protocol());
    impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
    impl_->acceptor.bind(endpoint);
    impl_->acceptor.listen(asio::socket_base::max_listen_connections);
    port_ = impl_->acceptor.local_endpoint().port();
  } catch (const std::exception& e) {
    throw std::runtime_error("HTTP_ADDR " + addr_ + ": cannot listen: " + e.what());
  }
  impl_->Accept();
  thread_ = std::thread([this] {
    while (true) {
      try {
        impl_->io.run();
        return;
      } catch (const std::exception& e) {
        impl_->logger.Error("http loop error; continuing", {{"error", e.what()}});
      }
    }
  });
}

void HttpServer::Stop() {
  if (!thread_.joinable()) return;
  asio::post(impl_->io, [this] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
    impl_->io.stop();
  });
  thread_.join();
}

}  // namespace projd::http
