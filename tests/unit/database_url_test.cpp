#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "orchestrator/config/database_url.h"
#include "tests/support/connection_strings.h"

using projd::ConnectionParameter;
using projd::IsValidSchemaName;
using projd::MaskDatabaseUrl;
using projd::MaskSecrets;
using projd::PasswordsIn;
using projd::WithConnectionParameter;

using projd::testing::KeywordQuoted;
using projd::testing::PercentEncodeAll;
namespace {

// Texts in which a connection string or its password shows up: the URL itself, inside
// prose, inside double quotes as libpq quotes what it refuses, and libpq's echo of a bad
// percent-escape token.
std::vector<std::string> TextsAround(const std::string& url, const std::string& password) {
  return {
      MaskDatabaseUrl(url),
      MaskSecrets(url),
      MaskSecrets("cannot connect to " + url + ": timeout"),
      MaskSecrets("invalid URI: \"" + url + "\"\nnext line"),
      MaskSecrets("error: " + url, url),
      MaskSecrets("invalid percent-encoded token: \"" + password + "\"", url),
  };
}

}  // namespace

TEST_CASE("a database URL never shows its password", "[database_url]") {
  SECTION("URI with user and password") {
    CHECK(MaskDatabaseUrl("postgresql://app:s3cret@db:5432/events") ==
          "postgresql://app:****@db:5432/events");
  }
  SECTION("URI password in the query") {
    CHECK(MaskDatabaseUrl("postgres://db/events?sslmode=require&password=s3cret&x=1") ==
          "postgres://db/events?sslmode=require&password=****&x=1");
    CHECK(MaskDatabaseUrl("postgres://db/events?sslpassword=s3cret") ==
          "postgres://db/events?sslpassword=****");
  }
  SECTION("URI without password is unchanged") {
    CHECK(MaskDatabaseUrl("postgresql://app@db/events") == "postgresql://app@db/events");
    CHECK(MaskDatabaseUrl("postgresql://db:5432/events?application_name=a@b") ==
          "postgresql://db:5432/events?application_name=a@b");
  }
  SECTION("keyword form, plain and quoted") {
    CHECK(MaskDatabaseUrl("host=db password=s3cret dbname=x") == "host=db password=**** dbname=x");
    CHECK(MaskDatabaseUrl("host=db password = 'a b\\' c' dbname=x") ==
          "host=db password = **** dbname=x");
    CHECK(MaskDatabaseUrl("host=db sslpassword=s3cret") == "host=db sslpassword=****");
  }
  SECTION("an unquoted keyword password with a space is masked up to the next keyword") {
    CHECK(MaskDatabaseUrl("host=db password=two words dbname=x") == "host=db password=**** dbname=x");
  }
  SECTION("a password containing @ is masked whole") {
    CHECK(MaskDatabaseUrl("postgresql://app:p@ss@db/x") == "postgresql://app:****@db/x");
  }
  SECTION("a password with ? (libpq reads up to the first @) keeps the query visible") {
    CHECK(MaskDatabaseUrl("postgresql://projd:Sup3r?Secret@host/db?sslmode=disable") ==
          "postgresql://projd:****@host/db?sslmode=disable");
  }
  SECTION("a password with a bad percent-escape") {
    CHECK(MaskDatabaseUrl("postgresql://projd:Sup3r%zzSecret@host/db") == "postgresql://projd:****@host/db");
  }
  SECTION("multi-host URIs") {
    CHECK(MaskDatabaseUrl("postgresql://u:pw#1@h1:5432,h2:5433/db?target_session_attrs=read-write") ==
          "postgresql://u:****@h1:5432,h2:5433/db?target_session_attrs=read-write");
  }
  SECTION("free text with a URI whose password holds spaces and quotes") {
    CHECK(MaskSecrets("refused \"postgresql://u:my \"pass@h/db\" here") ==
          "refused \"postgresql://u:****@h/db\" here");
  }
  SECTION("password= in prose, also in other case and after punctuation") {
    // An unquoted value runs to whitespace: a password may hold ')'.
    CHECK(MaskSecrets("conninfo (Password=hunter2) rejected") == "conninfo (Password=**** rejected");
    CHECK(MaskSecrets("password authentication failed for user \"projd\"") ==
          "password authentication failed for user \"projd\"");
  }
}

