#!/usr/bin/env bash
# Runs every cargo-fuzz target of every crate (each crate keeps its own `fuzz/` directory)
# for SECONDS each (default 30), on the nightly toolchain that cargo-fuzz needs.
# `scripts/test.sh` runs it briefly; docs/FUZZING.md records the long runs.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"

if ! command -v cargo-fuzz >/dev/null; then
  echo "installing cargo-fuzz"
  cargo install --locked cargo-fuzz
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
for dir in crates/*/fuzz; do
  [ -d "$dir" ] || continue
  for target in $(cargo +nightly fuzz list --fuzz-dir "$dir"); do
    echo "== fuzz $dir $target for ${seconds}s"
    if ! cargo +nightly fuzz run --fuzz-dir "$dir" "$target" -- \
      -max_total_time="$seconds" -rss_limit_mb=1024 -print_final_stats=1 >"$log" 2>&1; then
      tail -n 60 "$log"
      echo "fuzz target $target failed (the crashing input is under $dir/artifacts/$target)"
      exit 1
    fi
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$log" || true
  done
done
