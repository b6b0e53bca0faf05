// StandbyWatch: probes every standby of EVENTS_READ_URL and writes what it found to the
// StandbyBoard: usable, down, lagging (further behind than STANDBY_MAX_LAG), promoted, or
// on another WAL history than the primary. A standby comes back by itself once a probe
// finds it healthy. Logs each change of a standby's condition. Driven by one thread
// (Round(), about once a second); never throws.
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "orchestrator/common/clock.h"
#include "orchestrator/common/logging.h"
#include "orchestrator/reading/standby_board.h"
#include "orchestrator/reading/standby_probe.h"
#include "orchestrator/reading/wal_marks.h"

namespace projd {

class StandbyWatch {
 public:
  StandbyWatch(std::vector<std::unique_ptr<StandbyProbe>> probes, const WalMarks& marks, StandbyBoard& board,
               const Clock& clock, Logger logger, std::chrono::milliseconds max_lag);

  // Probes each standby once.
  void Round();

 private:
  void ProbeOne(std::size_t i);

  std::vector<std::unique_ptr<StandbyProbe>> probes_;
  const WalMarks& marks_;
  StandbyBoard& board_;
  const Clock& clock_;
  Logger logger_;
  std::chrono::milliseconds max_lag_;
  std::vector<StandbyCondition> last_;
};

}  // namespace projd
