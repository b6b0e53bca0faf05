#include "orchestrator/http/http_server.h"

#include <algorithm>
#include <cctype>
#include <list>
#include <mutex>
#include <optional>
#include <unordered_map>
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

class Session;

// The open connections, the one waiting longest in its current step (read or write) first.
// The list is touched only on the loop thread; the counters are read from others.
struct Connections {
  std::list<Session*> by_activity;
  std::atomic<std::size_t> open{0};
  std::atomic<std::uint64_t> evicted{0};
};

// Sessions waiting for a deferred answer. Nothing of Asio holds them meanwhile, so the
// server does (`parked`, destroyed before the io_context). A Respond reaches the loop
// through the mailbox, which forgets the io_context when the server goes: a late answer
// from another thread is then dropped instead of posted to a destroyed loop.
struct Mailbox {
  std::mutex mu;
  asio::io_context* io = nullptr;
};
struct Deferred {
  std::shared_ptr<Mailbox> mailbox = std::make_shared<Mailbox>();
  std::unordered_map<Session*, std::shared_ptr<Session>> parked;
};

// One connection: read a request, answer it, repeat while keep-alive.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const HttpHandler& handler, const HttpServerOptions& options, Connections& connections,
          Deferred& deferred)
      : stream_(std::move(socket)), handler_(handler), options_(options), connections_(connections),
        deferred_(deferred) {
    at_ = connections_.by_activity.insert(connections_.by_activity.end(), this);
    ++connections_.open;
  }
  ~Session() { Forget(); }

  void Run() { Read(); }

  // Closes the connection to make room for another: it no longer counts as open, and its
  // pending operation ends with operation_aborted, which releases the session.
  void Evict() {
    Forget();
    Close();
  }

 private:
  void Read() {
    Touch();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(options_.header_limit));
    parser_->body_limit(options_.body_limit);
    // One deadline for the whole request, not per byte: a client dripping bytes is cut too.
    stream_.expires_after(options_.request_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == asio::error::operation_aborted || !stream_.socket().is_open()) {
      return Close();
    }
    if (ec) {
      // A malformed request: answer 400 and close.
      HttpResponse bad{400, "text/plain; charset=utf-8", "bad request: " + ec.message() + "\n"};
      return Write(bad, 11, false);
    }
    const auto& req = parser_->get();
    HttpRequest request{std::string(req.method_string()), std::string(req.target()), req.body()};
    for (const auto& field : req) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      const std::string value(field.value());
      auto [it, inserted] = request.headers.try_emplace(std::move(name), value);
      if (!inserted) it->second.append(", ").append(value);
    }
    HttpResponse response;
    try {
      response = handler_(request);
    } catch (const std::exception& e) {
      response = {500, "text/plain; charset=utf-8", std::string("internal error: ") + e.what() + "\n"};
    }
    // At the cap, do not keep a slot for a client that may never come back.
    const bool keep_alive = req.keep_alive() && connections_.open < options_.max_connections;
    if (response.later) return Park(response.later, req.version(), keep_alive);
    Write(response, req.version(), keep_alive);
  }

  // Waits for a deferred answer: no read or write is pending, so no deadline runs.
  void Park(const std::function<void(Respond)>& later, unsigned version, bool keep_alive) {
    Touch();
    deferred_.parked.emplace(this, shared_from_this());
    auto answered = std::make_shared<std::atomic<bool>>(false);
    Respond respond = [mailbox = deferred_.mailbox, weak = weak_from_this(), answered, version,
                       keep_alive](HttpResponse r) {
      if (answered->exchange(true)) return;
      std::lock_guard lock(mailbox->mu);
      if (!mailbox->io) return;
      asio::post(*mailbox->io, [weak, r = std::move(r), version, keep_alive] {
        if (const auto self = weak.lock()) self->Unpark(r, version, keep_alive);
      });
    };
    try {
      later(std::move(respond));
    } catch (const std::exception& e) {
      Unpark({500, "text/plain; charset=utf-8", std::string("internal error: ") + e.what() + "\n"}, version, false);
    }
  }

  void Unpark(const HttpResponse& r, unsigned version, bool keep_alive) {
    const auto self = shared_from_this();  // erasing the parked entry must not end this call
    if (deferred_.parked.erase(this) == 0) return;  // answered already
    if (!stream_.socket().is_open()) return Close();  // evicted meanwhile
    Write(r, version, keep_alive);
  }

  void Write(const HttpResponse& r, unsigned version, bool keep_alive) {
    Touch();
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(static_cast<bhttp::status>(r.status), version);
    res->set(bhttp::field::server, "projd");
    res->set(bhttp::field::content_type, r.content_type);
    for (const auto& [name, value] : r.headers) res->set(name, value);
    res->keep_alive(keep_alive);
    res->body() = r.body;
    res->prepare_payload();
    stream_.expires_after(options_.request_timeout);
    bhttp::async_write(stream_, *res, [self = shared_from_this(), res, keep_alive](beast::error_code ec, std::size_t) {
      if (ec || !keep_alive || !self->stream_.socket().is_open()) return self->Close();
      self->Read();
    });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  // Moves the connection to the back of the eviction order: a new step starts now.
  void Touch() {
    if (at_) connections_.by_activity.splice(connections_.by_activity.end(), connections_.by_activity, *at_);
  }

  void Forget() {
    if (!at_) return;
    connections_.by_activity.erase(*at_);
    at_.reset();
    --connections_.open;
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  const HttpHandler& handler_;
  const HttpServerOptions& options_;
  Connections& connections_;
  Deferred& deferred_;
  std::optional<std::list<Session*>::iterator> at_;  // empty once evicted or closed for good
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
  Impl(HttpHandler h, Logger l, HttpServerOptions o) : handler(std::move(h)), logger(std::move(l)), options(o) {
    deferred.mailbox->io = &io;
  }
  ~Impl() {
    std::lock_guard lock(deferred.mailbox->mu);
    deferred.mailbox->io = nullptr;  // late answers are dropped from now on
  }

  void Accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        if (connections.open >= options.max_connections && !connections.by_activity.empty()) {
          // At the cap the newcomer wins over the connection waiting longest: a probe always
          // gets a slot, an idle or slow client holds one only while nobody needs it.
          connections.by_activity.front()->Evict();
          ++connections.evicted;
          ReportEvictions();
        }
        std::make_shared<Session>(std::move(socket), handler, options, connections, deferred)->Run();
      }
      Accept();
    });
  }

  // Logged at most once a minute: a flood would otherwise flood the log too.
  void ReportEvictions() {
    const auto now = std::chrono::steady_clock::now();
    if (last_report && now - *last_report < std::chrono::minutes(1)) return;
    last_report = now;
    logger.Warn("http connection cap reached; closing the connections waiting longest",
                {{"max_connections", std::to_string(options.max_connections)},
                 {"evicted_total", std::to_string(connections.evicted.load())}});
  }

  // Declared before the io_context: destroying it destroys pending sessions, which use these.
  HttpHandler handler;
  Logger logger;
  HttpServerOptions options;
  Connections connections;
  std::optional<std::chrono::steady_clock::time_point> last_report;
  asio::io_context io{1};
  Deferred deferred;  // after io: parked sessions go before the loop they belong to
  tcp::acceptor acceptor{io};
};

HttpServer::HttpServer(std::string addr, HttpHandler handler, Logger logger, HttpServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(handler), std::move(logger), options)), addr_(std::move(addr)) {}

HttpServer::~HttpServer() { Stop(); }

std::size_t HttpServer::open_connections() const { return impl_->connections.open; }
std::uint64_t HttpServer::evicted() const { return impl_->connections.evicted; }

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
