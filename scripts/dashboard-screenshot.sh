#!/usr/bin/env bash
# Renders the emperor's dashboard in headless Chromium to docs/dashboard.png:
# builds a (live) and b (stage) as in the demo, build a under a little load.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
bash scripts/setup.sh
for p in emperor vassal zerg; do swift build -c release --product $p >&2; done
bin=$(swift build -c release --show-bin-path)
venv=$(bash scripts/python-env.sh)
work=$(mktemp -d /tmp/hadjango-shot-XXXXXX)
emperor_pid=""
cleanup() { [ -n "$emperor_pid" ] && kill "$emperor_pid" 2>/dev/null && wait "$emperor_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cp -r examples/deploy "$work/deploy"; mkdir -p "$work/deploy/builds" "$work/deploy/logs" "$work/deploy/run"; cd "$work"
export DEMO_BASE_PORT=2300 DEMO_VENV="$venv" DEMO_SITE="$repo/examples/django_site"
"$bin/emperor" --emperor 'deploy/builds/[a-z]*/vassal.ini' --emperor 'deploy/builds/[a-z]*/zerg.ini' --status 127.0.0.1:9998 >/dev/null 2>&1 &
emperor_pid=$!
for b in a b; do mkdir deploy/builds/$b; ln -s ../../conf/vassal.skel deploy/builds/$b/vassal.ini; ln -s ../../conf/zerg.skel deploy/builds/$b/zerg.ini; done
ln -s a deploy/builds/_live; ln -s b deploy/builds/_stage
for port in 2300 2310; do for _ in $(seq 1 300); do curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && break; sleep 0.1; done; done
for _ in $(seq 1 40); do curl -fsS -o /dev/null http://127.0.0.1:2300/; done
( for _ in $(seq 1 400); do curl -fsS -o /dev/null http://127.0.0.1:2300/ & curl -fsS -o /dev/null http://127.0.0.1:2300/; wait; done ) &
sleep 1
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1000,520 --virtual-time-budget=3000 \
    --user-data-dir="$work/chromium" --screenshot="$repo/docs/dashboard.png" http://127.0.0.1:9998/ 2>/dev/null
echo "wrote docs/dashboard.png"
