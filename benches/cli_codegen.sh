#!/usr/bin/env bash
# Generating N codes from the command line (`voucher campaign create
# --count N`, its progress bar drawn on a pseudo-terminal by `script`)
# against the store benchmark's `generate_codes` of the same number of
# codes of the same shape (`CAT-` + 10 characters), one after the other in
# the same run. The issue's bar: the CLI within 2x of the store.
#
#   benches/cli_codegen.sh [N]        # N = 1000000 by default
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-1000000}"
cargo build --release --locked --bin voucher --bench store -q 2>/dev/null ||
  cargo build --release --locked --bin voucher
bin="${CARGO_TARGET_DIR:-target}/release/voucher"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "## store: generate_codes of $n codes (cargo bench --bench store -- codegen $n)"
store_line="$(cargo bench -q --bench store -- codegen "$n" | tee /dev/stderr | grep '^store.generate_codes')"
store_s="$(printf '%s\n' "$store_line" | sed -E 's/^store.generate_codes: ([0-9.]+)s.*/\1/')"

echo "## cli: voucher campaign create --count $n, progress bar on a terminal"
cmd="$bin --db $tmp/cli.db campaign create --name Big --percent-off 10 --count $n --prefix CAT- --length 10"
start="$(date +%s.%N)"
script -qec "$cmd" "$tmp/typescript" >/dev/null
end="$(date +%s.%N)"
cli_s="$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')"
bars="$(tr '\r' '\n' <"$tmp/typescript" | grep -c 'codes' || true)"
made="$("$bin" --db "$tmp/cli.db" --json campaign stats Big |
  grep -oE '"codes_created": *[0-9]+' | grep -oE '[0-9]+$' || true)"
printf 'cli: %.2fs for %s codes (%s progress lines drawn)\n' "$cli_s" "${made:-?}" "$bars"
printf 'cli / store: %.2fx (bar: <= 2x)\n' "$(awk -v c="$cli_s" -v s="$store_s" 'BEGIN { print c / s }')"
