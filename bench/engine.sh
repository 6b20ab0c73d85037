#!/usr/bin/env bash
# Engine benchmark: events/s (simulate + serialize to NDJSON in memory, one thread) and peak
# memory at growing call counts. Memory must stay flat as the number of calls grows.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench engine --no-run 2>/dev/null
bin=$(ls -t target/release/deps/engine-* | grep -v '\.d$' | head -1)
for calls in 10000 100000 1000000; do
  "$bin" --calls "$calls"
done
