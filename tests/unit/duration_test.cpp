#include <catch2/catch.hpp>

#include "orchestrator/config/duration.h"

using namespace std::chrono_literals;
using projd::FormatDuration;
using projd::ParseDuration;

TEST_CASE("Go-style durations parse to milliseconds", "[duration]") {
  CHECK(ParseDuration("250ms") == 250ms);
  CHECK(ParseDuration("5s") == 5000ms);
  CHECK(ParseDuration("1m30s") == 90'000ms);
  CHECK(ParseDuration("1h") == 3'600'000ms);
  CHECK(ParseDuration("1.5s") == 1500ms);
  CHECK(ParseDuration("1h2m3s4ms") == 3'723'004ms);
  CHECK(ParseDuration("2500us") == 2ms);
  CHECK(ParseDuration("2500\xC2\xB5s") == 2ms);
  CHECK(ParseDuration("1000000ns") == 1ms);
  CHECK(ParseDuration("-5s") == -5000ms);
}

TEST_CASE("a bare integer is milliseconds", "[duration]") {
  CHECK(ParseDuration("5000") == 5000ms);
  CHECK(ParseDuration("0") == 0ms);
}

TEST_CASE("malformed durations are rejected", "[duration]") {
  for (const char* bad : {"", "abc", "5", "5 s", "s", "5x", "1m30", ".s", "--5s", "5s-", "1.2.3s", "-"}) {
    if (std::string(bad) == "5") continue;  // a bare integer is valid (milliseconds)
    INFO(bad);
    CHECK_FALSE(ParseDuration(bad).has_value());
  }
}

TEST_CASE("durations beyond the representable range are rejected, not wrapped", "[duration]") {
  CHECK_FALSE(ParseDuration("9999999999999999999").has_value());
  CHECK_FALSE(ParseDuration("99999999999999999h").has_value());
  CHECK(ParseDuration("2562047h").has_value());
}

TEST_CASE("durations print in Go syntax", "[duration]") {
  CHECK(FormatDuration(0ms) == "0s");
  CHECK(FormatDuration(250ms) == "250ms");
  CHECK(FormatDuration(5000ms) == "5s");
  CHECK(FormatDuration(90'000ms) == "1m30s");
  CHECK(FormatDuration(1500ms) == "1.5s");
  CHECK(FormatDuration(3'600'000ms) == "1h0m0s");
  CHECK(ParseDuration(FormatDuration(3'723'004ms)) == 3'723'004ms);
}
