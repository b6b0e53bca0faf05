#include "tests/support/headless_chromium.h"

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>

namespace projd::testing {

ProcessResult RunHeadlessChromium(const std::string& url, const std::vector<std::string>& flags,
                                  std::chrono::seconds timeout) {
  std::string dir = (std::filesystem::temp_directory_path() / "projd-chromium-XXXXXX").string();
  if (::mkdtemp(dir.data()) == nullptr) throw std::runtime_error("mkdtemp " + dir);
  // A private profile and HOME: nothing is read from or left in the user's chromium state;
  // no background traffic (updates, sync, safe browsing lists) that a test would wait on.
  std::vector<std::string> argv = {"/usr/bin/timeout", "-k", "5", std::to_string(timeout.count()), kChromium,
                                   "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                   "--no-default-browser-check", "--disable-extensions",
                                   "--disable-background-networking", "--disable-component-update", "--disable-sync",
                                   "--user-data-dir=" + dir};
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.push_back(url);
  auto result = RunProcess(argv, {{"HOME", dir}}, "", timeout + std::chrono::seconds(15));
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return result;
}

}  // namespace projd::testing
