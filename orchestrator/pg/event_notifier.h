// EventNotifier: wakes readers when events are committed (LISTEN on the channel that the
// events trigger of migration 0003 notifies), with the poll interval as the fallback.
//
// libpqxx 6.4 can reconnect a connection silently, and a new session has lost its LISTEN.
// Each Wait() compares the backend pid with the one that listened and re-listens after a
// change (and after a broken connection), reporting a wake-up so the caller catches up on
// whatever it may have missed. Outages (a failed connection, a replaced session) and the
// re-LISTEN after them go to an optional ListenObserver, with the error text masked.
// Not thread-safe: one owner thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "orchestrator/runtime/listen_observer.h"
#include "orchestrator/pg/connection.h"

namespace projd::pg {

class NotificationCounter;

class EventNotifier {
 public:
  // Listens on the events channel of options.schema.
  explicit EventNotifier(ConnectionOptions options, std::shared_ptr<ListenObserver> observer = nullptr);
  // Listens on another channel (e.g. PgCoordinationStore::Channel for generations).
  EventNotifier(ConnectionOptions options, std::string channel, std::shared_ptr<ListenObserver> observer = nullptr);
  ~EventNotifier();

  // Blocks up to `timeout`. Returns true when a notification arrived or the listen was
  // (re)established (the caller should read); false on a quiet timeout. Never throws for
  // database outages: it returns after `timeout` and retries the connection next time.
  bool Wait(std::chrono::milliseconds timeout);

  // Number of times LISTEN was (re)issued; 1 after the first successful Wait.
  int listens() const { return listens_; }
  static std::string ChannelFor(const std::string& schema);

 private:
  bool EnsureListening();
  void ReportLost(const std::string& error);

  ConnectionOptions options_;
  std::string channel_;
  std::shared_ptr<ListenObserver> observer_;
  std::unique_ptr<pqxx::connection> conn_;
  std::unique_ptr<NotificationCounter> receiver_;
  int listening_pid_ = 0;
  int listens_ = 0;
};

}  // namespace projd::pg
