// Throughput of the tiktoken npm package (its WASM build) on a corpus file,
// for comparison with bench/token_bench.cc, which runs this script on the
// same corpus after its own benchmarks.
//
// Usage: node bench/tiktoken_count.mjs TIKTOKEN_DIR CORPUS_FILE [REPETITIONS]
//   TIKTOKEN_DIR: npm prefix holding node_modules/tiktoken
//     (scripts/fetch-token-ranks.sh installs it in third_party/tiktoken)
// For each encoding and method it times whole-corpus calls and per-message
// calls (the corpus cut at "## Section", as token_bench does), repeats each
// measurement REPETITIONS times (default 3) and prints the median tokens/s.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import path from "node:path";

const [tiktokenDir, corpusFile, repetitionsArg] = process.argv.slice(2);
if (!tiktokenDir || !corpusFile) {
  console.error("usage: node tiktoken_count.mjs TIKTOKEN_DIR CORPUS_FILE [REPETITIONS]");
  process.exit(2);
}
const repetitions = Number(repetitionsArg ?? 3);
const require = createRequire(path.join(path.resolve(tiktokenDir), "package.json"));
const { get_encoding } = require("tiktoken");
const tiktokenVersion = JSON.parse(
  readFileSync(path.join(tiktokenDir, "node_modules/tiktoken/package.json"), "utf8"),
).version;

const corpus = readFileSync(corpusFile, "utf8");
const messages = [];
for (let start = 0; start < corpus.length; ) {
  let next = corpus.indexOf("## Section", start + 1);
  if (next < 0) next = corpus.length;
  messages.push(corpus.slice(start, next));
  start = next;
}

// Runs `countAll` (returns the token count of the whole corpus) for at least
// half a second. Rates use the process's CPU time, as Google Benchmark's
// counters do, so that other load on a shared machine does not skew the
// comparison; wall-clock ms per iteration is printed beside it.
function measure(countAll) {
  countAll(); // warm-up: JIT and WASM tiering
  let tokens = 0;
  let iterations = 0;
  const start = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  let elapsed = 0;
  do {
    tokens = countAll();
    iterations += 1;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  } while (elapsed < 0.5);
  const cpu = process.cpuUsage(cpuStart);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return {
    tokensPerSecond: (tokens * iterations) / cpuSeconds,
    tokens,
    msPerIteration: (1000 * elapsed) / iterations,
    cpuMsPerIteration: (1000 * cpuSeconds) / iterations,
  };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

console.log(`# tiktoken ${tiktokenVersion} (node ${process.version}); corpus ${Buffer.byteLength(corpus)} bytes, ${messages.length} messages; median of ${repetitions}`);
console.log("benchmark                          encoding     wall ms/iter  cpu ms/iter   tokens   tokens/s (cpu)");
for (const name of ["cl100k_base", "o200k_base"]) {
  const encoding = get_encoding(name);
  const cases = {
    "encode(corpus).length": () => encoding.encode(corpus).length,
    "encode_ordinary(corpus).length": () => encoding.encode_ordinary(corpus).length,
    "encode_ordinary(per message)": () => {
      let total = 0;
      for (const message of messages) total += encoding.encode_ordinary(message).length;
      return total;
    },
  };
  for (const [label, countAll] of Object.entries(cases)) {
    const runs = [];
    for (let i = 0; i < repetitions; i++) runs.push(measure(countAll));
    const rate = median(runs.map((r) => r.tokensPerSecond));
    const ms = median(runs.map((r) => r.msPerIteration));
    const cpuMs = median(runs.map((r) => r.cpuMsPerIteration));
    console.log(`${label.padEnd(34)} ${name.padEnd(12)} ${ms.toFixed(2).padStart(12)} ${cpuMs.toFixed(2).padStart(12)} ${String(runs[0].tokens).padStart(8)} ${(rate / 1e6).toFixed(2).padStart(8)} M/s`);
  }
  encoding.free();
}
