#!/usr/bin/env bash
# Memory soak of the three services, each in its own process on SQLite:
# mixed load (the demo story: rounds, problems, every ledger step; then
# statistics, reconciliation, journal verification and an export) for
# MINUTES minutes, then 60 s idle. Prints the resident memory (VmRSS, and
# the peak VmHWM) of each service after the first minute, at the end of the
# load and after the idle minute. Loopback only; stops by itself.
#
#   cargo build --release -p fiveledger -p fiveledger-rounds -p fiveledger-issues -p fiveledger-ledgers
#   MINUTES=10 bash tests/soak.sh
#
# Any FIVELEDGER_… variable set outside applies to the three services
# (e.g. FIVELEDGER_DATABASE__STATEMENT_CACHE=100 for sqlx's default).
set -euo pipefail

BIN=${BIN:-target/release}
MINUTES=${MINUTES:-10}
BASE_PORT=${BASE_PORT:-51051}
DIR=$(mktemp -d -t fiveledger-soak-XXXX)
export FIVELEDGER_AUTH__SECRET=soak-secret-0123456789abcdef
export FIVELEDGER_DATA_DIR=$DIR
export FIVELEDGER_LOG__FILTER=warn
export FIVELEDGER_UPSTREAM__ROUNDS=http://127.0.0.1:$BASE_PORT
export FIVELEDGER_UPSTREAM__ISSUES=http://127.0.0.1:$((BASE_PORT + 1))
export FIVELEDGER_UPSTREAM__LEDGERS=http://127.0.0.1:$((BASE_PORT + 2))
export FIVELEDGER_ROUNDS_URL=$FIVELEDGER_UPSTREAM__ROUNDS
export FIVELEDGER_ISSUES_URL=$FIVELEDGER_UPSTREAM__ISSUES
export FIVELEDGER_LEDGERS_URL=$FIVELEDGER_UPSTREAM__LEDGERS

declare -A PID
i=0
for svc in rounds issues ledgers; do
    "$BIN/fiveledger-$svc" --listen "127.0.0.1:$((BASE_PORT + i))" >"$DIR/$svc.log" 2>&1 &
    PID[$svc]=$!
    i=$((i + 1))
done
cleanup() {
    for svc in rounds issues ledgers; do kill "${PID[$svc]}" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT
sleep 3
FIVELEDGER_TOKEN=$("$BIN/fiveledger" token --role admin)
export FIVELEDGER_TOKEN

rss() {
    local label=$1
    for svc in rounds issues ledgers; do
        awk -v svc="$svc" -v label="$label" '
            /^VmRSS/ { rss = $2 } /^VmHWM/ { hwm = $2 }
            END { printf "%-22s %-8s RSS %6.1f MiB  peak %6.1f MiB\n", label, svc, rss / 1024, hwm / 1024 }
        ' "/proc/${PID[$svc]}/status"
    done
}

load_once() {
    local n=$1
    local prefix=s$n
    "$BIN/fiveledger" demo load --scale 0.05 --seed "$n" --prefix "$prefix" --concurrency 16 >/dev/null
    "$BIN/fiveledger" stats --scope "$prefix-region" --group-by organisation >/dev/null
    "$BIN/fiveledger" reconcile --scope "$prefix-region" >/dev/null || true
    "$BIN/fiveledger" verify >/dev/null
    "$BIN/fiveledger" export ledger --scope "$prefix-region" -o "$DIR/ledger-$n.xlsx" >/dev/null
}

start=$(date +%s)
n=0
first_minute_reported=false
while (($(date +%s) - start < MINUTES * 60)); do
    n=$((n + 1))
    load_once "$n"
    if ! $first_minute_reported && (($(date +%s) - start >= 60)); then
        rss "after the first minute"
        first_minute_reported=true
    fi
done
echo "loads completed: $n in $(($(date +%s) - start)) s"
rss "after ${MINUTES} min of load"
sleep 60
rss "after 60 s idle"
rm -rf "$DIR"
