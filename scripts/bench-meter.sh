#!/usr/bin/env bash
# The meter agent's resource use: `joule meter` with the simulated source at 4 kHz
# reporting to a local `joule hub`, for SECONDS (default 60); prints CPU as a share of one
# core and peak RSS, read from /proc. Run from the repository root after
# `cargo build --release`. docs/PERFORMANCE.md records the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
joule="${JOULE:-target/release/joule}"
dir=$(mktemp -d)
trap 'kill $hub $meter 2>/dev/null || true; rm -rf "$dir"' EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export JOULE_HUB_STORAGE_SQLITE="$dir/hub.sqlite" JOULE_HUB_HTTP_LISTEN=127.0.0.1:0
export JOULE_HUB_BROKER_LISTEN="127.0.0.1:$port"
token=$("$joule" meters add bench-1 | sed -n 's/^token: //p')
"$joule" hub 2>"$dir/hub.log" & hub=$!
cat >"$dir/meter.toml" <<TOML
[meter]
id = "bench-1"
data_dir = "$dir/meter"
[uplink]
broker = "mqtt://127.0.0.1:$port"
token = "$token"
[source]
kind = "simulated"
sample_rate_hz = 4000
heat_pump_w = 2500
solar_peak_w = 4000
TOML
sleep 1
"$joule" meter --config "$dir/meter.toml" 2>"$dir/meter.log" & meter=$!
sleep 5 # start-up is not the steady state
ticks=$(getconf CLK_TCK)
cpu() { awk '{ print $14 + $15 }' "/proc/$meter/stat"; }
before=$(cpu)
sleep "$seconds"
after=$(cpu)
rss_kb=$(awk '/VmHWM/ { print $2 }' "/proc/$meter/status")
stored=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from live').fetchone()[0])" "$dir/hub.sqlite")
awk -v b="$before" -v a="$after" -v t="$ticks" -v s="$seconds" -v r="$rss_kb" -v n="$stored" 'BEGIN {
  printf "meter agent, simulated source at 4 kHz, %d s: CPU %.2f %% of one core, peak RSS %.1f MB, live readings stored at the hub %d\n", s, 100 * (a - b) / t / s, r / 1024, n
}'
