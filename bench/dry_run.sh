#!/usr/bin/env bash
# Dry-run benchmark (not a test: numbers depend on the machine and its load): how many events
# per second `pbxsim load --dry-run` writes, bare bodies and envelopes, to /dev/null and to a
# pipe, with the built-in mid-size PBX. The goal is at least 1M events/s (bodies, release).
#
#   bench/dry_run.sh
#   EVENTS=5000000 ROUNDS=5 bench/dry_run.sh
#
# Results are appended to bench/results/dry_run.txt (RESULTS=... to change).
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS=${EVENTS:-2000000}
ROUNDS=${ROUNDS:-3}
RESULTS=${RESULTS:-bench/results/dry_run.txt}

echo "== building (release)"
nice -n 10 cargo build --release --quiet --bin pbxsim
bin=target/release/pbxsim
# A pinned clock: no horizon simulation before the run, the same bytes every round.
flags=(load --dry-run --asap --max-events "$EVENTS" --seed 1 --start-time 2026-01-05T00:00:00Z)

now() { date +%s.%N; }
measure() { # label, then the command's extra flags; the sink is in $sink
    local label=$1; shift
    local best=0
    for _ in $(seq "$ROUNDS"); do
        local t0 t1 rate
        t0=$(now)
        if [ "$sink" = pipe ]; then
            "$bin" "${flags[@]}" "$@" | cat > /dev/null
        else
            "$bin" "${flags[@]}" "$@" > /dev/null
        fi
        t1=$(now)
        rate=$(awk -v n="$EVENTS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
        if [ "$rate" -gt "$best" ]; then best=$rate; fi
        printf '   %-28s %10s events/s\n' "$label ($sink)" "$rate"
    done
    printf '%s  %-28s best of %s: %10s events/s (%s events)\n' "$(date -u +%FT%TZ)" \
        "$label ($sink)" "$ROUNDS" "$best" "$EVENTS" >> "$RESULTS"
}

echo "== $EVENTS events, $ROUNDS rounds each, $(nproc) cores"
for sink in devnull pipe; do
    measure bodies
    measure envelopes --envelope
done
echo "== appended to $RESULTS"
tail -4 "$RESULTS"
