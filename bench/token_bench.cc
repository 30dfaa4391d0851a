// Token counting throughput: chatstore's TokenCounter on a mixed English and
// code corpus (about 400 KB), and, in the same invocation, the tiktoken npm
// package's own throughput on the very same text under node
// (bench/tiktoken_count.mjs). Tokens/s is the figure to compare.
//
//   build/bench/token_bench --benchmark_repetitions=3
//       --benchmark_report_aggregates_only=true   (one command line)
//
// The corpus is written to $TMPDIR/chatstore_token_bench_corpus.txt so the
// node script reads exactly what was counted here. Set TOKEN_BENCH_NODE=0 to
// skip the node half; CHATSTORE_TIKTOKEN_DIR overrides where the tiktoken
// package is (default: third_party/tiktoken beside this file's repo).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "tokens/token_counter.h"

namespace chatstore {
namespace {

constexpr std::string_view kProse[] = {
    "Chat applications keep every message a user and a model exchange. When "
    "the server restarts, nothing may be lost: the session log is durable, "
    "and a reconnecting browser resumes from the last event it saw. ",
    "Token limits shape everything. A context window of 8,192 tokens holds "
    "roughly six thousand English words, fewer when the text is code, and "
    "far fewer for languages whose characters need several bytes each. ",
    "It's tempting to estimate tokens as characters divided by four, but "
    "that estimate is wrong often enough to matter: the model rejects a "
    "request that's one token too long, and it doesn't negotiate. ",
    "We measured the store on a laptop and on a small server. The laptop "
    "was faster for single writes (about 0.4 ms), while the server won "
    "under load, where group commit shared one fsync among 37 writers. ",
    "\"Why not just keep sessions in memory?\" asked the reviewer. Because "
    "memory forgets on restart, and users notice when yesterday's chat "
    "vanishes; they don't care that the process was upgraded. ",
};

constexpr std::string_view kCode[] = {
    "```cpp\n"
    "std::size_t CountWindow(const std::vector<Message>& messages,\n"
    "                        std::size_t limit) {\n"
    "  std::size_t total = 0;\n"
    "  for (auto it = messages.rbegin(); it != messages.rend(); ++it) {\n"
    "    if (total + it->tokens > limit) break;  // the window is full\n"
    "    total += it->tokens;\n"
    "  }\n"
    "  return total;\n"
    "}\n"
    "```\n",
    "```python\n"
    "def fit_messages(messages, limit=8192):\n"
    "    \"\"\"Return the newest messages that fit in `limit` tokens.\"\"\"\n"
    "    kept, total = [], 0\n"
    "    for message in reversed(messages):\n"
    "        if total + message[\"tokens\"] > limit:\n"
    "            break\n"
    "        kept.append(message)\n"
    "        total += message[\"tokens\"]\n"
    "    return list(reversed(kept))\n"
    "```\n",
    "```json\n"
    "{\"id\": \"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\", \"role\": "
    "\"assistant\",\n \"content\": \"Sure! Here is the plan:\", \"tokens\": "
    "7,\n \"created_at\": \"2026-11-22T03:04:05Z\"}\n"
    "```\n",
};

// About `target_bytes` of alternating prose paragraphs and code blocks, with
// a running section number so that no two blocks are identical.
std::string BuildCorpus(std::size_t target_bytes) {
  std::string corpus;
  for (std::size_t i = 0; corpus.size() < target_bytes; ++i) {
    corpus += "## Section " + std::to_string(i + 1) + "\n\n";
    for (std::size_t p = 0; p < 3; ++p) {
      corpus += kProse[(i + p) % std::size(kProse)];
    }
    corpus += "\n\n";
    corpus += kCode[i % std::size(kCode)];
    corpus += "\n";
  }
  return corpus;
}

const std::string& Corpus() {
  static const std::string* const corpus =
      new std::string(BuildCorpus(400 * 1024));
  return *corpus;
}

// The corpus cut at section headings into chat-message-sized pieces, to
// measure the per-call overhead that counting one message at a time pays.
const std::vector<std::string>& Messages() {
  static const std::vector<std::string>* const messages = [] {
    auto* out = new std::vector<std::string>;
    const std::string& corpus = Corpus();
    std::size_t start = 0;
    while (start < corpus.size()) {
      std::size_t next = corpus.find("## Section", start + 1);
      if (next == std::string::npos) next = corpus.size();
      out->push_back(corpus.substr(start, next - start));
      start = next;
    }
    return out;
  }();
  return *messages;
}

Encoding EncodingOf(const benchmark::State& state) {
  return state.range(0) == 0 ? Encoding::kCl100kBase : Encoding::kO200kBase;
}

void SetRates(benchmark::State& state, std::size_t tokens_per_iteration) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(Corpus().size()));
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(tokens_per_iteration) *
                             static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
  state.counters["tokens"] = static_cast<double>(tokens_per_iteration);
  state.SetLabel(std::string(EncodingName(EncodingOf(state))));
}

