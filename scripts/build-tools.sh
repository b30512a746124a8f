#!/usr/bin/env bash
# Builds the project's Go tools into tools/*/bin: FerretDB (the Mongo wire-protocol server the
# tests run) and compose-check (the Compose-file validator). Skips a tool that is up to date.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v go >/dev/null 2>&1; then
  echo "build-tools: Go is not installed; install Go 1.24+ (or set MONGO_URL to a running MongoDB)" >&2
  exit 1
fi

for tool in ferretdb compose-check; do
  dir="tools/$tool"
  bin="$dir/bin/$tool"
  if [ -x "$bin" ] && [ -z "$(find "$dir" -maxdepth 1 \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' \) -newer "$bin")" ]; then
    echo "build-tools: $bin is up to date"
    continue
  fi
  echo "build-tools: building $bin"
  start=$(date +%s)
  (cd "$dir" && go build -trimpath -o "bin/$tool" .)
  echo "build-tools: built $bin in $(( $(date +%s) - start )) s"
done
