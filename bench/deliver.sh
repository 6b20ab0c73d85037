#!/usr/bin/env bash
# Delivery benchmark: pbxsim's --asap delivery against oha, same receiver, same body size,
# same concurrency, in the same run. Not a test: numbers depend on the machine and its load.
#
#   bench/deliver.sh                 # 400k requests each, concurrency 64, 3 alternating rounds
#   N=1000000 C=64 ROUNDS=3 bench/deliver.sh
#
# Both clients share the machine's cores with the receiver: compare the ratio, not the
# absolute numbers. Results are appended to bench/results/deliver.txt (RESULTS=... to change).
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-400000}
C=${C:-64}
ROUNDS=${ROUNDS:-3}
RESULTS=${RESULTS:-bench/results/deliver.txt}
WORK=$(mktemp -d)
RECEIVER_PID=
cleanup() {
    if [ -n "$RECEIVER_PID" ]; then kill "$RECEIVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "== building (release)"
cargo build --release --quiet --bin pbxsim --example bench_receiver --example bench_events
if ! command -v oha >/dev/null; then
    echo "== installing oha (cargo install oha --locked; takes a few minutes)"
    cargo install oha --locked --quiet
fi

echo "== generating $N events"
target/release/examples/bench_events "$N" > "$WORK/events.ndjson"
# oha's body: the event whose size is closest to the average, so both send the same bytes.
BODY_FILE="$WORK/body.json"
awk '{ n++; len[n] = length($0); line[n] = $0; total += length($0) }
     END { avg = total / n; best = 1;
           for (i = 1; i <= n && i <= 1000; i++) if ((len[i]-avg)^2 < (len[best]-avg)^2) best = i;
           printf "%s", line[best] }' "$WORK/events.ndjson" > "$BODY_FILE"
AVG=$(awk '{ t += length($0) } END { printf "%.0f", t / NR }' "$WORK/events.ndjson")
BODY_BYTES=$(wc -c < "$BODY_FILE")

echo "== starting the receiver"
target/release/examples/bench_receiver > "$WORK/receiver.out" &
RECEIVER_PID=$!
for _ in $(seq 50); do
    grep -q listening "$WORK/receiver.out" 2>/dev/null && break
    sleep 0.1
done
ADDR=$(sed -n 's/^listening on //p' "$WORK/receiver.out")
URL="http://$ADDR/hook"
echo "   $URL"

oha_all=()
pbx_all=()
ratios=()
oha_round() {
    echo "== round $round: oha -n $N -c $C"
    oha -n "$N" -c "$C" -m POST --no-tui --output-format json \
        -H 'Content-Type: application/json' -H 'X-Pbx-Token: bench-token' \
        -D "$BODY_FILE" "$URL" > "$WORK/oha.json"
    oha_rps=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print(round(s["requestsPerSec"]))' "$WORK/oha.json")
    oha_ok=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["successRate"])' "$WORK/oha.json")
    echo "   oha:    $oha_rps requests/s (success rate $oha_ok)"
}
pbxsim_round() {
    echo "== round $round: pbxsim replay ($N events, --concurrency $C)"
    PBXSIM_TOKEN=bench-token target/release/pbxsim replay "$WORK/events.ndjson" \
        --target "$URL" --concurrency "$C" > "$WORK/pbxsim.txt"
    pbx_rps=$(sed -n 's/.*(\([0-9.]*\) events\/s delivered).*/\1/p' "$WORK/pbxsim.txt" | cut -d. -f1)
    delivered=$(sed -n 's/.*delivered \([0-9]*\) .*/\1/p' "$WORK/pbxsim.txt" | head -1)
    echo "   pbxsim: $pbx_rps events/s ($delivered of $N delivered)"
}
# The order alternates from round to round, so neither always runs on a warmer machine.
for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) -eq 1 ]; then oha_round; pbxsim_round; else pbxsim_round; oha_round; fi
    oha_all+=("$oha_rps")
    pbx_all+=("$pbx_rps")
    ratios+=("$(python3 -c "print(f'{$pbx_rps / $oha_rps:.2f}')")")
done

# The best of each, and the median of the per-round ratios (each round runs both back to back,
# so its ratio is the least disturbed by other load on the machine).
read -r best_oha best_pbx RATIO MEDIAN < <(python3 - "${oha_all[*]}" "${pbx_all[*]}" "${ratios[*]}" <<'PY'
import statistics, sys
oha = [int(x) for x in sys.argv[1].split()]
pbx = [int(x) for x in sys.argv[2].split()]
ratios = [float(x) for x in sys.argv[3].split()]
print(max(oha), max(pbx), f"{max(pbx) / max(oha):.2f}", f"{statistics.median(ratios):.2f}")
PY
)
CPUS=$(nproc)
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
SUMMARY="$(date -u +%Y-%m-%dT%H:%MZ)  N=$N C=$C rounds=$ROUNDS body=${BODY_BYTES}B (avg event ${AVG}B)  oha=${best_oha}/s  pbxsim=${best_pbx}/s  best-ratio=${RATIO}  median-round-ratio=${MEDIAN}  rounds: oha=[${oha_all[*]}] pbxsim=[${pbx_all[*]}]  cpus=$CPUS load=[$LOAD]  $(oha --version 2>/dev/null | head -1)"
echo
echo "oha per round:    ${oha_all[*]} requests/s"
echo "pbxsim per round: ${pbx_all[*]} events/s"
echo "best of $ROUNDS: oha $best_oha requests/s, pbxsim $best_pbx events/s, ratio $RATIO; median per-round ratio $MEDIAN"
mkdir -p "$(dirname "$RESULTS")"
echo "$SUMMARY" >> "$RESULTS"
echo "appended to $RESULTS"
