// The status page at `GET /`: one self-contained HTML document rendered on the server from
// the same WorkerStatus as `/status`, so every fact is in the first response and the page
// reads without JavaScript. A short inline script (status_page_script.h) then polls
// `/status` every 2 s, updates the figures in place and draws the lag-over-time chart
// (inline SVG) from the samples it collected. No external resources.
//
// Every string taken from the status (names, errors) is HTML-escaped. The response forbids
// everything but its own inline script and style (a fresh CSP nonce per response) and
// fetches to its own origin, and is never cached. Read-only: the page has no forms or
// buttons. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "orchestrator/http/http_server.h"
#include "orchestrator/runtime/worker_status.h"

namespace projd::http {

// The whole document; `nonce` (base64 or hex characters only) marks the inline script and
// style that the Content-Security-Policy allows.
std::string RenderStatusPage(const WorkerStatus& status, std::string_view nonce);

// The Content-Security-Policy of a page rendered with `nonce`.
std::string StatusPagePolicy(std::string_view nonce);

// 200 with the page and its headers (CSP with a fresh random nonce, nosniff, no-store).
HttpResponse StatusPageResponse(const WorkerStatus& status);

// Why a runner is in its state, in words (stopped partitions with their error, the
// transaction holding the mark, the last error); empty when nothing needs saying. The
// page's script builds the same sentences from `/status`.
std::vector<std::string> RunnerReasons(const WorkerStatus& status, const RunnerStatus& runner);

// Partition numbers as ranges: {0,1,2,5,7,8} -> "0-2, 5, 7-8" (input ascending).
std::string PartitionRanges(const std::vector<int>& partitions);

}  // namespace projd::http
