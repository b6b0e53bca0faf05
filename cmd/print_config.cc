// `--print-config`: the effective configuration with the source of each value.
#include <iomanip>
#include <sstream>

#include "cmd/cli.h"

namespace projd::cli {

std::string PrintConfig(const LoadedConfig& loaded) {
  std::ostringstream out;
  for (const auto& variable : ConfigVariables()) {
    const auto source = loaded.sources.at(variable);
    const char* from = source == SettingSource::kFlag          ? "flag"
                       : source == SettingSource::kEnvironment ? "env"
                       : source == SettingSource::kDerived     ? "derived"
                       : source == SettingSource::kFile        ? "file"
                                                               : "default";
    out << std::left << std::setw(34) << variable << " " << std::setw(8) << from << " "
        << ConfigValueText(loaded.config, variable) << "\n";
  }
  return out.str();
}

}  // namespace projd::cli
