#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it: formatting, lints, the metrology core built
# for a bare-metal target, and every unit, property, integration and doc test.
# Installs what it needs when it is missing: the thumbv7em target for rustup, and Debian's
# mosquitto and postgresql (the real broker and database the hub's tests run against; the
# tests start their own on free ports, so the packages' system services are not needed).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

missing=()
[ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  step "installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

if ! rustup target list --installed 2>/dev/null | grep -qx thumbv7em-none-eabihf; then
  step "adding the thumbv7em-none-eabihf target"
  rustup target add thumbv7em-none-eabihf
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

step "metrology core for a Cortex-M4F (no_std, no default features)"
cargo build -p joule-metrology --no-default-features --target thumbv7em-none-eabihf

step "tests"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --all-targets 2>&1 | tee -a "$log"
cargo test --workspace --doc 2>&1 | tee -a "$log"

# One closing line over every test binary (cargo prints one summary per binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed;/) p += $i; if ($(i+1) ~ /^failed;/) f += $i } }
     END { printf "\ntests: %d passed, %d failed\n", p, f }' "$log"