void BM_CountCorpus(benchmark::State& state) {
  const TokenCounter& counter = TokenCounter::Get(EncodingOf(state));
  std::size_t tokens = 0;
  for (auto _ : state) {
    tokens = counter.Count(Corpus());
    benchmark::DoNotOptimize(tokens);
  }
  SetRates(state, tokens);
}
BENCHMARK(BM_CountCorpus)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void BM_CountMessages(benchmark::State& state) {
  const TokenCounter& counter = TokenCounter::Get(EncodingOf(state));
  std::size_t tokens = 0;
  for (auto _ : state) {
    tokens = 0;
    for (const std::string& message : Messages()) {
      tokens += counter.Count(message);
    }
    benchmark::DoNotOptimize(tokens);
  }
  SetRates(state, tokens);
  state.counters["messages"] = static_cast<double>(Messages().size());
}
BENCHMARK(BM_CountMessages)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void BM_EncodeCorpus(benchmark::State& state) {
  const TokenCounter& counter = TokenCounter::Get(EncodingOf(state));
  std::size_t tokens = 0;
  for (auto _ : state) {
    tokens = counter.Encode(Corpus()).size();
    benchmark::DoNotOptimize(tokens);
  }
  SetRates(state, tokens);
}
BENCHMARK(BM_EncodeCorpus)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

std::string RepoDir() {
  std::string file =
      __FILE__;  // absolute under CMake: .../bench/token_bench.cc
  for (int i = 0; i < 2; ++i) file = file.substr(0, file.find_last_of('/'));
  return file;
}

int RunNodeComparison(const std::string& corpus_path) {
  const char* dir_override = std::getenv("CHATSTORE_TIKTOKEN_DIR");
  const std::string tiktoken_dir = dir_override != nullptr
                                       ? dir_override
                                       : RepoDir() + "/third_party/tiktoken";
  const std::string command = "node '" + RepoDir() +
                              "/bench/tiktoken_count.mjs' '" + tiktoken_dir +
                              "' '" + corpus_path + "'";
  std::printf("\n# tiktoken npm package under node, same corpus: %s\n",
              command.c_str());
  std::fflush(stdout);
  return std::system(command.c_str());
}

}  // namespace
}  // namespace chatstore

int main(int argc, char** argv) {
  const char* tmp = std::getenv("TMPDIR");
  const std::string corpus_path = std::string(tmp != nullptr ? tmp : "/tmp") +
                                  "/chatstore_token_bench_corpus.txt";
  std::ofstream(corpus_path, std::ios::binary | std::ios::trunc)
      << chatstore::Corpus();
  std::printf("# corpus: %zu bytes, %zu messages, %s\n",
              chatstore::Corpus().size(), chatstore::Messages().size(),
              corpus_path.c_str());

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();

  const char* run_node = std::getenv("TOKEN_BENCH_NODE");
  if (run_node != nullptr && std::string_view(run_node) == "0") return 0;
  return chatstore::RunNodeComparison(corpus_path) == 0 ? 0 : 1;
}
