// Debian's chromium, headless, for browser tests of the status page: one run loads one URL
// (or file) with the given flags (--dump-dom, --screenshot=FILE, ...) in a fresh private
// profile that is removed afterwards. The run is bounded by coreutils `timeout`, which kills
// chromium's whole process group (browser, renderer, GPU and zygote processes) when it
// overruns. Not thread-safe per call (none is shared); each call is its own process.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace projd::testing {

inline constexpr const char* kChromium = "/usr/bin/chromium";

// Runs chromium on `url` with `flags` added to the headless defaults; kills it after
// `timeout`. stdout carries what --dump-dom prints.
ProcessResult RunHeadlessChromium(const std::string& url, const std::vector<std::string>& flags,
                                  std::chrono::seconds timeout = std::chrono::seconds(60));

}  // namespace projd::testing
