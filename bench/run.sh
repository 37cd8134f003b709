#!/usr/bin/env bash
# Run every benchmark (release build) and print their result lines.
set -eu
cd "$(dirname "$0")/.."
for b in build/release/bench/bench_*; do
	[ -x "$b" ] || continue
	echo "## $(basename "$b")"
	"$b"
	echo
done
