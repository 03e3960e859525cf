#!/usr/bin/env bash
# Extract + plan benchmark (not part of the tests). Writes a wide-CSV sample of N evaluations,
# starts the Genesys emulator with its request limit lifted (the benchmark measures qm-migrate, not
# Genesys' 300 requests/min), then times `extract` and `plan` under /usr/bin/time -v and prints wall
# time, records/s and peak RSS of each.
#
# Then runs scripts/plan_pandas.py (the same job in pandas, installed into target/bench-venv when
# missing) on the same input and prints its figures beside ours. Set QM_MIGRATE_BENCH_NO_MATCH=1 to
# plan without the `match` strategy (which pandas cannot do: it needs Genesys analytics).
#
# Usage: scripts/bench-plan.sh [EVALUATIONS=1000000] [WORKDIR=a temporary folder]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
WORK=${2:-$(mktemp -d)}
mkdir -p "$WORK"
cargo build --release --quiet -p qm-migrate
BIN=$PWD/target/release/qm-migrate
echo "sample: $N evaluations into $WORK"
/usr/bin/time -f "sample: %e s wall, %M KB peak RSS" "$BIN" --quiet sample --evaluations "$N" --out "$WORK" --csv-only
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" --quiet emulator genesys --listen "127.0.0.1:$PORT" --fixture "$WORK/genesys-fixture.json" \
  --requests-per-minute 100000000 > "$WORK/emulator.log" 2>&1 &
EMU=$!
trap 'kill $EMU 2>/dev/null || true' EXIT
sed -i "s#^api_url = .*#api_url = \"http://127.0.0.1:$PORT\"#; s#^requests_per_minute = .*#requests_per_minute = 100000000#" "$WORK/qm-migrate.toml"
if [ -n "${QM_MIGRATE_BENCH_NO_MATCH:-}" ]; then
  sed -i 's#^strategies = .*#strategies = ["field", "mapping"]#' "$WORK/qm-migrate.toml"
fi
rm -f "$WORK/qm-migrate.db"*
export GENESYS_CLIENT_ID=qm-migrate-demo GENESYS_CLIENT_SECRET_FILE="$WORK/demo-client-secret"
for _ in $(seq 50); do (echo > "/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
report() {
  local name=$1 log=$2 records=$3
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
  python3 - "$name" "$wall" "$rss" "$records" <<'PY'
import sys
name, wall, rss, records = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
parts = [float(p) for p in wall.split(":")]
secs = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
print(f"{name}: {records} records in {secs:.1f} s = {records / secs:,.0f} records/s, peak RSS {rss / 1024:.0f} MB")
PY
}
cd "$WORK"
# Exit status 1 means "done, some records need attention" (the sample plants bad rows).
run() { /usr/bin/time -v "$BIN" --quiet --json "$1" > "$1.json" 2> "$1.time" || [ $? -eq 1 ] || { cat "$1.time"; exit 1; }; }
run extract
RECORDS=$(python3 -c 'import json; print(json.load(open("extract.json"))["records"])')
report extract extract.time "$RECORDS"
run plan
report plan plan.time "$RECORDS"
python3 - <<'PY'
import json
p = json.load(open("plan.json"))
print("dispositions:", p.get("dispositions"), "invariant:", p.get("invariant_holds"))
PY
# The same job as a short pandas script (scripts/plan_pandas.py), on the same input and machine. Its
# virtual environment is made on first use (pandas from PyPI).
VENV=${QM_MIGRATE_BENCH_VENV:-$OLDPWD/target/bench-venv}
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import pandas' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet pandas
fi
/usr/bin/time -v "$VENV/bin/python" "$OLDPWD/scripts/plan_pandas.py" "$WORK" > pandas.out 2> pandas.time || { cat pandas.time; exit 1; }
report "pandas (same job)" pandas.time "$RECORDS"
cat pandas.out
