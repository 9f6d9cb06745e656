#!/usr/bin/env bash
# The meter kill loop as a benchmark: `joule meter` killed with SIGKILL at ROUNDS seeded
# random instants (default 200); after each restart its saved registers must not have
# gone backwards and may lose at most the persistence step plus one tick. CI runs 8
# rounds as part of the test suite; docs/PERFORMANCE.md records a long run.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-200}"
started=$(date +%s)
JOULE_KILL_LOOP="$rounds" cargo test --test meter_agent \
  kill_minus_nine_at_random_instants_never_moves_registers_back -- --nocapture
echo "kill loop: $rounds rounds passed in $(( $(date +%s) - started )) s"