TEST_CASE("the known password is masked wherever a message repeats it", "[database_url]") {
  const std::string url = "postgresql://projd:Sup3r%zzSecret@host/db";
  CHECK(MaskSecrets("invalid percent-encoded token: \"Sup3r%zzSecret\"", url) ==
        "invalid percent-encoded token: \"****\"");
  SECTION("decoded as well as written") {
    const std::string encoded = "postgresql://projd:p%40ss%20word@host/db";
    CHECK(MaskSecrets("got p@ss word", encoded) == "got ****");
  }
  SECTION("pieces of an unquoted keyword password") {
    const std::string kw = "host=h password=alpha beta dbname=x";
    CHECK(MaskSecrets("missing \"=\" after \"beta\" in connection info string", kw) ==
          "missing \"=\" after \"****\" in connection info string");
  }
  SECTION("passwords shorter than 3 characters are left to the patterns") {
    CHECK(MaskSecrets("a database", "postgresql://u:a@h/db") == "a database");
  }
}

TEST_CASE("masking holds for generated passwords in every form libpq accepts", "[database_url]") {
  // Markers at both ends of every password: output containing either leaked (part of) it.
  static const std::string kAlphabet =
      "abcXYZ019 ?@#%:/'\"\\&=;,!$*()[]{}<>|~`^+-_.\t";
  std::mt19937 rng(14);
  std::uniform_int_distribution<std::size_t> pick(0, kAlphabet.size() - 1);
  std::uniform_int_distribution<int> length(1, 14);
  for (int round = 0; round < 500; ++round) {
    std::string middle;
    for (int i = length(rng); i > 0; --i) middle.push_back(kAlphabet[pick(rng)]);
    const std::string password = "Qz" + middle + "Jx";
    // Raw in a URI, as far as libpq reads it as a password (no raw '@' or '/').
    const bool raw_ok = middle.find_first_of("@/ \t\"'") == std::string::npos;
    std::vector<std::string> urls = {
        "postgresql://projd:" + PercentEncodeAll(password) + "@db.example:5432/app?sslmode=disable",
        "postgres://projd:" + PercentEncodeAll(password) + "@h1,h2:5433/app",
        "postgresql://db/app?sslmode=require&password=" + PercentEncodeAll(password) + "&x=1",
        "host=db user=projd password=" + KeywordQuoted(password) + " dbname=app",
        "password = " + KeywordQuoted(password),
    };
    if (raw_ok) urls.push_back("postgresql://projd:" + password + "@db/app?sslmode=disable");
    // What is not secret stays readable.
    CHECK(MaskDatabaseUrl(urls[0]) == "postgresql://projd:****@db.example:5432/app?sslmode=disable");
    if (raw_ok) CHECK(MaskDatabaseUrl(urls.back()) == "postgresql://projd:****@db/app?sslmode=disable");
    for (const auto& url : urls) {
      for (const auto& text : TextsAround(url, password)) {
        INFO("url: " << url << "\ntext: " << text);
        CHECK(text.find("Qz") == std::string::npos);
        CHECK(text.find("Jx") == std::string::npos);
      }
    }
  }
}

TEST_CASE("the passwords of a URL are found as written and decoded", "[database_url]") {
  const auto p = PasswordsIn("postgresql://u:a%2Fb@h/db?password=c%zz");
  CHECK(std::find(p.begin(), p.end(), "a%2Fb") != p.end());
  CHECK(std::find(p.begin(), p.end(), "a/b") != p.end());
  CHECK(std::find(p.begin(), p.end(), "c%zz") != p.end());
  CHECK(PasswordsIn("host=h dbname=x").empty());
}

