// The configuration ledger_balances depends on, handed to it by its factory.
#pragma once

#include <cstdlib>
#include <string>

namespace ledger {

struct LedgerConfig {
  std::string deposit_type = "MoneyDeposited";
  std::string withdrawal_type = "MoneyWithdrawn";

  // LEDGER_DEPOSIT_EVENT / LEDGER_WITHDRAWAL_EVENT override the event types. Read when the
  // factory runs (after main() has started), never during static initialisation.
  static LedgerConfig FromEnvironment() {
    LedgerConfig config;
    if (const char* v = std::getenv("LEDGER_DEPOSIT_EVENT")) config.deposit_type = v;
    if (const char* v = std::getenv("LEDGER_WITHDRAWAL_EVENT")) config.withdrawal_type = v;
    return config;
  }
};

}  // namespace ledger
