#!/usr/bin/env bash
# Builds the project's Go tools into tools/*/bin: FerretDB (the Mongo wire-protocol server the
# tests run), compose-check (the Compose-file validator) and Toxiproxy (the fault proxy the chaos
# tests put between a process and its stores). Skips a tool that is up to date.
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$0")/.."

if ! command -v go >/dev/null 2>&1; then
  echo "build-tools: Go is not installed; install Go 1.24+ (or set MONGO_URL to a running MongoDB)" >&2
  exit 1
fi

# FerretDB 1.24.2's SQLite backend indexes `_id` as `_ferretdb_sjson->"_id"` but looks documents
# up by `_ferretdb_sjson->'$._id'`, an expression SQLite does not match to that index, so every
# find, update and delete by `_id` scans the whole collection (compare FerretDB issue #4646 for
# the PostgreSQL backend). The two expressions select the same value; the build swaps in the one
# the index answers to, in a copy of the module from the Go module proxy. Nothing else changes.
# Prints the module file to build with.
ferretdb_patched_modfile() {
  local module copy
  module="$(cd tools/ferretdb && go mod download -json github.com/FerretDB/FerretDB | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  copy="$PWD/tools/ferretdb/bin/ferretdb-module"
  rm -rf "$copy"
  mkdir -p "$(dirname "$copy")"
  cp -R "$module" "$copy"
  chmod -R u+w "$copy"
  local file="$copy/internal/backends/sqlite/metadata/metadata.go"
  sed -i "s|IDColumn = DefaultColumn + \"->'\\\$\._id'\"|IDColumn = DefaultColumn + \"->'_id'\"|" "$file"
  if ! grep -q "IDColumn = DefaultColumn + \"->'_id'\"" "$file"; then
    echo "build-tools: the FerretDB _id lookup expression was not found in $file; not patched" >&2
    exit 1
  fi
  cp tools/ferretdb/go.mod tools/ferretdb/bin/patched.mod
  cp tools/ferretdb/go.sum tools/ferretdb/bin/patched.sum
  (cd tools/ferretdb && go mod edit -modfile=bin/patched.mod -replace "github.com/FerretDB/FerretDB=$copy")
  echo "bin/patched.mod"
}

for tool in ferretdb compose-check toxiproxy; do
  dir="tools/$tool"
  bin="$dir/bin/$tool"
  if [ -x "$bin" ] && [ ! "$self" -nt "$bin" ] && [ -z "$(find "$dir" -maxdepth 1 \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' \) -newer "$bin")" ]; then
    echo "build-tools: $bin is up to date"
    continue
  fi
  echo "build-tools: building $bin"
  start=$(date +%s)
  flags=()
  package=.
  if [ "$tool" = ferretdb ]; then flags=(-modfile "$(ferretdb_patched_modfile)"); fi
  # Toxiproxy has no source here: go.mod pins its server as a tool, built straight from the module.
  if [ "$tool" = toxiproxy ]; then package=github.com/Shopify/toxiproxy/v2/cmd/server; fi
  (cd "$dir" && go build -trimpath "${flags[@]}" -o "bin/$tool" "$package")
  echo "build-tools: built $bin in $(( $(date +%s) - start )) s"
done