TEST_CASE("connection parameters are added in the form of the URL", "[database_url]") {
  CHECK(WithConnectionParameter("postgresql://db/x", "application_name", "projd worker") ==
        "postgresql://db/x?application_name=projd%20worker");
  CHECK(WithConnectionParameter("postgresql://db/x?sslmode=disable", "a", "b") ==
        "postgresql://db/x?sslmode=disable&a=b");
  CHECK(WithConnectionParameter("host=db", "options", "-c search_path=\"s\"") ==
        "host=db options='-c search_path=\"s\"'");
  SECTION("an existing parameter is replaced, not duplicated") {
    CHECK(WithConnectionParameter("postgresql://db/x?options=old&sslmode=disable", "options", "new") ==
          "postgresql://db/x?sslmode=disable&options=new");
    CHECK(WithConnectionParameter("postgresql://db/x?options=old", "options", "new") ==
          "postgresql://db/x?options=new");
    CHECK(WithConnectionParameter("host=db options='-c a=1' dbname=x", "options", "new") ==
          "host=db  dbname=x options='new'");
  }
  SECTION("a password holding ? does not start the query") {
    CHECK(WithConnectionParameter("postgresql://u:p?w@db/x", "a", "b") == "postgresql://u:p?w@db/x?a=b");
  }
}

TEST_CASE("a connection parameter is read in either form", "[database_url]") {
  CHECK(ConnectionParameter("postgresql://db/x?options=-c%20statement_timeout%3D5s", "options") ==
        "-c statement_timeout=5s");
  CHECK(ConnectionParameter("host=db options='-c a=1 -c b=2'", "options") == "-c a=1 -c b=2");
  CHECK_FALSE(ConnectionParameter("postgresql://db/x", "options").has_value());
  CHECK_FALSE(ConnectionParameter("host=db", "options").has_value());
}

TEST_CASE("only plain identifiers are accepted as schema names", "[database_url]") {
  CHECK(IsValidSchemaName("public"));
  CHECK(IsValidSchemaName("_tenant_42"));
  CHECK_FALSE(IsValidSchemaName(""));
  CHECK_FALSE(IsValidSchemaName("1abc"));
  CHECK_FALSE(IsValidSchemaName("a;drop"));
  CHECK_FALSE(IsValidSchemaName(std::string(64, 'a')));
}

TEST_CASE("a server setting in the user's options= is found in every form the server reads", "[database_url]") {
  using projd::SetsServerSetting;
  CHECK(SetsServerSetting("-c statement_timeout=5s", "statement_timeout"));
  CHECK(SetsServerSetting("-cstatement_timeout=5s", "statement_timeout"));
  CHECK(SetsServerSetting("--statement-timeout=5s", "statement_timeout"));
  CHECK(SetsServerSetting("-c search_path=x   -c Statement_Timeout=0", "statement_timeout"));
  CHECK(SetsServerSetting("-c application_name=a\\ b -c statement_timeout=1", "statement_timeout"));
  CHECK_FALSE(SetsServerSetting("", "statement_timeout"));
  CHECK_FALSE(SetsServerSetting("-c lock_timeout=5s", "statement_timeout"));
  CHECK_FALSE(SetsServerSetting("-c statement_timeout_x=5", "statement_timeout"));
  // An escaped space keeps the value in one switch: no statement_timeout is set here.
  CHECK_FALSE(SetsServerSetting("-c application_name=a\\ -c\\ statement_timeout=1", "statement_timeout"));
}

TEST_CASE("a standby is named by the hosts and ports of its URL, never its credentials", "[database_url][standby]") {
  CHECK(projd::UrlHostPort("postgresql://r:s3cr%40t@replica-1:5433/app?sslmode=disable") == "replica-1:5433");
  CHECK(projd::UrlHostPort("postgresql://r@replica-2/app") == "replica-2:5432");
  CHECK(projd::UrlHostPort("postgres://u:p@h1:5432,h2:5433/db") == "h1:5432,h2:5433");
  CHECK(projd::UrlHostPort("postgresql://u:p@[::1]/db") == "[::1]:5432");
  CHECK(projd::UrlHostPort("postgresql://u:p@[::1]:6000/db") == "[::1]:6000");
  CHECK(projd::UrlHostPort("postgresql:///db") == "localhost:5432");
  CHECK(projd::UrlHostPort("postgresql://a:b@c@host:1/db") == "host:1");
  CHECK(projd::UrlHostPort("host=x") == "");
}
