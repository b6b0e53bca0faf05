// No password leaves projd: `projd migrate`, `projd status` and `projd run --print-config`
// against a private server whose test role has a password holding ? @ %zz # spaces and
// quotes, given in every form libpq accepts, right and wrong, as variable and as file.
#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <pqxx/pqxx>

#include "orchestrator/config/database_url.h"
#include "devtools/embedded_postgres.h"
#include "orchestrator/pg/connection.h"
#include "tests/support/pg_test_schema.h"
#include "tests/support/connection_strings.h"
#include "tests/support/process.h"

using projd::testing::RunProcess;

using projd::testing::KeywordQuoted;
using projd::testing::PercentEncodeAll;
namespace {

// Every piece that would show a leak: the password's distinctive parts, raw and encoded.
const std::string kPassword = "Sup3r?S@c#r%zz \"q\" 'x' Qend";
const std::vector<std::string> kLeaks = {"Sup3r", "S@c#r", "%zz", "Qend", "S%40c", "%23r"};

// The server with role pwtest (superuser, scram password) that must log in with it.
class PasswordServer {
 public:
  PasswordServer() : server_(projd::EmbeddedPostgres::Options{}) {
    server_.Start();
    {
      pqxx::connection c(server_.Url());
      pqxx::nontransaction tx(c);
      tx.exec0("SET password_encryption = 'scram-sha-256'");
      tx.exec0("CREATE ROLE pwtest LOGIN SUPERUSER PASSWORD " + tx.quote(kPassword));
    }
    // Only pwtest over TCP needs a password; the rest stays trust.
    const auto hba = std::filesystem::path(server_.data_dir()) / "pg_hba.conf";
    std::stringstream old;
    old << std::ifstream(hba).rdbuf();
    std::ofstream(hba) << "host all pwtest 127.0.0.1/32 scram-sha-256\n" << old.str();
    server_.Stop();
    server_.Start();
  }
  int port() const { return server_.port(); }

 private:
  projd::EmbeddedPostgres server_;
};

void CheckNoLeak(const projd::testing::ProcessResult& r) {
  for (const auto& leak : kLeaks) {
    INFO("leak " << leak);
    CHECK(r.out.find(leak) == std::string::npos);
    CHECK(r.err.find(leak) == std::string::npos);
  }
}

}  // namespace

