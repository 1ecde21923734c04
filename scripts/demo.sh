#!/usr/bin/env bash
# The demo: installs what is missing, builds the release binaries, and runs an
# emperor over builds a and b laid out as the seed does (vassal.ini and zerg.ini
# symlinks to shared skeletons): activation, a zerg reload and a vassal reload
# under continuous requests, a removal, and a clean stop.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
bash scripts/setup.sh
for p in emperor vassal zerg; do swift build -c release --product $p; done
bin=$(swift build -c release --show-bin-path)
venv=$(bash scripts/python-env.sh)

work=$(mktemp -d /tmp/hadjango-demo-XXXXXX)
emperor_pid=""
cleanup() {
    [ -n "$emperor_pid" ] && kill "$emperor_pid" 2>/dev/null && wait "$emperor_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
cp -r examples/deploy "$work/deploy"
mkdir -p "$work/deploy/builds" "$work/deploy/logs"
cd "$work"
export DEMO_BASE_PORT="${DEMO_BASE_PORT:-2000}" DEMO_VENV="$venv" DEMO_SITE="$repo/examples/django_site"
a=$DEMO_BASE_PORT b=$((DEMO_BASE_PORT + 10))

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
wait_http() {  # port: poll until it answers 200 (30 s at most)
    for _ in $(seq 1 600); do curl -fsS -o /dev/null "http://127.0.0.1:$1/" 2>/dev/null && return 0; sleep 0.05; done
    echo "port $1 did not answer" >&2; return 1
}
hammer() {  # port seconds: requests in a loop; prints how many got a 2xx and how many did not
    local ok=0 bad=0 end=$((SECONDS + $2))
    while [ $SECONDS -lt $end ]; do
        if curl -fsS -o /dev/null "http://127.0.0.1:$1/"; then ok=$((ok + 1)); else bad=$((bad + 1)); fi
    done
    echo "$ok requests answered 2xx, $bad failed"
}

step "start the emperor with the seed's command line (only the binary changed)"
"$bin/emperor" --master --thunder-lock --emperor 'deploy/builds/[a-z]*/vassal.ini' \
    --emperor 'deploy/builds/[a-z]*/zerg.ini' --emperor-stats "$work/emperor.stats" \
    --status "127.0.0.1:${DEMO_STATUS_PORT:-9999}" &
emperor_pid=$!

step "activate build a: mkdir + two symlinks (no 'sleep 3 for the emperor to poll')"
mkdir deploy/builds/a
ln -s ../../conf/vassal.skel deploy/builds/a/vassal.ini
ln -s ../../conf/zerg.skel deploy/builds/a/zerg.ini
wait_http $a && curl -fsS "http://127.0.0.1:$a/" | grep -o '<h1>.*</h1>' || true
step "activate build b"
mkdir deploy/builds/b
ln -s ../../conf/vassal.skel deploy/builds/b/vassal.ini
ln -s ../../conf/zerg.skel deploy/builds/b/zerg.ini
wait_http $b && echo "build b answers on :$b"

step "the dashboard: http://127.0.0.1:${DEMO_STATUS_PORT:-9999}/ (also /status.json and /metrics)"
curl -fsS "http://127.0.0.1:${DEMO_STATUS_PORT:-9999}/metrics" | grep -E '^hadjango_(worker_requests|queue_depth)' | head -6

step "processes (ps): vassals, zerg masters and their workers"
ps -eo pid,ppid,args | grep -E 'vassal|zerg|uwsgi worker' | grep -v grep | cut -c1-110

step "touch build a's zerg.ini while requests flow: rolling worker reload"
(sleep 1; touch deploy/builds/a/zerg.ini) &
hammer $a 4
step "touch build a's vassal.ini while requests flow: the vassal re-execs, keeping every connection"
(sleep 1; touch deploy/builds/a/vassal.ini) &
hammer $a 3

step "emperor stats (uWSGI's emperor-stats keys + our state)"
python3 - "$work/emperor.stats" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); data = b""
while chunk := s.recv(65536): data += chunk
for v in json.loads(data)["vassals"]:
    print(f'{v["id"]:36} pid {v["pid"]:>7}  {v["kind"]:7} state {v["state"]:10} ready {v["ready"]} respawns {v["respawns"]}')
PY

step "remove build b (zerg.ini, then vassal.ini): graceful stops"
rm deploy/builds/b/zerg.ini deploy/builds/b/vassal.ini
sleep 0.5
curl -fsS "http://127.0.0.1:$b/" 2>/dev/null || echo "port $b closed: build b is gone"

step "build a's logs"
tail -n 4 deploy/logs/vassal.a.log deploy/logs/zerg.a.log

step "SIGTERM: every instance stops, the emperor exits"
kill -TERM "$emperor_pid"; wait "$emperor_pid"; emperor_pid=""
echo "demo done"
