#!/usr/bin/env bash
# The long run of the crash harness: a child process redeems and rolls back
# under load and is killed with SIGKILL at random moments, CYCLES times
# (1000 by default); after each kill every acknowledged redemption must be
# present, no code over its quantity, redeemed counts equal to the
# redemptions, gift balances equal to their ledgers, integrity_check ok.
# CI runs the same test with 50 cycles as part of `cargo test --workspace`.
#
#   benches/crash.sh [CYCLES]
set -euo pipefail
cd "$(dirname "$0")/.."
cycles="${1:-1000}"
export VOUCHER_CRASH_CYCLES="$cycles"
cargo test --release -p voucher-store-sqlite --test it -- --exact \
  crash::acknowledged_redemptions_survive_sigkill --nocapture
