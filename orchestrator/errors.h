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
//   PermanentError      - retrying cannot help (bad SQL, constraint the caller broke, bad
//                         configuration of the database).
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

}  // namespace projd
