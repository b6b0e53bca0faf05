// `projd wait NAME --position P [--timeout D]` (to be written).
#include "cmd/cli.h"

namespace projd::cli {

void AddWaitCommand(CLI::App& /*app*/, Invocation& /*invocation*/) {}

}  // namespace projd::cli
