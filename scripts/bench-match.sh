#!/usr/bin/env bash
# What `match` spends where Genesys cannot hold a conversation (#25): plans a 20,000-evaluation sample
# (2021-2026) against an emulated org whose conversations start on 2025-06-01, with the given qm-migrate
# binary, and prints plan's match figures. Not a test (not in CI).
# Usage: scripts/bench-match.sh BIN OUTDIR PORT   e.g. scripts/bench-match.sh target/release/qm-migrate /tmp/bm 18082
set -euo pipefail
BIN=$1; OUT=$2; PORT=$3
rm -rf "$OUT"; "$BIN" sample --evaluations 20000 --out "$OUT" >/dev/null
python3 - "$OUT/genesys-fixture.json" <<'PY'
import json,sys
p=sys.argv[1]; f=json.load(open(p))
before=len(f["conversations"])
f["conversations"]=[c for c in f["conversations"] if c["start"] >= "2025-06-01"]
json.dump(f,open(p,"w"))
print(f"fixture: {before} conversations, {len(f['conversations'])} from 2025-06-01", file=sys.stderr)
PY
"$BIN" emulator genesys --listen 127.0.0.1:$PORT --fixture "$OUT/genesys-fixture.json" --requests-per-minute 1000000 >/dev/null 2>&1 &
EMU=$!
trap 'kill $EMU' EXIT
sleep 2
cd "$OUT"
sed -i "s|127.0.0.1:8080|127.0.0.1:$PORT|" qm-migrate.toml
export GENESYS_CLIENT_ID=qm-migrate-demo GENESYS_CLIENT_SECRET_FILE=demo-client-secret
"$BIN" --quiet extract >/dev/null || true
"$BIN" --quiet --json plan > plan.json || true
python3 - <<'PY'
import json
d=json.load(open("plan.json"))["plan"]
keys=["match_tried","match_linked","analytics_requests","match_scope_requests","match_estimate","match_first_conversation"]
print({k:d.get(k) for k in keys})
PY
