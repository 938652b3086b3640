#!/usr/bin/env bash
# Runs one SDK suite against a real server: starts `voucher serve` on a fresh
# database in a temporary directory, listening on 127.0.0.1 port 0, with the
# bootstrap keys below; reads `listening on http://ADDR` from its stdout; runs
# the suite with the URL and keys in the environment; stops the server with
# SIGTERM and checks that it exits 0.
#
# Usage: tests/sdk/run.sh js|python [path/to/voucher]
#   (default binary: target/release/voucher; install the packages first with
#   tests/sdk/setup.sh)
# The suites read VOUCHER_URL, VOUCHER_APP_ID, VOUCHER_APP_TOKEN,
# VOUCHER_CLIENT_APP_ID, VOUCHER_CLIENT_TOKEN and VOUCHER_ORIGIN, so they can
# also be pointed at a server started some other way.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lang="${1:-}"
bin="${2:-$here/../../target/release/voucher}"
suite_timeout="${VOUCHER_SDK_TIMEOUT:-600}"

case "$lang" in
  js | python) ;;
  *)
    echo "usage: $0 js|python [path/to/voucher]" >&2
    exit 2
    ;;
esac
if [ ! -x "$bin" ]; then
  echo "no voucher binary at $bin (cargo build --release, or pass its path)" >&2
  exit 2
fi

tmp="$(mktemp -d)"
server=""
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill -TERM "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# Test fixtures, not credentials: a throwaway server on a throwaway database.
export VOUCHER_APP_ID="sdk-suite-app"
export VOUCHER_APP_TOKEN="sdk-suite-secret-0123456789abcdef"
export VOUCHER_CLIENT_APP_ID="sdk-suite-client"
export VOUCHER_CLIENT_TOKEN="sdk-suite-client-secret-0123456789"
export VOUCHER_ORIGIN="http://shop.sdk-suite.test"
export VOUCHER_CLIENT_ORIGINS="$VOUCHER_ORIGIN"

: >"$tmp/server.out"
"$bin" serve --db "$tmp/voucher.db" --listen 127.0.0.1:0 >"$tmp/server.out" 2>"$tmp/server.err" &
server=$!

url=""
for _ in $(seq 1 300); do
  url="$(sed -n 's/^listening on \(http:\/\/[^ ]*\)$/\1/p' "$tmp/server.out" | head -n 1 || true)"
  [ -n "$url" ] && break
  if ! kill -0 "$server" 2>/dev/null; then
    echo "voucher serve exited before listening:" >&2
    cat "$tmp/server.out" "$tmp/server.err" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "voucher serve did not print 'listening on http://ADDR' within 30 s" >&2
  cat "$tmp/server.out" "$tmp/server.err" >&2
  exit 1
fi
export VOUCHER_URL="$url"
echo "sdk $lang suite against $VOUCHER_URL"

status=0
case "$lang" in
  js)
    if [ ! -d "$here/js/node_modules/@voucherify/sdk" ]; then
      echo "tests/sdk/js/node_modules is missing: run tests/sdk/setup.sh" >&2
      exit 2
    fi
    (cd "$here/js" && timeout "$suite_timeout" node --test --test-reporter=spec test/*.test.js) || status=$?
    ;;
  python)
    if [ ! -x "$here/python/.venv/bin/python" ]; then
      echo "tests/sdk/python/.venv is missing: run tests/sdk/setup.sh" >&2
      exit 2
    fi
    (cd "$here/python" && timeout "$suite_timeout" .venv/bin/python -m unittest discover -v -s . -p 'test_*.py') || status=$?
    ;;
esac

kill -TERM "$server"
server_status=0
wait "$server" || server_status=$?
server=""
if [ "$server_status" -ne 0 ]; then
  echo "voucher serve exited with $server_status after SIGTERM; its stderr:" >&2
  cat "$tmp/server.err" >&2
  [ "$status" -eq 0 ] && status=1
fi
exit "$status"
