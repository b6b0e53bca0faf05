// HttpProbe: one GET against a worker's own endpoint (`projd healthcheck`), for container
// HEALTHCHECKs and exec probes in images that carry no curl or wget.
#pragma once

#include <chrono>
#include <string>

namespace projd::http {

struct ProbeResult {
  int status = 0;       // HTTP status; 0 when no response arrived
  std::string error;    // why there is no response (connect refused, timeout, ...)
  std::string body;
};

// GET `path` from host:port with one overall deadline. Never throws.
ProbeResult Probe(const std::string& host, unsigned short port, const std::string& path,
                  std::chrono::milliseconds timeout);

// The address a local probe connects to for a listen address: "0.0.0.0:9090" and
// ":9090" -> 127.0.0.1:9090, "[::]:9090" -> ::1. Throws std::invalid_argument like
// ParseListenAddress.
std::pair<std::string, unsigned short> LocalProbeAddress(const std::string& listen_addr);

}  // namespace projd::http
