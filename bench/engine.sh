#!/usr/bin/env bash
# Engine benchmark: events/s (simulate + serialize to NDJSON in memory, one thread) and peak
# memory at growing call counts. Memory must stay flat as the number of calls grows.
set -euo pipefail
cd "$(dirname "$0")/.."
# The path of the benchmark binary, from cargo's own report of what it built.
bin=$(cargo bench --bench engine --no-run --message-format json 2>/dev/null |
  grep '"kind":\["bench"\]' | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
for calls in 10000 100000 1000000; do
  "$bin" --calls "$calls"
done
