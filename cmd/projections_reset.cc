// `projd projections reset NAME --to-position P | --to-time T` (to be written).
#include "cmd/cli.h"

namespace projd::cli {

void AddResetCommand(CLI::App& /*projections*/, Invocation& /*invocation*/) {}

}  // namespace projd::cli
