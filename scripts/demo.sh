#!/usr/bin/env bash
# The demo: installs what is missing, builds the release binaries, and runs an
# emperor over builds a and b laid out as the seed does (symlinked skeletons),
# showing activation, a touch reload, a removal and a clean stop.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
bash scripts/setup.sh
swift build -c release --product emperor && swift build -c release --product zerg
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
mkdir -p "$work/deploy/builds"
cd "$work"
export DEMO_EMPEROR="$bin/emperor" DEMO_BASE_PORT="${DEMO_BASE_PORT:-2000}"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
wait_http() {  # port: poll until it answers (10 s at most)
    for _ in $(seq 1 200); do curl -fsS "http://127.0.0.1:$1/" 2>/dev/null && return 0; sleep 0.05; done
    echo "port $1 did not answer" >&2; return 1
}

step "start the emperor with the seed's command line (only the binary changed)"
"$bin/emperor" --master --thunder-lock --emperor 'deploy/builds/[a-z]*/vassal.ini' \
    --emperor-wrapper "$repo/examples/demo-instance.py" --emperor-stats "$work/emperor.stats" &
emperor_pid=$!
sleep 0.2

step "activate build a: mkdir + symlink (no 'sleep 3 for the emperor to poll')"
mkdir deploy/builds/a && ln -s ../../conf/vassal.skel deploy/builds/a/vassal.ini
wait_http $((DEMO_BASE_PORT))
step "activate build b"
mkdir deploy/builds/b && ln -s ../../conf/vassal.skel deploy/builds/b/vassal.ini
wait_http $((DEMO_BASE_PORT + 10))

step "what build a's vassal.ini resolves to (emperor --show-config)"
"$bin/emperor" --show-config deploy/builds/a/vassal.ini

step "touch the shared skeleton: every build linked to it reloads gracefully"
touch deploy/conf/vassal.skel
sleep 0.3
wait_http $((DEMO_BASE_PORT))

step "emperor stats (uWSGI's emperor-stats keys + our state)"
python3 - "$work/emperor.stats" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); data = b""
while chunk := s.recv(65536): data += chunk
for v in json.loads(data)["vassals"]:
    print(f'{v["id"]:28} pid {v["pid"]:>7}  state {v["state"]:10} ready {v["ready"]} respawns {v["respawns"]}')
PY

step "remove build b: graceful stop"
rm deploy/builds/b/vassal.ini
sleep 0.3
curl -fsS "http://127.0.0.1:$((DEMO_BASE_PORT + 10))/" 2>/dev/null || echo "port $((DEMO_BASE_PORT + 10)) closed: build b is gone"

step "SIGTERM: every instance stops, the emperor exits"
kill -TERM "$emperor_pid"; wait "$emperor_pid"; emperor_pid=""

step "the zerg: the example Django site from a venv, through the seed-style wsgi.py"
zport=$((DEMO_BASE_PORT + 100))
"$bin/zerg" --http-socket "127.0.0.1:$zport" --processes 2 --home "$venv" \
    --python-path "$repo/examples/django_site" --wsgi-file "$repo/examples/django_site/hadjango/uwsgi/wsgi.py" \
    --log-format '%(worker_id) %(addr) "%(method) %(uri) %(proto)" %(status) %(size) %(micros)us' &
emperor_pid=$!
for _ in $(seq 1 200); do curl -fsS "http://127.0.0.1:$zport/" >/dev/null 2>&1 && break; sleep 0.05; done
curl -fsS "http://127.0.0.1:$zport/" | head -4
ps -eo args | grep '^uwsgi worker' || true
kill -TERM "$emperor_pid"; wait "$emperor_pid"; emperor_pid=""
echo "demo done"
