#!/usr/bin/env bash
# Load benchmark against the emulator (not part of the tests): 300 requests/min, 150 ms latency,
# on a scaled clock. Usage: scripts/bench-load.sh [EVALUATIONS=700] [TIME_SCALE=4]
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --release --quiet -p qm-migrate --example bench_load -- "$@"
