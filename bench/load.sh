#!/usr/bin/env bash
# Load benchmark (not a test: numbers depend on the machine and its load):
#   1. the highest rate of `pbxsim load --asap` against the bench receiver, beside oha;
#   2. whether the open model holds a target rate within 1% when the receiver keeps up;
#   3. peak memory (RSS) of a 10k-call and a 1M-call --asap run: it must stay flat (±20%).
#
#   bench/load.sh
#   CALLS=200000 RATE=500 HOLD=60 BIG=1000000 C=64 ROUNDS=5 bench/load.sh
#
# Results are appended to bench/results/load.txt (RESULTS=... to change).
set -euo pipefail
cd "$(dirname "$0")/.."

CALLS=${CALLS:-50000}       # calls of the --asap run
RATE=${RATE:-200}           # calls/s of the rate-hold run
HOLD=${HOLD:-30}            # seconds of the rate-hold run
SMALL=${SMALL:-10000}       # calls of the small memory run
BIG=${BIG:-1000000}         # calls of the big memory run
C=${C:-64}
ROUNDS=${ROUNDS:-3}     # alternating pbxsim/oha rounds of step 1
RESULTS=${RESULTS:-bench/results/load.txt}
WORK=$(mktemp -d)
RECEIVER_PID=
cleanup() {
    if [ -n "$RECEIVER_PID" ]; then kill "$RECEIVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

LOAD=$(cut -d" " -f1-3 /proc/loadavg)
echo "== building (release)"
cargo build --release --quiet --bin pbxsim --example bench_receiver
OHA=$(command -v oha || echo "$HOME/.cargo/bin/oha")

echo "== starting the receiver"
target/release/examples/bench_receiver > "$WORK/receiver.out" &
RECEIVER_PID=$!
for _ in $(seq 50); do
    grep -q listening "$WORK/receiver.out" 2>/dev/null && break
    sleep 0.1
done
URL="http://$(sed -n 's/^listening on //p' "$WORK/receiver.out")/hook"
echo "   $URL"

json() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

# One pbxsim round and one oha round with the same request count, concurrency and a real event
# body; the order alternates from round to round so neither always runs on a warmer machine.
target/release/pbxsim trigger queue_call --print --seed 1 > "$WORK/body.json"
pbxsim_round() {
    target/release/pbxsim load --target "$URL" --token bench-token --asap --max-calls "$CALLS" \
        --concurrency "$C" -q --report "$WORK/asap.json" > /dev/null
    ASAP_EPS=$(json "$WORK/asap.json" "round(r['events']['delivered'] / r['wall_s'])")
    ASAP_EVENTS=$(json "$WORK/asap.json" "r['events']['delivered']")
}
oha_round() {
    "$OHA" -n "$ASAP_EVENTS" -c "$C" -m POST --no-tui --output-format json \
        -H 'Content-Type: application/json' -H 'X-Pbx-Token: bench-token' \
        -D "$WORK/body.json" "$URL" > "$WORK/oha.json"
    OHA_RPS=$(json "$WORK/oha.json" "round(r['summary']['requestsPerSec'])")
}
echo "== 1. --asap, $CALLS calls, concurrency $C, $ROUNDS alternating rounds with oha"
if [ ! -x "$OHA" ]; then
    echo "   oha not found: cargo install oha --locked (the ratio needs it)" >&2
    exit 1
fi
pbxsim_round # warm-up, and the event count oha sends
pbx_all=()
oha_all=()
ratios=()
for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) -eq 1 ]; then pbxsim_round; oha_round; else oha_round; pbxsim_round; fi
    pbx_all+=("$ASAP_EPS")
    oha_all+=("$OHA_RPS")
    ratios+=("$(python3 -c "print(f'{$ASAP_EPS / $OHA_RPS:.2f}')")")
    echo "   round $round: pbxsim $ASAP_EPS events/s, oha $OHA_RPS requests/s, ratio ${ratios[-1]}"
done
MEDIAN=$(python3 -c "import statistics,sys; print(f'{statistics.median(map(float, sys.argv[1:])):.2f}')" "${ratios[@]}")
echo "   median per-round ratio $MEDIAN"

echo "== 2. open model at $RATE calls/s for ${HOLD}s"
target/release/pbxsim load --target "$URL" --token bench-token --rate "$RATE/s" --arrivals uniform \
    --duration "${HOLD}s" --concurrency "$C" -q --report "$WORK/hold.json" > /dev/null
HOLD_RATIO=$(json "$WORK/hold.json" "round(r['rate']['ratio'] * 100, 2)")
HOLD_P99=$(json "$WORK/hold.json" "r['latency']['p99_ms']")
echo "   achieved $HOLD_RATIO% of target (uniform arrivals), corrected p99 $HOLD_P99 ms"

rss() {
    /usr/bin/time -v target/release/pbxsim load --target "$URL" --token bench-token --asap \
        --max-calls "$1" --concurrency "$C" -q > /dev/null 2> "$WORK/time.txt"
    sed -n 's/.*Maximum resident set size (kbytes): //p' "$WORK/time.txt"
}
echo "== 3. peak RSS: $SMALL calls vs $BIG calls"
RSS_SMALL=$(rss "$SMALL")
RSS_BIG=$(rss "$BIG")
echo "   $SMALL calls: ${RSS_SMALL} KB, $BIG calls: ${RSS_BIG} KB ($(python3 -c "print(round($RSS_BIG/$RSS_SMALL, 2))")x)"

{
    echo "$(date -u +%FT%TZ) $(nproc) cores, concurrency $C"
    echo "  asap: $ASAP_EVENTS events, $ROUNDS rounds: pbxsim [${pbx_all[*]}] events/s, oha [${oha_all[*]}] requests/s, median per-round ratio $MEDIAN, load [$LOAD]"
    echo "  open model $RATE calls/s for ${HOLD}s: achieved $HOLD_RATIO%, corrected p99 $HOLD_P99 ms"
    echo "  peak RSS: $SMALL calls ${RSS_SMALL} KB, $BIG calls ${RSS_BIG} KB"
} | tee -a "$RESULTS"
