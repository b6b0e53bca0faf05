// `projd projections pause|resume NAME [--partition N]` (to be written).
#include "cmd/cli.h"

namespace projd::cli {

void AddPauseCommands(CLI::App& /*projections*/, Invocation& /*invocation*/) {}

}  // namespace projd::cli
