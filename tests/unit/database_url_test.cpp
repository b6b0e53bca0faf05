#include <catch2/catch.hpp>

#include "orchestrator/database_url.h"

using projd::IsValidSchemaName;
using projd::MaskDatabaseUrl;
using projd::WithConnectionParameter;

TEST_CASE("a database URL never shows its password", "[database_url]") {
  SECTION("URI with user and password") {
    CHECK(MaskDatabaseUrl("postgresql://app:s3cret@db:5432/events") ==
          "postgresql://app:****@db:5432/events");
  }
  SECTION("URI password in the query") {
    CHECK(MaskDatabaseUrl("postgres://db/events?sslmode=require&password=s3cret&x=1") ==
          "postgres://db/events?sslmode=require&password=****&x=1");
  }
  SECTION("URI without password is unchanged") {
    CHECK(MaskDatabaseUrl("postgresql://app@db/events") == "postgresql://app@db/events");
  }
  SECTION("keyword form, plain and quoted") {
    CHECK(MaskDatabaseUrl("host=db password=s3cret dbname=x") == "host=db password=**** dbname=x");
    CHECK(MaskDatabaseUrl("host=db password = 'a b\\' c' dbname=x") ==
          "host=db password = **** dbname=x");
  }
  SECTION("a password containing @ is masked whole") {
    CHECK(MaskDatabaseUrl("postgresql://app:p@ss@db/x") == "postgresql://app:****@db/x");
  }
}

TEST_CASE("connection parameters are added in the form of the URL", "[database_url]") {
  CHECK(WithConnectionParameter("postgresql://db/x", "application_name", "projd worker") ==
        "postgresql://db/x?application_name=projd%20worker");
  CHECK(WithConnectionParameter("postgresql://db/x?sslmode=disable", "a", "b") ==
        "postgresql://db/x?sslmode=disable&a=b");
  CHECK(WithConnectionParameter("host=db", "options", "-c search_path=\"s\"") ==
        "host=db options='-c search_path=\"s\"'");
}

TEST_CASE("only plain identifiers are accepted as schema names", "[database_url]") {
  CHECK(IsValidSchemaName("public"));
  CHECK(IsValidSchemaName("_tenant_42"));
  CHECK_FALSE(IsValidSchemaName(""));
  CHECK_FALSE(IsValidSchemaName("1abc"));
  CHECK_FALSE(IsValidSchemaName("a;drop"));
  CHECK_FALSE(IsValidSchemaName(std::string(64, 'a')));
}
