#!/usr/bin/env bash
# tally's test command (README, .ci/run): static checks, every test, then a
# short run of every fuzz target. It installs what it needs (Go modules come
# through the module proxy on first use).
#
#   TALLY_FUZZTIME=10s   how long each fuzz target runs (0 skips fuzzing)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

echo "== go vet, gofmt"
go vet ./...
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi

echo "== go test"
go test -count=1 ./...

fuzztime=${TALLY_FUZZTIME:-10s}
if [ "$fuzztime" != "0" ]; then
  echo "== fuzz ($fuzztime per target)"
  # Every func FuzzX in a _test.go file, with its package directory.
  grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r file; do
    dir=$(dirname "$file")
    for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //'); do
      echo "-- $dir $target"
      go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$dir"
    done
  done
fi
echo "== all tests passed"
