#include "store/search_words.h"

#include <algorithm>
#include <cstddef>

namespace chatstore::search {
namespace {

bool IsWordByte(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z') || c >= 0x80;
}

char AsciiLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

struct Token {
  std::size_t begin;
  std::size_t end;
};

std::vector<Token> Tokenize(std::string_view text) {
  std::vector<Token> out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && !IsWordByte(text[i])) ++i;
    const std::size_t begin = i;
    while (i < text.size() && IsWordByte(text[i])) ++i;
    if (i > begin) out.push_back({begin, i});
  }
  return out;
}

bool IsTerm(std::string_view word, const std::vector<std::string>& terms) {
  for (const std::string& t : terms) {
    if (EqualsIgnoreCase(word, t)) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> QueryTerms(std::string_view query) {
  std::vector<std::string> terms;
  for (const Token& t : Tokenize(query)) {
    std::string term(query.substr(t.begin, t.end - t.begin));
    for (char& c : term) c = AsciiLower(c);
    if (std::find(terms.begin(), terms.end(), term) == terms.end()) {
      terms.push_back(std::move(term));
    }
  }
  return terms;
}

bool MatchesAll(std::string_view text, const std::vector<std::string>& terms) {
  std::vector<bool> found(terms.size(), false);
  std::size_t missing = terms.size();
  std::size_t i = 0;
  while (i < text.size() && missing > 0) {
    while (i < text.size() && !IsWordByte(text[i])) ++i;
    const std::size_t begin = i;
    while (i < text.size() && IsWordByte(text[i])) ++i;
    if (i == begin) break;
    const std::string_view word = text.substr(begin, i - begin);
    for (std::size_t j = 0; j < terms.size(); ++j) {
      if (!found[j] && EqualsIgnoreCase(word, terms[j])) {
        found[j] = true;
        --missing;
      }
    }
  }
  return missing == 0;
}

// Short content is returned whole; longer content is cut to a window of
// words that starts a few words before the first match. Cuts fall on word
// boundaries, which are ASCII bytes, so UTF-8 sequences are never split.
std::string Snippet(std::string_view content,
                    const std::vector<std::string>& terms) {
  constexpr std::size_t kWholeBytes = 200;
  constexpr std::size_t kWindowBytes = 160;
  constexpr std::size_t kWordsBefore = 4;
  const std::vector<Token> tokens = Tokenize(content);
  std::size_t from = 0;
  std::size_t to = content.size();
  if (content.size() > kWholeBytes && !tokens.empty()) {
    std::size_t first = 0;
    while (first < tokens.size() &&
           !IsTerm(content.substr(tokens[first].begin,
                                  tokens[first].end - tokens[first].begin),
                   terms)) {
      ++first;
    }
    if (first == tokens.size()) first = 0;
    const std::size_t start = first > kWordsBefore ? first - kWordsBefore : 0;
    from = start == 0 ? 0 : tokens[start].begin;
    std::size_t last = start;
    while (last + 1 < tokens.size() &&
           tokens[last + 1].end - from <= kWindowBytes) {
      ++last;
    }
    to = last + 1 == tokens.size() ? content.size() : tokens[last].end;
  }
  std::string out;
  out.reserve(to - from + 16);
  if (from > 0) out += "...";
  std::size_t pos = from;
  for (const Token& t : tokens) {
    if (t.begin < from) continue;
    if (t.end > to) break;
    const std::string_view word = content.substr(t.begin, t.end - t.begin);
    if (!IsTerm(word, terms)) continue;
    out.append(content.substr(pos, t.begin - pos));
    out += '[';
    out.append(word);
    out += ']';
    pos = t.end;
  }
  out.append(content.substr(pos, to - pos));
  if (to < content.size()) out += "...";
  return out;
}

}  // namespace chatstore::search
