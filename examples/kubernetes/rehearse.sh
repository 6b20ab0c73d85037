#!/usr/bin/env bash
# A local rehearsal of the Indexed Job, with no cluster: N pbxsim processes, given
# JOB_COMPLETION_INDEX=0..N-1 and the arguments of the pod in load-job.yaml, play against one
# local receiver; then the arguments of merge-job.yaml merge their reports; then the merged
# report's count of delivered events is checked against what the receiver received, exactly.
#
#   examples/kubernetes/rehearse.sh      # 4 shards, as load-job.yaml: calls start for 10 s (~40 s in all)
#   N=3 DURATION=5s SPEED=600 examples/kubernetes/rehearse.sh
#
# The arguments come from the manifests, so the rehearsal plays what the cluster would, with
# these changes: --target is the local receiver, /reports/ is a temporary directory, --start-at
# is LEAD seconds from now, and the knobs below. The token is a made-up one in PBXSIM_TOKEN, as
# the pod gets its own from a Secret.
#
# Knobs (environment variables):
#   N          shards: --shards and the number of processes (default: the Job's completions)
#   DURATION   --duration (default 10s, where the Job has 10m)
#   TENANTS    --tenants (default: the Job's); at least N
#   MAX_CALLS  adds --max-calls (the whole run's)
#   SPEED      adds --speed (PBX seconds per wall second)
#   LEAD       seconds from now to --start-at (default 3)
#   PBXSIM     the pbxsim binary (default target/release/pbxsim, built when missing)
#   RECEIVER   the receiver (default target/release/examples/bench_receiver, built when
#              missing): it prints "listening on HOST:PORT", and "received N" on SIGTERM
#   KEEP=1     keep the work directory (the reports and each process's output) and print it
#
# Exit codes: 0 when the merge passed and the counts match; 1 when they differ (MISMATCH) or a
# threshold failed on the merged report; 2 when a shard or the merge failed otherwise (a usage
# error, a missing report, a receiver that did not start).
# Needs bash and GNU date (`date -d`).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
load_job="$here/load-job.yaml"
merge_job="$here/merge-job.yaml"

# The first container's `args:` list of a manifest, one argument a line, without quotes.
job_args() {
    awk '/^ *args:$/ { on = 1; next }
         on && /^ *- / { sub(/^ *- /, ""); gsub(/^"|"$/, ""); print; next }
         on { exit }' "$1"
}
# The value of a top-level `spec:` field of a manifest, like `completions`.
job_field() {
    awk -v key="$2" '$1 == key ":" { print $2; exit }' "$1"
}

N="${N:-$(job_field "$load_job" completions)}"
DURATION="${DURATION:-10s}"
LEAD="${LEAD:-3}"
PBXSIM="${PBXSIM:-$repo/target/release/pbxsim}"
RECEIVER="${RECEIVER:-$repo/target/release/examples/bench_receiver}"
if [ ! -x "$PBXSIM" ] || [ ! -x "$RECEIVER" ]; then
    (cd "$repo" && cargo build --release --quiet --bin pbxsim --example bench_receiver)
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/pbxsim-rehearsal.XXXXXX")"
receiver_pid=""
# shellcheck disable=SC2317 # called by the EXIT trap
finish() {
    if [ -n "$receiver_pid" ]; then kill "$receiver_pid" 2>/dev/null || true; fi
    if [ "${KEEP:-}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap finish EXIT

# One receiver for every shard, on a free port.
"$RECEIVER" >"$work/receiver.out" 2>"$work/receiver.err" &
receiver_pid=$!
address=""
for _ in $(seq 100); do
    address="$(sed -n 's/^listening on //p' "$work/receiver.out")"
    [ -n "$address" ] && break
    sleep 0.1
done
if [ -z "$address" ]; then
    echo "rehearse: the receiver $RECEIVER did not say where it listens" >&2
    cat "$work/receiver.err" >&2
    exit 2
fi
url="http://$address/pbx"

start_at="$(date -u -d "+$LEAD sec" +%Y-%m-%dT%H:%M:%SZ)"
# The pod's arguments for index $1, with the rehearsal's changes.
shard_args() {
    local previous="" arg
    while IFS= read -r arg; do
        case "$previous" in
            --target) arg="$url" ;;
            --duration) arg="$DURATION" ;;
            --shards) arg="$N" ;;
            --tenants) arg="${TENANTS:-$arg}" ;;
        esac
        arg="${arg//\$(START_AT)/$start_at}"
        arg="${arg//\$(JOB_COMPLETION_INDEX)/$1}"
        arg="${arg//\/reports\//$work/}"
        printf '%s\n' "$arg"
        previous="$arg"
    done < <(job_args "$load_job")
    if [ -n "${MAX_CALLS:-}" ]; then printf '%s\n' --max-calls "$MAX_CALLS"; fi
    if [ -n "${SPEED:-}" ]; then printf '%s\n' --speed "$SPEED"; fi
}

echo "rehearse: $N shards against $url, starting at $start_at"
pids=()
for ((i = 0; i < N; i++)); do
    mapfile -t args < <(shard_args "$i")
    JOB_COMPLETION_INDEX="$i" PBXSIM_TOKEN="rehearsal-token-not-a-secret" \
        "$PBXSIM" "${args[@]}" >"$work/shard-$i.log" 2>&1 &
    pids+=($!)
done
failed=0
for ((i = 0; i < N; i++)); do
    if wait "${pids[$i]}"; then code=0; else code=$?; fi
    if [ "$code" -ne 0 ]; then
        echo "rehearse: shard $((i + 1))/$N (JOB_COMPLETION_INDEX=$i) exited with code $code:" >&2
        cat "$work/shard-$i.log" >&2
        failed=1
    fi
done
if [ "$failed" -ne 0 ]; then exit 2; fi

# The merge Job's arguments, with this rehearsal's N reports in place of the Job's.
merge_args=()
reports_listed=0
while IFS= read -r arg; do
    if [[ "$arg" == /reports/shard-*.json ]]; then
        if [ "$reports_listed" -eq 0 ]; then
            for ((i = 0; i < N; i++)); do merge_args+=("$work/shard-$i.json"); done
            reports_listed=1
        fi
        continue
    fi
    merge_args+=("${arg//\/reports\//$work/}")
done < <(job_args "$merge_job")
if "$PBXSIM" "${merge_args[@]}" >"$work/merge.out" 2>&1; then verdict=0; else verdict=$?; fi
cat "$work/merge.out"
if [ "$verdict" -ne 0 ] && [ "$verdict" -ne 1 ]; then
    echo "rehearse: the merge exited with code $verdict" >&2
    exit 2
fi

kill -TERM "$receiver_pid"
wait "$receiver_pid" || true
receiver_pid=""
received="$(sed -n 's/^received //p' "$work/receiver.out")"
# The merged report's text has the line "events     generated N  delivered N  failed N ...".
delivered="$(sed -n 's/^events .* delivered \([0-9]*\) .*/\1/p' "$work/merge.out" | head -n 1)"
if [ -z "$received" ] || [ "$received" != "$delivered" ]; then
    echo "rehearse: MISMATCH: the merged report counts ${delivered:-no} events delivered," \
        "the receiver received ${received:-an unknown number}" >&2
    exit 1
fi
echo "rehearse: the merged report counts $delivered events delivered; the receiver received $received"
if [ "$verdict" -ne 0 ]; then
    echo "rehearse: a threshold failed on the merged report (exit 1)" >&2
fi
exit "$verdict"
