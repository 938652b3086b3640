#!/usr/bin/env bash
# Builds every fuzz target and runs each for SECONDS seconds.
#
#   bash fuzz/run.sh SECONDS [TARGET...]
#
# Installs cargo-fuzz if it is missing (`cargo install cargo-fuzz --locked`),
# builds with `RUSTC_BOOTSTRAP=1 cargo fuzz build` (libFuzzer and the
# sanitizer flags need nightly features; this lets the stable toolchain use
# them), then runs the targets one after another (all of them, or those
# named) with the committed seeds in fuzz/seeds/TARGET and the dictionary of
# fuzz/dict, growing the corpus in fuzz/corpus/TARGET (not committed).
# Build output goes to CARGO_TARGET_DIR when set, else fuzz/target.
#
# Exits non-zero when a target crashes (a panic, a failed assertion, an
# out-of-memory, a slow input past -timeout), after printing the crashing
# input's path under fuzz/artifacts/TARGET; the other targets still run.
# Reproduce a crash with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run TARGET fuzz/artifacts/TARGET/crash-...
set -euo pipefail

if [[ $# -lt 1 || ! $1 =~ ^[0-9]+$ ]]; then
    echo "usage: bash fuzz/run.sh SECONDS [TARGET...]" >&2
    exit 2
fi
seconds=$1
shift
cd "$(dirname "$0")/.."

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1
# The fuzz targets are a test of the code, not of its lints.
export RUSTFLAGS="${RUSTFLAGS:-} --cap-lints warn"

if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

echo "== building ${targets[*]}"
start=$SECONDS
for target in "${targets[@]}"; do
    cargo fuzz build "$target"
done
echo "== built in $((SECONDS - start)) s"

dict_of() {
    case $1 in
        validate_request | redeem_request) echo fuzz/dict/checkout.dict ;;
        *) echo "fuzz/dict/$1.dict" ;;
    esac
}

failed=()
for target in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
    args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
    dict=$(dict_of "$target")
    if [[ -f $dict ]]; then
        args+=(-dict="$dict")
    fi
    seeds=()
    if [[ -d fuzz/seeds/$target ]]; then
        seeds=("fuzz/seeds/$target")
    fi
    log="fuzz/artifacts/$target/last-run.log"
    echo "== running $target for $seconds s"
    before=$(find "fuzz/artifacts/$target" -type f ! -name '*.log' | sort)
    if cargo fuzz run "$target" "fuzz/corpus/$target" "${seeds[@]}" -- "${args[@]}" \
        >"$log" 2>&1; then
        grep -E '^stat::number_of_executed_units|^Done [0-9]+ runs' "$log" || true
        echo "== $target: no crash"
    else
        tail -n 60 "$log"
        after=$(find "fuzz/artifacts/$target" -type f ! -name '*.log' | sort)
        new=$(comm -13 <(echo "$before") <(echo "$after") | sed '/^$/d')
        echo "== $target CRASHED; full log: $log"
        echo "== crashing input(s):"
        echo "${new:-(none written; see the log)}"
        failed+=("$target")
    fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "== fuzzing found crashes in: ${failed[*]}"
    exit 1
fi
echo "== fuzzing: ${#targets[@]} targets, ${seconds} s each, no crash"