TEST_CASE("projd never prints the database password, connecting or not", "[pg][cli][secrets]") {
  static PasswordServer server;  // one private server for every section
  const std::string host = "127.0.0.1:" + std::to_string(server.port());
  const std::string port = std::to_string(server.port());
  const std::string wrong = kPassword + "-wrong";
  struct Form {
    std::string name;
    std::string url;
    bool connects;
  };
  const std::vector<Form> forms = {
      {"URI, encoded", "postgresql://pwtest:" + PercentEncodeAll(kPassword) + "@" + host + "/projd?sslmode=disable", true},
      {"URI, wrong password", "postgresql://pwtest:" + PercentEncodeAll(wrong) + "@" + host + "/projd?sslmode=disable", false},
      {"multi-host URI", "postgresql://pwtest:" + PercentEncodeAll(kPassword) + "@127.0.0.1:1," + host + "/projd?sslmode=disable&connect_timeout=5", true},
      {"URI, password in the query", "postgresql://pwtest@" + host + "/projd?sslmode=disable&password=" + PercentEncodeAll(kPassword), true},
      {"URI, raw ? and # (libpq reads to the first @)", "postgresql://pwtest:Sup3r?Sec#Qend@" + host + "/projd?sslmode=disable", false},
      {"URI, raw bad percent-escape", "postgresql://pwtest:Sup3r%zzSecretQend@" + host + "/projd?sslmode=disable", false},
      {"URI, raw password with spaces and quotes", "postgresql://pwtest:" + kPassword + "@" + host + "/projd", false},
      {"keyword string, quoted", "host=127.0.0.1 port=" + port + " user=pwtest dbname=projd password=" + KeywordQuoted(kPassword), true},
      {"keyword string, wrong password", "host=127.0.0.1 port=" + port + " user=pwtest dbname=projd password=" + KeywordQuoted(wrong), false},
      {"keyword string, unquoted (refused by libpq)", "host=127.0.0.1 port=" + port + " user=pwtest dbname=projd password=" + kPassword, false},
  };
  SECTION("migrate, status and --print-config, as variable and as flag") {
    const std::vector<std::vector<std::string>> commands = {
        {PROJD_BINARY, "migrate"}, {PROJD_BINARY, "status"}, {PROJD_BINARY, "run", "--print-config"}};
    for (const auto& form : forms) {
      for (const auto& argv : commands) {
        const bool print_only = argv.size() > 2;
        for (const bool as_flag : {false, true}) {
          std::vector<std::string> args = argv;
          std::map<std::string, std::string> env = {{"DATABASE_SCHEMA", "public"}, {"LOG_FORMAT", "json"}};
          if (as_flag) {
            args.insert(args.end(), {"--database-url", form.url});
            env["-DATABASE_URL"] = "";
          } else {
            env["DATABASE_URL"] = form.url;
          }
          const auto r = RunProcess(args, env, "", std::chrono::seconds(60));
          INFO(form.name << ": " << args[1] << (as_flag ? " (flag)" : "") << "\nexit " << r.exit_code << "\n"
                         << r.out << r.err);
          CheckNoLeak(r);
          if (print_only) {
            CHECK(r.exit_code == 0);
          } else if (form.connects) {
            CHECK(r.exit_code == 0);
          } else {
            CHECK(r.exit_code == 1);
            CHECK(r.err.find("terminate") == std::string::npos);
          }
        }
      }
    }
  }
  SECTION("projd run logs no password, whether it connects or retries") {
    REQUIRE(RunProcess({PROJD_BINARY, "migrate"}, {{"DATABASE_URL", forms[0].url}}).exit_code == 0);
    for (const auto& form : forms) {
      const std::string log = (std::filesystem::temp_directory_path() /
                               ("projd-secret-run-" + std::to_string(::getpid()) + ".log")).string();
      std::filesystem::remove(log);
      projd::testing::ChildProcess worker(
          {PROJD_BINARY, "run"},
          {{"DATABASE_URL", form.url}, {"HTTP_ADDR", "off"}, {"REPLICA_SET", "secrets"}, {"PROJECTIONS", "noop"},
           {"SHUTDOWN_TIMEOUT", "5s"}},
          log);
      const char* expected = form.connects ? "generation formed" : "";
      CHECK(projd::testing::WaitFor(
          [&] {
            const auto text = worker.Log();
            return form.connects ? text.find(expected) != std::string::npos
                                 : text.find("retrying") != std::string::npos || !worker.running();
          },
          std::chrono::seconds(30)));
      worker.Signal(SIGTERM);
      CHECK(worker.Wait(std::chrono::seconds(20)).has_value());
      INFO(form.name << "\n" << worker.Log());
      for (const auto& leak : kLeaks) CHECK(worker.Log().find(leak) == std::string::npos);
      std::filesystem::remove(log);
    }
  }
  SECTION("a wrong password says so, without the password") {
    const auto r = RunProcess({PROJD_BINARY, "migrate"},
                              {{"DATABASE_URL", forms[1].url}});
    CHECK_THAT(r.err, Catch::Contains("password authentication failed"));
    CHECK_THAT(r.err, Catch::Contains("postgresql://pwtest:****@127.0.0.1"));
  }
  SECTION("DATABASE_URL_FILE holds the URL of a mounted secret") {
    const auto dir = std::filesystem::temp_directory_path() / ("projd-secret-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "url") << forms[0].url << "\n";
    const auto ok = RunProcess({PROJD_BINARY, "status"}, {{"-DATABASE_URL", ""}, {"DATABASE_URL_FILE", (dir / "url").string()}});
    INFO(ok.out << ok.err);
    CHECK(ok.exit_code == 0);
    CheckNoLeak(ok);
    const auto both = RunProcess({PROJD_BINARY, "status"},
                                 {{"DATABASE_URL", forms[0].url}, {"DATABASE_URL_FILE", (dir / "url").string()}});
    CHECK(both.exit_code == 2);
    CHECK_THAT(both.err, Catch::Contains("DATABASE_URL and DATABASE_URL_FILE are both set"));
    CheckNoLeak(both);
    const auto unreadable = RunProcess({PROJD_BINARY, "status"},
                                       {{"-DATABASE_URL", ""}, {"DATABASE_URL_FILE", (dir / "missing").string()}});
    CHECK(unreadable.exit_code == 2);
    CHECK_THAT(unreadable.err, Catch::Contains("DATABASE_URL_FILE=") && Catch::Contains("cannot read"));
    std::filesystem::remove_all(dir);
  }
}

TEST_CASE("a user's options= in DATABASE_URL is kept next to projd's search_path", "[pg][connection][config]") {
  projd::testing::PgTestSchema db(false);
  const std::string url = projd::WithConnectionParameter(db.url(), "options", "-c statement_timeout=4321 -c search_path=elsewhere");
  auto c = projd::pg::Connect({url, db.schema(), "projd-options-test", {{"lock_timeout", "1234"}}});
  pqxx::nontransaction tx(*c);
  CHECK(tx.exec1("SHOW statement_timeout")[0].as<std::string>() == "4321ms");
  CHECK(tx.exec1("SHOW lock_timeout")[0].as<std::string>() == "1234ms");
  // DATABASE_SCHEMA wins over a search_path in the user's options.
  CHECK(tx.exec1("SHOW search_path")[0].as<std::string>() == "\"" + db.schema() + "\"");
}
