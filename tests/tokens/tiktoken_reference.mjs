// The reference tokenizer for chatstore's token tests: the tiktoken npm
// package itself, run under node by the test (never cached results).
//
// Usage: node tiktoken_reference.mjs TIKTOKEN_DIR CASES_FILE
//   TIKTOKEN_DIR: the npm prefix holding node_modules/tiktoken
//     (scripts/fetch-token-ranks.sh installs it)
//   CASES_FILE: one case per line, "NAME<TAB>HEX" where HEX is the case's raw
//     bytes (possibly invalid UTF-8)
// Writes one line per case and encoding to stdout:
//   "INDEX ENCODING COUNT ID ID ..."
// Bytes become text exactly as a browser would read them:
// new TextDecoder("utf-8", {ignoreBOM: true}) replaces each maximal invalid
// subpart with U+FFFD and keeps a leading byte-order mark as text.
// Exits non-zero (with a message) if anything is missing.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import path from "node:path";

const [tiktokenDir, casesFile] = process.argv.slice(2);
if (!tiktokenDir || !casesFile) {
  console.error("usage: node tiktoken_reference.mjs TIKTOKEN_DIR CASES_FILE");
  process.exit(2);
}
const require = createRequire(path.join(path.resolve(tiktokenDir), "package.json"));
const { get_encoding } = require("tiktoken");

const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
const encodings = ["cl100k_base", "o200k_base"].map((name) => [name, get_encoding(name)]);
const lines = readFileSync(casesFile, "utf8").split("\n").filter((line) => line.length > 0);
const out = [];
lines.forEach((line, index) => {
  const hex = line.slice(line.indexOf("\t") + 1);
  const text = decoder.decode(Buffer.from(hex, "hex"));
  for (const [name, encoding] of encodings) {
    const ids = encoding.encode_ordinary(text);
    out.push(`${index} ${name} ${ids.length}${ids.length ? " " : ""}${Array.from(ids).join(" ")}`);
  }
});
for (const [, encoding] of encodings) encoding.free();
process.stdout.write(out.join("\n") + "\n");
