#!/usr/bin/env bash
# Installs the pinned `tiktoken` npm package (src/tokens/npm/package-lock.json)
# into third_party/tiktoken/, where the build reads the merge ranks of
# cl100k_base and o200k_base (node_modules/tiktoken/encoders/*.json) and the
# token tests run the package itself as the reference tokenizer.
#
# Idempotent: does nothing when the installed version already matches the lock.
# The install goes to a temporary directory that is renamed into place, so an
# interrupted run or two concurrent runs never leave a half-installed package.
#
# Usage: scripts/fetch-token-ranks.sh [DEST_DIR]   (default: third_party/tiktoken)
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lock_dir="$repo_root/src/tokens/npm"
dest=${1:-"$repo_root/third_party/tiktoken"}

want_version=$(sed -n 's/^ *"tiktoken": "\(.*\)"/\1/p' "$lock_dir/package.json")
installed="$dest/node_modules/tiktoken"

is_complete() {
  [[ -f "$1/node_modules/tiktoken/package.json" &&
     -f "$1/node_modules/tiktoken/encoders/cl100k_base.json" &&
     -f "$1/node_modules/tiktoken/encoders/o200k_base.json" ]] &&
    grep -q "\"version\": \"$want_version\"" "$1/node_modules/tiktoken/package.json"
}

if is_complete "$dest"; then
  exit 0
fi

for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "fetch-token-ranks: '$tool' not found; install Node.js (Debian: nodejs, npm)" >&2
    exit 1
  fi
done

mkdir -p "$(dirname "$dest")"
staging=$(mktemp -d "$(dirname "$dest")/.tiktoken.XXXXXX")
trap 'rm -rf "$staging"' EXIT
cp "$lock_dir/package.json" "$lock_dir/package-lock.json" "$staging/"
echo "fetch-token-ranks: installing tiktoken@$want_version into $dest" >&2
# `npm ci` installs exactly what the lockfile says and checks its integrity
# hash; --ignore-scripts because the package needs no install step.
(cd "$staging" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)

if ! is_complete "$staging"; then
  echo "fetch-token-ranks: npm ci did not produce tiktoken@$want_version encoders" >&2
  exit 1
fi
# Another run may have finished first; either copy is the same package.
if is_complete "$dest"; then
  exit 0
fi
rm -rf "$dest"
mv "$staging" "$dest"
trap - EXIT
echo "fetch-token-ranks: ok ($installed)" >&2
