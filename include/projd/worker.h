// projd::RunWorker: the whole `projd` command line (run, migrate, rebuild, status, ...) over
// the projections of `registry`, for teams that write their own main():
//
//   int main(int argc, char** argv) {
//     auto db = std::make_shared<MyClient>(...);
//     projd::ProjectionRegistry registry;
//     registry.Add("orders", [db] { return std::make_unique<OrdersProjection>(db); });
//     return projd::RunWorker(argc, argv, registry);
//   }
//
// Configuration comes from the environment and flags as for the stock binary
// (docs/configuration.md); the return value is the process exit code.
#pragma once

#include <projd/registry.h>

namespace projd {

int RunWorker(int argc, char** argv, const ProjectionRegistry& registry);

}  // namespace projd
