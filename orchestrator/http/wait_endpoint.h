// GET /wait?projection=NAME&position=P[&timeout=D]: read-your-writes over HTTP. Answers 200
// once projection NAME (its active version, or NAME@N) of the worker's replica set has
// processed position P; 504 at the timeout with the partitions behind; 400 for bad
// parameters; 503 when kMaxWaits waits are pending already or the worker is stopping; 500 for
// a permanent database error. The wait runs on a WaitService, never on the HTTP loop: the
// request is answered later (HttpResponse::later). Pure request handling; thread-safe.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "orchestrator/http/http_server.h"
#include "orchestrator/waits/wait_service.h"

namespace projd::http {

inline constexpr std::chrono::milliseconds kDefaultWaitTimeout{30000};
inline constexpr std::chrono::milliseconds kMaxWaitTimeout{300000};  // a longer timeout is a 400

struct WaitQuery {
  WaitTarget target;
  std::chrono::milliseconds timeout = kDefaultWaitTimeout;
};

// The parameters of `request_target` ("/wait?..."), percent-decoded; nullopt with `error`
// naming the parameter when one is missing or invalid.
std::optional<WaitQuery> ParseWaitQuery(const std::string& request_target, const std::string& replica_set,
                                        std::string* error);

// The answer to a finished wait.
HttpResponse WaitAnswer(const WaitQuery& query, const WaitResult& result);

// The whole endpoint: 400 at once, or a deferred answer from `waits` (503 at its cap).
HttpResponse HandleWait(const HttpRequest& request, WaitService& waits, const std::string& replica_set);

}  // namespace projd::http
