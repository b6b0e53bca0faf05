// The error taxonomy of projd: infrastructure failures are translated once, at the
// Postgres boundary (orchestrator/pg/error_translation.h), into one of these classes.
// The class decides who retries:
//   TransientError      - retry with capped, jittered backoff (connection lost, timeout,
//                         serialization failure, deadlock).
//   FencedError         - ownership is lost (a newer generation stamped the row): abandon
//                         the work, never retry it.
//   InDoubtError        - the commit may or may not have happened: re-read state before
//                         anything else.
//   ConcurrencyConflict - optimistic-concurrency append lost against another writer.
//   PermanentError      - retrying the same call at once cannot help (bad SQL, a constraint
//                         the caller broke, disk full, a read-only server, no privilege).
//                         A one-shot command fails with it; a long-running loop of a worker
//                         still retries it with capped backoff: such conditions are fixed by
//                         a person within minutes, and the loop must be there when they are.
// Every database failure is one of the Error subclasses. HandlerError is deliberately not:
// it is a projection's own code failing for the events it was handed (docs/projections.md,
// "Errors"), the only failure that counts against a projection's error policy.
// Expected outcomes (a fenced checkpoint row, an empty batch) are values, not exceptions.
#pragma once

#include <stdexcept>
#include <string>

namespace projd {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class TransientError : public Error {
 public:
  using Error::Error;
};

class FencedError : public Error {
 public:
  using Error::Error;
};

class InDoubtError : public Error {
 public:
  using Error::Error;
};

class PermanentError : public Error {
 public:
  using Error::Error;
};

// Thrown by appends whose expected version does not match the stream.
class ConcurrencyConflict : public Error {
 public:
  using Error::Error;
};

// A projection's code failed for the batch it was handed (a poison event): retried a few
// times, then the projection's error policy applies. Not an Error: no database failure is
// ever reported as one (orchestrator/pg/error_translation.h, RethrowFromHandler).
class HandlerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace projd
