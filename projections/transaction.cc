#include <projd/transaction.h>

#include <array>
#include <cctype>
#include <stdexcept>

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

}  // namespace

bool Transaction::EndsTransaction(std::string_view sql) {
  // Savepoints of the projection's own (SAVEPOINT, RELEASE, ROLLBACK TO) leave the unit's
  // transaction whole and are allowed.
  static constexpr std::array<std::string_view, 5> kFirstWords{"COMMIT", "END", "ABORT", "BEGIN", "START"};
  const auto words = LeadingWords(sql, 2);
  const auto first = words.substr(0, words.find(' '));
  for (const auto w : kFirstWords) {
    if (first == w) return true;
  }
  if (first == "ROLLBACK") return words != "ROLLBACK TO";
  return words == "PREPARE TRANSACTION";
}

std::string Transaction::Checked(std::string_view sql) const {
  if (EndsTransaction(sql)) {
    throw std::logic_error("a projection may not end or restart its unit's transaction (refused: " +
                           std::string(sql.substr(0, 60)) + "); projd commits it with the checkpoint");
  }
  return std::string(sql);
}

pqxx::result Transaction::Expect(pqxx::result r, std::size_t rows) {
  if (r.size() != rows) {
    throw pqxx::unexpected_rows("expected " + std::to_string(rows) + " row(s), got " + std::to_string(r.size()));
  }
  return r;
}

}  // namespace projd
