#!/usr/bin/env bash
# Renders the emperor's dashboard in headless Chromium during a deploy, as in
# the demo: builds a (live) and b (stage) of the example Django site, a request
# loop that follows `_live`, then build c is started, made live by
# `hactl swap-live c`, and a worker of c is killed (respawned by its master).
# Writes docs/dashboard.png (the page after the swap) and
# docs/dashboard-popover.png (a worker's popover, opened by `#worker=c/1`).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
bash scripts/setup.sh
for p in emperor vassal zerg hactl; do swift build -c release --product $p >&2; done
bin=$(swift build -c release --show-bin-path)
venv=$(bash scripts/python-env.sh)
work=$(mktemp -d /tmp/hadjango-shot-XXXXXX)
emperor_pid="" loop_pid=""
cleanup() {
    set +e   # every step runs, whatever the one before did
    [ -n "$loop_pid" ] && kill "$loop_pid" 2>/dev/null
    [ -n "$emperor_pid" ] && kill -TERM "$emperor_pid" 2>/dev/null && wait "$emperor_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
cp -r examples/deploy "$work/deploy"; mkdir -p "$work/deploy/builds" "$work/deploy/logs" "$work/deploy/run"; cd "$work"
export DEMO_BASE_PORT=2300 DEMO_VENV="$venv"
export HACTL_DEPLOY="$work/deploy" HACTL_STATUS="127.0.0.1:9998" HACTL_BASE_PORT=2300 HACTL_NGINX_RELOAD=true
"$bin/emperor" --emperor 'deploy/builds/[a-z]*/vassal.ini' --emperor 'deploy/builds/[a-z]*/zerg.ini' --status 127.0.0.1:9998 >/dev/null 2>&1 &
emperor_pid=$!
build() { "$bin/hactl" create "$1" --from "$repo/examples/django_site" >/dev/null; "$bin/hactl" activate "$1"; }
build a; build b
ln -s a deploy/builds/_live; ln -s b deploy/builds/_stage
# Clients of the live build: each request goes to the port `_live` names now.
( set +e   # a failed request (the 404s) must not end the loop
  while :; do
      port=$("$work/deploy/bin/build-port" "$(readlink deploy/builds/_live)")
      for _ in 1 2 3 4; do curl -fsS -o /dev/null "http://127.0.0.1:$port/" & curl -fsS -o /dev/null "http://127.0.0.1:$port/"; wait; done
      curl -sS -o /dev/null "http://127.0.0.1:$port/nope-404"   # a few 4xx
      sleep 0.02
  done ) >/dev/null 2>&1 &
loop_pid=$!
sleep 15
build c
sleep 5
"$bin/hactl" swap-live c
sleep 8
# Worker 1 of c killed: its master starts another (an event on c's chart).
worker=$(curl -fsS http://127.0.0.1:9998/status.json | /usr/bin/python3 -c '
import json, sys
for b in json.load(sys.stdin)["builds"]:
    for i in b["instances"]:
        if b["name"] == "c" and i["kind"] == "zerg": print(i["stats"]["workers"][0]["pid"])')
kill -KILL "$worker"
sleep 10
shot() {
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1250,"$2" --virtual-time-budget=2500 \
        --user-data-dir="$work/chromium" --screenshot="$repo/docs/$1" "http://127.0.0.1:9998/$3" 2>/dev/null
    echo "wrote docs/$1"
}
shot dashboard.png 1050 "#window=60"
shot dashboard-popover.png 1050 "#worker=c/1&window=60"
