#include "orchestrator/pg/event_notifier.h"

#include <thread>

#include <pqxx/pqxx>

#include "orchestrator/config/database_url.h"

namespace projd::pg {

class NotificationCounter final : public pqxx::notification_receiver {
 public:
  NotificationCounter(pqxx::connection_base& c, const std::string& channel)
      : pqxx::notification_receiver(c, channel) {}
  void operator()(const std::string&, int) override { ++count; }
  int count = 0;
};

std::string EventNotifier::ChannelFor(const std::string& schema) {
  return ("projd_events_" + schema).substr(0, 63);
}

EventNotifier::EventNotifier(ConnectionOptions options, std::shared_ptr<ListenObserver> observer)
    : options_(std::move(options)), channel_(ChannelFor(options_.schema)), observer_(std::move(observer)) {}

EventNotifier::EventNotifier(ConnectionOptions options, std::string channel, std::shared_ptr<ListenObserver> observer)
    : options_(std::move(options)), channel_(std::move(channel)), observer_(std::move(observer)) {}

EventNotifier::~EventNotifier() {
  receiver_.reset();
  conn_.reset();
}

bool EventNotifier::EnsureListening() {
  if (conn_ && conn_->is_open() && receiver_ && conn_->backendpid() == listening_pid_) return false;
  receiver_.reset();
  if (!conn_ || !conn_->is_open()) conn_ = Connect(options_);
  // The receiver issues LISTEN on this (possibly new) session.
  receiver_ = std::make_unique<NotificationCounter>(*conn_, channel_);
  conn_->get_notifs();  // flushes the LISTEN
  listening_pid_ = conn_->backendpid();
  ++listens_;
  if (observer_) observer_->Listening();
  return true;
}

void EventNotifier::ReportLost(const std::string& error) {
  if (observer_) observer_->Lost(MaskSecrets(error, options_.url));
}

bool EventNotifier::Wait(std::chrono::milliseconds timeout) {
  try {
    if (EnsureListening()) return true;  // fresh session: the caller catches up
    const auto before = receiver_->count;
    if (conn_->get_notifs() > 0) return true;
    const auto secs = static_cast<long>(timeout.count() / 1000);
    const auto usecs = static_cast<long>((timeout.count() % 1000) * 1000);
    conn_->await_notification(secs, usecs);
    if (!conn_->is_open() || conn_->backendpid() != listening_pid_) {
      // The session ended, or libpqxx replaced it silently: its LISTEN is gone.
      ReportLost("the LISTEN session ended");
      return EnsureListening();
    }
    return receiver_->count != before;
  } catch (const std::exception& e) {
    ReportLost(e.what());
    // Outage: drop the session, sleep out the timeout, re-listen on the next call.
    receiver_.reset();
    conn_.reset();
    std::this_thread::sleep_for(timeout);
    return false;
  }
}

}  // namespace projd::pg
