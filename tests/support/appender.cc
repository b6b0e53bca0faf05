#include "tests/support/appender.h"

#include <chrono>
#include <span>
#include <string>

#include "orchestrator/reading/pg/pg_event_store.h"

namespace projd::testing {

Appender::Appender(const pg::ConnectionOptions& options, int aggregates, int offset)
    : thread_([this, options, aggregates, offset] { Run(options, aggregates, offset); }) {}

Appender::~Appender() { Stop(); }

void Appender::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void Appender::Run(const pg::ConnectionOptions& options, int aggregates, int offset) {
  using namespace std::chrono_literals;
  pg::PgEventStore store(options);
  for (int i = offset; !stop_; ++i) {
    const StreamId stream{"ctx", "Load", "load-" + std::to_string(i % aggregates)};
    const NewEvent e{.event_type = "Ticked", .payload = "{}"};
    try {
      store.Append(stream, ExpectedVersion::Any(), std::span(&e, 1));
      ++appended_;
    } catch (const std::exception&) {
      std::this_thread::sleep_for(20ms);  // the server may be restarting
    }
    std::this_thread::sleep_for(2ms);  // a steady load, not a flood
  }
}

}  // namespace projd::testing
