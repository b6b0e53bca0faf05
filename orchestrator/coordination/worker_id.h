// A fresh worker id: a random (version 4) UUID, stable for the life of the process.
#pragma once

#include <string>

namespace projd {

std::string NewWorkerId();

}  // namespace projd
