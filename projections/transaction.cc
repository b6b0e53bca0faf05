#include <projd/transaction.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <stdexcept>
#include <vector>

namespace projd {
namespace {

// The statement's first words, upper-cased, after whitespace and comments.
std::string LeadingWords(std::string_view sql, int count) {
  std::string out;
  std::size_t i = 0;
  while (i < sql.size() && count > 0) {
    if (std::isspace(static_cast<unsigned char>(sql[i]))) {
      ++i;
    } else if (sql.substr(i, 2) == "--") {
      i = sql.find('\n', i);
      if (i == std::string_view::npos) break;
    } else if (sql.substr(i, 2) == "/*") {
      const auto end = sql.find("*/", i + 2);
      if (end == std::string_view::npos) break;
      i = end + 2;
    } else {
      if (!out.empty()) out.push_back(' ');
      while (i < sql.size() && (std::isalpha(static_cast<unsigned char>(sql[i])) || sql[i] == '_')) {
        out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i++]))));
      }
      if (out.empty() || out.back() == ' ') break;  // not a word: a literal, a parenthesis...
      --count;
    }
  }
  return out;
}

// True when `sql` holds nothing but whitespace and comments.
bool Blank(std::string_view sql) {
  std::size_t i = 0;
  while (i < sql.size()) {
    if (std::isspace(static_cast<unsigned char>(sql[i]))) {
      ++i;
    } else if (sql.substr(i, 2) == "--") {
      i = sql.find('\n', i);
      if (i == std::string_view::npos) return true;
    } else if (sql.substr(i, 2) == "/*") {
      const auto end = sql.find("*/", i + 2);
      if (end == std::string_view::npos) return true;
      i = end + 2;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

pqxx::result Transaction::exec(std::string_view sql) {
  const auto statements = Statements(sql);
  if (EndsTransaction(statements)) Refuse(sql);
  const auto n = std::count_if(statements.begin(), statements.end(), [](auto st) { return !Blank(st); });
  // One statement goes alone, so a failure leaves the transaction to the projection's own
  // savepoints (libpqxx aborts the whole transaction when a script fails).
  const std::string text(sql);
  return n <= 1 ? tx_.exec_params(text) : tx_.exec(text);
}

// The statements of a script: split at semicolons outside quotes ('...', E'...', "..."),
// dollar quotes ($tag$...$tag$) and comments (-- and nested /* */).
std::vector<std::string_view> Transaction::Statements(std::string_view sql) {
  std::vector<std::string_view> out;
  std::size_t start = 0, i = 0;
  int block_depth = 0;
  while (i < sql.size()) {
    const char c = sql[i];
    const auto two = sql.substr(i, 2);
    if (block_depth > 0) {
      block_depth += two == "/*" ? 1 : two == "*/" ? -1 : 0;
      i += (two == "/*" || two == "*/") ? 2 : 1;
    } else if (two == "/*") {
      block_depth = 1;
      i += 2;
    } else if (two == "--") {
      i = sql.find('\n', i);
      if (i == std::string_view::npos) i = sql.size();
    } else if (c == '\'' || c == '"') {
      const bool escapes = c == '\'' && i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e');
      for (++i; i < sql.size(); ++i) {
        if (escapes && sql[i] == '\\') {
          ++i;
        } else if (sql[i] == c) {
          if (i + 1 < sql.size() && sql[i + 1] == c) {
            ++i;  // a doubled quote inside the literal
          } else {
            break;
          }
        }
      }
      ++i;
    } else if (c == '$' && (i == 0 || !(std::isalnum(static_cast<unsigned char>(sql[i - 1])) || sql[i - 1] == '_'))) {
      const auto close = sql.find('$', i + 1);
      const auto tag = close == std::string_view::npos ? std::string_view() : sql.substr(i, close - i + 1);
      const bool is_tag = !tag.empty() && std::all_of(tag.begin() + 1, tag.end() - 1, [](char t) {
        return std::isalnum(static_cast<unsigned char>(t)) || t == '_';
      });
      if (!is_tag) {
        ++i;  // a parameter ($1) or a lone dollar
        continue;
      }
      const auto end = sql.find(tag, close + 1);
      i = end == std::string_view::npos ? sql.size() : end + tag.size();
    } else if (c == ';') {
      out.push_back(sql.substr(start, i - start));
      start = ++i;
    } else {
      ++i;
    }
  }
  out.push_back(sql.substr(std::min(start, sql.size())));
  return out;
}

bool Transaction::EndsTransaction(std::string_view sql) { return EndsTransaction(Statements(sql)); }

bool Transaction::EndsTransaction(const std::vector<std::string_view>& statements) {
  // Savepoints of the projection's own (SAVEPOINT, RELEASE, ROLLBACK TO) leave the unit's
  // transaction whole and are allowed.
  static constexpr std::array<std::string_view, 5> kFirstWords{"COMMIT", "END", "ABORT", "BEGIN", "START"};
  for (const auto statement : statements) {
    const auto words = LeadingWords(statement, 2);
    const auto first = words.substr(0, words.find(' '));
    for (const auto w : kFirstWords) {
      if (first == w) return true;
    }
    if ((first == "ROLLBACK" && words != "ROLLBACK TO") || words == "PREPARE TRANSACTION") return true;
  }
  return false;
}

std::string Transaction::Checked(std::string_view sql) const {
  if (EndsTransaction(sql)) Refuse(sql);
  return std::string(sql);
}

void Transaction::Refuse(std::string_view sql) {
  throw std::logic_error("a projection may not end or restart its unit's transaction (refused: " +
                         std::string(sql.substr(0, 60)) + "); projd commits it with the checkpoint");
}

pqxx::result Transaction::Expect(pqxx::result r, std::size_t rows) {
  if (r.size() != rows) {
    throw pqxx::unexpected_rows("expected " + std::to_string(rows) + " row(s), got " + std::to_string(r.size()));
  }
  return r;
}

}  // namespace projd
