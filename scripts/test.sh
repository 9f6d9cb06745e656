#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it: formatting, lints, the metrology core built
# for a bare-metal target, and every unit, property, integration and doc test.
# Installs what it needs when it is missing: the thumbv7em target for rustup, Debian's
# mosquitto (and its clients), postgresql, mbpoll, openssl, chromium and chromium-driver,
# and the Python peers in a venv: the real broker, database, clients and browser the tests
# run against (the tests start their own servers on free ports, so the packages' system
# services are not needed).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

missing=()
[ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
command -v mbpoll >/dev/null || missing+=(mbpoll)
command -v mosquitto_sub >/dev/null || missing+=(mosquitto-clients)
command -v openssl >/dev/null || missing+=(openssl)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
  step "installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

# Python peers written by other people (pymodbus, dsmr-parser, paho-mqtt, aiosmtpd), in a venv outside
# the clone so runs reuse it; the tests find its interpreter through JOULE_PYTHON.
venv="${JOULE_PY_VENV:-${HOME:-/root}/.cache/joule-py}"
python_peers=(pymodbus==3.8.6 dsmr-parser==1.4.3 paho-mqtt==2.1.0 aiosmtpd==1.4.6)
if ! "$venv/bin/python" -c 'import pymodbus, dsmr_parser, paho.mqtt, aiosmtpd' 2>/dev/null; then
  step "installing the Python peers into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "${python_peers[@]}"
fi
export JOULE_PYTHON="$venv/bin/python"

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

step "fuzz targets, briefly (docs/FUZZING.md has the long runs)"
if rustup toolchain list | grep -q '^nightly'; then
  bash scripts/fuzz.sh "${JOULE_FUZZ_SECONDS:-15}"
else
  echo "no nightly toolchain for cargo-fuzz: the targets' seed corpora ran as unit tests above"
fi

# One closing line over every test binary (cargo prints one summary per binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed;/) p += $i; if ($(i+1) ~ /^failed;/) f += $i } }
     END { printf "\ntests: %d passed, %d failed\n", p, f }' "$log"
