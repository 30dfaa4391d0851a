// Message text shared by the benchmarks.
#ifndef CHATSTORE_BENCH_CHAT_TEXT_H_
#define CHATSTORE_BENCH_CHAT_TEXT_H_

#include <string>

namespace chatstore::bench {

// "One 500-byte message": English prose (about 100 cl100k_base tokens), so
// token counting and storage cost what they cost on real chat text.
inline const std::string kProse500 = [] {
  const std::string sentence =
      "The quick brown fox jumps over the lazy dog while the assistant "
      "explains how to plan a three-day trip to Kyoto in autumn. ";
  std::string s;
  while (s.size() < 500) s += sentence;
  s.resize(500);
  return s;
}();

}  // namespace chatstore::bench

#endif  // CHATSTORE_BENCH_CHAT_TEXT_H_
