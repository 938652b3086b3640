#!/usr/bin/env bash
# The HTTP load benchmark, in one run on one machine: a trivial axum handler
# (the baseline, examples/load_baseline.rs), then against `voucher serve`:
# the legacy validation of a code, the durable legacy redemption of unique
# single-use codes (WAL, synchronous=FULL, answered after the commit), one
# hot code of quantity L redeemed by every connection, and the durable
# redemption again with one commit per redemption (--writer-batch-max 1).
# Every phase: 64 keep-alive connections, one request in flight on each,
# body {"order":{"amount":4000}}, a warm-up, then a measured time.
#
#   benches/load.sh
#
# It builds the release binaries once (voucher, the baseline example, the
# generator benches/load.rs), makes a fresh database in a temporary
# directory with the `voucher` CLI (campaigns of unique codes, the hot code,
# exported to CSV), measures fsync latency on that file system, starts and
# stops each server, runs the phases, and prints a table with requests/s,
# p50/p99/max, the ratios to the baseline and the targets of the issue.
# It exits 1 on a 5xx, a failed connection or a wrong number of successes
# (targets missed are printed as FAIL; the machine may be noisy).
#
# Settings (environment): LOAD_CONNECTIONS (64), LOAD_WARMUP and
# LOAD_DURATION (seconds per phase: 2 and 10), LOAD_HOT_QUANTITY (L, 1000),
# LOAD_CODES (codes for the durable phase: 300000), LOAD_CODES_BATCH1
# (codes for the one-commit phase: 60000), TMPDIR (where the database goes:
# it must be on the disk you want to measure, not a tmpfs), LOAD_KEEP=1
# keeps the directory, LOAD_VOUCHER=PATH runs another build of `voucher`
# (to compare two commits in the same window). Figures: docs/PERFORMANCE.md, "HTTP load".
set -euo pipefail
cd "$(dirname "$0")/.."

connections="${LOAD_CONNECTIONS:-64}"
warmup="${LOAD_WARMUP:-2}"
duration="${LOAD_DURATION:-10}"
hot_quantity="${LOAD_HOT_QUANTITY:-1000}"
codes="${LOAD_CODES:-300000}"
codes_batch1="${LOAD_CODES_BATCH1:-60000}"

step() { printf '== %s (%s UTC, load average %s)\n' "$1" "$(date -u +%H:%M:%S)" "$(cut -d' ' -f1-3 /proc/loadavg)"; }

step "build (release): voucher, examples/load_baseline.rs, benches/load.rs"
build_json=$(cargo build --release --bin voucher --example load_baseline --bench load \
  --message-format=json-render-diagnostics)
executable() {
  printf '%s\n' "$build_json" | grep "\"name\":\"$1\"" | grep -o '"executable":"[^"]*"' |
    sed 's/"executable":"\(.*\)"/\1/' | tail -1
}
voucher="${LOAD_VOUCHER:-$(executable voucher)}"
baseline=$(executable load_baseline)
load=$(executable load)
for binary in "$voucher" "$baseline" "$load"; do
  [ -x "$binary" ] || { echo "no executable found in cargo's output: '$binary'" >&2; exit 2; }
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/voucher-load.XXXXXX")
server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
cleanup() {
  stop_server
  if [ "${LOAD_KEEP:-0}" = 1 ]; then echo "kept $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT

export VOUCHER_DB="$dir/load.db"
export VOUCHER_APP_ID="load-bench"
export VOUCHER_APP_TOKEN="load-bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
results="$dir/results.jsonl"

step "database: $codes + $codes_batch1 unique codes, hot code HOT with quantity $hot_quantity"
"$voucher" campaign create --name Load --percent-off 25 --count "$codes" --prefix LD- --length 10 >/dev/null
"$voucher" campaign create --name LoadOne --percent-off 25 --count "$codes_batch1" --prefix L1- --length 10 >/dev/null
"$voucher" campaign create --name Hot --percent-off 25 --code HOT --quantity "$hot_quantity" >/dev/null
"$voucher" codes export --campaign Load -o "$dir/codes.csv"
"$voucher" codes export --campaign LoadOne -o "$dir/codes-batch1.csv"
echo "codes: $(($(wc -l <"$dir/codes.csv") - 1)) and $(($(wc -l <"$dir/codes-batch1.csv") - 1)) exported"

# fsync latency on the database's file system, just before a durable phase
# (the disk's latency drifts with what else runs on the machine).
fsync_probe() {
  "$load" fsync --label "$1" --dir "$dir" --out "$results"
}

# Starts a server (its command line in "$@") and sets server_pid and url.
start_server() {
  local out="$dir/server.out"
  : >"$out"
  "$@" >"$out" 2>"$dir/server.err" &
  server_pid=$!
  for _ in $(seq 300); do
    url=$(grep -o 'http://[0-9.:]*' "$out" | head -1 || true)
    [ -n "$url" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "the server did not start:" >&2
  cat "$dir/server.err" >&2
  exit 2
}

phase() {
  local label=$1
  shift
  step "phase $label"
  "$load" run --label "$label" --url "$url" --connections "$connections" \
    --warmup "$warmup" --duration "$duration" --server-pid "$server_pid" \
    --out "$results" "$@"
}

start_server "$baseline" 127.0.0.1:0
phase baseline --path /
stop_server

start_server "$voucher" serve --listen 127.0.0.1:0 --client-rate-limit 0
phase validate --path '/v1/vouchers/{code}/validate' --codes "$dir/codes.csv" \
  --expect-contains '"valid":true'
fsync_probe redeem
phase redeem --path '/v1/vouchers/{code}/redemption' --codes "$dir/codes.csv" --once \
  --note "writer batch max 256 (default)"
# No warm-up: the hot code's first L successes are part of the measure.
phase hot --path '/v1/vouchers/{code}/redemption' --code HOT --warmup 0 \
  --note "quantity $hot_quantity"
stop_server

start_server "$voucher" serve --listen 127.0.0.1:0 --client-rate-limit 0 --writer-batch-max 1
fsync_probe redeem-batch1
phase redeem-batch1 --path '/v1/vouchers/{code}/redemption' --codes "$dir/codes-batch1.csv" --once \
  --note "writer batch max 1: one commit per redemption"
stop_server

step "the store's count of the hot code's redemptions"
"$voucher" voucher show HOT --json | tr -d '\n' | grep -o '"redeemed_quantity": *[0-9]*\|"redeemed": *[0-9]*' || true

step "report ($connections connections, warm-up ${warmup}s, ${duration}s measured per phase)"
"$load" report "$results" --hot-quantity "$hot_quantity"
