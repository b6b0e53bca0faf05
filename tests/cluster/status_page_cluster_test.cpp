// The status page of a real `projd run` worker in a real browser: Debian's chromium,
// headless, loads http://127.0.0.1:PORT/ from a worker with a projection stopped on a poison
// event and one paused by an operator, runs the page's script (which polls /status and draws the lag chart), takes a
// screenshot, and renders the page without its script.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>

#include <nlohmann/json.hpp>

#include "tests/support/headless_chromium.h"
#include "tests/support/http_client.h"
#include "tests/support/worker_fleet.h"

using namespace std::chrono_literals;
using projd::testing::HttpCall;
using projd::testing::RunHeadlessChromium;
using projd::testing::WaitFor;
using projd::testing::WorkerFleet;

namespace {

void Append(WorkerFleet& fleet, const std::string& aggregate, const std::string& type) {
  const auto r = fleet.Projd({"append", "--aggregate-type", "Account", "--aggregate-id", aggregate, "--event-type", type,
                              "--payload", "{}"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
}

nlohmann::json Projection(const nlohmann::json& status, const std::string& name) {
  for (const auto& p : status["projections"]) {
    if (p["name"] == name) return p;
  }
  return nullptr;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Width and height from a PNG's IHDR chunk; {0, 0} when `png` is not a PNG.
std::pair<int, int> PngSize(const std::string& png) {
  if (png.size() < 24 || png.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0 || png.compare(12, 4, "IHDR") != 0) return {0, 0};
  const auto be32 = [&](std::size_t at) {
    int v = 0;
    for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(png[at + i]);
    return v;
  };
  return {be32(16), be32(20)};
}

// The page's document with every <script> element removed: what a browser shows with
// JavaScript disabled. (Chromium 156 headless prints no DOM and writes no screenshot when
// scripts are disabled by --blink-settings=scriptEnabled=false: both are taken through
// script. So the checks without script load the served page minus its script.)
std::string WithoutScripts(std::string html) {
  for (auto open = html.find("<script"); open != std::string::npos; open = html.find("<script", open)) {
    const auto close = html.find("</script>", open);
    html.erase(open, close == std::string::npos ? std::string::npos : close + 9 - open);
  }
  return html;
}

}  // namespace

TEST_CASE("the status page shows the worker's facts in chromium, with and without its script",
          "[cluster][http][status_page][browser]") {
  REQUIRE(std::filesystem::exists(projd::testing::kChromium));  // scripts/install-deps.sh installs it
  WorkerFleet fleet(std::map<std::string, std::string>{{"PROJECTIONS", "poison_stop,stream_stats"}});
  fleet.UseBinary(PROJD_TEST_WORKER);
  fleet.Seed(300, 20, "a");
  Append(fleet, "bad-1", "Opened");
  Append(fleet, "bad-1", "Poison");
  fleet.Seed(100, 20, "b");
  fleet.Start("w1");
  const int port = fleet.HttpPort("w1");
  REQUIRE(port > 0);

  // Wait until the worker says: stream_stats caught up, poison_stop stopped on one partition
  // (between the poison's last retry and its next round the runner still says `failing`).
  nlohmann::json status;
  const bool settled = WaitFor(
      [&] {
        const auto r = HttpCall(port, "GET", "/status");
        if (r.status != 200) return false;
        status = nlohmann::json::parse(r.body);
        const auto stats = Projection(status, "stream_stats");
        const auto poison = Projection(status, "poison_stop");
        return status["coordination"]["members"].size() == 1 && stats.is_object() && stats["lag_events"] == 0 &&
               poison.is_object() && poison["state"] == "stopped" && poison["stopped_partitions"].size() == 1 &&
               poison["lag_events"].is_number() &&
               poison["lag_events"].get<std::int64_t>() > 0;
      },
      30s);
  {
    INFO(status.dump(2));
    REQUIRE(settled);
  }
  // An operator's pause shows as a state and a reason.
  const auto paused = fleet.Projd({"projections", "pause", "stream_stats"});
  REQUIRE(paused.exit_code == 0);
  REQUIRE(WaitFor([&] {
    const auto r = HttpCall(port, "GET", "/status");
    return r.status == 200 && Projection(nlohmann::json::parse(r.body), "stream_stats")["state"] == "paused";
  }, 10s));
  // The stopped partition stays where it is, so its lag is stable from here on.
  const auto lag = std::to_string(Projection(status, "poison_stop")["lag_events"].get<std::int64_t>());
  const auto state = Projection(status, "poison_stop")["state"].get<std::string>();
  const auto url = "http://127.0.0.1:" + std::to_string(port) + "/";
  INFO("poison_stop lag " << lag << ", state " << state);

  // One chromium run per variant prints the DOM after the scripts ran and takes a screenshot.
  const auto dir = std::filesystem::temp_directory_path();
  const auto load = [&](const std::string& target, const std::string& name) {
    const auto png = dir / ("projd-" + name + "-" + std::to_string(port) + ".png");
    auto run = RunHeadlessChromium(target, {"--virtual-time-budget=4500", "--window-size=1280,1600",
                                            "--hide-scrollbars", "--screenshot=" + png.string(), "--dump-dom"});
    INFO(run.err);
    CHECK(run.exit_code == 0);
    const auto shot = ReadFile(png);
    std::filesystem::remove(png);
    return std::make_pair(run.out, shot);
  };

  // With its script: figures updated from /status and the lag chart drawn.
  const auto [dom, shot] = load(url, "status-page");
  CHECK_THAT(dom, Catch::Contains("Live: polled /status"));
  std::smatch polls;
  REQUIRE(std::regex_search(dom, polls, std::regex("<body data-polls=\"(\\d+)\">")));
  CHECK(std::stoi(polls[1]) >= 2);
  // The state and lag were written by the script (data-polled), with /status's values.
  CHECK(std::regex_search(dom, std::regex("<tr data-projection=\"poison_stop\"><td>poison_stop</td>"
                                          "<td class=\"state\" data-f=\"state\" data-state=\"" + state +
                                          "\" data-polled=\"\\d+\">" + state + "</td>.*?"
                                          "<td data-f=\"lag_events\" data-polled=\"\\d+\">" + lag + "</td>")));
  CHECK_THAT(dom, Catch::Contains("<td>w1 (this worker)</td><td>0-15</td><td>16</td>"));
  CHECK_THAT(dom, Catch::Contains("<tr data-projection=\"stream_stats\"><td>stream_stats</td>"));
  CHECK_THAT(dom, Catch::Contains("stopped at position"));
  CHECK_THAT(dom, Catch::Contains("cannot handle poison"));
  CHECK_THAT(dom, Catch::Contains("paused by an operator on every partition"));
  // The chart: a polyline per projection over at least two samples.
  std::smatch line;
  REQUIRE(std::regex_search(dom, line, std::regex("<polyline points=\"([^\"]*)\"[^>]*data-projection=\"poison_stop\"")));
  CHECK(std::count(line[1].first, line[1].second, ',') >= 2);
  CHECK_THAT(dom, !Catch::Contains("The chart is drawn by this page's script"));

  // Without its script: every fact is in the served document.
  const auto page = HttpCall(port, "GET", "/");
  REQUIRE(page.status == 200);
  CHECK_THAT(page.headers, Catch::Contains("Content-Security-Policy: default-src 'none'; script-src 'nonce-"));
  CHECK_THAT(page.headers, Catch::Contains("X-Content-Type-Options: nosniff"));
  CHECK_THAT(page.headers, Catch::Contains("Cache-Control: no-store"));
  const auto file = dir / ("projd-status-page-" + std::to_string(port) + ".html");
  std::ofstream(file) << WithoutScripts(page.body);
  const auto [still_dom, still_shot] = load("file://" + file.string(), "status-page-noscript");
  std::filesystem::remove(file);
  CHECK_THAT(still_dom, !Catch::Contains("<script"));
  CHECK_THAT(still_dom, Catch::Contains("projd worker w1"));
  CHECK_THAT(still_dom, Catch::Contains("<td>w1 (this worker)</td><td>0-15</td><td>16</td>"));
  CHECK_THAT(still_dom, Catch::Contains("<td data-f=\"lag_events\">" + lag + "</td>"));
  CHECK_THAT(still_dom, Catch::Contains("data-state=\"" + state + "\">" + state + "</td>"));
  CHECK_THAT(still_dom, Catch::Contains("cannot handle poison"));
  CHECK_THAT(still_dom, Catch::Contains("paused by an operator on every partition"));
  CHECK_THAT(still_dom, Catch::Contains("data-state=\"paused\">paused</td>"));
  CHECK_THAT(still_dom, Catch::Contains("<tr data-projection=\"stream_stats\"><td>stream_stats</td>"));
  CHECK_THAT(still_dom, Catch::Contains("The chart is drawn by this page's script"));
  CHECK_THAT(still_dom, Catch::Contains("Figures as of this page's rendering"));

  // Screenshots: PNGs of the window. A blank page of that size compresses to about 9 KB;
  // text, tables, bars and the chart take several times that.
  CHECK(PngSize(shot) == std::make_pair(1280, 1600));
  CHECK(PngSize(still_shot) == std::make_pair(1280, 1600));
  CHECK(shot.size() > 30000);
  CHECK(still_shot.size() > 30000);
}
